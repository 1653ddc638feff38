#!/bin/sh
# mpi_scaling.sh (make bench-mpi): the figures of doc/MPI.md on this machine, for the character
# LSTM of models/charlm.rnn (vocab 65, embedding 64, 2 x lstm(512), batch 32 x 100) on
# examples/tinyshakespeare.txt:
#   1. tokens/s of one process x 2 threads and of mpirun -np 2 x 1 thread, alternated ROUNDS
#      times (a shared machine drifts; alternating keeps the comparison fair), from log.csv;
#   2. the per-step gradient all-reduce (bytes and ms, recur's own summary line);
#   3. the largest weight difference between -np 2 and one process after 1 and after 200 steps,
#      beside the same figure for one process at --threads 2 against --threads 1 (OpenBLAS
#      reassociating its sums: the yardstick for "within floating-point reassociation").
# Usage: tests/bench/mpi_scaling.sh [ROUNDS] (default 3; 0: only 3.); run from the build
# directory.
set -eu
ROUNDS=${1:-3}
top=$(cd "$(dirname "$0")/../.." && pwd)
build=$(pwd)
recur=$build/recur
tensorcmp=$build/tests/tensorcmp
[ -x "$recur" ] && [ -x "$tensorcmp" ] || { echo "build recur and tests/tensorcmp first" >&2; exit 2; }
command -v mpirun >/dev/null || { echo "no mpirun" >&2; exit 2; }
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_btl=self,vader
work=$(mktemp -d "${TMPDIR:-/tmp}/recur-mpi-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT
cd "$work"
model=$top/models/charlm.rnn
data=$top/examples/tinyshakespeare.txt
steps=40
# mean tokens_per_s of log.csv rows after the first (the first includes warm-up)
tps() { awk -F, 'NR > 2 { s += $6; n++ } END { printf "%.0f", s / n }' "$1/log.csv"; }
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
for r in $(seq "$ROUNDS"); do
    OPENBLAS_NUM_THREADS=2 "$recur" train "$model" --data "$data" --steps $steps --threads 2 \
        --set log_every=10 --set eval_every=0 --out one$r >/dev/null 2>&1
    mpirun -np 2 "$recur" train "$model" --data "$data" --steps $steps --threads 1 \
        --set log_every=10 --set eval_every=0 --out two$r >two$r.txt 2>&1
    echo "round $r: 1 x 2 threads $(tps one$r) tok/s, 2 x 1 thread $(tps two$r) tok/s;" \
         "$(grep -o 'gradient all-reduce.*' two$r.txt)"
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
# the largest |a - b| over all tensors of two runs' last.ckpt, and the tensor holding it
maxdiff() {
    "$recur" convert "$1/last.ckpt" "$1.safetensors" >/dev/null
    "$tensorcmp" --atol 1 "$1.safetensors" "$2.safetensors" |
        awk '{ for (i = 1; i <= NF; i++) if ($i == "|diff|") { d = $(i + 1) + 0;
               if (d > m) { m = d; t = $1 } } } END { printf "%.3g (%s)", m, t }'
}
loss() { tail -n 1 "$1/log.csv" | cut -d, -f2; }
for n in 1 200; do
    "$recur" train "$model" --data "$data" --steps $n --threads 1 --set eval_every=0 \
        --out w1_$n >/dev/null 2>&1
    "$recur" convert w1_$n/last.ckpt w1_$n.safetensors >/dev/null
    mpirun -np 2 "$recur" train "$model" --data "$data" --steps $n --threads 1 \
        --set eval_every=0 --out w2_$n >/dev/null 2>&1
    OPENBLAS_NUM_THREADS=2 "$recur" train "$model" --data "$data" --steps $n --threads 2 \
        --set eval_every=0 --out wt_$n >/dev/null 2>&1
    echo "after $n step(s): max |w(-np 2) - w(1 process)| = $(maxdiff w2_$n w1_$n);" \
         "max |w(--threads 2) - w(--threads 1)| = $(maxdiff wt_$n w1_$n);" \
         "loss $(loss w1_$n) / $(loss w2_$n) / $(loss wt_$n)"
done
