/* kernels_loss: softmax, cross-entropy fused with log-softmax, and mean squared error.
 * Shapes are in kernels.h. Sums that set a loss are accumulated in double. The cross-entropy's
 * rows are split across the threads (parallel.h): at 2 threads its single-threaded rows were
 * the largest part of a small model's step outside the recurrent primitive. */
#include "exec/kernels.h"
#include "exec/kernels_util.h"
#include "exec/parallel.h"

/* y[r] = exp(x[r] - max_r) / sum_j exp(x[r][j] - max_r). */
void kern_softmax_forward(size_t n, int C, const float *x, float *y)
{
    for (size_t r = 0; r < n; r++) {
        const float *xr = x + r * C;
        float *yr = y + r * C;
        float mx = xr[0];
        for (int j = 1; j < C; j++)
            mx = xr[j] > mx ? xr[j] : mx;
        double s = 0.0;
        for (int j = 0; j < C; j++) {
            yr[j] = expf(xr[j] - mx);
            s += yr[j];
        }
        float inv = (float)(1.0 / s);
        for (int j = 0; j < C; j++)
            yr[j] *= inv;
    }
}

/* dx += y * (dy - sum_j dy_j y_j). */
void kern_softmax_backward(size_t n, int C, const float *y, const float *dy, float *dx)
{
    for (size_t r = 0; r < n; r++) {
        const float *yr = y + r * C, *dyr = dy + r * C;
        double dot = 0.0;
        for (int j = 0; j < C; j++)
            dot += (double)dyr[j] * yr[j];
        float *dxr = dx + r * C;
        for (int j = 0; j < C; j++)
            dxr[j] += yr[j] * (dyr[j] - (float)dot);
    }
}

/* One row of C logits x with target k: returns logsumexp(x) - x[k] and, when dr is not NULL,
 * writes dr = (softmax(x) - onehot(k)) * scale. The max and sum_j exp(x[j] - max) run on 16
 * lanes (KV_EXP_BODY; each lane's partial sum in float, the lanes added in double, in lane order),
 * one exp per entry. Cloned per ISA: on AVX-512 one register per 16 logits; the loss head of a
 * character model (C = 65, 2048 rows) took 300 us a window on one thread with 4 lanes. Every
 * clone does the same operations in the same order (no FMA contraction under -std=c11), so the
 * result does not depend on the CPU. */
__attribute__((target_clones("avx512f", "avx2", "default"))) static double
xent_row(int C, const float *x, int32_t k, float scale, float *dr)
{
    const KernI16 lane = { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15 };
    float pad[KV16], hz[KV16];
    const float *src = x;
    if (C < KV16) { /* a short row runs as one block, padded with x[0] (never counted) */
        for (int l = 0; l < KV16; l++)
            pad[l] = l < C ? x[l] : x[0];
        src = pad;
    }
    /* blocks at 0, 16, ... and one ending at the row's end, overlapping the one before in its
     * first `skip` lanes: every load is a whole vector */
    int W = C < KV16 ? KV16 : C, full = W / KV16 * KV16, last = W - KV16, skip = full - last;
    KernV16 m, v, acc = { 0 };
    memcpy(&m, src, sizeof m);
    for (int j = KV16; j < W + KV16 - 1; j += KV16) {
        memcpy(&v, src + (j < full ? j : last), sizeof v);
        m = KV16_SELECT((KernI16)(v > m), v, m);
    }
    memcpy(hz, &m, sizeof hz);
    float mx = hz[0];
    for (int l = 1; l < KV16; l++)
        mx = hz[l] > mx ? hz[l] : mx;
    for (int j = 0; j < W; j += KV16) {
        int at = j < full ? j : last;
        memcpy(&v, src + at, sizeof v);
        v = v - mx;
        KV_EXP_BODY(KernV16, KernI16, v);
        if (dr && C >= KV16) /* an overlapping block rewrites the same values */
            memcpy(dr + at, &v, sizeof v);
        else if (dr) {
            memcpy(hz, &v, sizeof hz);
            memcpy(dr, hz, (size_t)C * sizeof *dr);
        }
        KernI16 counted = (j < full ? lane >= 0 : lane >= skip) & (lane + at < C);
        acc += KV16_SELECT(counted, v, (KernV16){ 0 });
    }
    memcpy(hz, &acc, sizeof hz);
    double sum = 0.0;
    for (int l = 0; l < KV16; l++)
        sum += (double)hz[l];
    if (dr) { /* softmax = e_j / sum, from the e_j left in dr */
        float f = (float)(1.0 / sum) * scale;
        int j = 0;
        for (; j + KV16 <= C; j += KV16) {
            memcpy(&v, dr + j, sizeof v);
            v = v * f;
            memcpy(dr + j, &v, sizeof v);
        }
        for (; j < C; j++)
            dr[j] *= f;
        dr[k] -= scale;
    }
    return mx + log(sum) - x[k];
}

/* The rows of one call of kern_xent_forward_backward, shared by its parallel ranges. */
typedef struct XentRows {
    int C;
    const float *logits, *mask;
    const int32_t *targets;
    int32_t ignore;
    float *dlogits, scale;
    size_t n, nseg;
    double *seg; /* [nseg]: each segment's sum of row losses */
} XentRows;

/* Segments [lo, hi) of the rows (segment s = rows [n s / nseg, n (s+1) / nseg)): for each
 * counted row r with target k, loss_r = logsumexp(logits[r]) - logits[r][k] summed in row order
 * into seg[s], and dlogits[r] = (softmax(logits[r]) - onehot(k)) * scale. */
static void xent_segments(void *ctx, size_t lo, size_t hi)
{
    const XentRows *x = ctx;
    int C = x->C;
    for (size_t s = lo; s < hi; s++) {
        double total = 0.0;
        for (size_t r = x->n * s / x->nseg; r < x->n * (s + 1) / x->nseg; r++) {
            const float *xr = x->logits + r * C;
            float *dr = x->dlogits ? x->dlogits + r * C : NULL;
            if (x->targets[r] == x->ignore || (x->mask && x->mask[r] == 0.0f)) {
                if (dr)
                    memset(dr, 0, (size_t)C * sizeof *dr);
                continue;
            }
            total += xent_row(C, xr, x->targets[r], x->scale, dr);
        }
        x->seg[s] = total;
    }
}

/* Rows are cut into XENT_SEGMENTS fixed segments, split across the threads (parallel.h); the
 * segments' sums are added in order, so the loss does not depend on the thread count. */
enum { XENT_SEGMENTS = 64 };

/* Per counted row r with target k: loss_r = logsumexp(logits[r]) - logits[r][k];
 * loss = mean of loss_r; dlogits[r] = (softmax(logits[r]) - onehot(k)) / count. */
int kern_xent_forward_backward(size_t n, int C, const float *logits, const int32_t *targets,
                               int32_t ignore, const float *mask, float *dlogits,
                               double *loss, size_t *count)
{
    size_t cnt = 0;
    for (size_t r = 0; r < n; r++) {
        if (targets[r] == ignore || (mask && mask[r] == 0.0f))
            continue;
        if (targets[r] < 0 || targets[r] >= C)
            return -1;
        cnt++;
    }
    double seg[XENT_SEGMENTS];
    XentRows x = { C, logits, mask, targets, ignore, dlogits, cnt ? 1.0f / (float)cnt : 0.0f,
                   n, n < XENT_SEGMENTS ? n : XENT_SEGMENTS, seg };
    kern_parallel_for(x.nseg, (double)n * C, xent_segments, &x);
    double total = 0.0;
    for (size_t s = 0; s < x.nseg; s++)
        total += seg[s];
    *loss = cnt ? total / (double)cnt : 0.0;
    if (count)
        *count = cnt;
    return 0;
}

/* Over the counted rows (row_mask NULL or != 0), n = counted * K:
 *   loss = sum_{r, j} (y[r][j] - t[r][j])^2 / n;  dy[r][j] = 2 (y[r][j] - t[r][j]) / n
 * and dy = 0 on the rows not counted. */
double kern_mse_forward_backward(size_t rows, int K, const float *y, const float *t,
                                 const float *row_mask, float *dy, size_t *counted)
{
    size_t nrows = 0;
    for (size_t r = 0; r < rows; r++)
        nrows += !row_mask || row_mask[r] != 0.0f;
    double n = (double)nrows * K, sum = 0.0;
    for (size_t r = 0; r < rows; r++) {
        bool counted_row = !row_mask || row_mask[r] != 0.0f;
        for (int j = 0; j < K; j++) {
            size_t i = r * (size_t)K + j;
            double diff = counted_row ? (double)y[i] - t[i] : 0.0;
            sum += diff * diff;
            if (dy)
                dy[i] = n > 0 ? (float)(2.0 * diff / n) : 0.0f;
        }
    }
    if (counted)
        *counted = nrows;
    return n > 0 ? sum / n : 0.0;
}
