#!/bin/sh
# PyTorch's own weights run in recur with PyTorch's results. For three models made with PyTorch
# 1.13 (tests/fixtures/torch_cli/make_torch_cli.py): safetensors weights -> `recur convert` ->
# `recur run` with a target gives PyTorch's output (1e-5), loss and every gradient (1e-4
# relative); converting back gives the same tensors bit for bit.
. "${top_srcdir:-.}/tests/cli/lib.sh"
FIX="$SRC/tests/fixtures/torch_cli"
CMP="$BUILD/tests/tensorcmp"
for c in charlm gru_cls rnn_reg; do
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
  run_ok "$RECUR" convert "$TMP/$c.ckpt" "$TMP/$c.back.safetensors"
  "$CMP" --exact "$TMP/$c.back.safetensors" "$FIX/$c.weights.safetensors" > "$TMP/cmp" || \
    { cat "$TMP/cmp" >&2; fail "$c: round trip is not bit-identical"; }
done
pass
