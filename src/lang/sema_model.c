/* sema_model: the model block. Each statement becomes an IrLayer fed by the previous statement
 * (or from=LABEL); options are checked against the layer's option list, widths flow through
 * the model, recurrent layers get one IrCell per stacked layer and direction, and every trained
 * tensor is named as in PyTorch's state_dict (LANGUAGE.md sections 3 and 6).
 *
 * The pass is split in four: this file (the statements: input, layers, repeat, residual),
 * sema_model_kinds.c (the table of layer calls and each kind's check), sema_model_layer.c
 * (labels, new layers, tensors, call arguments) and sema_model_rnn.c (recurrent layers and
 * their cells); sema_model_int.h holds what they share. */
#include <stdio.h>
#include <string.h>

#include "lang/sema_model_int.h"

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
    IrSym w;
    if (which == 1) {
        if (!v) {
            diag_error(s->d, call->loc, "vector needs its width: vector(N)");
            return k;
        }
        if (sema_eval_size(s, v, NULL, "the input width", false, &n, &w) < 0)
            return k;
        L(s, k)->size = n;
        sema_set_width(s, k, w);
        return k;
    }
    SemaNum dv;
    if (s->vocab_bound || !v || (v->kind == AST_IDENT && strcmp(v->name, "auto") == 0)) {
        if (sema_auto_size(s, false, call->loc, &dv) < 0)
            return k;
    } else {
        return k;   /* the vocab expression was rejected by sema_bind_input_vocab */
    }
    L(s, k)->tokens = true;
    sema_set_width(s, k, ir_sym_const(1));
    L(s, k)->vocab = (int)dv.value;
    L(s, k)->vocab_sym = sema_num_sym(s, &dv, L(s, k)->vocab);
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
    if (sema_eval_size(s, v, NULL, "vocab", false, &n, NULL) == 0) {
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

static int stmt_list(Sema *s, const AstList *list, int first, int prev, const Scope *sc);

enum { MAX_LAYER_NAMES = 256 };    /* user cells offered as suggestions for a bad name */

/* An unknown layer name: reported with a suggestion among the built-in layers and the user's
 * cells; the layer goes on, poisoned, so later statements are still checked. */
static int unknown_layer(Sema *s, const AstNode *st, const Scope *sc)
{
    const AstNode *call = st->a;
    const char *cand[MAX_LAYER_NAMES + 32];
    char list[400];
    int nbuiltin = sema_layer_names(cand, 32), n = nbuiltin;
    for (int i = 0; i < s->ncells && n < nbuiltin + MAX_LAYER_NAMES; i++)
        if (!s->cells[i].prelude)
            cand[n++] = s->cells[i].name;
    const char *sug = sema_suggest(call->name, cand, n);
    DiagMessage *m = sug ? diag_error(s->d, call->name_loc, "unknown layer '%s'; did you mean "
                                      "'%s'?", call->name, sug)
                         : diag_error(s->d, call->name_loc, "unknown layer '%s'", call->name);
    diag_help(m, "valid layers are %s", sema_join(cand, n, list, sizeof list));
    int k = sema_new_layer(s, IR_LAYER_DENSE, call->name, st, sc);
    if (k >= 0)
        L(s, k)->width = POISON;
    return k;
}

/* The options a call accepts into valid[] (returns how many) and its positional limit: the
 * row's positional name and options, or a user cell's size parameters plus bidirectional and
 * reverse; from= except for concat/add. */
static int layer_options(const SemaLayerSpec *spec, const SemaCellDef *def, const char **valid,
                         int *maxpos)
{
    int n = 0;
    *maxpos = 0;
    if (spec->name) {
        if (spec->pos)
            valid[n++] = spec->pos, *maxpos = 1;
        for (int i = 0; i < SEMA_LAYER_OPTS && spec->opts[i]; i++)
            valid[n++] = spec->opts[i];
        if (spec->joins)
            *maxpos = SEMA_MAX_JOIN;
    } else {
        for (int i = 0; i < def->def->params.n && i < SEMA_MAX_ENV; i++)
            valid[n++] = def->def->params.items[i]->name;
        *maxpos = n;
        valid[n++] = "bidirectional";
        valid[n++] = "reverse";
    }
    if (!spec->joins)
        valid[n++] = "from";
    return n;
}

/* [label:] layer(args) -- one statement of the model: the call's row (sema_model_kinds.c) or a
 * user cell, its options checked, its input (from= or the previous statement), then the row's
 * check; the sequence axis follows the kind's facts. Returns the new layer or -1. */
static int layer_stmt(Sema *s, const AstNode *st, int prev, const Scope *sc)
{
    const AstNode *call = st->a;
    if (!call || call->kind != AST_CALL)
        return -1;
    const SemaLayerSpec *spec = sema_layer_spec(call->name);
    SemaCellDef *def = spec && spec->cell ? sema_find_cell(s, call->name) : NULL;
    if (!spec) {
        def = sema_find_cell(s, call->name);
        if (!def || !strcmp(call->name, "rnn_relu"))
            return unknown_layer(s, st, sc);
        spec = &sema_user_cell_spec;
    }
    const char *valid[SEMA_MAX_ENV + 8];
    int maxpos, nvalid = layer_options(spec, def, valid, &maxpos);
    int k = sema_new_layer(s, spec->kind, call->name, st, sc);
    if (k < 0)
        return -1;
    L(s, k)->width = POISON;
    Args a;
    if (sema_split_args(s, call, call->name, valid, nvalid, maxpos, &a) < 0)
        return k;
    LayerCall lc = { call, spec, &a, spec->pos ? sema_arg(&a, 0, spec->pos) : NULL, k, def, sc };
    if (!spec->joins) {
        /* a bad from= leaves the input unknown (this layer, poisoned): options are still
         * checked */
        int in = layer_input(s, &a, prev, sc, k);
        lc.in = in < 0 ? k : in;
        if (sema_set_inputs(s, k, &lc.in, 1) < 0)
            return k;
        if (spec->pos_what && !lc.pos) {
            diag_error(s->d, call->loc, "%s needs its %s: %s(%s)", spec->name, spec->pos_what,
                       spec->name, spec->pos_hint);
            return k;
        }
    }
    if (spec->check(s, k, &lc) == 0)
        L(s, k)->sequence = ir_layer_facts[spec->kind].keeps_sequence &&
                            L(s, L(s, k)->inputs[0])->sequence;
    return k;
}

/* repeat N { ... }: N copies with independent weights; labels inside get _1, _2, ... */
static int repeat_stmt(Sema *s, const AstNode *st, int prev, const Scope *sc)
{
    int n;
    if (sema_eval_size(s, st->a, NULL, "the repeat count", false, &n, NULL) < 0)
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
    sema_sym_same(s, x->width_sym, y->width_sym);
    int in[2] = { prev, out };
    sema_set_inputs(s, k, in, 2);
    sema_keep_width(s, k, prev);
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
