/* explain: `recur check --explain` -- the expanded model as a table: every layer's label, kind
 * and output shape, each trained tensor's name and shape, parameter counts per layer and in
 * total (the counts match PyTorch's for the same layers).
 *
 * When the model needs vocab or classes and nothing binds them, the caller compiles it at the
 * grid of placeholder values below (sema_compile_explain, src/lang/sema.h, does this from one
 * parse); ir_explain_grid fits each size as a polynomial (degree <= 2 in each name; checked at
 * one more point) and prints it symbolically: `[vocab, 64]`, `64*vocab + 4160`. It reads only
 * IrModels.
 *
 * Ownership: an IrExplainGrid owns the models in it (ir_explain_grid_free); nothing else is
 * retained; the caller owns the models, the Diag and the stream. */
#ifndef RECUR_EXPLAIN_H
#define RECUR_EXPLAIN_H

#include <stdio.h>

#include "ir/ir.h"

/* Grid extent per unbound size, and the placeholder step: vocab (classes) takes the values
 * BASE, 2*BASE, 3*BASE on the grid and 4*BASE at the check point. */
enum { IR_EXPLAIN_GRID = 3, IR_EXPLAIN_BASE = 1680 };

/* The models an explanation is computed from: m[0][0] alone when every size is bound, or a grid
 * over vocab x classes plus a check model at the next point. */
typedef struct IrExplainGrid {
    IrModel *m[IR_EXPLAIN_GRID][IR_EXPLAIN_GRID];   /* m[vi][ci]: vocab = BASE*(vi+1), classes
                                                       = BASE*(ci+1); NULL if it failed */
    int nv, nc;             /* grid extent in vocab and classes (1 when bound) */
    IrModel *check;         /* at (4*BASE, 4*BASE) when symbolic; NULL if it failed */
} IrExplainGrid;

/* Prints the explanation of a compiled model with concrete sizes. */
void ir_explain(const IrModel *m, FILE *out);

/* Prints the explanation from a grid (g->m[0][0] is required): symbolically in the unbound
 * sizes, or, when a grid model is missing or a size changes the structure (e.g. repeat vocab),
 * m[0][0] with a note that vocab/classes are unbound. */
void ir_explain_grid(const IrExplainGrid *g, FILE *out);

/* Frees every model in g. */
void ir_explain_grid_free(IrExplainGrid *g);

/* Formats n with thousands separators ("3,322,497") into buf; returns buf. */
char *ir_format_count(int64_t n, char *buf, size_t cap);

#endif
