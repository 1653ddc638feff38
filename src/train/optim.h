/* optim: optimisers, learning-rate schedules and gradient clipping over flat buffers.
 *
 * The executor keeps every trained tensor in one contiguous float buffer and their gradients in
 * another of the same length n (ARCHITECTURE.md), so an optimiser is a loop over n floats plus
 * its own state buffers, and saving/restoring that state is a copy of those buffers and the step
 * counter. The update rules are PyTorch's (torch.optim, 1.13), element by element, in float32:
 *
 *   SGD      g += wd*p; b = mu*b + g (b = g at t = 1); g = nesterov ? g + mu*b : b; p -= lr*g
 *   Adam     g += wd*p; m = b1*m + (1-b1)*g; v = b2*v + (1-b2)*g^2;
 *            p -= lr/(1-b1^t) * m / (sqrt(v)/sqrt(1-b2^t) + eps)
 *   AdamW    p *= 1 - lr*wd, then Adam without the wd term (decoupled weight decay)
 *   RMSprop  g += wd*p; s = alpha*s + (1-alpha)*g^2; a = sqrt(s) + eps;
 *            momentum > 0: b = mu*b + g/a, p -= lr*b;  otherwise p -= lr*g/a
 *
 * Ownership: an Optim owns its state buffers (optim_init allocates them, optim_free releases
 * them); the parameter and gradient buffers belong to the caller. */
#ifndef RECUR_OPTIM_H
#define RECUR_OPTIM_H

#include <stdbool.h>
#include <stdint.h>

#include "ir/schema.h"   /* OptimKind, OptimConfig, SchedKind, ScheduleConfig, optim_defaults */
#include "util/diag.h"

/* Optimiser state. m and v are n floats each (NULL when the kind does not use them):
 *   SGD: m = momentum buffer;  Adam/AdamW: m = exp_avg, v = exp_avg_sq;
 *   RMSprop: v = square_avg, m = momentum buffer.
 * t counts the updates done so far (Adam's bias correction uses t after incrementing). */
typedef struct Optim {
    OptimConfig cfg;
    int64_t n;
    int64_t t;
    float *m;
    float *v;
} Optim;

/* The spelling of a kind ("sgd", "adam", "adamw", "rmsprop"). */
const char *optim_kind_name(OptimKind k);
/* The names PyTorch's state_dict gives the m and v buffers of kind k (checkpoints use them):
 * exp_avg / exp_avg_sq (Adam, AdamW), momentum_buffer / square_avg (RMSprop), momentum_buffer
 * (SGD, whose v is unused). */
void optim_state_names(OptimKind k, const char **m, const char **v);

/* Allocates zeroed state for n parameters; -1 (and a diagnostic) on bad config or no memory. */
int optim_init(Optim *o, const OptimConfig *cfg, int64_t n, Diag *d);
void optim_free(Optim *o);

/* One update of params with grads at learning rate lr (the scheduled rate for this step).
 * params: [n], grads: [n] (grads is modified when weight decay is L2). Increments o->t. */
void optim_step(Optim *o, float *params, float *grads, double lr);

/* One state buffer of an optimiser: its state_dict name and its n floats. */
enum { OPTIM_MAX_STATE = 2 };
typedef struct OptimStateBuffer {
    const char *name;
    float *data;
    int64_t n;
} OptimStateBuffer;

/* o's state buffers in checkpoint order -- m, then v, only those its configuration uses --
 * named by optim_state_names. Returns how many (0 .. OPTIM_MAX_STATE). The data pointers are
 * o's own buffers (o owns them; valid until optim_free): a checkpoint writer reads them and a
 * reader fills them. */
int optim_state_buffers(const Optim *o, OptimStateBuffer out[OPTIM_MAX_STATE]);
/* Number of floats of state (0, n or 2n): what a checkpoint stores besides t. */
int64_t optim_state_floats(const Optim *o);
/* Copies the state into out [optim_state_floats] (m first, then v) / restores it from in. */
void optim_state_get(const Optim *o, float *out);
void optim_state_set(Optim *o, const float *in);

/* PyTorch clip_grad_norm_: returns the global L2 norm of grads [n] (computed in double); when
 * max_norm > 0 and the norm exceeds it, scales grads by max_norm / (norm + 1e-6). A non-finite
 * norm is returned as is and grads are left untouched (the caller stops the run). */
double optim_clip_grad_norm(float *grads, int64_t n, double max_norm);

/* ---- learning-rate schedules ------------------------------------------------------------ */

/* Learning rate for step s (0-based: the s-th update) given the base rate:
 *   constant  lr = base
 *   step      lr = base * factor^floor(s / every)
 *   cosine    s < warmup: lr = base * (s+1)/warmup;
 *             else p = (s-warmup)/max(1, total-warmup) clamped to [0,1],
 *             lr = base * (min + (1-min) * (1 + cos(pi p))/2) */
double optim_schedule_lr(const ScheduleConfig *s, double base, int64_t step);

#endif
