/* test_matvec: recur's matrix-vector path (src/exec/matvec.h), which kern_sgemm uses for
 * one-row products C = a B^T with long rows (batch-1 generation).
 *
 * - Direct: kern_matvec_nt against a double-precision loop written here, for M = 1..6, N and K around the vector widths (1, 15, 16, 17, 33, 100,
 *   131) and one product large enough to be split across the threads (N 2051, K 131), alpha and
 *   beta (beta = 0 never reads C: a NaN there must not leak), strided A, W and C; at 1, 2 and 3
 *   threads, within 1e-5 relative to the sum of |terms|. The results at 2 and 3 threads equal
 *   those at 1 byte for byte (each output element is one dot product in a fixed order).
 * - Through kern_sgemm: the shapes it routes here (one row of at least KERN_MATVEC_MIN_K) give
 *   the same bytes as calling the path directly.
 * - LSTM at batch 1 (the path `recur sample` runs) and 3 (oneDNN's sgemm): kern_lstm_forward with
 *   H = 259 (not divisible by 2 or 3, at least KERN_MATVEC_MIN_K, and 4H*H above
 *   KERN_MATVEC_PAR_MIN so the threads split it) against the
 *   PyTorch LSTM equations stepped in double precision here, within 1e-5, at 1, 2 and 3 threads.
 * Threads are set with onednn_set_threads (what --threads calls); without oneDNN in the build the
 * path runs on one thread and the thread loop just repeats the check. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "exec/dnnl_rnn.h"
#include "exec/kernels.h"
#include "exec/matvec.h"
#include "util/rng.h"

/* A buffer of n floats uniform in [-1, 1) from the generator seeded with *seed (then advanced,
 * so successive buffers differ). */
static float *rand_buf(size_t n, unsigned *seed)
{
    float *p = malloc((n ? n : 1) * sizeof *p);
    assert_non_null(p);
    Rng r;
    rng_seed(&r, (*seed)++);
    for (size_t i = 0; i < n; i++)
        p[i] = (float)(2.0 * rng_uniform(&r) - 1.0);
    return p;
}

/* Checks one product C = alpha A W^T + beta C0 (strides: K+3, K+1, N+2) against doubles at
 * 1, 2 and 3 threads, and that every thread count gives the same bytes. */
static void check_product(int M, int N, int K, float alpha, float beta)
{
    unsigned seed = (unsigned)(M * 7919 + N * 31 + K);
    int lda = K + 3, ldw = K + 1, ldc = N + 2;
    float *A = rand_buf((size_t)M * lda, &seed), *W = rand_buf((size_t)N * ldw, &seed);
    float *C0 = rand_buf((size_t)M * ldc, &seed);
    if (beta == 0.0f)
        for (size_t i = 0; i < (size_t)M * ldc; i++)
            C0[i] = NAN;
    float *C = malloc(sizeof(float) * M * ldc), *C1 = malloc(sizeof(float) * M * ldc);
    assert_non_null(C);
    assert_non_null(C1);
    for (int th = 1; th <= 3; th++) {
        onednn_set_threads(th);
        memcpy(C, C0, sizeof(float) * M * ldc);
        kern_matvec_nt(M, N, K, alpha, A, lda, W, ldw, beta, C, ldc);
        for (int m = 0; m < M; m++)
            for (int n = 0; n < N; n++) {
                double s = 0, mag = 0;
                for (int k = 0; k < K; k++) {
                    double t = (double)A[m * lda + k] * W[(size_t)n * ldw + k];
                    s += t;
                    mag += fabs(t);
                }
                double ref = alpha * s, c0 = C0[m * ldc + n];
                if (beta != 0.0f) {
                    ref += beta * c0;
                    mag = fabs(alpha) * mag + fabs(beta * c0);
                }
                double got = C[m * ldc + n];
                if (!(fabs(got - ref) <= 1e-5 * (mag + 1e-3)))
                    fail_msg("M %d N %d K %d th %d: C[%d][%d] = %.8g, want %.8g", M, N, K, th,
                             m, n, got, ref);
            }
        if (th == 1)
            memcpy(C1, C, sizeof(float) * M * ldc);
        else
            assert_memory_equal(C, C1, sizeof(float) * M * ldc);
        /* kern_sgemm routes these shapes here: the same bytes */
        memcpy(C, C0, sizeof(float) * M * ldc);
        kern_sgemm(false, true, M, N, K, alpha, A, lda, W, ldw, beta, C, ldc);
        if (M <= KERN_MATVEC_MAX_ROWS && K >= KERN_MATVEC_MIN_K)
            assert_memory_equal(C, C1, sizeof(float) * M * ldc);
    }
    onednn_set_threads(1);
    free(A), free(W), free(C0), free(C), free(C1);
}

/* Products of every small shape class, and one split across the threads. */
static void test_products(void **state)
{
    (void)state;
    static const int dims[] = { 1, 15, 16, 17, 33, 100, 131 };
    for (int M = 1; M <= 6; M++)
        for (size_t i = 0; i < sizeof dims / sizeof *dims; i++)
            for (size_t j = 0; j < sizeof dims / sizeof *dims; j++)
                check_product(M, dims[i], dims[j], 1.0f, (i + j) % 2 ? 0.0f : 1.0f);
    check_product(1, 2051, 131, 0.5f, 0.0f);
    check_product(3, 2051, 131, 1.0f, -0.75f);
    check_product(4, 1031, 517, 2.0f, 1.0f);
    check_product(1, 1031, 517, 1.0f, 0.5f); /* the shapes kern_sgemm sends here */
    check_product(1, 65, 259, 1.0f, 0.0f);
}

/* sigmoid in double. */
static double sigm(double x) { return 1.0 / (1.0 + exp(-x)); }

/* The PyTorch LSTM (gates i, f, g, o) stepped in double over T steps of B rows from h0, c0;
 * y [T][B][H]. */
static void lstm_ref(int T, int B, int In, int H, const float *x, const float *wih,
                     const float *whh, const float *bih, const float *bhh, const float *h0,
                     const float *c0, double *y)
{
    double *h = malloc(sizeof(double) * B * H), *c = malloc(sizeof(double) * B * H);
    double *g = malloc(sizeof(double) * 4 * H);
    assert_non_null(h), assert_non_null(c), assert_non_null(g);
    for (int i = 0; i < B * H; i++)
        h[i] = h0[i], c[i] = c0[i];
    for (int t = 0; t < T; t++)
        for (int b = 0; b < B; b++) {
            const float *xt = x + ((size_t)t * B + b) * In;
            for (int r = 0; r < 4 * H; r++) {
                double s = (double)bih[r] + bhh[r];
                for (int k = 0; k < In; k++)
                    s += (double)wih[(size_t)r * In + k] * xt[k];
                for (int k = 0; k < H; k++)
                    s += (double)whh[(size_t)r * H + k] * h[b * H + k];
                g[r] = s;
            }
            for (int j = 0; j < H; j++) {
                double cn = sigm(g[H + j]) * c[b * H + j] + sigm(g[j]) * tanh(g[2 * H + j]);
                c[b * H + j] = cn;
                h[b * H + j] = sigm(g[3 * H + j]) * tanh(cn);
                y[((size_t)t * B + b) * H + j] = h[b * H + j];
            }
        }
    free(h), free(c), free(g);
}

/* kern_lstm_forward at batch 1 and 3 (the matrix-vector path) against lstm_ref. */
static void test_lstm_small_batch(void **state)
{
    (void)state;
    const int T = 5, In = 37, H = 259;
    for (int B = 1; B <= 3; B += 2) {
        unsigned seed = 12345u + (unsigned)B;
        float *x = rand_buf((size_t)T * B * In, &seed);
        float *wih = rand_buf((size_t)4 * H * In, &seed), *whh = rand_buf((size_t)4 * H * H, &seed);
        float *bih = rand_buf(4 * H, &seed), *bhh = rand_buf(4 * H, &seed);
        float *h0 = rand_buf((size_t)B * H, &seed), *c0 = rand_buf((size_t)B * H, &seed);
        for (size_t i = 0; i < (size_t)4 * H * H; i++)
            whh[i] *= 0.1f; /* keep the gates away from saturation */
        for (size_t i = 0; i < (size_t)4 * H * In; i++)
            wih[i] *= 0.2f;
        double *ref = malloc(sizeof(double) * T * B * H);
        float *y = malloc(sizeof(float) * T * B * H), *hT = malloc(sizeof(float) * B * H);
        float *cT = malloc(sizeof(float) * B * H);
        float *cache = malloc(sizeof(float) * kern_lstm_cache_floats(T, B, H, false));
        assert_non_null(ref), assert_non_null(y), assert_non_null(cache);
        lstm_ref(T, B, In, H, x, wih, whh, bih, bhh, h0, c0, ref);
        for (int th = 1; th <= 3; th++) {
            onednn_set_threads(th);
            kern_lstm_forward((KernRecShape){ T, B, In, H, false }, false, x,
                              (KernStateIn){ h0, c0 }, (KernRecWeights){ wih, whh, bih, bhh },
                              y, (KernStateOut){ hT, cT }, cache);
            for (int i = 0; i < T * B * H; i++)
                if (!(fabs(y[i] - ref[i]) <= 1e-5))
                    fail_msg("B %d th %d: y[%d] = %.8g, want %.8g", B, th, i, y[i], ref[i]);
            for (int i = 0; i < B * H; i++)
                assert_true(fabs(hT[i] - ref[(size_t)(T - 1) * B * H + i]) <= 1e-5);
        }
        onednn_set_threads(1);
        free(x), free(wih), free(whh), free(bih), free(bhh), free(h0), free(c0);
        free(ref), free(y), free(hT), free(cT), free(cache);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_products),
        cmocka_unit_test(test_lstm_small_batch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
