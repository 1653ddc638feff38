/* parser.y: the grammar of .rnn files (LANGUAGE.md sections 1-7), building the AST of
 * src/lang/ast.h with a byte range on every node.
 *
 * Pure parser with locations; syntax errors are written for people ("expected an expression,
 * found ')'"), with LAC so the expected-token lists are exact. Error recovery at statement and
 * block level lets one run report many errors: a bad statement is skipped to the end of its
 * line (or over a whole { } group), a bad block still closes at its '}'. The scanner bounds
 * nesting and statement size, so neither the parser stack nor the tree can grow without limit.
 *
 * Entry point: parse_source (declared in ast.h), at the end of this file. */
%code requires {
#include "lang/ast.h"
#include "lang/parse.h"
}

%code provides {
#define YYSTYPE RNN_STYPE
#define YYLTYPE RNN_LTYPE
}

%code {
#include <stdlib.h>
#include <string.h>

#include "lexer.h"

#define YYLLOC_DEFAULT(Cur, Rhs, N)                             \
    do {                                                        \
        if (N) {                                                \
            (Cur).begin = YYRHSLOC(Rhs, 1).begin;               \
            (Cur).end = YYRHSLOC(Rhs, N).end;                   \
        } else {                                                \
            (Cur).begin = (Cur).end = YYRHSLOC(Rhs, 0).end;     \
        }                                                       \
    } while (0)

/* The parser stack never needs to be deep: the scanner limits nesting and operators. */
#define YYMAXDEPTH 5000

static void rnn_error(YYLTYPE *loc, void *scanner, ParseCtx *ctx, const char *msg);
static AstNode *mk(ParseCtx *c, AstKind k, Loc l);
static AstNode *mk_named(ParseCtx *c, AstKind k, Loc l, Tok name, Loc name_loc);
static AstNode *mk_binary(ParseCtx *c, int op, AstNode *a, AstNode *b, Loc l);
static bool push(ParseCtx *c, AstList *l, AstNode *n);
static AstNode *mk_prev(ParseCtx *c, Tok name, Loc name_loc, AstNode *index, Loc l);

/* Fails the action (and the parse) when an allocation fails. */
#define NEED(x)                     \
    do {                            \
        if (!(x)) {                 \
            ctx->oom = true;        \
            YYNOMEM;                \
        }                           \
    } while (0)
}

%define api.pure full
%define api.prefix {rnn_}
%define api.location.type {Loc}
%define parse.error custom
%define parse.lac full
%locations
%expect 0
%lex-param {void *scanner}
%parse-param {void *scanner} {ParseCtx *ctx}

%union {
    Tok tok;
    AstNode *node;
    AstList list;
}

%token <tok> IDENT "identifier"
%token <tok> NUM "number"
%token <tok> STRING "string"
%token NEWLINE "newline"
%token FORMAT "'format'" CONST "'const'" CELL "'cell'" MODEL "'model'" DATA "'data'"
%token TRAIN "'train'" INPUT "'input'" STATE "'state'" PARAM "'param'" OUTPUT "'output'"
%token REPEAT "'repeat'" RESIDUAL "'residual'"

%type <list> items model_body mstmts cell_body cstmts settings_body settings
%type <list> decls targets params_opt param_list args args_opt exprs
%type <node> item mstmt layer_call cstmt decl setting expr primary arg param target

%left '+' '-'
%left '*' '/' '@'
%precedence NEG

%%

/* file := { item | newline } */
file:
    items                       { NEED(ctx->root = mk(ctx, AST_FILE, @$));
                                  ctx->root->list = $1; }
  ;

items:
    %empty                      { $$ = (AstList){0}; }
  | items sep                   { $$ = $1; }
  | items item                  { $$ = $1; NEED(push(ctx, &$$, $2)); }
  | items error sep             { $$ = $1; yyerrok; }
  | items error '{' skip '}'    { $$ = $1; yyerrok; }
  ;

sep: NEWLINE | ';' ;

/* item := 'format' NUM | 'const' NAME '=' expr | cell | model | data | train */
item:
    FORMAT NUM sep              { NEED($$ = mk(ctx, AST_FORMAT, @$));
                                  $$->loc.end = @2.end;
                                  $$->num = $2.num; $$->is_int = $2.is_int; }
  | CONST IDENT '=' expr sep    { NEED($$ = mk_named(ctx, AST_CONST, @$, $2, @2));
                                  $$->loc.end = @4.end; $$->a = $4; }
  | CELL IDENT '(' params_opt ')' '{' cell_body '}'
                                { NEED($$ = mk_named(ctx, AST_CELL, @$, $2, @2));
                                  $$->params = $4; $$->list = $7; $$->open_loc = parse_range(ctx, @6); }
  | MODEL IDENT '{' model_body '}'
                                { NEED($$ = mk_named(ctx, AST_MODEL, @$, $2, @2));
                                  $$->list = $4; $$->open_loc = parse_range(ctx, @3); }
  | DATA '{' settings_body '}'  { NEED($$ = mk(ctx, AST_DATA, @$));
                                  $$->list = $3; $$->open_loc = parse_range(ctx, @2); }
  | TRAIN '{' settings_body '}' { NEED($$ = mk(ctx, AST_TRAIN, @$));
                                  $$->list = $3; $$->open_loc = parse_range(ctx, @2); }
  ;

/* skip := { any token but braces | '{' skip '}' }: what error recovery passes over. */
skip:
    %empty
  | skip skip_tok
  | skip '{' skip '}'
  ;

skip_tok:
    IDENT | NUM | STRING | NEWLINE | ';' | '(' | ')' | '[' | ']' | ',' | ':' | '=' | '@'
  | '+' | '-' | '*' | '/' | FORMAT | CONST | CELL | MODEL | DATA | TRAIN | INPUT | STATE
  | PARAM | OUTPUT | REPEAT | RESIDUAL
  ;

/* ---- model blocks ---------------------------------------------------------------------- */

/* The last statement of a block needs no separator before '}'. */
model_body:
    mstmts
  | mstmts mstmt                { $$ = $1; NEED(push(ctx, &$$, $2)); }
  | mstmts error                { $$ = $1; }
  ;

mstmts:
    %empty                      { $$ = (AstList){0}; }
  | mstmts sep                  { $$ = $1; }
  | mstmts mstmt sep            { $$ = $1; NEED(push(ctx, &$$, $2)); }
  | mstmts error sep            { $$ = $1; yyerrok; }
  | mstmts error '{' skip '}'   { $$ = $1; yyerrok; }
  ;

/* mstmt := 'input' call | [NAME ':'] call | 'repeat' expr '{' ... '}' | 'residual' '{' ... '}' */
mstmt:
    INPUT layer_call            { NEED($$ = mk(ctx, AST_MODEL_INPUT, @$)); $$->a = $2; }
  | layer_call                  { NEED($$ = mk(ctx, AST_LAYER, @$)); $$->a = $1; }
  | IDENT ':' layer_call        { NEED($$ = mk_named(ctx, AST_LAYER, @$, $1, @1)); $$->a = $3; }
  | REPEAT expr '{' model_body '}'
                                { NEED($$ = mk(ctx, AST_REPEAT, @$)); $$->a = $2; $$->list = $4;
                                  $$->open_loc = parse_range(ctx, @3); }
  | RESIDUAL '{' model_body '}' { NEED($$ = mk(ctx, AST_RESIDUAL, @$)); $$->list = $3;
                                  $$->open_loc = parse_range(ctx, @2); }
  ;

/* call := NAME | NAME '(' [args] ')' */
layer_call:
    IDENT                       { NEED($$ = mk_named(ctx, AST_CALL, @$, $1, @1)); }
  | IDENT '(' args_opt ')'      { NEED($$ = mk_named(ctx, AST_CALL, @$, $1, @1));
                                  $$->has_parens = true; $$->list = $3; }
  ;

/* ---- cells ----------------------------------------------------------------------------- */

/* params := param { ',' param } [','] ; param := NAME | NAME '=' expr */
params_opt:
    %empty                      { $$ = (AstList){0}; }
  | param_list
  | param_list ','
  ;

param_list:
    param                       { $$ = (AstList){0}; NEED(push(ctx, &$$, $1)); }
  | param_list ',' param        { $$ = $1; NEED(push(ctx, &$$, $3)); }
  ;

param:
    IDENT                       { NEED($$ = mk_named(ctx, AST_IDENT, @$, $1, @1)); }
  | IDENT '=' expr              { NEED($$ = mk_named(ctx, AST_NAMED_ARG, @$, $1, @1)); $$->a = $3; }
  ;

cell_body:
    cstmts
  | cstmts cstmt                { $$ = $1; NEED(push(ctx, &$$, $2)); }
  | cstmts error                { $$ = $1; }
  ;

cstmts:
    %empty                      { $$ = (AstList){0}; }
  | cstmts sep                  { $$ = $1; }
  | cstmts cstmt sep            { $$ = $1; NEED(push(ctx, &$$, $2)); }
  | cstmts error sep            { $$ = $1; yyerrok; }
  | cstmts error '{' skip '}'   { $$ = $1; yyerrok; }
  ;

/* cstmt := 'input' decls | 'state' decls | 'param' decls ['=' expr] | targets '=' expr
 *        | 'output' targets */
cstmt:
    INPUT decls                 { NEED($$ = mk(ctx, AST_CELL_INPUT, @$)); $$->list = $2; }
  | STATE decls                 { NEED($$ = mk(ctx, AST_CELL_STATE, @$)); $$->list = $2; }
  | PARAM decls                 { NEED($$ = mk(ctx, AST_CELL_PARAM, @$)); $$->list = $2; }
  | PARAM decls '=' expr        { NEED($$ = mk(ctx, AST_CELL_PARAM, @$)); $$->list = $2;
                                  $$->init = $4; }
  | targets '=' expr            { NEED($$ = mk(ctx, AST_ASSIGN, @$)); $$->list = $1; $$->a = $3; }
  | OUTPUT targets              { NEED($$ = mk(ctx, AST_CELL_OUTPUT, @$)); $$->list = $2; }
  ;

/* decls := decl { ',' decl } ; decl := NAME ':' '[' expr { ',' expr } ']' */
decls:
    decl                        { $$ = (AstList){0}; NEED(push(ctx, &$$, $1)); }
  | decls ',' decl              { $$ = $1; NEED(push(ctx, &$$, $3)); }
  ;

decl:
    IDENT ':' '[' exprs ']'     { NEED($$ = mk_named(ctx, AST_DECL, @$, $1, @1)); $$->list = $4; }
  ;

targets:
    target                      { $$ = (AstList){0}; NEED(push(ctx, &$$, $1)); }
  | targets ',' target          { $$ = $1; NEED(push(ctx, &$$, $3)); }
  ;

target:
    IDENT                       { NEED($$ = mk_named(ctx, AST_IDENT, @$, $1, @1)); }
  ;

/* ---- data and train blocks ------------------------------------------------------------- */

settings_body:
    settings
  | settings setting            { $$ = $1; NEED(push(ctx, &$$, $2)); }
  | settings error              { $$ = $1; }
  ;

settings:
    %empty                      { $$ = (AstList){0}; }
  | settings sep                { $$ = $1; }
  | settings setting sep        { $$ = $1; NEED(push(ctx, &$$, $2)); }
  | settings error sep          { $$ = $1; yyerrok; }
  | settings error '{' skip '}' { $$ = $1; yyerrok; }
  ;

/* setting := NAME '=' expr */
setting:
    IDENT '=' expr              { NEED($$ = mk_named(ctx, AST_SETTING, @$, $1, @1)); $$->a = $3; }
  ;

/* ---- expressions ----------------------------------------------------------------------- */

/* expr := expr ('+'|'-') expr | expr ('*'|'/'|'@') expr | '-' expr | primary */
expr:
    expr '+' expr               { NEED($$ = mk_binary(ctx, '+', $1, $3, @$)); }
  | expr '-' expr               { NEED($$ = mk_binary(ctx, '-', $1, $3, @$)); }
  | expr '*' expr               { NEED($$ = mk_binary(ctx, '*', $1, $3, @$)); }
  | expr '/' expr               { NEED($$ = mk_binary(ctx, '/', $1, $3, @$)); }
  | expr '@' expr               { NEED($$ = mk_binary(ctx, '@', $1, $3, @$)); }
  | '-' expr %prec NEG          { NEED($$ = mk(ctx, AST_UNARY, @$)); $$->op = '-'; $$->a = $2; }
  | primary
  ;

/* primary := NUM | STRING | NAME | NAME '(' [args] ')' | NAME '[' 't' '-' '1' ']'
 *          | '[' exprs ']' | '(' expr ')' */
primary:
    NUM                         { NEED($$ = mk(ctx, AST_NUM, @$));
                                  $$->num = $1.num; $$->is_int = $1.is_int; }
  | STRING                      { NEED($$ = mk(ctx, AST_STRING, @$)); $$->name = $1.s; }
  | IDENT                       { NEED($$ = mk_named(ctx, AST_IDENT, @$, $1, @1)); }
  | IDENT '(' args_opt ')'      { NEED($$ = mk_named(ctx, AST_CALL, @$, $1, @1));
                                  $$->has_parens = true; $$->list = $3; }
  | IDENT '[' expr ']'          { NEED($$ = mk_prev(ctx, $1, @1, $3, @$)); }
  | '[' exprs ']'               { NEED($$ = mk(ctx, AST_CONCAT, @$)); $$->list = $2; }
  | '(' expr ')'                { $$ = $2; }
  ;

exprs:
    expr                        { $$ = (AstList){0}; NEED(push(ctx, &$$, $1)); }
  | exprs ',' expr              { $$ = $1; NEED(push(ctx, &$$, $3)); }
  ;

/* args := arg { ',' arg } [','] ; arg := expr | NAME '=' expr */
args_opt:
    %empty                      { $$ = (AstList){0}; }
  | args
  | args ','
  ;

args:
    arg                         { $$ = (AstList){0}; NEED(push(ctx, &$$, $1)); }
  | args ',' arg                { $$ = $1; NEED(push(ctx, &$$, $3)); }
  ;

arg:
    expr
  | IDENT '=' expr              { NEED($$ = mk_named(ctx, AST_NAMED_ARG, @$, $1, @1)); $$->a = $3; }
  ;

%%

/* ---- node construction -------------------------------------------------------------------- */

static AstNode *mk(ParseCtx *c, AstKind k, Loc l)
{
    return ast_new(c->arena, k, parse_range(c, l));
}

/* A node carrying a name (callee, label, declared name) and where the name is written. */
static AstNode *mk_named(ParseCtx *c, AstKind k, Loc l, Tok name, Loc name_loc)
{
    AstNode *n = mk(c, k, l);
    if (n) {
        n->name = name.s;
        n->name_loc = parse_range(c, name_loc);
    }
    return n;
}

static AstNode *mk_binary(ParseCtx *c, int op, AstNode *a, AstNode *b, Loc l)
{
    AstNode *n = mk(c, AST_BINARY, l);
    if (n) {
        n->op = op;
        n->a = a;
        n->b = b;
    }
    return n;
}

static bool push(ParseCtx *c, AstList *l, AstNode *n)
{
    return ast_list_push(c->arena, l, n);
}

/* NAME '[' index ']': only the index t-1 is allowed (a state's previous value). Anything else
 * is reported at the index and becomes an AST_ERROR node, which sema skips. */
static AstNode *mk_prev(ParseCtx *c, Tok name, Loc name_loc, AstNode *index, Loc l)
{
    const AstNode *i = index;
    bool ok = i && i->kind == AST_BINARY && i->op == '-' && i->a->kind == AST_IDENT &&
              strcmp(i->a->name, "t") == 0 && i->b->kind == AST_NUM && i->b->is_int &&
              i->b->num == 1;
    if (!ok) {
        DiagMessage *m = diag_error(c->d, index->loc, "only [t-1] is allowed after '%s'", name.s);
        diag_help(m, "%s[t-1] is the previous step's value of a state; there is no indexing",
                  name.s);
        return mk(c, AST_ERROR, l);
    }
    return mk_named(c, AST_PREV, l, name, name_loc);
}

/* ---- syntax errors ------------------------------------------------------------------------ */

/* How a found token is described: "identifier 'foo'", "number 3", "'}'", "end of file". */
static void describe_found(const yypcontext_t *yyctx, ParseCtx *c, char *buf, size_t n)
{
    yysymbol_kind_t t = yypcontext_token(yyctx);
    const YYLTYPE *loc = yypcontext_location(yyctx);
    uint32_t len = loc->end - loc->begin;
    const char *text = c->src->text + loc->begin;
    int show = len > 40 ? 40 : (int)len;
    const char *more = len > 40 ? "..." : "";
    switch (t) {
    case YYSYMBOL_IDENT:
        snprintf(buf, n, "identifier '%.*s%s'", show, text, more);
        break;
    case YYSYMBOL_NUM:
        snprintf(buf, n, "number %.*s%s", show, text, more);
        break;
    case YYSYMBOL_NEWLINE:
        snprintf(buf, n, "%s", loc->begin >= c->src->len ? "end of file" : "newline");
        break;
    case YYSYMBOL_FORMAT: case YYSYMBOL_CONST: case YYSYMBOL_CELL: case YYSYMBOL_MODEL:
    case YYSYMBOL_DATA: case YYSYMBOL_TRAIN: case YYSYMBOL_INPUT: case YYSYMBOL_STATE:
    case YYSYMBOL_PARAM: case YYSYMBOL_OUTPUT: case YYSYMBOL_REPEAT: case YYSYMBOL_RESIDUAL:
        snprintf(buf, n, "keyword %s", yysymbol_name(t));
        break;
    default:
        snprintf(buf, n, "%s", yysymbol_name(t));
    }
}

static bool has(const yysymbol_kind_t *set, int n, yysymbol_kind_t t)
{
    for (int i = 0; i < n; i++)
        if (set[i] == t)
            return true;
    return false;
}

/* The symbol kind of a character token, by its printed name ("'('"). */
static yysymbol_kind_t sym(const char *name)
{
    for (int k = 0; k < YYNTOKENS; k++)
        if (strcmp(yysymbol_name((yysymbol_kind_t)k), name) == 0)
            return (yysymbol_kind_t)k;
    return YYSYMBOL_YYUNDEF;
}

/* Removes t from the set (in place). */
static void drop(yysymbol_kind_t *set, int *n, yysymbol_kind_t t)
{
    for (int i = 0; i < *n; i++)
        if (set[i] == t) {
            set[i] = set[--*n];
            i--;
        }
}

/* "expected X, found Y" in words: groups of tokens become "an expression", "a layer", "a
 * top-level item" ...; other tokens are listed by name. Too many alternatives: "unexpected Y". */
static void describe_expected(yysymbol_kind_t *set, int n, char *buf, size_t size)
{
    const char *parts[16];
    int np = 0;
    if (has(set, n, YYSYMBOL_FORMAT)) {
        parts[np++] = "a top-level item (format, const, cell, model, data or train)";
        yysymbol_kind_t g[] = {YYSYMBOL_FORMAT, YYSYMBOL_CONST, YYSYMBOL_CELL, YYSYMBOL_MODEL,
                               YYSYMBOL_DATA, YYSYMBOL_TRAIN, YYSYMBOL_YYEOF,
                               YYSYMBOL_NEWLINE, sym("';'")};
        for (size_t i = 0; i < sizeof g / sizeof g[0]; i++)
            drop(set, &n, g[i]);
    }
    if (has(set, n, YYSYMBOL_REPEAT)) {
        parts[np++] = "a layer";
        yysymbol_kind_t g[] = {YYSYMBOL_INPUT, YYSYMBOL_IDENT, YYSYMBOL_REPEAT,
                               YYSYMBOL_RESIDUAL};
        for (size_t i = 0; i < sizeof g / sizeof g[0]; i++)
            drop(set, &n, g[i]);
    }
    if (has(set, n, YYSYMBOL_STATE)) {
        parts[np++] = "a cell statement (input, state, param, output or an assignment)";
        yysymbol_kind_t g[] = {YYSYMBOL_INPUT, YYSYMBOL_STATE, YYSYMBOL_PARAM, YYSYMBOL_OUTPUT,
                               YYSYMBOL_IDENT};
        for (size_t i = 0; i < sizeof g / sizeof g[0]; i++)
            drop(set, &n, g[i]);
    }
    if (has(set, n, YYSYMBOL_NUM) && has(set, n, YYSYMBOL_STRING)) {
        parts[np++] = "an expression";
        yysymbol_kind_t g[] = {YYSYMBOL_NUM, YYSYMBOL_STRING, YYSYMBOL_IDENT,
                               sym("'('"), sym("'['"), sym("'-'")};
        for (size_t i = 0; i < sizeof g / sizeof g[0]; i++)
            drop(set, &n, g[i]);
    }
    bool operators = has(set, n, sym("'+'")) && has(set, n, sym("'*'"));
    if (operators) {
        const char *g[] = {"'+'", "'-'", "'*'", "'/'", "'@'"};
        for (size_t i = 0; i < sizeof g / sizeof g[0]; i++)
            drop(set, &n, sym(g[i]));
    }
    if (has(set, n, YYSYMBOL_NEWLINE)) {
        drop(set, &n, sym("';'"));
    }
    /* What is left, in the grammar's symbol order (stable messages). */
    for (int k = 0; k < YYNTOKENS && np < 16; k++)
        if (has(set, n, (yysymbol_kind_t)k)) {
            if (k == YYSYMBOL_NEWLINE)
                parts[np++] = "a newline";
            else if (k == YYSYMBOL_IDENT)
                parts[np++] = "a name";
            else
                parts[np++] = yysymbol_name((yysymbol_kind_t)k);
        }
    if (operators && np < 16)
        parts[np++] = "an operator";
    buf[0] = '\0';
    if (np == 0 || np > 5)
        return;
    size_t used = 0;
    for (int i = 0; i < np; i++) {
        const char *joint = i == 0 ? "" : i == np - 1 ? " or " : ", ";
        int w = snprintf(buf + used, size - used, "%s%s", joint, parts[i]);
        if (w < 0 || (size_t)w >= size - used)
            break;
        used += (size_t)w;
    }
}

static const char *const keyword_names[] = {"format", "const", "cell", "model", "data",
                                            "train", "input", "state", "param", "output",
                                            "repeat", "residual"};
enum { TOP_KEYWORDS = 6, ALL_KEYWORDS = 12 };

/* The text of l as a C string in buf (cut to fit). */
static const char *loc_text(const ParseCtx *c, Loc l, char *buf, size_t n)
{
    uint32_t len = l.end - l.begin;
    snprintf(buf, n, "%.*s", len > n - 1 ? (int)(n - 1) : (int)len, c->src->text + l.begin);
    return buf;
}

/* Whether the syntax error at loc is what the last unterminated string caused: the string ate
 * the rest of its line (a ')' or '}'), so its line, the next one or the end of the file does
 * not parse. That string was reported once; these errors are not reported again. The first
 * error past that window is reported and ends it. */
static bool after_unterminated(ParseCtx *ctx, const YYLTYPE *loc)
{
    if (!ctx->unterminated)
        return false;
    int qline, eline, col;
    diag_line_col(ctx->src, ctx->unterminated_at, &qline, &col);
    diag_line_col(ctx->src, loc->begin, &eline, &col);
    if (loc->begin >= ctx->src->len || eline <= qline + 1)
        return true;
    ctx->unterminated = false;
    return false;
}

/* bison's hook for a syntax error (parse.error custom): one friendly message, with a help line
 * where a likely fix is known. At end of file inside a bracket or block, names the opener. */
static int yyreport_syntax_error(const yypcontext_t *yyctx, void *scanner, ParseCtx *ctx)
{
    (void)scanner;
    const YYLTYPE *loc = yypcontext_location(yyctx);
    if (ctx->stopped || after_unterminated(ctx, loc))
        return 0;
    yysymbol_kind_t found = yypcontext_token(yyctx);
    SrcRange r = parse_range(ctx, *loc);
    char pos[32];
    /* At end of file, point just after the last line rather than at an empty line. */
    if (r.begin >= ctx->src->len && ctx->src->len > 0 && ctx->src->text[ctx->src->len - 1] == '\n')
        r.begin = r.end = (uint32_t)ctx->src->len - 1;

    if (found == YYSYMBOL_YYEOF && ctx->nopen > 0) {
        const Opener *o = &ctx->open[ctx->nopen - 1];
        if (o->kind == '{') {
            diag_error(ctx->d, r, "expected '}' to close '%.*s' at %s",
                       (int)(o->what.end - o->what.begin > 40 ? 40 : o->what.end - o->what.begin),
                       ctx->src->text + o->what.begin, diag_pos(parse_range(ctx, o->what), pos,
                                                              sizeof pos));
        } else {
            diag_error(ctx->d, r, "expected '%c' to close '%c' at %s",
                       o->kind == '(' ? ')' : ']', o->kind,
                       diag_pos(parse_range(ctx, o->loc), pos, sizeof pos));
        }
        return 0;
    }

    yysymbol_kind_t set[YYNTOKENS];
    int n = yypcontext_expected_tokens(yyctx, set, YYNTOKENS);
    if (n < 0)
        n = 0;
    bool top_level = has(set, n, YYSYMBOL_FORMAT);
    bool want_name = has(set, n, YYSYMBOL_IDENT);
    char found_s[96], expected_s[256];
    describe_found(yyctx, ctx, found_s, sizeof found_s);
    yysymbol_kind_t work[YYNTOKENS];
    memcpy(work, set, sizeof work);
    describe_expected(work, n, expected_s, sizeof expected_s);

    DiagMessage *m;
    if (expected_s[0])
        m = diag_error(ctx->d, r, "expected %s, found %s", expected_s, found_s);
    else
        m = diag_error(ctx->d, r, "unexpected %s", found_s);

    char name[64];
    const Opener *top = ctx->nopen > 0 ? &ctx->open[ctx->nopen - 1] : NULL;
    if (found == sym("'}'") && ctx->has_unclosed && ctx->unclosed.loc.end <= loc->begin)
        top = &ctx->unclosed;   /* this '}' closed it implicitly */
    const char *closer = top && top->kind == '(' ? "')'" : top && top->kind == '[' ? "']'" : NULL;
    if (found == YYSYMBOL_IDENT && top_level) {
        const char *s = diag_suggest(loc_text(ctx, *loc, name, sizeof name), keyword_names,
                                     TOP_KEYWORDS);
        if (s)
            diag_help(m, "did you mean '%s'?", s);
        else
            diag_help(m, "layers go inside a 'model NAME { ... }' block");
    } else if (found >= YYSYMBOL_FORMAT && found <= YYSYMBOL_TRAIN && ctx->nopen > 0 &&
               ctx->open[ctx->nopen - 1].kind == '{') {
        const Opener *o = &ctx->open[ctx->nopen - 1];
        diag_help(m, "is the '%s' block at %s missing its '}'?",
                  loc_text(ctx, o->what, name, sizeof name),
                  diag_pos(parse_range(ctx, o->what), pos, sizeof pos));
    } else if (found == sym("'}'") && top_level) {
        diag_help(m, "this '}' has no matching '{'");
    } else if (closer && has(set, n, sym(closer)) && top->loc.end <= loc->begin &&
               memchr(ctx->src->text + top->loc.end, '\n', loc->begin - top->loc.end)) {
        diag_help(m, "the '%c' at %s is not closed", top->kind,
                  diag_pos(parse_range(ctx, top->loc), pos, sizeof pos));
    } else if (ctx->stmt_first.begin < loc->begin &&
               ctx->src->text[ctx->stmt_first.begin] >= 'a' &&
               diag_suggest(loc_text(ctx, ctx->stmt_first, name, sizeof name), keyword_names,
                            ALL_KEYWORDS) &&
               strcmp(diag_suggest(name, keyword_names, ALL_KEYWORDS), name) != 0) {
        diag_help(m, "did you mean '%s'?", diag_suggest(name, keyword_names, ALL_KEYWORDS));
    } else if (want_name && found >= YYSYMBOL_FORMAT && found <= YYSYMBOL_RESIDUAL) {
        diag_help(m, "%s is a reserved word and cannot be used as a name", yysymbol_name(found));
    } else if ((found == YYSYMBOL_IDENT || (found >= YYSYMBOL_FORMAT &&
                found <= YYSYMBOL_RESIDUAL)) && has(set, n, YYSYMBOL_NEWLINE) &&
               !has(set, n, sym("'='"))) {
        diag_help(m, "statements are separated by a newline or ';'");
    } else if (found == YYSYMBOL_YYEOF && !top_level) {
        diag_help(m, "the file ends in the middle of a statement");
    }
    return 0;
}

/* bison's other error path: the parser stack or memory is exhausted. */
static void rnn_error(YYLTYPE *loc, void *scanner, ParseCtx *ctx, const char *msg)
{
    (void)scanner;
    if (ctx->oom) {
        diag_error(ctx->d, parse_range(ctx, *loc), "out of memory while parsing");
    } else {
        diag_error(ctx->d, parse_range(ctx, *loc), "the input is nested too deeply (%s)", msg);
        ctx->limit_hit = true;
    }
    ctx->stopped = true;
}

/* ---- entry point -------------------------------------------------------------------------- */

/* Scans and parses src into an AST_FILE in arena. See ast.h for the contract. */
AstNode *parse_source(const Source *src, Arena *arena, Diag *d)
{
    if (src->len > (size_t)INT32_MAX - 2) {
        diag_error_in(d, src->name, "file is too large to parse (%zu bytes)", src->len);
        return NULL;
    }
    ParseCtx *ctx = calloc(1, sizeof *ctx);
    if (!ctx) {
        diag_error_in(d, src->name, "out of memory while parsing");
        return NULL;
    }
    ctx->src = src;
    ctx->arena = arena;
    ctx->d = d;
    ctx->at_stmt_start = true;

    yyscan_t scanner;
    if (rnn_lex_init_extra(ctx, &scanner) != 0) {
        free(ctx);
        diag_error_in(d, src->name, "out of memory while parsing");
        return NULL;
    }
    AstNode *root = NULL;
    size_t skip = 0;
    if (src->len >= 3 && memcmp(src->text, "\xEF\xBB\xBF", 3) == 0)
        skip = 3;   /* a UTF-8 byte order mark, as some editors write */
    ctx->offset = (uint32_t)skip;
    YY_BUFFER_STATE buf = rnn__scan_bytes(src->text + skip, (int)(src->len - skip), scanner);
    if (!buf) {
        ctx->oom = true;
    } else {
        int rc = rnn_parse(scanner, ctx);
        if (rc == 2 && !ctx->oom) /* YYNOMEM without our flag: the stack limit */
            ctx->limit_hit = true;
        root = ctx->root;
        rnn__delete_buffer(buf, scanner);
    }
    rnn_lex_destroy(scanner);
    if (ctx->oom && !ctx->stopped)
        diag_error_in(d, src->name, "out of memory while parsing");
    if (ctx->oom || ctx->limit_hit)
        root = NULL;
    else if (!root) {
        /* The parse was abandoned (end of file during error recovery): an empty file node. */
        root = ast_new(arena, AST_FILE, (SrcRange){src, 0, (uint32_t)src->len});
        if (!root)
            diag_error_in(d, src->name, "out of memory while parsing");
    }
    free(ctx);
    return root;
}
