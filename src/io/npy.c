/* npy: NumPy .npy reader (versions 1.0-3.0) and writer (1.0), see npy.h.
 *
 * File layout (numpy/lib/format.py):
 *   "\x93NUMPY" major minor  HEADER_LEN (u16 LE in 1.0, u32 LE in 2.0/3.0)  HEADER  DATA
 * HEADER is a Python dict literal, padded with spaces and ended by '\n' so that the data starts
 * on a 64-byte boundary:  {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }
 * DATA is count * itemsize bytes, C order. */
#include "io/npy.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/fileio.h"
#include "util/file.h"

enum { NPY_MAX_HEADER = 1 << 20 };  /* numpy's own readers refuse much less than this */

/* Bytes per element; 0 for an invalid dtype. */
size_t npy_dtype_size(NpyDtype t)
{
    switch (t) {
    case NPY_F32: case NPY_I32: return 4;
    case NPY_F64: case NPY_I64: return 8;
    }
    return 0;
}

/* The descr string numpy writes for a little-endian dtype. */
static const char *dtype_descr(NpyDtype t)
{
    switch (t) {
    case NPY_F32: return "<f4";
    case NPY_F64: return "<f8";
    case NPY_I32: return "<i4";
    case NPY_I64: return "<i8";
    }
    return "?";
}

/* Frees the data and zeroes the array (safe on a zeroed or NULL array). */
void npy_free(NpyArray *a)
{
    if (!a)
        return;
    free(a->data);
    memset(a, 0, sizeof *a);
}

/* ---- header dict parser ---------------------------------------------------------------- */

typedef struct Cursor {
    const char *p, *end;
} Cursor;

/* Skips spaces, tabs and newlines (the padding numpy puts in the header). */
static void skip_ws(Cursor *c)
{
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r'))
        c->p++;
}

/* Consumes ch (after whitespace) if it is next. */
static int accept(Cursor *c, char ch)
{
    skip_ws(c);
    if (c->p < c->end && *c->p == ch) {
        c->p++;
        return 1;
    }
    return 0;
}

/* A '...' or "..." string without escapes (the keys and descrs numpy writes have none); the
 * contents go to buf (truncated to n-1). */
static int parse_str(Cursor *c, char *buf, size_t n)
{
    skip_ws(c);
    if (c->p >= c->end || (*c->p != '\'' && *c->p != '"'))
        return -1;
    char q = *c->p++;
    size_t k = 0;
    while (c->p < c->end && *c->p != q) {
        if (*c->p == '\\')
            return -1;
        if (k + 1 < n)
            buf[k++] = *c->p;
        c->p++;
    }
    if (c->p >= c->end)
        return -1;
    c->p++;
    buf[k] = '\0';
    return 0;
}

/* Shape tuple: "()" or "(3,)" or "(3, 4)"; each dimension a non-negative decimal integer. */
static int parse_shape(Cursor *c, NpyArray *a, const char **why)
{
    if (!accept(c, '(')) {
        *why = "'shape' is not a tuple";
        return -1;
    }
    a->ndim = 0;
    while (!accept(c, ')')) {
        skip_ws(c);
        if (a->ndim >= NPY_MAX_DIMS) {
            *why = "too many dimensions (the limit is 8)";
            return -1;
        }
        if (c->p >= c->end || *c->p < '0' || *c->p > '9') {
            *why = "'shape' holds something other than a non-negative integer";
            return -1;
        }
        int64_t v = 0;
        while (c->p < c->end && *c->p >= '0' && *c->p <= '9') {
            if (v > (INT64_MAX - 9) / 10) {
                *why = "a dimension is absurdly large";
                return -1;
            }
            v = v * 10 + (*c->p++ - '0');
        }
        if (c->p < c->end && *c->p == 'L')  /* Python 2 longs */
            c->p++;
        a->shape[a->ndim++] = v;
        if (!accept(c, ',')) {
            if (!accept(c, ')')) {
                *why = "malformed 'shape' tuple";
                return -1;
            }
            break;
        }
    }
    return 0;
}

/* Parses the dict literal in [p, end) into a's dtype and shape. Returns NULL or the reason. */
static const char *parse_header(const char *p, const char *end, NpyArray *a)
{
    Cursor c = {p, end};
    const char *why = NULL;
    int have_descr = 0, have_order = 0, have_shape = 0;
    if (!accept(&c, '{'))
        return "header is not a dict";
    while (!accept(&c, '}')) {
        char key[32], val[32];
        if (parse_str(&c, key, sizeof key) != 0 || !accept(&c, ':'))
            return "malformed header dict";
        if (strcmp(key, "descr") == 0) {
            if (parse_str(&c, val, sizeof val) != 0)
                return "'descr' is not a simple dtype string (structured arrays are unsupported)";
            const char *t = val;
            if (t[0] == '>')
                return "big-endian data is unsupported (save with dtype '<f4' or similar)";
            if (t[0] == '<' || t[0] == '=' || t[0] == '|')
                t++;
            if (strcmp(t, "f4") == 0) a->dtype = NPY_F32;
            else if (strcmp(t, "f8") == 0) a->dtype = NPY_F64;
            else if (strcmp(t, "i4") == 0) a->dtype = NPY_I32;
            else if (strcmp(t, "i8") == 0) a->dtype = NPY_I64;
            else
                return "unsupported dtype (supported: f4, f8, i4, i8 little-endian)";
            have_descr = 1;
        } else if (strcmp(key, "fortran_order") == 0) {
            skip_ws(&c);
            if (c.end - c.p >= 5 && memcmp(c.p, "False", 5) == 0) {
                c.p += 5;
            } else if (c.end - c.p >= 4 && memcmp(c.p, "True", 4) == 0) {
                return "Fortran-order arrays are unsupported (save a C-contiguous array)";
            } else {
                return "'fortran_order' is not True or False";
            }
            have_order = 1;
        } else if (strcmp(key, "shape") == 0) {
            if (parse_shape(&c, a, &why) != 0)
                return why;
            have_shape = 1;
        } else {
            return "unexpected key in header";
        }
        if (!accept(&c, ',')) {
            if (!accept(&c, '}'))
                return "malformed header dict";
            break;
        }
    }
    if (!have_descr || !have_order || !have_shape)
        return "header lacks 'descr', 'fortran_order' or 'shape'";
    skip_ws(&c);
    if (c.p != c.end)
        return "trailing characters after the header dict";
    return NULL;
}

/* Reads exactly n bytes at the current position; -1 on error or end of file. */
static int read_exact(int fd, void *buf, size_t n)
{
    unsigned char *p = buf;
    while (n > 0) {
        ssize_t k = read(fd, p, n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return -1;
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

/* Reads the prefix (magic, version, header length) and the header dict into out's dtype, order
 * and shape; *data_at is where the data start. On failure *why holds the message, or the error
 * is already reported (*why NULL). */
static int read_header(int fd, const char *path, uint64_t fsize, NpyArray *out,
                       uint64_t *data_at, const char **why, Diag *d)
{
    unsigned char pre[12];
    size_t got = fsize < 10 ? (size_t)fsize : 10;
    if (got < 10 || read_exact(fd, pre, 10) != 0 || memcmp(pre, "\x93NUMPY", 6) != 0) {
        char found[96];
        if (got < 10 && read_exact(fd, pre, got) != 0)
            got = 0;
        diag_error_in(d, path, "not a .npy file (no \\x93NUMPY magic): found %s",
                      io_describe_bytes(pre, got, found, sizeof found));
        *why = NULL;
        return -1;
    }
    int major = pre[6];
    uint64_t prefix, hlen;
    if (major == 1) {
        prefix = 10;
        hlen = (uint64_t)pre[8] | (uint64_t)pre[9] << 8;
    } else if (major == 2 || major == 3) {
        prefix = 12;
        if (fsize < 12 || read_exact(fd, pre + 10, 2) != 0) {
            *why = "truncated header";
            return -1;
        }
        hlen = io_le32(pre + 8);
    } else {
        diag_error_in(d, path, "unsupported .npy format version %d.%d (supported: 1.0-3.0)",
                      major, pre[7]);
        return -1;
    }
    if (hlen > NPY_MAX_HEADER || hlen > fsize - prefix) {
        *why = "header length exceeds the file size (truncated or corrupt)";
        return -1;
    }
    char *hdr = malloc(hlen + 1);
    if (!hdr)
        *why = "out of memory";
    else if (read_exact(fd, hdr, hlen) != 0)
        *why = "truncated header";
    else if ((hdr[hlen] = '\0', memchr(hdr, '\0', hlen)))
        *why = "header contains a NUL byte";
    else
        *why = parse_header(hdr, hdr + hlen, out);
    free(hdr);
    *data_at = prefix + hlen;
    return *why ? -1 : 0;
}

/* Checks that the data are exactly what the header's shape and dtype need, then reads them
 * straight into out->data. */
static int read_data(int fd, const char *path, uint64_t have, NpyArray *out, const char **why,
                     Diag *d)
{
    size_t isz = npy_dtype_size(out->dtype);
    uint64_t count = 1;
    for (int i = 0; i < out->ndim; i++) {
        uint64_t s = (uint64_t)out->shape[i];
        if (s != 0 && count > UINT64_MAX / 8 / s) {
            *why = "shape is absurdly large";
            return -1;
        }
        count *= s;
    }
    uint64_t want = count * isz;
    if (have != want) {
        diag_error_in(d, path, "data is %llu bytes but the header's shape and dtype need %llu (%s)",
                      (unsigned long long)have, (unsigned long long)want,
                      have < want ? "truncated" : "trailing bytes");
        return -1;
    }
    if (want > SIZE_MAX - 1 || !io_host_le()) {
        *why = want > SIZE_MAX - 1 ? "array too large for this machine"
                                   : "big-endian hosts are unsupported";
        return -1;
    }
    out->count = (int64_t)count;
    out->data = malloc(want ? (size_t)want : 1);
    if (!out->data) {
        *why = "out of memory";
        return -1;
    }
    if (read_exact(fd, out->data, (size_t)want) != 0) {
        *why = "truncated data";
        return -1;
    }
    return 0;
}

/* Streams the file: prefix, header, then the data straight into the array, so a large array is
 * never held twice. Every size is checked against the file size first. */
int npy_read(const char *path, NpyArray *out, Diag *d)
{
    memset(out, 0, sizeof *out);
    struct stat st;
    int fd = file_open_regular(path, &st, d);
    if (fd < 0)
        return -1;
    uint64_t fsize = (uint64_t)st.st_size, data_at = 0;
    const char *why = NULL;
    int rc = read_header(fd, path, fsize, out, &data_at, &why, d);
    if (rc == 0)
        rc = read_data(fd, path, fsize - data_at, out, &why, d);
    close(fd);
    if (rc != 0) {
        if (why)
            diag_error_in(d, path, "%s", why);
        free(out->data);
        memset(out, 0, sizeof *out);
    }
    return rc;
}

/* The version 1.0 prefix and header of a: the dict is padded with spaces so that 10 +
 * HEADER_LEN is a multiple of 64 and ends with '\n', as numpy does. *total gets its length. */
static int npy_header(const NpyArray *a, unsigned char head[NPY_HEAD_MAX], size_t *total,
                      const char *path, Diag *d)
{
    if (a->ndim < 0 || a->ndim > NPY_MAX_DIMS) {
        diag_error_in(d, path, "cannot write an array with %d dimensions", a->ndim);
        return -1;
    }
    if ((unsigned)a->dtype > NPY_I64 || !io_host_le()) {
        diag_error_in(d, path, "unsupported dtype or big-endian host");
        return -1;
    }
    char dict[512];
    int n = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': (",
                     dtype_descr(a->dtype));
    int64_t count = 1;
    for (int i = 0; i < a->ndim; i++) {
        if (a->shape[i] < 0) {
            diag_error_in(d, path, "cannot write an array with a negative dimension");
            return -1;
        }
        if (a->shape[i] != 0 && count > INT64_MAX / 8 / a->shape[i]) {
            diag_error_in(d, path, "cannot write an array of absurd size");
            return -1;
        }
        count *= a->shape[i];
        n += snprintf(dict + n, sizeof dict - (size_t)n, "%lld%s", (long long)a->shape[i],
                      a->ndim == 1 ? "," : (i + 1 < a->ndim ? ", " : ""));
    }
    n += snprintf(dict + n, sizeof dict - (size_t)n, "), }");
    if (count != a->count) {
        diag_error_in(d, path, "array count %lld does not match its shape (%lld)",
                      (long long)a->count, (long long)count);
        return -1;
    }
    *total = ((size_t)10 + (size_t)n + 1 + 63) / 64 * 64;
    size_t hlen = *total - 10;
    memcpy(head, "\x93NUMPY\x01\x00", 8);
    head[8] = (unsigned char)(hlen & 0xff);
    head[9] = (unsigned char)(hlen >> 8);
    memcpy(head + 10, dict, (size_t)n);
    memset(head + 10 + n, ' ', hlen - (size_t)n - 1);
    head[*total - 1] = '\n';
    return 0;
}

/* Writes version 1.0 atomically. */
int npy_write(const char *path, const NpyArray *a, Diag *d)
{
    unsigned char head[NPY_HEAD_MAX];
    size_t total;
    if (npy_header(a, head, &total, path, d))
        return -1;
    IoAtomic w;
    if (io_atomic_open(&w, path, d) != 0)
        return -1;
    io_atomic_write(&w, head, total);
    io_atomic_write(&w, a->data, (size_t)a->count * npy_dtype_size(a->dtype));
    return io_atomic_commit(&w, d);
}

int npy_encode(const NpyArray *a, unsigned char **buf, size_t *len, const char *what, Diag *d)
{
    unsigned char head[NPY_HEAD_MAX];
    size_t total;
    *buf = NULL;
    if (npy_header(a, head, &total, what, d))
        return -1;
    size_t data = (size_t)a->count * npy_dtype_size(a->dtype);
    *buf = malloc(total + data + 1);
    if (!*buf) {
        diag_error_in(d, what, "out of memory");
        return -1;
    }
    memcpy(*buf, head, total);
    if (data)
        memcpy(*buf + total, a->data, data);
    *len = total + data;
    return 0;
}

/* The same checks as npy_read, on bytes in memory. */
int npy_parse(const unsigned char *buf, size_t n, const char *what, NpyArray *out, Diag *d)
{
    memset(out, 0, sizeof *out);
    const char *why = NULL;
    size_t prefix = 0, hlen = 0;
    char found[128];
    if (n < 10 || memcmp(buf, "\x93NUMPY", 6) != 0) {
        snprintf(found, sizeof found, "not a .npy array (no \\x93NUMPY magic): found ");
        size_t k = strlen(found);
        io_describe_bytes(buf, n, found + k, sizeof found - k);
        why = found;
    } else if (buf[6] == 1) {
        prefix = 10;
        hlen = (size_t)buf[8] | (size_t)buf[9] << 8;
    } else if ((buf[6] == 2 || buf[6] == 3) && n >= 12) {
        prefix = 12;
        hlen = io_le32(buf + 8);
    } else {
        why = "unsupported .npy format version (supported: 1.0-3.0)";
    }
    if (!why && (hlen > NPY_MAX_HEADER || hlen > n - prefix))
        why = "header length exceeds the data (truncated or corrupt)";
    char *hdr = why ? NULL : malloc(hlen + 1);
    if (!why && !hdr)
        why = "out of memory";
    if (!why) {
        memcpy(hdr, buf + prefix, hlen);
        hdr[hlen] = '\0';
        why = memchr(hdr, '\0', hlen) ? "header contains a NUL byte"
                                      : parse_header(hdr, hdr + hlen, out);
    }
    free(hdr);
    uint64_t count = 1;
    for (int i = 0; !why && i < out->ndim; i++) {
        uint64_t s = (uint64_t)out->shape[i];
        if (s != 0 && count > UINT64_MAX / 8 / s)
            why = "shape is absurdly large";
        count *= s;
    }
    size_t have = n - prefix - hlen;
    if (!why && count * npy_dtype_size(out->dtype) != have)
        why = have < count * npy_dtype_size(out->dtype) ? "data are truncated"
                                                         : "trailing bytes after the data";
    if (!why && !(out->data = malloc(have + 1)))
        why = "out of memory";
    if (why) {
        diag_error_in(d, what, "%s", why);
        memset(out, 0, sizeof *out);
        return -1;
    }
    memcpy(out->data, buf + prefix + hlen, have);
    out->count = (int64_t)count;
    return 0;
}

int npy_to_tensor(const NpyArray *a, const char *name, CkptTensorList *l, const char *what,
                  Diag *d)
{
    if (a->dtype != NPY_F32 && a->dtype != NPY_F64) {
        diag_error_in(d, what, "array '%s' holds integers; weights are float32 or float64", name);
        return -1;
    }
    if (a->ndim > CKPT_MAX_DIMS) {
        diag_error_in(d, what, "array '%s' has %d dimensions (at most %d)", name, a->ndim,
                      CKPT_MAX_DIMS);
        return -1;
    }
    CkptTensor *t = ckpt_add_tensor(l, name, a->ndim, a->shape, NULL);
    if (!t) {
        diag_error_in(d, what, "array '%s': out of memory or a duplicate name", name);
        return -1;
    }
    for (int64_t i = 0; i < a->count; i++)
        t->data[i] = a->dtype == NPY_F32 ? ((const float *)a->data)[i]
                                         : (float)((const double *)a->data)[i];
    return 0;
}
