/* file: the one place where recur opens a file to read it. Every path is checked to be a regular
 * file before anything can block (a FIFO without a writer would block open() and read() for
 * ever), and every file read whole (model sources, weight files, corpora, CSV) comes through
 * file_read_all, so limits and messages are the same everywhere:
 *
 *   PATH: error: cannot read: <strerror>
 *   PATH: error: cannot read: it is a directory, not a regular file
 *   PATH: error: cannot read: it is a FIFO (named pipe), not a regular file   (devices, sockets)
 *   PATH: error: file is too large (N bytes; the limit is M)
 *
 * Ownership: file_open_regular returns a descriptor the caller closes; file_read_all's *buf is a
 * malloc'ed buffer of *len bytes plus a NUL terminator, owned by the caller (free() it). On
 * failure nothing is left open or allocated, and the error is in d. */
#ifndef RECUR_FILE_H
#define RECUR_FILE_H

#include <stddef.h>
#include <sys/stat.h>

#include "util/diag.h"

/* Opens path for reading, without blocking, and refuses anything but a regular file; *st gets
 * its status. Returns the descriptor (in blocking mode again) or -1. */
int file_open_regular(const char *path, struct stat *st, Diag *d);

/* Reads the regular file path whole into *buf / *len (a NUL is appended, not counted), refusing
 * files over max_bytes before allocating for them. */
int file_read_all(const char *path, size_t max_bytes, unsigned char **buf, size_t *len,
                  Diag *d);

/* Reads a whole regular file through file_read_all and adds it to d as a source; on failure reports `path: error: cannot read: <reason>`
 * and returns NULL. Directories, FIFOs and devices are refused before anything can block, files
 * over max_bytes before they are read (no unbounded memory). */
const Source *diag_load_file(Diag *d, const char *path, size_t max_bytes);

#endif
