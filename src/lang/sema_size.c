/* sema_size: size expressions -- the numbers of a model (sizes, counts, initialiser bounds)
 * evaluated from numbers, consts, vocab/classes and bound names, with the errors that explain
 * an unbound vocab or classes. Each number also carries its form in the unbound vocab/classes
 * (SemaNum), from which the IR's IrSyms are made. Used by every part of sema; calls only
 * sema_util.c (and the op formulas of ir/op_math.h for the functions numbers may call). */
#include <math.h>
#include <string.h>

#include "ir/op_math.h"
#include "lang/sema_int.h"

/* A constant number. */
static SemaNum num_const(double x)
{
    return (SemaNum){ x, x, 0, 0, true };
}

/* Whether x does not depend on an unbound size. */
static bool num_is_const(const SemaNum *x)
{
    return x->affine && x->v == 0 && x->k == 0;
}

/* vocab or classes: its bound value, a placeholder (allow_auto), or an error that says how to
 * bind it. */
int sema_auto_size(Sema *s, bool classes, SrcRange at, SemaNum *out)
{
    bool bound = classes ? s->classes_bound : s->vocab_bound;
    if (classes)
        s->classes_used = true;
    else
        s->vocab_used = true;
    if (bound) {
        *out = num_const(classes ? s->classes : s->vocab);
        return 0;
    }
    if (s->opts->allow_auto) {
        if (classes)
            s->opts->classes_auto = true;
        else
            s->opts->vocab_auto = true;
        *out = (SemaNum){ classes ? s->opts->auto_classes : s->opts->auto_vocab, 0, !classes,
                          classes, true };
        return 0;
    }
    bool *rep = classes ? &s->classes_reported : &s->vocab_reported;
    if (!*rep) {
        *rep = true;
        const char *nm = classes ? "classes" : "vocab";
        DiagMessage *m = diag_error(s->d, at, "the model needs '%s', but nothing gives its value",
                                    nm);
        diag_help(m, "pass %s %s=N, or give data whose %s fixes it", sema_set_what(s), nm,
                  classes ? "labels" : "vocabulary");
    }
    return -1;
}

/* The model's sizes are not all exact forms (see IrSym): --explain shows values. */
void sema_sym_inexact(Sema *s)
{
    s->m->sym_exact = false;
}

/* The form of an integer size n (see sema_int.h). */
IrSym sema_num_sym(Sema *s, const SemaNum *x, int n)
{
    if (x->affine && x->c == floor(x->c) && x->v == floor(x->v) && x->k == floor(x->k) &&
        fabs(x->v) <= SEMA_MAX_SIZE && fabs(x->k) <= SEMA_MAX_SIZE &&
        fabs(x->c) <= 4.0 * SEMA_MAX_SIZE * SEMA_MAX_SIZE)
        return (IrSym){ (int64_t)x->c, (int64_t)x->v, (int64_t)x->k };
    sema_sym_inexact(s);
    return ir_sym_const(n);
}

/* The value of a form at this compile's vocab/classes. */
int sema_sym_int(const Sema *s, IrSym a)
{
    return (int)ir_sym_at(a, s->vocab_bound ? s->vocab : s->opts->auto_vocab,
                          s->classes_bound ? s->classes : s->opts->auto_classes);
}

/* a / d, exact when every coefficient divides (chunk of a vocab-wide vector). */
IrSym sema_sym_div(Sema *s, IrSym a, int d)
{
    if (a.c % d == 0 && a.v % d == 0 && a.k % d == 0)
        return (IrSym){ a.c / d, a.v / d, a.k / d };
    sema_sym_inexact(s);
    return ir_sym_const(sema_sym_int(s, a) / d);
}

/* A width check that held on the values must hold on the forms too. */
void sema_sym_same(Sema *s, IrSym a, IrSym b)
{
    if (!ir_sym_equal(a, b))
        sema_sym_inexact(s);
}

/* Evaluates a const on first use (consts may use vocab, which the model input binds). */
static int const_value(Sema *s, SemaConst *c, SemaNum *out)
{
    if (c->state == SEMA_CONST_DONE) {
        *out = c->value;
        return 0;
    }
    if (c->state == SEMA_CONST_FAILED)
        return -1;
    if (c->state == SEMA_CONST_EVALUATING) {
        diag_error(s->d, c->decl->loc, "const '%s' is defined in terms of itself", c->name);
        c->state = SEMA_CONST_FAILED;
        return -1;
    }
    c->state = SEMA_CONST_EVALUATING;
    if (sema_eval_num(s, c->decl->a, NULL, &c->value) < 0) {
        c->state = SEMA_CONST_FAILED;
        return -1;
    }
    if (c->state == SEMA_CONST_FAILED)
        return -1;
    c->state = SEMA_CONST_DONE;
    *out = c->value;
    return 0;
}

/* Reports an unknown name in a size expression with a suggestion from everything visible. */
static void unknown_size_name(Sema *s, const AstNode *e, const SemaEnv *env)
{
    const char *cand[SEMA_MAX_ENV + 64];
    int n = 0;
    for (int i = 0; env && i < env->n; i++)
        cand[n++] = env->b[i].name;
    for (int i = 0; i < s->nconsts && n < SEMA_MAX_ENV + 60; i++)
        cand[n++] = s->consts[i].name;
    cand[n++] = "vocab";
    cand[n++] = "classes";
    const char *sug = sema_suggest(e->name, cand, n);
    if (sug)
        diag_error(s->d, e->loc, "unknown name '%s'; did you mean '%s'?", e->name, sug);
    else
        diag_error(s->d, e->loc, "unknown name '%s'", e->name);
}

/* A name in a size expression: the innermost env binding, vocab/classes, or a const. */
static int eval_name(Sema *s, const AstNode *e, const SemaEnv *env, SemaNum *out)
{
    for (int i = env ? env->n - 1 : -1; i >= 0; i--)
        if (strcmp(env->b[i].name, e->name) == 0) {
            IrSym y = env->b[i].sym;
            *out = (SemaNum){ env->b[i].value, (double)y.c, (double)y.v, (double)y.k, true };
            return 0;
        }
    if (strcmp(e->name, "vocab") == 0)
        return sema_auto_size(s, false, e->loc, out);
    if (strcmp(e->name, "classes") == 0)
        return sema_auto_size(s, true, e->loc, out);
    SemaConst *c = sema_find_const(s, e->name);
    if (c) {
        c->used = true;
        return const_value(s, c, out);
    }
    unknown_size_name(s, e, env);
    return -1;
}

/* a * b: affine when one side is a constant. */
static SemaNum num_mul(const SemaNum *a, const SemaNum *b)
{
    if (num_is_const(b))
        return (SemaNum){ a->value * b->c, a->c * b->c, a->v * b->c, a->k * b->c, a->affine };
    if (num_is_const(a))
        return num_mul(b, a);
    return (SemaNum){ a->value * b->value, 0, 0, 0, false };
}

/* a (+|-|*|/) b, on the values and on the forms; '@' (matrix times vector) is not a number. */
static int eval_binary(Sema *s, const AstNode *e, const SemaEnv *env, SemaNum *out)
{
    SemaNum a, b;
    if (e->op == '@') {
        diag_error(s->d, e->loc, "'@' multiplies a matrix by a vector; a size needs a number");
        return -1;
    }
    if (sema_eval_num(s, e->a, env, &a) < 0 || sema_eval_num(s, e->b, env, &b) < 0)
        return -1;
    double sign = e->op == '-' ? -1 : 1;
    switch (e->op) {
    case '+':
    case '-':
        *out = (SemaNum){ a.value + sign * b.value, a.c + sign * b.c, a.v + sign * b.v,
                          a.k + sign * b.k, a.affine && b.affine };
        return 0;
    case '*':
        *out = num_mul(&a, &b);
        return 0;
    case '/':
        if (b.value == 0) {
            diag_error(s->d, e->loc, "division by zero");
            return -1;
        }
        if (num_is_const(&b) && b.c != 0)
            *out = (SemaNum){ a.value / b.value, a.c / b.c, a.v / b.c, a.k / b.c, a.affine };
        else
            *out = (SemaNum){ a.value / b.value, 0, 0, 0, false };
        return 0;
    }
    diag_error(s->d, e->loc, "expected a number here");
    return -1;
}

/* The functions a number may call: the unary FUNC rows of ops.def, with their formulas from
 * op_math.h in double (the constant folder's). */
typedef struct NumFunction {
    const char *name;
    double (*f)(double);
} NumFunction;
#define NUM_FN_LEAF(call, spelling, fwd)
#define NUM_FN_MATVEC(call, spelling, fwd)
#define NUM_FN_BINARY(call, spelling, fwd)
#define NUM_FN_BOUNDED(call, spelling, fwd)
#define NUM_FN_CONCAT(call, spelling, fwd)
#define NUM_FN_SLICE(call, spelling, fwd)
#define NUM_FN_UNARY(call, spelling, fwd) NUM_FN_UNARY_##call(spelling, fwd)
#define NUM_FN_UNARY_FUNC(spelling, fwd) { spelling, op_##fwd##_d },
#define NUM_FN_UNARY_SYNTAX(spelling, fwd)
static const NumFunction num_functions[] = {
#define IR_OP(name, spelling, arity, shape, call, fwd, bwd, onnx) NUM_FN_##shape(call, spelling, fwd)
#include "ir/ops.def"
#undef IR_OP
};
enum { NUM_FUNCTIONS = sizeof num_functions / sizeof *num_functions };

/* The function of num_functions called name, or NULL. */
static const NumFunction *num_function(const char *name)
{
    for (int i = 0; i < NUM_FUNCTIONS; i++)
        if (strcmp(num_functions[i].name, name) == 0)
            return &num_functions[i];
    return NULL;
}

/* Whether a number may call name (for initialisers: sqrt(2) is a number, not an init). */
bool sema_is_num_function(const char *name)
{
    return num_function(name) != NULL;
}

/* Reports a call that is not a function of numbers, with a suggestion and the list. */
static void bad_num_call(Sema *s, const AstNode *e)
{
    const char *names[NUM_FUNCTIONS];
    char list[200];
    for (int i = 0; i < NUM_FUNCTIONS; i++)
        names[i] = num_functions[i].name;
    const char *sug = sema_suggest(e->name, names, NUM_FUNCTIONS);
    DiagMessage *m = diag_error(s->d, e->name_loc.src ? e->name_loc : e->loc,
                                "'%s' cannot be used in a number here%s%s%s", e->name,
                                sug ? "; did you mean '" : "", sug ? sug : "", sug ? "'?" : "");
    diag_help(m, "numbers may use + - * / and %s", sema_join(names, NUM_FUNCTIONS, list,
                                                            sizeof list));
}

/* f(x) for a function of num_functions; a function of an unbound size is not affine. */
static int eval_call(Sema *s, const AstNode *e, const SemaEnv *env, SemaNum *out)
{
    const NumFunction *fn = num_function(e->name);
    SemaNum a;
    if (!fn || !e->has_parens) {
        bad_num_call(s, e);
        return -1;
    }
    if (e->list.n != 1 || e->list.items[0]->kind == AST_NAMED_ARG) {
        diag_error(s->d, e->loc, "%s takes one argument, got %d", e->name, e->list.n);
        return -1;
    }
    if (sema_eval_num(s, e->list.items[0], env, &a) < 0)
        return -1;
    double y = fn->f(a.value);
    if (!isfinite(y)) {
        diag_error(s->d, e->loc, "%s of %g is not a real number", e->name, a.value);
        return -1;
    }
    *out = num_is_const(&a) ? num_const(y) : (SemaNum){ y, 0, 0, 0, false };
    return 0;
}

/* expr := NUM | NAME | expr (+|-|*|/) expr | -expr | f(expr) | (expr)
 * Evaluates a number used as a size, count or initialiser bound, with its form. */
int sema_eval_num(Sema *s, const AstNode *e, const SemaEnv *env, SemaNum *out)
{
    SemaNum a;
    switch (e->kind) {
    case AST_NUM:
        *out = num_const(e->num);
        return 0;
    case AST_IDENT:
        return eval_name(s, e, env, out);
    case AST_UNARY:
        if (sema_eval_num(s, e->a, env, &a) < 0)
            return -1;
        *out = (SemaNum){ -a.value, -a.c, -a.v, -a.k, a.affine };
        return 0;
    case AST_BINARY:
        return eval_binary(s, e, env, out);
    case AST_CALL:
        return eval_call(s, e, env, out);
    case AST_ERROR:
        return -1;
    default:
        break;
    }
    diag_error(s->d, e->loc, "expected a number here");
    return -1;
}

/* The value of a number the IR keeps as given; one that depends on an unbound size makes
 * the sizes inexact. */
int sema_eval(Sema *s, const AstNode *e, const SemaEnv *env, double *out)
{
    SemaNum x;
    if (sema_eval_num(s, e, env, &x) < 0)
        return -1;
    if (!num_is_const(&x))
        sema_sym_inexact(s);
    *out = x.value;
    return 0;
}

/* Evaluates an integer size and checks its range; *sym gets its form (NULL: a count, which
 * must not depend on an unbound size). */
int sema_eval_size(Sema *s, const AstNode *e, const SemaEnv *env, const char *what,
                   bool allow_zero, int *out, IrSym *sym)
{
    SemaNum x;
    if (sema_eval_num(s, e, env, &x) < 0)
        return -1;
    double v = x.value;
    if (!isfinite(v) || v != floor(v)) {
        diag_error(s->d, e->loc, "%s must be an integer, got %g", what, v);
        return -1;
    }
    if (v < (allow_zero ? 0 : 1)) {
        diag_error(s->d, e->loc, "%s must be at least %d, got %g", what, allow_zero ? 0 : 1, v);
        return -1;
    }
    if (v > SEMA_MAX_SIZE) {
        diag_error(s->d, e->loc, "%s is too large: %g (the limit is %d)", what, v,
                   SEMA_MAX_SIZE);
        return -1;
    }
    *out = (int)v;
    if (sym)
        *sym = sema_num_sym(s, &x, *out);
    else if (!num_is_const(&x))
        sema_sym_inexact(s);
    return 0;
}
