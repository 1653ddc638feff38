/* data: text corpora in parallel streams, generated long-lag tasks, batches and positions.
 * CSV parsing lives in data_csv.c. */
#include "train/data.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "train/data_csv.h"

#define DATA_MAX_FILE ((size_t)1 << 31)  /* 2 GiB: refuse bigger corpora before allocating */
#define GEN_BATCHES_PER_EPOCH 100        /* an "epoch" of a generated task */

DataConfig data_defaults(void)
{
    DataConfig c = {0};
    c.kind = DATA_ADDING;
    c.level = DATA_CHAR;
    c.valid = -1;           /* resolved per kind in data_open */
    c.length = 0;
    c.delay = 10;
    c.embedded = true;
    c.csv_features = 1;
    c.csv_targets = 1;
    c.csv_header = -1;
    c.valid_csv_header = -1;
    c.csv_delim = ',';
    c.batch = 32;
    c.bptt = 100;
    c.seed = 42;
    return c;
}

/* Reads a whole file into a malloc'ed, NUL-terminated buffer; reports `path: error: ...`. */
int data_read_file(const char *path, uint8_t **buf, size_t *len, Diag *d)
{
    *buf = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f) {
        diag_error_in(d, path, "cannot read: %s", strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        diag_error_in(d, path, "cannot read: not a regular file");
        fclose(f);
        return -1;
    }
    if ((uint64_t)st.st_size > DATA_MAX_FILE) {
        diag_error_in(d, path, "file is too large (%lld bytes; the limit is %zu)",
                      (long long)st.st_size, DATA_MAX_FILE);
        fclose(f);
        return -1;
    }
    size_t n = (size_t)st.st_size;
    uint8_t *b = malloc(n + 1);
    if (!b) {
        diag_error_in(d, path, "out of memory reading %zu bytes", n);
        fclose(f);
        return -1;
    }
    size_t got = fread(b, 1, n, f);
    int err = ferror(f);
    fclose(f);
    if (err || got != n) {
        diag_error_in(d, path, "cannot read: short read (%zu of %zu bytes)", got, n);
        free(b);
        return -1;
    }
    b[n] = 0;
    *buf = b;
    *len = n;
    return 0;
}

/* ---- UTF-8 and vocabularies ------------------------------------------------------------- */

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
static int vocab_fixed(Vocab *v, const char *chars, Diag *d)
{
    return data_vocab_from_bytes(v, DATA_CHAR, (const uint8_t *)chars, strlen(chars), d);
}

/* ---- text corpora ----------------------------------------------------------------------- */

/* Builds the sorted vocabulary of the corpus and its token ids (ds->tokens). */
static int text_tokenize(DataSet *ds, const uint8_t *buf, size_t len, Diag *d)
{
    const char *path = ds->cfg.path;
    bool byte = ds->cfg.level == DATA_BYTE;
    ds->tokens = malloc(len * sizeof(int32_t));
    uint8_t *seen_lo = calloc(256, 1);
    if (!ds->tokens || !seen_lo) goto oom;
    /* Pass 1: decode to code points (stored temporarily in tokens) and collect the set. */
    uint32_t *big = NULL;   /* distinct code points >= 256 */
    int nbig = 0, capbig = 0;
    int64_t n = 0;
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        int k = 1;
        if (byte) cp = buf[i];
        else if (!(k = data_utf8_decode(buf + i, len - i, &cp))) {
            free(big);
            free(seen_lo);
            DiagMessage *m = diag_error_in(d, path, "invalid UTF-8 at byte %zu", i);
            diag_help(m, "use text(\"%s\", level=byte) for binary or non-UTF-8 text", path);
            return -1;
        }
        if (cp < 256) seen_lo[cp] = 1;
        else {
            bool found = false;
            for (int j = nbig - 1; j >= 0 && !found; j--)
                found = big[j] == cp;
            if (!found) {
                if (nbig == 65536) {
                    free(big);
                    free(seen_lo);
                    diag_error_in(d, path, "more than 65536 distinct characters");
                    return -1;
                }
                if (nbig == capbig) {
                    capbig = capbig ? 2 * capbig : 64;
                    uint32_t *nb = realloc(big, (size_t)capbig * sizeof *nb);
                    if (!nb) { free(big); goto oom; }
                    big = nb;
                }
                big[nbig++] = cp;
            }
        }
        ds->tokens[n++] = (int32_t)cp;
        i += (size_t)k;
    }
    ds->ntokens = n;
    /* The vocabulary: low code points in order, then the sorted big ones. */
    ds->vocab.level = ds->cfg.level;
    ds->vocab.codes = malloc((size_t)(256 + nbig) * sizeof(uint32_t));
    if (!ds->vocab.codes) { free(big); goto oom; }
    int32_t lo_id[256];
    for (int c = 0; c < 256; c++) {
        lo_id[c] = -1;
        if (seen_lo[c]) {
            lo_id[c] = ds->vocab.size;
            ds->vocab.codes[ds->vocab.size++] = (uint32_t)c;
        }
    }
    for (int i = 1; i < nbig; i++) {   /* insertion sort: nbig is small in practice */
        uint32_t x = big[i];
        int j = i - 1;
        while (j >= 0 && big[j] > x) { big[j + 1] = big[j]; j--; }
        big[j + 1] = x;
    }
    for (int i = 0; i < nbig; i++)
        ds->vocab.codes[ds->vocab.size++] = big[i];
    free(big);
    free(seen_lo);
    for (int64_t i = 0; i < n; i++) {
        uint32_t cp = (uint32_t)ds->tokens[i];
        ds->tokens[i] = cp < 256 ? lo_id[cp] : data_vocab_id(&ds->vocab, cp);
    }
    return 0;
oom:
    free(seen_lo);
    diag_error_in(d, path, "out of memory tokenising %zu bytes", len);
    return -1;
}

/* Re-maps the tokens to a given vocabulary (a checkpoint's, or the training text's for a
 * validation file), which then replaces the corpus's own; characters the given vocabulary lacks
 * are named in the error, which calls the vocabulary `whose` ("the model's vocabulary"). */
static int text_use_vocab(DataSet *ds, const Vocab *v, const char *whose, Diag *d)
{
    int32_t *map = malloc((size_t)ds->vocab.size * sizeof(int32_t));
    if (!map) {
        diag_error_in(d, ds->cfg.path, "out of memory");
        return -1;
    }
    char missing[200] = "";
    int nmissing = 0;
    for (int i = 0; i < ds->vocab.size; i++) {
        map[i] = data_vocab_id(v, ds->vocab.codes[i]);
        if (map[i] < 0 && nmissing++ < 8) {
            char u[5] = {0};
            uint32_t cp = ds->vocab.codes[i];
            char one[32];
            if (cp >= 32 && cp != 127) {
                data_vocab_utf8(&ds->vocab, i, u);
                snprintf(one, sizeof one, "%s'%s'", nmissing > 1 ? ", " : "", u);
            } else {
                snprintf(one, sizeof one, "%s\\x%02x", nmissing > 1 ? ", " : "", (unsigned)cp);
            }
            strncat(missing, one, sizeof missing - strlen(missing) - 1);
        }
    }
    if (nmissing || v->level != ds->vocab.level) {
        if (nmissing)
            diag_error_in(d, ds->cfg.path, "%d character%s not in %s: %s%s", nmissing,
                          nmissing == 1 ? " is" : "s are", whose, missing,
                          nmissing > 8 ? ", ..." : "");
        else
            diag_error_in(d, ds->cfg.path, "the model was trained at %s level, not %s",
                          v->level == DATA_BYTE ? "byte" : "char",
                          ds->vocab.level == DATA_BYTE ? "byte" : "char");
        free(map);
        return -1;
    }
    for (int64_t i = 0; i < ds->ntokens; i++)
        ds->tokens[i] = map[ds->tokens[i]];
    free(map);
    uint32_t *codes = malloc((size_t)(v->size ? v->size : 1) * sizeof(uint32_t));
    if (!codes) {
        diag_error_in(d, ds->cfg.path, "out of memory");
        return -1;
    }
    memcpy(codes, v->codes, (size_t)v->size * sizeof(uint32_t));
    data_vocab_free(&ds->vocab);
    ds->vocab.codes = codes;
    ds->vocab.size = v->size;
    ds->vocab.level = v->level;
    return 0;
}

/* Per-stream lengths of the training and validation splits. */
static int64_t text_stream_len(const DataSet *ds) { return ds->ntrain / ds->cfg.batch; }
static int64_t text_valid_stream_len(const DataSet *ds)
{
    return (ds->ntokens - ds->ntrain) / ds->cfg.batch;
}

/* Reads and tokenises the text file at ds->cfg.path (its own vocabulary). */
static int text_load(DataSet *ds, Diag *d)
{
    const char *path = ds->cfg.path;
    uint8_t *buf;
    size_t len;
    if (data_read_file(path, &buf, &len, d) != 0) return -1;
    if (len == 0) {
        diag_error_in(d, path, "file is empty");
        free(buf);
        return -1;
    }
    int rc = text_tokenize(ds, buf, len, d);
    free(buf);
    return rc;
}

/* Appends the tokens of the separate validation file (cfg.valid_path), mapped with the
 * training text's vocabulary; *nvalid is their number. */
static int text_append_valid(DataSet *ds, int64_t *nvalid, Diag *d)
{
    DataSet v;
    memset(&v, 0, sizeof v);
    v.cfg = ds->cfg;
    v.cfg.path = ds->cfg.valid_path;
    char whose[300];
    snprintf(whose, sizeof whose, "the vocabulary of the training text %.200s", ds->cfg.path);
    int rc = text_load(&v, d);
    if (rc == 0) rc = text_use_vocab(&v, &ds->vocab, whose, d);
    if (rc == 0) {
        int32_t *t = realloc(ds->tokens, (size_t)(ds->ntokens + v.ntokens) * sizeof *t);
        if (!t) {
            diag_error_in(d, v.cfg.path, "out of memory");
            rc = -1;
        } else {
            memcpy(t + ds->ntokens, v.tokens, (size_t)v.ntokens * sizeof *t);
            ds->tokens = t;
            ds->ntokens += v.ntokens;
            *nvalid = v.ntokens;
        }
    }
    free(v.tokens);
    data_vocab_free(&v.vocab);
    return rc;
}

/* Loads a corpus (and a separate validation text) and checks that it fills B streams of at
 * least one window each. */
static int text_open(DataSet *ds, Diag *d)
{
    const char *path = ds->cfg.path;
    if (text_load(ds, d) != 0) return -1;
    if (ds->cfg.vocab && text_use_vocab(ds, ds->cfg.vocab, "the model's vocabulary", d) != 0)
        return -1;
    int B = ds->cfg.batch, bptt = ds->cfg.bptt;
    const char *vpath = ds->cfg.valid_path && !ds->cfg.eval_all ? ds->cfg.valid_path : NULL;
    int64_t nvalid = (int64_t)((double)ds->ntokens * ds->cfg.valid);
    if (ds->cfg.eval_all) nvalid = ds->ntokens;
    else if (vpath && text_append_valid(ds, &nvalid, d) != 0) return -1;
    ds->ntrain = ds->ntokens - nvalid;
    int64_t L = text_stream_len(ds);
    if (ds->cfg.eval_all) L = bptt + 1;     /* no training stream; one dummy window */
    if (L < (int64_t)bptt + 1) {
        DiagMessage *m = diag_error_in(
            d, path, "too small: %lld training tokens make %d streams of %lld, and one window "
            "needs bptt+1 = %d", (long long)ds->ntrain, B, (long long)L, bptt + 1);
        diag_help(m, "lower batch or bptt (--set batch=N, --set bptt=N), or use a longer text");
        return -1;
    }
    if (nvalid > 0 && text_valid_stream_len(ds) < 2) {
        DiagMessage *m = diag_error_in(
            d, vpath ? vpath : path, "the validation %s (%lld tokens) is too small for %d "
            "streams", vpath ? "text" : "split", (long long)nvalid, B);
        diag_help(m, vpath ? "use a longer validation text, or lower batch"
                           : "raise valid, lower batch, or set valid = 0");
        return -1;
    }
    ds->T = bptt;
    ds->in_width = 0;
    ds->target_kind = DATA_TARGET_STEP_IDS;
    ds->batches_per_epoch = (L - 1) / bptt;
    return 0;
}

/* Training window ds->pos.index: stream b reads tokens b*L + o + t (input) and +1 (target). */
static void text_fill(DataSet *ds, DataBatch *b)
{
    int B = ds->cfg.batch, T = ds->T;
    int64_t L = text_stream_len(ds), o = ds->pos.index * T;
    if (L < T + 1) {    /* eval_all: no training tokens at all */
        memset(b->ids, 0, (size_t)T * B * sizeof(int32_t));
        memset(b->mask, 0, (size_t)T * B * sizeof(float));
        for (int i = 0; i < T * B; i++)
            b->target_ids[i] = -1;
        b->ntargets = 0;
        return;
    }
    for (int t = 0; t < T; t++)
        for (int s = 0; s < B; s++) {
            const int32_t *p = ds->tokens + s * L + o + t;
            b->ids[t * B + s] = p[0];
            b->target_ids[t * B + s] = p[1];
            b->mask[t * B + s] = 1;
        }
    for (int s = 0; s < B; s++) {
        b->lengths[s] = T;
        b->row_mask[s] = 1;
    }
    b->reset = ds->pos.index == 0;
    b->ntargets = (int64_t)T * B;
}

/* ---- generated tasks -------------------------------------------------------------------- */

/* Adding problem, one sequence into column s of the batch:
 *   x[t] = (u_t, m_t), u_t ~ U[0,1), m_t = 1 at i1 in [0, T/2) and i2 in [T/2, T);
 *   target = u_i1 + u_i2. */
static void gen_adding(Rng *r, DataBatch *b, int s)
{
    int T = b->T, B = b->B;
    int half = T / 2;
    int i1 = (int)rng_below(r, (uint64_t)half);
    int i2 = half + (int)rng_below(r, (uint64_t)(T - half));
    double sum = 0;
    for (int t = 0; t < T; t++) {
        float u = (float)rng_uniform(r);
        float *x = b->x + ((size_t)t * B + s) * 2;
        x[0] = u;
        x[1] = (t == i1 || t == i2) ? 1.0f : 0.0f;
        if (t == i1 || t == i2) sum += u;
        b->mask[t * B + s] = 1;
    }
    b->target[s] = (float)sum;
    b->lengths[s] = T;
}

/* Reber symbols, ids in sorted order of the letters. */
enum { RB_B, RB_E, RB_P, RB_S, RB_T, RB_V, RB_X };

/* Appends one Reber string B ... E to out (at most cap symbols); returns its length, or 0 when
 * it would exceed cap. Transition table of the grammar: node -> two (symbol, next node). */
static int gen_reber_plain(Rng *r, int32_t *out, int cap)
{
    static const int sym[6][2] = {{0, 0}, {RB_T, RB_P}, {RB_S, RB_X}, {RB_T, RB_V},
                                  {RB_X, RB_S}, {RB_P, RB_V}};
    static const int to[6][2] = {{0, 0}, {2, 3}, {2, 4}, {3, 5}, {3, 6}, {4, 6}};
    int n = 0, node = 1;
    if (cap < 2) return 0;
    out[n++] = RB_B;
    while (node != 6) {
        int k = (int)rng_below(r, 2);
        if (n >= cap - 1) return 0;
        out[n++] = sym[node][k];
        node = to[node][k];
    }
    out[n++] = RB_E;
    return n;
}

/* Embedded Reber: B, c in {T, P}, a Reber string, c again, E. The symbol before the last must
 * be remembered across the whole inner string: the long-lag part of the task. Strings longer
 * than the cap are redrawn. Writes inputs s[0..n-2] and next-symbol targets s[1..n-1]. */
static void gen_reber(Rng *r, const DataConfig *c, DataBatch *b, int s)
{
    int cap = c->length;
    int32_t buf[1024];
    int n;
    do {
        if (c->embedded) {
            int32_t ch = rng_below(r, 2) ? RB_T : RB_P;
            int inner = gen_reber_plain(r, buf + 2, cap - 4);
            n = inner ? inner + 4 : 0;
            if (n) {
                buf[0] = RB_B;
                buf[1] = ch;
                buf[inner + 2] = ch;
                buf[inner + 3] = RB_E;
            }
        } else {
            n = gen_reber_plain(r, buf, cap);
        }
    } while (n == 0);
    int T = b->T, B = b->B;
    for (int t = 0; t < T; t++) {
        bool real = t < n - 1;
        b->ids[t * B + s] = real ? buf[t] : 0;
        b->target_ids[t * B + s] = real ? buf[t + 1] : -1;
        b->mask[t * B + s] = real ? 1.0f : 0.0f;
    }
    b->lengths[s] = n - 1;
}

/* Copy task: L symbols in 1..8, D-1 blanks (0), go (9), L blanks; target blank for L+D steps,
 * then the L symbols. */
static void gen_copy(Rng *r, const DataConfig *c, DataBatch *b, int s)
{
    int L = c->length, D = c->delay, T = b->T, B = b->B;
    for (int t = 0; t < T; t++) {
        b->ids[t * B + s] = 0;
        b->target_ids[t * B + s] = 0;
        b->mask[t * B + s] = 1;
    }
    for (int t = 0; t < L; t++) {
        int32_t v = 1 + (int32_t)rng_below(r, 8);
        b->ids[t * B + s] = v;
        b->target_ids[(L + D + t) * B + s] = v;
    }
    b->ids[(L + D - 1) * B + s] = 9;
    b->lengths[s] = T;
}

/* Sets up a generated task's shapes and vocabulary; checks the sizes. */
static int gen_open(DataSet *ds, Diag *d)
{
    DataConfig *c = &ds->cfg;
    ds->batches_per_epoch = GEN_BATCHES_PER_EPOCH;
    switch (c->kind) {
    case DATA_ADDING:
        if (c->length <= 0) c->length = 50;
        if (c->length < 2 || c->length > 100000) {
            diag_error_in(d, "adding", "length must be in [2, 100000], got %d", c->length);
            return -1;
        }
        ds->T = c->length;
        ds->in_width = 2;
        ds->out_width = 1;
        ds->target_kind = DATA_TARGET_VALUES;
        return 0;
    case DATA_REBER:
        if (c->length <= 0) c->length = 60;
        if (c->length < (c->embedded ? 9 : 5) || c->length > 1024) {
            diag_error_in(d, "reber", "length must be in [%d, 1024], got %d",
                          c->embedded ? 9 : 5, c->length);
            return -1;
        }
        ds->T = c->length - 1;
        ds->target_kind = DATA_TARGET_STEP_IDS;
        return vocab_fixed(&ds->vocab, "BEPSTVX", d);
    case DATA_COPY:
        if (c->length <= 0) c->length = 10;
        if (c->length > 10000 || c->delay < 1 || c->delay > 100000) {
            diag_error_in(d, "copy", "length must be in [1, 10000] and delay in [1, 100000]");
            return -1;
        }
        ds->T = 2 * c->length + c->delay;
        ds->target_kind = DATA_TARGET_STEP_IDS;
        return vocab_fixed(&ds->vocab, "_abcdefgh|", d);
    default:
        return -1;
    }
}

/* One batch of a generated task from rng; rows s >= nreal are padding (row_mask 0). */
static void gen_fill(DataSet *ds, Rng *r, DataBatch *b, int nreal)
{
    for (int s = 0; s < b->B; s++) {
        switch (ds->cfg.kind) {
        case DATA_ADDING: gen_adding(r, b, s); break;
        case DATA_REBER: gen_reber(r, &ds->cfg, b, s); break;
        case DATA_COPY: gen_copy(r, &ds->cfg, b, s); break;
        default: break;
        }
        b->row_mask[s] = s < nreal ? 1.0f : 0.0f;
        if (s >= nreal) {
            for (int t = 0; t < b->T; t++) {
                b->mask[t * b->B + s] = 0;
                if (b->target_kind == DATA_TARGET_STEP_IDS) b->target_ids[t * b->B + s] = -1;
            }
        }
    }
    b->reset = true;
    b->ntargets = 0;
    for (int64_t i = 0; i < (int64_t)b->T * b->B; i++)
        b->ntargets += b->mask[i] != 0;
    if (b->target_kind == DATA_TARGET_VALUES) b->ntargets = nreal;
}

/* ---- batches ---------------------------------------------------------------------------- */

/* Allocates the arrays a batch of this data set uses. */
static int batch_alloc(const DataSet *ds, DataBatch *b)
{
    size_t T = (size_t)ds->T, B = (size_t)ds->cfg.batch;
    memset(b, 0, sizeof *b);
    b->T = ds->T;
    b->B = ds->cfg.batch;
    b->in_width = ds->in_width;
    b->out_width = ds->out_width;
    b->target_kind = ds->target_kind;
    b->lengths = calloc(B, sizeof(int32_t));
    b->mask = calloc(T * B, sizeof(float));
    b->row_mask = calloc(B, sizeof(float));
    bool ok = b->lengths && b->mask && b->row_mask;
    if (ds->in_width == 0) ok = ok && (b->ids = calloc(T * B, sizeof(int32_t)));
    else ok = ok && (b->x = calloc(T * B * (size_t)ds->in_width, sizeof(float)));
    if (ds->target_kind == DATA_TARGET_STEP_IDS)
        ok = ok && (b->target_ids = calloc(T * B, sizeof(int32_t)));
    else if (ds->target_kind == DATA_TARGET_LABEL)
        ok = ok && (b->target_ids = calloc(B, sizeof(int32_t)));
    else
        ok = ok && (b->target = calloc(B * (size_t)ds->out_width, sizeof(float)));
    return ok ? 0 : -1;
}

static void batch_free(DataBatch *b)
{
    free(b->ids);
    free(b->x);
    free(b->lengths);
    free(b->mask);
    free(b->row_mask);
    free(b->target_ids);
    free(b->target);
    memset(b, 0, sizeof *b);
}

int data_open(DataSet *ds, const DataConfig *cfg, Diag *d)
{
    memset(ds, 0, sizeof *ds);
    ds->cfg = *cfg;
    DataConfig *c = &ds->cfg;
    const char *what = c->path ? c->path : "data";
    if (c->batch < 1 || c->batch > 1 << 20) {
        diag_error_in(d, what, "batch must be in [1, 1048576], got %d", c->batch);
        return -1;
    }
    if ((c->kind == DATA_TEXT || c->kind == DATA_CSV) && !c->path) {
        diag_error_in(d, "data", "this source needs a file (--data FILE)");
        return -1;
    }
    if (c->kind == DATA_TEXT && (c->bptt < 1 || c->bptt > 1 << 20)) {
        diag_error_in(d, what, "bptt must be in [1, 1048576], got %d", c->bptt);
        return -1;
    }
    bool gen = c->kind != DATA_TEXT && c->kind != DATA_CSV;
    if (c->valid < 0) c->valid = gen ? 1000 : 0.05;
    if (!gen && !(c->valid < 1)) {
        diag_error_in(d, what, "valid must be a fraction in [0, 1), got %g", c->valid);
        return -1;
    }
    rng_seed(&ds->pos.rng, c->seed);
    int rc;
    switch (c->kind) {
    case DATA_TEXT: rc = text_open(ds, d); break;
    case DATA_CSV: rc = data_csv_open(ds, d); break;
    default: rc = gen_open(ds, d); break;
    }
    if (rc == 0 && (batch_alloc(ds, &ds->batch) != 0 || batch_alloc(ds, &ds->vbatch) != 0)) {
        diag_error_in(d, what, "out of memory for batches of %d x %d", c->batch, ds->T);
        rc = -1;
    }
    if (rc == 0 && c->kind == DATA_CSV) data_csv_shuffle(ds);
    if (rc != 0) data_free(ds);
    return rc;
}

void data_free(DataSet *ds)
{
    free(ds->tokens);
    data_vocab_free(&ds->vocab);
    data_csv_free(ds);
    batch_free(&ds->batch);
    batch_free(&ds->vbatch);
    ds->tokens = NULL;
}

/* Fills the batch at the current position, then moves the position on (and into the next
 * epoch after its last batch). */
const DataBatch *data_next(DataSet *ds)
{
    DataBatch *b = &ds->batch;
    switch (ds->cfg.kind) {
    case DATA_TEXT: text_fill(ds, b); break;
    case DATA_CSV: data_csv_fill(ds, b, false, ds->pos.index); break;
    default: gen_fill(ds, &ds->pos.rng, b, b->B); break;
    }
    if (++ds->pos.index >= ds->batches_per_epoch) {
        ds->pos.index = 0;
        ds->pos.epoch++;
        if (ds->cfg.kind == DATA_CSV) data_csv_next_epoch(ds);
    }
    return b;
}

int data_set_pos(DataSet *ds, const DataPos *pos, Diag *d)
{
    if (pos->epoch < 0 || pos->index < 0 || pos->index >= ds->batches_per_epoch) {
        diag_error_in(d, ds->cfg.path ? ds->cfg.path : "data",
                      "saved data position (epoch %lld, batch %lld) does not fit this data "
                      "(%lld batches per epoch)", (long long)pos->epoch, (long long)pos->index,
                      (long long)ds->batches_per_epoch);
        return -1;
    }
    ds->pos = *pos;
    if (ds->cfg.kind == DATA_CSV) data_csv_shuffle(ds);
    return 0;
}

int64_t data_valid_batches(const DataSet *ds)
{
    int B = ds->cfg.batch;
    switch (ds->cfg.kind) {
    case DATA_TEXT: {
        if (ds->ntokens == ds->ntrain) return 0;
        int64_t Lv = text_valid_stream_len(ds);
        return (Lv - 1 + ds->T - 1) / ds->T;
    }
    case DATA_CSV:
        return (ds->nrows - ds->ntrain_rows + B - 1) / B;
    default:
        return ((int64_t)ds->cfg.valid + B - 1) / B;
    }
}

/* Validation window i of the text: stream s covers tokens ntrain + s*Lv .. +Lv; the window
 * starts at i*T and the steps past the stream's end are masked. */
static void text_valid_fill(DataSet *ds, DataBatch *b, int64_t i)
{
    int B = ds->cfg.batch, T = ds->T;
    int64_t Lv = text_valid_stream_len(ds), o = i * T;
    int64_t len = Lv - 1 - o < T ? Lv - 1 - o : T;
    b->ntargets = 0;
    for (int t = 0; t < T; t++)
        for (int s = 0; s < B; s++) {
            size_t k = (size_t)t * B + s;
            if (t < len) {
                const int32_t *p = ds->tokens + ds->ntrain + s * Lv + o + t;
                b->ids[k] = p[0];
                b->target_ids[k] = p[1];
                b->mask[k] = 1;
                b->ntargets++;
            } else {
                b->ids[k] = 0;
                b->target_ids[k] = -1;
                b->mask[k] = 0;
            }
        }
    for (int s = 0; s < B; s++) {
        b->lengths[s] = (int32_t)len;
        b->row_mask[s] = 1;
    }
    b->reset = i == 0;
}

const DataBatch *data_valid_batch(DataSet *ds, int64_t i)
{
    DataBatch *b = &ds->vbatch;
    switch (ds->cfg.kind) {
    case DATA_TEXT: text_valid_fill(ds, b, i); break;
    case DATA_CSV: data_csv_fill(ds, b, true, i); break;
    default: {
        /* Batch i of the fixed validation set: its own seed, independent of training. */
        Rng r;
        rng_seed(&r, ds->cfg.seed ^ (0x76616c6964ULL + 0x9e3779b97f4a7c15ULL * (uint64_t)i));
        gen_fill(ds, &r, b, b->B);
        break;
    }
    }
    return b;
}
