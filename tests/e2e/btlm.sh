#!/usr/bin/env bash
# BTLM and JAIS (issue 14): CS -> HF from cstorch-style LZ4 files, the muP values carried through
# the params' optimizer block (a rooted config key), ALiBi scaling, and what is refused.
. "$(dirname "$0")/lib.inc"
G="$ROOT/tests/golden"
for c in btlm-bf16 jais; do
	$PY "$ROOT/tools/make_cstorch_h5.py" "$G/$c/cs/model.safetensors" "$T/$c.mdl" >/dev/null
	"$CKCONV" convert "$G/$c/hf" -o "$T/$c-ours.mdl" -q   # our params (the reference's JAIS params are wrong)
	cp "$T/$c-ours.yaml" "$T/$c.yaml"
	check "$c: a cstorch-style (LZ4, model.*) file converts to HF" "$CKCONV" convert "$T/$c.mdl" -o "$T/$c-hf" -q
	check "... tensors equal the reference's hf_back" $CHECK st-vs-st "$T/$c-hf" "$G/$c/hf_back"
	check "... mup_width_scale comes back from optimizer.adjust_learning_rate.decoder_kernel" \
		test "$(jget "$T/$c-hf/config.json" mup_width_scale)" = "$(jget "$G/$c/hf/config.json" mup_width_scale)"
	check "... and mup_output_alpha = output_logits_scale / decoder_kernel" \
		test "$(jget "$T/$c-hf/config.json" mup_output_alpha)" = "$(jget "$G/$c/hf/config.json" mup_output_alpha)"
done

B="$G/btlm-bf16"
# params without the optimizer block: decoder_kernel 1.0, as the reference (alpha = output_logits_scale)
$PY - "$T/btlm-bf16.yaml" "$T/noopt.yaml" <<'PY'
import sys, yaml
p = yaml.safe_load(open(sys.argv[1])); p.pop("optimizer"); yaml.safe_dump(p, open(sys.argv[2], "w"))
PY
check "btlm: params without optimizer.adjust_learning_rate convert (decoder_kernel 1.0)" \
	"$CKCONV" convert "$T/btlm-bf16.mdl" --config "$T/noopt.yaml" -o "$T/noopt-hf" -q
check "... mup_width_scale 1.0, mup_output_alpha the CS output_logits_scale" \
	test "$(jget "$T/noopt-hf/config.json" mup_width_scale) $(jget "$T/noopt-hf/config.json" mup_output_alpha)" = "1.0 0.22200000000000003"
# a decoder_kernel of the wrong type names the rooted key
$PY - "$T/btlm-bf16.yaml" "$T/badopt.yaml" <<'PY'
import sys, yaml
p = yaml.safe_load(open(sys.argv[1])); p["optimizer"]["adjust_learning_rate"]["decoder_kernel"] = "wide"
yaml.safe_dump(p, open(sys.argv[2], "w"))
PY
expect_fail "btlm: a decoder_kernel that is no number is refused, naming it" \
	"optimizer.adjust_learning_rate.decoder_kernel must be float" "$T/badopt-hf" \
	"$CKCONV" convert "$T/btlm-bf16.mdl" --config "$T/badopt.yaml" -o "$T/badopt-hf"

# ALiBi scaling: a fixed linear factor converts both ways, dynamic scaling (train_seq_len) is refused
hf_variant lin "$B/hf" '{"alibi_scaling": {"type": "linear", "factor": 2.0}}'
check "btlm: alibi_scaling factor 2 converts" "$CKCONV" convert "$T/lin" -o "$T/lin.mdl" -q
check "... to pos_scaling_factor 2.0" test "$(yget "$T/lin.yaml" pos_scaling_factor)" = "2.0"
check "... and back" "$CKCONV" convert "$T/lin.mdl" -o "$T/lin-hf" -q
check "... to the same alibi_scaling" test "$(jget "$T/lin-hf/config.json" alibi_scaling)" = '{"factor": 2.0, "type": "linear"}'
hf_variant dyn "$B/hf" '{"alibi_scaling": {"type": "linear", "train_seq_len": 2048}}'
expect_fail "btlm: dynamic ALiBi scaling is refused" "alibi_scaling train_seq_len 2048" "$T/dyn.mdl" \
	"$CKCONV" convert "$T/dyn" -o "$T/dyn.mdl"
hf_variant rot "$B/hf" '{"position_embedding_type": "rotary"}'
expect_fail "btlm: a position embedding CS BTLM lacks here is refused" 'position_embedding_type = "rotary" has no CS counterpart' \
	"$T/rot.mdl" "$CKCONV" convert "$T/rot" -o "$T/rot.mdl"
# Newer-style muP (ModelZoo >= 2.3; the published BTLM and JAIS params use it): base widths and
# output_logits_alpha instead of decoder_kernel and output_logits_scale. ModelZoo's GPT-2 scales the
# logits by output_logits_alpha * mup_base_hidden_size / hidden_size, HF BTLM by mup_output_alpha *
# mup_width_scale: so mup_width_scale = base / hidden, mup_output_alpha = output_logits_alpha.
# The published BTLM-3B-8K params, whole (trainer layout): 256 / 2560.
(cd "$T" && cp "$ROOT/tests/real/cases/cs-btlm-2p7b-8k/upstream.yaml" btlm8k.yaml &&
	"$CKCONV" convert-config btlm8k.yaml --model btlm --src-fmt cs-2.3 --tgt-fmt hf >/dev/null)
check "btlm: the published 2.7B-8K params (newer muP) give mup_width_scale 256/2560, alpha and embeddings scale carried" \
	test "$(for k in mup_width_scale mup_output_alpha mup_embeddings_scale mup_scale_qk_dot_by_d n_embd; do jget "$T/btlm8k_to_hf.json" $k; done | tr '\n' ' ')" = "0.1 2.22 14.6 true 2560 "
# the golden model's muP (decoder_kernel 0.1, output_logits_scale 0.222, hidden 48) stated the newer
# way must give the same HF model: the same tensors and the same muP values
$PY - "$T/btlm-bf16.yaml" "$T/mupnew.yaml" <<'PY'
import sys, yaml
p = yaml.safe_load(open(sys.argv[1])); m = p["model"]
w = p["optimizer"]["adjust_learning_rate"].pop("decoder_kernel")
m["mup_base_hidden_size"] = w * m["hidden_size"]; m["mup_base_filter_size"] = w * m["filter_size"]
m["output_logits_alpha"] = m.pop("output_logits_scale") / w
yaml.safe_dump(p, open(sys.argv[2], "w"))
PY
check "btlm: the same muP stated the newer way (base widths, output_logits_alpha) converts" \
	"$CKCONV" convert "$T/btlm-bf16.mdl" --config "$T/mupnew.yaml" -o "$T/mupnew-hf" -q
check "... to the same tensors" $CHECK st-vs-st "$T/mupnew-hf" "$T/btlm-bf16-hf"
check "... and the same logits scale (mup_output_alpha * mup_width_scale) and embeddings scale" $PY - "$T/mupnew-hf/config.json" "$T/btlm-bf16-hf/config.json" <<'PY'
import json, math, sys
a, b = (json.load(open(f)) for f in sys.argv[1:])
for k in ("mup_width_scale", "mup_output_alpha", "mup_embeddings_scale"):
    assert math.isclose(a[k], b[k], rel_tol=1e-12), (k, a[k], b[k])
assert math.isclose(a["mup_width_scale"] * a["mup_output_alpha"], b["mup_width_scale"] * b["mup_output_alpha"], rel_tol=1e-12)
assert {k: v for k, v in a.items() if not k.startswith("mup_")} == {k: v for k, v in b.items() if not k.startswith("mup_")}
PY
# output_logits_alpha left out: ModelZoo takes 1.0
params_edit "$T/mupnew.yaml" "$T/mupnoalpha.yaml" '{"output_logits_alpha": null}'
check "btlm: newer muP without output_logits_alpha converts" \
	"$CKCONV" convert "$T/btlm-bf16.mdl" --config "$T/mupnoalpha.yaml" -o "$T/mupnoalpha-hf" -q
check "... with mup_output_alpha 1.0, as ModelZoo defaults it" test "$(jget "$T/mupnoalpha-hf/config.json" mup_output_alpha)" = "1.0"
# what ModelZoo refuses, or what HF BTLM cannot express, is refused in one line
mup_case=0
mup_refused() { # name, params to patch, patch, the refusal's text
	local f="$T/mup$((++mup_case))"
	params_edit "$2" "$f.yaml" "$3"
	expect_fail "btlm: $1" "$4" "$f-hf" "$CKCONV" convert "$T/btlm-bf16.mdl" --config "$f.yaml" -o "$f-hf"
}
mup_refused "mup_base_hidden_size without mup_base_filter_size is refused (ModelZoo requires both)" \
	"$T/mupnew.yaml" '{"mup_base_filter_size": null}' "mup_base_hidden_size and mup_base_filter_size: ModelZoo requires both or neither"
mup_refused "scale_output_logits_by_d false (a square-root logits scale) is refused" \
	"$T/mupnew.yaml" '{"scale_output_logits_by_d": false}' "scale_output_logits_by_d false"
mup_refused "both muP forms at once (output_logits_scale beside mup_base_hidden_size) are refused" \
	"$T/mupnew.yaml" '{"output_logits_scale": 0.5}' "output_logits_scale 0.5 beside mup_base_hidden_size"
mup_refused "mup_base_hidden_size beside optimizer decoder_kernel is refused (two widths)" \
	"$T/btlm-bf16.yaml" '{"mup_base_hidden_size": 24, "mup_base_filter_size": 64}' \
	"mup_base_hidden_size and optimizer.adjust_learning_rate.decoder_kernel both state the muP width"
mup_refused "a base width that is not positive is refused" \
	"$T/mupnew.yaml" '{"mup_base_hidden_size": -4}' "mup_base_hidden_size must be a positive number, found -4"

# btlm-headless (HF BTLMModel: no head, no transformer. prefix): the golden model less its head
$PY - "$B/hf" "$T/bh" <<'PY'
import json, os, struct, sys
d = open(os.path.join(sys.argv[1], "model.safetensors"), "rb").read(); n = struct.unpack("<Q", d[:8])[0]
h = json.loads(d[8:8 + n]); b = d[8 + n:]; out, blobs, off = {}, [], 0
for k, v in h.items():
    if k in ("__metadata__", "lm_head.weight"): continue
    blob = b[v["data_offsets"][0]:v["data_offsets"][1]]
    out[k[len("transformer."):]] = {"dtype": v["dtype"], "shape": v["shape"], "data_offsets": [off, off + len(blob)]}
    blobs.append(blob); off += len(blob)
t = json.dumps(out).encode(); t += b" " * (-len(t) % 8); os.makedirs(sys.argv[2])
open(os.path.join(sys.argv[2], "model.safetensors"), "wb").write(struct.pack("<Q", len(t)) + t + b"".join(blobs))
c = json.load(open(os.path.join(sys.argv[1], "config.json"))); c["architectures"] = ["BTLMModel"]
json.dump(c, open(os.path.join(sys.argv[2], "config.json"), "w"))
PY
check "btlm-headless: a BTLMModel converts (detected from its architecture)" "$CKCONV" convert "$T/bh" -o "$T/bh.mdl" -q
check "... the body equals the reference's, the head is the tied embedding" $PY - "$ROOT/tools" "$T/bh.mdl" "$B/cs/model.safetensors" <<'PY'
import sys; sys.path.insert(0, sys.argv[1]); from ckcheck import mdl_load, st_load
a, r = mdl_load(sys.argv[2]), st_load(sys.argv[3])
assert set(a) == set(r), set(a) ^ set(r)
assert all(a[k] == r[k] for k in a if k != "model.lm_head.weight")
assert a["model.lm_head.weight"] == a["model.embedding_layer.word_embeddings.weight"]
PY
check "... and back with --model btlm-headless, the head dropped" "$CKCONV" convert "$T/bh.mdl" --model btlm-headless -o "$T/bh-hf" -q
check "... to the same tensors" $CHECK st-vs-st "$T/bh-hf" "$T/bh"
check "... a BTLMModel config" test "$(jget "$T/bh-hf/config.json" architectures)" = '["BTLMModel"]'
echo "$n passed"
