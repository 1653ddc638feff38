/* kernels_rnn: the fused Elman RNN layer (tanh or relu, one direction) over a BPTT window.
 *
 * Cache layout of a train-mode forward (time-indexed):
 *   hs [T][B][H]  h after step t     hprev [T][B][H]  h entering step t
 *   hfin [B][H]   state after the last step           bias [H]  b_ih + b_hh
 * Without train only bias is used: pre-activations are accumulated directly in y. */
#include "exec/kernels.h"
#include "exec/kernels_util.h"
#include "exec/matvec.h"

size_t kern_rnn_cache_floats(int T, int B, int H, bool train)
{
    size_t tbh = (size_t)T * B * H, bh = (size_t)B * H;
    return train ? 2 * tbh + bh + (size_t)H : (size_t)H;
}

size_t kern_rnn_work_floats(int T, int B, int H)
{
    return (size_t)T * B * H + (size_t)B * H;
}

/* h = act(a + bias) in place for the hidden units j0 <= j < j1 of one row, and an optional
 * second copy of them.   a [H], bias [H], copy [H] or NULL */
static void rnn_units(int j0, int j1, KernAct act, float *a, const float *bias, float *copy)
{
    for (int j = j0; j < j1; j += KV) {
        int m = j1 - j < KV ? j1 - j : KV;
        KernV4 v = kv_load(a + j, m) + kv_load(bias + j, m);
        v = act == KERN_ACT_RELU ? kv_select(v > 0.0f, v, kv_splat(0.0f)) : kv_tanh(v);
        kv_store(a + j, v, m);
        if (copy)
            kv_store(copy + j, v, m);
    }
}

/* Hidden units per chunk of a batch-1 step's mvpool job (a multiple of KV). */
#define RNN_STEP_UNITS 16

/* One step of B rows: a [B][H] holds x W_ih^T unless fuse_x (batch 1, a window of one step:
 * x W_ih^T is fused into the step), and becomes h; hp is h entering the step (NULL = 0);
 * copy [B][H] or NULL receives a second copy of h. */
typedef struct RnnStep {
    int B, In, H;
    KernAct act;
    const float *x, *hp;
    KernRecWeights w;
    bool fuse_x;
    float *a;
    const float *bias;
    float *copy;
} RnnStep;

/* Units of chunk `chunk` of a batch-1 step: their rows of x W_ih^T (when fused) and h W_hh^T in
 * one pass over both weight matrices, then act. An mvpool job. */
static void rnn_step1_chunk(void *ctx, int chunk)
{
    const RnnStep *s = ctx;
    int j0 = chunk * RNN_STEP_UNITS, j1 = j0 + RNN_STEP_UNITS < s->H ? j0 + RNN_STEP_UNITS : s->H;
    kern_matvec_rows(j0, j1, s->fuse_x ? s->w.w_ih : NULL, s->In, s->x, s->hp ? s->w.w_hh : NULL,
                     s->H, s->hp, !s->fuse_x, s->a);
    rnn_units(j0, j1, s->act, s->a, s->bias, s->copy);
}

/* One step: a += h_prev W_hh^T (and x W_ih^T when fused), then h = act(a + bias). Batch 1
 * runs as chunks of hidden units on the pool's threads (one hand-off per step, the activation
 * split too); larger batches as one GEMM and the activation row by row. */
static void rnn_step(const RnnStep *s)
{
    int H = s->H;
    if (s->B == 1) {
        long madds = (long)H * (H + (s->fuse_x ? s->In : 0));
        int chunks = (H + RNN_STEP_UNITS - 1) / RNN_STEP_UNITS;
        kern_matvec_chunks(chunks, madds, rnn_step1_chunk, (void *)s);
        return;
    }
    if (s->hp)
        kern_gemm_nt(s->B, H, H, s->hp, s->w.w_hh, 1.0f, s->a);
    for (int b = 0; b < s->B; b++)
        rnn_units(0, H, s->act, s->a + (size_t)b * H, s->bias,
                  s->copy ? s->copy + (size_t)b * H : NULL);
}

/* Forward: a = x W_ih^T for the window in one GEMM (fused into the step for a single step of
 * batch 1; copied when sh.x_proj says x holds it), then per step
 *   h_t = act(a_t + h_prev W_hh^T + b_ih + b_hh).   See kernels.h for shapes. */
void kern_rnn_forward(KernRecShape sh, bool train, KernAct act, const float *x, KernStateIn s0,
                      KernRecWeights w, float *y, KernStateOut sT, float *cache)
{
    int T = sh.T, B = sh.B, In = sh.In, H = sh.H;
    bool reverse = sh.reverse;
    const float *h0 = s0.h;
    float *hT = sT.h;
    size_t bh = (size_t)B * H, tbh = (size_t)T * bh;
    if (T <= 0 || B <= 0 || H <= 0) {
        if (hT && bh)
            kern_copy_or_zero(bh, h0, hT);
        return;
    }
    float *hs = train ? cache : y;
    float *hprev = train ? hs + tbh : NULL, *hfin = train ? hprev + tbh : NULL;
    float *bias = train ? hfin + bh : cache;
    kern_bias_sum(H, w.b_ih, w.b_hh, bias);
    RnnStep st = { B, In, H, act, x, NULL, w, B == 1 && T == 1 && !sh.x_proj, NULL, bias, NULL };
    if (sh.x_proj) /* x W_ih^T given (exec's token table) */
        memcpy(hs, x, tbh * sizeof *hs);
    else if (!st.fuse_x)
        kern_gemm_nt(T * B, H, In, x, w.w_ih, 0.0f, hs);
    if (train)
        kern_copy_or_zero(bh, h0, hprev + (size_t)kern_time_at(0, T, reverse) * bh);

    for (int s = 0; s < T; s++) {
        int t = kern_time_at(s, T, reverse);
        st.hp = s == 0 ? h0 : hs + (size_t)kern_time_at(s - 1, T, reverse) * bh;
        st.a = hs + t * bh;
        st.copy = NULL;
        if (train)
            st.copy = s + 1 < T ? hprev + (size_t)kern_time_at(s + 1, T, reverse) * bh : hfin;
        rnn_step(&st);
    }
    if (train)
        memcpy(y, hs, tbh * sizeof *y);
    if (hT)
        memcpy(hT, hs + (size_t)kern_time_at(T - 1, T, reverse) * bh, bh * sizeof *hT);
}

/* Backward, per step in reverse processing order:
 *   dh += dy[t];  dG = dh * act'(h)  (tanh: 1 - h^2, relu: h > 0);  dh_prev = dG W_hh
 * then dW_ih += dG^T x, dW_hh += dG^T h_prev, dx += dG W_ih, both bias grads += column sums. */
void kern_rnn_backward(KernRecShape sh, KernAct act, const float *x, KernRecWeights w,
                       const float *cache, const float *dy, KernDStateIn dsT, float *dx,
                       KernDStateOut ds0, KernRecGrads dw, float *work)
{
    int T = sh.T, B = sh.B, In = sh.In, H = sh.H;
    bool reverse = sh.reverse;
    const float *w_ih = w.w_ih, *w_hh = w.w_hh;
    float *dw_ih = dw.dw_ih, *dw_hh = dw.dw_hh, *db_ih = dw.db_ih, *db_hh = dw.db_hh;
    const float *dhT = dsT.dh;
    float *dh0 = ds0.dh;
    size_t bh = (size_t)B * H, tbh = (size_t)T * bh;
    if (T <= 0 || B <= 0 || H <= 0) {
        kern_add_if(bh, dhT, dh0);
        return;
    }
    const float *hs = cache, *hprev = hs + tbh;
    float *dG = work, *dh = dG + tbh;
    kern_copy_or_zero(bh, dhT, dh);
    for (int s = T - 1; s >= 0; s--) {
        int t = kern_time_at(s, T, reverse);
        size_t off = (size_t)t * bh;
        const float *h = hs + off;
        float *d = dG + off;
        for (size_t k = 0; k < bh; k++) {
            float g = dh[k] + (dy ? dy[off + k] : 0.0f);
            d[k] = act == KERN_ACT_RELU ? (h[k] > 0.0f ? g : 0.0f) : g * (1.0f - h[k] * h[k]);
        }
        if (s > 0 || dh0)
            kern_gemm_nn(B, H, H, d, w_hh, 0.0f, dh);
    }
    kern_add_if(bh, dh, dh0);

    int rows = T * B;
    kern_gemm_tn_acc(H, In, rows, dG, H, x, In, dw_ih);
    kern_gemm_tn_acc(H, H, rows, dG, H, hprev, H, dw_hh);
    if (dx)
        kern_gemm_nn(rows, In, H, dG, w_ih, 1.0f, dx);
    if (db_ih)
        kern_colsum_acc((size_t)rows, H, dG, db_ih);
    if (db_hh)
        kern_colsum_acc((size_t)rows, H, dG, db_hh);
}
