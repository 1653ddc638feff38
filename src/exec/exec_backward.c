/* exec_backward: backward through the last forward's window, layers in reverse, from the
 * gradient exec_loss (or the caller) left in the output layer to every parameter gradient and to
 * the initial recurrent states. Separate from exec_forward.c; the two mirror each other. */
#include <string.h>

#include "exec/cellvm.h"
#include "exec/exec_int.h"
#include "exec/kernels.h"

/* One cell's backward from rc->dy: parameter grads, dx (or NULL) and ds0 accumulate. */
static int cell_backward(ExecModel *e, RecCell *rc, const float *x, float *dx, Diag *d)
{
    if (!exec_use_kernel(e, rc))
        return cellvm_backward(rc->vm, rc->dy, rc->dsT, rc->dp, dx, rc->ds0, d);
    bool c = rc->off_c >= 0;
    KernDStateIn dsT = { rc->dsT + rc->off_h, c ? rc->dsT + rc->off_c : NULL };
    KernDStateOut ds0 = { rc->ds0 + rc->off_h, c ? rc->ds0 + rc->off_c : NULL };
    KernRecGrads dw = { rc->dp[rc->wih], rc->dp[rc->whh], rc->bih >= 0 ? rc->dp[rc->bih] : NULL,
                        rc->bhh >= 0 ? rc->dp[rc->bhh] : NULL };
    rc->fused->backward(exec_cell_shape(e, rc), x, exec_cell_weights(rc), rc->cache, rc->dy, dsT,
                        dx, ds0, dw, rc->work);
    return 0;
}

/* A recurrent layer, top level first: split the level's gradient by direction, run the cells
 * back, and pass the input gradient through the dropout mask to the level below. */
static int recurrent_backward(ExecModel *e, LayerRt *l, const float *x, float *dx, Diag *d)
{
    size_t TB = (size_t)e->T * e->B;
    for (int lev = 0; lev < l->nlev - 1; lev++) /* the last level's is the layer's dout */
        memset(l->lev_dy[lev], 0, sizeof(float) * TB * l->w);
    for (int lev = l->nlev - 1; lev >= 0; lev--) {
        if (l->ndir == 2) { /* split the level's gradient into the two directions */
            float *dys[2];
            int ws[2];
            for (int dir = 0; dir < 2; dir++) {
                RecCell *rc = &l->cells[lev * 2 + dir];
                memset(rc->dy, 0, sizeof(float) * TB * rc->H);
                dys[dir] = rc->dy;
                ws[dir] = rc->H;
            }
            kern_concat_backward(TB, 2, ws, l->lev_dy[lev], dys);
        }
        const float *xin = x;
        float *dxin = dx;
        bool drop = lev > 0 && e->train && l->L->p > 0;
        if (lev > 0) {
            xin = drop ? l->lev_x[lev] : l->lev_y[lev - 1];
            dxin = drop ? l->lev_dx[lev] : l->lev_dy[lev - 1];
            if (drop)
                memset(dxin, 0, sizeof(float) * TB * l->w);
        }
        for (int dir = 0; dir < l->ndir; dir++)
            if (cell_backward(e, &l->cells[lev * l->ndir + dir], xin, dxin, d))
                return -1;
        if (drop)
            kern_dropout_backward(TB * l->w, l->lev_mask[lev], dxin, l->lev_dy[lev - 1]);
    }
    return 0;
}

int exec_backward(ExecModel *e, Diag *d)
{
    const IrModel *m = e->m;
    int T = e->T, B = e->B;
    if (T <= 0 || !e->fwd_grad) {
        diag_error_in(d, m->name ? m->name : "model", T <= 0 ? "backward before any forward"
                      : "backward after a forward without gradients (exec_set_grad_enabled)");
        return -1;
    }
    size_t TB = (size_t)T * B;
    memset(e->dstate, 0, sizeof(float) * e->state_floats);
    for (int i = m->nlayers - 1; i > 0; i--) {
        LayerRt *l = &e->lr[i];
        const IrLayer *L = l->L;
        size_t rows = exec_rows_of(e, l, T);
        LayerRt *in0 = &e->lr[L->inputs[0]];
        float *dx = in0->dout; /* NULL for token inputs */
        switch (L->kind) {
        case IR_LAYER_EMBEDDING:
            kern_embedding_backward(TB, l->w, in0->ids, l->dout, l->dwt);
            break;
        case IR_LAYER_ONEHOT:
            break;
        case IR_LAYER_RECURRENT:
            if (recurrent_backward(e, l, in0->out, dx, d))
                return -1;
            break;
        case IR_LAYER_DENSE:
            kern_dense_backward(rows, in0->w, l->w, (KernAct)L->act, in0->out, l->wt, l->out,
                                l->dout, dx, l->dwt, l->dbias, l->work);
            break;
        case IR_LAYER_DROPOUT:
            if (e->train && L->p > 0)
                kern_dropout_backward(rows * l->w, l->mask, l->dout, dx);
            else
                kern_accumulate(rows * l->w, l->dout, dx);
            break;
        case IR_LAYER_LAYERNORM:
            kern_layernorm_backward(rows, l->w, in0->out, l->wt, l->mean, l->rstd, l->dout, dx,
                                    l->dwt, l->dbias);
            break;
        case IR_LAYER_POOL:
            kern_pool_backward((KernPool)L->pool, T, B, l->w, e->has_lengths ? e->lengths : NULL,
                               l->argmax, l->dout, dx);
            break;
        case IR_LAYER_CONCAT: {
            float *dxs[L->ninputs];
            int ws[L->ninputs];
            for (int k = 0; k < L->ninputs; k++) {
                dxs[k] = e->lr[L->inputs[k]].dout;
                ws[k] = e->lr[L->inputs[k]].w;
            }
            kern_concat_backward(rows, L->ninputs, ws, l->dout, dxs);
            break;
        }
        case IR_LAYER_ADD:
            for (int k = 0; k < L->ninputs; k++)
                kern_accumulate(rows * l->w, l->dout, e->lr[L->inputs[k]].dout);
            break;
        case IR_LAYER_SOFTMAX:
            if (!(e->fused_softmax && i == m->output))
                kern_softmax_backward(rows, l->w, l->out, l->dout, dx);
            break;
        default:
            break;
        }
    }
    return 0;
}
