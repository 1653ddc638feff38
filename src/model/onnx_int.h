/* onnx_int: what the two halves of the ONNX exporter share (onnx_out.c: layers and built-in
 * cells; onnx_cell.c: user cells as a Scan over their equations).
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
    Diag *d;
} Ex;

/* Refuses layer l (reported, naming it and the reason); returns -1. */
int ex_refuse(Ex *x, const IrLayer *l, const char *why);
/* A one-input / two-input node of op on builder b; returns its output name. */
const char *ex_node1(OnnxBuilder *b, const char *op, const char *label, const char *in);
const char *ex_node2(OnnxBuilder *b, const char *op, const char *label, const char *a,
                     const char *c);
/* Cell c (a user cell, one direction of one stacked layer of l) over the value in ([T, B, I])
 * as a Scan; *out is its output [T, B, H]. */
int ex_user_cell(Ex *x, const IrLayer *l, const IrCell *c, const char *in, const char **out);

#endif
