#!/bin/sh
# examples/embed: a program using only recur.h compiles a model, runs it and prints its output;
# bad input gives an error message and exit 1.
. "${top_srcdir:-.}/tests/cli/lib.sh"
EMBED="$BUILD/examples/embed"
run_ok "$EMBED" "$SRC/models/charlm.rnn" vocab=65
grep -q "3322497 parameters, output 8 rows x 65" "$TMP/out" || fail "unexpected summary"
run_ok "$RECUR" init "$SRC/models/adding.rnn" -o "$TMP/a.ckpt" --seed 3
run_ok "$EMBED" "$TMP/a.ckpt"
grep -q "output 2 rows x 1" "$TMP/out" || fail "pooled output not 2 rows x 1"
run_status 1 "$EMBED" "$TMP/missing.ckpt"
grep -q "missing.ckpt" "$TMP/err" || fail "error does not name the file"
pass
