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
/* Prints every diagnostic in d to stderr followed by an error count line when there are errors. */
void cli_print_diags(const Diag *d);
/* Parses a --threads value and applies it to OpenBLAS; returns 0, or -1 for a bad value. */
int cli_set_threads(const char *value);
/* Parses a non-negative integer option value (decimal, fits in long long); -1 on error. */
int cli_parse_u64(const char *s, unsigned long long *out);

#endif
