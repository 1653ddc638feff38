/* ziparch: zip archives in memory through libzip (Debian libzip-dev), for the zip-based weight
 * formats (PyTorch .pt, NumPy .npz).
 *
 * Reading opens an archive from a buffer (zip_source_buffer), so files and fuzzers share one
 * path; every entry is bounded (ZIPARCH_MAX_ENTRY, and never more than its declared size) and
 * its CRC is checked by libzip while reading. Writing builds the archive in a memory source and
 * hands the bytes to io_atomic (temporary file, fsync, rename), like every other writer.
 *
 * Ownership: a ZipIn borrows the buffer it was opened on (which must outlive it) and is released
 * with ziparch_close. ziparch_read_entry's *buf is malloc'ed (caller frees). A ZipOut copies the
 * bytes given to ziparch_add; ziparch_commit or ziparch_discard releases it. */
#ifndef RECUR_IO_ZIPARCH_H
#define RECUR_IO_ZIPARCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/diag.h"

enum { ZIPARCH_MAX_ENTRY = 1 << 30, ZIPARCH_MAX_ENTRIES = 1 << 16 };

typedef struct ZipIn {
    void *za;           /* zip_t * */
    void *src;          /* zip_source_t * */
    const char *what;   /* the file's name, for messages */
    int64_t n;          /* entries */
} ZipIn;

/* Opens the archive in buf[n]; -1 (reported: "not a valid zip archive: ...") on failure. */
int ziparch_open(ZipIn *z, const unsigned char *buf, size_t n, const char *what, Diag *d);
void ziparch_close(ZipIn *z);
/* The name of entry i (owned by the archive), or NULL. */
const char *ziparch_name(const ZipIn *z, int64_t i);
/* The index of the entry called name, or -1. */
int64_t ziparch_find(const ZipIn *z, const char *name);
/* Reads entry i whole (decompressed, CRC checked) into *buf / *len (plus a NUL). */
int ziparch_read_entry(const ZipIn *z, int64_t i, unsigned char **buf, size_t *len, Diag *d);
/* 1 when the file at path is a zip archive with an entry for which want(name) is true for
 * at least one (any) or for every (all) entry; 0 otherwise (nothing reported). */
int ziparch_probe_path(const char *path, bool (*want)(const char *name), bool all);

typedef struct ZipOut {
    void *za;
    void *src;
    const char *path;
} ZipOut;

int ziparch_create(ZipOut *z, const char *path, Diag *d);
/* Adds an entry (copied), stored uncompressed. */
int ziparch_add(ZipOut *z, const char *name, const void *data, size_t n, Diag *d);
/* Finishes the archive and writes it to z->path atomically; releases z either way. */
int ziparch_commit(ZipOut *z, Diag *d);
void ziparch_discard(ZipOut *z);

#endif
