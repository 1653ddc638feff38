/* test_train_plot: progress line text (exact), durations, 1-2-5 ticks, and loss.svg content. */
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

#include "train/plot.h"
#include "train/progress.h"

static void test_format(void **state)
{
    (void)state;
    char b[256];
    ProgressReport r = {120, 2, 1.23456, 1.30009, NAN, 12345};
    progress_format(b, sizeof b, &r, 5000, 12.4, 481, 0);
    assert_string_equal(b, "step 120/5000  epoch 2  loss 1.235  val 1.3  12.3k tok/s  0:12 "
                           "elapsed  ETA 8:01");
    ProgressReport r2 = {1, 0, 2.5, NAN, NAN, 950};
    progress_format(b, sizeof b, &r2, 10, 3725, NAN, 0);
    assert_string_equal(b, "step 1/10  loss 2.5  950 tok/s  1:02:05 elapsed");
    ProgressReport r3 = {1, 0, 0.000123456, NAN, NAN, 2.5e6};
    progress_format(b, sizeof b, &r3, 10, 0, 0, 0);
    assert_string_equal(b, "step 1/10  loss 0.0001235  2.5M tok/s  0:00 elapsed  ETA 0:00");
}

/* A width: a bar after the step, and the line always shorter than the terminal; fields give
 * way in their order (elapsed, tok/s, epoch, acc, ETA), the bar shrinks, goes, then val. */
static void test_format_width(void **state)
{
    (void)state;
    char b[512];
    ProgressReport r = {500, 3, 0.5, 0.25, 0.9, 12345};
    progress_format(b, sizeof b, &r, 1000, 12.4, 12.4, 120);
    assert_string_equal(b, "step 500/1000  [==========>         ]  epoch 3  loss 0.5  val 0.25  "
                           "acc 0.9  12.3k tok/s  0:12 elapsed  ETA 0:12");
    for (int w = 12; w <= 130; w++) {
        progress_format(b, sizeof b, &r, 1000, 12.4, 12.4, w);
        assert_true((int)strlen(b) < w);
        assert_int_equal(strncmp(b, "step 500/1000", w - 1 < 13 ? w - 1 : 13), 0);
    }
    progress_format(b, sizeof b, &r, 1000, 12.4, 12.4, 60);
    assert_string_equal(b, "step 500/1000  [==========>         ]  loss 0.5  val 0.25");
    progress_format(b, sizeof b, &r, 1000, 12.4, 12.4, 48);
    assert_string_equal(b, "step 500/1000  [=====>    ]  loss 0.5  val 0.25");
    progress_format(b, sizeof b, &r, 1000, 12.4, 12.4, 40);
    assert_string_equal(b, "step 500/1000  loss 0.5  val 0.25");
    progress_format(b, sizeof b, &r, 1000, 12.4, 12.4, 30);
    assert_string_equal(b, "step 500/1000  loss 0.5");
}

/* Plain mode prints one line per evaluation and nothing otherwise. */
static void test_plain_lines(void **state)
{
    (void)state;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    Progress p;
    progress_init(&p, f, 0, 0, 100);
    ProgressReport a = {1, 1, 2.0, NAN, NAN, 10}, b = {2, 1, 1.5, 1.75, 0.5, 10};
    progress_update(&p, &a, false);
    progress_update(&p, &b, true);
    progress_message(&p, "hello %d", 3);
    progress_finish(&p);
    fclose(f);
    assert_int_equal(strncmp(buf, "step 2/100  epoch 1  loss 1.5  val 1.75  acc 0.5  10 tok/s",
                             57), 0);
    assert_non_null(strstr(buf, "\nhello 3\n"));
    int lines = 0;
    for (char *c = buf; *c; c++) lines += *c == '\n';
    assert_int_equal(lines, 2);
    free(buf);
}

/* Live mode keeps the line of an evaluation (a newline after it) and rewrites the others. */
static void test_live_keeps_evaluations(void **state)
{
    (void)state;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    Progress p;
    progress_init(&p, f, 1, 0, 100);
    p.width = 80;
    ProgressReport a = {1, 1, 2.0, NAN, NAN, 10}, b = {2, 1, 1.5, 1.75, NAN, 10};
    progress_update(&p, &a, false);
    progress_update(&p, &b, true);
    a.step = 3;
    p.last = -1;
    progress_update(&p, &a, false);
    progress_finish(&p);
    fclose(f);
    int lines = 0;
    for (char *c = buf; *c; c++) lines += *c == '\n';
    assert_int_equal(lines, 2);   /* the evaluation's line, then the last live line ended */
    assert_non_null(strstr(buf, "val 1.75"));
    assert_non_null(strstr(buf, "\r\033[Kstep 3/100"));
    free(buf);
}

static void test_ticks(void **state)
{
    (void)state;
    double t[32];
    int n = plot_ticks(0, 1000, 8, t, 32);
    assert_int_equal(n, 11);    /* step 100 */
    assert_true(t[0] == 0 && t[10] == 1000);
    n = plot_ticks(1.37, 2.91, 6, t, 32);
    /* raw step 0.257 -> 0.2: ticks 1.4, 1.6, ..., 2.8 */
    assert_int_equal(n, 8);
    assert_true(fabs(t[0] - 1.4) < 1e-12 && fabs(t[7] - 2.8) < 1e-12);
    n = plot_ticks(0, 4e-3, 4, t, 32);
    assert_int_equal(n, 5);
    assert_true(fabs(t[4] - 4e-3) < 1e-15);
}

static void test_svg(void **state)
{
    (void)state;
    char dir[] = "/tmp/test_plot_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[64];
    snprintf(path, sizeof path, "%s/loss.svg", dir);
    int64_t steps[4] = {10, 20, 30, 40}, vsteps[2] = {20, 40};
    double loss[4] = {3.0, 2.0, NAN, 1.0}, vloss[2] = {2.5, 1.5};
    Diag d;
    diag_init(&d);
    assert_int_equal(plot_loss_svg(path, "a<b", "loss (nats)", steps, loss, 4, vsteps, vloss, 2,
                                   &d), 0);
    FILE *f = fopen(path, "r");
    char buf[20000];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = 0;
    fclose(f);
    assert_non_null(strstr(buf, "<svg"));
    assert_non_null(strstr(buf, "</svg>\n"));
    assert_non_null(strstr(buf, ">a&lt;b</text>"));
    assert_non_null(strstr(buf, ">training loss</text>"));
    assert_non_null(strstr(buf, ">validation loss</text>"));
    /* the training line has 3 finite points; x = 40 is the right edge (720 - 20) */
    char *pl = strstr(buf, "<polyline");
    assert_non_null(pl);
    char *pts = strstr(pl, "points=\"") + 8;
    int np = 0;
    for (char *c = pts; *c != '"'; c++) np += *c == ',';
    assert_int_equal(np, 3);
    assert_non_null(strstr(pts, "700.0,"));
    /* a linear axis named by the loss; the best validation point ringed and labelled */
    assert_non_null(strstr(buf, ">loss (nats)</text>"));
    assert_non_null(strstr(buf, ">best 1.5 at step 40</text>"));
    assert_non_null(strstr(buf, "<circle class=\"best\" cx=\"700.0\""));
    /* an unwritable place is an error naming it */
    assert_int_equal(plot_loss_svg("/nonexistent/dir/loss.svg", NULL, NULL, steps, loss, 4, NULL,
                                   NULL, 0, &d), -1);
    assert_int_equal(diag_error_count(&d), 1);
    diag_free(&d);
    unlink(path);
    rmdir(dir);
}

/* Reads a file whole into buf [cap]. */
static void slurp(const char *path, char *buf, size_t cap)
{
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    size_t n = fread(buf, 1, cap - 1, f);
    buf[n] = 0;
    fclose(f);
}

/* Losses spanning more than a decade get a log axis with decade ticks (the frame runs from
 * 10^-4 at the bottom, y = 370, to 10^1 at the top, y = 40); within a decade the axis stays
 * linear. */
static void test_svg_log_axis(void **state)
{
    (void)state;
    char dir[] = "/tmp/test_plot_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[64];
    snprintf(path, sizeof path, "%s/loss.svg", dir);
    int64_t steps[3] = {1, 2, 3}, vsteps[2] = {2, 3};
    double loss[3] = {2.0, 0.02, 0.0002}, vloss[2] = {0.1, 0.001};
    Diag d;
    diag_init(&d);
    assert_int_equal(plot_loss_svg(path, NULL, "loss (MSE)", steps, loss, 3, vsteps, vloss, 2,
                                   &d), 0);
    static char buf[40000];
    slurp(path, buf, sizeof buf);
    assert_non_null(strstr(buf, ">loss (MSE) (log scale)</text>"));
    assert_non_null(strstr(buf, "y=\"374.0\" text-anchor=\"end\">0.0001</text>"));
    assert_non_null(strstr(buf, "y=\"44.0\" text-anchor=\"end\">10</text>"));
    assert_null(strstr(buf, "\"end\">0.2</text>"));   /* five decades: no 2x, 5x ticks */
    /* 0.02 sits at log10 = -1.699: 370 - 2.301 / 5 * 330 = 218.1 */
    assert_non_null(strstr(buf, ",218.1 "));
    assert_non_null(strstr(buf, ">best 0.001 at step 3</text>"));
    double lin[3] = {2.0, 1.0, 0.5};
    assert_int_equal(plot_loss_svg(path, NULL, NULL, steps, lin, 3, NULL, NULL, 0, &d), 0);
    slurp(path, buf, sizeof buf);
    assert_null(strstr(buf, "log scale"));
    assert_non_null(strstr(buf, ">loss</text>"));
    assert_null(strstr(buf, "best"));
    diag_free(&d);
    unlink(path);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format),
        cmocka_unit_test(test_format_width),
        cmocka_unit_test(test_live_keeps_evaluations),
        cmocka_unit_test(test_plain_lines),
        cmocka_unit_test(test_ticks),
        cmocka_unit_test(test_svg),
        cmocka_unit_test(test_svg_log_axis),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
