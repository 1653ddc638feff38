/* io_testutil: helpers shared by the src/io tests (a per-test temporary directory fixture,
 * whole-file I/O, the last diagnostic as text, tensor-list equality). Header-only so each test
 * program stays one translation unit. It includes <cmocka.h>
 * (with its prerequisite headers) itself. Ownership: make_tmpdir's string is the caller's; slurp's buffer is the
 * caller's; diag_text and fixture return static buffers overwritten by the next call. */
#ifndef RECUR_IO_TESTUTIL_H
#define RECUR_IO_TESTUTIL_H

#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "io/checkpoint.h"
#include "util/diag.h"

/* A fresh directory under $TMPDIR (or /tmp); the caller removes it with rm_tree. */
static inline char *make_tmpdir(void)
{
    const char *base = getenv("TMPDIR");
    char tmpl[512];
    snprintf(tmpl, sizeof tmpl, "%s/recur-io-XXXXXX", base && *base ? base : "/tmp");
    char *dir = mkdtemp(tmpl);
    return dir ? strdup(dir) : NULL;
}

/* Removes the files in dir (one level, all the tests create) and dir itself. */
static inline void rm_tree(const char *dir)
{
    DIR *dp = opendir(dir);
    if (dp) {
        struct dirent *e;
        char p[1024];
        while ((e = readdir(dp)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
            unlink(p);
        }
        closedir(dp);
    }
    rmdir(dir);
}

/* Number of entries in dir (to check that no temporary file is left behind). */
static inline int count_entries(const char *dir)
{
    int n = 0;
    DIR *dp = opendir(dir);
    if (!dp)
        return -1;
    struct dirent *e;
    while ((e = readdir(dp)) != NULL)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            n++;
    closedir(dp);
    return n;
}

/* Reads a whole file (malloc'ed) or returns NULL. */
static inline unsigned char *slurp(const char *path, size_t *len)
{
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc((size_t)n + 1);
    if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
        free(b);
        b = NULL;
    }
    fclose(f);
    *len = (size_t)n;
    return b;
}

/* Writes n bytes to path (non-atomically: this is how the tests forge bad files). */
static inline int spit(const char *path, const void *buf, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    size_t k = fwrite(buf, 1, n, f);
    fclose(f);
    return k == n ? 0 : -1;
}

/* Everything the Diag holds, as printed, in a static buffer. */
static inline const char *diag_text(const Diag *d)
{
    static char buf[8192];
    FILE *f = fmemopen(buf, sizeof buf - 1, "w");
    if (!f)
        return "";
    diag_print(d, f);
    fclose(f);
    buf[sizeof buf - 1] = '\0';
    return buf;
}

/* The path of a committed fixture, found through $top_srcdir (set by make check). */
static inline const char *fixture(const char *rel)
{
    static char buf[1024];
    const char *top = getenv("top_srcdir");
    snprintf(buf, sizeof buf, "%s/tests/fixtures/%s", top && *top ? top : ".", rel);
    return buf;
}

/* Asserts that the text t of a failed read names path and, if want is not NULL, contains want;
 * prints t first when it does not, so a failure shows the message actually produced. */
static inline void assert_names_file(const char *t, const char *path, const char *want)
{
    if (!strstr(t, path) || (want && !strstr(t, want)))
        fprintf(stderr, "unexpected message for %s (want '%s'):\n%s", path, want ? want : "", t);
    assert_non_null(strstr(t, path));
    if (want)
        assert_non_null(strstr(t, want));
}

/* Asserts two tensor lists are equal: names, shapes, counts and bit-exact data, in order. */
static inline void assert_tensor_lists_equal(const CkptTensorList *a, const CkptTensorList *b)
{
    assert_int_equal(a->n, b->n);
    for (int i = 0; i < a->n; i++) {
        const CkptTensor *x = &a->items[i], *y = &b->items[i];
        assert_string_equal(x->name, y->name);
        assert_int_equal(x->ndim, y->ndim);
        assert_int_equal(x->count, y->count);
        for (int k = 0; k < x->ndim; k++)
            assert_int_equal(x->shape[k], y->shape[k]);
        if (x->count)
            assert_memory_equal(x->data, y->data, (size_t)x->count * sizeof(float));
    }
}

/* Per-test fixture: a fresh temporary directory and the path of one file inside it. */
typedef struct Fix {
    char *dir;
    char path[600];
} Fix;

/* cmocka setup body: makes the directory and sets path to dir/file; -1 if anything fails. */
static inline int fix_setup(void **state, const char *file)
{
    Fix *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    f->dir = make_tmpdir();
    if (!f->dir) {
        free(f);
        return -1;
    }
    snprintf(f->path, sizeof f->path, "%s/%s", f->dir, file);
    *state = f;
    return 0;
}

/* cmocka teardown: removes the directory and its files and frees the fixture. */
static inline int fix_teardown(void **state)
{
    Fix *f = *state;
    rm_tree(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

#endif
