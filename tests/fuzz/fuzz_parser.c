/* fuzz_parser: libFuzzer harness for the scanner, parser and diagnostics printer.
 *
 * Build:  ./configure --enable-fuzz CC=clang CFLAGS="-g -O1 -fsanitize=fuzzer-no-link,address"
 *         make tests/fuzz/fuzz_parser
 * Run:    tests/fuzz/fuzz_parser -max_total_time=60 CORPUS_DIR $top_srcdir/tests/golden/syntax
 * Every input must parse (or fail) without a crash, a leak or a hang; the tree, when there is
 * one, is dumped and every diagnostic rendered, so those paths are fuzzed too. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "lang/ast.h"
#include "util/diag.h"
#include "util/arena.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static FILE *sink;
    if (!sink)
        sink = fopen("/dev/null", "w");
    Diag d;
    diag_init(&d);
    Arena arena = {0};
    const Source *src = diag_add_source(&d, "fuzz.rnn", (const char *)data, size);
    if (src) {
        AstNode *root = parse_source(src, &arena, &d);
        if (root && sink)
            ast_dump(root, sink);
    }
    if (sink)
        diag_print(&d, sink);
    arena_free(&arena);
    diag_free(&d);
    return 0;
}
