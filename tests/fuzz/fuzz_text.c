/* fuzz_text: libFuzzer harness for text corpora (src/train/data_text.c, data_vocab.c): strict
 * UTF-8, the character or byte vocabulary, the validation split, then batches. The first input
 * byte picks the options (bytes or characters, batch 1 or 3, bptt 2 or 7); the rest is the
 * corpus.
 *
 * Build:  ./configure --enable-fuzz CC=clang CFLAGS="-g -O1 -fsanitize=fuzzer-no-link,address"
 *         make tests/fuzz/fuzz_text
 * Run:    tests/fuzz/fuzz_text -max_total_time=30 CORPUS_DIR   (seeds: tests/fixtures/train)
 * Every input must be read (or refused with a message) without a crash, a leak or a hang. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

#include "train/data.h"
#include "util/diag.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    static char path[64];
    if (!path[0]) snprintf(path, sizeof path, "/tmp/fuzz_text.%ld.txt", (long)getpid());
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    fwrite(data + 1, 1, size - 1, f);
    fclose(f);
    DataConfig c = data_defaults();
    c.kind = DATA_TEXT;
    c.path = path;
    c.batch = data[0] & 2 ? 3 : 1;
    c.bptt = data[0] & 4 ? 7 : 2;
    c.valid = 0.25;
    c.level = data[0] & 1 ? DATA_BYTE : DATA_CHAR;
    Diag d;
    diag_init(&d);
    DataSet ds;
    if (data_open(&ds, &c, &d) == 0) {
        for (int i = 0; i < 3; i++) data_next(&ds);
        for (int64_t i = 0; i < data_valid_batches(&ds) && i < 4; i++) data_valid_batch(&ds, i);
        data_free(&ds);
    }
    diag_free(&d);
    return 0;
}
