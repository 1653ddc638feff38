/* exec_bind: what every layer's set-up shares -- the executor's one allocator (every buffer an
 * ExecModel uses is calloc'ed by exec_own and recorded in ExecModel.allocs, so exec_free
 * releases them in one loop), binding a layer's tensors by role to views of the parameter and
 * gradient buffers, and the set-up errors several kinds report. A file of its own so that
 * exec.c, exec_setup.c and the layer_<kind>.c files all call down into it, never into each
 * other. */
#include <stdlib.h>

#include "exec/exec_int.h"
#include "util/array.h"

/* Zeroed memory owned by e (freed in exec_free); NULL and e->oom set when out of memory. */
void *exec_own(ExecModel *e, size_t n, size_t size)
{
    if (e->oom)
        return NULL;
    if (ARRAY_RESERVE(e->allocs, e->allocs_cap, (size_t)e->nallocs + 1) != 0) {
        e->oom = true;
        return NULL;
    }
    void *p = calloc(n ? n : 1, size);
    if (!p) {
        e->oom = true;
        return NULL;
    }
    e->allocs[e->nallocs++] = p;
    return p;
}

/* Points *v and *g at layer L's tensor of this role and checks its size; -1 with a diagnostic. */
int exec_bind_tensor(ExecModel *e, const IrLayer *L, IrTensorRole role, int64_t size,
                     bool optional, const float **v, float **g, Diag *d)
{
    int t = L->tensor[role];
    *v = NULL;
    *g = NULL;
    if (t < 0 || t >= e->ntensors) {
        if (optional)
            return 0;
        diag_error_in(d, L->label, "layer has no tensor '%s.%s'", L->label,
                      ir_role_spelling[role]);
        return -1;
    }
    if (e->tensors[t].size != size) {
        diag_error_in(d, e->tensors[t].name, "tensor has %lld elements, the layer needs %lld",
                      (long long)e->tensors[t].size, (long long)size);
        return -1;
    }
    *v = e->params + e->tensors[t].offset;
    *g = e->grads + e->tensors[t].offset;
    return 0;
}

/* "layer width W does not match its input" */
int exec_width_error(const LayerRt *l, Diag *d)
{
    diag_error_in(d, l->L->label, "layer width %d does not match its input", l->w);
    return -1;
}

/* "layer needs a sequence input" */
int exec_needs_seq_error(const LayerRt *l, Diag *d)
{
    diag_error_in(d, l->L->label, "layer needs a sequence input");
    return -1;
}
