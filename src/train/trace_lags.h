/* trace_lags: recur trace --lags -- gradient flow over time from the executor's own backward
 * pass. For a loss l_{t,b} at step t of sequence b (the cross-entropy of step t, or a pooled
 * model's loss of the whole sequence at its last step) and the vectors x the first recurrent
 * layer's stack reads (the input vectors, or the embedding / onehot output), lag k gets
 *   norm[k] = mean over (t, b) of || d l_{t,b} / d x_{t-k,b} ||_2.
 * Each sampled loss step costs one forward and one exec_backward, whose input gradient is read
 * from the layer's activation gradient (exec_layer_grad); a per-step model samples every step
 * (at most TRACE_LAGS_MAX_STEPS, evenly spaced), a pooled one has one loss per sequence.
 *
 * Ownership: trace_lags_run fills the caller's zeroed TraceLags, which owns every array in it
 * (trace_lags_free); the Model is only read (its executor is made and freed inside). */
#ifndef RECUR_TRAIN_TRACE_LAGS_H
#define RECUR_TRAIN_TRACE_LAGS_H

#include <stdint.h>

#include "model/model.h"
#include "util/diag.h"

#define TRACE_LAGS_MAX_STEPS 64

/* What to measure on: a text (next-token targets through the model's vocabulary; what names
 * it in messages), or, with text NULL, a validation batch of the checkpoint's own data (a
 * generated task such as adding or copy). max_lag < 0: T - 1. */
typedef struct TraceLagsInput {
    const char *text, *what;
    const char *name;       /* the checkpoint, for messages */
    int max_lag;
} TraceLagsInput;

typedef struct TraceLags {
    int T, B, W;            /* steps, sequences, width of x */
    int max_lag;
    int nsteps;             /* sampled loss steps */
    double *norm;           /* [max_lag + 1]; NAN where no (t, b) pair has that lag */
    int64_t *count;         /* [max_lag + 1] pairs averaged */
    int32_t *steps;         /* [nsteps][B] the loss's step t per sample and sequence, -1: none */
    float *grad;            /* [nsteps][T][B][W] d l_{t,b} / d x (rows past t are zero) */
    float *x;               /* [T][B][W] the vectors differentiated against */
    float *ids;             /* [T][B] input ids (token models), else NULL */
    float *target;          /* [T][B] target ids, or [B][K] / [T][B][K] target values */
    int64_t target_size;
    int target_K;           /* values per target row (1 for ids) */
    int pooled;             /* one loss per sequence */
} TraceLags;

/* Measures m on in. -1 with a diagnostic: no recurrent layer, no vocabulary for a text, a text
 * outside it, no data to use, max_lag larger than T - 1. */
int trace_lags_run(Model *m, const TraceLagsInput *in, TraceLags *g, Diag *d);
void trace_lags_free(TraceLags *g);
/* The arrays of g[n] into one .npz: PREFIX.norm, .count, .steps, .grad, .x, .target (.ids),
 * PREFIX = "ckpt0", "ckpt1", ... in order (written atomically). */
int trace_lags_write_npz(const TraceLags *g, int n, const char *path, Diag *d);
/* The numbers as CSV `checkpoint,lag,mean_norm,pairs` (names[i] labels g[i]). */
void trace_lags_write_csv(const TraceLags *g, const char *const *names, int n, FILE *out);
/* The plot: mean norm against lag, log y, one line per checkpoint (names[i] its legend). */
int trace_lags_write_svg(const TraceLags *g, const char *const *names, int n,
                         const char *path, Diag *d);

#endif
