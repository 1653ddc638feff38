/* sema: semantic analysis of a parsed .rnn file and construction of its IR.
 *
 * sema_compile parses the built-in prelude (src/ir/prelude.rnn, source name "<prelude>") and the
 * user's source with the same parser, resolves names (consts, cells, labels, layer kinds,
 * functions), checks every layer's options and value ranges, instantiates cells with concrete
 * sizes (symbolic shapes unified and checked per expression), checks the recurrence rules,
 * computes widths through the model, names every trained tensor as PyTorch does, validates the
 * data/train settings and applies --set overrides. The result is an IrModel (src/ir/ir.h).
 *
 * vocab and classes ("auto" sizes): they are bound by `input tokens(vocab=N)`, by
 * `--set vocab=N` / `--set classes=N` (the trainer passes the data's sizes this way), or not at
 * all. sema_compile refuses a model that needs an unbound one. sema_compile_opts with
 * allow_auto set substitutes placeholder values instead (SemaOptions.auto_vocab/auto_classes)
 * and reports which placeholders were used, so `recur check` can succeed and --explain can
 * print sizes symbolically (explain.h: ir_explain_source evaluates the model at several
 * placeholder values and prints e.g. `64*vocab + 4160`).
 *
 * --set strings are "NAME=VALUE". NAME is vocab, classes, a const of the file, or a data/train
 * setting (known names only; unknown names get a did-you-mean). VALUE is a number, an
 * identifier, a "string", or a call such as adam(lr=0.01). A setting's value replaces the
 * file's (or is added when the file has none).
 *
 * Ownership: the returned IrModel belongs to the caller (ir_model_free). Every diagnostic goes
 * to d; the prelude source is added to d once (named "<prelude>") and d must outlive nothing
 * of the model except IrModel.source/SrcRange pointers, which point into d's sources. */
#ifndef RECUR_SEMA_H
#define RECUR_SEMA_H

#include <stdbool.h>

#include "ir/ir.h"
#include "lang/diag.h"

typedef struct SemaOptions {
    bool allow_auto;        /* in: bind unbound vocab/classes to the placeholders below */
    int auto_vocab;         /* in: placeholder for vocab (used when allow_auto; 0 means 1000) */
    int auto_classes;       /* in: placeholder for classes (0 means 1000) */
    bool vocab_auto;        /* out: the model needed vocab and it was a placeholder */
    bool classes_auto;      /* out: the model needed classes and it was a placeholder */
} SemaOptions;

/* Parses and analyses src (with the prelude), applies the nsets "NAME=VALUE" overrides and
 * builds the IR. NULL (with diagnostics in d) on any error, including a model that needs
 * vocab/classes while they are unbound. Warnings do not make it fail. */
IrModel *sema_compile(Diag *d, const Source *src, const char *const *sets, int nsets);

/* As sema_compile, with options (opts may be NULL: same as sema_compile). */
IrModel *sema_compile_opts(Diag *d, const Source *src, const char *const *sets, int nsets,
                           SemaOptions *opts);

#endif
