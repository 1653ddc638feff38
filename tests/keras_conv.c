/* keras_conv: the Keras rows of the format and mapping tables driven directly, for
 * tests/cli/keras*.sh (the same calls `recur convert` makes: wf_read -> keras_import ->
 * model_set_tensors -> model_save, and model_get_tensors -> keras_export -> wf_write -> read
 * back and compared bit for bit). Exit 0 on success, 1 with the diagnostics on stderr.
 *   keras_conv in IN.h5 MODEL.rnn OUT.ckpt [--verbose]
 *   keras_conv out IN.ckpt OUT.h5 [--verbose] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/format.h"
#include "io/keras_h5.h"
#include "model/keras.h"
#include "model/model.h"

/* --verbose: every tensor with what was done to it, then the notes. */
static void show(const WeightSet *w, bool verbose)
{
    for (int i = 0; verbose && i < w->tensors.n; i++)
        printf("%s: %s\n", w->tensors.items[i].name,
               i < w->nhow && w->how[i] ? w->how[i] : "as is");
    for (int i = 0; i < w->nnotes; i++)
        fprintf(stderr, "note: %s\n", w->notes[i]);
}

/* IN.h5 + MODEL.rnn -> OUT.ckpt. */
static int import(const char *in, const char *rnn, const char *out, bool verbose, Diag *d)
{
    Model m = { 0 };
    WeightSet raw = { 0 }, mapped = { 0 };
    int rc = model_compile_file(&m, d, rnn, NULL, 0) ||
             wf_read(WF_KERAS_H5, in, NULL, &raw, d) ||
             keras_import(&m, &raw, &mapped, d) ||
             model_set_tensors(&m, &mapped.tensors, in, d) ||
             model_save(&m, out, d);
    if (!rc)
        show(&mapped, verbose);
    wf_set_free(&raw);
    wf_set_free(&mapped);
    model_free(&m);
    return rc;
}

/* IN.ckpt -> OUT.h5, read back and compared. */
static int export(const char *in, const char *out, bool verbose, Diag *d)
{
    Model m = { 0 };
    WeightSet w = { 0 }, mapped = { 0 }, back = { 0 };
    int rc = model_load(&m, d, in, NULL) || model_get_tensors(&m, &w.tensors, d) ||
             keras_export(&m, &w, &mapped, d) || wf_write(WF_KERAS_H5, out, &mapped, d) ||
             wf_read(WF_KERAS_H5, out, NULL, &back, d);
    for (int i = 0; !rc && i < mapped.tensors.n; i++) {
        const CkptTensor *a = &mapped.tensors.items[i], *b = &back.tensors.items[i];
        if (i >= back.tensors.n || strcmp(a->name, b->name) != 0 || a->count != b->count ||
            memcmp(a->data, b->data, sizeof(float) * (size_t)a->count) != 0) {
            diag_error_in(d, out, "tensor %d (%s) does not read back as written", i, a->name);
            rc = 1;
        }
    }
    if (!rc && back.tensors.n != mapped.tensors.n) {
        diag_error_in(d, out, "%d tensors read back, %d written", back.tensors.n,
                      mapped.tensors.n);
        rc = 1;
    }
    if (!rc)
        show(&mapped, verbose);
    wf_set_free(&w);
    wf_set_free(&mapped);
    wf_set_free(&back);
    model_free(&m);
    return rc;
}

int main(int argc, char **argv)
{
    bool verbose = argc > 1 && strcmp(argv[argc - 1], "--verbose") == 0;
    int n = argc - verbose;
    Diag d;
    diag_init(&d);
    int rc;
    if (n == 5 && strcmp(argv[1], "in") == 0)
        rc = import(argv[2], argv[3], argv[4], verbose, &d);
    else if (n == 4 && strcmp(argv[1], "out") == 0)
        rc = export(argv[2], argv[3], verbose, &d);
    else {
        fprintf(stderr, "usage: keras_conv in IN.h5 MODEL.rnn OUT.ckpt | out IN.ckpt OUT.h5 "
                "[--verbose]\n");
        return 2;
    }
    diag_print(&d, stderr);
    diag_free(&d);
    return rc ? 1 : 0;
}
