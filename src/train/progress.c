/* progress: live or plain progress reports of a training run. */
#include "train/progress.h"

#include <math.h>
#include <stdarg.h>
#include <time.h>
#include <unistd.h>

double progress_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

char *progress_duration(char *buf, size_t n, double s)
{
    if (!isfinite(s) || s < 0) s = 0;
    long t = (long)(s + 0.5);
    if (t >= 3600) snprintf(buf, n, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
    else snprintf(buf, n, "%ld:%02ld", t / 60, t % 60);
    return buf;
}

/* Tokens per second with a k/M suffix: 950, 12.3k, 1.05M. */
static void rate(char *buf, size_t n, double r)
{
    if (!isfinite(r) || r < 0) r = 0;
    if (r >= 1e6) snprintf(buf, n, "%.3gM", r / 1e6);
    else if (r >= 1e3) snprintf(buf, n, "%.3gk", r / 1e3);
    else snprintf(buf, n, "%.0f", r);
}

char *progress_format(char *buf, size_t n, int64_t step, int64_t total, double loss,
                      double val_loss, double tok_per_s, double elapsed, double eta)
{
    char r[32], el[32], et[32];
    rate(r, sizeof r, tok_per_s);
    progress_duration(el, sizeof el, elapsed);
    int k = snprintf(buf, n, "step %lld/%lld  loss %.4f", (long long)step, (long long)total,
                     loss);
    if (k >= 0 && (size_t)k < n && !isnan(val_loss))
        k += snprintf(buf + k, n - (size_t)k, "  val %.4f", val_loss);
    if (k >= 0 && (size_t)k < n)
        k += snprintf(buf + k, n - (size_t)k, "  %s tok/s  %s elapsed", r, el);
    if (k >= 0 && (size_t)k < n && isfinite(eta) && eta >= 0)
        snprintf(buf + k, n - (size_t)k, "  ETA %s", progress_duration(et, sizeof et, eta));
    return buf;
}

void progress_init(Progress *p, FILE *out, int mode, int64_t first_step, int64_t total)
{
    p->out = out;
    p->live = mode == 1 || (mode == -1 && isatty(fileno(out)));
    p->dirty = false;
    p->total = total;
    p->first_step = first_step;
    p->t0 = progress_now();
    p->last = -1;
}

void progress_update(Progress *p, int64_t step, double loss, double val_loss, double tok_per_s,
                     bool force)
{
    double now = progress_now();
    /* live: at most 10 redraws a second; plain: a line at least every 30 s besides the forced
     * ones (evaluations), so a log file shows a long run moving */
    double since = now - (p->last < 0 && !p->live ? p->t0 : p->last);
    if (!force && since < (p->live ? 0.1 : 30.0)) return;
    p->last = now;
    double el = now - p->t0;
    int64_t done = step - p->first_step;
    double eta = done > 0 ? el / (double)done * (double)(p->total - step) : NAN;
    char line[256];
    progress_format(line, sizeof line, step, p->total, loss, val_loss, tok_per_s, el, eta);
    if (p->live) {
        fprintf(p->out, "\r\033[K%s", line);
        p->dirty = true;
    } else {
        fprintf(p->out, "%s\n", line);
    }
    fflush(p->out);
}

void progress_message(Progress *p, const char *fmt, ...)
{
    if (p->dirty) {
        fputs("\r\033[K", p->out);
        p->dirty = false;
        p->last = -1;   /* redraw at the next update */
    }
    va_list ap;
    va_start(ap, fmt);
    vfprintf(p->out, fmt, ap);
    va_end(ap);
    fputc('\n', p->out);
    fflush(p->out);
}

void progress_finish(Progress *p)
{
    if (p->dirty) fputc('\n', p->out);
    p->dirty = false;
    fflush(p->out);
}
