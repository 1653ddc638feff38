#!/bin/sh
# Golden diagnostics through the real program: every tests/golden/*/X.rnn checked with
# `recur check` must print exactly X.expected on stderr and exit 1 (exit 0 when X.expected is
# empty: a file that must be accepted).
. "${top_srcdir:-.}/tests/cli/lib.sh"
cd "$SRC/tests/golden" || fail "no tests/golden"
abs_recur=$(cd "$OLDPWD" && cd "$(dirname "$RECUR")" && pwd)/recur
npass=0; nfail=0
for f in */*.rnn; do
  exp="${f%.rnn}.expected"
  [ -f "$exp" ] || { echo "missing $exp" >&2; nfail=$((nfail+1)); continue; }
  "$abs_recur" check "$f" > /dev/null 2> "$TMP/got"; st=$?
  want=1; [ -s "$exp" ] || want=0
  if [ "$st" != "$want" ]; then echo "FAIL $f: exit $st, expected $want" >&2; nfail=$((nfail+1)); continue; fi
  if diff -u "$exp" "$TMP/got" > "$TMP/diff"; then npass=$((npass+1)); else
    echo "FAIL $f:" >&2; head -30 "$TMP/diff" >&2; nfail=$((nfail+1)); fi
done
echo "golden: $npass passed, $nfail failed"
[ "$nfail" = 0 ] && [ "$npass" -ge 40 ] || exit 1
