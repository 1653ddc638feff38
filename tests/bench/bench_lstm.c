/* bench_lstm: times one training step (and one inference step) of the character LSTM language
 * model of the reference harness tests/bench/torch_bench.py, composed from recur's kernels:
 *
 *   tokens [T][B] -> one-hot (I = V) or embedding(E) -> lstm(H) x L -> dense(V)
 *   -> cross-entropy (mean over T*B) -> backward -> Adam (src/train/optim)
 *
 * with the hidden state carried between windows (truncated BPTT), exactly as the harness does.
 * Reports seconds per step (min/median/max), tokens/s and GFLOP/s by the harness's nominal FLOP
 * count, OpenBLAS's own sgemm GFLOP/s on the shapes this model uses, and, when --torch CMD is
 * given, runs the PyTorch harness with the same configuration and prints the speed ratio.
 *
 * Usage: bench_lstm [--hidden 512] [--layers 2] [--batch 32] [--seq 100] [--vocab 65]
 *                   [--input onehot|embedding] [--embed E] [--threads 2] [--steps 10]
 *                   [--warmup 2] [--max-seconds 20] [--torch "PYTHON SCRIPT"]
 *                   [--torch-openblas openmp|pthread] [--clip C]
 * This is a benchmark, not a test: it is run by `make bench`, never by `make check`. */
#include <cblas.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "exec/kernels.h"
#include "util/diag.h"
#include "train/optim.h"
#include "util/rng.h"

typedef struct Config {
    int H, L, B, T, V, E, threads, steps, warmup;
    bool onehot;
    double max_seconds;
    double clip; /* global gradient-norm clip before Adam (0 = off), as the harness's --clip */
    const char *torch;
    const char *torch_blas; /* OpenBLAS build the harness loads: openmp (default), pthread */
} Config;

/* One LSTM layer's views into the flat parameter/gradient buffers, and its buffers. */
typedef struct Layer {
    int in;
    float *w_ih, *w_hh, *b_ih, *b_hh;     /* views into params */
    float *dw_ih, *dw_hh, *db_ih, *db_hh; /* views into grads */
    float *y, *dy, *cache, *work, *h, *c; /* y, dy [T][B][H]; h, c [B][H] carried state */
} Layer;

typedef struct Model {
    Config cfg;
    size_t nparams;
    float *params, *grads;
    float *emb, *demb, *wo, *bo, *dwo, *dbo; /* embedding [V][E]; output [V][H], [V] */
    Layer layer[8];
    float *x0, *dx0, *logits, *dlogits; /* x0 [T][B][I1]; logits [T*B][V] */
    float *dtmp;                          /* [T][B][H] scratch for a layer's input gradient */
    int32_t *tokens;                      /* pool of 8 windows, [8][T+1][B] */
    Optim opt;
} Model;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* CPU seconds used by this process (all threads). */
static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Busy CPU seconds of the whole machine so far (user nice system irq softirq of /proc/stat),
 * or -1 when unreadable: with cpu_now it tells how much other processes ran during a timing. */
static double machine_busy(void)
{
    FILE *f = fopen("/proc/stat", "r");
    unsigned long long v[8] = {0};
    int n = f ? fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2],
                       &v[3], &v[4], &v[5], &v[6], &v[7])
              : 0;
    if (f)
        fclose(f);
    long hz = sysconf(_SC_CLK_TCK);
    if (n < 7 || hz <= 0)
        return -1;
    return (double)(v[0] + v[1] + v[2] + v[5] + v[6]) / (double)hz;
}

static float *alloc_floats(size_t n)
{
    float *p = calloc(n ? n : 1, sizeof *p);
    if (!p) {
        fprintf(stderr, "bench_lstm: out of memory (%zu floats)\n", n);
        exit(1);
    }
    return p;
}

/* Builds the model with PyTorch's default initialisation ranges and a random token pool. */
static void model_init(Model *m, const Config *cfg)
{
    memset(m, 0, sizeof *m);
    m->cfg = *cfg;
    int H = cfg->H, V = cfg->V, I1 = cfg->onehot ? V : cfg->E;
    size_t tb = (size_t)cfg->T * cfg->B;
    size_t n = cfg->onehot ? 0 : (size_t)V * cfg->E;
    for (int l = 0; l < cfg->L; l++) {
        int in = l == 0 ? I1 : H;
        n += 4 * (size_t)H * (in + H + 2);
    }
    n += (size_t)V * H + V;
    m->nparams = n;
    m->params = alloc_floats(n);
    m->grads = alloc_floats(n);
    Rng rng;
    rng_seed(&rng, 1);
    float *p = m->params, *g = m->grads;
#define TAKE(dst, gdst, cnt, a)                                                                    \
    do {                                                                                       \
        dst = p, gdst = g;                                                                     \
        for (size_t i_ = 0; i_ < (size_t)(cnt); i_++)                                           \
            p[i_] = (float)((2 * rng_uniform(&rng) - 1) * (a));                                \
        p += (cnt), g += (cnt);                                                                \
    } while (0)
    if (!cfg->onehot)
        TAKE(m->emb, m->demb, (size_t)V * cfg->E, 1.0);
    float a = 1.0f / sqrtf((float)H);
    for (int l = 0; l < cfg->L; l++) {
        Layer *ly = &m->layer[l];
        ly->in = l == 0 ? I1 : H;
        TAKE(ly->w_ih, ly->dw_ih, 4 * (size_t)H * ly->in, a);
        TAKE(ly->w_hh, ly->dw_hh, 4 * (size_t)H * H, a);
        TAKE(ly->b_ih, ly->db_ih, 4 * (size_t)H, a);
        TAKE(ly->b_hh, ly->db_hh, 4 * (size_t)H, a);
        ly->y = alloc_floats(tb * H);
        ly->dy = alloc_floats(tb * H);
        ly->cache = alloc_floats(kern_lstm_cache_floats(cfg->T, cfg->B, H, true));
        ly->work = alloc_floats(kern_lstm_work_floats(cfg->T, cfg->B, H));
        ly->h = alloc_floats((size_t)cfg->B * H);
        ly->c = alloc_floats((size_t)cfg->B * H);
    }
    TAKE(m->wo, m->dwo, (size_t)V * H, a);
    TAKE(m->bo, m->dbo, (size_t)V, a);
#undef TAKE
    m->x0 = alloc_floats(tb * I1);
    m->dx0 = alloc_floats(tb * I1);
    m->logits = alloc_floats(tb * V);
    m->dlogits = alloc_floats(tb * V);
    m->tokens = malloc(8 * (tb + cfg->B) * sizeof *m->tokens);
    if (!m->tokens) {
        fprintf(stderr, "bench_lstm: out of memory\n");
        exit(1);
    }
    for (size_t i = 0; i < 8 * (tb + cfg->B); i++)
        m->tokens[i] = (int32_t)rng_below(&rng, (uint64_t)V);
    Diag d;
    diag_init(&d);
    OptimConfig oc = optim_defaults(OPTIM_ADAM);
    oc.lr = 2e-3;
    if (optim_init(&m->opt, &oc, (int64_t)n, &d) != 0) {
        diag_print(&d, stderr);
        exit(1);
    }
    diag_free(&d);
}

/* One window: forward (+ loss), and with train backward and an Adam update. Returns the loss. */
static double model_step(Model *m, int iter, bool train)
{
    const Config *c = &m->cfg;
    int T = c->T, B = c->B, H = c->H, V = c->V, I1 = c->onehot ? V : c->E;
    size_t tb = (size_t)T * B;
    const int32_t *win = m->tokens + (size_t)(iter % 8) * (tb + B);
    const int32_t *inp = win, *tgt = win + B; /* x = win[:-1], y = win[1:] */

    if (c->onehot) {
        memset(m->x0, 0, tb * I1 * sizeof *m->x0);
        for (size_t r = 0; r < tb; r++)
            m->x0[r * I1 + inp[r]] = 1.0f;
    } else {
        kern_embedding_forward(tb, c->E, inp, m->emb, m->x0);
    }
    const float *x = m->x0;
    for (int l = 0; l < c->L; l++) {
        Layer *ly = &m->layer[l];
        /* Truncated BPTT: the carried state enters as h0/c0 and is overwritten with hT/cT. */
        kern_lstm_forward((KernRecShape){T, B, ly->in, H, false}, train, x,
                          (KernStateIn){ly->h, ly->c},
                          (KernRecWeights){ly->w_ih, ly->w_hh, ly->b_ih, ly->b_hh}, ly->y,
                          (KernStateOut){ly->h, ly->c}, ly->cache);
        x = ly->y;
    }
    kern_dense_forward(tb, H, V, KERN_ACT_NONE, x, m->wo, m->bo, m->logits);
    double loss = 0;
    if (kern_xent_forward_backward(tb, V, m->logits, tgt, -100, NULL,
                                   train ? m->dlogits : NULL, &loss, NULL) != 0) {
        fprintf(stderr, "bench_lstm: bad target\n");
        exit(1);
    }
    if (!train)
        return loss;

    memset(m->grads, 0, m->nparams * sizeof *m->grads);
    Layer *top = &m->layer[c->L - 1];
    memset(top->dy, 0, tb * H * sizeof *top->dy);
    kern_dense_backward(tb, H, V, KERN_ACT_NONE, top->y, m->wo, m->logits, m->dlogits, top->dy,
                        m->dwo, m->dbo, NULL);
    for (int l = c->L - 1; l >= 0; l--) {
        Layer *ly = &m->layer[l];
        const float *xin = l == 0 ? m->x0 : m->layer[l - 1].y;
        float *dxin = NULL;
        if (l > 0) {
            dxin = m->layer[l - 1].dy;
            memset(dxin, 0, tb * H * sizeof *dxin);
        } else if (!c->onehot) {
            dxin = m->dx0;
            memset(dxin, 0, tb * I1 * sizeof *dxin);
        }
        kern_lstm_backward((KernRecShape){T, B, ly->in, H, false}, xin,
                           (KernRecWeights){ly->w_ih, ly->w_hh, NULL, NULL}, ly->cache, ly->dy,
                           (KernDStateIn){NULL, NULL}, dxin, (KernDStateOut){NULL, NULL},
                           (KernRecGrads){ly->dw_ih, ly->dw_hh, ly->db_ih, ly->db_hh},
                           ly->work);
    }
    if (!c->onehot)
        kern_embedding_backward(tb, c->E, inp, m->dx0, m->demb);
    if (c->clip > 0)
        optim_clip_grad_norm(m->grads, (int64_t)m->nparams, c->clip);
    optim_step(&m->opt, m->params, m->grads, 2e-3);
    return loss;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The harness's nominal FLOP count per token (dense GEMM work only). */
static double flops_per_token(const Config *c, bool train)
{
    int I1 = c->onehot ? c->V : c->E;
    double rec = 0;
    for (int l = 0; l < c->L; l++)
        rec += 2.0 * 4 * c->H * ((l == 0 ? I1 : c->H) + c->H);
    double out = 2.0 * c->H * c->V;
    return train ? 3 * rec + 3 * out : rec + out;
}

/* Times warmup + up to steps steps; prints a line and returns the median tokens/s (and the
 * best step's tokens/s in *best, the figure least disturbed by other processes). */
static double run_mode(Model *m, bool train, double *best)
{
    const Config *c = &m->cfg;
    for (int l = 0; l < c->L; l++) {
        memset(m->layer[l].h, 0, (size_t)c->B * c->H * sizeof(float));
        memset(m->layer[l].c, 0, (size_t)c->B * c->H * sizeof(float));
    }
    double first = 0, last = 0;
    for (int i = 0; i < c->warmup; i++) {
        last = model_step(m, i, train);
        if (i == 0)
            first = last;
    }
    double times[1000];
    int n = 0;
    double busy0 = machine_busy(), cpu0 = cpu_now();
    double start = now();
    while (n < c->steps && n < 1000) {
        double t0 = now();
        last = model_step(m, c->warmup + n, train);
        times[n++] = now() - t0;
        if (now() - start > c->max_seconds && n >= 3)
            break;
    }
    double wall = now() - start, own = cpu_now() - cpu0, busy1 = machine_busy();
    if (c->warmup == 0)
        first = last;
    qsort(times, (size_t)n, sizeof *times, cmp_double);
    double med = n % 2 ? times[n / 2] : 0.5 * (times[n / 2 - 1] + times[n / 2]);
    double tok = (double)c->B * c->T;
    double fps = flops_per_token(c, train) * tok;
    *best = tok / times[0];
    printf("recur %-5s lstm H=%d L=%d B=%d T=%d thr=%d: step min/med/max = %.1f/%.1f/%.1f ms "
           "(n=%d)  %.0f tok/s  %.1f GFLOP/s  (nominal %.2f GFLOP/step)  loss %.3f->%.3f\n",
           train ? "train" : "infer", c->H, c->L, c->B, c->T, c->threads, times[0] * 1e3,
           med * 1e3, times[n - 1] * 1e3, n, tok / med, fps / med * 1e-9, fps * 1e-9, first,
           last);
    if (busy0 >= 0 && busy1 >= 0)
        printf("      noise check: wall %.1fs, own cpu %.1fs, other processes ~%.2f cpu-s\n", wall,
               own, fmax(busy1 - busy0 - own, 0.0));
    return tok / med;
}

/* OpenBLAS sgemm GFLOP/s for C[M][N] = A[M][K] B[N][K]^T (or the given transposes). */
static double sgemm_gflops(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int M, int N, int K)
{
    float *A = alloc_floats((size_t)M * K), *Bm = alloc_floats((size_t)N * K);
    float *C = alloc_floats((size_t)M * N);
    for (size_t i = 0; i < (size_t)M * K; i++)
        A[i] = (float)(i % 7) * 0.01f;
    for (size_t i = 0; i < (size_t)N * K; i++)
        Bm[i] = (float)(i % 5) * 0.01f;
    int lda = ta == CblasNoTrans ? K : M, ldb = tb == CblasNoTrans ? N : K;
    int reps = 0;
    double t0 = now(), el = 0;
    do {
        cblas_sgemm(CblasRowMajor, ta, tb, M, N, K, 1.0f, A, lda, Bm, ldb, 0.0f, C, N);
        reps++;
        el = now() - t0;
    } while (el < 0.3 || reps < 3);
    free(A), free(Bm), free(C);
    return 2.0 * M * N * K * reps / el * 1e-9;
}

/* Runs the PyTorch harness command and returns its median tok/s (0 when unavailable); *best
 * receives B*T / its fastest step. */
static double run_torch(const Config *c, const char *mode, double *best)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "%s --hidden %d --layers %d --batch %d --seq %d --vocab %d --input %s --embed %d "
             "--threads %d --steps %d --warmup %d --max-seconds %g --mode %s --openblas %s --clip %g "
             "2>&1",
             c->torch, c->H, c->L, c->B, c->T, c->V, c->onehot ? "onehot" : "embedding",
             c->onehot ? 0 : c->E, c->threads, c->steps, c->warmup, c->max_seconds, mode,
             c->torch_blas, c->clip);
    FILE *f = popen(cmd, "r");
    if (!f)
        return 0;
    char line[8192];
    double tok = 0;
    *best = 0;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "RESULT ", 7) == 0) {
            const char *k = strstr(line, "\"tok_per_s\": ");
            if (k)
                tok = atof(k + 13);
            k = strstr(line, "\"t_min\": ");
            if (k && atof(k + 9) > 0)
                *best = (double)c->B * c->T / atof(k + 9);
        } else {
            printf("torch %s", line);
        }
    }
    pclose(f);
    return tok;
}

static void usage(void)
{
    fprintf(stderr, "usage: bench_lstm [--hidden H] [--layers L] [--batch B] [--seq T] "
                    "[--vocab V] [--input onehot|embedding] [--embed E] [--threads N] "
                    "[--steps N] [--warmup N] [--max-seconds S] [--torch CMD] "
                    "[--torch-openblas openmp|pthread] [--clip C]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    Config c = {.H = 512, .L = 2, .B = 32, .T = 100, .V = 65, .E = 0, .threads = 2,
                .steps = 10, .warmup = 2, .onehot = true, .max_seconds = 20, .torch = NULL,
                .torch_blas = "openmp"};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v)
            usage();
        i++;
        if (!strcmp(a, "--hidden")) c.H = atoi(v);
        else if (!strcmp(a, "--layers")) c.L = atoi(v);
        else if (!strcmp(a, "--batch")) c.B = atoi(v);
        else if (!strcmp(a, "--seq")) c.T = atoi(v);
        else if (!strcmp(a, "--vocab")) c.V = atoi(v);
        else if (!strcmp(a, "--embed")) c.E = atoi(v);
        else if (!strcmp(a, "--threads")) c.threads = atoi(v);
        else if (!strcmp(a, "--steps")) c.steps = atoi(v);
        else if (!strcmp(a, "--warmup")) c.warmup = atoi(v);
        else if (!strcmp(a, "--max-seconds")) c.max_seconds = atof(v);
        else if (!strcmp(a, "--input")) c.onehot = strcmp(v, "embedding") != 0;
        else if (!strcmp(a, "--clip")) c.clip = atof(v);
        else if (!strcmp(a, "--torch")) c.torch = v;
        else if (!strcmp(a, "--torch-openblas")) c.torch_blas = v;
        else usage();
    }
    if (c.E <= 0)
        c.E = c.H; /* the harness's default embedding width */
    if (c.H <= 0 || c.L <= 0 || c.L > 8 || c.B <= 0 || c.T <= 0 || c.V <= 1 || c.steps <= 0)
        usage();
    openblas_set_num_threads(c.threads);
    printf("# recur bench: %s  threads=%d  %s\n", openblas_get_config(), c.threads,
           c.onehot ? "input=onehot (dense I=V GEMM, as PyTorch executes it)" : "input=embedding");

    Model m;
    model_init(&m, &c);
    printf("# cell=lstm input=%s V=%d I1=%d H=%d L=%d B=%d T=%d params=%zu clip=%g\n",
           c.onehot ? "onehot" : "embedding", c.V, c.onehot ? c.V : c.E, c.H, c.L, c.B, c.T,
           m.nparams, c.clip);
    double best_train, best_infer;
    double ours_train = run_mode(&m, true, &best_train);
    double ours_infer = run_mode(&m, false, &best_infer);

    /* OpenBLAS alone on this model's GEMM shapes. */
    int G = 4 * c.H, TB = c.T * c.B;
    double g_proj = sgemm_gflops(CblasNoTrans, CblasTrans, TB, G, c.H);
    double g_step = sgemm_gflops(CblasNoTrans, CblasTrans, c.B, G, c.H);
    double g_wgrad = sgemm_gflops(CblasTrans, CblasNoTrans, G, c.H, TB);
    double g_bstep = sgemm_gflops(CblasNoTrans, CblasNoTrans, c.B, c.H, G);
    printf("# OpenBLAS sgemm GFLOP/s: window projection [%dx%d]x[%dx%d]^T %.1f | "
           "per-step [%dx%d]x[%dx%d]^T %.1f | weight grad K=%d %.1f | per-step backward %.1f\n",
           TB, c.H, G, c.H, g_proj, c.B, c.H, G, c.H, g_step, TB, g_wgrad, g_bstep);
    double our_gf = flops_per_token(&c, true) * ours_train * 1e-9;
    printf("# recur train %.1f GFLOP/s = %.0f%% of OpenBLAS's large-GEMM rate (%.1f)\n", our_gf,
           100 * our_gf / g_proj, g_proj);

    if (c.torch) {
        double tb_train, tb_infer;
        double t_train = run_torch(&c, "train", &tb_train);
        double t_infer = run_torch(&c, "infer", &tb_infer);
        if (t_train > 0)
            printf("RATIO train: recur %.0f tok/s / PyTorch %.0f tok/s = %.2fx (median steps); "
                   "best steps %.0f / %.0f = %.2fx\n", ours_train, t_train, ours_train / t_train,
                   best_train, tb_train, tb_train > 0 ? best_train / tb_train : 0.0);
        if (t_infer > 0)
            printf("RATIO infer: recur %.0f tok/s / PyTorch %.0f tok/s = %.2fx (median steps); "
                   "best steps %.0f / %.0f = %.2fx\n", ours_infer, t_infer, ours_infer / t_infer,
                   best_infer, tb_infer, tb_infer > 0 ? best_infer / tb_infer : 0.0);
        if (t_train <= 0)
            printf("# PyTorch harness did not report (no torch?)\n");
    }
    optim_free(&m.opt);
    return 0;
}
