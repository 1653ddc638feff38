/* optim_update: Adam's per-parameter loop, vectorised (see optim_update.h for why it is a file of
 * its own, compiled with -fno-math-errno). */
#include "train/optim_update.h"

#include "exec/parallel.h"

#include <math.h>

/* How the weight decay enters: not at all, added to the gradient (Adam), or as a factor on the
 * parameter (AdamW). */
enum { DECAY_NONE, DECAY_L2, DECAY_DECOUPLED };

/* Parameter i's update: the formula of optim_update.h, operation for operation as adam_step did
 * it. `decay` is a constant at each call site below, so every loop is free of branches. */
static inline void adam_one(const AdamConsts *k, int decay, float eps, int64_t i,
                            float *restrict p, const float *restrict g, float *restrict m,
                            float *restrict v)
{
    float pi = p[i], gi = g[i];
    if (decay == DECAY_DECOUPLED)
        pi = pi * k->decay;
    if (decay == DECAY_L2)
        gi = gi + k->wd * pi;
    float mi = m[i] = k->b1 * m[i] + k->omb1 * gi;
    float vi = v[i] = k->b2 * v[i] + k->omb2 * (gi * gi);
    float denom = sqrtf(vi) / k->bc2_sqrt + eps;
    p[i] = pi - k->step_size * (mi / denom);
}

/* adam_one over [0, n): blocks of 16 (a trip count the vectoriser maps onto whole registers),
 * then the tail. */
#define ADAM_LOOP(DECAY)                                                                        \
    do {                                                                                        \
        int64_t i = 0;                                                                          \
        for (; i + 16 <= n; i += 16)                                                            \
            for (int l = 0; l < 16; l++)                                                        \
                adam_one(&c, DECAY, eps, i + l, p, g, m, v);                                    \
        for (; i < n; i++)                                                                      \
            adam_one(&c, DECAY, eps, i, p, g, m, v);                                            \
    } while (0)

/* The loop for k's kind of decay. Static, behind the plain wrapper below: clang 14 names a
 * non-static target_clones function's resolver so that other files cannot link to it. */
__attribute__((target_clones("avx512f", "avx2", "default"))) static void
adam_update(const AdamConsts *k, float eps, int64_t n, float *restrict p, const float *restrict g,
            float *restrict m, float *restrict v)
{
    const AdamConsts c = *k;
    if (c.wd == 0)
        ADAM_LOOP(DECAY_NONE);
    else if (c.decoupled)
        ADAM_LOOP(DECAY_DECOUPLED);
    else
        ADAM_LOOP(DECAY_L2);
}

/* What each thread's share of the update reads. */
typedef struct AdamJob {
    const AdamConsts *k;
    float eps;
    int64_t n;
    float *p, *m, *v;
    const float *g;
} AdamJob;

/* The update of blocks [lo, hi) of 16 parameters (the last block may be short). */
static void adam_blocks(void *ctx, size_t lo, size_t hi)
{
    const AdamJob *j = ctx;
    int64_t a = (int64_t)lo * 16, b = (int64_t)hi * 16 < j->n ? (int64_t)hi * 16 : j->n;
    adam_update(j->k, j->eps, b - a, j->p + a, j->g + a, j->m + a, j->v + a);
}

/* Split across the threads in whole blocks of 16 (parallel.h): every parameter gets the same
 * operations wherever it falls, so the result does not depend on the thread count. A square
 * root and two divisions a parameter make this loop cost several floats' worth of work each. */
void optim_adam_update(const AdamConsts *k, float eps, int64_t n, float *p, const float *g,
                       float *m, float *v)
{
    AdamJob j = { k, eps, n, p, m, v, g };
    kern_parallel_for((size_t)((n + 15) / 16), 8.0 * (double)n, adam_blocks, &j);
}
