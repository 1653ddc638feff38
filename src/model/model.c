/* model: compile, initialise, load and save a model with its weights (see model.h). */
#include "model/model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/inspect.h"
#include "lang/sema.h"
#include "util/file.h"
#include "util/rng.h"

/* Formats a shape as "[2048, 512]" into buf (inspect's formatter) and returns buf. */
static char *shape_str(char *buf, size_t n, int ndim, const int64_t *shape)
{
    inspect_format_shape(shape, ndim, buf, n);
    return buf;
}

/* The shape of model tensor t as int64 values. */
static void tensor_shape(const IrTensor *t, int64_t shape[2])
{
    shape[0] = t->shape[0];
    shape[1] = t->ndim > 1 ? t->shape[1] : 0;
}

int model_compile(Model *m, Diag *d, const Source *src, const char *const *sets, int nsets)
{
    return model_compile_opts(m, d, src, sets, nsets, NULL);
}

/* Phase 1 (parse) once, kept in m->unit; phase 2 with the sizes the file and --set give. */
int model_compile_opts(Model *m, Diag *d, const Source *src, const char *const *sets, int nsets,
                       SemaOptions *so)
{
    memset(m, 0, sizeof *m);
    m->source = src;
    m->unit = sema_unit_parse(d, src, sets, nsets);
    if (!m->unit)
        return -1;
    m->ir = sema_unit_compile(m->unit, d, NULL, so);
    if (!m->ir) {
        model_free(m);
        return -1;
    }
    m->sets = calloc((size_t)nsets + 1, sizeof *m->sets);
    m->params = calloc((size_t)m->ir->nparams + 1, sizeof *m->params);
    if (!m->sets || !m->params)
        goto oom;
    for (int i = 0; i < nsets; i++) {
        m->sets[i] = strdup(sets[i]);
        if (!m->sets[i])
            goto oom;
        m->nsets++;
    }
    return 0;
oom:
    diag_error_in(d, src->name, "out of memory for a model of %lld parameters",
                  (long long)m->ir->nparams);
    model_free(m);
    return -1;
}

/* Appends "NAME=N" to m->sets: the record of a bound size (checkpoints store the overrides). */
static int record_size(Model *m, const char *name, int n)
{
    char buf[64];
    snprintf(buf, sizeof buf, "%s=%d", name, n);
    char **sets = realloc(m->sets, sizeof *sets * (size_t)(m->nsets + 2));
    if (!sets)
        return -1;
    m->sets = sets;
    if (!(sets[m->nsets] = strdup(buf)))
        return -1;
    sets[++m->nsets] = NULL;
    return 0;
}

/* Phase 2 again on the parsed unit, first into a scratch Diag so the warnings of the first
 * compile are not repeated; on failure once more into d, whose messages then carry the errors.
 * The scratch Diag goes at once: the IR points into m's Source and the static prelude. */
int model_bind_sizes(Model *m, Diag *d, int vocab, int classes)
{
    SemaSizes sizes = { .vocab = vocab, .classes = classes };
    Diag quiet;
    diag_init(&quiet);
    IrModel *ir = sema_unit_compile(m->unit, &quiet, &sizes, NULL);
    diag_free(&quiet);
    if (!ir) {
        ir_model_free(sema_unit_compile(m->unit, d, &sizes, NULL));
        return -1;
    }
    float *params = calloc((size_t)ir->nparams + 1, sizeof *params);
    int nsets = m->nsets;
    if (!params || (vocab && record_size(m, "vocab", vocab)) ||
        (classes && record_size(m, "classes", classes))) {
        diag_error_in(d, m->source->name, "out of memory while recompiling the model");
        while (m->nsets > nsets)
            free(m->sets[--m->nsets]);
        free(params);
        ir_model_free(ir);
        return -1;
    }
    ir_model_free(m->ir);
    m->ir = ir;
    free(m->params);
    m->params = params;
    return 0;
}

int model_compile_file(Model *m, Diag *d, const char *path, const char *const *sets, int nsets)
{
    memset(m, 0, sizeof *m);
    const Source *src = diag_load_file(d, path, MODEL_SOURCE_MAX);
    return src ? model_compile(m, d, src, sets, nsets) : -1;
}

void model_free(Model *m)
{
    if (!m)
        return;
    ir_model_free(m->ir);
    for (int i = 0; i < m->nsets; i++)
        free(m->sets[i]);
    free(m->sets);
    free(m->params);
    free(m->vocab);
    model_set_class_names(m, NULL, 0);
    sema_unit_free(m->unit);
    memset(m, 0, sizeof *m);
}

/* Every tensor by its declared initialiser, in tensor order, from one Rng: the same draws as
 * exec_init_params, so a seed fixes every weight wherever the model is initialised. */
int model_init_weights(Model *m, uint64_t seed, Diag *d)
{
    Rng rng;
    rng_seed(&rng, seed);
    m->seed = seed;
    float *p = m->params;
    for (int i = 0; i < m->ir->ntensors; i++) {
        const IrTensor *t = &m->ir->tensors[i];
        int rows = t->ndim > 1 ? t->shape[0] : 1, cols = t->ndim > 1 ? t->shape[1] : t->shape[0];
        if (exec_init_tensor(p, rows, cols, t->init, &rng, d))
            return -1;
        p += t->size;
    }
    return 0;
}

int model_set_tensors(Model *m, const CkptTensorList *l, const char *path, Diag *d)
{
    const IrModel *ir = m->ir;
    int bad = 0;
    char want[64], got[64];
    for (int i = 0; i < ir->ntensors; i++) {
        const IrTensor *t = &ir->tensors[i];
        int64_t shape[2];
        tensor_shape(t, shape);
        const CkptTensor *c = ckpt_find_tensor(l, t->name);
        if (!c) {
            diag_error_in(d, path, "tensor '%s' %s is missing", t->name,
                          shape_str(want, sizeof want, t->ndim, shape));
            bad = 1;
            continue;
        }
        bool same = c->ndim == t->ndim;
        for (int k = 0; same && k < t->ndim; k++)
            same = c->shape[k] == shape[k];
        if (!same) {
            diag_error_in(d, path, "tensor '%s' is %s, the model expects %s", t->name,
                          shape_str(got, sizeof got, c->ndim, c->shape),
                          shape_str(want, sizeof want, t->ndim, shape));
            bad = 1;
        }
    }
    for (int j = 0; j < l->n; j++) {
        if (ir_find_tensor(ir, l->items[j].name) >= 0)
            continue;
        const char **names = malloc(sizeof *names * (size_t)(ir->ntensors + 1));
        const char *s = NULL;
        if (names) {
            for (int i = 0; i < ir->ntensors; i++)
                names[i] = ir->tensors[i].name;
            s = diag_suggest(l->items[j].name, names, ir->ntensors);
        }
        DiagMessage *msg = diag_error_in(d, path, "tensor '%s' is not in the model",
                                         l->items[j].name);
        if (s)
            diag_help(msg, "did you mean '%s'?", s);
        free(names);
        bad = 1;
    }
    if (bad)
        return -1;
    float *p = m->params;
    for (int i = 0; i < ir->ntensors; i++) {
        const CkptTensor *c = ckpt_find_tensor(l, ir->tensors[i].name);
        memcpy(p, c->data, sizeof(float) * (size_t)ir->tensors[i].size);
        p += ir->tensors[i].size;
    }
    return 0;
}

int model_get_tensors(const Model *m, CkptTensorList *l, Diag *d)
{
    const float *p = m->params;
    for (int i = 0; i < m->ir->ntensors; i++) {
        const IrTensor *t = &m->ir->tensors[i];
        int64_t shape[2];
        tensor_shape(t, shape);
        if (!ckpt_add_tensor(l, t->name, t->ndim, shape, p)) {
            diag_error_in(d, t->name, "out of memory (or duplicate tensor name)");
            return -1;
        }
        p += t->size;
    }
    return 0;
}

int model_to_checkpoint(const Model *m, Checkpoint *c, Diag *d)
{
    int rc = ckpt_set_source(c, m->source->name, m->source->text, m->source->len);
    for (int i = 0; !rc && i < m->nsets; i++)
        rc = ckpt_add_override(c, m->sets[i]);
    if (!rc && m->ir->vocab >= 0)
        rc = ckpt_set_const(c, "vocab", m->ir->vocab);
    if (!rc && m->ir->classes >= 0)
        rc = ckpt_set_const(c, "classes", m->ir->classes);
    if (!rc && m->vocab)
        rc = ckpt_set_vocab(c, m->vocab, m->vocab_len);
    if (!rc && m->vocab)
        rc = ckpt_set_hyper(c, "vocab_level", m->vocab_level);
    for (int i = 0; !rc && i < m->nclass_names; i++)
        rc = ckpt_add_class_name(c, m->class_names[i]);
    c->seed = m->seed;
    if (rc) {
        diag_error_in(d, m->source->name, "out of memory while building a checkpoint");
        return -1;
    }
    return model_get_tensors(m, &c->params, d);
}

int model_from_checkpoint(Model *m, Diag *d, const Checkpoint *c, const char *path)
{
    memset(m, 0, sizeof *m);
    if (!c->source_text) {
        diag_error_in(d, path, "the checkpoint holds no model source");
        return -1;
    }
    const Source *src = diag_add_source(d, c->source_name ? c->source_name : path,
                                        c->source_text, c->source_len);
    if (!src)
        return -1;
    if (model_compile(m, d, src, (const char *const *)c->overrides, c->noverrides)) {
        diag_error_in(d, path, "the model stored in this checkpoint does not compile");
        return -1;
    }
    m->seed = c->seed;
    if (c->vocab) {
        m->vocab = malloc(c->vocab_len + 1);
        if (!m->vocab) {
            diag_error_in(d, path, "out of memory");
            model_free(m);
            return -1;
        }
        memcpy(m->vocab, c->vocab, c->vocab_len);
        m->vocab_len = c->vocab_len;
        m->vocab_level = model_checkpoint_vocab_level(c);
    }
    if (model_set_class_names(m, c->class_names, c->nclass_names) != 0) {
        diag_error_in(d, path, "out of memory");
        model_free(m);
        return -1;
    }
    if (model_set_tensors(m, &c->params, path, d)) {
        model_free(m);
        return -1;
    }
    return 0;
}

int model_set_class_names(Model *m, char *const *names, int n)
{
    for (int i = 0; i < m->nclass_names; i++)
        free(m->class_names[i]);
    free(m->class_names);
    m->class_names = NULL;
    m->nclass_names = 0;
    if (n <= 0)
        return 0;
    if (!(m->class_names = calloc((size_t)n, sizeof *m->class_names)))
        return -1;
    m->nclass_names = n;
    for (int i = 0; i < n; i++)
        if (!(m->class_names[i] = strdup(names[i])))
            return -1;
    return 0;
}

int model_load(Model *m, Diag *d, const char *path, Checkpoint *ck)
{
    Checkpoint local;
    Checkpoint *c = ck ? ck : &local;
    memset(m, 0, sizeof *m);
    if (ckpt_read(path, c, d))
        return -1;
    int rc = model_from_checkpoint(m, d, c, path);
    if (rc || !ck)
        ckpt_free(c);
    return rc;
}

int model_save(const Model *m, const char *path, Diag *d)
{
    Checkpoint c;
    ckpt_init(&c);
    int rc = model_to_checkpoint(m, &c, d);
    if (!rc)
        rc = ckpt_write(path, &c, d);
    ckpt_free(&c);
    return rc;
}

int model_checkpoint_vocab_level(const Checkpoint *c)
{
    double level = 0;
    return ckpt_get_hyper(c, "vocab_level", &level) && level == 1 ? 1 : 0;
}

/* The executor trains m's own buffer: no copy in, no copy back. */
ExecModel *model_exec(Model *m, int batch, int max_T, Diag *d)
{
    return exec_create_on(m->ir, m->params, batch, max_T, d);
}
