/* test_npy: .npy reading and writing against files NumPy wrote (tests/fixtures/npy, made by
 * make_npy.py), exact header bytes, round trips, and every way a file can be bad. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <sys/stat.h>

#include "io/npy.h"
#include "io_testutil.h"

/* Reads a fixture; asserts success. */
static void read_ok(const char *rel, NpyArray *a)
{
    Diag d;
    diag_init(&d);
    int rc = npy_read(fixture(rel), a, &d);
    if (rc != 0)
        fprintf(stderr, "%s", diag_text(&d));
    assert_int_equal(rc, 0);
    assert_int_equal(diag_error_count(&d), 0);
    diag_free(&d);
}

/* Reads path expecting failure with a message that names the file and contains want. */
static void read_fails(const char *path, const char *want)
{
    Diag d;
    diag_init(&d);
    NpyArray a;
    memset(&a, 0x5a, sizeof a);
    assert_int_equal(npy_read(path, &a, &d), -1);
    assert_null(a.data);
    assert_int_equal(a.ndim, 0);
    assert_true(diag_error_count(&d) >= 1);
    assert_names_file(diag_text(&d), path, want);
    diag_free(&d);
}

static void test_numpy_fixtures(void **state)
{
    (void)state;
    NpyArray a;
    read_ok("npy/f4_2x3.npy", &a);
    assert_int_equal(a.dtype, NPY_F32);
    assert_int_equal(a.ndim, 2);
    assert_int_equal(a.shape[0], 2);
    assert_int_equal(a.shape[1], 3);
    assert_int_equal(a.count, 6);
    const float f[] = {1.5f, -2.0f, 3.25f, 0.0f, 1e-3f, -7.0f};
    assert_memory_equal(a.data, f, sizeof f);
    npy_free(&a);

    read_ok("npy/i8_scalar.npy", &a);
    assert_int_equal(a.dtype, NPY_I64);
    assert_int_equal(a.ndim, 0);
    assert_int_equal(a.count, 1);
    assert_int_equal(((int64_t *)a.data)[0], -42);
    npy_free(&a);

    read_ok("npy/i4_empty.npy", &a);
    assert_int_equal(a.dtype, NPY_I32);
    assert_int_equal(a.ndim, 2);
    assert_int_equal(a.shape[0], 0);
    assert_int_equal(a.shape[1], 5);
    assert_int_equal(a.count, 0);
    npy_free(&a);

    read_ok("npy/f8_v2.npy", &a);   /* version 2.0 */
    assert_int_equal(a.dtype, NPY_F64);
    assert_int_equal(a.count, 3);
    const double g[] = {0.1, -0.2, 1e300};
    assert_memory_equal(a.data, g, sizeof g);
    npy_free(&a);

    read_ok("npy/i4_v3.npy", &a);   /* version 3.0 */
    assert_int_equal(a.ndim, 3);
    assert_int_equal(a.shape[2], 4);
    for (int i = 0; i < 24; i++)
        assert_int_equal(((int32_t *)a.data)[i], i);
    npy_free(&a);
}

static void test_unsupported_fixtures(void **state)
{
    (void)state;
    char p[1024];
    snprintf(p, sizeof p, "%s", fixture("npy/f4_fortran.npy"));
    read_fails(p, "Fortran-order");
    snprintf(p, sizeof p, "%s", fixture("npy/f4_bigendian.npy"));
    read_fails(p, "big-endian");
    snprintf(p, sizeof p, "%s", fixture("npy/bool.npy"));
    read_fails(p, "unsupported dtype");
    read_fails("/nonexistent/recur/x.npy", "cannot read");
    read_fails(fixture("npy"), "not a regular file");
}

/* The written header is exactly what numpy.save writes for the same array. */
static void test_exact_header(void **state)
{
    (void)state;
    char *dir = make_tmpdir();
    assert_non_null(dir);
    char path[600];
    snprintf(path, sizeof path, "%s/a.npy", dir);
    float v[6] = {1.5f, -2.0f, 3.25f, 0.0f, 1e-3f, -7.0f};
    NpyArray a = {.dtype = NPY_F32, .ndim = 2, .shape = {2, 3}, .count = 6, .data = v};
    Diag d;
    diag_init(&d);
    assert_int_equal(npy_write(path, &a, &d), 0);
    size_t n1, n2;
    unsigned char *mine = slurp(path, &n1);
    unsigned char *theirs = slurp(fixture("npy/f4_2x3.npy"), &n2);
    assert_non_null(mine);
    assert_non_null(theirs);
    assert_int_equal(n1, n2);
    assert_memory_equal(mine, theirs, n1);
    free(mine);
    free(theirs);
    assert_int_equal(count_entries(dir), 1);   /* no temporary left behind */
    diag_free(&d);
    rm_tree(dir);
    free(dir);
}

/* Every dtype and a range of ranks (0-d, 1-d with the "(n,)" tuple, empty, 8-d) round-trip. */
static void test_round_trip(void **state)
{
    (void)state;
    char *dir = make_tmpdir();
    assert_non_null(dir);
    char path[600];
    snprintf(path, sizeof path, "%s/r.npy", dir);
    const NpyDtype types[] = {NPY_F32, NPY_F64, NPY_I32, NPY_I64};
    const int ndims[] = {0, 1, 2, 8, 3};
    for (size_t ti = 0; ti < 4; ti++) {
        for (size_t k = 0; k < 5; k++) {
            NpyArray a = {.dtype = types[ti], .ndim = ndims[k]};
            a.count = 1;
            for (int i = 0; i < a.ndim; i++) {
                a.shape[i] = k == 4 && i == 1 ? 0 : 1 + (i % 3);
                a.count *= a.shape[i];
            }
            size_t bytes = (size_t)a.count * npy_dtype_size(a.dtype);
            unsigned char *buf = malloc(bytes + 1);
            for (size_t i = 0; i < bytes; i++)
                buf[i] = (unsigned char)(i * 37 + ti);
            a.data = buf;
            Diag d;
            diag_init(&d);
            assert_int_equal(npy_write(path, &a, &d), 0);
            size_t flen;
            unsigned char *raw = slurp(path, &flen);
            assert_int_equal((flen - bytes) % 64, 0);   /* data 64-byte aligned */
            assert_int_equal(raw[flen - bytes - 1], '\n');
            free(raw);
            NpyArray b;
            assert_int_equal(npy_read(path, &b, &d), 0);
            assert_int_equal(b.dtype, a.dtype);
            assert_int_equal(b.ndim, a.ndim);
            assert_int_equal(b.count, a.count);
            assert_memory_equal(b.shape, a.shape, sizeof a.shape[0] * (size_t)a.ndim);
            if (bytes)
                assert_memory_equal(b.data, buf, bytes);
            npy_free(&b);
            free(buf);
            diag_free(&d);
        }
    }
    rm_tree(dir);
    free(dir);
}

/* Cutting a valid file at every offset is always reported, never a crash. */
static void test_truncation(void **state)
{
    (void)state;
    size_t n;
    unsigned char *full = slurp(fixture("npy/i4_v3.npy"), &n);
    assert_non_null(full);
    char *dir = make_tmpdir();
    assert_non_null(dir);
    char path[600];
    snprintf(path, sizeof path, "%s/t.npy", dir);
    for (size_t cut = 0; cut < n; cut++) {
        assert_int_equal(spit(path, full, cut), 0);
        read_fails(path, NULL);
    }
    /* and one byte too many is "trailing bytes" */
    unsigned char *more = malloc(n + 1);
    memcpy(more, full, n);
    more[n] = 0;
    spit(path, more, n + 1);
    read_fails(path, "trailing bytes");
    free(more);
    free(full);
    rm_tree(dir);
    free(dir);
}

/* Every single-bit flip of a NumPy-written file: flips in the data still read; flips in the
 * prefix or header either read or fail with a message, never crash. */
static void test_every_bit_flip(void **state)
{
    (void)state;
    size_t n;
    unsigned char *full = slurp(fixture("npy/f4_2x3.npy"), &n);
    assert_non_null(full);
    size_t data_at = n - 24;
    char *dir = make_tmpdir();
    assert_non_null(dir);
    char path[600];
    snprintf(path, sizeof path, "%s/f.npy", dir);
    unsigned char *b = malloc(n);
    int failed = 0;
    for (size_t bit = 0; bit < 8 * n; bit++) {
        memcpy(b, full, n);
        b[bit / 8] ^= (unsigned char)(1u << (bit % 8));
        spit(path, b, n);
        Diag d;
        diag_init(&d);
        NpyArray a;
        int rc = npy_read(path, &a, &d);
        if (bit / 8 >= data_at)
            assert_int_equal(rc, 0);
        if (rc == 0) {
            npy_free(&a);
        } else {
            assert_null(a.data);
            assert_non_null(strstr(diag_text(&d), path));
            failed++;
        }
        diag_free(&d);
    }
    assert_true(failed >= 6 * 8);   /* every bit of the magic */
    free(b);
    free(full);
    rm_tree(dir);
    free(dir);
}

/* Hand-forged version 1.0 file with the given dict text and data size. */
static void forge(const char *path, const char *dict, size_t data_bytes)
{
    size_t n = strlen(dict);
    size_t total = 10 + n + data_bytes;
    unsigned char *b = calloc(1, total);
    memcpy(b, "\x93NUMPY\x01\x00", 8);
    b[8] = (unsigned char)(n & 0xff);
    b[9] = (unsigned char)(n >> 8);
    memcpy(b + 10, dict, n);
    spit(path, b, total);
    free(b);
}

static void test_bad_headers(void **state)
{
    (void)state;
    char *dir = make_tmpdir();
    assert_non_null(dir);
    char path[600];
    snprintf(path, sizeof path, "%s/bad.npy", dir);

    spit(path, "\x89PNG\r\n\x1a\n\0\0\0\rIHDR", 16);
    read_fails(path, "not a .npy file");
    spit(path, "\x93NUMPY\x04\x00\x10\x00{}", 12);
    read_fails(path, "version 4.0");
    /* version 2 header length 0xFFFFFFF0 in a tiny file: refused before allocating */
    spit(path, "\x93NUMPY\x02\x00\xf0\xff\xff\xff{}", 14);
    read_fails(path, "header length exceeds");

    forge(path, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }\n", 24);
    NpyArray a;
    Diag d;
    diag_init(&d);
    assert_int_equal(npy_read(path, &a, &d), 0);   /* the forge itself is sound */
    npy_free(&a);
    diag_free(&d);

    forge(path, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }\n", 20);
    read_fails(path, "truncated");
    /* an absurd shape with a small file: refused from the sizes, no huge malloc */
    forge(path, "{'descr': '<f8', 'fortran_order': False, 'shape': (4000000000, 4000000000), }\n",
          8);
    read_fails(path, "absurdly large");
    forge(path, "{'descr': '<f8', 'fortran_order': False, 'shape': (1000000000000,), }\n", 8);
    read_fails(path, "truncated");
    forge(path, "{'descr': '<f4', 'fortran_order': False, 'shape': (-2, 3), }\n", 24);
    read_fails(path, "non-negative integer");
    forge(path, "{'descr': '<f4', 'fortran_order': False, 'shape': (1,1,1,1,1,1,1,1,1), }\n", 4);
    read_fails(path, "too many dimensions");
    forge(path, "{'descr': '<c8', 'fortran_order': False, 'shape': (1,), }\n", 8);
    read_fails(path, "unsupported dtype");
    forge(path, "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,), }\n", 4);
    read_fails(path, "structured");
    forge(path, "{'descr': '<f4', 'shape': (1,), }\n", 4);
    read_fails(path, "lacks");
    forge(path, "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'x': 1}\n", 4);
    read_fails(path, "unexpected key");
    forge(path, "{'descr': '<f4', 'fortran_order': False, 'shape': (1,) junk\n", 4);
    read_fails(path, "malformed");
    forge(path, "{'descr': '<f4', 'fortran_order': Maybe, 'shape': (1,), }\n", 4);
    read_fails(path, "True or False");
    forge(path, "['descr']\n", 4);
    read_fails(path, "not a dict");
    rm_tree(dir);
    free(dir);
}

/* Failed writes report the path and leave no file or temporary behind; a successful write
 * replaces an existing file. */
static void test_write_errors(void **state)
{
    (void)state;
    float v[2] = {1, 2};
    NpyArray a = {.dtype = NPY_F32, .ndim = 1, .shape = {2}, .count = 2, .data = v};
    Diag d;
    diag_init(&d);
    assert_int_equal(npy_write("/nonexistent/recur/out.npy", &a, &d), -1);
    assert_non_null(strstr(diag_text(&d), "/nonexistent/recur/out.npy: error: cannot write"));
    diag_free(&d);

    char *dir = make_tmpdir();
    assert_non_null(dir);
    char path[600], notdir[600];
    snprintf(notdir, sizeof notdir, "%s/file", dir);
    spit(notdir, "x", 1);
    snprintf(path, sizeof path, "%s/file/out.npy", dir);   /* parent is a regular file */
    diag_init(&d);
    assert_int_equal(npy_write(path, &a, &d), -1);
    assert_non_null(strstr(diag_text(&d), path));
    diag_free(&d);

    NpyArray bad = a;
    bad.count = 3;   /* inconsistent with the shape */
    snprintf(path, sizeof path, "%s/out.npy", dir);
    diag_init(&d);
    assert_int_equal(npy_write(path, &bad, &d), -1);
    assert_int_equal(count_entries(dir), 1);
    diag_free(&d);

    /* a read-only directory (root ignores permissions, so only checked for other users) */
    char ro[700], rofile[760];
    snprintf(ro, sizeof ro, "%s/ro", dir);
    assert_int_equal(mkdir(ro, 0555), 0);
    snprintf(rofile, sizeof rofile, "%s/out.npy", ro);
    diag_init(&d);
    if (geteuid() != 0) {
        assert_int_equal(npy_write(rofile, &a, &d), -1);
        assert_non_null(strstr(diag_text(&d), "out.npy: error: cannot write: Permission denied"));
        assert_int_equal(count_entries(ro), 0);
    }
    diag_free(&d);
    rmdir(ro);

    spit(path, "old contents", 12);
    diag_init(&d);
    assert_int_equal(npy_write(path, &a, &d), 0);
    NpyArray b;
    assert_int_equal(npy_read(path, &b, &d), 0);
    assert_memory_equal(b.data, v, sizeof v);
    npy_free(&b);
    assert_int_equal(count_entries(dir), 2);
    diag_free(&d);
    rm_tree(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_numpy_fixtures),
        cmocka_unit_test(test_unsupported_fixtures),
        cmocka_unit_test(test_exact_header),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_truncation),
        cmocka_unit_test(test_every_bit_flip),
        cmocka_unit_test(test_bad_headers),
        cmocka_unit_test(test_write_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
