/* safetensors: reader and writer (see safetensors.h), JSON header through json-c. */
#include "io/safetensors.h"

#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "io/fileio.h"
#include "util/array.h"

#define ST_MAX_FILE_BYTES ((size_t)1 << 40)

typedef enum { ST_F32, ST_F16, ST_BF16, ST_F64 } StDtype;

/* One tensor entry of the header, before its data are converted. */
typedef struct StEntry {
    const char *name;   /* borrowed from the json-c object */
    StDtype dtype;
    int ndim;
    int64_t shape[CKPT_MAX_DIMS];
    uint64_t count, begin, end;
} StEntry;

/* Bytes per element of a supported dtype. */
static size_t st_dtype_size(StDtype t)
{
    return t == ST_F64 ? 8 : t == ST_F32 ? 4 : 2;
}

/* Frees every key and value; m is empty afterwards. */
void safetensors_meta_free(SafetensorsMeta *m)
{
    if (!m)
        return;
    for (int i = 0; i < m->n; i++) {
        free(m->keys[i]);
        free(m->values[i]);
    }
    free(m->keys);
    free(m->values);
    memset(m, 0, sizeof *m);
}

/* Linear lookup (metadata maps are tiny). */
const char *safetensors_meta_get(const SafetensorsMeta *m, const char *key)
{
    for (int i = 0; i < m->n; i++)
        if (strcmp(m->keys[i], key) == 0)
            return m->values[i];
    return NULL;
}

/* Linear too; keys keep their first position. */
int safetensors_meta_set(SafetensorsMeta *m, const char *key, const char *value)
{
    char *v = strdup(value);
    if (!v)
        return -1;
    for (int i = 0; i < m->n; i++)
        if (strcmp(m->keys[i], key) == 0) {
            free(m->values[i]);
            m->values[i] = v;
            return 0;
        }
    char *k = strdup(key);
    char **nk = k ? realloc(m->keys, sizeof *nk * (size_t)(m->n + 1)) : NULL;
    if (nk)
        m->keys = nk;
    char **nv = nk ? realloc(m->values, sizeof *nv * (size_t)(m->n + 1)) : NULL;
    if (!nv) {
        free(k);
        free(v);
        return -1;
    }
    m->values = nv;
    m->keys[m->n] = k;
    m->values[m->n++] = v;
    return 0;
}

/* half: sign(1) exponent(5) mantissa(10).
 *   e == 0:  (-1)^s * 2^-14 * m/1024      (zero and subnormals)
 *   e == 31: Inf (m == 0) or NaN (payload kept in the top mantissa bits)
 *   else:    (-1)^s * 2^(e-15) * (1 + m/1024), i.e. re-biased by 127-15 = 112. */
float safetensors_f16_to_f32(uint16_t h)
{
    uint32_t s = (uint32_t)(h >> 15) << 31, e = (h >> 10) & 0x1f, m = h & 0x3ff, bits;
    if (e == 0) {
        if (m == 0) {
            bits = s;
        } else {   /* normalise the subnormal: shift the mantissa up to the implicit 1 */
            e = 113;
            while (!(m & 0x400)) {
                m <<= 1;
                e--;
            }
            bits = s | e << 23 | (m & 0x3ff) << 13;
        }
    } else if (e == 31) {
        bits = s | 0x7f800000u | m << 13;
    } else {
        bits = s | (e + 112) << 23 | m << 13;
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

/* bfloat16 is the top half of a float32. */
float safetensors_bf16_to_f32(uint16_t h)
{
    uint32_t bits = (uint32_t)h << 16;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

/* The top-level keys of a JSON object text, raw (escapes untouched), in order. json-c merges
 * duplicate keys silently, so duplicates are found here. Returns the first duplicated key
 * (malloc'ed) or NULL, and the number of keys in *nkeys (-1 if unknown, when out of memory).
 * The text has already been parsed successfully by json-c. */
static char *first_duplicate_key(const char *s, size_t n, int *nkeys)
{
    const char **keys = NULL;
    size_t *lens = NULL, nk = 0, cap_keys = 0, cap_lens = 0;
    char *dup = NULL;
    int depth = 0;
    for (size_t i = 0; i < n && !dup; i++) {
        char c = s[i];
        if (c == '{' || c == '[') {
            depth++;
        } else if (c == '}' || c == ']') {
            depth--;
        } else if (c == '"') {
            size_t start = ++i;
            while (i < n && s[i] != '"')
                i += s[i] == '\\' ? 2 : 1;
            size_t len = i - start;
            size_t j = i + 1;
            while (j < n && (s[j] == ' ' || s[j] == '\t' || s[j] == '\n' || s[j] == '\r'))
                j++;
            if (depth != 1 || j >= n || s[j] != ':')
                continue;
            for (size_t k = 0; k < nk; k++)
                if (lens[k] == len && memcmp(keys[k], s + start, len) == 0) {
                    dup = malloc(len + 1);
                    if (dup) {
                        memcpy(dup, s + start, len);
                        dup[len] = '\0';
                    }
                    break;
                }
            if (ARRAY_RESERVE(keys, cap_keys, nk + 1) != 0 ||
                ARRAY_RESERVE(lens, cap_lens, nk + 1) != 0) {
                nk = SIZE_MAX;   /* out of memory: skip the check rather than fail */
                break;
            }
            keys[nk] = s + start;
            lens[nk++] = len;
        }
    }
    *nkeys = nk == SIZE_MAX || nk > INT32_MAX ? -1 : (int)nk;
    free(keys);
    free(lens);
    return dup;
}

/* Parses one tensor entry {"dtype", "shape", "data_offsets"}; reports and returns -1. */
static int parse_entry(const char *path, const char *name, json_object *v, StEntry *e, Diag *d)
{
    memset(e, 0, sizeof *e);
    e->name = name;
    json_object *jd, *js, *jo;
    if (!json_object_is_type(v, json_type_object) || !json_object_object_get_ex(v, "dtype", &jd)
        || !json_object_object_get_ex(v, "shape", &js)
        || !json_object_object_get_ex(v, "data_offsets", &jo)) {
        diag_error_in(d, path, "tensor '%s': entry needs \"dtype\", \"shape\" and "
                      "\"data_offsets\"", name);
        return -1;
    }
    const char *dt = json_object_is_type(jd, json_type_string) ? json_object_get_string(jd) : "";
    if (strcmp(dt, "F32") == 0) e->dtype = ST_F32;
    else if (strcmp(dt, "F16") == 0) e->dtype = ST_F16;
    else if (strcmp(dt, "BF16") == 0) e->dtype = ST_BF16;
    else if (strcmp(dt, "F64") == 0) e->dtype = ST_F64;
    else {
        diag_error_in(d, path, "tensor '%s': unsupported dtype '%s' (supported: F32, F16, BF16, "
                      "F64)", name, dt);
        return -1;
    }
    if (!json_object_is_type(js, json_type_array)) {
        diag_error_in(d, path, "tensor '%s': \"shape\" is not an array", name);
        return -1;
    }
    size_t nd = json_object_array_length(js);
    if (nd > CKPT_MAX_DIMS) {
        diag_error_in(d, path, "tensor '%s': %zu dimensions (limit %d)", name, nd, CKPT_MAX_DIMS);
        return -1;
    }
    e->ndim = (int)nd;
    e->count = 1;
    for (size_t i = 0; i < nd; i++) {
        json_object *x = json_object_array_get_idx(js, i);
        int64_t v64 = json_object_is_type(x, json_type_int) ? json_object_get_int64(x) : -1;
        if (v64 < 0) {
            diag_error_in(d, path, "tensor '%s': shape holds something other than a "
                          "non-negative integer", name);
            return -1;
        }
        if (v64 != 0 && e->count > UINT64_MAX / 8 / (uint64_t)v64) {
            diag_error_in(d, path, "tensor '%s': shape is absurdly large", name);
            return -1;
        }
        e->shape[i] = v64;
        e->count *= (uint64_t)v64;
    }
    json_object *b, *en;
    if (!json_object_is_type(jo, json_type_array) || json_object_array_length(jo) != 2
        || !json_object_is_type(b = json_object_array_get_idx(jo, 0), json_type_int)
        || !json_object_is_type(en = json_object_array_get_idx(jo, 1), json_type_int)
        || json_object_get_int64(b) < 0 || json_object_get_int64(en) < json_object_get_int64(b)) {
        diag_error_in(d, path, "tensor '%s': \"data_offsets\" must be [begin, end] with "
                      "0 <= begin <= end", name);
        return -1;
    }
    e->begin = (uint64_t)json_object_get_int64(b);
    e->end = (uint64_t)json_object_get_int64(en);
    if (e->end - e->begin != e->count * st_dtype_size(e->dtype)) {
        diag_error_in(d, path, "tensor '%s': data_offsets span %llu bytes but shape x %s needs "
                      "%llu", name, (unsigned long long)(e->end - e->begin), dt,
                      (unsigned long long)(e->count * st_dtype_size(e->dtype)));
        return -1;
    }
    return 0;
}

/* Orders entries by data offset (begin, then end), for the gap/overlap scan. */
static int cmp_entry(const void *a, const void *b)
{
    const StEntry *x = a, *y = b;
    if (x->begin != y->begin)
        return x->begin < y->begin ? -1 : 1;
    return x->end < y->end ? -1 : x->end > y->end;
}

/* Copies metadata (every value must be a string, as the spec requires). */
static int parse_meta(const char *path, json_object *v, SafetensorsMeta *meta, Diag *d)
{
    if (!json_object_is_type(v, json_type_object)) {
        diag_error_in(d, path, "\"__metadata__\" is not an object of strings");
        return -1;
    }
    json_object_object_foreach(v, key, val) {
        if (!json_object_is_type(val, json_type_string)) {
            diag_error_in(d, path, "\"__metadata__\" value for '%s' is not a string", key);
            return -1;
        }
        if (!meta || strcmp(key, SAFETENSORS_CRC_KEY) == 0)   /* checked, not carried over */
            continue;
        char **k = realloc(meta->keys, (size_t)(meta->n + 1) * sizeof *k);
        if (k)
            meta->keys = k;
        char **vv = realloc(meta->values, (size_t)(meta->n + 1) * sizeof *vv);
        if (vv)
            meta->values = vv;
        char *ks = strdup(key), *vs = strdup(json_object_get_string(val));
        if (!k || !vv || !ks || !vs) {
            free(ks);
            free(vs);
            diag_error_in(d, path, "out of memory");
            return -1;
        }
        meta->keys[meta->n] = ks;
        meta->values[meta->n++] = vs;
    }
    return 0;
}

/* Converts n elements at src (unaligned, little-endian) to float. */
static void convert(StDtype t, const unsigned char *src, uint64_t n, float *dst)
{
    for (uint64_t i = 0; i < n; i++) {
        switch (t) {
        case ST_F32: {
            uint32_t bits = io_le32(src + 4 * i);
            memcpy(&dst[i], &bits, 4);
            break;
        }
        case ST_F64: {
            uint64_t bits = io_le64(src + 8 * i);
            double x;
            memcpy(&x, &bits, 8);
            dst[i] = (float)x;
            break;
        }
        case ST_F16:
            dst[i] = safetensors_f16_to_f32((uint16_t)(src[2 * i] | src[2 * i + 1] << 8));
            break;
        case ST_BF16:
            dst[i] = safetensors_bf16_to_f32((uint16_t)(src[2 * i] | src[2 * i + 1] << 8));
            break;
        }
    }
}

/* The 8-byte header length, checked against the file, and the JSON text it frames: *js and *n on
 * success. */
static int header_text(const char *path, const unsigned char *buf, size_t len, const char **js,
                       uint64_t *n, Diag *d)
{
    char found[96];
    io_describe_bytes(buf, len, found, sizeof found);
    if (len < 8) {
        diag_error_in(d, path, "not a safetensors file: %zu bytes, too short for the 8-byte "
                      "header length (found %s)", len, found);
        return -1;
    }
    *n = io_le64(buf);
    if (*n > SAFETENSORS_MAX_HEADER) {
        diag_error_in(d, path, "not a safetensors file: header length %llu is absurd (limit "
                      "%d); found %s", (unsigned long long)*n, SAFETENSORS_MAX_HEADER, found);
        return -1;
    }
    if (*n > len - 8) {
        diag_error_in(d, path, "truncated safetensors file: header length %llu but only %zu "
                      "bytes follow", (unsigned long long)*n, len - 8);
        return -1;
    }
    *js = (const char *)buf + 8;
    if (*n < 2 || (*js)[0] != '{') {
        diag_error_in(d, path, "not a safetensors file: the header does not start with '{'; "
                      "found %s", found);
        return -1;
    }
    if (memchr(*js, '\0', *n)) {
        diag_error_in(d, path, "malformed safetensors header: NUL byte in the JSON");
        return -1;
    }
    return 0;
}

/* Parses the header JSON with json-c into *root: one object, nothing after it, no key twice
 * (json-c would merge duplicates silently). *root is the caller's to put, also on failure. */
static int header_json(const char *path, const char *js, uint64_t n, json_object **root,
                       Diag *d)
{
    json_tokener *tok = json_tokener_new();
    if (!tok) {
        diag_error_in(d, path, "out of memory");
        return -1;
    }
    int rc = -1;
    *root = json_tokener_parse_ex(tok, js, (int)n);
    enum json_tokener_error jerr = json_tokener_get_error(tok);
    size_t end = json_tokener_get_parse_end(tok);
    json_tokener_free(tok);
    if (!*root || jerr != json_tokener_success) {
        diag_error_in(d, path, "malformed safetensors header: %s at byte %zu of the JSON",
                      jerr == json_tokener_continue ? "unexpected end"
                                                    : json_tokener_error_desc(jerr), end);
        return -1;
    }
    for (size_t i = end; i < n; i++)
        if (js[i] != ' ' && js[i] != '\t' && js[i] != '\n' && js[i] != '\r') {
            diag_error_in(d, path, "malformed safetensors header: text after the JSON object");
            return -1;
        }
    if (!json_object_is_type(*root, json_type_object)) {
        diag_error_in(d, path, "malformed safetensors header: not a JSON object");
        return -1;
    }
    int nkeys, nobj = json_object_object_length(*root);
    char *dup = first_duplicate_key(js, n, &nkeys);
    if (dup)
        diag_error_in(d, path, "malformed safetensors header: tensor '%s' appears twice", dup);
    else if (nkeys >= 0 && nkeys != nobj)   /* the same name spelled with different escapes */
        diag_error_in(d, path, "malformed safetensors header: a tensor name appears twice");
    else
        rc = 0;
    free(dup);
    return rc;
}

/* The tensors, sorted by offset, must tile the data buffer of blen bytes exactly: no tensor past
 * its end, no overlap, no gap, nothing left over. */
static int check_layout(const char *path, const StEntry *ents, int ne, uint64_t blen, Diag *d)
{
    uint64_t at = 0;
    for (int i = 0; i < ne; i++) {
        if (ents[i].end > blen) {
            diag_error_in(d, path, "tensor '%s': data_offsets [%llu, %llu] run past the %llu-byte "
                          "data buffer (truncated?)", ents[i].name,
                          (unsigned long long)ents[i].begin, (unsigned long long)ents[i].end,
                          (unsigned long long)blen);
            return -1;
        }
        if (ents[i].begin < at) {
            diag_error_in(d, path, "tensor '%s' overlaps tensor '%s' in the data buffer",
                          ents[i].name, ents[i - 1].name);
            return -1;
        }
        if (ents[i].begin > at) {
            diag_error_in(d, path, "gap of %llu unused bytes before tensor '%s'",
                          (unsigned long long)(ents[i].begin - at), ents[i].name);
            return -1;
        }
        at = ents[i].end;
    }
    if (at != blen) {
        diag_error_in(d, path, "%llu bytes after the last tensor belong to no tensor",
                      (unsigned long long)(blen - at));
        return -1;
    }
    return 0;
}

/* The CRC-32 of the data buffer that recur writes into __metadata__ (SAFETENSORS_CRC_KEY), checked
 * when present: a flipped data byte is an error, not different weights. Files without it (not
 * written by recur) are read as they are. */
static int check_crc(const char *path, json_object *root, const unsigned char *data,
                     uint64_t blen, Diag *d)
{
    json_object *meta, *v;
    if (!json_object_object_get_ex(root, "__metadata__", &meta) ||
        !json_object_is_type(meta, json_type_object) ||
        !json_object_object_get_ex(meta, SAFETENSORS_CRC_KEY, &v) ||
        !json_object_is_type(v, json_type_string))
        return 0;
    char *end;
    const char *want = json_object_get_string(v);
    unsigned long w = strtoul(want, &end, 16);
    uint32_t got = io_crc32(0, data, (size_t)blen);
    if (*want && !*end && w == got)
        return 0;
    diag_error_in(d, path, "the tensor data are damaged: their CRC-32 is %08x, the header "
                  "records %s (%s)", got, want, SAFETENSORS_CRC_KEY);
    return -1;
}

/* Every entry of the header object (and __metadata__ into meta), then their layout in the
 * data buffer; converts the data into out once everything is known to be consistent. */
static int read_tensors(const char *path, json_object *root, const unsigned char *data,
                        uint64_t blen, CkptTensorList *out, SafetensorsMeta *meta, Diag *d)
{
    StEntry *ents = calloc((size_t)json_object_object_length(root) + 1, sizeof *ents);
    if (!ents) {
        diag_error_in(d, path, "out of memory");
        return -1;
    }
    int ne = 0, rc = -1;
    json_object_object_foreach(root, key, val) {
        if (strcmp(key, "__metadata__") == 0) {
            if (parse_meta(path, val, meta, d) != 0)
                goto done;
        } else if (parse_entry(path, key, val, &ents[ne++], d) != 0) {
            goto done;
        }
    }
    qsort(ents, (size_t)ne, sizeof *ents, cmp_entry);
    if (check_layout(path, ents, ne, blen, d) != 0 || check_crc(path, root, data, blen, d) != 0)
        goto done;
    for (int i = 0; i < ne; i++) {
        CkptTensor *t = ckpt_add_tensor(out, ents[i].name, ents[i].ndim, ents[i].shape, NULL);
        if (!t) {
            diag_error_in(d, path, "tensor '%s': out of memory (%llu elements)", ents[i].name,
                          (unsigned long long)ents[i].count);
            goto done;
        }
        convert(ents[i].dtype, data + ents[i].begin, ents[i].count, t->data);
    }
    rc = 0;
done:
    free(ents);
    return rc;
}

/* Header length and JSON first, then each entry, then the layout of the whole buffer. */
int safetensors_read(const char *path, CkptTensorList *out, SafetensorsMeta *meta, Diag *d)
{
    memset(out, 0, sizeof *out);
    if (meta)
        memset(meta, 0, sizeof *meta);
    unsigned char *buf;
    size_t len;
    if (file_read_all(path, ST_MAX_FILE_BYTES, &buf, &len, d) != 0)
        return -1;
    json_object *root = NULL;
    const char *js;
    uint64_t n;
    int rc = -1;
    if (header_text(path, buf, len, &js, &n, d) == 0 && header_json(path, js, n, &root, d) == 0)
        rc = read_tensors(path, root, buf + 8 + n, len - 8 - n, out, meta, d);
    if (rc != 0) {
        ckpt_tensors_free(out);
        safetensors_meta_free(meta);
    }
    if (root)
        json_object_put(root);
    free(buf);
    return rc;
}

/* Builds the header object: metadata first, then the tensors in list order, contiguous. */
static json_object *build_header(const char *path, const CkptTensorList *l,
                                 const char *const *extra, Diag *d)
{
    json_object *root = json_object_new_object(), *meta = json_object_new_object();
    if (!root || !meta)
        goto oom;
    if (json_object_object_add(root, "__metadata__", meta) != 0) {
        json_object_put(meta);
        goto oom;
    }
    if (json_object_object_add(meta, "format", json_object_new_string("pt")) != 0)
        goto oom;
    for (int i = 0; extra && extra[i] && extra[i + 1]; i += 2)
        if (json_object_object_add(meta, extra[i], json_object_new_string(extra[i + 1])) != 0)
            goto oom;
    uint32_t crc = 0;   /* the data buffer's CRC-32, written last so no extra pair replaces it */
    for (int i = 0; i < l->n; i++)
        if (l->items[i].data)
            crc = io_crc32(crc, l->items[i].data, (size_t)l->items[i].count * sizeof(float));
    char hex[16];
    snprintf(hex, sizeof hex, "%08x", crc);
    if (json_object_object_add(meta, SAFETENSORS_CRC_KEY, json_object_new_string(hex)) != 0)
        goto oom;
    uint64_t at = 0;
    for (int i = 0; i < l->n; i++) {
        const CkptTensor *t = &l->items[i];
        if (!t->name || (!t->data && t->count)) {
            diag_error_in(d, path, "cannot write tensor #%d: it has no name or no data", i);
            json_object_put(root);
            return NULL;
        }
        if (strcmp(t->name, "__metadata__") == 0 ||
            json_object_object_get_ex(root, t->name, NULL)) {
            diag_error_in(d, path, "cannot write tensor '%s': %s", t->name,
                          strcmp(t->name, "__metadata__") == 0 ? "reserved name"
                                                               : "duplicate name");
            json_object_put(root);
            return NULL;
        }
        int64_t count = 1;
        for (int k = 0; k < t->ndim; k++)
            count = t->shape[k] < 0 ? -1 : count * t->shape[k];
        if (t->ndim < 0 || t->ndim > CKPT_MAX_DIMS || count != t->count) {
            diag_error_in(d, path, "cannot write tensor '%s': its count does not match its shape",
                          t->name);
            json_object_put(root);
            return NULL;
        }
        json_object *e = json_object_new_object(), *shape = json_object_new_array(),
                    *offs = json_object_new_array();
        if (!e || !shape || !offs) {
            json_object_put(e);
            json_object_put(shape);
            json_object_put(offs);
            goto oom;
        }
        json_object_object_add(e, "dtype", json_object_new_string("F32"));
        for (int k = 0; k < t->ndim; k++)
            json_object_array_add(shape, json_object_new_int64(t->shape[k]));
        json_object_object_add(e, "shape", shape);
        json_object_array_add(offs, json_object_new_int64((int64_t)at));
        at += (uint64_t)t->count * 4;
        json_object_array_add(offs, json_object_new_int64((int64_t)at));
        json_object_object_add(e, "data_offsets", offs);
        if (json_object_object_add(root, t->name, e) != 0) {
            json_object_put(e);
            goto oom;
        }
    }
    return root;
oom:
    diag_error_in(d, path, "out of memory building the safetensors header");
    json_object_put(root);
    return NULL;
}

/* Header padded with spaces so the data start 8-byte aligned, then each tensor's floats. */
int safetensors_write(const char *path, const CkptTensorList *l, const char *const *extra_meta,
                      Diag *d)
{
    if (!io_host_le()) {
        diag_error_in(d, path, "cannot write safetensors on a big-endian host");
        return -1;
    }
    json_object *root = build_header(path, l, extra_meta, d);
    if (!root)
        return -1;
    const char *js = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN |
                                                              JSON_C_TO_STRING_NOSLASHESCAPE);
    if (!js) {
        diag_error_in(d, path, "out of memory building the safetensors header");
        json_object_put(root);
        return -1;
    }
    size_t jn = strlen(js), padded = (jn + 7) / 8 * 8;
    unsigned char *head = malloc(8 + padded);
    if (!head) {
        diag_error_in(d, path, "out of memory");
        json_object_put(root);
        return -1;
    }
    io_put_le64(head, padded);
    memcpy(head + 8, js, jn);
    memset(head + 8 + jn, ' ', padded - jn);
    json_object_put(root);
    IoAtomic w;
    if (io_atomic_open(&w, path, d) != 0) {
        free(head);
        return -1;
    }
    io_atomic_write(&w, head, 8 + padded);
    free(head);
    for (int i = 0; i < l->n; i++)
        io_atomic_write(&w, l->items[i].data, (size_t)l->items[i].count * sizeof(float));
    return io_atomic_commit(&w, d);
}
