#!/usr/bin/env bash
# The GPT-J backbone families (gptj, codegen, falcon) where ckconv does more than, or differs from,
# the reference: CS -> HF from cstorch-style LZ4 files, an LM head bias HF needs and CS may lack,
# muP folding of the head bias, older targets, and what the config rules refuse.
. "$(dirname "$0")/lib.inc"
G="$ROOT/tests/golden"
# stedit IN OUT [drop=KEY ...] [scale=KEY:FACTOR]: a safetensors copy without / with changed tensors
stedit() { $PY - "$@" <<'PY'
import json, struct, sys
import numpy as np
src, dst, ops = sys.argv[1], sys.argv[2], sys.argv[3:]
d = open(src, "rb").read(); n = struct.unpack("<Q", d[:8])[0]; h = json.loads(d[8:8 + n]); b = d[8 + n:]
drop = {o[5:] for o in ops if o.startswith("drop=")}
h.pop("__metadata__", None)
out, off, hdr = [], 0, {}
for k, v in sorted(h.items()):
    if k in drop:
        continue
    blob = b[v["data_offsets"][0]:v["data_offsets"][1]]
    hdr[k] = dict(dtype=v["dtype"], shape=v["shape"], data_offsets=[off, off + len(blob)])
    out.append(blob); off += len(blob)
hj = json.dumps(hdr).encode()
open(dst, "wb").write(struct.pack("<Q", len(hj)) + hj + b"".join(out))
PY
}
# params IN OUT 'python statements on m (the model section)'
params() { $PY - "$@" <<'PY'
import sys, yaml
p = yaml.safe_load(open(sys.argv[1])); m = p["model"]
exec(sys.argv[3])
yaml.safe_dump(p, open(sys.argv[2], "w"))
PY
}
st() { $PY - "$@" <<'PY'
import json, struct, sys
import numpy as np
d = open(sys.argv[1], "rb").read(); n = struct.unpack("<Q", d[:8])[0]; h = json.loads(d[8:8 + n]); b = d[8 + n:]
def t(k):
    v = h[k]; a = np.frombuffer(b[v["data_offsets"][0]:v["data_offsets"][1]], {"F32": "<f4", "BF16": "<u2"}[v["dtype"]])
    return v["dtype"], a.reshape(v["shape"])
exec(sys.argv[2])
PY
}

# --- gptj ---------------------------------------------------------------------------------------
$PY "$ROOT/tools/make_cstorch_h5.py" "$G/gptj/cs/model.safetensors" "$T/gptj.mdl" >/dev/null
cp "$G/gptj/cs/params.yaml" "$T/gptj.yaml"
check "gptj: a cstorch-style (LZ4, model.*) file converts to HF" "$CKCONV" convert "$T/gptj.mdl" -o "$T/gptj-hf" -q
check "... tensors equal the reference's hf_back" $CHECK st-vs-st "$T/gptj-hf" "$G/gptj/hf_back"

# HF GPT-J's LM head always has a bias; a CS model without one gets zeros (the reference leaves
# lm_head.bias out and HF initialises it as it likes)
stedit "$G/gptj/cs/model.safetensors" "$T/nob.st" drop=model.lm_head.bias
$PY "$ROOT/tools/make_cstorch_h5.py" "$T/nob.st" "$T/nob.mdl" >/dev/null
params "$G/gptj/cs/params.yaml" "$T/nob.yaml" 'm["use_bias_in_output"] = False'
check "gptj: a CS model without an LM head bias converts" "$CKCONV" convert "$T/nob.mdl" -o "$T/nob-hf" -q
check "... with a zero f32 lm_head.bias of vocab_size entries" st "$T/nob-hf/model.safetensors" \
	'dt, a = t("lm_head.bias"); assert dt == "F32" and a.shape == (96,) and not a.any(), (dt, a.shape)'
stedit "$T/nob-hf/model.safetensors" "$T/nob-rest.st" drop=lm_head.bias
check "... and every other tensor as the reference's hf_back" $CHECK st-vs-st "$T/nob-rest.st" "$G/gptj/hf_back" --common
check "... and use_bias_in_output true in config.json (the bias is there)" $CHECK json-superset "$T/nob-hf/config.json" <(echo '{"use_bias_in_output": true}')

# muP: CS computes logits as (W x + b) * scale; the reference folds the scale into W only
params "$G/gptj/cs/params.yaml" "$T/mup.yaml" 'm.update(mup_base_hidden_size=32, mup_base_filter_size=128, output_logits_alpha=1.0, attention_logits_alpha=1.0)'
cp "$T/gptj.mdl" "$T/mup.mdl"
check "gptj: a muP checkpoint converts (multipliers folded)" "$CKCONV" convert "$T/mup.mdl" -o "$T/mup-hf" -q
check "... lm_head weight and bias both times output_logits_alpha / (hidden / mup_base_hidden) = 0.5" st "$T/mup-hf/model.safetensors" "
import numpy as np
_, w = t('lm_head.weight'); _, bias = t('lm_head.bias')
import json, struct
d = open('$G/gptj/cs/model.safetensors', 'rb').read(); n = struct.unpack('<Q', d[:8])[0]; h2 = json.loads(d[8:8 + n]); b2 = d[8 + n:]
def r(k): v = h2[k]; return np.frombuffer(b2[v['data_offsets'][0]:v['data_offsets'][1]], '<f4').reshape(v['shape'])
assert np.array_equal(w, r('model.lm_head.weight') * np.float32(0.5))
assert np.array_equal(bias, r('model.lm_head.bias') * np.float32(0.5)), 'bias not scaled'
"
check "... share_embedding_weights false, muP keys gone" $PY -c "import json,sys; c=json.load(open(sys.argv[1])); sys.exit(c['tie_word_embeddings'] is not False or any(k.startswith('mup_') for k in c))" "$T/mup-hf/config.json"

# older targets: the reference's separate cs-2.0-2.2 converter (same keys, no model.name yet)
check "gptj: hf -> cs-2.0 converts" "$CKCONV" convert "$G/gptj/hf" --tgt-fmt cs-2.0 -o "$T/old.mdl" -q
check "... params without name (cs < 2.4)" $PY -c "import yaml,sys; sys.exit('name' in yaml.safe_load(open(sys.argv[1]))['model'])" "$T/old.yaml"
check "... back to HF (--model gptj, src cs-2.0) equals hf_back" sh -c "'$CKCONV' convert '$T/old.mdl' --model gptj --src-fmt cs-2.0 -o '$T/old-hf' -q && $CHECK st-vs-st '$T/old-hf' '$G/gptj/hf_back'"

# refusals, one line each
cp -r "$G/gptj/hf" "$T/rd"; sed -i 's/"rotary_dim": 8/"rotary_dim": 7/' "$T/rd/config.json"
expect_fail "gptj: an odd rotary_dim is refused" "rotary_dim 7: CS needs an even rotary_dim of at most the head size 16" "$T/rd.mdl" \
	"$CKCONV" convert "$T/rd" -o "$T/rd.mdl"
cp -r "$G/gptj/hf" "$T/rn"; sed -i 's/"rotary_dim": 8/"rotary_dim": null/' "$T/rn/config.json"
expect_fail "gptj: rotary_dim null is refused" "rotary_dim" "$T/rn.mdl" "$CKCONV" convert "$T/rn" -o "$T/rn.mdl"
params "$G/gptj/cs/params.yaml" "$T/glu.yaml" 'm["nonlinearity"] = "swiglu"'
expect_fail "gptj: a GLU nonlinearity is refused" "nonlinearity swiglu has no HF counterpart" "$T/glu-hf" \
	"$CKCONV" convert "$T/gptj.mdl" --config "$T/glu.yaml" -o "$T/glu-hf"
params "$G/gptj/cs/params.yaml" "$T/theta.yaml" 'm["rope_theta"] = 500000.0'
expect_fail "gptj: rope_theta other than 10000 is refused" "rope_theta = 500000.0 has no HF counterpart" "$T/theta-hf" \
	"$CKCONV" convert "$T/gptj.mdl" --config "$T/theta.yaml" -o "$T/theta-hf"
params "$G/gptj/cs/params.yaml" "$T/pi.yaml" 'm["pos_scaling_factor"] = 2.0'
expect_fail "gptj: RoPE scaling is refused" "this HF model has no RoPE scaling" "$T/pi-hf" \
	"$CKCONV" convert "$T/gptj.mdl" --config "$T/pi.yaml" -o "$T/pi-hf"

# --- codegen ------------------------------------------------------------------------------------
$PY "$ROOT/tools/make_cstorch_h5.py" "$G/codegen/cs/model.safetensors" "$T/codegen.mdl" >/dev/null
cp "$G/codegen/cs/params.yaml" "$T/codegen.yaml"
check "codegen: a cstorch-style file converts to HF (--model codegen: the params say gptj)" \
	"$CKCONV" convert "$T/codegen.mdl" --model codegen -o "$T/codegen-hf" -q
check "... tensors equal the reference's hf_back" $CHECK st-vs-st "$T/codegen-hf" "$G/codegen/hf_back"
check "... config.json is CodeGen's" $CHECK json-superset "$T/codegen-hf/config.json" <(echo '{"model_type": "codegen", "n_inner": 128, "rotary_dim": 4}')
# the blocks, independently: qkv_proj rows [4 blocks, (q, v, k), hidden/4] -> q, k, v
check "codegen: q, k, v are the mp_num = 4 blocks' shares, ordered q, v, k in HF" $PY - "$G/codegen/hf/model.safetensors" "$G/codegen/cs/model.safetensors" <<'PY'
import json, struct, sys
import numpy as np
def load(p):
    d = open(p, "rb").read(); n = struct.unpack("<Q", d[:8])[0]; h = json.loads(d[8:8 + n]); b = d[8 + n:]
    return {k: np.frombuffer(b[v["data_offsets"][0]:v["data_offsets"][1]], "<f4").reshape(v["shape"]) for k, v in h.items()
            if k != "__metadata__" and v["dtype"] == "F32"}
hf, cs = load(sys.argv[1]), load(sys.argv[2])
w = hf["transformer.h.1.attn.qkv_proj.weight"]; E = w.shape[1]
blocks = w.reshape(4, 3, E // 4, E)
for i, n in ((0, "q"), (1, "v"), (2, "k")):
    assert np.array_equal(blocks[:, i].reshape(E, E), cs[f"model.transformer_decoder.layers.1.self_attn.proj_{n}_dense_layer.weight"]), n
PY
hf_variant cg3 "$G/codegen/hf" '{"n_head": 2}'
expect_fail "codegen: heads that do not split into the 4 blocks are refused" "n_head 2: HF CodeGen splits the heads into 4 blocks" "$T/cg3.mdl" \
	"$CKCONV" convert "$T/cg3" -o "$T/cg3.mdl"

# --- falcon -------------------------------------------------------------------------------------
F7="$G/falcon-7b"; F40="$G/falcon-40b-bf16"
for c in falcon-7b falcon-40b-bf16; do
	$PY "$ROOT/tools/make_cstorch_h5.py" "$G/$c/cs/model.safetensors" "$T/$c.mdl" >/dev/null
	cp "$G/$c/cs/params.yaml" "$T/$c.yaml"
	check "$c: a cstorch-style file converts to HF" "$CKCONV" convert "$T/$c.mdl" -o "$T/$c-hf" -q
	check "... tensors equal the reference's hf_back" $CHECK st-vs-st "$T/$c-hf" "$G/$c/hf_back"
done
# the 40B checkpoint as transformers >= 4.40 writes its config: model_type falcon, the new decoder
# architecture, num_ln_in_parallel_attn null (the reference reads null as one LayerNorm, writes CS
# params without norm3 for a checkpoint that has it, and refuses its own output on the way back)
TF440='{"model_type": "falcon", "architectures": ["FalconForCausalLM"], "auto_map": null, "n_head": null, "n_layer": null,
	"n_head_kv": null, "num_attention_heads": 6, "num_hidden_layers": 2, "num_kv_heads": 2, "new_decoder_architecture": true,
	"multi_query": false, "num_ln_in_parallel_attn": null, "max_position_embeddings": 2048, "rope_theta": 10000.0,
	"rope_scaling": null, "transformers_version": "4.41.2"}'
hf_variant --keep-null f440 "$F40/hf" "$TF440"
check "falcon: the 4.40-style config really has num_ln_in_parallel_attn null" grep -q '"num_ln_in_parallel_attn": null' "$T/f440/config.json"
check "falcon: a transformers >= 4.40 new-architecture config (num_ln_in_parallel_attn null) converts" \
	"$CKCONV" convert "$T/f440" -o "$T/f440.mdl" -q
check "... as two LayerNorms (use_untied_layer_norm true)" test "$(yget "$T/f440.yaml" use_untied_layer_norm)" = true
check "... into the reference's CS tensors for the same checkpoint" $CHECK mdl-vs-st "$T/f440.mdl" "$F40/cs/model.safetensors"
check "... and back: ln_attn / ln_mlp, the input's tensors" sh -c "'$CKCONV' convert '$T/f440.mdl' -o '$T/f440-hf' -q && $CHECK st-vs-st '$T/f440-hf' '$F40/hf'"
check "... config.json: new decoder architecture, two norms, 2 kv heads" $CHECK json-superset "$T/f440-hf/config.json" \
	<(echo '{"model_type": "falcon", "new_decoder_architecture": true, "num_ln_in_parallel_attn": 2, "num_kv_heads": 2, "multi_query": false, "parallel_attn": true}')
hf_variant f180 "$F40/hf" "$(sed 's/"num_ln_in_parallel_attn": null,//' <<<"$TF440")"
check "falcon: a 180B-style config (new decoder architecture, num_kv_heads, no num_ln_in_parallel_attn) converts" \
	"$CKCONV" convert "$T/f180" -o "$T/f180.mdl" -q
check "... into the reference's CS tensors" $CHECK mdl-vs-st "$T/f180.mdl" "$F40/cs/model.safetensors"
hf_variant --keep-null f1ln "$F40/hf" "$(sed 's/"num_ln_in_parallel_attn": null/"num_ln_in_parallel_attn": 1/' <<<"$TF440")"
out=$("$CKCONV" convert "$T/f1ln" -o "$T/f1ln.mdl" 2>&1); rc=$?
check "falcon: num_ln_in_parallel_attn 1 with a two-norm checkpoint is refused, writing nothing" sh -c "[ $rc -eq 1 ] && [ ! -e '$T/f1ln.mdl' ]"
check "... its ln_attn / ln_mlp keys match no rule (the config says one LayerNorm)" grep -q "transformer.h.0.ln_mlp.weight: no rule matches this key" <<<"$out"
# one LayerNorm with grouped kv heads (CS use_untied_layer_norm false, 2 groups): HF's new decoder
# architecture with num_ln_in_parallel_attn 1 (the reference refuses: it knows no such HF config)
stedit "$F40/cs/model.safetensors" "$T/g1.st" drop=model.transformer_decoder.layers.0.norm3.weight drop=model.transformer_decoder.layers.0.norm3.bias \
	drop=model.transformer_decoder.layers.1.norm3.weight drop=model.transformer_decoder.layers.1.norm3.bias
$PY "$ROOT/tools/make_cstorch_h5.py" "$T/g1.st" "$T/g1.mdl" >/dev/null
params_edit "$F40/cs/params.yaml" "$T/g1.yaml" '{"use_untied_layer_norm": false}'
check "falcon: one LayerNorm with 2 kv groups converts to HF" "$CKCONV" convert "$T/g1.mdl" -o "$T/g1-hf" -q
check "... as the new architecture with num_ln_in_parallel_attn 1" $CHECK json-superset "$T/g1-hf/config.json" \
	<(echo '{"new_decoder_architecture": true, "num_ln_in_parallel_attn": 1, "num_kv_heads": 2}')
check "... input_layernorm is norm1" $CHECK st-vs-st "$T/g1-hf" "$F40/hf_back" --common
check "... and back to the same CS tensors" sh -c "'$CKCONV' convert '$T/g1-hf' -o '$T/g1b.mdl' -q && $CHECK mdl-vs-st '$T/g1b.mdl' '$T/g1.st'"
# the old layout without multi-query: one kv group per head, [heads, (q, k, v), head_dim]
hf_variant --keep-null fmha "$F40/hf" '{"model_type": "falcon", "architectures": ["FalconForCausalLM"], "n_head": null, "n_head_kv": null, "n_layer": null,
	"num_attention_heads": 6, "num_hidden_layers": 2, "new_decoder_architecture": false, "multi_query": false, "auto_map": null}'
$PY - "$T/fmha" <<'PY'
# the same bytes re-labelled: 40B's query_key_value has 80 rows; this layout needs 3 * 48 = 144
import json, struct, sys
import numpy as np
d = sys.argv[1]; p = d + "/model.safetensors"
b = open(p, "rb").read(); n = struct.unpack("<Q", b[:8])[0]; h = json.loads(b[8:8 + n]); data = b[8 + n:]
rng = np.random.default_rng(5); out, off, hdr = [], 0, {}
for k, v in sorted(h.items()):
    if k == "__metadata__" or ".ln_mlp." in k:
        continue
    blob = data[v["data_offsets"][0]:v["data_offsets"][1]]
    if "query_key_value" in k:
        v = dict(v, shape=[144, 48]); blob = (rng.standard_normal((144, 48)).astype(np.float32).view(np.uint32) >> 16).astype("<u2").tobytes()
    hdr[k.replace(".ln_attn.", ".input_layernorm.")] = dict(dtype=v["dtype"], shape=v["shape"], data_offsets=[off, off + len(blob)])
    out.append(blob); off += len(blob)
hj = json.dumps(hdr).encode()
open(p, "wb").write(struct.pack("<Q", len(hj)) + hj + b"".join(out))
PY
check "falcon: the old layout without multi-query (one kv group per head) converts" "$CKCONV" convert "$T/fmha" -o "$T/fmha.mdl" -q
check "... 6 kv groups, one LayerNorm" test "$(yget "$T/fmha.yaml" extra_attention_params)$(yget "$T/fmha.yaml" use_untied_layer_norm)" = '{"num_kv_groups": 6}false'
check "... k is the middle row block of each head, RoPE-interleaved" $PY - "$T/fmha/model.safetensors" "$T/fmha.mdl" <<'PY'
import json, struct, sys
import h5py, numpy as np
b = open(sys.argv[1], "rb").read(); n = struct.unpack("<Q", b[:8])[0]; h = json.loads(b[8:8 + n]); v = h["transformer.h.0.self_attention.query_key_value.weight"]
w = np.frombuffer(b[8 + n + v["data_offsets"][0]:8 + n + v["data_offsets"][1]], "<u2").reshape(6, 3, 8, 48)
k = w[:, 1]                                            # [heads, head_dim, in]
want = np.concatenate([np.stack([g[:4], g[4:]], 1).reshape(8, 48) for g in k])   # rows i, i+4 -> 2i, 2i+1
with h5py.File(sys.argv[2], "r") as f:
    got = f["model.transformer_decoder.layers.0.self_attn.proj_k_dense_layer.weight"][()].view("<u2")
assert np.array_equal(got, want)
PY
check "... and back to the same tensors" sh -c "'$CKCONV' convert '$T/fmha.mdl' -o '$T/fmha-hf' -q && $CHECK st-vs-st '$T/fmha-hf' '$T/fmha'"
check "... config.json: the old architecture without multi-query" $CHECK json-superset "$T/fmha-hf/config.json" \
	<(echo '{"new_decoder_architecture": false, "multi_query": false, "num_kv_heads": 6, "num_ln_in_parallel_attn": null}')
# refusals
hf_variant fseq "$F7/hf" '{"parallel_attn": false}'
expect_fail "falcon: sequential attention and MLP (parallel_attn false) is refused" "parallel_attn false" "$T/fseq.mdl" "$CKCONV" convert "$T/fseq" -o "$T/fseq.mdl"
hf_variant falibi "$F7/hf" '{"alibi": true}'
expect_fail "falcon: ALiBi is refused" "alibi true: HF Falcon with ALiBi has no CS counterpart" "$T/falibi.mdl" "$CKCONV" convert "$T/falibi" -o "$T/falibi.mdl"
hf_variant fres "$F7/hf" '{"apply_residual_connection_post_layernorm": true}'
expect_fail "falcon: the residual after the LayerNorm is refused" "apply_residual_connection_post_layernorm" "$T/fres.mdl" "$CKCONV" convert "$T/fres" -o "$T/fres.mdl"
# biases on every linear layer (HF bias: true): converted both ways; a bias the config does not
# declare matches no rule
hf_variant fbias "$F7/hf" '{"bias": true}'
$PY - "$T/fbias/model.safetensors" <<'PY'
import json, struct, sys
import numpy as np
p = sys.argv[1]; b = open(p, "rb").read(); n = struct.unpack("<Q", b[:8])[0]; h = json.loads(b[8:8 + n]); data = b[8 + n:]
rng = np.random.default_rng(7); out, off, hdr = [], 0, {}
items = [(k, v["dtype"], v["shape"], data[v["data_offsets"][0]:v["data_offsets"][1]]) for k, v in sorted(h.items()) if k != "__metadata__"]
for k, dt, sh, blob in list(items):
    if k.endswith(".weight") and (".self_attention." in k or ".mlp." in k):
        items.append((k[:-6] + "bias", "F32", [sh[0]], rng.standard_normal(sh[0]).astype("<f4").tobytes()))
for k, dt, sh, blob in items:
    hdr[k] = dict(dtype=dt, shape=sh, data_offsets=[off, off + len(blob)]); out.append(blob); off += len(blob)
hj = json.dumps(hdr).encode()
open(p, "wb").write(struct.pack("<Q", len(hj)) + hj + b"".join(out))
PY
check "falcon: bias true converts" "$CKCONV" convert "$T/fbias" -o "$T/fbias.mdl" -q
check "... with the three CS bias flags true" test "$(yget "$T/fbias.yaml" use_projection_bias_in_attention)$(yget "$T/fbias.yaml" use_ffn_bias_in_attention)$(yget "$T/fbias.yaml" use_ffn_bias)" = truetruetrue
check "... and back, every tensor as it was (the fused bias too)" sh -c "'$CKCONV' convert '$T/fbias.mdl' -o '$T/fbias-hf' -q && $CHECK st-vs-st '$T/fbias-hf' '$T/fbias' --common && grep -q '\"bias\": true' '$T/fbias-hf/config.json'"
params_edit "$T/fbias.yaml" "$T/nobias.yaml" '{"use_projection_bias_in_attention": null, "use_ffn_bias_in_attention": null, "use_ffn_bias": null}'
out=$("$CKCONV" convert "$T/fbias.mdl" --config "$T/nobias.yaml" -o "$T/nobias-hf" 2>&1); rc=$?
check "falcon: params without the bias flags (no biases, as the reference means them) refuse a checkpoint with biases" \
	sh -c "[ $rc -eq 1 ] && [ ! -e '$T/nobias-hf' ]"
check "... naming the biases no rule takes" grep -q "self_attn.proj_q_dense_layer.bias: no rule matches this key" <<<"$out"

# --- headless variants (HF models without LM head; the CS model has one) -------------------------
# headless HF input: the LM model's tensors without lm_head.* and without the `transformer.` prefix
headless() { # NAME SRCDIR ARCH: $T/NAME, a headless copy
	mkdir -p "$T/$1"
	$PY - "$2" "$T/$1" "$3" <<'PY'
import json, struct, sys
src, dst, arch = sys.argv[1:4]
b = open(src + "/model.safetensors", "rb").read(); n = struct.unpack("<Q", b[:8])[0]; h = json.loads(b[8:8 + n]); data = b[8 + n:]
out, off, hdr = [], 0, {}
for k, v in sorted(h.items()):
    if k == "__metadata__" or k.startswith("lm_head."):
        continue
    blob = data[v["data_offsets"][0]:v["data_offsets"][1]]
    hdr[k.removeprefix("transformer.")] = dict(dtype=v["dtype"], shape=v["shape"], data_offsets=[off, off + len(blob)])
    out.append(blob); off += len(blob)
hj = json.dumps(hdr).encode()
open(dst + "/model.safetensors", "wb").write(struct.pack("<Q", len(hj)) + hj + b"".join(out))
c = json.load(open(src + "/config.json")); c["architectures"] = [arch]
json.dump(c, open(dst + "/config.json", "w"), indent=2)
PY
}
same_bytes() { # MDL KEY_A KEY_B: two datasets of a packed file hold the same bytes
	$PY -c 'import h5py, sys; f = h5py.File(sys.argv[1], "r"); sys.exit(f[sys.argv[2]][()].tobytes() != f[sys.argv[3]][()].tobytes())' "$@"
}
# Falcon: the reference's falcon-headless raises KeyError when tie_word_embeddings is absent (real
# Falcon configs leave it out: HF then ties) or true (it looks the embedding up under the LM
# model's key); ckconv takes the embedding as the head in both cases
headless fh-absent "$F7/hf" RWModel
check "falcon-headless: the 7B config leaves tie_word_embeddings out" test "$(jget "$T/fh-absent/config.json" tie_word_embeddings)" = '"ABSENT"'
check "falcon-headless: tie_word_embeddings absent converts (the reference: KeyError)" "$CKCONV" convert "$T/fh-absent" --model falcon-headless -o "$T/fh-absent.mdl" -q
check "... the CS head is the embedding (HF ties by default)" same_bytes "$T/fh-absent.mdl" model.lm_head.weight model.embedding_layer.word_embeddings.weight
check "... and every other tensor is the LM model's" $CHECK mdl-vs-st "$T/fh-absent.mdl" "$F7/cs/model.safetensors" --random model.lm_head.weight
json_edit "$T/fh-absent/config.json" "$T/fh-true.json" '{"tie_word_embeddings": true}'
mkdir -p "$T/fh-true" && cp "$T/fh-absent/model.safetensors" "$T/fh-true/" && cp "$T/fh-true.json" "$T/fh-true/config.json"
check "falcon-headless: tie_word_embeddings true converts (the reference: KeyError)" "$CKCONV" convert "$T/fh-true" --model falcon-headless -o "$T/fh-true.mdl" -q
check "... the head is the embedding" same_bytes "$T/fh-true.mdl" model.lm_head.weight model.embedding_layer.word_embeddings.weight
json_edit "$T/fh-absent/config.json" "$T/fh-false.json" '{"tie_word_embeddings": false}'
mkdir -p "$T/fh-false" && cp "$T/fh-absent/model.safetensors" "$T/fh-false/" && cp "$T/fh-false.json" "$T/fh-false/config.json"
check "falcon-headless: tie_word_embeddings false converts" "$CKCONV" convert "$T/fh-false" --model falcon-headless -o "$T/fh-false.mdl" -q
check "... with a new f32 head, not the embedding" sh -c "! same_bytes() { :; }; $PY -c 'import h5py, sys; f = h5py.File(sys.argv[1], \"r\"); h = f[\"model.lm_head.weight\"]; sys.exit(h.dtype != \"float32\" or h.shape != (96, 32) or h[()].tobytes() == f[\"model.embedding_layer.word_embeddings.weight\"][()].tobytes())' '$T/fh-false.mdl'"
check "falcon-headless: back to HF drops the head" sh -c "'$CKCONV' convert '$T/fh-absent.mdl' --model falcon-headless -o '$T/fh-back' -q && $CHECK st-vs-st '$T/fh-back' '$T/fh-absent'"
headless fh40 "$F40/hf" RWModel
check "falcon-headless: the 40B layout converts both ways" sh -c "'$CKCONV' convert '$T/fh40' --model falcon-headless -o '$T/fh40.mdl' -q && '$CKCONV' convert '$T/fh40.mdl' --model falcon-headless -o '$T/fh40-back' -q && $CHECK st-vs-st '$T/fh40-back' '$T/fh40'"
# GPT-J and CodeGen: the head gets a zero bias (the CS model has use_bias_in_output)
for fam in gptj codegen; do
	arch=$([ $fam = gptj ] && echo GPTJModel || echo CodeGenModel)
	headless "$fam-hl" "$G/$fam/hf" "$arch"
	check "$fam-headless: converts" "$CKCONV" convert "$T/$fam-hl" --model "$fam-headless" -o "$T/$fam-hl.mdl" -q
	check "... with a zero lm_head.bias and a normal(0, 0.02) head of the right shape" $PY - "$T/$fam-hl.mdl" <<'PY'
import sys, h5py, numpy as np
f = h5py.File(sys.argv[1], "r")
b, w = f["model.lm_head.bias"][()], f["model.lm_head.weight"][()]
assert b.dtype == np.float32 and not b.any() and w.dtype == np.float32 and w.shape == (96, f["model.embedding_layer.word_embeddings.weight"].shape[1])
assert 0.01 < float(w.std()) < 0.03, w.std()
PY
	check "... the other tensors as the LM model's" $CHECK mdl-vs-st "$T/$fam-hl.mdl" "$G/$fam/cs/model.safetensors" --random model.lm_head.weight,model.lm_head.bias
	check "... back to HF without the head" sh -c "'$CKCONV' convert '$T/$fam-hl.mdl' --model $fam-headless -o '$T/$fam-hl-back' -q && $CHECK st-vs-st '$T/$fam-hl-back' '$T/$fam-hl' --common"
done
