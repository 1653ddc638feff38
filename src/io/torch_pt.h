/* torch_pt: PyTorch's torch.save files, read and written without Python.
 *
 *  - zip format (PyTorch >= 1.6): PREFIX/data.pkl (a protocol-2 pickle whose tensors refer to
 *    storages by persistent id ('storage', torch.FloatStorage, "KEY", "cpu", numel)),
 *    PREFIX/data/KEY (each storage's raw little-endian bytes), PREFIX/version. PREFIX is the
 *    archive's one top-level folder, whatever its name (torch names it after the file).
 *  - legacy format (_use_new_zipfile_serialization=False): pickles of the magic number
 *    0x1950a86a20f9469cfc6c, the protocol version 1001 and a sys-info dict, then the object
 *    (persistent ids ('storage', type, "KEY", location, numel, view)), then the sorted list of
 *    storage keys, then for each key an int64 element count and the raw bytes.
 *
 * The object must be a state_dict: a dict or OrderedDict of tensor names to tensors, or a dict
 * holding such a dict under WfReadOpts.key (`{"model": ..., "optimizer": ..., "epoch": ...}`;
 * without --key the one entry that is a state_dict is taken, and an ambiguous choice lists the
 * keys). Tensors of float32, float64, float16 and bfloat16 are read (the last three converted to
 * float32, with a note), with their storage offset and strides (non-contiguous views are
 * gathered). Pickles are read by src/io/pickle.c, which refuses every global not on its
 * allow-list and executes nothing; a whole pickled nn.Module is refused with a hint to save
 * model.state_dict().
 *
 * Writing produces the zip format: an OrderedDict of float32 tensors (one storage each) that
 * torch.load reads and load_state_dict(strict=True) accepts. The archive is built in memory and
 * written atomically (temporary file, fsync, rename).
 *
 * Ownership: torch_read fills the caller's (empty) WeightSet; torch_write_zip only reads. */
#ifndef RECUR_IO_TORCH_PT_H
#define RECUR_IO_TORCH_PT_H

#include <stddef.h>

#include "io/weightset.h"

/* Format probes (format.h): a zip archive with a PREFIX/data.pkl entry; the legacy magic. */
int torch_probe_zip(const unsigned char *head, size_t n, const char *path);
int torch_probe_legacy(const unsigned char *head, size_t n, const char *path);
/* Reads either format (told apart by the content). */
int torch_read(const char *path, const WfReadOpts *o, WeightSet *out, Diag *d);
/* The same on bytes in memory (what names them in messages), for the fuzzers. */
int torch_read_buffer(const unsigned char *buf, size_t n, const char *what, const WfReadOpts *o,
                      WeightSet *out, Diag *d);
int torch_write_zip(const char *path, const WeightSet *w, Diag *d);

#endif
