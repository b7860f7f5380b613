#!/usr/bin/env bash
# DPO (issue 14, rules/dpo.yaml's `wrap:`): any wrapped family both ways, the reference model written
# as a copy of every policy tensor, a cstorch-style file back to HF, and what is refused.
. "$(dirname "$0")/lib.inc"
G="$ROOT/tests/golden"
# same_copies MDL: every model.ref_model.model.K equals model.policy_model.model.K, and nothing else is there
same_copies() {
	$PY - "$ROOT/tools" "$1" <<'PY'
import sys; sys.path.insert(0, sys.argv[1]); from ckcheck import mdl_load
t = mdl_load(sys.argv[2])   # dataset -> (dtype, shape, bytes)
pol = {k[len("model.policy_model.model."):]: v for k, v in t.items() if k.startswith("model.policy_model.model.")}
ref = {k[len("model.ref_model.model."):]: v for k, v in t.items() if k.startswith("model.ref_model.model.")}
assert pol and pol == ref and len(t) == 2 * len(pol), (len(pol), len(ref), len(t))
PY
}
# GPT-2 inside: the wrapped model is detected from config.json, its keys under policy_model.model.
check "dpo: gpt2 hf -> cs-2.9-dpo converts" "$CKCONV" convert "$G/gpt2/hf" --model dpo --tgt-fmt cs-2.9-dpo -o "$T/g.mdl" -q
check "... the reference model is an exact copy of the policy model" same_copies "$T/g.mdl"
check "... params: name dpo, model_name gpt2, the dpo defaults" \
	test "$(yget "$T/g.yaml" name) $(yget "$T/g.yaml" model_name) $(yget "$T/g.yaml" dpo)" = '"dpo" "gpt2" {"beta": 0.1, "reference_free": false}'
"$CKCONV" convert "$G/gpt2/hf" --tgt-fmt cs-2.9 -o "$T/plain.mdl" -q
check "... the rest of the params as for gpt2 itself" $PY - "$T/g.yaml" "$T/plain.yaml" <<'PY'
import sys, yaml
a, b = (yaml.safe_load(open(p))["model"] for p in sys.argv[1:3])
for k in ("dpo", "model_name"): a.pop(k)
a["name"] = "gpt2"; assert a == b, (a, b)
PY
check "dpo: back to HF (model detected from the params' name)" "$CKCONV" convert "$T/g.mdl" -o "$T/g-hf" -q
check "... equals gpt2's hf_back (the copy dropped)" $CHECK st-vs-st "$T/g-hf" "$G/gpt2/hf_back"
check "... config.json holds every hf_back key" $CHECK json-superset "$T/g-hf/config.json" "$G/gpt2/hf_back/config.json"
# every other wrapped family with a golden case: there and back equals its own hf_back
for c in falcon-7b bloom gpt-neox gptj starcoder santacoder; do
	"$CKCONV" convert "$G/$c/hf" --model dpo --tgt-fmt cs-2.9-dpo -o "$T/$c.mdl" -q &&
		"$CKCONV" convert "$T/$c.mdl" -o "$T/$c-hf" -q
	check "dpo: $c inside, both ways, equals $c's hf_back" $CHECK st-vs-st "$T/$c-hf" "$G/$c/hf_back"
done
# an older release's variant
check "dpo: cs-2.2-dpo converts" "$CKCONV" convert "$G/gpt2/hf" --model dpo --tgt-fmt cs-2.2-dpo -o "$T/g22.mdl" -q
check "... and back" "$CKCONV" convert "$T/g22.mdl" --model dpo --src-fmt cs-2.2-dpo -o "$T/g22-hf" -q
check "... equal to gpt2's hf_back" $CHECK st-vs-st "$T/g22-hf" "$G/gpt2/hf_back"

# a cstorch-style (LZ4, model.*) DPO checkpoint: the reference's own output, back to HF
$PY "$ROOT/tools/make_cstorch_h5.py" "$G/dpo/cs/model.safetensors" "$T/d.mdl" >/dev/null
cp "$G/dpo/cs/params.yaml" "$T/d.yaml"
check "dpo: a cstorch-style file converts to HF" "$CKCONV" convert "$T/d.mdl" -o "$T/d-hf" -q
check "... tensors equal the reference's hf_back" $CHECK st-vs-st "$T/d-hf" "$G/dpo/hf_back"

# refused: a model DPO does not wrap, params without model_name, a release the wrapped model lacks
EXPECT_RC=1 expect_fail "dpo: an HF model it does not wrap is refused" "model dpo wraps no bert" "$T/b.mdl" \
	"$CKCONV" convert "$G/bert/hf" --model dpo --tgt-fmt cs-2.9-dpo -o "$T/b.mdl"
params_edit "$T/d.yaml" "$T/noname.yaml" '{"model_name": null}'
expect_fail "dpo: params without model_name are refused" "cs.model.model_name must name the model inside, found nothing" \
	"$T/noname-hf" "$CKCONV" convert "$T/d.mdl" --config "$T/noname.yaml" -o "$T/noname-hf"
params_edit "$T/d.yaml" "$T/nomodel.yaml" '{"model_name": "nosuch"}'
expect_fail "dpo: a model_name no rule file has is refused" "unknown model 'nosuch'" \
	"$T/nomodel-hf" "$CKCONV" convert "$T/d.mdl" --config "$T/nomodel.yaml" -o "$T/nomodel-hf"
echo "$n passed"
