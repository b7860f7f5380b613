#!/usr/bin/env bash
# Scripting (issue #17 items 5 and 9): machine-readable output (validate --format text|json|github,
# --json for inspect, diff, verify and list), distinct exit statuses (0 ok, 1 differs/refused,
# 2 usage or I/O), inspect's layer order and sizes, explain's nearest rules listed once.
. "$(dirname "$0")/lib.inc"
G="$ROOT/tests/golden"
# jq-like: run a Python expression over the JSON on stdin (d), exit 1 when it is false
jt() { $PY -c 'import json, sys; d = json.load(sys.stdin); sys.exit(0 if eval(sys.argv[1]) else 1)' "$1"; }
# rc_of CMD...: the exit status only
rc_of() { "$@" >/dev/null 2>&1; echo $?; }

# --- validate --format
bad="$ROOT/tests/validate/action-missing-param.yaml"
out=$("$CKCONV" validate --format json "$bad" 2>/dev/null); rc=$?
check "validate --format json: exit 1 on an error" test $rc -eq 1
check "... one finding with file, line, col, severity and message" jt "d['errors'] == 1 and d['findings'][0]['file'].endswith('action-missing-param.yaml') and d['findings'][0]['line'] == 6 and d['findings'][0]['col'] == 14 and d['findings'][0]['severity'] == 'error' and 'rope_interleave' in d['findings'][0]['message']" <<<"$out"
out=$("$CKCONV" validate --format github "$bad" 2>/dev/null)
check "validate --format github: an annotation" grep -qx "::error file=.*action-missing-param.yaml,line=6,col=14::action 'rope_interleave' needs parameter 'dim'" <<<"$out"
out=$("$CKCONV" validate --format text "$bad" 2>/dev/null)
check "validate --format text: file:line:col" grep -q "action-missing-param.yaml:6:14: error: action 'rope_interleave'" <<<"$out"
printf 'model: x\nkeys:\n  - {hf: "a:b,c%%d", cs: y, action: {nonsense: {}}}\n' >"$T/odd,na:me.yaml"
out=$("$CKCONV" validate --format github "$T/odd,na:me.yaml" 2>/dev/null)
check "github annotations escape ',' and ':' in the file property" grep -q "^::error file=.*odd%2Cna%3Ame.yaml,line=" <<<"$out"
out=$("$CKCONV" validate --format json "$ROOT/rules/llama.yaml")
check "validate --format json on good rules: exit 0, no findings" jt "d['errors'] == 0 and d['findings'] == [] and d['files'] == 1" <<<"$out"
check "validate --strcit (a typo) exits 2" test "$(rc_of "$CKCONV" validate --strcit)" -eq 2
check "validate --format xml exits 2" test "$(rc_of "$CKCONV" validate --format xml)" -eq 2
out=$("$CKCONV" validate --format json --config "$G/llama/cs/params.yaml")
check "validate --config --format json" jt "d['errors'] == 0 and d['files'] == 1" <<<"$out"

# --- inspect: order, sizes, --json
$PY - "$T/many.safetensors" <<'PY'
import json, struct, sys
names = [f"model.layers.{i}.w" for i in (10, 2, 0, 11, 1)] + ["big"]
hdr, off = {}, 0
for n in names:
    size = 3 * 1024 * 1024 if n == "big" else 4
    hdr[n] = {"dtype": "F32", "shape": [size // 4], "data_offsets": [off, off + size]}; off += size
h = json.dumps(hdr).encode()
with open(sys.argv[1], "wb") as f:
    f.write(struct.pack("<Q", len(h))); f.write(h); f.write(b"\0" * off)
PY
out=$("$CKCONV" inspect "$T/many.safetensors")
order=$(awk '{print $1}' <<<"$out" | grep '^model\.' | tr '\n' ' ')
check "inspect orders layers as numbers (0 1 2 10 11)" test "$order" = "model.layers.0.w model.layers.1.w model.layers.2.w model.layers.10.w model.layers.11.w "
check "inspect shows sizes for people" grep -q '^big  *f32  *\[786432\]  *3.0 MiB$' <<<"$out"
check "... and small ones in bytes" grep -q '^model.layers.0.w  *f32  *\[1\]  *4 B$' <<<"$out"
check "... and the total in both" grep -q '^6 tensors, 3145748 bytes (3.0 MiB)$' <<<"$out"
out=$("$CKCONV" inspect --json "$T/many.safetensors")
check "inspect --json: tensors in the same order, with dtype, shape and bytes" jt "[t['name'] for t in d['tensors']][:3] == ['big', 'model.layers.0.w', 'model.layers.1.w'] and d['tensors'][0] == {'name': 'big', 'dtype': 'f32', 'shape': [786432], 'bytes': 3145728} and d['count'] == 6 and d['bytes'] == 3145748 and d['params'] is None" <<<"$out"
"$CKCONV" convert "$G/llama/hf" -o "$T/l.mdl" -q
out=$("$CKCONV" inspect --json "$T/l.mdl")
check "inspect --json of a packed file: provenance and model" jt "d['written_by']['tool'] == 'ckconv' and d['params']['model'] == 'llama' and d['params']['mup'] == 'no'" <<<"$out"
check "inspect of a missing path exits 2" test "$(rc_of "$CKCONV" inspect "$T/nothing")" -eq 2

# --- diff: --json and exit statuses
out=$("$CKCONV" diff --json "$G/llama/hf" "$G/llama/hf_back"); rc=$?
check "diff --json: match, exit 0" sh -c "[ $rc -eq 0 ] && echo '$out' | $PY -c 'import json,sys; d=json.load(sys.stdin); sys.exit(0 if d[\"result\"] == \"match\" and d[\"values\"] == [] else 1)'"
mkdir -p "$T/d1" "$T/d2"
$PY - "$T/d1/model.safetensors" "$T/d2/model.safetensors" <<'PY'
import json, struct, sys
def w(path, tensors):
    hdr, off, blob = {}, 0, b""
    for n, (dt, shape, data) in tensors.items():
        hdr[n] = {"dtype": dt, "shape": shape, "data_offsets": [off, off + len(data)]}; off += len(data); blob += data
    h = json.dumps(hdr).encode()
    open(path, "wb").write(struct.pack("<Q", len(h)) + h + blob)
w(sys.argv[1], {"a": ("F32", [2], struct.pack("<2f", 1, 2)), "b": ("F32", [2], b"\0" * 8), "c": ("F32", [1], b"\0" * 4)})
w(sys.argv[2], {"a": ("F32", [2], struct.pack("<2f", 1, 3)), "b": ("F16", [2], b"\0" * 4), "d": ("F32", [1], b"\0" * 4)})
PY
out=$("$CKCONV" diff --json "$T/d1" "$T/d2"); rc=$?
check "diff --json: differ, exit 1" test $rc -eq 1
check "... names what is only on each side, the dtype change and the first differing element" jt "d['result'] == 'differ' and d['only_in_a'] == ['c'] and d['only_in_b'] == ['d'] and d['dtype_shape'] == [{'name': 'b', 'a': {'dtype': 'f32', 'shape': [2], 'bytes': 8}, 'b': {'dtype': 'f16', 'shape': [2], 'bytes': 4}}] and d['values'] == [{'name': 'a', 'first_element': 1}]" <<<"$out"
check "diff with a missing file exits 2" test "$(rc_of "$CKCONV" diff "$T/d1" "$T/nothing")" -eq 2
check "diff with an unreadable checkpoint (no weights) exits 2, not 1" test "$(rc_of "$CKCONV" diff "$T/d1" "$G")" -eq 2
check "diff with an unknown option exits 2" test "$(rc_of "$CKCONV" diff --nope "$T/d1" "$T/d2")" -eq 2

# --- verify --json
out=$("$CKCONV" verify --json "$T/l.mdl")
check "verify --json: ok" jt "d['result'] == 'ok' and d['tensors'] == 22 and d['checksummed'] == 22 and d['damaged'] == []" <<<"$out"
cp "$T/l.mdl" "$T/bad.mdl"
$PY - "$T/bad.mdl" model.lm_head.weight <<'PY'
import h5py, sys
with h5py.File(sys.argv[1], "r") as f:
    ds = f[sys.argv[2]]; off = ds.id.get_offset()
with open(sys.argv[1], "r+b") as f:
    f.seek(off + 5); b = f.read(1); f.seek(off + 5); f.write(bytes([b[0] ^ 4]))
PY
out=$("$CKCONV" verify --json "$T/bad.mdl" 2>/dev/null); rc=$?
check "verify --json on a damaged file: exit 1, the tensor named" sh -c "[ $rc -eq 1 ] && echo '$out' | $PY -c 'import json,sys; d=json.load(sys.stdin); sys.exit(0 if d[\"result\"] == \"damaged\" and [x[\"name\"] for x in d[\"damaged\"]] == [\"model.lm_head.weight\"] else 1)'"
out=$("$CKCONV" verify --json --against "$G/llama/hf" "$T/l.mdl" 2>/dev/null)
check "verify --json --against: lossless" jt "d['result'] == 'lossless'" <<<"$out"
out=$("$CKCONV" verify --json --against "$G/gpt2/hf" "$T/l.mdl" 2>/dev/null); rc=$?
check "verify --json --against another checkpoint: differ, exit 1" sh -c "[ $rc -eq 1 ] && echo '$out' | grep -q '\"result\": \"differ\"'"
check "verify of a missing file exits 2" test "$(rc_of "$CKCONV" verify "$T/nothing.mdl")" -eq 2

# --- list --json
out=$("$CKCONV" list --json)
check "list --json: every model with aliases, formats and components" jt "any(m['model'] == 'llama' and 'llamaV2' in m['aliases'] and 'cs-2.9' in m['formats'] for m in d['models']) and any(m['components'] for m in d['models'])" <<<"$out"
out=$("$CKCONV" list llamaV2 --json)
check "list MODEL --json: that model only" jt "[m['model'] for m in d['models']] == ['llama']" <<<"$out"

# --- explain: the nearest rules, each once
out=$("$CKCONV" explain --model gpt2 transformer.h.0.attn.c_attnx.weight 2>/dev/null)
listed=$(grep -c '^  /' <<<"$out"); distinct=$(grep '^  /' <<<"$out" | sort -u | grep -c .)
check "explain lists three nearest rules, none twice" sh -c "[ $listed -eq 3 ] && [ $distinct -eq 3 ]"

# --- one muP decision (model.c): validate --config says what convert says
params_edit "$G/llama/cs/params.yaml" "$T/half-mup.yaml" '{"scale_qk_dot_by_d": true, "output_logits_scale": 0.5}'
cp "$T/l.mdl" "$T/hm.mdl"
conv_err=$("$CKCONV" convert "$T/hm.mdl" --config "$T/half-mup.yaml" -o "$T/hm-hf" 2>&1 >/dev/null)
val_out=$("$CKCONV" validate --config "$T/half-mup.yaml" --format json 2>/dev/null)
check "convert refuses an older-style muP config missing a scale" grep -q "sets all of scale_qk_dot_by_d, embeddings_scale and output_logits_scale, or none" <<<"$conv_err"
check "... and validate --config reports the same rule" jt "any('sets all of scale_qk_dot_by_d, embeddings_scale and output_logits_scale, or none' in f['message'] for f in d['findings'])" <<<"$val_out"
