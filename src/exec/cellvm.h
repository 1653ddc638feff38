/* cellvm: the cell interpreter. Runs any IrCell (a graph of per-step ops from ops.def) over a
 * window of T steps for a batch of B examples, forward, and backward by reverse-mode
 * differentiation of the ops replayed from the last processed step to the first.
 *
 * Layouts (all float32, row-major, time-major):
 *   x   [T][B][input_width]            the cell's input for the window
 *   y   [T][B][out_width]              the output node's value; y[t] stays aligned with x[t]
 *                                      also for reverse cells (which run t = T-1 .. 0)
 *   s   [nstates][B][width_s]          a "state block": every state of IrCell.states in order,
 *                                      back to back, cellvm_state_floats() floats in all
 *   params[k]                          cell param k (IrCell.params order): [rows][cols] or [cols]
 *
 * Nodes that do not depend on a state (uses_state is recomputed here, not trusted; "hoisted")
 * and feed a MATVEC or read a param are evaluated for the whole window at once; a MATVEC among
 * them is one kern_sgemm with M = T*B. The other nodes run step by step, a MATVEC as one GEMM
 * over the batch. Every MATVEC weight gradient is one GEMM over the whole window after the
 * backward sweep. The tape keeps, for the whole window, the values of those window nodes, the
 * MATVECs, their vector inputs, the states and their next values, the ops calling libm and the
 * output; the other step-by-step values are recomputed at each step of the backward (bit for bit
 * the forward's), and step-by-step gradients live in a ring of three steps (cellvm.c's plan).
 *
 * Ownership: cellvm_create returns a CellVm owned by the caller (release with cellvm_free); it
 * keeps a pointer to the IrCell, which must outlive it. Every float buffer passed in stays owned
 * by the caller; gradients are ACCUMULATED (+=) into the caller's buffers, never zeroed here. */
#ifndef RECUR_CELLVM_H
#define RECUR_CELLVM_H

#include "ir/ir.h"
#include "util/diag.h"

typedef struct CellVm CellVm;

/* Checks the cell graph (indices, arities, widths, MATVEC operands) and allocates the tape for
 * windows of up to max_T steps of batch examples. NULL with a diagnostic on a malformed cell,
 * bad sizes or out of memory. */
CellVm *cellvm_create(const IrCell *c, int batch, int max_T, Diag *d);
void cellvm_free(CellVm *vm);

/* Width of the cell's output node. */
int cellvm_output_width(const CellVm *vm);
/* Floats in one state block: B * sum of the state widths. */
int cellvm_state_floats(const CellVm *vm);

/* True when node n does not depend on a state (hoisted: its MATVECs, and what they read, are
 * evaluated once for the whole window), false when it depends on one. */
bool cellvm_hoisted(const CellVm *vm, int n);

/* Node n's values of the last forward, [T][B][width] (time-aligned with x also for reverse
 * cells), read-only and owned by vm (valid until its next forward); NULL for a PARAM node, a
 * bad index, when no forward ran, or for a value the training tape does not keep (see
 * cellvm_set_full_tape). *T receives the window's steps (for recur trace). */
const float *cellvm_node_values(const CellVm *vm, int n, int *T);

/* Keeps every node's value for the whole window (on) or only what backward needs (off, the
 * default: cellvm.c's memory plan), reallocating the tape when this changes; the recorded
 * forward is dropped then. recur trace turns it on. -1 with a diagnostic when out of memory. */
int cellvm_set_full_tape(CellVm *vm, bool on, Diag *d);

/* Forward over a window of T steps (1 <= T <= max_T), recording the tape for backward.
 *   x      [T][B][I]
 *   params cell params in IrCell.params order (see the layout above)
 *   s0     [state block] initial states; NULL means zeros
 *   y      [T][B][out_width] output (written)
 *   sT     [state block] final states (written; may be NULL; may alias s0)
 * Returns 0, or -1 with a diagnostic (bad T). */
int cellvm_forward(CellVm *vm, int T, const float *x, const float *const *params,
                   const float *s0, float *y, float *sT, Diag *d);

/* Backward over the window of the last forward (same x and params, unchanged).
 *   dy      [T][B][out_width] gradient w.r.t. y (NULL: none)
 *   dsT     [state block] gradient w.r.t. the final states (NULL: none)
 *   dparams gradients of the params, same shapes, accumulated; an entry may be NULL
 *   dx      [T][B][I] accumulated (NULL: not wanted)
 *   ds0     [state block] gradient w.r.t. s0, accumulated (NULL: not wanted)
 * Returns 0, or -1 with a diagnostic when no forward was recorded. */
int cellvm_backward(CellVm *vm, const float *dy, const float *dsT, float *const *dparams,
                    float *dx, float *ds0, Diag *d);

/* Sequence lengths (ONNX sequence_lens, PyTorch packed sequences): lengths[b] valid steps of
 * example b (borrowed, B entries, kept until changed; NULL: all of them). At a time t >=
 * lengths[b] the example's states are held (s_t = s_{t-1}) and its output is zero, in forward
 * and backward; a reverse cell thus starts at each example's own last step from s0, and the
 * final states are those after the last valid step. */
void cellvm_set_lengths(CellVm *vm, const int32_t *lengths);

#endif
