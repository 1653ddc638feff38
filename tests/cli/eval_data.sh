#!/bin/sh
# recur eval --data FILE scores the whole file (issue 13 item 1), and a classifier's class names
# and their order live in its checkpoint (item 2): a CSV holding only some of the training
# labels evaluates right, and a label the model does not know is an error naming row and label.
. "${top_srcdir:-.}/tests/cli/lib.sh"
export OPENBLAS_NUM_THREADS=1
RECUR=$(cd "$BUILD" && pwd)/recur; SRC=$(cd "$SRC" && pwd)
cd "$TMP" || fail "cd"
# Three separable classes, named so that a subset sorts differently from the full set.
awk 'BEGIN { srand(5); split("cat dog emu", n, " "); for (i = 0; i < 300; i++) { c = i % 3;
     printf "%s", n[c + 1]; for (t = 0; t < 3; t++) printf ",%.3f", (c - 1) * 2 + rand() * 0.4;
     printf "\n" } }' > t.csv
cat > c.rnn <<'RNN'
format 1
data {
  source = csv("t.csv")
  valid = 0.1
}
model c {
  input vector(1)
  gru(8)
  pool(last)
  dense(classes)
}
train {
  batch = 16
  steps = 150
  eval_every = 50
  optimizer = adam(lr=0.01)
}
RNN
run_ok "$RECUR" train c.rnn --out run
run_ok "$RECUR" eval run/best.ckpt --data t.csv
grep -qx 'scored: 300 rows' "$TMP/out" || fail "eval --data t.csv did not score all 300 rows"
grep -qx 'accuracy: 1.0000' "$TMP/out" || fail "the classifier is not perfect on its data"
head -n 120 t.csv > head.csv
run_ok "$RECUR" eval run/best.ckpt --data head.csv
grep -qx 'scored: 120 rows' "$TMP/out" || fail "eval --data head.csv did not score its 120 rows"
# Only dog and emu: ids 1 and 2 of the model, which the file alone would make 0 and 1.
grep -v '^cat' t.csv > sub.csv
run_ok "$RECUR" eval run/best.ckpt --data sub.csv
grep -qx 'scored: 200 rows' "$TMP/out" || fail "sub.csv: not 200 rows"
grep -qx 'accuracy: 1.0000' "$TMP/out" || fail "a subset of the labels is scored wrong"
# recur run --predict names each sequence's class: [T=3, B=3, 1] float32, time-major, one
# sequence per class (-1.75, 0.25, 2.25 at every step), written as .npy by hand.
h="{'descr': '<f4', 'fortran_order': False, 'shape': (3, 3, 1), }"
{ printf '\223NUMPY\001\000\166\000%s' "$h"; printf '%*s\n' $((128 - 10 - ${#h} - 1)) '';
  for t in 1 2 3; do printf '\000\000\340\277\000\000\200\076\000\000\020\100'; done; } > x.npy
run_ok "$RECUR" run run/best.ckpt --input x.npy --output y.npy --predict
printf 'cat\ndog\nemu\n' | cmp -s - "$TMP/out" || fail "run --predict does not name the classes"
printf 'cat,1,2,3\n# a comment\nfox,1,2,3\n' > bad.csv
run_status 1 "$RECUR" eval run/best.ckpt --data bad.csv
grep -qx "bad.csv:3: error: row 2: label 'fox' is not a class of the model" "$TMP/err" ||
  fail "an unknown label is not named with its row"
grep -qx "help: the model knows 3 classes: 'cat' ... 'emu'" "$TMP/err" || fail "no classes help"

# Text: eval --data on a byte copy of the training text scores all of it, not its last 10%.
cp "$SRC/tests/fixtures/train/tiny.txt" tiny.txt
printf 'model lm {\n  input tokens(vocab=auto)\n  embedding(8)\n  lstm(16)\n  dense(vocab)\n}\n' \
  > lm.rnn
run_ok "$RECUR" train lm.rnn --data tiny.txt --out lm --steps 5 --set batch=4 --set bptt=16 \
  --set valid=0.1
cp tiny.txt copy.txt
run_ok "$RECUR" eval lm/last.ckpt --data copy.txt
n=$(sed -n 's/^scored: \([0-9]*\) tokens$/\1/p' "$TMP/out")
size=$(wc -c < tiny.txt)
[ -n "$n" ] && [ "$n" -ge $((size - 8)) ] || fail "eval --data scored $n tokens of $size"
pass
