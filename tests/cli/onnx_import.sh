#!/bin/sh
# ONNX import (issue 9): `recur convert IN.onnx OUT.ckpt [--model-out M.rnn]` on
#  - torch.onnx.export's graphs (tests/fixtures/onnx/torch, made by make_torch_onnx.py with
#    PyTorch 1.13) at opsets 9, 14 and 17: an LSTM language model, a bidirectional 2-layer GRU
#    tagger and a batch-first relu RNN; `recur run` equals PyTorch's outputs within 1e-5;
#  - recur's own export of built-in models, which comes back as the same model;
#  - the LSTM/GRU/RNN node tests of libonnx-testdata (when installed, with /usr/bin/python3's
#    onnx to fold their input .pb files into initializers): each imports and matches its
#    expected output (output_0) within 1e-5 -- layout=1 ones included -- or is the listed
#    refusal naming the missing feature (test_lstm_with_peepholes: sequence_lens, P);
#  - bad input: an unsupported op, two chains, a truncated file: the node named, nothing written.
. "${top_srcdir:-.}/tests/cli/lib.sh"
FIX="$SRC/tests/fixtures/onnx"
CMP="$BUILD/tests/tensorcmp"
for n in lstm_lm bigru rnn_relu; do
  for o in 9 14 17; do
    run_ok "$RECUR" convert "$FIX/torch/$n.op$o.onnx" "$TMP/$n.$o.ckpt" --model-out "$TMP/$n.$o.rnn"
    grep -q "read back and checked" "$TMP/out" || fail "$n opset $o: no summary"
    run_ok "$RECUR" run "$TMP/$n.$o.ckpt" --input "$FIX/torch/$n.input.npy" --output "$TMP/$n.$o.npy"
    "$CMP" --rtol 1e-5 --atol 1e-5 "$TMP/$n.$o.npy" "$FIX/torch/$n.output.npy" > "$TMP/cmp" ||
      { cat "$TMP/cmp" >&2; fail "$n opset $o: differs from PyTorch"; }
    run_ok "$RECUR" check "$TMP/$n.$o.rnn"
  done
done
grep -q "L2: gru(5, bidirectional=true)" "$TMP/bigru.9.rnn" || fail "bigru: not a bidirectional gru"
grep -q "L3: gru(5, bidirectional=true)" "$TMP/bigru.9.rnn" || fail "bigru: second layer"
grep -q "L1: rnn(5, activation=relu)" "$TMP/rnn_relu.17.rnn" || fail "rnn_relu: not a relu rnn"
grep -q "input vector(3)" "$TMP/rnn_relu.17.rnn" || fail "rnn_relu: input"

# recur's own export comes back (built-in cells, embedding, dense, softmax)
for m in "$SRC/tests/fixtures/torch_cli/charlm.rnn" "$FIX/bigru2.rnn"; do
  n=$(basename "$m" .rnn)
  run_ok "$RECUR" init "$m" -o "$TMP/own_$n.ckpt" --seed 7
  run_ok "$RECUR" convert "$TMP/own_$n.ckpt" "$TMP/own_$n.onnx"
  run_ok "$RECUR" convert "$TMP/own_$n.onnx" "$TMP/back_$n.ckpt"
  run_ok "$RECUR" run "$TMP/own_$n.ckpt" --input "$FIX/ids_b.npy" --output "$TMP/own_$n.npy"
  run_ok "$RECUR" run "$TMP/back_$n.ckpt" --input "$FIX/ids_b.npy" --output "$TMP/back_$n.npy"
  "$CMP" --rtol 1e-6 --atol 1e-6 "$TMP/back_$n.npy" "$TMP/own_$n.npy" > "$TMP/cmp" ||
    { cat "$TMP/cmp" >&2; fail "$n: the imported export differs"; }
done

# the backend node tests of libonnx-testdata
NODE=/usr/share/libonnx-testdata/data/node
if [ ! -d "$NODE" ]; then
  echo "onnx_import.sh: libonnx-testdata is not installed: skipping the ONNX backend node tests"
elif ! /usr/bin/python3 -c "import onnx, numpy" 2> /dev/null; then
  echo "onnx_import.sh: /usr/bin/python3 has no onnx (python3-onnx): skipping the backend node tests"
else
  for t in "$NODE"/test_lstm_* "$NODE"/test_gru_* "$NODE"/test_rnn_* "$NODE"/test_simple_rnn_*; do
    [ -f "$t/model.onnx" ] || continue
    n=$(basename "$t")
    /usr/bin/python3 "$SRC/tests/onnx/backend_model.py" "$t" "$TMP/$n.onnx" "$TMP/$n.x.npy" \
      "$TMP/$n.y.npy" || fail "$n: backend_model.py failed"
    case $n in
      test_lstm_with_peepholes) refusal="sequence_lens needs per-sequence lengths (issue 9 item 3" ;;
      *) refusal= ;;
    esac
    if [ -n "$refusal" ]; then
      run_status 1 "$RECUR" convert "$TMP/$n.onnx" "$TMP/$n.ckpt"
      grep -qF "$refusal" "$TMP/err" || fail "$n: not refused with '$refusal'"
      [ ! -e "$TMP/$n.ckpt" ] || fail "$n: a refused import left a file"
      echo "onnx_import.sh: $n refused: $refusal"
      continue
    fi
    run_ok "$RECUR" convert "$TMP/$n.onnx" "$TMP/$n.ckpt"
    run_ok "$RECUR" run "$TMP/$n.ckpt" --input "$TMP/$n.x.npy" --output "$TMP/$n.out.npy"
    "$CMP" --rtol 1e-5 --atol 1e-5 "$TMP/$n.out.npy" "$TMP/$n.y.npy" > "$TMP/cmp" ||
      { cat "$TMP/cmp" >&2; fail "$n: differs from the expected output"; }
  done
fi

# bad input: the node named (position, name, op type), non-zero exit, nothing written
run_ok "$RECUR" init "$FIX/rnn_pool.rnn" -o "$TMP/pool.ckpt"
run_ok "$RECUR" convert "$TMP/pool.ckpt" "$TMP/pool.onnx"
run_status 1 "$RECUR" convert "$TMP/pool.onnx" "$TMP/pool_back.ckpt"
grep -q "pool.onnx: error: node 3 'pool1/ReduceMean_[0-9]*' (ReduceMean): op ReduceMean is not supported" "$TMP/err" ||
  grep -q "pool.onnx: error: node 3 'pool1/ReduceMean' (ReduceMean): op ReduceMean is not supported" "$TMP/err" ||
  fail "unsupported op not named"
[ ! -e "$TMP/pool_back.ckpt" ] || fail "a refused import left a file"
run_ok "$RECUR" init "$SRC/models/mgu.rnn" --set vocab=11 -o "$TMP/mgu.ckpt"
run_ok "$RECUR" convert "$TMP/mgu.ckpt" "$TMP/mgu.onnx"
run_status 1 "$RECUR" convert "$TMP/mgu.onnx" "$TMP/mgu_back.ckpt"
grep -q "mgu.onnx: error: node [0-9]* '.*' (MatMul): reads layer L1's output, not the last layer's: a graph of two chains" \
  "$TMP/err" || fail "two chains not reported"
head -c 100 "$FIX/torch/bigru.op17.onnx" > "$TMP/trunc.onnx"
run_status 1 "$RECUR" convert "$TMP/trunc.onnx" "$TMP/trunc.ckpt"
grep -q "trunc.onnx: error: not a valid ONNX model" "$TMP/err" || fail "truncated file"
[ ! -e "$TMP/trunc.ckpt" ] || fail "a truncated input left a file"
run_status 1 "$RECUR" convert "$FIX/torch/bigru.op17.onnx" "$TMP/x.ckpt" --model "$FIX/bigru2.rnn"
grep -q "an ONNX graph holds its model: --model is not used" "$TMP/err" || fail "--model with ONNX"
pass
