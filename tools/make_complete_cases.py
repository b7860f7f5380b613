#!/usr/bin/python3
"""make_complete_cases.py OUT - fixtures for tests/e2e/complete.sh (issue 11 item 8): a tiny llama
(2 layers) whole, split into two shards with an index, with layer 1 missing, with one tensor of
layer 1 missing, and the same three as cstorch-style packed files (CS -> HF). Deterministic."""
import json
import os
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_cstorch_h5 as mc  # noqa: E402
import real_run as rr  # noqa: E402

CFG = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 32, "num_hidden_layers": 2,
       "num_attention_heads": 4, "num_key_value_heads": 2, "intermediate_size": 48, "vocab_size": 64,
       "rms_norm_eps": 1e-05, "tie_word_embeddings": False}


def hf_dir(out, tensors):
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(CFG, f, indent=2)
    rr.save_st(os.path.join(out, "model.safetensors"), tensors)


def shards(out, tensors):
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(CFG, f, indent=2)
    keys = list(tensors)
    parts = [keys[:len(keys) // 2], keys[len(keys) // 2:]]
    wm = {}
    for i, ks in enumerate(parts):
        name = f"model-{i + 1:05d}-of-00002.safetensors"
        rr.save_st(os.path.join(out, name), {k: tensors[k] for k in ks})
        wm.update({k: name for k in ks})
    with open(os.path.join(out, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {}, "weight_map": wm}, f)


def main(out):
    g = rr.Gen(7)
    rr.gen_llama(g, CFG)
    full = g.t
    hf_dir(os.path.join(out, "full"), full)
    shards(os.path.join(out, "sharded"), full)
    hf_dir(os.path.join(out, "no-layer-1"), {k: v for k, v in full.items() if ".layers.1." not in k})
    hf_dir(os.path.join(out, "no-up-1"), {k: v for k, v in full.items() if k != "model.layers.1.mlp.up_proj.weight"})


if __name__ == "__main__":
    main(sys.argv[1])
