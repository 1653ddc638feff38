/* trace_lags: gradient flow over time (see trace_lags.h). One window is run forward once per
 * sampled loss step t and backward from that step's loss alone; the executor's gradient of the
 * vectors the first recurrent layer reads gives every d l_{t,b} / d x_{s,b} at once. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/npz.h"
#include "train/plot.h"
#include "train/trace_lags.h"
#include "train/train_int.h"

/* One window to measure on, borrowed from a session's batch or owned (a text). */
typedef struct LagWindow {
    int T, B;
    const int32_t *ids;         /* [T][B] or NULL */
    const float *vectors;       /* [T][B][n] or NULL */
    const int32_t *lengths;     /* [B] or NULL */
    ExecLossKind loss;
    const int32_t *target_ids;  /* XENT: [T][B] (-1 none) or [B] */
    const float *target;        /* MSE: [B][K] pooled, [T][B][K] per step */
    int K;                      /* MSE values per row */
} LagWindow;

/* The first recurrent layer and the layer whose output it reads (-1 with a diagnostic). */
static int find_x_layer(const IrModel *ir, const char *name, int *xl, Diag *d)
{
    for (int i = 0; i < ir->nlayers; i++) {
        const IrLayerFacts *f = ir_layer_kind_facts(ir->layers[i].kind);
        if (f && f->cells) {
            *xl = ir->layers[i].inputs[0];
            return 0;
        }
    }
    diag_error_in(d, name, "the model has no recurrent layer: there is no gradient flow over "
                           "time to measure");
    return -1;
}

/* The loss step of sequence b for sample j: a pooled model's last step (its length), else the
 * j-th of nsteps evenly spaced steps (-1 when its target is ignored). */
static int loss_step(const LagWindow *w, bool pooled, int j, int nsteps, int b)
{
    if (pooled)
        return w->lengths ? w->lengths[b] - 1 : w->T - 1;
    int t = nsteps == w->T ? j : (int)lround((double)j * (w->T - 1) / (nsteps - 1));
    if (w->lengths && t >= w->lengths[b]) return -1;
    if (w->loss == EXEC_LOSS_XENT_TOKENS && w->target_ids[(size_t)t * w->B + b] < 0) return -1;
    return t;
}

/* Forward from a zero state, then d l_{t,b} / d output for the steps in st[B] only, scaled so
 * each is the gradient of that one loss (exec_loss gives the mean's), then backward. */
static int backward_from(ExecModel *e, const LagWindow *w, bool pooled, const int32_t *st,
                         int32_t *masked, Diag *d)
{
    exec_reset_state(e);
    ExecInput in = { w->T, w->ids, w->vectors, w->lengths, false };
    if (exec_forward(e, &in, false, d))
        return -1;
    ExecTarget tg = { w->loss, w->target_ids, w->target };
    size_t TB = (size_t)w->T * w->B;
    double loss, scale = pooled ? w->B : 0;
    if (w->loss == EXEC_LOSS_XENT_TOKENS) {     /* only step st[b] counts */
        for (size_t r = 0; r < TB; r++) {
            int b = (int)(r % w->B), t = (int)(r / w->B);
            masked[r] = t == st[b] ? w->target_ids[r] : -1;
            scale += masked[r] >= 0;
        }
        tg.ids = masked;
    }
    if (exec_loss(e, &tg, &loss, d))
        return -1;
    int rows, width;
    exec_output(e, &rows, &width);
    if (w->loss == EXEC_LOSS_MSE && !pooled) {  /* per-step MSE: zero the other steps' rows */
        float *g = exec_output_grad(e);
        scale = 0;
        for (size_t r = 0; r < TB; r++) {
            bool keep = (int)(r / w->B) == st[r % w->B];
            bool counted = !w->lengths || (int)(r / w->B) < w->lengths[r % w->B];
            scale += counted;
            if (!keep) memset(g + r * width, 0, sizeof(float) * width);
        }
    }
    /* The output gradient is linear in the loss: undo the mean over the counted positions. */
    const IrModel *ir = exec_model(e);
    const IrLayerFacts *f = ir_layer_kind_facts(ir->layers[ir->output].kind);
    int gl = w->loss != EXEC_LOSS_MSE && f && f->probs ? ir->layers[ir->output].inputs[0]
                                                        : ir->output;
    float *g = exec_layer_grad(e, gl);
    size_t n = (size_t)(pooled ? (size_t)w->B : TB) * exec_model(e)->layers[gl].width;
    for (size_t i = 0; i < n; i++) g[i] = (float)(g[i] * scale);
    return exec_backward(e, d);
}

/* Allocates g's arrays for window w (x of width W) and copies its ids and targets. -1 when out
 * of memory. */
static int lags_alloc(TraceLags *g, const LagWindow *w, int W, int nsteps, int max_lag,
                      bool pooled)
{
    size_t TB = (size_t)w->T * w->B;
    g->T = w->T, g->B = w->B, g->W = W, g->nsteps = nsteps, g->max_lag = max_lag;
    g->pooled = pooled;
    g->norm = calloc((size_t)max_lag + 1, sizeof(double));
    g->count = calloc((size_t)max_lag + 1, sizeof(int64_t));
    g->steps = calloc((size_t)nsteps * w->B, sizeof(int32_t));
    g->grad = calloc((size_t)nsteps * TB * W, sizeof(float));
    g->x = calloc(TB * W, sizeof(float));
    g->ids = w->ids ? calloc(TB, sizeof(float)) : NULL;
    g->target_K = w->loss == EXEC_LOSS_MSE ? w->K : 1;
    g->target_size = (int64_t)(w->loss == EXEC_LOSS_XENT_LABEL || g->pooled ? (size_t)w->B : TB) *
                     g->target_K;
    g->target = calloc((size_t)g->target_size, sizeof(float));
    if (!g->norm || !g->count || !g->steps || !g->grad || !g->x || (w->ids && !g->ids) ||
        !g->target)
        return -1;
    for (size_t r = 0; w->ids && r < TB; r++) g->ids[r] = (float)w->ids[r];
    for (int64_t i = 0; i < g->target_size; i++)
        g->target[i] = w->loss == EXEC_LOSS_MSE ? w->target[i] : (float)w->target_ids[i];
    return 0;
}

/* Adds sample j's gradient rows to the per-lag sums: || d l_{t,b} / d x_{t-k,b} || for
 * k = 0 .. min(t, max_lag). */
static void add_norms(TraceLags *g, int j, double *sum)
{
    const float *G = g->grad + (size_t)j * g->T * g->B * g->W;
    for (int b = 0; b < g->B; b++) {
        int t = g->steps[(size_t)j * g->B + b];
        for (int k = 0; t >= 0 && k <= g->max_lag && k <= t; k++) {
            const float *v = G + ((size_t)(t - k) * g->B + b) * g->W;
            double s = 0;
            for (int i = 0; i < g->W; i++) s += (double)v[i] * v[i];
            sum[k] += sqrt(s);
            g->count[k]++;
        }
    }
}

/* Runs the samples on e and fills g (see trace_lags.h). */
static int measure(ExecModel *e, const LagWindow *w, const TraceLagsInput *in, TraceLags *g,
                   Diag *d)
{
    const IrModel *ir = exec_model(e);
    int xl, max_lag = in->max_lag;
    if (find_x_layer(ir, in->name, &xl, d))
        return -1;
    if (max_lag < 0) max_lag = w->T - 1;
    if (max_lag > w->T - 1) {
        diag_error_in(d, "--max-lag", "lag %d is larger than the input of %s allows: it has %d "
                      "steps, so lags go up to %d", max_lag, in->name, w->T, w->T - 1);
        return -1;
    }
    bool pooled = !ir->layers[ir->output].sequence;
    int nsteps = pooled ? 1 : w->T < TRACE_LAGS_MAX_STEPS ? w->T : TRACE_LAGS_MAX_STEPS;
    int W = ir->layers[xl].width;
    size_t TB = (size_t)w->T * w->B;
    int32_t *masked = malloc(TB * sizeof(int32_t));
    if (!masked || lags_alloc(g, w, W, nsteps, max_lag, pooled)) {
        free(masked);
        diag_error_in(d, "--lags", "out of memory");
        return -1;
    }
    int rc = 0;
    for (int j = 0; j < nsteps && !rc; j++) {
        int32_t *st = g->steps + (size_t)j * w->B, any = 0;
        for (int b = 0; b < w->B; b++) any |= (st[b] = loss_step(w, pooled, j, nsteps, b)) >= 0;
        if (!any || (rc = backward_from(e, w, pooled, st, masked, d)))
            continue;
        memcpy(g->grad + (size_t)j * TB * W, exec_layer_grad(e, xl), sizeof(float) * TB * W);
        for (size_t r = 0; r < TB; r++)     /* only s <= t: a reverse direction looks ahead */
            if ((int)(r / w->B) > st[r % w->B])
                memset(g->grad + ((size_t)j * TB + r) * W, 0, sizeof(float) * W);
        add_norms(g, j, g->norm);
    }
    memcpy(g->x, exec_layer_output(e, xl), sizeof(float) * TB * W);
    for (int k = 0; k <= max_lag; k++)
        g->norm[k] = g->count[k] ? g->norm[k] / (double)g->count[k] : NAN;
    free(masked);
    return rc;
}

/* A text as one sequence: ids through the model's vocabulary, the next id as each step's
 * target (none after the last), measured on an executor of batch 1. */
static int run_text(Model *m, const TraceLagsInput *in, TraceLags *g, Diag *d)
{
    Vocab v = {0};
    if (!m->vocab) {
        diag_error_in(d, in->what, "the model has no vocabulary (it does not read text)");
        return -1;
    }
    size_t cap = strlen(in->text) + 1;
    int32_t *ids = malloc(cap * sizeof(int32_t)), *tg = malloc(cap * sizeof(int32_t));
    int rc = -1, n = 0;
    if (!ids || !tg)
        diag_error_in(d, in->what, "out of memory");
    else if (!session_vocab(&v, m->vocab, m->vocab_len, m->vocab_level, d) &&
             (n = sample_text_ids(&v, in->text, in->what, ids, d)) == 1)
        diag_error_in(d, in->what, "the text has one symbol; a loss needs a next one");
    if (n > 1) {
        for (int t = 0; t < n; t++) tg[t] = t + 1 < n ? ids[t + 1] : -1;
        LagWindow w = { n, 1, ids, NULL, NULL, EXEC_LOSS_XENT_TOKENS, tg, NULL, 0 };
        ExecModel *e = model_exec(m, 1, n, d);
        rc = e ? measure(e, &w, in, g, d) : -1;
        if (e) exec_free(e);
    }
    data_vocab_free(&v);
    free(ids), free(tg);
    return rc;
}

/* The first validation batch of the checkpoint's own data (a generated task needs no file),
 * measured on the session's executor. The session borrows m and gives it back. */
static int run_task(Model *m, const TraceLagsInput *in, TraceLags *g, Diag *d)
{
    Session s;
    if (session_open(&s, m, NULL, NULL, NULL, 0, 0, true, m->seed, false, d)) {
        diag_help(diag_error_in(d, "--lags", "no data to measure on: the checkpoint's data "
                                             "cannot be opened"),
                  "give --text STRING or --data FILE (a text model)");
        return -1;
    }
    int rc = -1;
    const DataBatch *b = data_valid_batches(&s.ds) > 0 ? data_valid_batch(&s.ds, 0)
                                                       : data_next(&s.ds);
    if (b) {
        LagWindow w = { b->T, b->B, b->in_width ? NULL : b->ids, b->in_width ? b->x : NULL,
                        b->lengths, s.loss, b->target_ids, b->target, b->out_width };
        rc = measure(s.e, &w, in, g, d);
    } else {
        diag_error_in(d, "--lags", "the checkpoint's data gave no batch");
    }
    *m = s.m;
    memset(&s.m, 0, sizeof s.m);
    session_free(&s);
    return rc;
}

int trace_lags_run(Model *m, const TraceLagsInput *in, TraceLags *g, Diag *d)
{
    int xl;
    if (find_x_layer(m->ir, in->name, &xl, d))
        return -1;
    return in->text ? run_text(m, in, g, d) : run_task(m, in, g, d);
}

void trace_lags_free(TraceLags *g)
{
    free(g->norm), free(g->count), free(g->steps), free(g->grad), free(g->x), free(g->ids);
    free(g->target);
    memset(g, 0, sizeof *g);
}

/* Adds PREFIX.NAME [shape] (float32; doubles and integers converted) to w. -1 when out of
 * memory. */
static int add_f(WeightSet *w, int i, const char *name, int ndim, const int64_t *shape,
                 const float *f, const double *dv, const int64_t *iv, const int32_t *i32)
{
    int64_t n = 1;
    for (int k = 0; k < ndim; k++) n *= shape[k];
    float *tmp = f ? NULL : malloc((size_t)(n > 0 ? n : 1) * sizeof(float));
    if (!f && !tmp)
        return -1;
    for (int64_t k = 0; !f && k < n; k++)
        tmp[k] = (float)(dv ? dv[k] : iv ? (double)iv[k] : (double)i32[k]);
    char full[64];
    snprintf(full, sizeof full, "ckpt%d.%s", i, name);
    int rc = ckpt_add_tensor(&w->tensors, full, ndim, shape, f ? f : tmp) ? 0 : -1;
    free(tmp);
    return rc;
}

int trace_lags_write_npz(const TraceLags *g, int n, const char *path, Diag *d)
{
    WeightSet w = {0};
    int rc = 0;
    for (int i = 0; i < n && !rc; i++) {
        const TraceLags *q = &g[i];
        int64_t L[1] = { q->max_lag + 1 }, S[2] = { q->nsteps, q->B },
                G[4] = { q->nsteps, q->T, q->B, q->W }, X[3] = { q->T, q->B, q->W },
                I[2] = { q->T, q->B }, Y[3] = { q->T, q->B, q->target_K };
        int yd = q->target_size == (int64_t)q->B * q->target_K ? 2 : 3;
        if (yd == 2) Y[0] = q->B, Y[1] = q->target_K;
        if (q->target_K == 1 && yd == 3) yd = 2;
        rc = add_f(&w, i, "norm", 1, L, NULL, q->norm, NULL, NULL) ||
             add_f(&w, i, "count", 1, L, NULL, NULL, q->count, NULL) ||
             add_f(&w, i, "steps", 2, S, NULL, NULL, NULL, q->steps) ||
             add_f(&w, i, "grad", 4, G, q->grad, NULL, NULL, NULL) ||
             add_f(&w, i, "x", 3, X, q->x, NULL, NULL, NULL) ||
             add_f(&w, i, "target", yd, Y, q->target, NULL, NULL, NULL) ||
             (q->ids && add_f(&w, i, "ids", 2, I, q->ids, NULL, NULL, NULL)) ? -1 : 0;
    }
    if (rc)
        diag_error_in(d, path, "out of memory");
    else
        rc = npz_write(path, &w, d);
    wf_set_free(&w);
    return rc;
}

void trace_lags_write_csv(const TraceLags *g, const char *const *names, int n, FILE *out)
{
    fprintf(out, "checkpoint,lag,mean_norm,pairs\n");
    for (int i = 0; i < n; i++)
        for (int k = 0; k <= g[i].max_lag; k++)
            fprintf(out, "%s,%d,%.9g,%lld\n", names[i], k, g[i].norm[k],
                    (long long)g[i].count[k]);
}

int trace_lags_write_svg(const TraceLags *g, const char *const *names, int n,
                         const char *path, Diag *d)
{
    PlotLine *lines = calloc((size_t)n, sizeof *lines);
    int64_t **lags = calloc((size_t)n, sizeof *lags);
    int rc = -1;
    for (int i = 0; lines && lags && i < n; i++) {
        if (!(lags[i] = malloc(((size_t)g[i].max_lag + 1) * sizeof(int64_t))))
            goto done;
        for (int k = 0; k <= g[i].max_lag; k++) lags[i][k] = k;
        lines[i] = (PlotLine){ names[i], lags[i], g[i].norm, g[i].max_lag + 1 };
    }
    if (lines && lags)
        rc = plot_lines_svg(path, "gradient flow over time: mean || d loss_t / d x_(t-k) ||",
                            "lag k (steps)", "gradient norm", lines, n, d);
done:
    if (rc && !d->nerrors)
        diag_error_in(d, path, "out of memory");
    for (int i = 0; lags && i < n; i++) free(lags[i]);
    free(lags), free(lines);
    return rc;
}
