#!/bin/sh
# Which commands run themselves again at start to choose how OpenMP's idle threads wait
# (exec_omp_setup, exec.h): those that spend their time in OpenMP's parallel loops over windows
# of many rows (train, run, eval, trace) do, unless the user set OMP_WAIT_POLICY or
# GOMP_SPINCOUNT; the others start once (recur sample's batch-1 loop runs on recur's own
# threads, and the second start cost it about 18 ms). Counted with strace's execve trace.
. "${top_srcdir:-.}/tests/cli/lib.sh"
command -v strace >/dev/null || fail "strace is not installed (apt-get install strace)"
RECUR=$(cd "$BUILD" && pwd)/recur; SRC=$(cd "$SRC" && pwd)
cd "$TMP" || fail "cd"
unset OMP_WAIT_POLICY GOMP_SPINCOUNT
run_ok "$RECUR" train "$SRC/models/charlm.rnn" --data "$SRC/tests/fixtures/train/tiny.txt" \
  --steps 2 --set batch=4 --set bptt=16 --out lm
# starts CMD...: how many times CMD... started recur (1, or 2 when it ran itself again). The
# sanitizer build's LeakSanitizer cannot run under ptrace: off for these runs.
starts() {
  ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
    strace -f -qq -e trace=execve -o "$TMP/strace" "$@" > "$TMP/out" 2> "$TMP/err" ||
    fail "exit $? from: $*"
  grep -c 'execve(.* = 0$' "$TMP/strace"
}
n=$(starts "$RECUR" sample lm/best.ckpt --prime "the" --length 20 --seed 1)
[ "$n" = 1 ] || fail "recur sample started $n times"
n=$(starts "$RECUR" inspect lm/best.ckpt)
[ "$n" = 1 ] || fail "recur inspect started $n times"
n=$(starts "$RECUR" check "$SRC/models/charlm.rnn")
[ "$n" = 1 ] || fail "recur check started $n times"
n=$(starts "$RECUR" eval lm/best.ckpt --data "$SRC/tests/fixtures/train/tiny.txt")
[ "$n" = 2 ] || fail "recur eval started $n times, not twice (the wait policy is not chosen)"
grep -q '^loss: ' "$TMP/out" || fail "recur eval printed no loss"
n=$(starts env GOMP_SPINCOUNT=500 "$RECUR" eval lm/best.ckpt --data "$SRC/tests/fixtures/train/tiny.txt")
[ "$n" = 2 ] || fail "recur eval with GOMP_SPINCOUNT set: $n starts (env and recur: 2)"
pass
