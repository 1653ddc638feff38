/* test_cellvm: the cell interpreter against central differences, for every op of ops.def and for
 * the prelude-equivalent cells (lstm, gru, rnn) and a user cell (peephole LSTM) built by hand;
 * windows split in halves with carried state; malformed cells rejected.
 *
 * Gradient checks run in float32 (the interpreter's precision) with a double-accumulated loss
 * L = sum_t,b,j y * R + sum sT * RS (R, RS fixed random), so dy = R and dsT = RS.
 * Tolerance: with eps = 1e-2 the central-difference truncation error is about eps^2/6 * |L'''|
 * (~2e-5 for these O(1) smooth functions); float rounding of L (a few hundred terms of size ~1,
 * relative error 6e-8 each) over 2*eps adds ~5e-5. We accept |analytic - numeric| <=
 * 5e-4 + 1e-2 * |numeric|: an error in a derivative formula is typically O(0.1) and fails. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <cmocka.h>

#include "exec/cellvm.h"
#include "exec/exec.h"
#include "lang/sema.h"
#include "util/rng.h"

#include "cells_by_hand.h"

/* ---- test fixtures ---------------------------------------------------------------------- */

typedef struct Fix {
    const IrCell *c;
    int B, T, I, O;
    CellVm *vm;
    float **p, **dp;    /* params and their gradients */
    float *x, *dx, *s0, *ds0, *R, *RS, *y, *sT;
    int sf;             /* state floats */
    float eps;          /* finite-difference step */
    double atol;        /* absolute tolerance (see the top of the file) */
} Fix;

/* A zeroed float buffer of n (>= 1) floats; the test fails if it cannot be allocated. */
static float *fvec(size_t n)
{
    float *v = calloc(n ? n : 1, sizeof(float));
    assert_non_null(v);
    return v;
}

static size_t psize(const IrParam *p) { return (size_t)(p->rows ? p->rows : 1) * p->cols; }

static void fill(Rng *r, float *v, size_t n, double lo, double hi)
{
    for (size_t i = 0; i < n; i++)
        v[i] = (float)(lo + (hi - lo) * rng_uniform(r));
}

/* Sequence lengths every Fix's interpreter is given (B entries; NULL: none). */
static const int32_t *fix_lengths;

/* Allocates and fills everything for cell c with a window of T steps and batch B. */
static void fix_init(Fix *f, const IrCell *c, int B, int T, uint64_t seed)
{
    Diag d;
    diag_init(&d);
    memset(f, 0, sizeof *f);
    f->c = c;
    f->B = B;
    f->T = T;
    f->I = c->input_width;
    f->eps = 1e-2f;
    f->atol = 5e-4;
    f->vm = cellvm_create(c, B, T, &d);
    assert_non_null(f->vm);
    cellvm_set_lengths(f->vm, fix_lengths);
    diag_free(&d);
    f->O = cellvm_output_width(f->vm);
    f->sf = cellvm_state_floats(f->vm);
    Rng r;
    rng_seed(&r, seed);
    f->p = calloc(c->nparams + 1, sizeof *f->p);
    f->dp = calloc(c->nparams + 1, sizeof *f->dp);
    for (int k = 0; k < c->nparams; k++) {
        f->p[k] = fvec(psize(&c->params[k]));
        f->dp[k] = fvec(psize(&c->params[k]));
        fill(&r, f->p[k], psize(&c->params[k]), -0.5, 0.5);
    }
    size_t nx = (size_t)T * B * f->I, ny = (size_t)T * B * f->O;
    f->x = fvec(nx);
    f->dx = fvec(nx);
    f->s0 = fvec(f->sf);
    f->ds0 = fvec(f->sf);
    f->R = fvec(ny);
    f->RS = fvec(f->sf);
    f->y = fvec(ny);
    f->sT = fvec(f->sf);
    fill(&r, f->x, nx, -1, 1);
    fill(&r, f->s0, f->sf, -0.5, 0.5);
    fill(&r, f->R, ny, -1, 1);
    fill(&r, f->RS, f->sf, -1, 1);
}

static void fix_free(Fix *f)
{
    for (int k = 0; k < f->c->nparams; k++) {
        free(f->p[k]);
        free(f->dp[k]);
    }
    free(f->p); free(f->dp);
    free(f->x); free(f->dx); free(f->s0); free(f->ds0); free(f->R); free(f->RS);
    free(f->y); free(f->sT);
    cellvm_free(f->vm);
}

/* L = sum y * R + sum sT * RS after a forward, accumulated in double. */
static double fix_loss(Fix *f)
{
    Diag d;
    diag_init(&d);
    assert_int_equal(cellvm_forward(f->vm, f->T, f->x, (const float *const *)f->p, f->s0, f->y,
                                    f->sT, &d), 0);
    diag_free(&d);
    double L = 0;
    for (size_t i = 0; i < (size_t)f->T * f->B * f->O; i++)
        L += (double)f->y[i] * f->R[i];
    for (int i = 0; i < f->sf; i++)
        L += (double)f->sT[i] * f->RS[i];
    return L;
}

/* Compares one analytic derivative with the central difference of L in *v. */
static int check_one(Fix *f, float *v, float analytic, const char *what, int idx)
{
    const float eps = f->eps;
    float keep = *v;
    *v = keep + eps;
    double lp = fix_loss(f);
    *v = keep - eps;
    double lm = fix_loss(f);
    *v = keep;
    double num = (lp - lm) / (2.0 * eps);
    if (fabs(analytic - num) > f->atol + 1e-2 * fabs(num)) {
        fprintf(stderr, "  %s %s[%d]: analytic %.6g numeric %.6g\n", f->c->name, what, idx,
                analytic, num);
        return 1;
    }
    return 0;
}

/* Full gradient check of one cell: every param element, input element and initial state. */
static void gradcheck_cell(const IrCell *c, int B, int T, uint64_t seed, float eps)
{
    Fix f;
    fix_init(&f, c, B, T, seed);
    if (eps < f.eps) {
        /* Kinked ops (relu, abs): a smaller step makes crossing the kink unlikely; rounding
         * noise grows to ~5e-4 at eps = 1e-3, hence the wider absolute tolerance. */
        f.eps = eps;
        f.atol = 2e-3;
    }
    Diag d;
    diag_init(&d);
    fix_loss(&f);
    assert_int_equal(cellvm_backward(f.vm, f.R, f.RS, f.dp, f.dx, f.ds0, &d), 0);
    diag_free(&d);
    int fails = 0;
    for (int k = 0; k < c->nparams; k++)
        for (size_t i = 0; i < psize(&c->params[k]); i++)
            fails += check_one(&f, &f.p[k][i], f.dp[k][i], c->params[k].name, (int)i);
    for (size_t i = 0; i < (size_t)T * B * f.I; i++)
        fails += check_one(&f, &f.x[i], f.dx[i], "x", (int)i);
    for (int i = 0; i < f.sf; i++)
        fails += check_one(&f, &f.s0[i], f.ds0[i], "s0", i);
    fix_free(&f);
    assert_int_equal(fails, 0);
}

/* Checks a cell in both directions. */
static void gradcheck_eps(CellBuild *b, int B, int T, uint64_t seed, float eps)
{
    b->c.reverse = false;
    gradcheck_cell(&b->c, B, T, seed, eps);
    b->c.reverse = true;
    gradcheck_cell(&b->c, B, T, seed + 1, eps);
    b->c.reverse = false;
}

static void gradcheck_both(CellBuild *b, int B, int T, uint64_t seed)
{
    gradcheck_eps(b, B, T, seed, 1e-2f);
}

/* ---- one cell per op ----------------------------------------------------------------------
 * Base: pre = W @ x + U @ h[t-1] + b (state-dependent), pos = sigmoid(V @ x + c) + 0.5 (hoisted,
 * in (0.5, 1.5), safe for log, sqrt and division). The op under test feeds h = tanh(...). */

enum { OI = 3, OH = 4 };

typedef struct Base { int x, h, sh, pre, pos, p; } Base;

static Base op_base(CellBuild *b)
{
    Base s;
    cb_init(b, "opcell", OI);
    s.sh = cb_state_decl(b, "h", OH);
    int W = cb_param(b, "W", OH, OI), U = cb_param(b, "U", OH, OH), bb = cb_param(b, "b", 0, OH);
    int V = cb_param(b, "V", OH, OI), cc = cb_param(b, "c", 0, OH);
    s.p = cb_param(b, "p", 0, OH);
    s.x = cb_input(b);
    s.h = cb_prev(b, s.sh);
    s.pre = cb_bin(b, IR_OP_ADD, cb_bin(b, IR_OP_ADD, cb_matvec(b, W, s.x), cb_matvec(b, U, s.h)),
                   bb);
    s.pos = cb_bin(b, IR_OP_ADD,
                   cb_un(b, IR_OP_SIGMOID, cb_bin(b, IR_OP_ADD, cb_matvec(b, V, s.x), cc)),
                   cb_const(b, 0.5));
    return s;
}

static void finish(CellBuild *b, Base *s, int v)
{
    int hn = cb_un(b, IR_OP_TANH, v);
    cb_set_next(b, s->sh, hn);
    b->c.output = hn;
}

/* The gradient-check lists, generated from ops.def: every op of each elementwise shape. */
#define OPS_OF_SHAPE(SHAPE, name, shape) OPS_##SHAPE##_##shape(name)
#define OPS_UNARY_UNARY(name) IR_OP_##name,
#define OPS_UNARY_BINARY(name)
#define OPS_UNARY_BOUNDED(name)
#define OPS_UNARY_LEAF(name)
#define OPS_UNARY_MATVEC(name)
#define OPS_UNARY_CONCAT(name)
#define OPS_UNARY_SLICE(name)
#define OPS_BINARY_UNARY(name)
#define OPS_BINARY_BINARY(name) IR_OP_##name,
#define OPS_BINARY_BOUNDED(name)
#define OPS_BINARY_LEAF(name)
#define OPS_BINARY_MATVEC(name)
#define OPS_BINARY_CONCAT(name)
#define OPS_BINARY_SLICE(name)
#define OPS_BOUNDED_UNARY(name)
#define OPS_BOUNDED_BINARY(name)
#define OPS_BOUNDED_BOUNDED(name) IR_OP_##name,
#define OPS_BOUNDED_LEAF(name)
#define OPS_BOUNDED_MATVEC(name)
#define OPS_BOUNDED_CONCAT(name)
#define OPS_BOUNDED_SLICE(name)

static const IrOpKind unary_ops[] = {
#define IR_OP(name, spelling, arity, shape, call, fwd, bwd, onnx) OPS_OF_SHAPE(UNARY, name, shape)
#include "ir/ops.def"
#undef IR_OP
};
static const IrOpKind binary_ops[] = {
#define IR_OP(name, spelling, arity, shape, call, fwd, bwd, onnx) OPS_OF_SHAPE(BINARY, name, shape)
#include "ir/ops.def"
#undef IR_OP
};
static const IrOpKind bounded_ops[] = {
#define IR_OP(name, spelling, arity, shape, call, fwd, bwd, onnx) OPS_OF_SHAPE(BOUNDED, name, shape)
#include "ir/ops.def"
#undef IR_OP
};

/* Ops with kinks or ties, checked with a smaller finite-difference step (gradcheck_cell);
 * softsign's derivative 1/(1+|x|)^2 has a kink at 0, too sharp for the default step. */
static bool kinked(IrOpKind op)
{
    return op == IR_OP_RELU || op == IR_OP_ABS || op == IR_OP_HARDSIGMOID || op == IR_OP_MIN ||
           op == IR_OP_MAX || op == IR_OP_CLIP || op == IR_OP_LEAKYRELU ||
           op == IR_OP_THRESHOLDEDRELU || op == IR_OP_ELU || op == IR_OP_SOFTSIGN;
}

/* Every op of ops.def is in exactly one list above or has its own test below. */
static void test_op_lists_cover_ops_def(void **state)
{
    (void)state;
    size_t n = sizeof unary_ops / sizeof unary_ops[0] + sizeof binary_ops / sizeof binary_ops[0]
               + sizeof bounded_ops / sizeof bounded_ops[0];
    /* the rest: INPUT, STATE, PARAM, CONST, MATVEC, CONCAT, SLICE (every cell test uses them) */
    assert_int_equal(n + 7, IR_OP_COUNT);
    assert_true(sizeof unary_ops / sizeof unary_ops[0] >= 10);
    assert_int_equal(sizeof binary_ops / sizeof binary_ops[0], 6);
    assert_int_equal(sizeof bounded_ops / sizeof bounded_ops[0], 7);
}

/* Unary ops: h = tanh(op(arg)), arg = pre, or pos for log and sqrt. */
static void test_unary_ops(void **state)
{
    (void)state;
    for (size_t k = 0; k < sizeof unary_ops / sizeof unary_ops[0]; k++) {
        IrOpKind op = unary_ops[k];
        CellBuild b;
        Base s = op_base(&b);
        int arg = s.pre;
        if (op == IR_OP_LOG || op == IR_OP_SQRT)
            arg = cb_bin(&b, IR_OP_MUL, s.pos, cb_un(&b, IR_OP_SIGMOID, s.pre));
        finish(&b, &s, cb_un(&b, op, arg));
        b.c.name = ir_op_spelling[op];
        gradcheck_eps(&b, 2, 4, 100 + k, kinked(op) ? 1e-3f : 1e-2f);
    }
}

/* Binary ops with every kind of operand: state-dependent with hoisted, hoisted with a constant,
 * constant with hoisted, param vector with hoisted (both broadcast over the batch). */
static void test_binary_ops(void **state)
{
    (void)state;
    for (size_t k = 0; k < sizeof binary_ops / sizeof binary_ops[0]; k++)
        for (int variant = 0; variant < 4; variant++) {
            IrOpKind op = binary_ops[k];
            CellBuild b;
            Base s = op_base(&b);
            int v;
            switch (variant) {
            case 0: v = cb_bin(&b, op, s.pre, s.pos); break;
            case 1: v = cb_bin(&b, op, s.pos, cb_const(&b, 2.0)); break;
            case 2: v = cb_bin(&b, op, cb_const(&b, 1.5), s.pos); break;
            default: v = cb_bin(&b, op, s.p, s.pos); break;
            }
            if (variant)
                v = cb_bin(&b, IR_OP_ADD, v, s.pre);
            finish(&b, &s, v);
            b.c.name = ir_op_spelling[op];
            gradcheck_eps(&b, 2, 4, 200 + 10 * k + variant, kinked(op) ? 1e-3f : 1e-2f);
        }
}

/* The constant parameters each bounded op is checked with: values of x in (-1.5, 1.5) fall on
 * both sides of every kink (clip's bounds, hardsigmoid's corners at -0.27 and 0.4, 0 for
 * leakyrelu and elu, thresholdedrelu's jump at 0.2). */
static void bounded_params(IrOpKind op, double *a, double *b)
{
    *a = 0.5, *b = 0.0;
    switch (op) {
    case IR_OP_CLIP: *a = -0.3, *b = 0.4; break;
    case IR_OP_HARDSIGMOID: *a = 1.5, *b = 0.4; break;
    case IR_OP_LEAKYRELU: *a = 0.1; break;
    case IR_OP_THRESHOLDEDRELU: *a = 0.2; break;
    case IR_OP_ELU: *a = 0.7; break;
    case IR_OP_SCALEDTANH: *a = 1.3, *b = 0.8; break;
    case IR_OP_AFFINE: *a = 0.7, *b = -0.2; break;
    default: break;
    }
}

/* Bounded ops: h = tanh(op(x, a, b) + pre), e.g. clip(x, -0.3, 0.4), x = pre (state-dependent)
 * or 3 pos - 3 (hoisted, in (-1.5, 1.5)), so that values fall on both sides of every kink. */
static void test_bounded_ops(void **state)
{
    (void)state;
    for (size_t k = 0; k < sizeof bounded_ops / sizeof bounded_ops[0]; k++)
        for (int hoisted = 0; hoisted < 2; hoisted++) {
            IrOpKind op = bounded_ops[k];
            CellBuild b;
            Base s = op_base(&b);
            int x = s.pre;
            if (hoisted)
                x = cb_bin(&b, IR_OP_SUB, cb_bin(&b, IR_OP_MUL, s.pos, cb_const(&b, 3.0)),
                           cb_const(&b, 3.0));
            double pa, pb;
            bounded_params(op, &pa, &pb);
            int lo = cb_const(&b, pa), hi = cb_const(&b, pb);
            int v = cb_node(&b, op, b.nodes[x].width, ir_op_arity[op], x, lo, hi);
            finish(&b, &s, cb_bin(&b, IR_OP_ADD, v, s.pre));
            b.c.name = ir_op_spelling[op];
            gradcheck_eps(&b, 2, 4, 250 + 10 * k + hoisted, 1e-3f);
        }
}

/* One op on the window x itself, y = op(x, c) (or op(x) for a unary op, op(x, c0, c1) for a
 * three-argument bounded op such as clip) over T = 1, B = 1, I = 1, with dy = 1: the value and
 * dx at x0. */
static void one_op(IrOpKind op, float x0, double c0, double c1, float *y, float *dx)
{
    CellBuild b;
    cb_init(&b, "one", 1);
    int x = cb_input(&b), v;
    if (ir_op_shape[op] == IR_SHAPE_UNARY)
        v = cb_un(&b, op, x);
    else if (ir_op_shape[op] == IR_SHAPE_BINARY)
        v = cb_bin(&b, op, x, cb_const(&b, c0));
    else
        v = cb_node(&b, op, 1, ir_op_arity[op], x, cb_const(&b, c0), cb_const(&b, c1));
    b.c.output = v;
    Diag d;
    diag_init(&d);
    CellVm *vm = cellvm_create(&b.c, 1, 1, &d);
    assert_non_null(vm);
    float one = 1.0f;
    *dx = 0.0f;
    assert_int_equal(cellvm_forward(vm, 1, &x0, NULL, NULL, y, NULL, &d), 0);
    assert_int_equal(cellvm_backward(vm, &one, NULL, NULL, dx, NULL, &d), 0);
    cellvm_free(vm);
    diag_free(&d);
}

/* Values and subgradients at kinks and ties, PyTorch's conventions: min and max split a tie
 * half and half (torch.minimum/maximum), clip passes the gradient on its bounds (torch.clamp:
 * lo <= x <= hi), hardsigmoid is ONNX's max(0, min(1, 0.2 x + 0.5)), flat where it saturates. */
static void test_subgradients(void **state)
{
    (void)state;
    static const struct { IrOpKind op; float x; double c0, c1; float y, dx; } cases[] = {
        { IR_OP_MAX, 0.5f, 0.5, 0, 0.5f, 0.5f },   { IR_OP_MIN, 0.5f, 0.5, 0, 0.5f, 0.5f },
        { IR_OP_MAX, 0.7f, 0.5, 0, 0.7f, 1.0f },   { IR_OP_MAX, 0.3f, 0.5, 0, 0.5f, 0.0f },
        { IR_OP_MIN, 0.7f, 0.5, 0, 0.5f, 0.0f },   { IR_OP_MIN, -2.0f, 0.5, 0, -2.0f, 1.0f },
        { IR_OP_CLIP, -1.0f, -1, 1, -1.0f, 1.0f }, { IR_OP_CLIP, 1.0f, -1, 1, 1.0f, 1.0f },
        { IR_OP_CLIP, 2.0f, -1, 1, 1.0f, 0.0f },   { IR_OP_CLIP, -3.0f, -1, 1, -1.0f, 0.0f },
        { IR_OP_CLIP, 0.25f, -1, 1, 0.25f, 1.0f },
        { IR_OP_HARDSIGMOID, 0.0f, 0.2, 0.5, 0.5f, 0.2f },
        { IR_OP_HARDSIGMOID, 1.0f, 0.2, 0.5, 0.7f, 0.2f },
        { IR_OP_HARDSIGMOID, 3.0f, 0.2, 0.5, 1.0f, 0.0f },
        { IR_OP_HARDSIGMOID, -3.0f, 0.2, 0.5, 0.0f, 0.0f },
        { IR_OP_HARDSIGMOID, -2.5f, 0.2, 0.5, 0.0f, 0.0f },
        { IR_OP_RELU, 0.0f, 0, 0, 0.0f, 0.0f },    { IR_OP_ABS, 0.0f, 0, 0, 0.0f, 0.0f },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        float y, dx;
        one_op(cases[i].op, cases[i].x, cases[i].c0, cases[i].c1, &y, &dx);
        assert_float_equal(y, cases[i].y, 1e-6);
        assert_float_equal(dx, cases[i].dx, 1e-6);
    }
}

/* ONNX's RNN activations (and softsign, softplus) against PyTorch 1.13 in float64, values
 * and derivatives, kinks included (tests/gen_onnx_acts_ref.py wrote the rows). */
static void test_onnx_activations_torch(void **state)
{
    (void)state;
    static const struct { IrOpKind op; float x; double c0, c1; double y, dx; } torch_cases[] = {
        { IR_OP_HARDSIGMOID, -1.5f, 0.3, 0.4, 0, 0 },
        { IR_OP_HARDSIGMOID, 0.3f, 0.3, 0.4, 0.49, 0.3 },
        { IR_OP_HARDSIGMOID, 2.5f, 0.3, 0.4, 1, 0 },
        { IR_OP_HARDSIGMOID, -0.9f, 0.2, 0.5, 0.32, 0.2 },
        { IR_OP_HARDSIGMOID, 0.2f, 0.2, 0.5, 0.54, 0.2 },
        { IR_OP_LEAKYRELU, -2.0f, 0.1, 0, -0.2, 0.1 },
        { IR_OP_LEAKYRELU, 0.0f, 0.1, 0, 0, 0.1 },
        { IR_OP_LEAKYRELU, 1.5f, 0.1, 0, 1.5, 1 },
        { IR_OP_LEAKYRELU, -3.0f, 0.01, 0, -0.03, 0.01 },
        { IR_OP_THRESHOLDEDRELU, 0.5f, 1.0, 0, 0, 0 },
        { IR_OP_THRESHOLDEDRELU, 1.0f, 1.0, 0, 0, 0 },
        { IR_OP_THRESHOLDEDRELU, 1.5f, 1.0, 0, 1.5, 1 },
        { IR_OP_THRESHOLDEDRELU, -2.0f, 1.0, 0, 0, 0 },
        { IR_OP_THRESHOLDEDRELU, -0.5f, -1.0, 0, -0.5, 1 },
        { IR_OP_THRESHOLDEDRELU, 0.3f, -1.0, 0, 0.3, 1 },
        { IR_OP_ELU, -2.0f, 0.5, 0, -0.432332358, 0.0676676416 },
        { IR_OP_ELU, 0.0f, 0.5, 0, 0, 0.5 },
        { IR_OP_ELU, 0.7f, 0.5, 0, 0.7, 1 },
        { IR_OP_ELU, -0.3f, 1.0, 0, -0.259181779, 0.740818221 },
        { IR_OP_SCALEDTANH, -1.2f, 1.7, 0.6, -1.04874581, 0.63181137 },
        { IR_OP_SCALEDTANH, 0.0f, 1.7, 0.6, 0, 1.02 },
        { IR_OP_SCALEDTANH, 0.8f, 1.7, 0.6, 0.758614137, 0.816883973 },
        { IR_OP_AFFINE, -1.0f, 0.7, -0.2, -0.9, 0.7 },
        { IR_OP_AFFINE, 2.5f, 0.7, -0.2, 1.55, 0.7 },
        { IR_OP_SOFTSIGN, -3.0f, 0, 0, -0.75, 0.0625 },
        { IR_OP_SOFTSIGN, 0.0f, 0, 0, 0, 1 },
        { IR_OP_SOFTSIGN, 0.5f, 0, 0, 0.333333333, 0.444444444 },
        { IR_OP_SOFTPLUS, -2.0f, 0, 0, 0.126928011, 0.119202922 },
        { IR_OP_SOFTPLUS, 0.0f, 0, 0, 0.693147181, 0.5 },
        { IR_OP_SOFTPLUS, 3.0f, 0, 0, 3.04858735, 0.952574127 },
    };
    for (size_t i = 0; i < sizeof torch_cases / sizeof torch_cases[0]; i++) {
        float y, dx;
        one_op(torch_cases[i].op, torch_cases[i].x, torch_cases[i].c0, torch_cases[i].c1, &y,
               &dx);
        if (fabs(y - torch_cases[i].y) > 2e-6 || fabs(dx - torch_cases[i].dx) > 2e-6) {
            fprintf(stderr, "%s(%g): y %.9g dx %.9g, torch %.9g %.9g\n",
                    ir_op_spelling[torch_cases[i].op], torch_cases[i].x, y, dx,
                    torch_cases[i].y, torch_cases[i].dx);
            fail();
        }
    }
}

/* softplus has one formula, the stable one: no overflow far out, log(2) at 0. */
static void test_softplus_stable(void **state)
{
    (void)state;
    float y, dx;
    one_op(IR_OP_SOFTPLUS, 100.0f, 0, 0, &y, &dx);
    assert_float_equal(y, 100.0f, 1e-4);
    assert_float_equal(dx, 1.0f, 1e-6);
    one_op(IR_OP_SOFTPLUS, -100.0f, 0, 0, &y, &dx);
    assert_true(y > 0.0f && y < 1e-40f);
    one_op(IR_OP_SOFTPLUS, 0.0f, 0, 0, &y, &dx);
    assert_float_equal(y, logf(2.0f), 1e-6);
    assert_float_equal(dx, 0.5f, 1e-6);
}

/* concat and slice: h = tanh([pre[2:4], pos[0:1], pre[0:2]] [0:4]) mixing hoisted and
 * state-dependent parts, plus a width-1 input broadcast into a product. */
static void test_concat_slice(void **state)
{
    (void)state;
    CellBuild b;
    Base s = op_base(&b);
    int cat = cb_node(&b, IR_OP_CONCAT, 5, 3, cb_slice(&b, s.pre, 2, 2), cb_slice(&b, s.pos, 0, 1),
                      cb_slice(&b, s.pre, 0, 2));
    int v = cb_bin(&b, IR_OP_MUL, cb_slice(&b, cat, 1, 4), cb_slice(&b, s.pos, 3, 1));
    finish(&b, &s, v);
    gradcheck_both(&b, 3, 3, 300);
}

/* A state read twice (two STATE nodes for one state) and an output that is not a state. */
static void test_double_read(void **state)
{
    (void)state;
    CellBuild b;
    Base s = op_base(&b);
    int h2 = cb_prev(&b, s.sh);
    int hn = cb_un(&b, IR_OP_TANH, cb_bin(&b, IR_OP_ADD, s.pre, cb_bin(&b, IR_OP_MUL, h2, s.p)));
    cb_set_next(&b, s.sh, hn);
    b.c.output = cb_bin(&b, IR_OP_MUL, hn, s.pos);
    gradcheck_both(&b, 2, 5, 400);
}

/* The prelude-equivalent cells and the peephole user cell. */
static void test_lstm_cell(void **state)
{
    (void)state;
    CellBuild b;
    cb_lstm(&b, 3, 4);
    gradcheck_both(&b, 2, 4, 500);
}

static void test_gru_cell(void **state)
{
    (void)state;
    CellBuild b;
    cb_gru(&b, 3, 4);
    gradcheck_both(&b, 2, 4, 510);
}

static void test_rnn_cells(void **state)
{
    (void)state;
    CellBuild b;
    cb_rnn(&b, 3, 4, IR_OP_TANH);
    gradcheck_both(&b, 2, 4, 520);
    cb_rnn(&b, 3, 4, IR_OP_RELU);
    gradcheck_eps(&b, 2, 4, 530, 1e-3f);
}

static void test_peephole_cell(void **state)
{
    (void)state;
    CellBuild b;
    cb_peephole(&b, 3, 4);
    gradcheck_both(&b, 2, 4, 540);
}

/* ---- window splitting, accumulation, errors -------------------------------------------- */

/* Forward over T steps equals two forwards over the halves with the state carried (in the
 * processing order, so a reverse cell runs the second half first). */
static void halves(bool reverse)
{
    CellBuild b;
    cb_lstm(&b, 3, 5);
    b.c.reverse = reverse;
    Fix f;
    fix_init(&f, &b.c, 3, 6, 600);
    Diag d;
    diag_init(&d);
    fix_loss(&f);
    int h = 3, B = 3, I = 3, O = f.O;
    float *y2 = fvec((size_t)6 * B * O), *s = fvec(f.sf);
    memcpy(s, f.s0, sizeof(float) * f.sf);
    int first = reverse ? h : 0, second = reverse ? 0 : h;
    const float *const *p = (const float *const *)f.p;
    assert_int_equal(cellvm_forward(f.vm, h, f.x + (size_t)first * B * I, p, s,
                                    y2 + (size_t)first * B * O, s, &d), 0);
    assert_int_equal(cellvm_forward(f.vm, h, f.x + (size_t)second * B * I, p, s,
                                    y2 + (size_t)second * B * O, s, &d), 0);
    for (int i = 0; i < 6 * B * O; i++)
        assert_float_equal(y2[i], f.y[i], 1e-6);
    for (int i = 0; i < f.sf; i++)
        assert_float_equal(s[i], f.sT[i], 1e-6);
    free(y2);
    free(s);
    fix_free(&f);
    diag_free(&d);
}

static void test_halves(void **state)
{
    (void)state;
    halves(false);
    halves(true);
}

/* Backward accumulates: running it twice doubles every gradient. */
static void test_accumulates(void **state)
{
    (void)state;
    CellBuild b;
    cb_gru(&b, 2, 3);
    Fix f;
    fix_init(&f, &b.c, 2, 3, 700);
    Diag d;
    diag_init(&d);
    fix_loss(&f);
    assert_int_equal(cellvm_backward(f.vm, f.R, f.RS, f.dp, f.dx, f.ds0, &d), 0);
    float first = f.dp[1][2], firstx = f.dx[1], firsts = f.ds0[0];
    assert_true(first != 0.0f && firstx != 0.0f && firsts != 0.0f);
    assert_int_equal(cellvm_backward(f.vm, f.R, f.RS, f.dp, f.dx, f.ds0, &d), 0);
    assert_float_equal(f.dp[1][2], 2 * first, 1e-6);
    assert_float_equal(f.dx[1], 2 * firstx, 1e-6);
    assert_float_equal(f.ds0[0], 2 * firsts, 1e-6);
    fix_free(&f);
    diag_free(&d);
}

/* Malformed graphs and bad sizes are reported, never run. */
/* Runs cell c (its direction as set) over T steps of x from s0 with lengths (or NULL): y, sT. */
static void run_cell(const IrCell *c, int B, int T, const float *x, const float *const *p,
                     const float *s0, const int32_t *lengths, float *y, float *sT)
{
    Diag d;
    diag_init(&d);
    CellVm *vm = cellvm_create(c, B, T, &d);
    assert_non_null(vm);
    cellvm_set_lengths(vm, lengths);
    assert_int_equal(cellvm_forward(vm, T, x, p, s0, y, sT, &d), 0);
    cellvm_free(vm);
    diag_free(&d);
}

/* Sequence lengths (issue 9): with lengths {4, 2, 0} over T = 4, example 1 gives exactly what a
 * window of its 2 steps gives (outputs and final states, both directions: the reverse cell
 * starts at its own last step), example 2 keeps its initial state, and every step past a length
 * outputs zero. Then the gradient check through the held states, outputs and ds0, both
 * directions, for the LSTM and the peephole cell. */
static void test_lengths(void **state)
{
    (void)state;
    enum { B = 3, T = 4 };
    static const int32_t len[B] = { 4, 2, 0 };
    CellBuild b;
    cb_lstm(&b, 3, 4);
    Fix f;
    fix_init(&f, &b.c, B, T, 77);
    int O = f.O, sf = f.sf, w = sf / B / 2;
    float *y = fvec((size_t)T * B * O), *sT = fvec(sf), *y2 = fvec((size_t)T * B * O);
    float *sT2 = fvec(sf);
    for (int rev = 0; rev < 2; rev++) {
        b.c.reverse = rev;
        run_cell(&b.c, B, T, f.x, (const float *const *)f.p, f.s0, len, y, sT);
        run_cell(&b.c, B, 2, f.x, (const float *const *)f.p, f.s0, NULL, y2, sT2);
        for (int t = 0; t < T; t++)
            for (int j = 0; j < O; j++) {
                float got = y[((size_t)t * B + 1) * O + j];
                assert_true(t < 2 ? fabsf(got - y2[((size_t)t * B + 1) * O + j]) < 1e-6f
                                  : got == 0.0f);
                assert_true(y[((size_t)t * B + 2) * O + j] == 0.0f);
            }
        for (int st = 0; st < 2; st++) /* h and c blocks, [B][w] each */
            for (int j = 0; j < w; j++) {
                size_t at = (size_t)st * B * w;
                assert_true(fabsf(sT[at + 1 * w + j] - sT2[at + 1 * w + j]) < 1e-6f);
                assert_true(sT[at + 2 * w + j] == f.s0[at + 2 * w + j]);
            }
    }
    b.c.reverse = false;
    free(y); free(y2); free(sT); free(sT2);
    fix_free(&f);
    fix_lengths = len;
    gradcheck_eps(&b, B, T, 700, 1e-2f);
    cb_peephole(&b, 3, 4);
    gradcheck_eps(&b, B, T, 710, 1e-2f);
    fix_lengths = NULL;
}

static void test_rejects(void **state)
{
    (void)state;
    Diag d;
    diag_init(&d);
    CellBuild b;
    cb_lstm(&b, 3, 4);
    b.ins[7][1] = 9; /* a forward reference */
    assert_null(cellvm_create(&b.c, 2, 3, &d));
    cb_lstm(&b, 3, 4);
    b.nodes[b.c.output].width = 5; /* width mismatch against the state */
    assert_null(cellvm_create(&b.c, 2, 3, &d));
    cb_lstm(&b, 3, 4);
    b.c.input_width = 2; /* input node width disagrees */
    assert_null(cellvm_create(&b.c, 2, 3, &d));
    cb_lstm(&b, 3, 4);
    assert_null(cellvm_create(&b.c, 0, 3, &d));
    cb_init(&b, "clip", 2);
    int in = cb_input(&b);
    b.c.output = cb_node(&b, IR_OP_CLIP, 2, 3, in, cb_const(&b, -1), in); /* a bound varies */
    assert_null(cellvm_create(&b.c, 2, 3, &d));
    cb_lstm(&b, 3, 4);
    CellVm *vm = cellvm_create(&b.c, 2, 3, &d);
    assert_non_null(vm);
    int before = diag_error_count(&d);
    assert_int_equal(cellvm_backward(vm, NULL, NULL, NULL, NULL, NULL, &d), -1);
    float x[4 * 2 * 3] = { 0 }, y[4 * 2 * 4];
    assert_int_equal(cellvm_forward(vm, 4, x, NULL, NULL, y, NULL, &d), -1);
    assert_int_equal(diag_error_count(&d), before + 2);
    cellvm_free(vm);
    diag_free(&d);
}

/* The real prelude (lstm, gru, rnn, rnn relu) and a peephole user cell as sema builds them:
 * every cell passes the gradient check in both directions, sema's uses_state flags agree with
 * the interpreter's own dependency analysis, and the input projections W @ x are hoisted while
 * the recurrent products are not. */
static void test_sema_cells(void **state)
{
    (void)state;
    static const char text[] =
        "format 1\n"
        CB_PEEPHOLE_SRC
        "model m {\n"
        "  input vector(3)\n"
        "  lstm(4)\n  gru(4)\n  rnn(4)\n  rnn(4, activation=relu)\n"
        "  peephole(4, bidirectional=true)\n"
        "}\n";
    Diag d;
    diag_init(&d);
    const Source *src = diag_add_source(&d, "cells.rnn", text, strlen(text));
    IrModel *m = sema_compile(&d, src, NULL, 0);
    if (!m)
        diag_print(&d, stderr);
    assert_non_null(m);
    int ncells = 0;
    for (int i = 0; i < m->nlayers; i++) {
        const IrLayer *L = &m->layers[i];
        for (int k = 0; k < L->ncells; k++) {
            const IrCell *c = &L->cells[k];
            CellVm *vm = cellvm_create(c, 2, 3, &d);
            assert_non_null(vm);
            int hoisted_mv = 0, step_mv = 0;
            for (int n = 0; n < c->nnodes; n++) {
                if (cellvm_hoisted(vm, n) == c->nodes[n].uses_state) {
                    fprintf(stderr, "%s node %d: sema uses_state %d\n", c->name, n,
                            c->nodes[n].uses_state);
                    fail();
                }
                if (c->nodes[n].op == IR_OP_MATVEC)
                    *(cellvm_hoisted(vm, n) ? &hoisted_mv : &step_mv) += 1;
            }
            assert_int_equal(hoisted_mv, 1);
            assert_int_equal(step_mv, 1);
            cellvm_free(vm);
            bool relu = L->builtin == IR_CELL_RNN_RELU;
            gradcheck_cell(c, 2, 4, 800 + ncells, relu ? 1e-3f : 1e-2f);
            ncells++;
        }
    }
    assert_int_equal(ncells, 6);
    ir_model_free(m);
    diag_free(&d);
}

/* One forward and backward of f's cell into fresh gradient buffers (the params' gradients
 * concatenated into *dp, then dx, ds0): returns them in one buffer with y and sT. */
static float *tape_run(Fix *f, size_t *n)
{
    Diag d;
    diag_init(&d);
    size_t np = 0, nx = (size_t)f->T * f->B * f->I, ny = (size_t)f->T * f->B * f->O;
    for (int k = 0; k < f->c->nparams; k++) {
        memset(f->dp[k], 0, sizeof(float) * psize(&f->c->params[k]));
        np += psize(&f->c->params[k]);
    }
    memset(f->dx, 0, sizeof(float) * nx);
    memset(f->ds0, 0, sizeof(float) * f->sf);
    fix_loss(f);
    assert_int_equal(cellvm_backward(f->vm, f->R, f->RS, f->dp, f->dx, f->ds0, &d), 0);
    *n = np + nx + 2 * (size_t)f->sf + ny;
    float *all = fvec(*n), *o = all;
    for (int k = 0; k < f->c->nparams; k++) {
        memcpy(o, f->dp[k], sizeof(float) * psize(&f->c->params[k]));
        o += psize(&f->c->params[k]);
    }
    memcpy(o, f->dx, sizeof(float) * nx);
    memcpy(o + nx, f->ds0, sizeof(float) * f->sf);
    memcpy(o + nx + f->sf, f->sT, sizeof(float) * f->sf);
    memcpy(o + nx + 2 * f->sf, f->y, sizeof(float) * ny);
    diag_free(&d);
    return all;
}

/* The memory plan (cellvm.c): the training tape, which recomputes the elementwise values in
 * backward and keeps gradients in a ring of steps, gives bit for bit the outputs, final states
 * and gradients of the full tape, which keeps every value (and of the gradient checks above,
 * which run the training tape), for the prelude cells and the peephole cell in both directions,
 * with sequence lengths and without; only the full tape lets recur trace read an elementwise
 * value (cellvm_node_values), and it reads every node's then. */
static void test_tape_plan(void **state)
{
    (void)state;
    static const char text[] = "format 1\n" CB_PEEPHOLE_SRC "model m {\n  input vector(3)\n"
                               "  lstm(4)\n  gru(4)\n  rnn(4)\n"
                               "  peephole(4, bidirectional=true)\n}\n";
    static const int32_t len[3] = { 4, 2, 0 };
    Diag d;
    diag_init(&d);
    IrModel *m = sema_compile(&d, diag_add_source(&d, "plan.rnn", text, strlen(text)), NULL, 0);
    assert_non_null(m);
    int checked = 0;
    for (int i = 0; i < m->nlayers; i++)
        for (int k = 0; k < m->layers[i].ncells; k++)
            for (int packed = 0; packed < 2; packed++) {
                const IrCell *c = &m->layers[i].cells[k];
                Fix f;
                fix_lengths = packed ? len : NULL;
                fix_init(&f, c, 3, 4, 1000 + checked);
                size_t n1, n2;
                float *plan = tape_run(&f, &n1);
                int T, elementwise = -1;
                for (int j = 0; j < c->nnodes && elementwise < 0; j++)
                    if (c->nodes[j].op == IR_OP_ADD && !cellvm_hoisted(f.vm, j))
                        elementwise = j; /* W @ x + U @ h: recomputed in backward */
                assert_true(elementwise >= 0);
                assert_null(cellvm_node_values(f.vm, elementwise, &T));
                assert_int_equal(cellvm_set_full_tape(f.vm, true, &d), 0);
                float *full = tape_run(&f, &n2);
                for (int j = 0; j < c->nnodes; j++)
                    if (c->nodes[j].op != IR_OP_PARAM)
                        assert_non_null(cellvm_node_values(f.vm, j, &T));
                assert_int_equal(n1, n2);
                assert_memory_equal(plan, full, n1 * sizeof(float));
                free(plan);
                free(full);
                fix_free(&f);
                checked++;
            }
    fix_lengths = NULL;
    assert_int_equal(checked, 10);
    ir_model_free(m);
    diag_free(&d);
}

/* The prelude's interpreter-only variants (issue 8: Keras reset_after=False, ONNX
 * linear_before_reset=0, Keras < 2.3 hard_sigmoid gates), as sema builds them from the layer
 * options: each picks its cell, and passes the gradient check in both directions (the
 * hardsigmoid kinks take the small step). Their forward values against numpy are checked by
 * tests/cli/keras.sh. */
static void test_sema_variant_cells(void **state)
{
    (void)state;
    static const char text[] =
        "format 1\n"
        "model m {\n"
        "  input vector(3)\n"
        "  gru(4, reset_after=false, bidirectional=true)\n"
        "  lstm(4, recurrent_activation=hard_sigmoid)\n"
        "  gru(4, recurrent_activation=hard_sigmoid)\n"
        "  gru(4, reset_after=false, recurrent_activation=hard_sigmoid)\n"
        "  gru(4, reset_after=true, recurrent_activation=sigmoid)\n"
        "}\n";
    static const char *const names[] = { "gru_rb", "gru_rb", "lstm_hs", "gru_hs", "gru_rb_hs",
                                         "gru" };
    Diag d;
    diag_init(&d);
    const Source *src = diag_add_source(&d, "variants.rnn", text, strlen(text));
    IrModel *m = sema_compile(&d, src, NULL, 0);
    if (!m)
        diag_print(&d, stderr);
    assert_non_null(m);
    int ncells = 0;
    for (int i = 0; i < m->nlayers; i++) {
        const IrLayer *L = &m->layers[i];
        for (int k = 0; k < L->ncells; k++) {
            const IrCell *c = &L->cells[k];
            assert_string_equal(c->name, names[ncells]);
            bool fused = strcmp(c->name, "gru") == 0;
            assert_int_equal(L->builtin, fused ? IR_CELL_GRU : IR_CELL_USER);
            gradcheck_cell(c, 2, 4, 900 + ncells, strstr(c->name, "_hs") ? 1e-3f : 1e-2f);
            ncells++;
        }
    }
    assert_int_equal(ncells, 6);
    ir_model_free(m);
    diag_free(&d);
}

/* ---- speed paths: threads, the transposed weights, the sigmoid/tanh polynomials ----------- */

/* A step's rows split across threads (a peephole LSTM large enough for the split: B 16, H 200,
 * about 80k floats per stretch of row-wise nodes) give the same bytes at 1, 2 and 3 threads,
 * forward and backward (values, states, every gradient), with and without sequence lengths. */
static void test_threads_same_bytes(void **state)
{
    (void)state;
    static const int32_t len[16] = { 4, 4, 3, 1, 4, 2, 0, 4, 4, 3, 4, 4, 1, 4, 2, 4 };
    CellBuild b;
    cb_peephole(&b, 5, 200);
    for (int packed = 0; packed < 2; packed++) {
        Fix f[3]; /* one interpreter per thread count, all live: no buffer is reused */
        fix_lengths = packed ? len : NULL;
        float *run[3];
        size_t n[3];
        for (int th = 1; th <= 3; th++)
            fix_init(&f[th - 1], &b.c, 16, 4, 1100 + packed);
        for (int th = 1; th <= 3; th++) {
            exec_set_threads(th);
            run[th - 1] = tape_run(&f[th - 1], &n[th - 1]);
        }
        exec_set_threads(1);
        for (int th = 1; th <= 3; th++) {
            assert_int_equal(n[th - 1], n[0]);
            assert_memory_equal(run[0], run[th - 1], n[0] * sizeof(float));
        }
        for (int th = 1; th <= 3; th++) {
            free(run[th - 1]);
            fix_free(&f[th - 1]);
        }
    }
    fix_lengths = NULL;
}

/* A forward after the weights changed in place (as an optimiser does) reads the new ones: the
 * interpreter's transposed copy of U is made again, so its outputs are a fresh interpreter's. */
static void test_weights_refresh(void **state)
{
    (void)state;
    CellBuild b;
    cb_peephole(&b, 3, 8);
    Fix f;
    fix_init(&f, &b.c, 4, 3, 1200);
    size_t ny = (size_t)f.T * f.B * f.O;
    fix_loss(&f);
    float *before = fvec(ny), *fresh = fvec(ny);
    memcpy(before, f.y, sizeof(float) * ny);
    for (size_t i = 0; i < psize(&b.c.params[1]); i++) /* U */
        f.p[1][i] *= -1.5f;
    fix_loss(&f);
    Diag d;
    diag_init(&d);
    CellVm *vm = cellvm_create(&b.c, f.B, f.T, &d);
    assert_non_null(vm);
    assert_int_equal(cellvm_forward(vm, f.T, f.x, (const float *const *)f.p, f.s0, fresh, NULL,
                                    &d), 0);
    assert_memory_equal(f.y, fresh, sizeof(float) * ny);
    assert_true(memcmp(before, f.y, sizeof(float) * ny) != 0);
    cellvm_free(vm);
    diag_free(&d);
    free(before);
    free(fresh);
    fix_free(&f);
}

/* The interpreter's sigmoid and tanh (kernels_util.h's polynomials) are within 1e-6 relative of
 * the double-precision functions over [-30, 30], on the input, on a state-dependent node and
 * on a param broadcast over the window's rows (odd widths: the 4-lane tails). */
static void test_sigmoid_tanh_accuracy(void **state)
{
    (void)state;
    enum { I = 37, B = 3, T = 5 };
    CellBuild b;
    cb_init(&b, "acts", I);
    int sh = cb_state_decl(&b, "h", I);
    int p = cb_param(&b, "p", 0, I), x = cb_input(&b), h = cb_prev(&b, sh);
    int hx = cb_bin(&b, IR_OP_ADD, h, x); /* a step node: h is zero, so hx = x */
    int parts[6] = { cb_un(&b, IR_OP_SIGMOID, hx), cb_un(&b, IR_OP_TANH, hx),
                     cb_un(&b, IR_OP_SIGMOID, x),  cb_un(&b, IR_OP_TANH, x),
                     cb_un(&b, IR_OP_SIGMOID, p),  cb_un(&b, IR_OP_TANH, p) };
    int out = cb_node(&b, IR_OP_CONCAT, 6 * I, 6, parts[0], parts[1], parts[2], parts[3],
                      parts[4], parts[5]);
    cb_set_next(&b, sh, cb_bin(&b, IR_OP_MUL, h, cb_const(&b, 0.0)));
    b.c.output = out;
    Fix f;
    fix_init(&f, &b.c, B, T, 1300);
    for (size_t i = 0; i < (size_t)T * B * I; i++)
        f.x[i] = (float)(-30.0 + 60.0 * (double)i / (T * B * I - 1));
    for (int i = 0; i < I; i++)
        f.p[0][i] = (float)(-3.0 + 6.0 * i / (I - 1));
    memset(f.s0, 0, sizeof(float) * f.sf);
    fix_loss(&f);
    int bad = 0;
    for (int r = 0; r < T * B; r++)
        for (int k = 0; k < 6; k++)
            for (int j = 0; j < I; j++) {
                double v = k < 4 ? f.x[(size_t)r * I + j] : f.p[0][j];
                double want = k % 2 == 0 ? 1.0 / (1.0 + exp(-v)) : tanh(v);
                double got = f.y[((size_t)r * 6 + k) * I + j];
                bad += fabs(got - want) > 1e-6 * fabs(want) + 1e-37;
            }
    assert_int_equal(bad, 0);
    fix_free(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_op_lists_cover_ops_def),
        cmocka_unit_test(test_unary_ops),     cmocka_unit_test(test_binary_ops),
        cmocka_unit_test(test_bounded_ops),   cmocka_unit_test(test_subgradients),
        cmocka_unit_test(test_softplus_stable), cmocka_unit_test(test_onnx_activations_torch),
        cmocka_unit_test(test_concat_slice),  cmocka_unit_test(test_double_read),
        cmocka_unit_test(test_lstm_cell),     cmocka_unit_test(test_gru_cell),
        cmocka_unit_test(test_rnn_cells),     cmocka_unit_test(test_peephole_cell),
        cmocka_unit_test(test_halves),        cmocka_unit_test(test_accumulates),
        cmocka_unit_test(test_rejects),       cmocka_unit_test(test_lengths),
        cmocka_unit_test(test_sema_cells),    cmocka_unit_test(test_tape_plan),
        cmocka_unit_test(test_sema_variant_cells),
        cmocka_unit_test(test_threads_same_bytes), cmocka_unit_test(test_weights_refresh),
        cmocka_unit_test(test_sigmoid_tanh_accuracy),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
