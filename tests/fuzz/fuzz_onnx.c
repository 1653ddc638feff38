/* fuzz_onnx: libFuzzer harness for the ONNX reader (src/io/onnx_read.c) and importer
 * (src/model/onnx_in.c): protobuf-c decoding of Debian's onnx.proto, the checks onnx_decode
 * makes, `recur inspect`'s listing (onnx_print), the float values of every initializer
 * (onnx_tensor_floats), and the import of the graph as a recur model (onnx_import_model).
 *
 * Build:  ./configure --enable-fuzz CC=clang CFLAGS="-g -O1 -fsanitize=fuzzer-no-link,address"
 *         make tests/fuzz/fuzz_onnx
 * Run:    tests/fuzz/fuzz_onnx -max_total_time=30 CORPUS_DIR   (seeds: tests/fuzz/seeds/onnx)
 * Every input must be read (or refused) without a crash, a leak or a hang. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "io/onnx.h"
#include "model/onnx.h"
#include "util/diag.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static FILE *sink;
    if (!sink)
        sink = fopen("/dev/null", "w");
    Diag d;
    diag_init(&d);
    Onnx__ModelProto *m;
    if (onnx_decode(data, size, "fuzz.onnx", &m, &d) == 0) {
        if (sink)
            onnx_print(sink, m);
        for (size_t i = 0; i < m->graph->n_initializer; i++) {
            float *v;
            int64_t n;
            if (onnx_tensor_floats(m->graph->initializer[i], "fuzz.onnx", &v, &n, &d) == 0)
                free(v);
        }
        Model model;
        char *text;
        if (onnx_import_model(m, "fuzz.onnx", &model, &text, &d) == 0) {
            model_free(&model);
            free(text);
        }
        onnx_model_free(m);
    }
    diag_free(&d);
    return 0;
}
