/* data: the DataSet -- defaults, reading files, opening a source and handing out training and
 * validation batches and positions (data.h). The sources live apart: text corpora in
 * data_text.c, generated long-lag tasks in data_gen.c, CSV in data_csv.c; UTF-8 and
 * vocabularies in data_vocab.c. */
#include "train/data.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "train/data_csv.h"
#include "train/data_int.h"

/* ---- batches ---------------------------------------------------------------------------- */
/* Allocates the arrays a batch of this data set uses, with nb columns. */
static int batch_alloc(const DataSet *ds, DataBatch *b, int nb)
{
    size_t T = (size_t)ds->T, B = (size_t)nb;
    memset(b, 0, sizeof *b);
    b->T = ds->T;
    b->B = nb;
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

/* The largest batch and text window data_open accepts. */
enum { DATA_MAX_BATCH = 1 << 20, DATA_MAX_BPTT = 1 << 20 };
/* valid's default (DataConfig.valid = -1): the fraction of a file held out, or the number of
 * sequences in a generated task's fixed validation set. */
static const double DEFAULT_VALID_FRACTION = 0.05;
enum { DEFAULT_VALID_SEQUENCES = 1000 };

int data_open(DataSet *ds, const DataConfig *cfg, Diag *d)
{
    memset(ds, 0, sizeof *ds);
    ds->cfg = *cfg;
    DataConfig *c = &ds->cfg;
    const char *what = c->path ? c->path : "data";
    if (c->batch < 1 || c->batch > DATA_MAX_BATCH) {
        diag_error_in(d, what, "batch must be in [1, %d], got %d", DATA_MAX_BATCH, c->batch);
        return -1;
    }
    if ((c->kind == DATA_TEXT || c->kind == DATA_CSV) && !c->path) {
        diag_error_in(d, "data", "this source needs a file (--data FILE)");
        return -1;
    }
    if (c->kind == DATA_TEXT && (c->bptt < 1 || c->bptt > DATA_MAX_BPTT)) {
        diag_error_in(d, what, "bptt must be in [1, %d], got %d", DATA_MAX_BPTT, c->bptt);
        return -1;
    }
    bool gen = c->kind != DATA_TEXT && c->kind != DATA_CSV;
    if (c->valid < 0) c->valid = gen ? DEFAULT_VALID_SEQUENCES : DEFAULT_VALID_FRACTION;
    if (!gen && !(c->valid < 1)) {
        diag_error_in(d, what, "valid must be a fraction in [0, 1), got %g", c->valid);
        return -1;
    }
    rng_seed(&ds->pos.rng, c->seed);
    int rc;
    switch (c->kind) {
    case DATA_TEXT: rc = data_text_open(ds, d); break;
    case DATA_CSV: rc = data_csv_open(ds, d); break;
    default: rc = data_gen_open(ds, d); break;
    }
    if (rc == 0 && (batch_alloc(ds, &ds->batch, c->batch) != 0 ||
                    batch_alloc(ds, &ds->vbatch, c->batch) != 0)) {
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
    batch_free(&ds->part);
    batch_free(&ds->vpart);
    ds->tokens = NULL;
}

/* Copies n items of size sz per row: rows x (first .. first + n) of src ([rows][B][sz]) into
 * dst ([rows][n][sz]); NULL arrays are skipped. */
static void copy_cols(void *dst, const void *src, size_t rows, size_t B, size_t first, size_t n,
                      size_t sz)
{
    if (!dst || !src) return;
    for (size_t r = 0; r < rows; r++)
        memcpy((char *)dst + r * n * sz, (const char *)src + (r * B + first) * sz, n * sz);
}

/* Columns [ds->part_first, + part_n) of the global batch g into p; ntargets recounted. */
static const DataBatch *slice(const DataSet *ds, const DataBatch *g, DataBatch *p)
{
    size_t T = (size_t)g->T, B = (size_t)g->B, f = (size_t)ds->part_first, n = (size_t)p->B;
    size_t w = (size_t)(g->in_width ? g->in_width : 1), K = (size_t)(g->out_width ? g->out_width : 1);
    copy_cols(p->ids, g->ids, T, B, f, n, sizeof(int32_t));
    copy_cols(p->x, g->x, T, B, f, n, w * sizeof(float));
    copy_cols(p->lengths, g->lengths, 1, B, f, n, sizeof(int32_t));
    copy_cols(p->mask, g->mask, T, B, f, n, sizeof(float));
    copy_cols(p->row_mask, g->row_mask, 1, B, f, n, sizeof(float));
    copy_cols(p->target_ids, g->target_ids, g->target_kind == DATA_TARGET_STEP_IDS ? T : 1, B, f,
              n, sizeof(int32_t));
    copy_cols(p->target, g->target, 1, B, f, n, K * sizeof(float));
    p->reset = g->reset;
    p->ntargets = 0;
    if (g->target_kind == DATA_TARGET_STEP_IDS)
        for (size_t i = 0; i < T * n; i++) p->ntargets += p->mask[i] != 0;
    else
        for (size_t i = 0; i < n; i++) p->ntargets += p->row_mask[i] != 0;
    return p;
}

int data_part(DataSet *ds, int first, int n, Diag *d)
{
    const char *what = ds->cfg.path ? ds->cfg.path : "data";
    if (first < 0 || n < 1 || first + n > ds->cfg.batch) {
        diag_error_in(d, what, "columns %d..%d are not in the batch of %d", first, first + n - 1,
                      ds->cfg.batch);
        return -1;
    }
    batch_free(&ds->part);
    batch_free(&ds->vpart);
    ds->part_first = first;
    ds->part_n = n;
    if (batch_alloc(ds, &ds->part, n) != 0 || batch_alloc(ds, &ds->vpart, n) != 0) {
        diag_error_in(d, what, "out of memory for batches of %d x %d", n, ds->T);
        return -1;
    }
    return 0;
}

/* Fills the batch at the current position, then moves the position on (and into the next
 * epoch after its last batch). */
const DataBatch *data_next(DataSet *ds)
{
    DataBatch *b = &ds->batch;
    switch (ds->cfg.kind) {
    case DATA_TEXT: data_text_fill(ds, b); break;
    case DATA_CSV: data_csv_fill(ds, b, false, ds->pos.index); break;
    default: data_gen_fill(ds, &ds->pos.rng, b, b->B); break;
    }
    if (++ds->pos.index >= ds->batches_per_epoch) {
        ds->pos.index = 0;
        ds->pos.epoch++;
        if (ds->cfg.kind == DATA_CSV) data_csv_next_epoch(ds);
    }
    return ds->part_n ? slice(ds, b, &ds->part) : b;
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
        int64_t Lv = data_text_valid_stream_len(ds);
        return (Lv - 1 + ds->T - 1) / ds->T;
    }
    case DATA_CSV:
        return (ds->nrows - ds->ntrain_rows + B - 1) / B;
    default:
        return ((int64_t)ds->cfg.valid + B - 1) / B;
    }
}

/* Batch i of a generated task's validation set is seeded with seed ^ (VALID_SEED_SALT +
 * GOLDEN_GAMMA * i): "valid" in ASCII, spread over batches by the 64-bit golden ratio (the
 * splitmix64 increment), so no batch shares a seed with training or with another batch. */
static const uint64_t VALID_SEED_SALT = 0x76616c6964ULL;
static const uint64_t GOLDEN_GAMMA = 0x9e3779b97f4a7c15ULL;

const DataBatch *data_valid_batch(DataSet *ds, int64_t i)
{
    DataBatch *b = &ds->vbatch;
    switch (ds->cfg.kind) {
    case DATA_TEXT: data_text_valid_fill(ds, b, i); break;
    case DATA_CSV: data_csv_fill(ds, b, true, i); break;
    default: {
        /* Batch i of the fixed validation set: its own seed, independent of training. */
        Rng r;
        rng_seed(&r, ds->cfg.seed ^ (VALID_SEED_SALT + GOLDEN_GAMMA * (uint64_t)i));
        data_gen_fill(ds, &r, b, b->B);
        break;
    }
    }
    return ds->part_n ? slice(ds, b, &ds->vpart) : b;
}

/* The name of a generated source, as the data block spells it. */
static const char *source_name(DataKind k)
{
    const CfgFamily *f = cfg_settings[CFG_SET_SOURCE].arg.family;
    for (int i = 0; i < f->nfns; i++)
        if (f->fns[i].kind == (int)k) return f->fns[i].name;
    return "data";
}

char *data_summary(const DataSet *ds, char *buf, size_t n)
{
    const DataConfig *c = &ds->cfg;
    long long bpe = (long long)ds->batches_per_epoch;
    if (c->kind == DATA_TEXT) {
        snprintf(buf, n, "%s: %d symbols, %lld training tokens, %lld validation tokens, %lld "
                 "batches per epoch", c->path, ds->vocab.size, (long long)ds->ntrain,
                 (long long)(ds->ntokens - ds->ntrain), bpe);
    } else if (c->kind == DATA_CSV) {
        char what[64];
        if (ds->target_kind == DATA_TARGET_LABEL) snprintf(what, sizeof what, "%d classes",
                                                           ds->classes);
        else snprintf(what, sizeof what, "%d target%s", ds->out_width,
                      ds->out_width == 1 ? "" : "s");
        snprintf(buf, n, "%s: %d training rows, %d validation rows, %s, %lld batches per epoch",
                 c->path, ds->ntrain_rows, ds->nrows - ds->ntrain_rows, what, bpe);
    } else {
        snprintf(buf, n, "%s (generated): %lld batches per epoch, %lld validation sequences",
                 source_name(c->kind), bpe, (long long)data_valid_batches(ds) * c->batch);
    }
    return buf;
}
