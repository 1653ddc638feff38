#!/bin/sh
# Metadata travels (issue 8 item 6): a character model's checkpoint converted to safetensors
# carries its vocabulary, model source, overrides and data settings in __metadata__, so the
# file converted back into a checkpoint, without --model, samples the same text and evaluates to
# the same loss as the original. Other formats hold tensors only: back from .pt needs --model.
. "${top_srcdir:-.}/tests/cli/lib.sh"
R=$(cd "$(dirname "$RECUR")" && pwd)/$(basename "$RECUR")
TINY=$(cd "$SRC" && pwd)/tests/fixtures/train/tiny.txt
cd "$TMP" || fail "cd"
cat > lm.rnn <<'RNN'
format 1
data {
  source = text("tiny.txt")
  valid = 0.1
}
model lm {
  input tokens(vocab=auto)
  embedding(8)
  lstm(16)
  dense(vocab)
}
train {
  optimizer = adam(lr=0.01)
  batch = 4
  bptt = 16
  steps = 20
  eval_every = 10
  checkpoint_every = 10
}
RNN
cp "$TINY" .
run_ok "$R" train lm.rnn --out run --threads 1
run_ok "$R" convert run/best.ckpt lm.safetensors
run_ok "$R" inspect lm.safetensors
grep -q "metadata recur.vocab_hex: " "$TMP/out" || fail "no vocabulary in the metadata"
grep -q "metadata recur.source: .* bytes of model source" "$TMP/out" || fail "no model source"
grep -q "metadata recur.sets: vocab=" "$TMP/out" || fail "the bound vocab size is not kept"
mv lm.rnn elsewhere.rnn   # the model comes from the file, not from disk
run_ok "$R" convert lm.safetensors back.ckpt
run_ok "$R" sample run/best.ckpt --prime "th" --length 60 --seed 3
cp "$TMP/out" s1.txt
run_ok "$R" sample back.ckpt --prime "th" --length 60 --seed 3
cmp -s "$TMP/out" s1.txt || fail "the converted model samples other text"
run_ok "$R" eval run/best.ckpt
cp "$TMP/out" e1.txt
run_ok "$R" eval back.ckpt
cmp -s "$TMP/out" e1.txt || fail "the converted model evaluates differently"
# a .pt file carries tensors only
run_ok "$R" convert run/best.ckpt lm.pt
run_status 1 "$R" convert lm.pt back2.ckpt
grep -q "say which with --model MODEL.rnn" "$TMP/err" || fail ".pt -> .ckpt without a model"
pass
