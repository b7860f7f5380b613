"""Safetensors by hand, for the fixture generators in tools/ (numpy only; no ckconv code).

  encode({name: (dtype, array)}) -> bytes   names sorted, data packed, header padded to 8 as
                                            Python's safetensors writes it
  write(path, {name: (dtype, array)})
  write_f32(path, {name: array})            every tensor as F32 (the common case of a fixture)
  write_layout(path, [(name, shape)], dtype, data)  sizes only, in this order (memory tests' big models)
  read(path) -> {name: (dtype, array)}      one file
  read_dir(path) -> {name: (dtype, array)}  every *.safetensors file of a directory (shards)
dtype is the safetensors string ("F32", "BF16", ...); BF16 arrays are uint16 bit patterns.
"""
import json, os, struct
import numpy as np

NUMPY = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "BF16": "<u2", "I64": "<i8", "I32": "<i4",
         "I16": "<i2", "I8": "i1", "U8": "u1", "BOOL": "u1"}


def header(entries):
    """the length prefix and header of tensors [(name, dtype, shape, data bytes)] stored in this order;
    returns (those bytes, the data size)"""
    hdr, off = {"__metadata__": {"format": "pt"}}, 0
    for name, dt, shape, n in entries:
        hdr[name] = {"dtype": dt, "shape": list(shape), "data_offsets": [off, off + n]}
        off += n
    h = json.dumps(hdr, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)   # the data starts 8-aligned
    return struct.pack("<Q", len(h)) + h, off


def encode(ts):
    blobs = {name: np.ascontiguousarray(ts[name][1], dtype=NUMPY[ts[name][0]]).tobytes() for name in sorted(ts)}
    head, _ = header([(name, ts[name][0], np.shape(ts[name][1]), len(b)) for name, b in blobs.items()])
    return head + b"".join(blobs.values())


def write_layout(path, shapes, dtype="BF16", data=None):
    """tensors of these [(name, shape)], stored in this order, none built in memory: the data is
    data(n bytes) (e.g. os.urandom), else zeros (a hole the file system need not store)"""
    size = np.dtype(NUMPY[dtype]).itemsize
    head, n = header([(name, dtype, shape, size * int(np.prod(shape, dtype=np.int64))) for name, shape in shapes])
    with open(path, "wb") as f:
        f.write(head)
        if data:
            f.write(data(n))
        f.truncate(len(head) + n)


def write(path, ts):
    with open(path, "wb") as f:
        f.write(encode(ts))


def write_f32(path, arrays):
    write(path, {k: ("F32", a) for k, a in arrays.items()})


def read(path):
    data = open(path, "rb").read()
    n = struct.unpack("<Q", data[:8])[0]
    out = {}
    for k, v in json.loads(data[8:8 + n]).items():
        if k == "__metadata__":
            continue
        a, b = v["data_offsets"]
        out[k] = (v["dtype"], np.frombuffer(data[8 + n + a:8 + n + b], NUMPY[v["dtype"]]).reshape(v["shape"]))
    return out


def read_dir(path):
    out = {}
    for f in sorted(os.listdir(path)):
        if f.endswith(".safetensors"):
            out.update(read(os.path.join(path, f)))
    return out
