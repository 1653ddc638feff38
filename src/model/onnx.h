/* onnx (model side, issue 9): a compiled Model to an ONNX graph that onnxruntime runs.
 *
 * onnx_export writes m as an ONNX model at opset ONNX_OPSET_MIN..ONNX_OPSET_MAX (io/onnx.h):
 * graph input `tokens` (int64 [T, B]) or `x` (float [T, B, N]) with symbolic T and B, output
 * `y` (what `recur run` writes: [T, B, N], or [B, N] after a pool). Layers map to standard ops
 * (src/model/onnx_out.c has the table); the built-in cells become ONNX LSTM/GRU/RNN nodes, one
 * per stacked layer, user cells a Scan over their equations. With states true, every
 * recurrent layer's initial states are graph inputs "<label>.<state>0" and its final states
 * graph outputs "final.<label>.<state>0", float [layers * directions, B, width] as the tensors
 * of `recur run --state-in/--state-out` (src/model/onnx_state.c). What cannot be exported (a
 * cell op without an ONNX form) is refused with an error naming the layer.
 *
 * Ownership: onnx_export only reads m; the file at path is written atomically and nothing is left behind
 * on failure. */
#ifndef RECUR_MODEL_ONNX_H
#define RECUR_MODEL_ONNX_H

#include "io/onnx.h"
#include "model/model.h"
#include "util/diag.h"

int onnx_export(const Model *m, const char *path, int opset, bool states, Diag *d);

/* Reads the ONNX graph at path as a recur model (src/model/onnx_in*.c): what torch.onnx.export
 * writes for Embedding/LSTM/GRU/RNN (stacked, bidirectional, batch-first)/Linear stacks at
 * opsets 9..17 with the scaffolding around each recurrent node; any LSTM/GRU/RNN node (a
 * built-in where one fits exactly, else a cell of ONNX's equations: peepholes, clip,
 * input_forget, other activations); and recur's own export (pool, concat, add, layernorm, user
 * cells from their Scans). m is compiled from the equivalent .rnn text (*text, malloc'ed, the
 * caller frees it; its Source is added to d) with the graph's weights under recur's names; the
 * text's leading comments name the `recur run` options that take the graph's other inputs and
 * outputs (sequence_lens, initial_h/c, Y_h/Y_c). An unsupported node, or one needing what recur
 * lacks, is reported with its position, name and op type. On failure m is empty and *text NULL. */
int onnx_import(const char *path, Model *m, char **text, Diag *d);
/* The same on a decoded model (io/onnx.h's onnx_decode; the fuzz harness's entry); path names
 * it in messages. */
int onnx_import_model(const Onnx__ModelProto *om, const char *path, Model *m, char **text,
                      Diag *d);

#endif
