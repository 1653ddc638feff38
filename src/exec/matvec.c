/* matvec: the few-row product C = alpha A W^T + beta C (matvec.h), split by output columns
 * across the pool's threads (mvpool.h), vectorised per CPU with target_clones. */
#include "exec/matvec.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "exec/mvpool.h"

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

/* How far ahead (bytes) each row's stream is prefetched: past a row's end this reaches the next
 * rows, which are read next (rows are contiguous). The hardware prefetchers stop at 4 KB pages;
 * with this, one thread streaming the character LSTM's weights (tests/bench/matvec_shapes,
 * loaded 2-core AVX2 machine, best of 300) went from 6-7.7 GB/s to 10.5-12.9 (256 bytes ahead:
 * no gain; 4 KB and 16 KB: 8.4 and 9.6-12.2). An address, not a pointer: it may lie past W. */
#define MV_PREFETCH 8192
#define MV_PREFETCH_AT(p) __builtin_prefetch((const void *)((uintptr_t)(p) + MV_PREFETCH), 0, 3)

/* Dot products of four rows w[0..3] (nr of them real; the others repeat w[0]) with x [K]:
 *   s[r] = w[r] . x   as 16-lane partial sums, the fixed lane tree, then the tail in order.
 * Four independent sums hide the add latency and each x load serves four rows. Always inlined,
 * so each target clone of its callers compiles it for its own ISA. */
static inline __attribute__((always_inline)) void mv_dot4(int nr, const float *const w[4],
                                                          const float *x, int K, float s[4])
{
    int K16 = K & ~15;
    MvV16 s0 = { 0 }, s1 = { 0 }, s2 = { 0 }, s3 = { 0 }, xv, v;
    for (int k = 0; k < K16; k += 16) {
        for (int r = 0; r < 4; r++)
            MV_PREFETCH_AT(w[r] + k);
        MV_LOAD(xv, x + k);
        MV_LOAD(v, w[0] + k);
        s0 += v * xv;
        MV_LOAD(v, w[1] + k);
        s1 += v * xv;
        MV_LOAD(v, w[2] + k);
        s2 += v * xv;
        MV_LOAD(v, w[3] + k);
        s3 += v * xv;
    }
    MvV16 acc[4] = { s0, s1, s2, s3 };
    for (int r = 0; r < nr; r++) {
        float t; /* the lanes, then the tail */
        MV_HSUM(acc[r], t);
        for (int k = K16; k < K; k++)
            t += x[k] * w[r][k];
        s[r] = t;
    }
}

/* One row (M = 1), four output columns at a time:  c[n] = alpha * (a . W[n]) + beta c[n]. */
__attribute__((target_clones("avx512f", "avx2", "default"))) static void
mv_cols1(int n0, int n1, int K, float alpha, const float *a, const float *W, int ldw,
         float beta, float *c)
{
    for (int n = n0; n < n1; n += 4) {
        int nr = n1 - n < 4 ? n1 - n : 4;
        const float *w[4];
        float s[4];
        for (int r = 0; r < 4; r++)
            w[r] = W + (size_t)(n + (r < nr ? r : 0)) * ldw;
        mv_dot4(nr, w, a, K, s);
        for (int r = 0; r < nr; r++)
            c[n + r] = beta == 0.0f ? alpha * s[r] : alpha * s[r] + beta * c[n + r];
    }
}

/* kern_matvec_rows's body, cloned per ISA. Static, behind a plain exported wrapper: clang 14
 * names a non-static target_clones function's resolver so that other files cannot link to it. */
__attribute__((target_clones("avx512f", "avx2", "default"))) static void
mv_rows(int r0, int r1, const float *W1, int K1, const float *x1, const float *W2, int K2,
        const float *x2, int acc, float *out)
{
    for (int r = r0; r < r1; r += 4) {
        int nr = r1 - r < 4 ? r1 - r : 4;
        const float *w[4];
        float s1[4] = { 0 }, s2[4] = { 0 };
        if (W1) {
            for (int i = 0; i < 4; i++)
                w[i] = W1 + (size_t)(r + (i < nr ? i : 0)) * K1;
            mv_dot4(nr, w, x1, K1, s1);
        }
        if (W2) {
            for (int i = 0; i < 4; i++)
                w[i] = W2 + (size_t)(r + (i < nr ? i : 0)) * K2;
            mv_dot4(nr, w, x2, K2, s2);
        }
        for (int i = 0; i < nr; i++)
            out[r + i] = ((acc ? out[r + i] : 0.0f) + s1[i]) + s2[i];
    }
}

void kern_matvec_rows(int r0, int r1, const float *W1, int K1, const float *x1, const float *W2,
                      int K2, const float *x2, int acc, float *out)
{
    mv_rows(r0, r1, W1, K1, x1, W2, K2, x2, acc, out);
}

/* A split product: its arguments, and one chunk of KERN_MATVEC_CHUNK output columns for all
 * M rows of A (an mvpool job). */
typedef struct MvJob {
    int M, N, K, lda, ldw, ldc;
    float alpha, beta;
    const float *A, *W;
    float *C;
} MvJob;

static void mv_chunk(void *ctx, int chunk)
{
    const MvJob *j = ctx;
    int n0 = chunk * KERN_MATVEC_CHUNK;
    int n1 = n0 + KERN_MATVEC_CHUNK < j->N ? n0 + KERN_MATVEC_CHUNK : j->N;
    for (int m = 0; m < j->M; m++)
        mv_cols1(n0, n1, j->K, j->alpha, j->A + (size_t)m * j->lda, j->W, j->ldw, j->beta,
                 j->C + (size_t)m * j->ldc);
}

/* Splits the output columns into chunks across the pool's threads when the product is large
 * enough to pay for the hand-off. */
void kern_matvec_nt(int M, int N, int K, float alpha, const float *A, int lda, const float *W,
                    int ldw, float beta, float *C, int ldc)
{
    if (M <= 0 || N <= 0)
        return;
    MvJob j = { M, N, K, lda, ldw, ldc, alpha, beta, A, W, C };
    kern_matvec_chunks((N + KERN_MATVEC_CHUNK - 1) / KERN_MATVEC_CHUNK, (long)M * N * K,
                       mv_chunk, &j);
}

/* On the pool only when the work pays for the hand-off (KERN_MATVEC_PAR_MIN). */
void kern_matvec_chunks(int nchunks, long madds, MvPoolFn fn, void *ctx)
{
    if (madds >= KERN_MATVEC_PAR_MIN)
        mvpool_run(nchunks, fn, ctx);
    else
        for (int c = 0; c < nchunks; c++)
            fn(ctx, c);
}
