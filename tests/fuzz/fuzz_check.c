/* fuzz_check: libFuzzer harness for the whole `recur check --explain` path: the parser, then
 * semantic analysis with the prelude (cells, sizes, settings, limits), the IR and --explain's
 * symbolic sizes and DOT output, as `recur check` and `recur graph` run them. The input is a
 * model file.
 *
 * Build:  ./configure --enable-fuzz CC=clang CFLAGS="-g -O1 -fsanitize=fuzzer-no-link,address"
 *         make tests/fuzz/fuzz_check
 * Run:    tests/fuzz/fuzz_check -max_total_time=30 -dict=tests/fuzz/rnn.dict CORPUS_DIR
 *         (seeds: models/*.rnn and tests/golden/*\/*.rnn)
 * Every input must compile (or fail with messages) without a crash, a leak or a hang. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "ir/dot.h"
#include "ir/explain.h"
#include "lang/sema.h"
#include "util/diag.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static FILE *sink;
    if (!sink) sink = fopen("/dev/null", "w");
    if (!sink) return 0;
    Diag d;
    diag_init(&d);
    const Source *src = diag_add_source(&d, "fuzz.rnn", (const char *)data, size);
    if (src) {
        SemaOptions so = {.allow_auto = true, .auto_vocab = IR_EXPLAIN_PLACEHOLDER,
                          .auto_classes = IR_EXPLAIN_PLACEHOLDER};
        IrModel *m = sema_compile_opts(&d, src, NULL, 0, &so);
        if (m) {
            ir_explain(m, sink);
            ir_dot_model(m, sink);
            ir_model_free(m);
        }
    }
    diag_print(&d, sink);
    diag_free(&d);
    return 0;
}
