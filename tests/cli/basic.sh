#!/bin/sh
# The recur program's own surface: help, version, usage errors and exit codes, and every bundled
# model in models/ passing `recur check`.
. "${top_srcdir:-.}/tests/cli/lib.sh"

run_ok "$RECUR" --version
grep -q '^recur [0-9]' "$TMP/out" || fail "--version prints no version"
run_ok "$RECUR" --help
cp "$TMP/out" "$TMP/help"
for c in check graph init run convert inspect train sample eval; do
  grep -q "^  $c " "$TMP/help" || fail "--help does not list $c"
  run_ok "$RECUR" help "$c"
  grep -q "^usage: recur $c" "$TMP/out" || fail "help $c prints no usage"
  grep -q "^example: " "$TMP/out" || fail "help $c has no example"
done
run_status 2 "$RECUR"
run_status 2 "$RECUR" chekc
grep -q "did you mean 'check'" "$TMP/err" || fail "no suggestion for chekc"
run_status 2 "$RECUR" check
run_status 2 "$RECUR" check --bogus "$SRC/models/charlm.rnn"
# Bad option values are usage errors (exit 2) naming the option.
for bad in "train $SRC/models/adding.rnn --steps 0" "train $SRC/models/adding.rnn --seed -3" \
           "train $SRC/models/adding.rnn --steps 5 --epochs 5" "train $SRC/models/adding.rnn --threads 0" \
           "sample x.ckpt --top-p 1.5" "sample x.ckpt --temperature nan" "sample x.ckpt --length 2x" \
           "init $SRC/models/adding.rnn -o $TMP/z.ckpt --seed x"; do
  # shellcheck disable=SC2086
  run_status 2 "$RECUR" $bad
  grep -q "^recur [a-z]*: .*--" "$TMP/err" || fail "no option named for: $bad"
done

# Every bundled model is valid (vocab/classes may stay auto for check).
for m in "$SRC"/models/*.rnn; do
  run_ok "$RECUR" check "$m"
done
run_ok "$RECUR" check "$SRC"/models/*.rnn

# A missing file is an error naming the file, exit 1.
run_status 1 "$RECUR" check "$TMP/nope.rnn"
grep -q "nope.rnn" "$TMP/err" || fail "missing file not named"
pass
