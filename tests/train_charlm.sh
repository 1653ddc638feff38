#!/bin/sh
# train_charlm.sh: a small character model on the bundled tests/fixtures/train/tiny.txt lowers
# its loss clearly; sampling with a seed is reproducible; the prime must be in the vocabulary;
# eval prints loss, bits per character and perplexity.
. "$(dirname "$0")/train_common.sh"
cat >lm.rnn <<'RNN'
format 1
data {
  source = text("tiny.txt")
  valid = 0.1
}
model lm {
  input tokens(vocab=auto)
  embedding(16)
  lstm(64)
  dense(vocab)
}
train {
  optimizer = adam(lr=0.01)
  clip = 5
  batch = 8
  bptt = 32
  steps = 150
  eval_every = 50
  checkpoint_every = 50
  log_every = 10
}
RNN
cp "$src/tests/fixtures/train/tiny.txt" .
"$recur" train lm.rnn --out run >log.txt 2>&1 || { cat log.txt; fail "train"; }
for f in last.ckpt best.ckpt log.csv loss.svg; do [ -s run/$f ] || fail "no run/$f"; done
head -n 1 run/log.csv | grep -qx 'step,loss,val_loss,lr,grad_norm,tokens_per_s,wall_s,val_bits_per_token' || fail "header"
a=$(first_loss run/log.csv)
b=$(last_loss run/log.csv)
echo "loss $a -> $b"
lt "$b" "$(awk -v a="$a" 'BEGIN { print a * 0.75 }')" || fail "loss did not fall clearly: $a -> $b"
grep -q '<polyline' run/loss.svg || fail "empty plot"

"$recur" sample run/last.ckpt --prime "The river" --length 80 --seed 3 >s1.txt || fail "sample"
"$recur" sample run/last.ckpt --prime "The river" --length 80 --seed 3 >s2.txt || fail "sample"
"$recur" sample run/last.ckpt --prime "The river" --length 80 --seed 4 >s3.txt || fail "sample"
cmp -s s1.txt s2.txt || fail "same seed, different text"
cmp -s s1.txt s3.txt && fail "different seeds, same text"
head -c 9 s1.txt | grep -qx 'The river' || fail "prime not echoed"
expect_fail "'Z'" "$recur" sample run/last.ckpt --prime "Zebra"

"$recur" eval run/best.ckpt >eval.txt 2>&1 || { cat eval.txt; fail "eval"; }
grep -q '^loss: ' eval.txt && grep -q '^bits per token: ' eval.txt &&
    grep -q '^perplexity: ' eval.txt || { cat eval.txt; fail "eval output"; }
echo ok
