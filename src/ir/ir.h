/* ir: what runs. A model graph of layers over sequences, and for every recurrent layer a cell
 * graph of per-step ops from the op table in ops.def. Built by sema (src/lang/sema.c) from the
 * AST plus the prelude; read by the executor (src/exec), --explain, graph (DOT) and the trainer.
 *
 * Everything in an IrModel has concrete integer sizes. When vocab or classes was unbound
 * (IrModel.vocab_auto/classes_auto: sema used a placeholder value), every size also carries its
 * IrSym, the same size as an affine form of the unbound names, so --explain can print it
 * symbolically from this one model (see IrSym below).
 *
 * Ownership: an IrModel owns all of its layers, cells, tensors, settings and strings (allocated
 * in its arena); ir_model_free releases everything. */
#ifndef RECUR_IR_H
#define RECUR_IR_H

#include <stdbool.h>
#include <stdint.h>

#include "ir/schema.h"
#include "util/diag.h"
#include "util/arena.h"

/* ---- symbolic sizes ---------------------------------------------------------------------- */

/* A size as an affine form of the sizes the data decides: c + v*vocab + k*classes. Set by sema
 * beside every integer size it stores (layer widths and vocab, cell input, state, param and node
 * shapes, tensor shapes); v and k are 0 unless that name was unbound (a placeholder stood in).
 * Invariant: the form evaluated at the compile's values (ir_sym_at with IrModel.vocab/classes)
 * is the integer size beside it. When a size is not affine in the unbound names (vocab*vocab,
 * vocab/3, a count such as `repeat vocab`, or a check that held only at the placeholder), sema
 * stores the integer as a constant form and clears IrModel.sym_exact. */
typedef struct IrSym {
    int64_t c, v, k;
} IrSym;

/* The constant form n. */
static inline IrSym ir_sym_const(int64_t n) { return (IrSym){ n, 0, 0 }; }
/* a + b. */
static inline IrSym ir_sym_add(IrSym a, IrSym b)
{
    return (IrSym){ a.c + b.c, a.v + b.v, a.k + b.k };
}
/* n * a. */
static inline IrSym ir_sym_scale(IrSym a, int64_t n)
{
    return (IrSym){ n * a.c, n * a.v, n * a.k };
}
/* Whether a and b are the same form. */
static inline bool ir_sym_equal(IrSym a, IrSym b)
{
    return a.c == b.c && a.v == b.v && a.k == b.k;
}
/* The value of a at vocab and classes. */
static inline int64_t ir_sym_at(IrSym a, int64_t vocab, int64_t classes)
{
    return a.c + a.v * vocab + a.k * classes;
}

/* ---- cell graphs ------------------------------------------------------------------------ */

typedef enum IrOpKind {
#define IR_OP(name, spelling, arity, shape, call, fwd, bwd, onnx) IR_OP_##name,
#include "ir/ops.def"
#undef IR_OP
    IR_OP_COUNT
} IrOpKind;

/* The shape rule of an op (ops.def's SHAPE column; see there). */
typedef enum IrOpShape {
    IR_SHAPE_LEAF, IR_SHAPE_MATVEC, IR_SHAPE_UNARY, IR_SHAPE_BINARY, IR_SHAPE_BOUNDED,
    IR_SHAPE_CONCAT, IR_SHAPE_SLICE
} IrOpShape;

/* Per op, indexed by IrOpKind (static tables; nothing to free): its spelling, its arity (-1:
 * n-ary), its shape rule, and whether the cell language calls it by name as a function. */
extern const char *const ir_op_spelling[IR_OP_COUNT];
extern const int ir_op_arity[IR_OP_COUNT];
extern const IrOpShape ir_op_shape[IR_OP_COUNT];
extern const bool ir_op_is_function[IR_OP_COUNT];

/* The constant parameters of a BOUNDED op (indexed by IrOpKind; zero for other ops): the call
 * as messages show it ("leakyrelu(x, alpha)"), how many arguments a call must give (x and the
 * parameters without a default; 0 for other ops) and the defaults of the rest, dflt[k - 1]
 * for argument k (ONNX's; the values are the OP_* constants of op_math.h). */
typedef struct IrOpParams {
    const char *signature;
    int min_args;
    double dflt[2];
} IrOpParams;
extern const IrOpParams ir_op_params[IR_OP_COUNT];

/* How a trained tensor starts (LANGUAGE.md section 4). */
typedef enum IrInitKind {
    IR_INIT_UNIFORM,    /* uniform(a, b) */
    IR_INIT_NORMAL,     /* normal(std = a), mean 0 */
    IR_INIT_ORTHOGONAL, /* orthogonal (gain a, default 1) */
    IR_INIT_CONST       /* every element = a */
} IrInitKind;

typedef struct IrInit {
    IrInitKind kind;
    double a, b;
} IrInit;

/* One value computed per step and per example. Nodes are in topological order: every input
 * index is smaller than the node's own index. */
typedef struct IrNode {
    IrOpKind op;
    int *in;            /* input node indices (nin of them) */
    int nin;
    int rows;           /* PARAM matrices: rows; 0 for every vector-valued node */
    int width;          /* vector width per example (columns for a PARAM matrix); 1 if scalar */
    IrSym rows_sym, width_sym;  /* rows and width as forms of vocab/classes */
    bool scalar;        /* a broadcastable scalar (CONST, or ops on scalars only) */
    bool uses_state;    /* depends (transitively) on a STATE node; false means it can be
                           computed for the whole window at once (hoisting) */
    int aux;            /* STATE: state index; PARAM: cell param index; SLICE: offset */
    double value;       /* CONST */
    const char *name;   /* the user's name for this value, when it has one (for DOT, errors) */
    SrcRange loc;
} IrNode;

typedef struct IrState {
    const char *name;
    int width;
    IrSym width_sym;
    int next;           /* node computing this step's value (written back as state at t) */
} IrState;

typedef struct IrParam {
    const char *name;   /* as in the cell: "weight_ih", "W", ... */
    int rows, cols;     /* rows == 0: a vector of cols elements */
    IrSym rows_sym, cols_sym;
    IrInit init;
    int tensor;         /* index into IrModel.tensors */
} IrParam;

/* One cell instance: a cell definition specialised to its input width and size parameters,
 * for one stacked layer and one direction. */
typedef struct IrCell {
    const char *name;   /* the cell's definition name: "lstm", "peephole", ... */
    int input_width;
    IrSym input_width_sym;
    IrState *states;
    int nstates;
    IrParam *params;
    int nparams;
    IrNode *nodes;
    int nnodes;
    int output;         /* node index of the cell's output */
    bool reverse;       /* runs from the last step to the first */
} IrCell;

/* ---- model graphs ----------------------------------------------------------------------- */

/* What --explain prints after a layer's spelling (the one IrLayer field that describes it). */
typedef enum IrLayerShow {
    IR_SHOW_NONE,       /* the spelling alone */
    IR_SHOW_CELL,       /* the cell's name, layers=N, bidirectional or reverse */
    IR_SHOW_ACT,        /* the activation */
    IR_SHOW_POOL,       /* the pooling mode */
    IR_SHOW_P           /* the dropout probability */
} IrLayerShow;

/* Every layer kind, one row each: its constant, its spelling, and the static facts that sema,
 * the executor, --explain and the graph writer read instead of switching on the kind:
 *   input   the model's first layer, filled from the window's data
 *   gives   its output is token ids [T][B] (IrLayer.tokens)
 *   reads   it reads token ids (from the token input) rather than vectors
 *   keeps   its output keeps the input's sequence axis (false: pool, [T][B][n] -> [B][n])
 *   cells   it runs recurrent cells (IrLayer.cells)
 *   probs   its output is a probability distribution per row: cross-entropy is taken on its
 *           input's logits instead (fused log-softmax), and sampling draws from it directly
 *   show    what --explain prints after the spelling
 * Adding a kind: a row here; its call(s) and semantic check in src/lang/sema_model_kinds.c;
 * its executor hooks in src/exec/layer_<kind>.c, declared in layer_kinds.h and put in the
 * table of exec_layers.c. */
#define IR_LAYER_KINDS(X) \
    /* NAME         spelling        input  gives  reads  keeps  cells  probs  show */          \
    X(INPUT_TOKENS, "input tokens", true,  true,  false, true,  false, false, IR_SHOW_NONE)  \
    X(INPUT_VECTOR, "input vector", true,  false, false, true,  false, false, IR_SHOW_NONE)  \
    X(EMBEDDING,    "embedding",    false, false, true,  true,  false, false, IR_SHOW_NONE)  \
    X(ONEHOT,       "onehot",       false, false, true,  true,  false, false, IR_SHOW_NONE)  \
    X(RECURRENT,    "recurrent",    false, false, false, true,  true,  false, IR_SHOW_CELL)  \
    X(DENSE,        "dense",        false, false, false, true,  false, false, IR_SHOW_ACT)   \
    X(DROPOUT,      "dropout",      false, false, false, true,  false, false, IR_SHOW_P)     \
    X(LAYERNORM,    "layernorm",    false, false, false, true,  false, false, IR_SHOW_NONE)  \
    X(POOL,         "pool",         false, false, false, false, false, false, IR_SHOW_POOL)  \
    X(CONCAT,       "concat",       false, false, false, true,  false, false, IR_SHOW_NONE)  \
    X(ADD,          "add",          false, false, false, true,  false, false, IR_SHOW_NONE)  \
    X(SOFTMAX,      "softmax",      false, false, false, true,  false, true,  IR_SHOW_NONE)

typedef enum IrLayerKind {
#define X(name, spelling, input, gives, reads, keeps, cells, probs, show) IR_LAYER_##name,
    IR_LAYER_KINDS(X)
#undef X
    IR_LAYER_COUNT
} IrLayerKind;

/* The static facts of one layer kind (the columns of IR_LAYER_KINDS). */
typedef struct IrLayerFacts {
    const char *spelling;
    bool input, gives_tokens, reads_tokens, keeps_sequence, cells, probs;
    IrLayerShow show;
} IrLayerFacts;

/* Indexed by IrLayerKind. */
extern const IrLayerFacts ir_layer_facts[IR_LAYER_COUNT];

/* The facts of kind k; NULL for a value outside the enum (a malformed hand-built model). */
static inline const IrLayerFacts *ir_layer_kind_facts(IrLayerKind k)
{
    return (unsigned)k < IR_LAYER_COUNT ? &ir_layer_facts[k] : NULL;
}

/* The roles of a layer's trained tensors (IrLayer.tensor): embedding: weight [V][E]; dense:
 * weight [N][in], bias [N]; layernorm: weight, bias [n]. Recurrent layers bind their tensors
 * through their cells' params (IrParam.tensor) instead. */
#define IR_TENSOR_ROLES(X) \
    X(WEIGHT, "weight")        \
    X(BIAS,   "bias")

typedef enum IrTensorRole {
#define X(name, spelling) IR_ROLE_##name,
    IR_TENSOR_ROLES(X)
#undef X
    IR_ROLE_COUNT
} IrTensorRole;
enum { IR_NO_TENSOR = -1 };

/* The suffix of a role's tensor name ("dense1.weight"), indexed by IrTensorRole. */
extern const char *const ir_role_spelling[IR_ROLE_COUNT];

/* Which fused kernel may run a recurrent layer (IR_CELL_USER: only the cell interpreter). The
 * executor's table of fused cells (src/exec/exec_fused.c) has one row per value. */
typedef enum IrBuiltin { IR_CELL_USER, IR_CELL_RNN_TANH, IR_CELL_RNN_RELU, IR_CELL_LSTM,
                         IR_CELL_GRU, IR_CELL_COUNT } IrBuiltin;
typedef enum IrActivation { IR_ACT_NONE, IR_ACT_TANH, IR_ACT_RELU, IR_ACT_SIGMOID } IrActivation;
typedef enum IrPool { IR_POOL_LAST, IR_POOL_MEAN, IR_POOL_MAX } IrPool;

/* A trained tensor, named as LANGUAGE.md section 6 ("lstm1.weight_ih_l0"). */
/* The largest tensor recur stores: one checkpoint field (src/io/checkpoint.c has the same 2 GiB),
 * and the bytes training keeps per parameter (weight, gradient, two Adam moments). Sema refuses
 * a model over either (with this machine's memory) before anything is allocated. */
#define IR_MAX_TENSOR_BYTES ((int64_t)1 << 31)
#define IR_TRAIN_BYTES_PER_PARAM 16

typedef struct IrTensor {
    const char *name;
    int ndim;           /* 1 or 2 */
    int shape[2];
    IrSym shape_sym[2]; /* shape as forms of vocab/classes */
    int64_t size;       /* number of elements */
    IrInit init;
    int layer;          /* owning layer index */
} IrTensor;

typedef struct IrLayer {
    IrLayerKind kind;
    const char *label;  /* given label, or the automatic <kind><n> name */
    SrcRange loc;
    int *inputs;        /* indices of earlier layers feeding this one */
    int ninputs;
    int width;          /* output features per step (per sequence when !sequence) */
    bool sequence;      /* output is [T][B][width]; false after pool: [B][width] */
    bool tokens;        /* output is token ids [T][B] (input tokens only) */
    int size;           /* embedding E, dense N, recurrent H, input vector N */
    int vocab;          /* tokens input, embedding and onehot: the vocabulary size */
    IrSym width_sym, vocab_sym;     /* width and vocab as forms of vocab/classes */
    double p;           /* dropout layer: p; recurrent: dropout between stacked layers */
    IrActivation act;   /* dense activation */
    IrPool pool;
    /* recurrent layers */
    IrBuiltin builtin;
    int num_layers;
    bool bidirectional;
    IrCell *cells;      /* num_layers * (bidirectional ? 2 : 1) cells, ordered l0, l0_reverse,
                           l1, l1_reverse, ... ; reverse cells have cell.reverse set */
    int ncells;
    /* trained tensors of this layer: tensors[first_tensor .. first_tensor + ntensors) */
    int first_tensor, ntensors;
    int tensor[IR_ROLE_COUNT];  /* by IrTensorRole: index into IrModel.tensors, or IR_NO_TENSOR */
} IrLayer;

/* A value of a data/train setting as written, validated by sema against the schema of
 * ir/schema.h (its typed form is IrModel.config). */
typedef enum IrValueKind { IR_VAL_NUM, IR_VAL_STR, IR_VAL_IDENT, IR_VAL_CALL } IrValueKind;

typedef struct IrArg IrArg;
typedef struct IrValue {
    IrValueKind kind;
    double num;         /* IR_VAL_NUM */
    const char *str;    /* IR_VAL_STR text, IR_VAL_IDENT name (true/false/full/char...),
                           IR_VAL_CALL callee */
    IrArg *args;        /* IR_VAL_CALL arguments */
    int nargs;
    SrcRange loc;
} IrValue;

struct IrArg {
    const char *name;   /* NULL for a positional argument */
    SrcRange name_loc;  /* where the name is written (no source: not written, or from --set) */
    IrValue value;
};

typedef struct IrSetting {
    const char *name;
    IrValue value;
    SrcRange loc;
} IrSetting;

typedef struct IrModel {
    Arena arena;        /* owns everything below */
    const char *name;   /* model name */
    const Source *source;   /* the .rnn text it came from (owned by the Diag that loaded it) */
    IrLayer *layers;    /* in execution order; layers[0] is the input */
    int nlayers;
    int output;         /* index of the output layer (the last statement) */
    IrTensor *tensors;  /* every trained tensor, in layer order */
    int ntensors;
    int64_t nparams;    /* total elements over all tensors */
    int vocab;          /* resolved vocab, or -1 when the model does not use it */
    int classes;        /* resolved classes, or -1 when the model does not use it */
    bool vocab_auto;    /* vocab was unbound: `vocab` is a placeholder and the IrSyms use it */
    bool classes_auto;  /* the same for classes */
    bool sym_exact;     /* every IrSym is exact for any vocab/classes (see IrSym) */
    IrSetting *data;    /* the data block's settings, in source order */
    int ndata;
    IrSetting *train;   /* the train block's settings, in source order */
    int ntrain;
    IrConfig config;    /* the same settings (with --set) as typed values, defaults filled in:
                           what src/train uses (ir/schema.h) */
} IrModel;

void ir_model_free(IrModel *m);
/* Finds a setting by name in the data or train list; NULL when absent. */
const IrSetting *ir_find_setting(const IrSetting *s, int n, const char *name);
/* Finds a tensor by name; -1 when absent. */
int ir_find_tensor(const IrModel *m, const char *name);

#endif
