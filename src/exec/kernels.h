/* kernels: fused CPU kernels for whole layers over one BPTT window (forward and backward).
 *
 * Conventions (every function below follows them):
 * - Plain float32 buffers. Activations are time-major, `[T][B][n]` (row = one step of one stream).
 *   Weights are row-major exactly as PyTorch stores them (`weight_ih [G*H][I]`, `weight [out][in]`),
 *   so `x W^T` is computed without any transpose copy. All GEMMs go through kern_sgemm.
 * - Forward WRITES its outputs (`=`). Backward ACCUMULATES (`+=`) into every gradient output
 *   (weight and bias grads, dx, dh0, dc0): the caller zeroes them. A NULL gradient pointer means
 *   "not wanted" wherever the comment says "or NULL".
 * - Kernels never allocate. Cache (kept from forward for backward) and workspace buffers are passed
 *   in by the caller, sized by the matching `kern_X_cache_floats` / `kern_X_work_floats` function.
 * - Recurrent kernels run one layer in one direction. With `reverse` they process t = T-1 ... 0,
 *   and y[t] stays aligned with input x[t]. h0/c0 are the state entering the first processed step
 *   (NULL = zeros); hT/cT receive the state after the last processed step (NULL = not wanted);
 *   they travel in the structs below.
 *   hT/cT may be the same buffers as h0/c0 (state carried from one window to the next); no
 *   other arguments may overlap.
 *   Stacking layers, dropout between them and concatenating directions are the caller's job.
 * - The recurrent kernels evaluate sigmoid and tanh with vectorised polynomials (Cephes expf and
 *   tanhf; relative error below 2e-7, measured), not libm: results match libm-based code to
 *   float32 rounding, not bit for bit.
 * - The input width parameter is spelled `In` (shapes in comments say I): <complex.h>, which
 *   OpenBLAS's cblas.h includes, defines the macro I.
 * - Index arguments (token ids, targets, lengths) are the caller's to validate, except where a
 *   function returns a status.
 *
 * Ownership: nothing here allocates or keeps pointers past the call; every buffer is the caller's.
 * No function touches global state except the thread pools of kern_sgemm (oneDNN's OpenMP
 * threads, or OpenBLAS's without oneDNN) and of kern_xent_forward_backward (OpenMP's, through
 * parallel.h; its results do not depend on the thread count). */
#ifndef RECUR_KERNELS_H
#define RECUR_KERNELS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/rng.h"

/* The one matrix product (row-major): C[M][N] = alpha op(A) op(B) + beta C, op = transpose when
 * ta / tb; lda, ldb, ldc as BLAS. oneDNN's sgemm when recur is built with oneDNN (faster on every
 * shape recur uses, measured in kernels_gemm.c), else (or with RECUR_ONEDNN=0) OpenBLAS's. */
void kern_sgemm(bool ta, bool tb, int M, int N, int K, float alpha, const float *A, int lda,
                const float *Bm, int ldb, float beta, float *C, int ldc);

/* Activation of a dense layer or an Elman RNN. */
typedef enum KernAct { KERN_ACT_NONE, KERN_ACT_TANH, KERN_ACT_RELU, KERN_ACT_SIGMOID } KernAct;

/* ---------------------------------------------------------------------------------------------
 * Arguments of the recurrent kernels, grouped so that a swapped pair does not compile: the
 * state entering the window and the state leaving it, and their gradients, are four different
 * types; weights and weight gradients two more.
 * ------------------------------------------------------------------------------------------- */

/* One call's sizes: T steps, B streams, input width In, hidden width H, and the direction. */
typedef struct KernRecShape {
    int T, B, In, H;
    bool reverse;
    bool x_proj; /* forward: x holds x W_ih^T already, [T][B][G*H] (In is still I) */
} KernRecShape;

/* A recurrent layer's weights as PyTorch stores them (w_ih [G*H][I], w_hh [G*H][H], biases
 * [G*H] or NULL; G = 4 for the LSTM, 3 for the GRU, 1 for the Elman RNN). */
typedef struct KernRecWeights {
    const float *w_ih, *w_hh, *b_ih, *b_hh;
} KernRecWeights;

/* Their gradients, accumulated by backward (same shapes; bias gradients may be NULL). */
typedef struct KernRecGrads {
    float *dw_ih, *dw_hh, *db_ih, *db_hh;
} KernRecGrads;

/* The state entering the first processed step: h [B][H] and, for the LSTM, c [B][H] (each
 * NULL = zeros; GRU and RNN do not read c). */
typedef struct KernStateIn {
    const float *h, *c;
} KernStateIn;

/* The state after the last processed step (each NULL = not wanted; may be the same buffers as
 * the KernStateIn of the call). */
typedef struct KernStateOut {
    float *h, *c;
} KernStateOut;

/* Gradient of the final state, read by backward (each NULL = zero). */
typedef struct KernDStateIn {
    const float *dh, *dc;
} KernDStateIn;

/* Gradient of the initial state, accumulated by backward (each NULL = not wanted). */
typedef struct KernDStateOut {
    float *dh, *dc;
} KernDStateOut;

/* ---------------------------------------------------------------------------------------------
 * LSTM (PyTorch gate order i, f, g, o)
 *   [i f g o] = x W_ih^T + b_ih + h_prev W_hh^T + b_hh
 *   i, f, o = sigmoid(.), g = tanh(.)
 *   c = f * c_prev + i * g
 *   h = o * tanh(c)
 * ------------------------------------------------------------------------------------------- */

/* Floats of the cache forward needs: with train, everything backward reads (activated gates,
 * c_prev, tanh(c), h_prev per step: about 7*T*B*H); without train, only scratch (about 4*T*B*H). */
size_t kern_lstm_cache_floats(int T, int B, int H, bool train);
/* Floats of the backward workspace (about 4*T*B*H). */
size_t kern_lstm_work_floats(int T, int B, int H);

/* Forward over the window. Input projection for all T*B rows is one GEMM; each step adds one
 * recurrent GEMM and the fused gate math. cache is kern_lstm_cache_floats(T, B, H, train) floats;
 * with train it holds what kern_lstm_backward needs and must not change in between.
 *   x    [T][B][I]        w: w_ih [4H][I]   w_hh [4H][H]   b_ih, b_hh [4H] or NULL
 *   s0: h0, c0 [B][H] or NULL  y [T][B][H]    sT: hT, cT [B][H] or NULL */
void kern_lstm_forward(KernRecShape sh, bool train, const float *x, KernStateIn s0,
                       KernRecWeights w, float *y, KernStateOut sT, float *cache);

/* Backward over the window (BPTT), from the cache of a train-mode forward with the same inputs.
 * Per step: gate derivatives, then dh_prev with one GEMM; after the loop dW_ih, dW_hh and dx are
 * one GEMM each over all T*B rows and the bias grads are column sums.
 *   dy [T][B][H] or NULL (gradient of y)   dsT: dhT, dcT [B][H] or NULL (gradient of the final
 *   state)   dx [T][B][I] or NULL   ds0: dh0, dc0 [B][H] or NULL   dw: dw_ih [4H][I]
 *   dw_hh [4H][H]   db_ih, db_hh [4H] or NULL   work kern_lstm_work_floats(T, B, H) floats
 *   (w.b_ih and w.b_hh are not read) */
void kern_lstm_backward(KernRecShape sh, const float *x, KernRecWeights w, const float *cache,
                        const float *dy, KernDStateIn dsT, float *dx, KernDStateOut ds0,
                        KernRecGrads dw, float *work);

/* ---------------------------------------------------------------------------------------------
 * GRU (PyTorch gate order r, z, n; reset applied after the recurrent product)
 *   r = sigmoid(x W_ir^T + b_ir + h_prev W_hr^T + b_hr)
 *   z = sigmoid(x W_iz^T + b_iz + h_prev W_hz^T + b_hz)
 *   n = tanh(x W_in^T + b_in + r * (h_prev W_hn^T + b_hn))
 *   h = (1 - z) * n + z * h_prev
 * ------------------------------------------------------------------------------------------- */

/* With train: activated r, z, n, the recurrent n-part, h_prev per step (about 5*T*B*H);
 * without: scratch (about 3*T*B*H). */
size_t kern_gru_cache_floats(int T, int B, int H, bool train);
/* Backward workspace (about 6*T*B*H). */
size_t kern_gru_work_floats(int T, int B, int H);

/* Shapes as for the LSTM with 3H gate rows and no cell state (the .c of states is not used):
 *   x [T][B][I]  w: w_ih [3H][I]  w_hh [3H][H]  b_ih, b_hh [3H] or NULL  s0.h [B][H] or NULL
 *   y [T][B][H]  sT.h [B][H] or NULL  cache kern_gru_cache_floats(T, B, H, train) floats */
void kern_gru_forward(KernRecShape sh, bool train, const float *x, KernStateIn s0,
                      KernRecWeights w, float *y, KernStateOut sT, float *cache);
/*   dy [T][B][H] or NULL  dsT.dh [B][H] or NULL  dx [T][B][I] or NULL  ds0.dh [B][H] or NULL
 *   dw: dw_ih [3H][I]  dw_hh [3H][H]  db_ih, db_hh [3H] or NULL  work kern_gru_work_floats
 *   floats */
void kern_gru_backward(KernRecShape sh, const float *x, KernRecWeights w,
                       const float *cache, const float *dy, KernDStateIn dsT, float *dx,
                       KernDStateOut ds0, KernRecGrads dw, float *work);

/* ---------------------------------------------------------------------------------------------
 * Elman RNN: h = act(x W_ih^T + b_ih + h_prev W_hh^T + b_hh), act = tanh or relu
 * ------------------------------------------------------------------------------------------- */

/* With train: h and h_prev per step (about 2*T*B*H); without: scratch (H). */
size_t kern_rnn_cache_floats(int T, int B, int H, bool train);
/* Backward workspace (about T*B*H). */
size_t kern_rnn_work_floats(int T, int B, int H);

/* act is KERN_ACT_TANH or KERN_ACT_RELU (the .c of states is not used).
 *   x [T][B][I]  w: w_ih [H][I]  w_hh [H][H]  b_ih, b_hh [H] or NULL  s0.h [B][H] or NULL
 *   y [T][B][H]  sT.h [B][H] or NULL  cache kern_rnn_cache_floats(T, B, H, train) floats */
void kern_rnn_forward(KernRecShape sh, bool train, KernAct act, const float *x, KernStateIn s0,
                      KernRecWeights w, float *y, KernStateOut sT, float *cache);
/*   dy [T][B][H] or NULL  dsT.dh [B][H] or NULL  dx [T][B][I] or NULL  ds0.dh [B][H] or NULL
 *   dw: dw_ih [H][I]  dw_hh [H][H]  db_ih, db_hh [H] or NULL  work kern_rnn_work_floats floats */
void kern_rnn_backward(KernRecShape sh, KernAct act, const float *x, KernRecWeights w,
                       const float *cache, const float *dy, KernDStateIn dsT, float *dx,
                       KernDStateOut ds0, KernRecGrads dw, float *work);

/* ---------------------------------------------------------------------------------------------
 * Layers applied row by row (n rows = T*B for a sequence, or B after pooling)
 * ------------------------------------------------------------------------------------------- */

/* Embedding gather: out[r] = table[ids[r]]. ids must be in [0, V) (the caller checks).
 *   ids [n]  table [V][E]  out [n][E] */
void kern_embedding_forward(size_t n, int E, const int32_t *ids, const float *table, float *out);
/* Scatter-add: dtable[ids[r]] += dout[r].   ids [n]  dout [n][E]  dtable [V][E] */
void kern_embedding_backward(size_t n, int E, const int32_t *ids, const float *dout,
                             float *dtable);

/* Dense: y = act(x W^T + b).   x [n][in]  w [out][in]  b [out] or NULL  y [n][out] */
void kern_dense_forward(size_t n, int in, int out, KernAct act,
                        const float *x, const float *w, const float *b, float *y);
/* Workspace of kern_dense_backward: n*out floats (0 when act is KERN_ACT_NONE). */
size_t kern_dense_work_floats(size_t n, int out, KernAct act);
/* Backward from the forward's x and y (post-activation).
 *   dy [n][out]  dx [n][in] or NULL  dw [out][in]  db [out] or NULL  work as above (or NULL
 *   when it is 0 floats) */
void kern_dense_backward(size_t n, int in, int out, KernAct act,
                         const float *x, const float *w, const float *y, const float *dy,
                         float *dx, float *dw, float *db, float *work);
/* out[j] += sum_r a[r][j] for r < rows, j < cols (a bias gradient as a column sum), each column
 * summed in row order; the columns are split across the threads, so the sums do not depend on
 * the thread count.   a [rows][cols]  out [cols] */
void kern_colsum_acc(size_t rows, int cols, const float *a, float *out);

/* Elementwise activation and its backward from the output: y = act(x); dx += dy * act'(y).
 *   x, y, dy, dx [n] (y may equal x for in-place forward) */
void kern_act_forward(size_t n, KernAct act, const float *x, float *y);
void kern_act_backward(size_t n, KernAct act, const float *y, const float *dy, float *dx);

/* Fills an inverted-dropout mask: each entry is 0 with probability p, else 1/(1-p).
 * p in [0, 1).   mask [n] */
void kern_dropout_mask(size_t n, float p, Rng *rng, float *mask);
/* y = x * mask; backward dx += dy * mask.   x, y, dy, dx, mask [n] (y may equal x) */
void kern_dropout_forward(size_t n, const float *mask, const float *x, float *y);
void kern_dropout_backward(size_t n, const float *mask, const float *dy, float *dx);

/* Layer normalisation over the last dimension, as torch.nn.LayerNorm(d, eps=1e-5):
 *   y = (x - mean) / sqrt(var + eps) * w + b   (biased variance)
 *   x, y [n][d]  w, b [d] (NULL = 1 and 0)  mean, rstd [n] (cache for backward) */
void kern_layernorm_forward(size_t n, int d, const float *x, const float *w, const float *b,
                            float *y, float *mean, float *rstd);
/*   dy [n][d]  dx [n][d] or NULL  dw, db [d] or NULL */
void kern_layernorm_backward(size_t n, int d, const float *x, const float *w,
                             const float *mean, const float *rstd, const float *dy,
                             float *dx, float *dw, float *db);

/* Pooling over time, per stream b over its first len[b] steps (lengths NULL = all T; each
 * length must be in [1, T], the caller checks).
 *   last: y[b] = x[len[b]-1][b]     mean: y[b] = sum_t<len x[t][b] / len[b]
 *   max:  y[b][j] = max_t<len x[t][b][j], argmax[b][j] records t for backward
 *   x [T][B][H]  lengths [B] or NULL  y [B][H]  argmax [B][H] (max only, else may be NULL) */
typedef enum KernPool { KERN_POOL_LAST, KERN_POOL_MEAN, KERN_POOL_MAX } KernPool;
void kern_pool_forward(KernPool mode, int T, int B, int H, const float *x,
                       const int32_t *lengths, float *y, int32_t *argmax);
/*   dy [B][H]  dx [T][B][H] */
void kern_pool_backward(KernPool mode, int T, int B, int H, const int32_t *lengths,
                        const int32_t *argmax, const float *dy, float *dx);

/* Row softmax (max-subtracted): y[r] = exp(x[r] - max) / sum.   x, y [n][C] (y may equal x) */
void kern_softmax_forward(size_t n, int C, const float *x, float *y);
/* dx += y * (dy - sum_j dy_j y_j).   y, dy, dx [n][C] */
void kern_softmax_backward(size_t n, int C, const float *y, const float *dy, float *dx);

/* Cross-entropy fused with log-softmax, as F.cross_entropy(reduction='mean', ignore_index):
 * loss = mean over counted rows r of -log softmax(logits[r])[target[r]]. A row is counted when
 * targets[r] != ignore and (mask == NULL or mask[r] != 0). dlogits (or NULL) is WRITTEN with
 * d loss / d logits = (softmax - onehot) / count (zero rows for uncounted positions).
 * Returns 0, or -1 (nothing written) when a counted target is outside [0, C).
 * With no counted row the loss is 0 and dlogits is all zero.
 *   logits, dlogits [n][C]  targets [n]  mask [n] or NULL  loss, count: outputs (count may be
 *   NULL) */
int kern_xent_forward_backward(size_t n, int C, const float *logits, const int32_t *targets,
                               int32_t ignore, const float *mask, float *dlogits,
                               double *loss, size_t *count);

/* Mean squared error over the counted rows, as F.mse_loss(reduction='mean') on those rows: a
 * row r is counted when row_mask == NULL or row_mask[r] != 0; with n = counted rows * K,
 * loss = sum over counted r, j of (y[r][j] - t[r][j])^2 / n, and dy (or NULL) is WRITTEN with
 * 2 (y - t) / n on counted rows and 0 elsewhere. Differences are formed in double. With no
 * counted row the loss is 0 and dy is all zero. One MSE for training, eval and `run`.
 *   y, t, dy [rows][K]  row_mask [rows] or NULL  counted: the number of counted rows (or NULL) */
double kern_mse_forward_backward(size_t rows, int K, const float *y, const float *t,
                                 const float *row_mask, float *dy, size_t *counted);

/* y = sum of k inputs; backward for each input i: dx_i += dy (kern_accumulate).
 *   xs[i] [n]  y [n] */
void kern_add_forward(size_t n, int k, const float *const *xs, float *y);
/* dst += src.   src, dst [n] */
void kern_accumulate(size_t n, const float *src, float *dst);

/* Concatenation along the feature axis of k inputs with widths w[i]:
 *   xs[i] [n][w[i]]  y [n][sum w]; backward dxs[i] (or NULL) [n][w[i]] += the matching slice. */
void kern_concat_forward(size_t n, int k, const int *w, const float *const *xs, float *y);
void kern_concat_backward(size_t n, int k, const int *w, const float *dy, float *const *dxs);

#endif
