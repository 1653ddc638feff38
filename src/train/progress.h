/* progress: what a training run prints while it works. On a terminal, a live line rewritten
 * in place that fits the terminal's width (TIOCGWINSZ, measured again on SIGWINCH): step of
 * total, a bar, epoch, loss, validation loss (and accuracy for classifiers), tokens/s, elapsed
 * and ETA, the least needed fields dropped first when the line is narrow. At every evaluation
 * the line is finished with a newline, so one line per evaluation stays on screen (Keras
 * style). Elsewhere (a pipe, a log file) plain lines, one per evaluation and one at least
 * every 30 s, that read well in a CI log.
 *
 * Ownership: Progress borrows its FILE (never closed here). */
#ifndef RECUR_PROGRESS_H
#define RECUR_PROGRESS_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef struct Progress {
    FILE *out;
    bool live;              /* rewrite one line (a terminal) */
    bool dirty;             /* a live line is showing and needs a newline before a message */
    int width;              /* the terminal's columns (live) */
    int64_t total;
    int64_t first_step;     /* the step this run (or resume) started at, for the ETA */
    double t0;              /* monotonic seconds at the start */
    double last;            /* time of the last live redraw */
    struct sigaction old_winch;
} Progress;

/* One report: the step (1-based count of updates done), the epoch (1-based, 0: not shown),
 * the training loss, the validation loss and accuracy (NaN: none) and the training speed. */
typedef struct ProgressReport {
    int64_t step, epoch;
    double loss, val_loss, val_acc, tok_per_s;
} ProgressReport;

/* mode: -1 live when out is a terminal, 0 plain lines, 1 live. Live mode watches SIGWINCH
 * until progress_finish. */
void progress_init(Progress *p, FILE *out, int mode, int64_t first_step, int64_t total);
/* Reports r. Live mode redraws at most 10 times a second unless eval (which also keeps the
 * line); plain mode prints at an evaluation and at least every 30 s. */
void progress_update(Progress *p, const ProgressReport *r, bool eval);
/* Prints a message line without garbling the live line. */
void progress_message(Progress *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Ends the live line and stops watching SIGWINCH. */
void progress_finish(Progress *p);

/* The report text, without a newline. width 0: every field, no bar:
 *   "step 120/5000  epoch 2  loss 1.235  val 1.3  12.3k tok/s  0:12 elapsed  ETA 8:01"
 * (epoch omitted when 0, val and acc when NaN, ETA when unknown). width > 0: a bar after the
 * step, and fields dropped (elapsed, tok/s, epoch, acc, ETA, then the bar shrinks and goes,
 * then val) until the line is shorter than width. Numbers are printed with %.4g. Returns buf. */
char *progress_format(char *buf, size_t n, const ProgressReport *r, int64_t total,
                      double elapsed, double eta, int width);
/* The columns of the terminal behind out (TIOCGWINSZ; else $COLUMNS; else 80). */
int progress_columns(FILE *out);
/* h:mm:ss or m:ss. */
char *progress_duration(char *buf, size_t n, double seconds);
/* Monotonic clock in seconds. */
double progress_now(void);

#endif
