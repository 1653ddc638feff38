/* onnx_cell: a user cell (its IR cell graph, ops.def's ops) as an ONNX Scan (see onnx_int.h).
 *
 * Every node that does not depend on the state (IrNode.uses_state false) is computed outside
 * the loop for the whole window at once ([T, B, w]: the W @ x terms are hoisted); the Scan's
 * body computes the rest per step on [B, w] values, reading the hoisted values as scan inputs
 * and the parameters and constants from the outer graph. The ONNX op of each cell op is
 * cell_ops[] below (elementwise ops broadcast the same way on both sides). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/onnx_int.h"

/* The ONNX op of each op: ops.def's ONNX column (NULL: a leaf, handled by the passes, or none).
 * An op without one is refused by name at export. */
static const char *const cell_ops[IR_OP_COUNT] = {
#define IR_OP(name, spelling, arity, shape, call, fwd, bwd, onnx) [IR_OP_##name] = onnx,
#include "ir/ops.def"
#undef IR_OP
};

/* How the constant scalars of a BOUNDED op (inputs 1.. of its node: clip's bounds, leakyrelu's
 * alpha) reach its ONNX op, a fact of ONNX's operator schemas: as the attributes named here,
 * or, for an ONNX op not listed (Clip since opset 11: min, max), as scalar inputs. */
static const struct {
    const char *op;
    const char *attrs[2];
} onnx_consts[] = {
    {"HardSigmoid", {"alpha", "beta"}}, {"LeakyRelu", {"alpha"}},
    {"ThresholdedRelu", {"alpha"}},     {"Elu", {"alpha"}},
};

/* The attribute names of ONNX op `op`'s constants, or NULL: they are inputs. */
static const char *const *const_attrs(const char *op)
{
    for (size_t i = 0; i < sizeof onnx_consts / sizeof *onnx_consts; i++)
        if (strcmp(onnx_consts[i].op, op) == 0)
            return onnx_consts[i].attrs;
    return NULL;
}

typedef struct CellEx {
    Ex *x;
    const IrLayer *l;
    const IrCell *c;
    const char **outer;     /* outer[i]: node i's value in the main graph ([T, B, w]) */
    const char **inner;     /* inner[i]: node i's value in the body ([B, w]) */
    const char *label;
} CellEx;

/* The outer initializer of a PARAM node: a matrix transposed ([cols, rows], for v @ W^T), a
 * vector as is. */
static const char *param_value(CellEx *ce, const IrNode *nd)
{
    const IrParam *p = &ce->c->params[nd->aux];
    const IrTensor *t = &ce->x->ir->tensors[p->tensor];
    const float *w = ce->x->m->params + ce->x->off[p->tensor];
    if (p->rows == 0)
        return onnx_b_init_float(&ce->x->b, t->name, 1, (int64_t[]){p->cols}, w);
    float *wt = malloc(sizeof *wt * (size_t)p->rows * (size_t)p->cols);
    if (!wt) {
        ce->x->b.oom = true;
        return NULL;
    }
    for (int i = 0; i < p->rows; i++)
        for (int j = 0; j < p->cols; j++)
            wt[(size_t)j * p->rows + i] = w[(size_t)i * p->cols + j];
    char name[300];
    snprintf(name, sizeof name, "%s_t", t->name);
    const char *v = onnx_b_init_float(&ce->x->b, name, 2, (int64_t[]){p->cols, p->rows}, wt);
    free(wt);
    return v;
}

/* Node i on builder b with its inputs' values in[] (already mapped); NULL when the op has no
 * ONNX form. */
static const char *emit_node(CellEx *ce, OnnxBuilder *b, int i, const char *const *in)
{
    const IrNode *nd = &ce->c->nodes[i];
    const char *op = cell_ops[nd->op];
    char name[300];
    if (!op)
        return NULL;
    if (nd->op == IR_OP_MATVEC)   /* W @ v = v @ W^T on row vectors */
        return ex_node2(b, op, ce->label, in[1], in[0]);
    if (nd->op == IR_OP_SLICE) {  /* elements [aux, aux + width) of the last axis */
        const char *sl[4] = {in[0]};
        const int64_t v[3] = {nd->aux, nd->aux + nd->width, -1};
        for (int k = 0; k < 3; k++) {
            snprintf(name, sizeof name, "%s.slice%d.%s", ce->label, i,
                     k == 0 ? "starts" : k == 1 ? "ends" : "axes");
            sl[k + 1] = onnx_b_init_int64(&ce->x->b, name, 1, (int64_t[]){1}, &v[k]);
        }
        snprintf(name, sizeof name, "%s/Slice_%d", ce->label, b->serial++);
        return onnx_b_out(onnx_b_node(b, op, name, sl, 4, NULL, 1), 0);
    }
    snprintf(name, sizeof name, "%s/%s_%d", ce->label, op, b->serial++);
    const char *const *attrs = ir_op_shape[nd->op] == IR_SHAPE_BOUNDED ? const_attrs(op) : NULL;
    Onnx__NodeProto *n = onnx_b_node(b, op, name, in, attrs ? 1 : nd->nin, NULL, 1);
    if (nd->op == IR_OP_CONCAT)
        onnx_b_attr_int(b, n, "axis", -1);
    for (int k = 1; attrs && k < nd->nin && k <= 2 && attrs[k - 1]; k++)
        onnx_b_attr_float(b, n, attrs[k - 1], (float)ce->c->nodes[nd->in[k]].value);
    return onnx_b_out(n, 0);
}

/* Whether node j is a leaf of the outer graph read directly from the body (PARAM, CONST). */
static bool is_leaf(const IrNode *nd)
{
    return nd->op == IR_OP_PARAM || nd->op == IR_OP_CONST;
}

/* Whether node j lives in the body (reads the state, or is one). */
static bool in_body(const IrNode *nd)
{
    return nd->op == IR_OP_STATE || (nd->uses_state && !is_leaf(nd));
}

/* The outer pass: leaves, the input, and every state-independent node for all steps. */
static int emit_outer(CellEx *ce, const char *in)
{
    const IrCell *c = ce->c;
    char name[300];
    bool *used = calloc((size_t)c->nnodes + 1, sizeof *used);   /* folded constants are not */
    if (!used)
        return ce->x->b.oom = true, -1;
    for (int i = 0; i < c->nnodes; i++)
        for (int k = 0; k < c->nodes[i].nin; k++)
            used[c->nodes[i].in[k]] = true;
    for (int k = 0; k < c->nstates; k++)
        used[c->states[k].next] = true;
    used[c->output] = true;
    for (int i = 0; i < c->nnodes; i++) {
        const IrNode *nd = &c->nodes[i];
        const char *ins[32];
        if (!used[i])
            continue;
        if (nd->op == IR_OP_INPUT) {
            ce->outer[i] = in;
        } else if (nd->op == IR_OP_PARAM) {
            ce->outer[i] = param_value(ce, nd);
        } else if (nd->op == IR_OP_CONST) {
            snprintf(name, sizeof name, "%s.const%d", ce->label, i);
            float v = (float)nd->value;
            ce->outer[i] = onnx_b_init_float(&ce->x->b, name, 0, NULL, &v);
        } else if (!in_body(nd)) {
            if (nd->nin > 32) {
                free(used);
                return ex_refuse(ce->x, ce->l, "a cell op with more than 32 inputs");
            }
            for (int k = 0; k < nd->nin; k++)
                ins[k] = ce->outer[nd->in[k]];
            if (!(ce->outer[i] = emit_node(ce, &ce->x->b, i, ins)))
                goto no_form;
        }
        continue;
no_form:
        free(used);
        snprintf(name, sizeof name, "its cell op '%s' has no ONNX form", ir_op_spelling[nd->op]);
        return ex_refuse(ce->x, ce->l, name);
    }
    free(used);
    return 0;
}

/* The value node j has where the body reads it. */
static const char *body_value(const CellEx *ce, int j)
{
    return is_leaf(&ce->c->nodes[j]) ? ce->outer[j] : ce->inner[j];
}

/* The body: state inputs, scan inputs (the hoisted values it reads; their outer names go to
 * scan_in[*nscan]), the per-step nodes, and outputs next states and the cell's output. */
static int emit_body(CellEx *ce, OnnxBuilder *body, const char **scan_in, int *nscan)
{
    const IrCell *c = ce->c;
    char name[300];
    const char *const BW[] = {"B", ""};
    bool *need = calloc((size_t)c->nnodes + 1, sizeof *need);
    if (!need)
        return ce->x->b.oom = true, -1;
    for (int i = 0; i < c->nnodes; i++)
        for (int k = 0; in_body(&c->nodes[i]) && c->nodes[i].op != IR_OP_STATE &&
                        k < c->nodes[i].nin; k++)
            need[c->nodes[i].in[k]] = true;
    for (int k = 0; k < c->nstates; k++)
        need[c->states[k].next] = true;
    need[c->output] = true;
    for (int k = 0; k < c->nstates; k++) {
        snprintf(name, sizeof name, "%s.%s_prev", ce->label, c->states[k].name);
        onnx_b_input(body, name, ONNX_FLOAT, 2, (int64_t[]){-1, c->states[k].width}, BW);
        for (int i = 0; i < c->nnodes; i++)
            if (c->nodes[i].op == IR_OP_STATE && c->nodes[i].aux == k)
                ce->inner[i] = body->inputs[body->ninputs - 1]->name;
    }
    *nscan = 0;
    for (int j = 0; j < c->nnodes; j++) {
        const IrNode *nd = &c->nodes[j];
        if (!need[j] || in_body(nd) || is_leaf(nd))
            continue;
        snprintf(name, sizeof name, "%s.n%d_t", ce->label, j);
        onnx_b_input(body, name, ONNX_FLOAT, 2, (int64_t[]){-1, nd->width}, BW);
        ce->inner[j] = body->inputs[body->ninputs - 1]->name;
        scan_in[(*nscan)++] = ce->outer[j];
    }
    free(need);
    for (int i = 0; i < c->nnodes; i++) {
        const IrNode *nd = &c->nodes[i];
        const char *ins[32];
        if (!in_body(nd) || nd->op == IR_OP_STATE)
            continue;
        for (int k = 0; k < nd->nin && k < 32; k++)
            ins[k] = body_value(ce, nd->in[k]);
        if (!(ce->inner[i] = emit_node(ce, body, i, ins))) {
            snprintf(name, sizeof name, "its cell op '%s' has no ONNX form",
                     ir_op_spelling[nd->op]);
            return ex_refuse(ce->x, ce->l, name);
        }
    }
    for (int k = 0; k <= c->nstates; k++) {
        int j = k < c->nstates ? c->states[k].next : c->output;
        snprintf(name, sizeof name, "%s.%s_%s", ce->label,
                 k < c->nstates ? c->states[k].name : "output", k < c->nstates ? "next" : "t");
        const char *src = body_value(ce, j);
        onnx_b_node(body, "Identity", name, &src, 1, (const char *[]){name}, 1);
        onnx_b_output(body, name, ONNX_FLOAT, 2, (int64_t[]){-1, c->nodes[j].width}, BW);
    }
    return 0;
}

/* Zero initial states [B, width] for every state, B read from in's shape. */
static void emit_zeros(CellEx *ce, const char *in, const char **zeros)
{
    OnnxBuilder *b = &ce->x->b;
    char name[300];
    const char *shape = ex_node1(b, "Shape", ce->label, in);
    snprintf(name, sizeof name, "%s.batch_axis", ce->label);
    const char *bax = onnx_b_init_int64(b, name, 1, (int64_t[]){1}, (int64_t[]){1});
    const char *bdim = ex_node2(b, "Gather", ce->label, shape, bax);
    snprintf(name, sizeof name, "%s.zero", ce->label);
    const char *zero = onnx_b_init_float(b, name, 0, NULL, (float[]){0});
    for (int k = 0; k < ce->c->nstates; k++) {
        snprintf(name, sizeof name, "%s.%s_width", ce->label, ce->c->states[k].name);
        const char *w = onnx_b_init_int64(b, name, 1, (int64_t[]){1},
                                          (int64_t[]){ce->c->states[k].width});
        snprintf(name, sizeof name, "%s/Concat_%d", ce->label, b->serial++);
        Onnx__NodeProto *n = onnx_b_node(b, "Concat", name, (const char *[]){bdim, w}, 2,
                                         NULL, 1);
        onnx_b_attr_int(b, n, "axis", 0);
        zeros[k] = ex_node2(b, "Expand", ce->label, zero, onnx_b_out(n, 0));
    }
}

/* Emits the Scan of cell c (see onnx_int.h). */
static int emit_scan(CellEx *ce, const char *in, const char *const *init, const char **out,
                     const char **final)
{
    Ex *x = ce->x;
    const IrCell *c = ce->c;
    if (emit_outer(ce, in))
        return -1;
    const char *ins[64];
    if (c->nstates > 16 || c->nnodes > 48)
        return ex_refuse(x, ce->l, "a cell with more than 16 states or 48 values for a Scan");
    if (init)
        for (int k = 0; k < c->nstates; k++)
            ins[k] = init[k];
    else
        emit_zeros(ce, in, ins);
    OnnxBuilder body;
    int nscan;
    onnx_b_sub(&body, &x->b);
    if (emit_body(ce, &body, ins + c->nstates, &nscan))
        return -1;
    if (nscan == 0)
        return ex_refuse(x, ce->l, "its cell does not read its input");
    x->b.serial = body.serial > x->b.serial ? body.serial : x->b.serial;
    char name[300];
    snprintf(name, sizeof name, "%s/Scan", ce->label);
    Onnx__NodeProto *n = onnx_b_node(&x->b, "Scan", name, ins, c->nstates + nscan, NULL,
                                     c->nstates + 1);
    onnx_b_attr_graph(&x->b, n, "body", &body, name);
    onnx_b_attr_int(&x->b, n, "num_scan_inputs", nscan);
    if (c->reverse) {   /* run from the last step, outputs stay aligned with the steps */
        int64_t ones[64];
        for (int k = 0; k < nscan; k++)
            ones[k] = 1;
        onnx_b_attr_ints(&x->b, n, "scan_input_directions", ones, nscan);
        onnx_b_attr_ints(&x->b, n, "scan_output_directions", ones, 1);
    }
    *out = onnx_b_out(n, c->nstates);
    for (int k = 0; final && k < c->nstates; k++)
        final[k] = onnx_b_out(n, k);
    return 0;
}

int ex_user_cell(Ex *x, const IrLayer *l, const IrCell *c, const char *in,
                 const char *const *init, const char **out, const char **final)
{
    char label[256];
    int idx = (int)(c - l->cells), dirs = l->bidirectional ? 2 : 1;
    snprintf(label, sizeof label, "%s.l%d%s", l->label, idx / dirs,
             c->reverse ? "_reverse" : "");
    CellEx ce = {x, l, c, calloc((size_t)c->nnodes + 1, sizeof(char *)),
                 calloc((size_t)c->nnodes + 1, sizeof(char *)), label};
    int rc = ce.outer && ce.inner ? emit_scan(&ce, in, init, out, final)
                                  : (diag_error_in(x->d, x->path, "out of memory"), -1);
    free(ce.outer);
    free(ce.inner);
    return rc;
}
