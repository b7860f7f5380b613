#!/usr/bin/env bash
# PyTorch .bin input (tools/make_bin_cases.py writes the files without PyTorch): strided,
# offset, shared and sharded views read exactly; a hostile pickle executes nothing.
. "$(dirname "$0")/lib.inc"
B="$T/bin"
$PY "$ROOT/tools/make_bin_cases.py" "$B" || { notok "make_bin_cases.py runs"; exit 1; }
check ".bin views (transpose, slices, stride 0, empty, scalar) read as numpy strides them" "$CKCONV" diff "$B/good.bin" "$B/good.safetensors"
check ".bin shards + pytorch_model.bin.index.json read as one checkpoint" "$CKCONV" diff "$B/sharded" "$B/good.safetensors"
check ".bin index file given directly" "$CKCONV" diff "$B/sharded/pytorch_model.bin.index.json" "$B/good.safetensors"
out=$("$CKCONV" inspect "$B/good.bin" 2>&1)
check "inspect lists the .bin tensors with dtype and shape" grep -q "w_t.*f32.*\[6, 4\]" <<<"$out"

# the broken and hostile .bin files are cases of the bad-input corpus (tests/bad/NN-bin-*);
# here: the one that would run a command, run for real, ran nothing
rm -f /tmp/ckconv-pwned-1
mkdir -p "$T/evil" && cp "$ROOT/tests/golden/gpt2/hf/config.json" "$T/evil/" && cp "$B/global-os-system.bin" "$T/evil/pytorch_model.bin"
expect_fail "a pickle calling os.system is refused" "refusing global 'os.system'" "$T/evil.mdl" \
	"$CKCONV" convert "$T/evil" --model gpt2 -o "$T/evil.mdl"
check "the os.system pickle ran nothing" test ! -e /tmp/ckconv-pwned-1

mkdir -p "$T/s" && cp "$B/sharded/"* "$T/s/" && rm "$T/s/pytorch_model-00002-of-00002.bin"
expect_fail "a missing .bin shard is named" "shard 'pytorch_model-00002-of-00002.bin' not found" "$T/s.mdl" \
	"$CKCONV" inspect "$T/s/pytorch_model.bin.index.json"
mkdir -p "$T/empty" && cp "$ROOT/tests/golden/gpt2/hf/config.json" "$T/empty/"
expect_fail "a directory without weights lists what it looked for" "directory holds no weights (model.safetensors, model.safetensors.index.json, pytorch_model.bin or pytorch_model.bin.index.json)" "$T/empty.mdl" \
	"$CKCONV" convert "$T/empty" --model gpt2 -o "$T/empty.mdl"
