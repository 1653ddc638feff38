/* commands: the entry points of the recur subcommands, one file each in src/cli.
 * See cli.h for the calling convention (argv[0] is the command name; returns the exit status). */
#ifndef RECUR_COMMANDS_H
#define RECUR_COMMANDS_H

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

#endif
