/* fuzz_safetensors: libFuzzer harness for safetensors (src/io/safetensors.c): the header
 * length, the JSON header (json-c) with duplicate keys, dtypes, shapes and offsets, the layout
 * of the data buffer, the CRC-32 recur writes, and the F16/BF16/F64 conversions.
 *
 * Build:  ./configure --enable-fuzz CC=clang CFLAGS="-g -O1 -fsanitize=fuzzer-no-link,address"
 *         make tests/fuzz/fuzz_safetensors
 * Run:    tests/fuzz/fuzz_safetensors -max_total_time=30 CORPUS_DIR
 *         (seeds: tests/fixtures/**.safetensors)
 * Every input must be read (or refused with a message) without a crash, a leak or a hang. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

#include "io/safetensors.h"
#include "util/diag.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char path[64];
    if (!path[0]) snprintf(path, sizeof path, "/tmp/fuzz_st.%ld.safetensors", (long)getpid());
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    fwrite(data, 1, size, f);
    fclose(f);
    Diag d;
    diag_init(&d);
    CkptTensorList l;
    SafetensorsMeta m;
    if (safetensors_read(path, &l, &m, &d) == 0) {
        ckpt_tensors_free(&l);
        safetensors_meta_free(&m);
    }
    diag_free(&d);
    return 0;
}
