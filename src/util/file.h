/* file: the one bounded whole-file reader. Every file recur reads whole (model sources, weight
 * files, data corpora) comes through file_read_all, so size limits and error messages are the
 * same everywhere:
 *
 *   PATH: error: cannot read: <strerror>
 *   PATH: error: cannot read: it is a directory              (FILE_ANY)
 *   PATH: error: cannot read: not a regular file             (FILE_REGULAR)
 *   PATH: error: file is too large (N bytes; the limit is M)
 *
 * Ownership: on success *buf is a malloc'ed buffer of *len bytes plus a NUL terminator, owned by
 * the caller (free() it); on failure *buf is NULL and the error is in d. */
#ifndef RECUR_FILE_H
#define RECUR_FILE_H

#include <stddef.h>

#include "util/diag.h"

typedef enum FileKind {
    FILE_REGULAR,   /* regular files only: the size is known (and checked) before reading */
    FILE_ANY        /* also pipes and devices (a model on standard input): read up to the limit */
} FileKind;

/* Reads path whole into *buf / *len (a NUL is appended, not counted), refusing files over
 * max_bytes before allocating for them (a stream is cut off at max_bytes + 1). */
int file_read_all(const char *path, FileKind kind, size_t max_bytes, unsigned char **buf,
                  size_t *len, Diag *d);

#endif
