#!/bin/sh
# Bad input to init/run/convert/inspect: each a clear error naming the file (and the tensor or
# element), exit 1, no crash, and nothing written in place of the output.
. "${top_srcdir:-.}/tests/cli/lib.sh"
FIX="$SRC/tests/fixtures/torch_cli"

# vocab=auto with nothing to bind it
run_status 1 "$RECUR" init "$SRC/models/charlm.rnn" -o "$TMP/c.ckpt"
grep -q "vocab" "$TMP/err" || fail "unbound vocab not explained"
[ ! -e "$TMP/c.ckpt" ] || fail "a checkpoint was written for an invalid model"

# weights of another model: every missing, extra and mis-shaped tensor by name
run_status 1 "$RECUR" convert "$FIX/charlm.weights.safetensors" "$TMP/x.ckpt" --model "$FIX/gru_cls.rnn"
grep -q "charlm.weights.safetensors: error: tensor 'gru1.weight_ih_l0' \[18, 4\] is missing" "$TMP/err" || fail "missing tensor not named"
grep -q "tensor 'dense1.weight' is \[11, 7\], the model expects \[3, 12\]" "$TMP/err" || fail "shape mismatch not named"
grep -q "tensor 'embedding1.weight' is not in the model" "$TMP/err" || fail "extra tensor not named"
[ ! -e "$TMP/x.ckpt" ] || fail "a checkpoint was written from mismatched weights"

run_ok "$RECUR" convert "$FIX/charlm.weights.safetensors" "$TMP/c.ckpt" --model "$FIX/charlm.rnn"
cp "$TMP/c.ckpt" "$TMP/good.ckpt"

# corrupted and truncated checkpoints, and foreign files
size=$(wc -c < "$TMP/c.ckpt")
for off in 0 7 12 30 $((size / 2)) $((size - 1)); do
  cp "$TMP/good.ckpt" "$TMP/bad.ckpt"
  printf '\377' | dd of="$TMP/bad.ckpt" bs=1 seek="$off" conv=notrunc 2>/dev/null
  cmp -s "$TMP/bad.ckpt" "$TMP/good.ckpt" && continue
  run_status 1 "$RECUR" inspect "$TMP/bad.ckpt"
  grep -q "bad.ckpt" "$TMP/err" || fail "corruption at $off: error does not name the file"
done
for n in 0 5 24 100 $((size - 1)); do
  head -c "$n" "$TMP/good.ckpt" > "$TMP/trunc.ckpt"
  run_status 1 "$RECUR" run "$TMP/trunc.ckpt" --input "$FIX/charlm.input.npy" --output "$TMP/o.npy"
  grep -q "trunc.ckpt" "$TMP/err" || fail "truncation at $n: error does not name the file"
done
[ ! -e "$TMP/o.npy" ] || fail "output written for a bad checkpoint"
run_status 1 "$RECUR" run "$FIX/charlm.input.npy" --input "$FIX/charlm.input.npy" --output "$TMP/o.npy"
run_status 1 "$RECUR" inspect "$FIX/charlm.rnn"
run_status 1 "$RECUR" inspect "$TMP/nothing-here"
grep -q "nothing-here" "$TMP/err" || fail "missing file not named"

# inputs that do not fit the model
run_status 1 "$RECUR" run "$TMP/c.ckpt" --input "$FIX/gru_cls.input.npy" --output "$TMP/o.npy"
grep -q "gru_cls.input.npy: error: the model reads token ids" "$TMP/err" || fail "float input to a token model"
printf '\223NUMPY\001\000v\000{'"'"'descr'"'"': '"'"'<i4'"'"', '"'"'fortran_order'"'"': False, '"'"'shape'"'"': (1, 1), }' > "$TMP/ids.npy"
pad=$((128 - $(wc -c < "$TMP/ids.npy") - 1)); printf "%${pad}s\n" "" >> "$TMP/ids.npy"
printf '\143\000\000\000' >> "$TMP/ids.npy"   # one id: 99 >= vocab 11
run_status 1 "$RECUR" run "$TMP/c.ckpt" --input "$TMP/ids.npy" --output "$TMP/o.npy"
grep -q "99" "$TMP/err" || fail "out-of-range token id not reported: $(cat "$TMP/err")"
run_status 1 "$RECUR" run "$TMP/c.ckpt" --input "$FIX/charlm.input.npy" --output "$TMP/o.npy" \
  --target "$FIX/gru_cls.target.npy"
grep -q "gru_cls.target.npy" "$TMP/err" || fail "mis-shaped target not named"
run_status 2 "$RECUR" run "$TMP/c.ckpt" --input "$FIX/charlm.input.npy"
# NaN, infinity and float64 values beyond float32 in run inputs and targets: refused with the index
# npy_f DTYPE SHAPE OUT BYTES: a .npy file with a 128-byte header and the given data bytes (octal)
npy_f() {
  printf '\223NUMPY\001\000v\000{'"'"'descr'"'"': '"'"'%s'"'"', '"'"'fortran_order'"'"': False, '"'"'shape'"'"': %s, }' "$1" "$2" > "$3"
  pad=$((128 - $(wc -c < "$3") - 1)); printf "%${pad}s\n" "" >> "$3"
  printf "$4" >> "$3"
}
run_ok "$RECUR" convert "$FIX/rnn_reg.weights.safetensors" "$TMP/r.ckpt" --model "$FIX/rnn_reg.rnn"
npy_f '<f4' '(1, 1, 3)' "$TMP/ok.npy" '\0\0\200\077\0\0\0\0\0\0\0\100'
run_ok "$RECUR" run "$TMP/r.ckpt" --input "$TMP/ok.npy" --output "$TMP/o.npy"
npy_f '<f4' '(1, 1, 3)' "$TMP/nan.npy" '\0\0\200\077\0\0\300\177\0\0\0\0'
run_status 1 "$RECUR" run "$TMP/r.ckpt" --input "$TMP/nan.npy" --output "$TMP/o2.npy"
grep -q "nan.npy: error: element \[0, 0, 1\] is nan" "$TMP/err" || fail "NaN input not refused with its index"
[ ! -e "$TMP/o2.npy" ] || fail "output written for a NaN input"
npy_f '<f8' '(1, 1, 3)' "$TMP/big.npy" '\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\234\165\0\210\074\344\067\176'
run_status 1 "$RECUR" run "$TMP/r.ckpt" --input "$TMP/big.npy" --output "$TMP/o2.npy"
grep -q "big.npy: error: element \[0, 0, 2\] is 1e+300, beyond float32's range" "$TMP/err" || fail "1e300 not refused"
npy_f '<f4' '(1, 1, 2)' "$TMP/inf.npy" '\0\0\200\177\0\0\0\0'
run_status 1 "$RECUR" run "$TMP/r.ckpt" --input "$TMP/ok.npy" --output "$TMP/o2.npy" --target "$TMP/inf.npy"
grep -q "inf.npy: error: element \[0, 0, 0\] is inf" "$TMP/err" || fail "infinite target not refused"
pass
