/* format: the table of weight formats, detection by content, output format by extension
 * (see format.h). */
#include "io/format.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/fileio.h"
#include "io/keras_h5.h"
#include "io/npy.h"
#include "io/npz.h"
#include "io/onnx.h"
#include "io/torch_pt.h"
#include "util/file.h"

/* ---- probes: one per row, on the first bytes (and the archive for zip containers) -------- */

static int probe_ckpt(const unsigned char *h, size_t n, const char *path)
{
    (void)path;
    return n >= 8 && memcmp(h, "RECURCKP", 8) == 0;
}

/* u64 LE header length, then a JSON object: '{' (after optional spaces). */
static int probe_safetensors(const unsigned char *h, size_t n, const char *path)
{
    (void)path;
    if (n < 9)
        return 0;
    uint64_t len = 0;
    for (int i = 7; i >= 0; i--)
        len = len << 8 | h[i];
    return len >= 2 && len <= SAFETENSORS_MAX_HEADER && h[8] == '{';
}

static int probe_npy(const unsigned char *h, size_t n, const char *path)
{
    (void)path;
    return n >= 6 && memcmp(h, "\x93NUMPY", 6) == 0;
}

/* The HDF5 superblock signature (at offset 0; files with a user block are not recognised). */
static int probe_hdf5(const unsigned char *h, size_t n, const char *path)
{
    (void)path;
    return n >= 8 && memcmp(h, "\x89HDF\r\n\x1a\n", 8) == 0;
}

/* ONNX has no magic: a ModelProto starts with ir_version (field 1, varint, small), then
 * producer_name (2), producer_version (3), domain (4), model_version (5), doc_string (6),
 * graph (7) or opset_import (8): a length-delimited or varint field key. */
static int probe_onnx(const unsigned char *h, size_t n, const char *path)
{
    (void)path;
    if (n < 3 || h[0] != 0x08 || h[1] == 0 || h[1] > 0x20)
        return 0;
    return h[2] == 0x12 || h[2] == 0x1a || h[2] == 0x22 || h[2] == 0x28 || h[2] == 0x32 ||
           h[2] == 0x3a || h[2] == 0x42;
}

/* ---- readers and writers that are thin wrappers of existing modules ----------------------- */

/* A checkpoint's parameters and the model part as metadata (source, overrides, vocabulary). */
static int read_ckpt(const char *path, const WfReadOpts *o, WeightSet *out, Diag *d)
{
    (void)o;
    Checkpoint c;
    if (ckpt_read(path, &c, d))
        return -1;
    out->tensors = c.params;
    memset(&c.params, 0, sizeof c.params);
    int rc = wf_meta_from_checkpoint(&c, out);
    ckpt_free(&c);
    if (rc) {
        diag_error_in(d, path, "out of memory");
        wf_set_free(out);
    }
    return rc;
}

static int read_safetensors(const char *path, const WfReadOpts *o, WeightSet *out, Diag *d)
{
    (void)o;
    return safetensors_read(path, &out->tensors, &out->meta, d);
}

/* Every metadata pair of w except "format" (which the writer sets), as key, value, ..., NULL. */
static int write_safetensors(const char *path, const WeightSet *w, Diag *d)
{
    const char **kv = malloc(sizeof *kv * (size_t)(2 * w->meta.n + 1));
    if (!kv) {
        diag_error_in(d, path, "out of memory");
        return -1;
    }
    int k = 0;
    for (int i = 0; i < w->meta.n; i++) {
        if (strcmp(w->meta.keys[i], "format") == 0)
            continue;
        kv[k++] = w->meta.keys[i];
        kv[k++] = w->meta.values[i];
    }
    kv[k] = NULL;
    int rc = safetensors_write(path, &w->tensors, kv, d);
    free(kv);
    return rc;
}

/* The file's base name without directory and extension (a .npy's one tensor is named so). */
static void stem_of(const char *path, char *buf, size_t n)
{
    const char *b = strrchr(path, '/');
    b = b ? b + 1 : path;
    snprintf(buf, n, "%s", b);
    char *dot = strrchr(buf, '.');
    if (dot && dot != buf)
        *dot = '\0';
}

/* One float array, named after the file. */
static int read_npy(const char *path, const WfReadOpts *o, WeightSet *out, Diag *d)
{
    (void)o;
    NpyArray a;
    if (npy_read(path, &a, d))
        return -1;
    char name[256];
    stem_of(path, name, sizeof name);
    int rc = npy_to_tensor(&a, name, &out->tensors, path, d);
    npy_free(&a);
    return rc;
}

/* ---- the table ----------------------------------------------------------------------------- */

static const WeightFormat weight_formats[WF_COUNT] = {
    [WF_CKPT] = {WF_CKPT, "RECURCKP checkpoint", ".ckpt", probe_ckpt, read_ckpt, NULL, true,
                 false, NULL},
    [WF_SAFETENSORS] = {WF_SAFETENSORS, "safetensors", ".safetensors", probe_safetensors,
                        read_safetensors, write_safetensors, true, false, NULL},
    [WF_TORCH_ZIP] = {WF_TORCH_ZIP, "PyTorch .pt (zip)", ".pt .pth .bin", torch_probe_zip,
                      torch_read, torch_write_zip, true, false, NULL},
    [WF_TORCH_LEGACY] = {WF_TORCH_LEGACY, "PyTorch .pt (legacy pickle)", ".pt .pth .bin",
                         torch_probe_legacy, torch_read, NULL, false, false, NULL},
    [WF_NPZ] = {WF_NPZ, "NumPy .npz", ".npz", npz_probe, npz_read, npz_write, true, false, NULL},
    [WF_NPY] = {WF_NPY, "NumPy .npy", ".npy", probe_npy, read_npy, NULL, false, false, NULL},
    [WF_KERAS_H5] = {WF_KERAS_H5, "Keras .h5", ".h5 .hdf5", probe_hdf5, keras_h5_read_set,
                     keras_h5_write_set, true, true, NULL},
    /* ONNX (issue 9): read gives the initializers; a .onnx output is a model export, which
     * cmd_convert hands to src/model/onnx_out.c (a graph is not a WeightSet) */
    [WF_ONNX] = {WF_ONNX, "ONNX", ".onnx", probe_onnx, onnx_read_weights, NULL, true, false,
                 NULL},
};

/* Detection order: the formats with a magic first, ONNX (a weak probe) last. */
static const WfId probe_order[WF_COUNT] = {WF_CKPT, WF_NPY, WF_KERAS_H5, WF_TORCH_LEGACY,
                                           WF_TORCH_ZIP, WF_NPZ, WF_SAFETENSORS, WF_ONNX};

const WeightFormat *wf_format(WfId id)
{
    return id >= 0 && id < WF_COUNT ? &weight_formats[id] : NULL;
}

/* Built once from the table: "name (exts), ...". */
const char *wf_known_formats(void)
{
    static char buf[512];
    if (buf[0])
        return buf;
    size_t used = 0;
    for (int i = 0; i < WF_COUNT && used < sizeof buf; i++) {
        if (i == WF_TORCH_LEGACY)
            continue;   /* same extensions as the zip format */
        used += (size_t)snprintf(buf + used, sizeof buf - used, "%s%s (%s)", i ? ", " : "",
                                 weight_formats[i].name, weight_formats[i].exts);
    }
    return buf;
}

/* True when path ends with ext (case-insensitive). */
static bool has_ext(const char *path, const char *ext, size_t k)
{
    size_t n = strlen(path);
    return n > k && strncasecmp(path + n - k, ext, k) == 0 && path[n - k - 1] != '/';
}

/* The first format (in table order) whose extension list holds path's extension. */
WfId wf_for_extension(const char *path)
{
    for (int i = 0; i < WF_COUNT; i++) {
        const char *e = weight_formats[i].exts;
        while (e && *e) {
            size_t k = strcspn(e, " ");
            if (has_ext(path, e, k))
                return (WfId)i;
            e += k;
            while (*e == ' ')
                e++;
        }
    }
    return WF_NONE;
}

/* A model file: .rnn, or text whose first word is a top-level keyword of the language. */
static bool looks_like_model(const char *path, const unsigned char *h, size_t n)
{
    if (has_ext(path, ".rnn", 4))
        return true;
    size_t i = 0;
    while (i < n && isspace(h[i]))
        i++;
    static const char *const words[] = {"model ", "format ", "cell ", "const "};
    for (size_t w = 0; w < sizeof words / sizeof *words; w++) {
        size_t k = strlen(words[w]);
        if (n - i >= k && memcmp(h + i, words[w], k) == 0)
            return true;
    }
    return false;
}

/* "not a recur checkpoint (bad magic): found text" when path's extension names a format the
 * bytes h [n] do not match, into buf [size]; NULL when the extension names none. */
static const char *expected_by_extension(const char *path, const unsigned char *h, size_t n,
                                         char *buf, size_t size)
{
    WfId by_ext = wf_for_extension(path);
    if (by_ext == WF_NONE)
        return NULL;
    char found[96];
    io_describe_bytes(h, n, found, sizeof found);
    if (by_ext == WF_CKPT)
        snprintf(buf, size, "not a recur checkpoint (bad magic): found %s", found);
    else
        snprintf(buf, size, "not a %s file (its extension says so, but the bytes do not): "
                 "found %s", weight_formats[by_ext].name, found);
    return buf;
}

int wf_detect(const char *path, WfId *id, const char **what, Diag *d)
{
    struct stat st;
    int fd = file_open_regular(path, &st, d);
    if (fd < 0)
        return -1;
    unsigned char h[WF_PROBE_BYTES];
    ssize_t got = read(fd, h, sizeof h);
    close(fd);
    size_t n = got > 0 ? (size_t)got : 0;
    *id = WF_NONE;
    for (int i = 0; i < WF_COUNT; i++) {
        const WeightFormat *f = &weight_formats[probe_order[i]];
        if (f->probe(h, n, path) == 1) {
            *id = f->id;
            return 0;
        }
    }
    static _Thread_local char expected[256];
    if (what)
        *what = looks_like_model(path, h, n) ? "a model file, not weights"
              : n >= 4 && memcmp(h, "PK\3\4", 4) == 0
                  ? "a zip archive, but neither a PyTorch checkpoint (no data.pkl) nor a NumPy "
                    ".npz (entries that are not .npy)"
              : n >= 2 && h[0] == 0x80 && h[1] <= 5 ? "a Python pickle, but not a PyTorch file"
              : expected_by_extension(path, h, n, expected, sizeof expected)
                  ? expected
                  : "not a weight file";
    return 0;
}

/* Two rows that share extensions (the PyTorch pair) do not contradict each other. */
static bool same_family(WfId a, WfId b)
{
    bool ta = a == WF_TORCH_ZIP || a == WF_TORCH_LEGACY;
    bool tb = b == WF_TORCH_ZIP || b == WF_TORCH_LEGACY;
    return a == b || (ta && tb);
}

int wf_check_input(const char *path, WfId *id, Diag *d)
{
    const char *what = NULL;
    if (wf_detect(path, id, &what, d))
        return -1;
    if (*id == WF_NONE) {
        DiagMessage *m = diag_error_in(d, path, "%s", what);
        diag_help(m, "recur reads %s", wf_known_formats());
        return -1;
    }
    WfId by_ext = wf_for_extension(path);
    if (by_ext != WF_NONE && !same_family(by_ext, *id)) {
        DiagMessage *m = diag_error_in(d, path, "the extension says %s but the content is %s",
                                       weight_formats[by_ext].name, weight_formats[*id].name);
        diag_help(m, "rename the file to match its content; recur knows %s", wf_known_formats());
        return -1;
    }
    const WeightFormat *f = &weight_formats[*id];
    if (!f->read) {
        diag_error_in(d, path, "%s", f->unsupported);
        return -1;
    }
    return 0;
}

int wf_check_output(const char *in, const char *out, WfId *id, Diag *d)
{
    *id = wf_for_extension(out);
    if (*id == WF_NONE || !weight_formats[*id].writable_by_extension) {
        DiagMessage *m = *id == WF_NONE
            ? diag_error_in(d, out, "unknown output extension: cannot tell which format to write")
            : diag_error_in(d, out, "recur does not write %s files", weight_formats[*id].name);
        diag_help(m, "recur writes RECURCKP checkpoint (.ckpt), safetensors (.safetensors), "
                     "PyTorch (.pt, .pth), NumPy (.npz), Keras (.h5) and ONNX (.onnx, a model "
                     "export); it knows %s",
                  wf_known_formats());
        *id = WF_NONE;
        return -1;
    }
    struct stat a, b;
    if (in && stat(in, &a) == 0 && stat(out, &b) == 0 && a.st_dev == b.st_dev &&
        a.st_ino == b.st_ino) {
        diag_error_in(d, out, "the output is the input file itself; write to another file");
        *id = WF_NONE;
        return -1;
    }
    return 0;
}

int wf_read(WfId id, const char *path, const WfReadOpts *o, WeightSet *out, Diag *d)
{
    const WeightFormat *f = wf_format(id);
    static const WfReadOpts none = {0};
    memset(out, 0, sizeof *out);
    if (!f || !f->read) {
        diag_error_in(d, path, "%s", f && f->unsupported ? f->unsupported : "cannot read it");
        return -1;
    }
    int rc = f->read(path, o ? o : &none, out, d);
    if (rc)
        wf_set_free(out);
    return rc;
}

int wf_write(WfId id, const char *path, const WeightSet *w, Diag *d)
{
    const WeightFormat *f = wf_format(id);
    if (!f || !f->write) {
        diag_error_in(d, path, "recur does not write %s files", f ? f->name : "these");
        return -1;
    }
    return f->write(path, w, d);
}

