#!/bin/sh
# CSV sequences of different lengths are packed (issue 9 item 3): in a batch, a short sequence
# is run only over its own steps -- its state is held past its length and a reverse direction
# starts at its own end -- so a bidirectional GRU classifier scores a batch of a long and a
# short sequence exactly as the mean of the two scored alone (without packing the reverse
# direction would start at the padding and the batch would score 0.670902, not 0.669558).
. "${top_srcdir:-.}/tests/cli/lib.sh"
export OPENBLAS_NUM_THREADS=1
RECUR=$(cd "$BUILD" && pwd)/recur
cd "$TMP" || fail "cd"
printf 'cat,0.5,1,-1,0.25,2,0.75\ndog,-1,0.5\ncat,1,1,1\ndog,-0.5,-0.5,0.5,1\n' > t.csv
cat > c.rnn <<'RNN'
format 1
data {
  source = csv("t.csv")
  valid = 0
}
model c {
  input vector(1)
  gru(4, bidirectional=true)
  pool(last)
  dense(classes)
}
train {
  batch = 4
  steps = 2
  optimizer = adam(lr=0.01)
}
RNN
run_ok "$RECUR" train c.rnn --out run
head -n 1 t.csv > long.csv
sed -n 2p t.csv > short.csv
head -n 2 t.csv > both.csv
sed -n 2p t.csv > rev.csv
head -n 1 t.csv >> rev.csv
for f in long short both rev; do
  run_ok "$RECUR" eval run/last.ckpt --data $f.csv
  sed -n 's/^loss: \([0-9.]*\) nats$/\1/p' "$TMP/out" > $f.loss
  [ -s $f.loss ] || fail "$f.csv: no loss printed"
done
for f in both rev; do
  awk -v a="$(cat long.loss)" -v b="$(cat short.loss)" -v ab="$(cat $f.loss)" \
    'BEGIN { d = ab - (a + b) / 2; if (d < 0) d = -d; exit !(d <= 2e-6) }' ||
    fail "$f.csv scores $(cat $f.loss), not the mean of $(cat long.loss) and $(cat short.loss)"
done
pass
