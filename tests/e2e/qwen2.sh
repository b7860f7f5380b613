#!/usr/bin/env bash
# qwen2 beyond its golden case: the sliding-window config (off, on for every layer, refused when
# only some layers slide), newer transformers' layer_types, q/k/v biases required on the CS side,
# muP refused, and llama's rules still refusing attention biases.
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

mk swa use_sliding_window=true max_window_layers=0 sliding_window=64
check "every layer sliding (max_window_layers 0) converts" "$CKCONV" convert "$T/swa" -o "$T/swa.mdl" -q
check "... to CS attention_sliding_window_length" test "$(yget "$T/swa.yaml" attention_sliding_window_length)" = 64
echo '{"use_sliding_window": true, "sliding_window": 64, "max_window_layers": 0}' >"$T/swa-want.json"
check "... and back" "$CKCONV" convert "$T/swa.mdl" -o "$T/swa-hf" -q
check "... to use_sliding_window, sliding_window and max_window_layers 0" $CHECK json-superset "$T/swa-hf/config.json" "$T/swa-want.json"
check "... tensors unchanged by the round trip" $CHECK st-vs-st "$T/swa-hf" "$G/hf"

mk nowin use_sliding_window=true max_window_layers=2
check "sliding window on but no layer >= max_window_layers: converts" "$CKCONV" convert "$T/nowin" -o "$T/nowin.mdl" -q
check "... without a CS window" test "$(yget "$T/nowin.yaml" attention_sliding_window_length)" = None

mk mixed use_sliding_window=true max_window_layers=1
expect_fail "only some layers sliding: refused, naming the check" "config check failed" "$T/mixed.mdl" \
	"$CKCONV" convert "$T/mixed" -o "$T/mixed.mdl" -q

mk lt layer_types='["full_attention", "full_attention"]' sliding_window=null
check "layer_types all full_attention (newer transformers) converts" "$CKCONV" convert "$T/lt" -o "$T/lt.mdl" -q
mk ltbad layer_types='["full_attention", "sliding_attention"]'
expect_fail "layer_types naming a sliding layer while the window is off: refused" "layer_types" "$T/ltbad.mdl" \
	"$CKCONV" convert "$T/ltbad" -o "$T/ltbad.mdl" -q

# the CS side: q/k/v biases must be declared
"$CKCONV" convert "$G/hf" -o "$T/q.mdl" -q
sed 's/use_projection_bias_in_attention: true/use_projection_bias_in_attention: false/' "$T/q.yaml" >"$T/nobias.yaml"
expect_fail "CS params without projection biases: refused for qwen2" "use_projection_bias_in_attention must be true, found false" \
	"$T/nobias-hf" "$CKCONV" convert "$T/q.mdl" --config "$T/nobias.yaml" -o "$T/nobias-hf" -q
sed 's/name: qwen2/name: llama/' "$T/q.yaml" >"$T/asllama.yaml"
expect_fail "... and the same params named llama: refused by llama's rules" "use_projection_bias_in_attention must be false, found true" \
	"$T/asllama-hf" "$CKCONV" convert "$T/q.mdl" --config "$T/asllama.yaml" -o "$T/asllama-hf" -q
check "... and converted with --model qwen2 (CS trains Qwen2 as a llama with biases)" \
	"$CKCONV" convert "$T/q.mdl" --config "$T/asllama.yaml" --model qwen2 -o "$T/asllama-hf" -q
check "... to the same HF checkpoint" $CHECK st-vs-st "$T/asllama-hf" "$G/hf_back"
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

out=$("$CKCONV" explain --model qwen2 --config "$G/hf/config.json" model.layers.0.self_attn.q_proj.bias)
check "explain: the q bias takes the q weight's RoPE permutation" \
	grep -q "action   rope_interleave(groups: heads = 4, dim: rotary_dim = 16)$" <<<"$out"
