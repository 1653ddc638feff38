/* checkpoint: the C struct <-> recur.Checkpoint message, inside a checked header (checkpoint.h).
 *
 * Write: C struct -> protobuf-c message that borrows the struct's buffers -> packed bytes ->
 * header (magic, version, CRC-32, length) + payload, written atomically.
 * Read:  whole file (bounded by its real size) -> header checks -> CRC -> unpack -> validation ->
 * C struct with its own copies. */
#include "io/checkpoint.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "io/checkpoint.pb-c.h"
#include "io/fileio.h"
#include "util/array.h"

static const char ckpt_magic[8] = {'R', 'E', 'C', 'U', 'R', 'C', 'K', 'P'};

/* protobuf-c length-delimited fields are limited to 32-bit lengths; stay well inside. */
#define CKPT_MAX_FIELD_BYTES ((uint64_t)1 << 31)
/* A whole checkpoint file above this is refused before reading (64 GiB). */
#define CKPT_MAX_FILE_BYTES ((size_t)1 << 36)

/* ---- the C struct ---------------------------------------------------------------------- */

/* An empty checkpoint: every pointer NULL, every count 0. */
void ckpt_init(Checkpoint *c)
{
    memset(c, 0, sizeof *c);
}

/* Frees every tensor's name and data and the list itself; l is empty afterwards. */
void ckpt_tensors_free(CkptTensorList *l)
{
    for (int i = 0; i < l->n; i++) {
        free(l->items[i].name);
        free(l->items[i].data);
    }
    free(l->items);
    memset(l, 0, sizeof *l);
}

/* Frees everything c owns; c is empty (and may be freed again) afterwards. */
void ckpt_free(Checkpoint *c)
{
    if (!c)
        return;
    free(c->recur_version);
    free(c->source_name);
    free(c->source_text);
    for (int i = 0; i < c->noverrides; i++)
        free(c->overrides[i]);
    free(c->overrides);
    for (int i = 0; i < c->nconsts; i++)
        free(c->consts[i].name);
    free(c->consts);
    free(c->vocab);
    ckpt_tensors_free(&c->params);
    free(c->optimizer);
    for (int i = 0; i < c->nhypers; i++)
        free(c->hypers[i].name);
    free(c->hypers);
    ckpt_tensors_free(&c->optim_state);
    free(c->rng_state);
    free(c->data_pos);
    for (int i = 0; i < c->nclass_names; i++)
        free(c->class_names[i]);
    free(c->class_names);
    ckpt_data_file_free(&c->data);
    ckpt_data_file_free(&c->valid_data);
    memset(c, 0, sizeof *c);
}

/* A malloc'ed copy of n bytes plus a NUL terminator (n may be 0; p may be NULL then). */
static char *dup_bytes(const void *p, size_t n)
{
    char *s = malloc(n + 1);
    if (!s)
        return NULL;
    if (n)
        memcpy(s, p, n);
    s[n] = '\0';
    return s;
}

/* Replaces *dst with a copy of src (NULL clears). */
static int set_str(char **dst, const char *src)
{
    char *s = NULL;
    if (src && !(s = dup_bytes(src, strlen(src))))
        return -1;
    free(*dst);
    *dst = s;
    return 0;
}

/* Replaces the model source; text keeps embedded NULs (len bytes) plus a terminator. */
int ckpt_set_source(Checkpoint *c, const char *name, const char *text, size_t len)
{
    char *t = text ? dup_bytes(text, len) : NULL;
    if (text && !t)
        return -1;
    if (set_str(&c->source_name, name) != 0) {
        free(t);
        return -1;
    }
    free(c->source_text);
    c->source_text = t;
    c->source_len = text ? len : 0;
    return 0;
}

/* Appends a copy of one "name=value" override. */
int ckpt_add_override(Checkpoint *c, const char *s)
{
    char **o = realloc(c->overrides, (size_t)(c->noverrides + 1) * sizeof *o);
    if (!o)
        return -1;
    c->overrides = o;
    if (!(o[c->noverrides] = dup_bytes(s, strlen(s))))
        return -1;
    c->noverrides++;
    return 0;
}

/* Appends a copy of one class name. */
int ckpt_add_class_name(Checkpoint *c, const char *name)
{
    char **o = realloc(c->class_names, (size_t)(c->nclass_names + 1) * sizeof *o);
    if (!o)
        return -1;
    c->class_names = o;
    if (!(o[c->nclass_names] = dup_bytes(name, strlen(name))))
        return -1;
    c->nclass_names++;
    return 0;
}

/* Replaces the record of a data file with copies of its strings. */
int ckpt_set_data_file(CkptDataFile *f, const char *path, const char *resolved, uint64_t size,
                       uint32_t crc32)
{
    if (set_str(&f->path, path) != 0 || set_str(&f->resolved, resolved) != 0)
        return -1;
    f->present = true;
    f->size = size;
    f->crc32 = crc32;
    return 0;
}

void ckpt_data_file_free(CkptDataFile *f)
{
    free(f->path);
    free(f->resolved);
    memset(f, 0, sizeof *f);
}

/* Adds the constant, or replaces its value when the name is already there. */
int ckpt_set_const(Checkpoint *c, const char *name, int64_t value)
{
    for (int i = 0; i < c->nconsts; i++)
        if (strcmp(c->consts[i].name, name) == 0) {
            c->consts[i].value = value;
            return 0;
        }
    CkptConst *k = realloc(c->consts, (size_t)(c->nconsts + 1) * sizeof *k);
    if (!k)
        return -1;
    c->consts = k;
    if (!(k[c->nconsts].name = dup_bytes(name, strlen(name))))
        return -1;
    k[c->nconsts++].value = value;
    return 0;
}

/* Adds the hyperparameter, or replaces its value when the name is already there. */
int ckpt_set_hyper(Checkpoint *c, const char *name, double value)
{
    for (int i = 0; i < c->nhypers; i++)
        if (strcmp(c->hypers[i].name, name) == 0) {
            c->hypers[i].value = value;
            return 0;
        }
    CkptHyper *h = realloc(c->hypers, (size_t)(c->nhypers + 1) * sizeof *h);
    if (!h)
        return -1;
    c->hypers = h;
    if (!(h[c->nhypers].name = dup_bytes(name, strlen(name))))
        return -1;
    h[c->nhypers++].value = value;
    return 0;
}

/* Linear lookup (a checkpoint holds a handful of constants). */
bool ckpt_get_const(const Checkpoint *c, const char *name, int64_t *value)
{
    for (int i = 0; i < c->nconsts; i++)
        if (strcmp(c->consts[i].name, name) == 0) {
            *value = c->consts[i].value;
            return true;
        }
    return false;
}

/* Linear lookup (a checkpoint holds a handful of hyperparameters). */
bool ckpt_get_hyper(const Checkpoint *c, const char *name, double *value)
{
    for (int i = 0; i < c->nhypers; i++)
        if (strcmp(c->hypers[i].name, name) == 0) {
            *value = c->hypers[i].value;
            return true;
        }
    return false;
}

/* Replaces the vocabulary with a copy of len bytes (byte i is token i). */
int ckpt_set_vocab(Checkpoint *c, const unsigned char *bytes, size_t len)
{
    unsigned char *v = (unsigned char *)dup_bytes(bytes, len);
    if (!v)
        return -1;
    free(c->vocab);
    c->vocab = v;
    c->vocab_len = len;
    return 0;
}

/* Replaces the optimiser name (NULL clears it). */
int ckpt_set_optimizer(Checkpoint *c, const char *name)
{
    return set_str(&c->optimizer, name);
}

/* Replaces *dst and *ndst with a copy of words[n]. */
static int set_words(uint64_t **dst, int *ndst, const uint64_t *words, int n)
{
    if (n < 0)
        return -1;
    uint64_t *w = malloc((size_t)(n ? n : 1) * sizeof *w);
    if (!w)
        return -1;
    if (n)
        memcpy(w, words, (size_t)n * sizeof *w);
    free(*dst);
    *dst = w;
    *ndst = n;
    return 0;
}

/* Replaces the RNG state words. */
int ckpt_set_rng_state(Checkpoint *c, const uint64_t *words, int n)
{
    return set_words(&c->rng_state, &c->nrng_state, words, n);
}

/* Replaces the data-position words. */
int ckpt_set_data_pos(Checkpoint *c, const uint64_t *words, int n)
{
    return set_words(&c->data_pos, &c->ndata_pos, words, n);
}

CkptTensor *ckpt_find_tensor(const CkptTensorList *l, const char *name)
{
    for (int i = 0; i < l->n; i++)
        if (strcmp(l->items[i].name, name) == 0)
            return &l->items[i];
    return NULL;
}

/* Product of a shape, or -1 when a dimension is negative or the product would overflow the
 * byte count of a float tensor. */
static int64_t shape_count(int ndim, const int64_t *shape)
{
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0)
            return -1;
        if (shape[i] != 0 && n > INT64_MAX / 4 / shape[i])
            return -1;
        n *= shape[i];
    }
    return n;
}

/* Appends a tensor that takes over owned (count floats, or NULL to allocate zeros); on failure
 * owned is left to the caller. */
static CkptTensor *append_tensor(CkptTensorList *l, const char *name, int ndim,
                                 const int64_t *shape, float *owned)
{
    if (!name || ndim < 0 || ndim > CKPT_MAX_DIMS || ckpt_find_tensor(l, name))
        return NULL;
    int64_t count = shape_count(ndim, shape);
    if (count < 0 || (uint64_t)count > SIZE_MAX / sizeof(float) - 1)
        return NULL;
    if (ARRAY_RESERVE(l->items, l->cap, (size_t)l->n + 1) != 0)
        return NULL;
    CkptTensor *t = &l->items[l->n];
    memset(t, 0, sizeof *t);
    t->name = dup_bytes(name, strlen(name));
    t->data = owned ? owned : calloc((size_t)(count ? count : 1), sizeof(float));
    if (!t->name || !t->data) {
        free(t->name);
        if (!owned)
            free(t->data);
        return NULL;
    }
    t->ndim = ndim;
    for (int i = 0; i < ndim; i++)
        t->shape[i] = shape[i];
    t->count = count;
    l->n++;
    return t;
}

CkptTensor *ckpt_add_tensor(CkptTensorList *l, const char *name, int ndim, const int64_t *shape,
                            const float *data)
{
    CkptTensor *t = append_tensor(l, name, ndim, shape, NULL);
    if (t && data)
        memcpy(t->data, data, (size_t)t->count * sizeof(float));
    return t;
}

/* ---- writing --------------------------------------------------------------------------- */

/* Fills msgs[i]/ptrs[i] from the list, borrowing names and data. -1 (reported) when a tensor is
 * inconsistent or too large for one protobuf field. */
static int tensors_to_pb(const char *path, const CkptTensorList *l, Recur__Tensor *msgs,
                         Recur__Tensor **ptrs, Diag *d)
{
    for (int i = 0; i < l->n; i++) {
        const CkptTensor *t = &l->items[i];
        if (!t->name || (!t->data && t->count)) {
            diag_error_in(d, path, "cannot write tensor #%d: it has no name or no data", i);
            return -1;
        }
        if (t->ndim < 0 || t->ndim > CKPT_MAX_DIMS || shape_count(t->ndim, t->shape) != t->count) {
            diag_error_in(d, path, "cannot write tensor '%s': its count does not match its shape",
                          t->name);
            return -1;
        }
        if ((uint64_t)t->count * 4 >= CKPT_MAX_FIELD_BYTES) {
            diag_error_in(d, path, "cannot write tensor '%s': %lld elements exceed the 2 GiB "
                          "limit of one checkpoint field", t->name, (long long)t->count);
            return -1;
        }
        recur__tensor__init(&msgs[i]);
        msgs[i].name = t->name;
        msgs[i].n_shape = (size_t)t->ndim;
        msgs[i].shape = (int64_t *)t->shape;
        msgs[i].data.len = (size_t)t->count * sizeof(float);
        msgs[i].data.data = (uint8_t *)t->data;
        ptrs[i] = &msgs[i];
    }
    return 0;
}

/* The protobuf-c views of one Checkpoint while it is packed: every array points into the
 * Checkpoint (nothing is copied), the arrays themselves are owned here. */
typedef struct PbViews {
    Recur__Tensor *pm, **pp, *om, **op;
    Recur__Constant *km, **kp;
    Recur__Hyper *hm, **hp;
    Recur__DataFile data, valid_data;
} PbViews;

/* Allocates the view arrays (one spare element each, so that empty lists are not NULL). */
static int pb_views_alloc(PbViews *v, const Checkpoint *c)
{
    v->pm = calloc((size_t)c->params.n + 1, sizeof *v->pm);
    v->pp = calloc((size_t)c->params.n + 1, sizeof *v->pp);
    v->om = calloc((size_t)c->optim_state.n + 1, sizeof *v->om);
    v->op = calloc((size_t)c->optim_state.n + 1, sizeof *v->op);
    v->km = calloc((size_t)c->nconsts + 1, sizeof *v->km);
    v->kp = calloc((size_t)c->nconsts + 1, sizeof *v->kp);
    v->hm = calloc((size_t)c->nhypers + 1, sizeof *v->hm);
    v->hp = calloc((size_t)c->nhypers + 1, sizeof *v->hp);
    return v->pm && v->pp && v->om && v->op && v->km && v->kp && v->hm && v->hp ? 0 : -1;
}

static void pb_views_free(PbViews *v)
{
    free(v->pm);
    free(v->pp);
    free(v->om);
    free(v->op);
    free(v->km);
    free(v->kp);
    free(v->hm);
    free(v->hp);
}

/* Every override, constant and hyperparameter must be there and named before anything is
 * packed (protobuf-c would pack a NULL string as a crash). */
static int check_named(const char *path, const Checkpoint *c, Diag *d)
{
    for (int i = 0; i < c->noverrides; i++)
        if (!c->overrides[i]) {
            diag_error_in(d, path, "cannot write: override #%d is missing", i);
            return -1;
        }
    for (int i = 0; i < c->nconsts; i++)
        if (!c->consts[i].name) {
            diag_error_in(d, path, "cannot write: constant #%d has no name", i);
            return -1;
        }
    for (int i = 0; i < c->nhypers; i++)
        if (!c->hypers[i].name) {
            diag_error_in(d, path, "cannot write: hyperparameter #%d has no name", i);
            return -1;
        }
    for (int i = 0; i < c->nclass_names; i++)
        if (!c->class_names[i]) {
            diag_error_in(d, path, "cannot write: class name #%d is missing", i);
            return -1;
        }
    return 0;
}

/* Fills the constant and hyperparameter views. */
static void scalars_to_pb(const Checkpoint *c, PbViews *v)
{
    for (int i = 0; i < c->nconsts; i++) {
        recur__constant__init(&v->km[i]);
        v->km[i].name = c->consts[i].name;
        v->km[i].value = c->consts[i].value;
        v->kp[i] = &v->km[i];
    }
    for (int i = 0; i < c->nhypers; i++) {
        recur__hyper__init(&v->hm[i]);
        v->hm[i].name = c->hypers[i].name;
        v->hm[i].value = c->hypers[i].value;
        v->hp[i] = &v->hm[i];
    }
}

/* The message of a recorded data file (view points into f), or NULL when none is recorded. */
static Recur__DataFile *data_file_to_pb(const CkptDataFile *f, Recur__DataFile *m)
{
    if (!f->present)
        return NULL;
    recur__data_file__init(m);
    m->path = f->path;
    m->resolved = f->resolved;
    m->has_size = m->has_crc32 = 1;
    m->size = f->size;
    m->crc32 = f->crc32;
    return m;
}

/* The whole message: the Checkpoint's fields, with the lists taken from the views. */
static void checkpoint_to_pb(const Checkpoint *c, PbViews *v, Recur__Checkpoint *m)
{
    m->format_version = CKPT_FORMAT_VERSION;
    m->recur_version = c->recur_version;
    m->source_name = c->source_name;
    if (c->source_text) {
        m->has_source_text = 1;
        m->source_text.data = (uint8_t *)c->source_text;
        m->source_text.len = c->source_len;
    }
    m->n_overrides = (size_t)c->noverrides;
    m->overrides = c->overrides;
    m->n_constants = (size_t)c->nconsts;
    m->constants = v->kp;
    if (c->vocab) {
        m->has_vocab = 1;
        m->vocab.data = c->vocab;
        m->vocab.len = c->vocab_len;
    }
    m->n_tensors = (size_t)c->params.n;
    m->tensors = v->pp;
    m->optimizer = c->optimizer;
    m->n_hypers = (size_t)c->nhypers;
    m->hypers = v->hp;
    m->n_optim_state = (size_t)c->optim_state.n;
    m->optim_state = v->op;
    m->has_step = m->has_epoch = m->has_seed = m->has_threads = 1;
    m->step = c->step;
    m->epoch = c->epoch;
    m->seed = c->seed;
    m->threads = (uint32_t)(c->threads > 0 ? c->threads : 0);
    m->n_rng_state = (size_t)c->nrng_state;
    m->rng_state = c->rng_state;
    m->n_data_pos = (size_t)c->ndata_pos;
    m->data_pos = c->data_pos;
    m->has_best_val_loss = c->has_best_val_loss;
    m->best_val_loss = c->best_val_loss;
    m->n_class_names = (size_t)c->nclass_names;
    m->class_names = c->class_names;
    m->data = data_file_to_pb(&c->data, &v->data);
    m->valid_data = data_file_to_pb(&c->valid_data, &v->valid_data);
    m->has_stale_evals = c->stale_evals > 0;
    m->stale_evals = c->stale_evals;
    m->has_log_loss_sum = m->has_log_loss_n = m->has_log_tokens = c->log_loss_n > 0;
    m->log_loss_sum = c->log_loss_sum;
    m->log_loss_n = c->log_loss_n;
    m->log_tokens = c->log_tokens;
}

/* Packs m into one buffer and writes the header (magic, version, CRC-32, length) and the payload
 * atomically. */
static int write_packed(const char *path, const Recur__Checkpoint *m, Diag *d)
{
    size_t n = recur__checkpoint__get_packed_size(m);
    uint8_t *buf = malloc(n ? n : 1);
    if (!buf) {
        diag_error_in(d, path, "out of memory packing %zu bytes", n);
        return -1;
    }
    if (recur__checkpoint__pack(m, buf) != n) {
        diag_error_in(d, path, "internal error: packed size mismatch");
        free(buf);
        return -1;
    }
    unsigned char head[CKPT_HEADER_BYTES];
    memcpy(head, ckpt_magic, 8);
    io_put_le32(head + 8, CKPT_FILE_VERSION);
    io_put_le32(head + 12, io_crc32(0, buf, n));
    io_put_le64(head + 16, (uint64_t)n);
    IoAtomic w;
    int rc = -1;
    if (io_atomic_open(&w, path, d) == 0) {
        io_atomic_write(&w, head, sizeof head);
        io_atomic_write(&w, buf, n);
        rc = io_atomic_commit(&w, d);
    }
    free(buf);
    return rc;
}

/* Builds the message over the Checkpoint's own memory and writes it. Data are written as the
 * host stores them, which must be little-endian (checked). */
int ckpt_write(const char *path, const Checkpoint *c, Diag *d)
{
    if (!io_host_le()) {
        diag_error_in(d, path, "cannot write checkpoints on a big-endian host");
        return -1;
    }
    int rc = -1;
    PbViews v = {0};
    Recur__Checkpoint m = RECUR__CHECKPOINT__INIT;
    if (pb_views_alloc(&v, c) != 0)
        diag_error_in(d, path, "out of memory");
    else if (tensors_to_pb(path, &c->params, v.pm, v.pp, d) == 0 &&
             tensors_to_pb(path, &c->optim_state, v.om, v.op, d) == 0 &&
             check_named(path, c, d) == 0) {
        scalars_to_pb(c, &v);
        checkpoint_to_pb(c, &v, &m);
        rc = write_packed(path, &m, d);
    }
    pb_views_free(&v);
    return rc;
}

/* ---- reading --------------------------------------------------------------------------- */

/* Validates one list of unpacked tensors (rank, non-negative dimensions, data bytes equal to 4 x
 * the shape's product, names non-empty and unique) and takes their data over from the message. */
static int tensors_from_pb(const char *path, const char *what, Recur__Tensor **pt, size_t n,
                           CkptTensorList *l, Diag *d)
{
    for (size_t i = 0; i < n; i++) {
        Recur__Tensor *t = pt[i];
        if (!t->name || !*t->name) {
            diag_error_in(d, path, "corrupt checkpoint: %s tensor #%zu has no name", what, i);
            return -1;
        }
        if (t->n_shape > CKPT_MAX_DIMS) {
            diag_error_in(d, path, "corrupt checkpoint: tensor '%s' has %zu dimensions (limit %d)",
                          t->name, t->n_shape, CKPT_MAX_DIMS);
            return -1;
        }
        int64_t count = shape_count((int)t->n_shape, t->shape);
        if (count < 0 || (uint64_t)count * 4 != (uint64_t)t->data.len) {
            diag_error_in(d, path, "corrupt checkpoint: tensor '%s' has %zu data bytes, which "
                          "does not match its shape", t->name, t->data.len);
            return -1;
        }
        if (ckpt_find_tensor(l, t->name)) {
            diag_error_in(d, path, "corrupt checkpoint: two %s tensors are named '%s'", what,
                          t->name);
            return -1;
        }
        /* the data protobuf-c allocated (budget_alloc: malloc) is taken over, not copied: a
         * 40 MB checkpoint is copied once (by the unpack), not twice */
        float *owned = t->data.len ? (float *)t->data.data : NULL;
        if (!append_tensor(l, t->name, (int)t->n_shape, t->shape, owned)) {
            diag_error_in(d, path, "out of memory reading tensor '%s'", t->name);
            return -1;
        }
        if (owned) {
            t->data.data = NULL;   /* free_unpacked skips it now */
            t->data.len = 0;
        }
    }
    return 0;
}

/* Copies the optional fields added after format 1's first release (class names, data files);
 * a checkpoint without them reads as before. */
static int extras_from_pb(const Recur__Checkpoint *m, Checkpoint *out)
{
    for (size_t i = 0; i < m->n_class_names; i++)
        if (ckpt_add_class_name(out, m->class_names[i]) != 0)
            return -1;
    out->stale_evals = m->stale_evals;
    out->log_loss_sum = isfinite(m->log_loss_sum) ? m->log_loss_sum : 0;
    out->log_loss_n = m->log_loss_n;
    out->log_tokens = m->log_tokens;
    const Recur__DataFile *f[2] = {m->data, m->valid_data};
    CkptDataFile *o[2] = {&out->data, &out->valid_data};
    for (int i = 0; i < 2; i++)
        if (f[i] && ckpt_set_data_file(o[i], f[i]->path, f[i]->resolved, f[i]->size,
                                       f[i]->crc32) != 0)
            return -1;
    return 0;
}

/* Copies the unpacked message into out. */
static int from_pb(const char *path, const Recur__Checkpoint *m, Checkpoint *out, Diag *d)
{
    out->format_version = m->format_version;
    if (m->format_version != CKPT_FORMAT_VERSION) {
        diag_error_in(d, path, "checkpoint format version %u is not supported (this recur "
                      "reads version %d)", m->format_version, CKPT_FORMAT_VERSION);
        return -1;
    }
    if (set_str(&out->recur_version, m->recur_version) != 0 ||
        ckpt_set_source(out, m->source_name, m->has_source_text ? (const char *)m->source_text.data
                                                                 : NULL,
                        m->source_text.len) != 0 ||
        set_str(&out->optimizer, m->optimizer) != 0)
        goto oom;
    if (m->has_source_text && !out->source_text)
        goto oom;
    for (size_t i = 0; i < m->n_overrides; i++)
        if (ckpt_add_override(out, m->overrides[i]) != 0)
            goto oom;
    for (size_t i = 0; i < m->n_constants; i++)
        if (ckpt_set_const(out, m->constants[i]->name, m->constants[i]->value) != 0)
            goto oom;
    for (size_t i = 0; i < m->n_hypers; i++)
        if (ckpt_set_hyper(out, m->hypers[i]->name, m->hypers[i]->value) != 0)
            goto oom;
    if (m->has_vocab && ckpt_set_vocab(out, m->vocab.data, m->vocab.len) != 0)
        goto oom;
    if (extras_from_pb(m, out) != 0)
        goto oom;
    if (m->n_rng_state > INT32_MAX || m->n_data_pos > INT32_MAX) {
        diag_error_in(d, path, "corrupt checkpoint: absurd RNG or data-position state");
        return -1;
    }
    if (ckpt_set_rng_state(out, m->rng_state, (int)m->n_rng_state) != 0 ||
        ckpt_set_data_pos(out, m->data_pos, (int)m->n_data_pos) != 0)
        goto oom;
    out->step = m->step;
    out->epoch = m->epoch;
    out->seed = m->seed;
    out->threads = m->threads > INT32_MAX ? 0 : (int)m->threads;
    out->has_best_val_loss = m->has_best_val_loss;
    out->best_val_loss = m->best_val_loss;
    if (tensors_from_pb(path, "parameter", m->tensors, m->n_tensors, &out->params, d) != 0 ||
        tensors_from_pb(path, "optimiser", m->optim_state, m->n_optim_state, &out->optim_state,
                        d) != 0)
        return -1;
    return 0;
oom:
    diag_error_in(d, path, "out of memory reading the checkpoint");
    return -1;
}

/* protobuf-c allocates while unpacking in proportion to the payload (a few structs per field);
 * this allocator caps the total at 16 x the payload + 1 MiB, so no crafted message can make it
 * allocate without bound. A legitimate message needs at most about 8 x (a 1-byte varint shape
 * entry becomes an int64). */
typedef struct UnpackBudget {
    size_t used, limit;
    bool exceeded;
} UnpackBudget;

/* Counts every allocation against the budget; NULL (and a flag) once it would be exceeded. */
static void *budget_alloc(void *data, size_t size)
{
    UnpackBudget *b = data;
    if (size > b->limit - b->used) {
        b->exceeded = true;
        return NULL;
    }
    b->used += size;
    return malloc(size);
}

/* Frees are not credited back: the budget bounds the total ever allocated by one unpack. */
static void budget_free(void *data, void *p)
{
    (void)data;
    free(p);
}

/* Header checks come first and each names what is wrong, so a foreign or damaged file is
 * explained precisely; the CRC covers every payload bit before protobuf-c sees it. */
int ckpt_read(const char *path, Checkpoint *out, Diag *d)
{
    ckpt_init(out);
    unsigned char *buf;
    size_t len;
    if (file_read_all(path, CKPT_MAX_FILE_BYTES, &buf, &len, d) != 0)
        return -1;
    int rc = -1;
    Recur__Checkpoint *m = NULL;
    UnpackBudget budget = {0, 0, false};
    ProtobufCAllocator alloc = {budget_alloc, budget_free, &budget};
    if (len < 8 || memcmp(buf, ckpt_magic, 8) != 0) {
        char found[96];
        DiagMessage *e = diag_error_in(d, path, "not a recur checkpoint (bad magic): found %s",
                                       io_describe_bytes(buf, len, found, sizeof found));
        diag_help(e, "a recur checkpoint starts with RECURCKP; a damaged one cannot be read, "
                     "use an earlier checkpoint");
        goto done;
    }
    if (len < CKPT_HEADER_BYTES) {
        diag_error_in(d, path, "truncated checkpoint: %zu bytes, shorter than the %d-byte header",
                      len, CKPT_HEADER_BYTES);
        goto done;
    }
    uint32_t version = io_le32(buf + 8);
    if (version != CKPT_FILE_VERSION) {
        DiagMessage *e = diag_error_in(d, path, "checkpoint file version %u is not supported "
                                       "(this recur reads version %d)", version,
                                       CKPT_FILE_VERSION);
        diag_help(e, "it was written by a different recur, or the header is corrupt");
        goto done;
    }
    uint64_t plen = io_le64(buf + 16);
    if (plen != (uint64_t)(len - CKPT_HEADER_BYTES)) {
        diag_error_in(d, path, "%s checkpoint: the header promises %llu payload bytes but the "
                      "file holds %zu", plen > len - CKPT_HEADER_BYTES ? "truncated" : "corrupt",
                      (unsigned long long)plen, len - CKPT_HEADER_BYTES);
        goto done;
    }
    uint32_t want = io_le32(buf + 12), got = io_crc32(0, buf + CKPT_HEADER_BYTES, (size_t)plen);
    if (want != got) {
        diag_error_in(d, path, "corrupt checkpoint: CRC-32 mismatch (header %08x, payload "
                      "%08x)", want, got);
        goto done;
    }
    budget.limit = (size_t)plen * 16 + ((size_t)1 << 20);
    m = recur__checkpoint__unpack(&alloc, (size_t)plen, buf + CKPT_HEADER_BYTES);
    if (!m) {
        diag_error_in(d, path, "corrupt checkpoint: %s",
                      budget.exceeded ? "the payload would unpack to absurdly many objects"
                                      : "the payload is not a valid recur.Checkpoint message");
        goto done;
    }
    free(buf);   /* the unpacked message holds its own copies */
    buf = NULL;
    rc = from_pb(path, m, out, d);
done:
    if (m)
        recur__checkpoint__free_unpacked(m, &alloc);
    free(buf);
    if (rc != 0)
        ckpt_free(out);
    return rc;
}
