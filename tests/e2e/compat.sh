#!/usr/bin/env bash
# A drop-in for `cszoo checkpoint convert`: the reference's documented command lines run
# unchanged and write files of the reference's names in the reference's places; -o as a
# directory; --output-dir; the reference's flags and its "Checkpoint saved to" lines.
. "$(dirname "$0")/lib.inc"
G="$ROOT/tests/golden"

${CC:-cc} -shared -fPIC -O1 -o "$T/shim.so" "$ROOT/tests/fault/shim.c" -ldl || { notok "build the fault shim"; exit 1; }
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"
# files DIR: the names in DIR, one line
files() { ls -A "$1" | LC_ALL=C sort | tr '\n' ' '; }

# --- HF -> CS, the reference's form: the weights file, --config, --output-dir
mkdir -p "$T/ref"
cp "$G/llama/hf_bin/"* "$T/ref/"
out=$(cd "$T" && umask 022 && "$CKCONV" convert ref/pytorch_model.bin --model llama --src-fmt hf --tgt-fmt cs-2.9 \
	--config ref/config.json --output-dir out --no-progress-bar 2>"$T/err")
check "HF -> CS with --output-dir (created) runs unchanged" test -d "$T/out"
check "... writes pytorch_model_to_cs-2.9.mdl and config_to_cs-2.9.yaml there" test "$(files "$T/out")" = "config_to_cs-2.9.yaml pytorch_model_to_cs-2.9.mdl "
check "... and says so as the reference does, on stdout" test "$out" = "Checkpoint saved to out/pytorch_model_to_cs-2.9.mdl
Config saved to out/config_to_cs-2.9.yaml"
check "... the tensors are the reference's" $CHECK mdl-vs-st "$T/out/pytorch_model_to_cs-2.9.mdl" "$G/llama/cs/model.safetensors"
check "--no-progress-bar: no progress lines" sh -c "! grep -q 'packed' '$T/err'"
check "--output-dir honours the umask (0755 under 022)" test "$(stat -c %a "$T/out")" = 755

# without --output-dir: next to the checkpoint and next to the config
mkdir -p "$T/cfgdir"
cp "$T/ref/config.json" "$T/cfgdir/my_config.json"
(cd "$T" && "$CKCONV" convert ref/pytorch_model.bin --model llama --src-fmt hf --tgt-fmt cs-2.9 --config cfgdir/my_config.json -q)
check "no --output-dir: the checkpoint goes next to the input checkpoint" test -f "$T/ref/pytorch_model_to_cs-2.9.mdl"
check "... the params next to the config, named after it" test -f "$T/cfgdir/my_config_to_cs-2.9.yaml"

# an HF directory (ckconv's short form): the name of its weights file, inside it
cp -r "$G/llama/hf" "$T/hfdir"
(cd "$T" && "$CKCONV" convert hfdir -q)
check "a directory source: <dir>/model_to_cs-2.9.mdl and <dir>/config_to_cs-2.9.yaml" sh -c "test -f '$T/hfdir/model_to_cs-2.9.mdl' && test -f '$T/hfdir/config_to_cs-2.9.yaml'"

# --- CS -> HF, the reference's form
mkdir -p "$T/cs"
cp "$T/out/pytorch_model_to_cs-2.9.mdl" "$T/cs/checkpoint_1.7.mdl"
cp "$T/out/config_to_cs-2.9.yaml" "$T/cs/params.yaml"
out=$(cd "$T" && "$CKCONV" convert cs/checkpoint_1.7.mdl --model llama --src-fmt cs-2.9 --tgt-fmt hf --config cs/params.yaml \
	--hf-shard-size 100KB --export-safetensors 2>/dev/null)
check "CS -> HF: <ckpt dir>/checkpoint_1.7_to_hf/ (only alphabetic extensions are dropped)" test -f "$T/cs/checkpoint_1.7_to_hf/config.json"
check "... says so" test "$out" = "Checkpoint saved to cs/checkpoint_1.7_to_hf
Config saved to cs/checkpoint_1.7_to_hf/config.json"
check "--hf-shard-size shards the output" test -f "$T/cs/checkpoint_1.7_to_hf/model.safetensors.index.json"
check "... which holds hf_back" $CHECK st-vs-st "$T/cs/checkpoint_1.7_to_hf" "$G/llama/hf_back"

# --- multi-component: next to the outer directory, as pytorch_model_to_FMT.mdl
mkdir -p "$T/mc"
cp -r "$G/llava/hf" "$T/mc/llava-hf"
(cd "$T/mc" && "$CKCONV" convert llava-hf --model llava --src-fmt hf --tgt-fmt cs-2.9 --config llava-hf -q)
check "multi-component HF -> CS: pytorch_model_to_cs-2.9.mdl and config_to_cs-2.9.yaml beside the directory" \
	sh -c "test -f '$T/mc/pytorch_model_to_cs-2.9.mdl' && test -f '$T/mc/config_to_cs-2.9.yaml'"

# --- -o as a directory
mkdir -p "$T/dot"
(cd "$T/dot" && "$CKCONV" convert "$G/llama/hf" -o . -q)
check "-o . writes the reference's names in the working directory (no hidden ..mdl)" test "$(files "$T/dot")" = "config_to_cs-2.9.yaml model_to_cs-2.9.mdl "
(cd "$T/dot" && "$CKCONV" convert "$G/llama/hf" -o sub/ -q)
check "-o sub/ creates sub and writes there" test "$(files "$T/dot/sub")" = "config_to_cs-2.9.yaml model_to_cs-2.9.mdl "
(cd "$T/dot" && "$CKCONV" convert sub/model_to_cs-2.9.mdl --config sub/config_to_cs-2.9.yaml -o . -q)
check "CS -> HF -o .: ./model_to_cs-2.9_to_hf/" test -f "$T/dot/model_to_cs-2.9_to_hf/config.json"
mkdir -p "$T/dot/keep"
echo mine >"$T/dot/keep/notes.txt"
(cd "$T/dot" && "$CKCONV" convert sub/model_to_cs-2.9.mdl --config sub/config_to_cs-2.9.yaml -o keep/ -q)
check "CS -> HF -o existing-dir/ (no model in it): writes inside, the user's file untouched" \
	sh -c "test -f '$T/dot/keep/model_to_cs-2.9_to_hf/config.json' && test \"\$(cat '$T/dot/keep/notes.txt')\" = mine"
(cd "$T/dot" && "$CKCONV" convert sub/model_to_cs-2.9.mdl --config sub/config_to_cs-2.9.yaml -o newhf/ -q)
check "CS -> HF -o new-dir/: the HF directory itself" test -f "$T/dot/newhf/config.json"
check "-o x.mdl still writes x.mdl and x.yaml" sh -c "cd '$T/dot' && '$CKCONV' convert '$G/llama/hf' -o x.mdl -q && test -f x.mdl -a -f x.yaml"

# --- cs-auto / cs-current (fmt.c, shared with CS <-> CS)
c="$ROOT/tests/golden/cscs/llama-2.4-to-2.5"
$PY "$ROOT/tools/cscs_case.py" pack "$c/in" "$T/train.mdl"
err=$("$CKCONV" convert "$T/train.mdl" --model llama --src-fmt cs-auto --tgt-fmt hf --config "$c/in/params.yaml" \
	--output-dir "$T/auto" 2>&1 >/dev/null)
check "--src-fmt cs-auto on a training checkpoint: the release from its __metadata__ (cs-2.4)" grep -q "llama cs-2.4 -> hf" <<<"$err"
check "... written as the reference names it" test -f "$T/auto/train_to_hf/config.json"
err=$("$CKCONV" convert "$T/cs/checkpoint_1.7.mdl" --src-fmt cs-auto --tgt-fmt hf --config "$T/cs/params.yaml" -o "$T/auto2" 2>&1 >/dev/null)
check "cs-auto on ckconv's own HF -> CS output (no __metadata__): the format it was converted to" grep -q "llama cs-2.9 -> hf" <<<"$err"
expect_fail "cs-auto on a checkpoint without __metadata__ says what to pass" "has no __metadata__ record with a version" "$T/auto3" \
	"$CKCONV" convert "$G/h5ck/llama_cstorch_lz4.mdl" --src-fmt cs-auto --tgt-fmt hf --config "$G/llama/cs/params.yaml" -o "$T/auto3"
err=$("$CKCONV" convert "$G/llama/hf" --src-fmt hf --tgt-fmt cs-current -o "$T/cur.mdl" 2>&1 >/dev/null)
check "--tgt-fmt cs-current: the newest release (rules/cscs/releases.yaml current)" grep -q "llama hf -> $(sed -n 's/^current: //p' "$ROOT/rules/cscs/releases.yaml"):" <<<"$err"

# --- convert-config: the config alone, named as the reference names it
mkdir -p "$T/cc"
cp "$G/llama/cs/params.yaml" "$T/cc/params_llama.yaml"
cp "$G/llama/hf/config.json" "$T/cc/config.json"
out=$(cd "$T/cc" && "$CKCONV" convert-config params_llama.yaml --model llama --src-fmt cs-2.9 --tgt-fmt hf)
check "convert-config CS -> HF: params_llama_to_hf.json, 'Config saved to'" test "$out" = "Config saved to params_llama_to_hf.json"
check "... the same config.json as a whole conversion writes" $CHECK json-superset "$T/cc/params_llama_to_hf.json" "$T/cs/checkpoint_1.7_to_hf/config.json"
out=$(cd "$T/cc" && "$CKCONV" convert-config config.json --model llama --src-fmt hf --tgt-fmt cs-2.9 --output-dir o)
check "convert-config HF -> CS with --output-dir: o/config_to_cs-2.9.yaml" test "$out" = "Config saved to o/config_to_cs-2.9.yaml"
check "... the params a whole conversion writes" cmp "$T/cc/o/config_to_cs-2.9.yaml" "$T/out/config_to_cs-2.9.yaml"
check "convert-config writes no weights" test "$(files "$T/cc/o")" = "config_to_cs-2.9.yaml "
expect_fail "convert-config refuses to replace without --force" "output exists; pass --force" "$T/cc/none" \
	sh -c "cd '$T/cc' && '$CKCONV' convert-config config.json --model llama --src-fmt hf --tgt-fmt cs-2.9 --output-dir o"
# CS -> CS: the params of every reference case (tests/golden/cscs/*/out), without the weights
C="$ROOT/tests/golden/cscs"
cp "$C/llama-2.2-to-2.3/in/params.yaml" "$T/cc/params_22.yaml"
out=$(cd "$T/cc" && "$CKCONV" convert-config params_22.yaml --model llama --src-fmt cs-2.2 --tgt-fmt cs-2.3 2>/dev/null)
check "convert-config CS -> CS: params_22_to_cs-2.3.yaml, 'Config saved to'" test "$out" = "Config saved to params_22_to_cs-2.3.yaml"
cases=0; bad=""
for dir in "$C"/*/; do
	[ -d "$dir/out" ] || continue
	read -r model src tgt < <($PY -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["model"], d["src_fmt"], d["tgt_fmt"])' "$dir/case.json")
	"$CKCONV" convert-config "$dir/in/params.yaml" --model "$model" --src-fmt "$src" --tgt-fmt "$tgt" --dry-run >"$T/cc/p.yaml" 2>/dev/null &&
		$PY -c 'import sys, yaml; sys.exit(yaml.safe_load(open(sys.argv[1])) != yaml.safe_load(open(sys.argv[2])))' "$T/cc/p.yaml" "$dir/out/params.yaml" ||
		bad="$bad $(basename "$dir")"
	cases=$((cases + 1))
done
check "convert-config CS -> CS: the reference's params in each of the $cases cases" test -z "$bad" -a "$cases" -gt 20
[ -z "$bad" ] || echo "#   differ:$bad"
EXPECT_RC=2 expect_fail "convert-config CS params with only --tgt-fmt cs-X.Y: asks for --src-fmt" "give the release they were written for" \
	"$T/cc/params_22_to_cs-2.9.yaml" "$CKCONV" convert-config "$T/cc/params_22.yaml" --model llama --tgt-fmt cs-2.9

# --- list MODEL, list-converters
check "list MODEL shows that model only" sh -c "'$CKCONV' list llama | grep -q '^llama ' && ! '$CKCONV' list llama | grep -q '^gpt2'"
check "list an alias finds its model" sh -c "'$CKCONV' list code-llama | grep -q '^llama '"
check "list-converters is list (the reference's name); 'all' lists every model" sh -c "'$CKCONV' list-converters all | grep -q '^gpt2' && '$CKCONV' list-converters all | grep -q '^llama '"
expect_fail "list of an unknown model: one line, the nearest name" "did you mean 'llama'?" "$T/none" "$CKCONV" list lama

# --- exit status: 0 ok / match, 1 the data differs or is refused, 2 usage or I/O
"$CKCONV" diff "$G/llama/hf" "$G/llama/hf_back" >/dev/null; rc=$?
check "diff of equal checkpoints: exit 0" test $rc -eq 0
"$CKCONV" diff "$G/llama/hf" "$G/gpt2/hf" >/dev/null; rc=$?
check "diff of different checkpoints: exit 1" test $rc -eq 1
EXPECT_RC=2 expect_fail "diff of a missing file: exit 2, naming it" "nosuch: No such file or directory" "$T/none" "$CKCONV" diff "$G/llama/hf" "$T/nosuch"
EXPECT_RC=2 expect_fail "an unknown option: exit 2" "validate: unknown option '--strcit'" "$T/none" "$CKCONV" validate --strcit
EXPECT_RC=2 expect_fail "a missing source: exit 2" "nosuch: No such file or directory" "$T/none" "$CKCONV" convert "$T/nosuch"
EXPECT_RC=2 expect_fail "ENOSPC: exit 2 (an I/O error)" "No space left on device" "$T/none" \
	env CKFAULT_WRITE_LIMIT=100000 LD_PRELOAD="$T/shim.so" "$CKCONV" convert "$G/llama/hf" -o "$T/enospc.mdl" -q
check "diff --tensor_comparison_op allclose: values within torch.allclose's tolerance match" sh -c "
	$PY - '$G/llama/hf/model-00001-of-00002.safetensors' '$T/near.safetensors' <<'PY'
import json, struct, sys, numpy as np
d = open(sys.argv[1], 'rb').read(); n = struct.unpack('<Q', d[:8])[0]; h = json.loads(d[8:8 + n]); b = bytearray(d[8 + n:])
for k, v in h.items():
    if k == '__metadata__' or v['dtype'] != 'F32': continue
    s, e = v['data_offsets']; a = np.frombuffer(bytes(b[s:e]), '<f4') * np.float32(1 + 1e-7)
    b[s:e] = a.astype('<f4').tobytes()
open(sys.argv[2], 'wb').write(d[:8 + n] + bytes(b))
PY
	! '$CKCONV' diff '$G/llama/hf/model-00001-of-00002.safetensors' '$T/near.safetensors' >/dev/null &&
	'$CKCONV' diff '$G/llama/hf/model-00001-of-00002.safetensors' '$T/near.safetensors' --tensor_comparison_op allclose | grep -qx match"
EXPECT_RC=2 expect_fail "diff --tensor_comparison_op takes equal or allclose" "takes equal or allclose, not 'close'" "$T/none" \
	"$CKCONV" diff "$G/llama/hf" "$G/llama/hf" --tensor_comparison_op close
check "ckconv help convert prints convert's usage" sh -c "'$CKCONV' help convert | head -1 | grep -q '^usage: ckconv convert SRC'"

# --- inspect and diff read the component directories convert writes (llava)
"$CKCONV" convert "$ROOT/tests/golden/llava/hf" -o "$T/lv.mdl" -q && "$CKCONV" convert "$T/lv.mdl" -o "$T/lv" -q
check "inspect of a multi-component output lists every component's tensors" sh -c "'$CKCONV' inspect '$T/lv' | grep -q '^image_model/vision_model.embeddings.class_embedding ' && '$CKCONV' inspect '$T/lv' | grep -q '^text_model/model.norm.weight '"
check "diff of it against the reference round trip: match" sh -c "'$CKCONV' diff '$T/lv' '$ROOT/tests/golden/llava/hf_back' | tail -1 | grep -qx match"

# --- tokenizer and generation files travel for a single-component model too
cp -r "$G/llama/hf" "$T/tk"
echo '{"version": "1.0"}' >"$T/tk/tokenizer.json"
echo '{"bos_token_id": 1}' >"$T/tk/generation_config.json"
echo notes >"$T/tk/README.md"
check "a llama directory with tokenizer files converts there and back" sh -c "'$CKCONV' convert '$T/tk' -o '$T/tk.mdl' -q && '$CKCONV' convert '$T/tk.mdl' -o '$T/tkb' -q"
check "llama: tokenizer.json and generation_config.json come back into the HF directory, unchanged" \
	sh -c "cmp '$T/tk/tokenizer.json' '$T/tkb/tokenizer.json' && cmp '$T/tk/generation_config.json' '$T/tkb/generation_config.json'"
check "... a file no rule names (README.md) does not travel" test ! -e "$T/tkb/README.md"
