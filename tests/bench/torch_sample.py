#!/usr/bin/python3
"""torch_sample.py -- PyTorch's batch-1 sampling loop for `make bench` (tests/bench/bench.sh part 4).

The model of models/charlm.rnn (nn.Embedding(V, 64) -> nn.LSTM(64, 512, num_layers=2) ->
nn.Linear(512, V); --cell gru or rnn: nn.GRU or nn.RNN (tanh) in its place, as charlm.rnn with
gru(512, ...) or rnn(512, ...)), random weights, one character at a time as `recur sample`
generates: the state carried from step to step, softmax of the logits / temperature 1,
torch.multinomial draws the next id, under torch.no_grad() (the loop a PyTorch user writes). Threads as ../shared/bench/torch_lstm.py:
--threads N sets torch.set_num_threads(N) and exports OMP_NUM_THREADS and OPENBLAS_NUM_THREADS
before torch is imported. Prints "RESULT tok_per_s=X" for the timed --length tokens (after 50
warm-up tokens; the load time of torch is not counted).
Usage: /usr/bin/python3 torch_sample.py [--length N (2000)] [--threads N (1)] [--hidden H (512)]
       [--layers L (2)] [--vocab V (65)] [--cell lstm|gru|rnn (lstm)]
"""
import argparse
import os
import time

p = argparse.ArgumentParser()
p.add_argument("--length", type=int, default=2000)
p.add_argument("--threads", type=int, default=1)
p.add_argument("--hidden", type=int, default=512)
p.add_argument("--layers", type=int, default=2)
p.add_argument("--vocab", type=int, default=65)
p.add_argument("--cell", choices=["lstm", "gru", "rnn"], default="lstm")
a = p.parse_args()
os.environ["OMP_NUM_THREADS"] = str(a.threads)
os.environ["OPENBLAS_NUM_THREADS"] = str(a.threads)
import torch  # noqa: E402

torch.set_num_threads(a.threads)
torch.manual_seed(0)
emb = torch.nn.Embedding(a.vocab, 64)
layer = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU, "rnn": torch.nn.RNN}[a.cell]
lstm = layer(64, a.hidden, num_layers=a.layers)
head = torch.nn.Linear(a.hidden, a.vocab)


def run(n, tok, state):
    """n sampling steps from token tok and state; returns the last token and state."""
    for _ in range(n):
        x = emb(tok).view(1, 1, -1)
        y, state = lstm(x, state)
        prob = torch.softmax(head(y.view(1, -1)), dim=1)
        tok = torch.multinomial(prob, 1).view(1)
    return tok, state


with torch.no_grad():
    tok, state = run(50, torch.zeros(1, dtype=torch.long), None)
    t = time.perf_counter()
    run(a.length, tok, state)
    dt = time.perf_counter() - t
print(f"RESULT tok_per_s={a.length / dt:.1f} threads={a.threads} cell={a.cell} H={a.hidden} "
      f"L={a.layers}")
