/* token_table: for a recurrent layer fed straight by an embedding (or onehot) layer, the input
 * projection x W_ih^T of every token of the vocabulary, so that a batch-1 step reads one row of
 * G*H floats instead of all of W_ih (G*H*E): 4% of the character LSTM's 13 MB per token, and a
 * batch-1 step is bound by how fast its weights stream. Only while the caller has promised that
 * the parameters do not change (exec_set_frozen: recur sample, the C API's stateful step); a
 * freeze or a forward with gradients makes every table stale (ExecModel.frozen_gen). */
#include <stdlib.h>
#include <string.h>

#include "exec/exec_int.h"
#include "exec/matvec.h"

/* Largest table built: beyond it (a word vocabulary) the table costs more memory than the
 * bandwidth it saves is worth; no table is built either when building it would take long. */
#define TOKEN_TABLE_MAX_BYTES ((size_t)64 << 20)

/* Most multiply-adds spent building one table (V * G*H * In): a few tens of milliseconds. */
#define TOKEN_TABLE_MAX_MADDS 268435456.0

/* Row v = x_v W_ih^T for every token v, each by the product the batch-1 step would run
 * (kern_matvec_rows with no second matrix: ((0 + x_v . w_r) + 0)), so the step from a row
 * (g = row, then g += h W_hh^T) gives the bits the step from W_ih gives, a NaN or infinite
 * weight included. onehot's x_v is the unit vector e_v, made in unit [In]. */
static void table_build(TokenTable *t, const float *emb, const float *w_ih, int In, float *unit)
{
    for (int v = 0; v < t->V; v++) {
        float *row = t->rows + (size_t)v * t->width;
        const float *x = unit;
        if (emb)
            x = emb + (size_t)v * In;
        else {
            memset(unit, 0, sizeof(float) * In);
            unit[v] = 1.0f;
        }
        kern_matvec_rows(0, t->width, w_ih, In, x, NULL, 0, NULL, 0, row);
    }
}

const float *token_table_row(ExecModel *e, TokenTable *t, const LayerRt *in, const float *w_ih,
                             int In, int GH)
{
    const float *emb;
    if (!e->frozen || e->fwd_grad || e->fwd_interp || e->B != 1 || e->T != 1 ||
        !exec_token_rows(in, &emb) || in->w != In || !w_ih)
        return NULL;
    int V = in->L->vocab;
    if (V < 1 || (size_t)V * (size_t)GH > TOKEN_TABLE_MAX_BYTES / sizeof(float) ||
        (double)V * GH * In > TOKEN_TABLE_MAX_MADDS || (!emb && In != V))
        return NULL;
    int32_t id = exec_input_rt(e, in, 0)->ids[0];
    if (id < 0 || id >= V)
        return NULL; /* the input layer reports it */
    if (!t->built || t->gen != e->frozen_gen || t->V != V || t->width != GH) {
        if (!t->rows || t->V != V || t->width != GH) {
            free(t->rows);
            t->rows = malloc((size_t)V * GH * sizeof *t->rows);
            t->built = false;
            if (!t->rows)
                return NULL; /* no table: the step reads W_ih as usual */
        }
        float *unit = emb ? NULL : malloc(sizeof(float) * In);
        if (!emb && !unit)
            return NULL;
        t->V = V, t->width = GH;
        table_build(t, emb, w_ih, In, unit);
        free(unit);
        t->built = true;
        t->gen = e->frozen_gen;
    }
    return t->rows + (size_t)id * GH;
}

void token_table_free(TokenTable *t)
{
    free(t->rows);
    memset(t, 0, sizeof *t);
}
