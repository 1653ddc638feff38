#!/usr/bin/python3
"""gen_onnx_acts_ref.py: PyTorch 1.13 values and derivatives of ONNX's RNN activations, the
table `torch_cases` of tests/test_cellvm.c (issue 9). Run once with /usr/bin/python3 and paste
its output; the test never needs PyTorch. Points include the kinks (leakyrelu and elu at 0,
thresholdedrelu at alpha), where recur follows torch's subgradients.

  hardsigmoid(x, a, b) = clamp(a x + b, 0, 1)    (ONNX HardSigmoid; points off the corners)
  leakyrelu(x, a)      = F.leaky_relu(x, a)
  thresholdedrelu(x, a)= F.threshold(x, a, 0)    (x if x > a else 0)
  elu(x, a)            = F.elu(x, a)
  scaledtanh(x, a, b)  = a tanh(b x)
  affine(x, a, b)      = a x + b
  softsign(x)          = F.softsign(x)
  softplus(x)          = F.softplus(x)
"""
import torch
import torch.nn.functional as F

FNS = {
    "HARDSIGMOID": lambda x, a, b: torch.clamp(a * x + b, 0, 1),
    "LEAKYRELU": lambda x, a, b: F.leaky_relu(x, a),
    "THRESHOLDEDRELU": lambda x, a, b: F.threshold(x, a, 0.0),
    "ELU": lambda x, a, b: F.elu(x, a),
    "SCALEDTANH": lambda x, a, b: a * torch.tanh(b * x),
    "AFFINE": lambda x, a, b: a * x + b,
    "SOFTSIGN": lambda x, a, b: F.softsign(x),
    "SOFTPLUS": lambda x, a, b: F.softplus(x),
}
CASES = [
    ("HARDSIGMOID", [-1.5, 0.3, 2.5], 0.3, 0.4), ("HARDSIGMOID", [-0.9, 0.2], 0.2, 0.5),
    ("LEAKYRELU", [-2.0, 0.0, 1.5], 0.1, 0), ("LEAKYRELU", [-3.0], 0.01, 0),
    ("THRESHOLDEDRELU", [0.5, 1.0, 1.5, -2.0], 1.0, 0), ("THRESHOLDEDRELU", [-0.5, 0.3], -1.0, 0),
    ("ELU", [-2.0, 0.0, 0.7], 0.5, 0), ("ELU", [-0.3], 1.0, 0),
    ("SCALEDTANH", [-1.2, 0.0, 0.8], 1.7, 0.6), ("AFFINE", [-1.0, 2.5], 0.7, -0.2),
    ("SOFTSIGN", [-3.0, 0.0, 0.5], 0, 0), ("SOFTPLUS", [-2.0, 0.0, 3.0], 0, 0),
]

for name, xs, a, b in CASES:
    for x0 in xs:
        x = torch.tensor(x0, dtype=torch.float64, requires_grad=True)
        y = FNS[name](x, a, b)
        y.backward()
        print(f"        {{ IR_OP_{name}, {x0!r}f, {a!r}, {b!r}, {y.item():.9g}, {x.grad.item():.9g} }},")
