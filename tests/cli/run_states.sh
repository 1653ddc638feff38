#!/bin/sh
# Issue 9 item 3 against PyTorch 1.13 (tests/fixtures/states/make_states.py), through `recur run`:
# - rev: built-in rnn, lstm and gru with reverse=true (each PyTorch module run on the
#   time-flipped input) give PyTorch's output (1e-5), loss and every gradient (1e-4 relative);
# - st: a 2-layer LSTM and a bidirectional GRU started from PyTorch's h_0/c_0 (--state-in) give
#   PyTorch's output, loss, parameter and initial-state gradients, and final states
#   (--state-out); two runs chained through the state files equal one run; a state file that
#   does not fit the model is refused, naming the tensor, before anything is written;
# - pk: the same model on packed sequences (pack_padded_sequence, lengths [4, 6, 2], --lengths):
#   states held and outputs zero past each length, the reverse GRU starting at each sequence's
#   end, final states after each last step, the loss over the valid steps; bad lengths refused.
. "${top_srcdir:-.}/tests/cli/lib.sh"
FIX="$SRC/tests/fixtures/states"
CMP="$BUILD/tests/tensorcmp"
for c in rev st ch pk; do
  states=""
  [ "$c" != rev ] && states="--state-in $FIX/$c.state.safetensors --state-out $TMP/$c.final.safetensors"
  [ "$c" = pk ] && states="$states --lengths $FIX/pk.lengths.npy"
  run_ok "$RECUR" convert "$FIX/$c.weights.safetensors" "$TMP/$c.ckpt" --model "$FIX/$c.rnn"
  run_ok "$RECUR" run "$TMP/$c.ckpt" --input "$FIX/$c.input.npy" --output "$TMP/$c.out.npy" \
    --target "$FIX/$c.target.npy" --grad-out "$TMP/$c.grads.safetensors" $states
  got=$(sed -n 's/^loss: //p' "$TMP/out")
  want=$(cat "$FIX/$c.loss")
  awk -v g="$got" -v w="$want" 'BEGIN { d = g - w; if (d < 0) d = -d; exit !(d <= 1e-5 * w) }' \
    || fail "$c: loss $got, PyTorch $want"
  "$CMP" --rtol 1e-5 --atol 1e-6 "$TMP/$c.out.npy" "$FIX/$c.output.npy" > "$TMP/cmp" || \
    { cat "$TMP/cmp" >&2; fail "$c: output differs from PyTorch"; }
  "$CMP" --rtol 1e-4 --atol 1e-6 "$TMP/$c.grads.safetensors" "$FIX/$c.grads.safetensors" \
    > "$TMP/cmp" || { cat "$TMP/cmp" >&2; fail "$c: gradients differ from PyTorch"; }
  [ "$c" = rev ] && continue
  "$CMP" --rtol 1e-5 --atol 1e-6 "$TMP/$c.final.safetensors" "$FIX/$c.final.safetensors" \
    > "$TMP/cmp" || { cat "$TMP/cmp" >&2; fail "$c: final states differ from PyTorch"; }
done
# without --state-in the run starts from zeros: a different output
run_ok "$RECUR" run "$TMP/st.ckpt" --input "$FIX/st.input.npy" --output "$TMP/zero.npy"
"$CMP" --rtol 1e-5 --atol 1e-6 "$TMP/zero.npy" "$FIX/st.output.npy" > "$TMP/cmp" && \
  fail "st: the initial states made no difference"

# two runs chained through --state-out / --state-in equal one run over all steps
run_ok "$RECUR" run "$TMP/ch.ckpt" --input "$FIX/ch.input_a.npy" --output "$TMP/a.npy" \
  --state-in "$FIX/ch.state.safetensors" --state-out "$TMP/mid.safetensors"
run_ok "$RECUR" run "$TMP/ch.ckpt" --input "$FIX/ch.input_b.npy" --output "$TMP/b.npy" \
  --state-in "$TMP/mid.safetensors" --state-out "$TMP/end.safetensors"
"$CMP" --rtol 1e-5 --atol 1e-6 "$TMP/b.npy" "$FIX/ch.output_b.npy" > "$TMP/cmp" || \
  { cat "$TMP/cmp" >&2; fail "ch: chained runs differ from one run"; }
"$CMP" --rtol 1e-5 --atol 1e-6 "$TMP/end.safetensors" "$FIX/ch.final.safetensors" > "$TMP/cmp" \
  || { cat "$TMP/cmp" >&2; fail "ch: chained final states differ"; }

# state files that do not fit: refused with the tensor named, no output written
bad() { # bad STATES INPUT MESSAGE
  rm -f "$TMP/never.npy"
  run_status 1 "$RECUR" run "$TMP/st.ckpt" --input "$2" --output "$TMP/never.npy" --state-in "$1"
  grep -qF -- "$3" "$TMP/err" || fail "expected '$3' in the error"
  [ ! -e "$TMP/never.npy" ] || fail "an output was written after a bad --state-in"
}
bad "$FIX/st.state.safetensors" "$FIX/st.input_b2.npy" \
  "st.state.safetensors: error: state tensor 'lstm1.h0' is [2, 3, 5], the model expects [2, 2, 5]"
bad "$FIX/rev.weights.safetensors" "$FIX/st.input.npy" "no state tensor 'lstm1.h0'"
grep -qF "the model's states are lstm1.h0 [2, 3, 5], lstm1.c0 [2, 3, 5], gru1.h0 [2, 3, 3]" \
  "$TMP/err" || fail "the help does not list the model's states"
bad "$FIX/st.grads.safetensors" "$FIX/st.input.npy" \
  "tensor 'lstm1.weight_ih_l0' is not a state of the model"
bad "$TMP/nonexistent.safetensors" "$FIX/st.input.npy" "nonexistent.safetensors"
bad "$FIX/st.input.npy" "$FIX/st.input.npy" "st.input.npy"

# lengths that do not fit: refused, naming the file, nothing written
badlen() { # badlen LENGTHS MESSAGE
  rm -f "$TMP/never.npy"
  run_status 1 "$RECUR" run "$TMP/pk.ckpt" --input "$FIX/pk.input.npy" --output "$TMP/never.npy" \
    --lengths "$1"
  grep -qF -- "$2" "$TMP/err" || fail "expected '$2' in the error"
  [ ! -e "$TMP/never.npy" ] || fail "an output was written after bad --lengths"
}
badlen "$FIX/pk.input.npy" "pk.input.npy: error: lengths must be an int32 or int64 array [B] = [3]"
badlen "$FIX/rev.loss" "rev.loss"
badlen "$SRC/tests/fixtures/npy/i4_v3.npy" "i4_v3.npy"
badlen "$FIX/pk.badlengths.npy" "pk.badlengths.npy: error: length 7 of sequence 1 is outside 1..T = 1..6"
# without --lengths the padded steps are run: the output differs from PyTorch's packed one
run_ok "$RECUR" run "$TMP/pk.ckpt" --input "$FIX/pk.input.npy" --output "$TMP/unpacked.npy" \
  --state-in "$FIX/pk.state.safetensors"
"$CMP" --rtol 1e-5 --atol 1e-6 "$TMP/unpacked.npy" "$FIX/pk.output.npy" > "$TMP/cmp" && \
  fail "pk: --lengths made no difference"
pass
