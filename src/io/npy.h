/* npy: NumPy .npy arrays (format versions 1.0-3.0 read, 1.0 written), little-endian, C order.
 * Used by `recur run` (inputs and outputs) and by the test fixtures made with PyTorch.
 *
 * Ownership: npy_read allocates NpyArray.data with malloc; release it with npy_free. npy_write
 * only reads the array. */
#ifndef RECUR_NPY_H
#define RECUR_NPY_H

#include <stddef.h>
#include <stdint.h>

#include "util/diag.h"

typedef enum NpyDtype { NPY_F32, NPY_F64, NPY_I32, NPY_I64 } NpyDtype;

enum { NPY_MAX_DIMS = 8 };

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
/* Bytes per element of a dtype. */
size_t npy_dtype_size(NpyDtype t);

#endif
