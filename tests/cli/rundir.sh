#!/bin/sh
# The run directory (issue 13 items 6, 11, 13): one writer at a time (flock on DIR/.lock, a
# second `recur train` is refused naming the holder's PID); the next holder removes the stale
# temporaries a killed write left; checkpoints record their data file, so `recur eval` and
# `recur train --resume` work without --data, and a moved or changed file is a clear error naming
# the path tried and the recorded CRC; best.ckpt has no optimiser state, last.ckpt has it.
. "${top_srcdir:-.}/tests/cli/lib.sh"
export OPENBLAS_NUM_THREADS=1
RECUR=$(cd "$BUILD" && pwd)/recur; SRC=$(cd "$SRC" && pwd)
cd "$TMP" || fail "cd"
printf 'model m {\n  input vector(2)\n  lstm(8)\n  pool(last)\n  dense(1)\n}\n' > slow.rnn
printf 'data { source = adding(length=20) }\n' >> slow.rnn
"$RECUR" train slow.rnn --out busy --steps 1000000 > first.out 2>&1 &
first=$!
i=0
while [ ! -e busy/last.ckpt ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i + 1)); done
[ -s busy/.lock ] && [ -e busy/last.ckpt ] || { kill -9 $first; fail "no lock or last.ckpt"; }
run_status 1 "$RECUR" train slow.rnn --out busy --steps 10 --resume
grep -qx "busy: error: another recur (pid $first) is training into this directory" "$TMP/err" ||
  { kill -9 $first; fail "a second writer (--resume) is not refused with the holder's PID"; }
run_status 1 "$RECUR" train slow.rnn --out busy --steps 10
grep -q "another recur (pid $first)" "$TMP/err" || { kill -9 $first; fail "second fresh writer"; }
# Killed: the lock dies with it; a temporary of an unfinished write is left behind.
kill -9 $first; wait $first 2>/dev/null
: > busy/last.ckpt.tmp.Ab12Cd
: > busy/notes.tmp.Ab12Cd
run_ok "$RECUR" inspect busy/last.ckpt
at=$(sed -n 's/^step \([0-9]*\), .*/\1/p' "$TMP/out")
run_ok "$RECUR" train slow.rnn --out busy --steps $((at + 1)) --resume
[ ! -e busy/last.ckpt.tmp.Ab12Cd ] || fail "the stale last.ckpt.tmp.* was not removed"
[ -e busy/notes.tmp.Ab12Cd ] || fail "a file that is not ours was removed"

# The data file is recorded: eval and --resume without --data, from another directory too.
cp "$SRC/tests/fixtures/train/tiny.txt" corpus.txt
printf 'model lm {\n  input tokens(vocab=auto)\n  embedding(8)\n  lstm(16)\n  dense(vocab)\n}\n' \
  > lm.rnn
run_ok "$RECUR" train lm.rnn --data corpus.txt --out lm --steps 4 --set batch=4 --set bptt=16 \
  --set eval_every=2 --set valid=0.1
run_ok "$RECUR" eval lm/best.ckpt
grep -qx 'data: corpus.txt' "$TMP/out" || fail "eval without --data does not use corpus.txt"
loss=$(grep '^loss' "$TMP/out")
mkdir elsewhere
(cd elsewhere && "$RECUR" eval ../lm/best.ckpt > ../out2 2>&1) || fail "eval from elsewhere"
grep -qx "data: $TMP/corpus.txt" out2 || grep -qx "data: $(pwd -P)/corpus.txt" out2 ||
  fail "eval from another directory does not find the absolute path: $(cat out2)"
[ "$(grep '^loss' out2)" = "$loss" ] || fail "eval from elsewhere gives another loss"
run_ok "$RECUR" train lm.rnn --out lm --steps 6 --set batch=4 --set bptt=16 --set eval_every=2 \
  --set valid=0.1 --resume
grep -q "resuming at step 4" "$TMP/err" || fail "resume without --data did not resume"
# Changed: named with both fingerprints; moved: every path tried is named.
crc=$(sed -n 's/.*recorded \([0-9]*\) bytes with CRC-32 \([0-9a-f]*\).*/\2/p' "$TMP/err")
echo "more text" >> corpus.txt
run_status 1 "$RECUR" eval lm/best.ckpt
grep -q "^corpus.txt: error: the data file changed since lm/best.ckpt was written: it is [0-9]* bytes with CRC-32 [0-9a-f]*, the checkpoint recorded [0-9]* bytes with CRC-32 [0-9a-f]*$" \
  "$TMP/err" || fail "a changed data file is not reported"
run_status 1 "$RECUR" train lm.rnn --out lm --steps 8 --resume
grep -q "the data file changed since lm/last.ckpt was written" "$TMP/err" || fail "resume: changed"
mv corpus.txt moved.txt
run_status 1 "$RECUR" eval lm/best.ckpt
grep -q "^lm/best.ckpt: error: the data file it was trained on is gone: tried corpus.txt and /.*/corpus.txt ([0-9]* bytes, CRC-32 [0-9a-f]*)$" \
  "$TMP/err" || fail "a moved data file is not reported with the paths tried"
grep -qx "help: give the data with --data FILE" "$TMP/err" || fail "no --data help"
head -c "$(wc -c < "$SRC/tests/fixtures/train/tiny.txt")" moved.txt > back.txt
run_ok "$RECUR" eval lm/best.ckpt --data back.txt

# A data block's file found neither from here nor next to the model: both paths named.
mkdir -p models
printf 'data { source = text("corpus.txt") }\nmodel lm {\n  input tokens(vocab=auto)\n  embedding(4)\n  lstm(4)\n  dense(vocab)\n}\n' \
  > models/x.rnn
run_status 1 "$RECUR" train models/x.rnn --out nx
grep -qx "corpus.txt: error: cannot read: No such file or directory; tried corpus.txt (from the working directory) and models/corpus.txt (next to the model)" \
  "$TMP/err" || fail "a missing data file does not name the paths tried"

# best.ckpt is for deployment: no optimiser state; last.ckpt keeps it.
run_ok "$RECUR" inspect lm/last.ckpt
grep -q "exp_avg" "$TMP/out" || fail "last.ckpt has no optimiser state"
run_ok "$RECUR" inspect lm/best.ckpt
grep -q "exp_avg" "$TMP/out" && fail "best.ckpt keeps the optimiser state"
best=$(wc -c < lm/best.ckpt); last=$(wc -c < lm/last.ckpt)
[ $((best * 2)) -lt "$last" ] || fail "best.ckpt ($best bytes) is not much smaller than last.ckpt ($last)"
pass
