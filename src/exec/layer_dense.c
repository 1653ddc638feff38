/* layer_dense: `dense(N, activation=...)`, y = act(x W^T + b) row by row, with W [N][in] (role
 * weight) and an optional b [N] (role bias). */
#include "exec/exec_int.h"
#include "exec/layer_kinds.h"

/* The weights, their gradients and the backward workspace. */
typedef struct DenseRt {
    const float *w, *b;
    float *dw, *db;
    float *work;
} DenseRt;

/* Binds W [N][in] and b [N] and sizes the workspace. */
static int dense_setup(ExecModel *e, LayerRt *l, int64_t *state_off, Diag *d)
{
    (void)state_off;
    DenseRt *r = exec_own(e, 1, sizeof *r);
    if (!r)
        return -1;
    l->kind_rt = r;
    int in_w = exec_input_rt(e, l, 0)->w;
    size_t rows = exec_rows_of(e, l, e->max_T);
    if (exec_bind_tensor(e, l->L, IR_ROLE_WEIGHT, (int64_t)l->w * in_w, false, &r->w, &r->dw,
                         d) ||
        exec_bind_tensor(e, l->L, IR_ROLE_BIAS, l->w, true, &r->b, &r->db, d))
        return -1;
    r->work = exec_own(e, kern_dense_work_floats(rows, l->w, (KernAct)l->L->act), sizeof(float));
    return e->oom ? -1 : 0;
}

/* y = act(x W^T + b) */
static int dense_forward(ExecModel *e, LayerRt *l, const ExecInput *in, Diag *d)
{
    (void)in, (void)d;
    const DenseRt *r = l->kind_rt;
    const LayerRt *x = exec_input_rt(e, l, 0);
    kern_dense_forward(exec_rows_of(e, l, e->T), x->w, l->w, (KernAct)l->L->act, x->out, r->w,
                       r->b, l->out);
    return 0;
}

/* dx += dz W, dW += dz^T x, db += column sums of dz, with dz = dy * act'(y) */
static int dense_backward(ExecModel *e, LayerRt *l, Diag *d)
{
    (void)d;
    DenseRt *r = l->kind_rt;
    LayerRt *x = exec_input_rt(e, l, 0);
    kern_dense_backward(exec_rows_of(e, l, e->T), x->w, l->w, (KernAct)l->L->act, x->out, r->w,
                        l->out, l->dout, x->dout, r->dw, r->db, r->work);
    return 0;
}

const ExecLayerOps layer_dense_ops = { dense_setup, dense_forward, dense_backward, NULL, NULL };
