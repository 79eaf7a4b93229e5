#!/usr/bin/python3
"""Writes the seed corpora of the fuzz targets, fuzz/corpus/<target>/seed-*: small
valid inputs of every format (and a few broken ones) for libFuzzer to mutate.

Run with Debian's python3 and python3-torch:  /usr/bin/python3 scripts/gen_fuzz_seeds.py
JPEG files are encoded with libturbojpeg through ctypes; the checkpoint seeds are
files written by the C++ tests (see FUZZING.md), not by this script.
"""
import ctypes
import io
import os
import pickle
import struct
import zipfile
import zlib

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "..", "fuzz", "corpus")
CONFIGS = os.path.join(HERE, "..", "configs")


def write(target, name, data):
    folder = os.path.join(CORPUS, target)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "seed-" + name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def pattern(n, step=37):
    return bytes((i * step) % 251 for i in range(n))


def jpeg(pixels, height, width, channels, quality=90, progressive=False):
    tj = ctypes.CDLL("libturbojpeg.so.0")
    tj.tjInitCompress.restype = ctypes.c_void_p
    handle = ctypes.c_void_p(tj.tjInitCompress())
    out = ctypes.POINTER(ctypes.c_ubyte)()
    size = ctypes.c_ulong(0)
    pixel_format = {1: 6, 3: 0, 4: 11}[channels]  # TJPF_GRAY, TJPF_RGB, TJPF_CMYK
    subsampling = 3 if channels == 1 else 2  # TJSAMP_GRAY, TJSAMP_420
    flags = 16384 if progressive else 0  # TJFLAG_PROGRESSIVE
    buffer = (ctypes.c_ubyte * len(pixels)).from_buffer_copy(pixels)
    rc = tj.tjCompress2(handle, buffer, width, 0, height, pixel_format, ctypes.byref(out),
                        ctypes.byref(size), subsampling, quality, flags)
    assert rc == 0, "tjCompress2 failed"
    data = bytes(out[:size.value])
    tj.tjFree(out)
    tj.tjDestroy(handle)
    return data


def png(pixels, height, width, color_type, palette=None, depth=8):
    """A PNG of raw scanlines (filter 0) with IHDR, optional PLTE, IDAT, IEND."""
    channels = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}[color_type]
    row = width * channels * depth // 8
    raw = b"".join(b"\x00" + pixels[y * row:(y + 1) * row] for y in range(height))

    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    out = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, depth, color_type, 0, 0, 0))
    if palette is not None:
        out += chunk(b"PLTE", palette)
    return out + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def images():
    return {
        "rgb.jpg": jpeg(pattern(8 * 8 * 3), 8, 8, 3),
        "gray.jpg": jpeg(pattern(5 * 7), 5, 7, 1),
        "cmyk.jpg": jpeg(pattern(4 * 4 * 4), 4, 4, 4),
        "progressive.jpg": jpeg(pattern(16 * 9 * 3), 16, 9, 3, progressive=True),
        "rgb.png": png(pattern(6 * 5 * 3), 5, 6, 2),
        "rgba.png": png(pattern(3 * 3 * 4), 3, 3, 6),
        "gray.png": png(pattern(4 * 4), 4, 4, 0),
        "palette.png": png(bytes([0, 1, 2, 1]), 2, 2, 3, palette=pattern(9)),
        "gray16.png": png(pattern(2 * 2 * 2), 2, 2, 0, depth=16),
    }


def idx_file(dims, data):
    return struct.pack(">I", 0x0800 | len(dims)) + b"".join(struct.pack(">I", d) for d in dims) + data


def parts(*items):
    """The fuzz targets' part encoding: uint16 little-endian length, then the bytes."""
    return b"".join(struct.pack("<H", len(p)) + p for p in items)


def cifar_seeds():
    ten = b"\n".join(b"class%d" % i for i in range(10)) + b"\n"
    records10 = b"".join(bytes([i % 10]) + pattern(3072, 7 + i) for i in range(2))
    records100 = b"".join(bytes([i % 20, (i * 7) % 100]) + pattern(3072, 11 + i) for i in range(2))
    hundred = b"\n".join(b"fine%d" % i for i in range(100))
    return {
        "cifar10": b"\x00" + parts(ten) + records10,
        "cifar10-default-names": b"\x00" + parts(b"") + records10[:3073],
        "cifar100": b"\x01" + parts(hundred) + records100,
        "cifar10-truncated": b"\x00" + parts(ten) + records10[:4000],
    }


def folder_seeds():
    """Entries: kind byte (0 folder, 1 file, 2 link) + name, NUL, content/link target."""
    small = jpeg(pattern(4 * 4 * 3), 4, 4, 3)
    other = png(pattern(4 * 4 * 3), 4, 4, 2)
    entries = [b"\x00train/cat", b"\x00train/dog", b"\x01train/cat/a.jpg\x00" + small,
               b"\x01train/dog/b.png\x00" + other, b"\x01train/dog/c.txt\x00text",
               b"\x02train/dog/d.jpg\x00train/cat/a.jpg"]
    loop = [b"\x00train/cat", b"\x01train/cat/a.jpg\x00" + small, b"\x02train/cat/again\x00train"]
    return {"two-classes": b"\x01" + parts(*entries), "no-cache": b"\x00" + parts(*entries),
            "link-loop": b"\x00" + parts(*loop), "empty-class": b"\x00" + parts(b"\x00train/cat")}


def pth_seeds():
    out = {}
    for name in ("module_state", "single", "dtypes", "views", "checkpoint", "checkpoint_p4", "whole_module"):
        with open(os.path.join(HERE, "..", "tests", "golden", "pth", name + ".pth"), "rb") as f:
            data = f.read()
        out["zip-" + name] = b"\x01" + data
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            pickle_name = next(n for n in z.namelist() if n.endswith("/data.pkl"))
            out["pickle-" + name] = b"\x00" + z.read(pickle_name)
    # Programs over the fixed storages the fuzzer provides (data/0 .. data/3).
    buffer = io.BytesIO()
    torch.save({"w": torch.zeros(2, 4), "b": torch.arange(3.0)}, buffer)
    with zipfile.ZipFile(io.BytesIO(buffer.getvalue())) as z:
        pickle_name = next(n for n in z.namelist() if n.endswith("/data.pkl"))
        out["pickle-fresh"] = b"\x00" + z.read(pickle_name)
    out["pickle-plain"] = b"\x00" + pickle.dumps({"a": [1, 2.5, "x", None, True, (3, 4)]}, protocol=2)
    return out


def config_seeds():
    out = {}
    for name in sorted(os.listdir(CONFIGS)):
        with open(os.path.join(CONFIGS, name)) as f:
            text = "".join(line for line in f if not line.startswith("base"))
        out[name] = text
    out["overrides"] = ("[train]\nepochs = 3\n\n--\nquant.method=ewgs\nquant.wbits=1\nquant.abits=1\n"
                        "quant.delta=hessian\nhessian.period=10\n")
    out["bad-type"] = "[train]\nepochs = \"three\"\n"
    return out


def spec_seeds():
    specs = ["ewgs:bits=1,delta=0.001", "ste:bits=2", "off", "lsq:bits=3", "lsq_plus:bits=4", "pact:bits=2,alpha_init=6",
             "dorefa:bits=1,estimator=ewgs,delta=0.01", "dorefa:bits=3", "daq:bits=2,gamma=2,sigma=1",
             "aqe:bits=1,alpha=0.5", "lbt_wa:bits=4", "lbt:bits=4,gamma=adaptive,alpha=0.001,eta=0.001,seed=1",
             "ewgs:bits=8", "ewgs:bits=0", "ewgs:bitz=2"]
    return {"%02d" % i: s for i, s in enumerate(specs)}


def main():
    for name, data in images().items():
        write("image_decode", name, data)
    write("idx", "labels", idx_file([5], bytes([0, 1, 2, 9, 3])))
    write("idx", "images", idx_file([2, 3, 3], pattern(18)))
    write("idx", "empty", idx_file([0, 28, 28], b""))
    write("idx", "truncated", idx_file([2, 2, 2], pattern(5)))
    for name, data in cifar_seeds().items():
        write("cifar_binary", name, data)
    for name, data in folder_seeds().items():
        write("image_folder", name, data)
    for name, data in pth_seeds().items():
        write("pth", name, data)
    for name, data in config_seeds().items():
        write("config", name, data)
    for name, data in spec_seeds().items():
        write("quant_spec", name, data)


if __name__ == "__main__":
    main()
