/* golden_parse: parses one .rnn file and prints its diagnostics to stdout, or "ok" when there
 * are none; with --dump, prints the AST as an S-expression instead of "ok". Used by
 * tests/golden.sh for the syntax golden files (tests/golden/syntax/NAME.rnn + NAME.expected).
 * Exit status: 0 without errors, 1 with errors, 2 on bad usage. */
#include <stdio.h>
#include <string.h>

#include "lang/ast.h"
#include "util/diag.h"
#include "util/arena.h"
#include "util/file.h"

int main(int argc, char **argv)
{
    int i = 1;
    int dump = 0;
    if (i < argc && strcmp(argv[i], "--dump") == 0) {
        dump = 1;
        i++;
    }
    if (i + 1 != argc) {
        fprintf(stderr, "usage: golden_parse [--dump] FILE.rnn\n");
        return 2;
    }
    Diag d;
    diag_init(&d);
    Arena arena = {0};
    const Source *src = diag_load_file(&d, argv[i], 16u << 20);
    AstNode *root = src ? parse_source(src, &arena, &d) : NULL;
    diag_print(&d, stdout);
    int errors = diag_error_count(&d);
    if (!errors) {
        if (dump && root) {
            ast_dump(root, stdout);
            fputc('\n', stdout);
        } else {
            puts("ok");
        }
    }
    arena_free(&arena);
    diag_free(&d);
    return errors ? 1 : 0;
}
