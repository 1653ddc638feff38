/* cmd_train: `recur train`, `recur sample` and `recur eval` -- argument parsing around
 * src/train (train.h), which does the work. */
#include <stdbool.h>
#include <stdlib.h>

#include "cli/cli.h"
#include "cli/commands.h"
#include "train/train.h"

/* Parses a double option value; -1 when it is not a finite number. */
static int parse_double(const char *s, double *out)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end || v != v || v > 1e300 || v < -1e300)
        return -1;
    *out = v;
    return 0;
}

/* recur train MODEL.rnn [--data FILE] [--out DIR] [--steps N | --epochs N] [--set ...]...
 *                       [--seed S] [--threads N] [--resume] */
int cmd_train(int argc, char **argv)
{
    const char *data = NULL, *out = NULL, *steps = NULL, *epochs = NULL, *seed = NULL,
               *threads = NULL;
    bool resume = false;
    CliList sets = {0};
    const CliOpt opts[] = {
        {"data", 0, CLI_VALUE, &data},     {"out", 0, CLI_VALUE, &out},
        {"steps", 0, CLI_VALUE, &steps},   {"epochs", 0, CLI_VALUE, &epochs},
        {"seed", 0, CLI_VALUE, &seed},     {"threads", 0, CLI_VALUE, &threads},
        {"resume", 0, CLI_FLAG, &resume},  {"set", 0, CLI_LIST, &sets},
        {0},
    };
    CliArgs a;
    int st = cli_parse(argc, argv, opts, &a);
    if (st)
        return st;
    TrainOptions o;
    train_options_init(&o);
    unsigned long long v;
    const char *err = NULL;
    if (a.npos != 1)
        err = "expected exactly one MODEL.rnn";
    else if (steps && epochs)
        err = "give --steps or --epochs, not both";
    else if (steps && (cli_parse_u64(steps, &v) || v < 1 || v > (1ULL << 62)))
        err = "--steps needs a positive integer";
    else if (steps)
        o.steps = (int64_t)v;
    if (!err && epochs && (cli_parse_u64(epochs, &v) || v < 1 || v > (1ULL << 40)))
        err = "--epochs needs a positive integer";
    else if (!err && epochs)
        o.epochs = (int64_t)v;
    if (!err && seed && cli_parse_u64(seed, &v))
        err = "--seed needs a non-negative integer";
    else if (!err && seed)
        o.has_seed = true, o.seed = v;
    if (!err && threads && cli_set_threads(threads))
        err = "--threads needs a positive integer";
    else if (!err && threads)
        o.threads = atoi(threads);
    if (err)
        return cli_args_usage_error(&a, "%s", err);
    o.model_path = a.pos[0];
    o.data_path = data;
    o.out_dir = out;
    o.sets = sets.items;
    o.nsets = sets.n;
    o.resume = resume;
    Diag d;
    diag_init(&d);
    return cli_finish(&a, &d, train_run(&o, &d, NULL));
}

/* recur sample FILE.ckpt [--prime TEXT] [--length N] [--temperature T] [--top-k K]
 *                        [--top-p P] [--seed S] */
int cmd_sample(int argc, char **argv)
{
    const char *prime = NULL, *length = NULL, *temp = NULL, *top_k = NULL, *top_p = NULL,
               *seed = NULL, *threads = NULL;
    const CliOpt opts[] = {
        {"prime", 0, CLI_VALUE, &prime},     {"length", 'n', CLI_VALUE, &length},
        {"temperature", 't', CLI_VALUE, &temp}, {"top-k", 0, CLI_VALUE, &top_k},
        {"top-p", 0, CLI_VALUE, &top_p},     {"seed", 0, CLI_VALUE, &seed},
        {"threads", 0, CLI_VALUE, &threads}, {0},
    };
    CliArgs a;
    int st = cli_parse(argc, argv, opts, &a);
    if (st)
        return st;
    SampleOptions o;
    sample_options_init(&o);
    unsigned long long v;
    const char *err = NULL;
    if (a.npos != 1)
        err = "expected exactly one FILE.ckpt";
    else
        o.ckpt_path = a.pos[0];
    o.prime = prime;
    if (!err && length && (cli_parse_u64(length, &v) || v > (1ULL << 40)))
        err = "--length needs a non-negative integer";
    else if (!err && length)
        o.length = (int64_t)v;
    if (!err && temp && (parse_double(temp, &o.temperature) || o.temperature <= 0))
        err = "--temperature needs a number > 0";
    if (!err && top_k && (cli_parse_u64(top_k, &v) || v > 1000000))
        err = "--top-k needs a non-negative integer";
    else if (!err && top_k)
        o.top_k = (int)v;
    if (!err && top_p && (parse_double(top_p, &o.top_p) || o.top_p <= 0 || o.top_p > 1))
        err = "--top-p needs a number in (0, 1]";
    if (!err && seed && cli_parse_u64(seed, &v))
        err = "--seed needs a non-negative integer";
    else if (!err && seed)
        o.seed = v;
    if (!err && threads && cli_set_threads(threads))
        err = "--threads needs a positive integer";
    if (err)
        return cli_args_usage_error(&a, "%s", err);
    Diag d;
    diag_init(&d);
    return cli_finish(&a, &d, sample_run(&o, &d));
}

/* recur eval FILE.ckpt [--data FILE] [--threads N] */
int cmd_eval(int argc, char **argv)
{
    const char *data = NULL, *threads = NULL;
    const CliOpt opts[] = {
        {"data", 0, CLI_VALUE, &data},
        {"threads", 0, CLI_VALUE, &threads},
        {0},
    };
    CliArgs a;
    int st = cli_parse(argc, argv, opts, &a);
    if (st)
        return st;
    EvalOptions o;
    eval_options_init(&o);
    if (a.npos != 1 || (threads && cli_set_threads(threads)))
        return cli_args_usage_error(&a, "%s", a.npos != 1 ? "expected exactly one FILE.ckpt"
                                                          : "--threads needs a positive integer");
    o.ckpt_path = a.pos[0];
    o.data_path = data;
    o.threads = threads ? atoi(threads) : 0;
    Diag d;
    diag_init(&d);
    return cli_finish(&a, &d, eval_run(&o, &d));
}
