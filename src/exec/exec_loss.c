/* exec_loss: the loss of the last forward against its targets -- cross-entropy over token or
 * label ids (fused with a final softmax) or mean squared error, masked by sequence lengths -- and
 * its gradient, written into the output layer's gradient for exec_backward. */
#include <stddef.h>

#include "exec/exec_int.h"
#include "exec/kernels.h"

int exec_loss(ExecModel *e, const ExecTarget *t, double *loss, Diag *d)
{
    const IrModel *m = e->m;
    LayerRt *out = &e->lr[m->output];
    const char *name = out->L->label;
    int T = e->T, B = e->B;
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
        const float *mask = NULL;
        if (out->seq && e->has_lengths) {
            for (int s = 0; s < T; s++)
                for (int b = 0; b < B; b++)
                    e->lossmask[(size_t)s * B + b] = s < e->lengths[b] ? 1.0f : 0.0f;
            mask = e->lossmask;
        }
        if (kern_xent_forward_backward(rows, lg->w, lg->out, t->ids, -1, mask, lg->dout, loss,
                                       NULL)) {
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
    if (!(out->seq && e->has_lengths)) {
        *loss = kern_mse_forward_backward(rows * out->w, out->out, t->values, out->dout);
        return 0;
    }
    /* masked: mean over the (step, stream, feature) elements inside each sequence's length */
    size_t count = 0;
    for (int b = 0; b < B; b++)
        count += (size_t)e->lengths[b] * out->w;
    double s = 0;
    for (int st = 0; st < T; st++)
        for (int b = 0; b < B; b++) {
            size_t r = (size_t)st * B + b;
            for (int j = 0; j < out->w; j++) {
                size_t i = r * out->w + j;
                double diff = st < e->lengths[b] ? (double)out->out[i] - t->values[i] : 0.0;
                s += diff * diff;
                out->dout[i] = (float)(2.0 * diff / count);
            }
        }
    *loss = s / count;
    return 0;
}
