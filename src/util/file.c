/* file: the bounded whole-file reader (see file.h). */
#include "util/file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum { FILE_FIRST_CHUNK = 4096 };

/* Reads fd to its end into a buffer that grows by doubling, starting at the size fstat gave
 * (plus one byte, so that the end is seen without a second buffer), never past max_bytes + 1. */
static int read_fd(int fd, const char *path, size_t hint, size_t max_bytes, unsigned char **buf,
                   size_t *len, Diag *d)
{
    size_t cap = (hint < max_bytes ? hint : max_bytes) + 1, n = 0;
    if (cap < FILE_FIRST_CHUNK && hint == 0)
        cap = FILE_FIRST_CHUNK < max_bytes + 1 ? FILE_FIRST_CHUNK : max_bytes + 1;
    unsigned char *b = malloc(cap + 1);
    if (!b) {
        diag_error_in(d, path, "out of memory reading %zu bytes", cap);
        return -1;
    }
    for (;;) {
        if (n == cap) {
            if (cap > max_bytes)
                break;  /* read max_bytes + 1: too large */
            size_t ncap = cap > (max_bytes + 1) / 2 ? max_bytes + 1 : cap * 2;
            unsigned char *nb = realloc(b, ncap + 1);
            if (!nb) {
                free(b);
                diag_error_in(d, path, "out of memory reading %zu bytes", ncap);
                return -1;
            }
            b = nb, cap = ncap;
        }
        ssize_t k = read(fd, b + n, cap - n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0) {
            int e = errno;
            free(b);
            diag_error_in(d, path, "cannot read: %s", strerror(e));
            return -1;
        }
        if (k == 0)
            break;
        n += (size_t)k;
    }
    if (n > max_bytes) {
        free(b);
        diag_error_in(d, path, "file is too large (the limit is %zu bytes)", max_bytes);
        return -1;
    }
    b[n] = 0;
    *buf = b;
    *len = n;
    return 0;
}

/* Opens, checks the kind and size, then reads. */
int file_read_all(const char *path, FileKind kind, size_t max_bytes, unsigned char **buf,
                  size_t *len, Diag *d)
{
    *buf = NULL;
    *len = 0;
    if (max_bytes > SIZE_MAX / 4)
        max_bytes = SIZE_MAX / 4;   /* so that max_bytes + 1 and the doubling cannot overflow */
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        diag_error_in(d, path, "cannot read: %s", strerror(errno));
        return -1;
    }
    struct stat st;
    const char *bad = NULL;
    if (fstat(fd, &st) != 0)
        bad = strerror(errno);
    else if (kind == FILE_REGULAR && !S_ISREG(st.st_mode))
        bad = "not a regular file";
    else if (S_ISDIR(st.st_mode))
        bad = "it is a directory";
    if (bad) {
        diag_error_in(d, path, "cannot read: %s", bad);
        close(fd);
        return -1;
    }
    if (S_ISREG(st.st_mode) && (uintmax_t)st.st_size > max_bytes) {
        diag_error_in(d, path, "file is too large (%jd bytes; the limit is %zu)",
                      (intmax_t)st.st_size, max_bytes);
        close(fd);
        return -1;
    }
    size_t hint = S_ISREG(st.st_mode) ? (size_t)st.st_size : 0;
    int rc = read_fd(fd, path, hint, max_bytes, buf, len, d);
    close(fd);
    return rc;
}
