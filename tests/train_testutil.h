/* train_testutil: helpers shared by the src/train tests (diagnostics as text, temporary files).
 * Header-only so each test program stays one translation unit; the caller includes cmocka.h
 * first. Strings returned are malloc'ed and belong to the caller. */
#ifndef RECUR_TRAIN_TESTUTIL_H
#define RECUR_TRAIN_TESTUTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/diag.h"

/* Everything printed for the diagnostics in d. */
static inline char *diag_text(const Diag *d)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    diag_print(d, f);
    fclose(f);
    return buf;
}

/* Fails the test unless the printed diagnostics of d contain needle. */
static inline void expect_diag(const Diag *d, const char *needle)
{
    char *t = diag_text(d);
    if (!strstr(t, needle)) fail_msg("expected '%s' in diagnostics:\n%s", needle, t);
    free(t);
}

/* Writes len bytes of text to a fresh temporary file; returns its malloc'ed path. */
static inline char *temp_file(const char *text, size_t len)
{
    char *path = strdup("/tmp/test_train_XXXXXX");
    assert_non_null(path);
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, len), (ssize_t)len);
    close(fd);
    return path;
}

/* Deletes a temp_file and frees its path. */
static inline void remove_temp(char *path)
{
    unlink(path);
    free(path);
}

#endif
