#!/usr/bin/python3
"""Write the bundled example: a tiny random LLaMA in HF layout (config.json + model.safetensors).

usage: make_example.py OUTDIR   (deterministic: seed 0)
"""
import json, os, struct, sys
import numpy as np
import stfile


def main(out):
    rng = np.random.default_rng(0)
    H, I, L, V, NH, KV = 64, 128, 2, 128, 4, 2
    hd = H // NH
    cfg = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": H,
           "intermediate_size": I, "num_hidden_layers": L, "num_attention_heads": NH,
           "num_key_value_heads": KV, "vocab_size": V, "max_position_embeddings": 128,
           "rms_norm_eps": 1e-05, "rope_theta": 10000.0, "rope_scaling": None, "hidden_act": "silu",
           "initializer_range": 0.02, "tie_word_embeddings": False, "torch_dtype": "float32",
           "bos_token_id": 1, "eos_token_id": 2}
    r = lambda *s: rng.standard_normal(s).astype("<f4") * 0.02
    t = {"model.embed_tokens.weight": r(V, H), "model.norm.weight": np.ones(H, "<f4"), "lm_head.weight": r(V, H)}
    for i in range(L):
        p = f"model.layers.{i}."
        t.update({p + "self_attn.q_proj.weight": r(H, H), p + "self_attn.k_proj.weight": r(KV * hd, H),
                  p + "self_attn.v_proj.weight": r(KV * hd, H), p + "self_attn.o_proj.weight": r(H, H),
                  p + "mlp.gate_proj.weight": r(I, H), p + "mlp.up_proj.weight": r(I, H),
                  p + "mlp.down_proj.weight": r(H, I), p + "input_layernorm.weight": np.ones(H, "<f4"),
                  p + "post_attention_layernorm.weight": np.ones(H, "<f4")})
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2, sort_keys=True)
        f.write("\n")
    stfile.write_f32(os.path.join(out, "model.safetensors"), t)
    print(f"wrote {out}: {len(t)} tensors")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "examples/tiny-llama")
