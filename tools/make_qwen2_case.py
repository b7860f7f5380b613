#!/usr/bin/python3
"""Write the qwen2 golden case: a tiny random Qwen2ForCausalLM in HF layout and, computed here
with numpy alone (no ckconv), what converting it must give.

usage: make_qwen2_case.py [OUTDIR]   (default tests/golden/qwen2; deterministic: seed 2)

  OUTDIR/hf/        config.json + model.safetensors (bf16, like released Qwen2 checkpoints)
  OUTDIR/cs/        model.safetensors (the CS checkpoint's tensors under CS names) + params.yaml
  OUTDIR/hf_back/   config.json + model.safetensors: what CS -> HF must give back
  OUTDIR/case.json  read by tests/e2e/golden.sh

The HF -> CS map written out below is the one of the Cerebras LLaMA converter (prefixes, final
norm written twice, RoPE permutation of q/k rows) with the attention biases that Qwen2 adds; it
deliberately shares nothing with rules/*.yaml so the golden test checks the rules against an
independent statement of the same mapping.
"""
import json, os, struct, sys
import numpy as np

H, NH, KV, I, L, V, POS = 64, 4, 2, 96, 2, 128, 256   # hidden, heads, KV heads, ffn, layers, vocab
HD = H // NH                                          # head dim = rotary dim


def bf16(a):
    """float32 -> bfloat16 bits (round to nearest even, as torch does), as uint16."""
    u = np.ascontiguousarray(a, dtype="<f4").view("<u4").astype(np.uint64)
    return ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype("<u2")


def save_safetensors(path, tensors):
    """tensors: name -> (dtype name, uint16/float array). Layout of Python's safetensors: names
    sorted, data in that order, header padded with spaces to a multiple of 8."""
    hdr, off, blobs = {"__metadata__": {"format": "pt"}}, 0, []
    for name in sorted(tensors):
        dt, a = tensors[name]
        b = np.ascontiguousarray(a).tobytes()
        hdr[name] = {"dtype": dt, "shape": list(a.shape), "data_offsets": [off, off + len(b)]}
        off += len(b)
        blobs.append(b)
    h = json.dumps(hdr, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def write_json(path, obj):
    with open(path, "w") as f:
        json.dump(obj, f, indent=2, sort_keys=True)
        f.write("\n")


def hf_model(rng):
    r = lambda *s: ("BF16", bf16(rng.standard_normal(s) * 0.02))
    norm = lambda: ("BF16", bf16(1.0 + rng.standard_normal(H) * 0.1))   # not all ones: swaps show
    t = {"model.embed_tokens.weight": r(V, H), "model.norm.weight": norm(), "lm_head.weight": r(V, H)}
    for i in range(L):
        p = f"model.layers.{i}."
        t.update({
            p + "self_attn.q_proj.weight": r(NH * HD, H), p + "self_attn.q_proj.bias": r(NH * HD),
            p + "self_attn.k_proj.weight": r(KV * HD, H), p + "self_attn.k_proj.bias": r(KV * HD),
            p + "self_attn.v_proj.weight": r(KV * HD, H), p + "self_attn.v_proj.bias": r(KV * HD),
            p + "self_attn.o_proj.weight": r(H, NH * HD),
            p + "mlp.gate_proj.weight": r(I, H), p + "mlp.up_proj.weight": r(I, H),
            p + "mlp.down_proj.weight": r(H, I),
            p + "input_layernorm.weight": norm(), p + "post_attention_layernorm.weight": norm()})
    return t


def rope_interleave(a, groups):
    """Per group of HD rows (or entries, for a bias): HF rotate-half order [x0..x7, y0..y7] ->
    CS interleaved order [x0, y0, x1, y1, ...]; the row (or entry) contents move unchanged."""
    rest = a.shape[1:]
    return a.reshape(groups, 2, HD // 2, *rest).swapaxes(1, 2).reshape(a.shape)


def cs_model(hf):
    """The CS checkpoint's tensors, named as the CS LLaMA model names them. A CS checkpoint is
    the dict {"model": state_dict, ...}; flattened, every key starts with `model.`."""
    cs = {}
    for k, (dt, a) in hf.items():
        if k == "lm_head.weight":
            cs[k] = (dt, a)
        elif k == "model.embed_tokens.weight":
            cs["embedding_layer.word_embeddings.weight"] = (dt, a)
        elif k == "model.norm.weight":   # the CS model registers the final norm under two names
            cs["transformer_decoder.norm.weight"] = (dt, a)
            cs["ln_f.weight"] = (dt, a)
        else:
            layer, rest = k[len("model.layers."):].split(".", 1)
            d = f"transformer_decoder.layers.{layer}."
            mod, leaf = rest.rsplit(".", 1)
            name = {"self_attn.q_proj": "self_attn.proj_q_dense_layer",
                    "self_attn.k_proj": "self_attn.proj_k_dense_layer",
                    "self_attn.v_proj": "self_attn.proj_v_dense_layer",
                    "self_attn.o_proj": "self_attn.proj_output_dense_layer",
                    "mlp.up_proj": "ffn.ffn.0.linear_layer",
                    "mlp.gate_proj": "ffn.ffn.0.linear_layer_for_glu",
                    "mlp.down_proj": "ffn.ffn.1.linear_layer",
                    "input_layernorm": "norm1",
                    "post_attention_layernorm": "norm3"}[mod]
            if mod == "self_attn.q_proj":
                a = rope_interleave(a, NH)
            elif mod == "self_attn.k_proj":
                a = rope_interleave(a, KV)
            cs[d + name + "." + leaf] = (dt, a)
    return {"model." + k: v for k, v in cs.items()}


HF_CONFIG = {
    "architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2", "attention_dropout": 0.0,
    "bos_token_id": 1, "eos_token_id": 2, "hidden_act": "silu", "hidden_size": H,
    "initializer_range": 0.02, "intermediate_size": I, "max_position_embeddings": POS,
    "max_window_layers": L, "num_attention_heads": NH, "num_hidden_layers": L,
    "num_key_value_heads": KV, "rms_norm_eps": 1e-06, "rope_theta": 1000000.0, "sliding_window": POS,
    "tie_word_embeddings": False, "torch_dtype": "bfloat16", "transformers_version": "4.43.1",
    "use_cache": True, "use_sliding_window": False, "vocab_size": V}

CS_PARAMS = {"model": {
    "name": "qwen2", "vocab_size": V, "hidden_size": H, "num_hidden_layers": L, "num_heads": NH,
    "filter_size": I, "max_position_embeddings": POS, "rope_theta": 1000000.0,
    "initializer_range": 0.02, "layer_norm_epsilon": 1e-06, "share_embedding_weights": False,
    "nonlinearity": "swiglu", "attention_module": "multiquery_attention",
    "extra_attention_params": {"num_kv_groups": KV}, "pos_scaling_factor": 1.0, "rotary_dim": HD,
    "position_embedding_type": "rotary", "norm_type": "rmsnorm", "norm_first": True,
    "embedding_layer_norm": False, "embedding_dropout_rate": 0.0, "attention_dropout_rate": 0.0,
    "dropout_rate": 0.0, "attention_type": "scaled_dot_product", "use_ffn_bias": False,
    "use_ffn_bias_in_attention": False, "use_projection_bias_in_attention": True,
    "use_bias_in_output": False, "use_ff_layer1_dropout": False}}

# CS -> HF writes what the CS side determines; token ids, dtype and versions have no CS
# counterpart, and with the window off the sliding-window sizes are left to HF's defaults
HF_BACK_CONFIG = {k: v for k, v in HF_CONFIG.items() if k not in (
    "attention_dropout", "bos_token_id", "eos_token_id", "torch_dtype", "transformers_version",
    "use_cache", "sliding_window", "max_window_layers")}
HF_BACK_CONFIG["rope_scaling"] = None


def main(out):
    import yaml
    hf = hf_model(np.random.default_rng(2))
    cs = cs_model(hf)
    for d in ("hf", "cs", "hf_back"):
        os.makedirs(os.path.join(out, d), exist_ok=True)
    write_json(os.path.join(out, "hf", "config.json"), HF_CONFIG)
    save_safetensors(os.path.join(out, "hf", "model.safetensors"), hf)
    save_safetensors(os.path.join(out, "cs", "model.safetensors"), cs)
    with open(os.path.join(out, "cs", "params.yaml"), "w") as f:
        yaml.safe_dump(CS_PARAMS, f, sort_keys=True)
    write_json(os.path.join(out, "hf_back", "config.json"), HF_BACK_CONFIG)
    save_safetensors(os.path.join(out, "hf_back", "model.safetensors"), hf)   # a lossless round trip
    write_json(os.path.join(out, "case.json"), {"model": "qwen2", "src_fmt": "hf", "tgt_fmt": "cs-2.9",
                                                "components": [], "hf_tensors": len(hf), "cs_tensors": len(cs)})
    print(f"wrote {out}: {len(hf)} HF tensors, {len(cs)} CS tensors")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "tests/golden/qwen2")
