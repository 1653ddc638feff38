/* mvpool: recur's own persistent threads for the batch-1 matrix-vector path (matvec.h) and the
 * batch-1 recurrent steps built on it (kern_lstm_forward at B = 1).
 *
 * Why not OpenMP: a token of batch-1 generation is a handful of products of a few microseconds
 * each, so the hand-off per product is what 2 threads cost or save. An OpenMP region either
 * spins (GOMP_SPINCOUNT: fast on a quiet machine, and on a loaded one the thread waited for is
 * descheduled while the others spin) or sleeps (OMP_WAIT_POLICY=PASSIVE: a futex wake-up and a
 * scheduler delay per region). Here the work is cut into chunks; each thread owns a contiguous
 * range of them (so on a quiet machine each thread's weight rows are touched by that thread
 * alone) and, when its range is done, takes the chunks not yet started from the others' ranges.
 * The calling thread never waits for a worker that has not started: a late or descheduled
 * worker costs at most the chunk it is in, and 2 threads are never much slower than 1. Workers
 * spin a short time (MVPOOL_SPIN_NS) after each job, then sleep on a futex.
 *
 * Results do not depend on who runs a chunk, so a chunk function whose outputs depend only on
 * its chunk index gives bit-identical results at any thread count and from run to run.
 * The thread count is OpenMP's (what --threads sets, exec_set_threads); without OpenMP in the
 * build everything runs on the calling thread. Concurrent callers are safe: one uses the pool,
 * the others run their chunks themselves. The pool's threads are created on first use and live
 * until the process ends; nothing here allocates per call, and nothing is returned to own. */
#ifndef RECUR_EXEC_MVPOOL_H
#define RECUR_EXEC_MVPOOL_H

/* Most threads the pool runs (the calling thread included). */
#define MVPOOL_MAX_THREADS 64
/* How long an idle worker spins for the next job before it sleeps: a token's products follow
 * each other within microseconds, the next token within tens. */
#define MVPOOL_SPIN_NS 200000L

/* One chunk of a job: fn(ctx, chunk) for chunk in 0..nchunks-1, in any order, on any thread. */
typedef void (*MvPoolFn)(void *ctx, int chunk);

/* The number of threads a job would run on now (1 without OpenMP or inside a parallel region). */
int mvpool_threads(void);

/* Runs fn on every chunk, spread over mvpool_threads() threads, and returns when all are done.
 * nchunks may be any count >= 0 (at most 65535). */
void mvpool_run(int nchunks, MvPoolFn fn, void *ctx);

#endif
