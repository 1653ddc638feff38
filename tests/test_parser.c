/* test_parser: every construct of LANGUAGE.md parses to the expected S-expression (ast_dump),
 * including the full examples of sections 1 and 4; node locations; error messages and
 * recovery; and hostile inputs (binary junk, NUL bytes, a 10 MB line, 10 000 nested brackets or
 * blocks, unterminated strings, invalid UTF-8) give clear errors without crashing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lang/ast.h"
#include "util/diag.h"
#include "util/arena.h"
#include "util/rng.h"

typedef struct Parsed {
    Diag d;
    Arena arena;
    const Source *src;
    AstNode *root;
} Parsed;

static void parse_bytes(Parsed *p, const char *text, size_t len)
{
    diag_init(&p->d);
    memset(&p->arena, 0, sizeof p->arena);
    p->src = diag_add_source(&p->d, "t.rnn", text, len);
    assert_non_null(p->src);
    p->root = parse_source(p->src, &p->arena, &p->d);
}

static void parse_str(Parsed *p, const char *text)
{
    parse_bytes(p, text, strlen(text));
}

static void done(Parsed *p)
{
    arena_free(&p->arena);
    diag_free(&p->d);
}

/* ast_dump of n as a malloc'd string. */
static char *dump(const AstNode *n)
{
    FILE *f = tmpfile();
    assert_non_null(f);
    ast_dump(n, f);
    long len = ftell(f);
    rewind(f);
    char *s = malloc((size_t)len + 1);
    assert_non_null(s);
    assert_int_equal(fread(s, 1, (size_t)len, f), (size_t)len);
    s[len] = '\0';
    fclose(f);
    return s;
}

/* Parses text, requires no diagnostics, and compares the dump of the whole file. */
static void expect_dump(const char *text, const char *expected)
{
    Parsed p;
    parse_str(&p, text);
    if (p.d.nmessages) {
        diag_print(&p.d, stderr);
        fail_msg("unexpected diagnostics for: %s", text);
    }
    assert_non_null(p.root);
    char *s = dump(p.root);
    assert_string_equal(s, expected);
    free(s);
    done(&p);
}

/* Parses text and compares the first error message (text only) and the error count. */
static void expect_error(const char *text, int nerrors, const char *first)
{
    Parsed p;
    parse_str(&p, text);
    if (diag_error_count(&p.d) != nerrors) {
        diag_print(&p.d, stderr);
        fail_msg("expected %d errors, got %d for: %s", nerrors, diag_error_count(&p.d), text);
    }
    assert_string_equal(diag_message_text(&p.d, 0), first);
    done(&p);
}

/* The text a node's range covers. */
static char *text_of(const Parsed *p, SrcRange r)
{
    assert_ptr_equal(r.src, p->src);
    assert_true(r.begin <= r.end && r.end <= p->src->len);
    char *s = malloc(r.end - r.begin + 1);
    memcpy(s, p->src->text + r.begin, r.end - r.begin);
    s[r.end - r.begin] = '\0';
    return s;
}

static void test_spec_section1(void **state)
{
    (void)state;
    expect_dump(
        "# charlm.rnn: character-level language model, two stacked LSTM layers\n"
        "format 1\n"
        "\n"
        "data {\n"
        "  source = text(\"corpus.txt\", level=char)   # vocabulary is built from the text\n"
        "  valid  = 0.05                              # last 5% held out\n"
        "}\n"
        "\n"
        "model charlm {\n"
        "  input tokens(vocab=auto)                   # one id per character\n"
        "  embedding(64)\n"
        "  lstm(512, layers=2, dropout=0.25)\n"
        "  dense(vocab)                               # logits over the character set\n"
        "}\n"
        "\n"
        "train {\n"
        "  loss      = cross_entropy(next_token)\n"
        "  optimizer = adam(lr=0.002)\n"
        "  clip      = 5.0                            # global gradient-norm clip\n"
        "  batch     = 32\n"
        "  bptt      = 100                            # truncated BPTT window\n"
        "  steps     = 5000\n"
        "  seed      = 42\n"
        "  eval_every       = 250\n"
        "  checkpoint_every = 500\n"
        "}\n",
        "(file (format 1)"
        " (data (set source (call text \"corpus.txt\" (= level char))) (set valid 0.05))"
        " (model charlm (input (call tokens (= vocab auto))) (layer (call embedding 64))"
        " (layer (call lstm 512 (= layers 2) (= dropout 0.25))) (layer (call dense vocab)))"
        " (train (set loss (call cross_entropy next_token)) (set optimizer (call adam (= lr 0.002)))"
        " (set clip 5.0) (set batch 32) (set bptt 100) (set steps 5000) (set seed 42)"
        " (set eval_every 250) (set checkpoint_every 500)))");
}

static void test_spec_section4(void **state)
{
    (void)state;
    expect_dump(
        "# A peephole LSTM: the gates also look at the cell state.\n"
        "cell peephole(H) {\n"
        "  input x : [I]                          # binds I to the width of the input\n"
        "  state h : [H], c : [H]                 # recurrent state, zero at the start\n"
        "  param W : [4*H, I], U : [4*H, H] = uniform(-0.08, 0.08)\n"
        "  param b : [4*H] = 0\n"
        "  param p_i : [H], p_f : [H], p_o : [H] = 0\n"
        "\n"
        "  zi, zf, zg, zo = chunk(W @ x + U @ h[t-1] + b, 4)\n"
        "  i = sigmoid(zi + p_i * c[t-1])         # input gate\n"
        "  f = sigmoid(zf + p_f * c[t-1])         # forget gate\n"
        "  c = f * c[t-1] + i * tanh(zg)          # the conveyor belt\n"
        "  o = sigmoid(zo + p_o * c)              # output gate peeks at the new cell\n"
        "  h = o * tanh(c)\n"
        "  output h\n"
        "}\n",
        "(file (cell peephole (params H) (input (decl x I)) (state (decl h H) (decl c H))"
        " (param (decl W (* 4 H) I) (decl U (* 4 H) H) (init (call uniform (- 0.08) 0.08)))"
        " (param (decl b (* 4 H)) (init 0))"
        " (param (decl p_i H) (decl p_f H) (decl p_o H) (init 0))"
        " (assign (zi zf zg zo) (call chunk (+ (+ (@ W x) (@ U (prev h))) b) 4))"
        " (assign (i) (call sigmoid (+ zi (* p_i (prev c)))))"
        " (assign (f) (call sigmoid (+ zf (* p_f (prev c)))))"
        " (assign (c) (+ (* f (prev c)) (* i (call tanh zg))))"
        " (assign (o) (call sigmoid (+ zo (* p_o c))))"
        " (assign (h) (* o (call tanh c))) (output h)))");
}

/* The prelude's style of equations (section 5) and GRU's (1 - z). */
static void test_prelude_style(void **state)
{
    (void)state;
    expect_dump("cell gru(H) {\n input x : [I]; state h : [H]\n"
                " param weight_ih : [3*H, I], weight_hh : [3*H, H]\n"
                " param bias_ih : [3*H], bias_hh : [3*H]\n"
                " xr, xz, xn = chunk(weight_ih @ x + bias_ih, 3)\n"
                " hr, hz, hn = chunk(weight_hh @ h[t-1] + bias_hh, 3)\n"
                " r = sigmoid(xr + hr); z = sigmoid(xz + hz)\n"
                " n = tanh(xn + r * hn)\n"
                " h = (1 - z) * n + z * h[t-1]\n output h\n}",
                "(file (cell gru (params H) (input (decl x I)) (state (decl h H))"
                " (param (decl weight_ih (* 3 H) I) (decl weight_hh (* 3 H) H))"
                " (param (decl bias_ih (* 3 H)) (decl bias_hh (* 3 H)))"
                " (assign (xr xz xn) (call chunk (+ (@ weight_ih x) bias_ih) 3))"
                " (assign (hr hz hn) (call chunk (+ (@ weight_hh (prev h)) bias_hh) 3))"
                " (assign (r) (call sigmoid (+ xr hr))) (assign (z) (call sigmoid (+ xz hz)))"
                " (assign (n) (call tanh (+ xn (* r hn))))"
                " (assign (h) (+ (* (- 1 z) n) (* z (prev h)))) (output h)))");
}

/* Section 3: labels, from=, repeat, residual, bare layers, multi-line calls, one-line blocks. */
static void test_model_constructs(void **state)
{
    (void)state;
    expect_dump("model m {\n"
                "  input vector(8)\n"
                "  enc: lstm(32, bidirectional=true)\n"
                "  repeat 2 {\n    residual { gru(64,\n       dropout=0.1,) }\n  }\n"
                "  layernorm; onehot\n"
                "  j: concat(enc, dense1)\n"
                "  dense(classes, activation=none, from=enc)\n"
                "  pool(last)\n"
                "}",
                "(file (model m (input (call vector 8))"
                " (layer enc (call lstm 32 (= bidirectional true)))"
                " (repeat 2 (residual (layer (call gru 64 (= dropout 0.1)))))"
                " (layer (bare layernorm)) (layer (bare onehot))"
                " (layer j (call concat enc dense1))"
                " (layer (call dense classes (= activation none) (= from enc)))"
                " (layer (call pool last))))");
    expect_dump("model m { input tokens(vocab=65); dense(vocab) }",
                "(file (model m (input (call tokens (= vocab 65))) (layer (call dense vocab))))");
    expect_dump("model m {}\ndata {}\ntrain {\n}\n", "(file (model m) (data) (train))");
}

/* Expressions: precedence (@ * / above + -), left associativity, unary minus, concat,
 * parentheses, strings with escapes, numbers. */
static void test_expressions(void **state)
{
    (void)state;
    expect_dump("const a = 1 + 2 * 3 - 4 / 5 @ 6\n",
                "(file (const a (- (+ 1 (* 2 3)) (@ (/ 4 5) 6))))");
    expect_dump("const a = -x * -(y + 1) - - 2\n",
                "(file (const a (- (* (- x) (- (+ y 1))) (- 2))))");
    expect_dump("const a = [x, [y, z], f()]\n",
                "(file (const a (concat x (concat y z) (call f))))");
    expect_dump("const s = \"a\\\"b\\\\c\"; const n = 2e-3; const k = 5.0; const i = 007\n",
                "(file (const s \"a\\\"b\\\\c\") (const n 0.002) (const k 5.0) (const i 7))");
    expect_dump("const H = 2 * (3 + 4)\nconst E = H / 2\n",
                "(file (const H (* 2 (+ 3 4))) (const E (/ H 2)))");
}

/* Cells: parameters with defaults, several params on a line, a cell without parameters. */
static void test_cell_constructs(void **state)
{
    (void)state;
    expect_dump("cell c(H, K=4,) {\n input x : [I]\n state h : [H]\n"
                " param W : [H, I] = normal(0.1)\n param U : [H, H] = orthogonal\n"
                " h = relu(W @ x + U @ h[t-1]) ; output h\n}\n"
                "cell d() { input x : [2]; output x }",
                "(file (cell c (params H (= K 4)) (input (decl x I)) (state (decl h H))"
                " (param (decl W H I) (init (call normal 0.1))) (param (decl U H H) (init orthogonal))"
                " (assign (h) (call relu (+ (@ W x) (@ U (prev h))))) (output h))"
                " (cell d (params) (input (decl x 2)) (output x)))");
}

/* Every node carries the range of its text; names carry their own range. */
static void test_locations(void **state)
{
    (void)state;
    Parsed p;
    parse_str(&p, "model m {\n  enc: lstm(512, layers=2)\n}\n");
    assert_int_equal(diag_error_count(&p.d), 0);
    AstNode *model = p.root->list.items[0];
    assert_int_equal(model->kind, AST_MODEL);
    char *s = text_of(&p, model->loc);
    assert_string_equal(s, "model m {\n  enc: lstm(512, layers=2)\n}");
    free(s);
    s = text_of(&p, model->open_loc);
    assert_string_equal(s, "{");
    free(s);
    AstNode *layer = model->list.items[0];
    assert_int_equal(layer->kind, AST_LAYER);
    s = text_of(&p, layer->loc);
    assert_string_equal(s, "enc: lstm(512, layers=2)");
    free(s);
    s = text_of(&p, layer->name_loc);
    assert_string_equal(s, "enc");
    free(s);
    AstNode *call = layer->a;
    s = text_of(&p, call->name_loc);
    assert_string_equal(s, "lstm");
    free(s);
    AstNode *named = call->list.items[1];
    assert_int_equal(named->kind, AST_NAMED_ARG);
    s = text_of(&p, named->loc);
    assert_string_equal(s, "layers=2");
    free(s);
    s = text_of(&p, named->a->loc);
    assert_string_equal(s, "2");
    free(s);
    done(&p);

    parse_str(&p, "cell c(H) {\n  h = a * h[t-1] + 1\n}\n");
    AstNode *assign = p.root->list.items[0]->list.items[0];
    s = text_of(&p, assign->loc);
    assert_string_equal(s, "h = a * h[t-1] + 1");
    free(s);
    s = text_of(&p, assign->a->a->b->loc);  /* the AST_PREV */
    assert_string_equal(s, "h[t-1]");
    free(s);
    done(&p);
}

/* Messages of common mistakes (their rendering is pinned by the golden files). */
static void test_error_messages(void **state)
{
    (void)state;
    expect_error("model charlm {\n  lstm(3)\n", 1, "expected '}' to close 'model' at 1:1");
    expect_error("cell c(H) {\n  h = 1\n", 1, "expected '}' to close 'cell' at 1:1");
    expect_error("model m {\n  repeat 2 {\n    lstm(3)\n}\n", 1,
                 "expected '}' to close 'model' at 1:1");
    expect_error("const a = f(1, 2\n", 1, "expected ')' to close '(' at 1:12");
    expect_error("const a = )\n", 1, "expected an expression, found ')'");
    expect_error("const a = \n", 1, "expected an expression, found newline");
    expect_error("const a = 1 +", 1, "expected an expression, found end of file");
    expect_error("cell c(H) { h = x[t-2] }", 1, "only [t-1] is allowed after 'x'");
    expect_error("cell c(H) { h = x[t+1] + x[s-1] + x[t-1.0] }", 3,
                 "only [t-1] is allowed after 'x'");
    expect_error("modle m { }", 1, "expected a top-level item (format, const, cell, model, data "
                                   "or train), found identifier 'modle'");
    expect_error("const model = 1", 1, "expected a name, found keyword 'model'");
    expect_error("model m { lstm(3) dense(3) }", 1,
                 "expected a newline or '}', found identifier 'dense'");
    expect_error("}", 1, "expected a top-level item (format, const, cell, model, data or train), "
                         "found '}'");
    expect_error("format", 1, "expected number, found end of file");
}

/* Error recovery: one bad statement per line, each reported, the rest still parsed. */
static void test_recovery(void **state)
{
    (void)state;
    Parsed p;
    parse_str(&p, "model m {\n  lstm(3,,)\n  dense(4)\n  gru(=)\n  rnn(5)\n}\n"
                  "train {\n  a = )\n  b = 2\n}\n");
    assert_int_equal(diag_error_count(&p.d), 3);
    assert_non_null(p.root);
    char *s = dump(p.root);
    assert_string_equal(s, "(file (model m (layer (call dense 4)) (layer (call rnn 5)))"
                           " (train (set b 2)))");
    free(s);
    done(&p);

    /* A bad item with a block is skipped as a whole: its contents are not parsed as items. */
    parse_str(&p, "modle m {\n  lstm(3)\n  repeat 2 { x }\n}\nmodel k { dense(1) }\n");
    assert_int_equal(diag_error_count(&p.d), 1);
    s = dump(p.root);
    assert_string_equal(s, "(file (model k (layer (call dense 1))))");
    free(s);
    done(&p);
}

/* More than 20 errors: 20 are reported, then parsing stops. */
static void test_error_cap(void **state)
{
    (void)state;
    char text[2000] = "";
    for (int i = 0; i < 100; i++)
        strcat(text, "const = 1\n");
    Parsed p;
    parse_str(&p, text);
    assert_int_equal(diag_error_count(&p.d), 20);
    assert_int_equal(p.d.nmessages, 20);
    done(&p);
}

/* 10 000 nested blocks or brackets: one clear error, no stack overflow, NULL tree. */
static void test_deep_nesting(void **state)
{
    (void)state;
    /* valid prefixes of deeply nested programs: the depth is the only error */
    const char *prefix[] = {"model m {", "model m {", "const a = ", "const a = ", "const a = ",
                            ""};
    const char *open[] = {"repeat 1 {", "residual {", "(", "[", "f(", "{"};
    for (int k = 0; k < 6; k++) {
        size_t n = 10000, w = strlen(open[k]), pw = strlen(prefix[k]);
        char *t = malloc(pw + n * w + 1);
        memcpy(t, prefix[k], pw);
        for (size_t i = 0; i < n; i++)
            memcpy(t + pw + i * w, open[k], w);
        t[pw + n * w] = '\0';
        Parsed p;
        parse_str(&p, t);
        assert_null(p.root);
        int nerr = diag_error_count(&p.d);
        assert_int_equal(nerr, k < 5 ? 1 : 2);  /* "{" alone is also a syntax error */
        assert_string_equal(diag_message_text(&p.d, nerr - 1),
                            "brackets and blocks are nested too deeply (the limit is 256 levels)");
        done(&p);
        free(t);
    }
    /* exactly at the limit is fine */
    char t[1000] = "const a = ";
    for (int i = 0; i < 256; i++)
        strcat(t, "(");
    strcat(t, "1");
    for (int i = 0; i < 256; i++)
        strcat(t, ")");
    Parsed p;
    parse_str(&p, t);
    assert_int_equal(diag_error_count(&p.d), 0);
    assert_non_null(p.root);
    done(&p);
}

/* 10 000 unary minuses or operators in one statement: one error, NULL tree. */
static void test_long_expressions(void **state)
{
    (void)state;
    size_t n = 10000;
    char *t = malloc(2 * n + 32);
    strcpy(t, "const a = ");
    size_t k = strlen(t);
    for (size_t i = 0; i < n; i++)
        t[k++] = '-';
    t[k++] = '1';
    t[k] = '\0';
    Parsed p;
    parse_str(&p, t);
    assert_null(p.root);
    assert_int_equal(diag_error_count(&p.d), 1);
    assert_string_equal(diag_message_text(&p.d, 0), "statement has more than 1000 operators");
    done(&p);

    strcpy(t, "const a = 1");
    k = strlen(t);
    for (size_t i = 0; i < n / 2; i++) {
        t[k++] = '+';
        t[k++] = '1';
    }
    t[k] = '\0';
    parse_str(&p, t);
    assert_null(p.root);
    assert_int_equal(diag_error_count(&p.d), 1);
    done(&p);
    free(t);

    /* 900 operators in each of many statements are fine */
    char *u = malloc(100 * 2000);
    u[0] = '\0';
    k = 0;
    for (int s = 0; s < 50; s++) {
        k += (size_t)sprintf(u + k, "const a%d = 1", s);
        for (int i = 0; i < 900; i++) {
            u[k++] = '*';
            u[k++] = '2';
        }
        u[k++] = '\n';
    }
    u[k] = '\0';
    parse_str(&p, u);
    assert_int_equal(diag_error_count(&p.d), 0);
    assert_int_equal(p.root->list.n, 50);
    done(&p);
    free(u);
}

/* Random bytes and random token soup: never a crash; errors are reported and capped. */
static void test_binary_junk(void **state)
{
    (void)state;
    Rng r;
    rng_seed(&r, 1234);
    static const char *const pieces[] = {
        "model", "cell", "data", "train", "input", "state", "param", "output", "repeat",
        "residual", "format", "const", "x", "t", "1", "-", "+", "*", "/", "@", "(", ")", "[",
        "]", "{", "}", ",", ":", "=", ";", "\n", "\"s\"", "\"", "#c\n", "2.5", "\xff", " "};
    int npieces = (int)(sizeof pieces / sizeof pieces[0]);
    char buf[4096];
    for (int iter = 0; iter < 300; iter++) {
        size_t n = 0;
        if (iter % 2 == 0) {
            n = (size_t)rng_below(&r, sizeof buf);
            for (size_t i = 0; i < n; i++)
                buf[i] = (char)rng_below(&r, 256);
        } else {
            while (n < sizeof buf - 16) {
                const char *p = pieces[rng_below(&r, (uint64_t)npieces)];
                size_t l = strlen(p);
                memcpy(buf + n, p, l);
                n += l;
                if (rng_below(&r, 200) == 0)
                    break;
            }
        }
        Parsed p;
        parse_bytes(&p, buf, n);
        assert_true(diag_error_count(&p.d) <= 21);
        assert_true(p.d.nmessages <= 21);
        if (p.root) {
            char *s = dump(p.root);  /* the tree is well formed */
            free(s);
        }
        done(&p);
    }
}

/* An unterminated string is reported once: the syntax error it causes on its line, the next
 * line or at the end of the file is not reported again; a later, unrelated error still is. */
static void test_unterminated_string_once(void **state)
{
    (void)state;
    Parsed p;
    static const char *const once[] = {
        "data {\n  source = text(\"corpus.txt, level=char)\n}\n",
        "data { source = \"abc\n",
        "data { source = \"abc }\ntrain { steps = 3 }\n",
        "model m {\n input vector(3)\n dense(\"abc\n}\n",
    };
    for (size_t i = 0; i < sizeof once / sizeof *once; i++) {
        parse_str(&p, once[i]);
        assert_int_equal(diag_error_count(&p.d), 1);
        assert_string_equal(diag_message_text(&p.d, 0), "unterminated string");
        done(&p);
    }
    parse_str(&p, "data { source = \"abc\n}\nmodel m {\n input vector(3)\n\n dense(4 4)\n}\n");
    assert_int_equal(diag_error_count(&p.d), 2);
    assert_string_equal(diag_message_text(&p.d, 0), "unterminated string");
    assert_non_null(strstr(diag_message_text(&p.d, 1), "found number 4"));
    done(&p);
}

/* NUL bytes, invalid UTF-8, an unterminated string and a 10 MB line. */
static void test_hostile_text(void **state)
{
    (void)state;
    Parsed p;
    parse_bytes(&p, "model m {\0 lstm(3) }\n", 21);
    assert_int_equal(diag_error_count(&p.d), 1);
    assert_string_equal(diag_message_text(&p.d, 0), "unexpected NUL byte");
    char *s = dump(p.root);
    assert_string_equal(s, "(file (model m (layer (call lstm 3))))");
    free(s);
    done(&p);

    parse_str(&p, "data { source = text(\"caf\xc3\xa9\xff.txt\") }");
    assert_int_equal(diag_error_count(&p.d), 1);
    assert_string_equal(diag_message_text(&p.d, 0), "invalid UTF-8 byte 0xff in string");
    done(&p);

    parse_str(&p, "data {\n  source = text(\"corpus.txt)\n}\n");
    assert_true(diag_error_count(&p.d) >= 1);
    assert_string_equal(diag_message_text(&p.d, 0), "unterminated string");
    done(&p);

    size_t n = 10u << 20;
    char *t = malloc(n + 64);
    strcpy(t, "const a = ");
    size_t k = strlen(t);
    memset(t + k, 'x', n);
    strcpy(t + k + n, " )\n");
    parse_str(&p, t);
    assert_int_equal(diag_error_count(&p.d), 1);
    assert_string_equal(diag_message_text(&p.d, 0),
                        "expected a newline, '(', '[' or an operator, found ')'");
    /* the rendered error is short */
    FILE *f = tmpfile();
    diag_print(&p.d, f);
    assert_true(ftell(f) < 500);
    fclose(f);
    done(&p);

    memset(t, '\x80', n);
    parse_bytes(&p, t, n);
    assert_int_equal(diag_error_count(&p.d), 1);
    assert_string_equal(diag_message_text(&p.d, 0), "invalid UTF-8 byte 0x80");
    done(&p);
    free(t);
}

static void test_empty_inputs(void **state)
{
    (void)state;
    expect_dump("", "(file)");
    expect_dump("\n\n# only a comment", "(file)");
    expect_dump(";;\n;", "(file)");
    expect_dump("format 1", "(file (format 1))");
    expect_dump("\xEF\xBB\xBF" "format 1\r\nconst a = 1\r\n", "(file (format 1) (const a 1))");
    /* locations still count the byte order mark */
    Parsed p;
    parse_str(&p, "\xEF\xBB\xBF)");
    assert_int_equal(diag_error_count(&p.d), 1);
    char buf[16];
    SrcRange r = {p.src, 3, 4};
    assert_string_equal(diag_pos(r, buf, sizeof buf), "1:2");
    assert_int_equal(p.d.nmessages, 1);
    done(&p);
}

static void test_kind_names(void **state)
{
    (void)state;
    assert_string_equal(ast_kind_name(AST_CALL), "call");
    assert_string_equal(ast_kind_name(AST_LAYER), "layer");
    assert_string_equal(ast_kind_name(AST_ERROR), "error");
    for (int k = AST_NUM; k <= AST_ERROR; k++)
        assert_string_not_equal(ast_kind_name((AstKind)k), "?");
    char *s = dump(NULL);
    assert_string_equal(s, "nil");
    free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spec_section1),
        cmocka_unit_test(test_spec_section4),
        cmocka_unit_test(test_prelude_style),
        cmocka_unit_test(test_model_constructs),
        cmocka_unit_test(test_expressions),
        cmocka_unit_test(test_cell_constructs),
        cmocka_unit_test(test_locations),
        cmocka_unit_test(test_error_messages),
        cmocka_unit_test(test_recovery),
        cmocka_unit_test(test_error_cap),
        cmocka_unit_test(test_deep_nesting),
        cmocka_unit_test(test_long_expressions),
        cmocka_unit_test(test_binary_junk),
        cmocka_unit_test(test_hostile_text),
        cmocka_unit_test(test_unterminated_string_once),
        cmocka_unit_test(test_empty_inputs),
        cmocka_unit_test(test_kind_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
