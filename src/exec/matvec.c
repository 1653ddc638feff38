/* matvec: the few-row product C = alpha A W^T + beta C (matvec.h), split by output columns
 * across OpenMP's threads, vectorised per CPU with target_clones. */
#include "exec/matvec.h"

#include <stddef.h>
#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#endif

typedef float MvV16 __attribute__((vector_size(64)));
typedef float MvV8 __attribute__((vector_size(32)));
typedef float MvV4 __attribute__((vector_size(16)));

/* An unaligned load of 16 floats into the vector v (a macro: a function returning a 64-byte
 * vector would have a different ABI in each clone). */
#define MV_LOAD(v, p) memcpy(&(v), (p), sizeof(MvV16))

/* The sum of v's 16 lanes as a fixed tree (halves added three times, then four lanes), so the
 * same inputs give the same bits in every clone and on every thread. */
#define MV_HSUM(v, out)                                                                         \
    do {                                                                                        \
        MvV8 lo8_, hi8_;                                                                        \
        MvV4 lo4_, hi4_;                                                                        \
        memcpy(&lo8_, &(v), sizeof lo8_);                                                       \
        memcpy(&hi8_, (const char *)&(v) + sizeof lo8_, sizeof hi8_);                           \
        lo8_ += hi8_;                                                                           \
        memcpy(&lo4_, &lo8_, sizeof lo4_);                                                      \
        memcpy(&hi4_, (const char *)&lo8_ + sizeof lo4_, sizeof hi4_);                          \
        lo4_ += hi4_;                                                                           \
        (out) = (lo4_[0] + lo4_[2]) + (lo4_[1] + lo4_[3]);                                      \
    } while (0)

/* One row (M = 1), four output columns at a time so four independent sums hide the add latency
 * and each x load serves four W rows:  c[n] = alpha * (a . W[n]) + beta c[n]. */
__attribute__((target_clones("avx512f", "avx2", "default"))) static void
mv_cols1(int n0, int n1, int K, float alpha, const float *a, const float *W, int ldw,
         float beta, float *c)
{
    int K16 = K & ~15, n = n0;
    for (; n < n1; n += 4) {
        int nr = n1 - n < 4 ? n1 - n : 4;
        const float *w[4];
        for (int r = 0; r < 4; r++)
            w[r] = W + (size_t)(n + (r < nr ? r : 0)) * ldw;
        MvV16 s0 = { 0 }, s1 = { 0 }, s2 = { 0 }, s3 = { 0 }, x, v;
        for (int k = 0; k < K16; k += 16) {
            MV_LOAD(x, a + k);
            MV_LOAD(v, w[0] + k);
            s0 += v * x;
            MV_LOAD(v, w[1] + k);
            s1 += v * x;
            MV_LOAD(v, w[2] + k);
            s2 += v * x;
            MV_LOAD(v, w[3] + k);
            s3 += v * x;
        }
        MvV16 acc[4] = { s0, s1, s2, s3 };
        for (int r = 0; r < nr; r++) {
            float s; /* the lanes, then the tail */
            MV_HSUM(acc[r], s);
            for (int k = K16; k < K; k++)
                s += a[k] * w[r][k];
            c[n + r] = beta == 0.0f ? alpha * s : alpha * s + beta * c[n + r];
        }
    }
}

/* Output columns n0..n1-1 for all M rows, one row of A at a time. */
static void mv_range(int n0, int n1, int M, int K, float alpha, const float *A, int lda,
                     const float *W, int ldw, float beta, float *C, int ldc)
{
    for (int m = 0; m < M; m++)
        mv_cols1(n0, n1, K, alpha, A + (size_t)m * lda, W, ldw, beta, C + (size_t)m * ldc);
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
