/* test_torch_fixtures: the fused kernels, stacked as PyTorch stacks them, against the reference
 * values written by tests/fixtures/make_fixtures.py (PyTorch 1.13, computed in float64).
 *
 * Each case runs L layers x D directions: layer l, direction d starts from h0[l*D+d] (and c0),
 * the reverse direction processes t = T-1 ... 0, the two directions' outputs are concatenated
 * forward then reverse as the next layer's input. Loss = sum(y*ry) + sum(hn*rh) (+ sum(cn*rc)),
 * so backward starts from dy = ry, dhT = rh, dcT = rc. Asserted: outputs and final states within
 * 1e-5 (absolute, values are O(1)), the loss within 1e-5 relative, every gradient (parameters,
 * x, h0, c0) within 1e-4 relative to max(|reference|, 1).
 *
 * Fixture files are found under $top_srcdir/tests/fixtures (set by `make check`; "." otherwise). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exec/kernels.h"
#include "io/npy.h"
#include "util/diag.h"

enum { T = 5, B = 3, I0 = 4, H = 6, MAXLD = 4 };

typedef enum { K_LSTM, K_GRU, K_RNN_RELU } Kind;

static const char *case_dir;
static double worst_out, worst_grad; /* largest observed error / tolerance scale, reported */

/* Reads <case>/<name>.npy as float32 with exactly n elements; the test fails otherwise.
 * Returns a malloc'd copy the caller frees. */
static float *load(const char *name, size_t n)
{
    const char *top = getenv("top_srcdir");
    char path[1024];
    snprintf(path, sizeof path, "%s/tests/fixtures/%s/%s.npy", top ? top : ".", case_dir, name);
    Diag d;
    diag_init(&d);
    NpyArray a;
    int rc = npy_read(path, &a, &d);
    if (rc != 0) {
        diag_print(&d, stderr);
        diag_free(&d);
        fail_msg("cannot read fixture %s", path);
    }
    diag_free(&d);
    assert_int_equal(a.dtype, NPY_F32);
    assert_int_equal(a.count, (int64_t)n);
    float *v = malloc((n ? n : 1) * sizeof *v);
    assert_non_null(v);
    memcpy(v, a.data, n * sizeof *v);
    npy_free(&a);
    return v;
}

static float *zeros(size_t n)
{
    float *p = calloc(n ? n : 1, sizeof *p);
    assert_non_null(p);
    return p;
}

/* |got - want| <= tol * scale, scale = 1 (absolute) or max(|want|, 1) (relative). */
static void expect_close(const char *what, size_t n, const float *got, const float *want,
                         double tol, bool relative)
{
    for (size_t i = 0; i < n; i++) {
        double scale = relative ? fmax(fabs(want[i]), 1.0) : 1.0;
        double e = fabs((double)got[i] - want[i]) / scale;
        double *worst = relative ? &worst_grad : &worst_out;
        *worst = e > *worst ? e : *worst;
        if (e > tol) {
            print_error("%s/%s[%zu]: got %.9g, PyTorch %.9g\n", case_dir, what, i,
                        (double)got[i], (double)want[i]);
            fail();
        }
    }
}

/* Parameters and gradients of one layer-direction, named as in PyTorch's state_dict. */
typedef struct Cell {
    char suffix[32];            /* "l1_reverse" */
    int in;                     /* input width */
    float *w_ih, *w_hh, *b_ih, *b_hh, *dw_ih, *dw_hh, *db_ih, *db_hh;
    float *y, *hT, *cT, *cache, *work;
} Cell;

static void run_case(const char *dir, Kind kind, int L, int D)
{
    case_dir = dir;
    int G = kind == K_LSTM ? 4 : kind == K_GRU ? 3 : 1;
    bool lstm = kind == K_LSTM;
    size_t bh = (size_t)B * H, tbh = (size_t)T * bh, nst = (size_t)L * D * bh;
    float *x = load("x", (size_t)T * B * I0), *h0 = load("h0", nst);
    float *c0 = lstm ? load("c0", nst) : NULL;
    float *ry = load("ry", tbh * D), *rh = load("rh", nst), *rc = lstm ? load("rc", nst) : NULL;
    float *dh0 = zeros(nst), *dc0 = zeros(nst), *hn = zeros(nst), *cn = zeros(nst);
    Cell cells[MAXLD];
    float *layer_in[MAXLD + 1]; /* input of layer l: [T][B][in] ; layer_in[L] = final output */
    layer_in[0] = x;

    /* Forward, layer by layer. */
    for (int l = 0; l < L; l++) {
        int in = l == 0 ? I0 : D * H;
        layer_in[l + 1] = zeros(tbh * D);
        for (int d = 0; d < D; d++) {
            Cell *c = &cells[l * D + d];
            char nm[64];
            snprintf(c->suffix, sizeof c->suffix, "l%d%s", l, d ? "_reverse" : "");
            c->in = in;
            snprintf(nm, sizeof nm, "weight_ih_%.31s", c->suffix);
            c->w_ih = load(nm, (size_t)G * H * in);
            snprintf(nm, sizeof nm, "weight_hh_%.31s", c->suffix);
            c->w_hh = load(nm, (size_t)G * H * H);
            snprintf(nm, sizeof nm, "bias_ih_%.31s", c->suffix);
            c->b_ih = load(nm, (size_t)G * H);
            snprintf(nm, sizeof nm, "bias_hh_%.31s", c->suffix);
            c->b_hh = load(nm, (size_t)G * H);
            c->dw_ih = zeros((size_t)G * H * in);
            c->dw_hh = zeros((size_t)G * H * H);
            c->db_ih = zeros((size_t)G * H);
            c->db_hh = zeros((size_t)G * H);
            c->y = zeros(tbh);
            size_t k = (size_t)(l * D + d);
            bool rev = d == 1;
            KernRecShape sh = {T, B, in, H, rev};
            KernRecWeights w = {c->w_ih, c->w_hh, c->b_ih, c->b_hh};
            if (kind == K_LSTM) {
                c->cache = zeros(kern_lstm_cache_floats(T, B, H, true));
                c->work = zeros(kern_lstm_work_floats(T, B, H));
                kern_lstm_forward(sh, true, layer_in[l], (KernStateIn){h0 + k * bh, c0 + k * bh},
                                  w, c->y, (KernStateOut){hn + k * bh, cn + k * bh}, c->cache);
            } else if (kind == K_GRU) {
                c->cache = zeros(kern_gru_cache_floats(T, B, H, true));
                c->work = zeros(kern_gru_work_floats(T, B, H));
                kern_gru_forward(sh, true, layer_in[l], (KernStateIn){h0 + k * bh, NULL}, w, c->y,
                                 (KernStateOut){hn + k * bh, NULL}, c->cache);
            } else {
                c->cache = zeros(kern_rnn_cache_floats(T, B, H, true));
                c->work = zeros(kern_rnn_work_floats(T, B, H));
                kern_rnn_forward(sh, true, KERN_ACT_RELU, layer_in[l],
                                 (KernStateIn){h0 + k * bh, NULL}, w, c->y,
                                 (KernStateOut){hn + k * bh, NULL}, c->cache);
            }
        }
        const float *parts[2] = {cells[l * D].y, D == 2 ? cells[l * D + 1].y : NULL};
        int widths[2] = {H, H};
        kern_concat_forward((size_t)T * B, D, widths, parts, layer_in[l + 1]);
    }

    float *y_ref = load("y", tbh * D), *hn_ref = load("hn", nst), *loss_ref = load("loss", 1);
    expect_close("y", tbh * D, layer_in[L], y_ref, 1e-5, false);
    expect_close("hn", nst, hn, hn_ref, 1e-5, false);
    double loss = 0;
    for (size_t i = 0; i < tbh * D; i++)
        loss += (double)layer_in[L][i] * ry[i];
    for (size_t i = 0; i < nst; i++)
        loss += (double)hn[i] * rh[i] + (lstm ? (double)cn[i] * rc[i] : 0.0);
    assert_true(fabs(loss - loss_ref[0]) <= 1e-5 * fmax(fabs(loss_ref[0]), 1.0));
    if (lstm) {
        float *cn_ref = load("cn", nst);
        expect_close("cn", nst, cn, cn_ref, 1e-5, false);
        free(cn_ref);
    }

    /* Backward, top layer first: split the output gradient by direction, run each direction's
     * backward (both accumulate into the layer's input gradient). */
    float *dout = zeros(tbh * D);
    memcpy(dout, ry, tbh * D * sizeof *dout);
    for (int l = L - 1; l >= 0; l--) {
        int in = l == 0 ? I0 : D * H;
        float *din = zeros((size_t)T * B * in), *dys[2] = {zeros(tbh), zeros(tbh)};
        int widths[2] = {H, H};
        kern_concat_backward((size_t)T * B, D, widths, dout, dys);
        for (int d = 0; d < D; d++) {
            Cell *c = &cells[l * D + d];
            size_t k = (size_t)(l * D + d);
            bool rev = d == 1;
            KernRecShape sh = {T, B, in, H, rev};
            KernRecWeights w = {c->w_ih, c->w_hh, c->b_ih, c->b_hh};
            KernRecGrads dw = {c->dw_ih, c->dw_hh, c->db_ih, c->db_hh};
            if (kind == K_LSTM)
                kern_lstm_backward(sh, layer_in[l], w, c->cache, dys[d],
                                   (KernDStateIn){rh + k * bh, rc + k * bh}, din,
                                   (KernDStateOut){dh0 + k * bh, dc0 + k * bh}, dw, c->work);
            else if (kind == K_GRU)
                kern_gru_backward(sh, layer_in[l], w, c->cache, dys[d],
                                  (KernDStateIn){rh + k * bh, NULL}, din,
                                  (KernDStateOut){dh0 + k * bh, NULL}, dw, c->work);
            else
                kern_rnn_backward(sh, KERN_ACT_RELU, layer_in[l], w, c->cache, dys[d],
                                  (KernDStateIn){rh + k * bh, NULL}, din,
                                  (KernDStateOut){dh0 + k * bh, NULL}, dw, c->work);
        }
        free(dys[0]), free(dys[1]), free(dout);
        dout = din;
    }

    /* Gradients against PyTorch. */
    float *ref = load("grad.x", (size_t)T * B * I0);
    expect_close("grad.x", (size_t)T * B * I0, dout, ref, 1e-4, true);
    free(ref);
    ref = load("grad.h0", nst);
    expect_close("grad.h0", nst, dh0, ref, 1e-4, true);
    free(ref);
    if (lstm) {
        ref = load("grad.c0", nst);
        expect_close("grad.c0", nst, dc0, ref, 1e-4, true);
        free(ref);
    }
    for (int k = 0; k < L * D; k++) {
        Cell *c = &cells[k];
        const char *pn[4] = {"weight_ih", "weight_hh", "bias_ih", "bias_hh"};
        float *got[4] = {c->dw_ih, c->dw_hh, c->db_ih, c->db_hh};
        size_t n[4] = {(size_t)G * H * c->in, (size_t)G * H * H, (size_t)G * H, (size_t)G * H};
        for (int p = 0; p < 4; p++) {
            char nm[64];
            snprintf(nm, sizeof nm, "grad.%s_%.31s", pn[p], c->suffix);
            ref = load(nm, n[p]);
            expect_close(nm, n[p], got[p], ref, 1e-4, true);
            free(ref);
        }
        float *bufs[] = {c->w_ih, c->w_hh, c->b_ih, c->b_hh, c->dw_ih, c->dw_hh, c->db_ih,
                         c->db_hh, c->y, c->cache, c->work};
        for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++)
            free(bufs[i]);
    }
    for (int l = 0; l <= L; l++)
        free(layer_in[l]);
    free(dout), free(h0), free(c0), free(ry), free(rh), free(rc), free(dh0), free(dc0);
    free(hn), free(cn), free(y_ref), free(hn_ref), free(loss_ref);
    print_message("%s: largest output error %.2g, largest relative gradient error %.2g\n", dir,
                  worst_out, worst_grad);
    worst_out = worst_grad = 0;
}

static void test_lstm2(void **s) { (void)s; run_case("lstm2", K_LSTM, 2, 1); }
static void test_gru_bi(void **s) { (void)s; run_case("gru_bi", K_GRU, 2, 2); }
static void test_rnn_relu(void **s) { (void)s; run_case("rnn_relu", K_RNN_RELU, 1, 1); }

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lstm2),
        cmocka_unit_test(test_gru_bi),
        cmocka_unit_test(test_rnn_relu),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
