#!/usr/bin/env bash
# A rule file lists the CS model names it converts (issue 11 item 2): Cerebras-GPT / GPT-3 params say
# `name: gpt3` and convert with gpt2; DPR params say `name: dpr` and convert with dragon. Detection
# from params model.name finds them without --model; `ckconv list` shows them; other names stay refused.
. "$(dirname "$0")/lib.inc"
G=$ROOT/tests/golden
mk() { "$PY" "$ROOT/tools/make_cstorch_h5.py" "$1" "$2" >/dev/null; }

mk "$G/gpt2/cs/model.safetensors" "$T/gpt.mdl"
sed 's/^  name: gpt2$/  name: gpt3/' "$G/gpt2/cs/params.yaml" >"$T/gpt3.yaml"
check "the gpt3 params really say gpt3" grep -qx '  name: gpt3' "$T/gpt3.yaml"
check "name: gpt3 is detected as gpt2 and converts" "$CKCONV" convert "$T/gpt.mdl" --config "$T/gpt3.yaml" --tgt-fmt hf -o "$T/gpt3-hf" --quiet
check "... into the same tensors as name: gpt2" $CHECK st-vs-st "$T/gpt3-hf/model.safetensors" "$G/gpt2/hf_back/model.safetensors"
check "... and a GPT-2 config" grep -q '"model_type": "gpt2"' "$T/gpt3-hf/config.json"
check "--model gpt2 takes name: gpt3 too" "$CKCONV" convert "$T/gpt.mdl" --config "$T/gpt3.yaml" --model gpt2 --tgt-fmt hf -o "$T/gpt3-hf2" --quiet
sed 's/^  name: gpt2$/  name: gpt4/' "$G/gpt2/cs/params.yaml" >"$T/gpt4.yaml"
expect_fail "an unlisted CS name is refused, naming it" 'model.name "gpt4" matches no model' "$T/gpt4-hf" \
	"$CKCONV" convert "$T/gpt.mdl" --config "$T/gpt4.yaml" --tgt-fmt hf -o "$T/gpt4-hf"
expect_fail "--model gpt2 still refuses a name it does not list" 'gpt4' "$T/gpt4-hf2" \
	"$CKCONV" convert "$T/gpt.mdl" --config "$T/gpt4.yaml" --model gpt2 --tgt-fmt hf -o "$T/gpt4-hf2"

mk "$G/dragon/cs/model.safetensors" "$T/dpr.mdl"
sed 's/^  name: dragon$/  name: dpr/' "$G/dragon/cs/params.yaml" >"$T/dpr.yaml"
check "the dpr params really say dpr" grep -qx '  name: dpr' "$T/dpr.yaml"
check "name: dpr is detected as dragon and converts" "$CKCONV" convert "$T/dpr.mdl" --config "$T/dpr.yaml" --tgt-fmt hf -o "$T/dpr-hf" --quiet
check "... into both encoders" test -f "$T/dpr-hf/q_encoder/model.safetensors" -a -f "$T/dpr-hf/ctx_encoder/model.safetensors"
check "... bit for bit as name: dragon" $CHECK st-vs-st "$T/dpr-hf/q_encoder/model.safetensors" "$G/dragon/hf_back/q_encoder/model.safetensors"

out=$("$CKCONV" list 2>&1)
check "list shows gpt2's CS names" grep -q 'CS names: *gpt2, gpt3' <<<"$out"
check "list shows dragon's CS names" grep -q 'CS names: *dragon, dpr' <<<"$out"
