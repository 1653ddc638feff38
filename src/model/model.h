/* model: a compiled model together with its weights -- the unit that `recur init`, `run`,
 * `convert`, `inspect`, `train`, `sample` and `eval` pass around. It ties the front end (sema:
 * source + --set overrides -> IrModel), the flat parameter layout of the executor (IrModel.tensors
 * order, contiguous, as exec lays them out) and the files (checkpoints, safetensors).
 *
 * A checkpoint carries the model's source text and overrides, so a Model loaded from one is
 * recompiled exactly as it was trained; tensors are matched by name, and every missing, extra or
 * mis-shaped tensor is reported by name (`a.ckpt: tensor 'lstm1.weight_hh_l0' is [2048, 512], the
 * model expects [1024, 256]`).
 *
 * Ownership: a Model owns its IrModel, parameter buffer, override strings, parsed unit,
 * class names and vocabulary (model_free releases them); its IrModel points into no Diag. Its
 * Source belongs to the Diag it was loaded with, which must outlive the Model. ExecModels made by
 * model_exec belong to the caller (exec_free) and borrow the Model's parameter buffer, so they
 * must be freed first. */
#ifndef RECUR_MODEL_H
#define RECUR_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "exec/exec.h"
#include "io/checkpoint.h"
#include "ir/ir.h"
#include "util/diag.h"
#include "lang/sema.h"

typedef struct Model {
    const Source *source;   /* the .rnn text (owned by the Diag) */
    char **sets;            /* the --set overrides it was compiled with, "NAME=VALUE" */
    int nsets;
    IrModel *ir;
    float *params;          /* ir->nparams floats, tensors in IrModel.tensors order: the one
                               copy of the weights (executors from model_exec borrow it) */
    unsigned char *vocab;   /* a text model's vocabulary (sorted symbols as bytes), or NULL */
    size_t vocab_len;
    int vocab_level;        /* what the vocabulary's symbols are: 0 UTF-8 characters, 1 bytes
                               (text level=byte); stored as the checkpoint hyper "vocab_level" */
    char **class_names;     /* a classifier's class names in id order (nclass_names; none
                               when its labels are numbers), stored in checkpoints */
    int nclass_names;
    uint64_t seed;          /* the seed of model_init_weights (stored in checkpoints) */
    SemaUnit *unit;         /* the parsed source and overrides, compiled again (without
                               parsing) when model_bind_sizes binds the data's sizes */
} Model;

/* Largest .rnn file read. */
enum { MODEL_SOURCE_MAX = 16 << 20 };

/* Compiles src with the overrides into m (zeroed weights). -1 with diagnostics on error. */
int model_compile(Model *m, Diag *d, const Source *src, const char *const *sets, int nsets);
/* As model_compile with sema options (so may be NULL): with so->allow_auto, vocab/classes may
 * stay unbound (placeholders) until the data binds them through model_bind_sizes. */
int model_compile_opts(Model *m, Diag *d, const Source *src, const char *const *sets, int nsets,
                       SemaOptions *so);
/* The second phase: compiles m's parsed source again (no parsing, no override strings) with
 * vocab and/or classes bound (0: leave it), e.g. once the data is known, and replaces its IR and
 * (zeroed) weights. The binding is recorded in m->sets as "vocab=N"/"classes=N", so checkpoints
 * carry it as before. The first compile's warnings are not repeated; errors are reported in d.
 * -1 leaves m as it was. */
int model_bind_sizes(Model *m, Diag *d, int vocab, int classes);
/* Loads and compiles the .rnn file at path. */
int model_compile_file(Model *m, Diag *d, const char *path, const char *const *sets, int nsets);
/* Initialises every tensor by its declared initialiser, from one seed (exec_init_tensor). */
int model_init_weights(Model *m, uint64_t seed, Diag *d);
void model_free(Model *m);

/* Copies tensors by name from l (read from file `path`) into m's parameters. Every tensor of the
 * model must be present with its exact shape; extra tensors are errors too. All problems are
 * reported (by name) before returning -1; m's weights are unchanged on failure. */
int model_set_tensors(Model *m, const CkptTensorList *l, const char *path, Diag *d);
/* Appends every parameter tensor of m to l (copies). */
int model_get_tensors(const Model *m, CkptTensorList *l, Diag *d);

/* Fills a checkpoint (initialised by the caller) with m's source, overrides, resolved vocab and
 * classes, vocabulary, class names and parameters. Training state fields are left to the caller. */
int model_to_checkpoint(const Model *m, Checkpoint *c, Diag *d);
/* Recompiles the model stored in checkpoint c (read from `path`) and loads its weights. */
int model_from_checkpoint(Model *m, Diag *d, const Checkpoint *c, const char *path);
/* Reads the checkpoint at path and loads it as above; when ck is not NULL the whole checkpoint
 * (training state included) is handed to the caller (ckpt_free), else it is released. */
int model_load(Model *m, Diag *d, const char *path, Checkpoint *ck);
/* Writes m (and nothing of training) to a checkpoint file atomically. */
int model_save(const Model *m, const char *path, Diag *d);

/* An executor for batch B and windows of up to max_T steps that borrows m's parameter buffer
 * (exec_create_on): m stays the one owner of the weights, training updates them in place, and
 * loading tensors into m is seen by the executor. The executor must be freed before m is freed
 * or recompiled (both replace the buffer). */
ExecModel *model_exec(Model *m, int batch, int max_T, Diag *d);
/* Replaces m's class names with copies of names[n]; -1 when out of memory. */
int model_set_class_names(Model *m, char *const *names, int n);
/* The vocabulary level recorded in checkpoint c (0 characters, 1 bytes; 0 when absent). */
int model_checkpoint_vocab_level(const Checkpoint *c);

#endif
