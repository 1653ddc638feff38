/* sema_model_rnn: recurrent layers -- rnn/lstm/gru from the prelude's cells with PyTorch's
 * tensor names, or a user cell -- one IrCell per stacked layer and direction. Separate because
 * it is the one layer that instantiates cells (sema_cell.c) and names their tensors. */
#include <stdio.h>
#include <string.h>

#include "lang/sema_model_int.h"

/* What the options of a recurrent call ask for. */
typedef struct RecOpts {
    SemaEnv env;            /* the cell's size parameters */
    int layers;
    double p;               /* dropout between stacked layers */
    bool bidi, rev;
    SemaCellDef *def;       /* rnn(activation=relu): the prelude's rnn_relu */
    IrBuiltin builtin;
} RecOpts;

/* gru(reset_after=false) and lstm/gru(recurrent_activation=hard_sigmoid): the prelude's
 * gru_rb, lstm_hs, gru_hs or gru_rb_hs (Keras's reset-before GRU and pre-2.3 gates), run by the
 * interpreter (IR_CELL_USER: no fused kernel has these equations). false after a diagnostic. */
static bool variant_options(Sema *s, const char *kind, const Args *a, RecOpts *o)
{
    static const char *const racts[] = { "sigmoid", "hard_sigmoid", "hardsigmoid" };
    bool after = true;
    int ract = 0;
    const AstNode *v;
    if ((v = sema_arg(a, -1, "reset_after")) && sema_arg_bool(s, v, "reset_after", &after) < 0)
        return false;
    if ((v = sema_arg(a, -1, "recurrent_activation")) &&
        sema_arg_word(s, v, "recurrent_activation", racts, 3, &ract) < 0)
        return false;
    if (after && ract == 0)
        return true;
    char name[32];
    snprintf(name, sizeof name, "%s%s%s", kind, after ? "" : "_rb", ract ? "_hs" : "");
    o->def = sema_find_cell(s, name);
    o->builtin = IR_CELL_USER;
    return true;
}

/* rnn/lstm/gru(H, layers=, dropout=, activation=, reverse=): the hidden size, stacking,
 * dropout between levels, (rnn) the activation, which picks the prelude cell and the fused
 * kernel, and reverse (ONNX direction=reverse: every level runs from the last step to the first;
 * the fused kernels take the direction in KernRecShape). false after a diagnostic. */
static bool builtin_options(Sema *s, const AstNode *call, const Args *a, RecOpts *o)
{
    bool ok = true;
    const char *kind = call->name;
    int h;
    IrSym hs;
    const AstNode *v = sema_arg(a, 0, "hidden");
    if (!v) {
        diag_error(s->d, call->loc, "%s needs its hidden size: %s(H)", kind, kind);
        ok = false;
    } else if (sema_eval_size(s, v, NULL, "the hidden size", false, &h, &hs) < 0) {
        ok = false;
    } else {
        o->env.b[0].name = o->def->def->params.n ? o->def->def->params.items[0]->name : "H";
        o->env.b[0].value = h;
        o->env.b[0].sym = hs;
        o->env.n = 1;
    }
    if ((v = sema_arg(a, -1, "layers")) && sema_eval_size(s, v, NULL, "layers", false,
                                                           &o->layers, NULL) < 0)
        ok = false;
    if (o->layers > SEMA_MAX_REPEAT) {
        diag_error(s->d, v->loc, "layers is too large: %d (the limit is %d)", o->layers,
                   SEMA_MAX_REPEAT);
        ok = false;
    }
    if ((v = sema_arg(a, -1, "dropout")) && sema_arg_prob(s, v, "dropout", &o->p) < 0)
        ok = false;
    if (v && ok && o->p > 0 && o->layers == 1) {
        DiagMessage *m = diag_warning(s->d, v->loc, "dropout=%g has no effect with layers=1",
                                      o->p);
        diag_help(m, "it applies between stacked layers; add a dropout(p) layer instead");
    }
    int act = 0;
    static const char *const acts[] = { "tanh", "relu" };
    if ((v = sema_arg(a, -1, "activation")) &&
        sema_arg_word(s, v, "activation", acts, 2, &act) < 0)
        ok = false;
    if (act == 1)
        o->def = sema_find_cell(s, "rnn_relu");
    if ((v = sema_arg(a, -1, "reverse")) && sema_arg_bool(s, v, "reverse", &o->rev) < 0)
        ok = false;
    o->builtin = strcmp(kind, "lstm") == 0 ? IR_CELL_LSTM : strcmp(kind, "gru") == 0
                 ? IR_CELL_GRU : act ? IR_CELL_RNN_RELU : IR_CELL_RNN_TANH;
    return variant_options(s, kind, a, o) && ok;
}

/* A user cell's size parameters, positionally or by name, with their defaults; reverse=.
 * false after a diagnostic. */
static bool user_cell_options(Sema *s, const AstNode *call, const Args *a, RecOpts *o)
{
    bool ok = true;
    const char *kind = call->name;
    const AstList *ps = &o->def->def->params;
    const AstNode *v;
    for (int i = 0; i < ps->n && o->env.n < SEMA_MAX_ENV; i++) {
        const AstNode *pn = ps->items[i];
        v = sema_arg(a, i, pn->name);
        if (!v && pn->kind == AST_NAMED_ARG)
            v = pn->a;
        if (!v) {
            diag_error(s->d, call->loc, "%s needs its size '%s'", kind, pn->name);
            ok = false;
            continue;
        }
        char what[96];
        int n;
        IrSym ns;
        snprintf(what, sizeof what, "size '%s' of %s", pn->name, kind);
        if (sema_eval_size(s, v, &o->env, what, false, &n, &ns) < 0) {
            ok = false;
            continue;
        }
        o->env.b[o->env.n].name = pn->name;
        o->env.b[o->env.n].sym = ns;
        o->env.b[o->env.n++].value = n;
    }
    if (a->npos > ps->n) {
        diag_error(s->d, a->pos[ps->n]->loc, "%s takes %d size%s", kind, ps->n,
                   ps->n == 1 ? "" : "s");
        ok = false;
    }
    if ((v = sema_arg(a, -1, "reverse")) && sema_arg_bool(s, v, "reverse", &o->rev) < 0)
        ok = false;
    return ok;
}

/* One IrCell per level and direction, with its tensors named as PyTorch's state_dict
 * (built-ins: "<label>.<param>_l<level>[_reverse]") or "<label>.<param>[_reverse]" (user
 * cells); sets the layer's width. -1 after a diagnostic. */
static int instantiate_cells(Sema *s, int k, int in, const RecOpts *o, bool builtin)
{
    int ndir = o->bidi ? 2 : 1;
    IrLayer *l = L(s, k);
    l->num_layers = o->layers;
    l->bidirectional = o->bidi;
    l->p = o->p;
    l->ncells = o->layers * ndir;
    l->cells = arena_alloc(&s->m->arena, sizeof *l->cells * (size_t)l->ncells);
    if (!l->cells) {
        sema_oom(s);
        return -1;
    }
    const char *from = sema_layer_desc(s, in);
    IrSym in_width = L(s, in)->width_sym, out_width = ir_sym_const(0);
    for (int li = 0; li < o->layers; li++) {
        for (int dir = 0; dir < ndir; dir++) {
            IrCell *c = &L(s, k)->cells[li * ndir + dir];
            if (sema_cell_instance(s, o->def, &o->env, in_width, from, L(s, k)->loc, c) < 0)
                return -1;
            c->reverse = dir == 1 || o->rev;
            out_width = c->nodes[c->output].width_sym;
            for (int pi = 0; pi < c->nparams; pi++) {
                IrParam *pp = &c->params[pi];
                const char *name = builtin
                    ? sema_fmt(s, "%s.%s_l%d%s", L(s, k)->label, pp->name, li,
                               dir ? "_reverse" : "")
                    : sema_fmt(s, "%s.%s%s", L(s, k)->label, pp->name, dir ? "_reverse" : "");
                pp->tensor = sema_add_tensor(s, k, name, pp->rows_sym, pp->cols_sym, pp->init);
                if (pp->tensor < 0)
                    return -1;
            }
        }
        in_width = ir_sym_scale(out_width, ndir);
        from = sema_fmt(s, "%s layer %d", L(s, k)->label, li);
    }
    sema_set_width(s, k, ir_sym_scale(out_width, ndir));
    L(s, k)->size = sema_sym_int(s, out_width);
    return 0;
}

/* Recurrent layers: rnn/lstm/gru (prelude cells, PyTorch names) or a user cell. */
int sema_recurrent(Sema *s, int k, const AstNode *call, SemaCellDef *def, const Args *a,
                   int in, bool builtin)
{
    RecOpts o = { .env = { .n = 0 }, .layers = 1, .def = def, .builtin = IR_CELL_USER };
    bool ok = builtin ? builtin_options(s, call, a, &o) : user_cell_options(s, call, a, &o);
    if (builtin && !o.def) {
        diag_error(s->d, call->loc, "the prelude has no cell for %s", call->name);
        return -1;
    }
    L(s, k)->builtin = o.builtin;
    const AstNode *v;
    if ((v = sema_arg(a, -1, "bidirectional")) &&
        sema_arg_bool(s, v, "bidirectional", &o.bidi) < 0)
        ok = false;
    if (o.bidi && o.rev) {
        diag_error(s->d, call->loc, "reverse=true and bidirectional=true cannot be combined");
        ok = false;
    }
    if (sema_need_vectors(s, k, in, true) < 0 || !ok)
        return -1;
    s->ncell_instances += o.layers * (o.bidi ? 2 : 1);
    if (s->ncell_instances > SEMA_MAX_CELLS) {
        diag_error(s->d, call->loc, "the model has more than %d recurrent cells",
                   SEMA_MAX_CELLS);
        return -1;
    }
    return instantiate_cells(s, k, in, &o, builtin);
}
