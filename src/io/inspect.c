/* inspect: tensor statistics and the aligned tables of `recur inspect` (see inspect.h). */
#include "io/inspect.h"

#include <inttypes.h>
#include <math.h>
#include <string.h>

/* Two passes in double over the finite elements:
 *   mean = (1/n) sum x_i,   std = sqrt((1/n) sum (x_i - mean)^2)
 * The second pass avoids the cancellation of sum(x^2) - n mean^2 for data far from zero. */
void inspect_stats(const float *x, int64_t n, TensorStats *s)
{
    memset(s, 0, sizeof *s);
    s->count = n;
    double sum = 0;
    for (int64_t i = 0; i < n; i++) {
        double v = x[i];
        if (isnan(v)) {
            s->nan++;
            continue;
        }
        if (isinf(v)) {
            s->inf++;
            continue;
        }
        if (s->finite == 0 || v < s->min)
            s->min = v;
        if (s->finite == 0 || v > s->max)
            s->max = v;
        s->finite++;
        sum += v;
    }
    if (s->finite == 0)
        return;
    s->mean = sum / (double)s->finite;
    double ss = 0;
    for (int64_t i = 0; i < n; i++)
        if (isfinite(x[i])) {
            double dv = (double)x[i] - s->mean;
            ss += dv * dv;
        }
    s->std = sqrt(ss / (double)s->finite);
}

/* "[d0, d1, ...]", truncated to fit n bytes but always terminated. */
void inspect_format_shape(const int64_t *shape, int ndim, char *buf, size_t n)
{
    size_t k = 0;
    if (n == 0)
        return;
    buf[0] = '\0';
    k += (size_t)snprintf(buf, n, "[");
    for (int i = 0; i < ndim && k < n; i++)
        k += (size_t)snprintf(buf + k, n - k, "%s%" PRId64, i ? ", " : "", shape[i]);
    if (k < n)
        snprintf(buf + k, n - k, "]");
}

/* Column widths come from the longest name and shape, so the table stays aligned for any
 * model; numbers use %12.6g. */
int inspect_print_tensors(FILE *out, const CkptTensorList *l)
{
    int wn = 4, ws = 5;
    char shape[256];
    int64_t total = 0;
    for (int i = 0; i < l->n; i++) {
        int len = (int)strlen(l->items[i].name);
        if (len > wn)
            wn = len;
        inspect_format_shape(l->items[i].shape, l->items[i].ndim, shape, sizeof shape);
        if ((int)strlen(shape) > ws)
            ws = (int)strlen(shape);
    }
    fprintf(out, "%-*s  %-*s  %-5s %12s %12s %12s %12s\n", wn, "name", ws, "shape", "dtype",
            "min", "max", "mean", "std");
    for (int i = 0; i < l->n; i++) {
        const CkptTensor *t = &l->items[i];
        TensorStats s;
        inspect_stats(t->data, t->count, &s);
        total += t->count;
        inspect_format_shape(t->shape, t->ndim, shape, sizeof shape);
        fprintf(out, "%-*s  %-*s  %-5s ", wn, t->name, ws, shape, "f32");
        if (s.finite)
            fprintf(out, "%12.6g %12.6g %12.6g %12.6g", s.min, s.max, s.mean, s.std);
        else
            fprintf(out, "%12s %12s %12s %12s", "-", "-", "-", "-");
        if (s.nan || s.inf)
            fprintf(out, "  (%" PRId64 " NaN, %" PRId64 " Inf)", s.nan, s.inf);
        fputc('\n', out);
    }
    fprintf(out, "%d tensor%s, %" PRId64 " value%s\n", l->n, l->n == 1 ? "" : "s", total,
            total == 1 ? "" : "s");
    return ferror(out) ? -1 : 0;
}

/* Header lines about the model and training state, then the tensor tables. */
int inspect_print_checkpoint(FILE *out, const Checkpoint *c)
{
    fprintf(out, "checkpoint format %u", c->format_version);
    if (c->recur_version)
        fprintf(out, ", written by recur %s", c->recur_version);
    fputc('\n', out);
    if (c->source_name || c->source_text)
        fprintf(out, "model: %s (%zu bytes of source)\n",
                c->source_name ? c->source_name : "<unnamed>", c->source_len);
    for (int i = 0; i < c->noverrides; i++)
        fprintf(out, "  --set %s\n", c->overrides[i]);
    for (int i = 0; i < c->nconsts; i++)
        fprintf(out, "const %s = %" PRId64 "\n", c->consts[i].name, c->consts[i].value);
    if (c->vocab)
        fprintf(out, "vocabulary: %zu symbols\n", c->vocab_len);
    fprintf(out, "step %" PRIu64 ", epoch %" PRIu64 ", seed %" PRIu64, c->step, c->epoch,
            c->seed);
    if (c->threads)
        fprintf(out, ", threads %d", c->threads);
    if (c->has_best_val_loss)
        fprintf(out, ", best validation loss %.6g", c->best_val_loss);
    fputc('\n', out);
    if (c->optimizer) {
        fprintf(out, "optimizer %s", c->optimizer);
        for (int i = 0; i < c->nhypers; i++)
            fprintf(out, "%s%s=%g", i ? ", " : " (", c->hypers[i].name, c->hypers[i].value);
        fprintf(out, "%s\n", c->nhypers ? ")" : "");
    }
    fputc('\n', out);
    if (inspect_print_tensors(out, &c->params) != 0)
        return -1;
    if (c->optim_state.n) {
        fprintf(out, "\noptimizer state:\n");
        if (inspect_print_tensors(out, &c->optim_state) != 0)
            return -1;
    }
    return ferror(out) ? -1 : 0;
}
