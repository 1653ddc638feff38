/* sema: semantic analysis of a parsed .rnn file and construction of its IR.
 *
 * sema_compile parses the built-in prelude (src/lang/prelude.rnn, source name "<prelude>") and the
 * user's source with the same parser, resolves names (consts, cells, labels, layer kinds,
 * functions), checks every layer's options and value ranges, instantiates cells with concrete
 * sizes (symbolic shapes unified and checked per expression), checks the recurrence rules,
 * computes widths through the model, names every trained tensor as PyTorch does, validates the
 * data/train settings and applies --set overrides. The result is an IrModel (src/ir/ir.h).
 *
 * vocab and classes ("auto" sizes): they are bound by `input tokens(vocab=N)`, by
 * `--set vocab=N` / `--set classes=N`, by SemaSizes (the trainer passes the data's sizes this way,
 * to sema_unit_compile), or not at all. A compile refuses a model that needs an unbound one,
 * unless SemaOptions.allow_auto: then placeholder values stand in
 * (SemaOptions.auto_vocab/auto_classes) and it reports which placeholders were used, so
 * `recur check` can succeed. Every size of such a model also carries its form in the unbound
 * names (IrSym, ir/ir.h), so --explain prints it symbolically from that one compile.
 *
 * --set strings are "NAME=VALUE". NAME is vocab, classes, a const of the file, or a data/train
 * setting (known names only; unknown names get a did-you-mean). VALUE is a number, an
 * identifier, a "string", or a call such as adam(lr=0.01). A setting's value replaces the
 * file's (or is added when the file has none).
 *
 * Decisions where LANGUAGE.md is silent:
 *  - A layer's positional size may also be given by name: embedding(dim=), rnn/lstm/gru
 *    (hidden=), dense(units=), dropout(p=), pool(mode=), tokens(vocab=), vector(size=); user
 *    cells take their size parameters positionally or by name, with defaults `cell c(H, K = 2)`.
 *  - The input layer is labelled `input`; its IrLayer.width is 1 for token ids (vocab in
 *    IrLayer.vocab). `residual { }` adds an `add` layer named residual<n> with inputs
 *    (group input, group output). Labels inside `repeat` resolve to the same iteration first.
 *  - Initialisers as PyTorch: embedding normal(1); dense weight and bias uniform(+-1/sqrt(in));
 *    layernorm weight 1, bias 0; cell params uniform(+-1/sqrt(H)), H the first size parameter.
 *  - Inside cells every name is assigned once per step (values too, not only states); sizes,
 *    consts, vocab and classes may appear in equations as scalar constants.
 *  - Warnings (no failure): dropout= with layers=1; a user cell's unused input/param/value;
 *    after a compile without errors, a const of the file nothing reads and a layer whose
 *    output reaches neither another layer nor the model's output.
 *  - Limits: sizes <= 2^28, repeat/layers= <= 1000, 10000 layers, 20000 cell instances; a
 *    tensor under 2 GiB (IR_MAX_TENSOR_BYTES), 16 bytes per parameter within physical memory.
 *
 * Two phases: sema_unit_parse parses the prelude and the file once; sema_unit_compile builds an
 * IrModel from that AST, as often as needed, with sizes the caller learnt meanwhile (the trainer
 * opens the data named by the first IrModel's settings, then binds vocab/classes from it).
 *
 * Ownership: a returned IrModel or SemaUnit belongs to the caller (ir_model_free,
 * sema_unit_free). Every diagnostic goes to the d of the call. SrcRanges in an IrModel point into
 * the user's Source (owned by whoever loaded it, which must outlive the model) or into the
 * static prelude (lang_prelude_source): an IrModel outlives any Diag it was compiled with. A
 * SemaUnit borrows src, which must outlive it. */
#ifndef RECUR_SEMA_H
#define RECUR_SEMA_H

#include <stdbool.h>

#include "ir/ir.h"
#include "util/diag.h"

typedef struct SemaOptions {
    bool allow_auto;        /* in: bind unbound vocab/classes to the placeholders below */
    int auto_vocab;         /* in: placeholder for vocab (used when allow_auto; 0 means 1000) */
    int auto_classes;       /* in: placeholder for classes (0 means 1000) */
    bool vocab_auto;        /* out: the model needed vocab and it was a placeholder */
    bool classes_auto;      /* out: the model needed classes and it was a placeholder */
    bool api_overrides;     /* in: the overrides are a library caller's "NAME=VALUE" strings,
                               so messages name them "override", not the CLI's --set */
} SemaOptions;

/* Sizes known to the caller (the data's): 0 leaves one as the file and --set bind it. Bound as a
 * last --set would be (checked the same way, and winning over `input tokens(vocab=...)`). */
typedef struct SemaSizes {
    int vocab;
    int classes;
} SemaSizes;

/* The parsed prelude and file, with copies of the --set strings (opaque). */
typedef struct SemaUnit SemaUnit;

/* Phase 1: parses the prelude and src and keeps the nsets "NAME=VALUE" overrides. NULL (with
 * diagnostics in d) on a syntax error. */
SemaUnit *sema_unit_parse(Diag *d, const Source *src, const char *const *sets, int nsets);
/* Phase 2: analyses the parsed unit with sizes (may be NULL) and opts (may be NULL) and builds
 * the IR; reports into d (which may differ from phase 1's). NULL on any error, as
 * sema_compile. The unit is not changed: it may be compiled again. */
IrModel *sema_unit_compile(const SemaUnit *u, Diag *d, const SemaSizes *sizes,
                           SemaOptions *opts);
void sema_unit_free(SemaUnit *u);

/* Parses and analyses src (with the prelude), applies the nsets "NAME=VALUE" overrides and
 * builds the IR. NULL (with diagnostics in d) on any error, including a model that needs
 * vocab/classes while they are unbound. Warnings do not make it fail. */
IrModel *sema_compile(Diag *d, const Source *src, const char *const *sets, int nsets);

/* As sema_compile, with options (opts may be NULL: same as sema_compile). */
IrModel *sema_compile_opts(Diag *d, const Source *src, const char *const *sets, int nsets,
                           SemaOptions *opts);

#endif
