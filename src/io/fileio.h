/* fileio: what every format in src/io needs besides reading (util/file.h reads files whole).
 *
 *  - Atomic writes: bytes go to a temporary file in the destination's directory, which is
 *    fsync'ed and renamed over the destination, then the directory is fsync'ed. A reader never
 *    sees a half-written file, and a crash leaves either the old file or the new one.
 *  - Little-endian field access.
 *
 * Every error is reported through Diag as `path: error: ...` naming the user's path.
 *
 * Ownership: IoAtomic owns its temporary path until io_atomic_commit or io_atomic_abort (exactly
 * one of which must be called after a successful io_atomic_open). */
#ifndef RECUR_IO_FILEIO_H
#define RECUR_IO_FILEIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/diag.h"
#include "util/file.h"

typedef struct IoAtomic {
    const char *path;   /* destination, borrowed from the caller */
    char *tmp;          /* temporary file in the same directory (malloc'ed) */
    int fd;
    bool failed;        /* a write failed; commit will refuse */
    int err;            /* errno of the first failed write */
} IoAtomic;

/* Creates the temporary file next to path. -1 (reported) when the directory is not writable. */
int io_atomic_open(IoAtomic *w, const char *path, Diag *d);
/* Appends n bytes; errors are remembered and reported by io_atomic_commit. */
void io_atomic_write(IoAtomic *w, const void *buf, size_t n);
/* fsync, close, rename over the destination, fsync the directory. On any failure the temporary
 * file is removed, the destination is untouched, and -1 is returned (reported). */
int io_atomic_commit(IoAtomic *w, Diag *d);
/* Discards the temporary file (after an error in the caller). */
void io_atomic_abort(IoAtomic *w);

/* Little-endian field access, independent of the host's byte order. */
uint32_t io_le32(const unsigned char *p);
uint64_t io_le64(const unsigned char *p);
void io_put_le32(unsigned char *p, uint32_t v);
void io_put_le64(unsigned char *p, uint64_t v);
/* True when the host stores numbers little-endian (the in-memory tensors are written as is). */
bool io_host_le(void);

/* What the first n bytes at h look like, for "expected X, found Y" messages: "a recur
 * checkpoint", "a safetensors file", "a NumPy .npy file", "an HDF5 file", "a zip archive", "a
 * Python pickle", "text", or "the bytes 58 45 ..." (at most 8), written into buf [size]. */
const char *io_describe_bytes(const unsigned char *h, size_t n, char *buf, size_t size);

/* CRC-32 (IEEE 802.3, reflected; zlib's crc32, computed by libdeflate): crc is the running
 * value, 0 to start. */
uint32_t io_crc32(uint32_t crc, const void *buf, size_t n);

#endif
