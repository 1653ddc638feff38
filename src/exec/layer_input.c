/* layer_input: the model's first layer, `input tokens(vocab=N)` or `input vector(N)`: filled
 * from the window's ids [T][B] or vectors [T][B][N], which are checked here. Nothing flows back
 * from it. */
#include <string.h>

#include "exec/exec_int.h"
#include "exec/layer_kinds.h"

/* Token input: needs its vocabulary size; keeps the window's ids. */
static int layer_tokens_setup(ExecModel *e, LayerRt *l, int64_t *state_off, Diag *d)
{
    (void)state_off;
    if (l->L->vocab <= 0) {
        diag_error_in(d, l->L->label, "token input without a vocabulary size");
        return -1;
    }
    l->ids = exec_own(e, (size_t)e->max_T * e->B, sizeof(int32_t));
    return e->oom ? -1 : 0;
}

/* Checks every id against the vocabulary and copies the window's ids. */
static int layer_tokens_forward(ExecModel *e, LayerRt *l, const ExecInput *in, Diag *d)
{
    size_t TB = (size_t)in->T * e->B;
    if (!in->tokens) {
        diag_error_in(d, l->L->label, "the model reads token ids; none were given");
        return -1;
    }
    for (size_t r = 0; r < TB; r++)
        if (in->tokens[r] < 0 || in->tokens[r] >= l->L->vocab) {
            diag_error_in(d, l->L->label, "token id %d at step %zu is outside [0, %d)",
                          (int)in->tokens[r], r / e->B, l->L->vocab);
            return -1;
        }
    memcpy(l->ids, in->tokens, sizeof(int32_t) * TB);
    return 0;
}

/* Copies the window's vectors into the layer's output. */
static int layer_vector_forward(ExecModel *e, LayerRt *l, const ExecInput *in, Diag *d)
{
    if (!in->vectors) {
        diag_error_in(d, l->L->label, "the model reads vectors; none were given");
        return -1;
    }
    memcpy(l->out, in->vectors, sizeof(float) * (size_t)in->T * e->B * l->w);
    return 0;
}

const ExecLayerOps layer_tokens_ops = { layer_tokens_setup, layer_tokens_forward, NULL, NULL, NULL };
const ExecLayerOps layer_vector_ops = { NULL, layer_vector_forward, NULL, NULL, NULL };
