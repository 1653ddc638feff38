/* diag: source texts, byte-range locations and gcc-style diagnostics (see diag.h).
 *
 * Messages live in one growing array in report order. Each message owns its text and a list of
 * attachments (help and note lines) printed after its source excerpt, in the order added.
 * Allocation failures inside diag are counted (the error still counts) but cannot be reported
 * anywhere else; the message is simply not stored. */
#include "util/diag.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/array.h"
#include "util/utf8.h"

enum {
    DIAG_DEFAULT_MAX_ERRORS = 20,
    DIAG_MAX_STORED = 200,      /* warnings and notes are capped too: bounded memory */
    DIAG_TAB = 8,               /* tab stops in the excerpt */
    DIAG_MAX_WIDTH = 100,       /* longer lines are cut around the range */
    DIAG_LEAD = 30,             /* columns shown before the range in a cut line */
};

typedef struct DiagAttach {
    bool is_note;
    SrcRange r;                 /* notes only */
    char *text;
} DiagAttach;

struct DiagMessage {
    DiagLevel level;
    SrcRange r;
    char *what;                 /* diag_error_in: the named thing, else NULL */
    char *text;
    DiagAttach *att;
    int natt;
    size_t att_cap;
};

/* An empty context with the default error cap. */
void diag_init(Diag *d)
{
    memset(d, 0, sizeof *d);
    d->max_errors = DIAG_DEFAULT_MAX_ERRORS;
}

/* Frees one message's strings and attachments. */
static void message_free(DiagMessage *m)
{
    free(m->what);
    free(m->text);
    for (int i = 0; i < m->natt; i++)
        free(m->att[i].text);
    free(m->att);
}

/* Releases every source and message; d is empty (and re-initialised) afterwards. */
void diag_free(Diag *d)
{
    for (int i = 0; i < d->nsources; i++) {
        free(d->sources[i]->name);
        free(d->sources[i]->text);
        free(d->sources[i]);
    }
    free(d->sources);
    for (int i = 0; i < d->nmessages; i++)
        message_free(&d->messages[i]);
    free(d->messages);
    int max = d->max_errors;
    diag_init(d);
    if (max > 0)
        d->max_errors = max;
}

/* Drops every message but keeps the sources, so earlier SrcRanges stay valid. */
void diag_clear_messages(Diag *d)
{
    for (int i = 0; i < d->nmessages; i++)
        message_free(&d->messages[i]);
    d->nmessages = 0;
    d->nerrors = 0;
    d->nwarnings = 0;
}

/* printf into a fresh malloc'd string, or NULL when out of memory. */
static char *vformat(const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0)
        return NULL;
    char *s = malloc((size_t)n + 1);
    if (s)
        vsnprintf(s, (size_t)n + 1, fmt, ap);
    return s;
}

/* Registers a source: copies name and the len bytes of text (plus a terminating NUL). */
const Source *diag_add_source(Diag *d, const char *name, const char *text, size_t len)
{
    if (len > UINT32_MAX - 1) {
        diag_error_in(d, name, "source is too large (%zu bytes)", len);
        return NULL;
    }
    if (ARRAY_RESERVE(d->sources, d->sources_cap, (size_t)d->nsources + 1) != 0)
        goto oom;
    Source *src = calloc(1, sizeof *src);
    if (!src)
        goto oom;
    src->name = strdup(name);
    src->text = malloc(len + 1);
    if (!src->name || !src->text) {
        free(src->name);
        free(src->text);
        free(src);
        goto oom;
    }
    if (len)
        memcpy(src->text, text, len);
    src->text[len] = '\0';
    src->len = len;
    d->sources[d->nsources++] = src;
    return src;
oom:
    diag_error_in(d, name, "out of memory while loading the source");
    return NULL;
}

/* Cuts every run of identifier characters longer than DIAG_MAX_IDENT in s (in place) to its
 * first DIAG_IDENT_KEEP characters and "...": a message quoting a 10 MB name stays readable. */
static void cut_identifiers(char *s)
{
    char *w = s;
    for (const char *r = s; *r;) {
        size_t k = 0;
        while (r[k] == '_' || (r[k] >= '0' && r[k] <= '9') || ((r[k] | 0x20) >= 'a' &&
                                                              (r[k] | 0x20) <= 'z'))
            k++;
        if (k > DIAG_MAX_IDENT) {
            memmove(w, r, DIAG_IDENT_KEEP);
            memcpy(w + DIAG_IDENT_KEEP, "...", 3);
            w += DIAG_IDENT_KEEP + 3;
            r += k;
        } else if (k) {
            memmove(w, r, k);
            w += k;
            r += k;
        } else {
            *w++ = *r++;
        }
    }
    *w = '\0';
}

/* Appends a message if the caps allow; errors are always counted. */
static DiagMessage *add_message(Diag *d, DiagLevel level, SrcRange r, const char *what,
                                const char *fmt, va_list ap)
{
    int max = d->max_errors > 0 ? d->max_errors : DIAG_DEFAULT_MAX_ERRORS;
    if (level == DIAG_ERROR) {
        d->nerrors++;
        if (d->nerrors > max)
            return NULL;
    } else if (level == DIAG_WARNING) {
        d->nwarnings++;
    }
    if (d->nmessages >= DIAG_MAX_STORED + max)
        return NULL;
    if (ARRAY_RESERVE(d->messages, d->messages_cap, (size_t)d->nmessages + 1) != 0)
        return NULL;
    DiagMessage *m = &d->messages[d->nmessages];
    memset(m, 0, sizeof *m);
    m->level = level;
    m->r = r;
    m->text = vformat(fmt, ap);
    if (m->text)
        cut_identifiers(m->text);
    if (what)
        m->what = strdup(what);
    if (!m->text || (what && !m->what)) {
        free(m->text);
        free(m->what);
        return NULL;
    }
    d->nmessages++;
    return m;
}

/* The body of the public message functions: add_message over their variable arguments. */
#define ADD_MESSAGE_VA(level, r, what)                                          \
    va_list ap;                                                                 \
    va_start(ap, fmt);                                                          \
    DiagMessage *m = add_message(d, level, r, what, fmt, ap);                   \
    va_end(ap);                                                                 \
    return m

DiagMessage *diag_error(Diag *d, SrcRange r, const char *fmt, ...)
{
    ADD_MESSAGE_VA(DIAG_ERROR, r, NULL);
}

DiagMessage *diag_warning(Diag *d, SrcRange r, const char *fmt, ...)
{
    ADD_MESSAGE_VA(DIAG_WARNING, r, NULL);
}

DiagMessage *diag_error_in(Diag *d, const char *what, const char *fmt, ...)
{
    ADD_MESSAGE_VA(DIAG_ERROR, (SrcRange){ 0 }, what);
}

/* Adds a help or note line to m; silently dropped when out of memory. */
static void attach(DiagMessage *m, bool is_note, SrcRange r, const char *fmt, va_list ap)
{
    if (ARRAY_RESERVE(m->att, m->att_cap, (size_t)m->natt + 1) != 0)
        return;
    char *text = vformat(fmt, ap);
    if (!text)
        return;
    cut_identifiers(text);
    m->att[m->natt++] = (DiagAttach){is_note, r, text};
}

void diag_help(DiagMessage *m, const char *fmt, ...)
{
    if (!m)
        return;
    va_list ap;
    va_start(ap, fmt);
    SrcRange none = {0};
    attach(m, false, none, fmt, ap);
    va_end(ap);
}

void diag_note(DiagMessage *m, SrcRange r, const char *fmt, ...)
{
    if (!m)
        return;
    va_list ap;
    va_start(ap, fmt);
    attach(m, true, r, fmt, ap);
    va_end(ap);
}

int diag_error_count(const Diag *d)
{
    return d->nerrors;
}

const char *diag_message_text(const Diag *d, int i)
{
    if (i < 0 || i >= d->nmessages)
        return NULL;
    return d->messages[i].text;
}

/* ---- UTF-8 and positions ------------------------------------------------------------------ */

/* Length of the character starting at p (at most n bytes available): the length of a valid
 * UTF-8 sequence, or 1 for a byte that does not start one (each bad byte is one column). */
static size_t utf8_len(const unsigned char *p, size_t n)
{
    int k = utf8_length(p, n);
    return k ? (size_t)k : 1;
}

/* Start of the line containing off. */
static size_t line_start(const Source *src, size_t off)
{
    while (off > 0 && src->text[off - 1] != '\n')
        off--;
    return off;
}

/* End of the line starting at ls (the '\n' or the end of text; a '\r' before it excluded). */
static size_t line_end(const Source *src, size_t ls)
{
    const char *nl = memchr(src->text + ls, '\n', src->len - ls);
    size_t le = nl ? (size_t)(nl - src->text) : src->len;
    if (le > ls && src->text[le - 1] == '\r')
        le--;
    return le;
}

/* Characters (not bytes) from ls up to off. */
static size_t count_chars(const Source *src, size_t ls, size_t off)
{
    const unsigned char *t = (const unsigned char *)src->text;
    size_t n = 0;
    for (size_t i = ls; i < off; n++)
        i += utf8_len(t + i, src->len - i);
    return n;
}

/* Line is 1 + the newlines before off; column is 1 + the characters between the line start
 * and off. Offsets past the end are clamped. */
void diag_line_col(const Source *src, uint32_t off, int *line, int *col)
{
    size_t o = off > src->len ? src->len : off;
    int l = 1;
    const char *p = src->text, *end = src->text + o;
    while ((p = memchr(p, '\n', (size_t)(end - p))) != NULL) {
        l++;
        p++;
    }
    size_t ls = line_start(src, o);
    size_t c = count_chars(src, ls, o);
    *line = l;
    *col = c >= INT_MAX ? INT_MAX : (int)c + 1;
}

char *diag_pos(SrcRange r, char *buf, size_t n)
{
    if (!r.src) {
        snprintf(buf, n, "?");
        return buf;
    }
    int line, col;
    diag_line_col(r.src, r.begin, &line, &col);
    snprintf(buf, n, "%d:%d", line, col);
    return buf;
}

/* ---- printing ----------------------------------------------------------------------------- */

/* The escape sequences of one way of printing: all empty for plain text. level is indexed by
 * DiagLevel. */
typedef struct Style {
    const char *bold, *level[3], *caret, *reset;
} Style;
static const Style plain_style = { "", { "", "", "" }, "", "" };
static const Style ansi_style = { "\033[1m", { "\033[1;31m", "\033[1;35m", "\033[1;36m" },
                                  "\033[1;32m", "\033[0m" };

bool diag_color_wanted(FILE *f)
{
    const char *no = getenv("NO_COLOR"), *term = getenv("TERM");
    return f && isatty(fileno(f)) && !(no && no[0]) && !(term && strcmp(term, "dumb") == 0);
}

static const char *level_name(DiagLevel l)
{
    switch (l) {
    case DIAG_ERROR: return "error";
    case DIAG_WARNING: return "warning";
    default: return "note";
    }
}

/* Display width of the character at p when it starts at display column x (tabs to stops). */
static int char_width(const unsigned char *p, int x)
{
    return p[0] == '\t' ? DIAG_TAB - x % DIAG_TAB : 1;
}

/* Writes the character at p (len bytes) for display: printable text as is, tabs as spaces up
 * to the next stop, control characters and invalid bytes as '?'. */
static void put_char(FILE *out, const unsigned char *p, size_t len, int x)
{
    if (p[0] == '\t') {
        for (int i = char_width(p, x); i > 0; i--)
            fputc(' ', out);
    } else if (len == 1 && (p[0] < 0x20 || p[0] == 0x7F || p[0] >= 0x80)) {
        fputc('?', out);
    } else {
        fwrite(p, 1, len, out);
    }
}

/* Prints the source line of r with a caret line under the range:
 *       3 |   lstn(128)
 *         |   ^~~~
 * A range running past the end of its line is underlined to the line end; a line wider than
 * DIAG_MAX_WIDTH characters is cut to a window around the range with "..." on the cut sides. */
static void print_excerpt(FILE *out, SrcRange r, const Style *st)
{
    const Source *src = r.src;
    size_t b = r.begin > src->len ? src->len : r.begin;
    size_t e = r.end > src->len ? src->len : r.end;
    if (e < b)
        e = b;
    size_t ls = line_start(src, b), le = line_end(src, ls);
    if (b > le)             /* inside a "\r\n" */
        b = le;
    if (e > le)
        e = le;
    int line, col;
    diag_line_col(src, (uint32_t)b, &line, &col);
    const unsigned char *t = (const unsigned char *)src->text;

    /* The window of characters to show: [ws, we) as byte offsets. */
    size_t total = count_chars(src, ls, le);
    size_t ws = ls, we = le;
    bool cut_left = false, cut_right = false;
    if (total > DIAG_MAX_WIDTH) {
        size_t before = count_chars(src, ls, b);
        size_t skip = before > DIAG_LEAD ? before - DIAG_LEAD : 0;
        for (size_t k = 0; k < skip; k++)
            ws += utf8_len(t + ws, src->len - ws);
        cut_left = skip > 0;
        size_t i = ws;
        for (int k = 0; k < DIAG_MAX_WIDTH - 2 * 3 && i < le; k++)
            i += utf8_len(t + i, src->len - i);
        if (i < le) {
            we = i;
            cut_right = true;
        }
        if (e > we)
            e = we;
    }

    fprintf(out, "%5d | ", line);
    int x = 0;
    if (cut_left) {
        fputs("...", out);
        x = 3;
    }
    int cb = -1, ce = -1;   /* display columns of the range */
    for (size_t i = ws; i < we;) {
        size_t len = utf8_len(t + i, src->len - i);
        if (i == b)
            cb = x;
        if (i == e)
            ce = x;
        int w = char_width(t + i, x);
        put_char(out, t + i, len, x);
        x += w;
        i += len;
    }
    if (cb < 0)
        cb = x;
    if (ce < 0)
        ce = x;
    if (cut_right)
        fputs("...", out);
    fputc('\n', out);

    fprintf(out, "%5s | ", "");
    for (int k = 0; k < cb; k++)
        fputc(' ', out);
    fprintf(out, "%s^", st->caret);
    for (int k = cb + 1; k < ce; k++)
        fputc('~', out);
    fprintf(out, "%s\n", st->reset);
}

/* Prints "file:line:col: LEVEL: text" (or "what: LEVEL: text") and the excerpt. */
static void print_located(FILE *out, DiagLevel level, SrcRange r, const char *what,
                          const char *text, const Style *st)
{
    const char *lv = st->level[level], *b = st->bold, *z = st->reset;
    if (r.src) {
        int line, col;
        diag_line_col(r.src, r.begin, &line, &col);
        fprintf(out, "%s%s:%d:%d: %s%s: %s%s%s%s\n", b, r.src->name, line, col, lv,
                level_name(level), z, b, text, z);
        print_excerpt(out, r, st);
    } else if (what) {
        fprintf(out, "%s%s: %s%s: %s%s%s%s\n", b, what, lv, level_name(level), z, b, text, z);
    } else {
        fprintf(out, "%s%s: %s%s%s%s\n", lv, level_name(level), z, b, text, z);
    }
}

/* "2 errors generated.", "1 warning and 2 errors generated."; nothing when there is neither. */
static void print_summary(const Diag *d, FILE *out)
{
    int e = d->nerrors, w = d->nwarnings;
    if (w)
        fprintf(out, "%d warning%s%s", w, w == 1 ? "" : "s", e ? " and " : "");
    if (e)
        fprintf(out, "%d error%s", e, e == 1 ? "" : "s");
    if (e || w)
        fprintf(out, " generated.\n");
}

void diag_print(const Diag *d, FILE *out)
{
    diag_print_styled(d, out, 0);
}

/* Prints every stored message with its helps and notes; then, if errors were dropped past the
 * cap, one line saying how many; then the summary when asked for. */
void diag_print_styled(const Diag *d, FILE *out, unsigned flags)
{
    const Style *st = flags & DIAG_PRINT_COLOR ? &ansi_style : &plain_style;
    int stored_errors = 0;
    for (int i = 0; i < d->nmessages; i++) {
        const DiagMessage *m = &d->messages[i];
        if (m->level == DIAG_ERROR)
            stored_errors++;
        print_located(out, m->level, m->r, m->what, m->text, st);
        for (int k = 0; k < m->natt; k++) {
            const DiagAttach *a = &m->att[k];
            if (a->is_note)
                print_located(out, DIAG_NOTE, a->r, NULL, a->text, st);
            else
                fprintf(out, "%shelp:%s %s\n", st->bold, st->reset, a->text);
        }
    }
    int max = d->max_errors > 0 ? d->max_errors : DIAG_DEFAULT_MAX_ERRORS;
    if (d->nerrors > stored_errors)
        fprintf(out, "note: %d more error%s not shown\n", d->nerrors - stored_errors,
                d->nerrors - stored_errors == 1 ? "" : "s");
    else if (stored_errors >= max)
        fprintf(out, "note: stopped after %d errors\n", stored_errors);
    if (flags & DIAG_PRINT_SUMMARY)
        print_summary(d, out);
}

/* ---- suggestions -------------------------------------------------------------------------- */

/* Edit distance with three rows of costs (the row before last is needed for swaps);
 * INT_MAX/2 when out of memory. Typos such as 'modle' for 'model' are one edit. */
int diag_edit_distance(const char *a, const char *b)
{
    size_t na = strlen(a), nb = strlen(b);
    int small[3][65];
    int *pp = small[0], *prev = small[1], *cur = small[2];
    int *heap = NULL;
    if (nb + 1 > 65) {
        heap = malloc(3 * (nb + 1) * sizeof *heap);
        if (!heap)
            return INT_MAX / 2;
        pp = heap;
        prev = heap + nb + 1;
        cur = heap + 2 * (nb + 1);
    }
    for (size_t j = 0; j <= nb; j++)
        prev[j] = (int)j;
    for (size_t i = 1; i <= na; i++) {
        cur[0] = (int)i;
        for (size_t j = 1; j <= nb; j++) {
            int sub = prev[j - 1] + (a[i - 1] != b[j - 1]);
            int del = prev[j] + 1, ins = cur[j - 1] + 1;
            int m = sub < del ? sub : del;
            m = m < ins ? m : ins;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                pp[j - 2] + 1 < m)
                m = pp[j - 2] + 1;
            cur[j] = m;
        }
        int *tmp = pp;
        pp = prev;
        prev = cur;
        cur = tmp;
    }
    int r = prev[nb];
    free(heap);
    return r;
}

/* The first candidate at the smallest distance, if within max(1, strlen(name) / 3). */
const char *diag_suggest(const char *name, const char *const *candidates, int n)
{
    int limit = (int)(strlen(name) / 3);
    if (limit < 1)
        limit = 1;
    const char *best = NULL;
    int bestd = limit + 1;
    size_t len = strlen(name);
    for (int i = 0; i < n; i++) {
        if (!candidates[i])
            continue;
        size_t cl = strlen(candidates[i]);   /* the distance is at least the length gap */
        if ((cl > len ? cl - len : len - cl) > (size_t)limit)
            continue;
        int dist = diag_edit_distance(name, candidates[i]);
        if (dist < bestd) {
            best = candidates[i];
            bestd = dist;
        }
    }
    return best;
}
