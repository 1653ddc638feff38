/* exec_forward: one window forward, layer by layer (see exec.h): the window's checks, the
 * carried state, then each layer's forward hook (exec_layers.c). Separate from the backward
 * pass (exec_backward.c), which walks the same layers in reverse. */
#include <string.h>

#include "exec/exec_int.h"
#include "exec/parallel.h"

/* Checks the window's size and lengths and records the lengths; -1 with a diagnostic. */
static int check_window(ExecModel *e, const ExecInput *in, Diag *d)
{
    const IrModel *m = e->m;
    if (!in || in->T < 1 || in->T > e->max_T) {
        diag_error_in(d, m->name ? m->name : "model", "window of %d steps, expected 1..%d",
                      in ? in->T : 0, e->max_T);
        return -1;
    }
    e->has_lengths = in->lengths != NULL;
    for (int b = 0; in->lengths && b < e->B; b++) {
        if (in->lengths[b] < 1 || in->lengths[b] > in->T) {
            diag_error_in(d, m->name ? m->name : "model",
                          "sequence %d has length %d, expected 1..%d", b, (int)in->lengths[b],
                          in->T);
            return -1;
        }
        e->lengths[b] = in->lengths[b];
    }
    return 0;
}

/* The 64-bit golden ratio (splitmix64's increment): spreads stream indices over seeds. */
static const uint64_t STREAM_GAMMA = 0x9e3779b97f4a7c15ULL;

/* Keys this training forward's per-stream dropout generators from one draw of e->rng. */
static void seed_streams(ExecModel *e)
{
    uint64_t key = rng_next(&e->rng);
    for (int b = 0; b < e->B; b++)
        rng_seed(&e->srng[b], key ^ ((uint64_t)(e->stream0 + b + 1) * STREAM_GAMMA));
}

void exec_dropout_mask(ExecModel *e, size_t rows, int w, float p, float *mask)
{
    for (size_t r = 0; r < rows; r++)
        kern_dropout_mask((size_t)w, p, &e->srng[r % (size_t)e->B], mask + r * (size_t)w);
}

int exec_forward(ExecModel *e, const ExecInput *in, bool train, Diag *d)
{
    const IrModel *m = e->m;
    if (check_window(e, in, d))
        return -1;
    e->T = in->T;
    e->train = train;
    if (train)
        seed_streams(e);
    e->fwd_grad = e->grad_enabled;
    if (e->fwd_grad) /* a training forward: parameters about to change, token tables stale */
        e->frozen_gen++;
    e->fwd_interp = e->force_interp; /* backward follows the forward's path */
    if (e->carry)
        memcpy(e->state, e->fin, sizeof(float) * e->state_floats);
    e->carry = false;
    memset(e->dfin, 0, sizeof(float) * e->state_floats);
    for (int i = 0; i < m->nlayers; i++) {
        LayerRt *l = &e->lr[i];
        const ExecLayerOps *ops = exec_layer_ops(l->L->kind);
        if (l->dout && e->fwd_grad) /* gradients accumulate from zero in backward */
            kern_parallel_zero(exec_rows_of(e, l, e->T) * l->w, l->dout);
        if (!ops->forward) {
            diag_error_in(d, l->L->label, "layer kind %d cannot run", (int)l->L->kind);
            return -1;
        }
        if (ops->forward(e, l, in, d))
            return -1;
    }
    e->carry = true;
    e->fused_softmax = false;
    return 0;
}
