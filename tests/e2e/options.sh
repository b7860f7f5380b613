#!/usr/bin/env bash
# convert's options and inputs beyond the golden path: packed files written by cstorch (LZ4) and
# the legacy 0.4 layout, --compress lz4, --shard-size, --dry-run, --debug, inspect, mistral.
. "$(dirname "$0")/lib.inc"
G="$ROOT/tests/golden"
P="$G/llama/cs/params.yaml"

for f in llama_cstorch_lz4 llama_legacy_04; do
	check "$f: a packed file saved by cstorch converts to HF" "$CKCONV" convert "$G/h5ck/$f.mdl" --config "$P" -o "$T/$f" -q
	check "$f: tensors equal hf_back" $CHECK st-vs-st "$T/$f" "$G/llama/hf_back"
done

check "--compress lz4 writes a packed file" "$CKCONV" convert "$G/llama/hf" -o "$T/lz4.mdl" --compress lz4 -q
check "the LZ4 file holds the reference tensors (read by h5py)" $CHECK mdl-vs-st "$T/lz4.mdl" "$G/llama/cs/model.safetensors"
check "its datasets use filter 32004" sh -c "h5dump -p -H '$T/lz4.mdl' | grep -q 'FILTER_ID 32004'"
check "the LZ4 file converts back" "$CKCONV" convert "$T/lz4.mdl" -o "$T/lz4hf" -q
check "... to hf_back" $CHECK st-vs-st "$T/lz4hf" "$G/llama/hf_back"

check "--shard-size splits the HF output" "$CKCONV" convert "$T/lz4.mdl" -o "$T/sharded" --shard-size 100KB -q
check "shards and index are named the HF way" sh -c "test -f '$T/sharded/model.safetensors.index.json' && ls '$T/sharded' | grep -qx 'model-00005-of-00005.safetensors'"
check "the sharded output holds hf_back" $CHECK st-vs-st "$T/sharded" "$G/llama/hf_back"
check "a sharded HF directory converts back to CS" "$CKCONV" convert "$T/sharded" -o "$T/resharded.mdl" -q
check "... to the reference" $CHECK mdl-vs-st "$T/resharded.mdl" "$G/llama/cs/model.safetensors"

out=$("$CKCONV" convert "$G/gpt2/hf" --dry-run -o "$T/dry.mdl" 2>&1)
check "--dry-run writes nothing" test ! -e "$T/dry.mdl" -a ! -e "$T/dry.yaml"
check "--dry-run lists each rule with its sources and targets" grep -q "gpt2-layers.yaml:17  transpose+split" <<<"$out"
check "--dry-run shows target dtype and shape" grep -q "> transformer_decoder.layers.0.self_attn.proj_k_dense_layer.weight f32 \[64, 64\]" <<<"$out"
check "--dry-run gives the peak buffer, with the I/O overlap" grep -q "^peak buffer: 0.1 MiB of tensor memory (largest group 0.1 MiB; the I/O overlap fits within it)$" <<<"$out"
check "--dry-run prints the params" grep -q "nonlinearity: gelu_new" <<<"$out"
out=$("$CKCONV" convert "$G/llama/hf_bin" --dry-run -o "$T/dry.mdl" 2>&1)
check "--dry-run: PyTorch .bin files read ahead on the I/O thread, as safetensors" grep -q "^peak buffer: .* (largest group .*; two tensors while the I/O thread overlaps)$" <<<"$out"
out=$("$CKCONV" convert "$T/lz4.mdl" --dry-run -o "$T/dry-hf" 2>&1)
check "--dry-run: a packed source is read on the main thread, the HF output written behind" grep -q "^peak buffer: .* (largest group .*; two tensors while the I/O thread overlaps)$" <<<"$out"

out=$("$CKCONV" convert "$G/llama/hf" --debug -o "$T/dbg.mdl" 2>&1)
check "--debug prints one line per key with rule and action" grep -q "^model.layers.0.self_attn.q_proj.weight -> transformer_decoder.layers.0.self_attn.proj_q_dense_layer.weight (rule .*llama-body.yaml:[0-9]*, rope_interleave)$" <<<"$out"
check "--debug shows the duplicate write" grep -q "^model.norm.weight -> ln_f.weight" <<<"$out"

out=$("$CKCONV" inspect "$T/dbg.mdl")
check "inspect lists packed tensors" grep -q "^model.ln_f.weight  *f32  *\[64\]  *256 B$" <<<"$out"
check "inspect shows ckconv's provenance" grep -q '"rules_sha256":"[0-9a-f]\{64\}"' <<<"$out"
check "inspect reads an HF directory" sh -c "'$CKCONV' inspect '$G/llama/hf' | grep -q '^21 tensors'"

# mistral: the llama layout under another model_type; its rules must give the same tensors
mkdir -p "$T/mistral"
cp "$G/llama/hf/"*.safetensors "$G/llama/hf/model.safetensors.index.json" "$T/mistral/"
$PY - "$G/llama/hf/config.json" "$T/mistral/config.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c.update(model_type="mistral", architectures=["MistralForCausalLM"], sliding_window=128)
json.dump(c, open(sys.argv[2], "w"), indent=2)
PY
check "mistral: detected and converted" "$CKCONV" convert "$T/mistral" -o "$T/mistral.mdl" -q
check "mistral: same tensors as llama's reference" $CHECK mdl-vs-st "$T/mistral.mdl" "$G/llama/cs/model.safetensors"
check "mistral: sliding window carried to CS" grep -q "attention_sliding_window_length: 128" "$T/mistral.yaml"
check "mistral: converts back" "$CKCONV" convert "$T/mistral.mdl" -o "$T/mistral-hf" -q
check "mistral: round trip lossless" $CHECK st-vs-st "$T/mistral-hf" "$T/mistral"
check "mistral: config back has sliding_window and model_type" $CHECK json-superset "$T/mistral-hf/config.json" <(echo '{"model_type": "mistral", "sliding_window": 128, "num_key_value_heads": 2}')

check "every command has --help" sh -c "for c in convert list inspect diff validate; do '$CKCONV' \$c --help >/dev/null || exit 1; done"
check "validate passes on the shipped rules" "$CKCONV" validate "$ROOT/rules"
check "make install puts binary and rules under PREFIX" sh -c "make -s -C '$ROOT' install PREFIX='$T/prefix' BIN='$(dirname "${CKCONV_REAL:-$CKCONV}")' >/dev/null && CKCONV_RULES= '$T/prefix/bin/ckconv' list | grep -q 'rules: $T/prefix/bin/../share/ckconv/rules'"

# progress: a bar redrawn in place on a terminal, a plain line per part otherwise
out=$($PY - "$CKCONV" "$ROOT/tests/golden/llama/hf" "$T/tty.mdl" <<'PY'
import os, pty, sys
pid, fd = pty.fork()
if pid == 0:
    os.execv(sys.argv[1], ["ckconv", "convert", sys.argv[2], "-o", sys.argv[3]])
out = b""
while True:
    try: d = os.read(fd, 4096)
    except OSError: break
    if not d: break
    out += d
os.waitpid(pid, 0)
sys.stdout.write(out.decode(errors="replace").replace("\r", "<CR>"))
PY
)
check "on a terminal the line is redrawn in place" grep -q "<CR>.\[Kpacked 100%.*  22/22  .*/s  ETA 0:00:00" <<<"$out"
check "... and ends with a summary line" grep -q "ckconv: packed: 22 tensors, 385.5 KiB in" <<<"$out"
out=$("$CKCONV" convert "$ROOT/tests/golden/llama/hf" -o "$T/pipe.mdl" 2>&1)
check "not on a terminal: one plain line, no redraws" sh -c "grep -q '^ckconv: packed: 22 tensors' <<'X' && ! grep -q \$'\\r' <<'X'
$out
X
$out
X"
check "--no-progress drops the progress line but keeps the rest" sh -c "'$CKCONV' convert '$ROOT/tests/golden/llama/hf' -o '$T/np.mdl' --no-progress 2>&1 | grep -v -q 'packed:' && ! '$CKCONV' convert '$ROOT/tests/golden/llama/hf' -o '$T/np2.mdl' --no-progress 2>&1 | grep -q 'packed:'"
check "--quiet prints nothing on success" sh -c "[ -z \"\$('$CKCONV' convert '$ROOT/tests/golden/llama/hf' -o '$T/q.mdl' --quiet 2>&1)\" ]"

# --dtype: floating tensors cast while streaming, round to nearest even; checked with numpy
check "--dtype bf16 converts" "$CKCONV" convert "$ROOT/tests/golden/gpt2/hf" -o "$T/bf.mdl" --dtype bf16 -q
check "every tensor is the reference's f32 rounded to bf16 (RNE, computed by numpy)" $PY - "$T/bf.mdl" "$ROOT/tests/golden/gpt2/cs/model.safetensors" <<'PY'
import h5py, json, struct, sys, numpy as np
d = open(sys.argv[2], "rb").read(); n = struct.unpack("<Q", d[:8])[0]; h = json.loads(d[8:8 + n]); b = d[8 + n:]
with h5py.File(sys.argv[1], "r") as f:
    for k, v in h.items():
        ref = np.frombuffer(b[v["data_offsets"][0]:v["data_offsets"][1]], "<f4")
        u = ref.view("<u4").astype(np.uint64)
        want = ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype("<u2")
        meta = json.loads(f.attrs[k + ".__metadata__"])[k + ".__metadata__"]
        assert meta["dtypes"] == ["torch.bfloat16"], (k, meta["dtypes"])
        assert np.array_equal(f[k][()].reshape(-1).view("<u2"), want), k
PY
check "--dtype f16 back to HF sets torch_dtype and keeps u8 buffers uncast" sh -c "'$CKCONV' convert '$T/bf.mdl' -o '$T/bf16hf' --dtype f16 -q && grep -q '\"torch_dtype\": \"float16\"' '$T/bf16hf/config.json' && '$CKCONV' inspect '$T/bf16hf' | grep -q 'attn.bias  *u8'"
