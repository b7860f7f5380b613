#!/usr/bin/env bash
# Issue 14's shared cases CS -> HF from a cstorch-style file of the reference's own CS output
# (LZ4-chunked datasets, model.* keys, per-key metadata, as cstorch saves a training checkpoint:
# tools/make_cstorch_h5.py), for the families the other suites do not read that way (gptj, codegen,
# falcon-7b, falcon-40b: gptj_backbone.sh; btlm, jais: btlm.sh; dpo: dpo.sh). The golden suite
# reads only ckconv's own packed output; this is the file a Cerebras training run leaves. And every
# shared case of the issue from hf_bin/ (PyTorch .bin) both ways: the golden suite takes hf_bin/ to
# CS; here its packed file goes on back to HF, equal to the reference's hf_back.
. "$(dirname "$0")/lib.inc"
G="$ROOT/tests/golden"
field() { $PY -c 'import json, sys; v = json.load(open(sys.argv[1])).get(sys.argv[2], ""); print(json.dumps(v) if isinstance(v, dict) else v)' "$1" "$2"; }
for c in gemma2 gpt-neox bloom starcoder santacoder llama-headless gpt2-headless gpt-neox-headless; do
	model=$(field "$G/$c/case.json" model)
	override=$(field "$G/$c/case.json" hf_config_override); override=${override:-"{}"}
	$PY "$ROOT/tools/make_cstorch_h5.py" "$G/$c/cs/model.safetensors" "$T/$c.mdl" >/dev/null
	check "$c: a cstorch-style (LZ4, model.*) file of the reference's CS output converts to HF" \
		"$CKCONV" convert "$T/$c.mdl" --config "$G/$c/cs/params.yaml" --model "$model" -o "$T/$c-hf" -q
	check "... tensors equal the reference's hf_back" $CHECK st-vs-st "$T/$c-hf" "$G/$c/hf_back"
	check "... config.json holds every hf_back key and value" $CHECK json-superset "$T/$c-hf/config.json" \
		"$G/$c/hf_back/config.json" --override "$override"
done
for c in gemma2 gpt-neox gptj bloom starcoder santacoder falcon-7b falcon-40b-bf16 codegen btlm-bf16 jais dpo \
	llama-headless gpt2-headless gpt-neox-headless; do
	model=$(field "$G/$c/case.json" model); fmt=$(field "$G/$c/case.json" tgt_fmt)
	"$CKCONV" convert "$G/$c/hf_bin" --model "$model" --tgt-fmt "$fmt" -o "$T/$c-bin.mdl" -q &&
		"$CKCONV" convert "$T/$c-bin.mdl" --model "$model" --src-fmt "$fmt" --tgt-fmt hf -o "$T/$c-bin-hf" -q
	check "$c: hf_bin -> $fmt -> hf equals the reference's hf_back" $CHECK st-vs-st "$T/$c-bin-hf" "$G/$c/hf_back"
done
# BLOOM configs as bigscience/bloom published them name the heads and layers by BloomConfig's
# attribute_map (num_attention_heads, num_hidden_layers): they are the model's, not the defaults
hf_variant bloom-old "$G/bloom/hf" '{"n_head": null, "n_layer": null, "num_attention_heads": 4, "num_hidden_layers": 2}'
check "bloom: num_attention_heads / num_hidden_layers (older configs) convert" "$CKCONV" convert "$T/bloom-old" -o "$T/bloom-old.mdl" -q
check "... to the params of the golden case (n_head / n_layer; corrected: tests/golden-fixed)" $CHECK yaml-eq "$T/bloom-old.yaml" "$ROOT/tests/golden-fixed/bloom/params.yaml"
check "... and the same tensors" $CHECK mdl-vs-st "$T/bloom-old.mdl" "$G/bloom/cs/model.safetensors"
hf_variant bloom-deep "$G/bloom/hf" '{"n_layer": null, "num_hidden_layers": 3}'
expect_fail "... a layer count the checkpoint lacks is refused, whichever name says it" "the config implies 3 layers" "$T/bloom-deep.mdl" \
	"$CKCONV" convert "$T/bloom-deep" -o "$T/bloom-deep.mdl"
# no jais-headless (the reference's registry has none: docs/config-keys.md): a JAISModel checkpoint
# (no transformer. prefix, no LM head) is refused by jais, not converted as something else
mkdir -p "$T/jais-model" && $PY - "$G/jais/hf" "$T/jais-model" "$ROOT/tools" <<'PY'
import json, os, sys
sys.path.insert(0, sys.argv[3])
import stfile
t = stfile.read(os.path.join(sys.argv[1], "model.safetensors"))
stfile.write(os.path.join(sys.argv[2], "model.safetensors"),
             {k[len("transformer."):]: v for k, v in t.items() if k.startswith("transformer.")})
c = json.load(open(os.path.join(sys.argv[1], "config.json"))); c["architectures"] = ["JAISModel"]
json.dump(c, open(os.path.join(sys.argv[2], "config.json"), "w"))
PY
out=$("$CKCONV" convert "$T/jais-model" --model jais -o "$T/jais-model.mdl" 2>&1)
check "jais: a JAISModel (headless) checkpoint is refused, key by key" grep -qF "wte.weight: no rule matches this key" <<<"$out"
check "... and nothing is written" test ! -e "$T/jais-model.mdl"
# Keys that restate another key's value (a copy some reader takes instead): the golden CASE's HF config
# with SAME patched converts to the golden params; with each DIFF patched it is refused in one line
# naming WANT. copies CASE WHAT SAME DIFF WANT [DIFF WANT ...]
copies() {
	local c=$1 what=$2 i=0; shift 2
	hf_variant "$c-same" "$G/$c/hf" "$1"; shift
	check "$c: $what equal to what they copy convert" "$CKCONV" convert "$T/$c-same" -o "$T/$c-same.mdl" -q
	check "... to the params of the golden case" $CHECK yaml-eq "$T/$c-same.yaml" "$G/$c/cs/params.yaml"
	while [ $# -ge 2 ]; do
		i=$((i + 1)); hf_variant "$c-diff$i" "$G/$c/hf" "$1"
		expect_fail "... refused when they differ: $2" "$2" "$T/$c-diff$i.mdl" "$CKCONV" convert "$T/$c-diff$i" -o "$T/$c-diff$i.mdl"
		shift 2
	done
}
# GPT-NeoX configs as transformers 4.4x saves them also hold partial_rotary_factor / rope_theta,
# copies of rotary_pct / rotary_emb_base that other transformers versions read instead: equal, they
# convert as the one value; different, which model the file means is unknown (hf-pythia-410m-chatbot)
copies gpt-neox "partial_rotary_factor / rope_theta" '{"partial_rotary_factor": 0.25, "rope_theta": 10000}' \
	'{"partial_rotary_factor": 0.5}' "partial_rotary_factor 0.5 differs from rotary_pct 0.25" \
	'{"rope_theta": 20000}' "rope_theta 20000 differs from rotary_emb_base 10000"
# Gemma 2's first configs also say sliding_window_size (unread by transformers' model: equal, it
# converts; different, the window meant is unknown); transformers >= 4.56 writes dtype for
# torch_dtype (hf-gemma2-9b, hf-gemma2-2b-jpn)
copies gemma2 "sliding_window_size (and dtype)" '{"sliding_window_size": 128, "dtype": "float32"}' \
	'{"sliding_window_size": 64}' "sliding_window_size 64 differs from sliding_window 128"
# GPT-2's map (gpt2, starcoder, santacoder, btlm, jais): an HF activation CS does not know is refused,
# not written into params ModelZoo cannot load (gelu_pytorch_tanh becomes gelu_new: golden starcoder)
hf_variant gpt2-act "$G/gpt2/hf" '{"activation_function": "gelu_10"}'
expect_fail "gpt2: activation_function gelu_10 (no CS counterpart) is refused" "activation_function gelu_10 has no CS counterpart" \
	"$T/gpt2-act.mdl" "$CKCONV" convert "$T/gpt2-act" -o "$T/gpt2-act.mdl"
# An activation CS has only another form of converts with one note saying so, never silently:
# Gemma 2's gelu_pytorch_tanh becomes geglu (exact GELU: CS has no approximate gated one); HF
# BLOOM's GELU is the tanh approximation, CS gelu_new (written on the way to CS: golden bloom), and
# CS gelu (exact: ModelZoo's BLOOM params, the reference's) comes back to it with a note.
notes() { "$@" 2>&1 >/dev/null | grep '^ckconv: note: '; } # the note lines of a run
said() { # NAME WANT COUNT CMD...: the run succeeds and COUNT note lines contain WANT
	local name=$1 want=$2 count=$3 out; shift 3
	if out=$("$@" 2>&1 >/dev/null); then :; else notok "$name"; printf '%s\n' "$out" | sed 's/^/#   /'; return; fi
	check "$name" test "$(grep '^ckconv: note: ' <<<"$out" | grep -cF -- "$want")" = "$count"
}
hf_variant gemma2-tanh "$G/gemma2/hf" '{"hidden_activation": "gelu_pytorch_tanh"}'
said "gemma2: gelu_pytorch_tanh converts to geglu with one note" \
	"hidden_activation gelu_pytorch_tanh (the tanh approximation of GELU) becomes CS geglu, whose GELU is exact" 1 \
	"$CKCONV" convert "$T/gemma2-tanh" -o "$T/gemma2-tanh.mdl"
check "... naming its rule" sh -c "'$CKCONV' convert '$T/gemma2-tanh' -o '$T/gemma2-tanh2.mdl' 2>&1 >/dev/null | grep -q 'becomes CS geglu.*(rule .*gemma2.yaml:[0-9]*:[0-9]*)$'"
hf_variant gemma2-exact "$G/gemma2/hf" '{"hidden_activation": "gelu"}'
said "... exact gelu converts without one" "hidden_activation" 0 "$CKCONV" convert "$T/gemma2-exact" -o "$T/gemma2-exact.mdl"
hf_variant gemma2-clip "$G/gemma2/hf" '{"hidden_activation": "gelu_10"}'
expect_fail "... gelu_10 (clipped to [-10, 10]) is refused" "hidden_activation gelu_10 is not a GLU-able activation in CS" \
	"$T/gemma2-clip.mdl" "$CKCONV" convert "$T/gemma2-clip" -o "$T/gemma2-clip.mdl"
"$CKCONV" convert "$G/bloom/hf" -o "$T/bl.mdl" -q
check "bloom: HF -> CS writes nonlinearity gelu_new (HF BLOOM's tanh-approximate GELU)" test "$(yget "$T/bl.yaml" nonlinearity)" = '"gelu_new"'
said "... which comes back without a note" "nonlinearity" 0 "$CKCONV" convert "$T/bl.mdl" -o "$T/bl-hf" -q
params_edit "$T/bl.yaml" "$T/bl-exact.yaml" '{"nonlinearity": "gelu"}'
said "... CS gelu (exact) comes back with one note" "nonlinearity gelu (exact) becomes HF BLOOM's GELU, the tanh approximation" 1 \
	"$CKCONV" convert "$T/bl.mdl" --config "$T/bl-exact.yaml" -o "$T/bl-exact-hf"
params_edit "$T/bl.yaml" "$T/bl-none.yaml" '{"nonlinearity": null}'
said "... as does no nonlinearity (CS's default gelu)" "nonlinearity gelu (exact)" 1 \
	"$CKCONV" convert "$T/bl.mdl" --config "$T/bl-none.yaml" -o "$T/bl-none-hf"
params_edit "$T/bl.yaml" "$T/bl-relu.yaml" '{"nonlinearity": "relu"}'
expect_fail "... any other nonlinearity is refused" "nonlinearity relu has no HF BLOOM counterpart" \
	"$T/bl-relu-hf" "$CKCONV" convert "$T/bl.mdl" --config "$T/bl-relu.yaml" -o "$T/bl-relu-hf"
echo "$n passed"
