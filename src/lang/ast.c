/* ast: node construction in an arena, kind names, and an S-expression dump for tests.
 *
 * Dump format (one line, no trailing newline), e.g. for `lstm(512, layers=2)`:
 *   (layer (call lstm 512 (= layers 2)))
 * numbers: integers as written, decimals always with a '.' or exponent (0.25, 5.0, 1e-08);
 * strings quoted with \" and \\ escaped; a bare layer name (no parentheses) is (bare NAME). */
#include "lang/ast.h"

#include <math.h>
#include <string.h>

/* A zeroed node; loc and name_loc start as r. */
AstNode *ast_new(Arena *a, AstKind k, SrcRange r)
{
    AstNode *n = arena_alloc(a, sizeof *n);
    if (!n)
        return NULL;
    n->kind = k;
    n->loc = r;
    n->name_loc = r;
    return n;
}

/* Grows l geometrically inside the arena (old item arrays are simply abandoned there). */
bool ast_list_push(Arena *a, AstList *l, AstNode *n)
{
    if (l->cap >= (1 << 28))
        return false;
    AstNode **items = arena_grow(a, l->items, l->n, &l->cap, sizeof *items);
    if (!items)
        return false;
    l->items = items;
    l->items[l->n++] = n;
    return true;
}

const char *ast_kind_name(AstKind k)
{
    switch (k) {
    case AST_NUM: return "num";
    case AST_IDENT: return "ident";
    case AST_STRING: return "string";
    case AST_BINARY: return "binary";
    case AST_UNARY: return "unary";
    case AST_CALL: return "call";
    case AST_NAMED_ARG: return "named-arg";
    case AST_PREV: return "prev";
    case AST_CONCAT: return "concat";
    case AST_MODEL_INPUT: return "model-input";
    case AST_LAYER: return "layer";
    case AST_REPEAT: return "repeat";
    case AST_RESIDUAL: return "residual";
    case AST_DECL: return "decl";
    case AST_CELL_INPUT: return "cell-input";
    case AST_CELL_STATE: return "state";
    case AST_CELL_PARAM: return "param";
    case AST_ASSIGN: return "assign";
    case AST_CELL_OUTPUT: return "output";
    case AST_SETTING: return "setting";
    case AST_FORMAT: return "format";
    case AST_CONST: return "const";
    case AST_CELL: return "cell";
    case AST_MODEL: return "model";
    case AST_DATA: return "data";
    case AST_TRAIN: return "train";
    case AST_FILE: return "file";
    case AST_ERROR: return "error";
    }
    return "?";
}

/* Integers as %.0f; other values with %.9g, plus ".0" when that looks like an integer. */
static void dump_num(const AstNode *n, FILE *out)
{
    if (n->is_int && fabs(n->num) < 1e18) {
        fprintf(out, "%.0f", n->num);
        return;
    }
    char buf[64];
    snprintf(buf, sizeof buf, "%.9g", n->num);
    fputs(buf, out);
    if (!strpbrk(buf, ".eni"))  /* no '.', exponent, inf or nan */
        fputs(".0", out);
}

static void dump_list(const AstList *l, FILE *out)
{
    for (int i = 0; i < l->n; i++) {
        fputc(' ', out);
        ast_dump(l->items[i], out);
    }
}

static void dump_name(const AstNode *n, FILE *out)
{
    fputs(n->name ? n->name : "?", out);
}

/* The inside of an expression node after its "(": operator or callee, then the operands. */
static void dump_expr(const AstNode *n, FILE *out)
{
    switch (n->kind) {
    case AST_BINARY:
        fprintf(out, "(%c ", n->op);
        ast_dump(n->a, out);
        fputc(' ', out);
        ast_dump(n->b, out);
        break;
    case AST_UNARY:
        fprintf(out, "(%c ", n->op);
        ast_dump(n->a, out);
        break;
    case AST_CALL:
        fputs(n->has_parens ? "(call " : "(bare ", out);
        dump_name(n, out);
        dump_list(&n->list, out);
        break;
    case AST_NAMED_ARG:
    case AST_SETTING:
        fputs(n->kind == AST_SETTING ? "(set " : "(= ", out);
        dump_name(n, out);
        fputc(' ', out);
        ast_dump(n->a, out);
        break;
    case AST_PREV:
        fputs("(prev ", out);
        dump_name(n, out);
        break;
    case AST_CONCAT:
        fputs("(concat", out);
        dump_list(&n->list, out);
        break;
    default:
        break;
    }
}

/* The inside of a statement or declaration node after its "(": keyword, name, children. */
static void dump_decl(const AstNode *n, FILE *out)
{
    switch (n->kind) {
    case AST_MODEL_INPUT:
        fputs("(input ", out);
        ast_dump(n->a, out);
        break;
    case AST_LAYER:
        fputs("(layer ", out);
        if (n->name) {
            dump_name(n, out);
            fputc(' ', out);
        }
        ast_dump(n->a, out);
        break;
    case AST_REPEAT:
        fputs("(repeat ", out);
        ast_dump(n->a, out);
        dump_list(&n->list, out);
        break;
    case AST_RESIDUAL:
        fputs("(residual", out);
        dump_list(&n->list, out);
        break;
    case AST_DECL:
        fputs("(decl ", out);
        dump_name(n, out);
        dump_list(&n->list, out);
        break;
    case AST_CELL_INPUT:
    case AST_CELL_STATE:
    case AST_CELL_PARAM:
    case AST_CELL_OUTPUT:
        fprintf(out, "(%s", n->kind == AST_CELL_INPUT ? "input" : ast_kind_name(n->kind));
        dump_list(&n->list, out);
        if (n->init) {
            fputs(" (init ", out);
            ast_dump(n->init, out);
            fputc(')', out);
        }
        break;
    case AST_ASSIGN:
        fputs("(assign (", out);
        for (int i = 0; i < n->list.n; i++) {
            if (i)
                fputc(' ', out);
            ast_dump(n->list.items[i], out);
        }
        fputs(") ", out);
        ast_dump(n->a, out);
        break;
    case AST_FORMAT:
        fputs("(format ", out);
        dump_num(n, out);
        break;
    case AST_CONST:
        fputs("(const ", out);
        dump_name(n, out);
        fputc(' ', out);
        ast_dump(n->a, out);
        break;
    case AST_CELL:
        fputs("(cell ", out);
        dump_name(n, out);
        fputs(" (params", out);
        dump_list(&n->params, out);
        fputc(')', out);
        dump_list(&n->list, out);
        break;
    case AST_MODEL:
        fputs("(model ", out);
        dump_name(n, out);
        dump_list(&n->list, out);
        break;
    case AST_DATA:
    case AST_TRAIN:
    case AST_FILE:
        fprintf(out, "(%s", ast_kind_name(n->kind));
        dump_list(&n->list, out);
        break;
    case AST_ERROR:
        fputs("(error", out);
        break;
    default:
        break;
    }
}

/* One node and its children as an S-expression (see the format at the top of this file):
 * leaves print as themselves, every other node as a parenthesised list. */
void ast_dump(const AstNode *n, FILE *out)
{
    if (!n) {
        fputs("nil", out);
        return;
    }
    switch (n->kind) {
    case AST_NUM:
        dump_num(n, out);
        return;
    case AST_IDENT:
        dump_name(n, out);
        return;
    case AST_STRING:
        fputc('"', out);
        for (const char *p = n->name ? n->name : ""; *p; p++) {
            if (*p == '"' || *p == '\\')
                fputc('\\', out);
            fputc(*p, out);
        }
        fputc('"', out);
        return;
    case AST_BINARY:
    case AST_UNARY:
    case AST_CALL:
    case AST_NAMED_ARG:
    case AST_SETTING:
    case AST_PREV:
    case AST_CONCAT:
        dump_expr(n, out);
        break;
    default:
        dump_decl(n, out);
        break;
    }
    fputc(')', out);
}
