#!/bin/sh
# Messages name the real format (issue 14 item 4): a recur checkpoint with damaged magic is
# "not a recur checkpoint (bad magic)" through every command that reads one (the front door
# src/io/format.c and ckpt_read itself), and a file whose bytes do not match its extension says
# which format was expected and what was found.
. "${top_srcdir:-.}/tests/cli/lib.sh"
export OPENBLAS_NUM_THREADS=1
RECUR=$(cd "$BUILD" && pwd)/recur; SRC=$(cd "$SRC" && pwd)
cd "$TMP" || fail "cd"
printf 'model m {\n  input vector(2)\n  lstm(4)\n  pool(last)\n  dense(1)\n}\n' > s.rnn
printf 'data { source = adding(length=5) }\n' >> s.rnn
run_ok "$RECUR" train s.rnn --out r --steps 2
cp r/last.ckpt bad.ckpt
printf 'X' | dd of=bad.ckpt bs=1 seek=0 conv=notrunc 2>/dev/null
msg="bad.ckpt: error: not a recur checkpoint (bad magic): found the bytes 58 45 43 55 52 43 4b 50"
for cmd in "inspect bad.ckpt" "convert bad.ckpt out.npz" "eval bad.ckpt" \
           "train s.rnn --out r2 --steps 1 --init-from bad.ckpt" "sample bad.ckpt"; do
  # shellcheck disable=SC2086
  run_status 1 "$RECUR" $cmd
  grep -qxF "$msg" "$TMP/err" || fail "$cmd: the damaged checkpoint is not named as one"
done
[ ! -e out.npz ] || fail "convert wrote an output for a damaged input"
cp bad.ckpt r/last.ckpt
run_status 1 "$RECUR" train s.rnn --out r --steps 3 --resume
grep -qxF "r/last.ckpt: error: not a recur checkpoint (bad magic): found the bytes 58 45 43 55 52 43 4b 50" \
  "$TMP/err" || fail "--resume: the damaged last.ckpt is not named"
# Each extension names what it expected and what the bytes are.
echo "hello" > t.npy; cp "$SRC/tests/fixtures/interchange/charlm.npz" z.safetensors
: > e.pt
run_status 1 "$RECUR" inspect t.npy
grep -qxF "t.npy: error: not a NumPy .npy file (its extension says so, but the bytes do not): found text" \
  "$TMP/err" || fail "text named .npy"
run_status 1 "$RECUR" inspect z.safetensors
grep -q "^z.safetensors: error: the extension says safetensors but the content is NumPy .npz" \
  "$TMP/err" || fail "an .npz named .safetensors"
run_status 1 "$RECUR" inspect e.pt
grep -qxF "e.pt: error: not a PyTorch .pt (zip) file (its extension says so, but the bytes do not): found an empty file" \
  "$TMP/err" || fail "an empty .pt"
pass
