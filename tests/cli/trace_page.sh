#!/bin/sh
# recur trace's page (issue 12) in two browsers, Debian's chromium and firefox-esr:
#  - rendered headless (`--screenshot`): not blank, and the text shows the colours of the values
#    the page starts on (c, unit 0), recomputed from the npz (tests/cli/trace_page_check.py);
#  - Chromium's DOM after the script (`--dump-dom`): one coloured span per step, the heatmaps
#    and the ranked lists;
#  - driven as a person would (tests/page/drive_page.js, playwright-core): hovering a character
#    shows the step's values of the chosen unit's cell and the top-5 predictions, equal to the
#    npz; j/k/h/l and the arrows move unit and value and the colouring follows; clicking a ranked
#    unit selects it; the vector-input page plots the chosen unit's series.
# Each browser, playwright-core or /usr/bin/python3 that is missing skips its part, saying so
# (CI installs them all).
. "${top_srcdir:-.}/tests/cli/lib.sh"
export OPENBLAS_NUM_THREADS=1
RECUR=$(cd "$BUILD" && pwd)/recur; SRC=$(cd "$SRC" && pwd)
CHROME=$(command -v chromium || command -v chromium-browser || true)
FIREFOX=$(command -v firefox-esr || true)
[ -n "$CHROME$FIREFOX" ] || { echo "SKIP trace_page: neither chromium nor firefox-esr is installed"; pass; }
PY=/usr/bin/python3
$PY -c 'import numpy' 2> /dev/null || { echo "SKIP trace_page: /usr/bin/python3 with numpy is not installed"; pass; }
CHECK="$SRC/tests/cli/trace_page_check.py"
DRIVE="$SRC/tests/page/drive_page.js"
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
run_ok "$RECUR" trace run/last.ckpt --text "$TEXT" -o page.html --npz page.npz
# Vector inputs (the adding problem, pooled output: no probabilities): a time-series plot
run_ok "$RECUR" init "$SRC/models/adding.rnn" -o add.ckpt
$PY -c 'import numpy as np; np.save("x.npy", np.random.RandomState(1).rand(30, 2, 2).astype(np.float32))'
run_ok "$RECUR" trace add.ckpt --input x.npy -o add.html --npz add.npz
run_ok $PY -c 'import numpy as np; z = np.load("add.npz"); assert z["lstm1.l0.c"].shape == (30, 2, 64); assert "output.probs" not in z.files'
H="--headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking
--disable-component-update --disable-sync --user-data-dir=$TMP/prof --window-size=1200,900"
if [ -n "$CHROME" ]; then
  # shellcheck disable=SC2086
  timeout 120 "$CHROME" $H --screenshot="$TMP/shot.png" "file://$TMP/page.html" > chrome.log 2>&1 ||
    fail "chromium --screenshot failed: $(tail -3 chrome.log)"
  run_ok $PY "$CHECK" shot shot.png page.npz
  cat "$TMP/out"
  # shellcheck disable=SC2086
  timeout 120 "$CHROME" $H --dump-dom "file://$TMP/page.html" > dom.html 2> chrome.log ||
    fail "chromium --dump-dom failed: $(tail -3 chrome.log)"
  run_ok $PY - dom.html <<'PYEOF'
import re, sys
dom = open(sys.argv[1], encoding="utf-8").read()
spans = re.findall(r'<span[^>]*style="background: rgb', dom)
assert len(spans) == 34, f"expected 34 coloured characters, got {len(spans)}"
assert dom.count("<rect") > 16 * 34, "no heatmap in the DOM"
assert re.search(r'<ol class="rank" id="rmem"><li>', dom), "no long-memory ranking"
assert re.search(r'<ol class="rank" id="rvar"><li>', dom), "no variance ranking"
feat = re.search(r'<ol class="rank" id="rfeat">(.*?)</ol>', dom).group(1)
for k in ("inside quotes", "inside brackets", "position in line", "after a newline", "whitespace"):
    assert re.search(k + r": lstm1\.l0\.[ch] unit \d+ \(r = -?[01]\.\d\d\)", feat), "no feature " + k
print(f"chromium DOM: {len(spans)} coloured characters, heatmaps and ranked lists")
PYEOF
  cat "$TMP/out"
  # shellcheck disable=SC2086
  timeout 120 "$CHROME" $H --dump-dom "file://$TMP/add.html" > adom.html 2> chrome.log ||
    fail "chromium --dump-dom (vectors) failed: $(tail -3 chrome.log)"
  grep -q '<polyline' adom.html || fail "no time-series plot for vector input"
  grep -q 'style="background: rgb' adom.html && fail "vector input coloured text"
  cp "$TMP/shot.png" "${TRACE_SHOT:-/dev/null}" 2>/dev/null || true
else
  echo "SKIP trace_page: chromium is not installed (apt-get install chromium): no Chromium render"
fi
if [ -n "$FIREFOX" ]; then
  mkdir ffprof
  timeout 120 "$FIREFOX" --headless --no-remote --profile "$TMP/ffprof" --window-size=1200,900 \
    --screenshot "$TMP/ffshot.png" "file://$TMP/page.html" > firefox.log 2>&1 ||
    fail "firefox-esr --screenshot failed: $(tail -3 firefox.log)"
  run_ok $PY "$CHECK" shot ffshot.png page.npz
  echo "firefox $(cat "$TMP/out")"
else
  echo "SKIP trace_page: firefox-esr is not installed (apt-get install firefox-esr): no Firefox render"
fi
# Driven in each browser there is (playwright-core drives Debian's browsers, none of its own)
for b in chromium firefox; do
  if ! node "$DRIVE" --probe $b > probe.log 2>&1; then
    echo "SKIP trace_page: not driving $b: $(cat probe.log)"; continue
  fi
  run_ok node "$DRIVE" $b text page.html obs.json
  run_ok $PY "$CHECK" text obs.json page.npz t.txt
  echo "$b $(cat "$TMP/out")"
  run_ok node "$DRIVE" $b vectors add.html aobs.json
  run_ok $PY "$CHECK" vectors aobs.json add.npz
  echo "$b $(cat "$TMP/out")"
done
pass
