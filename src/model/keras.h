/* keras: a compiled recur model's weights to and from Keras 2 layers (the raw file layout is
 * io/keras_h5.h). This is where the two parametrisations meet:
 *
 *   Keras                                   recur (PyTorch's names and layout)
 *   Embedding embeddings [V, E]             embedding: weight [V, E]
 *   Dense kernel [in, N], bias [N]          dense: weight [N, in] (transposed), bias [N]
 *   SimpleRNN kernel [in, H],               rnn: weight_ih [H, in], weight_hh [H, H] (transposed),
 *     recurrent_kernel [H, H], bias [H]       bias_ih = bias, bias_hh = 0
 *   LSTM kernel [in, 4H] (i, f, c, o),      lstm: weight_ih [4H, in], weight_hh [4H, H]
 *     recurrent_kernel [H, 4H], bias [4H]     (transposed; i, f, g, o is the same order),
 *                                             bias_ih = bias, bias_hh = 0
 *   GRU kernel [in, 3H] (z, r, h),          gru: weight_ih [3H, in], weight_hh [3H, H]
 *     recurrent_kernel [H, 3H]                (transposed, gate blocks reordered to r, z, n)
 *     reset_after=True: bias [2, 3H]          bias_ih = bias[0], bias_hh = bias[1] (reordered)
 *     reset_after=False: bias [3H]            gru(reset_after=false): bias_ih = bias, bias_hh = 0
 *   recurrent_activation=hard_sigmoid       lstm/gru(recurrent_activation=hard_sigmoid)
 *   Bidirectional(forward_X, backward_X)    bidirectional=true: _l<k> and _l<k>_reverse
 *
 * Writing merges the two recur biases into Keras's one (bias_ih + bias_hh; exact for the
 * function, as both are only ever added). Keras layers with weights are matched, in order, to
 * recur's layers with weights, one Keras layer per level of a stacked recurrent layer; a
 * Keras layer named as a recur layer (LABEL, or LABEL.l<k> for level k; --map renames Keras
 * layers) is pinned to it first. Every Keras weight must land somewhere and every recur tensor
 * must be filled: weights of later layers are never ignored. When the file has a model_config,
 * each layer's class and options (activation, recurrent_activation, reset_after, go_backwards,
 * merge_mode) must agree with the recur layer, or the conversion is refused with the option
 * named; use_bias=False gives zero biases.
 *
 * Ownership: both fill the caller's empty WeightSet and only read m and in. */
#ifndef RECUR_MODEL_KERAS_H
#define RECUR_MODEL_KERAS_H

#include "io/weightset.h"
#include "io/keras_h5.h"
#include "model/model.h"

/* The rows of the mapping table (cli/convert_map.h). keras_import: from a Keras file's
 * WeightSet (io/keras_h5.h's naming) to m's tensors, with how[] for --verbose and notes;
 * keras_export: from m's tensors `in` (model_get_tensors) to a Keras WeightSet, model_config
 * included when the model is a plain stack of layers Keras has. Both leave out empty on
 * failure, with every problem reported. */
int keras_import(const Model *m, const WeightSet *in, WeightSet *out, Diag *d);
int keras_export(const Model *m, const WeightSet *in, WeightSet *out, Diag *d);

#endif
