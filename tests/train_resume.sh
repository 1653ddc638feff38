#!/bin/sh
# train_resume.sh: for several kill points, a run killed with SIGKILL and resumed with --resume
# ends with exactly the same last.ckpt (weights, optimiser state, RNGs) as an uninterrupted run.
# SIGINT saves and exits cleanly.
. "$(dirname "$0")/train_common.sh"
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
  steps = 60
  eval_every = 20
  checkpoint_every = 7
  log_every = 1
}
RNN
"$recur" train r.rnn --out full --seed 5 >/dev/null 2>&1 || fail "uninterrupted run"
rows() { [ -f "$1/log.csv" ] && wc -l <"$1/log.csv" || echo 0; }
for k in 3 9 20 41; do
    "$recur" train r.rnn --out k$k --seed 5 >/dev/null 2>&1 &
    pid=$!
    # wait until at least k steps are logged (or the run ended), then SIGKILL
    n=0
    while kill -0 $pid 2>/dev/null && [ "$(rows k$k)" -le $k ] && [ $n -lt 600 ]; do
        sleep 0.05
        n=$((n + 1))
    done
    kill -9 $pid 2>/dev/null
    wait $pid 2>/dev/null
    if [ -f k$k/last.ckpt ]; then
        "$recur" train r.rnn --out k$k --seed 5 --resume >/dev/null 2>&1 || fail "resume at $k"
    else   # killed before the first checkpoint: start again
        rm -rf k$k
        "$recur" train r.rnn --out k$k --seed 5 >/dev/null 2>&1 || fail "restart at $k"
    fi
    cmp -s full/last.ckpt k$k/last.ckpt || fail "killed near step $k: different final state"
    echo "kill near step $k: identical"
done

# SIGINT: saves last.ckpt and exits cleanly with a message.
"$recur" train r.rnn --out int --seed 5 --steps 100000 >int.txt 2>&1 &
pid=$!
n=0
while [ "$(rows int)" -le 5 ] && [ $n -lt 600 ]; do sleep 0.05; n=$((n + 1)); done
kill -INT $pid
wait $pid
grep -q 'stopped by signal' int.txt || { cat int.txt; fail "no message after SIGINT"; }
[ -s int/last.ckpt ] || fail "no checkpoint after SIGINT"
echo ok
