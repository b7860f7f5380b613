#!/usr/bin/env bash
# Bad inputs: each must fail with exit status 1, one error line naming the problem, and no output.
. "$(dirname "$0")/lib.inc"
G="$ROOT/tests/golden"
mk() { $PY - "$@" <<'PY'
import json, struct, sys, os, shutil
kind, src, dst = sys.argv[1], sys.argv[2], sys.argv[3]
data = open(src, "rb").read()
n = struct.unpack("<Q", data[:8])[0]
hdr = json.loads(data[8:8 + n]); body = data[8 + n:]
def write(h, b):
    t = json.dumps(h).encode(); t += b" " * (-len(t) % 8)
    open(dst, "wb").write(struct.pack("<Q", len(t)) + t + b)
keys = [k for k in hdr if k != "__metadata__"]
if kind == "truncated":
    open(dst, "wb").write(data[: 8 + n + len(body) // 2])
elif kind == "past-end":
    k = keys[0]; a, b = hdr[k]["data_offsets"]; hdr[k]["data_offsets"] = [a + len(body), b + len(body)]; write(hdr, body)
elif kind == "overlap":
    k0, k1 = sorted(keys, key=lambda k: hdr[k]["data_offsets"][0])[:2]
    hdr[k1]["data_offsets"] = list(hdr[k0]["data_offsets"]); write(hdr, body)
elif kind == "hugeheader":
    open(dst, "wb").write(struct.pack("<Q", 1 << 40) + b"{}")
PY
}
mkdir -p "$T/in"
cp "$G/gpt2/hf/config.json" "$T/in/"
for k in truncated past-end overlap hugeheader; do
	mkdir -p "$T/$k"; cp "$G/gpt2/hf/config.json" "$T/$k/"
	mk "$k" "$G/gpt2/hf/model.safetensors" "$T/$k/model.safetensors"
done
expect_fail "truncated safetensors is refused" "model.safetensors" "$T/o1.mdl" "$CKCONV" convert "$T/truncated" --model gpt2 -o "$T/o1.mdl"
expect_fail "offsets past the end are refused" "model.safetensors" "$T/o2.mdl" "$CKCONV" convert "$T/past-end" --model gpt2 -o "$T/o2.mdl"
expect_fail "overlapping tensors are refused" "overlap" "$T/o3.mdl" "$CKCONV" convert "$T/overlap" --model gpt2 -o "$T/o3.mdl"
expect_fail "an absurd header length is refused" "header" "$T/o4.mdl" "$CKCONV" convert "$T/hugeheader" --model gpt2 -o "$T/o4.mdl"

mkdir -p "$T/shard"; cp "$G/llama/hf/"* "$T/shard/"; rm "$T/shard/model-00002-of-00002.safetensors"
expect_fail "an index naming a missing shard names it" "model-00002-of-00002.safetensors" "$T/o5.mdl" "$CKCONV" convert "$T/shard" --model llama -o "$T/o5.mdl"

mkdir -p "$T/rules1" "$T/rules2"
cp "$ROOT"/rules/*.yaml "$T/rules1/"; cp "$ROOT"/rules/*.yaml "$T/rules2/"
sed -i "s/^  L: '\\\\d+'/  L: '[0-9'/" "$T/rules1/gpt2-layers.yaml"
expect_fail "a rule file with a bad regex is named with line and column" "gpt2-layers.yaml:7:6: placeholder 'L': bad regex" "$T/o6.mdl" "$CKCONV" convert "$G/gpt2/hf" --model gpt2 --rules "$T/rules1" -o "$T/o6.mdl"
sed -i 's/action: \[transpose, split\]/action: [transpose, splitt]/' "$T/rules2/gpt2-layers.yaml"
expect_fail "an unknown action is named with a suggestion" "unknown action 'splitt' (did you mean 'split'?)" "$T/o7.mdl" "$CKCONV" convert "$G/gpt2/hf" --model gpt2 --rules "$T/rules2" -o "$T/o7.mdl"

mkdir -p "$T/extra"; cp "$G/gpt2/hf/config.json" "$T/extra/"
$PY - "$G/gpt2/hf/model.safetensors" "$T/extra/model.safetensors" <<'PY'
import json, struct, sys
d = open(sys.argv[1], "rb").read(); n = struct.unpack("<Q", d[:8])[0]; h = json.loads(d[8:8 + n]); b = d[8 + n:]
h["transformer.h.0.mystery.weight"] = {"dtype": "F32", "shape": [1], "data_offsets": [len(b), len(b) + 4]}
t = json.dumps(h).encode(); t += b" " * (-len(t) % 8)
open(sys.argv[2], "wb").write(struct.pack("<Q", len(t)) + t + b + b"\0\0\0\0")
PY
expect_fail "a key no rule matches is named" "transformer.h.0.mystery.weight: no rule matches this key" "$T/o8.mdl" "$CKCONV" convert "$T/extra" --model gpt2 -o "$T/o8.mdl"
check "--drop-unmatched-keys converts anyway" "$CKCONV" convert "$T/extra" --model gpt2 -o "$T/o9.mdl" --drop-unmatched-keys -q

"$CKCONV" convert "$G/gpt2/hf" --model gpt2 -o "$T/exists.mdl" -q
before=$(stat -c %Y-%s "$T/exists.mdl")
expect_fail "an existing output is refused without --force" "pass --force" "$T/never" "$CKCONV" convert "$G/gpt2/hf" --model gpt2 -o "$T/exists.mdl"
check "the refused output was left untouched" test "$before" = "$(stat -c %Y-%s "$T/exists.mdl")"
check "--force replaces it" "$CKCONV" convert "$G/gpt2/hf" --model gpt2 -o "$T/exists.mdl" --force -q
# the model files of rules/, in file-name order (each family adds one: the list is not written out here)
known=$($PY -c 'import glob, sys, yaml; print(", ".join(m for m in (yaml.safe_load(open(f)).get("model") for f in sorted(glob.glob(sys.argv[1] + "/*.yaml"))) if m))' "$ROOT/rules")
expect_fail "an unknown model lists the known ones" "unknown model 'lama' (known: $known;" "$T/o10.mdl" "$CKCONV" convert "$G/gpt2/hf" --model lama -o "$T/o10.mdl"
expect_fail "an unsupported format is named" "does not support format cs-1.9" "$T/o11.mdl" "$CKCONV" convert "$G/gpt2/hf" --model gpt2 --tgt-fmt cs-1.9 -o "$T/o11.mdl"
expect_fail "a wrong model_type is refused by the config rules" "model_type must be \"llama\", found \"gpt2\"" "$T/o12.mdl" "$CKCONV" convert "$G/gpt2/hf" --model llama -o "$T/o12.mdl"
leftovers=$(ls "$T" | grep -c 'tmp' || true)
check "no temporary files are left behind" test "$leftovers" -eq 0
