/* sema_cell: turns a cell definition into an IrCell for one use: binds the size parameters and
 * the input width, gives every state and param a concrete shape, compiles each equation into
 * per-step nodes (ops.def) with a shape check per operator, and enforces the recurrence rules
 * (x[t-1] only on states, each state assigned exactly once, no read before assignment). */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "lang/sema_int.h"

typedef enum SymKind { SYM_INPUT, SYM_STATE, SYM_PARAM, SYM_VALUE } SymKind;

/* A name visible inside the cell body. */
typedef struct CellSym {
    const char *name;
    SymKind kind;
    SrcRange loc;       /* declaration, or first assignment for values */
    int index;          /* state or param index */
    int rows, width;    /* declared shape (rows 0: a vector) */
    int node;           /* current node: INPUT/PARAM leaf, VALUE, STATE after assignment; -1 */
    int prev;           /* STATE: the node reading its t-1 value, -1 until used */
    bool used;
    bool poisoned;      /* its assignment failed (reported): later uses fail silently */
} CellSym;

typedef struct CellCtx {
    Sema *s;
    SemaCellDef *def;
    SemaEnv env;        /* size parameters and the input width name */
    const char *from;   /* where the input comes from ("embedding1 at 9:3") */
    SrcRange use;       /* the layer statement using the cell */
    CellSym *syms;
    int nsyms, syms_cap;
    IrNode *nodes;
    int nnodes, nodes_cap;
    IrState *states;
    int nstates, states_cap;
    IrParam *params;
    int nparams, params_cap;
    int in_width;
    bool failed;
} CellCtx;

static const char *const cell_functions[] = {
    "sigmoid", "tanh", "relu", "exp", "log", "sqrt", "abs", "softplus", "chunk",
};
static const IrOpKind cell_function_ops[] = {
    IR_OP_SIGMOID, IR_OP_TANH, IR_OP_RELU, IR_OP_EXP, IR_OP_LOG, IR_OP_SQRT, IR_OP_ABS,
    IR_OP_SOFTPLUS,
};
enum { NFUNCS = 9 };

/* Reports an error in the cell body; with_use adds a note naming the use site and sizes
 * (for errors that depend on them, such as shapes). */
static DiagMessage *cerr(CellCtx *c, SrcRange loc, bool with_use, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static DiagMessage *cerr(CellCtx *c, SrcRange loc, bool with_use, const char *fmt, ...)
{
    char buf[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    c->failed = true;
    DiagMessage *m = diag_error(c->s->d, loc, "%s", buf);
    if (with_use && c->use.src && !c->def->prelude) {
        char sizes[200] = "";
        size_t len = 0;
        for (int i = 0; i < c->env.n && len < sizeof sizes - 40; i++)
            len += (size_t)snprintf(sizes + len, sizeof sizes - len, "%s%s=%g", i ? ", " : "",
                                    c->env.b[i].name, c->env.b[i].value);
        diag_note(m, c->use, "in cell '%s' as used here (%s)", c->def->name, sizes);
    }
    return m;
}

static CellSym *find_sym(CellCtx *c, const char *name)
{
    for (int i = 0; i < c->nsyms; i++)
        if (strcmp(c->syms[i].name, name) == 0)
            return &c->syms[i];
    return NULL;
}

static bool in_env(CellCtx *c, const char *name)
{
    for (int i = 0; i < c->env.n; i++)
        if (strcmp(c->env.b[i].name, name) == 0)
            return true;
    return false;
}

/* Declares a new name, refusing duplicates and size-parameter names. NULL after reporting. */
static CellSym *new_sym(CellCtx *c, const char *name, SymKind k, SrcRange loc)
{
    char pos[32];
    CellSym *old = find_sym(c, name);
    if (old) {
        DiagMessage *m = cerr(c, loc, false, "'%s' is already %s at %s", name,
                              old->kind == SYM_VALUE ? "assigned" : "declared",
                              diag_pos(old->loc, pos, sizeof pos));
        if (old->kind == SYM_VALUE)
            diag_help(m, "each name is assigned once per step; use a new name");
        return NULL;
    }
    if (in_env(c, name)) {
        cerr(c, loc, false, "'%s' is a size of the cell; it cannot be redefined", name);
        return NULL;
    }
    CellSym *a = sema_grow(c->s, c->syms, c->nsyms, &c->syms_cap, sizeof *a);
    if (!a) {
        c->failed = true;
        return NULL;
    }
    c->syms = a;
    CellSym *y = &a[c->nsyms++];
    memset(y, 0, sizeof *y);
    y->name = sema_strdup(c->s, name);   /* the AST is freed after the compile */
    if (!y->name) {
        c->failed = true;
        return NULL;
    }
    y->kind = k;
    y->loc = loc;
    y->node = y->prev = -1;
    return y;
}

/* Appends a node; uses_state and scalar follow from the inputs. Returns its index or -1. */
static int add_node(CellCtx *c, IrOpKind op, const int *in, int nin, int rows, int width,
                    SrcRange loc)
{
    IrNode *a = sema_grow(c->s, c->nodes, c->nnodes, &c->nodes_cap, sizeof *a);
    int *ins = nin ? arena_alloc(&c->s->m->arena, sizeof *ins * (size_t)nin) : NULL;
    if (!a || (nin && !ins)) {
        if (a)
            sema_oom(c->s);
        c->failed = true;
        return -1;
    }
    c->nodes = a;
    IrNode *n = &a[c->nnodes];
    memset(n, 0, sizeof *n);
    n->op = op;
    n->in = ins;
    n->nin = nin;
    n->rows = rows;
    n->width = width;
    n->loc = loc;
    n->uses_state = op == IR_OP_STATE;
    n->scalar = op == IR_OP_CONST;
    if (nin && op != IR_OP_CONCAT && op != IR_OP_MATVEC) {
        n->scalar = true;
        for (int i = 0; i < nin; i++)
            n->scalar = n->scalar && a[in[i]].scalar;
    }
    for (int i = 0; i < nin; i++) {
        ins[i] = in[i];
        n->uses_state = n->uses_state || a[in[i]].uses_state;
    }
    return c->nnodes++;
}

static int const_node(CellCtx *c, double v, SrcRange loc)
{
    int k = add_node(c, IR_OP_CONST, NULL, 0, 0, 1, loc);
    if (k >= 0)
        c->nodes[k].value = v;
    return k;
}

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
        DiagMessage *m = cerr(c, e->loc, true, "%s, a matrix; it can only be used on the left "
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
        cerr(c, at, false, "unknown name '%s'; did you mean '%s'?", name, sug);
    else
        cerr(c, at, false, "unknown name '%s'", name);
    return -1;
}

/* A name read in an equation: local names first, then sizes and consts as scalars. */
static int read_name(CellCtx *c, const AstNode *e)
{
    CellSym *y = find_sym(c, e->name);
    if (!y) {
        double v;
        bool known = in_env(c, e->name) || strcmp(e->name, "vocab") == 0 ||
                     strcmp(e->name, "classes") == 0;
        for (int i = 0; !known && i < c->s->nconsts; i++)
            known = strcmp(c->s->consts[i].name, e->name) == 0;
        if (known) {
            if (sema_eval(c->s, e, &c->env, &v) < 0) {
                c->failed = true;
                return -1;
            }
            return const_node(c, v, e->loc);
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
            y->node = add_node(c, IR_OP_INPUT, NULL, 0, 0, y->width, y->loc);
        if (y->node >= 0)
            c->nodes[y->node].name = y->name;
        return y->node;
    case SYM_PARAM:
        if (y->node < 0) {
            y->node = add_node(c, IR_OP_PARAM, NULL, 0, y->rows, y->width, y->loc);
            if (y->node >= 0) {
                c->nodes[y->node].aux = y->index;
                c->nodes[y->node].name = y->name;
            }
        }
        return y->node;
    case SYM_STATE:
        if (y->node < 0) {
            DiagMessage *m = cerr(c, e->loc, false,
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
    CellSym *y = find_sym(c, e->name);
    SrcRange at = e->name_loc.src ? e->name_loc : e->loc;
    if (!y)
        return unknown_name(c, e->name, at);
    if (y->kind != SYM_STATE) {
        DiagMessage *m = cerr(c, at, false, "'%s' is not a state; only states have a value at "
                              "t-1", e->name);
        diag_help(m, "declare it with `state %s : [N]`", e->name);
        return -1;
    }
    y->used = true;
    if (y->prev < 0) {
        y->prev = add_node(c, IR_OP_STATE, NULL, 0, 0, y->width, e->loc);
        if (y->prev >= 0) {
            c->nodes[y->prev].aux = y->index;
            c->nodes[y->prev].name = y->name;
        }
    }
    return y->prev;
}

/* Folds an op on constant operands into a constant (so `1 - 0.5` or `1/sqrt(H)` is one node). */
static bool fold(IrOpKind op, double a, double b, double *out)
{
    switch (op) {
    case IR_OP_ADD: *out = a + b; return true;
    case IR_OP_SUB: *out = a - b; return true;
    case IR_OP_MUL: *out = a * b; return true;
    case IR_OP_DIV: if (b == 0) return false; *out = a / b; return true;
    case IR_OP_NEG: *out = -a; return true;
    case IR_OP_SIGMOID: *out = 1 / (1 + exp(-a)); return true;
    case IR_OP_TANH: *out = tanh(a); return true;
    case IR_OP_RELU: *out = a > 0 ? a : 0; return true;
    case IR_OP_EXP: *out = exp(a); return true;
    case IR_OP_LOG: if (a <= 0) return false; *out = log(a); return true;
    case IR_OP_SQRT: if (a < 0) return false; *out = sqrt(a); return true;
    case IR_OP_ABS: *out = fabs(a); return true;
    case IR_OP_SOFTPLUS: *out = a > 30 ? a : log1p(exp(a)); return true;
    default: return false;
    }
}

/* a @ b: needs [m, n] @ [n]. */
static int matvec(CellCtx *c, const AstNode *e, int a, int b)
{
    char da[200], db[200];
    const IrNode *x = &c->nodes[a], *y = &c->nodes[b];
    if (!x->rows || y->rows || y->scalar || x->width != y->width) {
        DiagMessage *m = cerr(c, e->loc, true, "'@' needs [m, n] @ [n]: %s but %s",
                              describe(c, e->a, a, "the left operand", da, sizeof da),
                              describe(c, e->b, b, "the right operand", db, sizeof db));
        if (!x->rows)
            diag_help(m, "the left side of '@' must be a matrix param, e.g. `param W : [H, I]`");
        return -1;
    }
    int in[2] = { a, b };
    return add_node(c, IR_OP_MATVEC, in, 2, 0, x->rows, e->loc);
}

/* Elementwise a op b: equal widths or a scalar on either side. */
static int elementwise(CellCtx *c, const AstNode *e, IrOpKind op, int a, int b)
{
    const IrNode *x = &c->nodes[a], *y = &c->nodes[b];
    double v;
    if (x->op == IR_OP_CONST && y->op == IR_OP_CONST && fold(op, x->value, y->value, &v))
        return const_node(c, v, e->loc);
    if (!x->scalar && !y->scalar && x->width != y->width) {
        char da[200], db[200];
        cerr(c, e->loc, true, "'%c' needs operands of equal width or a scalar: %s but %s",
             e->op, describe(c, e->a, a, "the left operand", da, sizeof da),
             describe(c, e->b, b, "the right operand", db, sizeof db));
        return -1;
    }
    int in[2] = { a, b };
    int w = x->scalar ? y->width : x->width;
    return add_node(c, op, in, 2, 0, w, e->loc);
}

/* f(v) for the functions of the language (chunk only in a tuple assignment). */
static int call(CellCtx *c, const AstNode *e)
{
    int f = -1;
    for (int i = 0; i < NFUNCS; i++)
        if (strcmp(cell_functions[i], e->name) == 0)
            f = i;
    SrcRange at = e->name_loc.src ? e->name_loc : e->loc;
    if (f < 0) {
        const char *sug = sema_suggest(e->name, cell_functions, NFUNCS);
        char list[200];
        DiagMessage *m;
        if (sug)
            m = cerr(c, at, false, "unknown function '%s'; did you mean '%s'?", e->name, sug);
        else
            m = cerr(c, at, false, "unknown function '%s'", e->name);
        diag_help(m, "functions are %s", sema_join(cell_functions, NFUNCS, list, sizeof list));
        return -1;
    }
    if (f == NFUNCS - 1) {
        DiagMessage *m = cerr(c, e->loc, false, "chunk(...) gives several values; assign them "
                              "to as many names");
        diag_help(m, "write e.g. `a, b = chunk(v, 2)`");
        return -1;
    }
    if (e->list.n != 1 || e->list.items[0]->kind == AST_NAMED_ARG) {
        cerr(c, e->loc, false, "%s takes one argument, got %d", e->name, e->list.n);
        return -1;
    }
    int a = need_vector(c, e->list.items[0], expr(c, e->list.items[0]));
    if (a < 0)
        return -1;
    double v;
    if (c->nodes[a].op == IR_OP_CONST && fold(cell_function_ops[f], c->nodes[a].value, 0, &v))
        return const_node(c, v, e->loc);
    return add_node(c, cell_function_ops[f], &a, 1, 0, c->nodes[a].width, e->loc);
}

/* [a, b, ...]: concatenation of vectors. */
static int concat(CellCtx *c, const AstNode *e)
{
    int *in = arena_alloc(&c->s->tmp, sizeof *in * (size_t)(e->list.n + 1));
    int w = 0;
    if (!in) {
        sema_oom(c->s);
        return -1;
    }
    if (e->list.n == 0) {
        cerr(c, e->loc, false, "an empty concatenation '[]'");
        return -1;
    }
    for (int i = 0; i < e->list.n; i++) {
        in[i] = need_vector(c, e->list.items[i], expr(c, e->list.items[i]));
        if (in[i] < 0)
            return -1;
        if (c->nodes[in[i]].scalar) {
            cerr(c, e->list.items[i]->loc, false, "a scalar cannot be concatenated; [a, b] "
                 "joins vectors");
            return -1;
        }
        if ((int64_t)w + c->nodes[in[i]].width > SEMA_MAX_SIZE) {
            cerr(c, e->loc, true, "the concatenation is too wide (the limit is %d)",
                 SEMA_MAX_SIZE);
            return -1;
        }
        w += c->nodes[in[i]].width;
    }
    return add_node(c, IR_OP_CONCAT, in, e->list.n, 0, w, e->loc);
}

/* Compiles one expression of a cell equation into nodes; returns the result node or -1. */
static int expr(CellCtx *c, const AstNode *e)
{
    int a, b;
    double v;
    switch (e->kind) {
    case AST_NUM:
        return const_node(c, e->num, e->loc);
    case AST_IDENT:
        return read_name(c, e);
    case AST_PREV:
        return read_prev(c, e);
    case AST_UNARY:
        a = need_vector(c, e->a, expr(c, e->a));
        if (a < 0)
            return -1;
        if (c->nodes[a].op == IR_OP_CONST && fold(IR_OP_NEG, c->nodes[a].value, 0, &v))
            return const_node(c, v, e->loc);
        return add_node(c, IR_OP_NEG, &a, 1, 0, c->nodes[a].width, e->loc);
    case AST_BINARY:
        a = expr(c, e->a);
        b = expr(c, e->b);
        if (a < 0 || b < 0)
            return -1;
        if (e->op == '@')
            return matvec(c, e, a, b);
        if (need_vector(c, e->a, a) < 0 || need_vector(c, e->b, b) < 0)
            return -1;
        return elementwise(c, e, e->op == '+' ? IR_OP_ADD : e->op == '-' ? IR_OP_SUB
                                 : e->op == '*' ? IR_OP_MUL : IR_OP_DIV, a, b);
    case AST_CALL:
        return call(c, e);
    case AST_CONCAT:
        return concat(c, e);
    case AST_ERROR:
        c->failed = true;
        return -1;
    default:
        cerr(c, e->loc, false, "this cannot be used in an equation");
        return -1;
    }
}

/* Binds an assignment target to a node: a state's value for this step, or a new name. */
static void bind(CellCtx *c, const AstNode *t, int node)
{
    char pos[32], shape[48];
    CellSym *y = find_sym(c, t->name);
    IrNode *n = &c->nodes[node];
    if (y && y->kind == SYM_STATE) {
        if (y->node >= 0) {
            DiagMessage *m = cerr(c, t->loc, false, "state '%s' is assigned twice in one step",
                                  y->name);
            diag_help(m, "each state is assigned exactly once per step; the first assignment "
                      "is at %s", diag_pos(c->nodes[y->node].loc, pos, sizeof pos));
            return;
        }
        if (n->rows || n->scalar || n->width != y->width) {
            cerr(c, t->loc, true, "state '%s' is [%d] but is assigned %s", y->name, y->width,
                 shape_str(n, shape, sizeof shape));
            y->poisoned = true;
            return;
        }
        y->node = node;
        y->used = true;
        if (!n->name)
            n->name = y->name;      /* "c = +" in DOT and messages */
        return;
    }
    if (y && (y->kind == SYM_INPUT || y->kind == SYM_PARAM)) {
        cerr(c, t->loc, false, "%s '%s' cannot be assigned", y->kind == SYM_INPUT ? "input"
             : "param", y->name);
        return;
    }
    y = new_sym(c, t->name, SYM_VALUE, t->loc);
    if (!y)
        return;
    y->node = node;
    y->rows = n->rows;
    y->width = n->width;
    if (!n->name)
        n->name = y->name;
}

/* After a failed assignment (already reported), marks its targets so that their later uses
 * and "never assigned" checks do not repeat the error. */
static void poison(CellCtx *c, const AstNode *st)
{
    for (int i = 0; i < st->list.n; i++) {
        const AstNode *t = st->list.items[i];
        CellSym *y = find_sym(c, t->name);
        if (!y && !in_env(c, t->name))
            y = new_sym(c, t->name, SYM_VALUE, t->loc);
        if (y && (y->kind == SYM_STATE || y->kind == SYM_VALUE) && y->node < 0)
            y->poisoned = true;
    }
}

/* targets = rhs, including `a, b, ... = chunk(v, n)`. */
static void assign(CellCtx *c, const AstNode *st)
{
    bool failed = c->failed;
    c->failed = false;
    assign1(c, st);
    if (c->failed)
        poison(c, st);
    c->failed = c->failed || failed;
}

/* One assignment statement (see assign). */
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
        DiagMessage *m = cerr(c, rhs->loc, false, "%d names are assigned but this gives one "
                              "value", nt);
        diag_help(m, "only chunk(v, n) gives several values");
        return;
    }
    if (rhs->list.n != 2 || rhs->list.items[0]->kind == AST_NAMED_ARG ||
        rhs->list.items[1]->kind == AST_NAMED_ARG) {
        cerr(c, rhs->loc, false, "chunk takes two arguments, chunk(v, n)");
        return;
    }
    int parts;
    if (sema_eval_size(c->s, rhs->list.items[1], &c->env, "the number of chunks", false,
                       &parts) < 0) {
        c->failed = true;
        return;
    }
    if (parts != nt) {
        DiagMessage *m = cerr(c, st->loc, false, "chunk(..., %d) gives %d values but %d "
                              "name%s assigned", parts, parts, nt, nt == 1 ? " is" : "s are");
        diag_help(m, "assign exactly %d names", parts);
        return;
    }
    int v = need_vector(c, rhs->list.items[0], expr(c, rhs->list.items[0]));
    if (v < 0)
        return;
    if (c->nodes[v].scalar || c->nodes[v].width % parts) {
        char d[200];
        cerr(c, rhs->loc, true, "chunk(v, %d) needs a width divisible by %d, but %s", parts,
             parts, describe(c, rhs->list.items[0], v, "v", d, sizeof d));
        return;
    }
    int w = c->nodes[v].width / parts;
    for (int i = 0; i < nt; i++) {
        int k = add_node(c, IR_OP_SLICE, &v, 1, 0, w, st->list.items[i]->loc);
        if (k < 0)
            return;
        c->nodes[k].aux = i * w;
        bind(c, st->list.items[i], k);
    }
}

/* input x : [I] -- binds I to the layer's input width (or checks it when already known). */
static void declare_input(CellCtx *c, const AstNode *decl)
{
    CellSym *y = new_sym(c, decl->name, SYM_INPUT, decl->loc);
    if (!y)
        return;
    y->width = c->in_width;
    if (decl->list.n != 1) {
        cerr(c, decl->loc, false, "input '%s' must be a vector: [N]", decl->name);
        return;
    }
    const AstNode *dim = decl->list.items[0];
    bool free_name = dim->kind == AST_IDENT && !in_env(c, dim->name) &&
                     strcmp(dim->name, "vocab") && strcmp(dim->name, "classes");
    for (int i = 0; free_name && i < c->s->nconsts; i++)
        free_name = strcmp(c->s->consts[i].name, dim->name) != 0;
    if (free_name) {
        if (c->env.n == SEMA_MAX_ENV) {
            cerr(c, dim->loc, false, "too many size names");
            return;
        }
        c->env.b[c->env.n].name = dim->name;
        c->env.b[c->env.n++].value = c->in_width;
        return;
    }
    int w;
    if (sema_eval_size(c->s, dim, &c->env, "the input width", false, &w) < 0) {
        c->failed = true;
        return;
    }
    if (w != c->in_width) {
        DiagMessage *m = cerr(c, dim->loc, true, "input '%s' is declared [%d] but the layer's "
                              "input is [%d] (it comes from %s)", decl->name, w, c->in_width,
                              c->from ? c->from : "the previous layer");
        diag_help(m, "declare `input %s : [I]` to accept any width", decl->name);
        y->width = w;   /* check the equations against the declaration, not again */
    }
}

/* state h : [H] */
static void declare_state(CellCtx *c, const AstNode *decl)
{
    CellSym *y = new_sym(c, decl->name, SYM_STATE, decl->loc);
    if (!y)
        return;
    if (decl->list.n != 1) {
        cerr(c, decl->loc, false, "state '%s' must be a vector: [N]", decl->name);
        return;
    }
    char what[96];
    snprintf(what, sizeof what, "the width of state '%s'", decl->name);
    if (sema_eval_size(c->s, decl->list.items[0], &c->env, what, false, &y->width) < 0) {
        c->failed = true;
        return;
    }
    IrState *a = sema_grow(c->s, c->states, c->nstates, &c->states_cap, sizeof *a);
    if (!a) {
        c->failed = true;
        return;
    }
    c->states = a;
    y->index = c->nstates;
    a[c->nstates].name = y->name;
    a[c->nstates].width = y->width;
    a[c->nstates++].next = -1;
}

/* An initialiser: uniform(a, b), normal(std), orthogonal[(gain)] or a constant. */
static int eval_init(CellCtx *c, const AstNode *e, bool matrix, IrInit *out)
{
    static const char *const inits[] = { "uniform", "normal", "orthogonal" };
    memset(out, 0, sizeof *out);
    if (e->kind == AST_IDENT && strcmp(e->name, "orthogonal") == 0) {
        e = NULL;
    } else if (e->kind != AST_CALL || strcmp(e->name, "sqrt") == 0 ||
               strcmp(e->name, "exp") == 0 || strcmp(e->name, "log") == 0 ||
               strcmp(e->name, "abs") == 0) {
        out->kind = IR_INIT_CONST;
        return sema_eval(c->s, e, &c->env, &out->a);
    }
    const char *name = e ? e->name : "orthogonal";
    int k = -1;
    for (int i = 0; i < 3; i++)
        if (strcmp(name, inits[i]) == 0)
            k = i;
    if (k < 0) {
        const char *sug = sema_suggest(name, inits, 3);
        DiagMessage *m = cerr(c, e->name_loc.src ? e->name_loc : e->loc, false,
                              "unknown initialiser '%s'%s%s%s", name,
                              sug ? "; did you mean '" : "", sug ? sug : "", sug ? "'?" : "");
        diag_help(m, "initialisers are uniform(a, b), normal(std), orthogonal, or a number");
        return -1;
    }
    int nargs = e ? e->list.n : 0;
    int want_min = k == 0 ? 2 : k == 1 ? 1 : 0, want_max = k == 2 ? 1 : want_min;
    if (nargs < want_min || nargs > want_max) {
        cerr(c, e->loc, false, "%s takes %s, got %d argument%s", name,
             k == 0 ? "two arguments (a, b)" : k == 1 ? "one argument (std)"
                                             : "at most one argument (gain)",
             nargs, nargs == 1 ? "" : "s");
        return -1;
    }
    double v[2] = { k == 2 ? 1.0 : 0, 0 };
    for (int i = 0; i < nargs; i++) {
        const AstNode *arg = e->list.items[i];
        if (arg->kind == AST_NAMED_ARG)
            arg = arg->a;
        if (sema_eval(c->s, arg, &c->env, &v[i]) < 0)
            return -1;
    }
    out->kind = k == 0 ? IR_INIT_UNIFORM : k == 1 ? IR_INIT_NORMAL : IR_INIT_ORTHOGONAL;
    out->a = v[0];
    out->b = v[1];
    if (k == 0 && !(v[0] <= v[1])) {
        cerr(c, e->loc, false, "uniform(a, b) needs a <= b, got a = %g, b = %g", v[0], v[1]);
        return -1;
    }
    if (k == 1 && !(v[0] >= 0)) {
        cerr(c, e->loc, false, "normal(std) needs std >= 0, got %g", v[0]);
        return -1;
    }
    if (k == 2 && !matrix) {
        cerr(c, e->loc, false, "orthogonal initialises a matrix; this param is a vector");
        return -1;
    }
    return 0;
}

/* param W : [4*H, I], U : [4*H, H] = init -- every tensor on the line shares the init. */
static void declare_params(CellCtx *c, const AstNode *st)
{
    for (int i = 0; i < st->list.n; i++) {
        const AstNode *decl = st->list.items[i];
        CellSym *y = new_sym(c, decl->name, SYM_PARAM, decl->loc);
        if (!y)
            continue;
        if (decl->list.n < 1 || decl->list.n > 2) {
            cerr(c, decl->loc, false, "param '%s' must be a vector [N] or a matrix [M, N]",
                 decl->name);
            continue;
        }
        int dims[2];
        bool ok = true;
        for (int k = 0; k < decl->list.n; k++) {
            char what[96];
            snprintf(what, sizeof what, "dimension %d of param '%s'", k + 1, decl->name);
            ok = ok && sema_eval_size(c->s, decl->list.items[k], &c->env, what, false,
                                      &dims[k]) == 0;
        }
        if (!ok) {
            c->failed = true;
            continue;
        }
        y->rows = decl->list.n == 2 ? dims[0] : 0;
        y->width = dims[decl->list.n - 1];
        IrInit init;
        if (st->init) {
            if (eval_init(c, st->init, y->rows > 0, &init) < 0) {
                c->failed = true;
                continue;
            }
        } else {
            /* PyTorch's default for recurrent layers: uniform(-1/sqrt(H), 1/sqrt(H)), H the
             * first size parameter (or the first state's width for a cell without one). */
            double h = c->def->def->params.n ? c->env.b[0].value
                       : c->nstates ? c->states[0].width : y->width;
            init.kind = IR_INIT_UNIFORM;
            init.a = -1 / sqrt(h);
            init.b = 1 / sqrt(h);
        }
        IrParam *a = sema_grow(c->s, c->params, c->nparams, &c->params_cap, sizeof *a);
        if (!a) {
            c->failed = true;
            return;
        }
        c->params = a;
        y->index = c->nparams;
        a[c->nparams].name = y->name;
        a[c->nparams].rows = y->rows;
        a[c->nparams].cols = y->width;
        a[c->nparams].init = init;
        a[c->nparams++].tensor = -1;
    }
}

/* Warns (once per definition, user cells only) about declared names the equations never use. */
static void warn_unused(CellCtx *c)
{
    if (c->def->prelude || c->def->warned)
        return;
    c->def->warned = true;
    for (int i = 0; i < c->nsyms; i++) {
        CellSym *y = &c->syms[i];
        if (y->used)
            continue;
        const char *what = y->kind == SYM_INPUT ? "input" : y->kind == SYM_PARAM ? "param"
                         : y->kind == SYM_VALUE ? "value" : NULL;
        if (what)
            diag_warning(c->s->d, y->loc, "%s '%s' is never used", what, y->name);
    }
}

int sema_cell_instance(Sema *s, SemaCellDef *def, const SemaEnv *env, int in_width,
                       const char *from, SrcRange use, IrCell *out)
{
    if (def->failed)
        return -1;
    CellCtx c = { 0 };
    c.s = s;
    c.def = def;
    c.env = *env;
    c.from = from;
    c.use = use;
    c.in_width = in_width;
    const AstList *body = &def->def->list;
    const AstNode *output = NULL, *input = NULL;

    /* 1: the input binds its width name; 2: states and params; 3: equations in order. */
    for (int i = 0; i < body->n; i++) {
        const AstNode *st = body->items[i];
        if (st->kind != AST_CELL_INPUT)
            continue;
        for (int k = 0; k < st->list.n; k++) {
            if (input) {
                cerr(&c, st->list.items[k]->loc, false, "a cell has one input; '%s' is a "
                     "second one", st->list.items[k]->name);
                continue;
            }
            input = st->list.items[k];
            declare_input(&c, input);
        }
    }
    if (!input) {
        DiagMessage *m = cerr(&c, def->def->name_loc, false, "cell '%s' has no input",
                              def->name);
        diag_help(m, "declare it with `input x : [I]`");
    }
    for (int i = 0; i < body->n; i++) {
        const AstNode *st = body->items[i];
        if (st->kind == AST_CELL_STATE)
            for (int k = 0; k < st->list.n; k++)
                declare_state(&c, st->list.items[k]);
        else if (st->kind == AST_CELL_PARAM)
            declare_params(&c, st);
    }
    for (int i = 0; i < body->n; i++) {
        const AstNode *st = body->items[i];
        if (st->kind == AST_ASSIGN) {
            assign(&c, st);
        } else if (st->kind == AST_CELL_OUTPUT) {
            if (output) {
                cerr(&c, st->loc, false, "a cell has one output statement");
                continue;
            }
            output = st;
            if (st->list.n != 1)
                cerr(&c, st->loc, false, "a cell has one output; this names %d", st->list.n);
        } else if (st->kind == AST_ERROR) {
            c.failed = true;
        }
    }
    for (int i = 0; i < c.nsyms; i++)
        if (c.syms[i].kind == SYM_STATE) {
            if (c.syms[i].node < 0 && c.syms[i].width > 0 && !c.syms[i].poisoned) {
                DiagMessage *m = cerr(&c, c.syms[i].loc, false, "state '%s' is never assigned",
                                      c.syms[i].name);
                diag_help(m, "assign it once per step: `%s = ...`", c.syms[i].name);
            } else if (c.syms[i].index < c.nstates) {
                c.states[c.syms[i].index].next = c.syms[i].node;
            }
        }
    int onode = -1;
    if (!output) {
        DiagMessage *m = cerr(&c, def->def->name_loc, false, "cell '%s' has no output",
                              def->name);
        diag_help(m, "end it with `output h`");
    } else if (output->list.n == 1) {
        const AstNode *o = output->list.items[0];
        CellSym *y = find_sym(&c, o->name);
        if (!y) {
            cerr(&c, o->loc, false, "unknown name '%s' in output", o->name);
        } else if (y->kind == SYM_PARAM) {
            cerr(&c, o->loc, false, "the output must be a value of the step, not param '%s'",
                 o->name);
        } else {
            y->used = true;
            onode = y->kind == SYM_INPUT ? read_name(&c, o) : y->node;
            if (onode >= 0 && (c.nodes[onode].scalar || c.nodes[onode].rows)) {
                cerr(&c, o->loc, false, "the output must be a vector, but '%s' is a scalar",
                     o->name);
                onode = -1;
            }
        }
    }
    if (!c.failed)
        warn_unused(&c);
    if (c.failed || onode < 0) {
        def->failed = true;
        return -1;
    }
    memset(out, 0, sizeof *out);
    out->name = sema_strdup(s, def->name);
    out->input_width = in_width;
    out->states = c.states;
    out->nstates = c.nstates;
    out->params = c.params;
    out->nparams = c.nparams;
    out->nodes = c.nodes;
    out->nnodes = c.nnodes;
    out->output = onode;
    return 0;
}
