#!/usr/bin/python3
"""Writes tests/golden/comparators.json from independent PyTorch implementations
of the comparator quantizers: LSQ, LSQ+, PACT and DoReFa (with the STE or the
EWGS rounding backward), as specified in docs/methods/{lsq,pact,dorefa}.md.

Run with Debian's python3-torch:  /usr/bin/python3 scripts/gen_comparator_golden.py
The C++ test tests/quant/comparators_test.cpp compares forward values, every
gradient and the initializations against this file.
"""
import math

import torch

from golden_common import RoundEWGS, entry, write



class GradScale(torch.autograd.Function):
    """Identity forward; the backward multiplies the gradient by g (LSQ Sec. 2.2)."""

    @staticmethod
    def forward(ctx, x, g):
        ctx.g = g
        return x.clone()

    @staticmethod
    def backward(ctx, grad):
        return grad * ctx.g, None


class RoundSTE(torch.autograd.Function):
    """round(x) forward, identity backward."""

    @staticmethod
    def forward(ctx, x):
        return torch.round(x)

    @staticmethod
    def backward(ctx, grad):
        return grad


class ClampStrict(torch.autograd.Function):
    """clamp(x, lo, hi) passing the gradient only strictly inside (LSQ Eq. 3, 5)."""

    @staticmethod
    def forward(ctx, x, lo, hi):
        ctx.save_for_backward(x)
        ctx.lo, ctx.hi = lo, hi
        return torch.clamp(x, lo, hi)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * ((x > ctx.lo) & (x < ctx.hi)).to(grad.dtype), None, None


class LevelsSTE(torch.autograd.Function):
    """PACT's rounding to multiples of alpha / steps; the gradient goes to y only."""

    @staticmethod
    def forward(ctx, y, alpha, steps):
        return torch.round(y * steps / alpha) * alpha / steps

    @staticmethod
    def backward(ctx, grad):
        return grad, None, None


class BinarizeSTE(torch.autograd.Function):
    """DoReFa 1-bit weights: E|w| sign(w), sign(0) = +1; identity backward."""

    @staticmethod
    def forward(ctx, w):
        e = w.abs().mean()
        return torch.where(w >= 0, e, -e)

    @staticmethod
    def backward(ctx, grad):
        return grad


def lsq_range(weight, bits):
    return (2 ** (bits - 1), 2 ** (bits - 1) - 1) if weight else (0, 2 ** bits - 1)


def grad_scale(x, weight, q_p):
    """g = 1 / sqrt(N Q_P): N = numel for weights, features per sample for activations."""
    n = x.numel() if weight else x.numel() // x.shape[0]
    return 1.0 / math.sqrt(n * q_p)


def lsq(v, s, beta, q_n, q_p, g):
    """v_hat = round(clamp((v - beta) / s, -q_n, q_p)) s + beta with scaled s, beta gradients."""
    s = GradScale.apply(s, g)
    if beta is None:
        return RoundSTE.apply(ClampStrict.apply(v / s, -q_n, q_p)) * s
    beta = GradScale.apply(beta, g)
    return RoundSTE.apply(ClampStrict.apply((v - beta) / s, -q_n, q_p)) * s + beta


def lsq_plus_act_init(x, q_p):
    """Grid search of the clipping range [lo, hi] minimizing mean (x_hat - x)^2 on at most
    16384 elements (fixed stride): hi = m + R i / 64, lo = m + R 2j / 64, j <= 8, hi > lo."""
    v = x.detach().flatten().double()
    stride = (v.numel() + 16383) // 16384
    v = v[::stride]
    m = v.min().item()
    r = v.max().item() - m
    best = (math.inf, None, None)
    for j in range(9):
        lo = m + r * (2 * j) / 64
        for i in range(2 * j + 1, 65):
            hi = m + r * i / 64
            s = (hi - lo) / q_p
            x_hat = torch.clamp(torch.round((v - lo) / s), 0, q_p) * s + lo
            mse = ((x_hat - v) ** 2).mean().item()
            if mse < best[0]:
                best = (mse, s, lo)
    return best[1], best[2]


def pact(x, alpha, bits):
    steps = 2 ** bits - 1
    y = torch.where(x < 0, torch.zeros_like(x), torch.where(x >= alpha, alpha.expand_as(x), x))
    return LevelsSTE.apply(y, alpha, float(steps))


def dorefa(x, bits, weight, delta):
    steps = float(2 ** bits - 1)
    if weight and bits == 1:
        return BinarizeSTE.apply(x)
    if weight:
        t = torch.tanh(x)
        t = t / (2 * t.abs().max()) + 0.5
        return 2 * RoundEWGS.apply(t, steps, delta) - 1
    return RoundEWGS.apply(torch.clamp(x, 0, 1), steps, delta)


def sample(gen, shape, lo, hi, specials):
    """Uniform values in [lo, hi] with `specials` written first (boundaries, ties)."""
    x = torch.empty(shape).uniform_(lo, hi, generator=gen).flatten()
    x[: len(specials)] = torch.tensor(specials)
    return x.reshape(shape).to(torch.float32)


def lsq_cases(gen):
    cases = []
    for method in ("lsq", "lsq_plus"):
        for weight, bits in ((True, 2), (True, 3), (True, 8), (False, 1), (False, 2), (False, 4)):
            q_n, q_p = lsq_range(weight, bits)
            s_val = 0.25 if bits < 4 else 0.05
            offset = not weight and method == "lsq_plus"
            beta_val = -0.125 if offset else 0.0
            lo, hi = beta_val - q_n * s_val, beta_val + q_p * s_val
            # Both range ends exactly, a rounding tie, values beyond both ends.
            specials = [lo, hi, beta_val + 0.5 * s_val, lo - 0.3, hi + 0.4]
            shape = [3, 8] if weight else [2, 12]
            x = sample(gen, shape, lo - 0.5, hi + 0.5, specials).requires_grad_(True)
            s = torch.tensor(s_val, requires_grad=True)
            beta = torch.tensor(beta_val, requires_grad=True) if offset else None
            g_out = torch.randn(shape, generator=gen)
            out = lsq(x, s, beta, q_n, q_p, grad_scale(x, weight, q_p))
            out.backward(g_out)
            case = {"method": method, "target": "weight" if weight else "activation",
                    "bits": bits, "s": s_val, "x": entry(x), "grad_out": entry(g_out),
                    "out": entry(out), "grad_x": entry(x.grad), "grad_s": float(s.grad)}
            if offset:
                case["beta"] = beta_val
                case["grad_beta"] = float(beta.grad)
            cases.append(case)
    return cases


def init_cases(gen):
    """First-batch initializations: LSQ s = 2<|v|>/sqrt(Q_P); LSQ+ weights
    s = max(|mu - 3 sigma|, |mu + 3 sigma|) / 2^(b-1); LSQ+ activations by grid search."""
    w = torch.randn(4, 3, 3, 3, generator=gen) * 0.2 + 0.01
    relu = torch.relu(torch.randn(8, 40, generator=gen))
    swish = torch.randn(8, 40, generator=gen) * 2
    swish = swish * torch.sigmoid(swish)
    cases = []
    for bits in (2, 4):
        _, q_p = lsq_range(True, bits)
        cases.append({"method": "lsq", "target": "weight", "bits": bits, "x": entry(w),
                      "s": 2 * w.abs().mean().item() / math.sqrt(q_p)})
        bound = max(abs(w.mean().item() - 3 * w.std().item()),
                    abs(w.mean().item() + 3 * w.std().item()))
        cases.append({"method": "lsq_plus", "target": "weight", "bits": bits, "x": entry(w),
                      "s": bound / 2 ** (bits - 1)})
    for name, act in (("relu", relu), ("swish", swish)):
        for bits in (1, 2, 4):
            _, q_p = lsq_range(False, bits)
            cases.append({"method": "lsq", "target": "activation", "bits": bits, "data": name,
                          "x": entry(act), "s": 2 * act.abs().mean().item() / math.sqrt(q_p)})
            s, beta = lsq_plus_act_init(act, q_p)
            cases.append({"method": "lsq_plus", "target": "activation", "bits": bits,
                          "data": name, "x": entry(act), "s": s, "beta": beta})
    return cases


def pact_cases(gen):
    cases = []
    for bits, alpha_val in ((1, 1.5), (2, 2.0), (4, 1.5), (8, 3.0)):
        specials = [0.0, alpha_val, -0.2, alpha_val + 0.7, 0.5 * alpha_val]
        x = sample(gen, [20], -1.0, alpha_val + 1.0, specials).requires_grad_(True)
        alpha = torch.tensor(alpha_val, requires_grad=True)
        g_out = torch.randn(20, generator=gen)
        out = pact(x, alpha, bits)
        out.backward(g_out)
        cases.append({"bits": bits, "alpha": alpha_val, "x": entry(x), "grad_out": entry(g_out),
                      "out": entry(out), "grad_x": entry(x.grad), "grad_alpha": float(alpha.grad)})
    return cases


def dorefa_cases(gen):
    cases = []
    settings = [(True, 1, "ste", 0.0), (True, 2, "ste", 0.0), (True, 4, "ste", 0.0),
                (True, 2, "ewgs", 0.01), (True, 3, "ewgs", 0.5),
                (False, 1, "ste", 0.0), (False, 2, "ste", 0.0), (False, 4, "ste", 0.0),
                (False, 2, "ewgs", 0.01), (False, 1, "ewgs", 0.7)]
    for weight, bits, estimator, delta in settings:
        if weight:
            x = sample(gen, [3, 8], -0.6, 0.6, [0.0, 0.9, -0.2])
        else:
            x = sample(gen, [20], -0.5, 1.5, [0.0, 1.0, -0.3, 1.2, 0.5])
        x.requires_grad_(True)
        g_out = torch.randn(x.shape, generator=gen)
        out = dorefa(x, bits, weight, delta)
        out.backward(g_out)
        cases.append({"target": "weight" if weight else "activation", "bits": bits,
                      "estimator": estimator, "delta": delta, "x": entry(x),
                      "grad_out": entry(g_out), "out": entry(out), "grad_x": entry(x.grad)})
    return cases


def main():
    gen = torch.Generator().manual_seed(2016)
    content = {"generator": "scripts/gen_comparator_golden.py", "torch": torch.__version__,
               "lsq": lsq_cases(gen), "init": init_cases(gen), "pact": pact_cases(gen),
               "dorefa": dorefa_cases(gen)}
    write("comparators.json", content)


if __name__ == "__main__":
    main()
