/* schema: the schema of every data/train setting and of every source, loss, optimizer and
 * schedule argument (schema.h), and the defaults it gives. Adding a setting or an argument is
 * one row here (and its field in schema.h). */
#include "ir/schema.h"

#include <string.h>

#define D(field) offsetof(DataConfig, field)
#define L(field) offsetof(LossConfig, field)
#define O(field) offsetof(OptimConfig, field)
#define S(field) offsetof(ScheduleConfig, field)
#define C(field) offsetof(IrConfig, field)

/* Data sources: DataConfig. Their meaning: train/data.h. */
static const CfgFunction sources[] = {
    { "text", DATA_TEXT, 1, {
        { "path", CFG_STRING, NULL, CFG_STORE_STRING, D(path), 0, NULL },
        { "level", CFG_WORD, "char|byte", CFG_STORE_WORD, D(level), DATA_CHAR, NULL } } },
    { "csv", DATA_CSV, 1, {
        { "path", CFG_STRING, NULL, CFG_STORE_STRING, D(path), 0, NULL },
        { "label", CFG_ANY, NULL, CFG_STORE_CSV_LABEL, 0, 0, NULL },
        { "target", CFG_ANY, NULL, CFG_STORE_CSV_TARGET, 0, 0, NULL },
        { "header", CFG_BOOL, NULL, CFG_STORE_TRISTATE, D(csv_header), -1, NULL },
        { "delimiter", CFG_STRING, NULL, CFG_STORE_CHAR, D(csv_delim), ',', NULL },
        /* 0: the width of the model's `input vector(F)` */
        { "columns", CFG_ANY, NULL, CFG_STORE_INT, D(csv_features), 0, NULL } } },
    { "adding", DATA_ADDING, 0, {
        { "length", CFG_COUNT1, NULL, CFG_STORE_INT, D(length), ADDING_DEFAULT_LENGTH, NULL } } },
    { "reber", DATA_REBER, 0, {
        { "embedded", CFG_BOOL, NULL, CFG_STORE_BOOL, D(embedded), 1, NULL } } },
    { "copy", DATA_COPY, 0, {
        { "length", CFG_COUNT1, NULL, CFG_STORE_INT, D(length), COPY_DEFAULT_LENGTH, NULL },
        { "delay", CFG_COUNT0, NULL, CFG_STORE_INT, D(delay), COPY_DEFAULT_DELAY, NULL } } },
};

/* Losses: LossConfig; the target words are in LossTarget order. */
static const CfgFunction losses[] = {
    { "cross_entropy", LOSS_CROSS_ENTROPY, 0, {
        { "target", CFG_WORD, "next_token|label", CFG_STORE_WORD, L(target), 0, NULL } } },
    { "mse", LOSS_MSE, 0, {
        { "target", CFG_WORD, "target", CFG_STORE_WORD, L(target), 0, NULL } } },
};

/* Adam's and AdamW's arguments, the same but for weight_decay's default (0 and 1e-2). */
#define ADAM_ARGS(weight_decay_default)                                                      \
    { "lr", CFG_POSITIVE, NULL, CFG_STORE_DOUBLE, O(lr), 1e-3, NULL },                       \
    { "beta1", CFG_FRACTION, NULL, CFG_STORE_DOUBLE, O(beta1), 0.9, NULL },                  \
    { "beta2", CFG_FRACTION, NULL, CFG_STORE_DOUBLE, O(beta2), 0.999, NULL },                \
    { "eps", CFG_POSITIVE, NULL, CFG_STORE_DOUBLE, O(eps), 1e-8, NULL },                     \
    { "weight_decay", CFG_NONNEG, NULL, CFG_STORE_DOUBLE, O(weight_decay),                   \
      weight_decay_default, NULL }

/* Optimizers: OptimConfig, with PyTorch's defaults (torch.optim, 1.13). */
static const CfgFunction optims[] = {
    { "sgd", OPTIM_SGD, 0, {
        { "lr", CFG_POSITIVE, NULL, CFG_STORE_DOUBLE, O(lr), 1e-2, NULL },
        { "momentum", CFG_FRACTION, NULL, CFG_STORE_DOUBLE, O(momentum), 0, NULL },
        { "nesterov", CFG_BOOL, NULL, CFG_STORE_BOOL, O(nesterov), 0, NULL } } },
    { "adam", OPTIM_ADAM, 0, { ADAM_ARGS(0) } },
    { "adamw", OPTIM_ADAMW, 0, { ADAM_ARGS(1e-2) } },
    { "rmsprop", OPTIM_RMSPROP, 0, {
        { "lr", CFG_POSITIVE, NULL, CFG_STORE_DOUBLE, O(lr), 1e-2, NULL },
        { "alpha", CFG_FRACTION, NULL, CFG_STORE_DOUBLE, O(alpha), 0.99, NULL },
        { "eps", CFG_POSITIVE, NULL, CFG_STORE_DOUBLE, O(eps), 1e-8, NULL },
        { "momentum", CFG_FRACTION, NULL, CFG_STORE_DOUBLE, O(momentum), 0, NULL },
        { "weight_decay", CFG_NONNEG, NULL, CFG_STORE_DOUBLE, O(weight_decay), 0, NULL } } },
};

/* Schedules: ScheduleConfig (formulas: optim_schedule_lr). */
static const CfgFunction scheds[] = {
    { "constant", SCHED_CONSTANT, 0, { { 0 } } },
    { "step", SCHED_STEP, 0, {
        { "every", CFG_COUNT1, NULL, CFG_STORE_INT64, S(every), 1000, NULL },
        { "factor", CFG_POSITIVE, NULL, CFG_STORE_DOUBLE, S(factor), 0.1, NULL } } },
    { "cosine", SCHED_COSINE, 0, {
        { "warmup", CFG_COUNT0, NULL, CFG_STORE_INT64, S(warmup), 0, NULL } } },
};

#define FAMILY(what, fns, type, inherit) \
    { what, fns, sizeof fns / sizeof *fns, offsetof(type, kind), inherit }
static const CfgFamily source_family = FAMILY("data source", sources, DataConfig, false);
static const CfgFamily loss_family = FAMILY("loss", losses, LossConfig, false);
static const CfgFamily optim_family = FAMILY("optimizer", optims, OptimConfig, true);
static const CfgFamily sched_family = FAMILY("schedule", scheds, ScheduleConfig, false);

/* The settings. The offsets are into IrConfig; valid's fraction goes to IrConfig.valid, its
 * source to valid_source; bptt = full sets bptt_full. */
const CfgSetting cfg_settings[CFG_NSETTINGS] = {
    [CFG_SET_SOURCE] = { false, { "source", CFG_CALL, NULL, CFG_STORE_NONE, C(data), -1,
                                  &source_family } },
    [CFG_SET_VALID] = { false, { "valid", CFG_VALID, NULL, CFG_STORE_NONE, C(valid_source), -1,
                                 &source_family } },
    [CFG_SET_LOSS] = { true, { "loss", CFG_CALL, NULL, CFG_STORE_NONE, C(loss), -1,
                               &loss_family } },
    [CFG_SET_OPTIMIZER] = { true, { "optimizer", CFG_CALL, NULL, CFG_STORE_NONE, C(optim),
                                    OPTIM_ADAM, &optim_family } },
    [CFG_SET_SCHEDULE] = { true, { "schedule", CFG_CALL, NULL, CFG_STORE_NONE, C(sched),
                                   SCHED_CONSTANT, &sched_family } },
    [CFG_SET_CLIP] = { true, { "clip", CFG_NONNEG, NULL, CFG_STORE_DOUBLE, C(clip), 0, NULL } },
    [CFG_SET_BATCH] = { true, { "batch", CFG_COUNT1, NULL, CFG_STORE_INT, C(data.batch), 32,
                                NULL } },
    [CFG_SET_BPTT] = { true, { "bptt", CFG_BPTT, NULL, CFG_STORE_INT, C(data.bptt), 100,
                               NULL } },
    [CFG_SET_STEPS] = { true, { "steps", CFG_COUNT1, NULL, CFG_STORE_INT64, C(steps), 1000,
                                NULL } },
    [CFG_SET_EPOCHS] = { true, { "epochs", CFG_COUNT1, NULL, CFG_STORE_INT64, C(epochs), 0,
                                 NULL } },
    [CFG_SET_SEED] = { true, { "seed", CFG_COUNT0, NULL, CFG_STORE_UINT64, C(seed), 42, NULL } },
    [CFG_SET_EVAL_EVERY] = { true, { "eval_every", CFG_COUNT0, NULL, CFG_STORE_INT64,
                                     C(eval_every), 100, NULL } },
    [CFG_SET_CHECKPOINT_EVERY] = { true, { "checkpoint_every", CFG_COUNT0, NULL,
                                           CFG_STORE_INT64, C(checkpoint_every), 500, NULL } },
    [CFG_SET_LOG_EVERY] = { true, { "log_every", CFG_COUNT0, NULL, CFG_STORE_INT64,
                                    C(log_every), 10, NULL } },
    /* lr: a shorthand for the optimizer's lr argument (0 when absent: the optimizer's) */
    [CFG_SET_LR] = { true, { "lr", CFG_POSITIVE, NULL, CFG_STORE_DOUBLE, C(lr), 0, NULL } },
    [CFG_SET_PATIENCE] = { true, { "patience", CFG_COUNT0, NULL, CFG_STORE_INT64, C(patience),
                                   0, NULL } },
    [CFG_SET_MIN_DELTA] = { true, { "min_delta", CFG_NONNEG, NULL, CFG_STORE_DOUBLE,
                                    C(min_delta), 0, NULL } },
};

/* The DataConfig fields no setting or argument gives (and the base of every source). */
static const DataConfig data_base = {
    .kind = DATA_ADDING, .level = DATA_CHAR, .valid = -1, .length = 0,
    .delay = COPY_DEFAULT_DELAY, .embedded = true, .csv_features = 1, .csv_targets = 1,
    .csv_header = -1, .valid_csv_header = -1, .csv_delim = ',',
};

int cfg_function_nargs(const CfgFunction *fn)
{
    int n = 0;
    while (n < CFG_MAX_ARGS && fn->args[n].name)
        n++;
    return n;
}

/* Stores an argument's default at its offset in obj (stores without a default are skipped). */
static void store_default(const CfgArg *a, char *obj)
{
    void *at = obj + a->offset;
    switch (a->store) {
    case CFG_STORE_DOUBLE: *(double *)at = a->dflt; break;
    case CFG_STORE_INT:
    case CFG_STORE_TRISTATE:
    case CFG_STORE_WORD: *(int *)at = (int)a->dflt; break;
    case CFG_STORE_INT64: *(int64_t *)at = (int64_t)a->dflt; break;
    case CFG_STORE_UINT64: *(uint64_t *)at = (uint64_t)a->dflt; break;
    case CFG_STORE_BOOL: *(bool *)at = a->dflt != 0; break;
    case CFG_STORE_CHAR: *(char *)at = (char)a->dflt; break;
    case CFG_STORE_STRING: *(const char **)at = NULL; break;
    default: break;
    }
}

/* Every argument's default; with inherit_defaults, first the first default the family gives
 * each field the function does not take (a field is known by its offset). */
void cfg_function_defaults(const CfgFamily *fam, const CfgFunction *fn, void *obj)
{
    if (fam->inherit_defaults) {
        size_t seen[CFG_MAX_ARGS * 8];
        int nseen = 0;
        for (int f = 0; f < fam->nfns; f++)
            for (int i = 0; i < cfg_function_nargs(&fam->fns[f]); i++) {
                const CfgArg *a = &fam->fns[f].args[i];
                bool known = false;
                for (int k = 0; k < nseen; k++)
                    known = known || seen[k] == a->offset;
                if (!known && nseen < CFG_MAX_ARGS * 8) {
                    seen[nseen++] = a->offset;
                    store_default(a, obj);
                }
            }
    }
    *(int *)((char *)obj + fam->kind_offset) = fn->kind;
    for (int i = 0; i < cfg_function_nargs(fn); i++)
        store_default(&fn->args[i], obj);
}

void ir_config_defaults(IrConfig *c)
{
    memset(c, 0, sizeof *c);
    c->data = data_base;
    c->valid_source = data_base;
    for (int i = 0; i < CFG_NSETTINGS; i++) {
        const CfgArg *a = &cfg_settings[i].arg;
        if (a->type == CFG_CALL && a->dflt >= 0)
            cfg_function_defaults(a->family, &a->family->fns[(int)a->dflt],
                                  (char *)c + a->offset);
        else if (a->type != CFG_CALL)
            store_default(a, (char *)c);
    }
    c->valid = -1;
    c->data.seed = c->seed;
}

DataConfig data_defaults(void)
{
    IrConfig c;
    ir_config_defaults(&c);
    return c.data;
}

OptimConfig optim_defaults(OptimKind k)
{
    OptimConfig o;
    memset(&o, 0, sizeof o);
    for (int f = 0; f < optim_family.nfns; f++)
        if (optims[f].kind == (int)k)
            cfg_function_defaults(&optim_family, &optims[f], &o);
    return o;
}

/* The kind fields are written as int. */
_Static_assert(sizeof(DataKind) == sizeof(int) && sizeof(DataLevel) == sizeof(int) &&
               sizeof(OptimKind) == sizeof(int) && sizeof(SchedKind) == sizeof(int) &&
               sizeof(LossFn) == sizeof(int), "enums are int-sized");
