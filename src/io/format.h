/* format: the one table of weight-file formats, and the front door that tells them apart.
 *
 * Every weight format recur knows is one row of weight_formats[] (format.c):
 *
 *   {id, name, extensions, probe, read, write, needs_model, unsupported}
 *
 * A file's format comes from its content (wf_detect: each row's probe looks at the first
 * WF_PROBE_BYTES bytes, and zip-based rows at the archive's entry names), never from its name;
 * an output's format comes from its extension (wf_for_output). wf_check_input refuses an input
 * whose known extension contradicts its content, and explains files of another kind
 * (`m.rnn: a model file, not weights`, `notes.txt: not a weight file`); wf_check_output refuses
 * an unknown extension and an output that is the input (same st_dev and st_ino). Every refusal
 * names the known formats (wf_known_formats).
 *
 * Readers and writers work on a WeightSet: float32 tensors named as the FILE names them, plus
 * string metadata (safetensors `__metadata__`: the recur.* keys below) and notes on what the
 * reader converted. io knows nothing about models (floor 3).
 *
 * How a new format plugs in:
 *   1. a WfId before WF_COUNT (format.h) and its row in weight_formats[] (format.c): a probe on
 *      the leading bytes (and, for zip or HDF5 containers, on the path), read and/or write
 *      working on a WeightSet, in its own src/io/<format>.[ch] (added to src/io/Makemodule.am);
 *   2. when its names or layouts are not recur's (PyTorch's; Keras' kernels, gate orders,
 *      layer names), set needs_model: its reader still returns the file's own tensors and
 *      names, and the mapping to and from recur's tensors is a row of the mapping table above
 *      io (src/cli/convert_map.[ch], floor 7), which is handed the compiled Model (its IrModel:
 *      layer labels, kinds, widths, tensor roles). `recur convert` then requires --model (or a
 *      checkpoint input) for it;
 *   3. tests in tests/cli/convert*.sh, a fuzz harness for the reader in tests/fuzz/.
 *
 * Ownership: a WeightSet owns its tensors (CkptTensorList), metadata strings and notes;
 * wf_set_free releases them. Rows and the strings returned by wf_known_formats are static.
 * Readers fill a WeightSet that is empty on entry and leave it empty on failure; writers only
 * read theirs. */
#ifndef RECUR_IO_FORMAT_H
#define RECUR_IO_FORMAT_H

#include <stdbool.h>
#include <stddef.h>

#include "io/checkpoint.h"
#include "io/safetensors.h"
#include "util/diag.h"

typedef enum WfId {
    WF_CKPT,            /* RECURCKP checkpoint (src/io/checkpoint.c) */
    WF_SAFETENSORS,     /* Hugging Face safetensors */
    WF_TORCH_ZIP,       /* torch.save, zip format (PyTorch >= 1.6) */
    WF_TORCH_LEGACY,    /* torch.save(_use_new_zipfile_serialization=False) */
    WF_NPZ,             /* numpy.savez / savez_compressed */
    WF_NPY,             /* one NumPy array */
    WF_KERAS_H5,        /* Keras 2 HDF5 weights (save_weights / save) */
    WF_ONNX,            /* ONNX model (detected only, for now) */
    WF_COUNT,
    WF_NONE = -1
} WfId;

enum { WF_PROBE_BYTES = 16 };

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

typedef struct WeightFormat {
    WfId id;
    const char *name;           /* "PyTorch .pt (zip)" */
    const char *exts;           /* extensions it is written with / known by, space separated
                                   (".pt .pth"); the first is the one written */
    /* 1 when the file at path, whose first n (<= WF_PROBE_BYTES) bytes are head, is this
     * format. path is only opened by container formats (zip, HDF5). */
    int (*probe)(const unsigned char *head, size_t n, const char *path);
    int (*read)(const char *path, const WfReadOpts *o, WeightSet *out, Diag *d);
    int (*write)(const char *path, const WeightSet *w, Diag *d);
    bool writable_by_extension; /* an output with one of exts is written in this format */
    bool needs_model;           /* names/layouts are not recur's: mapped above io with a Model */
    const char *unsupported;    /* why read is NULL ("ONNX import is not supported yet") */
} WeightFormat;

/* The row of a format. */
const WeightFormat *wf_format(WfId id);
/* "RECURCKP checkpoint (.ckpt), safetensors (.safetensors), ..." (static). */
const char *wf_known_formats(void);

/* The format of the file at path from its content. WF_NONE when it is none of them: then, if
 * what is not NULL, *what is a static phrase for what it is ("a model file, not weights",
 * "not a weight file", "a zip archive, but neither a PyTorch checkpoint nor a NumPy .npz").
 * -1 with an error when the file cannot be read (missing, a directory, a FIFO). */
int wf_detect(const char *path, WfId *id, const char **what, Diag *d);
/* The format an output path's extension asks for, or WF_NONE. */
WfId wf_for_extension(const char *path);
/* Detects an input and refuses (reported, naming the formats) a file that is not a readable
 * weight file or whose known extension contradicts its content. */
int wf_check_input(const char *path, WfId *id, Diag *d);
/* The output's format from its extension; refuses an unknown or unwritable extension and an
 * output that is the input file itself. */
int wf_check_output(const char *in, const char *out, WfId *id, Diag *d);

/* Reads / writes through a format's row (errors for a missing reader or writer). */
int wf_read(WfId id, const char *path, const WfReadOpts *o, WeightSet *out, Diag *d);
int wf_write(WfId id, const char *path, const WeightSet *w, Diag *d);

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
