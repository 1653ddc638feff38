#!/bin/sh
# bench.sh: what `make bench` runs (not part of make check).
#   1. bench_rnn on every configuration of issue 10's table: recur's executor, PyTorch (the
#      reference harness, when /usr/bin/python3 has torch) and oneDNN's bare primitives, from one
#      run each, train and infer, 2 threads;
#   2. part 1's configurations but the one-hot and H1024 ones again with oneDNN limited to AVX2
#      (DNNL_MAX_CPU_ISA=AVX2), as an AVX2-only machine runs them;
#   3. whole processes: `recur train models/charlm.rnn` on the bundled corpus against
#      tests/bench/torch_charlm_train.py (the same model, data and settings), tok/s and peak RSS;
#   4. batch-1 sampling (perf2): a whole `recur sample` process from a models/charlm.rnn
#      checkpoint (one training step) against tests/bench/torch_sample.py's loop (the same model;
#      only its loop is timed), at 1 and 2 threads, tok/s and the ratio; then the same with gru
#      and rnn layers in place of the lstm;
#   5. BENCH_THREADS threads against 1: bench_rnn at 1 thread, then at BENCH_THREADS, one process
#      each (as a user runs --threads; within one process oneDNN's inference keeps the threads
#      it first ran on, see bench_rnn.c), on every configuration of part 1, recur's step and the
#      bare layers'; prints the speed-up of the larger count (x above 1: more threads are faster);
#   6. the user-cell row: bench_rnn --cell peephole (models/peephole.rnn's peephole LSTM, H512,
#      embedding 64, B32 T100, on the cell interpreter) against tests/bench/torch_peephole.py (the
#      same cell as a PyTorch Python loop), and the interpreter's peak memory: whole `recur train
#      models/charlm.rnn` processes of BENCH_MEM_STEPS (3) steps on the fused path and with
#      RECUR_INTERPRETER=1 (issue 10 item 6: at most 2x), peak RSS and their ratio.
# The machine may be shared: read the ratios of one run, and the load figures printed with them.
# PyTorch runs with the same OpenMP wait policy as recur (exec_omp_setup in src/exec/exec_omp.c).
# Environment: BENCH_ARGS (extra bench_rnn options, e.g. "--steps 5"), BENCH_THREADS (2),
# BENCH_TRAIN_STEPS (30, for part 3), BENCH_ONLY=1|2|3|4|5|6 (one part),
# BENCH_MEM_STEPS (3, for part 6),
# BENCH_SAMPLE_LENGTH (3000, for part 4), TORCH_PYTHON (/usr/bin/python3).
set -u
SRC=${top_srcdir:-.}
BUILD=${top_builddir:-.}
TH=${BENCH_THREADS:-2}
PY=${TORCH_PYTHON:-/usr/bin/python3}
ARGS=${BENCH_ARGS:-}
TORCH=
if [ -x "$PY" ] && "$PY" -c 'import torch' 2>/dev/null; then
  TORCH="$PY $SRC/tests/bench/torch_bench.py"
else
  echo "# no PyTorch at $PY: timing recur and oneDNN alone"
fi
part() { [ -z "${BENCH_ONLY:-}" ] || [ "$BENCH_ONLY" = "$1" ]; }
echo "# $(uptime)"
grep -m1 "model name" /proc/cpuinfo
echo "# avx512f: $(grep -c avx512f /proc/cpuinfo) of $(nproc) cpus; OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset}"

bench() { # bench_rnn with the shared options
  "$BUILD/tests/bench/bench_rnn" --threads "$TH" ${TORCH:+--torch "$TORCH"} "$@" $ARGS
}
# issue 10's table (parts 1 and 5)
CONFIGS="--cell lstm --hidden 128 --layers 1 --batch 32 --seq 64 --input embedding --embed 32
--cell lstm --hidden 512 --layers 2 --batch 32 --seq 100 --input onehot
--cell lstm --hidden 512 --layers 2 --batch 32 --seq 100 --input embedding --embed 64 --clip 5
--cell lstm --hidden 1024 --layers 2 --batch 64 --seq 100 --input embedding --embed 64 --steps 6 --warmup 1
--cell gru --hidden 512 --layers 2 --batch 32 --seq 100 --input embedding --embed 64
--cell rnn --hidden 512 --layers 2 --batch 32 --seq 100 --input embedding --embed 64"
if part 1; then
  while read -r cfg; do
    echo "== $cfg"
    bench $cfg || exit 1
  done <<EOF
$CONFIGS
EOF
fi
if part 2; then
  # every configuration of part 1 but the one-hot and H1024 ones (the same cells and sizes
  # again), as an AVX2-only machine would run them
  while read -r cfg; do
    case $cfg in *onehot*|*"--hidden 1024"*) continue ;; esac
    echo "== DNNL_MAX_CPU_ISA=AVX2: $cfg"
    DNNL_MAX_CPU_ISA=AVX2 bench $cfg || exit 1
  done <<EOF
$CONFIGS
EOF
fi
if part 3; then
  N=${BENCH_TRAIN_STEPS:-30}
  T=$(mktemp -d "${TMPDIR:-/tmp}/recur-bench.XXXXXX")
  trap 'rm -rf "$T"' EXIT
  echo "== whole processes: recur train models/charlm.rnn --steps $N --threads $TH (tinyshakespeare)"
  /usr/bin/time -f "recur peak RSS %M KB, wall %e s" "$BUILD/recur" train "$SRC/models/charlm.rnn" \
    --data "$SRC/examples/tinyshakespeare.txt" --steps "$N" --threads "$TH" \
    --set log_every=10 --set eval_every=100000 --out "$T/run" 2>&1 | grep -E "^step $N/|peak RSS"
  if [ -n "$TORCH" ]; then
    # PyTorch with the OpenMP wait policy recur chose (bench_rnn's harness runs inherit it
    # from bench_rnn); spinning threads on a shared machine would penalise it unfairly
    W=$("$BUILD/tests/bench/bench_rnn" --hidden 8 --layers 1 --batch 1 --seq 1 --steps 1 --warmup 0 --no-bare |
        sed -n 's/.*OMP_WAIT_POLICY=\([A-Z]*\).*GOMP_SPINCOUNT=\([0-9a-z]*\).*/\1 \2/p')
    case "$W" in
      "PASSIVE "*) export OMP_WAIT_POLICY=PASSIVE ;;
      *" "[0-9]*) export GOMP_SPINCOUNT="${W#* }" ;;
    esac
    /usr/bin/time -f "PyTorch peak RSS %M KB, wall %e s" "$PY" "$SRC/tests/bench/torch_charlm_train.py" \
      "$SRC/examples/tinyshakespeare.txt" --steps "$N" --threads "$TH" 2>&1 | grep -E "^RESULT|peak RSS"
  fi
fi
if part 4; then
  N=${BENCH_SAMPLE_LENGTH:-3000}
  T4=$(mktemp -d "${TMPDIR:-/tmp}/recur-bench4.XXXXXX")
  for cell in lstm gru rnn; do
    # models/charlm.rnn as it is (the issue's row), and with gru / rnn layers in its place
    M="$T4/$cell.rnn"
    sed "s/^\( *\)lstm(512,/\1$cell(512,/" "$SRC/models/charlm.rnn" >"$M"
    grep -q "$cell(512," "$M" || { echo "bench: could not make the $cell model"; rm -rf "$T4"; exit 1; }
    "$BUILD/recur" train "$M" --data "$SRC/examples/tinyshakespeare.txt" \
      --steps 1 --set eval_every=100000 --set checkpoint_every=1 --out "$T4/$cell" >/dev/null 2>&1 ||
      { echo "bench: could not train the $cell sampling checkpoint"; rm -rf "$T4"; exit 1; }
    for th in 1 2; do
      echo "== batch-1 sampling, models/charlm.rnn ($cell 512 x 2), $N characters, $th thread(s)"
      t0=$(date +%s.%N)
      "$BUILD/recur" sample "$T4/$cell/last.ckpt" --length "$N" --seed 1 --threads "$th" >/dev/null ||
        { rm -rf "$T4"; exit 1; }
      t1=$(date +%s.%N)
      R=$(awk -v n="$N" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", n / (b - a) }')
      echo "recur sample (whole process): $R tok/s"
      if [ -n "$TORCH" ]; then
        P=$("$PY" "$SRC/tests/bench/torch_sample.py" --length "$N" --threads "$th" --cell "$cell" |
            sed -n 's/^RESULT tok_per_s=\([0-9.]*\).*/\1/p')
        echo "PyTorch sampling loop: $P tok/s; recur/PyTorch $(awk -v r="$R" -v p="$P" 'BEGIN { printf "%.2fx", r / p }')"
      fi
    done
  done
  rm -rf "$T4"
fi
if part 5; then
  T5=$(mktemp -d "${TMPDIR:-/tmp}/recur-bench5.XXXXXX")
  while read -r cfg; do
    echo "== $TH threads vs 1, one process each: $cfg"
    for th in 1 "$TH"; do
      "$BUILD/tests/bench/bench_rnn" --threads "$th" $cfg $ARGS >"$T5/at$th" ||
        { rm -rf "$T5"; exit 1; }
    done
    # "recur train lstm H=.. L=.. B=.. T=.. threads=N engine=..: X ms/step, ..; bare oneDNN
    # layers, in turn: Y ms/step, .." from each process -> X and Y per mode and thread count
    awk -v th="$TH" '
      /^recur (train|infer) / {
        k = FILENAME == ARGV[1] ? 1 : 2; m = $2; what[m] = $3 " " $4 " " $5 " " $6 " " $7
        n = split($0, p, ": "); split(p[2], a, " "); ms["recur", m, k] = a[1]
        if (n >= 3) { split(p[3], b, " "); ms["bare", m, k] = b[1] }
      }
      END {
        for (s = 0; s < 2; s++) for (i = 0; i < 2; i++) {
          side = s ? "bare" : "recur"; m = i ? "infer" : "train"
          if (ms[side, m, 1] == "" || ms[side, m, 2] == "") continue
          printf "RESULT threads %s %s %s: 1 threads %s ms/step, %d threads %s ms/step: x%.2f\n",
            side, m, what[m], ms[side, m, 1], th, ms[side, m, 2], ms[side, m, 1] / ms[side, m, 2]
        }
      }' "$T5/at1" "$T5/at$TH"
  done <<EOF
$CONFIGS
EOF
  rm -rf "$T5"
fi
if part 6; then
  echo "== user cell: --cell peephole --hidden 512 --layers 1 --batch 32 --seq 100 --input embedding --embed 64"
  "$BUILD/tests/bench/bench_rnn" --threads "$TH" --cell peephole --hidden 512 --layers 1 \
    --batch 32 --seq 100 --input embedding --embed 64 $ARGS \
    ${TORCH:+--torch "$PY $SRC/tests/bench/torch_peephole.py"} || exit 1
  N=${BENCH_MEM_STEPS:-3}
  T5=$(mktemp -d "${TMPDIR:-/tmp}/recur-bench5.XXXXXX")
  echo "== peak memory: recur train models/charlm.rnn --steps $N, fused path and RECUR_INTERPRETER=1"
  for interp in 0 1; do
    RECUR_INTERPRETER=$interp /usr/bin/time -f "%M" -o "$T5/rss$interp" "$BUILD/recur" train \
      "$SRC/models/charlm.rnn" --data "$SRC/examples/tinyshakespeare.txt" --steps "$N" \
      --threads "$TH" --set eval_every=100000 --out "$T5/run$interp" >/dev/null 2>&1 ||
      { echo "bench: recur train failed (RECUR_INTERPRETER=$interp)"; rm -rf "$T5"; exit 1; }
  done
  F=$(cat "$T5/rss0") I=$(cat "$T5/rss1")
  echo "fused peak RSS $F KB, interpreter peak RSS $I KB: interpreter/fused $(awk -v i="$I" -v f="$F" 'BEGIN { printf "%.2fx", i / f }')"
  rm -rf "$T5"
fi
