#!/bin/sh
# train_adding.sh: the adding problem with T = 50 (models/adding.rnn): an LSTM's validation MSE
# goes well below 0.167, the error of always predicting the mean.
. "$(dirname "$0")/train_common.sh"
"$recur" train "$src/models/adding.rnn" --out run --steps ${ADDING_STEPS:-3000} \
    --set eval_every=500 >log.txt 2>&1 || { cat log.txt; fail "train"; }
cat log.txt
val=$(grep -v '^step' run/log.csv | awk -F, '$3 != "" { v = $3 } END { print v }')
echo "final validation MSE $val"
lt "$val" 0.05 || fail "validation MSE $val is not well below 0.167"
echo ok
