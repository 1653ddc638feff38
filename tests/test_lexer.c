/* test_lexer: the token stream of the flex scanner (grammar/lexer.l): every token kind, values,
 * byte locations, newline handling, and the errors for bad bytes, bad strings and numbers,
 * nesting limits and huge lines. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "util/diag.h"
#include "lang/parse.h"
#include "parser.h"
#include "lexer.h"

typedef struct Lexed {
    int n;
    int tok[64];
    Loc loc[64];
    Tok val[64];
    long total;         /* all tokens, including those past the first 64 */
} Lexed;

/* Scans len bytes of text to the end, recording the first 64 tokens; diagnostics go to d. */
static void lex(const char *text, size_t len, Diag *d, Arena *arena, Lexed *out)
{
    const Source *src = diag_add_source(d, "t.rnn", text, len);
    assert_non_null(src);
    ParseCtx *ctx = calloc(1, sizeof *ctx);
    assert_non_null(ctx);
    ctx->src = src;
    ctx->arena = arena;
    ctx->d = d;
    ctx->at_stmt_start = true;
    yyscan_t sc;
    assert_int_equal(rnn_lex_init_extra(ctx, &sc), 0);
    YY_BUFFER_STATE b = rnn__scan_bytes(src->text, (int)src->len, sc);
    assert_non_null(b);
    memset(out, 0, sizeof *out);
    for (;;) {
        RNN_STYPE v;
        RNN_LTYPE l;
        memset(&v, 0, sizeof v);
        int t = rnn_lex(&v, &l, sc);
        if (out->n < 64) {
            out->tok[out->n] = t;
            out->loc[out->n] = l;
            out->val[out->n] = v.tok;
            out->n++;
        }
        out->total++;
        if (t == 0)
            break;
    }
    rnn__delete_buffer(b, sc);
    rnn_lex_destroy(sc);
    free(ctx);
}

static void lex_str(const char *text, Diag *d, Arena *a, Lexed *out)
{
    lex(text, strlen(text), d, a, out);
}

static void test_every_token_kind(void **state)
{
    (void)state;
    Diag d;
    diag_init(&d);
    Arena a = {0};
    Lexed x;
    lex_str("format const cell model data train input state param output repeat residual "
            "foo _x1 12 3.5 2e-3 .5 \"s\" ; { } ( ) [ ] , : = @ + - * /",
            &d, &a, &x);
    int expect[] = {FORMAT, CONST, CELL, MODEL, DATA, TRAIN, INPUT, STATE, PARAM, OUTPUT,
                    REPEAT, RESIDUAL, IDENT, IDENT, NUM, NUM, NUM, NUM, STRING, ';', '{', '}',
                    '(', ')', '[', ']', ',', ':', '=', '@', '+', '-', '*', '/', NEWLINE, 0};
    int n = (int)(sizeof expect / sizeof expect[0]);
    assert_int_equal(x.n, n);
    for (int i = 0; i < n; i++)
        assert_int_equal(x.tok[i], expect[i]);
    assert_string_equal(x.val[12].s, "foo");
    assert_string_equal(x.val[13].s, "_x1");
    assert_true(x.val[14].is_int);
    assert_true(x.val[14].num == 12.0);
    assert_false(x.val[15].is_int);
    assert_true(x.val[15].num == 3.5);
    assert_false(x.val[16].is_int);
    assert_true(x.val[16].num == 2e-3);
    assert_true(x.val[17].num == 0.5);
    assert_string_equal(x.val[18].s, "s");
    assert_int_equal(diag_error_count(&d), 0);
    arena_free(&a);
    diag_free(&d);
}

/* Byte locations [begin, end) of each token, including multi-byte characters in strings. */
static void test_locations(void **state)
{
    (void)state;
    Diag d;
    diag_init(&d);
    Arena a = {0};
    Lexed x;
    lex_str("ab  \"\xc3\xa9\" # c\n  x12", &d, &a, &x);
    assert_int_equal(x.n, 6);
    assert_int_equal(x.tok[5], 0);
    assert_int_equal(x.tok[0], IDENT);
    assert_int_equal(x.loc[0].begin, 0);
    assert_int_equal(x.loc[0].end, 2);
    assert_int_equal(x.tok[1], STRING);
    assert_int_equal(x.loc[1].begin, 4);
    assert_int_equal(x.loc[1].end, 8);
    assert_string_equal(x.val[1].s, "\xc3\xa9");
    assert_int_equal(x.tok[2], NEWLINE);
    assert_int_equal(x.loc[2].begin, 12);
    assert_int_equal(x.loc[2].end, 13);
    assert_int_equal(x.tok[3], IDENT);
    assert_int_equal(x.loc[3].begin, 15);
    assert_int_equal(x.loc[3].end, 18);
    assert_int_equal(x.tok[4], NEWLINE);   /* added at end of file */
    assert_int_equal(x.loc[4].begin, 18);
    assert_int_equal(x.loc[4].end, 18);
    assert_int_equal(diag_error_count(&d), 0);
    arena_free(&a);
    diag_free(&d);
}

/* Newlines are tokens at statement level and inside { }, blanks inside ( ) and [ ]. */
static void test_newlines(void **state)
{
    (void)state;
    Diag d;
    diag_init(&d);
    Arena a = {0};
    Lexed x;
    lex_str("f(1,\n2)\n{\n[3,\n4]}\n", &d, &a, &x);
    int expect[] = {IDENT, '(', NUM, ',', NUM, ')', NEWLINE, '{', NEWLINE, '[', NUM, ',', NUM,
                    ']', '}', NEWLINE, 0};
    int n = (int)(sizeof expect / sizeof expect[0]);
    assert_int_equal(x.n, n);
    for (int i = 0; i < n; i++)
        assert_int_equal(x.tok[i], expect[i]);
    arena_free(&a);
    diag_free(&d);
}

/* \" and \\ are the escapes; anything else after a backslash is an error. */
static void test_strings(void **state)
{
    (void)state;
    Diag d;
    diag_init(&d);
    Arena a = {0};
    Lexed x;
    lex_str("\"a\\\"b\\\\c\" \"\"", &d, &a, &x);
    assert_int_equal(x.tok[0], STRING);
    assert_string_equal(x.val[0].s, "a\"b\\c");
    assert_int_equal(x.tok[1], STRING);
    assert_string_equal(x.val[1].s, "");
    assert_int_equal(diag_error_count(&d), 0);

    lex_str("\"a\\nb\"", &d, &a, &x);
    assert_int_equal(x.tok[0], STRING);
    assert_int_equal(diag_error_count(&d), 1);
    assert_string_equal(diag_message_text(&d, 0), "unknown escape sequence '\\n' in string");
    arena_free(&a);
    diag_free(&d);
}

/* An unterminated string is reported at its opening quote, still returned, and scanning goes
 * on at the next line. */
static void test_unterminated_string(void **state)
{
    (void)state;
    Diag d;
    diag_init(&d);
    Arena a = {0};
    Lexed x;
    lex_str("x = \"abc\ny", &d, &a, &x);
    int expect[] = {IDENT, '=', STRING, NEWLINE, IDENT, NEWLINE, 0};
    assert_int_equal(x.n, 7);
    for (int i = 0; i < 7; i++)
        assert_int_equal(x.tok[i], expect[i]);
    assert_string_equal(x.val[2].s, "abc");
    assert_int_equal(diag_error_count(&d), 1);
    assert_string_equal(diag_message_text(&d, 0), "unterminated string");
    assert_int_equal(d.nmessages, 1);
    char buf[16];
    SrcRange r = {d.sources[0], 4, 5};
    assert_string_equal(diag_pos(r, buf, sizeof buf), "1:5");
    /* at end of file, with a trailing backslash */
    lex_str("\"abc\\", &d, &a, &x);
    assert_int_equal(x.tok[0], STRING);
    assert_int_equal(diag_error_count(&d), 2);
    arena_free(&a);
    diag_free(&d);
}

static void test_numbers(void **state)
{
    (void)state;
    Diag d;
    diag_init(&d);
    Arena a = {0};
    Lexed x;
    lex_str("0 007 1.25 1e3 2E+2 6.5e-1", &d, &a, &x);
    double v[] = {0, 7, 1.25, 1e3, 2e2, 6.5e-1};
    bool is_int[] = {true, true, false, false, false, false};
    for (int i = 0; i < 6; i++) {
        assert_int_equal(x.tok[i], NUM);
        assert_true(x.val[i].num == v[i]);
        assert_int_equal(x.val[i].is_int, is_int[i]);
    }
    assert_int_equal(diag_error_count(&d), 0);
    lex_str("12abc 1.5e 1e999 3..4", &d, &a, &x);
    assert_int_equal(diag_error_count(&d), 4);
    assert_string_equal(diag_message_text(&d, 0), "invalid number '12abc'");
    assert_string_equal(diag_message_text(&d, 1), "invalid number '1.5e'");
    assert_string_equal(diag_message_text(&d, 2), "number '1e999' is out of range");
    assert_string_equal(diag_message_text(&d, 3), "invalid number '3..4'");
    for (int i = 0; i < 4; i++)
        assert_int_equal(x.tok[i], NUM);    /* still numbers, to limit follow-on errors */
    arena_free(&a);
    diag_free(&d);
}

/* Bad bytes outside strings: one error per run of adjacent bad bytes; scanning continues. */
static void test_bad_bytes(void **state)
{
    (void)state;
    Diag d;
    diag_init(&d);
    Arena a = {0};
    Lexed x;
    static const char bad[] = "a \0 b \x01 c \xff\xfe d \xc3\xa9 e $ f";
    lex(bad, sizeof bad - 1, &d, &a, &x);
    int idents = 0;
    for (int i = 0; i < x.n; i++)
        idents += x.tok[i] == IDENT;
    assert_int_equal(idents, 6);
    assert_int_equal(diag_error_count(&d), 5);
    assert_string_equal(diag_message_text(&d, 0), "unexpected NUL byte");
    assert_string_equal(diag_message_text(&d, 1), "unexpected control character 0x01");
    assert_string_equal(diag_message_text(&d, 2), "invalid UTF-8 byte 0xff");
    assert_string_equal(diag_message_text(&d, 3), "unexpected character '\xc3\xa9'");
    assert_string_equal(diag_message_text(&d, 4), "unexpected character '$'");
    arena_free(&a);
    diag_free(&d);
}

/* Invalid bytes inside comments and strings are errors too, located at the byte. */
static void test_bad_bytes_in_text(void **state)
{
    (void)state;
    Diag d;
    diag_init(&d);
    Arena a = {0};
    Lexed x;
    static const char text[] = "# ok \xc3\xa9 bad \xff\n\"x\xc0\xaf\" \"\0\" # \x02";
    lex(text, sizeof text - 1, &d, &a, &x);
    assert_int_equal(diag_error_count(&d), 4);
    assert_string_equal(diag_message_text(&d, 0), "invalid UTF-8 byte 0xff in comment");
    assert_string_equal(diag_message_text(&d, 1), "invalid UTF-8 byte 0xc0 in string");
    assert_string_equal(diag_message_text(&d, 2), "NUL byte in string");
    assert_string_equal(diag_message_text(&d, 3), "control character 0x02 in comment");
    assert_int_equal(d.messages != NULL, 1);
    char buf[16];
    SrcRange r = {d.sources[0], 12, 13};    /* the 0xff: line 1, column 12 (é is one) */
    assert_string_equal(diag_pos(r, buf, sizeof buf), "1:12");
    arena_free(&a);
    diag_free(&d);
}

/* 257 nested openers: one error, and the token stream ends there. */
static void test_nesting_limit(void **state)
{
    (void)state;
    Diag d;
    diag_init(&d);
    Arena a = {0};
    Lexed x;
    char text[10001];
    memset(text, '(', 10000);
    text[10000] = '\0';
    lex_str(text, &d, &a, &x);
    assert_int_equal(x.total, PARSE_MAX_DEPTH + 1);
    assert_int_equal(diag_error_count(&d), 1);
    assert_string_equal(diag_message_text(&d, 0),
                        "brackets and blocks are nested too deeply (the limit is 256 levels)");
    arena_free(&a);
    diag_free(&d);
}

/* 10 MB lines: a comment, an identifier and an unterminated string scan in linear time, with
 * at most one error each. */
static void test_huge_lines(void **state)
{
    (void)state;
    size_t n = 10u << 20;
    char *t = malloc(n + 1);
    assert_non_null(t);
    Diag d;
    diag_init(&d);
    Arena a = {0};
    Lexed x;

    memset(t, 'c', n);
    t[0] = '#';
    lex(t, n, &d, &a, &x);
    assert_int_equal(x.n, 1);   /* a comment is no token: end of file at once */
    assert_int_equal(diag_error_count(&d), 0);

    t[0] = 'i';
    lex(t, n, &d, &a, &x);
    assert_int_equal(x.tok[0], IDENT);
    assert_int_equal(strlen(x.val[0].s), n);
    assert_int_equal(diag_error_count(&d), 0);

    t[0] = '"';
    lex(t, n, &d, &a, &x);
    assert_int_equal(x.tok[0], STRING);
    assert_int_equal(diag_error_count(&d), 1);
    assert_string_equal(diag_message_text(&d, 0), "unterminated string");

    memset(t, '\xff', n);
    lex(t, n, &d, &a, &x);
    assert_int_equal(diag_error_count(&d), 2); /* one run of bad bytes, one error */
    free(t);
    arena_free(&a);
    diag_free(&d);
}

/* Once the error cap is reached, the scanner ends the stream. */
static void test_error_cap_stops(void **state)
{
    (void)state;
    Diag d;
    diag_init(&d);
    Arena a = {0};
    Lexed x;
    char text[4000];
    size_t k = 0;
    for (int i = 0; i < 1000; i++) {
        text[k++] = '$';
        text[k++] = ' ';
        text[k++] = 'a';
        text[k++] = ' ';
    }
    lex(text, k, &d, &a, &x);
    assert_int_equal(diag_error_count(&d), 20);
    assert_true(x.total < 30);
    arena_free(&a);
    diag_free(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_token_kind),
        cmocka_unit_test(test_locations),
        cmocka_unit_test(test_newlines),
        cmocka_unit_test(test_strings),
        cmocka_unit_test(test_unterminated_string),
        cmocka_unit_test(test_numbers),
        cmocka_unit_test(test_bad_bytes),
        cmocka_unit_test(test_bad_bytes_in_text),
        cmocka_unit_test(test_nesting_limit),
        cmocka_unit_test(test_huge_lines),
        cmocka_unit_test(test_error_cap_stops),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
