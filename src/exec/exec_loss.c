/* exec_loss: the loss of the last forward against its targets -- cross-entropy over token or
 * label ids (fused with a final softmax) or mean squared error (the one MSE kernel), masked by
 * sequence lengths -- and, after a forward with gradients on (exec_set_grad_enabled), its gradient,
 * written into the output layer's gradient for exec_backward (inference skips that work). */
#include <stddef.h>

#include "exec/exec_int.h"
#include "exec/kernels.h"

/* The [T][B] mask of the steps inside each sequence's length (1 inside, 0 past the end), or
 * NULL when every step counts (no lengths given, or a pooled output). */
static const float *length_mask(ExecModel *e, const LayerRt *out)
{
    if (!(out->seq && e->has_lengths))
        return NULL;
    for (int s = 0; s < e->T; s++)
        for (int b = 0; b < e->B; b++)
            e->lossmask[(size_t)s * e->B + b] = s < e->lengths[b] ? 1.0f : 0.0f;
    return e->lossmask;
}

int exec_loss(ExecModel *e, const ExecTarget *t, double *loss, Diag *d)
{
    const IrModel *m = e->m;
    LayerRt *out = &e->lr[m->output];
    const char *name = out->L->label;
    int T = e->T;
    *loss = 0;
    if (T <= 0) {
        diag_error_in(d, name, "loss before any forward");
        return -1;
    }
    if (out->L->tokens) {
        diag_error_in(d, name, "the model's output is token ids; a loss needs values");
        return -1;
    }
    size_t rows = exec_rows_of(e, out, T);
    LayerRt *lg = out;
    if (t->kind != EXEC_LOSS_MSE) {
        if (!t->ids) {
            diag_error_in(d, name, "cross-entropy needs target ids");
            return -1;
        }
        if ((t->kind == EXEC_LOSS_XENT_TOKENS) != out->seq) {
            diag_error_in(d, name, out->seq ? "per-sequence labels need a pooled output (add "
                                              "pool(last) before the classifier)"
                                            : "per-step targets need a sequence output");
            return -1;
        }
        const IrLayerFacts *f = ir_layer_kind_facts(out->L->kind);
        bool fuse = f && f->probs;
        if (fuse)
            lg = &e->lr[out->L->inputs[0]];
        if (kern_xent_forward_backward(rows, lg->w, lg->out, t->ids, -1, length_mask(e, out),
                                       e->fwd_grad ? lg->dout : NULL, loss, NULL)) {
            diag_error_in(d, name, "a target class is outside [0, %d)", lg->w);
            return -1;
        }
        e->fused_softmax = fuse;
        return 0;
    }
    if (!t->values) {
        diag_error_in(d, name, "mean squared error needs target values");
        return -1;
    }
    e->fused_softmax = false;
    *loss = kern_mse_forward_backward(rows, out->w, out->out, t->values, length_mask(e, out),
                                      e->fwd_grad ? out->dout : NULL, NULL);
    return 0;
}
