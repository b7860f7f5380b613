#!/usr/bin/env bash
# muP -> standard parametrisation (CS -> HF), checked against the reference's hf_back; detection,
# refusal for a model that cannot fold, --no-mup-to-sp, bf16 rounding, inspect.
. "$(dirname "$0")/lib.inc"
G="$ROOT/tests/golden/llama-mup"
$PY "$ROOT/tools/make_cstorch_h5.py" --format 0.5 "$G/cs/model.safetensors" "$T/mup.mdl" >/dev/null
cp "$G/cs/params.yaml" "$T/mup.yaml"
out=$("$CKCONV" convert "$T/mup.mdl" -o "$T/hf" 2>&1)
check "a muP checkpoint converts to HF" test -f "$T/hf/config.json"
check "... saying that it folds the multipliers" grep -q "muP checkpoint: multipliers folded into the weights" <<<"$out"
check "folded tensors equal the reference's hf_back byte for byte (f32)" $CHECK st-vs-st "$T/hf" "$G/hf_back"
check "config.json holds every hf_back key and value" $CHECK json-superset "$T/hf/config.json" "$G/hf_back/config.json"
check "the muP keys are gone from config.json" $PY -c "import json,sys; c=json.load(open(sys.argv[1])); sys.exit(any(k.startswith('mup_') or k.endswith('_alpha') for k in c))" "$T/hf/config.json"

# --no-mup-to-sp: weights as they are, the muP keys carried for muP-aware code
check "--no-mup-to-sp converts" "$CKCONV" convert "$T/mup.mdl" -o "$T/raw" --no-mup-to-sp -q
check "... and muP keys kept in config.json" $CHECK json-superset "$T/raw/config.json" <(echo '{"mup_base_hidden_size": 32, "attention_logits_alpha": 0.5, "embeddings_scale": 10.0}')
check "... and tensors different from the folded ones" sh -c "! $CHECK st-vs-st '$T/raw' '$G/hf_back' >/dev/null"

# detection rules
mkp() { $PY - "$G/cs/params.yaml" "$1" "$2" <<'PY'
import sys, yaml
p = yaml.safe_load(open(sys.argv[1])); m = p["model"]
for k in ["mup_base_hidden_size", "mup_base_filter_size", "attention_logits_alpha", "output_logits_alpha", "scale_output_logits_by_d"]:
    m.pop(k)
if sys.argv[3] == "old-all":   m.update(scale_qk_dot_by_d=True, embeddings_scale=10.0, output_logits_scale=1.5)
if sys.argv[3] == "old-part":  m.update(scale_qk_dot_by_d=True, embeddings_scale=10.0); m.pop("output_logits_scale", None)
if sys.argv[3] == "none":      [m.pop(k, None) for k in ["scale_qk_dot_by_d", "embeddings_scale"]]
yaml.safe_dump(p, open(sys.argv[2], "w"))
PY
}
mkp "$T/old-all.yaml" old-all; mkp "$T/old-part.yaml" old-part; mkp "$T/none.yaml" none
out=$("$CKCONV" convert "$T/mup.mdl" --config "$T/old-all.yaml" --src-fmt cs-2.2 -o "$T/o1" 2>&1)
check "cs-2.2: all of scale_qk_dot_by_d, embeddings_scale, output_logits_scale means muP" grep -q "multipliers folded" <<<"$out"
check "cs-2.2 folding: K only divided by sqrt(d_head) (no alpha before 2.3), head and embeddings as the reference" $PY - "$T/o1/model.safetensors" "$G/hf_back/model.safetensors" <<'PY'
import json, struct, sys, numpy as np
def load(p):
    d = open(p, "rb").read(); n = struct.unpack("<Q", d[:8])[0]; h = json.loads(d[8:8 + n]); b = d[8 + n:]
    return {k: np.frombuffer(b[v["data_offsets"][0]:v["data_offsets"][1]], "<f4") for k, v in h.items() if k != "__metadata__"}
a, r = load(sys.argv[1]), load(sys.argv[2])
for k in r:
    want = r[k] * np.float32(2.0) if "k_proj" in k else r[k]   # the reference applied alpha = 0.5
    assert np.array_equal(a[k], want), k
PY
out=$("$CKCONV" convert "$T/mup.mdl" --config "$T/old-part.yaml" --src-fmt cs-2.2 -o "$T/o2" 2>&1); rc=$?
check "cs-2.2: a partial set is an error" sh -c "[ $rc -eq 1 ] && [ ! -e '$T/o2' ]"
check "... saying which keys" grep -q "sets all of scale_qk_dot_by_d, embeddings_scale and output_logits_scale, or none" <<<"$out"
out=$("$CKCONV" convert "$T/mup.mdl" --config "$T/none.yaml" -o "$T/o3" 2>&1)
check "without muP keys nothing is folded" sh -c "! grep -q muP <<'X'
$out
X"

# a model whose rules cannot fold muP refuses, with the reference's message
"$CKCONV" convert "$ROOT/tests/golden/mixtral/hf" -o "$T/mx.mdl" -q
$PY - "$T/mx.yaml" <<'PY'
import sys, yaml
p = yaml.safe_load(open(sys.argv[1])); p["model"].update(mup_base_hidden_size=32, attention_logits_alpha=0.5)
yaml.safe_dump(p, open(sys.argv[1], "w"))
PY
out=$("$CKCONV" convert "$T/mx.mdl" -o "$T/mx-hf" 2>&1); rc=$?
check "mixtral refuses a muP checkpoint" sh -c "[ $rc -eq 1 ] && [ ! -e '$T/mx-hf' ]"
check "... with the reference's message" grep -q "This model currently does not support muP checkpoint conversion to HF" <<<"$out"
check "... and --no-mup-to-sp converts it anyway" "$CKCONV" convert "$T/mx.mdl" -o "$T/mx-hf" --no-mup-to-sp -q

# bf16: each operation rounded to bf16 (round-to-nearest-even); compare within one ulp
$PY - "$G/cs/model.safetensors" "$T/bf16.safetensors" <<'PY'
import json, struct, sys, numpy as np
d = open(sys.argv[1], "rb").read(); n = struct.unpack("<Q", d[:8])[0]; h = json.loads(d[8:8 + n]); b = d[8 + n:]
out, blobs, off = {}, [], 0
for k in h:
    a, e = h[k]["data_offsets"]; x = np.frombuffer(b[a:e], "<f4").view("<u4").astype(np.uint64)
    bf = ((x + 0x7FFF + ((x >> 16) & 1)) >> 16).astype("<u2")
    out[k] = {"dtype": "BF16", "shape": h[k]["shape"], "data_offsets": [off, off + bf.nbytes]}; off += bf.nbytes; blobs.append(bf.tobytes())
t = json.dumps(out).encode(); t += b" " * (-len(t) % 8)
open(sys.argv[2], "wb").write(struct.pack("<Q", len(t)) + t + b"".join(blobs))
PY
$PY "$ROOT/tools/make_cstorch_h5.py" --format 0.5 "$T/bf16.safetensors" "$T/bf16.mdl" >/dev/null
check "a bf16 muP checkpoint converts" "$CKCONV" convert "$T/bf16.mdl" --config "$G/cs/params.yaml" -o "$T/bf16-hf" -q
check "bf16 results are within one bf16 ulp of the f32 reference" $PY - "$T/bf16-hf/model.safetensors" "$G/hf_back/model.safetensors" <<'PY'
import json, struct, sys, numpy as np
def load(p):
    d = open(p, "rb").read(); n = struct.unpack("<Q", d[:8])[0]; h = json.loads(d[8:8 + n]); b = d[8 + n:]
    return {k: (v["dtype"], b[v["data_offsets"][0]:v["data_offsets"][1]]) for k, v in h.items() if k != "__metadata__"}
a, r = load(sys.argv[1]), load(sys.argv[2])
for k in r:
    got = (np.frombuffer(a[k][1], "<u2").astype(np.uint32) << 16).view("<f4")
    want = np.frombuffer(r[k][1], "<f4")
    ulp = np.abs(want) * 2.0 ** -7 + 1e-30
    assert a[k][0] == "BF16" and np.all(np.abs(got - want) <= ulp), k
PY
check "inspect says a packed file is muP" sh -c "'$CKCONV' inspect '$T/mup.mdl' | grep -q '^muP: yes'"
check "inspect says a plain one is not" sh -c "'$CKCONV' inspect '$T/mx.mdl' --config '$ROOT/tests/golden/mixtral/cs/params.yaml' | grep -q '^muP: no'"
