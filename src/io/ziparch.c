/* ziparch: zip archives in memory through libzip (see ziparch.h). */
#include "io/ziparch.h"

#include <stdlib.h>
#include <string.h>
#include <zip.h>

#include "io/fileio.h"

int ziparch_open(ZipIn *z, const unsigned char *buf, size_t n, const char *what, Diag *d)
{
    memset(z, 0, sizeof *z);
    z->what = what;
    zip_error_t err;
    zip_error_init(&err);
    const void *data = n ? (const void *)buf : (const void *)"";
    zip_source_t *src = zip_source_buffer_create(data, n, 0, &err);
    zip_t *za = src ? zip_open_from_source(src, ZIP_RDONLY | ZIP_CHECKCONS, &err) : NULL;
    if (!za) {
        char found[96] = "";   /* what the bytes are, when they are not a (damaged) zip */
        if (n < 4 || memcmp(buf, "PK", 2) != 0) {
            memcpy(found, "; found ", 9);
            io_describe_bytes(buf, n, found + 8, sizeof found - 8);
        }
        diag_error_in(d, what, "not a valid zip archive: %s%s", zip_error_strerror(&err), found);
        if (src)
            zip_source_free(src);
        zip_error_fini(&err);
        return -1;
    }
    zip_error_fini(&err);
    z->za = za;
    z->src = src;
    z->n = zip_get_num_entries(za, 0);
    if (z->n < 0 || z->n > ZIPARCH_MAX_ENTRIES) {
        diag_error_in(d, what, "the zip archive holds %lld entries (at most %d are read)",
                      (long long)z->n, ZIPARCH_MAX_ENTRIES);
        ziparch_close(z);
        return -1;
    }
    return 0;
}

void ziparch_close(ZipIn *z)
{
    if (z->za)
        zip_discard(z->za);   /* frees the source too */
    memset(z, 0, sizeof *z);
}

const char *ziparch_name(const ZipIn *z, int64_t i)
{
    return zip_get_name(z->za, (zip_uint64_t)i, ZIP_FL_ENC_RAW);
}

int64_t ziparch_find(const ZipIn *z, const char *name)
{
    return zip_name_locate(z->za, name, ZIP_FL_ENC_RAW);
}

/* Reads at most the declared size (bounded) and checks that exactly that much came out. */
int ziparch_read_entry(const ZipIn *z, int64_t i, unsigned char **buf, size_t *len, Diag *d)
{
    *buf = NULL;
    *len = 0;
    const char *name = ziparch_name(z, i);
    zip_stat_t st;
    if (!name || zip_stat_index(z->za, (zip_uint64_t)i, 0, &st) != 0 ||
        !(st.valid & ZIP_STAT_SIZE)) {
        diag_error_in(d, z->what, "zip entry #%lld cannot be read", (long long)i);
        return -1;
    }
    if (st.size > ZIPARCH_MAX_ENTRY) {
        diag_error_in(d, z->what, "zip entry '%s' is %llu bytes (the limit is %d)", name,
                      (unsigned long long)st.size, ZIPARCH_MAX_ENTRY);
        return -1;
    }
    zip_file_t *f = zip_fopen_index(z->za, (zip_uint64_t)i, 0);
    unsigned char *p = f ? malloc((size_t)st.size + 1) : NULL;
    zip_int64_t got = p ? zip_fread(f, p, st.size) : -1;
    unsigned char extra;
    bool more = got >= 0 && (zip_uint64_t)got == st.size && zip_fread(f, &extra, 1) != 0;
    char why[160];   /* the entry's own error (a CRC-32 mismatch: damaged data), or the archive's */
    bool crc = f && zip_error_code_zip(zip_file_get_error(f)) == ZIP_ER_CRC;
    snprintf(why, sizeof why, "%s", f ? zip_file_strerror(f) : zip_strerror(z->za));
    int closed = f ? zip_fclose(f) : -1;
    crc = crc || closed == ZIP_ER_CRC;
    if (!p || got < 0 || (zip_uint64_t)got != st.size || more || closed != 0) {
        if (crc)
            diag_error_in(d, z->what, "zip entry '%s' is damaged: its data do not match the "
                          "CRC-32 the archive records for it", name);
        else
            diag_error_in(d, z->what, "zip entry '%s' is corrupt or truncated (%s)", name,
                          !p && f ? "out of memory" : why);
        free(p);
        return -1;
    }
    p[st.size] = '\0';
    *buf = p;
    *len = (size_t)st.size;
    return 0;
}

/* libzip reads only the central directory here (the path was checked to be a regular file). */
int ziparch_probe_path(const char *path, bool (*want)(const char *name), bool all)
{
    int err = 0;
    zip_t *za = zip_open(path, ZIP_RDONLY, &err);
    if (!za)
        return 0;
    zip_int64_t n = zip_get_num_entries(za, 0), yes = 0;
    for (zip_int64_t i = 0; i < n; i++) {
        const char *name = zip_get_name(za, (zip_uint64_t)i, ZIP_FL_ENC_RAW);
        yes += name && want(name);
    }
    zip_discard(za);
    return all ? n > 0 && yes == n : yes > 0;
}

int ziparch_create(ZipOut *z, const char *path, Diag *d)
{
    memset(z, 0, sizeof *z);
    z->path = path;
    zip_error_t err;
    zip_error_init(&err);
    zip_source_t *src = zip_source_buffer_create(NULL, 0, 0, &err);
    zip_t *za = src ? zip_open_from_source(src, ZIP_TRUNCATE, &err) : NULL;
    if (!za) {
        diag_error_in(d, path, "cannot create a zip archive: %s", zip_error_strerror(&err));
        if (src)
            zip_source_free(src);
        zip_error_fini(&err);
        return -1;
    }
    zip_error_fini(&err);
    zip_source_keep(src);   /* the bytes are read back from it after zip_close */
    z->za = za;
    z->src = src;
    return 0;
}

int ziparch_add(ZipOut *z, const char *name, const void *data, size_t n, Diag *d)
{
    /* libzip does not free an empty buffer it was given to own: empty entries use a static one */
    void *copy = n ? malloc(n) : NULL;
    if (copy)
        memcpy(copy, data, n);
    zip_source_t *s = !n ? zip_source_buffer(z->za, "", 0, 0)
                    : copy ? zip_source_buffer(z->za, copy, n, 1) : NULL;
    if (!s) {
        free(copy);
        diag_error_in(d, z->path, "out of memory building the zip archive");
        return -1;
    }
    zip_int64_t i = zip_file_add(z->za, name, s, ZIP_FL_ENC_UTF_8);
    if (i < 0) {
        zip_source_free(s);
        diag_error_in(d, z->path, "cannot add '%s' to the zip archive: %s", name,
                      zip_strerror(z->za));
        return -1;
    }
    zip_set_file_compression(z->za, (zip_uint64_t)i, ZIP_CM_STORE, 0);
    return 0;
}

/* zip_close writes the archive into the kept memory source; its bytes then go to the file. */
int ziparch_commit(ZipOut *z, Diag *d)
{
    zip_source_t *src = z->src;
    const char *path = z->path;
    if (zip_close(z->za) != 0) {
        diag_error_in(d, path, "cannot finish the zip archive: %s", zip_strerror(z->za));
        zip_discard(z->za);
        zip_source_free(src);
        memset(z, 0, sizeof *z);
        return -1;
    }
    memset(z, 0, sizeof *z);
    zip_stat_t st;
    int rc = -1;
    if (zip_source_stat(src, &st) == 0 && zip_source_open(src) == 0) {
        unsigned char *buf = malloc(st.size ? st.size : 1);
        if (buf && zip_source_read(src, buf, st.size) == (zip_int64_t)st.size) {
            IoAtomic w;
            if (io_atomic_open(&w, path, d) == 0) {
                io_atomic_write(&w, buf, st.size);
                rc = io_atomic_commit(&w, d);
            }
        }
        free(buf);
        zip_source_close(src);
    }
    zip_source_free(src);
    if (rc && diag_error_count(d) == 0)
        diag_error_in(d, path, "cannot read the finished zip archive back from memory");
    return rc;
}

void ziparch_discard(ZipOut *z)
{
    if (z->za) {
        zip_discard(z->za);
        zip_source_free(z->src);
    }
    memset(z, 0, sizeof *z);
}
