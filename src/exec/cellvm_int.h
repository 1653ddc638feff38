/* cellvm_int: what the cell interpreter's files share (not part of the public interface): the
 * CellVm itself, the view of an operand over rows, and the per-op row kernels of cellvm_ops.c.
 * The memory plan the fields follow is described at the top of cellvm.c. */
#ifndef RECUR_EXEC_CELLVM_INT_H
#define RECUR_EXEC_CELLVM_INT_H

#include "exec/cellvm.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct CellVm {
    const IrCell *c;
    int B, max_T, T;        /* T: steps of the recorded window (0: none yet) */
    float **val, **grad;    /* per node: its tapes (NULL for PARAM; see the plan in cellvm.c) */
    bool *dep;              /* per node: depends on a state (recomputed) */
    bool *win;              /* per node: a window node (evaluated once over the window) */
    bool *keep;             /* per node: its value is kept for the window in any case */
    bool *vfull, *gfull;    /* per node: value / gradient tape spans the window */
    bool *split_fwd, *split_bwd; /* per node: its forward / backward may run on part of a
                             * step's rows (the rows split across threads: cellvm.c's run_list) */
    int *list;              /* the step's node orders, made by plan_lists: */
    int nfwd, nrec, nbwd;   /* forward (list), recompute (list + nfwd), backward (+ nfwd + nrec) */
    bool full_tape;         /* every value kept for the window (cellvm_set_full_tape) */
    int *state_off;         /* per state: offset in a state block */
    int state_floats;
    float **wt;             /* per param: W^T [cols][rows] for the per-step MATVECs (NULL: none),
                             * filled by each forward (cellvm_ops.c, cellvm_transpose_weights) */
    const float *const *params; /* the forward's param pointers (kept for backward) */
    float *const *dparams;      /* set during backward */
    const float *x;         /* the forward's input, [T][B][I] */
    const int32_t *len;     /* per example: valid steps (cellvm_set_lengths), or NULL */
};

/* An operand seen as a matrix over rows: element (r, j) is p[r*rs + j*cs]. rs = 0 broadcasts a
 * param vector over the rows, cs = 0 broadcasts a width-1 value (a scalar) over the columns. */
typedef struct Opnd {
    float *p;
    int rs, cs;
} Opnd;

#define AT(o, r, j) ((o).p[(size_t)(r) * (o).rs + (size_t)(j) * (o).cs])

/* Steps held by a gradient ring (see the plan in cellvm.c). */
enum { GRAD_RING = 3 };

/* Width of node n as an elementwise operand. */
static inline int node_width(const CellVm *vm, int n) { return vm->c->nodes[n].width; }

/* Node n's values from row r0 on; a node kept for one step only holds row r0 at r0 % B (its
 * one step's buffer), so a kernel may start anywhere inside a step. */
static inline float *val_at(const CellVm *vm, int n, int r0)
{
    return vm->val[n] + (size_t)(vm->vfull[n] ? r0 : r0 % vm->B) * node_width(vm, n);
}

/* Node n's gradients from row r0 on (for a ring: row r0 % B of the slot of step r0 / B). */
static inline float *grad_at(const CellVm *vm, int n, int r0)
{
    int r = vm->gfull[n] ? r0 : (r0 / vm->B) % GRAD_RING * vm->B + r0 % vm->B;
    return vm->grad[n] + (size_t)r * node_width(vm, n);
}

/* A row kernel: node n's forward or backward over rows r0 .. r0 + nr. */
typedef void (*CellOpFn)(CellVm *vm, int n, int r0, int nr);

/* Per IrOpKind: the forward and backward row kernels (cellvm_ops.c, from ops.def). */
extern const CellOpFn cellvm_op_fwd[IR_OP_COUNT];
extern const CellOpFn cellvm_op_bwd[IR_OP_COUNT];

/* Whether the row kernel of op computes every row by itself (no GEMM, no state copy), so that a
 * step's rows may be split across threads for it. */
bool cellvm_rowwise_op(IrOpKind op);

/* Fills vm->wt from vm->params for this forward (the per-step products then run as A B rather
 * than A B^T, which oneDNN's sgemm does 3x faster at 32 x 2048, K 512). */
void cellvm_transpose_weights(CellVm *vm);

#endif
