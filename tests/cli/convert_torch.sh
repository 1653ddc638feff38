#!/bin/sh
# recur -> .pt -> torch.load -> load_state_dict(strict=True) -> the same outputs as `recur run`
# (1e-5), for the three models of tests/fixtures/torch_cli. Needs /usr/bin/python3 with torch
# (Debian's python3-torch, which CI installs); skipped with the reason printed otherwise.
. "${top_srcdir:-.}/tests/cli/lib.sh"
CLI="$SRC/tests/fixtures/torch_cli"
PY=/usr/bin/python3
if ! [ -x "$PY" ] || ! "$PY" -c "import torch, numpy" 2>/dev/null; then
  echo "SKIP $NAME: $PY cannot import torch and numpy (apt-get install python3-torch)"
  exit 77
fi
for c in charlm gru_cls rnn_reg; do
  run_ok "$RECUR" convert "$CLI/$c.weights.safetensors" "$TMP/$c.ckpt" --model "$CLI/$c.rnn"
  run_ok "$RECUR" run "$TMP/$c.ckpt" --input "$CLI/$c.input.npy" --output "$TMP/$c.out.npy"
  for ext in pt pth; do
    run_ok "$RECUR" convert "$TMP/$c.ckpt" "$TMP/$c.$ext"
    "$PY" "$SRC/tests/fixtures/interchange/check_torch_load.py" "$TMP/$c.$ext" "$c" \
      "$CLI/$c.input.npy" "$TMP/$c.out.npy" > "$TMP/py" 2>&1 ||
      { cat "$TMP/py" >&2; fail "$c.$ext: PyTorch does not load it or gives other outputs"; }
    cat "$TMP/py"
  done
done
pass
