/* fuzz_npz: libFuzzer harness for NumPy .npz archives (src/io/npz.c): libzip entry handling
 * (stored and deflated), then each entry's .npy header and data (npy_parse).
 *
 * Build:  ./configure --enable-fuzz CC=clang CFLAGS="-g -O1 -fsanitize=fuzzer-no-link,address"
 *         make tests/fuzz/fuzz_npz
 * Run:    tests/fuzz/fuzz_npz -max_total_time=30 CORPUS_DIR   (seeds: the .npz fixtures)
 * Every input must be read (or refused) without a crash, a leak or a hang. */
#include <stddef.h>
#include <stdint.h>

#include "io/npz.h"
#include "util/diag.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    Diag d;
    diag_init(&d);
    WeightSet w = {0};
    if (npz_read_buffer(data, size, "fuzz.npz", &w, &d) == 0)
        wf_set_free(&w);
    diag_free(&d);
    return 0;
}
