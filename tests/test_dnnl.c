/* test_dnnl: the oneDNN engine of the fused cells (src/exec/dnnl_rnn.h) against recur's own
 * kernels (kernels.h, themselves checked against the interpreter, PyTorch fixtures and central
 * differences elsewhere), and its determinism.
 *
 * - Kernel level: LSTM, GRU (PyTorch form = lbr_gru), RNN tanh and relu, both directions, with
 *   and without initial states, at 1, 2 and 3 threads, for H = 7 and 13 (not divisible by 2 or
 *   3): outputs, final states, dx, d initial states and every weight and bias gradient agree
 *   within 1e-5 relative plus 1e-6 of the buffer's largest magnitude (float32 rounding of two
 *   different summation orders and activation polynomials; a wrong gate order, bias split or
 *   direction gives errors of order 1e-1). Windows of different lengths alternate on one handle
 *   (the primitive cache), and backward accumulates into non-zero gradients as kernels.h says.
 * - Whole model: a stacked bidirectional lstm, a gru, a relu rnn (small: oneDNN on one thread)
 *   and an lstm(257) over 8 streams (above ONEDNN_RNN_PAR_MIN: oneDNN on every thread) compiled
 *   from the language, forward, loss and backward on oneDNN and on the own kernels each against
 *   the cell interpreter (exec_set_force_interpreter), at 1, 2 and 3 threads: loss, every
 *   parameter and state gradient within the same tolerance. Batch 1 (recur's matrix-vector path,
 *   split across the threads): lstm(259, layers=2) and gru(265), own kernels against the
 *   interpreter at 1, 2 and 3 threads.
 * - Determinism: the same training steps twice (fresh executors, same threads: 2, then 3) give
 *   weights equal byte for byte, for small cells and the lstm(257) on every thread.
 * - Inputs that could make NaN or overflow (oneDNN's clamped activations would turn a NaN into a
 *   finite value) are refused, and a NaN weight gives a NaN output through the executor.
 * Without oneDNN in the build every test skips with a printed reason. */
#define _DEFAULT_SOURCE /* nanosleep under -std=c11 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "exec/dnnl_rnn.h"
#include "exec/exec.h"
#include "exec/kernels.h"
#include "exec/matvec.h"
#include "lang/sema.h"
#include "util/rng.h"

static Rng g_rng;

/* A zeroed buffer of n floats (aborts the test on failure). */
static float *fbuf(size_t n)
{
    float *p = calloc(n ? n : 1, sizeof *p);
    assert_non_null(p);
    return p;
}

/* n uniform values in [-a, a]. */
static float *frand(size_t n, float a)
{
    float *p = fbuf(n);
    for (size_t i = 0; i < n; i++)
        p[i] = (float)((2.0 * rng_uniform(&g_rng) - 1.0) * a);
    return p;
}

/* Counts entries of got that differ from ref by more than 1e-5 |ref| + 1e-6 max|ref|. */
static int compare(const char *what, size_t n, const float *got, const float *ref)
{
    double scale = 0;
    for (size_t i = 0; i < n; i++)
        scale = fmax(scale, fabs(ref[i]));
    int bad = 0;
    for (size_t i = 0; i < n; i++)
        if (!(fabs(got[i] - ref[i]) <= 1e-5 * fabs(ref[i]) + 1e-6 * scale)) {
            if (bad++ < 5)
                fprintf(stderr, "  %s[%zu]: got %.9g reference %.9g\n", what, i, got[i], ref[i]);
        }
    return bad;
}

/* Skips the test (with the reason printed) when the build has no working oneDNN. */
static bool need_onednn(void)
{
    if (onednn_available())
        return true;
    printf("skipped: recur was built without oneDNN (configure --with-dnnl)\n");
    skip();
    return false;
}

/* ---- kernel level ------------------------------------------------------------------------ */

/* One cell's buffers: inputs, weights, and the outputs of one engine. */
typedef struct Bufs {
    float *y, *hT, *cT, *dx, *dh0, *dc0, *dw_ih, *dw_hh, *db_ih, *db_hh;
} Bufs;

typedef struct Case {
    OnednnCell cell;
    int T, B, In, H, G;
    bool reverse, states;
    float *x, *h0, *c0, *w_ih, *w_hh, *b_ih, *b_hh, *dy, *dhT, *dcT, *grad0;
} Case;

/* Allocates an engine's outputs; gradients start at grad0 (backward accumulates). */
static void bufs_new(const Case *c, Bufs *b)
{
    size_t tb = (size_t)c->T * c->B, gh = (size_t)c->G * c->H, bh = (size_t)c->B * c->H;
    b->y = fbuf(tb * c->H);
    b->hT = fbuf(bh), b->cT = fbuf(bh), b->dh0 = fbuf(bh), b->dc0 = fbuf(bh);
    b->dx = fbuf(tb * c->In);
    b->dw_ih = fbuf(gh * c->In), b->dw_hh = fbuf(gh * c->H);
    b->db_ih = fbuf(gh), b->db_hh = fbuf(gh);
    memcpy(b->dw_ih, c->grad0, sizeof(float) * gh * c->In);
    memcpy(b->db_hh, c->grad0, sizeof(float) * gh);
}

static void bufs_free(Bufs *b)
{
    float *p[] = { b->y, b->hT, b->cT, b->dx, b->dh0, b->dc0, b->dw_ih, b->dw_hh, b->db_ih,
                   b->db_hh };
    for (size_t k = 0; k < sizeof p / sizeof *p; k++)
        free(p[k]);
}

/* Runs recur's own kernel of c forward (train) and backward into b. */
static void run_own(const Case *c, Bufs *b)
{
    KernRecShape sh = { c->T, c->B, c->In, c->H, c->reverse, false };
    KernStateIn s0 = { c->h0, c->c0 };
    KernRecWeights w = { c->w_ih, c->w_hh, c->b_ih, c->b_hh };
    KernStateOut sT = { b->hT, c->cell == ONEDNN_LSTM ? b->cT : NULL };
    KernDStateIn dsT = { c->dhT, c->cell == ONEDNN_LSTM ? c->dcT : NULL };
    KernDStateOut ds0 = { b->dh0, c->cell == ONEDNN_LSTM ? b->dc0 : NULL };
    KernRecGrads dw = { b->dw_ih, b->dw_hh, b->db_ih, b->db_hh };
    int T = c->T, B = c->B, H = c->H;
    if (c->cell == ONEDNN_LSTM) {
        float *cache = fbuf(kern_lstm_cache_floats(T, B, H, true));
        float *work = fbuf(kern_lstm_work_floats(T, B, H));
        kern_lstm_forward(sh, true, c->x, s0, w, b->y, sT, cache);
        kern_lstm_backward(sh, c->x, w, cache, c->dy, dsT, b->dx, ds0, dw, work);
        free(cache), free(work);
    } else if (c->cell == ONEDNN_GRU) {
        float *cache = fbuf(kern_gru_cache_floats(T, B, H, true));
        float *work = fbuf(kern_gru_work_floats(T, B, H));
        kern_gru_forward(sh, true, c->x, s0, w, b->y, sT, cache);
        kern_gru_backward(sh, c->x, w, cache, c->dy, dsT, b->dx, ds0, dw, work);
        free(cache), free(work);
    } else {
        KernAct act = c->cell == ONEDNN_RNN_RELU ? KERN_ACT_RELU : KERN_ACT_TANH;
        float *cache = fbuf(kern_rnn_cache_floats(T, B, H, true));
        float *work = fbuf(kern_rnn_work_floats(T, B, H));
        kern_rnn_forward(sh, true, act, c->x, s0, w, b->y, sT, cache);
        kern_rnn_backward(sh, act, c->x, w, cache, c->dy, dsT, b->dx, ds0, dw, work);
        free(cache), free(work);
    }
}

/* Runs c on the oneDNN handle r (forward train, backward) into b; with overwrite, b->dx is
 * first filled with NaN and the backward told it does not count (it must write every float). */
static void run_onednn(OnednnRnn *r, const Case *c, Bufs *b, bool overwrite)
{
    Diag d;
    diag_init(&d);
    bool lstm = c->cell == ONEDNN_LSTM;
    KernStateIn s0 = { c->h0, c->c0 };
    KernRecWeights w = { c->w_ih, c->w_hh, c->b_ih, c->b_hh };
    KernStateOut sT = { b->hT, lstm ? b->cT : NULL };
    KernDStateIn dsT = { c->dhT, lstm ? c->dcT : NULL };
    KernDStateOut ds0 = { b->dh0, lstm ? b->dc0 : NULL };
    KernRecGrads dw = { b->dw_ih, b->dw_hh, b->db_ih, b->db_hh };
    for (size_t i = 0; overwrite && i < (size_t)c->T * c->B * c->In; i++)
        b->dx[i] = NAN;
    int rc = onednn_rnn_forward(r, c->T, true, c->x, s0, w, b->y, sT, &d);
    if (!rc)
        rc = onednn_rnn_backward(r, c->x, w, b->y, c->dy, dsT, b->dx, overwrite, ds0, dw, &d);
    if (rc)
        diag_print(&d, stderr);
    assert_int_equal(rc, 0);
    diag_free(&d);
}

/* Draws a case's inputs (states zero -- NULL -- unless c->states). */
static void case_draw(Case *c)
{
    size_t tb = (size_t)c->T * c->B, gh = (size_t)c->G * c->H, bh = (size_t)c->B * c->H;
    c->x = frand(tb * c->In, 1.0f);
    c->w_ih = frand(gh * c->In, 0.5f), c->w_hh = frand(gh * c->H, 0.5f);
    c->b_ih = frand(gh, 0.5f), c->b_hh = frand(gh, 0.5f);
    c->dy = frand(tb * c->H, 1.0f);
    c->h0 = c->states ? frand(bh, 1.0f) : NULL;
    c->c0 = c->states && c->cell == ONEDNN_LSTM ? frand(bh, 1.0f) : NULL;
    c->dhT = c->states ? frand(bh, 1.0f) : NULL;
    c->dcT = c->states && c->cell == ONEDNN_LSTM ? frand(bh, 1.0f) : NULL;
    c->grad0 = frand(gh * (c->In > c->H ? c->In : c->H), 0.1f);
}

static void case_free(Case *c)
{
    float *p[] = { c->x, c->h0, c->c0, c->w_ih, c->w_hh, c->b_ih, c->b_hh, c->dy, c->dhT,
                   c->dcT, c->grad0 };
    for (size_t k = 0; k < sizeof p / sizeof *p; k++)
        free(p[k]);
}

/* Compares every output of the two engines; returns the number of mismatches. */
static int compare_bufs(const Case *c, const Bufs *dn, const Bufs *own)
{
    size_t tb = (size_t)c->T * c->B, gh = (size_t)c->G * c->H, bh = (size_t)c->B * c->H;
    bool lstm = c->cell == ONEDNN_LSTM;
    return compare("y", tb * c->H, dn->y, own->y) + compare("hT", bh, dn->hT, own->hT) +
           (lstm ? compare("cT", bh, dn->cT, own->cT) : 0) +
           compare("dx", tb * c->In, dn->dx, own->dx) +
           compare("dh0", bh, dn->dh0, own->dh0) +
           (lstm ? compare("dc0", bh, dn->dc0, own->dc0) : 0) +
           compare("dw_ih", gh * c->In, dn->dw_ih, own->dw_ih) +
           compare("dw_hh", gh * c->H, dn->dw_hh, own->dw_hh) +
           compare("db_ih", gh, dn->db_ih, own->db_ih) +
           compare("db_hh", gh, dn->db_hh, own->db_hh);
}

/* One cell kind, one direction, one thread count: two window lengths alternating on one
 * handle, each equal to the own kernel's results. */
static void check_cell(OnednnCell cell, bool reverse, int H, int threads)
{
    static const int Ts[] = { 6, 3, 6 };
    onednn_set_threads(threads);
    Diag d;
    diag_init(&d);
    int G = cell == ONEDNN_LSTM ? 4 : cell == ONEDNN_GRU ? 3 : 1;
    OnednnRnn *r = onednn_rnn_create(cell, 5, 9, H, reverse, &d);
    assert_non_null(r);
    for (int k = 0; k < 3; k++) {
        Case c = { .cell = cell, .T = Ts[k], .B = 5, .In = 9, .H = H, .G = G, .reverse = reverse,
                   .states = k != 1 };
        case_draw(&c);
        Bufs dn, own;
        bufs_new(&c, &dn);
        bufs_new(&c, &own);
        run_own(&c, &own);
        run_onednn(r, &c, &dn, k == 1); /* the short window writes dx over NaN */
        int bad = compare_bufs(&c, &dn, &own);
        if (bad)
            fprintf(stderr, "cell %d reverse %d H %d T %d threads %d: %d mismatches\n", cell,
                    reverse, H, c.T, threads, bad);
        assert_int_equal(bad, 0);
        bufs_free(&dn);
        bufs_free(&own);
        case_free(&c);
    }
    onednn_rnn_free(r);
    diag_free(&d);
}

/* Every cell kind and direction at 1, 2 and 3 threads, H = 7 and 13. */
static void test_cells_vs_own(void **state)
{
    (void)state;
    if (!need_onednn())
        return;
    static const OnednnCell cells[] = { ONEDNN_LSTM, ONEDNN_GRU, ONEDNN_RNN_TANH,
                                        ONEDNN_RNN_RELU };
    for (int threads = 1; threads <= 3; threads++)
        for (int k = 0; k < 4; k++)
            for (int rev = 0; rev < 2; rev++)
                check_cell(cells[k], rev, threads == 2 ? 13 : 7, threads);
    onednn_set_threads(2);
}

/* Backward without a training forward is an error, not a crash. */
static void test_backward_needs_training_forward(void **state)
{
    (void)state;
    if (!need_onednn())
        return;
    Diag d;
    diag_init(&d);
    OnednnRnn *r = onednn_rnn_create(ONEDNN_LSTM, 2, 3, 4, false, &d);
    assert_non_null(r);
    float x[2 * 2 * 3] = { 0 }, y[2 * 2 * 4], w_ih[16 * 3] = { 0 }, w_hh[16 * 4] = { 0 };
    KernRecWeights w = { w_ih, w_hh, NULL, NULL };
    assert_int_equal(onednn_rnn_forward(r, 2, false, x, (KernStateIn){ 0 }, w, y,
                                        (KernStateOut){ 0 }, &d), 0);
    float dw_ih[16 * 3], dw_hh[16 * 4];
    KernRecGrads dw = { dw_ih, dw_hh, NULL, NULL };
    assert_int_equal(onednn_rnn_backward(r, x, w, y, NULL, (KernDStateIn){ 0 }, NULL, false,
                                         (KernDStateOut){ 0 }, dw, &d), -1);
    assert_true(diag_error_count(&d) == 1);
    assert_non_null(strstr(diag_message_text(&d, 0), "without a training forward"));
    onednn_rnn_free(r);
    diag_free(&d);
}

/* Inputs that could give NaN or overflow are refused (the executor then runs its own kernel,
 * which keeps a NaN, where oneDNN's clamped activations would hide it); ordinary ones pass. */
static void test_inputs_safe(void **state)
{
    (void)state;
    if (!need_onednn())
        return;
    Diag d;
    diag_init(&d);
    OnednnRnn *r = onednn_rnn_create(ONEDNN_LSTM, 2, 3, 4, false, &d);
    assert_non_null(r);
    float x[2 * 2 * 3], h[2 * 4], w_ih[16 * 3], w_hh[16 * 4], b[16];
    for (int i = 0; i < 12; i++)
        x[i] = 0.5f;
    for (int i = 0; i < 48; i++)
        w_ih[i] = 0.1f;
    for (int i = 0; i < 64; i++)
        w_hh[i] = -0.2f;
    for (int i = 0; i < 16; i++)
        b[i] = 0.3f, h[i % 8] = 0.7f;
    KernRecWeights w = { w_ih, w_hh, b, b };
    KernStateIn s0 = { h, h };
    assert_true(onednn_rnn_inputs_safe(r, 2, x, s0, w));
    assert_true(onednn_rnn_inputs_safe(r, 2, x, (KernStateIn){ 0 }, w));
    x[11] = NAN;
    assert_false(onednn_rnn_inputs_safe(r, 2, x, s0, w));
    x[11] = 0.5f, w_hh[63] = INFINITY;
    assert_false(onednn_rnn_inputs_safe(r, 2, x, s0, w));
    w_hh[63] = -0.2f, h[7] = NAN;
    assert_false(onednn_rnn_inputs_safe(r, 2, x, s0, w));
    h[7] = 0.7f, w_ih[5] = 1e29f, x[0] = 1e9f; /* finite, but the product overflows */
    assert_false(onednn_rnn_inputs_safe(r, 2, x, s0, w));
    /* 7 steps: 42 floats of x, whole 16-float blocks and a last one overlapping the block
     * before; a NaN or a huge value in any of them, the last float included, is seen */
    float xl[7 * 2 * 3];
    w_ih[5] = 0.1f;
    for (int k = 0; k < 42; k += 7) {
        for (int i = 0; i < 42; i++)
            xl[i] = 0.5f;
        assert_true(onednn_rnn_inputs_safe(r, 7, xl, s0, w));
        xl[k == 35 ? 41 : k + 1] = NAN;
        assert_false(onednn_rnn_inputs_safe(r, 7, xl, s0, w));
        xl[k == 35 ? 41 : k + 1] = 1e38f;
        w_ih[5] = 1e10f;
        assert_false(onednn_rnn_inputs_safe(r, 7, xl, s0, w));
        w_ih[5] = 0.1f;
    }
    /* 6000 steps, 36000 floats: enough to be split across the threads (max_abs_all's parts);
     * a NaN first, at a part's edge, inside and last is seen at 1, 2 and 3 threads */
    enum { TL = 6000, NL = TL * 2 * 3 };
    float *xb = malloc(sizeof(float) * NL);
    assert_non_null(xb);
    const size_t at[] = { 0, NL / 16 - 1, NL / 16, NL / 2 + 7, NL - 1 };
    for (int th = 1; th <= 3; th++) {
        onednn_set_threads(th);
        for (size_t k = 0; k < sizeof at / sizeof *at; k++) {
            for (int i = 0; i < NL; i++)
                xb[i] = 0.5f;
            assert_true(onednn_rnn_inputs_safe(r, TL, xb, s0, w));
            xb[at[k]] = NAN;
            assert_false(onednn_rnn_inputs_safe(r, TL, xb, s0, w));
            xb[at[k]] = -INFINITY;
            assert_false(onednn_rnn_inputs_safe(r, TL, xb, s0, w));
        }
    }
    onednn_set_threads(1);
    free(xb);
    onednn_rnn_free(r);
    diag_free(&d);
}

/* ---- whole models ------------------------------------------------------------------------ */

/* Compiles a model text (asserting success). */
static IrModel *compile(Diag *d, const char *text)
{
    const Source *src = diag_add_source(d, "test.rnn", text, strlen(text));
    assert_non_null(src);
    IrModel *m = sema_compile(d, src, NULL, 0);
    if (!m)
        diag_print(d, stderr);
    assert_non_null(m);
    return m;
}

/* A model, its executor and one window of data: B streams of T steps (B = 4, T = 10: 40 rows,
 * on oneDNN; B = 1: recur's batch-1 path). */
typedef struct Net {
    IrModel *m;
    ExecModel *e;
    int B, T;
    int32_t *tok, *tgt;
    Diag d;
} Net;

enum { NET_B = 4, NET_T = 10, NET_V = 11 };

static void net_new_bt(Net *n, const char *layer, uint64_t seed, int B, int T)
{
    char text[512];
    snprintf(text, sizeof text,
             "format 1\nmodel m {\n  input tokens(vocab=%d)\n  embedding(6)\n  %s\n"
             "  dense(vocab)\n}\n", NET_V, layer);
    diag_init(&n->d);
    n->m = compile(&n->d, text);
    n->B = B, n->T = T;
    n->e = exec_create(n->m, B, T, &n->d);
    assert_non_null(n->e);
    Rng rng;
    rng_seed(&rng, seed);
    assert_int_equal(exec_init_params(n->e, &rng, &n->d), 0);
    n->tok = calloc((size_t)B * T, sizeof *n->tok);
    n->tgt = calloc((size_t)B * T, sizeof *n->tgt);
    assert_true(n->tok && n->tgt);
    for (int i = 0; i < B * T; i++) {
        n->tok[i] = (int32_t)rng_below(&rng, NET_V);
        n->tgt[i] = (int32_t)rng_below(&rng, NET_V);
    }
}

static void net_new(Net *n, const char *layer, uint64_t seed)
{
    net_new_bt(n, layer, seed, NET_B, NET_T);
}

static void net_free(Net *n)
{
    free(n->tok), free(n->tgt);
    exec_free(n->e);
    ir_model_free(n->m);
    diag_free(&n->d);
}

/* One forward (training, dropout on), loss and backward; returns the loss. */
static double net_step(Net *n)
{
    ExecInput in = { .T = n->T, .tokens = n->tok };
    ExecTarget t = { .kind = EXEC_LOSS_XENT_TOKENS, .ids = n->tgt };
    double loss = 0;
    exec_zero_grads(n->e);
    int rc = exec_forward(n->e, &in, true, &n->d) || exec_loss(n->e, &t, &loss, &n->d) ||
             exec_backward(n->e, &n->d);
    if (rc)
        diag_print(&n->d, stderr);
    assert_int_equal(rc, 0);
    return loss;
}

/* The engines a built-in cell can run on: oneDNN, recur's own fused kernels (with its batch-1
 * matrix-vector path at B = 1), the cell interpreter (the reference here). */
enum { ENG_ONEDNN, ENG_OWN, ENG_INTERP, ENGINES };
static const char *const engine_name[ENGINES] = { "oneDNN", "own kernels", "interpreter" };

/* The engines on the same model (B streams, T steps), weights, carried state and dropout masks
 * at this thread count: loss, every parameter gradient and the initial-state gradient of
 * oneDNN (when from_engine is ENG_ONEDNN) and of the own kernels agree with the interpreter's. */
static void model_vs_interp(const char *layer, int threads, int B, int T, int from_engine)
{
    exec_set_threads(threads);
    Net n;
    net_new_bt(&n, layer, 77, B, T);
    int64_t np = exec_nparams(n.e), sf = exec_state_floats(n.e);
    float *s0 = frand((size_t)sf, 1.0f), *g[ENGINES], *sg[ENGINES];
    double loss[ENGINES];
    for (int k = from_engine; k < ENGINES; k++) {
        exec_set_onednn(n.e, k == ENG_ONEDNN);
        exec_set_force_interpreter(n.e, k == ENG_INTERP);
        exec_set_state(n.e, s0);
        exec_seed_dropout(n.e, 5);
        loss[k] = net_step(&n);
        g[k] = fbuf((size_t)np);
        memcpy(g[k], exec_grads(n.e), sizeof(float) * np);
        sg[k] = fbuf((size_t)sf);
        memcpy(sg[k], exec_state_grad(n.e), sizeof(float) * sf);
    }
    for (int k = from_engine; k < ENG_INTERP; k++) {
        assert_float_equal(loss[k], loss[ENG_INTERP], 1e-5 * fabs(loss[ENG_INTERP]));
        int bad = compare("grads", (size_t)np, g[k], g[ENG_INTERP]) +
                  compare("state grad", (size_t)sf, sg[k], sg[ENG_INTERP]);
        if (bad)
            fprintf(stderr, "%s B %d, %s vs the interpreter at %d threads: %d mismatches\n",
                    layer, B, engine_name[k], threads, bad);
        assert_int_equal(bad, 0);
    }
    for (int k = from_engine; k < ENGINES; k++)
        free(g[k]), free(sg[k]);
    free(s0);
    net_free(&n);
}

/* A NaN weight makes the output NaN on an executor that runs oneDNN for ordinary weights (how
 * a diverging run is caught), not a finite value. */
static void test_nan_propagates(void **state)
{
    (void)state;
    if (!need_onednn())
        return;
    Net n;
    net_new(&n, "lstm(8)", 3);
    int t = exec_find_tensor(n.e, "lstm1.weight_hh_l0");
    assert_true(t >= 0);
    ExecInput in = { .T = NET_T, .tokens = n.tok };
    int rows, w;
    assert_int_equal(exec_forward(n.e, &in, false, &n.d), 0);
    const float *y = exec_output(n.e, &rows, &w);
    for (int i = 0; i < rows * w; i++)
        assert_true(isfinite(y[i]));
    exec_params(n.e)[exec_tensor(n.e, t)->offset + 3] = NAN;
    exec_reset_state(n.e);
    assert_int_equal(exec_forward(n.e, &in, true, &n.d), 0); /* training: oneDNN's ref path */
    y = exec_output(n.e, &rows, &w);
    int nans = 0;
    for (int i = 0; i < rows * w; i++)
        nans += isnan(y[i]) != 0;
    assert_true(nans > rows * w / 2);
    net_free(&n);
}

/* oneDNN and the own kernels against the interpreter at 1, 2 and 3 threads, H not divisible by
 * 2 or 3: small cells, and a cell large enough for oneDNN to run on every thread
 * (ONEDNN_RNN_PAR_MIN) over 8 streams of 8 steps. */
static void test_models_vs_interp(void **state)
{
    (void)state;
    if (!need_onednn())
        return;
    assert_true(8L * 4 * 257 * (6 + 257) >= ONEDNN_RNN_PAR_MIN && 8 >= EXEC_ONEDNN_MIN_STEPS);
    for (int threads = 1; threads <= 3; threads++) {
        model_vs_interp("lstm(7, layers=2, bidirectional=true, dropout=0.3)", threads, NET_B,
                        NET_T, ENG_ONEDNN);
        model_vs_interp("gru(13, layers=2)", threads, NET_B, NET_T, ENG_ONEDNN);
        model_vs_interp("rnn(7, activation=relu, bidirectional=true)", threads, NET_B, NET_T,
                        ENG_ONEDNN);
        model_vs_interp("lstm(257)", threads, 8, 8, ENG_ONEDNN);
    }
    exec_set_threads(2);
}

/* recur's batch-1 path (B = 1: the fused kernels' steps in chunks of hidden units on the
 * matrix-vector path, split across the threads at these widths, matvec.h) against the
 * interpreter at 1, 2 and 3 threads, H not divisible by 2 or 3: windows of 5 steps, and of one
 * step (x W_ih^T then fused into the step, as recur sample runs it), training forward and
 * backward from a random carried state. */
static void test_batch1_vs_interp(void **state)
{
    (void)state;
    assert_true((long)259 * 259 >= KERN_MATVEC_PAR_MIN && 259 >= KERN_MATVEC_MIN_K);
    for (int threads = 1; threads <= 3; threads++) {
        for (int T = 1; T <= 5; T += 4) {
            model_vs_interp("lstm(259, layers=2)", threads, 1, T, ENG_OWN);
            model_vs_interp("gru(265)", threads, 1, T, ENG_OWN);
            model_vs_interp("rnn(263)", threads, 1, T, ENG_OWN);
            model_vs_interp("rnn(261, activation=relu, layers=2)", threads, 1, T, ENG_OWN);
        }
    }
    exec_set_threads(2);
}

/* The threads of this process (/proc/self/task), waiting up to 2 s for it to fall to `want`: a
 * joined thread stays listed until the kernel has reaped it, a little after the join. */
static int own_threads(int want)
{
    int n = 0;
    for (int look = 0; look < 200; look++) {
        DIR *dir = opendir("/proc/self/task");
        n = 0;
        for (struct dirent *t; dir && (t = readdir(dir));)
            n += t->d_name[0] != '.';
        if (dir)
            closedir(dir);
        if (n <= want)
            break;
        nanosleep(&(struct timespec){ 0, 10000000 }, NULL);
    }
    return n;
}

/* OpenBLAS's thread pool (which its pthreads build starts when loaded, spinning) is stopped
 * while oneDNN does every product, and stays stopped when --threads is set (dnnl_rnn.c). Runs
 * first, before any OpenMP or matrix-vector threads exist: one thread, the test's own. */
static void test_blas_pool_stopped(void **state)
{
    (void)state;
    if (!need_onednn())
        return;
    assert_int_equal(own_threads(1), 1);
    exec_set_threads(2);
    assert_int_equal(own_threads(1), 1);
}

/* Three training steps with plain SGD on the parameters from a fresh executor of B streams
 * of T steps. */
static void train_three(const char *layer, int B, int T, float *out, int64_t *np)
{
    Net n;
    net_new_bt(&n, layer, 91, B, T);
    *np = exec_nparams(n.e);
    for (int step = 0; step < 3; step++) {
        net_step(&n);
        float *p = exec_params(n.e);
        const float *gr = exec_grads(n.e);
        for (int64_t i = 0; i < *np; i++)
            p[i] -= 0.1f * gr[i];
    }
    if (out)
        memcpy(out, exec_params(n.e), sizeof(float) * *np);
    net_free(&n);
}

/* Two such runs at the same thread count (2, and 3) give weights equal byte for byte: small
 * cells (oneDNN on one thread) and one above ONEDNN_RNN_PAR_MIN (oneDNN on every thread). */
static void test_deterministic(void **state)
{
    (void)state;
    if (!need_onednn())
        return;
    static const struct {
        const char *layer;
        int B, T;
    } nets[] = { { "lstm(33, layers=2, dropout=0.2)", NET_B, NET_T }, { "gru(29)", NET_B, NET_T },
                 { "lstm(257)", 8, 8 } };
    for (int threads = 2; threads <= 3; threads++) {
        exec_set_threads(threads);
        for (size_t k = 0; k < sizeof nets / sizeof *nets; k++) {
            int64_t np;
            train_three(nets[k].layer, nets[k].B, nets[k].T, NULL, &np);
            float *a = fbuf((size_t)np), *b = fbuf((size_t)np);
            train_three(nets[k].layer, nets[k].B, nets[k].T, a, &np);
            train_three(nets[k].layer, nets[k].B, nets[k].T, b, &np);
            assert_memory_equal(a, b, sizeof(float) * np);
            free(a), free(b);
        }
    }
    exec_set_threads(2);
}

int main(void)
{
    rng_seed(&g_rng, 4242);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_blas_pool_stopped),
        cmocka_unit_test(test_cells_vs_own),
        cmocka_unit_test(test_backward_needs_training_forward),
        cmocka_unit_test(test_inputs_safe),
        cmocka_unit_test(test_nan_propagates),
        cmocka_unit_test(test_models_vs_interp),
        cmocka_unit_test(test_batch1_vs_interp),
        cmocka_unit_test(test_deterministic),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
