/* train_dist: the data-parallel part of training (see train_dist.h). */
#include "train/train_dist.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "io/fileio.h"
#include "train/progress.h"

int tdist_split(const Dist *g, int B, const char *what, int *first, int *n, Diag *d)
{
    *first = 0;
    *n = B;
    if (g->size == 1)
        return 0;
    if (B % g->size != 0) {
        char ok[256] = "";
        size_t len = 0;
        for (int k = 1; k <= B && len + 16 < sizeof ok; k++)
            if (B % k == 0)
                len += (size_t)snprintf(ok + len, sizeof ok - len, "%s%d", len ? ", " : "", k);
        DiagMessage *m = diag_error_in(d, what, "the batch of %d does not split over %d "
                                       "processes", B, g->size);
        diag_help(m, "use mpirun -np %s (divisors of the batch), or --set batch=N with N a "
                  "multiple of %d", ok, g->size);
        return -1;
    }
    *n = B / g->size;
    *first = g->rank * *n;
    return 0;
}

/* d's messages as text (as diag_print shows them), with the first "error: " dropped since the
 * receiver adds its own; malloc'ed. */
static char *render(const Diag *d)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f)
        return NULL;
    diag_print(d, f);
    fclose(f);
    char *e = text ? strstr(text, "error: ") : NULL;
    if (e)
        memmove(e, e + 7, strlen(e + 7) + 1);
    len = text ? strlen(text) : 0;
    while (text && len && (text[len - 1] == '\n' || text[len - 1] == ' '))
        text[--len] = 0;
    return text;
}

int tdist_agree(const Dist *g, int rc, Diag *d)
{
    if (g->size == 1)
        return rc;
    int *all = malloc(sizeof(int) * (size_t)g->size);
    int mine = rc != 0;
    int bad = -1;
    if (all) {
        dist_allgather(g, &mine, sizeof mine, all);
        for (int r = 0; r < g->size && bad < 0; r++)
            if (all[r]) bad = r;
        free(all);
    } else {
        bad = 0;    /* out of memory at one rank: cannot know; fail (MPI ends the job) */
    }
    if (bad < 0)
        return 0;
    if (bad > 0) {   /* rank 0 succeeded: it reports the first failing rank's messages */
        char *text = g->rank == bad ? render(d) : NULL, *got = NULL;
        dist_text_to_root(g, bad, text ? text : "failed", &got);
        char who[64];
        snprintf(who, sizeof who, "rank %d of %d", bad, g->size);
        if (g->rank == 0)
            diag_error_in(d, who, "%s", got ? got : "failed");
        free(text);
        free(got);
    }
    if (g->rank != 0)
        diag_clear_messages(d);
    return -1;
}

/* FNV-1a, 64 bits, over n bytes, continuing from h. */
static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    const unsigned char *c = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ c[i]) * 0x100000001b3ULL;
    return h;
}

/* The data a rank loaded, hashed: vocabulary, tokens or rows. */
static uint64_t data_hash(uint64_t h, const DataSet *ds)
{
    h = fnv(h, &ds->ntokens, sizeof ds->ntokens);
    h = fnv(h, &ds->nrows, sizeof ds->nrows);
    h = fnv(h, &ds->batches_per_epoch, sizeof ds->batches_per_epoch);
    if (ds->vocab.size)
        h = fnv(h, ds->vocab.codes, sizeof(uint32_t) * (size_t)ds->vocab.size);
    uint32_t crc = ds->tokens ? io_crc32(0, ds->tokens, sizeof(int32_t) * (size_t)ds->ntokens) : 0;
    for (int r = 0; r < ds->nrows; r++) {
        crc = io_crc32(crc, ds->row_values[r], sizeof(float) * (size_t)ds->row_len[r] *
                       (size_t)ds->in_width);
        if (ds->row_labels) crc = io_crc32(crc, &ds->row_labels[r], sizeof(int32_t));
        if (ds->row_targets)
            crc = io_crc32(crc, ds->row_targets + (size_t)r * ds->out_width,
                           sizeof(float) * (size_t)ds->out_width);
    }
    return fnv(h, &crc, sizeof crc);
}

uint64_t tdist_run_hash(const Session *s, const TrainOptions *o, int64_t total, int64_t step)
{
    uint64_t h = fnv(0xcbf29ce484222325ULL, PACKAGE_VERSION, sizeof PACKAGE_VERSION);
    h = fnv(h, s->m.source->text, s->m.source->len);
    for (int i = 0; i < s->m.nsets; i++)
        h = fnv(h, s->m.sets[i], strlen(s->m.sets[i]) + 1);
    int64_t np = s->m.ir->nparams;
    int64_t v[] = {np, total, step, (int64_t)s->st.seed, s->ds.cfg.batch, s->ds.T,
                   (int64_t)o->threads, (int64_t)s->st.optim.kind};
    h = fnv(h, v, sizeof v);
    double f[] = {s->st.optim.lr, s->st.clip};
    h = fnv(h, f, sizeof f);
    return data_hash(h, &s->ds);
}

/* The ranks whose hash differs from rank 0's, listed in ranks[200] ("1, 3"); returns how many
 * (-1 when out of memory). */
static int differing(const Dist *g, uint64_t hash, char ranks[200])
{
    uint64_t *all = malloc(sizeof(uint64_t) * (size_t)g->size);
    if (!all) return -1;
    dist_allgather(g, &hash, sizeof hash, all);
    size_t len = 0;
    int ndiff = 0;
    ranks[0] = 0;
    for (int r = 1; r < g->size; r++)
        if (all[r] != all[0] && ndiff++ < 16 && len + 12 < 200)
            len += (size_t)snprintf(ranks + len, 200 - len, "%s%d", len ? ", " : "", r);
    free(all);
    return ndiff;
}

int tdist_check_params(const Dist *g, const float *params, int64_t n, int64_t step, Diag *d)
{
    if (g->size == 1)
        return 0;
    char ranks[200];
    uint64_t h = io_crc32(0, params, sizeof(float) * (size_t)n);
    int ndiff = differing(g, h, ranks);
    if (ndiff == 0)
        return 0;
    if (g->rank == 0 && ndiff < 0)
        diag_error_in(d, "mpirun", "out of memory comparing the weights");
    else if (g->rank == 0)
        diag_error_in(d, "mpirun", "at step %lld the weights of rank%s %s differ from rank 0's: "
                      "the all-reduce did not give every rank the same sum", (long long)step,
                      ndiff > 1 ? "s" : "", ranks);
    return -1;
}

int tdist_check_same(const Dist *g, uint64_t hash, const char *what, Diag *d)
{
    if (g->size == 1)
        return 0;
    char ranks[200];
    int ndiff = differing(g, hash, ranks);
    if (ndiff < 0) {
        diag_error_in(d, what, "out of memory");
        return -1;
    }
    if (ndiff == 0)
        return 0;
    if (g->rank == 0) {
        DiagMessage *m = diag_error_in(d, what, "rank%s %s of %d %s another model, settings, data "
                                       "or recur binary than rank 0", ndiff > 1 ? "s" : "", ranks,
                                       g->size, ndiff > 1 ? "have" : "has");
        diag_help(m, "every rank must run the same recur on the same files (a shared directory)");
    }
    return -1;
}

void tdist_reduce_step(const Dist *g, float *grads, int64_t nparams, TdistStep *st)
{
    st->seconds = 0;
    if (g->size == 1)
        return;
    double v[5] = {st->loss * (double)st->count, (double)st->count, (double)st->tokens,
                   st->failed, st->stop};
    double here = (double)st->count;
    dist_sum_doubles(g, v, 5);
    st->loss = v[1] > 0 ? v[0] / v[1] : 0;
    st->count = (int64_t)v[1];
    st->tokens = (int64_t)v[2];
    st->failed = v[3] > 0;
    st->stop = v[4] > 0;
    double t0 = progress_now();     /* after the small sum, which waits for the slowest rank */
    if (!st->failed) {
        float share = v[1] > 0 ? (float)(here / v[1]) : 0.0f;
        if (share != 1.0f)
            for (int64_t i = 0; i < nparams; i++)
                grads[i] *= share;
        dist_sum_floats(g, grads, nparams);
    }
    st->seconds = progress_now() - t0;
}

/* The segment widths of s's carried state (malloc'ed, *nseg of them); NULL when none or out of
 * memory (*nseg < 0). */
static int *state_widths(const Session *s, int *nseg)
{
    *nseg = exec_state_widths(s->e, NULL, 0);
    int *w = malloc(sizeof(int) * (size_t)(*nseg > 0 ? *nseg : 1));
    if (!w) *nseg = -1;
    else exec_state_widths(s->e, w, *nseg);
    return w;
}

/* One process: what a Session without a Dist is part of. */
static const Dist solo = {0, 1, false};

int tdist_gather_state(const Session *s, float **global, int64_t *n, Diag *d)
{
    const Dist *g = s->dist ? s->dist : &solo;
    int64_t local = exec_state_floats(s->e);
    *global = NULL;
    *n = local * (g ? g->size : 1);
    if (local == 0)
        return 0;
    int nseg;
    int *w = state_widths(s, &nseg);
    float *mine = malloc(sizeof(float) * (size_t)local);
    float *all = g->rank == 0 ? malloc(sizeof(float) * (size_t)*n) : NULL;
    float *out = g->rank == 0 ? malloc(sizeof(float) * (size_t)*n) : NULL;
    int bad = !w || !mine || (g->rank == 0 && (!all || !out));
    if (!bad) {
        exec_get_state(s->e, mine);
        dist_gather_floats(g, mine, local, all);
    }
    if (!bad && g->rank == 0) {   /* all[rank][segment][n][w] -> out[segment][rank * n][w] */
        size_t nb = (size_t)(s->ds.part_n ? s->ds.part_n : s->ds.cfg.batch), src = 0, dst = 0;
        for (int j = 0; j < nseg; j++) {
            size_t seg = nb * (size_t)w[j];
            for (int r = 0; r < g->size; r++)
                memcpy(out + dst + (size_t)r * seg, all + (size_t)r * (size_t)local + src,
                       sizeof(float) * seg);
            src += seg;
            dst += seg * (size_t)g->size;
        }
        *global = out;
        out = NULL;
    }
    free(w);
    free(mine);
    free(all);
    free(out);
    if (bad) diag_error_in(d, "checkpoint", "out of memory gathering the carried state");
    return bad ? -1 : 0;
}

int tdist_set_state(Session *s, const float *global, int64_t n, const char *path, Diag *d)
{
    int64_t local = exec_state_floats(s->e);
    int B = s->ds.cfg.batch, nb = s->ds.part_n ? s->ds.part_n : B;
    if (n != local / nb * B) {
        diag_error_in(d, path, "the checkpoint's optimiser state '%s' is missing or has another "
                      "size", SESSION_CARRIED_STATE);
        return -1;
    }
    int nseg;
    int *w = state_widths(s, &nseg);
    float *mine = malloc(sizeof(float) * (size_t)(local > 0 ? local : 1));
    if (!w || !mine) {
        free(w);
        free(mine);
        diag_error_in(d, path, "out of memory");
        return -1;
    }
    size_t src = 0, dst = 0, first = (size_t)s->ds.part_first;
    for (int j = 0; j < nseg; j++) {   /* global[segment][B][w] -> mine[segment][nb][w] */
        memcpy(mine + dst, global + src + first * (size_t)w[j],
               sizeof(float) * (size_t)nb * (size_t)w[j]);
        src += (size_t)B * (size_t)w[j];
        dst += (size_t)nb * (size_t)w[j];
    }
    exec_set_state(s->e, mine);
    free(w);
    free(mine);
    return 0;
}
