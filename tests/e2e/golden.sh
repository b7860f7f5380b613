#!/usr/bin/env bash
# Every golden case (tests/golden/<case>/): HF -> CS must equal the reference packed checkpoint
# and params, CS -> HF from our own output must equal hf_back, and the round trip is lossless.
. "$(dirname "$0")/lib.inc"
for dir in "$ROOT"/tests/golden/*/; do
	c=$(basename "$dir")
	[ -f "$dir/case.json" ] && [ -d "$dir/hf" ] || continue
	model=$($PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["model"])' "$dir/case.json")
	fmt=$($PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["tgt_fmt"])' "$dir/case.json")
	out="$T/$c"
	mkdir -p "$out"
	check "$c: hf -> $fmt converts" "$CKCONV" convert "$dir/hf" --model "$model" --src-fmt hf --tgt-fmt "$fmt" -o "$out/cs.mdl" -q
	check "$c: packed tensors equal the reference (key set, dtype, shape, bytes)" $CHECK mdl-vs-st "$out/cs.mdl" "$dir/cs/model.safetensors"
	check "$c: params parse to the reference mapping" $CHECK yaml-eq "$out/cs.yaml" "$dir/cs/params.yaml"
	check "$c: $fmt -> hf converts" "$CKCONV" convert "$out/cs.mdl" --config "$out/cs.yaml" --model "$model" --src-fmt "$fmt" --tgt-fmt hf -o "$out/hf" -q
	check "$c: hf tensors equal hf_back" $CHECK st-vs-st "$out/hf" "$dir/hf_back"
	check "$c: config.json holds every hf_back key and value" $CHECK json-superset "$out/hf/config.json" "$dir/hf_back/config.json"
	check "$c: round trip is lossless for shared tensors" $CHECK st-vs-st "$out/hf" "$dir/hf" --common
	check "$c: model detected without --model (hf)" "$CKCONV" convert "$dir/hf" -o "$out/auto.mdl" -q
	check "$c: model detected without --model (cs)" "$CKCONV" convert "$out/auto.mdl" -o "$out/auto_hf" -q
	check "$c: ckconv diff agrees (match)" "$CKCONV" diff "$out/cs.mdl" "$dir/cs/model.safetensors"
done
echo "$n tests"
