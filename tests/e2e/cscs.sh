#!/usr/bin/env bash
# CS <-> CS across releases (issue 16) against the reference vectors in tests/golden/cscs/ (README
# there): each case's in/ packed as cstorch saves a training checkpoint (tools/cscs_case.py pack:
# optimizer keyed by int, schedulers, global_step, __metadata__, repeated None/bool/small ints as
# LinkedObjects), converted, and read back the way cstorch.load reads it: every leaf, key order, int
# keys and tuples as the reference's out/ (tensors bit for bit), params equal as YAML mappings.
# Cases the reference refuses are converted by chaining and compared with the chain of the
# reference's single steps (tools/cscs_case.py chain).
. "$(dirname "$0")/lib.inc"
G=$ROOT/tests/golden/cscs
CASE="$PY $ROOT/tools/cscs_case.py"
packs=(); checks=()
for dir in "$G"/*/; do
	c=$(basename "$dir"); mkdir -p "$T/$c"; packs+=("$dir/in" "$T/$c/in.mdl")
done
$CASE pack "${packs[@]}"
for dir in "$G"/*/; do
	c=$(basename "$dir")
	read -r model src tgt < <($PY -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["model"], d["src_fmt"], d["tgt_fmt"])' "$dir/case.json")
	check "$c: converts" "$CKCONV" convert "$T/$c/in.mdl" --config "$dir/in/params.yaml" --model "$model" \
		--src-fmt "$src" --tgt-fmt "$tgt" -o "$T/$c/out.mdl" -q
	if [ -d "$dir/out" ]; then
		checks+=(check "$T/$c/out.mdl" "$T/$c/out.yaml" "$dir/out" "$c: equals the reference (every leaf, params)")
	else
		checks+=(chain "$T/$c/out.mdl" "$T/$c/out.yaml" "$dir" "$c: refused by the reference: equals the chain of its single steps")
	fi
done
$CASE checks "${checks[@]}"

out=$("$CKCONV" convert "$T/llama-2.2-to-2.3/in.mdl" --config "$G/llama-2.2-to-2.3/in/params.yaml" --model llama \
	--src-fmt cs-2.2 --tgt-fmt cs-2.3 -o "$T/note.mdl" 2>&1)
check "cs-2.2 -> cs-2.3 names the params the trainer layout has no place for (the reference's warning)" \
	grep -qF '["runconfig.load_checkpoint_states.0", "runconfig.load_checkpoint_states.1"] have no place in the new layout' <<<"$out"

# cs-auto reads the source release from the last __metadata__ record; cs-current is the newest
c=llama-2.3-to-2.4
check "cs-auto takes the release from __metadata__" "$CKCONV" convert "$T/$c/in.mdl" --config "$G/$c/in/params.yaml" \
	--model llama --src-fmt cs-auto --tgt-fmt cs-2.4 -o "$T/auto.mdl" -q
check "... the same checkpoint as --src-fmt cs-2.3" $CASE check "$T/auto.mdl" "$T/auto.yaml" "$G/$c/out"
check "cs-current is cs-2.9 (one record per release step)" "$CKCONV" convert "$T/$c/in.mdl" --config "$G/$c/in/params.yaml" \
	--model llama --src-fmt cs-auto --tgt-fmt cs-current -o "$T/cur.mdl" -q
check "... equals the chain of the reference's steps" $CASE chain "$T/cur.mdl" "$T/cur.yaml" "$G/llama-2.3-to-2.9-refused"
check "a chain back down: cs-2.9 -> cs-2.0 converts" "$CKCONV" convert "$T/cur.mdl" --config "$T/cur.yaml" \
	--model llama --src-fmt cs-auto --tgt-fmt cs-2.0 -o "$T/down.mdl" -q
out=$("$CKCONV" convert "$T/gpt2-2.0-to-2.1/in.mdl" --config "$G/gpt2-2.0-to-2.1/in/params.yaml" --model gpt2 \
	--src-fmt cs-2.0 --tgt-fmt cs-2.2 -o "$T/dry.mdl" --dry-run 2>&1)
check "--dry-run lists the steps, key renames and params changes" grep -q "step cs-2.0 -> cs-2.1" <<<"$out"
check "... the renamed key" grep -qF "embedding_layer.position_embeddings.weight -> embedding_layer.position_embeddings.embed.weight" <<<"$out"
check "... a params change" grep -qF "params - model.use_bfloat16" <<<"$out"
check "... the generic step" grep -qF "step cs-2.1 -> cs-2.2 (generic)" <<<"$out"
check "... and writes nothing" test ! -e "$T/dry.mdl"

in=$T/llama-1.9-to-2.0/in.mdl; cfg=$G/llama-1.9-to-2.0/in/params.yaml
expect_fail "no --model: refused" "CS -> CS needs --model" "$T/e1.mdl" \
	"$CKCONV" convert "$in" --config "$cfg" --src-fmt cs-1.9 --tgt-fmt cs-2.0 -o "$T/e1.mdl"
expect_fail "an unknown release: refused naming the releases" "the releases are cs-1.6 ... cs-2.9" "$T/e2.mdl" \
	"$CKCONV" convert "$in" --config "$cfg" --model llama --src-fmt cs-1.9 --tgt-fmt cs-3.1 -o "$T/e2.mdl"
expect_fail "a release older than the model: refused" "model llama has no checkpoints before cs-1.9" "$T/e3.mdl" \
	"$CKCONV" convert "$in" --config "$cfg" --model llama --src-fmt cs-1.9 --tgt-fmt cs-1.8 -o "$T/e3.mdl"
expect_fail "cs-auto without __metadata__: refused" "has no __metadata__ record" "$T/e4.mdl" \
	"$CKCONV" convert "$in" --config "$cfg" --model llama --src-fmt cs-auto --tgt-fmt cs-2.0 -o "$T/e4.mdl"
expect_fail "an existing output without --force: refused" "exists" "$T/nothere" \
	"$CKCONV" convert "$in" --config "$cfg" --model llama --src-fmt cs-1.9 --tgt-fmt cs-2.0 -o "$T/llama-1.9-to-2.0/out.mdl"
expect_fail "a step without rules yet is refused naming it" "t5 cs-1.8 -> cs-1.6: the cs-1.6 T5 layout" "$T/e5.mdl" \
	"$CKCONV" convert "$T/t5-1.8-to-1.9/in.mdl" --config "$G/t5-1.8-to-1.9/in/params.yaml" --model t5 --src-fmt cs-1.8 --tgt-fmt cs-1.6 -o "$T/e5.mdl"

# every release pair the reference offers per model (support.json): offered by ckconv in one step,
# from the family's file where the reference has a model converter for it, the generic step where
# it falls back; only cs-1.6 (BERT, T5: no rules yet) is refused, by name
"$CKCONV" list --releases >"$T/releases.txt"
check "list --releases covers support.json (single steps as the reference's converters)" \
	$CASE support "$G/support.json" "$T/releases.txt" "$ROOT/rules/cscs/releases.yaml"
check "... and chains what the reference refuses (llama cs-1.9 -> cs-2.9 in 10 steps)" \
	grep -qF "llama cs-1.9 -> cs-2.9: cs-1.9 -> cs-2.0 (llama.yaml), cs-2.0 -> cs-2.1 (llama.yaml), cs-2.1 -> cs-2.2, cs-2.2 -> cs-2.3, cs-2.3 -> cs-2.4, cs-2.4 -> cs-2.5, cs-2.5 -> cs-2.6, cs-2.6 -> cs-2.7, cs-2.7 -> cs-2.8, cs-2.8 -> cs-2.9" "$T/releases.txt"
