/* session: a model compiled against its data, with its executor; losses, validation and the
 * checkpoint contents shared by train, sample and eval. */
#include "train/train_int.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "exec/kernels.h"
#include "train/datafile.h"
#include "train/train_dist.h"


/* The loss that fits the data's targets. */
static ExecLossKind loss_for(DataTarget t)
{
    return t == DATA_TARGET_STEP_IDS ? EXEC_LOSS_XENT_TOKENS
           : t == DATA_TARGET_LABEL ? EXEC_LOSS_XENT_LABEL : EXEC_LOSS_MSE;
}

static const char *loss_name(ExecLossKind k)
{
    return k == EXEC_LOSS_XENT_TOKENS ? "cross_entropy(next_token)"
           : k == EXEC_LOSS_XENT_LABEL ? "cross_entropy(label)" : "mse(target)";
}

/* Checks that the model's input and output fit the data and the loss. */
static int check_fit(Session *s, Diag *d)
{
    const IrModel *m = s->m.ir;
    const DataSet *ds = &s->ds;
    const char *what = s->m.source->name;
    const IrLayer *in = &m->layers[0], *out = &m->layers[m->output];
    const char *dname = ds->cfg.path ? ds->cfg.path : "the data";
    if (ds->in_width == 0 && !in->tokens) {
        DiagMessage *msg = diag_error_in(d, what, "%s gives token ids, but the model's input is "
                                         "`input vector(%d)`", dname, in->size);
        diag_help(msg, "use `input tokens(vocab=auto)` for text and symbol tasks");
        return -1;
    }
    if (ds->in_width > 0 && (in->tokens || in->size != ds->in_width)) {
        DiagMessage *msg = diag_error_in(d, what, "%s gives %d values per step, but the model's "
                                         "input is %s", dname, ds->in_width,
                                         in->tokens ? "token ids" : "another width");
        diag_help(msg, "use `input vector(%d)`", ds->in_width);
        return -1;
    }
    if (ds->in_width == 0 && in->vocab < ds->vocab.size) {
        diag_error_in(d, what, "the model's vocabulary has %d tokens but %s has %d", in->vocab,
                      dname, ds->vocab.size);
        return -1;
    }
    ExecLossKind want = loss_for(ds->target_kind);
    if (s->st.loss_given && s->st.loss != want) {
        diag_error_in(d, what, "loss %s does not fit %s, which needs %s", loss_name(s->st.loss),
                      dname, loss_name(want));
        return -1;
    }
    s->loss = want;
    if (want == EXEC_LOSS_XENT_TOKENS && !out->sequence) {
        diag_error_in(d, what, "next-token prediction needs an output at every step, but the "
                      "model's output '%s' is pooled", out->label);
        return -1;
    }
    if (want != EXEC_LOSS_XENT_TOKENS && out->sequence) {
        DiagMessage *msg = diag_error_in(d, what, "%s has one target per sequence, but the "
                                         "model's output '%s' is a sequence", dname, out->label);
        diag_help(msg, "add pool(last) before the output layer");
        return -1;
    }
    if (want == EXEC_LOSS_MSE && out->width != ds->out_width) {
        diag_error_in(d, what, "the model's output '%s' has width %d, but %s has %d target%s",
                      out->label, out->width, dname, ds->out_width, ds->out_width == 1 ? "" : "s");
        return -1;
    }
    int classes = want == EXEC_LOSS_XENT_TOKENS ? ds->vocab.size : ds->classes;
    if (want != EXEC_LOSS_MSE && out->width < classes) {
        diag_error_in(d, what, "the model's output '%s' has width %d, fewer than the %d classes "
                      "of %s", out->label, out->width, classes, dname);
        return -1;
    }
    return 0;
}

/* An owned copy of data path p (NULL: none) in *out. With near, a relative path that does not
 * exist from the working directory is looked up next to the model file; when it is in neither
 * place, -1 with an error naming both paths tried. -1 also when out of memory. */
static int own_path(char **out, const char *model_path, const char *p, bool near, Diag *d)
{
    *out = NULL;
    if (!p) return 0;
    const char *slash = strrchr(model_path, '/');
    if (near && p[0] != '/' && access(p, F_OK) != 0 && slash) {
        size_t n = (size_t)(slash - model_path) + strlen(p) + 2;
        if (!(*out = malloc(n))) goto oom;
        snprintf(*out, n, "%.*s/%s", (int)(slash - model_path), model_path, p);
        if (access(*out, F_OK) == 0) return 0;
        DiagMessage *m = diag_error_in(d, p, "cannot read: %s; tried %s (from the working "
                                       "directory) and %s (next to the model)",
                                       strerror(errno), p, *out);
        diag_help(m, "give the data with --data FILE");
        free(*out);
        *out = NULL;
        return -1;
    }
    if ((*out = strdup(p))) return 0;
oom:
    diag_error_in(d, model_path, "out of memory");
    return -1;
}

/* Compiles the model again (from its parsed source) with the sizes it leaves to the data. */
static int bind_sizes(Session *s, const SemaOptions *so, Diag *d)
{
    const char *name = s->m.source->name;
    int vocab = 0, classes = 0;
    if (so->vocab_auto) {
        if (s->ds.vocab.size == 0) {
            diag_error_in(d, name, "the model uses vocab, but its data has no vocabulary (it is "
                          "not text or symbols)");
            return -1;
        }
        vocab = s->ds.vocab.size;
    }
    if (so->classes_auto) {
        if (s->ds.classes == 0) {
            diag_error_in(d, name, "the model uses classes, but its data has no class labels");
            return -1;
        }
        classes = s->ds.classes;
    }
    if ((vocab || classes) && model_bind_sizes(&s->m, d, vocab, classes) != 0) {
        char v[32] = "", c[32] = "";
        if (vocab) snprintf(v, sizeof v, "vocab=%d", vocab);
        if (classes) snprintf(c, sizeof c, "classes=%d", classes);
        diag_error_in(d, name, "the model does not compile with the data's sizes (%s%s%s)", v,
                      vocab && classes ? ", " : "", c);
        return -1;
    }
    return 0;
}

/* Records the data's class names in the model (they go into its checkpoints), unless the
 * model brought its own (then the data was read with them). */
static int record_classes(Session *s, Diag *d)
{
    if (s->ds.target_kind != DATA_TARGET_LABEL || s->m.nclass_names > 0) return 0;
    if (model_set_class_names(&s->m, s->ds.class_names, s->ds.classes) == 0) return 0;
    diag_error_in(d, s->m.source->name, "out of memory");
    return -1;
}

/* Records the files the run reads (training only: so != NULL) for its checkpoints, by the
 * paths they were opened with (relative to the working directory, or absolute). */
static int record_files(Session *s, Diag *d)
{
    const DataConfig *c = &s->st.data;
    if (c->kind != DATA_TEXT && c->kind != DATA_CSV) return 0;
    if (datafile_record(&s->data_rec, s->data_file, s->data_file, d) != 0) return -1;
    return s->valid_file ? datafile_record(&s->valid_rec, s->valid_file, s->valid_file, d) : 0;
}

static int session_open_any(Session *s, Model *m, const SemaOptions *so, const char *data_path,
                            const char *valid_path, int64_t steps, int64_t epochs,
                            bool has_seed, uint64_t seed, bool eval_all, const Dist *dist,
                            Diag *d);

/* The whole batch, or this rank's columns of it (see session_open_part). */
static int open_part(Session *s, const Dist *dist, Diag *d)
{
    int first = 0, n = s->ds.cfg.batch;
    if (dist && (tdist_split(dist, s->ds.cfg.batch, s->m.source->name, &first, &n, d) != 0 ||
                 (n != s->ds.cfg.batch && data_part(&s->ds, first, n, d) != 0)))
        return -1;
    s->dist = dist;
    s->e = model_exec(&s->m, n, s->ds.T, d);
    if (!s->e) return -1;
    exec_set_first_stream(s->e, first);
    return 0;
}

int session_open(Session *s, Model *m, const SemaOptions *so, const char *data_path,
                 const char *valid_path, int64_t steps, int64_t epochs, bool has_seed,
                 uint64_t seed, bool eval_all, Diag *d)
{
    return session_open_any(s, m, so, data_path, valid_path, steps, epochs, has_seed, seed,
                            eval_all, NULL, d);
}

int session_open_part(Session *s, Model *m, const SemaOptions *so, const char *data_path,
                      const char *valid_path, int64_t steps, int64_t epochs, bool has_seed,
                      uint64_t seed, const Dist *dist, Diag *d)
{
    return session_open_any(s, m, so, data_path, valid_path, steps, epochs, has_seed, seed,
                            false, dist, d);
}

/* session_open and session_open_part: the whole batch when dist is NULL. */
static int session_open_any(Session *s, Model *m, const SemaOptions *so, const char *data_path,
                            const char *valid_path, int64_t steps, int64_t epochs,
                            bool has_seed, uint64_t seed, bool eval_all, const Dist *dist,
                            Diag *d)
{
    memset(s, 0, sizeof *s);
    s->m = *m;
    memset(m, 0, sizeof *m);
    const IrModel *ir = s->m.ir;
    const char *name = s->m.source->name;
    if (train_settings(ir, data_path, steps, epochs, has_seed, seed, &s->st, d) != 0) goto fail;
    if (session_vocab(&s->fixed_vocab, s->m.vocab, s->m.vocab_len, s->m.vocab_level, d) != 0)
        goto fail;
    s->st.data.vocab = s->fixed_vocab.size > 0 ? &s->fixed_vocab : NULL;
    if (s->st.data.kind == DATA_CSV && s->st.data.csv_features == 0)
        s->st.data.csv_features = !ir->layers[0].tokens ? ir->layers[0].size : 1;
    if (valid_path) s->st.data.valid_path = valid_path;
    /* Our own copies outlive the options and the first IR. */
    if (own_path(&s->data_file, name, s->st.data.path, !data_path, d) != 0 ||
        own_path(&s->valid_file, name, s->st.data.valid_path, !valid_path, d) != 0)
        goto fail;
    s->st.data.path = s->data_file;
    s->st.data.valid_path = s->valid_file;
    s->st.data.eval_all = eval_all;     /* before data_open, which decides the split */
    if (!so && s->m.nclass_names > 0) {  /* a loaded classifier: its classes, in its order */
        s->st.data.fixed_classes = s->m.nclass_names;
        s->st.data.class_names = s->m.class_names;
    }
    if (data_open(&s->ds, &s->st.data, d) != 0) goto fail;
    s->have_data = true;
    if (record_classes(s, d) != 0 || (so && record_files(s, d) != 0)) goto fail;
    if (so && bind_sizes(s, so, d) != 0) goto fail;
    if (s->ds.vocab.size > 0 && !s->m.vocab) {
        uint8_t *bytes;
        if (data_vocab_bytes(&s->ds.vocab, &bytes, &s->m.vocab_len, d) != 0) goto fail;
        s->m.vocab = bytes;
        s->m.vocab_level = s->ds.vocab.level == DATA_BYTE ? 1 : 0;
    }
    if (check_fit(s, d) != 0 || open_part(s, dist, d) != 0) goto fail;
    return 0;
fail:
    session_free(s);
    return -1;
}

void session_free(Session *s)
{
    if (s->e) exec_free(s->e);
    if (s->have_opt) optim_free(&s->opt);
    if (s->have_data) data_free(&s->ds);
    data_vocab_free(&s->fixed_vocab);
    model_free(&s->m);
    free(s->data_file);
    free(s->valid_file);
    ckpt_data_file_free(&s->data_rec);
    ckpt_data_file_free(&s->valid_rec);
    memset(s, 0, sizeof *s);
}

/* Mean squared error over the real rows only (padding rows of a last CSV batch are skipped),
 * the executor's one MSE with the batch's row mask; *count is the number of real rows. */
static double mse_rows(Session *s, const DataBatch *b, int64_t *count)
{
    int rows, K;
    const float *y = exec_output(s->e, &rows, &K);
    size_t nreal;
    double loss = kern_mse_forward_backward((size_t)b->B, K, y, b->target, b->row_mask,
                                            exec_output_grad(s->e), &nreal);
    *count = (int64_t)nreal;
    return loss;
}

int session_loss(Session *s, const DataBatch *b, double *loss, int64_t *count, Diag *d)
{
    if (s->loss == EXEC_LOSS_MSE) {
        *loss = mse_rows(s, b, count);
        return 0;
    }
    ExecTarget t = {s->loss, b->target_ids, NULL};
    *count = b->ntargets;
    return exec_loss(s->e, &t, loss, d);
}

/* Counts argmax hits of the output rows against the targets (>= 0 only). */
static void accuracy(Session *s, const DataBatch *b, int64_t *hit, int64_t *n)
{
    int rows, C;
    const float *y = exec_output(s->e, &rows, &C);
    for (int r = 0; r < rows; r++) {
        int32_t t = b->target_ids[r];
        if (t < 0) continue;
        int best = 0;
        for (int j = 1; j < C; j++)
            if (y[(size_t)r * C + j] > y[(size_t)r * C + best]) best = j;
        *hit += best == t;
        (*n)++;
    }
}

int session_validate(Session *s, double *loss, double *acc, Diag *d)
{
    int64_t nb = data_valid_batches(&s->ds);
    *loss = NAN;
    if (acc) *acc = NAN;
    if (nb == 0) return 0;
    int64_t ns = exec_state_floats(s->e);
    float *saved = malloc((size_t)(ns > 0 ? ns : 1) * sizeof(float));
    if (!saved) {
        diag_error_in(d, "validation", "out of memory");
        return -1;
    }
    exec_get_state(s->e, saved);
    exec_set_grad_enabled(s->e, false);
    double sum = 0;
    int64_t total = 0, hit = 0, nacc = 0;
    int rc = 0;
    for (int64_t i = 0; i < nb && rc == 0; i++) {
        const DataBatch *b = data_valid_batch(&s->ds, i);
        if (b->reset) exec_reset_state(s->e);
        ExecInput in = {b->T, b->ids, b->x, s->ds.cfg.kind == DATA_TEXT ? NULL : b->lengths};
        double l;
        int64_t c;
        if (exec_forward(s->e, &in, false, d) != 0 || session_loss(s, b, &l, &c, d) != 0) {
            rc = -1;
            break;
        }
        sum += l * (double)c;
        total += c;
        if (s->loss != EXEC_LOSS_MSE) accuracy(s, b, &hit, &nacc);
    }
    if (s->dist) {   /* every rank's share: the same sums on every rank */
        double v[4] = {sum, (double)total, (double)hit, (double)nacc};
        dist_sum_doubles(s->dist, v, 4);
        sum = v[0], total = (int64_t)v[1], hit = (int64_t)v[2], nacc = (int64_t)v[3];
    }
    exec_set_grad_enabled(s->e, true);
    exec_set_state(s->e, saved);
    free(saved);
    s->valid_count = rc == 0 ? total : 0;
    if (rc == 0 && total > 0) *loss = sum / (double)total;
    if (rc == 0 && acc && nacc > 0) *acc = (double)hit / (double)nacc;
    return rc;
}

/* ---- checkpoints ------------------------------------------------------------------------ */

static int add_flat(CkptTensorList *l, const char *name, const float *data, int64_t n)
{
    int64_t shape[1] = {n};
    return ckpt_add_tensor(l, name, 1, shape, data) ? 0 : -1;
}

/* The chosen optimiser's arguments (its row of the schema, ir/schema.h) as hyperparameters, so a
 * checkpoint holds no field another optimiser would use. */
static int record_hypers(Checkpoint *c, const OptimConfig *o)
{
    const CfgFamily *f = cfg_settings[CFG_SET_OPTIMIZER].arg.family;
    int rc = 0;
    for (int i = 0; i < f->nfns; i++) {
        if (f->fns[i].kind != (int)o->kind) continue;
        for (int k = 0; k < cfg_function_nargs(&f->fns[i]); k++) {
            const CfgArg *a = &f->fns[i].args[k];
            const char *at = (const char *)o + a->offset;
            double v = a->store == CFG_STORE_BOOL ? *(const bool *)at : *(const double *)at;
            rc |= ckpt_set_hyper(c, a->name, v);
        }
    }
    return rc;
}

/* Copies the record of a data file into a checkpoint's (nothing when not recorded). */
static int copy_file_rec(CkptDataFile *dst, const CkptDataFile *f)
{
    return f->present ? ckpt_set_data_file(dst, f->path, f->resolved, f->size, f->crc32) : 0;
}

int session_to_ckpt(Session *s, Checkpoint *c, bool with_optim, Diag *d)
{
    if (model_to_checkpoint(&s->m, c, d) != 0) return -1;
    int rc = copy_file_rec(&c->data, &s->data_rec) | copy_file_rec(&c->valid_data, &s->valid_rec);
    if (!with_optim) goto done;
    if (s->have_opt) {
        const OptimConfig *o = &s->opt.cfg;
        rc |= ckpt_set_optimizer(c, optim_kind_name(o->kind));
        rc |= record_hypers(c, o);
        rc |= ckpt_set_hyper(c, "clip", s->st.clip);
        rc |= ckpt_set_hyper(c, "optim_t", (double)s->opt.t);
        OptimStateBuffer bufs[OPTIM_MAX_STATE];
        for (int i = 0, n = optim_state_buffers(&s->opt, bufs); i < n; i++)
            rc |= add_flat(&c->optim_state, bufs[i].name, bufs[i].data, bufs[i].n);
    }
    float *st = NULL;   /* the whole batch's carried state, gathered from every rank */
    int64_t ns = 0;
    if (tdist_gather_state(s, &st, &ns, d) != 0) rc = -1;
    if (st && rc == 0) rc |= add_flat(&c->optim_state, SESSION_CARRIED_STATE, st, ns);
    free(st);
done:
    if (rc != 0) {
        diag_error_in(d, "checkpoint", "out of memory building the checkpoint");
        return -1;
    }
    return 0;
}

int session_load_params(Session *s, const Checkpoint *c, const char *path, Diag *d)
{
    if (model_set_tensors(&s->m, &c->params, path, d) != 0) return -1;
    return 0;
}

int session_vocab(Vocab *v, const unsigned char *bytes, size_t len, int level, Diag *d)
{
    memset(v, 0, sizeof *v);
    if (!bytes) return 0;
    return data_vocab_from_bytes(v, level == 1 ? DATA_BYTE : DATA_CHAR, bytes, len, d);
}
