/* kernels_gemm: the one matrix product every kernel and the cell interpreter call (kernels.h).
 *
 * With oneDNN in the build it is oneDNN's sgemm, which JIT-compiles for the CPU it runs on
 * (AVX-512 where present) and shares oneDNN's OpenMP threads with the recurrent primitives;
 * measured against OpenBLAS 0.3.21 (pinned to its Haswell kernel by OPENBLAS_CORETYPE) on an
 * AVX-512 machine, 1 thread, median of 15 interleaved runs, it was faster on every shape class
 * recur uses: output layer forward [3200 x 65, K 512] 74 vs 41 GFLOP/s, its input gradient 121
 * vs 59, its weight gradient 105 vs 57, window projections 83-139 vs 58-71, per-step recurrent
 * products [32 x 2048, K 512] 137 vs 83 and their backward 111 vs 50, weight gradients over the
 * window 98 vs 74, batch-1 matrix-vector 23 vs 4 (the program is tests/bench/gemm_shapes.c).
 * One engine for every product also means one thread pool: OpenBLAS's own pool (which spins
 * after each call) no longer competes with OpenMP's. Without oneDNN, or with RECUR_ONEDNN=0 in
 * the environment, it is OpenBLAS's cblas_sgemm.
 * One-row products C = a B^T with long rows (batch-1 generation: the recurrent step, the output
 * layer) run on recur's own matrix-vector path instead (matvec.h, where the measured limits
 * are): rows split across the threads, AVX-512/AVX2 picked per CPU. */
#include "config.h"

#include <cblas.h>

#include "exec/dnnl_rnn.h"
#include "exec/kernels.h"
#include "exec/matvec.h"

#ifdef HAVE_DNNL
#include <oneapi/dnnl/dnnl.h>
#endif

void kern_sgemm(bool ta, bool tb, int M, int N, int K, float alpha, const float *A, int lda,
                const float *Bm, int ldb, float beta, float *C, int ldc)
{
    if (!ta && tb && M <= KERN_MATVEC_MAX_ROWS && K >= KERN_MATVEC_MIN_K) {
        kern_matvec_nt(M, N, K, alpha, A, lda, Bm, ldb, beta, C, ldc);
        return;
    }
#ifdef HAVE_DNNL
    if (onednn_env_enabled() &&
        dnnl_sgemm(ta ? 'T' : 'N', tb ? 'T' : 'N', M, N, K, alpha, A, lda, Bm, ldb, beta, C,
                   ldc) == dnnl_success)
        return;
#endif
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, M,
                N, K, alpha, A, lda, Bm, ldb, beta, C, ldc);
}
