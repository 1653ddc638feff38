/* convert_map: the mappings between a file's own tensor names and layouts and a compiled
 * model's tensors, for the weight formats whose row in src/io/format.c sets needs_model.
 *
 * io (floor 3) reads and writes files as they name their tensors; this table (floor 7, it knows
 * the Model) turns them into recur's tensors and back. A format without a row here names its
 * tensors as recur does (recur's names are PyTorch's state_dict names), so `recur convert` only
 * applies --map renames to it.
 *
 * How a format plugs in (Keras, issue 8 items 4-5): a row {WF_<ID>, import, export} in
 * convert_maps[] (convert_map.c), the functions in their own src/cli/convert_<format>.c.
 *   import: from the file's tensors `in` (names and layouts as read) to `out`, named and shaped
 *           as m's tensors (m->ir->tensors, layers with labels, kinds, widths and roles), with
 *           wf_set_how(out, i, "from lstm/lstm_cell/kernel:0; transposed; gates i,f,c,o ->
 *           i,f,g,o") for --verbose (which prints it after the recur name);
 *   export: from m's tensors `in` (model_get_tensors order) to the file's names and layout.
 * Both report mismatches through d naming the layer label to write in the model file
 * ("label the layer `rnn: lstm(32)`"), and leave out empty on failure.
 *
 * Ownership: the functions fill the caller's empty WeightSet `out`; they only read m and in. */
#ifndef RECUR_CLI_CONVERT_MAP_H
#define RECUR_CLI_CONVERT_MAP_H

#include "io/format.h"
#include "model/model.h"
#include "util/diag.h"

typedef struct ConvertMap {
    WfId format;
    int (*import)(const Model *m, const WeightSet *in, WeightSet *out, Diag *d);
    int (*export)(const Model *m, const WeightSet *in, WeightSet *out, Diag *d);
} ConvertMap;

/* The row for a format, or NULL when the file names tensors as recur does. */
const ConvertMap *convert_map_for(WfId id);

#endif
