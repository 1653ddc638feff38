/* train_int: what train.c and sample.c share (internal to src/train).
 *
 * A Session is one model (src/model: source, overrides, IR, weights, vocabulary) with its data
 * and executor: compiled from a .rnn file for training, or loaded from a checkpoint for
 * evaluation. The executor holds the live weights; Session.m's copy is refreshed when a
 * checkpoint is written.
 *
 * Ownership: a Session owns its Model, DataSet, ExecModel, Optim and buffers (session_free);
 * the Source lives in the caller's Diag. */
#ifndef RECUR_TRAIN_INT_H
#define RECUR_TRAIN_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "exec/exec.h"
#include "io/checkpoint.h"
#include "ir/ir.h"
#include "util/diag.h"
#include "model/model.h"
#include "train/data.h"
#include "train/dist.h"
#include "train/optim.h"
#include "train/settings.h"

/* The name of the carried recurrent state among a checkpoint's optim_state tensors (written by
 * session_to_ckpt, read back on resume). */
#define SESSION_CARRIED_STATE "carried_state"

typedef struct Session {
    Model m;                /* overrides: the user's, then vocab/classes bound from the data */
    TrainSettings st;
    Vocab fixed_vocab;      /* a loaded model's vocabulary, which its data must use (size 0:
                               the data builds its own) */
    char *data_file;        /* the data file's path as opened (owned copy) */
    char *valid_file;       /* the separate validation file's path (owned copy), or NULL */
    CkptDataFile data_rec, valid_rec; /* training: the records of those files for checkpoints */
    DataSet ds;
    bool have_data;
    ExecModel *e;
    Optim opt;
    bool have_opt;
    ExecLossKind loss;
    int64_t valid_count;    /* targets (tokens, rows, sequences) the last session_validate
                               scored */
    const Dist *dist;       /* data parallel: this rank runs columns [ds.part_first, +part_n)
                               of every batch (NULL: one process, the whole batch) */
} Session;

/* Takes over the compiled model m (*m is zeroed, also on failure), opens the data its settings
 * describe (data_path overrides the file, valid_path the separate validation file, both used as
 * given; a loaded classifier's class names fix the classes; a vocabulary in m, from a checkpoint, is the one the
 * data must use), binds vocab/classes from the data when so (m's compile options) says the model
 * left them to it, records the data's vocabulary in the model, and checks that model and data
 * fit together. The executor is created for the data's batch and window with m's weights.
 * eval_all makes the whole data file the evaluation set (eval --data). */
int session_open(Session *s, Model *m, const SemaOptions *so, const char *data_path,
                 const char *valid_path, int64_t steps, int64_t epochs, bool has_seed,
                 uint64_t seed, bool eval_all, Diag *d);
/* As session_open, for one rank of a data-parallel job (dist, borrowed; NULL: one process):
 * the data hands out this rank's columns of each batch and the executor runs that many streams
 * (train_dist.h: tdist_split); validation and checkpoints then involve every rank. */
int session_open_part(Session *s, Model *m, const SemaOptions *so, const char *data_path,
                      const char *valid_path, int64_t steps, int64_t epochs, bool has_seed,
                      uint64_t seed, const Dist *dist, Diag *d);
void session_free(Session *s);
/* Whether batch b runs as packed sequences: CSV rows of unequal length (see session.c). */
bool session_packed(const Session *s, const DataBatch *b);

/* Loss of the last forward against batch b (mean over counted targets, *count of them), with
 * d loss / d output written for backward. MSE is computed here so padding rows are skipped. */
int session_loss(Session *s, const DataBatch *b, double *loss, int64_t *count, Diag *d);
/* Runs the validation split (under data parallelism: this rank's columns, summed over ranks);
 * mean loss (and accuracy for classification when acc != NULL;
 * NaN when not a classification). The carried training state is kept. */
int session_validate(Session *s, double *loss, double *acc, Diag *d);

/* Checkpoint content for the run's current state: the model (model_to_checkpoint, with the
 * executor's current weights, vocabulary and class names), the records of the data files and,
 * with_optim, the optimiser's settings and buffers and the carried recurrent state (the caller
 * adds step, RNGs, data position). best.ckpt is written without them (for deployment). */
int session_to_ckpt(Session *s, Checkpoint *c, bool with_optim, Diag *d);
/* Copies the parameters of c into the model and the executor; -1 naming every tensor that is
 * missing, extra or of another shape (the checkpoint is from another model). */
int session_load_params(Session *s, const Checkpoint *c, const char *path, Diag *d);
/* The vocabulary of serialised symbols (Model.vocab: bytes, len, level 0 chars / 1 bytes) as a
 * Vocab owned by v (data_vocab_free); v->size 0 when bytes is NULL. */
int session_vocab(Vocab *v, const unsigned char *bytes, size_t len, int level, Diag *d);

/* sample.c: text as token ids of v into ids [strlen(text) + 1]; characters outside the
 * vocabulary are listed under what. Returns the count or -1 with a diagnostic. */
int sample_text_ids(const Vocab *v, const char *text, const char *what, int32_t *ids, Diag *d);

#endif
