/* torch_pt: PyTorch .pt/.pth files, zip and legacy formats (see torch_pt.h). */
#include "io/torch_pt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/fileio.h"
#include "io/pickle.h"
#include "io/ziparch.h"
#include "util/file.h"

enum { TORCH_MAX_FILE = 1 << 30 };

/* The pickled magic number of the legacy format: PROTO 2, LONG1 10 bytes 0x1950a86a20f9469cfc6c. */
static const unsigned char legacy_magic[] = {0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46,
                                             0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19};
enum { LEGACY_PROTOCOL_VERSION = 1001 };

/* ---- probes -------------------------------------------------------------------------------- */

/* PREFIX/data.pkl, PREFIX one top-level folder. */
static bool is_data_pkl(const char *name)
{
    const char *slash = strchr(name, '/');
    return slash && slash != name && strcmp(slash + 1, "data.pkl") == 0;
}

int torch_probe_zip(const unsigned char *head, size_t n, const char *path)
{
    if (n < 4 || memcmp(head, "PK\3\4", 4) != 0)
        return 0;
    return ziparch_probe_path(path, is_data_pkl, false);
}

int torch_probe_legacy(const unsigned char *head, size_t n, const char *path)
{
    (void)path;
    return n >= sizeof legacy_magic && memcmp(head, legacy_magic, sizeof legacy_magic) == 0;
}

/* ---- storages: where each storage key's bytes are ----------------------------------------- */

typedef struct Storage {
    const char *key;
    const unsigned char *bytes;
    size_t len;
    unsigned char *owned;       /* zip entries are read into memory */
} Storage;

typedef struct Storages {
    Storage *items;
    int n;
    const ZipIn *zip;           /* zip format: entries PREFIX/data/KEY read on demand */
    char prefix[256];
} Storages;

static void storages_free(Storages *s)
{
    for (int i = 0; i < s->n; i++)
        free(s->items[i].owned);
    free(s->items);
    memset(s, 0, sizeof *s);
}

static int storages_add(Storages *s, const char *key, const unsigned char *b, size_t len,
                        unsigned char *owned)
{
    Storage *it = realloc(s->items, sizeof *it * (size_t)(s->n + 1));
    if (!it) {
        free(owned);
        return -1;
    }
    s->items = it;
    s->items[s->n++] = (Storage){key, b, len, owned};
    return 0;
}

/* The bytes of a storage: already known (legacy), or the zip entry PREFIX/data/KEY. */
static const Storage *storage_bytes(Storages *s, const PkValue *st, const char *what, Diag *d)
{
    for (int i = 0; i < s->n; i++)
        if (strcmp(s->items[i].key, st->s) == 0)
            return &s->items[i];
    if (!s->zip) {
        diag_error_in(d, what, "storage '%s' is not in the file", st->s);
        return NULL;
    }
    char name[600];
    snprintf(name, sizeof name, "%s/data/%s", s->prefix, st->s);
    int64_t i = ziparch_find(s->zip, name);
    unsigned char *buf;
    size_t len;
    if (i < 0) {
        diag_error_in(d, what, "the archive has no entry '%s' for a tensor's storage", name);
        return NULL;
    }
    if (ziparch_read_entry(s->zip, i, &buf, &len, d) || storages_add(s, st->s, buf, len, buf))
        return NULL;
    return &s->items[s->n - 1];
}

/* ---- tensors ------------------------------------------------------------------------------- */

/* Element k of a storage as float (the float dtypes only). */
static float element(PkDtype t, const unsigned char *p)
{
    switch (t) {
    case PK_F32: { float f; memcpy(&f, p, 4); return f; }
    case PK_F64: { double x; memcpy(&x, p, 8); return (float)x; }
    case PK_F16: return safetensors_f16_to_f32((uint16_t)(p[0] | p[1] << 8));
    default: return safetensors_bf16_to_f32((uint16_t)(p[0] | p[1] << 8));
    }
}

/* Checks that every element the view (offset, shape, stride) reaches lies in the storage, and
 * returns its element count (-1 reported). */
static int64_t view_count(const PkValue *t, size_t bytes, const char *name, const char *what,
                          Diag *d)
{
    size_t es = pickle_dtype_size(t->dtype);
    int64_t numel = t->storage->i, count = 1, last = t->offset;
    bool bad = (uint64_t)numel > bytes / es;
    for (int k = 0; !bad && k < t->ndim; k++) {
        int64_t reach;
        bad = __builtin_mul_overflow(count, t->shape[k], &count) ||
              (t->shape[k] > 0 && (__builtin_mul_overflow(t->shape[k] - 1, t->stride[k], &reach) ||
                                   __builtin_add_overflow(last, reach, &last)));
    }
    if (bad || count > ((int64_t)1 << 31) || (count > 0 && last >= numel)) {
        diag_error_in(d, what, "tensor '%s': its view (offset %lld, strides) reaches outside its "
                               "storage of %lld elements (%zu bytes)",
                      name, (long long)t->offset, (long long)numel, bytes);
        return -1;
    }
    return count;
}

/* Copies the view into a new float32 tensor of out, element by element in C order. */
static int add_tensor(WeightSet *out, const char *name, const PkValue *t, const Storage *st,
                      const char *what, Diag *d)
{
    int64_t count = view_count(t, st->len, name, what, d);
    if (count < 0)
        return -1;
    CkptTensor *ct = ckpt_add_tensor(&out->tensors, name, t->ndim, t->shape, NULL);
    if (!ct) {
        diag_error_in(d, what, "tensor '%s': a duplicate name, or out of memory", name);
        return -1;
    }
    size_t es = pickle_dtype_size(t->dtype);
    int64_t idx[PICKLE_MAX_DIMS] = {0};
    for (int64_t i = 0; i < count; i++) {
        int64_t at = t->offset;
        for (int k = 0; k < t->ndim; k++)
            at += idx[k] * t->stride[k];
        ct->data[i] = element(t->dtype, st->bytes + (size_t)at * es);
        for (int k = t->ndim - 1; k >= 0 && ++idx[k] == t->shape[k]; k--)
            idx[k] = 0;
    }
    return 0;
}

/* Every tensor of a state_dict; integer tensors (counters such as num_batches_tracked) are
 * skipped with a note, since weights are floats. */
static int read_state_dict(const PkValue *sd, Storages *s, const char *what, WeightSet *out,
                           Diag *d)
{
    for (int i = 0; i + 1 < sd->n; i += 2) {
        const PkValue *k = sd->items[i], *t = sd->items[i + 1];
        const char *name = k->s;
        PkDtype dt = t->dtype;
        if (dt != PK_F32 && dt != PK_F64 && dt != PK_F16 && dt != PK_BF16) {
            if (wf_set_note(out, "tensor '%s' holds %s elements, not floats: skipped", name,
                            pickle_dtype_name(dt)))
                return -1;
            continue;
        }
        const Storage *st = storage_bytes(s, t->storage, what, d);
        if (!st || add_tensor(out, name, t, st, what, d))
            return -1;
        if (dt != PK_F32 && (wf_set_note(out, "%s tensors converted to float32",
                                         dt == PK_F64 ? "float64" : dt == PK_F16 ? "float16"
                                                                                 : "bfloat16") ||
                             wf_set_how(out, out->tensors.n - 1,
                                        dt == PK_F64 ? "float64 -> float32"
                                        : dt == PK_F16 ? "float16 -> float32"
                                                       : "bfloat16 -> float32")))
            return -1;
        bool contiguous = true;
        int64_t want = 1;
        for (int j = t->ndim - 1; j >= 0; want *= t->shape[j], j--)
            contiguous &= t->shape[j] <= 1 || t->stride[j] == want;
        if (!contiguous && wf_set_how(out, out->tensors.n - 1, "non-contiguous view gathered"))
            return -1;
    }
    return 0;
}

/* A dict whose keys are all strings and whose values are all tensors. */
static bool is_state_dict(const PkValue *v)
{
    if (!v || v->kind != PK_DICT || v->n == 0)
        return false;
    for (int i = 0; i + 1 < v->n; i += 2)
        if (v->items[i]->kind != PK_STR || !v->items[i]->len ||
            strlen(v->items[i]->s) != v->items[i]->len || v->items[i + 1]->kind != PK_TENSOR)
            return false;
    return true;
}

/* "'model', 'optimizer', 'epoch'" (string keys of a dict) into buf. */
static void list_keys(const PkValue *v, char *buf, size_t n)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i + 1 < v->n && used < n; i += 2)
        used += (size_t)snprintf(buf + used, n - used, "%s'%s'", i ? ", " : "",
                                 v->items[i]->kind == PK_STR ? v->items[i]->s : "?");
}

/* The state_dict: the root itself, the entry named by --key, or the one entry that is one. */
static const PkValue *select_state_dict(const PkValue *root, const char *key, const char *what,
                                        WeightSet *out, Diag *d)
{
    char keys[1024];
    if (root->kind != PK_DICT) {
        diag_error_in(d, what, "the file holds a pickled object that is not a dict of tensors "
                               "(a state_dict)");
        return NULL;
    }
    list_keys(root, keys, sizeof keys);
    if (key) {
        const PkValue *v = pickle_dict_get(root, key);
        if (!is_state_dict(v)) {
            DiagMessage *m = diag_error_in(d, what, v ? "entry '%s' is not a dict of tensors"
                                                      : "there is no entry '%s'", key);
            diag_help(m, "the file's entries are %s", keys);
            return NULL;
        }
        return v;
    }
    if (is_state_dict(root))
        return root;
    const PkValue *found = NULL;
    int nfound = 0;
    for (int i = 0; i + 1 < root->n; i += 2)
        if (is_state_dict(root->items[i + 1]))
            found = root->items[i + 1], nfound++;
    if (nfound != 1) {
        DiagMessage *m = diag_error_in(d, what, nfound ? "more than one entry holds tensors"
                                                       : "no entry is a dict of tensors");
        diag_help(m, "the file's entries are %s; choose one with --key NAME", keys);
        return NULL;
    }
    for (int i = 0; i + 1 < root->n; i += 2)
        if (root->items[i + 1] == found && wf_set_note(out, "read the state_dict of entry '%s'",
                                                       root->items[i]->s))
            return NULL;
    return found;
}

/* ---- the zip format ------------------------------------------------------------------------ */

static int read_zip(const unsigned char *buf, size_t n, const char *what, const WfReadOpts *o,
                    WeightSet *out, Diag *d)
{
    ZipIn z;
    if (ziparch_open(&z, buf, n, what, d))
        return -1;
    int64_t pkl = -1;
    for (int64_t i = 0; i < z.n && pkl < 0; i++) {
        const char *name = ziparch_name(&z, i);
        if (name && is_data_pkl(name))
            pkl = i;
    }
    Storages s = {.zip = &z};
    PkDoc doc = {0};
    unsigned char *pbuf = NULL;
    size_t plen;
    PkValue *root;
    int rc = -1;
    if (pkl < 0) {
        diag_error_in(d, what, "the zip archive has no PREFIX/data.pkl: not a PyTorch file");
    } else if (ziparch_read_entry(&z, pkl, &pbuf, &plen, d) == 0) {
        const char *name = ziparch_name(&z, pkl);
        snprintf(s.prefix, sizeof s.prefix, "%.*s", (int)(strchr(name, '/') - name), name);
        char pwhat[1024];
        snprintf(pwhat, sizeof pwhat, "%s: %s", what, name);
        const PkValue *sd;
        if (pickle_load(pbuf, plen, pwhat, &doc, &root, NULL, d) == 0 &&
            (sd = select_state_dict(root, o->key, what, out, d)) != NULL)
            rc = read_state_dict(sd, &s, what, out, d);
    }
    free(pbuf);
    storages_free(&s);
    pickle_doc_free(&doc);
    ziparch_close(&z);
    return rc;
}

/* ---- the legacy format --------------------------------------------------------------------- */

/* One of the small pickles before the object: an int equal to want, or (sysinfo) a dict whose
 * little_endian must not be False. */
static int legacy_header(const unsigned char **p, const unsigned char *end, int64_t want,
                         bool sysinfo, const char *what, PkDoc *doc, Diag *d)
{
    PkValue *v;
    size_t used;
    if (pickle_load(*p, (size_t)(end - *p), what, doc, &v, &used, d))
        return -1;
    *p += used;
    bool ok = sysinfo ? v->kind == PK_DICT : v->kind == PK_INT && v->i == want;
    const PkValue *le = sysinfo ? pickle_dict_get(v, "little_endian") : NULL;
    if (!ok || (le && le->kind == PK_BOOL && !le->i)) {
        diag_error_in(d, what, "%s", !ok ? "not a PyTorch legacy file (unexpected header)"
                                         : "big-endian PyTorch files are not supported");
        return -1;
    }
    return 0;
}

/* The element size of the storage called key, from the object's storage references. */
static size_t legacy_elem_size(const PkDoc *doc, const char *key)
{
    for (int i = 0; i < doc->npool; i++)
        if (doc->pool[i]->kind == PK_STORAGE && strcmp(doc->pool[i]->s, key) == 0)
            return pickle_dtype_size(doc->pool[i]->dtype);
    return 0;
}

/* After the object: the list of storage keys, then per key an int64 count and the bytes. */
static int legacy_storages(const unsigned char *p, const unsigned char *end, const char *what,
                           PkDoc *doc, Storages *s, Diag *d)
{
    PkValue *keys;
    size_t used;
    if (pickle_load(p, (size_t)(end - p), what, doc, &keys, &used, d))
        return -1;
    p += used;
    if (keys->kind != PK_LIST) {
        diag_error_in(d, what, "the storage key list is not a list");
        return -1;
    }
    for (int i = 0; i < keys->n; i++) {
        const PkValue *k = keys->items[i];
        size_t es = k->kind == PK_STR ? legacy_elem_size(doc, k->s) : 0;
        if (!es || end - p < 8) {
            diag_error_in(d, what, es ? "truncated storage data" : "storage key list entry %d "
                                                                    "names no storage", i);
            return -1;
        }
        uint64_t numel = io_le64(p);
        p += 8;
        if (numel > (uint64_t)(end - p) / es) {
            diag_error_in(d, what, "storage '%s' is truncated (%llu elements declared)", k->s,
                          (unsigned long long)numel);
            return -1;
        }
        if (storages_add(s, k->s, p, (size_t)numel * es, NULL)) {
            diag_error_in(d, what, "out of memory");
            return -1;
        }
        p += numel * es;
    }
    return 0;
}

static int read_legacy(const unsigned char *buf, size_t n, const char *what, const WfReadOpts *o,
                       WeightSet *out, Diag *d)
{
    const unsigned char *p = buf, *end = buf + n;
    PkDoc doc = {0};
    Storages s = {0};
    PkValue *root;
    size_t used;
    const PkValue *sd;
    int rc = -1;
    /* the magic number's low 64 bits, as the 10-byte LONG1 is read */
    if (legacy_header(&p, end, (int64_t)0xa86a20f9469cfc6cULL, false, what, &doc, d) == 0 &&
        legacy_header(&p, end, LEGACY_PROTOCOL_VERSION, false, what, &doc, d) == 0 &&
        legacy_header(&p, end, 0, true, what, &doc, d) == 0 &&
        pickle_load(p, (size_t)(end - p), what, &doc, &root, &used, d) == 0 &&
        legacy_storages(p + used, end, what, &doc, &s, d) == 0 &&
        (sd = select_state_dict(root, o->key, what, out, d)) != NULL)
        rc = read_state_dict(sd, &s, what, out, d);
    storages_free(&s);
    pickle_doc_free(&doc);
    return rc;
}

int torch_read_buffer(const unsigned char *buf, size_t n, const char *what, const WfReadOpts *o,
                      WeightSet *out, Diag *d)
{
    static const WfReadOpts none = {0};
    o = o ? o : &none;
    int rc;
    if (n >= 4 && memcmp(buf, "PK\3\4", 4) == 0)
        rc = read_zip(buf, n, what, o, out, d);
    else if (torch_probe_legacy(buf, n, NULL))
        rc = read_legacy(buf, n, what, o, out, d);
    else {
        char found[96];
        diag_error_in(d, what, "not a PyTorch file (neither a zip archive nor the legacy magic): "
                      "found %s", io_describe_bytes(buf, n, found, sizeof found));
        rc = -1;
    }
    if (rc)
        wf_set_free(out);
    return rc;
}

int torch_read(const char *path, const WfReadOpts *o, WeightSet *out, Diag *d)
{
    unsigned char *buf;
    size_t n;
    if (file_read_all(path, TORCH_MAX_FILE, &buf, &n, d))
        return -1;
    int rc = torch_read_buffer(buf, n, path, o, out, d);
    free(buf);
    return rc;
}

/* ---- writing ------------------------------------------------------------------------------- */

/* data.pkl of an OrderedDict name -> _rebuild_tensor_v2(('storage', torch.FloatStorage, "i",
 * "cpu", numel), 0, size, stride, False, OrderedDict()), as torch.save's protocol 2 writes it.
 * Memo: 0 OrderedDict, 1 _rebuild_tensor_v2, 2 FloatStorage, then one per string. */
static unsigned char *state_dict_pickle(const CkptTensorList *l, size_t *len)
{
    PkWriter w = {0};
    pk_emit_proto(&w, 2);
    pk_emit_global(&w, "collections", "OrderedDict");
    pk_emit_put(&w);
    pk_emit_op(&w, PK_OP_EMPTY_TUPLE);
    pk_emit_op(&w, PK_OP_REDUCE);
    pk_emit_op(&w, PK_OP_MARK);
    for (int i = 0; i < l->n; i++) {
        const CkptTensor *t = &l->items[i];
        char key[32];
        snprintf(key, sizeof key, "%d", i);
        pk_emit_str(&w, t->name);
        if (i == 0) {
            pk_emit_global(&w, "torch._utils", "_rebuild_tensor_v2");
            pk_emit_put(&w);
        } else {
            pk_emit_get(&w, 1);
        }
        pk_emit_op(&w, PK_OP_MARK);
        pk_emit_op(&w, PK_OP_MARK);
        pk_emit_str(&w, "storage");
        if (i == 0) {
            pk_emit_global(&w, "torch", "FloatStorage");
            pk_emit_put(&w);
        } else {
            pk_emit_get(&w, 2);
        }
        pk_emit_str(&w, key);
        pk_emit_str(&w, "cpu");
        pk_emit_int(&w, t->count);
        pk_emit_op(&w, PK_OP_TUPLE);
        pk_emit_op(&w, PK_OP_BINPERSID);
        pk_emit_int(&w, 0);
        for (int pass = 0; pass < 2; pass++) {   /* size, then C-contiguous stride */
            pk_emit_op(&w, PK_OP_MARK);
            int64_t stride = 1, st[CKPT_MAX_DIMS];
            for (int k = t->ndim - 1; k >= 0; k--)
                st[k] = stride, stride *= t->shape[k];
            for (int k = 0; k < t->ndim; k++)
                pk_emit_int(&w, pass ? st[k] : t->shape[k]);
            pk_emit_op(&w, PK_OP_TUPLE);
        }
        pk_emit_op(&w, PK_OP_NEWFALSE);
        pk_emit_get(&w, 0);
        pk_emit_op(&w, PK_OP_EMPTY_TUPLE);
        pk_emit_op(&w, PK_OP_REDUCE);
        pk_emit_op(&w, PK_OP_TUPLE);
        pk_emit_op(&w, PK_OP_REDUCE);
    }
    pk_emit_op(&w, PK_OP_SETITEMS);
    pk_emit_op(&w, PK_OP_STOP);
    return pk_writer_take(&w, len);
}

/* archive/data.pkl, archive/data/I (float32 little-endian), archive/version ("3"). */
int torch_write_zip(const char *path, const WeightSet *w, Diag *d)
{
    if (!io_host_le()) {
        diag_error_in(d, path, "cannot write PyTorch files on a big-endian host");
        return -1;
    }
    size_t plen;
    unsigned char *pkl = state_dict_pickle(&w->tensors, &plen);
    ZipOut z;
    if (!pkl) {
        diag_error_in(d, path, "out of memory");
        return -1;
    }
    int rc = ziparch_create(&z, path, d);
    if (!rc)
        rc = ziparch_add(&z, "archive/data.pkl", pkl, plen, d);
    free(pkl);
    for (int i = 0; !rc && i < w->tensors.n; i++) {
        char name[64];
        snprintf(name, sizeof name, "archive/data/%d", i);
        rc = ziparch_add(&z, name, w->tensors.items[i].data,
                         sizeof(float) * (size_t)w->tensors.items[i].count, d);
    }
    if (!rc)
        rc = ziparch_add(&z, "archive/version", "3\n", 2, d);
    if (rc) {
        ziparch_discard(&z);
        return -1;
    }
    return ziparch_commit(&z, d);
}
