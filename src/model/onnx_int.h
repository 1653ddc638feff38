/* onnx_int: what the parts of the ONNX exporter share (onnx_out.c: layers and built-in cells;
 * onnx_cell.c: user cells as a Scan over their equations; onnx_state.c: the state inputs and
 * outputs of --states).
 *
 * Ownership: Ex borrows the Model; its builder owns the graph being built. */
#ifndef RECUR_MODEL_ONNX_INT_H
#define RECUR_MODEL_ONNX_INT_H

#include "io/onnx.h"
#include "model/model.h"

typedef struct Ex {
    OnnxBuilder b;
    const Model *m;
    const IrModel *ir;
    const char **val;       /* val[li]: the ONNX value holding layer li's output */
    int64_t *off;           /* off[ti]: where tensor ti starts in m->params */
    const char *path;
    bool states;            /* --states: initial and final states as graph inputs, outputs */
    Diag *d;
} Ex;

/* Refuses layer l (reported, naming it and the reason); returns -1. */
int ex_refuse(Ex *x, const IrLayer *l, const char *why);
/* A one-input / two-input node of op on builder b; returns its output name. */
const char *ex_node1(OnnxBuilder *b, const char *op, const char *label, const char *in);
const char *ex_node2(OnnxBuilder *b, const char *op, const char *label, const char *a,
                     const char *c);
/* Cell c (a user cell, one direction of one stacked layer of l) over the value in ([T, B, I])
 * as a Scan started from init[k] ([B, width] per state of c; init NULL: zeros); *out is its
 * output [T, B, H], and final[k] (when final is not NULL) its last states [B, width]. */
int ex_user_cell(Ex *x, const IrLayer *l, const IrCell *c, const char *in,
                 const char *const *init, const char **out, const char **final);

/* The graph inputs of layer l's states (onnx_state.c): in[k] for state k of its cells, named
 * and shaped as `recur run --state-in`'s tensors. -1 when out of memory. */
int ex_state_inputs(Ex *x, const IrLayer *l, const char **in);
/* Rows of a state value v [cells, B, w] (Gather on axis 0): n = 1 or 2 rows from `from`
 * ([n, B, w]: one level of a built-in node), or n = 0: row `from` alone ([B, w]: one cell). */
const char *ex_state_rows(Ex *x, const char *label, const char *v, int from, int n);
/* v [B, w] as [1, B, w] (Unsqueeze axis 0). */
const char *ex_state_row_axis(Ex *x, const char *label, const char *v);
/* Graph output "final.<label>.<state>0" of layer l's state k: parts ([rows, B, w] each, in
 * row order) concatenated on axis 0. */
void ex_state_output(Ex *x, const IrLayer *l, int k, const char *const *parts, int nparts);

#endif
