/* diag: source texts, byte-range locations, and compiler-style diagnostics.
 *
 * One Diag context is carried through every stage (parse, sema, IR, execution, file I/O): library
 * functions report problems here and return a status; only the CLI prints and exits.
 *
 * Output format (LANGUAGE.md section 8), gcc style, columns counted in characters from 1:
 *
 *   models/bad.rnn:3:3: error: unknown layer 'lstn'; did you mean 'lstm'?
 *       3 |   lstn(128)
 *         |   ^~~~
 *   help: valid layers are embedding, onehot, rnn, lstm, gru, dense, ...
 *
 * A message without a source range prints as `NAME: error: message` (a file or tensor error).
 *
 * Ownership: the Diag owns every Source added to it and every message; diag_free releases them.
 * Source pointers stay valid until diag_free. */
#ifndef RECUR_DIAG_H
#define RECUR_DIAG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* A loaded text: a file the user gave, the built-in prelude, or a --set string. */
typedef struct Source {
    char *name;     /* shown in messages: the path as the user wrote it, or "<prelude>" */
    char *text;     /* the bytes, NUL-terminated (the text itself may contain NULs) */
    size_t len;     /* length in bytes, excluding the terminator */
} Source;

/* A half-open byte range [begin, end) in one source. src == NULL means "no location". */
typedef struct SrcRange {
    const Source *src;
    uint32_t begin, end;
} SrcRange;

typedef enum { DIAG_ERROR, DIAG_WARNING, DIAG_NOTE } DiagLevel;

typedef struct DiagMessage DiagMessage;

typedef struct Diag {
    Source **sources;
    int nsources;
    size_t sources_cap;
    DiagMessage *messages;  /* in report order */
    int nmessages;
    size_t messages_cap;
    int nerrors, nwarnings;
    int max_errors;         /* errors beyond this are counted but not stored (default 20) */
} Diag;

/* An empty context; nothing to free until something is added. */
void diag_init(Diag *d);
void diag_free(Diag *d);

/* Adds a copy of len bytes as a named source; NULL (and an error) when out of memory. */
const Source *diag_add_source(Diag *d, const char *name, const char *text, size_t len);

/* Reports an error at a range (r.src may be NULL for a located-nowhere message). Returns the
 * message so helps/notes can be attached with diag_help; the pointer is valid only until the
 * next message is reported (messages live in a growing array), and is NULL past max_errors. */
DiagMessage *diag_error(Diag *d, SrcRange r, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
DiagMessage *diag_warning(Diag *d, SrcRange r, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Reports an error about a named thing that is not source text (a file, a tensor, a row):
 * printed as `what: error: message`. */
DiagMessage *diag_error_in(Diag *d, const char *what, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Appends a `help:` line to message m (no-op when m is NULL, e.g. past max_errors). */
void diag_help(DiagMessage *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends a `note:` line that points at another range (printed with its line:col). */
void diag_note(DiagMessage *m, SrcRange r, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

int diag_error_count(const Diag *d);
/* Text of the i-th stored message (0-based, in report order; without location, helps or notes),
 * or NULL when there is no such message. Owned by d. (For tests and tools.) */
const char *diag_message_text(const Diag *d, int i);
/* Prints every stored message in order (plain text, no summary line). */
void diag_print(const Diag *d, FILE *out);
/* How diag_print_styled prints: ANSI colours (as clang: bold location, red `error:`, magenta
 * `warning:`, cyan `note:`, green carets), and a closing "2 errors generated." line. */
enum { DIAG_PRINT_COLOR = 1, DIAG_PRINT_SUMMARY = 2 };
/* diag_print with flags (DIAG_PRINT_*). */
void diag_print_styled(const Diag *d, FILE *out, unsigned flags);
/* Whether output to f should be coloured: f is a terminal, NO_COLOR is unset or empty
 * (no-color.org) and TERM is not "dumb". */
bool diag_color_wanted(FILE *f);
/* Clears messages (keeps sources), e.g. between independent checks. */
void diag_clear_messages(Diag *d);

/* 1-based line and column (in characters) of byte offset off in src. */
void diag_line_col(const Source *src, uint32_t off, int *line, int *col);
/* Formats "line:col" of r's start into buf, for messages like "expected '}' to close 'model'
 * at 7:1". Returns buf. */
char *diag_pos(SrcRange r, char *buf, size_t n);

/* Message and help texts cut every identifier-like run longer than DIAG_MAX_IDENT characters to
 * its first DIAG_IDENT_KEEP and "...". */
#define DIAG_MAX_IDENT 64
#define DIAG_IDENT_KEEP 40
/* Edit distance between a and b (used for did-you-mean suggestions): Levenshtein, plus a swap
 * of two adjacent characters counts as one edit ("optimal string alignment"). */
int diag_edit_distance(const char *a, const char *b);
/* The candidate closest to name within distance max(1, strlen(name)/3), or NULL. */
const char *diag_suggest(const char *name, const char *const *candidates, int n);

#endif
