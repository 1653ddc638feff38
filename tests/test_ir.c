/* test_ir: the IR that sema builds -- parameter counts and tensor names against PyTorch (numbers
 * computed with torch 2 and pinned here: nn.Embedding/nn.LSTM/nn.GRU/nn.Linear state_dicts),
 * the prelude cells' node graphs (op by op, with uses_state for hoisting), --explain (concrete
 * and symbolic) and DOT output checked by Graphviz itself when `dot` is installed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ir/dot.h"
#include "ir/explain.h"
#include "sema_testutil.h"
#include "util/file.h"

static const char charlm[] =
    "format 1\n"
    "model charlm {\n"
    "  input tokens(vocab=auto)\n"
    "  embedding(64)\n"
    "  lstm(512, layers=2, dropout=0.25)\n"
    "  dense(vocab)\n"
    "}\n";

/* nn.Embedding(65,64) + nn.LSTM(64,512,num_layers=2) + nn.Linear(512,65), state_dict order. */
static void test_charlm_matches_pytorch(void **state)
{
    (void)state;
    static const struct { const char *name; int d0, d1; } want[] = {
        { "embedding1.weight", 65, 64 },
        { "lstm1.weight_ih_l0", 2048, 64 }, { "lstm1.weight_hh_l0", 2048, 512 },
        { "lstm1.bias_ih_l0", 2048, 0 }, { "lstm1.bias_hh_l0", 2048, 0 },
        { "lstm1.weight_ih_l1", 2048, 512 }, { "lstm1.weight_hh_l1", 2048, 512 },
        { "lstm1.bias_ih_l1", 2048, 0 }, { "lstm1.bias_hh_l1", 2048, 0 },
        { "dense1.weight", 65, 512 }, { "dense1.bias", 65, 0 },
    };
    const char *sets[] = { "vocab=65" };
    Diag d;
    diag_init(&d);
    IrModel *m = compile(&d, charlm, sets, 1);
    assert_non_null(m);
    assert_int_equal(m->ntensors, 11);
    for (int i = 0; i < 11; i++) {
        assert_string_equal(m->tensors[i].name, want[i].name);
        assert_int_equal(m->tensors[i].ndim, want[i].d1 ? 2 : 1);
        assert_int_equal(m->tensors[i].shape[0], want[i].d0);
        if (want[i].d1)
            assert_int_equal(m->tensors[i].shape[1], want[i].d1);
    }
    /* torch: sum(p.numel() for p in model.parameters()) */
    assert_int_equal(m->nparams, 3322497);
    assert_int_equal(m->vocab, 65);
    assert_int_equal(m->classes, -1);
    assert_int_equal(m->nlayers, 4);
    assert_string_equal(m->layers[1].label, "embedding1");
    assert_string_equal(m->layers[2].label, "lstm1");
    assert_string_equal(m->layers[3].label, "dense1");
    assert_int_equal(m->output, 3);
    const IrLayer *l = &m->layers[2];
    assert_int_equal(l->builtin, IR_CELL_LSTM);
    assert_int_equal(l->num_layers, 2);
    assert_int_equal(l->ncells, 2);
    assert_int_equal(l->cells[0].input_width, 64);
    assert_int_equal(l->cells[1].input_width, 512);
    assert_true(fabs(l->p - 0.25) < 1e-12);
    assert_int_equal(l->width, 512);
    /* default init: uniform(-1/sqrt(512), 1/sqrt(512)), PyTorch's */
    assert_int_equal(m->tensors[1].init.kind, IR_INIT_UNIFORM);
    assert_true(fabs(m->tensors[1].init.b - 1 / sqrt(512.0)) < 1e-12);
    assert_true(fabs(m->tensors[1].init.a + 1 / sqrt(512.0)) < 1e-12);
    /* cell params point at their tensors */
    assert_int_equal(l->cells[1].params[0].tensor, ir_find_tensor(m, "lstm1.weight_ih_l1"));
    assert_int_equal(m->layers[3].width, 65);
    ir_model_free(m);
    diag_free(&d);
}

/* nn.GRU(10, 32, num_layers=2, bidirectional=True) + nn.Linear(64, 5): 27,589 parameters. */
static void test_bidirectional_gru_matches_pytorch(void **state)
{
    (void)state;
    const char *src = "model g {\n input vector(10)\n gru(32, layers=2, bidirectional=true)\n"
                      " pool(last)\n dense(classes)\n}\n";
    const char *sets[] = { "classes=5" };
    Diag d;
    diag_init(&d);
    IrModel *m = compile(&d, src, sets, 1);
    assert_non_null(m);
    assert_int_equal(m->nparams, 27589);
    assert_int_equal(m->ntensors, 18);
    assert_string_equal(m->tensors[4].name, "gru1.weight_ih_l0_reverse");
    assert_string_equal(m->tensors[8].name, "gru1.weight_ih_l1");
    assert_int_equal(m->tensors[8].shape[1], 64);
    assert_string_equal(m->tensors[15].name, "gru1.bias_hh_l1_reverse");
    const IrLayer *l = &m->layers[1];
    assert_int_equal(l->ncells, 4);
    assert_false(l->cells[0].reverse);
    assert_true(l->cells[1].reverse);
    assert_int_equal(l->width, 64);
    assert_int_equal(l->builtin, IR_CELL_GRU);
    assert_false(m->layers[2].sequence);
    assert_int_equal(m->classes, 5);
    assert_int_equal(m->vocab, -1);
    ir_model_free(m);
    diag_free(&d);
}

/* Index of the first node with op (and name, when given) in cell c, or -1. */
static int find_node(const IrCell *c, IrOpKind op, const char *name)
{
    for (int i = 0; i < c->nnodes; i++)
        if (c->nodes[i].op == op && (!name || (c->nodes[i].name &&
                                               !strcmp(c->nodes[i].name, name))))
            return i;
    return -1;
}

/* Checks the structural invariants the executor relies on. */
static void check_cell_invariants(const IrCell *c)
{
    for (int i = 0; i < c->nnodes; i++) {
        const IrNode *n = &c->nodes[i];
        bool us = n->op == IR_OP_STATE;
        for (int j = 0; j < n->nin; j++) {
            assert_true(n->in[j] >= 0 && n->in[j] < i);
            us = us || c->nodes[n->in[j]].uses_state;
        }
        assert_int_equal(n->uses_state, us);
        if (ir_op_arity[n->op] >= 0)
            assert_int_equal(n->nin, ir_op_arity[n->op]);
    }
    for (int s = 0; s < c->nstates; s++) {
        assert_true(c->states[s].next >= 0 && c->states[s].next < c->nnodes);
        assert_int_equal(c->nodes[c->states[s].next].width, c->states[s].width);
    }
}

/* The prelude LSTM: chunk into i, f, g, o; c = f*c[t-1] + i*g; h = o*tanh(c). */
static void test_prelude_lstm_graph(void **state)
{
    (void)state;
    Diag d;
    diag_init(&d);
    IrModel *m = compile(&d, "model m {\n input vector(3)\n lstm(4)\n}\n", NULL, 0);
    assert_non_null(m);
    const IrCell *c = &m->layers[1].cells[0];
    check_cell_invariants(c);
    assert_string_equal(c->name, "lstm");
    assert_int_equal(c->nstates, 2);
    assert_string_equal(c->states[0].name, "h");
    assert_string_equal(c->states[1].name, "c");
    assert_int_equal(c->nparams, 4);
    assert_int_equal(c->params[0].rows, 16);
    assert_int_equal(c->params[0].cols, 3);
    assert_int_equal(c->params[2].rows, 0);
    assert_int_equal(c->params[2].cols, 16);
    /* W_ih @ x does not use the state (hoistable); W_hh @ h[t-1] does */
    int wx = -1, wh = -1;
    for (int i = 0; i < c->nnodes; i++)
        if (c->nodes[i].op == IR_OP_MATVEC) {
            int w = c->nodes[i].in[0];
            if (!strcmp(c->nodes[w].name, "weight_ih"))
                wx = i;
            else
                wh = i;
        }
    assert_true(wx >= 0 && wh >= 0);
    assert_false(c->nodes[wx].uses_state);
    assert_true(c->nodes[wh].uses_state);
    assert_int_equal(c->nodes[wx].width, 16);
    /* four slices of width 4 at offsets 0, 4, 8, 12 */
    int zg = find_node(c, IR_OP_SLICE, "zg");
    assert_true(zg >= 0);
    assert_int_equal(c->nodes[zg].aux, 8);
    assert_int_equal(c->nodes[zg].width, 4);
    /* c = f * c[t-1] + i * g */
    int cn = c->states[1].next;
    assert_int_equal(c->nodes[cn].op, IR_OP_ADD);
    const IrNode *fc = &c->nodes[c->nodes[cn].in[0]];
    assert_int_equal(fc->op, IR_OP_MUL);
    assert_string_equal(c->nodes[fc->in[0]].name, "f");
    assert_int_equal(c->nodes[fc->in[1]].op, IR_OP_STATE);
    assert_int_equal(c->nodes[fc->in[1]].aux, 1);
    /* h = o * tanh(c), and h is the output */
    int hn = c->states[0].next;
    assert_int_equal(c->output, hn);
    assert_int_equal(c->nodes[hn].op, IR_OP_MUL);
    assert_string_equal(c->nodes[c->nodes[hn].in[0]].name, "o");
    assert_int_equal(c->nodes[c->nodes[hn].in[1]].op, IR_OP_TANH);
    assert_int_equal(c->nodes[c->nodes[hn].in[1]].in[0], cn);
    ir_model_free(m);
    diag_free(&d);
}

/* The prelude GRU: reset applied to (W_hn h + b_hn); h = (1 - z) * n + z * h[t-1]. */
static void test_prelude_gru_graph(void **state)
{
    (void)state;
    Diag d;
    diag_init(&d);
    IrModel *m = compile(&d, "model m {\n input vector(3)\n gru(5)\n}\n", NULL, 0);
    assert_non_null(m);
    const IrCell *c = &m->layers[1].cells[0];
    check_cell_invariants(c);
    int n = find_node(c, IR_OP_TANH, "n");
    assert_true(n >= 0);
    const IrNode *sum = &c->nodes[c->nodes[n].in[0]];        /* xn + r * hn */
    assert_int_equal(sum->op, IR_OP_ADD);
    assert_string_equal(c->nodes[sum->in[0]].name, "xn");
    const IrNode *rh = &c->nodes[sum->in[1]];
    assert_int_equal(rh->op, IR_OP_MUL);
    assert_string_equal(c->nodes[rh->in[0]].name, "r");
    assert_string_equal(c->nodes[rh->in[1]].name, "hn");
    /* xn comes from the input projection only: hoistable */
    assert_false(c->nodes[find_node(c, IR_OP_SLICE, "xn")].uses_state);
    assert_true(c->nodes[find_node(c, IR_OP_SLICE, "hn")].uses_state);
    /* (1 - z): a SUB with a scalar constant 1 on the left */
    int sub = find_node(c, IR_OP_SUB, NULL);
    assert_true(sub >= 0);
    assert_int_equal(c->nodes[c->nodes[sub].in[0]].op, IR_OP_CONST);
    assert_true(c->nodes[c->nodes[sub].in[0]].scalar);
    assert_true(c->nodes[c->nodes[sub].in[0]].value == 1.0);
    assert_int_equal(c->nodes[sub].width, 5);
    assert_false(c->nodes[sub].scalar);
    assert_int_equal(m->layers[1].builtin, IR_CELL_GRU);
    ir_model_free(m);
    diag_free(&d);
}

/* rnn(activation=relu) uses the prelude's relu cell and tags it for the fused kernel. */
static void test_prelude_rnn_relu(void **state)
{
    (void)state;
    Diag d;
    diag_init(&d);
    IrModel *m = compile(&d, "model m {\n input vector(3)\n rnn(7, activation=relu)\n"
                             " rnn(2)\n}\n", NULL, 0);
    assert_non_null(m);
    assert_int_equal(m->layers[1].builtin, IR_CELL_RNN_RELU);
    assert_int_equal(m->layers[2].builtin, IR_CELL_RNN_TANH);
    const IrCell *c = &m->layers[1].cells[0];
    check_cell_invariants(c);
    assert_int_equal(c->nodes[c->output].op, IR_OP_RELU);
    assert_string_equal(m->tensors[0].name, "rnn1.weight_ih_l0");
    assert_string_equal(m->tensors[4].name, "rnn2.weight_ih_l0");
    assert_int_equal(m->tensors[4].shape[1], 7);
    /* nn.RNN(3,7): 7*3 + 7*7 + 14 = 84; nn.RNN(7,2): 14 + 4 + 4 = 22 */
    assert_int_equal(m->nparams, 84 + 22);
    ir_model_free(m);
    diag_free(&d);
}

/* Captures what ir_explain writes for a model compiled once, as `recur check --explain`
 * does. */
static char *capture_explain(const char *text, const char *const *sets, int nsets)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    Diag d;
    diag_init(&d);
    const Source *src = diag_add_source(&d, "t.rnn", text, strlen(text));
    SemaOptions o = { .allow_auto = true, .auto_vocab = IR_EXPLAIN_PLACEHOLDER,
                      .auto_classes = IR_EXPLAIN_PLACEHOLDER };
    IrModel *m = sema_compile_opts(&d, src, sets, nsets, &o);    /* the one compile */
    if (m)
        ir_explain(m, f);
    ir_model_free(m);
    fclose(f);
    diag_free(&d);
    if (!m) {
        free(buf);
        return NULL;
    }
    return buf;
}

static void test_explain_concrete(void **state)
{
    (void)state;
    const char *sets[] = { "vocab=65" };
    char *s = capture_explain(charlm, sets, 1);
    assert_non_null(s);
    assert_non_null(strstr(s, "model charlm  (vocab = 65)"));
    assert_non_null(strstr(s, "total: 3,322,497 parameters in 11 tensors"));
    assert_non_null(strstr(s, "embedding1.weight"));
    assert_non_null(strstr(s, "[65, 64]"));
    assert_non_null(strstr(s, "4,160"));
    assert_non_null(strstr(s, "3,284,992"));     /* the LSTM layer */
    assert_non_null(strstr(s, "33,345"));        /* the dense layer */
    assert_non_null(strstr(s, "lstm, layers=2"));
    assert_non_null(strstr(s, "[2048, 512]"));
    assert_non_null(strstr(s, "[T, B] ids < 65"));
    free(s);
}

/* vocab unbound: sizes print as polynomials in vocab. */
static void test_explain_symbolic(void **state)
{
    (void)state;
    char *s = capture_explain(charlm, NULL, 0);
    assert_non_null(s);
    assert_non_null(strstr(s, "(vocab = auto)"));
    assert_non_null(strstr(s, "[vocab, 64]"));
    assert_non_null(strstr(s, "64*vocab\n"));
    assert_non_null(strstr(s, "513*vocab\n"));
    assert_non_null(strstr(s, "3,284,992\n"));
    assert_non_null(strstr(s, "total: 577*vocab + 3,284,992 parameters in 11 tensors"));
    assert_non_null(strstr(s, "[T, B] ids < vocab"));
    free(s);
    /* onehot -> dense(vocab): a vocab*vocab weight; classes too */
    s = capture_explain("model m {\n input tokens\n onehot\n dense(vocab)\n pool(mean)\n"
                        " dense(classes)\n}\n", NULL, 0);
    assert_non_null(s);
    assert_non_null(strstr(s, "vocab*vocab + vocab"));
    assert_non_null(strstr(s, "(classes = auto)"));
    assert_non_null(strstr(s, "vocab*classes + classes"));
    free(s);
}

/* Runs `dot -Tsvg` on text; returns its exit status (or -1 when dot cannot run). */
static int run_dot(const char *text)
{
    char path[] = "/tmp/test_ir_dot_XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0)
        return -1;
    FILE *f = fdopen(fd, "w");
    fputs(text, f);
    fclose(f);
    char cmd[512];
    snprintf(cmd, sizeof cmd, "'%s' -Tsvg '%s' >/dev/null 2>&1", DOT_PROG, path);
    int rc = system(cmd);
    unlink(path);
    return rc == -1 ? -1 : WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static char *capture_dot(const IrModel *m, const char *cell, Diag *d, int *rc)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (cell)
        *rc = ir_dot_cell(m, cell, d, f);
    else
        ir_dot_model(m, f), *rc = 0;
    fclose(f);
    return buf;
}

static void test_dot(void **state)
{
    (void)state;
    const char *sets[] = { "vocab=65" };
    Diag d;
    diag_init(&d);
    IrModel *m = compile(&d, charlm, sets, 1);
    assert_non_null(m);
    int rc;
    char *model = capture_dot(m, NULL, &d, &rc);
    assert_non_null(strstr(model, "l2 -> l3;"));
    char *cell = capture_dot(m, "lstm", &d, &rc);
    assert_int_equal(rc, 0);
    /* two states, each with a dashed t-1 edge */
    int dashed = 0;
    for (const char *p = cell; (p = strstr(p, "style=dashed, label=\"t-1\"")); p++)
        dashed++;
    assert_int_equal(dashed, 2);
    assert_non_null(strstr(cell, "c[t-1]"));
    char *none = capture_dot(m, "lstn", &d, &rc);
    assert_int_equal(rc, -1);
    char *msg = diag_text(&d);
    assert_non_null(strstr(msg, "did you mean 'lstm'?"));
    if (strcmp(DOT_PROG, "no") != 0 && access(DOT_PROG, X_OK) == 0) {
        assert_int_equal(run_dot(model), 0);
        assert_int_equal(run_dot(cell), 0);
        assert_int_not_equal(run_dot("digraph { a -> }"), 0);   /* the check can fail */
    }
    free(model);
    free(cell);
    free(none);
    free(msg);
    ir_model_free(m);
    diag_free(&d);
}

/* A user cell's DOT: the peephole cell reads c[t-1] in three places but has one t-1 read node
 * per state, each with exactly one dashed t-1 edge from the state's new value. */
static void test_dot_user_cell(void **state)
{
    (void)state;
    const char *text =
        "cell peephole(H) {\n input x : [I]\n state h : [H], c : [H]\n"
        " param W : [4*H, I], U : [4*H, H] = uniform(-0.08, 0.08)\n param b : [4*H] = 0\n"
        " param p_i : [H], p_f : [H], p_o : [H] = 0\n"
        " zi, zf, zg, zo = chunk(W @ x + U @ h[t-1] + b, 4)\n"
        " i = sigmoid(zi + p_i * c[t-1])\n f = sigmoid(zf + p_f * c[t-1])\n"
        " c = f * c[t-1] + i * tanh(zg)\n o = sigmoid(zo + p_o * c)\n h = o * tanh(c)\n"
        " output h\n}\nmodel m {\n input vector(3)\n pp: peephole(6)\n}\n";
    Diag d;
    diag_init(&d);
    IrModel *m = compile(&d, text, NULL, 0);
    assert_non_null(m);
    const IrCell *c = &m->layers[1].cells[0];
    int reads = 0;
    for (int i = 0; i < c->nnodes; i++)
        reads += c->nodes[i].op == IR_OP_STATE;
    assert_int_equal(reads, 2);
    int rc;
    char *dot = capture_dot(m, "pp", &d, &rc);   /* by layer label */
    assert_int_equal(rc, 0);
    char edge[64];
    snprintf(edge, sizeof edge, "  n%d -> n", c->states[1].next);
    const char *p = strstr(dot, edge);
    int dashed = 0;
    for (const char *q = dot; (q = strstr(q, "label=\"t-1\"")); q++)
        dashed++;
    assert_int_equal(dashed, 2);
    assert_non_null(p);
    assert_non_null(strstr(dot, "p_i\\n[6]"));
    assert_non_null(strstr(dot, "W\\n[24, 3]"));
    if (strcmp(DOT_PROG, "no") != 0 && access(DOT_PROG, X_OK) == 0)
        assert_int_equal(run_dot(dot), 0);
    free(dot);
    ir_model_free(m);
    diag_free(&d);
}

static void test_format_count(void **state)
{
    (void)state;
    char buf[32];
    assert_string_equal(ir_format_count(0, buf, sizeof buf), "0");
    assert_string_equal(ir_format_count(999, buf, sizeof buf), "999");
    assert_string_equal(ir_format_count(1000, buf, sizeof buf), "1,000");
    assert_string_equal(ir_format_count(3322497, buf, sizeof buf), "3,322,497");
    assert_string_equal(ir_format_count(-1234567, buf, sizeof buf), "-1,234,567");
}

/* vocab bound, classes auto: only classes is symbolic. */
static void test_explain_partly_symbolic(void **state)
{
    (void)state;
    const char *sets[] = { "vocab=7" };
    char *s = capture_explain("model m {\n input tokens\n embedding(4)\n gru(3)\n pool(last)\n"
                              " dense(classes)\n}\n", sets, 1);
    assert_non_null(s);
    assert_non_null(strstr(s, "(vocab = 7)  (classes = auto)"));
    assert_non_null(strstr(s, "[7, 4]"));
    /* gru: 3*(3*4 + 3*3 + 3 + 3) = 81; dense: 4*classes */
    assert_non_null(strstr(s, "total: 4*classes + 109 parameters in 7 tensors"));
    free(s);
}

/* Compiles text once with vocab/classes unbound at the placeholder p (NULL on errors). */
static IrModel *compile_auto(const char *text, int p)
{
    Diag d;
    diag_init(&d);
    const Source *src = diag_add_source(&d, "t.rnn", text, strlen(text));
    SemaOptions o = { .allow_auto = true, .auto_vocab = p, .auto_classes = p };
    IrModel *m = sema_compile_opts(&d, src, NULL, 0, &o);
    diag_free(&d);
    return m;
}

/* What ir_explain writes for m (malloc'd). */
static char *explain_text(const IrModel *m)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    ir_explain(m, f);
    fclose(f);
    return buf;
}

/* --explain with vocab unbound needs one compile: the IrSyms of a single model give every
 * symbolic size, and another placeholder gives the same symbols and the same text. */
static void test_explain_one_compile(void **state)
{
    (void)state;
    IrModel *m = compile_auto(charlm, IR_EXPLAIN_PLACEHOLDER);
    IrModel *other = compile_auto(charlm, 977);
    assert_non_null(m);
    assert_non_null(other);
    assert_true(m->vocab_auto && !m->classes_auto && m->sym_exact);
    assert_int_equal(m->vocab, IR_EXPLAIN_PLACEHOLDER);
    const IrTensor *emb = &m->tensors[0], *dw = &m->tensors[9];
    assert_true(ir_sym_equal(emb->shape_sym[0], (IrSym){ 0, 1, 0 }));
    assert_true(ir_sym_equal(emb->shape_sym[1], ir_sym_const(64)));
    assert_true(ir_sym_equal(dw->shape_sym[0], (IrSym){ 0, 1, 0 }));
    assert_true(ir_sym_equal(m->layers[3].width_sym, (IrSym){ 0, 1, 0 }));
    char *a = explain_text(m), *b = explain_text(other);
    assert_non_null(strstr(a, "total: 577*vocab + 3,284,992 parameters in 11 tensors"));
    assert_string_equal(a, b);
    free(a);
    free(b);
    ir_model_free(m);
    ir_model_free(other);
}

/* Every form evaluated at the compile's sizes is the integer beside it (the IrSym invariant),
 * for layers, tensors and every cell's input, states, params and nodes. */
static void check_syms(const IrModel *m)
{
    int64_t v = m->vocab, c = m->classes;
#define SYM_IS(sym, n) assert_int_equal(ir_sym_at(sym, v, c), n)
    for (int i = 0; i < m->nlayers; i++) {
        const IrLayer *l = &m->layers[i];
        SYM_IS(l->width_sym, l->width);
        if (l->vocab)
            SYM_IS(l->vocab_sym, l->vocab);
        for (int k = 0; k < l->ncells; k++) {
            const IrCell *cell = &l->cells[k];
            SYM_IS(cell->input_width_sym, cell->input_width);
            for (int j = 0; j < cell->nstates; j++)
                SYM_IS(cell->states[j].width_sym, cell->states[j].width);
            for (int j = 0; j < cell->nparams; j++) {
                SYM_IS(cell->params[j].rows_sym, cell->params[j].rows);
                SYM_IS(cell->params[j].cols_sym, cell->params[j].cols);
            }
            for (int j = 0; j < cell->nnodes; j++) {
                SYM_IS(cell->nodes[j].rows_sym, cell->nodes[j].rows);
                SYM_IS(cell->nodes[j].width_sym, cell->nodes[j].width);
            }
        }
    }
    for (int i = 0; i < m->ntensors; i++)
        for (int j = 0; j < m->tensors[i].ndim; j++)
            SYM_IS(m->tensors[i].shape_sym[j], m->tensors[i].shape[j]);
#undef SYM_IS
}

/* The example models and the symbolic test models keep the invariant at two placeholders,
 * and their forms do not depend on the placeholder. */
static void test_sym_invariant(void **state)
{
    (void)state;
    static const char *const files[] = { "charlm.rnn", "gru_classifier.rnn", "tagger.rnn",
                                         "peephole.rnn", "mgu.rnn", "adding.rnn" };
    const char *top = getenv("top_srcdir");
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/models/%s", top ? top : SRCDIR, files[i]);
        Diag d;
        diag_init(&d);
        const Source *src = diag_load_file(&d, path, 1 << 20);
        assert_non_null(src);
        char *text = strndup(src->text, src->len);
        diag_free(&d);
        IrModel *a = compile_auto(text, IR_EXPLAIN_PLACEHOLDER), *b = compile_auto(text, 840);
        assert_non_null(a);
        assert_non_null(b);
        check_syms(a);
        check_syms(b);
        assert_true(a->sym_exact);
        assert_int_equal(a->ntensors, b->ntensors);
        for (int t = 0; t < a->ntensors; t++)
            for (int j = 0; j < 2; j++)
                assert_true(ir_sym_equal(a->tensors[t].shape_sym[j], b->tensors[t].shape_sym[j]));
        free(text);
        ir_model_free(a);
        ir_model_free(b);
    }
}

/* A size or count that is not affine in an unbound size, or a check that held only at the
 * placeholder, is never printed as a formula: the note, then the values at the placeholder. */
static void test_explain_not_affine(void **state)
{
    (void)state;
    static const char *const models[] = {
        "model m {\n input tokens\n onehot\n dense(vocab*vocab)\n}\n",
        "model m {\n input tokens\n embedding(8)\n repeat vocab/240 { dense(8) }\n}\n",
        "model m {\n input tokens\n i: onehot\n a: dense(1680)\n b: dense(vocab, from=i)\n"
        " add(a, b)\n}\n",
        "model m {\n input tokens\n onehot\n gru(vocab/2)\n}\n",
        "model m {\n input tokens\n onehot\n dropout(1/vocab)\n}\n",
    };
    for (size_t i = 0; i < sizeof models / sizeof *models; i++) {
        IrModel *m = compile_auto(models[i], IR_EXPLAIN_PLACEHOLDER);
        assert_non_null(m);
        assert_false(m->sym_exact);
        check_syms(m);
        char *s = explain_text(m);
        assert_non_null(strstr(s, "is not affine in it"));
        assert_non_null(strstr(s, "so the model is shown with vocab = 1680; pass --set vocab=N"));
        assert_non_null(strstr(s, "(vocab = 1680)"));
        assert_null(strstr(s, "vocab]"));
        assert_null(strstr(s, "vocab = auto"));
        assert_non_null(strstr(s, "ids < 1680"));
        free(s);
        ir_model_free(m);
    }
    /* chunk of a vocab-wide vector in 3 (vocab/3 is not an integer for every vocab) */
    IrModel *m = compile_auto("cell c(H) {\n input x : [I]\n state h : [H]\n"
                              " param W : [H, I], U : [H, I]\n a, b, d = chunk(x, 3)\n"
                              " h = tanh(W @ [a, b, d] + U @ x)\n output h\n}\n"
                              "model m {\n input tokens\n onehot\n c(4)\n}\n",
                              IR_EXPLAIN_PLACEHOLDER);
    assert_non_null(m);
    assert_false(m->sym_exact);
    ir_model_free(m);
    /* vocab/2*2 is still vocab; 2*vocab/2 + classes as well */
    m = compile_auto("model m {\n input tokens\n onehot\n dense(vocab/2*2)\n"
                     " dense(2*vocab/2 + classes)\n}\n", IR_EXPLAIN_PLACEHOLDER);
    assert_non_null(m);
    assert_true(m->sym_exact);
    char *s = explain_text(m);
    assert_non_null(strstr(s, "[T, B, vocab + classes]"));
    assert_non_null(strstr(s, "total: 2*vocab*vocab + vocab*classes + 2*vocab + classes "
                              "parameters"));
    free(s);
    ir_model_free(m);
}

/* Every example model in models/ compiles (vocab/classes bound as the trainer would). */
static void test_models_compile(void **state)
{
    (void)state;
    static const char *const files[] = { "charlm.rnn", "gru_classifier.rnn", "tagger.rnn",
                                         "peephole.rnn", "mgu.rnn", "adding.rnn" };
    const char *top = getenv("top_srcdir");
    const char *sets[] = { "vocab=50", "classes=4" };
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/models/%s", top ? top : SRCDIR, files[i]);
        Diag d;
        diag_init(&d);
        const Source *src = diag_load_file(&d, path, 1 << 20);
        assert_non_null(src);
        IrModel *m = sema_compile(&d, src, sets, 2);
        if (!m) {
            diag_print(&d, stderr);
            fail_msg("%s does not compile", files[i]);
        }
        assert_int_equal(diag_error_count(&d), 0);
        assert_true(m->nparams > 0);
        for (int l = 0; l < m->nlayers; l++)
            for (int c = 0; c < m->layers[l].ncells; c++)
                check_cell_invariants(&m->layers[l].cells[c]);
        ir_model_free(m);
        diag_free(&d);
    }
}

/* The op tables generated from ops.def agree with each other: arity follows the shape rule
 * (a bounded op takes x and one or two constants, with ir_op_params for each), spellings are
 * unique, and the cell functions are the FUNC rows (chunk among them). */
static void test_op_tables(void **state)
{
    (void)state;
    static const int shape_arity[] = { [IR_SHAPE_LEAF] = 0, [IR_SHAPE_MATVEC] = 2,
        [IR_SHAPE_UNARY] = 1, [IR_SHAPE_BINARY] = 2, [IR_SHAPE_BOUNDED] = 3,
        [IR_SHAPE_CONCAT] = -1, [IR_SHAPE_SLICE] = 1 };
    int nfuncs = 0;
    for (int op = 0; op < IR_OP_COUNT; op++) {
        if (ir_op_shape[op] == IR_SHAPE_BOUNDED) { /* x and one or two constants */
            assert_true(ir_op_arity[op] == 2 || ir_op_arity[op] == 3);
            assert_true(ir_op_params[op].signature && ir_op_params[op].min_args >= 1 &&
                        ir_op_params[op].min_args <= ir_op_arity[op]);
        } else {
            assert_int_equal(ir_op_arity[op], shape_arity[ir_op_shape[op]]);
            assert_int_equal(ir_op_params[op].min_args, 0);
        }
        for (int other = 0; other < op; other++)
            assert_string_not_equal(ir_op_spelling[op], ir_op_spelling[other]);
        nfuncs += ir_op_is_function[op];
    }
    assert_int_equal(nfuncs, 19);
    assert_true(ir_op_is_function[IR_OP_SLICE] && ir_op_is_function[IR_OP_CLIP]);
    assert_false(ir_op_is_function[IR_OP_NEG] || ir_op_is_function[IR_OP_ADD]);
    assert_string_equal(ir_op_spelling[IR_OP_HARDSIGMOID], "hardsigmoid");
    assert_true(ir_op_params[IR_OP_HARDSIGMOID].dflt[0] == 0.2 &&
                ir_op_params[IR_OP_HARDSIGMOID].dflt[1] == 0.5);
    assert_int_equal(ir_op_params[IR_OP_CLIP].min_args, 3);
    assert_int_equal(ir_op_shape[IR_OP_MAX], IR_SHAPE_BINARY);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_charlm_matches_pytorch),
        cmocka_unit_test(test_bidirectional_gru_matches_pytorch),
        cmocka_unit_test(test_prelude_lstm_graph),
        cmocka_unit_test(test_prelude_gru_graph),
        cmocka_unit_test(test_prelude_rnn_relu),
        cmocka_unit_test(test_explain_concrete),
        cmocka_unit_test(test_explain_symbolic),
        cmocka_unit_test(test_dot),
        cmocka_unit_test(test_models_compile),
        cmocka_unit_test(test_dot_user_cell),
        cmocka_unit_test(test_format_count),
        cmocka_unit_test(test_explain_partly_symbolic),
        cmocka_unit_test(test_explain_one_compile),
        cmocka_unit_test(test_sym_invariant),
        cmocka_unit_test(test_explain_not_affine),
        cmocka_unit_test(test_op_tables),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
