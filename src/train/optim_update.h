/* optim_update: the per-parameter update loop of Adam / AdamW (optim.c's adam_step), vectorised.
 *
 * Compiled on its own with -fno-math-errno (src/train/Makemodule.am): the second moment v is
 * never negative, so sqrtf never sets errno here anyway, and without that flag GCC keeps a libm
 * call for errno's sake on every element, which stops the loop from being vectorised. The flag
 * changes no result: every element gets exactly the float operations adam_step always did, in
 * the same order (IEEE square root and division, no FMA contraction under -std=c11), so the
 * parameters are bit for bit what the scalar loop gave, on every CPU. Cloned per ISA
 * (target_clones): 16 floats per AVX-512 instruction where the CPU has it. Split across
 * OpenMP's threads in whole 16-float blocks (src/exec/parallel.h), which changes no bit.
 *
 * Nothing is allocated; every buffer is the caller's. */
#ifndef RECUR_OPTIM_UPDATE_H
#define RECUR_OPTIM_UPDATE_H

#include <stdbool.h>
#include <stdint.h>

/* One Adam step's constants (adam_step forms them in double, as PyTorch does in Python). */
typedef struct AdamConsts {
    float b1, b2, omb1, omb2; /* beta1, beta2, 1 - beta1, 1 - beta2 */
    float wd, decay;          /* weight decay; AdamW's factor 1 - lr * wd */
    float step_size, bc2_sqrt; /* lr / (1 - beta1^t), sqrt(1 - beta2^t) */
    bool decoupled;           /* AdamW: p *= decay; Adam: g += wd * p (when wd != 0) */
} AdamConsts;

/* For each of n parameters (torch.optim.Adam / AdamW, amsgrad off):
 *   AdamW: p = p * decay;  Adam: g = g + wd*p   (only when wd != 0)
 *   m = b1*m + (1-b1)*g;  v = b2*v + (1-b2)*g*g;  p = p - step_size * m / (sqrt(v)/bc2 + eps)
 * p, m and v are updated in place; g is only read. */
void optim_adam_update(const AdamConsts *k, float eps, int64_t n, float *p, const float *g,
                       float *m, float *v);

#endif
