/* dnnl_rnn: oneDNN's recurrent primitives as the engine of the fused built-in cells: one
 * primitive per cell (one stacked level, one direction) for the LSTM, the linear-before-reset GRU
 * (PyTorch's GRU) and the Elman RNN (tanh, relu); forward inference, forward training with its
 * workspace, and backward.
 *
 * The weights stay where they are, in recur's flat buffer in PyTorch's layout (w_ih [G*H][I],
 * w_hh [G*H][H], b_ih, b_hh [G*H]); every forward reorders them into the layout the primitive
 * chose (the weights change after every optimiser update, so per call is per update), and every
 * backward reorders the primitive's weight gradients back and ADDS them into recur's gradient
 * buffers, with the same conventions as kernels.h (forward writes, backward accumulates into dx,
 * ds0 and the weight gradients; NULL states are zeros or not wanted; sT may equal s0).
 * Gate orders: oneDNN's LSTM i, f, c~, o is PyTorch's i, f, g, o; oneDNN's GRU u, r, o is
 * PyTorch's z, r, n, so the first two gate blocks swap; lbr_gru has four biases
 * (b_iz + b_hz, b_ir + b_hr, b_in, b_hn).
 *
 * Primitives (and their weight reorders and buffers) are created on the first call for each
 * window length T and kept (a few lengths per cell; the oldest is dropped beyond that).
 * Results are bit-identical run to run for the same thread count.
 *
 * Built only when configure finds oneDNN (HAVE_DNNL, --with-dnnl); without it
 * onednn_available() is false and onednn_rnn_create fails, and the executor uses recur's own
 * kernels (kernels.h), which are also the reference in the tests.
 *
 * Ownership: onednn_rnn_create returns a handle owned by the caller (onednn_rnn_free); it keeps
 * no pointer to the caller's buffers past a call, except that backward reads the x and y of the
 * last training forward, which must be unchanged in between. The engine and stream are created
 * once per process and never freed. Not thread-safe: one caller thread at a time. */
#ifndef RECUR_DNNL_RNN_H
#define RECUR_DNNL_RNN_H

#include <stdbool.h>

#include "exec/kernels.h"
#include "util/diag.h"

/* Fewest multiply-adds per time step, B*G*H*(In+H), for which a primitive runs on more than one
 * thread (below, on one: oneDNN hands work to its threads several times per step, and for tiny
 * steps the hand-off costs more than the second thread gives). Measured on this project's
 * 2-core AVX2 machine. Quiet (load 1.5-2, 2026-12-02, `make bench`), LSTM H128 B32 T64 (2.6M
 * per step): with the earlier limit of 4M recur's share of the bare layers was 49% train / 52%
 * infer; with this one 81% / 77%, and recur on 2 threads 1.34x (train) / 1.08x (infer) itself
 * on 1 (part 5, bench_rnn --vs-threads 1; the bare primitive there x1.00 / x1.03). Loaded (load
 * average 12, waiting passively), wall time is no guide, but the CPU time of both threads
 * against one thread's shows what the hand-offs cost, and 2 / that ratio bounds a quiet
 * machine's speed-up (tests/bench/cell_engines with this limit at 0, OMP_WAIT_POLICY=PASSIVE,
 * LSTM T 64, train / infer): H32 B32 (0.26M) 2.07 / 2.38, nothing to gain; H64 B32 (0.79M)
 * 1.14 / 1.77; H128 B8 (0.66M) 1.34 / 1.50; H128 B16 (1.3M) 1.39 / 1.84; H128 B32 (2.6M)
 * 1.10-1.31 / 1.19; H256 B32 T32 (10.5M) 1.30 / 1.19. On the loaded machine itself 2 threads
 * lose at these sizes (bench_rnn --vs-threads 1, bare H128 B32: x0.5-0.9). The limit depends
 * on the size only, never on the load: the primitive's results differ between 1 and 3
 * threads, and exact resume needs the same bits at the same --threads. (bench_rnn
 * --vs-threads, since removed, compared the counts within one process, where oneDNN's forward
 * inference keeps the threads it first ran on: its inference figures above are not one-thread
 * ones; tests/bench/bench_rnn.c.) */
#define ONEDNN_RNN_PAR_MIN 1000000L

/* The cells oneDNN can run (ONEDNN_NONE: none). */
typedef enum OnednnCell {
    ONEDNN_NONE,
    ONEDNN_RNN_TANH,
    ONEDNN_RNN_RELU,
    ONEDNN_LSTM,
    ONEDNN_GRU
} OnednnCell;

typedef struct OnednnRnn OnednnRnn;

/* Whether recur was built with oneDNN and its CPU engine can be created. */
bool onednn_available(void);
/* False when the environment has RECUR_ONEDNN=0 (read once per process): then the executor's
 * default is recur's own kernels and kern_sgemm is OpenBLAS's, i.e. recur as it was before
 * oneDNN, bit for bit. */
bool onednn_env_enabled(void);
/* The CPU's instruction set as oneDNN uses it ("avx512_core", "avx2", ...; honours
 * DNNL_MAX_CPU_ISA), or "none" without oneDNN. A static string. */
const char *onednn_isa(void);
/* Sets the threads of oneDNN's OpenMP runtime and of OpenBLAS alike (n >= 1). */
void onednn_set_threads(int n);

/* A handle for one cell of B streams, input width In, hidden width H, processing t = T-1 ... 0
 * when reverse. NULL with a diagnostic (no oneDNN, out of memory). */
OnednnRnn *onednn_rnn_create(OnednnCell cell, int B, int In, int H, bool reverse, Diag *d);
void onednn_rnn_free(OnednnRnn *r);

/* Whether oneDNN's forward can be trusted to give what recur's kernels would, up to rounding,
 * for these inputs: all finite, and no pre-activation can overflow float (|x| |W_ih| I +
 * |h| |W_hh| H + |b| below 1e30, |h| <= 1 past the first step as for the bounded cells). Beyond
 * that the engines part: in a run diverging with lr 1e30 (weights past 1e29, products that
 * overflow), oneDNN's LSTM gave finite outputs where recur's kernels (and PyTorch) gave the NaN
 * that stops the run. The caller runs its own kernel when this is false. One vectorised pass
 * over x, s0 and the weights. (The relu RNN's h is not bounded: an overflow that first happens
 * inside its window is not caught here.) */
bool onednn_rnn_inputs_safe(const OnednnRnn *r, int T, const float *x, KernStateIn s0,
                            KernRecWeights w);
/* Forward over a window of T steps (shapes as kern_lstm_forward: x [T][B][I], y [T][B][H],
 * s0/sT h and c [B][H]; c only for the LSTM). With train it keeps the workspace backward needs.
 * Returns 0, or -1 with a diagnostic (oneDNN error, out of memory). */
int onednn_rnn_forward(OnednnRnn *r, int T, bool train, const float *x, KernStateIn s0,
                       KernRecWeights w, float *y, KernStateOut sT, Diag *d);
/* Backward of the last training forward (same x and w; y is that forward's output): dy or NULL,
 * dsT; accumulates into dx (or NULL), ds0 and dw, as kern_lstm_backward. dx_overwrite: what dx
 * holds does not count (the caller would have zeroed it): the input gradient is written into
 * it directly instead of through a staging buffer and an addition. 0, or -1 with a diagnostic (no
 * training forward before it, oneDNN error). */
int onednn_rnn_backward(OnednnRnn *r, const float *x, KernRecWeights w, const float *y,
                        const float *dy, KernDStateIn dsT, float *dx, bool dx_overwrite,
                        KernDStateOut ds0, KernRecGrads dw, Diag *d);

#endif
