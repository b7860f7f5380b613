#!/usr/bin/python3
"""Write the benchmark's synthetic LLaMA: HF layout, bf16, random bytes, two shards.

usage: make_bench_model.py OUTDIR [LAYERS]   (default 8 layers: about 1 GB; 16: about 1.7 GB)

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


def nbytes(shape):
    n = 2
    for d in shape:
        n *= d
    return n


def write_shard(path, items):
    # the layout Python's safetensors writes: names sorted, offsets in that order, header
    # padded with spaces to a multiple of 8
    hdr, off = {"__metadata__": {"format": "pt"}}, 0
    for name, shape in sorted(items):
        hdr[name] = {"dtype": "BF16", "shape": shape, "data_offsets": [off, off + nbytes(shape)]}
        off += nbytes(shape)
    h = json.dumps(hdr, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h)
        for name, shape in sorted(items):
            left = nbytes(shape)
            while left:
                k = min(left, PIECE)
                f.write(os.urandom(k))
                left -= k
    os.replace(tmp, path)
    return off


def main(out, layers):
    os.makedirs(out, exist_ok=True)
    cfg = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": H,
           "intermediate_size": I, "num_hidden_layers": layers, "num_attention_heads": NH,
           "num_key_value_heads": KV, "vocab_size": V, "max_position_embeddings": 4096,
           "rms_norm_eps": 1e-05, "rope_theta": 10000.0, "rope_scaling": None, "hidden_act": "silu",
           "initializer_range": 0.02, "tie_word_embeddings": False, "torch_dtype": "bfloat16",
           "bos_token_id": 1, "eos_token_id": 2}
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2, sort_keys=True)
        f.write("\n")
    t = tensors(layers)
    total = sum(nbytes(s) for _, s in t)
    # split in file order at half the bytes, as HF's sharding would
    shards, acc, cut = [[], []], 0, total // 2
    for name, shape in t:
        shards[0 if acc < cut else 1].append((name, shape))
        acc += nbytes(shape)
    names = [f"model-0000{i + 1}-of-00002.safetensors" for i in range(2)]
    weight_map = {}
    for fname, items in zip(names, shards):
        write_shard(os.path.join(out, fname), items)
        weight_map.update({n: fname for n, _ in items})
    index = {"metadata": {"total_size": total}, "weight_map": dict(sorted(weight_map.items()))}
    with open(os.path.join(out, "model.safetensors.index.json"), "w") as f:
        json.dump(index, f, indent=2)
        f.write("\n")
    print(f"wrote {out}: {len(t)} tensors, {total} bytes in 2 shards")


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 8)
