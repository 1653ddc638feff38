#!/bin/sh
# ONNX import (issue 9): `recur convert IN.onnx OUT.ckpt [--model-out M.rnn]` on
#  - torch.onnx.export's graphs (tests/fixtures/onnx/torch, made by make_torch_onnx.py with
#    PyTorch 1.13) at opsets 9, 14 and 17: an LSTM language model, a bidirectional 2-layer GRU
#    tagger and a batch-first relu RNN; `recur run` equals PyTorch's outputs within 1e-5, and
#    the layers keep torch's module names as labels (emb, rnn, rnn_2, out);
#  - recur's own export of built-in models (with pool, concat, residual, layernorm), which
#    comes back as the same model with the same labels;
#  - single LSTM/GRU/RNN nodes with what the built-ins do not take (tests/fixtures/onnx/nodes,
#    made by make_nodes.py with onnxruntime's outputs): peepholes, clip, input_forget,
#    direction=reverse, other activations, linear_before_reset=0, with sequence_lens and
#    initial_h/initial_c as graph inputs fed by `recur run --lengths/--state-in`: the output
#    equals onnxruntime's y and `--state-out` its Y_h/Y_c within 1e-5 (re-run live through
#    tests/onnx/run_feeds.js when onnxruntime-node is installed); built-ins where they fit,
#    cells of ONNX's equations where not;
#  - every LSTM/GRU/RNN node test of libonnx-testdata (when installed, with /usr/bin/python3's
#    onnx: tests/onnx/backend_model.py folds the weights and writes the run options): output_0
#    and the Y_h/Y_c outputs match within 1e-5, layout=1, peepholes and sequence_lens included;
#  - bad input: an unsupported op, activations a bidirectional layer cannot share, a constant
#    initial state, two chains, a Scan that is not recur's, a truncated file: the node named,
#    nothing written.
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
grep -q "^  emb: embedding(4)$" "$TMP/bigru.9.rnn" || fail "bigru: no embedding labelled emb"
grep -q "^  rnn: gru(5, bidirectional=true)$" "$TMP/bigru.9.rnn" || fail "bigru: not a bidirectional gru"
grep -q "^  rnn_2: gru(5, bidirectional=true)$" "$TMP/bigru.9.rnn" || fail "bigru: second layer"
grep -q "^  out: dense(3)$" "$TMP/bigru.9.rnn" || fail "bigru: no dense labelled out"
grep -q "^  rnn: rnn(5, activation=relu)$" "$TMP/rnn_relu.17.rnn" || fail "rnn_relu: not a relu rnn"
grep -q "input vector(3)" "$TMP/rnn_relu.17.rnn" || fail "rnn_relu: input"

# recur's own export comes back (built-in cells, embedding, dense, softmax, pool, residual as
# add, concat, layernorm, user cells from their Scans: bidirectional, stacked, reversed) as the
# same model: the same labels, the same outputs
for m in "$SRC/tests/fixtures/torch_cli/charlm.rnn" "$FIX/bigru2.rnn" "$FIX/rnn_pool.rnn" \
         "$FIX/gru_rb.rnn" "$SRC/models/tagger.rnn" "$SRC/models/gru_classifier.rnn" \
         "$FIX/cells.rnn" "$SRC/models/mgu.rnn" "$SRC/models/peephole.rnn"; do
  n=$(basename "$m" .rnn)
  in="$FIX/ids_b.npy"
  w=$(sed -n 's/.*input vector(\([0-9]*\)).*/\1/p' "$m")
  [ -n "$w" ] && in="$FIX/v${w}_b.npy"
  run_ok "$RECUR" init "$m" --set vocab=11 --set classes=5 -o "$TMP/own_$n.ckpt" --seed 7
  run_ok "$RECUR" convert "$TMP/own_$n.ckpt" "$TMP/own_$n.onnx"
  run_ok "$RECUR" convert "$TMP/own_$n.onnx" "$TMP/back_$n.ckpt" --model-out "$TMP/back_$n.rnn"
  run_ok "$RECUR" run "$TMP/own_$n.ckpt" --input "$in" --output "$TMP/own_$n.npy"
  run_ok "$RECUR" run "$TMP/back_$n.ckpt" --input "$in" --output "$TMP/back_$n.npy"
  "$CMP" --rtol 1e-6 --atol 1e-6 "$TMP/back_$n.npy" "$TMP/own_$n.npy" > "$TMP/cmp" ||
    { cat "$TMP/cmp" >&2; fail "$n: the imported export differs"; }
done
for l in "gru1: gru(5, reset_after=false)" "lstm1: lstm(4, recurrent_activation=hard_sigmoid)" \
         "residual1: add(lstm1, dense1)" "layernorm1: layernorm" "pool1: pool(max)"; do
  grep -qF "  $l" "$TMP/back_gru_rb.rnn" || fail "gru_rb: no '$l' in the imported model"
done
grep -qF "  concat1: concat(bilstm, embed)" "$TMP/back_tagger.rnn" || fail "tagger: no concat"
grep -qF "  pool1: pool(mean)" "$TMP/back_rnn_pool.rnn" || fail "rnn_pool: no mean pool"
for l in "  mgu1: mgu1_cell(bidirectional=true)" "  mgu2: mgu2_cell()" "  odd1: odd1_cell(reverse=true)" \
         "  add1: add(odd1, odd1)" "  state h : [3], c : [3]" "  v1_0, v1_1 = chunk(v1, 2)" \
         "  v1 = sigmoid(W_f @ x + U_f @ h[t-1] + b_f)" \
         "  v2 = (1 - v1) * h[t-1] + v1 * tanh(W_n @ x + U_n @ (v1 * h[t-1]) + b_n)"; do
  grep -qF -- "$l" "$TMP/back_cells.rnn" || fail "cells: no '$l' in the imported model"
done
run_ok "$RECUR" check "$TMP/back_cells.rnn"
! grep -q warning "$TMP/err" || fail "cells: the imported model has warnings"

# recur's own --states export comes back with its state inputs and outputs as `recur run
# --state-in/--state-out` notes under recur's tensor names (stacked built-in levels merged
# back into one layer, so that the names and shapes are the original's): a state file made by
# running the original on one input, fed to both on another, gives the same outputs and final
# states (1e-6)
for m in "$SRC/tests/fixtures/torch_cli/charlm.rnn" "$FIX/bigru2.rnn" "$FIX/cells.rnn" \
         "$FIX/rnn_pool.rnn"; do
  n=$(basename "$m" .rnn)
  in="$FIX/ids_b.npy"
  w=$(sed -n 's/.*input vector(\([0-9]*\)).*/\1/p' "$m")
  [ -n "$w" ] && in="$FIX/v${w}_b.npy"
  /usr/bin/python3 -c "import numpy as np, sys; np.save(sys.argv[2], np.load(sys.argv[1])[::-1][:4].copy())" \
    "$in" "$TMP/st_first_$n.npy" || fail "$n: cannot make the first input"
  run_ok "$RECUR" init "$m" --set vocab=11 --set classes=5 -o "$TMP/st_$n.ckpt" --seed 3
  run_ok "$RECUR" convert "$TMP/st_$n.ckpt" "$TMP/st_$n.onnx" --states
  run_ok "$RECUR" convert "$TMP/st_$n.onnx" "$TMP/stback_$n.ckpt" --model-out "$TMP/stback_$n.rnn"
  run_ok "$RECUR" run "$TMP/st_$n.ckpt" --input "$TMP/st_first_$n.npy" --output "$TMP/st0_$n.npy" \
    --state-out "$TMP/st_$n.s.safetensors"
  for k in st stback; do
    run_ok "$RECUR" run "$TMP/${k}_$n.ckpt" --input "$in" --output "$TMP/${k}_$n.y.npy" \
      --state-in "$TMP/st_$n.s.safetensors" --state-out "$TMP/${k}_$n.s2.safetensors"
  done
  "$CMP" --rtol 1e-6 --atol 1e-6 "$TMP/stback_$n.y.npy" "$TMP/st_$n.y.npy" > "$TMP/cmp" ||
    { cat "$TMP/cmp" >&2; fail "$n --states: the imported model's output differs"; }
  "$CMP" --rtol 1e-6 --atol 1e-6 "$TMP/stback_$n.s2.safetensors" "$TMP/st_$n.s2.safetensors" \
    > "$TMP/cmp" || { cat "$TMP/cmp" >&2; fail "$n --states: the imported model's final states differ"; }
  # the initial states matter: from zeros the output is another
  run_ok "$RECUR" run "$TMP/stback_$n.ckpt" --input "$in" --output "$TMP/stzero_$n.npy"
  "$CMP" --rtol 1e-6 --atol 1e-6 "$TMP/stzero_$n.npy" "$TMP/st_$n.y.npy" > /dev/null &&
    fail "$n --states: --state-in made no difference"
done
for l in "  lstm1: lstm(7, layers=2)" \
         "#   --state-in S.safetensors: ONNX input 'lstm1.c0' as tensor 'lstm1.c0' [2, B, 7]" \
         "#   --state-out S.safetensors: ONNX output 'final.lstm1.h0' as tensor 'lstm1.h0' [2, B, 7]"; do
  grep -qF -- "$l" "$TMP/stback_charlm.rnn" || fail "charlm --states: no '$l' in the imported model"
done
grep -qF "  gru1: gru(5, layers=2, bidirectional=true)" "$TMP/stback_bigru2.rnn" ||
  fail "bigru2 --states: the stacked levels are not one layer"
for l in "  mgu1: mgu1_cell(bidirectional=true)" "  odd1: odd1_cell(reverse=true)" \
         "#   --state-in S.safetensors: ONNX input 'mgu1.h0' as tensor 'mgu1.h0' [2, B, 4]" \
         "#   --state-out S.safetensors: ONNX output 'final.odd1.c0' as tensor 'odd1.c0' [1, B, 3]"; do
  grep -qF -- "$l" "$TMP/stback_cells.rnn" || fail "cells --states: no '$l' in the imported model"
done
grep -qF "#   --state-in S.safetensors: ONNX input 'rnn1.h0' as tensor 'rnn1.h0' [1, B, 6]" \
  "$TMP/stback_rnn_pool.rnn" || fail "rnn_pool --states: no --state-in note"

# single nodes against onnxruntime (its outputs committed; re-run live when it is installed)
NODES="$FIX/nodes"
RUNNER="$SRC/tests/onnx/run_onnx.js"
have_ort=0
command -v node > /dev/null 2>&1 && node "$RUNNER" --probe 2> /dev/null && have_ort=1
[ $have_ort = 1 ] || echo "onnx_import.sh: node or onnxruntime-node missing: comparing with the committed onnxruntime outputs only"
for c in lstm_peep_clip lstm_rev_forget lstm_bi_acts lstm_rev gru_lbr0_clip_rev gru_bi_acts \
         gru_rev_lbr0 rnn_clip_rev rnn_bi_leaky rnn_thr; do
  opts=; feeds="X=$NODES/$c.x.npy"
  [ -f "$NODES/$c.state.safetensors" ] && opts="--state-in $NODES/$c.state.safetensors"
  [ -f "$NODES/$c.lengths.npy" ] && opts="$opts --lengths $NODES/$c.lengths.npy" &&
    feeds="$feeds sequence_lens=$NODES/$c.lengths.npy"
  for s in h c; do
    [ -f "$NODES/$c.initial_$s.npy" ] && feeds="$feeds initial_$s=$NODES/$c.initial_$s.npy"
  done
  run_ok "$RECUR" convert "$NODES/$c.onnx" "$TMP/$c.ckpt" --model-out "$TMP/$c.rnn"
  run_ok "$RECUR" run "$TMP/$c.ckpt" --input "$NODES/$c.x.npy" --output "$TMP/$c.y.npy" $opts \
    --state-out "$TMP/$c.final.safetensors"
  "$CMP" --rtol 1e-5 --atol 1e-5 "$TMP/$c.y.npy" "$NODES/$c.ref/y.npy" > "$TMP/cmp" ||
    { cat "$TMP/cmp" >&2; fail "$c: differs from onnxruntime's Y"; }
  "$CMP" --rtol 1e-5 --atol 1e-5 "$TMP/$c.final.safetensors" "$NODES/$c.final.safetensors" \
    > "$TMP/cmp" || { cat "$TMP/cmp" >&2; fail "$c: final states differ from onnxruntime's Y_h/Y_c"; }
  [ $have_ort = 1 ] || continue
  mkdir -p "$TMP/$c.ort"
  node "$SRC/tests/onnx/run_feeds.js" "$NODES/$c.onnx" "$TMP/$c.ort" $feeds ||
    fail "$c: onnxruntime did not run it"
  "$CMP" --rtol 1e-5 --atol 1e-5 "$TMP/$c.y.npy" "$TMP/$c.ort/y.npy" > "$TMP/cmp" ||
    { cat "$TMP/cmp" >&2; fail "$c: differs from onnxruntime run now"; }
done
# built-ins where they fit exactly, cells of ONNX's equations where they do not
want() { grep -qF -- "$2" "$TMP/$1.rnn" || fail "$1: the model text has no '$2'"; }
want lstm_rev "  rnn: lstm(4, reverse=true)"
want gru_rev_lbr0 "  L1: gru(4, reverse=true, reset_after=false)"
want rnn_bi_leaky "  L1: L1_cell(4, bidirectional=true)"
want rnn_bi_leaky "  h = leakyrelu(W @ x + Wb + R @ h[t-1] + Rb, 0.00999999978)"
want lstm_peep_clip "  enc: enc_cell(4)"
want lstm_peep_clip "  i = sigmoid(clip(zi + Pi * c[t-1], -1, 1))"
want lstm_peep_clip "  o = sigmoid(clip(zo + Po * c, -1, 1))"
want lstm_peep_clip "#   --lengths L.npy: ONNX input 'sequence_lens' (int32 [B])"
want lstm_peep_clip "#   --state-in S.safetensors: ONNX input 'initial_c' as tensor 'enc.c0' [1, B, 4]"
want lstm_peep_clip "#   --state-out S.safetensors: ONNX output 'Y_h' as tensor 'enc.h0' [1, B, 4]"
want lstm_rev_forget "  L1: L1_cell(3, reverse=true)"
want lstm_rev_forget "  f = 1 - i"
want lstm_rev_forget "  h = o * elu(c, 0.800000012)"
want lstm_bi_acts "  lstm: lstm_cell(3, bidirectional=true)"
want gru_lbr0_clip_rev "  n = tanh(clip(xh + Rh @ (r * h[t-1]) + Rbh, -0.800000012, 0.800000012))"
want gru_bi_acts "  n = affine(xh + r * (Rh @ h[t-1] + Rbh), 0.800000012, 0.100000001)"
want rnn_thr "  h = thresholdedrelu(W @ x + Wb + R @ h[t-1] + Rb, 0.300000012)"
run_ok "$RECUR" check "$TMP/lstm_peep_clip.rnn"
# the run options matter: without them the output is not onnxruntime's
run_ok "$RECUR" run "$TMP/lstm_peep_clip.ckpt" --input "$NODES/lstm_peep_clip.x.npy" \
  --output "$TMP/plain.npy"
"$CMP" --rtol 1e-5 --atol 1e-5 "$TMP/plain.npy" "$NODES/lstm_peep_clip.ref/y.npy" > "$TMP/cmp" &&
  fail "lstm_peep_clip: --lengths and --state-in made no difference"

# the backend node tests of libonnx-testdata: every test_lstm_*, test_gru_*, test_rnn_*,
# test_simple_rnn_* imports and matches
NODE=/usr/share/libonnx-testdata/data/node
if [ ! -d "$NODE" ]; then
  echo "onnx_import.sh: libonnx-testdata is not installed: skipping the ONNX backend node tests"
elif ! /usr/bin/python3 -c "import onnx, numpy" 2> /dev/null; then
  echo "onnx_import.sh: /usr/bin/python3 has no onnx (python3-onnx): skipping the backend node tests"
else
  count=0
  for t in "$NODE"/test_lstm_* "$NODE"/test_gru_* "$NODE"/test_rnn_* "$NODE"/test_simple_rnn_*; do
    [ -f "$t/model.onnx" ] || continue
    n=$(basename "$t"); o="$TMP/$n"
    /usr/bin/python3 "$SRC/tests/onnx/backend_model.py" "$t" "$o" || fail "$n: backend_model.py failed"
    opts=
    [ -f "$o/state.safetensors" ] && opts="--state-in $o/state.safetensors"
    [ -f "$o/lengths.npy" ] && opts="$opts --lengths $o/lengths.npy"
    run_ok "$RECUR" convert "$o/model.onnx" "$o/m.ckpt"
    run_ok "$RECUR" run "$o/m.ckpt" --input "$o/x.npy" --output "$o/out.npy" $opts \
      --state-out "$o/final_got.safetensors"
    "$CMP" --rtol 1e-5 --atol 1e-5 "$o/out.npy" "$o/y.npy" > "$TMP/cmp" ||
      { cat "$TMP/cmp" >&2; fail "$n: differs from the expected output"; }
    [ -f "$o/final.safetensors" ] || fail "$n: no Y_h expected"
    "$CMP" --subset --rtol 1e-5 --atol 1e-5 "$o/final_got.safetensors" "$o/final.safetensors" \
      > "$TMP/cmp" || { cat "$TMP/cmp" >&2; fail "$n: final states differ from Y_h/Y_c"; }
    count=$((count + 1))
  done
  [ -f "$TMP/test_lstm_with_peepholes/lengths.npy" ] || fail "the peephole test ran without its sequence_lens"
  echo "onnx_import.sh: $count ONNX backend node tests imported and matched"
  [ $count -ge 12 ] || fail "only $count backend node tests found"
fi

# bad input: the node named (position, name, op type), non-zero exit, nothing written
refused() { # refused CASE MESSAGE: convert fails with MESSAGE and writes nothing
  run_status 1 "$RECUR" convert "$NODES/$1.onnx" "$TMP/$1.ckpt" --model-out "$TMP/$1.rnn"
  grep -qF -- "$2" "$TMP/err" || fail "$1: expected '$2' in the error"
  [ ! -e "$TMP/$1.ckpt" ] && [ ! -e "$TMP/$1.rnn" ] || fail "$1: a refused import left a file"
}
refused rnn_erf "rnn_erf.onnx: error: node 2 '/post/Erf' (Erf): op Erf is not supported by recur's ONNX import on the model's sequence"
refused lstm_bi_diff "lstm_bi_diff.onnx: error: node 0 '' (LSTM): the directions have different activations"
refused scan_sum "scan_sum.onnx: error: node 3 'running_sum' (Scan): a Scan that is not recur's export of a user cell"
refused lstm_const_h0 "lstm_const_h0.onnx: error: node 0 '' (LSTM): initial_h 'initial_h' is a constant: recur takes initial states when the model runs -- make it a graph input and give it with \`recur run --state-in S.safetensors\`"
# a --states pattern that is not the export's: a level reading another level's rows, final
# states concatenated out of row order (tests/onnx/edit_states.py breaks the exported file)
if /usr/bin/python3 -c "import onnx" 2> /dev/null; then
  for e in rows order; do
    /usr/bin/python3 "$SRC/tests/onnx/edit_states.py" "$TMP/st_charlm.onnx" "$TMP/bad_$e.onnx" $e ||
      fail "edit_states.py $e failed"
    run_status 1 "$RECUR" convert "$TMP/bad_$e.onnx" "$TMP/bad_$e.ckpt"
    [ ! -e "$TMP/bad_$e.ckpt" ] || fail "--states $e: a refused import left a file"
    cp "$TMP/err" "$TMP/bad_$e.err"
  done
  grep -q "bad_rows.onnx: error: node 8 'lstm1/LSTM_l1' (LSTM): its initial state '.*' is rows from 0 on of 'lstm1.c0', not the rows from 1 on its layer's level and direction take" \
    "$TMP/bad_rows.err" || fail "--states: a level reading another level's rows not reported"
  grep -q "bad_order.onnx: error: node [0-9]* 'lstm1/Concat_[0-9]*' (Concat): a Concat of final states that is not one layer's state 'h' in row order" \
    "$TMP/bad_order.err" || fail "--states: final states out of order not reported"
fi
run_status 1 "$RECUR" convert "$NODES/branch.onnx" "$TMP/branch.ckpt"
grep -qF "branch.onnx: error: node 2 '/rnn2/RNN' (RNN): reads the graph input, not the last layer's output: a graph of two chains" \
  "$TMP/err" || fail "two chains not reported"
[ ! -e "$TMP/branch.ckpt" ] || fail "a refused import left a file"
head -c 100 "$FIX/torch/bigru.op17.onnx" > "$TMP/trunc.onnx"
run_status 1 "$RECUR" convert "$TMP/trunc.onnx" "$TMP/trunc.ckpt"
grep -q "trunc.onnx: error: not a valid ONNX model" "$TMP/err" || fail "truncated file"
[ ! -e "$TMP/trunc.ckpt" ] || fail "a truncated input left a file"
run_status 1 "$RECUR" convert "$FIX/torch/bigru.op17.onnx" "$TMP/x.ckpt" --model "$FIX/bigru2.rnn"
grep -q "an ONNX graph holds its model: --model is not used" "$TMP/err" || fail "--model with ONNX"
pass
