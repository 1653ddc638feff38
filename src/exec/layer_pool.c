/* layer_pool: `pool(last|mean|max)`, a sequence [T][B][w] to one vector per stream [B][w], over
 * each stream's length when the window gives lengths. */
#include "exec/exec_int.h"
#include "exec/layer_kinds.h"

/* Needs a sequence input of its own width; max pooling records its argmax [B][w]. */
static int pool_setup(ExecModel *e, LayerRt *l, int64_t *state_off, Diag *d)
{
    (void)state_off;
    const LayerRt *x = exec_input_rt(e, l, 0);
    if (!x->seq || l->seq)
        return exec_needs_seq_error(l, d);
    if (x->w != l->w)
        return exec_width_error(l, d);
    l->kind_rt = exec_own(e, (size_t)e->B * l->w, sizeof(int32_t));
    return e->oom ? -1 : 0;
}

/* last: y[b] = x[len-1][b]; mean: sum / len; max: per feature, remembering the step. */
static int pool_forward(ExecModel *e, LayerRt *l, const ExecInput *in, Diag *d)
{
    (void)in, (void)d;
    kern_pool_forward((KernPool)l->L->pool, e->T, e->B, l->w, exec_input_rt(e, l, 0)->out,
                      e->has_lengths ? e->lengths : NULL, l->out, l->kind_rt);
    return 0;
}

/* The gradient goes back to the pooled steps. */
static int pool_backward(ExecModel *e, LayerRt *l, Diag *d)
{
    (void)d;
    kern_pool_backward((KernPool)l->L->pool, e->T, e->B, l->w,
                       e->has_lengths ? e->lengths : NULL, l->kind_rt, l->dout,
                       exec_input_rt(e, l, 0)->dout);
    return 0;
}

const ExecLayerOps layer_pool_ops = { pool_setup, pool_forward, pool_backward, NULL, NULL };
