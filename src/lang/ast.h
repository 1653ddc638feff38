/* ast: the syntax tree of a .rnn file, exactly as the user wrote it, with a source range on
 * every node. Produced by the parser (grammar/parser.y via parse_source), read by sema.
 *
 * Ownership: every node, list and string lives in the Arena passed to parse_source; nothing is
 * freed individually. The tree is valid until arena_free. */
#ifndef RECUR_AST_H
#define RECUR_AST_H

#include <stdbool.h>

#include "util/diag.h"
#include "util/arena.h"

typedef enum AstKind {
    /* expressions */
    AST_NUM,        /* num, is_int                                                   */
    AST_IDENT,      /* name (also `true`, `false`, `auto`, `char`: plain identifiers)  */
    AST_STRING,     /* name = the unescaped string value                             */
    AST_BINARY,     /* a op b, op one of '+' '-' '*' '/' '@'                          */
    AST_UNARY,      /* op a, op '-'                                                  */
    AST_CALL,       /* name(list...) ; list items are expressions or AST_NAMED_ARG;
                       has_parens false for a bare layer name such as `onehot`          */
    AST_NAMED_ARG,  /* name = a   (inside a call)                                     */
    AST_PREV,       /* name[t-1]: a state's previous value; name_loc is the name        */
    AST_CONCAT,     /* [list...]                                                      */

    /* model statements */
    AST_MODEL_INPUT,/* input a ; a is the AST_CALL tokens(...) / vector(...)           */
    AST_LAYER,      /* [name:] a ; name is the label or NULL; a is the AST_CALL         */
    AST_REPEAT,     /* repeat a { list }                                              */
    AST_RESIDUAL,   /* residual { list }                                              */

    /* cell statements */
    AST_DECL,       /* name : [list]  (shape dims are expressions)                    */
    AST_CELL_INPUT, /* input list ; list of AST_DECL (normally one)                    */
    AST_CELL_STATE, /* state list ; list of AST_DECL                                  */
    AST_CELL_PARAM, /* param list [= init] ; list of AST_DECL, init the initialiser    */
    AST_ASSIGN,     /* list = a ; list of AST_IDENT targets (tuple when > 1)           */
    AST_CELL_OUTPUT,/* output list ; list of AST_IDENT                                */

    /* settings in data/train blocks */
    AST_SETTING,    /* name = a                                                       */

    /* top level */
    AST_FORMAT,     /* format num                                                     */
    AST_CONST,      /* const name = a                                                 */
    AST_CELL,       /* cell name(params) { list } ; params: AST_IDENT or AST_NAMED_ARG
                       (a default value)                                             */
    AST_MODEL,      /* model name { list }                                            */
    AST_DATA,       /* data { list of AST_SETTING }                                   */
    AST_TRAIN,      /* train { list of AST_SETTING }                                  */
    AST_FILE,       /* the whole file: list of top-level items                        */
    AST_ERROR       /* placeholder left by error recovery; sema skips it silently     */
} AstKind;

typedef struct AstNode AstNode;

typedef struct AstList {
    AstNode **items;
    int n, cap;
} AstList;

struct AstNode {
    AstKind kind;
    SrcRange loc;       /* the whole construct */
    const char *name;   /* identifier, label, callee, declared name, or string value */
    SrcRange name_loc;  /* where name is written (for labels and callees) */
    double num;         /* AST_NUM value; AST_FORMAT version */
    bool is_int;        /* AST_NUM written without '.' or exponent */
    bool has_parens;    /* AST_CALL written with parentheses */
    int op;             /* AST_BINARY / AST_UNARY operator character */
    AstNode *a, *b;     /* operands and single children, as listed per kind above */
    AstNode *init;      /* AST_CELL_PARAM initialiser, or NULL */
    AstList params;     /* AST_CELL parameters */
    AstList list;       /* children, as listed per kind above */
    SrcRange open_loc;  /* the opening '{' of a block, for "expected '}' to close ..." */
};

/* A new zeroed node of kind k at r; NULL when out of memory. */
AstNode *ast_new(Arena *a, AstKind k, SrcRange r);
/* Appends n to l; returns false when out of memory. */
bool ast_list_push(Arena *a, AstList *l, AstNode *n);
/* Human name of a kind, for debugging dumps and tests ("call", "layer", ...). */
const char *ast_kind_name(AstKind k);
/* Writes an S-expression dump of the tree (used by the parser unit tests). */
void ast_dump(const AstNode *n, FILE *out);

/* Parses one source into an AST_FILE node allocated in arena. Syntax errors are reported to d
 * (many per run, with error recovery); the returned tree may contain AST_ERROR nodes. Returns
 * NULL only when out of memory or when input limits are exceeded (also reported to d). Limits:
 * nesting depth 256, and the whole source must already be in memory (diag_load_file caps it). */
AstNode *parse_source(const Source *src, Arena *arena, Diag *d);

#endif
