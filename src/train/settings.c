/* settings: the typed configuration sema made (IrModel.config) with the command-line
 * overrides applied, and the checks that depend on them. */
#include "train/settings.h"

#include <string.h>

/* The loss the file names, as the executor's loss kind. */
static ExecLossKind exec_loss_kind(const LossConfig *l)
{
    return l->kind == LOSS_MSE ? EXEC_LOSS_MSE
           : l->target == LOSS_TARGET_LABEL ? EXEC_LOSS_XENT_LABEL : EXEC_LOSS_XENT_TOKENS;
}

/* Reports a csv() argument of a source that the data reader cannot use; 0 when none. */
static int report_problem(const CfgProblem *p, Diag *d)
{
    switch (p->kind) {
    case CFG_PROBLEM_NONE: return 0;
    case CFG_PROBLEM_CSV_TARGET: {
        DiagMessage *m = diag_error(d, p->loc, "csv: target must be label, values or a "
                                    "number of target columns");
        diag_help(m, "the label or the targets are the first column(s) of every row");
        return -1;
    }
    case CFG_PROBLEM_CSV_LABEL:
        diag_error(d, p->loc, "csv: the label must be the first column (label=1)");
        return -1;
    case CFG_PROBLEM_CSV_DELIMITER:
        diag_error(d, p->loc, "csv: delimiter must be one character");
        return -1;
    }
    return 0;
}

/* valid = text(...) | csv(...): a separate validation file, which must be read the way the
 * training file is (same kind and options; a csv header may differ). */
static int valid_source(const IrConfig *cfg, DataConfig *c, Diag *d)
{
    const DataConfig *vc = &cfg->valid_source;
    SrcRange at = cfg->valid_loc;
    if (c->kind != DATA_TEXT && c->kind != DATA_CSV) {
        DiagMessage *m = diag_error(d, at, "a separate validation source needs a text or "
                                    "csv training source");
        diag_help(m, "generated tasks make their own validation set; drop valid");
        return -1;
    }
    if (report_problem(&cfg->valid_problem, d) != 0) return -1;
    if (vc->kind != c->kind || vc->level != c->level || vc->csv_values != c->csv_values ||
        vc->csv_targets != c->csv_targets || vc->csv_features != c->csv_features ||
        vc->csv_delim != c->csv_delim) {
        DiagMessage *m = diag_error(d, at, "the validation source must be read like the "
                                    "training source");
        diag_help(m, "give valid = %s(\"FILE\", ...) with the same options as source",
                  c->kind == DATA_TEXT ? "text" : "csv");
        return -1;
    }
    if (!vc->path) {
        diag_error(d, at, "the validation source needs a file");
        return -1;
    }
    c->valid_path = vc->path;
    c->valid_csv_header = vc->csv_header;
    c->valid = 0;   /* the training file is not split */
    return 0;
}

/* The data of the run: the source, --data FILE over it, the validation split and bptt. */
static int data_settings(const IrModel *m, const char *data_path, DataConfig *c, Diag *d)
{
    const IrConfig *cfg = &m->config;
    *c = cfg->data;
    bool have_source = cfg->given[CFG_SET_SOURCE];
    if (have_source && report_problem(&cfg->source_problem, d) != 0) return -1;
    if (data_path) {
        size_t n = strlen(data_path);
        bool csv = n >= 4 && strcmp(data_path + n - 4, ".csv") == 0;
        if (!have_source || (c->kind != DATA_TEXT && c->kind != DATA_CSV))
            c->kind = csv ? DATA_CSV : DATA_TEXT;
        c->path = data_path;
        have_source = true;
    }
    if (!have_source) {
        DiagMessage *msg = diag_error_in(d, m->source ? m->source->name : "model",
                                         "no training data: the file has no data block");
        diag_help(msg, "add `data { source = text(\"corpus.txt\") }` or give --data FILE");
        return -1;
    }
    bool gen = c->kind != DATA_TEXT && c->kind != DATA_CSV;
    if (cfg->valid_is_source) {
        if (valid_source(cfg, c, d) != 0) return -1;
    } else if (cfg->given[CFG_SET_VALID] && (!gen || cfg->valid == 0)) {
        c->valid = cfg->valid;   /* generated: a fixed set, or none with valid = 0 */
    }
    if (cfg->bptt_full && c->kind == DATA_TEXT) {
        diag_error(d, cfg->bptt_loc, "bptt = full needs sequence data; a text corpus is one "
                   "long stream, give a window length");
        return -1;
    }
    return 0;
}

int train_settings(const IrModel *m, const char *data_path, int64_t steps, int64_t epochs,
                   bool has_seed, uint64_t seed, TrainSettings *s, Diag *d)
{
    const IrConfig *cfg = &m->config;
    memset(s, 0, sizeof *s);
    if (data_settings(m, data_path, &s->data, d) != 0) return -1;
    s->seed = has_seed ? seed : cfg->seed;
    s->data.seed = s->seed;
    s->optim = cfg->optim;
    if (cfg->given[CFG_SET_LR]) s->optim.lr = cfg->lr;   /* lr = X wins over optimizer(lr=) */
    s->patience = cfg->patience;
    s->min_delta = cfg->min_delta;
    s->sched = cfg->sched;
    s->loss_given = cfg->given[CFG_SET_LOSS];
    if (s->loss_given) s->loss = exec_loss_kind(&cfg->loss);
    s->clip = cfg->clip;
    s->steps = cfg->steps;
    s->epochs = cfg->epochs;
    if (s->epochs > 0 && !cfg->given[CFG_SET_STEPS]) s->steps = 0;
    if (steps > 0) { s->steps = steps; s->epochs = 0; }
    if (epochs > 0) { s->epochs = epochs; s->steps = 0; }
    s->eval_every = cfg->eval_every;
    s->checkpoint_every = cfg->checkpoint_every;
    s->log_every = cfg->log_every;
    if (s->log_every < 1) s->log_every = 1;
    return 0;
}
