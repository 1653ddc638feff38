#!/bin/sh
# train_valid.sh: a separate validation file (valid = text(...) / csv(...)). Training reports
# the loss on that file: the final val_loss in log.csv and `recur eval` of the checkpoint equal
# an independent evaluation of the same file given with --data. A validation character or label
# the training data lacks is an error naming it (and the file and line for csv).
. "$(dirname "$0")/train_common.sh"
head -c 1500 "$src/tests/fixtures/train/tiny.txt" >train.txt
head -c 900 train.txt | tail -c 500 >valid.txt   # characters the training text has
cat >lm.rnn <<'RNN'
format 1
data {
  source = text("train.txt")
  valid = text("valid.txt")
}
model lm {
  input tokens(vocab=auto)
  embedding(8)
  lstm(16)
  dense(vocab)
}
train {
  batch = 4
  bptt = 16
  steps = 20
  eval_every = 10
}
RNN
"$recur" train lm.rnn --out run >log.txt 2>&1 || { cat log.txt; fail "train"; }
val=$(tail -n 1 run/log.csv | cut -d, -f3)
[ -n "$val" ] || fail "no validation loss in the last row of log.csv"
"$recur" eval run/last.ckpt >e1.txt 2>&1 || { cat e1.txt; fail "eval"; }
"$recur" eval run/last.ckpt --data valid.txt >e2.txt 2>&1 || { cat e2.txt; fail "eval --data"; }
grep -qx 'data: valid.txt' e1.txt || { cat e1.txt; fail "eval does not name the validation file"; }
l1=$(sed -n 's/^loss: \([0-9.]*\) nats$/\1/p' e1.txt)
l2=$(sed -n 's/^loss: \([0-9.]*\) nats$/\1/p' e2.txt)
[ -n "$l1" ] && [ "$l1" = "$l2" ] || fail "eval on the validation file: $l1, with --data: $l2"
awk -v a="$val" -v b="$l1" 'BEGIN { d = a - b; exit !(d < 1e-4 && d > -1e-4) }' ||
    fail "log.csv val_loss $val differs from eval's $l1"
echo "validation loss $val (eval $l1)"

printf 'the river Q\nbent @ twice\n' >bad.txt
sed 's/valid.txt/bad.txt/' lm.rnn >bad.rnn
expect_fail "2 characters are not in the vocabulary of the training text train.txt: '@', 'Q'" \
    "$recur" train bad.rnn --out b
[ -e b ] && fail "a run directory was created for a failed run"
sed 's/valid = text("valid.txt")/valid = csv("valid.csv")/' lm.rnn >kind.rnn
expect_fail "kind.rnn:4:11: error: the validation source must be read like the training source" \
    "$recur" train kind.rnn --out b

# csv: numeric labels; the validation file has a header of its own
awk 'BEGIN { srand(3); for (i = 0; i < 64; i++) { c = i % 3; printf "%d", c;
     for (t = 0; t < 4; t++) printf ",%.3f", c + rand() * 0.5; printf "\n" } }' >t.csv
{ echo "label,x1,x2,x3,x4"; head -n 12 t.csv; } >v.csv
cat >c.rnn <<'RNN'
format 1
data {
  source = csv("t.csv")
  valid = csv("v.csv")
}
model c {
  input vector(1)
  gru(8)
  pool(last)
  dense(classes)
}
train {
  batch = 8
  steps = 16
  eval_every = 8
}
RNN
"$recur" train c.rnn --out crun >log.txt 2>&1 || { cat log.txt; fail "train csv"; }
"$recur" eval crun/last.ckpt >e1.txt 2>&1 || { cat e1.txt; fail "eval csv"; }
"$recur" eval crun/last.ckpt --data v.csv >e2.txt 2>&1 || { cat e2.txt; fail "eval csv --data"; }
grep -qx 'data: v.csv' e1.txt || { cat e1.txt; fail "eval does not name v.csv"; }
[ "$(grep '^loss' e1.txt)" = "$(grep '^loss' e2.txt)" ] || fail "csv: $(cat e1.txt e2.txt)"
[ "$(grep '^accuracy' e1.txt)" = "$(grep '^accuracy' e2.txt)" ] || fail "csv accuracy differs"
printf '0,1,2\n7,3\n' >u.csv
sed 's/v.csv/u.csv/' c.rnn >u.rnn
expect_fail "u.csv:2: error: label '7' is not a class of the training data (t.csv has 3)" \
    "$recur" train u.rnn --out u
echo ok
