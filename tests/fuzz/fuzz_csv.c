/* fuzz_csv: libFuzzer harness for the CSV data reader (src/train/data_csv.c): recur's glue
 * around libcsv -- records fed a line at a time, # comments between records, header detection,
 * labels (names or numbers), values -- then the batches. The first input byte picks the
 * options (label or values, features 1 or 2, delimiter ',' or ';'); the rest is the file.
 *
 * Build:  ./configure --enable-fuzz CC=clang CFLAGS="-g -O1 -fsanitize=fuzzer-no-link,address"
 *         make tests/fuzz/fuzz_csv
 * Run:    tests/fuzz/fuzz_csv -max_total_time=30 CORPUS_DIR   (seeds: tests/fuzz/seeds/csv)
 * Every input must be read (or refused with a message) without a crash, a leak or a hang. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "train/data.h"
#include "util/diag.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    static char path[64];
    if (!path[0]) snprintf(path, sizeof path, "/tmp/fuzz_csv.%ld.csv", (long)getpid());
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    fwrite(data + 1, 1, size - 1, f);
    fclose(f);
    DataConfig c = data_defaults();
    c.kind = DATA_CSV;
    c.path = path;
    c.batch = 2;
    c.valid = 0.25;
    c.csv_values = data[0] & 1;
    c.csv_features = data[0] & 2 ? 2 : 1;
    c.csv_delim = data[0] & 4 ? ';' : ',';
    Diag d;
    diag_init(&d);
    DataSet ds;
    if (data_open(&ds, &c, &d) == 0) {
        for (int i = 0; i < 3; i++) data_next(&ds);
        for (int64_t i = 0; i < data_valid_batches(&ds); i++) data_valid_batch(&ds, i);
        data_free(&ds);
    }
    diag_free(&d);
    return 0;
}
