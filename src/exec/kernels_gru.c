/* kernels_gru: the fused GRU layer (one direction, PyTorch parametrisation) over a BPTT window.
 *
 * Cache layout of a train-mode forward (time-indexed):
 *   gates [T][B][3H]  activated r, z, n of every step
 *   hn    [T][B][H]   h_prev W_hn^T + b_hn (the recurrent part of n, before the reset gate)
 *   hprev [T][B][H]   h entering step t      hfin [B][H] state after the last step
 *   hproj [B][3H]     per-step scratch for h_prev W_hh^T
 *   bias  [4H]        b_ir + b_hr, b_iz + b_hz, b_in, b_hn
 * Without train only gates, hproj and bias are used. */
#include "exec/kernels.h"
#include "exec/kernels_util.h"
#include "exec/matvec.h"

size_t kern_gru_cache_floats(int T, int B, int H, bool train)
{
    size_t tbh = (size_t)T * B * H, bh = (size_t)B * H;
    return train ? 5 * tbh + 4 * bh + 4 * (size_t)H : 3 * tbh + 3 * bh + 4 * (size_t)H;
}

size_t kern_gru_work_floats(int T, int B, int H)
{
    return 6 * (size_t)T * B * H + 2 * (size_t)B * H;
}

/* bias = [b_ir + b_hr, b_iz + b_hz, b_in, b_hn] (NULL biases count as 0).
 *   b_ih, b_hh [3H]  bias [4H] */
static void gru_bias(int H, const float *b_ih, const float *b_hh, float *bias)
{
    kern_bias_sum(2 * H, b_ih, b_hh, bias);
    for (int j = 0; j < H; j++) {
        bias[2 * H + j] = b_ih ? b_ih[2 * H + j] : 0.0f;
        bias[3 * H + j] = b_hh ? b_hh[2 * H + j] : 0.0f;
    }
}

/* The gate math of hidden units j0 <= j < j1 of one row; g holds x W_ih^T (becomes activated
 * r, z, n), hproj h_prev W_hh^T:
 *   r = sigmoid(g_r + hp_r + b_r)   z = sigmoid(g_z + hp_z + b_z)
 *   n = tanh(g_n + b_in + r * (hp_n + b_hn))   h = (1 - z) * n + z * h_prev
 * g [3H], hproj [3H], bias [4H], hp [H] or NULL (zeros), hn_out [H] or NULL, hnext [H] or NULL
 * (second copy of h), y [H]. */
static void gru_units(int H, int j0, int j1, float *g, const float *hproj, const float *bias,
                      const float *hp, float *hn_out, float *hnext, float *y)
{
    for (int j = j0; j < j1; j += KV) {
        int m = j1 - j < KV ? j1 - j : KV;
        KernV4 r = kv_sigmoid(kv_load(g + j, m) + kv_load(hproj + j, m) + kv_load(bias + j, m));
        KernV4 z = kv_sigmoid(kv_load(g + H + j, m) + kv_load(hproj + H + j, m) +
                              kv_load(bias + H + j, m));
        KernV4 hnv = kv_load(hproj + 2 * H + j, m) + kv_load(bias + 3 * H + j, m);
        KernV4 n = kv_tanh(kv_load(g + 2 * H + j, m) + kv_load(bias + 2 * H + j, m) + r * hnv);
        KernV4 hprev = hp ? kv_load(hp + j, m) : kv_splat(0.0f);
        KernV4 h = (1.0f - z) * n + z * hprev;
        kv_store(g + j, r, m);
        kv_store(g + H + j, z, m);
        kv_store(g + 2 * H + j, n, m);
        if (hn_out)
            kv_store(hn_out + j, hnv, m);
        if (hnext)
            kv_store(hnext + j, h, m);
        kv_store(y + j, h, m);
    }
}

/* Hidden units per chunk of a batch-1 step's mvpool job (a multiple of KV). */
#define GRU_STEP_UNITS 16

/* One step of B rows (as gru_units, [B][.] each): g holds x W_ih^T unless fuse_x (batch 1, a
 * window of one step: x W_ih^T is fused into the step); hproj is the step's scratch. */
typedef struct GruStep {
    int B, In, H;
    const float *x, *hp; /* x [B][In] (used when fuse_x), h entering the step or NULL (= 0) */
    KernRecWeights w;
    bool fuse_x;
    float *g, *hproj;
    const float *bias;
    float *hn_out, *hnext, *y;
} GruStep;

/* Units of chunk `chunk` of a batch-1 step: the three gates' rows of x W_ih^T (when fused) and
 * of h_prev W_hh^T (kept apart: the reset gate scales the recurrent part of n), then their gate
 * math. An mvpool job. */
static void gru_step1_chunk(void *ctx, int chunk)
{
    const GruStep *s = ctx;
    int H = s->H, j0 = chunk * GRU_STEP_UNITS;
    int j1 = j0 + GRU_STEP_UNITS < H ? j0 + GRU_STEP_UNITS : H;
    for (int q = 0; q < 3; q++) {
        if (s->fuse_x)
            kern_matvec_rows(q * H + j0, q * H + j1, s->w.w_ih, s->In, s->x, NULL, 0, NULL, 0,
                             s->g);
        if (s->hp)
            kern_matvec_rows(q * H + j0, q * H + j1, NULL, 0, NULL, s->w.w_hh, H, s->hp, 0,
                             s->hproj);
        else
            memset(s->hproj + q * H + j0, 0, (size_t)(j1 - j0) * sizeof *s->hproj);
    }
    gru_units(H, j0, j1, s->g, s->hproj, s->bias, s->hp, s->hn_out, s->hnext, s->y);
}

/* One step: hproj = h_prev W_hh^T (and g = x W_ih^T when fused), then the gate math. Batch 1
 * runs as chunks of hidden units on the pool's threads (one hand-off per step, the gate math
 * split too); larger batches as one GEMM and the gate math row by row. */
static void gru_step(const GruStep *s)
{
    int H = s->H;
    size_t h3 = 3 * (size_t)H;
    if (s->B == 1) {
        long madds = 3L * H * (H + (s->fuse_x ? s->In : 0));
        int chunks = (H + GRU_STEP_UNITS - 1) / GRU_STEP_UNITS;
        kern_matvec_chunks(chunks, madds, gru_step1_chunk, (void *)s);
        return;
    }
    if (s->hp)
        kern_gemm_nt(s->B, 3 * H, H, s->hp, s->w.w_hh, 0.0f, s->hproj);
    else
        memset(s->hproj, 0, s->B * h3 * sizeof *s->hproj);
    for (int b = 0; b < s->B; b++) {
        size_t o = (size_t)b * H;
        gru_units(H, 0, H, s->g + b * h3, s->hproj + b * h3, s->bias, s->hp ? s->hp + o : NULL,
                  s->hn_out ? s->hn_out + o : NULL, s->hnext ? s->hnext + o : NULL, s->y + o);
    }
}

/* Forward: x W_ih^T for the whole window in one GEMM (fused into the step for a single step of
 * batch 1; copied when sh.x_proj says x holds it); per step h_prev W_hh^T into hproj and the
 * fused cell. See kernels.h for shapes. */
void kern_gru_forward(KernRecShape sh, bool train, const float *x, KernStateIn s0,
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
    float *gates = cache;
    GruStep st = { B, In, H, x, NULL, w, B == 1 && T == 1 && !sh.x_proj, NULL, NULL, NULL, NULL,
                   NULL, NULL };
    if (sh.x_proj) /* x W_ih^T given (exec's token table) */
        memcpy(gates, x, 3 * tbh * sizeof *gates);
    else if (!st.fuse_x)
        kern_gemm_nt(T * B, 3 * H, In, x, w.w_ih, 0.0f, gates);
    float *hn = NULL, *hprev = NULL, *hfin = NULL, *hproj;
    if (train) {
        hn = gates + 3 * tbh;
        hprev = hn + tbh;
        hfin = hprev + tbh;
        hproj = hfin + bh;
        kern_copy_or_zero(bh, h0, hprev + (size_t)kern_time_at(0, T, reverse) * bh);
    } else {
        hproj = gates + 3 * tbh;
    }
    float *bias = hproj + 3 * bh;
    gru_bias(H, w.b_ih, w.b_hh, bias);
    st.hproj = hproj, st.bias = bias;

    for (int s = 0; s < T; s++) {
        int t = kern_time_at(s, T, reverse);
        st.hp = s == 0 ? h0 : y + (size_t)kern_time_at(s - 1, T, reverse) * bh;
        st.hnext = NULL;
        if (train)
            st.hnext = s + 1 < T ? hprev + (size_t)kern_time_at(s + 1, T, reverse) * bh : hfin;
        st.g = gates + (size_t)t * 3 * bh, st.hn_out = train ? hn + t * bh : NULL;
        st.y = y + t * bh;
        gru_step(&st);
    }
    if (hT)
        memcpy(hT, y + (size_t)kern_time_at(T - 1, T, reverse) * bh, bh * sizeof *hT);
}

/* Backward, per step in reverse processing order with dh the gradient into h after step t:
 *   dh += dy[t];  dn = dh (1 - z);  dz = dh (h_prev - n)
 *   a_n = dn (1 - n^2);  a_r = a_n * hn * r(1-r);  a_z = dz * z(1-z)
 *   dGx = [a_r, a_z, a_n]   dGh = [a_r, a_z, a_n * r]
 *   dh_prev = dGh W_hh + dh * z
 * then dW_ih += dGx^T x, dW_hh += dGh^T h_prev, dx += dGx W_ih, db_ih, db_hh column sums. */
void kern_gru_backward(KernRecShape sh, const float *x, KernRecWeights w,
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
    const float *gates = cache, *hn = gates + 3 * tbh, *hprev = hn + tbh;
    float *dGx = work, *dGh = dGx + 3 * tbh, *dh = dGh + 3 * tbh, *dhp = dh + bh;
    kern_copy_or_zero(bh, dhT, dh);

    for (int s = T - 1; s >= 0; s--) {
        int t = kern_time_at(s, T, reverse);
        size_t off = (size_t)t * bh;
        if (dy)
            kern_vadd(bh, dy + off, dh);
        for (int b = 0; b < B; b++) {
            size_t o = off + (size_t)b * H, r0 = (size_t)b * H;
            const float *g = gates + o * 3;
            float *dx_ = dGx + o * 3, *dh_ = dGh + o * 3;
            for (int j = 0; j < H; j += KV) {
                int m = H - j < KV ? H - j : KV;
                KernV4 r = kv_load(g + j, m), z = kv_load(g + H + j, m);
                KernV4 n = kv_load(g + 2 * H + j, m);
                KernV4 dhv = kv_load(dh + r0 + j, m), hpv = kv_load(hprev + o + j, m);
                KernV4 an = dhv * (1.0f - z) * (1.0f - n * n);
                KernV4 ar = an * kv_load(hn + o + j, m) * r * (1.0f - r);
                KernV4 az = dhv * (hpv - n) * z * (1.0f - z);
                kv_store(dx_ + j, ar, m);
                kv_store(dx_ + H + j, az, m);
                kv_store(dx_ + 2 * H + j, an, m);
                kv_store(dh_ + j, ar, m);
                kv_store(dh_ + H + j, az, m);
                kv_store(dh_ + 2 * H + j, an * r, m);
                kv_store(dhp + r0 + j, dhv * z, m);
            }
        }
        if (s > 0 || dh0)
            kern_gemm_nn(B, H, 3 * H, dGh + off * 3, w_hh, 1.0f, dhp);
        float *tmp = dh;
        dh = dhp;
        dhp = tmp;
    }
    kern_add_if(bh, dh, dh0);

    int rows = T * B;
    kern_gemm_tn_acc(3 * H, In, rows, dGx, 3 * H, x, In, dw_ih);
    kern_gemm_tn_acc(3 * H, H, rows, dGh, 3 * H, hprev, H, dw_hh);
    if (dx)
        kern_gemm_nn(rows, In, 3 * H, dGx, w_ih, 1.0f, dx);
    if (db_ih)
        kern_colsum_acc((size_t)rows, 3 * H, dGx, db_ih);
    if (db_hh)
        kern_colsum_acc((size_t)rows, 3 * H, dGh, db_hh);
}
