/* npz: NumPy .npz archives (numpy.savez and numpy.savez_compressed): a zip of NAME.npy entries,
 * stored or deflated, read and written through libzip and the .npy code of src/io/npy.c.
 * Tensor names are the entry names without ".npy". Writing stores the entries uncompressed
 * (as numpy.savez does), builds the archive in memory and writes it atomically.
 *
 * Ownership: npz_read fills the caller's (empty) WeightSet; npz_write only reads. */
#ifndef RECUR_IO_NPZ_H
#define RECUR_IO_NPZ_H

#include <stddef.h>

#include "io/weightset.h"

/* A zip archive whose entries all end in .npy (format.h's probe). */
int npz_probe(const unsigned char *head, size_t n, const char *path);
int npz_read(const char *path, const WfReadOpts *o, WeightSet *out, Diag *d);
/* The same on bytes in memory (what names them in messages), for the fuzzer. */
int npz_read_buffer(const unsigned char *buf, size_t n, const char *what, WeightSet *out,
                    Diag *d);
int npz_write(const char *path, const WeightSet *w, Diag *d);

#endif
