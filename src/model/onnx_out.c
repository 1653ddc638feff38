/* onnx_out: a Model as an ONNX graph (see model/onnx.h). One function per layer kind, in the
 * table ex_layers[]; the recurrent built-ins go through ex_cells[] (ONNX op, gate order,
 * activations). The graph is built in an OnnxBuilder (io/onnx.h) and written once at the end. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/onnx.h"
#include "model/onnx_int.h"


static const char *const TB[] = {"T", "B", ""};

/* Refuses layer l with a message naming it. */
int ex_refuse(Ex *x, const IrLayer *l, const char *why)
{
    DiagMessage *dm = diag_error_in(x->d, x->path, "cannot export layer '%s' to ONNX: %s",
                                    l->label, why);
    diag_help(dm, "ONNX export covers every layer kind, the built-in cells and user cells "
              "whose ops have an ONNX form");
    return -1;
}

/* A one-input, one-output node on value in; returns its output. */
const char *ex_node1(OnnxBuilder *b, const char *op, const char *label, const char *in)
{
    char name[300];
    snprintf(name, sizeof name, "%s/%s_%d", label, op, b->serial++);
    return onnx_b_out(onnx_b_node(b, op, name, &in, 1, NULL, 1), 0);
}

/* A two-input node; returns its output. */
const char *ex_node2(OnnxBuilder *b, const char *op, const char *label, const char *a,
                     const char *c)
{
    char name[300];
    snprintf(name, sizeof name, "%s/%s_%d", label, op, b->serial++);
    const char *in[2] = {a, c};
    return onnx_b_out(onnx_b_node(b, op, name, in, 2, NULL, 1), 0);
}

/* The same on the main graph. */
static const char *ex_unary(Ex *x, const char *op, const char *label, const char *in)
{
    return ex_node1(&x->b, op, label, in);
}

static const char *ex_binary(Ex *x, const char *op, const char *label, const char *a,
                             const char *c)
{
    return ex_node2(&x->b, op, label, a, c);
}

/* The data of tensor role r of layer l, or NULL. */
static const float *ex_role(const Ex *x, const IrLayer *l, IrTensorRole r)
{
    return l->tensor[r] == IR_NO_TENSOR ? NULL : x->m->params + x->off[l->tensor[r]];
}

/* input tokens: int64 ids [T, B]; input vector: float [T, B, N]. */
static int ex_input(Ex *x, int li)
{
    const IrLayer *l = &x->ir->layers[li];
    if (ir_layer_facts[l->kind].gives_tokens) {
        onnx_b_input(&x->b, "tokens", ONNX_INT64, 2, (int64_t[]){-1, -1}, TB);
        x->val[li] = "tokens";
    } else {
        onnx_b_input(&x->b, "x", ONNX_FLOAT, 3, (int64_t[]){-1, -1, l->width}, TB);
        x->val[li] = "x";
    }
    return 0;
}

/* embedding: y[t, b] = weight[ids[t, b]] (Gather on axis 0). */
static int ex_embedding(Ex *x, int li)
{
    const IrLayer *l = &x->ir->layers[li];
    const IrTensor *t = &x->ir->tensors[l->tensor[IR_ROLE_WEIGHT]];
    const char *w = onnx_b_init_float(&x->b, t->name, 2,
                                      (int64_t[]){t->shape[0], t->shape[1]},
                                      ex_role(x, l, IR_ROLE_WEIGHT));
    x->val[li] = ex_binary(x, "Gather", l->label, w, x->val[l->inputs[0]]);
    return 0;
}

/* onehot: y[t, b] = e_{ids[t, b]} of width vocab (OneHot with values [0, 1]). */
static int ex_onehot(Ex *x, int li)
{
    const IrLayer *l = &x->ir->layers[li];
    char n1[300], n2[300];
    snprintf(n1, sizeof n1, "%s.depth", l->label);
    snprintf(n2, sizeof n2, "%s.values", l->label);
    const char *depth = onnx_b_init_int64(&x->b, n1, 1, (int64_t[]){1},
                                          (int64_t[]){l->vocab});
    const char *vals = onnx_b_init_float(&x->b, n2, 1, (int64_t[]){2}, (float[]){0, 1});
    const char *in[3] = {x->val[l->inputs[0]], depth, vals};
    snprintf(n1, sizeof n1, "%s/OneHot", l->label);
    Onnx__NodeProto *n = onnx_b_node(&x->b, "OneHot", n1, in, 3, NULL, 1);
    onnx_b_attr_int(&x->b, n, "axis", -1);
    x->val[li] = onnx_b_out(n, 0);
    return 0;
}

/* The ONNX op of an activation (NULL for none). */
static const char *act_op(IrActivation a)
{
    return a == IR_ACT_TANH ? "Tanh" : a == IR_ACT_RELU ? "Relu" : a == IR_ACT_SIGMOID
                                                                    ? "Sigmoid" : NULL;
}

/* dense: y = act(x @ weight^T + bias); the weight is stored transposed [in, N]. */
static int ex_dense(Ex *x, int li)
{
    const IrLayer *l = &x->ir->layers[li];
    const IrTensor *t = &x->ir->tensors[l->tensor[IR_ROLE_WEIGHT]];
    int n = t->shape[0], k = t->shape[1];
    float *wt = malloc(sizeof *wt * (size_t)n * (size_t)k);
    if (!wt)
        return diag_error_in(x->d, x->path, "out of memory"), -1;
    const float *w = ex_role(x, l, IR_ROLE_WEIGHT);
    for (int i = 0; i < n; i++)
        for (int j = 0; j < k; j++)
            wt[(size_t)j * n + i] = w[(size_t)i * k + j];
    char name[300];
    snprintf(name, sizeof name, "%s.weight_t", l->label);
    const char *wn = onnx_b_init_float(&x->b, name, 2, (int64_t[]){k, n}, wt);
    free(wt);
    const char *y = ex_binary(x, "MatMul", l->label, x->val[l->inputs[0]], wn);
    if (l->tensor[IR_ROLE_BIAS] != IR_NO_TENSOR) {
        const IrTensor *bt = &x->ir->tensors[l->tensor[IR_ROLE_BIAS]];
        y = ex_binary(x, "Add", l->label, y,
                      onnx_b_init_float(&x->b, bt->name, 1, (int64_t[]){n},
                                        ex_role(x, l, IR_ROLE_BIAS)));
    }
    if (act_op(l->act))
        y = ex_unary(x, act_op(l->act), l->label, y);
    x->val[li] = y;
    return 0;
}

/* dropout: the identity at inference. */
static int ex_identity(Ex *x, int li)
{
    x->val[li] = x->val[x->ir->layers[li].inputs[0]];
    return 0;
}

/* One ReduceMean over the last axis, kept (axes is an attribute up to opset 17). */
static const char *ex_mean_last(Ex *x, const char *label, const char *in)
{
    char name[300];
    snprintf(name, sizeof name, "%s/ReduceMean_%d", label, x->b.serial++);
    Onnx__NodeProto *n = onnx_b_node(&x->b, "ReduceMean", name, &in, 1, NULL, 1);
    onnx_b_attr_ints(&x->b, n, "axes", (int64_t[]){-1}, 1);
    onnx_b_attr_int(&x->b, n, "keepdims", 1);
    return onnx_b_out(n, 0);
}

/* layernorm, as recur computes it (biased variance, eps 1e-5), in elementary ops at every
 * opset: y = (x - mean) / sqrt(mean((x - mean)^2) + 1e-5) * weight + bias. */
static int ex_layernorm(Ex *x, int li)
{
    const IrLayer *l = &x->ir->layers[li];
    const char *in = x->val[l->inputs[0]];
    const char *c = ex_binary(x, "Sub", l->label, in, ex_mean_last(x, l->label, in));
    const char *var = ex_mean_last(x, l->label, ex_binary(x, "Mul", l->label, c, c));
    char name[300];
    snprintf(name, sizeof name, "%s.eps", l->label);
    const char *eps = onnx_b_init_float(&x->b, name, 0, NULL, (float[]){1e-5f});
    const char *sd = ex_unary(x, "Sqrt", l->label, ex_binary(x, "Add", l->label, var, eps));
    const char *y = ex_binary(x, "Div", l->label, c, sd);
    const IrTensor *wt = &x->ir->tensors[l->tensor[IR_ROLE_WEIGHT]];
    const IrTensor *bt = &x->ir->tensors[l->tensor[IR_ROLE_BIAS]];
    y = ex_binary(x, "Mul", l->label, y, onnx_b_init_float(&x->b, wt->name, 1,
                                                           (int64_t[]){wt->shape[0]},
                                                           ex_role(x, l, IR_ROLE_WEIGHT)));
    x->val[li] = ex_binary(x, "Add", l->label, y,
                           onnx_b_init_float(&x->b, bt->name, 1, (int64_t[]){bt->shape[0]},
                                             ex_role(x, l, IR_ROLE_BIAS)));
    return 0;
}

/* pool over time: last (Gather index -1 on axis 0), mean (ReduceMean), max (ReduceMax). */
static int ex_pool(Ex *x, int li)
{
    const IrLayer *l = &x->ir->layers[li];
    const char *in = x->val[l->inputs[0]];
    char name[300];
    if (l->pool == IR_POOL_LAST) {
        snprintf(name, sizeof name, "%s.last", l->label);
        const char *idx = onnx_b_init_int64(&x->b, name, 0, NULL, (int64_t[]){-1});
        x->val[li] = ex_binary(x, "Gather", l->label, in, idx);
        return 0;
    }
    const char *op = l->pool == IR_POOL_MEAN ? "ReduceMean" : "ReduceMax";
    snprintf(name, sizeof name, "%s/%s", l->label, op);
    Onnx__NodeProto *n = onnx_b_node(&x->b, op, name, &in, 1, NULL, 1);
    onnx_b_attr_ints(&x->b, n, "axes", (int64_t[]){0}, 1);
    onnx_b_attr_int(&x->b, n, "keepdims", 0);
    x->val[li] = onnx_b_out(n, 0);
    return 0;
}

/* concat (last axis) and add (Sum) of the inputs. */
static int ex_join(Ex *x, int li)
{
    const IrLayer *l = &x->ir->layers[li];
    const char *in[16];
    if (l->ninputs > 16)
        return ex_refuse(x, l, "more than 16 inputs");
    for (int i = 0; i < l->ninputs; i++)
        in[i] = x->val[l->inputs[i]];
    bool concat = strcmp(ir_layer_facts[l->kind].spelling, "concat") == 0;
    const char *op = concat ? "Concat" : "Sum";
    char name[300];
    snprintf(name, sizeof name, "%s/%s", l->label, op);
    Onnx__NodeProto *n = onnx_b_node(&x->b, op, name, in, l->ninputs, NULL, 1);
    if (concat)
        onnx_b_attr_int(&x->b, n, "axis", -1);
    x->val[li] = onnx_b_out(n, 0);
    return 0;
}

/* softmax over the last axis. */
static int ex_softmax(Ex *x, int li)
{
    const IrLayer *l = &x->ir->layers[li];
    char name[300];
    snprintf(name, sizeof name, "%s/Softmax", l->label);
    const char *in = x->val[l->inputs[0]];
    Onnx__NodeProto *n = onnx_b_node(&x->b, "Softmax", name, &in, 1, NULL, 1);
    onnx_b_attr_int(&x->b, n, "axis", -1);
    x->val[li] = onnx_b_out(n, 0);
    return 0;
}

/* How a recurrent cell of the prelude maps to an ONNX node: op, gates, the ONNX gate order as
 * blocks of recur's (PyTorch's) order, activations per direction, linear_before_reset. */
typedef struct ExCell {
    const char *cell;       /* the prelude cell's name */
    const char *op;
    int gates;
    int perm[4];            /* ONNX block k is recur block perm[k] */
    const char *acts[3];
    int nacts;
    int lbr;                /* GRU linear_before_reset (-1: not a GRU) */
} ExCell;

/* LSTM: recur i,f,g,o -> ONNX i,o,f,c; GRU: recur r,z,n -> ONNX z,r,h. gru is PyTorch's
 * (reset after the matrix product: linear_before_reset=1), gru_rb the reset-before form. */
static const ExCell ex_cells[] = {
    {"rnn", "RNN", 1, {0}, {"Tanh"}, 1, -1},
    {"rnn_relu", "RNN", 1, {0}, {"Relu"}, 1, -1},
    {"lstm", "LSTM", 4, {0, 3, 1, 2}, {"Sigmoid", "Tanh", "Tanh"}, 3, -1},
    {"lstm_hs", "LSTM", 4, {0, 3, 1, 2}, {"HardSigmoid", "Tanh", "Tanh"}, 3, -1},
    {"gru", "GRU", 3, {1, 0, 2}, {"Sigmoid", "Tanh"}, 2, 1},
    {"gru_rb", "GRU", 3, {1, 0, 2}, {"Sigmoid", "Tanh"}, 2, 0},
    {"gru_hs", "GRU", 3, {1, 0, 2}, {"HardSigmoid", "Tanh"}, 2, 1},
    {"gru_rb_hs", "GRU", 3, {1, 0, 2}, {"HardSigmoid", "Tanh"}, 2, 0},
};

/* The data of cell c's param `name`, or NULL. */
static const float *ex_param(const Ex *x, const IrCell *c, const char *name)
{
    for (int i = 0; i < c->nparams; i++)
        if (strcmp(c->params[i].name, name) == 0)
            return x->m->params + x->off[c->params[i].tensor];
    return NULL;
}

/* Copies the rows of src ([gates*H][cols]) into dst in ONNX gate order. */
static void ex_reorder(const ExCell *ec, int h, int cols, const float *src, float *dst)
{
    for (int k = 0; k < ec->gates; k++)
        memcpy(dst + (size_t)k * h * cols, src + (size_t)ec->perm[k] * h * cols,
               sizeof *dst * (size_t)h * cols);
}

/* The W, R, B initializers of stacked layer s (both directions) of layer l. */
static int ex_weights(Ex *x, const IrLayer *l, const ExCell *ec, int s, int in_w,
                      const char *names[3])
{
    int dirs = l->bidirectional ? 2 : 1, h = l->size, gh = ec->gates * h;
    size_t nw = (size_t)gh * in_w, nr = (size_t)gh * h;
    float *w = malloc(sizeof *w * nw * dirs), *r = malloc(sizeof *r * nr * dirs);
    float *bb = malloc(sizeof *bb * 2 * (size_t)gh * dirs);
    int rc = w && r && bb ? 0 : -1;
    for (int d = 0; !rc && d < dirs; d++) {
        const IrCell *c = &l->cells[s * dirs + d];
        const float *wi = ex_param(x, c, "weight_ih"), *wh = ex_param(x, c, "weight_hh");
        const float *bi = ex_param(x, c, "bias_ih"), *bh = ex_param(x, c, "bias_hh");
        if (!wi || !wh || !bi || !bh || c->input_width != in_w) {
            rc = ex_refuse(x, l, "its cell does not have the built-in parameters");
            break;
        }
        ex_reorder(ec, h, in_w, wi, w + d * nw);
        ex_reorder(ec, h, h, wh, r + d * nr);
        ex_reorder(ec, h, 1, bi, bb + (size_t)d * 2 * gh);
        ex_reorder(ec, h, 1, bh, bb + (size_t)d * 2 * gh + gh);
    }
    char name[300];
    const char *what[3] = {"W", "R", "B"};
    const float *data[3] = {w, r, bb};
    int64_t dims[3][3] = {{dirs, gh, in_w}, {dirs, gh, h}, {dirs, 2 * gh, 0}};
    for (int k = 0; !rc && k < 3; k++) {
        snprintf(name, sizeof name, "%s.%s_l%d", l->label, what[k], s);
        names[k] = onnx_b_init_float(&x->b, name, k == 2 ? 2 : 3, dims[k], data[k]);
    }
    if (!w || !r || !bb)
        diag_error_in(x->d, x->path, "out of memory");
    free(w), free(r), free(bb);
    return rc;
}

/* The ExCell row of layer l, or NULL (a user cell). */
static const ExCell *ex_cell_of(const IrLayer *l)
{
    const char *name = l->ncells ? l->cells[0].name : NULL;
    for (size_t i = 0; name && i < sizeof ex_cells / sizeof *ex_cells; i++)
        if (strcmp(ex_cells[i].cell, name) == 0)
            return &ex_cells[i];
    return NULL;
}

/* A layer of user cells: per stacked layer one Scan per direction (onnx_cell.c), the two
 * directions concatenated (forward, reverse). With --states each cell starts from its row of
 * the state inputs and its last states are gathered into the final-state outputs. */
static int ex_user_layer(Ex *x, int li)
{
    const IrLayer *l = &x->ir->layers[li];
    int dirs = l->bidirectional ? 2 : 1, ns = l->cells[0].nstates;
    const char *cur = x->val[l->inputs[0]], *sin[16], *init[16], *fin[16];
    const char **parts = calloc((size_t)ns * l->ncells + 1, sizeof *parts);
    if (!parts)
        return diag_error_in(x->d, x->path, "out of memory"), -1;
    int rc = ns > 16 ? ex_refuse(x, l, "a cell with more than 16 states")
           : x->states ? ex_state_inputs(x, l, sin) : 0;
    for (int s = 0; !rc && s < l->num_layers; s++) {
        const char *o[2] = {cur, cur};
        for (int d = 0; !rc && d < dirs; d++) {
            int ci = s * dirs + d;
            for (int k = 0; x->states && k < ns; k++)
                init[k] = ex_state_rows(x, l->label, sin[k], ci, 0);
            rc = ex_user_cell(x, l, &l->cells[ci], cur, x->states ? init : NULL, &o[d], fin);
            for (int k = 0; !rc && x->states && k < ns; k++)
                parts[k * l->ncells + ci] = ex_state_row_axis(x, l->label, fin[k]);
        }
        if (!rc && dirs == 2) {
            char name[300];
            snprintf(name, sizeof name, "%s/Concat_%d", l->label, x->b.serial++);
            Onnx__NodeProto *n = onnx_b_node(&x->b, "Concat", name, o, 2, NULL, 1);
            onnx_b_attr_int(&x->b, n, "axis", -1);
            o[0] = onnx_b_out(n, 0);
        }
        cur = o[0];
    }
    for (int k = 0; !rc && x->states && k < ns; k++)
        ex_state_output(x, l, k, parts + k * l->ncells, l->ncells);
    free(parts);
    x->val[li] = cur;
    return rc;
}

/* One ONNX LSTM/GRU/RNN node for stacked level s of l over cur [T, B, I]: its Y
 * [T, dirs, B, H] transposed to [T, B, dirs, H] and reshaped (shape) to [T, B, dirs*H]
 * (forward then reverse, as recur concatenates them) into *y. With --states its initial_h
 * (and initial_c) are rows s*dirs.. of the state inputs sin (h, then c), and fin gets Y_h
 * (and Y_c), [dirs, B, H]. */
static int ex_rnn_node(Ex *x, const IrLayer *l, const ExCell *ec, int s, const char *cur,
                       const char *shape, const char *const *sin, const char **fin,
                       const char **y)
{
    int dirs = l->bidirectional ? 2 : 1, ns = x->states ? l->cells[0].nstates : 0;
    const char *wrb[3];
    char name[300];
    if (ex_weights(x, l, ec, s, l->cells[s * dirs].input_width, wrb))
        return -1;
    const char *ins[7] = {cur, wrb[0], wrb[1], wrb[2], ""};
    for (int k = 0; k < ns; k++)
        ins[5 + k] = ex_state_rows(x, l->label, sin[k], s * dirs, dirs);
    snprintf(name, sizeof name, "%s/%s_l%d", l->label, ec->op, s);
    Onnx__NodeProto *n = onnx_b_node(&x->b, ec->op, name, ins, ns ? 5 + ns : 4, NULL, 1 + ns);
    onnx_b_attr_int(&x->b, n, "hidden_size", l->size);
    onnx_b_attr_string(&x->b, n, "direction", l->bidirectional ? "bidirectional"
                                              : l->cells[s].reverse ? "reverse" : "forward");
    const char *acts[6];
    for (int d = 0; d < dirs; d++)
        for (int k = 0; k < ec->nacts; k++)
            acts[d * ec->nacts + k] = ec->acts[k];
    onnx_b_attr_strings(&x->b, n, "activations", acts, dirs * ec->nacts);
    if (ec->lbr >= 0)
        onnx_b_attr_int(&x->b, n, "linear_before_reset", ec->lbr);
    for (int k = 0; k < ns; k++)
        fin[k] = onnx_b_out(n, 1 + k);
    snprintf(name, sizeof name, "%s/Transpose_l%d", l->label, s);
    const char *yy = onnx_b_out(n, 0);
    Onnx__NodeProto *t = onnx_b_node(&x->b, "Transpose", name, &yy, 1, NULL, 1);
    onnx_b_attr_ints(&x->b, t, "perm", (int64_t[]){0, 2, 1, 3}, 4);
    *y = ex_binary(x, "Reshape", l->label, onnx_b_out(t, 0), shape);
    return 0;
}

/* Whether the built-in cell of l has the states its ONNX node has: h (and c for an LSTM). */
static bool ex_onnx_states(const IrLayer *l, const ExCell *ec)
{
    const IrCell *c = &l->cells[0];
    int want = strcmp(ec->op, "LSTM") == 0 ? 2 : 1;
    return c->nstates == want && strcmp(c->states[0].name, "h") == 0 &&
           (want == 1 || strcmp(c->states[1].name, "c") == 0);
}

/* A built-in recurrent layer: one ONNX node per stacked layer (ex_rnn_node); with --states
 * the final states of the levels are concatenated into the layer's final-state outputs.
 * Dropout between stacked layers is omitted. */
static int ex_recurrent(Ex *x, int li)
{
    const IrLayer *l = &x->ir->layers[li];
    const ExCell *ec = ex_cell_of(l);
    if (!ec)
        return ex_user_layer(x, li);
    if (x->states && !ex_onnx_states(l, ec))
        return ex_refuse(x, l, "its cell's states are not those of the ONNX node");
    const char *cur = x->val[l->inputs[0]], *sin[2] = {NULL, NULL};
    char name[300];
    snprintf(name, sizeof name, "%s.shape", l->label);
    const char *shape = onnx_b_init_int64(&x->b, name, 1, (int64_t[]){3},
                                          (int64_t[]){0, 0, -1});
    int ns = x->states ? l->cells[0].nstates : 0;
    const char **parts = calloc((size_t)2 * l->num_layers + 1, sizeof *parts);
    if (!parts)
        return diag_error_in(x->d, x->path, "out of memory"), -1;
    int rc = ns ? ex_state_inputs(x, l, sin) : 0;
    for (int s = 0; !rc && s < l->num_layers; s++) {
        const char *fin[2];
        rc = ex_rnn_node(x, l, ec, s, cur, shape, sin, fin, &cur);
        for (int k = 0; !rc && k < ns; k++)
            parts[k * l->num_layers + s] = fin[k];
    }
    for (int k = 0; !rc && k < ns; k++)
        ex_state_output(x, l, k, parts + k * l->num_layers, l->num_layers);
    free(parts);
    x->val[li] = cur;
    return rc;
}


/* The exporter of each layer kind, by its spelling in IR_LAYER_KINDS (a kind without a row
 * is refused by name). */
static const struct {
    const char *kind;
    int (*fn)(Ex *, int);
} ex_layers[] = {
    {"input tokens", ex_input}, {"input vector", ex_input}, {"embedding", ex_embedding},
    {"onehot", ex_onehot}, {"recurrent", ex_recurrent}, {"dense", ex_dense},
    {"dropout", ex_identity}, {"layernorm", ex_layernorm}, {"pool", ex_pool},
    {"concat", ex_join}, {"add", ex_join}, {"softmax", ex_softmax},
};

/* The exporter of layer l's kind, or NULL. */
static int (*ex_layer_fn(const IrLayer *l))(Ex *, int)
{
    const IrLayerFacts *f = ir_layer_kind_facts(l->kind);
    for (size_t i = 0; f && i < sizeof ex_layers / sizeof *ex_layers; i++)
        if (strcmp(ex_layers[i].kind, f->spelling) == 0)
            return ex_layers[i].fn;
    return NULL;
}

/* Builds the graph of every layer, the output `y`, and writes it. */
static int ex_run(Ex *x, int opset)
{
    const IrModel *ir = x->ir;
    const IrLayer *out = &ir->layers[ir->output];
    onnx_b_init(&x->b, opset);
    if (out->sequence)   /* y first, then the final states (--states) */
        onnx_b_output(&x->b, "y", ONNX_FLOAT, 3, (int64_t[]){-1, -1, out->width}, TB);
    else
        onnx_b_output(&x->b, "y", ONNX_FLOAT, 2, (int64_t[]){-1, out->width}, TB + 1);
    for (int li = 0; li < ir->nlayers; li++) {
        const IrLayer *l = &ir->layers[li];
        int (*fn)(Ex *, int) = ex_layer_fn(l);
        if (!fn)
            return ex_refuse(x, l, "no ONNX form for this layer kind");
        if (fn(x, li))
            return -1;
    }
    const char *y = x->val[ir->output];
    onnx_b_node(&x->b, "Identity", "output", &y, 1, (const char *[]){"y"}, 1);
    return onnx_b_write(&x->b, ir->name, x->path, x->d);
}

int onnx_export(const Model *m, const char *path, int opset, bool states, Diag *d)
{
    if (opset < ONNX_OPSET_MIN || opset > ONNX_OPSET_MAX) {
        diag_error_in(d, "--opset", "opset %d is not supported: recur writes opsets %d to %d",
                      opset, ONNX_OPSET_MIN, ONNX_OPSET_MAX);
        return -1;
    }
    const IrModel *ir = m->ir;
    Ex x = {.m = m, .ir = ir, .path = path, .states = states, .d = d};
    x.val = calloc((size_t)ir->nlayers + 1, sizeof *x.val);
    x.off = calloc((size_t)ir->ntensors + 1, sizeof *x.off);
    int rc = -1;
    if (!x.val || !x.off) {
        diag_error_in(d, path, "out of memory");
    } else {
        for (int i = 1; i < ir->ntensors; i++)
            x.off[i] = x.off[i - 1] + ir->tensors[i - 1].size;
        rc = ex_run(&x, opset);
    }
    onnx_b_free(&x.b);
    free(x.val);
    free(x.off);
    return rc;
}
