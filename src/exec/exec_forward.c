/* exec_forward: one window forward, layer by layer (see exec.h). Recurrent layers run their
 * cells on the fused kernels or the cell interpreter. Separate from the backward pass
 * (exec_backward.c), which walks the same layers in reverse. */
#include <string.h>

#include "exec/cellvm.h"
#include "exec/exec_int.h"
#include "exec/kernels.h"

/* One cell over the window: y = cell(x) from s0, final state into sT.   x [T][B][in_w] */
static int cell_forward(ExecModel *e, RecCell *rc, const float *x, Diag *d)
{
    if (!exec_use_kernel(e, rc)) {
        if (!rc->vm && !(rc->vm = cellvm_create(rc->c, e->B, e->max_T, d)))
            return -1;
        return cellvm_forward(rc->vm, e->T, x, rc->p, rc->s0, rc->y, rc->sT, d);
    }
    KernStateIn s0 = { rc->s0 + rc->off_h, rc->off_c >= 0 ? rc->s0 + rc->off_c : NULL };
    KernStateOut sT = { rc->sT + rc->off_h, rc->off_c >= 0 ? rc->sT + rc->off_c : NULL };
    rc->fused->forward(exec_cell_shape(e, rc), e->fwd_grad, x, s0, exec_cell_weights(rc), rc->y,
                       sT, rc->cache);
    return 0;
}

/* A recurrent layer: levels bottom-up, dropout between levels (training only, as PyTorch),
 * directions concatenated forward then reverse. */
static int recurrent_forward(ExecModel *e, LayerRt *l, const float *x, Diag *d)
{
    size_t TB = (size_t)e->T * e->B;
    for (int lev = 0; lev < l->nlev; lev++) {
        const float *xin = x;
        if (lev > 0) {
            xin = l->lev_y[lev - 1];
            if (e->train && l->L->p > 0) {
                kern_dropout_mask(TB * l->w, (float)l->L->p, &e->rng, l->lev_mask[lev]);
                kern_dropout_forward(TB * l->w, l->lev_mask[lev], xin, l->lev_x[lev]);
                xin = l->lev_x[lev];
            }
        }
        const float *ys[2];
        int ws[2];
        for (int dir = 0; dir < l->ndir; dir++) {
            RecCell *rc = &l->cells[lev * l->ndir + dir];
            if (cell_forward(e, rc, xin, d))
                return -1;
            ys[dir] = rc->y;
            ws[dir] = rc->H;
        }
        if (l->ndir == 2)
            kern_concat_forward(TB, 2, ws, ys, l->lev_y[lev]);
    }
    return 0;
}

/* Checks and copies the window's input into the input layer. */
static int input_forward(ExecModel *e, LayerRt *l, const ExecInput *in, Diag *d)
{
    size_t TB = (size_t)in->T * e->B;
    if (l->L->kind == IR_LAYER_INPUT_TOKENS) {
        if (!in->tokens) {
            diag_error_in(d, l->L->label, "the model reads token ids; none were given");
            return -1;
        }
        for (size_t r = 0; r < TB; r++)
            if (in->tokens[r] < 0 || in->tokens[r] >= l->L->vocab) {
                diag_error_in(d, l->L->label, "token id %d at step %zu is outside [0, %d)",
                              (int)in->tokens[r], r / e->B, l->L->vocab);
                return -1;
            }
        memcpy(l->ids, in->tokens, sizeof(int32_t) * TB);
        return 0;
    }
    if (!in->vectors) {
        diag_error_in(d, l->L->label, "the model reads vectors; none were given");
        return -1;
    }
    memcpy(l->out, in->vectors, sizeof(float) * TB * l->w);
    return 0;
}

int exec_forward(ExecModel *e, const ExecInput *in, bool train, Diag *d)
{
    const IrModel *m = e->m;
    if (!in || in->T < 1 || in->T > e->max_T) {
        diag_error_in(d, m->name ? m->name : "model", "window of %d steps, expected 1..%d",
                      in ? in->T : 0, e->max_T);
        return -1;
    }
    e->has_lengths = in->lengths != NULL;
    for (int b = 0; in->lengths && b < e->B; b++) {
        if (in->lengths[b] < 1 || in->lengths[b] > in->T) {
            diag_error_in(d, m->name ? m->name : "model",
                          "sequence %d has length %d, expected 1..%d", b, (int)in->lengths[b],
                          in->T);
            return -1;
        }
        e->lengths[b] = in->lengths[b];
    }
    e->T = in->T;
    e->train = train;
    e->fwd_grad = e->grad_enabled;
    e->fwd_interp = e->force_interp; /* backward follows the forward's path */
    if (e->carry)
        memcpy(e->state, e->fin, sizeof(float) * e->state_floats);
    e->carry = false;
    memset(e->dfin, 0, sizeof(float) * e->state_floats);
    int T = e->T, B = e->B;
    size_t TB = (size_t)T * B;
    for (int i = 0; i < m->nlayers; i++) {
        LayerRt *l = &e->lr[i];
        const IrLayer *L = l->L;
        size_t rows = exec_rows_of(e, l, T);
        LayerRt *in0 = i > 0 ? &e->lr[L->inputs[0]] : NULL;
        if (l->dout)
            memset(l->dout, 0, sizeof(float) * rows * l->w);
        switch (L->kind) {
        case IR_LAYER_INPUT_TOKENS:
        case IR_LAYER_INPUT_VECTOR:
            if (input_forward(e, l, in, d))
                return -1;
            break;
        case IR_LAYER_EMBEDDING:
            kern_embedding_forward(TB, l->w, in0->ids, l->wt, l->out);
            break;
        case IR_LAYER_ONEHOT:
            memset(l->out, 0, sizeof(float) * TB * l->w);
            for (size_t r = 0; r < TB; r++)
                l->out[r * l->w + in0->ids[r]] = 1.0f;
            break;
        case IR_LAYER_RECURRENT:
            if (recurrent_forward(e, l, in0->out, d))
                return -1;
            break;
        case IR_LAYER_DENSE:
            kern_dense_forward(rows, in0->w, l->w, (KernAct)L->act, in0->out, l->wt, l->bias,
                               l->out);
            break;
        case IR_LAYER_DROPOUT:
            if (train && L->p > 0) {
                kern_dropout_mask(rows * l->w, (float)L->p, &e->rng, l->mask);
                kern_dropout_forward(rows * l->w, l->mask, in0->out, l->out);
            } else {
                memcpy(l->out, in0->out, sizeof(float) * rows * l->w);
            }
            break;
        case IR_LAYER_LAYERNORM:
            kern_layernorm_forward(rows, l->w, in0->out, l->wt, l->bias, l->out, l->mean,
                                   l->rstd);
            break;
        case IR_LAYER_POOL:
            kern_pool_forward((KernPool)L->pool, T, B, l->w, in0->out,
                              e->has_lengths ? e->lengths : NULL, l->out, l->argmax);
            break;
        case IR_LAYER_CONCAT:
        case IR_LAYER_ADD: {
            const float *xs[L->ninputs];
            int ws[L->ninputs];
            for (int k = 0; k < L->ninputs; k++) {
                xs[k] = e->lr[L->inputs[k]].out;
                ws[k] = e->lr[L->inputs[k]].w;
            }
            if (L->kind == IR_LAYER_CONCAT)
                kern_concat_forward(rows, L->ninputs, ws, xs, l->out);
            else
                kern_add_forward(rows * l->w, L->ninputs, xs, l->out);
            break;
        }
        case IR_LAYER_SOFTMAX:
            kern_softmax_forward(rows, l->w, in0->out, l->out);
            break;
        default:
            diag_error_in(d, L->label, "layer kind %d cannot run", (int)L->kind);
            return -1;
        }
    }
    e->carry = true;
    e->fused_softmax = false;
    return 0;
}
