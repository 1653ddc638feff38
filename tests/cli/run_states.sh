#!/bin/sh
# Issue 9 item 3 against PyTorch 1.13 (tests/fixtures/states/make_states.py): built-in rnn, lstm
# and gru with reverse=true (each PyTorch module run on the time-flipped input) give PyTorch's
# output (1e-5), loss and every gradient (1e-4 relative) through `recur run`.
. "${top_srcdir:-.}/tests/cli/lib.sh"
FIX="$SRC/tests/fixtures/states"
CMP="$BUILD/tests/tensorcmp"
for c in rev; do
  run_ok "$RECUR" convert "$FIX/$c.weights.safetensors" "$TMP/$c.ckpt" --model "$FIX/$c.rnn"
  run_ok "$RECUR" run "$TMP/$c.ckpt" --input "$FIX/$c.input.npy" --output "$TMP/$c.out.npy" \
    --target "$FIX/$c.target.npy" --grad-out "$TMP/$c.grads.safetensors"
  got=$(sed -n 's/^loss: //p' "$TMP/out")
  want=$(cat "$FIX/$c.loss")
  awk -v g="$got" -v w="$want" 'BEGIN { d = g - w; if (d < 0) d = -d; exit !(d <= 1e-5 * w) }' \
    || fail "$c: loss $got, PyTorch $want"
  "$CMP" --rtol 1e-5 --atol 1e-6 "$TMP/$c.out.npy" "$FIX/$c.output.npy" > "$TMP/cmp" || \
    { cat "$TMP/cmp" >&2; fail "$c: output differs from PyTorch"; }
  "$CMP" --rtol 1e-4 --atol 1e-6 "$TMP/$c.grads.safetensors" "$FIX/$c.grads.safetensors" \
    > "$TMP/cmp" || { cat "$TMP/cmp" >&2; fail "$c: gradients differ from PyTorch"; }
done
pass
