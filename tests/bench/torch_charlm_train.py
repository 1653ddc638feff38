#!/usr/bin/python3
"""The PyTorch side of the tinyshakespeare comparison (issue: training runs): the same model,
data layout and settings as `recur train models/charlm.rnn --data FILE --steps N`, run with
PyTorch 1.13 on the same machine and threads, printing tokens/s and the validation loss.

  model:  nn.Embedding(V, 64) -> nn.LSTM(64, 512, num_layers=2, dropout=0.25) -> nn.Linear(512, V)
  data:   characters, vocabulary = sorted set of the text's characters; the last 5% is the
          validation split; the first 95% is cut into B contiguous streams (char-rnn), each
          window takes bptt+1 characters per stream, the hidden state is carried (detached)
  train:  Adam(lr 2e-3), clip_grad_norm_(5.0), batch 32, bptt 100, N steps
  valid:  mean cross-entropy (nats) over the validation split read the same way in B streams

Threads as the reference harness (../shared/bench/torch_lstm.py): torch.set_num_threads(N),
OMP_NUM_THREADS and OPENBLAS_NUM_THREADS = N, the OpenMP build of OpenBLAS (re-exec with
LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp).

usage: torch_charlm_train.py FILE [--steps 300] [--threads 2] [--seed 42]
"""
import argparse
import os
import sys
import time

p = argparse.ArgumentParser()
p.add_argument("file")
p.add_argument("--steps", type=int, default=300)
p.add_argument("--threads", type=int, default=2)
p.add_argument("--seed", type=int, default=42)
p.add_argument("--batch", type=int, default=32)
p.add_argument("--bptt", type=int, default=100)
args = p.parse_args()

os.environ["OMP_NUM_THREADS"] = str(args.threads)
os.environ["OPENBLAS_NUM_THREADS"] = str(args.threads)
_dir = "/usr/lib/x86_64-linux-gnu/openblas-openmp"
if os.path.exists(_dir + "/libblas.so.3") and _dir not in os.environ.get("LD_LIBRARY_PATH", ""):
    os.environ["LD_LIBRARY_PATH"] = _dir + ":" + os.environ.get("LD_LIBRARY_PATH", "")
    os.execv(sys.executable, [sys.executable] + sys.argv)

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

torch.set_num_threads(args.threads)
torch.manual_seed(args.seed)
text = open(args.file, encoding="utf-8").read()
vocab = sorted(set(text))
idx = {c: i for i, c in enumerate(vocab)}
data = torch.tensor([idx[c] for c in text], dtype=torch.long)
n_valid = int(len(data) * 0.05)
train, valid = data[:len(data) - n_valid], data[len(data) - n_valid:]
B, T, V = args.batch, args.bptt, len(vocab)


def streams(d):
    per = len(d) // B
    return d[:per * B].view(B, per).t().contiguous()        # [per][B], time-major


class CharLM(nn.Module):
    def __init__(self):
        super().__init__()
        self.embedding1 = nn.Embedding(V, 64)
        self.lstm1 = nn.LSTM(64, 512, num_layers=2, dropout=0.25)
        self.dense1 = nn.Linear(512, V)

    def forward(self, x, state):
        y, state = self.lstm1(self.embedding1(x), state)
        return self.dense1(y), state


m = CharLM()
opt = torch.optim.Adam(m.parameters(), lr=2e-3)
tr, va = streams(train), streams(valid)
state, pos, times = None, 0, []
for step in range(1, args.steps + 1):
    if pos + T + 1 > tr.shape[0]:
        pos, state = 0, None
    x, y = tr[pos:pos + T], tr[pos + 1:pos + T + 1]
    pos += T
    t0 = time.perf_counter()
    if state is not None:
        state = tuple(s.detach() for s in state)
    logits, state = m(x, state)
    loss = F.cross_entropy(logits.reshape(-1, V), y.reshape(-1))
    opt.zero_grad()
    loss.backward()
    nn.utils.clip_grad_norm_(m.parameters(), 5.0)
    opt.step()
    times.append(time.perf_counter() - t0)
    if step % 50 == 0 or step == args.steps:
        print(f"step {step}  loss {loss.item():.4f}", flush=True)

m.eval()
total, count, vstate = 0.0, 0, None
with torch.no_grad():
    for s in range(0, va.shape[0] - 1, T):
        x, y = va[s:min(s + T, va.shape[0] - 1)], va[s + 1:min(s + T + 1, va.shape[0])]
        logits, vstate = m(x, vstate)
        total += F.cross_entropy(logits.reshape(-1, V), y.reshape(-1), reduction="sum").item()
        count += y.numel()
med = sorted(times[5:])[len(times[5:]) // 2]
print(f"RESULT torch {torch.__version__} threads {args.threads}: {B * T / med:.0f} tok/s "
      f"(median step {med:.3f} s), val_loss {total / count:.4f} after {args.steps} steps")
