#!/bin/sh
# Every file recur reads is checked to be a regular file before anything can block: a FIFO with
# no writer, a device or a directory given to any command is a clear error (exit 1), never a hang.
. "${top_srcdir:-.}/tests/cli/lib.sh"
FIX="$SRC/tests/fixtures/torch_cli"
mkfifo "$TMP/pipe" || fail "mkfifo"
run_ok "$RECUR" convert "$FIX/rnn_reg.weights.safetensors" "$TMP/r.ckpt" --model "$FIX/rnn_reg.rnn"
printf 'model m {\n  input tokens(vocab=auto)\n  onehot\n  lstm(8)\n  dense(vocab)\n}\n' > "$TMP/m.rnn"
# refused CMD...: the command ends within 20 s with exit 1, naming the FIFO as not a regular file.
refused() {
  run_status 1 timeout 20 "$@"
  grep -q "pipe: error: cannot read: it is a FIFO (named pipe), not a regular file" "$TMP/err" ||
    fail "no clear FIFO error from: $*"
}
refused "$RECUR" check "$TMP/pipe"
refused "$RECUR" check --explain "$TMP/pipe"
refused "$RECUR" graph "$TMP/pipe"
refused "$RECUR" inspect "$TMP/pipe"
refused "$RECUR" init "$TMP/pipe" -o "$TMP/x.ckpt"
refused "$RECUR" train "$TMP/pipe" --out "$TMP/run0"
refused "$RECUR" train "$TMP/m.rnn" --data "$TMP/pipe" --out "$TMP/run1" --steps 1
refused "$RECUR" run "$TMP/r.ckpt" --input "$TMP/pipe" --output "$TMP/o.npy"
refused "$RECUR" run "$TMP/pipe" --input "$TMP/pipe" --output "$TMP/o.npy"
refused "$RECUR" eval "$TMP/pipe"
refused "$RECUR" sample "$TMP/pipe"
refused "$RECUR" convert "$TMP/pipe" "$TMP/x.safetensors"
refused "$RECUR" convert "$TMP/pipe" "$TMP/x.ckpt" --model "$FIX/rnn_reg.rnn"
refused "$RECUR" convert "$FIX/rnn_reg.weights.safetensors" "$TMP/x.ckpt" --model "$TMP/pipe"
# devices and directories
run_status 1 timeout 20 "$RECUR" check /dev/zero
grep -q "/dev/zero: error: cannot read: it is a character device, not a regular file" "$TMP/err" ||
  fail "device not refused"
run_status 1 timeout 20 "$RECUR" inspect "$TMP"
grep -q "it is a directory, not a regular file" "$TMP/err" || fail "directory not refused"
[ ! -e "$TMP/o.npy" ] && [ ! -e "$TMP/x.ckpt" ] && [ ! -e "$TMP/x.safetensors" ] ||
  fail "an output was written after a refused input"
pass
