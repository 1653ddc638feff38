/* test_util: the ground floor -- the bounded file reader, strict UTF-8 and the growable array. */
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

#include "util/array.h"
#include "util/diag.h"
#include "util/file.h"
#include "util/utf8.h"

/* Writes n bytes to a fresh temporary file whose name goes into path. */
static void write_temp(char *path, size_t cap, const char *bytes, size_t n)
{
    snprintf(path, cap, "/tmp/recur_test_util_XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, bytes, n), (ssize_t)n);
    close(fd);
}

static void test_read_regular(void **state)
{
    (void)state;
    char path[64];
    write_temp(path, sizeof path, "ab\0c", 4);
    Diag d;
    diag_init(&d);
    unsigned char *buf;
    size_t len;
    assert_int_equal(file_read_all(path, 4, &buf, &len, &d), 0);
    assert_int_equal(len, 4);
    assert_memory_equal(buf, "ab\0c", 5);   /* the NUL terminator is appended */
    free(buf);
    assert_int_equal(file_read_all(path, 3, &buf, &len, &d), -1);
    assert_null(buf);
    assert_string_equal(diag_message_text(&d, 0), "file is too large (4 bytes; the limit is 3)");
    diag_free(&d);
    unlink(path);
}

static void test_read_empty(void **state)
{
    (void)state;
    char path[64];
    write_temp(path, sizeof path, "", 0);
    Diag d;
    diag_init(&d);
    unsigned char *buf;
    size_t len = 9;
    assert_int_equal(file_read_all(path, 10, &buf, &len, &d), 0);
    assert_int_equal(len, 0);
    assert_int_equal(buf[0], 0);
    free(buf);
    diag_free(&d);
    unlink(path);
}

/* Only regular files are read: a directory, a device and a FIFO are refused by name, the FIFO
 * without blocking (no writer ever opens it). */
static void test_read_refusals(void **state)
{
    (void)state;
    char fifo[64];
    snprintf(fifo, sizeof fifo, "/tmp/recur_test_fifo_%ld", (long)getpid());
    unlink(fifo);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    Diag d;
    diag_init(&d);
    unsigned char *buf;
    size_t len;
    assert_int_equal(file_read_all("/tmp", 10, &buf, &len, &d), -1);
    assert_int_equal(file_read_all("/dev/zero", 1000, &buf, &len, &d), -1);
    assert_int_equal(file_read_all(fifo, 10, &buf, &len, &d), -1);
    assert_int_equal(file_read_all("/nonexistent/x", 10, &buf, &len, &d), -1);
    assert_null(buf);
    struct stat st;
    assert_int_equal(file_open_regular(fifo, &st, &d), -1);
    assert_int_equal(diag_error_count(&d), 5);
    assert_string_equal(diag_message_text(&d, 0), "cannot read: it is a directory, not a regular file");
    assert_string_equal(diag_message_text(&d, 1),
                        "cannot read: it is a character device, not a regular file");
    assert_string_equal(diag_message_text(&d, 2),
                        "cannot read: it is a FIFO (named pipe), not a regular file");
    assert_string_equal(diag_message_text(&d, 3), "cannot read: No such file or directory");
    diag_free(&d);
    unlink(fifo);
}

/* A valid sequence of each length, and one of each kind of invalid input. */
static void test_utf8_decode(void **state)
{
    (void)state;
    uint32_t cp = 0;
    assert_int_equal(utf8_decode((const uint8_t *)"A", 1, &cp), 1);
    assert_int_equal(cp, 'A');
    assert_int_equal(utf8_decode((const uint8_t *)"\xC3\xA9", 2, &cp), 2);
    assert_int_equal(cp, 0xE9);
    assert_int_equal(utf8_decode((const uint8_t *)"\xE2\x82\xAC", 3, &cp), 3);
    assert_int_equal(cp, 0x20AC);
    assert_int_equal(utf8_decode((const uint8_t *)"\xF0\x9F\x98\x80", 4, &cp), 4);
    assert_int_equal(cp, 0x1F600);
    cp = 7;
    static const char *const bad[] = {
        "\x80",             /* a continuation byte first */
        "\xC0\xAF",         /* overlong '/' */
        "\xE0\x80\xAF",     /* overlong, three bytes */
        "\xED\xA0\x80",     /* surrogate U+D800 */
        "\xF4\x90\x80\x80", /* U+110000 */
        "\xF8\x88\x80\x80", /* no such lead byte */
        "\xC3",             /* truncated */
        "\xE2\x28\xA1",     /* bad continuation */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(utf8_decode((const uint8_t *)bad[i], strlen(bad[i]), &cp), 0);
        assert_int_equal(utf8_length((const uint8_t *)bad[i], strlen(bad[i])), 0);
    }
    assert_int_equal(cp, 7);
    assert_int_equal(utf8_decode((const uint8_t *)"", 0, &cp), 0);
}

/* encode then decode gives back every boundary code point. */
static void test_utf8_round_trip(void **state)
{
    (void)state;
    static const uint32_t cps[] = {0, 0x7F, 0x80, 0x7FF, 0x800, 0xD7FF, 0xE000, 0xFFFF,
                                   0x10000, 0x10FFFF};
    for (size_t i = 0; i < sizeof cps / sizeof cps[0]; i++) {
        char out[4];
        int n = utf8_encode(cps[i], out);
        uint32_t back = 0xFFFFFFFF;
        assert_int_equal(utf8_decode((const uint8_t *)out, (size_t)n, &back), n);
        assert_int_equal(back, cps[i]);
        assert_int_equal(n, cps[i] < 0x80 ? 1 : cps[i] < 0x800 ? 2 : cps[i] < 0x10000 ? 3 : 4);
    }
}

/* Appending one at a time keeps every element; capacity doubles from 8; overflow is refused
 * without touching the array. */
static void test_array_reserve(void **state)
{
    (void)state;
    int *a = NULL;
    size_t cap = 0;
    for (int i = 0; i < 1000; i++) {
        assert_int_equal(ARRAY_RESERVE(a, cap, (size_t)i + 1), 0);
        a[i] = i * 3;
    }
    assert_int_equal(cap, 1024);
    for (int i = 0; i < 1000; i++)
        assert_int_equal(a[i], i * 3);
    int *before = a;
    assert_int_equal(ARRAY_RESERVE(a, cap, SIZE_MAX / 2), -1);
    assert_ptr_equal(a, before);
    assert_int_equal(cap, 1024);
    assert_int_equal(ARRAY_RESERVE(a, cap, 10), 0);   /* already there: no change */
    assert_int_equal(cap, 1024);
    free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_read_regular),
        cmocka_unit_test(test_read_empty),
        cmocka_unit_test(test_read_refusals),
        cmocka_unit_test(test_utf8_decode),
        cmocka_unit_test(test_utf8_round_trip),
        cmocka_unit_test(test_array_reserve),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
