/* exec: the model executor. Runs an IrModel forward over a BPTT window of T steps for a batch of
 * B streams, computes a loss, and runs backward from the loss to every parameter gradient (and
 * to the initial recurrent states).
 *
 * Memory: all parameters are one contiguous float buffer and their gradients another, with a
 * table of named views (ExecTensor) in IrModel.tensors order, so zeroing, clipping, optimiser
 * updates and checkpoints are single loops. Activations are time-major [T][B][n] per layer
 * ([B][n] after pooling). Recurrent layers keep their state between windows (char-rnn style):
 * each forward starts from the previous forward's final state until exec_reset_state.
 *
 * Recurrent layers with a built-in cell (IrLayer.builtin != IR_CELL_USER) run fused: on oneDNN's
 * primitives when recur is built with oneDNN (dnnl_rnn.h), else on the kernels of kernels.h;
 * user cells, or every cell after exec_set_force_interpreter(e, true), run the cell
 * interpreter (cellvm.h). Both give the same outputs and gradients (tests/test_exec.c). An
 * interpreted cell holds a tape of 2*T*B*(sum of its node widths) floats, built on first use
 * (about 460 MB for one lstm(512) level at B=32, T=100; the fused kernel needs ~6x less).
 *
 * Typical training step:
 *   exec_zero_grads(e);
 *   exec_forward(e, &input, true, d);        // dropout on
 *   exec_loss(e, &target, &loss, d);         // writes d loss / d output
 *   exec_backward(e, d);                     // accumulates into exec_grads(e)
 * Sampling: an ExecModel with batch 1 and max_T 1 (exec_copy_params from the trained one), then
 * exec_forward with T = 1 per token and train = false; the state carries from call to call, and
 * exec_output gives the logits (or probabilities when the model ends in softmax).
 *
 * Ownership: exec_create returns an ExecModel owned by the caller (exec_free). It keeps a pointer
 * to the IrModel, which must outlive it. Every pointer returned by an accessor points into the
 * ExecModel and stays valid until exec_free, except exec_params of an executor made by
 * exec_create_on: that is the caller's buffer (the Model's weights), borrowed. Input and target buffers stay the caller's and are
 * only read during the call they are passed to. */
#ifndef RECUR_EXEC_H
#define RECUR_EXEC_H

#include <stdbool.h>
#include <stdint.h>

#include "ir/ir.h"
#include "util/diag.h"
#include "util/rng.h"

typedef struct ExecModel ExecModel;

/* A named view into the parameter (and, at the same offset, the gradient) buffer. */
typedef struct ExecTensor {
    const char *name;   /* IrTensor.name ("lstm1.weight_ih_l0") */
    int ndim;           /* 1 or 2 */
    int shape[2];
    int64_t size;       /* elements */
    int64_t offset;     /* first element in exec_params / exec_grads */
} ExecTensor;

/* One window of input. */
typedef struct ExecInput {
    int T;                  /* steps in this window, 1..max_T */
    const int32_t *tokens;  /* [T][B] ids in [0, vocab) (input tokens models) */
    const float *vectors;   /* [T][B][n] (input vector models) */
    const int32_t *lengths; /* [B] valid steps per sequence, each in [1, T], for pooling and
                               loss masking; NULL: every sequence has T steps. Recurrences still
                               run over all T steps (a reverse direction starts at the padded
                               end), as PyTorch does without packed sequences, unless packed. */
    bool packed;            /* with lengths: the recurrences also stop at each length, as
                               PyTorch's packed sequences and ONNX's sequence_lens -- states
                               held, outputs zero past it, a reverse direction starting at each
                               sequence's own end; run by the cell interpreter (cellvm.h) */
} ExecInput;

typedef enum ExecLossKind {
    EXEC_LOSS_XENT_TOKENS,  /* cross-entropy per step: ids [T][B] (-1 = ignore); next-token
                               targets, or one label per step (a tagger's tags) */
    EXEC_LOSS_XENT_LABEL,   /* cross-entropy per sequence: ids [B]; output must be pooled */
    EXEC_LOSS_MSE           /* mean squared error: values [T][B][m], or [B][m] when pooled */
} ExecLossKind;

/* What the output is compared with. Cross-entropy is fused with log-softmax: if the model ends
 * in `softmax`, the loss is taken on the softmax's input logits. Means are over counted positions
 * (PyTorch's reduction='mean'); steps past a sequence's length are not counted. */
typedef struct ExecTarget {
    ExecLossKind kind;
    const int32_t *ids;
    const float *values;
} ExecTarget;

/* Builds the executor for model m: lays out parameters, gradients and activations for windows
 * of up to max_T steps of batch streams, and prepares kernels or interpreters for every cell.
 * Parameters start at zero (see exec_init_params). NULL with a diagnostic on an unsupported or
 * malformed model, bad sizes, or out of memory. */
ExecModel *exec_create(const IrModel *m, int batch, int max_T, Diag *d);
/* As exec_create, on the caller's parameter buffer (m->nparams floats, tensors back to back in
 * IrModel.tensors order; the layout of ExecTensor.offset): borrowed, not copied, so the caller
 * (src/model) stays its one owner. The executor reads and writes it in place and never frees
 * it; it must outlive the executor. NULL params: the executor owns zeroed ones. */
ExecModel *exec_create_on(const IrModel *m, float *params, int batch, int max_T, Diag *d);
void exec_free(ExecModel *e);

/* The IrModel it runs. */
const IrModel *exec_model(const ExecModel *e);

/* The flat parameter and gradient buffers, exec_nparams floats each. */
float *exec_params(ExecModel *e);
float *exec_grads(ExecModel *e);
int64_t exec_nparams(const ExecModel *e);
/* The named views, in IrModel.tensors order. */
int exec_ntensors(const ExecModel *e);
const ExecTensor *exec_tensor(const ExecModel *e, int i);
/* Index of the tensor with this name, or -1. */
int exec_find_tensor(const ExecModel *e, const char *name);
/* Copies every parameter from src (built from the same IrModel) into dst. */
int exec_copy_params(ExecModel *dst, const ExecModel *src, Diag *d);

/* Initialises every tensor by its IrInit (uniform, normal, orthogonal, const), in tensor order,
 * drawing from rng (implemented in init.c). */
int exec_init_params(ExecModel *e, Rng *rng, Diag *d);
/* Fills v ([rows][cols], rows = 1 for a vector) by init: uniform(a, b), normal(std a),
 * orthogonal(gain a; rows or columns orthonormal, as torch.nn.init.orthogonal_), const a. */
int exec_init_tensor(float *v, int rows, int cols, IrInit init, Rng *rng, Diag *d);

/* Sets every gradient to zero. */
void exec_zero_grads(ExecModel *e);
/* L2 norm of the whole gradient buffer (accumulated in double). */
double exec_grad_norm(const ExecModel *e);

/* Runs every recurrent layer through the cell interpreter, even built-ins (for tests and for
 * checking the fused kernels). exec_create turns it on when the environment has
 * RECUR_INTERPRETER=1 (exec_env_interpreter), so any command can be run on the interpreter,
 * e.g. to compare its speed and memory with the fused path's. */
void exec_set_force_interpreter(ExecModel *e, bool on);
bool exec_env_interpreter(void);
/* Whether the interpreter keeps every node's value for the whole window (on: what exec_trace
 * reads) or only what its backward needs (off, the default: cellvm.h). */
void exec_set_trace_tape(ExecModel *e, bool on);
/* Whether the fused built-in cells run on oneDNN (dnnl_rnn.h; on by default, effective only
 * when recur is built with oneDNN and for windows of at least EXEC_ONEDNN_MIN_ROWS = T*B rows
 * and EXEC_ONEDNN_MIN_STEPS steps)
 * or on recur's own kernels (kernels.h: the fallback, and the reference in the tests). Both give
 * the same results within float rounding, not bit for bit; each is deterministic. The default
 * is on unless the environment has RECUR_ONEDNN=0, which also puts every GEMM back on OpenBLAS
 * (dnnl_rnn.h: onednn_env_enabled). */
#define EXEC_ONEDNN_MIN_ROWS 32
/* oneDNN's primitive has a fixed cost per call (weights reordered in and, in training, the
 * gradients out; workspace; hand-offs) that only windows of several steps amortise. Measured
 * with tests/bench/cell_engines (LSTM, 1 thread, CPU time, 2-core AVX2 machine; time of recur's
 * kernel / oneDNN's, above 1 = oneDNN faster, train / infer): H128 B32 T1 0.45 / 0.33, B64 T1
 * 0.50 / 0.40, B16 T2 0.54 / 0.48, B32 T4 0.74-0.86 / 0.86-0.91, B16 T4 0.83 / 0.54-0.71, H512
 * B32 T4 0.80 / 0.66: windows under 8 steps run recur's kernels. From 8 steps the two are close
 * (H128 B4-32 T8 0.70-0.94 / 1.03-1.10, H256 B8 T8 0.92 / 0.98, B32 T8 1.13 / 1.05) and oneDNN
 * pulls ahead with the window (H128 B32 T16 0.98 / 1.24, T64 1.09 / 1.39; H256 B4 T64 1.23 /
 * 1.54; H512 B32 T16 1.18 / 1.05, B2 T64 1.31 / 1.34, B1 T100 1.90 / 3.08). Under 32 rows,
 * recur's kernels win at every shape measured (H128 B1-4 T4-16: 0.42-0.95 / 0.65-1.05 except
 * B2 T8 inference 1.05). */
#define EXEC_ONEDNN_MIN_STEPS 8
void exec_set_onednn(ExecModel *e, bool on);
/* Whether this build runs on oneDNN and its CPU engine works. */
bool exec_onednn_available(void);
/* Threads of every engine alike: oneDNN's OpenMP runtime and OpenBLAS (n >= 1; process-wide). */
void exec_set_threads(int n);
/* How idle OpenMP threads wait, for a program to call in main before any work (exec_omp.c), when
 * its time goes into OpenMP's parallel loops (recur calls it for train, run, eval and trace
 * only: the second start costs about 18 ms; src/cli/main.c): unless
 * the user set OMP_WAIT_POLICY or GOMP_SPINCOUNT, a short spin (GOMP_SPINCOUNT=3000) when the
 * machine has a CPU to spare at start (other processes' runnable tasks fewer than the CPUs, and
 * none when the 1-minute load is at the CPU count or above, at a few looks 5 ms apart), else
 * sleeping at once (OMP_WAIT_POLICY=PASSIVE). libgomp reads these when it is loaded, so this
 * sets one and runs the program again (execv of /proc/self/exe with the same argv; it returns
 * when that fails or nothing was to be done). Results do not depend on it, only speed. */
void exec_omp_setup(char **argv);
/* exec_omp_setup's test of a busy machine: true (sleep at once) when the fewest runnable tasks
 * of other processes seen at its looks reach the CPU count (cpus < 1 counts as 1), or are at
 * least 1 while the 1-minute load average load1 is at the CPU count or above. */
bool exec_omp_busy(long cpus, long fewest_others, double load1);
/* With on = true the caller promises that the parameters do not change until it turns this
 * off (recur sample, the C API's stateful step: nothing there trains). Batch-1 steps may then
 * use tables derived from them: a recurrent layer fed straight by an embedding or onehot layer
 * looks up x W_ih^T per token instead of reading W_ih (token_table.c), with the same results.
 * Off by default; every call, and every forward with gradients, makes the tables stale. */
void exec_set_frozen(ExecModel *e, bool on);
/* With on = false, forwards keep nothing for backward in the fused kernels (sampling and
 * evaluation); exec_backward then fails. On by default. */
void exec_set_grad_enabled(ExecModel *e, bool on);
/* The generator of dropout masks (seed it, or save/restore its state for exact resume). */
Rng *exec_rng(ExecModel *e);
/* Seeds of the dropout generator: EXEC_DEFAULT_DROPOUT_SEED until a caller seeds it;
 * exec_seed_dropout(e, seed) seeds it from a run's seed xor EXEC_DROPOUT_SEED_SALT ("dropout" in
 * ASCII), so the masks differ from the weight-init stream drawn from the same seed. */
#define EXEC_DEFAULT_DROPOUT_SEED 0x5eedULL
#define EXEC_DROPOUT_SEED_SALT 0x64726f706f7574ULL
void exec_seed_dropout(ExecModel *e, uint64_t seed);
/* Dropout masks are drawn per stream: each training forward takes one 64-bit key from exec_rng
 * and seeds stream s's generator with key ^ (s + 1) * 0x9e3779b97f4a7c15, where s is the
 * stream's index in the global batch: first + column (first = 0 unless set). A data-parallel
 * rank running columns [first, first + B) of a global batch therefore draws exactly the masks
 * the single process draws for them, and exec_rng alone (the same on every rank) is the whole
 * dropout state a checkpoint needs. */
void exec_set_first_stream(ExecModel *e, int64_t first);

/* Recurrent state carried between windows: zero it (start of independent sequences). */
void exec_reset_state(ExecModel *e);
/* All carried states as one block (every recurrent cell in layer order, each
 * [nstates][B][width]); for checkpoints and for evaluation without disturbing training. */
int64_t exec_state_floats(const ExecModel *e);
void exec_get_state(const ExecModel *e, float *out);
void exec_set_state(ExecModel *e, const float *in);
/* The state block as segments, each [B][width]: writes the first max widths in block order and
 * returns the number of segments (a caller moving whole streams between batches needs them). */
int exec_state_widths(const ExecModel *e, int *widths, int max);
/* Gradient w.r.t. the state block the last forward started from, same layout, written by
 * exec_backward (so an optimiser or a test can see d loss / d h0). */
const float *exec_state_grad(const ExecModel *e);

/* Gradient w.r.t. the final state block of the last forward (same layout), zeroed by
 * exec_forward. Left zero, backward is truncated BPTT; a caller with a loss on the final state
 * (or a test against PyTorch's h_n) fills it before exec_backward. */
float *exec_final_state_grad(ExecModel *e);

/* Forward over one window. train turns dropout on (masks drawn from exec_rng). The window starts
 * from the carried state and leaves its final state for the next call. Zeroes the activation
 * gradients. Returns 0, or -1 with a diagnostic (bad T, token out of range, bad lengths). */
int exec_forward(ExecModel *e, const ExecInput *in, bool train, Diag *d);

/* recur trace: after an exec_forward with the interpreter forced (exec_set_force_interpreter)
 * and its full tape kept (exec_set_trace_tape),
 * exec_trace calls sink once per named value of every recurrent cell (layer label, cell id
 * "l0" / "l0_reverse" ..., the name the cell assigns; v [T][B][width], read-only, owned by e and
 * valid until the next forward). A non-zero return from sink stops the walk and is returned.
 * -1 with a diagnostic when the last forward did not run on the interpreter. */
typedef int (*ExecTraceFn)(void *ctx, const char *layer, const char *cell, const char *name,
                           int T, int B, int width, const float *v);
int exec_trace(ExecModel *e, ExecTraceFn sink, void *ctx, Diag *d);

/* The model's output after forward: [T][B][width] for a sequence output, [B][width] after
 * pooling; *rows receives T*B or B, *width the width (either may be NULL). */
const float *exec_output(const ExecModel *e, int *rows, int *width);
/* The gradient of the output (same layout), zeroed by exec_forward, written by exec_loss; a
 * caller may also fill it directly for a loss of its own before exec_backward. */
float *exec_output_grad(ExecModel *e);
/* Any layer's activation and activation gradient (layer index as in IrModel.layers; NULL for
 * a token layer's gradient). */
const float *exec_layer_output(const ExecModel *e, int layer);
float *exec_layer_grad(ExecModel *e, int layer);

/* Computes the loss of the last forward against t and writes d loss / d output (for fused
 * cross-entropy: d loss / d logits). Returns 0, or -1 with a diagnostic (target out of range,
 * loss kind that does not fit the output). */
int exec_loss(ExecModel *e, const ExecTarget *t, double *loss, Diag *d);

/* Backward over the window of the last forward, from the output gradient to every parameter
 * gradient (accumulated into exec_grads) and to the initial states (exec_state_grad). Gradients
 * do not flow into the previous window (truncated BPTT); exec_final_state_grad seeds the end. */
int exec_backward(ExecModel *e, Diag *d);

#endif
