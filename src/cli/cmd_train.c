/* cmd_train: `recur train`, `recur sample` and `recur eval` -- argument parsing around
 * src/train (train.h), which does the work. */
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>

#include "cli/cli.h"
#include "cli/commands.h"
#include "train/train.h"

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
    if (cli_parse(argc, argv, opts, &a) != 0)
        return EXIT_USAGE;
    TrainOptions o;
    train_options_init(&o);
    unsigned long long n_steps = 0, n_epochs = 0, n_seed = 0;
    const char *err = NULL;
    if (a.npos != 1)
        err = "expected exactly one MODEL.rnn";
    else if (steps && epochs)
        err = "give --steps or --epochs, not both";
    else if (cli_opt_u64(steps, 1, 1ULL << 62, &n_steps))
        err = "--steps needs a positive integer";
    else if (cli_opt_u64(epochs, 1, 1ULL << 40, &n_epochs))
        err = "--epochs needs a positive integer";
    else if (cli_opt_u64(seed, 0, ULLONG_MAX, &n_seed))
        err = "--seed needs a non-negative integer";
    else if (threads && cli_set_threads(threads))
        err = "--threads needs a positive integer";
    if (err)
        return cli_args_usage_error(&a, "%s", err);
    if (steps)
        o.steps = (int64_t)n_steps;
    if (epochs)
        o.epochs = (int64_t)n_epochs;
    if (seed)
        o.has_seed = true, o.seed = n_seed;
    o.threads = threads ? atoi(threads) : 0;
    o.model_path = a.pos[0];
    o.data_path = data;
    o.out_dir = out;
    o.sets = sets.items;
    o.nsets = sets.n;
    o.resume = resume;
    Diag d;
    diag_init(&d);
    Dist g;     /* mpirun -np N: this process is one rank (doc/MPI.md) */
    if (dist_open(&g, &d) != 0)
        return cli_finish(&a, &d, -1);
    o.dist = &g;
    int status = cli_finish(&a, &d, train_run(&o, &d, NULL));
    dist_close(&g);     /* after rank 0 has printed its report */
    return status;
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
    if (cli_parse(argc, argv, opts, &a) != 0)
        return EXIT_USAGE;
    SampleOptions o;
    sample_options_init(&o);
    unsigned long long n_length = (unsigned long long)o.length;
    unsigned long long n_top_k = (unsigned long long)o.top_k, n_seed = o.seed;
    const char *err = NULL;
    if (a.npos != 1)
        err = "expected exactly one FILE.ckpt";
    else if (cli_opt_u64(length, 0, 1ULL << 40, &n_length))
        err = "--length needs a non-negative integer";
    else if (cli_opt_double(temp, &o.temperature) || o.temperature <= 0)
        err = "--temperature needs a number > 0";
    else if (cli_opt_u64(top_k, 0, 1000000, &n_top_k))
        err = "--top-k needs a non-negative integer";
    else if (cli_opt_double(top_p, &o.top_p) || o.top_p <= 0 || o.top_p > 1)
        err = "--top-p needs a number in (0, 1]";
    else if (cli_opt_u64(seed, 0, ULLONG_MAX, &n_seed))
        err = "--seed needs a non-negative integer";
    else if (threads && cli_set_threads(threads))
        err = "--threads needs a positive integer";
    if (err)
        return cli_args_usage_error(&a, "%s", err);
    o.ckpt_path = a.pos[0];
    o.prime = prime;
    o.length = (int64_t)n_length;
    o.top_k = (int)n_top_k;
    o.seed = n_seed;
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
    if (cli_parse(argc, argv, opts, &a) != 0)
        return EXIT_USAGE;
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
