#!/bin/sh
# Limits checked up front (issue 14 item 1): a tensor over one checkpoint field (2 GiB) and a
# model whose training state exceeds this machine's memory are refused by `check` (and so by
# init/train, which compile the same way) with the numbers, at once; --threads above the core
# count warns; a 10 MB undefined identifier is reported quickly and cut in the message.
. "${top_srcdir:-.}/tests/cli/lib.sh"
export OPENBLAS_NUM_THREADS=1
cd "$TMP" || fail "cd"
RECUR=$(cd "$OLDPWD" && cd "$BUILD" && pwd)/recur
printf 'model m {\n  input vector(2)\n  lstm(12000)\n  pool(last)\n  dense(1)\n}\n' > big.rnn
for cmd in "check big.rnn" "init big.rnn -o big.ckpt" "train big.rnn --out big --steps 1"; do
  # shellcheck disable=SC2086
  run_status 1 "$RECUR" $cmd
  grep -q "^big.rnn:3:3: error: tensor 'lstm1.weight_hh_l0' (48000 x 12000) has 576000000 elements, 2.15 GiB as float32: more than the 2 GiB recur stores in one checkpoint field$" \
    "$TMP/err" || fail "$cmd: lstm(12000) not refused with its numbers"
done
[ ! -e big.ckpt ] && [ ! -e big/last.ckpt ] || fail "something was written for lstm(12000)"
{ printf 'model m {\n  input vector(20000)\n'
  i=0; while [ $i -lt 100 ]; do printf '  dense(20000)\n'; i=$((i + 1)); done; printf '}\n'; } \
  > huge.rnn
run_status 1 "$RECUR" check huge.rnn
grep -q "^huge.rnn:1:1: error: the model has 40002000000 parameters: training them needs 596.1 GiB (weights, gradients, optimiser state), more than the [0-9.]* GiB of memory of this machine$" \
  "$TMP/err" || fail "a model larger than memory is not refused"

printf 'model m {\n  input vector(2)\n  lstm(4)\n  pool(last)\n  dense(1)\n}\n' > s.rnn
printf 'data { source = adding(length=5) }\n' >> s.rnn
cores=$(getconf _NPROCESSORS_ONLN)
run_ok "$RECUR" train s.rnn --out t --steps 1 --threads $((cores + 1))
grep -q "^recur: warning: --threads $((cores + 1)) is more than the $cores cores of this machine" \
  "$TMP/err" || fail "--threads above the core count does not warn"
run_ok "$RECUR" train s.rnn --out t2 --steps 1 --threads "$cores"
! grep -q warning "$TMP/err" || fail "--threads = cores warns"

{ printf 'model m {\n  input vector(2)\n  lstm('; head -c 10485760 /dev/zero | tr '\0' x
  printf ')\n  dense(1)\n}\n'; } > long.rnn
run_status 1 "$RECUR" check long.rnn
[ "$(wc -c < "$TMP/err")" -lt 1000 ] || fail "a 10 MB identifier is printed whole"
grep -q "^long.rnn:3:8: error: unknown name 'x\{40\}\.\.\.'$" "$TMP/err" ||
  fail "the identifier is not cut to 40 characters and ..."
pass
