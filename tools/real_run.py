#!/usr/bin/python3
"""real_run.py - run the tests/real corpus: real published configs / params with tiny random weights.

Per case (tests/real/cases/NAME/, see tests/real/README.md):
  from hf: random weights for config.json (or COMPONENT/config.json for each of case.json's `components`;
           with `save_pretrained` in case.json, written without the tied duplicates, tools/drop_tied.py) -> ckconv HF -> CS (params compared with expected/params.yaml)
           -> the packed tensors rewritten as cstorch writes a training checkpoint (model.* keys, LZ4)
           -> ckconv CS -> HF (config compared with expected/config.json, tensors bit for bit).
  from cs: random HF weights of the sizes params.yaml states -> ckconv HF -> CS to get the CS tensors
           -> cstorch-style .mdl -> ckconv CS -> HF with the REAL params.yaml (config(s) compared with
           expected/<component>/config.json, tensors bit for bit unless muP scaling changes them).
  expected/error.txt instead: the conversion must fail with exactly that line.
Prints "ok - ..." / "not ok - ..." lines.  --update rewrites the expected files (review the diff!).
usage: real_run.py [--update] [CASE...]
"""
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile

import numpy as np
import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import drop_tied  # noqa: E402
import make_cstorch_h5 as mc  # noqa: E402

ROOT = os.path.join(HERE, "..", "tests", "real")
CK = os.environ.get("CKCONV", os.path.join(HERE, "..", "bin", "ckconv"))
UPDATE = "--update" in sys.argv


def save_st(path, tensors):
    hdr, off, blobs = {}, 0, []
    for k, a in tensors.items():
        b = a.tobytes()
        dt = {np.float32: "F32", np.int64: "I64"}[a.dtype.type]
        hdr[k] = {"dtype": dt, "shape": list(a.shape), "data_offsets": [off, off + len(b)]}
        off += len(b)
        blobs.append(b)
    h = json.dumps(hdr).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def load_st(path):
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    hdr = json.loads(blob[8:8 + n])
    return {k: (v["dtype"], v["shape"], blob[8 + n + v["data_offsets"][0]:8 + n + v["data_offsets"][1]])
            for k, v in hdr.items() if k != "__metadata__"}


def load_dir(d):
    out = {}
    for name in sorted(os.listdir(d)):
        if name.endswith(".safetensors"):
            out.update(load_st(os.path.join(d, name)))
    return out


class Gen:
    def __init__(self, seed):
        self.rng = np.random.default_rng(seed)
        self.t = {}

    def __call__(self, key, *shape):
        self.t[key] = self.rng.standard_normal(shape).astype(np.float32)


def gen_llama(g, c, p=""):
    H, L, V = c["hidden_size"], c["num_hidden_layers"], c["vocab_size"]
    nh = c["num_attention_heads"]
    kv = c.get("num_key_value_heads") or nh
    hd = c.get("head_dim") or H // nh
    inter = c["intermediate_size"]
    bias = c.get("model_type") == "qwen2" or c.get("attention_bias")
    g(p + "model.embed_tokens.weight", V, H)
    for i in range(L):
        q = f"{p}model.layers.{i}."
        g(q + "self_attn.q_proj.weight", nh * hd, H)
        g(q + "self_attn.k_proj.weight", kv * hd, H)
        g(q + "self_attn.v_proj.weight", kv * hd, H)
        g(q + "self_attn.o_proj.weight", H, nh * hd)
        if bias:
            g(q + "self_attn.q_proj.bias", nh * hd)
            g(q + "self_attn.k_proj.bias", kv * hd)
            g(q + "self_attn.v_proj.bias", kv * hd)
        if c.get("num_local_experts"):
            g(q + "block_sparse_moe.gate.weight", c["num_local_experts"], H)
            for e in range(c["num_local_experts"]):
                g(q + f"block_sparse_moe.experts.{e}.w1.weight", inter, H)
                g(q + f"block_sparse_moe.experts.{e}.w2.weight", H, inter)
                g(q + f"block_sparse_moe.experts.{e}.w3.weight", inter, H)
        else:
            g(q + "mlp.gate_proj.weight", inter, H)
            g(q + "mlp.up_proj.weight", inter, H)
            g(q + "mlp.down_proj.weight", H, inter)
        g(q + "input_layernorm.weight", H)
        g(q + "post_attention_layernorm.weight", H)
    g(p + "model.norm.weight", H)
    if not c.get("tie_word_embeddings", False):
        g(p + "lm_head.weight", V, H)


def gen_gpt2(g, c):
    H, L, V, P = c["n_embd"], c["n_layer"], c["vocab_size"], c["n_positions"]
    inner = c.get("n_inner") or 4 * H
    g("transformer.wte.weight", V, H)
    g("transformer.wpe.weight", P, H)
    for i in range(L):
        q = f"transformer.h.{i}."
        for n in ("ln_1", "ln_2"):
            g(q + n + ".weight", H)
            g(q + n + ".bias", H)
        g(q + "attn.c_attn.weight", H, 3 * H)
        g(q + "attn.c_attn.bias", 3 * H)
        g(q + "attn.c_proj.weight", H, H)
        g(q + "attn.c_proj.bias", H)
        g(q + "mlp.c_fc.weight", H, inner)
        g(q + "mlp.c_fc.bias", inner)
        g(q + "mlp.c_proj.weight", inner, H)
        g(q + "mlp.c_proj.bias", H)
    g("transformer.ln_f.weight", H)
    g("transformer.ln_f.bias", H)
    if not c.get("tie_word_embeddings", True):
        g("lm_head.weight", V, H)


def gen_santacoder(g, c, p="transformer."):
    """GPT2LMHeadCustomModel (multi-query): gen_gpt2 with q_attn / kv_attn for c_attn"""
    gen_gpt2(g, c)
    H, hd = c["n_embd"], c["n_embd"] // c["n_head"]
    for i in range(c["n_layer"]):
        q = f"{p}h.{i}.attn."
        del g.t[q + "c_attn.weight"], g.t[q + "c_attn.bias"]
        g(q + "q_attn.weight", H, H)
        g(q + "q_attn.bias", H)
        g(q + "kv_attn.weight", H, 2 * hd)
        g(q + "kv_attn.bias", 2 * hd)


def gen_starcoder(g, c, p="transformer."):
    """GPTBigCodeForCausalLM: Linear layers ([out, in]); c_attn multi-query (q, one k, one v head) or per head"""
    H, L, V, P = c["n_embd"], c["n_layer"], c["vocab_size"], c["n_positions"]
    inner = c.get("n_inner") or 4 * H
    qkv = H + 2 * (H // c["n_head"]) if c.get("multi_query", True) else 3 * H
    g(p + "wte.weight", V, H)
    g(p + "wpe.weight", P, H)
    for i in range(L):
        q = f"{p}h.{i}."
        for n in ("ln_1", "ln_2"):
            g(q + n + ".weight", H)
            g(q + n + ".bias", H)
        g(q + "attn.c_attn.weight", qkv, H)
        g(q + "attn.c_attn.bias", qkv)
        g(q + "attn.c_proj.weight", H, H)
        g(q + "attn.c_proj.bias", H)
        g(q + "mlp.c_fc.weight", inner, H)
        g(q + "mlp.c_fc.bias", inner)
        g(q + "mlp.c_proj.weight", H, inner)
        g(q + "mlp.c_proj.bias", H)
    g(p + "ln_f.weight", H)
    g(p + "ln_f.bias", H)
    if not c.get("tie_word_embeddings", True):
        g("lm_head.weight", V, H)


def gen_gemma2(g, c):
    """Gemma2ForCausalLM: LLaMA's keys with head_dim of its own and four norms per layer"""
    H, L, V, nh = c["hidden_size"], c["num_hidden_layers"], c["vocab_size"], c["num_attention_heads"]
    kv, hd, inter = c.get("num_key_value_heads") or nh, c.get("head_dim") or 256, c["intermediate_size"]
    g("model.embed_tokens.weight", V, H)
    for i in range(L):
        q = f"model.layers.{i}."
        g(q + "self_attn.q_proj.weight", nh * hd, H)
        g(q + "self_attn.k_proj.weight", kv * hd, H)
        g(q + "self_attn.v_proj.weight", kv * hd, H)
        g(q + "self_attn.o_proj.weight", H, nh * hd)
        g(q + "mlp.gate_proj.weight", inter, H)
        g(q + "mlp.up_proj.weight", inter, H)
        g(q + "mlp.down_proj.weight", H, inter)
        for n in ("input_layernorm", "post_attention_layernorm", "pre_feedforward_layernorm", "post_feedforward_layernorm"):
            g(q + n + ".weight", H)
    g("model.norm.weight", H)
    if not c.get("tie_word_embeddings", True):
        g("lm_head.weight", V, H)


def gen_encoder_layer(g, q, H, I, norms):
    """one BERT-style encoder layer under prefix q: attention, MLP, then its two norms (named by the family)"""
    for n, o, k in (("attention.self.query", H, H), ("attention.self.key", H, H), ("attention.self.value", H, H),
                    ("attention.output.dense", H, H), ("intermediate.dense", I, H), ("output.dense", H, I)):
        g(q + n + ".weight", o, k)
        g(q + n + ".bias", o)
    for n in norms:
        g(q + n + ".weight", H)
        g(q + n + ".bias", H)


def gen_bert(g, c):
    H, L, V, I = c["hidden_size"], c["num_hidden_layers"], c["vocab_size"], c["intermediate_size"]
    g("embeddings.word_embeddings.weight", V, H)
    g("embeddings.position_embeddings.weight", c["max_position_embeddings"], H)
    g("embeddings.token_type_embeddings.weight", c.get("type_vocab_size", 2), H)
    g("embeddings.LayerNorm.weight", H)
    g("embeddings.LayerNorm.bias", H)
    for i in range(L):
        gen_encoder_layer(g, f"encoder.layer.{i}.", H, I, ("attention.output.LayerNorm", "output.LayerNorm"))
    g("pooler.dense.weight", H, H)
    g("pooler.dense.bias", H)


def bert_under(g, c, prefix, pooler):
    """BertModel's tensors (with its pooler or not) under prefix, from g's random stream"""
    inner = Gen(0)
    inner.rng = g.rng
    gen_bert(inner, c)
    g.t.update((prefix + k, v) for k, v in inner.t.items() if pooler or not k.startswith("pooler."))


def gen_bert_head(g, c, arch=None):
    """BertFor* (arch, else architectures[0]): the encoder under bert., the pooler, and the head"""
    arch = arch or (c.get("architectures") or ["BertModel"])[0]
    if arch == "BertModel":
        return gen_bert(g, c)
    H, V = c["hidden_size"], c["vocab_size"]
    bert_under(g, c, "bert.", arch != "BertForTokenClassification")
    n = c.get("num_labels") or len(c.get("id2label") or {}) or 2
    if arch == "BertForPreTraining":
        g("cls.predictions.transform.dense.weight", H, H)
        g("cls.predictions.transform.dense.bias", H)
        g("cls.predictions.transform.LayerNorm.weight", H)
        g("cls.predictions.transform.LayerNorm.bias", H)
        g("cls.predictions.decoder.weight", V, H)
        g("cls.predictions.decoder.bias", V)
        g.t["cls.predictions.bias"] = g.t["cls.predictions.decoder.bias"]
        g("cls.seq_relationship.weight", 2, H)
        g("cls.seq_relationship.bias", 2)
    elif arch == "BertForQuestionAnswering":
        g("qa_outputs.weight", 2, H)
        g("qa_outputs.bias", 2)
    else:
        g("classifier.weight", n, H)
        g("classifier.bias", n)


def gen_roberta(g, c):
    """RobertaForMaskedLM: the BERT encoder under roberta. (no pooler) and the LM head"""
    H, V = c["hidden_size"], c["vocab_size"]
    bert_under(g, c, "roberta.", False)
    g("lm_head.dense.weight", H, H)
    g("lm_head.dense.bias", H)
    g("lm_head.layer_norm.weight", H)
    g("lm_head.layer_norm.bias", H)
    g("lm_head.decoder.weight", V, H)
    g("lm_head.decoder.bias", V)
    g.t["lm_head.bias"] = g.t["lm_head.decoder.bias"]


def gen_esm(g, c):
    """EsmForMaskedLM with rotary positions (the keys the esm-2 rules carry)"""
    H, L, V, I = c["hidden_size"], c["num_hidden_layers"], c["vocab_size"], c["intermediate_size"]
    g("esm.embeddings.word_embeddings.weight", V, H)
    if c.get("emb_layer_norm_before"):
        g("esm.embeddings.layer_norm.weight", H)
        g("esm.embeddings.layer_norm.bias", H)
    for i in range(L):
        gen_encoder_layer(g, f"esm.encoder.layer.{i}.", H, I, ("attention.LayerNorm", "LayerNorm"))
    g("esm.encoder.emb_layer_norm_after.weight", H)
    g("esm.encoder.emb_layer_norm_after.bias", H)
    g("lm_head.dense.weight", H, H)
    g("lm_head.dense.bias", H)
    g("lm_head.layer_norm.weight", H)
    g("lm_head.layer_norm.bias", H)
    g("lm_head.decoder.weight", V, H)
    g("lm_head.bias", V)


def gen_t5(g, c):
    """T5ForConditionalGeneration; gated FFNs (feed_forward_proj gated-*) have wi_0 and wi_1"""
    D, F, V, NH = c["d_model"], c["d_ff"], c["vocab_size"], c["num_heads"]
    inner = c["d_kv"] * NH
    gated = c.get("feed_forward_proj", "relu").startswith("gated-")
    g("shared.weight", V, D)
    g.t["encoder.embed_tokens.weight"] = g.t["shared.weight"]
    g.t["decoder.embed_tokens.weight"] = g.t["shared.weight"]
    for stack, n in (("encoder", c["num_layers"]), ("decoder", c.get("num_decoder_layers") or c["num_layers"])):
        ffn = 1 if stack == "encoder" else 2
        for i in range(n):
            b = f"{stack}.block.{i}.layer."
            for m, o, k in (("q", inner, D), ("k", inner, D), ("v", inner, D), ("o", D, inner)):
                g(f"{b}0.SelfAttention.{m}.weight", o, k)
                if stack == "decoder":
                    g(f"{b}1.EncDecAttention.{m}.weight", o, k)
            if i == 0:
                g(f"{b}0.SelfAttention.relative_attention_bias.weight", c.get("relative_attention_num_buckets", 32), NH)
            for j in range(ffn + 1):
                g(f"{b}{j}.layer_norm.weight", D)
            for w in (("wi_0", "wi_1") if gated else ("wi",)):
                g(f"{b}{ffn}.DenseReluDense.{w}.weight", F, D)
            g(f"{b}{ffn}.DenseReluDense.wo.weight", D, F)
        g(f"{stack}.final_layer_norm.weight", D)
    if c.get("tie_word_embeddings", True):  # the head is the shared embedding
        g.t["lm_head.weight"] = g.t["shared.weight"]
    else:
        g("lm_head.weight", V, D)


def gen_clip(g, c):
    H, L, I = c["hidden_size"], c["num_hidden_layers"], c["intermediate_size"]
    n = (c["image_size"] // c["patch_size"]) ** 2 + 1
    v = "vision_model."
    g(v + "embeddings.class_embedding", H)
    g(v + "embeddings.patch_embedding.weight", H, c.get("num_channels", 3), c["patch_size"], c["patch_size"])
    g(v + "embeddings.position_embedding.weight", n, H)
    for i in range(L):
        q = f"{v}encoder.layers.{i}."
        for m in ("q_proj", "k_proj", "v_proj", "out_proj"):
            g(q + f"self_attn.{m}.weight", H, H)
            g(q + f"self_attn.{m}.bias", H)
        g(q + "mlp.fc1.weight", I, H)
        g(q + "mlp.fc1.bias", I)
        g(q + "mlp.fc2.weight", H, I)
        g(q + "mlp.fc2.bias", H)
        for m in ("layer_norm1", "layer_norm2"):
            g(q + m + ".weight", H)
            g(q + m + ".bias", H)
    for m in ("pre_layrnorm", "post_layernorm"):
        g(v + m + ".weight", H)
        g(v + m + ".bias", H)


def gen_clip_text(g, c, projection_dim):
    """a whole CLIPModel's text tower, projections and logit scale (an image model converts its vision
    tower only: these are what it drops)"""
    H, L, I = c["hidden_size"], c["num_hidden_layers"], c["intermediate_size"]
    t = "text_model."
    g(t + "embeddings.token_embedding.weight", c["vocab_size"], H)
    g(t + "embeddings.position_embedding.weight", c["max_position_embeddings"], H)
    for i in range(L):
        q = f"{t}encoder.layers.{i}."
        for m in ("q_proj", "k_proj", "v_proj", "out_proj"):
            g(q + f"self_attn.{m}.weight", H, H)
            g(q + f"self_attn.{m}.bias", H)
        g(q + "mlp.fc1.weight", I, H)
        g(q + "mlp.fc2.weight", H, I)
    g(t + "final_layer_norm.weight", H)
    g("text_projection.weight", projection_dim, H)
    g("logit_scale")


def gen_llava_text(g, c):
    gen_llama(g, c)
    H, M = c["hidden_size"], c["mm_hidden_size"]
    g("model.mm_projector.0.weight", H, M)
    g("model.mm_projector.0.bias", H)
    g("model.mm_projector.2.weight", H, H)
    g("model.mm_projector.2.bias", H)


def gen_gptj(g, c):
    """GPTJForCausalLM (model_type gptj) and CodeGenForCausalLM (codegen: fused qkv_proj)"""
    H, L, V = c["n_embd"], c["n_layer"], c["vocab_size"]
    inner = c.get("n_inner") or 4 * H
    g("transformer.wte.weight", V, H)
    for i in range(L):
        q = f"transformer.h.{i}."
        if c["model_type"] == "codegen":
            g(q + "attn.qkv_proj.weight", 3 * H, H)
        else:
            for m in ("q_proj", "k_proj", "v_proj"):
                g(q + f"attn.{m}.weight", H, H)
        g(q + "attn.out_proj.weight", H, H)
        g(q + "mlp.fc_in.weight", inner, H)
        g(q + "mlp.fc_in.bias", inner)
        g(q + "mlp.fc_out.weight", H, inner)
        g(q + "mlp.fc_out.bias", H)
        g(q + "ln_1.weight", H)
        g(q + "ln_1.bias", H)
    g("transformer.ln_f.weight", H)
    g("transformer.ln_f.bias", H)
    g("lm_head.weight", V, H)
    g("lm_head.bias", V)


def gen_falcon(g, c):
    """FalconForCausalLM as transformers configures it (model_type falcon), or the remote code's
    RefinedWebModel (7B: multi-query) / RefinedWeb (40B: n_head_kv groups, two LayerNorms)"""
    H, V = c["hidden_size"], c["vocab_size"]
    L, nh = c.get("num_hidden_layers", c.get("n_layer")), c.get("num_attention_heads", c.get("n_head"))
    new = c.get("new_decoder_architecture", c.get("model_type") == "RefinedWeb")
    kv = (c.get("num_kv_heads") or c.get("n_head_kv") or nh) if new else (1 if c.get("multi_query", True) else nh)
    hd, ffn, bias = H // nh, c.get("ffn_hidden_size") or 4 * H, c.get("bias", False)
    two = new and (c.get("num_ln_in_parallel_attn") or 2) == 2
    g("transformer.word_embeddings.weight", V, H)
    for i in range(L):
        q = f"transformer.h.{i}."
        lin = [("self_attention.query_key_value", (nh + 2 * kv) * hd, H), ("self_attention.dense", H, H),
               ("mlp.dense_h_to_4h", ffn, H), ("mlp.dense_4h_to_h", H, ffn)]
        for name, o, n in lin:
            g(q + name + ".weight", o, n)
            if bias:
                g(q + name + ".bias", o)
        for n in (("ln_attn", "ln_mlp") if two else ("input_layernorm",)):
            g(q + n + ".weight", H)
            g(q + n + ".bias", H)
    g("transformer.ln_f.weight", H)
    g("transformer.ln_f.bias", H)
    if not c.get("tie_word_embeddings", True):
        g("lm_head.weight", V, H)


def gen_btlm(g, c):
    """BTLMLMHeadModel / JAISLMHeadModel (remote code): GPT-2's Conv1D layout, the SwiGLU gate
    c_fc2, ALiBi slopes (or learned positions)"""
    H, L, V, inner = c["n_embd"], c["n_layer"], c["vocab_size"], c.get("n_inner") or 4 * c["n_embd"]
    t = "transformer."
    g(t + "wte.weight", V, H)
    if c.get("position_embedding_type", "learned") == "alibi":
        g(t + "relative_pe.slopes", c["n_head"], 1)
    else:
        g(t + "wpe.weight", c["n_positions"], H)
    for i in range(L):
        q = f"{t}h.{i}."
        for n, shape in (("attn.c_attn", (H, 3 * H)), ("attn.c_proj", (H, H)), ("mlp.c_fc", (H, inner)),
                         ("mlp.c_fc2", (H, inner)), ("mlp.c_proj", (inner, H))):
            g(q + n + ".weight", *shape)
            g(q + n + ".bias", shape[1])
        for n in ("ln_1", "ln_2"):
            g(q + n + ".weight", H)
            g(q + n + ".bias", H)
    g(t + "ln_f.weight", H)
    g(t + "ln_f.bias", H)
    g("lm_head.weight", V, H)


def gen_neox(g, c):
    H, L, V, I = c["hidden_size"], c["num_hidden_layers"], c["vocab_size"], c["intermediate_size"]
    g("gpt_neox.embed_in.weight", V, H)
    for i in range(L):
        q = f"gpt_neox.layers.{i}."
        for n, rows, cols in (("attention.query_key_value", 3 * H, H), ("attention.dense", H, H),
                              ("mlp.dense_h_to_4h", I, H), ("mlp.dense_4h_to_h", H, I)):
            g(q + n + ".weight", rows, cols)
            g(q + n + ".bias", rows)
        for n in ("input_layernorm", "post_attention_layernorm"):
            g(q + n + ".weight", H)
            g(q + n + ".bias", H)
    g("gpt_neox.final_layer_norm.weight", H)
    g("gpt_neox.final_layer_norm.bias", H)
    g("embed_out.weight", V, H)


def gen_bloom(g, c):
    H, L, V = c.get("n_embed") or c["hidden_size"], c["n_layer"], c["vocab_size"]
    t = "transformer."
    g(t + "word_embeddings.weight", V, H)
    for n in ("word_embeddings_layernorm", "ln_f"):
        g(t + n + ".weight", H)
        g(t + n + ".bias", H)
    for i in range(L):
        q = f"{t}h.{i}."
        for n, rows, cols in (("self_attention.query_key_value", 3 * H, H), ("self_attention.dense", H, H),
                              ("mlp.dense_h_to_4h", 4 * H, H), ("mlp.dense_4h_to_h", H, 4 * H)):
            g(q + n + ".weight", rows, cols)
            g(q + n + ".bias", rows)
        for n in ("input_layernorm", "post_attention_layernorm"):
            g(q + n + ".weight", H)
            g(q + n + ".bias", H)
    g("lm_head.weight", V, H)


def gen_gpt2_type(g, c):
    """model_type gpt2: GPT2LMHeadModel, or SantaCoder's GPT2LMHeadCustomModel (multi-query attention)"""
    (gen_santacoder if c.get("attention_head_type") == "multiquery" else gen_gpt2)(g, c)


def gen_clip_type(g, c):
    """a CLIP vision tower (clip_vision_model), with its projection for CLIPVisionModelWithProjection, or a
    whole CLIPModel (clip: vision_config and text_config)"""
    gen_clip(g, c.get("vision_config", c))
    if "text_config" in c:  # a whole CLIPModel
        gen_clip_text(g, c["text_config"], c["projection_dim"])
        g("visual_projection.weight", c["projection_dim"], c["vision_config"]["hidden_size"])
    if "CLIPVisionModelWithProjection" in (c.get("architectures") or []):
        g("visual_projection.weight", c["projection_dim"], c["hidden_size"])


def by_config(gen):
    """a generator that needs only the config (the weights' class is its config's)"""
    return lambda g, c, hf_class: gen(g, c)


# the weight generator of an HF config, by its model_type: gen(g, config, hf_class); a type not listed
# gets LLaMA's layout (llama, mistral, mixtral, qwen2, ...)
GENERATORS = {
    "gpt2": by_config(gen_gpt2_type),
    "gptj": by_config(gen_gptj), "codegen": by_config(gen_gptj),
    "falcon": by_config(gen_falcon), "RefinedWeb": by_config(gen_falcon), "RefinedWebModel": by_config(gen_falcon),
    "gpt_bigcode": by_config(gen_starcoder),
    "gemma2": by_config(gen_gemma2),
    "gpt_neox": by_config(gen_neox),
    "bloom": by_config(gen_bloom),
    "btlm": by_config(gen_btlm), "jais": by_config(gen_btlm),
    "bert": gen_bert_head,  # hf_class: the class the published weights are, where the config names another
    "roberta": by_config(gen_roberta),
    "esm": by_config(gen_esm),
    "t5": by_config(gen_t5),
    "clip_vision_model": by_config(gen_clip_type), "clip": by_config(gen_clip_type),
    "llava": by_config(gen_llava_text),
}


# HF configs (sizes only) for the tensors a CS params file implies: used to make its weights.
def cs_model(p):
    t = p.get("trainer")
    return t["init"]["model"] if isinstance(t, dict) else p["model"]


def hf_llama_sizes(m, model_type="llama"):
    nh = m["num_heads"]
    kv = (m.get("extra_attention_params") or {}).get("num_kv_groups", nh)
    c = {"model_type": model_type, "hidden_size": m["hidden_size"], "num_hidden_layers": m["num_hidden_layers"],
         "num_attention_heads": nh, "num_key_value_heads": kv, "intermediate_size": m["filter_size"],
         "vocab_size": m["vocab_size"], "tie_word_embeddings": m.get("share_embedding_weights", True)}
    moe = m.get("moe_params") or m.get("moe") or {}
    if moe.get("num_experts") or m.get("num_experts"):
        c["num_local_experts"] = moe.get("num_experts") or m.get("num_experts")
        c["num_experts_per_tok"] = moe.get("top_k", 2)
    return c


def size(v):
    """an image or patch size: ModelZoo writes [h, w] or one number"""
    return v[0] if isinstance(v, list) else v


def kv_groups(m):
    return (m.get("extra_attention_params") or {}).get("num_kv_groups", m["num_heads"])


def sizes_dpo(m, model):
    """ModelZoo 2.4+'s DPO params nest the model trained in policy_model (its own name); before, model_name"""
    inner = m.get("policy_model") or {**m, "name": m.get("model_name")}
    return weights_for_cs(inner["name"], {"model": inner})


LLAMA_ARCH = {"llama": "LlamaForCausalLM", "mistral": "MistralForCausalLM", "mixtral": "MixtralForCausalLM",
              "qwen2": "Qwen2ForCausalLM"}


def sizes_llama(m, model):
    c = hf_llama_sizes(m, model)
    c.update({"architectures": [LLAMA_ARCH[model]]})
    return {"": c}


def sizes_gpt2(m, model):
    return {"": {"model_type": "gpt2", "architectures": ["GPT2LMHeadModel"], "n_embd": m["hidden_size"],
                 "n_layer": m["num_hidden_layers"], "n_head": m["num_heads"],
                 "n_positions": m["max_position_embeddings"], "n_inner": m["filter_size"],
                 "vocab_size": m["vocab_size"], "tie_word_embeddings": m.get("share_embedding_weights", True)}}


def sizes_gptj(m, model):
    return {"": {"model_type": model, "architectures": [{"gptj": "GPTJForCausalLM", "codegen": "CodeGenForCausalLM"}[model]],
                 "n_embd": m["hidden_size"], "n_layer": m["num_hidden_layers"], "n_head": m["num_heads"],
                 "n_positions": m.get("max_position_embeddings", 1024), "n_inner": m["filter_size"],
                 "rotary_dim": m["rotary_dim"], "vocab_size": m["vocab_size"],
                 "tie_word_embeddings": m.get("share_embedding_weights", True)}}


def sizes_falcon(m, model):
    nh, kv = m["num_heads"], kv_groups(m)
    two = m.get("use_untied_layer_norm", False)
    new = two or kv not in (1, nh)
    return {"": {"model_type": "falcon", "architectures": ["FalconForCausalLM"], "hidden_size": m["hidden_size"],
                 "num_hidden_layers": m["num_hidden_layers"], "num_attention_heads": nh, "num_kv_heads": kv,
                 "new_decoder_architecture": new, "multi_query": kv == 1,
                 "num_ln_in_parallel_attn": 2 if two else (1 if new else None), "parallel_attn": True,
                 "ffn_hidden_size": m["filter_size"], "bias": m.get("use_ffn_bias", False),
                 "max_position_embeddings": m.get("max_position_embeddings", 2048), "vocab_size": m["vocab_size"],
                 "tie_word_embeddings": m.get("share_embedding_weights", True)}}


def sizes_santacoder(m, model):
    return {"": {"model_type": "gpt2", "architectures": ["GPT2LMHeadCustomModel"], "attention_head_type": "multiquery",
                 "n_embd": m["hidden_size"], "n_layer": m["num_hidden_layers"], "n_head": m["num_heads"],
                 "n_positions": m["max_position_embeddings"], "n_inner": m["filter_size"],
                 "vocab_size": m["vocab_size"], "tie_word_embeddings": m.get("share_embedding_weights", True)}}


def sizes_starcoder(m, model):
    return {"": {"model_type": "gpt_bigcode", "architectures": ["GPTBigCodeForCausalLM"],
                 "multi_query": m.get("attention_module") == "multiquery_attention",
                 "n_embd": m["hidden_size"], "n_layer": m["num_hidden_layers"], "n_head": m["num_heads"],
                 "n_positions": m["max_position_embeddings"], "n_inner": m["filter_size"],
                 "vocab_size": m["vocab_size"], "tie_word_embeddings": m.get("share_embedding_weights", True)}}


def sizes_gemma2(m, model):
    nh = m["num_heads"]
    return {"": {"model_type": "gemma2", "architectures": ["Gemma2ForCausalLM"], "hidden_size": m["hidden_size"],
                 "num_hidden_layers": m["num_hidden_layers"], "num_attention_heads": nh, "num_key_value_heads": kv_groups(m),
                 "head_dim": (m.get("attention_inner_dim") or m["hidden_size"]) // nh,
                 "intermediate_size": m["filter_size"], "vocab_size": m["vocab_size"],
                 "tie_word_embeddings": m.get("share_embedding_weights", True)}}


def sizes_neox(m, model):
    return {"": {"model_type": "gpt_neox", "architectures": ["GPTNeoXForCausalLM"], "hidden_size": m["hidden_size"],
                 "num_hidden_layers": m["num_hidden_layers"], "num_attention_heads": m["num_heads"],
                 "intermediate_size": m["filter_size"], "vocab_size": m["vocab_size"],
                 "rotary_pct": m["rotary_dim"] / (m["hidden_size"] // m["num_heads"]),
                 "max_position_embeddings": m.get("max_position_embeddings", 1024)}}


def sizes_btlm(m, model):
    """the golden case's HF config (the remote code's keys) at these sizes"""
    g = "btlm-bf16" if model == "btlm" else "jais"
    with open(os.path.join(HERE, "..", "tests", "golden", g, "hf", "config.json")) as f:
        c = json.load(f)
    c.update(n_embd=m["hidden_size"], n_layer=m["num_hidden_layers"], n_head=m["num_heads"], n_inner=m["filter_size"],
             n_positions=m.get("max_position_embeddings", 1024), vocab_size=m["vocab_size"],
             position_embedding_type=m.get("position_embedding_type", "learned"), torch_dtype="float32")
    return {"": c}


def sizes_bloom(m, model):
    return {"": {"model_type": "bloom", "architectures": ["BloomForCausalLM"], "hidden_size": m["hidden_size"],
                 "n_layer": m["num_hidden_layers"], "n_head": m["num_heads"], "vocab_size": m["vocab_size"]}}


def sizes_dragon(m, model):
    out = {}
    for comp in ("q_encoder", "ctx_encoder"):
        e = m[comp]
        out[comp] = {"model_type": "bert", "architectures": ["BertModel"], "hidden_size": e["hidden_size"],
                     "num_hidden_layers": e["num_hidden_layers"], "num_attention_heads": e["num_heads"],
                     "intermediate_size": e["filter_size"], "vocab_size": e["vocab_size"],
                     "max_position_embeddings": e["max_position_embeddings"]}
    return out


BERT_ARCH = {"bert": "BertForPreTraining", "bert-sequence-classifier": "BertForSequenceClassification",
             "bert-token-classifier": "BertForTokenClassification", "bert-qa": "BertForQuestionAnswering"}


def sizes_bert(m, model):
    return {"": {"model_type": "bert", "architectures": [BERT_ARCH[model]], "hidden_size": m["hidden_size"],
                 "num_hidden_layers": m["num_hidden_layers"], "num_attention_heads": m["num_heads"],
                 "intermediate_size": m["filter_size"], "vocab_size": m["vocab_size"],
                 "max_position_embeddings": m["max_position_embeddings"],
                 "num_labels": m.get("num_labels") or m.get("num_classes") or 2,
                 "problem_type": m.get("problem_type")}}


def sizes_roberta(m, model):
    pad = m.get("pad_token_id", 0)
    return {"": {"model_type": "roberta", "architectures": ["RobertaForMaskedLM"], "hidden_size": m["hidden_size"],
                 "num_hidden_layers": m["num_hidden_layers"], "num_attention_heads": m["num_heads"],
                 "intermediate_size": m["filter_size"], "vocab_size": m["vocab_size"], "pad_token_id": pad,
                 "max_position_embeddings": m["max_position_embeddings"] + pad + 1,
                 "type_vocab_size": max(m.get("num_segments") or 0, 1)}}


def sizes_esm(m, model):
    return {"": {"model_type": "esm", "architectures": ["EsmForMaskedLM"], "hidden_size": m["hidden_size"],
                 "num_hidden_layers": m["num_hidden_layers"], "num_attention_heads": m["num_heads"],
                 "intermediate_size": m["filter_size"], "vocab_size": m["vocab_size"], "position_embedding_type": "rotary",
                 "max_position_embeddings": m["max_position_embeddings"], "pad_token_id": m.get("pad_token_id"),
                 "mask_token_id": m.get("mask_token_id"), "token_dropout": m.get("token_dropout", False),
                 "emb_layer_norm_before": m.get("embedding_layer_norm", True)}}


def sizes_t5(m, model):
    act = m.get("encoder_nonlinearity", "relu")
    act = {"swiglu": "gated-silu", "reglu": "gated-relu", "geglu": "gated-gelu"}.get(act, act)
    return {"": {"model_type": "t5", "architectures": ["T5ForConditionalGeneration"], "d_model": m["d_model"],
                 "d_kv": m["d_kv"], "d_ff": m["d_ff"], "num_heads": m["num_heads"],
                 "num_layers": m["encoder_num_hidden_layers"], "num_decoder_layers": m["decoder_num_hidden_layers"],
                 "vocab_size": m["src_vocab_size"], "feed_forward_proj": act}}


def sizes_clip_vit(m, model):
    return {"": {"model_type": "clip_vision_model", "architectures": ["CLIPVisionModelWithProjection"],
                 "hidden_size": m["hidden_size"], "num_hidden_layers": m["num_hidden_layers"],
                 "num_attention_heads": m["num_heads"], "intermediate_size": m["filter_size"],
                 "image_size": size(m["image_size"]), "patch_size": size(m["patch_size"]),
                 "projection_dim": m.get("num_classes", 512)}}


def sizes_llava(m, model):
    if model == "llava":
        im = m["image_model"]
    else:  # multimodal_simple nests the one vision encoder in image_model_list (cs-2.3: image_model[0])
        e = m["image_model_list"]["image_models"][0]
        im = e["image_encoder"] if "image_encoder" in e else e["image_model"][0]
    img = {"model_type": "clip_vision_model", "architectures": ["CLIPVisionModel"],
           "hidden_size": im["hidden_size"], "num_hidden_layers": im["num_hidden_layers"],
           "num_attention_heads": im["num_heads"], "intermediate_size": im["filter_size"],
           "image_size": size(im["image_size"]), "patch_size": size(im["patch_size"]), "hidden_act": "quick_gelu"}
    txt = hf_llama_sizes(m["text_model"], "llava")
    txt.update({"architectures": ["LlavaLlamaForCausalLM"], "mm_hidden_size": im["hidden_size"],
                "mm_projector_type": "mlp2x_gelu", "mm_vision_select_layer": -2,
                "mm_vision_select_feature": "patch", "mm_use_im_start_end": False,
                "mm_use_im_patch_token": False})
    return {"image_model": img, "text_model": txt}


# the HF configs a CS params file's model section implies, by ckconv model name: sizes(m, model) ->
# {component dir or "": HF config}; make_hf makes their weights
CS_SIZES = {
    "dpo": sizes_dpo,
    "llama": sizes_llama, "mistral": sizes_llama, "mixtral": sizes_llama, "qwen2": sizes_llama,
    "gpt2": sizes_gpt2,
    "gptj": sizes_gptj, "codegen": sizes_gptj,
    "falcon": sizes_falcon,
    "santacoder": sizes_santacoder,
    "starcoder": sizes_starcoder,
    "gemma2": sizes_gemma2,
    "gpt-neox": sizes_neox,
    "btlm": sizes_btlm, "jais": sizes_btlm,
    "bloom": sizes_bloom,
    "dragon": sizes_dragon,
    **{name: sizes_bert for name in BERT_ARCH},
    "roberta": sizes_roberta,
    "esm-2": sizes_esm,
    "t5": sizes_t5,
    "clip-vit": sizes_clip_vit,
    "llava": sizes_llava, "mmsimple-llava": sizes_llava,
}


def weights_for_cs(model, p):
    if model not in CS_SIZES:
        raise ValueError(f"no weight maker for {model} (tools/real_run.py CS_SIZES)")
    return CS_SIZES[model](cs_model(p), model)


# the model_type of an HF class, for a config that states none (pytorch-transformers 1.x wrote none)
CLASS_TYPE = {"BertForPreTraining": "bert", "BertForQuestionAnswering": "bert", "RobertaForMaskedLM": "roberta"}


def make_hf(model, configs, out, seed, behead=None, hf_class=None):
    """configs: {component dir or "": HF config}; writes config.json + model.safetensors per component.
    behead: a headless model's base prefix (`model.`, `transformer.`, `gpt_neox.`): only the base model's
    keys are kept (the LM head, `lm_head.*` / `embed_out.*`, is left out) and the prefix stripped, as
    LlamaModel / GPT2Model / GPTNeoXModel save their weights.
    hf_class: the class whose keys the published weights hold, where the config names another or none
    (the Hub's bert-base-* configs say BertForMaskedLM; their weights are the pretraining model's)"""
    for comp, c in configs.items():
        d = os.path.join(out, comp) if comp else out
        os.makedirs(d, exist_ok=True)
        g = Gen(seed)
        mt = c.get("model_type") or CLASS_TYPE.get(hf_class)
        GENERATORS.get(mt, by_config(gen_llama))(g, c, hf_class)
        if behead:
            g.t = {k[len(behead):]: v for k, v in g.t.items() if k.startswith(behead)}
        save_st(os.path.join(d, "model.safetensors"), g.t)
        with open(os.path.join(d, "config.json"), "w") as f:
            json.dump(c, f, indent=2)


def cstorch_copy(src_mdl, dst_mdl):
    """the packed tensors of src as cstorch saves a training checkpoint's model (make_cstorch_h5)"""
    import h5py
    tensors = mc.read_packed(src_mdl)
    with h5py.File(dst_mdl, "w") as f:
        mc.write_v05(tensors, f)


def cs_tensors(mdl):
    """a packed CS checkpoint's tensors by name, the trainer's `model.` nesting left out"""
    import h5py
    with h5py.File(mdl, "r") as f:
        return {k[len("model."):] if k.startswith("model.") else k: f[k][()] for k in f.keys()}


TMP = None    # this case's scratch directory: written as <OUT> in expected files
RULES = os.path.realpath(os.environ.get("CKCONV_RULES", os.path.join(HERE, "..", "rules")))


def portable(text):
    """paths that differ per machine or run, and rule line numbers that move with every edit, out"""
    text = text.replace(TMP, "<OUT>").replace(os.path.realpath(os.path.join(ROOT, "cases")), "<CASES>")
    text = text.replace(RULES + "/", "rules/")
    return re.sub(r"(rules/[\w.-]+\.yaml):\d+:\d+", r"\1", text)


def ck(*args):
    r = subprocess.run([CK, *args, "--quiet"], capture_output=True, text=True)
    return r.returncode, portable((r.stderr.strip().splitlines() or [""])[-1])


def norm_yaml(path):
    with open(path) as f:
        return yaml.safe_load(portable(f.read()))


def norm_json(path):
    with open(path) as f:
        return json.loads(portable(f.read()))


def copy_portable(src, dst):
    with open(src) as f, open(dst, "w") as g:
        g.write(portable(f.read()))


# keys one side has and the other lacks, by design of the family (the rules say so)
FAMILY = {
    "gpt2": {"created": [".attn.bias", ".attn.masked_bias"]},          # HF buffers rebuilt on the way back
    "santacoder": {"created": [".attn.bias", ".attn.masked_bias"]},
    "gemma2": {"values": False},   # norms come back as (w + 1) - 1: shapes and dtypes compared
    "gpt-neox": {"created": [".attention.bias", ".attention.masked_bias", ".attention.rotary_emb.inv_freq"]},
    "dragon": {"dropped": ["pooler.dense."], "created": ["embeddings.position_ids"]},  # HF pooler dropped
}
# X-headless: X's weights (and FAMILY entry) made without LM head, X's base-model prefix stripped
# (make_hf's behead); CS -> HF names the model (the params say X); the head ckconv makes is checked
HEADLESS_OF = {"llama": "model.", "gpt2": "transformer.", "mistral": "model.", "mixtral": "model.",
               "bloom": "transformer.", "btlm": "transformer.", "codegen": "transformer.", "falcon": "transformer.",
               "gpt-neox": "gpt_neox.", "gptj": "transformer.", "santacoder": "transformer.",
               "starcoder": "transformer."}


def family(model):
    base = model[:-len("-headless")] if model.endswith("-headless") else None
    if base in HEADLESS_OF:
        return {**FAMILY.get(base, {}), "behead": HEADLESS_OF[base], "pass_model": True, "headless_of": base}
    return dict(FAMILY.get(model, {}))


class Case:
    def __init__(self, name):
        self.name, self.dir = name, os.path.join(ROOT, "cases", name)
        self.exp = os.path.join(self.dir, "expected")
        with open(os.path.join(self.dir, "case.json")) as f:
            own = json.load(f)
        self.meta = family(own["model"])
        # `base`: the base case's published file (and its case.json settings), as another family
        self.src = os.path.join(ROOT, "cases", own["base"]) if "base" in own else self.dir
        if "base" in own:
            with open(os.path.join(self.src, "case.json")) as f:
                self.meta.update({k: v for k, v in json.load(f).items() if k != "model"})
        self.meta.update(own)
        self.fails = []

    def check(self, what, got, want_path, loader, writer):
        if UPDATE:
            os.makedirs(os.path.dirname(want_path), exist_ok=True)
            writer(got, want_path)
            return
        if not os.path.exists(want_path):
            self.fails.append(f"{what}: no expected file {os.path.relpath(want_path, ROOT)}")
            return
        want, have = loader(want_path), loader(got)
        if have != want:
            diff = [f"{k}: {have.get(k, '(absent)')!r} (expected {want.get(k, '(absent)')!r})"
                    for k in sorted(set(have) | set(want)) if have.get(k) != want.get(k)] \
                if isinstance(have, dict) and isinstance(want, dict) else []
            if diff and set(have) == {"model"}:  # params: compare the model section
                diff = [f"model.{k}: {have['model'].get(k, '(absent)')!r} (expected {want['model'].get(k, '(absent)')!r})"
                        for k in sorted(set(have["model"]) | set(want["model"]))
                        if have["model"].get(k) != want["model"].get(k)]
            self.fails.append(f"{what}: differs from {os.path.relpath(want_path, ROOT)}: " + "; ".join(diff[:6]))

    def error(self, rc, line):
        path = os.path.join(self.exp, "error.txt")
        if UPDATE and rc != 0:
            os.makedirs(self.exp, exist_ok=True)
            with open(path, "w") as f:
                f.write(line + "\n")
            return True
        if not os.path.exists(path):
            if rc != 0:
                self.fails.append(f"conversion failed: {line}")
            return rc != 0
        want = open(path).read().strip()
        if rc == 0:
            self.fails.append(f"converted, expected the refusal: {want}")
        elif line != want:
            self.fails.append(f"refused with\n      {line}\n    expected\n      {want}")
        return True

    def tensors(self, src_dir, back_dir, comps):
        skip = tuple(self.meta.get("dropped", []))
        added = tuple(self.meta.get("created", []))
        for comp in comps:
            a = load_dir(os.path.join(src_dir, comp))
            b = load_dir(os.path.join(back_dir, comp))
            for k, v in a.items():
                if k.startswith(skip) or any(s in k for s in skip):
                    continue
                if k not in b:
                    self.fails.append(f"{comp or '.'}: {k} missing after the round trip")
                elif self.meta.get("values", True) and b[k] != v:
                    self.fails.append(f"{comp or '.'}: {k} differs after the round trip")
                elif b[k][:2] != v[:2]:
                    self.fails.append(f"{comp or '.'}: {k} dtype/shape {b[k][:2]} vs {v[:2]}")
            for k, twin in self.meta.get("tied", {}).items():  # left out of the input, back from its twin
                if k in a or b.get(k) != a.get(twin):
                    self.fails.append(f"{comp or '.'}: {k} is not {twin}'s tensor after the round trip")
            extra = [k for k in b if k not in a and not any(s in k for s in added)]
            if extra:
                self.fails.append(f"{comp or '.'}: unexpected keys after the round trip: {extra[:4]}")

    def head(self, tmp):
        """the LM head ckconv made for a headless model (rules/headless-lm.yaml): the embedding's bytes when
        the params tie them, else f32 normal(0, 0.02), the same bytes in another run to another path
        (seeded); a zero lm_head.bias where the CS model has one"""
        m = cs_model(norm_yaml(os.path.join(tmp, "cs.yaml")))
        t = cs_tensors(os.path.join(tmp, "cs.mdl"))
        w, emb = t.get("lm_head.weight"), t["embedding_layer.word_embeddings.weight"]
        if w is None:
            self.fails.append("headless: no lm_head.weight in the CS checkpoint")
        elif m.get("share_embedding_weights", False):
            if w.tobytes() != emb.tobytes():
                self.fails.append("headless: tied, but lm_head.weight is not the embedding's bytes")
        elif w.dtype != np.float32 or w.shape != emb.shape or abs(w.mean()) > 0.002 or abs(w.std() - 0.02) > 0.002:
            self.fails.append(f"headless: untied lm_head.weight is not f32 normal(0, 0.02): {w.dtype} {list(w.shape)} "
                              f"mean {w.mean():.4f} std {w.std():.4f}")
        else:
            again = os.path.join(tmp, "again", "other.mdl")
            os.makedirs(os.path.dirname(again), exist_ok=True)
            rc, line = ck("convert", os.path.join(tmp, "hf"), "--model", self.meta["model"], "--tgt-fmt",
                          self.meta.get("tgt", "cs-2.9"), "-o", again)
            if rc or cs_tensors(again)["lm_head.weight"].tobytes() != w.tobytes():
                self.fails.append(f"headless: the untied lm_head.weight is not the same bytes in a second run {line}")
        bias = t.get("lm_head.bias")
        if m.get("use_bias_in_output", False) != (bias is not None) or (bias is not None and bias.any()):
            self.fails.append(f"headless: lm_head.bias {'absent' if bias is None else 'not zero'}, use_bias_in_output "
                              f"{m.get('use_bias_in_output', False)}")

    def run(self, tmp):
        model = self.meta["model"]
        hf = os.path.join(tmp, "hf")
        comps = [""]
        if self.meta["from"] == "hf":
            if self.meta.get("components"):  # one published config.json per component directory
                configs = {comp: norm_json(os.path.join(self.src, comp, "config.json")) for comp in self.meta["components"]}
            else:
                cfg = norm_json(os.path.join(self.src, "config.json"))
                configs = {"q_encoder": cfg, "ctx_encoder": cfg} if model == "dragon" else {"": cfg}
            comps = list(configs)
            make_hf(model, configs, hf, 1, self.meta.get("behead"), self.meta.get("hf_class"))
            if self.meta.get("save_pretrained"):  # tied duplicates left out, as save_pretrained writes safetensors
                for comp, c in configs.items():
                    st = os.path.join(hf, comp, "model.safetensors")
                    t = load_st(st)
                    drop = drop_tied.dropped(c["architectures"][0], c.get("tie_word_embeddings", True), t)
                    keep = {k: np.frombuffer(v[2], dtype={"F32": np.float32, "I64": np.int64}[v[0]]).reshape(v[1])
                            for k, v in t.items() if k not in drop}
                    save_st(st, keep)
            rc, line = ck("convert", hf, "--model", model, "--tgt-fmt", self.meta.get("tgt", "cs-2.9"),
                          "-o", os.path.join(tmp, "cs.mdl"))
            if self.error(rc, line):
                return
            if self.meta.get("behead"):
                self.head(tmp)
            self.check("params", os.path.join(tmp, "cs.yaml"), os.path.join(self.exp, "params.yaml"), norm_yaml,
                       copy_portable)
            params = os.path.join(tmp, "cs.yaml")
        else:
            params = os.path.realpath(os.path.join(self.src, "params.yaml"))
            configs = weights_for_cs(self.meta.get("headless_of", model), norm_yaml(params))
            comps = list(configs)
            make_hf(model, configs, hf, 2, self.meta.get("behead"))
            rc, line = ck("convert", hf, "--model", model, "--tgt-fmt", self.meta.get("tgt", "cs-2.9"), "-o",
                          os.path.join(tmp, "cs.mdl"))
            if rc:
                self.fails.append(f"making the CS tensors failed: {line}")
                return
            if self.meta.get("behead"):
                self.head(tmp)
        ckpt = os.path.join(tmp, "cstorch.mdl")
        cstorch_copy(os.path.join(tmp, "cs.mdl"), ckpt)
        back = os.path.join(tmp, "back")
        named = ["--model", model] if self.meta.get("pass_model") else []  # else detected from model.name
        rc, line = ck("convert", ckpt, "--config", params, *named, "--tgt-fmt", "hf", "-o", back)
        if self.error(rc, line):
            return
        for comp in comps:
            self.check(f"config {comp or '.'}", os.path.join(back, comp, "config.json"),
                       os.path.join(self.exp, comp, "config.json"), norm_json, copy_portable)
        self.tensors(hf, back, comps)


def main():
    names = [a for a in sys.argv[1:] if not a.startswith("--")] or sorted(os.listdir(os.path.join(ROOT, "cases")))
    bad = 0
    for name in names:
        c = Case(name)
        global TMP
        tmp = TMP = os.path.realpath(tempfile.mkdtemp(prefix="ckreal."))
        try:
            c.run(tmp)
        except Exception as e:  # a broken case is a failure, never a crash of the run
            c.fails.append(f"{type(e).__name__}: {e}")
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        if c.fails:
            bad += 1
            print(f"not ok - real/{name}")
            for f in c.fails:
                print("    " + f)
        else:
            print(f"ok - real/{name}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
