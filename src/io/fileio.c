/* fileio: atomic writes, bounded reads, little-endian fields and CRC-32 (see fileio.h). */
#include "io/fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The directory part of path ("." when there is none), malloc'ed; NULL when out of memory. */
static char *dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        return strdup(".");
    size_t n = slash == path ? 1 : (size_t)(slash - path);
    char *dir = malloc(n + 1);
    if (!dir)
        return NULL;
    memcpy(dir, path, n);
    dir[n] = '\0';
    return dir;
}

/* Creates "<path>.tmp.XXXXXX" with mkstemp so concurrent writers never share a temporary. */
int io_atomic_open(IoAtomic *w, const char *path, Diag *d)
{
    memset(w, 0, sizeof *w);
    w->fd = -1;
    w->path = path;
    size_t n = strlen(path);
    w->tmp = malloc(n + sizeof ".tmp.XXXXXX");
    if (!w->tmp) {
        diag_error_in(d, path, "out of memory");
        return -1;
    }
    memcpy(w->tmp, path, n);
    memcpy(w->tmp + n, ".tmp.XXXXXX", sizeof ".tmp.XXXXXX");
    w->fd = mkstemp(w->tmp);
    if (w->fd < 0) {
        diag_error_in(d, path, "cannot write: %s", strerror(errno));
        free(w->tmp);
        w->tmp = NULL;
        return -1;
    }
    /* mkstemp makes the file 0600; a saved model should be as readable as any other output. */
    mode_t mask = umask(0);
    umask(mask);
    (void)fchmod(w->fd, 0666 & ~mask);
    return 0;
}

/* Writes all n bytes, retrying short writes and EINTR; remembers the first failure. */
void io_atomic_write(IoAtomic *w, const void *buf, size_t n)
{
    const unsigned char *p = buf;
    while (!w->failed && n > 0) {
        ssize_t k = write(w->fd, p, n);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            w->failed = true;
            w->err = errno;
            return;
        }
        p += k;
        n -= (size_t)k;
    }
}

/* Closes and unlinks the temporary file; the destination is untouched. */
void io_atomic_abort(IoAtomic *w)
{
    if (w->fd >= 0)
        close(w->fd);
    if (w->tmp) {
        unlink(w->tmp);
        free(w->tmp);
    }
    w->fd = -1;
    w->tmp = NULL;
}

/* The data must be on disk (fsync) before the rename makes it visible, and the rename itself is
 * only durable once the directory entry is synced. */
int io_atomic_commit(IoAtomic *w, Diag *d)
{
    if (w->failed) {
        diag_error_in(d, w->path, "cannot write: %s", strerror(w->err));
        io_atomic_abort(w);
        return -1;
    }
    if (fsync(w->fd) != 0 || close(w->fd) != 0) {
        int e = errno;
        w->fd = -1;
        diag_error_in(d, w->path, "cannot write: %s", strerror(e));
        io_atomic_abort(w);
        return -1;
    }
    w->fd = -1;
    if (rename(w->tmp, w->path) != 0) {
        diag_error_in(d, w->path, "cannot write: rename failed: %s", strerror(errno));
        io_atomic_abort(w);
        return -1;
    }
    free(w->tmp);
    w->tmp = NULL;
    char *dir = dir_of(w->path);
    if (!dir) {
        diag_error_in(d, w->path, "out of memory");
        return -1;
    }
    int dfd = open(dir, O_RDONLY);
    free(dir);
    if (dfd >= 0) {
        /* Some file systems refuse fsync on a directory (EINVAL); the data is already safe. */
        if (fsync(dfd) != 0 && errno != EINVAL && errno != EBADF) {
            int e = errno;
            close(dfd);
            diag_error_in(d, w->path, "cannot sync directory: %s", strerror(e));
            return -1;
        }
        close(dfd);
    }
    return 0;
}

/* fstat gives the size, which is checked against max_bytes before the buffer is allocated. */
int io_read_all(const char *path, size_t max_bytes, unsigned char **buf, size_t *len, Diag *d)
{
    *buf = NULL;
    *len = 0;
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        diag_error_in(d, path, "cannot read: %s", strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        diag_error_in(d, path, "cannot read: %s", strerror(errno));
        close(fd);
        return -1;
    }
    if (!S_ISREG(st.st_mode)) {
        diag_error_in(d, path, "cannot read: not a regular file");
        close(fd);
        return -1;
    }
    if ((uint64_t)st.st_size > (uint64_t)max_bytes || (uint64_t)st.st_size >= SIZE_MAX) {
        diag_error_in(d, path, "file too large (%lld bytes; limit %zu)", (long long)st.st_size,
                      max_bytes);
        close(fd);
        return -1;
    }
    size_t n = (size_t)st.st_size;
    unsigned char *b = malloc(n + 1);
    if (!b) {
        diag_error_in(d, path, "out of memory reading %zu bytes", n);
        close(fd);
        return -1;
    }
    size_t got = 0;
    while (got < n) {
        ssize_t k = read(fd, b + got, n - got);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0) {
            diag_error_in(d, path, "cannot read: %s", strerror(errno));
            free(b);
            close(fd);
            return -1;
        }
        if (k == 0)
            break;  /* the file shrank under us: use what is there */
        got += (size_t)k;
    }
    close(fd);
    b[got] = 0;
    *buf = b;
    *len = got;
    return 0;
}

/* Little-endian u32 at p (any alignment). */
uint32_t io_le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Little-endian u64 at p (any alignment). */
uint64_t io_le64(const unsigned char *p)
{
    return (uint64_t)io_le32(p) | (uint64_t)io_le32(p + 4) << 32;
}

/* Stores v little-endian at p. */
void io_put_le32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

/* Stores v little-endian at p. */
void io_put_le64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

/* Inspects the first byte of a 16-bit 1. */
bool io_host_le(void)
{
    const uint16_t one = 1;
    unsigned char b;
    memcpy(&b, &one, 1);
    return b == 1;
}

/* CRC-32 tables for slicing-by-8: crc_tab[0] is the classic byte table of the reflected
 * polynomial 0xEDB88320, and
 *   crc_tab[k][i] = (crc_tab[k-1][i] >> 8) ^ crc_tab[0][crc_tab[k-1][i] & 0xff]
 * advances a byte's contribution by k more bytes. Built once (pthread_once: thread-safe). */
static uint32_t crc_tab[8][256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

/* Builds the eight tables (run once through pthread_once). */
static void crc_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        crc_tab[0][i] = c;
    }
    for (int k = 1; k < 8; k++)
        for (int i = 0; i < 256; i++)
            crc_tab[k][i] = (crc_tab[k - 1][i] >> 8) ^ crc_tab[0][crc_tab[k - 1][i] & 0xff];
}

/* CRC-32 as zlib's crc32: start from ~crc, per byte crc' = T[(crc ^ byte) & 0xff] ^ (crc >> 8),
 * finish with ~. Eight bytes per step with the sliced tables (about 8x the byte-wise speed:
 * checkpoints are CRC'ed whole on every read and write). */
uint32_t io_crc32(uint32_t crc, const void *buf, size_t n)
{
    pthread_once(&crc_once, crc_init);
    const unsigned char *p = buf;
    crc = ~crc;
    while (n >= 8) {
        uint32_t lo = crc ^ io_le32(p), hi = io_le32(p + 4);
        crc = crc_tab[7][lo & 0xff] ^ crc_tab[6][(lo >> 8) & 0xff] ^
              crc_tab[5][(lo >> 16) & 0xff] ^ crc_tab[4][lo >> 24] ^
              crc_tab[3][hi & 0xff] ^ crc_tab[2][(hi >> 8) & 0xff] ^
              crc_tab[1][(hi >> 16) & 0xff] ^ crc_tab[0][hi >> 24];
        p += 8;
        n -= 8;
    }
    while (n--)
        crc = crc_tab[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
    return ~crc;
}
