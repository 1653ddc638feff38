/* dnnl_rnn: oneDNN's recurrent primitives under the fused built-in cells (see dnnl_rnn.h).
 *
 * Per window length T a Shape holds the forward primitives (inference, training), the backward
 * primitive, the weights in each primitive's own layout, the reorders from recur's PyTorch
 * layout into them (and from the backward's weight gradients back), and the training workspace.
 * Everything is created on first use of that T. recur's buffers are wrapped per call (memory
 * objects are small handles), so nothing of the caller's is kept. */
#include "config.h"

#include "exec/dnnl_rnn.h"
#include "exec/kernels_util.h"
#include "exec/parallel.h"

#include <cblas.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

bool onednn_env_enabled(void)
{
    static int on = -1; /* every caller computes the same value: a race is harmless */
    if (on < 0) {
        const char *v = getenv("RECUR_ONEDNN");
        on = !(v && strcmp(v, "0") == 0);
    }
    return on;
}

#ifdef HAVE_DNNL
#include <omp.h>
#include <oneapi/dnnl/dnnl.h>

enum { SHAPES = 3 }; /* window lengths kept per cell: the training T, a last short window, eval */

/* A primitive and its descriptor. */
typedef struct Prim {
    dnnl_primitive_desc_t pd;
    dnnl_primitive_t p;
} Prim;

/* One primitive's weights in its own layout and the reorders that fill or read them:
 * [0] weights_layer, [1] weights_iter. */
typedef struct Weights {
    dnnl_memory_t m[2];
    dnnl_primitive_t ro[2];
} Weights;

/* Everything for one window length (T == 0: a free slot). */
typedef struct Shape {
    int T;
    unsigned long used;
    Prim fwd[2];            /* [0] inference, [1] training */
    Weights wfwd[2];        /* their weights (user -> primitive reorders) */
    dnnl_memory_t ws;       /* training workspace */
    Prim bwd;
    Weights wbwd;           /* backward's weights (user -> primitive) */
    Weights dw;             /* backward's weight gradients (primitive -> user staging) */
} Shape;

struct OnednnRnn {
    OnednnCell cell;
    int B, In, H, G, nbias;
    bool reverse;
    float *wl, *wi;             /* GRU: weights in oneDNN's gate order (ldgoi); else unused */
    float *dwl, *dwi;           /* GRU: weight gradients in ldgoi, oneDNN's gate order */
    float *bias, *dbias;        /* [nbias][H] */
    float *h0, *c0, *hT, *cT;   /* states of the last forward (kept for backward) */
    float *dh0, *dc0, *dhT, *dcT;
    float *dx, *dy0;            /* backward staging: dx [T][B][In], zeros [T][B][H] */
    int stage_T;                /* T the staging buffers hold */
    Shape shapes[SHAPES];
    unsigned long clock;
    Shape *last;                /* the shape of the last forward if it was training, else NULL */
};

static dnnl_engine_t eng;
static dnnl_stream_t strm;
static int eng_state; /* 0 untried, 1 ready, -1 failed */

/* Creates the process's CPU engine and stream once; false when oneDNN cannot. */
static bool engine_ready(void)
{
    if (eng_state == 0) {
        eng_state = -1;
        if (dnnl_engine_create(&eng, dnnl_cpu, 0) == dnnl_success) {
            if (dnnl_stream_create(&strm, eng, dnnl_stream_default_flags) == dnnl_success)
                eng_state = 1;
            else
                dnnl_engine_destroy(eng);
        }
    }
    return eng_state == 1;
}

/* The engine can be made (created on the first call). */
bool onednn_available(void) { return engine_ready(); }

/* dnnl_get_effective_cpu_isa's value as a name. */
const char *onednn_isa(void)
{
    switch (dnnl_get_effective_cpu_isa()) {
    case dnnl_cpu_isa_sse41: return "sse41";
    case dnnl_cpu_isa_avx: return "avx";
    case dnnl_cpu_isa_avx2: return "avx2";
    case dnnl_cpu_isa_avx2_vnni: return "avx2_vnni";
    case dnnl_cpu_isa_avx512_core: return "avx512_core";
    case dnnl_cpu_isa_avx512_core_vnni: return "avx512_core_vnni";
    case dnnl_cpu_isa_avx512_core_bf16: return "avx512_core_bf16";
    case dnnl_cpu_isa_avx512_core_amx: return "avx512_core_amx";
    default: return "other";
    }
}

/* OpenBLAS's thread pool stopped while oneDNN does every product (kern_sgemm): Debian's
 * pthreads build of OpenBLAS starts its threads when it is loaded, and they spin on
 * sched_yield for about 0.1 s (2^28 cycles) before sleeping, taking a core from every recur
 * process as it starts (a `recur sample` of 3000 characters spent a fifth of its samples in
 * that thread). OpenBLAS starts the pool again by itself if it is ever called (RECUR_ONEDNN=0,
 * read once per process, keeps it). blas_thread_shutdown_ is exported by both Debian builds of
 * OpenBLAS (pthreads and OpenMP) but declared in no header: weak, so another BLAS links. */
extern int blas_thread_shutdown_(void) __attribute__((weak));

static void blas_pool_stop(void)
{
    if (blas_thread_shutdown_ && onednn_env_enabled())
        blas_thread_shutdown_();
}

__attribute__((constructor)) static void blas_pool_stop_at_load(void) { blas_pool_stop(); }

/* OpenMP's thread count (oneDNN's primitives and sgemm) and OpenBLAS's (which setting starts
 * its pool again: stopped once more). */
void onednn_set_threads(int n)
{
    omp_set_num_threads(n);
    openblas_set_num_threads(n);
    blas_pool_stop();
}

/* Reports a failed oneDNN call; returns -1. */
static int dn_fail(Diag *d, const char *what, dnnl_status_t st)
{
    diag_error_in(d, "oneDNN", "%s failed (status %d)", what, (int)st);
    return -1;
}
#define DN(call, what)                                                                          \
    do {                                                                                        \
        dnnl_status_t st_ = (call);                                                             \
        if (st_ != dnnl_success)                                                                \
            return dn_fail(d, what, st_);                                                       \
    } while (0)

/* ---- descriptors ------------------------------------------------------------------------- */

/* The memory descriptors of one cell over T steps: user layouts for activations, states and
 * bias, "any" for the weights (the primitive picks). */
typedef struct Mds {
    dnnl_memory_desc_t src, dst, iter, wl, wi, bias;
} Mds;

/* Fills m for r over T steps. */
static int make_mds(const OnednnRnn *r, int T, Mds *m, Diag *d)
{
    dnnl_dims_t src = { T, r->B, r->In }, dst = { T, r->B, r->H }, iter = { 1, 1, r->B, r->H };
    dnnl_dims_t wl = { 1, 1, r->In, r->G, r->H }, wi = { 1, 1, r->H, r->G, r->H };
    dnnl_dims_t bias = { 1, 1, r->nbias, r->H };
    DN(dnnl_memory_desc_init_by_tag(&m->src, 3, src, dnnl_f32, dnnl_tnc), "src md");
    DN(dnnl_memory_desc_init_by_tag(&m->dst, 3, dst, dnnl_f32, dnnl_tnc), "dst md");
    DN(dnnl_memory_desc_init_by_tag(&m->iter, 4, iter, dnnl_f32, dnnl_ldnc), "iter md");
    DN(dnnl_memory_desc_init_by_tag(&m->wl, 5, wl, dnnl_f32, dnnl_format_tag_any), "wl md");
    DN(dnnl_memory_desc_init_by_tag(&m->wi, 5, wi, dnnl_f32, dnnl_format_tag_any), "wi md");
    DN(dnnl_memory_desc_init_by_tag(&m->bias, 4, bias, dnnl_f32, dnnl_ldgo), "bias md");
    return 0;
}

/* The forward descriptor of r's cell (prop: inference or training). */
static dnnl_status_t fwd_desc(const OnednnRnn *r, dnnl_prop_kind_t prop, const Mds *m,
                              dnnl_rnn_desc_t *rd)
{
    dnnl_rnn_direction_t dir =
        r->reverse ? dnnl_unidirectional_right2left : dnnl_unidirectional_left2right;
    switch (r->cell) {
    case ONEDNN_LSTM:
        return dnnl_lstm_forward_desc_init(rd, prop, dir, &m->src, &m->iter, &m->iter, &m->wl,
                                           &m->wi, &m->bias, &m->dst, &m->iter, &m->iter, 0);
    case ONEDNN_GRU:
        return dnnl_lbr_gru_forward_desc_init(rd, prop, dir, &m->src, &m->iter, &m->wl, &m->wi,
                                              &m->bias, &m->dst, &m->iter, 0);
    default:
        return dnnl_vanilla_rnn_forward_desc_init(
            rd, prop, r->cell == ONEDNN_RNN_RELU ? dnnl_eltwise_relu : dnnl_eltwise_tanh, dir,
            &m->src, &m->iter, &m->wl, &m->wi, &m->bias, &m->dst, &m->iter, 0, 0.0f, 0.0f);
    }
}

/* The backward descriptor of r's cell (diff descriptors equal the forward ones). */
static dnnl_status_t bwd_desc(const OnednnRnn *r, const Mds *m, dnnl_rnn_desc_t *rd)
{
    dnnl_rnn_direction_t dir =
        r->reverse ? dnnl_unidirectional_right2left : dnnl_unidirectional_left2right;
    const dnnl_memory_desc_t *s = &m->src, *i = &m->iter, *wl = &m->wl, *wi = &m->wi,
                             *b = &m->bias, *y = &m->dst;
    switch (r->cell) {
    case ONEDNN_LSTM:
        return dnnl_lstm_backward_desc_init(rd, dnnl_backward, dir, s, i, i, wl, wi, b, y, i, i,
                                            s, i, i, wl, wi, b, y, i, i, 0);
    case ONEDNN_GRU:
        return dnnl_lbr_gru_backward_desc_init(rd, dnnl_backward, dir, s, i, wl, wi, b, y, i, s,
                                               i, wl, wi, b, y, i, 0);
    default:
        return dnnl_vanilla_rnn_backward_desc_init(
            rd, dnnl_backward,
            r->cell == ONEDNN_RNN_RELU ? dnnl_eltwise_relu : dnnl_eltwise_tanh, dir, s, i, wl,
            wi, b, y, i, s, i, wl, wi, b, y, i, 0, 0.0f, 0.0f);
    }
}

/* ---- shapes ------------------------------------------------------------------------------ */

/* Destroys what a Weights holds. */
static void weights_free(Weights *w)
{
    for (int k = 0; k < 2; k++) {
        if (w->ro[k])
            dnnl_primitive_destroy(w->ro[k]);
        if (w->m[k])
            dnnl_memory_destroy(w->m[k]);
    }
    memset(w, 0, sizeof *w);
}

/* Destroys a primitive and its descriptor. */
static void prim_free(Prim *p)
{
    if (p->p)
        dnnl_primitive_destroy(p->p);
    if (p->pd)
        dnnl_primitive_desc_destroy(p->pd);
    memset(p, 0, sizeof *p);
}

/* Frees everything of a shape and marks its slot free. */
static void shape_free(Shape *s)
{
    for (int k = 0; k < 2; k++) {
        prim_free(&s->fwd[k]);
        weights_free(&s->wfwd[k]);
    }
    prim_free(&s->bwd);
    weights_free(&s->wbwd);
    weights_free(&s->dw);
    if (s->ws)
        dnnl_memory_destroy(s->ws);
    memset(s, 0, sizeof *s);
}

/* The user (PyTorch, ldgoi) descriptor of weights k (0: layer, 1: iter). */
static int user_wmd(const OnednnRnn *r, int k, dnnl_memory_desc_t *md, Diag *d)
{
    dnnl_dims_t dims = { 1, 1, k ? r->H : r->In, r->G, r->H };
    DN(dnnl_memory_desc_init_by_tag(md, 5, dims, dnnl_f32, dnnl_ldgoi), "weights md");
    return 0;
}

/* A reorder from -> to; with sum it adds into the destination (dst += src). */
static int make_reorder(const dnnl_memory_desc_t *from, const dnnl_memory_desc_t *to, bool sum,
                        dnnl_primitive_t *p, Diag *d)
{
    dnnl_primitive_attr_t attr = NULL;
    dnnl_post_ops_t po = NULL;
    dnnl_primitive_desc_t rpd = NULL;
    dnnl_status_t st = dnnl_success;
    if (sum && (st = dnnl_primitive_attr_create(&attr)) == dnnl_success &&
        (st = dnnl_post_ops_create(&po)) == dnnl_success &&
        (st = dnnl_post_ops_append_sum(po, 1.0f)) == dnnl_success)
        st = dnnl_primitive_attr_set_post_ops(attr, po);
    if (st == dnnl_success)
        st = dnnl_reorder_primitive_desc_create(&rpd, from, eng, to, eng, attr);
    if (st == dnnl_success)
        st = dnnl_primitive_create(p, rpd);
    if (rpd)
        dnnl_primitive_desc_destroy(rpd);
    if (po)
        dnnl_post_ops_destroy(po);
    if (attr)
        dnnl_primitive_attr_destroy(attr);
    DN(st, "weights reorder");
    return 0;
}

/* Allocates w's memories in pd's weight layouts (query: weights or diff weights) and the
 * reorders between them and the user layout (to_prim: user -> primitive; else back, adding
 * into recur's gradients directly unless the GRU's gates must be swapped on the way). */
static int weights_make(const OnednnRnn *r, const_dnnl_primitive_desc_t pd, dnnl_query_t q,
                        bool to_prim, Weights *w, Diag *d)
{
    for (int k = 0; k < 2; k++) {
        const dnnl_memory_desc_t *pm = dnnl_primitive_desc_query_md(pd, q, k);
        dnnl_memory_desc_t um;
        if (!pm || user_wmd(r, k, &um, d))
            return pm ? -1 : dn_fail(d, "weights query", dnnl_runtime_error);
        DN(dnnl_memory_create(&w->m[k], pm, eng, DNNL_MEMORY_ALLOCATE), "weights memory");
        if (make_reorder(to_prim ? &um : pm, to_prim ? pm : &um,
                         !to_prim && r->cell != ONEDNN_GRU, &w->ro[k], d))
            return -1;
    }
    return 0;
}

/* Builds s's forward primitive for train (and its workspace). */
static int make_fwd(OnednnRnn *r, Shape *s, bool train, Diag *d)
{
    Mds m;
    dnnl_rnn_desc_t rd;
    if (make_mds(r, s->T, &m, d))
        return -1;
    DN(fwd_desc(r, train ? dnnl_forward_training : dnnl_forward_inference, &m, &rd),
       "rnn forward descriptor");
    Prim *p = &s->fwd[train];
    DN(dnnl_primitive_desc_create(&p->pd, &rd, NULL, eng, NULL), "rnn forward");
    DN(dnnl_primitive_create(&p->p, p->pd), "rnn forward");
    if (weights_make(r, p->pd, dnnl_query_weights_md, true, &s->wfwd[train], d))
        return -1;
    if (train) {
        const dnnl_memory_desc_t *wm = dnnl_primitive_desc_query_md(p->pd,
                                                                    dnnl_query_workspace_md, 0);
        DN(dnnl_memory_create(&s->ws, wm, eng, DNNL_MEMORY_ALLOCATE), "rnn workspace");
    }
    return 0;
}

/* Builds s's backward primitive (hinted by its training forward). */
static int make_bwd(OnednnRnn *r, Shape *s, Diag *d)
{
    Mds m;
    dnnl_rnn_desc_t rd;
    if (make_mds(r, s->T, &m, d))
        return -1;
    DN(bwd_desc(r, &m, &rd), "rnn backward descriptor");
    Prim *p = &s->bwd;
    DN(dnnl_primitive_desc_create(&p->pd, &rd, NULL, eng, s->fwd[1].pd), "rnn backward");
    DN(dnnl_primitive_create(&p->p, p->pd), "rnn backward");
    if (weights_make(r, p->pd, dnnl_query_weights_md, true, &s->wbwd, d) ||
        weights_make(r, p->pd, dnnl_query_diff_weights_md, false, &s->dw, d))
        return -1;
    return 0;
}

/* The shape for T with its forward (train) built: a kept one, or a new one in a free or the
 * least recently used slot. NULL with a diagnostic. */
static Shape *get_shape(OnednnRnn *r, int T, bool train, Diag *d)
{
    Shape *s = NULL, *old = &r->shapes[0];
    for (int k = 0; k < SHAPES && !s; k++) {
        if (r->shapes[k].T == T)
            s = &r->shapes[k];
        else if (r->shapes[k].used < old->used)
            old = &r->shapes[k];
    }
    if (!s) {
        shape_free(old);
        s = old;
        s->T = T;
    }
    s->used = ++r->clock;
    if (!s->fwd[train].p && make_fwd(r, s, train, d)) {
        shape_free(s);
        return NULL;
    }
    return s;
}

/* ---- handle ------------------------------------------------------------------------------ */

/* A handle with its small buffers (states, bias, the GRU's gate-swapped copies); primitives
 * come on first use of each window length. */
OnednnRnn *onednn_rnn_create(OnednnCell cell, int B, int In, int H, bool reverse, Diag *d)
{
    if (cell == ONEDNN_NONE || B <= 0 || In <= 0 || H <= 0 || !engine_ready()) {
        diag_error_in(d, "oneDNN", "cannot run this cell (no engine or bad sizes)");
        return NULL;
    }
    OnednnRnn *r = calloc(1, sizeof *r);
    if (!r)
        goto oom;
    r->cell = cell;
    r->B = B, r->In = In, r->H = H, r->reverse = reverse;
    r->G = cell == ONEDNN_LSTM ? 4 : cell == ONEDNN_GRU ? 3 : 1;
    r->nbias = cell == ONEDNN_GRU ? 4 : r->G;
    size_t gh = (size_t)r->G * H, bh = (size_t)B * H;
    float **bufs[] = { &r->bias, &r->dbias, &r->h0, &r->c0, &r->hT, &r->cT, &r->dh0, &r->dc0,
                       &r->dhT, &r->dcT, &r->wl, &r->wi, &r->dwl, &r->dwi };
    size_t sizes[] = { (size_t)r->nbias * H, (size_t)r->nbias * H, bh, bh, bh, bh, bh, bh,
                       bh, bh, gh * In, gh * H, gh * In, gh * H };
    int nb = cell == ONEDNN_GRU ? 14 : 10; /* the last four: the GRU's gate-swapped copies */
    for (int k = 0; k < nb; k++)
        if (!(*bufs[k] = calloc(sizes[k], sizeof(float))))
            goto oom;
    return r;
oom:
    onednn_rnn_free(r);
    diag_error_in(d, "oneDNN", "out of memory");
    return NULL;
}

/* Frees every shape's primitives and memories, then the handle's buffers. */
void onednn_rnn_free(OnednnRnn *r)
{
    if (!r)
        return;
    for (int k = 0; k < SHAPES; k++)
        shape_free(&r->shapes[k]);
    float *bufs[] = { r->wl, r->wi, r->dwl, r->dwi, r->bias, r->dbias, r->h0, r->c0, r->hT,
                      r->cT, r->dh0, r->dc0, r->dhT, r->dcT, r->dx, r->dy0 };
    for (size_t k = 0; k < sizeof bufs / sizeof *bufs; k++)
        free(bufs[k]);
    free(r);
}

/* ---- layouts ----------------------------------------------------------------------------- */

/* oneDNN's gate index of PyTorch gate g: GRU r, z, n -> u(=z), r, o swaps the first two. */
static int gate_of(const OnednnRnn *r, int g)
{
    return r->cell == ONEDNN_GRU && g < 2 ? 1 - g : g;
}

/* A [G][H][cols] block moved between PyTorch's gate order and oneDNN's (gate_of): copied into
 * oneDNN's order, or oneDNN's order added into PyTorch's. */
typedef struct GatesJob {
    const OnednnRnn *r;
    size_t blk;        /* H * cols floats a gate */
    const float *src;
    float *dst;
    bool add;          /* dst (PyTorch's order) += src (oneDNN's), else dst (oneDNN's) = src */
} GatesJob;

/* Floats [lo, hi) of the block in PyTorch's order, gate by gate. */
static void gates_range(void *ctx, size_t lo, size_t hi)
{
    const GatesJob *j = ctx;
    while (lo < hi) {
        size_t g = lo / j->blk, end = (g + 1) * j->blk < hi ? (g + 1) * j->blk : hi;
        size_t at = j->blk * (size_t)gate_of(j->r, (int)g) + (lo - g * j->blk);
        if (j->add)
            kern_vadd(end - lo, j->src + at, j->dst + lo);
        else
            memcpy(j->dst + at, j->src + lo, sizeof(float) * (end - lo));
        lo = end;
    }
}

/* Copies a [G][H][cols] block from PyTorch's gate order into oneDNN's, split across the
 * threads (3.5 MB a 512-wide GRU level, before every forward). */
static void to_dnnl_gates(const OnednnRnn *r, int cols, const float *src, float *dst)
{
    GatesJob j = { r, (size_t)r->H * cols, src, dst, false };
    kern_parallel_for(j.blk * r->G, (double)(j.blk * r->G), gates_range, &j);
}

/* Adds a [G][H][cols] block in oneDNN's gate order into one in PyTorch's: dst += src (each
 * float on its own: the same at any thread count). */
static void add_from_dnnl_gates(const OnednnRnn *r, int cols, const float *src, float *dst)
{
    GatesJob j = { r, (size_t)r->H * cols, src, dst, true };
    kern_parallel_for(j.blk * r->G, (double)(j.blk * r->G), gates_range, &j);
}

/* The bias in oneDNN's layout: b_ih + b_hh per gate; lbr_gru keeps b_in and b_hn apart:
 *   [b_iz + b_hz, b_ir + b_hr, b_in, b_hn]. */
static void pack_bias(OnednnRnn *r, const float *b_ih, const float *b_hh)
{
    int H = r->H;
    for (int g = 0; g < r->G; g++) {
        float *o = r->bias + (size_t)H * gate_of(r, g);
        bool split = r->cell == ONEDNN_GRU && g == 2;
        for (int j = 0; j < H; j++) {
            float a = b_ih ? b_ih[g * H + j] : 0.0f, b = b_hh ? b_hh[g * H + j] : 0.0f;
            o[j] = split ? a : a + b;
            if (split)
                r->bias[3 * H + j] = b;
        }
    }
}

/* Adds oneDNN's bias gradient into PyTorch's db_ih and db_hh (either NULL = not wanted): a
 * summed bias's gradient goes to both; lbr_gru's b_in and b_hn have their own. */
static void unpack_dbias(const OnednnRnn *r, float *db_ih, float *db_hh)
{
    int H = r->H;
    for (int g = 0; g < r->G; g++) {
        const float *s = r->dbias + (size_t)H * gate_of(r, g);
        const float *sh = r->cell == ONEDNN_GRU && g == 2 ? r->dbias + 3 * (size_t)H : s;
        for (int j = 0; j < H; j++) {
            if (db_ih)
                db_ih[g * H + j] += s[j];
            if (db_hh)
                db_hh[g * H + j] += sh[j];
        }
    }
}

/* ---- running ----------------------------------------------------------------------------- */

/* A memory object of user descriptor md on buf (a caller's or a staging buffer). */
static int wrap(const dnnl_memory_desc_t *md, const void *buf, dnnl_memory_t *m, Diag *d)
{
    DN(dnnl_memory_create(m, md, eng, (void *)buf), "memory");
    return 0;
}

/* Runs primitive p with n arguments and waits for it. */
static int run(dnnl_primitive_t p, int n, const dnnl_exec_arg_t *args, const char *what,
               Diag *d)
{
    DN(dnnl_primitive_execute(p, strm, n, args), what);
    DN(dnnl_stream_wait(strm), what);
    return 0;
}

/* run() for r's forward or backward primitive, on one thread when its steps are small
 * (ONEDNN_RNN_PAR_MIN); the thread setting is restored after. Fewer threads than the primitive
 * was created for is safe (oneDNN books scratch space for the most). */
static int run_rnn(const OnednnRnn *r, dnnl_primitive_t p, int n, const dnnl_exec_arg_t *args,
                   const char *what, Diag *d)
{
    int nth = omp_get_max_threads();
    bool small = (long)r->B * r->G * r->H * (r->In + r->H) < ONEDNN_RNN_PAR_MIN;
    if (!small || nth == 1)
        return run(p, n, args, what, d);
    omp_set_num_threads(1);
    int rc = run(p, n, args, what, d);
    omp_set_num_threads(nth);
    return rc;
}

/* Reorders recur's weights (PyTorch layout; GRU through the gate-swapped copies, made anew
 * when copy_gru: the backward reuses its forward's, as it runs on the same weights) into w. */
static int load_weights(OnednnRnn *r, const Weights *w, KernRecWeights kw, bool copy_gru,
                        Diag *d)
{
    const float *src[2] = { kw.w_ih, kw.w_hh };
    if (r->cell == ONEDNN_GRU) {
        if (copy_gru) {
            to_dnnl_gates(r, r->In, kw.w_ih, r->wl);
            to_dnnl_gates(r, r->H, kw.w_hh, r->wi);
        }
        src[0] = r->wl, src[1] = r->wi;
    }
    for (int k = 0; k < 2; k++) {
        dnnl_memory_desc_t um;
        dnnl_memory_t u;
        if (user_wmd(r, k, &um, d) || wrap(&um, src[k], &u, d))
            return -1;
        dnnl_exec_arg_t a[2] = { { DNNL_ARG_FROM, u }, { DNNL_ARG_TO, w->m[k] } };
        int rc = run(w->ro[k], 2, a, "weights reorder", d);
        dnnl_memory_destroy(u);
        if (rc)
            return -1;
    }
    return 0;
}

/* Copies a state in (NULL: zeros) or out (NULL dst: not wanted). */
static void state_in(size_t n, const float *src, float *dst)
{
    if (src)
        memcpy(dst, src, sizeof(float) * n);
    else
        memset(dst, 0, sizeof(float) * n);
}

/* Memory objects of one call: mem[k] wraps buf[k] with descriptor md[k]; all destroyed by
 * args_free. */
typedef struct Args {
    dnnl_exec_arg_t a[24];
    int n, nown;
    dnnl_memory_t own[24];
} Args;

/* Adds argument idx on buf (a user layout), or on the existing memory m when buf is NULL. */
static int arg(Args *A, int idx, const dnnl_memory_desc_t *md, const void *buf, dnnl_memory_t m,
               Diag *d)
{
    if (buf) {
        if (wrap(md, buf, &m, d))
            return -1;
        A->own[A->nown++] = m;
    }
    A->a[A->n++] = (dnnl_exec_arg_t){ idx, m };
    return 0;
}

/* Destroys the memory objects an Args wrapped. */
static void args_free(Args *A)
{
    for (int k = 0; k < A->nown; k++)
        dnnl_memory_destroy(A->own[k]);
}

/* Weights reordered into the primitive's layout, bias packed, states copied in (kept for
 * backward), the primitive run on recur's x and y, final states copied out. */
int onednn_rnn_forward(OnednnRnn *r, int T, bool train, const float *x, KernStateIn s0,
                       KernRecWeights w, float *y, KernStateOut sT, Diag *d)
{
    r->last = NULL;
    Shape *s = get_shape(r, T, train, d);
    Mds m;
    if (!s || make_mds(r, T, &m, d) || load_weights(r, &s->wfwd[train], w, true, d))
        return -1;
    size_t bh = (size_t)r->B * r->H;
    pack_bias(r, w.b_ih, w.b_hh);
    state_in(bh, s0.h, r->h0);
    state_in(bh, r->cell == ONEDNN_LSTM ? s0.c : NULL, r->c0);
    Args A = { 0 };
    bool lstm = r->cell == ONEDNN_LSTM;
    int rc = arg(&A, DNNL_ARG_SRC_LAYER, &m.src, x, NULL, d) ||
             arg(&A, DNNL_ARG_SRC_ITER, &m.iter, r->h0, NULL, d) ||
             (lstm && arg(&A, DNNL_ARG_SRC_ITER_C, &m.iter, r->c0, NULL, d)) ||
             arg(&A, DNNL_ARG_WEIGHTS_LAYER, NULL, NULL, s->wfwd[train].m[0], d) ||
             arg(&A, DNNL_ARG_WEIGHTS_ITER, NULL, NULL, s->wfwd[train].m[1], d) ||
             arg(&A, DNNL_ARG_BIAS, &m.bias, r->bias, NULL, d) ||
             arg(&A, DNNL_ARG_DST_LAYER, &m.dst, y, NULL, d) ||
             arg(&A, DNNL_ARG_DST_ITER, &m.iter, r->hT, NULL, d) ||
             (lstm && arg(&A, DNNL_ARG_DST_ITER_C, &m.iter, r->cT, NULL, d)) ||
             (train && arg(&A, DNNL_ARG_WORKSPACE, NULL, NULL, s->ws, d));
    rc = rc || run_rnn(r, s->fwd[train].p, A.n, A.a, "rnn forward", d);
    args_free(&A);
    if (rc)
        return -1;
    if (sT.h)
        memcpy(sT.h, r->hT, sizeof(float) * bh);
    if (lstm && sT.c)
        memcpy(sT.c, r->cT, sizeof(float) * bh);
    r->last = train ? s : NULL;
    return 0;
}

/* Grows the backward staging buffers (dx, zero dy) to T steps. */
static int stage_grow(OnednnRnn *r, int T, Diag *d)
{
    if (T <= r->stage_T)
        return 0;
    free(r->dx);
    free(r->dy0);
    r->dx = calloc((size_t)T * r->B * r->In, sizeof(float));
    r->dy0 = calloc((size_t)T * r->B * r->H, sizeof(float));
    r->stage_T = r->dx && r->dy0 ? T : 0;
    if (!r->stage_T) {
        diag_error_in(d, "oneDNN", "out of memory");
        return -1;
    }
    return 0;
}

/* Zeroes a memory object's buffer (oneDNN's backward accumulates into weight gradients). */
static void mem_zero(dnnl_memory_t m)
{
    const dnnl_memory_desc_t *md;
    void *p = NULL;
    if (dnnl_memory_get_memory_desc(m, &md) == dnnl_success &&
        dnnl_memory_get_data_handle(m, &p) == dnnl_success && p)
        memset(p, 0, dnnl_memory_desc_get_size(md));
}

/* Reorders the backward's weight gradients back to PyTorch's layout, adding them into recur's
 * (directly, or for the GRU through the ldgoi staging, whose gates are swapped while adding),
 * and adds the bias gradient. */
static int store_grads(OnednnRnn *r, const Shape *s, KernRecGrads dw, Diag *d)
{
    float *stage[2] = { r->dwl, r->dwi }, *out[2] = { dw.dw_ih, dw.dw_hh };
    bool gru = r->cell == ONEDNN_GRU;
    for (int k = 0; k < 2; k++) {
        dnnl_memory_desc_t um;
        dnnl_memory_t u;
        if (!out[k])
            continue;
        if (user_wmd(r, k, &um, d) || wrap(&um, gru ? stage[k] : out[k], &u, d))
            return -1;
        dnnl_exec_arg_t a[2] = { { DNNL_ARG_FROM, s->dw.m[k] }, { DNNL_ARG_TO, u } };
        int rc = run(s->dw.ro[k], 2, a, "gradient reorder", d);
        dnnl_memory_destroy(u);
        if (rc)
            return -1;
        if (gru)
            add_from_dnnl_gates(r, k ? r->H : r->In, stage[k], out[k]);
    }
    unpack_dbias(r, dw.db_ih, dw.db_hh);
    return 0;
}

/* What add_range reads: dst[j] += src[j]. */
typedef struct AddJob {
    const float *src;
    float *dst;
} AddJob;

static void add_range(void *ctx, size_t lo, size_t hi)
{
    const AddJob *a = ctx;
    kern_vadd(hi - lo, a->src + lo, a->dst + lo);
}

/* Adds n floats of src into dst (dst NULL: not wanted), split across the threads. */
static void add_into(size_t n, const float *src, float *dst)
{
    AddJob a = { src, dst };
    if (dst)
        kern_parallel_for(n, (double)n, add_range, &a);
}

/* The backward primitive's arguments: forward data, gradients in and out. */
static int bwd_args(OnednnRnn *r, Shape *s, const Mds *m, const float *x, const float *y,
                    const float *dy, float *dx, Args *A, Diag *d)
{
    bool lstm = r->cell == ONEDNN_LSTM;
    return arg(A, DNNL_ARG_SRC_LAYER, &m->src, x, NULL, d) ||
           arg(A, DNNL_ARG_SRC_ITER, &m->iter, r->h0, NULL, d) ||
           (lstm && arg(A, DNNL_ARG_SRC_ITER_C, &m->iter, r->c0, NULL, d)) ||
           arg(A, DNNL_ARG_WEIGHTS_LAYER, NULL, NULL, s->wbwd.m[0], d) ||
           arg(A, DNNL_ARG_WEIGHTS_ITER, NULL, NULL, s->wbwd.m[1], d) ||
           arg(A, DNNL_ARG_BIAS, &m->bias, r->bias, NULL, d) ||
           arg(A, DNNL_ARG_DST_LAYER, &m->dst, y, NULL, d) ||
           arg(A, DNNL_ARG_DST_ITER, &m->iter, r->hT, NULL, d) ||
           (lstm && arg(A, DNNL_ARG_DST_ITER_C, &m->iter, r->cT, NULL, d)) ||
           arg(A, DNNL_ARG_WORKSPACE, NULL, NULL, s->ws, d) ||
           arg(A, DNNL_ARG_DIFF_DST_LAYER, &m->dst, dy ? dy : r->dy0, NULL, d) ||
           arg(A, DNNL_ARG_DIFF_DST_ITER, &m->iter, r->dhT, NULL, d) ||
           (lstm && arg(A, DNNL_ARG_DIFF_DST_ITER_C, &m->iter, r->dcT, NULL, d)) ||
           arg(A, DNNL_ARG_DIFF_SRC_LAYER, &m->src, dx, NULL, d) ||
           arg(A, DNNL_ARG_DIFF_SRC_ITER, &m->iter, r->dh0, NULL, d) ||
           (lstm && arg(A, DNNL_ARG_DIFF_SRC_ITER_C, &m->iter, r->dc0, NULL, d)) ||
           arg(A, DNNL_ARG_DIFF_WEIGHTS_LAYER, NULL, NULL, s->dw.m[0], d) ||
           arg(A, DNNL_ARG_DIFF_WEIGHTS_ITER, NULL, NULL, s->dw.m[1], d) ||
           arg(A, DNNL_ARG_DIFF_BIAS, &m->bias, r->dbias, NULL, d);
}

/* The backward primitive on the last training forward's shape: weights reordered into its
 * layout, weight gradients zeroed (it accumulates), run, then every gradient added into
 * recur's; dx written in place when what it holds does not count (oneDNN writes diff_src, it
 * does not add), else through the staging copy. */
int onednn_rnn_backward(OnednnRnn *r, const float *x, KernRecWeights w, const float *y,
                        const float *dy, KernDStateIn dsT, float *dx, bool dx_overwrite,
                        KernDStateOut ds0, KernRecGrads dw, Diag *d)
{
    Shape *s = r->last;
    if (!s) {
        diag_error_in(d, "oneDNN", "backward without a training forward");
        return -1;
    }
    Mds m;
    if ((!s->bwd.p && make_bwd(r, s, d)) || make_mds(r, s->T, &m, d) ||
        stage_grow(r, s->T, d) || load_weights(r, &s->wbwd, w, false, d))
        return -1;
    size_t bh = (size_t)r->B * r->H;
    bool lstm = r->cell == ONEDNN_LSTM;
    state_in(bh, dsT.dh, r->dhT);
    state_in(bh, lstm ? dsT.dc : NULL, r->dcT);
    mem_zero(s->dw.m[0]);
    mem_zero(s->dw.m[1]);
    memset(r->dbias, 0, sizeof(float) * r->nbias * r->H);
    Args A = { 0 };
    bool direct = dx && dx_overwrite;
    int rc = bwd_args(r, s, &m, x, y, dy, direct ? dx : r->dx, &A, d) ||
             run_rnn(r, s->bwd.p, A.n, A.a, "rnn backward", d);
    args_free(&A);
    if (rc || store_grads(r, s, dw, d))
        return -1;
    if (!direct)
        add_into((size_t)s->T * r->B * r->In, r->dx, dx);
    add_into(bh, r->dh0, ds0.dh);
    if (lstm)
        add_into(bh, r->dc0, ds0.dc);
    return 0;
}

/* max |v[i]| over n floats; infinity when any is not finite (NULL: 0). 16 lanes at a time
 * (cloned per ISA; the last block overlaps the one before, which changes neither result): the
 * maximum of |v| and the sum of v * 0, which is NaN exactly when some v is inf or NaN. It reads
 * x, the weights and the state before every oneDNN call, so its speed shows at small sizes. */
__attribute__((target_clones("avx512f", "avx2", "default"))) static float
max_abs(size_t n, const float *v)
{
    float r = 0.0f, zz = 0.0f, lanes[KV16], zl[KV16];
    if (!v || n < KV16) {
        for (size_t i = 0; v && i < n; i++)
            r = fabsf(v[i]) > r ? fabsf(v[i]) : r, zz += v[i] * 0.0f;
        return zz == 0.0f ? r : INFINITY;
    }
    KernV16 m = { 0 }, z = { 0 }, x;
    for (size_t i = 0; i < n; i += KV16) {
        memcpy(&x, v + (i + KV16 <= n ? i : n - KV16), sizeof x);
        KernV16 a = (KernV16)((KernI16)x & INT32_MAX);
        m = KV16_SELECT((KernI16)(a > m), a, m);
        z += x * 0.0f;
    }
    memcpy(lanes, &m, sizeof lanes);
    memcpy(zl, &z, sizeof zl);
    for (int l = 0; l < KV16; l++)
        r = lanes[l] > r ? lanes[l] : r, zz += zl[l];
    return zz == 0.0f ? r : INFINITY;
}

/* max_abs over n floats in MAX_PARTS fixed parts, split across the threads, then the largest
 * (exactly max_abs's value at any thread count: a maximum does not depend on the order). x of a
 * 512-wide level over B 32 x T 100 is 1.6M floats: 0.2 ms on one thread, before every call. */
enum { MAX_PARTS = 16 };
typedef struct MaxJob {
    const float *v;
    size_t n;
    float part[MAX_PARTS];
} MaxJob;

static void max_parts(void *ctx, size_t lo, size_t hi)
{
    MaxJob *j = ctx;
    for (size_t p = lo; p < hi; p++) {
        size_t a = j->n * p / MAX_PARTS, b = j->n * (p + 1) / MAX_PARTS;
        j->part[p] = max_abs(b - a, j->v + a);
    }
}

static float max_abs_all(size_t n, const float *v)
{
    if (!v)
        return 0.0f;
    MaxJob j = { v, n, { 0 } };
    kern_parallel_for(MAX_PARTS, (double)n, max_parts, &j);
    float r = 0.0f;
    for (int p = 0; p < MAX_PARTS; p++)
        r = j.part[p] > r ? j.part[p] : r;
    return r;
}

/* The bound of dnnl_rnn.h from the largest magnitudes of x, h0, the weights and biases. */
bool onednn_rnn_inputs_safe(const OnednnRnn *r, int T, const float *x, KernStateIn s0,
                            KernRecWeights w)
{
    size_t gh = (size_t)r->G * r->H, bh = (size_t)r->B * r->H;
    double ax = max_abs_all((size_t)T * r->B * r->In, x), aw = max_abs_all(gh * r->In, w.w_ih);
    double au = max_abs_all(gh * r->H, w.w_hh), ah = fmax(max_abs(bh, s0.h), 1.0);
    double ab = (double)max_abs(gh, w.b_ih) + max_abs(gh, w.b_hh);
    double pre = ax * aw * r->In + ah * au * r->H + ab;
    bool c_ok = r->cell != ONEDNN_LSTM || isfinite(max_abs(bh, s0.c));
    return c_ok && isfinite(pre) && pre < 1e30;
}

#else /* no oneDNN: the executor uses recur's own kernels */

bool onednn_available(void) { return false; }
const char *onednn_isa(void) { return "none"; }
void onednn_set_threads(int n) { openblas_set_num_threads(n); }

OnednnRnn *onednn_rnn_create(OnednnCell cell, int B, int In, int H, bool reverse, Diag *d)
{
    (void)cell, (void)B, (void)In, (void)H, (void)reverse;
    diag_error_in(d, "oneDNN", "recur was built without oneDNN");
    return NULL;
}
void onednn_rnn_free(OnednnRnn *r) { (void)r; }
bool onednn_rnn_inputs_safe(const OnednnRnn *r, int T, const float *x, KernStateIn s0,
                            KernRecWeights w)
{
    (void)r, (void)T, (void)x, (void)s0, (void)w;
    return false;
}
int onednn_rnn_forward(OnednnRnn *r, int T, bool train, const float *x, KernStateIn s0,
                       KernRecWeights w, float *y, KernStateOut sT, Diag *d)
{
    (void)r, (void)T, (void)train, (void)x, (void)s0, (void)w, (void)y, (void)sT;
    diag_error_in(d, "oneDNN", "recur was built without oneDNN");
    return -1;
}
int onednn_rnn_backward(OnednnRnn *r, const float *x, KernRecWeights w, const float *y,
                        const float *dy, KernDStateIn dsT, float *dx, bool dx_overwrite,
                        KernDStateOut ds0, KernRecGrads dw, Diag *d)
{
    (void)r, (void)x, (void)w, (void)y, (void)dy, (void)dsT, (void)dx, (void)dx_overwrite;
    (void)ds0, (void)dw;
    diag_error_in(d, "oneDNN", "recur was built without oneDNN");
    return -1;
}
#endif
