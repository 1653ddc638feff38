/* gemm_shapes: OpenBLAS's cblas_sgemm against oneDNN's dnnl_sgemm on the matrix shapes recur's
 * kernels use (the character LSTM: H 512, B 32, T 100, V 65, E 64; and H 128), the measurement
 * behind kern_sgemm's choice (src/exec/kernels_gemm.c). Each shape: 15 rounds, each round runs
 * both libraries (interleaved, so machine load hits both alike) for at least 20 ms; prints the
 * median GFLOP/s of each.
 *
 * Usage: gemm_shapes [THREADS]   (built by `make tests/bench/gemm_shapes`, needs oneDNN) */
#include <cblas.h>
#include <oneapi/dnnl/dnnl.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

typedef struct Shape {
    char ta, tb;
    int M, N, K;
    const char *name;
} Shape;

/* GFLOP/s of one library (dnnl or not) on s over at least 20 ms. */
static double rate(const Shape *s, int dnnl, const float *A, const float *B, float *C)
{
    int lda = s->ta == 'N' ? s->K : s->M, ldb = s->tb == 'N' ? s->N : s->K, reps = 0;
    double t0 = now(), el;
    do {
        if (dnnl)
            dnnl_sgemm(s->ta, s->tb, s->M, s->N, s->K, 1.0f, A, lda, B, ldb, 1.0f, C, s->N);
        else
            cblas_sgemm(CblasRowMajor, s->ta == 'N' ? CblasNoTrans : CblasTrans,
                        s->tb == 'N' ? CblasNoTrans : CblasTrans, s->M, s->N, s->K, 1.0f, A,
                        lda, B, ldb, 1.0f, C, s->N);
        reps++;
        el = now() - t0;
    } while (el < 0.02);
    return 2.0 * s->M * s->N * s->K * reps / el * 1e-9;
}

int main(int argc, char **argv)
{
    int th = argc > 1 ? atoi(argv[1]) : 1;
    omp_set_num_threads(th);
    openblas_set_num_threads(th);
    static const Shape s[] = {
        { 'N', 'T', 3200, 65, 512, "output layer" }, { 'N', 'N', 3200, 512, 65, "output dx" },
        { 'T', 'N', 65, 512, 3200, "output dW" },   { 'N', 'T', 3200, 2048, 64, "proj K64" },
        { 'N', 'T', 3200, 2048, 512, "proj K512" }, { 'N', 'T', 32, 2048, 512, "step" },
        { 'T', 'N', 2048, 512, 3200, "weight grad" }, { 'N', 'N', 32, 512, 2048, "step bwd" },
        { 'N', 'T', 2048, 65, 128, "output H128" }, { 'N', 'T', 1, 2048, 512, "matvec" },
    };
    size_t n = (size_t)4 * 3200 * 2048;
    float *A = malloc(n * sizeof *A), *B = malloc(n * sizeof *B), *C = calloc(n, sizeof *C);
    if (!A || !B || !C)
        return 1;
    for (size_t i = 0; i < n; i++)
        A[i] = (float)(i % 7) * 0.01f, B[i] = (float)(i % 5) * 0.01f;
    for (size_t k = 0; k < sizeof s / sizeof *s; k++) {
        double ob[15], dn[15];
        for (int r = 0; r < 15; r++)
            ob[r] = rate(&s[k], 0, A, B, C), dn[r] = rate(&s[k], 1, A, B, C);
        qsort(ob, 15, sizeof *ob, cmp);
        qsort(dn, 15, sizeof *dn, cmp);
        printf("threads %d %-12s %c%c M=%d N=%d K=%d: OpenBLAS %.1f GFLOP/s, oneDNN %.1f\n", th,
               s[k].name, s[k].ta, s[k].tb, s[k].M, s[k].N, s[k].K, ob[7], dn[7]);
    }
    free(A), free(B), free(C);
    return 0;
}
