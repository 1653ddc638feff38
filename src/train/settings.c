/* settings: IrSetting values -> DataConfig, OptimConfig, Schedule and the loop's numbers. */
#include "train/settings.h"

#include <string.h>

/* The argument called name, or the positional argument at index pos (-1: none). */
static const IrValue *arg(const IrValue *v, const char *name, int pos)
{
    if (!v || v->kind != IR_VAL_CALL) return NULL;
    int k = 0;
    for (int i = 0; i < v->nargs; i++) {
        if (v->args[i].name && strcmp(v->args[i].name, name) == 0) return &v->args[i].value;
        if (!v->args[i].name && k++ == pos) return &v->args[i].value;
    }
    return NULL;
}

static double num_arg(const IrValue *v, const char *name, int pos, double dflt)
{
    const IrValue *a = arg(v, name, pos);
    return a && a->kind == IR_VAL_NUM ? a->num : dflt;
}

static bool bool_arg(const IrValue *v, const char *name, int pos, bool dflt)
{
    const IrValue *a = arg(v, name, pos);
    return a && a->kind == IR_VAL_IDENT ? strcmp(a->str, "true") == 0 : dflt;
}

static const char *word_arg(const IrValue *v, const char *name, int pos)
{
    const IrValue *a = arg(v, name, pos);
    return a && (a->kind == IR_VAL_IDENT || a->kind == IR_VAL_STR) ? a->str : NULL;
}

static const IrValue *setting(const IrSetting *s, int n, const char *name)
{
    const IrSetting *x = ir_find_setting(s, n, name);
    return x ? &x->value : NULL;
}

/* source = text(...) | csv(...) | adding(...) | reber(...) | copy(...) */
static int data_source(const IrValue *v, DataConfig *c, Diag *d)
{
    const char *fn = v->str;
    if (strcmp(fn, "text") == 0) {
        c->kind = DATA_TEXT;
        c->path = word_arg(v, "path", 0);
        const char *lv = word_arg(v, "level", 1);
        c->level = lv && strcmp(lv, "byte") == 0 ? DATA_BYTE : DATA_CHAR;
    } else if (strcmp(fn, "csv") == 0) {
        c->kind = DATA_CSV;
        c->path = word_arg(v, "path", 0);
        const IrValue *t = arg(v, "target", -1);
        if (t && t->kind == IR_VAL_NUM) {
            c->csv_values = true;
            c->csv_targets = (int)t->num;
        } else if (t && t->kind == IR_VAL_IDENT && strcmp(t->str, "values") == 0) {
            c->csv_values = true;
        } else if (t && !(t->kind == IR_VAL_IDENT && strcmp(t->str, "label") == 0)) {
            DiagMessage *m = diag_error(d, t->loc, "csv: target must be label, values or a "
                                        "number of target columns");
            diag_help(m, "the label or the targets are the first column(s) of every row");
            return -1;
        }
        const IrValue *l = arg(v, "label", -1);
        if (l && l->kind == IR_VAL_NUM && l->num != 1) {
            diag_error(d, l->loc, "csv: the label must be the first column (label=1)");
            return -1;
        }
        c->csv_features = (int)num_arg(v, "columns", -1, 0);   /* 0: the model's input width */
        const IrValue *h = arg(v, "header", -1);
        if (h) c->csv_header = bool_arg(v, "header", -1, false) ? 1 : 0;
        const char *dl = word_arg(v, "delimiter", -1);
        if (dl) {
            if (strlen(dl) != 1 || dl[0] == '"' || dl[0] == '\n') {
                diag_error(d, arg(v, "delimiter", -1)->loc,
                           "csv: delimiter must be one character");
                return -1;
            }
            c->csv_delim = dl[0];
        }
    } else if (strcmp(fn, "adding") == 0) {
        c->kind = DATA_ADDING;
        c->length = (int)num_arg(v, "length", 0, 50);
    } else if (strcmp(fn, "reber") == 0) {
        c->kind = DATA_REBER;
        c->embedded = bool_arg(v, "embedded", 0, true);
    } else if (strcmp(fn, "copy") == 0) {
        c->kind = DATA_COPY;
        c->length = (int)num_arg(v, "length", 0, 10);
        c->delay = (int)num_arg(v, "delay", 1, 10);
    } else {
        diag_error(d, v->loc, "unknown data source '%s'", fn);
        return -1;
    }
    return 0;
}

/* optimizer = sgd(...) | adam(...) | adamw(...) | rmsprop(...) */
static void optimizer(const IrValue *v, OptimConfig *o)
{
    const char *fn = v->kind == IR_VAL_CALL || v->kind == IR_VAL_IDENT ? v->str : "adam";
    OptimKind k = strcmp(fn, "sgd") == 0 ? OPTIM_SGD : strcmp(fn, "adamw") == 0 ? OPTIM_ADAMW
                  : strcmp(fn, "rmsprop") == 0 ? OPTIM_RMSPROP : OPTIM_ADAM;
    *o = optim_defaults(k);
    o->lr = num_arg(v, "lr", 0, o->lr);
    switch (k) {
    case OPTIM_SGD:
        o->momentum = num_arg(v, "momentum", 1, 0);
        o->nesterov = bool_arg(v, "nesterov", 2, false);
        break;
    case OPTIM_ADAM:
    case OPTIM_ADAMW:
        o->beta1 = num_arg(v, "beta1", 1, o->beta1);
        o->beta2 = num_arg(v, "beta2", 2, o->beta2);
        o->eps = num_arg(v, "eps", 3, o->eps);
        o->weight_decay = num_arg(v, "weight_decay", 4, o->weight_decay);
        break;
    case OPTIM_RMSPROP:
        o->alpha = num_arg(v, "alpha", 1, o->alpha);
        o->eps = num_arg(v, "eps", 2, o->eps);
        o->momentum = num_arg(v, "momentum", 3, 0);
        o->weight_decay = num_arg(v, "weight_decay", 4, 0);
        break;
    }
}

/* valid = text(...) | csv(...): a separate validation file, which must be read the way the
 * training file is (same kind and options; a csv header may differ). */
static int valid_source(const IrValue *v, DataConfig *c, Diag *d)
{
    if (c->kind != DATA_TEXT && c->kind != DATA_CSV) {
        DiagMessage *m = diag_error(d, v->loc, "a separate validation source needs a text or "
                                    "csv training source");
        diag_help(m, "generated tasks make their own validation set; drop valid");
        return -1;
    }
    DataConfig vc = data_defaults();
    if (data_source(v, &vc, d) != 0) return -1;
    if (vc.kind != c->kind || vc.level != c->level || vc.csv_values != c->csv_values ||
        vc.csv_targets != c->csv_targets || vc.csv_features != c->csv_features ||
        vc.csv_delim != c->csv_delim) {
        DiagMessage *m = diag_error(d, v->loc, "the validation source must be read like the "
                                    "training source");
        diag_help(m, "give valid = %s(\"FILE\", ...) with the same options as source",
                  c->kind == DATA_TEXT ? "text" : "csv");
        return -1;
    }
    if (!vc.path) {
        diag_error(d, v->loc, "the validation source needs a file");
        return -1;
    }
    c->valid_path = vc.path;
    c->valid_csv_header = vc.csv_header;
    c->valid = 0;   /* the training file is not split */
    return 0;
}

static int64_t int_setting(const IrSetting *s, int n, const char *name, int64_t dflt)
{
    const IrValue *v = setting(s, n, name);
    return v && v->kind == IR_VAL_NUM ? (int64_t)v->num : dflt;
}

int train_settings(const IrModel *m, const char *data_path, int64_t steps, int64_t epochs,
                   bool has_seed, uint64_t seed, TrainSettings *s, Diag *d)
{
    memset(s, 0, sizeof *s);
    s->data = data_defaults();
    s->data.valid = -1;
    const IrValue *src = setting(m->data, m->ndata, "source");
    bool have_source = false;
    if (src && src->kind == IR_VAL_CALL) {
        if (data_source(src, &s->data, d) != 0) return -1;
        have_source = true;
    }
    if (data_path) {
        size_t n = strlen(data_path);
        bool csv = n >= 4 && strcmp(data_path + n - 4, ".csv") == 0;
        if (!have_source || (s->data.kind != DATA_TEXT && s->data.kind != DATA_CSV))
            s->data.kind = csv ? DATA_CSV : DATA_TEXT;
        s->data.path = data_path;
        have_source = true;
    }
    if (!have_source) {
        DiagMessage *msg = diag_error_in(d, m->source ? m->source->name : "model",
                                         "no training data: the file has no data block");
        diag_help(msg, "add `data { source = text(\"corpus.txt\") }` or give --data FILE");
        return -1;
    }
    const IrValue *valid = setting(m->data, m->ndata, "valid");
    bool gen = s->data.kind != DATA_TEXT && s->data.kind != DATA_CSV;
    if (valid && valid->kind == IR_VAL_CALL) {
        if (valid_source(valid, &s->data, d) != 0) return -1;
    } else if (valid && !gen) {
        s->data.valid = valid->num;   /* generated: a fixed set */
    }
    s->data.batch = (int)int_setting(m->train, m->ntrain, "batch", 32);
    const IrValue *bptt = setting(m->train, m->ntrain, "bptt");
    if (bptt && bptt->kind == IR_VAL_IDENT) {   /* bptt = full */
        if (s->data.kind == DATA_TEXT) {
            diag_error(d, bptt->loc, "bptt = full needs sequence data; a text corpus is one "
                       "long stream, give a window length");
            return -1;
        }
    } else if (bptt) {
        s->data.bptt = (int)bptt->num;
    }
    s->seed = has_seed ? seed : (uint64_t)int_setting(m->train, m->ntrain, "seed", 42);
    s->data.seed = s->seed;

    const IrValue *opt = setting(m->train, m->ntrain, "optimizer");
    if (opt) optimizer(opt, &s->optim);
    else s->optim = optim_defaults(OPTIM_ADAM);

    const IrValue *sch = setting(m->train, m->ntrain, "schedule");
    s->sched.kind = SCHED_CONSTANT;
    if (sch && (sch->kind == IR_VAL_CALL || sch->kind == IR_VAL_IDENT)) {
        if (strcmp(sch->str, "step") == 0) {
            s->sched.kind = SCHED_STEP;
            s->sched.every = (int64_t)num_arg(sch, "every", 0, 1000);
            s->sched.factor = num_arg(sch, "factor", 1, 0.1);
        } else if (strcmp(sch->str, "cosine") == 0) {
            s->sched.kind = SCHED_COSINE;
            s->sched.warmup = (int64_t)num_arg(sch, "warmup", 0, 0);
        }
    }
    const IrValue *loss = setting(m->train, m->ntrain, "loss");
    if (loss && loss->kind == IR_VAL_CALL) {
        s->loss_given = true;
        const char *t = word_arg(loss, "target", 0);
        if (strcmp(loss->str, "mse") == 0) s->loss = EXEC_LOSS_MSE;
        else if (t && strcmp(t, "label") == 0) s->loss = EXEC_LOSS_XENT_LABEL;
        else s->loss = EXEC_LOSS_XENT_TOKENS;
    }
    const IrValue *clip = setting(m->train, m->ntrain, "clip");
    s->clip = clip && clip->kind == IR_VAL_NUM ? clip->num : 0;
    s->steps = int_setting(m->train, m->ntrain, "steps", 1000);
    s->epochs = int_setting(m->train, m->ntrain, "epochs", 0);
    if (s->epochs > 0 && !setting(m->train, m->ntrain, "steps")) s->steps = 0;
    if (steps > 0) { s->steps = steps; s->epochs = 0; }
    if (epochs > 0) { s->epochs = epochs; s->steps = 0; }
    s->eval_every = int_setting(m->train, m->ntrain, "eval_every", 100);
    s->checkpoint_every = int_setting(m->train, m->ntrain, "checkpoint_every", 500);
    s->log_every = int_setting(m->train, m->ntrain, "log_every", 10);
    if (s->log_every < 1) s->log_every = 1;
    return 0;
}
