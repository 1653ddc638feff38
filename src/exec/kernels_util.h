/* kernels_util: small helpers shared by the kernel sources (not part of the public interface).
 *
 * Everything is static inline; nothing allocates. */
#ifndef RECUR_KERNELS_UTIL_H
#define RECUR_KERNELS_UTIL_H

#include <cblas.h>
#include <math.h>
#include <stddef.h>
#include <string.h>

/* sigmoid(v) = 1 / (1 + exp(-v)); exp overflow to inf gives exactly 0, never NaN. */
static inline float kern_sigmoidf(float v) { return 1.0f / (1.0f + expf(-v)); }

/* The time index of processing step s (0-based) for a window of T steps. */
static inline int kern_time_at(int s, int T, int reverse) { return reverse ? T - 1 - s : s; }

/* C[M][N] = alpha * A[M][K] * B[N][K]^T + beta * C   (row-major; "x W^T" with PyTorch weights) */
static inline void kern_gemm_nt(int M, int N, int K, const float *A, const float *Bm, float beta,
                                float *C)
{
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 1.0f, A, K, Bm, K, beta, C, N);
}

/* C[M][N] = A[M][K] * B[K][N] + beta * C   (row-major; "dy W" for input gradients) */
static inline void kern_gemm_nn(int M, int N, int K, const float *A, const float *Bm, float beta,
                                float *C)
{
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, K, 1.0f, A, K, Bm, N, beta, C, N);
}

/* C[M][N] += A[K][M]^T * B[K][N]   (row-major; weight gradient dW += dY^T X over K rows).
 * lda and ldb allow A and B to be column slices of wider rows. */
static inline void kern_gemm_tn_acc(int M, int N, int K, const float *A, int lda, const float *Bm,
                                    int ldb, float *C)
{
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, M, N, K, 1.0f, A, lda, Bm, ldb, 1.0f, C,
                N);
}

/* out[j] += sum_r a[r][j]  for r < rows, j < cols (bias gradient as a column sum). */
static inline void kern_colsum_acc(size_t rows, int cols, const float *a, float *out)
{
    for (size_t r = 0; r < rows; r++) {
        const float *row = a + r * (size_t)cols;
        for (int j = 0; j < cols; j++)
            out[j] += row[j];
    }
}

/* dst[i] = src[i], or 0 when src is NULL.   src, dst [n] */
static inline void kern_copy_or_zero(size_t n, const float *src, float *dst)
{
    if (src)
        memcpy(dst, src, n * sizeof *dst);
    else
        memset(dst, 0, n * sizeof *dst);
}

/* dst[i] += src[i] when both are non-NULL.   src, dst [n] */
static inline void kern_add_if(size_t n, const float *src, float *dst)
{
    if (!src || !dst)
        return;
    for (size_t i = 0; i < n; i++)
        dst[i] += src[i];
}

#endif
