#!/bin/sh
# ONNX export (issue 9): every model of models/ and tests/fixtures/onnx (built-ins, a stacked
# bidirectional GRU, a pooled classifier, the reset-before GRU, hard-sigmoid gates, residual,
# layernorm, onehot, and user cells as Scans, one of them reversed) is written by
# `recur convert X.ckpt X.onnx` at opsets 17 and 14; onnx.checker (/usr/bin/python3,
# python3-onnx) accepts every file; onnxruntime (tests/onnx/run_onnx.js, onnxruntime-node)
# runs it at two (T, B) and equals `recur run` within 1e-5. The referees that are missing are
# skipped with the reason printed; `recur inspect` and the errors are always checked.
. "${top_srcdir:-.}/tests/cli/lib.sh"
FIX="$SRC/tests/fixtures/onnx"
RUNNER="$SRC/tests/onnx/run_onnx.js"
have_ort=0; have_checker=0
if command -v node > /dev/null 2>&1 && node "$RUNNER" --probe 2> /dev/null; then have_ort=1
else echo "onnx_export.sh: node or onnxruntime-node missing (npm install onnxruntime-node in tests/onnx): skipping the onnxruntime comparison"; fi
if /usr/bin/python3 -c "import onnx" 2> /dev/null; then have_checker=1
else echo "onnx_export.sh: /usr/bin/python3 has no onnx module (python3-onnx): skipping onnx.checker"; fi

# check_onnx FILE: onnx.checker (full_check: types and shapes inferred) accepts FILE.
check_onnx() {
  [ $have_checker = 1 ] || return 0
  /usr/bin/python3 -c "import onnx, sys; onnx.checker.check_model(onnx.load(sys.argv[1]), full_check=True)" \
    "$1" > "$TMP/chk" 2>&1 || { cat "$TMP/chk" >&2; fail "onnx.checker refuses $1"; }
}

for m in "$SRC"/models/*.rnn "$FIX"/*.rnn; do
  n=$(basename "$m" .rnn)
  run_ok "$RECUR" init "$m" --set vocab=11 --set classes=5 -o "$TMP/$n.ckpt" --seed 5
  w=$(sed -n 's/.*input vector(\([0-9]*\)).*/\1/p' "$m")
  for opset in 17 14; do
    run_ok "$RECUR" convert "$TMP/$n.ckpt" "$TMP/$n.$opset.onnx" --opset $opset
    grep -q "ONNX opset $opset, .* read back and checked" "$TMP/out" || fail "$n: no summary"
    check_onnx "$TMP/$n.$opset.onnx"
    for size in a b; do
      in="$FIX/ids_$size.npy"; [ -n "$w" ] && in="$FIX/v${w}_$size.npy"
      [ $opset = 17 ] && run_ok "$RECUR" run "$TMP/$n.ckpt" --input "$in" --output "$TMP/$n.$size.npy"
      [ $have_ort = 1 ] || continue
      node "$RUNNER" "$TMP/$n.$opset.onnx" "$in" "$TMP/$n.$size.npy" 1e-5 > "$TMP/ort" 2>&1 ||
        { cat "$TMP/ort" >&2; fail "$n (opset $opset, inputs $size): onnxruntime differs from recur run"; }
      grep -q "max |diff|" "$TMP/ort" || fail "$n: the runner compared nothing"
    done
  done
done

# inspect lists inputs (symbolic T and B), outputs, nodes and initializers
run_ok "$RECUR" inspect "$TMP/cells.17.onnx"
for want in "input tokens: int64 \[T, B\]" "output y: float32 \[T, B, 11\]" " Scan(" " OneHot(" \
            "body=(graph of" "initializers: " "mgu1.W_f_t float32 \[11, 4\]" "opset ai.onnx: 17"; do
  grep -q "$want" "$TMP/out" || fail "inspect: no '$want'"
done
run_ok "$RECUR" inspect "$TMP/bigru2.17.onnx"
grep -q 'GRU(.*) -> .* hidden_size=5 direction="bidirectional" activations=\[Sigmoid,Tanh,Sigmoid,Tanh\] linear_before_reset=1' \
  "$TMP/out" || fail "inspect: the GRU node's attributes"
run_ok "$RECUR" inspect "$TMP/gru_rb.17.onnx"
grep -q "linear_before_reset=0" "$TMP/out" || fail "the reset-before GRU is not linear_before_reset=0"
grep -q "activations=\[HardSigmoid,Tanh,Tanh\]" "$TMP/out" || fail "hard-sigmoid LSTM gates"

# bad input and options
run_status 1 "$RECUR" convert "$TMP/charlm.ckpt" "$TMP/x.onnx" --opset 13
grep -q "opset 13 is not supported: recur writes opsets 14 to 17" "$TMP/err" || fail "opset 13"
run_status 1 "$RECUR" convert "$TMP/charlm.ckpt" "$TMP/x.onnx" --opset 1x
grep -q "'1x' is not a number" "$TMP/err" || fail "opset 1x"
run_status 1 "$RECUR" convert "$TMP/charlm.ckpt" "$TMP/x.safetensors" --opset 14
grep -q "applies to an ONNX output" "$TMP/err" || fail "--opset without .onnx"
[ ! -e "$TMP/x.onnx" ] || fail "a refused export left a file"
size=$(wc -c < "$TMP/charlm.17.onnx")
head -c $((size / 2)) "$TMP/charlm.17.onnx" > "$TMP/trunc.onnx"
run_status 1 "$RECUR" inspect "$TMP/trunc.onnx"
grep -q "trunc.onnx: error: not a valid ONNX model: the protobuf message is truncated or corrupted" \
  "$TMP/err" || fail "truncated file"
# user cells come back from their Scans (tests/cli/onnx_import.sh checks the import in full)
run_ok "$RECUR" convert "$TMP/cells.17.onnx" "$TMP/back.ckpt"
run_ok "$RECUR" run "$TMP/back.ckpt" --input "$FIX/ids_b.npy" --output "$TMP/back.npy"
"$BUILD/tests/tensorcmp" --rtol 1e-6 --atol 1e-6 "$TMP/back.npy" "$TMP/cells.b.npy" > "$TMP/cmp" ||
  { cat "$TMP/cmp" >&2; fail "the imported user cells differ"; }
pass
