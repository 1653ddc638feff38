# lib.sh: helpers for the CLI test scripts. Each script sources this, runs recur and asserts.
set -u
SRC=${top_srcdir:-.}
BUILD=${top_builddir:-.}
RECUR="$BUILD/recur"
TMP=$(mktemp -d "${TMPDIR:-/tmp}/recur-test.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
NAME=$(basename "$0" .sh)

fail() { echo "FAIL $NAME: $*" >&2; [ -f "$TMP/out" ] && sed 's/^/  out: /' "$TMP/out" | head -40 >&2;
         [ -f "$TMP/err" ] && sed 's/^/  err: /' "$TMP/err" | head -40 >&2; exit 1; }
pass() { echo "PASS $NAME"; exit 0; }
# run_status N CMD...: runs CMD, stdout to $TMP/out, stderr to $TMP/err, expects exit status N.
run_status() {
  want=$1; shift
  "$@" > "$TMP/out" 2> "$TMP/err"; got=$?
  [ "$got" = "$want" ] || fail "expected exit $want, got $got from: $*"
}
run_ok() { run_status 0 "$@"; }
