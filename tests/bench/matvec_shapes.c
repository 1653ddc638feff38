/* matvec_shapes: recur's matrix-vector path (kern_matvec_nt, src/exec/matvec.h) against oneDNN's
 * dnnl_sgemm on the few-row products C = A W^T of sampling the character LSTM (H 512, E 64,
 * V 65; and H 128), for 1 to 4 rows: the measurement behind KERN_MATVEC_MAX_ROWS. Each shape: 9
 * rounds, each runs both (interleaved, so machine load hits both alike) for about 20 ms; prints
 * the median GFLOP/s of each.
 *
 * Usage: matvec_shapes [THREADS]   (built by `make tests/bench/matvec_shapes`, needs oneDNN) */
#include <oneapi/dnnl/dnnl.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "exec/matvec.h"

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
    return 0;
}
