/* fuzz_ckpt: libFuzzer harness for recur checkpoints (src/io/checkpoint.c): the protobuf-c
 * payload and everything ckpt_read checks after it (tensors, shapes, optimiser state, RNG and
 * data position, class names, data files). The header's payload length and CRC-32 are fixed up
 * before reading, so mutations of the payload get past the integrity check into the parser;
 * inputs shorter than the header are read as they are.
 *
 * Build:  ./configure --enable-fuzz CC=clang CFLAGS="-g -O1 -fsanitize=fuzzer-no-link,address"
 *         make tests/fuzz/fuzz_ckpt
 * Run:    tests/fuzz/fuzz_ckpt -max_total_time=30 CORPUS_DIR   (seeds: tests/fixtures/**.ckpt)
 * Every input must be read (or refused with a message) without a crash, a leak or a hang. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/checkpoint.h"
#include "io/fileio.h"
#include "util/diag.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char path[64];
    if (!path[0]) snprintf(path, sizeof path, "/tmp/fuzz_ckpt.%ld.ckpt", (long)getpid());
    unsigned char *buf = malloc(size + 1);
    if (!buf) return 0;
    memcpy(buf, data, size);
    if (size >= 24) {   /* header: magic[8] version u32 crc u32 payload-length u64 */
        io_put_le64(buf + 16, (uint64_t)(size - 24));
        io_put_le32(buf + 12, io_crc32(0, buf + 24, size - 24));
    }
    FILE *f = fopen(path, "wb");
    if (f) {
        fwrite(buf, 1, size, f);
        fclose(f);
        Diag d;
        diag_init(&d);
        Checkpoint c;
        if (ckpt_read(path, &c, &d) == 0) ckpt_free(&c);
        diag_free(&d);
    }
    free(buf);
    return 0;
}
