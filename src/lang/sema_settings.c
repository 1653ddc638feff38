/* sema_settings: the data and train blocks (LANGUAGE.md section 7) and --set NAME=VALUE.
 * Known setting names with did-you-mean, each value checked against its row of the schema in
 * ir/schema.h (a source call, a loss, an optimizer with its own argument list, a positive
 * integer, ...) and stored as an IrSetting; sema_config.c then makes IrModel.config of them. */
#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lang/sema_int.h"

enum { NSETTINGS = CFG_NSETTINGS };

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
    return loc.src ? diag_error(s->d, loc, "%s", buf) : diag_error_in(s->d, sema_set_what(s), "%s", buf);
}

/* The names a --set may use besides consts, vocab and classes. */
int sema_setting_names(const char **out, int cap)
{
    int n = 0;
    for (int i = 0; i < NSETTINGS && n < cap; i++)
        out[n++] = cfg_settings[i].arg.name;
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
                v->args[i].name_loc = a->name_loc;
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

/* Writes words ("a|b|c") as "a, b, c" into list. */
static const char *word_list(const char *words, char *list, size_t cap)
{
    size_t o = 0;
    for (const char *q = words; *q && o + 3 < cap; q++) {
        if (*q == '|') {
            list[o++] = ',';
            list[o++] = ' ';
        } else {
            list[o++] = *q;
        }
    }
    list[o] = '\0';
    return list;
}

/* true when v is one of the '|'-separated words. */
static bool is_word(const IrValue *v, const char *words)
{
    size_t n = strlen(v->str ? v->str : "");
    const char *p = words;
    while (v->kind == IR_VAL_IDENT && p && *p) {
        const char *bar = strchr(p, '|');
        size_t k = bar ? (size_t)(bar - p) : strlen(p);
        if (k == n && strncmp(p, v->str, n) == 0)
            return true;
        p = bar ? bar + 1 : NULL;
    }
    return false;
}

/* Checks a number against the range of a numeric type:
 *   NONNEG x >= 0, POSITIVE x > 0, FRACTION 0 <= x < 1, COUNT0 integer >= 0, COUNT1 >= 1. */
static int check_number(Sema *s, const IrValue *v, const char *fn, const CfgArg *a)
{
    if (v->kind != IR_VAL_NUM) {
        verr(s, v->loc, "%s: %s must be a number", fn, a->name);
        return -1;
    }
    double x = v->num;
    CfgType t = a->type;
    bool ok = t == CFG_NONNEG ? x >= 0 : t == CFG_POSITIVE ? x > 0
            : t == CFG_FRACTION ? x >= 0 && x < 1
            : t == CFG_COUNT0 ? x >= 0 && x == floor(x) : x >= 1 && x == floor(x);
    if (!ok || !isfinite(x)) {
        const char *want = t == CFG_NONNEG ? "at least 0" : t == CFG_POSITIVE ? "greater than 0"
                         : t == CFG_FRACTION ? "in [0, 1)" : t == CFG_COUNT0 ? "an integer >= 0"
                         : "an integer >= 1";
        verr(s, v->loc, "%s: %s must be %s, got %g", fn, a->name, want, x);
        return -1;
    }
    return 0;
}

/* Checks one value against the type of its schema row a (fn names the function or block). */
static int check_kind(Sema *s, const IrValue *v, const char *fn, const CfgArg *a)
{
    char list[200];
    switch (a->type) {
    case CFG_STRING:
        if (v->kind == IR_VAL_STR)
            return 0;
        verr(s, v->loc, "%s: %s must be a \"string\"", fn, a->name);
        return -1;
    case CFG_BOOL:
        if (v->kind == IR_VAL_IDENT && (!strcmp(v->str, "true") || !strcmp(v->str, "false")))
            return 0;
        verr(s, v->loc, "%s: %s must be true or false", fn, a->name);
        return -1;
    case CFG_WORD:
        if (is_word(v, a->words))
            return 0;
        verr(s, v->loc, "%s: %s must be one of %s", fn, a->name,
             word_list(a->words, list, sizeof list));
        return -1;
    case CFG_ANY:
        return 0;
    default:
        return check_number(s, v, fn, a);
    }
}

/* The function of fam that a call value names; a bare word is a call without arguments. NULL
 * (reported, with did-you-mean) when there is none. */
static const CfgFunction *find_function(Sema *s, IrValue *v, const CfgFamily *fam)
{
    char list[300];
    const char *names[8];
    int nfns = fam->nfns;
    for (int i = 0; i < nfns; i++)
        names[i] = fam->fns[i].name;
    if (v->kind == IR_VAL_IDENT)
        v->kind = IR_VAL_CALL;   /* `optimizer = adam` is adam() */
    for (int i = 0; v->kind == IR_VAL_CALL && i < nfns; i++)
        if (strcmp(fam->fns[i].name, v->str) == 0)
            return &fam->fns[i];
    const char *what = fam->what;
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
    return NULL;
}

/* The index of the argument a call argument names; a positional one is given its name. -1
 * (reported) when there is none. */
static int find_arg(Sema *s, IrArg *a, const CfgFunction *f, const char **anames, int nspec,
                    int *npos)
{
    char list[300];
    if (!a->name) {
        int k = (*npos)++;
        if (k >= nspec) {
            verr(s, a->value.loc, "%s takes at most %d argument%s", f->name, nspec,
                 nspec == 1 ? "" : "s");
            return -1;
        }
        a->name = sema_strdup(s, anames[k]);   /* positional: store its name */
        return k;
    }
    for (int j = 0; j < nspec; j++)
        if (strcmp(anames[j], a->name) == 0)
            return j;
    const char *sug = sema_suggest(a->name, anames, nspec);
    SrcRange at = a->name_loc.src ? a->name_loc : a->value.loc;     /* the unknown name */
    DiagMessage *m = sug ? verr(s, at, "%s has no argument '%s'; did you mean '%s'?", f->name,
                                a->name, sug)
                         : verr(s, at, "%s has no argument '%s'", f->name, a->name);
    if (nspec)
        diag_help(m, "arguments of %s are %s", f->name,
                  sema_join(anames, nspec, list, sizeof list));
    return -1;
}

/* A call value against the functions of a family (sources, losses, ...). */
static int check_call(Sema *s, IrValue *v, const CfgFamily *fam)
{
    const CfgFunction *f = find_function(s, v, fam);
    if (!f)
        return -1;
    int nspec = cfg_function_nargs(f);
    const char *anames[CFG_MAX_ARGS];
    for (int k = 0; k < nspec; k++)
        anames[k] = f->args[k].name;
    bool given[CFG_MAX_ARGS] = { false };
    int rc = 0, npos = 0;
    for (int i = 0; i < v->nargs; i++) {
        IrArg *a = &v->args[i];
        int k = find_arg(s, a, f, anames, nspec, &npos);
        if (k < 0) {
            rc = -1;
            continue;
        }
        if (given[k]) {
            verr(s, a->value.loc, "%s: %s is given twice", f->name, anames[k]);
            rc = -1;
            continue;
        }
        given[k] = true;
        if (check_kind(s, &a->value, f->name, &f->args[k]) < 0)
            rc = -1;
    }
    for (int k = 0; k < f->required; k++)
        if (!given[k]) {
            verr(s, v->loc, "%s needs its %s argument", f->name, anames[k]);
            rc = -1;
        }
    return rc;
}

/* Checks a setting's value against its schema row. */
static int check_setting(Sema *s, int si, IrValue *v)
{
    const CfgArg *a = &cfg_settings[si].arg;
    switch (a->type) {
    case CFG_CALL: return check_call(s, v, a->family);
    case CFG_VALID:
        if (v->kind == IR_VAL_NUM) {
            if (v->num >= 0 && v->num < 1)
                return 0;
            verr(s, v->loc, "valid must be a fraction in [0, 1) (0: no validation) or a source, "
                 "got %g", v->num);
            return -1;
        }
        return check_call(s, v, a->family);
    case CFG_BPTT: {
        if (v->kind == IR_VAL_IDENT && strcmp(v->str, "full") == 0)
            return 0;
        if (v->kind != IR_VAL_NUM) {
            verr(s, v->loc, "bptt must be a number of steps or `full`");
            return -1;
        }
        const CfgArg count = { a->name, CFG_COUNT1, NULL, CFG_STORE_NONE, 0, 0, NULL };
        return check_kind(s, v, "train", &count);
    }
    default: return check_kind(s, v, "train", a);
    }
}

static int find_setting(const char *name, bool *train)
{
    for (int i = 0; i < NSETTINGS; i++)
        if (strcmp(cfg_settings[i].arg.name, name) == 0) {
            if (train)
                *train = cfg_settings[i].train;
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
                if (cfg_settings[k].train == train)
                    cand[n++] = cfg_settings[k].arg.name;
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
        *a = (IrArg){ 0 };
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
            diag_error_in(s->d, sema_set_what(s), "expected NAME=VALUE, got '%s'", sets[i]);
            rc = -1;
            continue;
        }
        sp.p++;
        if (set_value(&sp, &st->value) < 0 || (skip_ws(&sp), *sp.p != '\0')) {
            DiagMessage *m = diag_error_in(s->d, sema_set_what(s), "cannot read the value in '%s'",
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
            DiagMessage *m = sug ? diag_error_in(s->d, sema_set_what(s), "unknown setting '%s'; did you "
                                                 "mean '%s'?", st->name, sug)
                                 : diag_error_in(s->d, sema_set_what(s), "unknown setting '%s'",
                                                 st->name);
            char list[1024];
            int k = 0;
            for (int j = 0; j < CFG_NSETTINGS && k >= 0 && (size_t)k < sizeof list; j++)
                k += snprintf(list + k, sizeof list - (size_t)k, "%s%s", j ? ", " : "",
                              cfg_settings[j].arg.name);
            diag_help(m, "%s takes vocab, classes, a const of the file, or a setting: %s",
                      sema_set_what(s), list);
            rc = -1;
            continue;
        }
        if (check_setting(s, si, &st->value) < 0 ||
            store(s, train, cfg_settings[si].arg.name, &st->value, (SrcRange){ 0 }) < 0)
            rc = -1;
        st->used = true;
    }
    return rc;
}
