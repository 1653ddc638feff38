/* train_dist: the data-parallel part of training (doc/MPI.md), on top of dist.h. Which columns
 * of the global batch this rank runs, the per-step reduction of loss, counts and gradients, the
 * carried recurrent state gathered into (and taken from) a checkpoint in the single-process
 * layout, and the checks that every rank runs the same job. Every function is collective
 * (all ranks call it in the same order); with one process each is a no-op or a copy, so a run
 * without MPI is bit-identical to one before data parallelism existed.
 *
 * Ownership: buffers are the caller's; text returned is malloc'ed (caller frees). */
#ifndef RECUR_TRAIN_DIST_H
#define RECUR_TRAIN_DIST_H

#include <stdbool.h>
#include <stdint.h>

#include "train/dist.h"
#include "train/train.h"
#include "train/train_int.h"

/* This rank's columns of a global batch of B: [*first, *first + *n). B not divisible by the
 * number of ranks is an error (at what, the model file) listing the -np values that work. */
int tdist_split(const Dist *g, int B, const char *what, int *first, int *n, Diag *d);

/* Every rank's status rc (0 or -1) joined: when any rank failed, all return -1 and rank 0's d
 * holds the errors (its own, or the first failing rank's, named "rank K of N"); the other ranks'
 * messages are cleared so that only rank 0 prints. 0 when every rank succeeded. */
int tdist_agree(const Dist *g, int rc, Diag *d);

/* A 64-bit hash of what must be the same on every rank: the recur version, the model source,
 * overrides, settings, the data (tokens or rows), the number of steps, the seed and the resumed
 * step. */
uint64_t tdist_run_hash(const Session *s, const TrainOptions *o, int64_t total, int64_t step);
/* Compares every rank's hash with rank 0's; -1 on all ranks (the error at rank 0 naming the
 * ranks that differ) when one differs. */
int tdist_check_same(const Dist *g, uint64_t hash, const char *what, Diag *d);

/* Compares every rank's weights (a CRC-32 of params) with rank 0's before a checkpoint; -1 on all
 * ranks (the error at rank 0) when the ranks have drifted apart. */
int tdist_check_params(const Dist *g, const float *params, int64_t n, int64_t step, Diag *d);

/* What a step contributes to the reduction. */
typedef struct TdistStep {
    double loss;            /* in: this rank's mean loss; out: the global mean */
    int64_t count;          /* counted targets (in: here; out: all ranks) */
    int64_t tokens;         /* input steps processed (in: here; out: all ranks) */
    bool failed;            /* in: this rank's step failed; out: some rank's did */
    bool stop;              /* in: a stop signal arrived here; out: at some rank */
    double seconds;         /* out: time spent scaling and all-reducing the gradients */
} TdistStep;
/* Sums the step over the ranks, then turns this rank's gradients of its mean loss into its
 * share of the global mean's (scaled by count_here / count_all) and all-reduces the flat
 * gradient buffer in place, so every rank ends with the single process's gradient (up to
 * floating-point reassociation). Skips the gradients when some rank failed. */
void tdist_reduce_step(const Dist *g, float *grads, int64_t nparams, TdistStep *st);

/* The carried recurrent state of the whole batch in the single-process layout (every
 * [B][width] segment with all B streams) at rank 0 in *global (malloc'ed; NULL elsewhere and
 * when the model carries none), *n floats. -1 when out of memory (reported). */
int tdist_gather_state(const Session *s, float **global, int64_t *n, Diag *d);
/* Sets this rank's carried state from a whole-batch block (n floats, the layout above, from a
 * checkpoint); -1 (reported at path) when n does not fit the model and batch. */
int tdist_set_state(Session *s, const float *global, int64_t n, const char *path, Diag *d);

#endif
