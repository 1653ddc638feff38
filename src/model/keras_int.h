/* keras_int: what keras_in.c (Keras -> recur) and keras_out.c (recur -> Keras) share: the recur
 * side's "slots" (one per layer with weights, one per level of a stacked recurrent layer), the
 * Keras class each slot corresponds to, and the layout helpers (transpose, GRU gate reorder).
 * Private to src/model. keras_slots' array is malloc'ed (caller frees); everything else borrows
 * from the IrModel. */
#ifndef RECUR_MODEL_KERAS_INT_H
#define RECUR_MODEL_KERAS_INT_H

#include <stdbool.h>

#include "ir/ir.h"
#include "util/diag.h"

typedef enum KerasKind {
    KK_NONE, KK_EMBEDDING, KK_DENSE, KK_SIMPLERNN, KK_LSTM, KK_GRU
} KerasKind;

/* Keras class names, indexed by KerasKind. */
extern const char *const keras_kind_class[];

/* One recur unit of weights that one Keras layer fills. */
typedef struct KSlot {
    int layer;          /* index into IrModel.layers */
    int level;          /* stacked level of a recurrent layer (0 otherwise) */
    KerasKind kind;     /* KK_NONE: no Keras counterpart (why says which) */
    const char *why;
    /* recurrent slots: what the prelude cell computes */
    bool relu;          /* rnn(activation=relu) */
    bool hard;          /* recurrent_activation=hard_sigmoid */
    bool reset_after;   /* gru: true for the reset-after cell */
} KSlot;

/* The slots of ir, in layer order, into *out (malloc'ed; *n of them). -1 when out of memory. */
int keras_slots(const IrModel *ir, KSlot **out, int *n);
/* "lstm1" or "lstm1.l1": how messages and --map name a slot (buf of n bytes). */
const char *keras_slot_name(const IrModel *ir, const KSlot *s, char *buf, size_t n);
/* The tensor of recur cell parameter param ("weight_ih") of slot s in direction dir. */
const IrTensor *keras_cell_tensor(const IrModel *ir, const KSlot *s, int dir,
                                  const char *param);
/* Number of gate blocks of a recurrent kind (1, 4, 3), 0 otherwise. */
int keras_gates(KerasKind k);
/* dst[c][r] = src[r][c]: a [rows, cols] matrix transposed. */
void keras_transpose(const float *src, int rows, int cols, float *dst);
/* Swaps the first two of three gate blocks of rows (each block rows*width/3 floats): Keras's
 * z, r, h <-> recur's r, z, n (its own inverse). */
void keras_gru_swap(float *data, int rows, int width);

#endif
