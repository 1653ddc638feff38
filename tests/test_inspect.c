/* test_inspect: tensor statistics (hand-computed values, double accumulation where float would
 * lose the answer) and the exact text of the inspect tables. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "io/inspect.h"
#include "io_testutil.h"

static void test_stats_small(void **state)
{
    (void)state;
    const float a[4] = {1, 2, 3, 4};
    TensorStats s;
    inspect_stats(a, 4, &s);
    assert_int_equal(s.count, 4);
    assert_int_equal(s.finite, 4);
    assert_true(s.min == 1 && s.max == 4 && s.mean == 2.5);
    assert_true(fabs(s.std - sqrt(1.25)) < 1e-15);

    const float b[5] = {NAN, -1, INFINITY, 1, -INFINITY};
    inspect_stats(b, 5, &s);
    assert_int_equal(s.finite, 2);
    assert_int_equal(s.nan, 1);
    assert_int_equal(s.inf, 2);
    assert_true(s.min == -1 && s.max == 1 && s.mean == 0 && s.std == 1);

    inspect_stats(NULL, 0, &s);
    assert_int_equal(s.count, 0);
    assert_int_equal(s.finite, 0);
    assert_true(s.mean == 0 && s.std == 0);
}

/* 2^21 values alternating 4096 and 4097.5: mean 4096.75, std 0.75 exactly. A float running sum
 * stops being exact past 2^24 and one-pass sum-of-squares cancels badly; both would miss. */
static void test_stats_precision(void **state)
{
    (void)state;
    int64_t n = 1 << 21;
    float *x = malloc((size_t)n * sizeof *x);
    assert_non_null(x);
    for (int64_t i = 0; i < n; i++)
        x[i] = i % 2 ? 4097.5f : 4096.0f;
    TensorStats s;
    inspect_stats(x, n, &s);
    assert_true(s.mean == 4096.75);
    assert_true(fabs(s.std - 0.75) < 1e-12);
    free(x);
}

static void test_shape_format(void **state)
{
    (void)state;
    char buf[64];
    int64_t sh[3] = {512, 1, 0};
    inspect_format_shape(sh, 3, buf, sizeof buf);
    assert_string_equal(buf, "[512, 1, 0]");
    inspect_format_shape(sh, 0, buf, sizeof buf);
    assert_string_equal(buf, "[]");
    inspect_format_shape(sh, 3, buf, 5);   /* truncated, terminated */
    assert_int_equal(strlen(buf), 4);
}

/* Prints into a memory buffer and compares with the exact expected text. */
static void test_table_text(void **state)
{
    (void)state;
    Checkpoint c;
    ckpt_init(&c);
    int64_t s2[2] = {2, 2}, s3[1] = {3}, s0[1] = {0};
    const float a[4] = {1, 2, 3, 4}, b[3] = {-1, NAN, 1};
    ckpt_add_tensor(&c.params, "a", 2, s2, a);
    ckpt_add_tensor(&c.params, "long.name.here", 1, s3, b);
    ckpt_add_tensor(&c.params, "empty", 1, s0, NULL);
    ckpt_set_source(&c, "m.rnn", "model m {}", 10);
    ckpt_add_override(&c, "hidden=8");
    ckpt_set_const(&c, "vocab", 65);
    ckpt_set_vocab(&c, (const unsigned char *)"abc", 3);
    ckpt_set_optimizer(&c, "adam");
    ckpt_set_hyper(&c, "lr", 0.001);
    ckpt_add_tensor(&c.optim_state, "m.a", 2, s2, a);
    c.format_version = 1;
    c.step = 100;
    c.epoch = 2;
    c.seed = 7;
    c.has_best_val_loss = true;
    c.best_val_loss = 1.5;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    assert_int_equal(inspect_print_checkpoint(f, &c), 0);
    fclose(f);
    const char *want =
        "checkpoint format 1\n"
        "model: m.rnn (10 bytes of source)\n"
        "  --set hidden=8\n"
        "const vocab = 65\n"
        "vocabulary: 3 symbols\n"
        "step 100, epoch 2, seed 7, best validation loss 1.5\n"
        "optimizer adam (lr=0.001)\n"
        "\n"
        "name            shape   dtype          min          max         mean          std\n"
        "a               [2, 2]  f32              1            4          2.5      1.11803\n"
        "long.name.here  [3]     f32             -1            1            0            1"
        "  (1 NaN, 0 Inf)\n"
        "empty           [0]     f32              -            -            -            -\n"
        "3 tensors, 7 values\n"
        "\n"
        "optimizer state:\n"
        "name  shape   dtype          min          max         mean          std\n"
        "m.a   [2, 2]  f32              1            4          2.5      1.11803\n"
        "1 tensor, 4 values\n";
    if (strcmp(buf, want) != 0)
        fprintf(stderr, "got:\n%s", buf);
    assert_string_equal(buf, want);
    free(buf);
    ckpt_free(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stats_small),
        cmocka_unit_test(test_stats_precision),
        cmocka_unit_test(test_shape_format),
        cmocka_unit_test(test_table_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
