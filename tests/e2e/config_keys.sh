#!/usr/bin/env bash
# Config keys that change what the model computes (issue 11 items 3, 4, 6, 7 and "account for every
# key"): older-style muP in newer params, CS defaults for absent keys, no `name` for cs-2.1..2.3
# targets, keys with no counterpart refused, unknown CS keys an error on the way to HF.
. "$(dirname "$0")/lib.inc"
G="$ROOT/tests/golden/llama"
$PY "$ROOT/tools/make_cstorch_h5.py" --format 0.5 "$G/cs/model.safetensors" "$T/llama.mdl" >/dev/null
# params SRC OUT JSON / hf NAME JSON: the golden llama params / HF input with keys replaced (null deletes)
params() { params_edit "$@"; }
hf() { hf_variant "$1" "$G/hf" "$2"; }
# refused NAME PARAMS MDL PATCH WHAT WANT: PARAMS patched into $T/NAME.yaml; converting MDL to HF
# with it is refused in one line naming WANT, and nothing is written
refused() {
	params "$2" "$T/$1.yaml" "$4"
	expect_fail "$5" "$6" "$T/$1-hf" "$CKCONV" convert "$3" --config "$T/$1.yaml" -o "$T/$1-hf" -q
}

# --- older-style muP (scale_qk_dot_by_d + embeddings_scale + output_logits_scale, no mup_base_*) in
# params of any release: folded for llama and gpt2 as the reference's mup.py does; mixtral refuses
M="$ROOT/tests/golden/llama-mup"
$PY "$ROOT/tools/make_cstorch_h5.py" --format 0.5 "$M/cs/model.safetensors" "$T/mup.mdl" >/dev/null
params "$M/cs/params.yaml" "$T/mup.yaml" '{"mup_base_hidden_size": null, "mup_base_filter_size": null, "attention_logits_alpha": null,
  "output_logits_alpha": null, "scale_output_logits_by_d": null, "scale_qk_dot_by_d": true, "embeddings_scale": 10.0, "output_logits_scale": 1.5}'
out=$("$CKCONV" convert "$T/mup.mdl" --config "$T/mup.yaml" -o "$T/mup-hf" 2>&1)
check "older-style muP in cs-2.9 params is muP: multipliers folded" grep -q "multipliers folded" <<<"$out"
check "... as the reference folds it (K / sqrt(d_head), head x output_logits_scale, embeddings x embeddings_scale)" \
	$PY - "$T/mup-hf/model.safetensors" "$M/hf_back/model.safetensors" <<'PY'
import json, struct, sys, numpy as np
def load(p):
    d = open(p, "rb").read(); n = struct.unpack("<Q", d[:8])[0]; h = json.loads(d[8:8 + n]); b = d[8 + n:]
    return {k: np.frombuffer(b[v["data_offsets"][0]:v["data_offsets"][1]], "<f4") for k, v in h.items() if k != "__metadata__"}
a, r = load(sys.argv[1]), load(sys.argv[2])
for k in r:
    want = r[k] * np.float32(2.0) if "k_proj" in k else r[k]   # hf_back had alpha 0.5 folded in; older style has none
    assert np.array_equal(a[k], want), k
PY
check "... tie_word_embeddings false (head and embeddings now differ)" test "$(jget "$T/mup-hf/config.json" tie_word_embeddings)" = false
refused mup-part "$T/mup.yaml" "$T/mup.mdl" '{"output_logits_scale": null}' \
	"a partial older-style muP set is refused" \
	"sets all of scale_qk_dot_by_d, embeddings_scale and output_logits_scale, or none"
"$CKCONV" convert "$ROOT/tests/golden/mixtral/hf" -o "$T/mx.mdl" -q
refused mx-mup "$T/mx.yaml" "$T/mx.mdl" '{"scale_qk_dot_by_d": true, "embeddings_scale": 10.0, "output_logits_scale": 1.5}' \
	"mixtral refuses older-style muP params" \
	"This model currently does not support muP checkpoint conversion to HF"

# --- older CS targets (item 6): no `name` in cs-2.1 .. cs-2.3 params; cs-2.4 on has it
for f in 2.1 2.2 2.3 2.4 2.9; do
	"$CKCONV" convert "$G/hf" --tgt-fmt "cs-$f" -o "$T/t$f.mdl" -q
	want='"ABSENT"'; case $f in 2.4|2.9) want='"llama"' ;; esac
	check "HF -> cs-$f: model.name is $want (the reference adds it from cs-2.4)" test "$(yget "$T/t$f.yaml" name)" = "$want"
done

# --- absent CS keys take the CS model class's defaults (item 3)
"$CKCONV" convert "$ROOT/tests/golden/mixtral/hf" -o "$T/mx2.mdl" -q
refused mx-nonorm "$T/mx2.yaml" "$T/mx2.mdl" '{"norm_type": null}' \
	"mixtral params without norm_type (CS default layernorm) are refused, as the reference does" \
	"norm_type must be \"rmsnorm\", found \"layernorm\""
params "$T/mx2.yaml" "$T/mx-notopk.yaml" '{"moe": {"num_experts": 4, "load_balancing_loss_coef": 0.02}}'
check "mixtral params without moe.top_k: HF num_experts_per_tok is the CS default 1 (HF's own default is 2)" sh -c \
	"'$CKCONV' convert '$T/mx2.mdl' --config '$T/mx-notopk.yaml' -o '$T/mx-notopk' -q && grep -q '\"num_experts_per_tok\": 1' '$T/mx-notopk/config.json'"
params "$G/cs/params.yaml" "$T/noshare.yaml" '{"share_embedding_weights": null, "rope_theta": null}'
check "llama params without share_embedding_weights / rope_theta: explicit tie_word_embeddings true, rope_theta 10000.0" sh -c \
	"'$CKCONV' convert '$T/llama.mdl' --config '$T/noshare.yaml' -o '$T/noshare' -q --drop-unmatched-keys 2>/dev/null; $PY -c 'import json,sys; c=json.load(open(sys.argv[1])); assert c[\"tie_word_embeddings\"] is True and c[\"rope_theta\"] == 10000.0, c' '$T/noshare/config.json'"
params "$G/cs/params.yaml" "$T/mistral.yaml" '{"name": "mistral"}'
check "mistral params without attention_sliding_window_length: HF sliding_window null, not HF's default 4096" sh -c \
	"'$CKCONV' convert '$T/llama.mdl' --config '$T/mistral.yaml' -o '$T/mistral' -q && grep -q '\"sliding_window\": null' '$T/mistral/config.json'"
GP="$ROOT/tests/golden/gpt2"
$PY "$ROOT/tools/make_cstorch_h5.py" --format 0.5 "$GP/cs/model.safetensors" "$T/gpt2.mdl" >/dev/null
params "$GP/cs/params.yaml" "$T/gpt3.yaml" '{"name": "gpt3", "dropout_rate": 0.0, "attention_dropout_rate": null, "embedding_dropout_rate": null}'
check "GPT-3 params without embedding/attention dropout: HF embd_pdrop and attn_pdrop = dropout_rate 0.0 (HF's default is 0.1)" sh -c \
	"'$CKCONV' convert '$T/gpt2.mdl' --config '$T/gpt3.yaml' -o '$T/gpt3' -q && $PY -c 'import json,sys; c=json.load(open(sys.argv[1])); assert c[\"embd_pdrop\"] == 0.0 and c[\"attn_pdrop\"] == 0.0 and c[\"resid_pdrop\"] == 0.0, c' '$T/gpt3/config.json'"
refused gpt3-alibi "$GP/cs/params.yaml" "$T/gpt2.mdl" '{"position_embedding_type": "alibi"}' \
	"GPT-2 params with ALiBi positions are refused" \
	"position_embedding_type alibi: HF GPT-2 has learned positions"

# --- keys that change the computation with no counterpart are refused, one line each (item 7)
refused swa "$G/cs/params.yaml" "$T/llama.mdl" '{"attention_sliding_window_length": 8192}' \
	"llama params with a sliding window are refused (HF Llama attends to everything)" \
	"attention_sliding_window_length = 8192 has no HF counterpart (accepted: absent or null)"
refused sink "$G/cs/params.yaml" "$T/llama.mdl" '{"attention_sink_tokens": 512}' \
	"attention sink tokens are refused" \
	"attention_sink_tokens = 512 has no HF counterpart (accepted: absent or null)"
refused inner "$G/cs/params.yaml" "$T/llama.mdl" '{"attention_inner_dim": 32}' \
	"attention_inner_dim != hidden_size is refused" \
	"attention_inner_dim 32 is not hidden_size 64"
refused escale "$G/cs/params.yaml" "$T/llama.mdl" '{"embeddings_scale": 2.0}' \
	"a muP multiplier outside muP (embeddings_scale 2.0) is refused" \
	"embeddings_scale = 2.0 has no HF counterpart (accepted: absent, null or 1.0)"
hf hd '{"head_dim": 32}'
expect_fail "HF head_dim != hidden_size / heads is refused, naming both" "head_dim 32 is not hidden_size / num_attention_heads = 16" \
	"$T/hd.mdl" "$CKCONV" convert "$T/hd" -o "$T/hd.mdl" -q
hf hd16 '{"head_dim": 16}'
check "HF head_dim == hidden_size / heads converts" "$CKCONV" convert "$T/hd16" -o "$T/hd16.mdl" -q

# --- account for every key: an unknown CS model key stops CS -> HF; an unknown HF key is a note
refused unknown "$G/cs/params.yaml" "$T/llama.mdl" '{"attention_frobnicate": true, "zz_new_feature": 3}' \
	"CS model keys no rule accounts for are an error naming them" \
	"rules/llama.yaml: attention_frobnicate, zz_new_feature"
hf extra '{"my_tooling_key": 1}'
out=$("$CKCONV" convert "$T/extra" -o "$T/extra.mdl" 2>&1)
check "an unknown HF key converts with a note naming it" grep -q "not carried over: my_tooling_key" <<<"$out"

# --- validate --config: a real config or params file against its model's rules
R="$ROOT/tests/real/cases"
check "validate --config: a real ModelZoo params file (Llama 2 7B) has every key accounted for" \
	"$CKCONV" validate --config "$R/cs-llama2-7b/upstream.yaml"
check "validate --config: a real HF config.json (TinyLlama) too" "$CKCONV" validate --config "$R/hf-tinyllama-chat-v1.0/upstream.json"
out=$("$CKCONV" validate --config "$T/unknown.yaml" 2>&1); rc=$?
check "validate --config: unknown CS model keys are errors, named (exit 1)" sh -c "[ $rc -eq 1 ] && grep -q 'CS model keys no rule of .*rules/llama.yaml accounts for: attention_frobnicate, zz_new_feature' <<'X'
$out
X"
out=$("$CKCONV" validate --config "$R/cs-llama3p1-8b-swa-sink/upstream.yaml" 2>&1); rc=$?
check "validate --config: the Llama 3.1 sliding-window/sink params are refused, naming the key" sh -c "[ $rc -eq 1 ] && grep -q 'attention_sliding_window_length = 8192 has no HF counterpart' <<'X'
$out
X"
out=$("$CKCONV" validate --config "$T/extra/config.json" 2>&1); rc=$?
check "validate --config: an unknown HF key is a warning (exit 0), named" sh -c "[ $rc -eq 0 ] && grep -q 'warning: HF keys no rule of .* accounts for: my_tooling_key' <<'X'
$out
X"
check "validate --config: LLaVA params check each component's section" "$CKCONV" validate --config "$R/cs-llava-v1p5-7b-phase2/upstream.yaml"
# a wrapping model (rules/dpo.yaml): the model inside is the one its params or config.json name,
# as convert reads it (model.c), the params laid out first as the rules read them (cs_layout.to_hf)
D="$ROOT/tests/golden/dpo"
check "validate --config: DPO params are checked against the model inside (model_name llama)" \
	"$CKCONV" validate --strict --config "$D/cs/params.yaml"
check "validate --config: an HF config.json with --model dpo, against the model it detects" \
	"$CKCONV" validate --strict --config "$D/hf/config.json" --model dpo
check "validate --config: ModelZoo's nested DPO params (policy_model), against the model inside (mistral)" \
	"$CKCONV" validate --strict --config "$R/cs-dpo-zephyr-7b/upstream.yaml"
params "$D/cs/params.yaml" "$T/dpo-extra.yaml" '{"zz_new_feature": 3}'
out=$("$CKCONV" validate --config "$T/dpo-extra.yaml" 2>&1); rc=$?
check "validate --config: a DPO params key the model inside does not know is an error naming its rules" sh -c "[ $rc -eq 1 ] && grep -q 'CS model keys no rule of .*rules/llama.yaml accounts for: zz_new_feature' <<'X'
$out
X"
params "$D/cs/params.yaml" "$T/dpo-bert.yaml" '{"model_name": "bert"}'
out=$("$CKCONV" validate --config "$T/dpo-bert.yaml" 2>&1); rc=$?
check "validate --config: DPO params naming a model it does not wrap are refused" sh -c "[ $rc -eq 1 ] && grep -q 'model dpo wraps no bert' <<'X'
$out
X"
params "$D/cs/params.yaml" "$T/dpo-noname.yaml" '{"model_name": null}'
out=$("$CKCONV" validate --config "$T/dpo-noname.yaml" 2>/dev/null); rc=$?
check "validate --config: DPO params naming no model inside: one finding at the file, its path said once" sh -c "[ $rc -eq 1 ] && grep -qx '$T/dpo-noname.yaml:1:1: error: .*rules/dpo.yaml:[0-9]*:[0-9]*: model: a DPO section names the model it trains in policy_model.name (ModelZoo 2.4+) or model_name (older releases); found neither' <<'X'
$out
X"
mkdir -p "$T/dpo-nocfg" && cp "$D/hf/model.safetensors" "$T/dpo-nocfg/"
expect_fail "convert --model dpo of weights without config.json: refused naming the missing file" \
	"$T/dpo-nocfg/config.json: not found (pass --config)" "$T/dpo-nocfg.mdl" \
	"$CKCONV" convert "$T/dpo-nocfg" --model dpo --tgt-fmt cs-2.9-dpo -o "$T/dpo-nocfg.mdl"

# --- mixtral: the router must be HF Mixtral's (MoEConfig keys checked one by one)
refused mx-shared "$T/mx2.yaml" "$T/mx2.mdl" '{"moe": {"num_experts": 4, "top_k": 2, "num_shared_experts": 1}}' \
	"mixtral params with a shared expert are refused" \
	"moe.num_shared_experts 1: HF Mixtral has no shared experts"
refused mx-hash "$T/mx2.yaml" "$T/mx2.mdl" '{"moe": {"num_experts": 4, "top_k": 2, "routing_algorithm": "hash"}}' \
	"mixtral params with hash routing are refused" \
	"moe.routing_algorithm hash: HF Mixtral routes by a learned gate"
refused mx-new "$T/mx2.yaml" "$T/mx2.mdl" '{"moe": {"num_experts": 4, "top_k": 2, "expert_capacity": 3}}' \
	"an moe key no rule knows is refused by name" \
	'moe keys no rule accounts for: ["expert_capacity"]'
refused llama-moe "$G/cs/params.yaml" "$T/llama.mdl" '{"moe": {"num_experts": 4}}' \
	"llama params with experts are refused" \
	"moe.num_experts 4: experts need the mixtral rules"

# --- every key of the HF config classes is accounted for (validate --strict: no warning): the
# __init__ arguments of LlamaConfig, MistralConfig, MixtralConfig, Qwen2Config and GPT2Config
# (huggingface/transformers src/transformers/models/<m>/configuration_<m>.py) plus the common
# PretrainedConfig keys a saved config.json carries
$PY - "$T" <<'PY'
import json, sys
common = {"architectures": ["X"], "torch_dtype": "float32", "transformers_version": "4.45.0", "_name_or_path": "x",
          "bos_token_id": 1, "eos_token_id": 2, "pad_token_id": None, "use_cache": True}
llama = dict(common, model_type="llama", vocab_size=96, hidden_size=64, intermediate_size=160, num_hidden_layers=2,
             num_attention_heads=4, num_key_value_heads=2, hidden_act="silu", max_position_embeddings=256,
             initializer_range=0.02, rms_norm_eps=1e-5, pretraining_tp=1, tie_word_embeddings=False, rope_theta=10000.0,
             rope_scaling=None, attention_bias=False, attention_dropout=0.0, mlp_bias=False, head_dim=16)
mistral = {k: v for k, v in llama.items() if k not in ("pretraining_tp", "mlp_bias", "attention_bias")}
mistral.update(model_type="mistral", sliding_window=4096)
mixtral = dict(mistral, model_type="mixtral", num_experts_per_tok=2, num_local_experts=4, output_router_logits=False,
               router_aux_loss_coef=0.001, router_jitter_noise=0.0)
qwen2 = {k: v for k, v in llama.items() if k not in ("pretraining_tp", "mlp_bias", "attention_bias", "head_dim")}
qwen2.update(model_type="qwen2", use_sliding_window=False, sliding_window=4096, max_window_layers=28)
gpt2 = dict(common, model_type="gpt2", vocab_size=96, n_positions=64, n_embd=64, n_layer=2, n_head=4, n_inner=None,
            activation_function="gelu_new", resid_pdrop=0.1, embd_pdrop=0.1, attn_pdrop=0.1, layer_norm_epsilon=1e-5,
            initializer_range=0.02, summary_type="cls_index", summary_use_proj=True, summary_activation=None,
            summary_proj_to_labels=True, summary_first_dropout=0.1, scale_attn_weights=True,
            scale_attn_by_inverse_layer_idx=False, reorder_and_upcast_attn=False, add_cross_attention=False,
            tie_word_embeddings=True)
for n, c in dict(llama=llama, mistral=mistral, mixtral=mixtral, qwen2=qwen2, gpt2=gpt2).items():
    json.dump(c, open(f"{sys.argv[1]}/class-{n}.json", "w"))
PY
for m in llama mistral mixtral qwen2 gpt2; do
	check "every ${m^} HF config class key is accounted for (validate --strict)" "$CKCONV" validate --strict --config "$T/class-$m.json"
done

# --- every key of the CS model config class is accounted for: the fields of GPT2LMHeadModelConfig
# and GPT2ModelConfig (Cerebras/modelzoo 2.10 models/nlp/gpt2/gpt2_model.py, model.py), which the
# llama family configures, each at its class default unless llama needs otherwise
$PY - "$T" <<'PY'
import json, sys, yaml
m = dict(name="llama", vocab_size=96, num_extra_input_vocab_tokens=0, max_position_embeddings=256, embd_pdrop=None,
    embedding_dropout_rate=0.0, position_embedding_type="rotary", constant_pos_embedding=None, position_embedding_offset=0,
    hidden_size=64, share_embedding_weights=False, embedding_layer_norm=False, num_relative_attention_buckets=32,
    rotary_dim=16, rope_theta=10000.0, fold_rope_consts=False, num_hidden_layers=2, dropout_rate=0.0, norm_type="rmsnorm",
    layer_norm_epsilon=1e-5, num_heads=4, attention_type="scaled_dot_product", attention_module="aiayn_attention",
    attention_sliding_window_length=None, sliding_window_every_other_decoder_layer=False,
    sliding_window_every_other_decoder_layer_pattern="full_attention_first", attention_sink_tokens=None,
    attention_vertical_column_spacing=None, attention_vertical_column_width=None, attention_chunk_size=None,
    attention_qk_norm_layer=None, attention_qk_norm_eps=1e-5, extra_attention_params={}, extra_ffn_params={},
    attention_inner_dim=None, use_projection_bias_in_attention=False, use_ffn_bias_in_attention=False,
    attention_dropout_rate=0.0, attention_softmax_fp32=True, attention_kernel=None, attention_logit_softcapping=None,
    fixed_sparse_attention=None, memory_tokens={"memory_tokens_enabled": False}, use_experimental_flex_api=False,
    filter_size=160, nonlinearity="swiglu", use_ffn_bias=False, use_sink_token=False, use_bias_in_output=False,
    initializer_range=0.02, embedding_initializer=None, initializer=None, output_layer_initializer=None,
    ffn_initializer=None, ffn_output_layer_initializer=None, lr_adjustment_groups=None, mup_base_hidden_size=None,
    mup_base_filter_size=None, embeddings_scale=1.0, scale_qk_dot_by_d=None, attention_logits_alpha=1.0,
    scale_output_logits_by_d=True, output_logits_alpha=None, alibi_trainable_slopes=False, pos_scaling_factor=1.0,
    pos_scaling_type="linear", pos_scaling_extra_args=None, cross_attention_layers=[], rel_distance_mode="default",
    rel_distance_extra_args=None, scale_qk_dot_by_layer_idx=False, norm_first_sandwich=False, output_logits_scale=None,
    final_logit_softcapping=None, moe={"num_experts": 0}, dtype=None, boundary_casting=False, loss_scaling="num_tokens",
    loss_weight=1.0, start_token=None, loop_dim=1, stop_sequences=None, max_tokens=None, temperature=None, top_k=None,
    top_p=None, compute_eval_metrics=True)
yaml.safe_dump({"model": m}, open(sys.argv[1] + "/class-cs-llama.yaml", "w"))
PY
check "every CS model class key is accounted for (llama, validate --strict)" "$CKCONV" validate --strict --config "$T/class-cs-llama.yaml"

# --- a CS number written so that YAML 1.1 reads a string ("1e-05" has no dot; GPT-J TRC2's
# published params): ModelZoo's config classes (pydantic) read it as the number, so ckconv does,
# with a note; a string that spells no number stays refused by the key's type
params "$G/cs/params.yaml" "$T/strnum.yaml" '{"layer_norm_epsilon": "1e-05", "vocab_size": "96"}'
out=$("$CKCONV" convert "$T/llama.mdl" --config "$T/strnum.yaml" -o "$T/strnum-hf" 2>&1 >/dev/null)
check "numbers YAML 1.1 reads as strings (\"1e-05\", \"96\") convert as the numbers" \
	test "$(jget "$T/strnum-hf/config.json" rms_norm_eps) $(jget "$T/strnum-hf/config.json" vocab_size)" = "1e-05 96"
check "... each with a note naming the key" test "$(grep -c '^ckconv: note: .*: \(layer_norm_epsilon "1e-05"\|vocab_size "96"\) (a string to YAML 1.1) read as the number' <<<"$out")" = 2
refused strnum-bad "$G/cs/params.yaml" "$T/llama.mdl" '{"layer_norm_epsilon": "1e-05x"}' \
	"a string that spells no number is still refused" "layer_norm_epsilon must be float, found \"1e-05x\""
refused strnum-inf "$G/cs/params.yaml" "$T/llama.mdl" '{"layer_norm_epsilon": "inf"}' \
	"... as is inf" "layer_norm_epsilon must be float, found \"inf\""
refused strnum-int "$G/cs/params.yaml" "$T/llama.mdl" '{"vocab_size": "96.5"}' \
	"... and a fraction for an int" "vocab_size must be int, found \"96.5\""
check "validate --config reads them as convert does (GPT-J TRC2's published params: every key accounted for)" \
	"$CKCONV" validate --config "$ROOT/tests/real/cases/cs-gptj-6b-trc2/upstream.yaml"
params "$G/cs/params.yaml" "$T/strnum-bad2.yaml" '{"layer_norm_epsilon": "1e-05x"}'
out=$("$CKCONV" validate --config "$T/strnum-bad2.yaml" 2>&1); rc=$?
check "... and refuses what convert refuses" test "$rc $(grep -c 'layer_norm_epsilon must be float, found "1e-05x"' <<<"$out")" = "1 1"
