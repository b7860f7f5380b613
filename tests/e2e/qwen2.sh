#!/usr/bin/env bash
# qwen2 beyond its golden case: the sliding-window keys (refused when on, inert when off), q/k/v
# biases required on the CS side and refused by llama's rules, muP refused, tied embeddings.
. "$(dirname "$0")/lib.inc"
G="$ROOT/tests/golden/qwen2"
# mk NAME KEY=JSON...: a copy of the golden HF input with config.json keys replaced
mk() {
	local d="$T/$1"; shift
	mkdir -p "$d" && cp "$G/hf/model.safetensors" "$d/"
	$PY - "$G/hf/config.json" "$d/config.json" "$@" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
for kv in sys.argv[3:]:
    k, v = kv.split("=", 1); c[k] = json.loads(v)
json.dump(c, open(sys.argv[2], "w"))
PY
}
yget() { $PY -c 'import sys, yaml; print(yaml.safe_load(open(sys.argv[1]))["model"].get(sys.argv[2]))' "$1" "$2"; }

mk swa use_sliding_window=true max_window_layers=0
expect_fail "use_sliding_window true: refused, naming the rule" "use_sliding_window must be false, found true (rule" \
	"$T/swa.mdl" "$CKCONV" convert "$T/swa" -o "$T/swa.mdl" -q
mk swastr use_sliding_window='"false"'
expect_fail "use_sliding_window as a string: refused by its type" "use_sliding_window must be bool" \
	"$T/swastr.mdl" "$CKCONV" convert "$T/swastr" -o "$T/swastr.mdl" -q
mk off sliding_window=64 max_window_layers=0
check "window off: sliding_window and max_window_layers are inert" "$CKCONV" convert "$T/off" -o "$T/off.mdl" -q
check "... and give CS no window" test "$(yget "$T/off.yaml" attention_sliding_window_length)" = None
check "... tensors equal the golden CS checkpoint" $CHECK mdl-vs-st "$T/off.mdl" "$G/cs/model.safetensors"

# the CS side: q/k/v biases must be declared, and only qwen2's rules accept them
"$CKCONV" convert "$G/hf" -o "$T/q.mdl" -q
sed 's/use_projection_bias_in_attention: true/use_projection_bias_in_attention: false/' "$T/q.yaml" >"$T/nobias.yaml"
expect_fail "CS params without projection biases: refused for qwen2" "use_projection_bias_in_attention must be true, found false" \
	"$T/nobias-hf" "$CKCONV" convert "$T/q.mdl" --config "$T/nobias.yaml" -o "$T/nobias-hf" -q
sed 's/name: qwen2/name: llama/' "$T/q.yaml" >"$T/asllama.yaml"
expect_fail "... and the same params named llama: refused by llama's rules" "use_projection_bias_in_attention must be false, found true" \
	"$T/asllama-hf" "$CKCONV" convert "$T/q.mdl" --config "$T/asllama.yaml" -o "$T/asllama-hf" -q
printf '  mup_base_hidden_size: 32\n' >>"$T/q.yaml"
expect_fail "a muP qwen2 checkpoint is refused" "muP" "$T/mup-hf" "$CKCONV" convert "$T/q.mdl" -o "$T/mup-hf" -q

# tied embeddings (Qwen2-0.5B/1.5B ship no lm_head): converts and comes back without one
mk tied tie_word_embeddings=true
$PY - "$T/tied/model.safetensors" <<'PY'
import json, struct, sys
p = sys.argv[1]; d = open(p, "rb").read(); n = struct.unpack("<Q", d[:8])[0]; h = json.loads(d[8:8 + n]); b = d[8 + n:]
del h["lm_head.weight"]
out, blobs, off = {"__metadata__": h.pop("__metadata__")}, [], 0
for k in sorted(h):
    a, z = h[k]["data_offsets"]; out[k] = dict(h[k], data_offsets=[off, off + z - a]); off += z - a; blobs.append(b[a:z])
j = json.dumps(out).encode(); j += b" " * (-len(j) % 8)
open(p, "wb").write(struct.pack("<Q", len(j)) + j + b"".join(blobs))
PY
check "tied embeddings without lm_head convert" "$CKCONV" convert "$T/tied" -o "$T/tied.mdl" -q
check "... to share_embedding_weights true" test "$(yget "$T/tied.yaml" share_embedding_weights)" = True
check "... and back, without an lm_head, tensors unchanged" sh -c \
	"'$CKCONV' convert '$T/tied.mdl' -o '$T/tied-hf' -q && $CHECK st-vs-st '$T/tied-hf' '$T/tied'"
