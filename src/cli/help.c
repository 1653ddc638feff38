/* help: the topics of `recur help` that are not commands -- `data`, `settings` and `help`.
 * The lists are printed from the settings schema (ir/schema.h), so they name exactly the
 * sources, settings, optimisers, schedules and losses sema accepts, with their defaults. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "ir/schema.h"

/* A value's kind and range, as a user reads it. */
static const char *type_text(const CfgArg *a)
{
    switch (a->type) {
    case CFG_STRING: return "a \"string\"";
    case CFG_BOOL: return "true | false";
    case CFG_WORD: return a->words;
    case CFG_ANY: return "a value";
    case CFG_NONNEG: return "a number >= 0";
    case CFG_POSITIVE: return "a number > 0";
    case CFG_FRACTION: return "a number in [0, 1)";
    case CFG_COUNT0: return "an integer >= 0";
    case CFG_COUNT1: return "an integer >= 1";
    case CFG_CALL: return a->family == cfg_settings[CFG_SET_SOURCE].arg.family
                          ? "a data source (recur help data)" : "NAME(ARG=VALUE, ...), below";
    case CFG_VALID: return "a fraction in [0, 1), or text(...) / csv(...)";
    case CFG_BPTT: return "an integer >= 1, or full";
    }
    return "?";
}

/* The default of an argument or setting as it would be written: "0.001", "char", "true". */
static void default_text(const CfgArg *a, char *buf, size_t n)
{
    buf[0] = 0;
    switch (a->store) {
    case CFG_STORE_DOUBLE: snprintf(buf, n, "%g", a->dflt); break;
    case CFG_STORE_INT:
    case CFG_STORE_INT64:
    case CFG_STORE_UINT64: snprintf(buf, n, "%.0f", a->dflt); break;
    case CFG_STORE_BOOL: snprintf(buf, n, "%s", a->dflt ? "true" : "false"); break;
    case CFG_STORE_TRISTATE: snprintf(buf, n, "%s", a->dflt < 0 ? "auto" : a->dflt ? "true"
                                                                                 : "false");
        break;
    case CFG_STORE_CHAR: snprintf(buf, n, "\"%c\"", (char)a->dflt); break;
    case CFG_STORE_WORD: {
        const char *w = a->words;
        for (int i = 0; i < (int)a->dflt && strchr(w, '|'); i++) w = strchr(w, '|') + 1;
        snprintf(buf, n, "%.*s", (int)strcspn(w, "|"), w);
        break;
    }
    case CFG_STORE_CSV_TARGET: snprintf(buf, n, "label"); break;
    case CFG_STORE_CSV_LABEL: snprintf(buf, n, "1"); break;
    default: break;
    }
}

/* One function of a family: "  adam(lr=0.001, beta1=0.9, ...)" (required arguments bare). */
static void print_function(FILE *out, const CfgFunction *fn)
{
    fprintf(out, "  %s(", fn->name);
    for (int i = 0; i < cfg_function_nargs(fn); i++) {
        const CfgArg *a = &fn->args[i];
        char d[64];
        default_text(a, d, sizeof d);
        if (i < fn->required) fprintf(out, "%s%s", i ? ", " : "", a->name);
        else if (a->type == CFG_ANY && a->store == CFG_STORE_INT)
            fprintf(out, "%s%s=N", i ? ", " : "", a->name);
        else fprintf(out, "%s%s=%s", i ? ", " : "", a->name, d);
    }
    fprintf(out, ")\n");
}

/* Every function of the family a CFG_CALL setting chooses from. */
static void print_family(FILE *out, const CfgFamily *f)
{
    for (int i = 0; i < f->nfns; i++)
        print_function(out, &f->fns[i]);
}

/* `recur help settings`: every setting with its values and default, then the functions. */
static void help_settings(FILE *out)
{
    fputs("Settings of a model file's `data { ... }` and `train { ... }` blocks, one\n"
          "`NAME = VALUE` a line; `recur train --set NAME=VALUE` overrides any of them.\n", out);
    for (int block = 0; block < 2; block++) {
        fprintf(out, "\n%s block:\n", block ? "train" : "data");
        for (int i = 0; i < CFG_NSETTINGS; i++) {
            const CfgArg *a = &cfg_settings[i].arg;
            if (cfg_settings[i].train != (block == 1)) continue;
            char d[64] = "";
            if (a->type == CFG_CALL && a->dflt >= 0)
                snprintf(d, sizeof d, "%s()", a->family->fns[(int)a->dflt].name);
            else if (a->type != CFG_CALL && a->type != CFG_VALID)
                default_text(a, d, sizeof d);
            if (i == CFG_SET_LR) snprintf(d, sizeof d, "the optimizer's lr");
            if (i == CFG_SET_VALID) snprintf(d, sizeof d, "0.05 of a file; 1000 generated");
            if (i == CFG_SET_LOSS) snprintf(d, sizeof d, "from the data");
            if (i == CFG_SET_SOURCE) snprintf(d, sizeof d, "none: give --data FILE");
            if (i == CFG_SET_EPOCHS) snprintf(d, sizeof d, "0: steps counts");
            fprintf(out, "  %-17s %s%s%s%s\n", a->name, type_text(a), *d ? " (default " : "",
                    d, *d ? ")" : "");
        }
    }
    static const CfgSettingId calls[] = {CFG_SET_OPTIMIZER, CFG_SET_SCHEDULE, CFG_SET_LOSS};
    static const char *const plural[] = {"optimizers", "schedules", "losses"};
    for (int i = 0; i < 3; i++) {
        const CfgFamily *f = cfg_settings[calls[i]].arg.family;
        fprintf(out, "\n%s (%s = NAME(ARG=VALUE, ...), defaults shown):\n", plural[i],
                cfg_settings[calls[i]].arg.name);
        print_family(out, f);
    }
    fputs("\nsteps/epochs, eval_every, checkpoint_every, log_every count optimiser updates;\n"
          "eval_every = 0 never evaluates, checkpoint_every = 0 saves only at the end.\n"
          "patience = N stops after N evaluations in a row whose validation loss is not\n"
          "below the best by more than min_delta (0: off). Data sources: recur help data.\n",
          out);
}

/* `recur help data`: every source with its arguments, and the CSV layout. */
static void help_data(FILE *out)
{
    fputs("Data sources (`data { source = ... }`, or `recur train --data FILE`: .csv is\n"
          "csv(FILE), anything else text(FILE)); defaults shown:\n\n", out);
    print_family(out, cfg_settings[CFG_SET_SOURCE].arg.family);
    fputs("\ntext: a corpus; the vocabulary is its sorted characters (level=byte: bytes).\n"
          "  Cut into `batch` streams, read `bptt` characters at a time; the last `valid`\n"
          "  fraction is the validation split.\n"
          "csv: one sequence per row, RFC 4180 (quoted fields, \"\" for a quote):\n"
          "    TARGET,v1,v2,...,vn\n"
          "  target=label: the first column is a class label (numbers 0..C-1, or names,\n"
          "  sorted); target=values: the first column is a regression target; target=K: the\n"
          "  first K columns are. The other n values are the sequence, columns=F per step\n"
          "  (default: the model's input vector width), so rows may differ in length.\n"
          "  header=auto skips a first row that is not numbers; delimiter is one character;\n"
          "  blank lines and lines starting with # are skipped.\n"
          "adding, reber, copy: generated long-lag tasks, no file needed.\n"
          "valid = FRACTION holds out the end of the file (0: no validation), or\n"
          "valid = text(\"FILE\") / csv(\"FILE\") names a separate validation file.\n", out);
}

/* `recur help help`. */
static void help_help(FILE *out)
{
    fputs("usage: recur help [COMMAND | TOPIC]\n"
          "\n"
          "Without an argument, the list of commands. With a command, its options and an\n"
          "example. Topics: data (the data sources and the CSV layout), settings (every\n"
          "data/train setting, optimizer, schedule and loss with its default), help (this).\n"
          "`recur COMMAND --help` is the same as `recur help COMMAND`; man recur has it all.\n",
          out);
}

int cli_help_topic(const char *topic, FILE *out)
{
    if (strcmp(topic, "data") == 0) help_data(out);
    else if (strcmp(topic, "settings") == 0) help_settings(out);
    else if (strcmp(topic, "help") == 0) help_help(out);
    else return -1;
    return 0;
}
