/* test_optim: every optimiser against PyTorch 1.13 values (pinned from tests/gen_optim_ref.py),
 * the SGD/Adam formulas recomputed in double, clipping to the exact threshold, schedules, and
 * exact save/restore of optimiser state. */
#include <math.h>
#include <stdlib.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "train/optim.h"

#define N 6
static const float P0[N] = {0.5f, -1.25f, 2.0f, 0.125f, -0.75f, 3.0f};
static const float C[N] = {1.0f, 2.0f, 0.5f, 4.0f, 1.5f, 0.25f};

/* Gradient of 0.5*sum(c*(p-1)^2): g = c*(p-1), written into g [N]. */
static void quad_grad(const float *p, float *g)
{
    for (int i = 0; i < N; i++)
        g[i] = C[i] * (p[i] - 1.0f);
}

/* Runs `steps` updates of cfg from P0 at constant lr; p [N] receives the result. */
static void run(const OptimConfig *cfg, int steps, float *p)
{
    Diag d;
    diag_init(&d);
    Optim o;
    assert_int_equal(optim_init(&o, cfg, N, &d), 0);
    memcpy(p, P0, sizeof P0);
    float g[N];
    for (int s = 0; s < steps; s++) {
        quad_grad(p, g);
        optim_step(&o, p, g, cfg->lr);
    }
    assert_int_equal((int)o.t, steps);
    optim_free(&o);
    diag_free(&d);
}

static void expect_close(const float *p, const double *ref, double tol)
{
    for (int i = 0; i < N; i++) {
        if (fabs(p[i] - ref[i]) > tol * (1 + fabs(ref[i])))
            fail_msg("element %d: got %.9g, expected %.9g", i, p[i], ref[i]);
    }
}

typedef struct Case {
    const char *name;
    OptimConfig cfg;
    double ref[N];      /* PyTorch after 7 steps */
} Case;

static Case make_case(const char *name, OptimKind k, double lr, double mom, bool nest,
                      double b1, double b2, double wd, const double ref[N])
{
    Case c = {name, optim_defaults(k), {0}};
    c.cfg.lr = lr;
    c.cfg.momentum = mom;
    c.cfg.nesterov = nest;
    if (b1 >= 0) c.cfg.beta1 = b1;
    if (b2 >= 0) c.cfg.beta2 = b2;
    if (wd >= 0) c.cfg.weight_decay = wd;
    memcpy(c.ref, ref, sizeof c.ref);
    return c;
}

/* The values printed by tests/gen_optim_ref.py (torch 1.13, float32). */
static void test_against_pytorch(void **state)
{
    (void)state;
    static const double r_sgd[N] = {0.760851622, 0.528140783, 1.69833732, 0.97550559,
                                    0.438990086, 2.67518306};
    static const double r_sgdm[N] = {0.952140927, 1.98107719, 1.46626949, 1.59279799,
                                     1.38274455, 2.42402482};
    static const double r_nest[N] = {0.902240813, 1.34638977, 1.52551079, 1.18282199,
                                     1.03857923, 2.48492742};
    static const double r_adam[N] = {1.10978878, -0.557005048, 1.32342064, 0.795398355,
                                     -0.0598611832, 2.30819964};
    static const double r_adamwd[N] = {0.824436486, -0.902894795, 1.65602183, 0.466067791,
                                       -0.403905153, 2.65277863};
    static const double r_adamw[N] = {0.817055583, -0.863793433, 1.59143853, 0.460732371,
                                      -0.381503642, 2.55408144};
    static const double r_rms[N] = {0.827828646, -0.860150099, 1.63023758, 0.489204049,
                                    -0.36452508, 2.61204839};
    static const double r_rmsm[N] = {1.29249895, 0.145916775, 0.748100996, 1.29151154,
                                     0.608234882, 1.60743761};
    Case cases[] = {
        make_case("sgd", OPTIM_SGD, 0.1, 0, false, -1, -1, 0, r_sgd),
        make_case("sgd momentum wd", OPTIM_SGD, 0.05, 0.9, false, -1, -1, 0.01, r_sgdm),
        make_case("sgd nesterov", OPTIM_SGD, 0.05, 0.8, true, -1, -1, 0, r_nest),
        make_case("adam", OPTIM_ADAM, 0.1, 0, false, -1, -1, 0, r_adam),
        make_case("adam wd", OPTIM_ADAM, 0.05, 0, false, 0.8, 0.99, 0.1, r_adamwd),
        make_case("adamw", OPTIM_ADAMW, 0.05, 0, false, -1, -1, 0.1, r_adamw),
        make_case("rmsprop", OPTIM_RMSPROP, 0.01, 0, false, -1, -1, 0, r_rms),
        make_case("rmsprop momentum wd", OPTIM_RMSPROP, 0.01, 0.9, false, -1, -1, 0.05, r_rmsm),
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        float p[N];
        run(&cases[k].cfg, 7, p);
        print_message("%s\n", cases[k].name);
        expect_close(p, cases[k].ref, 2e-6);
    }
}

/* Adam recomputed in double from the closed form, 25 steps, with L2 weight decay. */
static void test_adam_closed_form(void **state)
{
    (void)state;
    OptimConfig cfg = optim_defaults(OPTIM_ADAM);
    cfg.lr = 0.03;
    cfg.weight_decay = 0.02;
    float p[N];
    run(&cfg, 25, p);
    double q[N], m[N] = {0}, v[N] = {0};
    for (int i = 0; i < N; i++)
        q[i] = P0[i];
    for (int t = 1; t <= 25; t++) {
        for (int i = 0; i < N; i++) {
            double g = C[i] * (q[i] - 1) + 0.02 * q[i];
            m[i] = 0.9 * m[i] + 0.1 * g;
            v[i] = 0.999 * v[i] + 0.001 * g * g;
            double mh = m[i] / (1 - pow(0.9, t)), vh = v[i] / (1 - pow(0.999, t));
            q[i] -= 0.03 * mh / (sqrt(vh) + 1e-8);
        }
    }
    expect_close(p, q, 1e-5);
}

/* Adam and AdamW over M parameters with and without weight decay, checked bit for bit against
 * the scalar float formula of optim_update.h: M = 37 (two whole 16-lane blocks of
 * optim_update.c and a tail, on one thread) and M = 5003 (enough work to be split across the
 * threads, in whole blocks, at 1, 2 and 3 threads: the result must not depend on the count). */
static void adam_blocks_case(int M, OptimKind kind, double wd_cfg)
{
    enum { STEPS = 4 };
    OptimConfig cfg = optim_defaults(kind);
    cfg.lr = 0.01;
    cfg.weight_decay = wd_cfg;
    Diag d;
    diag_init(&d);
    Optim o;
    assert_int_equal(optim_init(&o, &cfg, M, &d), 0);
    float *p = calloc(5 * (size_t)M, sizeof(float));
    assert_non_null(p);
    float *g = p + M, *q = g + M, *m = q + M, *v = m + M;
    for (int i = 0; i < M; i++)
        p[i] = q[i] = (float)(i % 9) * 0.25f - 1.0f;
    for (int t = 1; t <= STEPS; t++) {
        for (int i = 0; i < M; i++)
            g[i] = (float)((i * 7 + t) % 11) * 0.1f - 0.5f;
        optim_step(&o, p, g, cfg.lr);
        float wd = (float)cfg.weight_decay, eps = (float)cfg.eps;
        double lr = (float)cfg.lr; /* optim_step hands Adam the rate as a float */
        float step = (float)(lr / (1.0 - pow(cfg.beta1, t)));
        float bc2 = (float)sqrt(1.0 - pow(cfg.beta2, t));
        for (int i = 0; i < M; i++) {
            float gi = g[i];
            if (kind == OPTIM_ADAMW && wd != 0)
                q[i] = q[i] * (float)(1.0 - lr * cfg.weight_decay);
            else if (wd != 0)
                gi = gi + wd * q[i];
            m[i] = (float)cfg.beta1 * m[i] + (float)(1.0 - cfg.beta1) * gi;
            v[i] = (float)cfg.beta2 * v[i] + (float)(1.0 - cfg.beta2) * (gi * gi);
            q[i] = q[i] - step * (m[i] / (sqrtf(v[i]) / bc2 + eps));
        }
    }
    for (int i = 0; i < M; i++)
        if (p[i] != q[i] || o.m[i] != m[i] || o.v[i] != v[i])
            fail_msg("M %d, kind %d, wd %g, element %d: p %.9g vs %.9g", M, (int)kind, wd_cfg, i,
                     p[i], q[i]);
    free(p);
    optim_free(&o);
    diag_free(&d);
}

static void test_adam_blocks(void **state)
{
    (void)state;
    const struct { OptimKind k; double wd; } cases[] = {
        { OPTIM_ADAM, 0 }, { OPTIM_ADAM, 0.02 }, { OPTIM_ADAMW, 0.02 } };
    for (int th = 1; th <= 3; th++) {
#ifdef _OPENMP
        omp_set_num_threads(th);
#endif
        for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
            adam_blocks_case(37, cases[c].k, cases[c].wd);
            adam_blocks_case(5003, cases[c].k, cases[c].wd);
        }
    }
}

/* SGD with Nesterov momentum recomputed in double, 30 steps. */
static void test_sgd_nesterov_closed_form(void **state)
{
    (void)state;
    OptimConfig cfg = optim_defaults(OPTIM_SGD);
    cfg.lr = 0.02;
    cfg.momentum = 0.7;
    cfg.nesterov = true;
    float p[N];
    run(&cfg, 30, p);
    double q[N], b[N] = {0};
    for (int i = 0; i < N; i++)
        q[i] = P0[i];
    for (int t = 0; t < 30; t++) {
        for (int i = 0; i < N; i++) {
            double g = C[i] * (q[i] - 1);
            b[i] = 0.7 * b[i] + g;
            q[i] -= 0.02 * (g + 0.7 * b[i]);
        }
    }
    expect_close(p, q, 1e-5);
}

/* Clipping: the clipped norm equals the threshold (up to PyTorch's 1e-6 in the denominator and
 * float rounding); below the threshold nothing changes; a NaN norm leaves the gradient alone. */
static void test_clip(void **state)
{
    (void)state;
    float g[4] = {3, -4, 12, 0};    /* norm 13 */
    double norm = optim_clip_grad_norm(g, 4, 2.5);
    assert_true(fabs(norm - 13.0) < 1e-12);
    double after = sqrt((double)g[0] * g[0] + (double)g[1] * g[1] + (double)g[2] * g[2]);
    assert_true(fabs(after - 2.5) < 1e-6);
    assert_true(fabs(g[0] / g[1] - (-0.75)) < 1e-6);    /* direction kept */

    float h[3] = {0.1f, 0.2f, -0.2f};  /* norm 0.3 */
    float h0[3];
    memcpy(h0, h, sizeof h);
    norm = optim_clip_grad_norm(h, 3, 1.0);
    assert_true(fabs(norm - 0.3) < 1e-7);
    assert_memory_equal(h, h0, sizeof h);

    float z[2] = {NAN, 1};
    norm = optim_clip_grad_norm(z, 2, 1.0);
    assert_true(isnan(norm));
    assert_true(z[1] == 1);

    /* A large random-ish vector: exact threshold within float rounding. */
    float big[1000];
    for (int i = 0; i < 1000; i++)
        big[i] = (float)sin(i * 0.37) * 3;
    optim_clip_grad_norm(big, 1000, 5.0);
    double ss = 0;
    for (int i = 0; i < 1000; i++)
        ss += (double)big[i] * big[i];
    assert_true(fabs(sqrt(ss) - 5.0) < 5e-6);
}

static void test_schedules(void **state)
{
    (void)state;
    ScheduleConfig c = {.kind = SCHED_CONSTANT};
    assert_true(optim_schedule_lr(&c, 0.5, 1234) == 0.5);

    ScheduleConfig s = {.kind = SCHED_STEP, .every = 10, .factor = 0.5};
    assert_true(optim_schedule_lr(&s, 1.0, 0) == 1.0);
    assert_true(optim_schedule_lr(&s, 1.0, 9) == 1.0);
    assert_true(optim_schedule_lr(&s, 1.0, 10) == 0.5);
    assert_true(optim_schedule_lr(&s, 1.0, 35) == 0.125);

    ScheduleConfig k = {.kind = SCHED_COSINE, .warmup = 4, .total = 104};
    assert_true(fabs(optim_schedule_lr(&k, 2.0, 0) - 0.5) < 1e-15);
    assert_true(fabs(optim_schedule_lr(&k, 2.0, 3) - 2.0) < 1e-15);
    assert_true(fabs(optim_schedule_lr(&k, 2.0, 4) - 2.0) < 1e-15);
    assert_true(fabs(optim_schedule_lr(&k, 2.0, 54) - 1.0) < 1e-12);   /* halfway */
    assert_true(fabs(optim_schedule_lr(&k, 2.0, 104)) < 1e-12);
    assert_true(fabs(optim_schedule_lr(&k, 2.0, 500)) < 1e-12);        /* clamped */
    k.min_factor = 0.1;
    assert_true(fabs(optim_schedule_lr(&k, 2.0, 104) - 0.2) < 1e-12);
}

/* Saving the state after 3 steps and restoring it into a fresh optimiser continues bit for bit. */
static void test_state_roundtrip(void **state)
{
    (void)state;
    OptimKind kinds[] = {OPTIM_SGD, OPTIM_ADAM, OPTIM_ADAMW, OPTIM_RMSPROP};
    for (int k = 0; k < 4; k++) {
        Diag d;
        diag_init(&d);
        OptimConfig cfg = optim_defaults(kinds[k]);
        cfg.momentum = kinds[k] == OPTIM_ADAM || kinds[k] == OPTIM_ADAMW ? 0 : 0.9;
        Optim a, b;
        assert_int_equal(optim_init(&a, &cfg, N, &d), 0);
        float p[N], g[N], q[N];
        memcpy(p, P0, sizeof p);
        for (int s = 0; s < 3; s++) {
            quad_grad(p, g);
            optim_step(&a, p, g, cfg.lr);
        }
        int64_t nf = optim_state_floats(&a);
        assert_true(nf == (kinds[k] == OPTIM_SGD ? N : 2 * N));
        float saved[2 * N];
        optim_state_get(&a, saved);
        memcpy(q, p, sizeof q);
        int64_t t = a.t;
        for (int s = 0; s < 4; s++) {
            quad_grad(p, g);
            optim_step(&a, p, g, cfg.lr);
        }
        assert_int_equal(optim_init(&b, &cfg, N, &d), 0);
        optim_state_set(&b, saved);
        b.t = t;
        for (int s = 0; s < 4; s++) {
            quad_grad(q, g);
            optim_step(&b, q, g, cfg.lr);
        }
        assert_memory_equal(p, q, sizeof p);
        optim_free(&a);
        optim_free(&b);
        diag_free(&d);
    }
}

static void test_bad_config(void **state)
{
    (void)state;
    Diag d;
    diag_init(&d);
    Optim o;
    OptimConfig c = optim_defaults(OPTIM_SGD);
    c.nesterov = true;
    assert_int_equal(optim_init(&o, &c, N, &d), -1);
    c = optim_defaults(OPTIM_ADAM);
    c.beta1 = 1.0;
    assert_int_equal(optim_init(&o, &c, N, &d), -1);
    c = optim_defaults(OPTIM_ADAM);
    c.lr = -1;
    assert_int_equal(optim_init(&o, &c, N, &d), -1);
    assert_int_equal(diag_error_count(&d), 3);
    diag_free(&d);
}

/* optim_state_buffers: the buffers a checkpoint stores, in order, with PyTorch's names. */
static void test_state_buffers(void **state)
{
    (void)state;
    Diag d;
    diag_init(&d);
    struct { OptimKind kind; double momentum; int n; const char *names[2]; } cases[] = {
        {OPTIM_SGD, 0, 0, {NULL, NULL}},
        {OPTIM_SGD, 0.9, 1, {"momentum_buffer", NULL}},
        {OPTIM_ADAM, 0, 2, {"exp_avg", "exp_avg_sq"}},
        {OPTIM_ADAMW, 0, 2, {"exp_avg", "exp_avg_sq"}},
        {OPTIM_RMSPROP, 0, 1, {"square_avg", NULL}},
        {OPTIM_RMSPROP, 0.5, 2, {"momentum_buffer", "square_avg"}},
    };
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        OptimConfig c = optim_defaults(cases[k].kind);
        c.momentum = cases[k].momentum;
        Optim o;
        assert_int_equal(optim_init(&o, &c, N, &d), 0);
        OptimStateBuffer b[OPTIM_MAX_STATE];
        int n = optim_state_buffers(&o, b);
        assert_int_equal(n, cases[k].n);
        assert_int_equal(optim_state_floats(&o), (int64_t)n * N);
        for (int i = 0; i < n; i++) {
            assert_string_equal(b[i].name, cases[k].names[i]);
            assert_int_equal(b[i].n, N);
            assert_ptr_equal(b[i].data, i == 0 && o.m ? o.m : o.v);
        }
        optim_free(&o);
    }
    assert_int_equal(diag_error_count(&d), 0);
    diag_free(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_against_pytorch),
        cmocka_unit_test(test_adam_closed_form),
        cmocka_unit_test(test_adam_blocks),
        cmocka_unit_test(test_sgd_nesterov_closed_form),
        cmocka_unit_test(test_clip),
        cmocka_unit_test(test_schedules),
        cmocka_unit_test(test_state_roundtrip),
        cmocka_unit_test(test_bad_config),
        cmocka_unit_test(test_state_buffers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
