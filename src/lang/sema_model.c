/* sema_model: the model block. Each statement becomes an IrLayer fed by the previous statement
 * (or from=LABEL); options are checked against the layer's option list, widths flow through
 * the model, recurrent layers get one IrCell per stacked layer and direction, and every trained
 * tensor is named as in PyTorch's state_dict (LANGUAGE.md sections 3 and 6).
 *
 * The pass is split in three: this file (the statements: input, layers, repeat, residual,
 * concat/add), sema_model_layer.c (labels, new layers, tensors, call arguments) and
 * sema_model_rnn.c (recurrent layers and their cells); sema_model_int.h holds what they share. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "lang/sema_model_int.h"

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
/* input tokens(vocab=N|auto) | input vector(N) */
static int input_stmt(Sema *s, const AstNode *st)
{
    static const char *const kinds[] = { "tokens", "vector" };
    const AstNode *call = st->a;
    int which = -1;
    for (int i = 0; i < 2; i++)
        if (call && call->kind == AST_CALL && strcmp(call->name, kinds[i]) == 0)
            which = i;
    int k = sema_new_layer(s, which == 1 ? IR_LAYER_INPUT_VECTOR : IR_LAYER_INPUT_TOKENS, "input",
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
    if (sema_split_args(s, call, kinds[which], which ? wo : vo, 1, 1, &a) < 0)
        return k;
    const AstNode *v = sema_arg(&a, 0, which ? "size" : "vocab");
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
    const AstNode *f = sema_arg(a, -1, "from");
    if (!f)
        return prev;
    if (f->kind != AST_IDENT) {
        diag_error(s->d, f->loc, "from= needs a layer label");
        return -1;
    }
    return sema_resolve_label(s, f, sc, self);
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
        int j = sema_resolve_label(s, arg, sc, k);
        if (j < 0)
            return;
        if (sema_need_vectors(s, k, j, false) < 0)
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
    sema_set_inputs(s, k, in, n);
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
            int k = sema_new_layer(s, IR_LAYER_DENSE, call->name, st, sc);
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
    int k = sema_new_layer(s, spec ? spec->kind : IR_LAYER_RECURRENT, call->name, st, sc);
    if (k < 0)
        return -1;
    L(s, k)->width = POISON;
    Args a;
    if (sema_split_args(s, call, call->name, valid, nvalid, maxpos, &a) < 0)
        return k;
    if (joins) {
        join(s, k, call, sc);
        return k;
    }
    /* a bad from= leaves the input unknown (this layer, poisoned): options are still checked */
    int in = layer_input(s, &a, prev, sc, k);
    if (in < 0)
        in = k;
    if (sema_set_inputs(s, k, &in, 1) < 0)
        return k;
    if (!spec || builtin_rec) {
        sema_recurrent(s, k, call, def, &a, in, builtin_rec);
        return k;
    }
    const AstNode *v = spec->pos ? sema_arg(&a, 0, spec->pos) : NULL;
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
        sema_add_role_tensor(s, k, IR_ROLE_WEIGHT, vocab, n, init);
        break;
    case IR_LAYER_DENSE: {
        static const char *const acts[] = { "none", "tanh", "relu", "sigmoid" };
        int act = 0;
        const AstNode *av = sema_arg(&a, -1, "activation");
        if (sema_eval_size(s, v, NULL, "the size of dense", false, &n) < 0 ||
            (av && sema_arg_word(s, av, "activation", acts, 4, &act) < 0) ||
            sema_need_vectors(s, k, in, false) < 0)
            return k;
        L(s, k)->act = (IrActivation)act;
        L(s, k)->size = L(s, k)->width = n;
        /* nn.Linear: weight and bias uniform(-1/sqrt(in), 1/sqrt(in)) */
        init.kind = IR_INIT_UNIFORM;
        init.a = -1 / sqrt((double)w);
        init.b = 1 / sqrt((double)w);
        sema_add_role_tensor(s, k, IR_ROLE_WEIGHT, n, w, init);
        sema_add_role_tensor(s, k, IR_ROLE_BIAS, 0, n, init);
        break;
    }
    case IR_LAYER_DROPOUT:
        if (sema_arg_prob(s, v, "dropout", &p) < 0 || sema_need_vectors(s, k, in, false) < 0)
            return k;
        L(s, k)->p = p;
        L(s, k)->width = w;
        break;
    case IR_LAYER_LAYERNORM:
        if (sema_need_vectors(s, k, in, false) < 0)
            return k;
        L(s, k)->width = w;
        init.a = 1;
        sema_add_role_tensor(s, k, IR_ROLE_WEIGHT, 0, w, init);
        init.a = 0;
        sema_add_role_tensor(s, k, IR_ROLE_BIAS, 0, w, init);
        break;
    case IR_LAYER_POOL: {
        static const char *const modes[] = { "last", "mean", "max" };
        int mode;
        if (sema_arg_word(s, v, "pool mode", modes, 3, &mode) < 0 ||
            sema_need_vectors(s, k, in, true) < 0)
            return k;
        L(s, k)->pool = (IrPool)mode;
        L(s, k)->width = w;
        seq = false;
        break;
    }
    case IR_LAYER_SOFTMAX:
        if (sema_need_vectors(s, k, in, false) < 0)
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
    int k = sema_new_layer(s, IR_LAYER_ADD, "residual", st, sc);
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
    sema_set_inputs(s, k, in, 2);
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
