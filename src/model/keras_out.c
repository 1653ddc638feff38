/* keras_out: a recur model's weights as Keras 2 layers (see keras.h), with a model_config JSON
 * (a Sequential model) when every layer has a Keras counterpart. */
#include "model/keras.h"

#include <json-c/json.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "model/keras_int.h"
#include "util/array.h"

/* The --verbose texts of the Keras weights, in the order they are added (which is the order
 * keras_h5_to_set lists them). */
typedef struct Hows {
    char **s;
    int n;
    size_t cap;
    const WeightSet *in;    /* the model's tensors, by name */
    bool failed;            /* out of memory or a tensor missing from in */
} Hows;

/* Appends one text. */
static void hows_add(Hows *h, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void hows_add(Hows *h, const char *fmt, ...)
{
    char buf[800];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (ARRAY_RESERVE(h->s, h->cap, (size_t)h->n + 1) != 0 || !(h->s[h->n] = strdup(buf))) {
        h->failed = true;
        return;
    }
    h->n++;
}

/* Keras's cell and wrapped-layer names of a recurrent kind (TF 2 weight names). */
static const char *cell_name(KerasKind k)
{
    return k == KK_LSTM ? "lstm_cell" : k == KK_GRU ? "gru_cell" : "simple_rnn_cell";
}
static const char *inner_name(KerasKind k)
{
    return k == KK_LSTM ? "lstm" : k == KK_GRU ? "gru" : "simple_rnn";
}

/* The Keras layer name of a slot: the label, "<label>_l<k>" for level k > 0. */
static void layer_name(const IrModel *ir, const KSlot *s, char *buf, size_t n)
{
    if (s->level)
        snprintf(buf, n, "%s_l%d", ir->layers[s->layer].label, s->level);
    else
        snprintf(buf, n, "%s", ir->layers[s->layer].label);
}

/* Appends weight name (a printf format) of shape [a] or [a, b] to kl; its data are zeros. */
static CkptTensor *add_weight(KerasH5Layer *kl, int ndim, int64_t a, int64_t b,
                              const char *fmt, const char *x, const char *y)
{
    char name[1200];
    snprintf(name, sizeof name, fmt, x, y);
    int64_t shape[2] = { a, b };
    return ckpt_add_tensor(&kl->weights, name, ndim, shape, NULL);
}

/* Kernel [in, G*H] from recur's weight [G*H, in] (GRU gate blocks swapped back first). */
static int put_kernel(KerasH5Layer *kl, const char *fmt, const char *pre, const IrTensor *t,
                      const float *p, bool gru, Hows *h)
{
    int rows = t->shape[0], cols = t->shape[1];
    float *tmp = malloc(sizeof(float) * (size_t)t->size);
    CkptTensor *c = tmp ? add_weight(kl, 2, cols, rows, fmt, pre, "") : NULL;
    if (!c) {
        free(tmp);
        return -1;
    }
    memcpy(tmp, p, sizeof(float) * (size_t)t->size);
    if (gru)
        keras_gru_swap(tmp, rows, cols);
    keras_transpose(tmp, rows, cols, c->data);
    free(tmp);
    hows_add(h, "from %s, transposed%s", t->name, gru ? ", gates r,z,n -> z,r,h" : "");
    return 0;
}

/* The floats of the model's tensor t (from the tensors handed to keras_export). */
static const float *params_of(Hows *h, const IrTensor *t)
{
    return ckpt_find_tensor(&h->in->tensors, t->name)->data;   /* checked by keras_export */
}

/* One direction of a recurrent slot: kernel, recurrent_kernel and the bias (merged, or
 * [2, 3H] for the reset-after GRU). pre is "<name>/" or "<name>/forward_lstm/". */
static int put_cell(const Model *m, const KSlot *s, int dir, KerasH5Layer *kl,
                    const char *pre, Hows *h)
{
    const IrModel *ir = m->ir;
    const IrTensor *wi = keras_cell_tensor(ir, s, dir, "weight_ih");
    const IrTensor *wh = keras_cell_tensor(ir, s, dir, "weight_hh");
    const IrTensor *bi = keras_cell_tensor(ir, s, dir, "bias_ih");
    const IrTensor *bh = keras_cell_tensor(ir, s, dir, "bias_hh");
    bool gru = s->kind == KK_GRU, two = gru && s->reset_after;
    char fmt[300];
    snprintf(fmt, sizeof fmt, "%%s%s/kernel:0%%s", cell_name(s->kind));
    if (!wi || !wh || !bi || !bh || put_kernel(kl, fmt, pre, wi, params_of(h, wi), gru,
                                               h) < 0)
        return -1;
    snprintf(fmt, sizeof fmt, "%%s%s/recurrent_kernel:0%%s", cell_name(s->kind));
    if (put_kernel(kl, fmt, pre, wh, params_of(h, wh), gru, h) < 0)
        return -1;
    snprintf(fmt, sizeof fmt, "%%s%s/bias:0%%s", cell_name(s->kind));
    int n = bi->shape[0];
    CkptTensor *c = add_weight(kl, two ? 2 : 1, two ? 2 : n, two ? n : 0, fmt, pre, "");
    if (!c)
        return -1;
    const float *a = params_of(h, bi), *b = params_of(h, bh);
    for (int i = 0; i < n; i++) {
        if (two) {
            c->data[i] = a[i];
            c->data[n + i] = b[i];
        } else {
            c->data[i] = a[i] + b[i];
        }
    }
    if (gru) {
        keras_gru_swap(c->data, n, 1);
        if (two)
            keras_gru_swap(c->data + n, n, 1);
    }
    hows_add(h, "from %s and %s, %s%s", bi->name, bh->name,
             two ? "stacked as [2, 3H]" : "added (Keras has one bias)",
             gru ? ", gates r,z,n -> z,r,h" : "");
    return 0;
}

/* The weights of one slot into a new Keras layer. */
static int put_slot(const Model *m, const KSlot *s, KerasH5 *out, Hows *h)
{
    char name[256], pre[600];
    layer_name(m->ir, s, name, sizeof name);
    KerasH5Layer *kl = keras_h5_add_layer(out, name);
    if (!kl)
        return -1;
    const IrLayer *L = &m->ir->layers[s->layer];
    if (s->kind == KK_EMBEDDING || s->kind == KK_DENSE) {
        const IrTensor *w = &m->ir->tensors[L->tensor[IR_ROLE_WEIGHT]];
        snprintf(pre, sizeof pre, "%s/", name);
        if (s->kind == KK_EMBEDDING) {
            CkptTensor *c = add_weight(kl, 2, w->shape[0], w->shape[1], "%sembeddings:0%s",
                                       pre, "");
            if (!c)
                return -1;
            memcpy(c->data, params_of(h, w), sizeof(float) * (size_t)w->size);
            hows_add(h, "from %s", w->name);
            return 0;
        }
        const IrTensor *b = &m->ir->tensors[L->tensor[IR_ROLE_BIAS]];
        CkptTensor *c;
        if (put_kernel(kl, "%skernel:0%s", pre, w, params_of(h, w), false, h) < 0 ||
            !(c = add_weight(kl, 1, b->shape[0], 0, "%sbias:0%s", pre, "")))
            return -1;
        memcpy(c->data, params_of(h, b), sizeof(float) * (size_t)b->size);
        hows_add(h, "from %s", b->name);
        return 0;
    }
    for (int dir = 0; dir < (L->bidirectional ? 2 : 1); dir++) {
        if (L->bidirectional)
            snprintf(pre, sizeof pre, "%s/%s_%s/", name, dir ? "backward" : "forward",
                     inner_name(s->kind));
        else
            snprintf(pre, sizeof pre, "%s/", name);
        if (put_cell(m, s, dir, kl, pre, h) < 0)
            return -1;
    }
    return 0;
}

/* {"class_name": cls, "config": {"name": name, "trainable": true, "dtype": "float32"}}. */
static json_object *layer_obj(const char *cls, const char *name, json_object **cfg)
{
    json_object *o = json_object_new_object();
    *cfg = json_object_new_object();
    json_object_object_add(o, "class_name", json_object_new_string(cls));
    json_object_object_add(*cfg, "name", json_object_new_string(name));
    json_object_object_add(*cfg, "trainable", json_object_new_boolean(1));
    json_object_object_add(*cfg, "dtype", json_object_new_string("float32"));
    json_object_object_add(o, "config", *cfg);
    return o;
}

/* A recurrent slot's Keras layer config (wrapped in Bidirectional when it has two cells). */
static json_object *rnn_obj(const IrModel *ir, const KSlot *s, const char *name)
{
    const IrLayer *L = &ir->layers[s->layer];
    json_object *c, *o = layer_obj(keras_kind_class[s->kind], L->bidirectional
                                   ? inner_name(s->kind) : name, &c);
    json_object_object_add(c, "units", json_object_new_int(L->size));
    json_object_object_add(c, "activation", json_object_new_string(s->relu ? "relu" : "tanh"));
    if (s->kind != KK_SIMPLERNN)
        json_object_object_add(c, "recurrent_activation",
                               json_object_new_string(s->hard ? "hard_sigmoid" : "sigmoid"));
    json_object_object_add(c, "use_bias", json_object_new_boolean(1));
    json_object_object_add(c, "return_sequences", json_object_new_boolean(1));
    json_object_object_add(c, "return_state", json_object_new_boolean(0));
    json_object_object_add(c, "go_backwards", json_object_new_boolean(0));
    json_object_object_add(c, "stateful", json_object_new_boolean(0));
    if (s->kind == KK_GRU)
        json_object_object_add(c, "reset_after", json_object_new_boolean(s->reset_after));
    if (!L->bidirectional)
        return o;
    json_object *bc, *b = layer_obj("Bidirectional", name, &bc);
    json_object_object_add(bc, "layer", o);
    json_object_object_add(bc, "merge_mode", json_object_new_string("concat"));
    return b;
}

/* The config of one IR layer without weights, or NULL when Keras has no plain counterpart
 * (then no model_config is written). */
static json_object *plain_obj(const IrLayer *L)
{
    json_object *c, *o;
    const IrLayerFacts *f = ir_layer_kind_facts(L->kind);
    if (f && f->show == IR_SHOW_P) {    /* dropout */
        o = layer_obj("Dropout", L->label, &c);
        json_object_object_add(c, "rate", json_object_new_double(L->p));
        return o;
    }
    if (f && f->probs) {                /* softmax */
        o = layer_obj("Activation", L->label, &c);
        json_object_object_add(c, "activation", json_object_new_string("softmax"));
        return o;
    }
    if (f && f->show == IR_SHOW_POOL && L->pool != IR_POOL_LAST)
        return layer_obj(L->pool == IR_POOL_MEAN ? "GlobalAveragePooling1D"
                         : "GlobalMaxPooling1D", L->label, &c);
    return NULL;
}

/* The InputLayer config: token ids [batch, time] int32 or vectors [batch, time, N]. */
static json_object *input_obj(const IrModel *ir)
{
    const IrLayer *L = &ir->layers[0];
    json_object *c, *o = layer_obj("InputLayer", "input", &c);
    json_object *shape = json_object_new_array();
    json_object_array_add(shape, NULL);
    json_object_array_add(shape, NULL);
    if (!L->tokens)
        json_object_array_add(shape, json_object_new_int(L->width));
    json_object_object_add(c, "batch_input_shape", shape);
    json_object_object_add(c, "dtype", json_object_new_string(L->tokens ? "int32" : "float32"));
    return o;
}

/* A Sequential model_config for ir, or NULL (with a reason) when it is not a plain stack of
 * layers Keras has. */
static char *model_config(const IrModel *ir, const KSlot *s, int ns, const char **why)
{
    json_object *layers = json_object_new_array();
    json_object_array_add(layers, input_obj(ir));
    int k = 0;
    *why = NULL;
    for (int i = 1; i < ir->nlayers && !*why; i++) {
        const IrLayer *L = &ir->layers[i];
        if (L->ninputs != 1 || L->inputs[0] != i - 1)
            *why = "it is not a plain stack of layers";
        for (; k < ns && s[k].layer == i; k++) {
            char name[256];
            layer_name(ir, &s[k], name, sizeof name);
            json_object *c, *o = s[k].kind == KK_EMBEDDING ? layer_obj("Embedding", name, &c)
                               : s[k].kind == KK_DENSE ? layer_obj("Dense", name, &c)
                               : rnn_obj(ir, &s[k], name);
            if (s[k].kind == KK_EMBEDDING) {
                json_object_object_add(c, "input_dim", json_object_new_int(L->vocab));
                json_object_object_add(c, "output_dim", json_object_new_int(L->size));
            } else if (s[k].kind == KK_DENSE) {
                static const char *const acts[] = { "linear", "tanh", "relu", "sigmoid" };
                json_object_object_add(c, "units", json_object_new_int(L->size));
                json_object_object_add(c, "activation", json_object_new_string(acts[L->act]));
                json_object_object_add(c, "use_bias", json_object_new_boolean(1));
            }
            json_object_array_add(layers, o);
        }
        if (L->ntensors == 0) {
            json_object *o = plain_obj(L);
            if (!o)
                *why = "a layer has no Keras counterpart";
            else
                json_object_array_add(layers, o);
        }
    }
    json_object *root = json_object_new_object(), *cfg = json_object_new_object();
    json_object_object_add(root, "class_name", json_object_new_string("Sequential"));
    json_object_object_add(cfg, "name", json_object_new_string(ir->name ? ir->name : "model"));
    json_object_object_add(cfg, "layers", layers);
    json_object_object_add(root, "config", cfg);
    char *text = *why ? NULL : strdup(json_object_to_json_string_ext(root,
                                                                     JSON_C_TO_STRING_PLAIN));
    json_object_put(root);
    return text;
}

/* Every tensor of the model is in `in` with its size (what params_of relies on). */
static int check_inputs(const Model *m, const WeightSet *in, const char *path, Diag *d)
{
    for (int i = 0; i < m->ir->ntensors; i++) {
        const IrTensor *t = &m->ir->tensors[i];
        const CkptTensor *c = ckpt_find_tensor(&in->tensors, t->name);
        if (!c || c->count != t->size) {
            diag_error_in(d, path, "tensor '%s' of the model is %s", t->name,
                          c ? "of another size" : "missing");
            return -1;
        }
    }
    return 0;
}

/* The Keras layers of m into k, the --verbose texts into h, model_config when it has one. */
static int build(const Model *m, const KSlot *s, int ns, KerasH5 *k, Hows *h,
                 const char **why, Diag *d)
{
    char name[256];
    const char *path = m->source && m->source->name ? m->source->name : "the model";
    for (int i = 0; i < ns; i++)
        if (s[i].kind == KK_NONE) {
            diag_error_in(d, path, "the model's layer '%s' is %s: it cannot be written as "
                          "Keras weights", keras_slot_name(m->ir, &s[i], name, sizeof name),
                          s[i].why);
            return -1;
        }
    for (int i = 0; i < ns; i++)
        if (put_slot(m, &s[i], k, h) < 0 || h->failed)
            return -1;
    k->model_config = model_config(m->ir, s, ns, why);
    return *why || k->model_config ? 0 : -1;
}

/* See keras.h. */
int keras_export(const Model *m, const WeightSet *in, WeightSet *out, Diag *d)
{
    KSlot *s = NULL;
    int ns = 0;
    KerasH5 k = { 0 };
    Hows h = { .in = in };
    const char *why = NULL;
    int rc = check_inputs(m, in, "the model", d);
    if (rc == 0 && keras_slots(m->ir, &s, &ns) < 0)
        rc = -1;
    if (rc == 0)
        rc = build(m, s, ns, &k, &h, &why, d);
    if (rc == 0)
        rc = keras_h5_to_set(&k, out);
    for (int i = 0; rc == 0 && i < h.n && i < out->tensors.n; i++)
        rc = wf_set_how(out, i, h.s[i]);
    if (rc == 0 && why)
        rc = wf_set_note(out, "no model_config written (%s): Keras's load_weights reads the "
                         "file, load_model does not", why);
    if (rc < 0 && diag_error_count(d) == 0)
        diag_error_in(d, "the Keras output", "out of memory");
    if (rc < 0)
        wf_set_free(out);
    keras_h5_free(&k);
    for (int i = 0; i < h.n; i++)
        free(h.s[i]);
    free(h.s);
    free(s);
    return rc;
}
