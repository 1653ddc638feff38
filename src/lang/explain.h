/* explain: `recur check --explain` -- the expanded model as a table: every layer's label, kind
 * and output shape, each trained tensor's name and shape, parameter counts per layer and in
 * total (the counts match PyTorch's for the same layers).
 *
 * When the model needs vocab or classes and nothing binds them, ir_explain_source compiles the
 * model at several placeholder values, fits each size as a polynomial (degree <= 2 in each
 * name; checked at one more point) and prints it symbolically: `[vocab, 64]`, `64*vocab + 4160`.
 *
 * Ownership: nothing is retained; the caller owns the model, the Diag and the stream. */
#ifndef RECUR_EXPLAIN_H
#define RECUR_EXPLAIN_H

#include <stdio.h>

#include "ir/ir.h"
#include "util/diag.h"

/* Prints the explanation of a compiled model with concrete sizes. */
void ir_explain(const IrModel *m, FILE *out);

/* Compiles src with the nsets --set overrides (vocab/classes may stay unbound) and prints the
 * explanation, symbolically when needed. Returns 0, or -1 with diagnostics in d. */
int ir_explain_source(Diag *d, const Source *src, const char *const *sets, int nsets,
                      FILE *out);

/* Formats n with thousands separators ("3,322,497") into buf; returns buf. */
char *ir_format_count(int64_t n, char *buf, size_t cap);

#endif
