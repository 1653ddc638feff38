#!/bin/sh
# recur trace's page in headless Chromium (issue 12): it renders (the screenshot is not blank:
# many distinct colours, from the coloured text and heatmaps), and the script ran on the data:
# the DOM after it holds one coloured span per step, the heatmaps of the chosen cell and the
# ranked lists. Skips, saying so, without chromium (CI installs it) or /usr/bin/python3.
. "${top_srcdir:-.}/tests/cli/lib.sh"
export OPENBLAS_NUM_THREADS=1
RECUR=$(cd "$BUILD" && pwd)/recur; SRC=$(cd "$SRC" && pwd)
CHROME=$(command -v chromium || command -v chromium-browser || true)
[ -n "$CHROME" ] || { echo "SKIP trace_page: chromium is not installed (apt-get install chromium)"; pass; }
PY=/usr/bin/python3
[ -x $PY ] || { echo "SKIP trace_page: /usr/bin/python3 is not installed"; pass; }
cd "$TMP" || fail "cd"
cat > m.rnn <<'RNN'
format 1
data { source = text("t.txt", level=char) }
model tm {
  input tokens(vocab=auto)
  embedding(8)
  lstm(16)
  dense(vocab)
}
train {
  loss = cross_entropy(next_token)
  batch = 2
  bptt = 8
  steps = 3
}
RNN
i=0; : > t.txt
while [ $i -lt 8 ]; do printf 'She said "hello" (twice)\nand left.\n' >> t.txt; i=$((i + 1)); done
run_ok "$RECUR" train m.rnn --data t.txt --out run
TEXT='She said "hello" (twice)
and left.'
run_ok "$RECUR" trace run/last.ckpt --text "$TEXT" -o page.html
H="--headless --no-sandbox --disable-gpu --user-data-dir=$TMP/prof --window-size=1200,900"
# shellcheck disable=SC2086
timeout 120 "$CHROME" $H --screenshot="$TMP/shot.png" "file://$TMP/page.html" > chrome.log 2>&1 ||
  fail "chromium --screenshot failed: $(tail -3 chrome.log)"
# shellcheck disable=SC2086
timeout 120 "$CHROME" $H --dump-dom "file://$TMP/page.html" > dom.html 2> chrome.log ||
  fail "chromium --dump-dom failed: $(tail -3 chrome.log)"
run_ok $PY - "$TMP/shot.png" dom.html <<'PYEOF'
import re, struct, sys, zlib
png = open(sys.argv[1], "rb").read()
assert png[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
w, h, depth, ctype = struct.unpack(">IIBB", png[16:26])
data, pos = b"", 8
while pos < len(png):
    n, kind = struct.unpack(">I4s", png[pos:pos + 8])
    if kind == b"IDAT":
        data += png[pos + 8:pos + 8 + n]
    pos += 12 + n
raw = zlib.decompress(data)
bpp = {2: 3, 6: 4}[ctype]
stride = w * bpp + 1
colours = set()
for y in range(0, h, 7):          # filter bytes make raw rows inexact; sampling is enough
    row = raw[y * stride + 1:(y + 1) * stride]
    for x in range(0, w * bpp, bpp * 5):
        colours.add(row[x:x + 3])
assert len(colours) > 40, f"screenshot looks blank: {len(colours)} colours"
dom = open(sys.argv[2], encoding="utf-8").read()
spans = re.findall(r'<span[^>]*style="background: rgb', dom)
assert len(spans) == 34, f"expected 34 coloured characters, got {len(spans)}"
assert dom.count("<rect") > 16 * 34, "no heatmap in the DOM"
assert re.search(r'<ol class="rank" id="rmem"><li>', dom), "no long-memory ranking"
assert re.search(r'<ol class="rank" id="rvar"><li>', dom), "no variance ranking"
feat = re.search(r'<ol class="rank" id="rfeat">(.*?)</ol>', dom).group(1)
for k in ("inside quotes", "inside brackets", "position in line", "after a newline", "whitespace"):
    assert re.search(k + r": lstm1\.l0\.[ch] unit \d+ \(r = -?[01]\.\d\d\)", feat), "no feature " + k
print(f"page: {w}x{h} screenshot, {len(colours)} colours, {len(spans)} coloured characters")
PYEOF
cat "$TMP/out"
# Vector inputs (the adding problem, pooled output: no probabilities): a time-series plot
run_ok "$RECUR" init "$SRC/models/adding.rnn" -o add.ckpt
$PY -c 'import numpy as np; np.save("x.npy", np.random.RandomState(1).rand(30, 2, 2).astype(np.float32))'
run_ok "$RECUR" trace add.ckpt --input x.npy -o add.html --npz add.npz
# shellcheck disable=SC2086
timeout 120 "$CHROME" $H --dump-dom "file://$TMP/add.html" > adom.html 2> chrome.log ||
  fail "chromium --dump-dom (vectors) failed: $(tail -3 chrome.log)"
grep -q '<polyline' adom.html || fail "no time-series plot for vector input"
grep -q 'style="background: rgb' adom.html && fail "vector input coloured text"
run_ok $PY -c 'import numpy as np; z = np.load("add.npz"); assert z["lstm1.l0.c"].shape == (30, 2, 64); assert "output.probs" not in z.files'
cp "$TMP/shot.png" "${TRACE_SHOT:-/dev/null}" 2>/dev/null || true
pass
