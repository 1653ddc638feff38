/* plot: loss.svg, the training and validation loss against the step, as a small standalone SVG
 * (axes with "nice" 1-2-5 ticks, two polylines, a legend), written atomically so a browser
 * refreshing it never sees half a file.
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

/* Tick positions for the range [lo, hi]: a step of 1, 2 or 5 x 10^k giving about `want` ticks;
 * writes up to cap ticks into out and returns how many. */
int plot_ticks(double lo, double hi, int want, double *out, int cap);

#endif
