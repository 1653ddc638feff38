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

# vocab unbound: the same model explained symbolically (one compile, IrSym), and its value at
# vocab = 65 is PyTorch's total: 577*65 + 3,284,992 = 3,322,497.
run_ok "$RECUR" check --explain "$TMP/m.rnn"
grep -qF "(vocab = auto)" "$TMP/out" || fail "vocab not shown as auto"
grep -qF "total: 577*vocab + 3,284,992 parameters in 11 tensors" "$TMP/out" ||
  fail "symbolic total not reported"
[ $((577 * 65 + 3284992)) = "$total" ] || fail "the symbolic total does not give PyTorch's"
grep -qF "[vocab, 512]" "$TMP/out" || fail "dense1.weight not [vocab, 512]"
[ -s "$TMP/err" ] && fail "symbolic explain wrote to stderr"

# a width that is not affine in vocab: the values at the placeholder, with a note, no formula
cat > "$TMP/sq.rnn" <<'RNN'
model sq {
  input tokens
  onehot
  dense(vocab*vocab)
}
RNN
run_ok "$RECUR" check --explain "$TMP/sq.rnn"
grep -qF "vocab is unbound and some size or count is not affine in it" "$TMP/out" ||
  fail "no note for a non-affine size"
grep -qF "[2822400, 1680]" "$TMP/out" || fail "not shown at the placeholder vocab = 1680"
grep -qF "vocab = auto" "$TMP/out" && fail "a non-affine size printed as symbolic"
pass
