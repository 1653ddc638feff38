/* plot: loss.svg, the training and validation loss against the step, as a small standalone SVG
 * (axes with "nice" 1-2-5 ticks, two polylines, a legend), and a log-y chart of several series
 * (the gradient flow of recur trace --lags), written atomically so a browser refreshing it
 * never sees half a file.
 *
 * Ownership: nothing is kept; the arrays are only read. */
#ifndef RECUR_PLOT_H
#define RECUR_PLOT_H

#include <stddef.h>
#include <stdint.h>

#include "util/diag.h"

/* Writes the plot to path. steps/loss [n]: training points; vsteps/vloss [nv]: validation
 * points (nv may be 0). Non-finite values are skipped. title is shown at the top (may be NULL),
 * ylabel along the y axis ("loss (nats)"; NULL: "loss"). Positive losses spanning more than a
 * decade are drawn on a log axis (the label says so); the lowest validation point is ringed
 * and labelled with its value (%.4g) and step.
 * -1 (reported as `path: error: ...`) when the file cannot be written. */
int plot_loss_svg(const char *path, const char *title, const char *ylabel,
                  const int64_t *steps, const double *loss, int n, const int64_t *vsteps,
                  const double *vloss, int nv, Diag *d);

/* One series of plot_lines_svg: n points (x[i], y[i]) and its legend text. */
typedef struct PlotLine {
    const char *label;
    const int64_t *x;
    const double *y;
    int n;
} PlotLine;

/* Writes a log-y line chart of several series (recur trace --lags) to path: x axis xlabel, y
 * axis ylabel "(log scale)", decades from below the smallest positive value to above the
 * largest; values <= 0 or non-finite are skipped. Up to 8 colours, then they repeat.
 * -1 (reported as `path: error: ...`) when the file cannot be written or nothing is positive. */
int plot_lines_svg(const char *path, const char *title, const char *xlabel, const char *ylabel,
                   const PlotLine *lines, int n, Diag *d);

/* Tick positions for the range [lo, hi]: a step of 1, 2 or 5 x 10^k giving about `want` ticks;
 * writes up to cap ticks into out and returns how many. */
int plot_ticks(double lo, double hi, int want, double *out, int cap);

#endif
