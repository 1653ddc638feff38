/* safetensors: read and write the Hugging Face safetensors format.
 *
 * Layout: u64 LE N | N bytes of UTF-8 JSON (may be padded with trailing spaces) | byte buffer.
 * The JSON maps each tensor name to {"dtype": "F32", "shape": [..], "data_offsets": [b, e]}
 * (offsets relative to the byte buffer) and may hold "__metadata__": {string: string}. The
 * buffer is covered exactly by the tensors: no gaps, no overlaps.
 *
 * We write F32 tensors in list order, contiguously, with {"format": "pt"} metadata (so PyTorch's
 * loaders accept the file), the header padded with spaces to a multiple of 8 bytes. We read F32,
 * and convert F16, BF16 and F64 to float32. Tensors come back in data-offset order (the file's
 * order). Every violation is reported as `path: error: ...`, naming the tensor when there is one.
 *
 * Ownership: safetensors_read fills a CkptTensorList (names and data malloc'ed, released with
 * ckpt_tensors_free) and, when meta is not NULL, a SafetensorsMeta released with
 * safetensors_meta_free. safetensors_write only reads its arguments. */
#ifndef RECUR_SAFETENSORS_H
#define RECUR_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "io/checkpoint.h"
#include "util/diag.h"

/* The header JSON may be at most this long (the reference implementation's limit is 100 MB). */
enum { SAFETENSORS_MAX_HEADER = 100 * 1000 * 1000 };
/* The __metadata__ key of the data buffer's CRC-32 (8 hex digits) that safetensors_write adds and
 * safetensors_read checks when present (issue 14); it is not returned in SafetensorsMeta. */
#define SAFETENSORS_CRC_KEY "recur.crc32"

/* String-to-string metadata ("__metadata__"), in file order. */
typedef struct SafetensorsMeta {
    char **keys;
    char **values;
    int n;
} SafetensorsMeta;

/* Reads path into out (an empty list on entry; on failure it is left empty) and, if meta is not
 * NULL, the metadata. Returns 0 or -1 (reported). */
int safetensors_read(const char *path, CkptTensorList *out, SafetensorsMeta *meta, Diag *d);
/* Writes the tensors of l as F32 atomically. extra_meta is NULL or a NULL-terminated list of
 * key, value, key, value, ... added after {"format": "pt"}. */
int safetensors_write(const char *path, const CkptTensorList *l, const char *const *extra_meta,
                      Diag *d);
void safetensors_meta_free(SafetensorsMeta *m);
/* Adds key = value, or replaces the value of an existing key (copies both). 0, or -1 when out
 * of memory. */
int safetensors_meta_set(SafetensorsMeta *m, const char *key, const char *value);
/* The value for key in m, or NULL. */
const char *safetensors_meta_get(const SafetensorsMeta *m, const char *key);

/* IEEE half / bfloat16 bit patterns to float (exact; NaN, Inf and subnormals preserved). */
float safetensors_f16_to_f32(uint16_t h);
float safetensors_bf16_to_f32(uint16_t h);

#endif
