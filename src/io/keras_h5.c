/* keras_h5: Keras 2 .h5 weight files through libhdf5 (see keras_h5.h). */
#include "io/keras_h5.h"

#include <hdf5.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "io/fileio.h"
#include "io/h5image.h"
#include "util/array.h"
#include "util/file.h"

#define KH5_MAX_FILE_BYTES ((size_t)1 << 34)
/* The root attribute holding the CRC-32 of the weights recur wrote (issue 14), checked on read. */
#define KH5_CRC_ATTR "recur_crc32"
/* Limits on what one attribute may hold: Keras's own strings are far smaller (layer names, a
 * model's JSON), and a malformed file must not make us allocate gigabytes. */
#define KH5_MAX_STRINGS 1000000
#define KH5_MAX_STRING_BYTES ((size_t)64 << 20)
#define KH5_MAX_CHUNKS 10000

static const unsigned char hdf5_magic[8] = { 0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n' };

/* True when buf starts with the HDF5 signature. */
bool keras_h5_sniff(const void *buf, size_t n)
{
    return n >= sizeof hdf5_magic && memcmp(buf, hdf5_magic, sizeof hdf5_magic) == 0;
}

/* Releases everything k owns; k is empty afterwards. */
void keras_h5_free(KerasH5 *k)
{
    for (int i = 0; i < k->nlayers; i++) {
        free(k->layers[i].name);
        ckpt_tensors_free(&k->layers[i].weights);
    }
    free(k->layers);
    free(k->model_config);
    free(k->keras_version);
    free(k->backend);
    memset(k, 0, sizeof *k);
}

/* Appends an empty layer named name. */
KerasH5Layer *keras_h5_add_layer(KerasH5 *k, const char *name)
{
    if (ARRAY_RESERVE(k->layers, k->cap, (size_t)k->nlayers + 1) != 0)
        return NULL;
    KerasH5Layer *l = &k->layers[k->nlayers];
    memset(l, 0, sizeof *l);
    if (!(l->name = strdup(name)))
        return NULL;
    k->nlayers++;
    return l;
}

/* ---- reading ---------------------------------------------------------------------------- */

/* A list of strings read from one attribute (all malloc'ed). */
typedef struct StrList {
    char **s;
    size_t n, cap;
} StrList;

/* Frees the strings and the list. */
static void strs_free(StrList *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->s[i]);
    free(l->s);
    memset(l, 0, sizeof *l);
}

/* Appends a copy of the first len bytes of p (up to the first NUL). -1 when out of memory. */
static int strs_add(StrList *l, const char *p, size_t len)
{
    if (ARRAY_RESERVE(l->s, l->cap, l->n + 1) != 0)
        return -1;
    len = strnlen(p, len);
    char *c = malloc(len + 1);
    if (!c)
        return -1;
    memcpy(c, p, len);
    c[len] = 0;
    l->s[l->n++] = c;
    return 0;
}

/* The strings of a variable-length string attribute (h5py's str). */
static int read_vlen_strings(hid_t a, hid_t t, hid_t space, size_t n, StrList *out)
{
    hid_t mt = H5Tcopy(H5T_C_S1);
    char **v = calloc(n ? n : 1, sizeof *v);
    int rc = -1;
    /* the memory type takes the file's character set (h5py's str is UTF-8): HDF5 does not
     * convert between ASCII and UTF-8 strings */
    if (mt >= 0 && v && H5Tset_size(mt, H5T_VARIABLE) >= 0 &&
        H5Tset_cset(mt, H5Tget_cset(t)) >= 0 && H5Aread(a, mt, v) >= 0) {
        rc = 0;
        for (size_t i = 0; i < n && rc == 0; i++)
            rc = strs_add(out, v[i] ? v[i] : "", v[i] ? KH5_MAX_STRING_BYTES : 0);
        H5Dvlen_reclaim(mt, space, H5P_DEFAULT, v);
    }
    free(v);
    if (mt >= 0)
        H5Tclose(mt);
    return rc;
}

/* The strings of a fixed-length string attribute (h5py's bytes, numpy 'S' arrays). */
static int read_fixed_strings(hid_t a, hid_t t, size_t size, size_t n, StrList *out)
{
    if (size == 0 || size > KH5_MAX_STRING_BYTES || n > KH5_MAX_STRING_BYTES / size)
        return -1;
    hid_t mt = H5Tcopy(H5T_C_S1);
    char *buf = calloc(n ? n : 1, size);
    int rc = -1;
    if (mt >= 0 && buf && H5Tset_size(mt, size) >= 0 && H5Tset_cset(mt, H5Tget_cset(t)) >= 0 &&
        H5Tset_strpad(mt, H5T_STR_NULLPAD) >= 0 && H5Aread(a, mt, buf) >= 0) {
        rc = 0;
        for (size_t i = 0; i < n && rc == 0; i++)
            rc = strs_add(out, buf + i * size, size);
    }
    free(buf);
    if (mt >= 0)
        H5Tclose(mt);
    return rc;
}

/* Reads attribute name of obj as a list of strings (a scalar gives one). 1 when the attribute
 * is absent, 0 on success, -1 (reported as "<where>: attribute NAME ...") on a bad one. */
static int read_strings(hid_t obj, const char *name, const char *path, const char *where,
                        StrList *out, Diag *d)
{
    htri_t ex = H5Aexists(obj, name);
    if (ex == 0)
        return 1;
    hid_t a = ex > 0 ? H5Aopen(obj, name, H5P_DEFAULT) : -1;
    hid_t t = a >= 0 ? H5Aget_type(a) : -1, sp = a >= 0 ? H5Aget_space(a) : -1;
    int rc = -1;
    const char *why = "cannot be read";
    if (t >= 0 && sp >= 0) {
        hssize_t np = H5Sget_simple_extent_npoints(sp);
        int nd = H5Sget_simple_extent_ndims(sp);
        htri_t vl = H5Tis_variable_str(t);
        if (H5Tget_class(t) != H5T_STRING) {
            /* Keras writes an empty float array for a layer without weights */
            rc = np == 0 ? 0 : -1;
            why = "is not a string";
        } else if (np < 0 || np > KH5_MAX_STRINGS || nd < 0 || nd > 1 || vl < 0) {
            why = "has an unsupported shape";
        } else if (vl > 0) {
            rc = read_vlen_strings(a, t, sp, (size_t)np, out);
        } else {
            rc = read_fixed_strings(a, t, H5Tget_size(t), (size_t)np, out);
        }
    }
    if (rc < 0)
        diag_error_in(d, path, "%s: attribute %s %s", where, name, why);
    if (sp >= 0)
        H5Sclose(sp);
    if (t >= 0)
        H5Tclose(t);
    if (a >= 0)
        H5Aclose(a);
    return rc;
}

/* Keras's list attribute: NAME, or NAME0, NAME1, ... (save_attributes_to_hdf5_group splits
 * lists over 64 KB into chunks). 1 when neither exists. */
static int read_list_attr(hid_t obj, const char *name, const char *path, const char *where,
                          StrList *out, Diag *d)
{
    int rc = read_strings(obj, name, path, where, out, d);
    if (rc != 1)
        return rc;
    for (int i = 0; i < KH5_MAX_CHUNKS; i++) {
        char chunk[96];
        snprintf(chunk, sizeof chunk, "%s%d", name, i);
        int r = read_strings(obj, chunk, path, where, out, d);
        if (r < 0)
            return -1;
        if (r == 1)
            return i == 0 ? 1 : 0;
    }
    return 0;
}

/* The one string of a scalar attribute into *out (NULL when absent). */
static int read_one_string(hid_t obj, const char *name, const char *path, char **out, Diag *d)
{
    StrList l = { 0 };
    int rc = read_strings(obj, name, path, "the file", &l, d);
    if (rc == 0 && l.n > 0) {
        *out = l.s[0];
    }
    for (size_t i = 1; i < l.n; i++)
        free(l.s[i]);
    free(l.s);
    return rc < 0 ? -1 : 0;
}

/* Reads dataset wname of layer group g as float32 into the layer's list. max_floats bounds
 * what a small (possibly malformed) file can make us allocate. */
static int read_weight(hid_t g, const char *layer, const char *wname, KerasH5Layer *kl,
                       size_t max_floats, const char *path, Diag *d)
{
    htri_t ok = H5Lexists(g, wname, H5P_DEFAULT) > 0 ? H5Oexists_by_name(g, wname, H5P_DEFAULT)
                                                     : 0;
    if (ok <= 0) {
        diag_error_in(d, path, "layer '%s': dataset '%s' is listed in weight_names but missing",
                      layer, wname);
        return -1;
    }
    hid_t ds = H5Dopen2(g, wname, H5P_DEFAULT);
    hid_t t = ds >= 0 ? H5Dget_type(ds) : -1, sp = ds >= 0 ? H5Dget_space(ds) : -1;
    int rc = -1, nd = sp >= 0 ? H5Sget_simple_extent_ndims(sp) : -1;
    hsize_t dims[KERAS_H5_MAX_DIMS + 1];
    if (ds < 0 || t < 0 || nd < 0)
        diag_error_in(d, path, "layer '%s': dataset '%s' cannot be opened", layer, wname);
    else if (H5Tget_class(t) != H5T_FLOAT)
        diag_error_in(d, path, "layer '%s': dataset '%s' is not floating point", layer, wname);
    else if (nd > KERAS_H5_MAX_DIMS || H5Sget_simple_extent_dims(sp, dims, NULL) != nd)
        diag_error_in(d, path, "layer '%s': dataset '%s' has rank %d (at most %d)", layer,
                      wname, nd, KERAS_H5_MAX_DIMS);
    else
        rc = 0;
    int64_t shape[KERAS_H5_MAX_DIMS];
    size_t count = 1;
    for (int i = 0; rc == 0 && i < nd; i++) {
        shape[i] = (int64_t)dims[i];
        if (dims[i] > max_floats || (dims[i] && count > max_floats / dims[i])) {
            diag_error_in(d, path, "layer '%s': dataset '%s' is too large for this file",
                          layer, wname);
            rc = -1;
        }
        count *= (size_t)dims[i];
    }
    CkptTensor *ct = NULL;
    if (rc == 0 && !(ct = ckpt_add_tensor(&kl->weights, wname, nd, shape, NULL))) {
        diag_error_in(d, path, "layer '%s': dataset '%s' is listed twice (or out of memory)",
                      layer, wname);
        rc = -1;
    }
    if (rc == 0 && count && H5Dread(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT,
                                    ct->data) < 0) {
        diag_error_in(d, path, "layer '%s': dataset '%s' cannot be read", layer, wname);
        rc = -1;
    }
    if (sp >= 0)
        H5Sclose(sp);
    if (t >= 0)
        H5Tclose(t);
    if (ds >= 0)
        H5Dclose(ds);
    return rc;
}

/* One layer group: its weight_names and every dataset they name. */
static int read_layer(hid_t wg, const char *name, KerasH5 *k, size_t max_floats,
                      const char *path, Diag *d)
{
    KerasH5Layer *kl = keras_h5_add_layer(k, name);
    if (!kl) {
        diag_error_in(d, path, "out of memory");
        return -1;
    }
    if (H5Lexists(wg, name, H5P_DEFAULT) <= 0) {
        diag_error_in(d, path, "layer '%s' is listed in layer_names but has no group", name);
        return -1;
    }
    hid_t g = H5Gopen2(wg, name, H5P_DEFAULT);
    if (g < 0) {
        diag_error_in(d, path, "layer '%s': its group cannot be opened", name);
        return -1;
    }
    char where[300];
    snprintf(where, sizeof where, "layer '%s'", name);
    StrList w = { 0 };
    int rc = read_list_attr(g, "weight_names", path, where, &w, d);
    if (rc == 1) {
        diag_error_in(d, path, "layer '%s' has no weight_names attribute", name);
        rc = -1;
    }
    for (size_t i = 0; rc == 0 && i < w.n; i++)
        rc = read_weight(g, name, w.s[i], kl, max_floats, path, d);
    strs_free(&w);
    H5Gclose(g);
    return rc;
}

/* The group holding layer_names (the root, or model_weights/ of model.save) and the layers. */
static int read_layers(hid_t f, KerasH5 *k, size_t max_floats, const char *path, Diag *d)
{
    hid_t wg = H5Gopen2(f, "/", H5P_DEFAULT);
    StrList names = { 0 };
    int rc = wg < 0 ? -1 : read_list_attr(wg, "layer_names", path, "the file", &names, d);
    if (rc == 1 && H5Lexists(f, "model_weights", H5P_DEFAULT) > 0) {
        H5Gclose(wg);
        wg = H5Gopen2(f, "model_weights", H5P_DEFAULT);
        k->whole_model = true;
        rc = wg < 0 ? -1 : read_list_attr(wg, "layer_names", path, "model_weights", &names, d);
    }
    if (rc == 1 || wg < 0) {
        DiagMessage *m = diag_error_in(d, path, "an HDF5 file, but not Keras weights (no "
                                       "layer_names attribute at the root or in "
                                       "model_weights/)");
        if (H5Lexists(f, "layers", H5P_DEFAULT) > 0 && H5Lexists(f, "vars", H5P_DEFAULT) > 0)
            diag_help(m, "this looks like Keras 3's .weights.h5 (layers/<name>/vars/<i>), which "
                      "recur does not read: save with Keras 2's h5 format");
        rc = -1;
    }
    for (size_t i = 0; rc == 0 && i < names.n; i++)
        rc = read_layer(wg, names.s[i], k, max_floats, path, d);
    if (rc == 0 && (read_one_string(wg, "keras_version", path, &k->keras_version, d) < 0 ||
                    read_one_string(wg, "backend", path, &k->backend, d) < 0))
        rc = -1;
    strs_free(&names);
    if (wg >= 0)
        H5Gclose(wg);
    return rc;
}

/* The CRC-32 of every weight's float32 data, layer by layer in file order (KH5_CRC_ATTR). */
static uint32_t weights_crc(const KerasH5 *k)
{
    uint32_t crc = 0;
    for (int i = 0; i < k->nlayers; i++)
        for (int j = 0; j < k->layers[i].weights.n; j++) {
            const CkptTensor *t = &k->layers[i].weights.items[j];
            if (t->data)
                crc = io_crc32(crc, t->data, (size_t)t->count * sizeof(float));
        }
    return crc;
}

/* Checks the root's KH5_CRC_ATTR (written by recur) against the weights read; a file without
 * it (Keras's own) is taken as it is. */
static int check_crc(hid_t f, const KerasH5 *k, const char *path, Diag *d)
{
    if (H5Aexists(f, KH5_CRC_ATTR) <= 0)
        return 0;
    char *want = NULL, *end = NULL;
    if (read_one_string(f, KH5_CRC_ATTR, path, &want, d) < 0)
        return -1;
    uint32_t got = weights_crc(k);
    unsigned long w = want ? strtoul(want, &end, 16) : 0;
    int rc = want && *want && !*end && w == got ? 0 : -1;
    if (rc)
        diag_error_in(d, path, "the weight data are damaged: their CRC-32 is %08x, the file "
                      "records %s (attribute %s)", got, want ? want : "nothing", KH5_CRC_ATTR);
    free(want);
    return rc;
}

/* Opens the image read-only through the core (memory) driver. */
static hid_t open_image(const void *buf, size_t len)
{
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (fapl < 0)
        return -1;
    hid_t f = -1;
    if (H5Pset_fapl_core(fapl, 1 << 16, 0) >= 0 && H5Pset_file_image(fapl, (void *)buf, len) >= 0)
        f = H5Fopen("recur-image.h5", H5F_ACC_RDONLY, fapl);
    H5Pclose(fapl);
    return f;
}

/* See keras_h5.h. libhdf5's own error printing is switched off while we read (every failure is
 * reported through d instead) and restored afterwards. */
int keras_h5_read_image(const void *buf, size_t len, const char *name, KerasH5 *out, Diag *d)
{
    memset(out, 0, sizeof *out);
    if (!keras_h5_sniff(buf, len)) {
        char found[96];
        diag_error_in(d, name, "not an HDF5 file (no HDF5 signature): found %s",
                      io_describe_bytes(buf, len, found, sizeof found));
        return -1;
    }
    H5E_auto2_t old_fn;
    void *old_data;
    H5Eget_auto2(H5E_DEFAULT, &old_fn, &old_data);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    int rc = -1;
    hid_t f = open_image(buf, len);
    if (f < 0) {
        diag_error_in(d, name, "a damaged or truncated HDF5 file (libhdf5 cannot open it)");
    } else {
        /* weights may be up to 16x the file's bytes (a compressed dataset), never more */
        size_t max_floats = (len < ((size_t)1 << 40) ? len : ((size_t)1 << 40)) * 4 + 4096;
        rc = read_layers(f, out, max_floats, name, d);
        if (rc == 0 && H5Aexists(f, "model_config") > 0)
            rc = read_one_string(f, "model_config", name, &out->model_config, d);
        if (rc == 0)
            rc = check_crc(f, out, name, d);
        H5Fclose(f);
    }
    H5Eset_auto2(H5E_DEFAULT, old_fn, old_data);
    if (rc < 0)
        keras_h5_free(out);
    return rc;
}

/* Reads path whole (a regular file, bounded) and parses it as an image. */
int keras_h5_read(const char *path, KerasH5 *out, Diag *d)
{
    unsigned char *buf;
    size_t len;
    memset(out, 0, sizeof *out);
    if (file_read_all(path, KH5_MAX_FILE_BYTES, &buf, &len, d) < 0)
        return -1;
    int rc = keras_h5_read_image(buf, len, path, out, d);
    free(buf);
    return rc;
}

/* ---- writing ---------------------------------------------------------------------------- */

/* Writes n strings as a fixed-length string attribute (numpy 'S' as h5py stores bytes):
 * rank 1 when array, else a scalar (n == 1). */
static int write_strings(hid_t obj, const char *name, const char *const *s, size_t n,
                         bool array)
{
    size_t size = 1;
    for (size_t i = 0; i < n; i++)
        if (strlen(s[i]) > size)
            size = strlen(s[i]);
    char *buf = calloc(n ? n : 1, size);
    if (!buf)
        return -1;
    for (size_t i = 0; i < n; i++)
        memcpy(buf + i * size, s[i], strlen(s[i]));
    hsize_t dim = n;
    hid_t t = H5Tcopy(H5T_C_S1);
    hid_t sp = array ? H5Screate_simple(1, &dim, NULL) : H5Screate(H5S_SCALAR);
    hid_t a = -1;
    int rc = -1;
    if (t >= 0 && sp >= 0 && H5Tset_size(t, size) >= 0 && H5Tset_strpad(t, H5T_STR_NULLPAD) >= 0
        && (a = H5Acreate2(obj, name, t, sp, H5P_DEFAULT, H5P_DEFAULT)) >= 0 &&
        H5Awrite(a, t, buf) >= 0)
        rc = 0;
    if (a >= 0)
        H5Aclose(a);
    if (sp >= 0)
        H5Sclose(sp);
    if (t >= 0)
        H5Tclose(t);
    free(buf);
    return rc;
}

/* One float32 dataset at path name inside g (intermediate groups created, as h5py does for
 * "lstm/lstm_cell/kernel:0"). */
static int write_dataset(hid_t g, const CkptTensor *t)
{
    hsize_t dims[CKPT_MAX_DIMS];
    for (int i = 0; i < t->ndim; i++)
        dims[i] = (hsize_t)t->shape[i];
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    hid_t sp = t->ndim ? H5Screate_simple(t->ndim, dims, NULL) : H5Screate(H5S_SCALAR);
    hid_t ds = -1;
    int rc = -1;
    if (lcpl >= 0 && sp >= 0 && H5Pset_create_intermediate_group(lcpl, 1) >= 0 &&
        (ds = H5Dcreate2(g, t->name, H5T_IEEE_F32LE, sp, lcpl, H5P_DEFAULT, H5P_DEFAULT)) >= 0
        && (t->count == 0 || H5Dwrite(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT,
                                      t->data) >= 0))
        rc = 0;
    if (ds >= 0)
        H5Dclose(ds);
    if (sp >= 0)
        H5Sclose(sp);
    if (lcpl >= 0)
        H5Pclose(lcpl);
    return rc;
}

/* model_weights/: layer_names, backend, keras_version, and a group per layer. */
static int write_weights(hid_t f, const KerasH5 *k, const char *version, const char *backend)
{
    hid_t wg = H5Gcreate2(f, "model_weights", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (wg < 0)
        return -1;
    const char **names = calloc((size_t)k->nlayers + 1, sizeof *names);
    int rc = names ? 0 : -1;
    for (int i = 0; rc == 0 && i < k->nlayers; i++)
        names[i] = k->layers[i].name;
    if (rc == 0 && (write_strings(wg, "layer_names", names, (size_t)k->nlayers, true) < 0 ||
                    write_strings(wg, "backend", &backend, 1, false) < 0 ||
                    write_strings(wg, "keras_version", &version, 1, false) < 0))
        rc = -1;
    free(names);
    for (int i = 0; rc == 0 && i < k->nlayers; i++) {
        const KerasH5Layer *l = &k->layers[i];
        hid_t g = H5Gcreate2(wg, l->name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        const char **wn = calloc((size_t)l->weights.n + 1, sizeof *wn);
        rc = g >= 0 && wn ? 0 : -1;
        for (int j = 0; rc == 0 && j < l->weights.n; j++)
            wn[j] = l->weights.items[j].name;
        if (rc == 0)
            rc = write_strings(g, "weight_names", wn, (size_t)l->weights.n, true);
        for (int j = 0; rc == 0 && j < l->weights.n; j++)
            rc = write_dataset(g, &l->weights.items[j]);
        free(wn);
        if (g >= 0)
            H5Gclose(g);
    }
    H5Gclose(wg);
    return rc;
}

/* The whole file into an in-memory HDF5 image (io/h5image.h): *img and *len (malloc'ed) on
 * success. */
static int build_image(const KerasH5 *k, void **img, size_t *len)
{
    const char *version = k->keras_version ? k->keras_version : "2.15.0";
    const char *backend = k->backend ? k->backend : "tensorflow";
    hid_t f = h5image_create();
    int rc = f < 0 ? -1 : 0;
    if (rc == 0 && (write_strings(f, "backend", &backend, 1, false) < 0 ||
                    write_strings(f, "keras_version", &version, 1, false) < 0))
        rc = -1;
    if (rc == 0 && k->model_config &&
        write_strings(f, "model_config", (const char *const *)&k->model_config, 1, false) < 0)
        rc = -1;
    if (rc == 0)
        rc = write_weights(f, k, version, backend);
    char crc[16];
    snprintf(crc, sizeof crc, "%08x", weights_crc(k));
    const char *crcp = crc;
    if (rc == 0 && write_strings(f, KH5_CRC_ATTR, &crcp, 1, false) < 0)
        rc = -1;
    if (rc == 0)
        return h5image_finish(f, img, len);
    if (f >= 0)
        H5Fclose(f);
    *img = NULL, *len = 0;
    return -1;
}

/* See keras_h5.h. */
int keras_h5_write(const char *path, const KerasH5 *k, Diag *d)
{
    H5E_auto2_t old_fn;
    void *old_data;
    H5Eget_auto2(H5E_DEFAULT, &old_fn, &old_data);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    void *img;
    size_t len;
    int rc = build_image(k, &img, &len);
    H5Eset_auto2(H5E_DEFAULT, old_fn, old_data);
    if (rc < 0) {
        diag_error_in(d, path, "libhdf5 could not build the file (out of memory, or a layer "
                      "or weight name HDF5 refuses)");
        return -1;
    }
    IoAtomic w;
    if (io_atomic_open(&w, path, d) < 0) {
        free(img);
        return -1;
    }
    io_atomic_write(&w, img, len);
    free(img);
    return io_atomic_commit(&w, d);
}

/* ---- as a WeightSet ---------------------------------------------------------------------- */

/* See keras_h5.h (k is released whatever the outcome). */
int keras_h5_to_set(KerasH5 *k, WeightSet *out)
{
    int rc = 0;
    for (int i = 0; rc == 0 && i < k->nlayers; i++) {
        const CkptTensorList *l = &k->layers[i].weights;
        for (int j = 0; rc == 0 && j < l->n; j++) {
            const CkptTensor *t = &l->items[j];
            size_t n = strlen(k->layers[i].name) + strlen(t->name) + 2;
            char *name = malloc(n);
            if (name)
                snprintf(name, n, "%s/%s", k->layers[i].name, t->name);
            if (!name || !ckpt_add_tensor(&out->tensors, name, t->ndim, t->shape, t->data))
                rc = -1;
            free(name);
        }
    }
    if (rc == 0 && k->model_config)
        rc = wf_set_meta(out, KERAS_META_CONFIG, k->model_config);
    if (rc == 0 && k->keras_version)
        rc = wf_set_meta(out, KERAS_META_VERSION, k->keras_version);
    if (rc == 0 && k->backend)
        rc = wf_set_meta(out, KERAS_META_BACKEND, k->backend);
    keras_h5_free(k);
    return rc;
}

/* See keras_h5.h. */
int keras_h5_from_set(const WeightSet *w, const char *what, KerasH5 *out, Diag *d)
{
    memset(out, 0, sizeof *out);
    for (int i = 0; i < w->tensors.n; i++) {
        const CkptTensor *t = &w->tensors.items[i];
        const char *slash = strchr(t->name, '/');
        if (!slash || slash == t->name || !slash[1]) {
            diag_error_in(d, what, "tensor '%s' is not named <layer>/<weight> as Keras weights "
                          "are", t->name);
            keras_h5_free(out);
            return -1;
        }
        size_t n = (size_t)(slash - t->name);
        KerasH5Layer *l = NULL;
        for (int j = 0; j < out->nlayers && !l; j++)
            if (strlen(out->layers[j].name) == n && strncmp(out->layers[j].name, t->name, n) == 0)
                l = &out->layers[j];
        char *layer = strndup(t->name, n);
        if (!l && layer)
            l = keras_h5_add_layer(out, layer);
        free(layer);
        if (!l || !ckpt_add_tensor(&l->weights, slash + 1, t->ndim, t->shape, t->data)) {
            diag_error_in(d, what, "out of memory (or tensor '%s' twice)", t->name);
            keras_h5_free(out);
            return -1;
        }
    }
    const char *keys[3] = { KERAS_META_CONFIG, KERAS_META_VERSION, KERAS_META_BACKEND };
    char **dst[3] = { &out->model_config, &out->keras_version, &out->backend };
    for (int i = 0; i < 3; i++) {
        const char *v = safetensors_meta_get(&w->meta, keys[i]);
        if (v && !(*dst[i] = strdup(v))) {
            keras_h5_free(out);
            return -1;
        }
    }
    return 0;
}

/* See keras_h5.h. */
int keras_h5_read_set(const char *path, const WfReadOpts *o, WeightSet *out, Diag *d)
{
    (void)o;
    KerasH5 k;
    if (keras_h5_read(path, &k, d) < 0)
        return -1;
    if (keras_h5_to_set(&k, out) < 0 || wf_set_meta(out, KERAS_META_FILE, path) < 0) {
        diag_error_in(d, path, "a layer or weight name is listed twice (or out of memory)");
        wf_set_free(out);
        return -1;
    }
    return 0;
}

/* See keras_h5.h. */
int keras_h5_write_set(const char *path, const WeightSet *w, Diag *d)
{
    KerasH5 k;
    if (keras_h5_from_set(w, path, &k, d) < 0)
        return -1;
    int rc = keras_h5_write(path, &k, d);
    keras_h5_free(&k);
    return rc;
}
