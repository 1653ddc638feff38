/* kernels_loss: softmax, cross-entropy fused with log-softmax, and mean squared error.
 * Shapes are in kernels.h. Sums that set a loss are accumulated in double. */
#include "exec/kernels.h"
#include "exec/kernels_util.h"

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
    double total = 0.0;
    float scale = cnt ? 1.0f / (float)cnt : 0.0f;
    for (size_t r = 0; r < n; r++) {
        const float *xr = logits + r * C;
        float *dr = dlogits ? dlogits + r * C : NULL;
        if (targets[r] == ignore || (mask && mask[r] == 0.0f)) {
            if (dr)
                memset(dr, 0, (size_t)C * sizeof *dr);
            continue;
        }
        float mx = xr[0];
        for (int j = 1; j < C; j++)
            mx = xr[j] > mx ? xr[j] : mx;
        double s = 0.0;
        for (int j = 0; j < C; j++)
            s += exp((double)(xr[j] - mx));
        double lse = mx + log(s);
        total += lse - xr[targets[r]];
        if (dr) {
            for (int j = 0; j < C; j++)
                dr[j] = (float)exp((double)xr[j] - lse) * scale;
            dr[targets[r]] -= scale;
        }
    }
    *loss = cnt ? total / (double)cnt : 0.0;
    if (count)
        *count = cnt;
    return 0;
}

/* loss = mean_i (y_i - t_i)^2;  dy_i = 2 (y_i - t_i) / n. */
double kern_mse_forward_backward(size_t n, const float *y, const float *t, float *dy)
{
    if (n == 0)
        return 0.0;
    double s = 0.0;
    float scale = 2.0f / (float)n;
    for (size_t i = 0; i < n; i++) {
        float e = y[i] - t[i];
        s += (double)e * e;
        if (dy)
            dy[i] = scale * e;
    }
    return s / (double)n;
}
