/* fuzz_h5: libFuzzer harness for the Keras .h5 reader (src/io/keras_h5.c) on file images in
 * memory (libhdf5's core driver: the same path keras_h5_read takes after reading the file),
 * then the WeightSet conversion both ways, so the layout checks (attributes, string types,
 * dataset ranks, sizes) are fuzzed with libhdf5 underneath.
 *
 * Build:  ./configure --enable-fuzz CC=clang CFLAGS="-g -O1 -fsanitize=fuzzer-no-link,address"
 *         make tests/fuzz/fuzz_h5
 * Run:    tests/fuzz/fuzz_h5 -max_total_time=30 CORPUS_DIR   (seeded with tests/fixtures/keras)
 * Every input must be read (or refused) without a crash or a leak. */
#include <stddef.h>
#include <stdint.h>

#include "io/keras_h5.h"
#include "util/diag.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    Diag d;
    diag_init(&d);
    KerasH5 k;
    if (keras_h5_read_image(data, size, "fuzz.h5", &k, &d) == 0) {
        WeightSet w = { 0 };
        KerasH5 back;
        if (keras_h5_to_set(&k, &w) == 0 && keras_h5_from_set(&w, "fuzz.h5", &back, &d) == 0)
            keras_h5_free(&back);
        wf_set_free(&w);
        keras_h5_free(&k);
    }
    diag_free(&d);
    return 0;
}
