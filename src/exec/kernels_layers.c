/* kernels_layers: row-wise layer kernels (embedding, dense, activations, dropout, layernorm,
 * add, concat) and pooling over time, forward and backward. Shapes are in kernels.h. */
#include "exec/kernels.h"
#include "exec/kernels_util.h"
#include "exec/parallel.h"

/* out[r] = table[ids[r]]: a row gather. */
void kern_embedding_forward(size_t n, int E, const int32_t *ids, const float *table, float *out)
{
    for (size_t r = 0; r < n; r++)
        memcpy(out + r * E, table + (size_t)ids[r] * E, (size_t)E * sizeof *out);
}

/* dtable[ids[r]] += dout[r]: scatter-add (repeated ids accumulate). */
void kern_embedding_backward(size_t n, int E, const int32_t *ids, const float *dout,
                             float *dtable)
{
    for (size_t r = 0; r < n; r++) {
        kern_vadd((size_t)E, dout + r * E, dtable + (size_t)ids[r] * E);
    }
}

/* y = act(x): none copies, tanh, relu = max(x, 0), sigmoid = 1 / (1 + exp(-x)). */
void kern_act_forward(size_t n, KernAct act, const float *x, float *y)
{
    switch (act) {
    case KERN_ACT_NONE:
        if (y != x)
            memmove(y, x, n * sizeof *y);
        break;
    case KERN_ACT_TANH:
        for (size_t i = 0; i < n; i++)
            y[i] = tanhf(x[i]);
        break;
    case KERN_ACT_RELU:
        for (size_t i = 0; i < n; i++)
            y[i] = x[i] > 0.0f ? x[i] : 0.0f;
        break;
    case KERN_ACT_SIGMOID:
        for (size_t i = 0; i < n; i++)
            y[i] = kern_sigmoidf(x[i]);
        break;
    }
}

/* dx += dy * act'(x) written through the output y:
 *   none 1, tanh 1 - y^2, relu [y > 0], sigmoid y (1 - y). */
void kern_act_backward(size_t n, KernAct act, const float *y, const float *dy, float *dx)
{
    switch (act) {
    case KERN_ACT_NONE:
        for (size_t i = 0; i < n; i++)
            dx[i] += dy[i];
        break;
    case KERN_ACT_TANH:
        for (size_t i = 0; i < n; i++)
            dx[i] += dy[i] * (1.0f - y[i] * y[i]);
        break;
    case KERN_ACT_RELU:
        for (size_t i = 0; i < n; i++)
            dx[i] += y[i] > 0.0f ? dy[i] : 0.0f;
        break;
    case KERN_ACT_SIGMOID:
        for (size_t i = 0; i < n; i++)
            dx[i] += dy[i] * y[i] * (1.0f - y[i]);
        break;
    }
}

/* A matrix of rows of `cols` floats and a row of them, for the row and column loops below. */
typedef struct RowsJob {
    const float *a;
    float *out;
    int cols;
    size_t rows;
} RowsJob;

/* out[r] = a (one row of cols floats) for the rows r in [lo, hi). */
static void fill_rows(void *ctx, size_t lo, size_t hi)
{
    const RowsJob *j = ctx;
    for (size_t r = lo; r < hi; r++)
        memcpy(j->out + r * j->cols, j->a, (size_t)j->cols * sizeof(float));
}

/* Columns of a column sum held in registers at a time. */
#define COLSUM_BLOCK 16

/* out[c] += sum over all rows of a[r][c] for the columns c in [lo, hi), in row order: each
 * block of 16 columns is summed in registers over all the rows, then stored once (adding into
 * out row by row made every row a store and a reload: 2048 x 65 took 75 us on 2 threads). */
__attribute__((target_clones("avx512f", "avx2", "default"))) static void
colsum_cols(void *ctx, size_t lo, size_t hi)
{
    const RowsJob *j = ctx;
    size_t c = lo;
    for (; c + COLSUM_BLOCK <= hi; c += COLSUM_BLOCK) {
        float acc[COLSUM_BLOCK];
        memcpy(acc, j->out + c, sizeof acc);
        for (size_t r = 0; r < j->rows; r++)
            for (int k = 0; k < COLSUM_BLOCK; k++)
                acc[k] += j->a[r * j->cols + c + k];
        memcpy(j->out + c, acc, sizeof acc);
    }
    for (; c < hi; c++) {
        float acc = j->out[c];
        for (size_t r = 0; r < j->rows; r++)
            acc += j->a[r * j->cols + c];
        j->out[c] = acc;
    }
}

/* Split by columns, so each column's sum is the same at any thread count. Measured on the
 * output layer of LSTM H128 B32 T64 (2048 x 65, 2 threads): the column sum 47 us and the bias
 * rows 61 us on one thread, where they were a tenth of the layer. */
void kern_colsum_acc(size_t rows, int cols, const float *a, float *out)
{
    RowsJob j = { a, out, cols, rows };
    kern_parallel_for((size_t)cols, (double)rows * cols, colsum_cols, &j);
}

/* y = act(x W^T + b): one GEMM, then bias and activation in one pass. */
void kern_dense_forward(size_t n, int in, int out, KernAct act,
                        const float *x, const float *w, const float *b, float *y)
{
    if (n == 0 || out <= 0)
        return;
    if (b) { /* start from the bias rows and accumulate x W^T onto them */
        RowsJob j = { b, y, out, n };
        kern_parallel_for(n, (double)n * out, fill_rows, &j);
    }
    kern_gemm_nt((int)n, out, in, x, w, b ? 1.0f : 0.0f, y);
    if (act != KERN_ACT_NONE)
        kern_act_forward(n * (size_t)out, act, y, y);
}

size_t kern_dense_work_floats(size_t n, int out, KernAct act)
{
    return act == KERN_ACT_NONE ? 0 : n * (size_t)out;
}

/* With dz = dy * act'(y):  dW += dz^T x,  dx += dz W,  db += column sums of dz. */
void kern_dense_backward(size_t n, int in, int out, KernAct act,
                         const float *x, const float *w, const float *y, const float *dy,
                         float *dx, float *dw, float *db, float *work)
{
    if (n == 0 || out <= 0)
        return;
    const float *dz = dy;
    if (act != KERN_ACT_NONE) {
        memset(work, 0, n * (size_t)out * sizeof *work);
        kern_act_backward(n * (size_t)out, act, y, dy, work);
        dz = work;
    }
    kern_gemm_tn_acc(out, in, (int)n, dz, out, x, in, dw);
    if (dx)
        kern_gemm_nn((int)n, in, out, dz, w, 1.0f, dx);
    if (db)
        kern_colsum_acc(n, out, dz, db);
}

/* Inverted dropout mask: 0 with probability p, else 1 / (1 - p), so E[mask] = 1. */
void kern_dropout_mask(size_t n, float p, Rng *rng, float *mask)
{
    float keep = 1.0f / (1.0f - p);
    for (size_t i = 0; i < n; i++)
        mask[i] = rng_uniform(rng) < (double)p ? 0.0f : keep;
}

/* y = x * mask. */
void kern_dropout_forward(size_t n, const float *mask, const float *x, float *y)
{
    for (size_t i = 0; i < n; i++)
        y[i] = x[i] * mask[i];
}

/* dx += dy * mask. */
void kern_dropout_backward(size_t n, const float *mask, const float *dy, float *dx)
{
    for (size_t i = 0; i < n; i++)
        dx[i] += dy[i] * mask[i];
}

/* Per row: mean, biased variance (accumulated in double), rstd = 1 / sqrt(var + 1e-5),
 *   y = (x - mean) * rstd * w + b. */
void kern_layernorm_forward(size_t n, int d, const float *x, const float *w, const float *b,
                            float *y, float *mean, float *rstd)
{
    for (size_t r = 0; r < n; r++) {
        const float *xr = x + r * d;
        double s = 0.0, ss = 0.0;
        for (int j = 0; j < d; j++)
            s += xr[j];
        double m = s / d;
        for (int j = 0; j < d; j++)
            ss += (xr[j] - m) * (xr[j] - m);
        float rs = (float)(1.0 / sqrt(ss / d + 1e-5));
        mean[r] = (float)m;
        rstd[r] = rs;
        float *yr = y + r * d;
        for (int j = 0; j < d; j++) {
            float xh = (xr[j] - (float)m) * rs;
            yr[j] = xh * (w ? w[j] : 1.0f) + (b ? b[j] : 0.0f);
        }
    }
}

/* With xhat = (x - mean) * rstd and g = dy * w:
 *   dx += rstd * (g - mean(g) - xhat * mean(g * xhat));  dw += dy * xhat;  db += dy. */
void kern_layernorm_backward(size_t n, int d, const float *x, const float *w,
                             const float *mean, const float *rstd, const float *dy,
                             float *dx, float *dw, float *db)
{
    for (size_t r = 0; r < n; r++) {
        const float *xr = x + r * d, *dyr = dy + r * d;
        float m = mean[r], rs = rstd[r];
        double sg = 0.0, sgx = 0.0;
        for (int j = 0; j < d; j++) {
            float xh = (xr[j] - m) * rs, g = dyr[j] * (w ? w[j] : 1.0f);
            sg += g;
            sgx += g * xh;
            if (dw)
                dw[j] += dyr[j] * xh;
            if (db)
                db[j] += dyr[j];
        }
        if (!dx)
            continue;
        float mg = (float)(sg / d), mgx = (float)(sgx / d);
        float *dxr = dx + r * d;
        for (int j = 0; j < d; j++) {
            float xh = (xr[j] - m) * rs, g = dyr[j] * (w ? w[j] : 1.0f);
            dxr[j] += rs * (g - mg - xh * mgx);
        }
    }
}

/* Pooling over the first len[b] steps of each stream (see kernels.h). */
void kern_pool_forward(KernPool mode, int T, int B, int H, const float *x,
                       const int32_t *lengths, float *y, int32_t *argmax)
{
    size_t bh = (size_t)B * H;
    for (int b = 0; b < B; b++) {
        int len = lengths ? lengths[b] : T;
        float *yr = y + (size_t)b * H;
        const float *x0 = x + (size_t)b * H;
        if (mode == KERN_POOL_LAST) {
            memcpy(yr, x0 + (size_t)(len - 1) * bh, (size_t)H * sizeof *yr);
        } else if (mode == KERN_POOL_MEAN) {
            for (int j = 0; j < H; j++) {
                double s = 0.0;
                for (int t = 0; t < len; t++)
                    s += x0[(size_t)t * bh + j];
                yr[j] = (float)(s / len);
            }
        } else {
            int32_t *ar = argmax + (size_t)b * H;
            for (int j = 0; j < H; j++) {
                float best = x0[j];
                int32_t bt = 0;
                for (int t = 1; t < len; t++)
                    if (x0[(size_t)t * bh + j] > best) {
                        best = x0[(size_t)t * bh + j];
                        bt = t;
                    }
                yr[j] = best;
                ar[j] = bt;
            }
        }
    }
}

/* last: dx[len-1][b] += dy[b];  mean: dx[t][b] += dy[b] / len for t < len;
 * max: dx[argmax][b] += dy[b]. */
void kern_pool_backward(KernPool mode, int T, int B, int H, const int32_t *lengths,
                        const int32_t *argmax, const float *dy, float *dx)
{
    size_t bh = (size_t)B * H;
    for (int b = 0; b < B; b++) {
        int len = lengths ? lengths[b] : T;
        const float *dyr = dy + (size_t)b * H;
        float *dx0 = dx + (size_t)b * H;
        for (int j = 0; j < H; j++) {
            if (mode == KERN_POOL_LAST)
                dx0[(size_t)(len - 1) * bh + j] += dyr[j];
            else if (mode == KERN_POOL_MEAN)
                for (int t = 0; t < len; t++)
                    dx0[(size_t)t * bh + j] += dyr[j] / (float)len;
            else
                dx0[(size_t)argmax[(size_t)b * H + j] * bh + j] += dyr[j];
        }
    }
}

/* y = sum_i xs[i]. */
void kern_add_forward(size_t n, int k, const float *const *xs, float *y)
{
    if (k <= 0) {
        memset(y, 0, n * sizeof *y);
        return;
    }
    if (y != xs[0])
        memmove(y, xs[0], n * sizeof *y);
    for (int i = 1; i < k; i++)
        kern_accumulate(n, xs[i], y);
}

/* dst += src. */
void kern_accumulate(size_t n, const float *src, float *dst)
{
    kern_vadd(n, src, dst);
}

/* y[r] = [xs[0][r], xs[1][r], ...]. */
void kern_concat_forward(size_t n, int k, const int *w, const float *const *xs, float *y)
{
    size_t total = 0;
    for (int i = 0; i < k; i++)
        total += (size_t)w[i];
    for (size_t r = 0; r < n; r++) {
        float *dst = y + r * total;
        for (int i = 0; i < k; i++) {
            memcpy(dst, xs[i] + r * w[i], (size_t)w[i] * sizeof *dst);
            dst += w[i];
        }
    }
}

/* dxs[i][r] += the matching slice of dy[r]. */
void kern_concat_backward(size_t n, int k, const int *w, const float *dy, float *const *dxs)
{
    size_t total = 0;
    for (int i = 0; i < k; i++)
        total += (size_t)w[i];
    for (size_t r = 0; r < n; r++) {
        const float *src = dy + r * total;
        for (int i = 0; i < k; i++) {
            if (dxs[i])
                kern_accumulate((size_t)w[i], src, dxs[i] + r * w[i]);
            src += w[i];
        }
    }
}
