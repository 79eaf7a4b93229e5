#!/usr/bin/python3
"""Writes tests/golden/lbt.json from an independent PyTorch implementation of the
deterministic parts of LBT's gradient quantizer (docs/methods/lbt.md): the
first-iteration walk of gamma, c / Delta / the grid given gamma and the noise, and
the interval update on a fixed sequence of gradients.

Run with Debian's python3-torch:  /usr/bin/python3 scripts/gen_lbt_golden.py
The C++ tests (tests/quant/lbt_test.cpp) compare ewgs against this file;
regenerate only when the specification changes.
"""

import torch

from golden_common import entry, write



def target_ratio(bits, alpha):
    return alpha / (2 ** bits - 1)


def walk(g, bits, alpha):
    """docs/methods/lbt.md, First-iteration walk, in float64: gamma = 1, m = 0; repeat
    m = 0.999 m + 0.001 R(gamma); gamma += 0.001 sign(m - target) until the sign is
    positive; clamp to [0.001, 1]. R is counted directly on the whole tensor."""
    a = g.abs().double()
    g_max = a.max().item()
    target = target_ratio(bits, alpha)
    gamma, m = 1.0, 0.0
    while True:
        r = (a > gamma * g_max).double().mean().item()
        m = 0.999 * m + 0.001 * r
        s = (m > target) - (m < target)
        gamma += 0.001 * s
        if s > 0:
            break
    return min(max(gamma, 0.001), 1.0)


def quantize(g, gamma, bits, noise):
    """docs/methods/lbt.md, G1-G5: c = gamma max|G|, Delta = 2c / (2^b - 2), stochastic rounding
    with the given U(-0.5, 0.5) noise; an all-zero G gives zeros."""
    steps = float(2 ** bits - 2)
    g_max = g.abs().max()
    c = gamma * g_max
    delta = 2.0 * c / steps
    divisor = torch.where(delta > 0, delta, torch.ones_like(delta))
    q = torch.round(torch.clamp((g + c) / divisor + noise, 0.0, steps))
    return q * delta - c, c, delta, (g.abs() > c).float().mean()


def update(gamma, g, bits, alpha, eta):
    """docs/methods/lbt.md, U: gamma <- clip(gamma + eta sign(R - alpha / (2^b - 1)), 0.001, 1),
    R measured with the gamma in use, no change when max|G| = 0; float32."""
    g_max = g.abs().max()
    r = (g.abs() > gamma * g_max).float().mean()
    step = eta * torch.sign(r - target_ratio(bits, alpha)) * (g_max > 0).float()
    return torch.clamp(gamma + step, 0.001, 1.0), r


def sample(kind, n, gen):
    if kind == "normal":
        return torch.randn(n, generator=gen)
    if kind == "laplace":
        u = torch.rand(n, generator=gen) - 0.5
        return -torch.sign(u) * torch.log1p(-2 * u.abs())
    if kind == "student_t2":  # heavy tails: N(0,1) / sqrt(chi2_2 / 2)
        z = torch.randn(n, generator=gen)
        chi2 = -2 * torch.log(torch.rand(n, generator=gen))
        return z / torch.sqrt(chi2 / 2)
    if kind == "sparse":  # mostly exact zeros, as after a ReLU
        return torch.randn(n, generator=gen) * (torch.rand(n, generator=gen) < 0.1).float()
    if kind == "uniform":
        return torch.rand(n, generator=gen) * 2 - 1
    raise ValueError(kind)


def walk_cases(gen):
    cases = []
    for kind, bits, alpha, scale in (("normal", 4, 1e-3, 1e-3), ("laplace", 8, 1e-3, 0.02),
                                     ("student_t2", 4, 1e-3, 5e-5), ("sparse", 2, 1e-3, 1.0),
                                     ("normal", 2, 0.05, 0.1), ("uniform", 6, 1e-3, 3e-4)):
        g = (sample(kind, 256, gen) * scale).to(torch.float32)
        cases.append({"kind": kind, "bits": bits, "alpha": alpha, "g": entry(g),
                      "gamma": walk(g, bits, alpha)})
    return cases


def quantize_cases(gen):
    cases = []
    for kind, bits, gamma in (("normal", 4, 0.55), ("laplace", 8, 0.8), ("uniform", 2, 0.6),
                              ("student_t2", 5, 1.0), ("zero", 4, 0.5)):
        g = torch.zeros(48) if kind == "zero" else sample(kind, 48, gen) * 0.01
        noise = torch.rand(48, generator=gen) - 0.5
        gamma_t = torch.tensor(gamma, dtype=torch.float32)
        out, c, delta, r = quantize(g, gamma_t, bits, noise)
        cases.append({"kind": kind, "bits": bits, "gamma": gamma, "g": entry(g),
                      "noise": entry(noise), "out": entry(out), "c": float(c),
                      "delta": float(delta), "clip_ratio": float(r)})
    return cases


def update_cases(gen):
    """Gamma through a fixed gradient sequence, starting from gamma0 (walk done):
    with alpha = 0.5 at 2 bits (target 1/6) R falls on both sides of the target,
    a sparse gradient keeps R below it and walks gamma to the lower bound, a zero
    gradient changes nothing. With the defaults at 4 bits and 40 elements, any clipped
    element exceeds the target, so gamma steps between 0.999 and 1."""
    cases = []
    kinds = ["uniform", "student_t2", "sparse", "sparse", "zero", "normal", "laplace",
             "uniform"]
    for bits, alpha, eta, gamma0 in ((2, 0.5, 0.25, 0.5), (4, 1e-3, 1e-3, 0.998)):
        gamma = torch.tensor(gamma0, dtype=torch.float32)
        steps = []
        for kind in kinds:
            g = torch.zeros(40) if kind == "zero" else sample(kind, 40, gen) * 0.1
            gamma, r = update(gamma, g, bits, alpha, eta)
            steps.append({"kind": kind, "g": entry(g), "clip_ratio": float(r),
                          "gamma": float(gamma)})
        cases.append({"bits": bits, "alpha": alpha, "eta": eta, "gamma0": gamma0,
                      "steps": steps})
    return cases


def main():
    gen = torch.Generator().manual_seed(2024)
    content = {"generator": "scripts/gen_lbt_golden.py", "torch": torch.__version__,
               "walk": walk_cases(gen), "quantize": quantize_cases(gen),
               "update": update_cases(gen)}
    write("lbt.json", content)
    for c in content["walk"]:
        print("walk", c["kind"], c["bits"], c["alpha"], "->", c["gamma"])
    for c in content["update"]:
        print("update", [round(s["gamma"], 4) for s in c["steps"]],
              [round(s["clip_ratio"], 4) for s in c["steps"]])


if __name__ == "__main__":
    main()
