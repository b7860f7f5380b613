#!/usr/bin/env bash
# validate: each file in tests/validate/ is broken in one way and names, on its first line
# ("# expect: LINE:COL: error|warning: text"), the one finding it must produce; the shipped
# rules must validate clean; --keys reports coverage.
. "$(dirname "$0")/lib.inc"
cd "$ROOT"
for f in tests/validate/*.yaml; do
	want=$(sed -n '1s/^# expect: //p' "$f")
	out=$("$CKCONV" validate "$f" 2>&1); rc=$?
	n=$(grep -v '^ckconv: ' <<<"$out" | grep -c ': \(error\|warning\): ')
	if grep -qF -- "$f:$want" <<<"$out" && [ "$n" -eq 1 ] && { [ "$rc" -ne 0 ] || grep -q ': warning: ' <<<"$want"; }; then
		ok "validate $(basename "$f" .yaml): $f:$want"
	else
		notok "validate $(basename "$f" .yaml): expected exactly '$f:$want'"; printf '%s\n' "$out" | sed 's/^/#   /'
	fi
done
check "the shipped rules validate with no finding" sh -c "out=\$('$CKCONV' validate rules) && [ \"\$out\" = '$(ls rules/*.yaml | wc -l) rule file(s) OK' ]"
check "--strict fails on a warning" sh -c "! '$CKCONV' validate --strict tests/validate/shadowed.yaml >/dev/null 2>&1"
out=$("$CKCONV" validate rules/llama.yaml --keys tests/golden/llama/hf 2>&1)
check "--keys: every llama key is covered (exit 0)" test $? -eq 0
check "--keys: rules no key matched are named" grep -q "rules/llama-body.yaml:[0-9]*:5: warning: rule matched none of the 21 keys" <<<"$out"
printf 'model.embed_tokens.weight\nmodel.layers.0.mlp.up_projj.weight\n' >"$T/keys.txt"
out=$("$CKCONV" validate rules/llama.yaml --keys "$T/keys.txt" 2>&1); rc=$?
check "--keys: an unmatched key in a list fails, named with its line" sh -c "[ $rc -ne 0 ] && grep -q '$T/keys.txt:2:1: error: key .model.layers.0.mlp.up_projj.weight.: no rule matches it' <<'X'
$out
X"
check "--keys on a packed file reads CS keys" "$CKCONV" validate rules/llama.yaml --keys "$ROOT/tests/golden/h5ck/llama_cstorch_lz4.mdl"
# the vocabulary is defined once (src/actions.def); list --actions prints it and the docs name each entry
out=$("$CKCONV" list --actions)
check "list --actions prints the vocabulary" grep -q '^rope_interleave .*inverse rope_deinterleave' <<<"$out"
for a in $(awk '{print $1}' <<<"$out"); do
	check "docs/rules.md describes '$a'" grep -q "\`$a[\`:]" docs/rules.md
done
# every broken component is reported (one line each), not only the first
mkdir -p "$T/comps"
printf 'model: t2\nformats: [cs-2.9]\ncomponents:\n  - {dir: a, rules: no-such-a, config: a}\n  - {dir: b, rules: broken-b, config: b}\n  - {dir: c, rules: no-such-c, config: c}\n' >"$T/comps/t2.yaml"
printf 'placeholders: {L: "\\\\d+"}\nkeys:\n  - {hf: x.<L>, cs: y.<L>, action: transpos}\n' >"$T/comps/broken-b.yaml"
"$CKCONV" validate "$T/comps/t2.yaml" >"$T/comps.out" 2>&1; rc=$?
check "validate: every broken component reported, exit non-zero" test "$rc" -ne 0
check "validate: a missing component rule set, at its component" grep -q "^$T/comps/t2.yaml:4:5: error: component rule set 'no-such-a' not found" "$T/comps.out"
check "validate: a broken component rule set, at its rule" grep -q "^$T/comps/broken-b.yaml:3:36: error: unknown action 'transpos'" "$T/comps.out"
check "validate: the component after a broken one is still checked" grep -q "^$T/comps/t2.yaml:6:5: error: component rule set 'no-such-c' not found" "$T/comps.out"
# list opens each model as convert does (model.c): a model whose components do not load is not
# listed as if it converted, and is named on stderr
printf 'model: ok1\nformats: [cs-2.9]\nkeys:\n  - {hf: a, cs: b}\n' >"$T/comps/ok1.yaml"
"$CKCONV" list --rules "$T/comps" >"$T/list.out" 2>"$T/list.err"; rc=$?
check "list: the models that open are listed (exit 0)" sh -c "[ $rc -eq 0 ] && grep -q '^ok1$' '$T/list.out'"
check "... one whose component rules are missing is not" sh -c "! grep -q '^t2' '$T/list.out'"
check "... and is named on stderr with the loader's error" grep -q "^ckconv: list: not listed: .*t2.yaml:4:5: component rule set 'no-such-a' not found .*(see ckconv validate .*t2.yaml)$" "$T/list.err"
