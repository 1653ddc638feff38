#!/bin/sh
# `recur check --explain` on embedding(64) -> lstm(512, layers=2) -> dense(vocab) with vocab=65
# reports exactly PyTorch's tensor names, shapes and parameter count
# (tests/expected/charlm_params.txt, written by PyTorch via make_charlm_params.py).
. "${top_srcdir:-.}/tests/cli/lib.sh"

cat > "$TMP/m.rnn" <<'RNN'
model charlm {
  input tokens(vocab=auto)
  embedding(64)
  lstm(512, layers=2)
  dense(vocab)
}
RNN
run_ok "$RECUR" check --explain --set vocab=65 "$TMP/m.rnn"
# Every tensor line of the reference appears with the same shape.
while read -r name shape; do
  [ "$name" = total ] && continue
  grep -F "$name" "$TMP/out" | grep -qF "$shape" || fail "tensor $name $shape not reported"
done < "$SRC/tests/expected/charlm_params.txt"
total=$(awk '$1 == "total" {print $2}' "$SRC/tests/expected/charlm_params.txt")
grep -i '^total' "$TMP/out" | tr -d , | grep -qw "$total" || fail "total $total not reported"
# No tensor beyond PyTorch's: count lines that look like tensor names.
n_ref=$(grep -vc '^total' "$SRC/tests/expected/charlm_params.txt")
n_got=$(grep -Eo '(embedding1|lstm1|dense1)\.[a-z_0-9]+' "$TMP/out" | sort -u | wc -l)
[ "$n_ref" = "$n_got" ] || fail "expected $n_ref tensors, got $n_got"
pass
