/* sample: `recur sample` (streamed text from a checkpoint) and `recur eval` (metrics). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "train/train.h"
#include "train/datafile.h"
#include "train/train_int.h"
#include "util/utf8.h"

void sample_options_init(SampleOptions *o)
{
    memset(o, 0, sizeof *o);
    o->length = 500;
    o->temperature = 1.0;
    o->top_p = 1.0;
    o->seed = 42;
}

void eval_options_init(EvalOptions *o) { memset(o, 0, sizeof *o); }

typedef struct Cand {
    int id;
    double p;
} Cand;

static int by_p_desc(const void *a, const void *b)
{
    double x = ((const Cand *)a)->p, y = ((const Cand *)b)->p;
    if (x != y) return x < y ? 1 : -1;
    return ((const Cand *)a)->id - ((const Cand *)b)->id;   /* ties: a fixed order */
}

/* The most likely token of y [V] (the lowest id among ties): temperature 0, greedy decoding. */
static int argmax(const float *y, int V)
{
    int best = 0;
    for (int i = 1; i < V; i++)
        if (y[i] > y[best]) best = i;
    return best;
}

/* Draws a token from logits [V] (or probabilities when probs):
 *   p_i = softmax(logit_i / T); keep the top_k most likely; keep the smallest prefix (by
 *   decreasing p) whose mass reaches top_p; renormalise and draw with one uniform.
 * T = 0 is the limit: the argmax, no draw. */
static int draw(const float *y, int V, bool probs, const SampleOptions *o, Rng *r, Cand *c)
{
    if (o->temperature == 0) return argmax(y, V);
    double mx = -INFINITY;
    for (int i = 0; i < V; i++) {
        double l = probs ? log(fmax(y[i], 1e-30)) : y[i];
        c[i].id = i;
        c[i].p = l / o->temperature;
        if (c[i].p > mx) mx = c[i].p;
    }
    double z = 0;
    for (int i = 0; i < V; i++) {
        c[i].p = exp(c[i].p - mx);
        z += c[i].p;
    }
    for (int i = 0; i < V; i++)
        c[i].p /= z;
    qsort(c, (size_t)V, sizeof *c, by_p_desc);
    int keep = V;
    if (o->top_k > 0 && o->top_k < keep) keep = o->top_k;
    if (o->top_p < 1) {
        double mass = 0;
        for (int i = 0; i < keep; i++) {
            mass += c[i].p;
            if (mass >= o->top_p) { keep = i + 1; break; }
        }
    }
    double total = 0;
    for (int i = 0; i < keep; i++)
        total += c[i].p;
    double u = rng_uniform(r) * total, acc = 0;
    for (int i = 0; i < keep; i++) {
        acc += c[i].p;
        if (u < acc) return c[i].id;
    }
    return c[keep - 1].id;
}

/* Feeds one token through the batch-1 executor. */
static int step(ExecModel *e, int32_t tok, Diag *d)
{
    ExecInput in = {1, &tok, NULL, NULL, false};
    return exec_forward(e, &in, false, d);
}

/* The sampling options a user gives on the command line, checked before anything is loaded. */
static int check_sample_options(const SampleOptions *o, Diag *d)
{
    if (!(o->temperature >= 0) || !isfinite(o->temperature)) {
        diag_error_in(d, "--temperature", "must be a number >= 0 (0: greedy), got %g",
                      o->temperature);
        return -1;
    }
    if (!(o->top_p > 0 && o->top_p <= 1)) {
        diag_error_in(d, "--top-p", "must be in (0, 1], got %g", o->top_p);
        return -1;
    }
    if (o->top_k < 0 || o->length < 0) {
        diag_error_in(d, "sample", "--top-k and --length must be >= 0");
        return -1;
    }
    return 0;
}

/* The text as token ids into prime [strlen(pt) + 1]; every character is checked against
 * the vocabulary first, and those it lacks are listed (up to ten) under what ("--prime").
 * Returns the count or -1. Shared with recur trace (train_int.h). */
int sample_text_ids(const Vocab *v, const char *pt, const char *what, int32_t *prime, Diag *d)
{
    size_t plen = strlen(pt);
    int np = 0;
    char bad[256] = "";
    int nbad = 0;
    for (size_t i = 0; i < plen;) {
        uint32_t cp;
        int k = v->level == DATA_BYTE ? 1 : utf8_decode((const uint8_t *)pt + i, plen - i, &cp);
        if (v->level == DATA_BYTE) cp = (uint8_t)pt[i];
        if (k == 0) {
            diag_error_in(d, what, "invalid UTF-8 at byte %zu", i);
            return -1;
        }
        int id = data_vocab_id(v, cp);
        if (id < 0) {
            if (!strstr(bad, "'") || nbad < 10) {
                char one[16];
                snprintf(one, sizeof one, "%s'%.*s'", nbad ? ", " : "", k, pt + i);
                if (!strstr(bad, one + (nbad ? 2 : 0)))
                    strncat(bad, one, sizeof bad - strlen(bad) - 1), nbad++;
            }
        }
        prime[np++] = id;
        i += (size_t)k;
    }
    if (nbad) {
        DiagMessage *msg = diag_error_in(d, what, "not in the model's vocabulary: %s", bad);
        diag_help(msg, "the model knows %d characters, from its training text", v->size);
        return -1;
    }
    return np;
}

/* Writes the prime text, feeds it through the executor, then draws and writes o->length more
 * characters one step at a time (a random first one when there is no prime). */
static int generate(ExecModel *e, const Vocab *v, bool probs, const char *pt,
                    const int32_t *prime, int np, const SampleOptions *o, Cand *cand, Diag *d)
{
    FILE *out = o->out ? o->out : stdout;
    if (o->length == 0) return 0;     /* nothing asked for: nothing printed, not even the prime */
    Rng r;
    rng_seed(&r, o->seed);
    int V, rows;
    char u[4];
    fwrite(pt, 1, strlen(pt), out);
    int32_t tok = np ? prime[0] : (int32_t)rng_below(&r, (uint64_t)v->size);
    if (!np) fwrite(u, 1, (size_t)data_vocab_utf8(v, tok, u), out);
    for (int i = 1; i < np; i++) {
        if (step(e, tok, d) != 0) return -1;
        tok = prime[i];
    }
    for (int64_t i = 0; i < o->length - (np ? 0 : 1); i++) {
        if (step(e, tok, d) != 0) return -1;
        const float *y = exec_output(e, &rows, &V);
        if (V > v->size) V = v->size;
        tok = draw(y, V, probs, o, &r, cand);
        fwrite(u, 1, (size_t)data_vocab_utf8(v, tok, u), out);
        if (u[0] == '\n' || i % 16 == 15) fflush(out);
    }
    fputc('\n', out);
    fflush(out);
    return 0;
}

/* `recur sample`: loads the checkpoint, checks that it is a character model with per-step
 * outputs, and streams text. */
int sample_run(const SampleOptions *o, Diag *d)
{
    const char *path = o->ckpt_path;
    if (check_sample_options(o, d) != 0) return -1;
    Model model;
    if (model_load(&model, d, path, NULL) != 0) return -1;
    const IrModel *m = model.ir;
    int rc = -1;
    ExecModel *e = NULL;
    Cand *cand = NULL;
    int32_t *prime = NULL;
    Vocab v;
    if (session_vocab(&v, model.vocab, model.vocab_len, model.vocab_level, d) != 0) goto done;
    if (v.size == 0) {
        diag_error_in(d, path, "the model was not trained on text: there is nothing to sample");
        goto done;
    }
    if (m->layers[0].kind != IR_LAYER_INPUT_TOKENS || !m->layers[m->output].sequence) {
        diag_error_in(d, path, "sampling needs a model from tokens to per-step outputs");
        goto done;
    }
    e = model_exec(&model, 1, 1, d);
    if (!e) goto done;
    exec_set_grad_enabled(e, false);
    exec_set_frozen(e, true); /* nothing here changes the weights: token tables may be used */
    const char *pt = o->prime ? o->prime : "";
    prime = malloc((strlen(pt) + 1) * sizeof(int32_t));
    cand = malloc((size_t)v.size * sizeof *cand);
    if (!prime || !cand) {
        diag_error_in(d, path, "out of memory");
        goto done;
    }
    int np = sample_text_ids(&v, pt, "--prime", prime, d);
    if (np < 0) goto done;
    bool probs = m->layers[m->output].kind == IR_LAYER_SOFTMAX;
    rc = generate(e, &v, probs, pt, prime, np, o, cand, d);
done:
    free(prime);
    free(cand);
    data_vocab_free(&v);
    if (e) exec_free(e);
    model_free(&model);
    return rc;
}

/* The data files eval uses without --data: those the checkpoint ck records (found again and
 * checked), else NULL (the model's data block). */
static int recorded_data(const Checkpoint *ck, const char *path, char **data, char **valid,
                         Diag *d)
{
    *data = *valid = NULL;
    if (ck->data.present && datafile_find(&ck->data, path, data, d) != 0) return -1;
    if (ck->valid_data.present && datafile_find(&ck->valid_data, path, valid, d) != 0) return -1;
    return 0;
}

int eval_run(const EvalOptions *o, Diag *d)
{
    const char *path = o->ckpt_path;
    Model m;
    Session s;
    Checkpoint ck;
    char *data = NULL, *valid = NULL;
    if (model_load(&m, d, path, &ck) != 0)
        return -1;
    int found = o->data_path ? 0 : recorded_data(&ck, path, &data, &valid, d);
    bool recorded = ck.data.present;
    ckpt_free(&ck);
    if (found != 0) {
        free(data);
        free(valid);
        model_free(&m);
        return -1;
    }
    int open = session_open(&s, &m, NULL, o->data_path ? o->data_path : data, valid, 0, 0, true,
                            m.seed, o->data_path != NULL, d);
    free(data);
    free(valid);
    if (open != 0) {
        if (!o->data_path && !recorded)
            diag_help(diag_error_in(d, path, "no data to evaluate on: the model's data block "
                                             "cannot be used"),
                      "give the data with --data FILE (this checkpoint does not record its "
                      "training data)");
        return -1;
    }
    int rc = -1;
    double loss, acc;
    if (session_validate(&s, &loss, &acc, d) != 0) goto done;
    if (isnan(loss)) {
        diag_error_in(d, path, "there is no validation data (valid = 0); give --data FILE");
        goto done;
    }
    FILE *out = o->out ? o->out : stdout;
    const char *dname = s.ds.cfg.valid_path && !s.ds.cfg.eval_all ? s.ds.cfg.valid_path
                        : s.ds.cfg.path ? s.ds.cfg.path : "generated validation set";
    fprintf(out, "data: %s\n", dname);
    fprintf(out, "scored: %lld %s\n", (long long)s.valid_count,
            s.loss == EXEC_LOSS_XENT_TOKENS ? "tokens" : s.ds.cfg.kind == DATA_CSV ? "rows"
                                                                                 : "sequences");
    if (s.loss == EXEC_LOSS_MSE) {
        fprintf(out, "mse: %.6f\n", loss);
    } else {
        fprintf(out, "loss: %.6f nats\n", loss);
        if (s.loss == EXEC_LOSS_XENT_TOKENS) {
            fprintf(out, "bits per token: %.6f\n", loss / log(2.0));
            fprintf(out, "perplexity: %.4f\n", exp(loss));
        }
        if (!isnan(acc)) fprintf(out, "accuracy: %.4f\n", acc);
    }
    rc = 0;
done:
    session_free(&s);
    return rc;
}
