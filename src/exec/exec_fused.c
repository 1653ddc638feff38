/* exec_fused: the fused kernels of the built-in cells (kernels.h) as one table keyed by
 * IrBuiltin: gate count, oneDNN's primitive for it (dnnl_rnn.h, the engine when recur is built
 * with oneDNN), and recur's own kernels (buffer sizes, forward and backward: the fallback and
 * the reference in the tests). The Elman RNN's kernel takes its
 * activation as an argument; the two small adapters below fix it per row. */
#include "exec/exec_int.h"

/* h = tanh(x W_ih^T + b_ih + h_prev W_hh^T + b_hh): kern_rnn_forward with KERN_ACT_TANH. */
static void rnn_tanh_forward(KernRecShape sh, bool train, const float *x, KernStateIn s0,
                             KernRecWeights w, float *y, KernStateOut sT, float *cache)
{
    kern_rnn_forward(sh, train, KERN_ACT_TANH, x, s0, w, y, sT, cache);
}

/* Backward of rnn_tanh_forward. */
static void rnn_tanh_backward(KernRecShape sh, const float *x, KernRecWeights w,
                              const float *cache, const float *dy, KernDStateIn dsT, float *dx,
                              KernDStateOut ds0, KernRecGrads dw, float *work)
{
    kern_rnn_backward(sh, KERN_ACT_TANH, x, w, cache, dy, dsT, dx, ds0, dw, work);
}

/* h = relu(x W_ih^T + b_ih + h_prev W_hh^T + b_hh): kern_rnn_forward with KERN_ACT_RELU. */
static void rnn_relu_forward(KernRecShape sh, bool train, const float *x, KernStateIn s0,
                             KernRecWeights w, float *y, KernStateOut sT, float *cache)
{
    kern_rnn_forward(sh, train, KERN_ACT_RELU, x, s0, w, y, sT, cache);
}

/* Backward of rnn_relu_forward. */
static void rnn_relu_backward(KernRecShape sh, const float *x, KernRecWeights w,
                              const float *cache, const float *dy, KernDStateIn dsT, float *dx,
                              KernDStateOut ds0, KernRecGrads dw, float *work)
{
    kern_rnn_backward(sh, KERN_ACT_RELU, x, w, cache, dy, dsT, dx, ds0, dw, work);
}

/* Gate rows per hidden unit as in PyTorch's weight_ih [G*H][I]. */
enum { RNN_GATES = 1, GRU_GATES = 3, LSTM_GATES = 4 };

const FusedCell exec_fused_cells[IR_CELL_COUNT] = {
    [IR_CELL_USER] = { 0, false, ONEDNN_NONE, NULL, NULL, NULL, NULL },
    [IR_CELL_RNN_TANH] = { RNN_GATES, false, ONEDNN_RNN_TANH, kern_rnn_cache_floats,
                           kern_rnn_work_floats, rnn_tanh_forward, rnn_tanh_backward },
    [IR_CELL_RNN_RELU] = { RNN_GATES, false, ONEDNN_RNN_RELU, kern_rnn_cache_floats,
                           kern_rnn_work_floats, rnn_relu_forward, rnn_relu_backward },
    [IR_CELL_LSTM] = { LSTM_GATES, true, ONEDNN_LSTM, kern_lstm_cache_floats,
                       kern_lstm_work_floats, kern_lstm_forward, kern_lstm_backward },
    [IR_CELL_GRU] = { GRU_GATES, false, ONEDNN_GRU, kern_gru_cache_floats, kern_gru_work_floats,
                      kern_gru_forward, kern_gru_backward },
};
