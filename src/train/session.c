/* session: a model compiled against its data, with its executor; losses, validation and the
 * checkpoint contents shared by train, sample and eval. */
#include "train/train_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "exec/kernels.h"
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
 * exist from the working directory is looked up next to the model file. -1: out of memory. */
static int own_path(char **out, const char *model_path, const char *p, bool near)
{
    *out = NULL;
    if (!p) return 0;
    const char *slash = strrchr(model_path, '/');
    if (near && p[0] != '/' && access(p, F_OK) != 0 && slash) {
        size_t n = (size_t)(slash - model_path) + strlen(p) + 2;
        if (!(*out = malloc(n))) return -1;
        snprintf(*out, n, "%.*s/%s", (int)(slash - model_path), model_path, p);
        if (access(*out, F_OK) == 0) return 0;
        free(*out);
    }
    return (*out = strdup(p)) ? 0 : -1;
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

static int session_open_any(Session *s, Model *m, const SemaOptions *so, const char *data_path,
                            int64_t steps, int64_t epochs, bool has_seed, uint64_t seed,
                            bool eval_all, const Dist *dist, Diag *d);

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
                 int64_t steps, int64_t epochs, bool has_seed, uint64_t seed, bool eval_all,
                 Diag *d)
{
    return session_open_any(s, m, so, data_path, steps, epochs, has_seed, seed, eval_all, NULL,
                            d);
}

int session_open_part(Session *s, Model *m, const SemaOptions *so, const char *data_path,
                      int64_t steps, int64_t epochs, bool has_seed, uint64_t seed,
                      const Dist *dist, Diag *d)
{
    return session_open_any(s, m, so, data_path, steps, epochs, has_seed, seed, false, dist, d);
}

/* session_open and session_open_part: the whole batch when dist is NULL. */
static int session_open_any(Session *s, Model *m, const SemaOptions *so, const char *data_path,
                            int64_t steps, int64_t epochs, bool has_seed, uint64_t seed,
                            bool eval_all, const Dist *dist, Diag *d)
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
    /* Our own copies outlive the options and the first IR. */
    if (own_path(&s->data_file, name, s->st.data.path, !data_path) != 0 ||
        own_path(&s->valid_file, name, s->st.data.valid_path, true) != 0)
        goto oom;
    s->st.data.path = s->data_file;
    s->st.data.valid_path = s->valid_file;
    if (data_open(&s->ds, &s->st.data, d) != 0) goto fail;
    s->st.data.eval_all = eval_all;
    s->have_data = true;
    if (so && bind_sizes(s, so, d) != 0) goto fail;
    if (s->ds.vocab.size > 0 && !s->m.vocab) {
        uint8_t *bytes;
        if (data_vocab_bytes(&s->ds.vocab, &bytes, &s->m.vocab_len, d) != 0) goto fail;
        s->m.vocab = bytes;
        s->m.vocab_level = s->ds.vocab.level == DATA_BYTE ? 1 : 0;
    }
    if (check_fit(s, d) != 0 || open_part(s, dist, d) != 0) goto fail;
    return 0;
oom:
    diag_error_in(d, name, "out of memory");
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

int session_to_ckpt(Session *s, Checkpoint *c, Diag *d)
{
    if (model_to_checkpoint(&s->m, c, d) != 0) return -1;
    int rc = 0;
    if (s->have_opt) {
        const OptimConfig *o = &s->opt.cfg;
        rc |= ckpt_set_optimizer(c, optim_kind_name(o->kind));
        rc |= ckpt_set_hyper(c, "lr", o->lr);
        rc |= ckpt_set_hyper(c, "momentum", o->momentum);
        rc |= ckpt_set_hyper(c, "nesterov", o->nesterov);
        rc |= ckpt_set_hyper(c, "beta1", o->beta1);
        rc |= ckpt_set_hyper(c, "beta2", o->beta2);
        rc |= ckpt_set_hyper(c, "eps", o->eps);
        rc |= ckpt_set_hyper(c, "alpha", o->alpha);
        rc |= ckpt_set_hyper(c, "weight_decay", o->weight_decay);
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
