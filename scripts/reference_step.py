#!/usr/bin/python3
"""Times ResNet-20 training steps in PyTorch eager the way the official EWGS code runs
them (full precision, W1A1 with the STE, W1A1 with EWGS; Adam, batch 256), so that
`ewgs bench step` has a reference measured on the same machine in the same run.

The quantized convolution follows the official QConv: weights and activations mapped
to [0, 1] by the learnable interval [l, u] (Eq. 1), rounded with EWGS's backward
(Eq. 2, 4), weights mapped to [-1, 1] (Eq. 3), the output scaled by |alpha|; the first
convolution and the classifier stay full precision.

Usage: scripts/reference_step.py [--device cuda] [--batch 256] [--steps 200] [--json]
"""
import argparse
import json
import math
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

from golden_common import RoundEWGS
from gen_model_golden import ResNet20


class QuantConv2d(nn.Conv2d):
    """The official QConv with one interval quantizer for weights and one for inputs."""

    def __init__(self, conv, bits, delta):
        super().__init__(conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride,
                         conv.padding, bias=False)
        self.levels = float(2 ** bits - 1)
        self.delta = delta
        self.lw, self.uw = nn.Parameter(torch.tensor(-1.0)), nn.Parameter(torch.tensor(1.0))
        self.la, self.ua = nn.Parameter(torch.tensor(0.0)), nn.Parameter(torch.tensor(1.0))
        self.alpha = nn.Parameter(torch.tensor(1.0))
        self.initialized = False

    def discretize(self, x, l, u):
        return RoundEWGS.apply(torch.clamp((x - l) / (u - l), 0, 1), self.levels, self.delta)

    def forward(self, x):
        if not self.initialized:  # paper Sec. 4.1, on the first batch
            with torch.no_grad():
                s = self.weight.std()
                self.lw.fill_(-3 * s)
                self.uw.fill_(3 * s)
                self.la.fill_(x.min())
                self.ua.fill_(x.std() / math.sqrt(1 - 2 / math.pi) * 3)
            self.initialized = True
        w_q = 2 * (self.discretize(self.weight, self.lw, self.uw) - 0.5)
        x_q = self.discretize(x, self.la, self.ua)
        return F.conv2d(x_q, w_q, None, self.stride, self.padding) * self.alpha.abs()


def make_model(method, device):
    model = ResNet20()
    if method != "fp":
        delta = 1e-3 if method == "ewgs" else 0.0
        for block in [b for s in (model.layer1, model.layer2, model.layer3) for b in s]:
            block.conv1 = QuantConv2d(block.conv1, 1, delta)
            block.conv2 = QuantConv2d(block.conv2, 1, delta)
    model.to(device).train()
    quant = [p for n, p in model.named_parameters() if n.split(".")[-1] in ("lw", "uw", "la", "ua")]
    rest = [p for n, p in model.named_parameters() if n.split(".")[-1] not in ("lw", "uw", "la", "ua")]
    groups = [torch.optim.Adam(rest, lr=1e-3, weight_decay=1e-4)]
    if quant:
        groups.append(torch.optim.Adam(quant, lr=1e-5))
    return model, groups


def step(model, optimizers, images, labels):
    for o in optimizers:
        o.zero_grad()
    F.cross_entropy(model(images), labels).backward()
    for o in optimizers:
        o.step()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--steps", type=int, default=0, help="0: 200 on CUDA, 15 on the CPU")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    device = torch.device(args.device)
    steps = args.steps or (200 if device.type == "cuda" else 15)
    torch.manual_seed(1)
    images = torch.randn(args.batch, 3, 32, 32, device=device)
    labels = torch.randint(0, 10, (args.batch,), device=device)
    variants = {m: make_model(m, device) for m in ("fp", "ste", "ewgs")}
    for model, optimizers in variants.values():
        for _ in range(args.warmup):
            step(model, optimizers, images, labels)
    times = {m: [] for m in variants}
    for _ in range(steps):  # round robin, so drifting clocks hit every variant alike
        for name, (model, optimizers) in variants.items():
            if device.type == "cuda":
                start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                start.record()
                step(model, optimizers, images, labels)
                end.record()
                end.synchronize()
                times[name].append(start.elapsed_time(end))
            else:
                t0 = time.perf_counter()
                step(model, optimizers, images, labels)
                times[name].append((time.perf_counter() - t0) * 1e3)
    result = {
        "benchmark": "reference_step",
        "implementation": "PyTorch eager, the official code's QConv",
        "torch": torch.__version__,
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "batch": args.batch,
        "steps": steps,
        "median_ms": {m: statistics.median(t) for m, t in times.items()},
        "min_ms": {m: min(t) for m, t in times.items()},
    }
    if args.json:
        print(json.dumps(result))
    else:
        for m in variants:
            print("%-5s %8.3f ms (median of %d, min %.3f)" % (m, result["median_ms"][m], steps, result["min_ms"][m]))


if __name__ == "__main__":
    main()
