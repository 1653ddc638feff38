/* test_diag: diagnostics rendering (exact text), positions in UTF-8 text, tabs, long lines,
 * the error cap, file loading errors, and did-you-mean suggestions. */
#define _XOPEN_SOURCE 700   /* posix_openpt, grantpt, unlockpt, ptsname */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include <cmocka.h>

#include "util/diag.h"
#include "util/file.h"

/* Everything diag_print writes, as a malloc'd string (through a temporary file). */
static char *render(const Diag *d)
{
    FILE *f = tmpfile();
    assert_non_null(f);
    diag_print(d, f);
    long n = ftell(f);
    assert_true(n >= 0);
    rewind(f);
    char *buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static SrcRange at(const Source *s, uint32_t b, uint32_t e)
{
    SrcRange r = {s, b, e};
    return r;
}

static void test_line_col(void **state)
{
    (void)state;
    Diag d;
    diag_init(&d);
    const char *t = "ab\ncd\n\xc3\xa9x\n";  /* "éx" on line 3: é is 2 bytes, 1 column */
    const Source *s = diag_add_source(&d, "t.rnn", t, strlen(t));
    assert_non_null(s);
    int line, col;
    diag_line_col(s, 0, &line, &col);
    assert_int_equal(line, 1);
    assert_int_equal(col, 1);
    diag_line_col(s, 2, &line, &col);   /* the '\n' of line 1 */
    assert_int_equal(line, 1);
    assert_int_equal(col, 3);
    diag_line_col(s, 4, &line, &col);
    assert_int_equal(line, 2);
    assert_int_equal(col, 2);
    diag_line_col(s, 8, &line, &col);   /* 'x' after é */
    assert_int_equal(line, 3);
    assert_int_equal(col, 2);
    diag_line_col(s, 1000, &line, &col);    /* clamped to the end */
    assert_int_equal(line, 4);
    assert_int_equal(col, 1);
    char buf[32];
    assert_string_equal(diag_pos(at(s, 8, 9), buf, sizeof buf), "3:2");
    SrcRange none = {0};
    assert_string_equal(diag_pos(none, buf, sizeof buf), "?");
    diag_free(&d);
}

static void test_render_error_with_help(void **state)
{
    (void)state;
    Diag d;
    diag_init(&d);
    const char *t = "model m {\n  lstn(128)\n}\n";
    const Source *s = diag_add_source(&d, "models/bad.rnn", t, strlen(t));
    DiagMessage *m = diag_error(&d, at(s, 12, 16), "unknown layer '%s'; did you mean '%s'?",
                                "lstn", "lstm");
    diag_help(m, "valid layers are %s", "embedding, lstm");
    assert_int_equal(diag_error_count(&d), 1);
    assert_string_equal(diag_message_text(&d, 0), "unknown layer 'lstn'; did you mean 'lstm'?");
    assert_null(diag_message_text(&d, 1));
    char *out = render(&d);
    assert_string_equal(out,
                        "models/bad.rnn:2:3: error: unknown layer 'lstn'; did you mean 'lstm'?\n"
                        "    2 |   lstn(128)\n"
                        "      |   ^~~~\n"
                        "help: valid layers are embedding, lstm\n");
    free(out);
    diag_free(&d);
}

static void test_render_note_warning_and_unlocated(void **state)
{
    (void)state;
    Diag d;
    diag_init(&d);
    const char *t = "model m {\n  lstm(3)\n";
    const Source *s = diag_add_source(&d, "a.rnn", t, strlen(t));
    DiagMessage *m = diag_warning(&d, at(s, 12, 16), "unused");
    diag_note(m, at(s, 0, 5), "opened %s", "here");
    diag_error_in(&d, "runs/a.ckpt", "tensor '%s' is [%d]", "w", 3);
    SrcRange none = {0};
    diag_error(&d, none, "no file given");
    assert_int_equal(diag_error_count(&d), 2);
    assert_int_equal(d.nwarnings, 1);
    char *out = render(&d);
    assert_string_equal(out,
                        "a.rnn:2:3: warning: unused\n"
                        "    2 |   lstm(3)\n"
                        "      |   ^~~~\n"
                        "a.rnn:1:1: note: opened here\n"
                        "    1 | model m {\n"
                        "      | ^~~~~\n"
                        "runs/a.ckpt: error: tensor 'w' is [3]\n"
                        "error: no file given\n");
    free(out);
    diag_free(&d);
}

/* Tabs are expanded to stops of 8 in both the line and the caret line; UTF-8 characters take
 * one column; control characters and invalid bytes show as '?'. */
static void test_render_tabs_utf8(void **state)
{
    (void)state;
    Diag d;
    diag_init(&d);
    const char *t = "\tx\xc3\xa9y = \x01\xff z\n";
    const Source *s = diag_add_source(&d, "u.rnn", t, strlen(t));
    diag_error(&d, at(s, 4, 5), "here");  /* 'y' after tab, x, é */
    diag_error(&d, at(s, 11, 12), "z");
    char *out = render(&d);
    assert_string_equal(out,
                        "u.rnn:1:4: error: here\n"
                        "    1 |         x\xc3\xa9y = ?? z\n"
                        "      |           ^\n"
                        "u.rnn:1:11: error: z\n"
                        "    1 |         x\xc3\xa9y = ?? z\n"
                        "      |                  ^\n");
    free(out);
    diag_free(&d);
}

/* A range running past its line is underlined to the end of the line; an empty range and a
 * range at the end of the text get one caret. */
static void test_render_ranges(void **state)
{
    (void)state;
    Diag d;
    diag_init(&d);
    const char *t = "abc\r\ndef";
    const Source *s = diag_add_source(&d, "r.rnn", t, strlen(t));
    diag_error(&d, at(s, 1, 7), "multi");
    diag_error(&d, at(s, 8, 8), "end");
    diag_error(&d, at(s, 2, 2), "empty");
    char *out = render(&d);
    assert_string_equal(out,
                        "r.rnn:1:2: error: multi\n"
                        "    1 | abc\n"
                        "      |  ^~\n"
                        "r.rnn:2:4: error: end\n"
                        "    2 | def\n"
                        "      |    ^\n"
                        "r.rnn:1:3: error: empty\n"
                        "    1 | abc\n"
                        "      |   ^\n");
    free(out);
    diag_free(&d);
}

/* A 10 MB line prints a short excerpt around the range, with "..." on the cut sides. */
static void test_render_long_line(void **state)
{
    (void)state;
    size_t n = 10u << 20;
    char *t = malloc(n + 1);
    assert_non_null(t);
    memset(t, 'a', n);
    memcpy(t + n / 2, "XYZ", 3);
    t[n] = '\n';
    Diag d;
    diag_init(&d);
    const Source *s = diag_add_source(&d, "long.rnn", t, n + 1);
    free(t);
    diag_error(&d, at(s, (uint32_t)(n / 2), (uint32_t)(n / 2 + 3)), "xyz");
    char *out = render(&d);
    assert_true(strlen(out) < 400);
    char expect_head[64];
    snprintf(expect_head, sizeof expect_head, "long.rnn:1:%zu: error: xyz\n", n / 2 + 1);
    assert_memory_equal(out, expect_head, strlen(expect_head));
    const char *l2 = strchr(out, '\n') + 1;
    const char *l3 = strchr(l2, '\n') + 1;
    /* "    1 | ..." then 30 'a', XYZ, more 'a', "..." */
    assert_memory_equal(l2, "    1 | ...aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaXYZa", 44);
    assert_non_null(strstr(l2, "a...\n"));
    assert_memory_equal(l3, "      |                                  ^~~\n", 44);
    free(out);
    diag_free(&d);
}

/* Past max_errors, errors are counted but not stored, and the printout says how many. */
static void test_error_cap(void **state)
{
    (void)state;
    Diag d;
    diag_init(&d);
    assert_int_equal(d.max_errors, 20);
    d.max_errors = 3;
    for (int i = 0; i < 5; i++) {
        SrcRange none = {0};
        DiagMessage *m = diag_error(&d, none, "e%d", i);
        if (i < 3)
            assert_non_null(m);
        else
            assert_null(m);
        diag_help(m, "h");  /* NULL is fine */
    }
    assert_int_equal(diag_error_count(&d), 5);
    char *out = render(&d);
    assert_string_equal(out, "error: e0\nhelp: h\nerror: e1\nhelp: h\nerror: e2\nhelp: h\n"
                             "note: 2 more errors not shown\n");
    free(out);
    diag_clear_messages(&d);
    assert_int_equal(diag_error_count(&d), 0);
    out = render(&d);
    assert_string_equal(out, "");
    free(out);
    diag_free(&d);
    assert_int_equal(d.max_errors, 3);  /* diag_free keeps the setting */
}

static void test_load_file(void **state)
{
    (void)state;
    char dir[] = "/tmp/test_diag_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256];
    snprintf(path, sizeof path, "%s/ok.rnn", dir);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fwrite("a\0b\n", 1, 4, f);  /* a NUL inside is kept */
    fclose(f);

    Diag d;
    diag_init(&d);
    const Source *s = diag_load_file(&d, path, 100);
    assert_non_null(s);
    assert_int_equal(s->len, 4);
    assert_memory_equal(s->text, "a\0b\n", 5);
    assert_string_equal(s->name, path);
    assert_int_equal(diag_error_count(&d), 0);

    assert_null(diag_load_file(&d, path, 3));   /* over the limit */
    assert_null(diag_load_file(&d, dir, 100));  /* a directory */
    char missing[300];
    snprintf(missing, sizeof missing, "%s/missing.rnn", dir);
    assert_null(diag_load_file(&d, missing, 100));
    assert_int_equal(diag_error_count(&d), 3);
    char *out = render(&d);
    char expect[2048];
    snprintf(expect, sizeof expect,
             "%s: error: file is too large (4 bytes; the limit is 3)\n"
             "%s: error: cannot read: it is a directory, not a regular file\n"
             "%s: error: cannot read: No such file or directory\n",
             path, dir, missing);
    assert_string_equal(out, expect);
    free(out);
    diag_free(&d);
    unlink(path);
    rmdir(dir);
}

/* /dev/zero has no size and never ends: a device is refused before it is read. */
static void test_load_unbounded_file(void **state)
{
    (void)state;
    Diag d;
    diag_init(&d);
    assert_null(diag_load_file(&d, "/dev/zero", 1 << 16));
    assert_int_equal(diag_error_count(&d), 1);
    assert_string_equal(diag_message_text(&d, 0),
                        "cannot read: it is a character device, not a regular file");
    diag_free(&d);
}

static void test_edit_distance(void **state)
{
    (void)state;
    assert_int_equal(diag_edit_distance("kitten", "sitting"), 3);
    assert_int_equal(diag_edit_distance("", "abc"), 3);
    assert_int_equal(diag_edit_distance("abc", ""), 3);
    assert_int_equal(diag_edit_distance("lstm", "lstm"), 0);
    assert_int_equal(diag_edit_distance("lstn", "lstm"), 1);
    assert_int_equal(diag_edit_distance("hiden", "hidden"), 1);
    assert_int_equal(diag_edit_distance("modle", "model"), 1);  /* a swap is one edit */
    assert_int_equal(diag_edit_distance("ab", "ba"), 1);
    assert_int_equal(diag_edit_distance("abc", "ca"), 3);
    /* long strings take the heap path */
    char a[200], b[200];
    memset(a, 'x', 199);
    a[199] = '\0';
    memcpy(b, a, 200);
    b[100] = 'y';
    assert_int_equal(diag_edit_distance(a, b), 1);
    assert_int_equal(diag_edit_distance(a, "x"), 198);
}

/* A 10 MB identifier in a message and its help is cut to a readable length (issue 14). */
static void test_long_identifier_cut(void **state)
{
    (void)state;
    size_t n = (size_t)10 << 20;
    char *name = malloc(n + 1);
    assert_non_null(name);
    memset(name, 'x', n);
    name[n] = '\0';
    Diag d;
    diag_init(&d);
    DiagMessage *m = diag_error_in(&d, "m.rnn", "unknown name '%s'", name);
    diag_help(m, "is '%s' spelled right?", name);
    assert_null(diag_suggest(name, (const char *const[]){"lstm", "gru"}, 2));
    char *out = render(&d);
    assert_true(strlen(out) < 300);
    assert_non_null(strstr(out, "m.rnn: error: unknown name 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx...'"));
    assert_non_null(strstr(out, "help: is 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx...' spelled"));
    free(out);
    free(name);
    diag_free(&d);
}

static void test_suggest(void **state)
{
    (void)state;
    const char *layers[] = {"embedding", "onehot", "rnn", "lstm", "gru", "dense"};
    assert_string_equal(diag_suggest("lstn", layers, 6), "lstm");
    assert_string_equal(diag_suggest("dens", layers, 6), "dense");
    assert_string_equal(diag_suggest("embeding", layers, 6), "embedding");
    assert_string_equal(diag_suggest("gur", layers, 6), "gru");
    assert_null(diag_suggest("transformer", layers, 6));
    assert_null(diag_suggest("xy", layers, 6));
    const char *opts[] = {"layers", "dropout", "hidden"};
    assert_string_equal(diag_suggest("hiden", opts, 3), "hidden");
    /* ties go to the first candidate */
    const char *tie[] = {"ab", "ac"};
    assert_string_equal(diag_suggest("aa", tie, 2), "ab");
    assert_null(diag_suggest("q", tie, 0));
}

/* What diag_print_styled writes with flags (malloc'd). */
static char *render_styled(const Diag *d, unsigned flags)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    diag_print_styled(d, f, flags);
    fclose(f);
    return buf;
}

/* The closing summary counts errors and warnings as clang does; colour wraps the location,
 * the level, the text and the carets in ANSI sequences and changes nothing else. */
static void test_styled_print(void **state)
{
    (void)state;
    Diag d;
    diag_init(&d);
    const Source *s = diag_add_source(&d, "m.rnn", "dense(4)\n", 9);
    char *none = render_styled(&d, DIAG_PRINT_SUMMARY);
    assert_string_equal(none, "");
    diag_warning(&d, at(s, 0, 5), "w");
    char *one = render_styled(&d, DIAG_PRINT_SUMMARY);
    assert_non_null(strstr(one, "\n1 warning generated.\n"));
    diag_help(diag_error(&d, at(s, 6, 7), "bad size"), "try 5");
    diag_error_in(&d, "--set", "bad");
    char *plain = render_styled(&d, 0), *sum = render_styled(&d, DIAG_PRINT_SUMMARY);
    assert_null(strstr(plain, "generated"));
    assert_int_equal(strlen(sum), strlen(plain) + strlen("1 warning and 2 errors generated.\n"));
    assert_non_null(strstr(sum, "1 warning and 2 errors generated.\n"));
    char *color = render_styled(&d, DIAG_PRINT_COLOR);
    assert_non_null(strstr(color, "\033[1mm.rnn:1:7: \033[1;31merror: \033[0m\033[1mbad size"
                                  "\033[0m\n"));
    assert_non_null(strstr(color, "\033[1;35mwarning: "));
    assert_non_null(strstr(color, "|       \033[1;32m^\033[0m\n"));
    assert_non_null(strstr(color, "\033[1mhelp:\033[0m try 5\n"));
    /* without the escape sequences, the coloured text is the plain text */
    char *strip = malloc(strlen(color) + 1);
    size_t k = 0;
    for (const char *p = color; *p;) {
        if (*p == '\033') {
            while (*p && *p != 'm')
                p++;
            p += *p == 'm';
        } else {
            strip[k++] = *p++;
        }
    }
    strip[k] = '\0';
    assert_string_equal(strip, plain);
    free(none);
    free(one);
    free(plain);
    free(sum);
    free(color);
    free(strip);
    diag_free(&d);
}

/* Colour only on a terminal (a pseudo-terminal here), never on a file, and not with NO_COLOR
 * set to something or TERM=dumb. */
static void test_color_wanted(void **state)
{
    (void)state;
    FILE *file = tmpfile();
    assert_non_null(file);
    assert_false(diag_color_wanted(file));
    fclose(file);
    int master = posix_openpt(O_RDWR | O_NOCTTY);
    if (master < 0 || grantpt(master) || unlockpt(master) || !ptsname(master)) {
        printf("skipped the terminal case: no pseudo-terminal (%s)\n", strerror(errno));
        return;
    }
    FILE *tty = fopen(ptsname(master), "w");
    assert_non_null(tty);
    const char *old_term = getenv("TERM");
    char *term = old_term ? strdup(old_term) : NULL;
    unsetenv("NO_COLOR");
    setenv("TERM", "xterm", 1);
    assert_true(diag_color_wanted(tty));
    setenv("NO_COLOR", "", 1);
    assert_true(diag_color_wanted(tty));
    setenv("NO_COLOR", "1", 1);
    assert_false(diag_color_wanted(tty));
    unsetenv("NO_COLOR");
    setenv("TERM", "dumb", 1);
    assert_false(diag_color_wanted(tty));
    if (term)
        setenv("TERM", term, 1);
    else
        unsetenv("TERM");
    free(term);
    fclose(tty);
    close(master);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_line_col),
        cmocka_unit_test(test_render_error_with_help),
        cmocka_unit_test(test_render_note_warning_and_unlocated),
        cmocka_unit_test(test_render_tabs_utf8),
        cmocka_unit_test(test_render_ranges),
        cmocka_unit_test(test_render_long_line),
        cmocka_unit_test(test_error_cap),
        cmocka_unit_test(test_load_file),
        cmocka_unit_test(test_load_unbounded_file),
        cmocka_unit_test(test_edit_distance),
        cmocka_unit_test(test_suggest),
        cmocka_unit_test(test_long_identifier_cut),
        cmocka_unit_test(test_styled_print),
        cmocka_unit_test(test_color_wanted),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
