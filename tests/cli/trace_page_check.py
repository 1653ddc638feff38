"""Checks recur trace's page (issue 12) against the --npz arrays, as it showed in a browser:
 - text/vectors: what tests/page/drive_page.js saw the page do. The colouring of every
   character follows the chosen value and unit, keys move the choice as doc/TRACE.md says,
   the tip shows the unit's values of its cell and the five most likely next tokens, clicking
   a ranked unit selects it (and the ranks agree with numpy), and a vector input's time series
   is the chosen unit's values.
 - shot: a screenshot is not blank and shows the text coloured as the page starts (first c,
   unit 0): most of those colours appear as pixels.
Referees: numpy on the npz, the vocabulary rebuilt from the training text, PIL for the PNG.
    trace_page_check.py text OBS.json TRACE.npz TRAIN.txt
    trace_page_check.py vectors OBS.json TRACE.npz
    trace_page_check.py shot SHOT.png TRACE.npz"""
import json
import math
import re
import sys

import numpy as np

mode, obs, npz = sys.argv[1:4]
Z = np.load(npz)
NAMES = [n for n in Z.files if not n.startswith("output.")]
# Batch column 0, as the page shows it: the page carries each float32 with 9 significant digits
# (enough to tell float32s apart), so the referee rounds the same way and then agrees exactly.
R9 = np.vectorize(lambda x: float("%.9g" % x))
V = {n: R9(Z[n][:, 0, :].astype(np.float64)) for n in Z.files}
O = json.load(open(obs)) if mode != "shot" else None
assert O is None or O["errors"] == [], O["errors"]


def group(n):
    return n[:n.rindex(".")]


def colour(n, t, u):
    """The page's colour of value n at step t, unit u (doc/TRACE.md), recomputed."""
    v, a = V[n][t, u], V[n]
    if a.min() >= 0 and a.max() <= 1:                      # a gate: white to red
        k = math.floor(255 * (1 - v) + 0.5)
        return f"rgb(255, {k}, {k})"
    sc = np.abs(a).max() or 1.0
    x = max(-1.0, min(1.0, v / sc))
    k = math.floor(255 * (1 - abs(x)) + 0.5)
    return f"rgb(255, {k}, {k})" if x >= 0 else f"rgb({k}, {k}, 255)"


def check_view(s, what):
    """The characters are coloured by s's value and unit; the heatmaps frame its unit."""
    n, u = s["name"], s["unit"]
    assert n in NAMES and 0 <= u < V[n].shape[1], f"{what}: bad choice {n} {u}"
    if mode == "text":
        want = [colour(n, t, u) for t in range(V[n].shape[0])]
        assert s["colours"] == want, f"{what}: colours are not those of {n} unit {u}"
    assert s["frames"] and all(y == u * s["rowHeight"] for y in s["frames"]), \
        f"{what}: heatmap frames {s['frames'][:3]} are not at unit {u}"


def step(name, unit, key):
    """Where a key moves the choice (doc/TRACE.md): j/k/arrows the unit, h/l the value."""
    i = NAMES.index(name)
    if key in ("j", "ArrowDown"): unit += 1
    elif key in ("k", "ArrowUp"): unit -= 1
    elif key in ("l", "ArrowRight"): i = min(len(NAMES) - 1, i + 1)
    elif key in ("h", "ArrowLeft"): i = max(0, i - 1)
    w = V[NAMES[i]].shape[1]
    return NAMES[i], max(0, min(w - 1, unit))


def check_keys():
    s = O["initial"]
    assert s["name"].endswith(".c") and s["unit"] == 0, "the page does not start on c unit 0"
    check_view(s, "initial")
    name, unit = s["name"], s["unit"]
    moved = set()
    for k in O["keys"]:
        name, unit = step(name, unit, k["key"])
        assert (k["name"], k["unit"]) == (name, unit), \
            f"key {k['key']}: {k['name']} unit {k['unit']}, expected {name} unit {unit}"
        check_view(k, "key " + k["key"])
        moved.add((name, unit))
    assert len(moved) >= 3, "the keys never changed the choice"
    return name, unit


def check_controls(name, unit):
    """A focused select takes its arrows (one value on), a focused unit field its own (one up)."""
    i = NAMES.index(name)
    want = [(NAMES[i + 1], unit), (NAMES[i + 1], unit + 1), (NAMES[i], unit + 1)]
    for c, (n, u) in zip(O["controls"], want):
        assert (c["name"], c["unit"]) == (n, u), \
            f"{c['key']} on {c['control']}: {c['name']} unit {c['unit']}, expected {n} unit {u}"
        check_view(c, c["control"])


def check_tips(vocab):
    probs = V["output.probs"]
    for h in O["hover"]:
        t, tip = h["step"], h["tip"]
        assert tip, f"no tip over character {t}"
        lines = tip.rstrip("\n").split("\n")
        assert lines[0] == f"step {t}", lines[0]
        cell = [n for n in NAMES if group(n) == group(h["name"])]
        vals = lines[1:1 + len(cell)]
        for n, line in zip(cell, vals):
            k, x = line.split(" = ")
            assert k == n[n.rindex(".") + 1:], f"tip line {line!r} for {n}"
            assert abs(float(x) - V[n][t, h["unit"]]) <= 5.1e-5, f"step {t}: {line} != {V[n][t, h['unit']]}"
        assert lines[1 + len(cell)] == "next:", lines
        top = np.argsort(-probs[t], kind="stable")[:5]
        got = [re.fullmatch(r'  (".*") (\S+)', x).groups() for x in lines[2 + len(cell):]]
        assert len(got) == 5, f"step {t}: {len(got)} predictions"
        for (tok, p), j in zip(got, top):
            assert abs(float(p) - probs[t, j]) <= 5.1e-4, f"step {t}: p {p} != {probs[t, j]}"
            q = json.loads(tok)
            assert q in vocab and abs(probs[t, vocab.index(q)] - probs[t, j]) <= 1e-7, \
                f"step {t}: {q!r} is not a most likely token ({vocab[j]!r})"
    assert O["afterLeave"]["tip"] is None, "the tip stays after the mouse left"


def longest_run(f):
    best = run = 0
    for x in f:
        run = run + 1 if x > 0.9 else 0
        best = max(best, run)
    return best


def check_clicks():
    assert len(O["clicks"]) >= 3, "too few ranked lists to click"
    for c in O["clicks"]:
        m = re.search(r"(\S+) unit (\d+)", c["text"])
        assert (c["name"], c["unit"]) == (m.group(1), int(m.group(2))), \
            f"clicking {c['text']!r} chose {c['name']} unit {c['unit']}"
        check_view(c, "click " + c["list"])
        g = group(c["name"])
        if c["list"] == "rvar":
            best = np.var(V[g + ".c" if g + ".c" in V else g + ".h"], axis=0).max()
            assert abs(np.var(V[c["name"]][:, c["unit"]]) - best) <= 1e-9, "not the largest variance"
        if c["list"] == "rmem":
            f = V[g + ".f"]
            best = max(longest_run(f[:, j]) for j in range(f.shape[1]))
            assert longest_run(f[:, c["unit"]]) == best, "not the longest run of f > 0.9"


def check_vectors():
    name, unit = O["initial"]["name"], O["initial"]["unit"]
    for s in [O["initial"]] + O["keys"]:
        if "key" in s:
            name, unit = step(name, unit, s["key"])
        assert (s["name"], s["unit"]) == (name, unit), f"{s.get('key')}: {s['name']} {s['unit']}"
        assert s["colours"] == [], "vector input coloured text"
        v = V[name][:, unit]
        lo, hi = v.min(), v.max()
        hi = lo + 1 if hi == lo else hi
        pts = [tuple(map(float, p.split(","))) for p in s["points"].split()]
        want = [(t * 790 / max(1, len(v) - 1) + 5, 155 - (x - lo) * 150 / (hi - lo))
                for t, x in enumerate(v)]
        assert len(pts) == len(want) and np.allclose(pts, want, rtol=0, atol=1e-6), \
            f"the plot is not {name} unit {unit}"
        check_view(s, "vectors")
    assert len({(s["name"], s["unit"]) for s in O["keys"]}) >= 3, "the keys never changed the plot"


def check_shot():
    try:
        from PIL import Image
    except ImportError:
        print("SKIP the screenshot's colours: /usr/bin/python3 has no PIL (python3-pil)")
        return
    img = Image.open(obs).convert("RGB")
    px = set(img.getdata())
    assert len(px) > 40, f"screenshot looks blank: {len(px)} colours"
    first = next(n for n in NAMES if n.endswith(".c"))
    want = {tuple(map(int, re.findall(r"\d+", colour(first, t, 0)))) for t in range(len(V[first]))}
    seen = len(want & px)
    assert seen >= 0.8 * len(want), f"only {seen} of the text's {len(want)} colours are shown"
    print(f"screenshot {img.size[0]}x{img.size[1]}: {len(px)} colours, "
          f"{seen} of the text's {len(want)} colours")


if mode == "text":
    vocab = sorted(set(open(sys.argv[4], encoding="utf-8").read()))
    name, unit = check_keys()
    check_controls(name, unit)
    check_tips(vocab)
    check_clicks()
    print(f"page driven: {len(O['keys'])} keys, {len(O['hover'])} hovers, "
          f"{len(O['clicks'])} ranked clicks, all equal to the npz")
elif mode == "vectors":
    check_vectors()
    print(f"vector page driven: {len(O['keys'])} keys, the plot follows the unit")
else:
    check_shot()
