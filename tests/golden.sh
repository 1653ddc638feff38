#!/bin/sh
# golden.sh: runs a command over golden test files and compares its output with the expected.
#
#   tests/golden.sh DIR CMD [ARGS...]
#
# For every tests/golden/DIR/NAME.rnn, runs `CMD ARGS... DIR/NAME.rnn` from tests/golden (so
# file names in messages are relative and stable), captures stdout and stderr together, and
# diffs them with DIR/NAME.expected, and checks the exit status (1 when an error is expected).
# Prints a diff for each failure and "N passed, N failed" as the last line; exits 1 if anything
# failed or no file was found.
# GOLDEN_UPDATE=1 rewrites the .expected files from the current output instead (review them!).
set -u
if [ $# -lt 2 ]; then
    echo "usage: golden.sh DIR CMD [ARGS...]" >&2
    exit 2
fi
dir=$1
shift
here=$(cd "$(dirname "$0")" && pwd)
golden=${top_srcdir:+$top_srcdir/tests/golden}
[ -n "$golden" ] && [ -d "$golden" ] || golden=$here/golden
golden=$(cd "$golden" && pwd)

# The command runs from another directory: make a relative path to it absolute.
cmd=$1
shift
case $cmd in
    */*) [ -e "$cmd" ] && cmd=$(cd "$(dirname "$cmd")" && pwd)/$(basename "$cmd") ;;
esac

tmp=${TMPDIR:-/tmp}/golden.$$
trap 'rm -f "$tmp"' EXIT INT TERM
pass=0
fail=0
cd "$golden" || exit 2
for f in "$dir"/*.rnn; do
    [ -e "$f" ] || continue
    exp=${f%.rnn}.expected
    "$cmd" "$@" "$f" >"$tmp" 2>&1
    status=$?
    if [ "${GOLDEN_UPDATE:-}" = 1 ]; then
        cp "$tmp" "$exp"
    fi
    # A file whose expected output has an error must make CMD exit 1; any other must exit 0.
    want=0
    grep -q ': error: ' "$exp" 2>/dev/null && want=1
    if [ "$status" != "$want" ]; then
        fail=$((fail + 1))
        echo "FAIL: $f: exit status $status, expected $want"
    elif [ -f "$exp" ] && diff -u "$exp" "$tmp" >/dev/null 2>&1; then
        pass=$((pass + 1))
    else
        fail=$((fail + 1))
        echo "FAIL: $f"
        if [ -f "$exp" ]; then
            diff -u "$exp" "$tmp"
        else
            echo "  (no $exp)"
        fi
    fi
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ] && [ "$pass" -gt 0 ]
