/* fuzz_torch_zip: libFuzzer harness for PyTorch files (src/io/torch_pt.c): the zip archive's
 * entry handling through libzip (PREFIX/data.pkl, PREFIX/data/KEY, sizes, CRCs), storages,
 * offsets and strides of the tensors, and the legacy format's sequence of pickles and raw
 * storages, all from memory (zip_source_buffer).
 *
 * Build:  ./configure --enable-fuzz CC=clang CFLAGS="-g -O1 -fsanitize=fuzzer-no-link,address"
 *         make tests/fuzz/fuzz_torch_zip
 * Run:    tests/fuzz/fuzz_torch_zip -max_total_time=30 CORPUS_DIR   (seeds: the .pt fixtures)
 * Every input must be read (or refused) without a crash, a leak or a hang. */
#include <stddef.h>
#include <stdint.h>

#include "io/torch_pt.h"
#include "util/diag.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    Diag d;
    diag_init(&d);
    WeightSet w = {0};
    WfReadOpts o = {.key = size % 2 ? "model" : NULL};
    if (torch_read_buffer(data, size, "fuzz.pt", &o, &w, &d) == 0)
        wf_set_free(&w);
    diag_free(&d);
    return 0;
}
