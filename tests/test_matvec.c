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
 * - The thread pool (mvpool.h): every chunk of a job runs exactly once, for job sizes 0 to 300
 *   at 1 to 4 threads, thousands of jobs in a row (late workers must claim nothing of a later
 *   job), and with two callers at once (one gets the pool, the other runs its chunks itself).
 * - kern_matvec_rows (both products of a batch-1 step in one pass) against doubles, with either
 *   matrix absent and with accumulation, over row ranges that split the 4-row groups.
 * - The batch-1 LSTM step (kern_lstm_forward with T = B = 1: x W_ih^T fused into the step, the
 *   units' chunks on the pool) carried over 6 calls, train and inference, H 259 and 20 (below
 *   KERN_MATVEC_PAR_MIN: on the calling thread), against lstm_ref within 1e-5 at 1, 2 and 3
 *   threads; every thread count and a second run give the same bytes.
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
#include "exec/mvpool.h"
#include "util/rng.h"

#include <pthread.h>
#include <stdatomic.h>

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
            kern_lstm_forward((KernRecShape){ T, B, In, H, false, false}, false, x,
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

/* ---- the thread pool and the batch-1 step ------------------------------------------------ */

/* A job that counts how often each chunk ran. */
typedef struct CountJob {
    _Atomic int *hits;
} CountJob;

/* mvpool chunk: one more run of chunk c. */
static void count_chunk(void *ctx, int c)
{
    atomic_fetch_add(&((CountJob *)ctx)->hits[c], 1);
}

/* Runs jobs of 0..299 chunks (reps times over) and checks each chunk ran once; 0 if all did. */
static int pool_jobs(int reps)
{
    _Atomic int hits[300];
    CountJob j = { hits };
    int bad = 0;
    for (int r = 0; r < reps; r++)
        for (int n = 0; n < 300; n += 1 + r % 7) {
            for (int c = 0; c < n; c++)
                atomic_store(&hits[c], 0);
            mvpool_run(n, count_chunk, &j);
            for (int c = 0; c < n; c++)
                bad += atomic_load(&hits[c]) != 1;
        }
    return bad;
}

/* A second caller of the pool (pthread entry). */
static void *pool_caller(void *arg)
{
    *(int *)arg = pool_jobs(20);
    return NULL;
}

/* Every chunk exactly once, at 1-4 threads, job after job, and with two callers at once. */
static void test_pool(void **state)
{
    (void)state;
    for (int th = 1; th <= 4; th++) {
        onednn_set_threads(th);
        assert_int_equal(pool_jobs(30), 0);
    }
    onednn_set_threads(2);
    pthread_t other;
    int other_bad = -1;
    assert_int_equal(pthread_create(&other, NULL, pool_caller, &other_bad), 0);
    assert_int_equal(pool_jobs(20), 0);
    assert_int_equal(pthread_join(other, NULL), 0);
    assert_int_equal(other_bad, 0);
    onednn_set_threads(1);
}

/* kern_matvec_rows: out[r] = ((acc ? out0[r] : 0) + W1[r].x1) + W2[r].x2 against doubles. */
static void test_matvec_rows(void **state)
{
    (void)state;
    const int R = 37, K1 = 19, K2 = 261;
    unsigned seed = 77;
    float *W1 = rand_buf((size_t)R * K1, &seed), *W2 = rand_buf((size_t)R * K2, &seed);
    float *x1 = rand_buf(K1, &seed), *x2 = rand_buf(K2, &seed), *out0 = rand_buf(R, &seed);
    float out[37];
    for (int mode = 0; mode < 8; mode++) {
        bool use1 = mode & 1, use2 = mode & 2, acc = mode & 4;
        memcpy(out, out0, sizeof out);
        kern_matvec_rows(0, 6, use1 ? W1 : NULL, K1, x1, use2 ? W2 : NULL, K2, x2, acc, out);
        kern_matvec_rows(6, 33, use1 ? W1 : NULL, K1, x1, use2 ? W2 : NULL, K2, x2, acc, out);
        kern_matvec_rows(33, R, use1 ? W1 : NULL, K1, x1, use2 ? W2 : NULL, K2, x2, acc, out);
        for (int r = 0; r < R; r++) {
            double ref = acc ? out0[r] : 0, mag = fabs(ref);
            for (int k = 0; use1 && k < K1; k++)
                ref += (double)W1[r * K1 + k] * x1[k], mag += fabs(W1[r * K1 + k] * x1[k]);
            for (int k = 0; use2 && k < K2; k++)
                ref += (double)W2[r * K2 + k] * x2[k], mag += fabs(W2[r * K2 + k] * x2[k]);
            if (!(fabs(out[r] - ref) <= 1e-5 * (mag + 1e-3)))
                fail_msg("mode %d row %d: %.8g, want %.8g", mode, r, out[r], ref);
        }
    }
    free(W1), free(W2), free(x1), free(x2), free(out0);
}

/* Six single-step calls of kern_lstm_forward at batch 1 (the state carried from call to call),
 * train or not, at th threads; y [6][H] and the final state into hc [2H]. */
static void lstm_b1_calls(int In, int H, bool train, int th, const float *x,
                          const float *const wt[4], const float *h0, const float *c0, float *y,
                          float *hc)
{
    float *cache = malloc(sizeof(float) * kern_lstm_cache_floats(1, 1, H, train));
    float *h = malloc(sizeof(float) * 2 * H), *c = h + H;
    assert_non_null(cache), assert_non_null(h);
    memcpy(h, h0, sizeof(float) * H), memcpy(c, c0, sizeof(float) * H);
    onednn_set_threads(th);
    for (int t = 0; t < 6; t++) {
        kern_lstm_forward((KernRecShape){ 1, 1, In, H, false, false}, train, x + (size_t)t * In,
                          (KernStateIn){ h, c }, (KernRecWeights){ wt[0], wt[1], wt[2], wt[3] },
                          y + (size_t)t * H, (KernStateOut){ hc, hc + H }, cache);
        memcpy(h, hc, sizeof(float) * 2 * H);
    }
    onednn_set_threads(1);
    free(cache), free(h);
}

/* The batch-1 step against the equations (lstm_ref over the 6 steps), bit-identical across
 * thread counts and runs. */
static void test_lstm_batch1_step(void **state)
{
    (void)state;
    static const int Hs[] = { 259, 20 };
    for (size_t hi = 0; hi < 2; hi++) {
        const int T = 6, In = 37, H = Hs[hi];
        unsigned seed = 999u + (unsigned)H;
        float *x = rand_buf((size_t)T * In, &seed);
        float *wih = rand_buf((size_t)4 * H * In, &seed), *whh = rand_buf((size_t)4 * H * H, &seed);
        float *bih = rand_buf(4 * H, &seed), *bhh = rand_buf(4 * H, &seed);
        float *h0 = rand_buf(H, &seed), *c0 = rand_buf(H, &seed);
        for (size_t i = 0; i < (size_t)4 * H * H; i++)
            whh[i] *= 0.1f;
        for (size_t i = 0; i < (size_t)4 * H * In; i++)
            wih[i] *= 0.2f;
        const float *wt[4] = { wih, whh, bih, bhh };
        double *ref = malloc(sizeof(double) * T * H);
        float *y = malloc(sizeof(float) * T * H * 2), *y1 = y + T * H;
        float *hc = malloc(sizeof(float) * 4 * H), *hc1 = hc + 2 * H;
        assert_non_null(ref), assert_non_null(y), assert_non_null(hc);
        lstm_ref(T, 1, In, H, x, wih, whh, bih, bhh, h0, c0, ref);
        for (int train = 0; train < 2; train++)
            for (int th = 1; th <= 4; th++) {
                lstm_b1_calls(In, H, train, th > 3 ? 2 : th, x, wt, h0, c0, y, hc);
                for (int i = 0; i < T * H; i++)
                    if (!(fabs(y[i] - ref[i]) <= 1e-5))
                        fail_msg("H %d train %d th %d: y[%d] = %.8g, want %.8g", H, train, th,
                                 i, y[i], ref[i]);
                for (int i = 0; i < H; i++)
                    assert_true(fabs(hc[i] - ref[(size_t)(T - 1) * H + i]) <= 1e-5);
                if (th == 1) {
                    memcpy(y1, y, sizeof(float) * T * H);
                    memcpy(hc1, hc, sizeof(float) * 2 * H);
                } else { /* th 4: a second run at 2 threads */
                    assert_memory_equal(y, y1, sizeof(float) * T * H);
                    assert_memory_equal(hc, hc1, sizeof(float) * 2 * H);
                }
            }
        free(x), free(wih), free(whh), free(bih), free(bhh), free(h0), free(c0);
        free(ref), free(y), free(hc);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_products),
        cmocka_unit_test(test_lstm_small_batch),
        cmocka_unit_test(test_pool),
        cmocka_unit_test(test_matvec_rows),
        cmocka_unit_test(test_lstm_batch1_step),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
