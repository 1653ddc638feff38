/* inspect: summaries of named tensors and checkpoints, as `recur inspect` prints them.
 *
 *   name          shape       dtype          min          max         mean          std
 *   lstm0.W       [512, 128]  f32      -0.249981     0.249997  0.000152433     0.144322
 *
 * Statistics are accumulated in double over the finite elements (two passes: mean, then the
 * squared deviations), std is the population standard deviation (divide by n); NaN and Inf are
 * counted separately and flagged after the row.
 *
 * Ownership: nothing is allocated that outlives a call; the functions only read their inputs. */
#ifndef RECUR_INSPECT_H
#define RECUR_INSPECT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "io/checkpoint.h"

typedef struct TensorStats {
    int64_t count;      /* elements */
    int64_t finite;     /* of which finite (the statistics are over these) */
    int64_t nan, inf;   /* of which NaN / +-Inf */
    double min, max, mean, std;   /* 0 when there is no finite element */
} TensorStats;

/* Statistics of x[n] (n >= 0). */
void inspect_stats(const float *x, int64_t n, TensorStats *s);
/* Writes "[d0, d1, ...]" ("[]" for rank 0) into buf (always NUL-terminated). */
void inspect_format_shape(const int64_t *shape, int ndim, char *buf, size_t n);
/* Prints the aligned table of every tensor in l (with a total line). -1 on a write error. */
int inspect_print_tensors(FILE *out, const CkptTensorList *l);
/* Prints a checkpoint: model source and overrides, constants, vocabulary size, training state,
 * then the parameter table and (if any) the optimiser-state table. -1 on a write error. */
int inspect_print_checkpoint(FILE *out, const Checkpoint *c);

#endif
