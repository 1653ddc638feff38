/* onnx_in_int: what the files of the ONNX importer share: onnx_in.c (the graph walk, dense,
 * embedding, recurrent nodes), onnx_in_cell.c (a recurrent node's attributes, the built-in it
 * fits, or a cell written as ONNX's equations), onnx_in_layers.c (pool, concat/add,
 * layernorm), onnx_in_scan.c (recur's Scan of a user cell back into its equations),
 * onnx_in_state.c (a --states export's state inputs and outputs).
 *
 * Ownership: Im owns its arrays, strings and tensors (onnx_import_model frees them). Val
 * pointers stay valid for the whole walk (im_reserve sizes the array once), ImLayer pointers
 * until the next im_layer. OnnxRec is a plain value; onnx_rec_cell_text writes into the
 * caller's buffer; onnx_rec_cell_tensors adds copies to the caller's list. */
#ifndef RECUR_MODEL_ONNX_IN_INT_H
#define RECUR_MODEL_ONNX_IN_INT_H

#include <stdbool.h>
#include <stddef.h>

#include "io/checkpoint.h"
#include "io/onnx.h"
#include "util/diag.h"

typedef enum VKind { V_NONE, V_INPUT, V_SEQ, V_Y4, V_Y4T, V_CONST, V_SHAPE, V_ZEROS, V_FINAL,
                     V_EXTRA, V_LN, V_HALF, V_ROWS } VKind;

/* What an ONNX value is to the import (see onnx_in.c). */
typedef struct Val {
    const char *name;
    VKind kind;
    bool flip;          /* SEQ/Y4: first two axes swapped relative to the graph input */
    int layer;          /* SEQ/Y4: the layer that made it (-1: the graph input) */
    int width, dirs, hidden;
    const Onnx__TensorProto *t;     /* CONST; LN: the layernorm's weight (stage 8) */
    int stage;          /* LN: how far the layernorm pattern has got (onnx_in_layers.c) */
    const char *src;    /* LN: the value being normalised; ROWS: the state input gathered */
    /* ROWS: rows [row0, row0 + nrows) of a state input (nrows 0: row0 alone, the axis
     * dropped); FINAL: the rows of its layer's state it is (rank3: [rows, B, w], else [B, w]);
     * EXTRA: used counts the rows recurrent nodes have taken (in order) */
    int row0, nrows, used;
    bool rank3;
    char state[24];     /* FINAL, EXTRA taken as rows: the state's name (h, c, a cell's) */
} Val;

typedef struct ImLayer {
    char label[48];     /* unique: from the ONNX names where they allow, else L<k> */
    char text[160];     /* the layer's line without the label ("dense" for a dense layer) */
    int dense_n;        /* a dense layer's width (0: not a dense layer) */
    int bias_tensor;    /* index in tensors of a dense layer's bias, or -1 */
    bool has_bias;      /* an Add or Gemm gave the bias */
    const char *act;    /* a dense layer's activation, or NULL */
    char *scan_cell;    /* a user cell from a Scan: its text (malloc'ed), for the reverse twin */
    const Val *scan_x;  /* the sequence it reads */
    bool scan_bidi;     /* its reverse twin has been seen */
    int levels, dirs;   /* recurrent: stacked levels (merged by their state rows), directions */
    const char *rows_src[2];    /* built-in: the state inputs its levels' rows come from */
} ImLayer;

typedef struct Im {
    const char *path;
    Diag *d;
    const Onnx__GraphProto *g;
    Val *vals;
    int nvals, cap;
    ImLayer *layers;
    int nlayers;
    bool tokens;
    int vocab, in_width;
    int bf;             /* -1 unknown, 0/1: the graph input is batch-first */
    CkptTensorList tensors;
    char *cells, *notes;    /* cells written as equations; comment lines on running the model */
    size_t cells_len, notes_len;
} Im;

/* Reports node i (its position, name and op type) with the reason; returns -1. */
int im_err(Im *im, size_t i, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* The value named name (NULL: none); a new value (NULL: out of memory). */
Val *im_find(Im *im, const char *name);
Val *im_add(Im *im, const char *name, VKind k);
/* Adds a tensor under recur's name ([d0] when ndim is 1). 0, or -1 (reported). */
int im_tensor(Im *im, const char *name, int ndim, int64_t d0, int64_t d1, const float *data);
/* Appends printf text to the malloc'ed string *s of length *len. 0, or -1 (out of memory). */
int im_cat(char **s, size_t *len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* A new layer for node n (NULL: none, labelled L<k>) with line text; its index, or -1. */
int im_layer(Im *im, const Onnx__NodeProto *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The floats of constant v (ndim dimensions) into *out (malloc'ed). 0, or -1 (reported). */
int const_floats(Im *im, size_t i, const Val *v, int ndim, float **out);
/* Input k of n: its name (NULL: absent), its value (NULL: absent or unknown). */
const char *in_name(const Onnx__NodeProto *n, size_t k);
Val *in_val(Im *im, const Onnx__NodeProto *n, size_t k);
/* v when it is the sequence and continues the chain (reads the last layer); else NULL
 * (reported). */
Val *chain(Im *im, size_t i, Val *v);

/* onnx_in_layers.c: pool (ReduceMean/ReduceMax over time, Gather of the last step),
 * concat/add (Concat on the features, Sum), layernorm (recur's export's elementary ops).
 * 0 when n was taken, -1 (reported), -2 when n is not one of them (the generic rules
 * decide). */
int im_pool(Im *im, size_t i, const Onnx__NodeProto *n);
int im_join(Im *im, size_t i, const Onnx__NodeProto *n);
int im_layernorm(Im *im, size_t i, const Onnx__NodeProto *n);

/* onnx_in_state.c: `recur convert --states` exports (initial states as rows of a graph
 * input, final states concatenated into a graph output). im_state_rows: a Gather of a state
 * input's rows (ROWS). im_final_join: Unsqueeze / Concat / Identity of final states.
 * im_rows_take: layer lab's state `state` (width w) starting from ROWS value v (want: the
 * rows it must be, nrows 0 for a Scan's one row); marks the input taken. im_state_notes: the
 * --state-in notes of the inputs taken, checking each is covered exactly. im_final_note:
 * graph output o's --state-out note when it is a whole layer's final state (1), else 0;
 * -1 on error. All 0 or -1 (reported) unless said. */
int im_state_rows(Im *im, size_t i, const Onnx__NodeProto *n);
int im_final_join(Im *im, size_t i, const Onnx__NodeProto *n);
int im_rows_take(Im *im, size_t i, Val *v, int lab, const char *state, int w, int row0,
                 int nrows);
int im_state_notes(Im *im);
int im_final_note(Im *im, const Onnx__ValueInfoProto *o);

/* onnx_in_scan.c: recur's export of a user cell. im_scan_owned: whether node n is part of a
 * cell copy (named like a Scan's "<label>.l<k>[_reverse]/"), decompiled from its Scan rather
 * than walked. im_scan: the Scan as a cell layer (its cell text added to im->cells), or the
 * reverse twin of the previous one (making it bidirectional; its output a HALF value that a
 * Concat joins). 0, or -1 (reported). */
bool im_scan_owned(Im *im, const Onnx__NodeProto *n);
int im_scan(Im *im, size_t i, const Onnx__NodeProto *n);

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
