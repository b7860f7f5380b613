/* Unit tests for rule.c (loading from strings): what loads, what the loader refuses with
 * file:line:col, actions resolved against actions.def, create generators, includes of
 * placeholders / let / mup. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include "rule.h"
#include "t.h"
#include "t_rule.h"

static char dir[64];

static rule_set *load(const char *name, const char *text, ck_err *e)
{
	return t_rules(dir, name, text, e);
}

/* Files the loader must refuse, each with the position and message it names. */
static const struct bad {
	const char *what, *text, *want;
} bad[] = {
	{"unknown action, with a suggestion", "model: t\nplaceholders: {P: 'w'}\nkeys:\n  - {hf: a.<P>, cs: b.<P>, action: transpos}\n",
		"t.yaml:4:36: unknown action 'transpos' (did you mean 'transpose'?)"},
	{"unknown action, listing the known ones", "model: t\nkeys:\n  - {hf: a, cs: b, action: zzzzzzzz}\n",
		"t.yaml:3:28: unknown action 'zzzzzzzz' (known: copy, transpose"},
	{"a generator is not an action", "model: t\nkeys:\n  - {hf: a, cs: b, action: fill}\n",
		"unknown action 'fill'"},
	{"unknown parameter", "model: t\nkeys:\n  - {hf: a, cs: b, action: {transpose: {axis: 1}}}\n",
		"t.yaml:3:47: action 'transpose' has no parameter 'axis'"},
	{"missing parameter", "model: t\nkeys:\n  - {hf: a, cs: b, action: {roll: {axis: 1}}}\n",
		"t.yaml:3:29: action 'roll' needs parameter 'shift'"},
	{"unknown generator", "model: t\nkeys:\n  - {hf: a, create: {for: {I: '[0]'}, dtype: f32, shape: '[1]', ones: 1}}\n",
		"t.yaml:3:65: unknown generator or key 'ones' in create"},
	{"two generators", "model: t\nkeys:\n  - {hf: a, create: {for: {I: '[0]'}, dtype: f32, shape: '[1]', fill: 1, tril: 1}}\n",
		"create takes one generator, found 'fill' and 'tril'"},
	{"no generator", "model: t\nkeys:\n  - {hf: a, create: {for: {I: '[0]'}, dtype: f32, shape: '[1]'}}\n",
		"create needs one of 'fill: <value>'"},
	{"a bad op", "model: t\nmup:\n  detect: 'true'\n  tensors:\n    - {cs: b, ops: [{mul: 2, div: 3}]}\nkeys:\n  - {hf: a, cs: b}\n",
		"t.yaml:5:21: an op is {mul: <expr>} or {div: <expr>}"},
	{"a mup include that is missing", "model: t\nmup: {include: nope}\nkeys:\n  - {hf: a, cs: b}\n",
		"t.yaml:2:16: included rule set 'nope' not found"},
	{"a key rule with no templates", "model: t\nkeys:\n  - {action: copy}\n", "t.yaml:3:5: a key rule needs 'hf' and/or 'cs'"},
};

int main(void)
{
	ck_err e = {0};
	rule_set *s;
	snprintf(dir, sizeof dir, "/tmp/ckconv-test-rule-XXXXXX");
	if (!mkdtemp(dir))
		return 1;

	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
		t_rules_refused(dir, "t.yaml", bad[i].text, bad[i].want, bad[i].what);

	/* a chain resolves to kinds with each parameter's slot in its spec */
	s = load("t.yaml", "model: t\nplaceholders: {E: '\\d+'}\nkeys:\n"
		"  - {hf: 'e.<E>.w', cs: 'x.w', action: [transpose, {stack: {axis: 1, over: E}}]}\n"
		"  - {hf: a, cs: [b, c], action: duplicate}\n"
		"  - {hf: m, create: {for: {I: '[0, 1]'}, uniform: 0.5, seed: 7, dtype: f32, shape: '[2]'}}\n", &e);
	T_OK(s != NULL, "a rule file with a chain, a split target and a create loads");
	if (s) {
		const rule_key *k = &s->keys[0];
		T_EQ_INT(k->n_act, 2, "the chain has two steps");
		T_EQ_INT(k->act[0].kind, VOCAB_TRANSPOSE, "step 1 is transpose");
		T_EQ_INT(k->act[1].kind, VOCAB_STACK, "step 2 is stack");
		T_EQ_INT(k->act[1].p[1].slot, vocab_placeholder_param(VOCAB_STACK), "over is the stack's placeholder parameter");
		T_EQ_INT(k->n_tpl[RULE_HF], 1, "one HF template");
		T_EQ_STR(k->tpl[RULE_CS][0], "x.w", "the CS template, indexed by side");
		T_EQ_INT(s->keys[1].n_tpl[RULE_CS], 2, "two CS targets");
		T_OK(s->keys[2].creates && s->keys[2].gen == VOCAB_UNIFORM, "create: uniform is the generator");
		T_EQ_INT(s->keys[2].gen_seed, 7, "its seed");
		T_EQ_INT(s->keys[2].n_tpl[RULE_CS], 0, "a created key has no CS side");
	}
	rule_set_free(s);

	/* includes: key rules with prefixes; placeholders, let and mup from a piece */
	t_put(dir, "piece.yaml", "placeholders: {L: '\\d+'}\nlet: {w: '2 * 3'}\n"
		"mup:\n  detect: 'cs.model.m != null'\n  drop: [m]\n  tensors:\n    - {cs: 'l.<L>.w', ops: [{mul: w}]}\n");
	t_put(dir, "body.yaml", "placeholders: {L: '\\d+'}\nkeys:\n  - {hf: 'layers.<L>.w', cs: 'l.<L>.w'}\n");
	s = load("t.yaml", "model: t\nplaceholders: {include: piece, P: 'x'}\nlet: {include: piece, v: '1'}\n"
		"mup:\n  include: piece\n  tensors:\n    - {cs: 'head.<P>', ops: [{div: v, when: 'cs_minor > 2'}]}\n"
		"keys:\n  - {include: body, hf_prefix: 'model.'}\n", &e);
	T_OK(s != NULL, "a file including key rules and a piece's placeholders, let and mup loads (%s)", e.msg);
	if (s) {
		const rule_file *f = s->files[0];
		T_EQ_STR(s->keys[0].tpl[RULE_HF][0], "model.layers.<L>.w", "an include's prefix is on the template");
		T_EQ_STR(rule_ph_regex(f, "L"), "\\d+", "an included placeholder");
		T_EQ_STR(rule_ph_regex(f, "P"), "x", "the file's own placeholder");
		T_EQ_INT(f->n_let, 2, "own let plus the piece's");
		T_EQ_STR(f->let[0].name, "v", "the file's own let first");
		T_EQ_STR(f->let[1].name, "w", "then the piece's");
		T_OK(f->mup && f->mup->detect, "detect comes from the piece");
		T_EQ_INT(f->mup->n_tensors, 2, "the piece's muP tensor plus the file's own");
		T_EQ_INT(f->mup->n_borrowed, 1, "one of them borrowed");
		T_EQ_INT(f->mup->n_drop, 1, "drop comes from the piece");
		T_EQ_INT(f->mup->tensors[0].act[0].kind, VOCAB_SCALE, "mul: is the scale action");
		T_EQ_INT(f->mup->tensors[1].act[0].kind, VOCAB_UNSCALE, "div: is the unscale action");
		T_OK(f->mup->tensors[0].scope != f, "the piece's tensor rules see the piece's names");
	}
	rule_set_free(s);

	/* an include cycle among pieces stops */
	t_put(dir, "p1.yaml", "mup: {include: p2}\n");
	t_put(dir, "p2.yaml", "mup: {include: p1}\n");
	s = load("t.yaml", "model: t\nmup: {include: p1}\nkeys:\n  - {hf: a, cs: b}\n", &e);
	T_OK(!s, "a cycle of mup includes is refused");
	T_HAS(e.msg, "nested deeper than 8 levels", "and named as a likely cycle");
	rule_set_free(s);

	/* cs_when: two families with one CS name, told apart by a params value */
	{
		char det[96], *path = NULL;
		snprintf(det, sizeof det, "%s/det", dir);
		T_OK(mkdir(det, 0700) == 0, "a models directory");
		t_put(det, "a.yaml", "model: a\ncs_name: shared\ncs_when: '!(cs.model.flag ?? false)'\nkeys:\n  - {hf: x, cs: y}\n");
		t_put(det, "b.yaml", "model: b\ncs_name: shared\ncs_when: 'cs.model.flag ?? false'\nkeys:\n  - {hf: x, cs: y}\n");
		json_t *plain = json_pack("{s{ss}}", "model", "name", "shared");
		json_t *flagged = json_pack("{s{sssb}}", "model", "name", "shared", "flag", 1);
		T_OK(rule_detect_model(det, NULL, plain, NULL, &path, &e) == 0 && path && strstr(path, "/a.yaml"),
			"without the flag: the first family");
		free(path);
		path = NULL;
		T_OK(rule_detect_model(det, NULL, flagged, NULL, &path, &e) == 0 && path && strstr(path, "/b.yaml"),
			"with it: the family whose cs_when holds");
		free(path);
		json_decref(plain);
		json_decref(flagged);
	}

	/* cs_layout needs both directions */
	s = load("t.yaml", "model: t\nconfig:\n  cs_layout: {to_cs: 'cs.model'}\nkeys:\n  - {hf: a, cs: b}\n", &e);
	T_OK(!s, "a cs_layout with to_cs only is refused");
	T_HAS(e.msg, "cs_layout needs 'to_cs' and 'to_hf'", "naming what is missing");
	rule_set_free(s);
	s = load("t.yaml", "model: t\nconfig:\n  cs_layout: {to_cs: 'cs.model', to_hf: 'cs.model'}\nkeys:\n  - {hf: a, cs: b}\n", &e);
	T_OK(s && s->files[0]->layout[RULE_CS] && s->files[0]->layout[RULE_HF], "both expressions loaded");
	rule_set_free(s);

	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	if (system(cmd))
		return 1;
	return t_done();
}
