#!/usr/bin/env bash
# CS <-> CS across releases (issue 16) against the reference vectors in tests/golden/cscs/ (README
# there): each case's in/ packed as cstorch saves a training checkpoint (tools/cscs_case.py pack:
# optimizer keyed by int, schedulers, global_step, __metadata__, repeated None/bool/small ints as
# LinkedObjects), converted, and read back the way cstorch.load reads it: every leaf, key order, int
# keys and tuples as the reference's out/ (tensors bit for bit), params equal as YAML mappings.
# Cases the reference refuses are converted by chaining and compared with the chain of the
# reference's single steps (tools/cscs_case.py chain). The cs-1.6 steps have their own vectors,
# made by the reference's converter classes (tests/golden/cscs-ref/, README there).
. "$(dirname "$0")/lib.inc"
G=$ROOT/tests/golden/cscs
G16=$ROOT/tests/golden/cscs-ref
CASE="$PY $ROOT/tools/cscs_case.py"
packs=(); checks=()
for dir in "$G"/*/ "$G16"/*/; do
	c=$(basename "$dir"); mkdir -p "$T/$c"; packs+=("$dir/in" "$T/$c/in.mdl")
done
$CASE pack "${packs[@]}"
for dir in "$G"/*/ "$G16"/*/; do
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
says() { check "$1" grep -qF "$2" <<<"$out"; }   # NAME TEXT: the last output ($out) has TEXT
# dry MDL PARAMS MODEL SRC TGT OUT: the plan of that CS -> CS run (stdout and stderr) into $out
dry() { out=$("$CKCONV" convert "$1" --config "$2" --model "$3" --src-fmt "$4" --tgt-fmt "$5" -o "$6" --dry-run 2>&1); }
dry "$T/gpt2-2.0-to-2.1/in.mdl" "$G/gpt2-2.0-to-2.1/in/params.yaml" gpt2 cs-2.0 cs-2.2 "$T/dry.mdl"
says "--dry-run lists the steps, key renames and params changes" "step cs-2.0 -> cs-2.1"
says "... the renamed key" "embedding_layer.position_embeddings.weight -> embedding_layer.position_embeddings.embed.weight"
says "... a params change" "params - model.use_bfloat16"
says "... the generic step" "step cs-2.1 -> cs-2.2 (generic)"
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
expect_fail "a step without rules yet is refused naming it" "t5 cs-1.8 -> cs-1.6: writing the cs-1.6 T5 layout" "$T/e5.mdl" \
	"$CKCONV" convert "$T/t5-1.8-to-1.9/in.mdl" --config "$G/t5-1.8-to-1.9/in/params.yaml" --model t5 --src-fmt cs-1.8 --tgt-fmt cs-1.6 -o "$T/e5.mdl"
mkdir -p "$T/cc5" && cp "$G/t5-1.8-to-1.9/in/params.yaml" "$T/cc5/"
# convert-config refuses as convert does: params for a checkpoint no command writes describe nothing
expect_fail "... the params alone too (convert-config)" "t5 cs-1.8 -> cs-1.6: writing the cs-1.6 T5 layout" "$T/cc5/params_to_cs-1.6.yaml" \
	sh -c "cd '$T/cc5' && exec '$CKCONV' convert-config params.yaml --model t5 --src-fmt cs-1.8 --tgt-fmt cs-1.6"
dry "$T/bert-1.7-to-1.6/in.mdl" "$G16/bert-1.7-to-1.6/in/params.yaml" bert cs-1.7 cs-1.6 "$T/b16d.mdl"
says "BERT down to cs-1.6 makes HF's position_ids buffer" "bert.embeddings.position_ids added (arange)"
says "... and the MLM bias's second copy" "cls.predictions.bias added (a copy)"
# the cs-1.6 steps know every key of the layout, as the reference (which refuses the others)
expect_fail "a cs-1.6 key no rule knows: refused naming it" "model key 'encoder_token_embedding.weight' matches no key rule of the step" "$T/e7.mdl" \
	"$CKCONV" convert "$T/t5-1.6-to-1.7/in.mdl" --config "$G16/t5-1.6-to-1.7/in/params.yaml" --model bert --src-fmt cs-1.6 --tgt-fmt cs-1.7 -o "$T/e7.mdl"
# past what the reference offers from cs-1.6: chained (cs-1.6 -> cs-1.7, then the later steps)
dry "$T/bert-1.6-to-1.7/in.mdl" "$G16/bert-1.6-to-1.7/in/params.yaml" bert cs-1.6 cs-2.2 "$T/b16.mdl"
says "bert cs-1.6 -> cs-2.2 chains: the cs-1.6 step first" "step cs-1.6 -> cs-1.7 ("
says "... the HF-like names renamed, the old .gamma too" "bert.embeddings.LayerNorm.gamma -> bert_encoder.embed_ln_f.weight"
says "... HF's buffers dropped" "bert.embeddings.position_ids dropped"
says "... then cs-2.0 -> cs-2.1's position-embedding rename" "bert_encoder.embedding_layer.position_embeddings.weight -> bert_encoder.embedding_layer.position_embeddings.embed.weight"
check "bert cs-1.6 -> cs-2.2 converts" "$CKCONV" convert "$T/bert-1.6-to-1.7/in.mdl" --config "$G16/bert-1.6-to-1.7/in/params.yaml" \
	--model bert --src-fmt cs-1.6 --tgt-fmt cs-2.2 -o "$T/b16.mdl" -q
check "... and its output reads as cs-2.2 (cs-auto: one __metadata__ record per step after cs-1.7)" "$CKCONV" convert "$T/b16.mdl" \
	--config "$T/b16.yaml" --model bert --src-fmt cs-auto --tgt-fmt cs-2.3 -o "$T/b16b.mdl" -q

# a tensor that a step ties to another (or that was tied in the source) is written as cstorch.save
# writes an object it saved before: a LinkedObject to the first key, its data stored once
check "a filled tied twin is a LinkedObject to the first key (cstorch's aliasing), not a second dataset" $PY -c '
import json, sys, h5py
f = h5py.File(sys.argv[1], "r")
m = json.loads(f.attrs["model.lm_head.weight.__metadata__"])["model.lm_head.weight.__metadata__"]
assert m == {"key": "model.embedding_layer.word_embeddings.weight", "__LINKED__": True, "__TYPE__": "LinkedObject", "__NONE__": True}, m
assert "model.lm_head.weight" not in f and "model.embedding_layer.word_embeddings.weight" in f
' "$T/gpt2-tiednone-1.9-to-2.0/out.mdl"
"$CKCONV" convert "$T/gpt2-tiednone-1.9-to-2.0/out.mdl" --config "$T/gpt2-tiednone-1.9-to-2.0/out.yaml" --model gpt2 \
	--src-fmt cs-2.0 --tgt-fmt cs-2.1 -o "$T/tied21.mdl" -q
check "... and a tie read from the source stays one (the next step)" $PY -c '
import json, sys, h5py
f = h5py.File(sys.argv[1], "r")
m = json.loads(f.attrs["model.lm_head.weight.__metadata__"])["model.lm_head.weight.__metadata__"]
assert m["__LINKED__"] and m["key"] == "model.embedding_layer.word_embeddings.weight", m
assert "model.lm_head.weight" not in f
' "$T/tied21.mdl"

# the rarer cs-2.1 sparsity schemas (list and mapping patterns, sparsity_schedule, gmp/set/rigl,
# static levels): the params as the reference's cs-2.1 -> cs-2.2 rewrite gives them
# (tests/golden/cscs-ref/sparsity-2.1-to-2.2.json), the rest as the shared sparsity vector's
c=gpt2-sparsity-2.1-to-2.2; si=0
while read -r sp; do
	si=$((si + 1))
	$PY -c 'import json, sys, yaml; p = yaml.safe_load(open(sys.argv[1])); p["sparsity"] = json.loads(sys.argv[2]); yaml.safe_dump(p, open(sys.argv[3], "w"), sort_keys=False)' \
		"$G/$c/in/params.yaml" "$sp" "$T/sp$si-in.yaml"
	check "sparsity schema $si: converts" "$CKCONV" convert "$T/$c/in.mdl" --config "$T/sp$si-in.yaml" --model gpt2 \
		--src-fmt cs-2.1 --tgt-fmt cs-2.2 -o "$T/sp$si.mdl" -q
	check "... its params are the reference's: $sp" $PY -c '
import json, sys, yaml
got, want = yaml.safe_load(open(sys.argv[1])), yaml.safe_load(open(sys.argv[2]))
want["sparsity"] = json.loads(sys.argv[3])
assert got == want, (got.get("sparsity"), want["sparsity"])
' "$T/sp$si.yaml" "$G/$c/out/params.yaml" "$($PY -c 'import json, sys; print(json.dumps(json.load(open(sys.argv[1]))[int(sys.argv[2])]["out"]))' "$G16/sparsity-2.1-to-2.2.json" $((si - 1)))"
done < <($PY -c 'import json, sys; [print(json.dumps(c["in"])) for c in json.load(open(sys.argv[1]))]' "$G16/sparsity-2.1-to-2.2.json")

# R1.9 data-loader state files named by cerebras.save_iter_state_path become the `dataloader` entry
# (after `model`, as the reference's convert_dataloader_checkpoint adds it); the reference's output
# otherwise unchanged (`cerebras` is dropped from the params either way)
c=gpt2-1.9-to-2.0; it=$T/iter; mkdir -p "$it" "$T/dl-exp"
printf '300\n' >"$it/data_iter_checkpoint_state_file_global"
printf '40\n' >"$it/data_iter_state_file_worker_1_step_300.txt"
printf '25\n' >"$it/data_iter_state_file_worker_0_step_300.txt"
printf '7\n' >"$it/data_iter_state_file_worker_0_step_200.txt"
$PY - "$G/$c" "$T" "$it" <<'PYEOF'
import json, os, sys, yaml
g, t, it = sys.argv[1:]
p = yaml.safe_load(open(os.path.join(g, "in/params.yaml")))
p["cerebras"] = {"save_iter_state_path": it}
for kind, proc, dl in (("map", "GptHDF5MapDataProcessor", {"samples_streamed": 65, "seed": 0}),
                       ("iterable", "GptHDF5DataProcessor", {"all_worker_states": [{"samples_streamed": 25, "shard_index": 0},
                                                                                  {"samples_streamed": 40, "shard_index": 1}]})):
    q = dict(p, train_input=dict(p["train_input"], data_processor=proc))
    yaml.safe_dump(q, open(os.path.join(t, f"dlp-{kind}.yaml"), "w"))
    d = os.path.join(t, f"dl-exp/{kind}")
    os.makedirs(d)
    tree = json.load(open(os.path.join(g, "out/tree.json")))
    md = tree.pop("__metadata__")
    tree["dataloader"], tree["__metadata__"] = dl, md
    if kind == "iterable":
        md[-1]["params"]["train_input"]["data_processor"] = proc
    json.dump(tree, open(os.path.join(d, "tree.json"), "w"))
    os.symlink(os.path.join(g, "out/model.safetensors"), os.path.join(d, "model.safetensors"))
    o = yaml.safe_load(open(os.path.join(g, "out/params.yaml")))
    o["train_input"]["data_processor"] = proc
    yaml.safe_dump(o, open(os.path.join(d, "params.yaml"), "w"))
PYEOF
for kind in map iterable; do
	check "dataloader from save_iter_state_path ($kind loader): converts" "$CKCONV" convert "$T/$c/in.mdl" --config "$T/dlp-$kind.yaml" \
		--model gpt2 --src-fmt cs-1.9 --tgt-fmt cs-2.0 -o "$T/dl-$kind.mdl" -q
	check "... the reference's output with the loader's state (the workers' files at the data step)" \
		$CASE check "$T/dl-$kind.mdl" "$T/dl-$kind.yaml" "$T/dl-exp/$kind"
done
$PY -c 'import sys, yaml; p = yaml.safe_load(open(sys.argv[1])); p["train_input"]["data_processor"] = "GptHDF5OtherProcessor"; yaml.safe_dump(p, open(sys.argv[2], "w"))' \
	"$T/dlp-map.yaml" "$T/dlp-bad.yaml"
expect_fail "... another data processor: refused naming it" "requires train_input.data_processor to be GptHDF5DataProcessor or GptHDF5MapDataProcessor, found GptHDF5OtherProcessor" "$T/dl-bad.mdl" \
	"$CKCONV" convert "$T/$c/in.mdl" --config "$T/dlp-bad.yaml" --model gpt2 --src-fmt cs-1.9 --tgt-fmt cs-2.0 -o "$T/dl-bad.mdl"
rm "$it/data_iter_checkpoint_state_file_global"
expect_fail "... no data step file: refused naming it" "expected the file data_iter_checkpoint_state_file_global" "$T/dl-bad.mdl" \
	"$CKCONV" convert "$T/$c/in.mdl" --config "$T/dlp-map.yaml" --model gpt2 --src-fmt cs-1.9 --tgt-fmt cs-2.0 -o "$T/dl-bad.mdl"

# every release pair the reference offers per model (support.json): offered by ckconv in one step,
# from the family's file where the reference has a model converter for it, the generic step where
# it falls back; only the way down to cs-1.6 for T5 (no rules yet) is refused, by name
"$CKCONV" list --releases >"$T/releases.txt"
check "list --releases covers support.json (single steps as the reference's converters)" \
	$CASE support "$G/support.json" "$T/releases.txt" "$ROOT/rules/cscs/releases.yaml"
check "... and chains what the reference refuses (llama cs-1.9 -> cs-2.9 in 10 steps)" \
	grep -qF "llama cs-1.9 -> cs-2.9: cs-1.9 -> cs-2.0 (llama.yaml), cs-2.0 -> cs-2.1 (llama.yaml), cs-2.1 -> cs-2.2, cs-2.2 -> cs-2.3, cs-2.3 -> cs-2.4, cs-2.4 -> cs-2.5, cs-2.5 -> cs-2.6, cs-2.6 -> cs-2.7, cs-2.7 -> cs-2.8, cs-2.8 -> cs-2.9" "$T/releases.txt"
