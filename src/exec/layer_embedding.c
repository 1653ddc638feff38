/* layer_embedding: the layers that turn token ids into vectors -- `embedding(E)`, a trained
 * table [vocab][E] (role weight), and `onehot`, the fixed identity [vocab][vocab]. */
#include <string.h>

#include "exec/exec_int.h"
#include "exec/layer_kinds.h"

/* An embedding's table and its gradient. */
typedef struct EmbeddingRt {
    const float *table;
    float *dtable;
} EmbeddingRt;

/* Binds the table: [vocab][E]. */
static int embedding_setup(ExecModel *e, LayerRt *l, int64_t *state_off, Diag *d)
{
    (void)state_off;
    EmbeddingRt *r = exec_own(e, 1, sizeof *r);
    if (!r)
        return -1;
    l->kind_rt = r;
    return exec_bind_tensor(e, l->L, IR_ROLE_WEIGHT, (int64_t)l->L->vocab * l->w, false,
                            &r->table, &r->dtable, d);
}

/* out[r] = table[ids[r]] */
static int embedding_forward(ExecModel *e, LayerRt *l, const ExecInput *in, Diag *d)
{
    (void)in, (void)d;
    const EmbeddingRt *r = l->kind_rt;
    kern_embedding_forward((size_t)e->T * e->B, l->w, exec_input_rt(e, l, 0)->ids, r->table,
                           l->out);
    return 0;
}

/* dtable[ids[r]] += dout[r] */
static int embedding_backward(ExecModel *e, LayerRt *l, Diag *d)
{
    (void)d;
    EmbeddingRt *r = l->kind_rt;
    kern_embedding_backward((size_t)e->T * e->B, l->w, exec_input_rt(e, l, 0)->ids, l->dout,
                            r->dtable);
    return 0;
}

/* Onehot's width is its vocabulary. */
static int onehot_setup(ExecModel *e, LayerRt *l, int64_t *state_off, Diag *d)
{
    (void)e, (void)state_off;
    if (l->L->vocab != l->w) {
        diag_error_in(d, l->L->label, "onehot width %d differs from vocab %d", l->w,
                      l->L->vocab);
        return -1;
    }
    return 0;
}

/* out[r][j] = (j == ids[r]) */
static int onehot_forward(ExecModel *e, LayerRt *l, const ExecInput *in, Diag *d)
{
    (void)in, (void)d;
    size_t TB = (size_t)e->T * e->B;
    const int32_t *ids = exec_input_rt(e, l, 0)->ids;
    memset(l->out, 0, sizeof(float) * TB * l->w);
    for (size_t r = 0; r < TB; r++)
        l->out[r * l->w + ids[r]] = 1.0f;
    return 0;
}

bool exec_token_rows(const LayerRt *l, const float **table)
{
    *table = NULL;
    if (l->L->kind == IR_LAYER_EMBEDDING)
        *table = ((const EmbeddingRt *)l->kind_rt)->table;
    return l->L->kind == IR_LAYER_EMBEDDING || l->L->kind == IR_LAYER_ONEHOT;
}

const ExecLayerOps layer_embedding_ops = { embedding_setup, embedding_forward,
                                           embedding_backward, NULL, NULL };
const ExecLayerOps layer_onehot_ops = { onehot_setup, onehot_forward, NULL, NULL, NULL };
