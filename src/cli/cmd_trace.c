/* cmd_trace: recur trace FILE.ckpt (--text S | --data FILE [--range A:B] | --input X.npy)
 * -o OUT.html [--npz OUT.npz] [--lstmvis DIR] [--layer LABEL] -- records every named cell value per step
 * (src/train/trace.h) and writes the page and the arrays. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/commands.h"
#include "train/trace.h"
#include "util/file.h"

/* --data FILE [--range A:B]: bytes [A, B) of the file (default all) as the text into *text
 * (malloc'ed). -1 with a diagnostic: unreadable, a bad range or one outside the file. Shared
 * with --lags (commands.h). */
int trace_data_text(const char *path, const char *range, char **text, Diag *d)
{
    unsigned char *buf;
    size_t len;
    if (file_read_all(path, (size_t)1 << 30, &buf, &len, d))
        return -1;
    unsigned long long a = 0, b = len;
    if (range) {
        const char *colon = strchr(range, ':');
        char *end;
        if (!colon || colon == range || !colon[1]) {
            free(buf);
            diag_error_in(d, "--range", "expected A:B (byte offsets), got '%s'", range);
            return -1;
        }
        a = strtoull(range, &end, 10);
        int bad = end != colon || range[0] == '-';
        b = strtoull(colon + 1, &end, 10);
        bad |= *end != 0 || colon[1] == '-';
        if (bad || a >= b || b > len) {
            free(buf);
            diag_error_in(d, "--range", "%s is not a non-empty range inside %s (%zu bytes)",
                          range, path, len);
            return -1;
        }
    }
    memmove(buf, buf + a, (size_t)(b - a));
    buf[b - a] = 0;
    if (strlen((char *)buf) != b - a) {
        free(buf);
        diag_error_in(d, path, "the text holds a NUL byte");
        return -1;
    }
    *text = (char *)buf;
    return 0;
}

/* The command's options, checked: exactly one input, an output page. */
typedef struct TraceArgs {
    const char *text, *data, *range, *input, *out, *npz, *lstmvis, *layer, *threads;
} TraceArgs;

/* Reads the chosen input into in (the text owned by text, ids and vectors by ids and vec). */
static int read_input(Model *m, const TraceArgs *o, TraceInput *in, char **text, int32_t **ids,
                      float **vec, Diag *d)
{
    if (o->text) {
        in->text = o->text, in->what = "--text";
        return 0;
    }
    if (o->data) {
        if (trace_data_text(o->data, o->range, text, d))
            return -1;
        in->text = *text, in->what = o->data;
        return 0;
    }
    if (cli_read_model_input(m, o->input, ids, vec, &in->T, &in->B, d))
        return -1;
    in->ids = *ids, in->vectors = *vec;
    return 0;
}

int cmd_trace(int argc, char **argv)
{
    for (int i = 1; i < argc && strcmp(argv[i], "--"); i++)
        if (strcmp(argv[i], "--lags") == 0)
            return cmd_trace_lags(argc, argv);
    TraceArgs o = {0};
    const CliOpt opts[] = {
        {"text", 0, CLI_VALUE, &o.text},   {"data", 0, CLI_VALUE, &o.data},
        {"range", 0, CLI_VALUE, &o.range}, {"input", 0, CLI_VALUE, &o.input},
        {"output", 'o', CLI_VALUE, &o.out}, {"npz", 0, CLI_VALUE, &o.npz},
        {"layer", 0, CLI_VALUE, &o.layer}, {"threads", 0, CLI_VALUE, &o.threads},
        {"lstmvis", 0, CLI_VALUE, &o.lstmvis}, {0},
    };
    CliArgs a;
    if (cli_parse(argc, argv, opts, &a) != 0)
        return EXIT_USAGE;
    const char *ckpt = a.npos == 1 ? a.pos[0] : NULL;
    int ninputs = !!o.text + !!o.data + !!o.input;
    if (!ckpt || ninputs != 1 || !o.out)
        return cli_args_usage_error(&a, "%s", !ckpt ? "expected exactly one FILE.ckpt"
                                    : ninputs != 1 ? "give exactly one of --text, --data, --input"
                                                   : "-o OUT.html is required");
    if (o.range && !o.data)
        return cli_args_usage_error(&a, "--range needs --data");
    if (o.threads && cli_set_threads(o.threads))
        return cli_args_usage_error(&a, "--threads needs a positive integer");
    Diag d;
    diag_init(&d);
    Model m;
    Trace t = {0};
    TraceInput in = {0};
    char *text = NULL;
    int32_t *ids = NULL;
    float *vec = NULL;
    int rc = model_load(&m, &d, ckpt, NULL);
    if (rc)
        return cli_finish(&a, &d, rc);
    rc = read_input(&m, &o, &in, &text, &ids, &vec, &d);
    if (!rc)
        rc = trace_run(&m, &in, o.layer, &t, &d);
    if (!rc && o.lstmvis)
        rc = trace_write_lstmvis(&t, o.lstmvis, &d);
    if (!rc && o.npz)
        rc = trace_write_npz(&t, o.npz, &d);
    if (!rc)
        rc = trace_write_html(&t, o.out, &d);
    trace_free(&t);
    free(text), free(ids), free(vec);
    model_free(&m);
    return cli_finish(&a, &d, rc);
}
