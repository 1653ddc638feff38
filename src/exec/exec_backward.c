/* exec_backward: backward through the last forward's window, layers in reverse, from the
 * gradient exec_loss (or the caller) left in the output layer to every parameter gradient and to
 * the initial recurrent states, through each layer's backward hook (exec_layers.c). Separate
 * from exec_forward.c; the two mirror each other. */
#include <string.h>

#include "exec/exec_int.h"

int exec_backward(ExecModel *e, Diag *d)
{
    const IrModel *m = e->m;
    if (e->T <= 0 || !e->fwd_grad) {
        diag_error_in(d, m->name ? m->name : "model", e->T <= 0 ? "backward before any forward"
                      : "backward after a forward without gradients (exec_set_grad_enabled)");
        return -1;
    }
    memset(e->dstate, 0, sizeof(float) * e->state_floats);
    for (int i = m->nlayers - 1; i > 0; i--) {
        LayerRt *l = &e->lr[i];
        const ExecLayerOps *ops = exec_layer_ops(l->L->kind);
        if (ops->backward && ops->backward(e, l, d))
            return -1;
    }
    return 0;
}
