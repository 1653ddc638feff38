/* layer_rowwise: the layers that keep their input's width and work row by row -- `dropout(p)`
 * (inverted dropout while training), `layernorm` (optional scale and shift, roles weight and
 * bias) and `softmax` (whose backward is skipped when the loss was fused with it). */
#include <string.h>

#include "exec/exec_int.h"
#include "exec/layer_kinds.h"

/* Dropout: the mask of the last training forward [rows][w]. */
static int dropout_setup(ExecModel *e, LayerRt *l, int64_t *state_off, Diag *d)
{
    (void)state_off;
    if (exec_input_rt(e, l, 0)->w != l->w)
        return exec_width_error(l, d);
    size_t rows = exec_rows_of(e, l, e->max_T);
    l->kind_rt = exec_own(e, rows * l->w, sizeof(float));
    return e->oom ? -1 : 0;
}

/* Training: y = x * mask, mask 0 with probability p else 1/(1-p); otherwise y = x. */
static int dropout_forward(ExecModel *e, LayerRt *l, const ExecInput *in, Diag *d)
{
    (void)in, (void)d;
    size_t n = exec_rows_of(e, l, e->T) * l->w;
    float *mask = l->kind_rt;
    const float *x = exec_input_rt(e, l, 0)->out;
    if (e->train && l->L->p > 0) {
        exec_dropout_mask(e, exec_rows_of(e, l, e->T), l->w, (float)l->L->p, mask);
        kern_dropout_forward(n, mask, x, l->out);
    } else {
        memcpy(l->out, x, sizeof(float) * n);
    }
    return 0;
}

/* dx += dy * mask (training), dx += dy otherwise. */
static int dropout_backward(ExecModel *e, LayerRt *l, Diag *d)
{
    (void)d;
    size_t n = exec_rows_of(e, l, e->T) * l->w;
    float *dx = exec_input_rt(e, l, 0)->dout;
    if (e->train && l->L->p > 0)
        kern_dropout_backward(n, l->kind_rt, l->dout, dx);
    else
        kern_accumulate(n, l->dout, dx);
    return 0;
}

/* Layernorm: optional scale and shift, and the per-row statistics kept for backward. */
typedef struct LayernormRt {
    const float *w, *b;
    float *dw, *db;
    float *mean, *rstd;     /* [rows] */
} LayernormRt;

/* Binds the optional weight and bias [w] and allocates the statistics. */
static int layernorm_setup(ExecModel *e, LayerRt *l, int64_t *state_off, Diag *d)
{
    (void)state_off;
    if (exec_input_rt(e, l, 0)->w != l->w)
        return exec_width_error(l, d);
    LayernormRt *r = exec_own(e, 1, sizeof *r);
    if (!r)
        return -1;
    l->kind_rt = r;
    if (exec_bind_tensor(e, l->L, IR_ROLE_WEIGHT, l->w, true, &r->w, &r->dw, d) ||
        exec_bind_tensor(e, l->L, IR_ROLE_BIAS, l->w, true, &r->b, &r->db, d))
        return -1;
    size_t rows = exec_rows_of(e, l, e->max_T);
    r->mean = exec_own(e, rows, sizeof(float));
    r->rstd = exec_own(e, rows, sizeof(float));
    return e->oom ? -1 : 0;
}

/* y = (x - mean) / sqrt(var + eps) * w + b per row */
static int layernorm_forward(ExecModel *e, LayerRt *l, const ExecInput *in, Diag *d)
{
    (void)in, (void)d;
    LayernormRt *r = l->kind_rt;
    kern_layernorm_forward(exec_rows_of(e, l, e->T), l->w, exec_input_rt(e, l, 0)->out, r->w, r->b,
                           l->out, r->mean, r->rstd);
    return 0;
}

/* Backward through the normalisation (kern_layernorm_backward). */
static int layernorm_backward(ExecModel *e, LayerRt *l, Diag *d)
{
    (void)d;
    LayernormRt *r = l->kind_rt;
    LayerRt *x = exec_input_rt(e, l, 0);
    kern_layernorm_backward(exec_rows_of(e, l, e->T), l->w, x->out, r->w, r->mean, r->rstd,
                            l->dout, x->dout, r->dw, r->db);
    return 0;
}

/* Softmax keeps its input's width. */
static int softmax_setup(ExecModel *e, LayerRt *l, int64_t *state_off, Diag *d)
{
    (void)state_off;
    return exec_input_rt(e, l, 0)->w != l->w ? exec_width_error(l, d) : 0;
}

/* y[r] = exp(x[r] - max) / sum */
static int softmax_forward(ExecModel *e, LayerRt *l, const ExecInput *in, Diag *d)
{
    (void)in, (void)d;
    kern_softmax_forward(exec_rows_of(e, l, e->T), l->w, exec_input_rt(e, l, 0)->out, l->out);
    return 0;
}

/* dx += y * (dy - sum_j dy_j y_j), unless exec_loss seeded dx directly (fused cross-entropy on
 * the model's output). */
static int softmax_backward(ExecModel *e, LayerRt *l, Diag *d)
{
    (void)d;
    if (!(e->fused_softmax && l == &e->lr[e->m->output]))
        kern_softmax_backward(exec_rows_of(e, l, e->T), l->w, l->out, l->dout,
                              exec_input_rt(e, l, 0)->dout);
    return 0;
}

const ExecLayerOps layer_dropout_ops = { dropout_setup, dropout_forward, dropout_backward, NULL, NULL };
const ExecLayerOps layer_layernorm_ops = { layernorm_setup, layernorm_forward, layernorm_backward,
                                           NULL, NULL };
const ExecLayerOps layer_softmax_ops = { softmax_setup, softmax_forward, softmax_backward, NULL, NULL };
