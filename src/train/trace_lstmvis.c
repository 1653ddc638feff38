/* trace_lstmvis: recur trace --lstmvis DIR -- the recorded values in the layout LSTMVis reads
 * (its README, "Adding Your Own Data"): DIR/states.h5 with one float32 dataset [T*B, width] per
 * recorded array (named as in --npz, "lstm1.l0.c"), DIR/train.h5 with the token ids
 * (dataset "word_ids", int32 [T*B]), DIR/words.dict ("TOKEN ID" per line) and DIR/lstm.yml
 * naming them. The batch columns follow one another (row b*T + t is step t of column b), so
 * each column is one contiguous stretch of LSTMVis's single sequence. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "io/fileio.h"
#include "io/h5image.h"
#include "train/trace.h"
#include "util/utf8.h"

/* One dataset of dims [n] or [n, w] (w > 0) in f, of file type ft from memory type mt. */
static int h5_dataset(hid_t f, const char *name, hid_t ft, hid_t mt, hsize_t n, hsize_t w,
                      const void *data)
{
    hsize_t dims[2] = { n, w };
    hid_t sp = H5Screate_simple(w ? 2 : 1, dims, NULL);
    hid_t ds = sp >= 0 ? H5Dcreate2(f, name, ft, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT) : -1;
    int rc = ds >= 0 && H5Dwrite(ds, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) >= 0 ? 0 : -1;
    if (ds >= 0)
        H5Dclose(ds);
    if (sp >= 0)
        H5Sclose(sp);
    return rc;
}

/* Step-major [T][B][W] as column-major sequences [B*T][W] (row b*T + t), malloc'ed. */
static float *columns_first(const TraceArray *a)
{
    float *o = malloc((size_t)a->T * a->B * a->W * sizeof(float) + 1);
    for (int b = 0; o && b < a->B; b++)
        for (int s = 0; s < a->T; s++)
            memcpy(o + ((size_t)b * a->T + s) * a->W, a->v + ((size_t)s * a->B + b) * a->W,
                   (size_t)a->W * sizeof(float));
    return o;
}

/* The states file (every array) or, when states is false, the word-id file, built in memory
 * (io/h5image.h) into *img and *len (malloc'ed). */
static int h5_image(const Trace *t, bool states, void **img, size_t *len)
{
    hid_t f = h5image_create();
    int rc = f < 0 ? -1 : 0;
    hsize_t n = (hsize_t)t->T * t->B;
    for (int i = 0; states && rc == 0 && i < t->n; i++) {
        float *v = columns_first(&t->a[i]);
        rc = v ? h5_dataset(f, t->a[i].name, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, n,
                            (hsize_t)t->a[i].W, v) : -1;
        free(v);
    }
    int32_t *ids = states ? NULL : malloc((size_t)n * sizeof(int32_t));
    if (!states && !ids)
        rc = -1;
    for (hsize_t r = 0; ids && r < n; r++) /* row b*T + s is step s of column b */
        ids[r] = t->ids[(r % t->T) * t->B + r / t->T];
    if (rc == 0 && ids)
        rc = h5_dataset(f, "word_ids", H5T_STD_I32LE, H5T_NATIVE_INT32, n, 0, ids);
    free(ids);
    if (rc == 0)
        return h5image_finish(f, img, len);
    if (f >= 0)
        H5Fclose(f);
    *img = NULL, *len = 0;
    return -1;
}

/* A token as one whitespace-free word (LSTMVis splits each dict line at whitespace): space
 * "\s", "\n" "\t" "\r", a backslash "\\", other control bytes and bytes that are not UTF-8
 * "\xNN", the other characters Python's str.split splits at "\uXXXX", an empty token "\0". */
static void dict_token(FILE *o, const char *s)
{
    static const uint32_t uspace[] = { 0x85, 0xa0, 0x1680, 0x2028, 0x2029, 0x202f, 0x205f,
                                       0x3000 };
    static const char plain[] = " \n\t\r\\", esc[] = "sntr\\";
    const uint8_t *p = (const uint8_t *)s, *end = p + strlen(s);
    if (p == end)
        fputs("\\0", o);
    while (p < end) {
        uint32_t cp = 0;
        int n = utf8_decode(p, (size_t)(end - p), &cp);
        bool sp = cp >= 0x2000 && cp <= 0x200a;
        for (size_t i = 0; i < sizeof uspace / sizeof *uspace; i++)
            sp |= cp == uspace[i];
        const char *e = *p ? strchr(plain, *p) : NULL;
        if (e) fprintf(o, "\\%c", esc[e - plain]);
        else if (n == 0 || cp < 0x20 || cp == 0x7f) fprintf(o, "\\x%02x", *p);
        else if (sp) fprintf(o, "\\u%04x", (unsigned)cp);
        else fwrite(p, 1, (size_t)n, o);
        p += n > 0 ? n : 1;
    }
}

/* The dictionary (token, space, id per line) or, when dict is false, lstm.yml. */
static void text_file(const Trace *t, bool dict, FILE *o)
{
    if (dict) { /* ids without a vocabulary stand for themselves */
        int n = t->ntokens;
        for (size_t r = 0; !t->tokens && r < (size_t)t->T * t->B; r++)
            n = t->ids[r] >= n ? t->ids[r] + 1 : n;
        for (int i = 0; i < n; i++) {
            if (t->tokens) dict_token(o, t->tokens[i]);
            else fprintf(o, "%d", i);
            fprintf(o, " %d\n", i);
        }
        return;
    }
    fputs("name: \"recur trace\"\ndescription: \"values recorded by recur trace\"\n"
          "files:\n  states: states.h5\n  train: train.h5\n  words: words.dict\n"
          "word_sequence:\n  file: train\n  path: word_ids\n  dict_file: words\n"
          "states:\n  file: states\n  types:\n", o);
    int layer = 0;
    for (int i = 0; i < t->n; i++) {
        const TraceArray *a = &t->a[i];
        size_t g = strlen(a->name) - strlen(a->value);
        layer += i == 0 || g != strlen(t->a[i - 1].name) - strlen(t->a[i - 1].value) ||
                 strncmp(a->name, t->a[i - 1].name, g) != 0;
        float lo = 0, hi = 0;
        for (size_t k = 0; k < (size_t)a->T * a->B * a->W; k++) {
            lo = a->v[k] < lo ? a->v[k] : lo;
            hi = a->v[k] > hi ? a->v[k] : hi;
        }
        /* LSTMVis maps values through tanh unless told they already lie in [-1, 1] or [0, 1] */
        fprintf(o, "    - {type: %s, layer: %d, path: \"%s\"%s}\n",
                strcmp(a->value, "h") == 0 ? "output" : "state", layer, a->name,
                lo >= 0 && hi <= 1 ? ", unsigned: true, transform: none"
                : lo >= -1 && hi <= 1 ? ", transform: none" : "");
    }
}

/* Writes one of the four files into dir atomically (k: 0 states, 1 word ids, 2 dict, 3 yml). */
static int write_file(const Trace *t, const char *dir, int k, Diag *d)
{
    static const char *const names[] = { "states.h5", "train.h5", "words.dict", "lstm.yml" };
    char path[4096];
    if (snprintf(path, sizeof path, "%s/%s", dir, names[k]) >= (int)sizeof path) {
        diag_error_in(d, dir, "path too long");
        return -1;
    }
    char *buf = NULL;
    size_t len = 0;
    int rc = 0;
    if (k < 2) {
        rc = h5_image(t, k == 0, (void **)&buf, &len);
    } else {
        FILE *o = open_memstream(&buf, &len);
        if (o) text_file(t, k == 2, o);
        rc = o && fclose(o) == 0 ? 0 : -1;
    }
    if (rc) {
        free(buf);
        diag_error_in(d, path, k < 2 ? "libhdf5 could not build the file (out of memory, or a "
                      "name HDF5 refuses)" : "out of memory");
        return -1;
    }
    IoAtomic w;
    if (io_atomic_open(&w, path, d) < 0) {
        free(buf);
        return -1;
    }
    io_atomic_write(&w, buf, len);
    free(buf);
    return io_atomic_commit(&w, d);
}

/* See trace.h. */
int trace_write_lstmvis(const Trace *t, const char *dir, Diag *d)
{
    if (!t->ids) {
        diag_error_in(d, "--lstmvis", "LSTMVis shows a sequence of tokens; vector input "
                      "(--input of floats) has none");
        return -1;
    }
    struct stat st;
    if (mkdir(dir, 0777) != 0) {
        int err = errno;
        if (err != EEXIST || stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
            diag_error_in(d, dir, "cannot create the directory: %s",
                          err == EEXIST ? "something else of that name is there" : strerror(err));
            return -1;
        }
    }
    H5E_auto2_t old_fn;
    void *old_data;
    H5Eget_auto2(H5E_DEFAULT, &old_fn, &old_data);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    int rc = 0;
    for (int k = 0; rc == 0 && k < 4; k++)
        rc = write_file(t, dir, k, d);
    H5Eset_auto2(H5E_DEFAULT, old_fn, old_data);
    return rc;
}
