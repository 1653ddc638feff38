/* data_vocab: strict UTF-8 and the vocabularies of data.h (sorted characters or bytes, saved
 * with a checkpoint as their bytes). Separate from the data sources, which all use it. */
#include <stdlib.h>
#include <string.h>

#include "train/data_int.h"

/* Strict UTF-8 (no overlongs, no surrogates, at most U+10FFFF). */
int data_utf8_decode(const uint8_t *s, size_t n, uint32_t *cp)
{
    if (n == 0) return 0;
    uint8_t c = s[0];
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    int len;
    uint32_t v, min;
    if ((c & 0xE0) == 0xC0) { len = 2; v = c & 0x1F; min = 0x80; }
    else if ((c & 0xF0) == 0xE0) { len = 3; v = c & 0x0F; min = 0x800; }
    else if ((c & 0xF8) == 0xF0) { len = 4; v = c & 0x07; min = 0x10000; }
    else return 0;
    if ((size_t)len > n) return 0;
    for (int i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0;
        v = (v << 6) | (s[i] & 0x3F);
    }
    if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) return 0;
    *cp = v;
    return len;
}

/* Encodes code point cp as UTF-8 into out; returns the length. */
static int utf8_encode(uint32_t cp, char out[4])
{
    if (cp < 0x80) { out[0] = (char)cp; return 1; }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

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
        int k = level == DATA_BYTE ? 1 : data_utf8_decode(bytes + i, len - i, &cp);
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
