/* cmd_train: `recur train`, `recur sample` and `recur eval` -- argument parsing around
 * src/train (train.h), which does the work. */
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/commands.h"
#include "cli/convert_map.h"
#include "io/format.h"
#include "train/train.h"

/* The usage error of `--threads N` (NULL when it is absent or valid; then it is applied). */
static const char *threads_error(const char *threads)
{
    return threads && cli_set_threads(threads) ? "--threads needs a positive integer" : NULL;
}

/* The usage error of `--seed S` (read into *n) or else of --threads; NULL when both are fine. */
static const char *seed_threads_error(const char *seed, unsigned long long *n,
                                      const char *threads)
{
    if (cli_opt_u64(seed, 0, ULLONG_MAX, n))
        return "--seed needs a non-negative integer";
    return threads_error(threads);
}

/* --init-from: any weight file `recur convert` reads, as the tensors of m -- a checkpoint's
 * parameters, a file that names tensors as recur does, or one mapped by its format's row of
 * convert_map.h (PyTorch, Keras). */
static int load_init(const char *path, const Model *m, CkptTensorList *out, Diag *d)
{
    WfId id;
    if (wf_check_input(path, &id, d) != 0) return -1;
    WeightSet raw, mapped = {0};
    if (id == WF_CKPT) {
        Checkpoint c;
        if (ckpt_read(path, &c, d) != 0) return -1;
        *out = c.params;   /* take the parameters over, free the rest */
        memset(&c.params, 0, sizeof c.params);
        ckpt_free(&c);
        return 0;
    }
    if (wf_read(id, path, NULL, &raw, d) != 0) return -1;
    const ConvertMap *row = convert_map_for(id);
    int rc = row ? row->import(m, &raw, &mapped, d) : 0;
    WeightSet *w = row ? &mapped : &raw;
    if (rc == 0) {
        *out = w->tensors;
        memset(&w->tensors, 0, sizeof w->tensors);
    }
    wf_set_free(&raw);
    wf_set_free(&mapped);
    return rc;
}

/* recur train MODEL.rnn [--data FILE] [--out DIR] [--steps N | --epochs N] [--set ...]...
 *                       [--seed S] [--threads N] [--resume] */
int cmd_train(int argc, char **argv)
{
    const char *data = NULL, *out = NULL, *steps = NULL, *epochs = NULL, *seed = NULL,
               *threads = NULL, *init = NULL;
    bool resume = false;
    CliList sets = {0};
    const CliOpt opts[] = {
        {"data", 0, CLI_VALUE, &data},     {"out", 0, CLI_VALUE, &out},
        {"init-from", 0, CLI_VALUE, &init},
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
    else if (init && resume)
        err = "--init-from starts a new run: not with --resume";
    else if (cli_opt_u64(steps, 1, 1ULL << 62, &n_steps))
        err = "--steps needs a positive integer";
    else if (cli_opt_u64(epochs, 1, 1ULL << 40, &n_epochs))
        err = "--epochs needs a positive integer";
    else
        err = seed_threads_error(seed, &n_seed, threads);
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
    o.init_from = init;
    o.load_init = load_init;
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

/* A seed for a sample run without --seed: the clock's nanoseconds mixed with the PID. */
static uint64_t clock_seed(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t x = (uint64_t)ts.tv_sec * 1000000007ULL ^ (uint64_t)ts.tv_nsec ^
                 ((uint64_t)getpid() << 32);
    x ^= x >> 31;   /* splitmix64's finaliser, so close clocks give distant seeds */
    x *= 0xbf58476d1ce4e5b9ULL;
    return (x ^ (x >> 27)) >> 1;   /* below 2^63, so --seed accepts it back */
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
    else if (cli_opt_double(temp, &o.temperature) || o.temperature < 0)
        err = "--temperature needs a number >= 0 (0: greedy)";
    else if (cli_opt_u64(top_k, 0, 1000000, &n_top_k))
        err = "--top-k needs a non-negative integer";
    else if (cli_opt_double(top_p, &o.top_p) || o.top_p <= 0 || o.top_p > 1)
        err = "--top-p needs a number in (0, 1]";
    else
        err = seed_threads_error(seed, &n_seed, threads);
    if (err)
        return cli_args_usage_error(&a, "%s", err);
    o.ckpt_path = a.pos[0];
    o.prime = prime;
    o.length = (int64_t)n_length;
    o.top_k = (int)n_top_k;
    o.seed = seed ? n_seed : clock_seed();
    if (!seed && o.temperature > 0)
        fprintf(stderr, "recur sample: seed %llu (--seed %llu gives this text again)\n",
                (unsigned long long)o.seed, (unsigned long long)o.seed);
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
    const char *err = a.npos != 1 ? "expected exactly one FILE.ckpt" : threads_error(threads);
    if (err)
        return cli_args_usage_error(&a, "%s", err);
    EvalOptions o;
    eval_options_init(&o);
    o.ckpt_path = a.pos[0];
    o.data_path = data;
    o.threads = threads ? atoi(threads) : 0;
    Diag d;
    diag_init(&d);
    return cli_finish(&a, &d, eval_run(&o, &d));
}
