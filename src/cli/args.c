/* args: the one command-line option parser of the recur subcommands. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

/* Appends v to a CliList; returns -1 when out of memory. */
static int list_push(CliList *l, const char *v)
{
    const char **items = realloc(l->items, (size_t)(l->n + 1) * sizeof *items);
    if (!items)
        return -1;
    items[l->n++] = v;
    l->items = items;
    return 0;
}

void cli_args_free(CliArgs *a)
{
    free(a->pos);
    a->pos = NULL;
    a->npos = 0;
    for (const CliOpt *o = a->opts; o && o->name; o++)
        if (o->kind == CLI_LIST) {
            CliList *l = o->dest;
            free(l->items);
            l->items = NULL;
            l->n = 0;
        }
}

int cli_args_usage_error(CliArgs *a, const char *fmt, ...)
{
    cli_args_free(a);
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "recur %s: ", a->cmd);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\nhelp: run 'recur help %s' for its usage\n", a->cmd);
    va_end(ap);
    return EXIT_USAGE;
}

void cli_print_diag(const Diag *d, bool summary)
{
    diag_print_styled(d, stderr, (diag_color_wanted(stderr) ? DIAG_PRINT_COLOR : 0) |
                                 (summary ? DIAG_PRINT_SUMMARY : 0));
}

int cli_finish(CliArgs *a, Diag *d, int status)
{
    cli_print_diag(d, false);
    diag_free(d);
    cli_args_free(a);
    return status ? EXIT_FAIL : EXIT_OK;
}

/* Reports an unknown option, suggesting the closest known one. */
static int unknown_option(CliArgs *a, const char *arg)
{
    const char *names[64];
    int n = 0;
    for (const CliOpt *o = a->opts; o->name && n < 64; o++)
        names[n++] = o->name;
    const char *bare = arg + strspn(arg, "-");
    char buf[128];
    size_t len = strcspn(bare, "=");
    if (len >= sizeof buf)
        len = sizeof buf - 1;
    memcpy(buf, bare, len);
    buf[len] = '\0';
    const char *s = diag_suggest(buf, names, n);
    if (s)
        return cli_args_usage_error(a, "unknown option '%s'; did you mean '--%s'?", arg, s);
    return cli_args_usage_error(a, "unknown option '%s'", arg);
}

/* The option that arg names ("--name", "--name=value" or "-x"), with its inline value. */
static const CliOpt *find_option(const CliOpt *opts, const char *arg, const char **inline_value)
{
    const CliOpt *o = NULL;
    *inline_value = NULL;
    if (arg[1] == '-') {
        const char *name = arg + 2;
        size_t len = strcspn(name, "=");
        for (const CliOpt *p = opts; p->name; p++)
            if (strlen(p->name) == len && strncmp(p->name, name, len) == 0)
                o = p;
        if (o && name[len] == '=')
            *inline_value = name + len + 1;
    } else if (arg[2] == '\0') {
        for (const CliOpt *p = opts; p->name; p++)
            if (p->short_name && p->short_name == arg[1])
                o = p;
    }
    return o;
}

int cli_parse(int argc, char **argv, const CliOpt *opts, CliArgs *a)
{
    *a = (CliArgs){.cmd = argv[0], .opts = opts};
    CliList positional = {NULL, 0};
    bool only_positional = false;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (only_positional || arg[0] != '-' || arg[1] == '\0') {
            if (list_push(&positional, arg))
                goto oom;
            a->pos = positional.items;
            a->npos = positional.n;
            continue;
        }
        if (strcmp(arg, "--") == 0) {
            only_positional = true;
            continue;
        }
        const char *value;
        const CliOpt *o = find_option(opts, arg, &value);
        if (!o)
            return unknown_option(a, arg);
        if (o->kind == CLI_FLAG) {
            if (value)
                return cli_args_usage_error(a, "option '--%s' takes no value", o->name);
            *(bool *)o->dest = true;
            continue;
        }
        if (!value) {
            if (i + 1 >= argc)
                return cli_args_usage_error(a, "option '%s' needs a value", arg);
            value = argv[++i];
        }
        if (o->kind == CLI_VALUE)
            *(const char **)o->dest = value;
        else if (list_push((CliList *)o->dest, value))
            goto oom;
    }
    return 0;
oom:
    return cli_args_usage_error(a, "out of memory");
}
