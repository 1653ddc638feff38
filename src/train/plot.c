/* plot: an SVG line chart of training and validation loss. */
#include "train/plot.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/fileio.h"

/* Picks step = 1, 2 or 5 x 10^k so that (hi-lo)/step is close to want, then lists the
 * multiples of step inside [lo, hi]. */
int plot_ticks(double lo, double hi, int want, double *out, int cap)
{
    if (!(hi > lo) || want < 1) {
        if (cap > 0) out[0] = lo;
        return cap > 0;
    }
    double raw = (hi - lo) / want;
    double mag = pow(10, floor(log10(raw)));
    double f = raw / mag;
    double step = (f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10) * mag;
    int n = 0;
    for (double v = ceil(lo / step - 1e-9) * step; v <= hi + step * 1e-9 && n < cap; v += step)
        out[n++] = fabs(v) < step * 1e-9 ? 0 : v;
    return n;
}

/* Canvas geometry. */
enum { W = 720, H = 420, ML = 70, MR = 20, MT = 40, MB = 50 };

typedef struct Frame {
    double x0, x1, y0, y1;  /* data ranges (log: y0, y1 are log10 of the loss) */
    bool log;               /* log-scale y axis */
} Frame;

static double px(const Frame *f, double x)
{
    return ML + (x - f->x0) / (f->x1 - f->x0) * (W - ML - MR);
}

static double py(const Frame *f, double y)
{
    if (f->log) y = log10(y);
    return H - MB - (y - f->y0) / (f->y1 - f->y0) * (H - MT - MB);
}

/* A value the axis can show (a log axis cannot show values <= 0). */
static bool shown(const Frame *f, double y)
{
    return isfinite(y) && (!f->log || y > 0);
}

/* One series as an SVG polyline (non-finite points skipped). */
static void polyline(FILE *o, const Frame *f, const int64_t *x, const double *y, int n,
                     const char *color)
{
    fprintf(o, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1.5\" points=\"", color);
    for (int i = 0; i < n; i++)
        if (shown(f, y[i])) fprintf(o, "%.1f,%.1f ", px(f, (double)x[i]), py(f, y[i]));
    fprintf(o, "\"/>\n");
    if (n < 40)   /* few points (validation): mark them */
        for (int i = 0; i < n; i++)
            if (shown(f, y[i]))
                fprintf(o, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2.5\" fill=\"%s\"/>\n",
                        px(f, (double)x[i]), py(f, y[i]), color);
}

/* Escapes &, < and > for SVG text. */
static void text_escaped(FILE *o, const char *s)
{
    for (; *s; s++) {
        if (*s == '&') fputs("&amp;", o);
        else if (*s == '<') fputs("&lt;", o);
        else if (*s == '>') fputs("&gt;", o);
        else fputc(*s, o);
    }
}

/* The axes' ranges: steps from 0 to the last one; the finite losses of both curves (0..1 when
 * there are none, widened by 0.5 either side when flat) with 5% padding, the bottom held at 0
 * when the padding would take a positive bottom below it. Positive losses that span more than
 * a decade get a log axis from the decade below the smallest to the one above the largest. */
static Frame fit_frame(const int64_t *steps, const double *loss, int n, const int64_t *vsteps,
                       const double *vloss, int nv)
{
    Frame f = {0, 1, INFINITY, -INFINITY, false};
    for (int i = 0; i < n; i++) {
        if ((double)steps[i] > f.x1) f.x1 = (double)steps[i];
        if (isfinite(loss[i])) { f.y0 = fmin(f.y0, loss[i]); f.y1 = fmax(f.y1, loss[i]); }
    }
    for (int i = 0; i < nv; i++) {
        if ((double)vsteps[i] > f.x1) f.x1 = (double)vsteps[i];
        if (isfinite(vloss[i])) { f.y0 = fmin(f.y0, vloss[i]); f.y1 = fmax(f.y1, vloss[i]); }
    }
    if (!(f.y1 >= f.y0)) { f.y0 = 0; f.y1 = 1; }
    if (f.y0 > 0 && f.y1 > 10 * f.y0) {
        f.log = true;
        f.y0 = floor(log10(f.y0) + 1e-9);
        f.y1 = ceil(log10(f.y1) - 1e-9);
        return f;
    }
    if (f.y1 - f.y0 < 1e-9) { f.y0 -= 0.5; f.y1 += 0.5; }
    double pad = (f.y1 - f.y0) * 0.05;
    f.y0 = f.y0 - pad > 0 || f.y0 < 0 ? f.y0 - pad : 0;
    f.y1 += pad;
    return f;
}

/* The y axis' ticks: 1-2-5 steps, or on a log axis every decade (with 2 and 5 times it when
 * there are at most two decades; every n-th decade when there are more than ten). */
static void y_ticks(FILE *o, const Frame *f)
{
    double t[64];
    int nt = 0;
    if (f->log) {
        bool fine = f->y1 - f->y0 <= 2;
        double every = ceil((f->y1 - f->y0) / 10 - 1e-9);  /* at most ~10 labelled decades */
        for (double k = f->y0; k <= f->y1 + 1e-9 && nt < 60; k += every > 1 ? every : 1)
            for (int m = 1; m <= 5 && nt < 60; m += m == 1 ? 1 : 3)
                if ((m == 1 || fine) && (m == 1 || k < f->y1 - 1e-9)) t[nt++] = m * pow(10, k);
    } else {
        nt = plot_ticks(f->y0, f->y1, 6, t, 32);
    }
    for (int i = 0; i < nt; i++) {
        double y = py(f, t[i]);
        fprintf(o, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#ddd\"/>\n"
                   "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%g</text>\n",
                ML, y, W - MR, y, ML - 6, y + 4, t[i]);
    }
}

/* Rings the lowest validation point and labels it "best 0.0021 at step 3000". */
static void mark_best(FILE *o, const Frame *f, const int64_t *x, const double *y, int n)
{
    int b = -1;
    for (int i = 0; i < n; i++)
        if (shown(f, y[i]) && (b < 0 || y[i] < y[b])) b = i;
    if (b < 0) return;
    double cx = px(f, (double)x[b]), cy = py(f, y[b]);
    fprintf(o, "<circle class=\"best\" cx=\"%.1f\" cy=\"%.1f\" r=\"6\" fill=\"none\" "
               "stroke=\"#d62728\" stroke-width=\"2\"/>\n"
               "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\" fill=\"#d62728\">best %.4g at "
               "step %lld</text>\n", cx, cy, cx, cy - 10, cx > W / 2 ? "end" : "start", y[b],
            (long long)x[b]);
}

/* The SVG header, title, x and y ticks, frame and axis labels of frame f. */
static void axes(FILE *o, const Frame *f, const char *title, const char *xlabel,
                 const char *ylabel)
{
    fprintf(o, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
               "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
               "viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" font-size=\"12\">\n"
               "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n", W, H, W, H);
    if (title) {
        fprintf(o, "<text x=\"%d\" y=\"24\" text-anchor=\"middle\" font-size=\"15\">", W / 2);
        text_escaped(o, title);
        fprintf(o, "</text>\n");
    }
    double t[32];
    int nt = plot_ticks(f->x0, f->x1, 8, t, 32);
    for (int i = 0; i < nt; i++) {
        double x = px(f, t[i]);
        fprintf(o, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#ddd\"/>\n"
                   "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%g</text>\n",
                x, MT, x, H - MB, x, H - MB + 16, t[i]);
    }
    y_ticks(o, f);
    fprintf(o, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" "
               "stroke=\"black\"/>\n", ML, MT, W - ML - MR, H - MT - MB);
    fprintf(o, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">", (ML + W - MR) / 2, H - 12);
    text_escaped(o, xlabel);
    fprintf(o, "</text>\n<text x=\"16\" y=\"%d\" text-anchor=\"middle\" "
               "transform=\"rotate(-90 16 %d)\">", (MT + H - MB) / 2, (MT + H - MB) / 2);
    text_escaped(o, ylabel);
    fprintf(o, "%s</text>\n", f->log ? " (log scale)" : "");
}

/* Closes the SVG in memory (open_memstream sets *buf and *len at fclose) and writes it to path
 * atomically. */
static int finish(FILE *o, char **bufp, size_t *lenp, const char *path, Diag *d)
{
    fprintf(o, "</svg>\n");
    int closed = fclose(o);
    char *buf = *bufp;
    size_t len = *lenp;
    if (closed != 0) {
        free(buf);
        diag_error_in(d, path, "out of memory");
        return -1;
    }
    IoAtomic w;
    int rc = -1;
    if (io_atomic_open(&w, path, d) == 0) {
        io_atomic_write(&w, buf, len);
        rc = io_atomic_commit(&w, d);
    }
    free(buf);
    return rc;
}

/* An in-memory stream the SVG is drawn into before finish() writes it (NULL: out of memory,
 * reported against path). */
static FILE *open_buffer(const char *path, char **buf, size_t *len, Diag *d)
{
    FILE *o = open_memstream(buf, len);
    if (!o)
        diag_error_in(d, path, "out of memory");
    return o;
}

/* Draws the frame, ticks, both curves and the legend into memory, then writes the file
 * atomically (plot.h). */
int plot_loss_svg(const char *path, const char *title, const char *ylabel,
                  const int64_t *steps, const double *loss, int n, const int64_t *vsteps,
                  const double *vloss, int nv, Diag *d)
{
    Frame f = fit_frame(steps, loss, n, vsteps, vloss, nv);
    char *buf = NULL;
    size_t len = 0;
    FILE *o = open_buffer(path, &buf, &len, d);
    if (!o)
        return -1;
    axes(o, &f, title, "step", ylabel ? ylabel : "loss");
    polyline(o, &f, steps, loss, n, "#1f77b4");
    if (nv > 0) polyline(o, &f, vsteps, vloss, nv, "#d62728");
    mark_best(o, &f, vsteps, vloss, nv);
    /* Legend, top right inside the frame. */
    int lx = W - MR - 150, ly = MT + 10;
    fprintf(o, "<rect x=\"%d\" y=\"%d\" width=\"140\" height=\"%d\" fill=\"white\" "
               "stroke=\"#999\"/>\n", lx, ly, nv > 0 ? 44 : 24);
    fprintf(o, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#1f77b4\" "
               "stroke-width=\"2\"/><text x=\"%d\" y=\"%d\">training loss</text>\n",
            lx + 8, ly + 13, lx + 30, ly + 13, lx + 36, ly + 17);
    if (nv > 0)
        fprintf(o, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#d62728\" "
                   "stroke-width=\"2\"/><text x=\"%d\" y=\"%d\">validation loss</text>\n",
                lx + 8, ly + 33, lx + 30, ly + 33, lx + 36, ly + 37);
    return finish(o, &buf, &len, path, d);
}

/* The log frame around every positive value of the lines (x from 0 to the largest x). */
static int fit_lines(const PlotLine *lines, int n, Frame *f)
{
    *f = (Frame){0, 1, INFINITY, -INFINITY, true};
    for (int i = 0; i < n; i++)
        for (int j = 0; j < lines[i].n; j++) {
            double y = lines[i].y[j];
            if ((double)lines[i].x[j] > f->x1) f->x1 = (double)lines[i].x[j];
            if (isfinite(y) && y > 0) { f->y0 = fmin(f->y0, y); f->y1 = fmax(f->y1, y); }
        }
    if (!(f->y1 >= f->y0))
        return -1;
    f->y0 = floor(log10(f->y0) + 1e-9);
    f->y1 = ceil(log10(f->y1) - 1e-9);
    if (f->y1 <= f->y0) f->y1 = f->y0 + 1;
    return 0;
}

int plot_lines_svg(const char *path, const char *title, const char *xlabel, const char *ylabel,
                   const PlotLine *lines, int n, Diag *d)
{
    static const char *const colors[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e",
                                         "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"};
    Frame f;
    if (fit_lines(lines, n, &f)) {
        diag_error_in(d, path, "nothing to plot: no positive value");
        return -1;
    }
    char *buf = NULL;
    size_t len = 0;
    FILE *o = open_buffer(path, &buf, &len, d);
    if (!o)
        return -1;
    axes(o, &f, title, xlabel, ylabel);
    int lx = W - MR - 250, ly = MT + 10;
    fprintf(o, "<rect x=\"%d\" y=\"%d\" width=\"240\" height=\"%d\" fill=\"white\" "
               "stroke=\"#999\"/>\n", lx, ly, 20 * n + 6);
    for (int i = 0; i < n; i++) {
        const char *c = colors[i % 8];
        polyline(o, &f, lines[i].x, lines[i].y, lines[i].n, c);
        fprintf(o, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"%s\" "
                   "stroke-width=\"2\"/><text x=\"%d\" y=\"%d\">", lx + 8, ly + 13 + 20 * i,
                lx + 30, ly + 13 + 20 * i, c, lx + 36, ly + 17 + 20 * i);
        text_escaped(o, lines[i].label);
        fprintf(o, "</text>\n");
    }
    return finish(o, &buf, &len, path, d);
}
