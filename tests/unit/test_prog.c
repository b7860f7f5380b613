/* Unit tests for prog.c, the compile stage: a rule set compiled for one direction (and a
 * config) into per-end parsed templates, the direction's chain, `when` decided and parameters
 * evaluated once; and the load errors the stage relies on (unknown action, bad parameter,
 * unknown generator) with file:line:col. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "prog.h"
#include "rule.h"
#include "t.h"
#include "t_rule.h"

static char dir[64];

static rule_set *load(const char *name, const char *text, ck_err *e)
{
	return t_rules(dir, name, text, e);
}

static const char rules[] =
	"model: m\n"
	"formats: [cs-2.9]\n"
	"placeholders: {L: '\\d+', P: 'weight|bias', J: '\\d+'}\n"
	"let: {heads: cs.model.heads}\n"
	"keys:\n"
	"  - {hf: layers.<L>.q.<P>, cs: blocks.<L>.attn.q.<P>, action: [{rope_interleave: {groups: heads, dim: 4}}, transpose]}\n"
	"  - {hf: layers.<L>.mlp, cs: [blocks.<L>.up, blocks.<L>.gate], action: split}\n"
	"  - {hf: experts.<J>.w, cs: moe.w, action: {stack: {axis: 0, over: J}}}\n"
	"  - {hf: proj.<2*J+1>.<P>, cs: projector.<J>.<P>}\n"
	"  - {hf: norm.weight, cs: ln.weight, when: cs.model.heads == 2}\n"
	"  - {hf: norm.<P>, cs: final_norm.<P>}\n"
	"  - {hf: bad.w, cs: bad.w, action: {rope_interleave: {groups: cs.model.missing, dim: 4}}}\n"
	"  - {hf: rotary.inv_freq}\n";

/* Each end's templates come from the side the direction reads or writes, parsed once. */
static void test_ends(const rule_set *s)
{
	ck_err e = {0};
	prog *hf = NULL, *cs = NULL;
	T_EQ_INT(prog_compile(s, RULE_HF, NULL, &hf, &e), 0, "compiles for HF -> CS without a config");
	T_EQ_INT(prog_compile(s, RULE_CS, NULL, &cs, &e), 0, "compiles for CS -> HF without a config");
	if (!hf || !cs)
		goto done;
	T_OK(hf->from == RULE_HF && hf->to == RULE_CS && cs->from == RULE_CS && cs->to == RULE_HF, "sides");
	T_EQ_INT(hf->n, s->n_keys, "one compiled rule per key rule");
	T_EQ_STR(hf->r[1].tpl[PROG_SRC][0].text, "layers.<L>.mlp", "HF -> CS reads the hf template");
	T_EQ_INT(hf->r[1].n_tpl[PROG_DST], 2, "... and writes the two cs ones");
	T_EQ_STR(cs->r[1].tpl[PROG_SRC][1].text, "blocks.<L>.gate", "CS -> HF reads the cs templates");
	T_EQ_INT(cs->r[1].n_tpl[PROG_DST], 1, "... and writes the one hf template");
	T_EQ_INT(hf->r[7].n_tpl[PROG_DST], 0, "a one-sided key has no target: dropped");
	const match_tpl *t = &hf->r[3].tpl[PROG_SRC][0];
	T_EQ_INT(t->n, 3, "proj.<2*J+1>.<P>: three segments");
	T_OK(t->seg[0].ph && !strcmp(t->seg[0].name, "J") && t->seg[0].a == 2 && t->seg[0].b == 1,
		"the index formula is parsed once: 2*J+1");
	T_OK(t->seg[1].ph && !strcmp(t->seg[1].name, "P") && t->seg[1].a == 1 && !t->seg[2].ph, "then <P>, then nothing");
	match_hit h;
	char *out = NULL;
	T_EQ_INT(prog_match(hf, "proj.5.bias", &h, &e), 1, "proj.5.bias matches");
	T_EQ_INT(h.rule, 3, "... the index rule");
	T_OK(match_fill(&hf->r[3].tpl[PROG_DST][0], &h.b, &out, &e) == 0 && !strcmp(out, "projector.2.bias"),
		"filled from the parsed target: projector.2.bias");
	free(out);
	T_EQ_INT(prog_match(hf, "proj.4.bias", &h, &e), 0, "an even index does not invert 2*J+1");
	T_EQ_STR(hf->r[2].over, "J", "the stacked placeholder is resolved at compile");
	T_OK(!hf->r[0].over, "... and absent where nothing stacks");
	T_OK(!hf->r[0].inst && !hf->r[0].err, "no config: parameters not evaluated");
done:
	prog_free(hf);
	prog_free(cs);
}

/* The chain as each direction runs it: as written, or each inverse, last first. */
static void test_chain(const rule_set *s)
{
	ck_err e = {0};
	prog *hf = NULL, *cs = NULL;
	prog_compile(s, RULE_HF, NULL, &hf, &e);
	prog_compile(s, RULE_CS, NULL, &cs, &e);
	if (!hf || !cs) {
		T_OK(0, "compiles: %s", e.msg);
		goto done;
	}
	T_OK(hf->r[0].n_step == 2 && hf->r[0].step[0].kind == VOCAB_ROPE_INTERLEAVE &&
			hf->r[0].step[1].kind == VOCAB_TRANSPOSE && !hf->r[0].step[0].inverse,
		"HF -> CS: rope_interleave, then transpose");
	T_OK(cs->r[0].n_step == 2 && cs->r[0].step[0].kind == VOCAB_TRANSPOSE &&
			cs->r[0].step[1].kind == VOCAB_ROPE_DEINTERLEAVE && cs->r[0].step[1].inverse,
		"CS -> HF: transpose, then rope_deinterleave");
	T_OK(cs->r[0].step[1].as_written == &s->keys[0].act[0], "an inverse step keeps the action as written");
	T_OK(cs->r[1].n_step == 1 && cs->r[1].step[0].kind == VOCAB_CONCAT, "split's inverse is concat");
	T_OK(cs->r[2].step[0].kind == VOCAB_UNSTACK, "stack's inverse is unstack");
done:
	prog_free(hf);
	prog_free(cs);
}

/* With a config: `when` decided, parameters evaluated once, a failure kept for whoever needs it. */
static void test_config(const rule_set *s)
{
	ck_err e = {0};
	json_t *hf = json_object(), *two = json_pack("{s{si}}", "model", "heads", 2),
	       *three = json_pack("{s{si}}", "model", "heads", 3);
	prog_cfg c2 = {hf, two, NULL}, c3 = {hf, three, NULL};
	prog *a = NULL, *b = NULL;
	match_hit h;
	T_EQ_INT(prog_compile(s, RULE_HF, &c2, &a, &e), 0, "compiles against a config");
	T_EQ_INT(prog_compile(s, RULE_HF, &c3, &b, &e), 0, "... and another");
	if (!a || !b)
		goto done;
	T_OK(a->r[0].inst && a->r[0].inst[0].groups == 2 && a->r[0].inst[0].dim == 4, "groups: heads = 2, evaluated once");
	T_OK(b->r[0].inst && b->r[0].inst[0].groups == 3, "... 3 with the other config");
	T_OK(a->r[1].inst && a->r[1].inst[0].parts == 2, "split's parts default to the target count");
	T_OK(!a->r[6].inst && a->r[6].err, "a parameter that does not evaluate is kept as the rule's error");
	T_HAS(a->r[6].err, "missing", "... naming what is missing");
	T_OK(!a->r[4].off && b->r[4].off, "when: on for heads 2, off for heads 3");
	T_OK(prog_match(a, "norm.weight", &h, &e) == 1 && h.rule == 4, "in force: norm.weight meets the `when` rule");
	T_OK(prog_match(b, "norm.weight", &h, &e) == 1 && h.rule == 5, "off: norm.weight falls through to the next rule");
	T_OK(!b->r[4].inst && !b->r[4].err, "a rule not in force evaluates nothing");
done:
	prog_free(a);
	prog_free(b);
	json_decref(hf);
	json_decref(two);
	json_decref(three);
}

/* The muP program: CS templates, ops as written (no inversion), parameters with vars. */
static void test_mup(void)
{
	ck_err e = {0};
	rule_set *s = load("mup.yaml",
		"model: mm\n"
		"formats: [cs-2.9]\n"
		"placeholders: {L: '\\d+'}\n"
		"keys:\n"
		"  - {hf: a.<L>, cs: b.<L>}\n"
		"mup:\n"
		"  detect: true\n"
		"  tensors:\n"
		"    - {cs: b.<L>, ops: [{mul: cs.model.m}]}\n",
		&e);
	T_OK(s && s->files[0]->mup, "a file with a muP section loads: %s", e.msg);
	if (!s || !s->files[0]->mup)
		return;
	json_t *cs = json_pack("{s{sf}}", "model", "m", 0.5);
	prog_cfg c = {NULL, cs, NULL};
	prog *p = NULL;
	match_hit h;
	T_EQ_INT(prog_compile_mup(s->files[0]->mup, &c, &p, &e), 0, "the muP program compiles");
	T_OK(p && prog_match(p, "b.3", &h, &e) == 1, "it reads CS keys");
	T_OK(p && p->r[0].n_step == 1 && p->r[0].inst && p->r[0].inst[0].kind == VOCAB_SCALE && p->r[0].inst[0].by == 0.5,
		"mul: as written, by = 0.5");
	prog_free(p);
	json_decref(cs);
	rule_set_free(s);
}

/* What the compile stage never meets because the loader refuses it, at its position. */
static void test_load_errors(void)
{
	static const struct {
		const char *name, *keys, *want;
	} cases[] = {
		{"unknown action", "  - {hf: a, cs: b, action: transpos}\n", "bad.yaml:5:28: unknown action 'transpos'"},
		{"unknown parameter", "  - {hf: a, cs: b, action: {roll: {shift: 1, axes: 0}}}\n",
			"bad.yaml:5:52: action 'roll' has no parameter 'axes'"},
		{"missing parameter", "  - {hf: a, cs: b, action: {rope_interleave: {groups: 2}}}\n",
			"bad.yaml:5:29: action 'rope_interleave' needs parameter 'dim'"},
		{"unknown generator", "  - {cs: b, create: {for_each: a, filll: 0, dtype: f32, shape: '[1]'}}\n",
			"bad.yaml:5:35: unknown generator or key 'filll' in create"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		char text[512];
		ck_err e = {0};
		snprintf(text, sizeof text, "model: bad\nformats: [cs-2.9]\nplaceholders: {}\nkeys:\n%s", cases[i].keys);
		rule_set *s = load("bad.yaml", text, &e);
		T_OK(!s, "%s: refused at load", cases[i].name);
		T_HAS(e.msg, cases[i].want, cases[i].name);
		rule_set_free(s);
	}
	ck_err e = {0};
	rule_set *s = load("tpl.yaml", "model: t\nformats: [cs-2.9]\nplaceholders: {L: '\\d+'}\nkeys:\n"
				       "  - {hf: a.<L>, cs: b.<2*>}\n", &e);
	prog *p = NULL;
	T_OK(s != NULL, "a malformed target template loads (templates are compiled, not loaded)");
	T_OK(s && prog_compile(s, RULE_HF, NULL, &p, &e) != 0, "... and the compile stage refuses it");
	T_HAS(e.msg, "tpl.yaml:5:5: template 'b.<2*>': bad placeholder", "... at the rule");
	prog_free(p);
	rule_set_free(s);
}

int main(void)
{
	ck_err e = {0};
	snprintf(dir, sizeof dir, "/tmp/ckconv-prog.XXXXXX");
	if (!mkdtemp(dir))
		return 1;
	rule_set *s = load("m.yaml", rules, &e);
	T_OK(s != NULL, "the rules load: %s", e.msg);
	if (s) {
		test_ends(s);
		test_chain(s);
		test_config(s);
	}
	test_mup();
	test_load_errors();
	rule_set_free(s);
	static const char *const files[] = {"m.yaml", "mup.yaml", "bad.yaml", "tpl.yaml"};
	for (size_t i = 0; i < sizeof files / sizeof *files; i++)
		unlink(t_at(dir, files[i]));
	rmdir(dir);
	return t_done();
}
