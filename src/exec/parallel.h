/* parallel: recur's own loops split across OpenMP's threads (the count --threads sets,
 * exec_set_threads), for the elementwise parts of a training step that would otherwise run on
 * one thread while the other waits (the loss head's softmax rows).
 *
 * kern_parallel_for(n, work, fn, ctx) calls fn(ctx, lo, hi) on contiguous ranges that cover
 * [0, n) exactly once: thread t of nt gets [n t / nt, n (t+1) / nt). With fewer than
 * KERN_PAR_MIN_WORK units of work (the caller's estimate, about one per float touched), one
 * thread, or a build without OpenMP, it is fn(ctx, 0, n) on the calling thread. fn must write
 * only what belongs to its range, so the results do not depend on how [0, n) is split as long as
 * each index's computation does not (the callers keep their reductions per fixed block for that
 * reason). Nothing is allocated; ctx is the caller's. */
#ifndef RECUR_EXEC_PARALLEL_H
#define RECUR_EXEC_PARALLEL_H

#include <stddef.h>

/* Fewest work units worth a hand-off to the other threads. The loss head costs about 12 ns per
 * logit on one thread here (2-core AVX2 machine, 2048 x 65 logits: 1.6 ms) against a few
 * microseconds for waking a spinning OpenMP thread; below 32k logits (500 rows of a 65-class
 * head) the split gave nothing measurable (128 and 256 rows: x1.01, under load 4). */
#define KERN_PAR_MIN_WORK 32768.0

void kern_parallel_for(size_t n, double work, void (*fn)(void *ctx, size_t lo, size_t hi),
                       void *ctx);

/* p[0 .. n) = 0, split as kern_parallel_for. */
void kern_parallel_zero(size_t n, float *p);

#endif
