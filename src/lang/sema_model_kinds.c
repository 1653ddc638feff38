/* sema_model_kinds: the layer calls of the model language, one row each -- the name as
 * written, the IrLayerKind it builds, its positional argument and named options, and its
 * semantic check, which reads the arguments, checks the input, sets the output width and adds
 * the trained tensors (initialised as PyTorch's modules do). sema_model.c's layer_stmt does
 * what every call shares (lookup, option checking, labels, from=) and calls the row's check. */
#include <math.h>
#include <string.h>

#include "lang/sema_model_int.h"

/* embedding(E): a table [vocab][E], N(0, 1) as nn.Embedding. onehot: width = vocab. Both read
 * token ids. */
static int embedding_check(Sema *s, int k, const LayerCall *lc)
{
    const IrLayer *x = L(s, lc->in);
    bool onehot = lc->spec->kind == IR_LAYER_ONEHOT;
    int n = 0;
    IrSym ns = ir_sym_const(0);
    if (!onehot && sema_eval_size(s, lc->pos, NULL, "the embedding size", false, &n, &ns) < 0)
        return -1;
    if (x->width == POISON)
        return -1;
    if (!x->tokens) {
        DiagMessage *m = diag_error(s->d, L(s, k)->loc, "%s needs token ids, but %s gives "
                                    "vectors", lc->spec->name, x->label);
        diag_help(m, "use it right after `input tokens(vocab=...)`");
        return -1;
    }
    L(s, k)->vocab = x->vocab;
    L(s, k)->vocab_sym = x->vocab_sym;
    if (onehot) {
        sema_set_width(s, k, x->vocab_sym);
        return 0;
    }
    L(s, k)->size = n;
    sema_set_width(s, k, ns);
    IrInit init = { IR_INIT_NORMAL, 1, 0 };
    sema_add_role_tensor(s, k, IR_ROLE_WEIGHT, x->vocab_sym, ns, init);
    return 0;
}

/* dense(N, activation=none|tanh|relu|sigmoid): weight [N][in] and bias [N], both
 * uniform(-1/sqrt(in), 1/sqrt(in)) as nn.Linear. */
static int dense_check(Sema *s, int k, const LayerCall *lc)
{
    static const char *const acts[] = { "none", "tanh", "relu", "sigmoid" };
    int act = 0, n;
    IrSym ns;
    const AstNode *av = sema_arg(lc->a, -1, "activation");
    if (sema_eval_size(s, lc->pos, NULL, "the size of dense", false, &n, &ns) < 0 ||
        (av && sema_arg_word(s, av, "activation", acts, 4, &act) < 0) ||
        sema_need_vectors(s, k, lc->in, false) < 0)
        return -1;
    int w = L(s, lc->in)->width;
    L(s, k)->act = (IrActivation)act;
    L(s, k)->size = n;
    sema_set_width(s, k, ns);
    IrInit init = { IR_INIT_UNIFORM, -1 / sqrt((double)w), 1 / sqrt((double)w) };
    sema_add_role_tensor(s, k, IR_ROLE_WEIGHT, ns, L(s, lc->in)->width_sym, init);
    sema_add_role_tensor(s, k, IR_ROLE_BIAS, ir_sym_const(0), ns, init);
    return 0;
}

/* dropout(p): p in [0, 1); keeps the width. */
static int dropout_check(Sema *s, int k, const LayerCall *lc)
{
    double p;
    if (sema_arg_prob(s, lc->pos, "dropout", &p) < 0 || sema_need_vectors(s, k, lc->in, false) < 0)
        return -1;
    L(s, k)->p = p;
    sema_keep_width(s, k, lc->in);
    return 0;
}

/* layernorm: weight (ones) and bias (zeros) [width], as nn.LayerNorm; keeps the width. */
static int layernorm_check(Sema *s, int k, const LayerCall *lc)
{
    if (sema_need_vectors(s, k, lc->in, false) < 0)
        return -1;
    IrSym w = L(s, lc->in)->width_sym;
    sema_keep_width(s, k, lc->in);
    IrInit init = { IR_INIT_CONST, 1, 0 };
    sema_add_role_tensor(s, k, IR_ROLE_WEIGHT, ir_sym_const(0), w, init);
    init.a = 0;
    sema_add_role_tensor(s, k, IR_ROLE_BIAS, ir_sym_const(0), w, init);
    return 0;
}

/* pool(last|mean|max): a sequence to one vector per sequence of the same width. */
static int pool_check(Sema *s, int k, const LayerCall *lc)
{
    static const char *const modes[] = { "last", "mean", "max" };
    int mode;
    if (sema_arg_word(s, lc->pos, "pool mode", modes, 3, &mode) < 0 ||
        sema_need_vectors(s, k, lc->in, true) < 0)
        return -1;
    L(s, k)->pool = (IrPool)mode;
    sema_keep_width(s, k, lc->in);
    return 0;
}

/* softmax: keeps the width. */
static int softmax_check(Sema *s, int k, const LayerCall *lc)
{
    if (sema_need_vectors(s, k, lc->in, false) < 0)
        return -1;
    sema_keep_width(s, k, lc->in);
    return 0;
}

/* rnn/lstm/gru(H, ...) and user cells: see sema_model_rnn.c. */
static int recurrent_check(Sema *s, int k, const LayerCall *lc)
{
    return sema_recurrent(s, k, lc->call, lc->def, lc->a, lc->in, lc->spec->cell);
}

/* Checks the labels of concat/add and returns how many (in[]), or -1. */
static int join_labels(Sema *s, int k, const LayerCall *lc, int in[SEMA_MAX_JOIN])
{
    const AstNode *call = lc->call;
    int n = 0;
    for (int i = 0; i < call->list.n; i++) {
        const AstNode *arg = call->list.items[i];
        if (arg->kind != AST_IDENT) {
            diag_error(s->d, arg->loc, "%s takes layer labels, e.g. %s(a, b)", call->name,
                       call->name);
            return -1;
        }
        if (n == SEMA_MAX_JOIN) {
            diag_error(s->d, arg->loc, "too many inputs (the limit is %d)", SEMA_MAX_JOIN);
            return -1;
        }
        int j = sema_resolve_label(s, arg, lc->sc, k);
        if (j < 0 || sema_need_vectors(s, k, j, false) < 0)
            return -1;
        in[n++] = j;
    }
    if (n < 2) {
        diag_error(s->d, call->loc, "%s needs at least two labels, e.g. %s(a, b)", call->name,
                   call->name);
        return -1;
    }
    return n;
}

/* concat(a, b, ...) / add(a, b, ...): joins labelled outputs of the same sequence kind; add
 * needs equal widths, concat sums them. */
static int join_check(Sema *s, int k, const LayerCall *lc)
{
    int in[SEMA_MAX_JOIN], width = 0;
    IrSym wsym = ir_sym_const(0);
    bool is_add = lc->spec->kind == IR_LAYER_ADD;
    const AstNode *call = lc->call;
    int n = join_labels(s, k, lc, in);
    if (n < 0)
        return -1;
    for (int i = 0; i < n; i++) {
        IrLayer *x = L(s, in[i]), *y = L(s, in[0]);
        if (x->sequence != y->sequence) {
            diag_error(s->d, call->list.items[i]->loc, "%s gives one vector per sequence but %s "
                       "gives a sequence; %s needs the same kind", x->sequence ? y->label
                       : x->label, x->sequence ? x->label : y->label, call->name);
            return -1;
        }
        if (is_add && x->width != y->width) {
            diag_error(s->d, call->list.items[i]->loc, "add needs equal widths: %s is [%d] but "
                       "%s is [%d]", y->label, y->width, x->label, x->width);
            return -1;
        }
        if (!is_add && (int64_t)width + x->width > SEMA_MAX_SIZE) {
            diag_error(s->d, call->loc, "the concatenation is too wide: %s is [%d] after [%d] "
                       "(the limit is %d)", x->label, x->width, width, SEMA_MAX_SIZE);
            return -1;
        }
        if (is_add)
            sema_sym_same(s, x->width_sym, y->width_sym);
        width = is_add ? x->width : width + x->width;
        wsym = is_add ? x->width_sym : ir_sym_add(wsym, x->width_sym);
    }
    if (sema_set_inputs(s, k, in, n) < 0)
        return -1;
    sema_set_width(s, k, wsym);
    return 0;
}

/* The built-in layer calls. pos_what/pos_hint complete "dense needs its size: dense(N)". */
static const SemaLayerSpec layer_specs[] = {
    { "embedding", IR_LAYER_EMBEDDING, "dim", "size", "N", { 0 }, false, false,
      embedding_check },
    { "onehot", IR_LAYER_ONEHOT, NULL, NULL, NULL, { 0 }, false, false, embedding_check },
    { "rnn", IR_LAYER_RECURRENT, "hidden", NULL, NULL,
      { "layers", "dropout", "bidirectional", "reverse", "activation" }, false, true,
      recurrent_check },
    { "lstm", IR_LAYER_RECURRENT, "hidden", NULL, NULL,
      { "layers", "dropout", "bidirectional", "reverse", "recurrent_activation" }, false, true,
      recurrent_check },
    { "gru", IR_LAYER_RECURRENT, "hidden", NULL, NULL,
      { "layers", "dropout", "bidirectional", "reverse", "reset_after",
        "recurrent_activation" }, false, true, recurrent_check },
    { "dense", IR_LAYER_DENSE, "units", "size", "N", { "activation" }, false, false,
      dense_check },
    { "dropout", IR_LAYER_DROPOUT, "p", "size", "p", { 0 }, false, false, dropout_check },
    { "layernorm", IR_LAYER_LAYERNORM, NULL, NULL, NULL, { 0 }, false, false, layernorm_check },
    { "pool", IR_LAYER_POOL, "mode", "mode", "last|mean|max", { 0 }, false, false, pool_check },
    { "concat", IR_LAYER_CONCAT, NULL, NULL, NULL, { 0 }, true, false, join_check },
    { "add", IR_LAYER_ADD, NULL, NULL, NULL, { 0 }, true, false, join_check },
    { "softmax", IR_LAYER_SOFTMAX, NULL, NULL, NULL, { 0 }, false, false, softmax_check },
};
enum { NSPECS = sizeof layer_specs / sizeof *layer_specs };

/* A layer made from a user cell: its options are the cell's size parameters. */
const SemaLayerSpec sema_user_cell_spec = { NULL, IR_LAYER_RECURRENT, NULL, NULL, NULL, { 0 },
                                            false, false, recurrent_check };

/* The built-in layer call with this name, or NULL. */
const SemaLayerSpec *sema_layer_spec(const char *name)
{
    for (int i = 0; i < NSPECS; i++)
        if (strcmp(layer_specs[i].name, name) == 0)
            return &layer_specs[i];
    return NULL;
}

/* The names of the built-in layer calls, in table order, into names (cap entries); returns
 * how many. */
int sema_layer_names(const char **names, int cap)
{
    int n = 0;
    for (int i = 0; i < NSPECS && n < cap; i++)
        names[n++] = layer_specs[i].name;
    return n;
}
