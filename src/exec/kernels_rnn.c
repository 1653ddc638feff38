/* kernels_rnn: the fused Elman RNN layer (tanh or relu, one direction) over a BPTT window.
 *
 * Cache layout of a train-mode forward (time-indexed):
 *   hs [T][B][H]  h after step t     hprev [T][B][H]  h entering step t
 *   hfin [B][H]   state after the last step           bias [H]  b_ih + b_hh
 * Without train only bias is used: pre-activations are accumulated directly in y. */
#include "exec/kernels.h"
#include "exec/kernels_util.h"

size_t kern_rnn_cache_floats(int T, int B, int H, bool train)
{
    size_t tbh = (size_t)T * B * H, bh = (size_t)B * H;
    return train ? 2 * tbh + bh + (size_t)H : (size_t)H;
}

size_t kern_rnn_work_floats(int T, int B, int H)
{
    return (size_t)T * B * H + (size_t)B * H;
}

/* h = act(a + bias) in place, and optional second copy.   a [B][H], bias [H], copy [B][H] */
static void rnn_cell(int B, int H, KernAct act, float *a, const float *bias, float *copy)
{
    for (int b = 0; b < B; b++) {
        float *row = a + (size_t)b * H;
        for (int j = 0; j < H; j += KV) {
            int m = H - j < KV ? H - j : KV;
            KernV4 v = kv_load(row + j, m) + kv_load(bias + j, m);
            v = act == KERN_ACT_RELU ? kv_select(v > 0.0f, v, kv_splat(0.0f)) : kv_tanh(v);
            kv_store(row + j, v, m);
        }
        if (copy)
            memcpy(copy + (size_t)b * H, row, (size_t)H * sizeof *row);
    }
}

/* Forward: a = x W_ih^T for the window in one GEMM, then per step
 *   h_t = act(a_t + h_prev W_hh^T + b_ih + b_hh). See kernels.h for shapes. */
void kern_rnn_forward(KernRecShape sh, bool train, KernAct act, const float *x, KernStateIn s0,
                      KernRecWeights w, float *y, KernStateOut sT, float *cache)
{
    int T = sh.T, B = sh.B, In = sh.In, H = sh.H;
    bool reverse = sh.reverse;
    const float *w_ih = w.w_ih, *w_hh = w.w_hh, *b_ih = w.b_ih, *b_hh = w.b_hh;
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
    for (int j = 0; j < H; j++)
        bias[j] = (b_ih ? b_ih[j] : 0.0f) + (b_hh ? b_hh[j] : 0.0f);
    kern_gemm_nt(T * B, H, In, x, w_ih, 0.0f, hs);
    if (train)
        kern_copy_or_zero(bh, h0, hprev + (size_t)kern_time_at(0, T, reverse) * bh);

    for (int s = 0; s < T; s++) {
        int t = kern_time_at(s, T, reverse);
        const float *hp = s == 0 ? h0 : hs + (size_t)kern_time_at(s - 1, T, reverse) * bh;
        if (hp)
            kern_gemm_nt(B, H, H, hp, w_hh, 1.0f, hs + t * bh);
        float *copy = NULL;
        if (train)
            copy = s + 1 < T ? hprev + (size_t)kern_time_at(s + 1, T, reverse) * bh : hfin;
        rnn_cell(B, H, act, hs + t * bh, bias, copy);
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
