/* cmd_check: `recur check` (validate, --explain) and `recur graph` (Graphviz DOT). */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli/cli.h"
#include "cli/commands.h"
#include "ir/dot.h"
#include "ir/explain.h"
#include "lang/sema.h"
#include "util/file.h"

/* Largest model file read: far beyond any real model, small enough to never exhaust memory. */
enum { MODEL_FILE_MAX = 16 << 20 };

/* Compiles one file for checking: vocab/classes may stay auto (the placeholders in *opts, 0
 * for sema's default). Returns the model (caller frees) or NULL with diagnostics in d. */
static IrModel *compile_for_check(Diag *d, const char *path, const CliList *sets,
                                  SemaOptions *opts)
{
    const Source *src = diag_load_file(d, path, MODEL_FILE_MAX);
    if (!src)
        return NULL;
    opts->allow_auto = true;
    return sema_compile_opts(d, src, sets->items, sets->n, opts);
}

/* A graph drawn at a placeholder size says so (on stderr, so the DOT on stdout stays clean). */
static void note_placeholders(const char *path, const SemaOptions *o)
{
    const char *fmt = "%s: note: '%s' is not bound, so the graph is drawn with %s = %d; pass "
                      "--set %s=N for the real widths\n";
    if (o->vocab_auto)
        fprintf(stderr, fmt, path, "vocab", "vocab", o->auto_vocab, "vocab");
    if (o->classes_auto)
        fprintf(stderr, fmt, path, "classes", "classes", o->auto_classes, "classes");
}

/* recur check [--explain] [--set NAME=VALUE]... FILE... */
int cmd_check(int argc, char **argv)
{
    bool explain = false;
    CliList sets = {0};
    const CliOpt opts[] = {
        {"explain", 0, CLI_FLAG, &explain},
        {"set", 0, CLI_LIST, &sets},
        {0},
    };
    CliArgs a;
    if (cli_parse(argc, argv, opts, &a) != 0)
        return EXIT_USAGE;
    if (a.npos == 0 || (explain && a.npos != 1))
        return cli_args_usage_error(&a, explain ? "--explain takes exactly one FILE"
                                                : "no FILE to check");
    int failed = 0;
    for (int i = 0; i < a.npos; i++) {
        Diag d;
        diag_init(&d);
        /* one compile; --explain prints its sizes symbolically when vocab/classes are auto */
        SemaOptions so = { .auto_vocab = explain ? IR_EXPLAIN_PLACEHOLDER : 0,
                           .auto_classes = explain ? IR_EXPLAIN_PLACEHOLDER : 0 };
        IrModel *m = compile_for_check(&d, a.pos[i], &sets, &so);
        if (!m)
            failed = 1;
        else if (explain)
            ir_explain(m, stdout);
        ir_model_free(m);
        cli_print_diag(&d, true);
        diag_free(&d);
    }
    cli_args_free(&a);
    return failed ? EXIT_FAIL : EXIT_OK;
}

/* recur graph [--set NAME=VALUE]... FILE [--cell NAME] */
int cmd_graph(int argc, char **argv)
{
    const char *cell = NULL;
    CliList sets = {0};
    const CliOpt opts[] = {
        {"cell", 0, CLI_VALUE, &cell},
        {"set", 0, CLI_LIST, &sets},
        {0},
    };
    CliArgs a;
    if (cli_parse(argc, argv, opts, &a) != 0)
        return EXIT_USAGE;
    if (a.npos != 1)
        return cli_args_usage_error(&a, "expected exactly one FILE");
    Diag d;
    diag_init(&d);
    SemaOptions so = { 0 };
    IrModel *m = compile_for_check(&d, a.pos[0], &sets, &so);
    if (m)
        note_placeholders(a.pos[0], &so);
    int rc = -1;
    if (m && !cell) {
        ir_dot_model(m, stdout);
        rc = 0;
    } else if (m) {
        rc = ir_dot_cell(m, cell, &d, stdout);
    }
    ir_model_free(m);
    return cli_finish(&a, &d, rc);
}
