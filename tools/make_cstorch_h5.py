#!/usr/bin/python3
"""make_cstorch_h5.py - write a packed Cerebras checkpoint (.mdl, HDF5) from a safetensors file,
the way cstorch writes it, with plain h5py + numpy (no torch, no cerebras packages).

  --format 0.5  cstorch 2.9/2.10 storage format: every key under "model.", one LZ4-chunked dataset
                per tensor (h5py's guessed chunks), dataset attributes set with attrs.update(),
                per-key "<key>.__metadata__" JSON, __spec__ (treespec protocol 1), __SUCCESS__ last.
  --format 0.4  the legacy layout (<= 2.4): percent-quoted dataset names, __H5_TYPE__ and
                is_bfloat16 on each dataset, __version__ 0.4, __spec__ a hex string (not a real pickle).

Layout facts: notes/cstorch-h5.md; ckconv's own layout: schemas/packed-h5.md.
Usage: make_cstorch_h5.py [--format 0.5|0.4] [--force] IN.safetensors OUT.mdl
"""
import argparse
import json
import os
import struct
import sys
from urllib.parse import quote

# the LZ4 filter (id 32004) comes from Debian's hdf5-filter-plugin; hdf5plugin may be absent
os.environ.setdefault("HDF5_PLUGIN_PATH", "/usr/lib/x86_64-linux-gnu/hdf5/serial/plugins")
import numpy as np  # noqa: E402
import h5py  # noqa: E402

LZ4 = dict(compression=32004, compression_opts=(0,))

# safetensors dtype -> (numpy dtype as stored, torch name, RtFx code)
DTYPES = {
    "BOOL": ("?", "torch.bool", 1),
    "U8": ("<u1", "torch.uint8", 6),
    "I8": ("<i1", "torch.int8", 0),
    "I16": ("<i2", "torch.int16", 3),
    "U16": ("<u2", "torch.uint16", 7),
    "I32": ("<i4", "torch.int32", 4),
    "U32": ("<u4", "torch.uint32", 8),
    "I64": ("<i8", "torch.int64", 5),
    "U64": ("<u8", "torch.uint64", 9),
    "F16": ("<f2", "torch.float16", 10),
    "BF16": ("<i2", "torch.bfloat16", 15),  # cstorch's to_numpy: bf16 bits viewed as int16
    "F32": ("<f4", "torch.float32", 11),
    "F64": ("<f8", "torch.float64", 12),
}

LEAF = {"type": None, "context": None, "children_spec": []}


def read_safetensors(path):
    """[(key, st_dtype, shape, ndarray)] in header order."""
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + n])
    base = 8 + n
    out = []
    for key, v in header.items():
        if key == "__metadata__":
            continue
        npdt = np.dtype(DTYPES[v["dtype"]][0])
        a, b = v["data_offsets"]
        arr = np.frombuffer(blob[base + a:base + b], dtype=npdt).reshape(v["shape"])
        out.append((key, v["dtype"], list(v["shape"]), arr))
    return out


ST_OF_TORCH = {v[1]: st for st, v in DTYPES.items()}  # torch dtype name -> safetensors dtype


def read_packed(path):
    """[(key, st_dtype, shape, ndarray)] of a packed file's datasets (format 0.5: ckconv's or cstorch's),
    in file order, the dtype from each key's metadata: what write_v05 takes"""
    out = []
    with h5py.File(path, "r") as f:
        for k in f.keys():
            meta = json.loads(f.attrs[k + ".__metadata__"])[k + ".__metadata__"]
            arr = f[k][()]
            out.append((k, ST_OF_TORCH[meta["dtypes"][0]], list(arr.shape), arr))
    return out


def dict_node(keys, children):
    return {"type": "builtins.dict", "context": json.dumps(keys), "children_spec": children}


def spec_of(v, tuple_cls=()):
    """torch pytree treespec node of a saved value: dicts and lists (tuples: instances of tuple_cls) are
    nodes, the rest leaves"""
    if isinstance(v, dict):
        return dict_node(list(v.keys()), [spec_of(x, tuple_cls) for x in v.values()])
    if isinstance(v, list):
        ty = "builtins.tuple" if isinstance(v, tuple_cls) else "builtins.list"
        return {"type": ty, "context": "null", "children_spec": [spec_of(x, tuple_cls) for x in v]}
    return LEAF


def leaves(v, path=""):
    """(dotted path, leaf) of every leaf of a nested dict/list value, depth first"""
    if isinstance(v, dict):
        for k, x in v.items():
            yield from leaves(x, f"{path}.{k}" if path else str(k))
    elif isinstance(v, list):
        for i, x in enumerate(v):
            yield from leaves(x, f"{path}.{i}" if path else str(i))
    else:
        yield path, v


def treespec_dumps(node):
    """torch.utils._pytree.treespec_dumps, protocol 1."""
    return json.dumps([1, node])


def tensor_meta(st_dtype, shape):
    _, torch_name, rtfx = DTYPES[st_dtype]
    return {"__TORCH__": True, "shapes": [list(shape)], "dtypes": [torch_name], "rtfx_dtypes": [rtfx],
            "__TYPE__": "TorchTensorSerializer", "__NUMPY__": True, "compressed": False}


def key_metadata(key, meta):
    spec = [{key: "*"}, treespec_dumps(dict_node([key], [LEAF]))]
    return json.dumps({"__spec__": spec, "__objects__": [key], key + ".__metadata__": meta}, indent=4)


def create(f, name, arr):
    """require_dataset as cstorch's H5 writer calls it: LZ4 (h5py guesses chunks) unless 0-d."""
    kw = LZ4 if arr.ndim > 0 else {}
    ds = f.require_dataset(name, shape=arr.shape, dtype=arr.dtype, **kw)
    ds[...] = arr
    return ds


def write_v05(tensors, f):
    names = [k[len("model."):] if k.startswith("model.") else k for k, _, _, _ in tensors]
    keys = ["model." + n for n in names]
    tree = {"model": {n: "*" for n in names}}
    ts = treespec_dumps(dict_node(["model"], [dict_node(names, [LEAF] * len(names))]))
    spec = json.dumps([tree, ts], indent=4)
    f.attrs["__spec__"] = spec
    f.attrs["__version__"] = 0.5
    f.attrs["__cstorch_version__"] = "2.10.0"
    root = {}
    for key, (_, st, shape, arr) in zip(keys, tensors):
        meta = tensor_meta(st, shape)
        create(f, key, arr).attrs.update(meta)
        root[key + ".__metadata__"] = key_metadata(key, meta)
    root.update({"__spec__": spec, "__version__": 0.5, "__cstorch_version__": "2.10.0"})
    f.attrs.update(root)
    f.attrs["__SUCCESS__"] = True


def write_v04(tensors, f):
    f.attrs["__spec__"] = b"legacy spec: a dill pickle in real files, not readable here".hex()
    f.attrs["__version__"] = 0.4
    f.attrs["__cstorch_version__"] = "2.4.0"
    for key, st, _, arr in tensors:
        ds = create(f, quote(key, safe=""), arr)
        ds.attrs["__H5_TYPE__"] = "TorchTensorH5Type"
        ds.attrs["is_bfloat16"] = st == "BF16"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--format", choices=["0.5", "0.4"], default="0.5")
    ap.add_argument("--force", action="store_true", help="overwrite OUT")
    ap.add_argument("input")
    ap.add_argument("output")
    a = ap.parse_args()
    if os.path.exists(a.output) and not a.force:
        sys.exit(f"{a.output}: exists (use --force)")
    tensors = read_safetensors(a.input)
    tmp = "%s.%s.tmp" % (a.output, os.urandom(4).hex())
    try:
        with h5py.File(tmp, "w") as f:
            (write_v05 if a.format == "0.5" else write_v04)(tensors, f)
        os.replace(tmp, a.output)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


if __name__ == "__main__":
    main()
