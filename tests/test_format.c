/* test_format: the weight-format table (src/io/format.c): detection by content on files torch,
 * numpy and recur wrote, output format by extension, the same-file check, the WeightSet
 * helpers and the metadata encoding, and write -> read round trips of .pt and .npz with tensors
 * of every rank (including 0-d and empty ones). */
#include "io_testutil.h"

#include <sys/stat.h>

#include "io/fileio.h"
#include "io/format.h"
#include "io/ziparch.h"

static void test_extensions(void **state)
{
    (void)state;
    assert_int_equal(wf_for_extension("a.pt"), WF_TORCH_ZIP);
    assert_int_equal(wf_for_extension("dir/a.PTH"), WF_TORCH_ZIP);
    assert_int_equal(wf_for_extension("a.ckpt"), WF_CKPT);
    assert_int_equal(wf_for_extension("a.safetensors"), WF_SAFETENSORS);
    assert_int_equal(wf_for_extension("a.npz"), WF_NPZ);
    assert_int_equal(wf_for_extension("a.npy"), WF_NPY);
    assert_int_equal(wf_for_extension("a.h5"), WF_KERAS_H5);
    assert_int_equal(wf_for_extension("a.onnx"), WF_ONNX);
    assert_int_equal(wf_for_extension("a.txt"), WF_NONE);
    assert_int_equal(wf_for_extension("pt"), WF_NONE);
    assert_int_equal(wf_for_extension(".pt"), WF_NONE);
    assert_int_equal(wf_for_extension("x/.pt"), WF_NONE);
    assert_int_equal(wf_for_extension("a.ptx"), WF_NONE);
    assert_non_null(strstr(wf_known_formats(), "PyTorch .pt (zip) (.pt .pth .bin)"));
}

/* The format detected for a fixture (by content), and the phrase for what is not one. */
static WfId detect(const char *path, const char **what)
{
    Diag d;
    diag_init(&d);
    WfId id = WF_COUNT;
    *what = NULL;
    assert_int_equal(wf_detect(path, &id, what, &d), 0);
    diag_free(&d);
    return id;
}

/* What a file's first bytes are, for "expected X, found Y" messages (issue 14 item 4). */
static void test_describe_bytes(void **state)
{
    (void)state;
    char b[96];
    const unsigned char st[] = {4, 0, 0, 0, 0, 0, 0, 0, '{', '}', ' ', ' '};
    assert_string_equal(io_describe_bytes((const unsigned char *)"RECURCKP\1", 9, b, sizeof b),
                        "a recur checkpoint");
    assert_string_equal(io_describe_bytes(st, sizeof st, b, sizeof b), "a safetensors file");
    assert_string_equal(io_describe_bytes((const unsigned char *)"\x93NUMPY\1\0", 8, b, sizeof b),
                        "a NumPy .npy file");
    assert_string_equal(io_describe_bytes((const unsigned char *)"PK\3\4", 4, b, sizeof b),
                        "a zip archive");
    assert_string_equal(io_describe_bytes((const unsigned char *)"\x80\x02}q", 4, b, sizeof b),
                        "a Python pickle");
    assert_string_equal(io_describe_bytes((const unsigned char *)"a,b\n1,2\n", 8, b, sizeof b),
                        "text");
    assert_string_equal(io_describe_bytes((const unsigned char *)"", 0, b, sizeof b),
                        "an empty file");
    assert_string_equal(io_describe_bytes((const unsigned char *)"XECURCKP\1\0", 10, b, sizeof b),
                        "the bytes 58 45 43 55 52 43 4b 50");
}

static void test_detect(void **state)
{
    Fix *f = *state;
    const char *what;
    assert_int_equal(detect(fixture("interchange/charlm.pt"), &what), WF_TORCH_ZIP);
    assert_int_equal(detect(fixture("interchange/charlm.legacy.pt"), &what), WF_TORCH_LEGACY);
    assert_int_equal(detect(fixture("interchange/charlm.npz"), &what), WF_NPZ);
    assert_int_equal(detect(fixture("interchange/charlm.compressed.npz"), &what), WF_NPZ);
    assert_int_equal(detect(fixture("torch_cli/charlm.weights.safetensors"), &what),
                     WF_SAFETENSORS);
    assert_int_equal(detect(fixture("lstm2/x.npy"), &what), WF_NPY);
    assert_int_equal(detect(fixture("torch_cli/charlm.rnn"), &what), WF_NONE);
    assert_string_equal(what, "a model file, not weights");
    assert_int_equal(spit(f->path, "hello\n", 6), 0);
    assert_int_equal(detect(f->path, &what), WF_NONE);
    assert_string_equal(what, "not a PyTorch .pt (zip) file (its extension says so, but the bytes "
                              "do not): found text");   /* f->path ends in .pt */
    assert_int_equal(spit(f->path, "", 0), 0);
    assert_int_equal(detect(f->path, &what), WF_NONE);
    /* a zip that is neither */
    Diag d;
    diag_init(&d);
    ZipOut z;
    assert_int_equal(ziparch_create(&z, f->path, &d), 0);
    assert_int_equal(ziparch_add(&z, "notes.txt", "hi", 2, &d), 0);
    assert_int_equal(ziparch_commit(&z, &d), 0);
    assert_int_equal(detect(f->path, &what), WF_NONE);
    assert_non_null(strstr(what, "a zip archive, but neither"));
    /* a missing file is an error, not a format */
    WfId id;
    assert_int_equal(wf_detect("/nonexistent/x.pt", &id, &what, &d), -1);
    diag_free(&d);
}

static void test_check_output(void **state)
{
    Fix *f = *state;
    Diag d;
    diag_init(&d);
    WfId id;
    char out[700], link[700];
    snprintf(out, sizeof out, "%s/o.pt", f->dir);
    assert_int_equal(wf_check_output(fixture("interchange/charlm.pt"), out, &id, &d), 0);
    assert_int_equal(id, WF_TORCH_ZIP);
    assert_int_equal(spit(out, "x", 1), 0);
    snprintf(link, sizeof link, "%s/l.pt", f->dir);
    assert_int_equal(symlink(out, link), 0);
    assert_int_equal(wf_check_output(out, link, &id, &d), -1);
    assert_non_null(strstr(diag_text(&d), "the output is the input file itself"));
    diag_clear_messages(&d);
    assert_int_equal(wf_check_output(out, "x.npy", &id, &d), -1);
    assert_non_null(strstr(diag_text(&d), "recur does not write NumPy .npy files"));
    assert_int_equal(wf_check_output(out, "x.weights", &id, &d), -1);
    assert_int_equal(id, WF_NONE);
    diag_free(&d);
}

static void test_set_helpers(void **state)
{
    (void)state;
    WeightSet w = {0};
    const int64_t shape[1] = {2};
    const float v[2] = {1, 2};
    assert_non_null(ckpt_add_tensor(&w.tensors, "a", 1, shape, v));
    assert_non_null(ckpt_add_tensor(&w.tensors, "b", 1, shape, v));
    assert_int_equal(wf_set_how(&w, 1, "transposed"), 0);
    assert_int_equal(wf_set_how(&w, 1, "gates i,f,c,o -> i,f,g,o"), 0);
    assert_int_equal(w.nhow, 2);
    assert_null(w.how[0]);
    assert_string_equal(w.how[1], "transposed; gates i,f,c,o -> i,f,g,o");
    assert_int_equal(wf_set_how(&w, 2, "x"), -1);
    assert_int_equal(wf_set_note(&w, "float%d tensors converted", 16), 0);
    assert_int_equal(wf_set_note(&w, "float%d tensors converted", 16), 0);
    assert_int_equal(w.nnotes, 1);
    assert_int_equal(wf_set_meta(&w, "k", "1"), 0);
    assert_int_equal(wf_set_meta(&w, "k", "2"), 0);
    assert_int_equal(w.meta.n, 1);
    assert_string_equal(safetensors_meta_get(&w.meta, "k"), "2");
    WeightSet c;
    assert_int_equal(wf_set_copy(&w, &c), 0);
    assert_tensor_lists_equal(&w.tensors, &c.tensors);
    assert_string_equal(safetensors_meta_get(&c.meta, "k"), "2");
    wf_set_free(&c);
    wf_set_free(&w);
}

/* A checkpoint's model part survives metadata, bytes of the vocabulary included. */
static void test_meta_round_trip(void **state)
{
    (void)state;
    Checkpoint a, b;
    ckpt_init(&a);
    ckpt_init(&b);
    const unsigned char vocab[] = {0, 'a', 0xc3, 0xa9, 0xff};
    assert_int_equal(ckpt_set_source(&a, "m.rnn", "model m {}\n", 11), 0);
    assert_int_equal(ckpt_add_override(&a, "vocab=5"), 0);
    assert_int_equal(ckpt_add_override(&a, "hidden=3"), 0);
    assert_int_equal(ckpt_set_vocab(&a, vocab, sizeof vocab), 0);
    assert_int_equal(ckpt_set_hyper(&a, "vocab_level", 1), 0);
    WeightSet w = {0};
    assert_int_equal(wf_meta_from_checkpoint(&a, &w), 0);
    assert_string_equal(safetensors_meta_get(&w.meta, WF_META_VOCAB), "0061c3a9ff");
    assert_int_equal(wf_meta_to_checkpoint(&w.meta, "x", &b), 0);
    assert_string_equal(b.source_name, "m.rnn");
    assert_string_equal(b.source_text, "model m {}\n");
    assert_int_equal(b.noverrides, 2);
    assert_string_equal(b.overrides[1], "hidden=3");
    assert_int_equal(b.vocab_len, sizeof vocab);
    assert_memory_equal(b.vocab, vocab, sizeof vocab);
    double level = 0;
    assert_true(ckpt_get_hyper(&b, "vocab_level", &level) && level == 1);
    WeightSet empty = {0};
    Checkpoint c;
    ckpt_init(&c);
    assert_int_equal(wf_meta_to_checkpoint(&empty.meta, "x", &c), 1);
    ckpt_free(&a);
    ckpt_free(&b);
    ckpt_free(&c);
    wf_set_free(&w);
}

/* Tensors of rank 0 to 4 (one empty) through a format and back, bit for bit. */
static void round_trip(Fix *f, WfId id, const char *file)
{
    WeightSet w = {0}, back;
    const int64_t s0[1] = {0}, s1[1] = {3}, s2[2] = {2, 3}, s4[4] = {1, 2, 1, 2};
    float v[6] = {1.5f, -0.0f, 3e-38f, 1e30f, -7, 0.1f};
    assert_non_null(ckpt_add_tensor(&w.tensors, "scalar", 0, s0, v));
    assert_non_null(ckpt_add_tensor(&w.tensors, "empty", 1, s0, NULL));
    assert_non_null(ckpt_add_tensor(&w.tensors, "vec.bias", 1, s1, v));
    assert_non_null(ckpt_add_tensor(&w.tensors, "mat.weight", 2, s2, v));
    assert_non_null(ckpt_add_tensor(&w.tensors, "four", 4, s4, v + 2));
    char path[700];
    snprintf(path, sizeof path, "%s/%s", f->dir, file);
    Diag d;
    diag_init(&d);
    int before = count_entries(f->dir);
    assert_int_equal(wf_write(id, path, &w, &d), 0);
    WfId got;
    assert_int_equal(wf_check_input(path, &got, &d), 0);
    assert_int_equal(got, id);
    int rc = wf_read(id, path, NULL, &back, &d);
    if (rc)
        fprintf(stderr, "%s", diag_text(&d));
    assert_int_equal(rc, 0);
    assert_tensor_lists_equal(&w.tensors, &back.tensors);
    wf_set_free(&w);
    wf_set_free(&back);
    assert_int_equal(count_entries(f->dir), before + 1);   /* no temporary file left */
    diag_free(&d);
}

static void test_round_trips(void **state)
{
    round_trip(*state, WF_TORCH_ZIP, "w.pt");
    round_trip(*state, WF_NPZ, "w.npz");
    round_trip(*state, WF_SAFETENSORS, "w.safetensors");
}

static int setup(void **state) { return fix_setup(state, "f.bin"); }

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_extensions),
        cmocka_unit_test(test_describe_bytes),
        cmocka_unit_test_setup_teardown(test_detect, setup, fix_teardown),
        cmocka_unit_test_setup_teardown(test_check_output, setup, fix_teardown),
        cmocka_unit_test(test_set_helpers),
        cmocka_unit_test(test_meta_round_trip),
        cmocka_unit_test_setup_teardown(test_round_trips, setup, fix_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
