/* trace: recur trace -- run a model in inference mode on the cell interpreter and record, per
 * step and recurrent cell, every value the cell's equations name (lstm i, f, g, o, c, h; gru r,
 * z, n, h; rnn h; a user cell's names) and the output probabilities; write them as .npz
 * (trace_write_npz), as one self-contained HTML page (trace_html.c) and for LSTMVis
 * (trace_lstmvis.c).
 *
 * Ownership: trace_run fills the caller's zeroed Trace, which owns every array, name and token
 * string in it (trace_free releases them); it only reads the Model and the input. */
#ifndef RECUR_TRAIN_TRACE_H
#define RECUR_TRAIN_TRACE_H

#include <stdint.h>

#include "model/model.h"
#include "util/diag.h"

/* One recorded value: "layer.cell.name" ("lstm1.l0.f") or "output.probs", [T][B][W]. */
typedef struct TraceArray {
    char *name;
    char *layer;        /* the layer label ("output" for the probabilities) */
    char *value;        /* the cell's name for it ("f", "probs") */
    int T, B, W;
    float *v;
} TraceArray;

typedef struct Trace {
    TraceArray *a;
    int n;
    size_t cap;
    int T, B;
    int32_t *ids;       /* [T][B] token ids of a text input, or NULL (vectors) */
    char **tokens;      /* per vocabulary id its UTF-8 text (models with a vocabulary), or NULL */
    int ntokens;
} Trace;

/* What to trace: a text (converted through the model's vocabulary; what names it in
 * messages), or token ids / vectors [T][B](...) as recur run reads them. */
typedef struct TraceInput {
    const char *text, *what;
    const int32_t *ids;
    const float *vectors;
    int T, B;
} TraceInput;

/* Runs m on in and records every named cell value of the recurrent layers (only the layer
 * labelled layer when it is not NULL) and the output probabilities. -1 with a diagnostic: no
 * recurrent layer, an unknown layer (did-you-mean), characters outside the vocabulary. */
int trace_run(Model *m, const TraceInput *in, const char *layer, Trace *t, Diag *d);
void trace_free(Trace *t);
/* The array called name, or NULL. */
const TraceArray *trace_find(const Trace *t, const char *name);
/* Every array as NAME.npy [T, B, W] in an .npz (written atomically). */
int trace_write_npz(const Trace *t, const char *path, Diag *d);
/* The page (trace_html.c): self-contained HTML, inline CSS/JS/SVG, no network. */
int trace_write_html(const Trace *t, const char *path, Diag *d);
/* The files LSTMVis reads (trace_lstmvis.c), in dir (created when missing): states.h5 (every
 * array, [T*B, W], batch columns one after another), train.h5 (token ids "word_ids" [T*B]),
 * words.dict and lstm.yml. -1 with a diagnostic: vector input (no tokens), an unwritable dir. */
int trace_write_lstmvis(const Trace *t, const char *dir, Diag *d);

#endif
