/* sema_config: the checked data and train settings (IrModel.data and .train, --set applied)
 * turned into the typed IrModel.config through the schema of ir/schema.h: every argument is
 * stored at its row's offset in the struct its function fills, every absent one keeps the row's
 * default. Runs once, after sema_settings and sema_apply_sets have checked every value; a csv
 * argument the data reader cannot use is recorded (IrConfig.source_problem) for src/train to
 * report when it uses the source, as it always has. */
#include <string.h>

#include "lang/sema_int.h"

/* The index of v's word among words ("a|b|c"); 0 when it is none of them. */
static int word_index(const IrValue *v, const char *words)
{
    size_t n = strlen(v->str);
    int idx = 0;
    for (const char *p = words; p; idx++) {
        const char *bar = strchr(p, '|');
        size_t k = bar ? (size_t)(bar - p) : strlen(p);
        if (k == n && strncmp(p, v->str, n) == 0)
            return idx;
        p = bar ? bar + 1 : NULL;
    }
    return 0;
}

/* Records a problem of a source's argument at v; the first kind (in enum order) wins. */
static void problem(CfgProblem *p, CfgProblemKind kind, const IrValue *v)
{
    if (p->kind == CFG_PROBLEM_NONE || kind < p->kind) {
        p->kind = kind;
        p->loc = v->loc;
    }
}

/* csv target = label | values | K: a class label (the default), one regression target, or the
 * first K columns as targets. */
static void store_csv_target(const IrValue *v, DataConfig *c, CfgProblem *p)
{
    if (v->kind == IR_VAL_NUM) {
        c->csv_values = true;
        c->csv_targets = (int)v->num;
    } else if (v->kind == IR_VAL_IDENT && strcmp(v->str, "values") == 0) {
        c->csv_values = true;
    } else if (!(v->kind == IR_VAL_IDENT && strcmp(v->str, "label") == 0)) {
        problem(p, CFG_PROBLEM_CSV_TARGET, v);
    }
}

/* Stores one checked value at a->offset of obj as its row says (see CfgStore). Values of
 * another kind than the store's (CFG_ANY arguments) leave the default; a csv argument the
 * reader cannot use is recorded in *p. */
static void store_value(const CfgArg *a, const IrValue *v, char *obj, CfgProblem *p)
{
    void *at = obj + a->offset;
    bool num = v->kind == IR_VAL_NUM, word = v->kind == IR_VAL_IDENT;
    bool text = word || v->kind == IR_VAL_STR;
    switch (a->store) {
    case CFG_STORE_NONE: break;
    case CFG_STORE_DOUBLE: if (num) *(double *)at = v->num; break;
    case CFG_STORE_INT: if (num) *(int *)at = (int)v->num; break;
    case CFG_STORE_INT64: if (num) *(int64_t *)at = (int64_t)v->num; break;
    case CFG_STORE_UINT64: if (num) *(uint64_t *)at = (uint64_t)(int64_t)v->num; break;
    case CFG_STORE_BOOL: if (word) *(bool *)at = strcmp(v->str, "true") == 0; break;
    case CFG_STORE_TRISTATE: if (word) *(int *)at = strcmp(v->str, "true") == 0; break;
    case CFG_STORE_STRING: if (text) *(const char **)at = v->str; break;
    case CFG_STORE_WORD: if (word) *(int *)at = word_index(v, a->words); break;
    case CFG_STORE_CHAR:
        if (!text)
            break;
        if (strlen(v->str) != 1 || v->str[0] == '"' || v->str[0] == '\n')
            problem(p, CFG_PROBLEM_CSV_DELIMITER, v);
        else
            *(char *)at = v->str[0];
        break;
    case CFG_STORE_CSV_TARGET: store_csv_target(v, (DataConfig *)(void *)obj, p); break;
    case CFG_STORE_CSV_LABEL:
        if (num && v->num != 1)
            problem(p, CFG_PROBLEM_CSV_LABEL, v);
        break;
    }
}

/* A checked call value (every argument named by now) into obj, the struct of its family:
 * the function's defaults, then each given argument. */
static void store_call(const CfgFamily *fam, const IrValue *v, void *obj, CfgProblem *p)
{
    const CfgFunction *fn = NULL;
    for (int i = 0; i < fam->nfns && !fn; i++)
        if (strcmp(fam->fns[i].name, v->str) == 0)
            fn = &fam->fns[i];
    if (!fn)
        return;   /* not reached: sema checked the name */
    cfg_function_defaults(fam, fn, obj);
    int nargs = cfg_function_nargs(fn);
    for (int i = 0; i < v->nargs; i++)
        for (int k = 0; k < nargs; k++)
            if (v->args[i].name && strcmp(fn->args[k].name, v->args[i].name) == 0)
                store_value(&fn->args[k], &v->args[i].value, obj, p);
}

/* One present setting into c. */
static void store_setting(const CfgArg *a, const IrValue *v, IrConfig *c)
{
    char *base = (char *)c;
    CfgProblem unused = { CFG_PROBLEM_NONE, { 0 } };
    switch (a->type) {
    case CFG_CALL:
        store_call(a->family, v, base + a->offset,
                   a == &cfg_settings[CFG_SET_SOURCE].arg ? &c->source_problem : &unused);
        break;
    case CFG_VALID:
        c->valid_loc = v->loc;
        if (v->kind == IR_VAL_NUM) {
            c->valid = v->num;
        } else {
            c->valid_is_source = true;
            store_call(a->family, v, base + a->offset, &c->valid_problem);
        }
        break;
    case CFG_BPTT:
        c->bptt_loc = v->loc;
        c->bptt_full = v->kind == IR_VAL_IDENT;   /* bptt = full */
        store_value(a, v, base, &unused);
        break;
    default: store_value(a, v, base, &unused); break;
    }
}

void sema_settings_config(Sema *s)
{
    IrModel *m = s->m;
    IrConfig *c = &m->config;
    ir_config_defaults(c);
    for (int i = 0; i < CFG_NSETTINGS; i++) {
        const CfgSetting *cs = &cfg_settings[i];
        const IrSetting *st = cs->train ? ir_find_setting(m->train, m->ntrain, cs->arg.name)
                                        : ir_find_setting(m->data, m->ndata, cs->arg.name);
        if (!st)
            continue;
        c->given[i] = true;
        store_setting(&cs->arg, &st->value, c);
    }
    c->data.seed = c->seed;
}
