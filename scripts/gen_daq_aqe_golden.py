#!/usr/bin/python3
"""Writes tests/golden/daq_aqe.json from independent PyTorch implementations of DAQ's
distance-aware soft rounding (docs/methods/daq.md) and AQE's mixed neuron (docs/methods/aqe.md).

DAQ here is the soft formula itself, differentiated by autograd with the temperature
detached; the C++ quantizer rounds and uses the closed-form derivative instead, so the
file checks that the two agree. Run with Debian's python3-torch:
    /usr/bin/python3 scripts/gen_daq_aqe_golden.py
"""
import math

import torch

from golden_common import entry, write



class AbsSignPlusOne(torch.autograd.Function):
    """|v| whose subgradient at 0 is +1, as the official DAQ code's."""

    @staticmethod
    def forward(ctx, v):
        ctx.save_for_backward(v)
        return v.abs()

    @staticmethod
    def backward(ctx, g):
        (v,) = ctx.saved_tensors
        return g * torch.where(v >= 0, 1.0, -1.0).to(g.dtype)


def daq_soft_round(z, gamma, sigma):
    """Soft rounding of z >= 0 to the two neighbouring integers (docs/methods/daq.md, Forward)."""
    f = torch.floor(z).detach()
    r = z - f
    levels = (0.0, 1.0)
    m = torch.stack([torch.exp(-AbsSignPlusOne.apply(r - j)) for j in levels])
    nearest = torch.argmax(m.detach(), dim=0).to(z.dtype)  # ties: first, the floor
    k = torch.stack([torch.exp(-(j - nearest) ** 2 / sigma ** 2) for j in levels])
    s = m * k
    tau = (gamma / (s[0] - s[1]).abs()).detach()
    p = torch.softmax(tau * s, dim=0)
    c = 1.0 / (math.exp(gamma) - 1.0)
    return f + p[0] * (0.0 - c) + p[1] * (1.0 + c)


def daq_quantize(x, l, u, bits, gamma, sigma, weight):
    """Weights standardized (statistics detached), clip to N_L steps, soft-round in
    double precision, then Q_W = (2y - N_L)/N_L or Q_A = y/N_L in float32."""
    n = float(2 ** bits - 1)
    if weight:
        x = (x - x.mean().detach()) / x.std().detach()
    z = torch.clamp((x - l) / ((u - l) / n), 0, n)
    y = daq_soft_round(z.double(), gamma, sigma).float()
    return (2 * y - n) / n if weight else y / n


class AqeMix(torch.autograd.Function):
    """alpha h + (1 - alpha) a forward; 2 alpha g 1_{|a|<=1} backward (Eq. 18-19)."""

    @staticmethod
    def forward(ctx, a, h, alpha):
        ctx.save_for_backward(a)
        ctx.alpha = alpha
        return alpha * h + (1 - alpha) * a

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        return 2 * ctx.alpha * g * (a.abs() <= 1).to(g.dtype), None, None


def aqe_hard(a, bits):
    """sign, TWN ternary (Delta = 0.7 E|a|) or the nearest power-of-two level."""
    if bits == 1:
        return torch.where(a >= 0, 1.0, -1.0)
    if bits == 2:
        delta = 0.7 * a.abs().mean()
        return torch.where(a.abs() > delta, torch.sign(a), torch.zeros_like(a))
    q = 2 ** (bits - 1) - 1
    levels = torch.tensor([0.0] + [2.0 ** -p for p in range(q)])
    nearest = (a.abs().unsqueeze(-1) - levels).abs().argmin(dim=-1)
    return torch.sign(a) * levels[nearest]


def daq_cases(gen):
    cases = []
    for bits in (1, 2, 3, 4, 8):
        for weight in (True, False):
            for gamma, sigma in ((2.0, 1.0 if weight else 2.0), (1.0, 1.5)):
                l_val, u_val = (-2.5, 2.8) if weight else (0.0, 1.7)
                if weight:
                    x = torch.randn(24, generator=gen) * 0.05 + 0.01
                else:
                    x = torch.empty(24).uniform_(-0.5, 2.2, generator=gen)
                    x[0], x[1] = 0.0, u_val  # both ends of the interval
                x = x.requires_grad_(True)
                l = torch.tensor(l_val, requires_grad=weight)
                u = torch.tensor(u_val, requires_grad=True)
                g = torch.randn(24, generator=gen)
                out = daq_quantize(x, l, u, bits, gamma, sigma, weight)
                out.backward(g)
                case = {"bits": bits, "target": "weight" if weight else "activation",
                        "gamma": gamma, "sigma": sigma, "l": l_val, "u": u_val,
                        "x": entry(x), "grad_out": entry(g), "out": entry(out),
                        "grad_x": entry(x.grad), "grad_u": float(u.grad)}
                if weight:
                    case["grad_l"] = float(l.grad)
                cases.append(case)
    return cases


def aqe_cases(gen):
    cases = []
    for bits in (1, 2, 3, 4):
        for weight in (True, False):
            for alpha in (0.5, 0.3):
                a = torch.empty(24).uniform_(-1.3, 1.3, generator=gen).requires_grad_(True)
                g = torch.randn(24, generator=gen)
                with torch.no_grad():
                    h = aqe_hard(a, bits)
                out = AqeMix.apply(a, h, alpha)
                out.backward(g)
                cases.append({"bits": bits, "target": "weight" if weight else "activation",
                              "alpha": alpha, "x": entry(a), "grad_out": entry(g),
                              "out": entry(out), "hard": entry(h), "grad_x": entry(a.grad)})
    return cases


def main():
    gen = torch.Generator().manual_seed(2020)
    content = {"generator": "scripts/gen_daq_aqe_golden.py", "torch": torch.__version__,
               "daq": daq_cases(gen), "aqe": aqe_cases(gen)}
    write("daq_aqe.json", content)


if __name__ == "__main__":
    main()
