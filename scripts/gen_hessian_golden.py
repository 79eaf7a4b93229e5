#!/usr/bin/python3
"""Writes the golden files of the Hessian-driven delta (EWGS paper Eq. 5-10, Algorithm 1):

  tests/golden/hessian_capture.json     the discrete values x_q a quantizer hands to the
      Hessian estimator: Eq. 2's output in [0, 1], before Eq. 3 maps weights to [-1, 1]
      (the official code keeps buff_weight before that map).
  tests/golden/update_grad_scales.json  delta of every quantizer of a small network as the
      official update_grad_scales computes it (3 batches, Hutchinson's loop with at most 50
      probes and relative tolerance 1e-3, trace per element over 3 std of the gradient,
      averaged over batches and clipped at 0), with the Rademacher probes drawn the way
      ewgs draws them: bytes from torch.Generator().manual_seed(seed), in the order
      batch, then activation quantizers, then weight quantizers, then probe.

Run with Debian's python3-torch:  /usr/bin/python3 scripts/gen_hessian_golden.py
"""
import math

import torch
import torch.nn.functional as F

from golden_common import RoundEWGS, entry, write

SEED = 5
MAX_PROBES = 50
TOLERANCE = 1e-3


def discretize(x, l, u, bits, delta):
    """Eq. 1-2: x_q in [0, 1] with EWGS's backward."""
    x_n = torch.clamp((x - l) / (u - l), 0, 1)
    return RoundEWGS.apply(x_n, float(2 ** bits - 1), delta)


def capture_cases():
    gen = torch.Generator().manual_seed(31)
    cases = []
    for bits in (1, 2, 4):
        for target in ("weight", "activation"):
            l, u = (-0.5, 0.7) if target == "weight" else (0.0, 1.2)
            x = torch.empty(20).uniform_(l - 0.3, u + 0.3, generator=gen)
            x_q = discretize(x, l, u, bits, 0.0)
            out = 2 * (x_q - 0.5) if target == "weight" else x_q
            cases.append({"bits": bits, "target": target, "l": l, "u": u,
                          "x": entry(x), "x_q": entry(x_q), "out": entry(out)})
    return cases


class QuantConv(torch.nn.Module):
    """The official QConv: conv(x_q^A, 2 (x_q^W - 0.5)) * |alpha|, 3x3, padding 1, no bias."""

    def __init__(self, cin, cout, bits, gen):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.randn(cout, cin, 3, 3, generator=gen) * 0.3)
        self.bits = bits
        self.interval = {}
        self.alpha = torch.nn.Parameter(torch.tensor(1.0))
        self.captured = {}

    def quantize(self, x, which):
        l, u = self.interval[which]
        x_q = discretize(x, l, u, self.bits, 0.0)  # delta starts at 0 (paper Sec. 4.1)
        if x_q.requires_grad:
            x_q.retain_grad()
        self.captured[which] = x_q
        return x_q

    def initialize(self, x):
        """Paper Sec. 4.1 on the first batch: weights -/+3 std, activations from min to
        3 std / sqrt(1 - 2/pi), alpha = E|conv(x, w)| / E|conv(Q(x), Q(w))|."""
        with torch.no_grad():
            s = self.weight.std()
            self.interval["weight"] = (torch.nn.Parameter(-3 * s), torch.nn.Parameter(3 * s))
            self.interval["act"] = (torch.nn.Parameter(x.min()),
                                    torch.nn.Parameter(x.std() / math.sqrt(1 - 2 / math.pi) * 3))
            full = F.conv2d(x, self.weight, padding=1).abs().mean()
            quantized = F.conv2d(self.quantize(x, "act"), 2 * (self.quantize(self.weight, "weight") - 0.5),
                                 padding=1).abs().mean()
            self.alpha.fill_(full / quantized)

    def forward(self, x):
        w_q = 2 * (self.quantize(self.weight, "weight") - 0.5)
        return F.conv2d(self.quantize(x, "act"), w_q, padding=1) * self.alpha.abs()


class Net(torch.nn.Module):
    def __init__(self, gen):
        super().__init__()
        self.conv1 = QuantConv(3, 4, 2, gen)
        self.bn1 = torch.nn.BatchNorm2d(4)
        self.conv2 = QuantConv(4, 4, 2, gen)
        self.bn2 = torch.nn.BatchNorm2d(4)
        self.fc = torch.nn.Linear(4, 3)
        with torch.no_grad():
            self.fc.weight.copy_(torch.randn(3, 4, generator=gen) * 0.5)
            self.fc.bias.copy_(torch.randn(3, generator=gen) * 0.1)

    def forward(self, x):
        h = F.relu(self.bn1(self.conv1(x)))
        h = F.relu(self.bn2(self.conv2(h)))
        return self.fc(F.adaptive_avg_pool2d(h, 1).flatten(1))

    def initialize(self, x):
        """The first training forward initializes each layer from its own input."""
        self.conv1.initialize(x)
        h = F.relu(self.bn1(self.conv1(x)))
        self.conv2.initialize(h)

    def state(self):
        """Named tensors under ewgs's module names."""
        out = {}
        for name in ("conv1", "conv2"):
            conv = getattr(self, name)
            out[name + ".weight"] = conv.weight
            out[name + ".output_scale"] = conv.alpha
            for which, key in (("weight", "weight_quant"), ("act", "act_quant")):
                out["%s.%s.lower" % (name, key)] = conv.interval[which][0]
                out["%s.%s.upper" % (name, key)] = conv.interval[which][1]
        for name in ("bn1", "bn2"):
            bn = getattr(self, name)
            out[name + ".weight"] = bn.weight
            out[name + ".bias"] = bn.bias
            out[name + ".running_mean"] = bn.running_mean
            out[name + ".running_var"] = bn.running_var
        out["fc.weight"] = self.fc.weight
        out["fc.bias"] = self.fc.bias
        return {k: entry(v) for k, v in out.items()}


def hutchinson_loop(grad, x_q, probes):
    """The official trace(): samples v^T H v until the running mean changes by less than
    TOLERANCE relative to the previous mean (signed, plus 1e-6), at most MAX_PROBES."""
    samples = []
    previous = 0.0
    for _ in range(MAX_PROBES):
        v = torch.randint(0, 2, x_q.shape, generator=probes, dtype=torch.uint8).to(x_q.dtype) * 2 - 1
        (hv,) = torch.autograd.grad(grad, x_q, grad_outputs=v, retain_graph=True)
        samples.append(float((hv.double() * v.double()).sum()))
        mean = sum(samples) / len(samples)
        if abs(mean - previous) / (previous + 1e-6) < TOLERANCE:
            break
        previous = mean
    return samples


def update_grad_scales(net, batches):
    probes = torch.Generator().manual_seed(SEED)
    layers = ("conv1", "conv2")
    order = [(name, which) for which in ("act", "weight") for name in layers]
    totals = {k: {"probes": 0, "trace": 0.0, "delta": 0.0} for k in order}
    net.train()
    for images, labels in batches:
        net.zero_grad()
        loss = F.cross_entropy(net(images), labels)
        loss.backward(create_graph=True)
        # Like the official code, each group's gradients are taken before its
        # probes run: a probe's backward pass replaces the .grad of retained
        # tensors it passes through.
        for which in ("act", "weight"):
            group = [(name, getattr(net, name).captured[which]) for name in layers]
            grads = [x_q.grad for _, x_q in group]
            for (name, x_q), grad in zip(group, grads):
                samples = hutchinson_loop(grad, x_q, probes)
                per_element = sum(samples) / len(samples) / x_q.numel()
                t = totals[(name, which)]
                t["probes"] += len(samples)
                t["trace"] += per_element
                t["delta"] += per_element / (3.0 * float(grad.std()))
    out = []
    for (name, which), t in totals.items():
        unclipped = t["delta"] / len(batches)
        out.append({"layer": name, "target": which, "probes": t["probes"],
                    "trace_per_element": t["trace"] / len(batches),
                    "delta_unclipped": unclipped, "delta": max(0.0, unclipped)})
    return out


def update_grad_scales_case():
    # A seed where every quantizer's trace is positive, so each Hutchinson loop
    # runs until the relative-change rule stops it (not at its first negative mean).
    gen = torch.Generator().manual_seed(27)
    net = Net(gen)
    batches = [(torch.randn(8, 3, 6, 6, generator=gen), torch.randint(0, 3, (8,), generator=gen))
               for _ in range(3)]
    net.train()
    net.initialize(batches[0][0])
    state = net.state()
    return {"seed": SEED, "max_probes": MAX_PROBES, "tolerance": TOLERANCE, "state": state,
            "batches": [{"images": entry(x), "labels": y.tolist()} for x, y in batches],
            "quantizers": update_grad_scales(net, batches)}


def main():
    write("hessian_capture.json", {"generator": "scripts/gen_hessian_golden.py",
                                   "torch": torch.__version__, "cases": capture_cases()})
    write("update_grad_scales.json", dict(generator="scripts/gen_hessian_golden.py",
                                          torch=torch.__version__, **update_grad_scales_case()))


if __name__ == "__main__":
    main()
