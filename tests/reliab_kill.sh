#!/bin/sh
# reliab_kill.sh [N] [SEED]: the kill -9 campaign of issue 14. N runs (default 4) of a model
# with a checkpoint every 3 steps and a log row every 5 are killed with SIGKILL at random
# moments, resumed with --resume (until done), and compared with an uninterrupted run: `cmp` on
# last.ckpt (weights, optimiser state, RNGs) and on log.csv without its two timing columns
# (tokens_per_s and wall_s measure the clock: wall_s continues from the last kept row, so it is
# cumulative, but the seconds differ from run to run). No *.tmp.* file may remain.
# `make check` runs it with N=4; the campaign of the report is `sh tests/reliab_kill.sh 25 14`.
. "$(dirname "$0")/train_common.sh"
N=${1:-4}
SEED=${2:-$$}
cat >r.rnn <<'RNN'
format 1
data {
  source = reber(embedded=true)
}
model r {
  input tokens(vocab=auto)
  embedding(8)
  lstm(24, layers=2, dropout=0.1)
  dense(vocab)
}
train {
  optimizer = adam(lr=0.01)
  batch = 8
  steps = 200
  eval_every = 50
  checkpoint_every = 3
  log_every = 5
}
RNN
"$recur" train r.rnn --out full --seed 5 >/dev/null 2>&1 || fail "uninterrupted run"
cut -d, -f1-5,8- full/log.csv > full.log
# N kill delays in milliseconds, uniform in [5, 500), from SEED.
delays=$(awk -v n="$N" -v s="$SEED" 'BEGIN { srand(s); for (i = 0; i < n; i++) printf "%d ", 5 + int(rand() * 495) }')
i=0; mid=0; before=0; after=0
for ms in $delays; do
    i=$((i + 1))
    "$recur" train r.rnn --out k$i --seed 5 >/dev/null 2>&1 &
    pid=$!
    sleep "$(awk -v m="$ms" 'BEGIN { printf "%.3f", m / 1000 }')"
    if kill -9 $pid 2>/dev/null; then killed=1; else killed=0; fi
    wait $pid 2>/dev/null
    at=none
    if [ -f k$i/last.ckpt ]; then
        at=$("$recur" inspect k$i/last.ckpt 2>/dev/null | sed -n 's/^step \([0-9]*\), .*/\1/p')
        "$recur" train r.rnn --out k$i --seed 5 --resume >/dev/null 2>&1 || fail "resume $i (step $at)"
    else   # killed before the first checkpoint: start again
        rm -rf k$i
        "$recur" train r.rnn --out k$i --seed 5 >/dev/null 2>&1 || fail "restart $i"
    fi
    if [ $killed = 0 ]; then after=$((after + 1)); elif [ "$at" = none ]; then before=$((before + 1));
    else mid=$((mid + 1)); fi
    cmp -s full/last.ckpt k$i/last.ckpt || fail "kill $i (${ms} ms, step $at): different last.ckpt"
    cut -d, -f1-5,8- k$i/log.csv > k$i.log
    cmp -s full.log k$i.log || { diff full.log k$i.log | head; fail "kill $i (${ms} ms, step $at): different log.csv"; }
    ls k$i | grep -q '\.tmp\.' && fail "kill $i: a temporary file is left"
    echo "kill $i after ${ms} ms: resumed from step $at, identical"
done
echo "kill -9 campaign (seed $SEED): $N kills, $mid resumed mid-run, $before before the first checkpoint, $after after the end; all identical"
echo ok
