/* format: the one table of weight-file formats, and the front door that tells them apart.
 *
 * Every weight format recur knows is one row of weight_formats[] (format.c):
 *
 *   {id, name, extensions, probe, read, write, writable_by_extension, needs_model, unsupported}
 *
 * A file's format comes from its content (wf_detect: each row's probe looks at the first
 * WF_PROBE_BYTES bytes, and zip-based rows at the archive's entry names), never from its name;
 * an output's format comes from its extension (wf_for_extension). wf_check_input refuses an input
 * whose known extension contradicts its content, and explains files of another kind
 * (`m.rnn: a model file, not weights`, `notes.txt: not a weight file`); wf_check_output refuses
 * an unknown extension and an output that is the input (same st_dev and st_ino). Every refusal
 * names the known formats (wf_known_formats).
 *
 * Readers and writers work on a WeightSet (io/weightset.h): float32 tensors named as the FILE
 * names them, plus string metadata and notes on what the reader converted. io knows nothing
 * about models (floor 3). format.c calls the formats' modules; they call only weightset.c and
 * below, never back into format.c.
 *
 * How a new format plugs in:
 *   1. a WfId before WF_COUNT (format.h) and its row in weight_formats[] (format.c): a probe on
 *      the leading bytes (and, for zip or HDF5 containers, on the path), read and/or write
 *      working on a WeightSet, in its own src/io/<format>.[ch] (added to src/io/Makemodule.am);
 *   2. when its names or layouts are not recur's (recur's are PyTorch's; Keras' kernels, gate
 *      orders and layer names are not), set needs_model: its reader still returns the file's own tensors and
 *      names, and the mapping to and from recur's tensors is a row of the mapping table above
 *      io (src/cli/convert_map.[ch], floor 7), which is handed the compiled Model (its IrModel:
 *      layer labels, kinds, widths, tensor roles). `recur convert` then requires --model (or a
 *      checkpoint input) for it;
 *   3. tests in tests/cli/convert*.sh, a fuzz harness for the reader in tests/fuzz/.
 *
 * Ownership: rows and the strings returned by wf_known_formats are static.
 * Readers fill a WeightSet that is empty on entry and leave it empty on failure; writers only
 * read theirs. */
#ifndef RECUR_IO_FORMAT_H
#define RECUR_IO_FORMAT_H

#include <stdbool.h>
#include <stddef.h>

#include "io/weightset.h"
#include "util/diag.h"

typedef enum WfId {
    WF_CKPT,            /* RECURCKP checkpoint (src/io/checkpoint.c) */
    WF_SAFETENSORS,     /* Hugging Face safetensors */
    WF_TORCH_ZIP,       /* torch.save, zip format (PyTorch >= 1.6) */
    WF_TORCH_LEGACY,    /* torch.save(_use_new_zipfile_serialization=False) */
    WF_NPZ,             /* numpy.savez / savez_compressed */
    WF_NPY,             /* one NumPy array */
    WF_KERAS_H5,        /* Keras 2 HDF5 weights (save_weights / save) */
    WF_ONNX,            /* ONNX model (io/onnx.h; export and inspect, issue 9) */
    WF_COUNT,
    WF_NONE = -1
} WfId;

enum { WF_PROBE_BYTES = 16 };

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

#endif
