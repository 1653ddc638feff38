/* exec: creating and freeing an executor, its accessors and carried state (see exec.h).
 *
 * Every layer owns an activation buffer and an activation-gradient buffer of rows x width floats
 * (rows = T*B for sequences, B after pooling). Forward runs the layers in order; backward runs
 * them in reverse, each adding its input gradients (+=) into its inputs' buffers. Layer maths is
 * done by the kernels of kernels.h; recurrent cells by the fused kernels or the cell
 * interpreter. Every buffer is allocated once, in exec_create, for the largest window.
 *
 * The executor is split by concern: this file (lifetime and accessors), exec_setup.c (the checks
 * every layer passes), exec_layers.c (the table of per-kind hooks, whose code is in the
 * layer_<kind>.c files), exec_bind.c (the buffers it owns, tensors bound by role),
 * exec_forward.c, exec_loss.c and exec_backward.c (running a window), exec_omp.c (how idle
 * OpenMP threads wait); exec_int.h holds the structures they share. */
#include "exec/exec.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "exec/exec_int.h"
#include "exec/parallel.h"

/* The width of every [B][width] segment of the state block, in the state block's order (exec.h). */
int exec_state_widths(const ExecModel *e, int *widths, int max)
{
    int n = 0;
    for (int i = 0; i < e->m->nlayers; i++) {
        const IrLayer *L = &e->m->layers[i];
        const IrLayerFacts *f = ir_layer_kind_facts(L->kind);
        if (!f || !f->cells)
            continue;
        for (int k = 0; k < L->ncells; k++)
            for (int s = 0; s < L->cells[k].nstates; s++, n++)
                if (n < max)
                    widths[n] = L->cells[k].states[s].width;
    }
    return n;
}

/* Counts the state floats of every recurrent cell (before the state buffers exist): B times
 * the widths exec_state_widths lists. */
static int64_t count_state(const ExecModel *e)
{
    int n = exec_state_widths(e, NULL, 0);
    int *w = malloc(sizeof *w * (size_t)(n + 1));
    int64_t total = 0;
    if (!w)
        return -1;
    exec_state_widths(e, w, n);
    for (int i = 0; i < n; i++)
        total += (int64_t)e->B * w[i];
    free(w);
    return total;
}

ExecModel *exec_create(const IrModel *m, int batch, int max_T, Diag *d)
{
    return exec_create_on(m, NULL, batch, max_T, d);
}

/* As exec_create; params (m->nparams floats, tensors back to back in IrModel.tensors order) is
 * the owner's buffer, borrowed: the executor reads and trains it in place and never frees it. */
ExecModel *exec_create_on(const IrModel *m, float *params, int batch, int max_T, Diag *d)
{
    if (!m || m->nlayers < 1 || batch <= 0 || max_T <= 0 || m->output < 0 ||
        m->output >= m->nlayers) {
        diag_error_in(d, m && m->name ? m->name : "model",
                      "cannot run: empty model or non-positive batch/window");
        return NULL;
    }
    ExecModel *e = calloc(1, sizeof *e);
    if (!e) {
        diag_error_in(d, m->name ? m->name : "model", "out of memory");
        return NULL;
    }
    e->m = m;
    e->B = batch;
    e->max_T = max_T;
    e->grad_enabled = true;
    e->onednn = onednn_env_enabled(); /* RECUR_ONEDNN=0: recur's own kernels (exec.h) */
    e->force_interp = exec_env_interpreter(); /* RECUR_INTERPRETER=1: every cell interpreted */
    rng_seed(&e->rng, EXEC_DEFAULT_DROPOUT_SEED);
    e->ntensors = m->ntensors;
    e->tensors = exec_own(e, m->ntensors, sizeof *e->tensors);
    int64_t off = 0;
    for (int t = 0; t < m->ntensors && !e->oom; t++) {
        const IrTensor *it = &m->tensors[t];
        ExecTensor *x = &e->tensors[t];
        x->name = it->name;
        x->ndim = it->ndim;
        x->shape[0] = it->shape[0];
        x->shape[1] = it->shape[1];
        x->size = it->size;
        x->offset = off;
        int64_t want = it->ndim == 2 ? (int64_t)it->shape[0] * it->shape[1] : it->shape[0];
        if (it->size <= 0 || it->size != want) {
            diag_error_in(d, it->name, "tensor size %lld does not match its shape",
                          (long long)it->size);
            exec_free(e);
            return NULL;
        }
        off += it->size;
    }
    e->nparams = off;
    e->params = params ? params : exec_own(e, off, sizeof(float));
    e->grads = exec_own(e, off, sizeof(float));
    e->state_floats = count_state(e);
    if (e->state_floats < 0)
        e->oom = true, e->state_floats = 0;
    e->state = exec_own(e, e->state_floats, sizeof(float));
    e->fin = exec_own(e, e->state_floats, sizeof(float));
    e->dstate = exec_own(e, e->state_floats, sizeof(float));
    e->dfin = exec_own(e, e->state_floats, sizeof(float));
    e->lengths = exec_own(e, batch, sizeof(int32_t));
    e->lossmask = exec_own(e, (size_t)max_T * batch, sizeof(float));
    e->srng = exec_own(e, batch, sizeof(Rng));
    e->lr = exec_own(e, m->nlayers, sizeof *e->lr);
    int64_t state_off = 0;
    for (int i = 0; i < m->nlayers && !e->oom; i++)
        if (exec_setup_layer(e, i, &state_off, d)) {
            exec_free(e);
            return NULL;
        }
    if (e->oom) {
        diag_error_in(d, m->name ? m->name : "model",
                      "out of memory for %lld parameters, batch %d, window %d",
                      (long long)e->nparams, batch, max_T);
        exec_free(e);
        return NULL;
    }
    return e;
}

void exec_free(ExecModel *e)
{
    if (!e)
        return;
    for (int i = 0; e->lr && i < e->m->nlayers; i++) {
        const LayerRt *l = &e->lr[i];
        if (l->L && l->kind_rt && exec_layer_ops(l->L->kind)->release)
            exec_layer_ops(l->L->kind)->release(&e->lr[i]);
    }
    for (int i = 0; i < e->nallocs; i++)
        free(e->allocs[i]);
    free(e->allocs);
    free(e);
}

/* ---- accessors ----------------------------------------------------------------------------- */

const IrModel *exec_model(const ExecModel *e) { return e->m; }
float *exec_params(ExecModel *e) { return e->params; }
float *exec_grads(ExecModel *e) { return e->grads; }
int64_t exec_nparams(const ExecModel *e) { return e->nparams; }
int exec_ntensors(const ExecModel *e) { return e->ntensors; }
const ExecTensor *exec_tensor(const ExecModel *e, int i)
{
    return i >= 0 && i < e->ntensors ? &e->tensors[i] : NULL;
}
int exec_find_tensor(const ExecModel *e, const char *name)
{
    for (int i = 0; i < e->ntensors; i++)
        if (strcmp(e->tensors[i].name, name) == 0)
            return i;
    return -1;
}

int exec_copy_params(ExecModel *dst, const ExecModel *src, Diag *d)
{
    if (dst->nparams != src->nparams || dst->ntensors != src->ntensors) {
        diag_error_in(d, "parameters", "models differ (%lld vs %lld parameters)",
                      (long long)dst->nparams, (long long)src->nparams);
        return -1;
    }
    memcpy(dst->params, src->params, sizeof(float) * src->nparams);
    return 0;
}

void exec_set_frozen(ExecModel *e, bool on)
{
    e->frozen = on;
    e->frozen_gen++;
}

void exec_zero_grads(ExecModel *e) { kern_parallel_zero((size_t)e->nparams, e->grads); }

double exec_grad_norm(const ExecModel *e)
{
    double s = 0;
    for (int64_t i = 0; i < e->nparams; i++)
        s += (double)e->grads[i] * e->grads[i];
    return sqrt(s);
}

void exec_set_force_interpreter(ExecModel *e, bool on) { e->force_interp = on; }
void exec_set_trace_tape(ExecModel *e, bool on) { e->trace_tape = on; }

/* RECUR_INTERPRETER=1 in the environment (read on every call: cheap, and tests may set it). */
bool exec_env_interpreter(void)
{
    const char *v = getenv("RECUR_INTERPRETER");
    return v && strcmp(v, "1") == 0;
}
void exec_set_onednn(ExecModel *e, bool on) { e->onednn = on; }
bool exec_onednn_available(void) { return onednn_available(); }
void exec_set_threads(int n) { onednn_set_threads(n > 0 ? n : 1); }

void exec_set_grad_enabled(ExecModel *e, bool on) { e->grad_enabled = on; }
Rng *exec_rng(ExecModel *e) { return &e->rng; }
void exec_seed_dropout(ExecModel *e, uint64_t seed)
{
    rng_seed(&e->rng, seed ^ EXEC_DROPOUT_SEED_SALT);
}
void exec_set_first_stream(ExecModel *e, int64_t first) { e->stream0 = first; }

void exec_reset_state(ExecModel *e)
{
    memset(e->state, 0, sizeof(float) * e->state_floats);
    e->carry = false;
}
int64_t exec_state_floats(const ExecModel *e) { return e->state_floats; }
void exec_get_state(const ExecModel *e, float *out)
{
    memcpy(out, e->carry ? e->fin : e->state, sizeof(float) * e->state_floats);
}
void exec_set_state(ExecModel *e, const float *in)
{
    memcpy(e->state, in, sizeof(float) * e->state_floats);
    e->carry = false;
}
const float *exec_state_grad(const ExecModel *e) { return e->dstate; }
float *exec_final_state_grad(ExecModel *e) { return e->dfin; }

const float *exec_output(const ExecModel *e, int *rows, int *width)
{
    const LayerRt *l = &e->lr[e->m->output];
    if (rows)
        *rows = (int)exec_rows_of(e, l, e->T);
    if (width)
        *width = l->w;
    return l->L->tokens ? NULL : l->out;
}
float *exec_output_grad(ExecModel *e) { return e->lr[e->m->output].dout; }
const float *exec_layer_output(const ExecModel *e, int layer)
{
    return layer >= 0 && layer < e->m->nlayers ? e->lr[layer].out : NULL;
}
float *exec_layer_grad(ExecModel *e, int layer)
{
    return layer >= 0 && layer < e->m->nlayers ? e->lr[layer].dout : NULL;
}
