/* data_vocab: the vocabularies of data.h (sorted characters or bytes, saved with a checkpoint as
 * their bytes). Separate from the data sources, which all use it; UTF-8 is util/utf8.h's. */
#include <stdlib.h>
#include <string.h>

#include "train/data_int.h"
#include "util/utf8.h"

/* Binary search in the sorted codes. */
int data_vocab_id(const Vocab *v, uint32_t code)
{
    int lo = 0, hi = v->size - 1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2;
        if (v->codes[mid] == code) return mid;
        if (v->codes[mid] < code) lo = mid + 1;
        else hi = mid - 1;
    }
    return -1;
}

int data_vocab_utf8(const Vocab *v, int id, char out[4])
{
    if (id < 0 || id >= v->size) return 0;
    if (v->level == DATA_BYTE) {
        out[0] = (char)v->codes[id];
        return 1;
    }
    return utf8_encode(v->codes[id], out);
}

int data_vocab_bytes(const Vocab *v, uint8_t **out, size_t *len, Diag *d)
{
    *out = malloc((size_t)v->size * 4 + 1);
    if (!*out) {
        diag_error_in(d, "vocabulary", "out of memory");
        return -1;
    }
    size_t n = 0;
    for (int i = 0; i < v->size; i++)
        n += (size_t)data_vocab_utf8(v, i, (char *)*out + n);
    *len = n;
    return 0;
}

int data_vocab_from_bytes(Vocab *v, DataLevel level, const uint8_t *bytes, size_t len, Diag *d)
{
    memset(v, 0, sizeof *v);
    v->level = level;
    v->codes = malloc((len ? len : 1) * sizeof(uint32_t));
    if (!v->codes) {
        diag_error_in(d, "vocabulary", "out of memory");
        return -1;
    }
    size_t i = 0;
    while (i < len) {
        uint32_t cp;
        int k = level == DATA_BYTE ? 1 : utf8_decode(bytes + i, len - i, &cp);
        if (level == DATA_BYTE) cp = bytes[i];
        if (k == 0 || (v->size > 0 && cp <= v->codes[v->size - 1])) {
            diag_error_in(d, "vocabulary", "stored vocabulary is corrupt at byte %zu", i);
            data_vocab_free(v);
            return -1;
        }
        v->codes[v->size++] = cp;
        i += (size_t)k;
    }
    return 0;
}

void data_vocab_free(Vocab *v)
{
    free(v->codes);
    v->codes = NULL;
    v->size = 0;
}

/* A fixed vocabulary from a string of strictly increasing ASCII characters. */
int data_vocab_fixed(Vocab *v, const char *chars, Diag *d)
{
    return data_vocab_from_bytes(v, DATA_CHAR, (const uint8_t *)chars, strlen(chars), d);
}
