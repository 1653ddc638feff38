/* sema_settings: the data and train blocks (LANGUAGE.md section 7) and --set NAME=VALUE.
 * Known setting names with did-you-mean, each value checked for its kind (a source call, a
 * loss, an optimizer with its own argument list, a positive integer, ...) and stored as an
 * IrSetting for src/train to interpret. */
#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lang/sema_int.h"

typedef enum VKind { V_SOURCE, V_VALID, V_LOSS, V_OPTIM, V_SCHED, V_CLIP, V_INT1, V_INT0,
                     V_BPTT } VKind;

static const struct {
    const char *name;
    bool train;
    VKind kind;
} settings[] = {
    { "source", false, V_SOURCE }, { "valid", false, V_VALID },
    { "loss", true, V_LOSS }, { "optimizer", true, V_OPTIM }, { "schedule", true, V_SCHED },
    { "clip", true, V_CLIP }, { "batch", true, V_INT1 }, { "bptt", true, V_BPTT },
    { "steps", true, V_INT1 }, { "epochs", true, V_INT1 }, { "seed", true, V_INT0 },
    { "eval_every", true, V_INT0 }, { "checkpoint_every", true, V_INT0 },
    { "log_every", true, V_INT0 },
};
enum { NSETTINGS = sizeof settings / sizeof *settings };

/* A function-like value: its argument names in positional order, each "name:kind[:words]".
 * kinds: s string, b true/false, w one of words, n number >= 0, r number > 0, f in [0, 1),
 * i integer >= 0, p integer >= 1, * anything. The first `required` must be given. */
typedef struct FnSpec {
    const char *name;
    const char *args[6];
    int required;
} FnSpec;

static const FnSpec sources[] = {
    { "text", { "path:s", "level:w:char|byte" }, 1 },
    { "csv", { "path:s", "label:*", "target:*", "header:b", "delimiter:s", "columns:*" }, 1 },
    { "adding", { "length:p" }, 0 },
    { "reber", { "embedded:b" }, 0 },
    { "copy", { "length:p", "delay:i" }, 0 },
};
static const FnSpec losses[] = {
    { "cross_entropy", { "target:w:next_token|label" }, 0 },
    { "mse", { "target:w:target" }, 0 },
};
static const FnSpec optims[] = {
    { "sgd", { "lr:r", "momentum:f", "nesterov:b" }, 0 },
    { "adam", { "lr:r", "beta1:f", "beta2:f", "eps:r", "weight_decay:n" }, 0 },
    { "adamw", { "lr:r", "beta1:f", "beta2:f", "eps:r", "weight_decay:n" }, 0 },
    { "rmsprop", { "lr:r", "alpha:f", "eps:r", "momentum:f", "weight_decay:n" }, 0 },
};
static const FnSpec scheds[] = {
    { "constant", { 0 }, 0 },
    { "step", { "every:p", "factor:r" }, 0 },
    { "cosine", { "warmup:i" }, 0 },
};

/* Reports at loc, or as a --set error when the value came from the command line. */
static DiagMessage *verr(Sema *s, SrcRange loc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static DiagMessage *verr(Sema *s, SrcRange loc, const char *fmt, ...)
{
    char buf[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return loc.src ? diag_error(s->d, loc, "%s", buf) : diag_error_in(s->d, "--set", "%s", buf);
}

/* The names a --set may use besides consts, vocab and classes. */
int sema_setting_names(const char **out, int cap)
{
    int n = 0;
    for (int i = 0; i < NSETTINGS && n < cap; i++)
        out[n++] = settings[i].name;
    return n;
}

/* ---- AST values to IrValues ----------------------------------------------------------- */

/* true when e is an arithmetic expression over numbers and consts (folded to one number). */
static bool numeric(Sema *s, const AstNode *e)
{
    switch (e->kind) {
    case AST_NUM: return true;
    case AST_UNARY: return numeric(s, e->a);
    case AST_BINARY: return e->op != '@' && numeric(s, e->a) && numeric(s, e->b);
    case AST_IDENT:
        for (int i = 0; i < s->nconsts; i++)
            if (strcmp(s->consts[i].name, e->name) == 0)
                return true;
        return !strcmp(e->name, "vocab") || !strcmp(e->name, "classes");
    default: return false;
    }
}

/* Converts a setting's expression into an IrValue in the model arena. */
static int to_value(Sema *s, const AstNode *e, IrValue *v)
{
    memset(v, 0, sizeof *v);
    v->loc = e->loc;
    if (numeric(s, e)) {
        v->kind = IR_VAL_NUM;
        return sema_eval(s, e, NULL, &v->num);
    }
    switch (e->kind) {
    case AST_IDENT:
    case AST_STRING:
        v->kind = e->kind == AST_IDENT ? IR_VAL_IDENT : IR_VAL_STR;
        v->str = sema_strdup(s, e->name);
        return v->str ? 0 : -1;
    case AST_CALL:
        v->kind = IR_VAL_CALL;
        v->str = sema_strdup(s, e->name);
        v->nargs = e->list.n;
        v->args = arena_alloc(&s->m->arena, sizeof *v->args * (size_t)(e->list.n + 1));
        if (!v->str || !v->args) {
            sema_oom(s);
            return -1;
        }
        for (int i = 0; i < e->list.n; i++) {
            const AstNode *a = e->list.items[i];
            if (a->kind == AST_NAMED_ARG) {
                v->args[i].name = sema_strdup(s, a->name);
                a = a->a;
            }
            if (to_value(s, a, &v->args[i].value) < 0)
                return -1;
        }
        return 0;
    case AST_ERROR:
        return -1;
    default:
        diag_error(s->d, e->loc, "a setting's value is a number, a word, a \"string\" or a "
                   "call such as adam(lr=0.01)");
        return -1;
    }
}

/* ---- validation ------------------------------------------------------------------------ */

/* Checks one argument value against its kind letter (see FnSpec). */
static int check_kind(Sema *s, const IrValue *v, const char *fn, const char *arg, char kind,
                      const char *words)
{
    char list[200];
    switch (kind) {
    case 's':
        if (v->kind != IR_VAL_STR) {
            verr(s, v->loc, "%s: %s must be a \"string\"", fn, arg);
            return -1;
        }
        return 0;
    case 'b':
        if (v->kind != IR_VAL_IDENT || (strcmp(v->str, "true") && strcmp(v->str, "false"))) {
            verr(s, v->loc, "%s: %s must be true or false", fn, arg);
            return -1;
        }
        return 0;
    case 'w': {
        size_t n = strlen(v->str ? v->str : "");
        const char *p = words;
        while (v->kind == IR_VAL_IDENT && p && *p) {
            const char *bar = strchr(p, '|');
            size_t k = bar ? (size_t)(bar - p) : strlen(p);
            if (k == n && strncmp(p, v->str, n) == 0)
                return 0;
            p = bar ? bar + 1 : NULL;
        }
        size_t o = 0;
        for (const char *q = words; *q && o + 3 < sizeof list; q++) {
            if (*q == '|') {
                list[o++] = ',';
                list[o++] = ' ';
            } else {
                list[o++] = *q;
            }
        }
        list[o] = '\0';
        verr(s, v->loc, "%s: %s must be one of %s", fn, arg, list);
        return -1;
    }
    case '*':
        return 0;
    }
    if (v->kind != IR_VAL_NUM) {
        verr(s, v->loc, "%s: %s must be a number", fn, arg);
        return -1;
    }
    double x = v->num;
    bool ok = kind == 'n' ? x >= 0 : kind == 'r' ? x > 0 : kind == 'f' ? x >= 0 && x < 1
            : kind == 'i' ? x >= 0 && x == floor(x) : x >= 1 && x == floor(x);
    if (!ok || !isfinite(x)) {
        const char *want = kind == 'n' ? "at least 0" : kind == 'r' ? "greater than 0"
                         : kind == 'f' ? "in [0, 1)" : kind == 'i' ? "an integer >= 0"
                         : "an integer >= 1";
        verr(s, v->loc, "%s: %s must be %s, got %g", fn, arg, want, x);
        return -1;
    }
    return 0;
}

/* A call value against a family of FnSpecs (sources, losses, ...); a bare word is a call
 * without arguments. */
static int check_call(Sema *s, IrValue *v, const FnSpec *fns, int nfns, const char *what)
{
    char list[300];
    const char *names[8];
    for (int i = 0; i < nfns; i++)
        names[i] = fns[i].name;
    if (v->kind == IR_VAL_IDENT)
        v->kind = IR_VAL_CALL;   /* `optimizer = adam` is adam() */
    const FnSpec *f = NULL;
    for (int i = 0; v->kind == IR_VAL_CALL && i < nfns; i++)
        if (strcmp(fns[i].name, v->str) == 0)
            f = &fns[i];
    if (!f) {
        const char *sug = v->kind == IR_VAL_CALL ? sema_suggest(v->str, names, nfns) : NULL;
        DiagMessage *m = sug ? verr(s, v->loc, "unknown %s '%s'; did you mean '%s'?", what,
                                    v->str, sug)
                             : v->kind == IR_VAL_CALL ? verr(s, v->loc, "unknown %s '%s'", what,
                                                             v->str)
                                                      : verr(s, v->loc, "%s must be one of %s",
                                                             what, sema_join(names, nfns, list,
                                                                             sizeof list));
        if (v->kind == IR_VAL_CALL)
            diag_help(m, "valid: %s", sema_join(names, nfns, list, sizeof list));
        return -1;
    }
    int nspec = 0;
    const char *anames[6];
    char abuf[6][32];
    for (; nspec < 6 && f->args[nspec]; nspec++) {
        snprintf(abuf[nspec], sizeof abuf[nspec], "%s", f->args[nspec]);
        *strchr(abuf[nspec], ':') = '\0';
        anames[nspec] = abuf[nspec];
    }
    bool given[6] = { false };
    int rc = 0, npos = 0;
    for (int i = 0; i < v->nargs; i++) {
        IrArg *a = &v->args[i];
        int k = -1;
        if (!a->name) {
            k = npos++;
            if (k >= nspec) {
                verr(s, a->value.loc, "%s takes at most %d argument%s", f->name, nspec,
                     nspec == 1 ? "" : "s");
                rc = -1;
                continue;
            }
            a->name = sema_strdup(s, anames[k]);   /* positional: store its name */
        } else {
            for (int j = 0; j < nspec; j++)
                if (strcmp(anames[j], a->name) == 0)
                    k = j;
            if (k < 0) {
                const char *sug = sema_suggest(a->name, anames, nspec);
                DiagMessage *m = sug ? verr(s, a->value.loc, "%s has no argument '%s'; did you "
                                            "mean '%s'?", f->name, a->name, sug)
                                     : verr(s, a->value.loc, "%s has no argument '%s'",
                                            f->name, a->name);
                if (nspec)
                    diag_help(m, "arguments of %s are %s", f->name,
                              sema_join(anames, nspec, list, sizeof list));
                rc = -1;
                continue;
            }
        }
        if (given[k]) {
            verr(s, a->value.loc, "%s: %s is given twice", f->name, anames[k]);
            rc = -1;
            continue;
        }
        given[k] = true;
        const char *spec = f->args[k];
        const char *kind = strchr(spec, ':') + 1;
        if (check_kind(s, &a->value, f->name, anames[k], kind[0],
                       kind[1] == ':' ? kind + 2 : "") < 0)
            rc = -1;
    }
    for (int k = 0; k < f->required; k++)
        if (!given[k]) {
            verr(s, v->loc, "%s needs its %s argument", f->name, anames[k]);
            rc = -1;
        }
    return rc;
}

/* Checks a setting's value for its kind. */
static int check_setting(Sema *s, int si, IrValue *v)
{
    const char *name = settings[si].name;
    switch (settings[si].kind) {
    case V_SOURCE: return check_call(s, v, sources, 5, "data source");
    case V_VALID:
        if (v->kind == IR_VAL_NUM) {
            if (v->num > 0 && v->num < 1)
                return 0;
            verr(s, v->loc, "valid must be a fraction in (0, 1) or a source, got %g", v->num);
            return -1;
        }
        return check_call(s, v, sources, 5, "data source");
    case V_LOSS: return check_call(s, v, losses, 2, "loss");
    case V_OPTIM: return check_call(s, v, optims, 4, "optimizer");
    case V_SCHED: return check_call(s, v, scheds, 3, "schedule");
    case V_CLIP: return check_kind(s, v, "train", name, 'n', "");
    case V_INT1: return check_kind(s, v, "train", name, 'p', "");
    case V_INT0: return check_kind(s, v, "train", name, 'i', "");
    case V_BPTT:
        if (v->kind == IR_VAL_IDENT && strcmp(v->str, "full") == 0)
            return 0;
        if (v->kind != IR_VAL_NUM) {
            verr(s, v->loc, "bptt must be a number of steps or `full`");
            return -1;
        }
        return check_kind(s, v, "train", name, 'p', "");
    }
    return 0;
}

static int find_setting(const char *name, bool *train)
{
    for (int i = 0; i < NSETTINGS; i++)
        if (strcmp(settings[i].name, name) == 0) {
            if (train)
                *train = settings[i].train;
            return i;
        }
    return -1;
}

/* Appends (or replaces, for --set) a setting in the model's data or train list. */
static int store(Sema *s, bool train, const char *name, const IrValue *v, SrcRange loc)
{
    IrSetting **arr = train ? &s->m->train : &s->m->data;
    int *n = train ? &s->m->ntrain : &s->m->ndata;
    for (int i = 0; i < *n; i++)
        if (strcmp((*arr)[i].name, name) == 0) {
            (*arr)[i].value = *v;
            return 0;
        }
    IrSetting *a = arena_alloc(&s->m->arena, sizeof *a * (size_t)(*n + 1));
    if (!a) {
        sema_oom(s);
        return -1;
    }
    if (*n)
        memcpy(a, *arr, sizeof *a * (size_t)*n);
    a[*n].name = sema_strdup(s, name);
    a[*n].value = *v;
    a[*n].loc = loc;
    *arr = a;
    (*n)++;
    return 0;
}

/* data { k = v ... } / train { k = v ... } */
int sema_settings(Sema *s, const AstNode *blk, bool train)
{
    char pos[32];
    int rc = 0;
    const char *block = train ? "train" : "data";
    for (int i = 0; i < blk->list.n; i++) {
        const AstNode *st = blk->list.items[i];
        if (st->kind != AST_SETTING)
            continue;
        bool in_train = false;
        int si = find_setting(st->name, &in_train);
        SrcRange at = st->name_loc.src ? st->name_loc : st->loc;
        if (si < 0 || in_train != train) {
            const char *cand[NSETTINGS];
            int n = 0;
            for (int k = 0; k < NSETTINGS; k++)
                if (settings[k].train == train)
                    cand[n++] = settings[k].name;
            char list[300];
            const char *sug = sema_suggest(st->name, cand, n);
            DiagMessage *m = si >= 0 ? diag_error(s->d, at, "'%s' is a %s setting, not a %s "
                                                  "setting", st->name, train ? "data" : "train",
                                                  block)
                           : sug ? diag_error(s->d, at, "unknown %s setting '%s'; did you mean "
                                              "'%s'?", block, st->name, sug)
                                 : diag_error(s->d, at, "unknown %s setting '%s'", block,
                                              st->name);
            diag_help(m, "%s settings are %s", block, sema_join(cand, n, list, sizeof list));
            rc = -1;
            continue;
        }
        const IrSetting *old = ir_find_setting(train ? s->m->train : s->m->data,
                                               train ? s->m->ntrain : s->m->ndata, st->name);
        if (old) {
            diag_error(s->d, at, "setting '%s' is given twice (first at %s)", st->name,
                       diag_pos(old->loc, pos, sizeof pos));
            rc = -1;
            continue;
        }
        IrValue v;
        if (to_value(s, st->a, &v) < 0 || check_setting(s, si, &v) < 0) {
            rc = -1;
            continue;
        }
        if (store(s, train, st->name, &v, st->loc) < 0)
            return -1;
    }
    if (train && ir_find_setting(s->m->train, s->m->ntrain, "steps") &&
        ir_find_setting(s->m->train, s->m->ntrain, "epochs")) {
        DiagMessage *m = diag_error(s->d, ir_find_setting(s->m->train, s->m->ntrain,
                                                          "epochs")->loc,
                                    "give steps or epochs, not both");
        diag_help(m, "steps counts optimizer updates; epochs counts passes over the data");
        rc = -1;
    }
    return rc;
}

/* ---- --set NAME=VALUE ------------------------------------------------------------------- */

typedef struct SetParser {
    Sema *s;
    const char *p;
    int depth;
} SetParser;

static void skip_ws(SetParser *sp)
{
    while (*sp->p == ' ' || *sp->p == '\t')
        sp->p++;
}

static const char *ident(SetParser *sp)
{
    const char *b = sp->p;
    if (!isalpha((unsigned char)*b) && *b != '_')
        return NULL;
    while (isalnum((unsigned char)*sp->p) || *sp->p == '_')
        sp->p++;
    return arena_strndup(&sp->s->m->arena, b, (size_t)(sp->p - b));
}

/* value := NUMBER | "string" | IDENT [ '(' [ [IDENT '='] value {',' ...} ] ')' ] */
static int set_value(SetParser *sp, IrValue *v)
{
    memset(v, 0, sizeof *v);
    skip_ws(sp);
    if (++sp->depth > 16)
        return -1;
    if (*sp->p == '"') {
        const char *b = ++sp->p;
        while (*sp->p && *sp->p != '"')
            sp->p++;
        if (*sp->p != '"')
            return -1;
        v->kind = IR_VAL_STR;
        v->str = arena_strndup(&sp->s->m->arena, b, (size_t)(sp->p - b));
        sp->p++;
        return v->str ? 0 : -1;
    }
    if (isdigit((unsigned char)*sp->p) || *sp->p == '-' || *sp->p == '+' || *sp->p == '.') {
        char *end;
        v->kind = IR_VAL_NUM;
        v->num = strtod(sp->p, &end);
        if (end == sp->p || !isfinite(v->num))
            return -1;
        sp->p = end;
        return 0;
    }
    v->str = ident(sp);
    if (!v->str)
        return -1;
    v->kind = IR_VAL_IDENT;
    skip_ws(sp);
    if (*sp->p != '(')
        return 0;
    sp->p++;
    v->kind = IR_VAL_CALL;
    IrArg args[16];
    skip_ws(sp);
    while (*sp->p != ')') {
        if (v->nargs == 16)
            return -1;
        IrArg *a = &args[v->nargs++];
        a->name = NULL;
        const char *save = sp->p;
        const char *nm = ident(sp);
        skip_ws(sp);
        if (nm && *sp->p == '=') {
            a->name = nm;
            sp->p++;
        } else {
            sp->p = save;
        }
        if (set_value(sp, &a->value) < 0)
            return -1;
        skip_ws(sp);
        if (*sp->p == ',')
            sp->p++;
        else if (*sp->p != ')')
            return -1;
        skip_ws(sp);
    }
    sp->p++;
    v->args = arena_alloc(&sp->s->m->arena, sizeof *v->args * (size_t)(v->nargs + 1));
    if (!v->args)
        return -1;
    memcpy(v->args, args, sizeof *args * (size_t)v->nargs);
    return 0;
}

/* Parses every "NAME=VALUE" into s->sets. */
int sema_parse_sets(Sema *s, const char *const *sets, int nsets)
{
    int rc = 0;
    s->sets = arena_alloc(&s->tmp, sizeof *s->sets * (size_t)(nsets + 1));
    if (!s->sets) {
        sema_oom(s);
        return -1;
    }
    for (int i = 0; i < nsets; i++) {
        SetParser sp = { s, sets[i], 0 };
        SemaSet *st = &s->sets[s->nsets];
        st->text = sets[i];
        skip_ws(&sp);
        st->name = ident(&sp);
        skip_ws(&sp);
        if (!st->name || *sp.p != '=') {
            diag_error_in(s->d, "--set", "expected NAME=VALUE, got '%s'", sets[i]);
            rc = -1;
            continue;
        }
        sp.p++;
        if (set_value(&sp, &st->value) < 0 || (skip_ws(&sp), *sp.p != '\0')) {
            DiagMessage *m = diag_error_in(s->d, "--set", "cannot read the value in '%s'",
                                           sets[i]);
            diag_help(m, "a value is a number, a word, a \"string\" or a call such as "
                      "adam(lr=0.01)");
            rc = -1;
            continue;
        }
        s->nsets++;
    }
    return rc;
}

/* Applies --set overrides of data/train settings (vocab, classes and consts were applied by
 * sema.c); unknown names get a did-you-mean over everything a --set may name. */
int sema_apply_sets(Sema *s)
{
    int rc = 0;
    for (int i = 0; i < s->nsets; i++) {
        SemaSet *st = &s->sets[i];
        if (st->used)
            continue;
        bool train = false;
        int si = find_setting(st->name, &train);
        if (si < 0) {
            const char *cand[NSETTINGS + 258];
            int n = sema_setting_names(cand, NSETTINGS);
            cand[n++] = "vocab";
            cand[n++] = "classes";
            for (int k = 0; k < s->nconsts && n < NSETTINGS + 258; k++)
                cand[n++] = s->consts[k].name;
            const char *sug = sema_suggest(st->name, cand, n);
            DiagMessage *m = sug ? diag_error_in(s->d, "--set", "unknown setting '%s'; did you "
                                                 "mean '%s'?", st->name, sug)
                                 : diag_error_in(s->d, "--set", "unknown setting '%s'",
                                                 st->name);
            diag_help(m, "--set takes vocab, classes, a const of the file, or a data/train "
                      "setting");
            rc = -1;
            continue;
        }
        if (check_setting(s, si, &st->value) < 0 ||
            store(s, train, settings[si].name, &st->value, (SrcRange){ 0 }) < 0)
            rc = -1;
        st->used = true;
    }
    return rc;
}
