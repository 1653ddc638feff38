#!/usr/bin/python3
"""trace_lags_check.py: checks recur trace --lags against central finite differences.

usage: trace_lags_check.py LAGS.npz KIND:W.safetensors ...   (KIND rnn, gru, lstm or charlstm)

Entry i of the list is ckpt<i> of the npz. rnn/gru/lstm are tests/cli/trace_lags.sh's adding
models (input vector(2), CELL(3), pool(last), dense(1), mse: one loss per sequence at its last
step); charlstm is embedding(4), lstm(3), dense(vocab), cross-entropy of each step's next token.
The loss l_{t,b} is recomputed here in float64 numpy from the checkpoint's float32 weights with
PyTorch's equations, and d l_{t,b} / d x_{s,b} is taken by central differences in float64
(step 1e-6: truncation ~1e-12, rounding ~1e-10, far below the tolerance). recur's gradient is
float32 arithmetic through T = 8 steps of its own backward pass, so it is compared within
2e-4 of the largest gradient (a wrong equation, lag or scale is off by far more); the per-lag
mean norms must match the differences' mean norms within 2e-4 relative."""
import json
import struct
import sys

import numpy as np


def safetensors(path):
    b = open(path, "rb").read()
    n = struct.unpack("<Q", b[:8])[0]
    head = json.loads(b[8:8 + n])
    out = {}
    for k, v in head.items():
        if k != "__metadata__":
            s, e = v["data_offsets"]
            out[k] = np.frombuffer(b[8 + n + s:8 + n + e], np.float32).reshape(v["shape"]).astype(np.float64)
    return out


def sig(x):
    return 1 / (1 + np.exp(-x))


def cell_run(kind, W, name, x):
    """h for every step of one PyTorch rnn/gru/lstm layer from a zero state: [T, B, H]."""
    wi, wh = W[f"{name}.weight_ih_l0"], W[f"{name}.weight_hh_l0"]
    bi, bh = W[f"{name}.bias_ih_l0"], W[f"{name}.bias_hh_l0"]
    T, B, _ = x.shape
    H = wh.shape[1]
    h, c, out = np.zeros((B, H)), np.zeros((B, H)), np.zeros((T, B, H))
    for t in range(T):
        gx, gh = x[t] @ wi.T + bi, h @ wh.T + bh
        if kind == "rnn":           # h = tanh(W x + b_i + U h + b_h)
            h = np.tanh(gx + gh)
        elif kind == "gru":         # r, z, n; h = (1 - z) n + z h
            r = sig(gx[:, :H] + gh[:, :H])
            z = sig(gx[:, H:2 * H] + gh[:, H:2 * H])
            n = np.tanh(gx[:, 2 * H:] + r * gh[:, 2 * H:])
            h = (1 - z) * n + z * h
        else:                       # i, f, g, o; c = f c + i g; h = o tanh(c)
            a = gx + gh
            i, f, g, o = sig(a[:, :H]), sig(a[:, H:2 * H]), np.tanh(a[:, 2 * H:3 * H]), sig(a[:, 3 * H:])
            c = f * c + i * g
            h = o * np.tanh(c)
        out[t] = h
    return out


def losses(kind, W, x, target):
    """Every l_{t,b}: [B] for an adding model (squared error of the pooled output), [T, B]
    for the char model (cross-entropy of each step against its target id; NaN where none)."""
    cell = "lstm" if kind == "charlstm" else kind
    h = cell_run(cell, W, f"{cell}1", x)
    if kind != "charlstm":
        y = h[-1] @ W["dense1.weight"].T + W["dense1.bias"]
        return ((y - target) ** 2).mean(-1)
    y = h @ W["dense1.weight"].T + W["dense1.bias"]
    y = y - y.max(-1, keepdims=True)
    logp = y - np.log(np.exp(y).sum(-1, keepdims=True))
    ids = target.astype(int)
    l = np.full(ids.shape, np.nan)
    for t in range(ids.shape[0]):
        for b in range(ids.shape[1]):
            if ids[t, b] >= 0:
                l[t, b] = -logp[t, b, ids[t, b]]
    return l


def fd_grad(kind, W, x, target, eps=1e-6):
    """d l / d x by central differences: [T, B, n] per loss (adding) or [T, T, B, n] (char:
    first index the loss step)."""
    base = losses(kind, W, x, target)
    g = np.zeros(base.shape[:1] + x.shape) if kind == "charlstm" else np.zeros(x.shape)
    for s in range(x.shape[0]):
        for b in range(x.shape[1]):
            for j in range(x.shape[2]):
                xp, xm = x.copy(), x.copy()
                xp[s, b, j] += eps
                xm[s, b, j] -= eps
                d = (losses(kind, W, xp, target) - losses(kind, W, xm, target)) / (2 * eps)
                if kind == "charlstm":
                    g[:, s, b, j] = d[:, b]
                else:
                    g[s, b, j] = d[b]
    return g


def check(z, i, kind, W):
    p = f"ckpt{i}."
    x = z[p + "x"].astype(np.float64)
    T, B, n = x.shape
    target, grad, steps = z[p + "target"], z[p + "grad"], z[p + "steps"].astype(int)
    if kind == "charlstm":
        ids = z[p + "ids"].astype(int)
        emb = W["embedding1.weight"][ids]
        if np.max(np.abs(emb - x)) > 1e-6:
            sys.exit(f"FAIL {kind}: x is not the embedding of the ids")
    ref = fd_grad(kind, W, x, target)
    sums, counts = np.zeros(T), np.zeros(T, int)
    for j in range(grad.shape[0]):
        for b in range(B):
            t = steps[j, b]
            if t < 0:
                continue
            want = ref[t, :, b] if kind == "charlstm" else ref[:, b]
            want = np.where(np.arange(T)[:, None] <= t, want, 0)
            got = grad[j, :, b].astype(np.float64)
            tol = 2e-4 * max(np.abs(want).max(), 1e-12)
            err = np.abs(got - want).max()
            if not err <= tol:
                sys.exit(f"FAIL {kind}: d l_(t={t},b={b}) / d x differs from finite differences by {err:g} > {tol:g}")
            for k in range(t + 1):
                sums[k] += np.linalg.norm(want[t - k])
                counts[k] += 1
    norm, count = z[p + "norm"], z[p + "count"].astype(int)
    if not np.array_equal(count, counts[:len(count)]):
        sys.exit(f"FAIL {kind}: pair counts {count} vs {counts}")
    has = count > 0     # a lag no (t, b) pair reaches is NaN
    want = sums[:len(norm)][has] / count[has]
    rel = np.max(np.abs(norm[has] - want) / want)
    if not rel <= 2e-4 or not np.isnan(norm[~has]).all():
        sys.exit(f"FAIL {kind}: mean norms {norm} vs finite differences {want} (rel {rel:g})")
    if kind != "charlstm" and not (steps == T - 1).all():
        sys.exit(f"FAIL {kind}: a pooled model's loss is at the last step, got {steps}")
    if kind == "charlstm" and not (list(steps[:, 0]) == list(range(T - 1)) + [-1]):
        sys.exit(f"FAIL {kind}: every step but the last has a loss, got {steps[:, 0]}")
    return rel, count


def main():
    z = np.load(sys.argv[1])
    for i, arg in enumerate(sys.argv[2:]):
        kind, path = arg.split(":", 1)
        rel, count = check(z, i, kind, safetensors(path))
        print(f"trace_lags_check: {kind}: gradients and {len(count)} mean norms match finite differences (rel {rel:.1e})")


main()
