#!/bin/sh
# Keras 2 .h5 weights run in recur with Keras's results. Fixtures (tests/fixtures/keras,
# made by make_keras.py with h5py in Keras 2's layout, references by numpy from Keras's
# equations): a 2-layer LSTM character model (model.save, with a Dropout), a Bidirectional GRU
# with reset_after=True (save_weights, no model_config) and reset_after=False (the reset-before
# GRU), a SimpleRNN, and a Keras 2.2.4 LSTM with hard_sigmoid gates. For each:
#   .h5 -> ckpt -> `recur run` equals the numpy reference within 1e-5;
#   ckpt -> .h5 -> read back by recur -> `recur run` equals it again, and (when /usr/bin/python3
#   has h5py) h5py reads the written file in Keras's layout and numpy recomputes the outputs.
. "${top_srcdir:-.}/tests/cli/lib.sh"
FIX="$SRC/tests/fixtures/keras"
CMP="$BUILD/tests/tensorcmp"
CONV="$BUILD/tests/keras_conv"
have_h5py=0
if /usr/bin/python3 -c "import h5py, numpy" 2>/dev/null; then have_h5py=1
else echo "keras.sh: /usr/bin/python3 has no h5py: skipping the h5py read-back checks"; fi
for c in charlm bigru_after bigru_before simplernn lstm_hard; do
  run_ok "$CONV" in "$FIX/$c.h5" "$FIX/$c.rnn" "$TMP/$c.ckpt"
  run_ok "$RECUR" run "$TMP/$c.ckpt" --input "$FIX/$c.input.npy" --output "$TMP/$c.out.npy"
  "$CMP" --rtol 1e-5 --atol 1e-5 "$TMP/$c.out.npy" "$FIX/$c.output.npy" > "$TMP/cmp" || \
    { cat "$TMP/cmp" >&2; fail "$c: output differs from the Keras reference"; }
  run_ok "$CONV" out "$TMP/$c.ckpt" "$TMP/$c.h5"
  run_ok "$CONV" in "$TMP/$c.h5" "$FIX/$c.rnn" "$TMP/$c.back.ckpt"
  run_ok "$RECUR" run "$TMP/$c.back.ckpt" --input "$FIX/$c.input.npy" --output "$TMP/$c.back.npy"
  "$CMP" --rtol 1e-5 --atol 1e-5 "$TMP/$c.back.npy" "$FIX/$c.output.npy" > "$TMP/cmp" || \
    { cat "$TMP/cmp" >&2; fail "$c: written .h5 read back gives other outputs"; }
  if [ $have_h5py = 1 ]; then
    /usr/bin/python3 "$FIX/make_keras.py" --check "$TMP/$c.h5" "$FIX/$c.input.npy" \
      "$FIX/$c.output.npy" > "$TMP/out" 2> "$TMP/err" || fail "$c: h5py/numpy read-back differs"
  fi
done
# --verbose names every mapping: the GRU's gate reorder and bias split, the LSTM's bias.
run_ok "$CONV" in "$FIX/bigru_after.h5" "$FIX/bigru_after.rnn" "$TMP/v.ckpt" --verbose
grep -q '^gru1.bias_hh_l0_reverse: from bidirectional/bidirectional/backward_gru/gru_cell/bias:0, row 1' "$TMP/out" \
  || fail "verbose: the recurrent bias row is not named"
grep -q '^gru1.weight_ih_l0: .*transposed, gates z,r,h -> r,z,n' "$TMP/out" \
  || fail "verbose: the gate reorder is not named"
# without model_config, a note says where the recurrent activations come from
grep -q "no model_config" "$TMP/err" || fail "no note about the missing model_config"
pass
