/* exec_layers: the table of executor hooks indexed by layer kind -- the one place the executor
 * names the kinds. Each row's code is in its layer_<kind>.c file (see layer_kinds.h). */
#include "exec/exec_int.h"
#include "exec/layer_kinds.h"

static const ExecLayerOps *const layer_ops[IR_LAYER_COUNT] = {
    [IR_LAYER_INPUT_TOKENS] = &layer_tokens_ops,
    [IR_LAYER_INPUT_VECTOR] = &layer_vector_ops,
    [IR_LAYER_EMBEDDING] = &layer_embedding_ops,
    [IR_LAYER_ONEHOT] = &layer_onehot_ops,
    [IR_LAYER_RECURRENT] = &layer_recurrent_ops,
    [IR_LAYER_DENSE] = &layer_dense_ops,
    [IR_LAYER_DROPOUT] = &layer_dropout_ops,
    [IR_LAYER_LAYERNORM] = &layer_layernorm_ops,
    [IR_LAYER_POOL] = &layer_pool_ops,
    [IR_LAYER_CONCAT] = &layer_concat_ops,
    [IR_LAYER_ADD] = &layer_add_ops,
    [IR_LAYER_SOFTMAX] = &layer_softmax_ops,
};

/* A kind outside the enum (or without a row): every hook NULL, so exec_forward reports it. */
static const ExecLayerOps no_ops = { NULL, NULL, NULL, NULL, NULL };

/* The hooks of kind k. */
const ExecLayerOps *exec_layer_ops(IrLayerKind k)
{
    return (unsigned)k < IR_LAYER_COUNT && layer_ops[k] ? layer_ops[k] : &no_ops;
}

/* Every layer's trace hook in layer order (kinds without one record nothing). */
int exec_trace(ExecModel *e, ExecTraceFn sink, void *ctx, Diag *d)
{
    if (!e->fwd_interp || !e->trace_tape) {
        diag_error_in(d, "trace", "the last forward did not run on the cell interpreter with "
                      "its full tape (exec_set_trace_tape)");
        return -1;
    }
    for (int i = 0; i < e->m->nlayers; i++) {
        const ExecLayerOps *ops = exec_layer_ops(e->lr[i].L->kind);
        int rc = ops->trace ? ops->trace(e, &e->lr[i], sink, ctx, d) : 0;
        if (rc)
            return rc;
    }
    return 0;
}
