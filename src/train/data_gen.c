/* data_gen: generated long-lag tasks (adding, embedded Reber, copy), drawn from the data set's
 * Rng so that a position replays exactly. Separate from the file-based sources; data.c
 * dispatches to it. */
#include <stdlib.h>
#include <string.h>

#include "train/data_int.h"

#define GEN_BATCHES_PER_EPOCH 100        /* an "epoch" of a generated task */

/* Adding problem, one sequence into column s of the batch:
 *   x[t] = (u_t, m_t), u_t ~ U[0,1), m_t = 1 at i1 in [0, T/2) and i2 in [T/2, T);
 *   target = u_i1 + u_i2. */
static void gen_adding(Rng *r, DataBatch *b, int s)
{
    int T = b->T, B = b->B;
    int half = T / 2;
    int i1 = (int)rng_below(r, (uint64_t)half);
    int i2 = half + (int)rng_below(r, (uint64_t)(T - half));
    double sum = 0;
    for (int t = 0; t < T; t++) {
        float u = (float)rng_uniform(r);
        float *x = b->x + ((size_t)t * B + s) * 2;
        x[0] = u;
        x[1] = (t == i1 || t == i2) ? 1.0f : 0.0f;
        if (t == i1 || t == i2) sum += u;
        b->mask[t * B + s] = 1;
    }
    b->target[s] = (float)sum;
    b->lengths[s] = T;
}

/* Reber symbols, ids in sorted order of the letters. */
enum { RB_B, RB_E, RB_P, RB_S, RB_T, RB_V, RB_X };

/* Appends one Reber string B ... E to out (at most cap symbols); returns its length, or 0 when
 * it would exceed cap. Transition table of the grammar: node -> two (symbol, next node). */
static int gen_reber_plain(Rng *r, int32_t *out, int cap)
{
    static const int sym[6][2] = {{0, 0}, {RB_T, RB_P}, {RB_S, RB_X}, {RB_T, RB_V},
                                  {RB_X, RB_S}, {RB_P, RB_V}};
    static const int to[6][2] = {{0, 0}, {2, 3}, {2, 4}, {3, 5}, {3, 6}, {4, 6}};
    int n = 0, node = 1;
    if (cap < 2) return 0;
    out[n++] = RB_B;
    while (node != 6) {
        int k = (int)rng_below(r, 2);
        if (n >= cap - 1) return 0;
        out[n++] = sym[node][k];
        node = to[node][k];
    }
    out[n++] = RB_E;
    return n;
}

/* Embedded Reber: B, c in {T, P}, a Reber string, c again, E. The symbol before the last must
 * be remembered across the whole inner string: the long-lag part of the task. Strings longer
 * than the cap are redrawn. Writes inputs s[0..n-2] and next-symbol targets s[1..n-1]. */
static void gen_reber(Rng *r, const DataConfig *c, DataBatch *b, int s)
{
    int cap = c->length;
    int32_t buf[1024];
    int n;
    do {
        if (c->embedded) {
            int32_t ch = rng_below(r, 2) ? RB_T : RB_P;
            int inner = gen_reber_plain(r, buf + 2, cap - 4);
            n = inner ? inner + 4 : 0;
            if (n) {
                buf[0] = RB_B;
                buf[1] = ch;
                buf[inner + 2] = ch;
                buf[inner + 3] = RB_E;
            }
        } else {
            n = gen_reber_plain(r, buf, cap);
        }
    } while (n == 0);
    int T = b->T, B = b->B;
    for (int t = 0; t < T; t++) {
        bool real = t < n - 1;
        b->ids[t * B + s] = real ? buf[t] : 0;
        b->target_ids[t * B + s] = real ? buf[t + 1] : -1;
        b->mask[t * B + s] = real ? 1.0f : 0.0f;
    }
    b->lengths[s] = n - 1;
}

/* Copy task: L symbols in 1..8, D-1 blanks (0), go (9), L blanks; target blank for L+D steps,
 * then the L symbols. */
static void gen_copy(Rng *r, const DataConfig *c, DataBatch *b, int s)
{
    int L = c->length, D = c->delay, T = b->T, B = b->B;
    for (int t = 0; t < T; t++) {
        b->ids[t * B + s] = 0;
        b->target_ids[t * B + s] = 0;
        b->mask[t * B + s] = 1;
    }
    for (int t = 0; t < L; t++) {
        int32_t v = 1 + (int32_t)rng_below(r, 8);
        b->ids[t * B + s] = v;
        b->target_ids[(L + D + t) * B + s] = v;
    }
    b->ids[(L + D - 1) * B + s] = 9;
    b->lengths[s] = T;
}

/* Sets up a generated task's shapes and vocabulary; checks the sizes. */
int data_gen_open(DataSet *ds, Diag *d)
{
    DataConfig *c = &ds->cfg;
    ds->batches_per_epoch = GEN_BATCHES_PER_EPOCH;
    switch (c->kind) {
    case DATA_ADDING:
        if (c->length <= 0) c->length = ADDING_DEFAULT_LENGTH;
        if (c->length < 2 || c->length > 100000) {
            diag_error_in(d, "adding", "length must be in [2, 100000], got %d", c->length);
            return -1;
        }
        ds->T = c->length;
        ds->in_width = 2;
        ds->out_width = 1;
        ds->target_kind = DATA_TARGET_VALUES;
        return 0;
    case DATA_REBER:
        if (c->length <= 0) c->length = REBER_DEFAULT_LENGTH;
        if (c->length < (c->embedded ? 9 : 5) || c->length > 1024) {
            diag_error_in(d, "reber", "length must be in [%d, 1024], got %d",
                          c->embedded ? 9 : 5, c->length);
            return -1;
        }
        ds->T = c->length - 1;
        ds->target_kind = DATA_TARGET_STEP_IDS;
        return data_vocab_fixed(&ds->vocab, "BEPSTVX", d);
    case DATA_COPY:
        if (c->length <= 0) c->length = COPY_DEFAULT_LENGTH;
        if (c->length > 10000 || c->delay < 1 || c->delay > 100000) {
            diag_error_in(d, "copy", "length must be in [1, 10000] and delay in [1, 100000]");
            return -1;
        }
        ds->T = 2 * c->length + c->delay;
        ds->target_kind = DATA_TARGET_STEP_IDS;
        return data_vocab_fixed(&ds->vocab, "_abcdefgh|", d);
    default:
        return -1;
    }
}

/* One batch of a generated task from rng; rows s >= nreal are padding (row_mask 0). */
void data_gen_fill(DataSet *ds, Rng *r, DataBatch *b, int nreal)
{
    for (int s = 0; s < b->B; s++) {
        switch (ds->cfg.kind) {
        case DATA_ADDING: gen_adding(r, b, s); break;
        case DATA_REBER: gen_reber(r, &ds->cfg, b, s); break;
        case DATA_COPY: gen_copy(r, &ds->cfg, b, s); break;
        default: break;
        }
        b->row_mask[s] = s < nreal ? 1.0f : 0.0f;
        if (s >= nreal) {
            for (int t = 0; t < b->T; t++) {
                b->mask[t * b->B + s] = 0;
                if (b->target_kind == DATA_TARGET_STEP_IDS) b->target_ids[t * b->B + s] = -1;
            }
        }
    }
    b->reset = true;
    b->ntargets = 0;
    for (int64_t i = 0; i < (int64_t)b->T * b->B; i++)
        b->ntargets += b->mask[i] != 0;
    if (b->target_kind == DATA_TARGET_VALUES) b->ntargets = nreal;
}
