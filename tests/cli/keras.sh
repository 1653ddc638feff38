#!/bin/sh
# Keras 2 .h5 weights run in recur with Keras's results. Fixtures (tests/fixtures/keras,
# made by make_keras.py with h5py in Keras 2's layout, references by numpy from Keras's
# equations): a 2-layer LSTM character model (model.save, with a Dropout), a Bidirectional GRU
# with reset_after=True (save_weights, no model_config) and reset_after=False (the reset-before
# GRU), a SimpleRNN, and a Keras 2.2.4 LSTM with hard_sigmoid gates. For each:
#   .h5 -> ckpt -> `recur run` equals the numpy reference within 1e-5;
#   ckpt -> .h5 -> read back by recur -> `recur run` equals it again, and (when /usr/bin/python3
#   has h5py) h5py reads the written file in Keras's layout and numpy recomputes the outputs.
# All through `recur convert` (which reads every file it writes back and compares it).
. "${top_srcdir:-.}/tests/cli/lib.sh"
FIX="$SRC/tests/fixtures/keras"
CMP="$BUILD/tests/tensorcmp"
have_h5py=0
if /usr/bin/python3 -c "import h5py, numpy" 2>/dev/null; then have_h5py=1
else echo "keras.sh: /usr/bin/python3 has no h5py: skipping the h5py read-back checks"; fi
for c in charlm bigru_after bigru_before simplernn lstm_hard; do
  run_ok "$RECUR" convert "$FIX/$c.h5" "$TMP/$c.ckpt" --model "$FIX/$c.rnn"
  run_ok "$RECUR" run "$TMP/$c.ckpt" --input "$FIX/$c.input.npy" --output "$TMP/$c.out.npy"
  "$CMP" --rtol 1e-5 --atol 1e-5 "$TMP/$c.out.npy" "$FIX/$c.output.npy" > "$TMP/cmp" || \
    { cat "$TMP/cmp" >&2; fail "$c: output differs from the Keras reference"; }
  run_ok "$RECUR" convert "$TMP/$c.ckpt" "$TMP/$c.h5"
  run_ok "$RECUR" convert "$TMP/$c.h5" "$TMP/$c.back.ckpt" --model "$FIX/$c.rnn"
  run_ok "$RECUR" run "$TMP/$c.back.ckpt" --input "$FIX/$c.input.npy" --output "$TMP/$c.back.npy"
  "$CMP" --rtol 1e-5 --atol 1e-5 "$TMP/$c.back.npy" "$FIX/$c.output.npy" > "$TMP/cmp" || \
    { cat "$TMP/cmp" >&2; fail "$c: written .h5 read back gives other outputs"; }
  if [ $have_h5py = 1 ]; then
    /usr/bin/python3 "$FIX/make_keras.py" --check "$TMP/$c.h5" "$FIX/$c.input.npy" \
      "$FIX/$c.output.npy" > "$TMP/out" 2> "$TMP/err" || fail "$c: h5py/numpy read-back differs"
  fi
done
# --verbose names every mapping: the GRU's gate reorder and bias split, the LSTM's bias.
run_ok "$RECUR" convert "$FIX/bigru_after.h5" "$TMP/v.ckpt" --model "$FIX/bigru_after.rnn" --verbose
cp "$TMP/out" "$TMP/verbose"
grep -q "^  gru1.bias_hh_l0_reverse \[15\] (from bidirectional/bidirectional/backward_gru/gru_cell/bias:0, row 1" "$TMP/out" \
  || fail "verbose: the recurrent bias row is not named"
grep -q "^  gru1.weight_ih_l0 \[15, 4\] (from .*transposed, gates z,r,h -> r,z,n" "$TMP/out" \
  || fail "verbose: the gate reorder is not named"
# Keras's other spellings of the same weights (chunked layer_names0/1, variable-length UTF-8
# strings, float64 datasets, a weightless layer) read the same
run_ok "$RECUR" convert "$FIX/simplernn_variant.h5" "$TMP/sv.ckpt" --model "$FIX/simplernn.rnn"
run_ok "$RECUR" run "$TMP/sv.ckpt" --input "$FIX/simplernn.input.npy" --output "$TMP/sv.npy"
"$CMP" --rtol 1e-5 --atol 1e-5 "$TMP/sv.npy" "$FIX/simplernn.output.npy" > "$TMP/cmp" || \
  { cat "$TMP/cmp" >&2; fail "simplernn_variant: output differs"; }
# --map renames Keras layers; one named as a recur label (or label.l<k>) is pinned to it
printf 'model charlm {\n  input tokens(vocab=11)\n  embedding(5)\n  a: lstm(6)\n  b: lstm(6)\n  dense(vocab)\n}\n' > "$TMP/ab.rnn"
run_ok "$RECUR" convert "$FIX/charlm.h5" "$TMP/ab.ckpt" --model "$TMP/ab.rnn" --map lstm_1/=b/
run_ok "$RECUR" run "$TMP/ab.ckpt" --input "$FIX/charlm.input.npy" --output "$TMP/ab.npy"
"$CMP" --rtol 1e-5 --atol 1e-5 "$TMP/ab.npy" "$FIX/charlm.output.npy" > "$TMP/cmp" || \
  { cat "$TMP/cmp" >&2; fail "--map: output differs"; }
run_ok "$RECUR" convert "$FIX/charlm.h5" "$TMP/l1.ckpt" --model "$FIX/charlm.rnn" --map lstm_1/=lstm1.l1/
run_status 1 "$RECUR" convert "$FIX/charlm.h5" "$TMP/ba.ckpt" --model "$TMP/ab.rnn" --map lstm_1/=a/
grep -q "layer 'lstm' dataset 'lstm/lstm_cell/kernel:0' is \[5, 24\], but recur's b.weight_ih_l0 needs \[6, 24\]" "$TMP/err" \
  || fail "--map: a pinned layer is not where it was put"
# a model Keras cannot describe layer by layer (pool(last)) is written without model_config
printf 'model p {\n  input vector(4)\n  gru(5)\n  pool(last)\n  dense(3)\n}\n' > "$TMP/p.rnn"
run_ok "$RECUR" init "$TMP/p.rnn" -o "$TMP/p.ckpt"
run_ok "$RECUR" convert "$TMP/p.ckpt" "$TMP/p.h5"
grep -q "^note: no model_config written (a layer has no Keras counterpart)" "$TMP/out" || \
  fail "pool(last): no note about the missing model_config"
run_ok "$RECUR" convert "$TMP/p.h5" "$TMP/p2.ckpt" --model "$TMP/p.rnn"
# recur inspect reads .h5 and says what it is
run_ok "$RECUR" inspect "$FIX/charlm.h5"
grep -q "^format: Keras .h5" "$TMP/out" || fail "inspect: no format line"
grep -q "^lstm_1/lstm_1/lstm_cell/recurrent_kernel:0 *\[6, 24\]" "$TMP/out" || fail "inspect: tensors"
# without model_config, a note says where the recurrent activations come from
grep -q "^note: the file has no model_config" "$TMP/verbose" || fail "no note about the missing model_config"
pass
