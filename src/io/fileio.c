/* fileio: atomic writes, bounded reads, little-endian fields and CRC-32 (see fileio.h). */
#include "io/fileio.h"

#include <errno.h>
#include <stdio.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <libdeflate.h>

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
    int synced = fsync(w->fd), e = errno;   /* closed either way: no descriptor leaks */
    int closed = close(w->fd);
    if (synced != 0 || closed != 0) {
        e = synced != 0 ? e : errno;
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

/* CRC-32 is libdeflate's: the same CRC as zlib's crc32, about 5x faster with the CPU's
 * carry-less multiply, and a size_t length, so a checkpoint of any size is one call. */
uint32_t io_crc32(uint32_t crc, const void *buf, size_t n)
{
    return libdeflate_crc32(crc, buf, n);
}

/* One signature of io_describe_bytes: the bytes at offset 0 and what they mean. */
typedef struct Signature {
    const char *bytes;
    size_t n;
    const char *what;
} Signature;

const char *io_describe_bytes(const unsigned char *h, size_t n, char *buf, size_t size)
{
    static const Signature sigs[] = {
        {"RECURCKP", 8, "a recur checkpoint"}, {"\x93NUMPY", 6, "a NumPy .npy file"},
        {"\x89HDF\r\n\x1a\n", 8, "an HDF5 file"}, {"PK\3\4", 4, "a zip archive"},
        {"\x89PNG", 4, "a PNG image"}, {"\x7f" "ELF", 4, "an ELF program"},
    };
    for (size_t i = 0; i < sizeof sigs / sizeof *sigs; i++)
        if (n >= sigs[i].n && memcmp(h, sigs[i].bytes, sigs[i].n) == 0)
            return snprintf(buf, size, "%s", sigs[i].what), buf;
    if (n >= 9 && io_le64(h) >= 2 && io_le64(h) <= n - 8 && h[8] == '{')
        return snprintf(buf, size, "a safetensors file"), buf;
    if (n >= 2 && h[0] == 0x80 && h[1] >= 2 && h[1] <= 5)
        return snprintf(buf, size, "a Python pickle"), buf;
    size_t text = 0;
    while (text < n && text < 64 && (h[text] >= 0x20 || h[text] == '\n' || h[text] == '\t' ||
                                     h[text] == '\r') && h[text] != 0x7f)
        text++;
    if (n > 0 && (text == n || text == 64))
        return snprintf(buf, size, "text"), buf;
    size_t used = (size_t)snprintf(buf, size, n ? "the bytes" : "an empty file");
    for (size_t i = 0; i < n && i < 8 && used < size; i++)
        used += (size_t)snprintf(buf + used, size - used, " %02x", h[i]);
    return buf;
}
