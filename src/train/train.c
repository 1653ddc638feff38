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
#include "train/progress.h"
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

/* Everything about one run. */
typedef struct Run {
    Session s;
    const TrainOptions *o;
    char *dir, *last_path, *best_path, *log_path, *svg_path;
    int64_t step, total;
    double best_val;
    bool has_best;
    History hist;
    FILE *log;
    Progress prog;
    Dist g;                 /* the data-parallel job (rank 0 of 1 without MPI) */
    bool root;              /* rank 0: the one that writes files and prints */
    double comm_s;          /* seconds in the per-step gradient all-reduces */
    int64_t comm_steps;
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

/* Writes last.ckpt (or best.ckpt) with the whole training state (every rank takes part; rank 0
 * writes). */
static int save(Run *r, const char *path, Diag *d)
{
    if (tdist_check_params(&r->g, exec_params(r->s.e), exec_nparams(r->s.e), r->step, d) != 0)
        return -1;
    Checkpoint c;
    ckpt_init(&c);
    int rc = session_to_ckpt(&r->s, &c, d);
    if (rc == 0) {
        c.step = (uint64_t)r->step;
        c.epoch = (uint64_t)r->s.ds.pos.epoch;
        c.seed = r->s.st.seed;
        c.threads = r->o->threads;
        c.has_best_val_loss = r->has_best;
        c.best_val_loss = r->best_val;
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
static int restore(Run *r, Diag *d)
{
    Checkpoint c;
    if (ckpt_read(r->last_path, &c, d) != 0) return -1;
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
    ckpt_free(&c);
    return rc;
}

/* Opens log.csv: a fresh file with its header, or on resume the old rows up to the resumed step
 * (later rows came from work that was lost), which also refill the plot's history. */
static int open_log(Run *r, Diag *d)
{
    const char *header = "step,loss,val_loss,lr,grad_norm,tokens_per_s\n";
    char *kept = NULL;
    size_t klen = 0;
    if (r->o->resume) {
        FILE *f = fopen(r->log_path, "r");
        FILE *m = open_memstream(&kept, &klen);
        if (!m) return -1;
        if (f) {
            char line[512];
            bool first = true;
            while (fgets(line, sizeof line, f)) {
                if (first) { first = false; continue; }
                long long st;
                double l = NAN, v = NAN;
                char *p = line;
                st = strtoll(p, &p, 10);
                if (*p != ',' || st > r->step) continue;
                p++;
                if (*p != ',') l = strtod(p, &p);
                if (*p == ',') p++;
                if (*p != ',') v = strtod(p, &p);
                fputs(line, m);
                if (isfinite(l)) hist_push(&r->hist.steps, &r->hist.loss, &r->hist.n,
                                           &r->hist.cap, &r->hist.ycap, st, l);
                if (isfinite(v)) hist_push(&r->hist.vsteps, &r->hist.vloss, &r->hist.nv,
                                           &r->hist.vcap, &r->hist.vycap, st, v);
            }
            fclose(f);
        }
        fclose(m);
    }
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

static void log_row(Run *r, double loss, double val, double lr, double norm, double tps)
{
    fprintf(r->log, "%lld,%.6g,", (long long)r->step, loss);
    if (!isnan(val)) fprintf(r->log, "%.6g", val);
    fprintf(r->log, ",%.6g,%.6g,%.1f\n", lr, norm, tps);
    fflush(r->log);
    if (isfinite(loss))
        hist_push(&r->hist.steps, &r->hist.loss, &r->hist.n, &r->hist.cap, &r->hist.ycap, r->step,
                  loss);
    if (!isnan(val))
        hist_push(&r->hist.vsteps, &r->hist.vloss, &r->hist.nv, &r->hist.vcap, &r->hist.vycap,
                  r->step, val);
}

/* Loads the model file and everything the run needs; writes nothing. */
static int prepare(Run *r, Diag *d)
{
    const TrainOptions *o = r->o;
    const Source *src = diag_load_file(d, o->model_path, MODEL_SOURCE_MAX);
    if (!src) return -1;
    Session *s = &r->s;
    Model m;
    SemaOptions so = {.allow_auto = true};
    if (model_compile_opts(&m, d, src, o->sets, o->nsets, &so) != 0 ||
        session_open_part(s, &m, &so, o->data_path, o->steps, o->epochs, o->has_seed, o->seed,
                          &r->g, d) != 0)
        return -1;
    r->total = s->st.epochs > 0 ? s->st.epochs * s->ds.batches_per_epoch : s->st.steps;
    s->st.sched.total = r->total;
    if (optim_init(&s->opt, &s->st.optim, exec_nparams(s->e), d) != 0) return -1;
    s->have_opt = true;
    if (model_init_weights(&s->m, s->st.seed, d) != 0) return -1;
    exec_seed_dropout(s->e, s->st.seed);
    r->dir = o->out_dir ? strdup(o->out_dir) : NULL;
    if (!r->dir) {
        size_t n = strlen(s->m.ir->name) + 8;
        if ((r->dir = malloc(n))) snprintf(r->dir, n, "runs/%s", s->m.ir->name);
    }
    if (!r->dir || !(r->last_path = join(r->dir, "last.ckpt")) ||
        !(r->best_path = join(r->dir, "best.ckpt")) || !(r->log_path = join(r->dir, "log.csv")) ||
        !(r->svg_path = join(r->dir, "loss.svg"))) {
        diag_error_in(d, o->model_path, "out of memory");
        return -1;
    }
    if (o->resume) {
        struct stat st;
        if (stat(r->last_path, &st) != 0) {
            DiagMessage *m = diag_error_in(d, r->last_path, "cannot resume: %s",
                                           strerror(errno));
            diag_help(m, "--resume continues a run in its --out directory");
            return -1;
        }
        if (restore(r, d) != 0) return -1;
    } else {
        struct stat st;
        if (stat(r->last_path, &st) == 0) {
            DiagMessage *m = diag_error_in(d, r->last_path, "a run already exists here");
            diag_help(m, "add --resume to continue it, or choose another --out directory");
            return -1;
        }
    }
    return 0;
}

/* Validation, log, plot and best.ckpt at an evaluation step. */
static int evaluate(Run *r, double *val, Diag *d)
{
    if (tdist_agree(&r->g, session_validate(&r->s, val, NULL, d), d) != 0) return -1;
    if (!isnan(*val) && (!r->has_best || *val < r->best_val)) {
        r->has_best = true;
        r->best_val = *val;
        if (save(r, r->best_path, d) != 0) return -1;
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

/* Refreshes loss.svg from the history. */
static int plot(Run *r, Diag *d)
{
    return plot_loss_svg(r->svg_path, r->s.m.ir->name, r->hist.steps, r->hist.loss, r->hist.n,
                         r->hist.vsteps, r->hist.vloss, r->hist.nv, d);
}

/* Forward, loss and backward of batch b (this rank's share of the step); *loss is the mean over
 * its *count targets, *tokens the input steps it ran. */
static int forward_backward(Run *r, const DataBatch *b, double *loss, int64_t *count,
                            int64_t *tokens, Diag *d)
{
    Session *s = &r->s;
    if (b->reset) exec_reset_state(s->e);
    exec_zero_grads(s->e);
    ExecInput in = {b->T, b->ids, b->x, s->ds.cfg.kind == DATA_TEXT ? NULL : b->lengths};
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
    int64_t n = exec_nparams(s->e);
    double loss_sum = 0, last_val = NAN, norm = 0, lr = st->optim.lr;
    int64_t loss_n = 0, tokens = 0, done_here = 0;
    double t_mark = progress_now();
    double tps = 0;
    while (r->step < r->total) {
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
        norm = optim_clip_grad_norm(grads, n, st->clip);
        if (!isfinite(norm)) return stop_not_finite(r, "gradient norm", norm, d);
        lr = optim_schedule_lr(&st->sched, st->optim.lr, r->step);
        optim_step(&s->opt, params, grads, lr);
        r->step++;
        done_here++;
        loss_sum += loss;
        loss_n++;
        tokens += ts.tokens;    /* input steps processed (by every rank), for tokens/s */

        bool last = r->step == r->total;
        bool eval = last || (st->eval_every > 0 && r->step % st->eval_every == 0);
        double val = NAN;
        double now = progress_now();   /* training time only: evaluation is not counted */
        if (eval) {
            if (evaluate(r, &val, d) != 0) return -1;
            last_val = val;
        }
        if (eval || r->step % st->log_every == 0) {
            tps = now > t_mark ? (double)tokens / (now - t_mark) : 0;
            if (r->root) log_row(r, loss_sum / (double)loss_n, val, lr, norm, tps);
            progress_update(&r->prog, r->step, loss_sum / (double)loss_n, last_val, tps, eval);
            loss_sum = 0;
            loss_n = 0;
            tokens = 0;
            t_mark = -1;    /* restarted after this step's evaluation and saving */
        } else {
            progress_update(&r->prog, r->step, loss, last_val, tps, false);
        }
        if (eval && tdist_agree(&r->g, r->root ? plot(r, d) : 0, d) != 0)
            return -1;
        if (last || (st->checkpoint_every > 0 && r->step % st->checkpoint_every == 0))
            if (save(r, r->last_path, d) != 0) return -1;
        if (r->g.size > 1 ? ts.stop : stop_signal != 0) {
            if (!last && save(r, r->last_path, d) != 0) return -1;
            if (stop_signal)
                progress_message(&r->prog, "stopped by signal %d at step %lld; saved %s",
                                 (int)stop_signal, (long long)r->step, r->last_path);
            else    /* data parallel: another rank had the signal */
                progress_message(&r->prog, "stopped by a signal to another rank at step %lld; "
                                 "saved %s", (long long)r->step, r->last_path);
            if (interrupted) *interrupted = true;
            return 0;
        }
        if (t_mark < 0) t_mark = progress_now();
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
    if (rc == 0 && r->root) rc = make_dirs(r->dir, d);
    if (rc == 0 && r->root) rc = open_log(r, d);
    return tdist_agree(&r->g, rc, d);
}

/* The closing line: where the run ended, and the all-reduce's cost under data parallelism. */
static void report_done(const Run *r, FILE *out)
{
    if (r->has_best)
        fprintf(out, "done: step %lld, best validation loss %.4f; wrote %s\n",
                (long long)r->step, r->best_val, r->dir);
    else
        fprintf(out, "done: step %lld; wrote %s\n", (long long)r->step, r->dir);
    if (r->g.size > 1 && r->comm_steps > 0)
        fprintf(out, "data parallel: %d processes x batch %d; gradient all-reduce of %lld bytes, "
                "%.2f ms per step\n", r->g.size, r->s.ds.part_n, (long long)exec_nparams(r->s.e) * 4,
                1e3 * r->comm_s / (double)r->comm_steps);
}

int train_run(const TrainOptions *o, Diag *d, bool *interrupted)
{
    Run r;
    memset(&r, 0, sizeof r);
    r.o = o;
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
        if (o->resume) fprintf(out, "resuming at step %lld\n", (long long)r.step);
        progress_init(&r.prog, out, o->progress, r.step, r.total);
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
        if (rc == 0 && r.step == r.total) report_done(&r, out);
    }
    if (quiet) fclose(quiet);
    if (!r.root) diag_clear_messages(d);   /* rank 0 reports for the job (tdist_agree) */
    if (r.log) fclose(r.log);
    hist_free(&r.hist);
    session_free(&r.s);
    free(r.dir);
    free(r.last_path);
    free(r.best_path);
    free(r.log_path);
    free(r.svg_path);
    return rc;
}
