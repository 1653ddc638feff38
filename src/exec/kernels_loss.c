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

/* sum_j exp(x[j] - mx) over C entries (kv_exp, 4 lanes; each lane's partial sum in float, the
 * lanes added in double), leaving e_j = exp(x[j] - mx) in e when it is not NULL. One exp per
 * entry instead of libm's two in double: the loss head of a character model (C = 65) spent ~10%
 * of a small model's step there. */
static double xent_expsum(int C, const float *x, float mx, float *e)
{
    KernV4 acc = kv_splat(0.0f);
    for (int j = 0; j < C; j += KV) {
        int m = C - j < KV ? C - j : KV;
        KernV4 v = kv_exp(kv_load(x + j, m) - mx);
        v = kv_select((KernI4){ 0, 1, 2, 3 } < m, v, kv_splat(0.0f));
        if (e)
            kv_store(e + j, v, m);
        acc += v;
    }
    return (double)acc[0] + acc[1] + acc[2] + acc[3];
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
            float mx = xr[0];
            for (int j = 1; j < C; j++)
                mx = xr[j] > mx ? xr[j] : mx;
            double sum = xent_expsum(C, xr, mx, dr);
            total += mx + log(sum) - xr[x->targets[r]];
            if (dr) { /* softmax = e_j / sum, from the e_j xent_expsum left in dr */
                float f = (float)(1.0 / sum) * x->scale;
                for (int j = 0; j < C; j++)
                    dr[j] *= f;
                dr[x->targets[r]] -= x->scale;
            }
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
