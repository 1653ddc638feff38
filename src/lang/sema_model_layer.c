/* sema_model_layer: the building blocks of the model pass -- layer labels (with repeat
 * suffixes, automatic names, lookups with suggestions), appending layers, their inputs and
 * trained tensors, and splitting and reading a layer call's arguments. Separate from the
 * statements that use them (sema_model.c). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "lang/sema_model_int.h"

/* "embedding1 at 9:3" -- where a layer's output comes from, for messages. */
const char *sema_layer_desc(Sema *s, int i)
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
int sema_resolve_label(Sema *s, const AstNode *id, const Scope *sc, int self)
{
    int k = resolve_label1(s, id, sc);
    if (k >= 0 && k == self) {
        diag_error(s->d, id->loc, "%s cannot read its own output", L(s, k)->label);
        return -1;
    }
    return k;
}

/* sema_resolve_label without the self check. */
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
        int cap_counts = s->kinds_cap;
        const char **nn = arena_grow(&s->tmp, s->kind_names, s->nkinds, &s->kinds_cap,
                                     sizeof *nn);
        int *nc = arena_grow(&s->tmp, s->kind_counts, s->nkinds, &cap_counts, sizeof *nc);
        if (!nn || !nc) {
            sema_oom(s);
            return NULL;
        }
        s->kind_names = nn;
        s->kind_counts = nc;
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
int sema_new_layer(Sema *s, IrLayerKind kind, const char *autokind, const AstNode *st,
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
    for (int r = 0; r < IR_ROLE_COUNT; r++)
        l->tensor[r] = IR_NO_TENSOR;
    return s->m->nlayers++;
}

/* Sets the inputs of layer k. */
int sema_set_inputs(Sema *s, int k, const int *in, int n)
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

/* Sets layer k's width to the size w (its value and its form). */
void sema_set_width(Sema *s, int k, IrSym w)
{
    L(s, k)->width = sema_sym_int(s, w);
    L(s, k)->width_sym = w;
}

/* Layer k keeps the width of layer in. */
void sema_keep_width(Sema *s, int k, int in)
{
    L(s, k)->width = L(s, in)->width;
    L(s, k)->width_sym = L(s, in)->width_sym;
}

/* Appends a trained tensor of layer k: [rows, cols], or [cols] when rows is 0. */
int sema_add_tensor(Sema *s, int k, const char *name, IrSym rows, IrSym cols, IrInit init)
{
    IrTensor *a = sema_grow(s, s->m->tensors, s->m->ntensors, &s->tensors_cap, sizeof *a);
    if (!a || !name)
        return -1;
    s->m->tensors = a;
    IrTensor *t = &a[s->m->ntensors];
    memset(t, 0, sizeof *t);
    int r = sema_sym_int(s, rows), c = sema_sym_int(s, cols);
    t->name = name;
    t->ndim = r ? 2 : 1;
    t->shape[0] = r ? r : c;
    t->shape[1] = r ? c : 0;
    t->shape_sym[0] = r ? rows : cols;
    t->shape_sym[1] = r ? cols : ir_sym_const(0);
    t->size = (int64_t)(r ? r : 1) * c;
    t->init = init;
    t->layer = k;
    s->m->nparams += t->size;
    L(s, k)->ntensors++;
    return s->m->ntensors++;
}

/* Appends layer k's tensor of this role, named "<label>.<role>". */
int sema_add_role_tensor(Sema *s, int k, IrTensorRole role, IrSym rows, IrSym cols,
                         IrInit init)
{
    int t = sema_add_tensor(s, k, sema_fmt(s, "%s.%s", L(s, k)->label, ir_role_spelling[role]),
                            rows, cols, init);
    if (t >= 0)
        L(s, k)->tensor[role] = t;
    return t;
}

/* Splits a call's arguments and checks named ones against the valid options. */
int sema_split_args(Sema *s, const AstNode *call, const char *kind, const char *const *valid,
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
const AstNode *sema_arg(const Args *a, int pos, const char *name)
{
    for (int k = 0; k < a->nnamed; k++)
        if (strcmp(a->named[k]->name, name) == 0)
            return a->named[k]->a;
    return pos >= 0 && pos < a->npos ? a->pos[pos] : NULL;
}

/* true/false. */
int sema_arg_bool(Sema *s, const AstNode *v, const char *what, bool *out)
{
    if (v->kind == AST_IDENT && (!strcmp(v->name, "true") || !strcmp(v->name, "false"))) {
        *out = v->name[0] == 't';
        return 0;
    }
    diag_error(s->d, v->loc, "%s must be true or false", what);
    return -1;
}

/* One word of a fixed list (activation=relu, pool(mean)); index into words. */
int sema_arg_word(Sema *s, const AstNode *v, const char *what, const char *const *words,
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
int sema_arg_prob(Sema *s, const AstNode *v, const char *what, double *out)
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
int sema_need_vectors(Sema *s, int k, int in, bool need_seq)
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
