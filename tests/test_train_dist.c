/* test_train_dist: the pieces of data-parallel training that one process can check (the runs
 * through mpirun are tests/train_mpi.sh):
 *   - data_part: the parts of a batch, put side by side, are the whole batch (text streams, CSV
 *     rows with a padded last batch, a generated task), for training and validation batches,
 *     over epochs, with ntargets split exactly;
 *   - per-stream dropout: an executor running columns [2, 4) of a batch (exec_set_first_stream)
 *     draws the same masks, and gives the same outputs, as the whole-batch executor does for
 *     those columns;
 *   - tdist_split: the columns of each rank, and the error naming the -np values that work. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "exec/exec.h"
#include "lang/sema.h"
#include "train/data.h"
#include "train/train_dist.h"
#include "train_testutil.h"

/* Checks that columns [first, first + p->B) of the whole batch w are the part p. */
static void expect_columns(const DataBatch *w, const DataBatch *p, int first)
{
    int T = w->T, B = w->B, n = p->B;
    assert_int_equal(p->T, T);
    assert_int_equal(p->reset, w->reset);
    for (int s = 0; s < n; s++) {
        int g = first + s;
        assert_int_equal(p->lengths[s], w->lengths[g]);
        assert_true(p->row_mask[s] == w->row_mask[g]);
        for (int t = 0; t < T; t++) {
            assert_true(p->mask[t * n + s] == w->mask[t * B + g]);
            if (w->ids) assert_int_equal(p->ids[t * n + s], w->ids[t * B + g]);
            for (int j = 0; w->x && j < w->in_width; j++)
                assert_true(p->x[(t * n + s) * w->in_width + j] ==
                            w->x[(t * B + g) * w->in_width + j]);
            if (w->target_kind == DATA_TARGET_STEP_IDS)
                assert_int_equal(p->target_ids[t * n + s], w->target_ids[t * B + g]);
        }
        if (w->target_kind == DATA_TARGET_LABEL)
            assert_int_equal(p->target_ids[s], w->target_ids[g]);
        for (int k = 0; w->target && k < w->out_width; k++)
            assert_true(p->target[s * w->out_width + k] == w->target[g * w->out_width + k]);
    }
}

/* Opens c whole and in parts of n columns, and compares nsteps training batches and every
 * validation batch. */
static void check_parts(const DataConfig *c, int n, int nsteps)
{
    Diag d;
    diag_init(&d);
    int np = c->batch / n;
    DataSet whole, part[8];
    assert_true(np <= 8);
    assert_int_equal(data_open(&whole, c, &d), 0);
    for (int k = 0; k < np; k++) {
        assert_int_equal(data_open(&part[k], c, &d), 0);
        assert_int_equal(data_part(&part[k], k * n, n, &d), 0);
    }
    for (int i = 0; i < nsteps; i++) {
        const DataBatch *w = data_next(&whole);
        int64_t sum = 0;
        for (int k = 0; k < np; k++) {
            const DataBatch *p = data_next(&part[k]);
            assert_int_equal(p->B, n);
            expect_columns(w, p, k * n);
            sum += p->ntargets;
            assert_int_equal(part[k].pos.index, whole.pos.index);
            assert_int_equal(part[k].pos.epoch, whole.pos.epoch);
        }
        assert_int_equal(sum, w->ntargets);
    }
    for (int64_t i = 0; i < data_valid_batches(&whole); i++) {
        const DataBatch *w = data_valid_batch(&whole, i);
        int64_t sum = 0;
        for (int k = 0; k < np; k++) {
            const DataBatch *p = data_valid_batch(&part[k], i);
            expect_columns(w, p, k * n);
            sum += p->ntargets;
        }
        assert_int_equal(sum, w->ntargets);
    }
    data_free(&whole);
    for (int k = 0; k < np; k++) data_free(&part[k]);
    assert_int_equal(diag_error_count(&d), 0);
    diag_free(&d);
}

/* Text streams, CSV rows (10 training rows in batches of 4: the last is padded) and the
 * adding task split in 2 and 4 parts; a bad range is refused. */
static void test_parts_are_the_batch(void **state)
{
    (void)state;
    char text[2000];
    for (int i = 0; i < (int)sizeof text - 1; i++) text[i] = (char)('a' + (i * 7 + i / 13) % 26);
    text[sizeof text - 1] = 0;
    char *tpath = temp_file(text, strlen(text));
    DataConfig c = data_defaults();
    c.kind = DATA_TEXT, c.path = tpath, c.batch = 4, c.bptt = 8, c.valid = 0.2;
    check_parts(&c, 2, 120);    /* past the end of an epoch: streams restart (reset) */
    check_parts(&c, 1, 10);
    char csv[2000] = "";
    for (int r = 0; r < 13; r++) {
        char line[100];
        snprintf(line, sizeof line, "%d,%d,%d%s\n", r % 3, r, r * 2, r % 4 ? ",1" : "");
        strcat(csv, line);
    }
    char *cpath = temp_file(csv, strlen(csv));
    c = data_defaults();
    c.kind = DATA_CSV, c.path = cpath, c.batch = 4, c.valid = 0.2;
    check_parts(&c, 2, 9);      /* three epochs of 3 batches, each reshuffled */
    check_parts(&c, 1, 9);
    c = data_defaults();
    c.kind = DATA_ADDING, c.length = 10, c.batch = 4, c.valid = 8;
    check_parts(&c, 2, 5);
    Diag d;
    diag_init(&d);
    DataSet ds;
    assert_int_equal(data_open(&ds, &c, &d), 0);
    assert_int_equal(data_part(&ds, 3, 2, &d), -1);
    expect_diag(&d, "columns 3..4 are not in the batch of 4");
    data_free(&ds);
    diag_free(&d);
    remove_temp(tpath);
    remove_temp(cpath);
}

/* A model with dropout between LSTM levels and a dropout layer: the executor of columns [2, 4)
 * gives what the whole-batch executor gives there, and both differ from no dropout. */
static void test_dropout_per_stream(void **state)
{
    (void)state;
    const char *text = "model m {\n input tokens(vocab=7)\n embedding(5)\n"
                       " lstm(6, layers=2, dropout=0.5)\n dropout(0.3)\n dense(7)\n}\n";
    Diag d;
    diag_init(&d);
    const Source *src = diag_add_source(&d, "test.rnn", text, strlen(text));
    IrModel *m = sema_compile(&d, src, NULL, 0);
    assert_non_null(m);
    enum { B = 4, T = 5, V = 7 };
    ExecModel *whole = exec_create(m, B, T, &d), *part = exec_create(m, 2, T, &d);
    assert_non_null(whole);
    assert_non_null(part);
    Rng r;
    rng_seed(&r, 12);
    assert_int_equal(exec_init_params(whole, &r, &d), 0);
    assert_int_equal(exec_copy_params(part, whole, &d), 0);
    exec_set_first_stream(part, 2);
    int32_t tok[T * B], ptok[T * 2];
    for (int i = 0; i < T * B; i++) tok[i] = (int32_t)rng_below(&r, V);
    for (int t = 0; t < T; t++)
        for (int s = 0; s < 2; s++) ptok[t * 2 + s] = tok[t * B + 2 + s];
    ExecInput in = {T, tok, NULL, NULL}, pin = {T, ptok, NULL, NULL};
    exec_seed_dropout(whole, 99);
    exec_seed_dropout(part, 99);
    for (int pass = 0; pass < 2; pass++) {     /* the second forward draws new masks */
        assert_int_equal(exec_forward(whole, &in, true, &d), 0);
        assert_int_equal(exec_forward(part, &pin, true, &d), 0);
        const float *y = exec_output(whole, NULL, NULL), *py = exec_output(part, NULL, NULL);
        for (int t = 0; t < T; t++)
            for (int s = 0; s < 2; s++)
                for (int j = 0; j < V; j++)
                    assert_float_equal(py[(t * 2 + s) * V + j], y[(t * B + 2 + s) * V + j],
                                       1e-6);
        assert_memory_equal(exec_rng(whole)->s, exec_rng(part)->s, sizeof(Rng));
    }
    float ytrain[T * B * V];
    memcpy(ytrain, exec_output(whole, NULL, NULL), sizeof ytrain);
    exec_reset_state(whole);
    assert_int_equal(exec_forward(whole, &in, false, &d), 0);
    double diff = 0;
    for (int i = 0; i < T * B * V; i++) diff += fabs(ytrain[i] - exec_output(whole, NULL, NULL)[i]);
    assert_true(diff > 1e-3);
    exec_free(whole);
    exec_free(part);
    ir_model_free(m);
    diag_free(&d);
}

/* Rank k of N runs columns [k B/N, (k+1) B/N); a batch N does not divide names the -np values
 * that do. */
static void test_split(void **state)
{
    (void)state;
    Diag d;
    diag_init(&d);
    int first, n;
    Dist one = {0, 1, false}, r1of3 = {1, 3, false};
    assert_int_equal(tdist_split(&one, 7, "m.rnn", &first, &n, &d), 0);
    assert_int_equal(first, 0);
    assert_int_equal(n, 7);
    assert_int_equal(tdist_split(&r1of3, 12, "m.rnn", &first, &n, &d), 0);
    assert_int_equal(first, 4);
    assert_int_equal(n, 4);
    assert_int_equal(tdist_split(&r1of3, 8, "m.rnn", &first, &n, &d), -1);
    expect_diag(&d, "m.rnn: error: the batch of 8 does not split over 3 processes");
    expect_diag(&d, "use mpirun -np 1, 2, 4, 8 (divisors of the batch)");
    diag_free(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parts_are_the_batch),
        cmocka_unit_test(test_dropout_per_stream),
        cmocka_unit_test(test_split),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
