/* settings: the data and train blocks of an IrModel, as sema typed them (IrModel.config, from
 * the one schema of ir/schema.h), turned into the configuration of a run, with the
 * command-line overrides (--data, --steps, --epochs, --seed) applied.
 *
 * Defaults when a setting is absent (given by the schema): optimizer adam() (PyTorch
 * defaults), schedule constant, clip 0 (off), batch 32, bptt 100, steps 1000, seed 42,
 * eval_every 100 (0: never), checkpoint_every 500 (0: only at the end), log_every 10, valid
 * 0.05 (generated tasks: a fixed set of 1000 sequences, rounded up to whole batches), loss from
 * the data (next-token / label cross-entropy, or MSE for values), lr (the optimizer's lr when
 * given: `--set lr=0.01`), patience 0 (off: early stopping after that many evaluations without
 * a validation loss below best - min_delta), min_delta 0.
 *
 * csv(...) arguments as sema accepts them: csv(PATH, target=label|values|K, columns=F,
 * header=true|false, delimiter=",", label=first): target=label (default) is a class label in
 * the first column, target=values one regression target, target=K the first K columns;
 * columns=F values per step (default: the width of the model's `input vector(F)`). The label
 * is always the first column (label=NAME only names it). A relative data path that does not
 * exist from the working directory is looked up next to the model file.
 *
 * valid = text(PATH, ...) / csv(PATH, ...) names a separate validation file (DataConfig.
 * valid_path), of the same kind and read with the same options as the training source (a csv
 * header setting of its own is allowed); a generated training source cannot have one.
 *
 * Ownership: TrainSettings borrows strings from the IrModel and the options (data.path); it
 * owns nothing. */
#ifndef RECUR_TRAIN_SETTINGS_H
#define RECUR_TRAIN_SETTINGS_H

#include <stdbool.h>
#include <stdint.h>

#include "exec/exec.h"
#include "ir/ir.h"
#include "util/diag.h"
#include "train/data.h"
#include "train/optim.h"

typedef struct TrainSettings {
    DataConfig data;
    OptimConfig optim;
    ScheduleConfig sched;
    bool loss_given;        /* loss written in the file; else derived from the data */
    ExecLossKind loss;
    double clip;            /* global gradient-norm threshold; 0 = off */
    int64_t steps;          /* total optimiser updates (epochs converted by the trainer) */
    int64_t epochs;         /* > 0 when given instead of steps */
    int64_t eval_every, checkpoint_every, log_every;
    uint64_t seed;
    int64_t patience;       /* early stopping: evaluations without improvement (0: off) */
    double min_delta;       /* the improvement that counts */
} TrainSettings;

/* Fills s from m->config, then applies the overrides: data_path (a .csv suffix selects
 * csv(), anything else text(); a generated source is replaced), steps/epochs (> 0 to
 * override), seed (when has_seed). -1 with a located diagnostic on a value src/train cannot
 * use (e.g. a validation source of another kind than the training source). */
int train_settings(const IrModel *m, const char *data_path, int64_t steps, int64_t epochs,
                   bool has_seed, uint64_t seed, TrainSettings *s, Diag *d);

#endif
