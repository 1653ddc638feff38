/* test_safetensors: a file from an independent writer (tests/fixtures/safetensors, made by
 * make_safetensors.py with json+struct+numpy) loads bit-exactly; our files round-trip, also from
 * and back to a checkpoint; every layout violation is a clear error naming file and tensor. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "io/checkpoint.h"
#include "io/fileio.h"
#include "io/npy.h"
#include "io/safetensors.h"
#include "io_testutil.h"

/* Each test gets its own temporary directory; f->path is dir/w.safetensors. */
static int setup(void **state)
{
    return fix_setup(state, "w.safetensors");
}

static void test_independent_fixture(void **state)
{
    (void)state;
    char path[1024];
    snprintf(path, sizeof path, "%s", fixture("safetensors/small.safetensors"));
    Diag d;
    diag_init(&d);
    CkptTensorList l;
    SafetensorsMeta meta;
    int rc = safetensors_read(path, &l, &meta, &d);
    if (rc)
        fprintf(stderr, "%s", diag_text(&d));
    assert_int_equal(rc, 0);
    NpyArray want;
    assert_int_equal(npy_read(fixture("safetensors/small_expected.npy"), &want, &d), 0);
    assert_int_equal(want.dtype, NPY_F32);

    static const char *names[] = {"emb.weight", "bias_half", "gate_bf16", "dbl", "scalar", "empty"};
    static const int ndims[] = {2, 1, 2, 1, 0, 2};
    static const int64_t counts[] = {12, 9, 4, 3, 1, 0};
    assert_int_equal(l.n, 6);
    int64_t at = 0;
    for (int i = 0; i < 6; i++) {
        assert_string_equal(l.items[i].name, names[i]);
        assert_int_equal(l.items[i].ndim, ndims[i]);
        assert_int_equal(l.items[i].count, counts[i]);
        if (counts[i])
            assert_memory_equal(l.items[i].data, (float *)want.data + at,
                                (size_t)counts[i] * sizeof(float));
        at += counts[i];
    }
    assert_int_equal(at, want.count);
    assert_int_equal(l.items[0].shape[0], 3);
    assert_int_equal(l.items[0].shape[1], 4);
    assert_int_equal(l.items[5].shape[1], 3);
    /* spot checks independent of NumPy: 2^-24 (smallest f16 subnormal) and bf16 truncation */
    assert_true(l.items[1].data[3] == ldexpf(1.0f, -24));
    assert_true(isnan(l.items[1].data[7]));
    assert_true(signbit(l.items[1].data[4]) && l.items[1].data[4] == 0.0f);
    assert_true(l.items[2].data[1] == -3.140625f);
    assert_string_equal(safetensors_meta_get(&meta, "format"), "pt");
    assert_string_equal(safetensors_meta_get(&meta, "writer"), "make_safetensors.py");
    assert_null(safetensors_meta_get(&meta, "nope"));
    npy_free(&want);
    ckpt_tensors_free(&l);
    safetensors_meta_free(&meta);
    diag_free(&d);
}

/* Every f16 bit pattern against the definition, computed with ldexp:
 *   e == 0: (-1)^s m 2^-24;  0 < e < 31: (-1)^s (1024 + m) 2^(e-25);  e == 31: Inf or NaN. */
static void test_f16_exhaustive(void **state)
{
    (void)state;
    for (uint32_t h = 0; h < 65536; h++) {
        int s = h >> 15, e = (h >> 10) & 31, m = h & 1023;
        float got = safetensors_f16_to_f32((uint16_t)h);
        if (e == 31) {
            assert_true(m ? isnan(got) : isinf(got));
            assert_int_equal(!!signbit(got), s);
            continue;
        }
        double v = e == 0 ? ldexp(m, -24) : ldexp(1024 + m, e - 25);
        float want = (float)(s ? -v : v);
        assert_memory_equal(&got, &want, 4);
    }
    assert_true(safetensors_bf16_to_f32(0x3f80) == 1.0f);
    assert_true(safetensors_bf16_to_f32(0xc040) == -3.0f);
}

/* A list with awkward names and values. */
static void make_list(CkptTensorList *l)
{
    memset(l, 0, sizeof *l);
    int64_t s[3] = {2, 3, 2};
    float v[12];
    for (int i = 0; i < 12; i++)
        v[i] = (float)i / 3.0f - 2.0f;
    v[4] = NAN;
    v[5] = -INFINITY;
    assert_non_null(ckpt_add_tensor(l, "layer \"0\"/W\\x", 3, s, v));
    assert_non_null(ckpt_add_tensor(l, "b", 1, s, v + 7));
    assert_non_null(ckpt_add_tensor(l, "s", 0, NULL, v + 1));
    int64_t z[2] = {4, 0};
    assert_non_null(ckpt_add_tensor(l, "z", 2, z, NULL));
    assert_non_null(ckpt_add_tensor(l, "ünïcode", 1, s, v + 2));
}

static void test_round_trip(void **state)
{
    Fix *f = *state;
    CkptTensorList l, r;
    make_list(&l);
    Diag d;
    diag_init(&d);
    const char *extra[] = {"source", "m.rnn", "step", "12", NULL};
    assert_int_equal(safetensors_write(f->path, &l, extra, &d), 0);
    assert_int_equal(count_entries(f->dir), 1);
    SafetensorsMeta meta;
    assert_int_equal(safetensors_read(f->path, &r, &meta, &d), 0);
    assert_tensor_lists_equal(&l, &r);
    assert_int_equal(meta.n, 3);
    assert_string_equal(meta.keys[0], "format");
    assert_string_equal(meta.values[0], "pt");
    assert_string_equal(safetensors_meta_get(&meta, "step"), "12");

    size_t n;
    unsigned char *b = slurp(f->path, &n);
    uint64_t hl = io_le64(b);
    assert_int_equal(hl % 8, 0);
    assert_int_equal(n, 8 + hl + 4 * (12 + 2 + 1 + 0 + 2));
    char head[512];   /* the CRC-32 of the data buffer comes last in the metadata (issue 14) */
    snprintf(head, sizeof head, "{\"__metadata__\":{\"format\":\"pt\",\"source\":\"m.rnn\",\"step\":\"12\","
                       "\"recur.crc32\":\"%08x\"},"
                       "\"layer \\\"0\\\"/W\\\\x\":{\"dtype\":\"F32\",\"shape\":[2,3,2],"
                       "\"data_offsets\":[0,48]},\"b\":{\"dtype\":\"F32\",\"shape\":[2],"
                       "\"data_offsets\":[48,56]},\"s\":{\"dtype\":\"F32\",\"shape\":[],"
                       "\"data_offsets\":[56,60]}", io_crc32(0, b + 8 + hl, n - 8 - hl));
    assert_memory_equal(b + 8, head, strlen(head));
    free(b);
    ckpt_tensors_free(&r);
    safetensors_meta_free(&meta);

    /* metadata is optional for reading */
    assert_int_equal(safetensors_read(f->path, &r, NULL, &d), 0);
    ckpt_tensors_free(&r);
    ckpt_tensors_free(&l);
    assert_int_equal(diag_error_count(&d), 0);
    diag_free(&d);
}

/* checkpoint -> safetensors -> checkpoint keeps every tensor bit-identical. */
static void test_checkpoint_bridge(void **state)
{
    Fix *f = *state;
    char ck[700], ck2[700];
    snprintf(ck, sizeof ck, "%s/a.ckpt", f->dir);
    snprintf(ck2, sizeof ck2, "%s/b.ckpt", f->dir);
    Checkpoint c, c2, c3;
    ckpt_init(&c);
    make_list(&c.params);
    Diag d;
    diag_init(&d);
    assert_int_equal(ckpt_write(ck, &c, &d), 0);
    assert_int_equal(ckpt_read(ck, &c2, &d), 0);
    assert_int_equal(safetensors_write(f->path, &c2.params, NULL, &d), 0);
    ckpt_init(&c3);
    assert_int_equal(safetensors_read(f->path, &c3.params, NULL, &d), 0);
    assert_int_equal(ckpt_write(ck2, &c3, &d), 0);
    ckpt_free(&c3);
    assert_int_equal(ckpt_read(ck2, &c3, &d), 0);
    assert_tensor_lists_equal(&c.params, &c3.params);
    ckpt_free(&c);
    ckpt_free(&c2);
    ckpt_free(&c3);
    assert_int_equal(diag_error_count(&d), 0);
    diag_free(&d);
}

/* Writes an 8-byte length + the JSON + `data` bytes of zeros, then expects the reader to fail
 * with a message naming the path and containing want. */
static void bad(const char *path, const char *json, size_t data, const char *want)
{
    size_t jn = strlen(json);
    unsigned char *b = calloc(1, 8 + jn + data + 1);
    io_put_le64(b, jn);
    memcpy(b + 8, json, jn);
    spit(path, b, 8 + jn + data);
    free(b);
    Diag d;
    diag_init(&d);
    CkptTensorList l;
    SafetensorsMeta m;
    assert_int_equal(safetensors_read(path, &l, &m, &d), -1);
    assert_int_equal(l.n, 0);
    assert_int_equal(m.n, 0);
    const char *t = diag_text(&d);
    if (!strstr(t, path) || !strstr(t, want))
        fprintf(stderr, "for JSON %s:\n", json);
    assert_names_file(t, path, want);
    diag_free(&d);
}

#define T(name, dt, shape, b, e) \
    "\"" name "\":{\"dtype\":\"" dt "\",\"shape\":" shape ",\"data_offsets\":[" b "," e "]}"

static void test_layout_errors_each(void **state)
{
    Fix *f = *state;
    const char *p = f->path;
    /* the well-formed base case reads */
    const char *good = "{" T("a", "F32", "[2]", "0", "8") "," T("b", "F16", "[2,1]", "8", "12") "}";
    size_t jn = strlen(good);
    unsigned char b[256] = {0};
    io_put_le64(b, jn);
    memcpy(b + 8, good, jn);
    spit(p, b, 8 + jn + 12);
    CkptTensorList l;
    Diag d;
    diag_init(&d);
    assert_int_equal(safetensors_read(p, &l, NULL, &d), 0);
    assert_int_equal(l.n, 2);
    ckpt_tensors_free(&l);
    diag_free(&d);

    bad(p, "{" T("a", "F32", "[2]", "0", "8") "," T("b", "F16", "[2,1]", "8", "12") "}", 10,
        "tensor 'b': data_offsets [8, 12] run past the 10-byte data buffer");
    bad(p, "{" T("a", "F32", "[2]", "0", "8") "," T("b", "F16", "[2,1]", "8", "12") "}", 14,
        "2 bytes after the last tensor belong to no tensor");
    bad(p, "{" T("a", "F32", "[2]", "0", "8") "," T("b", "F16", "[2,1]", "6", "10") "}", 10,
        "tensor 'b' overlaps tensor 'a'");
    bad(p, "{" T("a", "F32", "[2]", "0", "8") "," T("b", "F16", "[2,1]", "10", "14") "}", 14,
        "gap of 2 unused bytes before tensor 'b'");
    bad(p, "{" T("a", "F32", "[3]", "0", "8") "}", 8,
        "tensor 'a': data_offsets span 8 bytes but shape x F32 needs 12");
    bad(p, "{" T("a", "F32", "[2]", "0", "8") "," T("a", "F32", "[2]", "8", "16") "}", 16,
        "tensor 'a' appears twice");
    bad(p, "{" T("a", "F32", "[2]", "0", "8") "," T("\\u0061", "F32", "[2]", "8", "16") "}", 16,
        "a tensor name appears twice");
    bad(p, "{" T("a", "I64", "[1]", "0", "8") "}", 8, "tensor 'a': unsupported dtype 'I64'");
    bad(p, "{" T("a", "F32", "[-1]", "0", "0") "}", 0, "tensor 'a': shape holds");
    bad(p, "{" T("a", "F32", "[2.0]", "0", "8") "}", 8, "tensor 'a': shape holds");
    bad(p, "{" T("a", "F32", "[1,1,1,1,1,1,1,1,1]", "0", "4") "}", 4, "tensor 'a': 9 dimensions");
    bad(p, "{" T("a", "F32", "[4294967296,4294967296]", "0", "4") "}", 4, "absurdly large");
    bad(p, "{" T("a", "F32", "[1]", "8", "4") "}", 4, "0 <= begin <= end");
    bad(p, "{" T("a", "F32", "[1]", "-4", "0") "}", 4, "0 <= begin <= end");
    bad(p, "{\"a\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4, "tensor 'a': entry needs");
    bad(p, "{\"a\":[]}", 0, "tensor 'a': entry needs");
    bad(p, "{\"__metadata__\":{\"format\":1}}", 0, "value for 'format' is not a string");
    bad(p, "{\"__metadata__\":[]}", 0, "\"__metadata__\" is not an object");
    bad(p, "{\"a\": ", 0, "malformed safetensors header");
    bad(p, "{\"a\":{}} x", 0, "text after the JSON object");
    bad(p, "[1, 2]", 0, "does not start with '{'");
    bad(p, "{\"x\":tru}", 0, "malformed safetensors header");
}

static void test_foreign_truncated_absurd(void **state)
{
    Fix *f = *state;
    const char *p = f->path;
    Diag d;
    CkptTensorList l;
#define FAILS(want)                                                   \
    do {                                                              \
        diag_init(&d);                                                \
        assert_int_equal(safetensors_read(p, &l, NULL, &d), -1);      \
        assert_non_null(strstr(diag_text(&d), p));                    \
        assert_non_null(strstr(diag_text(&d), want));                 \
        diag_free(&d);                                                \
    } while (0)
    spit(p, "\x89PNG\r\n\x1a\n\0\0\0\rIHDR", 16);
    FAILS("header length");
    spit(p, "RECURCKP\x01\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 24);
    FAILS("is absurd");
    spit(p, "\x10\0\0\0", 4);
    FAILS("too short");
    spit(p, "\x10\0\0\0\0\0\0\0{}", 10);
    FAILS("truncated safetensors file");
    spit(p, "\x02\0\0\0\0\0\0\0{\0", 10);
    FAILS("NUL byte");
    unsigned char h[16] = {0};
    io_put_le64(h, UINT64_MAX);
    spit(p, h, 16);
    FAILS("is absurd");
    diag_init(&d);
    assert_int_equal(safetensors_read("/nonexistent/x.safetensors", &l, NULL, &d), -1);
    assert_non_null(strstr(diag_text(&d), "/nonexistent/x.safetensors: error: cannot read"));
    diag_free(&d);

    /* the independent fixture cut at every offset */
    size_t n;
    unsigned char *full = slurp(fixture("safetensors/small.safetensors"), &n);
    assert_non_null(full);
    for (size_t cut = 0; cut < n; cut++) {
        spit(p, full, cut);
        diag_init(&d);
        assert_int_equal(safetensors_read(p, &l, NULL, &d), -1);
        assert_non_null(strstr(diag_text(&d), p));
        assert_int_equal(l.n, 0);
        diag_free(&d);
    }
    free(full);
#undef FAILS
}

/* Every single-bit flip of the independent fixture: a flip in the data buffer still reads (any
 * bits are a float); a flip in the length or JSON either reads or fails cleanly, never crashes
 * (run under AddressSanitizer in CI). */
static void test_every_bit_flip(void **state)
{
    Fix *f = *state;
    size_t n;
    unsigned char *full = slurp(fixture("safetensors/small.safetensors"), &n);
    assert_non_null(full);
    size_t data_at = 8 + io_le64(full);
    unsigned char *b = malloc(n);
    int failed = 0;
    for (size_t bit = 0; bit < 8 * n; bit++) {
        memcpy(b, full, n);
        b[bit / 8] ^= (unsigned char)(1u << (bit % 8));
        spit(f->path, b, n);
        Diag d;
        diag_init(&d);
        CkptTensorList l;
        int rc = safetensors_read(f->path, &l, NULL, &d);
        if (bit / 8 >= data_at)
            assert_int_equal(rc, 0);
        if (rc == 0) {
            assert_int_equal(diag_error_count(&d), 0);
            ckpt_tensors_free(&l);
        } else {
            assert_int_equal(l.n, 0);
            assert_non_null(strstr(diag_text(&d), f->path));
            failed++;
        }
        diag_free(&d);
    }
    assert_true(failed > 8 * 8);   /* at least every length-field bit */
    free(b);
    free(full);
}

static void test_write_errors(void **state)
{
    Fix *f = *state;
    CkptTensorList l;
    make_list(&l);
    Diag d;
    diag_init(&d);
    assert_int_equal(safetensors_write("/nonexistent/recur/w.safetensors", &l, NULL, &d), -1);
    assert_non_null(strstr(diag_text(&d), "/nonexistent/recur/w.safetensors: error: cannot write"));
    diag_free(&d);

    free(l.items[1].name);
    l.items[1].name = strdup("__metadata__");
    diag_init(&d);
    assert_int_equal(safetensors_write(f->path, &l, NULL, &d), -1);
    assert_non_null(strstr(diag_text(&d), "'__metadata__': reserved name"));
    diag_free(&d);
    free(l.items[1].name);
    l.items[1].name = strdup("s");   /* duplicate of items[2] */
    diag_init(&d);
    assert_int_equal(safetensors_write(f->path, &l, NULL, &d), -1);
    assert_non_null(strstr(diag_text(&d), "'s': duplicate name"));
    diag_free(&d);
    free(l.items[1].name);
    l.items[1].name = strdup("b");
    l.items[0].count = 11;
    diag_init(&d);
    assert_int_equal(safetensors_write(f->path, &l, NULL, &d), -1);
    assert_non_null(strstr(diag_text(&d), "count does not match"));
    diag_free(&d);
    assert_int_equal(count_entries(f->dir), 0);
    ckpt_tensors_free(&l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_independent_fixture),
        cmocka_unit_test(test_f16_exhaustive),
        cmocka_unit_test_setup_teardown(test_round_trip, setup, fix_teardown),
        cmocka_unit_test_setup_teardown(test_checkpoint_bridge, setup, fix_teardown),
        cmocka_unit_test_setup_teardown(test_layout_errors_each, setup, fix_teardown),
        cmocka_unit_test_setup_teardown(test_foreign_truncated_absurd, setup, fix_teardown),
        cmocka_unit_test_setup_teardown(test_every_bit_flip, setup, fix_teardown),
        cmocka_unit_test_setup_teardown(test_write_errors, setup, fix_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
