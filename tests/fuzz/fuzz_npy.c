/* fuzz_npy: libFuzzer harness for NumPy .npy arrays, both readers of src/io/npy.c: the
 * streaming file reader (npy_read: prefix, header dict, data straight from the file) and the
 * in-memory parser the .npz reader uses (npy_parse), then the conversion to a float tensor.
 *
 * Build:  ./configure --enable-fuzz CC=clang CFLAGS="-g -O1 -fsanitize=fuzzer-no-link,address"
 *         make tests/fuzz/fuzz_npy
 * Run:    tests/fuzz/fuzz_npy -max_total_time=30 CORPUS_DIR   (seeds: tests/fixtures/**.npy)
 * Every input must be read (or refused with a message) without a crash, a leak or a hang. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

#include "io/npy.h"
#include "util/diag.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char path[64];
    if (!path[0]) snprintf(path, sizeof path, "/tmp/fuzz_npy.%ld.npy", (long)getpid());
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    fwrite(data, 1, size, f);
    fclose(f);
    Diag d;
    diag_init(&d);
    NpyArray a;
    if (npy_read(path, &a, &d) == 0) {
        CkptTensorList l = {0};
        if (npy_to_tensor(&a, "x", &l, path, &d) == 0) ckpt_tensors_free(&l);
        npy_free(&a);
    }
    if (npy_parse(data, size, "fuzz.npy", &a, &d) == 0) npy_free(&a);
    diag_free(&d);
    return 0;
}
