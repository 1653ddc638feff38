#!/bin/sh
# recur convert between every format, both directions (issue 8). For the three PyTorch 1.13
# models of tests/fixtures/interchange (make_torch.py: a 2-layer LSTM character model, a
# bidirectional GRU, an Elman RNN): torch.save zip and legacy files and numpy.savez archives ->
# checkpoint -> `recur run` gives PyTorch's output within 1e-5; checkpoint -> .pt / .npz /
# .safetensors -> checkpoint gives the same weights bit for bit. Then --key, --map, --verbose,
# the label hint, float64/float16/bfloat16 and non-contiguous tensors.
. "${top_srcdir:-.}/tests/cli/lib.sh"
FIX="$SRC/tests/fixtures/interchange"
CLI="$SRC/tests/fixtures/torch_cli"
CMP="$BUILD/tests/tensorcmp"
for c in charlm gru_cls rnn_reg; do
  for v in pt legacy.pt npz; do
    run_ok "$RECUR" convert "$FIX/$c.$v" "$TMP/$c.ckpt" --model "$CLI/$c.rnn"
    grep -q "read back and checked" "$TMP/out" || fail "$c.$v: no read-back check reported"
    run_ok "$RECUR" run "$TMP/$c.ckpt" --input "$CLI/$c.input.npy" --output "$TMP/$c.out.npy"
    "$CMP" --rtol 1e-5 --atol 1e-5 "$TMP/$c.out.npy" "$FIX/$c.output.npy" > "$TMP/cmp" ||
      { cat "$TMP/cmp" >&2; fail "$c.$v: output differs from PyTorch's"; }
    rm "$TMP/$c.ckpt"
  done
  # recur -> each format -> recur: the same weights, bit for bit
  run_ok "$RECUR" convert "$CLI/$c.weights.safetensors" "$TMP/$c.ckpt" --model "$CLI/$c.rnn"
  for ext in pt pth npz safetensors; do
    run_ok "$RECUR" convert "$TMP/$c.ckpt" "$TMP/$c.$ext"
    run_ok "$RECUR" inspect "$TMP/$c.$ext"
    run_ok "$RECUR" convert "$TMP/$c.$ext" "$TMP/$c.back.ckpt" --model "$CLI/$c.rnn"
    run_ok "$RECUR" convert "$TMP/$c.back.ckpt" "$TMP/$c.back.safetensors"
    "$CMP" --exact "$TMP/$c.back.safetensors" "$CLI/$c.weights.safetensors" > "$TMP/cmp" ||
      { cat "$TMP/cmp" >&2; fail "$c: round trip through .$ext is not bit-identical"; }
    rm "$TMP/$c.back.ckpt" "$TMP/$c.back.safetensors"
  done
  # between two foreign formats, no model needed
  run_ok "$RECUR" convert "$FIX/$c.pt" "$TMP/$c.x.npz"
  run_ok "$RECUR" convert "$TMP/$c.x.npz" "$TMP/$c.x.safetensors"
  "$CMP" --exact "$TMP/$c.x.safetensors" "$CLI/$c.weights.safetensors" > "$TMP/cmp" ||
    { cat "$TMP/cmp" >&2; fail "$c: .pt -> .npz -> .safetensors changed the weights"; }
done

# inspect says which format a file is
for f in charlm.pt:"PyTorch .pt (zip)" charlm.legacy.pt:"PyTorch .pt (legacy pickle)" \
         charlm.npz:"NumPy .npz" charlm.compressed.npz:"NumPy .npz"; do
  run_ok "$RECUR" inspect "$FIX/${f%%:*}"
  grep -q "^format: ${f#*:}" "$TMP/out" || fail "inspect ${f%%:*}: format not named"
  grep -q "lstm1.weight_hh_l1 *\[28, 7\]" "$TMP/out" || fail "inspect ${f%%:*}: tensors not listed"
done
run_ok "$RECUR" inspect "$TMP/charlm.ckpt"
grep -q "^format: RECURCKP checkpoint" "$TMP/out" || fail "inspect: checkpoint not named"
run_ok "$RECUR" inspect "$SRC/tests/fixtures/lstm2/weight_hh_l1.npy"
grep -q "^weight_hh_l1 *\[24, 6\]" "$TMP/out" || fail "inspect: a .npy array not shown"
run_status 1 "$RECUR" convert "$FIX/charlm.npz" "$TMP/k.safetensors" --key model
grep -q "charlm.npz: error: --key selects an entry of a PyTorch checkpoint" "$TMP/err" ||
  fail "--key on an .npz"

# numpy.savez_compressed, nested checkpoints, --key, dtypes and views: same weights as charlm.pt
run_ok "$RECUR" convert "$FIX/charlm.pt" "$TMP/ref.safetensors"
for f in charlm.compressed.npz charlm.nested.pt charlm.legacy_nested.pt charlm.view.pt \
         charlm.f64.pt charlm.proto4.pt charlm.counter.pt; do
  run_ok "$RECUR" convert "$FIX/$f" "$TMP/got.safetensors"
  "$CMP" --exact "$TMP/got.safetensors" "$TMP/ref.safetensors" > "$TMP/cmp" ||
    { cat "$TMP/cmp" >&2; fail "$f: weights differ from charlm.pt"; }
done
run_ok "$RECUR" convert "$FIX/charlm.counter.pt" "$TMP/n.ckpt" --model "$CLI/charlm.rnn"
grep -q "note: tensor 'dense1.num_batches_tracked' holds LongStorage elements, not floats: skipped" \
  "$TMP/out" || fail "an integer buffer is not noted"
run_ok "$RECUR" convert "$FIX/charlm.nested.pt" "$TMP/n.safetensors"
grep -q "note: read the state_dict of entry 'model'" "$TMP/out" || fail "nested: entry not noted"
run_ok "$RECUR" convert "$FIX/charlm.f64.pt" "$TMP/n.safetensors" --verbose
grep -q "note: float64 tensors converted to float32" "$TMP/out" || fail "f64: no note"
grep -q "lstm1.weight_ih_l0 -> lstm1.weight_ih_l0 \[28, 5\] (float64 -> float32)" "$TMP/out" ||
  fail "--verbose does not show the dtype conversion"
for t in f16 bf16; do
  run_ok "$RECUR" convert "$FIX/charlm.$t.pt" "$TMP/$t.safetensors"
  grep -q "note: .*float16 tensors converted to float32" "$TMP/out" || fail "$t: no note"
  "$CMP" --exact "$TMP/$t.safetensors" "$FIX/charlm.$t.expected.safetensors" > "$TMP/cmp" ||
    { cat "$TMP/cmp" >&2; fail "$t: values differ from PyTorch's .float()"; }
done
run_ok "$RECUR" convert "$FIX/charlm.view.pt" "$TMP/v.safetensors" -v
grep -q "lstm1.weight_ih_l0 .*non-contiguous view gathered" "$TMP/out" || fail "view not shown"
run_status 1 "$RECUR" convert "$FIX/charlm.two.pt" "$TMP/two.safetensors"
grep -q "more than one entry holds tensors" "$TMP/err" || fail "ambiguous entries not refused"
grep -q "'model', 'ema'; choose one with --key NAME" "$TMP/err" || fail "keys not listed"
[ ! -e "$TMP/two.safetensors" ] || fail "written despite an ambiguous choice"
run_ok "$RECUR" convert "$FIX/charlm.two.pt" "$TMP/two.safetensors" --key ema
run_status 1 "$RECUR" convert "$FIX/charlm.two.pt" "$TMP/two2.safetensors" --key nope
grep -q "there is no entry 'nope'" "$TMP/err" || fail "--key of a missing entry"

# --map renames by prefix; --verbose shows every tensor mapped
run_ok "$RECUR" convert "$FIX/charlm.prefixed.pt" "$TMP/p.ckpt" --model "$CLI/charlm.rnn" \
  --map net.= --verbose
grep -q "net.lstm1.weight_hh_l1 -> lstm1.weight_hh_l1 \[28, 7\] (renamed)" "$TMP/out" ||
  fail "--verbose does not show the renaming"
[ "$(grep -c -- ' -> ' "$TMP/out")" = 11 ] || fail "--verbose does not list all 11 tensors"
# out of recur, --map renames recur's names into the file's
run_ok "$RECUR" convert "$TMP/charlm.ckpt" "$TMP/m.pt" --map lstm1.=encoder.rnn. -v
grep -q "lstm1.bias_hh_l1 -> encoder.rnn.bias_hh_l1 \[28\] (renamed)" "$TMP/out" ||
  fail "--map on the way out is not shown"
run_ok "$RECUR" inspect "$TMP/m.pt"
grep -q "^encoder.rnn.weight_ih_l0 " "$TMP/out" || fail "--map on the way out did not rename"
run_ok "$RECUR" convert "$TMP/m.pt" "$TMP/m.ckpt" --model "$CLI/charlm.rnn" --map encoder.rnn.=lstm1.
run_status 1 "$RECUR" convert "$TMP/charlm.ckpt" "$TMP/m2.ckpt" --map lstm1.=x.
grep -q "cannot rename the tensors of a checkpoint" "$TMP/err" || fail "--map into a checkpoint"
run_status 1 "$RECUR" convert "$FIX/charlm.pt" "$TMP/m3.safetensors" --map nonsense
grep -q "'nonsense' is not OLD=NEW" "$TMP/err" || fail "a --map without '='"
run_status 1 "$RECUR" convert "$FIX/charlm.pt" "$TMP/m3.safetensors" --map lstm1.bias_hh=lstm1.bias_ih
grep -q "which exists already" "$TMP/err" || fail "a --map that collides"
[ ! -e "$TMP/m2.ckpt" ] && [ ! -e "$TMP/m3.safetensors" ] || fail "written despite a bad --map"
# names that match no layer: which label to write
run_status 1 "$RECUR" convert "$FIX/charlm.renamed.pt" "$TMP/r.ckpt" --model "$CLI/charlm.rnn"
grep -q "help: label the layer \`rnn: lstm(7, layers=2)\` in the model, or pass --map rnn.=lstm1." \
  "$TMP/err" || fail "no label hint for the LSTM"
grep -q "help: label the layer \`fc: dense(11)\`" "$TMP/err" || fail "no label hint for dense"
[ ! -e "$TMP/r.ckpt" ] || fail "written from mismatched names"
run_ok "$RECUR" convert "$FIX/charlm.renamed.pt" "$TMP/r.ckpt" --model "$CLI/charlm.rnn" \
  --map embed.=embedding1. --map rnn.=lstm1. --map fc.=dense1.
pass
