/* rundir: a run directory's advisory lock. One `recur train` at a time writes a directory:
 * it holds flock(2) on DIR/.lock (which holds its PID) for the run's whole life, so a second
 * writer is refused with the holder's PID instead of silently losing one run's checkpoints and
 * log. The lock dies with its process (even on kill -9), so the next holder knows that any
 * `<output>.tmp.XXXXXX` left in DIR (a write the killed run never finished) is stale and removes
 * it.
 *
 * Ownership: a RunLock owns its file descriptor (rundir_unlock closes it). */
#ifndef RECUR_RUNDIR_H
#define RECUR_RUNDIR_H

#include "util/diag.h"

/* The lock file's name inside a run directory. */
#define RUNDIR_LOCK_NAME ".lock"

typedef struct RunLock {
    int fd;                 /* -1: not held */
} RunLock;

/* Takes the lock of the existing directory dir without waiting, writes this process's PID into
 * it and removes stale temporaries of the files in outputs[n] (names inside dir). -1 (reported,
 * naming the holder's PID) when another process holds it, or when it cannot be created. */
int rundir_lock(RunLock *l, const char *dir, const char *const *outputs, int n, Diag *d);
/* Releases the lock (the file stays; an unlocked .lock means nothing). No-op when not held. */
void rundir_unlock(RunLock *l);

#endif
