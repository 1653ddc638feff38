/* sema_cell_int: the context of compiling one cell instance, shared by the parts of
 * src/lang/sema_cell*.c (sema_cell.c: declarations and the whole instance; sema_cell_ctx.c: names,
 * nodes and messages; sema_cell_eq.c: equations and assignments). Internal to those files.
 *
 * Ownership: the CellCtx tables live in Sema.tmp and the IrCell arrays in the model's arena (as
 * sema_int.h says); nothing here is freed separately. */
#ifndef RECUR_SEMA_CELL_INT_H
#define RECUR_SEMA_CELL_INT_H

#include <stdbool.h>
#include <stddef.h>

#include "lang/sema_int.h"

typedef enum SymKind { SYM_INPUT, SYM_STATE, SYM_PARAM, SYM_VALUE } SymKind;

/* A name visible inside the cell body. */
typedef struct CellSym {
    const char *name;
    SymKind kind;
    SrcRange loc;       /* declaration, or first assignment for values */
    int index;          /* state or param index */
    int rows, width;    /* declared shape (rows 0: a vector) */
    IrSym rows_sym, width_sym;  /* the same as forms of vocab/classes */
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
    IrSym in_sym;       /* in_width as a form of vocab/classes */
    bool failed;
} CellCtx;

/* Reports an error in the cell body; with_use adds a note naming the use site and sizes
 * (for errors that depend on them, such as shapes). */
DiagMessage *sema_cerr(CellCtx *c, SrcRange loc, bool with_use, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* The cell's name `name` (input, state, param or value), or NULL. */
CellSym *sema_cell_find(CellCtx *c, const char *name);
/* Whether `name` is a size parameter (or the input width name) of the cell. */
bool sema_cell_in_env(CellCtx *c, const char *name);
/* Declares a new name, refusing duplicates and size-parameter names. NULL after reporting. */
CellSym *sema_cell_new_sym(CellCtx *c, const char *name, SymKind k, SrcRange loc);
/* Appends a node of shape [rows, width] (forms; rows 0 for a vector, their values at the
 * compile's sizes); uses_state and scalar follow from the inputs. Returns its index or -1. */
int sema_cell_node(CellCtx *c, IrOpKind op, const int *in, int nin, IrSym rows, IrSym width,
                   SrcRange loc);
/* A constant scalar node of value v; its index or -1. */
int sema_cell_const(CellCtx *c, double v, SrcRange loc);
/* A name read in an equation: local names first, then sizes and consts as scalars. */
int sema_cell_read_name(CellCtx *c, const AstNode *e);
/* targets = rhs, including `a, b, ... = chunk(v, n)`. */
void sema_cell_assign(CellCtx *c, const AstNode *st);

#endif
