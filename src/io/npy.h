/* npy: NumPy .npy arrays (format versions 1.0-3.0 read, 1.0 written), little-endian, C order.
 * Used by `recur run` (inputs and outputs), by .npz archives (npz.c, through npy_parse and
 * npy_encode on bytes in memory) and by the test fixtures made with PyTorch.
 *
 * Ownership: npy_read and npy_parse allocate NpyArray.data with malloc; release it with
 * npy_free. npy_encode's buffer is the caller's. npy_write only reads the array. */
#ifndef RECUR_NPY_H
#define RECUR_NPY_H

#include <stddef.h>
#include <stdint.h>

#include "io/checkpoint.h"
#include "util/diag.h"

typedef enum NpyDtype { NPY_F32, NPY_F64, NPY_I32, NPY_I64 } NpyDtype;

enum { NPY_MAX_DIMS = 8, NPY_HEAD_MAX = 10 + 512 + 64 };

typedef struct NpyArray {
    NpyDtype dtype;
    int ndim;
    int64_t shape[NPY_MAX_DIMS];
    int64_t count;      /* product of shape (1 for a 0-d array) */
    void *data;         /* count elements of dtype, C order */
} NpyArray;

/* Reads path into out. Malformed, truncated, big-endian, Fortran-order or unsupported-dtype files
 * are reported as `path: error: ...` and return -1 (out is then zeroed). Sizes are validated
 * against the file size before any allocation. */
int npy_read(const char *path, NpyArray *out, Diag *d);
/* Writes a as a version 1.0 .npy file atomically (temporary file, fsync, rename). */
int npy_write(const char *path, const NpyArray *a, Diag *d);
void npy_free(NpyArray *a);
/* The same as npy_read / npy_write on bytes in memory (.npz entries); what names the array in
 * messages. npy_encode's *buf is malloc'ed (the caller frees it). */
int npy_parse(const unsigned char *buf, size_t n, const char *what, NpyArray *out, Diag *d);
int npy_encode(const NpyArray *a, unsigned char **buf, size_t *len, const char *what, Diag *d);
/* Appends a float array to l as a float32 tensor called name (float64 is rounded); integer
 * arrays are refused. */
int npy_to_tensor(const NpyArray *a, const char *name, CkptTensorList *l, const char *what,
                  Diag *d);
/* Bytes per element of a dtype. */
size_t npy_dtype_size(NpyDtype t);

#endif
