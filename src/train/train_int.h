/* train_int: what train.c, train_ckpt.c and sample.c share (internal to src/train).
 *
 * A Session is one loaded model with its data and executor: built from a .rnn file for
 * training, or from a checkpoint for sampling and evaluation.
 *
 * Ownership: a Session owns its IrModel, DataSet, ExecModel, Optim and buffers
 * (session_free); the Source lives in the caller's Diag. */
#ifndef RECUR_TRAIN_INT_H
#define RECUR_TRAIN_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "exec/exec.h"
#include "io/checkpoint.h"
#include "ir/ir.h"
#include "lang/diag.h"
#include "train/data.h"
#include "train/optim.h"
#include "train/settings.h"

typedef struct Session {
    IrModel *model;
    const Source *src;
    char **sets;            /* the overrides the model was compiled with (user's + vocab/classes) */
    int nsets;
    TrainSettings st;
    char *data_file;        /* the data file's path as opened (owned copy) */
    DataSet ds;
    bool have_data;
    ExecModel *e;
    Optim opt;
    bool have_opt;
    ExecLossKind loss;
} Session;

/* Compiles src with the user's sets, opens the data it describes (data_path overrides the file;
 * vocab, when given, is the fixed vocabulary of a checkpoint), binds vocab/classes from the data
 * when the model leaves them to it, and checks that model and data fit together. The executor
 * is created for the data's batch and window. eval_all makes the whole data file the
 * evaluation set (eval --data). */
int session_open(Session *s, const Source *src, const char *const *sets, int nsets,
                 const char *data_path, int64_t steps, int64_t epochs, bool has_seed,
                 uint64_t seed, const Vocab *vocab, bool eval_all, Diag *d);
void session_free(Session *s);

/* Loss of the last forward against batch b (mean over counted targets, *count of them), with
 * d loss / d output written for backward. MSE is computed here so padding rows are skipped. */
int session_loss(Session *s, const DataBatch *b, double *loss, int64_t *count, Diag *d);
/* Runs the validation split; mean loss (and accuracy for classification when acc != NULL;
 * NaN when not a classification). The carried training state is kept. */
int session_validate(Session *s, double *loss, double *acc, Diag *d);

/* Checkpoint content for the run's current state (the caller adds step, rng, etc.). */
int session_to_ckpt(Session *s, Checkpoint *c, Diag *d);
/* Copies the parameters of c into the executor; -1 naming the first tensor that is missing or
 * has another shape ("checkpoint is from another model"). */
int session_load_params(Session *s, const Checkpoint *c, const char *path, Diag *d);
/* Rebuilds the model of a checkpoint (source text and overrides) as a Source in d. */
const Source *ckpt_source(const Checkpoint *c, const char *path, Diag *d);
/* The vocabulary stored in c (v->size 0 when none). */
int ckpt_vocab(const Checkpoint *c, Vocab *v, Diag *d);

#endif
