#!/bin/sh
# The training screen and log (issue 13 items 14, 15, 18): under a terminal (script(1)) at 40
# and 120 columns every live line fits, one line per evaluation stays on screen, a bar and the
# epoch show when there is room; a data summary opens the run; classifiers show validation
# accuracy; log.csv has wall_s and the task's metric; `lr = X` (--set lr=X) is the optimizer's
# learning rate; patience and min_delta stop a run that no longer improves.
. "${top_srcdir:-.}/tests/cli/lib.sh"
export OPENBLAS_NUM_THREADS=1
RECUR=$(cd "$BUILD" && pwd)/recur; SRC=$(cd "$SRC" && pwd)
cd "$TMP" || fail "cd"
command -v script >/dev/null || { echo "SKIP $NAME: no script(1) (util-linux)"; exit 77; }
# visible FILE: what stays on screen -- each line's text after its last carriage return.
visible() { tr -d '\033' < "$1" | sed 's/\[K//g' | awk '{ sub(/\r$/, ""); n = split($0, a, "\r");
  print a[n] }'; }
# widest FILE: the longest piece between carriage returns and newlines.
widest() { tr -d '\033' < "$1" | sed 's/\[K//g' | tr '\r' '\n' |
  awk '{ if (length($0) > m) m = length($0) } END { print m + 0 }'; }
for cols in 40 120; do
  script -qec "stty cols $cols rows 24; '$RECUR' train '$SRC/models/adding.rnn' --steps 300 \
    --set eval_every=100 --set log_every=50 --out run$cols" /dev/null > screen$cols.txt 2>&1 ||
    fail "train under script at $cols columns: $(cat screen$cols.txt)"
  w=$(widest screen$cols.txt)
  # the two header lines may be longer: they are printed once, not redrawn
  w=$(grep -av '^adder:\|^data:\|^done:' screen$cols.txt | tr -d '\033' | sed 's/\[K//g' |
      tr '\r' '\n' | awk '{ if (length($0) > m) m = length($0) } END { print m + 0 }')
  [ "$w" -lt "$cols" ] || fail "a live line of $w characters at $cols columns"
  evals=$(visible screen$cols.txt | grep -c '^step [0-9]*/300 .*val ')
  [ "$evals" = 3 ] || fail "$evals evaluation lines kept at $cols columns, not 3"
  visible screen$cols.txt | grep -q '^data: adding (generated): 100 batches per epoch, 1024 validation sequences' ||
    fail "no data summary at $cols columns"
done
grep -aq 'step 100/300  \[======>             \]  epoch 1  loss [0-9.]*  val [0-9.]*  .* tok/s' screen120.txt ||
  fail "no bar and epoch at 120 columns"
grep -aq '  epoch [0-9]' screen40.txt && fail "the epoch does not give way at 40 columns"

# A classifier: accuracy on the screen (plain lines here) and in log.csv.
awk 'BEGIN { srand(5); for (i = 0; i < 300; i++) { c = i % 3; printf "%d", c;
     for (t = 0; t < 3; t++) printf ",%.3f", (c - 1) * 2 + rand() * 0.4; printf "\n" } }' > t.csv
printf 'model c {\n  input vector(1)\n  gru(8)\n  pool(last)\n  dense(classes)\n}\n' > c.rnn
run_ok "$RECUR" train c.rnn --data t.csv --out c --steps 40 --set batch=16 --set eval_every=20 \
  --set valid=0.1 --set lr=0.01
grep -qx 'data: t.csv: 270 training rows, 30 validation rows, 3 classes, 17 batches per epoch' \
  "$TMP/err" || fail "no csv data summary"
grep -q '^step 40/40  epoch 3  loss [0-9.e-]*  val [0-9.e-]*  acc [0-9.]*  ' "$TMP/err" ||
  fail "no validation accuracy on the screen"
head -n 1 c/log.csv | grep -qx 'step,loss,val_loss,lr,grad_norm,tokens_per_s,wall_s,val_accuracy' ||
  fail "log.csv header: $(head -n 1 c/log.csv)"
awk -F, 'NR > 1 && $3 != "" { if ($8 == "" || $8 < 0 || $8 > 1) bad = 1; n++ }
         NR > 1 && ($7 == "" || $7 < prev) { bad = 1 } NR > 1 { prev = $7 }
         END { exit bad || n != 2 }' c/log.csv || fail "log.csv wall_s or accuracy: $(cat c/log.csv)"
awk -F, 'NR > 1 { if ($4 != 0.01) bad = 1 } END { exit bad }' c/log.csv ||
  fail "--set lr=0.01 is not the learning rate: $(cat c/log.csv)"

# Early stopping: a learning rate so small that nothing improves by min_delta.
run_ok "$RECUR" train "$SRC/models/adding.rnn" --out es --steps 1000 --set lr=1e-9 \
  --set eval_every=5 --set patience=2 --set min_delta=0.01
grep -qx 'early stop at step 15: no improvement of the validation loss by more than 0.01 in 2 evaluations (patience)' \
  "$TMP/err" || fail "no early stop at step 15"
grep -q '^done: step 15, best validation loss [0-9.]*; wrote es$' "$TMP/err" || fail "done line"
tail -n 1 es/log.csv | grep -q '^15,' || fail "log.csv does not end at step 15"
run_ok "$RECUR" inspect es/last.ckpt
grep -q '^step 15,' "$TMP/out" || fail "last.ckpt is not at step 15"
# only the chosen optimiser's fields are recorded (and shown), with lr as --set gave it
grep -q '^optimizer adam (lr=1e-09, beta1=0.9, beta2=0.999, eps=1e-08, weight_decay=0, clip=' \
  "$TMP/out" || fail "inspect's optimizer line: $(grep optimizer "$TMP/out")"
grep -q 'momentum\|nesterov\|alpha' "$TMP/out" && fail "another optimiser's fields are recorded"
# patience = 0 (the default) is off
run_ok "$RECUR" train "$SRC/models/adding.rnn" --out noes --steps 20 --set lr=1e-9 \
  --set eval_every=5 --set min_delta=0.01
grep -q 'early stop' "$TMP/err" && fail "stopped early without patience"
grep -q '^done: step 20,' "$TMP/err" || fail "no full run without patience"
pass
