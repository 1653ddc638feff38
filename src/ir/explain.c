/* explain: the expanded model as a table (see explain.h). Every number printed comes from a
 * "quantity" function evaluated on one model, or on a grid of models compiled with different
 * placeholder vocab/classes values when those are unbound (then printed as a polynomial). */
#include "ir/explain.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

enum { GRID = IR_EXPLAIN_GRID, BASE = IR_EXPLAIN_BASE };

typedef IrExplainGrid Explain;

typedef int64_t (*Quantity)(const IrModel *m, int i, int j);

static int64_t q_width(const IrModel *m, int i, int j) { (void)j; return m->layers[i].width; }
static int64_t q_vocab(const IrModel *m, int i, int j) { (void)j; return m->layers[i].vocab; }
static int64_t q_dim(const IrModel *m, int i, int j) { return m->tensors[i].shape[j]; }
static int64_t q_tsize(const IrModel *m, int i, int j) { (void)j; return m->tensors[i].size; }
static int64_t q_total(const IrModel *m, int i, int j) { (void)i; (void)j; return m->nparams; }

/* Parameters of layer i: the sum of its tensors. */
static int64_t q_lparams(const IrModel *m, int i, int j)
{
    (void)j;
    int64_t n = 0;
    for (int k = 0; k < m->layers[i].ntensors; k++)
        n += m->tensors[m->layers[i].first_tensor + k].size;
    return n;
}

char *ir_format_count(int64_t n, char *buf, size_t cap)
{
    char digits[32];
    int len = snprintf(digits, sizeof digits, "%" PRId64, n < 0 ? -n : n);
    size_t o = 0;
    if (n < 0 && o + 1 < cap)
        buf[o++] = '-';
    for (int i = 0; i < len && o + 2 < cap; i++) {
        if (i && (len - i) % 3 == 0)
            buf[o++] = ',';
        buf[o++] = digits[i];
    }
    buf[o] = '\0';
    return buf;
}

/* Fits f(x) = a0 + a1 x + a2 x^2 exactly through x = s, 2s, 3s. false when the coefficients
 * are not integers (then the value is not such a polynomial). */
static bool fit3(const int64_t f[3], int64_t s, int64_t a[3])
{
    int64_t d1 = f[1] - f[0], d2 = f[2] - f[1];
    if ((d2 - d1) % (2 * s * s))
        return false;
    a[2] = (d2 - d1) / (2 * s * s);
    int64_t r = d1 - a[2] * 3 * s * s;
    if (r % s)
        return false;
    a[1] = r / s;
    a[0] = f[0] - a[1] * s - a[2] * s * s;
    return true;
}

/* Appends one term c * vocab^p * classes^q to buf (sign handled by the caller's order). */
static void term(char *buf, size_t cap, int64_t c, int p, int q, bool first, bool commas)
{
    size_t len = strlen(buf);
    char body[96] = "";
    for (int k = 0; k < p; k++)
        strcat(body, k ? "*vocab" : "vocab");
    for (int k = 0; k < q; k++)
        strcat(body, (p || k) ? "*classes" : "classes");
    int64_t ac = c < 0 ? -c : c;
    const char *sign = first ? (c < 0 ? "-" : "") : (c < 0 ? " - " : " + ");
    char num[32];
    if (commas)
        ir_format_count(ac, num, sizeof num);
    else
        snprintf(num, sizeof num, "%" PRId64, ac);
    if (!body[0])
        snprintf(buf + len, cap - len, "%s%s", sign, num);
    else if (ac == 1)
        snprintf(buf + len, cap - len, "%s%s", sign, body);
    else
        snprintf(buf + len, cap - len, "%s%" PRId64 "*%s", sign, ac, body);
}

/* The quantity as text: a count with separators, or a polynomial in vocab/classes. */
static const char *qfmt(const Explain *e, Quantity q, int i, int j, bool commas, char *buf,
                        size_t cap)
{
    if (e->nv == 1 && e->nc == 1) {
        int64_t v = q(e->m[0][0], i, j);
        if (commas)
            return ir_format_count(v, buf, cap);
        snprintf(buf, cap, "%" PRId64, v);
        return buf;
    }
    /* coefficients a[p][r] of vocab^p classes^r */
    int64_t g[GRID][GRID] = { { 0 } }, a[GRID][GRID] = { { 0 } };
    for (int ci = 0; ci < e->nc; ci++) {
        int64_t f[3];
        for (int vi = 0; vi < 3; vi++)
            f[vi] = q(e->m[vi < e->nv ? vi : 0][ci], i, j);
        if (e->nv == 1) {
            g[ci][0] = f[0];
        } else if (!fit3(f, BASE, g[ci])) {
            snprintf(buf, cap, "?");
            return buf;
        }
    }
    for (int p = 0; p < 3; p++) {
        int64_t f[3] = { g[0][p], g[e->nc > 1 ? 1 : 0][p], g[e->nc > 1 ? 2 : 0][p] };
        if (e->nc == 1) {
            a[p][0] = f[0];
        } else if (!fit3(f, BASE, a[p])) {
            snprintf(buf, cap, "?");
            return buf;
        }
    }
    /* check the fit at the extra point */
    int64_t x = 4 * BASE, want = q(e->check, i, j), got = 0;
    for (int p = 0; p < 3; p++)
        for (int r = 0; r < 3; r++) {
            int64_t t = a[p][r];
            for (int k = 0; k < p && e->nv > 1; k++)
                t *= x;
            for (int k = 0; k < r && e->nc > 1; k++)
                t *= x;
            got += t;
        }
    if (got != want) {
        snprintf(buf, cap, "?");
        return buf;
    }
    buf[0] = '\0';
    bool first = true;
    for (int deg = 4; deg >= 0; deg--)
        for (int p = 2; p >= 0; p--) {
            int r = deg - p;
            if (r < 0 || r > 2 || !a[p][r])
                continue;
            term(buf, cap, a[p][r], p, r, first, commas);
            first = false;
        }
    if (first)
        snprintf(buf, cap, "0");
    return buf;
}

/* The kind column: "lstm, 2 layers, bidirectional", "dense relu", "pool last". */
static const char *kind_str(const IrLayer *l, char *buf, size_t cap)
{
    static const char *const acts[] = { "", " tanh", " relu", " sigmoid" };
    static const char *const pools[] = { "last", "mean", "max" };
    switch (ir_layer_facts[l->kind].show) {
    case IR_SHOW_CELL: {
        int n = snprintf(buf, cap, "%s", l->ncells ? l->cells[0].name : "cell");
        if (l->num_layers > 1 && n >= 0 && (size_t)n < cap)
            n += snprintf(buf + n, cap - (size_t)n, ", layers=%d", l->num_layers);
        if (n >= 0 && (size_t)n < cap)
            snprintf(buf + n, cap - (size_t)n, "%s", l->bidirectional ? ", bidirectional"
                     : l->ncells && l->cells[0].reverse ? ", reverse" : "");
        break;
    }
    case IR_SHOW_ACT: snprintf(buf, cap, "%s%s", ir_layer_facts[l->kind].spelling, acts[l->act]);
        break;
    case IR_SHOW_POOL: snprintf(buf, cap, "%s %s", ir_layer_facts[l->kind].spelling,
                                pools[l->pool]);
        break;
    case IR_SHOW_P: snprintf(buf, cap, "%s %g", ir_layer_facts[l->kind].spelling, l->p); break;
    case IR_SHOW_NONE: snprintf(buf, cap, "%s", ir_layer_facts[l->kind].spelling); break;
    }
    return buf;
}

enum { COLS = 5, CELL = 192 };

/* The columns of one row: a layer (label, kind, output, parameters, inputs when not simply the
 * previous layer) or a tensor (name, -, shape, size, -). */
static void row(const Explain *e, int i, bool tensor, char col[COLS][CELL])
{
    const IrModel *m = e->m[0][0];
    char a[128], b[128];
    for (int c = 0; c < COLS; c++)
        col[c][0] = '\0';
    if (tensor) {
        const IrTensor *x = &m->tensors[i];
        snprintf(col[0], CELL, "%s", x->name);
        if (x->ndim == 2)
            snprintf(col[2], CELL, "[%s, %s]", qfmt(e, q_dim, i, 0, false, a, sizeof a),
                     qfmt(e, q_dim, i, 1, false, b, sizeof b));
        else
            snprintf(col[2], CELL, "[%s]", qfmt(e, q_dim, i, 0, false, a, sizeof a));
        qfmt(e, q_tsize, i, 0, true, col[3], CELL);
        return;
    }
    const IrLayer *l = &m->layers[i];
    snprintf(col[0], CELL, "%s", l->label);
    kind_str(l, col[1], CELL);
    if (l->tokens)
        snprintf(col[2], CELL, "[T, B] ids < %s", qfmt(e, q_vocab, i, 0, false, a, sizeof a));
    else
        snprintf(col[2], CELL, "%s%s]", l->sequence ? "[T, B, " : "[B, ",
                 qfmt(e, q_width, i, 0, false, a, sizeof a));
    qfmt(e, q_lparams, i, 0, true, col[3], CELL);
    bool chained = l->ninputs == 1 && l->inputs[0] == i - 1;
    if (l->ninputs && !chained) {
        size_t n = (size_t)snprintf(col[4], CELL, "<- ");
        for (int j = 0; j < l->ninputs && n < CELL; j++)
            n += (size_t)snprintf(col[4] + n, CELL - n, "%s%s", j ? ", " : "",
                                  m->layers[l->inputs[j]].label);
    }
}

/* Prints the table from the models in e (e->m[0][0] gives structure and names): one pass to
 * size the columns, one to print. Tensor rows are indented under their layer, their name
 * spanning the label and kind columns. */
static void explain_table(const Explain *e, FILE *out)
{
    const IrModel *m = e->m[0][0];
    char col[COLS][CELL], total[128];
    int w[4] = { 5, 4, 6, 10 };     /* "layer", "kind", "output", "parameters" */
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 1) {
            fprintf(out, "model %s", m->name ? m->name : "model");
            if (m->vocab >= 0 && e->nv > 1)
                fprintf(out, "  (vocab = auto)");
            else if (m->vocab >= 0)
                fprintf(out, "  (vocab = %d)", m->vocab);
            if (m->classes >= 0 && e->nc > 1)
                fprintf(out, "  (classes = auto)");
            else if (m->classes >= 0)
                fprintf(out, "  (classes = %d)", m->classes);
            fprintf(out, "\n\n  %-*s  %-*s  %-*s  %*s\n", w[0], "layer", w[1], "kind", w[2],
                    "output", w[3], "parameters");
        }
        for (int i = 0; i < m->nlayers; i++) {
            const IrLayer *l = &m->layers[i];
            for (int t = -1; t < l->ntensors; t++) {
                bool tensor = t >= 0;
                row(e, tensor ? l->first_tensor + t : i, tensor, col);
                if (pass == 0) {
                    int n0 = (int)strlen(col[0]);
                    if (tensor && n0 + 4 > w[0] + 2 + w[1])
                        w[1] = n0 + 4 - w[0] - 2;
                    for (int c = 0; c < 4; c++)
                        if (!(tensor && c < 2) && (int)strlen(col[c]) > w[c])
                            w[c] = (int)strlen(col[c]);
                } else if (tensor) {
                    fprintf(out, "      %-*s  %-*s  %*s\n", w[0] + w[1] - 2, col[0], w[2],
                            col[2], w[3], col[3]);
                } else {
                    fprintf(out, "  %-*s  %-*s  %-*s  %*s%s%s\n", w[0], col[0], w[1], col[1],
                            w[2], col[2], w[3], col[3], col[4][0] ? "  " : "", col[4]);
                }
            }
        }
    }
    fprintf(out, "\ntotal: %s parameters in %d tensors\n", qfmt(e, q_total, 0, 0, true, total,
                                                                 sizeof total), m->ntensors);
}

void ir_explain(const IrModel *m, FILE *out)
{
    Explain e = { .nv = 1, .nc = 1 };
    e.m[0][0] = (IrModel *)m;
    explain_table(&e, out);
}

/* Whether every model of the grid is there with the structure of m[0][0]. */
static bool grid_complete(const Explain *e)
{
    const IrModel *first = e->m[0][0];
    for (int vi = 0; vi < e->nv; vi++)
        for (int ci = 0; ci < e->nc; ci++)
            if (!e->m[vi][ci])
                return false;
    return e->check && e->check->ntensors == first->ntensors &&
           e->check->nlayers == first->nlayers;
}

void ir_explain_grid(const IrExplainGrid *e, FILE *out)
{
    if (e->nv == 1 && e->nc == 1) {
        ir_explain(e->m[0][0], out);
    } else if (grid_complete(e)) {
        explain_table(e, out);
    } else {
        /* a size that changes the structure (e.g. repeat vocab): print one concrete case */
        fprintf(out, "(vocab/classes are unbound; shown with vocab = classes = %d)\n", BASE);
        ir_explain(e->m[0][0], out);
    }
}

void ir_explain_grid_free(IrExplainGrid *e)
{
    for (int vi = 0; vi < GRID; vi++)
        for (int ci = 0; ci < GRID; ci++)
            ir_model_free(e->m[vi][ci]);
    ir_model_free(e->check);
    memset(e, 0, sizeof *e);
}
