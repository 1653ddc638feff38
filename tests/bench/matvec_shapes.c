/* matvec_shapes: recur's matrix-vector path (kern_matvec_nt, src/exec/matvec.h) against oneDNN's
 * dnnl_sgemm on the few-row products C = A W^T of sampling the character LSTM (H 512, E 64,
 * V 65; and H 128), for 1 to 4 rows: the measurement behind KERN_MATVEC_MAX_ROWS. Each shape: 9
 * rounds, each runs both (interleaved, so machine load hits both alike) for about 20 ms; prints
 * the median GFLOP/s of each.
 * Then the limit of batch-1 generation on this machine: the read bandwidth of one buffer
 * streamed on the pool's threads (mvpool.h; 1 MB stays in L2, 13 MB is the character LSTM's
 * weights, 256 MB is memory), and the two LSTM 512 layers' batch-1 steps of models/charlm.rnn
 * (kern_lstm_forward at T = B = 1, 12.6 MB of weights) as GB/s of weights read and tokens/s;
 * best and median of 200 (the machine may be shared: the best is the machine, the median the
 * moment).
 *
 * Usage: matvec_shapes [THREADS]   (built by `make tests/bench/matvec_shapes`, needs oneDNN) */
#include <oneapi/dnnl/dnnl.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "exec/kernels.h"
#include "exec/matvec.h"
#include "exec/mvpool.h"

/* Seconds on the monotonic clock. */
static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

/* qsort's order of doubles. */
static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* GFLOP/s of reps products on one engine (0: matvec, 1: oneDNN). */
static double rate(int eng, int reps, int M, int N, int K, const float *A, const float *W,
                   float *C)
{
    double t = now();
    for (int r = 0; r < reps; r++) {
        if (eng == 0)
            kern_matvec_nt(M, N, K, 1.0f, A, K, W, K, 0.0f, C, N);
        else
            dnnl_sgemm('N', 'T', M, N, K, 1.0f, A, K, W, K, 0.0f, C, N);
    }
    return 2.0 * M * N * K * reps / (now() - t) * 1e-9;
}

/* A buffer summed in chunks of 16 KB on the pool (each chunk's sum kept, so no work is dead). */
typedef struct StreamJob {
    const float *p;
    float *sums;
} StreamJob;

typedef float V8 __attribute__((vector_size(32)));

/* mvpool chunk: the sum of chunk c, on four 8-lane sums (AVX2 where the CPU has it), the
 * hardware prefetchers alone. */
__attribute__((target_clones("avx2", "default"))) static void stream_chunk(void *ctx, int c)
{
    const StreamJob *j = ctx;
    const float *p = j->p + (size_t)c * 4096;
    V8 s[4] = { { 0 } }, v;
    for (int i = 0; i < 4096; i += 32)
        for (int k = 0; k < 4; k++) {
            memcpy(&v, p + i + 8 * k, sizeof v);
            s[k] += v;
        }
    s[0] += s[1] + s[2] + s[3];
    j->sums[c] = s[0][0] + s[0][7];
}

/* Best and median of n times (sorted in place). */
static void best_median(double *t, int n, double *best, double *med)
{
    qsort(t, (size_t)n, sizeof *t, cmp);
    *best = t[0], *med = t[n / 2];
}

/* Read bandwidth of mb megabytes streamed on the pool, best and median of 200 passes. */
static void stream_rate(int mb, int th)
{
    size_t n = (size_t)mb << 18;
    float *p = malloc(n * sizeof *p), *sums = malloc((n / 4096) * sizeof *sums);
    if (!p || !sums)
        exit(1);
    for (size_t i = 0; i < n; i++)
        p[i] = (float)(i % 5);
    StreamJob j = { p, sums };
    double t[200], best, med;
    for (int r = 0; r < 200; r++) {
        t[r] = now();
        mvpool_run((int)(n / 4096), stream_chunk, &j);
        t[r] = now() - t[r];
    }
    best_median(t, 200, &best, &med);
    printf("stream read %3d MB threads %d: best %6.1f GB/s, median %6.1f\n", mb, th,
           n * 4e-9 / best, n * 4e-9 / med);
    free(p), free(sums);
}

/* The batch-1 steps of models/charlm.rnn's two LSTM layers (E 64, H 512), best and median of
 * 200 tokens, as GB/s of weights and tokens/s (the LSTM alone). */
static void lstm_step_rate(int th)
{
    const int E = 64, H = 512;
    size_t nw[2] = { (size_t)4 * H * (E + H), (size_t)4 * H * (H + H) };
    float *w[2], *cache = malloc(sizeof(float) * kern_lstm_cache_floats(1, 1, H, false));
    float *x = calloc(H, 4), *st = calloc(4 * (size_t)H, 4), *b = calloc(4 * (size_t)H, 4);
    if (!cache || !x || !st || !b)
        exit(1);
    for (int l = 0; l < 2; l++) {
        if (!(w[l] = malloc(nw[l] * sizeof(float))))
            exit(1);
        for (size_t i = 0; i < nw[l]; i++)
            w[l][i] = (float)(i % 7) * 0.01f;
    }
    double t[200], best, med, bytes = (nw[0] + nw[1]) * 4.0;
    for (int r = 0; r < 200; r++) {
        t[r] = now();
        for (int l = 0; l < 2; l++) {
            int In = l ? H : E;
            KernRecWeights kw = { w[l], w[l] + (size_t)4 * H * In, b, b };
            kern_lstm_forward((KernRecShape){ 1, 1, In, H, false }, false, x,
                              (KernStateIn){ st, st + H }, kw, x,
                              (KernStateOut){ st + 2 * H, st + 3 * H }, cache);
        }
        t[r] = now() - t[r];
    }
    best_median(t, 200, &best, &med);
    printf("lstm 512 x 2 batch-1 step (%.1f MB of weights) threads %d: best %.3f ms (%.1f GB/s,"
           " %.0f tok/s), median %.3f ms (%.1f GB/s)\n", bytes / 1048576, th, best * 1e3,
           bytes / best * 1e-9, 1 / best, med * 1e3, bytes / med * 1e-9);
    free(w[0]), free(w[1]), free(cache), free(x), free(st), free(b);
}

/* Times every shape at 1-4 rows and prints the medians. */
int main(int argc, char **argv)
{
    int th = argc > 1 ? atoi(argv[1]) : 1;
    omp_set_num_threads(th > 0 ? th : 1);
    static const int shapes[][2] = { { 2048, 512 }, { 2048, 64 }, { 65, 512 }, { 512, 128 },
                                     { 512, 32 } };
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++)
        for (int M = 1; M <= 4; M++) {
            int N = shapes[s][0], K = shapes[s][1];
            float *A = calloc((size_t)M * K, 4), *W = calloc((size_t)N * K, 4);
            float *C = calloc((size_t)M * N, 4);
            if (!A || !W || !C)
                return 1;
            for (long i = 0; i < (long)N * K; i++)
                W[i] = (float)(i % 7) * 0.1f;
            int reps = (int)(2000000L / ((long)M * N * K / 10 + 1)) + 1;
            double r[2][9];
            for (int k = 0; k < 9; k++)
                for (int e = 0; e < 2; e++)
                    r[e][k] = rate(e, reps, M, N, K, A, W, C);
            qsort(r[0], 9, sizeof(double), cmp);
            qsort(r[1], 9, sizeof(double), cmp);
            printf("M %d N %4d K %3d threads %d: matvec %6.1f GFLOP/s, oneDNN sgemm %6.1f\n", M,
                   N, K, th, r[0][4], r[1][4]);
            free(A), free(W), free(C);
        }
    stream_rate(1, th);
    stream_rate(13, th);
    stream_rate(256, th);
    lstm_step_rate(th);
    return 0;
}
