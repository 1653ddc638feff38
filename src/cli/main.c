/* main: the `recur` program. Dispatches to one subcommand per file in src/cli, prints help, and is
 * the only place in recur that exits. */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>


#include "cli/cli.h"
#include "cli/commands.h"
#include "exec/exec.h"
#include "recur.h"
#include "train/dist.h"

const CliCommand cli_commands[] = {
    {"check", cmd_check, "check model files; --explain prints layers, tensors and parameter counts",
     "usage: recur check [--explain] [--set NAME=VALUE]... FILE...\n"
     "\n"
     "Checks each .rnn file: syntax, names, options, shapes and recurrence rules. Exits 0 when\n"
     "every file is valid, 1 when not (with every error found), 2 on a usage error.\n"
     "\n"
     "  --explain          print the expanded model of FILE (one file): every layer's label,\n"
     "                     kind and output width, every trained tensor's name and shape, and\n"
     "                     parameter counts per layer and in total\n"
     "  --set NAME=VALUE   bind vocab/classes, override a const or a data/train setting\n"
     "\n"
     "example: recur check --explain --set vocab=65 models/charlm.rnn\n", false},
    {"graph", cmd_graph, "print the model graph, or one cell's equations, as Graphviz DOT",
     "usage: recur graph [--set NAME=VALUE]... FILE [--cell NAME]\n"
     "\n"
     "Prints Graphviz DOT of the model's layer graph, or with --cell NAME of that cell's\n"
     "per-step equation graph (recurrent t-1 edges dashed). Render it with dot:\n"
     "\n"
     "example: recur graph models/peephole.rnn --cell peephole | dot -Tsvg > cell.svg\n", false},
    {"init", cmd_init, "write a checkpoint with freshly initialised weights",
     "usage: recur init MODEL.rnn -o FILE.ckpt [--seed S] [--set NAME=VALUE]...\n"
     "\n"
     "Compiles MODEL.rnn and writes a checkpoint holding the model text and weights initialised\n"
     "as the model declares (PyTorch's defaults for the built-in layers), seeded by S (default 0).\n"
     "\n"
     "example: recur init models/charlm.rnn --set vocab=65 -o charlm.ckpt --seed 1\n", false},
    {"run", cmd_run, "run a checkpoint on a NumPy array (and optionally get loss and gradients)",
     "usage: recur run FILE.ckpt --input X.npy --output Y.npy [--target T.npy\n"
     "                 [--grad-out G.safetensors]] [--predict] [--threads N]\n"
     "                 [--state-in S.safetensors] [--state-out S2.safetensors]\n"
     "                 [--lengths L.npy]\n"
     "\n"
     "Runs the model in inference mode (dropout off). X is int32/int64 token ids [T, B] or\n"
     "float32 features [T, B, n], time-major. Y is float32 [T, B, m], or [B, m] after pool.\n"
     "With --target, prints the loss (the model's train loss, or cross-entropy/MSE by the\n"
     "target's type) and with --grad-out writes every parameter's gradient as safetensors.\n"
     "--predict prints each output row's most likely class, one a line: the class names a\n"
     "trained classifier's checkpoint records (its labels), else the class id.\n"
     "--state-in starts the recurrent layers from the states in S (per layer <label>.h0, and\n"
     "<label>.c0 for an LSTM, [layers * directions, B, H] as PyTorch's h_0); --state-out\n"
     "writes the final states under the same names, so they can start the next run. With\n"
     "--state-in, --grad-out also holds the gradients of the initial states.\n"
     "--lengths gives each sequence's valid steps (int32 [B], 1..T): past its length a\n"
     "sequence's state is held and its outputs are zero (PyTorch's packed sequences, ONNX\n"
     "sequence_lens); pooling and the loss also stop there.\n"
     "\n"
     "example: recur run charlm.ckpt --input ids.npy --output logits.npy\n", true},
    {"convert", cmd_convert, "convert weights between recur, safetensors, PyTorch and NumPy",
     "usage: recur convert IN OUT [--model MODEL.rnn] [--set NAME=VALUE]... [--map OLD=NEW]...\n"
     "                     [--key KEY] [--verbose] [--opset N] [--states] [--model-out M.rnn]\n"
     "\n"
     "IN's format comes from its content (RECURCKP checkpoint, safetensors, PyTorch .pt/.pth zip\n"
     "or legacy, NumPy .npz or .npy); OUT's from its extension: .ckpt, .safetensors, .pt/.pth,\n"
     ".npz. Tensor names follow PyTorch (LANGUAGE.md section 6). --model matches IN's tensors\n"
     "against a model (needed to write a .ckpt, unless IN is a .safetensors recur wrote, which\n"
     "carries its model, vocabulary and settings). --map OLD=NEW renames by prefix; --key picks\n"
     "the entry of a nested PyTorch checkpoint ({\"model\": ..., \"optimizer\": ...}); --verbose\n"
     "prints every tensor mapped. PyTorch pickles are read without Python: only the globals\n"
     "torch.save writes are allowed and nothing is executed. OUT is written atomically, read\n"
     "back and compared value for value.\n"
     "ONNX: X.ckpt X.onnx exports the whole model as an ONNX graph (--opset 14..17, default\n"
     "17); --states adds every recurrent layer's initial states as inputs <label>.h0 (.c0, a\n"
     "user cell's state names) and its final states as outputs final.<label>.h0, [layers *\n"
     "directions, B, H] as the tensors of `recur run --state-in/--state-out`, to run it a step\n"
     "at a time. X.onnx X.ckpt imports a graph (torch.onnx.export's, recur's, any LSTM/GRU/RNN\n"
     "node) as a recur model, its .rnn text also written to --model-out; the text's comments say\n"
     "which graph inputs and outputs are `recur run` options (sequence_lens: --lengths;\n"
     "initial_h/initial_c: --state-in; Y_h/Y_c: --state-out).\n"
     "\n"
     "example: recur convert model.pt charlm.ckpt --model charlm.rnn --map encoder.rnn.=lstm1.\n", false},
    {"inspect", cmd_inspect, "say what a weight file is and list its tensors with statistics",
     "usage: recur inspect FILE\n"
     "\n"
     "Says which format FILE is (from its content) and prints every tensor's name, shape, dtype\n"
     "and min/max/mean/std; for a checkpoint also the model summary and training state; for\n"
     "safetensors its metadata; for an ONNX model its inputs, outputs, nodes and initializers.\n"
     "\n"
     "example: recur inspect runs/charlm/last.ckpt\n", false},
    {"train", cmd_train, "train a model (truncated BPTT), with checkpoints, logs and a loss plot",
     "usage: recur train MODEL.rnn [--data FILE] [--out DIR] [--steps N | --epochs N]\n"
     "                   [--set NAME=VALUE]... [--seed S] [--threads N]\n"
     "                   [--resume | --init-from WEIGHTS]\n"
     "\n"
     "Trains as the model's data and train blocks say (command-line options win). Writes DIR\n"
     "(default runs/<model name>): last.ckpt, best.ckpt (by validation loss), log.csv and\n"
     "loss.svg. SIGINT/SIGTERM save a checkpoint and stop; --resume continues exactly.\n"
     "--init-from WEIGHTS starts a new run (step 0, a new optimiser) from the weights of any\n"
     "file recur convert reads (a checkpoint, safetensors, PyTorch .pt, NumPy .npz, ...).\n"
     "Under mpirun -np N (N dividing the batch) each process trains on its share of every\n"
     "batch and the gradients are summed: the same run as one process (doc/MPI.md).\n"
     "\n"
     "example: recur train models/adding.rnn --steps 2000\n"
     "         mpirun -np 2 recur train models/charlm.rnn --data corpus.txt --threads 1\n", true},
    {"sample", cmd_sample, "generate text from a character model checkpoint",
     "usage: recur sample FILE.ckpt [--prime TEXT] [--length N] [--temperature T]\n"
     "                    [--top-k K] [--top-p P] [--seed S]\n"
     "\n"
     "Streams generated text to stdout: the prime text, then N more characters.\n"
     "\n"
     "  --prime TEXT        text to start from (default: one random character)\n"
     "  --length N, -n N    characters to generate (default 500; 0 prints nothing)\n"
     "  --temperature T     sharpen (< 1) or flatten (> 1) the distribution (default 1;\n"
     "                      0 is greedy: always the most likely character)\n"
     "  --top-k K           draw among the K most likely characters (default 0: off)\n"
     "  --top-p P           draw among the most likely characters whose mass reaches P\n"
     "                      (nucleus sampling; default 1: off)\n"
     "  --seed S            the draw's seed (default: from the clock, printed to stderr)\n"
     "\n"
     "example: recur sample runs/charlm/best.ckpt --prime 'ROMEO:' --temperature 0.8\n", false},
    {"eval", cmd_eval, "evaluate a checkpoint on its validation data or another file",
     "usage: recur eval FILE.ckpt [--data FILE] [--threads N]\n"
     "\n"
     "Prints loss and the task's metrics (bits per character and perplexity, accuracy, MSE).\n"
     "\n"
     "example: recur eval runs/charlm/best.ckpt\n", true},
    {"trace", cmd_trace, "record every gate and state of a checkpoint per step, as a page and npz",
     "usage: recur trace FILE.ckpt (--text STRING | --data FILE [--range A:B] | --input X.npy)\n"
     "                   -o OUT.html [--npz OUT.npz] [--lstmvis DIR] [--layer LABEL]\n"
     "                   [--threads N]\n"
     "\n"
     "Runs the model in inference mode on the cell interpreter and records, per step and\n"
     "recurrent cell, every value its equations name (lstm i f g o c h, gru r z n h, rnn h, a\n"
     "user cell's names) and the output probabilities. OUT.html is one self-contained page\n"
     "(text coloured by a unit, heatmaps, top-5 predictions on hover, ranked units); --npz\n"
     "writes arrays LAYER.lK.NAME and output.probs [T, B, width]; --lstmvis DIR the files\n"
     "LSTMVis reads (states.h5, train.h5, words.dict, lstm.yml). --range A:B: bytes of FILE.\n"
     "\n"
     "example: recur trace runs/charlm/best.ckpt --text 'ROMEO:' -o trace.html --npz t.npz\n"
     "\n"
     "usage: recur trace --lags FILE.ckpt... [--text STRING | --data FILE [--range A:B]]\n"
     "                   -o OUT.svg [--csv OUT.csv] [--npz OUT.npz] [--max-lag K]\n"
     "\n"
     "Gradient flow over time from the executor's backward pass: for each lag k, the mean\n"
     "over loss steps t and sequences of ||d loss_t / d x_(t-k)||, x the vectors the first\n"
     "recurrent layer reads. On a text (next-token losses) or, by default, a validation batch\n"
     "of the checkpoint's own data (adding, copy, ...). OUT.svg plots every checkpoint on one\n"
     "log-scale chart; the numbers go to --csv or stdout (checkpoint,lag,mean_norm,pairs).\n"
     "\n"
     "example: recur trace --lags rnn/best.ckpt lstm/best.ckpt -o lags.svg\n", true},
    {NULL, NULL, NULL, NULL, false},
};

/* Finds a command by name; NULL when there is none. */
static const CliCommand *find_command(const char *name)
{
    for (const CliCommand *c = cli_commands; c->name; c++)
        if (strcmp(c->name, name) == 0)
            return c;
    return NULL;
}

/* `recur --help`: what recur is and the list of commands. */
static void print_help(FILE *out)
{
    fprintf(out,
            "recur %s: recurrent networks from a small language, trained on the CPU with BPTT\n"
            "\n"
            "usage: recur COMMAND [ARGS...]\n"
            "\n"
            "commands:\n",
            RECUR_VERSION);
    for (const CliCommand *c = cli_commands; c->name; c++)
        fprintf(out, "  %-8s %s\n", c->name, c->summary);
    fprintf(out,
            "  help     show a command's options: recur help COMMAND; topics: recur help data,\n"
            "           recur help settings, recur help help\n"
            "\n"
            "options: --help, --version\n");
}

/* Prints an unknown-command error with a did-you-mean suggestion. */
static int unknown_command(const char *name)
{
    const char *names[32];
    int n = 0;
    for (const CliCommand *c = cli_commands; c->name && n < 31; c++)
        names[n++] = c->name;
    names[n++] = "help";
    const char *s = diag_suggest(name, names, n);
    fprintf(stderr, "recur: unknown command '%s'", name);
    if (s)
        fprintf(stderr, "; did you mean '%s'?", s);
    fprintf(stderr, "\nhelp: run 'recur --help' for the list of commands\n");
    return EXIT_USAGE;
}

int cli_opt_u64(const char *value, unsigned long long lo, unsigned long long hi,
                unsigned long long *out)
{
    if (!value)
        return 0;
    if (!*value || *value == '-' || *value == '+')
        return -1;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(value, &end, 10);
    if (errno || *end || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

int cli_opt_double(const char *value, double *out)
{
    if (!value)
        return 0;
    char *end;
    double v = strtod(value, &end);
    if (end == value || *end || !isfinite(v))
        return -1;
    *out = v;
    return 0;
}

int cli_set_threads(const char *value)
{
    unsigned long long n = 0;
    if (!value || cli_opt_u64(value, 1, 1024, &n))
        return -1;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);   /* issue 14: more threads than cores is slow */
    if (cores > 0 && n > (unsigned long long)cores)
        fprintf(stderr, "recur: warning: --threads %llu is more than the %ld cores of this machine; "
                "the extra threads only wait on each other\n", n, cores);
    exec_set_threads((int)n); /* oneDNN's OpenMP threads and OpenBLAS's alike */
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        print_help(stderr);
        return EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        print_help(stdout);
        return EXIT_OK;
    }
    if (strcmp(cmd, "--version") == 0) {
        printf("recur %s\n", RECUR_VERSION);
        printf("%s\n", dist_build_info());   /* data-parallel training (doc/MPI.md) */
        return EXIT_OK;
    }
    if (strcmp(cmd, "help") == 0) {
        if (argc < 3) {
            print_help(stdout);
            return EXIT_OK;
        }
        const CliCommand *c = find_command(argv[2]);
        if (!c && cli_help_topic(argv[2], stdout) == 0)
            return EXIT_OK;
        if (!c)
            return unknown_command(argv[2]);
        fputs(c->usage, stdout);
        return EXIT_OK;
    }
    const CliCommand *c = find_command(cmd);
    if (!c)
        return unknown_command(cmd);
    if (c->omp_waits)
        exec_omp_setup(argv); /* OpenMP wait policy (exec.h): may run the program again */
    for (int i = 2; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(c->usage, stdout);
            return EXIT_OK;
        }
    return c->run(argc - 1, argv + 1);
}
