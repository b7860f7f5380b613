#!/usr/bin/python3
"""make_bad_corpus.py - write the bad-input corpus tests/bad/NN-name/ (see tests/bad/README.md).

Every case is one crafted defect in an otherwise valid input: a tiny GPT-2 (HF directory, shard
index, packed .mdl + params), or a rule directory holding gpt2.yaml + gpt2-lm.yaml. Each case
folder gets its input files, `args` (the ckconv command line, IN = the case folder, OUT = an
empty scratch folder) and `expect` (text the single stderr line must contain). The packed
inputs are made by running ckconv on the tiny model, then damaged with h5py.

usage: make_bad_corpus.py [--ckconv bin/ckconv] [OUTDIR]   (default tests/bad; only the case
folders listed here are rewritten; the output is deterministic except for HDF5 bytes)
"""
import argparse
import json
import os
import re
import shutil
import struct
import subprocess
import sys

os.environ.setdefault("HDF5_PLUGIN_PATH", "/usr/lib/x86_64-linux-gnu/hdf5/serial/plugins")
import numpy as np  # noqa: E402
import h5py  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# ---------------------------------------------------------------- the tiny valid model

CONFIG = {"activation_function": "gelu_new", "architectures": ["GPT2LMHeadModel"], "attn_pdrop": 0.1,
          "bos_token_id": 0, "embd_pdrop": 0.1, "eos_token_id": 0, "initializer_range": 0.02,
          "layer_norm_epsilon": 1e-05, "model_type": "gpt2", "n_ctx": 8, "n_embd": 8, "n_head": 2,
          "n_inner": None, "n_layer": 1, "n_positions": 8, "reorder_and_upcast_attn": False,
          "resid_pdrop": 0.1, "scale_attn_by_inverse_layer_idx": False, "scale_attn_weights": True,
          "tie_word_embeddings": True, "vocab_size": 16}


def tensors():
    """{name: float32 array} of a 1-layer GPT-2 with n_embd 8: small, deterministic."""
    rng = np.random.default_rng(6)
    E, V, P = 8, 16, 8
    shapes = {"transformer.wte.weight": (V, E), "transformer.wpe.weight": (P, E),
              "transformer.h.0.ln_1.weight": (E,), "transformer.h.0.ln_1.bias": (E,),
              "transformer.h.0.attn.c_attn.weight": (E, 3 * E), "transformer.h.0.attn.c_attn.bias": (3 * E,),
              "transformer.h.0.attn.c_proj.weight": (E, E), "transformer.h.0.attn.c_proj.bias": (E,),
              "transformer.h.0.ln_2.weight": (E,), "transformer.h.0.ln_2.bias": (E,),
              "transformer.h.0.mlp.c_fc.weight": (E, 4 * E), "transformer.h.0.mlp.c_fc.bias": (4 * E,),
              "transformer.h.0.mlp.c_proj.weight": (4 * E, E), "transformer.h.0.mlp.c_proj.bias": (E,),
              "transformer.ln_f.weight": (E,), "transformer.ln_f.bias": (E,)}
    return {k: (rng.standard_normal(s) * 0.02).astype("<f4") for k, s in shapes.items()}


def st_header(ts):
    """The header dict safetensors writes (sorted names, packed data) and the data bytes."""
    hdr, off, blobs = {"__metadata__": {"format": "pt"}}, 0, []
    for k in sorted(ts):
        a = ts[k]
        hdr[k] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [off, off + a.nbytes]}
        off += a.nbytes
        blobs.append(a.tobytes())
    return hdr, b"".join(blobs)


def st_raw(header_bytes, body, length=None):
    """8-byte little-endian length, header text padded with spaces to 8, body."""
    h = header_bytes + b" " * (-len(header_bytes) % 8)
    return struct.pack("<Q", len(h) if length is None else length) + h + body


def st_bytes(hdr, body):
    return st_raw(json.dumps(hdr, separators=(",", ":")).encode(), body)


def cfg_bytes(cfg=None):
    return (json.dumps(CONFIG if cfg is None else cfg, indent=2) + "\n").encode()


def hf_dir(hdr=None, body=None, raw=None, cfg=None):
    """Files of an HF directory 'hf/': config.json + model.safetensors (from hdr/body, or raw)."""
    h0, b0 = st_header(tensors())
    st = raw if raw is not None else st_bytes(h0 if hdr is None else hdr, b0 if body is None else body)
    return {"hf/config.json": cfg_bytes(cfg), "hf/model.safetensors": st}


def base_hdr():
    return st_header(tensors())


def sharded(weight_map_edit=None, index_raw=None, shard_edit=None):
    """hf/ with two shards and model.safetensors.index.json; the edits damage one piece."""
    ts = tensors()
    names = sorted(ts)
    parts = [names[: len(names) // 2], names[len(names) // 2:]]
    files = {"hf/config.json": cfg_bytes()}
    wm = {}
    for i, part in enumerate(parts):
        fn = "model-%05d-of-00002.safetensors" % (i + 1)
        hdr, body = st_header({k: ts[k] for k in part})
        if shard_edit:
            hdr, body = shard_edit(i, hdr, body)
        files["hf/" + fn] = st_bytes(hdr, body)
        wm.update({k: fn for k in part})
    index = {"metadata": {"total_size": sum(a.nbytes for a in ts.values())}, "weight_map": wm}
    if weight_map_edit:
        weight_map_edit(index)
    files["hf/model.safetensors.index.json"] = index_raw if index_raw is not None else \
        (json.dumps(index, indent=2) + "\n").encode()
    return files


# ---------------------------------------------------------------- cases

CASES = []
HF = "convert IN/hf --model gpt2 -o OUT/x.mdl"        # HF -> CS
CS = "convert IN/x.mdl --config IN/x.yaml -o OUT/hf"  # CS -> HF


def case(name, args, expect, files=None, mdl=None, params=None, rules=None, out_before=None, stdout=None, exit=None):
    """files: {relative path: bytes}; mdl: a function damaging a copy of the packed base (h5py
    File in r+ mode) or "keep"; params: text replacing x.yaml; rules: {file: edit(text) -> text}
    applied to copies of rules/gpt2.yaml and gpt2-lm.yaml in IN/rules; out_before: files put in
    OUT before the run (OUT must hold exactly these afterwards); stdout: text stdout must contain
    (without it stdout must stay empty); exit: the exit status when not 1 (2: usage or I/O)."""
    CASES.append(dict(name=name, args=args, expect=expect, files=files or {}, mdl=mdl, params=params,
                      rules=rules, out_before=out_before or {}, stdout=stdout, exit=exit))


def edit_hdr(fn):
    hdr, body = base_hdr()
    r = fn(hdr, body)
    return hf_dir(*(r if r else (hdr, body)))


def first(hdr):
    return sorted(k for k in hdr if k != "__metadata__")[0]


def by_offset(hdr):
    return sorted((k for k in hdr if k != "__metadata__"), key=lambda k: hdr[k]["data_offsets"][0])


def set_entry(key, **kw):
    def f(hdr, body):
        hdr[key].update(kw)
    return f


LN = "transformer.h.0.ln_1.bias"  # an [8] f32 tensor: 32 bytes

# --- safetensors
hdr0, body0 = base_hdr()
case("st-file-too-short", HF, "model.safetensors: file is 5 bytes, too short for the 8-byte header length",
     hf_dir(raw=b"\x10\0\0\0\0"))
case("st-header-past-eof", HF, "header length 4096 runs past end of file",
     hf_dir(raw=st_raw(b'{"a":1}', b"", length=4096)))
case("st-header-length-huge", HF, "header length 18446744073709551615 exceeds the limit",
     hf_dir(raw=st_raw(b"{}", b"", length=(1 << 64) - 1)))
case("st-header-not-json", HF, "model.safetensors: header is not valid JSON",
     hf_dir(raw=st_raw(b'{"transformer.wte.weight": {"dtype": "F32", ', b"")))
case("st-header-not-object", HF, "model.safetensors: header is not a JSON object",
     hf_dir(raw=st_raw(b"[1, 2, 3]", b"")))
case("st-key-not-utf8", HF, "model.safetensors: header is not valid JSON",
     hf_dir(raw=st_raw(b'{"w\xff\xfe": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}', b"\0" * 4)))
case("st-duplicate-key", HF, "duplicate object key",
     hf_dir(raw=st_raw(b'{"transformer.ln_f.bias": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}, '
                       b'"transformer.ln_f.bias": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}', b"\0" * 8)))
case("st-nul-in-key", HF, "model.safetensors: header is not valid JSON",
     hf_dir(raw=st_raw(b'{"a\\u0000b": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}', b"\0" * 4)))
case("st-unknown-dtype", HF, "tensor 'transformer.h.0.ln_1.bias': unknown dtype 'FP32'",
     edit_hdr(set_entry(LN, dtype="FP32")))
case("st-dtype-not-string", HF, "tensor 'transformer.h.0.ln_1.bias': missing or non-string 'dtype'",
     edit_hdr(set_entry(LN, dtype=32)))
case("st-entry-not-object", HF, "tensor 'transformer.h.0.ln_1.bias': entry is not a JSON object",
     edit_hdr(lambda h, b: h.__setitem__(LN, [0, 32])))
case("st-shape-not-array", HF, "tensor 'transformer.h.0.ln_1.bias': missing or non-array 'shape'",
     edit_hdr(set_entry(LN, shape=8)))
case("st-shape-not-integer", HF, "tensor 'transformer.h.0.ln_1.bias': shape[0] is not an integer",
     edit_hdr(set_entry(LN, shape=[8.0])))
case("st-negative-dim", HF, "tensor 'transformer.h.0.ln_1.bias': shape[1] is -8, expected >= 0",
     edit_hdr(set_entry(LN, shape=[1, -8])))
case("st-rank-too-big", HF, "tensor 'transformer.h.0.ln_1.bias': shape has rank 9, limit is 8",
     edit_hdr(set_entry(LN, shape=[1] * 8 + [8])))
case("st-shape-overflow", HF, "tensor 'transformer.h.0.ln_1.bias': F32 [4294967296, 4294967296, 2]",
     edit_hdr(set_entry(LN, shape=[1 << 32, 1 << 32, 2])))
case("st-size-disagrees", HF,
     "tensor 'transformer.h.0.ln_1.bias': data_offsets [", edit_hdr(set_entry(LN, shape=[4, 4])))
case("st-offsets-reversed", HF, "end before they begin",
     edit_hdr(lambda h, b: h[LN].__setitem__("data_offsets", h[LN]["data_offsets"][::-1])))
case("st-offsets-negative", HF, "tensor 'transformer.h.0.ln_1.bias': 'data_offsets' must be [begin, end] of non-negative integers",
     edit_hdr(lambda h, b: h[LN].__setitem__("data_offsets", [-32, 0])))
case("st-offsets-past-end", HF, "run past the end of the file",
     edit_hdr(lambda h, b: h[LN].__setitem__("data_offsets", [len(b), len(b) + 32])))


def overlap(h, b):
    k0, k1 = by_offset(h)[:2]
    n = h[k1]["data_offsets"][1] - h[k1]["data_offsets"][0]
    h[k1]["data_offsets"] = [0, n]


case("st-offsets-overlap", HF, "overlap tensor", edit_hdr(overlap))


def hole(h, b):
    ks = by_offset(h)
    last = ks[-1]
    a, e = h[last]["data_offsets"]
    h[last]["data_offsets"] = [a + 4, e + 4]
    return h, b + b"\0" * 4


case("st-offsets-hole", HF, "leave a hole of 4 bytes", edit_hdr(hole))


def not_at_zero(h, b):
    for k in by_offset(h):
        a, e = h[k]["data_offsets"]
        h[k]["data_offsets"] = [a + 8, e + 8]
    return h, b"\0" * 8 + b


case("st-data-not-at-zero", HF, "data starts at 8, expected 0", edit_hdr(not_at_zero))
case("st-trailing-bytes", HF, "(16 trailing bytes)", edit_hdr(lambda h, b: (h, b + b"\0" * 16)))
case("st-empty-key", HF, "model.safetensors: a tensor has an empty key",
     edit_hdr(lambda h, b: h.__setitem__("", h.pop(LN))))
case("st-key-too-long", HF, "key is 5000 bytes, limit is 4096",
     edit_hdr(lambda h, b: h.__setitem__("k" * 5000, h.pop(LN))))
case("st-key-with-newline", HF, "transformer.h.0.ln_1\\nbias",
     edit_hdr(lambda h, b: h.__setitem__("transformer.h.0.ln_1\nbias", h.pop(LN))))
case("st-metadata-not-object", HF, "model.safetensors: '__metadata__' is not a JSON object",
     edit_hdr(lambda h, b: h.__setitem__("__metadata__", "pt")))
case("st-metadata-not-strings", HF, "'__metadata__' value for 'epoch' is not a string",
     edit_hdr(lambda h, b: h["__metadata__"].__setitem__("epoch", 3)))

# --- shard index


def wm_set(key, value):
    return lambda idx: idx["weight_map"].__setitem__(key, value)


def drop_first(i, hdr, body):
    """Shard 1 without its first tensor (data moved up so the file stays well formed)."""
    if i:
        return hdr, body
    k = by_offset(hdr)[0]
    n = hdr[k]["data_offsets"][1]
    del hdr[k]
    for v in hdr.values():
        if "data_offsets" in v:
            v["data_offsets"] = [v["data_offsets"][0] - n, v["data_offsets"][1] - n]
    return hdr, body[n:]


def missing_shard():
    f = sharded()
    del f["hf/model-00002-of-00002.safetensors"]
    return f


case("idx-shard-missing", HF, "shard 'model-00002-of-00002.safetensors' not found", missing_shard())
case("idx-shard-outside-dir", HF, "shard name '../model-00001-of-00002.safetensors' must be a plain file name",
     sharded(wm_set("transformer.ln_f.bias", "../model-00001-of-00002.safetensors")))
case("idx-key-not-in-shard", HF, "weight_map names shard 'model-00001-of-00002.safetensors', which does not",
     sharded(shard_edit=drop_first))
case("idx-shard-key-unlisted", HF, "which weight_map does not",
     sharded(lambda idx: idx["weight_map"].pop(sorted(idx["weight_map"])[-1])))
case("idx-not-json", HF, "model.safetensors.index.json: index is not valid JSON",
     sharded(index_raw=b'{"weight_map": {"transformer.wte.weight": "model-00001-of-00002.safetensors",\n'))
case("idx-no-weight-map", HF, "index has no 'weight_map' object",
     sharded(lambda idx: idx.__setitem__("weight_mapping", idx.pop("weight_map"))))
case("idx-value-not-string", HF, "weight_map value is not a string",
     sharded(wm_set("transformer.ln_f.bias", 2)))


def dup_into_first(i, hdr, body):
    """Shard 1 also holds shard 2's 'transformer.wte.weight' (zeros appended at its end)."""
    if i:
        return hdr, body
    n = 16 * 8 * 4
    hdr["transformer.wte.weight"] = {"dtype": "F32", "shape": [16, 8], "data_offsets": [len(body), len(body) + n]}
    return hdr, body + b"\0" * n


case("idx-tensor-in-two-shards", HF, "tensor 'transformer.wte.weight' appears in two shards",
     sharded(shard_edit=dup_into_first))

no_st = hf_dir()
del no_st["hf/model.safetensors"]
case("st-no-weights", HF, "hf: directory holds no weights (model.safetensors,", no_st)
case("st-weights-not-a-file", HF, "model.safetensors: not a regular file",
     {"hf/config.json": cfg_bytes(), "hf/model.safetensors/README": b"a directory, not weights\n"})

# --- config.json
no_cfg = hf_dir()
del no_cfg["hf/config.json"]
case("cfg-missing", HF, "config.json: not found", no_cfg)
case("cfg-not-json", HF, "hf/config.json", hf_dir() | {"hf/config.json": b'{"model_type": "gpt2",\n  "n_embd": 8\n'})
case("cfg-not-object", HF, "hf/config.json: expected a JSON object", hf_dir() | {"hf/config.json": b"[]\n"})
case("cfg-wrong-type", HF, "hf/config.json: n_embd must be int, found \"8\" (rule ", hf_dir(cfg=CONFIG | {"n_embd": "8"}))
case("cfg-require-violated", HF, "reorder_and_upcast_attn", hf_dir(cfg=CONFIG | {"reorder_and_upcast_attn": True}))
case("cfg-unknown-model-type", "convert IN/hf -o OUT/x.mdl",
     "hf/config.json: architectures (none) / model_type \"xglm\" match no model in",
     hf_dir(cfg={k: v for k, v in CONFIG.items() if k != "architectures"} | {"model_type": "xglm"}))

# --- params.yaml (CS -> HF)
case("params-not-yaml", CS, "x.yaml:3:1: did not find expected ',' or ']'", mdl="keep", params="model:\n  hidden_size: [8\n")
case("params-no-model", CS, "x.yaml: no 'model:' mapping", mdl="keep", params="train_input:\n  batch_size: 1\n")
case("params-model-not-mapping", CS, "x.yaml: 'model' must be a mapping, found a string", mdl="keep", params="model: gpt2\n")
case("params-too-deep", CS, "nested deeper than 64", mdl="keep",
     params="model:\n  x: " + "[" * 70 + "]" * 70 + "\n")
case("params-alias-bomb", CS, "aliases expanded", mdl="keep",
     params="a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
         "%s: &%s [%s]\n" % (c, c, ", ".join(["*" + p] * 10)) for p, c in zip("abcdef", "bcdefg"))
     + "model: {name: gpt2}\n")
case("params-duplicate-key", CS, "x.yaml:", mdl="keep", params=None)  # filled in by the params edit below
case("params-missing", "convert IN/x.mdl -o OUT/hf", "x.yaml: CS params not found", mdl="keep", params="")
case("params-unknown-model-name", "convert IN/x.mdl --config IN/x.yaml -o OUT/hf",
     "x.yaml: model.name \"xglm\" matches no model in", mdl="keep", params=None)
case("params-wrong-type", CS, "x.yaml: hidden_size must be int, found \"eight\" (rule ", mdl="keep", params=None)

# --- packed .mdl


def attr_del(name):
    return lambda f: f.attrs.__delitem__(name)


def attr_set(name, value):
    return lambda f: f.attrs.__setitem__(name, value)


def ds_name(f, suffix):
    return next(k for k in f if k.endswith(suffix))


def flip_bit(f):
    d = f[ds_name(f, "norm1.weight")]
    a = d[...]
    a.view("<u4")[3] ^= 1 << 9
    d[...] = a


def retype(dtype, shape=None):
    def f(h):
        name = ds_name(h, "norm1.weight")
        d = h[name]
        a, attrs = d[...], dict(d.attrs)
        del h[name]
        nd = h.create_dataset(name, data=a.astype(dtype).reshape(shape or a.shape))
        nd.attrs.update(attrs)
    return f


def drop_ds(f):
    del f[ds_name(f, "norm1.weight")]


def meta_dtype(dt):
    """The per-key metadata JSON of one tensor claims another torch dtype."""
    def f(h):
        name = ds_name(h, "norm1.weight") + ".__metadata__"
        m = json.loads(h.attrs[name])
        m[name]["dtypes"] = [dt]
        h.attrs[name] = json.dumps(m, indent=4)
    return f


def drop_meta(f):
    name = ds_name(f, "norm1.weight")
    del f.attrs[name + ".__metadata__"]


case("mdl-not-hdf5", CS, "x.mdl: not an HDF5 file", files={"x.mdl": b"this is a text file, not HDF5\n"},
     mdl=None, params="keep")
case("mdl-truncated", CS, "x.mdl: ", mdl="truncate", params="keep", exit=2)
case("mdl-no-success", CS, "checkpoint is incomplete (__SUCCESS__ missing or false)", mdl=attr_del("__SUCCESS__"), params="keep")
case("mdl-success-false", CS, "checkpoint is incomplete (__SUCCESS__ missing or false)",
     mdl=lambda f: f.attrs.__setitem__("__SUCCESS__", False), params="keep")
case("mdl-no-version", CS, "not a cstorch checkpoint (no __version__ root attribute)", mdl=attr_del("__version__"),
     params="keep")
case("mdl-version-string", CS, "attribute '__version__': expected one number", mdl=attr_set("__version__", "0.5"),
     params="keep")
# found while streaming, after the plan summary line: --quiet leaves the error line alone
case("mdl-checksum-mismatch", CS + " -q", "tensor 'model.transformer_decoder.layers.0.norm1.weight': checksum mismatch",
     mdl=flip_bit, params="keep")
case("mdl-verify-checksum-mismatch", "verify IN/x.mdl",
     "x.mdl: 1 of 22 tensors damaged (first: 'model.transformer_decoder.layers.0.norm1.weight')", mdl=flip_bit,
     params="keep", stdout="model.transformer_decoder.layers.0.norm1.weight: damaged: ")
case("mdl-dtype-mismatch", CS, "dataset stores", mdl=retype("<f8"), params="keep")
case("mdl-shape-mismatch", CS, "metadata says", mdl=retype("<f4", (2, 4)), params="keep")
case("mdl-dataset-missing", CS, "not found", mdl=drop_ds, params="keep")
case("mdl-metadata-missing", CS, "__metadata__' missing", mdl=drop_meta, params="keep")
case("mdl-unknown-dtype", CS, "unsupported dtype 'torch.complex64'", mdl=meta_dtype("torch.complex64"), params="keep")
case("mdl-spec-not-json", CS, "__spec__", mdl=attr_set("__spec__", "[{\"model\": "), params="keep")

# --- rule files (--rules DIR)
RU = "convert IN/hf --model gpt2 --rules IN/rules -o OUT/x.mdl"
case("rules-bad-yaml", RU, "gpt2-lm.yaml:", hf_dir(),
     rules={"gpt2-lm.yaml": lambda t: t.replace("keys:\n", "keys:\n  - {hf: [unclosed\n", 1)})
case("rules-unknown-action", RU, "unknown action 'transpos'", hf_dir(),
     rules={"gpt2-layers.yaml": lambda t: t.replace("c_fc.<P>,    cs: transformer_decoder.layers.<L>.ffn.ffn.0.linear_layer.<P>,          action: transpose",
                                                "c_fc.<P>,    cs: transformer_decoder.layers.<L>.ffn.ffn.0.linear_layer.<P>,          action: transpos", 1)})
case("rules-bad-regex", RU, "placeholder 'P': bad regex", hf_dir(),
     rules={"gpt2.yaml": lambda t: t.replace("  P: 'weight|bias'", "  P: 'weight|(bias'", 1)})
case("rules-include-cycle", RU, "gpt2-lm.yaml:9:14: include cycle: gpt2.yaml -> gpt2-lm.yaml -> gpt2.yaml", hf_dir(),
     rules={"gpt2-lm.yaml": lambda t: t.replace("keys:\n", "keys:\n  - include: gpt2\n", 1)})
case("rules-include-missing", RU, "gpt2-head", hf_dir(),
     rules={"gpt2.yaml": lambda t: t.replace("  - include: gpt2-lm\n", "  - include: gpt2-head\n", 1)})

# --- command line
case("cli-output-exists", HF, "x.mdl: output exists; pass --force to replace it", hf_dir(),
     out_before={"x.mdl": b"an earlier output, which must survive\n"})
case("cli-output-is-input", "convert IN/x.mdl --config IN/x.yaml -o IN/x.mdl --force", "x.mdl", mdl="keep", params="keep")
case("cli-unknown-dtype", HF + " --dtype f8", "--dtype takes bf16, f16, f32 or f64, not 'f8'", hf_dir())
case("cli-unknown-model", "convert IN/hf --model gpt3 -o OUT/x.mdl", "unknown model 'gpt3'", hf_dir())
case("cli-unknown-option", HF + " --forse", "convert: unknown option '--forse'", hf_dir(), exit=2)
case("cli-source-missing", "convert IN/nothing --model gpt2 -o OUT/x.mdl", "nothing", hf_dir(), exit=2)
case("cli-bad-shard-size", CS + " --shard-size 5XB", "5XB", mdl="keep", params="keep")
case("cli-rules-dir-missing", "convert IN/hf --model gpt2 --rules IN/rules -o OUT/x.mdl", "rules: cannot open rules directory", hf_dir())
case("cli-hf-to-hf", HF + " --src-fmt hf --tgt-fmt hf",
     "an HF checkpoint already: --tgt-fmt hf converts a packed CS checkpoint (.mdl) to HF", hf_dir(), exit=2)

# --- PyTorch .bin (tools/make_bin_cases.py writes them, with the pickles torch.save emits)
def bin_cases():
    import tempfile
    sys.path.insert(0, os.path.join(ROOT, "tools"))
    import make_bin_cases
    with tempfile.TemporaryDirectory() as t:
        make_bin_cases.bad(t)
        return {n: open(os.path.join(t, n + ".bin"), "rb").read() for n in os.listdir(t) and
                [f[:-4] for f in os.listdir(t) if f.endswith(".bin")]}


BIN = bin_cases()
for name, want in [
        ("global-os-system", "archive/data.pkl: refusing global 'os.system'"),
        ("global-eval-in-dict", "refusing global 'builtins.eval'"),
        ("truncated-pickle", "archive/data.pkl: truncated"),
        ("offset-past-end", "tensor view reaches element 9 of storage '0', which has 6"),
        ("missing-storage", "tensor 'w': storage 'archive/data/0' is missing from the zip"),
        ("short-storage", "storage 'archive/data/0' holds 20 bytes, the pickle declares 24 (6 x f32)"),
        ("compressed", "is compressed (method 8); torch.save stores entries uncompressed"),
        ("big-endian", "byte order is 'big'; only little-endian checkpoints are read"),
        ("complex-storage", "unsupported storage type 'torch.ComplexFloatStorage'"),
        ("no-pickle", "zip holds no '<name>/data.pkl'; not a torch.save checkpoint"),
        ("not-zip", "not a zip archive; only the zip format torch.save writes since PyTorch 1.6 is read"),
        ("truncated-zip", "zip archive is truncated or corrupt")]:
    case("bin-" + name, HF, want, {"hf/config.json": cfg_bytes(), "hf/pytorch_model.bin": BIN[name]})

# ---------------------------------------------------------------- writing


PARAM_EDITS = {
    "params-duplicate-key": lambda t: t.replace("model:\n", "model:\n  hidden_size: 8\n", 1),
    "params-unknown-model-name": lambda t: t.replace("  name: gpt2\n", "  name: xglm\n", 1),
    "params-wrong-type": lambda t: t.replace("  hidden_size: 8\n", "  hidden_size: eight\n", 1),
}


def make_base(ckconv, tmp):
    """The tiny model as HF and as ckconv's packed file + params. ckconv runs from the checkout
    with relative paths, so the provenance it stores (and so every packed file) is the same
    wherever the corpus is regenerated."""
    rel = os.path.relpath(tmp, ROOT)
    for path, data in hf_dir().items():
        os.makedirs(os.path.join(tmp, os.path.dirname(path)), exist_ok=True)
        with open(os.path.join(tmp, path), "wb") as f:
            f.write(data)
    subprocess.run([ckconv, "convert", os.path.join(rel, "hf"), "--model", "gpt2", "--rules", "rules",
                    "-o", os.path.join(rel, "x.mdl"), "-q"], check=True, cwd=ROOT)
    with open(os.path.join(tmp, "x.yaml")) as f:
        return os.path.join(tmp, "x.mdl"), f.read()


# ---------------------------------------------------------------- case folders (shared by make_shape_cases.py
# and make_bad_h5.py, which write their own series of tests/bad/NN-name/ the same way)

def folder(num, name):
    """a case's folder name in tests/bad: its number (two digits at least) and its name"""
    return "%02d-%s" % (num, name)


def prune_renumbered(outdir, numbered, first=0):
    """remove what a renumbering left behind: folders NUM-NAME (NUM >= first: the caller's series)
    of a case in numbered ({name: number}) under another number. Folders of cases written by hand
    (names not listed) are left alone."""
    for old in os.listdir(outdir) if os.path.isdir(outdir) else []:
        num, _, rest = old.partition("-")
        if num.isdigit() and int(num) >= first and rest in numbered and old != folder(numbered[rest], rest):
            shutil.rmtree(os.path.join(outdir, old))


def start_case(outdir, num, c):
    """the case's folder, made empty, with its files ({relative path: bytes}), `args`, `expect` and,
    when the case has them, `expect-stdout` and `exit`; returns the folder"""
    d = os.path.join(outdir, folder(num, c["name"]))
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    for path, data in c["files"].items():
        os.makedirs(os.path.dirname(os.path.join(d, path)) or d, exist_ok=True)
        with open(os.path.join(d, path), "wb") as f:
            f.write(data)
    with open(os.path.join(d, "args"), "w") as f:
        f.write(c["args"] + "\n")
    with open(os.path.join(d, "expect"), "w") as f:
        f.write(c["expect"] + "\n")
    if c.get("stdout"):
        with open(os.path.join(d, "expect-stdout"), "w") as f:
            f.write(c["stdout"] + "\n")
    if c.get("exit"):
        with open(os.path.join(d, "exit"), "w") as f:
            f.write("%d\n" % c["exit"])
    return d


INCLUDE = re.compile(r"\binclude:\s*([A-Za-z0-9_.-]+)")


def rule_files(model):
    """{file name: text} of rules/MODEL.yaml and of every rule file it includes, directly or not:
    what `--rules DIR` needs to load the model (found from the files, so it follows the rules)"""
    out, todo = {}, [model]
    while todo:
        fn = todo.pop(0) + ".yaml"
        if fn not in out:
            with open(os.path.join(ROOT, "rules", fn)) as f:
                out[fn] = f.read()
            todo += [m for line in out[fn].splitlines() for m in INCLUDE.findall(line.split("#", 1)[0])]
    return out


def edited_rules(model, edits, where="rules"):
    """{WHERE/FILE: bytes} for rule_files(model), edits ({file: text -> text}) applied; an edit that
    changes nothing (the rules moved on) stops the script"""
    files = rule_files(model)
    for fn, edit in edits.items():
        if fn not in files or edit(files[fn]) == files[fn]:
            sys.exit("%s: the edit of %s changed nothing (is it still one of %s's files?)" % (model, fn, model))
        files[fn] = edit(files[fn])
    return {os.path.join(where, fn): text.encode() for fn, text in files.items()}


def write_case(outdir, i, c, base_mdl, base_params):
    d = start_case(outdir, i, c)
    if c["mdl"] is not None:
        dst = os.path.join(d, "x.mdl")
        shutil.copyfile(base_mdl, dst)
        if c["mdl"] == "truncate":
            with open(dst, "r+b") as f:
                f.truncate(os.path.getsize(dst) // 2)
        elif c["mdl"] != "keep":
            with h5py.File(dst, "r+") as f:
                c["mdl"](f)
    params = c["params"]
    if c["name"] in PARAM_EDITS:
        params = PARAM_EDITS[c["name"]](base_params)
    elif params == "keep":
        params = base_params
    if params:
        with open(os.path.join(d, "x.yaml"), "w") as f:
            f.write(params)
    for path, data in (edited_rules("gpt2", c["rules"]) if c["rules"] else {}).items():
        os.makedirs(os.path.dirname(os.path.join(d, path)), exist_ok=True)
        with open(os.path.join(d, path), "wb") as f:
            f.write(data)
    for path, data in c["out_before"].items():
        os.makedirs(os.path.join(d, "out-before"), exist_ok=True)
        with open(os.path.join(d, "out-before", path), "wb") as f:
            f.write(data)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ckconv", default=os.path.join(ROOT, "bin", "ckconv"))
    ap.add_argument("outdir", nargs="?", default=os.path.join(ROOT, "tests", "bad"))
    a = ap.parse_args()
    names = [c["name"] for c in CASES]
    if len(set(names)) != len(names):
        sys.exit("duplicate case names")
    prune_renumbered(a.outdir, {n: i for i, n in enumerate(names, 1)})
    tmp = os.path.join(ROOT, "build", "bad-corpus-base")  # a fixed name: it is in the provenance
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        base_mdl, base_params = make_base(os.path.abspath(a.ckconv), tmp)
        for i, c in enumerate(CASES, 1):
            write_case(a.outdir, i, c, base_mdl, base_params)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("wrote %d cases into %s" % (len(CASES), a.outdir))


if __name__ == "__main__":
    main()
