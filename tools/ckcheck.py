#!/usr/bin/python3
"""Independent checks for the test suite (numpy, h5py, PyYAML; no ckconv code).

  ckcheck.py mdl-vs-st OUT.mdl REF.safetensors [--random K1,K2]
                                                  packed file holds exactly REF's tensors
                                                  (--random: those keys compare dtype and shape only)
  ckcheck.py mdl-vs-mdl A.mdl B.mdl               two packed files hold the same tensors
  ckcheck.py mdl-same A.mdl B.mdl                 ... and the same attributes, root and per dataset
                                                  (what cstorch.load reads; the HDF5 layout may differ)
  ckcheck.py st-vs-st A B [--common]              safetensors (file/dir/index) equal; --common: shared keys only
  ckcheck.py bin-vs-st BIN ST                      PyTorch .bin (file/dir/index) holds ST's tensors
  ckcheck.py yaml-eq A B                          both YAML files parse to the same mapping
  ckcheck.py json-superset OUT REF [--override JSON]
                                                  OUT has every key of REF with the same value
                                                  (--override: REF's values corrected first)
Prints one line and exits 0 on success, 1 with the first difference otherwise.
"""
import json, os, struct, sys

ST_DT = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "BF16": "<u2", "I64": "<i8", "I32": "<i4",
         "I16": "<i2", "I8": "i1", "U8": "u1", "BOOL": "u1", "U16": "<u2", "U32": "<u4", "U64": "<u8"}
TORCH = {"torch.float64": "F64", "torch.float32": "F32", "torch.float16": "F16", "torch.bfloat16": "BF16",
         "torch.int64": "I64", "torch.int32": "I32", "torch.int16": "I16", "torch.int8": "I8",
         "torch.uint8": "U8", "torch.bool": "BOOL"}


def st_file(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        hdr = json.loads(f.read(n))
        data = f.read()
    out = {}
    for k, v in hdr.items():
        if k == "__metadata__":
            continue
        a, b = v["data_offsets"]
        out[k] = (v["dtype"], list(v["shape"]), data[a:b])
    return out


def load_set(path, single, index, load_file):
    """A file, an index of shards, or a directory holding either (index preferred)."""
    if os.path.isdir(path):
        idx = os.path.join(path, index)
        path = idx if os.path.exists(idx) else os.path.join(path, single)
    if path.endswith(".index.json"):
        wm = json.load(open(path))["weight_map"]
        out = {}
        for shard in sorted(set(wm.values())):
            out.update(load_file(os.path.join(os.path.dirname(path), shard)))
        return out
    return load_file(path)


def st_load(path):
    return load_set(path, "model.safetensors", "model.safetensors.index.json", st_file)


STORAGE = {"FloatStorage": ("F32", "<f4"), "DoubleStorage": ("F64", "<f8"), "HalfStorage": ("F16", "<f2"),
           "BFloat16Storage": ("BF16", "<u2"), "LongStorage": ("I64", "<i8"), "IntStorage": ("I32", "<i4"),
           "ShortStorage": ("I16", "<i2"), "CharStorage": ("I8", "i1"), "ByteStorage": ("U8", "u1"),
           "BoolStorage": ("BOOL", "u1")}


def bin_file(path):
    """torch.save zip read with Python's pickle, globals mapped to plain functions (no torch)."""
    import pickle, zipfile
    import numpy as np
    z = zipfile.ZipFile(path)
    pkl = [n for n in z.namelist() if n.endswith("/data.pkl") and n.count("/") == 1][0]
    prefix = pkl.split("/")[0]

    def rebuild(storage, offset, size, stride, *rest):
        st, raw = storage
        itemsize = np.dtype(STORAGE[st][1]).itemsize
        arr = np.frombuffer(raw, dtype=STORAGE[st][1])
        view = np.lib.stride_tricks.as_strided(arr[offset:], shape=tuple(size),
                                               strides=tuple(s * itemsize for s in stride))
        return (STORAGE[st][0], list(size), np.ascontiguousarray(view).tobytes())

    class U(pickle.Unpickler):
        def find_class(self, mod, name):
            if (mod, name) == ("collections", "OrderedDict"):
                return dict
            if (mod, name) == ("torch._utils", "_rebuild_tensor_v2"):
                return rebuild
            if (mod, name) == ("torch._utils", "_rebuild_parameter"):
                return lambda t, *rest: t
            if mod == "torch" and name in STORAGE:
                return name
            raise pickle.UnpicklingError(f"global {mod}.{name}")

        def persistent_load(self, pid):
            return (pid[1], z.read(f"{prefix}/data/{pid[2]}"))

    import io
    return U(io.BytesIO(z.read(pkl))).load()


def bin_load(path):
    return load_set(path, "pytorch_model.bin", "pytorch_model.bin.index.json", bin_file)


def mdl_load(path):
    import h5py
    out = {}
    with h5py.File(path, "r") as f:
        assert bool(f.attrs["__SUCCESS__"]), "__SUCCESS__ not true"
        assert float(f.attrs["__version__"]) == 0.5, "version"
        for k in f.keys():
            d = f[k]
            meta = json.loads(f.attrs[k + ".__metadata__"])[k + ".__metadata__"]
            dt = TORCH[meta["dtypes"][0]]
            out[k] = (dt, list(meta["shapes"][0]) if d.shape != () else [], d[()].tobytes())
            assert list(d.shape) == out[k][1], f"{k}: dataset shape {d.shape} vs metadata {out[k][1]}"
    return out


def mdl_attrs(path):
    """{object name ("/" the root): {attribute: value as JSON text}} of a packed file."""
    import h5py, numpy as np

    def norm(v):
        v = v.decode() if isinstance(v, bytes) else v
        return json.dumps(v.tolist() if isinstance(v, np.ndarray) else v.item() if isinstance(v, np.generic) else v)

    out = {}
    with h5py.File(path, "r") as f:
        out["/"] = {k: norm(v) for k, v in f.attrs.items()}
        f.visititems(lambda n, o: out.__setitem__(n, {k: norm(v) for k, v in o.attrs.items()}))
    return out


def attrs_differ(a, b):
    for n in sorted(set(a) | set(b)):
        if a.get(n) != b.get(n):
            x, y = a.get(n) or {}, b.get(n) or {}
            k = sorted(k for k in set(x) | set(y) if x.get(k) != y.get(k))
            return f"{n}: attributes differ: {k[:5]}" if k else f"{n}: only in one file"
    return None


def compare(a, b, common=False, random=()):
    """random: keys the reference initialises at random (headless LM heads): dtype and shape only."""
    if not common:
        if set(a) != set(b):
            return f"key sets differ: only in first {sorted(set(a) - set(b))[:5]}, only in second {sorted(set(b) - set(a))[:5]}"
    keys = sorted(set(a) & set(b))
    if not keys:
        return "no common keys"
    for k in keys:
        if a[k][0] != b[k][0] or a[k][1] != b[k][1]:
            return f"{k}: {a[k][0]} {a[k][1]} vs {b[k][0]} {b[k][1]}"
        if a[k][2] != b[k][2] and k not in random:
            return f"{k}: bytes differ"
    return None


def opt(argv, name):
    """The value after --name, or None."""
    return argv[argv.index(name) + 1] if name in argv else None


def main(argv):
    cmd = argv[1]
    random = set(filter(None, (opt(argv, "--random") or "").split(",")))
    if cmd == "mdl-vs-mdl":
        err = compare(mdl_load(argv[2]), mdl_load(argv[3]))
    elif cmd == "mdl-same":
        err = compare(mdl_load(argv[2]), mdl_load(argv[3])) or attrs_differ(mdl_attrs(argv[2]), mdl_attrs(argv[3]))
    elif cmd == "mdl-vs-st":
        err = compare(mdl_load(argv[2]), st_load(argv[3]), random=random)
    elif cmd == "st-vs-st":
        a, b = st_load(argv[2]), st_load(argv[3])
        if opt(argv, "--lossy"):  # leave out the keys where this checkpoint (the reference's own
            ref = st_load(opt(argv, "--lossy"))  # round trip) differs from B: lossy by design (Gemma 2's w+1-1)
            for k in [k for k in b if k in ref and ref[k] != b[k]]:
                a.pop(k, None), b.pop(k)
        err = compare(a, b, "--common" in argv)
    elif cmd == "bin-vs-st":
        err = compare(bin_load(argv[2]), st_load(argv[3]))
    elif cmd == "yaml-eq":
        import yaml
        a, b = yaml.safe_load(open(argv[2])), yaml.safe_load(open(argv[3]))
        err = None if a == b else f"YAML differs:\n{json.dumps(a, sort_keys=True)}\n{json.dumps(b, sort_keys=True)}"
    elif cmd == "json-superset":
        a, b = json.load(open(argv[2])), json.load(open(argv[3]))
        b.update(json.loads(opt(argv, "--override") or "{}"))
        bad = [k for k in b if k not in a or a[k] != b[k]]
        err = None if not bad else "; ".join(f"{k}: {a.get(k, '<missing>')!r} != {b[k]!r}" for k in bad)
    else:
        err = f"unknown command {cmd}"
    if err:
        print(err)
        return 1
    print("same")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
