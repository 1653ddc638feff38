/* test_train: the training loop end to end at the library level. A small character model with
 * dropout on a generated corpus: the loss goes down; runs "killed" (no save) after several
 * numbers of steps and resumed from last.ckpt end with weights bit-identical to an
 * uninterrupted run; sampling with a seed is reproducible and rejects unknown prime characters;
 * bad input (another model on --resume, missing data, unknown --set, NaN) is a clear error that
 * overwrites nothing. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "io/checkpoint.h"
#include "train/train.h"
#include "train_testutil.h"

static char dir[64];

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static char *path_in(const char *name)
{
    static char buf[8][256];
    static int k;
    k = (k + 1) % 8;
    snprintf(buf[k], sizeof buf[k], "%s/%s", dir, name);
    return buf[k];
}

static const char *MODEL =
    "format 1\n"
    "data {\n  source = text(\"corpus.txt\")\n  valid = 0.1\n}\n"
    "model tiny {\n  input tokens(vocab=auto)\n  embedding(8)\n"
    "  lstm(%d, layers=2, dropout=0.2)\n  dense(vocab)\n}\n"
    "train {\n  optimizer = adam(lr=0.02)\n  clip = 1.0\n  batch = 4\n  bptt = 8\n"
    "  steps = 30\n  seed = 3\n  eval_every = 10\n  checkpoint_every = 5\n  log_every = 5\n}\n";

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/test_train_XXXXXX");
    assert_non_null(mkdtemp(dir));
    char corpus[20000] = "";
    const char *words[] = {"the ", "cat ", "sat ", "on ", "a ", "mat. ", "dogs ", "run.\n"};
    unsigned x = 7;
    while (strlen(corpus) < 6000) {
        x = x * 1103515245u + 12345u;
        strcat(corpus, words[(x >> 16) % 8]);
    }
    write_file(path_in("corpus.txt"), corpus);
    char model[2000];
    snprintf(model, sizeof model, MODEL, 16);
    write_file(path_in("tiny.rnn"), model);
    snprintf(model, sizeof model, MODEL, 12);
    write_file(path_in("other.rnn"), model);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* Runs train with the common options; returns train_run's status. */
static int train(const char *model, const char *out, bool resume, int64_t stop_after,
                 const char *const *sets, int nsets, Diag *d)
{
    TrainOptions o;
    train_options_init(&o);
    o.model_path = path_in(model);
    o.out_dir = path_in(out);
    o.resume = resume;
    o.stop_after = stop_after;
    o.sets = sets;
    o.nsets = nsets;
    o.progress = 0;
    FILE *null = fopen("/dev/null", "w");
    o.out = null;
    int rc = train_run(&o, d, NULL);
    fclose(null);
    if (rc != 0) diag_print(d, stderr);
    return rc;
}

/* All parameter bytes of a checkpoint, concatenated; *n receives the byte count. */
static unsigned char *params_of(const char *path, size_t *n)
{
    Diag d;
    diag_init(&d);
    Checkpoint c;
    assert_int_equal(ckpt_read(path, &c, &d), 0);
    size_t total = 0;
    for (int i = 0; i < c.params.n; i++)
        total += (size_t)c.params.items[i].count * sizeof(float);
    unsigned char *buf = malloc(total), *p = buf;
    for (int i = 0; i < c.params.n; i++) {
        size_t k = (size_t)c.params.items[i].count * sizeof(float);
        memcpy(p, c.params.items[i].data, k);
        p += k;
    }
    assert_int_equal((int)c.step, 30);
    ckpt_free(&c);
    diag_free(&d);
    *n = total;
    return buf;
}

/* The uninterrupted run: files exist and the loss went down clearly. */
static void test_full_run(void **state)
{
    (void)state;
    Diag d;
    diag_init(&d);
    assert_int_equal(train("tiny.rnn", "full", false, 0, NULL, 0, &d), 0);
    struct stat st;
    assert_int_equal(stat(path_in("full/last.ckpt"), &st), 0);
    assert_int_equal(stat(path_in("full/best.ckpt"), &st), 0);
    assert_int_equal(stat(path_in("full/loss.svg"), &st), 0);
    FILE *f = fopen(path_in("full/log.csv"), "r");
    assert_non_null(f);
    char line[256];
    assert_non_null(fgets(line, sizeof line, f));
    assert_string_equal(line, "step,loss,val_loss,lr,grad_norm,tokens_per_s,wall_s,"
                              "val_bits_per_token\n");
    double first = NAN, last = NAN, wall = 0;
    int rows = 0, vals = 0;
    while (fgets(line, sizeof line, f)) {
        long long step;
        double loss;
        char val[64] = "";
        assert_true(sscanf(line, "%lld,%lf,%63[^,]", &step, &loss, val) >= 2);
        /* wall_s grows; on an evaluation row the metric is the loss in bits */
        double v, lr, norm, tps, w, bits;
        if (sscanf(line, "%*d,%*f,%lf,%lf,%lf,%lf,%lf,%lf", &v, &lr, &norm, &tps, &w, &bits) == 6)
            assert_true(fabs(bits - v / log(2.0)) < 1e-4 * bits);
        else
            assert_int_equal(sscanf(line, "%*d,%*f,,%lf,%lf,%lf,%lf,", &lr, &norm, &tps, &w), 4);
        assert_true(w >= wall);
        wall = w;
        if (rows == 0) first = loss;
        last = loss;
        rows++;
        vals += line[strcspn(line, ",") + 1 + strcspn(line + strcspn(line, ",") + 1, ",") + 1]
                != ',';
    }
    fclose(f);
    assert_int_equal(rows, 6);      /* steps 5, 10, ..., 30 */
    assert_int_equal(vals, 3);      /* evaluations at 10, 20, 30 */
    /* The vocabulary has 19 symbols: ln(19) = 2.94 at chance. */
    assert_true(first > 2.3);
    assert_true(last < first - 0.5);
    diag_free(&d);
}

/* Killed (nothing saved) after k steps, then resumed: identical final weights. */
static void test_resume_exact(void **state)
{
    (void)state;
    size_t n0, n1;
    unsigned char *want = params_of(path_in("full/last.ckpt"), &n0);
    const int64_t kills[] = {7, 10, 23, 29};
    for (int i = 0; i < 4; i++) {
        Diag d;
        diag_init(&d);
        char out[32];
        snprintf(out, sizeof out, "kill%d", (int)kills[i]);
        assert_int_equal(train("tiny.rnn", out, false, kills[i], NULL, 0, &d), 0);
        char ck[64];
        snprintf(ck, sizeof ck, "%s/last.ckpt", out);
        Checkpoint c;
        assert_int_equal(ckpt_read(path_in(ck), &c, &d), 0);
        assert_int_equal((int)c.step, (int)(kills[i] / 5 * 5));
        ckpt_free(&c);
        assert_int_equal(train("tiny.rnn", out, true, 0, NULL, 0, &d), 0);
        unsigned char *got = params_of(path_in(ck), &n1);
        assert_int_equal(n0, n1);
        assert_memory_equal(want, got, n0);
        free(got);
        /* the resumed log has each step once */
        snprintf(ck, sizeof ck, "%s/log.csv", out);
        FILE *f = fopen(path_in(ck), "r");
        char line[256];
        int rows = 0;
        while (fgets(line, sizeof line, f)) rows++;
        fclose(f);
        assert_int_equal(rows, 7);
        diag_free(&d);
    }
    free(want);
}

/* log.csv of run dir without its timing columns (tokens_per_s, wall_s: the 6th and 7th), as one
 * malloc'd string. */
static char *log_without_timing(const char *run)
{
    char name[64], line[256];
    snprintf(name, sizeof name, "%s/log.csv", run);
    FILE *f = fopen(path_in(name), "r");
    assert_non_null(f);
    char *out = calloc(1, 1 << 16);
    assert_non_null(out);
    while (fgets(line, sizeof line, f)) {
        int field = 1;
        for (const char *c = line; *c; c++) {
            bool keep = field < 5 || field > 7 || *c == '\n' ||
                        (field == 5 && *c != ',') || (field == 7 && *c == ',');
            if (keep)
                strncat(out, c, 1);
            field += *c == ',';
        }
    }
    fclose(f);
    return out;
}

/* Issue 14 item 2: the running sums behind a log row are in last.ckpt, so a run killed after a
 * checkpoint in the middle of a log interval (step 6 of 5-step rows) resumes to the same
 * log.csv as the uninterrupted run (all but the timing columns, byte for byte). */
static void test_resume_log(void **state)
{
    (void)state;
    const char *sets[] = {"checkpoint_every=3"};
    Diag d;
    diag_init(&d);
    assert_int_equal(train("tiny.rnn", "logfull", false, 0, sets, 1, &d), 0);
    assert_int_equal(train("tiny.rnn", "logkill", false, 8, sets, 1, &d), 0);
    Checkpoint c;
    assert_int_equal(ckpt_read(path_in("logkill/last.ckpt"), &c, &d), 0);
    assert_int_equal((int)c.step, 6);
    assert_int_equal((int)c.log_loss_n, 1);     /* step 6 is in the row of steps 6..10 */
    assert_true(c.log_loss_sum > 0);
    ckpt_free(&c);
    assert_int_equal(train("tiny.rnn", "logkill", true, 0, sets, 1, &d), 0);
    char *want = log_without_timing("logfull"), *got = log_without_timing("logkill");
    assert_string_equal(want, got);
    assert_non_null(strstr(want, "step,loss,val_loss,lr,grad_norm,val_bits_per_token\n5,"));
    free(want);
    free(got);
    diag_free(&d);
}

/* The diagnostics contain needle; they are cleared for the next check. */
static void expect_error(Diag *d, const char *needle)
{
    expect_diag(d, needle);
    diag_clear_messages(d);
}

static void test_bad_input(void **state)
{
    (void)state;
    Diag d;
    diag_init(&d);
    /* another model into an existing run */
    struct stat before, after;
    assert_int_equal(stat(path_in("full/last.ckpt"), &before), 0);
    TrainOptions o;
    train_options_init(&o);
    o.model_path = path_in("other.rnn");
    o.out_dir = path_in("full");
    o.resume = true;
    o.out = fopen("/dev/null", "w");
    assert_int_equal(train_run(&o, &d, NULL), -1);
    expect_error(&d, "tensor 'lstm1.weight_ih_l0' is [64, 8], the model expects [48, 8]");
    assert_int_equal(stat(path_in("full/last.ckpt"), &after), 0);
    assert_true(before.st_mtime == after.st_mtime && before.st_size == after.st_size);
    /* no --resume over an existing run */
    o.model_path = path_in("tiny.rnn");
    o.resume = false;
    assert_int_equal(train_run(&o, &d, NULL), -1);
    expect_error(&d, "a run already exists here");
    /* missing data file */
    o.out_dir = path_in("missing");
    o.data_path = path_in("nope.txt");
    assert_int_equal(train_run(&o, &d, NULL), -1);
    expect_error(&d, "nope.txt: error: cannot read");
    struct stat st;
    assert_int_equal(stat(path_in("missing"), &st), -1);
    /* unknown --set */
    o.data_path = NULL;
    const char *sets[] = {"batchh=3"};
    o.sets = sets;
    o.nsets = 1;
    assert_int_equal(train_run(&o, &d, NULL), -1);
    expect_error(&d, "batch");
    /* a huge learning rate without clipping blows up: stopped with the step named (1e38: the
     * weights overflow float on any engine; at 1e30 oneDNN's saturated gates keep the loss
     * finite, about 1e30, where recur's own kernels reached NaN) */
    const char *boom[] = {"optimizer=sgd(lr=1e38)", "clip=0"};
    o.sets = boom;
    o.nsets = 2;
    o.out_dir = path_in("boom");
    assert_int_equal(train_run(&o, &d, NULL), -1);
    expect_diag(&d, "training stopped");
    /* before the first checkpoint there is no last.ckpt to point at */
    expect_diag(&d, "no checkpoint was written before it");
    assert_int_equal(stat(path_in("boom/last.ckpt"), &st), -1);
    diag_clear_messages(&d);
    /* with a checkpoint every step, the help names it, and it exists */
    const char *boom_saved[] = {"optimizer=sgd(lr=1e38)", "clip=0", "checkpoint_every=1"};
    o.sets = boom_saved;
    o.nsets = 3;
    o.out_dir = path_in("boom2");
    assert_int_equal(train_run(&o, &d, NULL), -1);
    expect_diag(&d, "boom2/last.ckpt keeps the last good state");
    assert_int_equal(stat(path_in("boom2/last.ckpt"), &st), 0);
    diag_clear_messages(&d);
    fclose(o.out);
    diag_free(&d);
}

static char *sample(uint64_t seed, const char *prime, Diag *d, int *rc)
{
    SampleOptions o;
    sample_options_init(&o);
    o.ckpt_path = path_in("full/last.ckpt");
    o.length = 60;
    o.seed = seed;
    o.prime = prime;
    o.top_k = 5;
    char *buf = NULL;
    size_t len = 0;
    o.out = open_memstream(&buf, &len);
    *rc = sample_run(&o, d);
    fclose(o.out);
    return buf;
}

static void test_sample_and_eval(void **state)
{
    (void)state;
    Diag d;
    diag_init(&d);
    int rc;
    char *a = sample(5, "the ", &d, &rc);
    assert_int_equal(rc, 0);
    char *b = sample(5, "the ", &d, &rc);
    char *c = sample(6, "the ", &d, &rc);
    assert_string_equal(a, b);
    assert_true(strcmp(a, c) != 0);
    assert_int_equal(strncmp(a, "the ", 4), 0);
    assert_int_equal(strlen(a), 4 + 60 + 1);
    free(a);
    free(b);
    free(c);
    a = sample(5, "the Zebra", &d, &rc);
    assert_int_equal(rc, -1);
    expect_error(&d, "not in the model's vocabulary: 'Z', 'b'");
    free(a);

    EvalOptions e;
    eval_options_init(&e);
    e.ckpt_path = path_in("full/best.ckpt");
    char *buf = NULL;
    size_t len = 0;
    e.out = open_memstream(&buf, &len);
    e.data_path = path_in("corpus.txt");
    assert_int_equal(eval_run(&e, &d), 0);
    fclose(e.out);
    double loss, bpc, ppl;
    char *p = strstr(buf, "loss: ");
    assert_non_null(p);
    assert_int_equal(sscanf(p, "loss: %lf nats\nbits per token: %lf\nperplexity: %lf", &loss,
                            &bpc, &ppl), 3);
    assert_true(loss > 0.5 && loss < 2.9);
    assert_true(fabs(bpc - loss / log(2)) < 1e-5);
    assert_true(fabs(ppl - exp(loss)) < 1e-3 * ppl);
    free(buf);
    diag_free(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_run),
        cmocka_unit_test(test_resume_exact),
        cmocka_unit_test(test_resume_log),
        cmocka_unit_test(test_sample_and_eval),
        cmocka_unit_test(test_bad_input),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
