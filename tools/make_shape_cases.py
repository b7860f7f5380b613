#!/usr/bin/python3
"""make_shape_cases.py - write the shape and amplification cases of the bad-input corpus,
tests/bad/2NN-name/ (layout: tests/bad/README.md; tests/e2e/bad_corpus.sh runs them).

Each case is a consistent tiny model with one tensor whose shape disagrees with what its config
implies (the rules' `shape:` checks), or a small file that would expand into far more bytes than
it holds (a never-written HDF5 dataset, a stride-0 PyTorch view). Inputs come from the golden
models (tests/golden, read only) and from ckconv itself for packed files.

usage: make_shape_cases.py [--ckconv bin/ckconv] [OUTDIR]   (default tests/bad; rewrites only its
own 2NN-* folders; deterministic except for HDF5 bytes)
"""
import argparse
import io
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import zipfile

os.environ.setdefault("HDF5_PLUGIN_PATH", "/usr/lib/x86_64-linux-gnu/hdf5/serial/plugins")
import numpy as np  # noqa: E402
import h5py  # noqa: E402
import stfile  # noqa: E402
import make_bad_corpus as mbc  # noqa: E402  (the case folders, ds_name)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GOLDEN = os.path.join(ROOT, "tests", "golden")
FIRST = 201  # case numbers 201.. (make_bad_corpus.py numbers its own from 01)

# ---------------------------------------------------------------- safetensors


def golden_hf(case, edit):
    """{hf/config.json, hf/model.safetensors} of a golden case's HF side, tensors edited."""
    src = os.path.join(GOLDEN, case, "hf")
    ts = stfile.read_dir(src)
    edit(ts)
    return {"hf/config.json": open(os.path.join(src, "config.json"), "rb").read(), "hf/model.safetensors": stfile.encode(ts)}


def reshape(name, shape):
    def f(ts):
        dt, a = ts[name]
        ts[name] = (dt, np.arange(int(np.prod(shape)), dtype=a.dtype).reshape(shape) * 0)
    return f


# ---------------------------------------------------------------- packed files


def packed(case, ckconv, tmp, edit, params=lambda t: t):
    """{x.mdl, x.yaml}: ckconv's packed form of a golden case, then damaged by edit(h5py File)."""
    rel = os.path.relpath(tmp, ROOT)  # relative paths: the provenance ckconv stores is fixed
    subprocess.run([ckconv, "convert", os.path.join("tests", "golden", case, "hf"), "--model",
                    json.load(open(os.path.join(GOLDEN, case, "case.json")))["model"], "--rules", "rules",
                    "-o", os.path.join(rel, "x.mdl"), "-q", "--force"], check=True, cwd=ROOT)
    with h5py.File(os.path.join(tmp, "x.mdl"), "r+") as f:
        edit(f)
    return {"x.mdl": open(os.path.join(tmp, "x.mdl"), "rb").read(),
            "x.yaml": params(open(os.path.join(tmp, "x.yaml")).read()).encode()}


def redeclare(suffix, shape, data=True, chunks=None, lz4=False):
    """Replace a tensor's dataset by one of another shape (metadata JSON updated to match):
    data=False leaves it never written (all fill value, no storage allocated)."""
    def f(h):
        name = mbc.ds_name(h, suffix)
        d = h[name]
        dt, attrs = d.dtype, dict(d.attrs)
        del h[name]
        if data is True:
            kw = {}
            if lz4:  # zeros compress ~250x: a large tensor in a small file, as cstorch writes it
                import hdf5plugin
                kw = dict(chunks=(min(shape[0], 1024),) + tuple(shape[1:]), **hdf5plugin.LZ4())
            nd = h.create_dataset(name, data=np.zeros(shape, dt), **kw)
        else:
            nd = h.create_dataset(name, shape=shape, dtype=dt, chunks=chunks)
            if data:  # a region written: the chunks it touches are stored, the others are not
                nd[data] = 1
        attrs["shapes"] = np.array([shape], dtype="<i8")
        nd.attrs.update(attrs)
        m = json.loads(h.attrs[name + ".__metadata__"])
        m[name + ".__metadata__"]["shapes"] = [list(shape)]
        h.attrs[name + ".__metadata__"] = json.dumps(m, indent=4)
    return f


def link_to(suffix, n):
    """n LinkedObject leaves model.alias<i> pointing at one tensor (cstorch writes one per tied
    weight): each would read the tensor again."""
    def f(h):
        target = mbc.ds_name(h, suffix)
        tree, ts = json.loads(h.attrs["__spec__"])
        spec = json.loads(ts)
        node = spec[1]["children_spec"][0]  # the "model" dict
        ctx = json.loads(node["context"])
        leaf = {"type": None, "context": None, "children_spec": []}
        for i in range(n):
            key = "model.alias%d" % i
            tree["model"]["alias%d" % i] = "*"
            ctx.append("alias%d" % i)
            node["children_spec"].append(leaf)
            one = [1, {"type": "builtins.dict", "context": json.dumps([key]), "children_spec": [leaf]}]
            h.attrs[key + ".__metadata__"] = json.dumps(
                {"__spec__": [{key: "*"}, json.dumps(one)], "__objects__": [key],
                 key + ".__metadata__": {"key": target, "__LINKED__": True, "__TYPE__": "LinkedObject",
                                         "__NONE__": True}}, indent=4)
        node["context"] = json.dumps(ctx)
        h.attrs["__spec__"] = json.dumps([tree, json.dumps(spec)], indent=4)
    return f


# ---------------------------------------------------------------- PyTorch .bin


def bin_bytes(views, storages):
    """A torch.save zip of an OrderedDict {name: view}; views: (storage key, offset, size, stride),
    storages: {key: float32 array}. The pickle is written opcode by opcode (protocol 2)."""
    def s(x):
        b = x.encode()
        return b"X" + struct.pack("<I", len(b)) + b

    def i(v):
        return b"J" + struct.pack("<i", v)

    def tup(xs):
        return b"(" + b"".join(i(x) for x in xs) + b"t"
    p = b"\x80\x02" + b"ccollections\nOrderedDict\n)R("
    for name, (key, off, size, stride) in views.items():
        p += s(name) + b"ctorch._utils\n_rebuild_tensor_v2\n("
        p += b"(" + s("storage") + b"ctorch\nFloatStorage\n" + s(key) + s("cpu") + i(len(storages[key])) + b"tQ"
        p += i(off) + tup(size) + tup(stride) + b"\x89" + b"ccollections\nOrderedDict\n)Rt" + b"R"
    p += b"u."
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        z.writestr("archive/data.pkl", p)
        for key, a in storages.items():
            z.writestr("archive/data/" + key, a.astype("<f4").tobytes())
        z.writestr("archive/version", "3\n")
    return buf.getvalue()


# ---------------------------------------------------------------- cases

CASES = []


def case(name, args, expect, files):
    CASES.append(dict(name=name, args=args, expect=expect, files=files))


def define(ckconv, tmp):
    gcfg = json.load(open(os.path.join(GOLDEN, "gpt2", "hf", "config.json")))
    P, E = gcfg["n_positions"], gcfg["n_embd"]
    case("shape-gpt2-wpe", "convert IN/hf --model gpt2 -o OUT/x.mdl",
         "transformer.wpe.weight: shape [3, 5], expected [%d, %d] from the config (rule " % (P, E),
         golden_hf("gpt2", reshape("transformer.wpe.weight", (3, 5))))
    # a rule whose two shapes disagree with its action: the chain makes [E, E] parts of c_attn
    rules = mbc.edited_rules("gpt2", {"gpt2-layers.yaml": lambda t: t.replace(
        'cs: "P == \'weight\' ? [hid, hid] : [hid]"}', 'cs: "P == \'weight\' ? [hid, 2 * hid] : [hid]"}', 1)})
    case("shape-rule-disagrees-with-action", "convert IN/hf --model gpt2 --rules IN/rules -o OUT/x.mdl",
         "transformer.h.0.attn.c_attn.weight: the rule makes a target of shape [%d, %d], its cs shape says [%d, %d]"
         % (E, E, E, 2 * E), golden_hf("gpt2", lambda ts: None) | rules)
    lcfg = json.load(open(os.path.join(GOLDEN, "llama", "hf", "config.json")))
    H = lcfg["hidden_size"]
    case("shape-llama-q-proj", "convert IN/hf --model llama -o OUT/x.mdl",
         "model.layers.0.self_attn.q_proj.weight: shape [%d, %d], expected [%d, %d] from the config (rule "
         % (2 * H, H, H, H),
         golden_hf("llama", reshape("model.layers.0.self_attn.q_proj.weight", (2 * H, H))))
    M = json.load(open(os.path.join(GOLDEN, "mixtral", "hf", "config.json")))
    # the MoE planning bomb: zero bytes, a million experts along the stacked axis
    moe = packed("mixtral", ckconv, tmp, redeclare("fused_ffns.0.linear_layer.expert_weights", (0, 1 << 20, 0)))
    case("shape-mixtral-moe-stack", "convert IN/x.mdl --config IN/x.yaml -o OUT/hf",
         "expert_weights: shape [0, 1048576, 0], expected [%d, %d, %d] from the config (rule "
         % (M["intermediate_size"], M["num_local_experts"], M["hidden_size"]), moe)
    # the same with rules that state no shape for the experts: unstack's own bound holds
    rules = mbc.edited_rules("mixtral", {"mixtral-moe.yaml": lambda t: t.replace(
        ', shape: {hf: "[ffn, hid]", cs: "[ffn, experts, hid]"}', "")})
    case("amp-mixtral-unstack-unbounded", "convert IN/x.mdl --config IN/x.yaml --rules IN/rules -o OUT/hf",
         "unstack: axis 1 has 1048576 parts, more than 65536", moe | rules)
    # never-written datasets: no storage, every element the fill value
    G = json.load(open(os.path.join(GOLDEN, "gpt2", "hf", "config.json")))
    wte = (G["vocab_size"], G["n_embd"])
    case("amp-mdl-never-written", "convert IN/x.mdl --config IN/x.yaml -o OUT/hf",
         "embedding_layer.word_embeddings.weight': its data was never written (no storage for %d bytes"
         % (4 * wte[0] * wte[1]), packed("gpt2", ckconv, tmp, redeclare("word_embeddings.weight", wte, data=False)))
    case("amp-mdl-partly-written", "convert IN/x.mdl --config IN/x.yaml -o OUT/hf",
         "embedding_layer.word_embeddings.weight': its data was never fully written",
         packed("gpt2", ckconv, tmp, redeclare("word_embeddings.weight", wte, data=np.s_[0:1], chunks=(1, wte[1]))))

    # generators: GPT-2's causal mask is [1, 1, P, P] bytes per layer, P from the params; a
    # consistent position table of P rows compresses to almost nothing
    big = 16384

    def more_positions(t):
        t2 = t.replace("  max_position_embeddings: %d\n" % P, "  max_position_embeddings: %d\n" % big)
        assert t2 != t, "x.yaml: max_position_embeddings not found"
        return t2
    case("amp-gpt2-generated-mask", "convert IN/x.mdl --config IN/x.yaml -o OUT/hf",
         "the rules' generators would make %d bytes from sizes in the config, more than the "
         % (G["n_layer"] * (big * big + 4)),  # masks and the f32 masked_bias scalars
         packed("gpt2", ckconv, tmp, redeclare("position_embeddings.embed.weight", (big, E), lz4=True),
                params=more_positions))
    case("amp-mdl-aliases", "convert IN/x.mdl --config IN/x.yaml -o OUT/hf",
         "tensor 'model.embedding_layer.word_embeddings.weight' is aliased by more than 3 LinkedObjects",
         packed("gpt2", ckconv, tmp, link_to("word_embeddings.weight", 4)))
    # .bin views: a stride-0 view expands a small storage to any size; tied views are bounded
    V, E = G["vocab_size"], G["n_embd"]
    gcfg_bytes = open(os.path.join(GOLDEN, "gpt2", "hf", "config.json"), "rb").read()
    row = np.arange(E, dtype="<f4")
    case("amp-bin-stride-zero", "convert IN/hf --model gpt2 -o OUT/x.mdl",
         "tensor view of storage '0' repeats its elements (a stride 0 or overlapping strides) into %d elements, "
         "more than the %d the storage holds" % (V * E, E),
         {"hf/config.json": gcfg_bytes,
          "hf/pytorch_model.bin": bin_bytes({"transformer.wte.weight": ("0", 0, (V, E), (0, 1))}, {"0": row})})
    sq = np.arange(E * E, dtype="<f4")
    case("amp-bin-views-of-one-storage", "convert IN/hf --model gpt2 -o OUT/x.mdl",
         "storage '0' (%d bytes) is viewed by 5 tensors holding %d bytes, more than 4 times its size"
         % (4 * E * E, 5 * 4 * E * E),
         {"hf/config.json": gcfg_bytes,
          "hf/pytorch_model.bin": bin_bytes({"transformer.h.%d.attn.c_proj.weight" % i: ("0", 0, (E, E), (E, 1))
                                             for i in range(5)}, {"0": sq})})


# ---------------------------------------------------------------- writing


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ckconv", default=os.path.join(ROOT, "bin", "ckconv"))
    ap.add_argument("outdir", nargs="?", default=os.path.join(ROOT, "tests", "bad"))
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(dir=os.path.join(ROOT, "build"), prefix="shape-cases-")
    try:
        define(os.path.abspath(a.ckconv), tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    mbc.prune_renumbered(a.outdir, {c["name"]: FIRST + i for i, c in enumerate(CASES)}, FIRST)
    for i, c in enumerate(CASES):
        mbc.start_case(a.outdir, FIRST + i, c)
    print("wrote %d cases into %s" % (len(CASES), a.outdir))


if __name__ == "__main__":
    main()
