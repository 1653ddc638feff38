/* sema_model_rnn: recurrent layers -- rnn/lstm/gru from the prelude's cells with PyTorch's
 * tensor names, or a user cell -- one IrCell per stacked layer and direction. Separate because
 * it is the one layer that instantiates cells (sema_cell.c) and names their tensors. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "lang/sema_model_int.h"

/* Recurrent layers: rnn/lstm/gru (prelude cells, PyTorch names) or a user cell. */
void sema_recurrent(Sema *s, int k, const AstNode *call, SemaCellDef *def, const Args *a,
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
        v = sema_arg(a, 0, "hidden");
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
        if ((v = sema_arg(a, -1, "layers")) && sema_eval_size(s, v, NULL, "layers", false,
                                                               &layers) < 0)
            ok = false;
        if (layers > SEMA_MAX_REPEAT) {
            diag_error(s->d, v->loc, "layers is too large: %d (the limit is %d)", layers,
                       SEMA_MAX_REPEAT);
            ok = false;
        }
        if ((v = sema_arg(a, -1, "dropout")) && sema_arg_prob(s, v, "dropout", &p) < 0)
            ok = false;
        if (v && ok && p > 0 && layers == 1) {
            DiagMessage *m = diag_warning(s->d, v->loc, "dropout=%g has no effect with layers=1",
                                          p);
            diag_help(m, "it applies between stacked layers; add a dropout(p) layer instead");
        }
        int act = 0;
        static const char *const acts[] = { "tanh", "relu" };
        if ((v = sema_arg(a, -1, "activation")) &&
            sema_arg_word(s, v, "activation", acts, 2, &act) < 0)
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
        if ((v = sema_arg(a, -1, "reverse")) && sema_arg_bool(s, v, "reverse", &rev) < 0)
            ok = false;
    }
    if ((v = sema_arg(a, -1, "bidirectional")) && sema_arg_bool(s, v, "bidirectional", &bidi) < 0)
        ok = false;
    if (bidi && rev) {
        diag_error(s->d, call->loc, "reverse=true and bidirectional=true cannot be combined");
        ok = false;
    }
    if (sema_need_vectors(s, k, in, true) < 0 || !ok)
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
    const char *from = sema_layer_desc(s, in);
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
                pp->tensor = sema_add_tensor(s, k, name, pp->rows, pp->cols, pp->init);
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
