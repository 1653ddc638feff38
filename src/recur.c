/* recur: the public API (recur.h) over the internal modules -- model (compile, load, save) and
 * exec (forward). Diagnostics are rendered into the caller's error string. */
#include "recur.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exec/exec.h"
#include "model/model.h"
#include "model/states.h"
#include "train/data.h"
#include "util/utf8.h"

struct RecurModel {
    Diag diag;      /* owns the model's Source */
    Model model;
    Vocab vocab;    /* the model's vocabulary (size 0: none) */
};

struct RecurState {
    RecurModel *m;  /* borrowed */
    ExecModel *e;   /* batch B, windows of one step */
    int B;
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
    SemaOptions so = {.api_overrides = true};   /* messages say "override", not --set */
    const Source *src = diag_load_file(&r->diag, path, MODEL_SOURCE_MAX);
    if (!src || model_compile_opts(&r->model, &r->diag, src, sets, nsets, &so) ||
        model_init_weights(&r->model, seed, &r->diag))
        return fail(r, error);
    return r;
}

RecurModel *recur_load(const char *ckpt_path, char **error)
{
    RecurModel *r = new_model(error);
    if (!r)
        return NULL;
    const Model *md = &r->model;
    if (model_load(&r->model, &r->diag, ckpt_path, NULL) ||
        (md->vocab && data_vocab_from_bytes(&r->vocab, md->vocab_level == 1 ? DATA_BYTE : DATA_CHAR,
                                            md->vocab, md->vocab_len, &r->diag) != 0))
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
    data_vocab_free(&m->vocab);
    diag_free(&m->diag);
    free(m);
}

int recur_vocab_size(const RecurModel *m) { return m->vocab.size; }

int recur_vocab_symbol(const RecurModel *m, int id, char out[5])
{
    if (id < 0 || id >= m->vocab.size)
        return -1;
    int n = data_vocab_utf8(&m->vocab, id, out);
    out[n] = 0;
    return n;
}

int recur_vocab_id(const RecurModel *m, const char *utf8)
{
    size_t len = strlen(utf8);
    uint32_t cp = (uint8_t)utf8[0];
    if (len == 0 || (m->vocab.level == DATA_CHAR && utf8_decode((const uint8_t *)utf8, len, &cp)
                                                        == 0))
        return -1;
    return data_vocab_id(&m->vocab, cp);
}

int recur_num_classes(const RecurModel *m) { return m->model.nclass_names; }

const char *recur_class_name(const RecurModel *m, int id)
{
    return id >= 0 && id < m->model.nclass_names ? m->model.class_names[id] : NULL;
}

RecurState *recur_state_new(RecurModel *m, int B, char **error)
{
    Diag d;
    diag_init(&d);
    RecurState *s = calloc(1, sizeof *s);
    if (!s)
        diag_error_in(&d, "recur_state_new", "out of memory");
    else if (B < 1)
        diag_error_in(&d, "recur_state_new", "B must be positive, got %d", B);
    else if (!recur_output_is_sequence(m))
        diag_error_in(&d, "recur_state_new", "the model's output is pooled over the sequence: "
                      "it has no output per step (use recur_forward)");
    else if ((s->e = model_exec(&m->model, B, 1, &d))) {
        exec_set_grad_enabled(s->e, false);
        exec_set_frozen(s->e, true); /* the C API changes no weights (token tables: exec.h) */
    }
    if (!s || !s->e) {
        take_error(&d, error);
        diag_free(&d);
        free(s);
        return NULL;
    }
    s->m = m;
    s->B = B;
    diag_free(&d);
    return s;
}

int recur_step(RecurState *s, const int32_t *tokens, const float *vectors, float *out,
               char **error)
{
    Diag d;
    diag_init(&d);
    ExecInput in = {.T = 1, .tokens = tokens, .vectors = vectors};
    int rc = exec_forward(s->e, &in, false, &d);   /* the state carries over */
    if (rc == 0) {
        int rows, width;
        const float *y = exec_output(s->e, &rows, &width);
        memcpy(out, y, sizeof(float) * (size_t)rows * (size_t)width);
    } else {
        take_error(&d, error);
    }
    diag_free(&d);
    return rc;
}

void recur_state_reset(RecurState *s) { exec_reset_state(s->e); }

/* The executor's state block, copied (NULL when out of memory). */
static float *state_block(const RecurState *s)
{
    int64_t n = exec_state_floats(s->e);
    float *block = calloc(n > 0 ? (size_t)n : 1, sizeof *block);
    if (block)
        exec_get_state(s->e, block);
    return block;
}

/* recur_state_load (load true: the file into the state) and recur_state_save (the state into
 * the file), through one state block. */
static int state_file(const RecurState *s, const char *path, bool load, char **error)
{
    Diag d;
    diag_init(&d);
    float *block = state_block(s);
    int rc = -1;
    if (!block)
        diag_error_in(&d, path, "out of memory");
    else if (!load)
        rc = model_states_write(s->m->model.ir, s->B, block, path, &d);
    else if (!(rc = model_states_read(s->m->model.ir, s->B, path, block, &d)))
        exec_set_state(s->e, block);
    if (rc)
        take_error(&d, error);
    free(block);
    diag_free(&d);
    return rc;
}

int recur_state_load(RecurState *s, const char *path, char **error)
{
    return state_file(s, path, true, error);
}

int recur_state_save(const RecurState *s, const char *path, char **error)
{
    return state_file(s, path, false, error);
}

int64_t recur_state_floats(const RecurState *s) { return exec_state_floats(s->e); }

/* Out of memory in recur_state_get/set: -1 with the message. */
static int state_oom(const char *where, char **error)
{
    if (error)
        *error = strdup(where);
    return -1;
}

int recur_state_get(const RecurState *s, float *out, char **error)
{
    float *block = state_block(s);
    if (!block)
        return state_oom("recur_state_get: out of memory", error);
    model_states_flat(s->m->model.ir, s->B, block, out, true);
    free(block);
    return 0;
}

int recur_state_set(RecurState *s, const float *in, char **error)
{
    float *block = state_block(s);
    if (!block)
        return state_oom("recur_state_set: out of memory", error);
    model_states_flat(s->m->model.ir, s->B, block, (float *)in, false);
    exec_set_state(s->e, block);
    free(block);
    return 0;
}

void recur_state_free(RecurState *s)
{
    if (!s)
        return;
    exec_free(s->e);
    free(s);
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
