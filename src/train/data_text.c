/* data_text: text corpora -- tokenised into one vocabulary, split into training and
 * validation parts, read as B parallel streams of BPTT windows. Separate from the other sources
 * (data_gen.c, data_csv.c); data.c dispatches to it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "train/data_int.h"
#include "util/utf8.h"
#include "util/array.h"

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
    int nbig = 0;
    size_t capbig = 0;
    int64_t n = 0;
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        int k = 1;
        if (byte) cp = buf[i];
        else if (!(k = utf8_decode(buf + i, len - i, &cp))) {
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
                if (ARRAY_RESERVE(big, capbig, (size_t)nbig + 1) != 0) {
                    free(big);
                    goto oom;
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
int64_t data_text_valid_stream_len(const DataSet *ds)
{
    return (ds->ntokens - ds->ntrain) / ds->cfg.batch;
}

/* Reads and tokenises the text file at ds->cfg.path (its own vocabulary). */
static int text_load(DataSet *ds, Diag *d)
{
    const char *path = ds->cfg.path;
    uint8_t *buf;
    size_t len;
    if (file_read_all(path, DATA_MAX_FILE, &buf, &len, d) != 0) return -1;
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
int data_text_open(DataSet *ds, Diag *d)
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
    if (nvalid > 0 && data_text_valid_stream_len(ds) < 2) {
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
void data_text_fill(DataSet *ds, DataBatch *b)
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

/* Validation window i of the text: stream s covers tokens ntrain + s*Lv .. +Lv; the window
 * starts at i*T and the steps past the stream's end are masked. */
void data_text_valid_fill(DataSet *ds, DataBatch *b, int64_t i)
{
    int B = ds->cfg.batch, T = ds->T;
    int64_t Lv = data_text_valid_stream_len(ds), o = i * T;
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
