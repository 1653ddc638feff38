/* exec_int: the executor's run-time structures, shared by its parts (exec.c: creation,
 * accessors and state; exec_setup.c: the checks common to every layer; exec_forward.c,
 * exec_loss.c, exec_backward.c: one window forward, the loss, backward; exec_layers.c: the
 * table of per-kind hooks, whose code is in layer_<kind>.c; exec_fused.c: the built-in cells'
 * kernels; exec_bind.c: allocation and tensor binding for the set-up hooks).
 * Internal to src/exec/exec*.c and src/exec/layer_*.c.
 *
 * Ownership: every buffer reachable from an ExecModel is in ExecModel.allocs (exec_own), freed
 * by exec_free; what a layer holds outside it (cell interpreters) its release hook frees. */
#ifndef RECUR_EXEC_INT_H
#define RECUR_EXEC_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "exec/cellvm.h"
#include "exec/dnnl_rnn.h"
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
    OnednnCell onednn;      /* oneDNN's primitive for it (dnnl_rnn.h), used when available */
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

/* Run-time data of one layer. What only one kind needs (weights bound by role, masks, caches,
 * recurrent cells) lives in that kind's own structure behind kind_rt, defined in its
 * layer_<kind>.c file. */
typedef struct LayerRt {
    const IrLayer *L;
    int w;                  /* output width */
    bool seq;               /* [T][B][w] rather than [B][w] */
    float *out, *dout;      /* activations and their gradient (NULL for token layers) */
    int32_t *ids;           /* token layers: the window's ids [T][B] */
    void *kind_rt;          /* the kind's own run-time data, or NULL */
} LayerRt;

/* One layer kind's executor hooks: a row of exec_layer_ops (exec_layers.c), its code in one
 * layer_<kind>.c file. exec_setup_layer has checked the layer's inputs, the facts of its kind
 * (ir.h) and allocated out/dout (or ids) before setup runs. A NULL hook does nothing. */
typedef struct ExecLayerOps {
    /* Checks the layer against its inputs and allocates what it needs. *state_off: where its
     * recurrent cells take their state blocks from (advanced past them). */
    int (*setup)(ExecModel *e, LayerRt *l, int64_t *state_off, Diag *d);
    /* One window forward into l->out (in: the window, read by input layers). */
    int (*forward)(ExecModel *e, LayerRt *l, const ExecInput *in, Diag *d);
    /* Backward from l->dout: parameter gradients and the inputs' gradients accumulate. */
    int (*backward)(ExecModel *e, LayerRt *l, Diag *d);
    /* Frees what exec_own does not hold (cell interpreters); called from exec_free. */
    void (*release)(LayerRt *l);
    /* Hands every named value of the last forward to sink (recur trace); needs a forward
     * on the interpreter (exec_set_force_interpreter). */
    int (*trace)(ExecModel *e, LayerRt *l, ExecTraceFn sink, void *ctx, Diag *d);
    /* room for later hooks: export (ONNX) */
} ExecLayerOps;

/* The hooks of layer kind k; a row of NULLs for a kind outside IrLayerKind (exec_layers.c). */
const ExecLayerOps *exec_layer_ops(IrLayerKind k);

struct ExecModel {
    const IrModel *m;
    int B, max_T, T;
    bool train;             /* the last forward had dropout on */
    bool force_interp, grad_enabled;
    bool trace_tape;        /* the interpreter keeps every value for the window (trace) */
    bool onednn;            /* fused cells run on oneDNN when it is available (default on) */
    bool fwd_grad;          /* the last forward kept what backward needs */
    bool fwd_interp;        /* the last forward ran every cell through the interpreter */
    bool frozen;            /* exec_set_frozen: the parameters are promised not to change */
    unsigned frozen_gen;    /* bumped by every freeze and training forward: token tables built
                               under an older value are stale (token_table.c) */
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
    Rng rng;                /* the dropout generator: one draw per training forward keys
                               the per-stream generators below */
    Rng *srng;              /* [B] this forward's generator of each stream (batch column) */
    int64_t stream0;        /* column 0 is stream stream0 of the global batch */
    void **allocs;          /* every buffer above, freed by exec_free */
    int nallocs;
    size_t allocs_cap;
    bool oom;
};

/* ---- exec_bind.c: what every layer's set-up shares ---- */

/* Zeroed memory owned by e (freed in exec_free); NULL and e->oom set when out of memory. */
void *exec_own(ExecModel *e, size_t n, size_t size);
/* Points *v and *g at layer L's tensor of this role and checks its size (size elements);
 * a missing tensor is an error unless optional (then *v = *g = NULL). -1 with a diagnostic. */
int exec_bind_tensor(ExecModel *e, const IrLayer *L, IrTensorRole role, int64_t size,
                     bool optional, const float **v, float **g, Diag *d);
/* The set-up errors several kinds share; both return -1. */
int exec_width_error(const LayerRt *l, Diag *d);     /* width differs from its input's */
int exec_needs_seq_error(const LayerRt *l, Diag *d); /* needs a sequence input */

/* The run-time data of input k of layer l. */
static inline LayerRt *exec_input_rt(ExecModel *e, const LayerRt *l, int k)
{
    return &e->lr[l->L->inputs[k]];
}

/* Rows of a layer's activation for a window of T steps: T*B for sequences, B after pooling. */
static inline size_t exec_rows_of(const ExecModel *e, const LayerRt *l, int T)
{
    return l->seq ? (size_t)T * e->B : (size_t)e->B;
}

/* Checks layer i against its inputs and allocates what it needs (exec_setup.c); called for
 * i = 0, 1, ... in order. *state_off: where the layer's recurrent cells take their state blocks
 * from (advanced past them). */
int exec_setup_layer(ExecModel *e, int i, int64_t *state_off, Diag *d);

/* ---- token_table.c: x W_ih^T per token, for batch-1 steps on frozen parameters ---- */

/* One recurrent cell's table: row v = (token v's input vector) W_ih^T, [V][G*H]. */
typedef struct TokenTable {
    float *rows;
    int V, width;
    unsigned gen;
    bool built;
} TokenTable;

/* The table row of the token that layer `in` (an embedding or onehot layer fed by token ids)
 * turns into this window's one input vector, or NULL when no table applies (parameters not
 * frozen, gradients on, more than one row, another input kind, or a table over 64 MB). Builds
 * the table first when stale, with the batch-1 path's own products, so that a step from the
 * row gives the same bits as one from W_ih. w_ih [G*H][In]. Owned by t. */
const float *token_table_row(ExecModel *e, TokenTable *t, const LayerRt *in, const float *w_ih,
                             int In, int GH);
void token_table_free(TokenTable *t);
/* layer_embedding.c: whether l maps token ids to rows of a table (embedding: *table is it,
 * [vocab][w]; onehot: *table = NULL, the identity). */
bool exec_token_rows(const LayerRt *l, const float **table);

/* Inverted-dropout mask of rows x w floats (rows = T*B time-major, or B after pooling): row r
 * draws its w entries from the generator of stream r % B (exec_forward.c), so a stream's masks
 * do not depend on which other streams share the batch. */
void exec_dropout_mask(ExecModel *e, size_t rows, int w, float p, float *mask);

#endif
