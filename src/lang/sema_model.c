/* sema_model: the model block. Each statement becomes an IrLayer fed by the previous statement
 * (or from=LABEL); options are checked against the layer's option list, widths flow through
 * the model, recurrent layers get one IrCell per stacked layer and direction, and every trained
 * tensor is named as in PyTorch's state_dict (LANGUAGE.md sections 3 and 6). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "lang/sema_int.h"

/* The options of a built-in layer: one optional positional argument (also accepted by name)
 * and named options. `from` is accepted everywhere except concat/add. */
typedef struct LayerSpec {
    const char *name;
    IrLayerKind kind;
    const char *pos;            /* name of the positional argument, or NULL */
    const char *opts[5];
} LayerSpec;

static const LayerSpec layer_specs[] = {
    { "embedding", IR_LAYER_EMBEDDING, "dim", { 0 } },
    { "onehot", IR_LAYER_ONEHOT, NULL, { 0 } },
    { "rnn", IR_LAYER_RECURRENT, "hidden", { "layers", "dropout", "bidirectional", "activation" } },
    { "lstm", IR_LAYER_RECURRENT, "hidden", { "layers", "dropout", "bidirectional" } },
    { "gru", IR_LAYER_RECURRENT, "hidden", { "layers", "dropout", "bidirectional" } },
    { "dense", IR_LAYER_DENSE, "units", { "activation" } },
    { "dropout", IR_LAYER_DROPOUT, "p", { 0 } },
    { "layernorm", IR_LAYER_LAYERNORM, NULL, { 0 } },
    { "pool", IR_LAYER_POOL, "mode", { 0 } },
    { "concat", IR_LAYER_CONCAT, NULL, { 0 } },
    { "add", IR_LAYER_ADD, NULL, { 0 } },
    { "softmax", IR_LAYER_SOFTMAX, NULL, { 0 } },
};
enum { NSPECS = sizeof layer_specs / sizeof *layer_specs };

/* Labels inside `repeat` get a suffix per iteration ("_1", "_2"; nested: "_1_2"). */
typedef struct Scope {
    char suffix[64];
    const struct Scope *up;
} Scope;

/* The arguments of one layer call, split into positional values and named ones. */
typedef struct Args {
    const AstNode *pos[16];
    int npos;
    const AstNode *named[16];   /* AST_NAMED_ARG */
    int nnamed;
} Args;

enum { POISON = -1 };   /* width of a layer that failed: later checks on it are skipped */

static IrLayer *L(Sema *s, int i) { return &s->m->layers[i]; }

/* "embedding1 at 9:3" -- where a layer's output comes from, for messages. */
static const char *layer_desc(Sema *s, int i)
{
    char pos[32];
    return sema_fmt(s, "%s at %s", L(s, i)->label, diag_pos(L(s, i)->loc, pos, sizeof pos));
}

static int resolve_label1(Sema *s, const AstNode *id, const Scope *sc);

/* Finds a layer by its full label; -1 when absent. */
static int find_label(Sema *s, const char *label)
{
    for (int i = 0; i < s->m->nlayers; i++)
        if (strcmp(s->m->layers[i].label, label) == 0)
            return i;
    return -1;
}

/* A label as written, looked up from the innermost repeat scope outwards, for layer self
 * (which cannot read itself). */
static int resolve_label(Sema *s, const AstNode *id, const Scope *sc, int self)
{
    int k = resolve_label1(s, id, sc);
    if (k >= 0 && k == self) {
        diag_error(s->d, id->loc, "%s cannot read its own output", L(s, k)->label);
        return -1;
    }
    return k;
}

/* resolve_label without the self check. */
static int resolve_label1(Sema *s, const AstNode *id, const Scope *sc)
{
    char buf[256];
    for (; sc; sc = sc->up) {
        snprintf(buf, sizeof buf, "%s%s", id->name, sc->suffix);
        int k = find_label(s, buf);
        if (k >= 0)
            return k;
    }
    int k = find_label(s, id->name);
    if (k >= 0)
        return k;
    const char *cand[512];
    int n = 0;
    for (int i = 0; i < s->m->nlayers && n < 512; i++)
        cand[n++] = s->m->layers[i].label;
    const char *sug = sema_suggest(id->name, cand, n);
    if (sug)
        diag_error(s->d, id->loc, "unknown label '%s'; did you mean '%s'?", id->name, sug);
    else
        diag_error(s->d, id->loc, "unknown label '%s'", id->name);
    return -1;
}

/* The next automatic name <kind><n> not yet taken. */
static const char *auto_label(Sema *s, const char *kind)
{
    int k = 0;
    while (k < s->nkinds && strcmp(s->kind_names[k], kind) != 0)
        k++;
    if (k == s->nkinds) {
        if (s->nkinds == s->kinds_cap) {
            int cap = s->kinds_cap ? 2 * s->kinds_cap : 16;
            const char **nn = arena_alloc(&s->tmp, sizeof *nn * (size_t)cap);
            int *nc = arena_alloc(&s->tmp, sizeof *nc * (size_t)cap);
            if (!nn || !nc) {
                sema_oom(s);
                return NULL;
            }
            if (s->nkinds) {
                memcpy(nn, s->kind_names, sizeof *nn * (size_t)s->nkinds);
                memcpy(nc, s->kind_counts, sizeof *nc * (size_t)s->nkinds);
            }
            s->kind_names = nn;
            s->kind_counts = nc;
            s->kinds_cap = cap;
        }
        s->kind_names[k] = kind;
        s->kind_counts[k] = 0;
        s->nkinds++;
    }
    char buf[256];
    do
        snprintf(buf, sizeof buf, "%s%d", kind, ++s->kind_counts[k]);
    while (find_label(s, buf) >= 0);
    return sema_strdup(s, buf);
}

/* Appends a layer named by its label (with the repeat suffix) or automatically after kind. */
static int new_layer(Sema *s, IrLayerKind kind, const char *autokind, const AstNode *st,
                     const Scope *sc)
{
    char pos[32];
    if (s->m->nlayers >= SEMA_MAX_LAYERS) {
        diag_error(s->d, st->loc, "the model has more than %d layers", SEMA_MAX_LAYERS);
        return -1;
    }
    const char *label = NULL;
    if (st->kind == AST_LAYER && st->name && strlen(st->name) > SEMA_MAX_NAME) {
        diag_error(s->d, st->name_loc, "the label is too long (the limit is %d characters)",
                   SEMA_MAX_NAME);
        return -1;
    }
    if (st->kind == AST_LAYER && st->name) {
        label = sema_fmt(s, "%s%s", st->name, sc ? sc->suffix : "");
        int old = label ? find_label(s, label) : -1;
        if (old >= 0) {
            /* reported; the layer goes on under an automatic name so later errors show */
            diag_error(s->d, st->name_loc, "label '%s' is already used at %s", label,
                       diag_pos(L(s, old)->loc, pos, sizeof pos));
            label = NULL;
        }
    }
    if (!label)
        label = auto_label(s, autokind);
    IrLayer *a = sema_grow(s, s->m->layers, s->m->nlayers, &s->layers_cap, sizeof *a);
    if (!a || !label)
        return -1;
    s->m->layers = a;
    IrLayer *l = &a[s->m->nlayers];
    memset(l, 0, sizeof *l);
    l->kind = kind;
    l->label = label;
    l->loc = st->loc;
    l->first_tensor = s->m->ntensors;
    l->num_layers = 1;
    l->sequence = true;
    return s->m->nlayers++;
}

/* Sets the inputs of layer k. */
static int set_inputs(Sema *s, int k, const int *in, int n)
{
    int *p = arena_alloc(&s->m->arena, sizeof *p * (size_t)(n ? n : 1));
    if (!p) {
        sema_oom(s);
        return -1;
    }
    memcpy(p, in, sizeof *p * (size_t)n);
    L(s, k)->inputs = p;
    L(s, k)->ninputs = n;
    return 0;
}

/* Appends a trained tensor of layer k: [rows, cols], or [cols] when rows == 0. */
static int add_tensor(Sema *s, int k, const char *name, int rows, int cols, IrInit init)
{
    IrTensor *a = sema_grow(s, s->m->tensors, s->m->ntensors, &s->tensors_cap, sizeof *a);
    if (!a || !name)
        return -1;
    s->m->tensors = a;
    IrTensor *t = &a[s->m->ntensors];
    memset(t, 0, sizeof *t);
    t->name = name;
    t->ndim = rows ? 2 : 1;
    t->shape[0] = rows ? rows : cols;
    t->shape[1] = rows ? cols : 0;
    t->size = (int64_t)(rows ? rows : 1) * cols;
    t->init = init;
    t->layer = k;
    s->m->nparams += t->size;
    L(s, k)->ntensors++;
    return s->m->ntensors++;
}

/* Splits a call's arguments and checks named ones against the valid options. */
static int split_args(Sema *s, const AstNode *call, const char *kind, const char *const *valid,
                      int nvalid, int maxpos, Args *a)
{
    int rc = 0;
    memset(a, 0, sizeof *a);
    for (int i = 0; i < call->list.n; i++) {
        const AstNode *arg = call->list.items[i];
        if (arg->kind != AST_NAMED_ARG) {
            if (a->npos == maxpos || a->npos == 16) {
                if (maxpos == 0)
                    diag_error(s->d, arg->loc, "%s takes no positional argument", kind);
                else
                    diag_error(s->d, arg->loc, "%s takes %d positional argument%s", kind, maxpos,
                               maxpos == 1 ? "" : "s");
                rc = -1;
            } else {
                a->pos[a->npos++] = arg;
            }
            continue;
        }
        int ok = 0;
        for (int k = 0; k < nvalid; k++)
            ok = ok || strcmp(valid[k], arg->name) == 0;
        if (!ok) {
            char list[300];
            const char *sug = sema_suggest(arg->name, valid, nvalid);
            SrcRange at = arg->name_loc.src ? arg->name_loc : arg->loc;
            DiagMessage *m = sug ? diag_error(s->d, at, "%s has no option '%s'; did you mean "
                                              "'%s'?", kind, arg->name, sug)
                                 : diag_error(s->d, at, "%s has no option '%s'", kind,
                                              arg->name);
            if (nvalid)
                diag_help(m, "valid options of %s are %s", kind,
                          sema_join(valid, nvalid, list, sizeof list));
            else
                diag_help(m, "%s takes no options", kind);
            rc = -1;
            continue;
        }
        for (int k = 0; k < a->nnamed; k++)
            if (strcmp(a->named[k]->name, arg->name) == 0) {
                diag_error(s->d, arg->loc, "option '%s' is given twice", arg->name);
                rc = -1;
            }
        if (a->nnamed < 16)
            a->named[a->nnamed++] = arg;
    }
    return rc;
}

/* The value of option `name` (or of positional argument index pos when >= 0), or NULL. */
static const AstNode *arg_value(const Args *a, int pos, const char *name)
{
    for (int k = 0; k < a->nnamed; k++)
        if (strcmp(a->named[k]->name, name) == 0)
            return a->named[k]->a;
    return pos >= 0 && pos < a->npos ? a->pos[pos] : NULL;
}

/* true/false. */
static int get_bool(Sema *s, const AstNode *v, const char *what, bool *out)
{
    if (v->kind == AST_IDENT && (!strcmp(v->name, "true") || !strcmp(v->name, "false"))) {
        *out = v->name[0] == 't';
        return 0;
    }
    diag_error(s->d, v->loc, "%s must be true or false", what);
    return -1;
}

/* One word of a fixed list (activation=relu, pool(mean)); index into words. */
static int get_word(Sema *s, const AstNode *v, const char *what, const char *const *words,
                    int n, int *out)
{
    char list[200];
    if (v->kind == AST_IDENT)
        for (int i = 0; i < n; i++)
            if (strcmp(words[i], v->name) == 0) {
                *out = i;
                return 0;
            }
    const char *sug = v->kind == AST_IDENT ? sema_suggest(v->name, words, n) : NULL;
    DiagMessage *m = sug ? diag_error(s->d, v->loc, "unknown %s '%s'; did you mean '%s'?", what,
                                      v->name, sug)
                         : diag_error(s->d, v->loc, "%s must be one of %s", what,
                                      sema_join(words, n, list, sizeof list));
    if (sug)
        diag_help(m, "valid values are %s", sema_join(words, n, list, sizeof list));
    return -1;
}

/* dropout-like probabilities: a number in [0, 1). */
static int get_prob(Sema *s, const AstNode *v, const char *what, double *out)
{
    if (sema_eval(s, v, NULL, out) < 0)
        return -1;
    if (!(*out >= 0 && *out < 1)) {
        diag_error(s->d, v->loc, "%s must be in [0, 1), got %g", what, *out);
        return -1;
    }
    return 0;
}

/* Refuses token ids where vectors are needed (help: add embedding or onehot). */
static int need_vectors(Sema *s, int k, int in, bool need_seq)
{
    if (L(s, in)->width == POISON)
        return -1;
    if (L(s, in)->tokens) {
        DiagMessage *m = diag_error(s->d, L(s, k)->loc, "%s needs vectors, but %s gives token "
                                    "ids", L(s, k)->label, L(s, in)->label);
        diag_help(m, "add `embedding(N)` or `onehot` before it");
        return -1;
    }
    if (need_seq && !L(s, in)->sequence) {
        DiagMessage *m = diag_error(s->d, L(s, k)->loc, "%s needs a sequence, but %s gives "
                                    "one vector per sequence", L(s, k)->label, L(s, in)->label);
        diag_help(m, "put it before the pool layer");
        return -1;
    }
    return 0;
}

/* input tokens(vocab=N|auto) | input vector(N) */
static int input_stmt(Sema *s, const AstNode *st)
{
    static const char *const kinds[] = { "tokens", "vector" };
    const AstNode *call = st->a;
    int which = -1;
    for (int i = 0; i < 2; i++)
        if (call && call->kind == AST_CALL && strcmp(call->name, kinds[i]) == 0)
            which = i;
    int k = new_layer(s, which == 1 ? IR_LAYER_INPUT_VECTOR : IR_LAYER_INPUT_TOKENS, "input",
                      st, NULL);
    if (k < 0)
        return -1;
    L(s, k)->label = "input";
    L(s, k)->width = POISON;
    if (which < 0) {
        const char *sug = call && call->kind == AST_CALL ? sema_suggest(call->name, kinds, 2)
                                                         : NULL;
        DiagMessage *m = sug ? diag_error(s->d, call->name_loc, "unknown input '%s'; did you "
                                          "mean '%s'?", call->name, sug)
                             : diag_error(s->d, call ? call->loc : st->loc, "unknown input");
        diag_help(m, "inputs are tokens(vocab=N|auto) and vector(N)");
        return k;
    }
    static const char *const vo[] = { "vocab" }, *const wo[] = { "size" };
    Args a;
    if (split_args(s, call, kinds[which], which ? wo : vo, 1, 1, &a) < 0)
        return k;
    const AstNode *v = arg_value(&a, 0, which ? "size" : "vocab");
    int n;
    if (which == 1) {
        if (!v) {
            diag_error(s->d, call->loc, "vector needs its width: vector(N)");
            return k;
        }
        if (sema_eval_size(s, v, NULL, "the input width", false, &n) < 0)
            return k;
        L(s, k)->size = L(s, k)->width = n;
        return k;
    }
    double dv;
    if (s->vocab_bound || !v || (v->kind == AST_IDENT && strcmp(v->name, "auto") == 0)) {
        if (sema_auto_size(s, false, call->loc, &dv) < 0)
            return k;
    } else {
        return k;   /* the vocab expression was rejected by sema_bind_input_vocab */
    }
    L(s, k)->tokens = true;
    L(s, k)->width = 1;
    L(s, k)->vocab = (int)dv;
    return k;
}

/* Binds vocab from `input tokens(vocab=EXPR)` before the layers are analysed (consts and
 * sizes anywhere in the model may use vocab). */
void sema_bind_input_vocab(Sema *s, const AstNode *model)
{
    if (!model->list.n)
        return;
    const AstNode *st = model->list.items[0];
    if (st->kind != AST_MODEL_INPUT || !st->a || st->a->kind != AST_CALL ||
        strcmp(st->a->name, "tokens") != 0)
        return;
    const AstNode *v = NULL;
    for (int i = 0; i < st->a->list.n; i++) {
        const AstNode *arg = st->a->list.items[i];
        if (arg->kind != AST_NAMED_ARG && !v && i == 0)
            v = arg;
        else if (arg->kind == AST_NAMED_ARG && strcmp(arg->name, "vocab") == 0)
            v = arg->a;
    }
    if (!v || (v->kind == AST_IDENT && strcmp(v->name, "auto") == 0))
        return;
    if (v->kind == AST_IDENT && strcmp(v->name, "vocab") == 0) {
        diag_error(s->d, v->loc, "vocab cannot be defined in terms of itself");
        return;
    }
    int n;
    if (sema_eval_size(s, v, NULL, "vocab", false, &n) == 0) {
        s->vocab_bound = true;
        s->vocab = n;
    }
}

/* The layer an ordinary statement reads: from=LABEL or the previous statement. */
static int layer_input(Sema *s, const Args *a, int prev, const Scope *sc, int self)
{
    const AstNode *f = arg_value(a, -1, "from");
    if (!f)
        return prev;
    if (f->kind != AST_IDENT) {
        diag_error(s->d, f->loc, "from= needs a layer label");
        return -1;
    }
    return resolve_label(s, f, sc, self);
}

/* Recurrent layers: rnn/lstm/gru (prelude cells, PyTorch names) or a user cell. */
static void recurrent(Sema *s, int k, const AstNode *call, SemaCellDef *def, const Args *a,
                      int in, bool builtin)
{
    IrLayer *l = L(s, k);
    int layers = 1, ndir = 1;
    double p = 0;
    bool bidi = false, rev = false;
    SemaEnv env = { .n = 0 };
    bool ok = true;
    const AstNode *v;
    const char *kind = call->name;
    if (builtin) {
        int h;
        v = arg_value(a, 0, "hidden");
        if (!v) {
            diag_error(s->d, call->loc, "%s needs its hidden size: %s(H)", kind, kind);
            ok = false;
        } else if (sema_eval_size(s, v, NULL, "the hidden size", false, &h) < 0) {
            ok = false;
        } else {
            env.b[0].name = def->def->params.n ? def->def->params.items[0]->name : "H";
            env.b[0].value = h;
            env.n = 1;
        }
        if ((v = arg_value(a, -1, "layers")) && sema_eval_size(s, v, NULL, "layers", false,
                                                               &layers) < 0)
            ok = false;
        if (layers > SEMA_MAX_REPEAT) {
            diag_error(s->d, v->loc, "layers is too large: %d (the limit is %d)", layers,
                       SEMA_MAX_REPEAT);
            ok = false;
        }
        if ((v = arg_value(a, -1, "dropout")) && get_prob(s, v, "dropout", &p) < 0)
            ok = false;
        if (v && ok && p > 0 && layers == 1) {
            DiagMessage *m = diag_warning(s->d, v->loc, "dropout=%g has no effect with layers=1",
                                          p);
            diag_help(m, "it applies between stacked layers; add a dropout(p) layer instead");
        }
        int act = 0;
        static const char *const acts[] = { "tanh", "relu" };
        if ((v = arg_value(a, -1, "activation")) &&
            get_word(s, v, "activation", acts, 2, &act) < 0)
            ok = false;
        if (act == 1)
            def = sema_find_cell(s, "rnn_relu");
        if (!def) {
            diag_error(s->d, call->loc, "the prelude has no cell for %s", kind);
            return;
        }
        l->builtin = strcmp(kind, "lstm") == 0 ? IR_CELL_LSTM : strcmp(kind, "gru") == 0
                     ? IR_CELL_GRU : act ? IR_CELL_RNN_RELU : IR_CELL_RNN_TANH;
    } else {
        /* the cell's size parameters, positionally or by name, with defaults */
        const AstList *ps = &def->def->params;
        for (int i = 0; i < ps->n && env.n < SEMA_MAX_ENV; i++) {
            const AstNode *pn = ps->items[i];
            v = arg_value(a, i, pn->name);
            if (!v && pn->kind == AST_NAMED_ARG)
                v = pn->a;
            if (!v) {
                diag_error(s->d, call->loc, "%s needs its size '%s'", kind, pn->name);
                ok = false;
                continue;
            }
            char what[96];
            int n;
            snprintf(what, sizeof what, "size '%s' of %s", pn->name, kind);
            if (sema_eval_size(s, v, &env, what, false, &n) < 0) {
                ok = false;
                continue;
            }
            env.b[env.n].name = pn->name;
            env.b[env.n++].value = n;
        }
        if (a->npos > ps->n) {
            diag_error(s->d, a->pos[ps->n]->loc, "%s takes %d size%s", kind, ps->n,
                       ps->n == 1 ? "" : "s");
            ok = false;
        }
        if ((v = arg_value(a, -1, "reverse")) && get_bool(s, v, "reverse", &rev) < 0)
            ok = false;
    }
    if ((v = arg_value(a, -1, "bidirectional")) && get_bool(s, v, "bidirectional", &bidi) < 0)
        ok = false;
    if (bidi && rev) {
        diag_error(s->d, call->loc, "reverse=true and bidirectional=true cannot be combined");
        ok = false;
    }
    if (need_vectors(s, k, in, true) < 0 || !ok)
        return;
    ndir = bidi ? 2 : 1;
    s->ncell_instances += layers * ndir;
    if (s->ncell_instances > SEMA_MAX_CELLS) {
        diag_error(s->d, call->loc, "the model has more than %d recurrent cells",
                   SEMA_MAX_CELLS);
        return;
    }
    l = L(s, k);
    l->num_layers = layers;
    l->bidirectional = bidi;
    l->p = p;
    l->ncells = layers * ndir;
    l->cells = arena_alloc(&s->m->arena, sizeof *l->cells * (size_t)l->ncells);
    if (!l->cells) {
        sema_oom(s);
        return;
    }
    const char *from = layer_desc(s, in);
    int in_width = L(s, in)->width, out_width = 0;
    for (int li = 0; li < layers; li++) {
        for (int dir = 0; dir < ndir; dir++) {
            IrCell *c = &L(s, k)->cells[li * ndir + dir];
            if (sema_cell_instance(s, def, &env, in_width, from, L(s, k)->loc, c) < 0)
                return;
            c->reverse = dir == 1 || rev;
            out_width = c->nodes[c->output].width;
            for (int pi = 0; pi < c->nparams; pi++) {
                IrParam *pp = &c->params[pi];
                const char *name = builtin
                    ? sema_fmt(s, "%s.%s_l%d%s", L(s, k)->label, pp->name, li,
                               dir ? "_reverse" : "")
                    : sema_fmt(s, "%s.%s%s", L(s, k)->label, pp->name, dir ? "_reverse" : "");
                pp->tensor = add_tensor(s, k, name, pp->rows, pp->cols, pp->init);
                if (pp->tensor < 0)
                    return;
            }
        }
        in_width = out_width * ndir;
        from = sema_fmt(s, "%s layer %d", L(s, k)->label, li);
    }
    L(s, k)->width = out_width * ndir;
    L(s, k)->size = out_width;
}

/* concat(a, b, ...) / add(a, b, ...): joins labelled outputs. */
static void join(Sema *s, int k, const AstNode *call, const Scope *sc)
{
    int in[64], n = 0, width = 0;
    bool is_add = L(s, k)->kind == IR_LAYER_ADD;
    for (int i = 0; i < call->list.n; i++) {
        const AstNode *arg = call->list.items[i];
        if (arg->kind != AST_IDENT) {
            diag_error(s->d, arg->loc, "%s takes layer labels, e.g. %s(a, b)", call->name,
                       call->name);
            return;
        }
        if (n == 64) {
            diag_error(s->d, arg->loc, "too many inputs (the limit is 64)");
            return;
        }
        int j = resolve_label(s, arg, sc, k);
        if (j < 0)
            return;
        if (need_vectors(s, k, j, false) < 0)
            return;
        in[n++] = j;
    }
    if (n < 2) {
        diag_error(s->d, call->loc, "%s needs at least two labels, e.g. %s(a, b)", call->name,
                   call->name);
        return;
    }
    for (int i = 0; i < n; i++) {
        IrLayer *x = L(s, in[i]), *y = L(s, in[0]);
        if (x->sequence != y->sequence) {
            diag_error(s->d, call->list.items[i]->loc, "%s gives one vector per sequence but %s "
                       "gives a sequence; %s needs the same kind", x->sequence ? y->label
                       : x->label, x->sequence ? x->label : y->label, call->name);
            return;
        }
        if (is_add && x->width != y->width) {
            diag_error(s->d, call->list.items[i]->loc, "add needs equal widths: %s is [%d] but "
                       "%s is [%d]", y->label, y->width, x->label, x->width);
            return;
        }
        if (!is_add && (int64_t)width + x->width > SEMA_MAX_SIZE) {
            diag_error(s->d, call->loc, "the concatenation is too wide (the limit is %d)",
                       SEMA_MAX_SIZE);
            return;
        }
        width = is_add ? x->width : width + x->width;
    }
    set_inputs(s, k, in, n);
    L(s, k)->width = width;
    L(s, k)->sequence = L(s, in[0])->sequence;
}

static int stmt_list(Sema *s, const AstList *list, int first, int prev, const Scope *sc);

/* [label:] layer(args) -- one statement of the model. Returns the new layer or -1. */
static int layer_stmt(Sema *s, const AstNode *st, int prev, const Scope *sc)
{
    const AstNode *call = st->a;
    if (!call || call->kind != AST_CALL)
        return -1;
    const LayerSpec *spec = NULL;
    for (int i = 0; i < NSPECS; i++)
        if (strcmp(layer_specs[i].name, call->name) == 0)
            spec = &layer_specs[i];
    bool builtin_rec = spec && spec->kind == IR_LAYER_RECURRENT;
    SemaCellDef *def = builtin_rec ? sema_find_cell(s, call->name) : NULL;
    if (!spec) {
        def = sema_find_cell(s, call->name);
        if (!def || !strcmp(call->name, "rnn_relu")) {
            const char *cand[NSPECS + 256];
            char list[400];
            int n = 0;
            for (int i = 0; i < NSPECS; i++)
                cand[n++] = layer_specs[i].name;
            for (int i = 0; i < s->ncells && n < NSPECS + 256; i++)
                if (!s->cells[i].prelude)
                    cand[n++] = s->cells[i].name;
            const char *sug = sema_suggest(call->name, cand, n);
            DiagMessage *m = sug ? diag_error(s->d, call->name_loc, "unknown layer '%s'; did "
                                              "you mean '%s'?", call->name, sug)
                                 : diag_error(s->d, call->name_loc, "unknown layer '%s'",
                                              call->name);
            diag_help(m, "valid layers are %s", sema_join(cand, n, list, sizeof list));
            int k = new_layer(s, IR_LAYER_DENSE, call->name, st, sc);
            if (k >= 0)
                L(s, k)->width = POISON;
            return k;
        }
    }
    /* option list: positional name(s), named options, from= */
    const char *valid[SEMA_MAX_ENV + 8];
    int nvalid = 0, maxpos = 0;
    if (spec) {
        if (spec->pos)
            valid[nvalid++] = spec->pos, maxpos = 1;
        for (int i = 0; i < 5 && spec->opts[i]; i++)
            valid[nvalid++] = spec->opts[i];
        if (spec->kind == IR_LAYER_CONCAT || spec->kind == IR_LAYER_ADD)
            maxpos = 64;
    } else {
        for (int i = 0; i < def->def->params.n && i < SEMA_MAX_ENV; i++)
            valid[nvalid++] = def->def->params.items[i]->name;
        maxpos = nvalid;
        valid[nvalid++] = "bidirectional";
        valid[nvalid++] = "reverse";
    }
    bool joins = spec && (spec->kind == IR_LAYER_CONCAT || spec->kind == IR_LAYER_ADD);
    if (!joins)
        valid[nvalid++] = "from";
    int k = new_layer(s, spec ? spec->kind : IR_LAYER_RECURRENT, call->name, st, sc);
    if (k < 0)
        return -1;
    L(s, k)->width = POISON;
    Args a;
    if (split_args(s, call, call->name, valid, nvalid, maxpos, &a) < 0)
        return k;
    if (joins) {
        join(s, k, call, sc);
        return k;
    }
    /* a bad from= leaves the input unknown (this layer, poisoned): options are still checked */
    int in = layer_input(s, &a, prev, sc, k);
    if (in < 0)
        in = k;
    if (set_inputs(s, k, &in, 1) < 0)
        return k;
    if (!spec || builtin_rec) {
        recurrent(s, k, call, def, &a, in, builtin_rec);
        return k;
    }
    const AstNode *v = spec->pos ? arg_value(&a, 0, spec->pos) : NULL;
    if (spec->pos && !v) {
        diag_error(s->d, call->loc, "%s needs its %s: %s(%s)", spec->name,
                   spec->kind == IR_LAYER_POOL ? "mode" : "size", spec->name,
                   spec->kind == IR_LAYER_POOL ? "last|mean|max" : spec->kind ==
                   IR_LAYER_DROPOUT ? "p" : "N");
        return k;
    }
    IrLayer *x = L(s, in);
    int n, w = x->width, vocab = x->vocab;
    bool seq = x->sequence;
    double p;
    IrInit init = { IR_INIT_CONST, 0, 0 };
    switch (spec->kind) {
    case IR_LAYER_EMBEDDING:
    case IR_LAYER_ONEHOT:
        if (spec->kind == IR_LAYER_EMBEDDING &&
            sema_eval_size(s, v, NULL, "the embedding size", false, &n) < 0)
            return k;
        if (x->width == POISON)
            return k;
        if (!x->tokens) {
            DiagMessage *m = diag_error(s->d, L(s, k)->loc, "%s needs token ids, but %s gives "
                                        "vectors", spec->name, x->label);
            diag_help(m, "use it right after `input tokens(vocab=...)`");
            return k;
        }
        if (spec->kind == IR_LAYER_ONEHOT) {
            L(s, k)->vocab = L(s, k)->width = vocab;
            break;
        }
        L(s, k)->vocab = vocab;
        L(s, k)->size = L(s, k)->width = n;
        init.kind = IR_INIT_NORMAL;     /* nn.Embedding: N(0, 1) */
        init.a = 1;
        add_tensor(s, k, sema_fmt(s, "%s.weight", L(s, k)->label), vocab, n, init);
        break;
    case IR_LAYER_DENSE: {
        static const char *const acts[] = { "none", "tanh", "relu", "sigmoid" };
        int act = 0;
        const AstNode *av = arg_value(&a, -1, "activation");
        if (sema_eval_size(s, v, NULL, "the size of dense", false, &n) < 0 ||
            (av && get_word(s, av, "activation", acts, 4, &act) < 0) ||
            need_vectors(s, k, in, false) < 0)
            return k;
        L(s, k)->act = (IrActivation)act;
        L(s, k)->size = L(s, k)->width = n;
        /* nn.Linear: weight and bias uniform(-1/sqrt(in), 1/sqrt(in)) */
        init.kind = IR_INIT_UNIFORM;
        init.a = -1 / sqrt((double)w);
        init.b = 1 / sqrt((double)w);
        add_tensor(s, k, sema_fmt(s, "%s.weight", L(s, k)->label), n, w, init);
        add_tensor(s, k, sema_fmt(s, "%s.bias", L(s, k)->label), 0, n, init);
        break;
    }
    case IR_LAYER_DROPOUT:
        if (get_prob(s, v, "dropout", &p) < 0 || need_vectors(s, k, in, false) < 0)
            return k;
        L(s, k)->p = p;
        L(s, k)->width = w;
        break;
    case IR_LAYER_LAYERNORM:
        if (need_vectors(s, k, in, false) < 0)
            return k;
        L(s, k)->width = w;
        init.a = 1;
        add_tensor(s, k, sema_fmt(s, "%s.weight", L(s, k)->label), 0, w, init);
        init.a = 0;
        add_tensor(s, k, sema_fmt(s, "%s.bias", L(s, k)->label), 0, w, init);
        break;
    case IR_LAYER_POOL: {
        static const char *const modes[] = { "last", "mean", "max" };
        int mode;
        if (get_word(s, v, "pool mode", modes, 3, &mode) < 0 || need_vectors(s, k, in, true) < 0)
            return k;
        L(s, k)->pool = (IrPool)mode;
        L(s, k)->width = w;
        seq = false;
        break;
    }
    case IR_LAYER_SOFTMAX:
        if (need_vectors(s, k, in, false) < 0)
            return k;
        L(s, k)->width = w;
        break;
    default:
        break;
    }
    L(s, k)->sequence = seq;
    return k;
}

/* repeat N { ... }: N copies with independent weights; labels inside get _1, _2, ... */
static int repeat_stmt(Sema *s, const AstNode *st, int prev, const Scope *sc)
{
    int n;
    if (sema_eval_size(s, st->a, NULL, "the repeat count", false, &n) < 0)
        return prev;
    if (n > SEMA_MAX_REPEAT) {
        diag_error(s->d, st->a->loc, "the repeat count is too large: %d (the limit is %d)", n,
                   SEMA_MAX_REPEAT);
        return prev;
    }
    for (int i = 1; i <= n; i++) {
        Scope inner = { .up = sc };
        if (snprintf(inner.suffix, sizeof inner.suffix, "%s_%d", sc ? sc->suffix : "", i) >=
            (int)sizeof inner.suffix) {
            diag_error(s->d, st->loc, "repeat blocks are nested too deeply");
            return -1;
        }
        prev = stmt_list(s, &st->list, 0, prev, &inner);
        if (prev < 0 || L(s, prev)->width == POISON)
            return prev;
    }
    return prev;
}

/* residual { ... }: out = group(x) + x; the group must keep the width. */
static int residual_stmt(Sema *s, const AstNode *st, int prev, const Scope *sc)
{
    if (!st->list.n) {
        diag_error(s->d, st->loc, "an empty residual block");
        return prev;
    }
    int out = stmt_list(s, &st->list, 0, prev, sc);
    if (out < 0)
        return -1;
    int k = new_layer(s, IR_LAYER_ADD, "residual", st, sc);
    if (k < 0)
        return -1;
    L(s, k)->width = POISON;
    if (L(s, out)->width == POISON || L(s, prev)->width == POISON)
        return k;
    IrLayer *x = L(s, prev), *y = L(s, out);
    if (x->tokens || x->width != y->width || x->sequence != y->sequence) {
        DiagMessage *m = diag_error(s->d, st->loc, "residual: the group's output is [%d]%s but "
                                    "its input is %s[%d]%s; widths must match", y->width,
                                    y->sequence ? "" : " per sequence",
                                    x->tokens ? "token ids " : "", x->width,
                                    x->sequence ? "" : " per sequence");
        diag_help(m, "the input comes from %s; the output from %s", x->label, y->label);
        return k;
    }
    int in[2] = { prev, out };
    set_inputs(s, k, in, 2);
    L(s, k)->width = x->width;
    L(s, k)->sequence = x->sequence;
    return k;
}

/* A list of model statements from index `first`, chained through prev. */
static int stmt_list(Sema *s, const AstList *list, int first, int prev, const Scope *sc)
{
    for (int i = first; i < list->n; i++) {
        const AstNode *st = list->items[i];
        int k = prev;
        switch (st->kind) {
        case AST_LAYER: k = layer_stmt(s, st, prev, sc); break;
        case AST_REPEAT: k = repeat_stmt(s, st, prev, sc); break;
        case AST_RESIDUAL: k = residual_stmt(s, st, prev, sc); break;
        case AST_MODEL_INPUT:
            diag_error(s->d, st->loc, "the input must be the first statement of the model");
            break;
        default:
            break;
        }
        if (k < 0)
            return -1;
        prev = k;
    }
    return prev;
}

/* model NAME { input ...; layers... } */
int sema_model(Sema *s, const AstNode *model)
{
    const AstList *list = &model->list;
    int prev;
    if (!list->n || list->items[0]->kind != AST_MODEL_INPUT) {
        DiagMessage *m = diag_error(s->d, list->n ? list->items[0]->loc : model->loc,
                                    "the model must start with its input");
        diag_help(m, "start with `input tokens(vocab=auto)` or `input vector(N)`");
        return -1;
    }
    prev = input_stmt(s, list->items[0]);
    if (prev < 0)
        return -1;
    prev = stmt_list(s, list, 1, prev, NULL);
    if (prev < 0)
        return -1;
    s->m->output = prev;
    return 0;
}
