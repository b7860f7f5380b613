#!/usr/bin/env bash
# Rule-file functions end to end: a fused layout written as a function converts both ways through
# the CLI, validate lists a file's functions with their derived inverses, a chain that cannot be
# inverted is refused at load with its file:line:col, explain marks a call, and BLOOM's muP
# checkpoint folds its multipliers (the embedding LayerNorm takes the embedding scale).
. "$(dirname "$0")/lib.inc"
R="$ROOT/rules"
G="$ROOT/tests/golden"

# validate FILE lists the functions with their steps and the inverse the loader derived
out=$("$CKCONV" validate "$R/fused-qkv.yaml" 2>&1)
check "validate lists qkv_per_head and its derived inverse" grep -qF \
	"fused-qkv.yaml:8:3: function qkv_per_head(heads, head_dim): unflatten, permute, flatten, split; inverse: concat, unflatten, permute, flatten" <<<"$out"
check "validate lists the grouped layout" grep -qF "function qkv_grouped(groups, q_per_group, head_dim)" <<<"$out"
check "validate ends OK" grep -qx "1 rule file(s) OK" <<<"$out"

# a layout of our own: rows [2 heads, (q, k, v), 4] in one key <-> q, k, v
mkdir -p "$T/r" "$T/hf"
cp "$R/fused-qkv.yaml" "$T/r/"
cat >"$T/r/tiny.yaml" <<'EOF'
model: tiny
architectures: [TinyForCausalLM]
formats: [cs-2.9]
placeholders: {P: 'weight|bias'}
functions: {include: fused-qkv}
keys:
  - hf: qkv.<P>
    cs: [q.<P>, k.<P>, v.<P>]
    action: {qkv_per_head: {heads: hf.heads, head_dim: 4}}
config:
  rules:
    - {hf: heads, cs: heads}
    - {hf: [architectures], drop: true}
EOF
echo '{"architectures": ["TinyForCausalLM"], "heads": 2}' >"$T/hf/config.json"
$PY - "$T/hf/model.safetensors" <<'PY'
import json, struct, sys
import numpy as np
w = np.arange(24 * 3, dtype=np.float32).reshape(24, 3)
b = np.arange(24, dtype=np.float32) + 100
hdr, blob = {}, b""
for k, a in (("qkv.weight", w), ("qkv.bias", b)):
    hdr[k] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [len(blob), len(blob) + a.nbytes]}
    blob += a.tobytes()
h = json.dumps(hdr).encode()
h += b" " * (-len(h) % 8)
open(sys.argv[1], "wb").write(struct.pack("<Q", len(h)) + h + blob)
PY
check "a function's layout converts HF -> CS" "$CKCONV" convert "$T/hf" --rules "$T/r" --model tiny -o "$T/cs.mdl" -q
check "q, k, v are the heads' rows, as numpy's reshape(2, 3, 4, 3).transpose(1, 0, 2, 3) gives them" $PY - "$T/cs.mdl" <<'PY'
import sys, h5py, numpy as np
f = h5py.File(sys.argv[1], "r")
w = np.arange(24 * 3, dtype=np.float32).reshape(2, 3, 4, 3).transpose(1, 0, 2, 3).reshape(3, 8, 3)
b = (np.arange(24, dtype=np.float32) + 100).reshape(2, 3, 4).transpose(1, 0, 2).reshape(3, 8)
for i, n in enumerate("qkv"):
    assert np.array_equal(f["model." + n + ".weight"][()], w[i]), n
    assert np.array_equal(f["model." + n + ".bias"][()], b[i]), n
PY
check "the derived inverse converts CS -> HF" "$CKCONV" convert "$T/cs.mdl" --rules "$T/r" --model tiny -o "$T/back" -q
check "... giving the fused tensors back byte for byte" $CHECK st-vs-st "$T/back" "$T/hf"
out=$("$CKCONV" explain --rules "$T/r" --model tiny qkv.weight 2>&1)
check "explain marks where the call's steps start" grep -qF "action   [qkv_per_head] unflatten(sizes: [hf.heads, 3, 4]" <<<"$out"

# a chain the loader cannot invert is refused where it stands
cat >"$T/r/bad.yaml" <<'EOF'
model: bad
keys:
  - {hf: a, cs: b, action: [{unflatten: {sizes: [2, 3]}}, {permute: {axes: [1, 0]}}, {flatten: {}}, {flatten: {}}]}
EOF
out=$("$CKCONV" validate "$T/r/bad.yaml" 2>&1)
check "a flatten whose merged sizes are unknown is refused at its file:line:col" grep -qF \
	"bad.yaml:3:102: error: flatten cannot be inverted: the sizes of the axes it merges are not known here" <<<"$out"

# BLOOM muP (CS -> HF): the multipliers are folded, the embedding LayerNorm by embeddings_scale
check "bloom converts to CS" "$CKCONV" convert "$G/bloom/hf" -o "$T/bloom.mdl" -q
$PY - "$T/bloom.yaml" <<'PY'
import sys, yaml
p = yaml.safe_load(open(sys.argv[1]))
p["model"].update(mup_base_hidden_size=32, mup_base_filter_size=128, embeddings_scale=10.0,
                  output_logits_alpha=4.0, attention_logits_alpha=1.0, scale_qk_dot_by_d=True)
yaml.safe_dump(p, open(sys.argv[1], "w"))
PY
check "a BLOOM muP checkpoint converts to HF" "$CKCONV" convert "$T/bloom.mdl" -o "$T/bloom_hf" -q
check "... its embedding LayerNorm scaled by embeddings_scale, the head by alpha / width" $PY - "$T/bloom_hf" "$G/bloom/hf" <<'PY'
import json, struct, sys
import numpy as np
def st(d):
    b = open(d + "/model.safetensors", "rb").read()
    n = struct.unpack("<Q", b[:8])[0]
    h = json.loads(b[8:8 + n])
    return {k: np.frombuffer(b[8 + n + v["data_offsets"][0]:8 + n + v["data_offsets"][1]], np.float32)
            for k, v in h.items() if k != "__metadata__"}
got, ref = st(sys.argv[1]), st(sys.argv[2])
ln = "transformer.word_embeddings_layernorm."
assert np.array_equal(got[ln + "weight"], ref[ln + "weight"] * np.float32(10)), "ln weight"
assert np.array_equal(got[ln + "bias"], ref[ln + "bias"] * np.float32(10)), "ln bias"
assert np.array_equal(got["lm_head.weight"], ref["lm_head.weight"] * np.float32(2)), "head"   # 4 / (64 / 32)
assert np.array_equal(got["transformer.word_embeddings.weight"], ref["transformer.word_embeddings.weight"]), "emb"
cfg = json.load(open(sys.argv[1] + "/config.json"))
assert cfg["tie_word_embeddings"] is False, cfg["tie_word_embeddings"]
PY

# bloom-headless: BloomModel's keys (no `transformer.`, no head); the CS head is the tied embedding,
# the slopes are created as for bloom; the way back drops both
mkdir -p "$T/bh"
$PY - "$G/bloom/hf" "$T/bh" <<'PY'
import json, struct, sys
src, dst = sys.argv[1], sys.argv[2]
b = open(src + "/model.safetensors", "rb").read()
n = struct.unpack("<Q", b[:8])[0]
h = json.loads(b[8:8 + n])
hdr, blob = {}, b""
for k, v in sorted(h.items()):
    if k == "__metadata__" or not k.startswith("transformer."):
        continue
    data = b[8 + n + v["data_offsets"][0]:8 + n + v["data_offsets"][1]]
    hdr[k[len("transformer."):]] = {"dtype": v["dtype"], "shape": v["shape"], "data_offsets": [len(blob), len(blob) + len(data)]}
    blob += data
hj = json.dumps(hdr).encode()
hj += b" " * (-len(hj) % 8)
open(dst + "/model.safetensors", "wb").write(struct.pack("<Q", len(hj)) + hj + blob)
c = json.load(open(src + "/config.json"))
c["architectures"] = ["BloomModel"]
json.dump(c, open(dst + "/config.json", "w"))
PY
check "bloom-headless converts to CS" "$CKCONV" convert "$T/bh" -o "$T/bh.mdl" -q
check "... the head is the tied embedding and the slopes are there" $PY - "$T/bh.mdl" <<'PY'
import sys, h5py, numpy as np
f = h5py.File(sys.argv[1], "r")
assert np.array_equal(f["model.lm_head.weight"][()], f["model.embedding_layer.word_embeddings.weight"][()])
assert f["model.embedding_layer.position_embed_helper.slopes"].shape == (4, 1)
PY
check "bloom-headless converts back (--model: the params name bloom)" "$CKCONV" convert "$T/bh.mdl" --model bloom-headless -o "$T/bh_back" -q
check "... to BloomModel's tensors, byte for byte" $CHECK st-vs-st "$T/bh_back" "$T/bh"
