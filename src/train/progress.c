/* progress: live or plain progress reports of a training run. */
#define _DEFAULT_SOURCE   /* sigaction, TIOCGWINSZ */
#include "train/progress.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

/* Set by SIGWINCH: the terminal was resized, measure it again at the next report. */
static volatile sig_atomic_t resized;

static void on_winch(int sig)
{
    (void)sig;
    resized = 1;
}

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

int progress_columns(FILE *out)
{
    struct winsize ws;
    if (ioctl(fileno(out), TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) return ws.ws_col;
    const char *c = getenv("COLUMNS");
    int n = c ? atoi(c) : 0;
    return n > 0 ? n : 80;
}

/* The fields of a report, in display order; FIELD_BAR is drawn by join. */
enum { F_STEP, F_BAR, F_EPOCH, F_LOSS, F_VAL, F_ACC, F_RATE, F_ELAPSED, F_ETA, F_N };
/* The order in which fields give way on a narrow line (F_N: the bar shrinks to 10 cells;
 * F_BAR: it goes). */
static const int drop_order[] = {F_ELAPSED, F_RATE, F_EPOCH, F_ACC, F_ETA, F_N, F_BAR, F_VAL};

/* Joins the kept fields with two spaces (the bar: bar_w cells of progress frac). */
static void join(char *buf, size_t n, char f[F_N][48], const bool *keep, int bar_w, double frac)
{
    size_t k = 0;
    buf[0] = 0;
    for (int i = 0; i < F_N && k + 1 < n; i++) {
        if (!keep[i]) continue;
        if (k) k += (size_t)snprintf(buf + k, n - k, "  ");
        if (i == F_BAR && k + (size_t)bar_w + 3 < n) {
            int full = (int)(frac * bar_w + 1e-9);
            buf[k++] = '[';
            for (int j = 0; j < bar_w; j++)
                buf[k++] = j < full ? '=' : j == full ? '>' : ' ';
            buf[k++] = ']';
            buf[k] = 0;
        } else if (i != F_BAR && k < n) {
            k += (size_t)snprintf(buf + k, n - k, "%s", f[i]);
        }
        if (k >= n) k = n - 1;
    }
}

char *progress_format(char *buf, size_t n, const ProgressReport *r, int64_t total,
                      double elapsed, double eta, int width)
{
    char f[F_N][48], rt[24], el[24], et[24];
    bool keep[F_N];
    for (int i = 0; i < F_N; i++) keep[i] = true, f[i][0] = 0;
    rate(rt, sizeof rt, r->tok_per_s);
    snprintf(f[F_STEP], 48, "step %lld/%lld", (long long)r->step, (long long)total);
    snprintf(f[F_EPOCH], 48, "epoch %lld", (long long)r->epoch);
    snprintf(f[F_LOSS], 48, "loss %.4g", r->loss);
    snprintf(f[F_VAL], 48, "val %.4g", r->val_loss);
    snprintf(f[F_ACC], 48, "acc %.4g", r->val_acc);
    snprintf(f[F_RATE], 48, "%s tok/s", rt);
    snprintf(f[F_ELAPSED], 48, "%s elapsed", progress_duration(el, sizeof el, elapsed));
    snprintf(f[F_ETA], 48, "ETA %s", progress_duration(et, sizeof et, eta));
    keep[F_BAR] = width > 0;
    keep[F_EPOCH] = r->epoch > 0;
    keep[F_VAL] = !isnan(r->val_loss);
    keep[F_ACC] = !isnan(r->val_acc);
    keep[F_ETA] = isfinite(eta) && eta >= 0;
    double frac = total > 0 ? (double)r->step / (double)total : 0;
    int bar_w = 20;
    join(buf, n, f, keep, bar_w, frac);
    for (size_t i = 0; width > 0 && (int)strlen(buf) >= width; i++) {
        if (i == sizeof drop_order / sizeof *drop_order) {   /* still too long: cut */
            buf[width - 1 < (int)n ? width - 1 : (int)n - 1] = 0;
            break;
        }
        if (drop_order[i] == F_N) bar_w = 10;
        else keep[drop_order[i]] = false;
        join(buf, n, f, keep, bar_w, frac);
    }
    return buf;
}

void progress_init(Progress *p, FILE *out, int mode, int64_t first_step, int64_t total)
{
    memset(p, 0, sizeof *p);
    p->out = out;
    p->live = mode == 1 || (mode == -1 && isatty(fileno(out)));
    p->total = total;
    p->first_step = first_step;
    p->t0 = progress_now();
    p->last = -1;
    if (!p->live) return;
    p->width = progress_columns(out);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_winch;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    resized = 0;
    sigaction(SIGWINCH, &sa, &p->old_winch);
}

void progress_update(Progress *p, const ProgressReport *r, bool eval)
{
    double now = progress_now();
    /* live: at most 10 redraws a second (at once after a resize); plain: a line at least every
     * 30 s besides the evaluations, so a log file shows a long run moving */
    double since = now - (p->last < 0 && !p->live ? p->t0 : p->last);
    if (p->live && resized) {
        resized = 0;
        p->width = progress_columns(p->out);
        since = 1;
    }
    if (!eval && since < (p->live ? 0.1 : 30.0)) return;
    p->last = now;
    double el = now - p->t0;
    int64_t done = r->step - p->first_step;
    double eta = done > 0 ? el / (double)done * (double)(p->total - r->step) : NAN;
    char line[512];
    progress_format(line, sizeof line, r, p->total, el, eta, p->live ? p->width : 0);
    if (p->live) {
        fprintf(p->out, "\r\033[K%s%s", line, eval ? "\n" : "");
        p->dirty = !eval;
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
    if (p->live) sigaction(SIGWINCH, &p->old_winch, NULL);
    p->live = false;
}
