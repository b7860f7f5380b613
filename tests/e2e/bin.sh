#!/usr/bin/env bash
# PyTorch .bin input (tools/make_bin_cases.py writes the files without PyTorch): strided,
# offset, shared and sharded views read exactly; broken or hostile files refused with one
# clear line, nothing executed, nothing written.
. "$(dirname "$0")/lib.inc"
B="$T/bin"
$PY "$ROOT/tools/make_bin_cases.py" "$B" || { notok "make_bin_cases.py runs"; exit 1; }
check ".bin views (transpose, slices, stride 0, empty, scalar) read as numpy strides them" "$CKCONV" diff "$B/good.bin" "$B/good.safetensors"
check ".bin shards + pytorch_model.bin.index.json read as one checkpoint" "$CKCONV" diff "$B/sharded" "$B/good.safetensors"
check ".bin index file given directly" "$CKCONV" diff "$B/sharded/pytorch_model.bin.index.json" "$B/good.safetensors"
out=$("$CKCONV" inspect "$B/good.bin" 2>&1)
check "inspect lists the .bin tensors with dtype and shape" grep -q "w_t.*f32.*\[6, 4\]" <<<"$out"

rm -f /tmp/ckconv-pwned-1
mk() { mkdir -p "$T/c/$1" && cp "$ROOT/tests/golden/gpt2/hf/config.json" "$T/c/$1/" && cp "$B/$1.bin" "$T/c/$1/pytorch_model.bin"; }
while IFS='|' read -r name want; do
	mk "$name"
	sum=$(sha256sum "$T/c/$name/pytorch_model.bin")
	expect_fail "$name.bin: $want" "$want" "$T/out-$name.mdl" \
		"$CKCONV" convert "$T/c/$name" --model gpt2 --tgt-fmt cs-2.9 -o "$T/out-$name.mdl" -q
	check "$name.bin: input unchanged" test "$(sha256sum "$T/c/$name/pytorch_model.bin")" = "$sum"
done <<'CASES'
global-os-system|archive/data.pkl: refusing global 'os.system'
global-eval-in-dict|refusing global 'builtins.eval'
truncated-pickle|archive/data.pkl: truncated
offset-past-end|tensor view reaches element 9 of storage '0', which has 6
missing-storage|tensor 'w': storage 'archive/data/0' is missing from the zip
short-storage|storage 'archive/data/0' holds 20 bytes, the pickle declares 24 (6 x f32)
compressed|is compressed (method 8); torch.save stores entries uncompressed
big-endian|byte order is 'big'; only little-endian checkpoints are read
complex-storage|unsupported storage type 'torch.ComplexFloatStorage'
no-pickle|zip holds no '<name>/data.pkl'; not a torch.save checkpoint
not-zip|not a zip archive; only the zip format torch.save writes since PyTorch 1.6 is read
truncated-zip|zip archive is truncated or corrupt
CASES
check "the os.system pickle ran nothing" test ! -e /tmp/ckconv-pwned-1

mkdir -p "$T/s" && cp "$B/sharded/"* "$T/s/" && rm "$T/s/pytorch_model-00002-of-00002.bin"
expect_fail "a missing .bin shard is named" "shard 'pytorch_model-00002-of-00002.bin' not found" "$T/s.mdl" \
	"$CKCONV" inspect "$T/s/pytorch_model.bin.index.json"
mkdir -p "$T/empty" && cp "$ROOT/tests/golden/gpt2/hf/config.json" "$T/empty/"
expect_fail "a directory without weights lists what it looked for" "directory holds no weights (model.safetensors, model.safetensors.index.json, pytorch_model.bin or pytorch_model.bin.index.json)" "$T/empty.mdl" \
	"$CKCONV" convert "$T/empty" --model gpt2 -o "$T/empty.mdl"
