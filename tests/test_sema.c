/* test_sema: semantic analysis -- widths through the model, label naming, repeat and residual
 * expansion, user cells (sizes by position and name, initialisers, reverse copies), --set
 * overrides, data/train settings as stored, unbound vocab/classes, and messages for the
 * errors the golden files do not pin. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <math.h>

#include "sema_testutil.h"
#include "util/file.h"

/* Compiles text that must succeed. */
static IrModel *ok(Diag *d, const char *text, const char *const *sets, int nsets)
{
    IrModel *m = compile(d, text, sets, nsets);
    if (!m) {
        diag_print(d, stderr);
        fail_msg("expected the model to compile");
    }
    return m;
}

/* Asserts that compiling text fails with a message containing each of the NULL-terminated
 * fragments. */
static void fails_with(const char *text, const char *const *sets, int nsets, ...)
{
    char *msg = compile_errors(text, sets, nsets);
    if (!msg)
        fail_msg("expected an error for:\n%s", text);
    va_list ap;
    va_start(ap, nsets);
    for (const char *frag; (frag = va_arg(ap, const char *));)
        if (!strstr(msg, frag))
            fail_msg("missing '%s' in:\n%s", frag, msg);
    va_end(ap);
    free(msg);
}

static void test_widths_through_model(void **state)
{
    (void)state;
    Diag d;
    diag_init(&d);
    IrModel *m = ok(&d, "model m {\n input tokens(vocab=30)\n onehot\n"
                        " enc: lstm(16, layers=3, bidirectional=true)\n"
                        " g: gru(8, from=enc)\n both: concat(enc, g)\n"
                        " s: dense(40, activation=tanh)\n pool(max)\n dense(7)\n softmax\n}\n",
                    NULL, 0);
    static const struct { const char *label; IrLayerKind kind; int width; bool seq; } want[] = {
        { "input", IR_LAYER_INPUT_TOKENS, 1, true }, { "onehot1", IR_LAYER_ONEHOT, 30, true },
        { "enc", IR_LAYER_RECURRENT, 32, true }, { "g", IR_LAYER_RECURRENT, 8, true },
        { "both", IR_LAYER_CONCAT, 40, true }, { "s", IR_LAYER_DENSE, 40, true },
        { "pool1", IR_LAYER_POOL, 40, false }, { "dense1", IR_LAYER_DENSE, 7, false },
        { "softmax1", IR_LAYER_SOFTMAX, 7, false },
    };
    assert_int_equal(m->nlayers, 9);
    for (int i = 0; i < 9; i++) {
        assert_string_equal(m->layers[i].label, want[i].label);
        assert_int_equal(m->layers[i].kind, want[i].kind);
        assert_int_equal(m->layers[i].width, want[i].width);
        assert_int_equal(m->layers[i].sequence, want[i].seq);
    }
    assert_true(m->layers[0].tokens);
    assert_int_equal(m->layers[1].vocab, 30);
    /* stacked bidirectional: 6 cells, layer 1 and 2 read 2*16 */
    assert_int_equal(m->layers[2].ncells, 6);
    assert_int_equal(m->layers[2].cells[0].input_width, 30);
    assert_int_equal(m->layers[2].cells[2].input_width, 32);
    assert_true(m->layers[2].cells[5].reverse);
    assert_int_equal(m->layers[3].inputs[0], 2);
    assert_int_equal(m->layers[4].ninputs, 2);
    assert_int_equal(m->layers[5].act, IR_ACT_TANH);
    assert_int_equal(m->layers[6].pool, IR_POOL_MAX);
    assert_int_equal(m->output, 8);
    assert_string_equal(m->tensors[ir_find_tensor(m, "enc.weight_hh_l2_reverse")].name,
                        "enc.weight_hh_l2_reverse");
    assert_int_equal(m->tensors[ir_find_tensor(m, "s.weight")].shape[1], 40);
    assert_int_equal(ir_find_tensor(m, "enc.weight_hh_l3"), -1);
    assert_int_equal(m->vocab, 30);
    ir_model_free(m);
    diag_free(&d);
}

/* repeat N: labels get _1, _2; unlabelled layers count on; residual adds an `add` layer. */
static void test_repeat_and_residual(void **state)
{
    (void)state;
    Diag d;
    diag_init(&d);
    IrModel *m = ok(&d, "const N = 2\nmodel m {\n input vector(6)\n repeat N {\n"
                        "  residual {\n   blk: lstm(6)\n   dense(6)\n  }\n }\n"
                        " dense(1, from=blk_2)\n}\n", NULL, 0);
    static const char *const labels[] = { "input", "blk_1", "dense1", "residual1", "blk_2",
                                          "dense2", "residual2", "dense3" };
    assert_int_equal(m->nlayers, 8);
    for (int i = 0; i < 8; i++)
        assert_string_equal(m->layers[i].label, labels[i]);
    assert_int_equal(m->layers[3].kind, IR_LAYER_ADD);
    assert_int_equal(m->layers[3].ninputs, 2);
    assert_int_equal(m->layers[3].inputs[0], 0);   /* the group's input */
    assert_int_equal(m->layers[3].inputs[1], 2);   /* the group's output */
    assert_int_equal(m->layers[4].inputs[0], 3);   /* the second copy reads the first */
    assert_int_equal(m->layers[7].inputs[0], 4);   /* from=blk_2 */
    /* independent weights per copy */
    assert_true(ir_find_tensor(m, "blk_1.weight_ih_l0") >= 0);
    assert_true(ir_find_tensor(m, "blk_2.weight_ih_l0") >= 0);
    assert_true(ir_find_tensor(m, "dense2.bias") >= 0);
    ir_model_free(m);
    diag_free(&d);
    /* a label inside repeat refers to its own copy */
    diag_init(&d);
    m = ok(&d, "model m {\n input vector(4)\n repeat 2 {\n  a: dense(4)\n  b: dense(4)\n"
               "  add(a, b)\n }\n}\n", NULL, 0);
    assert_string_equal(m->layers[6].label, "add2");
    assert_int_equal(m->layers[6].inputs[0], 4);
    assert_int_equal(m->layers[6].inputs[1], 5);
    ir_model_free(m);
    diag_free(&d);
}

static const char peephole[] =
    "cell peep(H, K = 2) {\n"
    "  input x : [I]\n"
    "  state h : [H], c : [H]\n"
    "  param W : [4*H, I], U : [4*H, H] = uniform(-0.08, 0.08)\n"
    "  param b : [4*H] = 0\n"
    "  param p_i : [H] = normal(0.5)\n"
    "  param Q : [H, H] = orthogonal\n"
    "  param s : [H]\n"
    "  zi, zf, zg, zo = chunk(W @ x + U @ h[t-1] + b, 4)\n"
    "  i = sigmoid(zi + p_i * c[t-1])\n"
    "  c = sigmoid(zf) * c[t-1] + i * tanh(zg)\n"
    "  h = sigmoid(zo) * tanh(Q @ c) * K + s\n"
    "  output h\n"
    "}\n";

/* A user cell: sizes by position and by name, defaults, initialisers, tensor names. */
static void test_user_cell(void **state)
{
    (void)state;
    char text[2048];
    snprintf(text, sizeof text, "%smodel m {\n input vector(3)\n p: peep(H=5)\n"
             " q: peep(4, 3, bidirectional=true)\n r: peep(2, reverse=true)\n}\n", peephole);
    Diag d;
    diag_init(&d);
    IrModel *m = ok(&d, text, NULL, 0);
    const IrLayer *p = &m->layers[1];
    assert_int_equal(p->builtin, IR_CELL_USER);
    assert_int_equal(p->width, 5);
    const IrCell *c = &p->cells[0];
    assert_int_equal(c->nparams, 6);
    assert_int_equal(c->params[0].rows, 20);
    assert_int_equal(c->params[0].cols, 3);
    assert_int_equal(c->params[0].init.kind, IR_INIT_UNIFORM);
    assert_true(c->params[1].init.a == -0.08 && c->params[1].init.b == 0.08);
    assert_int_equal(c->params[2].init.kind, IR_INIT_CONST);
    assert_true(c->params[2].init.a == 0);
    assert_int_equal(c->params[3].init.kind, IR_INIT_NORMAL);
    assert_true(c->params[3].init.a == 0.5);
    assert_int_equal(c->params[4].init.kind, IR_INIT_ORTHOGONAL);
    /* default: uniform(-1/sqrt(H), 1/sqrt(H)) with H the first size */
    assert_int_equal(c->params[5].init.kind, IR_INIT_UNIFORM);
    assert_true(fabs(c->params[5].init.b - 1 / sqrt(5.0)) < 1e-12);
    assert_string_equal(m->tensors[c->params[4].tensor].name, "p.Q");
    /* K = 2 by default: a scalar constant node of value 2 */
    bool found_k = false;
    for (int i = 0; i < c->nnodes; i++)
        found_k = found_k || (c->nodes[i].op == IR_OP_CONST && c->nodes[i].value == 2);
    assert_true(found_k);
    /* bidirectional user cell: _reverse names, width doubled */
    const IrLayer *q = &m->layers[2];
    assert_int_equal(q->width, 8);
    assert_int_equal(q->ncells, 2);
    assert_true(ir_find_tensor(m, "q.W_reverse") >= 0);
    assert_int_equal(m->tensors[ir_find_tensor(m, "q.W")].shape[1], 5);
    bool found_3 = false;
    for (int i = 0; i < q->cells[0].nnodes; i++)
        found_3 = found_3 || (q->cells[0].nodes[i].op == IR_OP_CONST &&
                              q->cells[0].nodes[i].value == 3);
    assert_true(found_3);
    /* reverse=true: one cell running backwards, plain names */
    const IrLayer *r = &m->layers[3];
    assert_int_equal(r->ncells, 1);
    assert_true(r->cells[0].reverse);
    assert_true(ir_find_tensor(m, "r.W") >= 0);
    assert_int_equal(ir_find_tensor(m, "r.W_reverse"), -1);
    /* every tensor counted once */
    int64_t total = 0;
    for (int i = 0; i < m->ntensors; i++)
        total += m->tensors[i].size;
    assert_int_equal(total, m->nparams);
    ir_model_free(m);
    diag_free(&d);
}

/* --set: vocab/classes, consts, data/train settings (replacing or adding), bad names. */
static void test_set_overrides(void **state)
{
    (void)state;
    const char *text = "const H = 8\nmodel m {\n input tokens(vocab=10)\n embedding(H)\n"
                       " dense(classes)\n}\ntrain {\n batch = 32\n optimizer = adam(lr=0.1)\n}\n";
    const char *sets[] = { "vocab=12", "classes=3", "H=4", "batch=64",
                           "optimizer=sgd(lr=0.5, momentum=0.9)", "data=x", "seed=7" };
    Diag d;
    diag_init(&d);
    IrModel *m = compile(&d, text, sets, 5);
    assert_non_null(m);
    assert_int_equal(m->vocab, 12);         /* --set wins over tokens(vocab=10) */
    assert_int_equal(m->classes, 3);
    assert_int_equal(m->layers[1].width, 4);
    assert_int_equal(m->tensors[0].shape[0], 12);
    const IrSetting *b = ir_find_setting(m->train, m->ntrain, "batch");
    assert_non_null(b);
    assert_int_equal(b->value.kind, IR_VAL_NUM);
    assert_true(b->value.num == 64);
    const IrSetting *o = ir_find_setting(m->train, m->ntrain, "optimizer");
    assert_int_equal(o->value.kind, IR_VAL_CALL);
    assert_string_equal(o->value.str, "sgd");
    assert_int_equal(o->value.nargs, 2);
    assert_string_equal(o->value.args[1].name, "momentum");
    assert_true(o->value.args[1].value.num == 0.9);
    assert_int_equal(m->ntrain, 2);
    ir_model_free(m);
    /* a setting absent from the file is added */
    const char *s2[] = { "seed=7", "classes=2" };
    m = compile(&d, text, s2, 2);
    assert_non_null(m);
    assert_int_equal(m->ntrain, 3);
    assert_true(ir_find_setting(m->train, m->ntrain, "seed")->value.num == 7);
    ir_model_free(m);
    diag_free(&d);
    const char *bad[] = { "bach=4" };
    fails_with(text, bad, 1, "--set: error: unknown setting 'bach'; did you mean 'batch'?", NULL);
    const char *bad2[] = { "batch" };
    fails_with(text, bad2, 1, "expected NAME=VALUE, got 'batch'", NULL);
    const char *bad3[] = { "batch=0" };
    fails_with(text, bad3, 1, "batch must be an integer >= 1, got 0", NULL);
    const char *bad4[] = { "optimizer=adam(lr=0.1" };
    fails_with(text, bad4, 1, "cannot read the value in 'optimizer=adam(lr=0.1'", NULL);
    const char *bad5[] = { "vocab=abc" };
    fails_with(text, bad5, 1, "'vocab' needs a number", NULL);
}

/* vocab/classes left auto: an error that says how to bind them, or placeholders. */
static void test_unbound_sizes(void **state)
{
    (void)state;
    const char *text = "model m {\n input tokens(vocab=auto)\n embedding(8)\n lstm(8)\n"
                       " pool(last)\n dense(classes)\n}\n";
    fails_with(text, NULL, 0, "the model needs 'vocab', but nothing gives its value",
               "help: pass --set vocab=N", "'classes'", NULL);
    Diag d;
    diag_init(&d);
    const Source *src = diag_add_source(&d, "t.rnn", text, strlen(text));
    SemaOptions o = { .allow_auto = true, .auto_vocab = 77, .auto_classes = 5 };
    IrModel *m = sema_compile_opts(&d, src, NULL, 0, &o);
    assert_non_null(m);
    assert_true(o.vocab_auto);
    assert_true(o.classes_auto);
    assert_int_equal(m->vocab, 77);
    assert_int_equal(m->classes, 5);
    assert_int_equal(m->tensors[0].shape[0], 77);
    ir_model_free(m);
    /* bound by --set: no placeholder used */
    const char *sets[] = { "vocab=9", "classes=2" };
    m = sema_compile_opts(&d, src, sets, 2, &o);
    assert_non_null(m);
    assert_false(o.vocab_auto);
    assert_false(o.classes_auto);
    ir_model_free(m);
    diag_free(&d);
}

/* Settings are stored as written, validated by kind. */
static void test_settings_stored(void **state)
{
    (void)state;
    Diag d;
    diag_init(&d);
    IrModel *m = ok(&d, "const LR = 0.002\nmodel m {\n input vector(2)\n dense(1)\n}\n"
                        "data {\n source = text(\"corpus.txt\", level=byte)\n valid = 0.05\n}\n"
                        "train {\n optimizer = adam(LR, beta2=0.99)\n schedule = step\n"
                        " bptt = full\n loss = mse\n}\n", NULL, 0);
    assert_int_equal(m->ndata, 2);
    const IrValue *src = &m->data[0].value;
    assert_string_equal(m->data[0].name, "source");
    assert_int_equal(src->kind, IR_VAL_CALL);
    assert_string_equal(src->str, "text");
    assert_int_equal(src->args[0].value.kind, IR_VAL_STR);
    assert_string_equal(src->args[0].value.str, "corpus.txt");
    assert_string_equal(src->args[0].name, "path");      /* positional args get their name */
    assert_string_equal(src->args[1].name, "level");
    assert_string_equal(src->args[1].value.str, "byte");
    const IrValue *opt = &ir_find_setting(m->train, m->ntrain, "optimizer")->value;
    assert_true(opt->args[0].value.num == 0.002);         /* a const in a setting */
    assert_string_equal(opt->args[0].name, "lr");
    /* bare words are calls without arguments */
    assert_int_equal(ir_find_setting(m->train, m->ntrain, "schedule")->value.kind, IR_VAL_CALL);
    assert_int_equal(ir_find_setting(m->train, m->ntrain, "loss")->value.nargs, 0);
    assert_int_equal(ir_find_setting(m->train, m->ntrain, "bptt")->value.kind, IR_VAL_IDENT);
    assert_null(ir_find_setting(m->train, m->ntrain, "steps"));
    ir_model_free(m);
    diag_free(&d);
    fails_with("model m {\n input vector(2)\n dense(1)\n}\ndata {\n source = txt(\"a\")\n}\n",
               NULL, 0, "unknown data source 'txt'; did you mean 'text'?",
               "help: valid: text, csv, adding, reber, copy", NULL);
    fails_with("model m {\n input vector(2)\n dense(1)\n}\ndata {\n source = adding(length=0)\n}\n",
               NULL, 0, "adding: length must be an integer >= 1, got 0", NULL);
}

/* Errors that need a message check beyond the golden files. */
static void test_error_messages(void **state)
{
    (void)state;
    fails_with("model m {\n input vector(3)\n lstm(4, bidirectional=true)\n"
               " residual {\n  dense(4)\n }\n}\n", NULL, 0,
               "residual: the group's output is [4] but its input is [8]", NULL);
    fails_with("model m {\n input vector(3)\n peep(4)\n}\n", NULL, 0,
               "unknown layer 'peep'", NULL);
    fails_with("cell c(H) {\n input x : [I]\n state h : [H]\n param W : [H, I] = unifrm(0, 1)\n"
               " h = W @ x\n output h\n}\nmodel m {\n input vector(3)\n c(2)\n}\n", NULL, 0,
               "unknown initialiser 'unifrm'; did you mean 'uniform'?", NULL);
    fails_with("cell c(H) {\n input x : [I]\n state h : [H]\n param W : [H, I] = uniform(1, 0)\n"
               " h = W @ x\n output h\n}\nmodel m {\n input vector(3)\n c(2)\n}\n", NULL, 0,
               "uniform(a, b) needs a <= b", NULL);
    fails_with("cell c(H) {\n input x : [I]\n state h : [H]\n param W : [H, I]\n"
               " h = W @ x\n output h\n}\nmodel m {\n input vector(3)\n c(2, 5)\n}\n", NULL, 0,
               "c takes 1 positional argument", NULL);
    fails_with("model m {\n input vector(3)\n dense(4, from=dense1)\n}\n", NULL, 0,
               "dense1 cannot read its own output", NULL);
    fails_with("model m {\n input vector(3)\n lstm(4, direction=reverse)\n}\n", NULL, 0,
               "lstm has no option 'direction'", "valid options of lstm are hidden, layers, "
               "dropout, bidirectional, reverse, recurrent_activation, from", NULL);
    fails_with("model m {\n input vector(3)\n gru(4, reverse=true, bidirectional=true)\n}\n",
               NULL, 0, "reverse=true and bidirectional=true cannot be combined", NULL);
    fails_with("model m {\n input vector(3)\n rnn(4, reverse=3)\n}\n", NULL, 0, "reverse",
               NULL);
    fails_with("cell c(H) {\n input x : [I]\n state h : [H]\n h = 2\n output h\n}\n"
               "model m {\n input vector(3)\n c(2)\n}\n", NULL, 0,
               "state 'h' is [2] but is assigned a scalar", NULL);
    fails_with("cell c(H) {\n input x : [I]\n state h : [H]\n h = [x, x]\n output h\n}\n"
               "model m {\n input vector(3)\n c(2)\n}\n", NULL, 0,
               "state 'h' is [2] but is assigned [6]", NULL);
    fails_with("model a {\n input vector(3)\n}\nmodel b {\n input vector(3)\n}\n", NULL, 0,
               "a second 'model' block", NULL);
    fails_with("const vocab = 3\nmodel a {\n input vector(3)\n}\n", NULL, 0,
               "'vocab' is a reserved size name", NULL);
    fails_with("model a {\n input vector(3)\n repeat 2 {\n  x: dense(3)\n }\n x: dense(3)\n"
               " dense(3, from=x_3)\n}\n", NULL, 0, "unknown label 'x_3'; did you mean 'x_1'?",
               NULL);
}

/* Numbers call the unary functions of ops.def with op_math.h's formulas: sizes, consts and
 * initialiser bounds; anything else is refused with the list from the same table. */
static void test_number_functions(void **state)
{
    (void)state;
    Diag d;
    diag_init(&d);
    IrModel *m = compile(&d, "const k = softplus(0) * 0 + sqrt(16)\n"
                             "cell c(H) {\n input x : [I]\n state h : [H]\n"
                             " param W : [H, I] = uniform(-abs(-0.5), relu(0.5))\n"
                             " h = tanh(W @ x)\n output h\n}\n"
                             "model m {\n input vector(3)\n dense(k)\n dense(abs(-3))\n"
                             " c(relu(2))\n}\n", NULL, 0);
    assert_non_null(m);
    assert_int_equal(m->layers[1].width, 4);
    assert_int_equal(m->layers[2].width, 3);
    assert_int_equal(m->layers[3].width, 2);
    assert_true(m->layers[3].cells[0].params[0].init.a == -0.5);
    assert_true(m->layers[3].cells[0].params[0].init.b == 0.5);
    ir_model_free(m);
    diag_free(&d);
    fails_with("model m {\n input vector(3)\n dense(sqr(16))\n}\n", NULL, 0,
               "'sqr' cannot be used in a number here; did you mean 'sqrt'?",
               "numbers may use + - * / and sigmoid, tanh, relu, exp, log, sqrt, abs, "
               "softplus, softsign", NULL);
    fails_with("model m {\n input vector(3)\n dense(max(2, 3))\n}\n", NULL, 0,
               "'max' cannot be used in a number here", NULL);
    fails_with("model m {\n input vector(3)\n dense(log(0))\n}\n", NULL, 0,
               "log of 0 is not a real number", NULL);
}

/* An unknown argument of a call is reported at its name, in the file and in --set (where
 * there is no source: the message says --set). */
static void test_unknown_argument_name(void **state)
{
    (void)state;
    const char *text = "model m {\n input vector(3)\n dense(1)\n}\n"
                       "train {\n optimizer = adam(beta=0.9)\n}\n";
    fails_with(text, NULL, 0, "t.rnn:6:19: error: adam has no argument 'beta'; did you mean "
               "'beta1'?", "      |                   ^~~~\n", NULL);
    const char *sets[] = { "optimizer=sgd(lr=0.1, momentm=0.5)" };
    fails_with("model m {\n input vector(3)\n dense(1)\n}\n", sets, 1,
               "--set: error: sgd has no argument 'momentm'; did you mean 'momentum'?", NULL);
}

/* Width errors name both widths: add, residual, a cell's state, and a concatenation past the
 * size limit (the part that overflows and the width before it). */
static void test_width_errors_name_both(void **state)
{
    (void)state;
    fails_with("model m {\n input vector(3)\n a: dense(4)\n b: dense(5)\n add(a, b)\n}\n",
               NULL, 0, "add needs equal widths: a is [4] but b is [5]", NULL);
    fails_with("model m {\n input vector(3)\n a: dense(200000000)\n"
               " b: dense(200000000, from=a)\n concat(a, b)\n}\n", NULL, 0,
               "the concatenation is too wide: b is [200000000] after [200000000] (the limit "
               "is 268435456)", NULL);
    fails_with("cell c(H) {\n input x : [I]\n state h : [H]\n param W : [H, I]\n"
               " h = tanh(W @ x)\n y = [h, h]\n output y\n}\n"
               "model m {\n input vector(3)\n c(200000000)\n}\n", NULL, 0,
               "the concatenation is too wide: [200000000] after [200000000]", NULL);
}

/* Concatenation and constants in cells: widths, folding, hoisting flags. */
static void test_cell_expressions(void **state)
{
    (void)state;
    Diag d;
    diag_init(&d);
    IrModel *m = ok(&d, "cell c(H) {\n input x : [I]\n state h : [H]\n param W : [H, I + H]\n"
                        " z = W @ [x, h[t-1]]\n k = -(1 / 4)\n h = tanh(z) * k + softplus(-z)\n"
                        " output h\n}\nmodel m {\n input vector(3)\n c(5)\n}\n", NULL, 0);
    const IrCell *c = &m->layers[1].cells[0];
    int cat = -1, k = -1;
    for (int i = 0; i < c->nnodes; i++) {
        if (c->nodes[i].op == IR_OP_CONCAT)
            cat = i;
        if (c->nodes[i].name && !strcmp(c->nodes[i].name, "k"))
            k = i;
    }
    assert_true(cat >= 0);
    assert_int_equal(c->nodes[cat].width, 8);
    assert_true(c->nodes[cat].uses_state);
    assert_int_equal(c->nodes[k].op, IR_OP_CONST);       /* folded */
    assert_true(c->nodes[k].value == -0.25);
    assert_true(c->nodes[k].scalar);
    assert_int_equal(c->nodes[c->output].width, 5);
    ir_model_free(m);
    diag_free(&d);
}

/* The cell with body `h = <expr>` compiled with H = 4 (x is [3], W : [H, I], k : [H]); the value
 * of its constant node named "c" (or NAN when the model fails or c is not a constant). */
static double folded(const char *expr)
{
    char text[1024];
    snprintf(text, sizeof text, "cell f(H) {\n input x : [I]\n state h : [H]\n param W : [H, I]\n"
             " c = %s\n h = tanh(W @ x) * c\n output h\n}\nmodel m {\n input vector(3)\n f(4)\n}\n",
             expr);
    Diag d;
    diag_init(&d);
    IrModel *m = compile(&d, text, NULL, 0);
    double v = NAN;
    if (m) {
        const IrCell *c = &m->layers[1].cells[0];
        for (int i = 0; i < c->nnodes; i++)
            if (c->nodes[i].name && !strcmp(c->nodes[i].name, "c") && c->nodes[i].op == IR_OP_CONST)
                v = c->nodes[i].value;
    } else {
        diag_print(&d, stderr);
        fail_msg("expected `c = %s` to compile", expr);
    }
    ir_model_free(m);
    diag_free(&d);
    return v;
}

/* A cell whose body is `h = <expr>` (x : [3], W : [H, I], V : [3, I], k : [H], H = 4). */
static char *cell_text(const char *expr, char *buf, size_t cap)
{
    snprintf(buf, cap, "cell f(H) {\n input x : [I]\n state h : [H]\n param W : [H, I], "
             "V : [3, I], k : [H]\n h = %s\n output h\n}\nmodel m {\n input vector(3)\n f(4)\n}\n",
             expr);
    return buf;
}

/* reverse=true on the built-ins (issue 9): every level's cell runs backwards, the fused kernel
 * is kept (the kernels take the direction), and the tensors keep PyTorch's _l<k> names. */
static void test_builtin_reverse(void **state)
{
    (void)state;
    Diag d;
    diag_init(&d);
    IrModel *m = ok(&d, "model m {\n input vector(3)\n lstm(4, reverse=true, layers=2)\n"
                        " gru(4, reverse=true)\n rnn(4, activation=relu, reverse=true)\n"
                        " gru(4, reverse=false)\n}\n", NULL, 0);
    static const IrBuiltin kinds[] = { IR_CELL_LSTM, IR_CELL_GRU, IR_CELL_RNN_RELU, IR_CELL_GRU };
    for (int l = 1; l <= 4; l++) {
        const IrLayer *L = &m->layers[l];
        assert_int_equal(L->builtin, kinds[l - 1]);
        assert_false(L->bidirectional);
        for (int c = 0; c < L->ncells; c++)
            assert_int_equal(L->cells[c].reverse, l < 4);
    }
    assert_int_equal(m->layers[1].ncells, 2);
    assert_true(ir_find_tensor(m, "lstm1.weight_ih_l1") >= 0);
    assert_int_equal(ir_find_tensor(m, "lstm1.weight_ih_l0_reverse"), -1);
    ir_model_free(m);
    diag_free(&d);
}

/* The functions added through ops.def rows: hardsigmoid, min, max and clip -- shape rules
 * (scalar broadcast like + and *), arity, constant bounds, folding -- and softplus folding with
 * the one, stable formula. */
static void test_cell_functions(void **state)
{
    (void)state;
    char t[1024];
    Diag d;
    diag_init(&d);
    IrModel *m = ok(&d, cell_text("max(W @ x, 0.5) + min(k, h[t-1]) + clip(k, -1, 1 / 2) + "
                                  "hardsigmoid(W @ x)", t, sizeof t), NULL, 0);
    const IrCell *c = &m->layers[1].cells[0];
    int seen[IR_OP_COUNT] = { 0 };
    for (int i = 0; i < c->nnodes; i++) {
        const IrNode *n = &c->nodes[i];
        seen[n->op]++;
        if (n->op == IR_OP_MAX || n->op == IR_OP_MIN || n->op == IR_OP_CLIP ||
            n->op == IR_OP_HARDSIGMOID) {
            assert_int_equal(n->width, 4);
            assert_false(n->scalar);
        }
        if (n->op == IR_OP_CLIP) {
            assert_int_equal(n->nin, 3);
            assert_true(c->nodes[n->in[1]].value == -1 && c->nodes[n->in[2]].value == 0.5);
        }
    }
    assert_int_equal(seen[IR_OP_MAX] + seen[IR_OP_MIN] + seen[IR_OP_CLIP], 3);
    assert_int_equal(seen[IR_OP_HARDSIGMOID], 1);
    ir_model_free(m);
    diag_free(&d);
    /* constant folding with the ops' own formulas */
    assert_true(folded("max(2, 3)") == 3 && folded("min(2, -3)") == -3);
    assert_true(folded("clip(5, -1, 1)") == 1 && folded("clip(-5, -1, 1)") == -1);
    assert_true(folded("clip(0.25, -1, 1)") == 0.25);
    assert_true(fabs(folded("hardsigmoid(1)") - 0.7) < 1e-15);
    assert_true(folded("hardsigmoid(10)") == 1 && folded("hardsigmoid(-10)") == 0);
    /* ONNX's activations, with their defaults filled in and given explicitly */
    assert_true(fabs(folded("hardsigmoid(1, 0.5, 0.25)") - 0.75) < 1e-15);
    assert_true(fabs(folded("leakyrelu(-2)") + 0.02) < 1e-15);
    assert_true(fabs(folded("leakyrelu(-2, 0.5)") + 1) < 1e-15 && folded("leakyrelu(3)") == 3);
    assert_true(folded("thresholdedrelu(1)") == 0 && folded("thresholdedrelu(1.5)") == 1.5);
    assert_true(folded("thresholdedrelu(0.5, 0.25)") == 0.5);
    assert_true(fabs(folded("elu(-1)") - expm1(-1.0)) < 1e-15);
    assert_true(fabs(folded("elu(-1, 2)") - 2 * expm1(-1.0)) < 1e-15);
    assert_true(fabs(folded("scaledtanh(0.5)") - tanh(0.5)) < 1e-15);
    assert_true(fabs(folded("scaledtanh(0.5, 2, 3)") - 2 * tanh(1.5)) < 1e-15);
    assert_true(folded("affine(3)") == 3 && fabs(folded("affine(3, 2, 1)") - 7) < 1e-15);
    assert_true(fabs(folded("softsign(-3)") + 0.75) < 1e-15);
    assert_true(folded("softplus(40)") == 40 + log1p(exp(-40.0)));
    assert_true(folded("softplus(-40)") == log1p(exp(-40.0)));
    /* shape rules and arity */
    fails_with(cell_text("max(W @ x, V @ x)", t, sizeof t), NULL, 0,
               "max needs arguments of equal width or a scalar: W @ x is [4] but V @ x is [3]",
               NULL);
    fails_with(cell_text("min(W, k)", t, sizeof t), NULL, 0,
               "W is [4, 3], a matrix; it can only be used on the left of '@'", NULL);
    fails_with(cell_text("max(k)", t, sizeof t), NULL, 0, "max takes two arguments, got 1", NULL);
    fails_with(cell_text("clip(k, 1)", t, sizeof t), NULL, 0,
               "clip takes three arguments, got 2", NULL);
    fails_with(cell_text("hardsigmoid(k, k)", t, sizeof t), NULL, 0,
               "hardsigmoid(x, alpha, beta) needs constant parameters, but k is [4]", NULL);
    fails_with(cell_text("hardsigmoid(k, 1, 2, 3)", t, sizeof t), NULL, 0,
               "hardsigmoid takes one to three arguments (hardsigmoid(x, alpha, beta)), got 4",
               NULL);
    fails_with(cell_text("leakyrelu(k, 0.1, 2)", t, sizeof t), NULL, 0,
               "leakyrelu takes one or two arguments (leakyrelu(x, alpha)), got 3", NULL);
    fails_with(cell_text("elu()", t, sizeof t), NULL, 0,
               "elu takes one or two arguments (elu(x, alpha)), got 0", NULL);
    fails_with(cell_text("clip(k, -1, h[t-1])", t, sizeof t), NULL, 0,
               "clip(x, lo, hi) needs constant bounds, but h[t-1] is [4]", NULL);
    fails_with(cell_text("clip(k, 1, -1)", t, sizeof t), NULL, 0,
               "clip(x, lo, hi) needs lo <= hi, got lo = 1 and hi = -1", NULL);
    fails_with(cell_text("tanh(hardsigmod(k))", t, sizeof t), NULL, 0,
               "unknown function 'hardsigmod'; did you mean 'hardsigmoid'?", NULL);
}

/* Constants fold only to finite numbers: log(0), sqrt(-1) and 1/0 stay nodes. */
static void test_fold_refuses_non_finite(void **state)
{
    (void)state;
    static const char *const exprs[] = { "log(0)", "sqrt(-1)", "1 / 0", "log(-1) * 2" };
    for (size_t i = 0; i < sizeof exprs / sizeof exprs[0]; i++)
        assert_true(isnan(folded(exprs[i])));
    assert_true(folded("log(1)") == 0 && folded("sqrt(4) / 2") == 1);
}

/* Every syntax golden file (bad bytes, deep nesting, broken blocks) goes through sema without
 * crashing: either it compiles, or it fails with at least one error. */
static void test_bad_input_never_crashes(void **state)
{
    (void)state;
    const char *top = getenv("top_srcdir");
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/tests/golden/syntax", top ? top : SRCDIR);
    DIR *dp = opendir(dir);
    if (!dp)
        skip();
    int n = 0;
    for (struct dirent *e; (e = readdir(dp));) {
        size_t len = strlen(e->d_name);
        if (len < 5 || strcmp(e->d_name + len - 4, ".rnn"))
            continue;
        char path[2048];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        Diag d;
        diag_init(&d);
        const Source *src = diag_load_file(&d, path, 16u << 20);
        SemaOptions o = { .allow_auto = true };
        IrModel *m = src ? sema_compile_opts(&d, src, NULL, 0, &o) : NULL;
        assert_true(m != NULL || diag_error_count(&d) > 0);
        ir_model_free(m);
        diag_free(&d);
        n++;
    }
    closedir(dp);
    assert_true(n > 0);
}

/* vocab bound by the input is visible in consts and sizes anywhere, and in cells. */
static void test_vocab_from_input(void **state)
{
    (void)state;
    Diag d;
    diag_init(&d);
    IrModel *m = ok(&d, "const V2 = vocab * 2\ncell c(H) {\n input x : [I]\n state h : [H]\n"
                        " param W : [H, I] = uniform(-1 / vocab, 1 / vocab)\n"
                        " h = tanh(W @ x + h[t-1])\n output h\n}\n"
                        "model m {\n input tokens(vocab=2 * 5)\n embedding(V2)\n c(vocab)\n}\n",
                    NULL, 0);
    assert_int_equal(m->vocab, 10);
    assert_int_equal(m->layers[1].width, 20);
    assert_int_equal(m->layers[2].width, 10);
    assert_true(m->tensors[1].init.b == 0.1);
    ir_model_free(m);
    diag_free(&d);
    fails_with("model m {\n input tokens(vocab=0)\n onehot\n}\n", NULL, 0,
               "vocab must be at least 1, got 0", NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_widths_through_model),
        cmocka_unit_test(test_repeat_and_residual),
        cmocka_unit_test(test_user_cell),
        cmocka_unit_test(test_set_overrides),
        cmocka_unit_test(test_unbound_sizes),
        cmocka_unit_test(test_settings_stored),
        cmocka_unit_test(test_error_messages),
        cmocka_unit_test(test_cell_expressions),
        cmocka_unit_test(test_cell_functions), cmocka_unit_test(test_builtin_reverse),
        cmocka_unit_test(test_fold_refuses_non_finite),
        cmocka_unit_test(test_bad_input_never_crashes),
        cmocka_unit_test(test_vocab_from_input),
        cmocka_unit_test(test_number_functions),
        cmocka_unit_test(test_unknown_argument_name),
        cmocka_unit_test(test_width_errors_name_both),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
