/* sema_util: small helpers shared by every part of semantic analysis -- memory in the model's
 * arena, message text (snippets, lists, did-you-mean) and the name tables (cells, consts). The
 * ground floor of src/lang/sema*.c: it calls none of them (see sema_int.h). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "lang/sema_int.h"

/* Reports out of memory once per compile (there is nothing better to do). */
void sema_oom(Sema *s)
{
    diag_error_in(s->d, "recur", "out of memory");
}

/* Makes room for element n in a growable array kept in the model arena (doubling; the old
 * block stays in the arena, which is freed as a whole). */
void *sema_grow(Sema *s, void *arr, int n, int *cap, size_t elem)
{
    void *p = arena_grow(&s->m->arena, arr, n, cap, elem);
    if (!p)
        sema_oom(s);
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

/* Finds a const by name (declared in the file or given by --set). */
SemaConst *sema_find_const(Sema *s, const char *name)
{
    for (int i = 0; i < s->nconsts; i++)
        if (strcmp(s->consts[i].name, name) == 0)
            return &s->consts[i];
    return NULL;
}

const char *sema_set_what(const Sema *s)
{
    return s->opts && s->opts->api_overrides ? "override" : "--set";
}
