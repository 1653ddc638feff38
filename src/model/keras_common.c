/* keras_common: the slots of a recur model and the layout helpers both directions of the Keras
 * mapping use (see keras_int.h). */
#include "model/keras_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const keras_kind_class[] = { "?", "Embedding", "Dense", "SimpleRNN", "LSTM",
                                          "GRU" };

/* The Keras kind of a recurrent layer's prelude cell (by the cell's name, which sema picks
 * from the layer's options), with its activations. */
static void recurrent_kind(const IrLayer *L, KSlot *s)
{
    const char *c = L->cells[0].name;
    s->hard = strstr(c, "_hs") != NULL;
    if (strcmp(c, "rnn") == 0 || strcmp(c, "rnn_relu") == 0) {
        s->kind = KK_SIMPLERNN;
        s->relu = c[3] == '_';
    } else if (strcmp(c, "lstm") == 0 || strcmp(c, "lstm_hs") == 0) {
        s->kind = KK_LSTM;
    } else if (strncmp(c, "gru", 3) == 0 && (!c[3] || strcmp(c + 3, "_hs") == 0 ||
                                            strcmp(c + 3, "_rb") == 0 ||
                                            strcmp(c + 3, "_rb_hs") == 0)) {
        s->kind = KK_GRU;
        s->reset_after = strstr(c, "_rb") == NULL;
    } else {
        s->kind = KK_NONE;
        s->why = "a user cell, which has no Keras layer";
    }
    if (s->kind != KK_NONE && L->cells[0].reverse && !L->bidirectional) {
        s->kind = KK_NONE;
        s->why = "a reversed recurrent layer (Keras's go_backwards=True is not supported)";
    }
}

/* How many slots layer L makes: one per level of a recurrent layer, else one. */
static int levels_of(const IrLayer *L)
{
    const IrLayerFacts *f = ir_layer_kind_facts(L->kind);
    return f && f->cells ? L->num_layers : 1;
}

/* The Keras kind of a layer with weights, from the layer-kind facts and its tensor roles
 * (no kind constants: ir.h's table says what a layer is): recurrent cells; an embedding reads
 * tokens; a dense layer has a 2-D weight and a bias. */
static void layer_kind(const IrModel *ir, const IrLayer *L, KSlot *t)
{
    const IrLayerFacts *f = ir_layer_kind_facts(L->kind);
    int w = L->tensor[IR_ROLE_WEIGHT], b = L->tensor[IR_ROLE_BIAS];
    if (f && f->cells)
        recurrent_kind(L, t);
    else if (f && f->reads_tokens && w != IR_NO_TENSOR)
        t->kind = KK_EMBEDDING;
    else if (w != IR_NO_TENSOR && b != IR_NO_TENSOR && ir->tensors[w].ndim == 2)
        t->kind = KK_DENSE;
    else
        t->why = "a layer kind with no Keras counterpart here";
}

/* See keras_int.h. */
int keras_slots(const IrModel *ir, KSlot **out, int *n)
{
    int cap = 0;
    for (int i = 0; i < ir->nlayers; i++)
        cap += levels_of(&ir->layers[i]);
    KSlot *s = calloc((size_t)cap + 1, sizeof *s);
    if (!s)
        return -1;
    int k = 0;
    for (int i = 0; i < ir->nlayers; i++) {
        const IrLayer *L = &ir->layers[i];
        if (L->ntensors == 0)
            continue;
        for (int lv = 0; lv < levels_of(L); lv++) {
            KSlot *t = &s[k++];
            t->layer = i;
            t->level = lv;
            layer_kind(ir, L, t);
        }
    }
    *out = s;
    *n = k;
    return 0;
}

/* See keras_int.h. */
const char *keras_slot_name(const IrModel *ir, const KSlot *s, char *buf, size_t n)
{
    const IrLayer *L = &ir->layers[s->layer];
    if (levels_of(L) > 1)
        snprintf(buf, n, "%s.l%d", L->label, s->level);
    else
        snprintf(buf, n, "%s", L->label);
    return buf;
}

/* See keras_int.h. */
const IrTensor *keras_cell_tensor(const IrModel *ir, const KSlot *s, int dir, const char *param)
{
    const IrLayer *L = &ir->layers[s->layer];
    const IrCell *c = &L->cells[s->level * (L->bidirectional ? 2 : 1) + dir];
    for (int i = 0; i < c->nparams; i++)
        if (strcmp(c->params[i].name, param) == 0 && c->params[i].tensor >= 0)
            return &ir->tensors[c->params[i].tensor];
    return NULL;
}

/* See keras_int.h. */
int keras_gates(KerasKind k)
{
    return k == KK_SIMPLERNN ? 1 : k == KK_LSTM ? 4 : k == KK_GRU ? 3 : 0;
}

/* See keras_int.h. */
void keras_transpose(const float *src, int rows, int cols, float *dst)
{
    for (int r = 0; r < rows; r++)
        for (int c = 0; c < cols; c++)
            dst[(size_t)c * rows + r] = src[(size_t)r * cols + c];
}

/* See keras_int.h. */
void keras_gru_swap(float *data, int rows, int width)
{
    size_t block = (size_t)(rows / 3) * width;
    for (size_t i = 0; i < block; i++) {
        float t = data[i];
        data[i] = data[block + i];
        data[block + i] = t;
    }
}
