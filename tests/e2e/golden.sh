#!/usr/bin/env bash
# Every golden case (tests/golden/<case>/): HF -> CS must equal the reference packed checkpoint
# and params, CS -> HF from our own output must equal hf_back, and the round trip is lossless.
# Multi-component cases (case.json "components") compare each component directory. hf_bin/
# (PyTorch .bin files, sharded for llava) must convert to the same packed file.
. "$(dirname "$0")/lib.inc"
# case.json fields beyond the formats (shared/reference/README.md):
#   random_cs_keys   tensors the reference initialises at random: dtype and shape compared only;
#   params_skip / hf_config_skip   the reference's config output is wrong (a bug not to copy): the
#                    expectation is tests/golden-fixed/<case>/params.yaml or .../<component>/config.json,
#                    written by hand with the reason in tests/golden-fixed/README.md;
#   hf_config_override   values where the reference's hf_back config is wrong, replaced before comparing.
# GOLDEN_CASES="a b" runs only those cases (while working on a family).
field() { $PY -c 'import json,sys; v=json.load(open(sys.argv[1])).get(sys.argv[2], ""); print((",".join(v) if sys.argv[2] == "random_cs_keys" else " ".join(v)) if isinstance(v, list) else json.dumps(v) if isinstance(v, dict) else v)' "$1" "$2"; }
FIXED="$ROOT/tests/golden-fixed"
# diff_random A B KEYS: `ckconv diff` says differ, and every difference it names is "values
# differ" of one of the comma-separated KEYS (random by design: compared by dtype and shape)
diff_random() {
	local out line
	out=$("$CKCONV" diff "$1" "$2" 2>&1) && { echo "expected the random keys to differ"; return 1; }
	while IFS= read -r line; do
		[ "$line" = differ ] && continue
		case ",$3," in *",${line%%: values differ*},"*) [[ $line == *": values differ"* ]] && continue ;; esac
		echo "unexpected difference: $line"; return 1
	done <<<"$out"
}
for dir in "$ROOT"/tests/golden/*/; do
	c=$(basename "$dir")
	[ -f "$dir/case.json" ] && [ -d "$dir/hf" ] || continue
	if [ -n "${GOLDEN_CASES:-}" ]; then case " $GOLDEN_CASES " in *" $c "*) ;; *) continue ;; esac; fi
	random=$(field "$dir/case.json" random_cs_keys)
	override=$(field "$dir/case.json" hf_config_override); override=${override:-"{}"}
	params_ref="$dir/cs/params.yaml"
	[ -n "$(field "$dir/case.json" params_skip)" ] && params_ref="$FIXED/$c/params.yaml"
	hfcfg_ref="$dir/hf_back"
	[ -n "$(field "$dir/case.json" hf_config_skip)" ] && hfcfg_ref="$FIXED/$c/hf_back"
	model=$(field "$dir/case.json" model)
	fmt=$(field "$dir/case.json" tgt_fmt)
	comps=$(field "$dir/case.json" components)
	out="$T/$c"
	mkdir -p "$out"
	check "$c: hf -> $fmt converts" "$CKCONV" convert "$dir/hf" --model "$model" --src-fmt hf --tgt-fmt "$fmt" -o "$out/cs.mdl" -q
	check "$c: packed tensors equal the reference (key set, dtype, shape, bytes)" $CHECK mdl-vs-st "$out/cs.mdl" "$dir/cs/model.safetensors" --random "$random"
	check "$c: params parse to the reference mapping" $CHECK yaml-eq "$out/cs.yaml" "$params_ref"
	check "$c: $fmt -> hf converts" "$CKCONV" convert "$out/cs.mdl" --config "$out/cs.yaml" --model "$model" --src-fmt "$fmt" --tgt-fmt hf -o "$out/hf" -q
	for sub in ${comps:-.}; do
		s=${sub#.}; s=${s:+$s: }
		check "$c: ${s}hf tensors equal hf_back" $CHECK st-vs-st "$out/hf/$sub" "$dir/hf_back/$sub"
		check "$c: ${s}config.json holds every hf_back key and value" $CHECK json-superset "$out/hf/$sub/config.json" "$hfcfg_ref/$sub/config.json" --override "$override"
		# (where the reference's own round trip is: Gemma 2's norms come back as (w + 1) - 1)
		check "$c: ${s}round trip is lossless for shared tensors" $CHECK st-vs-st "$out/hf/$sub" "$dir/hf/$sub" --common --lossy "$dir/hf_back/$sub"
	done
	check "$c: model detected without --model (hf)" "$CKCONV" convert "$dir/hf" -o "$out/auto.mdl" -q
	check "$c: model detected without --model (cs)" "$CKCONV" convert "$out/auto.mdl" -o "$out/auto_hf" -q
	if [ -z "$random" ]; then
		check "$c: ckconv diff agrees (match)" "$CKCONV" diff "$out/cs.mdl" "$dir/cs/model.safetensors"
	else
		check "$c: ckconv diff agrees (only the random keys' values differ)" diff_random "$out/cs.mdl" "$dir/cs/model.safetensors" "$random"
	fi
	[ -d "$dir/hf_bin" ] || continue
	for sub in ${comps:-.}; do
		s=${sub#.}; s=${s:+$s: }
		check "$c: ${s}hf_bin holds the tensors of hf (read by Python's pickle)" $CHECK bin-vs-st "$dir/hf_bin/$sub" "$dir/hf/$sub"
		check "$c: ${s}ckconv reads hf_bin as hf (diff: match)" "$CKCONV" diff "$dir/hf_bin/$sub" "$dir/hf/$sub"
	done
	check "$c: hf_bin -> $fmt converts" "$CKCONV" convert "$dir/hf_bin" --model "$model" --tgt-fmt "$fmt" -o "$out/bin.mdl" -q
	check "$c: packed tensors from hf_bin equal the reference" $CHECK mdl-vs-st "$out/bin.mdl" "$dir/cs/model.safetensors" --random "$random"
	check "$c: params from hf_bin parse to the reference mapping" $CHECK yaml-eq "$out/bin.yaml" "$params_ref"
done
