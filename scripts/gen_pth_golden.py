#!/usr/bin/python3
"""Writes the small .pth files under tests/golden/pth/ that the C++ .pth reader
(include/ewgs/core/pth_reader.h) is tested against, and expected.json with what
torch.load itself sees in them.

Run with Debian's python3-torch:  /usr/bin/python3 scripts/gen_pth_golden.py
Regenerate only when adding cases, and commit the outputs together with this script.
"""
import io
import json
import os
import pickle
import zipfile

import torch
import torch.nn as nn

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "golden", "pth")


class Tiny(nn.Module):
    """Conv + BatchNorm (int64 num_batches_tracked buffer) + Linear."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(2, 3, 3, bias=False)
        self.bn = nn.BatchNorm2d(3)
        self.fc = nn.Linear(3, 2)


def tiny_state():
    torch.manual_seed(0)
    model = Tiny()
    model.bn.running_mean.uniform_(-1, 1)
    model.bn.running_var.uniform_(0.5, 2)
    model.bn.num_batches_tracked += 7
    return model, model.state_dict()


def describe(t):
    """What the C++ test compares: dtype, geometry and the values in logical order."""
    return {
        "dtype": str(t.dtype).replace("torch.", ""),
        "shape": list(t.shape),
        "stride": list(t.stride()),
        "offset": t.storage_offset(),
        "requires_grad": t.requires_grad,
        "data": [float(v) for v in t.detach().double().flatten().tolist()],
    }


def describe_tensors(d):
    return {"keys": list(d.keys()), "tensors": {k: describe(v) for k, v in d.items()}}


def save(name, obj, **kwargs):
    path = os.path.join(OUT, name)
    torch.save(obj, path, **kwargs)
    return path


def dtypes_case():
    gen = torch.Generator().manual_seed(1)
    return {
        "f32": torch.randn(2, 3, generator=gen),
        "f64": torch.randn(4, generator=gen, dtype=torch.float64),
        "f16": torch.tensor([0.5, -1.25, 65504.0, 1e-3], dtype=torch.float16),
        "bf16": torch.tensor([[1.5, -2.0], [3.0, 0.0078125]], dtype=torch.bfloat16),
        "i64": torch.tensor([-(2**40), 0, 7, 2**50], dtype=torch.int64),
        "i32": torch.tensor([[-3, 4], [5, -6]], dtype=torch.int32),
        "i16": torch.tensor([-300, 300], dtype=torch.int16),
        "i8": torch.tensor([-128, 127, 0], dtype=torch.int8),
        "u8": torch.tensor([0, 255, 17], dtype=torch.uint8),
        "bool": torch.tensor([True, False, True]),
        "scalar": torch.tensor(2.75),
        "empty": torch.zeros(0, 3),
    }


def views_case():
    base = torch.arange(24, dtype=torch.float32)
    grid = base.view(4, 6)
    return {
        "base": base,
        "row": grid[1],
        "col": grid[:, 2],
        "t": grid.t(),
        "slice": base[5:9],
        "strided": grid[::2, 1::3],
    }


def checkpoint_case():
    model, state = tiny_state()
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    for p in model.parameters():
        p.grad = torch.ones_like(p)
    opt.step()
    return {
        "epoch": 3,
        "model": model.state_dict(),
        "criterion": nn.CrossEntropyLoss(),
        "optimizer": opt.state_dict(),
        "best_acc": 0.875,
        "name": "tiny",
        "flags": [True, False, None],
        "device": torch.device("cuda", 0),
        "shape": torch.Size([2, 3]),
        "ids": {4, 5},
        "window": slice(1, 9, 2),
        "blob": b"\x00\xffab",
        "big": 2**40,
        "neg": -100000,
        "dtype": torch.float32,
    }


def write_error_cases():
    """Archives that must fail with a clear error, plus the legacy (pre-1.6) format."""
    save("legacy.pth", {"w": torch.ones(2)}, _use_new_zipfile_serialization=False)
    buf = io.BytesIO()
    torch.save({"w": torch.ones(2)}, buf)
    with zipfile.ZipFile(io.BytesIO(buf.getvalue())) as src:
        records = {n: src.read(n) for n in src.namelist()}

    def rewrite(name, change):
        out = dict(records)
        change(out)
        with zipfile.ZipFile(os.path.join(OUT, name), "w", zipfile.ZIP_STORED) as dst:
            for n, data in out.items():
                renamed = n.replace("archive/", name[:-4] + "/")
                dst.writestr(zipfile.ZipInfo(renamed, (1980, 1, 1, 0, 0, 0)), data)

    pkl = "archive/data.pkl"

    def truncate(r):
        r[pkl] = r[pkl][: len(r[pkl]) // 2]

    def bad_opcode(r):
        # PROTO 2, then INST ('i'), which torch.save never writes.
        r[pkl] = b"\x80\x02i__main__\nX\n."

    def missing_storage(r):
        del r["archive/data/0"]

    rewrite("truncated_pickle.pth", truncate)
    rewrite("bad_opcode.pth", bad_opcode)
    rewrite("missing_storage.pth", missing_storage)


def main():
    os.makedirs(OUT, exist_ok=True)
    expected = {}

    d = dtypes_case()
    save("dtypes.pth", d)
    expected["dtypes.pth"] = describe_tensors(d)

    _, state = tiny_state()
    save("module_state.pth", state)
    expected["module_state.pth"] = describe_tensors(state)

    # The same state with a NaN among the weights: loaders must name fc.weight.
    _, state = tiny_state()
    state["fc.weight"][1, 2] = float("nan")
    save("non_finite.pth", state)

    one = {"only": torch.linspace(-1, 1, 5)}
    save("single.pth", one)
    expected["single.pth"] = describe_tensors(one)

    v = views_case()
    save("views.pth", v)
    expected["views.pth"] = describe_tensors(v)

    ckpt = checkpoint_case()
    save("checkpoint.pth", ckpt)
    expected["checkpoint.pth"] = {
        "top_keys": list(ckpt.keys()),
        "model": describe_tensors(ckpt["model"]),
        "momentum_0": describe(ckpt["optimizer"]["state"][0]["momentum_buffer"]),
        "lr": ckpt["optimizer"]["param_groups"][0]["lr"],
        "params": ckpt["optimizer"]["param_groups"][0]["params"],
    }

    # The same checkpoint at pickle protocol 4 (FRAME, MEMOIZE, SHORT_BINUNICODE...).
    save("checkpoint_p4.pth", ckpt, pickle_protocol=4)

    # A whole module pickled by class reference, with Parameters inside.
    model, _ = tiny_state()
    save("whole_module.pth", model)
    expected["whole_module.pth"] = {
        "class": "%s.%s" % (type(model).__module__, type(model).__name__),
        "conv_weight": describe(model.conv.weight),
    }

    write_error_cases()

    with open(os.path.join(OUT, "expected.json"), "w") as f:
        json.dump(expected, f, sort_keys=True)
        f.write("\n")
    for name in sorted(os.listdir(OUT)):
        print("%-24s %6d bytes" % (name, os.path.getsize(os.path.join(OUT, name))))
    print("pickle protocol default:", pickle.DEFAULT_PROTOCOL, "torch", torch.__version__)


if __name__ == "__main__":
    main()
