/* sema_model_int: what the parts of the model pass share (sema_model.c: statements;
 * sema_model_layer.c: labels, layers, tensors and call arguments; sema_model_rnn.c: recurrent
 * layers; sema_model_kinds.c: the table of layer calls and each kind's check). Internal to
 * src/lang/sema_model*.c.
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
enum { SEMA_MAX_JOIN = 64 };    /* inputs of one concat/add */

typedef struct SemaLayerSpec SemaLayerSpec;

/* One layer call being analysed, as its kind's check sees it. */
typedef struct LayerCall {
    const AstNode *call;
    const SemaLayerSpec *spec;
    const Args *a;
    const AstNode *pos;     /* the positional argument (or the option of that name), or NULL */
    int in;                 /* the layer it reads (concat/add: unset, they read labels) */
    SemaCellDef *def;       /* recurrent layers: the cell definition */
    const Scope *sc;
} LayerCall;

/* A kind's semantic check: reads the arguments, checks the input, sets the output width (and
 * the kind's fields) and adds the trained tensors. 0, or -1 after a diagnostic (the layer
 * stays poisoned). */
typedef int (*SemaLayerCheck)(Sema *s, int k, const LayerCall *lc);

/* The most named options a layer row has (gru: layers, dropout, bidirectional, reverse,
 * reset_after, recurrent_activation). */
enum { SEMA_LAYER_OPTS = 6 };

/* One layer call of the language (a row of sema_model_kinds.c's table). */
struct SemaLayerSpec {
    const char *name;           /* as written: "lstm"; NULL for a user cell */
    IrLayerKind kind;
    const char *pos;            /* name of the positional argument, or NULL */
    const char *pos_what, *pos_hint;    /* when it is missing: "dense needs its size: dense(N)" */
    const char *opts[SEMA_LAYER_OPTS]; /* named options (besides from=) */
    bool joins;                 /* concat/add: layer labels as arguments, no from= */
    bool cell;                  /* rnn/lstm/gru: instantiates the prelude cell of this name */
    SemaLayerCheck check;
};

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
/* Sets layer k's width to the size w (its value and its form). */
void sema_set_width(Sema *s, int k, IrSym w);
/* Layer k keeps the width of layer in. */
void sema_keep_width(Sema *s, int k, int in);
/* Appends a trained tensor of layer k: [rows, cols], or [cols] when rows is 0; the sizes are
 * forms (IrSym), their values taken at the compile's vocab/classes. */
int sema_add_tensor(Sema *s, int k, const char *name, IrSym rows, IrSym cols, IrInit init);
/* Appends layer k's tensor of this role, named "<label>.<role>" ("dense1.weight"). */
int sema_add_role_tensor(Sema *s, int k, IrTensorRole role, IrSym rows, IrSym cols,
                         IrInit init);
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

/* --- sema_model_kinds.c --- */
/* The built-in layer call with this name, or NULL. */
const SemaLayerSpec *sema_layer_spec(const char *name);
/* The names of the built-in layer calls into names (at most cap); returns how many. */
int sema_layer_names(const char **names, int cap);
/* The row used for a layer made from a user cell. */
extern const SemaLayerSpec sema_user_cell_spec;

/* --- sema_model_rnn.c --- */
/* Recurrent layers: rnn/lstm/gru (prelude cells, PyTorch names) or a user cell. 0, or -1
 * after a diagnostic. */
int sema_recurrent(Sema *s, int k, const AstNode *call, SemaCellDef *def, const Args *a,
                   int in, bool builtin);

#endif
