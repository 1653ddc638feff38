/* trace: the recording half of recur trace (see trace.h). The executor runs every cell on the
 * interpreter (exec_set_force_interpreter), whose tape holds each node's value at every step;
 * exec_trace hands the named ones over through the layer table's trace hook. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/npz.h"
#include "train/trace.h"
#include "train/train_int.h"
#include "util/array.h"

/* Copies one recorded array into t (name "layer.cell.value"). 0, or -1 when out of memory. */
static int add_array(Trace *t, const char *layer, const char *cell, const char *value, int T,
                     int B, int W, const float *v)
{
    if (ARRAY_RESERVE(t->a, t->cap, (size_t)t->n + 1))
        return -1;
    TraceArray *a = &t->a[t->n];
    size_t n = (size_t)T * B * W, len = strlen(layer) + strlen(cell) + strlen(value) + 3;
    *a = (TraceArray){ malloc(len), strdup(layer), strdup(value), T, B, W,
                       malloc(n * sizeof(float)) };
    t->n++;
    if (!a->name || !a->layer || !a->value || !a->v)
        return -1;
    snprintf(a->name, len, cell[0] ? "%s.%s.%s" : "%s%s.%s", layer, cell, value);
    memcpy(a->v, v, n * sizeof(float));
    return 0;
}

/* exec_trace's sink: keeps the values of the wanted layer (all when none is named). */
typedef struct Sink {
    Trace *t;
    const char *layer;
} Sink;
static int sink_value(void *ctx, const char *layer, const char *cell, const char *name, int T,
                      int B, int width, const float *v)
{
    Sink *s = ctx;
    if (s->layer && strcmp(s->layer, layer) != 0)
        return 0;
    return add_array(s->t, layer, cell, name, T, B, width, v) ? 1 : 0;
}

/* Checks --layer against the model's recurrent layers (did-you-mean) and that it has one. */
static int check_layer(const IrModel *ir, const char *layer, Diag *d)
{
    const char *names[64];
    int n = 0;
    for (int i = 0; i < ir->nlayers; i++)
        if (ir->layers[i].kind == IR_LAYER_RECURRENT && n < 64)
            names[n++] = ir->layers[i].label;
    if (n == 0) {
        diag_error_in(d, "trace", "the model has no recurrent layer to trace");
        return -1;
    }
    for (int i = 0; layer && i < n; i++)
        if (strcmp(names[i], layer) == 0)
            return 0;
    if (!layer)
        return 0;
    DiagMessage *msg = diag_error_in(d, "--layer", "no recurrent layer '%s'", layer);
    const char *s = diag_suggest(layer, names, n);
    if (s)
        diag_help(msg, "did you mean '%s'?", s);
    return -1;
}

/* The model's vocabulary as t->tokens (each id's UTF-8 text) and in *v (data_vocab_free). */
static int load_tokens(const Model *m, Trace *t, Vocab *v, Diag *d)
{
    if (session_vocab(v, m->vocab, m->vocab_len, m->vocab_level, d))
        return -1;
    if (!(t->tokens = calloc((size_t)v->size + 1, sizeof(char *))))
        return -1;
    t->ntokens = v->size;
    for (int i = 0; i < v->size; i++) {
        char u[5] = {0};
        data_vocab_utf8(v, i, u);
        if (!(t->tokens[i] = strdup(u)))
            return -1;
    }
    return 0;
}

/* The text as ids through the model's vocabulary; fills t->ids, t->tokens, t->T = count. */
static int text_input(const Model *m, const TraceInput *in, Trace *t, Diag *d)
{
    Vocab v = {0};
    if (!m->vocab) {
        diag_error_in(d, in->what, "the model has no vocabulary (it does not read text)");
        return -1;
    }
    int rc = -1;
    if (load_tokens(m, t, &v, d) ||
        !(t->ids = malloc((strlen(in->text) + 1) * sizeof(int32_t))))
        goto done;
    int n = sample_text_ids(&v, in->text, in->what, t->ids, d);
    if (n == 0)
        diag_error_in(d, in->what, "the text is empty");
    if (n > 0) {
        t->T = n, t->B = 1;
        rc = 0;
    }
done:
    if (rc && !d->nerrors)
        diag_error_in(d, in->what, "out of memory");
    data_vocab_free(&v);
    return rc;
}

/* Token ids or vectors as given (ids copied; a model's vocabulary names the ids' text). */
static int array_input(const Model *m, const TraceInput *in, Trace *t, Diag *d)
{
    t->T = in->T, t->B = in->B;
    if (!in->ids)
        return 0;
    size_t n = (size_t)in->T * in->B;
    Vocab v = {0};
    int rc = -1;
    if ((t->ids = malloc(n * sizeof(int32_t))) && (!m->vocab || !load_tokens(m, t, &v, d))) {
        memcpy(t->ids, in->ids, n * sizeof(int32_t));
        rc = 0;
    }
    if (m->vocab)
        data_vocab_free(&v);
    if (rc && !d->nerrors)
        diag_error_in(d, "trace", "out of memory");
    return rc;
}

/* The output as probabilities: the model's own when it ends in softmax, else a row softmax. */
static int add_probs(Trace *t, ExecModel *e, const IrModel *ir)
{
    int rows, W;
    const float *y = exec_output(e, &rows, &W);
    if (rows != t->T * t->B)
        return 0; /* a pooled output has no per-step distribution */
    if (add_array(t, "output", "", "probs", t->T, t->B, W, y))
        return -1;
    if (ir_layer_facts[ir->layers[ir->output].kind].probs)
        return 0;
    float *p = t->a[t->n - 1].v;
    for (int r = 0; r < rows; r++) {
        float *q = p + (size_t)r * W, mx = q[0];
        double s = 0;
        for (int j = 1; j < W; j++) mx = q[j] > mx ? q[j] : mx;
        for (int j = 0; j < W; j++) s += (q[j] = expf(q[j] - mx));
        for (int j = 0; j < W; j++) q[j] = (float)(q[j] / s);
    }
    return 0;
}

/* Runs the model on the interpreter and records (see trace.h). */
int trace_run(Model *m, const TraceInput *in, const char *layer, Trace *t, Diag *d)
{
    if (check_layer(m->ir, layer, d))
        return -1;
    if (in->text ? text_input(m, in, t, d) : array_input(m, in, t, d))
        return -1;
    ExecModel *e = model_exec(m, t->B, t->T, d);
    if (!e)
        return -1;
    exec_set_force_interpreter(e, true);
    exec_set_trace_tape(e, true); /* every value at every step, not only what backward needs */
    exec_set_grad_enabled(e, false);
    ExecInput xi = { .T = t->T, .tokens = t->ids, .vectors = in->text ? NULL : in->vectors };
    Sink s = { t, layer };
    int rc = exec_forward(e, &xi, false, d);
    if (!rc && (rc = exec_trace(e, sink_value, &s, d)) > 0)
        rc = -1;
    if (!rc && add_probs(t, e, m->ir))
        rc = -1;
    if (rc && !d->nerrors)
        diag_error_in(d, "trace", "out of memory");
    exec_free(e);
    return rc;
}

/* Releases everything t owns. */
void trace_free(Trace *t)
{
    for (int i = 0; i < t->n; i++) {
        free(t->a[i].name), free(t->a[i].layer), free(t->a[i].value), free(t->a[i].v);
    }
    for (int i = 0; t->tokens && i < t->ntokens; i++)
        free(t->tokens[i]);
    free(t->a), free(t->ids), free(t->tokens);
    memset(t, 0, sizeof *t);
}

/* The array called name, or NULL. */
const TraceArray *trace_find(const Trace *t, const char *name)
{
    for (int i = 0; i < t->n; i++)
        if (strcmp(t->a[i].name, name) == 0)
            return &t->a[i];
    return NULL;
}

/* Every array as NAME.npy [T, B, W] through the npz writer. */
int trace_write_npz(const Trace *t, const char *path, Diag *d)
{
    WeightSet w = {0};
    int rc = 0;
    for (int i = 0; !rc && i < t->n; i++) {
        int64_t shape[3] = { t->a[i].T, t->a[i].B, t->a[i].W };
        if (!ckpt_add_tensor(&w.tensors, t->a[i].name, 3, shape, t->a[i].v)) {
            diag_error_in(d, path, "out of memory");
            rc = -1;
        }
    }
    if (!rc)
        rc = npz_write(path, &w, d);
    wf_set_free(&w);
    return rc;
}
