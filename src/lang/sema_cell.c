/* sema_cell: turns a cell definition into an IrCell for one use: binds the size parameters and
 * the input width, gives every state and param a concrete shape, compiles each equation into
 * per-step nodes (ops.def) with a shape check per operator, and enforces the recurrence rules
 * (x[t-1] only on states, each state assigned exactly once, no read before assignment).
 *
 * The compiler of a cell is split in three: this file (declarations of inputs, states and params,
 * and the checks on the whole cell), sema_cell_eq.c (equations) and sema_cell_ctx.c (names, nodes
 * and messages); sema_cell_int.h holds the context they share. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "lang/sema_cell_int.h"

/* input x : [I] -- binds I to the layer's input width (or checks it when already known). */
static void declare_input(CellCtx *c, const AstNode *decl)
{
    CellSym *y = sema_cell_new_sym(c, decl->name, SYM_INPUT, decl->loc);
    if (!y)
        return;
    y->width = c->in_width;
    y->width_sym = c->in_sym;
    if (decl->list.n != 1) {
        sema_cerr(c, decl->loc, false, "input '%s' must be a vector: [N]", decl->name);
        return;
    }
    const AstNode *dim = decl->list.items[0];
    bool free_name = dim->kind == AST_IDENT && !sema_cell_in_env(c, dim->name) &&
                     strcmp(dim->name, "vocab") && strcmp(dim->name, "classes");
    for (int i = 0; free_name && i < c->s->nconsts; i++)
        free_name = strcmp(c->s->consts[i].name, dim->name) != 0;
    if (free_name) {
        if (c->env.n == SEMA_MAX_ENV) {
            sema_cerr(c, dim->loc, false, "too many size names");
            return;
        }
        c->env.b[c->env.n].name = dim->name;
        c->env.b[c->env.n].sym = c->in_sym;
        c->env.b[c->env.n++].value = c->in_width;
        return;
    }
    int w;
    IrSym ws;
    if (sema_eval_size(c->s, dim, &c->env, "the input width", false, &w, &ws) < 0) {
        c->failed = true;
        return;
    }
    if (w == c->in_width)
        sema_sym_same(c->s, ws, c->in_sym);
    if (w != c->in_width) {
        DiagMessage *m = sema_cerr(c, dim->loc, true, "input '%s' is declared [%d] but the layer's "
                                   "input is [%d] (it comes from %s)", decl->name, w, c->in_width,
                                   c->from ? c->from : "the previous layer");
        diag_help(m, "declare `input %s : [I]` to accept any width", decl->name);
        y->width = w;   /* check the equations against the declaration, not again */
        y->width_sym = ws;
    }
}

/* state h : [H] */
static void declare_state(CellCtx *c, const AstNode *decl)
{
    CellSym *y = sema_cell_new_sym(c, decl->name, SYM_STATE, decl->loc);
    if (!y)
        return;
    if (decl->list.n != 1) {
        sema_cerr(c, decl->loc, false, "state '%s' must be a vector: [N]", decl->name);
        return;
    }
    char what[96];
    snprintf(what, sizeof what, "the width of state '%s'", decl->name);
    if (sema_eval_size(c->s, decl->list.items[0], &c->env, what, false, &y->width,
                       &y->width_sym) < 0) {
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
    a[c->nstates].width_sym = y->width_sym;
    a[c->nstates++].next = -1;
}

/* A number of an initialiser (its value: --explain shows no initialiser, so a bound in terms
 * of an unbound size leaves the sizes exact). */
static int init_number(CellCtx *c, const AstNode *e, double *out)
{
    SemaNum x;
    if (sema_eval_num(c->s, e, &c->env, &x) < 0)
        return -1;
    *out = x.value;
    return 0;
}

/* An initialiser: uniform(a, b), normal(std), orthogonal[(gain)] or a constant. */
static int eval_init(CellCtx *c, const AstNode *e, bool matrix, IrInit *out)
{
    static const char *const inits[] = { "uniform", "normal", "orthogonal" };
    memset(out, 0, sizeof *out);
    if (e->kind == AST_IDENT && strcmp(e->name, "orthogonal") == 0) {
        e = NULL;
    } else if (e->kind != AST_CALL || sema_is_num_function(e->name)) {
        out->kind = IR_INIT_CONST;
        return init_number(c, e, &out->a);
    }
    const char *name = e ? e->name : "orthogonal";
    int k = -1;
    for (int i = 0; i < 3; i++)
        if (strcmp(name, inits[i]) == 0)
            k = i;
    if (k < 0) {
        const char *sug = sema_suggest(name, inits, 3);
        DiagMessage *m = sema_cerr(c, e->name_loc.src ? e->name_loc : e->loc, false,
                                   "unknown initialiser '%s'%s%s%s", name,
                                   sug ? "; did you mean '" : "", sug ? sug : "", sug ? "'?" : "");
        diag_help(m, "initialisers are uniform(a, b), normal(std), orthogonal, or a number");
        return -1;
    }
    int nargs = e ? e->list.n : 0;
    int want_min = k == 0 ? 2 : k == 1 ? 1 : 0, want_max = k == 2 ? 1 : want_min;
    if (nargs < want_min || nargs > want_max) {
        sema_cerr(c, e->loc, false, "%s takes %s, got %d argument%s", name,
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
        if (init_number(c, arg, &v[i]) < 0)
            return -1;
    }
    out->kind = k == 0 ? IR_INIT_UNIFORM : k == 1 ? IR_INIT_NORMAL : IR_INIT_ORTHOGONAL;
    out->a = v[0];
    out->b = v[1];
    if (k == 0 && !(v[0] <= v[1])) {
        sema_cerr(c, e->loc, false, "uniform(a, b) needs a <= b, got a = %g, b = %g", v[0], v[1]);
        return -1;
    }
    if (k == 1 && !(v[0] >= 0)) {
        sema_cerr(c, e->loc, false, "normal(std) needs std >= 0, got %g", v[0]);
        return -1;
    }
    if (k == 2 && !matrix) {
        sema_cerr(c, e->loc, false, "orthogonal initialises a matrix; this param is a vector");
        return -1;
    }
    return 0;
}

/* param W : [4*H, I], U : [4*H, H] = init -- every tensor on the line shares the init. */
static void declare_params(CellCtx *c, const AstNode *st)
{
    for (int i = 0; i < st->list.n; i++) {
        const AstNode *decl = st->list.items[i];
        CellSym *y = sema_cell_new_sym(c, decl->name, SYM_PARAM, decl->loc);
        if (!y)
            continue;
        if (decl->list.n < 1 || decl->list.n > 2) {
            sema_cerr(c, decl->loc, false, "param '%s' must be a vector [N] or a matrix [M, N]",
                      decl->name);
            continue;
        }
        int dims[2];
        IrSym syms[2];
        bool ok = true;
        for (int k = 0; k < decl->list.n; k++) {
            char what[96];
            snprintf(what, sizeof what, "dimension %d of param '%s'", k + 1, decl->name);
            ok = ok && sema_eval_size(c->s, decl->list.items[k], &c->env, what, false,
                                      &dims[k], &syms[k]) == 0;
        }
        if (!ok) {
            c->failed = true;
            continue;
        }
        y->rows = decl->list.n == 2 ? dims[0] : 0;
        y->rows_sym = decl->list.n == 2 ? syms[0] : ir_sym_const(0);
        y->width = dims[decl->list.n - 1];
        y->width_sym = syms[decl->list.n - 1];
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
        a[c->nparams].rows_sym = y->rows_sym;
        a[c->nparams].cols_sym = y->width_sym;
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

/* Pass 1: the single input statement binds the cell's input width name. */
static void declare_the_input(CellCtx *c, const AstList *body)
{
    const AstNode *input = NULL;
    for (int i = 0; i < body->n; i++) {
        const AstNode *st = body->items[i];
        if (st->kind != AST_CELL_INPUT)
            continue;
        for (int k = 0; k < st->list.n; k++) {
            if (input) {
                sema_cerr(c, st->list.items[k]->loc, false, "a cell has one input; '%s' is a "
                          "second one", st->list.items[k]->name);
                continue;
            }
            input = st->list.items[k];
            declare_input(c, input);
        }
    }
    if (!input) {
        DiagMessage *m = sema_cerr(c, c->def->def->name_loc, false, "cell '%s' has no input",
                                   c->def->name);
        diag_help(m, "declare it with `input x : [I]`");
    }
}

/* Pass 3: the equations in order; returns the output statement (NULL when there is none). */
static const AstNode *compile_equations(CellCtx *c, const AstList *body)
{
    const AstNode *output = NULL;
    for (int i = 0; i < body->n; i++) {
        const AstNode *st = body->items[i];
        if (st->kind == AST_ASSIGN) {
            sema_cell_assign(c, st);
        } else if (st->kind == AST_CELL_OUTPUT) {
            if (output) {
                sema_cerr(c, st->loc, false, "a cell has one output statement");
                continue;
            }
            output = st;
            if (st->list.n != 1)
                sema_cerr(c, st->loc, false, "a cell has one output; this names %d", st->list.n);
        } else if (st->kind == AST_ERROR) {
            c->failed = true;
        }
    }
    return output;
}

/* Every state must be assigned once per step; its last assignment is its next value. */
static void link_states(CellCtx *c)
{
    for (int i = 0; i < c->nsyms; i++) {
        CellSym *y = &c->syms[i];
        if (y->kind != SYM_STATE)
            continue;
        if (y->node < 0 && y->width > 0 && !y->poisoned) {
            DiagMessage *m = sema_cerr(c, y->loc, false, "state '%s' is never assigned",
                                       y->name);
            diag_help(m, "assign it once per step: `%s = ...`", y->name);
        } else if (y->index < c->nstates) {
            c->states[y->index].next = y->node;
        }
    }
}

/* The node of `output NAME`: a vector value of the step (not a param or a scalar); -1 after
 * reporting. */
static int output_node(CellCtx *c, const AstNode *output)
{
    if (!output) {
        DiagMessage *m = sema_cerr(c, c->def->def->name_loc, false, "cell '%s' has no output",
                                   c->def->name);
        diag_help(m, "end it with `output h`");
        return -1;
    }
    if (output->list.n != 1)
        return -1;
    const AstNode *o = output->list.items[0];
    CellSym *y = sema_cell_find(c, o->name);
    if (!y) {
        sema_cerr(c, o->loc, false, "unknown name '%s' in output", o->name);
        return -1;
    }
    if (y->kind == SYM_PARAM) {
        sema_cerr(c, o->loc, false, "the output must be a value of the step, not param '%s'",
                  o->name);
        return -1;
    }
    y->used = true;
    int onode = y->kind == SYM_INPUT ? sema_cell_read_name(c, o) : y->node;
    if (onode >= 0 && (c->nodes[onode].scalar || c->nodes[onode].rows)) {
        sema_cerr(c, o->loc, false, "the output must be a vector, but '%s' is a scalar", o->name);
        return -1;
    }
    return onode;
}

/* Instantiates a cell in three passes: the input binds its width name; states and params are
 * declared; the equations are compiled in order. Then states and the output are checked. */
int sema_cell_instance(Sema *s, SemaCellDef *def, const SemaEnv *env, IrSym in_width,
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
    c.in_width = sema_sym_int(s, in_width);
    c.in_sym = in_width;
    const AstList *body = &def->def->list;
    declare_the_input(&c, body);
    for (int i = 0; i < body->n; i++) {
        const AstNode *st = body->items[i];
        if (st->kind == AST_CELL_STATE)
            for (int k = 0; k < st->list.n; k++)
                declare_state(&c, st->list.items[k]);
        else if (st->kind == AST_CELL_PARAM)
            declare_params(&c, st);
    }
    const AstNode *output = compile_equations(&c, body);
    link_states(&c);
    int onode = output_node(&c, output);
    if (!c.failed)
        warn_unused(&c);
    if (c.failed || onode < 0) {
        def->failed = true;
        return -1;
    }
    memset(out, 0, sizeof *out);
    out->name = sema_strdup(s, def->name);
    out->input_width = c.in_width;
    out->input_width_sym = in_width;
    out->states = c.states;
    out->nstates = c.nstates;
    out->params = c.params;
    out->nparams = c.nparams;
    out->nodes = c.nodes;
    out->nnodes = c.nnodes;
    out->output = onode;
    return 0;
}
