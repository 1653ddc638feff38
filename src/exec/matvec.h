/* matvec: recur's own matrix-vector path for products with very few rows (batch-1 generation,
 * small batches): the recurrent step h W_hh^T and the input projection when T*B is small.
 * kern_sgemm (kernels_gemm.c) routes the untransposed-A, transposed-B products where it is
 * faster than the GEMM library here (see KERN_MATVEC_MAX_ROWS); kern_matvec_rows is the batch-1
 * LSTM, GRU and RNN steps' (kernels_*.c), which split their rows themselves through
 * kern_matvec_chunks.
 *
 * The output columns (rows of W) are split into chunks of KERN_MATVEC_CHUNK run by recur's own
 * threads (mvpool.h: OpenMP's thread count, the one --threads sets; each thread owns a range of
 * chunks and takes unstarted ones from the others when done); each output element is one dot
 * product computed the same way whatever the thread count, so results are bit-identical at 1, 2
 * or N threads. Products below KERN_MATVEC_PAR_MIN multiply-adds run on the calling thread
 * alone (the hand-off costs more than it saves). The inner loop is compiled for AVX-512, AVX2
 * and baseline x86-64 and picked at load time by the CPU (GCC/clang target_clones). Nothing is
 * allocated; the caller owns every buffer. */
#ifndef RECUR_EXEC_MATVEC_H
#define RECUR_EXEC_MATVEC_H

#include "exec/mvpool.h"

/* The products kern_sgemm sends here: at most KERN_MATVEC_MAX_ROWS rows of A and rows of at
 * least KERN_MATVEC_MIN_K elements. Measured with tests/bench/matvec_shapes (1 thread, AVX-512,
 * medians of 9): one row of 512 (the recurrent step at H 512, the output layer) 38 vs 13
 * GFLOP/s and 54 vs 47 against oneDNN's sgemm; one row of 64 or 128 (embedding projections, H
 * 128) 12-24 vs 51-56, and 2-4 rows 28-54 vs 64-115: those stay on oneDNN. */
#define KERN_MATVEC_MAX_ROWS 1
#define KERN_MATVEC_MIN_K 256
/* Fewest multiply-adds (M*N*K) split across threads (below, the hand-off costs more than it
 * saves). */
#define KERN_MATVEC_PAR_MIN 65536L
/* Output columns per chunk of a split product (a multiple of the 4 computed together). */
#define KERN_MATVEC_CHUNK 64

/* C[m][n] = alpha * sum_k A[m][k] W[n][k] + beta C[m][n] for m < M, n < N (C = alpha A W^T +
 * beta C). Any M works (blocks of KERN_MATVEC_MAX_ROWS); with beta = 0, C is not read. Row strides lda, ldw, ldc
 * as BLAS (row-major). */
void kern_matvec_nt(int M, int N, int K, float alpha, const float *A, int lda, const float *W,
                    int ldw, float beta, float *C, int ldc);

/* The rows r0 <= r < r1 of two matrix-vector products summed, on the calling thread:
 *   out[r] = ((acc ? out[r] : 0) + W1[r] . x1) + W2[r] . x2
 * W1 [.][K1] and W2 [.][K2] row-major (rows contiguous); either may be NULL (its term is 0).
 * Both matrices are read in one pass over the rows (the input and recurrent weights of a
 * batch-1 step). Each out[r] is computed the same way whatever r0 and r1 are, so callers that
 * split rows across threads (mvpool.h) get the same bits at any thread count. */
void kern_matvec_rows(int r0, int r1, const float *W1, int K1, const float *x1, const float *W2,
                      int K2, const float *x2, int acc, float *out);

/* fn(ctx, c) for every chunk c < nchunks of a product of madds multiply-adds: on the pool's
 * threads (mvpool_run) from KERN_MATVEC_PAR_MIN on, else on the calling thread in order. */
void kern_matvec_chunks(int nchunks, long madds, MvPoolFn fn, void *ctx);

#endif
