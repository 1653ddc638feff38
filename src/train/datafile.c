/* datafile: recording a run's data file in its checkpoint and finding it again. */
#define _DEFAULT_SOURCE   /* realpath */
#include "train/datafile.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/fileio.h"
#include "util/file.h"

/* Size and CRC-32 of the regular file at path, read in 1 MiB chunks. */
static int fingerprint(const char *path, uint64_t *size, uint32_t *crc, Diag *d)
{
    struct stat st;
    int fd = file_open_regular(path, &st, d);
    if (fd < 0) return -1;
    enum { CHUNK = 1 << 20 };
    unsigned char *buf = malloc(CHUNK);
    *size = 0;
    *crc = 0;
    ssize_t n = 0;
    while (buf && (n = read(fd, buf, CHUNK)) > 0) {
        *crc = io_crc32(*crc, buf, (size_t)n);
        *size += (uint64_t)n;
    }
    int err = errno;
    close(fd);
    free(buf);
    if (!buf || n < 0) {
        diag_error_in(d, path, "cannot read: %s", buf ? strerror(err) : "out of memory");
        return -1;
    }
    return 0;
}

int datafile_record(CkptDataFile *f, const char *given, const char *path, Diag *d)
{
    uint64_t size;
    uint32_t crc;
    if (fingerprint(path, &size, &crc, d) != 0) return -1;
    char *abs = realpath(path, NULL);
    int rc = ckpt_set_data_file(f, given, abs ? abs : path, size, crc);
    free(abs);
    if (rc != 0) diag_error_in(d, path, "out of memory");
    return rc;
}

/* 1 when the file at path is the recorded one, 0 when it differs (*size, *crc: what it is),
 * -1 when it cannot be read (reported). */
static int same_file(const CkptDataFile *f, const char *path, uint64_t *size, uint32_t *crc,
                     Diag *d)
{
    if (fingerprint(path, size, crc, d) != 0) return -1;
    return *size == f->size && *crc == f->crc32;
}

int datafile_find(const CkptDataFile *f, const char *what, char **found, Diag *d)
{
    const char *tries[2] = {f->path, f->resolved};
    const char *changed = NULL;
    uint64_t size = 0, csize = 0;
    uint32_t crc = 0, ccrc = 0;
    *found = NULL;
    for (int i = 0; i < 2; i++) {
        if (!tries[i] || access(tries[i], F_OK) != 0) continue;
        int same = same_file(f, tries[i], &size, &crc, d);
        if (same < 0) return -1;
        if (same) {
            if (!(*found = strdup(tries[i]))) diag_error_in(d, what, "out of memory");
            return *found ? 0 : -1;
        }
        if (!changed) changed = tries[i], csize = size, ccrc = crc;
    }
    DiagMessage *m;
    if (changed)
        m = diag_error_in(d, changed, "the data file changed since %s was written: it is %llu "
                          "bytes with CRC-32 %08x, the checkpoint recorded %llu bytes with "
                          "CRC-32 %08x", what, (unsigned long long)csize, ccrc,
                          (unsigned long long)f->size, f->crc32);
    else
        m = diag_error_in(d, what, "the data file it was trained on is gone: tried %s%s%s "
                          "(%llu bytes, CRC-32 %08x)", f->path ? f->path : "",
                          f->path && f->resolved ? " and " : "", f->resolved ? f->resolved : "",
                          (unsigned long long)f->size, f->crc32);
    diag_help(m, "give the data with --data FILE");
    return -1;
}
