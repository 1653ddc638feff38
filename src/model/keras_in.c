/* keras_in: Keras 2 layers (io/keras_h5.h) into a recur model's tensors (see keras.h): each
 * Keras layer with weights is classified (model_config when present, else the weights' names
 * and shapes), matched to a recur slot (--map first, then in order), checked against the slot's
 * options and converted (transposes, GRU gate reorder, bias split); model_set_tensors then
 * checks and stores the complete set. */
#include "model/keras.h"

#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "model/keras_int.h"

/* One Keras layer with weights, as classified. */
typedef struct KLayer {
    const KerasH5Layer *h5;
    KerasKind kind;
    bool bidi;
    /* from model_config (NULL / -1 when the file has none) */
    const char *act, *ract, *merge;
    int reset_after, use_bias, go_backwards;
    int slot;           /* matched slot, or -1 */
} KLayer;

/* The base name of a Keras weight: "lstm/lstm_cell/kernel:0" -> "kernel" (into buf). */
static const char *weight_base(const char *name, char *buf, size_t n)
{
    const char *b = strrchr(name, '/');
    b = b ? b + 1 : name;
    snprintf(buf, n, "%s", b);
    char *colon = strrchr(buf, ':');
    if (colon)
        *colon = 0;
    return buf;
}

/* The direction of a weight inside a Bidirectional layer: 0 forward_, 1 backward_, -1 none. */
static int weight_dir(const char *name)
{
    for (const char *p = name; p; p = strchr(p, '/')) {
        p += *p == '/';
        if (strncmp(p, "forward_", 8) == 0)
            return 0;
        if (strncmp(p, "backward_", 9) == 0)
            return 1;
    }
    return -1;
}

/* The weight of layer kl called base (e.g. "kernel") in direction dir (-1: any), or NULL. */
static const CkptTensor *find_weight(const KerasH5Layer *kl, int dir, const char *base)
{
    char buf[256];
    for (int i = 0; i < kl->weights.n; i++) {
        const CkptTensor *t = &kl->weights.items[i];
        if (strcmp(weight_base(t->name, buf, sizeof buf), base) == 0 &&
            (dir < 0 || weight_dir(t->name) == dir))
            return t;
    }
    return NULL;
}

/* The class of a layer without model_config, from its weights' names and shapes. */
static void infer_kind(KLayer *l)
{
    const CkptTensor *rk = find_weight(l->h5, -1, "recurrent_kernel");
    l->bidi = l->h5->weights.n > 0 && weight_dir(l->h5->weights.items[0].name) >= 0;
    l->use_bias = find_weight(l->h5, -1, "bias") != NULL;
    if (find_weight(l->h5, -1, "embeddings"))
        l->kind = KK_EMBEDDING;
    else if (rk && rk->ndim == 2 && rk->shape[0] > 0) {
        int64_t g = rk->shape[1] / rk->shape[0];
        l->kind = rk->shape[1] % rk->shape[0] ? KK_NONE : g == 1 ? KK_SIMPLERNN
                  : g == 4 ? KK_LSTM : g == 3 ? KK_GRU : KK_NONE;
    } else if (find_weight(l->h5, -1, "kernel"))
        l->kind = KK_DENSE;
}

/* The model_config entry {"class_name", "config": {"name": name, ...}} of a layer, or NULL. */
static json_object *config_layer(json_object *root, const char *name)
{
    json_object *cfg = root, *layers = NULL;
    if (json_object_is_type(root, json_type_object) &&
        json_object_object_get_ex(root, "config", &cfg) && json_object_is_type(cfg, json_type_array))
        layers = cfg;   /* Keras 1/2.0 Sequential: config is the list itself */
    else if (!cfg || !json_object_object_get_ex(cfg, "layers", &layers))
        return NULL;
    if (!json_object_is_type(layers, json_type_array))
        return NULL;
    for (size_t i = 0; i < json_object_array_length(layers); i++) {
        json_object *e = json_object_array_get_idx(layers, i), *c, *n;
        if (json_object_object_get_ex(e, "config", &c) && json_object_object_get_ex(c, "name", &n)
            && json_object_is_type(n, json_type_string) &&
            strcmp(json_object_get_string(n), name) == 0)
            return e;
    }
    return NULL;
}

/* A string option of a layer config, or NULL. */
static const char *opt_str(json_object *c, const char *key)
{
    json_object *v;
    return json_object_object_get_ex(c, key, &v) && json_object_is_type(v, json_type_string)
           ? json_object_get_string(v) : NULL;
}

/* A boolean option: 1, 0, or dflt when absent. */
static int opt_bool(json_object *c, const char *key, int dflt)
{
    json_object *v;
    return json_object_object_get_ex(c, key, &v) && json_object_is_type(v, json_type_boolean)
           ? json_object_get_boolean(v) : dflt;
}

/* The class of layer l from its model_config entry e. -1 (reported) for a class recur has no
 * counterpart for. */
static int config_kind(KLayer *l, json_object *e, const char *path, Diag *d)
{
    const char *cls = opt_str(e, "class_name");
    json_object *c = NULL, *inner;
    json_object_object_get_ex(e, "config", &c);
    if (cls && strcmp(cls, "Bidirectional") == 0) {
        l->bidi = true;
        l->merge = opt_str(c, "merge_mode");
        if (!json_object_object_get_ex(c, "layer", &inner))
            inner = NULL;
        cls = opt_str(inner, "class_name");
        json_object_object_get_ex(inner, "config", &c);
    }
    l->kind = KK_NONE;
    for (int k = KK_EMBEDDING; k <= KK_GRU; k++)
        if (cls && strcmp(cls, keras_kind_class[k]) == 0 && (k >= KK_SIMPLERNN || !l->bidi))
            l->kind = (KerasKind)k;
    if (l->kind == KK_NONE) {
        diag_error_in(d, path, "layer '%s': Keras class %s%s%s is not supported (recur reads "
                      "Embedding, Dense, SimpleRNN, LSTM, GRU and Bidirectional)", l->h5->name,
                      l->bidi ? "Bidirectional(" : "", cls ? cls : "(none)", l->bidi ? ")" : "");
        return -1;
    }
    l->act = opt_str(c, "activation");
    l->ract = opt_str(c, "recurrent_activation");
    l->reset_after = opt_bool(c, "reset_after", -1);
    l->use_bias = opt_bool(c, "use_bias", 1);
    l->go_backwards = opt_bool(c, "go_backwards", 0);
    return 0;
}

/* Classifies every Keras layer with weights into *out (malloc'ed, *n entries). The layers'
 * option strings point into *rootp (the parsed model_config, or NULL), which the caller
 * releases with json_object_put after the last use. */
static int classify(const KerasH5 *k, const char *path, KLayer **out, int *n,
                    json_object **rootp, Diag *d)
{
    json_object *root = k->model_config ? json_tokener_parse(k->model_config) : NULL;
    *rootp = root;
    if (k->model_config && !root) {
        diag_error_in(d, path, "model_config is not valid JSON");
        return -1;
    }
    KLayer *ls = calloc((size_t)k->nlayers + 1, sizeof *ls);
    int m = 0, rc = ls ? 0 : -1;
    for (int i = 0; rc == 0 && i < k->nlayers; i++) {
        if (k->layers[i].weights.n == 0)
            continue;   /* InputLayer, Dropout, Activation, ...: nothing to convert */
        KLayer *l = &ls[m++];
        l->h5 = &k->layers[i];
        l->slot = -1;
        l->reset_after = l->go_backwards = -1;
        l->use_bias = 1;
        json_object *e = root ? config_layer(root, l->h5->name) : NULL;
        if (e)
            rc = config_kind(l, e, path, d);
        else
            infer_kind(l);
        if (rc == 0 && l->kind == KK_NONE) {
            diag_error_in(d, path, "layer '%s': its weights match no Keras class recur reads "
                          "(Embedding, Dense, SimpleRNN, LSTM, GRU, Bidirectional)",
                          l->h5->name);
            rc = -1;
        }
    }
    if (rc < 0)
        free(ls);
    *out = rc < 0 ? NULL : ls;
    *n = m;
    return rc;
}

/* A slot's label.l<k> or label, matched against a --map target. */
static int find_slot(const IrModel *ir, const KSlot *s, int ns, const char *name)
{
    char buf[256];
    for (int i = 0; i < ns; i++)
        if (strcmp(keras_slot_name(ir, &s[i], buf, sizeof buf), name) == 0 ||
            (s[i].level == 0 && strcmp(ir->layers[s[i].layer].label, name) == 0))
            return i;
    return -1;
}

/* Pairs Keras layers with slots: a Keras layer whose name is a recur slot's name ("rnn", or
 * "rnn.l1" for level 1; `recur convert --map OLD=NEW` renames Keras layers so) is pinned to it
 * first, then the rest go in order. Every layer and every slot must be paired (reported by
 * name otherwise). */
static int match(const IrModel *ir, const KSlot *s, int ns, KLayer *kl, int nk,
                 const char *path, Diag *d)
{
    bool *used = calloc((size_t)ns + 1, 1);
    int bad = used ? 0 : 1;
    for (int i = 0; !bad && i < nk; i++) {
        int t = find_slot(ir, s, ns, kl[i].h5->name);
        if (t >= 0 && !used[t]) {
            kl[i].slot = t;
            used[t] = true;
        }
    }
    int next = 0;
    char buf[256];
    for (int i = 0; !bad && i < nk; i++) {
        while (kl[i].slot < 0 && next < ns && used[next])
            next++;
        if (kl[i].slot >= 0)
            continue;
        if (next == ns) {
            diag_error_in(d, path, "Keras layer '%s' (%s) has weights but the model has no "
                          "layer with weights left for it (%d in the file, %d in the model); "
                          "weights are never dropped", kl[i].h5->name,
                          keras_kind_class[kl[i].kind], nk, ns);
            bad = 1;
            break;
        }
        kl[i].slot = next;
        used[next] = true;
    }
    for (int t = 0; !bad && t < ns; t++)
        if (!used[t]) {
            diag_error_in(d, path, "the model's layer '%s' gets no weights: the file has %d "
                          "Keras layers with weights, the model %d",
                          keras_slot_name(ir, &s[t], buf, sizeof buf), nk, ns);
            bad = 1;
        }
    free(used);
    return bad ? -1 : 0;
}

/* "write lstm(H, recurrent_activation=hard_sigmoid)"-style advice for an option mismatch. */
static int refuse(const KLayer *l, const char *slot, const char *what, const char *fix,
                  const char *path, Diag *d)
{
    DiagMessage *m = diag_error_in(d, path, "Keras layer '%s' (%s) %s, but recur's '%s' does "
                                   "not", l->h5->name, keras_kind_class[l->kind], what, slot);
    if (fix)
        diag_help(m, "%s", fix);
    return -1;
}

/* The Keras layer's class and options against the recur slot it is matched to. */
static int check_pair(const IrModel *ir, const KLayer *l, const KSlot *s, const char *path,
                      Diag *d)
{
    char name[256];
    keras_slot_name(ir, s, name, sizeof name);
    const IrLayer *L = &ir->layers[s->layer];
    if (s->kind != l->kind) {
        DiagMessage *m = diag_error_in(d, path, "Keras layer '%s' (%s) is matched to recur's "
                                       "'%s', %s", l->h5->name, keras_kind_class[l->kind], name,
                                       s->kind ? keras_kind_class[s->kind] : s->why);
        diag_help(m, "layers are matched in order; pin one with --map %s=LABEL",
                  l->h5->name);
        return -1;
    }
    bool rec = keras_gates(l->kind) > 0;
    if (rec && l->bidi != L->bidirectional)
        return refuse(l, name, l->bidi ? "is Bidirectional" : "is one-directional",
                      l->bidi ? "write bidirectional=true" : "remove bidirectional=true",
                      path, d);
    if (l->bidi && l->merge && strcmp(l->merge, "concat") != 0)
        return refuse(l, name, "merges directions other than by concat", NULL, path, d);
    if (l->go_backwards > 0)
        return refuse(l, name, "has go_backwards=True", NULL, path, d);
    const char *want = !rec ? NULL : l->kind == KK_SIMPLERNN && s->relu ? "relu" : "tanh";
    if (l->kind == KK_DENSE) {
        static const char *const acts[] = { "linear", "tanh", "relu", "sigmoid" };
        want = acts[L->act];
        if (l->act && strcmp(l->act, "softmax") == 0 && L->act == IR_ACT_NONE)
            want = "softmax";   /* the logits: recur's losses and softmax layer take them */
    }
    if (l->act && want && strcmp(l->act, want) != 0)
        return refuse(l, name, "has another activation", "the Keras activation is named in "
                      "model_config; give the recur layer the same one", path, d);
    bool hard = l->ract && strcmp(l->ract, "hard_sigmoid") == 0;
    if (l->ract && !hard && strcmp(l->ract, "sigmoid") != 0)
        return refuse(l, name, "has a recurrent_activation recur has no cell for", NULL, path,
                      d);
    if (l->ract && hard != s->hard)
        return refuse(l, name, hard ? "uses recurrent_activation=hard_sigmoid"
                      : "uses recurrent_activation=sigmoid", hard
                      ? "write recurrent_activation=hard_sigmoid on the recur layer"
                      : "remove recurrent_activation=hard_sigmoid", path, d);
    if (l->kind == KK_GRU && l->reset_after >= 0 && l->reset_after != s->reset_after)
        return refuse(l, name, l->reset_after ? "has reset_after=True" : "has reset_after=False",
                      l->reset_after ? "remove reset_after=false" : "write reset_after=false",
                      path, d);
    return 0;
}

/* The --verbose text of the tensor just added: its Keras source and what was done to it. */
static int how(WeightSet *out, const KLayer *l, const char *wname, const char *what, bool gru)
{
    char buf[700];
    snprintf(buf, sizeof buf, "from %s/%s%s%s%s", l->h5->name, wname, what ? ", " : "",
             what ? what : "", gru ? ", gates z,r,h -> r,z,n" : "");
    return wf_set_how(out, out->tensors.n - 1, buf);
}

/* Appends recur tensor t from Keras weight w, checking w's shape is want[0..nd) first. mode:
 * 0 copy, 1 transpose ([in, G*H] -> [G*H, in]); gru swaps the z and r gate blocks. */
static int put(WeightSet *out, const IrTensor *t, const KLayer *l, const CkptTensor *w,
               const int64_t *want, int nd, int mode, bool gru, const char *path, Diag *d)
{
    bool same = w->ndim == nd;
    for (int i = 0; same && i < nd; i++)
        same = w->shape[i] == want[i];
    if (!same) {
        char got[96] = "", exp[96] = "";
        for (int i = 0; i < w->ndim; i++)
            snprintf(got + strlen(got), sizeof got - strlen(got), "%s%lld", i ? ", " : "",
                     (long long)w->shape[i]);
        for (int i = 0; i < nd; i++)
            snprintf(exp + strlen(exp), sizeof exp - strlen(exp), "%s%lld", i ? ", " : "",
                     (long long)want[i]);
        diag_error_in(d, path, "layer '%s' dataset '%s' is [%s], but recur's %s needs [%s]",
                      l->h5->name, w->name, got, t->name, exp);
        return -1;
    }
    int64_t shape[2] = { t->shape[0], t->shape[1] };
    CkptTensor *c = ckpt_add_tensor(&out->tensors, t->name, t->ndim, shape, NULL);
    if (!c)
        return -1;
    if (mode == 1)
        keras_transpose(w->data, (int)want[0], (int)want[1], c->data);
    else
        memcpy(c->data, w->data, sizeof(float) * (size_t)t->size);
    if (gru)
        keras_gru_swap(c->data, t->shape[0], t->ndim > 1 ? t->shape[1] : 1);
    return how(out, l, w->name, mode == 1 ? "transposed" : NULL, gru);
}

/* A zero tensor for t (a bias Keras does not have: bias_hh, or use_bias=False). */
static int put_zero(WeightSet *out, const IrTensor *t, const KLayer *l)
{
    int64_t shape[2] = { t->shape[0], t->shape[1] };
    if (!ckpt_add_tensor(&out->tensors, t->name, t->ndim, shape, NULL))
        return -1;
    (void)l;
    return wf_set_how(out, out->tensors.n - 1, "zeros (the Keras layer has no such bias)");
}

/* The weight named base of layer l in direction dir, or an error naming it. */
static const CkptTensor *need(const KLayer *l, int dir, const char *base, const char *path,
                              Diag *d)
{
    const CkptTensor *w = find_weight(l->h5, dir, base);
    if (!w)
        diag_error_in(d, path, "layer '%s' has no %s%s weight", l->h5->name,
                      dir < 0 ? "" : dir ? "backward_ " : "forward_ ", base);
    return w;
}

/* One direction of a recurrent slot: kernel, recurrent_kernel, bias. */
static int put_cell(WeightSet *out, const IrModel *ir, const KLayer *l, const KSlot *s,
                    int dir, const char *path, Diag *d)
{
    int kd = l->bidi ? dir : -1;
    const IrTensor *wi = keras_cell_tensor(ir, s, dir, "weight_ih");
    const IrTensor *wh = keras_cell_tensor(ir, s, dir, "weight_hh");
    const IrTensor *bi = keras_cell_tensor(ir, s, dir, "bias_ih");
    const IrTensor *bh = keras_cell_tensor(ir, s, dir, "bias_hh");
    const CkptTensor *k = need(l, kd, "kernel", path, d);
    const CkptTensor *r = need(l, kd, "recurrent_kernel", path, d);
    const CkptTensor *b = l->use_bias ? need(l, kd, "bias", path, d) : NULL;
    if (!wi || !wh || !bi || !bh || !k || !r || (l->use_bias && !b))
        return -1;
    bool gru = l->kind == KK_GRU;
    int64_t ks[2] = { wi->shape[1], wi->shape[0] }, rs[2] = { wh->shape[1], wh->shape[0] };
    if (put(out, wi, l, k, ks, 2, 1, gru, path, d) < 0 ||
        put(out, wh, l, r, rs, 2, 1, gru, path, d) < 0)
        return -1;
    if (!b)
        return put_zero(out, bi, l) < 0 || put_zero(out, bh, l) < 0 ? -1 : 0;
    if (gru && s->reset_after) {
        /* bias [2, 3H]: row 0 the input bias, row 1 the recurrent bias */
        int64_t bs[2] = { 2, bi->shape[0] };
        if (put(out, bi, l, b, bs, 2, 0, true, path, d) < 0 ||
            wf_set_how(out, out->tensors.n - 1, "row 0 (the input bias)") < 0)
            return -1;
        CkptTensor *c = ckpt_add_tensor(&out->tensors, bh->name, 1,
                                        (int64_t[]){ bh->shape[0], 0 }, b->data + bh->shape[0]);
        if (!c)
            return -1;
        keras_gru_swap(c->data, bh->shape[0], 1);
        return how(out, l, b->name, "row 1 (the recurrent bias)", true);
    }
    int64_t bs[1] = { bi->shape[0] };
    return put(out, bi, l, b, bs, 1, 0, gru, path, d) < 0 ||
           put_zero(out, bh, l) < 0 ? -1 : 0;
}

/* Converts one matched pair into recur tensors. */
static int convert_pair(WeightSet *out, const IrModel *ir, const KLayer *l,
                        const KSlot *s, const char *path, Diag *d)
{
    const IrLayer *L = &ir->layers[s->layer];
    if (l->kind == KK_EMBEDDING) {
        const IrTensor *t = &ir->tensors[L->tensor[IR_ROLE_WEIGHT]];
        const CkptTensor *w = need(l, -1, "embeddings", path, d);
        int64_t es[2] = { t->shape[0], t->shape[1] };
        return w ? put(out, t, l, w, es, 2, 0, false, path, d) : -1;
    }
    if (l->kind == KK_DENSE) {
        const IrTensor *t = &ir->tensors[L->tensor[IR_ROLE_WEIGHT]];
        const IrTensor *bt = &ir->tensors[L->tensor[IR_ROLE_BIAS]];
        const CkptTensor *w = need(l, -1, "kernel", path, d);
        const CkptTensor *b = l->use_bias ? need(l, -1, "bias", path, d) : NULL;
        int64_t ks[2] = { t->shape[1], t->shape[0] }, bs[1] = { bt->shape[0] };
        if (!w || (l->use_bias && !b) || put(out, t, l, w, ks, 2, 1, false, path, d) < 0)
            return -1;
        return b ? put(out, bt, l, b, bs, 1, 0, false, path, d)
                 : put_zero(out, bt, l);
    }
    for (int dir = 0; dir < (l->bidi ? 2 : 1); dir++)
        if (put_cell(out, ir, l, s, dir, path, d) < 0)
            return -1;
    return 0;
}

/* Every weight of l was read: a layer with more (a layer recur does not know, e.g. a
 * Keras 3 or CuDNN variant) is refused rather than half converted. */
static int check_consumed(const KLayer *l, const char *path, Diag *d)
{
    int ndir = l->bidi ? 2 : 1;
    int want = l->kind == KK_EMBEDDING ? 1 : l->kind == KK_DENSE ? 1 + l->use_bias
               : ndir * (2 + l->use_bias);
    if (l->h5->weights.n == want)
        return 0;
    DiagMessage *m = diag_error_in(d, path, "layer '%s' (%s) has %d weights, recur reads %d: "
                                   "the others would be ignored", l->h5->name,
                                   keras_kind_class[l->kind], l->h5->weights.n, want);
    diag_help(m, "its weights are %s%s", l->h5->weights.items[0].name,
              l->h5->weights.n > 1 ? ", ..." : "");
    return -1;
}

/* The no-model_config note: the recurrent activations come from the model file. */
static int note_no_config(WeightSet *out, const KSlot *s, int ns)
{
    for (int i = 0; i < ns; i++)
        if (keras_gates(s[i].kind) > 1)
            return wf_set_note(out, "the file has no model_config, so the recurrent "
                               "activations are the model file's (Keras before 2.3 defaulted "
                               "to hard_sigmoid: write recurrent_activation=hard_sigmoid if "
                               "the weights came from it)");
    return 0;
}

/* See keras.h. */
int keras_import(const Model *m, const WeightSet *in, WeightSet *out, Diag *d)
{
    const char *path = safetensors_meta_get(&in->meta, KERAS_META_FILE);
    path = path ? path : "the Keras file";
    KerasH5 k;
    if (keras_h5_from_set(in, path, &k, d) < 0)
        return -1;
    KLayer *kl = NULL;
    KSlot *s = NULL;
    json_object *config = NULL;
    int nk = 0, ns = 0, rc = classify(&k, path, &kl, &nk, &config, d);
    if (rc == 0 && keras_slots(m->ir, &s, &ns) < 0) {
        diag_error_in(d, path, "out of memory");
        rc = -1;
    }
    if (rc == 0)
        rc = match(m->ir, s, ns, kl, nk, path, d);
    for (int i = 0; rc == 0 && i < nk; i++)
        rc = check_pair(m->ir, &kl[i], &s[kl[i].slot], path, d);
    if (rc == 0 && !k.model_config)
        rc = note_no_config(out, s, ns);
    for (int i = 0; rc == 0 && i < nk; i++) {
        rc = convert_pair(out, m->ir, &kl[i], &s[kl[i].slot], path, d);
        if (rc == 0)
            rc = check_consumed(&kl[i], path, d);
    }
    if (rc < 0 && diag_error_count(d) == 0)
        diag_error_in(d, path, "out of memory");
    if (rc < 0)
        wf_set_free(out);
    json_object_put(config);
    keras_h5_free(&k);
    free(kl);
    free(s);
    return rc;
}
