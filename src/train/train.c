/* train: the training loop of `recur train` (see train.h), with exact resume. */
#include "train/train.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "io/fileio.h"
#include "train/plot.h"
#include "train/datafile.h"
#include "train/progress.h"
#include "train/rundir.h"
#include "train/train_dist.h"
#include "train/train_int.h"
#include "util/file.h"
#include "util/array.h"

void train_options_init(TrainOptions *o)
{
    memset(o, 0, sizeof *o);
    o->progress = -1;
}

/* Set by SIGINT/SIGTERM; the loop saves and stops at the end of the current step. */
static volatile sig_atomic_t stop_signal;

static void on_signal(int sig) { stop_signal = sig; }

/* The loss history shown in loss.svg (and kept in log.csv). */
typedef struct History {
    int64_t *steps, *vsteps;
    double *loss, *vloss;
    int n, nv;
    size_t cap, vcap, ycap, vycap;   /* capacities of steps, vsteps, loss, vloss */
} History;

/* Appends (x, y) to the parallel arrays xs, ys (n of them). */
static int hist_push(int64_t **xs, double **ys, int *n, size_t *xcap, size_t *ycap, int64_t x,
                     double y)
{
    if (ARRAY_RESERVE(*xs, *xcap, (size_t)*n + 1) != 0 ||
        ARRAY_RESERVE(*ys, *ycap, (size_t)*n + 1) != 0)
        return -1;
    (*xs)[*n] = x;
    (*ys)[*n] = y;
    (*n)++;
    return 0;
}

static void hist_free(History *h)
{
    free(h->steps);
    free(h->vsteps);
    free(h->loss);
    free(h->vloss);
}

/* What the loop accumulates between two log rows. */
typedef struct Meter {
    double loss_sum;
    int64_t loss_n, tokens;
    double t_mark;          /* start of the timed stretch (-1: restart after this step) */
    double tps, last_val, last_acc;
} Meter;

/* Everything about one run. */
typedef struct Run {
    Session s;
    const TrainOptions *o;
    char *dir, *last_path, *best_path, *log_path, *svg_path;
    int64_t step, total;
    double best_val;
    bool has_best;
    int64_t stale_evals;    /* evaluations since the last improvement by more than min_delta */
    bool stopped_early;     /* patience ran out */
    bool log_old;           /* resumed with a log.csv of the old shape (no wall_s, metric) */
    double wall0, t_start;  /* log.csv wall_s: the resumed log's last value; this run's start */
    History hist;
    FILE *log;
    Progress prog;
    RunLock lock;           /* DIR/.lock, held from before the checks of DIR to the end */
    Checkpoint ck;          /* --resume: last.ckpt as read */
    bool have_ck;
    char *found_data, *found_valid; /* --resume: the data files last.ckpt records, found */
    Dist g;                 /* the data-parallel job (rank 0 of 1 without MPI) */
    bool root;              /* rank 0: the one that writes files and prints */
    double comm_s;          /* seconds in the per-step gradient all-reduces */
    int64_t comm_steps;
    Meter mt;               /* the sums behind the next log row (saved in last.ckpt) */
} Run;

/* mkdir -p. */
static int make_dirs(const char *path, Diag *d)
{
    char *p = strdup(path);
    if (!p) return -1;
    for (char *q = p + 1;; q++) {
        if (*q == '/' || *q == 0) {
            char c = *q;
            *q = 0;
            if (mkdir(p, 0777) != 0 && errno != EEXIST) {
                diag_error_in(d, p, "cannot create directory: %s", strerror(errno));
                free(p);
                return -1;
            }
            *q = c;
            if (!c) break;
        }
    }
    free(p);
    return 0;
}

static char *join(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s/%s", dir, name);
    return p;
}

/* The checkpoint layout of the training position, shared by save and restore so that writer
 * and reader cannot disagree: rng_state holds the dropout Rng's words; data_pos holds the
 * completed epochs, the batch index in the epoch, then the data Rng's words. */
enum { RNG_WORDS = sizeof(((Rng *)0)->s) / sizeof(uint64_t) };
enum DataPosSlot { DATA_POS_EPOCH, DATA_POS_INDEX, DATA_POS_RNG,
                   DATA_POS_WORDS = DATA_POS_RNG + RNG_WORDS };

/* DataPos -> the data_pos words of a checkpoint. */
static void pack_data_pos(const DataPos *p, uint64_t out[DATA_POS_WORDS])
{
    out[DATA_POS_EPOCH] = (uint64_t)p->epoch;
    out[DATA_POS_INDEX] = (uint64_t)p->index;
    memcpy(out + DATA_POS_RNG, p->rng.s, sizeof p->rng.s);
}

/* The data_pos words of a checkpoint -> DataPos. */
static DataPos unpack_data_pos(const uint64_t in[DATA_POS_WORDS])
{
    DataPos p = {(int64_t)in[DATA_POS_EPOCH], (int64_t)in[DATA_POS_INDEX], {{0}}};
    memcpy(p.rng.s, in + DATA_POS_RNG, sizeof p.rng.s);
    return p;
}

/* Writes last.ckpt with the whole training state, or (not with_optim) best.ckpt without the
 * optimiser's state and the carried recurrent state, for deployment. Every rank of a
 * data-parallel job takes part; rank 0 writes. */
static int save(Run *r, const char *path, bool with_optim, Diag *d)
{
    if (tdist_check_params(&r->g, exec_params(r->s.e), exec_nparams(r->s.e), r->step, d) != 0)
        return -1;
    Checkpoint c;
    ckpt_init(&c);
    int rc = session_to_ckpt(&r->s, &c, with_optim, d);
    if (rc == 0) {
        c.step = (uint64_t)r->step;
        c.epoch = (uint64_t)r->s.ds.pos.epoch;
        c.seed = r->s.st.seed;
        c.threads = r->o->threads;
        c.has_best_val_loss = r->has_best;
        c.best_val_loss = r->best_val;
        c.stale_evals = (uint64_t)r->stale_evals;
        c.log_loss_sum = r->mt.loss_sum;
        c.log_loss_n = (uint64_t)r->mt.loss_n;
        c.log_tokens = (uint64_t)r->mt.tokens;
        uint64_t pos[DATA_POS_WORDS];
        pack_data_pos(&r->s.ds.pos, pos);
        if (ckpt_set_rng_state(&c, exec_rng(r->s.e)->s, RNG_WORDS) != 0 ||
            ckpt_set_data_pos(&c, pos, DATA_POS_WORDS) != 0) {
            diag_error_in(d, path, "out of memory");
            rc = -1;
        }
    }
    if (rc == 0 && r->root) rc = ckpt_write(path, &c, d);
    ckpt_free(&c);
    return tdist_agree(&r->g, rc, d);
}

/* Refuses a checkpoint whose vocabulary differs from the one the data gives now. */
static int check_vocab(const Session *s, const Checkpoint *c, const char *path, Diag *d)
{
    const Model *m = &s->m;
    if (!m->vocab)
        return 0;
    if (c->vocab && c->vocab_len == m->vocab_len && !memcmp(c->vocab, m->vocab, m->vocab_len) &&
        model_checkpoint_vocab_level(c) == m->vocab_level)
        return 0;
    Vocab v;
    if (session_vocab(&v, c->vocab, c->vocab_len, model_checkpoint_vocab_level(c), d) != 0)
        return -1;
    diag_error_in(d, path, "the checkpoint's vocabulary (%d tokens) differs from the data's (%d "
                  "tokens)", v.size, s->ds.vocab.size);
    data_vocab_free(&v);
    return -1;
}

/* Fills the optimiser's state buffers and the carried recurrent state from c. */
static int restore_buffers(Session *s, const Checkpoint *c, const char *path, Diag *d)
{
    OptimStateBuffer bufs[OPTIM_MAX_STATE + 1];
    int n = optim_state_buffers(&s->opt, bufs);
    if (exec_state_floats(s->e) > 0)
        bufs[n++] = (OptimStateBuffer){SESSION_CARRIED_STATE, NULL, 0};
    for (int i = 0; i < n; i++) {
        const CkptTensor *t = ckpt_find_tensor(&c->optim_state, bufs[i].name);
        if (t && !bufs[i].data)     /* the whole batch's state: this rank takes its streams */
            return tdist_set_state(s, t->data, t->count, path, d);
        if (!t || t->count != bufs[i].n) {
            diag_error_in(d, path, "the checkpoint's optimiser state '%s' is missing or has "
                          "another size", bufs[i].name);
            return -1;
        }
        memcpy(bufs[i].data, t->data, sizeof(float) * (size_t)bufs[i].n);
    }
    return 0;
}

/* Restores the step, the RNGs and the data position from c. */
static int restore_position(Run *r, const Checkpoint *c, const char *path, Diag *d)
{
    Session *s = &r->s;
    double t = 0;
    if (c->nrng_state != RNG_WORDS || c->ndata_pos != DATA_POS_WORDS ||
        !ckpt_get_hyper(c, "optim_t", &t)) {
        diag_error_in(d, path, "the checkpoint has no training state (RNG, data position)");
        return -1;
    }
    s->opt.t = (int64_t)t;
    memcpy(exec_rng(s->e)->s, c->rng_state, sizeof(uint64_t) * RNG_WORDS);
    DataPos p = unpack_data_pos(c->data_pos);
    int rc = data_set_pos(&s->ds, &p, d);
    r->step = (int64_t)c->step;
    r->has_best = c->has_best_val_loss;
    r->best_val = c->best_val_loss;
    r->stale_evals = (int64_t)c->stale_evals;   /* 0 before patience existed */
    r->mt.loss_sum = c->log_loss_sum;            /* 0 before issue 14 */
    r->mt.loss_n = (int64_t)c->log_loss_n;
    r->mt.tokens = (int64_t)c->log_tokens;
    if (r->o->threads && c->threads && (int)c->threads != r->o->threads)
        diag_warning(d, (SrcRange){0}, "%s was trained with --threads %u, this run uses %d: "
                     "the result will not be bit-identical", path, c->threads, r->o->threads);
    if (r->step > r->total) {
        diag_error_in(d, path, "the checkpoint is at step %lld, past the %lld steps of this "
                      "run", (long long)r->step, (long long)r->total);
        rc = -1;
    }
    return rc;
}

/* Restores the training state from last.ckpt after checking it belongs to this model. */
static int restore(Run *r, const Checkpoint *ck, Diag *d)
{
    const Checkpoint c = *ck;
    Session *s = &r->s;
    const char *path = r->last_path;
    int rc = session_load_params(s, &c, path, d);
    if (rc != 0) {
        DiagMessage *m = diag_error_in(d, path, "cannot resume: the checkpoint is from another "
                                       "model");
        diag_help(m, "train into another --out directory, or drop --resume");
    }
    if (rc == 0 && (!c.optimizer || strcmp(c.optimizer, optim_kind_name(s->opt.cfg.kind)))) {
        diag_error_in(d, path, "the checkpoint was trained with optimizer %s, the model now "
                      "uses %s", c.optimizer ? c.optimizer : "(none)",
                      optim_kind_name(s->opt.cfg.kind));
        rc = -1;
    }
    if (rc == 0) rc = check_vocab(s, &c, path, d);
    if (rc == 0) rc = restore_buffers(s, &c, path, d);
    if (rc == 0) rc = restore_position(r, &c, path, d);
    return rc;
}

/* The header of log.csv before wall_s and the metric were added; a resumed run whose log has
 * it goes on writing rows of that shape, so an old log stays one table. */
static const char LOG_HEADER_OLD[] = "step,loss,val_loss,lr,grad_norm,tokens_per_s\n";

/* The validation metric's column of log.csv for this task (NULL: MSE, whose metric is the
 * loss itself). */
static const char *metric_name(const Session *s)
{
    return s->loss == EXEC_LOSS_XENT_TOKENS  ? "val_bits_per_token"
           : s->loss == EXEC_LOSS_XENT_LABEL ? "val_accuracy" : NULL;
}

/* One kept row of an old log.csv: refills the plot's history and the wall clock's offset. */
static void reread_row(Run *r, const char *line, long long st)
{
    double l = NAN, v = NAN;
    char *p = strchr(line, ',') + 1;
    if (*p != ',') l = strtod(p, &p);
    if (*p == ',') p++;
    if (*p != ',') v = strtod(p, &p);
    const char *q = line;   /* wall_s: after the sixth comma */
    for (int c = 0; c < 6 && q; c++)
        if ((q = strchr(q, ','))) q++;
    if (q && *q && *q != ',' && *q != '\n') r->wall0 = strtod(q, NULL);
    if (isfinite(l)) hist_push(&r->hist.steps, &r->hist.loss, &r->hist.n, &r->hist.cap,
                               &r->hist.ycap, st, l);
    if (isfinite(v)) hist_push(&r->hist.vsteps, &r->hist.vloss, &r->hist.nv, &r->hist.vcap,
                               &r->hist.vycap, st, v);
}

/* On resume: the old log's rows up to the resumed step (later rows came from work that was
 * lost) into m, and whether its header is the old one. */
static void keep_rows(Run *r, FILE *m)
{
    FILE *f = fopen(r->log_path, "r");
    if (!f) return;
    char line[1024];
    bool first = true;
    while (fgets(line, sizeof line, f)) {
        if (first) {
            first = false;
            r->log_old = strcmp(line, LOG_HEADER_OLD) == 0;
            continue;
        }
        char *p;
        long long st = strtoll(line, &p, 10);
        if (*p != ',' || st > r->step) continue;
        fputs(line, m);
        reread_row(r, line, st);
    }
    fclose(f);
}

/* Opens log.csv: a fresh file with its header, or on resume the old rows up to the resumed
 * step, which also refill the plot's history. */
static int open_log(Run *r, Diag *d)
{
    char *kept = NULL, header[128];
    size_t klen = 0;
    if (r->o->resume) {
        FILE *m = open_memstream(&kept, &klen);
        if (!m) return -1;
        keep_rows(r, m);
        fclose(m);
    }
    const char *metric = metric_name(&r->s);
    snprintf(header, sizeof header, "%s", LOG_HEADER_OLD);
    if (!r->log_old)
        snprintf(header + strlen(header) - 1, sizeof header - strlen(header) + 1, ",wall_s%s%s\n",
                 metric ? "," : "", metric ? metric : "");
    IoAtomic w;
    int rc = io_atomic_open(&w, r->log_path, d);
    if (rc == 0) {
        io_atomic_write(&w, header, strlen(header));
        if (kept) io_atomic_write(&w, kept, klen);
        rc = io_atomic_commit(&w, d);
    }
    free(kept);
    if (rc != 0) return -1;
    r->log = fopen(r->log_path, "a");
    if (!r->log) {
        diag_error_in(d, r->log_path, "cannot append: %s", strerror(errno));
        return -1;
    }
    return 0;
}

/* One row of log.csv (val and metric empty when NaN) and the plot's history. */
static void log_row(Run *r, double loss, double val, double metric, double lr, double norm,
                    double tps)
{
    fprintf(r->log, "%lld,%.6g,", (long long)r->step, loss);
    if (!isnan(val)) fprintf(r->log, "%.6g", val);
    fprintf(r->log, ",%.6g,%.6g,%.1f", lr, norm, tps);
    if (!r->log_old) {
        fprintf(r->log, ",%.3f", r->wall0 + progress_now() - r->t_start);
        if (metric_name(&r->s)) fputc(',', r->log);
        if (metric_name(&r->s) && !isnan(metric)) fprintf(r->log, "%.6g", metric);
    }
    fputc('\n', r->log);
    fflush(r->log);
    if (isfinite(loss))
        hist_push(&r->hist.steps, &r->hist.loss, &r->hist.n, &r->hist.cap, &r->hist.ycap, r->step,
                  loss);
    if (!isnan(val))
        hist_push(&r->hist.vsteps, &r->hist.vloss, &r->hist.nv, &r->hist.vcap, &r->hist.vycap,
                  r->step, val);
}

/* The run directory (--out, default runs/<model name>) and the paths of its files. */
static int set_paths(Run *r, const char *model_name, Diag *d)
{
    r->dir = r->o->out_dir ? strdup(r->o->out_dir) : NULL;
    if (!r->o->out_dir) {
        size_t n = strlen(model_name) + 8;
        if ((r->dir = malloc(n))) snprintf(r->dir, n, "runs/%s", model_name);
    }
    if (!r->dir || !(r->last_path = join(r->dir, "last.ckpt")) ||
        !(r->best_path = join(r->dir, "best.ckpt")) || !(r->log_path = join(r->dir, "log.csv")) ||
        !(r->svg_path = join(r->dir, "loss.svg"))) {
        diag_error_in(d, r->o->model_path, "out of memory");
        return -1;
    }
    return 0;
}

/* Creates DIR and takes its lock (rundir.h); a fresh run then refuses a DIR that holds a run.
 * Rank 0 alone does this: the other ranks of a data-parallel job write nothing. */
static int lock_dir(Run *r, Diag *d)
{
    static const char *const outputs[] = {"last.ckpt", "best.ckpt", "log.csv", "loss.svg"};
    if (!r->root) return 0;
    if (make_dirs(r->dir, d) != 0 || rundir_lock(&r->lock, r->dir, outputs, 4, d) != 0)
        return -1;
    struct stat st;
    if (!r->o->resume && stat(r->last_path, &st) == 0) {
        DiagMessage *m = diag_error_in(d, r->last_path, "a run already exists here");
        diag_help(m, "add --resume to continue it, or choose another --out directory");
        return -1;
    }
    return 0;
}

/* --resume: locks DIR, reads last.ckpt into r->ck and, unless --data is given, finds the data
 * files it records (r->found_data, r->found_valid). */
static int open_resume(Run *r, Diag *d)
{
    struct stat st;
    if (stat(r->last_path, &st) != 0) {
        DiagMessage *m = diag_error_in(d, r->last_path, "cannot resume: %s", strerror(errno));
        diag_help(m, "--resume continues a run in its --out directory");
        return -1;
    }
    if (lock_dir(r, d) != 0 || ckpt_read(r->last_path, &r->ck, d) != 0) return -1;
    r->have_ck = true;
    if (r->o->data_path) return 0;
    if (r->ck.data.present && datafile_find(&r->ck.data, r->last_path, &r->found_data, d) != 0)
        return -1;
    if (r->ck.valid_data.present &&
        datafile_find(&r->ck.valid_data, r->last_path, &r->found_valid, d) != 0)
        return -1;
    return 0;
}

/* --init-from: the weights of another file in place of the initialisers' (a fresh run). */
static int init_from(Run *r, Diag *d)
{
    const TrainOptions *o = r->o;
    if (!o->init_from) return 0;
    if (o->resume || !o->load_init) {
        diag_error_in(d, o->init_from, o->resume ? "--init-from starts a new run; it cannot be "
                      "combined with --resume" : "no reader for --init-from was given");
        return -1;
    }
    CkptTensorList l = {0};
    int rc = o->load_init(o->init_from, &r->s.m, &l, d);
    if (rc == 0) rc = model_set_tensors(&r->s.m, &l, o->init_from, d);
    ckpt_tensors_free(&l);
    if (rc != 0) {
        DiagMessage *m = diag_error_in(d, o->init_from, "cannot start from these weights: they "
                                       "are not the model's");
        diag_help(m, "recur convert %s --model %s shows how they map", o->init_from,
                  o->model_path);
    }
    return rc;
}

/* Loads the model file and everything the run needs; writes nothing but DIR/.lock of an
 * existing DIR on resume (a fresh run's DIR is made by start, after every check). */
static int prepare(Run *r, Diag *d)
{
    const TrainOptions *o = r->o;
    const Source *src = diag_load_file(d, o->model_path, MODEL_SOURCE_MAX);
    if (!src) return -1;
    Session *s = &r->s;
    Model m;
    SemaOptions so = {.allow_auto = true};
    if (model_compile_opts(&m, d, src, o->sets, o->nsets, &so) != 0) return -1;
    if (set_paths(r, m.ir->name, d) != 0 || (o->resume && open_resume(r, d) != 0)) {
        model_free(&m);
        return -1;
    }
    const char *data = o->data_path ? o->data_path : r->found_data;
    if (session_open_part(s, &m, &so, data, r->found_valid, o->steps, o->epochs, o->has_seed,
                          o->seed, &r->g, d) != 0)
        return -1;
    r->total = s->st.epochs > 0 ? s->st.epochs * s->ds.batches_per_epoch : s->st.steps;
    s->st.sched.total = r->total;
    if (optim_init(&s->opt, &s->st.optim, exec_nparams(s->e), d) != 0) return -1;
    s->have_opt = true;
    if (model_init_weights(&s->m, s->st.seed, d) != 0 || init_from(r, d) != 0) return -1;
    exec_seed_dropout(s->e, s->st.seed);
    return o->resume ? restore(r, &r->ck, d) : 0;
}

/* Validation and best.ckpt at an evaluation step; early stopping's count: an evaluation
 * improves when val < best - min_delta (best.ckpt follows the lowest loss, however small the
 * step), and patience evaluations in a row without one stop the run. */
static int evaluate(Run *r, double *val, double *acc, Diag *d)
{
    if (tdist_agree(&r->g, session_validate(&r->s, val, acc, d), d) != 0) return -1;
    if (isnan(*val)) return 0;
    const TrainSettings *st = &r->s.st;
    bool improved = !r->has_best || *val < r->best_val - st->min_delta;
    r->stale_evals = improved ? 0 : r->stale_evals + 1;
    if (st->patience > 0 && r->stale_evals >= st->patience) r->stopped_early = true;
    if (!r->has_best || *val < r->best_val) {
        r->has_best = true;
        r->best_val = *val;
        if (save(r, r->best_path, false, d) != 0) return -1;
    }
    return 0;
}

/* Reports a loss or gradient norm x that is not finite at the coming step; returns -1 (the
 * run stops; last.ckpt, when one was written, keeps the last good state). */
static int stop_not_finite(const Run *r, const char *what, double x, Diag *d)
{
    DiagMessage *m = diag_error_in(d, r->o->model_path, "the %s is %g at step %lld; training "
                                   "stopped", what, x, (long long)r->step + 1);
    struct stat st;
    if (stat(r->last_path, &st) == 0)
        diag_help(m, "%s keeps the last good state; lower the learning rate or set clip",
                  r->last_path);
    else
        diag_help(m, "no checkpoint was written before it; lower the learning rate or set clip");
    return -1;
}

/* The task's validation metric for log.csv: accuracy, or bits per token from the loss. */
static double metric_of(const Session *s, double val, double acc)
{
    return s->loss == EXEC_LOSS_XENT_LABEL ? acc
           : s->loss == EXEC_LOSS_XENT_TOKENS ? val / log(2.0) : NAN;
}

/* After an update: evaluation, log row, progress line, plot and checkpoint at their
 * intervals. loss is this step's training loss. */
static int report(Run *r, Meter *mt, double loss, double lr, double norm, Diag *d)
{
    Session *s = &r->s;
    const TrainSettings *st = &s->st;
    bool last = r->step == r->total;
    bool eval = last || (st->eval_every > 0 && r->step % st->eval_every == 0);
    double val = NAN, acc = NAN;
    double now = progress_now();   /* training time only: evaluation is not counted */
    if (eval) {
        if (evaluate(r, &val, &acc, d) != 0) return -1;
        mt->last_val = val;
        mt->last_acc = acc;
    }
    /* the epoch of the batch just trained on (data_next has moved past it) */
    int64_t epoch = s->ds.pos.epoch + (s->ds.pos.index > 0);
    ProgressReport pr = {r->step, epoch, loss, mt->last_val, mt->last_acc, mt->tps};
    if (eval || r->step % st->log_every == 0) {
        mt->tps = pr.tok_per_s = now > mt->t_mark ? (double)mt->tokens / (now - mt->t_mark) : 0;
        pr.loss = mt->loss_sum / (double)mt->loss_n;
        if (r->root) log_row(r, pr.loss, val, metric_of(s, val, acc), lr, norm, mt->tps);
        mt->loss_sum = 0;
        mt->loss_n = mt->tokens = 0;
        mt->t_mark = -1;    /* restarted after this step's evaluation and saving */
    }
    progress_update(&r->prog, &pr, eval);
    const char *ylabel = s->loss == EXEC_LOSS_MSE ? "loss (MSE)" : "loss (nats)";
    int prc = eval && r->root ? plot_loss_svg(r->svg_path, s->m.ir->name, ylabel, r->hist.steps,
                                              r->hist.loss, r->hist.n, r->hist.vsteps,
                                              r->hist.vloss, r->hist.nv, d) : 0;
    if (eval && tdist_agree(&r->g, prc, d) != 0) return -1;
    if (last || r->stopped_early ||
        (st->checkpoint_every > 0 && r->step % st->checkpoint_every == 0))
        if (save(r, r->last_path, true, d) != 0) return -1;
    return 0;
}

/* Forward, loss and backward of batch b (this rank's share of the step); *loss is the mean over
 * its *count targets, *tokens the input steps it ran. */
static int forward_backward(Run *r, const DataBatch *b, double *loss, int64_t *count,
                            int64_t *tokens, Diag *d)
{
    Session *s = &r->s;
    if (b->reset) exec_reset_state(s->e);
    exec_zero_grads(s->e);
    ExecInput in = {b->T, b->ids, b->x, s->ds.cfg.kind == DATA_TEXT ? NULL : b->lengths,
                    session_packed(s, b)};
    *tokens = 0;
    for (int i = 0; i < b->B; i++)
        *tokens += b->row_mask[i] != 0 ? b->lengths[i] : 0;
    if (exec_forward(s->e, &in, true, d) != 0 || session_loss(s, b, loss, count, d) != 0)
        return -1;
    return exec_backward(s->e, d);
}

/* The loop: one update per step; evaluation, logging and checkpoints at their intervals. Under
 * data parallelism every rank runs it in step: the all-reduce makes gradients, loss and stop
 * decisions the same everywhere, and only rank 0 logs, plots and writes. */
static int loop(Run *r, Diag *d, bool *interrupted)
{
    Session *s = &r->s;
    const TrainSettings *st = &s->st;
    float *params = exec_params(s->e), *grads = exec_grads(s->e);
    int64_t n = exec_nparams(s->e), done_here = 0;
    Meter *mt = &r->mt;     /* its sums may come from last.ckpt */
    mt->t_mark = progress_now();
    mt->tps = 0;
    mt->last_val = mt->last_acc = NAN;
    while (r->step < r->total && !r->stopped_early) {
        TdistStep ts = {0};
        int rc = forward_backward(r, data_next(&s->ds), &ts.loss, &ts.count, &ts.tokens, d);
        ts.failed = rc != 0;
        ts.stop = stop_signal != 0;
        tdist_reduce_step(&r->g, grads, n, &ts);
        r->comm_s += ts.seconds;
        r->comm_steps++;
        if (ts.failed) return tdist_agree(&r->g, rc, d);
        double loss = ts.loss;
        if (!isfinite(loss)) return stop_not_finite(r, "loss", loss, d);
        double norm = optim_clip_grad_norm(grads, n, st->clip);
        if (!isfinite(norm)) return stop_not_finite(r, "gradient norm", norm, d);
        double lr = optim_schedule_lr(&st->sched, st->optim.lr, r->step);
        optim_step(&s->opt, params, grads, lr);
        r->step++;
        done_here++;
        mt->loss_sum += loss;
        mt->loss_n++;
        mt->tokens += ts.tokens;    /* input steps processed (by every rank), for tokens/s */
        if (report(r, mt, loss, lr, norm, d) != 0) return -1;
        if (r->g.size > 1 ? ts.stop : stop_signal != 0) {
            if (r->step != r->total && save(r, r->last_path, true, d) != 0) return -1;
            if (stop_signal)
                progress_message(&r->prog, "stopped by signal %d at step %lld; saved %s",
                                 (int)stop_signal, (long long)r->step, r->last_path);
            else    /* data parallel: another rank had the signal */
                progress_message(&r->prog, "stopped by a signal to another rank at step %lld; "
                                 "saved %s", (long long)r->step, r->last_path);
            if (interrupted) *interrupted = true;
            return 0;
        }
        if (mt->t_mark < 0) mt->t_mark = progress_now();
        if (r->o->stop_after > 0 && done_here >= r->o->stop_after) {
            if (interrupted) *interrupted = true;   /* test hook: a crash, nothing saved */
            return 0;
        }
    }
    return 0;
}

/* Takes its place in the data-parallel job (if any) and prepares the run on every rank; then checks that all
 * ranks run the same job, and rank 0 creates the directory and the log. Nothing is written
 * before every rank has its model, data and checkpoint. */
static int start(Run *r, Diag *d)
{
    r->g = r->o->dist ? *r->o->dist : (Dist){0, 1, false};
    r->root = r->g.rank == 0;
    int rc = tdist_agree(&r->g, prepare(r, d), d);
    if (rc == 0)
        rc = tdist_check_same(&r->g, tdist_run_hash(&r->s, r->o, r->total, r->step),
                              r->o->model_path, d);
    if (rc == 0 && !r->o->resume) rc = lock_dir(r, d);  /* a fresh run: DIR only now */
    if (rc == 0 && r->root) rc = open_log(r, d);
    return tdist_agree(&r->g, rc, d);
}

/* The closing line of a run that ended (all steps, or early stopping). */
static void finished(const Run *r, FILE *out)
{
    if (r->stopped_early)
        fprintf(out, "early stop at step %lld: no improvement of the validation loss by more "
                "than %g in %lld evaluations (patience)\n", (long long)r->step,
                r->s.st.min_delta, (long long)r->s.st.patience);
    if (r->step != r->total && !r->stopped_early) return;
    if (r->has_best)
        fprintf(out, "done: step %lld, best validation loss %.4g; wrote %s\n",
                (long long)r->step, r->best_val, r->dir);
    else
        fprintf(out, "done: step %lld; wrote %s\n", (long long)r->step, r->dir);
    if (r->g.size > 1 && r->comm_steps > 0)
        fprintf(out, "data parallel: %d processes x batch %d; gradient all-reduce of %lld bytes, "
                "%.2f ms per step\n", r->g.size, r->s.ds.part_n,
                (long long)exec_nparams(r->s.e) * 4, 1e3 * r->comm_s / (double)r->comm_steps);
}

int train_run(const TrainOptions *o, Diag *d, bool *interrupted)
{
    Run r;
    memset(&r, 0, sizeof r);
    r.o = o;
    r.lock.fd = -1;
    if (interrupted) *interrupted = false;
    int rc = start(&r, d);
    FILE *out = o->out ? o->out : stderr, *quiet = NULL;
    if (!r.root && !(out = quiet = fopen("/dev/null", "w"))) rc = -1;
    if (rc == 0) {
        const Session *s = &r.s;
        fprintf(out, "%s: %lld parameters, %s, batch %d x %d steps, %lld updates%s\n",
                s->m.ir->name, (long long)exec_nparams(s->e), optim_kind_name(s->opt.cfg.kind),
                s->ds.cfg.batch, s->ds.T, (long long)r.total,
                o->resume ? " (resumed)" : "");
        char summary[1024];
        fprintf(out, "data: %s\n", data_summary(&s->ds, summary, sizeof summary));
        if (o->resume) fprintf(out, "resuming at step %lld\n", (long long)r.step);
        if (o->init_from) fprintf(out, "weights from %s\n", o->init_from);
        progress_init(&r.prog, out, o->progress, r.step, r.total);
        r.t_start = progress_now();
        struct sigaction sa, old_int, old_term;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_signal;
        sigemptyset(&sa.sa_mask);
        stop_signal = 0;
        sigaction(SIGINT, &sa, &old_int);
        sigaction(SIGTERM, &sa, &old_term);
        rc = loop(&r, d, interrupted);
        sigaction(SIGINT, &old_int, NULL);
        sigaction(SIGTERM, &old_term, NULL);
        progress_finish(&r.prog);
        if (rc == 0) finished(&r, out);
    }
    if (quiet) fclose(quiet);
    if (!r.root) diag_clear_messages(d);   /* rank 0 reports for the job (tdist_agree) */
    if (r.log) fclose(r.log);
    rundir_unlock(&r.lock);
    if (r.have_ck) ckpt_free(&r.ck);
    free(r.found_data);
    free(r.found_valid);
    hist_free(&r.hist);
    session_free(&r.s);
    free(r.dir);
    free(r.last_path);
    free(r.best_path);
    free(r.log_path);
    free(r.svg_path);
    return rc;
}
