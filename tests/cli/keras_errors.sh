#!/bin/sh
# Bad Keras input is a clear error (naming the file, layer and dataset), a non-zero exit and
# nothing written: truncated and corrupted .h5, HDF5 that is not Keras, wrong shapes, an
# unknown layer class, more Keras layers than the model has, options that disagree
# (hard_sigmoid, reset_after), and models Keras cannot hold.
. "${top_srcdir:-.}/tests/cli/lib.sh"
FIX="$SRC/tests/fixtures/keras"
# expect_error WHAT PATTERN CMD...: exit 1, PATTERN in stderr, $TMP/o.* not written
expect_error() {
  what=$1; pat=$2; shift 2
  run_status 1 "$@"
  grep -q -- "$pat" "$TMP/err" || fail "$what: stderr lacks '$pat'"
  ls "$TMP"/o.* >/dev/null 2>&1 && fail "$what: an output was written"
  return 0
}
m() { printf 'model m {\n  %s\n}\n' "$1" > "$TMP/m.rnn"; }

head -c 3000 "$FIX/charlm.h5" > "$TMP/trunc.h5"
expect_error truncated "trunc.h5: error: a damaged or truncated HDF5 file" \
  "$RECUR" convert "$TMP/trunc.h5" "$TMP/o.ckpt" --model "$FIX/charlm.rnn"
# corrupted: the superblock's root group address and the object headers overwritten
cp "$FIX/charlm.h5" "$TMP/bad.h5"
printf '\377\377\377\377\377\377\377\377\377\377\377\377\377\377\377\377' | \
  dd of="$TMP/bad.h5" bs=1 seek=40 conv=notrunc 2>/dev/null
expect_error corrupted "bad.h5: error: " "$RECUR" convert "$TMP/bad.h5" "$TMP/o.ckpt" --model "$FIX/charlm.rnn"
# corrupted inside a dataset's metadata: every byte of a stretch of the middle zeroed
cp "$FIX/charlm.h5" "$TMP/bad2.h5"
dd if=/dev/zero of="$TMP/bad2.h5" bs=1 seek=4000 count=3000 conv=notrunc 2>/dev/null
run_status 1 "$RECUR" convert "$TMP/bad2.h5" "$TMP/o.ckpt" --model "$FIX/charlm.rnn"
grep -q "bad2.h5: error: " "$TMP/err" || fail "corrupted middle: no error naming the file"
ls "$TMP"/o.* >/dev/null 2>&1 && fail "corrupted middle: an output was written"
expect_error "not hdf5" "charlm.rnn: error: a model file, not weights" \
  "$RECUR" convert "$FIX/charlm.rnn" "$TMP/o.ckpt" --model "$FIX/charlm.rnn"
expect_error "hdf5, not keras" "not Keras weights (no layer_names attribute" \
  "$RECUR" convert "$FIX/plain.h5" "$TMP/o.ckpt" --model "$FIX/charlm.rnn"

# wrong shapes: named with the Keras layer and dataset and recur's tensor
sed 's/lstm(6/lstm(7/' "$FIX/charlm.rnn" > "$TMP/m.rnn"
expect_error shape "layer 'lstm' dataset 'lstm/lstm_cell/kernel:0' is \[5, 24\], but recur's lstm1.weight_ih_l0 needs \[5, 28\]" \
  "$RECUR" convert "$FIX/charlm.h5" "$TMP/o.ckpt" --model "$TMP/m.rnn"
# the reset-after GRU's [2, 3H] bias into a reset-before model (no model_config to say so)
expect_error "gru bias" "dataset 'bidirectional/forward_gru/gru_cell/bias:0' is \[2, 15\], but recur's gru1.bias_ih_l0 needs \[15\]" \
  "$RECUR" convert "$FIX/bigru_after.h5" "$TMP/o.ckpt" --model "$FIX/bigru_before.rnn"
# model_config says reset_after=False
expect_error "reset_after" "has reset_after=False, but recur's 'gru1' does not" \
  "$RECUR" convert "$FIX/bigru_before.h5" "$TMP/o.ckpt" --model "$FIX/bigru_after.rnn"
grep -q "write reset_after=false" "$TMP/err" || fail "reset_after: no help"
# hard_sigmoid gates are never converted to sigmoid ones, nor the other way round
m "input vector(3)
  lstm(5)
  dense(2)"
expect_error "hard_sigmoid" "uses recurrent_activation=hard_sigmoid, but recur's 'lstm1' does not" \
  "$RECUR" convert "$FIX/lstm_hard.h5" "$TMP/o.ckpt" --model "$TMP/m.rnn"
m "input vector(4)
  gru(5, bidirectional=true, recurrent_activation=hard_sigmoid)
  dense(3)"
expect_error "sigmoid" "uses recurrent_activation=sigmoid" \
  "$RECUR" convert "$FIX/bigru_before.h5" "$TMP/o.ckpt" --model "$TMP/m.rnn"
# an unknown layer class
expect_error "class" "layer 'conv1d': Keras class Conv1D is not supported" \
  "$RECUR" convert "$FIX/bad_class.h5" "$TMP/o.ckpt" --model "$FIX/charlm.rnn"
# more Keras layers with weights than the model has: the later ones are never ignored
m "input tokens(vocab=11)
  embedding(5)
  lstm(6, layers=2)"
expect_error "extra layers" "Keras layer 'dense' (Dense) has weights but the model has no layer with weights left for it" \
  "$RECUR" convert "$FIX/charlm.h5" "$TMP/o.ckpt" --model "$TMP/m.rnn"
# fewer: the model's layer that gets nothing is named
m "input tokens(vocab=11)
  embedding(5)
  lstm(6, layers=3)
  dense(vocab)"
expect_error "missing layers" "gets no weights: the file has 4 Keras layers with weights, the model 5" \
  "$RECUR" convert "$FIX/charlm.h5" "$TMP/o.ckpt" --model "$TMP/m.rnn"
# a class that does not fit the recur layer it is matched with
m "input tokens(vocab=11)
  embedding(5)
  gru(6, layers=2)
  dense(vocab)"
expect_error "kind" "Keras layer 'lstm' (LSTM) is matched to recur's 'gru1.l0', GRU" \
  "$RECUR" convert "$FIX/charlm.h5" "$TMP/o.ckpt" --model "$TMP/m.rnn"
# a one-directional layer where the file has Bidirectional
m "input vector(4)
  gru(5)
  dense(3)"
expect_error "bidi" "is Bidirectional, but recur's 'gru1' does not" \
  "$RECUR" convert "$FIX/bigru_after.h5" "$TMP/o.ckpt" --model "$TMP/m.rnn"

# writing: a user cell has no Keras layer; nothing is written
"$RECUR" init "$SRC/models/peephole.rnn" --set vocab=20 -o "$TMP/peep.ckpt" > /dev/null 2>&1 || \
  fail "init peephole"
expect_error "user cell" "cannot be written as Keras weights" \
  "$RECUR" convert "$TMP/peep.ckpt" "$TMP/o.h5"
# a layer Keras has no counterpart for (layernorm) is refused by name, nothing written
m "input vector(4)
  gru(5)
  layernorm
  dense(3)"
"$RECUR" init "$TMP/m.rnn" -o "$TMP/ln.ckpt" > /dev/null 2>&1 || fail "init layernorm"
expect_error "layernorm" "layer 'layernorm1' is a layer kind with no Keras counterpart here" \
  "$RECUR" convert "$TMP/ln.ckpt" "$TMP/o.h5"
pass
