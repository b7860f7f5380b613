#!/usr/bin/env bash
# The GPT-J backbone families (gptj, codegen, falcon) where ckconv does more than, or differs from,
# the reference: CS -> HF from cstorch-style LZ4 files, an LM head bias HF needs and CS may lack,
# muP folding of the head bias, older targets, and what the config rules refuse.
. "$(dirname "$0")/lib.inc"
G="$ROOT/tests/golden"
# stedit IN OUT [drop=KEY ...] [scale=KEY:FACTOR]: a safetensors copy without / with changed tensors
stedit() { $PY - "$@" <<'PY'
import json, struct, sys
import numpy as np
src, dst, ops = sys.argv[1], sys.argv[2], sys.argv[3:]
d = open(src, "rb").read(); n = struct.unpack("<Q", d[:8])[0]; h = json.loads(d[8:8 + n]); b = d[8 + n:]
drop = {o[5:] for o in ops if o.startswith("drop=")}
h.pop("__metadata__", None)
out, off, hdr = [], 0, {}
for k, v in sorted(h.items()):
    if k in drop:
        continue
    blob = b[v["data_offsets"][0]:v["data_offsets"][1]]
    hdr[k] = dict(dtype=v["dtype"], shape=v["shape"], data_offsets=[off, off + len(blob)])
    out.append(blob); off += len(blob)
hj = json.dumps(hdr).encode()
open(dst, "wb").write(struct.pack("<Q", len(hj)) + hj + b"".join(out))
PY
}
# params IN OUT 'python statements on m (the model section)'
params() { $PY - "$@" <<'PY'
import sys, yaml
p = yaml.safe_load(open(sys.argv[1])); m = p["model"]
exec(sys.argv[3])
yaml.safe_dump(p, open(sys.argv[2], "w"))
PY
}
st() { $PY - "$@" <<'PY'
import json, struct, sys
import numpy as np
d = open(sys.argv[1], "rb").read(); n = struct.unpack("<Q", d[:8])[0]; h = json.loads(d[8:8 + n]); b = d[8 + n:]
def t(k):
    v = h[k]; a = np.frombuffer(b[v["data_offsets"][0]:v["data_offsets"][1]], {"F32": "<f4", "BF16": "<u2"}[v["dtype"]])
    return v["dtype"], a.reshape(v["shape"])
exec(sys.argv[2])
PY
}

# --- gptj ---------------------------------------------------------------------------------------
$PY "$ROOT/tools/make_cstorch_h5.py" "$G/gptj/cs/model.safetensors" "$T/gptj.mdl" >/dev/null
cp "$G/gptj/cs/params.yaml" "$T/gptj.yaml"
check "gptj: a cstorch-style (LZ4, model.*) file converts to HF" "$CKCONV" convert "$T/gptj.mdl" -o "$T/gptj-hf" -q
check "... tensors equal the reference's hf_back" $CHECK st-vs-st "$T/gptj-hf" "$G/gptj/hf_back"

# HF GPT-J's LM head always has a bias; a CS model without one gets zeros (the reference leaves
# lm_head.bias out and HF initialises it as it likes)
stedit "$G/gptj/cs/model.safetensors" "$T/nob.st" drop=model.lm_head.bias
$PY "$ROOT/tools/make_cstorch_h5.py" "$T/nob.st" "$T/nob.mdl" >/dev/null
params "$G/gptj/cs/params.yaml" "$T/nob.yaml" 'm["use_bias_in_output"] = False'
check "gptj: a CS model without an LM head bias converts" "$CKCONV" convert "$T/nob.mdl" -o "$T/nob-hf" -q
check "... with a zero f32 lm_head.bias of vocab_size entries" st "$T/nob-hf/model.safetensors" \
	'dt, a = t("lm_head.bias"); assert dt == "F32" and a.shape == (96,) and not a.any(), (dt, a.shape)'
stedit "$T/nob-hf/model.safetensors" "$T/nob-rest.st" drop=lm_head.bias
check "... and every other tensor as the reference's hf_back" $CHECK st-vs-st "$T/nob-rest.st" "$G/gptj/hf_back" --common
check "... and use_bias_in_output true in config.json (the bias is there)" $CHECK json-superset "$T/nob-hf/config.json" <(echo '{"use_bias_in_output": true}')

# muP: CS computes logits as (W x + b) * scale; the reference folds the scale into W only
params "$G/gptj/cs/params.yaml" "$T/mup.yaml" 'm.update(mup_base_hidden_size=32, mup_base_filter_size=128, output_logits_alpha=1.0, attention_logits_alpha=1.0)'
cp "$T/gptj.mdl" "$T/mup.mdl"
check "gptj: a muP checkpoint converts (multipliers folded)" "$CKCONV" convert "$T/mup.mdl" -o "$T/mup-hf" -q
check "... lm_head weight and bias both times output_logits_alpha / (hidden / mup_base_hidden) = 0.5" st "$T/mup-hf/model.safetensors" "
import numpy as np
_, w = t('lm_head.weight'); _, bias = t('lm_head.bias')
import json, struct
d = open('$G/gptj/cs/model.safetensors', 'rb').read(); n = struct.unpack('<Q', d[:8])[0]; h2 = json.loads(d[8:8 + n]); b2 = d[8 + n:]
def r(k): v = h2[k]; return np.frombuffer(b2[v['data_offsets'][0]:v['data_offsets'][1]], '<f4').reshape(v['shape'])
assert np.array_equal(w, r('model.lm_head.weight') * np.float32(0.5))
assert np.array_equal(bias, r('model.lm_head.bias') * np.float32(0.5)), 'bias not scaled'
"
check "... share_embedding_weights false, muP keys gone" $PY -c "import json,sys; c=json.load(open(sys.argv[1])); sys.exit(c['tie_word_embeddings'] is not False or any(k.startswith('mup_') for k in c))" "$T/mup-hf/config.json"

# older targets: the reference's separate cs-2.0-2.2 converter (same keys, no model.name yet)
check "gptj: hf -> cs-2.0 converts" "$CKCONV" convert "$G/gptj/hf" --tgt-fmt cs-2.0 -o "$T/old.mdl" -q
check "... params without name (cs < 2.4)" $PY -c "import yaml,sys; sys.exit('name' in yaml.safe_load(open(sys.argv[1]))['model'])" "$T/old.yaml"
check "... back to HF (--model gptj, src cs-2.0) equals hf_back" sh -c "'$CKCONV' convert '$T/old.mdl' --model gptj --src-fmt cs-2.0 -o '$T/old-hf' -q && $CHECK st-vs-st '$T/old-hf' '$G/gptj/hf_back'"

# refusals, one line each
cp -r "$G/gptj/hf" "$T/rd"; sed -i 's/"rotary_dim": 8/"rotary_dim": 7/' "$T/rd/config.json"
expect_fail "gptj: an odd rotary_dim is refused" "rotary_dim 7: CS needs an even rotary_dim of at most the head size 16" "$T/rd.mdl" \
	"$CKCONV" convert "$T/rd" -o "$T/rd.mdl"
cp -r "$G/gptj/hf" "$T/rn"; sed -i 's/"rotary_dim": 8/"rotary_dim": null/' "$T/rn/config.json"
expect_fail "gptj: rotary_dim null is refused" "rotary_dim" "$T/rn.mdl" "$CKCONV" convert "$T/rn" -o "$T/rn.mdl"
params "$G/gptj/cs/params.yaml" "$T/glu.yaml" 'm["nonlinearity"] = "swiglu"'
expect_fail "gptj: a GLU nonlinearity is refused" "nonlinearity swiglu has no HF counterpart" "$T/glu-hf" \
	"$CKCONV" convert "$T/gptj.mdl" --config "$T/glu.yaml" -o "$T/glu-hf"
params "$G/gptj/cs/params.yaml" "$T/theta.yaml" 'm["rope_theta"] = 500000.0'
expect_fail "gptj: rope_theta other than 10000 is refused" "rope_theta = 500000.0 has no HF counterpart" "$T/theta-hf" \
	"$CKCONV" convert "$T/gptj.mdl" --config "$T/theta.yaml" -o "$T/theta-hf"
params "$G/gptj/cs/params.yaml" "$T/pi.yaml" 'm["pos_scaling_factor"] = 2.0'
expect_fail "gptj: RoPE scaling is refused" "this HF model has no RoPE scaling" "$T/pi-hf" \
	"$CKCONV" convert "$T/gptj.mdl" --config "$T/pi.yaml" -o "$T/pi-hf"
