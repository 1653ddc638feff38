/* onnx_in_scan: recur's own export of a user cell (src/model/onnx_cell.c: a Scan whose body is
 * the cell's step, with the state-independent terms such as W @ x computed for all steps
 * outside it) written back as the cell's equations.
 *
 * The outer nodes of a cell copy are named "<label>.l<k>[_reverse]/..." like its Scan; they
 * are left to this file (im_scan_owned) and decompiled from the Scan's inputs backwards. Every
 * node becomes an expression: a value used once is inlined, one used more often gets a line
 * `vN = ...`; Slices of one value become a `chunk`; a state's previous value is `s[t-1]`; a
 * parameter is an initializer named "<label>.<param>[_reverse][_t]" (_t: transposed, a
 * matrix read as `P @ v`); other scalars are numbers. A bidirectional layer is a forward and a
 * reverse Scan of the same cell and a Concat: the reverse one must decompile to the same text.
 * Anything else is refused with the node named. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/onnx_in_int.h"

#define SC_MAX 512      /* values of one cell (outer and body) */
#define SC_DEPTH 64     /* nesting of the decompiled expressions (a cyclic graph stops here) */

typedef struct SVal {
    const char *name;   /* the ONNX value */
    char *expr;         /* its expression (malloc'ed), or its line's name */
    int prec, width;    /* 1 + -, 2 @, 3 * /, 4 unary, 5 atom */
} SVal;

typedef struct Sc {
    Im *im;
    size_t at;                      /* the Scan's position */
    const Onnx__NodeProto *scan;
    const Onnx__GraphProto *body;
    const char *prefix;             /* "<label>.l0" or "<label>.l0_reverse": the copy's names */
    size_t prefix_len, label_len;   /* of prefix, and of its "<label>" part */
    int nstates;
    char state[8][32];
    SVal vals[SC_MAX];
    int nvals, nlines, nparams;
    char *lines, *params;           /* the equations, the param declarations */
    size_t lines_len, params_len;
    const Val *x;                   /* the sequence the cell reads */
    bool reverse, failed;
    int depth;                      /* of sc_expr's recursion */
    int layer;                      /* the layer whose tensors these are */
    bool second;                    /* the reverse copy of a bidirectional layer */
} Sc;

static SVal *sc_expr(Sc *s, const char *name, bool outer);

/* Reports the failure at the Scan (once) and returns NULL. */
static SVal *sc_fail(Sc *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static SVal *sc_fail(Sc *s, const char *fmt, ...)
{
    char why[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    if (!s->failed)
        im_err(s->im, s->at, "recur's export of a user cell: %s", why);
    s->failed = true;
    return NULL;
}

/* A new decompiled value (expr taken over). */
static SVal *sc_val(Sc *s, const char *name, char *expr, int prec, int width)
{
    if (!expr || s->nvals == SC_MAX)
        return free(expr), sc_fail(s, "out of memory, or more than %d values", SC_MAX);
    SVal *v = &s->vals[s->nvals++];
    *v = (SVal){name, expr, prec, width};
    return v;
}

/* printf into a new malloc'ed string. */
static char *fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));
static char *fmt(const char *f, ...)
{
    char *out = NULL;
    size_t len = 0;
    va_list ap;
    va_start(ap, f);
    char buf[4096];
    vsnprintf(buf, sizeof buf, f, ap);
    va_end(ap);
    return im_cat(&out, &len, "%s", buf) ? NULL : out;
}

/* v's expression for an operand place needing precedence above min (parenthesised if not). */
static const char *operand(const SVal *v, int min, char *buf, size_t n)
{
    if (v->prec > min)
        return v->expr;
    snprintf(buf, n, "(%s)", v->expr);
    return buf;
}

/* The node of graph g whose output is name (NULL: none). */
static const Onnx__NodeProto *producer(const Onnx__GraphProto *g, const char *name)
{
    for (size_t i = 0; i < g->n_node; i++)
        for (size_t k = 0; k < g->node[i]->n_output; k++)
            if (strcmp(g->node[i]->output[k], name) == 0)
                return g->node[i];
    return NULL;
}

/* How many inputs of the nodes of g (and outputs of g) read name. */
static int uses(const Onnx__GraphProto *g, const char *name)
{
    int n = 0;
    for (size_t i = 0; i < g->n_node; i++)
        for (size_t k = 0; k < g->node[i]->n_input; k++)
            n += strcmp(g->node[i]->input[k], name) == 0;
    for (size_t k = 0; k < g->n_output; k++)
        n += g->output[k]->name && strcmp(g->output[k]->name, name) == 0;
    return n;
}

/* The initializer name of graph g (NULL: none). */
static const Onnx__TensorProto *init_of(const Onnx__GraphProto *g, const char *name)
{
    for (size_t k = 0; g && k < g->n_initializer; k++)
        if (strcmp(g->initializer[k]->name, name) == 0)
            return g->initializer[k];
    return NULL;
}

/* An initializer as a parameter (declared, its tensor added) or a scalar number. */
static SVal *sc_leaf(Sc *s, const char *name, const Onnx__TensorProto *t)
{
    float *f;
    int64_t cnt;
    if (onnx_tensor_floats(t, s->im->path, &f, &cnt, s->im->d))
        return sc_fail(s, "initializer '%s' is not float", name);
    const char *rest = strncmp(name, s->prefix, s->label_len) == 0 && name[s->label_len] == '.'
                       ? name + s->label_len + 1 : NULL;
    if (!rest || strchr(rest, '.')) {   /* a constant of the copy: a number */
        SVal *v = cnt == 1 ? sc_val(s, name, fmt("%.9g", (double)f[0]), f[0] < 0 ? 4 : 5, 1)
                           : sc_fail(s, "constant '%s' is not a scalar", name);
        return free(f), v;
    }
    char p[64];
    size_t len = strlen(rest);
    bool tr = t->n_dims == 2 && len > 2 && strcmp(rest + len - 2, "_t") == 0;
    len -= tr ? 2 : 0;
    if (len > 8 && strncmp(rest + len - 8, "_reverse", 8) == 0)
        len -= 8;
    snprintf(p, sizeof p, "%.*s", (int)len, rest);
    int64_t rows = t->n_dims == 2 ? t->dims[tr ? 1 : 0] : t->n_dims == 1 ? t->dims[0] : 1;
    int64_t cols = t->n_dims == 2 ? t->dims[tr ? 0 : 1] : 0;
    if (t->n_dims > 2 || rows * (cols ? cols : 1) != cnt || rows > 1 << 20)
        return free(f), sc_fail(s, "parameter '%s' is not a vector or a matrix", name);
    float *d = f;
    if (tr && (d = malloc(sizeof *d * (size_t)(rows * cols))))
        for (int64_t r = 0; r < rows; r++)
            for (int64_t c = 0; c < cols; c++)
                d[r * cols + c] = f[c * rows + r];
    char tn[160];
    snprintf(tn, sizeof tn, "%s.%s%s", s->im->layers[s->layer].label, p,
             s->second ? "_reverse" : "");
    int rc = !d || im_tensor(s->im, tn, cols ? 2 : 1, rows, cols, d);
    if (!rc)
        rc = cols ? im_cat(&s->params, &s->params_len, "  param %s : [%lld, %lld] = 0\n", p,
                           (long long)rows, (long long)cols)
                  : im_cat(&s->params, &s->params_len, "  param %s : [%lld] = 0\n", p,
                           (long long)rows);
    if (d != f)
        free(d);
    free(f);
    s->nparams++;
    return rc ? sc_fail(s, "out of memory") : sc_val(s, name, fmt("%s", p), 5, (int)rows);
}

/* The operands of node n decompiled (outer: in the outer graph); false on failure. */
static bool sc_args(Sc *s, const Onnx__NodeProto *n, bool outer, SVal **a, size_t max)
{
    if (n->n_input > max || n->n_input == 0)
        return sc_fail(s, "node '%s' (%s) has %zu inputs", n->name, n->op_type, n->n_input),
               false;
    for (size_t k = 0; k < n->n_input; k++)
        if (!(a[k] = sc_expr(s, n->input[k], outer)))
            return false;
    return true;
}

/* A Slice of the last axis as one part of a chunk of its source (named, so that every
 * slice of it reads the same line). */
static SVal *sc_slice(Sc *s, const Onnx__NodeProto *n, SVal *src, bool outer)
{
    const Onnx__GraphProto *g = outer ? s->im->g : s->body;
    int64_t v[3] = {0};
    for (int k = 0; k < 3; k++) {
        const Onnx__TensorProto *t = init_of(g, n->input[k + 1]);
        t = t ? t : init_of(s->im->g, n->input[k + 1]);
        if (!t || t->data_type != ONNX_INT64 || !t->has_raw_data || t->raw_data.len != 8)
            return sc_fail(s, "Slice '%s' without constant starts, ends and axes", n->name);
        memcpy(&v[k], t->raw_data.data, 8);
    }
    int64_t size = v[1] - v[0];
    if (v[2] != -1 || size <= 0 || src->width % size || v[0] % size)
        return sc_fail(s, "Slice '%s' is not a part of a chunk", n->name);
    int parts = (int)(src->width / size);
    if (src->prec != 5 || strncmp(src->expr, "v", 1) != 0)
        return sc_fail(s, "Slice '%s' of a value that is not named", n->name);
    char line[600] = "  ";
    bool done = false;   /* the chunk line is written at the first slice of the source */
    for (int i = 0; i < s->nvals; i++)
        done |= strncmp(s->vals[i].expr, src->expr, strlen(src->expr)) == 0 &&
                s->vals[i].expr[strlen(src->expr)] == '_';
    for (int k = 0; !done && k < parts; k++)
        snprintf(line + strlen(line), sizeof line - strlen(line), "%s%s_%d", k ? ", " : "",
                 src->expr, k);
    if (!done && im_cat(&s->lines, &s->lines_len, "%s = chunk(%s, %d)\n", line, src->expr, parts))
        return sc_fail(s, "out of memory");
    return sc_val(s, n->output[0], fmt("%s_%lld", src->expr, (long long)(v[0] / size)), 5,
                  (int)size);
}

/* Node n's output as an expression of its decompiled operands. */
static SVal *sc_node(Sc *s, const Onnx__NodeProto *n, bool outer)
{
    static const struct { const char *onnx, *sym; int prec; } bin[] = {
        {"Add", "+", 1}, {"Sub", "-", 1}, {"Mul", "*", 3}, {"Div", "/", 3}};
    static const char *const fn[][2] = {
        {"Sigmoid", "sigmoid"}, {"Tanh", "tanh"}, {"Relu", "relu"}, {"Exp", "exp"},
        {"Log", "log"}, {"Sqrt", "sqrt"}, {"Abs", "abs"}, {"Softplus", "softplus"},
        {"Softsign", "softsign"}, {"Min", "min"}, {"Max", "max"}, {"HardSigmoid", "hardsigmoid"},
        {"LeakyRelu", "leakyrelu"}, {"ThresholdedRelu", "thresholdedrelu"}, {"Elu", "elu"},
        {"Clip", "clip"}};
    const char *op = n->op_type;
    SVal *a[16];
    char b0[2048], b1[2048];
    if (!strcmp(op, "Slice") && n->n_input < 4)
        return sc_fail(s, "Slice '%s' has %zu inputs, not its bounds", n->name, n->n_input);
    if (!strcmp(op, "Slice"))   /* the other inputs are its constant bounds */
        return (a[0] = sc_expr(s, n->input[0], outer)) ? sc_slice(s, n, a[0], outer) : NULL;
    if (!strcmp(op, "MatMul") && n->n_input != 2)
        return sc_fail(s, "MatMul '%s' has %zu inputs", n->name, n->n_input);
    if (!sc_args(s, n, outer, a, 16))
        return NULL;
    if (!strcmp(op, "Identity"))
        return a[0];
    if (!strcmp(op, "Neg"))
        return sc_val(s, n->output[0], fmt("-%s", operand(a[0], 3, b0, sizeof b0)), 4,
                      a[0]->width);
    if (!strcmp(op, "MatMul")) {   /* v @ P^T = P @ v */
        if (a[1]->prec != 5 || !init_of(s->im->g, n->input[1]))
            return sc_fail(s, "MatMul '%s' by something other than a parameter", n->name);
        return sc_val(s, n->output[0], fmt("%s @ %s", a[1]->expr, operand(a[0], 4, b0,
                      sizeof b0)), 2, (int)init_of(s->im->g, n->input[1])->dims[1]);
    }
    for (size_t k = 0; k < sizeof bin / sizeof *bin && n->n_input == 2; k++)
        if (!strcmp(op, bin[k].onnx))
            return sc_val(s, n->output[0], fmt("%s %s %s", operand(a[0], bin[k].prec - 1, b0,
                          sizeof b0), bin[k].sym, operand(a[1], bin[k].prec, b1, sizeof b1)),
                          bin[k].prec, a[0]->width > a[1]->width ? a[0]->width : a[1]->width);
    if (!strcmp(op, "Concat")) {
        char *e = fmt("[");
        int w = 0;
        for (size_t k = 0; e && k < n->n_input; k++, w += a[k - 1]->width) {
            char *t = fmt("%s%s%s", e, k ? ", " : "", a[k]->expr);
            free(e), e = t;
        }
        char *t = e ? fmt("%s]", e) : NULL;
        free(e);
        return sc_val(s, n->output[0], t, 5, w);
    }
    for (size_t k = 0; k < sizeof fn / sizeof *fn; k++) {
        if (strcmp(op, fn[k][0]) != 0)
            continue;
        const Onnx__AttributeProto *al = onnx_attr(n, "alpha"), *be = onnx_attr(n, "beta");
        char extra[64] = "";
        if (al)
            snprintf(extra, sizeof extra, ", %.9g", (double)al->f);
        if (be)
            snprintf(extra + strlen(extra), sizeof extra - strlen(extra), ", %.9g",
                     (double)be->f);
        char args[1024] = "";   /* every operand: Clip's bounds are inputs (scalars) */
        int w = 0;
        for (size_t i = 0; i < n->n_input && i < 16; i++) {
            snprintf(args + strlen(args), sizeof args - strlen(args), "%s%s", i ? ", " : "",
                     a[i]->expr);
            w = a[i]->width > w ? a[i]->width : w;
        }
        return sc_val(s, n->output[0], fmt("%s(%s%s)", fn[k][1], args, extra), 5, w);
    }
    return sc_fail(s, "node '%s': op %s has no cell-language form", n->name, op);
}

/* The sequence the copy reads (outer value name, produced outside the copy): "x". */
static SVal *sc_input(Sc *s, const char *name)
{
    Val *v = im_find(s->im, name);
    if (!v || v->kind != V_SEQ)
        return sc_fail(s, "'%s' is neither the sequence nor part of the cell", name);
    if (s->x && s->x != v)
        return sc_fail(s, "the cell reads two sequences, '%s' and '%s'", s->x->name, name);
    s->x = v;
    return sc_val(s, name, fmt("x"), 5, v->width);
}

/* Whether node n belongs to the copy (named "<prefix>/..."). */
static bool owned_by(const Onnx__NodeProto *n, const char *prefix, size_t len)
{
    return n->name && strncmp(n->name, prefix, len) == 0 && n->name[len] == '/';
}

/* The decompiled expression of value name (outer: of the outer graph), memoised. */
static SVal *sc_expr_at(Sc *s, const char *name, bool outer);
static SVal *sc_expr(Sc *s, const char *name, bool outer)
{
    if (s->depth >= SC_DEPTH)
        return sc_fail(s, "expressions nested deeper than %d (or a cycle)", SC_DEPTH);
    s->depth++;
    SVal *v = sc_expr_at(s, name, outer);
    s->depth--;
    return v;
}

static SVal *sc_expr_at(Sc *s, const char *name, bool outer)
{
    for (int k = 0; k < s->nvals; k++)
        if (strcmp(s->vals[k].name, name) == 0)
            return &s->vals[k];
    for (size_t k = 0; !outer && k < s->body->n_input; k++) {
        if (strcmp(s->body->input[k]->name, name) != 0)
            continue;
        if ((int)k >= s->nstates)   /* a scan input: computed outside for all steps */
            return sc_expr(s, s->scan->input[k], true);
        const Onnx__TypeProto *t = s->body->input[k]->type;
        const Onnx__TensorShapeProto *sh = t && t->tensor_type ? t->tensor_type->shape : NULL;
        int w = sh && sh->n_dim == 2 ? (int)sh->dim[1]->dim_value : 0;
        return w > 0 ? sc_val(s, name, fmt("%s[t-1]", s->state[k]), 5, w)
                     : sc_fail(s, "state '%s' has no known width", name);
    }
    const Onnx__TensorProto *t = outer ? NULL : init_of(s->body, name);
    if ((t = t ? t : init_of(s->im->g, name)))
        return sc_leaf(s, name, t);
    const Onnx__GraphProto *g = outer ? s->im->g : s->body;
    const Onnx__NodeProto *n = producer(g, name);
    if (outer && (!n || !owned_by(n, s->prefix, s->prefix_len)))
        return sc_input(s, name);
    if (!n)
        return sc_fail(s, "value '%s' has no producer", name);
    SVal *v = sc_node(s, n, outer);
    if (!v || uses(g, name) < 2 || !strcmp(n->op_type, "Identity") || !strcmp(n->op_type, "Slice"))
        return v;
    char *line = fmt("v%d", ++s->nlines);   /* used more than once: a line of its own */
    if (!line || im_cat(&s->lines, &s->lines_len, "  %s = %s\n", line, v->expr))
        return free(line), sc_fail(s, "out of memory");
    free(v->expr);
    v->expr = line, v->prec = 5;
    return v;
}

/* The cell's text from the decompiled body: states, params, lines, state updates, output. */
static char *sc_text(Sc *s)
{
    char *t = NULL, *upd = NULL;
    size_t len = 0, ulen = 0;
    SVal *state[8], *out = sc_expr(s, s->body->output[s->nstates]->name, false);
    int rc = !out;
    for (int k = 0; !rc && k < s->nstates; k++) {
        state[k] = sc_expr(s, s->body->output[k]->name, false);
        rc = !state[k] || im_cat(&upd, &ulen, "  %s = %s\n", s->state[k], state[k]->expr);
    }
    const char *oname = "y";
    for (int k = 0; !rc && k < s->nstates; k++)
        oname = state[k] == out ? s->state[k] : oname;
    if (!rc && strcmp(oname, "y") == 0)
        rc = im_cat(&upd, &ulen, "  y = %s\n", out->expr);
    rc = rc || im_cat(&t, &len, "# a user cell exported by recur as an ONNX Scan, written back "
                      "as its equations\ncell %s_cell() {\n  input x : [I]\n  state ",
                      s->im->layers[s->layer].label);
    for (int k = 0; !rc && k < s->nstates; k++)
        rc = im_cat(&t, &len, "%s%s : [%d]", k ? ", " : "", s->state[k],
                    sc_expr(s, s->body->input[k]->name, false)->width);
    rc = rc || im_cat(&t, &len, "\n%s%s%s  output %s\n}\n", s->params ? s->params : "",
                      s->lines ? s->lines : "", upd, oname);
    free(upd);
    return rc ? (free(t), NULL) : t;
}

bool im_scan_owned(Im *im, const Onnx__NodeProto *n)
{
    const char *slash = n->name ? strchr(n->name, '/') : NULL;
    if (!slash || strcmp(n->op_type, "Scan") == 0)
        return false;
    size_t len = (size_t)(slash - n->name);
    for (size_t i = 0; i < im->g->n_node; i++)
        if (strcmp(im->g->node[i]->op_type, "Scan") == 0 && owned_by(im->g->node[i], n->name, len))
            return true;
    return false;
}

/* Whether body g has what the walk reads: op types and names (the reader checks them in the
 * outer graph only). */
static bool body_ok(const Onnx__GraphProto *g)
{
    for (size_t i = 0; i < g->n_node; i++)
        if (!g->node[i]->op_type || !g->node[i]->name)
            return false;
    for (size_t k = 0; k < g->n_input; k++)
        if (!g->input[k]->name)
            return false;
    for (size_t k = 0; k < g->n_output; k++)
        if (!g->output[k]->name)
            return false;
    for (size_t k = 0; k < g->n_initializer; k++)
        if (!g->initializer[k]->name)
            return false;
    return true;
}

/* Sets up s for Scan node n: the copy's prefix, direction, states (zero at the start). */
static int sc_setup(Sc *s, Im *im, size_t i, const Onnx__NodeProto *n)
{
    const Onnx__AttributeProto *b = onnx_attr(n, "body");
    int nscan = (int)onnx_attr_int(n, "num_scan_inputs", 0);
    *s = (Sc){.im = im, .at = i, .scan = n, .body = b ? b->g : NULL, .prefix = n->name};
    const char *slash = n->name ? strchr(n->name, '/') : NULL, *dot = NULL;
    s->nstates = (int)n->n_input - nscan;
    if (!s->body || !body_ok(s->body) || !slash || nscan < 1 || s->nstates < 1 || s->nstates > 8 ||
        s->body->n_input != n->n_input || s->body->n_output != (size_t)s->nstates + 1)
        return im_err(im, i, "a Scan that is not recur's export of a user cell "
                      "(states, inputs for every step, one output sequence)");
    s->prefix_len = (size_t)(slash - n->name);
    dot = memchr(n->name, '.', s->prefix_len);
    s->label_len = dot ? (size_t)(dot - n->name) : s->prefix_len;
    s->reverse = s->prefix_len > 8 && !strncmp(slash - 8, "_reverse", 8);
    const Onnx__AttributeProto *dirs = onnx_attr(n, "scan_input_directions");
    for (size_t k = 0; dirs && k < dirs->n_ints; k++)
        if (dirs->ints[k] != s->reverse)
            return im_err(im, i, "a Scan whose inputs run in different directions");
    for (int k = 0; k < s->nstates; k++) {   /* "<prefix>.h_prev" -> h, zero or a state row */
        const char *nm = s->body->input[k]->name, *last = strrchr(nm, '.');
        const Val *rows = im_find(im, n->input[k]);
        const Onnx__NodeProto *z = rows && rows->kind == V_ROWS ? NULL : producer(im->g, n->input[k]);
        const Onnx__TensorProto *zt = z && !strcmp(z->op_type, "Expand") ?
                                      init_of(im->g, z->input[0]) : NULL;
        float *f = NULL;
        int64_t cnt = 0;
        if (!z && rows && rows->kind == V_ROWS)
            ;   /* a row of a --states export's state input (im_scan takes it) */
        else if (!zt || onnx_tensor_floats(zt, im->path, &f, &cnt, im->d) || cnt != 1 || f[0] != 0)
            return free(f), im_err(im, i, "state %d of the Scan neither starts at zero nor "
                                   "from a row of a state input", k);
        free(f);
        snprintf(s->state[k], sizeof s->state[k], "%s", last ? last + 1 : nm);
        char *p = strstr(s->state[k], "_prev");
        if (p)
            *p = 0;
    }
    return 0;
}

/* The layer of copy s: a new one, or the forward copy's when s is its reverse twin. */
static int sc_layer(Sc *s, const Onnx__NodeProto *n)
{
    Im *im = s->im;
    ImLayer *last = im->nlayers ? &im->layers[im->nlayers - 1] : NULL;
    if (s->reverse && last && last->scan_cell && !last->scan_bidi &&
        strncmp(last->label, n->name, s->label_len) == 0 && !last->label[s->label_len]) {
        s->second = true;
        return s->layer = im->nlayers - 1;
    }
    return s->layer = im_layer(im, n, "%s", "");
}

/* The states of copy s that start from rows of state inputs (--states): the forward copy
 * takes row 0, its reverse twin row 1 (a stacked level's rows are not taken: a refusal). */
static int sc_state_rows(Sc *s)
{
    ImLayer *l = &s->im->layers[s->layer];
    l->levels = 1, l->dirs = s->second ? 2 : 1;
    for (int k = 0; k < s->nstates; k++) {
        Val *v = im_find(s->im, s->scan->input[k]);
        const Onnx__TypeProto *t = s->body->input[k]->type;
        const Onnx__TensorShapeProto *sh = t && t->tensor_type ? t->tensor_type->shape : NULL;
        int w = sh && sh->n_dim == 2 ? (int)sh->dim[1]->dim_value : 0;
        if (v && v->kind == V_ROWS &&
            im_rows_take(s->im, s->at, v, s->layer, s->state[k], w, s->second ? 1 : 0, 0))
            return -1;
    }
    return 0;
}

int im_scan(Im *im, size_t i, const Onnx__NodeProto *n)
{
    Sc s;
    if (sc_setup(&s, im, i, n) || sc_layer(&s, n) < 0 || sc_state_rows(&s))
        return -1;
    char *text = sc_text(&s);
    ImLayer *l = &im->layers[s.layer];
    int rc = text ? 0 : -1;
    if (!rc && !s.x)
        rc = im_err(im, i, "a cell that does not read the sequence");
    if (!rc && s.second && (strcmp(text, l->scan_cell) != 0 || s.x != l->scan_x))
        rc = im_err(im, i, "the reverse copy differs from the forward one: not one "
                    "bidirectional cell");
    if (!rc && !s.second && s.x->layer != s.layer - 1)
        rc = im_err(im, i, "reads %s%s, not the last layer's output: a graph of two chains "
               "(a branch) is not a sequence of layers recur can express",
               s.x->layer >= 0 ? "layer " : "the graph input",
               s.x->layer >= 0 ? im->layers[s.x->layer].label : "");
    if (!rc && s.second) {
        snprintf(l->text, sizeof l->text, "%s_cell(bidirectional=true)", l->label);
        l->scan_bidi = true;
    } else if (!rc) {
        snprintf(l->text, sizeof l->text, "%s_cell(%s)", l->label, s.reverse ? "reverse=true" : "");
        l->scan_cell = text, l->scan_x = s.x, text = NULL;
        if (im_cat(&im->cells, &im->cells_len, "%s\n", l->scan_cell))
            rc = (diag_error_in(im->d, im->path, "out of memory"), -1);
    }
    SVal *o = rc ? NULL : sc_expr(&s, s.body->output[s.nstates]->name, false);
    int width = o ? o->width : 0;
    for (int k = 0; !rc && k < (int)n->n_output; k++) {
        Val *v = n->output[k][0] ? im_add(im, n->output[k], k < s.nstates ? V_FINAL
                                          : s.second ? V_HALF : V_SEQ) : NULL;
        if (v)   /* a cell's final state: width 0, its row of the layer's state */
            v->layer = s.layer, v->flip = s.x->flip, v->width = k < s.nstates ? 0 : width,
            v->row0 = s.second, v->nrows = 1;
        if (v && k < s.nstates) {
            snprintf(v->state, sizeof v->state, "%s", s.state[k]);
            v->hidden = sc_expr(&s, s.body->input[k]->name, false)->width;
        }
    }
    for (int k = 0; k < s.nvals; k++)
        free(s.vals[k].expr);
    free(text), free(s.lines), free(s.params);
    return rc;
}
