#!/bin/sh
# recur train --init-from WEIGHTS (issue 13 item 12): a fresh run (step 0, a new optimiser) that
# starts from the weights of any file recur convert reads -- here PyTorch's own .pt and a
# checkpoint; weights of another model are refused naming the tensors, before anything is
# written; --init-from with --resume is a usage error.
. "${top_srcdir:-.}/tests/cli/lib.sh"
export OPENBLAS_NUM_THREADS=1
RECUR=$(cd "$BUILD" && pwd)/recur; SRC=$(cd "$SRC" && pwd); CMP=$(cd "$BUILD" && pwd)/tests/tensorcmp
FIX="$SRC/tests/fixtures"
cd "$TMP" || fail "cd"
i=0; : > t.txt
while [ $i -lt 60 ]; do printf 'abcdefghijkkjihgfedcba' >> t.txt; i=$((i + 1)); done
# One update at a learning rate of 1e-12: the weights stay PyTorch's to float precision.
run_ok "$RECUR" train "$FIX/torch_cli/charlm.rnn" --data t.txt --out pt --steps 1 \
  --set lr=1e-12 --set batch=2 --set bptt=4 --init-from "$FIX/interchange/charlm.pt"
grep -qx "weights from $FIX/interchange/charlm.pt" "$TMP/err" || fail "no 'weights from' line"
run_ok "$RECUR" inspect pt/last.ckpt
grep -q '^step 1,' "$TMP/out" || fail "not a fresh run at step 1"
grep -q 'optim_t=1)' "$TMP/out" || fail "not a new optimiser"
run_ok "$RECUR" convert pt/last.ckpt pt.safetensors
run_ok "$CMP" --rtol 1e-6 --atol 1e-9 pt.safetensors "$FIX/torch_cli/charlm.weights.safetensors"
# From a checkpoint: a fresh run again, from the first run's weights
run_ok "$RECUR" train "$FIX/torch_cli/charlm.rnn" --data t.txt --out ck --steps 2 \
  --set lr=1e-12 --set batch=2 --set bptt=4 --init-from pt/last.ckpt
run_ok "$RECUR" inspect ck/last.ckpt
grep -q '^step 2,' "$TMP/out" || fail "from a checkpoint: not at step 2"
run_ok "$RECUR" convert ck/last.ckpt ck.safetensors
run_ok "$CMP" --rtol 1e-6 --atol 1e-9 ck.safetensors "$FIX/torch_cli/charlm.weights.safetensors"
# Another model's weights: every mismatch named, nothing written
run_status 1 "$RECUR" train "$FIX/torch_cli/charlm.rnn" --data t.txt --out bad --steps 1 \
  --set batch=2 --set bptt=4 --init-from "$FIX/interchange/gru_cls.pt"
grep -q "gru_cls.pt: error: tensor 'embedding1.weight' \[11, 5\] is missing" "$TMP/err" ||
  fail "a missing tensor is not named"
grep -q "gru_cls.pt: error: cannot start from these weights: they are not the model's" "$TMP/err" ||
  fail "no summary error"
[ ! -e bad ] || fail "a run directory was made for refused weights"
run_status 2 "$RECUR" train "$FIX/torch_cli/charlm.rnn" --data t.txt --out pt --resume \
  --init-from pt.safetensors
grep -q -- "--init-from starts a new run: not with --resume" "$TMP/err" || fail "no usage error"
pass
