/* sema_size: size expressions -- the numbers of a model (sizes, counts, initialiser bounds)
 * evaluated from numbers, consts, vocab/classes and bound names, with the errors that explain
 * an unbound vocab or classes. Used by every part of sema; calls only sema_util.c. */
#include <math.h>
#include <string.h>

#include "lang/sema_int.h"

/* vocab or classes: its bound value, a placeholder (allow_auto), or an error that says how to
 * bind it. */
int sema_auto_size(Sema *s, bool classes, SrcRange at, double *out)
{
    bool bound = classes ? s->classes_bound : s->vocab_bound;
    if (classes)
        s->classes_used = true;
    else
        s->vocab_used = true;
    if (bound) {
        *out = classes ? s->classes : s->vocab;
        return 0;
    }
    if (s->opts->allow_auto) {
        if (classes)
            s->opts->classes_auto = true;
        else
            s->opts->vocab_auto = true;
        *out = classes ? s->opts->auto_classes : s->opts->auto_vocab;
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

/* Evaluates a const on first use (consts may use vocab, which the model input binds). */
static int const_value(Sema *s, SemaConst *c, double *out)
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
    if (sema_eval(s, c->decl->a, NULL, &c->value) < 0) {
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
static int eval_name(Sema *s, const AstNode *e, const SemaEnv *env, double *out)
{
    for (int i = env ? env->n - 1 : -1; i >= 0; i--)
        if (strcmp(env->b[i].name, e->name) == 0) {
            *out = env->b[i].value;
            return 0;
        }
    if (strcmp(e->name, "vocab") == 0)
        return sema_auto_size(s, false, e->loc, out);
    if (strcmp(e->name, "classes") == 0)
        return sema_auto_size(s, true, e->loc, out);
    SemaConst *c = sema_find_const(s, e->name);
    if (c)
        return const_value(s, c, out);
    unknown_size_name(s, e, env);
    return -1;
}

/* a (+|-|*|/) b; '@' (matrix times vector) is not a number. */
static int eval_binary(Sema *s, const AstNode *e, const SemaEnv *env, double *out)
{
    double a, b;
    if (e->op == '@') {
        diag_error(s->d, e->loc, "'@' multiplies a matrix by a vector; a size needs a number");
        return -1;
    }
    if (sema_eval(s, e->a, env, &a) < 0 || sema_eval(s, e->b, env, &b) < 0)
        return -1;
    switch (e->op) {
    case '+': *out = a + b; return 0;
    case '-': *out = a - b; return 0;
    case '*': *out = a * b; return 0;
    case '/':
        if (b == 0) {
            diag_error(s->d, e->loc, "division by zero");
            return -1;
        }
        *out = a / b;
        return 0;
    }
    diag_error(s->d, e->loc, "expected a number here");
    return -1;
}

/* sqrt|exp|log|abs(x): the only functions a number may call. */
static int eval_call(Sema *s, const AstNode *e, const SemaEnv *env, double *out)
{
    static const char *const fns[] = { "sqrt", "exp", "log", "abs" };
    enum { FN_SQRT, FN_EXP, FN_LOG, FN_ABS, NFNS };
    int f = -1;
    double a;
    for (int i = 0; i < NFNS; i++)
        if (strcmp(e->name, fns[i]) == 0)
            f = i;
    if (f < 0 || !e->has_parens) {
        const char *sug = sema_suggest(e->name, fns, NFNS);
        DiagMessage *m = diag_error(s->d, e->name_loc.src ? e->name_loc : e->loc,
                                    "'%s' cannot be used in a number here%s%s%s", e->name,
                                    sug ? "; did you mean '" : "", sug ? sug : "",
                                    sug ? "'?" : "");
        diag_help(m, "numbers may use + - * /, sqrt, exp, log and abs");
        return -1;
    }
    if (e->list.n != 1 || e->list.items[0]->kind == AST_NAMED_ARG) {
        diag_error(s->d, e->loc, "%s takes one argument, got %d", e->name, e->list.n);
        return -1;
    }
    if (sema_eval(s, e->list.items[0], env, &a) < 0)
        return -1;
    if ((f == FN_SQRT && a < 0) || (f == FN_LOG && a <= 0)) {
        diag_error(s->d, e->loc, "%s of %g is not a real number", e->name, a);
        return -1;
    }
    *out = f == FN_SQRT ? sqrt(a) : f == FN_EXP ? exp(a) : f == FN_LOG ? log(a) : fabs(a);
    return 0;
}

/* expr := NUM | NAME | expr (+|-|*|/) expr | -expr | sqrt|exp|log|abs(expr) | (expr)
 * Evaluates a number used as a size, count or initialiser bound. */
int sema_eval(Sema *s, const AstNode *e, const SemaEnv *env, double *out)
{
    double a;
    switch (e->kind) {
    case AST_NUM:
        *out = e->num;
        return 0;
    case AST_IDENT:
        return eval_name(s, e, env, out);
    case AST_UNARY:
        if (sema_eval(s, e->a, env, &a) < 0)
            return -1;
        *out = -a;
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

/* Evaluates an integer size and checks its range. */
int sema_eval_size(Sema *s, const AstNode *e, const SemaEnv *env, const char *what,
                   bool allow_zero, int *out)
{
    double v;
    if (sema_eval(s, e, env, &v) < 0)
        return -1;
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
    return 0;
}
