/* parallel: contiguous ranges of a loop across OpenMP's threads (parallel.h). Built with OpenMP
 * (libmatvec's flags) so that the files calling it need not be. */
#include "exec/parallel.h"

#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#endif

/* One range per thread when the work pays for the hand-off, else the whole loop here. */
void kern_parallel_for(size_t n, double work, void (*fn)(void *ctx, size_t lo, size_t hi),
                       void *ctx)
{
    if (n == 0)
        return;
#ifdef _OPENMP
    int nth = work >= KERN_PAR_MIN_WORK ? omp_get_max_threads() : 1;
    if ((size_t)nth > n)
        nth = (int)n;
    if (nth > 1) {
#pragma omp parallel num_threads(nth)
        {
            size_t t = (size_t)omp_get_thread_num(), nt = (size_t)omp_get_num_threads();
            fn(ctx, n * t / nt, n * (t + 1) / nt);
        }
        return;
    }
#else
    (void)work;
#endif
    fn(ctx, 0, n);
}

/* Zeroes floats [lo, hi) of the buffer ctx. */
static void zero_range(void *ctx, size_t lo, size_t hi)
{
    memset((float *)ctx + lo, 0, (hi - lo) * sizeof(float));
}

/* A gradient buffer is zeroed before every training window (1.8 MB at LSTM H128 B32 T64:
 * 86 us of a 7 ms step on one thread), so it is split like any other loop. */
void kern_parallel_zero(size_t n, float *p)
{
    kern_parallel_for(n, (double)n, zero_range, p);
}
