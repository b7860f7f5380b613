#!/usr/bin/env bash
# RoPE scaling both ways with every field (issue 11 item 1), on the golden llama weights with real
# published rope_scaling blocks:
#   llama3:   meta-llama/Llama-3.1-8B config.json (factor 8, low 1, high 4, original 8192, rope_type llama3)
#             and Cerebras/modelzoo models/nlp/llama/configs/params_llama3p1_8b_msl_8k.yaml (pos_scaling_*)
#   linear:   lmsys/vicuna-7b-v1.5-16k config.json ({type: linear, factor: 4.0})
#   yarn:     NousResearch/Yarn-Llama-2-7b-64k config.json ({type: yarn, factor: 16.0,
#             original_max_position_embeddings: 4096}, plus finetuned: true, which HF ignores: refused)
#   longrope: microsoft/Phi-3-mini-128k-instruct's shape (long/short factors; shrunk to this model)
. "$(dirname "$0")/lib.inc"
G="$ROOT/tests/golden/llama"
# hf NAME JSON: a copy of the golden HF input with config.json keys replaced (nulls kept as values)
hf() { hf_variant --keep-null "$1" "$G/hf" "$2"; }
# cs NAME JSON: the golden packed checkpoint with params model keys replaced (null deletes)
$PY "$ROOT/tools/make_cstorch_h5.py" --format 0.5 "$G/cs/model.safetensors" "$T/base.mdl" >/dev/null
cs() { cp "$T/base.mdl" "$T/$1.mdl" && params_edit "$G/cs/params.yaml" "$T/$1.yaml" "$2"; }
# canon JSON: the JSON with its keys sorted, as jget prints it
canon() { $PY -c 'import json,sys; print(json.dumps(json.loads(sys.argv[1]), sort_keys=True))' "$1"; }
# rope_is DIR JSON: DIR/config.json's rope_scaling is JSON
rope_is() { test "$(jget "$1/config.json" rope_scaling)" = "$(canon "$2")"; }
# both NAME: $T/NAME (HF) -> $T/NAME.mdl -> $T/NAME-back (HF)
both() { "$CKCONV" convert "$T/$1" -o "$T/$1.mdl" -q && "$CKCONV" convert "$T/$1.mdl" -o "$T/$1-back" -q; }
# both_rope NAME JSON: both ways, and the HF rope_scaling that comes back is JSON
both_rope() { both "$1" && rope_is "$T/$1-back" "$2"; }
# to_hf_rope NAME OUT JSON: $T/NAME.mdl -> $T/OUT (HF), whose rope_scaling is JSON
to_hf_rope() { "$CKCONV" convert "$T/$1.mdl" -o "$T/$2" -q && rope_is "$T/$2" "$3"; }

# --- llama3 (Llama 3.1 / 3.2 / 3.3)
L3='{"factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0, "original_max_position_embeddings": 8192, "rope_type": "llama3"}'
hf l3 "{\"rope_scaling\": $L3, \"max_position_embeddings\": 131072}"
check "llama3 HF -> CS converts" "$CKCONV" convert "$T/l3" -o "$T/l3.mdl" -q
check "... pos_scaling_type llama3, factor 8.0" test "$(yget "$T/l3.yaml" pos_scaling_type) $(yget "$T/l3.yaml" pos_scaling_factor)" = '"llama3" 8.0'
check "... pos_scaling_extra_args holds the three llama3 fields" test "$(yget "$T/l3.yaml" pos_scaling_extra_args)" = \
	'{"high_freq_factor": 4.0, "low_freq_factor": 1.0, "original_max_position_embeddings": 8192}'
check "llama3 CS -> HF converts" "$CKCONV" convert "$T/l3.mdl" -o "$T/l3-back" -q
check "... rope_scaling comes back whole, under rope_type (never {type: linear})" test "$(jget "$T/l3-back/config.json" rope_scaling)" = \
	"$(canon "$L3")"
# the modelzoo params of Llama 3.1 8B, its pos_scaling_* keys verbatim
cs mz3 '{"pos_scaling_factor": 8.0, "pos_scaling_type": "llama3", "pos_scaling_extra_args": {"high_freq_factor": 4.0, "low_freq_factor": 1.0, "original_max_position_embeddings": 8192}}'
check "modelzoo Llama 3.1 params -> HF" "$CKCONV" convert "$T/mz3.mdl" -o "$T/mz3" -q
check "... rope_scaling is llama3 with all its fields" test "$(jget "$T/mz3/config.json" rope_scaling)" = \
	"$(canon "$L3")"
cs l3def '{"pos_scaling_factor": 8.0, "pos_scaling_type": "llama3"}'
check "llama3 params without extra args -> HF writes the CS defaults (1, 4, 8192) explicitly" to_hf_rope l3def l3def "$L3"
hf l3bad '{"rope_scaling": {"factor": 8.0, "low_freq_factor": 1.0, "rope_type": "llama3"}}'
expect_fail "llama3 without all its fields is refused" "rope_scaling (llama3) needs low_freq_factor, high_freq_factor and original_max_position_embeddings" \
	"$T/l3bad.mdl" "$CKCONV" convert "$T/l3bad" -o "$T/l3bad.mdl" -q
cs l3x '{"pos_scaling_factor": 8.0, "pos_scaling_type": "llama3", "pos_scaling_extra_args": {"low_freq_factor": 1.0, "smooth": 2}}'
expect_fail "llama3 extra args HF cannot take are refused by name" 'pos_scaling_extra_args (llama3) keys with no HF counterpart: ["smooth"]' \
	"$T/l3x-hf" "$CKCONV" convert "$T/l3x.mdl" -o "$T/l3x-hf" -q

# --- linear (vicuna-7b-v1.5-16k)
hf lin '{"rope_scaling": {"type": "linear", "factor": 4.0}}'
check "linear HF -> CS -> HF round trip" both lin
check "... CS pos_scaling_type linear, factor 4.0, no extra args" test "$(yget "$T/lin.yaml" pos_scaling_type) $(yget "$T/lin.yaml" pos_scaling_factor) $(yget "$T/lin.yaml" pos_scaling_extra_args)" = '"linear" 4.0 "ABSENT"'
check "... HF {type: linear, factor: 4.0}" test "$(jget "$T/lin-back/config.json" rope_scaling)" = '{"factor": 4.0, "type": "linear"}'

# --- yarn
hf yarn '{"rope_scaling": {"type": "yarn", "factor": 16.0, "original_max_position_embeddings": 64}}'
check "yarn HF -> CS -> HF round trip" both yarn
check "... CS keeps original_max_position_embeddings" test "$(yget "$T/yarn.yaml" pos_scaling_extra_args)" = '{"original_max_position_embeddings": 64}'
check "... HF gets it back" test "$(jget "$T/yarn-back/config.json" rope_scaling)" = '{"factor": 16.0, "original_max_position_embeddings": 64, "type": "yarn"}'
hf yarnall '{"rope_scaling": {"rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": 64, "beta_fast": 16.0, "beta_slow": 2.0, "attention_factor": 1.5}}'
check "yarn with beta_fast, beta_slow, attention_factor converts" "$CKCONV" convert "$T/yarnall" -o "$T/yarnall.mdl" -q
check "... carried: betas as they are, the attention factor as mscale_a 0, mscale_b 1.5" test "$(yget "$T/yarnall.yaml" pos_scaling_extra_args)" = \
	'{"beta_fast": 16.0, "beta_slow": 2.0, "mscale_a": 0.0, "mscale_b": 1.5, "original_max_position_embeddings": 64}'
check "... and back to HF unchanged" to_hf_rope yarnall yarnall-back \
	'{"attention_factor": 1.5, "beta_fast": 16.0, "beta_slow": 2.0, "factor": 4.0, "original_max_position_embeddings": 64, "type": "yarn"}'
hf yarnft '{"rope_scaling": {"type": "yarn", "factor": 16.0, "original_max_position_embeddings": 64, "finetuned": true}}'
expect_fail "a yarn field CS has no counterpart for is refused by name" 'rope_scaling (yarn) keys with no CS counterpart: ["finetuned"]' \
	"$T/yarnft.mdl" "$CKCONV" convert "$T/yarnft" -o "$T/yarnft.mdl" -q
cs yarnms '{"pos_scaling_factor": 2.0, "pos_scaling_type": "YaRN", "pos_scaling_extra_args": {"original_max_position_embeddings": 128, "mscale_a": 0.2}}'
check "CS yarn with its own mscale_a -> HF attention_factor 0.2 ln 2 + 1" sh -c "'$CKCONV' convert '$T/yarnms.mdl' -o '$T/yarnms' -q && $PY -c 'import json,math,sys; r=json.load(open(sys.argv[1]))[\"rope_scaling\"]; assert r[\"type\"] == \"yarn\" and abs(r[\"attention_factor\"] - (0.2 * math.log(2) + 1)) < 1e-15, r' '$T/yarnms/config.json'"
cs yarnex '{"pos_scaling_factor": 2.0, "pos_scaling_type": "yarn", "pos_scaling_extra_args": {"original_max_position_embeddings": 128, "extrapolation_factor": 2.0}}'
expect_fail "CS yarn extrapolation_factor != 1 is refused (HF has none)" "HF yarn has no extrapolation factor" \
	"$T/yarnex-hf" "$CKCONV" convert "$T/yarnex.mdl" -o "$T/yarnex-hf" -q

# --- longrope
LR='{"type": "longrope", "long_factor": [1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5], "short_factor": [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0], "original_max_position_embeddings": 64}'
hf lr "{\"rope_scaling\": $LR}"
check "longrope HF -> CS -> HF round trip" both lr
check "... CS factor = max_position_embeddings / original (what CS longrope computes)" test "$(yget "$T/lr.yaml" pos_scaling_factor)" = 4.0
check "... HF gets every field back, and that factor" test "$(jget "$T/lr-back/config.json" rope_scaling)" = \
	"$($PY -c 'import json,sys; d=json.loads(sys.argv[1]); d["factor"]=4.0; print(json.dumps(d, sort_keys=True))' "$LR")"
cs lrms '{"pos_scaling_factor": 1.0, "pos_scaling_type": "longrope", "pos_scaling_extra_args": {"original_max_position_embeddings": 128, "long_factor": [1.0], "short_factor": [1.0], "long_mscale": 1.2}}'
expect_fail "CS longrope long_mscale is refused (HF has none)" 'pos_scaling_extra_args (longrope) keys with no HF counterpart: ["long_mscale"]' \
	"$T/lrms-hf" "$CKCONV" convert "$T/lrms.mdl" -o "$T/lrms-hf" -q

# --- other types: refused with their name, both ways
hf dyn '{"rope_scaling": {"type": "dynamic", "factor": 2.0}}'
expect_fail "rope_scaling dynamic is refused, naming the type" "rope_scaling type dynamic has no CS counterpart" \
	"$T/dyn.mdl" "$CKCONV" convert "$T/dyn" -o "$T/dyn.mdl" -q
cs csdyn '{"pos_scaling_factor": 2.0, "pos_scaling_type": "ntk"}'
expect_fail "an unknown pos_scaling_type is refused, naming it" "pos_scaling_type ntk is not a RoPE scaling type CS knows" \
	"$T/csdyn-hf" "$CKCONV" convert "$T/csdyn.mdl" -o "$T/csdyn-hf" -q

# every family with RoPE shares the rule: mixtral and qwen2 golden inputs, and mistral (the llama
# layout under a Mistral config), with the Llama 3.1 block
hf mistral-l3 "{\"rope_scaling\": $L3, \"model_type\": \"mistral\", \"architectures\": [\"MistralForCausalLM\"], \"sliding_window\": null}"
check "mistral: llama3 rope_scaling HF -> CS -> HF keeps every field" both_rope mistral-l3 "$L3"
for m in mixtral qwen2; do
	hf_variant "$m-l3" "$ROOT/tests/golden/$m/hf" "{\"rope_scaling\": $L3}"
	check "$m: llama3 rope_scaling HF -> CS -> HF keeps every field" both_rope "$m-l3" "$L3"
done
