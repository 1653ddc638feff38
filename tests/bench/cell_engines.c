/* cell_engines: one LSTM cell over a window on recur's own fused kernel (kernels.h) against
 * oneDNN's primitive (dnnl_rnn.h), for the window shapes near the executor's switch between
 * them: the measurement behind EXEC_ONEDNN_MIN_ROWS (exec.h) and ONEDNN_RNN_PAR_MIN
 * (dnnl_rnn.h). Each shape (B streams, T steps): 15 rounds, each round timing both engines in
 * turn (so machine load hits both alike) for at least 10 ms each (at 1 thread: CPU time of the
 * thread, so a shared machine's other processes do not count); prints the median time per
 * window of each, training (forward with cache + backward) and inference (forward), and the
 * ratio own / oneDNN (above 1: oneDNN faster); at more than 1 thread also the CPU time of all
 * threads (against the 1-thread figures: what the extra threads cost in hand-offs, which on a
 * shared machine is measurable where wall time is not).
 *
 * Usage: cell_engines [THREADS [H [IN [BxT ...]]]]  (default 1 thread, H 128, IN 32, and a list
 * of small windows; built by `make tests/bench/cell_engines`; needs oneDNN). A benchmark, not a
 * test. At more than 1 thread set OMP_WAIT_POLICY=PASSIVE or GOMP_SPINCOUNT=3000 as recur does
 * (exec_omp_setup): libgomp's default long spin burns CPU time while the other thread waits. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "exec/dnnl_rnn.h"
#include "exec/kernels.h"

/* The clock: at 1 thread this thread's CPU time (immune to the other processes of a shared
 * machine, which only take turns with it), else wall time; cpu_now is the process's CPU time,
 * all threads together (at N threads: N times the wall time when none waits). */
static clockid_t clk = CLOCK_MONOTONIC;
static double clock_s(clockid_t c)
{
    struct timespec t;
    clock_gettime(c, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}
static double now(void) { return clock_s(clk); }
static double cpu_now(void) { return clock_s(CLOCK_PROCESS_CPUTIME_ID); }

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* n floats, small deterministic values. */
static float *vals(size_t n, float a)
{
    float *p = malloc(n * sizeof *p);
    for (size_t i = 0; p && i < n; i++)
        p[i] = a * ((float)((i * 2654435761u) % 2001) / 1000.0f - 1.0f);
    if (!p)
        exit(1);
    return p;
}

typedef struct Cell {
    int T, B, In, H;
    float *x, *wih, *whh, *b, *y, *dy, *dx, *dwih, *dwhh, *db, *cache, *work;
    OnednnRnn *r;
} Cell;

/* One window on engine dn (oneDNN) or own, training or not; seconds per window over >= 10 ms,
 * and the process's CPU seconds per window into *cpu. */
static double window(Cell *c, int dn, int train, double *cpu)
{
    KernRecShape sh = { c->T, c->B, c->In, c->H, false };
    KernStateIn s0 = { NULL, NULL };
    KernStateOut sT = { NULL, NULL };
    KernDStateIn dsT = { NULL, NULL };
    KernDStateOut ds0 = { NULL, NULL };
    KernRecWeights w = { c->wih, c->whh, c->b, c->b };
    KernRecGrads g = { c->dwih, c->dwhh, c->db, c->db };
    Diag d;
    diag_init(&d);
    int reps = 0;
    double t0 = now(), c0 = cpu_now(), el;
    do {
        if (dn) {
            if (onednn_rnn_forward(c->r, c->T, train, c->x, s0, w, c->y, sT, &d) ||
                (train && onednn_rnn_backward(c->r, c->x, w, c->y, c->dy, dsT, c->dx, false,
                                              ds0, g, &d))) {
                diag_print(&d, stderr);
                exit(1);
            }
        } else {
            kern_lstm_forward(sh, train, c->x, s0, w, c->y, sT, c->cache);
            if (train)
                kern_lstm_backward(sh, c->x, w, c->cache, c->dy, dsT, c->dx, ds0, g, c->work);
        }
        reps++;
    } while ((el = now() - t0) < 0.01);
    *cpu = (cpu_now() - c0) / reps;
    diag_free(&d);
    return el / reps;
}

/* Times both engines on B x T; prints one line per mode. */
static void shape(int threads, int B, int T, int In, int H)
{
    Cell c = { .T = T, .B = B, .In = In, .H = H };
    size_t tb = (size_t)T * B, gh = 4 * (size_t)H;
    c.x = vals(tb * In, 1), c.wih = vals(gh * In, 0.1f), c.whh = vals(gh * H, 0.1f);
    c.b = vals(gh, 0.1f), c.y = vals(tb * H, 1), c.dy = vals(tb * H, 1), c.dx = vals(tb * In, 1);
    c.dwih = vals(gh * In, 1), c.dwhh = vals(gh * H, 1), c.db = vals(gh, 1);
    c.cache = vals(kern_lstm_cache_floats(T, B, H, true), 0);
    c.work = vals(kern_lstm_work_floats(T, B, H), 0);
    Diag d;
    diag_init(&d);
    if (!(c.r = onednn_rnn_create(ONEDNN_LSTM, B, In, H, false, &d))) {
        diag_print(&d, stderr);
        exit(1);
    }
    for (int train = 1; train >= 0; train--) {
        double t[2][15], cpu[2][15];
        for (int k = 0; k < 15; k++)
            for (int dn = 0; dn < 2; dn++)
                t[dn][k] = window(&c, dn, train, &cpu[dn][k]);
        for (int dn = 0; dn < 2; dn++) {
            qsort(t[dn], 15, sizeof(double), cmp);
            qsort(cpu[dn], 15, sizeof(double), cmp);
        }
        printf("lstm H %d In %d B %2d T %3d (%4d rows, %5.2fM MACs/step) %s threads %d: own "
               "%8.1f us, oneDNN %8.1f us, own/oneDNN %.2f", H, In, B, T, B * T,
               4.0 * B * H * (In + H) / 1e6, train ? "train" : "infer", threads, t[0][7] * 1e6,
               t[1][7] * 1e6, t[0][7] / t[1][7]);
        if (threads > 1)
            printf("; CPU time of all threads: own %.1f us, oneDNN %.1f us", cpu[0][7] * 1e6,
                   cpu[1][7] * 1e6);
        printf("\n");
    }
    onednn_rnn_free(c.r);
    float *bufs[] = { c.x, c.wih, c.whh, c.b, c.y, c.dy, c.dx, c.dwih, c.dwhh, c.db, c.cache,
                      c.work };
    for (size_t k = 0; k < sizeof bufs / sizeof *bufs; k++)
        free(bufs[k]);
    diag_free(&d);
}

int main(int argc, char **argv)
{
    int threads = argc > 1 ? atoi(argv[1]) : 1, H = argc > 2 ? atoi(argv[2]) : 128;
    int In = argc > 3 ? atoi(argv[3]) : 32;
    if (!onednn_available() || threads < 1 || H < 1 || In < 1) {
        fprintf(stderr, "usage: cell_engines [THREADS [H [IN]]] (needs oneDNN)\n");
        return 2;
    }
    onednn_set_threads(threads);
    if (threads == 1)
        clk = CLOCK_THREAD_CPUTIME_ID;
    printf("# oneDNN ISA %s; %s\n", onednn_isa(),
           threads == 1 ? "CPU time of this thread" : "wall time");
    static const int shapes[][2] = { { 1, 8 }, { 1, 16 }, { 1, 32 }, { 1, 64 }, { 2, 8 },
                                     { 2, 16 }, { 4, 4 }, { 4, 8 }, { 4, 16 }, { 8, 4 },
                                     { 8, 8 }, { 16, 2 }, { 16, 4 }, { 32, 1 }, { 32, 4 } };
    for (int k = 4; k < argc; k++) {
        int B, T;
        if (sscanf(argv[k], "%dx%d", &B, &T) == 2 && B > 0 && T > 0)
            shape(threads, B, T, In, H);
    }
    for (size_t k = 0; argc <= 4 && k < sizeof shapes / sizeof *shapes; k++)
        shape(threads, shapes[k][0], shapes[k][1], In, H);
    return 0;
}
