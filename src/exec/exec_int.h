/* exec_int: the executor's run-time structures, shared by its parts (exec.c: creation,
 * accessors and state; exec_setup.c: checking layers and binding them to parameters and buffers;
 * exec_forward.c, exec_loss.c, exec_backward.c: one window forward, the loss, backward).
 * Internal to src/exec/exec*.c.
 *
 * Ownership: every buffer reachable from an ExecModel is in ExecModel.allocs (exec_own), freed
 * by exec_free; the interpreters of RecCell.vm are freed there too. */
#ifndef RECUR_EXEC_INT_H
#define RECUR_EXEC_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "exec/cellvm.h"
#include "exec/exec.h"
#include "exec/kernels.h"

/* IrActivation and IrPool list their values in the same order as KernAct and KernPool, so the
 * executor converts them with a cast. */
_Static_assert((int)IR_ACT_SIGMOID == (int)KERN_ACT_SIGMOID &&
               (int)IR_ACT_RELU == (int)KERN_ACT_RELU && (int)IR_ACT_TANH == (int)KERN_ACT_TANH,
               "activation enums differ");
_Static_assert((int)IR_POOL_MAX == (int)KERN_POOL_MAX && (int)IR_POOL_MEAN == (int)KERN_POOL_MEAN,
               "pool enums differ");

/* A built-in cell's fused kernel (kernels.h). gates == 0: none (IR_CELL_USER). */
typedef struct FusedCell {
    int gates;              /* G: weight_ih is [G*H][I], weight_hh [G*H][H], biases [G*H] */
    bool has_c;             /* a second state c beside h (the LSTM) */
    size_t (*cache_floats)(int T, int B, int H, bool train);
    size_t (*work_floats)(int T, int B, int H);
    void (*forward)(KernRecShape sh, bool train, const float *x, KernStateIn s0,
                    KernRecWeights w, float *y, KernStateOut sT, float *cache);
    void (*backward)(KernRecShape sh, const float *x, KernRecWeights w, const float *cache,
                     const float *dy, KernDStateIn dsT, float *dx, KernDStateOut ds0,
                     KernRecGrads dw, float *work);
} FusedCell;

/* One row per IrBuiltin (exec_fused.c). */
extern const FusedCell exec_fused_cells[IR_CELL_COUNT];

/* One cell of a recurrent layer: one stacked level, one direction. */
typedef struct RecCell {
    const IrCell *c;
    int in_w, H;            /* input width, output width */
    const FusedCell *fused; /* its kernel (exec_fused_cells), or NULL: the interpreter */
    const float **p;        /* per cell param: its values (into the parameter buffer) */
    float **dp;             /* per cell param: its gradient */
    int B;
    int wih, whh, bih, bhh; /* fused: cell param indices (-1: absent bias) */
    int off_h, off_c;       /* fused: offsets of h and c in a state block (-1: none) */
    CellVm *vm;             /* interpreter (when not fused) */
    float *cache, *work;    /* fused kernel cache and backward workspace */
    float *y, *dy;          /* [T][B][H] */
    float *s0, *sT, *ds0;   /* state blocks (views into ExecModel.state, .fin, .dstate) */
    float *dsT;             /* gradient of the final state block (view into ExecModel.dfin) */
    int sfloats;
} RecCell;

/* Run-time data of one layer. */
typedef struct LayerRt {
    const IrLayer *L;
    int w;                  /* output width */
    bool seq;               /* [T][B][w] rather than [B][w] */
    float *out, *dout;      /* activations and their gradient (dout NULL for token layers) */
    int32_t *ids;           /* input tokens: the window's ids [T][B] */
    float *mask;            /* dropout: [T][B][w] */
    float *mean, *rstd;     /* layernorm: [T*B] */
    int32_t *argmax;        /* pool max: [B][w] */
    float *work;            /* dense backward workspace */
    const float *wt, *bias; /* embedding/dense/layernorm parameters */
    float *dwt, *dbias;
    /* recurrent */
    RecCell *cells;         /* ncells = nlev * ndir, ordered l0, l0_reverse, l1, ... */
    int nlev, ndir;
    float **lev_y, **lev_dy;    /* per level [T][B][ndir*H] (the last level is out/dout) */
    float **lev_mask;           /* per level > 0: dropout mask on its input [T][B][in_w] */
    float **lev_x, **lev_dx;    /* per level > 0: the input after dropout and its gradient */
} LayerRt;

struct ExecModel {
    const IrModel *m;
    int B, max_T, T;
    bool train;             /* the last forward had dropout on */
    bool force_interp, grad_enabled;
    bool fwd_grad;          /* the last forward kept what backward needs */
    bool fwd_interp;        /* the last forward ran every cell through the interpreter */
    float *params, *grads;
    int64_t nparams;
    ExecTensor *tensors;
    int ntensors;
    LayerRt *lr;
    float *state, *fin, *dstate;  /* carried initial states, final states, d initial */
    float *dfin;            /* d final states (zero unless a caller sets it) */
    int64_t state_floats;
    bool carry;             /* fin holds the state the next window starts from */
    int32_t *lengths;       /* [B] of the last forward */
    bool has_lengths;
    float *lossmask;        /* [max_T*B] */
    bool fused_softmax;     /* the last exec_loss seeded the softmax's input directly */
    Rng rng;
    void **allocs;          /* every buffer above, freed by exec_free */
    int nallocs, allocs_cap;
    bool oom;
};

/* Zeroed memory owned by e (freed in exec_free); NULL and e->oom set when out of memory. */
void *exec_own(ExecModel *e, size_t n, size_t size);

/* Rows of a layer's activation for a window of T steps: T*B for sequences, B after pooling. */
static inline size_t exec_rows_of(const ExecModel *e, const LayerRt *l, int T)
{
    return l->seq ? (size_t)T * e->B : (size_t)e->B;
}

/* Whether this cell runs its fused kernel now (it can, and the interpreter is not forced). */
static inline bool exec_use_kernel(const ExecModel *e, const RecCell *rc)
{
    return rc->fused && !e->fwd_interp;
}

/* The shape of rc's fused kernel call over the current window. */
static inline KernRecShape exec_cell_shape(const ExecModel *e, const RecCell *rc)
{
    return (KernRecShape){ e->T, e->B, rc->in_w, rc->H, rc->c->reverse };
}

/* rc's weights for its fused kernel (absent biases NULL). */
static inline KernRecWeights exec_cell_weights(const RecCell *rc)
{
    return (KernRecWeights){ rc->p[rc->wih], rc->p[rc->whh],
                             rc->bih >= 0 ? rc->p[rc->bih] : NULL,
                             rc->bhh >= 0 ? rc->p[rc->bhh] : NULL };
}

/* Checks layer i against its inputs and allocates what it needs (exec_setup.c); called for
 * i = 0, 1, ... in order. *state_off: where the layer's recurrent cells take their state blocks
 * from (advanced past them). */
int exec_setup_layer(ExecModel *e, int i, int64_t *state_off, Diag *d);

#endif
