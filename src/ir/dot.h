/* dot: Graphviz DOT text for `recur graph`: the model graph (layers and what feeds them), or
 * one cell's per-step equation graph with every t-1 edge (a state's new value feeding the next
 * step's read) drawn dashed and labelled "t-1".
 *
 * Ownership: nothing is retained; the caller owns the model, the Diag and the stream. */
#ifndef RECUR_DOT_H
#define RECUR_DOT_H

#include <stdio.h>

#include "ir/ir.h"
#include "util/diag.h"

/* Writes `digraph model { ... }`: one box per layer (label, kind, width), edges from inputs. */
void ir_dot_model(const IrModel *m, FILE *out);

/* Writes the equation graph of one cell. name is a layer label ("lstm1") or a cell name
 * ("lstm", "peephole": its first use in the model). Returns 0, or -1 with an error in d (with
 * a did-you-mean) when nothing matches. */
int ir_dot_cell(const IrModel *m, const char *name, Diag *d, FILE *out);

#endif
