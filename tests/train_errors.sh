#!/bin/sh
# train_errors.sh: bad input is a clear error, a non-zero exit, and nothing is overwritten.
. "$(dirname "$0")/train_common.sh"
cat >m.rnn <<'RNN'
format 1
data {
  source = text("corpus.txt")
}
model m {
  input tokens(vocab=auto)
  embedding(8)
  lstm(16)
  dense(vocab)
}
train {
  batch = 2
  bptt = 8
  steps = 4
  checkpoint_every = 2
}
RNN
sed 's/lstm(16)/lstm(12)/' m.rnn >other.rnn
cat >c.rnn <<'RNN'
format 1
data {
  source = csv("rows.csv")
}
model c {
  input vector(1)
  gru(8)
  pool(last)
  dense(classes)
}
RNN
expect_fail "corpus.txt: error: cannot read" "$recur" train m.rnn --out a
[ -e a ] && fail "a run directory was created for a failed run"
: >empty.txt
expect_fail "empty.txt: error: file is empty" "$recur" train m.rnn --data empty.txt --out a
printf 'label,x1,x2\n0,0.5,0.25\n1,0.1,oops\n' >rows.csv
expect_fail "rows.csv:3: error: value in column 3 is not a number: 'oops'" \
    "$recur" train c.rnn --out a
head -c 3000 "$src/tests/fixtures/train/tiny.txt" >corpus.txt
expect_fail "batchh" "$recur" train m.rnn --set batchh=3 --out a
"$recur" train m.rnn --out good >/dev/null 2>&1 || fail "good run"
cp good/last.ckpt before.ckpt
expect_fail "the model expects" "$recur" train other.rnn --out good --resume
cmp -s good/last.ckpt before.ckpt || fail "last.ckpt changed by a failed resume"
expect_fail "already exists" "$recur" train m.rnn --out good
expect_fail "cannot resume" "$recur" train m.rnn --out nothing-here --resume
echo ok
