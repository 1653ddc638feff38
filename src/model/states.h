/* states: a model's recurrent states as named tensors in PyTorch's h0/c0 layout -- the files of
 * `recur run --state-in/--state-out` and the C API's recur_state_load/save (issue 9 item 3).
 *
 * Per recurrent layer (model order) and per state of its cell (cell order: h, then c for an
 * LSTM; a user cell's own states by name), one tensor "<label>.<state>0" of shape
 * [layers * directions, B, width], indexed level * directions + direction as PyTorch's h_0
 * (l0, l0_reverse, l1, ...). Final states use the same names, so one run's --state-out is the
 * next run's --state-in. The executor's state block (exec_get_state) holds the same numbers in
 * another order: per cell, per state, [B][width]; these functions convert between the two.
 *
 * Ownership: model_states_to_tensors adds tensors (copies) to the caller's list, released with
 * ckpt_tensors_free; the block and flat arrays are the caller's. */
#ifndef RECUR_MODEL_STATES_H
#define RECUR_MODEL_STATES_H

#include <stdbool.h>
#include <stdint.h>

#include "io/checkpoint.h"
#include "ir/ir.h"
#include "util/diag.h"

/* Floats in the state block of a B-sequence executor (as exec_state_floats). */
int64_t model_state_floats(const IrModel *m, int B);
/* The name of state s (cell order) of recurrent layer L: "<prefix><label>.<state>0" into buf
 * (prefix NULL or ""; the ONNX export's final-state outputs use "final."). */
void model_state_name(const IrLayer *L, int s, const char *prefix, char *buf, size_t n);
/* Appends one tensor per layer and state, from block, to out, with names prefixed by prefix
 * (NULL or "": none; "grad." for gradients). 0, or -1 (reported; out may hold some). */
int model_states_to_tensors(const IrModel *m, int B, const float *block, const char *prefix,
                            CkptTensorList *out, Diag *d);
/* Fills block from the tensors of l (read from path, for messages): every state tensor of the
 * model must be there with its shape [layers * directions, B, width], and nothing else.
 * 0, or -1 (reported, naming the tensor; block may be partly written). */
int model_states_from_tensors(const IrModel *m, int B, const CkptTensorList *l, const char *path,
                              float *block, Diag *d);

/* The state block of a B-sequence executor from a safetensors file of state tensors, checked as
 * model_states_from_tensors; and into one, atomically. 0, or -1 (reported). */
int model_states_read(const IrModel *m, int B, const char *path, float *block, Diag *d);
int model_states_write(const IrModel *m, int B, const float *block, const char *path, Diag *d);
/* Between the state block and the flat layout of the C API (recur_state_get): the state
 * tensors in model_states_to_tensors order, concatenated. to_flat true: block -> flat. */
void model_states_flat(const IrModel *m, int B, float *block, float *flat, bool to_flat);

#endif
