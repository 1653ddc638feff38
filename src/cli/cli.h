/* cli: the pieces shared by the recur subcommands (src/cli/cmd_*.c).
 *
 * Every command is `int cmd_NAME(int argc, char **argv)` with argv[0] the command name; it returns
 * the process exit status: 0 success, 1 failure (invalid model, bad file, ...), 2 usage error.
 * Commands print diagnostics to stderr and results to stdout. Nothing here keeps pointers into
 * argv beyond the command's own lifetime. */
#ifndef RECUR_CLI_H
#define RECUR_CLI_H

#include <stdio.h>

#include "lang/diag.h"

enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2 };

typedef struct CliCommand {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;    /* one line for `recur --help` */
    const char *usage;      /* the full text of `recur help NAME` */
} CliCommand;

/* The command table (main.c), NULL-terminated by a zero entry. */
extern const CliCommand cli_commands[];

/* Prints `recur NAME: message` and a hint to run `recur help NAME`; returns EXIT_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prints every diagnostic in d to stderr, in report order. */
void cli_print_diags(const Diag *d);
/* Parses a --threads value and applies it to OpenBLAS; returns 0, or -1 for a bad value. */
int cli_set_threads(const char *value);
/* Parses a non-negative integer option value (decimal, fits in long long); -1 on error. */
int cli_parse_u64(const char *s, unsigned long long *out);

/* ---- option parsing shared by every command ---------------------------------------------- */

typedef enum CliOptKind {
    CLI_FLAG,   /* --name             sets *(bool *)dest                                        */
    CLI_VALUE,  /* --name V, --name=V sets *(const char **)dest (last one wins)                 */
    CLI_LIST    /* --name V, repeated appends to *(CliList *)dest                               */
} CliOptKind;

typedef struct CliList {
    const char **items;     /* malloc'ed array of pointers into argv; free with free() */
    int n;
} CliList;

typedef struct CliOpt {
    const char *name;       /* long name without dashes: "set" */
    char short_name;        /* 'o' for -o, or 0 */
    CliOptKind kind;
    void *dest;
} CliOpt;

/* Parses argv[1..argc) against opts (terminated by a zero entry). Options may come before, after
 * or between positional arguments; `--` ends options. Positional arguments are collected in
 * *pos (malloc'ed array of argv pointers, *npos of them; free with free()). Returns 0, or
 * EXIT_USAGE after printing a usage error (unknown option with did-you-mean, missing value). */
int cli_parse(int argc, char **argv, const CliOpt *opts, const char ***pos, int *npos);

#endif
