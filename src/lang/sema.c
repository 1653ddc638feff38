/* sema: the top level of semantic analysis. Parses the prelude and the user's file, collects
 * the top-level items (format, consts, cells, the model, data, train), evaluates size
 * expressions, and drives the model and settings passes (sema_model.c, sema_settings.c). */
#include "lang/sema.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lang/prelude.h"
#include "lang/sema_int.h"

static const char *const builtin_layer_names[] = {
    "embedding", "onehot", "dense", "dropout", "layernorm", "pool", "concat", "add", "softmax",
};

/* ---- small helpers shared by the sema parts ------------------------------------------ */

/* Reports out of memory once per compile (there is nothing better to do). */
void sema_oom(Sema *s)
{
    diag_error_in(s->d, "recur", "out of memory");
}

/* Makes room for element n in a growable array kept in the model arena (doubling; the old
 * block stays in the arena, which is freed as a whole). */
void *sema_grow(Sema *s, void *arr, int n, int *cap, size_t elem)
{
    if (n < *cap)
        return arr;
    int ncap = *cap ? *cap * 2 : 8;
    void *p = arena_alloc(&s->m->arena, (size_t)ncap * elem);
    if (!p) {
        sema_oom(s);
        return NULL;
    }
    if (arr && n)
        memcpy(p, arr, (size_t)n * elem);
    *cap = ncap;
    return p;
}

/* A copy of str owned by the model. */
char *sema_strdup(Sema *s, const char *str)
{
    char *p = arena_strndup(&s->m->arena, str, strlen(str));
    if (!p)
        sema_oom(s);
    return p;
}

/* printf into the model arena. */
char *sema_fmt(Sema *s, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return sema_strdup(s, buf);
}

/* The text under r when it is short and on one line (for messages that quote an operand). */
const char *sema_snippet(SrcRange r, char *buf, size_t n)
{
    if (!r.src || r.end <= r.begin || r.end > r.src->len || r.end - r.begin >= n ||
        r.end - r.begin > 40)
        return NULL;
    for (uint32_t i = r.begin; i < r.end; i++)
        if (r.src->text[i] == '\n')
            return NULL;
    memcpy(buf, r.src->text + r.begin, r.end - r.begin);
    buf[r.end - r.begin] = '\0';
    return buf;
}

/* Joins names with ", " into buf, truncating with "..." when it does not fit. */
const char *sema_join(const char *const *names, int n, char *buf, size_t cap)
{
    size_t len = 0;
    buf[0] = '\0';
    for (int i = 0; i < n; i++) {
        size_t k = strlen(names[i]);
        if (len + k + 8 >= cap) {
            snprintf(buf + len, cap - len, "...");
            break;
        }
        len += (size_t)snprintf(buf + len, cap - len, "%s%s", i ? ", " : "", names[i]);
    }
    return buf;
}

/* diag_suggest, but no guesses for one- or two-letter names ('V' is not a typo of 'x'). */
const char *sema_suggest(const char *name, const char *const *cand, int n)
{
    return strlen(name) > 2 ? diag_suggest(name, cand, n) : NULL;
}

/* Finds a cell definition by name. */
SemaCellDef *sema_find_cell(Sema *s, const char *name)
{
    for (int i = 0; i < s->ncells; i++)
        if (strcmp(s->cells[i].name, name) == 0)
            return &s->cells[i];
    return NULL;
}

static SemaConst *find_const(Sema *s, const char *name)
{
    for (int i = 0; i < s->nconsts; i++)
        if (strcmp(s->consts[i].name, name) == 0)
            return &s->consts[i];
    return NULL;
}

/* ---- size expressions ---------------------------------------------------------------- */

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
        diag_help(m, "pass --set %s=N, or give data whose %s fixes it", nm,
                  classes ? "labels" : "vocabulary");
    }
    return -1;
}

/* Evaluates a const on first use (consts may use vocab, which the model input binds). */
static int const_value(Sema *s, SemaConst *c, double *out)
{
    if (c->state == 2) {
        *out = c->value;
        return 0;
    }
    if (c->state == 3)
        return -1;
    if (c->state == 1) {
        diag_error(s->d, c->decl->loc, "const '%s' is defined in terms of itself", c->name);
        c->state = 3;
        return -1;
    }
    c->state = 1;
    if (sema_eval(s, c->decl->a, NULL, &c->value) < 0) {
        c->state = 3;
        return -1;
    }
    if (c->state == 3)
        return -1;
    c->state = 2;
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

/* expr := NUM | NAME | expr (+|-|*|/) expr | -expr | sqrt|exp|log|abs(expr) | (expr)
 * Evaluates a number used as a size, count or initialiser bound. */
int sema_eval(Sema *s, const AstNode *e, const SemaEnv *env, double *out)
{
    double a, b;
    switch (e->kind) {
    case AST_NUM:
        *out = e->num;
        return 0;
    case AST_IDENT:
        for (int i = env ? env->n - 1 : -1; i >= 0; i--)
            if (strcmp(env->b[i].name, e->name) == 0) {
                *out = env->b[i].value;
                return 0;
            }
        if (strcmp(e->name, "vocab") == 0)
            return sema_auto_size(s, false, e->loc, out);
        if (strcmp(e->name, "classes") == 0)
            return sema_auto_size(s, true, e->loc, out);
        {
            SemaConst *c = find_const(s, e->name);
            if (c)
                return const_value(s, c, out);
        }
        unknown_size_name(s, e, env);
        return -1;
    case AST_UNARY:
        if (sema_eval(s, e->a, env, &a) < 0)
            return -1;
        *out = -a;
        return 0;
    case AST_BINARY:
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
        break;
    case AST_CALL: {
        static const char *const fns[] = { "sqrt", "exp", "log", "abs" };
        int f = -1;
        for (int i = 0; i < 4; i++)
            if (strcmp(e->name, fns[i]) == 0)
                f = i;
        if (f < 0 || !e->has_parens) {
            const char *sug = sema_suggest(e->name, fns, 4);
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
        if ((f == 0 && a < 0) || (f == 2 && a <= 0)) {
            diag_error(s->d, e->loc, "%s of %g is not a real number", e->name, a);
            return -1;
        }
        *out = f == 0 ? sqrt(a) : f == 1 ? exp(a) : f == 2 ? log(a) : fabs(a);
        return 0;
    }
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

/* ---- top-level items ----------------------------------------------------------------- */

static bool is_builtin_layer(const char *name)
{
    for (size_t i = 0; i < sizeof builtin_layer_names / sizeof *builtin_layer_names; i++)
        if (strcmp(builtin_layer_names[i], name) == 0)
            return true;
    return false;
}

/* cell NAME(params) { ... }: records a definition, refusing duplicates and built-in names. */
static int add_cell(Sema *s, const AstNode *it, bool prelude)
{
    char pos[32];
    SemaCellDef *old = sema_find_cell(s, it->name);
    if (old) {
        DiagMessage *m;
        if (old->prelude)
            m = diag_error(s->d, it->name_loc, "cell '%s' has the name of a built-in cell",
                           it->name);
        else
            m = diag_error(s->d, it->name_loc, "cell '%s' is already defined at %s", it->name,
                           diag_pos(old->def->loc, pos, sizeof pos));
        diag_help(m, "give the cell another name");
        return -1;
    }
    if (is_builtin_layer(it->name) || strcmp(it->name, "input") == 0) {
        DiagMessage *m = diag_error(s->d, it->name_loc,
                                    "cell '%s' has the name of a built-in layer", it->name);
        diag_help(m, "give the cell another name");
        return -1;
    }
    SemaCellDef *c = arena_alloc(&s->tmp, sizeof *c * (size_t)(s->ncells + 1));
    if (!c) {
        sema_oom(s);
        return -1;
    }
    if (s->ncells)
        memcpy(c, s->cells, sizeof *c * (size_t)s->ncells);
    s->cells = c;
    c[s->ncells].name = it->name;
    c[s->ncells].def = it;
    c[s->ncells].prelude = prelude;
    s->ncells++;
    return 0;
}

/* const NAME = expr: records a lazily evaluated constant. */
static int add_const(Sema *s, const AstNode *it)
{
    char pos[32];
    if (strcmp(it->name, "vocab") == 0 || strcmp(it->name, "classes") == 0) {
        DiagMessage *m = diag_error(s->d, it->name_loc, "'%s' is a reserved size name",
                                    it->name);
        diag_help(m, "bind it with `input tokens(%s=N)` or --set %s=N", it->name, it->name);
        return -1;
    }
    SemaConst *old = find_const(s, it->name);
    if (old) {
        diag_error(s->d, it->name_loc, "const '%s' is already defined at %s", it->name,
                   diag_pos(old->decl->loc, pos, sizeof pos));
        return -1;
    }
    SemaConst *c = arena_alloc(&s->tmp, sizeof *c * (size_t)(s->nconsts + 1));
    if (!c) {
        sema_oom(s);
        return -1;
    }
    if (s->nconsts)
        memcpy(c, s->consts, sizeof *c * (size_t)s->nconsts);
    s->consts = c;
    c[s->nconsts].name = it->name;
    c[s->nconsts].decl = it;
    s->nconsts++;
    return 0;
}

/* Applies --set overrides of vocab, classes and consts (number values only). */
static int apply_size_sets(Sema *s)
{
    int rc = 0;
    for (int i = 0; i < s->nsets; i++) {
        SemaSet *st = &s->sets[i];
        bool isv = strcmp(st->name, "vocab") == 0, isc = strcmp(st->name, "classes") == 0;
        SemaConst *c = find_const(s, st->name);
        if (!isv && !isc && !c)
            continue;
        st->used = true;
        if (st->value.kind != IR_VAL_NUM) {
            diag_error_in(s->d, "--set", "%s: '%s' needs a number", st->text, st->name);
            rc = -1;
            continue;
        }
        double v = st->value.num;
        if ((isv || isc) && (v != floor(v) || v < 1 || v > SEMA_MAX_SIZE)) {
            diag_error_in(s->d, "--set", "%s: %s must be an integer of at least 1, got %g",
                          st->text, st->name, v);
            rc = -1;
            continue;
        }
        if (isv) {
            s->vocab_bound = true;
            s->vocab = (int)v;
        } else if (isc) {
            s->classes_bound = true;
            s->classes = (int)v;
        } else {
            c->state = 2;
            c->value = v;
        }
    }
    return rc;
}

/* The prelude as a Source of d, added once and reused by later compiles on the same Diag. */
static const Source *prelude_source(Diag *d)
{
    for (int i = 0; i < d->nsources; i++)
        if (strcmp(d->sources[i]->name, "<prelude>") == 0)
            return d->sources[i];
    return diag_add_source(d, "<prelude>", lang_prelude_text, lang_prelude_len);
}

/* Walks the top-level items of one file. The model/data/train items are returned. */
static int collect_items(Sema *s, const AstNode *file, bool prelude, const AstNode **model,
                         const AstNode **data, const AstNode **train)
{
    char pos[32];
    int rc = 0;
    for (int i = 0; file && i < file->list.n; i++) {
        const AstNode *it = file->list.items[i];
        const AstNode **slot = NULL;
        const char *what = NULL;
        switch (it->kind) {
        case AST_FORMAT:
            if (it->num != 1) {
                DiagMessage *m = diag_error(s->d, it->loc, "unsupported format %g", it->num);
                diag_help(m, "this version of recur reads `format 1`");
                rc = -1;
            }
            break;
        case AST_CONST:
            if (add_const(s, it) < 0)
                rc = -1;
            break;
        case AST_CELL:
            if (add_cell(s, it, prelude) < 0)
                rc = -1;
            break;
        case AST_MODEL: slot = model; what = "model"; break;
        case AST_DATA: slot = data; what = "data"; break;
        case AST_TRAIN: slot = train; what = "train"; break;
        default:
            break;
        }
        if (!slot)
            continue;
        if (prelude) {
            diag_error(s->d, it->loc, "the prelude may only define cells and consts");
            rc = -1;
        } else if (*slot) {
            DiagMessage *m = diag_error(s->d, it->loc, "a second '%s' block", what);
            diag_help(m, "a file has at most one %s block; the first is at %s", what,
                      diag_pos((*slot)->loc, pos, sizeof pos));
            rc = -1;
        } else {
            *slot = it;
        }
    }
    return rc;
}

/* Frees everything the compile allocated; returns NULL for convenience. */
static IrModel *fail(Sema *s)
{
    ir_model_free(s->m);
    arena_free(&s->tmp);
    return NULL;
}

IrModel *sema_compile(Diag *d, const Source *src, const char *const *sets, int nsets)
{
    return sema_compile_opts(d, src, sets, nsets, NULL);
}

/* Parses the prelude and src, then analyses and builds the model (see sema.h). */
IrModel *sema_compile_opts(Diag *d, const Source *src, const char *const *sets, int nsets,
                           SemaOptions *opts)
{
    SemaOptions dflt = { 0 };
    Sema s = { 0 };
    s.d = d;
    s.src = src;
    s.opts = opts ? opts : &dflt;
    s.opts->vocab_auto = s.opts->classes_auto = false;
    if (s.opts->auto_vocab <= 0)
        s.opts->auto_vocab = 1000;
    if (s.opts->auto_classes <= 0)
        s.opts->auto_classes = 1000;
    s.m = calloc(1, sizeof *s.m);
    if (!s.m) {
        sema_oom(&s);
        return NULL;
    }
    s.m->source = src;
    s.m->vocab = s.m->classes = -1;
    s.m->output = -1;

    int errors0 = diag_error_count(d);
    const Source *pre = prelude_source(d);
    if (!pre)
        return fail(&s);
    AstNode *pfile = parse_source(pre, &s.tmp, d);
    AstNode *ufile = parse_source(src, &s.tmp, d);
    if (!pfile || !ufile || diag_error_count(d) > errors0)
        return fail(&s);

    const AstNode *model = NULL, *data = NULL, *train = NULL;
    if (sema_parse_sets(&s, sets, nsets) < 0)
        return fail(&s);
    collect_items(&s, pfile, true, &model, &data, &train);
    collect_items(&s, ufile, false, &model, &data, &train);
    apply_size_sets(&s);
    if (!model) {
        DiagMessage *m = diag_error(d, (SrcRange){ src, 0, 0 }, "the file has no model block");
        diag_help(m, "add `model NAME { input tokens(vocab=auto) ... }`");
    } else {
        s.m->name = sema_strdup(&s, model->name ? model->name : "model");
        if (!s.vocab_bound)
            sema_bind_input_vocab(&s, model);
        sema_model(&s, model);
    }
    if (data)
        sema_settings(&s, data, false);
    if (train)
        sema_settings(&s, train, true);
    sema_apply_sets(&s);
    sema_settings_config(&s);

    if (diag_error_count(d) > errors0)
        return fail(&s);
    if (s.vocab_used)
        s.m->vocab = s.vocab_bound ? s.vocab : s.opts->auto_vocab;
    if (s.classes_used)
        s.m->classes = s.classes_bound ? s.classes : s.opts->auto_classes;
    arena_free(&s.tmp);
    return s.m;
}
