/* test_train_settings: data and train blocks (through sema) become the right DataConfig,
 * OptimConfig, Schedule and loop numbers; command-line overrides win. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "lang/sema.h"
#include "train/settings.h"

static IrModel *compile(Diag *d, const char *text, const char *const *sets, int nsets)
{
    const Source *src = diag_add_source(d, "t.rnn", text, strlen(text));
    SemaOptions so = {.allow_auto = true};
    IrModel *m = sema_compile_opts(d, src, sets, nsets, &so);
    if (!m) diag_print(d, stderr);
    assert_non_null(m);
    return m;
}

static const char *TEXT_MODEL =
    "format 1\n"
    "data {\n  source = text(\"c.txt\", level=byte)\n  valid = 0.2\n}\n"
    "model m {\n  input tokens(vocab=auto)\n  embedding(4)\n  lstm(8)\n  dense(vocab)\n}\n"
    "train {\n  loss = cross_entropy(next_token)\n  optimizer = sgd(lr=0.5, momentum=0.9, "
    "nesterov=true)\n  schedule = cosine(warmup=10)\n  clip = 2.5\n  batch = 7\n  bptt = 13\n"
    "  steps = 321\n  seed = 9\n  eval_every = 20\n  checkpoint_every = 40\n}\n";

static void test_text_block(void **state)
{
    (void)state;
    Diag d;
    diag_init(&d);
    IrModel *m = compile(&d, TEXT_MODEL, NULL, 0);
    TrainSettings s;
    assert_int_equal(train_settings(m, NULL, 0, 0, false, 0, &s, &d), 0);
    assert_int_equal(s.data.kind, DATA_TEXT);
    assert_string_equal(s.data.path, "c.txt");
    assert_int_equal(s.data.level, DATA_BYTE);
    assert_true(s.data.valid == 0.2);
    assert_int_equal(s.data.batch, 7);
    assert_int_equal(s.data.bptt, 13);
    assert_int_equal(s.optim.kind, OPTIM_SGD);
    assert_true(s.optim.lr == 0.5 && s.optim.momentum == 0.9 && s.optim.nesterov);
    assert_int_equal(s.sched.kind, SCHED_COSINE);
    assert_int_equal(s.sched.warmup, 10);
    assert_true(s.clip == 2.5);
    assert_true(s.loss_given && s.loss == EXEC_LOSS_XENT_TOKENS);
    assert_int_equal(s.steps, 321);
    assert_int_equal(s.seed, 9);
    assert_int_equal(s.data.seed, 9);
    assert_int_equal(s.eval_every, 20);
    assert_int_equal(s.checkpoint_every, 40);
    /* overrides: --data keeps the text kind, --epochs replaces steps, --seed wins */
    assert_int_equal(train_settings(m, "other.txt", 0, 3, true, 77, &s, &d), 0);
    assert_string_equal(s.data.path, "other.txt");
    assert_int_equal(s.data.kind, DATA_TEXT);
    assert_int_equal(s.epochs, 3);
    assert_int_equal(s.steps, 0);
    assert_int_equal(s.seed, 77);
    ir_model_free(m);
    diag_free(&d);
}

/* --set replaces the optimizer; a generated source with defaults; --data x.csv selects csv. */
static void test_sets_and_defaults(void **state)
{
    (void)state;
    Diag d;
    diag_init(&d);
    const char *sets[] = {"optimizer=rmsprop(lr=0.01, momentum=0.5)", "schedule=step(every=5, "
                          "factor=0.5)"};
    const char *model = "format 1\ndata {\n  source = copy(length=4, delay=3)\n}\n"
                        "model m {\n  input tokens(vocab=auto)\n  onehot\n  gru(8)\n"
                        "  dense(vocab)\n}\n";
    IrModel *m = compile(&d, model, sets, 2);
    TrainSettings s;
    assert_int_equal(train_settings(m, NULL, 0, 0, false, 0, &s, &d), 0);
    assert_int_equal(s.data.kind, DATA_COPY);
    assert_int_equal(s.data.length, 4);
    assert_int_equal(s.data.delay, 3);
    assert_int_equal(s.optim.kind, OPTIM_RMSPROP);
    assert_true(s.optim.lr == 0.01 && s.optim.momentum == 0.5 && s.optim.alpha == 0.99);
    assert_int_equal(s.sched.kind, SCHED_STEP);
    assert_true(s.sched.every == 5 && s.sched.factor == 0.5);
    assert_false(s.loss_given);
    assert_int_equal(s.data.batch, 32);
    assert_int_equal(s.steps, 1000);
    assert_int_equal(s.seed, 42);
    assert_true(s.clip == 0);
    assert_int_equal(train_settings(m, "rows.csv", 0, 0, false, 0, &s, &d), 0);
    assert_int_equal(s.data.kind, DATA_CSV);
    ir_model_free(m);

    /* no data at all */
    m = compile(&d, "format 1\nmodel m {\n  input vector(2)\n  lstm(4)\n}\n", NULL, 0);
    assert_int_equal(train_settings(m, NULL, 0, 0, false, 0, &s, &d), -1);
    assert_int_equal(diag_error_count(&d), 1);
    ir_model_free(m);
    diag_free(&d);
}

/* valid = text(...) / csv(...): a separate validation file of the training source's kind and
 * options; another kind, other options or a generated training source are located errors. */
static void test_valid_source(void **state)
{
    (void)state;
    Diag d;
    diag_init(&d);
    const char *lm = "format 1\ndata {\n  source = text(\"c.txt\", level=byte)\n"
                     "  valid = text(\"v.txt\", level=byte)\n}\n"
                     "model m {\n  input tokens(vocab=auto)\n  onehot\n  lstm(4)\n"
                     "  dense(vocab)\n}\n";
    IrModel *m = compile(&d, lm, NULL, 0);
    TrainSettings s;
    assert_int_equal(train_settings(m, NULL, 0, 0, false, 0, &s, &d), 0);
    assert_string_equal(s.data.path, "c.txt");
    assert_string_equal(s.data.valid_path, "v.txt");
    assert_true(s.data.valid == 0);
    /* --data replaces the training file only */
    assert_int_equal(train_settings(m, "o.txt", 0, 0, false, 0, &s, &d), 0);
    assert_string_equal(s.data.path, "o.txt");
    assert_string_equal(s.data.valid_path, "v.txt");
    ir_model_free(m);

    const char *cls = "format 1\ndata {\n  source = csv(\"t.csv\", columns=2)\n"
                      "  valid = csv(\"v.csv\", columns=2, header=true)\n}\n"
                      "model m {\n  input vector(2)\n  lstm(4)\n  pool(last)\n"
                      "  dense(classes)\n}\n";
    m = compile(&d, cls, NULL, 0);
    assert_int_equal(train_settings(m, NULL, 0, 0, false, 0, &s, &d), 0);
    assert_int_equal(s.data.kind, DATA_CSV);
    assert_string_equal(s.data.valid_path, "v.csv");
    assert_int_equal(s.data.valid_csv_header, 1);
    assert_int_equal(s.data.csv_header, -1);
    ir_model_free(m);
    assert_int_equal(diag_error_count(&d), 0);

    const char *bad[] = {
        /* another kind */
        "format 1\ndata {\n  source = text(\"c.txt\")\n  valid = csv(\"v.csv\")\n}\n",
        /* another level */
        "format 1\ndata {\n  source = text(\"c.txt\")\n  valid = text(\"v.txt\", "
        "level=byte)\n}\n",
        /* a generated training source */
        "format 1\ndata {\n  source = copy(length=4)\n  valid = text(\"v.txt\")\n}\n",
    };
    const char *want[] = {"the validation source must be read like the training source",
                          "the validation source must be read like the training source",
                          "a separate validation source needs a text or csv training source"};
    for (int i = 0; i < 3; i++) {
        char text[512];
        snprintf(text, sizeof text, "%smodel m {\n  input tokens(vocab=auto)\n  onehot\n  lstm(4)\n"
                 "  dense(vocab)\n}\n", bad[i]);
        Diag e;
        diag_init(&e);
        m = compile(&e, text, NULL, 0);
        assert_int_equal(train_settings(m, NULL, 0, 0, false, 0, &s, &e), -1);
        assert_int_equal(diag_error_count(&e), 1);
        const char *msg = diag_message_text(&e, 0);
        if (!strstr(msg, want[i])) fail_msg("case %d: expected '%s', got '%s'", i, want[i], msg);
        ir_model_free(m);
        diag_free(&e);
    }
    diag_free(&d);
}

/* A file without data and train blocks gets the schema's defaults in IrModel.config, and
 * data_defaults / optim_defaults are the same defaults. */
static void test_config_defaults(void **state)
{
    (void)state;
    Diag d;
    diag_init(&d);
    IrModel *m = compile(&d, "format 1\nmodel m {\n  input vector(2)\n  lstm(4)\n}\n", NULL, 0);
    const IrConfig *c = &m->config;
    for (int i = 0; i < CFG_NSETTINGS; i++)
        assert_false(c->given[i]);
    assert_int_equal(c->optim.kind, OPTIM_ADAM);
    assert_true(c->optim.lr == 1e-3 && c->optim.beta1 == 0.9 && c->optim.beta2 == 0.999 &&
                c->optim.eps == 1e-8 && c->optim.weight_decay == 0 && c->optim.alpha == 0.99);
    assert_int_equal(c->sched.kind, SCHED_CONSTANT);
    assert_true(c->clip == 0);
    assert_int_equal(c->steps, 1000);
    assert_int_equal(c->epochs, 0);
    assert_int_equal(c->eval_every, 100);
    assert_int_equal(c->checkpoint_every, 500);
    assert_int_equal(c->log_every, 10);
    assert_int_equal(c->seed, 42);
    assert_true(c->valid == -1 && !c->valid_is_source && !c->bptt_full);
    DataConfig dd = data_defaults();
    assert_memory_equal(&dd, &c->data, sizeof dd);
    assert_int_equal(dd.kind, DATA_ADDING);
    assert_int_equal(dd.batch, 32);
    assert_int_equal(dd.bptt, 100);
    assert_int_equal(dd.seed, 42);
    assert_true(dd.valid == -1 && dd.delay == 10 && dd.embedded && dd.csv_features == 1 &&
                dd.csv_targets == 1 && dd.csv_header == -1 && dd.csv_delim == ',');
    ir_model_free(m);
    /* Every kind has every hyper-parameter (a checkpoint records them all). */
    const struct { OptimKind k; double lr, wd; const char *name; } want[] = {
        {OPTIM_SGD, 1e-2, 0, "sgd"}, {OPTIM_ADAM, 1e-3, 0, "adam"},
        {OPTIM_ADAMW, 1e-3, 1e-2, "adamw"}, {OPTIM_RMSPROP, 1e-2, 0, "rmsprop"},
    };
    for (int i = 0; i < 4; i++) {
        OptimConfig o = optim_defaults(want[i].k);
        assert_int_equal(o.kind, want[i].k);
        assert_true(o.lr == want[i].lr && o.weight_decay == want[i].wd);
        assert_true(o.momentum == 0 && !o.nesterov && o.beta1 == 0.9 && o.beta2 == 0.999 &&
                    o.eps == 1e-8 && o.alpha == 0.99);
        assert_string_equal(optim_kind_name(want[i].k), want[i].name);
    }
    diag_free(&d);
}

/* Positional arguments land where the schema's order says; given[] records what was written. */
static void test_config_positional(void **state)
{
    (void)state;
    Diag d;
    diag_init(&d);
    const char *sets[] = {"optimizer=adam(0.01, 0.8, 0.99, 1e-6, 0.5)", "schedule=step(5, 0.5)",
                          "loss=cross_entropy(label)", "bptt=full", "valid=0.25"};
    IrModel *m = compile(&d, "format 1\ndata {\n  source = copy(4, 3)\n}\nmodel m {\n"
                         "  input tokens(vocab=auto)\n  onehot\n  lstm(4)\n  dense(vocab)\n}\n",
                         sets, 5);
    const IrConfig *c = &m->config;
    assert_true(c->optim.lr == 0.01 && c->optim.beta1 == 0.8 && c->optim.beta2 == 0.99 &&
                c->optim.eps == 1e-6 && c->optim.weight_decay == 0.5);
    assert_true(c->sched.kind == SCHED_STEP && c->sched.every == 5 && c->sched.factor == 0.5);
    assert_true(c->loss.kind == LOSS_CROSS_ENTROPY && c->loss.target == LOSS_TARGET_LABEL);
    assert_true(c->data.kind == DATA_COPY && c->data.length == 4 && c->data.delay == 3);
    assert_true(c->bptt_full && c->data.bptt == 100);
    assert_true(c->valid == 0.25);
    assert_true(c->given[CFG_SET_SOURCE] && c->given[CFG_SET_OPTIMIZER] &&
                c->given[CFG_SET_BPTT] && !c->given[CFG_SET_STEPS] && !c->given[CFG_SET_SEED]);
    ir_model_free(m);
    diag_free(&d);
}

/* csv() arguments the reader cannot use compile (check accepts them, as before) and are
 * reported, located, when training uses the source: target before label before delimiter. */
static void test_csv_problems(void **state)
{
    (void)state;
    const char *args[] = {"target=foo", "label=2", "delimiter=\"ab\"", "delimiter=\";;\", label=3",
                          "label=2, target=bar"};
    const char *want[] = {"csv: target must be label, values or a number of target columns",
                          "csv: the label must be the first column (label=1)",
                          "csv: delimiter must be one character",
                          "csv: the label must be the first column (label=1)",
                          "csv: target must be label, values or a number of target columns"};
    for (int i = 0; i < 5; i++) {
        char text[512];
        snprintf(text, sizeof text, "format 1\ndata {\n  source = csv(\"t.csv\", %s)\n}\n"
                 "model m {\n  input vector(2)\n  lstm(4)\n  pool(last)\n  dense(3)\n}\n",
                 args[i]);
        Diag d;
        diag_init(&d);
        IrModel *m = compile(&d, text, NULL, 0);
        assert_int_equal(diag_error_count(&d), 0);
        TrainSettings s;
        assert_int_equal(train_settings(m, NULL, 0, 0, false, 0, &s, &d), -1);
        assert_int_equal(diag_error_count(&d), 1);
        const char *msg = diag_message_text(&d, 0);
        if (!strstr(msg, want[i])) fail_msg("case %d: expected '%s', got '%s'", i, want[i], msg);
        ir_model_free(m);
        diag_free(&d);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_text_block),
        cmocka_unit_test(test_valid_source),
        cmocka_unit_test(test_sets_and_defaults),
        cmocka_unit_test(test_config_defaults),
        cmocka_unit_test(test_config_positional),
        cmocka_unit_test(test_csv_problems),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
