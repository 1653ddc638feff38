/* onnx_in_int: what the two halves of the ONNX importer share (onnx_in.c: the graph walk and
 * the layers; onnx_in_cell.c: a recurrent node's attributes, the built-in it fits, or the cell
 * written as equations in ONNX's own form when none fits).
 *
 * Ownership: OnnxRec is a plain value; onnx_rec_cell_text writes into the caller's buffer;
 * onnx_rec_cell_tensors adds copies to the caller's list. */
#ifndef RECUR_MODEL_ONNX_IN_INT_H
#define RECUR_MODEL_ONNX_IN_INT_H

#include <stdbool.h>
#include <stddef.h>

#include "io/checkpoint.h"
#include "io/onnx.h"

/* The attribute `name` of n, or NULL; an int attribute (absent: def); whether a string
 * attribute equals want (absent: def). */
const Onnx__AttributeProto *onnx_attr(const Onnx__NodeProto *n, const char *name);
int64_t onnx_attr_int(const Onnx__NodeProto *n, const char *name, int64_t def);
bool onnx_attr_str_is(const Onnx__NodeProto *n, const char *name, const char *want, bool def);

typedef enum OnnxRecOp { ONNX_REC_RNN, ONNX_REC_LSTM, ONNX_REC_GRU } OnnxRecOp;

/* One LSTM/GRU/RNN node's attributes (input 7, P, decides peepholes). */
typedef struct OnnxRec {
    OnnxRecOp op;
    int gates, hidden, dirs;    /* gates: 4 LSTM, 3 GRU, 1 RNN */
    bool reverse;               /* direction=reverse */
    bool has_clip;
    float clip;                 /* the clip attribute: pre-activations in [-clip, clip] */
    bool input_forget, peepholes;
    int lbr;                    /* GRU linear_before_reset */
    /* the activations f, g, h as cell-language calls with %s for the argument
     * ("leakyrelu(%s, 0.1)"); the same for both directions */
    char act[3][64];
} OnnxRec;

/* Reads node n's attributes into r (peepholes: whether it has input P). 0, or -1 with the
 * reason in why (an unknown activation, different ones per direction, a missing constant). */
int onnx_rec_read(const Onnx__NodeProto *n, bool peepholes, OnnxRec *r, char *why, size_t nwhy);
/* The built-in layer r is exactly ("lstm(4, reverse=true)") into buf; false when none fits. */
bool onnx_rec_builtin(const OnnxRec *r, char *buf, size_t n);
/* The definition of cell `name`, r written as ONNX's equations, into buf (-1: too long). */
int onnx_rec_cell_text(const OnnxRec *r, const char *name, char *buf, size_t n);
/* The use of that cell as a layer line ("name(4, bidirectional=true)") into buf. */
void onnx_rec_cell_use(const OnnxRec *r, const char *name, char *buf, size_t n);
/* Adds the cell's tensors under label from ONNX's W [D, G*H, in_w], R [D, G*H, H], B [D, 2*G*H]
 * (NULL: zeros), P [D, 3*H] (NULL: none). 0, or -1 (out of memory). */
int onnx_rec_cell_tensors(const OnnxRec *r, const char *label, int in_w, const float *w,
                          const float *rr, const float *b, const float *p, CkptTensorList *out);

#endif
