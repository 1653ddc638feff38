/* states: conversion between the executor's state block and PyTorch-layout state tensors
 * (see states.h). */
#include "model/states.h"

#include <stdio.h>
#include <string.h>

#include "io/safetensors.h"

/* Floats of one cell's state block: [nstates][B][width]. */
static int64_t cell_floats(const IrCell *c, int B)
{
    int64_t n = 0;
    for (int s = 0; s < c->nstates; s++)
        n += (int64_t)B * c->states[s].width;
    return n;
}

/* Offset of state s inside a cell's block. */
static int64_t state_at(const IrCell *c, int B, int s)
{
    int64_t n = 0;
    for (int k = 0; k < s; k++)
        n += (int64_t)B * c->states[k].width;
    return n;
}

int64_t model_state_floats(const IrModel *m, int B)
{
    int64_t n = 0;
    for (int i = 0; i < m->nlayers; i++)
        for (int k = 0; k < m->layers[i].ncells; k++)
            n += cell_floats(&m->layers[i].cells[k], B);
    return n;
}

/* "<prefix><label>.<state>0" into buf (see states.h). */
void model_state_name(const IrLayer *L, int s, const char *prefix, char *buf, size_t n)
{
    snprintf(buf, n, "%s%s.%s0", prefix ? prefix : "", L->label, L->cells[0].states[s].name);
}

/* Copies state s of every cell of layer L between the block (cells from base) and a tensor
 * [ncells][B][w]: to_tensor picks the direction. */
static void copy_state(const IrLayer *L, int B, int s, float *block, int64_t base, float *t,
                       bool to_tensor)
{
    int64_t off = base;
    size_t n = (size_t)B * L->cells[0].states[s].width;
    for (int k = 0; k < L->ncells; k++) {
        float *b = block + off + state_at(&L->cells[k], B, s);
        if (to_tensor)
            memcpy(t + (size_t)k * n, b, sizeof(float) * n);
        else
            memcpy(b, t + (size_t)k * n, sizeof(float) * n);
        off += cell_floats(&L->cells[k], B);
    }
}

int model_states_to_tensors(const IrModel *m, int B, const float *block, const char *prefix,
                            CkptTensorList *out, Diag *d)
{
    int64_t base = 0;
    for (int i = 0; i < m->nlayers; i++) {
        const IrLayer *L = &m->layers[i];
        for (int s = 0; L->ncells && s < L->cells[0].nstates; s++) {
            char name[256];
            model_state_name(L, s, prefix, name, sizeof name);
            int64_t shape[3] = { L->ncells, B, L->cells[0].states[s].width };
            CkptTensor *t = ckpt_add_tensor(out, name, 3, shape, NULL);
            if (!t) {
                diag_error_in(d, name, "cannot add the state tensor (out of memory, or a tensor "
                              "of that name is already there)");
                return -1;
            }
            copy_state(L, B, s, (float *)block, base, t->data, true);
        }
        for (int k = 0; k < L->ncells; k++)
            base += cell_floats(&L->cells[k], B);
    }
    return 0;
}

/* The names and shapes the model's states have, for a message: "lstm1.h0 [1, 3, 6], ...". */
static void expected_list(const IrModel *m, int B, char *buf, size_t n)
{
    size_t k = 0;
    buf[0] = 0;
    for (int i = 0; i < m->nlayers; i++) {
        const IrLayer *L = &m->layers[i];
        for (int s = 0; L->ncells && s < L->cells[0].nstates && k < n; s++) {
            char name[256];
            model_state_name(L, s, NULL, name, sizeof name);
            int w = snprintf(buf + k, n - k, "%s%s [%d, %d, %d]", k ? ", " : "", name,
                             L->ncells, B, L->cells[0].states[s].width);
            k += w > 0 ? (size_t)w : 0;
        }
    }
}

/* The state tensor of layer L, state s, in l, checked: NULL after reporting. */
static const CkptTensor *find_state(const IrModel *m, const IrLayer *L, int s, int B,
                                    const CkptTensorList *l, const char *path, Diag *d)
{
    char name[256], want[1024];
    model_state_name(L, s, NULL, name, sizeof name);
    const CkptTensor *t = ckpt_find_tensor(l, name);
    int w = L->cells[0].states[s].width;
    if (!t) {
        expected_list(m, B, want, sizeof want);
        DiagMessage *msg = diag_error_in(d, path, "no state tensor '%s'", name);
        diag_help(msg, "the model's states are %s", want);
        return NULL;
    }
    if (t->ndim != 3 || t->shape[0] != L->ncells || t->shape[1] != B || t->shape[2] != w) {
        char got[96] = "[";
        for (int i = 0; i < t->ndim; i++)
            snprintf(got + strlen(got), sizeof got - strlen(got), "%s%lld", i ? ", " : "",
                     (long long)t->shape[i]);
        diag_error_in(d, path, "state tensor '%s' is %s], the model expects [%d, %d, %d] "
                      "([layers * directions, B, width] for B = %d)", name, got, L->ncells, B,
                      w, B);
        return NULL;
    }
    return t;
}

int model_states_from_tensors(const IrModel *m, int B, const CkptTensorList *l, const char *path,
                              float *block, Diag *d)
{
    int64_t base = 0;
    int found = 0;
    for (int i = 0; i < m->nlayers; i++) {
        const IrLayer *L = &m->layers[i];
        for (int s = 0; L->ncells && s < L->cells[0].nstates; s++, found++) {
            const CkptTensor *t = find_state(m, L, s, B, l, path, d);
            if (!t)
                return -1;
            copy_state(L, B, s, block, base, t->data, false);
        }
        for (int k = 0; k < L->ncells; k++)
            base += cell_floats(&L->cells[k], B);
    }
    if (l->n == found)
        return 0;
    for (int j = 0; j < l->n; j++) { /* the first tensor that names no state */
        bool known = false;
        for (int i = 0; i < m->nlayers && !known; i++)
            for (int s = 0; m->layers[i].ncells && s < m->layers[i].cells[0].nstates; s++) {
                char name[256];
                model_state_name(&m->layers[i], s, NULL, name, sizeof name);
                known = known || strcmp(name, l->items[j].name) == 0;
            }
        if (!known) {
            char want[1024];
            expected_list(m, B, want, sizeof want);
            DiagMessage *msg = diag_error_in(d, path, "tensor '%s' is not a state of the model",
                                             l->items[j].name);
            diag_help(msg, "the model's states are %s", want);
            return -1;
        }
    }
    return 0;
}

int model_states_read(const IrModel *m, int B, const char *path, float *block, Diag *d)
{
    CkptTensorList l = {0};
    int rc = safetensors_read(path, &l, NULL, d);
    if (!rc)
        rc = model_states_from_tensors(m, B, &l, path, block, d);
    ckpt_tensors_free(&l);
    return rc;
}

int model_states_write(const IrModel *m, int B, const float *block, const char *path, Diag *d)
{
    CkptTensorList l = {0};
    int rc = model_states_to_tensors(m, B, block, NULL, &l, d);
    if (!rc)
        rc = safetensors_write(path, &l, NULL, d);
    ckpt_tensors_free(&l);
    return rc;
}

void model_states_flat(const IrModel *m, int B, float *block, float *flat, bool to_flat)
{
    int64_t base = 0, at = 0;
    for (int i = 0; i < m->nlayers; i++) {
        const IrLayer *L = &m->layers[i];
        for (int s = 0; L->ncells && s < L->cells[0].nstates; s++) {
            int64_t n = (int64_t)L->ncells * B * L->cells[0].states[s].width;
            float *t = flat + at;
            copy_state(L, B, s, block, base, t, to_flat);
            at += n;
        }
        for (int k = 0; k < L->ncells; k++)
            base += cell_floats(&L->cells[k], B);
    }
}
