#!/usr/bin/python3
"""trace_check.py: checks recur trace's npz and page against independent references (numpy).

usage: trace_check.py W.safetensors IDS.npy RUN_Y.npy TRACE.npz TRACE.html

W: the checkpoint's weights (recur convert), PyTorch names; RUN_Y: `recur run`'s logits for IDS.
The model is tests/cli/trace.sh's: embedding(5), lstm(6, layers=2), gru(4), dense(vocab).
Every LSTM/GRU value is recomputed here in float64 from the weights with PyTorch's equations
(gate orders i,f,g,o and r,z,n) and compared within 1e-5; the probabilities equal softmax of
`recur run`'s logits within 1e-6; the page's embedded JSON equals the npz (batch column 0)."""
import json
import re
import struct
import sys

import numpy as np


def safetensors(path):
    b = open(path, "rb").read()
    n = struct.unpack("<Q", b[:8])[0]
    head = json.loads(b[8:8 + n])
    out = {}
    for k, v in head.items():
        if k == "__metadata__":
            continue
        s, e = v["data_offsets"]
        out[k] = np.frombuffer(b[8 + n + s:8 + n + e], dtype=np.float32).reshape(v["shape"])
    return out


def sig(x):
    return 1 / (1 + np.exp(-x))


def lstm(W, name, k, x):
    wi, wh = W[f"{name}.weight_ih_l{k}"], W[f"{name}.weight_hh_l{k}"]
    b = W[f"{name}.bias_ih_l{k}"] + W[f"{name}.bias_hh_l{k}"].astype(np.float64)
    T, B, _ = x.shape
    H = wh.shape[1]
    h, c = np.zeros((B, H)), np.zeros((B, H))
    rec = {n: np.zeros((T, B, H)) for n in "ifgoch"}
    for t in range(T):
        z = x[t] @ wi.T + h @ wh.T + b
        i, f, g, o = sig(z[:, :H]), sig(z[:, H:2 * H]), np.tanh(z[:, 2 * H:3 * H]), sig(z[:, 3 * H:])
        c = f * c + i * g
        h = o * np.tanh(c)
        for n, v in zip("ifgoch", (i, f, g, o, c, h)):
            rec[n][t] = v
    return rec


def gru(W, name, x):
    wi, wh = W[f"{name}.weight_ih_l0"], W[f"{name}.weight_hh_l0"]
    bi, bh = W[f"{name}.bias_ih_l0"], W[f"{name}.bias_hh_l0"]
    T, B, _ = x.shape
    H = wh.shape[1]
    h = np.zeros((B, H))
    rec = {n: np.zeros((T, B, H)) for n in "rznh"}
    for t in range(T):
        gx, gh = x[t] @ wi.T + bi, h @ wh.T + bh
        r = sig(gx[:, :H] + gh[:, :H])
        z = sig(gx[:, H:2 * H] + gh[:, H:2 * H])
        n = np.tanh(gx[:, 2 * H:] + r * gh[:, 2 * H:])
        h = (1 - z) * n + z * h
        for k, v in zip("rznh", (r, z, n, h)):
            rec[k][t] = v
    return rec


def close(name, got, want, tol):
    err = np.max(np.abs(np.asarray(got, np.float64) - want))
    if got.shape != want.shape or not err <= tol:
        sys.exit(f"FAIL {name}: shape {got.shape} vs {want.shape}, max error {err:g} > {tol}")


def main():
    W = safetensors(sys.argv[1])
    ids = np.load(sys.argv[2])
    y = np.load(sys.argv[3]).astype(np.float64)
    z = np.load(sys.argv[4])
    x = W["embedding1.weight"].astype(np.float64)[ids]
    ref = {}
    for k in (0, 1):
        r = lstm(W, "lstm1", k, x)
        ref.update({f"lstm1.l{k}.{n}": v for n, v in r.items()})
        x = r["h"]
    ref.update({f"gru1.l0.{n}": v for n, v in gru(W, "gru1", x).items()})
    for name, want in ref.items():
        close(name, z[name], want, 1e-5)
    logits = ref["gru1.l0.h"] @ W["dense1.weight"].T.astype(np.float64) + W["dense1.bias"]
    close("logits of the traced h vs recur run", logits, y, 1e-5)
    p = np.exp(y - y.max(-1, keepdims=True))
    close("output.probs vs softmax(recur run)", z["output.probs"], p / p.sum(-1, keepdims=True), 1e-6)
    html = open(sys.argv[5], encoding="utf-8").read()
    m = re.search(r'<script type="application/json" id="trace-data">(.*?)</script>', html, re.S)
    data = json.loads(m.group(1))
    if sorted(data["names"]) != sorted(z.files):
        sys.exit("FAIL page names differ from the npz")
    for name in z.files:
        close("page " + name, np.array(data["values"][name]), z[name][:, 0, :].astype(np.float64), 1e-6)
    if len(data["top5"]) != ids.shape[0] or len(data["top5"][0]) != 5:
        sys.exit("FAIL top5 has the wrong shape")
    best = int(np.argmax(z["output.probs"][3, 0]))
    if abs(data["top5"][3][0][1] - z["output.probs"][3, 0, best]) > 1e-5:
        sys.exit("FAIL top5[3][0] is not the most likely token")
    urls = set(re.findall(r"(?:https?:)?//[A-Za-z0-9.-]+\.[a-z]{2,}[^\s\"']*", html))
    if urls - {"http://www.w3.org/2000/svg"} or re.search(r"\b(src|href)\s*=|url\(|@import", html):
        sys.exit(f"FAIL the page references the network: {urls}")
    print(f"trace_check: {len(ref)} arrays match the numpy reference; page data matches the npz")


main()
