/* mvpool: persistent worker threads with per-thread chunk ranges and stealing (mvpool.h).
 *
 * A job is published by writing its function, context and one 64-bit word per range, then
 * bumping the generation `gen` (the futex word sleeping workers wait on). A range word is
 * gen:32 | next:16 | end:16; its owner claims chunk `next` from the front, a thief chunk
 * `end - 1` from the back, both with one compare-and-swap that also checks the generation, so
 * a worker that wakes late (after the job it woke for is over) claims nothing. */
#define _GNU_SOURCE
#include "exec/mvpool.h"

#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

#ifdef __linux__
#include <linux/futex.h>
#include <sys/syscall.h>
#endif
#ifdef _OPENMP
#include <omp.h>
#endif

/* A range word on its own cache line (owner and thieves write it). */
typedef struct {
    _Atomic uint64_t w;
    char pad[64 - sizeof(uint64_t)];
} MvRange;

static struct {
    pthread_mutex_t lock;          /* held by the one caller whose job the pool runs */
    int nworkers;                  /* workers created so far (indices 1..nworkers) */
    _Atomic unsigned gen;          /* the current job's generation (futex word) */
    _Atomic int nsleep;            /* workers asleep on gen */
    _Atomic int nth;               /* threads of the current job (ranges 0..nth-1) */
    _Atomic(MvPoolFn) fn;          /* the current job */
    void *_Atomic ctx;
    _Atomic int done;              /* chunks of the current job finished */
    MvRange range[MVPOOL_MAX_THREADS];
} P = { .lock = PTHREAD_MUTEX_INITIALIZER };

/* Nanoseconds on the monotonic clock. */
static long long now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

/* A hint to the CPU that this is a spin loop. */
static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

/* Sleeps while *word == seen (a spurious return is fine: callers re-check). */
static void futex_wait(_Atomic unsigned *word, unsigned seen)
{
#ifdef __linux__
    syscall(SYS_futex, (unsigned *)word, FUTEX_WAIT_PRIVATE, seen, NULL, NULL, 0);
#else
    (void)word, (void)seen;
    struct timespec ts = { 0, 50000 };
    nanosleep(&ts, NULL);
#endif
}

/* Wakes every thread sleeping on word. */
static void futex_wake_all(_Atomic unsigned *word)
{
#ifdef __linux__
    syscall(SYS_futex, (unsigned *)word, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
#else
    (void)word;
#endif
}

int mvpool_threads(void)
{
#ifdef _OPENMP
    if (omp_in_parallel())
        return 1;
    int n = omp_get_max_threads();
    return n < 1 ? 1 : n > MVPOOL_MAX_THREADS ? MVPOOL_MAX_THREADS : n;
#else
    return 1;
#endif
}

/* Claims one chunk of range v of job g: from the front (owner) or the back (thief); -1 when
 * the range is empty or belongs to another job. */
static int claim(int v, uint32_t g, int thief)
{
    uint64_t cur = atomic_load_explicit(&P.range[v].w, memory_order_acquire);
    for (;;) {
        unsigned next = (unsigned)(cur >> 16) & 0xffffu, end = (unsigned)cur & 0xffffu;
        if ((uint32_t)(cur >> 32) != g || next >= end)
            return -1;
        uint64_t want = thief ? cur - 1 : cur + (1u << 16);
        if (atomic_compare_exchange_weak_explicit(&P.range[v].w, &cur, want,
                                                  memory_order_acq_rel, memory_order_acquire))
            return (int)(thief ? end - 1 : next);
    }
}

/* Thread t's part of job g: its own range front to back, then the others' from their backs. */
static void run_chunks(int t, uint32_t g, int nth, MvPoolFn fn, void *ctx)
{
    for (int k = 0; k < nth; k++) {
        int v = (t + k) % nth, c;
        while ((c = claim(v, g, k > 0)) >= 0) {
            fn(ctx, c);
            atomic_fetch_add_explicit(&P.done, 1, memory_order_release);
        }
    }
}

/* Waits for a generation other than seen: spins MVPOOL_SPIN_NS, then sleeps on the futex. */
static unsigned wait_job(unsigned seen)
{
    long long t0 = now_ns();
    for (long i = 0;; i++) {
        unsigned g = atomic_load_explicit(&P.gen, memory_order_acquire);
        if (g != seen)
            return g;
        if ((i & 255) == 255 && now_ns() - t0 > MVPOOL_SPIN_NS)
            break;
        cpu_relax();
    }
    unsigned g;
    atomic_fetch_add(&P.nsleep, 1); /* seq_cst: pairs with the caller's store of gen */
    while ((g = atomic_load(&P.gen)) == seen)
        futex_wait(&P.gen, seen);
    atomic_fetch_sub(&P.nsleep, 1);
    return g;
}

/* A worker: index t (1..); runs its part of every job it sees, forever. */
static void *worker(void *arg)
{
    int t = (int)(intptr_t)arg;
    unsigned seen = atomic_load(&P.gen);
    for (;;) {
        seen = wait_job(seen);
        int nth = atomic_load_explicit(&P.nth, memory_order_relaxed);
        MvPoolFn fn = atomic_load_explicit(&P.fn, memory_order_relaxed);
        void *ctx = atomic_load_explicit(&P.ctx, memory_order_relaxed);
        if (t < nth)
            run_chunks(t, seen, nth, fn, ctx);
    }
    return NULL;
}

/* Creates workers until there are want (with every signal blocked: they belong to the
 * program's main thread); returns how many exist. Called with P.lock held. */
static int ensure_workers(int want)
{
    if (P.nworkers >= want)
        return want;
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    while (P.nworkers < want) {
        pthread_t th;
        pthread_attr_t at;
        pthread_attr_init(&at);
        pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
        int rc = pthread_create(&th, &at, worker, (void *)(intptr_t)(P.nworkers + 1));
        pthread_attr_destroy(&at);
        if (rc != 0)
            break;
        P.nworkers++;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return P.nworkers < want ? P.nworkers : want;
}

/* Publishes job g over nth ranges (chunk ranges as even as integers allow) and wakes sleepers. */
static void publish(uint32_t g, int nth, int nchunks, MvPoolFn fn, void *ctx)
{
    atomic_store_explicit(&P.fn, fn, memory_order_relaxed);
    atomic_store_explicit(&P.ctx, ctx, memory_order_relaxed);
    atomic_store_explicit(&P.nth, nth, memory_order_relaxed);
    atomic_store_explicit(&P.done, 0, memory_order_relaxed);
    for (int v = 0; v < nth; v++) {
        uint64_t lo = (uint64_t)nchunks * v / nth, hi = (uint64_t)nchunks * (v + 1) / nth;
        atomic_store_explicit(&P.range[v].w, (uint64_t)g << 32 | lo << 16 | hi,
                              memory_order_relaxed);
    }
    atomic_store(&P.gen, g); /* seq_cst: publishes the above, pairs with nsleep */
    if (atomic_load(&P.nsleep) > 0)
        futex_wake_all(&P.gen);
}

void mvpool_run(int nchunks, MvPoolFn fn, void *ctx)
{
    int nth = mvpool_threads();
    if (nth > nchunks)
        nth = nchunks;
    if (nth > 1 && nchunks <= 0xffff && pthread_mutex_trylock(&P.lock) == 0) {
        nth = ensure_workers(nth - 1) + 1;
        if (nth > 1) {
            uint32_t g = atomic_load_explicit(&P.gen, memory_order_relaxed) + 1u;
            publish(g, nth, nchunks, fn, ctx);
            run_chunks(0, g, nth, fn, ctx);
            /* every chunk is claimed: wait for those a worker is still running */
            for (long i = 0; atomic_load_explicit(&P.done, memory_order_acquire) < nchunks; i++)
                if (i < 4096)
                    cpu_relax();
                else
                    sched_yield();
            pthread_mutex_unlock(&P.lock);
            return;
        }
        pthread_mutex_unlock(&P.lock);
    }
    for (int c = 0; c < nchunks; c++)
        fn(ctx, c);
}
