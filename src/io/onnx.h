/* onnx: ONNX model files (issue 9) through the protobuf-c code protoc-c generates at build time
 * from Debian's onnx.proto (libonnx-dev): a graph builder and writer for the exporter
 * (src/model/onnx_out.c), the bounded reader, the initializers as a WeightSet (format.c's row)
 * and `recur inspect X.onnx` (inputs, outputs, nodes, initializers). io knows nothing about
 * models: the builder takes names, op types, attributes and float arrays.
 *
 * Ownership: an OnnxBuilder owns every message, string and array it builds (one arena); the
 * names onnx_b_* return point into it and live until onnx_b_free. onnx_read's *out is owned by
 * the caller and released with onnx_model_free. Errors are reported through Diag naming the
 * file; out of memory in the builder is sticky (OnnxBuilder.oom) and reported by onnx_b_write. */
#ifndef RECUR_IO_ONNX_H
#define RECUR_IO_ONNX_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "io/onnx/onnx.pb-c.h"
#include "io/weightset.h"
#include "util/arena.h"
#include "util/diag.h"

enum { ONNX_OPSET_MIN = 14, ONNX_OPSET_MAX = 17, ONNX_OPSET_DEFAULT = 17,
       ONNX_MAX_BYTES = 1 << 30 };

/* ONNX element types (TensorProto.DataType) recur uses. */
enum { ONNX_FLOAT = 1, ONNX_INT64 = 7 };

/* One graph being built: nodes in order, initializers, graph inputs and outputs. */
typedef struct OnnxBuilder {
    Arena own;
    Arena *arena;       /* &own, or the parent's arena for a subgraph (onnx_b_sub) */
    int opset;
    Onnx__NodeProto **nodes;
    int nnodes, cap_nodes;
    Onnx__TensorProto **inits;
    int ninits, cap_inits;
    Onnx__ValueInfoProto **inputs, **outputs;
    int ninputs, cap_inputs, noutputs, cap_outputs;
    int serial;         /* for fresh value names */
    bool oom;
} OnnxBuilder;

void onnx_b_init(OnnxBuilder *b, int opset);
/* A subgraph builder (a Scan body) allocating in parent's arena: it lives as long as parent. */
void onnx_b_sub(OnnxBuilder *body, OnnxBuilder *parent);
void onnx_b_free(OnnxBuilder *b);
/* Attaches body (its nodes, inputs, outputs, initializers) as graph attribute `name` of n. */
void onnx_b_attr_graph(OnnxBuilder *b, Onnx__NodeProto *n, const char *name,
                       OnnxBuilder *body, const char *graph_name);
/* A fresh value name "<stem>_<n>" (arena). */
const char *onnx_b_name(OnnxBuilder *b, const char *stem);
/* Appends node `op` named name with nin inputs (a NULL or "" input is an omitted optional one)
 * and nout outputs, which it names "<name>:0"... unless outs gives them. Returns the node (for
 * attributes) or NULL when out of memory. */
Onnx__NodeProto *onnx_b_node(OnnxBuilder *b, const char *op, const char *name,
                             const char *const *in, int nin, const char *const *outs, int nout);
/* The i-th output name of node n. */
const char *onnx_b_out(const Onnx__NodeProto *n, int i);
/* Attributes on a node. */
void onnx_b_attr_int(OnnxBuilder *b, Onnx__NodeProto *n, const char *name, int64_t v);
void onnx_b_attr_float(OnnxBuilder *b, Onnx__NodeProto *n, const char *name, float v);
void onnx_b_attr_ints(OnnxBuilder *b, Onnx__NodeProto *n, const char *name, const int64_t *v,
                      int count);
void onnx_b_attr_string(OnnxBuilder *b, Onnx__NodeProto *n, const char *name, const char *v);
void onnx_b_attr_strings(OnnxBuilder *b, Onnx__NodeProto *n, const char *name,
                         const char *const *v, int count);
/* A float32 initializer (data copied) and an int64 one; returns its name. */
const char *onnx_b_init_float(OnnxBuilder *b, const char *name, int ndim, const int64_t *dims,
                              const float *data);
const char *onnx_b_init_int64(OnnxBuilder *b, const char *name, int ndim, const int64_t *dims,
                              const int64_t *data);
/* A graph input or output of element type elem; dims[k] < 0 is the symbolic dimension
 * sym[k] ("T", "B"). */
void onnx_b_input(OnnxBuilder *b, const char *name, int elem, int ndim, const int64_t *dims,
                  const char *const *sym);
void onnx_b_output(OnnxBuilder *b, const char *name, int elem, int ndim, const int64_t *dims,
                   const char *const *sym);
/* Writes the model (producer "recur", the builder's opset, graph name) atomically. */
int onnx_b_write(OnnxBuilder *b, const char *graph_name, const char *path, Diag *d);

/* Reads and decodes an ONNX file (at most ONNX_MAX_BYTES), checking that it has a graph and
 * that every node names its op type. */
int onnx_read(const char *path, Onnx__ModelProto **out, Diag *d);
/* Decodes n bytes (the fuzz harness's entry); what names the input in messages. */
int onnx_decode(const unsigned char *buf, size_t n, const char *what, Onnx__ModelProto **out,
                Diag *d);
void onnx_model_free(Onnx__ModelProto *m);
/* The float values of an initializer (raw_data or float_data) into a malloc'ed array of
 * *count floats; -1 (reported, naming the tensor) for another type or an inconsistent size. */
int onnx_tensor_floats(const Onnx__TensorProto *t, const char *what, float **out,
                       int64_t *count, Diag *d);
/* format.c's read: the float initializers of an ONNX file, named as the file names them. */
int onnx_read_weights(const char *path, const WfReadOpts *o, WeightSet *out, Diag *d);
/* `recur inspect`: opsets, the graph's inputs and outputs with their types, its nodes (index,
 * name, op type, inputs -> outputs, attributes) and initializers (name, type, shape). */
void onnx_print(FILE *f, const Onnx__ModelProto *m);

#endif
