"""Shared pieces of the golden-file generators: the output folder, the tensor encoding the
C++ tests read (tests/support/golden.cpp), and the paper's EWGS rounding (Eq. 2 and 4)."""
import json
import os

import torch

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "golden")


def entry(t):
    """Float32 values with 9 significant digits: enough to read back the same floats."""
    t = t.detach().to(torch.float32)
    return {"shape": list(t.shape), "data": [float("%.9g" % v) for v in t.flatten().tolist()]}


def write(name, content):
    """Writes tests/golden/<name> compactly and says so."""
    os.makedirs(OUT, exist_ok=True)
    path = os.path.join(OUT, name)
    with open(path, "w") as f:
        json.dump(content, f, separators=(",", ":"))
    print("wrote", name, os.path.getsize(path), "bytes")


class RoundEWGS(torch.autograd.Function):
    """round(x steps) / steps forward (Eq. 2); backward g (1 + delta sign(g) (x - x_q)) (Eq. 4),
    so delta = 0 is the STE."""

    @staticmethod
    def forward(ctx, x, steps, delta):
        x_q = torch.round(x * steps) / steps
        ctx.delta = delta
        ctx.save_for_backward(x - x_q)
        return x_q

    @staticmethod
    def backward(ctx, grad):
        (err,) = ctx.saved_tensors
        return grad * (1 + ctx.delta * torch.sign(grad) * err), None, None
