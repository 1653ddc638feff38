/* sema_cell_ctx: the bookkeeping of compiling a cell -- its names (inputs, states, params,
 * values), the nodes appended to its step graph, and error messages that name the use site.
 * Separate from the equations (sema_cell_eq.c) and declarations (sema_cell.c), which use it. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "lang/sema_cell_int.h"

/* Reports an error in the cell body; with_use adds a note naming the use site and sizes
 * (for errors that depend on them, such as shapes). */
DiagMessage *sema_cerr(CellCtx *c, SrcRange loc, bool with_use, const char *fmt, ...)
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

CellSym *sema_cell_find(CellCtx *c, const char *name)
{
    for (int i = 0; i < c->nsyms; i++)
        if (strcmp(c->syms[i].name, name) == 0)
            return &c->syms[i];
    return NULL;
}

bool sema_cell_in_env(CellCtx *c, const char *name)
{
    for (int i = 0; i < c->env.n; i++)
        if (strcmp(c->env.b[i].name, name) == 0)
            return true;
    return false;
}

/* Declares a new name, refusing duplicates and size-parameter names. NULL after reporting. */
CellSym *sema_cell_new_sym(CellCtx *c, const char *name, SymKind k, SrcRange loc)
{
    char pos[32];
    CellSym *old = sema_cell_find(c, name);
    if (old) {
        DiagMessage *m = sema_cerr(c, loc, false, "'%s' is already %s at %s", name,
                                   old->kind == SYM_VALUE ? "assigned" : "declared",
                                   diag_pos(old->loc, pos, sizeof pos));
        if (old->kind == SYM_VALUE)
            diag_help(m, "each name is assigned once per step; use a new name");
        return NULL;
    }
    if (sema_cell_in_env(c, name)) {
        sema_cerr(c, loc, false, "'%s' is a size of the cell; it cannot be redefined", name);
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
int sema_cell_node(CellCtx *c, IrOpKind op, const int *in, int nin, IrSym rows, IrSym width,
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
    n->rows = sema_sym_int(c->s, rows);
    n->width = sema_sym_int(c->s, width);
    n->rows_sym = rows;
    n->width_sym = width;
    n->loc = loc;
    n->uses_state = op == IR_OP_STATE;
    n->scalar = op == IR_OP_CONST;
    if (nin && ir_op_shape[op] != IR_SHAPE_CONCAT && ir_op_shape[op] != IR_SHAPE_MATVEC) {
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

int sema_cell_const(CellCtx *c, double v, SrcRange loc)
{
    int k = sema_cell_node(c, IR_OP_CONST, NULL, 0, ir_sym_const(0), ir_sym_const(1), loc);
    if (k >= 0)
        c->nodes[k].value = v;
    return k;
}
