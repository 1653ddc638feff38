/* explain: `recur check --explain` -- the expanded model as a table: every layer's label, kind
 * and output shape, each trained tensor's name and shape, parameter counts per layer and in
 * total (the counts match PyTorch's for the same layers).
 *
 * When the model was compiled with vocab or classes unbound (IrModel.vocab_auto/classes_auto:
 * placeholders stood in), ir_explain prints every size from the IrSyms of that one model,
 * multiplied out as polynomials of degree <= 2: `[vocab, 64]`, `577*vocab + 3,284,992`. When a
 * size is not affine in the unbound names (IrModel.sym_exact false), or a polynomial disagrees
 * with the value beside it, it prints the values at the placeholders under a note saying so.
 * It reads only the IrModel.
 *
 * Ownership: nothing is allocated or retained; the caller owns the model and the stream. */
#ifndef RECUR_EXPLAIN_H
#define RECUR_EXPLAIN_H

#include <stdio.h>

#include "ir/ir.h"

/* The placeholder vocab and classes `recur check --explain` compiles with when they are
 * unbound (SemaOptions.auto_vocab/auto_classes): divisible by 1 to 8, so a model that chunks
 * a vocab-wide vector compiles and is explained at this value. */
enum { IR_EXPLAIN_PLACEHOLDER = 1680 };

/* Prints the explanation of a compiled model: concretely, or symbolically in its unbound
 * sizes (see above). */
void ir_explain(const IrModel *m, FILE *out);

/* Formats n with thousands separators ("3,322,497") into buf; returns buf. */
char *ir_format_count(int64_t n, char *buf, size_t cap);

#endif
