#!/bin/sh
# Bad input to recur convert / inspect (issue 8): hostile pickles are refused naming the global
# and never run; truncated and corrupted zip archives and pickles, every extension that
# contradicts the content, unknown output extensions, `convert X X`, model and text files:
# each a clear error naming the file, exit 1, no crash, and nothing written.
. "${top_srcdir:-.}/tests/cli/lib.sh"
FIX="$SRC/tests/fixtures/interchange"
CLI="$SRC/tests/fixtures/torch_cli"
CMP="$BUILD/tests/tensorcmp"

# pickles that name os.system, builtins.exec, subprocess.Popen: refused by name, nothing runs
rm -f /tmp/recur-pwned
for f in evil_os:os.system evil_system:posix.system evil_exec:builtins.exec \
         evil_popen:subprocess.Popen evil_legacy:posix.system; do
  for cmd in inspect convert; do
    if [ $cmd = inspect ]; then run_status 1 "$RECUR" inspect "$FIX/${f%%:*}.pt"
    else run_status 1 "$RECUR" convert "$FIX/${f%%:*}.pt" "$TMP/evil.safetensors"; fi
    grep -q "${f%%:*}.pt.*error: .*refused global ${f#*:}" "$TMP/err" ||
      fail "${f%%:*}.pt: the global ${f#*:} is not named"
  done
done
[ ! -e /tmp/recur-pwned ] || fail "a pickled call was executed"
[ ! -e "$TMP/evil.safetensors" ] || fail "written from a hostile pickle"
# a whole pickled nn.Module
run_status 1 "$RECUR" convert "$FIX/module.pt" "$TMP/m.safetensors"
grep -q "whole pickled nn.Module.*save model.state_dict() instead" "$TMP/err" ||
  fail "a pickled module is not explained"

# truncated files: an error naming the file, never a crash, nothing written
for f in charlm.pt charlm.legacy.pt charlm.npz charlm.compressed.npz; do
  size=$(wc -c < "$FIX/$f")
  for n in 0 3 4 30 100 $((size / 3)) $((size / 2)) $((size - 30)) $((size - 1)); do
    head -c "$n" "$FIX/$f" > "$TMP/t.${f#*.}"
    run_status 1 "$RECUR" convert "$TMP/t.${f#*.}" "$TMP/t.safetensors" --model "$CLI/charlm.rnn"
    grep -q "t.${f#*.}" "$TMP/err" || fail "$f truncated at $n: the file is not named"
    [ ! -e "$TMP/t.safetensors" ] || fail "$f truncated at $n: output written"
  done
done
# corrupted bytes: an error naming the file, or (a byte nothing reads) the same weights
run_ok "$RECUR" convert "$FIX/charlm.pt" "$TMP/ref.safetensors"
for f in charlm.pt charlm.legacy.pt charlm.npz charlm.compressed.npz; do
  size=$(wc -c < "$FIX/$f")
  [ "$f" = charlm.legacy.pt ] && size=1200   # the pickles; storage bytes carry no checksum
  for off in 0 2 10 20 40 60 100 200 300 500 700 900 $((size / 2)) $((size - 20)) $((size - 2)); do
    cp "$FIX/$f" "$TMP/c.${f#*.}"
    printf '\377' | dd of="$TMP/c.${f#*.}" bs=1 seek="$off" conv=notrunc 2>/dev/null
    cmp -s "$TMP/c.${f#*.}" "$FIX/$f" && continue
    rm -f "$TMP/c.safetensors"
    "$RECUR" convert "$TMP/c.${f#*.}" "$TMP/c.safetensors" --model "$CLI/charlm.rnn" \
      > "$TMP/out" 2> "$TMP/err"
    case $? in
      0) "$CMP" --exact "$TMP/c.safetensors" "$TMP/ref.safetensors" > "$TMP/cmp" ||
           fail "$f corrupted at $off: converted to different weights without an error" ;;
      1) grep -q "c.${f#*.}" "$TMP/err" || fail "$f corrupted at $off: the file is not named"
         [ ! -e "$TMP/c.safetensors" ] || fail "$f corrupted at $off: output written" ;;
      *) fail "$f corrupted at $off: exit status other than 0 or 1 (a crash?)" ;;
    esac
  done
done

# extensions that contradict the content, for every pair of formats
run_ok "$RECUR" convert "$FIX/charlm.pt" "$TMP/w.ckpt" --model "$CLI/charlm.rnn"
printf '\223NUMPY\001\000v\000{'"'"'descr'"'"': '"'"'<f4'"'"', '"'"'fortran_order'"'"': False, '"'"'shape'"'"': (1,), }' > "$TMP/w.npy"
pad=$((128 - $(wc -c < "$TMP/w.npy") - 1)); printf "%${pad}s\n" "" >> "$TMP/w.npy"; printf '\0\0\200\77' >> "$TMP/w.npy"
cp "$FIX/charlm.pt" "$TMP/w.pt"; cp "$FIX/charlm.legacy.pt" "$TMP/wl.pt"; cp "$FIX/charlm.npz" "$TMP/w.npz"
cp "$CLI/charlm.weights.safetensors" "$TMP/w.safetensors"
printf '\211HDF\r\n\032\n\0\0\0\0' > "$TMP/w.h5"
printf '\010\007\022\007pytorch' > "$TMP/w.onnx"
for a in w.ckpt w.safetensors w.pt wl.pt w.npz w.npy w.h5 w.onnx; do
  for ext in ckpt safetensors pt pth npz npy h5 onnx; do
    [ "${a#*.}" = "$ext" ] && continue
    case "${a#*.}:$ext" in pt:pth) continue ;; esac
    cp "$TMP/$a" "$TMP/mis.$ext"
    run_status 1 "$RECUR" inspect "$TMP/mis.$ext"
    grep -q "mis.$ext: error: the extension says .* but the content is " "$TMP/err" ||
      fail "$a named .$ext: the contradiction is not reported"
    grep -q "RECURCKP checkpoint (.ckpt), safetensors" "$TMP/err" || fail "formats not named"
    run_status 1 "$RECUR" convert "$TMP/mis.$ext" "$TMP/mis.out.safetensors"
    [ ! -e "$TMP/mis.out.safetensors" ] || fail "$a named .$ext: output written"
  done
done
run_status 1 "$RECUR" inspect "$TMP/w.onnx"
grep -q "w.onnx: error: an ONNX model without a graph" "$TMP/err" || fail "ONNX not named"
run_status 1 "$RECUR" inspect "$TMP/w.h5"
grep -q "w.h5: error: .*HDF5 file" "$TMP/err" || fail "HDF5 not named"

# outputs: unknown or unwritable extensions, and the input itself
for out in x.txt x x.npy; do
  run_status 1 "$RECUR" convert "$FIX/charlm.pt" "$TMP/$out"
  grep -q "$out: error: " "$TMP/err" || fail "output $out: no error naming it"
  grep -q "(.ckpt), safetensors (.safetensors), PyTorch (.pt, .pth), NumPy (.npz), Keras (.h5) and ONNX (.onnx" "$TMP/err" ||
    fail "output $out: the written formats are not named"
  [ ! -e "$TMP/$out" ] || fail "output $out written"
done
# ONNX is a model export: without a model it is refused (issue 9)
run_status 1 "$RECUR" convert "$FIX/charlm.pt" "$TMP/x.onnx"
grep -q "x.onnx: error: an ONNX export needs the model" "$TMP/err" || fail "output x.onnx: no model"
[ ! -e "$TMP/x.onnx" ] || fail "output x.onnx written"
# Keras .h5 is written through the model's layers: without one it is refused
run_status 1 "$RECUR" convert "$FIX/charlm.pt" "$TMP/x.h5"
grep -q "x.h5: error: writing Keras .h5 needs the model" "$TMP/err" || fail "output x.h5: no model"
[ ! -e "$TMP/x.h5" ] || fail "output x.h5 written"
cp "$FIX/charlm.pt" "$TMP/self.pt"
before=$(cksum < "$TMP/self.pt")
run_status 1 "$RECUR" convert "$TMP/self.pt" "$TMP/self.pt"
grep -q "self.pt: error: the output is the input file itself" "$TMP/err" || fail "convert X X"
ln -s "$TMP/self.pt" "$TMP/link.pt"
run_status 1 "$RECUR" convert "$TMP/self.pt" "$TMP/link.pt"
grep -q "the output is the input file itself" "$TMP/err" || fail "convert X link-to-X"
run_status 1 "$RECUR" convert "$TMP/self.pt" "$TMP/../$(basename "$TMP")/self.pt"
[ "$(cksum < "$TMP/self.pt")" = "$before" ] || fail "convert X X changed X"
ls "$TMP" | grep -q '\.tmp\.' && fail "a temporary file was left behind"

# files of another kind where weights are expected
run_status 1 "$RECUR" inspect "$CLI/charlm.rnn"
grep -q "charlm.rnn: error: a model file, not weights" "$TMP/err" || fail "model file not named"
printf 'model x {\n' > "$TMP/model.txt"
run_status 1 "$RECUR" convert "$TMP/model.txt" "$TMP/o.safetensors"
grep -q "model.txt: error: a model file, not weights" "$TMP/err" || fail "model text not named"
echo "some notes" > "$TMP/notes.txt"
run_status 1 "$RECUR" convert "$TMP/notes.txt" "$TMP/o.safetensors"
grep -q "notes.txt: error: not a weight file" "$TMP/err" || fail "text file not named"
grep -q "help: recur reads RECURCKP checkpoint" "$TMP/err" || fail "formats not listed"
run_status 1 "$RECUR" convert "$FIX/charlm.pt" "$TMP/o.ckpt"
grep -q "o.ckpt: error: a checkpoint holds its model: say which with --model MODEL.rnn" \
  "$TMP/err" || fail "a checkpoint without a model"
[ ! -e "$TMP/o.safetensors" ] && [ ! -e "$TMP/o.ckpt" ] || fail "output written"
run_status 2 "$RECUR" convert "$FIX/charlm.pt"
run_status 2 "$RECUR" convert "$FIX/charlm.pt" "$TMP/o.safetensors" --set vocab=3
grep -q -- "--set applies to the model given with --model" "$TMP/err" || fail "--set without --model"
pass
