/* layer_join: the layers with several inputs -- `concat(a, b, ...)` along the feature axis and
 * `add(a, b, ...)` (also `residual { }`) of equal widths. */
#include "exec/exec_int.h"
#include "exec/layer_kinds.h"

/* Concat: the widths of the inputs sum to the layer's. */
static int concat_setup(ExecModel *e, LayerRt *l, int64_t *state_off, Diag *d)
{
    (void)state_off;
    int sum = 0;
    for (int k = 0; k < l->L->ninputs; k++)
        sum += exec_input_rt(e, l, k)->w;
    return sum != l->w ? exec_width_error(l, d) : 0;
}

/* y = [x_0 | x_1 | ...] per row */
static int concat_forward(ExecModel *e, LayerRt *l, const ExecInput *in, Diag *d)
{
    (void)in, (void)d;
    int n = l->L->ninputs;
    const float *xs[n];
    int ws[n];
    for (int k = 0; k < n; k++) {
        xs[k] = exec_input_rt(e, l, k)->out;
        ws[k] = exec_input_rt(e, l, k)->w;
    }
    kern_concat_forward(exec_rows_of(e, l, e->T), n, ws, xs, l->out);
    return 0;
}

/* dx_k += the matching slice of dy */
static int concat_backward(ExecModel *e, LayerRt *l, Diag *d)
{
    (void)d;
    int n = l->L->ninputs;
    float *dxs[n];
    int ws[n];
    for (int k = 0; k < n; k++) {
        dxs[k] = exec_input_rt(e, l, k)->dout;
        ws[k] = exec_input_rt(e, l, k)->w;
    }
    kern_concat_backward(exec_rows_of(e, l, e->T), n, ws, l->dout, dxs);
    return 0;
}

/* Add: every input has the layer's width. */
static int add_setup(ExecModel *e, LayerRt *l, int64_t *state_off, Diag *d)
{
    (void)state_off;
    for (int k = 0; k < l->L->ninputs; k++)
        if (exec_input_rt(e, l, k)->w != l->w)
            return exec_width_error(l, d);
    return 0;
}

/* y = x_0 + x_1 + ... */
static int add_forward(ExecModel *e, LayerRt *l, const ExecInput *in, Diag *d)
{
    (void)in, (void)d;
    int n = l->L->ninputs;
    const float *xs[n];
    for (int k = 0; k < n; k++)
        xs[k] = exec_input_rt(e, l, k)->out;
    kern_add_forward(exec_rows_of(e, l, e->T) * l->w, n, xs, l->out);
    return 0;
}

/* dx_k += dy for every input */
static int add_backward(ExecModel *e, LayerRt *l, Diag *d)
{
    (void)d;
    for (int k = 0; k < l->L->ninputs; k++)
        kern_accumulate(exec_rows_of(e, l, e->T) * l->w, l->dout, exec_input_rt(e, l, k)->dout);
    return 0;
}

const ExecLayerOps layer_concat_ops = { concat_setup, concat_forward, concat_backward, NULL, NULL };
const ExecLayerOps layer_add_ops = { add_setup, add_forward, add_backward, NULL, NULL };
