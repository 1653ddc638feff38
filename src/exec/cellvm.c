/* cellvm: forward and reverse-mode backward of IrCell graphs over a window (see cellvm.h).
 *
 * Tapes are time-major, so "rows" r = t*B + b index a (step, example) pair and a block of rows is
 * a contiguous matrix. Each op has one forward and one backward function over a range of rows,
 * collected in one table indexed by IrOpKind (the X-macro list of ops.def): cellvm_ops.c.
 *
 * What it computes: op_math.h's float formulas, except sigmoid and tanh, which are the 4-lane
 * polynomials of kernels_util.h (kv_sigmoid, kv_tanh, as the fused kernels; within about 2e-7
 * relative of libm's), in every layout; sema's constant folder stays in double with libm. A
 * per-step product W @ h with more than one row reads a transposed copy of W made at the start
 * of each forward (oneDNN's sgemm does A B 3x faster than A B^T at 32 x 2048, K 512).
 *
 * Threads: within a step, each stretch of row-wise nodes between two GEMMs runs as one parallel
 * loop over the step's B rows (run_list); a row is computed the same way whichever thread has
 * it, and nodes that sum over rows (a param's gradient) run on one thread, so the results do
 * not depend on the thread count beyond what the GEMMs do.
 *
 * What the tape keeps (the memory plan, made once in cellvm_create):
 *   - window nodes (`win`): state-independent MATVECs, INPUT, CONST, state-independent nodes
 *     that read a param (so a param vector's gradient sums over the rows in the order it always
 *     did) and everything they read, evaluated once over the whole window; values and gradients
 *     [max_T][B][width] (INPUT's values are the caller's x itself);
 *   - every other node runs step by step. Its value is kept for the whole window only when the
 *     backward cannot cheaply have it again: a MATVEC (a GEMM), a MATVEC's vector input (read by
 *     the weight gradient's one GEMM over the window), a STATE, a state's next value, the output,
 *     an op that calls libm (sigmoid, tanh, exp, ...: costly_op); the others (+, -, *, /, relu,
 *     min, max, clip, slices, concats, ...) live in one step's buffer and are recomputed from
 *     the kept values at each step of the backward, by the same row kernels in the same order,
 *     so they are bit for bit what the forward computed;
 *   - the gradient of a step node is a ring of 3 steps (a step reads its successor's state
 *     gradients and writes its predecessor's held ones), except a MATVEC's, kept for the window
 *     for its weight gradient.
 * cellvm_set_full_tape keeps every value for the window instead (recur trace reads them all). */
#include "exec/cellvm_int.h"

#include "exec/kernels.h"
#include "exec/matvec.h"
#include "exec/parallel.h"
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

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

/* Whether op's forward calls a libm function (exp, tanh, log, ...): its values are kept rather
 * than recomputed in backward, where they would cost as much again as in the forward. */
static bool costly_op(IrOpKind op)
{
    switch (op) {
    case IR_OP_SIGMOID: case IR_OP_TANH: case IR_OP_EXP: case IR_OP_LOG: case IR_OP_SQRT:
    case IR_OP_SOFTPLUS: case IR_OP_ELU: case IR_OP_SCALEDTANH:
        return true;
    default:
        return false;
    }
}

/* The memory plan's classes (see the top of this file): dep (reads a state), win (window node)
 * and keep (value kept for the window even without a full tape). */
static void plan_nodes(CellVm *vm)
{
    const IrCell *c = vm->c;
    for (int n = 0; n < c->nnodes; n++) {
        const IrNode *nd = &c->nodes[n];
        vm->dep[n] = nd->op == IR_OP_STATE;
        for (int k = 0; k < nd->nin; k++)
            vm->dep[n] = vm->dep[n] || vm->dep[nd->in[k]];
    }
    for (int n = c->nnodes - 1; n >= 0; n--) { /* consumers come after their inputs */
        const IrNode *nd = &c->nodes[n];
        bool reads_param = false; /* its param gradient sums over the rows in order */
        for (int k = 0; k < nd->nin; k++)
            reads_param = reads_param || c->nodes[nd->in[k]].op == IR_OP_PARAM;
        if (!vm->dep[n] && (nd->op == IR_OP_MATVEC || nd->op == IR_OP_INPUT ||
                            nd->op == IR_OP_CONST || reads_param))
            vm->win[n] = true;
        for (int k = 0; k < nd->nin; k++)
            vm->win[nd->in[k]] = vm->win[nd->in[k]] || vm->win[n];
        if (nd->op == IR_OP_MATVEC)
            vm->keep[nd->in[1]] = true;
        vm->keep[n] = vm->keep[n] || vm->win[n] || nd->op == IR_OP_STATE ||
                      nd->op == IR_OP_MATVEC || costly_op(nd->op) || n == c->output;
    }
    for (int s = 0; s < c->nstates; s++)
        vm->keep[c->states[s].next] = true;
}

/* The step's node orders (the forward's, the backward's recomputations, the backward's: the
 * state-dependent nodes last to first, then the others; window nodes and leaves, whose
 * kernels do nothing per step, are not in them) and which nodes may run on part of a step's rows: the row-wise ops, and in backward
 * only those that add into no param's gradient (a sum over the rows, kept in row order). */
static void plan_lists(CellVm *vm)
{
    const IrCell *c = vm->c;
    int *l = vm->list;
    vm->nfwd = vm->nrec = vm->nbwd = 0;
    for (int n = 0; n < c->nnodes; n++) {
        const IrNode *nd = &c->nodes[n];
        bool reads_param = false;
        for (int k = 0; k < nd->nin; k++)
            reads_param = reads_param || c->nodes[nd->in[k]].op == IR_OP_PARAM;
        vm->split_fwd[n] = cellvm_rowwise_op(nd->op);
        vm->split_bwd[n] = vm->split_fwd[n] && !reads_param;
        if (!vm->win[n] && op_shape[nd->op] != IR_SHAPE_LEAF)
            l[vm->nfwd++] = n;
    }
    for (int i = 0; i < vm->nfwd; i++)
        if (!vm->keep[l[i]])
            l[vm->nfwd + vm->nrec++] = l[i];
    for (int pass = 0; pass < 2; pass++)
        for (int i = vm->nfwd - 1; i >= 0; i--)
            if (vm->dep[l[i]] == (pass == 0))
                l[vm->nfwd + vm->nrec + vm->nbwd++] = l[i];
}

/* Frees the value and gradient tapes (INPUT's values are the caller's x: not freed). */
static void free_tapes(CellVm *vm)
{
    for (int n = 0; n < vm->c->nnodes; n++) {
        if (vm->c->nodes[n].op != IR_OP_INPUT)
            free(vm->val[n]);
        free(vm->grad[n]);
        vm->val[n] = vm->grad[n] = NULL;
    }
}

/* Allocates the tapes the plan and vm->full_tape call for; -1 when out of memory. */
static int alloc_tapes(CellVm *vm)
{
    const IrCell *c = vm->c;
    size_t step = (size_t)vm->B, window = (size_t)vm->max_T * vm->B;
    for (int n = 0; n < c->nnodes; n++) {
        const IrNode *nd = &c->nodes[n];
        if (nd->op == IR_OP_PARAM)
            continue;
        vm->vfull[n] = vm->keep[n] || vm->full_tape;
        vm->gfull[n] = vm->win[n] || nd->op == IR_OP_MATVEC;
        if (nd->op != IR_OP_INPUT &&
            !(vm->val[n] = malloc(sizeof(float) * nd->width * (vm->vfull[n] ? window : step))))
            return -1;
        size_t g = vm->gfull[n] ? window : GRAD_RING * step;
        if (nd->op != IR_OP_CONST && !(vm->grad[n] = malloc(sizeof(float) * nd->width * g)))
            return -1;
    }
    return 0;
}

/* Allocates W^T for each matrix read by a per-step MATVEC (cellvm_int.h), when the products
 * have more than one row (one-row products take kern_sgemm's own matrix-vector path, which
 * reads W as it is); -1 when out of memory. */
static int alloc_transposes(CellVm *vm)
{
    const IrCell *c = vm->c;
    if (vm->B <= KERN_MATVEC_MAX_ROWS)
        return 0;
    for (int n = 0; n < c->nnodes; n++) {
        const IrNode *nd = &c->nodes[n];
        int p = nd->op == IR_OP_MATVEC && !vm->win[n] ? c->nodes[nd->in[0]].aux : -1;
        if (p < 0 || vm->wt[p])
            continue;
        if (!(vm->wt[p] = malloc(sizeof(float) * c->params[p].rows * c->params[p].cols)))
            return -1;
    }
    return 0;
}

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
    int nn = c->nnodes;
    vm->val = calloc(nn, sizeof *vm->val);
    vm->grad = calloc(nn, sizeof *vm->grad);
    vm->dep = calloc(nn, sizeof *vm->dep);
    vm->win = calloc(nn, sizeof *vm->win);
    vm->keep = calloc(nn, sizeof *vm->keep);
    vm->vfull = calloc(nn, sizeof *vm->vfull);
    vm->gfull = calloc(nn, sizeof *vm->gfull);
    vm->split_fwd = calloc(nn, sizeof *vm->split_fwd);
    vm->split_bwd = calloc(nn, sizeof *vm->split_bwd);
    vm->list = calloc(3 * (size_t)nn, sizeof *vm->list);
    vm->state_off = calloc(c->nstates + 1, sizeof *vm->state_off);
    vm->wt = calloc(c->nparams + 1, sizeof *vm->wt);
    if (!vm->val || !vm->grad || !vm->dep || !vm->win || !vm->keep || !vm->vfull ||
        !vm->gfull || !vm->split_fwd ||
        !vm->split_bwd || !vm->list || !vm->state_off || !vm->wt)
        goto oom;
    plan_nodes(vm);
    plan_lists(vm);
    if (alloc_tapes(vm) || alloc_transposes(vm))
        goto oom;
    for (int s = 0; s < c->nstates; s++)
        vm->state_off[s + 1] = vm->state_off[s] + batch * c->states[s].width;
    vm->state_floats = vm->state_off[c->nstates];
    return vm;
oom:
    diag_error_in(d, c->name ? c->name : "cell", "out of memory for the cell interpreter");
    cellvm_free(vm);
    return NULL;
}

int cellvm_set_full_tape(CellVm *vm, bool on, Diag *d)
{
    if (vm->full_tape == on)
        return 0;
    free_tapes(vm);
    vm->full_tape = on;
    vm->T = 0; /* no recorded forward */
    if (alloc_tapes(vm)) {
        diag_error_in(d, vm->c->name ? vm->c->name : "cell",
                      "out of memory for the cell interpreter");
        return -1;
    }
    return 0;
}

void cellvm_free(CellVm *vm)
{
    if (!vm)
        return;
    if (vm->val && vm->grad)
        free_tapes(vm);
    free(vm->val);
    free(vm->grad);
    free(vm->dep);
    free(vm->win);
    free(vm->keep);
    free(vm->vfull);
    free(vm->gfull);
    free(vm->split_fwd);
    free(vm->split_bwd);
    free(vm->list);
    free(vm->state_off);
    for (int p = 0; vm->wt && p < vm->c->nparams; p++)
        free(vm->wt[p]);
    free(vm->wt);
    free(vm);
}

int cellvm_output_width(const CellVm *vm) { return vm->c->nodes[vm->c->output].width; }
int cellvm_state_floats(const CellVm *vm) { return vm->state_floats; }
bool cellvm_hoisted(const CellVm *vm, int n) { return n >= 0 && n < vm->c->nnodes && !vm->dep[n]; }

/* ---- sequence lengths ------------------------------------------------------------------- */

void cellvm_set_lengths(CellVm *vm, const int32_t *lengths) { vm->len = lengths; }

/* Whether example b is past its length at time t (its state is held, its output zero). */
static bool masked(const CellVm *vm, int t, int b) { return vm->len && t >= vm->len[b]; }

/* Row b of state s's next value (grad false) or its gradient (grad true) at step t. */
static float *state_row(const CellVm *vm, bool grad, int s, int t, int b)
{
    int nx = vm->c->states[s].next, r0 = t * vm->B;
    return (grad ? grad_at(vm, nx, r0) : val_at(vm, nx, r0)) + (size_t)b * node_width(vm, nx);
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
                float *o = state_row(vm, false, s, t, b);
                if (tp >= 0)
                    memcpy(o, state_row(vm, false, s, tp, b), sizeof(float) * w);
                else if (s0)
                    memcpy(o, s0 + at0, sizeof(float) * w);
                else
                    memset(o, 0, sizeof(float) * w);
                continue;
            }
            float *g = state_row(vm, true, s, t, b);
            float *to = tp >= 0 ? state_row(vm, true, s, tp, b) : ds0 ? ds0 + at0 : NULL;
            for (int i = 0; i < w; i++) {
                if (to)
                    to[i] += g[i];
                g[i] = 0;
            }
        }
    }
}

/* Zeroes the rows of step t's block a ([B][w]) that are past their example's length. */
static void zero_masked_step(const CellVm *vm, float *a, int t, int w)
{
    for (int b = 0; vm->len && b < vm->B; b++)
        if (masked(vm, t, b))
            memset(a + (size_t)b * w, 0, sizeof(float) * w);
}

/* Zeroes the rows of a [T][B][w] array that are past their example's length. */
static void zero_masked(const CellVm *vm, float *a, int w)
{
    for (int t = 0; vm->len && t < vm->T; t++)
        zero_masked_step(vm, a + (size_t)t * vm->B * w, t, w);
}

/* The tape of node n (read-only view for tracing); NULL when its values were not kept for the
 * window (no full tape). */
const float *cellvm_node_values(const CellVm *vm, int n, int *T)
{
    if (!vm || n < 0 || n >= vm->c->nnodes || vm->T == 0 || !vm->vfull[n] || !vm->val[n])
        return NULL;
    *T = vm->T;
    return vm->val[n];
}

/* ---- one step's nodes, their rows split across threads ------------------------------------ */

/* A stretch of a step's node list that one thread runs over rows [lo, hi) of step t. */
typedef struct RowRun {
    CellVm *vm;
    const int *nodes;
    int count, t;
    const CellOpFn *ops; /* cellvm_op_fwd or cellvm_op_bwd */
} RowRun;

/* Runs the stretch's nodes, in order, on rows [lo, hi) of its step (kern_parallel_for's fn). */
static void run_rows(void *ctx, size_t lo, size_t hi)
{
    const RowRun *rr = ctx;
    int r0 = rr->t * rr->vm->B + (int)lo, nr = (int)(hi - lo);
    for (int i = 0; i < rr->count; i++)
        rr->ops[rr->vm->c->nodes[rr->nodes[i]].op](rr->vm, rr->nodes[i], r0, nr);
}

/* Runs list's nodes in order for step t, forward or backward. Each stretch of nodes that may
 * run on part of the rows (split_fwd / split_bwd) is one loop over the step's rows split across
 * the threads (each row is computed as on one thread, so the results do not depend on the
 * thread count); the others (the GEMMs, which oneDNN threads itself) run on the whole step. */
static void run_list(CellVm *vm, const int *list, int count, int t, bool bwd)
{
    const CellOpFn *ops = bwd ? cellvm_op_bwd : cellvm_op_fwd;
    const bool *split = bwd ? vm->split_bwd : vm->split_fwd;
    int B = vm->B;
    for (int i = 0; i < count;) {
        int j = i;
        double work = 0;
        for (; j < count && split[list[j]]; j++)
            work += (double)B * node_width(vm, list[j]);
        if (j > i) {
            RowRun rr = {vm, list + i, j - i, t, ops};
            kern_parallel_for((size_t)B, work, run_rows, &rr);
            i = j;
            continue;
        }
        ops[vm->c->nodes[list[i]].op](vm, list[i], t * B, B);
        i++;
    }
}

/* ---- forward ---------------------------------------------------------------------------- */

/* Step number k (0-based, in processing order) of the window as a time index. */
static int step_time(const CellVm *vm, int k) { return vm->c->reverse ? vm->T - 1 - k : k; }

/* State node n's values at step t: s[t-1], the previous processed step tp's next value (the
 * initial state before the first step, tp = -1). */
static void read_state(CellVm *vm, int n, int t, int tp, const float *s0)
{
    const IrCell *c = vm->c;
    int B = vm->B, w = c->nodes[n].width, s = c->nodes[n].aux;
    float *o = val_at(vm, n, t * B);
    if (tp >= 0)
        memcpy(o, val_at(vm, c->states[s].next, tp * B), sizeof(float) * B * w);
    else if (s0)
        memcpy(o, s0 + vm->state_off[s], sizeof(float) * B * w);
    else
        memset(o, 0, sizeof(float) * B * w);
}

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
    cellvm_transpose_weights(vm);
    for (int n = 0; n < c->nnodes; n++)
        if (c->nodes[n].op == IR_OP_INPUT)
            vm->val[n] = (float *)x; /* read only: no kernel writes an INPUT */
    /* Phase 1: the window nodes, for the whole window at once (hoisting). */
    for (int n = 0; n < c->nnodes; n++)
        if (vm->win[n])
            cellvm_op_fwd[c->nodes[n].op](vm, n, 0, T * B);
    /* Phase 2: the rest, one step at a time in processing order. */
    for (int k = 0; k < T; k++) {
        int t = step_time(vm, k), tp = k > 0 ? step_time(vm, k - 1) : -1;
        for (int n = 0; n < c->nnodes; n++)
            if (c->nodes[n].op == IR_OP_STATE)
                read_state(vm, n, t, tp, s0);
        run_list(vm, vm->list, vm->nfwd, t, false);
        hold_states(vm, t, tp, false, s0, NULL);
    }
    int ow = cellvm_output_width(vm);
    memcpy(y, vm->val[c->output], sizeof(float) * T * B * ow);
    zero_masked(vm, y, ow);
    if (sT) {
        int tl = step_time(vm, T - 1);
        for (int s = 0; s < c->nstates; s++) {
            int w = c->states[s].width;
            memmove(sT + vm->state_off[s], val_at(vm, c->states[s].next, tl * B),
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
    float *g = grad_at(vm, c->states[s].next, t * B);
    if (tn < 0) {
        if (dsT)
            for (int i = 0; i < B * w; i++)
                g[i] += dsT[vm->state_off[s] + i];
        return;
    }
    for (int n = 0; n < c->nnodes; n++)
        if (c->nodes[n].op == IR_OP_STATE && c->nodes[n].aux == s) {
            const float *gs = grad_at(vm, n, tn * B);
            for (int i = 0; i < B * w; i++)
                g[i] += gs[i];
        }
}

/* Starts step t's slot of every gradient ring: zeroes it, and puts dy[t] (its rows past their
 * example's length zeroed) into the output's when the output's gradient is a ring. */
static void start_grad_step(CellVm *vm, int t, const float *dy)
{
    const IrCell *c = vm->c;
    int B = vm->B;
    for (int n = 0; n < c->nnodes; n++)
        if (vm->grad[n] && !vm->gfull[n])
            memset(grad_at(vm, n, t * B), 0, sizeof(float) * B * c->nodes[n].width);
    if (dy && !vm->gfull[c->output]) {
        int ow = cellvm_output_width(vm);
        float *g = grad_at(vm, c->output, t * B);
        memcpy(g, dy + (size_t)t * B * ow, sizeof(float) * B * ow);
        zero_masked_step(vm, g, t, ow);
    }
}

/* Clears every gradient for a new backward: window tapes zeroed (the output's set to dy when
 * it spans the window), and the first processed step's ring slot started. */
static void start_grads(CellVm *vm, const float *dy)
{
    const IrCell *c = vm->c;
    int B = vm->B, T = vm->T, ow = cellvm_output_width(vm);
    for (int n = 0; n < c->nnodes; n++)
        if (vm->grad[n] && vm->gfull[n])
            memset(vm->grad[n], 0, sizeof(float) * T * B * c->nodes[n].width);
    if (dy && vm->gfull[c->output]) {
        memcpy(vm->grad[c->output], dy, sizeof(float) * T * B * ow);
        zero_masked(vm, vm->grad[c->output], ow);
    }
    start_grad_step(vm, step_time(vm, T - 1), dy);
}

/* One step of the backward sweep at time t: the values not kept for the window are recomputed
 * (same kernels, same inputs: the forward's values), then the step's nodes run backward, the
 * state-dependent ones first and then the state-independent ones of the step (the order in
 * which their gradients accumulated when every hoisted node ran after the sweep). */
static void backward_step(CellVm *vm, int t)
{
    if (!vm->full_tape) /* else every value was kept */
        run_list(vm, vm->list + vm->nfwd, vm->nrec, t, false);
    run_list(vm, vm->list + vm->nfwd + vm->nrec, vm->nbwd, t, true);
}

/* After the sweep: ds0 (what flowed into the first step's state reads), the window nodes'
 * backward over the whole window, every MATVEC's weight gradient as one GEMM over the window
 * (dW [m][k] += dY^T V) and dx. */
static void backward_window(CellVm *vm, float *const *dparams, float *dx, float *ds0)
{
    const IrCell *c = vm->c;
    int B = vm->B, T = vm->T;
    if (ds0) {
        int t0 = step_time(vm, 0);
        for (int n = 0; n < c->nnodes; n++)
            if (c->nodes[n].op == IR_OP_STATE) {
                int w = c->nodes[n].width;
                const float *gs = grad_at(vm, n, t0 * B);
                float *o = ds0 + vm->state_off[c->nodes[n].aux];
                for (int i = 0; i < B * w; i++)
                    o[i] += gs[i];
            }
    }
    for (int n = c->nnodes - 1; n >= 0; n--)
        if (vm->win[n])
            cellvm_op_bwd[c->nodes[n].op](vm, n, 0, T * B);
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
}

int cellvm_backward(CellVm *vm, const float *dy, const float *dsT, float *const *dparams,
                    float *dx, float *ds0, Diag *d)
{
    const IrCell *c = vm->c;
    int T = vm->T;
    if (T <= 0) {
        diag_error_in(d, c->name, "backward without a recorded forward");
        return -1;
    }
    vm->dparams = dparams;
    start_grads(vm, dy);
    /* The recurrence from the last processed step back to the first. */
    for (int k = T - 1; k >= 0; k--) {
        int t = step_time(vm, k), tn = k + 1 < T ? step_time(vm, k + 1) : -1;
        int tp = k > 0 ? step_time(vm, k - 1) : -1;
        if (tp >= 0) /* its slot held step k + 2's gradients, read at step k + 1 */
            start_grad_step(vm, tp, dy);
        for (int s = 0; s < c->nstates; s++)
            pass_state_grad(vm, s, t, tn, dsT);
        hold_states(vm, t, tp, true, NULL, ds0);
        backward_step(vm, t);
    }
    backward_window(vm, dparams, dx, ds0);
    return 0;
}
