#!/usr/bin/python3
"""cscs_case.py - CS <-> CS reference cases (tests/golden/cscs/, README there) as packed files.

  pack IN_DIR OUT.mdl [IN_DIR OUT.mdl ...]
                             IN_DIR/tree.json + model.safetensors -> a training checkpoint as
                             cstorch.save writes it (format 0.5, h5py + numpy): every leaf its own
                             key, and, as cstorch's id()-based aliasing does, every repeated None,
                             bool and small int (CPython caches -5..256) a LinkedObject to its first
                             occurrence, every repeated tensor name one too.
  check OUT.mdl OUT.yaml DIR [NAME] ...   (several quadruples: one "ok"/"not ok" line each, TAP)
                             read OUT.mdl the way cstorch.load does (treespec, per-key metadata,
                             LinkedObjects resolved) and compare with DIR/tree.json + model.safetensors
                             (structure, key order, int keys, tuples, every value; tensors bit for bit,
                             dtype and shape) and OUT.yaml with DIR/params.yaml as YAML mappings.
  chain OUT.mdl OUT.yaml CASE the same for a case the reference refuses (CASE/case.json "refused"):
                             the expectation is the chain of the reference's single steps from CASE/in
                             (each the case whose in/ is the previous out/); a step the reference does
                             not offer (past cs-2.5) or has no vector for from that input may only add
                             its __metadata__ record, and is allowed only where the reference shows that
                             step to be an identity on the params and model keys (or has no converter).
  support SUPPORT LIST RELS   every pair the reference offers per model (support.json) against
                             `ckconv list --releases` (LIST; aliases from RELS, releases.yaml): offered in one step, from the model's family
                             file where the reference has a model converter for the pair, the generic step
                             where it falls back; or refused by a step declared to have no rules yet
                             (printed, counted).
Prints the first differences and exits 1 when there is any.
"""
import json
import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("HDF5_PLUGIN_PATH", "/usr/lib/x86_64-linux-gnu/hdf5/serial/plugins")
import h5py  # noqa: E402
import numpy as np  # noqa: E402
import yaml  # noqa: E402
import make_cstorch_h5 as mc  # noqa: E402

TORCH_TO_ST = {v[1]: k for k, v in mc.DTYPES.items()}


class Tup(list):
    pass


class IntKeys(dict):
    pass


def from_json(v):
    """tree.json -> Python values: {"__intkeys__": d} a dict with int keys, {"__tuple__": l} a tuple."""
    if isinstance(v, dict):
        if list(v) == ["__intkeys__"]:
            return IntKeys((int(k), from_json(x)) for k, x in v["__intkeys__"].items())
        if list(v) == ["__tuple__"]:
            return Tup(from_json(x) for x in v["__tuple__"])
        return {k: from_json(x) for k, x in v.items()}
    if isinstance(v, list):
        return [from_json(x) for x in v]
    return v


def star(v):
    if isinstance(v, dict):
        return {str(k): star(x) for k, x in v.items()}
    if isinstance(v, list):
        return [star(x) for x in v]
    return "*"


def plain(key, om):
    return json.dumps({"__spec__": [{key: "*"}, mc.treespec_dumps(mc.dict_node([key], [mc.LEAF]))],
                       "__objects__": [key], key + ".__metadata__": om}, indent=4)


def pack(in_dir, out):
    tree = from_json(json.load(open(os.path.join(in_dir, "tree.json"))))
    tensors = {k: (st, arr) for k, st, _, arr in mc.read_safetensors(os.path.join(in_dir, "model.safetensors"))}
    first = {}  # identity as cstorch sees it -> first key
    with h5py.File(out + ".tmp", "w") as f:
        root = {}
        for key, v in mc.leaves(tree):
            ident = None
            if isinstance(v, str) and v.startswith("*"):
                ident = ("t", v[1:])
            elif v is None or isinstance(v, bool) or (isinstance(v, int) and -5 <= v <= 256):
                ident = ("v", type(v).__name__, v)
            if ident in first:
                root[key + ".__metadata__"] = plain(key, {"key": first[ident], "__LINKED__": True,
                                                          "__TYPE__": "LinkedObject", "__NONE__": True})
                continue
            if ident:
                first[ident] = key
            if isinstance(v, str) and v.startswith("*"):
                st, arr = tensors[v[1:]]
                meta = mc.tensor_meta(st, arr.shape)
                mc.create(f, key, arr).attrs.update(meta)
                root[key + ".__metadata__"] = plain(key, meta)
            elif v is None:
                root[key + ".__metadata__"] = plain(key, {"__TYPE__": "NoneSerializer", "__NONE__": True})
            elif isinstance(v, str):
                root[key + ".__metadata__"] = plain(key, {"string_value": v, "__TYPE__": "StringSerializer", "__NONE__": True})
            else:
                root[key + ".__metadata__"] = plain(key, {"scalar_value": v, "__TYPE__": "ScalarSerializer", "__NONE__": True})
        spec = json.dumps([star(tree), mc.treespec_dumps(mc.spec_of(tree, Tup))], indent=4)
        root.update({"__spec__": spec, "__version__": 0.5, "__cstorch_version__": "2.10.0"})
        f.attrs.update(root)
        f.attrs["__SUCCESS__"] = True
    os.replace(out + ".tmp", out)


class T:
    """a tensor as cstorch.load gives it: dtype name, shape, raw bytes"""

    def __init__(self, dtype, shape, data):
        self.dtype, self.shape, self.data = dtype, list(shape), data

    def __eq__(self, o):
        return isinstance(o, T) and (self.dtype, self.shape, self.data) == (o.dtype, o.shape, o.data)

    def __repr__(self):
        return f"tensor({self.dtype}, {self.shape})"


def unspec(node, vals):
    if node["type"] is None:
        return next(vals)
    kids = [unspec(c, vals) for c in node["children_spec"]]
    if node["type"] in ("builtins.dict", "collections.OrderedDict"):
        keys = json.loads(node["context"])
        d = IntKeys() if any(isinstance(k, int) for k in keys) else {}
        d.update(zip(keys, kids))
        return d
    return Tup(kids) if node["type"] == "builtins.tuple" else kids


def load(path):
    """cstorch.load's view of a format-0.5 file (notes/cstorch-h5.md §5.2)."""
    with h5py.File(path, "r") as f:
        a = f.attrs
        assert a["__version__"] >= 0.5 and a["__SUCCESS__"]
        spec = json.loads(a["__spec__"])
        ts = json.loads(spec[1])[1]
        keys = [k for k, _ in mc.leaves(unspec(ts, iter(range(10 ** 9))))]
        vals, links = {}, {}
        for k in keys:
            m = json.loads(a[k + ".__metadata__"])
            assert m["__objects__"] == [k], k
            om = m[k + ".__metadata__"]
            ty = om["__TYPE__"]
            if om.get("__LINKED__"):
                links[k] = om["key"]
            elif ty == "TorchTensorSerializer":
                ds = f[k]
                assert ds.attrs["__NUMPY__"], k
                arr = ds[()]
                st = TORCH_TO_ST[om["dtypes"][0]]
                arr = np.asarray(arr).astype(np.dtype(mc.DTYPES[st][0]))
                vals[k] = T(st, om["shapes"][0], arr.tobytes())
                assert list(arr.shape) == om["shapes"][0], k
            elif ty == "ScalarSerializer":
                vals[k] = om["scalar_value"]
            elif ty == "StringSerializer":
                vals[k] = om["string_value"]
            elif ty == "NoneSerializer":
                vals[k] = None
            else:
                raise AssertionError(f"{k}: unexpected {ty}")
        for k, t in links.items():
            vals[k] = vals[t]
        return unspec(ts, iter(vals[k] for k in keys))


def expected(d):
    tree = from_json(json.load(open(os.path.join(d, "tree.json"))))
    ts = {k: T(st, shape, arr.tobytes()) for k, st, shape, arr in mc.read_safetensors(os.path.join(d, "model.safetensors"))}

    def sub(v):
        if isinstance(v, IntKeys):
            return IntKeys((k, sub(x)) for k, x in v.items())
        if isinstance(v, dict):
            return {k: sub(x) for k, x in v.items()}
        if isinstance(v, Tup):
            return Tup(sub(x) for x in v)
        if isinstance(v, list):
            return [sub(x) for x in v]
        if isinstance(v, str) and v.startswith("*"):
            return ts[v[1:]]
        return v
    return sub(tree)


def same(a, b, path, out):
    if len(out) > 20:
        return
    if type(a) != type(b) and not (isinstance(a, float) and isinstance(b, float)):
        if not (type(a) in (dict, IntKeys) and type(b) in (dict, IntKeys) and not a and not b):
            out.append(f"{path}: {type(a).__name__} {a!r:.80} != expected {type(b).__name__} {b!r:.80}")
            return
    if isinstance(a, dict):
        unordered = ".params" in path or path.startswith("params")  # a mapping's order is the writer's
        if (sorted(map(str, a)) != sorted(map(str, b))) if unordered else list(a) != list(b):
            out.append(f"{path}: keys {list(a)!r:.300} != expected {list(b)!r:.300}")
        for k in a:
            if k in b:
                same(a[k], b[k], f"{path}.{k}", out)
    elif isinstance(a, list):
        if len(a) != len(b):
            out.append(f"{path}: {len(a)} items != expected {len(b)}")
        for i, (x, y) in enumerate(zip(a, b)):
            same(x, y, f"{path}.{i}", out)
    elif isinstance(a, float) and math.isnan(a) and math.isnan(b):
        pass
    elif a != b:
        out.append(f"{path}: {a!r:.80} != expected {b!r:.80}")


RELEASES = ["cs-1.6", "cs-1.7", "cs-1.8", "cs-1.9", "cs-2.0", "cs-2.1", "cs-2.2", "cs-2.3", "cs-2.4", "cs-2.5",
            "cs-2.6", "cs-2.7", "cs-2.8", "cs-2.9"]


def chain(case):
    """(directory of the expected out/, [versions of the extra records])"""
    root = os.path.dirname(os.path.abspath(case))
    c = json.load(open(os.path.join(case, "case.json")))
    cases = {}
    for n in sorted(os.listdir(root)):
        f = os.path.join(root, n, "case.json")
        if os.path.isfile(f) and os.path.isdir(os.path.join(root, n, "out")):
            cases[n] = json.load(open(f))
    a, b = RELEASES.index(c["src_fmt"]), RELEASES.index(c["tgt_fmt"])
    cur, extras = os.path.join(case, "in"), []
    for i in range(a, b, 1 if b > a else -1):
        s, t = RELEASES[i], RELEASES[i + (1 if b > a else -1)]
        alike = [n for n, x in cases.items() if (x["model"], x["src_fmt"], x["tgt_fmt"]) == (c["model"], s, t)]
        hit = [n for n in alike if not extras and open(os.path.join(root, n, "in", "tree.json"), "rb").read() ==
               open(os.path.join(cur, "tree.json"), "rb").read()]
        if hit:
            cur = os.path.join(root, hit[0], "out")
            continue
        for n in alike:
            pin, pout = (yaml.safe_load(open(os.path.join(root, n, d, "params.yaml"))) for d in ("in", "out"))
            kin, kout = (list(json.load(open(os.path.join(root, n, d, "tree.json")))["model"]) for d in ("in", "out"))
            if pin != pout or kin != kout:
                raise SystemExit(f"{case}: no expectation for step {s} -> {t} (the reference's {n} changes the checkpoint)")
        if not alike and min(i, i + (1 if b > a else -1)) < RELEASES.index("cs-2.5"):
            raise SystemExit(f"{case}: no expectation for step {s} -> {t}")
        extras.append(t[3:] + ".0")
    return cur, extras


def check(mdl, params, d, extras=()):
    out = []
    got, want = load(mdl), expected(d)
    q = yaml.safe_load(open(os.path.join(d, "params.yaml")))
    for v in extras:
        want["__metadata__"].append({"version": v, "model_name": "", "params": q})
    same(got, want, "", out)
    p = yaml.safe_load(open(params))
    same(p, q, "params", out)
    for line in out[:20]:
        print(line)
    return 1 if out else 0


def support(sup, lst, rel):
    offered, out, refused = {}, [], []
    canon = {a: m for m, v in yaml.safe_load(open(rel))["models"].items() for a in v.get("aliases", [])}
    for line in open(lst):
        head, _, steps = line.rstrip("\n").partition(": ")
        offered[head] = steps
    for model, pairs in json.load(open(sup)).items():
        for pair, conv in pairs.items():
            a, b = pair.split("->")
            got = offered.get(f"{canon.get(model, model)} {a} -> {b}")
            if got is None:
                out.append(f"{model} {pair}: not listed")
            elif got.startswith("refused: ") and "has no rules yet" in got:
                refused.append(f"{model} {pair}")
            elif got.startswith("refused"):
                out.append(f"{model} {pair}: {got}")
            elif "," in got:
                out.append(f"{model} {pair}: {got} (the reference converts it in one step: {conv})")
            elif ("(fallback)" in conv) != ("(" not in got):
                out.append(f"{model} {pair}: {got} (the reference uses {conv})")
    for line in out[:20]:
        print(line)
    print(f"# {len(refused)} pairs refused until their rules exist: {' '.join(refused[:6])} ...")
    return 1 if out else 0


def main(argv):
    if len(argv) == 4 and argv[0] == "support":
        return support(argv[1], argv[2], argv[3])
    if len(argv) >= 3 and len(argv) % 2 == 1 and argv[0] == "pack":
        for i in range(1, len(argv), 2):
            pack(argv[i], argv[i + 1])
        return 0
    if len(argv) == 4 and argv[0] == "check":
        return check(argv[1], argv[2], argv[3])
    if len(argv) > 5 and (len(argv) - 1) % 5 == 0 and argv[0] in ("checks",):
        bad = 0
        for i in range(1, len(argv), 5):
            kind, mdl, yml, d, name = argv[i:i + 5]
            try:
                if kind == "chain":
                    dd, extras = chain(d)
                    rc = check(mdl, yml, dd, extras)
                else:
                    rc = check(mdl, yml, d)
            except (Exception, SystemExit) as x:  # one case's failure is that case's "not ok"
                print(f"#   {type(x).__name__}: {x}")
                rc = 1
            print(("ok - " if rc == 0 else "not ok - ") + name)
            bad += rc != 0
        return 0
    if len(argv) == 4 and argv[0] == "chain":
        d, extras = chain(argv[3])
        return check(argv[1], argv[2], d, extras)
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
