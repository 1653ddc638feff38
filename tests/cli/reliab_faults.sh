#!/bin/sh
# I/O faults at every write (issue 14 item 7): tests/fault/libfault.so (LD_PRELOAD) makes the
# Nth write/fsync/fdatasync/rename/close fail with EIO or ENOSPC (alternating), for every N
# over a short training run with checkpoints every 3 steps (log rows every 2), and over `recur convert` to every
# format recur writes. After each fault: the command succeeds (a fault it may ignore) or fails
# with an error naming a file; no temporary file is left; a checkpoint or output that exists
# is the previous good one (an output: byte for byte); and a failed training run resumes
# (--resume, or afresh before its first checkpoint) to the uninterrupted run's last.ckpt
# (cmp) and log.csv (cmp without its timing columns). The counts are printed for the report.
. "${top_srcdir:-.}/tests/cli/lib.sh"
export OPENBLAS_NUM_THREADS=1
RECUR=$(cd "$BUILD" && pwd)/recur; SRC=$(cd "$SRC" && pwd)
SHIM=$(cd "$BUILD" && pwd)/tests/fault/.libs/libfault.so
[ -f "$SHIM" ] || fail "no fault shim at $SHIM"
# A sanitizer build's runtime must come first; the shim is loaded before it here.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"
cd "$TMP" || fail "cd"
printf 'model m {\n  input vector(2)\n  lstm(4)\n  pool(last)\n  dense(1)\n}\n' > s.rnn
printf 'data { source = adding(length=5) }\n' >> s.rnn
T="--steps 7 --set checkpoint_every=3 --set log_every=2 --set eval_every=4"
# shellcheck disable=SC2086
"$RECUR" train s.rnn --out full $T > /dev/null 2>&1 || fail "uninterrupted run"
nolog() { cut -d, -f1-5,8- "$1"; }
nolog full/log.csv > full.log
# faulty N CMD...: runs CMD with call N failing (errno by N's parity); rc in $rc.
faulty() {
  n=$1; shift
  e=EIO; [ $((n % 2)) = 0 ] && e=ENOSPC
  LD_PRELOAD="$SHIM" FAULT_N=$n FAULT_ERRNO=$e FAULT_HIT=hit "$@" > "$TMP/out" 2> "$TMP/err"
  rc=$?
}
count() { rm -f cnt; LD_PRELOAD="$SHIM" FAULT_N=0 FAULT_COUNT=cnt "$@" > /dev/null 2>&1; cat cnt; }

# ---- training ----
# shellcheck disable=SC2086
C=$(rm -rf c && count "$RECUR" train s.rnn --out c $T)
[ "$C" -gt 10 ] || fail "only $C calls counted in training"
absorbed=0; resumed=0; restarted=0; ops=""
n=1
while [ $n -le "$C" ]; do
  rm -rf f hit
  # shellcheck disable=SC2086
  faulty $n "$RECUR" train s.rnn --out f $T
  what=$(cat hit 2>/dev/null)
  ops="$ops ${what#* }:$rc"
  case $rc in
    0) absorbed=$((absorbed + 1)) ;;
    1) grep -q "^f/[^ ]*: error: .*\(Input/output error\|No space left on device\)" "$TMP/err" ||
         fail "training fault $n ($what): the error does not name the file and the cause" ;;
    *) fail "training fault $n ($what): exit $rc" ;;
  esac
  ls f 2>/dev/null | grep -q '\.tmp\.' && fail "training fault $n ($what): a temporary is left"
  if [ $rc = 1 ]; then
    if [ -e f/last.ckpt ]; then
      "$RECUR" inspect f/last.ckpt > /dev/null 2>&1 || fail "fault $n ($what): last.ckpt damaged"
      # shellcheck disable=SC2086
      "$RECUR" train s.rnn --out f $T --resume > /dev/null 2>&1 || fail "fault $n: resume"
      resumed=$((resumed + 1))
    else
      rm -rf f
      # shellcheck disable=SC2086
      "$RECUR" train s.rnn --out f $T > /dev/null 2>&1 || fail "fault $n: restart"
      restarted=$((restarted + 1))
    fi
  fi
  cmp -s f/last.ckpt full/last.ckpt || fail "training fault $n ($what): other final weights"
  nolog f/log.csv > f.log
  cmp -s f.log full.log || fail "training fault $n ($what): another log.csv"
  n=$((n + 1))
done
# per call and outcome (exit status 0 or 1), e.g. "12 write:1"
echo "training faults by call and exit status:$(echo "$ops" | tr ' ' '\n' | grep . | sort | uniq -c | tr -s ' \n' ' ')"
echo "training: $C injection points: $absorbed absorbed (exit 0, same result), $resumed failed and resumed from the last good checkpoint, $restarted failed before the first checkpoint and restarted; all identical to the uninterrupted run"

# ---- convert to every format ----
# shellcheck disable=SC2086
"$RECUR" train s.rnn --out prev --steps 2 > /dev/null 2>&1 || fail "previous run"
total=0
for ext in ckpt safetensors pt npz h5; do
  model=""; [ $ext = ckpt ] && model="--model s.rnn"
  # shellcheck disable=SC2086
  "$RECUR" convert prev/last.ckpt good.$ext $model > /dev/null 2>&1 || fail "convert to .$ext"
  # shellcheck disable=SC2086
  C=$(rm -f out.$ext && count "$RECUR" convert full/last.ckpt out.$ext $model)
  [ "$C" -gt 2 ] || fail "only $C calls counted converting to .$ext"
  "$RECUR" inspect out.$ext > ref.txt 2>&1 || fail "inspect .$ext"
  ok=0; failed=0; synced=0; n=1
  while [ $n -le "$C" ]; do
    cp good.$ext out.$ext
    rm -f hit
    # shellcheck disable=SC2086
    faulty $n "$RECUR" convert full/last.ckpt out.$ext $model
    what=$(cat hit 2>/dev/null)
    case $rc in
      0) ok=$((ok + 1)); "$RECUR" inspect out.$ext > /dev/null 2>&1 ||
           fail ".$ext fault $n ($what): success but the output does not read" ;;
      1) grep -q "^out\.$ext: error: .*\(Input/output error\|No space left on device\)" "$TMP/err" ||
           fail ".$ext fault $n ($what): the error does not name out.$ext and the cause"
         if grep -q "cannot sync directory" "$TMP/err"; then
           # renamed into place, but the rename's durability is not known: the new output
           synced=$((synced + 1))
           "$RECUR" inspect out.$ext > got.txt 2>&1 && cmp -s got.txt ref.txt ||
             fail ".$ext fault $n ($what): after the rename, not the new output"
         else
           failed=$((failed + 1))
           cmp -s out.$ext good.$ext || fail ".$ext fault $n ($what): the previous output changed"
         fi ;;
      *) fail ".$ext fault $n ($what): exit $rc" ;;
    esac
    ls | grep -q '\.tmp\.' && fail ".$ext fault $n ($what): a temporary is left"
    n=$((n + 1))
  done
  total=$((total + C))
  echo "convert to .$ext: $C injection points: $failed failed naming out.$ext with the previous output intact, $synced failed at the directory's fsync after the rename (the new output in place), $ok absorbed"
done
echo "convert: $total injection points over 5 formats"
pass
