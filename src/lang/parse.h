/* parse: private glue between the flex scanner (grammar/lexer.l) and the bison parser
 * (grammar/parser.y). Not part of the library's interface: the entry point is parse_source in
 * ast.h.
 *
 * Ownership: a ParseCtx lives on parse_source's stack; strings in Tok values are in the arena. */
#ifndef RECUR_PARSE_H
#define RECUR_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lang/ast.h"
#include "util/arena.h"
#include "util/diag.h"
#include "util/utf8.h"

enum {
    PARSE_MAX_DEPTH = 256,      /* nested ( [ { together */
    PARSE_MAX_OPS = 1000,       /* operators in one statement: bounds the depth of the AST */
};

/* The parser's location type: a half-open byte range in the source being parsed. */
typedef struct Loc {
    uint32_t begin, end;
} Loc;

/* A token's value: identifier/string text (in the arena) or a number. */
typedef struct Tok {
    const char *s;
    double num;
    bool is_int;
} Tok;

/* An open bracket or block, for newline handling, depth limits and "expected '}' to close". */
typedef struct Opener {
    char kind;          /* '(' '[' or '{' */
    Loc loc;            /* the bracket itself */
    Loc what;           /* for '{': the first token of the statement that opened it */
} Opener;

typedef struct ParseCtx {
    const Source *src;
    Arena *arena;
    Diag *d;
    uint32_t offset;            /* scanner position, bytes from the start */
    Opener open[PARSE_MAX_DEPTH];
    int nopen;
    bool at_stmt_start;         /* the next token begins a statement */
    Loc stmt_first;             /* first token of the current statement */
    int stmt_ops;               /* operator tokens in the current statement */
    uint32_t bad_end;           /* end of the last bad-byte run reported (to merge runs) */
    bool unterminated;          /* a string ran to the end of its line (reported)... */
    uint32_t unterminated_at;   /* ...at this offset: the syntax error it causes is not */
    Opener unclosed;            /* the last ( or [ a '}' closed implicitly, if any */
    bool has_unclosed;
    int last_tok;               /* the last token returned (0 before the first) */
    bool sent_eof_newline;      /* the scanner adds one newline before end of file */
    bool stopped;               /* too deep, too many errors: no more reports */
    bool limit_hit;             /* an input limit was exceeded: parse_source returns NULL */
    bool oom;
    AstNode *root;
} ParseCtx;


/* A SrcRange in the source being parsed. */
static inline SrcRange parse_range(const ParseCtx *c, Loc l)
{
    SrcRange r = {c->src, l.begin, l.end};
    return r;
}

#endif
