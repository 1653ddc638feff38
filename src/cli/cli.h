/* cli: the pieces shared by the recur subcommands (src/cli/cmd_*.c).
 *
 * Every command is `int cmd_NAME(int argc, char **argv)` with argv[0] the command name; it returns
 * the process exit status: 0 success, 1 failure (invalid model, bad file, ...), 2 usage error.
 * Commands print diagnostics to stderr and results to stdout. Nothing here keeps pointers into
 * argv beyond the command's own lifetime. */
#ifndef RECUR_CLI_H
#define RECUR_CLI_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "util/diag.h"

enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2 };

typedef struct CliCommand {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;    /* one line for `recur --help` */
    const char *usage;      /* the full text of `recur help NAME` */
    bool omp_waits;         /* spends its time in OpenMP's parallel loops (windows of many
                             * rows): worth choosing how idle threads wait at start
                             * (exec_omp_setup), which costs running the program twice */
} CliCommand;

/* The command table (main.c), NULL-terminated by a zero entry. */
extern const CliCommand cli_commands[];

/* Prints the help topic (data, settings, help) to out; -1 when topic is none of them. */
int cli_help_topic(const char *topic, FILE *out);

/* Parses a --threads value and applies it to oneDNN and OpenBLAS (exec_set_threads); returns
 * 0, or -1 for a bad value. */
int cli_set_threads(const char *value);
/* Option values: when value is NULL (the option was not given) these return 0 and leave *out
 * alone; otherwise they parse it into *out and return 0, or -1 when it is not a decimal integer
 * in [lo, hi] / not a finite number. */
int cli_opt_u64(const char *value, unsigned long long lo, unsigned long long hi,
                unsigned long long *out);
int cli_opt_double(const char *value, double *out);

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

/* The result of cli_parse: positional arguments in order. Owns pos and the items of every
 * CLI_LIST option it filled; cli_args_free releases them. */
typedef struct CliArgs {
    const char *cmd;        /* argv[0], the command name */
    const char **pos;       /* pointers into argv */
    int npos;
    const CliOpt *opts;
} CliArgs;

/* Parses argv[1..argc) against opts (terminated by a zero entry). Options may come before, after
 * or between positional arguments; `--` ends options. Returns 0, or EXIT_USAGE after printing a
 * usage error (unknown option with did-you-mean, missing value); a is then already freed. */
int cli_parse(int argc, char **argv, const CliOpt *opts, CliArgs *a);
void cli_args_free(CliArgs *a);
/* cli_args_free, then a usage error for a's command; returns EXIT_USAGE. */
int cli_args_usage_error(CliArgs *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prints d's diagnostics on stderr, coloured on a terminal (diag_color_wanted), with the closing
 * "N errors generated." line when summary. */
void cli_print_diag(const Diag *d, bool summary);
/* The end of a command: prints d's diagnostics, frees d and a, and turns a status (0 or -1)
 * into the exit code. */
int cli_finish(CliArgs *a, Diag *d, int status);

/* Reads path (.npy) as `recur run` reads its input for model m (cmd_weights.c): token ids
 * [T, B] into *ids or vectors [T, B, n] into *vectors (malloc'ed, the caller frees; the other
 * NULL), *T and *B. 0, or -1 with a diagnostic naming path. */
typedef struct Model Model;
int cli_read_model_input(Model *m, const char *path, int32_t **ids, float **vectors, int *T,
                         int *B, Diag *d);

#endif
