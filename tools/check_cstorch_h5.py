#!/usr/bin/python3
"""check_cstorch_h5.py - check with h5py that a packed checkpoint (format 0.5) is laid out the way
cstorch 2.9/2.10 writes and loads it: root attributes and their HDF5 types, __spec__ and every
"<key>.__metadata__" byte-identical to what Python's json.dumps would print, and each tensor
dataset's attributes exactly typed (notes/cstorch-h5.md §3-§5, schemas/packed-h5.md).
Prints one line per problem and exits 1 if there is any.

Usage: check_cstorch_h5.py FILE.mdl...
"""
import json
import os
import sys
from collections import OrderedDict

os.environ.setdefault("HDF5_PLUGIN_PATH", "/usr/lib/x86_64-linux-gnu/hdf5/serial/plugins")
import numpy as np  # noqa: E402
import h5py  # noqa: E402

LEAF = {"type": None, "context": None, "children_spec": []}
TORCH = {  # torch dtype -> (numpy dtype h5py reads back, RtFx code)
    "torch.bool": (np.bool_, 1), "torch.uint8": (np.uint8, 6), "torch.int8": (np.int8, 0),
    "torch.int16": (np.int16, 3), "torch.uint16": (np.uint16, 7), "torch.int32": (np.int32, 4),
    "torch.uint32": (np.uint32, 8), "torch.int64": (np.int64, 5), "torch.uint64": (np.uint64, 9),
    "torch.float16": (np.float16, 10), "torch.bfloat16": (np.int16, 15),
    "torch.float32": (np.float32, 11), "torch.float64": (np.float64, 12),
}
ATTRS = ["__TORCH__", "shapes", "dtypes", "rtfx_dtypes", "__TYPE__", "__NUMPY__", "compressed"]


def treespec(tree):
    """The treespec node torch builds for a tree of dicts with "*" leaves."""
    if isinstance(tree, dict):
        keys = list(tree)
        return {"type": "builtins.dict", "context": json.dumps(keys),
                "children_spec": [treespec(tree[k]) for k in keys]}
    return LEAF


def flatten(tree, prefix=()):
    if isinstance(tree, dict):
        for k, v in tree.items():
            yield from flatten(v, prefix + (str(k),))
    else:
        yield ".".join(prefix)


def is_vlen_utf8(aid):
    info = h5py.check_string_dtype(aid.dtype)
    return info is not None and info.length is None and info.encoding == "utf-8"


def is_bool(aid):
    return aid.dtype == np.bool_


def check(path):
    bad = []

    def need(cond, msg):
        if not cond:
            bad.append(f"{path}: {msg}")
        return cond

    with h5py.File(path, "r") as f:
        a = f.attrs
        for name in ("__spec__", "__version__", "__cstorch_version__", "__SUCCESS__"):
            if not need(name in a, f"root attribute {name} missing"):
                return bad
        need(a.get_id("__version__").dtype == np.float64 and a.get_id("__version__").shape == (), "__version__ not a scalar f64")
        need(a["__version__"] == 0.5, f"__version__ is {a['__version__']}")
        need(is_bool(a.get_id("__SUCCESS__")) and bool(a["__SUCCESS__"]), "__SUCCESS__ not the bool enum TRUE")
        for name in ("__spec__", "__cstorch_version__") + (("__ckconv__",) if "__ckconv__" in a else ()):
            need(is_vlen_utf8(a.get_id(name)) and a.get_id(name).shape == (), f"{name} not a scalar vlen UTF-8 string")
        if "__ckconv__" in a:
            try:
                json.loads(a["__ckconv__"])
            except ValueError as ex:
                need(False, f"__ckconv__ is not JSON: {ex}")
        spec_text = a["__spec__"]
        spec = json.loads(spec_text, object_pairs_hook=OrderedDict)
        tree = spec[0]
        ts = json.dumps([1, treespec(tree)])
        need(spec[1] == ts, "__spec__[1] differs from torch's treespec_dumps of __spec__[0]")
        need(spec_text == json.dumps([tree, ts], indent=4), "__spec__ text differs from json.dumps(indent=4)")
        for key in flatten(tree):
            mname = key + ".__metadata__"
            if not need(mname in a, f"root attribute {mname} missing"):
                continue
            need(is_vlen_utf8(a.get_id(mname)), f"{mname} not a vlen UTF-8 string")
            if not need(key in f and isinstance(f[key], h5py.Dataset), f"dataset {key} missing"):
                continue
            ds = f[key]
            m = json.loads(a[mname], object_pairs_hook=OrderedDict)
            meta = m.get(mname, {})
            dt = (meta.get("dtypes") or ["?"])[0]
            npdt, rtfx = TORCH.get(dt, (None, None))
            if not need(npdt is not None, f"{key}: unknown dtypes {dt!r}"):
                continue
            want = OrderedDict([("__TORCH__", True), ("shapes", [list(ds.shape)]), ("dtypes", [dt]),
                                ("rtfx_dtypes", [rtfx]), ("__TYPE__", "TorchTensorSerializer"),
                                ("__NUMPY__", True), ("compressed", False)])
            spec1 = json.dumps([1, {"type": "builtins.dict", "context": json.dumps([key]), "children_spec": [LEAF]}])
            text = json.dumps({"__spec__": [{key: "*"}, spec1], "__objects__": [key], mname: want}, indent=4)
            need(a[mname] == text, f"{mname} differs from what cstorch writes")
            need(ds.dtype == npdt, f"{key}: dataset dtype {ds.dtype}, expected {np.dtype(npdt)} for {dt}")
            # cstorch's attributes, plus ckconv's integrity record (ignored by cstorch.load)
            extra = sorted(set(ds.attrs) - set(ATTRS))
            need(all(n in ds.attrs for n in ATTRS) and extra in ([], ["ckconv_xxh64"]), f"{key}: dataset attributes {sorted(ds.attrs)}")
            if extra:
                x = ds.attrs.get_id("ckconv_xxh64")
                need(x.get_type().get_size() == 8 and x.shape == (), f"{key}: ckconv_xxh64 is not a scalar 64-bit integer")
            if any(n not in ds.attrs for n in ATTRS):
                continue
            da = ds.attrs
            for n in ("__TORCH__", "__NUMPY__", "compressed"):
                need(is_bool(da.get_id(n)) and da.get_id(n).shape == () and bool(da[n]) == (n != "compressed"),
                     f"{key}: attribute {n} not the bool enum {n != 'compressed'}")
            sid = da.get_id("shapes")
            if ds.ndim:
                need(sid.dtype == np.int64 and sid.shape == (1, ds.ndim) and list(da["shapes"][0]) == list(ds.shape),
                     f"{key}: shapes attribute {sid.dtype} {sid.shape}")
            else:
                need(sid.dtype == np.float64 and sid.shape == (1, 0), f"{key}: 0-d shapes attribute {sid.dtype} {sid.shape}")
            did = da.get_id("dtypes")
            need(is_vlen_utf8(did) and did.shape == (1,) and list(da["dtypes"]) == [dt], f"{key}: dtypes attribute")
            rid = da.get_id("rtfx_dtypes")
            need(rid.dtype == np.int64 and rid.shape == (1,) and int(da["rtfx_dtypes"][0]) == rtfx, f"{key}: rtfx_dtypes attribute")
            tid = da.get_id("__TYPE__")
            need(is_vlen_utf8(tid) and tid.shape == () and da["__TYPE__"] == "TorchTensorSerializer", f"{key}: __TYPE__ attribute")
            arr = ds[()]  # what load reads (LZ4 decoded when present)
            need(np.shape(arr) == ds.shape, f"{key}: read back shape {np.shape(arr)}")
    return bad


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    bad = []
    for p in sys.argv[1:]:
        try:
            bad += check(p)
        except Exception as ex:  # any h5py/JSON failure is a finding
            bad.append(f"{p}: {type(ex).__name__}: {ex}")
    for b in bad:
        print(b)
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
