/* h5image: HDF5 files built in memory (libhdf5's core driver, no backing store), so that a
 * writer can hand the finished bytes to an atomic write (io/fileio.h) and nothing half-written
 * reaches the disk. Used by the Keras .h5 writer and recur trace --lstmvis.
 *
 * Ownership: h5image_create returns a file id the caller closes with h5image_finish (or
 * H5Fclose when it gives up); h5image_finish's *img is malloc'ed and the caller's. */
#ifndef RECUR_IO_H5IMAGE_H
#define RECUR_IO_H5IMAGE_H

#include <hdf5.h>
#include <stddef.h>

/* A new, empty in-memory HDF5 file, or -1. */
hid_t h5image_create(void);
/* Flushes f, copies its bytes into *img (malloc'ed) and *len, and closes f (whatever the
 * outcome). 0, or -1 with *img NULL. */
int h5image_finish(hid_t f, void **img, size_t *len);

#endif
