/* onnx_read: the bounded ONNX reader, its initializers as a WeightSet, and the listing of
 * `recur inspect X.onnx` (see onnx.h). */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "io/onnx.h"
#include "util/file.h"

void onnx_model_free(Onnx__ModelProto *m)
{
    if (m)
        onnx__model_proto__free_unpacked(m, NULL);
}

/* Checks what the rest of recur relies on: a graph, nodes with an op type, names present. */
static int check_model(const Onnx__ModelProto *m, const char *what, Diag *d)
{
    if (!m->graph) {
        diag_error_in(d, what, "an ONNX model without a graph");
        return -1;
    }
    const Onnx__GraphProto *g = m->graph;
    for (size_t i = 0; i < g->n_node; i++)
        if (!g->node[i]->op_type || !*g->node[i]->op_type) {
            diag_error_in(d, what, "node %zu ('%s') has no op type", i,
                          g->node[i]->name ? g->node[i]->name : "");
            return -1;
        }
    for (size_t i = 0; i < g->n_initializer; i++)
        if (!g->initializer[i]->name) {
            diag_error_in(d, what, "initializer %zu has no name", i);
            return -1;
        }
    return 0;
}

int onnx_decode(const unsigned char *buf, size_t n, const char *what, Onnx__ModelProto **out,
                Diag *d)
{
    *out = onnx__model_proto__unpack(NULL, n, buf);
    if (!*out) {
        diag_error_in(d, what, "not a valid ONNX model: the protobuf message is truncated or "
                      "corrupted");
        return -1;
    }
    if (check_model(*out, what, d)) {
        onnx_model_free(*out);
        *out = NULL;
        return -1;
    }
    return 0;
}

int onnx_read(const char *path, Onnx__ModelProto **out, Diag *d)
{
    unsigned char *buf;
    size_t n;
    *out = NULL;
    if (file_read_all(path, ONNX_MAX_BYTES, &buf, &n, d))
        return -1;
    int rc = onnx_decode(buf, n, path, out, d);
    free(buf);
    return rc;
}

int onnx_tensor_floats(const Onnx__TensorProto *t, const char *what, float **out,
                       int64_t *count, Diag *d)
{
    int64_t c = 1;
    for (size_t k = 0; k < t->n_dims; k++) {
        if (t->dims[k] < 0 || (t->dims[k] && c > INT64_MAX / 4 / t->dims[k])) {
            diag_error_in(d, what, "tensor '%s' has an invalid shape", t->name ? t->name : "");
            return -1;
        }
        c *= t->dims[k];
    }
    if (t->data_type != ONNX_FLOAT) {
        diag_error_in(d, what, "tensor '%s' is of ONNX type %d, not float32",
                      t->name ? t->name : "", (int)t->data_type);
        return -1;
    }
    bool raw = t->has_raw_data && t->raw_data.len;
    size_t have = raw ? t->raw_data.len / sizeof(float) : t->n_float_data;
    if ((raw && t->raw_data.len % sizeof(float)) || (int64_t)have != c) {
        diag_error_in(d, what, "tensor '%s' holds %zu values, its shape says %" PRId64,
                      t->name ? t->name : "", have, c);
        return -1;
    }
    *out = malloc(sizeof(float) * (size_t)(c ? c : 1));
    if (!*out) {
        diag_error_in(d, what, "out of memory");
        return -1;
    }
    if (c > 0)   /* an empty tensor may have no data pointer */
        memcpy(*out, raw ? (const void *)t->raw_data.data : (const void *)t->float_data,
               sizeof(float) * (size_t)c);
    *count = c;
    return 0;
}

int onnx_read_weights(const char *path, const WfReadOpts *o, WeightSet *out, Diag *d)
{
    (void)o;
    memset(out, 0, sizeof *out);
    Onnx__ModelProto *m;
    if (onnx_read(path, &m, d))
        return -1;
    int rc = 0;
    const Onnx__GraphProto *g = m->graph;
    for (size_t i = 0; !rc && i < g->n_initializer; i++) {
        const Onnx__TensorProto *t = g->initializer[i];
        if (t->data_type != ONNX_FLOAT)
            continue;   /* shapes and indices, not weights */
        float *v;
        int64_t c, shape[8];
        if (t->n_dims > 8) {
            diag_error_in(d, path, "tensor '%s' has %zu dimensions", t->name, t->n_dims);
            rc = -1;
            break;
        }
        if (onnx_tensor_floats(t, path, &v, &c, d)) {
            rc = -1;
            break;
        }
        for (size_t k = 0; k < t->n_dims; k++)
            shape[k] = t->dims[k];
        if (!ckpt_add_tensor(&out->tensors, t->name, (int)t->n_dims, shape, v)) {
            diag_error_in(d, path, "out of memory");
            rc = -1;
        }
        free(v);
    }
    onnx_model_free(m);
    if (rc)
        wf_set_free(out);
    return rc;
}

static const char *elem_name(int t)
{
    static const char *const names[] = {"undefined", "float32", "uint8", "int8", "uint16",
                                        "int16", "int32", "int64", "string", "bool",
                                        "float16", "float64", "uint32", "uint64"};
    return t >= 0 && t < (int)(sizeof names / sizeof *names) ? names[t] : "other";
}

/* "x: float32 [T, B, 3]" for a graph input or output. */
static void print_value(FILE *f, const char *kind, const Onnx__ValueInfoProto *v)
{
    fprintf(f, "%s %s", kind, v->name ? v->name : "");
    const Onnx__TypeProto *tp = v->type;
    if (!tp || tp->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE || !tp->tensor_type) {
        fprintf(f, ": (not a tensor)\n");
        return;
    }
    fprintf(f, ": %s", elem_name(tp->tensor_type->elem_type));
    const Onnx__TensorShapeProto *sh = tp->tensor_type->shape;
    if (sh) {
        fprintf(f, " [");
        for (size_t k = 0; k < sh->n_dim; k++) {
            const Onnx__TensorShapeProto__Dimension *dm = sh->dim[k];
            if (dm->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE)
                fprintf(f, "%s%" PRId64, k ? ", " : "", dm->dim_value);
            else
                fprintf(f, "%s%s", k ? ", " : "",
                        dm->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM
                            && dm->dim_param ? dm->dim_param : "?");
        }
        fprintf(f, "]");
    }
    fprintf(f, "\n");
}

/* One attribute as " name=value" (lists and graphs summarised). */
static void print_attr(FILE *f, const Onnx__AttributeProto *a)
{
    fprintf(f, " %s=", a->name ? a->name : "");
    if (a->type == ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT)
        fprintf(f, "%" PRId64, a->i);
    else if (a->type == ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT)
        fprintf(f, "%g", a->f);
    else if (a->type == ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING)
        fprintf(f, "\"%.*s\"", a->s.data ? (int)(a->s.len > 64 ? 64 : a->s.len) : 0,
                a->s.data ? (const char *)a->s.data : "");
    else if (a->type == ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS) {
        for (size_t k = 0; k < a->n_ints && k < 16; k++)
            fprintf(f, "%s%" PRId64, k ? "," : "[", a->ints[k]);
        fprintf(f, "%s", a->n_ints ? "]" : "[]");
    } else if (a->type == ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRINGS) {
        for (size_t k = 0; k < a->n_strings && k < 16; k++)
            fprintf(f, "%s%.*s", k ? "," : "[", a->strings[k].data ? (int)(a->strings[k].len > 32
                                                      ? 32 : a->strings[k].len) : 0,
                    a->strings[k].data ? (const char *)a->strings[k].data : "");
        fprintf(f, "%s", a->n_strings ? "]" : "[]");
    } else if (a->type == ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__GRAPH)
        fprintf(f, "(graph of %zu nodes)", a->g ? a->g->n_node : (size_t)0);
    else
        fprintf(f, "(type %d)", (int)a->type);
}

void onnx_print(FILE *f, const Onnx__ModelProto *m)
{
    const Onnx__GraphProto *g = m->graph;
    fprintf(f, "format: ONNX (ir_version %" PRId64 ", producer %s)\n", m->ir_version,
            m->producer_name ? m->producer_name : "?");
    for (size_t i = 0; i < m->n_opset_import; i++)
        fprintf(f, "opset %s: %" PRId64 "\n", m->opset_import[i]->domain &&
                *m->opset_import[i]->domain ? m->opset_import[i]->domain : "ai.onnx",
                m->opset_import[i]->version);
    for (size_t i = 0; i < g->n_input; i++)
        print_value(f, "input", g->input[i]);
    for (size_t i = 0; i < g->n_output; i++)
        print_value(f, "output", g->output[i]);
    fprintf(f, "nodes: %zu\n", g->n_node);
    for (size_t i = 0; i < g->n_node; i++) {
        const Onnx__NodeProto *n = g->node[i];
        fprintf(f, "  %zu %s %s(", i, n->name ? n->name : "", n->op_type);
        for (size_t k = 0; k < n->n_input; k++)
            fprintf(f, "%s%s", k ? ", " : "", n->input[k]);
        fprintf(f, ") ->");
        for (size_t k = 0; k < n->n_output; k++)
            fprintf(f, "%s %s", k ? "," : "", n->output[k]);
        for (size_t k = 0; k < n->n_attribute; k++)
            print_attr(f, n->attribute[k]);
        fprintf(f, "\n");
    }
    fprintf(f, "initializers: %zu\n", g->n_initializer);
    for (size_t i = 0; i < g->n_initializer; i++) {
        const Onnx__TensorProto *t = g->initializer[i];
        fprintf(f, "  %s %s [", t->name, elem_name(t->data_type));
        for (size_t k = 0; k < t->n_dims; k++)
            fprintf(f, "%s%" PRId64, k ? ", " : "", t->dims[k]);
        fprintf(f, "]\n");
    }
}
