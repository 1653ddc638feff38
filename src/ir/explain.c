/* explain: the expanded model as a table (see explain.h). Every number printed comes from a
 * "quantity" function of one model: its integer value, or, when vocab/classes were unbound, the
 * polynomial its IrSyms multiply out to (printed as `577*vocab + 3,284,992`). */
#include "ir/explain.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* A polynomial in vocab and classes: a[p][q] is the coefficient of vocab^p * classes^q. The
 * quantities printed have degree <= 2 (a tensor's size is a product of two affine dims). */
typedef struct Poly {
    int64_t a[3][3];
} Poly;

/* One explanation: the model, whether its sizes print symbolically, and whether a quantity's
 * polynomial disagreed with its value (then the model is explained with its values). */
typedef struct Explain {
    const IrModel *m;
    bool symbolic;
    bool mismatch;
} Explain;

/* A quantity of the model: its value (*n) and its polynomial (*p). */
typedef void (*Quantity)(const IrModel *m, int i, int j, int64_t *n, Poly *p);

/* The polynomial of an affine form. */
static Poly poly_of(IrSym s)
{
    Poly p = { { { 0 } } };
    p.a[0][0] = s.c;
    p.a[1][0] = s.v;
    p.a[0][1] = s.k;
    return p;
}

/* x + y. */
static Poly poly_add(Poly x, const Poly *y)
{
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++)
            x.a[i][j] += y->a[i][j];
    return x;
}

/* s * t for two affine forms (degree <= 2 in all). */
static Poly poly_mul(IrSym s, IrSym t)
{
    Poly x = poly_of(s), y = poly_of(t), z = { { { 0 } } };
    for (int i = 0; i < 2; i++)
        for (int j = 0; i + j < 2; j++)
            for (int k = 0; k < 2; k++)
                for (int l = 0; k + l < 2; l++)
                    z.a[i + k][j + l] += x.a[i][j] * y.a[k][l];
    return z;
}

/* The value of p at vocab, classes. */
static int64_t poly_at(const Poly *p, int64_t vocab, int64_t classes)
{
    int64_t sum = 0, vp = 1;
    for (int i = 0; i < 3; i++, vp *= vocab) {
        int64_t cp = 1;
        for (int j = 0; j < 3; j++, cp *= classes)
            sum += p->a[i][j] * vp * cp;
    }
    return sum;
}

/* Layer i's output width. */
static void q_width(const IrModel *m, int i, int j, int64_t *n, Poly *p)
{
    (void)j;
    *n = m->layers[i].width;
    *p = poly_of(m->layers[i].width_sym);
}

/* Layer i's vocabulary (ids < vocab). */
static void q_vocab(const IrModel *m, int i, int j, int64_t *n, Poly *p)
{
    (void)j;
    *n = m->layers[i].vocab;
    *p = poly_of(m->layers[i].vocab_sym);
}

/* Dimension j of tensor i. */
static void q_dim(const IrModel *m, int i, int j, int64_t *n, Poly *p)
{
    *n = m->tensors[i].shape[j];
    *p = poly_of(m->tensors[i].shape_sym[j]);
}

/* The elements of tensor i: the product of its dims. */
static void q_tsize(const IrModel *m, int i, int j, int64_t *n, Poly *p)
{
    (void)j;
    const IrTensor *t = &m->tensors[i];
    *n = t->size;
    *p = poly_mul(t->shape_sym[0], t->ndim == 2 ? t->shape_sym[1] : ir_sym_const(1));
}

/* Parameters of layer i: the sum of its tensors. */
static void q_lparams(const IrModel *m, int i, int j, int64_t *n, Poly *p)
{
    (void)j;
    *n = 0;
    *p = (Poly){ { { 0 } } };
    for (int k = 0; k < m->layers[i].ntensors; k++) {
        int64_t tn;
        Poly tp;
        q_tsize(m, m->layers[i].first_tensor + k, 0, &tn, &tp);
        *n += tn;
        *p = poly_add(*p, &tp);
    }
}

/* Parameters of the model: the sum over its layers. */
static void q_total(const IrModel *m, int i, int j, int64_t *n, Poly *p)
{
    (void)i;
    (void)j;
    *n = 0;
    *p = (Poly){ { { 0 } } };
    for (int l = 0; l < m->nlayers; l++) {
        int64_t ln;
        Poly lp;
        q_lparams(m, l, 0, &ln, &lp);
        *n += ln;
        *p = poly_add(*p, &lp);
    }
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

/* The quantity as text: a count with separators, or a polynomial in vocab/classes. A
 * polynomial that disagrees with the value at the compile's sizes sets e->mismatch. */
static const char *qfmt(Explain *e, Quantity q, int i, int j, bool commas, char *buf,
                        size_t cap)
{
    int64_t v;
    Poly p;
    q(e->m, i, j, &v, &p);
    if (!e->symbolic) {
        if (commas)
            return ir_format_count(v, buf, cap);
        snprintf(buf, cap, "%" PRId64, v);
        return buf;
    }
    if (poly_at(&p, e->m->vocab, e->m->classes) != v)
        e->mismatch = true;
    buf[0] = '\0';
    bool first = true;
    for (int deg = 4; deg >= 0; deg--)
        for (int pv = 2; pv >= 0; pv--) {
            int r = deg - pv;
            if (r < 0 || r > 2 || !p.a[pv][r])
                continue;
            term(buf, cap, p.a[pv][r], pv, r, first, commas);
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
static void row(Explain *e, int i, bool tensor, char col[COLS][CELL])
{
    const IrModel *m = e->m;
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

/* Prints the table of e->m: one pass to size the columns, one to print. Tensor rows are
 * indented under their layer, their name spanning the label and kind columns. false (nothing
 * printed) when a symbolic quantity disagreed with its value. */
static bool explain_table(Explain *e, FILE *out)
{
    const IrModel *m = e->m;
    char col[COLS][CELL], total[128];
    int w[4] = { 5, 4, 6, 10 };     /* "layer", "kind", "output", "parameters" */
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 1 && e->mismatch)
            return false;
        if (pass == 1) {
            fprintf(out, "model %s", m->name ? m->name : "model");
            if (m->vocab >= 0)
                fprintf(out, e->symbolic && m->vocab_auto ? "  (vocab = auto)"
                        : "  (vocab = %d)", m->vocab);
            if (m->classes >= 0)
                fprintf(out, e->symbolic && m->classes_auto ? "  (classes = auto)"
                        : "  (classes = %d)", m->classes);
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
        qfmt(e, q_total, 0, 0, true, total, sizeof total);
    }
    fprintf(out, "\ntotal: %s parameters in %d tensors\n", total, m->ntensors);
    return true;
}

/* The note above a model whose sizes cannot print symbolically: which names are unbound, why,
 * the placeholder values it is shown with, and how to bind them. */
static void unbound_note(const IrModel *m, FILE *out)
{
    bool both = m->vocab_auto && m->classes_auto;
    const char *names = both ? "vocab and classes" : m->vocab_auto ? "vocab" : "classes";
    fprintf(out, "(%s %s unbound and some size or count is not affine in %s (such as "
            "vocab*vocab, vocab/2 or repeat vocab), so the model is shown with", names,
            both ? "are" : "is", both ? "them" : "it");
    if (m->vocab_auto)
        fprintf(out, " vocab = %d", m->vocab);
    if (m->classes_auto)
        fprintf(out, "%s classes = %d", both ? "," : "", m->classes);
    fprintf(out, "; pass --set %s=N for the real sizes)\n", m->vocab_auto ? "vocab" : "classes");
}

/* Symbolically when vocab/classes were unbound and every form is exact and agrees with its
 * value; else with the values (under a note when they are placeholders). */
void ir_explain(const IrModel *m, FILE *out)
{
    Explain e = { m, m->vocab_auto || m->classes_auto, false };
    if (e.symbolic && m->sym_exact && explain_table(&e, out))
        return;
    if (e.symbolic)
        unbound_note(m, out);
    e.symbolic = false;
    explain_table(&e, out);
}
