/* cmd_weights: the commands that work on weights -- `recur init`, `run`, `convert`, `inspect`. */
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/commands.h"
#include "exec/exec.h"
#include "io/checkpoint.h"
#include "io/format.h"
#include "io/inspect.h"
#include "io/onnx.h"
#include "io/npy.h"
#include "io/safetensors.h"
#include "ir/explain.h"
#include "model/model.h"
#include "model/states.h"
#include "util/file.h"

/* recur init MODEL.rnn -o FILE.ckpt [--seed S] [--set NAME=VALUE]... */
int cmd_init(int argc, char **argv)
{
    const char *out = NULL, *seed_text = NULL;
    CliList sets = {0};
    const CliOpt opts[] = {
        {"output", 'o', CLI_VALUE, &out},
        {"seed", 0, CLI_VALUE, &seed_text},
        {"set", 0, CLI_LIST, &sets},
        {0},
    };
    CliArgs a;
    if (cli_parse(argc, argv, opts, &a) != 0)
        return EXIT_USAGE;
    unsigned long long seed = 0;
    if (a.npos != 1 || !out || cli_opt_u64(seed_text, 0, ULLONG_MAX, &seed))
        return cli_args_usage_error(&a, "%s", a.npos != 1 ? "expected exactly one MODEL.rnn"
                                              : !out      ? "missing -o FILE.ckpt"
                                                          : "--seed needs a non-negative integer");
    Diag d;
    diag_init(&d);
    Model m;
    int rc = model_compile_file(&m, &d, a.pos[0], sets.items, sets.n);
    if (!rc)
        rc = model_init_weights(&m, seed, &d);
    if (!rc)
        rc = model_save(&m, out, &d);
    if (!rc) {
        char count[32];
        printf("%s: %s parameters in %d tensors, seed %llu\n", out,
               ir_format_count(m.ir->nparams, count, sizeof count), m.ir->ntensors, seed);
    }
    model_free(&m);
    return cli_finish(&a, &d, rc);
}

/* Room for a's elements converted to elem-byte values (one spare, so an empty array is not
 * NULL); malloc'ed, or NULL with an error. */
static void *converted_array(const NpyArray *a, size_t elem, const char *path, Diag *d)
{
    void *p = malloc(elem * (size_t)(a->count + 1));
    if (!p)
        diag_error_in(d, path, "out of memory");
    return p;
}

/* Converts an integer .npy array to int32 ids (values are range-checked by the executor).
 * Returns a malloc'ed array or NULL with an error. */
static int32_t *ids_from_npy(const NpyArray *a, const char *path, Diag *d)
{
    int32_t *ids = converted_array(a, sizeof *ids, path, d);
    if (!ids)
        return NULL;
    for (int64_t i = 0; i < a->count; i++) {
        int64_t v = a->dtype == NPY_I32 ? ((const int32_t *)a->data)[i]
                                        : ((const int64_t *)a->data)[i];
        if (v < INT32_MIN || v > INT32_MAX) {
            diag_error_in(d, path, "element %lld is %lld, outside the int32 range",
                          (long long)i, (long long)v);
            free(ids);
            return NULL;
        }
        ids[i] = (int32_t)v;
    }
    return ids;
}

/* "[t, b, k]": the multi-index of flat element i of a (C order). */
static void format_index(const NpyArray *a, int64_t i, char *buf, size_t n)
{
    int64_t idx[NPY_MAX_DIMS];
    for (int k = a->ndim - 1; k >= 0; k--) {
        int64_t dim = a->shape[k] > 0 ? a->shape[k] : 1;
        idx[k] = i % dim;
        i /= dim;
    }
    size_t used = (size_t)snprintf(buf, n, "[");
    for (int k = 0; k < a->ndim && used < n; k++)
        used += (size_t)snprintf(buf + used, n - used, "%s%lld", k ? ", " : "", (long long)idx[k]);
    if (used < n)
        snprintf(buf + used, n - used, "]");
}

/* Float data of a .npy array as float32 (converted from float64). Every value must be finite and,
 * from float64, within float32's range: a NaN, an infinity or a value that would become one is
 * refused with its index, since it could only give NaN outputs and losses. */
static float *floats_from_npy(const NpyArray *a, const char *path, Diag *d)
{
    float *v = converted_array(a, sizeof *v, path, d);
    if (!v)
        return NULL;
    for (int64_t i = 0; i < a->count; i++) {
        double x = a->dtype == NPY_F32 ? ((const float *)a->data)[i]
                                       : ((const double *)a->data)[i];
        v[i] = (float)x;
        if (!isfinite(v[i])) {
            char at[160];
            format_index(a, i, at, sizeof at);
            DiagMessage *m = isfinite(x)
                ? diag_error_in(d, path, "element %s is %g, beyond float32's range (%g)", at, x,
                                (double)FLT_MAX)
                : diag_error_in(d, path, "element %s is %g", at, x);
            diag_help(m, "inputs and targets must be finite numbers");
            free(v);
            return NULL;
        }
    }
    return v;
}

static bool is_int_dtype(NpyDtype t) { return t == NPY_I32 || t == NPY_I64; }

/* What an array is, for shape errors: "float64 [3, 4, 2]". Returns buf. */
static const char *array_text(const NpyArray *a, char *buf, size_t n)
{
    static const char *const names[] = {"float32", "float64", "int32", "int64"};
    int k = snprintf(buf, n, "%s [", names[a->dtype]);
    for (int i = 0; i < a->ndim && k > 0 && (size_t)k < n; i++)
        k += snprintf(buf + k, n - (size_t)k, "%s%lld", i ? ", " : "", (long long)a->shape[i]);
    if (k > 0 && (size_t)k < n) snprintf(buf + k, n - (size_t)k, "]");
    return buf;
}

/* Everything `recur run` holds, released in one place. */
typedef struct RunState {
    Model m;
    NpyArray x, y, len;
    int32_t *ids, *target_ids, *lengths;
    float *vectors, *target_values;
    ExecModel *e;
} RunState;

static void run_state_free(RunState *s)
{
    exec_free(s->e);
    model_free(&s->m);
    npy_free(&s->x);
    npy_free(&s->y);
    npy_free(&s->len);
    free(s->lengths);
    free(s->ids);
    free(s->target_ids);
    free(s->vectors);
    free(s->target_values);
}

/* Checks the input array against the model's input and converts it; fills in *T and *B. */
static int load_input(RunState *s, const char *path, int *T, int *B, Diag *d)
{
    const IrLayer *in = &s->m.ir->layers[0];
    if (npy_read(path, &s->x, d))
        return -1;
    const NpyArray *x = &s->x;
    char got[256];
    array_text(x, got, sizeof got);
    if (in->tokens) {
        if (!is_int_dtype(x->dtype) || x->ndim != 2) {
            diag_error_in(d, path, "the model reads token ids: expected an int32 or int64 array "
                                   "[T, B], got %s", got);
            return -1;
        }
        s->ids = ids_from_npy(x, path, d);
        if (!s->ids)
            return -1;
    } else {
        if (is_int_dtype(x->dtype) || x->ndim != 3 || x->shape[2] != in->width) {
            diag_error_in(d, path, "the model reads vectors of %d floats: expected a float32 array "
                                   "[T, B, %d], got %s", in->width, in->width, got);
            return -1;
        }
        s->vectors = floats_from_npy(x, path, d);
        if (!s->vectors)
            return -1;
    }
    if (x->shape[0] < 1 || x->shape[1] < 1 || x->shape[0] > 1000000 || x->shape[1] > 1000000) {
        diag_error_in(d, path, "T and B must be between 1 and 1000000, got [%lld, %lld]",
                      (long long)x->shape[0], (long long)x->shape[1]);
        return -1;
    }
    *T = (int)x->shape[0];
    *B = (int)x->shape[1];
    return 0;
}

/* cli.h: recur run's input reading for another command (recur trace). */
int cli_read_model_input(Model *m, const char *path, int32_t **ids, float **vectors, int *T,
                         int *B, Diag *d)
{
    RunState s = {0};
    s.m = *m; /* borrowed, not freed here */
    int rc = load_input(&s, path, T, B, d);
    npy_free(&s.x);
    *ids = s.ids;
    *vectors = s.vectors;
    return rc;
}

/* Reads the target and builds the loss target: integer ids give cross-entropy (per step for a
 * sequence output [T, B], per sequence after pooling [B]); floats give MSE with the output's
 * shape. */
static int load_target(RunState *s, const char *path, int T, int B, ExecTarget *t, Diag *d)
{
    if (npy_read(path, &s->y, d))
        return -1;
    const NpyArray *y = &s->y;
    int rows, width;
    char got[256];
    array_text(y, got, sizeof got);
    exec_output(s->e, &rows, &width);
    bool seq = rows == T * B && s->m.ir->layers[s->m.ir->output].sequence;
    if (is_int_dtype(y->dtype)) {
        bool ok = seq ? (y->ndim == 2 && y->shape[0] == T && y->shape[1] == B)
                      : (y->ndim == 1 && y->shape[0] == B);
        if (!ok) {
            if (seq)
                diag_error_in(d, path, "class targets must be [T, B] = [%d, %d], got %s", T, B,
                              got);
            else
                diag_error_in(d, path, "class targets must be [B] = [%d], got %s", B, got);
            return -1;
        }
        s->target_ids = ids_from_npy(y, path, d);
        t->kind = seq ? EXEC_LOSS_XENT_TOKENS : EXEC_LOSS_XENT_LABEL;
        t->ids = s->target_ids;
        return s->target_ids ? 0 : -1;
    }
    bool ok = seq ? (y->ndim == 3 && y->shape[0] == T && y->shape[1] == B && y->shape[2] == width)
                  : (y->ndim == 2 && y->shape[0] == B && y->shape[1] == width);
    if (!ok) {
        if (seq)
            diag_error_in(d, path, "regression targets must be [T, B, m] = [%d, %d, %d], got %s",
                          T, B, width, got);
        else
            diag_error_in(d, path, "regression targets must be [B, m] = [%d, %d], got %s", B,
                          width, got);
        return -1;
    }
    s->target_values = floats_from_npy(y, path, d);
    t->kind = EXEC_LOSS_MSE;
    t->values = s->target_values;
    return s->target_values ? 0 : -1;
}

/* Writes every parameter gradient, named like the parameters, as safetensors; with
 * with_states also the gradient of the loss w.r.t. the initial states, named like the
 * --state-in tensors. */
static int write_grads(ExecModel *e, const IrModel *m, int B, bool with_states, const char *path,
                       Diag *d)
{
    CkptTensorList l = {0};
    const float *g = exec_grads(e);
    int rc = 0;
    for (int i = 0; !rc && i < exec_ntensors(e); i++) {
        const ExecTensor *t = exec_tensor(e, i);
        int64_t shape[2] = {t->shape[0], t->shape[1]};
        if (!ckpt_add_tensor(&l, t->name, t->ndim, shape, g + t->offset)) {
            diag_error_in(d, path, "out of memory");
            rc = -1;
        }
    }
    if (!rc && with_states)
        rc = model_states_to_tensors(m, B, exec_state_grad(e), NULL, &l, d);
    if (!rc)
        rc = safetensors_write(path, &l, NULL, d);
    ckpt_tensors_free(&l);
    return rc;
}

/* --state-in S.safetensors (initial states, set before the forward) or --state-out (the final
 * states after it): model/states.h names and shapes. */
static int run_states(RunState *s, const char *path, int B, bool out, Diag *d)
{
    int64_t n = exec_state_floats(s->e);
    float *block = calloc(n > 0 ? (size_t)n : 1, sizeof *block);
    int rc = -1;
    if (!block) {
        diag_error_in(d, path, "out of memory");
    } else if (out) {
        exec_get_state(s->e, block);
        rc = model_states_write(s->m.ir, B, block, path, d);
    } else if (!(rc = model_states_read(s->m.ir, B, path, block, d))) {
        exec_set_state(s->e, block);
    }
    free(block);
    return rc;
}

/* --lengths L.npy: int32/int64 [B], each sequence's valid steps in 1..T (ONNX sequence_lens,
 * PyTorch's pack_padded_sequence lengths). */
static int load_lengths(RunState *s, const char *path, int T, int B, Diag *d)
{
    char got[256];
    if (npy_read(path, &s->len, d))
        return -1;
    array_text(&s->len, got, sizeof got);
    if (!is_int_dtype(s->len.dtype) || s->len.ndim != 1 || s->len.shape[0] != B) {
        diag_error_in(d, path, "lengths must be an int32 or int64 array [B] = [%d], got %s", B,
                      got);
        return -1;
    }
    if (!(s->lengths = ids_from_npy(&s->len, path, d)))
        return -1;
    for (int b = 0; b < B; b++)
        if (s->lengths[b] < 1 || s->lengths[b] > T) {
            diag_error_in(d, path, "length %d of sequence %d is outside 1..T = 1..%d",
                          s->lengths[b], b, T);
            return -1;
        }
    return 0;
}

/* Writes the forward's output as .npy: [T, B, m] per step, or [rows, m] after pooling. */
static int write_output(RunState *s, const char *path, int T, int B, Diag *d)
{
    int rows, width;
    const float *out = exec_output(s->e, &rows, &width);
    NpyArray y = {.dtype = NPY_F32, .data = (void *)out};
    if (rows == T * B && s->m.ir->layers[s->m.ir->output].sequence) {
        y.ndim = 3;
        y.shape[0] = T, y.shape[1] = B, y.shape[2] = width;
    } else {
        y.ndim = 2;
        y.shape[0] = rows, y.shape[1] = width;
    }
    y.count = (int64_t)rows * width;
    return npy_write(path, &y, d);
}

/* recur run FILE.ckpt --input X.npy --output Y.npy [--target T.npy [--grad-out G]] */
/* --predict: each output row's most likely class, one line per row, by the checkpoint's class
 * names (the class id when it records none). Pooled outputs: one row per sequence. */
static void print_predictions(const Model *m, const float *y, int rows, int width)
{
    for (int r = 0; r < rows; r++) {
        int best = 0;
        for (int j = 1; j < width; j++)
            if (y[(size_t)r * width + j] > y[(size_t)r * width + best]) best = j;
        if (best < m->nclass_names) printf("%s\n", m->class_names[best]);
        else printf("%d\n", best);
    }
}

int cmd_run(int argc, char **argv)
{
    const char *input = NULL, *output = NULL, *target = NULL, *grad_out = NULL, *threads = NULL;
    const char *state_in = NULL, *state_out = NULL, *lengths = NULL;
    bool predict = false;
    const CliOpt opts[] = {
        {"input", 0, CLI_VALUE, &input},   {"output", 'o', CLI_VALUE, &output},
        {"target", 0, CLI_VALUE, &target}, {"grad-out", 0, CLI_VALUE, &grad_out},
        {"threads", 0, CLI_VALUE, &threads}, {"predict", 0, CLI_FLAG, &predict},
        {"state-in", 0, CLI_VALUE, &state_in}, {"state-out", 0, CLI_VALUE, &state_out},
        {"lengths", 0, CLI_VALUE, &lengths}, {0},
    };
    CliArgs a;
    if (cli_parse(argc, argv, opts, &a) != 0)
        return EXIT_USAGE;
    const char *ckpt = a.npos == 1 ? a.pos[0] : NULL;
    if (!ckpt || !input || !output)
        return cli_args_usage_error(&a, "%s", !ckpt ? "expected exactly one FILE.ckpt"
                                                    : "--input and --output are required");
    if (grad_out && !target)
        return cli_args_usage_error(&a, "--grad-out needs --target");
    if (threads && cli_set_threads(threads))
        return cli_args_usage_error(&a, "--threads needs a positive integer");

    Diag d;
    diag_init(&d);
    RunState s = {0};
    int T = 0, B = 0, rc = -1;
    if (model_load(&s.m, &d, ckpt, NULL) || load_input(&s, input, &T, &B, &d) ||
        (lengths && load_lengths(&s, lengths, T, B, &d)))
        goto done;
    s.e = model_exec(&s.m, B, T, &d);
    if (!s.e || (state_in && run_states(&s, state_in, B, false, &d)))
        goto done;
    exec_set_grad_enabled(s.e, target != NULL);
    ExecInput in = {.T = T, .tokens = s.ids, .vectors = s.vectors, .lengths = s.lengths,
                    .packed = s.lengths != NULL};
    if (exec_forward(s.e, &in, false, &d) || write_output(&s, output, T, B, &d) ||
        (state_out && run_states(&s, state_out, B, true, &d)))
        goto done;
    int rows, width;
    const float *out = exec_output(s.e, &rows, &width);
    if (predict)
        print_predictions(&s.m, out, rows, width);
    if (target) {
        ExecTarget t = {0};
        double loss;
        if (load_target(&s, target, T, B, &t, &d) || exec_loss(s.e, &t, &loss, &d))
            goto done;
        printf("loss: %.9g\n", loss);
        if (grad_out) {
            exec_zero_grads(s.e);
            if (exec_backward(s.e, &d) ||
                write_grads(s.e, s.m.ir, B, state_in != NULL, grad_out, &d))
                goto done;
        }
    }
    rc = 0;
done:
    run_state_free(&s);
    return cli_finish(&a, &d, rc);
}

/* A weight file of any other format: which format, its notes, tensors and metadata. */
static int inspect_weights(const char *path, WfId id, Diag *d)
{
    WeightSet w;
    if (wf_read(id, path, NULL, &w, d))
        return -1;
    printf("format: %s\n", wf_format(id)->name);
    for (int i = 0; i < w.nnotes; i++)
        printf("note: %s\n", w.notes[i]);
    int rc = inspect_print_tensors(stdout, &w.tensors);
    for (int i = 0; i < w.meta.n; i++) {
        const char *v = w.meta.values[i];
        if (strcmp(w.meta.keys[i], WF_META_SOURCE) == 0) {
            printf("metadata %s: %zu bytes of model source\n", w.meta.keys[i], strlen(v));
            continue;
        }
        printf("metadata %s: ", w.meta.keys[i]);
        for (int k = 0; v[k] && k < 200; k++)   /* one line: newlines shown as "; " */
            fputs(v[k] == '\n' ? (v[k + 1] ? "; " : "") : (char[2]){v[k], 0}, stdout);
        printf("\n");
    }
    wf_set_free(&w);
    return rc;
}

/* recur inspect FILE: any weight format (format.h says which); a checkpoint also shows its
 * model summary and training state. */
int cmd_inspect(int argc, char **argv)
{
    const CliOpt opts[] = {{0}};
    CliArgs a;
    if (cli_parse(argc, argv, opts, &a) != 0)
        return EXIT_USAGE;
    const char *path = a.npos == 1 ? a.pos[0] : NULL;
    if (!path)
        return cli_args_usage_error(&a, "expected exactly one FILE");
    Diag d;
    diag_init(&d);
    WfId id;
    int rc = wf_check_input(path, &id, &d);
    if (!rc && id == WF_CKPT) {
        Checkpoint c;
        Model m;
        rc = model_load(&m, &d, path, &c);
        if (!rc) {
            printf("format: %s\n", wf_format(id)->name);
            rc = inspect_print_checkpoint(stdout, &c);
            printf("\n");
            ir_explain(m.ir, stdout);
            ckpt_free(&c);
            model_free(&m);
        }
    } else if (!rc && id == WF_ONNX) {   /* a graph: inputs, outputs, nodes, initializers */
        Onnx__ModelProto *om;
        if (!(rc = onnx_read(path, &om, &d))) {
            onnx_print(stdout, om);
            onnx_model_free(om);
        }
    } else if (!rc) {
        rc = inspect_weights(path, id, &d);
    }
    return cli_finish(&a, &d, rc);
}
