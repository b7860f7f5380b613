#!/usr/bin/python3
"""make_training_ckpt.py - a Cerebras *training* checkpoint as cstorch saves one (format 0.5, h5py +
numpy only), from the model tensors of a packed file (e.g. one ckconv wrote). Facts: notes/cstorch-h5.md.

The state dict saved holds:
  model          the tensors, keys under "model." (with --trainer, "model.model.": the 2.x trainer's wrapper)
  optimizer      {state: {0: {step, exp_avg, exp_avg_sq}, 1: {...}}, param_groups: [{lr, betas, params}]}
                 - state keyed by int, as torch's optimizers save it
  lr_scheduler   {last_epoch, base_lrs, _step_count}      schedulers: [the same]
  global_step    an int (ScalarSerializer)             __metadata__: [{version, model_name, params}]
  plus a None leaf and a string leaf.
Every tensor is an LZ4-chunked dataset with per-key JSON metadata.
  --tie ALIAS=TARGET   the model key ALIAS is saved as a LinkedObject pointing at TARGET (no dataset)
  --deferred KEY=V     the model key KEY is saved as a NestedObject holding a DeferredFullTensor of
                       value V (no dataset); --expect then records V in the reference tensors
  --nan KEY            the first and last elements of KEY become NaN (sideband sparsity's pruned weights)
  --expect OUT.npz     the model tensors as a loader would see them (deferred ones filled), for tests
usage: make_training_ckpt.py [options] IN.mdl OUT.mdl
"""
import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import h5py  # noqa: E402
import numpy as np  # noqa: E402
import make_cstorch_h5 as mc  # noqa: E402



class Tensor:
    def __init__(self, arr, st):
        self.arr, self.st = arr, st


class Linked:
    def __init__(self, target):
        self.target = target


class Deferred:
    def __init__(self, shape, st, value):
        self.shape, self.st, self.value = shape, st, value


def read_model(path):
    return {k[len("model."):] if k.startswith("model.") else k: Tensor(a, st) for k, st, _, a in mc.read_packed(path)}


def unflat(v):
    if isinstance(v, dict):
        return {str(k): unflat(x) for k, x in v.items()}
    if isinstance(v, list):
        return [unflat(x) for x in v]
    return "*"


def plain_meta(key, obj_meta):
    return json.dumps({"__spec__": [{key: "*"}, mc.treespec_dumps(mc.dict_node([key], [mc.LEAF]))],
                       "__objects__": [key], key + ".__metadata__": obj_meta}, indent=4)


def write_leaf(f, root, key, v):
    if isinstance(v, Tensor):
        meta = mc.tensor_meta(v.st, v.arr.shape)
        mc.create(f, key, v.arr).attrs.update(meta)
        root[key + ".__metadata__"] = plain_meta(key, meta)
    elif isinstance(v, Linked):
        root[key + ".__metadata__"] = plain_meta(key, {"key": v.target, "__LINKED__": True, "__TYPE__": "LinkedObject",
                                                      "__NONE__": True})
    elif isinstance(v, Deferred):  # NestedObject(DeferredFullTensor, outer tensor metadata)
        nested = {"type": "collections.namedtuple", "context": "NestedObject", "children_spec": [mc.LEAF, mc.LEAF]}
        inner = {"shape": list(v.shape), "dtype": mc.DTYPES[v.st][1], "fill_value": v.value,
                 "__TYPE__": "DeferredFullTensor", "__NONE__": True}
        root[key + ".__metadata__"] = json.dumps({
            "__spec__": [{key: ["*", "*"]}, mc.treespec_dumps(mc.dict_node([key], [nested]))],
            "__objects__": [key + ".0"], key + ".0.__metadata__": inner,
            key + ".1.__metadata__": mc.tensor_meta(v.st, v.shape)}, indent=4)
    elif v is None:
        root[key + ".__metadata__"] = plain_meta(key, {"__TYPE__": "NoneSerializer", "__NONE__": True})
    elif isinstance(v, str):
        root[key + ".__metadata__"] = plain_meta(key, {"string_value": v, "__TYPE__": "StringSerializer",
                                                      "__NONE__": True})
    else:
        root[key + ".__metadata__"] = plain_meta(key, {"scalar_value": v, "__TYPE__": "ScalarSerializer",
                                                      "__NONE__": True})


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--trainer", action="store_true")
    ap.add_argument("--tie", action="append", default=[])
    ap.add_argument("--deferred", action="append", default=[])
    ap.add_argument("--nan", action="append", default=[])
    ap.add_argument("--expect")
    ap.add_argument("input")
    ap.add_argument("output")
    a = ap.parse_args()
    model = read_model(a.input)
    pre = "model." if a.trainer else ""
    for spec in a.nan:
        t = model[spec].arr.copy()
        t.reshape(-1)[[0, -1]] = np.nan
        model[spec] = Tensor(t, model[spec].st)
    expect = {k: v.arr for k, v in model.items()}
    for spec in a.deferred:
        k, val = spec.split("=")
        t = model[k]
        model[k] = Deferred(t.arr.shape, t.st, float(val))
        expect[k] = np.full(t.arr.shape, float(val), dtype=t.arr.dtype)
    for spec in a.tie:
        alias, target = spec.split("=")
        model[alias] = Linked("model." + pre + target)
        expect[alias] = expect[target]
    first = [k for k, v in model.items() if isinstance(v, Tensor)][:2]
    rng = np.random.default_rng(3)
    opt_state = {i: {"step": Tensor(np.array(10.0, dtype=np.float32), "F32"),
                     "exp_avg": Tensor(rng.standard_normal(model[k].arr.shape).astype(np.float32), "F32"),
                     "exp_avg_sq": Tensor(rng.random(model[k].arr.shape).astype(np.float32), "F32")}
                 for i, k in enumerate(first)}
    sched = {"last_epoch": 10, "base_lrs": [0.001], "_step_count": 11, "verbose": False}
    state = {
        "model": {pre + k: v for k, v in model.items()},
        "optimizer": {"state": opt_state, "param_groups": [{"lr": 0.001, "betas": [0.9, 0.999], "eps": 1e-08,
                                                             "weight_decay": 0.01, "params": list(range(len(first)))}]},
        "lr_scheduler": dict(sched),
        "schedulers": [dict(sched)],
        "global_step": 10,
        "grad_scaler": None,
        "__metadata__": [{"version": "2.4.0", "model_name": "GptModel", "params": {"model": {"name": "gpt2"}}}],
    }
    tmp = a.output + ".tmp"
    with h5py.File(tmp, "w") as f:
        spec = json.dumps([unflat(state), mc.treespec_dumps(mc.spec_of(state))], indent=4)
        root = {}
        for key, v in mc.leaves(state):
            write_leaf(f, root, key, v)
        root.update({"__spec__": spec, "__version__": 0.5, "__cstorch_version__": "2.4.0"})
        f.attrs.update(root)
        f.attrs["__SUCCESS__"] = True
    os.replace(tmp, a.output)
    if a.expect:
        np.savez(a.expect, **expect)


if __name__ == "__main__":
    main()
