/* sema_testutil: helpers shared by tests/test_sema.c and tests/test_ir.c -- compile a model
 * from a string, capture the printed diagnostics. Header-only (static functions).
 *
 * Ownership: compile() returns a model the caller frees with ir_model_free; diag_text()
 * returns a malloc'd string the caller frees. */
#ifndef RECUR_SEMA_TESTUTIL_H
#define RECUR_SEMA_TESTUTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ir/ir.h"
#include "util/diag.h"
#include "lang/sema.h"

/* Compiles text (named "t.rnn") with the given --set strings; NULL on errors (see d). */
__attribute__((unused)) static IrModel *compile(Diag *d, const char *text,
                                                const char *const *sets, int nsets)
{
    const Source *src = diag_add_source(d, "t.rnn", text, strlen(text));
    return src ? sema_compile(d, src, sets, nsets) : NULL;
}

/* Everything diag_print writes, as a string. */
__attribute__((unused)) static char *diag_text(const Diag *d)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return NULL;
    diag_print(d, f);
    fclose(f);
    return buf;
}

/* Compiles text expecting failure; returns the diagnostics text (malloc'd). */
__attribute__((unused)) static char *compile_errors(const char *text, const char *const *sets,
                                                   int nsets)
{
    Diag d;
    diag_init(&d);
    IrModel *m = compile(&d, text, sets, nsets);
    char *out = diag_text(&d);
    if (m) {
        ir_model_free(m);
        free(out);
        out = NULL;     /* compiled: the caller's assert on NULL fails with a message */
    }
    diag_free(&d);
    return out;
}

#endif
