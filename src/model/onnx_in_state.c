/* onnx_in_state: the state inputs and outputs of `recur convert X.ckpt X.onnx --states`
 * (src/model/onnx_state.c) read back (see onnx_in_int.h). The export gives each recurrent
 * layer's state s one graph input "<label>.<s>0" [levels * dirs, B, w]; each ONNX node takes
 * its rows [level * dirs, +dirs) with a Gather (a user cell's Scan takes its one row, the axis
 * dropped), and the nodes' final states, Unsqueezed where they are [B, w], are concatenated
 * in row order into the graph output "final.<label>.<s>0". Exactly that pattern becomes
 * `recur run --state-in` / `--state-out` notes; any other use of the inputs is refused. */
#include <stdio.h>
#include <string.h>

#include "model/onnx_in_int.h"

/* The int64 values of constant v (at most max) into out; their count, or -1 (not one). */
static int const_ints(const Val *v, int64_t *out, int max, bool *scalar)
{
    const Onnx__TensorProto *t = v && v->kind == V_CONST ? v->t : NULL;
    if (!t || t->data_type != ONNX_INT64 || t->n_dims > 1)
        return -1;
    *scalar = t->n_dims == 0;
    size_t n = t->has_raw_data ? t->raw_data.len / 8 : t->n_int64_data;
    if (n == 0 || n > (size_t)max || (t->has_raw_data && t->raw_data.len % 8))
        return -1;
    for (size_t k = 0; k < n; k++)
        if (t->has_raw_data)
            memcpy(&out[k], t->raw_data.data + 8 * k, 8);
        else
            out[k] = t->int64_data[k];
    return (int)n;
}

int im_state_rows(Im *im, size_t i, const Onnx__NodeProto *n)
{
    Val *in = in_val(im, n, 0);
    int64_t idx[8];
    bool scalar = false;
    int cnt = const_ints(in_val(im, n, 1), idx, 8, &scalar);
    bool rows = cnt > 0 && onnx_attr_int(n, "axis", 0) == 0 && idx[0] >= 0 && idx[0] < 1 << 20;
    for (int k = 1; rows && k < cnt; k++)
        rows = idx[k] == idx[0] + k;
    if (!rows)
        return im_err(im, i, "a Gather of '%s' that is not rows of a state input (constant "
                      "consecutive indices on axis 0, as `recur convert --states` writes)",
                      in->name);
    Val *v = im_add(im, n->output[0], V_ROWS);
    if (!v)
        return -1;
    v->src = in->name, v->row0 = (int)idx[0], v->nrows = scalar ? 0 : cnt;
    return 0;
}

int im_rows_take(Im *im, size_t i, Val *v, int lab, const char *state, int w, int row0,
                 int nrows)
{
    Val *in = im_find(im, v->src);
    if (v->row0 != row0 || v->nrows != nrows)
        return im_err(im, i, "its initial state '%s' is %s %d%s of '%s', not the %s %d%s its "
                      "layer's level and direction take", v->name, v->nrows ? "rows from" : "row",
                      v->row0, v->nrows ? " on" : "", v->src, nrows ? "rows from" : "row", row0,
                      nrows ? " on" : "");
    if (!in || in->kind != V_EXTRA || (in->used && (in->layer != lab ||
                                                    strcmp(in->state, state) != 0)))
        return im_err(im, i, "state input '%s' feeds two layers or two states", v->src);
    if (in->used != row0)
        return im_err(im, i, "takes rows of state input '%s' out of order", v->src);
    in->layer = lab, in->hidden = w, in->used = row0 + (nrows ? nrows : 1);
    snprintf(in->state, sizeof in->state, "%s", state);
    return 0;
}

/* Unsqueeze of a [B, w] final state on axis 0 (the axes an input, or an attribute). */
static int final_unsqueeze(Im *im, size_t i, const Onnx__NodeProto *n, Val *x)
{
    int64_t ax[2];
    bool scalar;
    const Onnx__AttributeProto *a = onnx_attr(n, "axes");
    bool ok = !x->rank3 && (a ? a->n_ints == 1 && a->ints[0] == 0
                              : const_ints(in_val(im, n, 1), ax, 2, &scalar) == 1 && ax[0] == 0);
    Val *v = ok ? im_add(im, n->output[0], V_FINAL) : NULL;
    if (!ok)
        return im_err(im, i, "an Unsqueeze of final state '%s' other than on axis 0", x->name);
    if (!v)
        return -1;
    *v = *x, v->name = n->output[0], v->rank3 = true;
    return 0;
}

/* Concat on axis 0 of one layer's final states of one state, in row order. */
static int final_concat(Im *im, size_t i, const Onnx__NodeProto *n, Val *x)
{
    int rows = 0;
    if (onnx_attr_int(n, "axis", 1) != 0)
        return im_err(im, i, "a Concat of final states other than on axis 0");
    for (size_t k = 0; k < n->n_input; k++) {
        Val *p = in_val(im, n, k);
        if (!p || p->kind != V_FINAL || !p->rank3 || p->layer != x->layer ||
            strcmp(p->state, x->state) != 0 || p->row0 != x->row0 + rows)
            return im_err(im, i, "a Concat of final states that is not one layer's state "
                          "'%s' in row order", x->state);
        rows += p->nrows;
    }
    Val *v = im_add(im, n->output[0], V_FINAL);
    if (!v)
        return -1;
    *v = *x, v->name = n->output[0], v->nrows = rows;
    return 0;
}

int im_final_join(Im *im, size_t i, const Onnx__NodeProto *n)
{
    Val *x = in_val(im, n, 0);
    if (!x || x->kind != V_FINAL || !x->state[0])
        return -2;
    if (!strcmp(n->op_type, "Unsqueeze"))
        return final_unsqueeze(im, i, n, x);
    if (!strcmp(n->op_type, "Concat"))
        return final_concat(im, i, n, x);
    if (!strcmp(n->op_type, "Identity")) {
        Val *v = im_add(im, n->output[0], V_FINAL);
        if (!v)
            return -1;
        *v = *x, v->name = n->output[0];
        return 0;
    }
    return -2;
}

/* The declared first dimension of graph input name (-1: unknown). */
static int64_t input_rows(const Im *im, const char *name)
{
    for (size_t k = 0; k < im->g->n_input; k++) {
        const Onnx__ValueInfoProto *in = im->g->input[k];
        const Onnx__TypeProto *t = in->type;
        const Onnx__TensorShapeProto *sh = t && t->value_case ==
            ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE && t->tensor_type ? t->tensor_type->shape : NULL;
        if (in->name && strcmp(in->name, name) == 0 && sh && sh->n_dim == 3 &&
            sh->dim[0]->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE)
            return sh->dim[0]->dim_value;
    }
    return -1;
}

int im_state_notes(Im *im)
{
    for (int k = 0; k < im->nvals; k++) {
        Val *in = &im->vals[k];
        if (in->kind != V_EXTRA || !in->used)
            continue;
        const ImLayer *l = &im->layers[in->layer];
        int total = (l->levels > 1 ? l->levels : 1) * l->dirs;
        int64_t declared = input_rows(im, in->name);
        if (in->used != total || (declared >= 0 && declared != total))
            return diag_error_in(im->d, im->path, "state input '%s' (%lld rows; -1: unknown) "
                                 "is not layer %s's %d rows: its nodes take %d", in->name,
                                 (long long)declared, l->label, total, in->used), -1;
        if (im_cat(&im->notes, &im->notes_len, "#   --state-in S.safetensors: ONNX input '%s' "
                   "as tensor '%s.%s0' [%d, B, %d]\n", in->name, l->label, in->state, total,
                   in->hidden))
            return diag_error_in(im->d, im->path, "out of memory"), -1;
    }
    return 0;
}

int im_final_note(Im *im, const Onnx__ValueInfoProto *o)
{
    Val *v = im_find(im, o->name);
    if (!v || v->kind != V_FINAL || v->layer < 0 || !v->state[0] || !v->rank3)
        return 0;
    const ImLayer *l = &im->layers[v->layer];
    int total = (l->levels > 1 ? l->levels : 1) * l->dirs;
    if (v->row0 != 0 || v->nrows != total)
        return 0;
    return im_cat(&im->notes, &im->notes_len, "#   --state-out S.safetensors: ONNX output '%s' "
                  "as tensor '%s.%s0' [%d, B, %d]\n", v->name, l->label, v->state, total,
                  v->hidden) ? -1 : 1;
}
