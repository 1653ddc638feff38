/* cmd_trace_lags: recur trace --lags FILE.ckpt... [--text S | --data FILE [--range A:B]]
 * -o OUT.svg [--npz OUT.npz] [--csv OUT.csv] [--max-lag K] -- the gradient flow over time of
 * each checkpoint (src/train/trace_lags.h), one line per checkpoint on one plot. */
#include <stdio.h>
#include <stdlib.h>

#include "cli/cli.h"
#include "cli/commands.h"
#include "train/trace_lags.h"

/* The command's options. */
typedef struct LagsArgs {
    const char *text, *data, *range, *input, *out, *npz, *csv, *max_lag, *threads;
    bool lags;
} LagsArgs;

/* Measures checkpoint path into g: loads it, takes the text of --text or --data (or the
 * checkpoint's own data) and runs trace_lags_run. */
static int measure_one(const char *path, const LagsArgs *o, int max_lag, TraceLags *g, Diag *d)
{
    Model m;
    char *text = NULL;
    if (model_load(&m, d, path, NULL))
        return -1;
    int rc = o->data ? trace_data_text(o->data, o->range, &text, d) : 0;
    TraceLagsInput in = { o->text ? o->text : text, o->text ? "--text" : o->data, path,
                          max_lag };
    if (!rc)
        rc = trace_lags_run(&m, &in, g, d);
    free(text);
    model_free(&m);
    return rc;
}

/* Writes the CSV to --csv FILE, or to stdout. */
static int write_csv(const LagsArgs *o, const TraceLags *g, const char *const *names, int n,
                     Diag *d)
{
    FILE *f = o->csv ? fopen(o->csv, "w") : stdout;
    if (!f) {
        diag_error_in(d, o->csv, "cannot write the numbers");
        return -1;
    }
    trace_lags_write_csv(g, names, n, f);
    if (o->csv && fclose(f) != 0) {
        diag_error_in(d, o->csv, "cannot write the numbers");
        return -1;
    }
    return 0;
}

int cmd_trace_lags(int argc, char **argv)
{
    LagsArgs o = {0};
    const CliOpt opts[] = {
        {"lags", 0, CLI_FLAG, &o.lags},     {"text", 0, CLI_VALUE, &o.text},
        {"data", 0, CLI_VALUE, &o.data},    {"range", 0, CLI_VALUE, &o.range},
        {"input", 0, CLI_VALUE, &o.input},  {"output", 'o', CLI_VALUE, &o.out},
        {"npz", 0, CLI_VALUE, &o.npz},      {"csv", 0, CLI_VALUE, &o.csv},
        {"max-lag", 0, CLI_VALUE, &o.max_lag}, {"threads", 0, CLI_VALUE, &o.threads}, {0},
    };
    CliArgs a;
    if (cli_parse(argc, argv, opts, &a) != 0)
        return EXIT_USAGE;
    unsigned long long k = 0;
    if (a.npos < 1 || !o.out || (o.text && o.data) || o.input)
        return cli_args_usage_error(&a, "%s", a.npos < 1 ? "expected at least one FILE.ckpt"
                                    : !o.out ? "-o OUT.svg is required"
                                    : o.input ? "--lags needs targets: use the checkpoint's "
                                                "own data, --text or --data (not --input)"
                                              : "give at most one of --text, --data");
    if (o.range && !o.data)
        return cli_args_usage_error(&a, "--range needs --data");
    if (cli_opt_u64(o.max_lag, 0, 1000000, &k))
        return cli_args_usage_error(&a, "--max-lag needs a non-negative integer");
    if (o.threads && cli_set_threads(o.threads))
        return cli_args_usage_error(&a, "--threads needs a positive integer");
    Diag d;
    diag_init(&d);
    TraceLags *g = calloc((size_t)a.npos, sizeof *g);
    int rc = g ? 0 : -1;
    for (int i = 0; i < a.npos && !rc; i++)
        rc = measure_one(a.pos[i], &o, o.max_lag ? (int)k : -1, &g[i], &d);
    if (!rc)
        rc = write_csv(&o, g, a.pos, a.npos, &d);
    if (!rc && o.npz)
        rc = trace_lags_write_npz(g, a.npos, o.npz, &d);
    if (!rc)
        rc = trace_lags_write_svg(g, a.pos, a.npos, o.out, &d);
    for (int i = 0; g && i < a.npos; i++) trace_lags_free(&g[i]);
    free(g);
    return cli_finish(&a, &d, rc);
}
