/* test_exec: the model executor on IrModels built by hand (independent of the parser/sema):
 * fused kernels vs the cell interpreter (outputs and gradients within 1e-5 relative), whole-model
 * central-difference gradient checks (embedding, stacked/bidirectional recurrent layers, dense,
 * residual add, layernorm, concat, pool, dropout with a fixed mask, softmax fused with
 * cross-entropy, MSE, lengths), gradient w.r.t. the initial state, full window vs step-by-step
 * with carried state, initialisers, and input errors.
 *
 * Gradient checks are float32 with a double-accumulated loss: eps = 1e-2, accept
 * |analytic - numeric| <= 1e-3 + 2e-2 |numeric|. Truncation error is ~eps^2/6 |L'''| ~ 2e-5;
 * the loss is a mean of O(1) terms whose float rounding (~1e-7 relative) over 2 eps gives
 * ~1e-5; the extra margin covers float32 accumulation in the recurrent backward (dozens of GEMM
 * terms per element). Wrong derivatives give errors of order 1e-1. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <cmocka.h>

#include "exec/exec.h"
#include "io/npy.h"
#include "lang/sema.h"
#include "util/rng.h"

#include "cells_by_hand.h"
#include "util/file.h"

/* ---- building models by hand ----------------------------------------------------------- */

enum { MB_LAYERS = 16, MB_TENSORS = 64, MB_CELLS = 12 };

typedef struct MB {
    IrModel m;
    IrLayer layers[MB_LAYERS];
    int ins[MB_LAYERS][4];
    char labels[MB_LAYERS][24];
    IrTensor tensors[MB_TENSORS];
    char names[MB_TENSORS][48];
    CellBuild cb[MB_CELLS];
    IrCell cells[MB_CELLS];
    int ncells;
} MB;

static const IrInit mb_init = { IR_INIT_UNIFORM, -0.5, 0.5 };

static MB *mb_new(void)
{
    MB *b = calloc(1, sizeof *b);
    assert_non_null(b);
    b->m.name = "test";
    b->m.layers = b->layers;
    b->m.tensors = b->tensors;
    b->m.vocab = b->m.classes = -1;
    return b;
}

/* Adds a tensor named "<label>.<name>" of [rows][cols] (rows 0: vector) to layer li. */
static int mb_tensor(MB *b, int li, const char *name, int rows, int cols)
{
    int t = b->m.ntensors++;
    IrTensor *x = &b->tensors[t];
    snprintf(b->names[t], sizeof b->names[t], "%s.%s", b->layers[li].label, name);
    x->name = b->names[t];
    x->ndim = rows ? 2 : 1;
    x->shape[0] = rows ? rows : cols;
    x->shape[1] = rows ? cols : 0;
    x->size = (int64_t)(rows ? rows : 1) * cols;
    x->init = mb_init;
    x->layer = li;
    if (b->layers[li].ntensors++ == 0)
        b->layers[li].first_tensor = t;
    for (int r = 0; r < IR_ROLE_COUNT; r++) /* bound by role, as sema does */
        if (strcmp(name, ir_role_spelling[r]) == 0)
            b->layers[li].tensor[r] = t;
    b->m.nparams += x->size;
    return t;
}

/* Appends a layer reading from `from` (-1: the previous layer); it becomes the output. */
static int mb_layer(MB *b, IrLayerKind kind, const char *label, int width, int from)
{
    int i = b->m.nlayers++;
    IrLayer *L = &b->layers[i];
    snprintf(b->labels[i], sizeof b->labels[i], "%s", label);
    L->kind = kind;
    L->label = b->labels[i];
    L->width = width;
    for (int r = 0; r < IR_ROLE_COUNT; r++)
        L->tensor[r] = IR_NO_TENSOR;
    L->inputs = b->ins[i];
    if (i > 0) {
        L->ninputs = 1;
        L->inputs[0] = from < 0 ? i - 1 : from;
        L->sequence = b->layers[L->inputs[0]].sequence;
    } else {
        L->sequence = true;
    }
    b->m.output = i;
    return i;
}

static int mb_tokens(MB *b, int vocab)
{
    int i = mb_layer(b, IR_LAYER_INPUT_TOKENS, "input", 1, -1);
    b->layers[i].tokens = true;
    b->layers[i].vocab = vocab;
    b->m.vocab = vocab;
    return i;
}

static int mb_embedding(MB *b, int vocab, int E)
{
    int i = mb_layer(b, IR_LAYER_EMBEDDING, "embedding1", E, -1);
    b->layers[i].vocab = vocab;
    mb_tensor(b, i, "weight", vocab, E);
    return i;
}

static int mb_dense(MB *b, const char *label, int in, int N, IrActivation act)
{
    int i = mb_layer(b, IR_LAYER_DENSE, label, N, -1);
    b->layers[i].act = act;
    b->layers[i].size = N;
    mb_tensor(b, i, "weight", N, in);
    mb_tensor(b, i, "bias", 0, N);
    return i;
}

/* A recurrent layer of a built-in kind (or IR_CELL_USER: the peephole cell) with PyTorch's
 * tensor names; cells ordered l0, l0_reverse, l1, ... */
static int mb_recurrent(MB *b, const char *label, IrBuiltin kind, int in, int H, int levels,
                        bool bidir, double p)
{
    int ndir = bidir ? 2 : 1;
    int i = mb_layer(b, IR_LAYER_RECURRENT, label, ndir * H, -1);
    IrLayer *L = &b->layers[i];
    L->builtin = kind;
    L->size = H;
    L->num_layers = levels;
    L->bidirectional = bidir;
    L->p = p;
    L->cells = &b->cells[b->ncells];
    L->ncells = levels * ndir;
    for (int lev = 0; lev < levels; lev++)
        for (int dir = 0; dir < ndir; dir++) {
            int k = b->ncells++;
            CellBuild *cb = &b->cb[k];
            int I = lev == 0 ? in : ndir * H;
            switch (kind) {
            case IR_CELL_LSTM: cb_lstm(cb, I, H); break;
            case IR_CELL_GRU: cb_gru(cb, I, H); break;
            case IR_CELL_RNN_TANH: cb_rnn(cb, I, H, IR_OP_TANH); break;
            case IR_CELL_RNN_RELU: cb_rnn(cb, I, H, IR_OP_RELU); break;
            default: cb_peephole(cb, I, H); break;
            }
            cb->c.reverse = dir == 1;
            for (int q = 0; q < cb->c.nparams; q++) {
                char nm[40];
                if (kind == IR_CELL_USER)
                    snprintf(nm, sizeof nm, "%s%s", cb->params[q].name, dir ? "_reverse" : "");
                else
                    snprintf(nm, sizeof nm, "%s_l%d%s", cb->params[q].name, lev,
                             dir ? "_reverse" : "");
                cb->params[q].tensor = mb_tensor(b, i, nm, cb->params[q].rows, cb->params[q].cols);
            }
            b->cells[k] = cb->c;
        }
    return i;
}

static int mb_join(MB *b, IrLayerKind kind, const char *label, int width, int x, int y)
{
    int i = mb_layer(b, kind, label, width, x);
    b->layers[i].ninputs = 2;
    b->layers[i].inputs[1] = y;
    return i;
}

/* ---- helpers ------------------------------------------------------------------------- */

typedef struct Run {
    ExecModel *e;
    Diag d;
    int T, B;
    int32_t *tok, *tgt, *lengths;
    float *vec, *vtgt;
    ExecTarget target;
    float *s0;          /* the initial state every loss evaluation starts from */
    bool train;
    bool fixed_R;       /* loss = sum(out * R) instead of target */
    float *R;
    bool packed;        /* the lengths also stop the recurrences (ExecInput.packed) */
} Run;

/* A zeroed float buffer of n (>= 1) floats; the test fails if it cannot be allocated. */
static float *fvec(size_t n)
{
    float *v = calloc(n ? n : 1, sizeof(float));
    assert_non_null(v);
    return v;
}

/* Creates the executor, initialises params (seeded) and random inputs/targets/state. */
static void run_init(Run *r, MB *b, int B, int T, uint64_t seed)
{
    memset(r, 0, sizeof *r);
    diag_init(&r->d);
    r->T = T;
    r->B = B;
    r->e = exec_create(&b->m, B, T, &r->d);
    if (!r->e)
        diag_print(&r->d, stderr);
    assert_non_null(r->e);
    Rng rng;
    rng_seed(&rng, seed);
    assert_int_equal(exec_init_params(r->e, &rng, &r->d), 0);
    size_t TB = (size_t)T * B;
    const IrLayer *in = &b->layers[0];
    r->tok = calloc(TB, sizeof(int32_t));
    r->tgt = calloc(TB, sizeof(int32_t));
    r->lengths = calloc(B, sizeof(int32_t));
    r->vec = fvec(TB * in->width);
    for (size_t i = 0; i < TB; i++) {
        r->tok[i] = (int32_t)rng_below(&rng, in->vocab > 0 ? in->vocab : 1);
        r->tgt[i] = (int32_t)rng_below(&rng, b->layers[b->m.output].width);
    }
    for (size_t i = 0; i < TB * in->width; i++)
        r->vec[i] = (float)(2 * rng_uniform(&rng) - 1);
    int outw = b->layers[b->m.output].width;
    r->vtgt = fvec(TB * outw);
    r->R = fvec(TB * outw);
    for (size_t i = 0; i < TB * outw; i++) {
        r->vtgt[i] = (float)(2 * rng_uniform(&rng) - 1);
        r->R[i] = (float)(2 * rng_uniform(&rng) - 1);
    }
    int64_t sf = exec_state_floats(r->e);
    r->s0 = fvec(sf);
    for (int64_t i = 0; i < sf; i++)
        r->s0[i] = (float)(rng_uniform(&rng) - 0.5);
    r->target.kind = EXEC_LOSS_XENT_TOKENS;
    r->target.ids = r->tgt;
    r->target.values = r->vtgt;
}

static void run_free(Run *r)
{
    exec_free(r->e);
    free(r->tok); free(r->tgt); free(r->lengths); free(r->vec); free(r->vtgt); free(r->R);
    free(r->s0);
    diag_free(&r->d);
}

/* One forward from r->s0 (dropout masks reseeded, so identical every call) and the loss. */
static double run_loss(Run *r)
{
    ExecInput in = { r->T, r->tok, r->vec, r->lengths[0] ? r->lengths : NULL, r->packed };
    exec_set_state(r->e, r->s0);
    rng_seed(exec_rng(r->e), 77);
    if (exec_forward(r->e, &in, r->train, &r->d))
        diag_print(&r->d, stderr);
    assert_int_equal(diag_error_count(&r->d), 0);
    if (r->fixed_R) {
        int rows, w;
        const float *y = exec_output(r->e, &rows, &w);
        float *g = exec_output_grad(r->e);
        double L = 0;
        for (size_t i = 0; i < (size_t)rows * w; i++) {
            L += (double)y[i] * r->R[i];
            g[i] = r->R[i];
        }
        return L;
    }
    double L;
    assert_int_equal(exec_loss(r->e, &r->target, &L, &r->d), 0);
    return L;
}

/* Forward + backward into zeroed gradients; returns the loss. */
static double run_grads(Run *r)
{
    exec_zero_grads(r->e);
    double L = run_loss(r);
    assert_int_equal(exec_backward(r->e, &r->d), 0);
    return L;
}

/* Central-difference check of every parameter (strided to at most ~24 per tensor) and of the
 * initial state. */
static void gradcheck_model(Run *r)
{
    run_grads(r);
    int64_t np = exec_nparams(r->e), sf = exec_state_floats(r->e);
    float *ga = fvec(np), *gs = fvec(sf);
    memcpy(ga, exec_grads(r->e), sizeof(float) * np);
    memcpy(gs, exec_state_grad(r->e), sizeof(float) * sf);
    float *p = exec_params(r->e);
    const float eps = 1e-2f;
    int fails = 0, checked = 0;
    for (int t = 0; t < exec_ntensors(r->e); t++) {
        const ExecTensor *x = exec_tensor(r->e, t);
        int64_t stride = x->size / 24 + 1;
        for (int64_t i = 0; i < x->size; i += stride) {
            float *v = &p[x->offset + i], keep = *v;
            *v = keep + eps;
            double lp = run_loss(r);
            *v = keep - eps;
            double lm = run_loss(r);
            *v = keep;
            double num = (lp - lm) / (2.0 * eps), an = ga[x->offset + i];
            checked++;
            if (fabs(an - num) > 1e-3 + 2e-2 * fabs(num)) {
                fprintf(stderr, "  %s[%lld]: analytic %.6g numeric %.6g\n", x->name,
                        (long long)i, an, num);
                fails++;
            }
        }
    }
    for (int64_t i = 0; i < sf; i += sf / 16 + 1) {
        float keep = r->s0[i];
        r->s0[i] = keep + eps;
        double lp = run_loss(r);
        r->s0[i] = keep - eps;
        double lm = run_loss(r);
        r->s0[i] = keep;
        double num = (lp - lm) / (2.0 * eps);
        checked++;
        if (fabs(gs[i] - num) > 1e-3 + 2e-2 * fabs(num)) {
            fprintf(stderr, "  state[%lld]: analytic %.6g numeric %.6g\n", (long long)i, gs[i],
                    num);
            fails++;
        }
    }
    free(ga);
    free(gs);
    assert_true(checked > 10);
    assert_int_equal(fails, 0);
}

/* Counts the values exec_trace hands out. */
static int count_values(void *ctx, const char *layer, const char *cell, const char *name, int T,
                        int B, int width, const float *v)
{
    (void)layer; (void)cell; (void)name; (void)T; (void)B; (void)width; (void)v;
    ++*(int *)ctx;
    return 0;
}

/* RECUR_INTERPRETER=1 in the environment puts a built-in LSTM on the interpreter from
 * exec_create on (exec_trace, which needs an interpreted forward with the full tape, then
 * succeeds); without it the LSTM runs fused and exec_trace refuses. */
static void test_env_interpreter(void **state)
{
    (void)state;
    for (int env = 0; env < 2; env++) {
        if (env)
            setenv("RECUR_INTERPRETER", "1", 1);
        else
            unsetenv("RECUR_INTERPRETER");
        MB *b = mb_new();
        mb_layer(b, IR_LAYER_INPUT_VECTOR, "input", 3, -1);
        mb_recurrent(b, "rec1", IR_CELL_LSTM, 3, 4, 1, false, 0.0);
        Run r;
        run_init(&r, b, 2, 3, 77);
        exec_set_trace_tape(r.e, true);
        ExecInput in = { r.T, NULL, r.vec, NULL, false };
        assert_int_equal(exec_forward(r.e, &in, false, &r.d), 0);
        int n = 0; /* the hand-built cell names no value: nothing is handed out */
        assert_int_equal(exec_trace(r.e, count_values, &n, &r.d), env ? 0 : -1);
        assert_int_equal(n, 0);
        run_free(&r);
        free(b);
    }
    unsetenv("RECUR_INTERPRETER");
}

/* ---- fused kernels vs the interpreter ------------------------------------------------------ */

/* Same model, same params, same loss: the fused kernels and the interpreter must agree on the
 * output, every parameter gradient and the initial-state gradient within 1e-5 relative (plus
 * 1e-6 of the buffer's largest magnitude, for entries that cancel to near zero). */
static void fused_vs_interp(IrBuiltin kind, bool bidir, int B, int T, double dropout)
{
    MB *b = mb_new();
    mb_layer(b, IR_LAYER_INPUT_VECTOR, "input", 5, -1);
    mb_recurrent(b, "rec1", kind, 5, 6, 2, bidir, dropout);
    Run r;
    run_init(&r, b, B, T, 900 + kind);
    r.fixed_R = true;
    int rows, w;
    int64_t np = exec_nparams(r.e), sf = exec_state_floats(r.e);
    float *y[2], *g[2], *s[2];
    for (int pass = 0; pass < 2; pass++) {
        exec_set_force_interpreter(r.e, pass == 1);
        run_grads(&r);
        const float *out = exec_output(r.e, &rows, &w);
        y[pass] = fvec((size_t)rows * w);
        memcpy(y[pass], out, sizeof(float) * rows * w);
        g[pass] = fvec(np);
        memcpy(g[pass], exec_grads(r.e), sizeof(float) * np);
        s[pass] = fvec(sf);
        memcpy(s[pass], exec_state_grad(r.e), sizeof(float) * sf);
    }
    const float *bufs[3][2] = { { y[0], y[1] }, { g[0], g[1] }, { s[0], s[1] } };
    size_t ns[3] = { (size_t)rows * w, (size_t)np, (size_t)sf };
    int bad = 0;
    for (int k = 0; k < 3; k++) {
        double scale = 0;
        for (size_t i = 0; i < ns[k]; i++)
            scale = fmax(scale, fabs(bufs[k][1][i]));
        assert_true(scale > 0);
        for (size_t i = 0; i < ns[k]; i++) {
            double a = bufs[k][0][i], ref = bufs[k][1][i];
            if (fabs(a - ref) > 1e-5 * fabs(ref) + 1e-6 * scale) {
                fprintf(stderr, "kind %d buffer %d [%zu]: fused %.9g interpreter %.9g\n", kind, k,
                        i, a, ref);
                bad++;
            }
        }
    }
    assert_int_equal(bad, 0);
    for (int pass = 0; pass < 2; pass++) {
        free(y[pass]);
        free(g[pass]);
        free(s[pass]);
    }
    run_free(&r);
    free(b);
}

static void test_fused_vs_interpreter(void **state)
{
    (void)state;
    static const IrBuiltin kinds[] = { IR_CELL_LSTM, IR_CELL_GRU, IR_CELL_RNN_TANH,
                                       IR_CELL_RNN_RELU };
    for (int k = 0; k < 4; k++) {
        fused_vs_interp(kinds[k], false, 3, 5, 0.0);
        fused_vs_interp(kinds[k], true, 3, 5, 0.0);
    }
}

/* The same on oneDNN (a window of 4 x 8 = EXEC_ONEDNN_MIN_ROWS rows and EXEC_ONEDNN_MIN_STEPS
 * steps, when recur has oneDNN): two levels, with and without dropout between them, one and
 * two directions, so the level below's input gradient is written in place by the first
 * direction's backward (onednn_rnn_backward's overwrite) and added to by the second. */
static void test_onednn_levels_vs_interpreter(void **state)
{
    (void)state;
    static const IrBuiltin kinds[] = { IR_CELL_LSTM, IR_CELL_GRU, IR_CELL_RNN_TANH };
    for (int k = 0; k < 3; k++)
        for (int bidir = 0; bidir < 2; bidir++) {
            fused_vs_interp(kinds[k], bidir, 4, 8, 0.0);
            fused_vs_interp(kinds[k], bidir, 4, 8, 0.25);
        }
}

/* ---- whole-model gradient checks --------------------------------------------------------- */

/* embedding -> lstm(2 levels, dropout between, bidirectional) -> dense -> cross-entropy per
 * step, training mode with a fixed dropout mask; once fused, once through the interpreter. */
static void test_grad_charlm(void **state)
{
    (void)state;
    for (int interp = 0; interp < 2; interp++) {
        MB *b = mb_new();
        mb_tokens(b, 7);
        mb_embedding(b, 7, 4);
        mb_recurrent(b, "lstm1", IR_CELL_LSTM, 4, 5, 2, true, 0.3);
        mb_dense(b, "dense1", 10, 7, IR_ACT_NONE);
        Run r;
        run_init(&r, b, 2, 4, 1000);
        r.train = true;
        exec_set_force_interpreter(r.e, interp);
        gradcheck_model(&r);
        run_free(&r);
        free(b);
    }
}

/* input vector -> gru -> residual: dense(tanh) + gru output -> layernorm -> dropout layer ->
 * concat with the gru output -> dense -> softmax fused with cross-entropy. */
static void test_grad_residual_layernorm(void **state)
{
    (void)state;
    MB *b = mb_new();
    mb_layer(b, IR_LAYER_INPUT_VECTOR, "input", 3, -1);
    int g = mb_recurrent(b, "gru1", IR_CELL_GRU, 3, 6, 1, false, 0.0);
    int d = mb_dense(b, "dense1", 6, 6, IR_ACT_TANH);
    int a = mb_join(b, IR_LAYER_ADD, "add1", 6, d, g);
    int ln = mb_layer(b, IR_LAYER_LAYERNORM, "layernorm1", 6, a);
    mb_tensor(b, ln, "weight", 0, 6);
    mb_tensor(b, ln, "bias", 0, 6);
    int dr = mb_layer(b, IR_LAYER_DROPOUT, "dropout1", 6, -1);
    b->layers[dr].p = 0.25;
    mb_join(b, IR_LAYER_CONCAT, "concat1", 12, dr, g);
    mb_dense(b, "dense2", 12, 5, IR_ACT_NONE);
    mb_layer(b, IR_LAYER_SOFTMAX, "softmax1", 5, -1);
    Run r;
    run_init(&r, b, 3, 4, 1100);
    r.train = true;
    gradcheck_model(&r);
    run_free(&r);
    free(b);
}

/* Sequence classification: rnn(relu) and a peephole user cell (bidirectional), pool(mean /
 * max / last with lengths), dense, cross-entropy per sequence; and MSE regression. */
static void test_grad_pool_label_mse(void **state)
{
    (void)state;
    for (int variant = 0; variant < 3; variant++) {
        MB *b = mb_new();
        mb_layer(b, IR_LAYER_INPUT_VECTOR, "input", 3, -1);
        if (variant == 0)
            mb_recurrent(b, "rnn1", IR_CELL_RNN_TANH, 3, 5, 1, false, 0.0);
        else
            mb_recurrent(b, "peep1", IR_CELL_USER, 3, 4, 1, variant == 1, 0.0);
        int w = b->layers[1].width;
        int p = mb_layer(b, IR_LAYER_POOL, "pool1", w, -1);
        b->layers[p].sequence = false;
        b->layers[p].pool = variant == 0 ? IR_POOL_MEAN : variant == 1 ? IR_POOL_LAST
                                                                      : IR_POOL_MAX;
        mb_dense(b, "dense1", w, variant == 2 ? 2 : 4, IR_ACT_NONE);
        Run r;
        run_init(&r, b, 3, 5, 1200 + variant);
        r.lengths[0] = 5;
        r.lengths[1] = 2;
        r.lengths[2] = 4;
        for (int i = 0; i < 3; i++)
            r.tgt[i] %= 4;
        if (variant == 2)
            r.target.kind = EXEC_LOSS_MSE;
        else
            r.target.kind = EXEC_LOSS_XENT_LABEL;
        gradcheck_model(&r);
        run_free(&r);
        free(b);
    }
}

/* Per-step MSE with lengths masking, through a stacked relu RNN with dropout (fixed mask). */
static void test_grad_seq_mse_lengths(void **state)
{
    (void)state;
    MB *b = mb_new();
    mb_layer(b, IR_LAYER_INPUT_VECTOR, "input", 2, -1);
    mb_recurrent(b, "rnn1", IR_CELL_RNN_TANH, 2, 4, 2, false, 0.2);
    mb_dense(b, "dense1", 4, 3, IR_ACT_SIGMOID);
    Run r;
    run_init(&r, b, 2, 5, 1300);
    r.train = true;
    r.lengths[0] = 3;
    r.lengths[1] = 5;
    r.target.kind = EXEC_LOSS_MSE;
    gradcheck_model(&r);
    /* positions past a sequence's length get no gradient */
    run_grads(&r);
    const float *g = exec_output_grad(r.e);
    for (int t = 3; t < 5; t++)
        for (int j = 0; j < 3; j++)
            assert_true(g[((size_t)t * 2 + 0) * 3 + j] == 0.0f);
    run_free(&r);
    free(b);
}

/* ---- losses against direct formulas -------------------------------------------------------- */

/* Cross-entropy (fused with the final softmax) equals -mean log softmax computed here in
 * double, and MSE equals the mean of squares; ids outside the classes are errors. */
static void test_loss_values(void **state)
{
    (void)state;
    MB *b = mb_new();
    mb_layer(b, IR_LAYER_INPUT_VECTOR, "input", 3, -1);
    mb_dense(b, "dense1", 3, 4, IR_ACT_NONE);
    int sm = mb_layer(b, IR_LAYER_SOFTMAX, "softmax1", 4, -1);
    Run r;
    run_init(&r, b, 2, 3, 1400);
    double L = run_loss(&r);
    const float *logits = exec_layer_output(r.e, 1), *prob = exec_layer_output(r.e, sm);
    double ref = 0;
    for (int row = 0; row < 6; row++) {
        double mx = -1e30, s = 0;
        for (int j = 0; j < 4; j++)
            mx = fmax(mx, logits[row * 4 + j]);
        for (int j = 0; j < 4; j++)
            s += exp(logits[row * 4 + j] - mx);
        ref -= logits[row * 4 + r.tgt[row]] - mx - log(s);
        double ps = 0;
        for (int j = 0; j < 4; j++)
            ps += prob[row * 4 + j];
        assert_float_equal(ps, 1.0, 1e-6);
    }
    assert_float_equal(L, ref / 6, 1e-6);
    r.tgt[3] = 4;
    double dummy;
    assert_int_equal(exec_loss(r.e, &r.target, &dummy, &r.d), -1);
    r.tgt[3] = -1; /* ignored position */
    diag_clear_messages(&r.d);
    assert_int_equal(exec_loss(r.e, &r.target, &dummy, &r.d), 0);
    r.target.kind = EXEC_LOSS_XENT_LABEL; /* needs a pooled output */
    assert_int_equal(exec_loss(r.e, &r.target, &dummy, &r.d), -1);
    run_free(&r);
    free(b);
}

/* ---- state carrying -------------------------------------------------------------------- */

/* One window of T steps equals T windows of one step with the state carried between them
 * (and the carried state equals the full window's final state). */
static void test_window_equals_steps(void **state)
{
    (void)state;
    for (int interp = 0; interp < 2; interp++) {
        MB *b = mb_new();
        mb_tokens(b, 6);
        mb_embedding(b, 6, 4);
        mb_recurrent(b, "lstm1", IR_CELL_LSTM, 4, 5, 2, false, 0.5);
        mb_recurrent(b, "gru1", IR_CELL_GRU, 5, 3, 1, false, 0.0);
        mb_dense(b, "dense1", 3, 6, IR_ACT_NONE);
        Run r;
        run_init(&r, b, 2, 6, 1500);
        exec_set_force_interpreter(r.e, interp);
        ExecInput in = { 6, r.tok, NULL, NULL, false };
        exec_reset_state(r.e);
        assert_int_equal(exec_forward(r.e, &in, false, &r.d), 0);
        int rows, w;
        const float *y = exec_output(r.e, &rows, &w);
        float *full = fvec((size_t)rows * w);
        memcpy(full, y, sizeof(float) * rows * w);
        int64_t sf = exec_state_floats(r.e);
        float *sfull = fvec(sf), *sstep = fvec(sf);
        exec_get_state(r.e, sfull);
        exec_reset_state(r.e);
        for (int t = 0; t < 6; t++) {
            ExecInput one = { 1, r.tok + t * 2, NULL, NULL, false };
            assert_int_equal(exec_forward(r.e, &one, false, &r.d), 0);
            y = exec_output(r.e, &rows, &w);
            assert_int_equal(rows, 2);
            for (int i = 0; i < rows * w; i++)
                assert_float_equal(y[i], full[t * rows * w + i], 1e-5);
        }
        exec_get_state(r.e, sstep);
        for (int64_t i = 0; i < sf; i++)
            assert_float_equal(sstep[i], sfull[i], 1e-5);
        free(full);
        free(sfull);
        free(sstep);
        run_free(&r);
        free(b);
    }
}

/* Two identical training steps give bit-identical gradients: nothing stale carries over between
 * backward passes (a missing reset of an intermediate gradient buffer doubles them). */
static void test_steps_repeatable(void **state)
{
    (void)state;
    MB *b = mb_new();
    mb_tokens(b, 6);
    mb_embedding(b, 6, 4);
    mb_recurrent(b, "lstm1", IR_CELL_LSTM, 4, 5, 3, true, 0.5);
    mb_dense(b, "dense1", 10, 6, IR_ACT_NONE);
    int dr = mb_layer(b, IR_LAYER_DROPOUT, "dropout1", 6, -1);
    b->layers[dr].p = 0.5;
    Run r;
    run_init(&r, b, 2, 4, 1700);
    r.train = true;
    int64_t np = exec_nparams(r.e);
    float *g1 = fvec(np);
    double L1 = run_grads(&r);
    memcpy(g1, exec_grads(r.e), sizeof(float) * np);
    double L2 = run_grads(&r);
    assert_true(L1 == L2);
    assert_memory_equal(g1, exec_grads(r.e), sizeof(float) * np);
    free(g1);
    run_free(&r);
    free(b);
}

/* Batch-1 generation on the fused LSTM step (x W_ih^T and h W_hh^T of each chunk of units in
 * one pass on recur's threads, kernels_lstm.c) equals the interpreter within 1e-5 over 8 tokens
 * with the state carried, at 1, 2 and 3 threads; H 130 (not divisible by 3 or the 16-unit
 * chunks) is large enough for the threads to split it; every thread count gives the same bytes. */
static void test_batch1_lstm_vs_interp(void **state)
{
    (void)state;
    MB *b = mb_new();
    mb_tokens(b, 7);
    mb_embedding(b, 7, 4);
    mb_recurrent(b, "lstm1", IR_CELL_LSTM, 4, 130, 2, false, 0.0);
    mb_dense(b, "dense1", 130, 7, IR_ACT_NONE);
    Run r;
    run_init(&r, b, 1, 1, 2024);
    exec_set_grad_enabled(r.e, false);
    float y[4][8][7];
    for (int pass = 0; pass < 4; pass++) { /* interpreter, then fused at 1, 2, 3 threads */
        exec_set_force_interpreter(r.e, pass == 0);
        exec_set_threads(pass == 0 ? 1 : pass);
        exec_reset_state(r.e);
        for (int t = 0; t < 8; t++) {
            int32_t tok = (int32_t)((t * 5 + 2) % 7);
            ExecInput one = { 1, &tok, NULL, NULL, false };
            assert_int_equal(exec_forward(r.e, &one, false, &r.d), 0);
            int rw, ww;
            const float *p = exec_output(r.e, &rw, &ww);
            assert_int_equal(rw, 1), assert_int_equal(ww, 7);
            memcpy(y[pass][t], p, sizeof y[pass][t]);
        }
    }
    exec_set_threads(1);
    for (int t = 0; t < 8; t++)
        for (int j = 0; j < 7; j++)
            if (!(fabs(y[1][t][j] - y[0][t][j]) <= 1e-5 * (1 + fabs(y[0][t][j]))))
                fail_msg("token %d logit %d: fused %.9g interpreter %.9g", t, j, y[1][t][j],
                         y[0][t][j]);
    assert_memory_equal(y[2], y[1], sizeof y[1]);
    assert_memory_equal(y[3], y[1], sizeof y[1]);
    run_free(&r);
    free(b);
}

/* Eight batch-1 steps of one token each from a fresh state (the logits into y [8][V]). */
static void steps_of_one(Run *r, int V, float *y)
{
    exec_reset_state(r->e);
    for (int t = 0; t < 8; t++) {
        int32_t tok = (int32_t)((t * 5 + 2) % V);
        ExecInput one = { 1, &tok, NULL, NULL, false };
        assert_int_equal(exec_forward(r->e, &one, false, &r->d), 0);
        int rw, ww;
        const float *p = exec_output(r->e, &rw, &ww);
        assert_int_equal(rw, 1), assert_int_equal(ww, V);
        memcpy(y + (size_t)t * V, p, sizeof(float) * V);
    }
}

/* Frozen parameters (exec_set_frozen): a recurrent layer fed by an embedding or onehot layer
 * steps from its token table (token_table.c), and the logits are the same bytes as from W_ih,
 * for the LSTM, GRU and RNN, at 1 and 2 threads (H 130: split across them). A weight changed
 * while not frozen, or a training forward, leaves no stale table behind. */
static void test_token_table(void **state)
{
    (void)state;
    enum { V = 7 };
    const IrBuiltin kinds[] = { IR_CELL_LSTM, IR_CELL_GRU, IR_CELL_RNN_TANH };
    for (int k = 0; k < 6; k++) {
        MB *b = mb_new();
        mb_tokens(b, V);
        int in = V;
        if (k < 3) {
            mb_embedding(b, V, 4);
            in = 4;
        } else {
            mb_layer(b, IR_LAYER_ONEHOT, "onehot1", V, -1);
            b->layers[1].vocab = V;
        }
        mb_recurrent(b, "rec1", kinds[k % 3], in, 130, 2, false, 0.0);
        mb_dense(b, "dense1", 130, V, IR_ACT_NONE);
        Run r;
        run_init(&r, b, 1, 1, 77 + (uint64_t)k);
        exec_set_grad_enabled(r.e, false);
        float plain[8][V], tab[8][V];
        for (int th = 1; th <= 2; th++) {
            exec_set_threads(th);
            exec_set_frozen(r.e, false);
            steps_of_one(&r, V, &plain[0][0]);
            exec_set_frozen(r.e, true);
            steps_of_one(&r, V, &tab[0][0]);
            assert_memory_equal(tab, plain, sizeof plain);
        }
        /* a changed W_ih (the first tensor after the embedding's, or the first) while thawed */
        exec_set_frozen(r.e, false);
        float *w = exec_params(r.e) + (k < 3 ? V * 4 : 0);
        for (int i = 0; i < 40; i++)
            w[i] += 0.25f;
        steps_of_one(&r, V, &plain[0][0]);
        exec_set_frozen(r.e, true);
        steps_of_one(&r, V, &tab[0][0]);
        assert_memory_equal(tab, plain, sizeof plain);
        /* a training forward while frozen makes the table stale too */
        exec_set_grad_enabled(r.e, true);
        int32_t tok = 1;
        ExecInput one = { 1, &tok, NULL, NULL, false };
        assert_int_equal(exec_forward(r.e, &one, true, &r.d), 0);
        exec_set_grad_enabled(r.e, false);
        for (int i = 0; i < 40; i++)
            w[i] -= 0.5f;
        steps_of_one(&r, V, &tab[0][0]);
        exec_set_frozen(r.e, false);
        steps_of_one(&r, V, &plain[0][0]);
        assert_memory_equal(tab, plain, sizeof plain);
        exec_set_threads(1);
        run_free(&r);
        free(b);
    }
}

/* Sampling set-up: a batch-1, window-1 executor with the parameters copied from a batch-2 one,
 * stepped token by token without gradients, reproduces stream 0 of the batched window. */
static void test_sampling_steps(void **state)
{
    (void)state;
    MB *b = mb_new();
    Run r;
    ExecInput in = { 5, NULL, NULL, NULL, false };
    int rows, w;
    const float *full;
    ExecModel *s1;
    mb_tokens(b, 6);
    mb_embedding(b, 6, 4);
    mb_recurrent(b, "gru1", IR_CELL_GRU, 4, 5, 2, false, 0.0);
    mb_dense(b, "dense1", 5, 6, IR_ACT_NONE);
    mb_layer(b, IR_LAYER_SOFTMAX, "softmax1", 6, -1);
    run_init(&r, b, 2, 5, 1801);
    in.tokens = r.tok;
    exec_reset_state(r.e);
    assert_int_equal(exec_forward(r.e, &in, false, &r.d), 0);
    full = exec_output(r.e, &rows, &w);
    s1 = exec_create(&b->m, 1, 1, &r.d);
    assert_non_null(s1);
    assert_int_equal(exec_copy_params(s1, r.e, &r.d), 0);
    exec_set_grad_enabled(s1, false);
    for (int t = 0; t < 5; t++) {
        int32_t tok = r.tok[t * 2]; /* stream 0 */
        ExecInput one = { 1, &tok, NULL, NULL, false };
        assert_int_equal(exec_forward(s1, &one, false, &r.d), 0);
        int rw, ww;
        const float *p = exec_output(s1, &rw, &ww);
        assert_int_equal(rw, 1);
        for (int j = 0; j < 6; j++)
            assert_float_equal(p[j], full[(t * 2) * 6 + j], 1e-6);
    }
    /* without gradients a fused backward is refused, not run on a missing cache */
    assert_int_equal(exec_backward(s1, &r.d), -1);
    exec_free(s1);
    run_free(&r);
    free(b);
}

/* ---- initialisers -------------------------------------------------------------------------- */

static void test_initialisers(void **state)
{
    (void)state;
    Diag d;
    diag_init(&d);
    Rng rng;
    rng_seed(&rng, 5);
    int shapes[3][2] = { { 8, 5 }, { 5, 8 }, { 6, 6 } };
    for (int s = 0; s < 3; s++) {
        int R = shapes[s][0], C = shapes[s][1];
        float v[64];
        IrInit o = { IR_INIT_ORTHOGONAL, 2.0, 0 };
        assert_int_equal(exec_init_tensor(v, R, C, o, &rng, &d), 0);
        /* rows orthogonal when R <= C, columns when R > C: the Gram matrix is gain^2 I */
        int n = R <= C ? R : C;
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++) {
                double dot = 0;
                for (int k = 0; k < (R <= C ? C : R); k++)
                    dot += R <= C ? (double)v[i * C + k] * v[j * C + k]
                                  : (double)v[k * C + i] * v[k * C + j];
                assert_float_equal(dot, i == j ? 4.0 : 0.0, 1e-5);
            }
    }
    float u[2000];
    IrInit un = { IR_INIT_UNIFORM, -0.25, 0.75 };
    assert_int_equal(exec_init_tensor(u, 1, 2000, un, &rng, &d), 0);
    double mean = 0, var = 0;
    for (int i = 0; i < 2000; i++) {
        assert_true(u[i] >= -0.25f && u[i] < 0.75f);
        mean += u[i] / 2000.0;
    }
    assert_float_equal(mean, 0.25, 0.03); /* sd of the mean: 0.29/sqrt(2000) = 0.0065 */
    IrInit nn = { IR_INIT_NORMAL, 0.5, 0 };
    assert_int_equal(exec_init_tensor(u, 40, 50, nn, &rng, &d), 0);
    for (int i = 0; i < 2000; i++)
        var += (double)u[i] * u[i] / 2000.0;
    assert_float_equal(sqrt(var), 0.5, 0.03);
    IrInit c = { IR_INIT_CONST, 1.5, 0 };
    assert_int_equal(exec_init_tensor(u, 2, 3, c, &rng, &d), 0);
    for (int i = 0; i < 6; i++)
        assert_true(u[i] == 1.5f);
    diag_free(&d);
}

/* Views are laid out back to back in tensor order, and named as the IR names them. */
static void test_param_layout(void **state)
{
    (void)state;
    MB *b = mb_new();
    mb_tokens(b, 65);
    mb_embedding(b, 65, 64);
    mb_recurrent(b, "lstm1", IR_CELL_LSTM, 64, 512 / 16, 2, false, 0.0);
    mb_dense(b, "dense1", 32, 65, IR_ACT_NONE);
    Diag d;
    diag_init(&d);
    ExecModel *e = exec_create(&b->m, 2, 3, &d);
    assert_non_null(e);
    int64_t off = 0;
    for (int t = 0; t < exec_ntensors(e); t++) {
        assert_int_equal(exec_tensor(e, t)->offset, off);
        off += exec_tensor(e, t)->size;
    }
    assert_int_equal(off, exec_nparams(e));
    /* 65*64 + 2 levels of (4*32*(in+32) + 2*4*32) + 65*32 + 65 */
    assert_int_equal(exec_nparams(e), 4160 + (128 * 96 + 256) + (128 * 64 + 256) + 2080 + 65);
    assert_int_equal(exec_find_tensor(e, "lstm1.weight_hh_l1"), 6);
    assert_int_equal(exec_find_tensor(e, "lstm1.nope"), -1);
    exec_free(e);
    diag_free(&d);
    free(b);
}

/* ---- errors -------------------------------------------------------------------------------- */

static void test_input_errors(void **state)
{
    (void)state;
    MB *b = mb_new();
    mb_tokens(b, 5);
    mb_embedding(b, 5, 3);
    mb_recurrent(b, "rnn1", IR_CELL_RNN_TANH, 3, 4, 1, false, 0.0);
    Run r;
    run_init(&r, b, 2, 3, 1600);
    ExecInput in = { 4, r.tok, NULL, NULL, false };
    assert_int_equal(exec_forward(r.e, &in, false, &r.d), -1); /* T > max_T */
    in.T = 3;
    r.tok[3] = 5;
    assert_int_equal(exec_forward(r.e, &in, false, &r.d), -1); /* token out of range */
    r.tok[3] = 0;
    int32_t len[2] = { 0, 3 };
    in.lengths = len;
    assert_int_equal(exec_forward(r.e, &in, false, &r.d), -1); /* empty sequence */
    in.lengths = NULL;
    in.tokens = NULL;
    assert_int_equal(exec_forward(r.e, &in, false, &r.d), -1); /* no tokens */
    assert_int_equal(diag_error_count(&r.d), 4);
    run_free(&r);
    /* malformed IR: a dense weight of the wrong size */
    b->tensors[1].size = 7;
    Diag d;
    diag_init(&d);
    assert_null(exec_create(&b->m, 2, 3, &d));
    assert_true(diag_error_count(&d) > 0);
    /* an embedding whose vocabulary differs from the token input's (ids could overrun it) */
    b->tensors[1].size = (int64_t)b->tensors[1].shape[0] * b->tensors[1].shape[1];
    ExecModel *ok = exec_create(&b->m, 2, 3, &d);
    assert_non_null(ok);
    exec_free(ok);
    b->layers[1].vocab = 4;
    int before = diag_error_count(&d);
    assert_null(exec_create(&b->m, 2, 3, &d));
    assert_int_equal(diag_error_count(&d), before + 1);
    diag_free(&d);
    free(b);
}

/* ---- through sema_compile and the real prelude ------------------------------------------- */

/* Compiles a model text (with --set strings); the test fails with the diagnostics on error. */
static IrModel *compile(Diag *d, const char *text, const char *const *sets, int nsets)
{
    const Source *src = diag_add_source(d, "test.rnn", text, strlen(text));
    assert_non_null(src);
    IrModel *m = sema_compile(d, src, sets, nsets);
    if (!m)
        diag_print(d, stderr);
    assert_non_null(m);
    return m;
}

/* A layer kind outside IrLayerKind (a malformed hand-built model) is set up like a vector
 * layer, and the first forward refuses it, naming the layer. */
static void test_unknown_layer_kind(void **state)
{
    (void)state;
    MB *b = mb_new();
    mb_layer(b, IR_LAYER_INPUT_VECTOR, "input", 3, -1);
    mb_layer(b, IR_LAYER_COUNT, "odd1", 3, -1);
    Diag d;
    diag_init(&d);
    ExecModel *e = exec_create(&b->m, 2, 2, &d);
    assert_non_null(e);
    float x[2 * 2 * 3] = { 0 };
    ExecInput in = { .T = 2, .vectors = x };
    assert_int_equal(exec_forward(e, &in, false, &d), -1);
    assert_int_equal(diag_error_count(&d), 1);
    exec_free(e);
    diag_free(&d);
    free(b);
}

/* Layers name their tensors by role: sema binds weight and bias of embedding, dense and
 * layernorm to the tensors "<label>.weight" / "<label>.bias", and the executor binds by role,
 * not by name -- a dense layer whose weight carries the right name but no role cannot run. */
static void test_tensor_roles(void **state)
{
    (void)state;
    Diag d;
    diag_init(&d);
    IrModel *m = compile(&d, "format 1\nmodel m {\n  input tokens(vocab=7)\n  embedding(4)\n"
                             "  layernorm\n  dense(3)\n}\n", NULL, 0);
    static const char *const want[3][2] = { { "embedding1.weight", NULL },
                                            { "layernorm1.weight", "layernorm1.bias" },
                                            { "dense1.weight", "dense1.bias" } };
    for (int i = 1; i <= 3; i++)
        for (int r = 0; r < IR_ROLE_COUNT; r++) {
            int t = m->layers[i].tensor[r];
            if (!want[i - 1][r]) {
                assert_int_equal(t, IR_NO_TENSOR);
                continue;
            }
            assert_true(t >= 0 && t < m->ntensors);
            assert_string_equal(m->tensors[t].name, want[i - 1][r]);
            assert_int_equal(m->tensors[t].layer, i);
        }
    ExecModel *e = exec_create(m, 2, 3, &d);
    assert_non_null(e);
    exec_free(e);
    m->layers[3].tensor[IR_ROLE_WEIGHT] = IR_NO_TENSOR;
    int before = diag_error_count(&d);
    assert_null(exec_create(m, 2, 3, &d));
    assert_int_equal(diag_error_count(&d), before + 1);
    ir_model_free(m);
    diag_free(&d);
}

/* The prelude's own lstm, gru and rnn cells (as sema builds them): the fused kernels and the
 * interpreter agree on outputs and every gradient, stacked and bidirectional, and the model's
 * gradients pass a central-difference check through the interpreter. */
static void test_sema_prelude_fused_vs_interp(void **state)
{
    (void)state;
    static const char *const layers[] = {
        "lstm(5, layers=2, bidirectional=true)", "gru(5, layers=2, bidirectional=true)",
        "rnn(5, layers=2)", "rnn(5, activation=relu, bidirectional=true)",
    };
    for (int k = 0; k < 4; k++) {
        char text[512];
        snprintf(text, sizeof text,
                 "format 1\nmodel m {\n  input tokens(vocab=7)\n  embedding(4)\n  %s\n"
                 "  dense(vocab)\n}\n", layers[k]);
        Diag d;
        diag_init(&d);
        IrModel *m = compile(&d, text, NULL, 0);
        assert_true(m->layers[2].kind == IR_LAYER_RECURRENT);
        assert_true(m->layers[2].builtin != IR_CELL_USER);
        Run r;
        int64_t np;
        float *g[2], *s[2], L[2];
        for (int pass = 0; pass < 2; pass++) {
            /* the Run is built by hand around the compiled model (run_init wants an MB) */
            memset(&r, 0, sizeof r);
            diag_init(&r.d);
            r.T = 4;
            r.B = 2;
            r.e = exec_create(m, 2, 4, &r.d);
            assert_non_null(r.e);
            Rng rng;
            rng_seed(&rng, 2000 + k);
            assert_int_equal(exec_init_params(r.e, &rng, &r.d), 0);
            r.tok = calloc(8, sizeof(int32_t));
            r.tgt = calloc(8, sizeof(int32_t));
            r.lengths = calloc(2, sizeof(int32_t));
            for (int i = 0; i < 8; i++) {
                r.tok[i] = (int32_t)rng_below(&rng, 7);
                r.tgt[i] = (int32_t)rng_below(&rng, 7);
            }
            r.s0 = fvec(exec_state_floats(r.e));
            for (int64_t i = 0; i < exec_state_floats(r.e); i++)
                r.s0[i] = (float)(rng_uniform(&rng) - 0.5);
            r.target.kind = EXEC_LOSS_XENT_TOKENS;
            r.target.ids = r.tgt;
            exec_set_force_interpreter(r.e, pass == 1);
            L[pass] = (float)run_grads(&r);
            np = exec_nparams(r.e);
            g[pass] = fvec(np);
            memcpy(g[pass], exec_grads(r.e), sizeof(float) * np);
            s[pass] = fvec(exec_state_floats(r.e));
            memcpy(s[pass], exec_state_grad(r.e), sizeof(float) * exec_state_floats(r.e));
            if (pass == 1 && k % 2 == 0)
                gradcheck_model(&r);
            if (pass == 0)
                run_free(&r);
        }
        assert_float_equal(L[0], L[1], 1e-5 * fabs(L[1]));
        double scale = 0;
        for (int64_t i = 0; i < np; i++)
            scale = fmax(scale, fabs(g[1][i]));
        for (int64_t i = 0; i < np; i++)
            if (fabs(g[0][i] - g[1][i]) > 1e-5 * fabs(g[1][i]) + 1e-6 * scale) {
                fprintf(stderr, "%s: grad[%lld] fused %.9g interpreter %.9g\n", layers[k],
                        (long long)i, g[0][i], g[1][i]);
                fail();
            }
        for (int64_t i = 0; i < exec_state_floats(r.e); i++)
            assert_float_equal(s[0][i], s[1][i], 1e-5 * fabs(s[1][i]) + 1e-6 * scale);
        for (int pass = 0; pass < 2; pass++) {
            free(g[pass]);
            free(s[pass]);
        }
        run_free(&r);
        ir_model_free(m);
        diag_free(&d);
    }
}

/* A user cell written as equations (the peephole LSTM of LANGUAGE.md section 4) with a residual
 * group and pooling: compiled by sema, run by the interpreter, checked by central differences. */
static void test_sema_peephole(void **state)
{
    (void)state;
    static const char text[] =
        "format 1\n"
        CB_PEEPHOLE_SRC
        "model m {\n"
        "  input vector(3)\n"
        "  peephole(4)\n"
        "  residual {\n"
        "    dense(4, activation=tanh)\n"
        "  }\n"
        "  pool(last)\n"
        "  dense(3)\n"
        "}\n";
    Diag d;
    diag_init(&d);
    IrModel *m = compile(&d, text, NULL, 0);
    Run r;
    memset(&r, 0, sizeof r);
    diag_init(&r.d);
    r.T = 4;
    r.B = 3;
    r.e = exec_create(m, 3, 4, &r.d);
    assert_non_null(r.e);
    assert_true(exec_find_tensor(r.e, "peephole1.p_o") >= 0);
    Rng rng;
    rng_seed(&rng, 2100);
    assert_int_equal(exec_init_params(r.e, &rng, &r.d), 0);
    r.tok = calloc(12, sizeof(int32_t));
    r.tgt = calloc(12, sizeof(int32_t));
    r.lengths = calloc(3, sizeof(int32_t));
    r.vec = fvec(12 * 3);
    for (int i = 0; i < 36; i++)
        r.vec[i] = (float)(2 * rng_uniform(&rng) - 1);
    for (int i = 0; i < 3; i++) {
        r.tgt[i] = (int32_t)rng_below(&rng, 3);
        r.lengths[i] = 2 + i % 3;
    }
    r.s0 = fvec(exec_state_floats(r.e));
    r.target.kind = EXEC_LOSS_XENT_LABEL;
    r.target.ids = r.tgt;
    gradcheck_model(&r);
    run_free(&r);
    ir_model_free(m);
    diag_free(&d);
}

/* Issue 9: reverse=true on the built-ins (fused kernels) and packed sequences (lengths that stop
 * the recurrences, run by the interpreter) in training: central differences through a stacked
 * LSTM, a bidirectional GRU and a reverse tanh RNN (no kinks), per-step MSE and pool(last) cross-entropy,
 * every parameter and the initial states; packed, a step past a length changes nothing. */
static void test_grad_reverse_packed(void **state)
{
    (void)state;
    static const char *const texts[] = {
        "model m {\n  input vector(3)\n  lstm(4, layers=2, reverse=true)\n"
        "  gru(3, bidirectional=true)\n  rnn(3, reverse=true)\n  dense(2)\n}\n",
        "model m {\n  input vector(3)\n  lstm(4, layers=2)\n  gru(3, reverse=true)\n"
        "  rnn(3, bidirectional=true)\n  pool(last)\n  dense(3)\n}\n",
    };
    for (int v = 0; v < 4; v++) {
        Diag d;
        diag_init(&d);
        IrModel *m = compile(&d, texts[v % 2], NULL, 0);
        Run r;
        memset(&r, 0, sizeof r);
        diag_init(&r.d);
        r.T = 5, r.B = 3;
        r.e = exec_create(m, 3, 5, &r.d);
        assert_non_null(r.e);
        Rng rng;
        rng_seed(&rng, 2300 + v);
        assert_int_equal(exec_init_params(r.e, &rng, &r.d), 0);
        r.tok = calloc(15, sizeof(int32_t));
        r.tgt = calloc(15, sizeof(int32_t));
        r.lengths = calloc(3, sizeof(int32_t));
        r.vec = fvec(15 * 3);
        r.vtgt = fvec(15 * 2);
        for (int i = 0; i < 45; i++)
            r.vec[i] = (float)(2 * rng_uniform(&rng) - 1);
        for (int i = 0; i < 30; i++)
            r.vtgt[i] = (float)(2 * rng_uniform(&rng) - 1);
        for (int i = 0; i < 3; i++) {
            r.tgt[i] = (int32_t)rng_below(&rng, 3);
            r.lengths[i] = v < 2 ? 0 : 5 - 2 * i; /* 5, 3, 1 */
        }
        r.lengths[0] = v < 2 ? 0 : 5;
        r.packed = v >= 2;
        r.s0 = fvec(exec_state_floats(r.e));
        for (int64_t i = 0; i < exec_state_floats(r.e); i++)
            r.s0[i] = (float)(rng_uniform(&rng) - 0.5);
        r.target.kind = v % 2 ? EXEC_LOSS_XENT_LABEL : EXEC_LOSS_MSE;
        r.target.ids = r.tgt;
        r.target.values = r.vtgt;
        gradcheck_model(&r);
        if (r.packed) { /* the input past sequence 2's length (1 step) does not matter */
            double L0 = run_loss(&r);
            r.vec[(3 * 3 + 2) * 3] += 0.5f;
            assert_true(run_loss(&r) == L0);
        }
        run_free(&r);
        ir_model_free(m);
        diag_free(&d);
    }
}

/* models/charlm-like text with vocab bound by --set: the PyTorch parameter count, tensor
 * names, and one finite training step. */
static void test_sema_charlm(void **state)
{
    (void)state;
    static const char text[] = "format 1\nmodel charlm {\n  input tokens(vocab=auto)\n"
                               "  embedding(64)\n  lstm(512, layers=2, dropout=0.25)\n"
                               "  dense(vocab)\n}\n";
    const char *sets[] = { "vocab=65" };
    Diag d;
    diag_init(&d);
    IrModel *m = compile(&d, text, sets, 1);
    ExecModel *e = exec_create(m, 2, 3, &d);
    assert_non_null(e);
    /* nn.Embedding(65, 64) + nn.LSTM(64, 512, num_layers=2) + nn.Linear(512, 65), counted
     * with PyTorch 1.13: 4160 + 3284992 + 33345 */
    assert_int_equal(exec_nparams(e), 3322497);
    assert_true(exec_find_tensor(e, "lstm1.weight_hh_l1") >= 0);
    assert_true(exec_find_tensor(e, "embedding1.weight") == 0);
    Rng rng;
    rng_seed(&rng, 1);
    assert_int_equal(exec_init_params(e, &rng, &d), 0);
    int32_t tok[6] = { 1, 2, 3, 4, 5, 64 }, tgt[6] = { 2, 3, 4, 5, 64, 0 };
    ExecInput in = { 3, tok, NULL, NULL, false };
    ExecTarget t = { EXEC_LOSS_XENT_TOKENS, tgt, NULL };
    double L;
    exec_zero_grads(e);
    assert_int_equal(exec_forward(e, &in, true, &d), 0);
    assert_int_equal(exec_loss(e, &t, &L, &d), 0);
    assert_int_equal(exec_backward(e, &d), 0);
    /* near-uniform predictions at init: loss close to log(65) = 4.17 */
    assert_float_equal(L, log(65.0), 0.1);
    double n = exec_grad_norm(e);
    assert_true(isfinite(n) && n > 0);
    exec_free(e);
    ir_model_free(m);
    diag_free(&d);
}

/* Every example model in models/ (vocab and classes bound by --set) runs forward and backward
 * with a loss sum(y * R) in training mode (fixed dropout masks); built-in layers run once fused
 * and once through the interpreter, which must agree on the loss and every gradient. */
static void test_example_models(void **state)
{
    (void)state;
    static const char *const files[] = { "adding", "charlm", "gru_classifier", "mgu",
                                         "peephole", "tagger" };
    const char *sets[] = { "vocab=11", "classes=3", "E=8", "H=6" };
    const char *top = getenv("top_srcdir");
    for (size_t f = 0; f < sizeof files / sizeof files[0]; f++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/models/%s.rnn", top ? top : ".", files[f]);
        Diag d;
        diag_init(&d);
        const Source *src = diag_load_file(&d, path, 1 << 20);
        if (!src)
            diag_print(&d, stderr);
        assert_non_null(src);
        /* E and H are consts only in the tagger; the other models take no such --set */
        int nsets = strcmp(files[f], "tagger") == 0 ? 4 : 2;
        IrModel *m = sema_compile(&d, src, sets, nsets);
        if (!m)
            diag_print(&d, stderr);
        assert_non_null(m);
        double L[2];
        float *g[2];
        int64_t np = 0;
        for (int pass = 0; pass < 2; pass++) {
            ExecModel *e = exec_create(m, 2, 3, &d);
            assert_non_null(e);
            exec_set_force_interpreter(e, pass == 1);
            Rng rng;
            rng_seed(&rng, 3000 + f);
            assert_int_equal(exec_init_params(e, &rng, &d), 0);
            int32_t tok[6];
            float vec[6 * 8];
            for (int i = 0; i < 6; i++)
                tok[i] = (int32_t)rng_below(&rng, 11);
            for (int i = 0; i < 48; i++)
                vec[i] = (float)(rng_uniform(&rng) - 0.5);
            ExecInput in = { 3, tok, vec, NULL, false };
            rng_seed(exec_rng(e), 9);
            exec_zero_grads(e);
            assert_int_equal(exec_forward(e, &in, true, &d), 0);
            int rows, w;
            const float *y = exec_output(e, &rows, &w);
            float *dy = exec_output_grad(e);
            L[pass] = 0;
            for (int i = 0; i < rows * w; i++) {
                float r = (float)(rng_uniform(&rng) - 0.5);
                L[pass] += (double)y[i] * r;
                dy[i] = r;
            }
            assert_int_equal(exec_backward(e, &d), 0);
            np = exec_nparams(e);
            g[pass] = fvec(np);
            memcpy(g[pass], exec_grads(e), sizeof(float) * np);
            exec_free(e);
        }
        assert_float_equal(L[0], L[1], 1e-5 * fabs(L[1]) + 1e-6);
        double scale = 0, norm = 0;
        for (int64_t i = 0; i < np; i++) {
            scale = fmax(scale, fabs(g[1][i]));
            norm += (double)g[0][i] * g[0][i];
        }
        assert_true(norm > 0 && isfinite(norm));
        for (int64_t i = 0; i < np; i++)
            if (fabs(g[0][i] - g[1][i]) > 1e-5 * fabs(g[1][i]) + 1e-6 * scale) {
                fprintf(stderr, "%s: grad[%lld] fused %.9g interpreter %.9g\n", files[f],
                        (long long)i, g[0][i], g[1][i]);
                fail();
            }
        free(g[0]);
        free(g[1]);
        ir_model_free(m);
        diag_free(&d);
    }
}

/* ---- against PyTorch (tests/fixtures, made by tests/fixtures/make_fixtures.py) ----------- */

/* Reads tests/fixtures/<dir>/<name>.npy as float32 with n elements (a malloc'd copy). */
static float *fixture(const char *dir, const char *name, size_t n)
{
    const char *top = getenv("top_srcdir");
    char path[1024];
    snprintf(path, sizeof path, "%s/tests/fixtures/%s/%s.npy", top ? top : ".", dir, name);
    Diag d;
    diag_init(&d);
    NpyArray a;
    if (npy_read(path, &a, &d)) {
        diag_print(&d, stderr);
        fail_msg("cannot read fixture %s", path);
    }
    diag_free(&d);
    assert_int_equal(a.dtype, NPY_F32);
    assert_int_equal(a.count, (int64_t)n);
    float *v = fvec(n);
    memcpy(v, a.data, sizeof(float) * n);
    npy_free(&a);
    return v;
}

/* |got - want| <= tol (|want| + 0.1 max|want|): relative, with a floor for near-zero entries. */
static void close_to(const char *what, const float *got, const float *want, size_t n, double tol)
{
    double mx = 0;
    for (size_t i = 0; i < n; i++)
        mx = fmax(mx, fabs(want[i]));
    for (size_t i = 0; i < n; i++)
        if (fabs((double)got[i] - want[i]) > tol * (fabs(want[i]) + 0.1 * mx)) {
            fprintf(stderr, "%s[%zu]: recur %.9g PyTorch %.9g\n", what, i, got[i], want[i]);
            fail();
        }
}

/* Offset of state `name` of recurrent cell k inside the executor's state block. */
static int64_t state_offset(const IrLayer *L, int B, int k, const char *name)
{
    int64_t off = 0;
    for (int c = 0; c < L->ncells; c++)
        for (int s = 0; s < L->cells[c].nstates; s++) {
            if (c == k && strcmp(L->cells[c].states[s].name, name) == 0)
                return off;
            off += (int64_t)B * L->cells[c].states[s].width;
        }
    fail_msg("no state %s", name);
    return -1;
}

/* A whole model `input vector(4)` + one recurrent layer labelled rec, loaded with PyTorch's
 * parameters by name (rec.weight_ih_l0 ...), run forward and backward with the fixture's loss
 * sum(y*ry) + sum(hn*rh) (+ sum(cn*rc)): outputs within 1e-5, gradients of every parameter, the
 * input and the initial states within 1e-4, fused and interpreted. */
static void torch_case(const char *dir, const char *layer, bool has_c)
{
    enum { T = 5, B = 3, I = 4, H = 6 };
    char text[256];
    snprintf(text, sizeof text, "format 1\nmodel m {\n  input vector(4)\n  rec: %s\n}\n", layer);
    Diag d;
    diag_init(&d);
    IrModel *m = compile(&d, text, NULL, 0);
    const IrLayer *L = &m->layers[1];
    int ncell = L->ncells, D = L->bidirectional ? 2 : 1;
    float *x = fixture(dir, "x", T * B * I);
    float *y = fixture(dir, "y", T * B * D * H), *ry = fixture(dir, "ry", T * B * D * H);
    const char *sn[2] = { "h", "c" };
    const char *f0[2] = { "h0", "c0" }, *fn[2] = { "hn", "cn" }, *fr[2] = { "rh", "rc" };
    const char *fg[2] = { "grad.h0", "grad.c0" };
    for (int interp = 0; interp < 2; interp++) {
        ExecModel *e = exec_create(m, B, T, &d);
        assert_non_null(e);
        exec_set_force_interpreter(e, interp);
        float *p = exec_params(e);
        char name[96];
        for (int t = 0; t < exec_ntensors(e); t++) {
            const ExecTensor *et = exec_tensor(e, t);
            assert_true(strncmp(et->name, "rec.", 4) == 0);
            float *v = fixture(dir, et->name + 4, et->size);
            memcpy(p + et->offset, v, sizeof(float) * et->size);
            free(v);
        }
        int64_t sf = exec_state_floats(e);
        float *s0 = fvec(sf), *sT = fvec(sf), *dsT = exec_final_state_grad(e);
        float *st[2][4]; /* [h/c][init, final, r, grad] in PyTorch layout [L*D][B][H] */
        for (int q = 0; q < (has_c ? 2 : 1); q++) {
            st[q][0] = fixture(dir, f0[q], ncell * B * H);
            st[q][1] = fixture(dir, fn[q], ncell * B * H);
            st[q][2] = fixture(dir, fr[q], ncell * B * H);
            st[q][3] = fixture(dir, fg[q], ncell * B * H);
            for (int k = 0; k < ncell; k++)
                memcpy(s0 + state_offset(L, B, k, sn[q]), st[q][0] + k * B * H,
                       sizeof(float) * B * H);
        }
        exec_set_state(e, s0);
        ExecInput in = { T, NULL, x, NULL, false };
        exec_zero_grads(e);
        assert_int_equal(exec_forward(e, &in, false, &d), 0);
        int rows, w;
        const float *out = exec_output(e, &rows, &w);
        assert_int_equal(rows * w, T * B * D * H);
        close_to("y", out, y, (size_t)rows * w, 1e-5);
        exec_get_state(e, sT);
        memcpy(exec_output_grad(e), ry, sizeof(float) * rows * w);
        for (int q = 0; q < (has_c ? 2 : 1); q++)
            for (int k = 0; k < ncell; k++) {
                int64_t o = state_offset(L, B, k, sn[q]);
                close_to(fn[q], sT + o, st[q][1] + k * B * H, B * H, 1e-5);
                memcpy(dsT + o, st[q][2] + k * B * H, sizeof(float) * B * H);
            }
        assert_int_equal(exec_backward(e, &d), 0);
        for (int t = 0; t < exec_ntensors(e); t++) {
            const ExecTensor *et = exec_tensor(e, t);
            snprintf(name, sizeof name, "grad.%s", et->name + 4);
            float *g = fixture(dir, name, et->size);
            close_to(name, exec_grads(e) + et->offset, g, et->size, 1e-4);
            free(g);
        }
        float *gx = fixture(dir, "grad.x", T * B * I);
        close_to("grad.x", exec_layer_grad(e, 0), gx, T * B * I, 1e-4);
        free(gx);
        const float *ds0 = exec_state_grad(e);
        for (int q = 0; q < (has_c ? 2 : 1); q++) {
            for (int k = 0; k < ncell; k++)
                close_to(fg[q], ds0 + state_offset(L, B, k, sn[q]), st[q][3] + k * B * H,
                         B * H, 1e-4);
            for (int z = 0; z < 4; z++)
                free(st[q][z]);
        }
        free(s0);
        free(sT);
        exec_free(e);
    }
    free(x);
    free(y);
    free(ry);
    ir_model_free(m);
    diag_free(&d);
}

static void test_torch_fixtures(void **state)
{
    (void)state;
    torch_case("lstm2", "lstm(6, layers=2)", true);
    torch_case("gru_bi", "gru(6, layers=2, bidirectional=true)", false);
    torch_case("rnn_relu", "rnn(6, activation=relu)", false);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fused_vs_interpreter),
        cmocka_unit_test(test_onednn_levels_vs_interpreter),
        cmocka_unit_test(test_grad_charlm),
        cmocka_unit_test(test_grad_residual_layernorm),
        cmocka_unit_test(test_grad_pool_label_mse),
        cmocka_unit_test(test_grad_seq_mse_lengths),
        cmocka_unit_test(test_loss_values),
        cmocka_unit_test(test_window_equals_steps),
        cmocka_unit_test(test_steps_repeatable),
        cmocka_unit_test(test_sampling_steps),
        cmocka_unit_test(test_batch1_lstm_vs_interp),
        cmocka_unit_test(test_token_table),
        cmocka_unit_test(test_initialisers),
        cmocka_unit_test(test_param_layout),
        cmocka_unit_test(test_input_errors),
        cmocka_unit_test(test_unknown_layer_kind),
        cmocka_unit_test(test_tensor_roles),
        cmocka_unit_test(test_sema_prelude_fused_vs_interp),
        cmocka_unit_test(test_env_interpreter),
        cmocka_unit_test(test_sema_peephole),
        cmocka_unit_test(test_grad_reverse_packed),
        cmocka_unit_test(test_sema_charlm),
        cmocka_unit_test(test_example_models),
        cmocka_unit_test(test_torch_fixtures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
