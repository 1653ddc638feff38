/* weightset: the tensors of one weight file as its format names them (float32, in file order),
 * string metadata (safetensors `__metadata__`), notes on what a reader converted and, per
 * tensor, what was done to it on the way (for `recur convert --verbose`); and the encoding of a
 * checkpoint's model part as metadata (issue 8 item 6). Every format module of src/io
 * (format.h's table) reads into and writes from a WeightSet.
 *
 * Ownership: a WeightSet owns its tensors (CkptTensorList), how[] strings, metadata and notes;
 * wf_set_free releases them. The helpers copy their arguments. */
#ifndef RECUR_IO_WEIGHTSET_H
#define RECUR_IO_WEIGHTSET_H

#include "io/checkpoint.h"
#include "io/safetensors.h"

/* Metadata keys recur writes (safetensors __metadata__) and reads back, so that a model
 * converted out and back in still samples and evaluates. */
#define WF_META_MODEL "recur_model"           /* the model's name */
#define WF_META_SOURCE "recur.source"         /* the .rnn text */
#define WF_META_SOURCE_NAME "recur.source_name"
#define WF_META_SETS "recur.sets"             /* --set overrides, one NAME=VALUE a line */
#define WF_META_VOCAB "recur.vocab_hex"       /* vocabulary bytes, lower-case hex */
#define WF_META_VOCAB_LEVEL "recur.vocab_level" /* "0" characters, "1" bytes */

/* Tensors named as the file names them, metadata, and notes on conversions done while reading
 * (e.g. "bfloat16 tensors converted to float32"). how[i] (NULL or a malloc'ed string) says
 * what was done to tensors.items[i] on the way (transposes, gate reorders, dtype), for
 * `recur convert --verbose`. */
typedef struct WeightSet {
    CkptTensorList tensors;
    char **how;                 /* how[i] for i < nhow, parallel to tensors.items */
    int nhow;
    SafetensorsMeta meta;
    char **notes;
    int nnotes;
} WeightSet;

/* What a reader may be told. */
typedef struct WfReadOpts {
    const char *key;            /* --key: the entry of a nested checkpoint to read, or NULL */
} WfReadOpts;

/* WeightSet helpers: 0, or -1 when out of memory (the caller reports). */
void wf_set_free(WeightSet *w);
int wf_set_note(WeightSet *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Sets how[i] (copies the text; appends "; " to an existing one). */
int wf_set_how(WeightSet *w, int i, const char *text);
/* The model part of a checkpoint as metadata -- source, its name, overrides (one a line),
 * vocabulary (hex) and its level -- and back into an initialised checkpoint c (no tensors).
 * The one place this encoding lives. to_checkpoint returns 1 when m holds no model source. */
int wf_meta_from_checkpoint(const Checkpoint *c, WeightSet *w);
int wf_meta_to_checkpoint(const SafetensorsMeta *m, const char *default_name, Checkpoint *c);
/* Copies the tensors and metadata of from into the empty to (not the notes). */
int wf_set_copy(const WeightSet *from, WeightSet *to);
/* Adds or replaces a metadata string. */
int wf_set_meta(WeightSet *w, const char *key, const char *value);

#endif
