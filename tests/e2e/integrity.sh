#!/usr/bin/env bash
# Integrity: every tensor ckconv packs carries an xxHash64; verify rechecks them and names a
# damaged tensor; CS -> HF refuses damaged data; verify --against proves a conversion lossless.
. "$(dirname "$0")/lib.inc"
G="$ROOT/tests/golden"
"$CKCONV" convert "$G/gpt2/hf" -o "$T/g.mdl" -q
check "verify passes on a fresh packed file" sh -c "'$CKCONV' verify '$T/g.mdl' | grep -q 'every stored checksum matches'"
check "verify --against proves the conversion lossless" sh -c "'$CKCONV' verify --against '$G/gpt2/hf' '$T/g.mdl' | grep -q '^lossless: all 29 tensors'"
for key in model.lm_head.weight model.transformer_decoder.layers.1.norm1.bias model.embedding_layer.position_embeddings.embed.weight; do
	cp "$T/g.mdl" "$T/bad.mdl"
	$PY - "$T/bad.mdl" "$key" <<'PY'
import h5py, sys, random
with h5py.File(sys.argv[1], "r") as f:
    ds = f[sys.argv[2]]; off, size = ds.id.get_offset(), ds.id.get_storage_size()
random.seed(sys.argv[2]); pos = off + random.randrange(size)
with open(sys.argv[1], "r+b") as f:
    f.seek(pos); b = f.read(1); f.seek(pos); f.write(bytes([b[0] ^ (1 << random.randrange(8))]))
PY
	out=$("$CKCONV" verify "$T/bad.mdl" 2>&1); rc=$?
	check "verify catches one flipped bit in $key" sh -c "[ $rc -ne 0 ] && grep -q '^$key: damaged: .*checksum mismatch' <<'X'
$out
X"
	check "... and names only that tensor" test "$(grep -c ': damaged' <<<"$out")" -eq 1
done
out=$("$CKCONV" convert "$T/bad.mdl" --config "$T/g.yaml" -o "$T/bad-hf" 2>&1); rc=$?
check "CS -> HF refuses a damaged tensor" sh -c "[ $rc -eq 1 ] && [ ! -e '$T/bad-hf' ] && grep -q 'checksum mismatch' <<'X'
$out
X"
"$CKCONV" convert "$G/llama/hf" -o "$T/l.mdl" -q
out=$("$CKCONV" verify --against "$G/gpt2/hf" "$T/l.mdl" --config "$T/l.yaml" 2>&1); rc=$?
check "verify --against a different checkpoint fails" sh -c "[ $rc -ne 0 ] && grep -q 'do not convert back to the reference' <<'X'
$out
X"
check "a packed file cstorch wrote (no checksums) reads back, reported unverified" sh -c "'$CKCONV' verify '$G/h5ck/llama_cstorch_lz4.mdl' | grep -q 'none carries a checksum'"
