/* rng: the one seeded random number generator of recur (xoshiro256**, seeded by splitmix64).
 *
 * Every random choice (weight initialisation, dropout masks, data order, generated tasks,
 * sampling) draws from an Rng whose whole state is four words, so a checkpoint can store it and
 * a resumed run continues the exact same sequence. Rng values are plain structs owned by the
 * caller; nothing here allocates. */
#ifndef RECUR_RNG_H
#define RECUR_RNG_H

#include <stdint.h>

typedef struct Rng {
    uint64_t s[4];
} Rng;

/* Seeds the generator deterministically from one 64-bit seed. */
void rng_seed(Rng *r, uint64_t seed);
/* Next 64 random bits. */
uint64_t rng_next(Rng *r);
/* Uniform double in [0, 1) with 53 random bits. */
double rng_uniform(Rng *r);
/* Uniform integer in [0, n) without modulo bias; n must be > 0. */
uint64_t rng_below(Rng *r, uint64_t n);
/* Standard normal deviate (Box-Muller; uses two uniforms per call, no cached spare, so the
 * state alone determines the sequence). */
double rng_normal(Rng *r);

#endif
