#!/usr/bin/python3
"""make_many_model.py - a GPT-2 HF directory (config.json + model.safetensors, float32) for the
many-tensors cases of `make bench` and tests/e2e/many.sh:

  make_many_model.py OUT LAYERS          n_embd 8: 12 tensors per layer + 4 (LAYERS 1667: 20,008
                                         tensors, 5.8 MB; the cost per tensor)
  make_many_model.py --like N OUT        one layer, the vocabulary grown so the model holds about as
                                         many bytes as the N-layer model in a few tensors (wte is
                                         nearly all of it: the cost per byte)
"""
import argparse
import json
import os
import struct

import numpy as np

E = 8


def layer_bytes(layers):
    per_layer = 4 * (2 * E + 3 * E * E + 3 * E + E * E + E + 2 * E + 4 * E * E + 4 * E + 4 * E * E + E)
    return 4 * (16 * E + 8 * E + 2 * E) + layers * per_layer


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--like", type=int, help="one layer, as many bytes as this many layers")
    ap.add_argument("out")
    ap.add_argument("layers", type=int, nargs="?", default=1)
    a = ap.parse_args()
    L, V = a.layers, 16
    if a.like:
        L = 1
        V = max(16, (layer_bytes(a.like) - layer_bytes(1)) // (4 * E) + 16)
    os.makedirs(a.out, exist_ok=True)
    cfg = {"activation_function": "gelu_new", "architectures": ["GPT2LMHeadModel"], "attn_pdrop": 0.1,
           "bos_token_id": 0, "embd_pdrop": 0.1, "eos_token_id": 0, "initializer_range": 0.02,
           "layer_norm_epsilon": 1e-05, "model_type": "gpt2", "n_ctx": 8, "n_embd": E, "n_head": 2,
           "n_inner": None, "n_layer": L, "n_positions": 8, "reorder_and_upcast_attn": False,
           "resid_pdrop": 0.1, "scale_attn_by_inverse_layer_idx": False, "scale_attn_weights": True,
           "tie_word_embeddings": True, "vocab_size": V}
    with open(os.path.join(a.out, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    shapes = {"transformer.wte.weight": (V, E), "transformer.wpe.weight": (8, E),
              "transformer.ln_f.weight": (E,), "transformer.ln_f.bias": (E,)}
    for i in range(L):
        p = "transformer.h.%d." % i
        shapes.update({p + "ln_1.weight": (E,), p + "ln_1.bias": (E,), p + "attn.c_attn.weight": (E, 3 * E),
                       p + "attn.c_attn.bias": (3 * E,), p + "attn.c_proj.weight": (E, E),
                       p + "attn.c_proj.bias": (E,), p + "ln_2.weight": (E,), p + "ln_2.bias": (E,),
                       p + "mlp.c_fc.weight": (E, 4 * E), p + "mlp.c_fc.bias": (4 * E,),
                       p + "mlp.c_proj.weight": (4 * E, E), p + "mlp.c_proj.bias": (E,)})
    rng = np.random.default_rng(12)
    hdr, off, blobs = {}, 0, []
    for k in sorted(shapes):
        arr = (rng.standard_normal(shapes[k]) * 0.02).astype("<f4")
        hdr[k] = {"dtype": "F32", "shape": list(arr.shape), "data_offsets": [off, off + arr.nbytes]}
        off += arr.nbytes
        blobs.append(arr.tobytes())
    h = json.dumps(hdr, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(os.path.join(a.out, "model.safetensors"), "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))
    print("%s: %d tensors, %d bytes" % (a.out, len(shapes), off))


if __name__ == "__main__":
    main()
