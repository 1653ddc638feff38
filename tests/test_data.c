/* test_data: text streams (exact windows, carried state, epochs, validation), UTF-8 and byte
 * vocabularies, CSV rows (labels, regression, padding, header, bad rows named by line),
 * separate validation files (text and csv, mapped to the training vocabulary/classes), the
 * generated tasks (checked against their definitions) and exact save/restore of positions. */
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

#include "train/data.h"
#include "train_testutil.h"

static DataConfig text_cfg(const char *path, int B, int bptt, double valid)
{
    DataConfig c = data_defaults();
    c.kind = DATA_TEXT;
    c.path = path;
    c.batch = B;
    c.bptt = bptt;
    c.valid = valid;
    return c;
}

static DataConfig csv_cfg(const char *path, int B, double valid)
{
    DataConfig c = data_defaults();
    c.kind = DATA_CSV;
    c.path = path;
    c.batch = B;
    c.valid = valid;
    return c;
}

/* "abcdefghijklmnopqrstuvwxyz" with B=2, bptt=3, no validation: streams of 13 tokens
 * (a..m, n..z), 4 windows per epoch ((13-1)/3), each input/target pair exact. */
static void test_text_windows(void **state)
{
    (void)state;
    const char *txt = "abcdefghijklmnopqrstuvwxyz";
    char *path = temp_file(txt, 26);
    Diag d;
    diag_init(&d);
    DataSet ds;
    DataConfig c = text_cfg(path, 2, 3, 0);
    assert_int_equal(data_open(&ds, &c, &d), 0);
    assert_int_equal(ds.vocab.size, 26);
    assert_int_equal(ds.batches_per_epoch, 4);
    assert_int_equal(data_valid_batches(&ds), 0);
    for (int e = 0; e < 2; e++)
        for (int w = 0; w < 4; w++) {
            const DataBatch *b = data_next(&ds);
            assert_int_equal(b->T, 3);
            assert_int_equal(b->B, 2);
            assert_true(b->reset == (w == 0));
            for (int t = 0; t < 3; t++)
                for (int s = 0; s < 2; s++) {
                    int pos = s * 13 + w * 3 + t;   /* 'a' has id 0 */
                    assert_int_equal(b->ids[t * 2 + s], pos);
                    assert_int_equal(b->target_ids[t * 2 + s], pos + 1);
                }
            assert_int_equal(b->ntargets, 6);
        }
    assert_int_equal(ds.pos.epoch, 2);
    data_free(&ds);
    diag_free(&d);
    remove_temp(path);
}

/* The last 20% is validation: 100 tokens "0123456789" x 10 -> 80 train, 20 valid; B=2, bptt=4:
 * valid streams of 10, windows of 4, 4, 1 (masked) targets. */
static void test_text_valid(void **state)
{
    (void)state;
    char txt[101];
    for (int i = 0; i < 100; i++)
        txt[i] = (char)('0' + i % 10);
    char *path = temp_file(txt, 100);
    Diag d;
    diag_init(&d);
    DataSet ds;
    DataConfig c = text_cfg(path, 2, 4, 0.2);
    assert_int_equal(data_open(&ds, &c, &d), 0);
    assert_int_equal(ds.ntrain, 80);
    assert_int_equal(ds.batches_per_epoch, (40 - 1) / 4);
    assert_int_equal(data_valid_batches(&ds), 3);
    int64_t counted = 0;
    for (int64_t i = 0; i < 3; i++) {
        const DataBatch *b = data_valid_batch(&ds, i);
        assert_true(b->reset == (i == 0));
        for (int t = 0; t < 4; t++)
            for (int s = 0; s < 2; s++) {
                int k = t * 2 + s;
                int64_t off = i * 4 + t;
                if (off < 9) {
                    assert_true(b->mask[k] == 1);
                    assert_int_equal(b->ids[k], (80 + s * 10 + off) % 10);
                    assert_int_equal(b->target_ids[k], (80 + s * 10 + off + 1) % 10);
                } else {
                    assert_true(b->mask[k] == 0);
                    assert_int_equal(b->target_ids[k], -1);
                }
            }
        counted += b->ntargets;
    }
    assert_int_equal(counted, 18);
    data_free(&ds);
    diag_free(&d);
    remove_temp(path);
}

/* UTF-8: "é" and "€" are one token each, sorted by code point after ASCII; the serialised
 * vocabulary decodes back to the same set. Invalid UTF-8 is an error naming the file and
 * suggesting level=byte, which then works. */
static void test_text_utf8_and_bytes(void **state)
{
    (void)state;
    const char *txt = "caf\xc3\xa9 \xe2\x82\xac caf\xc3\xa9 \xe2\x82\xac ab";
    char *path = temp_file(txt, strlen(txt));
    Diag d;
    diag_init(&d);
    DataSet ds;
    DataConfig c = text_cfg(path, 1, 2, 0);
    assert_int_equal(data_open(&ds, &c, &d), 0);
    /* distinct: ' ' a b c f é € */
    assert_int_equal(ds.vocab.size, 7);
    assert_int_equal(ds.vocab.codes[0], ' ');
    assert_int_equal(ds.vocab.codes[5], 0xE9);
    assert_int_equal(ds.vocab.codes[6], 0x20AC);
    assert_int_equal(ds.ntokens, 16);
    assert_int_equal(ds.tokens[3], 5);
    char u[4];
    assert_int_equal(data_vocab_utf8(&ds.vocab, 6, u), 3);
    assert_memory_equal(u, "\xe2\x82\xac", 3);
    uint8_t *bytes;
    size_t n;
    assert_int_equal(data_vocab_bytes(&ds.vocab, &bytes, &n, &d), 0);
    assert_int_equal(n, 5 + 2 + 3);
    Vocab v;
    assert_int_equal(data_vocab_from_bytes(&v, DATA_CHAR, bytes, n, &d), 0);
    assert_int_equal(v.size, 7);
    assert_memory_equal(v.codes, ds.vocab.codes, 7 * sizeof(uint32_t));
    assert_int_equal(data_vocab_id(&v, 0x20AC), 6);
    assert_int_equal(data_vocab_id(&v, 'z'), -1);
    data_vocab_free(&v);
    free(bytes);
    data_free(&ds);
    remove_temp(path);

    const char bad[] = "ab\xff\xfe" "abababababab";
    path = temp_file(bad, sizeof bad - 1);
    c = text_cfg(path, 1, 2, 0);
    assert_int_equal(data_open(&ds, &c, &d), -1);
    expect_diag(&d, "invalid UTF-8 at byte 2");
    expect_diag(&d, "level=byte");
    c.level = DATA_BYTE;
    assert_int_equal(data_open(&ds, &c, &d), 0);
    assert_int_equal(ds.vocab.size, 4);     /* a b 0xfe 0xff */
    assert_int_equal(ds.vocab.codes[3], 0xff);
    data_free(&ds);
    diag_free(&d);
    remove_temp(path);
}

/* eval: a checkpoint's vocabulary maps the text (ids follow it, not the text's own set), the
 * whole file is the evaluation split, and an unknown character is named. */
static void test_text_fixed_vocab(void **state)
{
    (void)state;
    Diag d;
    diag_init(&d);
    Vocab v;
    assert_int_equal(data_vocab_from_bytes(&v, DATA_CHAR, (const uint8_t *)"\nabcd", 5, &d), 0);
    char *path = temp_file("dbca\ndbca\ndbca\n", 15);
    DataSet ds;
    DataConfig c = text_cfg(path, 1, 4, 0);
    c.vocab = &v;
    c.eval_all = true;
    assert_int_equal(data_open(&ds, &c, &d), 0);
    assert_int_equal(ds.vocab.size, 5);
    assert_int_equal(ds.ntrain, 0);
    assert_int_equal(data_valid_batches(&ds), 4);   /* 14 targets in windows of 4 */
    const DataBatch *b = data_valid_batch(&ds, 0);
    assert_int_equal(b->ids[0], 4);     /* 'd' is id 4 in "\nabcd" */
    assert_int_equal(b->target_ids[0], 2);
    assert_int_equal(b->ids[3], 1);
    assert_int_equal(b->target_ids[3], 0);
    data_free(&ds);
    remove_temp(path);
    path = temp_file("abzzcy", 6);
    c = text_cfg(path, 1, 2, 0);
    c.vocab = &v;
    assert_int_equal(data_open(&ds, &c, &d), -1);
    expect_diag(&d, "2 characters are not in the model's vocabulary: 'y', 'z'");
    remove_temp(path);
    data_vocab_free(&v);
    diag_free(&d);
}

static void test_text_errors(void **state)
{
    (void)state;
    Diag d;
    diag_init(&d);
    DataSet ds;
    DataConfig c = text_cfg("/nonexistent/corpus.txt", 2, 4, 0);
    assert_int_equal(data_open(&ds, &c, &d), -1);
    expect_diag(&d, "/nonexistent/corpus.txt: error: cannot read: No such file");

    char *path = temp_file("", 0);
    c = text_cfg(path, 2, 4, 0);
    assert_int_equal(data_open(&ds, &c, &d), -1);
    char want[256];
    snprintf(want, sizeof want, "%s: error: file is empty", path);
    expect_diag(&d, want);
    remove_temp(path);

    path = temp_file("0123456789", 10);
    c = text_cfg(path, 2, 8, 0);
    assert_int_equal(data_open(&ds, &c, &d), -1);
    expect_diag(&d, "too small: 10 training tokens make 2 streams of 5");
    expect_diag(&d, "lower batch or bptt");
    remove_temp(path);
    diag_free(&d);
}

/* A separate validation text (valid_path): the whole training file is trained on, the other
 * file is the validation split mapped with the training vocabulary. Training "abcdabcd..." (40
 * tokens, ids a=0 .. d=3), validation "dcbadcba" (8 tokens); B=2, bptt=3: training streams of
 * 20 (6 windows), validation streams of 4 (one window of 3 targets). A character the training
 * text lacks is an error naming it and the training file. */
static void test_text_valid_file(void **state)
{
    (void)state;
    char txt[41];
    for (int i = 0; i < 40; i++)
        txt[i] = (char)('a' + i % 4);
    char *path = temp_file(txt, 40);
    char *vpath = temp_file("dcbadcba", 8);
    Diag d;
    diag_init(&d);
    DataSet ds;
    DataConfig c = text_cfg(path, 2, 3, 0);
    c.valid_path = vpath;
    assert_int_equal(data_open(&ds, &c, &d), 0);
    assert_int_equal(ds.vocab.size, 4);
    assert_int_equal(ds.ntrain, 40);
    assert_int_equal(ds.ntokens, 48);
    assert_int_equal(ds.batches_per_epoch, (20 - 1) / 3);
    assert_int_equal(data_valid_batches(&ds), 1);
    const DataBatch *b = data_valid_batch(&ds, 0);
    for (int t = 0; t < 3; t++)
        for (int s = 0; s < 2; s++) {
            int k = t * 2 + s;
            assert_int_equal(b->ids[k], 3 - t);             /* d c b a d c b a */
            assert_int_equal(b->target_ids[k], 3 - (t + 1));
        }
    assert_int_equal(b->ntargets, 6);
    data_free(&ds);
    /* eval --data: the whole given file is the validation set; valid_path is not read */
    c.eval_all = true;
    c.valid_path = "/nonexistent/valid.txt";
    assert_int_equal(data_open(&ds, &c, &d), 0);
    assert_int_equal(ds.ntrain, 0);
    data_free(&ds);
    assert_int_equal(diag_error_count(&d), 0);

    char *bad = temp_file("abXcYd", 6);
    c = text_cfg(path, 2, 3, 0);
    c.valid_path = bad;
    assert_int_equal(data_open(&ds, &c, &d), -1);
    expect_diag(&d, "2 characters are not in the vocabulary of the training text");
    expect_diag(&d, "'X', 'Y'");
    char *t = diag_text(&d);
    assert_non_null(strstr(t, bad));
    free(t);
    remove_temp(bad);
    remove_temp(vpath);
    remove_temp(path);
    diag_free(&d);
}

/* A separate validation CSV: its rows are the validation split in file order, labels mapped to
 * the training file's classes (names sorted: cat 0, dog 1); its own header is detected; an
 * unknown label is an error at its file and line. */
static void test_csv_valid_file(void **state)
{
    (void)state;
    const char *train = "dog,1,2\ncat,3\ndog,4\n";
    const char *valid = "label,x\ncat,9,8,7,6\ndog,5\n";
    char *path = temp_file(train, strlen(train));
    char *vpath = temp_file(valid, strlen(valid));
    Diag d;
    diag_init(&d);
    DataSet ds;
    DataConfig c = csv_cfg(path, 2, 0);
    c.valid_path = vpath;
    assert_int_equal(data_open(&ds, &c, &d), 0);
    assert_int_equal(ds.nrows, 5);
    assert_int_equal(ds.ntrain_rows, 3);
    assert_int_equal(ds.classes, 2);
    assert_int_equal(ds.T, 4);      /* padded to the longest row of both files */
    assert_int_equal(data_valid_batches(&ds), 1);
    const DataBatch *b = data_valid_batch(&ds, 0);
    assert_int_equal(b->target_ids[0], 0);
    assert_int_equal(b->target_ids[1], 1);
    assert_int_equal(b->lengths[0], 4);
    assert_true(b->x[3 * 2 + 0] == 6);
    assert_int_equal(b->lengths[1], 1);
    assert_true(b->x[1] == 5);
    data_free(&ds);

    const char *unknown = "cat,1\nbird,2\ndog,3\nfish,4\n";
    char *upath = temp_file(unknown, strlen(unknown));
    c.valid_path = upath;
    assert_int_equal(data_open(&ds, &c, &d), -1);
    char where[300];
    snprintf(where, sizeof where, "%s:2: error: label 'bird' is not a class of the training "
             "data", upath);
    expect_diag(&d, where);
    snprintf(where, sizeof where, "%s:4: error: label 'fish'", upath);
    expect_diag(&d, where);
    assert_int_equal(diag_error_count(&d), 2);
    remove_temp(upath);
    remove_temp(vpath);
    remove_temp(path);
    diag_free(&d);
}

/* The label kind is decided once by the first row (issue 14 item 3): a file of class numbers
 * with -1, 1e6 or a name in it, and a file of names with a number in it, are errors at their
 * file and line, not a silent switch of the whole file to names. */
static void test_csv_label_kind(void **state)
{
    (void)state;
    static const char *const files[] = {"0,1\n2,1\n-1,1\n10,1\n1e6,1\n", "cat,1\ndog,1\n7,1\n",
                                        "3,1\n0,1\ncat,1\n"};
    static const char *const want[][2] = {
        {":3: error: label '-1' is not a class number (0 to 999999), but the file's labels are "
         "class numbers", ":5: error: label '1e6' is not a class number"},
        {":3: error: label '7' is a number, but the file's labels are names",
         "help: the first row (line 1, label 'cat') decides the kind of every label"},
        {":3: error: label 'cat' is not a class number", NULL}};
    for (int i = 0; i < 3; i++) {
        char *path = temp_file(files[i], strlen(files[i]));
        DataConfig c = csv_cfg(path, 2, 0);
        Diag d;
        diag_init(&d);
        DataSet ds;
        assert_int_equal(data_open(&ds, &c, &d), -1);
        for (int k = 0; k < 2 && want[i][k]; k++) {
            char w[512];
            snprintf(w, sizeof w, "%s%s", want[i][k][0] == ':' ? path : "", want[i][k]);
            expect_diag(&d, w);
        }
        diag_free(&d);
        remove_temp(path);
    }
    const char *good = "0,1\n10,1\n2,1\n";   /* numbers stay numbers: "10" is class 10 */
    char *path = temp_file(good, strlen(good));
    DataConfig c = csv_cfg(path, 2, 0);
    Diag d;
    diag_init(&d);
    DataSet ds;
    assert_int_equal(data_open(&ds, &c, &d), 0);
    assert_int_equal(ds.classes, 11);
    assert_int_equal(ds.row_labels[1], 10);
    data_free(&ds);
    diag_free(&d);
    remove_temp(path);
}

/* Classification CSV with a header, names as labels, variable lengths and F=2. */
static void test_csv_labels(void **state)
{
    (void)state;
    const char *csv = "class,a1,b1,a2,b2\n"
                      "dog, 1, 2, 3, 4\n"
                      "\n# a comment\n"
                      "cat,5,6\n"
                      "dog,7,8,9,10,11,12\n"
                      "bird,0.5,-1e-1\n";
    char *path = temp_file(csv, strlen(csv));
    Diag d;
    diag_init(&d);
    DataSet ds;
    DataConfig c = csv_cfg(path, 3, 0.25);  /* 4 rows: the last one (bird) is validation */
    c.csv_features = 2;
    assert_int_equal(data_open(&ds, &c, &d), 0);
    assert_int_equal(ds.nrows, 4);
    assert_int_equal(ds.ntrain_rows, 3);
    assert_int_equal(ds.classes, 3);
    assert_string_equal(ds.class_names[0], "bird");
    assert_string_equal(ds.class_names[2], "dog");
    assert_int_equal(ds.T, 3);
    assert_int_equal(ds.in_width, 2);
    assert_int_equal(ds.batches_per_epoch, 1);
    const DataBatch *b = data_next(&ds);
    /* Every training row appears once, with its label and padded steps. */
    int seen = 0;
    for (int s = 0; s < 3; s++) {
        int len = b->lengths[s];
        float first = b->x[(0 * 3 + s) * 2];
        if (first == 1) { assert_int_equal(len, 2); assert_int_equal(b->target_ids[s], 2); }
        else if (first == 5) { assert_int_equal(len, 1); assert_int_equal(b->target_ids[s], 1); }
        else if (first == 7) { assert_int_equal(len, 3); assert_int_equal(b->target_ids[s], 2); }
        else fail_msg("unexpected row starting with %g", first);
        seen |= 1 << (int)(first / 3);
        for (int t = 0; t < 3; t++) {
            assert_true(b->mask[t * 3 + s] == (t < len ? 1.0f : 0.0f));
            if (t >= len) assert_true(b->x[(t * 3 + s) * 2 + 1] == 0);
        }
        if (first == 7) assert_true(b->x[(2 * 3 + s) * 2 + 1] == 12);
    }
    assert_int_equal(seen, 1 | 2 | 4);
    assert_int_equal(data_valid_batches(&ds), 1);
    b = data_valid_batch(&ds, 0);
    assert_int_equal(b->target_ids[0], 0);
    assert_true(fabsf(b->x[1] - -0.1f) < 1e-7f);
    assert_int_equal(b->target_ids[1], -1);     /* padding rows */
    assert_true(b->row_mask[1] == 0 && b->row_mask[0] == 1);
    assert_int_equal(b->ntargets, 1);
    data_free(&ds);
    diag_free(&d);
    remove_temp(path);
}

/* Regression CSV, no header, numeric class-free targets; then malformed rows named by line. */
static void test_csv_values_and_errors(void **state)
{
    (void)state;
    const char *csv = "0.5,1.5,1,2,3\n2,3,4\n";
    char *path = temp_file(csv, strlen(csv));
    Diag d;
    diag_init(&d);
    DataSet ds;
    DataConfig c = csv_cfg(path, 2, 0);
    c.csv_values = true;
    c.csv_targets = 2;
    assert_int_equal(data_open(&ds, &c, &d), 0);
    assert_int_equal(ds.target_kind, DATA_TARGET_VALUES);
    assert_int_equal(ds.out_width, 2);
    assert_int_equal(ds.T, 3);
    assert_int_equal(ds.row_len[1], 1);
    assert_true(ds.row_targets[0] == 0.5f && ds.row_targets[1] == 1.5f);
    assert_true(ds.row_targets[2] == 2 && ds.row_targets[3] == 3);
    data_free(&ds);
    remove_temp(path);

    const char *bad = "label,x1,x2\n1,0.5,0.25\n2,0.1,zz\n3\n1,1,2\n";
    path = temp_file(bad, strlen(bad));
    c = csv_cfg(path, 32, 0.05);     /* the defaults */
    assert_int_equal(data_open(&ds, &c, &d), -1);
    char want[256];
    snprintf(want, sizeof want, "%s:3: error: value in column 3 is not a number: 'zz'", path);
    expect_diag(&d, want);
    snprintf(want, sizeof want, "%s:4: error: expected 1 target column and at least 1 value",
             path);
    expect_diag(&d, want);
    assert_int_equal(diag_error_count(&d), 2);
    remove_temp(path);

    const char *odd = "1,1,2,3\n";
    path = temp_file(odd, strlen(odd));
    c.path = path;
    c.csv_features = 2;
    assert_int_equal(data_open(&ds, &c, &d), -1);
    snprintf(want, sizeof want, "%s:1: error: 3 values is not a multiple of features=2", path);
    expect_diag(&d, want);
    diag_free(&d);
    remove_temp(path);
}

/* RFC 4180 (libcsv): a quoted label may hold the delimiter, "" and a newline, and a quoted
 * number is a number; rows are named by the line they start on; an unclosed or stray quote
 * is an error at its line; quotes in a # comment line do not open a field. */
static void test_csv_rfc4180(void **state)
{
    (void)state;
    const char *csv = "\"label, with comma\",1,2\r\n"
                      "# a \"comment\n"
                      "\"say \"\"hi\"\"\",\"3\",4\n"
                      "\"two\nlines\",5,6\n"
                      "plain,7,8\n";
    char *path = temp_file(csv, strlen(csv));
    Diag d;
    diag_init(&d);
    DataSet ds;
    DataConfig c = csv_cfg(path, 4, 0);
    assert_int_equal(data_open(&ds, &c, &d), 0);
    assert_int_equal(ds.nrows, 4);
    assert_int_equal(ds.classes, 4);
    /* sorted: "label, with comma" < "plain" < "say \"hi\"" < "two\nlines" */
    assert_string_equal(ds.class_names[0], "label, with comma");
    assert_string_equal(ds.class_names[2], "say \"hi\"");
    assert_string_equal(ds.class_names[3], "two\nlines");
    assert_int_equal(ds.row_labels[1], 2);
    assert_true(ds.row_values[1][0] == 3 && ds.row_values[1][1] == 4);
    assert_int_equal(ds.row_labels[2], 3);
    data_free(&ds);
    remove_temp(path);

    const char *bad = "a,1,2\nb,1,x\"y\"\n";
    path = temp_file(bad, strlen(bad));
    c.path = path;
    assert_int_equal(data_open(&ds, &c, &d), -1);
    char want[256];
    snprintf(want, sizeof want, "%s:2: error: malformed CSV", path);
    expect_diag(&d, want);
    diag_clear_messages(&d);
    remove_temp(path);
    const char *open = "a,1,2\n\"b,1,2\nc,3,4\n";
    path = temp_file(open, strlen(open));
    c.path = path;
    assert_int_equal(data_open(&ds, &c, &d), -1);
    snprintf(want, sizeof want, "%s:2: error: malformed CSV: a quoted field is not closed", path);
    expect_diag(&d, want);
    /* and a bad row inside still names the line it starts on */
    diag_clear_messages(&d);
    remove_temp(path);
    const char *late = "a,1,2\n\"b\nb\",1,zz\n";
    path = temp_file(late, strlen(late));
    c.path = path;
    assert_int_equal(data_open(&ds, &c, &d), -1);
    snprintf(want, sizeof want, "%s:2: error: value in column 3 is not a number: 'zz'", path);
    expect_diag(&d, want);
    diag_free(&d);
    remove_temp(path);
}

/* Adding problem: one marker in each half, target = sum of the marked values, and the MSE of
 * always predicting 1 is close to 1/6 over many sequences. */
static void test_adding(void **state)
{
    (void)state;
    Diag d;
    diag_init(&d);
    DataSet ds;
    DataConfig c = data_defaults();
    c.kind = DATA_ADDING;
    c.length = 50;
    c.batch = 64;
    assert_int_equal(data_open(&ds, &c, &d), 0);
    assert_int_equal(ds.in_width, 2);
    assert_int_equal(ds.T, 50);
    double se = 0;
    int n = 0;
    for (int k = 0; k < 200; k++) {
        const DataBatch *b = data_next(&ds);
        assert_true(b->reset);
        for (int s = 0; s < 64; s++) {
            int m1 = 0, m2 = 0;
            double sum = 0;
            for (int t = 0; t < 50; t++) {
                const float *x = b->x + (t * 64 + s) * 2;
                assert_true(x[0] >= 0 && x[0] < 1);
                if (x[1] == 1) {
                    sum += x[0];
                    if (t < 25) m1++; else m2++;
                } else {
                    assert_true(x[1] == 0);
                }
            }
            assert_int_equal(m1, 1);
            assert_int_equal(m2, 1);
            assert_true(fabs(b->target[s] - sum) < 1e-6);
            se += (b->target[s] - 1.0) * (b->target[s] - 1.0);
            n++;
        }
    }
    double mse = se / n;
    assert_true(fabs(mse - 1.0 / 6) < 0.01);
    /* The validation set is the same at every evaluation, and differs from training. */
    assert_int_equal(data_valid_batches(&ds), (1000 + 63) / 64);
    float first = data_valid_batch(&ds, 0)->target[0];
    data_valid_batch(&ds, 3);
    assert_true(data_valid_batch(&ds, 0)->target[0] == first);
    const DataBatch *last = data_valid_batch(&ds, 15);
    assert_true(last->row_mask[63] == 1);   /* whole batches: no padding rows */
    data_free(&ds);
    diag_free(&d);
}

/* Accepts exactly the (plain) Reber strings B ... E by walking the grammar's transition graph. */
static bool reber_accepts(const int32_t *s, int n)
{
    /* ids: B0 E1 P2 S3 T4 V5 X6 */
    if (n < 2 || s[0] != 0 || s[n - 1] != 1) return false;
    int node = 1;
    for (int i = 1; i < n - 1; i++) {
        int c = s[i];
        switch (node) {
        case 1: node = c == 4 ? 2 : c == 2 ? 3 : -1; break;
        case 2: node = c == 3 ? 2 : c == 6 ? 4 : -1; break;
        case 3: node = c == 4 ? 3 : c == 5 ? 5 : -1; break;
        case 4: node = c == 6 ? 3 : c == 3 ? 6 : -1; break;
        case 5: node = c == 2 ? 4 : c == 5 ? 6 : -1; break;
        default: node = -1;
        }
        if (node < 0) return false;
    }
    return node == 6;
}

static void test_reber(void **state)
{
    (void)state;
    Diag d;
    diag_init(&d);
    DataSet ds;
    DataConfig c = data_defaults();
    c.kind = DATA_REBER;
    c.batch = 16;
    assert_int_equal(data_open(&ds, &c, &d), 0);
    assert_int_equal(ds.vocab.size, 7);
    for (int k = 0; k < 20; k++) {
        const DataBatch *b = data_next(&ds);
        for (int s = 0; s < 16; s++) {
            int n = b->lengths[s] + 1;
            int32_t str[64];
            str[0] = b->ids[s];
            for (int t = 0; t < n - 1; t++) {
                assert_int_equal(b->ids[t * 16 + s], t == 0 ? 0 : str[t]);
                str[t + 1] = b->target_ids[t * 16 + s];
                assert_true(b->mask[t * 16 + s] == 1);
            }
            for (int t = n - 1; t < b->T; t++) {
                assert_true(b->mask[t * 16 + s] == 0);
                assert_int_equal(b->target_ids[t * 16 + s], -1);
            }
            /* Embedded: B c <reber> c E with c in {T, P}. */
            assert_int_equal(str[0], 0);
            assert_true(str[1] == 4 || str[1] == 2);
            assert_int_equal(str[n - 2], str[1]);
            assert_int_equal(str[n - 1], 1);
            assert_true(reber_accepts(str + 2, n - 4));
        }
    }
    data_free(&ds);
    diag_free(&d);
}

static void test_copy(void **state)
{
    (void)state;
    Diag d;
    diag_init(&d);
    DataSet ds;
    DataConfig c = data_defaults();
    c.kind = DATA_COPY;
    c.length = 5;
    c.delay = 4;
    c.batch = 3;
    assert_int_equal(data_open(&ds, &c, &d), 0);
    assert_int_equal(ds.T, 14);
    const DataBatch *b = data_next(&ds);
    for (int s = 0; s < 3; s++)
        for (int t = 0; t < 14; t++) {
            int32_t in = b->ids[t * 3 + s], tg = b->target_ids[t * 3 + s];
            if (t < 5) assert_true(in >= 1 && in <= 8);
            else if (t == 8) assert_int_equal(in, 9);
            else assert_int_equal(in, 0);
            if (t < 9) assert_int_equal(tg, 0);
            else assert_int_equal(tg, b->ids[(t - 9) * 3 + s]);
        }
    data_free(&ds);
    diag_free(&d);
}

/* Takes 7 batches, saves the position, takes 9 more; a fresh DataSet restored to the saved
 * position gives the same 9 batches bit for bit (crossing an epoch boundary for csv/text). */
static void check_resume(const DataConfig *c)
{
    Diag d;
    diag_init(&d);
    DataSet a, b;
    assert_int_equal(data_open(&a, c, &d), 0);
    for (int k = 0; k < 7; k++)
        data_next(&a);
    DataPos saved = a.pos;
    size_t T = (size_t)a.T, B = (size_t)c->batch;
    size_t nin = a.in_width ? T * B * a.in_width * sizeof(float) : T * B * sizeof(int32_t);
    size_t ntg = a.target_kind == DATA_TARGET_STEP_IDS ? T * B * 4
                 : a.target_kind == DATA_TARGET_LABEL ? B * 4 : B * a.out_width * 4;
    unsigned char *want = malloc(9 * (nin + ntg));
    for (int k = 0; k < 9; k++) {
        const DataBatch *x = data_next(&a);
        memcpy(want + k * (nin + ntg), a.in_width ? (void *)x->x : (void *)x->ids, nin);
        memcpy(want + k * (nin + ntg) + nin,
               x->target ? (void *)x->target : (void *)x->target_ids, ntg);
    }
    assert_int_equal(data_open(&b, c, &d), 0);
    assert_int_equal(data_set_pos(&b, &saved, &d), 0);
    for (int k = 0; k < 9; k++) {
        const DataBatch *x = data_next(&b);
        assert_memory_equal(want + k * (nin + ntg), a.in_width ? (void *)x->x : (void *)x->ids,
                            nin);
        assert_memory_equal(want + k * (nin + ntg) + nin,
                            x->target ? (void *)x->target : (void *)x->target_ids, ntg);
    }
    assert_memory_equal(&a.pos, &b.pos, sizeof a.pos);
    DataPos badpos = saved;
    badpos.index = a.batches_per_epoch;
    assert_int_equal(data_set_pos(&b, &badpos, &d), -1);
    free(want);
    data_free(&a);
    data_free(&b);
    diag_free(&d);
}

static void test_resume_positions(void **state)
{
    (void)state;
    DataConfig c = data_defaults();
    c.batch = 4;
    c.kind = DATA_ADDING;
    check_resume(&c);
    c.kind = DATA_REBER;
    check_resume(&c);
    c.kind = DATA_COPY;
    check_resume(&c);

    char txt[400];
    for (int i = 0; i < 400; i++)
        txt[i] = (char)('a' + (i * 7) % 23);
    char *path = temp_file(txt, sizeof txt);
    c = text_cfg(path, 4, 20, 0.1);    /* 4 windows per epoch */
    check_resume(&c);
    remove_temp(path);

    char csv[4000] = "";
    for (int r = 0; r < 30; r++) {
        char line[100];
        snprintf(line, sizeof line, "%d,%d,%d%s\n", r % 3, r, r * 2, r % 4 ? ",1" : "");
        strcat(csv, line);
    }
    path = temp_file(csv, strlen(csv));
    c = csv_cfg(path, 4, 0.1);     /* 27 train rows, 7 batches per epoch */
    check_resume(&c);
    remove_temp(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_text_windows),
        cmocka_unit_test(test_text_valid),
        cmocka_unit_test(test_text_utf8_and_bytes),
        cmocka_unit_test(test_text_errors),
        cmocka_unit_test(test_text_fixed_vocab),
        cmocka_unit_test(test_csv_labels),
        cmocka_unit_test(test_csv_label_kind),
        cmocka_unit_test(test_csv_values_and_errors),
        cmocka_unit_test(test_csv_rfc4180),
        cmocka_unit_test(test_adding),
        cmocka_unit_test(test_reber),
        cmocka_unit_test(test_copy),
        cmocka_unit_test(test_resume_positions),
        cmocka_unit_test(test_text_valid_file),
        cmocka_unit_test(test_csv_valid_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
