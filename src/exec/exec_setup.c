/* exec_setup: the checks every layer passes before its kind's own set-up -- inputs are earlier
 * layers, the input layer comes first, inputs give what the kind reads (token ids or vectors,
 * with the same sequence axis unless the kind drops it), sizes and modes are in range -- read
 * from the facts of its kind (ir.h); then its output buffers, then the kind's setup hook
 * (exec_layers.c). Runs once per layer, from exec_create. */
#include "exec/exec_int.h"

/* The facts used for a kind outside IrLayerKind: set up like an ordinary vector layer, so that
 * exec_forward reports it ("cannot run"). */
static const IrLayerFacts unknown_kind = { "unknown", false, false, false, true, false, false,
                                           IR_SHOW_NONE };

/* Checks that layer i's inputs are earlier layers and give what its kind reads; -1 with a
 * diagnostic. */
static int check_inputs(ExecModel *e, int i, const IrLayerFacts *f, Diag *d)
{
    const IrModel *m = e->m;
    const IrLayer *L = &m->layers[i];
    const LayerRt *l = &e->lr[i];
    for (int k = 0; k < L->ninputs; k++)
        if (L->inputs[k] < 0 || L->inputs[k] >= i) {
            diag_error_in(d, L->label, "layer input %d is not an earlier layer", L->inputs[k]);
            return -1;
        }
    if (f->input != (i == 0) || (!f->input && L->ninputs < 1) || l->w <= 0) {
        diag_error_in(d, L->label, "malformed layer (inputs or width)");
        return -1;
    }
    for (int k = 0; k < L->ninputs; k++) {
        const IrLayer *src = &m->layers[L->inputs[k]];
        if (src->tokens != f->reads_tokens ||
            (!f->reads_tokens && e->lr[L->inputs[k]].seq != l->seq && f->keeps_sequence)) {
            diag_error_in(d, L->label, "input '%s' has the wrong kind for this layer",
                          src->label);
            return -1;
        }
    }
    if (f->reads_tokens && (L->vocab <= 0 || m->layers[L->inputs[0]].vocab != L->vocab)) {
        diag_error_in(d, L->label, "vocabulary %d differs from the input's %d", L->vocab,
                      m->layers[L->inputs[0]].vocab);
        return -1;
    }
    if ((unsigned)L->act > IR_ACT_SIGMOID || (unsigned)L->pool > IR_POOL_MAX) {
        diag_error_in(d, L->label, "unknown activation or pooling mode");
        return -1;
    }
    return 0;
}

/* Checks one layer against its inputs and allocates what it needs. */
int exec_setup_layer(ExecModel *e, int i, int64_t *state_off, Diag *d)
{
    const IrLayer *L = &e->m->layers[i];
    LayerRt *l = &e->lr[i];
    l->L = L;
    l->w = L->width;
    l->seq = L->sequence;
    const IrLayerFacts *f = ir_layer_kind_facts(L->kind);
    if (check_inputs(e, i, f ? f : &unknown_kind, d))
        return -1;
    if (!f || !f->gives_tokens) {
        size_t rows = exec_rows_of(e, l, e->max_T);
        l->out = exec_own(e, rows * l->w, sizeof(float));
        l->dout = exec_own(e, rows * l->w, sizeof(float));
        if (e->oom)
            return -1;
    }
    const ExecLayerOps *ops = exec_layer_ops(L->kind);
    return ops->setup ? ops->setup(e, l, state_off, d) : 0;
}
