/* recur: the public API (recur.h) over the internal modules -- model (compile, load, save) and
 * exec (forward). Diagnostics are rendered into the caller's error string. */
#include "recur.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exec/exec.h"
#include "model/model.h"

struct RecurModel {
    Diag diag;      /* owns the model's Source */
    Model model;
};

const char *recur_version(void) { return RECUR_VERSION; }

/* Renders every diagnostic of d into a malloc'ed string for *error (when error is not NULL). */
static void take_error(Diag *d, char **error)
{
    if (!error)
        return;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (f) {
        diag_print(d, f);
        fclose(f);
    }
    *error = buf ? buf : strdup("recur: out of memory");
}

/* A new RecurModel with an empty diagnostic context; NULL when out of memory. */
static RecurModel *new_model(char **error)
{
    RecurModel *r = calloc(1, sizeof *r);
    if (!r) {
        if (error)
            *error = strdup("recur: out of memory");
        return NULL;
    }
    diag_init(&r->diag);
    return r;
}

/* Fails: renders the diagnostics, frees r and returns NULL. */
static RecurModel *fail(RecurModel *r, char **error)
{
    take_error(&r->diag, error);
    recur_free(r);
    return NULL;
}

RecurModel *recur_compile(const char *path, const char *const *sets, int nsets, uint64_t seed,
                          char **error)
{
    RecurModel *r = new_model(error);
    if (!r)
        return NULL;
    if (model_compile_file(&r->model, &r->diag, path, sets, nsets) ||
        model_init_weights(&r->model, seed, &r->diag))
        return fail(r, error);
    return r;
}

RecurModel *recur_load(const char *ckpt_path, char **error)
{
    RecurModel *r = new_model(error);
    if (!r)
        return NULL;
    if (model_load(&r->model, &r->diag, ckpt_path, NULL))
        return fail(r, error);
    return r;
}

int recur_save(const RecurModel *m, const char *ckpt_path, char **error)
{
    Diag d;
    diag_init(&d);
    int rc = model_save(&m->model, ckpt_path, &d);
    if (rc)
        take_error(&d, error);
    diag_free(&d);
    return rc;
}

void recur_free(RecurModel *m)
{
    if (!m)
        return;
    model_free(&m->model);
    diag_free(&m->diag);
    free(m);
}

int64_t recur_num_params(const RecurModel *m) { return m->model.ir->nparams; }

int recur_input_vocab(const RecurModel *m)
{
    const IrLayer *in = &m->model.ir->layers[0];
    return in->tokens ? in->vocab : 0;
}

int recur_input_width(const RecurModel *m)
{
    const IrLayer *in = &m->model.ir->layers[0];
    return in->tokens ? 0 : in->width;
}

int recur_output_width(const RecurModel *m)
{
    return m->model.ir->layers[m->model.ir->output].width;
}

int recur_output_is_sequence(const RecurModel *m)
{
    return m->model.ir->layers[m->model.ir->output].sequence;
}

int recur_forward(RecurModel *m, int T, int B, const int32_t *tokens, const float *vectors,
                  float *out, char **error)
{
    Diag d;
    diag_init(&d);
    int rc = -1;
    ExecModel *e = NULL;
    if (T < 1 || B < 1) {
        diag_error_in(&d, "recur_forward", "T and B must be positive, got T=%d B=%d", T, B);
        goto done;
    }
    e = model_exec(&m->model, B, T, &d);
    if (!e)
        goto done;
    exec_set_grad_enabled(e, false);
    ExecInput in = {.T = T, .tokens = tokens, .vectors = vectors};
    if (exec_forward(e, &in, false, &d))
        goto done;
    int rows, width;
    const float *y = exec_output(e, &rows, &width);
    memcpy(out, y, sizeof(float) * (size_t)rows * (size_t)width);
    rc = 0;
done:
    if (rc)
        take_error(&d, error);
    exec_free(e);
    diag_free(&d);
    return rc;
}
