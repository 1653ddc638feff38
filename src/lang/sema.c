/* sema: the top level of semantic analysis. Parses the prelude and the user's file, collects
 * the top-level items (format, consts, cells, the model, data, train), and drives the passes
 * below it: the model (sema_model*.c, which instantiates cells through sema_cell*.c) and the
 * settings (sema_settings.c). Every part calls down into sema_size.c (size expressions) and
 * sema_util.c (shared helpers); none calls back up into this file. */
#include "lang/sema.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lang/prelude.h"
#include "lang/sema_int.h"

static const char *const builtin_layer_names[] = {
    "embedding", "onehot", "dense", "dropout", "layernorm", "pool", "concat", "add", "softmax",
};

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
    SemaCellDef *c = arena_grow(&s->tmp, s->cells, s->ncells, &s->cells_cap, sizeof *c);
    if (!c) {
        sema_oom(s);
        return -1;
    }
    s->cells = c;
    c[s->ncells].name = it->name;
    c[s->ncells].def = it;
    c[s->ncells].prelude = prelude;
    s->ncells++;
    return 0;
}

/* const NAME = expr: records a lazily evaluated constant. */
static int add_const(Sema *s, const AstNode *it, bool prelude)
{
    char pos[32];
    if (strcmp(it->name, "vocab") == 0 || strcmp(it->name, "classes") == 0) {
        DiagMessage *m = diag_error(s->d, it->name_loc, "'%s' is a reserved size name",
                                    it->name);
        diag_help(m, "bind it with `input tokens(%s=N)` or %s %s=N", it->name, sema_set_what(s),
                  it->name);
        return -1;
    }
    SemaConst *old = sema_find_const(s, it->name);
    if (old) {
        diag_error(s->d, it->name_loc, "const '%s' is already defined at %s", it->name,
                   diag_pos(old->decl->loc, pos, sizeof pos));
        return -1;
    }
    SemaConst *c = arena_grow(&s->tmp, s->consts, s->nconsts, &s->consts_cap, sizeof *c);
    if (!c) {
        sema_oom(s);
        return -1;
    }
    s->consts = c;
    c[s->nconsts].name = it->name;
    c[s->nconsts].decl = it;
    c[s->nconsts].prelude = prelude;
    s->nconsts++;
    return 0;
}

/* Binds vocab (classes false) or classes to v, an integer in [1, SEMA_MAX_SIZE]; text is the
 * "NAME=VALUE" the value came from, for the message. */
static int bind_size(Sema *s, bool classes, double v, const char *text)
{
    const char *name = classes ? "classes" : "vocab";
    if (v != floor(v) || v < 1 || v > SEMA_MAX_SIZE) {
        diag_error_in(s->d, sema_set_what(s), "%s: %s must be an integer of at least 1, got %g", text,
                      name, v);
        return -1;
    }
    if (classes) {
        s->classes_bound = true;
        s->classes = (int)v;
    } else {
        s->vocab_bound = true;
        s->vocab = (int)v;
    }
    return 0;
}

/* Applies --set overrides of vocab, classes and consts (number values only). */
static int apply_size_sets(Sema *s)
{
    int rc = 0;
    for (int i = 0; i < s->nsets; i++) {
        SemaSet *st = &s->sets[i];
        bool isv = strcmp(st->name, "vocab") == 0, isc = strcmp(st->name, "classes") == 0;
        SemaConst *c = sema_find_const(s, st->name);
        if (!isv && !isc && !c)
            continue;
        st->used = true;
        if (st->value.kind != IR_VAL_NUM) {
            diag_error_in(s->d, sema_set_what(s), "%s: '%s' needs a number", st->text, st->name);
            rc = -1;
            continue;
        }
        if (isv || isc) {
            if (bind_size(s, isc, st->value.num, st->text) < 0)
                rc = -1;
        } else {
            c->state = SEMA_CONST_DONE;
            c->value = (SemaNum){ st->value.num, st->value.num, 0, 0, true };
        }
    }
    return rc;
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
            if (add_const(s, it, prelude) < 0)
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

/* Warns about the file's consts that nothing reads and the layers whose output reaches neither
 * another layer nor the model's output: usually a mistyped name or a missing from=. Called
 * after a compile without errors, when every use has been seen. */
static void warn_unused(Sema *s)
{
    for (int i = 0; i < s->nconsts; i++) {
        const SemaConst *c = &s->consts[i];
        if (!c->used && !c->prelude && c->decl)
            diag_help(diag_warning(s->d, c->decl->name_loc, "const '%s' is never used",
                                   c->name), "use it in a size, or remove it");
    }
    const IrModel *m = s->m;
    bool *read = arena_alloc(&s->tmp, sizeof *read * (size_t)(m->nlayers + 1));
    if (!read)
        return;
    memset(read, 0, sizeof *read * (size_t)(m->nlayers + 1));
    for (int k = 0; k < m->nlayers; k++)
        for (int j = 0; j < m->layers[k].ninputs; j++)
            read[m->layers[k].inputs[j]] = true;
    for (int k = 1; k < m->nlayers; k++)
        if (!read[k] && k != m->output)
            diag_help(diag_warning(s->d, m->layers[k].loc, "the output of %s is never used",
                                   m->layers[k].label),
                      "only the last statement is the model's output; read %s with from=%s, "
                      "or remove it", m->layers[k].label, m->layers[k].label);
}

/* Physical memory of this machine in bytes, or 0 when the system does not say. */
static double machine_bytes(void)
{
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    return pages > 0 && page > 0 ? (double)pages * (double)page : 0;
}

/* Refuses, with the numbers, a model recur could not store or train here, before anything is
 * allocated for it: a tensor over IR_MAX_TENSOR_BYTES (one checkpoint field), or weights whose
 * training state (IR_TRAIN_BYTES_PER_PARAM: weight, gradient, two optimiser moments) exceeds
 * the machine's physical memory. Sizes made of placeholders (an unbound vocab or classes) are
 * checked when the data binds them. Returns -1 after reporting. */
static int check_limits(Sema *s)
{
    const IrModel *m = s->m;
    const double gib = 1024.0 * 1024.0 * 1024.0;
    bool vauto = s->opts->vocab_auto, kauto = s->opts->classes_auto;
    for (int i = 0; i < m->ntensors; i++) {
        const IrTensor *t = &m->tensors[i];
        bool placeholder = false;   /* sized by a placeholder: the real size is not known yet */
        for (int k = 0; k < t->ndim; k++)
            placeholder |= (vauto && t->shape_sym[k].v) || (kauto && t->shape_sym[k].k);
        if (placeholder || (double)t->size * 4 < (double)IR_MAX_TENSOR_BYTES)
            continue;
        DiagMessage *e = diag_error(s->d, m->layers[t->layer].loc, "tensor '%s' (%d x %d) has "
                                    "%lld elements, %.2f GiB as float32: more than the 2 GiB "
                                    "recur stores in one checkpoint field", t->name, t->shape[0],
                                    t->ndim > 1 ? t->shape[1] : 1, (long long)t->size,
                                    (double)t->size * 4 / gib);
        diag_help(e, "make the layer smaller");
        return -1;
    }
    double need = (double)m->nparams * IR_TRAIN_BYTES_PER_PARAM, have = machine_bytes();
    if (have > 0 && need > have && !vauto && !kauto) {
        DiagMessage *e = diag_error(s->d, (SrcRange){ s->src, 0, 0 }, "the model has %lld "
                                    "parameters: training them needs %.1f GiB (weights, "
                                    "gradients, optimiser state), more than the %.1f GiB of "
                                    "memory of this machine", (long long)m->nparams,
                                    need / gib, have / gib);
        diag_help(e, "make the model smaller");
        return -1;
    }
    return 0;
}

/* Frees everything the compile allocated; returns NULL for convenience. */
static IrModel *fail(Sema *s)
{
    ir_model_free(s->m);
    arena_free(&s->tmp);
    return NULL;
}

/* The two parsed files and the --set strings, kept for every compile of one source. */
struct SemaUnit {
    Arena ast;              /* both ASTs and the copies of the --set strings */
    const Source *src;
    const AstNode *prelude, *file;
    const char **sets;
    int nsets;
};

void sema_unit_free(SemaUnit *u)
{
    if (!u)
        return;
    arena_free(&u->ast);
    free(u);
}

/* Phase 1: parses the static prelude and src, and keeps copies of the overrides. */
SemaUnit *sema_unit_parse(Diag *d, const Source *src, const char *const *sets, int nsets)
{
    SemaUnit *u = calloc(1, sizeof *u);
    if (!u) {
        diag_error_in(d, "recur", "out of memory");
        return NULL;
    }
    int errors0 = diag_error_count(d);
    u->src = src;
    u->prelude = parse_source(&lang_prelude_source, &u->ast, d);
    u->file = parse_source(src, &u->ast, d);
    u->sets = arena_alloc(&u->ast, sizeof *u->sets * (size_t)(nsets + 1));
    for (int i = 0; u->sets && i < nsets; i++)
        if ((u->sets[i] = arena_strndup(&u->ast, sets[i], strlen(sets[i]))))
            u->nsets++;
    if (!u->sets || u->nsets < nsets)
        diag_error_in(d, "recur", "out of memory");
    if (!u->prelude || !u->file || diag_error_count(d) > errors0) {
        sema_unit_free(u);
        return NULL;
    }
    return u;
}

/* Binds the sizes the caller knows (the data's vocab/classes) as a last --set would, so they
 * win over the file's and are checked the same way. */
static int bind_known_sizes(Sema *s, const SemaSizes *sizes)
{
    int rc = 0;
    for (int classes = 0; sizes && classes < 2; classes++) {
        int v = classes ? sizes->classes : sizes->vocab;
        char text[64];
        snprintf(text, sizeof text, "%s=%d", classes ? "classes" : "vocab", v);
        if (v && bind_size(s, classes, v, text) < 0)
            rc = -1;
    }
    return rc;
}

/* A Sema with an empty IrModel for unit u; -1 when out of memory. */
static int sema_begin(Sema *s, Diag *d, const SemaUnit *u, SemaOptions *opts)
{
    s->d = d;
    s->src = u->src;
    s->opts = opts;
    s->opts->vocab_auto = s->opts->classes_auto = false;
    if (s->opts->auto_vocab <= 0)
        s->opts->auto_vocab = SEMA_DEFAULT_PLACEHOLDER;
    if (s->opts->auto_classes <= 0)
        s->opts->auto_classes = SEMA_DEFAULT_PLACEHOLDER;
    s->m = calloc(1, sizeof *s->m);
    if (!s->m) {
        sema_oom(s);
        return -1;
    }
    s->m->source = u->src;
    s->m->vocab = s->m->classes = -1;
    s->m->output = -1;
    s->m->sym_exact = true;
    return 0;
}

/* Phase 2: names, the model with its sizes, the settings and --set (see sema.h). */
IrModel *sema_unit_compile(const SemaUnit *u, Diag *d, const SemaSizes *sizes,
                           SemaOptions *opts)
{
    SemaOptions dflt = { 0 };
    Sema s = { 0 };
    if (sema_begin(&s, d, u, opts ? opts : &dflt) < 0)
        return NULL;
    int errors0 = diag_error_count(d);
    const AstNode *model = NULL, *data = NULL, *train = NULL;
    if (sema_parse_sets(&s, u->sets, u->nsets) < 0)
        return fail(&s);
    collect_items(&s, u->prelude, true, &model, &data, &train);
    collect_items(&s, u->file, false, &model, &data, &train);
    apply_size_sets(&s);
    bind_known_sizes(&s, sizes);
    if (!model) {
        DiagMessage *m = diag_error(d, (SrcRange){ u->src, 0, 0 },
                                    "the file has no model block");
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

    if (diag_error_count(d) > errors0 || check_limits(&s) != 0)
        return fail(&s);
    warn_unused(&s);
    if (s.vocab_used)
        s.m->vocab = s.vocab_bound ? s.vocab : s.opts->auto_vocab;
    if (s.classes_used)
        s.m->classes = s.classes_bound ? s.classes : s.opts->auto_classes;
    s.m->vocab_auto = s.opts->vocab_auto;
    s.m->classes_auto = s.opts->classes_auto;
    arena_free(&s.tmp);
    return s.m;
}

IrModel *sema_compile(Diag *d, const Source *src, const char *const *sets, int nsets)
{
    return sema_compile_opts(d, src, sets, nsets, NULL);
}

/* Both phases at once, for a caller that compiles a source one time. */
IrModel *sema_compile_opts(Diag *d, const Source *src, const char *const *sets, int nsets,
                           SemaOptions *opts)
{
    SemaUnit *u = sema_unit_parse(d, src, sets, nsets);
    IrModel *m = u ? sema_unit_compile(u, d, NULL, opts) : NULL;
    sema_unit_free(u);
    return m;
}
