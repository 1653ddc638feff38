/* schema: the one schema of the `data` and `train` settings (LANGUAGE.md section 7) and the
 * typed configurations made from them.
 *
 * Every data/train setting and every argument of a data source, loss, optimizer and schedule is
 * one row of the tables in schema.c: its name, its type with the accepted range, its positional
 * order (the order of the rows), its default, and where its value lands in the typed structs
 * below. sema (src/lang/sema_settings.c) checks a file's settings and --set values against the
 * tables and fills IrModel.config from them; src/train uses that IrConfig as given. Nothing
 * else spells a setting's name or an argument's position.
 *
 * Ownership: the tables are static. Strings in a config (paths, delimiters) are borrowed: from
 * the IrModel's arena when sema made the config, from the caller when it was built by hand. */
#ifndef RECUR_IR_SCHEMA_H
#define RECUR_IR_SCHEMA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/diag.h"

/* ---- the typed configurations ---------------------------------------------------------- */

/* The generated tasks' default sizes: the schema's defaults, and what data_open uses for a
 * length of 0 in a DataConfig built by hand. */
enum { ADDING_DEFAULT_LENGTH = 50, REBER_DEFAULT_LENGTH = 60, COPY_DEFAULT_LENGTH = 10,
       COPY_DEFAULT_DELAY = 10 };

typedef enum DataKind { DATA_TEXT, DATA_CSV, DATA_ADDING, DATA_REBER, DATA_COPY } DataKind;
typedef enum DataLevel { DATA_CHAR, DATA_BYTE } DataLevel;

/* Where a run's data comes from and how it is batched (meaning of each source: train/data.h). */
typedef struct DataConfig {
    DataKind kind;
    const char *path;       /* text, csv */
    DataLevel level;        /* text: char (default) or byte */
    double valid;           /* text/csv: fraction held out (default 0.05; 0 = none);
                               generated: number of validation sequences (default 1000);
                               -1: the default of the kind (resolved by data_open) */
    int length;             /* adding: T (default 50); reber: max symbols (60); copy: L (10) */
    int delay;              /* copy: D (default 10) */
    bool embedded;          /* reber: embedded grammar (default true) */
    bool csv_values;        /* csv: target=values (regression) instead of label */
    int csv_features;       /* csv: F values per step (default 1; 0 from a csv() without
                               columns: the model's input width) */
    int csv_targets;        /* csv: K target columns for target=values (default 1) */
    int csv_header;         /* csv: -1 auto (default), 0 no header, 1 header */
    char csv_delim;         /* csv: field separator (default ',') */
    const char *valid_path; /* text/csv: a separate validation file of the same kind (NULL:
                               the `valid` fraction of path; ignored with eval_all) */
    int valid_csv_header;   /* csv: the header setting of valid_path (-1 auto, default) */
    bool eval_all;          /* text/csv: the whole file is the validation split (eval) */
    const struct Vocab *vocab; /* text: map with this vocabulary instead of building one (eval,
                               resume); a character outside it is an error naming it */
    int fixed_classes;      /* csv label: a loaded model's classes (0: the data decides);
                               a label outside them is an error naming row and label */
    char *const *class_names; /* csv label: those classes' names in id order (NULL: the
                               labels are class numbers below fixed_classes) */
    int batch;              /* B (default 32) */
    int bptt;               /* text: window length (default 100); others: ignored (whole
                               sequences) */
    uint64_t seed;          /* seeds the data Rng (shuffles, generated tasks) */
} DataConfig;

typedef enum OptimKind { OPTIM_SGD, OPTIM_ADAM, OPTIM_ADAMW, OPTIM_RMSPROP } OptimKind;

/* Optimiser hyper-parameters (update rules: train/optim.h); optim_defaults gives PyTorch's. */
typedef struct OptimConfig {
    OptimKind kind;
    double lr;              /* base learning rate (a schedule scales it per step) */
    double momentum;        /* SGD, RMSprop: mu (default 0) */
    bool nesterov;          /* SGD: Nesterov momentum (needs momentum > 0) */
    double beta1, beta2;    /* Adam/AdamW: 0.9, 0.999 */
    double eps;             /* Adam/AdamW: 1e-8; RMSprop: 1e-8 */
    double alpha;           /* RMSprop smoothing constant: 0.99 */
    double weight_decay;    /* L2 (SGD, Adam, RMSprop: 0) or decoupled (AdamW: 0.01) */
} OptimConfig;

typedef enum SchedKind { SCHED_CONSTANT, SCHED_STEP, SCHED_COSINE } SchedKind;

/* A learning-rate schedule (formulas: optim_schedule_lr in train/optim.h). */
typedef struct ScheduleConfig {
    SchedKind kind;
    int64_t every;      /* step: multiply by factor every `every` steps (default 1000) */
    double factor;      /* step: default 0.1 */
    int64_t warmup;     /* cosine: linear warmup steps (default 0) */
    int64_t total;      /* cosine: total steps of the run (set by the trainer) */
    double min_factor;  /* cosine: floor as a fraction of the base rate (default 0) */
} ScheduleConfig;

typedef enum LossFn { LOSS_CROSS_ENTROPY, LOSS_MSE } LossFn;
/* The target words of cross_entropy(target=...), in the schema's order. */
typedef enum LossTarget { LOSS_TARGET_NEXT_TOKEN, LOSS_TARGET_LABEL } LossTarget;

typedef struct LossConfig {
    LossFn kind;
    int target;         /* index of the target word: LossTarget for cross_entropy */
} LossConfig;

/* The settings, one enumerator each, in the order of the schema (and of every list of them in
 * messages): name and whether it belongs to the train block (else the data block). */
#define CFG_SETTINGS(X) \
    X(SOURCE, "source", false) \
    X(VALID, "valid", false) \
    X(LOSS, "loss", true) \
    X(OPTIMIZER, "optimizer", true) \
    X(SCHEDULE, "schedule", true) \
    X(CLIP, "clip", true) \
    X(BATCH, "batch", true) \
    X(BPTT, "bptt", true) \
    X(STEPS, "steps", true) \
    X(EPOCHS, "epochs", true) \
    X(SEED, "seed", true) \
    X(EVAL_EVERY, "eval_every", true) \
    X(CHECKPOINT_EVERY, "checkpoint_every", true) \
    X(LOG_EVERY, "log_every", true) \
    X(LR, "lr", true) \
    X(PATIENCE, "patience", true) \
    X(MIN_DELTA, "min_delta", true)

typedef enum CfgSettingId {
#define X(id, name, train) CFG_SET_##id,
    CFG_SETTINGS(X)
#undef X
    CFG_NSETTINGS
} CfgSettingId;

/* A csv() argument that sema accepts but the data reader cannot use; reported by src/train
 * when it uses that source (so `recur check` accepts the file, as it always has). In the order
 * they are reported: the first of them wins. */
typedef enum CfgProblemKind {
    CFG_PROBLEM_NONE,
    CFG_PROBLEM_CSV_TARGET,     /* target is not label, values or a number */
    CFG_PROBLEM_CSV_LABEL,      /* label is a number other than 1 */
    CFG_PROBLEM_CSV_DELIMITER   /* delimiter is not one character (or is '"' or a newline) */
} CfgProblemKind;

typedef struct CfgProblem {
    CfgProblemKind kind;
    SrcRange loc;               /* the argument's value */
} CfgProblem;

/* Everything the data and train blocks (and --set) say, as typed values; defaults where a
 * setting is absent. */
typedef struct IrConfig {
    bool given[CFG_NSETTINGS];  /* the setting was written in the file or by --set */
    DataConfig data;            /* source(...), batch, bptt (seed: see `seed`) */
    double valid;               /* valid = FRACTION; -1 when absent or a source */
    bool valid_is_source;       /* valid = text(...) / csv(...): valid_source */
    DataConfig valid_source;    /* the validation source, read like a training source */
    CfgProblem source_problem, valid_problem;   /* of source and of valid's source */
    SrcRange valid_loc;         /* where valid's value is (for later errors) */
    bool bptt_full;             /* bptt = full */
    SrcRange bptt_loc;          /* where bptt's value is */
    LossConfig loss;            /* meaningful when given[CFG_SET_LOSS] */
    OptimConfig optim;          /* default adam() */
    ScheduleConfig sched;       /* default constant */
    double clip;                /* 0: off */
    int64_t steps, epochs, eval_every, checkpoint_every, log_every;
    uint64_t seed;
    double lr;                  /* lr = X: the optimizer's learning rate (when given) */
    int64_t patience;           /* early stopping: evaluations without improvement (0: off) */
    double min_delta;           /* an improvement is a validation loss below best - min_delta */
} IrConfig;

/* ---- the schema ------------------------------------------------------------------------ */

/* What a value may be (the accepted range is part of the type). */
typedef enum CfgType {
    CFG_STRING,     /* a "string" */
    CFG_BOOL,       /* true | false */
    CFG_WORD,       /* one of CfgArg.words ("char|byte") */
    CFG_ANY,        /* anything (its store takes what it understands) */
    CFG_NONNEG,     /* a number >= 0 */
    CFG_POSITIVE,   /* a number > 0 */
    CFG_FRACTION,   /* a number in [0, 1) */
    CFG_COUNT0,     /* an integer >= 0 */
    CFG_COUNT1,     /* an integer >= 1 */
    CFG_CALL,       /* a function of CfgArg.family; a bare word is a call without arguments */
    CFG_VALID,      /* a fraction in [0, 1) (0: no validation), or a data source */
    CFG_BPTT        /* an integer >= 1, or `full` */
} CfgType;

/* How a checked value is stored at CfgArg.offset of the struct it fills. Numeric and boolean
 * stores take a value of their own kind and keep the default otherwise (CFG_ANY arguments). */
typedef enum CfgStore {
    CFG_STORE_NONE,         /* checked only, or stored by its CfgType (CALL, VALID, BPTT) */
    CFG_STORE_DOUBLE,       /* double */
    CFG_STORE_INT,          /* int: (int)number */
    CFG_STORE_INT64,        /* int64_t: (int64_t)number */
    CFG_STORE_UINT64,       /* uint64_t: (uint64_t)(int64_t)number */
    CFG_STORE_BOOL,         /* bool */
    CFG_STORE_TRISTATE,     /* int: 1 true, 0 false; the default when absent (-1: auto) */
    CFG_STORE_STRING,       /* const char * (default NULL) */
    CFG_STORE_WORD,         /* an int-sized enum: the index of the word in CfgArg.words */
    CFG_STORE_CHAR,         /* char: a one-character string (csv delimiter; else a problem) */
    CFG_STORE_CSV_TARGET,   /* csv target = label | values | K: csv_values, csv_targets */
    CFG_STORE_CSV_LABEL     /* csv label = NAME | 1: checked only (the label is the first
                               column; another number is a problem) */
} CfgStore;

typedef struct CfgFamily CfgFamily;

/* One setting or one argument of a function. */
typedef struct CfgArg {
    const char *name;
    CfgType type;
    const char *words;          /* CFG_WORD: the accepted words, '|'-separated */
    CfgStore store;
    size_t offset;              /* in the function's struct; a setting's: in IrConfig */
    double dflt;                /* stored when absent (numbers, bools, words, a char); a
                                   CFG_CALL setting: the function used when absent (-1: none) */
    const CfgFamily *family;    /* CFG_CALL, CFG_VALID */
} CfgArg;

enum { CFG_MAX_ARGS = 6 };

/* A function-like value: sgd(lr, momentum, nesterov), text(path, level), ... */
typedef struct CfgFunction {
    const char *name;
    int kind;                   /* stored in the family's kind field: DATA_TEXT, OPTIM_SGD, ... */
    int required;               /* the first `required` arguments must be given */
    CfgArg args[CFG_MAX_ARGS];  /* in positional order, ended by a NULL name */
} CfgFunction;

/* The functions one setting chooses among, and the struct they fill. */
struct CfgFamily {
    const char *what;           /* in messages: "data source", "loss", "optimizer", ... */
    const CfgFunction *fns;
    int nfns;
    size_t kind_offset;         /* the int-sized kind field of the struct */
    bool inherit_defaults;      /* fields a function does not take start from the first
                                   default the family gives them (optimizers: so that every
                                   OptimConfig, and so every checkpoint, has all of them) */
};

typedef struct CfgSetting {
    bool train;                 /* a train-block setting, else data-block */
    CfgArg arg;
} CfgSetting;

/* The schema: every setting, indexed by CfgSettingId. */
extern const CfgSetting cfg_settings[CFG_NSETTINGS];

/* The defaults of everything: what a file without data and train blocks gets. */
void ir_config_defaults(IrConfig *c);
/* Makes obj (the family's struct) the function fn with all of its defaults. */
void cfg_function_defaults(const CfgFamily *fam, const CfgFunction *fn, void *obj);
/* The number of arguments of fn. */
int cfg_function_nargs(const CfgFunction *fn);

/* The data part of the defaults (kind DATA_ADDING). */
DataConfig data_defaults(void);
/* PyTorch's defaults for optimiser kind k (lr 1e-3 for Adam/AdamW, 1e-2 for SGD and RMSprop). */
OptimConfig optim_defaults(OptimKind k);

#endif
