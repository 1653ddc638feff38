/* sema_model_int: what the parts of the model pass share (sema_model.c: statements;
 * sema_model_layer.c: labels, layers, tensors and call arguments; sema_model_rnn.c: recurrent
 * layers). Internal to src/lang/sema_model*.c.
 *
 * Ownership: as sema_int.h -- layers, labels and tensors live in the model's arena, Args and
 * Scope on the caller's stack. */
#ifndef RECUR_SEMA_MODEL_INT_H
#define RECUR_SEMA_MODEL_INT_H

#include <stdbool.h>

#include "lang/sema_int.h"

/* Labels inside `repeat` get a suffix per iteration ("_1", "_2"; nested: "_1_2"). */
typedef struct Scope {
    char suffix[64];
    const struct Scope *up;
} Scope;

/* The arguments of one layer call, split into positional values and named ones. */
typedef struct Args {
    const AstNode *pos[16];
    int npos;
    const AstNode *named[16];   /* AST_NAMED_ARG */
    int nnamed;
} Args;

enum { POISON = -1 };   /* width of a layer that failed: later checks on it are skipped */

/* Layer i of the model being built. */
static inline IrLayer *L(Sema *s, int i) { return &s->m->layers[i]; }

/* --- sema_model_layer.c --- */
/* "embedding1 at 9:3" -- where a layer's output comes from, for messages. */
const char *sema_layer_desc(Sema *s, int i);
/* A label as written, looked up from the innermost repeat scope outwards, for layer self
 * (which cannot read itself). */
int sema_resolve_label(Sema *s, const AstNode *id, const Scope *sc, int self);
/* Appends a layer named by its label (with the repeat suffix) or automatically after kind. */
int sema_new_layer(Sema *s, IrLayerKind kind, const char *autokind, const AstNode *st,
                   const Scope *sc);
/* Sets the inputs of layer k. */
int sema_set_inputs(Sema *s, int k, const int *in, int n);
/* Appends a trained tensor of layer k: [rows, cols], or [cols] when rows == 0. */
int sema_add_tensor(Sema *s, int k, const char *name, int rows, int cols, IrInit init);
/* Appends layer k's tensor of this role, named "<label>.<role>" ("dense1.weight"). */
int sema_add_role_tensor(Sema *s, int k, IrTensorRole role, int rows, int cols, IrInit init);
/* Splits a call's arguments and checks named ones against the valid options. */
int sema_split_args(Sema *s, const AstNode *call, const char *kind, const char *const *valid,
                    int nvalid, int maxpos, Args *a);
/* The value of option `name` (or of positional argument index pos when >= 0), or NULL. */
const AstNode *sema_arg(const Args *a, int pos, const char *name);
/* true/false. */
int sema_arg_bool(Sema *s, const AstNode *v, const char *what, bool *out);
/* One word of a fixed list (activation=relu, pool(mean)); index into words. */
int sema_arg_word(Sema *s, const AstNode *v, const char *what, const char *const *words,
                  int n, int *out);
/* dropout-like probabilities: a number in [0, 1). */
int sema_arg_prob(Sema *s, const AstNode *v, const char *what, double *out);
/* Refuses token ids where vectors are needed (help: add embedding or onehot). */
int sema_need_vectors(Sema *s, int k, int in, bool need_seq);

/* --- sema_model_rnn.c --- */
/* Recurrent layers: rnn/lstm/gru (prelude cells, PyTorch names) or a user cell. */
void sema_recurrent(Sema *s, int k, const AstNode *call, SemaCellDef *def, const Args *a,
                    int in, bool builtin);

#endif
