/* onnx_in_layers: the layers of recur's own ONNX export that are more than one node or join
 * earlier layers (see onnx_in_int.h): pool (ReduceMean/ReduceMax over time, Gather of the last
 * step), concat/add (Concat on the features, Sum: residual blocks come back as add), and
 * layernorm, which the export writes as nine elementary ops recognised here step by step. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/onnx_in_int.h"

/* The one int64 value of constant v into *out; false when v is not that. */
static bool const_int64(const Val *v, int64_t *out)
{
    const Onnx__TensorProto *t = v && v->kind == V_CONST ? v->t : NULL;
    if (t && t->data_type == ONNX_INT64 && t->has_raw_data && t->raw_data.len == 8)
        return memcpy(out, t->raw_data.data, 8), true;
    if (t && t->data_type == ONNX_INT64 && t->n_int64_data == 1)
        return *out = t->int64_data[0], true;
    return false;
}

/* The single axis of n's `axes` attribute, or def when it has none (or several: -99). */
static int64_t one_axis(const Onnx__NodeProto *n, int64_t def)
{
    const Onnx__AttributeProto *a = onnx_attr(n, "axes");
    return !a ? def : a->n_ints == 1 ? a->ints[0] : -99;
}

/* A new pooling layer (mode: last, mean, max) over sequence x for node n. */
static int pool_layer(Im *im, size_t i, const Onnx__NodeProto *n, Val *x, const char *mode)
{
    if (!chain(im, i, x))
        return -1;
    int lab = im_layer(im, n, "pool(%s)", mode);
    Val *v = lab < 0 ? NULL : im_add(im, n->output[0], V_SEQ);
    if (!v)
        return diag_error_in(im->d, im->path, "out of memory"), -1;
    v->layer = lab, v->width = x->width;
    return 0;
}

int im_pool(Im *im, size_t i, const Onnx__NodeProto *n)
{
    Val *x = in_val(im, n, 0);
    if (!x || x->kind != V_SEQ || x->layer < 0)
        return -2;
    int64_t time = x->flip ? 1 : 0, last;
    if (strcmp(n->op_type, "Gather") == 0) {   /* x[-1]: the last step */
        if (!const_int64(in_val(im, n, 1), &last) || last != -1 ||
            onnx_attr_int(n, "axis", 0) != time)
            return -2;
        return pool_layer(im, i, n, x, "last");
    }
    bool mean = strcmp(n->op_type, "ReduceMean") == 0;
    if (one_axis(n, -99) != time || onnx_attr_int(n, "keepdims", 1) != 0)
        return -2;
    return pool_layer(im, i, n, x, mean ? "mean" : "max");
}

int im_join(Im *im, size_t i, const Onnx__NodeProto *n)
{
    bool concat = strcmp(n->op_type, "Concat") == 0;
    char text[160];
    int width = 0, len = snprintf(text, sizeof text, "%s(", concat ? "concat" : "add");
    Val *first = in_val(im, n, 0), *second = in_val(im, n, 1);
    if (!first || first->kind != V_SEQ || n->n_input < 1)
        return -2;   /* shape arithmetic */
    if (concat && n->n_input == 2 && second && second->kind == V_HALF &&
        second->layer == first->layer) {   /* a bidirectional cell: forward, then reverse */
        Val *v = im_add(im, n->output[0], V_SEQ);
        if (!v)
            return diag_error_in(im->d, im->path, "out of memory"), -1;
        v->layer = first->layer, v->width = first->width + second->width, v->flip = first->flip;
        return 0;
    }
    int64_t axis = onnx_attr_int(n, "axis", 0);
    if (concat && axis != -1 && axis != 2)
        return im_err(im, i, "a Concat of the sequence on axis %lld, not the features",
                      (long long)axis);
    for (size_t k = 0; k < n->n_input; k++) {
        Val *v = in_val(im, n, k);
        if (!v || v->kind != V_SEQ || v->flip != first->flip)
            return im_err(im, i, "input %zu ('%s') is not a sequence like input 0", k,
                          n->input[k]);
        if (v->layer < 0)
            return im_err(im, i, "joins the graph input itself: recur joins labelled layers");
        if (!concat && v->width != first->width)
            return im_err(im, i, "adds widths %d and %d", first->width, v->width);
        width = concat ? width + v->width : v->width;
        len += snprintf(text + len, sizeof text - (size_t)len, "%s%s", k ? ", " : "",
                        im->layers[v->layer].label);
        if (len >= (int)sizeof text - 2)
            return im_err(im, i, "too many inputs");
    }
    int lab = im_layer(im, n, "%s)", text);
    Val *v = lab < 0 ? NULL : im_add(im, n->output[0], V_SEQ);
    if (!v)
        return diag_error_in(im->d, im->path, "out of memory"), -1;
    v->layer = lab, v->width = width, v->flip = first->flip;
    return 0;
}

/* Whether v is stage `stage` of a layernorm (of src, when src is given). */
static bool ln_at(const Val *v, int stage, const char *src)
{
    return v && v->kind == V_LN && v->stage == stage && (!src || strcmp(v->src, src) == 0);
}

/* The next stage of the layernorm pattern from value from (its source and width). */
static int ln_next(Im *im, const Onnx__NodeProto *n, const Val *from, int stage,
                   const Onnx__TensorProto *t)
{
    Val *v = im_add(im, n->output[0], V_LN);
    if (!v)
        return diag_error_in(im->d, im->path, "out of memory"), -1;
    const Val *src = im_find(im, from->kind == V_LN ? from->src : from->name);
    v->stage = stage, v->src = src->name, v->width = src->width, v->flip = src->flip;
    v->layer = src->layer, v->t = t ? t : from->t;
    return 0;
}

/* The last step, Add(stage 8, bias): a layernorm layer over src with weight and bias. */
static int ln_layer(Im *im, size_t i, const Onnx__NodeProto *n, const Val *at, const Val *b)
{
    Val *x = chain(im, i, im_find(im, at->src));
    float *w = NULL, *bias = NULL;
    Val wv = {.kind = V_CONST, .t = at->t, .name = "weight"};
    if (!x || const_floats(im, i, &wv, 1, &w) || const_floats(im, i, b, 1, &bias))
        return free(w), -1;
    int rc = 0, lab = -1;
    if (at->t->dims[0] != x->width || b->t->dims[0] != x->width)
        rc = im_err(im, i, "a layernorm weight or bias that is not [%d]", x->width);
    else if ((lab = im_layer(im, n, "layernorm")) < 0)
        rc = (diag_error_in(im->d, im->path, "out of memory"), -1);
    char name[96];
    if (!rc)
        snprintf(name, sizeof name, "%s.weight", im->layers[lab].label);
    rc = rc || im_tensor(im, name, 1, x->width, 0, w);
    if (!rc)
        snprintf(name, sizeof name, "%s.bias", im->layers[lab].label);
    rc = rc || im_tensor(im, name, 1, x->width, 0, bias);
    free(w), free(bias);
    Val *v = rc ? NULL : im_add(im, n->output[0], V_SEQ);
    if (!rc && !v)
        rc = (diag_error_in(im->d, im->path, "out of memory"), -1);
    if (!rc)
        v->layer = lab, v->width = x->width, v->flip = x->flip;
    return rc ? -1 : 0;
}

/* Whether constant v is the scalar (or [1]) float 1e-5, recur's layernorm epsilon. */
static bool is_eps(Im *im, const Val *v)
{
    float *f;
    int64_t cnt;
    if (!v || v->kind != V_CONST || !v->t || onnx_tensor_floats(v->t, im->path, &f, &cnt, im->d))
        return false;
    bool ok = cnt == 1 && fabsf(f[0] - 1e-5f) <= 1e-12f;
    free(f);
    return ok;
}

/* recur's export of layernorm, in order: m = ReduceMean(x) (1), c = Sub(x, m) (2),
 * Mul(c, c) (3), v = ReduceMean (4), Add(v, eps) (5), Sqrt (6), Div(c, .) (7),
 * Mul(., weight) (8), Add(., bias): the layer. */
int im_layernorm(Im *im, size_t i, const Onnx__NodeProto *n)
{
    const char *op = n->op_type;
    Val *a = in_val(im, n, 0), *b = in_val(im, n, 1);
    bool ln = (a && a->kind == V_LN) || (b && b->kind == V_LN);
    if (!strcmp(op, "ReduceMean") && one_axis(n, -99) == -1 && onnx_attr_int(n, "keepdims", 1)) {
        if (a && a->kind == V_SEQ && a->layer >= 0)
            return ln_next(im, n, a, 1, NULL);
        if (ln_at(a, 3, NULL))
            return ln_next(im, n, a, 4, NULL);
    }
    if (!strcmp(op, "Sub") && a && a->kind == V_SEQ && ln_at(b, 1, a->name))
        return ln_next(im, n, b, 2, NULL);
    if (!strcmp(op, "Mul") && ln_at(a, 2, NULL) && b == a)
        return ln_next(im, n, a, 3, NULL);
    if (!strcmp(op, "Mul") && (ln_at(a, 7, NULL) || ln_at(b, 7, NULL))) {
        Val *x = ln_at(a, 7, NULL) ? a : b, *w = x == a ? b : a;
        if (w && w->kind == V_CONST && w->t && w->t->n_dims == 1)
            return ln_next(im, n, x, 8, w->t);
    }
    if (!strcmp(op, "Add") && (ln_at(a, 4, NULL) || ln_at(b, 4, NULL)) &&
        is_eps(im, ln_at(a, 4, NULL) ? b : a))
        return ln_next(im, n, ln_at(a, 4, NULL) ? a : b, 5, NULL);
    if (!strcmp(op, "Sqrt") && ln_at(a, 5, NULL))
        return ln_next(im, n, a, 6, NULL);
    if (!strcmp(op, "Div") && ln_at(a, 2, NULL) && ln_at(b, 6, a->src))
        return ln_next(im, n, a, 7, NULL);
    if (!strcmp(op, "Add") && (ln_at(a, 8, NULL) || ln_at(b, 8, NULL))) {
        Val *x = ln_at(a, 8, NULL) ? a : b, *c = x == a ? b : a;
        if (c && c->kind == V_CONST && c->t)
            return ln_layer(im, i, n, x, c);
    }
    return ln ? im_err(im, i, "a step of a layer normalisation that is not recur's "
                       "(mean, centre, variance, epsilon 1e-5, weight, bias)") : -2;
}
