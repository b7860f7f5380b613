#!/usr/bin/python3
"""Write the benchmark's synthetic LLaMA: HF layout, bf16, random bytes, two shards.

usage: make_bench_model.py OUTDIR [LAYERS]          (default 8 layers: about 1 GB; 16: about 1.7 GB)
       make_bench_model.py --llava OUTDIR [LAYERS]  (OUTDIR/image_model: a CLIP ViT-L/14-336-shaped
                                                    encoder, 12 layers; OUTDIR/text_model: the LLaMA
                                                    with LAYERS // 2 layers and LLaVA's projector)

hidden 2048, intermediate 5504, vocab 32000, 16 heads / 4 KV heads. The tensor bytes come from
os.urandom (bf16 bit patterns, so some are NaN or inf: ckconv moves bytes, it never reads
values), written tensor by tensor in 16 MiB pieces, so the script's memory stays small.
Writes config.json, model-0000{1,2}-of-00002.safetensors and model.safetensors.index.json,
the last file only when everything else is complete.
"""
import json
import os
import struct
import sys

H, I, V, NH, KV = 2048, 5504, 32000, 16, 4
PIECE = 16 << 20


def tensors(layers):
    hd = H // NH
    t = [("model.embed_tokens.weight", [V, H])]
    for i in range(layers):
        p = f"model.layers.{i}."
        t += [(p + "self_attn.q_proj.weight", [H, H]), (p + "self_attn.k_proj.weight", [KV * hd, H]),
              (p + "self_attn.v_proj.weight", [KV * hd, H]), (p + "self_attn.o_proj.weight", [H, H]),
              (p + "mlp.gate_proj.weight", [I, H]), (p + "mlp.up_proj.weight", [I, H]),
              (p + "mlp.down_proj.weight", [H, I]), (p + "input_layernorm.weight", [H]),
              (p + "post_attention_layernorm.weight", [H])]
    t += [("model.norm.weight", [H]), ("lm_head.weight", [V, H])]
    return t


CH, CI, CNH, CL, IMG, PATCH = 1024, 4096, 16, 12, 336, 14  # CLIP ViT-L/14-336


def clip_tensors():
    pos = (IMG // PATCH) ** 2 + 1
    v = "vision_model."
    t = [(v + "embeddings.class_embedding", [CH]), (v + "embeddings.patch_embedding.weight", [CH, 3, PATCH, PATCH]),
         (v + "embeddings.position_embedding.weight", [pos, CH]),
         (v + "pre_layrnorm.weight", [CH]), (v + "pre_layrnorm.bias", [CH]),
         (v + "post_layernorm.weight", [CH]), (v + "post_layernorm.bias", [CH])]
    for i in range(CL):
        p = f"{v}encoder.layers.{i}."
        for n in ("q_proj", "k_proj", "v_proj", "out_proj"):
            t += [(p + f"self_attn.{n}.weight", [CH, CH]), (p + f"self_attn.{n}.bias", [CH])]
        t += [(p + "mlp.fc1.weight", [CI, CH]), (p + "mlp.fc1.bias", [CI]), (p + "mlp.fc2.weight", [CH, CI]),
              (p + "mlp.fc2.bias", [CH])]
        for n in ("layer_norm1", "layer_norm2"):
            t += [(p + n + ".weight", [CH]), (p + n + ".bias", [CH])]
    return t


def projector_tensors():
    return [("model.mm_projector.0.weight", [H, CH]), ("model.mm_projector.0.bias", [H]),
            ("model.mm_projector.2.weight", [H, H]), ("model.mm_projector.2.bias", [H])]


def dtype(item):
    return item[2] if len(item) > 2 else "BF16"


def nbytes(shape, dt="BF16"):
    n = 8 if dt == "I64" else 2
    for d in shape:
        n *= d
    return n


def write_shard(path, items):
    # the layout Python's safetensors writes: names sorted, offsets in that order, header
    # padded with spaces to a multiple of 8
    hdr, off = {"__metadata__": {"format": "pt"}}, 0
    for it in sorted(items):
        name, shape, dt = it[0], it[1], dtype(it)
        hdr[name] = {"dtype": dt, "shape": shape, "data_offsets": [off, off + nbytes(shape, dt)]}
        off += nbytes(shape, dt)
    h = json.dumps(hdr, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h)
        for it in sorted(items):
            if dtype(it) == "I64":  # position ids must be valid indices
                f.write(b"".join(struct.pack("<q", k) for k in range(nbytes(it[1], "I64") // 8)))
                continue
            left = nbytes(it[1])
            while left:
                k = min(left, PIECE)
                f.write(os.urandom(k))
                left -= k
    os.replace(tmp, path)
    return off


def write_json(path, obj):
    with open(path, "w") as f:
        json.dump(obj, f, indent=2, sort_keys=True)
        f.write("\n")


def write_model(out, cfg, t):
    """config.json, two shards split at half the bytes in file order (as HF's sharding would),
    and the index, written last."""
    os.makedirs(out, exist_ok=True)
    write_json(os.path.join(out, "config.json"), cfg)
    total = sum(nbytes(it[1], dtype(it)) for it in t)
    shards, acc, cut = [[], []], 0, total // 2
    for it in t:
        shards[0 if acc < cut else 1].append(it)
        acc += nbytes(it[1], dtype(it))
    names = [f"model-0000{i + 1}-of-00002.safetensors" for i in range(2)]
    weight_map = {}
    for fname, items in zip(names, shards):
        write_shard(os.path.join(out, fname), items)
        weight_map.update({it[0]: fname for it in items})
    index = {"metadata": {"total_size": total}, "weight_map": dict(sorted(weight_map.items()))}
    with open(os.path.join(out, "model.safetensors.index.json"), "w") as f:
        json.dump(index, f, indent=2)
        f.write("\n")
    print(f"wrote {out}: {len(t)} tensors, {total} bytes in 2 shards")


def llama_config(layers, arch="LlamaForCausalLM", model_type="llama"):
    return {"architectures": [arch], "model_type": model_type, "hidden_size": H,
            "intermediate_size": I, "num_hidden_layers": layers, "num_attention_heads": NH,
            "num_key_value_heads": KV, "vocab_size": V, "max_position_embeddings": 4096,
            "rms_norm_eps": 1e-05, "rope_theta": 10000.0, "rope_scaling": None, "hidden_act": "silu",
            "initializer_range": 0.02, "tie_word_embeddings": False, "torch_dtype": "bfloat16",
            "bos_token_id": 1, "eos_token_id": 2}


def main(out, layers):
    write_model(out, llama_config(layers), tensors(layers))


def main_llava(out, layers):
    clip = {"architectures": ["CLIPVisionModel"], "model_type": "clip_vision_model", "hidden_size": CH,
            "intermediate_size": CI, "num_attention_heads": CNH, "num_hidden_layers": CL, "image_size": IMG,
            "patch_size": PATCH, "num_channels": 3, "hidden_act": "quick_gelu", "layer_norm_eps": 1e-05,
            "attention_dropout": 0.0, "dropout": 0.0, "initializer_factor": 1.0, "initializer_range": 0.02,
            "projection_dim": 768}
    text = llama_config(layers // 2, "LlavaLlamaForCausalLM", "llava")
    text.update({"mm_hidden_size": CH, "mm_projector_type": "mlp2x_gelu", "mm_vision_select_layer": -2,
                 "mm_vision_select_feature": "patch", "mm_patch_merge_type": "flat", "mm_use_im_start_end": False,
                 "mm_use_im_patch_token": False, "image_aspect_ratio": "pad", "freeze_mm_mlp_adapter": False,
                 "tune_mm_mlp_adapter": False, "mm_vision_tower": "openai/clip-vit-large-patch14-336"})
    write_model(os.path.join(out, "image_model"), clip, clip_tensors())
    write_model(os.path.join(out, "text_model"), text, tensors(layers // 2) + projector_tensors())


if __name__ == "__main__":
    args = sys.argv[1:]
    llava = bool(args) and args[0] == "--llava"
    args = args[1:] if llava else args
    if not args or args[0].startswith("-"):  # no OUTDIR, or an option it does not know (--help)
        sys.exit(__doc__)
    (main_llava if llava else main)(args[0], int(args[1]) if len(args) > 1 else 8)
