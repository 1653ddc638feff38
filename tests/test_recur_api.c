/* test_recur_api: the public C API (recur.h) on checkpoints that `recur train` writes: the
 * vocabulary (every id's symbol and back), a classifier's class names in id order, the stateful
 * step call (T calls of recur_step equal one recur_forward over T steps, and reset starts
 * again), given and final states (issue 9: PyTorch's h_0/c_0 files, get/set, save/load), and
 * library errors that name overrides instead of the CLI's --set. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "io/safetensors.h"
#include "recur.h"
#include "train/train.h"

static char dir[] = "/tmp/test_recur_api_XXXXXX";

static const char *path_in(const char *name)
{
    static char buf[4][256];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", dir, name);
    return buf[k];
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* Trains model (a file in dir) into dir/out for a few steps. */
static void train(const char *model, const char *data, const char *out)
{
    TrainOptions o;
    train_options_init(&o);
    o.model_path = path_in(model);
    o.data_path = path_in(data);
    o.out_dir = path_in(out);
    o.steps = 4;
    static const char *const sets[] = {"batch=4", "bptt=8", "eval_every=2", "valid=0.2"};
    o.sets = sets;
    o.nsets = 4;
    o.progress = 0;
    FILE *null = fopen("/dev/null", "w");
    o.out = null;
    Diag d;
    diag_init(&d);
    int rc = train_run(&o, &d, NULL);
    if (rc != 0) diag_print(&d, stderr);
    fclose(null);
    diag_free(&d);
    assert_int_equal(rc, 0);
}

static int setup(void **state)
{
    (void)state;
    if (!mkdtemp(dir)) return -1;
    char text[3000] = "";
    for (int i = 0; i < 60; i++) strcat(text, i % 3 ? "the cat sat. " : "a dog ran; ");
    write_file(path_in("text.txt"), text);
    write_file(path_in("lm.rnn"), "model lm {\n  input tokens(vocab=auto)\n  embedding(6)\n"
                                  "  lstm(10)\n  dense(vocab)\n}\n");
    char csv[4000] = "";
    for (int i = 0; i < 60; i++) {
        char row[64];
        snprintf(row, sizeof row, "%s,%d,%d\n", i % 3 == 0 ? "zebra" : i % 3 == 1 ? "ant" : "moth",
                 i % 3, i % 5);
        strcat(csv, row);
    }
    write_file(path_in("t.csv"), csv);
    write_file(path_in("c.rnn"), "model c {\n  input vector(1)\n  gru(4)\n  pool(last)\n"
                                 "  dense(classes)\n}\n");
    train("lm.rnn", "text.txt", "lm");
    train("c.rnn", "t.csv", "c");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* The vocabulary: the sorted characters of the text; symbol -> id -> symbol for every id. */
static void test_vocab(void **state)
{
    (void)state;
    char *err = NULL;
    RecurModel *m = recur_load(path_in("lm/best.ckpt"), &err);
    assert_non_null(m);
    const char *chars = " .;acdeghnorst";   /* sorted, as the data reader orders them */
    assert_int_equal(recur_vocab_size(m), (int)strlen(chars));
    assert_int_equal(recur_input_vocab(m), (int)strlen(chars));
    for (int id = 0; id < recur_vocab_size(m); id++) {
        char sym[5];
        assert_int_equal(recur_vocab_symbol(m, id, sym), 1);
        assert_int_equal(sym[0], chars[id]);
        assert_int_equal(recur_vocab_id(m, sym), id);
    }
    char sym[5];
    assert_int_equal(recur_vocab_symbol(m, -1, sym), -1);
    assert_int_equal(recur_vocab_symbol(m, 99, sym), -1);
    assert_int_equal(recur_vocab_id(m, "Z"), -1);
    assert_int_equal(recur_num_classes(m), 0);
    assert_null(recur_class_name(m, 0));
    recur_free(m);
}

/* T steps of recur_step give what one recur_forward over T steps gives, step by step; after
 * recur_state_reset the first step's output comes again. */
static void test_step_matches_forward(void **state)
{
    (void)state;
    char *err = NULL;
    RecurModel *m = recur_load(path_in("lm/last.ckpt"), &err);
    assert_non_null(m);
    enum { T = 6, B = 2 };
    int V = recur_output_width(m);
    int32_t tok[T * B];
    for (int i = 0; i < T * B; i++) tok[i] = (i * 7 + 3) % recur_vocab_size(m);
    float *all = malloc(sizeof(float) * T * B * V), *one = malloc(sizeof(float) * B * V);
    assert_int_equal(recur_forward(m, T, B, tok, NULL, all, &err), 0);
    RecurState *s = recur_state_new(m, B, &err);
    assert_non_null(s);
    for (int t = 0; t < T; t++) {
        assert_int_equal(recur_step(s, tok + t * B, NULL, one, &err), 0);
        for (int i = 0; i < B * V; i++)
            assert_true(fabsf(one[i] - all[t * B * V + i]) < 1e-5f);
    }
    recur_state_reset(s);
    assert_int_equal(recur_step(s, tok, NULL, one, &err), 0);
    for (int i = 0; i < B * V; i++)
        assert_true(fabsf(one[i] - all[i]) < 1e-5f);
    recur_state_free(s);
    free(all);
    free(one);
    recur_free(m);
}

/* The fixture file tests/fixtures/states/<name> (under $top_srcdir, "." otherwise). */
static const char *fixture(const char *name)
{
    static char buf[512];
    const char *top = getenv("top_srcdir");
    snprintf(buf, sizeof buf, "%s/tests/fixtures/states/%s", top ? top : ".", name);
    return buf;
}

/* Given and final states through the C API: recur_state_load reads PyTorch's h_0/c_0 file
 * (tests/fixtures/states/ch.state.safetensors) into the flat layout recur_state_get documents
 * (lstm1.h0 then lstm1.c0, each [layers * dirs][B][H]); set/get round-trip; save after some
 * steps and load into a fresh state continues the same outputs; a file that does not fit is
 * refused with a message naming the tensor. */
static void test_state_io(void **state)
{
    (void)state;
    char *err = NULL;
    RecurModel *m = recur_compile(fixture("ch.rnn"), NULL, 0, 7, &err);
    assert_non_null(m);
    enum { B = 3, H = 5, L = 2, I = 4, O = 2 };
    RecurState *s = recur_state_new(m, B, &err), *s2 = recur_state_new(m, B, &err);
    assert_non_null(s);
    assert_non_null(s2);
    int64_t n = recur_state_floats(s);
    assert_int_equal(n, 2 * L * B * H);
    float *flat = calloc((size_t)n, sizeof *flat), *back = calloc((size_t)n, sizeof *back);
    assert_int_equal(recur_state_load(s, fixture("ch.state.safetensors"), &err), 0);
    assert_int_equal(recur_state_get(s, flat, &err), 0);
    Diag d;
    diag_init(&d);
    CkptTensorList want = {0};
    assert_int_equal(safetensors_read(fixture("ch.state.safetensors"), &want, NULL, &d), 0);
    const CkptTensor *h0 = ckpt_find_tensor(&want, "lstm1.h0");
    const CkptTensor *c0 = ckpt_find_tensor(&want, "lstm1.c0");
    assert_non_null(h0);
    assert_non_null(c0);
    assert_memory_equal(flat, h0->data, sizeof(float) * L * B * H);
    assert_memory_equal(flat + L * B * H, c0->data, sizeof(float) * L * B * H);
    ckpt_tensors_free(&want);
    diag_free(&d);
    /* set/get round trip; then step, save, load elsewhere: the next outputs agree */
    for (int64_t i = 0; i < n; i++)
        flat[i] = (float)sin(0.37 * (double)i);
    assert_int_equal(recur_state_set(s, flat, &err), 0);
    assert_int_equal(recur_state_get(s, back, &err), 0);
    assert_memory_equal(flat, back, sizeof(float) * (size_t)n);
    float x[B * I], y1[B * O], y2[B * O];
    for (int i = 0; i < B * I; i++)
        x[i] = (float)cos(0.5 * i);
    assert_int_equal(recur_step(s, NULL, x, y1, &err), 0);
    assert_int_equal(recur_state_save(s, path_in("mid.safetensors"), &err), 0);
    assert_int_equal(recur_state_load(s2, path_in("mid.safetensors"), &err), 0);
    assert_int_equal(recur_state_get(s2, back, &err), 0);
    assert_int_equal(recur_state_get(s, flat, &err), 0);
    assert_memory_equal(flat, back, sizeof(float) * (size_t)n);
    assert_int_equal(recur_step(s, NULL, x, y1, &err), 0);
    assert_int_equal(recur_step(s2, NULL, x, y2, &err), 0);
    assert_memory_equal(y1, y2, sizeof y1);
    /* the state the step started from mattered: a zero state gives another output */
    recur_state_reset(s2);
    assert_int_equal(recur_step(s2, NULL, x, y2, &err), 0);
    assert_true(memcmp(y1, y2, sizeof y1) != 0);
    /* a file that does not fit: refused, naming the file and the tensor; the state is kept */
    assert_int_equal(recur_state_get(s, flat, &err), 0);
    assert_int_equal(recur_state_load(s, fixture("st.state.safetensors"), &err), -1);
    assert_non_null(strstr(err, "st.state.safetensors"));
    assert_non_null(strstr(err, "'gru1.h0' is not a state of the model"));
    free(err);
    err = NULL;
    assert_int_equal(recur_state_get(s, back, &err), 0);
    assert_memory_equal(flat, back, sizeof(float) * (size_t)n);
    free(flat);
    free(back);
    recur_state_free(s);
    recur_state_free(s2);
    recur_free(m);
}

/* A classifier's class names, in id order (sorted names); it cannot be stepped. */
static void test_classes(void **state)
{
    (void)state;
    char *err = NULL;
    RecurModel *m = recur_load(path_in("c/best.ckpt"), &err);
    assert_non_null(m);
    assert_int_equal(recur_num_classes(m), 3);
    assert_string_equal(recur_class_name(m, 0), "ant");
    assert_string_equal(recur_class_name(m, 1), "moth");
    assert_string_equal(recur_class_name(m, 2), "zebra");
    assert_null(recur_class_name(m, 3));
    assert_int_equal(recur_vocab_size(m), 0);
    assert_null(recur_state_new(m, 1, &err));
    assert_non_null(strstr(err, "pooled"));
    free(err);
    recur_free(m);
}

/* Library errors speak of overrides, not of the CLI's --set. */
static void test_errors_without_cli_advice(void **state)
{
    (void)state;
    char *err = NULL;
    assert_null(recur_compile(path_in("lm.rnn"), NULL, 0, 1, &err));
    assert_non_null(err);
    assert_non_null(strstr(err, "help: pass override vocab=N"));
    assert_null(strstr(err, "--set"));
    free(err);
    err = NULL;
    const char *const bad[] = {"vocab=10", "lrate=1"};
    assert_null(recur_compile(path_in("lm.rnn"), bad, 2, 1, &err));
    assert_non_null(strstr(err, "override: error: unknown setting 'lrate'"));
    assert_null(strstr(err, "--set"));
    free(err);
    const char *const good[] = {"vocab=10"};
    RecurModel *m = recur_compile(path_in("lm.rnn"), good, 1, 1, &err);
    assert_non_null(m);
    assert_int_equal(recur_vocab_size(m), 0);   /* compiled, not trained: no symbols */
    recur_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vocab),
        cmocka_unit_test(test_step_matches_forward),
        cmocka_unit_test(test_state_io),
        cmocka_unit_test(test_classes),
        cmocka_unit_test(test_errors_without_cli_advice),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
