#!/bin/sh
# recur trace --lags (issue 12): the gradient norms ||d l_t / d x_(t-k)|| it reads from the
# executor's backward pass equal central finite differences of the loss in float64 numpy
# (tests/cli/trace_lags_check.py) for tiny rnn, gru and lstm models on the adding task (their own
# generated data, T = 8, fused kernels) and a character lstm on --text (per-step losses); the
# plot is one self-contained SVG with a line per checkpoint; bad input (no recurrent layer, a lag
# beyond T - 1, --input, text for a vector model) is a clear error with nothing written.
. "${top_srcdir:-.}/tests/cli/lib.sh"
export OPENBLAS_NUM_THREADS=1
RECUR=$(cd "$BUILD" && pwd)/recur; SRC=$(cd "$SRC" && pwd)
cd "$TMP" || fail "cd"
for cell in rnn gru lstm; do
  cat > $cell.rnn <<RNN
format 1
data { source = adding(length=8) }
model add_$cell {
  input vector(2)
  $cell(3)
  pool(last)
  dense(1)
}
train {
  loss = mse(target)
  batch = 4
  bptt = full
  steps = 20
  seed = 3
}
RNN
  run_ok "$RECUR" train $cell.rnn --out $cell
  run_ok "$RECUR" convert $cell/last.ckpt $cell.safetensors
done
run_ok "$RECUR" trace --lags rnn/last.ckpt gru/last.ckpt lstm/last.ckpt -o a.svg --npz a.npz \
  --csv a.csv
[ -s a.svg ] && [ -s a.npz ] || fail "no plot or npz"
[ "$(grep -c '^lstm/last.ckpt,' a.csv)" = 8 ] || fail "expected lags 0..7 of lstm in the CSV"
[ "$(grep -c '<polyline' a.svg)" = 3 ] || fail "expected one line per checkpoint in the SVG"
grep -q 'gru/last.ckpt' a.svg || fail "the legend does not name the checkpoints"
grep -Eq '(src|href)=' a.svg && fail "the SVG references something outside it"
run_ok "$RECUR" trace --lags lstm/last.ckpt --max-lag 3 -o m.svg
[ "$(grep -c '^lstm' "$TMP/out")" = 4 ] || fail "--max-lag 3 should give lags 0..3 on stdout"
# a character model, per-step cross-entropy on --text
printf 'abcab cabba cab\n' > t.txt
cat > c.rnn <<'RNN'
format 1
data { source = text("t.txt", level=char) }
model ch {
  input tokens(vocab=auto)
  embedding(4)
  lstm(3)
  dense(vocab)
}
train {
  loss = cross_entropy(next_token)
  batch = 2
  bptt = 4
  steps = 5
}
RNN
run_ok "$RECUR" train c.rnn --data t.txt --out c
run_ok "$RECUR" convert c/last.ckpt c.safetensors
run_ok "$RECUR" trace --lags c/last.ckpt --text 'abc cab ' -o c.svg --npz c.npz
# bad input: named, non-zero exit, nothing written
run_status 1 "$RECUR" trace --lags lstm/last.ckpt --max-lag 8 -o bad.svg
grep -q "lag 8 is larger than the input of lstm/last.ckpt allows: it has 8 steps" "$TMP/err" ||
  fail "lag beyond T - 1 error"
run_status 1 "$RECUR" trace --lags lstm/last.ckpt --text abc -o bad.svg
grep -q "the model has no vocabulary" "$TMP/err" || fail "text for a vector model error"
run_status 1 "$RECUR" trace --lags c/last.ckpt --text 'abz' -o bad.svg
grep -q "not in the model's vocabulary: 'z'" "$TMP/err" || fail "vocabulary error"
run_status 2 "$RECUR" trace --lags lstm/last.ckpt --input x.npy -o bad.svg
grep -q -- "--lags needs targets" "$TMP/err" || fail "--input error"
run_status 2 "$RECUR" trace --lags lstm/last.ckpt
cat > flat.rnn <<'RNN'
format 1
data { source = adding(length=8) }
model flat {
  input vector(2)
  pool(last)
  dense(1)
}
train {
  loss = mse(target)
  batch = 4
  bptt = full
  steps = 1
}
RNN
run_ok "$RECUR" train flat.rnn --out flat
run_status 1 "$RECUR" trace --lags flat/last.ckpt -o bad.svg
grep -q "flat/last.ckpt: error: the model has no recurrent layer" "$TMP/err" ||
  fail "no-recurrent-layer error"
[ -e bad.svg ] && fail "bad input wrote a plot"
# the gradients against finite differences (skipped without numpy)
PY=/usr/bin/python3
if ! [ -x $PY ] || ! $PY -c 'import numpy' 2>/dev/null; then
  echo "SKIP finite differences: /usr/bin/python3 with numpy is not installed"; pass
fi
run_ok $PY "$SRC/tests/cli/trace_lags_check.py" a.npz rnn:rnn.safetensors gru:gru.safetensors \
  lstm:lstm.safetensors
cat "$TMP/out"
run_ok $PY "$SRC/tests/cli/trace_lags_check.py" c.npz charlstm:c.safetensors
cat "$TMP/out"
pass
