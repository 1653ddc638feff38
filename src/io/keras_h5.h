/* keras_h5: the raw HDF5 layout of Keras 2 weight files, read and written through libhdf5. It
 * knows layers, weight names and float arrays, not models: src/model/keras.c maps them to a
 * recur model (gate orders, transposes, biases).
 *
 * Layout read (Keras 2's legacy_h5_format / hdf5_format.py):
 *   model.save_weights("w.h5"): root attrs layer_names (array of strings, or chunked as
 *     layer_names0, layer_names1, ... when over 64 KB), backend, keras_version; one group per
 *     layer with attr weight_names; each weight a float dataset at that path inside the layer's
 *     group ("lstm/lstm_cell/kernel:0" is group lstm/, group lstm_cell/, dataset kernel:0).
 *   model.save("m.h5"): the same under group model_weights/, and the root attrs model_config
 *     (the model's JSON), keras_version, backend (training_config is ignored).
 * Strings may be fixed-length (h5py's bytes) or variable-length (h5py's str); datasets may be
 * any HDF5 float type (converted to float32) of rank 0..4.
 *
 * Layout written: the model.save() form (model_config at the root, weights under
 * model_weights/), float32 little-endian datasets, fixed-length string attributes as Keras
 * writes them through h5py; built in memory and written atomically (io/fileio.h).
 *
 * Every problem is reported as `path: error: ...`, naming the layer and dataset when there is
 * one. The whole file is read into memory first (util/file.h) and opened as an HDF5 file image,
 * so reading a file and reading a buffer (the fuzz harness) are one code path.
 *
 * As a WeightSet (io/weightset.h; the format table's row in io/format.c): every weight is one
 * tensor named "<layer>/<weight name>" ("lstm/lstm/lstm_cell/kernel:0", its dataset path), in
 * file order, and the attributes travel as metadata: KERAS_META_* below. Layers without weights are not
 * tensors (Keras's loader skips them too).
 *
 * Ownership: keras_h5_read/keras_h5_read_image fill a KerasH5 that the caller releases with
 * keras_h5_free (every string and tensor malloc'ed). keras_h5_write only reads its argument. */
#ifndef RECUR_KERAS_H5_H
#define RECUR_KERAS_H5_H

#include <stdbool.h>
#include <stddef.h>

#include "io/checkpoint.h"
#include "io/weightset.h"
#include "util/diag.h"

enum { KERAS_H5_MAX_DIMS = 4 };

/* WeightSet metadata keys of a Keras file. */
#define KERAS_META_CONFIG "keras.model_config"
#define KERAS_META_VERSION "keras.keras_version"
#define KERAS_META_BACKEND "keras.backend"
#define KERAS_META_FILE "keras.file"          /* the path read (for messages) */

/* One Keras layer: its name and its weights (CkptTensor names are the full weight names, e.g.
 * "lstm/lstm_cell/kernel:0", shapes as stored: Keras's [in, 4H] kernels). */
typedef struct KerasH5Layer {
    char *name;
    CkptTensorList weights;
} KerasH5Layer;

typedef struct KerasH5 {
    KerasH5Layer *layers;   /* in layer_names order (layers without weights included) */
    int nlayers;
    size_t cap;
    char *model_config;     /* the model_config JSON text, or NULL */
    char *keras_version;    /* or NULL */
    char *backend;          /* or NULL */
    bool whole_model;       /* the weights were under model_weights/ (model.save) */
} KerasH5;

/* The 8-byte HDF5 signature at offset 0 (files with a user block are not recognised). */
bool keras_h5_sniff(const void *buf, size_t n);
/* Reads the Keras weight file at path into out (zeroed on entry; empty again on failure). */
int keras_h5_read(const char *path, KerasH5 *out, Diag *d);
/* As keras_h5_read, from a file image in memory; name is used in messages. */
int keras_h5_read_image(const void *buf, size_t len, const char *name, KerasH5 *out, Diag *d);
/* Appends a layer named name (no weights yet); NULL when out of memory. */
KerasH5Layer *keras_h5_add_layer(KerasH5 *k, const char *name);
/* Writes k in the model.save() layout to path, atomically. keras_version and backend default
 * to "2.15.0" and "tensorflow" when NULL; model_config is written when not NULL. */
int keras_h5_write(const char *path, const KerasH5 *k, Diag *d);
void keras_h5_free(KerasH5 *k);

/* The format row's reader and writer (io/format.h): a Keras file as a WeightSet and back. */
int keras_h5_read_set(const char *path, const WfReadOpts *o, WeightSet *out, Diag *d);
int keras_h5_write_set(const char *path, const WeightSet *w, Diag *d);
/* A KerasH5 into a WeightSet (weights moved; k is empty afterwards). -1 when out of memory. */
int keras_h5_to_set(KerasH5 *k, WeightSet *out);
/* The layers of a WeightSet named "<layer>/<weight>" (layers in order of first appearance).
 * -1 (reported with what) for a name without a layer part or when out of memory. */
int keras_h5_from_set(const WeightSet *w, const char *what, KerasH5 *out, Diag *d);

#endif
