#!/usr/bin/env bash
# Multi-component specifics: carried tokenizer/processor files, a missing projector initialised,
# keys no component claims, and `list` showing the layout.
. "$(dirname "$0")/lib.inc"
G="$ROOT/tests/golden"

# carried files: tokenizer files of a component travel next to the packed file and back
cp -r "$G/llava/hf" "$T/in"
echo '{"version": "1.0", "model": {"type": "BPE"}}' >"$T/in/text_model/tokenizer.json"
echo '{"crop_size": 336}' >"$T/in/image_model/preprocessor_config.json"
echo 'not carried' >"$T/in/text_model/notes.txt"
check "llava with tokenizer files converts" "$CKCONV" convert "$T/in" -o "$T/l.mdl" -q
check "tokenizer.json travels next to the packed file" cmp "$T/in/text_model/tokenizer.json" "$T/l.hf-files/text_model/tokenizer.json"
check "files the rules do not list stay behind" test ! -e "$T/l.hf-files/text_model/notes.txt"
check "back to HF" "$CKCONV" convert "$T/l.mdl" -o "$T/back" -q
check "tokenizer.json is back in text_model/" cmp "$T/in/text_model/tokenizer.json" "$T/back/text_model/tokenizer.json"
check "the original preprocessor_config.json wins over the generated one" cmp "$T/in/image_model/preprocessor_config.json" "$T/back/image_model/preprocessor_config.json"
check "mm_vision_tower points at the converted image model" $CHECK json-superset "$T/back/text_model/config.json" <(printf '{"mm_vision_tower": "%s/image_model"}' "$T/back")
check "an existing .hf-files directory is refused without --force" sh -c "! '$CKCONV' convert '$T/in' -o '$T/l.mdl' -q 2>/dev/null"

# no projector on the HF side: created from a fixed seed, U(-sqrt(1/in), sqrt(1/in))
mkdir -p "$T/noproj"; cp -r "$G/llava/hf/image_model" "$T/noproj/"; mkdir -p "$T/noproj/text_model"
cp "$G/llava/hf/text_model/config.json" "$T/noproj/text_model/"
$PY - "$G/llava/hf/text_model/model.safetensors" "$T/noproj/text_model/model.safetensors" <<'PY'
import json, struct, sys
d = open(sys.argv[1], "rb").read(); n = struct.unpack("<Q", d[:8])[0]; h = json.loads(d[8:8 + n]); b = d[8 + n:]
out, blobs, off = {"__metadata__": {"format": "pt"}}, [], 0
for k in sorted(h):
    if k == "__metadata__" or "mm_projector" in k: continue
    a, e = h[k]["data_offsets"]; out[k] = dict(h[k], data_offsets=[off, off + e - a]); off += e - a; blobs.append(b[a:e])
t = json.dumps(out).encode(); t += b" " * (-len(t) % 8)
open(sys.argv[2], "wb").write(struct.pack("<Q", len(t)) + t + b"".join(blobs))
PY
check "llava without projector weights converts" "$CKCONV" convert "$T/noproj" -o "$T/np.mdl" -q
check "projector tensors are created with the right shapes" $PY - "$T/np.mdl" <<'PY'
import h5py, numpy as np, sys
f = h5py.File(sys.argv[1], "r")
want = {"model.projector_image_model.ffn.0.linear_layer.weight": (64, 48), "model.projector_image_model.ffn.0.linear_layer.bias": (64,),
        "model.projector_image_model.ffn.1.linear_layer.weight": (64, 64), "model.projector_image_model.ffn.1.linear_layer.bias": (64,)}
for k, s in want.items():
    a = f[k][()]; bound = (1 / (48 if ".0." in k else 64)) ** 0.5
    assert a.shape == s, (k, a.shape)
    assert np.all(np.abs(a) <= bound) and a.std() > bound / 4, (k, "not U(-b, b)")
PY
check "the initialisation is reproducible" sh -c "'$CKCONV' convert '$T/noproj' -o '$T/np2.mdl' -q && '$CKCONV' diff '$T/np.mdl' '$T/np2.mdl' >/dev/null"

# CS -> HF: a key that no component claims is an error naming it
$PY - "$T/l.mdl" "$T/extra.mdl" <<'PY'
import shutil, sys, h5py, json
shutil.copy(sys.argv[1], sys.argv[2])
with h5py.File(sys.argv[2], "r+") as f:
    k = "model.audio_model.weight"
    f.create_dataset(k, data=[1.0, 2.0], dtype="<f4")
    for a in ("__NUMPY__", "__TORCH__"): f[k].attrs[a] = True
    f.attrs[k + ".__metadata__"] = json.dumps({"__spec__": [{k: "*"}, ""], "__objects__": [k], k + ".__metadata__": {"__TORCH__": True, "shapes": [[2]], "dtypes": ["torch.float32"], "__TYPE__": "TorchTensorSerializer", "__NUMPY__": True}})
    spec = json.loads(f.attrs["__spec__"]); inner = json.loads(spec[1])
    node = inner[1]["children_spec"][0]; ctx = json.loads(node["context"]); ctx.append("audio_model.weight")
    node["context"] = json.dumps(ctx); node["children_spec"].append({"type": None, "context": None, "children_spec": []})
    spec[1] = json.dumps(inner); f.attrs["__spec__"] = json.dumps(spec, indent=4)
PY
out=$("$CKCONV" convert "$T/extra.mdl" --config "$T/l.yaml" -o "$T/extra-hf" 2>&1)
check "an unclaimed key fails the conversion" test ! -e "$T/extra-hf"
check "... naming the key" grep -q "model.audio_model.weight: no rule of any component matches this key" <<<"$out"

out=$("$CKCONV" list)
check "list shows llava's components and layout" grep -q "component 2:   DIR/text_model/" <<<"$out"
check "list shows dragon's components" grep -q "component 1:   DIR/q_encoder/" <<<"$out"

# a missing component directory, and a component without weights: one line naming it
mkdir -p "$T/nocomp" "$T/noweights/text_model"
cp -r "$G/llava/hf/image_model" "$T/nocomp/"; cp -r "$G/llava/hf/image_model" "$T/noweights/"
cp "$G/llava/hf/text_model/config.json" "$T/noweights/text_model/"
expect_fail "a missing component directory is named" "nocomp/text_model: component directory 'text_model' of llava is missing" "$T/nocomp.mdl" \
	"$CKCONV" convert "$T/nocomp" --model llava -o "$T/nocomp.mdl"
expect_fail "a component without weights is named" "noweights/text_model: directory holds no weights" "$T/noweights.mdl" \
	"$CKCONV" convert "$T/noweights" --model llava -o "$T/noweights.mdl"
