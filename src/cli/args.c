/* args: the one command-line option parser of the recur subcommands. */
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

/* Reports an unknown option, suggesting the closest known one. */
static int unknown_option(const char *cmd, const char *arg, const CliOpt *opts)
{
    const char *names[64];
    int n = 0;
    for (const CliOpt *o = opts; o->name && n < 64; o++)
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
        return cli_usage_error(cmd, "unknown option '%s'; did you mean '--%s'?", arg, s);
    return cli_usage_error(cmd, "unknown option '%s'", arg);
}

int cli_parse(int argc, char **argv, const CliOpt *opts, const char ***pos, int *npos)
{
    const char *cmd = argv[0];
    CliList positional = {NULL, 0};
    bool only_positional = false;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (only_positional || arg[0] != '-' || arg[1] == '\0') {
            if (list_push(&positional, arg))
                goto oom;
            continue;
        }
        if (strcmp(arg, "--") == 0) {
            only_positional = true;
            continue;
        }
        const CliOpt *o = NULL;
        const char *inline_value = NULL;
        if (arg[1] == '-') {
            const char *name = arg + 2;
            size_t len = strcspn(name, "=");
            for (const CliOpt *p = opts; p->name; p++)
                if (strlen(p->name) == len && strncmp(p->name, name, len) == 0)
                    o = p;
            if (o && name[len] == '=')
                inline_value = name + len + 1;
        } else if (arg[2] == '\0') {
            for (const CliOpt *p = opts; p->name; p++)
                if (p->short_name && p->short_name == arg[1])
                    o = p;
        }
        if (!o) {
            free(positional.items);
            return unknown_option(cmd, arg, opts);
        }
        if (o->kind == CLI_FLAG) {
            if (inline_value) {
                free(positional.items);
                return cli_usage_error(cmd, "option '--%s' takes no value", o->name);
            }
            *(bool *)o->dest = true;
            continue;
        }
        const char *value = inline_value;
        if (!value) {
            if (i + 1 >= argc) {
                free(positional.items);
                return cli_usage_error(cmd, "option '%s' needs a value", arg);
            }
            value = argv[++i];
        }
        if (o->kind == CLI_VALUE)
            *(const char **)o->dest = value;
        else if (list_push((CliList *)o->dest, value))
            goto oom;
    }
    *pos = positional.items;
    *npos = positional.n;
    return 0;
oom:
    free(positional.items);
    return cli_usage_error(cmd, "out of memory");
}
