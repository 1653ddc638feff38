/* file: opening and reading files (see file.h). */
#include "util/file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* What a non-regular file is, for the message. */
static const char *kind_of(mode_t mode)
{
    if (S_ISDIR(mode))
        return "a directory";
    if (S_ISFIFO(mode))
        return "a FIFO (named pipe)";
    if (S_ISCHR(mode))
        return "a character device";
    if (S_ISBLK(mode))
        return "a block device";
    if (S_ISSOCK(mode))
        return "a socket";
    return "a special file";
}

/* O_NONBLOCK makes open() return at once on a FIFO; fstat then tells what the path is. Regular
 * files ignore O_NONBLOCK, but it is cleared anyway so that the descriptor behaves as usual. */
int file_open_regular(const char *path, struct stat *st, Diag *d)
{
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        diag_error_in(d, path, "cannot read: %s", strerror(errno));
        return -1;
    }
    if (fstat(fd, st) != 0) {
        diag_error_in(d, path, "cannot read: %s", strerror(errno));
        close(fd);
        return -1;
    }
    if (!S_ISREG(st->st_mode)) {
        diag_error_in(d, path, "cannot read: it is %s, not a regular file", kind_of(st->st_mode));
        close(fd);
        return -1;
    }
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0)
        fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
    return fd;
}

/* Reads n bytes (the size fstat gave); a file that shrank meanwhile gives what is there. */
static int read_fd(int fd, const char *path, size_t n, unsigned char *b, size_t *got, Diag *d)
{
    *got = 0;
    while (*got < n) {
        ssize_t k = read(fd, b + *got, n - *got);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0) {
            diag_error_in(d, path, "cannot read: %s", strerror(errno));
            return -1;
        }
        if (k == 0)
            break;
        *got += (size_t)k;
    }
    return 0;
}

/* The size is checked against max_bytes before the buffer is allocated. */
int file_read_all(const char *path, size_t max_bytes, unsigned char **buf, size_t *len,
                  Diag *d)
{
    *buf = NULL;
    *len = 0;
    struct stat st;
    int fd = file_open_regular(path, &st, d);
    if (fd < 0)
        return -1;
    if ((uintmax_t)st.st_size > max_bytes || (uintmax_t)st.st_size >= SIZE_MAX) {
        diag_error_in(d, path, "file is too large (%jd bytes; the limit is %zu)",
                      (intmax_t)st.st_size, max_bytes);
        close(fd);
        return -1;
    }
    size_t n = (size_t)st.st_size, got;
    unsigned char *b = malloc(n + 1);
    if (!b) {
        diag_error_in(d, path, "out of memory reading %zu bytes", n);
        close(fd);
        return -1;
    }
    int rc = read_fd(fd, path, n, b, &got, d);
    close(fd);
    if (rc != 0) {
        free(b);
        return -1;
    }
    b[got] = 0;
    *buf = b;
    *len = got;
    return 0;
}

/* Reads path whole through the one bounded reader (regular files only: see util/file.h) and
 * keeps it as a source. */
const Source *diag_load_file(Diag *d, const char *path, size_t max_bytes)
{
    unsigned char *buf;
    size_t len;
    if (file_read_all(path, max_bytes, &buf, &len, d) != 0)
        return NULL;
    const Source *src = diag_add_source(d, path, (const char *)buf, len);
    free(buf);
    return src;
}
