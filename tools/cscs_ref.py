#!/usr/bin/python3
"""cscs_ref.py - CS <-> CS vectors the shared ones lack (tests/golden/cscs-ref/, README there),
computed by the reference's own converter classes: the cs-1.6 steps (both ways for BERT), and the cs-2.1 -> cs-2.2
rewrite of the rarer sparsity schemas (sparsity-2.1-to-2.2.json), DPO <-> no DPO at cs-2.1 both ways.

  cscs_ref.py MODELZOO_GIT_DIR OUT_DIR

MODELZOO_GIT_DIR is a clone of Cerebras/modelzoo (Release_2.10.0, as the other vectors); its
tools/checkpoint_converters/*.py are imported with small stand-ins for torch, tqdm and packaging
(the key conversion uses none of them but torch.arange). Each case is made like the shared ones
(shared/reference/cscs/README.md): in/ and out/ with tree.json, model.safetensors, params.yaml,
and case.json. The cs-1.6 start checkpoints are the reference's own downward conversion
(CS16_CS17, direction 1) of a cs-1.7 model: bert and bert-sequence-classifier from the HF -> CS
vectors of tests/golden (renamed to the cs-1.7 position-embedding name), t5 from the cs-1.8 start of
the shared t5 chain (its params with use_pre_encoder_decoder_layer_norm flipped back to cs-1.7's); one LayerNorm of the bert start uses the old .gamma/.beta names the reference
also reads. A trainer state (optimizer, lr_scheduler, global_step) is added: the reference drops it
at these steps. The expected out/ is the reference's upward conversion (direction 0): the model as
convert_all_keys gives it (every key must match), and no other entry (the CS16 converters'
pre_checkpoint_convert keeps only `model` and writes no __metadata__); the params as the
converter's config converter gives them (its convert(), run here too). Targets: cs-1.7 (the
CS16_CS17 converters) and a later release of the CS16_CS18 converters.
"""
import copy
import json
import os
import subprocess
import sys
import tempfile
import types

import numpy as np
import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import stfile  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PKG = "src/cerebras/modelzoo/tools/checkpoint_converters"
FILES = ["base_converter.py", "helper.py", "mup.py", "bert.py", "bert_finetune.py", "t5.py", "dpo.py"]
REV = "f1fd1e091dc67917b91ec213ecd63e48fd144477"   # Release_2.10.0


class _Pos:
    """torch.arange(n).expand((1, -1)) as the reference's BERT downgrade builds position_ids"""

    def __init__(self, n):
        self.a = np.arange(n, dtype=np.int64)

    def expand(self, shape):
        return self.a.reshape(1, -1)


def _stubs():
    torch = types.ModuleType("torch")
    torch.arange = _Pos
    tqdm = types.ModuleType("tqdm")
    tqdm.tqdm = lambda *a, **k: None
    pv = types.ModuleType("packaging.version")

    class Version(tuple):
        # the release numbers only: "2.1-no-dpo" (a DPO format less "cs-") compares as 2.1, as
        # packaging's LegacyVersion (packaging < 22) orders it; packaging >= 22 raises InvalidVersion
        def __new__(cls, s):
            return tuple.__new__(cls, tuple(int(x) for x in s.split("-")[0].split(".")))
    pv.Version = Version
    pk = types.ModuleType("packaging")
    pk.version = pv
    sys.modules.update({"torch": torch, "tqdm": tqdm, "packaging": pk, "packaging.version": pv})


def load_reference(git_dir):
    """the converter modules, imported from git_dir's HEAD"""
    tmp = tempfile.mkdtemp(prefix="cscs_ref.")
    d = os.path.join(tmp, "cerebras/modelzoo/tools/checkpoint_converters")
    os.makedirs(d)
    for p in ["cerebras", "cerebras/modelzoo", "cerebras/modelzoo/tools", "cerebras/modelzoo/tools/checkpoint_converters"]:
        open(os.path.join(tmp, p, "__init__.py"), "w").close()
    for f in FILES:
        src = subprocess.run(["git", "--git-dir", git_dir, "show", f"{REV}:{PKG}/{f}"], check=True,
                             capture_output=True).stdout
        open(os.path.join(d, f), "wb").write(src)
    _stubs()
    sys.path.insert(0, tmp)
    import importlib
    m = "cerebras.modelzoo.tools.checkpoint_converters."
    return {f[:-3]: importlib.import_module(m + f[:-3]) for f in FILES}


def convert(conv, model, direction, params_from, params_to):
    out = {}
    ok = conv.convert_all_keys(model, out, direction, action_fn_args={"configs": (params_from, params_to)})
    if not ok:
        raise SystemExit(f"{type(conv).__name__}: not every key matched")
    return out


def trainer_state(model):
    """a small Adam state keyed by parameter index, a scheduler, a step: what the steps drop"""
    rng = np.random.default_rng(16)
    state = {}
    for i, (k, v) in enumerate(list(model.items())[:3]):
        state[i] = {"step": np.array(7.0, np.float32), "exp_avg": rng.standard_normal(v.shape).astype(np.float32)}
    return {"optimizer": {"state": state, "param_groups": [{"lr": 0.001, "params": list(state)}]},
            "lr_scheduler": {"last_epoch": 7, "_step_count": 8}, "global_step": 7}


def to_tree(ck):
    """checkpoint -> (tree.json value, {safetensors name: (dtype, array)})"""
    ts = {}

    def walk(v, path):
        if isinstance(v, dict):
            node = {str(k): walk(x, f"{path}.{k}" if path else str(k)) for k, x in v.items()}
            return {"__intkeys__": node} if v and all(isinstance(k, int) for k in v) else node
        if isinstance(v, list):
            return [walk(x, f"{path}.{i}") for i, x in enumerate(v)]
        if isinstance(v, np.ndarray):
            if path not in ts:
                ts[path] = ({np.dtype(np.float32): "F32", np.dtype(np.int64): "I64"}[v.dtype], v)
            return "*" + path
        return v
    return walk(ck, ""), ts


def write_side(d, ck, params):
    os.makedirs(d, exist_ok=True)
    tree, ts = to_tree(ck)
    json.dump(tree, open(os.path.join(d, "tree.json"), "w"), indent=1)
    stfile.write(os.path.join(d, "model.safetensors"), ts)
    yaml.safe_dump(params, open(os.path.join(d, "params.yaml"), "w"), indent=4)


def params_up(p):
    q = copy.deepcopy(p)
    q.pop("cerebras", None)
    return q


def case(ref, out_dir, name, model, down, conv, tgt, m17, p17, notes, rename_in=None, extra_in=None):
    """in/: the reference's downgrade (converter `down`, cs-1.7 -> cs-1.6) of the cs-1.7 model m17
    (+ a trainer state); out/: the reference's conversion of that to tgt by converter `conv` and its
    config converter"""
    bc = ref["base_converter"]
    p16 = copy.deepcopy(p17)
    p16["cerebras"] = {"save_iter_state_path": ""}   # an R1.x section the step drops
    m16 = convert(down, m17, 1, p17, p16)
    for old, new in (rename_in or {}).items():
        m16 = {(new if k == old else k): v for k, v in m16.items()}
    for k, src in (extra_in or {}).items():
        m16[k] = m16[src]
    ck_in = {"model": m16, **trainer_state(m16)}
    rights = conv.formats()[1]
    idx = bc.FormatIndices(direction=0, src_index=0, tgt_index=list(rights).index(tgt))
    p_out = conv.get_config_converter_class().convert(model, copy.deepcopy(p16), idx)
    up = convert(conv, m16, 0, p16, p_out)
    d = os.path.join(out_dir, name)
    write_side(os.path.join(d, "in"), ck_in, p16)
    write_side(os.path.join(d, "out"), {"model": up}, p_out)
    json.dump({"model": model, "src_fmt": "cs-1.6", "tgt_fmt": tgt, "converter": type(conv).__name__,
               "config_converter": conv.get_config_converter_class().__name__, "direction": 0, "fallback": False,
               "input_from": "the reference's cs-1.7 -> cs-1.6 (" + type(down).__name__ + ") of " + notes[0],
               "notes": notes[1:]}, open(os.path.join(d, "case.json"), "w"), indent=2)


def link_repeats(out_dir):
    """a file whose bytes an earlier file already has becomes a relative symlink to it (as
    tools/copy_cscs_golden.py does): the cases of one model share their in/"""
    seen = {}
    for root, _, files in sorted(os.walk(out_dir)):
        for f in sorted(files):
            p = os.path.join(root, f)
            if os.path.islink(p):
                continue
            data = open(p, "rb").read()
            if data in seen:
                os.remove(p)
                os.symlink(os.path.relpath(seen[data], root), p)
            else:
                seen[data] = p


def down_case(ref, out_dir, name, model, conv, src, m, p, notes):
    """in/: the cs-`src` model m (+ a trainer state) with params p; out/: the reference's
    conversion of it to cs-1.6 by converter `conv` (direction 1) and its config converter"""
    bc = ref["base_converter"]
    idx = bc.FormatIndices(direction=1, src_index=list(conv.formats()[1]).index(src), tgt_index=0)
    p_out = conv.get_config_converter_class().convert(model, copy.deepcopy(p), idx)
    down = convert(conv, m, 1, p_out, p)
    d = os.path.join(out_dir, name)
    write_side(os.path.join(d, "in"), {"model": m, **trainer_state(m)}, p)
    write_side(os.path.join(d, "out"), {"model": down}, p_out)
    json.dump({"model": model, "src_fmt": src, "tgt_fmt": "cs-1.6", "converter": type(conv).__name__,
               "config_converter": conv.get_config_converter_class().__name__, "direction": 1, "fallback": False,
               "input_from": notes[0], "notes": notes[1:]}, open(os.path.join(d, "case.json"), "w"), indent=2)


def dpo_cases(ref, out_dir):
    """DPO <-> no DPO at cs-2.1 (Converter_NON_DPO_TO_DPO_CS21 and its config converter), whole
    checkpoints as the reference's convert_helper makes them (trainer state carried, __metadata__
    appended): up, a gpt2 model (the HF -> CS vector of tests/golden/gpt2) with a trainer state and
    params naming it in model_name; down, the up conversion's output"""
    bc, conv = ref["base_converter"], ref["dpo"].Converter_NON_DPO_TO_DPO_CS21()
    ts = stfile.read(os.path.join(ROOT, "tests/golden/gpt2/cs/model.safetensors"))
    m = {k[len("model."):]: np.array(a, np.float32) for k, (dt, a) in ts.items()}
    p = yaml.safe_load(open(os.path.join(ROOT, "tests/golden/gpt2/cs/params.yaml")))
    p["model"]["model_name"] = "gpt2"
    fmts = [f[0] for f in conv.formats()]   # ["cs-2.1-no-dpo", "cs-2.1-dpo"]
    ck = {"model": m, **trainer_state(m)}
    for d, name in ((0, "dpo-2.1-no-dpo-to-dpo"), (1, "dpo-2.1-dpo-to-no-dpo")):
        idx = bc.FormatIndices(direction=d, src_index=0, tgt_index=0)
        p_out = conv.get_config_converter_class().convert("dpo", copy.deepcopy(p), idx)
        configs = (p, p_out) if d == 0 else (p_out, p)
        ck_out = conv.convert_helper(copy.deepcopy(ck), configs, idx, output_checkpoint={})
        dd = os.path.join(out_dir, name)
        write_side(os.path.join(dd, "in"), ck, p)
        write_side(os.path.join(dd, "out"), ck_out, p_out)
        json.dump({"model": "dpo", "src_fmt": fmts[d], "tgt_fmt": fmts[1 - d], "converter": type(conv).__name__,
                   "config_converter": conv.get_config_converter_class().__name__, "direction": d, "fallback": False,
                   "input_from": "tests/golden/gpt2/cs (HF -> CS vector) with model_name: gpt2 and a trainer state"
                   if d == 0 else "dpo-2.1-no-dpo-to-dpo/out",
                   "notes": ["the whole checkpoint by the converter's convert_helper: other entries carried, "
                             "__metadata__ record appended (version 2.1.0)",
                             "ref_model.model.* is the same tensor as policy_model.model.* (written after every policy key)"
                             if d == 0 else "ref_model.model.* dropped, policy_model.model. removed; dpo dropped from the params"]},
                  open(os.path.join(dd, "case.json"), "w"), indent=2)
        ck, p = ck_out, p_out


def bert_17(golden):
    ts = stfile.read(os.path.join(ROOT, "tests/golden", golden, "cs/model.safetensors"))
    m = {}
    for k, (dt, a) in ts.items():
        k = k[len("model."):].replace("embedding_layer.position_embeddings.embed.weight", "embedding_layer.position_embeddings.weight")
        m[k] = np.array(a, np.float32)
    p = yaml.safe_load(open(os.path.join(ROOT, "tests/golden", golden, "cs/params.yaml")))
    for k in ("name", "pooler_nonlinearity", "mlm_nonlinearity"):   # not in the cs-1.7 layout
        p["model"].pop(k, None)
    return m, p


def t5_17():
    d = os.path.join(ROOT, "tests/golden/cscs/t5-1.8-to-1.9/in")
    tree = json.load(open(os.path.join(d, "tree.json")))
    ts = stfile.read(os.path.join(d, "model.safetensors"))
    m = {k: np.array(ts[v[1:]][1], np.float32) for k, v in tree["model"].items()}
    p = yaml.safe_load(open(os.path.join(d, "params.yaml")))
    p["model"]["use_pre_encoder_decoder_layer_norm"] = not p["model"].get("use_pre_encoder_decoder_layer_norm", True)
    return m, p


# cs-2.1 sparsity sections, as the cs-2.1 docs allow them, beside the shared vector's static one
SPARSITY_21 = [
    {"type": "static", "sparsity": 0.3, "param_name_patterns": "(.*proj_[qkv]_dense_layer.weight)|(.*linear_layer.weight)"},
    {"type": "gmp", "sparsity": {"type": "linear", "init": 0.0, "slope": 0.001}, "schedule": 100,
     "param_name_patterns": [".*dense_layer.weight", ".*linear_layer.weight"]},
    {"algorithm": "static", "sparsity_schedule": [[0, 0.1], [100, 0.3], [200, 0.5]], "param_name_patterns": ".*weight"},
    {"type": "set", "sparsity": 0.5, "schedule": 1, "drop_fraction": 0.3,
     "param_name_patterns": {".*proj_q.*": {"sparsity": 0.7}, ".*linear_layer.weight": {"sparsity": 0.2, "type": "gmp"}}},
    {"type": "static", "sparsity": 0.4},
    {"type": "static", "sparsity": [0.1, 0.2]},
    {"sparsity": 0.4},
    {"type": "rigl", "sparsity": 0.6, "schedule": 50, "init_method": "topk"},
    0.25,
]


def sparsity_cases(ref):
    """[{in: the 2.1 section, out: the 2.2 one}] by BaseConfigConverter_CS_CS._convert_sparsity_params_2_2"""
    conv = ref["base_converter"].BaseConfigConverter_CS_CS
    out = []
    for sp in SPARSITY_21:
        cfg = {"sparsity": copy.deepcopy(sp)}
        conv._convert_sparsity_params_2_2(None, cfg)
        out.append({"in": sp, "out": cfg["sparsity"]})
    return out


def main(argv):
    if len(argv) != 3:
        raise SystemExit(__doc__)
    ref = load_reference(argv[1])
    out = argv[2]
    bert, ft, t5 = ref["bert"], ref["bert_finetune"], ref["t5"]
    m, p = bert_17("bert")
    for tgt, conv in (("cs-1.7", bert.Converter_BertPretrainModel_CS16_CS17()), ("cs-2.0", bert.Converter_BertPretrainModel_CS16_CS18())):
        case(ref, out, f"bert-1.6-to-{tgt[3:]}", "bert", bert.Converter_BertPretrainModel_CS16_CS17(), conv, tgt, m, p,
             ["tests/golden/bert/cs (HF -> CS vector, cs-1.7 position-embedding name)",
              "the embeddings LayerNorm of in/ uses the old .gamma/.beta names",
              "position_ids and cls.predictions.bias of in/ are dropped; the trainer state is dropped"],
             {"bert.embeddings.LayerNorm.weight": "bert.embeddings.LayerNorm.gamma",
              "bert.embeddings.LayerNorm.bias": "bert.embeddings.LayerNorm.beta"})
    p18 = copy.deepcopy(p)
    p18["model"].update(pooler_nonlinearity=p18["model"]["encoder_nonlinearity"], mlm_nonlinearity="gelu")
    for src, conv, pp in (("cs-1.7", bert.Converter_BertPretrainModel_CS16_CS17(), p), ("cs-2.0", bert.Converter_BertPretrainModel_CS16_CS18(), p18)):
        down_case(ref, out, f"bert-{src[3:]}-to-1.6", "bert", conv, src, m, pp,
                  ["tests/golden/bert/cs (HF -> CS vector, cs-1.7 position-embedding name)",
                   "going down the reference makes HF's position_ids buffer (arange of max_position_embeddings, shape [1, N], int64) "
                   "and a second copy of the MLM decoder bias (cls.predictions.bias, the same tensor); the trainer state is dropped"])
    down_case(ref, out, "bert-2.0-prefixed-to-1.6", "bert", bert.Converter_BertPretrainModel_CS16_CS18(), "cs-2.0",
              {"model." + k: v for k, v in m.items()}, p18,
              ["tests/golden/bert/cs (HF -> CS vector, cs-1.7 position-embedding name), keys under the 2.x trainer's model.",
               "going down the reference drops the model. prefix (Converter_BertPretrainModel_CS16_CS18's second rule)"])
    m, p = bert_17("bert-sequence-classifier")
    down_case(ref, out, "bert-sequence-classifier-1.7-to-1.6", "bert-sequence-classifier", ft.Converter_BertFinetuneModel_CS16_CS17(),
              "cs-1.7", m, p, ["tests/golden/bert-sequence-classifier/cs (HF -> CS vector, cs-1.7 position-embedding name)",
                               "going down the reference makes HF's position_ids buffer; the trainer state is dropped"])
    for tgt, conv in (("cs-1.7", ft.Converter_BertFinetuneModel_CS16_CS17()), ("cs-1.9", ft.Converter_BertFinetuneModel_CS16_CS18())):
        case(ref, out, f"bert-sequence-classifier-1.6-to-{tgt[3:]}", "bert-sequence-classifier",
             ft.Converter_BertFinetuneModel_CS16_CS17(), conv, tgt, m, p,
             ["tests/golden/bert-sequence-classifier/cs (HF -> CS vector, cs-1.7 position-embedding name)",
              "position_ids of in/ is dropped; the trainer state is dropped"])
    m, p = t5_17()
    for tgt, conv in (("cs-1.7", t5.Converter_T5_CS16_CS17()), ("cs-1.8", t5.Converter_T5_CS16_CS18())):
        case(ref, out, f"t5-1.6-to-{tgt[3:]}", "t5", t5.Converter_T5_CS16_CS17(), conv, tgt, m, p,
             ["tests/golden/cscs/t5-1.8-to-1.9/in (the shared t5 chain's cs-1.8 start; use_pre_encoder_decoder_layer_norm flipped back)",
              "relative_attention_bias of every block of in/: block 0's becomes relative_position_<stack>, the others are dropped",
              "<stack>.embed_tokens.weight of in/ (added: HF-like names tied to the word embeddings) are dropped; the trainer state is dropped"],
             extra_in={"encoder.embed_tokens.weight": "encoder_token_embedding.weight",
                       "decoder.embed_tokens.weight": "decoder_token_embedding.weight"})
    dpo_cases(ref, out)
    link_repeats(out)
    json.dump(sparsity_cases(ref), open(os.path.join(out, "sparsity-2.1-to-2.2.json"), "w"), indent=1)


if __name__ == "__main__":
    main(sys.argv)
