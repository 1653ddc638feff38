# train_common.sh: sourced by the tests/train_*.sh end-to-end scripts.
# Sets $recur (the built binary), $src (the source tree), $work (a fresh temporary directory,
# removed on exit), and defines fail/expect helpers. A missing binary or a binary without the
# train command is a failure (exit 1), never a skip.
set -u
src=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
recur=${top_builddir:-.}/recur
[ -x "$recur" ] || { echo "FAIL: no recur binary at $recur" >&2; exit 1; }
recur=$(cd "$(dirname "$recur")" && pwd)/$(basename "$recur")
src=$(cd "$src" && pwd)
"$recur" help train 2>&1 | grep -q -- --resume || { echo "FAIL: recur has no train command" >&2; exit 1; }
work=$(mktemp -d "${TMPDIR:-/tmp}/recur-train.XXXXXX")
trap 'rm -rf "$work"' EXIT
export OPENBLAS_NUM_THREADS=1
cd "$work" || exit 2

fail() { echo "FAIL: $*" >&2; exit 1; }
# expect_fail NEEDLE CMD...: CMD must exit non-zero and print NEEDLE on stderr.
expect_fail() {
    needle=$1
    shift
    if "$@" >out.txt 2>err.txt; then cat err.txt >&2; fail "succeeded: $*"; fi
    grep -qF -- "$needle" err.txt || { cat err.txt >&2; fail "no '$needle' from: $*"; }
}
# The loss column of the first and last data rows of a log.csv.
first_loss() { sed -n 2p "$1" | cut -d, -f2; }
last_loss() { tail -n 1 "$1" | cut -d, -f2; }
# awk comparison: lt A B is true when A < B.
lt() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a < b) }'; }
