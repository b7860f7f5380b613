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
for c in falcon-7b bloom gpt-neox gptj starcoder santacoder mixtral; do
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
# after training the policy model differs from the frozen reference model, and with
# dpo.reference_free ModelZoo builds no reference model at all: HF gets the policy model either way
$PY - "$ROOT/tools" "$G/dpo/cs/model.safetensors" "$T" <<'PY'
import sys; sys.path.insert(0, sys.argv[1]); import stfile
t = stfile.read(sys.argv[2])
ref = lambda k: k.startswith("model.ref_model.")
stfile.write(f"{sys.argv[3]}/trained.safetensors", {k: (d, a + 1 if ref(k) else a) for k, (d, a) in t.items()})
stfile.write(f"{sys.argv[3]}/reffree.safetensors", {k: v for k, v in t.items() if not ref(k)})
PY
params_edit "$T/d.yaml" "$T/reffree.yaml" '{"dpo": {"beta": 0.1, "reference_free": true}}'
for v in trained:d reffree:reffree; do
	$PY "$ROOT/tools/make_cstorch_h5.py" "$T/${v%%:*}.safetensors" "$T/${v%%:*}.mdl" >/dev/null
	check "dpo: a ${v%%:*} checkpoint converts to HF" "$CKCONV" convert "$T/${v%%:*}.mdl" --config "$T/${v#*:}.yaml" -o "$T/${v%%:*}-hf" -q
	check "... to the policy model (the reference's hf_back)" $CHECK st-vs-st "$T/${v%%:*}-hf" "$G/dpo/hf_back"
done

# refused: a model DPO does not wrap, params without model_name, a release the wrapped model lacks
EXPECT_RC=1 expect_fail "dpo: an HF model it does not wrap is refused" "model dpo wraps no bert" "$T/b.mdl" \
	"$CKCONV" convert "$G/bert/hf" --model dpo --tgt-fmt cs-2.9-dpo -o "$T/b.mdl"
params_edit "$T/d.yaml" "$T/noname.yaml" '{"model_name": null}'
expect_fail "dpo: params without model_name are refused" \
	"noname.yaml: $ROOT/rules/dpo.yaml:37:9: model: a DPO section names the model it trains in policy_model.name (ModelZoo 2.4+) or model_name (older releases); found neither" \
	"$T/noname-hf" "$CKCONV" convert "$T/d.mdl" --config "$T/noname.yaml" -o "$T/noname-hf"
params_edit "$T/d.yaml" "$T/nomodel.yaml" '{"model_name": "nosuch"}'
expect_fail "dpo: a model_name no rule file has is refused" "unknown model 'nosuch'" \
	"$T/nomodel-hf" "$CKCONV" convert "$T/d.mdl" --config "$T/nomodel.yaml" -o "$T/nomodel-hf"

# ModelZoo 2.4+ nests the model DPO trains in policy_model (its own name) beside name, dpo and
# compute_eval_metrics; ModelZoo (DPOModelConfig.make_submodel) reads both layouts, the reference
# converter only model_name (it refuses these params: a bug there). nest SRC OUT OUTER INNER: SRC's
# flat DPO params in the nested layout, then OUTER / INNER (JSON merge patches) on the DPO section /
# policy_model.
nest() {
	$PY - "$@" <<'PY'
import json, sys, yaml
src, out, outer, inner = sys.argv[1:5]
m = yaml.safe_load(open(src))["model"]
pol = {k: v for k, v in m.items() if k not in ("name", "dpo", "compute_eval_metrics", "model_name")}
sec = {"name": "dpo", "dpo": m["dpo"], "compute_eval_metrics": True, "policy_model": {"name": m["model_name"], **pol}}
for d, patch in ((sec, outer), (sec["policy_model"], inner)):
    for k, v in json.loads(patch).items():
        d.pop(k, None) if v is None else d.__setitem__(k, v)
yaml.safe_dump({"trainer": {"init": {"model": sec}}}, open(out, "w"), sort_keys=False)
PY
}
nest "$T/d.yaml" "$T/n.yaml" '{}' '{}'
check "dpo: nested params (policy_model) convert a cstorch-style file" "$CKCONV" convert "$T/d.mdl" --config "$T/n.yaml" -o "$T/n-hf" -q
check "... tensors equal the reference's hf_back" $CHECK st-vs-st "$T/n-hf" "$G/dpo/hf_back"
check "... config.json equals the flat params' one" cmp "$T/n-hf/config.json" "$T/d-hf/config.json"
nest "$T/d.yaml" "$T/n24.yaml" '{"fp16_type": "cbfloat16", "mixed_precision": true}' '{}'
check "... with ModelZoo 2.4's deprecated precision keys beside policy_model too" "$CKCONV" convert "$T/d.mdl" \
	--config "$T/n24.yaml" -o "$T/n24-hf" -q
check "... the same config.json" cmp "$T/n24-hf/config.json" "$T/d-hf/config.json"
# every published version of ModelZoo's DPO params (flat 2.2.0 / 2.3.0, nested 2.4.0 and 2.10.0, the
# tests/real cases' upstream files, unshrunk): the HF config of the model it starts from, Mistral-7B-v0.1
for v in -r220 -r230 -r240 ""; do
	"$CKCONV" convert-config "$ROOT/tests/real/cases/cs-dpo-zephyr-7b$v/upstream.yaml" --model dpo --src-fmt cs-2.9-dpo \
		--tgt-fmt hf -o "$T/zephyr$v.json" -q
	check "dpo: ModelZoo's params_zephyr_7b_dpo.yaml${v:+ ($v)} -> Mistral-7B-v0.1's HF config" $PY - "$T/zephyr$v.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
want = {"architectures": ["MistralForCausalLM"], "model_type": "mistral", "hidden_size": 4096, "intermediate_size": 14336,
        "num_attention_heads": 32, "num_hidden_layers": 32, "num_key_value_heads": 8, "vocab_size": 32000,
        "max_position_embeddings": 32768, "sliding_window": 4096, "rms_norm_eps": 1e-05, "rope_theta": 10000.0,
        "tie_word_embeddings": False, "hidden_act": "silu"}
assert all(c.get(k) == v for k, v in want.items()), {k: c.get(k) for k in want}
PY
done
# a params name that is no model name is a CS name, as params are detected: gpt3 (ModelZoo's GPT3ModelConfig,
# which DPO trains; the reference knows no model gpt3) is converted by gpt2's rules, in either layout
params_edit "$T/g.yaml" "$T/g3.yaml" '{"model_name": "gpt3"}'
nest "$T/g3.yaml" "$T/g3n.yaml" '{}' '{}'
for p in g3 g3n; do
	check "dpo: params naming gpt3 ($p) convert with gpt2's rules" "$CKCONV" convert "$T/g.mdl" --config "$T/$p.yaml" -o "$T/$p-hf" -q
	check "... to gpt2's hf_back" $CHECK st-vs-st "$T/$p-hf" "$G/gpt2/hf_back"
done
out=$("$CKCONV" explain --model dpo --config "$ROOT/tests/real/cases/cs-dpo-zephyr-7b/upstream.yaml" model.layers.0.self_attn.k_proj.weight)
check "explain dpo with ModelZoo's nested trainer-style params: the model inside (mistral) with the params' sizes" $PY -c '
import sys; t = sys.stdin.read()
assert "target   policy_model.model.transformer_decoder.layers.0.self_attn.proj_k_dense_layer.weight" in t and "kv_heads = 8" in t and "= [1024,4096]" in t, t' <<<"$out"
# refused in one line, nothing written: the nested layout without a name, naming a model DPO does not
# wrap or no rule file has, both layouts at once, model keys beside policy_model, policy_model not a mapping
nest "$T/d.yaml" "$T/e-noname.yaml" '{}' '{"name": null}'
expect_fail "dpo: nested params without policy_model.name are refused" \
	"e-noname.yaml: $ROOT/rules/dpo.yaml:27:11: model.policy_model.name: the nested layout names the model DPO trains here; found none" \
	"$T/e-hf" "$CKCONV" convert "$T/d.mdl" --config "$T/e-noname.yaml" -o "$T/e-hf"
nest "$T/d.yaml" "$T/e-bert.yaml" '{}' '{"name": "bert"}'
expect_fail "... naming a model DPO does not wrap" "e-bert.yaml: model dpo wraps no bert (it wraps: one of the models listed at" \
	"$T/e-hf" "$CKCONV" convert "$T/d.mdl" --config "$T/e-bert.yaml" -o "$T/e-hf"
nest "$T/d.yaml" "$T/e-nosuch.yaml" '{}' '{"name": "nosuch"}'
expect_fail "... naming a model no rule file has" "e-nosuch.yaml: unknown model 'nosuch' (known: " \
	"$T/e-hf" "$CKCONV" convert "$T/d.mdl" --config "$T/e-nosuch.yaml" -o "$T/e-hf"
nest "$T/d.yaml" "$T/e-both.yaml" '{"model_name": "llama"}' '{}'
expect_fail "... both layouts at once (model_name beside policy_model)" \
	"e-both.yaml: $ROOT/rules/dpo.yaml:27:11: model: policy_model (the layout of ModelZoo 2.4+) and model_name (the older flat one) both name the model DPO trains; keep one" \
	"$T/e-hf" "$CKCONV" convert "$T/d.mdl" --config "$T/e-both.yaml" -o "$T/e-hf"
nest "$T/d.yaml" "$T/e-stray.yaml" '{"hidden_size": 64, "num_heads": 8}' '{}'
expect_fail "... model keys beside policy_model (ModelZoo would not load them; they would be lost)" \
	'e-stray.yaml: '"$ROOT"'/rules/dpo.yaml:27:11: model: ["hidden_size", "num_heads"] beside policy_model: in the nested layout the model keys belong inside policy_model' \
	"$T/e-hf" "$CKCONV" convert "$T/d.mdl" --config "$T/e-stray.yaml" -o "$T/e-hf"
nest "$T/d.yaml" "$T/e-str.yaml" '{"policy_model": "llama"}' '{}'
expect_fail "... policy_model not a mapping" \
	"e-str.yaml: $ROOT/rules/dpo.yaml:27:11: model.policy_model: expected the mapping of the model DPO trains; found str" \
	"$T/e-hf" "$CKCONV" convert "$T/d.mdl" --config "$T/e-str.yaml" -o "$T/e-hf"

# list: the wrap in --json as in the text
out=$("$CKCONV" list dpo --json)
check "list dpo --json: its wrap (models, CS prefix, the copy's prefix)" $PY -c '
import json, sys; m = json.load(sys.stdin)["models"][0]["wrap"]
assert m["cs_prefix"] == "policy_model.model." and m["copy"] == "ref_model.model." and "gpt2" in m["models"], m' <<<"$out"
out=$("$CKCONV" list gpt2 --json)
check "... null for a model that wraps none" $PY -c 'import json, sys; assert json.load(sys.stdin)["models"][0]["wrap"] is None' <<<"$out"

# CS <-> CS: a model without DPO <-> the same as DPO, at cs-2.1 (rules/cscs/dpo.yaml; the reference's
# vectors for both ways are tests/golden/cscs-ref/dpo-*, which tests/e2e/cscs.sh checks leaf by leaf)
G16=$ROOT/tests/golden/cscs-ref
CASE="$PY $ROOT/tools/cscs_case.py"
up=$G16/dpo-2.1-no-dpo-to-dpo; down=$G16/dpo-2.1-dpo-to-no-dpo
$CASE pack "$up/in" "$T/nd.mdl" "$down/in" "$T/dd.mdl"
check "no DPO -> DPO converts" "$CKCONV" convert "$T/nd.mdl" --config "$up/in/params.yaml" --model dpo \
	--src-fmt cs-2.1-no-dpo --tgt-fmt cs-2.1-dpo -o "$T/ndo.mdl" -q
check "... the reference model after every policy key, each a LinkedObject to its policy twin" $PY - "$T/ndo.mdl" <<'PY'
import json, sys, h5py
f = h5py.File(sys.argv[1], "r")
ref = [k for k in f.attrs if k.startswith("model.ref_model.model.") and k.endswith(".__metadata__")]
assert ref, "no reference model"
for a in ref:
    m = json.loads(f.attrs[a])[a]
    k = a[:-len(".__metadata__")]
    assert m.get("__LINKED__") and m["key"] == k.replace("model.ref_model.", "model.policy_model.", 1), (k, m)
    assert k not in f and m["key"] in f, k
PY
check "... and back: DPO -> no DPO equals the input model" "$CKCONV" convert "$T/ndo.mdl" --config "$T/ndo.yaml" --model dpo \
	--src-fmt cs-2.1-dpo --tgt-fmt cs-2.1-no-dpo -o "$T/ndb.mdl" -q
check "... (every leaf, key order; params: the input's)" $CASE check "$T/ndb.mdl" "$T/ndb.yaml" "$down/out"
check "the DPO checkpoint converts to HF as DPO (model_name picks gpt2) and equals gpt2's hf_back" "$CKCONV" convert \
	"$T/ndo.mdl" --config "$T/ndo.yaml" --model dpo --src-fmt cs-2.1-dpo --tgt-fmt hf -o "$T/ndo-hf" -q
check "... tensors" $CHECK st-vs-st "$T/ndo-hf" "$G/gpt2/hf_back"
# keys under the 2.x trainer's model. prefix: the DPO model's own layout all the same (the reference
# would write policy_model.model.model.*, which the DPO model does not load)
$PY - "$up/in" "$T/pre" <<'PY'
import json, os, shutil, sys
src, dst = sys.argv[1:3]
os.makedirs(dst)
t = json.load(open(os.path.join(src, "tree.json")))
t["model"] = {"model." + k: v for k, v in t["model"].items()}
json.dump(t, open(os.path.join(dst, "tree.json"), "w"))
for f in ("model.safetensors", "params.yaml"):
    shutil.copy(os.path.join(src, f), dst)
PY
$CASE pack "$T/pre" "$T/pre.mdl"
check "a source with model.-prefixed keys converts" "$CKCONV" convert "$T/pre.mdl" --config "$up/in/params.yaml" --model dpo \
	--src-fmt cs-2.1-no-dpo --tgt-fmt cs-2.1-dpo -o "$T/preo.mdl" -q
check "... to the reference's output for the unprefixed one" $CASE check "$T/preo.mdl" "$T/preo.yaml" "$up/out"
out=$("$CKCONV" convert "$T/nd.mdl" --config "$up/in/params.yaml" --model dpo --src-fmt cs-2.1-no-dpo --tgt-fmt cs-2.1-dpo \
	-o "$T/dry.mdl" --dry-run 2>&1)
check "--dry-run lists the renames, the copies and the params added" $PY -c '
import sys; t = sys.stdin.read()
assert "lm_head.weight -> policy_model.model.lm_head.weight" in t and "ref_model.model.lm_head.weight added (a copy of" in t and "params + model.dpo" in t, t' <<<"$out"
check "convert-config carries the params alone the same way" "$CKCONV" convert-config "$up/in/params.yaml" --model dpo \
	--src-fmt cs-2.1-no-dpo --tgt-fmt cs-2.1-dpo -o "$T/cfg.yaml" -q
check "... equal to the reference's" $CHECK yaml-eq "$T/cfg.yaml" "$up/out/params.yaml"
out=$("$CKCONV" list --releases dpo)
check "list --releases dpo: the variant pair, both ways" $PY -c '
import sys; t = sys.stdin.read()
assert "dpo cs-2.1-no-dpo -> cs-2.1-dpo: cs-2.1-no-dpo -> cs-2.1-dpo (dpo.yaml)" in t and "dpo cs-2.1-dpo -> cs-2.1-no-dpo:" in t, t' <<<"$out"
EXPECT_RC=1 expect_fail "list --releases MODEL: a model releases.yaml does not list is refused" "model 'nosuch' has no CS -> CS rules" \
	"$T/nothing" "$CKCONV" list --releases nosuch
# refused: params without model_name or naming a model DPO does not train; back without model_name
# or dpo; a variant to anything its step does not name
params_edit "$up/in/params.yaml" "$T/nomn.yaml" '{"model_name": null}'
expect_fail "no DPO -> DPO: params without model_name are refused" "model.model_name: converting to DPO needs the name of the model inside" \
	"$T/e1.mdl" "$CKCONV" convert "$T/nd.mdl" --config "$T/nomn.yaml" --model dpo --src-fmt cs-2.1-no-dpo --tgt-fmt cs-2.1-dpo -o "$T/e1.mdl"
params_edit "$up/in/params.yaml" "$T/bert.yaml" '{"model_name": "bert"}'
expect_fail "... and a model_name DPO does not train" "found bert" \
	"$T/e2.mdl" "$CKCONV" convert "$T/nd.mdl" --config "$T/bert.yaml" --model dpo --src-fmt cs-2.1-no-dpo --tgt-fmt cs-2.1-dpo -o "$T/e2.mdl"
params_edit "$down/in/params.yaml" "$T/nodpo.yaml" '{"dpo": null}'
expect_fail "DPO -> no DPO: params without dpo are refused" "model.dpo: a DPO model section has its dpo settings; found none" \
	"$T/e3.mdl" "$CKCONV" convert "$T/dd.mdl" --config "$T/nodpo.yaml" --model dpo --src-fmt cs-2.1-dpo --tgt-fmt cs-2.1-no-dpo -o "$T/e3.mdl"
params_edit "$down/in/params.yaml" "$T/nomn2.yaml" '{"model_name": null}'
expect_fail "... and without model_name" "model.model_name: a DPO model section names the model inside; found none" \
	"$T/e4.mdl" "$CKCONV" convert "$T/dd.mdl" --config "$T/nomn2.yaml" --model dpo --src-fmt cs-2.1-dpo --tgt-fmt cs-2.1-no-dpo -o "$T/e4.mdl"
nest "$down/in/params.yaml" "$T/nested21.yaml" '{}' '{}'
expect_fail "... and params in the nested layout (ModelZoo 2.4+; cs-2.1 DPO params are flat)" \
	"model.policy_model: the nested layout of ModelZoo 2.4+ is not a cs-2.1-dpo section" \
	"$T/e7.mdl" "$CKCONV" convert "$T/dd.mdl" --config "$T/nested21.yaml" --model dpo --src-fmt cs-2.1-dpo --tgt-fmt cs-2.1-no-dpo -o "$T/e7.mdl"
expect_fail "a variant to a release its step does not name is refused" "no step converts cs-2.1-no-dpo <-> cs-2.9-dpo" \
	"$T/e5.mdl" "$CKCONV" convert "$T/nd.mdl" --config "$up/in/params.yaml" --model dpo --src-fmt cs-2.1-no-dpo --tgt-fmt cs-2.9-dpo -o "$T/e5.mdl"
expect_fail "... as is a variant no step names" "no step converts cs-2.2-no-dpo <-> cs-2.2-dpo" \
	"$T/e6.mdl" "$CKCONV" convert "$T/nd.mdl" --config "$up/in/params.yaml" --model dpo --src-fmt cs-2.2-no-dpo --tgt-fmt cs-2.2-dpo -o "$T/e6.mdl"
echo "$n passed"
