/* onnx_in: an ONNX graph as a recur model (see model/onnx.h, onnx_import).
 *
 * The graph is walked once in node order with a kind for every value: the sequence the model
 * computes (SEQ: [T, B, W] with `flip` saying whether its first two axes are swapped relative
 * to the graph input; Y4: a recurrent node's Y [T, D, B, H]; Y4T: Y transposed to [T, B, D, H]),
 * constants (initializers, Constant nodes), the shape arithmetic and zero states around each
 * recurrent node (SHAPE, ZEROS), final states (FINAL: `recur run --state-out`), and the graph's
 * other inputs (EXTRA: sequence_lens and initial states, `--lengths` and `--state-in`; ROWS:
 * rows of a --states export's state input, onnx_in_state.c).
 * Layers form one chain: each reads the previous layer, except that concat and add join
 * earlier ones (onnx_in_layers.c). The result is .rnn text with labelled layers (named after
 * the ONNX nodes where the names allow, else L1, L2, ...) and the tensors under recur's names,
 * compiled and filled. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/onnx.h"
#include "model/onnx.h"
#include "model/onnx_in_int.h"

/* Reports node i (name, op type, position) and returns -1. */
int im_err(Im *im, size_t i, const char *fmt, ...)
{
    char why[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    const Onnx__NodeProto *n = im->g->node[i];
    diag_error_in(im->d, im->path, "node %zu '%s' (%s): %s", i, n->name ? n->name : "",
                  n->op_type, why);
    return -1;
}

Val *im_find(Im *im, const char *name)
{
    for (int i = im->nvals - 1; name && *name && i >= 0; i--)
        if (strcmp(im->vals[i].name, name) == 0)
            return &im->vals[i];
    return NULL;
}

/* Adds value name (kind k) in the array im_reserve sized, so that no Val moves; NULL when
 * it is full (which im_reserve's count rules out). */
Val *im_add(Im *im, const char *name, VKind k)
{
    if (im->nvals == im->cap)
        return NULL;
    Val *v = &im->vals[im->nvals++];
    memset(v, 0, sizeof *v);
    v->name = name, v->kind = k, v->layer = -1;
    return v;
}

/* Adds a tensor under recur's name. */
int im_tensor(Im *im, const char *name, int ndim, int64_t d0, int64_t d1,
                     const float *data)
{
    int64_t shape[2] = {d0, d1};
    if (!ckpt_add_tensor(&im->tensors, name, ndim, shape, data))
        return diag_error_in(im->d, im->path, "out of memory"), -1;
    return 0;
}

/* Appends printf text to the growing string *s (length *len); -1 when out of memory. */
int im_cat(char **s, size_t *len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *t = n < 0 ? NULL : realloc(*s, *len + (size_t)n + 1);
    if (!t)
        return -1;
    va_start(ap, fmt);
    vsnprintf(t + *len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    *s = t, *len += (size_t)n;
    return 0;
}

/* Whether label is taken by one of the first n layers, or is a reserved word. */
static bool label_taken(const Im *im, int n, const char *label)
{
    static const char *const reserved[] = {"format", "const", "cell", "model", "data", "train",
                                           "input", "state", "param", "output", "repeat",
                                           "residual"};
    for (size_t k = 0; k < sizeof reserved / sizeof *reserved; k++)
        if (strcmp(label, reserved[k]) == 0)
            return true;
    for (int k = 0; k < n; k++)
        if (strcmp(im->layers[k].label, label) == 0)
            return true;
    return false;
}

/* Layer k's label from node n's name: the name its first path component starts with
 * ("/lstm/LSTM" -> lstm, as torch.onnx.export names nodes by module; "pool1/ReduceMean" and
 * "mgu1.l0/Scan" -> pool1, mgu1, as recur's export names them), made unique with _2, _3 ...;
 * else L<k+1>. */
static void im_label(Im *im, const Onnx__NodeProto *n, int k, char *buf, size_t size)
{
    const char *s = n && n->name ? n->name : "";
    s += *s == '/';
    size_t len = 0;
    if ((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z'))
        while ((s[len] >= 'a' && s[len] <= 'z') || (s[len] >= 'A' && s[len] <= 'Z') ||
               s[len] == '_' || (s[len] >= '0' && s[len] <= '9'))
            len++;
    if (len > 0 && len < size - 8 && (s[len] == '/' || s[len] == '.' || !s[len]))
        snprintf(buf, size, "%.*s", (int)len, s);
    else
        snprintf(buf, size, "L%d", k + 1);
    char base[48];
    snprintf(base, sizeof base, "%s", buf);
    for (int m = 2; label_taken(im, k, buf); m++)
        snprintf(buf, size, "%.30s_%d", base, m);
}

/* A new layer line for node n (NULL: none); returns its index. */
int im_layer(Im *im, const Onnx__NodeProto *n, const char *fmt, ...)
{
    ImLayer *l = realloc(im->layers, sizeof *l * (size_t)(im->nlayers + 1));
    if (!l)
        return -1;
    im->layers = l;
    l += im->nlayers;
    memset(l, 0, sizeof *l);
    l->bias_tensor = -1;
    im_label(im, n, im->nlayers, l->label, sizeof l->label);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(l->text, sizeof l->text, fmt, ap);
    va_end(ap);
    return im->nlayers++;
}

/* The float data of a constant value, with its dims checked against ndim. */
int const_floats(Im *im, size_t i, const Val *v, int ndim, float **out)
{
    int64_t n;
    if (!v || v->kind != V_CONST || !v->t)
        return im_err(im, i, "expects a constant weight here");
    if ((int)v->t->n_dims != ndim)
        return im_err(im, i, "weight '%s' has %zu dimensions, expected %d", v->name,
                      v->t->n_dims, ndim);
    return onnx_tensor_floats(v->t, im->path, out, &n, im->d);
}

/* An input name of n (NULL when absent or empty). */
const char *in_name(const Onnx__NodeProto *n, size_t k)
{
    return k < n->n_input && n->input[k][0] ? n->input[k] : NULL;
}

/* The value an input of n names, or NULL (absent or unknown). */
Val *in_val(Im *im, const Onnx__NodeProto *n, size_t k)
{
    return im_find(im, in_name(n, k));
}

/* A SEQ value that continues the chain (reads the last layer), or an error. */
Val *chain(Im *im, size_t i, Val *v)
{
    if (!v || (v->kind != V_SEQ && v->kind != V_INPUT)) {
        im_err(im, i, "its input is not the model's sequence");
        return NULL;
    }
    if (v->layer != im->nlayers - 1) {
        im_err(im, i, "reads %s%s, not the last layer's output: a graph of two chains "
               "(a branch) is not a sequence of layers recur can express",
               v->layer >= 0 ? "layer " : "the graph input",
               v->layer >= 0 ? im->layers[v->layer].label : "");
        return NULL;
    }
    return v;
}

/* Copies ONNX gate blocks of src ([gates*h][cols]) into recur's order (inverse of the export's
 * perm: LSTM i,o,f,c -> i,f,g,o; GRU z,r,h -> r,z,n). */
static void from_onnx_gates(int gates, int h, int cols, const float *src, float *dst)
{
    static const int inv[5][4] = {[1] = {0}, [3] = {1, 0, 2}, [4] = {0, 2, 3, 1}};
    for (int k = 0; k < gates; k++)
        memcpy(dst + (size_t)k * h * cols, src + (size_t)inv[gates][k] * h * cols,
               sizeof *dst * (size_t)h * cols);
}

/* The built-in's tensors from ONNX's W, R, B (NULL: zeros) under PyTorch's names, gates
 * permuted to recur's order. */
static int builtin_tensors(Im *im, const OnnxRec *r, const char *label, int level, int in_w,
                           const float *w, const float *rr, const float *b)
{
    int h = r->hidden, gh = r->gates * h, rc = 0;
    float *tmp = malloc(sizeof *tmp * (size_t)gh * (size_t)(in_w > h ? in_w : h));
    float *zero = calloc((size_t)2 * gh, sizeof *zero);
    if (!tmp || !zero)
        rc = (diag_error_in(im->d, im->path, "out of memory"), -1);
    for (int d = 0; !rc && d < r->dirs; d++) {
        char name[96];
        const char *sfx = d ? "_reverse" : "";
        const float *bd = b ? b + (size_t)d * 2 * gh : zero;
        struct { const char *p; const float *src; int cols; } parts[4] = {
            {"weight_ih", w + (size_t)d * gh * in_w, in_w}, {"weight_hh", rr + (size_t)d * gh * h, h},
            {"bias_ih", bd, 1}, {"bias_hh", bd + gh, 1}};
        for (int k = 0; !rc && k < 4; k++) {
            from_onnx_gates(r->gates, h, parts[k].cols, parts[k].src, tmp);
            snprintf(name, sizeof name, "%s.%s_l%d%s", label, parts[k].p, level, sfx);
            rc = im_tensor(im, name, k < 2 ? 2 : 1, gh, k < 2 ? parts[k].cols : 0, tmp);
        }
    }
    free(tmp), free(zero);
    return rc;
}

/* Whether constant v holds only zeros (a zero initial state written as an initializer). */
static bool all_zero(Im *im, const Val *v)
{
    float *f;
    int64_t n;
    if (!v || v->kind != V_CONST || !v->t || onnx_tensor_floats(v->t, im->path, &f, &n, im->d))
        return false;
    bool z = true;
    for (int64_t k = 0; k < n; k++)
        z &= f[k] == 0;
    free(f);
    return z;
}

/* Node n's weights as layer lab's tensors (stacked level `level`): the built-in's (builtin)
 * or its cell's. */
static int rec_weights(Im *im, size_t i, const Onnx__NodeProto *n, const OnnxRec *r, int lab,
                       int level, bool builtin, int in_w)
{
    float *w = NULL, *rr = NULL, *b = NULL, *p = NULL;
    int h = r->hidden, gh = r->gates * h, dirs = r->dirs;
    int rc = const_floats(im, i, in_val(im, n, 1), 3, &w) ||
             const_floats(im, i, in_val(im, n, 2), 3, &rr) ||
             (in_name(n, 3) && const_floats(im, i, in_val(im, n, 3), 2, &b)) ||
             (in_name(n, 7) && const_floats(im, i, in_val(im, n, 7), 2, &p)) ? -1 : 0;
    const Onnx__TensorProto *wt = rc ? NULL : in_val(im, n, 1)->t;
    const Onnx__TensorProto *rt = rc ? NULL : in_val(im, n, 2)->t;
    const Onnx__TensorProto *bt = b ? in_val(im, n, 3)->t : NULL;
    const Onnx__TensorProto *pt = p ? in_val(im, n, 7)->t : NULL;
    if (!rc && (wt->dims[0] != dirs || wt->dims[1] != gh || wt->dims[2] != in_w ||
                rt->dims[0] != dirs || rt->dims[1] != gh || rt->dims[2] != h))
        rc = im_err(im, i, "W or R does not have the shape [%d, %d, %d] / [%d, %d, %d]", dirs,
                    gh, in_w, dirs, gh, h);
    if (!rc && ((bt && (bt->dims[0] != dirs || bt->dims[1] != 2 * gh)) ||
                (pt && (pt->dims[0] != dirs || pt->dims[1] != 3 * h))))
        rc = im_err(im, i, "B or P does not have the shape [%d, %d] / [%d, %d]", dirs, 2 * gh,
                    dirs, 3 * h);
    const char *label = im->layers[lab].label;
    if (!rc && builtin)
        rc = builtin_tensors(im, r, label, level, in_w, w, rr, b);
    else if (!rc && onnx_rec_cell_tensors(r, label, in_w, w, rr, b, p, &im->tensors))
        rc = (diag_error_in(im->d, im->path, "out of memory"), -1);
    free(w), free(rr), free(b), free(p);
    return rc;
}

/* Inputs 4..6 of node n (sequence_lens, initial_h, initial_c) for layer lab (stacked level
 * `level`): absent, zeros, graph inputs that `recur run --lengths` / `--state-in` supply (a
 * note in the model text says which), or this level's rows of a --states export's state
 * inputs (onnx_in_state.c); a constant is refused, naming the option that takes it. */
static int rec_run_inputs(Im *im, size_t i, const Onnx__NodeProto *n, const OnnxRec *r,
                          int lab, int level, int layout)
{
    static const char *const what[3] = {"sequence_lens", "initial_h", "initial_c"};
    const char *label = im->layers[lab].label;
    for (size_t k = 4; k <= 6 && k < n->n_input; k++) {
        Val *v = in_val(im, n, k);
        char st = k == 5 ? 'h' : 'c';
        if (!in_name(n, k) || (v && v->kind == V_ZEROS) || (k > 4 && all_zero(im, v)))
            continue;
        if (k > 4 && v && v->kind == V_ROWS && !layout) {
            im->layers[lab].rows_src[k - 5] = v->src;
            if (im_rows_take(im, i, v, lab, k == 5 ? "h" : "c", r->hidden, level * r->dirs,
                             r->dirs))
                return -1;
            continue;
        }
        if (!v || v->kind != V_EXTRA)
            return im_err(im, i, "%s '%s' is %s: recur takes %s when the model runs -- make it "
                          "a graph input and give it with `recur run %s`", what[k - 4],
                          n->input[k], v && v->kind == V_CONST ? "a constant" : "computed",
                          k == 4 ? "lengths" : "initial states", k == 4 ? "--lengths L.npy"
                          : "--state-in S.safetensors");
        int rc = k == 4 ? im_cat(&im->notes, &im->notes_len, "#   --lengths L.npy: ONNX input "
                                 "'%s' (int32 [B])\n", v->name)
                        : im_cat(&im->notes, &im->notes_len, "#   --state-in S.safetensors: "
                                 "ONNX input '%s' as tensor '%s.%c0' [%d, B, %d]%s\n", v->name,
                                 label, st, r->dirs, r->hidden,
                                 layout ? " (ONNX's [B, D, H] transposed)" : "");
        if (rc)
            return diag_error_in(im->d, im->path, "out of memory"), -1;
        v->kind = V_NONE;   /* taken */
    }
    return 0;
}

/* Layer lab's line for node n: the built-in that fits r exactly, else a cell written as
 * ONNX's equations (added to im->cells). */
static int rec_line(Im *im, size_t i, const OnnxRec *r, int lab, bool *builtin)
{
    ImLayer *l = &im->layers[lab];
    *builtin = onnx_rec_builtin(r, l->text, sizeof l->text);
    if (*builtin)
        return 0;
    char name[64], text[2000];
    snprintf(name, sizeof name, "%s_cell", l->label);
    if (onnx_rec_cell_text(r, name, text, sizeof text))
        return im_err(im, i, "the cell's equations are too long");
    if (im_cat(&im->cells, &im->cells_len, "%s\n", text))
        return diag_error_in(im->d, im->path, "out of memory"), -1;
    onnx_rec_cell_use(r, name, l->text, sizeof l->text);
    return 0;
}

/* The layer node n is the next stacked level of (the last one, when x is its output, its
 * built-in line is text and its initial states are the next rows of the same state inputs of a
 * --states export), or -1: node n is a layer of its own. */
static int rec_continues(Im *im, const Onnx__NodeProto *n, const Val *x, const OnnxRec *r,
                         const char *text)
{
    const ImLayer *l = im->nlayers ? &im->layers[im->nlayers - 1] : NULL;
    const Val *h = in_val(im, n, 5);
    if (!l || !h || h->kind != V_ROWS || h->row0 == 0 || x->layer != im->nlayers - 1 ||
        !l->rows_src[0] || strcmp(l->rows_src[0], h->src) != 0 || l->dirs != r->dirs ||
        strcmp(l->text, text) != 0)
        return -1;
    return im->nlayers - 1;
}

/* LSTM, GRU, RNN: one recur layer, a built-in or a cell of ONNX's equations (onnx_in_cell.c);
 * Y becomes a Y4 value, Y_h/Y_c FINAL. */
static int im_recurrent(Im *im, size_t i, const Onnx__NodeProto *n)
{
    Val *x = chain(im, i, in_val(im, n, 0));
    if (!x)
        return -1;
    if (x->kind == V_INPUT)
        return im_err(im, i, "reads token ids directly (embed them first)");
    OnnxRec r;
    char why[200];
    if (onnx_rec_read(n, in_name(n, 7) != NULL, &r, why, sizeof why))
        return im_err(im, i, "%s", why);
    if (r.op != ONNX_REC_LSTM && in_name(n, 6))
        return im_err(im, i, "an input after initial_h");
    /* layout=1: X is [B, T, I] and Y [B, T, D, H]: the graph input is batch-first when X is
     * in its order */
    int layout = (int)onnx_attr_int(n, "layout", 0), bf = x->flip ^ layout;
    if (layout != 0 && layout != 1)
        return im_err(im, i, "a layout other than 0 or 1");
    if (im->bf >= 0 && im->bf != bf)
        return im_err(im, i, "its sequence axes differ from the previous recurrent node's");
    im->bf = bf;
    char text[160];
    bool builtin = onnx_rec_builtin(&r, text, sizeof text);
    int lab = builtin ? rec_continues(im, n, x, &r, text) : -1, level = 0;
    if (lab >= 0)
        level = im->layers[lab].levels++;
    else if ((lab = im_layer(im, n, "%s", "")) < 0)
        return diag_error_in(im->d, im->path, "out of memory"), -1;
    else if (rec_line(im, i, &r, lab, &builtin))
        return -1;
    im->layers[lab].dirs = r.dirs, im->layers[lab].levels += level == 0;
    if (rec_weights(im, i, n, &r, lab, level, builtin, x->width) ||
        rec_run_inputs(im, i, n, &r, lab, level, layout))
        return -1;
    for (size_t k = 0; k < n->n_output; k++) {
        Val *v = n->output[k][0] ? im_add(im, n->output[k], k ? V_FINAL : layout ? V_Y4T
                                                                         : V_Y4) : NULL;
        if (v)   /* width: which output (1 Y_h, 2 Y_c) a FINAL value is */
            v->flip = x->flip, v->layer = lab, v->dirs = r.dirs, v->hidden = r.hidden,
            v->width = (int)k, v->row0 = level * r.dirs, v->nrows = r.dirs, v->rank3 = true;
        if (v && k)
            snprintf(v->state, sizeof v->state, "%s", k == 1 ? "h" : "c");
        if (v && layout && k == 0 && r.dirs == 1)   /* [B, T, 1, H] is [B, T, H] */
            v->kind = V_SEQ, v->width = r.hidden;
    }
    return 0;
}

/* Gather: an embedding of the token ids, or shape arithmetic. */
static int im_gather(Im *im, size_t i, const Onnx__NodeProto *n)
{
    Val *w = in_val(im, n, 0), *ids = in_val(im, n, 1);
    if (ids && ids->kind == V_INPUT && w && w->kind == V_CONST) {
        float *data;
        if (!chain(im, i, ids) || const_floats(im, i, w, 2, &data))
            return -1;
        im->vocab = (int)w->t->dims[0];
        int e = (int)w->t->dims[1], lab = im_layer(im, n, "embedding(%d)", e);
        char name[64];
        if (lab >= 0)
            snprintf(name, sizeof name, "%s.weight", im->layers[lab].label);
        int rc = lab < 0 || im_tensor(im, name, 2, im->vocab, e, data);
        free(data);
        Val *v = rc ? NULL : im_add(im, n->output[0], V_SEQ);
        if (!v)
            return -1;
        v->layer = lab, v->width = e, v->flip = ids->flip;
        return 0;
    }
    return -2;   /* not an embedding: the generic rules decide */
}

/* MatMul (x @ W) and Gemm (x @ W^T + b with transB=1): a dense layer. */
static int im_dense(Im *im, size_t i, const Onnx__NodeProto *n)
{
    Val *x = in_val(im, n, 0), *w = in_val(im, n, 1);
    bool gemm = strcmp(n->op_type, "Gemm") == 0, tb = gemm && onnx_attr_int(n, "transB", 0);
    float *data, *wt, *bias = NULL;
    if (!x || (x->kind != V_SEQ && x->kind != V_INPUT))
        return -2;
    if (!chain(im, i, x) || const_floats(im, i, w, 2, &data))
        return -1;
    if (gemm && (onnx_attr_int(n, "transA", 0) || onnx_attr(n, "alpha") || onnx_attr(n, "beta")))
        return free(data), im_err(im, i, "Gemm with transA, alpha or beta is not imported");
    int k = (int)w->t->dims[tb ? 1 : 0], nout = (int)w->t->dims[tb ? 0 : 1];
    if (k != x->width)
        return free(data), im_err(im, i, "a weight of %d rows on a sequence of width %d", k,
                                  x->width);
    wt = malloc(sizeof *wt * (size_t)k * nout);
    bias = calloc((size_t)nout, sizeof *bias);
    int rc = wt && bias ? 0 : -1, lab = rc ? -1 : im_layer(im, n, "dense");
    const char *label = lab < 0 ? "" : im->layers[lab].label;
    for (int r = 0; !rc && r < nout; r++)
        for (int c = 0; c < k; c++)
            wt[(size_t)r * k + c] = tb ? data[(size_t)r * k + c] : data[(size_t)c * nout + r];
    char name[64];
    snprintf(name, sizeof name, "%s.weight", label);
    rc = rc || lab < 0 || im_tensor(im, name, 2, nout, k, wt);
    snprintf(name, sizeof name, "%s.bias", label);
    rc = rc || im_tensor(im, name, 1, nout, 0, bias);
    free(data), free(wt), free(bias);
    if (rc)
        return -1;
    im->layers[lab].bias_tensor = im->tensors.n - 1;
    im->layers[lab].dense_n = nout;
    Val *v = im_add(im, n->output[0], V_SEQ);
    if (!v)
        return -1;
    v->layer = lab, v->width = nout, v->flip = x->flip;
    if (gemm && in_name(n, 2)) {   /* Gemm's C: the bias */
        float *b;
        if (const_floats(im, i, in_val(im, n, 2), 1, &b))
            return -1;
        memcpy(im->tensors.items[im->layers[lab].bias_tensor].data, b, sizeof *b * nout);
        im->layers[lab].has_bias = true;
        free(b);
    }
    return 0;
}

/* Whether v is the output of the last layer, a dense one. */
static ImLayer *last_dense(Im *im, const Val *v)
{
    if (!v || v->kind != V_SEQ || v->layer < 0 || v->layer != im->nlayers - 1)
        return NULL;
    ImLayer *l = &im->layers[v->layer];
    return l->dense_n ? l : NULL;
}

/* Add: a dense layer's bias (x @ W + b, either order); else shape arithmetic. */
static int im_add_bias(Im *im, size_t i, const Onnx__NodeProto *n)
{
    Val *a = in_val(im, n, 0), *b = in_val(im, n, 1);
    Val *x = last_dense(im, a) ? a : last_dense(im, b) ? b : NULL, *c = x == a ? b : a;
    if (!x)
        return -2;
    ImLayer *l = last_dense(im, x);
    float *bias;
    if (l->has_bias || l->act || const_floats(im, i, c, 1, &bias))
        return l->has_bias || l->act ? im_err(im, i, "a second bias on a dense layer") : -1;
    if (c->t->dims[0] != l->dense_n)
        return free(bias), im_err(im, i, "a bias of %d values on a dense layer of width %d",
                                  (int)c->t->dims[0], l->dense_n);
    memcpy(im->tensors.items[l->bias_tensor].data, bias, sizeof *bias * (size_t)l->dense_n);
    free(bias);
    l->has_bias = true;
    Val *v = im_add(im, n->output[0], V_SEQ);
    if (!v)
        return -1;
    *v = *x, v->name = n->output[0];
    return 0;
}

/* Relu, Tanh, Sigmoid after a dense layer: its activation. */
static int im_act(Im *im, size_t i, const Onnx__NodeProto *n)
{
    Val *x = in_val(im, n, 0);
    ImLayer *l = last_dense(im, x);
    if (!l || l->act)
        return x && (x->kind == V_SEQ || x->kind == V_INPUT)
            ? im_err(im, i, "an activation that does not follow a dense layer") : -2;
    l->act = strcmp(n->op_type, "Relu") == 0 ? "relu" : strcmp(n->op_type, "Tanh") == 0
                                                        ? "tanh" : "sigmoid";
    Val *v = im_add(im, n->output[0], V_SEQ);
    if (!v)
        return -1;
    *v = *x, v->name = n->output[0];
    return 0;
}

/* Softmax over the features (the last axis). */
static int im_softmax(Im *im, size_t i, const Onnx__NodeProto *n)
{
    Val *x = chain(im, i, in_val(im, n, 0));
    if (!x)
        return -1;
    int64_t axis = onnx_attr_int(n, "axis", -1);
    if (axis != -1 && axis != 2)
        return im_err(im, i, "softmax over axis %lld, not the features", (long long)axis);
    int lab = im_layer(im, n, "softmax");
    Val *v = lab < 0 ? NULL : im_add(im, n->output[0], V_SEQ);
    if (!v)
        return -1;
    *v = *x, v->name = n->output[0], v->layer = lab;
    return 0;
}

/* OneHot of the token ids (values [0, 1] on the last axis). */
static int im_onehot(Im *im, size_t i, const Onnx__NodeProto *n)
{
    Val *ids = in_val(im, n, 0), *depth = in_val(im, n, 1);
    if (!ids || ids->kind != V_INPUT || !chain(im, i, ids))
        return im_err(im, i, "OneHot of something other than the token ids");
    const Onnx__TensorProto *t = depth && depth->kind == V_CONST ? depth->t : NULL;
    int64_t dv = -1;
    if (t && t->data_type == ONNX_INT64 && t->has_raw_data && t->raw_data.len == 8)
        memcpy(&dv, t->raw_data.data, 8);
    else if (t && t->data_type == ONNX_INT64 && t->n_int64_data == 1)
        dv = t->int64_data[0];
    if (dv <= 0 || dv > 1 << 24 || onnx_attr_int(n, "axis", -1) != -1)
        return im_err(im, i, "OneHot needs a constant int64 depth and axis -1");
    im->vocab = (int)dv;
    int lab = im_layer(im, n, "onehot");
    Val *v = lab < 0 ? NULL : im_add(im, n->output[0], V_SEQ);
    if (!v)
        return -1;
    v->layer = lab, v->width = (int)dv, v->flip = ids->flip;
    return 0;
}

/* Transpose, Reshape, Squeeze of the sequence: the scaffolding around recurrent nodes. */
static int im_layout(Im *im, size_t i, const Onnx__NodeProto *n)
{
    Val *x = in_val(im, n, 0);
    const Onnx__AttributeProto *p = onnx_attr(n, "perm");
    bool swap01 = p && p->n_ints == 3 && p->ints[0] == 1 && p->ints[1] == 0 && p->ints[2] == 2;
    bool y4t = p && p->n_ints == 4 && p->ints[1] == 2 && p->ints[2] == 1 && p->ints[3] == 3 &&
               (p->ints[0] == 0 || p->ints[0] == 2);
    if (!x || (x->kind != V_SEQ && x->kind != V_Y4 && x->kind != V_Y4T && x->kind != V_INPUT))
        return -2;
    Val nv = *x;
    nv.name = n->output[0];
    if (strcmp(n->op_type, "Transpose") == 0 && (x->kind == V_SEQ || x->kind == V_INPUT) &&
        swap01)
        nv.flip = !x->flip;
    else if (strcmp(n->op_type, "Transpose") == 0 && x->kind == V_Y4 && y4t)
        nv.kind = V_Y4T, nv.flip = x->flip ^ (p->ints[0] == 2);
    else if (strcmp(n->op_type, "Reshape") == 0 && x->kind == V_Y4T)
        nv.kind = V_SEQ, nv.width = x->dirs * x->hidden;
    else if (strcmp(n->op_type, "Squeeze") == 0 && x->kind == V_Y4 && x->dirs == 1)
        nv.kind = V_SEQ, nv.width = x->hidden;
    else
        return im_err(im, i, "a reshaping of the sequence recur does not recognise");
    Val *v = im_add(im, n->output[0], nv.kind);
    if (!v)
        return -1;
    *v = nv;
    return 0;
}

/* Whether v is (part of) the sequence the model computes. */
static bool is_seq(const Val *v)
{
    return v && (v->kind == V_SEQ || v->kind == V_INPUT || v->kind == V_Y4 || v->kind == V_Y4T ||
                 v->kind == V_LN || v->kind == V_HALF);
}

/* Ops that only compute shapes and zero states when no input is the sequence. */
static bool is_scaffold(const char *op)
{
    static const char *const ops[] = {"Unsqueeze", "Concat", "Slice", "Cast", "Expand",
                                      "Squeeze", "Reshape", "Gather", "Mul", "Div", "Sub", "Add",
                                      "Shape", "ConstantOfShape", "Range", "Equal", "Where"};
    for (size_t k = 0; k < sizeof ops / sizeof *ops; k++)
        if (strcmp(op, ops[k]) == 0)
            return true;
    return false;
}

/* The generic rules: Constant, Identity/Dropout, shape arithmetic, zero states. */
static int im_generic(Im *im, size_t i, const Onnx__NodeProto *n)
{
    const char *op = n->op_type;
    Val *x = in_val(im, n, 0), *v;
    if (strcmp(op, "Constant") == 0) {
        const Onnx__AttributeProto *a = onnx_attr(n, "value");
        if (!(v = im_add(im, n->output[0], V_CONST)))
            return -1;
        v->t = a ? a->t : NULL;
        return 0;
    }
    if ((strcmp(op, "Identity") == 0 || strcmp(op, "Dropout") == 0) && x) {
        Val c = *x;
        if (!(v = im_add(im, n->output[0], c.kind)))
            return -1;
        *v = c, v->name = n->output[0];
        return 0;
    }
    bool seq = false;   /* the sequence's Shape is shape arithmetic */
    for (size_t k = 0; k < n->n_input && strcmp(op, "Shape") != 0; k++)
        seq |= is_seq(in_val(im, n, k));
    if (seq || !is_scaffold(op))
        return im_err(im, i, "op %s is not supported by recur's ONNX import%s", op,
                      seq ? " on the model's sequence" : "");
    const Onnx__AttributeProto *a = onnx_attr(n, "value");
    bool zero = strcmp(op, "ConstantOfShape") == 0 && (!a || !a->t || (a->t->has_raw_data &&
                a->t->raw_data.len == 4 && !memcmp(a->t->raw_data.data, "\0\0\0\0", 4)));
    for (size_t k = 0; k < n->n_output; k++)
        if (n->output[k][0] && !im_add(im, n->output[k],
                                       zero || (x && x->kind == V_ZEROS) ? V_ZEROS : V_SHAPE))
            return -1;
    return 0;
}

/* One node, by op type. */
static int im_node(Im *im, size_t i)
{
    const Onnx__NodeProto *n = im->g->node[i];
    const char *op = n->op_type;
    bool rec = !strcmp(op, "LSTM") || !strcmp(op, "GRU") || !strcmp(op, "RNN");
    if (n->n_output == 0)
        return im_err(im, i, "a node without outputs");
    if (im_scan_owned(im, n))
        return 0;   /* part of a user cell's copy: decompiled from its Scan */
    Val *v0 = in_val(im, n, 0);
    if (!strcmp(op, "Gather") && v0 && v0->kind == V_EXTRA)
        return im_state_rows(im, i, n);     /* rows of a --states export's state input */
    int fj = im_final_join(im, i, n);       /* its final states joined */
    if (fj != -2)
        return fj;
    for (size_t k = 0; k < n->n_input; k++) {
        Val *v = in_val(im, n, k);
        if (v && v->kind == V_FINAL)
            return im_err(im, i, "reads the final state '%s': recur gives final states as "
                          "`recur run --state-out`, not to other layers", v->name);
        if (v && v->kind == V_EXTRA && !rec)
            return im_err(im, i, "reads '%s', a second graph input", v->name);
    }
    bool ln = !strcmp(op, "ReduceMean") || !strcmp(op, "Sub") || !strcmp(op, "Mul") ||
              !strcmp(op, "Sqrt") || !strcmp(op, "Div") || !strcmp(op, "Add");
    int rc = ln ? im_layernorm(im, i, n) : -2;
    if (rc == -2 && (!strcmp(op, "ReduceMean") || !strcmp(op, "ReduceMax")))
        rc = im_pool(im, i, n);
    if (rc == -2 && !strcmp(op, "Gather") && (rc = im_gather(im, i, n)) == -2)
        rc = im_pool(im, i, n);
    if (rc == -2 && (!strcmp(op, "Concat") || !strcmp(op, "Sum")))
        rc = im_join(im, i, n);
    if (rc == -2 && !strcmp(op, "Scan"))
        rc = im_scan(im, i, n);
    if (rc != -2)
        return rc;
    rc = rec ? im_recurrent(im, i, n)
           : !strcmp(op, "MatMul") || !strcmp(op, "Gemm") ? im_dense(im, i, n)
           : !strcmp(op, "Add") ? im_add_bias(im, i, n)
           : !strcmp(op, "Relu") || !strcmp(op, "Tanh") || !strcmp(op, "Sigmoid")
               ? im_act(im, i, n)
           : !strcmp(op, "Softmax") ? im_softmax(im, i, n)
           : !strcmp(op, "OneHot") ? im_onehot(im, i, n)
           : !strcmp(op, "Transpose") || !strcmp(op, "Reshape") || !strcmp(op, "Squeeze")
               ? im_layout(im, i, n) : -2;
    return rc == -2 ? im_generic(im, i, n) : rc;
}

/* The graph's initializers (CONST) and inputs: the first non-initializer input is the model's
 * (int64/int32 token ids, or float vectors [T, B, N]); any other is EXTRA. */
static int im_inputs(Im *im)
{
    const Onnx__GraphProto *g = im->g;
    for (size_t k = 0; k < g->n_initializer; k++) {
        Val *v = im_add(im, g->initializer[k]->name, V_CONST);
        if (!v)
            return -1;
        v->t = g->initializer[k];
    }
    bool have = false;
    for (size_t k = 0; k < g->n_input; k++) {
        const Onnx__ValueInfoProto *in = g->input[k];
        if (!in->name || im_find(im, in->name))
            continue;   /* an initializer listed as an input too (IR version 3) */
        const Onnx__TypeProto__Tensor *tt = in->type && in->type->value_case ==
            ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE ? in->type->tensor_type : NULL;
        Val *v = im_add(im, in->name, have ? V_EXTRA : V_INPUT);
        if (!v)
            return -1;
        if (have)
            continue;
        have = true;
        int elem = tt ? tt->elem_type : 0;
        const Onnx__TensorShapeProto *sh = tt ? tt->shape : NULL;
        im->tokens = elem == ONNX_INT64 || elem == 6;
        if (!im->tokens) {
            if (elem != ONNX_FLOAT || !sh || sh->n_dim != 3 || sh->dim[2]->value_case !=
                ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE || sh->dim[2]->dim_value < 1)
                return diag_error_in(im->d, im->path, "graph input '%s' is neither token ids "
                                     "nor float vectors [T, B, N] with N known", in->name), -1;
            v->kind = V_SEQ;
            v->width = im->in_width = (int)sh->dim[2]->dim_value;
        }
    }
    if (!have)
        return diag_error_in(im->d, im->path, "the graph has no input"), -1;
    return 0;
}

/* The .rnn text of the imported layers (malloc'ed): the notes on running it, the cells,
 * the model. */
static char *im_render(const Im *im, const Onnx__ModelProto *m)
{
    char *s = NULL, name[64] = "imported";
    size_t len = 0;
    const char *gn = m->graph->name;
    if (gn && ((*gn >= 'a' && *gn <= 'z') || (*gn >= 'A' && *gn <= 'Z'))) {
        size_t k = 0;
        for (; gn[k] && k < sizeof name - 1; k++)
            name[k] = (gn[k] >= 'a' && gn[k] <= 'z') || (gn[k] >= 'A' && gn[k] <= 'Z') ||
                      (gn[k] >= '0' && gn[k] <= '9') ? gn[k] : '_';
        name[k] = 0;
    }
    int rc = im_cat(&s, &len, "# imported by `recur convert` from an ONNX graph (producer %s); "
                    "runs time-major: [T, B] in, [T, B, N] out\n", m->producer_name
                    ? m->producer_name : "unknown");
    if (!rc && im->notes)
        rc = im_cat(&s, &len, "# the graph's other inputs and outputs are `recur run` "
                    "options:\n%s", im->notes);
    rc = rc || im_cat(&s, &len, "format 1\n\n%s", im->cells ? im->cells : "");
    rc = rc || im_cat(&s, &len, "model %s {\n", name);
    if (im->tokens)
        rc = rc || im_cat(&s, &len, "  input tokens(vocab=%d)\n", im->vocab);
    else
        rc = rc || im_cat(&s, &len, "  input vector(%d)\n", im->in_width);
    for (int k = 0; !rc && k < im->nlayers; k++) {
        const ImLayer *l = &im->layers[k];
        if (l->dense_n)
            rc = im_cat(&s, &len, "  %s: dense(%d%s%s)\n", l->label, l->dense_n,
                        l->act ? ", activation=" : "", l->act ? l->act : "");
        else if (l->levels > 1)   /* "gru(5, bidirectional=true)" with its levels */
            rc = im_cat(&s, &len, "  %s: %.*s, layers=%d%s\n", l->label,
                        (int)strcspn(l->text, ",)"), l->text, l->levels,
                        l->text + strcspn(l->text, ",)"));
        else
            rc = im_cat(&s, &len, "  %s: %s\n", l->label, l->text);
    }
    if (rc || im_cat(&s, &len, "}\n"))
        return free(s), NULL;
    return s;
}

/* Sizes im->vals once for every value the graph can name (initializers, inputs, node
 * outputs), so that Val pointers stay valid through the walk. */
static int im_reserve(Im *im)
{
    const Onnx__GraphProto *g = im->g;
    size_t n = g->n_initializer + g->n_input;
    for (size_t i = 0; i < g->n_node; i++)
        n += g->node[i]->n_output;
    if (n > (size_t)1 << 24 || !(im->vals = malloc(sizeof *im->vals * (n + 1))))
        return diag_error_in(im->d, im->path, "out of memory"), -1;
    im->cap = (int)n + 1;
    return 0;
}

/* Walks the graph into im and checks its one output other than final states is the last
 * layer's sequence (or the forward Y_h of the last recurrent node: a pool(last)). */
static int im_walk(Im *im)
{
    const Onnx__GraphProto *g = im->g;
    const Onnx__ValueInfoProto *out = NULL;
    if (im_reserve(im) || im_inputs(im))
        return -1;
    for (size_t i = 0; i < g->n_node; i++)
        if (im_node(im, i))
            return -1;
    if (im_state_notes(im))
        return -1;
    for (size_t k = 0; k < g->n_output; k++) {
        int f = g->output[k]->name ? im_final_note(im, g->output[k]) : 0;
        if (f < 0)
            return diag_error_in(im->d, im->path, "out of memory"), -1;
        if (!f && out)
            return diag_error_in(im->d, im->path, "the graph has two outputs, '%s' and '%s', "
                                 "that are not final states; recur's model has one",
                                 out->name, g->output[k]->name ? g->output[k]->name : ""), -1;
        out = f ? out : g->output[k];
    }
    out = out ? out : g->n_output ? g->output[0] : NULL;
    Val *y = out ? im_find(im, out->name) : NULL;
    if (y && y->kind == V_FINAL && y->width == 1 && y->dirs == 1 && y->layer >= 0 &&
        y->layer == im->nlayers - 1) {   /* Y_h of a forward node: its last step, [1, B, H] */
        int lab = im_layer(im, NULL, "pool(last)");
        if (lab < 0)
            return diag_error_in(im->d, im->path, "out of memory"), -1;
        y->kind = V_SEQ, y->layer = lab;
    }
    if (!y || y->kind != V_SEQ || y->layer < 0 || y->layer != im->nlayers - 1 || y->flip)
        return diag_error_in(im->d, im->path, "graph output '%s' is not the last layer's "
                             "sequence in the input's layout", out ? out->name : ""), -1;
    if (im->tokens && im->vocab <= 0)
        return diag_error_in(im->d, im->path, "token ids that no Gather or OneHot embeds"), -1;
    return 0;
}

int onnx_import_model(const Onnx__ModelProto *om, const char *path, Model *m, char **text,
                      Diag *d)
{
    *text = NULL;
    memset(m, 0, sizeof *m);
    Im im = {.path = path, .d = d, .g = om->graph, .bf = -1};
    int rc = im_walk(&im);
    if (!rc && !(*text = im_render(&im, om)))
        rc = (diag_error_in(d, path, "out of memory"), -1);
    if (!rc) {
        char name[300];
        snprintf(name, sizeof name, "%s (imported model)", path);
        const Source *src = diag_add_source(d, name, *text, strlen(*text));
        rc = !src || model_compile(m, d, src, NULL, 0) ||
             model_set_tensors(m, &im.tensors, path, d) ? -1 : 0;
    }
    if (rc) {
        model_free(m);
        memset(m, 0, sizeof *m);
        free(*text);
        *text = NULL;
    }
    ckpt_tensors_free(&im.tensors);
    free(im.vals);
    for (int k = 0; k < im.nlayers; k++)
        free(im.layers[k].scan_cell);
    free(im.layers);
    free(im.cells);
    free(im.notes);
    return rc;
}

int onnx_import(const char *path, Model *m, char **text, Diag *d)
{
    Onnx__ModelProto *om;
    *text = NULL;
    memset(m, 0, sizeof *m);
    if (onnx_read(path, &om, d))
        return -1;
    int rc = onnx_import_model(om, path, m, text, d);
    onnx_model_free(om);
    return rc;
}
