/* cellvm_ops: the interpreter's row kernels, one forward and one backward per op of ops.def
 * (see cellvm.c for the tapes they read and write, cellvm_int.h for the table).
 *
 * Every kernel computes each row by itself, so a step's rows may be split across threads
 * (cellvm.c does for the row-wise ops) without changing a row's arithmetic. Elementwise ops run
 * on contiguous runs of floats in blocks of ROW_BLOCK (a loop of constant length, which -O2
 * vectorises, with restrict pointers) and a scalar tail computing the same expression; sigmoid
 * and tanh are the 4-lane polynomials of kernels_util.h (kv_sigmoid, kv_tanh: relative error
 * about 2e-7 against libm) in every layout. Other ops call op_math.h's float math (libm). */
/* -O2's "very cheap" vectoriser leaves the constant-length block loops below scalar (it
 * measured: 66 packed float instructions in this file, 303 with the dynamic cost model); the
 * packed ones compute lane by lane what the scalar ones did (no reassociation, no contraction
 * under -std=c11), so results are unchanged. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("vect-cost-model=dynamic")
#endif
#include "exec/cellvm_int.h"
#include "ir/op_math.h"

#include "exec/kernels.h"
#include "exec/kernels_util.h"
#include "exec/parallel.h"
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Floats per block of the elementwise loops (16: one AVX-512 register, four SSE ones). */
enum { ROW_BLOCK = 16 };

/* The value (grad = false) or gradient (grad = true) of input k of node n, starting at row r0,
 * broadcast to the node's width. p is NULL when there is no gradient to accumulate (a CONST, or
 * a param whose gradient the caller did not ask for). */
static Opnd operand(const CellVm *vm, int n, int k, int r0, bool grad)
{
    const IrNode *nd = &vm->c->nodes[n];
    int i = nd->in[k];
    const IrNode *in = &vm->c->nodes[i];
    Opnd o;
    o.cs = (in->width == 1 && nd->width > 1) ? 0 : 1;
    if (in->op == IR_OP_PARAM) {
        o.rs = 0;
        o.p = grad ? (vm->dparams ? vm->dparams[in->aux] : NULL)
                   : (float *)vm->params[in->aux];
        return o;
    }
    o.rs = in->width;
    if (grad && in->op == IR_OP_CONST)
        o.p = NULL;
    else
        o.p = grad ? grad_at(vm, i, r0) : val_at(vm, i, r0);
    return o;
}

/* How a kernel walks operands that all have cs = 1: one run of nr * w floats when every row
 * stride is w (*len = nr * w, *runs = 1), else one run per row (a param broadcast, rs = 0). */
static void row_runs(int nr, int w, bool flat, int *runs, int *len)
{
    *runs = flat ? 1 : nr;
    *len = flat ? nr * w : w;
}

/* ---- leaves ------------------------------------------------------------------------------ */

/* CONST: fills the rows with the constant. */
static void kern_constant(CellVm *vm, int n, int r0, int nr)
{
    int w = node_width(vm, n);
    float v = (float)vm->c->nodes[n].value;
    float *o = val_at(vm, n, r0);
    for (size_t i = 0; i < (size_t)nr * w; i++)
        o[i] = v;
}

/* Nothing per row: the backward of every leaf, and the forward of INPUT, PARAM and STATE (the
 * input's values are x itself, params are read in place, states are copied by the step loop). */
static void kern_none(CellVm *vm, int n, int r0, int nr) { (void)vm; (void)n; (void)r0; (void)nr; }

/* ---- W @ v --------------------------------------------------------------------------------- */

/* y[r] = W v[r] for rows r0..r0+nr: Y [nr][m] = V [nr][k] W^T, W [m][k]; one GEMM. A per-step
 * product reads W^T [k][m] (vm->wt) instead when the forward made it: Y = V W^T as A B. */
static void kern_matvec(CellVm *vm, int n, int r0, int nr)
{
    const IrNode *nd = &vm->c->nodes[n];
    int m = nd->width, k = node_width(vm, nd->in[1]), p = vm->c->nodes[nd->in[0]].aux;
    const float *V = val_at(vm, nd->in[1], r0);
    float *Y = val_at(vm, n, r0);
    if (vm->wt[p] && !vm->win[n])
        kern_sgemm(false, false, nr, m, k, 1.0f, V, k, vm->wt[p], m, 0.0f, Y, m);
    else
        kern_sgemm(false, true, nr, m, k, 1.0f, V, k, vm->params[p], k, 0.0f, Y, m);
}

/* dv[r] += W^T dy[r]: dV [nr][k] += dY [nr][m] W [m][k]. The weight gradient dW += dY^T V is
 * done once over the whole window at the end of cellvm_backward. */
static void kern_matvec_grad(CellVm *vm, int n, int r0, int nr)
{
    const IrNode *nd = &vm->c->nodes[n];
    int m = nd->width, k = node_width(vm, nd->in[1]);
    const float *W = vm->params[vm->c->nodes[nd->in[0]].aux];
    kern_sgemm(false, false, nr, k, m, 1.0f, grad_at(vm, n, r0), m, W, k, 1.0f,
               grad_at(vm, nd->in[1], r0), k);
}

/* What cellvm_transpose_weights hands each thread: columns [lo, hi) of W^T per param. */
typedef struct WtJob {
    CellVm *vm;
    int p;
} WtJob;

/* W^T[j][i] = W[i][j] for the columns j in [lo, hi) of W, in 32 x 32 tiles. */
static void transpose_cols(void *ctx, size_t lo, size_t hi)
{
    const WtJob *job = ctx;
    const IrParam *pa = &job->vm->c->params[job->p];
    int m = pa->rows, k = pa->cols;
    const float *W = job->vm->params[job->p];
    float *T = job->vm->wt[job->p];
    for (int i0 = 0; i0 < m; i0 += 32)
        for (size_t j0 = lo; j0 < hi; j0 += 32) {
            int i1 = i0 + 32 < m ? i0 + 32 : m;
            size_t j1 = j0 + 32 < hi ? j0 + 32 : hi;
            for (size_t j = j0; j < j1; j++)
                for (int i = i0; i < i1; i++)
                    T[j * m + i] = W[(size_t)i * k + j];
        }
}

void cellvm_transpose_weights(CellVm *vm)
{
    for (int p = 0; p < vm->c->nparams; p++)
        if (vm->wt[p]) {
            WtJob job = {vm, p};
            const IrParam *pa = &vm->c->params[p];
            kern_parallel_for((size_t)pa->cols, (double)pa->rows * pa->cols, transpose_cols, &job);
        }
}

/* ---- elementwise ops: loops around the scalar math of ir/op_math.h --------------------------
 * Each template below makes the two row kernels kern_<FWD> and kern_<BWD> of one ops.def row
 * of its shape: y = op_<FWD>_f(...) over the node's width, and the backward accumulating
 * op_<BWD>_f(d, ...) into each input's gradient. Operands broadcast as described at Opnd; when
 * every operand has cs = 1 the work goes to a run function (run_<FWD>, brun_<BWD>) over
 * contiguous floats (row_runs), else to the general loop, which computes the same expressions. */

/* for (i < len) STMT: blocks of ROW_BLOCK (constant trip count: vectorised), then the tail. */
#define ROW_LOOP(len, i, STMT)                                                      \
    do {                                                                            \
        int b_ = 0;                                                                 \
        for (; b_ + ROW_BLOCK <= (len); b_ += ROW_BLOCK)                            \
            for (int i = b_; i < b_ + ROW_BLOCK; i++)                               \
                STMT;                                                               \
        for (int i = b_; i < (len); i++)                                            \
            STMT;                                                                   \
    } while (0)

/* o = sigmoid(x) or tanh(x) over len floats, by the 4-lane polynomials. */
static void run_poly(IrOpKind op, const float *x, float *o, int len)
{
    for (int i = 0; i < len; i += KV) {
        int m = len - i < KV ? len - i : KV;
        KernV4 v = kv_load(x + i, m);
        kv_store(o + i, op == IR_OP_SIGMOID ? kv_sigmoid(v) : kv_tanh(v), m);
    }
}

/* The forward of sigmoid and tanh (false for every other op: it has none). A one-input op's
 * operand has the node's width, so cs = 1; rs is w, or 0 for a param. */
static bool poly_unary(const CellVm *vm, int n, Opnd X, float *o, int nr)
{
    IrOpKind op = vm->c->nodes[n].op;
    if (op != IR_OP_SIGMOID && op != IR_OP_TANH)
        return false;
    int w = node_width(vm, n), runs, len;
    row_runs(nr, w, X.rs == w, &runs, &len);
    for (int r = 0; r < runs; r++)
        run_poly(op, X.p + (size_t)r * X.rs, o + (size_t)r * len, len);
    return true;
}

/* One-input ops: y = f(x, EXTRA); dx += d df/dx. DECL declares what EXTRA names (for BOUNDED
 * ops, the bounds) and PARAMS the same as parameters of the run functions; for UNARY ops all
 * are empty. */
#define ONE_INPUT_KERNELS(FWD, BWD, DECL, EXTRA, PARAMS)                            \
    static void run_##FWD(const float *restrict x, float *restrict o, int len PARAMS) \
    {                                                                               \
        ROW_LOOP(len, i, o[i] = op_##FWD##_f(x[i] EXTRA));                          \
    }                                                                               \
    static void kern_##FWD(CellVm *vm, int n, int r0, int nr)                       \
    {                                                                               \
        int w = node_width(vm, n), runs, len;                                       \
        DECL                                                                        \
        Opnd X = operand(vm, n, 0, r0, false);                                      \
        float *o = val_at(vm, n, r0);                                               \
        if (poly_unary(vm, n, X, o, nr))                                            \
            return;                                                                 \
        if (X.cs == 1) {                                                            \
            row_runs(nr, w, X.rs == w, &runs, &len);                                \
            for (int r = 0; r < runs; r++)                                          \
                run_##FWD(X.p + (size_t)r * X.rs, o + (size_t)r * len, len EXTRA);  \
            return;                                                                 \
        }                                                                           \
        for (int r = 0; r < nr; r++)                                                \
            for (int j = 0; j < w; j++)                                             \
                o[(size_t)r * w + j] = op_##FWD##_f(AT(X, r, j) EXTRA);             \
    }                                                                               \
    static void brun_##BWD(const float *restrict g, const float *restrict x,        \
                           const float *restrict o, float *restrict gx, int len PARAMS) \
    {                                                                               \
        ROW_LOOP(len, i, gx[i] += op_##BWD##_f(g[i], x[i] EXTRA, o[i]));            \
    }                                                                               \
    static void kern_##BWD(CellVm *vm, int n, int r0, int nr)                       \
    {                                                                               \
        int w = node_width(vm, n), runs, len;                                       \
        DECL                                                                        \
        Opnd X = operand(vm, n, 0, r0, false), gX = operand(vm, n, 0, r0, true);    \
        if (!gX.p)                                                                  \
            return;                                                                 \
        const float *g = grad_at(vm, n, r0);                                        \
        const float *o = val_at(vm, n, r0);                                         \
        if (X.cs == 1) {                                                            \
            row_runs(nr, w, X.rs == w, &runs, &len);                                \
            for (int r = 0; r < runs; r++)                                          \
                brun_##BWD(g + (size_t)r * len, X.p + (size_t)r * X.rs,             \
                           o + (size_t)r * len, gX.p + (size_t)r * gX.rs, len EXTRA); \
            return;                                                                 \
        }                                                                           \
        for (int r = 0; r < nr; r++)                                                \
            for (int j = 0; j < w; j++) {                                           \
                size_t i = (size_t)r * w + j;                                       \
                AT(gX, r, j) += op_##BWD##_f(g[i], AT(X, r, j) EXTRA, o[i]);        \
            }                                                                       \
    }

/* UNARY: y = f(v); dv += d f'(v). */
#define NO_DECL
#define NO_EXTRA
#define UNARY_KERNELS(FWD, BWD) ONE_INPUT_KERNELS(FWD, BWD, NO_DECL, NO_EXTRA, NO_EXTRA)

/* BINARY: y = f(a, b); da += d df/da, db += d df/db (a scalar side broadcasts). The backward's
 * run function is instantiated per pair of gradients present (HA, HB constants once inlined). */
#define BINARY_KERNELS(FWD, BWD)                                                    \
    static void run_##FWD(const float *restrict a, const float *restrict b,         \
                          float *restrict o, int len)                               \
    {                                                                               \
        ROW_LOOP(len, i, o[i] = op_##FWD##_f(a[i], b[i]));                          \
    }                                                                               \
    static void kern_##FWD(CellVm *vm, int n, int r0, int nr)                       \
    {                                                                               \
        int w = node_width(vm, n), runs, len;                                       \
        Opnd A = operand(vm, n, 0, r0, false), Bo = operand(vm, n, 1, r0, false);   \
        float *o = val_at(vm, n, r0);                                               \
        if (A.cs == 1 && Bo.cs == 1) {                                              \
            row_runs(nr, w, A.rs == w && Bo.rs == w, &runs, &len);                  \
            for (int r = 0; r < runs; r++)                                          \
                run_##FWD(A.p + (size_t)r * A.rs, Bo.p + (size_t)r * Bo.rs,         \
                          o + (size_t)r * len, len);                                \
            return;                                                                 \
        }                                                                           \
        for (int r = 0; r < nr; r++)                                                \
            for (int j = 0; j < w; j++)                                             \
                o[(size_t)r * w + j] = op_##FWD##_f(AT(A, r, j), AT(Bo, r, j));     \
    }                                                                               \
    static inline __attribute__((always_inline)) void brun_##BWD(                   \
        const float *restrict g, const float *restrict a, const float *restrict b,  \
        const float *restrict o, float *restrict ga, float *restrict gb, int len,   \
        bool ha, bool hb)                                                           \
    {                                                                               \
        ROW_LOOP(len, i, {                                                          \
            float da;                                                               \
            float db;                                                               \
            op_##BWD##_f(g[i], a[i], b[i], o[i], &da, &db);                         \
            if (ha) ga[i] += da;                                                    \
            if (hb) gb[i] += db;                                                    \
        });                                                                         \
    }                                                                               \
    static void brows_##BWD(Opnd A, Opnd Bo, Opnd gA, Opnd gB, const float *g,      \
                            const float *o, int nr, int w)                          \
    {                                                                               \
        int runs, len;                                                              \
        row_runs(nr, w, A.rs == w && Bo.rs == w, &runs, &len);                      \
        for (int r = 0; r < runs; r++) {                                            \
            const float *gr = g + (size_t)r * len, *orow = o + (size_t)r * len;     \
            const float *ar = A.p + (size_t)r * A.rs, *br = Bo.p + (size_t)r * Bo.rs; \
            float *ga = gA.p ? gA.p + (size_t)r * gA.rs : NULL;                     \
            float *gb = gB.p ? gB.p + (size_t)r * gB.rs : NULL;                     \
            if (ga && gb)                                                           \
                brun_##BWD(gr, ar, br, orow, ga, gb, len, true, true);              \
            else if (ga)                                                            \
                brun_##BWD(gr, ar, br, orow, ga, NULL, len, true, false);           \
            else                                                                    \
                brun_##BWD(gr, ar, br, orow, NULL, gb, len, false, true);           \
        }                                                                           \
    }                                                                               \
    static void kern_##BWD(CellVm *vm, int n, int r0, int nr)                       \
    {                                                                               \
        int w = node_width(vm, n);                                                  \
        Opnd A = operand(vm, n, 0, r0, false), Bo = operand(vm, n, 1, r0, false);   \
        Opnd gA = operand(vm, n, 0, r0, true), gB = operand(vm, n, 1, r0, true);    \
        const float *g = grad_at(vm, n, r0);                                        \
        const float *o = val_at(vm, n, r0);                                         \
        if (!gA.p && !gB.p)                                                         \
            return;                                                                 \
        if (A.cs == 1 && Bo.cs == 1 && gA.p != gB.p) {                              \
            brows_##BWD(A, Bo, gA, gB, g, o, nr, w);                                \
            return;                                                                 \
        }                                                                           \
        for (int r = 0; r < nr; r++)                                                \
            for (int j = 0; j < w; j++) {                                           \
                size_t i = (size_t)r * w + j;                                       \
                float da, db;                                                       \
                op_##BWD##_f(g[i], AT(A, r, j), AT(Bo, r, j), o[i], &da, &db);      \
                if (gA.p) AT(gA, r, j) += da;                                       \
                if (gB.p) AT(gB, r, j) += db;                                       \
            }                                                                       \
    }

/* BOUNDED: y = f(x, lo, hi) with constant scalar parameters (CONST nodes, checked by
 * check_cell; hi is 0 for a one-parameter op); dx += d df/dx. The parameters get no gradient. */
#define BOUNDS_DECL                                                                 \
    const IrNode *nd = &vm->c->nodes[n];                                            \
    float lo = (float)vm->c->nodes[nd->in[1]].value;                                \
    float hi = nd->nin > 2 ? (float)vm->c->nodes[nd->in[2]].value : 0.0f;
#define BOUNDS_EXTRA , lo, hi
#define BOUNDS_PARAMS , float lo, float hi
#define BOUNDED_KERNELS(FWD, BWD) \
    ONE_INPUT_KERNELS(FWD, BWD, BOUNDS_DECL, BOUNDS_EXTRA, BOUNDS_PARAMS)

/* The other shapes have hand-written kernels (above and below). */
#define LEAF_KERNELS(FWD, BWD)
#define MATVEC_KERNELS(FWD, BWD)
#define CONCAT_KERNELS(FWD, BWD)
#define SLICE_KERNELS(FWD, BWD)

/* One pair of kernels per elementwise row of ops.def. */
#define IR_OP(name, spelling, arity, shape, call, fwd, bwd, onnx) shape##_KERNELS(fwd, bwd)
#include "ir/ops.def"
#undef IR_OP

/* ---- concat and slice ------------------------------------------------------------------ */

/* y = [a, b, ...]: each input's columns land at a running offset. */
static void kern_concat(CellVm *vm, int n, int r0, int nr)
{
    const IrNode *nd = &vm->c->nodes[n];
    int w = nd->width, off = 0;
    float *o = val_at(vm, n, r0);
    for (int k = 0; k < nd->nin; k++) {
        int wk = vm->c->nodes[nd->in[k]].width;
        Opnd A = operand(vm, n, k, r0, false);
        for (int r = 0; r < nr; r++)
            memcpy(o + (size_t)r * w + off, A.p + (size_t)r * A.rs, sizeof(float) * wk);
        off += wk;
    }
}

/* d input_k += the matching columns of d y. */
static void kern_concat_grad(CellVm *vm, int n, int r0, int nr)
{
    const IrNode *nd = &vm->c->nodes[n];
    int w = nd->width, off = 0;
    const float *g = grad_at(vm, n, r0);
    for (int k = 0; k < nd->nin; k++) {
        int wk = vm->c->nodes[nd->in[k]].width;
        Opnd gA = operand(vm, n, k, r0, true);
        if (gA.p)
            for (int r = 0; r < nr; r++)
                kern_vadd((size_t)wk, g + (size_t)r * w + off, gA.p + (size_t)r * gA.rs);
        off += wk;
    }
}

/* y = v[aux .. aux + width) (one part of chunk). */
static void kern_slice(CellVm *vm, int n, int r0, int nr)
{
    const IrNode *nd = &vm->c->nodes[n];
    int w = nd->width;
    Opnd A = operand(vm, n, 0, r0, false);
    float *o = val_at(vm, n, r0);
    for (int r = 0; r < nr; r++)
        memcpy(o + (size_t)r * w, A.p + (size_t)r * A.rs + nd->aux, sizeof(float) * w);
}

/* d v[aux + j] += d y[j]. */
static void kern_slice_grad(CellVm *vm, int n, int r0, int nr)
{
    const IrNode *nd = &vm->c->nodes[n];
    int w = nd->width;
    Opnd gA = operand(vm, n, 0, r0, true);
    if (!gA.p)
        return;
    const float *g = grad_at(vm, n, r0);
    for (int r = 0; r < nr; r++)
        kern_vadd((size_t)w, g + (size_t)r * w, gA.p + (size_t)r * gA.rs + nd->aux);
}

/* ---- the op tables, from ops.def ---------------------------------------------------------- */

const CellOpFn cellvm_op_fwd[IR_OP_COUNT] = {
#define IR_OP(name, spelling, arity, shape, call, fwd, bwd, onnx) [IR_OP_##name] = kern_##fwd,
#include "ir/ops.def"
#undef IR_OP
};

const CellOpFn cellvm_op_bwd[IR_OP_COUNT] = {
#define IR_OP(name, spelling, arity, shape, call, fwd, bwd, onnx) [IR_OP_##name] = kern_##bwd,
#include "ir/ops.def"
#undef IR_OP
};

bool cellvm_rowwise_op(IrOpKind op)
{
    return op != IR_OP_MATVEC && op != IR_OP_STATE && op != IR_OP_INPUT && op != IR_OP_PARAM;
}
