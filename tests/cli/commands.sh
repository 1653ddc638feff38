#!/bin/sh
# Commands (issue 13 items 17, 18, 20): recur sample's --temperature 0 is greedy, --length 0
# prints nothing, the default seed comes from the clock and is printed (and --seed gives the
# same text again); an unknown --set lists every setting; recur run's shape errors name the
# file and print the array's actual dtype and shape.
. "${top_srcdir:-.}/tests/cli/lib.sh"
export OPENBLAS_NUM_THREADS=1
RECUR=$(cd "$BUILD" && pwd)/recur; SRC=$(cd "$SRC" && pwd)
FIX="$SRC/tests/fixtures/torch_cli"
cd "$TMP" || fail "cd"
run_ok "$RECUR" train "$SRC/models/charlm.rnn" --data "$SRC/tests/fixtures/train/tiny.txt" \
  --steps 30 --set batch=4 --set bptt=16 --out lm
run_ok "$RECUR" sample lm/best.ckpt --prime "the" --length 0
[ ! -s "$TMP/out" ] || fail "--length 0 printed: $(od -c "$TMP/out" | head -3)"
run_ok "$RECUR" sample lm/best.ckpt --prime "the" --length 40 --temperature 0
cp "$TMP/out" greedy1
[ ! -s "$TMP/err" ] || fail "greedy sampling printed a seed: $(cat "$TMP/err")"
run_ok "$RECUR" sample lm/best.ckpt --prime "the" --length 40 --temperature 0 --seed 99
cmp -s greedy1 "$TMP/out" || fail "greedy sampling depends on the seed"
# Greedy is the limit of low temperatures: 1e-4 picks the same characters.
run_ok "$RECUR" sample lm/best.ckpt --prime "the" --length 40 --temperature 0.0001 --seed 5
cmp -s greedy1 "$TMP/out" || fail "temperature 0 is not the argmax: $(cat greedy1) / $(cat "$TMP/out")"
[ "$(head -c 3 greedy1)" = "the" ] && [ "$(wc -c < greedy1)" = 44 ] || fail "greedy text shape"
run_ok "$RECUR" sample lm/best.ckpt --prime "the" --length 40
seed=$(sed -n 's/^recur sample: seed \([0-9]*\) (--seed \1 gives this text again)$/\1/p' "$TMP/err")
[ -n "$seed" ] || fail "the clock seed is not printed: $(cat "$TMP/err")"
cp "$TMP/out" drawn
run_ok "$RECUR" sample lm/best.ckpt --prime "the" --length 40 --seed "$seed"
cmp -s drawn "$TMP/out" || fail "--seed $seed does not give the text again"
run_ok "$RECUR" sample lm/best.ckpt --prime "the" --length 40
seed2=$(sed -n 's/^recur sample: seed \([0-9]*\) .*/\1/p' "$TMP/err")
[ "$seed2" != "$seed" ] || fail "two runs drew the same clock seed"
run_status 2 "$RECUR" sample lm/best.ckpt --temperature -1
run_ok "$RECUR" help sample
grep -q -- '--top-k K .*default 0: off' "$TMP/out" || fail "help sample does not say --top-k 0 is off"

# --set: an unknown name lists the settings; lr is one
run_status 1 "$RECUR" train "$SRC/models/adding.rnn" --set lrate=0.1 --steps 1 --out x
grep -qx "help: --set takes vocab, classes, a const of the file, or a setting: source, valid, loss, optimizer, schedule, clip, batch, bptt, steps, epochs, seed, eval_every, checkpoint_every, log_every, lr, patience, min_delta" \
  "$TMP/err" || fail "an unknown setting does not list the valid ones"
[ ! -e x ] || fail "a run directory was made for a refused --set"

# valid = 0 means no validation (item 21), for a generated task too
run_ok "$RECUR" train "$SRC/models/adding.rnn" --set valid=0 --steps 20 --set eval_every=10 --out v0
grep -q ' val ' "$TMP/err" && fail "valid = 0 still validates"
grep -q 'done: step 20; wrote v0' "$TMP/err" || fail "valid = 0: no done line"
awk -F, 'NR > 1 && $3 != "" { exit 1 }' v0/log.csv || fail "valid = 0 logged a validation loss"
[ ! -e v0/best.ckpt ] || fail "valid = 0 wrote best.ckpt"
run_status 1 "$RECUR" train "$SRC/models/adding.rnn" --set valid=1 --steps 2 --out v1
grep -q "valid must be a fraction in \[0, 1) (0: no validation) or a source, got 1" "$TMP/err" ||
  fail "valid = 1 is not refused"

# recur help data / settings / help (item 9): every source, setting, optimizer, schedule, loss
run_ok "$RECUR" help data
for f in 'text(path, level=char)' 'csv(path, label=1, target=label, header=auto, delimiter=",", columns=N)' \
         'adding(length=50)' 'reber(embedded=true)' 'copy(length=10, delay=10)' 'TARGET,v1,v2,...,vn'; do
  grep -qF -- "$f" "$TMP/out" || fail "help data lacks $f"
done
run_ok "$RECUR" help settings
for s in source valid loss optimizer schedule clip batch bptt steps epochs seed eval_every \
         checkpoint_every log_every lr patience min_delta; do
  grep -q "^  $s  " "$TMP/out" || fail "help settings lacks $s"
done
for f in 'sgd(lr=0.01, momentum=0, nesterov=false)' 'adam(lr=0.001, beta1=0.9, beta2=0.999, eps=1e-08, weight_decay=0)' \
         'adamw(' 'rmsprop(' 'constant()' 'step(every=1000, factor=0.1)' 'cosine(warmup=0)' \
         'cross_entropy(target=next_token)' 'mse(' '  batch             an integer >= 1 (default 32)'; do
  grep -qF -- "$f" "$TMP/out" || fail "help settings lacks $f"
done
run_ok "$RECUR" help help
grep -q "^usage: recur help \[COMMAND | TOPIC\]" "$TMP/out" || fail "recur help help"
run_status 2 "$RECUR" help nonsense

# recur run: the actual shape and the file in every shape error
run_ok "$RECUR" convert "$FIX/rnn_reg.weights.safetensors" r.ckpt --model "$FIX/rnn_reg.rnn"
run_status 1 "$RECUR" run r.ckpt --input "$FIX/gru_cls.input.npy" --output o.npy
grep -qx "$FIX/gru_cls.input.npy: error: the model reads vectors of 3 floats: expected a float32 array \[T, B, 3\], got float32 \[6, 3, 4\]" \
  "$TMP/err" || fail "input shape error"
run_status 1 "$RECUR" run r.ckpt --input "$FIX/charlm.input.npy" --output o.npy
grep -q "charlm.input.npy: error: .*got int64 \[6, 3\]$" "$TMP/err" || fail "input dtype error"
run_status 1 "$RECUR" run r.ckpt --input "$FIX/rnn_reg.input.npy" --output o.npy \
  --target "$FIX/charlm.output.npy"
grep -qx "$FIX/charlm.output.npy: error: regression targets must be \[T, B, m\] = \[6, 3, 2\], got float32 \[6, 3, 11\]" \
  "$TMP/err" || fail "target shape error"
run_ok "$RECUR" convert "$FIX/gru_cls.weights.safetensors" g.ckpt --model "$FIX/gru_cls.rnn"
run_status 1 "$RECUR" run g.ckpt --input "$FIX/gru_cls.input.npy" --output o.npy \
  --target "$FIX/charlm.input.npy"
grep -qx "$FIX/charlm.input.npy: error: class targets must be \[B\] = \[3\], got int64 \[6, 3\]" \
  "$TMP/err" || fail "class target shape error"
pass
