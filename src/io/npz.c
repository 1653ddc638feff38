/* npz: NumPy .npz archives through libzip and npy.c (see npz.h). */
#include "io/npz.h"

#include <stdlib.h>
#include <string.h>

#include "io/npy.h"
#include "io/ziparch.h"
#include "util/file.h"

enum { NPZ_MAX_FILE = 1 << 30 };

static bool is_npy_name(const char *name)
{
    size_t n = strlen(name);
    return n > 4 && strcmp(name + n - 4, ".npy") == 0;
}

int npz_probe(const unsigned char *head, size_t n, const char *path)
{
    if (n < 4 || memcmp(head, "PK\3\4", 4) != 0)
        return 0;
    return ziparch_probe_path(path, is_npy_name, true);
}

/* One entry: NAME.npy -> tensor NAME. */
static int read_entry(const ZipIn *z, int64_t i, WeightSet *out, Diag *d)
{
    const char *name = ziparch_name(z, i);
    if (!name || !is_npy_name(name)) {
        diag_error_in(d, z->what, "entry '%s' is not a .npy array", name ? name : "?");
        return -1;
    }
    unsigned char *buf;
    size_t len;
    if (ziparch_read_entry(z, i, &buf, &len, d))
        return -1;
    char tname[512];
    snprintf(tname, sizeof tname, "%.*s", (int)(strlen(name) - 4), name);
    char what[1024];
    snprintf(what, sizeof what, "%s: entry '%s'", z->what, name);
    NpyArray a;
    int rc = npy_parse(buf, len, what, &a, d);
    free(buf);
    if (!rc) {
        rc = npy_to_tensor(&a, tname, &out->tensors, z->what, d);
        if (!rc && a.dtype == NPY_F64)
            rc = wf_set_note(out, "float64 arrays converted to float32");
        npy_free(&a);
    }
    return rc;
}

int npz_read_buffer(const unsigned char *buf, size_t n, const char *what, WeightSet *out,
                    Diag *d)
{
    ZipIn z;
    if (ziparch_open(&z, buf, n, what, d))
        return -1;
    int rc = 0;
    for (int64_t i = 0; !rc && i < z.n; i++)
        rc = read_entry(&z, i, out, d);
    ziparch_close(&z);
    if (rc)
        wf_set_free(out);
    return rc;
}

int npz_read(const char *path, const WfReadOpts *o, WeightSet *out, Diag *d)
{
    (void)o;
    unsigned char *buf;
    size_t n;
    if (file_read_all(path, NPZ_MAX_FILE, &buf, &n, d))
        return -1;
    int rc = npz_read_buffer(buf, n, path, out, d);
    free(buf);
    return rc;
}

/* Entries NAME.npy, float32, stored (numpy.savez's layout). */
int npz_write(const char *path, const WeightSet *w, Diag *d)
{
    ZipOut z;
    if (ziparch_create(&z, path, d))
        return -1;
    for (int i = 0; i < w->tensors.n; i++) {
        const CkptTensor *t = &w->tensors.items[i];
        NpyArray a = {.dtype = NPY_F32, .ndim = t->ndim, .count = t->count, .data = t->data};
        memcpy(a.shape, t->shape, sizeof(int64_t) * (size_t)t->ndim);
        unsigned char *buf;
        size_t len;
        char name[512];
        snprintf(name, sizeof name, "%s.npy", t->name);
        if (npy_encode(&a, &buf, &len, path, d) || ziparch_add(&z, name, buf, len, d)) {
            free(buf);
            ziparch_discard(&z);
            return -1;
        }
        free(buf);
    }
    return ziparch_commit(&z, d);
}
