/* progress: what a training run prints while it works. On a terminal, one live line rewritten
 * in place (step of total, loss, validation loss, tokens/s, elapsed and ETA); elsewhere (a pipe,
 * a log file) plain lines, one per report, that read well in a CI log.
 *
 * Ownership: Progress borrows its FILE (never closed here). */
#ifndef RECUR_PROGRESS_H
#define RECUR_PROGRESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef struct Progress {
    FILE *out;
    bool live;              /* rewrite one line (a terminal) */
    bool dirty;             /* a live line is showing and needs a newline before a message */
    int64_t total;
    int64_t first_step;     /* the step this run (or resume) started at, for the ETA */
    double t0;              /* monotonic seconds at the start */
    double last;            /* time of the last live redraw */
} Progress;

/* mode: -1 live when out is a terminal, 0 plain lines, 1 live. */
void progress_init(Progress *p, FILE *out, int mode, int64_t first_step, int64_t total);
/* Reports step (1-based count of updates done). val_loss NaN = none yet. Live mode redraws at
 * most 10 times a second unless force; plain mode prints when force and at least every 30 s. */
void progress_update(Progress *p, int64_t step, double loss, double val_loss, double tok_per_s,
                     bool force);
/* Prints a message line without garbling the live line. */
void progress_message(Progress *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Ends the live line. */
void progress_finish(Progress *p);

/* The report text, without a newline:
 *   "step 120/5000  loss 1.2346  val 1.3001  12.3k tok/s  0:12 elapsed  ETA 8:01"
 * (val omitted when NaN; ETA omitted when unknown). Returns buf. */
char *progress_format(char *buf, size_t n, int64_t step, int64_t total, double loss,
                      double val_loss, double tok_per_s, double elapsed, double eta);
/* h:mm:ss or m:ss. */
char *progress_duration(char *buf, size_t n, double seconds);
/* Monotonic clock in seconds. */
double progress_now(void);

#endif
