#!/bin/sh
# ONNX export (issue 9): every model of models/ and tests/fixtures/onnx (built-ins, a stacked
# bidirectional GRU, a pooled classifier, the reset-before GRU, hard-sigmoid gates, residual,
# layernorm, onehot, and user cells as Scans, one of them reversed) is written by
# `recur convert X.ckpt X.onnx` at opsets 17 and 14, with and without --states; onnx.checker
# (/usr/bin/python3, python3-onnx) accepts every file; onnxruntime (tests/onnx/run_onnx.js,
# onnxruntime-node) runs it at two (T, B) and equals `recur run` within 1e-5. With --states:
# fed random initial states (the runner's --make-states), onnxruntime's y and final states
# equal `recur run --state-in/--state-out`'s (1e-5); run one step at a time, each step fed the
# last one's final states, it gives the same y and final states (forward models; a reverse or
# bidirectional layer is not steppable, and the test shows stepping it differs). The referees
# that are missing are skipped with the reason printed; `recur inspect` and the errors are
# always checked.
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

# same_states GOT WANT WHAT: the state files agree within 1e-5.
same_states() {
  "$BUILD/tests/tensorcmp" --rtol 0 --atol 1e-5 "$1" "$2" > "$TMP/cmp" ||
    { cat "$TMP/cmp" >&2; fail "$3: final states differ from recur run --state-out"; }
}

# states_check N INPUT SIZE STEPPABLE: --states exports of N against recur run from random
# initial states, whole (opsets 17, 14) and, when STEPPABLE, one step at a time.
states_check() {
  s0="$TMP/$1.$3.s0.safetensors"; s1="$TMP/$1.$3.s1.safetensors"; o="$TMP/$1.$3.o.safetensors"
  node "$RUNNER" --make-states "$TMP/$1.17s.onnx" "$2" 7 "$s0" > "$TMP/ort" 2>&1 ||
    { cat "$TMP/ort" >&2; fail "$1: the runner made no states"; }
  run_ok "$RECUR" run "$TMP/$1.ckpt" --input "$2" --output "$TMP/$1.$3.ys.npy" --state-in "$s0" \
    --state-out "$s1"
  for opset in 17 14; do
    node "$RUNNER" "$TMP/$1.${opset}s.onnx" "$2" "$TMP/$1.$3.ys.npy" 1e-5 --feed "$s0" \
      --states-out "$o" > "$TMP/ort" 2>&1 ||
      { cat "$TMP/ort" >&2; fail "$1 --states (opset $opset, inputs $3): onnxruntime differs"; }
    grep -q "max |diff|" "$TMP/ort" || fail "$1 --states: the runner compared nothing"
    same_states "$o" "$s1" "$1 --states (opset $opset, inputs $3)"
  done
  node "$RUNNER" "$TMP/$1.17s.onnx" "$2" "$TMP/$1.$3.ys.npy" 1e-5 --feed "$s0" --step \
    --states-out "$o" > "$TMP/ort" 2>&1
  st=$?
  if [ "$4" = 1 ]; then
    [ $st = 0 ] || { cat "$TMP/ort" >&2; fail "$1 (inputs $3): stepping differs from the whole run"; }
    same_states "$o" "$s1" "$1 stepped (inputs $3)"
  elif [ $st = 0 ] && "$BUILD/tests/tensorcmp" --rtol 0 --atol 1e-5 "$o" "$s1" > /dev/null; then
    fail "$1: stepping a reverse layer gave the whole run's results"
  fi
}

for m in "$SRC"/models/*.rnn "$FIX"/*.rnn; do
  n=$(basename "$m" .rnn)
  run_ok "$RECUR" init "$m" --set vocab=11 --set classes=5 -o "$TMP/$n.ckpt" --seed 5
  w=$(sed -n 's/.*input vector(\([0-9]*\)).*/\1/p' "$m")
  steppable=1; grep -q "bidirectional=true\|reverse=true" "$m" && steppable=0
  for opset in 17 14; do
    run_ok "$RECUR" convert "$TMP/$n.ckpt" "$TMP/$n.$opset.onnx" --opset $opset
    grep -q "ONNX opset $opset, .* 1 inputs, 1 outputs, read back and checked" "$TMP/out" ||
      fail "$n: no summary, or more than x/tokens and y without --states"
    check_onnx "$TMP/$n.$opset.onnx"
    run_ok "$RECUR" convert "$TMP/$n.ckpt" "$TMP/$n.${opset}s.onnx" --opset $opset --states
    check_onnx "$TMP/$n.${opset}s.onnx"
    for size in a b; do
      in="$FIX/ids_$size.npy"; [ -n "$w" ] && in="$FIX/v${w}_$size.npy"
      [ $opset = 17 ] && run_ok "$RECUR" run "$TMP/$n.ckpt" --input "$in" --output "$TMP/$n.$size.npy"
      [ $have_ort = 1 ] || continue
      node "$RUNNER" "$TMP/$n.$opset.onnx" "$in" "$TMP/$n.$size.npy" 1e-5 > "$TMP/ort" 2>&1 ||
        { cat "$TMP/ort" >&2; fail "$n (opset $opset, inputs $size): onnxruntime differs from recur run"; }
      grep -q "max |diff|" "$TMP/ort" || fail "$n: the runner compared nothing"
    done
  done
  [ $have_ort = 1 ] || continue
  for size in a b; do
    in="$FIX/ids_$size.npy"; [ -n "$w" ] && in="$FIX/v${w}_$size.npy"
    states_check "$n" "$in" "$size" $steppable
  done
done

# inspect lists inputs (symbolic T and B), outputs, nodes and initializers
run_ok "$RECUR" inspect "$TMP/cells.17.onnx"
for want in "input tokens: int64 \[T, B\]" "output y: float32 \[T, B, 11\]" " Scan(" " OneHot(" \
            "body=(graph of" "initializers: " "mgu1.W_f_t float32 \[11, 4\]" "opset ai.onnx: 17"; do
  grep -q "$want" "$TMP/out" || fail "inspect: no '$want'"
done
# the README's stepping example (its ```js block) generates tokens one step at a time from
# charlm --states; recur run on the whole sequence [0, tokens...] predicts the same tokens
if [ $have_ort = 1 ]; then
  awk '/^```js$/ { on = 1; next } /^```$/ { on = 0 } on' "$SRC/README.md" > "$TMP/step.js"
  NODE_PATH="${RECUR_ORT_DIR:+$RECUR_ORT_DIR:}$SRC/tests/onnx/node_modules" \
    node "$TMP/step.js" "$TMP/charlm.17s.onnx" 12 > "$TMP/gen" 2>&1 ||
    { cat "$TMP/gen" >&2; fail "the README's stepping example does not run"; }
  /usr/bin/python3 -c "import numpy as np, sys; t = [int(v) for v in open(sys.argv[1]).read().split()]
assert len(t) == 12, t; np.save(sys.argv[2], np.array([[0]] + [[v] for v in t[:-1]], np.int32))" \
    "$TMP/gen" "$TMP/gen_in.npy" || fail "the stepping example printed $(cat "$TMP/gen")"
  run_ok "$RECUR" run "$TMP/charlm.ckpt" --input "$TMP/gen_in.npy" --output "$TMP/gen_y.npy"
  /usr/bin/python3 -c "import numpy as np, sys; t = [int(v) for v in open(sys.argv[1]).read().split()]
p = np.load(sys.argv[2])[:, 0].argmax(-1).tolist(); sys.exit(p != t)" "$TMP/gen" "$TMP/gen_y.npy" ||
    fail "the stepping example's tokens $(cat "$TMP/gen") are not recur run's whole-sequence argmax"
fi

# --write: every output of the --states graph, under its ONNX name (y equals recur run's)
if [ $have_ort = 1 ]; then
  node "$RUNNER" "$TMP/cells.17s.onnx" "$FIX/ids_b.npy" - --feed "$TMP/cells.b.s0.safetensors" \
    --write "$TMP/all.safetensors" > "$TMP/ort" 2>&1 || { cat "$TMP/ort" >&2; fail "--write"; }
  /usr/bin/python3 - "$TMP/all.safetensors" "$TMP/cells.b.ys.npy" <<'PY' || fail "--write: the outputs"
import json, struct, sys, numpy as np
b = open(sys.argv[1], "rb").read(); n = struct.unpack("<Q", b[:8])[0]; h = json.loads(b[8:8 + n])
assert list(h) == ["y", "final.mgu1.h0", "final.mgu2.h0", "final.odd1.h0", "final.odd1.c0"], list(h)
s, e = h["y"]["data_offsets"]
y = np.frombuffer(b[8 + n + s:8 + n + e], np.float32).reshape(h["y"]["shape"])
assert np.abs(y - np.load(sys.argv[2])).max() <= 1e-5
PY
fi

# with --states: the state inputs and final-state outputs, named as recur run's state tensors
run_ok "$RECUR" inspect "$TMP/cells.17s.onnx"
for want in "input tokens: int64 \[T, B\]" "input mgu1.h0: float32 \[2, B, 4\]" \
            "input odd1.c0: float32 \[1, B, 3\]" "output y: float32 \[T, B, 11\]" \
            "output final.mgu2.h0: float32 \[1, B, 4\]" "output final.odd1.c0: float32 \[1, B, 3\]"; do
  grep -q "$want" "$TMP/out" || fail "inspect --states: no '$want'"
done
run_ok "$RECUR" inspect "$TMP/bigru2.17s.onnx"
grep -q "GRU(embedding1/Gather_[0-9]*:0, gru1.W_l0, gru1.R_l0, gru1.B_l0, , gru1/Gather_[0-9]*:0) -> .*:0, .*:1 " "$TMP/out" ||
  fail "inspect: the GRU node of --states does not read its initial_h rows"
grep -q "output final.gru1.h0: float32 \[4, B, 5\]" "$TMP/out" || fail "inspect: bigru2's final states"
# the export list of issue 9: one node per stacked level, direction, no dropout (charlm has
# dropout between its levels, gru_classifier a dropout layer), every opset 14..17
[ "$(grep -c ' GRU(' "$TMP/out")" = 2 ] || fail "bigru2: not one GRU node per stacked layer"
run_ok "$RECUR" inspect "$TMP/acts.17.onnx"
[ "$(grep -c ' LSTM(.*direction="reverse"' "$TMP/out")" = 2 ] || fail "acts: the reverse stacked LSTM"
grep -q ' GRU(.*direction="reverse"' "$TMP/out" || fail "acts: the reverse GRU"
grep -q ' Concat(acts1.l0/Scan:1, gru1/Reshape_[0-9]*:0) .* axis=-1' "$TMP/out" || fail "acts: concat"
for n in charlm gru_classifier; do
  run_ok "$RECUR" inspect "$TMP/$n.17.onnx"
  grep -q "Dropout" "$TMP/out" && fail "$n: dropout exported"
  grep -q " Gather(tokens\| Gather(embedding1.weight, tokens\| LSTM(x\| GRU(x" "$TMP/out" ||
    fail "$n: the input does not go to Gather / the recurrent node"
done
for opset in 15 16; do
  run_ok "$RECUR" convert "$TMP/acts.ckpt" "$TMP/acts.$opset.onnx" --opset $opset --states
  grep -q "ONNX opset $opset, " "$TMP/out" || fail "opset $opset"
  check_onnx "$TMP/acts.$opset.onnx"
  [ $have_ort = 1 ] || continue
  node "$RUNNER" "$TMP/acts.$opset.onnx" "$FIX/v2_b.npy" "$TMP/acts.b.ys.npy" 1e-5 \
    --feed "$TMP/acts.b.s0.safetensors" > "$TMP/ort" 2>&1 ||
    { cat "$TMP/ort" >&2; fail "acts (opset $opset): onnxruntime differs from recur run"; }
done
# a user cell's ONNX activations keep their constants: attributes, or Clip's min/max inputs
if [ $have_checker = 1 ]; then
  /usr/bin/python3 - "$TMP/acts.17.onnx" > "$TMP/acts.ops" <<'PY' || fail "acts: reading the Scan body"
import onnx, sys
for n in onnx.load(sys.argv[1]).graph.node:
    for a in n.attribute:
        for b in ([a.g] if a.name == "body" else []):
            for m in b.node:
                at = " ".join("%s=%g" % (x.name, x.f) for x in m.attribute)
                print(m.op_type, len(m.input), at)
PY
  for want in "HardSigmoid 1 alpha=0.3 beta=0.4" "LeakyRelu 1 alpha=0.1" "Elu 1 alpha=0.7" \
              "ThresholdedRelu 1 alpha=0.2" "Clip 3 $" "Softsign 1 $"; do
    grep -q "^$want" "$TMP/acts.ops" || { cat "$TMP/acts.ops" >&2; fail "acts: no '$want' in the Scan body"; }
  done
fi
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
run_status 2 "$RECUR" convert "$TMP/charlm.ckpt" "$TMP/x.safetensors" --states
grep -q "\-\-states applies to an ONNX output" "$TMP/err" || fail "--states without .onnx"
[ ! -e "$TMP/x.safetensors" ] || fail "a refused --states left a file"
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
