/* sema_int: the context shared by the parts of semantic analysis. Internal to src/lang/sema*.c.
 * The parts, from the top down (each calls only the ones below it, never back up):
 *   sema.c           the driver: parses, collects top-level items, runs the passes
 *   sema_model*.c    the model block: layers, widths, tensors (sema_model_int.h)
 *   sema_settings.c  data/train blocks and --set
 *   sema_cell*.c     cell instances (sema_cell_int.h)
 *   sema_size.c      size expressions, consts, vocab/classes
 *   sema_util.c      memory, message text and name tables shared by all of them
 *
 * Ownership: everything reachable from a Sema lives in Sema.tmp (scratch, freed when the
 * compile ends) or in Sema.m->arena (the IrModel being built). */
#ifndef RECUR_SEMA_INT_H
#define RECUR_SEMA_INT_H

#include <stdbool.h>
#include <stddef.h>

#include "ir/ir.h"
#include "lang/ast.h"
#include "util/diag.h"
#include "lang/sema.h"

enum { SEMA_MAX_ENV = 32, SEMA_MAX_REPEAT = 1000, SEMA_MAX_LAYERS = 10000,
       SEMA_MAX_CELLS = 20000, SEMA_MAX_SIZE = 1 << 28, SEMA_MAX_NAME = 200,
       SEMA_DEFAULT_PLACEHOLDER = 1000 /* vocab/classes under allow_auto, unless given */ };

/* Where the lazy evaluation of a const stands (EVALUATING on entry detects a definition in
 * terms of itself). */
typedef enum SemaConstState {
    SEMA_CONST_PENDING,     /* not evaluated yet */
    SEMA_CONST_EVALUATING,  /* its expression is being evaluated */
    SEMA_CONST_DONE,        /* value holds it (evaluated, or given by --set) */
    SEMA_CONST_FAILED       /* evaluation failed (reported once) */
} SemaConstState;

/* A number of a size expression: its value (vocab/classes at their bound or placeholder
 * values) and the same number as the affine form c + v*vocab + k*classes of the unbound ones
 * (IrSym, in doubles while it is computed: vocab/2*2 is still vocab), unless affine is false
 * (a product or quotient of unbound sizes, a function of one). */
typedef struct SemaNum {
    double value;
    double c, v, k;
    bool affine;
} SemaNum;

/* A `const NAME = expr`, evaluated lazily (it may use vocab, bound by the model input). */
typedef struct SemaConst {
    const char *name;
    const AstNode *decl;    /* AST_CONST, or NULL when it came from --set only */
    SemaConstState state;
    SemaNum value;
    bool prelude;           /* defined by the prelude (never warned about) */
    bool used;              /* some expression read it */
} SemaConst;

/* A cell definition (from the prelude or the user's file). */
typedef struct SemaCellDef {
    const char *name;
    const AstNode *def;     /* AST_CELL */
    bool prelude;
    bool failed;            /* an instance failed: later instances fail silently */
    bool warned;            /* unused-name warnings were given for the first instance */
} SemaCellDef;

/* A name bound to a number while evaluating sizes (cell parameters, a cell's input width). */
typedef struct SemaBinding {
    const char *name;
    double value;
    IrSym sym;              /* value as a form of the unbound vocab/classes */
} SemaBinding;

typedef struct SemaEnv {
    SemaBinding b[SEMA_MAX_ENV];
    int n;
} SemaEnv;

/* A --set NAME=VALUE override, parsed. */
typedef struct SemaSet {
    const char *text;       /* the whole "NAME=VALUE" as given */
    const char *name;
    IrValue value;
    bool used;
} SemaSet;

typedef struct Sema {
    Diag *d;
    Arena tmp;              /* scratch: ASTs, tables */
    IrModel *m;             /* the model being built */
    const Source *src;
    SemaConst *consts;
    int nconsts, consts_cap;
    SemaCellDef *cells;
    int ncells, cells_cap;
    SemaSet *sets;
    int nsets;
    /* vocab / classes */
    bool vocab_bound, classes_bound;
    int vocab, classes;
    bool vocab_used, classes_used;
    bool vocab_reported, classes_reported;
    bool vocab_input_failed;    /* the model input's vocab= expression was rejected */
    SemaOptions *opts;
    /* layer automatic names: counters by kind name */
    const char **kind_names;
    int *kind_counts;
    int nkinds, kinds_cap;
    int layers_cap, tensors_cap;
    int ncell_instances;        /* over the whole model, against SEMA_MAX_CELLS */
} Sema;

/* --- sema_size.c --- */
/* Evaluates a number: numbers, consts, vocab/classes, env bindings, + - * / and unary minus,
 * and the unary functions of ops.def (sqrt, exp, ...) with their op_math.h formulas; *out
 * has the value and its form in the unbound sizes. Reports and returns -1 on an unknown name. */
int sema_eval_num(Sema *s, const AstNode *e, const SemaEnv *env, SemaNum *out);
/* sema_eval_num for a number whose value the IR keeps as given (a probability, a setting):
 * one that depends on an unbound size makes the model's sizes inexact (IrModel.sym_exact). */
int sema_eval(Sema *s, const AstNode *e, const SemaEnv *env, double *out);
/* Evaluates an integer size (> 0 unless allow_zero); what names it in messages ("hidden
 * size of lstm"). With sym, *sym is its form (sema_num_sym); without, it is a count (repeat,
 * layers=, chunk parts): one that depends on an unbound size makes the sizes inexact. Returns
 * -1 after reporting. */
int sema_eval_size(Sema *s, const AstNode *e, const SemaEnv *env, const char *what,
                   bool allow_zero, int *out, IrSym *sym);
/* vocab (classes false) or classes: bound value (a constant), placeholder (allow_auto: the
 * form `vocab`) or an error at `at` saying how to bind it (once). Marks it used. */
int sema_auto_size(Sema *s, bool classes, SrcRange at, SemaNum *out);
/* The integer size n's form from a number: its affine form when that has integer
 * coefficients, else the constant n with the model's sizes marked inexact. */
IrSym sema_num_sym(Sema *s, const SemaNum *x, int n);
/* The value of a form at the compile's vocab/classes (bound or placeholder). */
int sema_sym_int(const Sema *s, IrSym a);
/* a / d for an integer size a divisible by d (chunk): exact when every coefficient is; else
 * the constant quotient, with the sizes marked inexact. */
IrSym sema_sym_div(Sema *s, IrSym a, int d);
/* Notes a size check that held on the values (equal widths): when the forms differ it held
 * only at the placeholders, so the model's sizes are marked inexact. */
void sema_sym_same(Sema *s, IrSym a, IrSym b);
/* Marks the model's sizes inexact (IrModel.sym_exact). */
void sema_sym_inexact(Sema *s);
/* Whether a number may call the function name (sqrt, exp, ...: the unary functions of ops.def). */
bool sema_is_num_function(const char *name);

/* --- sema_util.c --- */
/* diag_suggest without guesses for names of one or two letters. */
const char *sema_suggest(const char *name, const char *const *cand, int n);
/* Finds a cell definition by name; NULL when absent. */
SemaCellDef *sema_find_cell(Sema *s, const char *name);
/* Finds a const by name; NULL when absent. */
SemaConst *sema_find_const(Sema *s, const char *name);
/* Growable array in the model arena: makes room for one more element of size elem. */
void *sema_grow(Sema *s, void *arr, int n, int *cap, size_t elem);
/* A copy of str in the model arena (NULL on OOM, reported). */
char *sema_strdup(Sema *s, const char *str);
/* printf into the model arena. */
char *sema_fmt(Sema *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Reports out of memory. */
void sema_oom(Sema *s);
/* What the overrides are called in messages: "--set" (the CLI), or "override" (the C API:
 * SemaOptions.api_overrides). */
const char *sema_set_what(const Sema *s);
/* The range's source text if it is short and on one line, else NULL (into buf). */
const char *sema_snippet(SrcRange r, char *buf, size_t n);
/* Comma-separated list of names into buf ("a, b, c"). */
const char *sema_join(const char *const *names, int n, char *buf, size_t cap);

/* --- sema_cell.c --- */
/* Instantiates cell definition def with its size parameters bound in env (positional ones
 * already resolved by the caller), for inputs of width in_width (a form; its value at the
 * compile's sizes) coming from `from` (a description such as "embedding1 at 9:3"). use is the
 * layer statement (for notes). Fills *out (nodes, states, params in the model arena). Returns
 * 0, or -1 after reporting. */
int sema_cell_instance(Sema *s, SemaCellDef *def, const SemaEnv *env, IrSym in_width,
                       const char *from, SrcRange use, IrCell *out);

/* --- sema_model.c --- */
/* Analyses the model block: layers, widths, tensors. Returns 0 or -1. */
int sema_model(Sema *s, const AstNode *model);
/* Binds vocab from the model's `input tokens(vocab=...)` (before anything else). */
void sema_bind_input_vocab(Sema *s, const AstNode *model);

/* --- sema_settings.c --- */
/* Converts and validates a data or train block into IrSettings. block is "data" or "train". */
int sema_settings(Sema *s, const AstNode *blk, bool train);
/* Parses the --set strings into s->sets (errors for malformed ones). */
int sema_parse_sets(Sema *s, const char *const *sets, int nsets);
/* Applies the --set overrides that name data/train settings; reports unknown names. */
int sema_apply_sets(Sema *s);
/* The names a --set may use besides consts, vocab and classes (for did-you-mean). */
int sema_setting_names(const char **out, int cap);

/* --- sema_config.c --- */
/* Fills IrModel.config from the checked settings (after sema_apply_sets). */
void sema_settings_config(Sema *s);

#endif
