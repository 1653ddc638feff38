/* layer_recurrent: rnn/lstm/gru and user cells -- num_layers stacked levels, each of one or two
 * directions (IrLayer.cells: l0, l0_reverse, l1, ...), dropout between levels while training
 * (as PyTorch), directions concatenated forward then reverse. A built-in cell with PyTorch's
 * params and states runs fused (exec_fused.c): on its oneDNN primitive (dnnl_rnn.h) when
 * available and the window has at least EXEC_ONEDNN_MIN_ROWS rows and EXEC_ONEDNN_MIN_STEPS
 * steps, else on recur's own kernel;
 * any cell can run on the interpreter (cellvm.h), which exec_set_force_interpreter selects for
 * all. Backward follows the engine its forward ran on. */
#include <stdio.h>
#include <string.h>

#include "exec/cellvm.h"
#include "exec/exec_int.h"
#include "exec/layer_kinds.h"
#include "exec/parallel.h"

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
    CellVm *vm;             /* interpreter (built when first needed) */
    OnednnRnn *dn;          /* oneDNN primitive (built when first needed) */
    bool fwd_dn;            /* the last forward ran on dn */
    float *cache, *work;    /* fused kernel cache and backward workspace */
    float *y, *dy;          /* [T][B][H] */
    float *s0, *sT, *ds0;   /* state blocks (views into ExecModel.state, .fin, .dstate) */
    float *dsT;             /* gradient of the final state block (view into ExecModel.dfin) */
    int sfloats;
    const int32_t *len;     /* this window's sequence lengths (ExecInput.packed), or NULL */
    const LayerRt *level0_in; /* level 0: the layer's input (for its token table), else NULL */
    TokenTable xtab;        /* level 0 on frozen parameters: x W_ih^T per token */
} RecCell;

/* The layer's cells and the buffers between its levels. */
typedef struct RecurrentRt {
    RecCell *cells;             /* ncells = nlev * ndir, ordered l0, l0_reverse, l1, ... */
    int nlev, ndir;
    float **lev_y, **lev_dy;    /* per level [T][B][ndir*H] (the last level is out/dout) */
    float **lev_mask;           /* per level > 0: dropout mask on its input [T][B][in_w] */
    float **lev_x, **lev_dx;    /* per level > 0: the input after dropout and its gradient */
    int32_t *len;               /* [B]: the packed window's lengths, kept for the backward */
} RecurrentRt;

/* ---- set-up ------------------------------------------------------------------------------ */

/* Index of the cell param or state with this name, or -1. */
static int cell_param(const IrCell *c, const char *name)
{
    for (int i = 0; i < c->nparams; i++)
        if (c->params[i].name && strcmp(c->params[i].name, name) == 0)
            return i;
    return -1;
}
static int cell_state(const IrCell *c, const char *name)
{
    for (int i = 0; i < c->nstates; i++)
        if (c->states[i].name && strcmp(c->states[i].name, name) == 0)
            return i;
    return -1;
}

/* Offset of state k in a cell's state block ([nstates][B][width], states in cell order);
 * k = nstates gives the block's size. */
static int state_offset(const IrCell *c, int B, int k)
{
    int off = 0;
    for (int s = 0; s < k; s++)
        off += B * c->states[s].width;
    return off;
}

/* Decides whether a built-in cell can run on its fused kernel: PyTorch's params with the
 * expected shapes and the states h (and c for the LSTM). Otherwise the interpreter runs it. */
static bool can_fuse(RecCell *rc, IrBuiltin kind)
{
    const IrCell *c = rc->c;
    if ((unsigned)kind >= IR_CELL_COUNT || !exec_fused_cells[kind].gates)
        return false;
    const FusedCell *f = &exec_fused_cells[kind];
    int G = f->gates, H = rc->H, I = rc->in_w;
    if (c->nstates != (f->has_c ? 2 : 1))
        return false;
    rc->wih = cell_param(c, "weight_ih");
    rc->whh = cell_param(c, "weight_hh");
    rc->bih = cell_param(c, "bias_ih");
    rc->bhh = cell_param(c, "bias_hh");
    if (rc->wih < 0 || rc->whh < 0)
        return false;
    const IrParam *p = c->params;
    if (p[rc->wih].rows != G * H || p[rc->wih].cols != I || p[rc->whh].rows != G * H ||
        p[rc->whh].cols != H)
        return false;
    if ((rc->bih >= 0 && (p[rc->bih].rows != 0 || p[rc->bih].cols != G * H)) ||
        (rc->bhh >= 0 && (p[rc->bhh].rows != 0 || p[rc->bhh].cols != G * H)))
        return false;
    int sh = cell_state(c, "h"), sc = cell_state(c, "c");
    if (sh < 0 || c->states[sh].width != H || (f->has_c && sc < 0))
        return false;
    rc->off_h = state_offset(c, rc->B, sh);
    rc->off_c = f->has_c ? state_offset(c, rc->B, sc) : -1;
    return true;
}

/* Points each cell param at its tensor's values and gradient; -1 with a diagnostic. */
static int bind_cell_params(ExecModel *e, const IrLayer *L, RecCell *rc, Diag *d)
{
    const IrCell *c = rc->c;
    rc->p = exec_own(e, c->nparams, sizeof *rc->p);
    rc->dp = exec_own(e, c->nparams, sizeof *rc->dp);
    if (e->oom)
        return -1;
    for (int i = 0; i < c->nparams; i++) {
        int t = c->params[i].tensor;
        int64_t sz = (int64_t)(c->params[i].rows ? c->params[i].rows : 1) * c->params[i].cols;
        if (t < 0 || t >= e->ntensors || e->tensors[t].size != sz) {
            diag_error_in(d, L->label, "cell param '%s' has no tensor of %lld elements",
                          c->params[i].name, (long long)sz);
            return -1;
        }
        rc->p[i] = e->params + e->tensors[t].offset;
        rc->dp[i] = e->grads + e->tensors[t].offset;
    }
    return 0;
}

/* Sets up cell k (level k / ndir) reading want_in features: params, its state blocks, its own
 * output buffers when bidirectional, and its kernel buffers or interpreter. */
static int setup_cell(ExecModel *e, LayerRt *l, int k, int want_in, int64_t *state_off,
                      Diag *d)
{
    RecurrentRt *r = l->kind_rt;
    const IrLayer *L = l->L;
    RecCell *rc = &r->cells[k];
    const IrCell *c = &L->cells[k];
    size_t TB = (size_t)e->max_T * e->B;
    rc->c = c;
    rc->in_w = c->input_width;
    if (c->output < 0 || c->output >= c->nnodes || c->input_width != want_in ||
        (rc->H = c->nodes[c->output].width) != L->size) {
        diag_error_in(d, L->label, "cell %d does not fit the layer's widths", k);
        return -1;
    }
    rc->B = e->B;
    if (bind_cell_params(e, L, rc, d))
        return -1;
    rc->sfloats = state_offset(c, e->B, c->nstates);
    rc->s0 = e->state + *state_off;
    rc->sT = e->fin + *state_off;
    rc->ds0 = e->dstate + *state_off;
    rc->dsT = e->dfin + *state_off;
    *state_off += rc->sfloats;
    if (r->ndir == 2) { /* one direction writes straight into its level's buffers */
        rc->y = exec_own(e, TB * rc->H, sizeof(float));
        rc->dy = exec_own(e, TB * rc->H, sizeof(float));
    }
    rc->fused = can_fuse(rc, L->builtin) ? &exec_fused_cells[L->builtin] : NULL;
    rc->level0_in = rc->fused && k / r->ndir == 0 ? exec_input_rt(e, l, 0) : NULL;
    /* the interpreter's tape is large (cellvm.h): built only when needed,
     * here for cells without a kernel (checking the cell now), else on first use */
    if (!rc->fused && !(rc->vm = cellvm_create(c, e->B, e->max_T, d)))
        return -1;
    if (rc->fused) {
        rc->cache = exec_own(e, rc->fused->cache_floats(e->max_T, e->B, rc->H, true),
                             sizeof(float));
        rc->work = exec_own(e, rc->fused->work_floats(e->max_T, e->B, rc->H), sizeof(float));
    }
    return e->oom ? -1 : 0;
}

/* The buffers between levels; the last level writes the layer's out/dout. */
static int setup_levels(ExecModel *e, LayerRt *l)
{
    RecurrentRt *r = l->kind_rt;
    size_t TB = (size_t)e->max_T * e->B;
    for (int lev = 0; lev < r->nlev; lev++) {
        if (lev == r->nlev - 1) {
            r->lev_y[lev] = l->out;
            r->lev_dy[lev] = l->dout;
        } else {
            r->lev_y[lev] = exec_own(e, TB * l->w, sizeof(float));
            r->lev_dy[lev] = exec_own(e, TB * l->w, sizeof(float));
        }
        if (r->ndir == 1) {
            r->cells[lev].y = r->lev_y[lev];
            r->cells[lev].dy = r->lev_dy[lev];
        }
        if (lev > 0) {
            r->lev_mask[lev] = exec_own(e, TB * l->w, sizeof(float));
            r->lev_x[lev] = exec_own(e, TB * l->w, sizeof(float));
            r->lev_dx[lev] = exec_own(e, TB * l->w, sizeof(float));
        }
    }
    return e->oom ? -1 : 0;
}

/* Sets up the cells of a recurrent layer: params bound to tensors, interpreter prepared for
 * user cells (exec_set_force_interpreter can switch built-ins at any time), kernel buffers for
 * built-ins. */
static int recurrent_setup(ExecModel *e, LayerRt *l, int64_t *state_off, Diag *d)
{
    const IrLayer *L = l->L;
    const LayerRt *in = exec_input_rt(e, l, 0);
    if (!in->seq || !l->seq)
        return exec_needs_seq_error(l, d);
    RecurrentRt *r = exec_own(e, 1, sizeof *r);
    if (!r)
        return -1;
    l->kind_rt = r;
    r->ndir = L->bidirectional ? 2 : 1;
    r->nlev = L->num_layers;
    if (r->nlev < 1 || L->ncells != r->nlev * r->ndir || l->w != r->ndir * L->size) {
        diag_error_in(d, L->label, "recurrent layer has %d cells for %d layers", L->ncells,
                      r->nlev);
        return -1;
    }
    r->cells = exec_own(e, L->ncells, sizeof *r->cells);
    r->lev_y = exec_own(e, r->nlev, sizeof(float *));
    r->lev_dy = exec_own(e, r->nlev, sizeof(float *));
    r->lev_mask = exec_own(e, r->nlev, sizeof(float *));
    r->lev_x = exec_own(e, r->nlev, sizeof(float *));
    r->lev_dx = exec_own(e, r->nlev, sizeof(float *));
    r->len = exec_own(e, e->B, sizeof(int32_t));
    if (e->oom)
        return -1;
    for (int k = 0; k < L->ncells; k++)
        if (setup_cell(e, l, k, k / r->ndir == 0 ? in->w : r->ndir * L->size, state_off, d))
            return -1;
    return setup_levels(e, l);
}

/* Frees the cells' interpreters and oneDNN primitives. */
static void recurrent_release(LayerRt *l)
{
    RecurrentRt *r = l->kind_rt;
    for (int k = 0; r && r->cells && k < l->L->ncells; k++) {
        cellvm_free(r->cells[k].vm);
        onednn_rnn_free(r->cells[k].dn);
        token_table_free(&r->cells[k].xtab);
    }
}

/* ---- running ----------------------------------------------------------------------------- */

/* Whether this cell runs its fused kernel now (it can, the interpreter is not forced, and the
 * window is not packed: the kernels cannot hold states, cellvm can). */
static bool use_kernel(const ExecModel *e, const RecCell *rc)
{
    return rc->fused && !e->fwd_interp && !rc->len;
}

/* The shape of rc's fused kernel call over the current window. */
static KernRecShape cell_shape(const ExecModel *e, const RecCell *rc)
{
    return (KernRecShape){ e->T, e->B, rc->in_w, rc->H, rc->c->reverse, false };
}

/* rc's weights for its fused kernel (absent biases NULL). */
static KernRecWeights cell_weights(const RecCell *rc)
{
    return (KernRecWeights){ rc->p[rc->wih], rc->p[rc->whh],
                             rc->bih >= 0 ? rc->p[rc->bih] : NULL,
                             rc->bhh >= 0 ? rc->p[rc->bhh] : NULL };
}

/* Whether this cell's fused forward runs on oneDNN now: wanted, available, a cell oneDNN has
 * and a window of at least EXEC_ONEDNN_MIN_ROWS rows and EXEC_ONEDNN_MIN_STEPS steps (small
 * batches and short windows run recur's kernels, measured faster there: exec.h). */
static bool use_onednn(const ExecModel *e, const RecCell *rc)
{
    return e->onednn && rc->fused->onednn != ONEDNN_NONE &&
           (long)e->T * e->B >= EXEC_ONEDNN_MIN_ROWS && e->T >= EXEC_ONEDNN_MIN_STEPS &&
           onednn_available();
}

/* One cell over the window: y = cell(x) from s0, final state into sT.   x [T][B][in_w] */
static int cell_forward(ExecModel *e, RecCell *rc, const float *x, Diag *d)
{
    rc->fwd_dn = false;
    if (!use_kernel(e, rc)) {
        if (!rc->vm && !(rc->vm = cellvm_create(rc->c, e->B, e->max_T, d)))
            return -1;
        if (cellvm_set_full_tape(rc->vm, e->trace_tape, d))
            return -1;
        cellvm_set_lengths(rc->vm, rc->len);
        return cellvm_forward(rc->vm, e->T, x, rc->p, rc->s0, rc->y, rc->sT, d);
    }
    KernStateIn s0 = { rc->s0 + rc->off_h, rc->off_c >= 0 ? rc->s0 + rc->off_c : NULL };
    KernStateOut sT = { rc->sT + rc->off_h, rc->off_c >= 0 ? rc->sT + rc->off_c : NULL };
    KernRecShape sh = cell_shape(e, rc);
    const float *xrow = rc->level0_in ? token_table_row(e, &rc->xtab, rc->level0_in,
                                                        rc->p[rc->wih], rc->in_w,
                                                        rc->fused->gates * rc->H)
                                      : NULL;
    if (xrow) { /* a batch-1 step from the token's row of x W_ih^T (token_table.c) */
        sh.x_proj = true;
        rc->fused->forward(sh, e->fwd_grad, xrow, s0, cell_weights(rc), rc->y, sT, rc->cache);
        return 0;
    }
    if (use_onednn(e, rc)) {
        if (!rc->dn && !(rc->dn = onednn_rnn_create(rc->fused->onednn, e->B, rc->in_w, rc->H,
                                                    rc->c->reverse, d)))
            return -1;
        rc->fwd_dn = onednn_rnn_inputs_safe(rc->dn, e->T, x, s0, cell_weights(rc));
    }
    if (rc->fwd_dn) {
        return onednn_rnn_forward(rc->dn, e->T, e->fwd_grad, x, s0, cell_weights(rc), rc->y,
                                  sT, d);
    }
    rc->fused->forward(sh, e->fwd_grad, x, s0, cell_weights(rc), rc->y, sT, rc->cache);
    return 0;
}

/* A packed window (ExecInput.packed with lengths): the lengths, copied for the backward, make
 * every cell run on the interpreter with its states held past each sequence's length. */
static void set_lengths(const ExecModel *e, const LayerRt *l, RecurrentRt *r,
                        const ExecInput *in)
{
    bool packed = in->packed && in->lengths;
    if (packed)
        memcpy(r->len, in->lengths, sizeof(int32_t) * e->B);
    for (int k = 0; k < l->L->ncells; k++)
        r->cells[k].len = packed ? r->len : NULL;
}

/* Levels bottom-up, dropout between levels (training only), directions concatenated. */
static int recurrent_forward(ExecModel *e, LayerRt *l, const ExecInput *in, Diag *d)
{
    RecurrentRt *r = l->kind_rt;
    set_lengths(e, l, r, in);
    size_t TB = (size_t)e->T * e->B;
    for (int lev = 0; lev < r->nlev; lev++) {
        const float *xin = exec_input_rt(e, l, 0)->out;
        if (lev > 0) {
            xin = r->lev_y[lev - 1];
            if (e->train && l->L->p > 0) {
                exec_dropout_mask(e, TB, l->w, (float)l->L->p, r->lev_mask[lev]);
                kern_dropout_forward(TB * l->w, r->lev_mask[lev], xin, r->lev_x[lev]);
                xin = r->lev_x[lev];
            }
        }
        const float *ys[2];
        int ws[2];
        for (int dir = 0; dir < r->ndir; dir++) {
            RecCell *rc = &r->cells[lev * r->ndir + dir];
            if (cell_forward(e, rc, xin, d))
                return -1;
            ys[dir] = rc->y;
            ws[dir] = rc->H;
        }
        if (r->ndir == 2)
            kern_concat_forward(TB, 2, ws, ys, r->lev_y[lev]);
    }
    return 0;
}

/* One cell's backward from rc->dy: parameter grads, dx (or NULL) and ds0 accumulate
 * (overwrite: what dx holds does not count; only the oneDNN path may be told so). */
static int cell_backward(ExecModel *e, RecCell *rc, const float *x, float *dx, bool overwrite,
                         Diag *d)
{
    if (!use_kernel(e, rc))
        return cellvm_backward(rc->vm, rc->dy, rc->dsT, rc->dp, dx, rc->ds0, d);
    bool c = rc->off_c >= 0;
    KernDStateIn dsT = { rc->dsT + rc->off_h, c ? rc->dsT + rc->off_c : NULL };
    KernDStateOut ds0 = { rc->ds0 + rc->off_h, c ? rc->ds0 + rc->off_c : NULL };
    KernRecGrads dw = { rc->dp[rc->wih], rc->dp[rc->whh], rc->bih >= 0 ? rc->dp[rc->bih] : NULL,
                        rc->bhh >= 0 ? rc->dp[rc->bhh] : NULL };
    if (rc->fwd_dn)
        return onednn_rnn_backward(rc->dn, x, cell_weights(rc), rc->y, rc->dy, dsT, dx,
                                   overwrite, ds0, dw, d);
    rc->fused->backward(cell_shape(e, rc), x, cell_weights(rc), rc->cache, rc->dy, dsT, dx, ds0,
                        dw, rc->work);
    return 0;
}

/* Splits a bidirectional level's gradient into its two directions' dy. */
static void split_directions(const ExecModel *e, RecurrentRt *r, int lev)
{
    size_t TB = (size_t)e->T * e->B;
    float *dys[2];
    int ws[2];
    for (int dir = 0; dir < 2; dir++) {
        RecCell *rc = &r->cells[lev * 2 + dir];
        kern_parallel_zero(TB * rc->H, rc->dy);
        dys[dir] = rc->dy;
        ws[dir] = rc->H;
    }
    kern_concat_backward(TB, 2, ws, r->lev_dy[lev], dys);
}

/* Top level first: split the level's gradient by direction, run the cells back, and pass the
 * input gradient through the dropout mask to the level below. */
static int recurrent_backward(ExecModel *e, LayerRt *l, Diag *d)
{
    RecurrentRt *r = l->kind_rt;
    LayerRt *x = exec_input_rt(e, l, 0);
    size_t TB = (size_t)e->T * e->B;
    for (int lev = r->nlev - 1; lev >= 0; lev--) {
        if (r->ndir == 2)
            split_directions(e, r, lev);
        const float *xin = x->out;
        float *dxin = x->dout;
        bool drop = lev > 0 && e->train && l->L->p > 0, overwrite = false;
        if (lev > 0) { /* the level below's gradient starts here: this level is its only user */
            xin = drop ? r->lev_x[lev] : r->lev_y[lev - 1];
            dxin = drop ? r->lev_dx[lev] : r->lev_dy[lev - 1];
            overwrite = r->cells[lev * r->ndir].fwd_dn; /* oneDNN writes it: no zeroing pass */
            if (drop) /* the dropout's backward adds into it */
                kern_parallel_zero(TB * l->w, r->lev_dy[lev - 1]);
            if (!overwrite)
                kern_parallel_zero(TB * l->w, dxin);
        }
        for (int dir = 0; dir < r->ndir; dir++)
            if (cell_backward(e, &r->cells[lev * r->ndir + dir], xin, dxin, dir == 0 && overwrite,
                              d))
                return -1;
        if (drop)
            kern_dropout_backward(TB * l->w, r->lev_mask[lev], dxin, r->lev_dy[lev - 1]);
    }
    return 0;
}

/* Whether node n is a value the cell's equations name (not a param, input, state or const). */
static bool traced_node(const IrCell *c, int n)
{
    const IrNode *nd = &c->nodes[n];
    if (!nd->name || nd->op == IR_OP_PARAM || nd->op == IR_OP_INPUT || nd->op == IR_OP_STATE ||
        nd->op == IR_OP_CONST)
        return false;
    for (int k = n + 1; k < c->nnodes; k++) /* a name assigned twice: its last value */
        if (c->nodes[k].name && strcmp(c->nodes[k].name, nd->name) == 0 &&
            c->nodes[k].op != IR_OP_PARAM && c->nodes[k].op != IR_OP_STATE)
            return false;
    return true;
}

/* Trace hook: each cell's named node values from the interpreter's tape. */
static int recurrent_trace(ExecModel *e, LayerRt *l, ExecTraceFn sink, void *ctx, Diag *d)
{
    RecurrentRt *r = l->kind_rt;
    for (int k = 0; k < l->L->ncells; k++) {
        RecCell *rc = &r->cells[k];
        char cell[32];
        snprintf(cell, sizeof cell, "l%d%s", k / r->ndir, rc->c->reverse ? "_reverse" : "");
        for (int n = 0; n < rc->c->nnodes; n++) {
            int T = 0;
            const float *v = traced_node(rc->c, n) ? cellvm_node_values(rc->vm, n, &T) : NULL;
            if (!v)
                continue;
            int st = sink(ctx, l->L->label, cell, rc->c->nodes[n].name, T, e->B,
                          rc->c->nodes[n].width, v);
            if (st)
                return st;
        }
    }
    (void)d;
    return 0;
}

const ExecLayerOps layer_recurrent_ops = { recurrent_setup, recurrent_forward,
                                           recurrent_backward, recurrent_release,
                                           recurrent_trace };
