#!/bin/sh
# recur trace (issue 12): every LSTM/GRU gate and state recorded per step equals a numpy
# recomputation from the checkpoint's weights (PyTorch's equations, tests/cli/trace_check.py),
# the probabilities equal `recur run`'s, the page holds the same data and no network reference;
# bad input (characters outside the vocabulary, --range outside the file, an unknown --layer,
# a model with no recurrent layer) is a clear error with nothing written.
. "${top_srcdir:-.}/tests/cli/lib.sh"
export OPENBLAS_NUM_THREADS=1
RECUR=$(cd "$BUILD" && pwd)/recur; SRC=$(cd "$SRC" && pwd)
cd "$TMP" || fail "cd"
cat > m.rnn <<'RNN'
format 1
data { source = text("t.txt", level=char) }
model tm {
  input tokens(vocab=auto)
  embedding(5)
  lstm(6, layers=2)
  gru(4)
  dense(vocab)
}
train {
  loss = cross_entropy(next_token)
  batch = 2
  bptt = 4
  steps = 3
}
RNN
i=0; : > t.txt
while [ $i -lt 8 ]; do printf 'hello world, "quoted" (brackets)\nnext line.\n' >> t.txt; i=$((i + 1)); done
run_ok "$RECUR" train m.rnn --data t.txt --out run
CK=run/last.ckpt
# --text: every named value of every cell, [T, 1, width]
run_ok "$RECUR" trace $CK --text 'hello "world"' -o p.html --npz p.npz
[ -s p.html ] && [ -s p.npz ] || fail "no page or npz"
grep -q 'id="trace-data"' p.html || fail "no data block in the page"
grep -q '"lstm1.l1.f"' p.html || fail "the page lacks lstm1.l1.f"
# --data with --range, --layer: only that layer's values (and the probabilities)
run_ok "$RECUR" trace $CK --data t.txt --range 0:20 --layer gru1 -o g.html --npz g.npz
grep -q '"gru1.l0.z"' g.html || fail "--layer gru1 lacks gru1.l0.z"
grep -q '"lstm1.l0.f"' g.html && fail "--layer gru1 still holds lstm1"
# bad input: named, exit 1, nothing written
run_status 1 "$RECUR" trace $CK --text 'hello XYZ' -o bad.html
grep -q "not in the model's vocabulary: 'X', 'Y', 'Z'" "$TMP/err" || fail "vocabulary error"
run_status 1 "$RECUR" trace $CK --data t.txt --range 10:99999 -o bad.html
grep -q -- "--range: error: 10:99999 is not a non-empty range inside t.txt" "$TMP/err" ||
  fail "range error"
run_status 1 "$RECUR" trace $CK --text hello --layer lstm2 -o bad.html
grep -q "did you mean 'lstm1'" "$TMP/err" || fail "no did-you-mean for --layer"
run_status 2 "$RECUR" trace $CK --text hello --input x.npy -o bad.html
[ -e bad.html ] && fail "bad input wrote a page"
cat > flat.rnn <<'RNN'
format 1
data { source = text("t.txt", level=char) }
model flat {
  input tokens(vocab=auto)
  embedding(5)
  dense(vocab)
}
train {
  loss = cross_entropy(next_token)
  batch = 2
  bptt = 4
  steps = 1
}
RNN
run_ok "$RECUR" train flat.rnn --data t.txt --out flat
run_status 1 "$RECUR" trace flat/last.ckpt --text hello -o bad.html
grep -q "no recurrent layer" "$TMP/err" || fail "no-recurrent-layer error"
# values against numpy (skipped without numpy)
PY=/usr/bin/python3
if ! [ -x $PY ] || ! $PY -c 'import numpy' 2>/dev/null; then
  echo "SKIP numpy checks: /usr/bin/python3 with numpy is not installed"; pass
fi
$PY -c 'import numpy as np; np.save("ids.npy", np.random.RandomState(3).randint(0, 18, (12, 3)).astype(np.int32))'
run_ok "$RECUR" run $CK --input ids.npy --output y.npy
run_ok "$RECUR" trace $CK --input ids.npy -o i.html --npz i.npz
run_ok "$RECUR" convert $CK w.safetensors
run_ok $PY "$SRC/tests/cli/trace_check.py" w.safetensors ids.npy y.npy i.npz i.html
cat "$TMP/out"
# A user cell: every name it assigns, equal to the interpreter's forward (recur run)
cat > peep.rnn <<'RNN'
format 1
cell peep(H) {
  input x : [I]
  state h : [H], c : [H]
  param W : [4*H, I], U : [4*H, H] = uniform(-0.5, 0.5)
  param b : [4*H] = 0
  param p_i : [H], p_f : [H], p_o : [H] = uniform(-0.5, 0.5)
  zi, zf, zg, zo = chunk(W @ x + U @ h[t-1] + b, 4)
  i = sigmoid(zi + p_i * c[t-1])
  f = sigmoid(zf + p_f * c[t-1])
  c = f * c[t-1] + i * tanh(zg)
  o = sigmoid(zo + p_o * c)
  h = o * tanh(c)
  output h
}
data { source = text("t.txt", level=char) }
model pm {
  input tokens(vocab=auto)
  embedding(5)
  peep(7)
  dense(vocab)
}
train {
  loss = cross_entropy(next_token)
  batch = 2
  bptt = 4
  steps = 2
}
RNN
run_ok "$RECUR" train peep.rnn --data t.txt --out peep
run_ok "$RECUR" run peep/last.ckpt --input ids.npy --output py.npy
run_ok "$RECUR" trace peep/last.ckpt --input ids.npy -o peep.html --npz peep.npz
run_ok $PY - <<'PYEOF'
import numpy as np
z, y = np.load("peep.npz"), np.load("py.npy").astype(np.float64)
want = {"peep1.l0." + n for n in ("zi", "zf", "zg", "zo", "i", "f", "c", "o", "h")} | {"output.probs"}
assert set(z.files) == want, sorted(z.files)
p = np.exp(y - y.max(-1, keepdims=True)); p /= p.sum(-1, keepdims=True)
assert np.abs(z["output.probs"] - p).max() <= 1e-6, "user cell: probabilities differ from recur run"
g = {n: z["peep1.l0." + n].astype(np.float64) for n in ("zg", "i", "f", "c", "o", "h")}
cprev = np.concatenate([np.zeros_like(g["c"][:1]), g["c"][:-1]])
assert np.abs(g["f"] * cprev + g["i"] * np.tanh(g["zg"]) - g["c"]).max() <= 1e-6, "c equation"
assert np.abs(g["o"] * np.tanh(g["c"]) - g["h"]).max() <= 1e-6, "h equation"
print("user cell: names, equations and probabilities match")
PYEOF
cat "$TMP/out"
pass
