#!/usr/bin/env bash
# Encoder families beyond their golden cases (issue 15): BERT's token-classification and QA heads
# (made from the golden sequence classifier), label maps, the QA head's two labels, RoBERTa/BERT
# detection from one CS name, mmsimple-llava's cs-2.3 params layout; and for every family, CS -> HF
# from a cstorch-style LZ4 file of the reference's CS tensors and hf_bin -> CS -> HF.
. "$(dirname "$0")/lib.inc"
G="$ROOT/tests/golden"
# mkhead NAME ARCH HEADKEY ROWS: $T/NAME = the golden sequence classifier with its head renamed / resized
mkhead() {
	$PY - "$G/bert-sequence-classifier/hf" "$T/$1" "$2" "$3" "$4" <<'PY'
import json, os, struct, sys
src, out, arch, head, rows = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
os.makedirs(out, exist_ok=True)
c = json.load(open(src + "/config.json"))
c["architectures"] = [arch]
if rows != 3:
    c.pop("id2label"); c.pop("label2id")
json.dump(c, open(out + "/config.json", "w"))
blob = open(src + "/model.safetensors", "rb").read()
n = struct.unpack("<Q", blob[:8])[0]
hdr = json.loads(blob[8:8 + n])
meta, parts, off = {}, [], 0
for k, v in hdr.items():
    if k == "__metadata__":
        continue
    raw, shape = blob[8 + n + v["data_offsets"][0]:8 + n + v["data_offsets"][1]], v["shape"]
    if k.startswith("classifier."):
        k = head + k[len("classifier"):]
        raw, shape = raw[:len(raw) // 3 * rows], [rows] + shape[1:]
    meta[k] = {"dtype": v["dtype"], "shape": shape, "data_offsets": [off, off + len(raw)]}
    off += len(raw)
    parts.append(raw)
h = json.dumps(meta).encode()
h += b" " * (-len(h) % 8)
open(out + "/model.safetensors", "wb").write(struct.pack("<Q", len(h)) + h + b"".join(parts))
PY
}
mkhead tok BertForTokenClassification classifier 3
mkhead qa BertForQuestionAnswering qa_outputs 2
mkhead qa3 BertForQuestionAnswering qa_outputs 3

# token classifier: detected from architectures; id2label's length is CS num_classes; back: num_labels
check "bert-token-classifier: hf -> cs (detected)" "$CKCONV" convert "$T/tok" -o "$T/tok.mdl" -q
check "bert-token-classifier: id2label (3 labels) -> num_classes 3" test "$(yget "$T/tok.yaml" num_classes)" = 3
check "bert-token-classifier: CS name bert/token_classifier" test "$(yget "$T/tok.yaml" name)" = '"bert/token_classifier"'
check "bert-token-classifier: classifier_dropout null -> encoder_output_dropout_rate = hidden dropout" \
	test "$(yget "$T/tok.yaml" encoder_output_dropout_rate)" = 0.1
check "bert-token-classifier: cs -> hf (detected from model.name)" "$CKCONV" convert "$T/tok.mdl" -o "$T/tok_hf" -q
check "bert-token-classifier: num_labels 3 back" test "$(jget "$T/tok_hf/config.json" num_labels)" = 3
check "bert-token-classifier: every tensor back bit for bit" $CHECK st-vs-st "$T/tok_hf" "$T/tok" --common
check "bert-token-classifier: position_ids rebuilt on the way back" \
	sh -c "'$CKCONV' inspect '$T/tok_hf' | grep -q '^bert.embeddings.position_ids .*i64 *\[1, 64\]'"

# QA: qa_outputs <-> classifier, two labels; params carry no name (no CS model of that name)
check "bert-qa: hf -> cs (detected)" "$CKCONV" convert "$T/qa" -o "$T/qa.mdl" -q
check "bert-qa: qa_outputs.weight -> classifier.weight" sh -c "'$CKCONV' inspect '$T/qa.mdl' | grep -q '^model.classifier.weight .*\[2, 48\]'"
check "bert-qa: the params have no name" test "$(yget "$T/qa.yaml" name)" = '"ABSENT"'
check "bert-qa: cs -> hf with --model" "$CKCONV" convert "$T/qa.mdl" --model bert-qa -o "$T/qa_hf" -q
check "bert-qa: tensors back" $CHECK st-vs-st "$T/qa_hf" "$T/qa" --common
check "bert-qa: num_labels 2 written" test "$(jget "$T/qa_hf/config.json" num_labels)" = 2
expect_fail "bert-qa: 3 labels refused" "num_labels must be 2" "$T/qa3.mdl" "$CKCONV" convert "$T/qa3" -o "$T/qa3.mdl"

# BERT pretraining: cls.predictions.bias is decoder.bias' copy: one CS tensor, both back
B="$G/bert"
check "bert: hf -> cs" "$CKCONV" convert "$B/hf" -o "$T/bert.mdl" -q
check "bert: cls.predictions.bias is not a CS tensor of its own" \
	sh -c "test \$('$CKCONV' inspect '$T/bert.mdl' | grep -c 'bert_mlm_head.classifier.ffn.0.linear_layer.bias') = 1"
check "bert: cs -> hf" "$CKCONV" convert "$T/bert.mdl" -o "$T/bert_hf" -q
check "bert: cls.predictions.bias and decoder.bias both back, equal" $CHECK st-vs-st "$T/bert_hf" "$B/hf"
params_edit "$T/bert.yaml" "$T/mlm.yaml" '{"mlm_nonlinearity": "relu"}'
expect_fail "bert: mlm_nonlinearity unlike encoder_nonlinearity refused" "HF has one hidden_act" "$T/mlm_hf" \
	"$CKCONV" convert "$T/bert.mdl" --config "$T/mlm.yaml" -o "$T/mlm_hf"
params_edit "$T/bert.yaml" "$T/mup.yaml" '{"mup_base_hidden_size": 24}'
expect_fail "bert: muP params refused" "does not support muP" "$T/mup_hf" "$CKCONV" convert "$T/bert.mdl" --config "$T/mup.yaml" -o "$T/mup_hf"

# mmsimple-llava, cs-2.3: the vision config in image_model_list.image_models[0].image_model[0]
M="$G/mmsimple-llava"
check "mmsimple-llava: hf -> cs-2.3" "$CKCONV" convert "$M/hf" --model mmsimple-llava --tgt-fmt cs-2.3 -o "$T/mm23.mdl" -q
check "mmsimple-llava: cs-2.3 params nest the encoder as image_model[0], no name" $PY -c '
import sys, yaml
m = yaml.safe_load(open(sys.argv[1]))["model"]
e = m["image_model_list"]["image_models"][0]["image_model"][0]
assert e["name"] == "ViTModel" and e["image_layer_idx"] == -2 and "name" not in m, m' "$T/mm23.yaml"
check "mmsimple-llava: cs-2.3 -> hf" "$CKCONV" convert "$T/mm23.mdl" --model mmsimple-llava --src-fmt cs-2.3 -o "$T/mm23_hf" -q
for c in image_model text_model; do
	check "mmsimple-llava: cs-2.3 round trip, $c tensors" $CHECK st-vs-st "$T/mm23_hf/$c" "$M/hf_back/$c"
	check "mmsimple-llava: cs-2.3 round trip, $c config" $CHECK json-superset "$T/mm23_hf/$c/config.json" "$M/hf_back/$c/config.json"
done
params_edit "$M/cs/params.yaml" "$T/mm2.yaml" '{}'
$PY - "$T/mm2.yaml" <<'PY'
import sys, yaml
p = yaml.safe_load(open(sys.argv[1])); l = p["model"]["image_model_list"]
l["image_models"] = l["image_models"] * 2
yaml.safe_dump(p, open(sys.argv[1], "w"))
PY
"$CKCONV" convert "$M/hf" --model mmsimple-llava -o "$T/mm.mdl" -q
expect_fail "mmsimple-llava: two image encoders refused" "2 image encoders; LLaVA has one" "$T/mm2_hf" \
	"$CKCONV" convert "$T/mm.mdl" --config "$T/mm2.yaml" -o "$T/mm2_hf"

# T5 with a gated FFN (t5 v1.1, flan-t5): wi_0 is the gate (CS linear_layer_for_glu), wi_1 the
# linear layer; made from the golden case by splitting its wi
T="$T" $PY - "$G/t5/hf" "$T/t5g" <<'PY'
import json, os, struct, sys
src, out = sys.argv[1], sys.argv[2]
os.makedirs(out, exist_ok=True)
c = json.load(open(src + "/config.json")); c["feed_forward_proj"] = "gated-gelu"
json.dump(c, open(out + "/config.json", "w"))
blob = open(src + "/model.safetensors", "rb").read(); n = struct.unpack("<Q", blob[:8])[0]
hdr = json.loads(blob[8:8 + n]); meta, parts, off = {}, [], 0
for k, v in hdr.items():
    if k == "__metadata__":
        continue
    raw = blob[8 + n + v["data_offsets"][0]:8 + n + v["data_offsets"][1]]
    names = [k.replace(".wi.", ".wi_0."), k.replace(".wi.", ".wi_1.")] if ".wi." in k else [k]
    for i, name in enumerate(names):
        r = raw if i == 0 else bytes(reversed(raw))   # wi_1 differs from wi_0
        meta[name] = {"dtype": v["dtype"], "shape": v["shape"], "data_offsets": [off, off + len(r)]}
        off += len(r); parts.append(r)
h = json.dumps(meta).encode(); h += b" " * (-len(h) % 8)
open(out + "/model.safetensors", "wb").write(struct.pack("<Q", len(h)) + h + b"".join(parts))
PY
check "t5 gated-gelu: hf -> cs via the alias ul2" "$CKCONV" convert "$T/t5g" --model ul2 -o "$T/t5g.mdl" -q
check "t5 gated-gelu: encoder_nonlinearity geglu" test "$(yget "$T/t5g.yaml" encoder_nonlinearity)" = '"geglu"'
check "t5 gated-gelu: wi_0 is the GLU gate" sh -c "'$CKCONV' inspect '$T/t5g.mdl' | grep -q '^model.decoder.layers.1.ffn.ffn.0.linear_layer_for_glu.weight '"
check "t5 gated-gelu: cs -> hf" "$CKCONV" convert "$T/t5g.mdl" -o "$T/t5g_hf" -q
check "t5 gated-gelu: feed_forward_proj back" test "$(jget "$T/t5g_hf/config.json" feed_forward_proj)" = '"gated-gelu"'
check "t5 gated-gelu: every tensor back bit for bit (wi_0 / wi_1 not swapped)" $CHECK st-vs-st "$T/t5g_hf" "$T/t5g"
params_edit "$G/t5/cs/params.yaml" "$T/t5ln.yaml" '{"norm_type": "layernorm"}'
"$CKCONV" convert "$G/t5/hf" -o "$T/t5.mdl" -q
expect_fail "t5: CS layernorm (not T5's RMS norm) refused" "norm_type must be" "$T/t5ln_hf" \
	"$CKCONV" convert "$T/t5.mdl" --config "$T/t5ln.yaml" -o "$T/t5ln_hf"

# ESM-2: written back as model_type esm (the reference writes bert)
check "esm-2: round trip" sh -c "'$CKCONV' convert '$G/esm-2/hf' -o '$T/esm.mdl' -q && '$CKCONV' convert '$T/esm.mdl' -o '$T/esm_hf' -q"
check "esm-2: model_type esm back" test "$(jget "$T/esm_hf/config.json" model_type)" = '"esm"'
# RoBERTa's params say name: bert too: mask_padding_in_positional_embed tells them apart
check "roberta: hf -> cs" "$CKCONV" convert "$G/roberta/hf" -o "$T/rob.mdl" -q
check "roberta: CS max_position_embeddings = HF 66 - pad 1 - 1" test "$(yget "$T/rob.yaml" max_position_embeddings)" = 64
check "roberta: params with name bert converted back (detected as roberta)" "$CKCONV" convert "$T/rob.mdl" -o "$T/rob_hf" -q
check "roberta: ... so model_type roberta" test "$(jget "$T/rob_hf/config.json" model_type)" = '"roberta"'
check "roberta: max_position_embeddings 66 back" test "$(jget "$T/rob_hf/config.json" max_position_embeddings)" = 66

# CS -> HF from cstorch-written packed files (h5py, LZ4-chunked datasets, format 0.5), as a
# training run saves them, made from the reference's own CS tensors: every family of issue 15
# (mmsimple-llava: one packed file, one directory per component); then the BERT QA and token
# classification heads (their CS state: the sequence classifier's, the span head two rows)
lz4_only() { $PY -c '
import os, sys
os.environ.setdefault("HDF5_PLUGIN_PATH", "/usr/lib/x86_64-linux-gnu/hdf5/serial/plugins")
import h5py
with h5py.File(sys.argv[1], "r") as f:
    ds = [f[k] for k in f if isinstance(f[k], h5py.Dataset) and f[k].ndim >= 1 and f[k].size > 1]
    lz4 = lambda d: d.id.get_create_plist().get_nfilters() > 0 and d.id.get_create_plist().get_filter(0)[0] == 32004
    assert ds and all(d.chunks and lz4(d) for d in ds), [d.name for d in ds if not (d.chunks and lz4(d))]' "$1"; }
case_field() { $PY -c 'import json, sys; v = json.load(open(sys.argv[1])).get(sys.argv[2]); print(" ".join(v) if isinstance(v, list) else json.dumps(v or {}))' "$G/$1/case.json" "$2"; }
for c in bert bert-sequence-classifier roberta esm-2 t5 clip-vit mmsimple-llava; do
	"$PY" "$ROOT/tools/make_cstorch_h5.py" "$G/$c/cs/model.safetensors" "$T/$c-cstorch.mdl" >/dev/null
	check "$c: the cstorch file holds LZ4-chunked datasets" lz4_only "$T/$c-cstorch.mdl"
	check "$c: cstorch file -> hf (detected from the params)" "$CKCONV" convert "$T/$c-cstorch.mdl" --config "$G/$c/cs/params.yaml" -o "$T/$c-cstorch" -q
	# hf_bin (PyTorch .bin) both ways: -> CS, and that packed file back to HF
	check "$c: hf_bin -> cs" "$CKCONV" convert "$G/$c/hf_bin" --model "$c" -o "$T/$c-bin.mdl" -q
	check "$c: ... -> hf" "$CKCONV" convert "$T/$c-bin.mdl" -o "$T/$c-bin" -q
	override=$(case_field "$c" hf_config_override) comps=$(case_field "$c" components)
	for sub in ${comps:-.}; do
		s=${sub#.}
		for from in cstorch bin; do
			check "$c${s:+/$s}: $from -> hf: every tensor equals hf_back" $CHECK st-vs-st "$T/$c-$from/$sub" "$G/$c/hf_back/$sub"
			check "$c${s:+/$s}: $from -> hf: config.json holds hf_back's" $CHECK json-superset \
				"$T/$c-$from/$sub/config.json" "$G/$c/hf_back/$sub/config.json" --override "$override"
		done
	done
done
$PY - "$G/bert-sequence-classifier/cs/model.safetensors" "$T/qa-cs.st" "$ROOT/tools" <<'PY'
import sys
sys.path.insert(0, sys.argv[3])
import stfile
t = stfile.read(sys.argv[1])
for k in ("model.classifier.weight", "model.classifier.bias"):
    dt, a = t[k]
    t[k] = (dt, a[:2])
stfile.write(sys.argv[2], t)
PY
"$PY" "$ROOT/tools/make_cstorch_h5.py" "$T/qa-cs.st" "$T/qa-cstorch.mdl" >/dev/null
check "bert-qa: cstorch file -> hf with --model" "$CKCONV" convert "$T/qa-cstorch.mdl" --config "$T/qa.yaml" --model bert-qa -o "$T/qa-cstorch" -q
check "bert-qa: every tensor of the QA checkpoint back bit for bit" $CHECK st-vs-st "$T/qa-cstorch" "$T/qa" --common
check "bert-qa: qa_outputs from the two-row span head" \
	sh -c "'$CKCONV' inspect '$T/qa-cstorch' | grep -q '^qa_outputs.weight .*\[2, 48\]'"
# the token classifier's CS state is the sequence classifier's (3 classes, as mkhead made tok)
check "bert-token-classifier: cstorch file -> hf (detected from the params)" \
	"$CKCONV" convert "$T/bert-sequence-classifier-cstorch.mdl" --config "$T/tok.yaml" -o "$T/tok-cstorch" -q
check "bert-token-classifier: every tensor of the token classifier back bit for bit" $CHECK st-vs-st "$T/tok-cstorch" "$T/tok" --common
check "bert-token-classifier: num_labels 3 back" test "$(jget "$T/tok-cstorch/config.json" num_labels)" = 3

# T5 muP -> standard parametrisation (cs-2.3+), as the reference's Converter_T5_sP_muP: every
# tensor times its factor (computed in double, multiplied in float32 as PyTorch's tensor * scalar);
# the encoder scales q.k by 1/sqrt(d_kv), the decoder does not (its flag false)
params_edit "$G/t5/cs/params.yaml" "$T/t5-mup.yaml" '{"mup_base_d_model": 32, "mup_base_d_ff": 64,
	"encoder_attention_logits_alpha": 4.0, "decoder_attention_logits_alpha": 0.5, "output_logits_alpha": 2.22,
	"embeddings_alpha": 14.6, "scale_encoder_qk_dot_by_d": true, "scale_decoder_qk_dot_by_d": false,
	"scale_output_logits_by_d": false}'
out=$("$CKCONV" convert "$T/t5-cstorch.mdl" --config "$T/t5-mup.yaml" -o "$T/t5-mup" 2>&1)
check "t5 muP: converts, folding the multipliers" grep -q "muP checkpoint: multipliers folded" <<<"$out"
check "t5 muP: each tensor is hf_back's times the reference's factor" $PY - "$T/t5-mup" "$G/t5/hf_back" "$ROOT/tools" <<'PY'
import math, re, sys
sys.path.insert(0, sys.argv[3])
import numpy as np, stfile
got, ref = stfile.read_dir(sys.argv[1]), stfile.read_dir(sys.argv[2])
w = 64 / 32
proj, out = w ** -0.5, w ** 0.5
def factor(k):
    if re.search(r"(SelfAttention|EncDecAttention)\.q\.", k): return proj / math.sqrt(16)
    if re.search(r"^encoder\..*SelfAttention\.k\.", k): return 4.0 * proj / math.sqrt(16)
    if re.search(r"^decoder\..*(SelfAttention|EncDecAttention)\.k\.", k): return 0.5 * proj
    if re.search(r"(SelfAttention|EncDecAttention)\.v\.", k): return proj
    if re.search(r"(SelfAttention|EncDecAttention)\.o\.", k): return out
    if k in ("shared.weight", "encoder.embed_tokens.weight", "decoder.embed_tokens.weight"): return 14.6 * 64 ** 0.5
    if k == "lm_head.weight": return 2.22 / w ** 0.5
    return None
assert set(got) == set(ref), set(got) ^ set(ref)
scaled = 0
for k, (dt, a) in ref.items():
    f = factor(k)
    want = a if f is None else (a * np.float32(f)).astype(np.float32)
    assert got[k][0] == dt and np.array_equal(got[k][1], want), k
    scaled += f is not None
assert scaled == 4 * 2 + 4 * 2 * 2 + 3 + 1, scaled   # q k v o per layer and attention, 3 embeddings, head
PY
check "t5 muP: tie_word_embeddings false (head and embeddings differ), no muP key in config.json" $PY -c '
import json, sys
c = json.load(open(sys.argv[1]))
assert c["tie_word_embeddings"] is False, c.get("tie_word_embeddings")
assert not [k for k in c if "mup" in k or "alpha" in k or "qk_dot" in k or "logits" in k], c' "$T/t5-mup/config.json"
expect_fail "t5 muP: refused before cs-2.3, as the reference" "before cs-2.3" "$T/t5-mup22" \
	"$CKCONV" convert "$T/t5-cstorch.mdl" --config "$T/t5-mup.yaml" --src-fmt cs-2.2 --tgt-fmt hf -o "$T/t5-mup22"
