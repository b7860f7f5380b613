#!/usr/bin/python3
"""Write the qwen2 golden case: a tiny random Qwen2ForCausalLM and what converting it must give.

usage: make_qwen2_case.py [OUTDIR]   (default tests/golden/qwen2; deterministic: seed 0)

Written without ckconv: the expected CS side comes from this script's own key map and its own
numpy RoPE permutation, taken from the definition (reference notes §8.2): HF applies rotary
"rotate-half" (within a head, element i pairs with i + r/2), CS interleaves pairs (2i, 2i+1);
HF -> CS moves row i to 2i and row i + r/2 to 2i + 1 in every head. Qwen2's q/k biases are
1-D: their elements are the rows and move the same way.

  OUTDIR/hf/        config.json + model.safetensors       (the input)
  OUTDIR/cs/        model.safetensors + params.yaml       (the packed checkpoint, flattened)
  OUTDIR/hf_back/   config.json + model.safetensors       (what CS -> HF must give)
  OUTDIR/case.json  model and formats, read by tests/e2e/golden.sh
"""
import json, os, struct, sys
import numpy as np
import yaml
import stfile

H, I, L, V, NH, KV = 64, 160, 2, 96, 4, 2   # hidden, MLP, layers, vocab, heads, KV heads
HD = H // NH                                # head dim = rotary dim


def write_json(path, obj):
    with open(path, "w") as f:
        json.dump(obj, f, indent=2, sort_keys=True)
        f.write("\n")


def rope_interleave(t, groups):
    """HF rotate-half rows -> CS interleaved rows, per group of HD rows (1-D: elements)."""
    g = t.reshape(groups, HD, *t.shape[1:])
    out = np.empty_like(g)
    out[:, 0::2] = g[:, : HD // 2]   # CS row 2i     <- HF row i
    out[:, 1::2] = g[:, HD // 2 :]   # CS row 2i + 1 <- HF row i + r/2
    return out.reshape(t.shape)


def hf_model(rng):
    r = lambda *s: (rng.standard_normal(s) * 0.02).astype("<f4")
    t = {"model.embed_tokens.weight": r(V, H), "model.norm.weight": 1 + r(H), "lm_head.weight": r(V, H)}
    for i in range(L):
        p = f"model.layers.{i}."
        t.update({
            p + "self_attn.q_proj.weight": r(H, H), p + "self_attn.q_proj.bias": r(H),
            p + "self_attn.k_proj.weight": r(KV * HD, H), p + "self_attn.k_proj.bias": r(KV * HD),
            p + "self_attn.v_proj.weight": r(KV * HD, H), p + "self_attn.v_proj.bias": r(KV * HD),
            p + "self_attn.o_proj.weight": r(H, H),          # Qwen2: no o_proj bias
            p + "mlp.gate_proj.weight": r(I, H), p + "mlp.up_proj.weight": r(I, H),
            p + "mlp.down_proj.weight": r(H, I),
            p + "input_layernorm.weight": 1 + r(H), p + "post_attention_layernorm.weight": 1 + r(H)})
    return t


# HF name (after "model.layers.N.") -> CS name (after "transformer_decoder.layers.N."), RoPE groups
LAYER_MAP = {
    "self_attn.q_proj": ("self_attn.proj_q_dense_layer", NH),
    "self_attn.k_proj": ("self_attn.proj_k_dense_layer", KV),
    "self_attn.v_proj": ("self_attn.proj_v_dense_layer", None),
    "self_attn.o_proj": ("self_attn.proj_output_dense_layer", None),
    "mlp.up_proj": ("ffn.ffn.0.linear_layer", None),
    "mlp.gate_proj": ("ffn.ffn.0.linear_layer_for_glu", None),
    "mlp.down_proj": ("ffn.ffn.1.linear_layer", None),
    "input_layernorm": ("norm1", None),
    "post_attention_layernorm": ("norm3", None),
}


def cs_model(hf):
    """The packed checkpoint flattened: every key under the `model` dict, hence `model.`."""
    cs = {}
    for k, v in hf.items():
        if k == "lm_head.weight":
            cs["model.lm_head.weight"] = v
        elif k == "model.embed_tokens.weight":
            cs["model.embedding_layer.word_embeddings.weight"] = v
        elif k == "model.norm.weight":   # CS registers the final norm under two names
            cs["model.transformer_decoder.norm.weight"] = v
            cs["model.ln_f.weight"] = v
        else:
            _, _, n, rest = k.split(".", 3)            # model.layers.N.<module>.<weight|bias>
            module, param = rest.rsplit(".", 1)
            name, groups = LAYER_MAP[module]
            cs[f"model.transformer_decoder.layers.{n}.{name}.{param}"] = rope_interleave(v, groups) if groups else v
    return cs


HF_CONFIG = {
    "architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2", "attention_dropout": 0.0,
    "bos_token_id": 1, "eos_token_id": 2, "hidden_act": "silu", "hidden_size": H,
    "initializer_range": 0.02, "intermediate_size": I, "max_position_embeddings": 256,
    "max_window_layers": L, "num_attention_heads": NH, "num_hidden_layers": L,
    "num_key_value_heads": KV, "rms_norm_eps": 1e-06, "rope_scaling": None, "rope_theta": 1000000.0,
    "sliding_window": 256, "tie_word_embeddings": False, "torch_dtype": "float32",
    "transformers_version": "4.43.1", "use_cache": True, "use_sliding_window": False, "vocab_size": V}

# CS params: a LLaMA-style decoder whose q/k/v projections carry biases (and o_proj does not:
# that is use_ffn_bias_in_attention)
CS_PARAMS = {"model": {
    "name": "qwen2", "vocab_size": V, "hidden_size": H, "num_hidden_layers": L, "num_heads": NH,
    "filter_size": I, "max_position_embeddings": 256, "rope_theta": 1000000.0,
    "initializer_range": 0.02, "layer_norm_epsilon": 1e-06, "share_embedding_weights": False,
    "nonlinearity": "swiglu", "attention_module": "multiquery_attention",
    "extra_attention_params": {"num_kv_groups": KV}, "pos_scaling_factor": 1.0, "rotary_dim": HD,
    "position_embedding_type": "rotary", "norm_type": "rmsnorm", "norm_first": True,
    "embedding_layer_norm": False, "embedding_dropout_rate": 0.0, "attention_dropout_rate": 0.0,
    "dropout_rate": 0.0, "attention_type": "scaled_dot_product", "use_ffn_bias": False,
    "use_ffn_bias_in_attention": False, "use_projection_bias_in_attention": True,
    "use_bias_in_output": False, "use_ff_layer1_dropout": False}}

# CS -> HF: the keys CS params determine (token ids, dtype and the inert window sizes are gone)
HF_BACK_CONFIG = {k: HF_CONFIG[k] for k in (
    "architectures", "model_type", "hidden_act", "hidden_size", "initializer_range",
    "intermediate_size", "max_position_embeddings", "num_attention_heads", "num_hidden_layers",
    "num_key_value_heads", "rms_norm_eps", "rope_scaling", "rope_theta", "tie_word_embeddings",
    "use_sliding_window", "vocab_size")}


def main(out):
    rng = np.random.default_rng(0)
    hf = hf_model(rng)
    cs = cs_model(hf)
    for d in ("hf", "cs", "hf_back"):
        os.makedirs(os.path.join(out, d), exist_ok=True)
    write_json(os.path.join(out, "hf", "config.json"), HF_CONFIG)
    stfile.write_f32(os.path.join(out, "hf", "model.safetensors"), hf)
    stfile.write_f32(os.path.join(out, "cs", "model.safetensors"), cs)
    with open(os.path.join(out, "cs", "params.yaml"), "w") as f:
        yaml.safe_dump(CS_PARAMS, f, default_flow_style=False, sort_keys=True)
    write_json(os.path.join(out, "hf_back", "config.json"), HF_BACK_CONFIG)
    stfile.write_f32(os.path.join(out, "hf_back", "model.safetensors"), hf)   # lossless: same tensors
    write_json(os.path.join(out, "case.json"), {
        "model": "qwen2", "src_fmt": "hf", "tgt_fmt": "cs-2.9", "components": [],
        "hf_tensors": len(hf), "cs_tensors": len(cs),
        "note": "made by tools/make_qwen2_case.py (numpy), not by the reference converter"})
    print(f"wrote {out}: {len(hf)} HF tensors, {len(cs)} CS tensors")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "tests/golden/qwen2")
