/* exec: model forward/backward over a window, layer by layer (see exec.h).
 *
 * Every layer owns an activation buffer and an activation-gradient buffer of rows x width floats
 * (rows = T*B for sequences, B after pooling). Forward runs the layers in order; backward runs
 * them in reverse, each adding its input gradients (+=) into its inputs' buffers. Layer maths is
 * done by the kernels of kernels.h; recurrent cells by the fused kernels or the cell
 * interpreter. Every buffer is allocated once, in exec_create, for the largest window. */
#include "exec/exec.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "exec/cellvm.h"
#include "exec/kernels.h"

/* IrActivation and IrPool list their values in the same order as KernAct and KernPool, so the
 * executor converts them with a cast. */
_Static_assert((int)IR_ACT_SIGMOID == (int)KERN_ACT_SIGMOID &&
               (int)IR_ACT_RELU == (int)KERN_ACT_RELU && (int)IR_ACT_TANH == (int)KERN_ACT_TANH,
               "activation enums differ");
_Static_assert((int)IR_POOL_MAX == (int)KERN_POOL_MAX && (int)IR_POOL_MEAN == (int)KERN_POOL_MEAN,
               "pool enums differ");

/* One cell of a recurrent layer: one stacked level, one direction. */
typedef struct RecCell {
    const IrCell *c;
    int in_w, H;            /* input width, output width */
    bool fused;             /* runs a kernel of kernels.h */
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
static void *own(ExecModel *e, size_t n, size_t size)
{
    if (e->oom)
        return NULL;
    if (e->nallocs == e->allocs_cap) {
        int cap = e->allocs_cap ? 2 * e->allocs_cap : 64;
        void **a = realloc(e->allocs, sizeof *a * cap);
        if (!a) {
            e->oom = true;
            return NULL;
        }
        e->allocs = a;
        e->allocs_cap = cap;
    }
    void *p = calloc(n ? n : 1, size);
    if (!p) {
        e->oom = true;
        return NULL;
    }
    e->allocs[e->nallocs++] = p;
    return p;
}

/* Rows of a layer's activation for a window of T steps: T*B for sequences, B after pooling. */
static size_t rows_of(const ExecModel *e, const LayerRt *l, int T)
{
    return l->seq ? (size_t)T * e->B : (size_t)e->B;
}

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
    int G = kind == IR_CELL_LSTM ? 4 : kind == IR_CELL_GRU ? 3 : 1, H = rc->H, I = rc->in_w;
    if (kind == IR_CELL_USER || c->nstates != (kind == IR_CELL_LSTM ? 2 : 1))
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
    if (sh < 0 || c->states[sh].width != H || (kind == IR_CELL_LSTM && sc < 0))
        return false;
    rc->off_h = state_offset(c, rc->B, sh);
    rc->off_c = kind == IR_CELL_LSTM ? state_offset(c, rc->B, sc) : -1;
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
    l->cells = own(e, L->ncells, sizeof *l->cells);
    l->lev_y = own(e, l->nlev, sizeof(float *));
    l->lev_dy = own(e, l->nlev, sizeof(float *));
    l->lev_mask = own(e, l->nlev, sizeof(float *));
    l->lev_x = own(e, l->nlev, sizeof(float *));
    l->lev_dx = own(e, l->nlev, sizeof(float *));
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
        rc->p = own(e, c->nparams, sizeof *rc->p);
        rc->dp = own(e, c->nparams, sizeof *rc->dp);
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
            rc->y = own(e, TB * rc->H, sizeof(float));
            rc->dy = own(e, TB * rc->H, sizeof(float));
        }
        rc->fused = can_fuse(rc, L->builtin);
        /* the interpreter's tape is large (every node at every step): built only when needed,
         * here for cells without a kernel (checking the cell now), else on first use */
        if (!rc->fused && !(rc->vm = cellvm_create(c, e->B, e->max_T, d)))
            return -1;
        if (rc->fused) {
            size_t cf, wf;
            if (L->builtin == IR_CELL_LSTM) {
                cf = kern_lstm_cache_floats(e->max_T, e->B, rc->H, true);
                wf = kern_lstm_work_floats(e->max_T, e->B, rc->H);
            } else if (L->builtin == IR_CELL_GRU) {
                cf = kern_gru_cache_floats(e->max_T, e->B, rc->H, true);
                wf = kern_gru_work_floats(e->max_T, e->B, rc->H);
            } else {
                cf = kern_rnn_cache_floats(e->max_T, e->B, rc->H, true);
                wf = kern_rnn_work_floats(e->max_T, e->B, rc->H);
            }
            rc->cache = own(e, cf, sizeof(float));
            rc->work = own(e, wf, sizeof(float));
        }
    }
    for (int lev = 0; lev < l->nlev; lev++) {
        if (lev == l->nlev - 1) {
            l->lev_y[lev] = l->out;
            l->lev_dy[lev] = l->dout;
        } else {
            l->lev_y[lev] = own(e, TB * l->w, sizeof(float));
            l->lev_dy[lev] = own(e, TB * l->w, sizeof(float));
        }
        if (l->ndir == 1) {
            l->cells[lev].y = l->lev_y[lev];
            l->cells[lev].dy = l->lev_dy[lev];
        }
        if (lev > 0) {
            l->lev_mask[lev] = own(e, TB * l->w, sizeof(float));
            l->lev_x[lev] = own(e, TB * l->w, sizeof(float));
            l->lev_dx[lev] = own(e, TB * l->w, sizeof(float));
        }
    }
    return e->oom ? -1 : 0;
}

/* Checks one layer against its inputs and allocates what it needs. */
static int setup_layer(ExecModel *e, int i, int64_t *state_off, Diag *d)
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
        l->ids = own(e, TB, sizeof(int32_t));
        return e->oom ? -1 : 0;
    }
    l->out = own(e, rows * l->w, sizeof(float));
    l->dout = own(e, rows * l->w, sizeof(float));
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
        l->work = own(e, kern_dense_work_floats(rows, l->w, (KernAct)L->act), sizeof(float));
        return e->oom ? -1 : 0;
    case IR_LAYER_DROPOUT:
        if (inw != l->w)
            goto width;
        l->mask = own(e, rows * l->w, sizeof(float));
        return e->oom ? -1 : 0;
    case IR_LAYER_LAYERNORM:
        if (inw != l->w)
            goto width;
        if (bind_tensor(e, L, "weight", l->w, true, &l->wt, &l->dwt, d) ||
            bind_tensor(e, L, "bias", l->w, true, &l->bias, &l->dbias, d))
            return -1;
        l->mean = own(e, rows, sizeof(float));
        l->rstd = own(e, rows, sizeof(float));
        return e->oom ? -1 : 0;
    case IR_LAYER_POOL:
        if (!in->seq || l->seq)
            goto needs_seq;
        if (inw != l->w)
            goto width;
        l->argmax = own(e, (size_t)e->B * l->w, sizeof(int32_t));
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

/* Counts the state floats of every recurrent cell (before the state buffers exist). */
static int64_t count_state(const ExecModel *e)
{
    int64_t n = 0;
    for (int i = 0; i < e->m->nlayers; i++) {
        const IrLayer *L = &e->m->layers[i];
        if (L->kind != IR_LAYER_RECURRENT)
            continue;
        for (int k = 0; k < L->ncells; k++)
            for (int s = 0; s < L->cells[k].nstates; s++)
                n += (int64_t)e->B * L->cells[k].states[s].width;
    }
    return n;
}

ExecModel *exec_create(const IrModel *m, int batch, int max_T, Diag *d)
{
    if (!m || m->nlayers < 1 || batch <= 0 || max_T <= 0 || m->output < 0 ||
        m->output >= m->nlayers) {
        diag_error_in(d, m && m->name ? m->name : "model",
                      "cannot run: empty model or non-positive batch/window");
        return NULL;
    }
    ExecModel *e = calloc(1, sizeof *e);
    if (!e) {
        diag_error_in(d, m->name ? m->name : "model", "out of memory");
        return NULL;
    }
    e->m = m;
    e->B = batch;
    e->max_T = max_T;
    e->grad_enabled = true;
    rng_seed(&e->rng, 0x5eed);
    e->ntensors = m->ntensors;
    e->tensors = own(e, m->ntensors, sizeof *e->tensors);
    int64_t off = 0;
    for (int t = 0; t < m->ntensors && !e->oom; t++) {
        const IrTensor *it = &m->tensors[t];
        ExecTensor *x = &e->tensors[t];
        x->name = it->name;
        x->ndim = it->ndim;
        x->shape[0] = it->shape[0];
        x->shape[1] = it->shape[1];
        x->size = it->size;
        x->offset = off;
        int64_t want = it->ndim == 2 ? (int64_t)it->shape[0] * it->shape[1] : it->shape[0];
        if (it->size <= 0 || it->size != want) {
            diag_error_in(d, it->name, "tensor size %lld does not match its shape",
                          (long long)it->size);
            exec_free(e);
            return NULL;
        }
        off += it->size;
    }
    e->nparams = off;
    e->params = own(e, off, sizeof(float));
    e->grads = own(e, off, sizeof(float));
    e->state_floats = count_state(e);
    e->state = own(e, e->state_floats, sizeof(float));
    e->fin = own(e, e->state_floats, sizeof(float));
    e->dstate = own(e, e->state_floats, sizeof(float));
    e->dfin = own(e, e->state_floats, sizeof(float));
    e->lengths = own(e, batch, sizeof(int32_t));
    e->lossmask = own(e, (size_t)max_T * batch, sizeof(float));
    e->lr = own(e, m->nlayers, sizeof *e->lr);
    int64_t state_off = 0;
    for (int i = 0; i < m->nlayers && !e->oom; i++)
        if (setup_layer(e, i, &state_off, d)) {
            exec_free(e);
            return NULL;
        }
    if (e->oom) {
        diag_error_in(d, m->name ? m->name : "model",
                      "out of memory for %lld parameters, batch %d, window %d",
                      (long long)e->nparams, batch, max_T);
        exec_free(e);
        return NULL;
    }
    return e;
}

void exec_free(ExecModel *e)
{
    if (!e)
        return;
    for (int i = 0; e->lr && i < e->m->nlayers; i++)
        for (int k = 0; e->lr[i].cells && k < e->lr[i].L->ncells; k++)
            cellvm_free(e->lr[i].cells[k].vm);
    for (int i = 0; i < e->nallocs; i++)
        free(e->allocs[i]);
    free(e->allocs);
    free(e);
}

/* ---- accessors ----------------------------------------------------------------------------- */

const IrModel *exec_model(const ExecModel *e) { return e->m; }
int exec_batch(const ExecModel *e) { return e->B; }
int exec_max_T(const ExecModel *e) { return e->max_T; }
float *exec_params(ExecModel *e) { return e->params; }
float *exec_grads(ExecModel *e) { return e->grads; }
int64_t exec_nparams(const ExecModel *e) { return e->nparams; }
int exec_ntensors(const ExecModel *e) { return e->ntensors; }
const ExecTensor *exec_tensor(const ExecModel *e, int i)
{
    return i >= 0 && i < e->ntensors ? &e->tensors[i] : NULL;
}
int exec_find_tensor(const ExecModel *e, const char *name)
{
    for (int i = 0; i < e->ntensors; i++)
        if (strcmp(e->tensors[i].name, name) == 0)
            return i;
    return -1;
}

int exec_copy_params(ExecModel *dst, const ExecModel *src, Diag *d)
{
    if (dst->nparams != src->nparams || dst->ntensors != src->ntensors) {
        diag_error_in(d, "parameters", "models differ (%lld vs %lld parameters)",
                      (long long)dst->nparams, (long long)src->nparams);
        return -1;
    }
    memcpy(dst->params, src->params, sizeof(float) * src->nparams);
    return 0;
}

void exec_zero_grads(ExecModel *e) { memset(e->grads, 0, sizeof(float) * e->nparams); }

double exec_grad_norm(const ExecModel *e)
{
    double s = 0;
    for (int64_t i = 0; i < e->nparams; i++)
        s += (double)e->grads[i] * e->grads[i];
    return sqrt(s);
}

void exec_set_force_interpreter(ExecModel *e, bool on) { e->force_interp = on; }
void exec_set_grad_enabled(ExecModel *e, bool on) { e->grad_enabled = on; }
Rng *exec_rng(ExecModel *e) { return &e->rng; }

void exec_reset_state(ExecModel *e)
{
    memset(e->state, 0, sizeof(float) * e->state_floats);
    e->carry = false;
}
int64_t exec_state_floats(const ExecModel *e) { return e->state_floats; }
void exec_get_state(const ExecModel *e, float *out)
{
    memcpy(out, e->carry ? e->fin : e->state, sizeof(float) * e->state_floats);
}
void exec_set_state(ExecModel *e, const float *in)
{
    memcpy(e->state, in, sizeof(float) * e->state_floats);
    e->carry = false;
}
const float *exec_state_grad(const ExecModel *e) { return e->dstate; }
float *exec_final_state_grad(ExecModel *e) { return e->dfin; }

const float *exec_output(const ExecModel *e, int *rows, int *width)
{
    const LayerRt *l = &e->lr[e->m->output];
    if (rows)
        *rows = (int)rows_of(e, l, e->T);
    if (width)
        *width = l->w;
    return l->L->tokens ? NULL : l->out;
}
float *exec_output_grad(ExecModel *e) { return e->lr[e->m->output].dout; }
const float *exec_layer_output(const ExecModel *e, int layer)
{
    return layer >= 0 && layer < e->m->nlayers ? e->lr[layer].out : NULL;
}
float *exec_layer_grad(ExecModel *e, int layer)
{
    return layer >= 0 && layer < e->m->nlayers ? e->lr[layer].dout : NULL;
}

/* ---- forward ------------------------------------------------------------------------------- */

/* Whether this cell runs its fused kernel now (it can, and the interpreter is not forced). */
static bool use_kernel(const ExecModel *e, const RecCell *rc)
{
    return rc->fused && !e->fwd_interp;
}

/* One cell over the window: y = cell(x) from s0, final state into sT.   x [T][B][in_w] */
static int cell_forward(ExecModel *e, const IrLayer *L, RecCell *rc, const float *x, Diag *d)
{
    int T = e->T, B = e->B, H = rc->H, I = rc->in_w;
    bool rev = rc->c->reverse;
    if (!use_kernel(e, rc)) {
        if (!rc->vm && !(rc->vm = cellvm_create(rc->c, B, e->max_T, d)))
            return -1;
        return cellvm_forward(rc->vm, T, x, rc->p, rc->s0, rc->y, rc->sT, d);
    }
    const float *bih = rc->bih >= 0 ? rc->p[rc->bih] : NULL;
    const float *bhh = rc->bhh >= 0 ? rc->p[rc->bhh] : NULL;
    const float *wih = rc->p[rc->wih], *whh = rc->p[rc->whh];
    if (L->builtin == IR_CELL_LSTM)
        kern_lstm_forward(T, B, I, H, rev, e->fwd_grad, x, rc->s0 + rc->off_h,
                          rc->s0 + rc->off_c, wih, whh, bih, bhh, rc->y, rc->sT + rc->off_h,
                          rc->sT + rc->off_c, rc->cache);
    else if (L->builtin == IR_CELL_GRU)
        kern_gru_forward(T, B, I, H, rev, e->fwd_grad, x, rc->s0 + rc->off_h, wih, whh, bih,
                         bhh, rc->y, rc->sT + rc->off_h, rc->cache);
    else
        kern_rnn_forward(T, B, I, H, rev, e->fwd_grad,
                         L->builtin == IR_CELL_RNN_RELU ? KERN_ACT_RELU : KERN_ACT_TANH, x,
                         rc->s0 + rc->off_h, wih, whh, bih, bhh, rc->y, rc->sT + rc->off_h,
                         rc->cache);
    return 0;
}

/* A recurrent layer: levels bottom-up, dropout between levels (training only, as PyTorch),
 * directions concatenated forward then reverse. */
static int recurrent_forward(ExecModel *e, LayerRt *l, const float *x, Diag *d)
{
    size_t TB = (size_t)e->T * e->B;
    for (int lev = 0; lev < l->nlev; lev++) {
        const float *xin = x;
        if (lev > 0) {
            xin = l->lev_y[lev - 1];
            if (e->train && l->L->p > 0) {
                kern_dropout_mask(TB * l->w, (float)l->L->p, &e->rng, l->lev_mask[lev]);
                kern_dropout_forward(TB * l->w, l->lev_mask[lev], xin, l->lev_x[lev]);
                xin = l->lev_x[lev];
            }
        }
        const float *ys[2];
        int ws[2];
        for (int dir = 0; dir < l->ndir; dir++) {
            RecCell *rc = &l->cells[lev * l->ndir + dir];
            if (cell_forward(e, l->L, rc, xin, d))
                return -1;
            ys[dir] = rc->y;
            ws[dir] = rc->H;
        }
        if (l->ndir == 2)
            kern_concat_forward(TB, 2, ws, ys, l->lev_y[lev]);
    }
    return 0;
}

/* Checks and copies the window's input into the input layer. */
static int input_forward(ExecModel *e, LayerRt *l, const ExecInput *in, Diag *d)
{
    size_t TB = (size_t)in->T * e->B;
    if (l->L->kind == IR_LAYER_INPUT_TOKENS) {
        if (!in->tokens) {
            diag_error_in(d, l->L->label, "the model reads token ids; none were given");
            return -1;
        }
        for (size_t r = 0; r < TB; r++)
            if (in->tokens[r] < 0 || in->tokens[r] >= l->L->vocab) {
                diag_error_in(d, l->L->label, "token id %d at step %zu is outside [0, %d)",
                              (int)in->tokens[r], r / e->B, l->L->vocab);
                return -1;
            }
        memcpy(l->ids, in->tokens, sizeof(int32_t) * TB);
        return 0;
    }
    if (!in->vectors) {
        diag_error_in(d, l->L->label, "the model reads vectors; none were given");
        return -1;
    }
    memcpy(l->out, in->vectors, sizeof(float) * TB * l->w);
    return 0;
}

int exec_forward(ExecModel *e, const ExecInput *in, bool train, Diag *d)
{
    const IrModel *m = e->m;
    if (!in || in->T < 1 || in->T > e->max_T) {
        diag_error_in(d, m->name ? m->name : "model", "window of %d steps, expected 1..%d",
                      in ? in->T : 0, e->max_T);
        return -1;
    }
    e->has_lengths = in->lengths != NULL;
    for (int b = 0; in->lengths && b < e->B; b++) {
        if (in->lengths[b] < 1 || in->lengths[b] > in->T) {
            diag_error_in(d, m->name ? m->name : "model",
                          "sequence %d has length %d, expected 1..%d", b, (int)in->lengths[b],
                          in->T);
            return -1;
        }
        e->lengths[b] = in->lengths[b];
    }
    e->T = in->T;
    e->train = train;
    e->fwd_grad = e->grad_enabled;
    e->fwd_interp = e->force_interp; /* backward follows the forward's path */
    if (e->carry)
        memcpy(e->state, e->fin, sizeof(float) * e->state_floats);
    e->carry = false;
    memset(e->dfin, 0, sizeof(float) * e->state_floats);
    int T = e->T, B = e->B;
    size_t TB = (size_t)T * B;
    for (int i = 0; i < m->nlayers; i++) {
        LayerRt *l = &e->lr[i];
        const IrLayer *L = l->L;
        size_t rows = rows_of(e, l, T);
        LayerRt *in0 = i > 0 ? &e->lr[L->inputs[0]] : NULL;
        if (l->dout)
            memset(l->dout, 0, sizeof(float) * rows * l->w);
        switch (L->kind) {
        case IR_LAYER_INPUT_TOKENS:
        case IR_LAYER_INPUT_VECTOR:
            if (input_forward(e, l, in, d))
                return -1;
            break;
        case IR_LAYER_EMBEDDING:
            kern_embedding_forward(TB, l->w, in0->ids, l->wt, l->out);
            break;
        case IR_LAYER_ONEHOT:
            memset(l->out, 0, sizeof(float) * TB * l->w);
            for (size_t r = 0; r < TB; r++)
                l->out[r * l->w + in0->ids[r]] = 1.0f;
            break;
        case IR_LAYER_RECURRENT:
            if (recurrent_forward(e, l, in0->out, d))
                return -1;
            break;
        case IR_LAYER_DENSE:
            kern_dense_forward(rows, in0->w, l->w, (KernAct)L->act, in0->out, l->wt, l->bias,
                               l->out);
            break;
        case IR_LAYER_DROPOUT:
            if (train && L->p > 0) {
                kern_dropout_mask(rows * l->w, (float)L->p, &e->rng, l->mask);
                kern_dropout_forward(rows * l->w, l->mask, in0->out, l->out);
            } else {
                memcpy(l->out, in0->out, sizeof(float) * rows * l->w);
            }
            break;
        case IR_LAYER_LAYERNORM:
            kern_layernorm_forward(rows, l->w, in0->out, l->wt, l->bias, l->out, l->mean,
                                   l->rstd);
            break;
        case IR_LAYER_POOL:
            kern_pool_forward((KernPool)L->pool, T, B, l->w, in0->out,
                              e->has_lengths ? e->lengths : NULL, l->out, l->argmax);
            break;
        case IR_LAYER_CONCAT:
        case IR_LAYER_ADD: {
            const float *xs[L->ninputs];
            int ws[L->ninputs];
            for (int k = 0; k < L->ninputs; k++) {
                xs[k] = e->lr[L->inputs[k]].out;
                ws[k] = e->lr[L->inputs[k]].w;
            }
            if (L->kind == IR_LAYER_CONCAT)
                kern_concat_forward(rows, L->ninputs, ws, xs, l->out);
            else
                kern_add_forward(rows * l->w, L->ninputs, xs, l->out);
            break;
        }
        case IR_LAYER_SOFTMAX:
            kern_softmax_forward(rows, l->w, in0->out, l->out);
            break;
        default:
            diag_error_in(d, L->label, "layer kind %d cannot run", (int)L->kind);
            return -1;
        }
    }
    e->carry = true;
    e->fused_softmax = false;
    return 0;
}

/* ---- loss ---------------------------------------------------------------------------------- */

int exec_loss(ExecModel *e, const ExecTarget *t, double *loss, Diag *d)
{
    const IrModel *m = e->m;
    LayerRt *out = &e->lr[m->output];
    const char *name = out->L->label;
    int T = e->T, B = e->B;
    *loss = 0;
    if (T <= 0) {
        diag_error_in(d, name, "loss before any forward");
        return -1;
    }
    if (out->L->tokens) {
        diag_error_in(d, name, "the model's output is token ids; a loss needs values");
        return -1;
    }
    size_t rows = rows_of(e, out, T);
    LayerRt *lg = out;
    if (t->kind != EXEC_LOSS_MSE) {
        if (!t->ids) {
            diag_error_in(d, name, "cross-entropy needs target ids");
            return -1;
        }
        if ((t->kind == EXEC_LOSS_XENT_TOKENS) != out->seq) {
            diag_error_in(d, name, out->seq ? "per-sequence labels need a pooled output (add "
                                              "pool(last) before the classifier)"
                                            : "per-step targets need a sequence output");
            return -1;
        }
        bool fuse = out->L->kind == IR_LAYER_SOFTMAX;
        if (fuse)
            lg = &e->lr[out->L->inputs[0]];
        const float *mask = NULL;
        if (out->seq && e->has_lengths) {
            for (int s = 0; s < T; s++)
                for (int b = 0; b < B; b++)
                    e->lossmask[(size_t)s * B + b] = s < e->lengths[b] ? 1.0f : 0.0f;
            mask = e->lossmask;
        }
        if (kern_xent_forward_backward(rows, lg->w, lg->out, t->ids, -1, mask, lg->dout, loss,
                                       NULL)) {
            diag_error_in(d, name, "a target class is outside [0, %d)", lg->w);
            return -1;
        }
        e->fused_softmax = fuse;
        return 0;
    }
    if (!t->values) {
        diag_error_in(d, name, "mean squared error needs target values");
        return -1;
    }
    e->fused_softmax = false;
    if (!(out->seq && e->has_lengths)) {
        *loss = kern_mse_forward_backward(rows * out->w, out->out, t->values, out->dout);
        return 0;
    }
    /* masked: mean over the (step, stream, feature) elements inside each sequence's length */
    size_t count = 0;
    for (int b = 0; b < B; b++)
        count += (size_t)e->lengths[b] * out->w;
    double s = 0;
    for (int st = 0; st < T; st++)
        for (int b = 0; b < B; b++) {
            size_t r = (size_t)st * B + b;
            for (int j = 0; j < out->w; j++) {
                size_t i = r * out->w + j;
                double diff = st < e->lengths[b] ? (double)out->out[i] - t->values[i] : 0.0;
                s += diff * diff;
                out->dout[i] = (float)(2.0 * diff / count);
            }
        }
    *loss = s / count;
    return 0;
}

/* ---- backward ------------------------------------------------------------------------------ */

/* One cell's backward from rc->dy: parameter grads, dx (or NULL) and ds0 accumulate. */
static int cell_backward(ExecModel *e, const IrLayer *L, RecCell *rc, const float *x, float *dx,
                         Diag *d)
{
    int T = e->T, B = e->B, H = rc->H, I = rc->in_w;
    bool rev = rc->c->reverse;
    if (!use_kernel(e, rc))
        return cellvm_backward(rc->vm, rc->dy, rc->dsT, rc->dp, dx, rc->ds0, d);
    float *dbih = rc->bih >= 0 ? rc->dp[rc->bih] : NULL;
    float *dbhh = rc->bhh >= 0 ? rc->dp[rc->bhh] : NULL;
    const float *wih = rc->p[rc->wih], *whh = rc->p[rc->whh];
    float *dwih = rc->dp[rc->wih], *dwhh = rc->dp[rc->whh];
    if (L->builtin == IR_CELL_LSTM)
        kern_lstm_backward(T, B, I, H, rev, x, wih, whh, rc->cache, rc->dy, rc->dsT + rc->off_h,
                           rc->dsT + rc->off_c, dx,
                           rc->ds0 + rc->off_h, rc->ds0 + rc->off_c, dwih, dwhh, dbih, dbhh,
                           rc->work);
    else if (L->builtin == IR_CELL_GRU)
        kern_gru_backward(T, B, I, H, rev, x, wih, whh, rc->cache, rc->dy, rc->dsT + rc->off_h, dx,
                          rc->ds0 + rc->off_h, dwih, dwhh, dbih, dbhh, rc->work);
    else
        kern_rnn_backward(T, B, I, H, rev,
                          L->builtin == IR_CELL_RNN_RELU ? KERN_ACT_RELU : KERN_ACT_TANH, x, wih,
                          whh, rc->cache, rc->dy, rc->dsT + rc->off_h, dx, rc->ds0 + rc->off_h,
                          dwih, dwhh,
                          dbih, dbhh, rc->work);
    return 0;
}

/* A recurrent layer, top level first: split the level's gradient by direction, run the cells
 * back, and pass the input gradient through the dropout mask to the level below. */
static int recurrent_backward(ExecModel *e, LayerRt *l, const float *x, float *dx, Diag *d)
{
    size_t TB = (size_t)e->T * e->B;
    for (int lev = 0; lev < l->nlev - 1; lev++) /* the last level's is the layer's dout */
        memset(l->lev_dy[lev], 0, sizeof(float) * TB * l->w);
    for (int lev = l->nlev - 1; lev >= 0; lev--) {
        if (l->ndir == 2) { /* split the level's gradient into the two directions */
            float *dys[2];
            int ws[2];
            for (int dir = 0; dir < 2; dir++) {
                RecCell *rc = &l->cells[lev * 2 + dir];
                memset(rc->dy, 0, sizeof(float) * TB * rc->H);
                dys[dir] = rc->dy;
                ws[dir] = rc->H;
            }
            kern_concat_backward(TB, 2, ws, l->lev_dy[lev], dys);
        }
        const float *xin = x;
        float *dxin = dx;
        bool drop = lev > 0 && e->train && l->L->p > 0;
        if (lev > 0) {
            xin = drop ? l->lev_x[lev] : l->lev_y[lev - 1];
            dxin = drop ? l->lev_dx[lev] : l->lev_dy[lev - 1];
            if (drop)
                memset(dxin, 0, sizeof(float) * TB * l->w);
        }
        for (int dir = 0; dir < l->ndir; dir++)
            if (cell_backward(e, l->L, &l->cells[lev * l->ndir + dir], xin, dxin, d))
                return -1;
        if (drop)
            kern_dropout_backward(TB * l->w, l->lev_mask[lev], dxin, l->lev_dy[lev - 1]);
    }
    return 0;
}

int exec_backward(ExecModel *e, Diag *d)
{
    const IrModel *m = e->m;
    int T = e->T, B = e->B;
    if (T <= 0 || !e->fwd_grad) {
        diag_error_in(d, m->name ? m->name : "model", T <= 0 ? "backward before any forward"
                      : "backward after a forward without gradients (exec_set_grad_enabled)");
        return -1;
    }
    size_t TB = (size_t)T * B;
    memset(e->dstate, 0, sizeof(float) * e->state_floats);
    for (int i = m->nlayers - 1; i > 0; i--) {
        LayerRt *l = &e->lr[i];
        const IrLayer *L = l->L;
        size_t rows = rows_of(e, l, T);
        LayerRt *in0 = &e->lr[L->inputs[0]];
        float *dx = in0->dout; /* NULL for token inputs */
        switch (L->kind) {
        case IR_LAYER_EMBEDDING:
            kern_embedding_backward(TB, l->w, in0->ids, l->dout, l->dwt);
            break;
        case IR_LAYER_ONEHOT:
            break;
        case IR_LAYER_RECURRENT:
            if (recurrent_backward(e, l, in0->out, dx, d))
                return -1;
            break;
        case IR_LAYER_DENSE:
            kern_dense_backward(rows, in0->w, l->w, (KernAct)L->act, in0->out, l->wt, l->out,
                                l->dout, dx, l->dwt, l->dbias, l->work);
            break;
        case IR_LAYER_DROPOUT:
            if (e->train && L->p > 0)
                kern_dropout_backward(rows * l->w, l->mask, l->dout, dx);
            else
                kern_accumulate(rows * l->w, l->dout, dx);
            break;
        case IR_LAYER_LAYERNORM:
            kern_layernorm_backward(rows, l->w, in0->out, l->wt, l->mean, l->rstd, l->dout, dx,
                                    l->dwt, l->dbias);
            break;
        case IR_LAYER_POOL:
            kern_pool_backward((KernPool)L->pool, T, B, l->w, e->has_lengths ? e->lengths : NULL,
                               l->argmax, l->dout, dx);
            break;
        case IR_LAYER_CONCAT: {
            float *dxs[L->ninputs];
            int ws[L->ninputs];
            for (int k = 0; k < L->ninputs; k++) {
                dxs[k] = e->lr[L->inputs[k]].dout;
                ws[k] = e->lr[L->inputs[k]].w;
            }
            kern_concat_backward(rows, L->ninputs, ws, l->dout, dxs);
            break;
        }
        case IR_LAYER_ADD:
            for (int k = 0; k < L->ninputs; k++)
                kern_accumulate(rows * l->w, l->dout, e->lr[L->inputs[k]].dout);
            break;
        case IR_LAYER_SOFTMAX:
            if (!(e->fused_softmax && i == m->output))
                kern_softmax_backward(rows, l->w, l->out, l->dout, dx);
            break;
        default:
            break;
        }
    }
    return 0;
}
