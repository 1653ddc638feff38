#!/usr/bin/python3
"""Writes tests/expected/charlm_params.txt: the state_dict names, shapes and parameter count of
PyTorch's nn.Embedding(65, 64) + nn.LSTM(64, 512, num_layers=2) + nn.Linear(512, 65) under the
attribute names recur gives those layers (embedding1, lstm1, dense1). Run once with Debian's
python3-torch; the output is committed so the tests do not need PyTorch."""
import torch.nn as nn

mods = [("embedding1", nn.Embedding(65, 64)), ("lstm1", nn.LSTM(64, 512, num_layers=2)),
        ("dense1", nn.Linear(512, 65))]
total = 0
for label, m in mods:
    for name, t in m.state_dict().items():
        print(f"{label}.{name} {list(t.shape)}".replace(" [", " [").replace(", ", ", "))
        total += t.numel()
print(f"total {total}")
