/* test_kernels: gradient checks and consistency checks for every kernel in src/exec/kernels.h.
 *
 * Gradient checks use central differences on a scalar loss L = sum(out * R) (R fixed random),
 * computed in double from the float32 kernel outputs. Tolerance: |analytic - numeric| <=
 * ATOL + RTOL * |numeric| with eps = 1e-2. Justification: the truncation error of a central
 * difference is eps^2/6 * L''' ~ 2e-5 for these O(1) smooth functions, and the float32 rounding
 * of L (a few hundred terms of size ~1, relative error ~6e-8 each) divided by 2 eps is ~1e-4 at
 * worst; a wrong derivative (missing term, wrong gate, wrong sign, wrong time step) gives
 * errors of order 1e-1 and fails by a wide margin. ATOL = 2e-3, RTOL = 1e-2.
 * Inputs are drawn so that relu kinks are not within eps of any pre-activation in practice. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exec/dnnl_rnn.h"
#include "exec/kernels.h"
#include "exec/parallel.h"
#include "util/rng.h"

#define EPS 1e-2
#define ATOL 2e-3
#define RTOL 1e-2

static Rng g_rng;

/* A zeroed float buffer of n (>= 1) floats; the test aborts on allocation failure. */
static float *fbuf(size_t n)
{
    float *p = calloc(n ? n : 1, sizeof *p);
    assert_non_null(p);
    return p;
}

/* A buffer of n uniform values in [-a, a]. */
static float *frand(size_t n, float a)
{
    float *p = fbuf(n);
    for (size_t i = 0; i < n; i++)
        p[i] = (float)((2.0 * rng_uniform(&g_rng) - 1.0) * a);
    return p;
}

static double dot(size_t n, const float *a, const float *b)
{
    double s = 0.0;
    for (size_t i = 0; i < n; i++)
        s += (double)a[i] * b[i];
    return s;
}

/* One differentiable input of a case: values, analytic gradient, count, name. */
typedef struct Param {
    float *v, *g;
    size_t n;
    const char *name;
} Param;

/* A gradient-check case: loss() evaluates the forward loss; grads() zeroes every Param.g and
 * fills it with the analytic gradient. */
typedef struct GradCase {
    Param p[12];
    int np;
    bool kinked; /* piecewise linear: see check_case */
    double (*loss)(void *ctx);
    void (*grads)(void *ctx);
    void *ctx;
} GradCase;

static void add_param(GradCase *gc, float *v, float *g, size_t n, const char *name)
{
    gc->p[gc->np++] = (Param){v, g, n, name};
}

/* Central-difference check of every element of every Param. For piecewise-linear kernels
 * (relu, max pool: gc->kinked) eps is 1e-3 and an element whose one-sided slopes disagree by
 * more than 2e-2 straddles a kink and is skipped; at most 5% may be skipped, so the check
 * cannot pass vacuously. */
static void check_case(GradCase *gc, const char *label)
{
    gc->grads(gc->ctx);
    double eps = gc->kinked ? 1e-3 : EPS;
    size_t total = 0, skipped = 0;
    for (int k = 0; k < gc->np; k++) {
        Param *p = &gc->p[k];
        for (size_t i = 0; i < p->n; i++) {
            float save = p->v[i];
            double l0 = gc->kinked ? gc->loss(gc->ctx) : 0.0;
            p->v[i] = save + (float)eps;
            double lp = gc->loss(gc->ctx);
            double up = (double)p->v[i] - save;
            p->v[i] = save - (float)eps;
            double lm = gc->loss(gc->ctx);
            double dn = save - (double)p->v[i];
            p->v[i] = save;
            total++;
            if (gc->kinked && fabs((lp - l0) / up - (l0 - lm) / dn) > 2e-2) {
                skipped++;
                continue;
            }
            double num = (lp - lm) / (up + dn);
            double err = fabs(num - p->g[i]);
            if (err > ATOL + RTOL * fabs(num)) {
                print_error("%s: d/d%s[%zu]: analytic %.6g numeric %.6g\n", label, p->name, i,
                            (double)p->g[i], num);
                fail();
            }
        }
    }
    assert_true(skipped * 20 <= total);
}

/* ------------------------------------------------------------------------------------------ */
/* Recurrent layers                                                                             */

typedef enum { CELL_LSTM, CELL_GRU, CELL_RNN_TANH, CELL_RNN_RELU } CellKind;

typedef struct RecCtx {
    CellKind kind;
    int T, B, I, H, G;
    bool reverse;
    float *x, *h0, *c0, *w_ih, *w_hh, *b_ih, *b_hh;
    float *dx, *dh0, *dc0, *dw_ih, *dw_hh, *db_ih, *db_hh;
    float *ry, *rh, *rc; /* loss weights for y, hT, cT */
    float *y, *hT, *cT, *cache, *work;
} RecCtx;

static int gates_of(CellKind k) { return k == CELL_LSTM ? 4 : k == CELL_GRU ? 3 : 1; }

static size_t cache_floats(CellKind k, int T, int B, int H, bool train)
{
    return k == CELL_LSTM  ? kern_lstm_cache_floats(T, B, H, train)
           : k == CELL_GRU ? kern_gru_cache_floats(T, B, H, train)
                           : kern_rnn_cache_floats(T, B, H, train);
}

static size_t work_floats(CellKind k, int T, int B, int H)
{
    return k == CELL_LSTM  ? kern_lstm_work_floats(T, B, H)
           : k == CELL_GRU ? kern_gru_work_floats(T, B, H)
                           : kern_rnn_work_floats(T, B, H);
}

/* Runs the forward of c's kind on a window of T steps starting at row x (h0, c0 may be NULL). */
static void rec_forward(RecCtx *c, int T, bool train, const float *x, const float *h0,
                        const float *c0, float *y, float *hT, float *cT, float *cache)
{
    KernAct act = c->kind == CELL_RNN_RELU ? KERN_ACT_RELU : KERN_ACT_TANH;
    KernRecShape sh = {T, c->B, c->I, c->H, c->reverse, false};
    KernRecWeights w = {c->w_ih, c->w_hh, c->b_ih, c->b_hh};
    if (c->kind == CELL_LSTM)
        kern_lstm_forward(sh, train, x, (KernStateIn){h0, c0}, w, y, (KernStateOut){hT, cT},
                          cache);
    else if (c->kind == CELL_GRU)
        kern_gru_forward(sh, train, x, (KernStateIn){h0, NULL}, w, y, (KernStateOut){hT, NULL},
                         cache);
    else
        kern_rnn_forward(sh, train, act, x, (KernStateIn){h0, NULL}, w, y,
                         (KernStateOut){hT, NULL}, cache);
}

static double rec_loss(void *ctx)
{
    RecCtx *c = ctx;
    size_t tbh = (size_t)c->T * c->B * c->H, bh = (size_t)c->B * c->H;
    rec_forward(c, c->T, false, c->x, c->h0, c->c0, c->y, c->hT, c->cT, c->cache);
    double l = dot(tbh, c->y, c->ry) + dot(bh, c->hT, c->rh);
    if (c->kind == CELL_LSTM)
        l += dot(bh, c->cT, c->rc);
    return l;
}

static void rec_zero_grads(RecCtx *c)
{
    size_t gh = (size_t)c->G * c->H;
    memset(c->dx, 0, (size_t)c->T * c->B * c->I * sizeof(float));
    memset(c->dh0, 0, (size_t)c->B * c->H * sizeof(float));
    memset(c->dc0, 0, (size_t)c->B * c->H * sizeof(float));
    memset(c->dw_ih, 0, gh * c->I * sizeof(float));
    memset(c->dw_hh, 0, gh * c->H * sizeof(float));
    memset(c->db_ih, 0, gh * sizeof(float));
    memset(c->db_hh, 0, gh * sizeof(float));
}

/* Train-mode forward then backward with dy = ry, dhT = rh, dcT = rc, accumulating into grads. */
static void rec_backward(RecCtx *c)
{
    KernAct act = c->kind == CELL_RNN_RELU ? KERN_ACT_RELU : KERN_ACT_TANH;
    rec_forward(c, c->T, true, c->x, c->h0, c->c0, c->y, c->hT, c->cT, c->cache);
    KernRecShape sh = {c->T, c->B, c->I, c->H, c->reverse, false};
    KernRecWeights w = {c->w_ih, c->w_hh, c->b_ih, c->b_hh};
    KernRecGrads dw = {c->dw_ih, c->dw_hh, c->db_ih, c->db_hh};
    if (c->kind == CELL_LSTM)
        kern_lstm_backward(sh, c->x, w, c->cache, c->ry, (KernDStateIn){c->rh, c->rc}, c->dx,
                           (KernDStateOut){c->dh0, c->dc0}, dw, c->work);
    else if (c->kind == CELL_GRU)
        kern_gru_backward(sh, c->x, w, c->cache, c->ry, (KernDStateIn){c->rh, NULL}, c->dx,
                          (KernDStateOut){c->dh0, NULL}, dw, c->work);
    else
        kern_rnn_backward(sh, act, c->x, w, c->cache, c->ry, (KernDStateIn){c->rh, NULL}, c->dx,
                          (KernDStateOut){c->dh0, NULL}, dw, c->work);
}

static void rec_grads(void *ctx)
{
    RecCtx *c = ctx;
    rec_zero_grads(c);
    rec_backward(c);
}

static RecCtx *rec_new(CellKind kind, int T, int B, int I, int H, bool reverse)
{
    RecCtx *c = calloc(1, sizeof *c);
    assert_non_null(c);
    c->kind = kind;
    c->T = T, c->B = B, c->I = I, c->H = H, c->G = gates_of(kind);
    c->reverse = reverse;
    size_t gh = (size_t)c->G * H, tbh = (size_t)T * B * H, bh = (size_t)B * H;
    float a = 1.0f / sqrtf((float)H);
    c->x = frand((size_t)T * B * I, 1.0f);
    c->h0 = frand(bh, 0.5f);
    c->c0 = frand(bh, 0.5f);
    c->w_ih = frand(gh * I, a * 1.5f);
    c->w_hh = frand(gh * H, a * 1.5f);
    c->b_ih = frand(gh, a);
    c->b_hh = frand(gh, a);
    c->dx = fbuf((size_t)T * B * I);
    c->dh0 = fbuf(bh);
    c->dc0 = fbuf(bh);
    c->dw_ih = fbuf(gh * I);
    c->dw_hh = fbuf(gh * H);
    c->db_ih = fbuf(gh);
    c->db_hh = fbuf(gh);
    c->ry = frand(tbh, 1.0f);
    c->rh = frand(bh, 1.0f);
    c->rc = frand(bh, 1.0f);
    c->y = fbuf(tbh);
    c->hT = fbuf(bh);
    c->cT = fbuf(bh);
    c->cache = fbuf(cache_floats(kind, T, B, H, true));
    c->work = fbuf(work_floats(kind, T, B, H));
    return c;
}

static void rec_free(RecCtx *c)
{
    float *bufs[] = {c->x, c->h0, c->c0, c->w_ih, c->w_hh, c->b_ih, c->b_hh, c->dx, c->dh0,
                     c->dc0, c->dw_ih, c->dw_hh, c->db_ih, c->db_hh, c->ry, c->rh, c->rc,
                     c->y, c->hT, c->cT, c->cache, c->work};
    for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++)
        free(bufs[i]);
    free(c);
}

static void rec_gradcheck(CellKind kind, bool reverse, const char *label)
{
    RecCtx *c = rec_new(kind, 4, 2, 3, 5, reverse);
    size_t gh = (size_t)c->G * c->H, bh = (size_t)c->B * c->H;
    GradCase gc = {.loss = rec_loss, .grads = rec_grads, .ctx = c, .kinked = kind == CELL_RNN_RELU};
    add_param(&gc, c->x, c->dx, (size_t)c->T * c->B * c->I, "x");
    add_param(&gc, c->h0, c->dh0, bh, "h0");
    if (kind == CELL_LSTM)
        add_param(&gc, c->c0, c->dc0, bh, "c0");
    add_param(&gc, c->w_ih, c->dw_ih, gh * c->I, "w_ih");
    add_param(&gc, c->w_hh, c->dw_hh, gh * c->H, "w_hh");
    add_param(&gc, c->b_ih, c->db_ih, gh, "b_ih");
    add_param(&gc, c->b_hh, c->db_hh, gh, "b_hh");
    check_case(&gc, label);
    rec_free(c);
}

static void test_lstm_grad_fwd(void **s) { (void)s; rec_gradcheck(CELL_LSTM, false, "lstm"); }
static void test_lstm_grad_rev(void **s) { (void)s; rec_gradcheck(CELL_LSTM, true, "lstm rev"); }
static void test_gru_grad_fwd(void **s) { (void)s; rec_gradcheck(CELL_GRU, false, "gru"); }
static void test_gru_grad_rev(void **s) { (void)s; rec_gradcheck(CELL_GRU, true, "gru rev"); }
static void test_rnn_tanh_grad_fwd(void **s) { (void)s; rec_gradcheck(CELL_RNN_TANH, false, "rnn"); }
static void test_rnn_tanh_grad_rev(void **s) { (void)s; rec_gradcheck(CELL_RNN_TANH, true, "rnn rev"); }
static void test_rnn_relu_grad_fwd(void **s) { (void)s; rec_gradcheck(CELL_RNN_RELU, false, "relu"); }
static void test_rnn_relu_grad_rev(void **s) { (void)s; rec_gradcheck(CELL_RNN_RELU, true, "relu rev"); }

static void assert_close(size_t n, const float *a, const float *b, float tol, const char *what)
{
    for (size_t i = 0; i < n; i++)
        if (fabsf(a[i] - b[i]) > tol) {
            print_error("%s[%zu]: %.8g vs %.8g\n", what, i, (double)a[i], (double)b[i]);
            fail();
        }
}

/* Inference forward == train forward; the full window == two halves with the state carried
 * (for reverse the later half runs first); NULL h0/c0 == zero state; backward accumulates. */
static void rec_consistency(CellKind kind, bool reverse)
{
    int T = 6, B = 3, I = 4, H = 5, T1 = 2;
    RecCtx *c = rec_new(kind, T, B, I, H, reverse);
    size_t bh = (size_t)B * H, tbh = (size_t)T * bh;
    float *y2 = fbuf(tbh), *h2 = fbuf(bh), *c2 = fbuf(bh), *hm = fbuf(bh), *cm = fbuf(bh);
    float *cache2 = fbuf(cache_floats(kind, T, B, H, false));

    rec_forward(c, T, true, c->x, c->h0, c->c0, c->y, c->hT, c->cT, c->cache);
    rec_forward(c, T, false, c->x, c->h0, c->c0, y2, h2, c2, cache2);
    assert_close(tbh, c->y, y2, 0.0f, "infer vs train y");
    assert_close(bh, c->hT, h2, 0.0f, "infer vs train hT");

    /* Halves: [0, T1) and [T1, T); a forward layer runs the first half first. */
    const float *xa = c->x, *xb = c->x + (size_t)T1 * B * I;
    float *ya = y2, *yb = y2 + (size_t)T1 * bh;
    int Ta = T1, Tb = T - T1;
    memset(y2, 0, tbh * sizeof *y2);
    if (!reverse) {
        rec_forward(c, Ta, true, xa, c->h0, c->c0, ya, hm, cm, c->cache);
        rec_forward(c, Tb, false, xb, hm, cm, yb, h2, c2, cache2);
    } else {
        rec_forward(c, Tb, false, xb, c->h0, c->c0, yb, hm, cm, cache2);
        rec_forward(c, Ta, true, xa, hm, cm, ya, h2, c2, c->cache);
    }
    assert_close(tbh, c->y, y2, 1e-6f, "halves y");
    assert_close(bh, c->hT, h2, 1e-6f, "halves hT");
    if (kind == CELL_LSTM)
        assert_close(bh, c->cT, c2, 1e-6f, "halves cT");

    /* hT/cT may be the h0/c0 buffers (state carried in place), in both modes. */
    for (int train = 0; train < 2; train++) {
        memcpy(hm, c->h0, bh * sizeof(float));
        memcpy(cm, c->c0, bh * sizeof(float));
        rec_forward(c, T, train, c->x, hm, cm, y2, hm, cm, train ? c->cache : cache2);
        assert_close(tbh, c->y, y2, 0.0f, "in-place state y");
        assert_close(bh, c->hT, hm, 0.0f, "in-place state hT");
        if (kind == CELL_LSTM)
            assert_close(bh, c->cT, cm, 0.0f, "in-place state cT");
    }

    /* NULL initial state is the zero state. */
    memset(c->h0, 0, bh * sizeof(float));
    memset(c->c0, 0, bh * sizeof(float));
    rec_forward(c, T, true, c->x, c->h0, c->c0, c->y, c->hT, c->cT, c->cache);
    free(cache2);
    cache2 = fbuf(cache_floats(kind, T, B, H, true));
    rec_forward(c, T, true, c->x, NULL, NULL, y2, h2, c2, cache2);
    assert_close(tbh, c->y, y2, 0.0f, "NULL h0 y");

    /* Backward twice == 2 x backward once (gradients accumulate). */
    rec_grads(c);
    size_t nw = (size_t)c->G * H * H;
    float *once = fbuf(nw);
    memcpy(once, c->dw_hh, nw * sizeof(float));
    rec_backward(c);
    for (size_t i = 0; i < nw; i++)
        once[i] *= 2.0f;
    assert_close(nw, c->dw_hh, once, 1e-5f, "accumulated dw_hh");

    free(once);
    free(y2), free(h2), free(c2), free(hm), free(cm), free(cache2);
    rec_free(c);
}

static void test_rec_consistency(void **s)
{
    (void)s;
    for (int k = CELL_LSTM; k <= CELL_RNN_RELU; k++) {
        rec_consistency((CellKind)k, false);
        rec_consistency((CellKind)k, true);
    }
}

/* Hand-computed LSTM step (T=1, B=1, I=1, H=1) against the equations, no BLAS shortcut. */
static void test_lstm_one_step_exact(void **s)
{
    (void)s;
    float x = 0.5f, h0 = -0.25f, c0 = 0.75f;
    float w_ih[4] = {0.1f, -0.2f, 0.3f, 0.4f}, w_hh[4] = {-0.5f, 0.6f, 0.7f, -0.8f};
    float b_ih[4] = {0.01f, 0.02f, 0.03f, 0.04f}, b_hh[4] = {0.05f, -0.06f, 0.07f, -0.08f};
    double z[4];
    for (int k = 0; k < 4; k++)
        z[k] = w_ih[k] * x + b_ih[k] + w_hh[k] * h0 + b_hh[k];
    double i = 1 / (1 + exp(-z[0])), f = 1 / (1 + exp(-z[1])), g = tanh(z[2]);
    double o = 1 / (1 + exp(-z[3]));
    double c = f * c0 + i * g, h = o * tanh(c);
    float y, hT, cT, cache[64];
    assert_true(kern_lstm_cache_floats(1, 1, 1, true) <= 64);
    kern_lstm_forward((KernRecShape){1, 1, 1, 1, false, false}, true, &x, (KernStateIn){&h0, &c0},
                      (KernRecWeights){w_ih, w_hh, b_ih, b_hh}, &y, (KernStateOut){&hT, &cT},
                      cache);
    assert_float_equal(y, h, 1e-6);
    assert_float_equal(hT, h, 1e-6);
    assert_float_equal(cT, c, 1e-6);
}

/* An empty window passes the initial state through (forward) and the final-state gradient
 * back to the initial state (backward); nothing else is touched. */
static void test_rec_empty_window(void **s)
{
    (void)s;
    float h0[2] = {0.5f, -1.0f}, c0[2] = {2.0f, 3.0f}, hT[2] = {9, 9}, cT[2] = {9, 9};
    float dh0[2] = {1, 1}, dc0[2] = {0, 0}, w[8] = {0}, dw[8] = {0};
    KernRecWeights ww = {w, w, NULL, NULL};
    kern_lstm_forward((KernRecShape){0, 1, 1, 2, false, false}, true, NULL,
                      (KernStateIn){h0, c0}, ww, NULL, (KernStateOut){hT, cT}, NULL);
    assert_true(hT[0] == 0.5f && hT[1] == -1.0f && cT[0] == 2.0f && cT[1] == 3.0f);
    kern_lstm_backward((KernRecShape){0, 1, 1, 2, true, false}, NULL, ww, NULL, NULL,
                       (KernDStateIn){h0, c0}, NULL, (KernDStateOut){dh0, dc0},
                       (KernRecGrads){dw, dw, NULL, NULL}, NULL);
    assert_true(dh0[0] == 1.5f && dh0[1] == 0.0f && dc0[0] == 2.0f && dc0[1] == 3.0f);
    kern_gru_forward((KernRecShape){0, 1, 1, 2, true, false}, false, NULL,
                     (KernStateIn){NULL, NULL}, ww, NULL, (KernStateOut){hT, NULL}, NULL);
    assert_true(hT[0] == 0.0f && hT[1] == 0.0f);
    kern_rnn_forward((KernRecShape){0, 1, 1, 2, false, false}, false, KERN_ACT_TANH, NULL,
                     (KernStateIn){h0, NULL}, ww, NULL, (KernStateOut){hT, NULL}, NULL);
    assert_true(hT[0] == 0.5f && hT[1] == -1.0f);
    for (int i = 0; i < 8; i++)
        assert_true(dw[i] == 0.0f);
}

/* ------------------------------------------------------------------------------------------ */
/* Row-wise layers                                                                              */

typedef struct DenseCtx {
    size_t n;
    int in, out;
    KernAct act;
    float *x, *w, *b, *dx, *dw, *db, *r, *y, *work;
} DenseCtx;

static double dense_loss(void *ctx)
{
    DenseCtx *c = ctx;
    kern_dense_forward(c->n, c->in, c->out, c->act, c->x, c->w, c->b, c->y);
    return dot(c->n * c->out, c->y, c->r);
}

static void dense_grads(void *ctx)
{
    DenseCtx *c = ctx;
    memset(c->dx, 0, c->n * c->in * sizeof(float));
    memset(c->dw, 0, (size_t)c->out * c->in * sizeof(float));
    memset(c->db, 0, (size_t)c->out * sizeof(float));
    kern_dense_forward(c->n, c->in, c->out, c->act, c->x, c->w, c->b, c->y);
    kern_dense_backward(c->n, c->in, c->out, c->act, c->x, c->w, c->y, c->r, c->dx, c->dw, c->db,
                        c->work);
}

static void test_dense_grad(void **s)
{
    (void)s;
    for (int a = KERN_ACT_NONE; a <= KERN_ACT_SIGMOID; a++) {
        DenseCtx c = {.n = 5, .in = 4, .out = 3, .act = (KernAct)a};
        c.x = frand(c.n * c.in, 1.0f), c.w = frand(12, 0.8f), c.b = frand(3, 0.5f);
        c.dx = fbuf(c.n * c.in), c.dw = fbuf(12), c.db = fbuf(3), c.r = frand(c.n * 3, 1.0f);
        c.y = fbuf(c.n * 3), c.work = fbuf(kern_dense_work_floats(c.n, 3, c.act));
        GradCase gc = {.loss = dense_loss, .grads = dense_grads, .ctx = &c,
                       .kinked = a == KERN_ACT_RELU};
        add_param(&gc, c.x, c.dx, c.n * c.in, "x");
        add_param(&gc, c.w, c.dw, 12, "w");
        add_param(&gc, c.b, c.db, 3, "b");
        check_case(&gc, "dense");
        free(c.x), free(c.w), free(c.b), free(c.dx), free(c.dw), free(c.db), free(c.r);
        free(c.y), free(c.work);
    }
}

typedef struct LnCtx {
    size_t n;
    int d;
    float *x, *w, *b, *dx, *dw, *db, *r, *y, *mean, *rstd;
} LnCtx;

static double ln_loss(void *ctx)
{
    LnCtx *c = ctx;
    kern_layernorm_forward(c->n, c->d, c->x, c->w, c->b, c->y, c->mean, c->rstd);
    return dot(c->n * c->d, c->y, c->r);
}

static void ln_grads(void *ctx)
{
    LnCtx *c = ctx;
    memset(c->dx, 0, c->n * c->d * sizeof(float));
    memset(c->dw, 0, c->d * sizeof(float));
    memset(c->db, 0, c->d * sizeof(float));
    kern_layernorm_forward(c->n, c->d, c->x, c->w, c->b, c->y, c->mean, c->rstd);
    kern_layernorm_backward(c->n, c->d, c->x, c->w, c->mean, c->rstd, c->r, c->dx, c->dw, c->db);
}

static void test_layernorm(void **s)
{
    (void)s;
    LnCtx c = {.n = 3, .d = 6};
    c.x = frand(18, 2.0f), c.w = frand(6, 1.0f), c.b = frand(6, 1.0f);
    c.dx = fbuf(18), c.dw = fbuf(6), c.db = fbuf(6), c.r = frand(18, 1.0f), c.y = fbuf(18);
    c.mean = fbuf(3), c.rstd = fbuf(3);
    /* Forward against the definition (biased variance, eps 1e-5). */
    kern_layernorm_forward(c.n, c.d, c.x, c.w, c.b, c.y, c.mean, c.rstd);
    for (int r = 0; r < 3; r++) {
        double m = 0, v = 0;
        for (int j = 0; j < 6; j++)
            m += c.x[r * 6 + j] / 6.0;
        for (int j = 0; j < 6; j++)
            v += (c.x[r * 6 + j] - m) * (c.x[r * 6 + j] - m) / 6.0;
        for (int j = 0; j < 6; j++)
            assert_float_equal(c.y[r * 6 + j],
                               (c.x[r * 6 + j] - m) / sqrt(v + 1e-5) * c.w[j] + c.b[j], 1e-5);
    }
    GradCase gc = {.loss = ln_loss, .grads = ln_grads, .ctx = &c};
    add_param(&gc, c.x, c.dx, 18, "x");
    add_param(&gc, c.w, c.dw, 6, "w");
    add_param(&gc, c.b, c.db, 6, "b");
    check_case(&gc, "layernorm");
    free(c.x), free(c.w), free(c.b), free(c.dx), free(c.dw), free(c.db), free(c.r), free(c.y);
    free(c.mean), free(c.rstd);
}

typedef struct PoolCtx {
    KernPool mode;
    int T, B, H;
    int32_t lens[3], argmax[3 * 4];
    float *x, *dx, *r, y[3 * 4];
} PoolCtx;

static double pool_loss(void *ctx)
{
    PoolCtx *c = ctx;
    kern_pool_forward(c->mode, c->T, c->B, c->H, c->x, c->lens, c->y, c->argmax);
    return dot((size_t)c->B * c->H, c->y, c->r);
}

static void pool_grads(void *ctx)
{
    PoolCtx *c = ctx;
    memset(c->dx, 0, (size_t)c->T * c->B * c->H * sizeof(float));
    kern_pool_forward(c->mode, c->T, c->B, c->H, c->x, c->lens, c->y, c->argmax);
    kern_pool_backward(c->mode, c->T, c->B, c->H, c->lens, c->argmax, c->r, c->dx);
}

static void test_pool(void **s)
{
    (void)s;
    for (int m = KERN_POOL_LAST; m <= KERN_POOL_MAX; m++) {
        PoolCtx c = {.mode = (KernPool)m, .T = 5, .B = 3, .H = 4, .lens = {5, 2, 1}};
        c.x = frand(60, 1.0f), c.dx = fbuf(60), c.r = frand(12, 1.0f);
        kern_pool_forward(c.mode, 5, 3, 4, c.x, c.lens, c.y, c.argmax);
        /* Exact values for stream 1 (length 2), feature 3. */
        float a = c.x[(0 * 3 + 1) * 4 + 3], b = c.x[(1 * 3 + 1) * 4 + 3];
        float want = m == KERN_POOL_LAST ? b : m == KERN_POOL_MEAN ? (a + b) / 2 : fmaxf(a, b);
        assert_float_equal(c.y[1 * 4 + 3], want, 1e-6);
        GradCase gc = {.loss = pool_loss, .grads = pool_grads, .ctx = &c,
                       .kinked = m == KERN_POOL_MAX};
        add_param(&gc, c.x, c.dx, 60, "x");
        check_case(&gc, "pool");
        /* Steps past a stream's length get no gradient. */
        for (int t = 2; t < 5; t++)
            for (int j = 0; j < 4; j++)
                assert_true(c.dx[(t * 3 + 1) * 4 + j] == 0.0f);
        free(c.x), free(c.dx), free(c.r);
    }
}

typedef struct SmCtx {
    float x[12], dx[12], r[12], y[12];
} SmCtx;

static double sm_loss(void *ctx)
{
    SmCtx *c = ctx;
    kern_softmax_forward(3, 4, c->x, c->y);
    return dot(12, c->y, c->r);
}

static void sm_grads(void *ctx)
{
    SmCtx *c = ctx;
    memset(c->dx, 0, sizeof c->dx);
    kern_softmax_forward(3, 4, c->x, c->y);
    kern_softmax_backward(3, 4, c->y, c->r, c->dx);
}

static void test_softmax(void **s)
{
    (void)s;
    SmCtx c;
    float *v = frand(12, 3.0f), *r = frand(12, 1.0f);
    memcpy(c.x, v, sizeof c.x), memcpy(c.r, r, sizeof c.r);
    free(v), free(r);
    c.x[0] = 1000.0f; /* must not overflow */
    kern_softmax_forward(3, 4, c.x, c.y);
    assert_float_equal(c.y[0], 1.0f, 1e-6);
    for (int i = 0; i < 12; i++)
        assert_true(isfinite(c.y[i]));
    c.x[0] = 0.3f;
    GradCase gc = {.loss = sm_loss, .grads = sm_grads, .ctx = &c};
    add_param(&gc, c.x, c.dx, 12, "x");
    check_case(&gc, "softmax");
}

typedef struct XentCtx {
    float logits[20], dl[20], mask[5];
    int32_t tg[5];
} XentCtx;

static double xent_loss(void *ctx)
{
    XentCtx *c = ctx;
    double l = 0;
    assert_int_equal(kern_xent_forward_backward(5, 4, c->logits, c->tg, -100, c->mask, NULL, &l,
                                                NULL), 0);
    return l;
}

static void xent_grads(void *ctx)
{
    XentCtx *c = ctx;
    double l = 0;
    assert_int_equal(kern_xent_forward_backward(5, 4, c->logits, c->tg, -100, c->mask, c->dl, &l,
                                                NULL), 0);
}

static void test_xent(void **s)
{
    (void)s;
    XentCtx c = {.tg = {0, 3, -100, 2, 1}, .mask = {1, 1, 1, 0, 1}};
    float *v = frand(20, 2.0f);
    memcpy(c.logits, v, sizeof c.logits);
    free(v);
    /* Independent value: rows 0, 1, 4 count (row 2 ignored, row 3 masked). */
    double want = 0;
    int rows[3] = {0, 1, 4};
    for (int k = 0; k < 3; k++) {
        int r = rows[k];
        double se = 0;
        for (int j = 0; j < 4; j++)
            se += exp(c.logits[r * 4 + j]);
        want += log(se) - c.logits[r * 4 + c.tg[r]];
    }
    want /= 3;
    double l = 0;
    size_t cnt = 0;
    assert_int_equal(kern_xent_forward_backward(5, 4, c.logits, c.tg, -100, c.mask, c.dl, &l,
                                                &cnt), 0);
    assert_int_equal(cnt, 3);
    assert_float_equal(l, want, 1e-6);
    for (int j = 0; j < 4; j++)
        assert_true(c.dl[2 * 4 + j] == 0.0f && c.dl[3 * 4 + j] == 0.0f);
    GradCase gc = {.loss = xent_loss, .grads = xent_grads, .ctx = &c};
    add_param(&gc, c.logits, c.dl, 20, "logits");
    check_case(&gc, "xent");
    /* Out-of-range target is reported, not read. */
    c.tg[1] = 4;
    assert_int_equal(kern_xent_forward_backward(5, 4, c.logits, c.tg, -100, NULL, c.dl, &l, NULL),
                     -1);
    /* No counted row: loss 0, zero gradient. */
    int32_t none[5] = {-100, -100, -100, -100, -100};
    assert_int_equal(kern_xent_forward_backward(5, 4, c.logits, none, -100, NULL, c.dl, &l, &cnt),
                     0);
    assert_true(l == 0.0 && cnt == 0 && c.dl[0] == 0.0f);
}

/* Every row width the 16-lane row kernel treats differently (one padded block below 16, whole
 * blocks, an overlapping last block): the loss and every dlogit against softmax and logsumexp
 * in double, and the same loss without dlogits (inference). */
static void test_xent_widths(void **s)
{
    (void)s;
    const int widths[] = { 1, 2, 4, 15, 16, 17, 31, 32, 33, 48, 65 };
    enum { N = 7 };
    for (size_t w = 0; w < sizeof widths / sizeof *widths; w++) {
        int C = widths[w];
        float *x = frand((size_t)N * C, 6.0f), *dl = fbuf((size_t)N * C);
        int32_t tg[N];
        for (int r = 0; r < N; r++)
            tg[r] = (int32_t)((r * 5 + 3) % C);
        double want = 0, l = 0, l_infer = 0;
        assert_int_equal(kern_xent_forward_backward(N, C, x, tg, -1, NULL, dl, &l, NULL), 0);
        assert_int_equal(kern_xent_forward_backward(N, C, x, tg, -1, NULL, NULL, &l_infer, NULL),
                         0);
        for (int r = 0; r < N; r++) {
            double se = 0;
            for (int j = 0; j < C; j++)
                se += exp((double)x[r * C + j]);
            want += log(se) - x[r * C + tg[r]];
            for (int j = 0; j < C; j++) {
                double p = (exp((double)x[r * C + j]) / se - (j == tg[r])) / N;
                assert_float_equal(dl[r * C + j], p, 1e-6 * (fabs(p) + 1.0 / N));
            }
        }
        assert_float_equal(l, want / N, 1e-6 * fabs(want / N) + 1e-9);
        assert_true(l_infer == l);
        free(x);
        free(dl);
    }
}

/* A head large enough to be split across the threads (parallel.h: 1000 rows x 67 classes,
 * every 7th row ignored): the loss and dlogits against softmax and logsumexp in double (1e-6
 * relative), and the same bits at 1, 2 and 3 threads (the loss is summed in fixed segments). */
/* The output layer's row and column loops split across the threads: the bias gradient's
 * column sums equal the sums in row order bit for bit, and the bias rows are the bias, at 1, 2
 * and 3 threads, with 67 columns (not a multiple of any thread count). */
static void test_dense_threads(void **s)
{
    (void)s;
    enum { N = 1000, C = 67, IN = 5 };
    assert_true((double)N * C >= KERN_PAR_MIN_WORK);
    float *a = frand((size_t)N * C, 1.0f), *b = frand(C, 1.0f), *want = fbuf(C);
    float *x = fbuf((size_t)N * IN), *w = fbuf((size_t)C * IN), *y = fbuf((size_t)N * C);
    for (int c = 0; c < C; c++) {
        want[c] = 0.5f;
        for (int r = 0; r < N; r++)
            want[c] += a[r * C + c];
    }
    for (int th = 1; th <= 3; th++) {
        onednn_set_threads(th);
        float *got = fbuf(C);
        for (int c = 0; c < C; c++)
            got[c] = 0.5f;
        kern_colsum_acc(N, C, a, got);
        for (int c = 0; c < C; c++)
            if (got[c] != want[c])
                fail_msg("%d threads, column %d: %.9g vs %.9g", th, c, got[c], want[c]);
        kern_dense_forward(N, IN, C, KERN_ACT_NONE, x, w, b, y); /* x, W zero: y = b */
        for (int r = 0; r < N; r++)
            if (memcmp(y + (size_t)r * C, b, sizeof(float) * C))
                fail_msg("%d threads, row %d of the bias rows", th, r);
        free(got);
    }
    onednn_set_threads(1);
    free(a), free(b), free(want), free(x), free(w), free(y);
}

static void test_xent_threads(void **s)
{
    (void)s;
    enum { N = 1000, C = 67 };
    assert_true((double)N * C >= KERN_PAR_MIN_WORK);
    float *x = frand((size_t)N * C, 4.0f), *dl[3];
    int32_t *tg = calloc(N, sizeof *tg);
    assert_non_null(tg);
    for (int r = 0; r < N; r++)
        tg[r] = r % 7 == 3 ? -1 : (int32_t)rng_below(&g_rng, C);
    double want = 0, loss[3];
    int cnt = 0;
    for (int r = 0; r < N; r++) {
        if (tg[r] < 0)
            continue;
        double se = 0;
        for (int j = 0; j < C; j++)
            se += exp((double)x[r * C + j]);
        want += log(se) - x[r * C + tg[r]];
        cnt++;
    }
    want /= cnt;
    for (int th = 1; th <= 3; th++) {
        onednn_set_threads(th);
        dl[th - 1] = fbuf((size_t)N * C);
        assert_int_equal(kern_xent_forward_backward(N, C, x, tg, -1, NULL, dl[th - 1],
                                                    &loss[th - 1], NULL), 0);
    }
    onednn_set_threads(1);
    assert_float_equal(loss[0], want, 1e-6 * want);
    for (int r = 0; r < N; r += 37) { /* spot rows against the double softmax */
        double se = 0;
        for (int j = 0; j < C; j++)
            se += exp((double)x[r * C + j]);
        for (int j = 0; tg[r] >= 0 && j < C; j++) {
            double p = exp((double)x[r * C + j]) / se - (j == tg[r]);
            assert_float_equal(dl[0][r * C + j], p / cnt, 1e-6 / cnt + 1e-6 * fabs(p / cnt));
        }
    }
    for (int k = 1; k < 3; k++) {
        assert_true(loss[k] == loss[0]);
        assert_memory_equal(dl[k], dl[0], sizeof(float) * N * C);
    }
    for (int k = 0; k < 3; k++)
        free(dl[k]);
    free(x), free(tg);
}

static void test_mse(void **s)
{
    (void)s;
    float y[4] = {1, 2, 3, 4}, t[4] = {0, 2, 5, 3}, dy[4];
    double l = kern_mse_forward_backward(4, 1, y, t, NULL, dy, NULL);
    assert_float_equal(l, (1.0 + 0 + 4 + 1) / 4, 1e-12);
    float want[4] = {0.5f, 0.0f, -1.0f, 0.5f};
    assert_close(4, dy, want, 1e-7f, "mse dy");
    /* The same values as 2 rows of 2: the mean over every element is the same. */
    size_t counted;
    l = kern_mse_forward_backward(2, 2, y, t, NULL, dy, &counted);
    assert_float_equal(l, (1.0 + 0 + 4 + 1) / 4, 1e-12);
    assert_close(4, dy, want, 1e-7f, "mse dy rows");
    assert_int_equal(counted, 2);
    /* A row mask skips row 0: the mean is over row 1 only and row 0 gets no gradient. */
    float mask[2] = {0.0f, 1.0f};
    l = kern_mse_forward_backward(2, 2, y, t, mask, dy, &counted);
    assert_float_equal(l, (4.0 + 1) / 2, 1e-12);
    float want_masked[4] = {0.0f, 0.0f, -2.0f, 1.0f};
    assert_close(4, dy, want_masked, 1e-7f, "masked mse dy");
    assert_int_equal(counted, 1);
    /* No counted row: loss 0 and a zero gradient. */
    float none[2] = {0.0f, 0.0f};
    l = kern_mse_forward_backward(2, 2, y, t, none, dy, &counted);
    assert_true(l == 0.0 && counted == 0 && dy[2] == 0.0f && dy[3] == 0.0f);
}

static void test_embedding(void **s)
{
    (void)s;
    float table[4 * 3], out[5 * 3], dout[5 * 3], dt[4 * 3] = {0};
    for (int i = 0; i < 12; i++)
        table[i] = (float)i;
    for (int i = 0; i < 15; i++)
        dout[i] = (float)(i + 1);
    int32_t ids[5] = {2, 0, 2, 3, 2};
    kern_embedding_forward(5, 3, ids, table, out);
    for (int r = 0; r < 5; r++)
        for (int j = 0; j < 3; j++)
            assert_true(out[r * 3 + j] == table[ids[r] * 3 + j]);
    kern_embedding_backward(5, 3, ids, dout, dt);
    /* row 2 receives rows 0, 2, 4 of dout; row 1 nothing. */
    float want2[3] = {1 + 7 + 13, 2 + 8 + 14, 3 + 9 + 15};
    assert_close(3, dt + 6, want2, 0.0f, "embedding row 2");
    assert_true(dt[3] == 0.0f && dt[4] == 0.0f && dt[5] == 0.0f);
    assert_true(dt[0] == 4.0f && dt[9] == 10.0f);
}

static void test_dropout_add_concat(void **s)
{
    (void)s;
    Rng r;
    rng_seed(&r, 7);
    enum { N = 10000 };
    float *mask = fbuf(N);
    kern_dropout_mask(N, 0.25f, &r, mask);
    int zeros = 0;
    for (int i = 0; i < N; i++) {
        assert_true(mask[i] == 0.0f || fabsf(mask[i] - 1.0f / 0.75f) < 1e-6f);
        zeros += mask[i] == 0.0f;
    }
    assert_in_range(zeros, 2300, 2700); /* 2500 +- 5 sigma (sigma ~ 43) */
    float x[3] = {1, 2, 3}, y[3], m[3] = {0, 2, 4}, dx[3] = {1, 1, 1};
    kern_dropout_forward(3, m, x, y);
    assert_true(y[0] == 0 && y[1] == 4 && y[2] == 12);
    kern_dropout_backward(3, m, x, dx);
    assert_true(dx[0] == 1 && dx[1] == 5 && dx[2] == 13);
    free(mask);

    float a[4] = {1, 2, 3, 4}, b[4] = {10, 20, 30, 40}, sum[4];
    const float *xs[2] = {a, b};
    kern_add_forward(4, 2, xs, sum);
    assert_true(sum[0] == 11 && sum[3] == 44);

    /* concat of a [2][2] and b [2][1]: rows [a0 a1 b0], [a2 a3 b1]. */
    int w[2] = {2, 1};
    float cat[6], dcat[6] = {1, 2, 3, 4, 5, 6}, da[4] = {0}, db[2] = {0};
    kern_concat_forward(2, 2, w, xs, cat);
    float wantc[6] = {1, 2, 10, 3, 4, 20};
    assert_close(6, cat, wantc, 0.0f, "concat");
    float *dxs[2] = {da, db};
    kern_concat_backward(2, 2, w, dcat, dxs);
    float wa[4] = {1, 2, 4, 5}, wb[2] = {3, 6};
    assert_close(4, da, wa, 0.0f, "concat da");
    assert_close(2, db, wb, 0.0f, "concat db");
}

static void test_act(void **s)
{
    (void)s;
    float x[3] = {-1.0f, 0.0f, 2.0f}, y[3], dy[3] = {1, 1, 1}, dx[3] = {0};
    kern_act_forward(3, KERN_ACT_SIGMOID, x, y);
    assert_float_equal(y[2], 1.0 / (1.0 + exp(-2.0)), 1e-7);
    kern_act_backward(3, KERN_ACT_SIGMOID, y, dy, dx);
    assert_float_equal(dx[1], 0.25, 1e-7);
    kern_act_forward(3, KERN_ACT_RELU, x, y);
    assert_true(y[0] == 0.0f && y[2] == 2.0f);
}

int main(void)
{
    rng_seed(&g_rng, 12345);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lstm_one_step_exact),
        cmocka_unit_test(test_lstm_grad_fwd),
        cmocka_unit_test(test_lstm_grad_rev),
        cmocka_unit_test(test_gru_grad_fwd),
        cmocka_unit_test(test_gru_grad_rev),
        cmocka_unit_test(test_rnn_tanh_grad_fwd),
        cmocka_unit_test(test_rnn_tanh_grad_rev),
        cmocka_unit_test(test_rnn_relu_grad_fwd),
        cmocka_unit_test(test_rnn_relu_grad_rev),
        cmocka_unit_test(test_rec_consistency),
        cmocka_unit_test(test_rec_empty_window),
        cmocka_unit_test(test_dense_grad),
        cmocka_unit_test(test_layernorm),
        cmocka_unit_test(test_pool),
        cmocka_unit_test(test_softmax),
        cmocka_unit_test(test_xent),
        cmocka_unit_test(test_xent_threads),
        cmocka_unit_test(test_dense_threads),
        cmocka_unit_test(test_xent_widths),
        cmocka_unit_test(test_mse),
        cmocka_unit_test(test_embedding),
        cmocka_unit_test(test_dropout_add_concat),
        cmocka_unit_test(test_act),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
