/* matvec: the few-row product C = alpha A W^T + beta C (matvec.h), split by output columns
 * across OpenMP's threads, vectorised per CPU with target_clones. */
#include "exec/matvec.h"

#include <stddef.h>
#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#endif

typedef float MvV16 __attribute__((vector_size(64)));

/* An unaligned load of 16 floats into the vector v (a macro: a function returning a 64-byte
 * vector would have a different ABI in each clone). */
#define MV_LOAD(v, p) memcpy(&(v), (p), sizeof(MvV16))

/* Output columns n0..n1-1 of all M rows:
 *   C[m][n] = alpha * (A[m] . W[n]) + beta C[m][n]
 * Each W row is read once for all M rows; two accumulators per row hide the add latency. */
__attribute__((target_clones("avx512f", "avx2", "default"))) static void
mv_cols(int n0, int n1, int M, int K, float alpha, const float *A, int lda, const float *W,
        int ldw, float beta, float *C, int ldc)
{
    int K32 = K & ~31, K16 = K & ~15;
    for (int n = n0; n < n1; n++) {
        const float *w = W + (size_t)n * ldw;
        MvV16 a0[KERN_MATVEC_MAX_ROWS], a1[KERN_MATVEC_MAX_ROWS];
        for (int m = 0; m < M; m++)
            a0[m] = a1[m] = (MvV16){ 0 };
        MvV16 w0, w1, x0, x1;
        for (int k = 0; k < K32; k += 32) {
            MV_LOAD(w0, w + k);
            MV_LOAD(w1, w + k + 16);
            for (int m = 0; m < M; m++) {
                MV_LOAD(x0, A + (size_t)m * lda + k);
                MV_LOAD(x1, A + (size_t)m * lda + k + 16);
                a0[m] += w0 * x0;
                a1[m] += w1 * x1;
            }
        }
        if (K16 > K32) {
            MV_LOAD(w0, w + K32);
            for (int m = 0; m < M; m++) {
                MV_LOAD(x0, A + (size_t)m * lda + K32);
                a0[m] += w0 * x0;
            }
        }
        for (int m = 0; m < M; m++) {
            const float *a = A + (size_t)m * lda;
            MvV16 v = a0[m] + a1[m];
            float s = 0.0f; /* the lanes in a fixed order */
            for (int i = 0; i < 16; i++)
                s += v[i];
            for (int k = K16; k < K; k++)
                s += a[k] * w[k];
            float *c = C + (size_t)m * ldc + n;
            *c = beta == 0.0f ? alpha * s : alpha * s + beta * *c;
        }
    }
}

/* Output columns n0..n1-1 for all M rows, KERN_MATVEC_MAX_ROWS rows at a time. */
static void mv_range(int n0, int n1, int M, int K, float alpha, const float *A, int lda,
                     const float *W, int ldw, float beta, float *C, int ldc)
{
    for (int m0 = 0; m0 < M; m0 += KERN_MATVEC_MAX_ROWS) {
        int mb = M - m0 < KERN_MATVEC_MAX_ROWS ? M - m0 : KERN_MATVEC_MAX_ROWS;
        mv_cols(n0, n1, mb, K, alpha, A + (size_t)m0 * lda, lda, W, ldw, beta,
                C + (size_t)m0 * ldc, ldc);
    }
}

/* Splits the output columns across the threads (one contiguous range each) when the product is
 * large enough to pay for the hand-off. */
void kern_matvec_nt(int M, int N, int K, float alpha, const float *A, int lda, const float *W,
                    int ldw, float beta, float *C, int ldc)
{
    if (M <= 0 || N <= 0)
        return;
#ifdef _OPENMP
    int nth = (long)M * N * K >= KERN_MATVEC_PAR_MIN ? omp_get_max_threads() : 1;
    if (nth > N)
        nth = N;
    if (nth > 1) {
#pragma omp parallel num_threads(nth)
        {
            int t = omp_get_thread_num(), nt = omp_get_num_threads();
            int n0 = (int)((long)N * t / nt), n1 = (int)((long)N * (t + 1) / nt);
            mv_range(n0, n1, M, K, alpha, A, lda, W, ldw, beta, C, ldc);
        }
        return;
    }
#endif
    mv_range(0, N, M, K, alpha, A, lda, W, ldw, beta, C, ldc);
}
