/* cmd_convert: `recur convert IN OUT`, the front door between weight formats (issue 8).
 *
 * IN's format comes from its content, OUT's from its extension (src/io/format.h). IN is read
 * into recur's tensor names: a checkpoint through its model; any other file as it names its
 * tensors, renamed by --map OLD=NEW prefixes, mapped by the format's row of convert_map.h when
 * its names or layouts are not recur's, and matched against the model (--model M.rnn, or the
 * model source a recur-written safetensors file carries) when there is one. OUT is written
 * atomically, read back and compared value for value before success is reported; a mismatch
 * removes it. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/commands.h"
#include "cli/convert_map.h"
#include "io/fileio.h"
#include "io/format.h"
#include "io/onnx.h"
#include "model/model.h"
#include "model/onnx.h"

typedef struct Conv {
    const char *in, *out;
    WfId fin, fout;
    const char *model_path, *key;
    CliList sets, maps;
    bool verbose;
    const char *opset;      /* --opset N of an ONNX export */
    bool states;            /* --states: an ONNX export with state inputs and outputs */
    const char *model_out;  /* --model-out M.rnn of an ONNX import */
    Model m;
    bool have_model;
    WeightSet src;          /* IN's tensors, named as recur names them */
    char **from;            /* from[i]: the name IN gave src.tensors.items[i] */
    int nfrom;
    Diag d;
} Conv;

static void conv_free(Conv *c)
{
    for (int i = 0; i < c->nfrom; i++)
        free(c->from[i]);
    free(c->from);
    wf_set_free(&c->src);
    model_free(&c->m);
}


/* The model part of m as metadata (format.c encodes it), with the model's name. */
static int meta_from_model(const Model *m, WeightSet *w, Diag *d)
{
    Checkpoint ck;
    ckpt_init(&ck);
    int rc = model_to_checkpoint(m, &ck, d);
    if (!rc)
        rc = wf_meta_from_checkpoint(&ck, w) || wf_set_meta(w, WF_META_MODEL, m->ir->name);
    ckpt_free(&ck);
    return rc ? -1 : 0;
}


/* Rebuilds the model a recur-written file describes (source, overrides, vocabulary). */
static int model_from_meta(Conv *c)
{
    Checkpoint ck;
    ckpt_init(&ck);
    int rc = wf_meta_to_checkpoint(&c->src.meta, c->in, &ck) < 0;
    for (int i = 0; !rc && i < c->src.tensors.n; i++) {
        const CkptTensor *t = &c->src.tensors.items[i];
        rc = !ckpt_add_tensor(&ck.params, t->name, t->ndim, t->shape, t->data);
    }
    if (rc)
        diag_error_in(&c->d, c->in, "out of memory");
    else
        rc = model_from_checkpoint(&c->m, &c->d, &ck, c->in);
    ckpt_free(&ck);
    c->have_model = rc == 0;
    return rc;
}

/* Applies every --map OLD=NEW (prefix renames, first match wins) to the tensors of w. */
static int apply_maps(Conv *c, WeightSet *w)
{
    for (int k = 0; k < c->maps.n; k++)
        if (!strchr(c->maps.items[k], '=')) {
            diag_error_in(&c->d, "--map", "'%s' is not OLD=NEW", c->maps.items[k]);
            return -1;
        }
    for (int i = 0; i < w->tensors.n; i++) {
        CkptTensor *t = &w->tensors.items[i];
        for (int k = 0; k < c->maps.n; k++) {
            const char *m = c->maps.items[k], *eq = strchr(m, '=');
            size_t old = (size_t)(eq - m);
            if (strncmp(t->name, m, old) != 0)
                continue;
            size_t n = strlen(eq + 1) + strlen(t->name + old) + 1;
            char *name = malloc(n);
            if (!name)
                return -1;
            snprintf(name, n, "%s%s", eq + 1, t->name + old);
            if (ckpt_find_tensor(&w->tensors, name)) {
                diag_error_in(&c->d, c->in, "--map %s renames '%s' to '%s', which exists already",
                              m, t->name, name);
                free(name);
                return -1;
            }
            free(t->name);
            t->name = name;
            break;
        }
    }
    return 0;
}

/* Remembers IN's own names (for --verbose) before --map renames them. */
static int keep_names(Conv *c, const WeightSet *w)
{
    c->from = calloc((size_t)w->tensors.n + 1, sizeof *c->from);
    if (!c->from)
        return -1;
    for (int i = 0; i < w->tensors.n; i++)
        if (!(c->from[i] = strdup(w->tensors.items[i].name)))
            return -1;
    c->nfrom = w->tensors.n;
    return 0;
}

/* "lstm(7, layers=2)": how the model file spells layer l (for the label hint). */
static void layer_spelling(const IrLayer *l, char *buf, size_t n)
{
    const IrLayerFacts *f = ir_layer_kind_facts(l->kind);
    const char *kind = l->ncells > 0 && l->cells[0].name ? l->cells[0].name : f ? f->spelling
                                                                                 : "?";
    if (l->builtin == IR_CELL_RNN_TANH || l->builtin == IR_CELL_RNN_RELU)
        kind = "rnn";
    int k = snprintf(buf, n, "%s(%d", kind, l->size);
    if (l->builtin == IR_CELL_RNN_RELU && k > 0 && (size_t)k < n)
        k += snprintf(buf + k, n - (size_t)k, ", activation=relu");
    if (l->num_layers > 1 && k > 0 && (size_t)k < n)
        k += snprintf(buf + k, n - (size_t)k, ", layers=%d", l->num_layers);
    if (l->bidirectional && k > 0 && (size_t)k < n)
        k += snprintf(buf + k, n - (size_t)k, ", bidirectional=true");
    if (k > 0 && (size_t)k < n)
        snprintf(buf + k, n - (size_t)k, ")");
}

/* When names do not match (reported before model_set_tensors lists every tensor): for each
 * model layer whose tensors are missing, the file's prefix that holds a tensor of the same
 * parameter name and shape, and the label (or --map) that would match it. */
static void label_hints(Conv *c)
{
    const IrModel *ir = c->m.ir;
    for (int li = 0; li < ir->nlayers; li++) {
        const IrLayer *l = &ir->layers[li];
        if (l->ntensors == 0 || ckpt_find_tensor(&c->src.tensors,
                                                 ir->tensors[l->first_tensor].name))
            continue;
        const IrTensor *want = &ir->tensors[l->first_tensor];
        const char *param = strchr(want->name, '.');
        for (int i = 0; param && i < c->src.tensors.n; i++) {
            const CkptTensor *t = &c->src.tensors.items[i];
            const char *name = t->name, *dot = strrchr(name, '.');
            bool same = t->ndim == want->ndim;
            for (int k = 0; same && k < t->ndim; k++)
                same = t->shape[k] == want->shape[k];
            if (!dot || !same || strcmp(dot, param) != 0 || ir_find_tensor(ir, name) >= 0)
                continue;
            char prefix[256], spell[128];
            snprintf(prefix, sizeof prefix, "%.*s", (int)(dot - name), name);
            layer_spelling(l, spell, sizeof spell);
            DiagMessage *m = diag_error_in(&c->d, c->in, "the file's '%s' matches no layer of "
                                           "the model; its parameters are those of layer '%s'",
                                           prefix, l->label);
            if (!strchr(prefix, '.'))
                diag_help(m, "label the layer `%s: %s` in the model, or pass --map %s.=%s.",
                          prefix, spell, prefix, l->label);
            else
                diag_help(m, "pass --map %s.=%s.", prefix, l->label);
            break;
        }
    }
}

/* The model to match IN against: --model, else the model a recur-written IN carries. */
static int match_model(Conv *c)
{
    if (c->model_path) {
        if (model_compile_file(&c->m, &c->d, c->model_path, c->sets.items, c->sets.n))
            return -1;
        c->have_model = true;
        label_hints(c);
        if (model_set_tensors(&c->m, &c->src.tensors, c->in, &c->d))
            return -1;
        Checkpoint ck;   /* the vocabulary a recur-written file carries */
        ckpt_init(&ck);
        if (!c->m.vocab && wf_meta_to_checkpoint(&c->src.meta, c->in, &ck) == 0 && ck.vocab) {
            c->m.vocab = ck.vocab;
            c->m.vocab_len = ck.vocab_len;
            c->m.vocab_level = model_checkpoint_vocab_level(&ck);
            ck.vocab = NULL;
        }
        ckpt_free(&ck);
        return 0;
    }
    if (safetensors_meta_get(&c->src.meta, WF_META_SOURCE))
        return model_from_meta(c);
    return 0;
}

/* IN into c->src with recur's names (and c->m when there is a model). */
static int read_input(Conv *c)
{
    if (c->fin == WF_CKPT) {
        if (model_load(&c->m, &c->d, c->in, NULL))
            return -1;
        c->have_model = true;
        return model_get_tensors(&c->m, &c->src.tensors, &c->d) ||
               keep_names(c, &c->src);
    }
    WfReadOpts o = {.key = c->key};
    WeightSet raw;
    if (wf_read(c->fin, c->in, &o, &raw, &c->d))
        return -1;
    int rc = keep_names(c, &raw) || apply_maps(c, &raw);
    const ConvertMap *row = convert_map_for(c->fin);
    if (!rc && !row && wf_format(c->fin)->needs_model) {
        diag_error_in(&c->d, c->in, "%s files cannot be mapped to recur's tensors in this build",
                      wf_format(c->fin)->name);
        rc = -1;
    }
    if (!rc && row) {
        if (!c->model_path) {
            diag_error_in(&c->d, c->in, "%s files name their tensors by the layers of the "
                          "program that wrote them: converting needs --model MODEL.rnn",
                          wf_format(c->fin)->name);
            rc = -1;
        } else {
            rc = model_compile_file(&c->m, &c->d, c->model_path, c->sets.items, c->sets.n) ||
                 row->import(&c->m, &raw, &c->src, &c->d);
            for (int i = 0; i < c->nfrom; i++)   /* the row's how[] names the sources */
                free(c->from[i]);
            c->nfrom = 0;
            c->have_model = rc == 0;
            c->model_path = rc ? c->model_path : NULL;   /* compiled already */
        }
        wf_set_free(&raw);
    } else {
        c->src = raw;
    }
    if (!rc && row && c->have_model) {
        label_hints(c);
        rc = model_set_tensors(&c->m, &c->src.tensors, c->in, &c->d);
    }
    return rc ? -1 : row ? 0 : match_model(c);
}

/* Whether two tensor lists hold the same names, shapes and bits (the read-back check). */
static int same_tensors(const CkptTensorList *want, const CkptTensorList *got, const char *path,
                        Diag *d)
{
    if (want->n != got->n) {
        diag_error_in(d, path, "read back %d tensors, %d were written", got->n, want->n);
        return -1;
    }
    for (int i = 0; i < want->n; i++) {
        const CkptTensor *a = &want->items[i], *b = ckpt_find_tensor(got, a->name);
        bool same = b && a->ndim == b->ndim && a->count == b->count &&
                    memcmp(a->shape, b->shape, sizeof(int64_t) * (size_t)a->ndim) == 0 &&
                    memcmp(a->data, b->data, sizeof(float) * (size_t)a->count) == 0;
        if (!same) {
            diag_error_in(d, path, "tensor '%s' read back differs from what was written",
                          a->name);
            return -1;
        }
    }
    return 0;
}

/* Writes a checkpoint (needs the model) and checks it by loading it back. */
static int write_checkpoint(Conv *c, const WeightSet *w)
{
    if (!c->have_model) {
        DiagMessage *m = diag_error_in(&c->d, c->out, "a checkpoint holds its model: say which "
                                       "with --model MODEL.rnn");
        diag_help(m, "%s carries no recur model source (only files recur wrote do)", c->in);
        return -1;
    }
    Model back;
    CkptTensorList got = {0};
    if (model_save(&c->m, c->out, &c->d))
        return -1;
    int rc = model_load(&back, &c->d, c->out, NULL);
    if (!rc) {
        rc = model_get_tensors(&back, &got, &c->d) ||
             same_tensors(&w->tensors, &got, c->out, &c->d);
        model_free(&back);
    }
    ckpt_tensors_free(&got);
    return rc ? -1 : 0;
}

/* Writes OUT in its format through the format's mapping row, then reads it back. */
static int write_output(Conv *c, const WeightSet *w)
{
    if (c->fout == WF_CKPT)
        return write_checkpoint(c, w);
    const ConvertMap *row = convert_map_for(c->fout);
    WeightSet mapped = {0}, back;
    const WeightSet *file = w;
    if (row) {
        if (!c->have_model) {
            diag_error_in(&c->d, c->out, "writing %s needs the model: --model MODEL.rnn",
                          wf_format(c->fout)->name);
            return -1;
        }
        if (row->export(&c->m, w, &mapped, &c->d))
            return -1;
        file = &mapped;
        /* the file's own names and what was done to each (the mapping row's how[]) */
        for (int i = 0; c->verbose && i < mapped.tensors.n; i++)
            printf("  %s (%s)\n", mapped.tensors.items[i].name,
                   i < mapped.nhow && mapped.how[i] ? mapped.how[i] : "as is");
        for (int i = 0; i < mapped.nnotes; i++)
            printf("note: %s\n", mapped.notes[i]);
    }
    int rc = wf_write(c->fout, c->out, file, &c->d);
    if (!rc) {
        rc = wf_read(c->fout, c->out, NULL, &back, &c->d) ||
             same_tensors(&file->tensors, &back.tensors, c->out, &c->d);
        if (rc)
            unlink(c->out);
        wf_set_free(&back);
    }
    wf_set_free(&mapped);
    return rc ? -1 : 0;
}

/* --verbose: every tensor mapped, with what was done to it. */
static void print_mapping(const Conv *c, const WeightSet *w)
{
    for (int i = 0; i < w->tensors.n; i++) {
        const CkptTensor *t = &w->tensors.items[i];
        char shape[96] = "[";
        for (int k = 0; k < t->ndim; k++)
            snprintf(shape + strlen(shape), sizeof shape - strlen(shape), "%s%lld",
                     k ? ", " : "", (long long)t->shape[k]);
        strcat(shape, "]");
        /* a checkpoint's tensors are listed in the model's order, renamed (if at all) on the
         * way out; any other input's were renamed on the way in */
        int j = c->fin == WF_CKPT ? i
                                  : (int)(ckpt_find_tensor(&c->src.tensors, t->name) -
                                          c->src.tensors.items);
        const char *from = j >= 0 && j < c->nfrom ? c->from[j] : t->name;
        const char *how = j >= 0 && j < c->src.nhow && c->src.how[j] ? c->src.how[j] : NULL;
        if (from == t->name && how) {   /* mapped by a convert_map row: how says from what */
            printf("  %s %s (%s)\n", t->name, shape, how);
            continue;
        }
        printf("  %s -> %s %s%s%s%s\n", from, t->name, shape,
               how || strcmp(from, t->name) ? " (" : "",
               how ? how : strcmp(from, t->name) ? "renamed" : "", how || strcmp(from, t->name)
                                                                    ? ")" : "");
    }
}

/* OUT.onnx: the model as an ONNX graph (src/model/onnx.h), read back to check it decodes. */
static int export_onnx(Conv *c)
{
    char *end = NULL;
    long opset = c->opset ? strtol(c->opset, &end, 10) : ONNX_OPSET_DEFAULT;
    if (c->opset && (!*c->opset || *end)) {
        diag_error_in(&c->d, "--opset", "'%s' is not a number", c->opset);
        return -1;
    }
    if (!c->have_model) {
        diag_error_in(&c->d, c->out, "an ONNX export needs the model: convert a checkpoint, or "
                      "give --model MODEL.rnn");
        return -1;
    }
    Onnx__ModelProto *back;
    if (onnx_export(&c->m, c->out, (int)opset, c->states, &c->d))
        return -1;
    if (onnx_read(c->out, &back, &c->d)) {
        unlink(c->out);
        return -1;
    }
    printf("%s: ONNX opset %ld, %zu nodes, %zu initializers, %zu inputs, %zu outputs, read back "
           "and checked\n", c->out, opset, back->graph->n_node, back->graph->n_initializer,
           back->graph->n_input, back->graph->n_output);
    onnx_model_free(back);
    return 0;
}

/* Writes text to path atomically (--model-out). */
static int write_text(const char *path, const char *text, Diag *d)
{
    IoAtomic w;
    if (io_atomic_open(&w, path, d))
        return -1;
    io_atomic_write(&w, text, strlen(text));
    return io_atomic_commit(&w, d);
}

/* IN.onnx OUT.ckpt: the graph as a recur model (src/model/onnx.h), its .rnn text in the
 * checkpoint (and in --model-out), written and read back like any checkpoint. */
static int import_onnx(Conv *c)
{
    if (c->model_path) {
        diag_error_in(&c->d, "--model", "an ONNX graph holds its model: --model is not used");
        return -1;
    }
    char *text;
    if (onnx_import(c->in, &c->m, &text, &c->d))
        return -1;
    c->have_model = true;
    WeightSet w = {0};
    int rc = model_get_tensors(&c->m, &w.tensors, &c->d);
    if (!rc)
        rc = write_checkpoint(c, &w);
    if (!rc && c->model_out && write_text(c->model_out, text, &c->d)) {
        unlink(c->out);   /* all or nothing */
        rc = -1;
    }
    if (!rc)
        printf("%s: %d tensors written (%s), read back and checked; model:\n%s", c->out,
               w.tensors.n, wf_format(c->fout)->name, text);
    free(text);
    wf_set_free(&w);
    return rc ? -1 : 0;
}

static int convert(Conv *c)
{
    if (wf_check_input(c->in, &c->fin, &c->d) ||
        wf_check_output(c->in, c->out, &c->fout, &c->d))
        return -1;
    if (c->opset && c->fout != WF_ONNX) {
        diag_error_in(&c->d, "--opset", "--opset applies to an ONNX output (OUT.onnx)");
        return -1;
    }
    if (c->model_out && !(c->fin == WF_ONNX && c->fout == WF_CKPT)) {
        diag_error_in(&c->d, "--model-out", "--model-out writes the model of an ONNX import "
                      "(IN.onnx OUT.ckpt)");
        return -1;
    }
    if (c->fin == WF_ONNX && c->fout == WF_CKPT)
        return import_onnx(c);
    if (c->fout == WF_ONNX)
        return read_input(c) ? -1 : export_onnx(c);
    if (c->key && c->fin != WF_TORCH_ZIP && c->fin != WF_TORCH_LEGACY) {
        diag_error_in(&c->d, c->in, "--key selects an entry of a PyTorch checkpoint; this is %s",
                      wf_format(c->fin)->name);
        return -1;
    }
    if (read_input(c))
        return -1;
    WeightSet w = {0};
    int rc = 0;
    if (c->have_model)
        rc = model_get_tensors(&c->m, &w.tensors, &c->d) || meta_from_model(&c->m, &w, &c->d);
    else
        rc = wf_set_copy(&c->src, &w);
    if (rc)
        diag_error_in(&c->d, c->out, "out of memory");
    if (!rc && c->fin == WF_CKPT && c->maps.n)   /* out of recur: --map renames recur's names */
        rc = c->fout == WF_CKPT ? diag_error_in(&c->d, c->out, "--map cannot rename the tensors "
                                                "of a checkpoint: they are the model's"), -1
                                : apply_maps(c, &w);
    if (!rc)
        rc = write_output(c, &w);
    if (!rc) {
        for (int i = 0; i < c->src.nnotes; i++)
            printf("note: %s\n", c->src.notes[i]);
        if (c->fin == WF_CKPT && c->fout == WF_CKPT)
            printf("note: the model and its weights are copied, not the training state\n");
        if (c->verbose && !convert_map_for(c->fout))
            print_mapping(c, &w);
        printf("%s: %d tensors written (%s), read back and checked\n", c->out, w.tensors.n,
               wf_format(c->fout)->name);
    }
    wf_set_free(&w);
    return rc ? -1 : 0;
}

/* recur convert IN OUT [--model M.rnn] [--set N=V]... [--map OLD=NEW]... [--key K] [--verbose]
 *               [--opset N] [--states] [--model-out M.rnn] */
int cmd_convert(int argc, char **argv)
{
    Conv c = {0};
    const CliOpt opts[] = {
        {"model", 0, CLI_VALUE, &c.model_path}, {"set", 0, CLI_LIST, &c.sets},
        {"map", 0, CLI_LIST, &c.maps},          {"key", 0, CLI_VALUE, &c.key},
        {"verbose", 'v', CLI_FLAG, &c.verbose}, {"opset", 0, CLI_VALUE, &c.opset},
        {"model-out", 0, CLI_VALUE, &c.model_out}, {"states", 0, CLI_FLAG, &c.states}, {0},
    };
    CliArgs a;
    if (cli_parse(argc, argv, opts, &a) != 0)
        return EXIT_USAGE;
    if (a.npos != 2)
        return cli_args_usage_error(&a, "expected an input and an output file");
    if (c.sets.n && !c.model_path)
        return cli_args_usage_error(&a, "--set applies to the model given with --model");
    if (c.states && wf_for_extension(a.pos[1]) != WF_ONNX)
        return cli_args_usage_error(&a, "--states applies to an ONNX output (OUT.onnx)");
    c.in = a.pos[0];
    c.out = a.pos[1];
    diag_init(&c.d);
    int rc = convert(&c);
    conv_free(&c);
    return cli_finish(&a, &c.d, rc);
}
