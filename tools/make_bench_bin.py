#!/usr/bin/python3
"""make_bench_bin.py - the benchmark's HF model again as PyTorch .bin shards, without PyTorch.

usage: make_bench_bin.py SRCDIR OUTDIR

SRCDIR holds config.json and safetensors shards (model.safetensors.index.json, or one
model.safetensors); OUTDIR gets config.json, one pytorch_model-0000K-of-0000N.bin per shard
(torch.save's zip layout: archive/data.pkl, archive/data/<key>, byteorder, version; each tensor
its own storage, pickled by tools/make_bin_cases.py's stand-ins for torch's globals) and
pytorch_model.bin.index.json, written last. One tensor is in memory at a time.
"""
import json
import os
import shutil
import struct
import sys
import zipfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_bin_cases import Storage, View, pickle_bytes  # noqa: E402

NP = {"BF16": "<u2", "F16": "<f2", "F32": "<f4", "I64": "<i8", "U8": "u1", "BOOL": "bool"}


def header(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        return json.loads(f.read(n)), 8 + n


def write_shard(src, dst):
    hdr, base = header(src)
    keys = [k for k in hdr if k != "__metadata__"]
    state, storages = {}, []
    for i, k in enumerate(keys):  # the pickle first: it only names the storages
        v = hdr[k]
        s = Storage(str(i), np.zeros(0, NP[v["dtype"]]))
        s.numel = (v["data_offsets"][1] - v["data_offsets"][0]) // np.dtype(NP[v["dtype"]]).itemsize
        strides, acc = [], 1
        for d in reversed(v["shape"]):
            strides.insert(0, acc)
            acc *= d
        state[k] = View(s, 0, v["shape"], strides)
        storages.append((s, v))
    with zipfile.ZipFile(dst, "w", zipfile.ZIP_STORED) as z, open(src, "rb") as f:
        z.writestr("archive/data.pkl", pickle_bytes(state))
        z.writestr("archive/byteorder", b"little")
        for s, v in storages:
            a, b = v["data_offsets"]
            f.seek(base + a)
            z.writestr(f"archive/data/{s.key}", f.read(b - a))
        z.writestr("archive/version", b"3\n")
    return keys


def main(src, out):
    os.makedirs(out, exist_ok=True)
    idx = os.path.join(src, "model.safetensors.index.json")
    files = sorted(set(json.load(open(idx))["weight_map"].values())) if os.path.exists(idx) else ["model.safetensors"]
    wmap, total = {}, 0
    for i, name in enumerate(files):
        bin_name = f"pytorch_model-{i + 1:05d}-of-{len(files):05d}.bin"
        for k in write_shard(os.path.join(src, name), os.path.join(out, bin_name)):
            wmap[k] = bin_name
        total += os.path.getsize(os.path.join(src, name))
    shutil.copy(os.path.join(src, "config.json"), os.path.join(out, "config.json"))
    with open(os.path.join(out, "pytorch_model.bin.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": wmap}, f, indent=2)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(*sys.argv[1:])
