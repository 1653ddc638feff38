#!/usr/bin/python3
"""why-lstm-units.py: ranks a traced character LSTM's units by how well they track the position
in the line, and draws the best one (part of examples/why-lstm.sh).

usage: why-lstm-units.py TRACE.npz TEXT OFFSET LENGTH OUT.svg

TRACE.npz is `recur trace --npz` of bytes [OFFSET, OFFSET + LENGTH) of TEXT. For every unit of
lstm1.l0.c and lstm1.l0.h: Pearson r over the traced characters between its value and the
number of characters since the last newline; prints the five best by |r|, and plots the best
unit's value over the first 400 characters (newlines marked) as a self-contained SVG."""
import sys

import numpy as np


def main():
    z = np.load(sys.argv[1])
    text = open(sys.argv[2], "rb").read()[int(sys.argv[3]):int(sys.argv[3]) + int(sys.argv[4])]
    pos, p = [], 0
    for ch in text:
        pos.append(p)
        p = 0 if ch == 10 else p + 1
    pos = np.array(pos, np.float64)
    ranked = []
    for name in ("lstm1.l0.c", "lstm1.l0.h"):
        v = z[name][:, 0, :].astype(np.float64)
        for u in range(v.shape[1]):
            r = np.corrcoef(v[:, u], pos)[0, 1]
            if np.isfinite(r):
                ranked.append((abs(r), r, name, u))
    ranked.sort(reverse=True)
    print("units tracking the position in the line (Pearson r over %d characters):" % len(pos))
    for _, r, name, u in ranked[:5]:
        print(f"  {name} unit {u}: r = {r:+.3f}")
    _, r, name, u = ranked[0]
    plot(z[name][:400, 0, u].astype(np.float64), pos[:400], text[:400], name, u, r, sys.argv[5])


def plot(v, pos, text, name, u, r, path):
    """The unit's value (blue) and the position in the line scaled to the same range (grey)
    against the character index; a red tick at every newline."""
    W, H, M = 900, 260, 40
    lo, hi = min(v.min(), -1e-6), max(v.max(), 1e-6)
    X = lambda i: M + i * (W - 2 * M) / max(len(v) - 1, 1)
    Y = lambda y: H - M - (y - lo) / (hi - lo) * (H - 2 * M)
    ps = pos / max(pos.max(), 1) * (hi - lo) + lo
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" '
           f'font-family="sans-serif" font-size="12"><rect width="100%" height="100%" fill="white"/>',
           f'<text x="{W / 2}" y="20" text-anchor="middle">{name} unit {u} (blue) and the position '
           f'in the line (grey, scaled); r = {r:+.3f}; red: newlines</text>']
    for i, ch in enumerate(text):
        if ch == 10:
            out.append(f'<line x1="{X(i):.1f}" y1="{M}" x2="{X(i):.1f}" y2="{H - M}" stroke="#f88"/>')
    for series, color in ((ps, "#aaa"), (v, "#1f77b4")):
        pts = " ".join(f"{X(i):.1f},{Y(y):.1f}" for i, y in enumerate(series))
        out.append(f'<polyline fill="none" stroke="{color}" stroke-width="1.5" points="{pts}"/>')
    out.append(f'<text x="{M}" y="{H - 12}">character 0</text><text x="{W - M}" y="{H - 12}" '
               f'text-anchor="end">{len(v) - 1}</text></svg>')
    open(path, "w").write("\n".join(out) + "\n")


main()
