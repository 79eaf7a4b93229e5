#!/usr/bin/python3
"""Writes the golden files under tests/golden/ from an independent PyTorch
implementation of the EWGS paper's quantizer (Eq. 1-4) and quantized conv.

Run with Debian's python3-torch:  /usr/bin/python3 scripts/gen_golden.py
The C++ tests compare ewgs against these files; regenerate only when the
specification changes, and commit the outputs together with this script.
"""
import math

import torch

from golden_common import RoundEWGS, entry, write



def quantize(x, l, u, bits, delta, weight):
    """Eq. 1-3: normalize, clip, round; weights map to 2(x_q - 0.5)."""
    x_n = torch.clamp((x - l) / (u - l), 0, 1)
    x_q = RoundEWGS.apply(x_n, float(2 ** bits - 1), delta)
    return 2 * (x_q - 0.5) if weight else x_q


def quantizer_cases():
    gen = torch.Generator().manual_seed(2021)
    cases = []
    for bits in range(1, 9):
        for weight in (True, False):
            for delta in (0.0, 1e-3, 0.1, 1.0):
                l_val, u_val = (-0.8, 0.6) if weight else (0.0, 1.5)
                # Inside, outside on both sides, exactly at both ends and the midpoint.
                x = torch.empty(24).uniform_(l_val - 0.5, u_val + 0.5, generator=gen)
                x[0], x[1], x[2] = l_val, u_val, (l_val + u_val) / 2
                x = x.to(torch.float32).requires_grad_(True)
                l = torch.tensor(l_val, requires_grad=True)
                u = torch.tensor(u_val, requires_grad=True)
                g = torch.randn(24, generator=gen)
                out = quantize(x, l, u, bits, delta, weight)
                out.backward(g)
                cases.append({
                    "bits": bits, "target": "weight" if weight else "activation",
                    "delta": delta, "l": l_val, "u": u_val,
                    "x": entry(x), "grad_out": entry(g), "out": entry(out),
                    "grad_x": entry(x.grad), "grad_l": float(l.grad), "grad_u": float(u.grad),
                })
    return cases


def conv_init_case():
    """A quantized conv's first training forward: the paper's initialization
    (weights -/+3 std, activations min and 3 std / sqrt(1 - 2/pi), alpha =
    E|o| / E|o_q|), then the output and all gradients."""
    gen = torch.Generator().manual_seed(7)
    x = torch.relu(torch.randn(2, 3, 5, 5, generator=gen)).requires_grad_(True)
    w = (torch.randn(4, 3, 3, 3, generator=gen) * 0.2).requires_grad_(True)
    g = torch.randn(2, 4, 5, 5, generator=gen)
    out = {"weight": entry(w), "input": entry(x), "grad_out": entry(g), "cases": []}
    for bits_w, bits_a, delta in ((1, 1, 0.0), (2, 2, 1e-3), (4, 3, 0.05)):
        with torch.no_grad():
            l_w, u_w = -3 * w.std(), 3 * w.std()
            l_a, u_a = x.min(), 3 * x.std() / math.sqrt(1 - 2 / math.pi)
        params = {k: v.clone().requires_grad_(True) for k, v in
                  {"l_w": l_w, "u_w": u_w, "l_a": l_a, "u_a": u_a}.items()}
        with torch.no_grad():
            full = torch.conv2d(x, w, padding=1).abs().mean()
            q = torch.conv2d(quantize(x, l_a, u_a, bits_a, delta, False),
                             quantize(w, l_w, u_w, bits_w, delta, True), padding=1)
            alpha = (full / q.abs().mean()).clone().requires_grad_(True)
        x.grad = None
        w.grad = None
        y = alpha.abs() * torch.conv2d(
            quantize(x, params["l_a"], params["u_a"], bits_a, delta, False),
            quantize(w, params["l_w"], params["u_w"], bits_w, delta, True), padding=1)
        y.backward(g)
        case = {"bits_w": bits_w, "bits_a": bits_a, "delta": delta,
                "alpha": float(alpha), "out": entry(y),
                "grad_x": entry(x.grad), "grad_w": entry(w.grad),
                "grad_alpha": float(alpha.grad)}
        for k, v in params.items():
            case[k] = float(v)
            case["grad_" + k] = float(v.grad)
        out["cases"].append(case)
    return out


def hvp_case():
    """Hessian-vector products through a quantized linear layer with EWGS:
    w.r.t. the activation quantizer's discrete values x_q (what the Hessian
    estimator forms, Eq. 10) and w.r.t. the weights, which runs a second
    backward through the EWGS backward itself."""
    gen = torch.Generator().manual_seed(11)
    x = torch.relu(torch.randn(4, 6, generator=gen)).requires_grad_(True)
    w1 = (torch.randn(5, 6, generator=gen) * 0.4).requires_grad_(True)
    w2 = torch.randn(3, 5, generator=gen)
    target = torch.tensor([0, 2, 1, 2])
    l_w, u_w, l_a, u_a, alpha, delta = -0.7, 0.9, 0.0, 1.6, 0.8, 0.3
    v_a = torch.randint(0, 2, (4, 6), generator=gen).float() * 2 - 1
    v_w = torch.randint(0, 2, (5, 6), generator=gen).float() * 2 - 1

    def forward():
        x_n = torch.clamp((x - l_a) / (u_a - l_a), 0, 1)
        x_q = RoundEWGS.apply(x_n, 3.0, delta)  # 2-bit activations
        w_q = quantize(w1, l_w, u_w, 1, delta, True)
        h = abs(alpha) * torch.nn.functional.linear(x_q, w_q)
        loss = torch.nn.functional.cross_entropy(
            torch.nn.functional.linear(torch.nn.functional.softplus(h), w2), target)
        return x_q, loss

    x_q, loss = forward()
    (g_a,) = torch.autograd.grad(loss, x_q, create_graph=True)
    (hv_a,) = torch.autograd.grad((g_a * v_a).sum(), x_q)
    _, loss = forward()
    (g_w,) = torch.autograd.grad(loss, w1, create_graph=True)
    (hv_w,) = torch.autograd.grad((g_w * v_w).sum(), w1)
    return {"x": entry(x), "w1": entry(w1), "w2": entry(w2), "target": target.tolist(),
            "l_w": l_w, "u_w": u_w, "l_a": l_a, "u_a": u_a, "alpha": alpha, "delta": delta,
            "bits_w": 1, "bits_a": 2, "v_a": entry(v_a), "v_w": entry(v_w),
            "loss": float(loss), "grad_w": entry(g_w), "hv_a": entry(hv_a), "hv_w": entry(hv_w)}


def main():
    files = {
        "interval_quantizer.json": {"generator": "scripts/gen_golden.py",
                                     "torch": torch.__version__, "cases": quantizer_cases()},
        "qconv2d_init.json": dict(generator="scripts/gen_golden.py",
                                  torch=torch.__version__, **conv_init_case()),
        "hvp_qlinear.json": dict(generator="scripts/gen_golden.py",
                                 torch=torch.__version__, **hvp_case()),
    }
    for name, content in files.items():
        write(name, content)


if __name__ == "__main__":
    main()
