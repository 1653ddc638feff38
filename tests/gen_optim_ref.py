#!/usr/bin/env python3
"""Generates the PyTorch reference values pinned in tests/test_optim.c (run once, by hand;
the tests never need PyTorch). Problem: 6 parameters, loss 0.5*sum(c_i*(p_i - 1)^2) so the
gradient is c_i*(p_i - 1); 7 updates of each optimiser from p0; prints the final parameters."""
import torch

p0 = [0.5, -1.25, 2.0, 0.125, -0.75, 3.0]
c = torch.tensor([1.0, 2.0, 0.5, 4.0, 1.5, 0.25])
configs = [
    ("sgd", lambda p: torch.optim.SGD(p, lr=0.1)),
    ("sgd_momentum_wd", lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9, weight_decay=0.01)),
    ("sgd_nesterov", lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.8, nesterov=True)),
    ("adam", lambda p: torch.optim.Adam(p, lr=0.1)),
    ("adam_wd", lambda p: torch.optim.Adam(p, lr=0.05, betas=(0.8, 0.99), weight_decay=0.1)),
    ("adamw", lambda p: torch.optim.AdamW(p, lr=0.05, weight_decay=0.1)),
    ("rmsprop", lambda p: torch.optim.RMSprop(p, lr=0.01)),
    ("rmsprop_momentum_wd", lambda p: torch.optim.RMSprop(p, lr=0.01, momentum=0.9,
                                                          weight_decay=0.05)),
]
for name, make in configs:
    p = torch.tensor(p0, requires_grad=True)
    opt = make([p])
    for _ in range(7):
        opt.zero_grad()
        loss = 0.5 * (c * (p - 1) ** 2).sum()
        loss.backward()
        opt.step()
    print(name, ", ".join("%.9g" % v for v in p.detach().tolist()))
