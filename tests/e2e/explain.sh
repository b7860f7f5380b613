#!/usr/bin/env bash
# explain: every key of the llama golden input names its rule and a target the reference has,
# and maps back to itself; a misspelt key names the nearest rules.
. "$(dirname "$0")/lib.inc"
G="$ROOT/tests/golden/llama"
keys=$($PY - "$G/hf" <<'PY'
import json, sys
print(" ".join(json.load(open(sys.argv[1] + "/model.safetensors.index.json"))["weight_map"]))
PY
)
ref=$($PY - "$G/cs/model.safetensors" <<'PY'
import json, struct, sys
f = open(sys.argv[1], "rb"); n = struct.unpack("<Q", f.read(8))[0]
print("\n".join(k[len("model."):] for k in json.loads(f.read(n)) if k != "__metadata__"))
PY
)
out=$("$CKCONV" explain --model llama --config "$G/cs/params.yaml" $keys)
check "explain succeeds on every key of the llama input" test $? -eq 0
bad=0
for k in $keys; do
	block=$(awk -v k="$k" '$0 == k " (hf -> cs)" {p=1; print; next} /^[^ ]/ {p=0} p' <<<"$out")
	rule=$(grep -c '^  rule     .*rules/llama-[a-z]*\.yaml:[0-9]*:[0-9]*$' <<<"$block")
	tgt=$(sed -n 's/^  target   //p' <<<"$block")
	[ "$rule" -eq 1 ] && [ -n "$tgt" ] || { echo "# $k: no rule/target"; bad=1; continue; }
	for t in $tgt; do grep -qx "$t" <<<"$ref" || { echo "# $k: target $t not in the reference"; bad=1; }; done
	grep -q "round trip ok" <<<"$block" || { echo "# $k: does not map back to itself"; bad=1; }
done
check "each key names one rule, targets the reference has, and maps back to itself" test $bad -eq 0
check "q_proj shows its expected shape from the config" grep -q "shape    hf, cs: P == 'weight' ? \[heads \* hd, hid\] : \[heads \* hd\] = \[64,64\]" <<<"$out"
check "q_proj shows the RoPE action with resolved parameters" grep -q "action   rope_interleave(groups: heads = 4, dim: rotary_dim = 16)" <<<"$out"
check "k_proj uses the KV head count" grep -q "rope_interleave(groups: kv_heads = 2, dim: rotary_dim = 16)" <<<"$out"

out=$("$CKCONV" explain --model llama model.layers.0.mlp.up_projj.weight 2>&1); rc=$?
check "a misspelt key fails" test $rc -eq 1
check "... and names the nearest rule first" sh -c "grep -A1 'Closest rules' <<'X' | grep -q 'llama-mlp.yaml:[0-9]*:[0-9]*  model.layers.<L>.mlp.up_proj.<P>'
$out
X"
check "... and where it stopped matching" grep -q "matches 'model.layers.0.mlp.up_proj' then stops at column 27 ('j.weight')" <<<"$out"
out=$("$CKCONV" explain --model gpt2 --from cs transformer_decoder.layers.0.self_attn.proj_k_dense_layer.bias)
check "explain --from cs shows a merge target and the inverse chain" grep -q "target   transformer.h.0.attn.c_attn.bias" <<<"$out"
out=$("$CKCONV" explain --model qwen2 --config "$ROOT/tests/golden/qwen2/hf/config.json" model.layers.0.self_attn.k_proj.bias)
check "explain --config config.json resolves parameters (through the config rules)" grep -q "action   rope_interleave(groups: kv_heads = 2, dim: rotary_dim = 16)" <<<"$out"
check "qwen2's k bias meets the k_proj rule of llama-body" grep -q "rule     .*rules/llama-body.yaml:[0-9]*:[0-9]*$" <<<"$out"

# a wrapping model (rules/dpo.yaml's `wrap:`): the config names the model inside, as convert reads
# it (model.c): its rules under the wrapper's CS prefix, parameters from the params laid out as
# the rules read them (cs_layout.to_hf)
D="$ROOT/tests/golden/dpo"
out=$("$CKCONV" explain --model dpo --config "$D/cs/params.yaml" model.layers.0.self_attn.k_proj.weight)
check "explain dpo --config params.yaml: model_name's model (llama), its target under policy_model.model." \
	grep -qx "  target   policy_model.model.transformer_decoder.layers.0.self_attn.proj_k_dense_layer.weight" <<<"$out"
check "... its parameters resolved from the params" grep -q "action   rope_interleave(groups: kv_heads = 2, dim: rotary_dim = 8)" <<<"$out"
out=$("$CKCONV" explain --model dpo --config "$D/hf/config.json" --from cs \
	policy_model.model.transformer_decoder.layers.0.self_attn.proj_k_dense_layer.weight)
check "explain dpo --config config.json --from cs: the model detected from config.json, back to its HF key" \
	grep -qx "  target   model.layers.0.self_attn.k_proj.weight" <<<"$out"
EXPECT_RC=2 expect_fail "explain dpo without --config: a config must name the model inside" \
	"model dpo wraps another model (" "$T/none" "$CKCONV" explain --model dpo model.layers.0.self_attn.k_proj.weight
# ... and inspect of a packed DPO checkpoint decides its model as convert does (conv_open: the
# params name the wrapper, model_name the model inside)
$PY "$ROOT/tools/make_cstorch_h5.py" "$D/cs/model.safetensors" "$T/d.mdl" >/dev/null && cp "$D/cs/params.yaml" "$T/d.yaml"
out=$("$CKCONV" inspect --json "$T/d.mdl")
check "inspect of a DPO checkpoint: model dpo, opened with its model inside, no error" $PY -c '
import json, sys; p = json.load(sys.stdin)["params"]
assert p["model"] == "dpo" and p["error"] is None and p["mup"] == "no", p' <<<"$out"
# params are read as convert reads them: trainer-style (trainer.init.model, ModelZoo 2.4+) too, so the
# parameters get the params' sizes; a file with neither model section is refused in one line
out=$("$CKCONV" explain --model llama --config "$ROOT/tests/real/cases/cs-llama2-70b/upstream.yaml" model.layers.0.self_attn.k_proj.weight)
check "explain --config with trainer-style params: the parameters read its model section (LLaMA-2-70B: 8 KV heads)" \
	grep -q "kv_heads = 8" <<<"$out"
printf 'trainer:\n  init:\n    seed: 1\n' > "$T/nomodel.yaml"
expect_fail "explain --config with params holding no model section is refused" \
	"nomodel.yaml: no 'model:' mapping (nor trainer.init.model)" "$T/none" \
	"$CKCONV" explain --model llama --config "$T/nomodel.yaml" model.norm.weight
