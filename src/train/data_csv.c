/* data_csv: one sequence per row, `TARGET,v1,v2,...`, see data.h for the layout. */
#include "train/data_csv.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <csv.h>

#include "util/array.h"

#define CSV_MAX_FIELDS 1000000
#define CSV_MAX_STEPS 100000

/* One parsed row before labels are resolved. */
typedef struct CsvRow {
    int line;           /* line number in its file */
    char *label;        /* label text (target=label) */
    float *targets;     /* [K] (target=values) */
    float *values;      /* [steps][F] */
    int steps;
} CsvRow;

/* Strips spaces and tabs at both ends of s[0..n) in place; returns the new start. */
static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t') s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r')) s[--n] = 0;
    return s;
}

/* A finite number occupying the whole field. */
static bool parse_num(const char *s, float *out)
{
    if (!*s) return false;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (*end || !isfinite(v) || errno == ERANGE) return false;
    *out = (float)v;
    return true;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A label as a class number: a non-negative integer below 1000000, else -1. */
static long label_number(const char *label)
{
    char *end;
    errno = 0;
    long v = strtol(label, &end, 10);
    return !*label || *end || v < 0 || v >= 1000000 || errno ? -1 : v;
}

/* A class name and its id, for lookups in name order. */
typedef struct ClassKey {
    const char *name;
    int id;
} ClassKey;

static int cmp_key(const void *a, const void *b)
{
    return strcmp(((const ClassKey *)a)->name, ((const ClassKey *)b)->name);
}

/* True when names[n] are "0", "1", ... in order: the classes of numeric labels. */
static bool names_are_numbers(char *const *names, int n)
{
    for (int i = 0; i < n; i++)
        if (label_number(names[i]) != i) return false;
    return true;
}

/* The classes of the data: a loaded model's (cfg.fixed_classes and class_names), else from
 * the first ndef rows: all non-negative integers -> the numbers (classes = max + 1); otherwise
 * the sorted distinct names. Sets ds->classes and ds->class_names (always: numbers as "0", "1",
 * ...) and *numeric; -1 only when out of memory. */
static int define_classes(DataSet *ds, const CsvRow *rows, int ndef, bool *numeric)
{
    const DataConfig *c = &ds->cfg;
    int k = 0;
    char **names = NULL;
    if (c->fixed_classes > 0 && c->class_names) {
        k = c->fixed_classes;
        *numeric = names_are_numbers(c->class_names, k);
    } else if (c->fixed_classes > 0) {
        k = c->fixed_classes;
        *numeric = true;
    } else {
        long maxv = -1;
        *numeric = true;
        for (int r = 0; r < ndef && *numeric; r++) {
            long v = label_number(rows[r].label);
            if (v < 0) *numeric = false;
            else if (v > maxv) maxv = v;
        }
        if (*numeric) k = (int)maxv + 1;
    }
    if (!*numeric && !c->fixed_classes) {   /* the sorted distinct names of the rows */
        if (!(names = malloc((size_t)ndef * sizeof *names))) return -1;
        for (int r = 0; r < ndef; r++)
            names[r] = rows[r].label;
        qsort(names, (size_t)ndef, sizeof *names, cmp_str);
        for (int r = 0; r < ndef; r++)
            if (k == 0 || strcmp(names[k - 1], names[r]) != 0) names[k++] = names[r];
    }
    ds->classes = k;
    if (!(ds->class_names = calloc((size_t)k + 1, sizeof(char *)))) { free(names); return -1; }
    for (int i = 0; i < k; i++) {
        char num[16];
        snprintf(num, sizeof num, "%d", i);
        const char *name = names ? names[i] : c->class_names && !*numeric ? c->class_names[i]
                                                                         : num;
        if (!(ds->class_names[i] = strdup(name))) { free(names); return -1; }
    }
    free(names);
    return 0;
}

/* Reports a row whose label is not one of the classes, at path:line. */
static void bad_label(const DataSet *ds, const CsvRow *row, int r, const char *path, bool numeric,
                      Diag *d)
{
    char where[4096];
    snprintf(where, sizeof where, "%s:%d", path, row->line);
    if (ds->cfg.fixed_classes > 0) {
        DiagMessage *m = diag_error_in(d, where, "row %d: label '%s' is not a class of the "
                                       "model", r + 1, row->label);
        if (numeric)
            diag_help(m, "the model's classes are the numbers 0 to %d", ds->classes - 1);
        else
            diag_help(m, "the model knows %d classes: '%s'%s%s%s", ds->classes,
                      ds->class_names[0], ds->classes > 1 ? " ... '" : "",
                      ds->classes > 1 ? ds->class_names[ds->classes - 1] : "",
                      ds->classes > 1 ? "'" : "");
        return;
    }
    diag_error_in(d, where, "label '%s' is not a class of the training data (%s has %d)",
                  row->label, ds->cfg.path, ds->classes);
}

/* True when label is written as a number (an integer, negative, or with a fraction or
 * exponent): such a label makes, or breaks, a file of class numbers. */
static bool looks_numeric(const char *label)
{
    char *end;
    errno = 0;
    (void)strtod(label, &end);
    return *label && !*end;
}

/* The label kind of a file of classes, decided once by its first row: class numbers (0 to
 * 999999) when that label is written as a number, names otherwise. A later row of the other
 * kind (or a number that is no class: -1, 1e6, 2.5) is an error at path:line, up to 20. */
static int check_label_kind(const CsvRow *rows, int n, const char *path, Diag *d)
{
    if (n == 0) return 0;
    bool numbers = looks_numeric(rows[0].label);
    int bad = 0;
    for (int r = 0; r < n && bad < 20; r++) {
        const char *l = rows[r].label;
        bool ok = numbers ? label_number(l) >= 0 : !looks_numeric(l);
        if (ok) continue;
        char where[4096];
        snprintf(where, sizeof where, "%s:%d", path, rows[r].line);
        DiagMessage *m = numbers
            ? diag_error_in(d, where, "label '%s' is not a class number (0 to 999999), but the "
                            "file's labels are class numbers", l)
            : diag_error_in(d, where, "label '%s' is a number, but the file's labels are names",
                            l);
        diag_help(m, "the first row (line %d, label '%s') decides the kind of every label",
                  rows[0].line, rows[0].label);
        bad++;
    }
    return bad ? -1 : 0;
}

/* Turns the label strings into class ids (define_classes gives the classes). A row with a label
 * outside them (only rows past ndef, or any row with a loaded model's classes) is an error at
 * vpath:line (path:line with fixed classes); up to 20 are reported. */
static int resolve_labels(DataSet *ds, CsvRow *rows, int ndef, const char *vpath, Diag *d)
{
    int n = ds->nrows;
    bool numeric;
    ClassKey *keys = NULL;
    if (ds->cfg.fixed_classes <= 0 && check_label_kind(rows, ndef, ds->cfg.path, d) != 0)
        return -1;
    if (define_classes(ds, rows, ndef, &numeric) != 0 ||
        !(ds->row_labels = malloc((size_t)n * sizeof(int32_t))) ||
        !(keys = malloc(((size_t)ds->classes + 1) * sizeof *keys))) {
        free(keys);
        diag_error_in(d, ds->cfg.path, "out of memory");
        return -1;
    }
    for (int i = 0; i < ds->classes; i++)
        keys[i] = (ClassKey){ds->class_names[i], i};
    qsort(keys, (size_t)ds->classes, sizeof *keys, cmp_key);
    const char *where = ds->cfg.fixed_classes > 0 ? ds->cfg.path : vpath;
    int bad = 0;
    for (int r = 0; r < n; r++) {
        long id = -1;
        if (numeric) {
            id = label_number(rows[r].label);
        } else {
            ClassKey key = {rows[r].label, 0};
            const ClassKey *hit = bsearch(&key, keys, (size_t)ds->classes, sizeof *keys, cmp_key);
            id = hit ? hit->id : -1;
        }
        if (id < 0 || id >= ds->classes) {
            if (bad++ < 20) bad_label(ds, &rows[r], r, where, numeric, d);
            continue;
        }
        ds->row_labels[r] = (int32_t)id;
    }
    free(keys);
    return bad ? -1 : 0;
}

/* Parses one data line into row; reports `path:line: error: ...` and returns -1 when bad. */
static int parse_row(const DataConfig *c, const char *path, char **f, int nf, int line,
                     CsvRow *row, Diag *d)
{
    int K = c->csv_values ? c->csv_targets : 1, F = c->csv_features;
    char where[4096];
    snprintf(where, sizeof where, "%s:%d", path, line);
    row->line = line;
    int nv = nf - K;
    if (nv < F) {
        diag_error_in(d, where, "expected %d target column%s and at least %d value%s, found %d "
                      "field%s", K, K == 1 ? "" : "s", F, F == 1 ? "" : "s", nf,
                      nf == 1 ? "" : "s");
        return -1;
    }
    if (nv % F != 0) {
        diag_error_in(d, where, "%d values is not a multiple of features=%d", nv, F);
        return -1;
    }
    if (nv / F > CSV_MAX_STEPS) {
        diag_error_in(d, where, "%d steps is more than the limit of %d", nv / F, CSV_MAX_STEPS);
        return -1;
    }
    row->steps = nv / F;
    row->values = malloc((size_t)nv * sizeof(float));
    if (c->csv_values) row->targets = malloc((size_t)K * sizeof(float));
    if (!row->values || (c->csv_values && !row->targets)) {
        diag_error_in(d, where, "out of memory");
        return -1;
    }
    for (int k = 0; k < K && c->csv_values; k++)
        if (!parse_num(f[k], &row->targets[k])) {
            diag_error_in(d, where, "target in column %d is not a number: '%s'", k + 1, f[k]);
            return -1;
        }
    if (!c->csv_values) {
        if (!*f[0]) {
            diag_error_in(d, where, "the label in column 1 is empty");
            return -1;
        }
        if (!(row->label = strdup(f[0]))) {
            diag_error_in(d, where, "out of memory");
            return -1;
        }
    }
    for (int i = 0; i < nv; i++)
        if (!parse_num(f[K + i], &row->values[i])) {
            diag_error_in(d, where, "value in column %d is not a number: '%s'", K + i + 1,
                          f[K + i]);
            return -1;
        }
    return 0;
}

/* The rows of one file. */
typedef struct CsvRows {
    CsvRow *rows;
    int n;
    size_t cap;
} CsvRows;

/* One file being read through libcsv: the fields of the current record (owned copies) and
 * where it started, for messages. */
typedef struct CsvReader {
    const DataConfig *c;
    const char *path;
    int header_setting;     /* -1 auto, 0 none, 1 the first record */
    CsvRows *rs;
    Diag *d;
    char **fields;
    int nf;
    size_t capf;
    int line, record_line;  /* the line being fed; the line the record began on */
    bool first;             /* no record seen yet (the header candidate) */
    int errors;             /* bad rows reported */
    bool fatal;             /* out of memory or too many fields: stop */
} CsvReader;

/* libcsv's field callback: a copy of the field (a quoted field keeps its delimiters, quotes
 * and newlines), trimmed of spaces. */
static void on_field(void *s, size_t len, void *data)
{
    CsvReader *rd = data;
    if (rd->fatal) return;
    if (rd->nf == CSV_MAX_FIELDS) {
        diag_error_in(rd->d, rd->path, "line %d has more than %d fields", rd->record_line,
                      CSV_MAX_FIELDS);
        rd->fatal = true;
        return;
    }
    char *f = malloc(len + 1);
    if (!f || ARRAY_RESERVE(rd->fields, rd->capf, (size_t)rd->nf + 1) != 0) {
        free(f);
        diag_error_in(rd->d, rd->path, "out of memory");
        rd->fatal = true;
        return;
    }
    memcpy(f, s, len);
    f[len] = 0;
    char *t = trim(f);
    memmove(f, t, strlen(t) + 1);
    rd->fields[rd->nf++] = f;
}

/* The current record as a data row: skipped when blank or a # comment, or when it is the
 * header; else parsed into the next row of rd->rs. */
static void take_record(CsvReader *rd)
{
    char **f = rd->fields;
    int nf = rd->nf;
    if (nf == 0 || (nf == 1 && !*f[0]) || f[0][0] == '#') return;
    const DataConfig *c = rd->c;
    if (rd->first) {
        rd->first = false;
        bool header = rd->header_setting == 1;
        int K = c->csv_values ? c->csv_targets : 1;
        float tmp;
        for (int i = K; i < nf && !header && rd->header_setting == -1; i++)
            header = !parse_num(f[i], &tmp);
        if (header) return;
    }
    CsvRows *rs = rd->rs;
    if (ARRAY_RESERVE(rs->rows, rs->cap, (size_t)rs->n + 1) != 0) {
        diag_error_in(rd->d, rd->path, "out of memory");
        rd->fatal = true;
        return;
    }
    memset(&rs->rows[rs->n], 0, sizeof rs->rows[rs->n]);
    if (parse_row(c, rd->path, f, nf, rd->record_line, &rs->rows[rs->n], rd->d) != 0)
        rd->errors++;
    rs->n++;
    if (rd->errors >= 20) rd->fatal = true;
}

/* libcsv's record callback. */
static void on_record(int term, void *data)
{
    (void)term;
    CsvReader *rd = data;
    if (!rd->fatal) take_record(rd);
    for (int i = 0; i < rd->nf; i++)
        free(rd->fields[i]);
    rd->nf = 0;
}

/* Feeds buf [len] to the parser a line at a time (so records know their line), after
 * refusing NUL bytes; -1 (reported) on malformed quoting. */
static int feed(CsvReader *rd, struct csv_parser *p, const char *buf, size_t len)
{
    const char *q = buf, *end = buf + len;
    while (q < end && !rd->fatal) {
        const char *nl = memchr(q, '\n', (size_t)(end - q));
        size_t n = nl ? (size_t)(nl - q) + 1 : (size_t)(end - q);
        rd->line++;
        if (memchr(q, 0, n)) {
            diag_error_in(rd->d, rd->path, "line %d contains a NUL byte: not a text file",
                          rd->line);
            return -1;
        }
        const char *t = q;
        while (t < q + n && (*t == ' ' || *t == '\t')) t++;
        /* A # comment between records is not CSV: never shown to the parser (pstate 0 is
         * libcsv's "no record begun"), so its quotes cannot open a field. */
        bool between = rd->nf == 0 && p->pstate == 0;
        if (between && t < q + n && *t == '#') {
            q += n;
            continue;
        }
        if (between) rd->record_line = rd->line;   /* a record (or a blank line) begins */
        if (csv_parse(p, q, n, on_field, on_record, rd) != n) {
            char where[4096];
            snprintf(where, sizeof where, "%s:%d", rd->path, rd->line);
            DiagMessage *m = diag_error_in(rd->d, where, "malformed CSV: %s",
                                           csv_strerror(csv_error(p)));
            diag_help(m, "a quoted field is \"...\" with \"\" for a quote inside (RFC 4180)");
            return -1;
        }
        q += n;
    }
    return 0;
}

/* Parses the file at path (header: -1 auto, 0 none, 1 first row) as RFC 4180 CSV (libcsv:
 * quoted fields may hold delimiters, "" and newlines) and appends its rows to rs; every bad
 * row (up to 20) is reported as PATH:LINE. */
static int read_rows(const DataConfig *c, const char *path, int header_setting, CsvRows *rs,
                     Diag *d)
{
    uint8_t *buf;
    size_t len;
    if (file_read_all(path, DATA_MAX_FILE, &buf, &len, d) != 0) return -1;
    CsvReader rd = {c, path, header_setting, rs, d, NULL, 0, 0, 0, 0, true, 0, false};
    int first_row = rs->n, rc = -1;
    struct csv_parser p;
    if (csv_init(&p, CSV_STRICT | CSV_STRICT_FINI) != 0) {
        diag_error_in(d, path, "out of memory");
        free(buf);
        return -1;
    }
    csv_set_delim(&p, (unsigned char)(c->csv_delim ? c->csv_delim : ','));
    int fed = feed(&rd, &p, (const char *)buf, len);
    int fin = fed == 0 && !rd.fatal ? csv_fini(&p, on_field, on_record, &rd) : 0;
    if (fin != 0) {
        char where[4096];
        snprintf(where, sizeof where, "%s:%d", path, rd.record_line);
        diag_error_in(d, where, "malformed CSV: a quoted field is not closed");
    }
    if (fed == 0 && fin == 0 && !rd.fatal && !rd.errors) rc = 0;
    for (int i = 0; i < rd.nf; i++)   /* a record cut short */
        free(rd.fields[i]);
    csv_free(&p);
    free(rd.fields);
    free(buf);
    if (rc == 0 && rs->n == first_row) {
        diag_error_in(d, path, len ? "no data rows" : "file is empty");
        rc = -1;
    }
    return rc;
}

int data_csv_open(DataSet *ds, Diag *d)
{
    DataConfig *c = &ds->cfg;
    if (c->csv_features < 1 || c->csv_targets < 1 || c->csv_features > 65536 ||
        c->csv_targets > 65536) {
        diag_error_in(d, c->path, "features and targets must be in [1, 65536]");
        return -1;
    }
    const char *vpath = c->valid_path && !c->eval_all ? c->valid_path : NULL;
    CsvRows rs = {NULL, 0, 0};
    int rc = -1;
    if (read_rows(c, c->path, c->csv_header, &rs, d) != 0) goto done;
    int nfile = rs.n;   /* rows of the training file */
    if (vpath && read_rows(c, vpath, c->valid_csv_header, &rs, d) != 0) goto done;
    CsvRow *rows = rs.rows;
    int nrows = rs.n;
    /* Shapes: F per step, padded to the longest row; the validation rows are the last ones. */
    ds->nrows = nrows;
    int nvalid = c->eval_all ? nrows : vpath ? nrows - nfile : (int)((double)nrows * c->valid);
    ds->ntrain_rows = nrows - nvalid;
    if (ds->ntrain_rows < 1 && !c->eval_all) {
        diag_error_in(d, c->path, "no training rows left after the validation split");
        goto done;
    }
    ds->in_width = c->csv_features;
    ds->T = 1;
    for (int r = 0; r < nrows; r++)
        if (rows[r].steps > ds->T) ds->T = rows[r].steps;
    ds->batches_per_epoch = (ds->ntrain_rows + c->batch - 1) / c->batch;
    if (ds->batches_per_epoch < 1) ds->batches_per_epoch = 1;
    ds->row_values = calloc((size_t)nrows, sizeof(float *));
    ds->row_len = malloc((size_t)nrows * sizeof(int32_t));
    ds->order = malloc((size_t)(ds->ntrain_rows + 1) * sizeof(int32_t));
    if (!ds->row_values || !ds->row_len || !ds->order) {
        diag_error_in(d, c->path, "out of memory");
        goto done;
    }
    if (c->csv_values) {
        ds->target_kind = DATA_TARGET_VALUES;
        ds->out_width = c->csv_targets;
        ds->row_targets = malloc((size_t)nrows * c->csv_targets * sizeof(float));
        if (!ds->row_targets) { diag_error_in(d, c->path, "out of memory"); goto done; }
        for (int r = 0; r < nrows; r++)
            memcpy(ds->row_targets + (size_t)r * c->csv_targets, rows[r].targets,
                   (size_t)c->csv_targets * sizeof(float));
    } else {
        ds->target_kind = DATA_TARGET_LABEL;
        if (resolve_labels(ds, rows, vpath ? nfile : nrows, vpath, d) != 0) goto done;
    }
    for (int r = 0; r < nrows; r++) {
        ds->row_values[r] = rows[r].values;
        rows[r].values = NULL;
        ds->row_len[r] = rows[r].steps;
    }
    rc = 0;
done:
    for (int r = 0; r < rs.n; r++) {
        free(rs.rows[r].label);
        free(rs.rows[r].targets);
        free(rs.rows[r].values);
    }
    free(rs.rows);
    return rc;
}

void data_csv_free(DataSet *ds)
{
    if (ds->row_values)
        for (int r = 0; r < ds->nrows; r++)
            free(ds->row_values[r]);
    if (ds->class_names)
        for (int i = 0; i < ds->classes; i++)
            free(ds->class_names[i]);
    free(ds->class_names);
    free(ds->row_values);
    free(ds->row_targets);
    free(ds->row_labels);
    free(ds->row_len);
    free(ds->order);
    ds->class_names = NULL;
    ds->row_values = NULL;
    ds->row_targets = NULL;
    ds->row_labels = ds->row_len = ds->order = NULL;
}

/* Fisher-Yates over the training rows, drawing from r. */
static void shuffle_with(DataSet *ds, Rng *r)
{
    int n = ds->ntrain_rows;
    for (int i = 0; i < n; i++)
        ds->order[i] = i;
    for (int i = n - 1; i > 0; i--) {
        int j = (int)rng_below(r, (uint64_t)i + 1);
        int32_t t = ds->order[i];
        ds->order[i] = ds->order[j];
        ds->order[j] = t;
    }
}

void data_csv_shuffle(DataSet *ds)
{
    if (!ds->order) return;
    Rng r = ds->pos.rng;
    shuffle_with(ds, &r);
}

void data_csv_next_epoch(DataSet *ds)
{
    Rng r = ds->pos.rng;
    shuffle_with(ds, &r);   /* replays this epoch's draws to find the next epoch's start */
    ds->pos.rng = r;
    data_csv_shuffle(ds);
}

/* Copies rows into the batch, padded to T steps; rows past the end are padding rows. */
void data_csv_fill(DataSet *ds, DataBatch *b, bool valid, int64_t i)
{
    int B = b->B, T = b->T, F = ds->in_width, K = ds->out_width;
    b->ntargets = 0;
    for (int s = 0; s < B; s++) {
        int64_t k = i * B + s;
        int r = -1;
        if (!valid && k < ds->ntrain_rows) r = ds->order[k];
        if (valid && ds->ntrain_rows + k < ds->nrows) r = ds->ntrain_rows + (int)k;
        int len = r >= 0 ? ds->row_len[r] : 0;
        for (int t = 0; t < T; t++) {
            float *x = b->x + ((size_t)t * B + s) * F;
            if (t < len) memcpy(x, ds->row_values[r] + (size_t)t * F, (size_t)F * sizeof(float));
            else memset(x, 0, (size_t)F * sizeof(float));
            b->mask[t * B + s] = t < len ? 1.0f : 0.0f;
        }
        b->lengths[s] = len > 0 ? len : 1;
        b->row_mask[s] = r >= 0 ? 1.0f : 0.0f;
        if (ds->target_kind == DATA_TARGET_LABEL) {
            b->target_ids[s] = r >= 0 ? ds->row_labels[r] : -1;
        } else {
            for (int j = 0; j < K; j++)
                b->target[s * K + j] = r >= 0 ? ds->row_targets[(size_t)r * K + j] : 0.0f;
        }
        b->ntargets += r >= 0;
    }
    b->reset = true;
}
