/* fuzz_pickle: libFuzzer harness for the restricted unpickler (src/io/pickle.c).
 *
 * Build:  ./configure --enable-fuzz CC=clang CFLAGS="-g -O1 -fsanitize=fuzzer-no-link,address"
 *         make tests/fuzz/fuzz_pickle
 * Run:    tests/fuzz/fuzz_pickle -max_total_time=30 CORPUS_DIR   (seeds: .ci/run extracts the
 *         data.pkl of every fixture in tests/fixtures/interchange)
 * Every input must load (or be refused) without a crash, a leak, a hang or unbounded memory;
 * loads continue after the first pickle as the legacy format's sequence of pickles does. */
#include <stddef.h>
#include <stdint.h>

#include "io/pickle.h"
#include "util/diag.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    PkDoc doc = {0};
    size_t at = 0;
    for (int k = 0; k < 5 && at < size; k++) {
        Diag d;
        diag_init(&d);
        PkValue *root;
        size_t used = 0;
        int rc = pickle_load(data + at, size - at, "fuzz.pkl", &doc, &root, &used, &d);
        if (rc == 0 && root && root->kind == PK_DICT)
            (void)pickle_dict_get(root, "model");
        diag_free(&d);
        if (rc || used == 0)
            break;
        at += used;
    }
    pickle_doc_free(&doc);
    return 0;
}
