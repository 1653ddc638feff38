#!/bin/sh
# why-lstm.sh: reproduces every number and figure of examples/why-lstm.md.
#   sh examples/why-lstm.sh [OUTDIR]        (default: why-lstm-out; RECUR=path/to/recur)
# Trains rnn, gru and lstm on the adding problem at lengths 10, 50 and 100 and on the copy task,
# writes results.md (final validation losses), the gradient-flow plots of `recur trace --lags`,
# then trains a character LSTM on examples/tinyshakespeare.txt and ranks its units against quote
# and line-position features from `recur trace --npz`. Step counts are small on purpose (2 shared
# cores): ADDING_STEPS, COPY_STEPS, CHAR_STEPS override them, HIDDEN and COPY_HIDDEN the widths.
# A run whose OUTDIR/NAME/best.ckpt exists is not trained again (delete OUTDIR to start over).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
recur=${RECUR:-recur}
out=${1:-why-lstm-out}
ADDING_STEPS=${ADDING_STEPS:-4000}
COPY_STEPS=${COPY_STEPS:-6000}
CHAR_STEPS=${CHAR_STEPS:-2000}
H=${HIDDEN:-32}
py=/usr/bin/python3
mkdir -p "$out"
cd "$out"

# model FILE SOURCE CELL INPUT HEAD LOSS: writes one .rnn file.
model() {
    cat > "$1" <<RNN
format 1
data {
  source = $2
}
model m {
  $4
  $3($H)
  $5
}
train {
  loss      = $6
  optimizer = adam(lr=0.003)
  clip      = 1.0
  batch     = 32
  bptt      = full
  seed      = 1
  eval_every = 250
}
RNN
}

# best_valid DIR: the lowest validation loss in DIR/log.csv (the one best.ckpt holds).
best_valid() {
    awk -F, 'NR > 1 && $3 != "" && (v == "" || $3 < v) { v = $3 } END { printf "%.4f", v }' \
        "$1/log.csv"
}

echo "| task | rnn | gru | lstm |" > results.md
echo "|---|---|---|---|" >> results.md
for len in 10 50 100; do
    row="| adding, length $len (MSE; 0.167 = predicting the mean) |"
    for cell in rnn gru lstm; do
        name=adding${len}_$cell
        model $name.rnn "adding(length=$len)" $cell "input vector(2)" \
              "pool(last)
  dense(1)" "mse(target)"
        echo "== $name ($ADDING_STEPS steps)"
        [ -f $name/best.ckpt ] ||
            "$recur" train $name.rnn --out $name --steps "$ADDING_STEPS" --threads 1 \
                > $name.log 2>&1
        row="$row $(best_valid $name) |"
    done
    echo "$row" >> results.md
    # the same three models untrained (recur init): the gradient flow they start from
    for cell in rnn gru lstm; do
        "$recur" init adding${len}_$cell.rnn -o init${len}_$cell.ckpt --seed 1 > /dev/null
    done
    "$recur" trace --lags init${len}_rnn.ckpt init${len}_gru.ckpt init${len}_lstm.ckpt \
        -o lags_init$len.svg --csv lags_init$len.csv
    "$recur" trace --lags adding${len}_rnn/best.ckpt adding${len}_gru/best.ckpt \
        adding${len}_lstm/best.ckpt -o lags_adding$len.svg --csv lags_adding$len.csv
done

# Copy task: 5 symbols, a delay of 20 steps, then recall (T = 30). Cross-entropy over all
# steps; guessing the recalled symbols (ln 8 each) and getting the blanks right is 5 ln 8 / 30.
H=${COPY_HIDDEN:-64}
row="| copy, 5 symbols after 20 steps (xent; 0.347 = guessing) |"
for cell in rnn gru lstm; do
    name=copy_$cell
    model $name.rnn "copy(length=5, delay=20)" $cell "input tokens(vocab=auto)
  embedding(16)" "dense(vocab)" "cross_entropy(next_token)"
    echo "== $name ($COPY_STEPS steps)"
    [ -f $name/best.ckpt ] ||
        "$recur" train $name.rnn --out $name --steps "$COPY_STEPS" --threads 1 > $name.log 2>&1
    row="$row $(best_valid $name) |"
done
echo "$row" >> results.md
"$recur" trace --lags copy_rnn/best.ckpt copy_gru/best.ckpt copy_lstm/best.ckpt \
    -o lags_copy.svg --csv lags_copy.csv
cat results.md

# A character LSTM on tiny Shakespeare, traced on 3000 characters of its validation part (the
# last 5% of the file), and the units of c and h ranked by |Pearson r| with the position in the
# line (the page's ranked lists compute the same; here from the npz).
cp "$here/tinyshakespeare.txt" .
cat > char.rnn <<RNN
format 1
data {
  source = text("tinyshakespeare.txt", level=char)
  valid  = 0.05
}
model charlstm {
  input tokens(vocab=auto)
  embedding(32)
  lstm(128)
  dense(vocab)
}
train {
  loss      = cross_entropy(next_token)
  optimizer = adam(lr=0.003)
  clip      = 5.0
  batch     = 32
  bptt      = 100
  seed      = 1
  eval_every = 500
}
RNN
echo "== char ($CHAR_STEPS steps)"
[ -f char/best.ckpt ] ||
    "$recur" train char.rnn --out char --steps "$CHAR_STEPS" --threads 1 > char.log 2>&1
echo "char lstm: best validation loss $(best_valid char) nats per character" | tee char.md
"$recur" trace char/best.ckpt --data tinyshakespeare.txt --range 1060000:1063000 \
    -o char_trace.html --npz char_trace.npz
"$recur" trace --lags char/best.ckpt --data tinyshakespeare.txt --range 1060000:1060400 \
    -o lags_char.svg --csv lags_char.csv
$py "$here/why-lstm-units.py" char_trace.npz tinyshakespeare.txt 1060000 3000 char_unit.svg \
    | tee -a char.md
