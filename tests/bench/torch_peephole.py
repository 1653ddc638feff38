#!/usr/bin/python3
"""
torch_peephole.py -- the user-cell row of `make bench` (issue 10): the peephole LSTM of
models/peephole.rnn written as a PyTorch Python loop over the steps, timed like the reference
harness (torch_bench.py, which has no user cells and is kept verbatim), so bench_rnn --cell
peephole can run it as its --torch command.

Model:   tokens (vocab V) -> nn.Embedding(V, E) -> peephole(H) x L -> nn.Linear(H, V)
         -> cross-entropy (mean over B*T targets); train: + backward + [clip] + Adam.
Cell (models/peephole.rnn, the same parameters and initialisation):
         zi, zf, zg, zo = chunk(W x + U h[t-1] + b, 4)
         i = sigmoid(zi + p_i * c[t-1]);  f = sigmoid(zf + p_f * c[t-1])
         c = f * c[t-1] + i * tanh(zg);   o = sigmoid(zo + p_o * c);  h = o * tanh(c)
         W x is computed for the whole window with one matrix product before the loop (as recur
         hoists it) and unbound into steps, U h[t-1] and the gates step by step: the loop a
         PyTorch user writes for a cell PyTorch does not have.
Timing:  as torch_bench.py: --warmup steps discarded, then up to --steps steps timed one by one
         (stops after --max-seconds, never before 3), median seconds per step, tokens/s = B*T /
         median; the state carried between windows and detached (truncated BPTT).
Threads: --threads N sets torch.set_num_threads(N), OMP_NUM_THREADS and OPENBLAS_NUM_THREADS.
Flags:   as torch_bench.py's that bench_rnn passes (--cell must be peephole; --input must be
         embedding). Output: one "RESULT {json}" line per mode with "tok_per_s".
"""
import argparse
import json
import os
import time

p = argparse.ArgumentParser(description="PyTorch Python-loop peephole LSTM timings")
p.add_argument("--cell", choices=["peephole"], default="peephole")
p.add_argument("--hidden", type=int, default=512)
p.add_argument("--layers", type=int, default=1)
p.add_argument("--batch", type=int, default=32)
p.add_argument("--seq", type=int, default=100)
p.add_argument("--vocab", type=int, default=65)
p.add_argument("--input", choices=["embedding"], default="embedding")
p.add_argument("--embed", type=int, default=64)
p.add_argument("--mode", choices=["train", "infer", "both"], default="both")
p.add_argument("--steps", type=int, default=20)
p.add_argument("--warmup", type=int, default=3)
p.add_argument("--max-seconds", type=float, default=45.0)
p.add_argument("--threads", type=int, default=2)
p.add_argument("--lr", type=float, default=2e-3)
p.add_argument("--clip", type=float, default=0.0)
p.add_argument("--seed", type=int, default=0)
args = p.parse_args()
os.environ["OMP_NUM_THREADS"] = str(args.threads)
os.environ["OPENBLAS_NUM_THREADS"] = str(args.threads)

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402


class Peephole(nn.Module):
    """One peephole LSTM level over a window, a Python loop over the steps."""

    def __init__(self, I, H):
        super().__init__()
        self.W = nn.Parameter(torch.empty(4 * H, I).uniform_(-0.08, 0.08))
        self.U = nn.Parameter(torch.empty(4 * H, H).uniform_(-0.08, 0.08))
        self.b = nn.Parameter(torch.zeros(4 * H))
        self.p_i = nn.Parameter(torch.zeros(H))
        self.p_f = nn.Parameter(torch.zeros(H))
        self.p_o = nn.Parameter(torch.zeros(H))

    def forward(self, x, h, c):  # x (T, B, I)
        wx = torch.matmul(x, self.W.t()) + self.b  # the whole window at once
        ys = []
        for wx_t in wx.unbind(0):  # not wx[t]: its backward writes a whole window per step
            zi, zf, zg, zo = (wx_t + torch.matmul(h, self.U.t())).chunk(4, dim=1)
            i = torch.sigmoid(zi + self.p_i * c)
            f = torch.sigmoid(zf + self.p_f * c)
            c = f * c + i * torch.tanh(zg)
            o = torch.sigmoid(zo + self.p_o * c)
            h = o * torch.tanh(c)
            ys.append(h)
        return torch.stack(ys), h, c


class Model(nn.Module):
    def __init__(self, V, E, H, L):
        super().__init__()
        self.embed = nn.Embedding(V, E)
        self.cells = nn.ModuleList(Peephole(E if l == 0 else H, H) for l in range(L))
        self.out = nn.Linear(H, V)

    def forward(self, x, state):
        y = self.embed(x)
        new = []
        for cell, (h, c) in zip(self.cells, state):
            y, h, c = cell(y, h, c)
            new.append((h, c))
        return self.out(y), new


def main():
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    H, L, B, T, V, E = args.hidden, args.layers, args.batch, args.seq, args.vocab, args.embed
    model = Model(V, E, H, L)
    data = torch.randint(0, V, (8, T + 1, B), dtype=torch.int64)
    print(f"# torch {torch.__version__} threads={torch.get_num_threads()} peephole "
          f"V={V} E={E} H={H} L={L} B={B} T={T}")
    for mode in (["train", "infer"] if args.mode == "both" else [args.mode]):
        train = mode == "train"
        opt = torch.optim.Adam(model.parameters(), lr=args.lr) if train else None
        state = [(torch.zeros(B, H), torch.zeros(B, H)) for _ in range(L)]

        def step(i):
            nonlocal state
            win = data[i % 8]
            x, y = win[:-1], win[1:]
            if not train:
                with torch.no_grad():
                    logits, state = model(x, state)
                    return F.cross_entropy(logits.reshape(T * B, V), y.reshape(T * B)).item()
            state = [(h.detach(), c.detach()) for h, c in state]
            logits, state = model(x, state)
            loss = F.cross_entropy(logits.reshape(T * B, V), y.reshape(T * B))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if args.clip > 0:
                nn.utils.clip_grad_norm_(model.parameters(), args.clip)
            opt.step()
            return loss.item()

        model.train(train)
        for i in range(args.warmup):
            step(i)
        times, start, i = [], time.perf_counter(), args.warmup
        while len(times) < args.steps:
            t0 = time.perf_counter()
            step(i)
            times.append(time.perf_counter() - t0)
            i += 1
            if time.perf_counter() - start > args.max_seconds and len(times) >= 3:
                break
        st = sorted(times)
        n = len(st)
        med = st[n // 2] if n % 2 else 0.5 * (st[n // 2 - 1] + st[n // 2])
        r = dict(impl="pytorch-loop", cell="peephole", mode=mode, H=H, L=L, B=B, T=T, V=V, E=E,
                 threads=args.threads, steps_timed=n, t_med=med, tok_per_s=B * T / med)
        print(f"{mode:5s} peephole H={H} L={L} B={B} T={T} thr={args.threads}: "
              f"{med * 1e3:.1f} ms/step (n={n}) {B * T / med:.0f} tok/s")
        print("RESULT " + json.dumps(r))


if __name__ == "__main__":
    main()
