#!/usr/bin/env bash
# schemas/rules.schema.json: a valid draft 2020-12 schema that accepts every rule file, refuses broken ones
# with their line:col (tools/check_schema.py), and agrees with the loader (ckconv validate) on both.
. "$(dirname "$0")/lib.inc"
S="$ROOT/schemas/rules.schema.json"
SCHEMA="$PY $ROOT/tools/check_schema.py $S"

check "the schema is a valid draft 2020-12 schema" $PY -c '
import json, sys, jsonschema
s = json.load(open(sys.argv[1]))
assert s["$schema"] == "https://json-schema.org/draft/2020-12/schema", s["$schema"]
jsonschema.Draft202012Validator.check_schema(s)' "$S"
# the action vocabulary is src/actions.def (the entries `action:` may name: CHAIN and SCALE)
check "the action names are src/actions.def's" $PY -c '
import json, re, sys
names = re.findall(r"^X\(\w+, (\w+), \w+, (?:CHAIN|SCALE),", open(sys.argv[2]).read(), re.M)
s = json.load(open(sys.argv[1]))["$defs"]
assert names == s["actionName"]["enum"] == list(s["actionCall"]["properties"]), names' "$S" "$ROOT/src/actions.def"

all=$($SCHEMA "$ROOT"/rules/*.yaml 2>&1)
for f in "$ROOT"/rules/*.yaml; do
	b=$(basename "$f")
	check "rules/$b validates" grep -qxF "$f: ok" <<<"$all"
	check "rules/$b names the schema on its first line" \
		grep -qx '# yaml-language-server: \$schema=../schemas/rules.schema.json' <(head -1 "$f")
done

# expect_bad NAME FILE 'LINE:COL: error: TEXT': the schema refuses FILE with exit status 1 and this error
# line; the loader (ckconv validate) refuses it too, on the same line
expect_bad() {
	local name=$1 file=$2 want=$3 out rc lout
	out=$($SCHEMA "$file" 2>&1); rc=$?
	lout=$("$CKCONV" validate "$file" 2>&1)
	if [ "$rc" -eq 1 ] && grep -qF -- "$file:$want" <<<"$out" && grep -q -- "^$file:${want%%:*}:[0-9]*: error: " <<<"$lout"; then
		ok "$name"
	else
		notok "$name"; echo "#   rc=$rc, want $file:$want"; printf '%s\n' "$out" "loader:" "$lout" | sed 's/^/#   /'
	fi
}
mkdir -p "$T/bad"
cat >"$T/bad/acton.yaml" <<'EOF'
placeholders: {P: 'weight|bias'}
keys:
  - {hf: a.<P>, cs: b.<P>, acton: transpose}
EOF
expect_bad "an unknown key in a key rule is refused at the key" "$T/bad/acton.yaml" \
	"3:28: error: keys[0]: unknown key 'acton' (expected one of: hf, cs, action, create, shape, when, tied) (did you mean 'action'?)"
cat >"$T/bad/splitt.yaml" <<'EOF'
placeholders: {P: 'weight|bias'}
keys:
  - hf: a.<P>
    cs: [b.<P>, c.<P>]
    action: [transpose, splitt]
EOF
expect_bad "an unknown action is refused at its name" "$T/bad/splitt.yaml" \
	"5:25: error: keys[0].action[1]: 'splitt' is not one of: copy, transpose,"
grep -q "did you mean 'split'" <($SCHEMA "$T/bad/splitt.yaml")
check "... with a suggestion" test $? -eq 0
cat >"$T/bad/format.yaml" <<'EOF'
model: t
formats: [cs-2.9, cs-2]
keys: []
EOF
expect_bad "a format without a minor version is refused" "$T/bad/format.yaml" \
	"2:19: error: formats[1]: 'cs-2': a format is of the form cs-MAJOR.MINOR"
cat >"$T/bad/create.yaml" <<'EOF'
placeholders: {L: '\d+'}
keys:
  - hf: a.<L>.bias
    create: {for_each: b.<L>.weight, fill: 0, shape: "[4]"}
EOF
expect_bad "create without dtype is refused" "$T/bad/create.yaml" "4:13: error: keys[0].create: missing key 'dtype'"
cat >"$T/bad/param.yaml" <<'EOF'
placeholders: {E: '\d+'}
keys:
  - {hf: e.<E>.w, cs: w, action: {stack: {axis: 1}}}
EOF
expect_bad "an action without its required parameter is refused" "$T/bad/param.yaml" \
	"3:42: error: keys[0].action.stack: missing key 'over'"
cat >"$T/bad/component.yaml" <<'EOF'
model: t
components:
  - {dir: image_model, rules: llava-image}
EOF
expect_bad "a component without config is refused" "$T/bad/component.yaml" "3:5: error: components[0]: missing key 'config'"
cat >"$T/bad/require.yaml" <<'EOF'
config:
  rules:
    - {hf: a, cs: b, require: 1}
EOF
$SCHEMA "$T/bad/require.yaml" | grep -qF "3:7: error: config.rules[0]: 'require' is for a key on one side only"
check "require with both sides is refused" test $? -eq 0
printf 'model: a\nkeys: []\nmodel: b\n' >"$T/bad/dup.yaml"
expect_bad "a duplicate key is refused" "$T/bad/dup.yaml" "3:1: error: duplicate key 'model' (first defined at 1:1)"

out=$($SCHEMA "$T/bad/acton.yaml" "$T/bad/format.yaml" "$ROOT/rules/gpt2.yaml"); rc=$?
check "several files: one line each, exit status 1" test "$rc" -eq 1 -a "$(grep -c . <<<"$out")" -eq 3 \
	-a "$(grep -c ': ok$' <<<"$out")" -eq 1

# the loader's own bad-rule tests that are about structure: refused at the loader's line:col (a missing
# parameter: on its line; the loader points at the action's name, the schema at the parameters)
for c in unknown-key unknown-action bad-format action-missing-param; do
	f="$ROOT/tests/validate/$c.yaml"
	at=$(sed -n '1s/^# expect: \([0-9]*:[0-9]*\): error: .*/\1/p' "$f")
	[ "$c" = action-missing-param ] && at=${at%%:*}
	out=$($SCHEMA "$f"); rc=$?
	check "tests/validate/$c.yaml is refused at $at, as by the loader" test "$rc" -eq 1 -a -n "$at" \
		-a -n "$(grep -F "$f:$at:" <<<"$out")"
done
# rule files that once crashed the loader: refused by both
all=$($SCHEMA "$ROOT"/tests/fuzz/regressions/rule/* 2>&1)
for f in "$ROOT"/tests/fuzz/regressions/rule/*; do
	"$CKCONV" validate "$f" >/dev/null 2>&1; l=$?
	check "fuzz regression $(basename "$f") is refused by the schema and the loader" \
		test -n "$(grep -F "$f:" <<<"$all" | grep -v ': ok$')" -a "$l" -ne 0
done

# unusual forms the loader accepts: the schema must accept them too
mkdir -p "$T/edge"
cat >"$T/edge/edge.yaml" <<'EOF'
model: edge
aliases: edge-one
architectures: EdgeForCausalLM
formats: cs-2.9
note: >-
  free text
files: [tokenizer*.json]
placeholders: {L: '\d+', J: '\d+', E: '\d+', P: 'weight|bias'}
let: {a: 1, b: 2.5, c: true, d: null, e: "cs.model.hidden_size // 2"}
keys:
  - {hf: a.<L>.<P>, cs: b.<L>.<P>, action: []}
  - {hf: c.<L>.<P>, cs: d.<L>.<P>, action: {copy: {}}}
  - {hf: e.<L>.<P>, cs: f.<L>.<P>, action: {copy: null}}
  - {hf: g.<L>.<P>, cs: [h.<L>.<P>, i.<L>.<P>], action: [transpose, {split: {axis: 0, parts: 2}}]}
  - {hf: j.<L>.<P>, cs: [k.<L>.<P>, l.<L>.<P>], action: {split: }}
  - {hf: [m.<L>.<P>, n.<L>.<P>], cs: o.<L>.<P>, action: {concat: {axis: "a - 1"}}}
  - {hf: p.<L>.<E>.weight, cs: q.<L>.weight, action: {stack: {axis: 0, over: E}}}
  - {hf: r.<L>.<P>, cs: s.<L>.<P>, action: [{roll: {shift: -1, axis: 0}}, {rope_interleave: {groups: 2, dim: e}}]}
  - {hf: t.<2*J+1>.<P>, cs: u.<J>.<P>}
  - {hf: null, cs: v.<L>.<P>}
  - {hf: [], cs: w.<L>.<P>}
  - {hf: x.<L>}
  - hf: y.<L>.bias
    create: {for_each: b.<L>.weight, fill: 0, dtype: bf16, shape: "[4]"}
  - cs: z.<J>.weight
    create: {for: {J: "range(2)"}, uniform: 0.1, seed: 7, dtype: f32, shape: "[2, 2]"}
  - cs: zz.<J>.weight
    create: {for: {J: "[0, 1]"}, arange: 1, dtype: i64, shape: "[3]"}
  - {include: edge-piece}
  - {include: edge-piece, hf_prefix: model., cs_prefix: model.}
config:
  hf_defaults: {hidden_size: 8, rope_scaling: null}
  cs_defaults: {}
  hf_out: {architectures: [EdgeForCausalLM]}
  cs_out: {pooler_type: cls}
  rules:
    - {hf: hidden_size, cs: hidden_size}
    - {hf: act, cs: nonlinearity, map: {silu: swiglu}}
    - {cs: norm_type, require: [rmsnorm, layernorm]}
    - {hf: model_type, require: edge}
    - {hf: n, cs: [p, q], to_cs: {p: hf.n, q: "hf.n * 2"}, to_hf: {n: cs.model.p}, check_hf: "hf.n > 0", check_cs: true}
    - {hf: keep, drop: false}
    - {hf: [torch_dtype], cs: junk, drop: true}
    - include: edge-piece
components:
  - dir: first
    rules: edge-piece
    config: first
    hf_prefix: ""
    cs_prefix: first.
    files: preprocessor_config.json
    make_files: {preprocessor_config.json: "{size: cs.model.first.x}"}
  - {dir: second, rules: edge-piece, config: second}
mup:
  detect: "cs.model.mup_base_hidden_size != null"
  invalid: {when: "false", message: "never"}
  tensors:
    - cs: b.<L>.weight
      ops: [{mul: 2}, {div: "sqrt(4)", when: true}]
    - {cs: b.<L>.bias, ops: []}
  drop: mup_base_hidden_size
  set: {share_embedding_weights: false}
EOF
cat >"$T/edge/edge-piece.yaml" <<'EOF'
placeholders: {P: 'weight|bias'}
keys: []
config:
  rules:
    - {hf: x, cs: x}
EOF
check "the loader accepts the unusual forms" "$CKCONV" validate "$T/edge/edge.yaml"
check "the schema accepts them" $SCHEMA "$T/edge/edge.yaml" "$T/edge/edge-piece.yaml"

echo '{"type": 5}' >"$T/bad-schema.json"
$PY "$ROOT/tools/check_schema.py" "$T/bad-schema.json" "$ROOT/rules/gpt2.yaml" >/dev/null 2>&1
check "check_schema.py refuses an invalid schema (exit status 2)" test $? -eq 2
