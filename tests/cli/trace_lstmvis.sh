#!/bin/sh
# recur trace --lstmvis DIR (issue 12): the files LSTMVis reads, read back with h5py and PyYAML
# (/usr/bin/python3): states.h5 holds every --npz array as [T*B, width] (batch columns one after
# another) with equal values, train.h5's word_ids are the text's ids in the vocabulary rebuilt
# from the training text, words.dict maps every id to its token (whitespace escaped, so each
# line splits in two as LSTMVis splits it), lstm.yml parses and names files and datasets that
# exist. Vector input and a DIR that is a file are clear errors with nothing written.
. "${top_srcdir:-.}/tests/cli/lib.sh"
export OPENBLAS_NUM_THREADS=1
RECUR=$(cd "$BUILD" && pwd)/recur; SRC=$(cd "$SRC" && pwd)
cd "$TMP" || fail "cd"
cat > m.rnn <<'RNN'
format 1
data { source = text("t.txt", level=char) }
model lv {
  input tokens(vocab=auto)
  embedding(4)
  lstm(5)
  gru(3)
  dense(vocab)
}
train {
  loss = cross_entropy(next_token)
  batch = 2
  bptt = 4
  steps = 2
}
RNN
i=0; : > t.txt
while [ $i -lt 6 ]; do printf 'a\\b\tc "d" \303\251\302\240e\nfg h.\n' >> t.txt; i=$((i + 1)); done
run_ok "$RECUR" train m.rnn --data t.txt --out run
CK=run/last.ckpt
run_ok "$RECUR" trace $CK --data t.txt --range 0:40 -o a.html --npz a.npz --lstmvis lv
# errors: vector input has no tokens; DIR is a file. Nothing written either way.
printf 'not a directory' > afile
run_status 1 "$RECUR" trace $CK --text 'fg h' -o b.html --lstmvis afile
grep -q "afile: error: cannot create the directory: something else of that name is there" \
  "$TMP/err" || fail "DIR-is-a-file error"
[ -e b.html ] && fail "a failed --lstmvis wrote the page"
run_ok "$RECUR" init "$SRC/models/adding.rnn" -o add.ckpt
PY=/usr/bin/python3
if ! [ -x $PY ] || ! $PY -c 'import h5py, numpy, yaml' 2>/dev/null; then
  echo "SKIP trace_lstmvis: /usr/bin/python3 lacks h5py, numpy or yaml (python3-h5py python3-yaml)"; pass
fi
$PY -c 'import numpy as np; np.save("x.npy", np.zeros((5, 1, 2), np.float32))'
run_status 1 "$RECUR" trace add.ckpt --input x.npy -o v.html --lstmvis vdir
grep -q -- "--lstmvis: error: LSTMVis shows a sequence of tokens" "$TMP/err" || fail "vector error"
[ -e vdir ] || [ -e v.html ] && fail "vector input with --lstmvis wrote something"
# two batch columns of ids: column b is rows b*T .. b*T+T-1
$PY -c 'import numpy as np; np.save("ids.npy", np.random.RandomState(5).randint(0, 14, (9, 2)).astype(np.int32))'
run_ok "$RECUR" trace $CK --input ids.npy -o i.html --npz i.npz --lstmvis lv2
run_ok $PY - <<'PYEOF'
import os, h5py, numpy as np, yaml
vocab = sorted(set(open("t.txt", encoding="utf-8").read()))
ESC = {"s": " ", "n": "\n", "t": "\t", "r": "\r", "\\": "\\"}


def unescape(w):
    out, i = "", 0
    while i < len(w):
        if w[i] != "\\":
            out, i = out + w[i], i + 1
        elif w[i + 1] in ESC:
            out, i = out + ESC[w[i + 1]], i + 2
        else:                                   # \xNN or \uXXXX
            k = 4 if w[i + 1] == "x" else 6
            out, i = out + chr(int(w[i + 2:i + k], 16)), i + k
    return out


def check(d, npz, ids):
    z = np.load(npz)
    cfg = yaml.safe_load(open(os.path.join(d, "lstm.yml")))
    files = cfg["files"]
    for f in files.values():
        assert os.path.isfile(os.path.join(d, f)), f"lstm.yml names a missing {f}"
    ws, st = cfg["word_sequence"], cfg["states"]
    states = h5py.File(os.path.join(d, files[st["file"]]), "r")
    words = h5py.File(os.path.join(d, files[ws["file"]]), "r")
    assert set(states.keys()) == set(z.files), (sorted(states.keys()), z.files)
    assert [t["path"] for t in st["types"]] == list(z.files), "lstm.yml does not name every array"
    for t in st["types"]:
        a, s = z[t["path"]], states[t["path"]][()]
        T, B, W = a.shape
        assert s.shape == (T * B, W) and s.dtype == np.float32, (t["path"], s.shape)
        assert np.array_equal(s, a.transpose(1, 0, 2).reshape(T * B, W)), t["path"] + " differs"
        assert t["type"] == ("output" if t["path"].endswith(".h") else "state")
        unsigned = a.min() >= 0 and a.max() <= 1
        assert t.get("unsigned", False) == unsigned, t
        assert (t.get("transform") == "none") == (a.min() >= -1 and a.max() <= 1), t
    got = words[ws["path"]][()]
    assert got.shape == (ids.size,) and got.dtype.kind == "i", got.shape
    assert np.array_equal(got, ids.T.reshape(-1)), "word_ids are not the text's ids"
    lines = open(os.path.join(d, files[ws["dict_file"]]), encoding="utf-8").read().splitlines()
    pairs = [l.split() for l in lines]                   # as LSTMVis reads it
    assert all(len(p) == 2 for p in pairs), "a dict line does not split in two"
    assert [int(p[1]) for p in pairs] == list(range(len(vocab))), "dict ids"
    assert [unescape(p[0]) for p in pairs] == vocab, [p[0] for p in pairs]
    return len(st["types"]), states[st["types"][0]["path"]].shape


text = open("t.txt", encoding="utf-8").read()
raw = open("t.txt", "rb").read()[:40].decode("utf-8")
n, shape = check("lv", "a.npz", np.array([[vocab.index(c)] for c in raw]))
n2, shape2 = check("lv2", "i.npz", np.load("ids.npy"))
print(f"lstmvis: {n} datasets {shape} (text), {n2} {shape2} (2 columns of ids), "
      f"dict of {len(vocab)} tokens, lstm.yml consistent")
PYEOF
cat "$TMP/out"
pass
