#!/usr/bin/python3
"""Writes tests/golden/models.json: torchvision's state-dict keys and shapes
for ResNet-18/34 and MobileNetV2, and the logits of the official ResNet-20
checkpoint (shared/data/resnet20-fp-cifar10jpeg-official.pth) on a fixed input,
computed by an independent PyTorch ResNet-20 written from the EWGS paper's code
description (option-A shortcuts, BatchNorm1d before the linear layer).

Run with Debian's python3-torch/torchvision:  /usr/bin/python3 scripts/gen_model_golden.py
"""
import json
import os

import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "tests", "golden", "models.json")
CHECKPOINT = os.path.join(HERE, "..", "..", "shared", "data", "resnet20-fp-cifar10jpeg-official.pth")


class Block(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.pad = cout // 4 if (stride != 1 or cin != cout) else 0

    def forward(self, x):
        out = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
        short = x if self.pad == 0 else F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, self.pad, self.pad))
        return F.relu(out + short)


class ResNet20(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        widths = [16, 16, 32, 64]
        for s in range(1, 4):
            blocks = [Block(widths[s - 1] if i == 0 else widths[s], widths[s],
                            (1 if s == 1 else 2) if i == 0 else 1) for i in range(3)]
            setattr(self, "layer%d" % s, nn.Sequential(*blocks))
        self.bn2 = nn.BatchNorm1d(64)
        self.linear = nn.Linear(64, 10)

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.layer3(self.layer2(self.layer1(out)))
        out = F.avg_pool2d(out, out.size(3)).flatten(1)
        return self.linear(self.bn2(out))


def fixed_input():
    """sin(0.1 * i) over the flat index i of a (4, 3, 32, 32) tensor."""
    return torch.arange(4 * 3 * 32 * 32, dtype=torch.float64).mul(0.1).sin().float().reshape(4, 3, 32, 32)


def keys_and_shapes(model):
    return [[k, list(v.shape)] for k, v in model.state_dict().items()]


def main():
    net = ResNet20()
    state = torch.load(CHECKPOINT, map_location="cpu")["model"]
    net.load_state_dict(state)
    net.eval()
    with torch.no_grad():
        logits = net(fixed_input())
    out = {
        "generator": "scripts/gen_model_golden.py",
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "resnet20_official_logits": [[float(v) for v in row] for row in logits],
        "resnet20_parameters": sum(p.numel() for p in net.parameters()),
    }
    for name in ("resnet18", "resnet34", "mobilenet_v2"):
        model = getattr(torchvision.models, name)()
        out[name] = {"parameters": sum(p.numel() for p in model.parameters()),
                     "state": keys_and_shapes(model)}
    with open(OUT, "w") as f:
        json.dump(out, f, separators=(",", ":"))
    print("wrote", OUT, "resnet20 params", out["resnet20_parameters"],
          {k: out[k]["parameters"] for k in ("resnet18", "resnet34", "mobilenet_v2")})


if __name__ == "__main__":
    main()
