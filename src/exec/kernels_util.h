/* kernels_util: small helpers shared by the kernel sources (not part of the public interface).
 *
 * Everything is static inline; nothing allocates. */
#ifndef RECUR_KERNELS_UTIL_H
#define RECUR_KERNELS_UTIL_H

#include "exec/kernels.h"
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* sigmoid(v) = 1 / (1 + exp(-v)); exp overflow to inf gives exactly 0, never NaN. */
static inline float kern_sigmoidf(float v) { return 1.0f / (1.0f + expf(-v)); }

/* ---- 4-wide float vectors (GCC/clang vector extensions) for the fused gate math ----------
 * -O2 does not vectorise loops of unknown length and libm's expf/tanhf are scalar calls, so the
 * gate nonlinearities are written on 4-lane vectors (one SSE register, the x86-64 baseline).
 * kv_exp is the Cephes expf polynomial (relative error ~2e-7 over the clamped range); kv_tanh
 * uses the Cephes tanhf polynomial for |x| < 0.625 (no cancellation near 0) and
 * 1 - 2 / (exp(2|x|) + 1) beyond. */
#if !defined(__GNUC__)
#error "kernels need GCC or clang vector extensions"
#endif
typedef float KernV4 __attribute__((vector_size(16)));
typedef int32_t KernI4 __attribute__((vector_size(16)));
enum { KV = 4 };

/* a in every lane. */
static inline KernV4 kv_splat(float a) { return (KernV4){a, a, a, a}; }

/* n (<= KV) floats from p, zero-padded; and the matching partial store. */
static inline KernV4 kv_load(const float *p, int n)
{
    KernV4 v = {0};
    if (n == KV)
        memcpy(&v, p, sizeof v); /* constant size: one unaligned vector load */
    else
        memcpy(&v, p, (size_t)n * sizeof(float));
    return v;
}
static inline void kv_store(float *p, KernV4 v, int n)
{
    if (n == KV)
        memcpy(p, &v, sizeof v);
    else
        memcpy(p, &v, (size_t)n * sizeof(float));
}

/* Lane-wise select: m ? a : b (m from a vector comparison: all ones or zero per lane). */
static inline KernV4 kv_select(KernI4 m, KernV4 a, KernV4 b)
{
    return (KernV4)(((KernI4)a & m) | ((KernI4)b & ~m));
}

/* The body of kv_exp for any float vector type V with the int vector type I of its width:
 * x = exp(x) with x clamped to [-87.3, 88.3] (results stay normal and finite). Written once, used
 * by the 4-lane kv_exp and by 16-lane loops (a macro, not a function: a function returning a
 * 64-byte vector would change the ABI outside AVX-512 code). */
#define KV_EXP_BODY(V, I, x)                                                                  \
    do {                                                                                      \
        V hi_ = (V){ 0 } + 88.3f, lo_ = (V){ 0 } - 87.3f;                                     \
        x = (V)(((I)hi_ & (I)(x > 88.3f)) | ((I)x & ~(I)(x > 88.3f)));                        \
        x = (V)(((I)lo_ & (I)(x < -87.3f)) | ((I)x & ~(I)(x < -87.3f)));                      \
        /* n = round(x / ln 2) by the 1.5 * 2^23 trick (round-to-nearest, no -ffast-math). */ \
        V n_ = x * 1.44269504088896341f + 12582912.0f;                                        \
        n_ = n_ - 12582912.0f;                                                                \
        V r_ = x - n_ * 0.693359375f;                                                         \
        r_ = r_ - n_ * -2.12194440e-4f;                                                       \
        V p_ = 1.9875691500E-4f * r_ + 1.3981999507E-3f;                                      \
        p_ = p_ * r_ + 8.3334519073E-3f;                                                      \
        p_ = p_ * r_ + 4.1665795894E-2f;                                                      \
        p_ = p_ * r_ + 1.6666665459E-1f;                                                      \
        p_ = p_ * r_ + 5.0000001201E-1f;                                                      \
        p_ = p_ * (r_ * r_) + r_ + 1.0f;                                                      \
        I e_ = (__builtin_convertvector(n_, I) + 127) << 23;                                  \
        x = p_ * (V)e_;                                                                       \
    } while (0)

/* exp(x), 4 lanes (KV_EXP_BODY). */
static inline KernV4 kv_exp(KernV4 x)
{
    KV_EXP_BODY(KernV4, KernI4, x);
    return x;
}

/* 16-lane vectors: one AVX-512 register, two AVX2 ones; for loops compiled per ISA
 * (target_clones), where the compiler maps them onto the widest registers the clone has. */
typedef float KernV16 __attribute__((vector_size(64)));
typedef int32_t KernI16 __attribute__((vector_size(64)));
enum { KV16 = 16 };

/* 16 floats at p into the vector v, and back (macros: a function taking or returning a 64-byte
 * vector would change the ABI outside AVX-512 code). */
#define KV16_LOAD(v, p) memcpy(&(v), (p), sizeof(KernV16))
#define KV16_STORE(p, v) memcpy((p), &(v), sizeof(KernV16))

/* m ? a : b per lane, 16 lanes (m from a vector comparison: all ones or zero per lane). */
#define KV16_SELECT(m, a, b) ((KernV16)(((KernI16)(a) & (m)) | ((KernI16)(b) & ~(m))))

/* x = sigmoid(x) = 1 / (1 + exp(-x)), for any float vector type V (as KV_EXP_BODY). */
#define KV_SIGMOID_BODY(V, I, x)                                                              \
    do {                                                                                      \
        V s_ = -(x);                                                                          \
        KV_EXP_BODY(V, I, s_);                                                                \
        x = 1.0f / (1.0f + s_);                                                               \
    } while (0)

/* x = tanh(x): odd polynomial near 0, 1 - 2 / (exp(2|x|) + 1) with the sign of x elsewhere,
 * for any float vector type V (as KV_EXP_BODY). */
#define KV_TANH_BODY(V, I, x)                                                                 \
    do {                                                                                      \
        I sign_ = (I)(x) & (int32_t)0x80000000;                                               \
        V ax_ = (V)((I)(x) & 0x7fffffff);                                                     \
        V z_ = (x) * (x);                                                                     \
        V small_ = -5.70498872745E-3f * z_ + 2.06390887954E-2f;                               \
        small_ = small_ * z_ - 5.37397155531E-2f;                                             \
        small_ = small_ * z_ + 1.33314422036E-1f;                                             \
        small_ = small_ * z_ - 3.33332819422E-1f;                                             \
        small_ = small_ * z_ * (x) + (x);                                                     \
        V big_ = ax_ + ax_;                                                                   \
        KV_EXP_BODY(V, I, big_);                                                              \
        big_ = 1.0f - 2.0f / (big_ + 1.0f);                                                   \
        big_ = (V)((I)big_ | sign_);                                                          \
        I near_ = (I)(ax_ < 0.625f);                                                          \
        x = (V)(((I)small_ & near_) | ((I)big_ & ~near_));                                    \
    } while (0)

/* sigmoid(x), 4 lanes (KV_SIGMOID_BODY). */
static inline KernV4 kv_sigmoid(KernV4 x)
{
    KV_SIGMOID_BODY(KernV4, KernI4, x);
    return x;
}

/* tanh(x), 4 lanes (KV_TANH_BODY). */
static inline KernV4 kv_tanh(KernV4 x)
{
    KV_TANH_BODY(KernV4, KernI4, x);
    return x;
}

/* The time index of processing step s (0-based) for a window of T steps. */
static inline int kern_time_at(int s, int T, int reverse) { return reverse ? T - 1 - s : s; }

/* beta = 0 is done as memset + beta = 1: with 2 threads, OpenBLAS 0.3.21's own beta = 0 pass
 * made the window projections ([3200 x 2048], K = 65 / 512) 10% / 5% slower than a memset and
 * an accumulating GEMM (best of 15-30 runs); other shapes were equal. The result is the same,
 * and as with beta = 0, whatever C held before (even NaN) does not leak into it. */
static inline float kern_beta(float beta, float *C, size_t n)
{
    if (beta == 0.0f) {
        memset(C, 0, n * sizeof *C);
        return 1.0f;
    }
    return beta;
}

/* C[M][N] = A[M][K] * B[N][K]^T + beta * C   (row-major; "x W^T" with PyTorch weights) */
static inline void kern_gemm_nt(int M, int N, int K, const float *A, const float *Bm, float beta,
                                float *C)
{
    beta = kern_beta(beta, C, (size_t)M * N);
    kern_sgemm(false, true, M, N, K, 1.0f, A, K, Bm, K, beta, C, N);
}

/* C[M][N] = A[M][K] * B[K][N] + beta * C   (row-major; "dy W" for input gradients) */
static inline void kern_gemm_nn(int M, int N, int K, const float *A, const float *Bm, float beta,
                                float *C)
{
    beta = kern_beta(beta, C, (size_t)M * N);
    kern_sgemm(false, false, M, N, K, 1.0f, A, K, Bm, N, beta, C, N);
}

/* C[M][N] += A[K][M]^T * B[K][N]   (row-major; weight gradient dW += dY^T X over K rows).
 * lda and ldb allow A and B to be column slices of wider rows. */
static inline void kern_gemm_tn_acc(int M, int N, int K, const float *A, int lda, const float *Bm,
                                    int ldb, float *C)
{
    kern_sgemm(true, false, M, N, K, 1.0f, A, lda, Bm, ldb, 1.0f, C, N);
}

/* dst[i] += src[i], 4 lanes at a time.   src, dst [n] */
static inline void kern_vadd(size_t n, const float *src, float *dst)
{
    for (size_t i = 0; i < n; i += KV) {
        int m = n - i < KV ? (int)(n - i) : KV;
        kv_store(dst + i, kv_load(dst + i, m) + kv_load(src + i, m), m);
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

/* bias[j] = b_ih[j] + b_hh[j] (either may be NULL = 0).   b_ih, b_hh, bias [n]
 * The test for NULL is outside the loop, so that the common case vectorises: the fused cells
 * run this at every call, every token of batch-1 generation. */
static inline void kern_bias_sum(int n, const float *b_ih, const float *b_hh, float *bias)
{
    if (b_ih && b_hh)
        for (int j = 0; j < n; j++)
            bias[j] = b_ih[j] + b_hh[j];
    else
        for (int j = 0; j < n; j++)
            bias[j] = (b_ih ? b_ih[j] : 0.0f) + (b_hh ? b_hh[j] : 0.0f);
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
