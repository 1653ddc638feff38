/* sema_cell_eq: compiles the equations of a cell body into per-step nodes (ops.def), with a
 * shape check per operator: names and x[t-1] reads, constants folded, '@', elementwise operators,
 * functions, concatenation, and assignments (including `a, b = chunk(v, 2)`). Separate from the
 * declarations and the checks on the whole cell (sema_cell.c). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "ir/op_math.h"
#include "lang/sema_cell_int.h"

/* The functions of the cell language (ops.def rows marked FUNC), in ops.def order: their
 * names (for lookup, did-you-mean and the "functions are ..." help) and their ops. */
#define CELL_FUNCTION_FUNC(name, spelling) spelling,
#define CELL_FUNCTION_SYNTAX(name, spelling)
static const char *const cell_functions[] = {
#define IR_OP(name, spelling, arity, shape, call, fwd, bwd, onnx) CELL_FUNCTION_##call(name, spelling)
#include "ir/ops.def"
#undef IR_OP
};
#undef CELL_FUNCTION_FUNC
#define CELL_FUNCTION_FUNC(name, spelling) IR_OP_##name,
static const IrOpKind cell_function_ops[] = {
#define IR_OP(name, spelling, arity, shape, call, fwd, bwd, onnx) CELL_FUNCTION_##call(name, spelling)
#include "ir/ops.def"
#undef IR_OP
};
#undef CELL_FUNCTION_FUNC
#undef CELL_FUNCTION_SYNTAX
enum { NFUNCS = sizeof cell_functions / sizeof cell_functions[0] };

/* "[512, 64]", "[128]" or "a scalar". */
static const char *shape_str(const IrNode *n, char *buf, size_t cap)
{
    if (n->scalar)
        snprintf(buf, cap, "a scalar");
    else if (n->rows)
        snprintf(buf, cap, "[%d, %d]", n->rows, n->width);
    else
        snprintf(buf, cap, "[%d]", n->width);
    return buf;
}

/* Describes an operand for a message: "W is [512, 64]" or "x is [128] (x comes from
 * embedding1 at 9:3)"; "the left operand" when the text is long. */
static const char *describe(CellCtx *c, const AstNode *e, int node, const char *fallback,
                            char *buf, size_t cap)
{
    char text[64], shape[48];
    const char *t = sema_snippet(e->loc, text, sizeof text);
    const IrNode *n = &c->nodes[node];
    int len = snprintf(buf, cap, "%s is %s", t ? t : fallback, shape_str(n, shape, sizeof shape));
    if (n->op == IR_OP_INPUT && c->from && len > 0 && (size_t)len < cap)
        snprintf(buf + len, cap - (size_t)len, " (%s comes from %s)", t ? t : "the input",
                 c->from);
    return buf;
}

/* Refuses a matrix where a vector is needed (matrices only appear on the left of '@'). */
static int need_vector(CellCtx *c, const AstNode *e, int node)
{
    if (node < 0)
        return -1;
    if (c->nodes[node].rows) {
        char d[200];
        DiagMessage *m = sema_cerr(c, e->loc, true, "%s, a matrix; it can only be used on the left "
                                   "of '@'", describe(c, e, node, "this operand", d, sizeof d));
        diag_help(m, "multiply it by a vector: W @ x");
        return -1;
    }
    return node;
}

static int expr(CellCtx *c, const AstNode *e);
static void assign1(CellCtx *c, const AstNode *st);

/* Reports a name that is not declared, with a suggestion from the cell's names. */
static int unknown_name(CellCtx *c, const char *name, SrcRange at)
{
    const char *cand[256];
    int n = 0;
    for (int i = 0; i < c->nsyms && n < 200; i++)
        cand[n++] = c->syms[i].name;
    for (int i = 0; i < c->env.n; i++)
        cand[n++] = c->env.b[i].name;
    const char *sug = sema_suggest(name, cand, n);
    if (sug)
        sema_cerr(c, at, false, "unknown name '%s'; did you mean '%s'?", name, sug);
    else
        sema_cerr(c, at, false, "unknown name '%s'", name);
    return -1;
}

/* A name read in an equation: local names first, then sizes and consts as scalars. */
int sema_cell_read_name(CellCtx *c, const AstNode *e)
{
    CellSym *y = sema_cell_find(c, e->name);
    if (!y) {
        SemaNum v;
        bool known = sema_cell_in_env(c, e->name) || strcmp(e->name, "vocab") == 0 ||
                     strcmp(e->name, "classes") == 0;
        for (int i = 0; !known && i < c->s->nconsts; i++)
            known = strcmp(c->s->consts[i].name, e->name) == 0;
        if (known) {
            /* a scalar of the step: its value (no shape depends on it) */
            if (sema_eval_num(c->s, e, &c->env, &v) < 0) {
                c->failed = true;
                return -1;
            }
            return sema_cell_const(c, v.value, e->loc);
        }
        return unknown_name(c, e->name, e->loc);
    }
    y->used = true;
    if (y->poisoned) {
        c->failed = true;
        return -1;
    }
    switch (y->kind) {
    case SYM_INPUT:
        if (y->node < 0)
            y->node = sema_cell_node(c, IR_OP_INPUT, NULL, 0, ir_sym_const(0), y->width_sym,
                                     y->loc);
        if (y->node >= 0)
            c->nodes[y->node].name = y->name;
        return y->node;
    case SYM_PARAM:
        if (y->node < 0) {
            y->node = sema_cell_node(c, IR_OP_PARAM, NULL, 0, y->rows_sym, y->width_sym,
                                     y->loc);
            if (y->node >= 0) {
                c->nodes[y->node].aux = y->index;
                c->nodes[y->node].name = y->name;
            }
        }
        return y->node;
    case SYM_STATE:
        if (y->node < 0) {
            DiagMessage *m = sema_cerr(c, e->loc, false,
                                       "'%s' is read before it is assigned in this step", y->name);
            diag_help(m, "write %s[t-1] for the previous step's value", y->name);
            return -1;
        }
        return y->node;
    case SYM_VALUE:
        return y->node;
    }
    return -1;
}

/* name[t-1]: the previous step's value of a state. */
static int read_prev(CellCtx *c, const AstNode *e)
{
    CellSym *y = sema_cell_find(c, e->name);
    SrcRange at = e->name_loc.src ? e->name_loc : e->loc;
    if (!y)
        return unknown_name(c, e->name, at);
    if (y->kind != SYM_STATE) {
        DiagMessage *m = sema_cerr(c, at, false, "'%s' is not a state; only states have a value at "
                                   "t-1", e->name);
        diag_help(m, "declare it with `state %s : [N]`", e->name);
        return -1;
    }
    y->used = true;
    if (y->prev < 0) {
        y->prev = sema_cell_node(c, IR_OP_STATE, NULL, 0, ir_sym_const(0), y->width_sym,
                                 e->loc);
        if (y->prev >= 0) {
            c->nodes[y->prev].aux = y->index;
            c->nodes[y->prev].name = y->name;
        }
    }
    return y->prev;
}

/* Folds an op on constant operands into a constant (so `1 - 0.5` or `1/sqrt(H)` is one node),
 * with the op's own formula from ir/op_math.h in double. arg holds the op's arity of values.
 * Refuses (false) ops that are not elementwise, and results that are not finite numbers: a
 * division by zero, or log and sqrt outside their domain, stay nodes computed at run time. */
static bool fold(IrOpKind op, const double *arg, double *out)
{
#define FOLD_UNARY(name, fwd) case IR_OP_##name: *out = op_##fwd##_d(arg[0]); break;
#define FOLD_BINARY(name, fwd) case IR_OP_##name: *out = op_##fwd##_d(arg[0], arg[1]); break;
#define FOLD_BOUNDED(name, fwd) \
    case IR_OP_##name: *out = op_##fwd##_d(arg[0], arg[1], arg[2]); break;
#define FOLD_LEAF(name, fwd)
#define FOLD_MATVEC(name, fwd)
#define FOLD_CONCAT(name, fwd)
#define FOLD_SLICE(name, fwd)
    switch (op) {
#define IR_OP(name, spelling, arity, shape, call, fwd, bwd, onnx) FOLD_##shape(name, fwd)
#include "ir/ops.def"
#undef IR_OP
    default:
        return false;
    }
    return isfinite(*out);
}

/* Folds op over the input nodes in[0..n) (n <= 3) when all of them are constants. True when
 * it folds, with *node the new constant's index (-1 when that failed, already reported). */
static bool fold_nodes(CellCtx *c, IrOpKind op, const int *in, int n, SrcRange loc, int *node)
{
    double arg[3] = { 0, 0, 0 }, v;
    for (int k = 0; k < n; k++) {
        if (c->nodes[in[k]].op != IR_OP_CONST)
            return false;
        arg[k] = c->nodes[in[k]].value;
    }
    if (!fold(op, arg, &v))
        return false;
    *node = sema_cell_const(c, v, loc);
    return true;
}

/* a @ b: needs [m, n] @ [n]. */
static int matvec(CellCtx *c, const AstNode *e, int a, int b)
{
    char da[200], db[200];
    const IrNode *x = &c->nodes[a], *y = &c->nodes[b];
    if (!x->rows || y->rows || y->scalar || x->width != y->width) {
        DiagMessage *m = sema_cerr(c, e->loc, true, "'@' needs [m, n] @ [n]: %s but %s",
                                   describe(c, e->a, a, "the left operand", da, sizeof da),
                                   describe(c, e->b, b, "the right operand", db, sizeof db));
        if (!x->rows)
            diag_help(m, "the left side of '@' must be a matrix param, e.g. `param W : [H, I]`");
        return -1;
    }
    sema_sym_same(c->s, x->width_sym, y->width_sym);
    int in[2] = { a, b };
    return sema_cell_node(c, IR_OP_MATVEC, in, 2, ir_sym_const(0), x->rows_sym, e->loc);
}

/* Elementwise a op b (an operator or min/max; ea and eb are the operands' text): equal widths
 * or a scalar on either side. `needs` starts the message: "'+' needs operands". */
static int elementwise(CellCtx *c, SrcRange loc, IrOpKind op, const AstNode *ea,
                       const AstNode *eb, int a, int b, const char *needs)
{
    const IrNode *x = &c->nodes[a], *y = &c->nodes[b];
    int in[2] = { a, b }, k;
    if (fold_nodes(c, op, in, 2, loc, &k))
        return k;
    if (!x->scalar && !y->scalar && x->width != y->width) {
        char da[200], db[200];
        sema_cerr(c, loc, true, "%s of equal width or a scalar: %s but %s", needs,
                  describe(c, ea, a, "the left operand", da, sizeof da),
                  describe(c, eb, b, "the right operand", db, sizeof db));
        return -1;
    }
    if (!x->scalar && !y->scalar)
        sema_sym_same(c->s, x->width_sym, y->width_sym);
    IrSym w = x->scalar ? y->width_sym : x->width_sym;
    return sema_cell_node(c, op, in, 2, ir_sym_const(0), w, loc);
}

/* The index of the function e calls in cell_functions, or -1 after reporting an unknown name
 * (with a suggestion and the list of functions). */
static int find_function(CellCtx *c, const AstNode *e)
{
    for (int i = 0; i < NFUNCS; i++)
        if (strcmp(cell_functions[i], e->name) == 0)
            return i;
    SrcRange at = e->name_loc.src ? e->name_loc : e->loc;
    const char *sug = sema_suggest(e->name, cell_functions, NFUNCS);
    char list[300];
    DiagMessage *m;
    if (sug)
        m = sema_cerr(c, at, false, "unknown function '%s'; did you mean '%s'?", e->name, sug);
    else
        m = sema_cerr(c, at, false, "unknown function '%s'", e->name);
    diag_help(m, "functions are %s", sema_join(cell_functions, NFUNCS, list, sizeof list));
    return -1;
}

/* clip(x, lo, hi), leakyrelu(x, alpha), ...: the parameters after x must be constant scalars
 * (numbers, consts, sizes, or expressions of them that fold), and clip needs lo <= hi. A design
 * choice: ONNX Clip, torch.clamp and ONNX's RNN activations take constant parameters in
 * practice, constants leave no gradient to route to them, and lo <= hi can be checked here
 * rather than left to run time; bounds that vary are written min(max(x, lo), hi). in holds the
 * n arguments written. Returns 0, or -1 after reporting. */
static int check_bounds(CellCtx *c, const AstNode *e, IrOpKind op, const int *in, int n)
{
    bool clip = op == IR_OP_CLIP;
    for (int k = 1; k < n; k++)
        if (c->nodes[in[k]].op != IR_OP_CONST) {
            char d[200];
            DiagMessage *m = sema_cerr(c, e->list.items[k]->loc, false, "%s needs constant %s, "
                                       "but %s", ir_op_params[op].signature,
                                       clip ? "bounds" : "parameters",
                                       describe(c, e->list.items[k], in[k],
                                                clip ? "the bound" : "the parameter", d,
                                                sizeof d));
            if (clip)
                diag_help(m, "for bounds that vary, write min(max(x, lo), hi)");
            return -1;
        }
    if (!clip)
        return 0;
    double lo = c->nodes[in[1]].value, hi = c->nodes[in[2]].value;
    if (!(lo <= hi)) {
        sema_cerr(c, e->loc, false, "%s(x, lo, hi) needs lo <= hi, got lo = %g and hi = %g",
                  e->name, lo, hi);
        return -1;
    }
    return 0;
}

/* The arguments of f(args) into in[]: the op's arity of them, the parameters a BOUNDED op
 * leaves out filled with their defaults (ir_op_params: `hardsigmoid(x)` is ONNX's 0.2, 0.5).
 * How many were written, or -1 after reporting. */
static int call_args(CellCtx *c, const AstNode *e, IrOpKind op, int *in)
{
    static const char *const counts[] = { "no", "one", "two", "three" };
    int n = ir_op_arity[op], least = ir_op_params[op].min_args ? ir_op_params[op].min_args : n;
    bool named = false;
    for (int i = 0; i < e->list.n; i++)
        named = named || e->list.items[i]->kind == AST_NAMED_ARG;
    if (e->list.n < least || e->list.n > n || named) {
        if (least == n)
            sema_cerr(c, e->loc, false, "%s takes %s argument%s, got %d", e->name, counts[n],
                      n == 1 ? "" : "s", e->list.n);
        else
            sema_cerr(c, e->loc, false, "%s takes %s %s %s arguments (%s), got %d", e->name,
                      counts[least], n - least == 1 ? "or" : "to", counts[n],
                      ir_op_params[op].signature, e->list.n);
        return -1;
    }
    for (int i = 0; i < n; i++) {
        in[i] = i < e->list.n ? need_vector(c, e->list.items[i], expr(c, e->list.items[i]))
                              : sema_cell_const(c, ir_op_params[op].dflt[i - 1], e->loc);
        if (in[i] < 0)
            return -1;
    }
    return e->list.n;
}

/* f(args) for the functions of the language (chunk only in a tuple assignment): the arity and
 * the shape rule come from ops.def; constant arguments fold. */
static int call(CellCtx *c, const AstNode *e)
{
    int f = find_function(c, e);
    if (f < 0)
        return -1;
    IrOpKind op = cell_function_ops[f];
    if (op == IR_OP_SLICE) {
        DiagMessage *m = sema_cerr(c, e->loc, false, "chunk(...) gives several values; assign them "
                                   "to as many names");
        diag_help(m, "write e.g. `a, b = chunk(v, 2)`");
        return -1;
    }
    int n = ir_op_arity[op], in[3], k;
    int given = call_args(c, e, op, in);
    if (given < 0)
        return -1;
    if (ir_op_shape[op] == IR_SHAPE_BINARY) {
        char needs[64];
        snprintf(needs, sizeof needs, "%s needs arguments", e->name);
        return elementwise(c, e->loc, op, e->list.items[0], e->list.items[1], in[0], in[1],
                           needs);
    }
    if (ir_op_shape[op] == IR_SHAPE_BOUNDED && check_bounds(c, e, op, in, given) < 0)
        return -1;
    if (fold_nodes(c, op, in, n, e->loc, &k))
        return k;
    return sema_cell_node(c, op, in, n, ir_sym_const(0), c->nodes[in[0]].width_sym, e->loc);
}

/* [a, b, ...]: concatenation of vectors. */
static int concat(CellCtx *c, const AstNode *e)
{
    int *in = arena_alloc(&c->s->tmp, sizeof *in * (size_t)(e->list.n + 1));
    int w = 0;
    IrSym ws = ir_sym_const(0);
    if (!in) {
        sema_oom(c->s);
        return -1;
    }
    if (e->list.n == 0) {
        sema_cerr(c, e->loc, false, "an empty concatenation '[]'");
        return -1;
    }
    for (int i = 0; i < e->list.n; i++) {
        in[i] = need_vector(c, e->list.items[i], expr(c, e->list.items[i]));
        if (in[i] < 0)
            return -1;
        if (c->nodes[in[i]].scalar) {
            sema_cerr(c, e->list.items[i]->loc, false, "a scalar cannot be concatenated; [a, b] "
                      "joins vectors");
            return -1;
        }
        if ((int64_t)w + c->nodes[in[i]].width > SEMA_MAX_SIZE) {
            sema_cerr(c, e->loc, true, "the concatenation is too wide: [%d] after [%d] (the "
                      "limit is %d)", c->nodes[in[i]].width, w, SEMA_MAX_SIZE);
            return -1;
        }
        w += c->nodes[in[i]].width;
        ws = ir_sym_add(ws, c->nodes[in[i]].width_sym);
    }
    return sema_cell_node(c, IR_OP_CONCAT, in, e->list.n, ir_sym_const(0), ws, e->loc);
}

/* Compiles one expression of a cell equation into nodes; returns the result node or -1. */
static int expr(CellCtx *c, const AstNode *e)
{
    int a, b;
    char needs[32];
    switch (e->kind) {
    case AST_NUM:
        return sema_cell_const(c, e->num, e->loc);
    case AST_IDENT:
        return sema_cell_read_name(c, e);
    case AST_PREV:
        return read_prev(c, e);
    case AST_UNARY:
        a = need_vector(c, e->a, expr(c, e->a));
        if (a < 0)
            return -1;
        if (fold_nodes(c, IR_OP_NEG, &a, 1, e->loc, &b))
            return b;
        return sema_cell_node(c, IR_OP_NEG, &a, 1, ir_sym_const(0), c->nodes[a].width_sym,
                              e->loc);
    case AST_BINARY:
        a = expr(c, e->a);
        b = expr(c, e->b);
        if (a < 0 || b < 0)
            return -1;
        if (e->op == '@')
            return matvec(c, e, a, b);
        if (need_vector(c, e->a, a) < 0 || need_vector(c, e->b, b) < 0)
            return -1;
        snprintf(needs, sizeof needs, "'%c' needs operands", e->op);
        return elementwise(c, e->loc, e->op == '+' ? IR_OP_ADD : e->op == '-' ? IR_OP_SUB
                           : e->op == '*' ? IR_OP_MUL : IR_OP_DIV, e->a, e->b, a, b, needs);
    case AST_CALL:
        return call(c, e);
    case AST_CONCAT:
        return concat(c, e);
    case AST_ERROR:
        c->failed = true;
        return -1;
    default:
        sema_cerr(c, e->loc, false, "this cannot be used in an equation");
        return -1;
    }
}

/* Binds an assignment target to a node: a state's value for this step, or a new name. */
static void bind(CellCtx *c, const AstNode *t, int node)
{
    char pos[32], shape[48];
    CellSym *y = sema_cell_find(c, t->name);
    IrNode *n = &c->nodes[node];
    if (y && y->kind == SYM_STATE) {
        if (y->node >= 0) {
            DiagMessage *m = sema_cerr(c, t->loc, false, "state '%s' is assigned twice in one step",
                                       y->name);
            diag_help(m, "each state is assigned exactly once per step; the first assignment "
                      "is at %s", diag_pos(c->nodes[y->node].loc, pos, sizeof pos));
            return;
        }
        if (n->rows || n->scalar || n->width != y->width) {
            sema_cerr(c, t->loc, true, "state '%s' is [%d] but is assigned %s", y->name, y->width,
                      shape_str(n, shape, sizeof shape));
            y->poisoned = true;
            return;
        }
        sema_sym_same(c->s, n->width_sym, y->width_sym);
        y->node = node;
        y->used = true;
        if (!n->name)
            n->name = y->name;      /* "c = +" in DOT and messages */
        return;
    }
    if (y && (y->kind == SYM_INPUT || y->kind == SYM_PARAM)) {
        sema_cerr(c, t->loc, false, "%s '%s' cannot be assigned", y->kind == SYM_INPUT ? "input"
                  : "param", y->name);
        return;
    }
    y = sema_cell_new_sym(c, t->name, SYM_VALUE, t->loc);
    if (!y)
        return;
    y->node = node;
    y->rows = n->rows;
    y->width = n->width;
    y->rows_sym = n->rows_sym;
    y->width_sym = n->width_sym;
    if (!n->name)
        n->name = y->name;
}

/* After a failed assignment (already reported), marks its targets so that their later uses
 * and "never assigned" checks do not repeat the error. */
static void poison(CellCtx *c, const AstNode *st)
{
    for (int i = 0; i < st->list.n; i++) {
        const AstNode *t = st->list.items[i];
        CellSym *y = sema_cell_find(c, t->name);
        if (!y && !sema_cell_in_env(c, t->name))
            y = sema_cell_new_sym(c, t->name, SYM_VALUE, t->loc);
        if (y && (y->kind == SYM_STATE || y->kind == SYM_VALUE) && y->node < 0)
            y->poisoned = true;
    }
}

/* targets = rhs, including `a, b, ... = chunk(v, n)`. */
void sema_cell_assign(CellCtx *c, const AstNode *st)
{
    bool failed = c->failed;
    c->failed = false;
    assign1(c, st);
    if (c->failed)
        poison(c, st);
    c->failed = c->failed || failed;
}

/* One assignment statement (see sema_cell_assign). */
static void assign1(CellCtx *c, const AstNode *st)
{
    const AstNode *rhs = st->a;
    int nt = st->list.n;
    bool is_chunk = rhs->kind == AST_CALL && strcmp(rhs->name, "chunk") == 0;
    if (nt == 1 && !is_chunk) {
        int k = expr(c, rhs);
        if (k >= 0)
            bind(c, st->list.items[0], k);
        return;
    }
    if (!is_chunk) {
        DiagMessage *m = sema_cerr(c, rhs->loc, false, "%d names are assigned but this gives one "
                                   "value", nt);
        diag_help(m, "only chunk(v, n) gives several values");
        return;
    }
    if (rhs->list.n != 2 || rhs->list.items[0]->kind == AST_NAMED_ARG ||
        rhs->list.items[1]->kind == AST_NAMED_ARG) {
        sema_cerr(c, rhs->loc, false, "chunk takes two arguments, chunk(v, n)");
        return;
    }
    int parts;
    if (sema_eval_size(c->s, rhs->list.items[1], &c->env, "the number of chunks", false,
                       &parts, NULL) < 0) {
        c->failed = true;
        return;
    }
    if (parts != nt) {
        DiagMessage *m = sema_cerr(c, st->loc, false, "chunk(..., %d) gives %d values but %d "
                                   "name%s assigned", parts, parts, nt, nt == 1 ? " is" : "s are");
        diag_help(m, "assign exactly %d names", parts);
        return;
    }
    int v = need_vector(c, rhs->list.items[0], expr(c, rhs->list.items[0]));
    if (v < 0)
        return;
    if (c->nodes[v].scalar || c->nodes[v].width % parts) {
        char d[200];
        sema_cerr(c, rhs->loc, true, "chunk(v, %d) needs a width divisible by %d, but %s", parts,
                  parts, describe(c, rhs->list.items[0], v, "v", d, sizeof d));
        return;
    }
    int w = c->nodes[v].width / parts;
    IrSym ws = sema_sym_div(c->s, c->nodes[v].width_sym, parts);
    for (int i = 0; i < nt; i++) {
        int k = sema_cell_node(c, IR_OP_SLICE, &v, 1, ir_sym_const(0), ws,
                               st->list.items[i]->loc);
        if (k < 0)
            return;
        c->nodes[k].aux = i * w;
        bind(c, st->list.items[i], k);
    }
}
