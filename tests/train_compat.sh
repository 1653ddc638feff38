#!/bin/sh
# Checkpoints written by an older recur (tests/fixtures/compat, made by make.sh there with the
# recur of before the architecture refactor) still load, and a run resumed from one ends with
# the same weights, bit for bit, as the old recur's uninterrupted run.
. "${top_srcdir:-.}/tests/cli/lib.sh"
# The old run used recur's own kernels on OpenBLAS; oneDNN's results differ in the last bits, so
# the exact comparison runs those (RECUR_ONEDNN=0, exec.h).
RECUR_ONEDNN=0
export RECUR_ONEDNN
FIX="$SRC/tests/fixtures/compat"
mkdir "$TMP/run"
cp "$FIX/adding_step20.ckpt" "$TMP/run/last.ckpt"
cp "$FIX/adding_step20.log.csv" "$TMP/run/log.csv"
run_ok "$RECUR" inspect "$TMP/run/last.ckpt"
grep -q "^step 20, epoch 0, seed 7" "$TMP/out" || fail "inspect does not show the old training position"
run_ok "$RECUR" train "$SRC/models/adding.rnn" --steps 40 --set eval_every=20 \
  --set checkpoint_every=20 --threads 1 --out "$TMP/run" --resume
run_ok "$RECUR" convert "$TMP/run/last.ckpt" "$TMP/resumed.safetensors"
cmp "$TMP/resumed.safetensors" "$FIX/adding_step40.safetensors" ||
  fail "resuming an old checkpoint does not give the old run's weights"
# the resumed log continues the old one: its rows up to step 20 are kept as they were
head -3 "$TMP/run/log.csv" | cmp -s - "$FIX/adding_step20.log.csv" || fail "the old log's rows were not kept"
grep -q "^40," "$TMP/run/log.csv" || fail "the resumed log has no row for step 40"
pass
