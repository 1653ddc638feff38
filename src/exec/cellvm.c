/* cellvm: forward and reverse-mode backward of IrCell graphs over a window (see cellvm.h).
 *
 * Every node other than a PARAM owns two tape buffers of [max_T][B][width] floats: its values and
 * its gradients, time-major, so "rows" r = t*B + b index a (step, example) pair and a block of
 * rows is a contiguous matrix. Each op has one forward and one backward function over a range of
 * rows, collected in one table indexed by IrOpKind (the X-macro list of ops.def). */
#include "exec/cellvm.h"
#include "ir/op_math.h"

#include "exec/kernels.h"
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct CellVm {
    const IrCell *c;
    int B, max_T, T;        /* T: steps of the recorded window (0: none yet) */
    float **val, **grad;    /* per node: [max_T][B][width] tapes (NULL for PARAM nodes) */
    bool *dep;              /* per node: depends on a state (recomputed) */
    int *state_off;         /* per state: offset in a state block */
    int state_floats;
    const float *const *params; /* the forward's param pointers (kept for backward) */
    float *const *dparams;      /* set during backward */
    const float *x;         /* the forward's input, [T][B][I] */
    const int32_t *len;     /* per example: valid steps (cellvm_set_lengths), or NULL */
};

/* An operand seen as a matrix over rows: element (r, j) is p[r*rs + j*cs]. rs = 0 broadcasts a
 * param vector over the rows, cs = 0 broadcasts a width-1 value (a scalar) over the columns. */
typedef struct Opnd {
    float *p;
    int rs, cs;
} Opnd;

/* Width of node n as an elementwise operand. */
static int node_width(const CellVm *vm, int n) { return vm->c->nodes[n].width; }

/* The value (grad = false) or gradient (grad = true) of input k of node n, starting at row r0,
 * broadcast to the node's width. p is NULL when there is no gradient to accumulate (a CONST, or
 * a param whose gradient the caller did not ask for). */
static Opnd operand(const CellVm *vm, int n, int k, int r0, bool grad)
{
    const IrNode *nd = &vm->c->nodes[n];
    int i = nd->in[k];
    const IrNode *in = &vm->c->nodes[i];
    Opnd o;
    o.cs = (in->width == 1 && nd->width > 1) ? 0 : 1;
    if (in->op == IR_OP_PARAM) {
        o.rs = 0;
        o.p = grad ? (vm->dparams ? vm->dparams[in->aux] : NULL)
                   : (float *)vm->params[in->aux];
        return o;
    }
    o.rs = in->width;
    if (grad && in->op == IR_OP_CONST)
        o.p = NULL;
    else
        o.p = (grad ? vm->grad[i] : vm->val[i]) + (size_t)r0 * in->width;
    return o;
}

#define AT(o, r, j) ((o).p[(size_t)(r) * (o).rs + (size_t)(j) * (o).cs])

/* ---- leaves ------------------------------------------------------------------------------ */

/* INPUT: copies x rows into the tape. */
static void kern_input(CellVm *vm, int n, int r0, int nr)
{
    int w = node_width(vm, n);
    memcpy(vm->val[n] + (size_t)r0 * w, vm->x + (size_t)r0 * w, sizeof(float) * nr * w);
}

/* CONST: fills the rows with the constant. */
static void kern_constant(CellVm *vm, int n, int r0, int nr)
{
    int w = node_width(vm, n);
    float v = (float)vm->c->nodes[n].value;
    float *o = vm->val[n] + (size_t)r0 * w;
    for (size_t i = 0; i < (size_t)nr * w; i++)
        o[i] = v;
}

/* Nothing per row: the backward of every leaf, and the forward of PARAM and STATE (params are
 * read in place; states are copied by the step loop). */
static void kern_none(CellVm *vm, int n, int r0, int nr) { (void)vm; (void)n; (void)r0; (void)nr; }

/* ---- W @ v --------------------------------------------------------------------------------- */

/* y[r] = W v[r] for rows r0..r0+nr: Y [nr][m] = V [nr][k] W^T, W [m][k]; one GEMM. */
static void kern_matvec(CellVm *vm, int n, int r0, int nr)
{
    const IrNode *nd = &vm->c->nodes[n];
    int m = nd->width, k = node_width(vm, nd->in[1]);
    const float *W = vm->params[vm->c->nodes[nd->in[0]].aux];
    const float *V = vm->val[nd->in[1]] + (size_t)r0 * k;
    kern_sgemm(false, true, nr, m, k, 1.0f, V, k, W, k, 0.0f, vm->val[n] + (size_t)r0 * m, m);
}

/* dv[r] += W^T dy[r]: dV [nr][k] += dY [nr][m] W [m][k]. The weight gradient dW += dY^T V is
 * done once over the whole window at the end of cellvm_backward. */
static void kern_matvec_grad(CellVm *vm, int n, int r0, int nr)
{
    const IrNode *nd = &vm->c->nodes[n];
    int m = nd->width, k = node_width(vm, nd->in[1]);
    const float *W = vm->params[vm->c->nodes[nd->in[0]].aux];
    kern_sgemm(false, false, nr, k, m, 1.0f, vm->grad[n] + (size_t)r0 * m, m, W, k, 1.0f,
               vm->grad[nd->in[1]] + (size_t)r0 * k, k);
}

/* ---- elementwise ops: loops around the scalar math of ir/op_math.h --------------------------
 * Each template below makes the two row kernels kern_<FWD> and kern_<BWD> of one ops.def row
 * of its shape: y = op_<FWD>_f(...) over the node's width, and the backward accumulating
 * op_<BWD>_f(d, ...) into each input's gradient. Operands broadcast as described at Opnd. */

/* One-input ops: y = f(x, EXTRA); dx += d df/dx. DECL declares what EXTRA names (for BOUNDED
 * ops, the bounds); for UNARY ops both are empty. */
#define ONE_INPUT_KERNELS(FWD, BWD, DECL, EXTRA)                                    \
    static void kern_##FWD(CellVm *vm, int n, int r0, int nr)                       \
    {                                                                               \
        int w = node_width(vm, n);                                                  \
        DECL                                                                        \
        Opnd X = operand(vm, n, 0, r0, false);                                      \
        float *o = vm->val[n] + (size_t)r0 * w;                                     \
        for (int r = 0; r < nr; r++)                                                \
            for (int j = 0; j < w; j++)                                             \
                o[(size_t)r * w + j] = op_##FWD##_f(AT(X, r, j) EXTRA);             \
    }                                                                               \
    static void kern_##BWD(CellVm *vm, int n, int r0, int nr)                       \
    {                                                                               \
        int w = node_width(vm, n);                                                  \
        DECL                                                                        \
        Opnd X = operand(vm, n, 0, r0, false), gX = operand(vm, n, 0, r0, true);    \
        if (!gX.p)                                                                  \
            return;                                                                 \
        const float *g = vm->grad[n] + (size_t)r0 * w;                              \
        const float *o = vm->val[n] + (size_t)r0 * w;                               \
        for (int r = 0; r < nr; r++)                                                \
            for (int j = 0; j < w; j++) {                                           \
                size_t i = (size_t)r * w + j;                                       \
                AT(gX, r, j) += op_##BWD##_f(g[i], AT(X, r, j) EXTRA, o[i]);        \
            }                                                                       \
    }

/* UNARY: y = f(v); dv += d f'(v). */
#define NO_DECL
#define NO_EXTRA
#define UNARY_KERNELS(FWD, BWD) ONE_INPUT_KERNELS(FWD, BWD, NO_DECL, NO_EXTRA)

/* BINARY: y = f(a, b); da += d df/da, db += d df/db (a scalar side broadcasts). */
#define BINARY_KERNELS(FWD, BWD)                                                    \
    static void kern_##FWD(CellVm *vm, int n, int r0, int nr)                       \
    {                                                                               \
        int w = node_width(vm, n);                                                  \
        Opnd A = operand(vm, n, 0, r0, false), Bo = operand(vm, n, 1, r0, false);   \
        float *o = vm->val[n] + (size_t)r0 * w;                                     \
        for (int r = 0; r < nr; r++)                                                \
            for (int j = 0; j < w; j++)                                             \
                o[(size_t)r * w + j] = op_##FWD##_f(AT(A, r, j), AT(Bo, r, j));     \
    }                                                                               \
    static void kern_##BWD(CellVm *vm, int n, int r0, int nr)                       \
    {                                                                               \
        int w = node_width(vm, n);                                                  \
        Opnd A = operand(vm, n, 0, r0, false), Bo = operand(vm, n, 1, r0, false);   \
        Opnd gA = operand(vm, n, 0, r0, true), gB = operand(vm, n, 1, r0, true);    \
        const float *g = vm->grad[n] + (size_t)r0 * w;                              \
        const float *o = vm->val[n] + (size_t)r0 * w;                               \
        for (int r = 0; r < nr; r++)                                                \
            for (int j = 0; j < w; j++) {                                           \
                size_t i = (size_t)r * w + j;                                       \
                float da, db;                                                       \
                op_##BWD##_f(g[i], AT(A, r, j), AT(Bo, r, j), o[i], &da, &db);      \
                if (gA.p) AT(gA, r, j) += da;                                       \
                if (gB.p) AT(gB, r, j) += db;                                       \
            }                                                                       \
    }

/* BOUNDED: y = f(x, lo, hi) with constant scalar parameters (CONST nodes, checked by
 * check_cell; hi is 0 for a one-parameter op); dx += d df/dx. The parameters get no gradient. */
#define BOUNDS_DECL                                                                 \
    const IrNode *nd = &vm->c->nodes[n];                                            \
    float lo = (float)vm->c->nodes[nd->in[1]].value;                                \
    float hi = nd->nin > 2 ? (float)vm->c->nodes[nd->in[2]].value : 0.0f;
#define BOUNDS_EXTRA , lo, hi
#define BOUNDED_KERNELS(FWD, BWD) ONE_INPUT_KERNELS(FWD, BWD, BOUNDS_DECL, BOUNDS_EXTRA)

/* The other shapes have hand-written kernels (above and below). */
#define LEAF_KERNELS(FWD, BWD)
#define MATVEC_KERNELS(FWD, BWD)
#define CONCAT_KERNELS(FWD, BWD)
#define SLICE_KERNELS(FWD, BWD)

/* One pair of kernels per elementwise row of ops.def. */
#define IR_OP(name, spelling, arity, shape, call, fwd, bwd, onnx) shape##_KERNELS(fwd, bwd)
#include "ir/ops.def"
#undef IR_OP

/* ---- concat and slice ------------------------------------------------------------------ */

/* y = [a, b, ...]: each input's columns land at a running offset. */
static void kern_concat(CellVm *vm, int n, int r0, int nr)
{
    const IrNode *nd = &vm->c->nodes[n];
    int w = nd->width, off = 0;
    float *o = vm->val[n] + (size_t)r0 * w;
    for (int k = 0; k < nd->nin; k++) {
        int wk = vm->c->nodes[nd->in[k]].width;
        Opnd A = operand(vm, n, k, r0, false);
        A.cs = 1;
        for (int r = 0; r < nr; r++)
            for (int j = 0; j < wk; j++)
                o[(size_t)r * w + off + j] = AT(A, r, j);
        off += wk;
    }
}

/* d input_k += the matching columns of d y. */
static void kern_concat_grad(CellVm *vm, int n, int r0, int nr)
{
    const IrNode *nd = &vm->c->nodes[n];
    int w = nd->width, off = 0;
    const float *g = vm->grad[n] + (size_t)r0 * w;
    for (int k = 0; k < nd->nin; k++) {
        int wk = vm->c->nodes[nd->in[k]].width;
        Opnd gA = operand(vm, n, k, r0, true);
        gA.cs = 1;
        if (gA.p)
            for (int r = 0; r < nr; r++)
                for (int j = 0; j < wk; j++)
                    AT(gA, r, j) += g[(size_t)r * w + off + j];
        off += wk;
    }
}

/* y = v[aux .. aux + width) (one part of chunk). */
static void kern_slice(CellVm *vm, int n, int r0, int nr)
{
    const IrNode *nd = &vm->c->nodes[n];
    int w = nd->width;
    Opnd A = operand(vm, n, 0, r0, false);
    A.cs = 1;
    float *o = vm->val[n] + (size_t)r0 * w;
    for (int r = 0; r < nr; r++)
        for (int j = 0; j < w; j++)
            o[(size_t)r * w + j] = AT(A, r, nd->aux + j);
}

/* d v[aux + j] += d y[j]. */
static void kern_slice_grad(CellVm *vm, int n, int r0, int nr)
{
    const IrNode *nd = &vm->c->nodes[n];
    int w = nd->width;
    Opnd gA = operand(vm, n, 0, r0, true);
    gA.cs = 1;
    if (!gA.p)
        return;
    const float *g = vm->grad[n] + (size_t)r0 * w;
    for (int r = 0; r < nr; r++)
        for (int j = 0; j < w; j++)
            AT(gA, r, nd->aux + j) += g[(size_t)r * w + j];
}

/* ---- the op tables, from ops.def ---------------------------------------------------------- */

typedef void (*OpFn)(CellVm *vm, int n, int r0, int nr);

static const OpFn op_fwd[IR_OP_COUNT] = {
#define IR_OP(name, spelling, arity, shape, call, fwd, bwd, onnx) [IR_OP_##name] = kern_##fwd,
#include "ir/ops.def"
#undef IR_OP
};

static const OpFn op_bwd[IR_OP_COUNT] = {
#define IR_OP(name, spelling, arity, shape, call, fwd, bwd, onnx) [IR_OP_##name] = kern_##bwd,
#include "ir/ops.def"
#undef IR_OP
};

/* Arity and shape rule of each op straight from ops.def (so this library does not need src/ir
 * linked). */
static const int op_arity[IR_OP_COUNT] = {
#define IR_OP(name, spelling, arity, shape, call, fwd, bwd, onnx) [IR_OP_##name] = arity,
#include "ir/ops.def"
#undef IR_OP
};

static const IrOpShape op_shape[IR_OP_COUNT] = {
#define IR_OP(name, spelling, arity, shape, call, fwd, bwd, onnx) [IR_OP_##name] = IR_SHAPE_##shape,
#include "ir/ops.def"
#undef IR_OP
};

/* ---- checking a cell ---------------------------------------------------------------------- */

/* Reports a malformed cell; the IR comes from sema, so this is an internal error in practice. */
static int bad(Diag *d, const IrCell *c, int n, const char *what)
{
    diag_error_in(d, c->name ? c->name : "cell", "node %d: %s", n, what);
    return -1;
}

/* Checks a leaf's payload (the input's width, state and param references, a constant's
 * width); returns what is wrong, or NULL. */
static const char *leaf_error(const IrCell *c, const IrNode *nd)
{
    switch (nd->op) {
    case IR_OP_INPUT:
        return nd->width != c->input_width ? "input width differs from the cell's" : NULL;
    case IR_OP_STATE:
        if (nd->aux < 0 || nd->aux >= c->nstates || c->states[nd->aux].width != nd->width)
            return "bad state reference";
        return NULL;
    case IR_OP_PARAM:
        if (nd->aux < 0 || nd->aux >= c->nparams || c->params[nd->aux].cols != nd->width ||
            c->params[nd->aux].rows != nd->rows)
            return "bad param reference";
        return NULL;
    default: /* CONST */
        return nd->width != 1 ? "a constant must have width 1" : NULL;
    }
}

/* Checks node n against its op's shape rule (ops.def's SHAPE column). */
static int check_shape(const IrCell *c, int n, Diag *d)
{
    const IrNode *nd = &c->nodes[n];
    const char *leaf;
    int wsum = 0;
    switch (op_shape[nd->op]) {
    case IR_SHAPE_LEAF:
        leaf = leaf_error(c, nd);
        return leaf ? bad(d, c, n, leaf) : 0;
    case IR_SHAPE_MATVEC: {
        const IrNode *W = &c->nodes[nd->in[0]], *v = &c->nodes[nd->in[1]];
        if (W->op != IR_OP_PARAM || W->rows != nd->width || W->width != v->width ||
            v->op == IR_OP_PARAM)
            return bad(d, c, n, "'@' needs a [m, n] param times an [n] value");
        return 0;
    }
    case IR_SHAPE_CONCAT:
        for (int k = 0; k < nd->nin; k++)
            wsum += c->nodes[nd->in[k]].width;
        return wsum == nd->width ? 0 : bad(d, c, n, "concat width is not the sum of its inputs");
    case IR_SHAPE_SLICE:
        if (nd->aux < 0 || nd->aux + nd->width > c->nodes[nd->in[0]].width)
            return bad(d, c, n, "slice out of range");
        return 0;
    case IR_SHAPE_BOUNDED:
        for (int k = 1; k < nd->nin; k++)
            if (c->nodes[nd->in[k]].op != IR_OP_CONST)
                return bad(d, c, n, "the bounds must be constants");
        break;
    case IR_SHAPE_UNARY:
    case IR_SHAPE_BINARY:
        break;
    }
    /* elementwise: each operand has the node's width or is broadcast (width 1) */
    for (int k = 0; k < nd->nin; k++) {
        int wk = c->nodes[nd->in[k]].width;
        if (wk != nd->width && wk != 1)
            return bad(d, c, n, "elementwise operands must have equal widths");
    }
    return 0;
}

/* Checks every node's arity, input indices and widths against the rules of ops.def, so the
 * kernels above can index without further checks. */
static int check_cell(const IrCell *c, Diag *d)
{
    if (c->nnodes <= 0 || c->output < 0 || c->output >= c->nnodes)
        return bad(d, c, c->output, "the cell has no valid output node");
    if (c->input_width <= 0)
        return bad(d, c, -1, "input width must be positive");
    for (int n = 0; n < c->nnodes; n++) {
        const IrNode *nd = &c->nodes[n];
        if ((unsigned)nd->op >= IR_OP_COUNT)
            return bad(d, c, n, "unknown op");
        int ar = op_arity[nd->op];
        if ((ar >= 0 && nd->nin != ar) || (ar < 0 && nd->nin < 1))
            return bad(d, c, n, "wrong number of inputs");
        if (nd->width <= 0)
            return bad(d, c, n, "width must be positive");
        if (nd->op != IR_OP_PARAM && nd->rows != 0)
            return bad(d, c, n, "only params may be matrices");
        for (int k = 0; k < nd->nin; k++) {
            if (nd->in[k] < 0 || nd->in[k] >= n)
                return bad(d, c, n, "input index is not an earlier node");
            const IrNode *in = &c->nodes[nd->in[k]];
            if (in->op == IR_OP_PARAM && in->rows > 0 && !(nd->op == IR_OP_MATVEC && k == 0))
                return bad(d, c, n, "a matrix param is used as a vector");
        }
        if (check_shape(c, n, d))
            return -1;
    }
    for (int s = 0; s < c->nstates; s++) {
        int nx = c->states[s].next;
        if (nx < 0 || nx >= c->nnodes || c->nodes[nx].width != c->states[s].width ||
            c->nodes[nx].op == IR_OP_PARAM || c->nodes[nx].op == IR_OP_CONST)
            return bad(d, c, nx, "state's next value is not a node of the state's width");
    }
    if (c->nodes[c->output].op == IR_OP_PARAM)
        return bad(d, c, c->output, "the output cannot be a param");
    return 0;
}

/* ---- lifecycle --------------------------------------------------------------------------- */

CellVm *cellvm_create(const IrCell *c, int batch, int max_T, Diag *d)
{
    if (batch <= 0 || max_T <= 0) {
        diag_error_in(d, c->name ? c->name : "cell", "batch and window must be positive");
        return NULL;
    }
    if (check_cell(c, d))
        return NULL;
    CellVm *vm = calloc(1, sizeof *vm);
    if (!vm)
        goto oom;
    vm->c = c;
    vm->B = batch;
    vm->max_T = max_T;
    vm->val = calloc(c->nnodes, sizeof *vm->val);
    vm->grad = calloc(c->nnodes, sizeof *vm->grad);
    vm->dep = calloc(c->nnodes, sizeof *vm->dep);
    vm->state_off = calloc(c->nstates + 1, sizeof *vm->state_off);
    if (!vm->val || !vm->grad || !vm->dep || !vm->state_off)
        goto oom;
    for (int n = 0; n < c->nnodes; n++) {
        const IrNode *nd = &c->nodes[n];
        vm->dep[n] = nd->op == IR_OP_STATE;
        for (int k = 0; k < nd->nin; k++)
            vm->dep[n] = vm->dep[n] || vm->dep[nd->in[k]];
        if (nd->op == IR_OP_PARAM)
            continue;
        size_t sz = (size_t)max_T * batch * nd->width;
        vm->val[n] = malloc(sizeof(float) * sz);
        vm->grad[n] = malloc(sizeof(float) * sz);
        if (!vm->val[n] || !vm->grad[n])
            goto oom;
    }
    for (int s = 0; s < c->nstates; s++)
        vm->state_off[s + 1] = vm->state_off[s] + batch * c->states[s].width;
    vm->state_floats = vm->state_off[c->nstates];
    return vm;
oom:
    diag_error_in(d, c->name ? c->name : "cell", "out of memory for the cell interpreter");
    cellvm_free(vm);
    return NULL;
}

void cellvm_free(CellVm *vm)
{
    if (!vm)
        return;
    for (int n = 0; vm->val && n < vm->c->nnodes; n++) {
        free(vm->val[n]);
        free(vm->grad[n]);
    }
    free(vm->val);
    free(vm->grad);
    free(vm->dep);
    free(vm->state_off);
    free(vm);
}

int cellvm_output_width(const CellVm *vm) { return vm->c->nodes[vm->c->output].width; }
int cellvm_state_floats(const CellVm *vm) { return vm->state_floats; }
bool cellvm_hoisted(const CellVm *vm, int n) { return n >= 0 && n < vm->c->nnodes && !vm->dep[n]; }

/* ---- sequence lengths ------------------------------------------------------------------- */

void cellvm_set_lengths(CellVm *vm, const int32_t *lengths) { vm->len = lengths; }

/* Whether example b is past its length at time t (its state is held, its output zero). */
static bool masked(const CellVm *vm, int t, int b) { return vm->len && t >= vm->len[b]; }

/* Row b of state s at step t in a tape (vm->val or vm->grad). */
static float *state_row(float *const *tape, const CellVm *vm, int s, int t, int b)
{
    int w = vm->c->states[s].width;
    return tape[vm->c->states[s].next] + ((size_t)t * vm->B + b) * w;
}

/* Forward (grad false), after step t (previous processed step tp, -1 at the first): every
 * example past its length keeps its state, s_t = s_{t-1} (the initial state s0, or zeros,
 * before the first step). Backward (grad true): a held state's gradient goes unchanged to the
 * state it copied (the previous processed step tp's, or ds0 before the first), and nothing
 * flows into the step's nodes for that example. s0 is read forward, ds0 added to backward. */
static void hold_states(CellVm *vm, int t, int tp, bool grad, const float *s0, float *ds0)
{
    for (int b = 0; b < vm->B; b++) {
        if (!masked(vm, t, b))
            continue;
        for (int s = 0; s < vm->c->nstates; s++) {
            int w = vm->c->states[s].width;
            size_t at0 = (size_t)vm->state_off[s] + (size_t)b * w;
            if (!grad) {
                float *o = state_row(vm->val, vm, s, t, b);
                if (tp >= 0)
                    memcpy(o, state_row(vm->val, vm, s, tp, b), sizeof(float) * w);
                else if (s0)
                    memcpy(o, s0 + at0, sizeof(float) * w);
                else
                    memset(o, 0, sizeof(float) * w);
                continue;
            }
            float *g = state_row(vm->grad, vm, s, t, b);
            float *to = tp >= 0 ? state_row(vm->grad, vm, s, tp, b) : ds0 ? ds0 + at0 : NULL;
            for (int i = 0; i < w; i++) {
                if (to)
                    to[i] += g[i];
                g[i] = 0;
            }
        }
    }
}

/* Zeroes the rows of a [T][B][w] array that are past their example's length. */
static void zero_masked(const CellVm *vm, float *a, int w)
{
    for (int t = 0; vm->len && t < vm->T; t++)
        for (int b = 0; b < vm->B; b++)
            if (masked(vm, t, b))
                memset(a + ((size_t)t * vm->B + b) * w, 0, sizeof(float) * w);
}

/* The tape of node n (read-only view for tracing). */
const float *cellvm_node_values(const CellVm *vm, int n, int *T)
{
    if (!vm || n < 0 || n >= vm->c->nnodes || vm->T == 0)
        return NULL;
    *T = vm->T;
    return vm->val[n];
}

/* ---- forward ---------------------------------------------------------------------------- */

/* Step number k (0-based, in processing order) of the window as a time index. */
static int step_time(const CellVm *vm, int k) { return vm->c->reverse ? vm->T - 1 - k : k; }

int cellvm_forward(CellVm *vm, int T, const float *x, const float *const *params,
                   const float *s0, float *y, float *sT, Diag *d)
{
    const IrCell *c = vm->c;
    int B = vm->B;
    if (T <= 0 || T > vm->max_T) {
        diag_error_in(d, c->name, "window of %d steps, expected 1..%d", T, vm->max_T);
        return -1;
    }
    vm->T = T;
    vm->x = x;
    vm->params = params;
    /* Phase 1: everything that does not depend on a state, for the whole window (hoisting). */
    for (int n = 0; n < c->nnodes; n++)
        if (!vm->dep[n])
            op_fwd[c->nodes[n].op](vm, n, 0, T * B);
    /* Phase 2: the recurrence, one step at a time in processing order. */
    for (int k = 0; k < T; k++) {
        int t = step_time(vm, k), tp = k > 0 ? step_time(vm, k - 1) : -1;
        for (int n = 0; n < c->nnodes; n++) {
            if (!vm->dep[n])
                continue;
            const IrNode *nd = &c->nodes[n];
            if (nd->op == IR_OP_STATE) {
                /* s[t-1]: the initial state at the first step, else the previous step's value */
                int w = nd->width, s = nd->aux;
                float *o = vm->val[n] + (size_t)t * B * w;
                if (tp >= 0)
                    memcpy(o, vm->val[c->states[s].next] + (size_t)tp * B * w,
                           sizeof(float) * B * w);
                else if (s0)
                    memcpy(o, s0 + vm->state_off[s], sizeof(float) * B * w);
                else
                    memset(o, 0, sizeof(float) * B * w);
                continue;
            }
            op_fwd[nd->op](vm, n, t * B, B);
        }
        hold_states(vm, t, tp, false, s0, NULL);
    }
    int ow = cellvm_output_width(vm);
    memcpy(y, vm->val[c->output], sizeof(float) * T * B * ow);
    zero_masked(vm, y, ow);
    if (sT) {
        int tl = step_time(vm, T - 1);
        for (int s = 0; s < c->nstates; s++) {
            int w = c->states[s].width;
            memmove(sT + vm->state_off[s], vm->val[c->states[s].next] + (size_t)tl * B * w,
                    sizeof(float) * B * w);
        }
    }
    return 0;
}

/* ---- backward --------------------------------------------------------------------------- */

/* Adds the gradient flowing into state s at time t (from its reads at the next processed step,
 * or dsT after the last one) to the gradient of the node that computed it at time t. */
static void pass_state_grad(CellVm *vm, int s, int t, int tn, const float *dsT)
{
    const IrCell *c = vm->c;
    int B = vm->B, w = c->states[s].width;
    float *g = vm->grad[c->states[s].next] + (size_t)t * B * w;
    if (tn < 0) {
        if (dsT)
            for (int i = 0; i < B * w; i++)
                g[i] += dsT[vm->state_off[s] + i];
        return;
    }
    for (int n = 0; n < c->nnodes; n++)
        if (c->nodes[n].op == IR_OP_STATE && c->nodes[n].aux == s) {
            const float *gs = vm->grad[n] + (size_t)tn * B * w;
            for (int i = 0; i < B * w; i++)
                g[i] += gs[i];
        }
}

int cellvm_backward(CellVm *vm, const float *dy, const float *dsT, float *const *dparams,
                    float *dx, float *ds0, Diag *d)
{
    const IrCell *c = vm->c;
    int B = vm->B, T = vm->T;
    if (T <= 0) {
        diag_error_in(d, c->name, "backward without a recorded forward");
        return -1;
    }
    vm->dparams = dparams;
    for (int n = 0; n < c->nnodes; n++)
        if (vm->grad[n])
            memset(vm->grad[n], 0, sizeof(float) * T * B * c->nodes[n].width);
    if (dy) {
        memcpy(vm->grad[c->output], dy, sizeof(float) * T * B * cellvm_output_width(vm));
        zero_masked(vm, vm->grad[c->output], cellvm_output_width(vm));
    }
    /* Phase 2 reversed: the recurrence from the last processed step back to the first. */
    for (int k = T - 1; k >= 0; k--) {
        int t = step_time(vm, k), tn = k + 1 < T ? step_time(vm, k + 1) : -1;
        for (int s = 0; s < c->nstates; s++)
            pass_state_grad(vm, s, t, tn, dsT);
        hold_states(vm, t, k > 0 ? step_time(vm, k - 1) : -1, true, NULL, ds0);
        for (int n = c->nnodes - 1; n >= 0; n--)
            if (vm->dep[n])
                op_bwd[c->nodes[n].op](vm, n, t * B, B);
    }
    /* Gradient w.r.t. the initial states: what flowed into the first step's state reads. */
    if (ds0) {
        int t0 = step_time(vm, 0);
        for (int n = 0; n < c->nnodes; n++)
            if (c->nodes[n].op == IR_OP_STATE) {
                int w = c->nodes[n].width;
                const float *gs = vm->grad[n] + (size_t)t0 * B * w;
                float *o = ds0 + vm->state_off[c->nodes[n].aux];
                for (int i = 0; i < B * w; i++)
                    o[i] += gs[i];
            }
    }
    /* Phase 1 reversed: the hoisted nodes over the whole window. */
    for (int n = c->nnodes - 1; n >= 0; n--)
        if (!vm->dep[n])
            op_bwd[c->nodes[n].op](vm, n, 0, T * B);
    /* Weight gradients of every W @ v, one GEMM over the window: dW [m][k] += dY^T V. */
    for (int n = 0; n < c->nnodes; n++) {
        const IrNode *nd = &c->nodes[n];
        if (nd->op != IR_OP_MATVEC || !dparams || !dparams[c->nodes[nd->in[0]].aux])
            continue;
        int m = nd->width, kk = c->nodes[nd->in[1]].width;
        kern_sgemm(true, false, m, kk, T * B, 1.0f, vm->grad[n], m, vm->val[nd->in[1]], kk, 1.0f,
                   dparams[c->nodes[nd->in[0]].aux], kk);
    }
    if (dx)
        for (int n = 0; n < c->nnodes; n++)
            if (c->nodes[n].op == IR_OP_INPUT) {
                const float *g = vm->grad[n];
                for (size_t i = 0; i < (size_t)T * B * c->input_width; i++)
                    dx[i] += g[i];
            }
    return 0;
}
