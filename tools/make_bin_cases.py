#!/usr/bin/python3
"""Writes PyTorch-format .bin test files without PyTorch: good ones (strided and offset views,
shared storages, sharded with an index) with the expected tensors as safetensors, and broken or
hostile ones. The pickles come from Python's own pickler, with stand-ins for torch's globals
registered under torch's module names, so the opcodes are the ones torch.save emits.

  make_bin_cases.py OUTDIR
"""
import collections, io, json, os, pickle, struct, sys, types, zipfile
import numpy as np

torch = types.ModuleType("torch")
utils = types.ModuleType("torch._utils")
sys.modules["torch"], sys.modules["torch._utils"] = torch, utils


def _rebuild_tensor_v2(*a):
    raise AssertionError("never called: these pickles are only written")


def _rebuild_parameter(*a):
    raise AssertionError("never called")


for f in (_rebuild_tensor_v2, _rebuild_parameter):
    f.__module__ = "torch._utils"
    setattr(utils, f.__name__, f)
STORAGES = {np.dtype("<f4"): "FloatStorage", np.dtype("<f2"): "HalfStorage", np.dtype("<i8"): "LongStorage",
            np.dtype("u1"): "ByteStorage", np.dtype("<u2"): "BFloat16Storage", np.dtype("bool"): "BoolStorage"}
ST_NAME = {"FloatStorage": "F32", "HalfStorage": "F16", "LongStorage": "I64", "ByteStorage": "U8",
           "BFloat16Storage": "BF16", "BoolStorage": "BOOL"}
for name in list(STORAGES.values()) + ["ComplexFloatStorage"]:
    setattr(torch, name, type(name, (), {"__module__": "torch"}))


class Storage:
    def __init__(self, key, data, type_name=None):
        self.key, self.data = key, np.ascontiguousarray(data).reshape(-1)
        self.type = getattr(torch, type_name or STORAGES[self.data.dtype])
        self.numel = self.data.size


class View:
    """A tensor: storage, offset, size, stride (elements), pickled as torch pickles one."""
    def __init__(self, storage, offset, size, stride, param=False):
        self.s, self.offset, self.size, self.stride, self.param = storage, offset, size, stride, param

    def __reduce__(self):
        t = (_rebuild_tensor_v2, (self.s, self.offset, tuple(self.size), tuple(self.stride), False,
                                  collections.OrderedDict()))
        if not self.param:
            return t
        return (_rebuild_parameter, (_Inner(t), False, collections.OrderedDict()))

    def expected(self):
        it = self.s.data.itemsize
        v = np.lib.stride_tricks.as_strided(self.s.data[self.offset:], shape=tuple(self.size),
                                            strides=tuple(x * it for x in self.stride))
        return ST_NAME[self.s.type.__name__], list(self.size), np.ascontiguousarray(v).tobytes()


class _Inner:
    def __init__(self, t):
        self.t = t

    def __reduce__(self):
        return self.t


class Pickler(pickle.Pickler):
    def persistent_id(self, obj):
        if isinstance(obj, Storage):
            return ("storage", obj.type, obj.key, "cpu", obj.numel)
        return None


def pickle_bytes(state):
    b = io.BytesIO()
    Pickler(b, protocol=2).dump(state)
    return b.getvalue()


def write_bin(path, state, storages, prefix="archive", pkl=None, compress=False, byteorder=b"little",
              skip=()):
    mode = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    with zipfile.ZipFile(path, "w", mode) as z:
        z.writestr(f"{prefix}/data.pkl", pkl if pkl is not None else pickle_bytes(state))
        if byteorder is not None:
            z.writestr(f"{prefix}/byteorder", byteorder)
        for s in storages:
            if s.key not in skip:
                z.writestr(f"{prefix}/data/{s.key}", s.data.tobytes())
        z.writestr(f"{prefix}/version", b"3\n")


def write_st(path, views):
    hdr, body = {}, b""
    for k, v in views.items():
        dt, shape, data = v.expected()
        hdr[k] = {"dtype": dt, "shape": shape, "data_offsets": [len(body), len(body) + len(data)]}
        body += data
    h = json.dumps(hdr).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + body)


def good(out):
    rng = np.random.default_rng(7)
    a = Storage("0", rng.standard_normal(24).astype("<f4"))
    b = Storage("1", rng.standard_normal(12).astype("<f2"))
    c = Storage("2", np.arange(5, dtype="<i8"))
    d = Storage("3", rng.integers(0, 65535, 6).astype("<u2"))  # bf16 bit patterns
    e = Storage("4", np.array([True, False, True]))
    views = collections.OrderedDict([
        ("w", View(a, 0, [4, 6], [6, 1], param=True)),
        ("w_t", View(a, 0, [6, 4], [1, 6])),              # a transpose sharing w's storage
        ("w_rows", View(a, 6, [2, 6], [6, 1])),           # an offset slice
        ("w_cols", View(a, 1, [4, 2], [6, 3])),           # every third column from column 1
        ("h", View(b, 0, [3, 4], [4, 1])),
        ("h_bcast", View(b, 2, [3, 2], [0, 1])),          # stride 0 (expand)
        ("i", View(c, 0, [5], [1])),
        ("bf", View(d, 0, [2, 3], [3, 1])),
        ("mask", View(e, 0, [3], [1])),
        ("empty", View(c, 5, [0, 3], [3, 1])),
        ("scalar", View(c, 4, [], [])),
    ])
    write_bin(f"{out}/good.bin", views, [a, b, c, d, e])
    write_st(f"{out}/good.safetensors", views)
    # the same tensors split over two shards with an index, as from_pretrained reads them
    os.makedirs(f"{out}/sharded", exist_ok=True)
    first = collections.OrderedDict((k, views[k]) for k in ("w", "w_t", "w_rows", "w_cols"))
    second = collections.OrderedDict((k, v) for k, v in views.items() if k not in first)
    write_bin(f"{out}/sharded/pytorch_model-00001-of-00002.bin", first, [a])
    write_bin(f"{out}/sharded/pytorch_model-00002-of-00002.bin", second, [b, c, d, e])
    wm = {k: "pytorch_model-00001-of-00002.bin" for k in first}
    wm.update({k: "pytorch_model-00002-of-00002.bin" for k in second})
    with open(f"{out}/sharded/pytorch_model.bin.index.json", "w") as f:
        json.dump({"metadata": {"total_size": 0}, "weight_map": wm}, f, indent=2)


def bad(out):
    x = Storage("0", np.zeros(6, dtype="<f4"))
    ok = {"w": View(x, 0, [2, 3], [3, 1])}
    p = pickle_bytes(ok)
    # a pickle that would run a shell command: GLOBAL os.system + REDUCE, stored as data.pkl
    evil = b"\x80\x02cos\nsystem\nX\x19\x00\x00\x00touch /tmp/ckconv-pwned-1\x85R."
    cases = {
        "global-os-system": dict(pkl=evil),
        "global-eval-in-dict": dict(pkl=p[:2] + b"}X\x01\x00\x00\x00acbuiltins\neval\nX\x04\x00\x00\x001+1\x85Rs."),
        "truncated-pickle": dict(pkl=p[: len(p) // 2]),
        "offset-past-end": dict(state={"w": View(x, 4, [2, 3], [3, 1])}),
        "missing-storage": dict(skip=("0",)),
        "compressed": dict(compress=True),
        "big-endian": dict(byteorder=b"big"),
        "complex-storage": dict(state={"w": View(Storage("0", np.zeros(6, "<f4"), "ComplexFloatStorage"),
                                                 0, [2, 3], [3, 1])}),
    }
    for name, kw in cases.items():
        state = kw.pop("state", ok)
        write_bin(f"{out}/{name}.bin", state if "pkl" in kw else state, [x], **kw)
    # storage member shorter than the pickle declares
    with zipfile.ZipFile(f"{out}/short-storage.bin", "w") as z:
        z.writestr("archive/data.pkl", p)
        z.writestr("archive/data/0", b"\0" * 20)
    # no data.pkl at all, and a file that is not a zip
    with zipfile.ZipFile(f"{out}/no-pickle.bin", "w") as z:
        z.writestr("archive/data/0", b"\0" * 24)
    with open(f"{out}/not-zip.bin", "wb") as f:
        f.write(b"\x80\x02}q\x00.")  # a bare pickle: torch.save's legacy format
    good_bytes = open(f"{out}/compressed.bin", "rb").read()
    with open(f"{out}/truncated-zip.bin", "wb") as f:
        f.write(good_bytes[: len(good_bytes) - 30])


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    good(out)
    bad(out)


if __name__ == "__main__":
    main()
