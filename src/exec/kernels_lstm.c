/* kernels_lstm: the fused LSTM layer (one direction) over a BPTT window, forward and backward.
 *
 * Cache layout of a train-mode forward (time-indexed, so weight gradients are one GEMM each):
 *   gates [T][B][4H]  activated i, f, g, o of every step
 *   cprev [T][B][H]   c entering step t      hprev [T][B][H]  h entering step t
 *   tanhc [T][B][H]   tanh(c) after step t   cfin, hfin [B][H] state after the last step
 *   bias  [4H]        b_ih + b_hh
 * Without train only gates, one running c [B][H] and bias are used. */
#include "exec/kernels.h"
#include "exec/kernels_util.h"
#include "exec/matvec.h"

size_t kern_lstm_cache_floats(int T, int B, int H, bool train)
{
    size_t tbh = (size_t)T * B * H, bh = (size_t)B * H;
    return train ? 7 * tbh + 2 * bh + 4 * (size_t)H : 4 * tbh + bh + 4 * (size_t)H;
}

size_t kern_lstm_work_floats(int T, int B, int H)
{
    return 4 * (size_t)T * B * H + 2 * (size_t)B * H;
}

/* The gate math of hidden units j0 <= j < j1 of one row, in place on the pre-activations g (x
 * and h products summed):
 *   i = sigmoid(g_i + b_i)  f = sigmoid(g_f + b_f)  gg = tanh(g_g + b_g)  o = sigmoid(g_o + b_o)
 *   c = f * c_prev + i * gg;   h = o * tanh(c)
 * g [4H] (becomes the activated gates), bias [4H], cp [H], cn [H] (may equal cp), tc [H] or
 * NULL (receives tanh(c)), hn [H] or NULL (a second copy of h), y [H]. */
static void lstm_units(int H, int j0, int j1, float *g, const float *bias, const float *cp,
                       float *cn, float *tc, float *hn, float *y)
{
    for (int j = j0; j < j1; j += KV) {
        int n = j1 - j < KV ? j1 - j : KV;
        KernV4 i = kv_sigmoid(kv_load(g + j, n) + kv_load(bias + j, n));
        KernV4 f = kv_sigmoid(kv_load(g + H + j, n) + kv_load(bias + H + j, n));
        KernV4 gg = kv_tanh(kv_load(g + 2 * H + j, n) + kv_load(bias + 2 * H + j, n));
        KernV4 og = kv_sigmoid(kv_load(g + 3 * H + j, n) + kv_load(bias + 3 * H + j, n));
        KernV4 c = f * kv_load(cp + j, n) + i * gg;
        KernV4 t = kv_tanh(c);
        KernV4 h = og * t;
        kv_store(g + j, i, n);
        kv_store(g + H + j, f, n);
        kv_store(g + 2 * H + j, gg, n);
        kv_store(g + 3 * H + j, og, n);
        kv_store(cn + j, c, n);
        if (tc)
            kv_store(tc + j, t, n);
        if (hn)
            kv_store(hn + j, h, n);
        kv_store(y + j, h, n);
    }
}

/* Hidden units per chunk of a batch-1 step's mvpool job (a multiple of KV; KV16: one block of
 * lstm_units16). */
#define LSTM_STEP_UNITS 16

/* lstm_units for the 16 units j <= u < j + 16 of a batch-1 chunk, on 16 lanes: the same
 * operations lane by lane (so the same bits as lstm_units), one AVX-512 register a value where
 * the CPU has it (cloned per ISA). On one thread the gate math was 3.5% of a token of
 * models/charlm.rnn on 4 lanes. */
__attribute__((target_clones("avx512f", "avx2", "default"))) static void
lstm_units16(int H, int j, float *g, const float *bias, const float *cp, float *cn, float *tc,
             float *hn, float *y)
{
    KernV16 v[4], b, c, t;
    for (int q = 0; q < 4; q++) {
        KV16_LOAD(v[q], g + q * H + j);
        KV16_LOAD(b, bias + q * H + j);
        v[q] += b;
        if (q == 2)
            KV_TANH_BODY(KernV16, KernI16, v[q]);
        else
            KV_SIGMOID_BODY(KernV16, KernI16, v[q]);
        KV16_STORE(g + q * H + j, v[q]);
    }
    KV16_LOAD(c, cp + j);
    c = v[1] * c + v[0] * v[2];
    t = c;
    KV_TANH_BODY(KernV16, KernI16, t);
    KernV16 h = v[3] * t;
    KV16_STORE(cn + j, c);
    if (tc)
        KV16_STORE(tc + j, t);
    if (hn)
        KV16_STORE(hn + j, h);
    KV16_STORE(y + j, h);
}

/* One step of B rows: its inputs and outputs (as lstm_units, [B][.] each), and whether the
 * pre-activations g still lack x W_ih^T (batch 1, a window of one step: fused into the step). */
typedef struct LstmStep {
    int B, In, H;
    const float *x, *hp; /* x [B][In] (used when fuse_x), h entering the step or NULL (= 0) */
    KernRecWeights w;
    bool fuse_x;
    float *g;
    const float *bias, *cp;
    float *cn, *tc, *hn, *y;
} LstmStep;

/* Units of chunk `chunk` of a batch-1 step: the four gates' rows of x W_ih^T (when fused) and
 * h W_hh^T in one pass over their weights, then their gate math. An mvpool job. */
static void lstm_step1_chunk(void *ctx, int chunk)
{
    const LstmStep *s = ctx;
    int H = s->H, j0 = chunk * LSTM_STEP_UNITS;
    int j1 = j0 + LSTM_STEP_UNITS < H ? j0 + LSTM_STEP_UNITS : H;
    for (int q = 0; q < 4; q++)
        kern_matvec_rows(q * H + j0, q * H + j1, s->fuse_x ? s->w.w_ih : NULL, s->In, s->x,
                         s->hp ? s->w.w_hh : NULL, H, s->hp, !s->fuse_x, s->g);
    if (j1 - j0 == KV16)
        lstm_units16(H, j0, s->g, s->bias, s->cp, s->cn, s->tc, s->hn, s->y);
    else
        lstm_units(H, j0, j1, s->g, s->bias, s->cp, s->cn, s->tc, s->hn, s->y);
}

/* One step: g += h_prev W_hh^T (and x W_ih^T when fused), then the gate math. Batch 1 runs
 * as chunks of hidden units on the pool's threads, each chunk's rows of both weight matrices
 * read in one pass; larger batches as one GEMM and the gate math row by row. */
static void lstm_step(const LstmStep *s)
{
    int H = s->H;
    if (s->B == 1) {
        long madds = 4L * H * (H + (s->fuse_x ? s->In : 0));
        int chunks = (H + LSTM_STEP_UNITS - 1) / LSTM_STEP_UNITS;
        kern_matvec_chunks(chunks, madds, lstm_step1_chunk, (void *)s);
        return;
    }
    if (s->hp)
        kern_gemm_nt(s->B, 4 * H, H, s->hp, s->w.w_hh, 1.0f, s->g);
    for (int b = 0; b < s->B; b++) {
        size_t o = (size_t)b * H;
        lstm_units(H, 0, H, s->g + 4 * o, s->bias, s->cp + o, s->cn + o, s->tc ? s->tc + o : NULL,
                   s->hn ? s->hn + o : NULL, s->y + o);
    }
}

/* Forward: gates = x W_ih^T for the whole window in one GEMM (fused into the step for a
 * single step of batch 1; copied when sh.x_proj says x holds it), then per step
 * gates_t += h_prev W_hh^T and the fused cell. See kernels.h for shapes. */
void kern_lstm_forward(KernRecShape sh, bool train, const float *x, KernStateIn s0,
                       KernRecWeights w, float *y, KernStateOut sT, float *cache)
{
    int T = sh.T, B = sh.B, H = sh.H;
    bool reverse = sh.reverse;
    const float *h0 = s0.h, *c0 = s0.c;
    float *hT = sT.h, *cT = sT.c;
    size_t bh = (size_t)B * H, tbh = (size_t)T * bh;
    if (T <= 0 || B <= 0 || H <= 0) {
        if (hT && bh)
            kern_copy_or_zero(bh, h0, hT);
        if (cT && bh)
            kern_copy_or_zero(bh, c0, cT);
        return;
    }
    float *gates = cache;
    LstmStep st = { B, sh.In, H, x, NULL, w, B == 1 && T == 1 && !sh.x_proj, NULL, NULL, NULL,
                    NULL, NULL, NULL, NULL };
    if (sh.x_proj) /* x W_ih^T given (exec's token table) */
        memcpy(gates, x, 4 * tbh * sizeof *gates);
    else if (!st.fuse_x)
        kern_gemm_nt(T * B, 4 * H, sh.In, x, w.w_ih, 0.0f, gates);

    if (train) {
        float *cprev = gates + 4 * tbh, *hprev = cprev + tbh, *tanhc = hprev + tbh;
        float *cfin = tanhc + tbh, *hfin = cfin + bh, *bias = hfin + bh;
        kern_bias_sum(4 * H, w.b_ih, w.b_hh, bias);
        int t0 = kern_time_at(0, T, reverse);
        kern_copy_or_zero(bh, h0, hprev + t0 * bh);
        kern_copy_or_zero(bh, c0, cprev + t0 * bh);
        for (int s = 0; s < T; s++) {
            int t = kern_time_at(s, T, reverse);
            size_t next = s + 1 < T ? (size_t)kern_time_at(s + 1, T, reverse) * bh : 0;
            st.hp = s > 0 || h0 ? hprev + t * bh : NULL;
            st.g = gates + (size_t)t * 4 * bh, st.bias = bias, st.cp = cprev + t * bh;
            st.cn = s + 1 < T ? cprev + next : cfin, st.tc = tanhc + t * bh;
            st.hn = s + 1 < T ? hprev + next : hfin, st.y = y + t * bh;
            lstm_step(&st);
        }
        if (hT)
            memcpy(hT, hfin, bh * sizeof *hT);
        if (cT)
            memcpy(cT, cfin, bh * sizeof *cT);
        return;
    }

    float *c = gates + 4 * tbh, *bias = c + bh;
    kern_bias_sum(4 * H, w.b_ih, w.b_hh, bias);
    kern_copy_or_zero(bh, c0, c);
    for (int s = 0; s < T; s++) {
        int t = kern_time_at(s, T, reverse);
        st.hp = s == 0 ? h0 : y + (size_t)kern_time_at(s - 1, T, reverse) * bh;
        st.g = gates + (size_t)t * 4 * bh, st.bias = bias, st.cp = c, st.cn = c;
        st.y = y + t * bh;
        lstm_step(&st);
    }
    if (hT)
        memcpy(hT, y + (size_t)kern_time_at(T - 1, T, reverse) * bh, bh * sizeof *hT);
    if (cT)
        memcpy(cT, c, bh * sizeof *cT);
}

/* Backward: walking the steps in reverse processing order, with dh and dc the gradients flowing
 * into the state after step t:
 *   dh += dy[t];  dc += dh * o * (1 - tanh(c)^2)
 *   dG_i = dc * g * i(1-i)   dG_f = dc * c_prev * f(1-f)   dG_g = dc * i * (1-g^2)
 *   dG_o = dh * tanh(c) * o(1-o);   dc_prev = dc * f;   dh_prev = dG W_hh
 * then dW_ih += dG^T x, dW_hh += dG^T h_prev, dx += dG W_ih, db += column sums of dG. */
void kern_lstm_backward(KernRecShape sh, const float *x, KernRecWeights w, const float *cache,
                        const float *dy, KernDStateIn dsT, float *dx, KernDStateOut ds0,
                        KernRecGrads dw, float *work)
{
    int T = sh.T, B = sh.B, In = sh.In, H = sh.H;
    bool reverse = sh.reverse;
    const float *w_ih = w.w_ih, *w_hh = w.w_hh;
    float *dw_ih = dw.dw_ih, *dw_hh = dw.dw_hh, *db_ih = dw.db_ih, *db_hh = dw.db_hh;
    const float *dhT = dsT.dh, *dcT = dsT.dc;
    float *dh0 = ds0.dh, *dc0 = ds0.dc;
    size_t bh = (size_t)B * H, tbh = (size_t)T * bh;
    if (T <= 0 || B <= 0 || H <= 0) {
        kern_add_if(bh, dhT, dh0);
        kern_add_if(bh, dcT, dc0);
        return;
    }
    const float *gates = cache, *cprev = gates + 4 * tbh, *hprev = cprev + tbh;
    const float *tanhc = hprev + tbh;
    float *dG = work, *dh = dG + 4 * tbh, *dc = dh + bh;
    kern_copy_or_zero(bh, dhT, dh);
    kern_copy_or_zero(bh, dcT, dc);

    for (int s = T - 1; s >= 0; s--) {
        int t = kern_time_at(s, T, reverse);
        size_t off = (size_t)t * bh;
        if (dy)
            kern_vadd(bh, dy + off, dh);
        for (int b = 0; b < B; b++) {
            const float *g = gates + (off + (size_t)b * H) * 4;
            float *d = dG + (off + (size_t)b * H) * 4;
            size_t o = off + (size_t)b * H, r = (size_t)b * H;
            for (int j = 0; j < H; j += KV) {
                int n = H - j < KV ? H - j : KV;
                KernV4 i = kv_load(g + j, n), f = kv_load(g + H + j, n);
                KernV4 gg = kv_load(g + 2 * H + j, n), og = kv_load(g + 3 * H + j, n);
                KernV4 tc = kv_load(tanhc + o + j, n), dhv = kv_load(dh + r + j, n);
                KernV4 dcv = kv_load(dc + r + j, n) + dhv * og * (1.0f - tc * tc);
                kv_store(d + j, dcv * gg * i * (1.0f - i), n);
                kv_store(d + H + j, dcv * kv_load(cprev + o + j, n) * f * (1.0f - f), n);
                kv_store(d + 2 * H + j, dcv * i * (1.0f - gg * gg), n);
                kv_store(d + 3 * H + j, dhv * tc * og * (1.0f - og), n);
                kv_store(dc + r + j, dcv * f, n);
            }
        }
        if (s > 0 || dh0)
            kern_gemm_nn(B, H, 4 * H, dG + off * 4, w_hh, 0.0f, dh);
    }
    kern_add_if(bh, dh, dh0);
    kern_add_if(bh, dc, dc0);

    int rows = T * B;
    kern_gemm_tn_acc(4 * H, In, rows, dG, 4 * H, x, In, dw_ih);
    kern_gemm_tn_acc(4 * H, H, rows, dG, 4 * H, hprev, H, dw_hh);
    if (dx)
        kern_gemm_nn(rows, In, 4 * H, dG, w_ih, 1.0f, dx);
    if (db_ih)
        kern_colsum_acc((size_t)rows, 4 * H, dG, db_ih);
    if (db_hh)
        kern_colsum_acc((size_t)rows, 4 * H, dG, db_hh);
}
