/* bench_rnn: recur's executor against PyTorch and against oneDNN's bare primitives, from the
 * same run, for one configuration of the reference harness (tests/bench/torch_bench.py):
 *
 *   tokens [T][B] -> one-hot (I = V) or embedding(E) -> lstm|gru|rnn(H) x L -> dense(V)
 *   -> cross-entropy (mean) -> backward -> [clip] -> Adam
 *
 * recur: the model compiled from .rnn text and run by the executor (src/exec) with Adam
 * (src/train/optim), the hidden state carried between windows: the path `recur train` takes,
 * without data loading. bare oneDNN: the same recurrent layers alone as oneDNN primitives called
 * directly (weights reordered from PyTorch's layout every step; training: forward training,
 * backward, weight gradients reordered back), i.e. the machine's limit for those layers; recur's
 * share is its tokens/s over the bare layers' (the rest of recur's step -- embedding, the output
 * layer, the loss, Adam -- counts against it). Inference is recur's with gradients off (as in
 * `recur run` and evaluation: no training workspace, no loss gradient), the bare layers' forward
 * inference primitives. PyTorch: the harness, run from here.
 *
 * recur's steps and the bare layers' steps are timed in turn, one of each at a time, so load
 * changes hit both alike. Prints per mode (train, infer) the median tokens/s of each, the
 * ratios, the ISA oneDNN uses, recur's peak memory (VmHWM before the bare layers exist) and CPU
 * time other processes used meanwhile (the machine is shared: compare ratios from one run
 * only).
 *
 * --cell peephole runs a user cell instead, the peephole LSTM of models/peephole.rnn (on the cell
 * interpreter, as every user cell), against --torch tests/bench/torch_peephole.py (the same cell
 * as a PyTorch Python loop); it has no bare oneDNN layers.
 *
 * Usage: bench_rnn [--cell lstm|gru|rnn|peephole] [--hidden 512] [--layers 2] [--batch 32] [--seq 100]
 *                  [--vocab 65] [--input onehot|embedding] [--embed E] [--threads 2]
 *                  [--steps 10] [--warmup 2] [--max-seconds 20] [--clip C] [--engine onednn|own]
 *                  [--torch "PYTHON SCRIPT"] [--no-bare]
 * Thread counts are compared one process each (bench.sh part 5): oneDNN's forward inference keeps
 * running on the threads of the process's first calls when OpenMP's count is lowered later (at
 * 1 thread after 2, LSTM H512 L2 inference took 126 ms a window on two cores and 257 ms pinned
 * to one, where a process at 1 thread took 226 ms), so an in-process comparison is not one.
 * A benchmark, not a test: run by `make bench`, never by `make check`. */
#include "config.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "exec/dnnl_rnn.h"
#include "exec/exec.h"
#include "lang/sema.h"
#include "train/optim.h"
#include "util/diag.h"
#include "util/rng.h"

#ifdef HAVE_DNNL
#include <oneapi/dnnl/dnnl.h>
#endif

typedef struct Config {
    const char *cell;
    int H, L, B, T, V, E, threads, steps, warmup;
    bool onehot, own, bare;
    double max_seconds, clip;
    const char *torch;
} Config;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* CPU seconds of this process / busy CPU seconds of the machine (from /proc/stat; -1 when
 * unreadable): together, how much other processes ran during a timing. */
static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}
static double machine_busy(void)
{
    FILE *f = fopen("/proc/stat", "r");
    unsigned long long v[8] = { 0 };
    int n = f ? fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2],
                       &v[3], &v[4], &v[5], &v[6], &v[7])
              : 0;
    if (f)
        fclose(f);
    long hz = sysconf(_SC_CLK_TCK);
    return n < 7 || hz <= 0 ? -1 : (double)(v[0] + v[1] + v[2] + v[5] + v[6]) / (double)hz;
}

/* Peak resident memory of this process so far in MB (VmHWM), or -1. */
static double peak_mb(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    double kb = -1;
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, "VmHWM:", 6) == 0)
            kb = atof(line + 6);
    if (f)
        fclose(f);
    return kb < 0 ? -1 : kb / 1024;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Times fa(a, i) and, when b is not NULL, fb(b, i) step by step in turn (so a change of machine
 * load hits both alike): warmup + up to steps calls each, stopping after max_seconds (never
 * before 3). Median seconds into med[0], med[1]; *other gets the CPU seconds other processes
 * used meanwhile. */
static void time_pair(const Config *c, void (*fa)(void *, int), void *a, void (*fb)(void *, int),
                      void *b, double med[2], double *other)
{
    for (int i = 0; i < c->warmup; i++) {
        fa(a, i);
        if (b)
            fb(b, i);
    }
    static double times[2][1000];
    double start = now(), busy0 = machine_busy(), cpu0 = cpu_now();
    int n = 0;
    while (n < c->steps && n < 1000) {
        double t0 = now();
        fa(a, c->warmup + n);
        double t1 = now();
        if (b)
            fb(b, c->warmup + n);
        times[0][n] = t1 - t0, times[1][n++] = now() - t1;
        if (now() - start > c->max_seconds && n >= 3)
            break;
    }
    double busy1 = machine_busy(), own = cpu_now() - cpu0;
    *other = busy0 >= 0 && busy1 >= 0 ? fmax(busy1 - busy0 - own, 0.0) : -1;
    for (int k = 0; k < 2; k++) {
        qsort(times[k], (size_t)n, sizeof **times, cmp_double);
        med[k] = n % 2 ? times[k][n / 2] : 0.5 * (times[k][n / 2 - 1] + times[k][n / 2]);
    }
}

/* ---- recur ------------------------------------------------------------------------------- */

typedef struct Recur {
    const Config *c;
    IrModel *m;
    ExecModel *e;
    Optim opt;
    int32_t *tokens; /* a pool of 8 windows [8][T+1][B] */
    Diag d;
} Recur;

/* Dies with the diagnostics (a benchmark has nobody to return to). */
static void die(Diag *d, const char *what)
{
    diag_print(d, stderr);
    fprintf(stderr, "bench_rnn: %s failed\n", what);
    exit(1);
}

/* The peephole LSTM of models/peephole.rnn (the user-cell row). */
static const char peephole_cell[] =
    "cell peephole(H) {\n"
    "  input x : [I]\n"
    "  state h : [H], c : [H]\n"
    "  param W : [4*H, I], U : [4*H, H] = uniform(-0.08, 0.08)\n"
    "  param b : [4*H] = 0\n"
    "  param p_i : [H], p_f : [H], p_o : [H] = 0\n"
    "  zi, zf, zg, zo = chunk(W @ x + U @ h[t-1] + b, 4)\n"
    "  i = sigmoid(zi + p_i * c[t-1])\n"
    "  f = sigmoid(zf + p_f * c[t-1])\n"
    "  c = f * c[t-1] + i * tanh(zg)\n"
    "  o = sigmoid(zo + p_o * c)\n"
    "  h = o * tanh(c)\n"
    "  output h\n"
    "}\n";

/* Compiles the configuration's model, its executor, Adam and a random token pool. */
static void recur_init(Recur *r, const Config *c)
{
    memset(r, 0, sizeof *r);
    r->c = c;
    diag_init(&r->d);
    char text[4096], in[64] = "onehot", rec[1024] = "";
    if (!c->onehot)
        snprintf(in, sizeof in, "embedding(%d)", c->E);
    bool user = !strcmp(c->cell, "peephole");
    for (int l = 0; l < (user ? c->L : 1) && strlen(rec) + 64 < sizeof rec; l++) /* no layers= */
        snprintf(rec + strlen(rec), sizeof rec - strlen(rec),
                 user ? "  %s(%d)\n" : "  %s(%d, layers=%d)\n", c->cell, c->H, c->L);
    snprintf(text, sizeof text,
             "format 1\n%smodel bench {\n  input tokens(vocab=%d)\n  %s\n%s  dense(vocab)\n}\n",
             user ? peephole_cell : "", c->V, in, rec);
    const Source *src = diag_add_source(&r->d, "bench.rnn", text, strlen(text));
    if (!src || !(r->m = sema_compile(&r->d, src, NULL, 0)))
        die(&r->d, "compiling the model");
    if (!(r->e = exec_create(r->m, c->B, c->T, &r->d)))
        die(&r->d, "creating the executor");
    exec_set_onednn(r->e, !c->own);
    Rng rng;
    rng_seed(&rng, 1);
    if (exec_init_params(r->e, &rng, &r->d))
        die(&r->d, "initialising");
    OptimConfig oc = optim_defaults(OPTIM_ADAM);
    oc.lr = 2e-3;
    if (optim_init(&r->opt, &oc, exec_nparams(r->e), &r->d))
        die(&r->d, "Adam");
    size_t n = 8 * (size_t)(c->T + 1) * c->B;
    if (!(r->tokens = malloc(n * sizeof *r->tokens)))
        die(&r->d, "allocating");
    for (size_t i = 0; i < n; i++)
        r->tokens[i] = (int32_t)rng_below(&rng, (uint64_t)c->V);
}

/* One window i: forward and loss; training adds backward, clipping and Adam. */
static void recur_step(Recur *r, int i, bool train)
{
    const Config *c = r->c;
    const int32_t *win = r->tokens + (size_t)(i % 8) * (c->T + 1) * c->B;
    ExecInput in = { .T = c->T, .tokens = win };
    ExecTarget t = { .kind = EXEC_LOSS_XENT_TOKENS, .ids = win + c->B };
    double loss;
    exec_set_grad_enabled(r->e, train); /* inference keeps no tape, as recur run does */
    if (train)
        exec_zero_grads(r->e);
    if (exec_forward(r->e, &in, train, &r->d) || exec_loss(r->e, &t, &loss, &r->d) ||
        (train && exec_backward(r->e, &r->d)))
        die(&r->d, "a step");
    if (!train)
        return;
    if (c->clip > 0)
        optim_clip_grad_norm(exec_grads(r->e), exec_nparams(r->e), c->clip);
    optim_step(&r->opt, exec_params(r->e), exec_grads(r->e), 2e-3);
}
static void recur_train_fn(void *r, int i) { recur_step(r, i, true); }
static void recur_infer_fn(void *r, int i) { recur_step(r, i, false); }

#include "bench_rnn_bare.h"

/* Times recur's training and inference steps, and with c->bare the bare oneDNN layers in turn
 * with them: tokens/s into ours[mode], bare[mode] (mode 0 train, 1 infer; bare 0 when not
 * timed). */
static void run_recur(const Config *c, double ours[2], double bare[2])
{
    Recur r;
    recur_init(&r, c);
    recur_step(&r, 0, true); /* every buffer of recur's is allocated by now: its peak memory */
    exec_set_grad_enabled(r.e, false);
    recur_step(&r, 0, false);
    double peak = peak_mb();
    void *b = c->bare ? bare_new(c) : NULL;
    for (int mode = 0; mode < 2; mode++) {
        exec_set_grad_enabled(r.e, mode == 0);
        exec_reset_state(r.e);
        double med[2], other;
        time_pair(c, mode == 0 ? recur_train_fn : recur_infer_fn, &r,
                  mode == 0 ? bare_train_fn : bare_infer_fn, b, med, &other);
        ours[mode] = c->B * c->T / med[0];
        bare[mode] = b ? c->B * c->T / med[1] : 0;
        printf("recur %-5s %s H=%d L=%d B=%d T=%d threads=%d engine=%s: %.1f ms/step, "
               "%.0f tok/s", mode ? "infer" : "train", c->cell, c->H, c->L, c->B, c->T,
               c->threads, c->own ? "own" : "onednn", med[0] * 1e3, ours[mode]);
        if (b)
            printf("; bare oneDNN layers, in turn: %.1f ms/step, %.0f tok/s", med[1] * 1e3,
                   bare[mode]);
        printf(" (other processes: %.1f cpu-s)\n", other);
    }
    printf("recur peak memory (VmHWM after a training and an inference step): %.0f MB\n", peak);
    optim_free(&r.opt);
    free(r.tokens);
    exec_free(r.e);
    ir_model_free(r.m);
    diag_free(&r.d);
}

/* ---- PyTorch ----------------------------------------------------------------------------- */

/* Runs the harness in mode and returns its median tok/s (0 when it did not report). */
static double run_torch(const Config *c, const char *mode)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "%s --cell %s --hidden %d --layers %d --batch %d --seq %d --vocab %d --input %s "
             "--embed %d --threads %d --steps %d --warmup %d --max-seconds %g --mode %s "
             "--clip %g 2>&1", c->torch, c->cell, c->H, c->L, c->B, c->T, c->V,
             c->onehot ? "onehot" : "embedding", c->onehot ? 0 : c->E, c->threads, c->steps,
             c->warmup, c->max_seconds, mode, c->clip);
    FILE *f = popen(cmd, "r");
    char line[8192];
    double tok = 0;
    while (f && fgets(line, sizeof line, f)) {
        const char *k = strstr(line, "\"tok_per_s\": ");
        if (strncmp(line, "RESULT ", 7) == 0 && k)
            tok = atof(k + 13);
    }
    if (f)
        pclose(f);
    return tok;
}

static void usage(void)
{
    fprintf(stderr, "usage: bench_rnn [--cell lstm|gru|rnn|peephole] [--hidden H] [--layers L] "
                    "[--batch B] [--seq T] [--vocab V] [--input onehot|embedding] [--embed E] "
                    "[--threads N] [--steps N] [--warmup N] [--max-seconds S] [--clip C] "
                    "[--engine onednn|own] [--torch CMD] [--no-bare]\n");
    exit(2);
}

/* Reads the command line into c. */
static void parse(int argc, char **argv, Config *c)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--no-bare")) {
            c->bare = false;
            continue;
        }
        if (!v)
            usage();
        i++;
        if (!strcmp(a, "--cell")) c->cell = v;
        else if (!strcmp(a, "--hidden")) c->H = atoi(v);
        else if (!strcmp(a, "--layers")) c->L = atoi(v);
        else if (!strcmp(a, "--batch")) c->B = atoi(v);
        else if (!strcmp(a, "--seq")) c->T = atoi(v);
        else if (!strcmp(a, "--vocab")) c->V = atoi(v);
        else if (!strcmp(a, "--embed")) c->E = atoi(v);
        else if (!strcmp(a, "--threads")) c->threads = atoi(v);
        else if (!strcmp(a, "--steps")) c->steps = atoi(v);
        else if (!strcmp(a, "--warmup")) c->warmup = atoi(v);
        else if (!strcmp(a, "--max-seconds")) c->max_seconds = atof(v);
        else if (!strcmp(a, "--input")) c->onehot = strcmp(v, "embedding") != 0;
        else if (!strcmp(a, "--clip")) c->clip = atof(v);
        else if (!strcmp(a, "--engine")) c->own = strcmp(v, "own") == 0;
        else if (!strcmp(a, "--torch")) c->torch = v;
        else usage();
    }
    if (c->E <= 0)
        c->E = c->H; /* the harness's default embedding width */
    if (c->H <= 0 || c->L <= 0 || c->B <= 0 || c->T <= 0 || c->V <= 1 || c->steps <= 0 ||
        c->threads <= 0 || (strcmp(c->cell, "lstm") && strcmp(c->cell, "gru") &&
                            strcmp(c->cell, "rnn") && strcmp(c->cell, "peephole")))
        usage();
    if (!strcmp(c->cell, "peephole"))
        c->bare = false; /* oneDNN has no such cell */
}

int main(int argc, char **argv)
{
    exec_omp_setup(argv); /* OpenMP wait policy (exec.h): may run the program again */
    Config c = { .cell = "lstm", .H = 512, .L = 2, .B = 32, .T = 100, .V = 65, .threads = 2,
                 .steps = 10, .warmup = 2, .onehot = true, .bare = true, .max_seconds = 20 };
    parse(argc, argv, &c);
    exec_set_threads(c.threads);
    char up[256] = "";
    FILE *f = fopen("/proc/loadavg", "r");
    if (f && !fgets(up, sizeof up, f))
        up[0] = 0;
    if (f)
        fclose(f);
    const char *isa = getenv("DNNL_MAX_CPU_ISA"), *wp = getenv("OMP_WAIT_POLICY"),
               *sc = getenv("GOMP_SPINCOUNT");
    printf("# oneDNN ISA: %s (DNNL_MAX_CPU_ISA=%s)  threads %d  OMP_WAIT_POLICY=%s "
           "GOMP_SPINCOUNT=%s  load average %s", onednn_isa(), isa ? isa : "unset", c.threads,
           wp ? wp : "unset", sc ? sc : "unset", up);
    double ours[2], bare[2] = { 0, 0 }, torch[2] = { 0, 0 };
    run_recur(&c, ours, bare);
    for (int mode = 0; c.torch && mode < 2; mode++)
        torch[mode] = run_torch(&c, mode ? "infer" : "train");
    for (int mode = 0; mode < 2; mode++) {
        printf("RESULT %s %s H=%d L=%d B=%d T=%d threads=%d: recur %.0f tok/s", mode ? "infer"
               : "train", c.cell, c.H, c.L, c.B, c.T, c.threads, ours[mode]);
        if (torch[mode] > 0)
            printf(" | PyTorch %.0f (recur %.2fx)", torch[mode], ours[mode] / torch[mode]);
        if (bare[mode] > 0)
            printf(" | bare oneDNN layers in turn %.0f (recur's share %.0f%%)", bare[mode],
                   100 * ours[mode] / bare[mode]);
        printf("\n");
    }
    return 0;
}
