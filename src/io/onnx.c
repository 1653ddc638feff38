/* onnx: the graph builder and writer (see onnx.h). Every message lives in the builder's arena;
 * protobuf-c only packs them, so nothing is freed message by message. */
#include "io/onnx.h"

#include <stdlib.h>
#include <string.h>

#include "io/fileio.h"

void onnx_b_init(OnnxBuilder *b, int opset)
{
    memset(b, 0, sizeof *b);
    b->opset = opset;
    b->arena = &b->own;
}

void onnx_b_sub(OnnxBuilder *body, OnnxBuilder *parent)
{
    memset(body, 0, sizeof *body);
    body->opset = parent->opset;
    body->arena = parent->arena;
    body->oom = parent->oom;
    body->serial = parent->serial;
}

void onnx_b_free(OnnxBuilder *b)
{
    if (b->arena == &b->own)
        arena_free(&b->own);
    memset(b, 0, sizeof *b);
}

/* Zeroed arena memory, or NULL with the sticky oom flag set. */
static void *b_alloc(OnnxBuilder *b, size_t n)
{
    void *p = b->oom ? NULL : arena_alloc(b->arena, n);
    if (!p)
        b->oom = true;
    return p;
}

/* An arena copy of s (NULL when s is NULL or out of memory). */
static char *b_str(OnnxBuilder *b, const char *s)
{
    if (!s || b->oom)
        return NULL;
    char *c = arena_strndup(b->arena, s, strlen(s));
    if (!c)
        b->oom = true;
    return c;
}

/* Appends p to the arena array *arr (n elements, capacity *cap); false when out of memory. */
static bool b_push(OnnxBuilder *b, void ***arr, int *n, int *cap, void *p)
{
    if (b->oom || !p)
        return b->oom = true, false;
    void **g = arena_grow(b->arena, *arr, *n, cap, sizeof **arr);
    if (!g)
        return b->oom = true, false;
    *arr = g;
    g[(*n)++] = p;
    return true;
}

const char *onnx_b_name(OnnxBuilder *b, const char *stem)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s_%d", stem, b->serial++);
    return b_str(b, buf);
}

Onnx__NodeProto *onnx_b_node(OnnxBuilder *b, const char *op, const char *name,
                             const char *const *in, int nin, const char *const *outs, int nout)
{
    Onnx__NodeProto *n = b_alloc(b, sizeof *n);
    char **ins = b_alloc(b, sizeof *ins * (size_t)(nin ? nin : 1));
    char **os = b_alloc(b, sizeof *os * (size_t)(nout ? nout : 1));
    if (!n || !ins || !os)
        return NULL;
    onnx__node_proto__init(n);
    n->op_type = b_str(b, op);
    n->name = b_str(b, name);
    for (int i = 0; i < nin; i++)
        ins[i] = b_str(b, in[i] ? in[i] : "");
    for (int i = 0; i < nout; i++) {
        char buf[300];
        snprintf(buf, sizeof buf, "%s:%d", name, i);
        os[i] = b_str(b, outs && outs[i] ? outs[i] : buf);
    }
    n->input = ins;
    n->n_input = (size_t)nin;
    n->output = os;
    n->n_output = (size_t)nout;
    if (b->oom || !b_push(b, (void ***)&b->nodes, &b->nnodes, &b->cap_nodes, n))
        return NULL;
    return n;
}

const char *onnx_b_out(const Onnx__NodeProto *n, int i)
{
    return n && (size_t)i < n->n_output ? n->output[i] : "";
}

/* A new attribute of type t on n (NULL when out of memory or n is NULL). */
static Onnx__AttributeProto *b_attr(OnnxBuilder *b, Onnx__NodeProto *n, const char *name,
                                    Onnx__AttributeProto__AttributeType t)
{
    if (!n)
        return NULL;
    Onnx__AttributeProto *a = b_alloc(b, sizeof *a);
    if (!a)
        return NULL;
    onnx__attribute_proto__init(a);
    a->name = b_str(b, name);
    a->has_type = 1;
    a->type = t;
    int cnt = (int)n->n_attribute, cap = cnt;   /* arena_grow doubles from cap */
    void **arr = (void **)n->attribute;
    if (!b_push(b, &arr, &cnt, &cap, a))
        return NULL;
    n->attribute = (Onnx__AttributeProto **)arr;
    n->n_attribute = (size_t)cnt;
    return a;
}

void onnx_b_attr_int(OnnxBuilder *b, Onnx__NodeProto *n, const char *name, int64_t v)
{
    Onnx__AttributeProto *a = b_attr(b, n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT);
    if (a)
        a->has_i = 1, a->i = v;
}

void onnx_b_attr_float(OnnxBuilder *b, Onnx__NodeProto *n, const char *name, float v)
{
    Onnx__AttributeProto *a = b_attr(b, n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT);
    if (a)
        a->has_f = 1, a->f = v;
}

void onnx_b_attr_ints(OnnxBuilder *b, Onnx__NodeProto *n, const char *name, const int64_t *v,
                      int count)
{
    Onnx__AttributeProto *a = b_attr(b, n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS);
    int64_t *c = b_alloc(b, sizeof *c * (size_t)(count ? count : 1));
    if (!a || !c)
        return;
    if (count > 0)
        memcpy(c, v, sizeof *c * (size_t)count);
    a->ints = c;
    a->n_ints = (size_t)count;
}

void onnx_b_attr_graph(OnnxBuilder *b, Onnx__NodeProto *n, const char *name,
                       OnnxBuilder *body, const char *graph_name)
{
    b->oom |= body->oom;
    b->serial = body->serial > b->serial ? body->serial : b->serial;
    Onnx__AttributeProto *a = b_attr(b, n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__GRAPH);
    Onnx__GraphProto *g = b_alloc(b, sizeof *g);
    if (!a || !g)
        return;
    onnx__graph_proto__init(g);
    g->name = b_str(b, graph_name);
    g->node = body->nodes, g->n_node = (size_t)body->nnodes;
    g->initializer = body->inits, g->n_initializer = (size_t)body->ninits;
    g->input = body->inputs, g->n_input = (size_t)body->ninputs;
    g->output = body->outputs, g->n_output = (size_t)body->noutputs;
    a->g = g;
}

void onnx_b_attr_string(OnnxBuilder *b, Onnx__NodeProto *n, const char *name, const char *v)
{
    Onnx__AttributeProto *a = b_attr(b, n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING);
    char *s = b_str(b, v);
    if (a && s)
        a->has_s = 1, a->s.data = (uint8_t *)s, a->s.len = strlen(s);
}

void onnx_b_attr_strings(OnnxBuilder *b, Onnx__NodeProto *n, const char *name,
                         const char *const *v, int count)
{
    Onnx__AttributeProto *a = b_attr(b, n, name,
                                     ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRINGS);
    ProtobufCBinaryData *s = b_alloc(b, sizeof *s * (size_t)(count ? count : 1));
    if (!a || !s)
        return;
    for (int i = 0; i < count; i++) {
        char *c = b_str(b, v[i]);
        s[i].data = (uint8_t *)c;
        s[i].len = c ? strlen(c) : 0;
    }
    a->strings = s;
    a->n_strings = (size_t)count;
}

/* A tensor named name with dims, its raw little-endian bytes copied from data. */
static const char *b_tensor(OnnxBuilder *b, const char *name, int type, int ndim,
                            const int64_t *dims, const void *data, size_t elem)
{
    Onnx__TensorProto *t = b_alloc(b, sizeof *t);
    int64_t *dd = b_alloc(b, sizeof *dd * (size_t)(ndim ? ndim : 1));
    size_t count = 1;
    for (int k = 0; k < ndim; k++)
        count *= (size_t)dims[k];
    uint8_t *raw = b_alloc(b, count > 0 ? count * elem : 1);
    if (!t || !dd || !raw)
        return NULL;
    onnx__tensor_proto__init(t);
    if (ndim > 0)   /* a scalar has no dims (and may pass NULL) */
        memcpy(dd, dims, sizeof *dd * (size_t)ndim);
    memcpy(raw, data, count * elem);   /* recur runs on little-endian hosts (io_host_le) */
    t->dims = dd;
    t->n_dims = (size_t)ndim;
    t->has_data_type = 1;
    t->data_type = type;
    t->name = b_str(b, name);
    t->has_raw_data = 1;
    t->raw_data.data = raw;
    t->raw_data.len = count * elem;
    if (!b_push(b, (void ***)&b->inits, &b->ninits, &b->cap_inits, t))
        return NULL;
    return t->name;
}

const char *onnx_b_init_float(OnnxBuilder *b, const char *name, int ndim, const int64_t *dims,
                              const float *data)
{
    return b_tensor(b, name, ONNX_FLOAT, ndim, dims, data, sizeof(float));
}

const char *onnx_b_init_int64(OnnxBuilder *b, const char *name, int ndim, const int64_t *dims,
                              const int64_t *data)
{
    return b_tensor(b, name, ONNX_INT64, ndim, dims, data, sizeof(int64_t));
}

/* A ValueInfo (tensor of elem with dims, symbolic where dims[k] < 0). */
static Onnx__ValueInfoProto *b_value(OnnxBuilder *b, const char *name, int elem, int ndim,
                                     const int64_t *dims, const char *const *sym)
{
    Onnx__ValueInfoProto *v = b_alloc(b, sizeof *v);
    Onnx__TypeProto *tp = b_alloc(b, sizeof *tp);
    Onnx__TypeProto__Tensor *tt = b_alloc(b, sizeof *tt);
    Onnx__TensorShapeProto *sh = b_alloc(b, sizeof *sh);
    Onnx__TensorShapeProto__Dimension **dd = b_alloc(b, sizeof *dd * (size_t)(ndim ? ndim : 1));
    if (!v || !tp || !tt || !sh || !dd)
        return NULL;
    onnx__value_info_proto__init(v);
    onnx__type_proto__init(tp);
    onnx__type_proto__tensor__init(tt);
    onnx__tensor_shape_proto__init(sh);
    for (int k = 0; k < ndim; k++) {
        if (!(dd[k] = b_alloc(b, sizeof *dd[k])))
            return NULL;
        onnx__tensor_shape_proto__dimension__init(dd[k]);
        if (dims[k] < 0) {
            dd[k]->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
            dd[k]->dim_param = b_str(b, sym[k]);
        } else {
            dd[k]->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
            dd[k]->dim_value = dims[k];
        }
    }
    sh->dim = dd;
    sh->n_dim = (size_t)ndim;
    tt->has_elem_type = 1;
    tt->elem_type = elem;
    tt->shape = sh;
    tp->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    tp->tensor_type = tt;
    v->name = b_str(b, name);
    v->type = tp;
    return v;
}

void onnx_b_input(OnnxBuilder *b, const char *name, int elem, int ndim, const int64_t *dims,
                  const char *const *sym)
{
    b_push(b, (void ***)&b->inputs, &b->ninputs, &b->cap_inputs,
           b_value(b, name, elem, ndim, dims, sym));
}

void onnx_b_output(OnnxBuilder *b, const char *name, int elem, int ndim, const int64_t *dims,
                   const char *const *sym)
{
    b_push(b, (void ***)&b->outputs, &b->noutputs, &b->cap_outputs,
           b_value(b, name, elem, ndim, dims, sym));
}

int onnx_b_write(OnnxBuilder *b, const char *graph_name, const char *path, Diag *d)
{
    Onnx__GraphProto g = ONNX__GRAPH_PROTO__INIT;
    Onnx__ModelProto m = ONNX__MODEL_PROTO__INIT;
    Onnx__OperatorSetIdProto os = ONNX__OPERATOR_SET_ID_PROTO__INIT, *osp = &os;
    g.name = b_str(b, graph_name);
    if (b->oom) {
        diag_error_in(d, path, "out of memory building the ONNX graph");
        return -1;
    }
    g.node = b->nodes, g.n_node = (size_t)b->nnodes;
    g.initializer = b->inits, g.n_initializer = (size_t)b->ninits;
    g.input = b->inputs, g.n_input = (size_t)b->ninputs;
    g.output = b->outputs, g.n_output = (size_t)b->noutputs;
    os.domain = "";
    os.has_version = 1;
    os.version = b->opset;
    m.has_ir_version = 1;
    m.ir_version = 8;   /* ONNX 1.10 .. 1.12: opsets up to 17 */
    m.producer_name = "recur";
    m.opset_import = &osp;
    m.n_opset_import = 1;
    m.graph = &g;
    size_t n = onnx__model_proto__get_packed_size(&m);
    uint8_t *buf = malloc(n ? n : 1);
    if (!buf) {
        diag_error_in(d, path, "out of memory packing the ONNX model (%zu bytes)", n);
        return -1;
    }
    onnx__model_proto__pack(&m, buf);
    IoAtomic w;
    int rc = io_atomic_open(&w, path, d);
    if (!rc) {
        io_atomic_write(&w, buf, n);
        rc = io_atomic_commit(&w, d);
    }
    free(buf);
    return rc;
}
