/* onnx_state: the initial and final states of `recur convert X.ckpt X.onnx --states` (see
 * onnx_int.h). Each recurrent layer's state s is one graph input "<label>.<state>0" and one
 * graph output "final.<label>.<state>0", float [layers * directions, B, width], the tensors of
 * `recur run --state-in/--state-out` (src/model/states.c names them): rows level * directions +
 * direction, as PyTorch's h_0. The exporters of the layers take their rows from the input and
 * give back their final states, which are concatenated here. */
#include <stdio.h>

#include "model/onnx_int.h"
#include "model/states.h"

static const char *const STATE_DIMS[] = {"", "B", ""};

/* One graph input per state of l's cells, [cells, B, width] (see onnx_int.h). */
int ex_state_inputs(Ex *x, const IrLayer *l, const char **in)
{
    const IrCell *c = &l->cells[0];
    char name[300];
    for (int k = 0; k < c->nstates; k++) {
        model_state_name(l, k, NULL, name, sizeof name);
        onnx_b_input(&x->b, name, ONNX_FLOAT, 3,
                     (int64_t[]){l->ncells, -1, c->states[k].width}, STATE_DIMS);
        in[k] = x->b.oom ? NULL : x->b.inputs[x->b.ninputs - 1]->name;
    }
    return x->b.oom ? -1 : 0;
}

/* Gather of rows [from, from + n) of v, or of row `from` alone (n = 0), on axis 0. */
const char *ex_state_rows(Ex *x, const char *label, const char *v, int from, int n)
{
    char name[300];
    int64_t idx[2] = {from, from + 1};
    snprintf(name, sizeof name, "%s.rows_%d", label, x->b.serial++);
    const char *i = n ? onnx_b_init_int64(&x->b, name, 1, (int64_t[]){n}, idx)
                      : onnx_b_init_int64(&x->b, name, 0, NULL, idx);
    return ex_node2(&x->b, "Gather", label, v, i);
}

/* Unsqueeze of v on axis 0 ([B, w] -> [1, B, w]; the axes are an input since opset 13). */
const char *ex_state_row_axis(Ex *x, const char *label, const char *v)
{
    char name[300];
    snprintf(name, sizeof name, "%s.axis0_%d", label, x->b.serial++);
    const char *axes = onnx_b_init_int64(&x->b, name, 1, (int64_t[]){1}, (int64_t[]){0});
    return ex_node2(&x->b, "Unsqueeze", label, v, axes);
}

/* The final-state output of l's state k from its rows' parts (see onnx_int.h). */
void ex_state_output(Ex *x, const IrLayer *l, int k, const char *const *parts, int nparts)
{
    char name[300], node[300];
    const char *all = parts[0];
    if (nparts > 1) {
        snprintf(node, sizeof node, "%s/Concat_%d", l->label, x->b.serial++);
        Onnx__NodeProto *n = onnx_b_node(&x->b, "Concat", node, parts, nparts, NULL, 1);
        onnx_b_attr_int(&x->b, n, "axis", 0);
        all = onnx_b_out(n, 0);
    }
    model_state_name(l, k, "final.", name, sizeof name);
    snprintf(node, sizeof node, "%s/final_%d", l->label, k);
    onnx_b_node(&x->b, "Identity", node, &all, 1, (const char *[]){name}, 1);
    onnx_b_output(&x->b, name, ONNX_FLOAT, 3,
                  (int64_t[]){l->ncells, -1, l->cells[0].states[k].width}, STATE_DIMS);
}
