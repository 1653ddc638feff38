/* exec_setup: checks every layer of the IrModel against its inputs and prepares what it runs
 * with -- parameters bound to their tensors, activation and workspace buffers, recurrent cells on
 * a fused kernel or the interpreter. Separate from exec.c because it is the one part that reads
 * the IrModel's structure in detail; it runs once, from exec_create. */
#include <string.h>

#include "exec/cellvm.h"
#include "exec/exec_int.h"
#include "exec/kernels.h"

/* The tensor of layer L whose name ends in ".<suffix>", or -1. */
static int layer_tensor(const IrModel *m, const IrLayer *L, const char *suffix)
{
    size_t ls = strlen(suffix);
    for (int i = L->first_tensor; i < L->first_tensor + L->ntensors && i < m->ntensors; i++) {
        const char *n = m->tensors[i].name;
        size_t nl = strlen(n);
        if (nl > ls && n[nl - ls - 1] == '.' && strcmp(n + nl - ls, suffix) == 0)
            return i;
    }
    return -1;
}

/* Points *v and *g at tensor `suffix` of layer L and checks its size; -1 with a diagnostic. */
static int bind_tensor(ExecModel *e, const IrLayer *L, const char *suffix, int64_t size,
                       bool optional, const float **v, float **g, Diag *d)
{
    int t = layer_tensor(e->m, L, suffix);
    *v = NULL;
    *g = NULL;
    if (t < 0) {
        if (optional)
            return 0;
        diag_error_in(d, L->label, "layer has no tensor '%s.%s'", L->label, suffix);
        return -1;
    }
    if (e->tensors[t].size != size) {
        diag_error_in(d, e->tensors[t].name, "tensor has %lld elements, the layer needs %lld",
                      (long long)e->tensors[t].size, (long long)size);
        return -1;
    }
    *v = e->params + e->tensors[t].offset;
    *g = e->grads + e->tensors[t].offset;
    return 0;
}

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

/* Sets up the cells of a recurrent layer: params bound to tensors, interpreter always prepared
 * (so exec_set_force_interpreter can switch at any time), kernel buffers for built-ins. */
static int setup_recurrent(ExecModel *e, LayerRt *l, int in_w, int64_t *state_off, Diag *d)
{
    const IrLayer *L = l->L;
    l->ndir = L->bidirectional ? 2 : 1;
    l->nlev = L->num_layers;
    if (l->nlev < 1 || L->ncells != l->nlev * l->ndir || l->w != l->ndir * L->size) {
        diag_error_in(d, L->label, "recurrent layer has %d cells for %d layers", L->ncells,
                      l->nlev);
        return -1;
    }
    l->cells = exec_own(e, L->ncells, sizeof *l->cells);
    l->lev_y = exec_own(e, l->nlev, sizeof(float *));
    l->lev_dy = exec_own(e, l->nlev, sizeof(float *));
    l->lev_mask = exec_own(e, l->nlev, sizeof(float *));
    l->lev_x = exec_own(e, l->nlev, sizeof(float *));
    l->lev_dx = exec_own(e, l->nlev, sizeof(float *));
    if (e->oom)
        return -1;
    size_t TB = (size_t)e->max_T * e->B;
    for (int k = 0; k < L->ncells; k++) {
        RecCell *rc = &l->cells[k];
        const IrCell *c = &L->cells[k];
        int lev = k / l->ndir;
        rc->c = c;
        rc->in_w = c->input_width;
        int want_in = lev == 0 ? in_w : l->ndir * L->size;
        if (c->output < 0 || c->output >= c->nnodes || c->input_width != want_in ||
            (rc->H = c->nodes[c->output].width) != L->size) {
            diag_error_in(d, L->label, "cell %d does not fit the layer's widths", k);
            return -1;
        }
        rc->B = e->B;
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
        rc->sfloats = state_offset(c, e->B, c->nstates);
        rc->s0 = e->state + *state_off;
        rc->sT = e->fin + *state_off;
        rc->ds0 = e->dstate + *state_off;
        rc->dsT = e->dfin + *state_off;
        *state_off += rc->sfloats;
        if (l->ndir == 2) { /* one direction writes straight into its level's buffers */
            rc->y = exec_own(e, TB * rc->H, sizeof(float));
            rc->dy = exec_own(e, TB * rc->H, sizeof(float));
        }
        rc->fused = can_fuse(rc, L->builtin) ? &exec_fused_cells[L->builtin] : NULL;
        /* the interpreter's tape is large (every node at every step): built only when needed,
         * here for cells without a kernel (checking the cell now), else on first use */
        if (!rc->fused && !(rc->vm = cellvm_create(c, e->B, e->max_T, d)))
            return -1;
        if (rc->fused) {
            rc->cache = exec_own(e, rc->fused->cache_floats(e->max_T, e->B, rc->H, true),
                                 sizeof(float));
            rc->work = exec_own(e, rc->fused->work_floats(e->max_T, e->B, rc->H), sizeof(float));
        }
    }
    for (int lev = 0; lev < l->nlev; lev++) {
        if (lev == l->nlev - 1) {
            l->lev_y[lev] = l->out;
            l->lev_dy[lev] = l->dout;
        } else {
            l->lev_y[lev] = exec_own(e, TB * l->w, sizeof(float));
            l->lev_dy[lev] = exec_own(e, TB * l->w, sizeof(float));
        }
        if (l->ndir == 1) {
            l->cells[lev].y = l->lev_y[lev];
            l->cells[lev].dy = l->lev_dy[lev];
        }
        if (lev > 0) {
            l->lev_mask[lev] = exec_own(e, TB * l->w, sizeof(float));
            l->lev_x[lev] = exec_own(e, TB * l->w, sizeof(float));
            l->lev_dx[lev] = exec_own(e, TB * l->w, sizeof(float));
        }
    }
    return e->oom ? -1 : 0;
}

/* Checks one layer against its inputs and allocates what it needs. */
int exec_setup_layer(ExecModel *e, int i, int64_t *state_off, Diag *d)
{
    const IrModel *m = e->m;
    const IrLayer *L = &m->layers[i];
    LayerRt *l = &e->lr[i];
    l->L = L;
    l->w = L->width;
    l->seq = L->sequence;
    for (int k = 0; k < L->ninputs; k++)
        if (L->inputs[k] < 0 || L->inputs[k] >= i) {
            diag_error_in(d, L->label, "layer input %d is not an earlier layer", L->inputs[k]);
            return -1;
        }
    bool is_input = L->kind == IR_LAYER_INPUT_TOKENS || L->kind == IR_LAYER_INPUT_VECTOR;
    if (is_input != (i == 0) || (!is_input && L->ninputs < 1) || l->w <= 0) {
        diag_error_in(d, L->label, "malformed layer (inputs or width)");
        return -1;
    }
    const LayerRt *in = is_input ? NULL : &e->lr[L->inputs[0]];
    bool wants_tokens = L->kind == IR_LAYER_EMBEDDING || L->kind == IR_LAYER_ONEHOT;
    for (int k = 0; k < L->ninputs; k++) {
        const IrLayer *src = &m->layers[L->inputs[k]];
        if (src->tokens != wants_tokens || (!wants_tokens && e->lr[L->inputs[k]].seq != l->seq &&
                                            L->kind != IR_LAYER_POOL)) {
            diag_error_in(d, L->label, "input '%s' has the wrong kind for this layer",
                          src->label);
            return -1;
        }
    }
    if (wants_tokens && (L->vocab <= 0 || m->layers[L->inputs[0]].vocab != L->vocab)) {
        diag_error_in(d, L->label, "vocabulary %d differs from the input's %d", L->vocab,
                      m->layers[L->inputs[0]].vocab);
        return -1;
    }
    if ((unsigned)L->act > IR_ACT_SIGMOID || (unsigned)L->pool > IR_POOL_MAX) {
        diag_error_in(d, L->label, "unknown activation or pooling mode");
        return -1;
    }
    size_t TB = (size_t)e->max_T * e->B, rows = l->seq ? TB : (size_t)e->B;
    if (L->kind == IR_LAYER_INPUT_TOKENS) {
        if (L->vocab <= 0) {
            diag_error_in(d, L->label, "token input without a vocabulary size");
            return -1;
        }
        l->ids = exec_own(e, TB, sizeof(int32_t));
        return e->oom ? -1 : 0;
    }
    l->out = exec_own(e, rows * l->w, sizeof(float));
    l->dout = exec_own(e, rows * l->w, sizeof(float));
    if (e->oom)
        return -1;
    int inw = in ? in->w : 0;
    switch (L->kind) {
    case IR_LAYER_EMBEDDING:
        return bind_tensor(e, L, "weight", (int64_t)L->vocab * l->w, false, &l->wt, &l->dwt, d);
    case IR_LAYER_ONEHOT:
        if (L->vocab != l->w) {
            diag_error_in(d, L->label, "onehot width %d differs from vocab %d", l->w, L->vocab);
            return -1;
        }
        return 0;
    case IR_LAYER_RECURRENT:
        if (!in->seq || !l->seq)
            goto needs_seq;
        return setup_recurrent(e, l, inw, state_off, d);
    case IR_LAYER_DENSE:
        if (bind_tensor(e, L, "weight", (int64_t)l->w * inw, false, &l->wt, &l->dwt, d) ||
            bind_tensor(e, L, "bias", l->w, true, &l->bias, &l->dbias, d))
            return -1;
        l->work = exec_own(e, kern_dense_work_floats(rows, l->w, (KernAct)L->act), sizeof(float));
        return e->oom ? -1 : 0;
    case IR_LAYER_DROPOUT:
        if (inw != l->w)
            goto width;
        l->mask = exec_own(e, rows * l->w, sizeof(float));
        return e->oom ? -1 : 0;
    case IR_LAYER_LAYERNORM:
        if (inw != l->w)
            goto width;
        if (bind_tensor(e, L, "weight", l->w, true, &l->wt, &l->dwt, d) ||
            bind_tensor(e, L, "bias", l->w, true, &l->bias, &l->dbias, d))
            return -1;
        l->mean = exec_own(e, rows, sizeof(float));
        l->rstd = exec_own(e, rows, sizeof(float));
        return e->oom ? -1 : 0;
    case IR_LAYER_POOL:
        if (!in->seq || l->seq)
            goto needs_seq;
        if (inw != l->w)
            goto width;
        l->argmax = exec_own(e, (size_t)e->B * l->w, sizeof(int32_t));
        return e->oom ? -1 : 0;
    case IR_LAYER_CONCAT: {
        int sum = 0;
        for (int k = 0; k < L->ninputs; k++)
            sum += e->lr[L->inputs[k]].w;
        if (sum != l->w)
            goto width;
        return 0;
    }
    case IR_LAYER_ADD:
        for (int k = 0; k < L->ninputs; k++)
            if (e->lr[L->inputs[k]].w != l->w)
                goto width;
        return 0;
    case IR_LAYER_SOFTMAX:
        if (inw != l->w)
            goto width;
        return 0;
    default:
        break;
    }
    return 0;
width:
    diag_error_in(d, L->label, "layer width %d does not match its input", l->w);
    return -1;
needs_seq:
    diag_error_in(d, L->label, "layer needs a sequence input");
    return -1;
}
