/* train: `recur train`, `recur sample` and `recur eval` as library calls. The CLI (src/cli)
 * parses arguments into these option structs and prints the Diag; these functions print
 * progress and results themselves (to opts->out, stderr/stdout when NULL).
 *
 * recur train MODEL.rnn [--data FILE] [--out DIR] [--steps N | --epochs N] [--set NAME=VALUE]...
 *             [--seed S] [--threads N] [--resume]
 *   Writes DIR/ (default runs/<model name>): last.ckpt (every checkpoint_every steps, at the
 *   end, and on SIGINT/SIGTERM), best.ckpt (lowest validation loss), log.csv (step, loss,
 *   val_loss, lr, grad_norm, tokens_per_s; one row every log_every steps and at every
 *   evaluation) and loss.svg (refreshed at every evaluation). A NaN or infinite loss or
 *   gradient stops the run with an error naming the step; last.ckpt keeps the last good state.
 *   --resume continues from DIR/last.ckpt exactly: parameters, optimiser state, step, dropout
 *   and data RNGs, data position and the carried recurrent state are restored, so the final
 *   weights equal an uninterrupted run's bit for bit (same seed and threads). Everything is
 *   checked (model, data, checkpoint) before anything in DIR is written. Without --resume, a DIR
 *   that already holds last.ckpt is refused (a finished or interrupted run is never clobbered).
 *
 * recur train MODEL.rnn --init-from WEIGHTS ...
 *   A fresh run (step 0, a new optimiser, the seed's dropout and data order) whose weights are
 *   WEIGHTS' instead of the initialisers': any file `recur convert` reads, turned into the
 *   model's tensors by TrainOptions.load_init (the CLI's, which knows the formats); every
 *   missing, extra or mis-shaped tensor is an error naming it. Not with --resume.
 *
 * recur sample FILE.ckpt [--prime TEXT] [--length N] [--temperature T] [--top-k K] [--top-p P]
 *              [--seed S]
 *   Streams N generated characters after the prime text (which is echoed first); N = 0 prints
 *   nothing. T = 0 is greedy (the most likely character each step); K = 0 and P = 1 are off.
 *
 * recur eval FILE.ckpt [--data FILE]
 *   Prints the validation metrics: loss (nats), and for cross-entropy bits per token and
 *   perplexity; accuracy for classification; MSE for regression.
 *
 * Ownership: the option structs are borrowed; nothing returned needs freeing. */
#ifndef RECUR_TRAIN_H
#define RECUR_TRAIN_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "model/model.h"
#include "train/dist.h"
#include "util/diag.h"

typedef struct TrainOptions {
    const char *model_path;     /* MODEL.rnn (required) */
    const char *data_path;      /* --data FILE: replaces the data block's file (NULL: none) */
    const char *out_dir;        /* --out DIR (NULL: runs/<model name>) */
    int64_t steps;              /* --steps N (0: from the train block, default 1000) */
    int64_t epochs;             /* --epochs N (0: not given) */
    const char *const *sets;    /* --set NAME=VALUE strings, nsets of them */
    int nsets;
    bool has_seed;              /* --seed S given */
    uint64_t seed;              /* (default: the train block's seed, else 42) */
    int threads;                /* --threads N as applied by the CLI (0: not given); recorded
                                   in the checkpoint, resume warns when it differs */
    bool resume;                /* --resume: continue from DIR/last.ckpt */
    int progress;               /* -1 (default when zeroed: see train_options_init) live line
                                   on a terminal, 0 plain lines, 1 live line */
    FILE *out;                  /* progress and messages (NULL: stderr) */
    /* test hooks: stop as if killed after this many steps of this process (0: off) */
    int64_t stop_after;
    const char *init_from;      /* --init-from WEIGHTS (NULL: the model's initialisers) */
    /* Reads init_from into out (empty on entry) as tensors named like m's; -1 with a
     * diagnostic. Given by the caller, which knows the weight formats (src/cli). */
    int (*load_init)(const char *path, const Model *m, CkptTensorList *out, Diag *d);
    /* the data-parallel job this process is a rank of (dist_open; borrowed), or NULL: one
     * process. Every rank calls train_run; only rank 0 writes DIR and prints, and after a
     * failure only rank 0's Diag holds messages (the caller prints them before dist_close,
     * which waits for every rank, so the job does not end before rank 0 has reported). */
    const Dist *dist;
} TrainOptions;

typedef struct SampleOptions {
    const char *ckpt_path;      /* FILE.ckpt (required) */
    const char *prime;          /* --prime TEXT (NULL: a random first character) */
    int64_t length;             /* --length N characters to generate (default 500; 0: none) */
    double temperature;         /* --temperature T >= 0 (default 1.0; 0: greedy argmax) */
    int top_k;                  /* --top-k K (0: off) */
    double top_p;               /* --top-p P in (0, 1] (1: off) */
    uint64_t seed;              /* --seed S (default 42; the CLI draws one from the clock when
                                   --seed is not given and prints it) */
    FILE *out;                  /* the text (NULL: stdout) */
} SampleOptions;

typedef struct EvalOptions {
    const char *ckpt_path;      /* FILE.ckpt (required) */
    const char *data_path;      /* --data FILE (NULL: the model's data block) */
    int threads;
    FILE *out;                  /* metrics (NULL: stdout) */
} EvalOptions;

/* The defaults listed above. */
void train_options_init(TrainOptions *o);
void sample_options_init(SampleOptions *o);
void eval_options_init(EvalOptions *o);

/* Each returns 0 on success, -1 with diagnostics in d. train_run also returns 0 after a clean
 * stop on SIGINT/SIGTERM (after saving last.ckpt); *interrupted (may be NULL) tells. */
int train_run(const TrainOptions *o, Diag *d, bool *interrupted);
int sample_run(const SampleOptions *o, Diag *d);
int eval_run(const EvalOptions *o, Diag *d);

#endif
