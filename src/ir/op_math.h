/* op_math: the scalar math of every elementwise op of ops.def, written once. cellvm runs it in
 * float (the interpreter's precision) and sema's constant folder in double (IrNode.value).
 *
 * How one formula serves both types: OP_MATH_DEFINE(T, S, F) below holds every formula once,
 * over a scalar type T, naming its functions with the suffix S and calling the libm function
 * of that type through the suffix F (exp##F is expf for F = f, exp for an empty F); it is
 * expanded twice, giving op_<name>_f (float) and op_<name>_d (double). The float versions are
 * the expressions cellvm has always evaluated, operation for operation, so results are
 * unchanged bit for bit; literals are cast to T so that float math stays in float.
 *
 * Per op (the names in ops.def's FWD and BWD columns):
 *   UNARY    op_<fwd>(v) -> y           op_<bwd>(d, v, y) -> d * dy/dv
 *   BINARY   op_<fwd>(a, b) -> y        op_<bwd>(d, a, b, y, &da, &db): d * dy/da, d * dy/db
 *   BOUNDED  op_<fwd>(x, a, b) -> y     op_<bwd>(d, x, a, b, y) -> d * dy/dx, with a, b the
 *            constant parameters (clip's lo and hi; b is 0 and unused for one-parameter ops)
 * where d is the gradient arriving at y. Subgradients at kinks and ties follow PyTorch:
 * relu'(0) = 0, abs'(0) = 0, clip passes the gradient where lo <= x <= hi (torch.clamp),
 * min and max split a tie half and half (torch.minimum / torch.maximum), hardsigmoid's
 * slope is 0 where it saturates (at y = 0 or y = 1, as torch's hardsigmoid at +-3), leakyrelu
 * and elu take the negative side's slope at 0 and thresholdedrelu is flat at x = alpha.
 *
 * Header-only (static inline functions); nothing is allocated. */
#ifndef RECUR_OP_MATH_H
#define RECUR_OP_MATH_H

#include <math.h>

/* The default parameters of ONNX's activations (the ONNX operators' defaults; ScaledTanh and
 * Affine, which ONNX no longer defines as operators, take onnxruntime's), used by sema when a
 * call leaves them out (ir_op_params in ir.c). */
#define OP_HARDSIGMOID_ALPHA 0.2    /* y = max(0, min(1, alpha * x + beta)) */
#define OP_HARDSIGMOID_BETA 0.5
#define OP_LEAKYRELU_ALPHA 0.01
#define OP_THRESHOLDEDRELU_ALPHA 1.0
#define OP_ELU_ALPHA 1.0
#define OP_SCALEDTANH_ALPHA 1.0     /* y = alpha * tanh(beta * x) */
#define OP_SCALEDTANH_BETA 1.0
#define OP_AFFINE_ALPHA 1.0         /* y = alpha * x + beta */
#define OP_AFFINE_BETA 0.0

#define OP_MATH_DEFINE(T, S, F)                                                              \
    /* y = a + b; dy/da = 1, dy/db = 1 */                                                    \
    static inline T op_add_##S(T a, T b) { return a + b; }                                   \
    static inline void op_add_grad_##S(T d, T a, T b, T y, T *da, T *db)                     \
    { (void)a; (void)b; (void)y; *da = d; *db = d; }                                         \
    /* y = a - b; dy/da = 1, dy/db = -1 */                                                   \
    static inline T op_sub_##S(T a, T b) { return a - b; }                                   \
    static inline void op_sub_grad_##S(T d, T a, T b, T y, T *da, T *db)                     \
    { (void)a; (void)b; (void)y; *da = d; *db = -d; }                                        \
    /* y = a * b; dy/da = b, dy/db = a */                                                    \
    static inline T op_mul_##S(T a, T b) { return a * b; }                                   \
    static inline void op_mul_grad_##S(T d, T a, T b, T y, T *da, T *db)                     \
    { (void)y; *da = d * b; *db = d * a; }                                                   \
    /* y = a / b; dy/da = 1/b, dy/db = -a/b^2 = -y/b */                                      \
    static inline T op_div_##S(T a, T b) { return a / b; }                                   \
    static inline void op_div_grad_##S(T d, T a, T b, T y, T *da, T *db)                     \
    { (void)a; *da = d / b; *db = -d * y / b; }                                              \
    /* y = min(a, b); the smaller side gets d, a tie gives each side d/2 */                  \
    static inline T op_min_##S(T a, T b) { return a < b ? a : b; }                           \
    static inline void op_min_grad_##S(T d, T a, T b, T y, T *da, T *db)                     \
    {                                                                                        \
        (void)y;                                                                             \
        *da = a < b ? d : a == b ? (T)0.5 * d : (T)0;                                        \
        *db = b < a ? d : a == b ? (T)0.5 * d : (T)0;                                        \
    }                                                                                        \
    /* y = max(a, b); the larger side gets d, a tie gives each side d/2 */                   \
    static inline T op_max_##S(T a, T b) { return a > b ? a : b; }                           \
    static inline void op_max_grad_##S(T d, T a, T b, T y, T *da, T *db)                     \
    {                                                                                        \
        (void)y;                                                                             \
        *da = a > b ? d : a == b ? (T)0.5 * d : (T)0;                                        \
        *db = b > a ? d : a == b ? (T)0.5 * d : (T)0;                                        \
    }                                                                                        \
    /* y = -v; y' = -1 */                                                                    \
    static inline T op_neg_##S(T v) { return -v; }                                           \
    static inline T op_neg_grad_##S(T d, T v, T y) { (void)v; (void)y; return -d; }          \
    /* y = 1 / (1 + e^-v); y' = y (1 - y) */                                                 \
    static inline T op_sigmoid_##S(T v) { return (T)1 / ((T)1 + exp##F(-v)); }               \
    static inline T op_sigmoid_grad_##S(T d, T v, T y)                                       \
    { (void)v; return d * y * ((T)1 - y); }                                                  \
    /* y = tanh v; y' = 1 - y^2 */                                                           \
    static inline T op_tanh_##S(T v) { return tanh##F(v); }                                  \
    static inline T op_tanh_grad_##S(T d, T v, T y) { (void)v; return d * ((T)1 - y * y); }  \
    /* y = max(v, 0); y' = [v > 0] */                                                        \
    static inline T op_relu_##S(T v) { return v > 0 ? v : (T)0; }                            \
    static inline T op_relu_grad_##S(T d, T v, T y) { (void)y; return v > 0 ? d : (T)0; }    \
    /* y = e^v; y' = y */                                                                    \
    static inline T op_exp_##S(T v) { return exp##F(v); }                                    \
    static inline T op_exp_grad_##S(T d, T v, T y) { (void)v; return d * y; }                \
    /* y = log v; y' = 1 / v */                                                              \
    static inline T op_log_##S(T v) { return log##F(v); }                                    \
    static inline T op_log_grad_##S(T d, T v, T y) { (void)y; return d / v; }                \
    /* y = sqrt v; y' = 1 / (2 y) */                                                         \
    static inline T op_sqrt_##S(T v) { return sqrt##F(v); }                                  \
    static inline T op_sqrt_grad_##S(T d, T v, T y) { (void)v; return d * (T)0.5 / y; }      \
    /* y = |v|; y' = sign v (0 at 0) */                                                      \
    static inline T op_abs_##S(T v) { return fabs##F(v); }                                   \
    static inline T op_abs_grad_##S(T d, T v, T y)                                           \
    { (void)y; return v > 0 ? d : (v < 0 ? -d : (T)0); }                                     \
    /* y = log(1 + e^v), computed without overflow as v + log(1 + e^-v) for v > 0;           \
     * y' = sigmoid(v) */                                                                    \
    static inline T op_softplus_##S(T v)                                                     \
    { return v > 0 ? v + log1p##F(exp##F(-v)) : log1p##F(exp##F(v)); }                       \
    static inline T op_softplus_grad_##S(T d, T v, T y)                                      \
    { (void)y; return d * op_sigmoid_##S(v); }                                               \
    /* y = v / (1 + |v|); y' = 1 / (1 + |v|)^2 */                                         \
    static inline T op_softsign_##S(T v) { return v / ((T)1 + fabs##F(v)); }                 \
    static inline T op_softsign_grad_##S(T d, T v, T y)                                      \
    { (void)y; T u = (T)1 + fabs##F(v); return d / (u * u); }                                \
    /* y = max(0, min(1, a x + b)); dy/dx = a where 0 < y < 1, else 0 */                     \
    static inline T op_hardsigmoid_##S(T x, T a, T b)                                        \
    {                                                                                        \
        T z = a * x + b;                                                                     \
        return z < 0 ? (T)0 : z > 1 ? (T)1 : z;                                              \
    }                                                                                        \
    static inline T op_hardsigmoid_grad_##S(T d, T x, T a, T b, T y)                         \
    { (void)x; (void)b; return y > 0 && y < 1 ? a * d : (T)0; }                              \
    /* y = x if x >= 0 else a x; dy/dx = 1 for x > 0, else a (torch.nn.LeakyReLU) */         \
    static inline T op_leakyrelu_##S(T x, T a, T unused)                                     \
    { (void)unused; return x >= 0 ? x : a * x; }                                             \
    static inline T op_leakyrelu_grad_##S(T d, T x, T a, T unused, T y)                      \
    { (void)unused; (void)y; return x > 0 ? d : a * d; }                                     \
    /* y = x if x > a else 0; dy/dx = [x > a] (ONNX ThresholdedRelu) */                      \
    static inline T op_thresholdedrelu_##S(T x, T a, T unused)                               \
    { (void)unused; return x > a ? x : (T)0; }                                               \
    static inline T op_thresholdedrelu_grad_##S(T d, T x, T a, T unused, T y)                \
    { (void)unused; (void)y; return x > a ? d : (T)0; }                                      \
    /* y = x if x >= 0 else a (e^x - 1); dy/dx = 1 for x > 0, else y + a = a e^x (torch) */  \
    static inline T op_elu_##S(T x, T a, T unused)                                           \
    { (void)unused; return x >= 0 ? x : a * expm1##F(x); }                                   \
    static inline T op_elu_grad_##S(T d, T x, T a, T unused, T y)                            \
    { (void)unused; return x > 0 ? d : d * (y + a); }                                        \
    /* y = a tanh(b x); dy/dx = a b (1 - tanh^2(b x)) */                                     \
    static inline T op_scaledtanh_##S(T x, T a, T b) { return a * tanh##F(b * x); }          \
    static inline T op_scaledtanh_grad_##S(T d, T x, T a, T b, T y)                          \
    { (void)y; T t = tanh##F(b * x); return d * a * b * ((T)1 - t * t); }                    \
    /* y = a x + b; dy/dx = a */                                                             \
    static inline T op_affine_##S(T x, T a, T b) { return a * x + b; }                       \
    static inline T op_affine_grad_##S(T d, T x, T a, T b, T y)                              \
    { (void)x; (void)b; (void)y; return a * d; }                                             \
    /* y = min(max(x, lo), hi); dy/dx = [lo <= x <= hi] */                                   \
    static inline T op_clip_##S(T x, T lo, T hi) { return x < lo ? lo : x > hi ? hi : x; }   \
    static inline T op_clip_grad_##S(T d, T x, T lo, T hi, T y)                              \
    { (void)y; return x >= lo && x <= hi ? d : (T)0; }

OP_MATH_DEFINE(float, f, f)
OP_MATH_DEFINE(double, d, )

#endif
