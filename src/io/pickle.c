/* pickle: the restricted unpickler and the pickle writer (see pickle.h). */
#include "io/pickle.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- storage dtypes ------------------------------------------------------------------------ */

static const struct {
    const char *name;
    size_t size;
} dtypes[PK_DTYPE_COUNT] = {
    [PK_F32] = {"FloatStorage", 4},  [PK_F64] = {"DoubleStorage", 8},
    [PK_F16] = {"HalfStorage", 2},   [PK_BF16] = {"BFloat16Storage", 2},
    [PK_I64] = {"LongStorage", 8},   [PK_I32] = {"IntStorage", 4},
    [PK_I16] = {"ShortStorage", 2},  [PK_I8] = {"CharStorage", 1},
    [PK_U8] = {"ByteStorage", 1},    [PK_BOOLEAN] = {"BoolStorage", 1},
};

size_t pickle_dtype_size(PkDtype t) { return (unsigned)t < PK_DTYPE_COUNT ? dtypes[t].size : 0; }
const char *pickle_dtype_name(PkDtype t)
{
    return (unsigned)t < PK_DTYPE_COUNT ? dtypes[t].name : "?";
}

/* ---- the allow-list: every global a torch.save file may name ------------------------------ */

typedef enum Callable { CALL_NONE, CALL_ORDERED_DICT, CALL_REBUILD_TENSOR, CALL_REBUILD_PARAM,
                        CALL_CODECS_ENCODE, CALL_STORAGE } Callable;

static const struct {
    const char *module, *name;
    Callable call;
} allowed[] = {
    {"collections", "OrderedDict", CALL_ORDERED_DICT},
    {"torch._utils", "_rebuild_tensor_v2", CALL_REBUILD_TENSOR},
    {"torch._utils", "_rebuild_parameter", CALL_REBUILD_PARAM},
    {"torch._utils", "_rebuild_parameter_with_state", CALL_REBUILD_PARAM},
    {"_codecs", "encode", CALL_CODECS_ENCODE},
};

/* ---- the unpickler ------------------------------------------------------------------------- */

typedef struct Unp {
    const unsigned char *start, *p, *end;
    const char *what;
    Diag *d;
    PkDoc *doc;
    PkValue **stack;
    int sp;
    size_t stack_cap;
    PkValue **memo;
    size_t nmemo;       /* slots allocated */
    size_t memo_len;    /* slots filled (MEMOIZE stores at this index, as Python's len(memo)) */
    bool failed;
} Unp;

static PkValue mark_value = {.kind = PK_MARK};

/* Reports "what: error: at byte N: ..." once; later failures of the same load are not added. */
__attribute__((format(printf, 2, 3))) static int fail(Unp *u, const char *fmt, ...)
{
    if (u->failed)
        return -1;
    u->failed = true;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    diag_error_in(u->d, u->what, "at byte %lld of the pickle: %s",
                  (long long)(u->p - u->start), msg);
    return -1;
}

static PkValue *new_value(Unp *u, PkKind kind)
{
    PkDoc *doc = u->doc;
    if (doc->npool >= PICKLE_MAX_VALUES) {
        fail(u, "more than %d values", PICKLE_MAX_VALUES);
        return NULL;
    }
    if ((size_t)doc->npool == doc->pool_cap) {
        size_t cap = doc->pool_cap ? doc->pool_cap * 2 : 64;
        PkValue **p = realloc(doc->pool, sizeof *p * cap);
        if (!p) {
            fail(u, "out of memory");
            return NULL;
        }
        doc->pool = p;
        doc->pool_cap = cap;
    }
    PkValue *v = calloc(1, sizeof *v);
    if (!v) {
        fail(u, "out of memory");
        return NULL;
    }
    v->kind = kind;
    doc->pool[doc->npool++] = v;
    return v;
}

static int push(Unp *u, PkValue *v)
{
    if (!v)
        return -1;
    if (u->sp >= PICKLE_MAX_STACK)
        return fail(u, "the stack is deeper than %d", PICKLE_MAX_STACK);
    if ((size_t)u->sp == u->stack_cap) {
        size_t cap = u->stack_cap ? u->stack_cap * 2 : 64;
        PkValue **s = realloc(u->stack, sizeof *s * cap);
        if (!s)
            return fail(u, "out of memory");
        u->stack = s;
        u->stack_cap = cap;
    }
    u->stack[u->sp++] = v;
    return 0;
}

/* The top value (not a mark), or NULL after reporting. */
static PkValue *pop(Unp *u)
{
    if (u->sp == 0 || u->stack[u->sp - 1]->kind == PK_MARK) {
        fail(u, "stack underflow");
        return NULL;
    }
    return u->stack[--u->sp];
}

static PkValue *top(Unp *u)
{
    if (u->sp == 0 || u->stack[u->sp - 1]->kind == PK_MARK) {
        fail(u, "stack underflow");
        return NULL;
    }
    return u->stack[u->sp - 1];
}

/* Index of the topmost mark, or -1 after reporting. */
static int find_mark(Unp *u)
{
    for (int i = u->sp - 1; i >= 0; i--)
        if (u->stack[i]->kind == PK_MARK)
            return i;
    return fail(u, "no mark on the stack");
}

/* Appends it to a TUPLE/LIST/DICT value's items. */
static int add_item(Unp *u, PkValue *c, PkValue *it)
{
    if ((size_t)c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 4;
        PkValue **p = realloc(c->items, sizeof *p * cap);
        if (!p)
            return fail(u, "out of memory");
        c->items = p;
        c->cap = cap;
    }
    c->items[c->n++] = it;
    return 0;
}

/* Takes n bytes of argument; NULL after reporting a truncation. */
static const unsigned char *take(Unp *u, uint64_t n)
{
    if (n > (uint64_t)(u->end - u->p)) {
        fail(u, "truncated (an argument runs past the end)");
        return NULL;
    }
    const unsigned char *q = u->p;
    u->p += n;
    return q;
}

static uint64_t le(const unsigned char *q, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--)
        v = v << 8 | q[i];
    return v;
}

/* A length-prefixed string or bytes value (lenbytes: 1, 4 or 8). */
static int op_string(Unp *u, PkKind kind, int lenbytes)
{
    const unsigned char *q = take(u, (uint64_t)lenbytes);
    if (!q)
        return -1;
    uint64_t n = le(q, lenbytes);
    const unsigned char *s = take(u, n);
    PkValue *v = s ? new_value(u, kind) : NULL;
    if (!v)
        return -1;
    v->s = malloc(n + 1);
    if (!v->s)
        return fail(u, "out of memory");
    memcpy(v->s, s, n);
    v->s[n] = '\0';
    v->len = n;
    return push(u, v);
}

/* Integers: BININT (signed 32), BININT1, BININT2, LONG1 (two's complement, up to 8 bytes). */
static int op_int(Unp *u, int op)
{
    int n = op == PK_OP_BININT ? 4 : op == PK_OP_BININT1 ? 1 : op == PK_OP_BININT2 ? 2 : 0;
    int64_t v;
    if (op == PK_OP_LONG1) {
        const unsigned char *q = take(u, 1);
        if (!q)
            return -1;
        n = q[0];
        if (n > 8 && n != 10)
            return fail(u, "an integer of %d bytes is too large", n);
    }
    const unsigned char *q = take(u, (uint64_t)n);
    if (!q)
        return -1;
    if (op == PK_OP_LONG1 && n == 10) {
        /* only the legacy format's magic number is this long; keep its low 64 bits */
        v = (int64_t)le(q, 8);
        if (le(q + 8, 2) != 0x1950)
            return fail(u, "an integer of 10 bytes is too large");
    } else {
        uint64_t x = le(q, n);
        bool neg = (op == PK_OP_BININT || op == PK_OP_LONG1) && n > 0 && (q[n - 1] & 0x80);
        if (neg && n < 8)
            x |= ~(uint64_t)0 << (8 * n);
        v = (int64_t)x;
    }
    PkValue *val = new_value(u, PK_INT);
    if (!val)
        return -1;
    val->i = v;
    return push(u, val);
}

/* Pops everything down to the topmost mark into a new TUPLE or LIST. */
static int op_collect(Unp *u, PkKind kind)
{
    int m = find_mark(u);
    PkValue *v = m >= 0 ? new_value(u, kind) : NULL;
    if (!v)
        return -1;
    for (int i = m + 1; i < u->sp; i++)
        if (add_item(u, v, u->stack[i]))
            return -1;
    u->sp = m;
    return push(u, v);
}

static int op_small_tuple(Unp *u, int n)
{
    if (u->sp < n)
        return fail(u, "stack underflow");
    PkValue *v = new_value(u, PK_TUPLE);
    if (!v)
        return -1;
    for (int i = u->sp - n; i < u->sp; i++) {
        if (u->stack[i]->kind == PK_MARK)
            return fail(u, "a mark inside a tuple");
        if (add_item(u, v, u->stack[i]))
            return -1;
    }
    u->sp -= n;
    return push(u, v);
}

/* APPEND(S) onto a list, SETITEM(S) into a dict, from the mark (many) or the top (one/pair). */
static int op_fill(Unp *u, bool dict, bool many)
{
    int from = many ? find_mark(u) : u->sp - (dict ? 2 : 1) - 1;
    if (from < 0 || from >= u->sp)
        return fail(u, "stack underflow");
    int target = many ? from - 1 : from;
    if (target < 0 || u->stack[target]->kind != (dict ? PK_DICT : PK_LIST))
        return fail(u, "%s on something that is not a %s", dict ? "SETITEM" : "APPEND",
                    dict ? "dict" : "list");
    int first = many ? from + 1 : from + 1;
    if (dict && (u->sp - first) % 2)
        return fail(u, "SETITEMS with an odd number of values");
    for (int i = first; i < u->sp; i++) {
        if (u->stack[i]->kind == PK_MARK)
            return fail(u, "a mark among the items");
        if (add_item(u, u->stack[target], u->stack[i]))
            return -1;
    }
    u->sp = many ? from : first;
    return 0;
}

/* DICT: a new dict from the key, value pairs above the mark. */
static int op_dict(Unp *u)
{
    int m = find_mark(u);
    PkValue *v = m >= 0 ? new_value(u, PK_DICT) : NULL;
    if (!v)
        return -1;
    if ((u->sp - m - 1) % 2)
        return fail(u, "DICT with an odd number of values");
    for (int i = m + 1; i < u->sp; i++)
        if (u->stack[i]->kind == PK_MARK || add_item(u, v, u->stack[i]))
            return u->failed ? -1 : fail(u, "a mark among the items");
    u->sp = m;
    return push(u, v);
}

/* BINPUT / LONG_BINPUT / MEMOIZE: memo[i] = top. */
static int memo_put(Unp *u, uint64_t i)
{
    PkValue *v = top(u);
    if (!v)
        return -1;
    if (i >= PICKLE_MAX_MEMO)
        return fail(u, "memo index %llu is too large", (unsigned long long)i);
    if (i >= u->nmemo) {
        size_t n = (size_t)i + 1 > 2 * u->nmemo ? (size_t)i + 1 : 2 * u->nmemo;
        PkValue **m = realloc(u->memo, sizeof *m * n);
        if (!m)
            return fail(u, "out of memory");
        memset(m + u->nmemo, 0, sizeof *m * (n - u->nmemo));
        u->memo = m;
        u->nmemo = n;
    }
    u->memo_len += u->memo[i] == NULL;
    u->memo[i] = v;
    return 0;
}

static int memo_get(Unp *u, uint64_t i)
{
    if (i >= u->nmemo || !u->memo[i])
        return fail(u, "memo index %llu was never stored", (unsigned long long)i);
    return push(u, u->memo[i]);
}

/* Python 2 module names that protocol 2 writes for Python 3's (pickle's fix_imports), so a
 * refusal names the global as Python 3 would resolve it. */
static const char *const py2_modules[][2] = {
    {"__builtin__", "builtins"}, {"copy_reg", "copyreg"}, {"commands", "subprocess"},
    {"cPickle", "pickle"},       {"Queue", "queue"},      {"UserDict", "collections"},
};

/* The refusal of a global that is not allowed, naming it; a pickle that names torch.nn's
 * classes anywhere holds a whole nn.Module, and the message says what to save instead. */
static int refuse_global(Unp *u, const char *module, const char *name)
{
    const char *py3 = module;
    for (size_t i = 0; i < sizeof py2_modules / sizeof *py2_modules; i++)
        if (strcmp(module, py2_modules[i][0]) == 0)
            py3 = py2_modules[i][1];
    const char *nn = "torch.nn.modules";
    bool module_pickle = strncmp(module, "torch.nn", 8) == 0;
    for (const unsigned char *p = u->start; !module_pickle && p + 16 <= u->end; p++)
        module_pickle = *p == 't' && memcmp(p, nn, 16) == 0;
    if (module_pickle)
        return fail(u, "refused global %s.%s: this file holds a whole pickled nn.Module, not a "
                       "state_dict; in Python, save model.state_dict() instead", py3, name);
    char as[300] = "";
    if (py3 != module)
        snprintf(as, sizeof as, " (written as %s.%s)", module, name);
    return fail(u, "refused global %s.%s%s: a weight file may only name the tensor and storage "
                   "types of torch.save (nothing is ever executed)", py3, name, as);
}

/* Resolves module.name against the allow-list into a GLOBAL value (call set in ->i). */
static int push_global(Unp *u, const char *module, const char *name)
{
    Callable call = CALL_NONE;
    PkDtype dt = PK_DTYPE_COUNT;
    for (size_t i = 0; i < sizeof allowed / sizeof *allowed; i++)
        if (strcmp(allowed[i].module, module) == 0 && strcmp(allowed[i].name, name) == 0)
            call = allowed[i].call;
    if (strcmp(module, "torch") == 0)
        for (int t = 0; t < PK_DTYPE_COUNT; t++)
            if (strcmp(dtypes[t].name, name) == 0)
                call = CALL_STORAGE, dt = (PkDtype)t;
    if (call == CALL_NONE)
        return refuse_global(u, module, name);
    PkValue *v = new_value(u, PK_GLOBAL);
    if (!v)
        return -1;
    size_t n = strlen(module) + strlen(name) + 2;
    if (!(v->s = malloc(n)))
        return fail(u, "out of memory");
    snprintf(v->s, n, "%s.%s", module, name);
    v->len = n - 1;
    v->i = call;
    v->dtype = dt;
    return push(u, v);
}

/* GLOBAL: "module\nname\n" (each at most 256 bytes). */
static int op_global(Unp *u)
{
    char part[2][257];
    for (int k = 0; k < 2; k++) {
        const unsigned char *nl = memchr(u->p, '\n', (size_t)(u->end - u->p));
        if (!nl)
            return fail(u, "truncated GLOBAL");
        size_t n = (size_t)(nl - u->p);
        if (n > 256 || memchr(u->p, '\0', n))
            return fail(u, "malformed GLOBAL name");
        memcpy(part[k], u->p, n);
        part[k][n] = '\0';
        u->p = nl + 1;
    }
    return push_global(u, part[0], part[1]);
}

static int op_stack_global(Unp *u)
{
    PkValue *name = pop(u), *module = name ? pop(u) : NULL;
    if (!module)
        return -1;
    if (name->kind != PK_STR || module->kind != PK_STR || strlen(module->s) != module->len ||
        strlen(name->s) != name->len)
        return fail(u, "STACK_GLOBAL needs two strings");
    return push_global(u, module->s, name->s);
}

static bool is_int(const PkValue *v) { return v && (v->kind == PK_INT || v->kind == PK_BOOL); }

/* A tuple of non-negative ints (sizes, strides) into out[]. */
static int int_tuple(Unp *u, const PkValue *t, int64_t *out, int *n, const char *what)
{
    if (!t || t->kind != PK_TUPLE || t->n > PICKLE_MAX_DIMS)
        return fail(u, "tensor %s is not a tuple of at most %d integers", what, PICKLE_MAX_DIMS);
    for (int i = 0; i < t->n; i++) {
        if (!is_int(t->items[i]) || t->items[i]->i < 0)
            return fail(u, "tensor %s holds something that is not a non-negative integer", what);
        out[i] = t->items[i]->i;
    }
    *n = t->n;
    return 0;
}

/* _rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks[, metadata]). */
static PkValue *rebuild_tensor(Unp *u, const PkValue *args)
{
    if (args->n < 4 || args->n > 7 || args->items[0]->kind != PK_STORAGE ||
        !is_int(args->items[1]) || args->items[1]->i < 0) {
        fail(u, "_rebuild_tensor_v2 with unexpected arguments");
        return NULL;
    }
    PkValue *t = new_value(u, PK_TENSOR);
    int ns = 0;
    if (!t || int_tuple(u, args->items[2], t->shape, &t->ndim, "size") ||
        int_tuple(u, args->items[3], t->stride, &ns, "stride"))
        return NULL;
    if (ns != t->ndim) {
        fail(u, "tensor size and stride differ in length");
        return NULL;
    }
    t->storage = args->items[0];
    t->offset = args->items[1]->i;
    t->dtype = t->storage->dtype;
    return t;
}

/* _codecs.encode(text, "latin1"): the bytes of code points < 256 (protocol 2's bytes). */
static PkValue *codecs_encode(Unp *u, const PkValue *args)
{
    if (args->n != 2 || args->items[0]->kind != PK_STR || args->items[1]->kind != PK_STR ||
        strcmp(args->items[1]->s, "latin1") != 0) {
        fail(u, "_codecs.encode with unexpected arguments");
        return NULL;
    }
    const PkValue *s = args->items[0];
    PkValue *b = new_value(u, PK_BYTES);
    if (!b || !(b->s = malloc(s->len + 1))) {
        fail(u, "out of memory");
        return NULL;
    }
    size_t k = 0;
    for (size_t i = 0; i < s->len; i++) {
        unsigned char c = (unsigned char)s->s[i];
        if (c >= 0xc0 && c <= 0xc3 && i + 1 < s->len)
            c = (unsigned char)(((c & 3) << 6) | (s->s[++i] & 0x3f));
        else if (c >= 0x80) {
            fail(u, "_codecs.encode of a code point above 255");
            return NULL;
        }
        b->s[k++] = (char)c;
    }
    b->s[k] = '\0';
    b->len = k;
    return b;
}

/* REDUCE: the callable must be one of the allow-list's; its result is built here. */
static int op_reduce(Unp *u)
{
    PkValue *args = pop(u), *fn = args ? pop(u) : NULL;
    if (!fn)
        return -1;
    if (fn->kind != PK_GLOBAL || args->kind != PK_TUPLE)
        return fail(u, "REDUCE of something that is not an allowed global");
    PkValue *r = NULL;
    switch ((Callable)fn->i) {
    case CALL_ORDERED_DICT:
        if (args->n != 0)
            return fail(u, "OrderedDict called with arguments");
        r = new_value(u, PK_DICT);
        break;
    case CALL_REBUILD_TENSOR:
        r = rebuild_tensor(u, args);
        break;
    case CALL_REBUILD_PARAM:
        if (args->n < 1 || args->items[0]->kind != PK_TENSOR)
            return fail(u, "_rebuild_parameter of something that is not a tensor");
        r = args->items[0];
        break;
    case CALL_CODECS_ENCODE:
        r = codecs_encode(u, args);
        break;
    default:
        return fail(u, "%s cannot be called", fn->s);
    }
    return r ? push(u, r) : -1;
}

/* ('storage', torch.XStorage, "key", "location", numel[, view]) -> a STORAGE value. */
static int op_persid(Unp *u)
{
    PkValue *t = pop(u);
    if (!t)
        return -1;
    if (t->kind != PK_TUPLE || t->n < 5 || t->n > 6 || t->items[0]->kind != PK_STR ||
        strcmp(t->items[0]->s, "storage") != 0 || t->items[1]->kind != PK_GLOBAL ||
        t->items[1]->i != CALL_STORAGE || t->items[2]->kind != PK_STR ||
        t->items[3]->kind != PK_STR || !is_int(t->items[4]) || t->items[4]->i < 0)
        return fail(u, "a persistent id that is not a torch storage reference");
    if (t->n == 6 && t->items[5]->kind != PK_NONE)
        return fail(u, "storage views of the legacy format are not supported");
    PkValue *s = new_value(u, PK_STORAGE);
    if (!s)
        return -1;
    s->dtype = t->items[1]->dtype;
    s->i = t->items[4]->i;
    s->s = t->items[2]->s;   /* the key string stays owned by its STR value */
    s->len = t->items[2]->len;
    return push(u, s);
}

/* BUILD: state for an OrderedDict (_metadata) or a tensor is dropped; anything else refused. */
static int op_build(Unp *u)
{
    PkValue *state = pop(u), *obj = state ? top(u) : NULL;
    if (!obj)
        return -1;
    if (obj->kind != PK_DICT && obj->kind != PK_TENSOR)
        return fail(u, "BUILD on something that is not a dict or a tensor");
    return 0;
}

/* Opcodes that push a constant or an empty container. */
static int op_constant(Unp *u, int op)
{
    PkKind k = op == PK_OP_NONE ? PK_NONE
             : op == PK_OP_NEWTRUE || op == PK_OP_NEWFALSE ? PK_BOOL
             : op == PK_OP_EMPTY_TUPLE ? PK_TUPLE
             : op == PK_OP_EMPTY_LIST ? PK_LIST : PK_DICT;
    PkValue *v = new_value(u, k);
    if (!v)
        return -1;
    v->i = op == PK_OP_NEWTRUE;
    return push(u, v);
}

static int op_float(Unp *u)
{
    const unsigned char *q = take(u, 8);
    PkValue *v = q ? new_value(u, PK_FLOAT) : NULL;
    if (!v)
        return -1;
    uint64_t bits = 0;
    for (int i = 0; i < 8; i++)
        bits = bits << 8 | q[i];
    memcpy(&v->f, &bits, sizeof v->f);
    return push(u, v);
}

/* Stack and memo opcodes. */
static int op_stack(Unp *u, int op)
{
    const unsigned char *q;
    switch (op) {
    case PK_OP_MARK: return push(u, &mark_value);
    case PK_OP_POP: return pop(u) ? 0 : -1;
    case PK_OP_POP_MARK: {
        int m = find_mark(u);
        if (m < 0)
            return -1;
        u->sp = m;
        return 0;
    }
    case PK_OP_DUP: {
        PkValue *v = top(u);
        return v ? push(u, v) : -1;
    }
    case PK_OP_BINPUT: return (q = take(u, 1)) ? memo_put(u, q[0]) : -1;
    case PK_OP_LONG_BINPUT: return (q = take(u, 4)) ? memo_put(u, le(q, 4)) : -1;
    case PK_OP_MEMOIZE: return memo_put(u, u->memo_len);
    case PK_OP_BINGET: return (q = take(u, 1)) ? memo_get(u, q[0]) : -1;
    case PK_OP_LONG_BINGET: return (q = take(u, 4)) ? memo_get(u, le(q, 4)) : -1;
    default: return 1;
    }
}

/* One opcode; 1 at STOP. */
static int step(Unp *u)
{
    const unsigned char *q = take(u, 1);
    if (!q)
        return -1;
    int op = q[0], rc = op_stack(u, op);
    if (rc != 1)
        return rc;
    switch (op) {
    case PK_OP_PROTO:
        return (q = take(u, 1)) == NULL ? -1 : q[0] > 5 ? fail(u, "pickle protocol %d", q[0]) : 0;
    case PK_OP_FRAME: return take(u, 8) ? 0 : -1;
    case PK_OP_STOP: return 1;
    case PK_OP_NONE: case PK_OP_NEWTRUE: case PK_OP_NEWFALSE: case PK_OP_EMPTY_TUPLE:
    case PK_OP_EMPTY_LIST: case PK_OP_EMPTY_DICT: return op_constant(u, op);
    case PK_OP_BININT: case PK_OP_BININT1: case PK_OP_BININT2: case PK_OP_LONG1:
        return op_int(u, op);
    case PK_OP_BINFLOAT: return op_float(u);
    case PK_OP_BINUNICODE: return op_string(u, PK_STR, 4);
    case PK_OP_SHORT_BINUNICODE: return op_string(u, PK_STR, 1);
    case PK_OP_BINUNICODE8: return op_string(u, PK_STR, 8);
    case PK_OP_SHORT_BINSTRING: return op_string(u, PK_BYTES, 1);
    case PK_OP_BINSTRING: return op_string(u, PK_BYTES, 4);
    case PK_OP_SHORT_BINBYTES: return op_string(u, PK_BYTES, 1);
    case PK_OP_BINBYTES: return op_string(u, PK_BYTES, 4);
    case PK_OP_TUPLE: return op_collect(u, PK_TUPLE);
    case PK_OP_TUPLE1: case PK_OP_TUPLE2: case PK_OP_TUPLE3:
        return op_small_tuple(u, op - PK_OP_TUPLE1 + 1);
    case PK_OP_LIST: return op_collect(u, PK_LIST);
    case PK_OP_APPEND: return op_fill(u, false, false);
    case PK_OP_APPENDS: return op_fill(u, false, true);
    case PK_OP_SETITEM: return op_fill(u, true, false);
    case PK_OP_SETITEMS: return op_fill(u, true, true);
    case PK_OP_DICT: return op_dict(u);
    case PK_OP_GLOBAL: return op_global(u);
    case PK_OP_STACK_GLOBAL: return op_stack_global(u);
    case PK_OP_REDUCE: return op_reduce(u);
    case PK_OP_BUILD: return op_build(u);
    case PK_OP_BINPERSID: return op_persid(u);
    default:
        return fail(u, "opcode 0x%02x is not one torch.save writes (refused)", op);
    }
}

int pickle_load(const unsigned char *buf, size_t n, const char *what, PkDoc *doc,
                PkValue **root, size_t *used, Diag *d)
{
    Unp u = {.start = buf, .p = buf, .end = buf + n, .what = what, .d = d, .doc = doc};
    *root = NULL;
    int rc;
    while ((rc = step(&u)) == 0)
        ;
    if (rc == 1) {
        if (u.sp != 1 || u.stack[0]->kind == PK_MARK)
            rc = fail(&u, "STOP with %d values on the stack (expected one)", u.sp);
        else
            *root = u.stack[0], rc = 0;
    }
    if (used)
        *used = (size_t)(u.p - buf);
    free(u.stack);
    free(u.memo);
    return rc;
}

void pickle_doc_free(PkDoc *doc)
{
    for (int i = 0; i < doc->npool; i++) {
        PkValue *v = doc->pool[i];
        if (v->kind != PK_STORAGE)
            free(v->s);
        free(v->items);
        free(v);
    }
    free(doc->pool);
    memset(doc, 0, sizeof *doc);
}

PkValue *pickle_dict_get(const PkValue *dict, const char *key)
{
    if (!dict || dict->kind != PK_DICT)
        return NULL;
    for (int i = 0; i + 1 < dict->n; i += 2)
        if (dict->items[i]->kind == PK_STR && strcmp(dict->items[i]->s, key) == 0)
            return dict->items[i + 1];
    return NULL;
}

/* ---- the writer ---------------------------------------------------------------------------- */

static void emit(PkWriter *w, const void *p, size_t n)
{
    if (w->oom)
        return;
    if (w->len + n > w->cap) {
        size_t cap = w->cap ? w->cap : 256;
        while (cap < w->len + n)
            cap *= 2;
        unsigned char *b = realloc(w->buf, cap);
        if (!b) {
            w->oom = true;
            return;
        }
        w->buf = b;
        w->cap = cap;
    }
    memcpy(w->buf + w->len, p, n);
    w->len += n;
}

static void emit_le(PkWriter *w, uint64_t v, int n)
{
    unsigned char b[8];
    for (int i = 0; i < n; i++)
        b[i] = (unsigned char)(v >> (8 * i));
    emit(w, b, (size_t)n);
}

void pk_emit_op(PkWriter *w, PkOp op)
{
    unsigned char b = (unsigned char)op;
    emit(w, &b, 1);
}

void pk_emit_proto(PkWriter *w, int version)
{
    pk_emit_op(w, PK_OP_PROTO);
    emit_le(w, (uint64_t)version, 1);
}

void pk_emit_int(PkWriter *w, int64_t v)
{
    if (v >= 0 && v < 256) {
        pk_emit_op(w, PK_OP_BININT1);
        emit_le(w, (uint64_t)v, 1);
    } else if (v >= 0 && v < 65536) {
        pk_emit_op(w, PK_OP_BININT2);
        emit_le(w, (uint64_t)v, 2);
    } else if (v >= INT32_MIN && v <= INT32_MAX) {
        pk_emit_op(w, PK_OP_BININT);
        emit_le(w, (uint64_t)v, 4);
    } else {
        pk_emit_op(w, PK_OP_LONG1);
        emit_le(w, 8, 1);
        emit_le(w, (uint64_t)v, 8);
    }
}

void pk_emit_str(PkWriter *w, const char *s)
{
    size_t n = strlen(s);
    pk_emit_op(w, PK_OP_BINUNICODE);
    emit_le(w, n, 4);
    emit(w, s, n);
}

void pk_emit_global(PkWriter *w, const char *module, const char *name)
{
    pk_emit_op(w, PK_OP_GLOBAL);
    emit(w, module, strlen(module));
    emit(w, "\n", 1);
    emit(w, name, strlen(name));
    emit(w, "\n", 1);
}

void pk_emit_put(PkWriter *w)
{
    if (w->memo < 256) {
        pk_emit_op(w, PK_OP_BINPUT);
        emit_le(w, w->memo, 1);
    } else {
        pk_emit_op(w, PK_OP_LONG_BINPUT);
        emit_le(w, w->memo, 4);
    }
    w->memo++;
}

void pk_emit_get(PkWriter *w, uint32_t index)
{
    if (index < 256) {
        pk_emit_op(w, PK_OP_BINGET);
        emit_le(w, index, 1);
    } else {
        pk_emit_op(w, PK_OP_LONG_BINGET);
        emit_le(w, index, 4);
    }
}

unsigned char *pk_writer_take(PkWriter *w, size_t *len)
{
    unsigned char *b = w->oom ? NULL : w->buf;
    *len = w->oom ? 0 : w->len;
    if (w->oom)
        free(w->buf);
    memset(w, 0, sizeof *w);
    return b;
}

void pk_writer_free(PkWriter *w)
{
    free(w->buf);
    memset(w, 0, sizeof *w);
}
