/* commands: the entry points of the recur subcommands, one file each in src/cli.
 * See cli.h for the calling convention (argv[0] is the command name; returns the exit status). */
#ifndef RECUR_COMMANDS_H
#define RECUR_COMMANDS_H

#include "util/diag.h"

int cmd_check(int argc, char **argv);
int cmd_graph(int argc, char **argv);
int cmd_init(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_convert(int argc, char **argv);
int cmd_inspect(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_sample(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_trace(int argc, char **argv);
/* recur trace --lags (cmd_trace_lags.c; cmd_trace hands over when it sees --lags). */
int cmd_trace_lags(int argc, char **argv);


/* --data FILE [--range A:B] of recur trace: bytes [A, B) of the file (default all) as a
 * NUL-terminated text into *text (malloc'ed, the caller frees). -1 with a diagnostic. */
int trace_data_text(const char *path, const char *range, char **text, Diag *d);

#endif
