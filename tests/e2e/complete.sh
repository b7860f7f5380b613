#!/usr/bin/env bash
# Never half a model (issue 11 item 8): one shard given as the source, a shard set missing a member,
# a checkpoint short of a layer or of a tensor its other layers have - each is an error naming what
# is missing, both ways; the whole checkpoint still converts.
. "$(dirname "$0")/lib.inc"
"$PY" "$ROOT/tools/make_complete_cases.py" "$T/in"
ck() { "$CKCONV" convert "$@" --quiet; }

check "the whole model converts" ck "$T/in/full" --model llama -o "$T/full.mdl"
check "the whole shard set converts (directory)" ck "$T/in/sharded" --model llama -o "$T/sh.mdl"
check "... to the same tensors" $CHECK mdl-vs-mdl "$T/full.mdl" "$T/sh.mdl"
expect_fail "one shard given as the source is refused, naming the set and the index" \
	'shard 1 of 2 of a sharded checkpoint: converting it alone would give part of a model; give the directory holding all 2 shards or its index (model.safetensors.index.json)' \
	"$T/one.mdl" "$CKCONV" convert "$T/in/sharded/model-00001-of-00002.safetensors" --model llama -o "$T/one.mdl"
expect_fail "... the last shard too" 'shard 2 of 2' "$T/two.mdl" \
	"$CKCONV" convert "$T/in/sharded/model-00002-of-00002.safetensors" --model llama -o "$T/two.mdl"
mkdir -p "$T/bin" && cp "$T/in/sharded/config.json" "$T/bin/" && echo not-read >"$T/bin/pytorch_model-00001-of-00003.bin"
expect_fail "a .bin shard alone names the .bin index (before reading it)" '(pytorch_model.bin.index.json)' "$T/bin.mdl" \
	"$CKCONV" convert "$T/bin/pytorch_model-00001-of-00003.bin" --model llama -o "$T/bin.mdl"
mkdir -p "$T/miss" && cp "$T/in/sharded/config.json" "$T/in/sharded/model.safetensors.index.json" \
	"$T/in/sharded/model-00001-of-00002.safetensors" "$T/miss/"
expect_fail "a shard set missing a member is refused, naming it" "shard 'model-00002-of-00002.safetensors' not found" \
	"$T/miss.mdl" "$CKCONV" convert "$T/miss" --model llama -o "$T/miss.mdl"
mkdir -p "$T/orphan" && cp "$T/in/sharded/config.json" "$T/in/sharded/model-00002-of-00002.safetensors" "$T/orphan/"
expect_fail "a directory holding a shard but not its index says so" \
	"holds model-00002-of-00002.safetensors, one shard of a set, but not the set's index" \
	"$T/orphan.mdl" "$CKCONV" convert "$T/orphan" --model llama -o "$T/orphan.mdl"
expect_fail "a checkpoint without layer 1 of 2 is refused" \
	'layer 1 is missing: no tensor of it, but the config implies 2 layers (hf.num_hidden_layers' \
	"$T/nl.mdl" "$CKCONV" convert "$T/in/no-layer-1" --model llama -o "$T/nl.mdl"
expect_fail "a checkpoint short of one tensor of layer 1 is refused, naming the key" \
	"'model.layers.1.mlp.up_proj.weight' is missing: the other layers have it (2 layers" \
	"$T/nu.mdl" "$CKCONV" convert "$T/in/no-up-1" --model llama -o "$T/nu.mdl"

# CS -> HF: the packed file as cstorch saves it, with layer 1 or one of its tensors removed
"$PY" - "$ROOT/tools" "$T/full.mdl" "$T" <<'PYEOF'
import os, sys
sys.path.insert(0, sys.argv[1])
import h5py
import make_cstorch_h5 as mc
src, out = sys.argv[2], sys.argv[3]
tensors = mc.read_packed(src)
for name, keep in (("cs-full.mdl", lambda k: True),
                   ("cs-no-layer-1.mdl", lambda k: ".layers.1." not in k),
                   ("cs-no-ffn-1.mdl", lambda k: k != "model.transformer_decoder.layers.1.ffn.ffn.1.linear_layer.weight")):
    with h5py.File(os.path.join(out, name), "w") as f:
        mc.write_v05([t for t in tensors if keep(t[0])], f)
PYEOF
check "the whole packed checkpoint converts back" ck "$T/cs-full.mdl" --config "$T/full.yaml" --tgt-fmt hf -o "$T/back"
check "... bit for bit" $CHECK st-vs-st "$T/back/model.safetensors" "$T/in/full/model.safetensors"
expect_fail "a packed checkpoint without layer 1 of 2 is refused" 'layer 1 is missing: no tensor of it, but the config implies 2 layers' \
	"$T/back-nl" "$CKCONV" convert "$T/cs-no-layer-1.mdl" --config "$T/full.yaml" --tgt-fmt hf -o "$T/back-nl"
expect_fail "a packed checkpoint short of one tensor is refused, naming the key" \
	"'transformer_decoder.layers.1.ffn.ffn.1.linear_layer.weight' is missing: the other layers have it" \
	"$T/back-nf" "$CKCONV" convert "$T/cs-no-ffn-1.mdl" --config "$T/full.yaml" --tgt-fmt hf -o "$T/back-nf"
