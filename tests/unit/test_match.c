/* Unit tests for rule.c + match.c: templates, first match wins, includes with prefixes,
 * index arithmetic, and the errors a rule author sees (with file:line:col). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "match.h"
#include "prog.h"
#include "rule.h"
#include "t.h"
#include "t_rule.h"

static char dir[64];

static rule_set *load(const char *name, ck_err *e)
{
	return t_rules(dir, name, NULL, e);
}

/* key -> "rule:slot target" using the first target template, or "none" (through the compiled
 * program of direction d, as plan reads it) */
static const char *conv(const rule_set *s, int d, const char *key)
{
	static char buf[4096];
	prog *p = NULL;
	match_hit h;
	ck_err e = {0};
	char *t = NULL;
	if (prog_compile(s, d, NULL, &p, &e)) {
		snprintf(buf, sizeof buf, "compile: %s", e.msg);
		return buf;
	}
	int r = prog_match(p, key, &h, &e);
	const prog_rule *pr = r > 0 ? &p->r[h.rule] : NULL;
	size_t nt = pr ? pr->n_tpl[PROG_DST] : 0;
	if (r <= 0)
		snprintf(buf, sizeof buf, "none");
	else if (!nt)
		snprintf(buf, sizeof buf, "%zu:%zu drop", h.rule, h.slot);
	else if (match_fill(&pr->tpl[PROG_DST][0], &h.b, &t, &e))
		snprintf(buf, sizeof buf, "fill: %s", e.msg);
	else
		snprintf(buf, sizeof buf, "%zu:%zu %s", h.rule, h.slot, t);
	free(t);
	prog_free(p);
	return buf;
}

int main(void)
{
	ck_err e = {0};
	rule_set *s;
	snprintf(dir, sizeof dir, "/tmp/ckconv-match.XXXXXX");
	if (!mkdtemp(dir))
		return 1;

	t_put(dir, "body.yaml",
		"placeholders: {L: '\\d+', P: 'weight|bias'}\n"
		"keys:\n"
		"  - {hf: layers.<L>.attn.<P>, cs: blocks.<L>.attention.<P>}\n"
		"  - {hf: layers.<L>.rotary.inv_freq}\n"
		"  - {hf: norm.<P>, cs: [final_norm.<P>, ln_f.<P>], action: duplicate}\n");
	t_put(dir, "m.yaml",
		"model: m\n"
		"formats: [cs-2.9]\n"
		"placeholders: {P: 'weight|bias', J: '\\d+'}\n"
		"keys:\n"
		"  - {hf: head.<P>, cs: lm_head.<P>}\n"
		"  - {hf: proj.<2*J>.<P>, cs: projector.<J>.<P>}\n"
		"  - {include: body, hf_prefix: model.}\n"
		"  - {include: body, hf_prefix: model., cs_prefix: model.}\n");
	s = load("m.yaml", &e);
	T_OK(s != NULL, "model with includes loads");
	if (!s) {
		printf("# %s\n", e.msg);
		return t_done();
	}
	T_EQ_INT(s->n_keys, 8, "includes flattened into 8 key rules");
	T_EQ_STR(conv(s, 0, "model.layers.3.attn.weight"), "2:0 blocks.3.attention.weight", "hf -> cs through include prefix");
	T_EQ_STR(conv(s, 1, "blocks.3.attention.bias"), "2:0 model.layers.3.attn.bias", "cs -> hf");
	T_EQ_STR(conv(s, 1, "model.blocks.3.attention.bias"), "5:0 model.layers.3.attn.bias",
		"cs -> hf falls through to the model.-prefixed include");
	T_EQ_STR(conv(s, 0, "model.layers.0.rotary.inv_freq"), "3:0 drop", "hf-only key is a drop rule");
	T_EQ_STR(conv(s, 1, "ln_f.weight"), "4:1 model.norm.weight", "second cs template fills slot 1");
	T_EQ_STR(conv(s, 0, "proj.4.bias"), "1:0 projector.2.bias", "<2*J>: hf index 4 -> cs 2");
	T_EQ_STR(conv(s, 1, "projector.3.weight"), "1:0 proj.6.weight", "<2*J>: cs 3 -> hf 6");
	T_EQ_STR(conv(s, 0, "proj.3.bias"), "none", "odd index does not match <2*J>");
	T_EQ_STR(conv(s, 0, "model.layers.x.attn.weight"), "none", "placeholder regex is enforced");
	T_EQ_STR(conv(s, 0, "head.weightx"), "none", "templates match the whole key");
	rule_set_free(s);

	/* first match wins */
	t_put(dir, "order.yaml",
		"model: o\nplaceholders: {P: 'weight|bias', X: '.*'}\n"
		"keys:\n  - {hf: a.<P>, cs: first.<P>}\n  - {hf: a.<X>, cs: second.<X>}\n");
	s = load("order.yaml", &e);
	T_EQ_STR(conv(s, 0, "a.weight"), "0:0 first.weight", "earlier rule wins");
	T_EQ_STR(conv(s, 0, "a.other"), "1:0 second.other", "later rule catches the rest");
	rule_set_free(s);

	/* author errors, with positions */
	t_put(dir, "cap.yaml", "model: c\nplaceholders: {L: '(\\d+)'}\nkeys:\n  - {hf: a.<L>, cs: b.<L>}\n");
	s = load("cap.yaml", &e);
	T_OK(s && strcmp(conv(s, 0, "a.1"), "x"), "capture group");
	T_HAS(conv(s, 0, "a.1"), "cap.yaml:2:19: placeholder 'L': regex '(\\d+)' has a capturing group", "capture group is refused at its position");
	rule_set_free(s);

	t_put(dir, "badre.yaml", "model: c\nplaceholders: {L: '[0-9'}\nkeys:\n  - {hf: a.<L>, cs: b.<L>}\n");
	s = load("badre.yaml", &e);
	T_HAS(conv(s, 0, "a.1"), "badre.yaml:2:19: placeholder 'L': bad regex '[0-9'", "bad regex names file:line:col");
	rule_set_free(s);

	t_put(dir, "undecl.yaml", "model: c\nkeys:\n  - {hf: a.<Q>, cs: b.<Q>}\n");
	s = load("undecl.yaml", &e);
	T_HAS(conv(s, 0, "a.1"), "undecl.yaml:3:5: template 'a.<Q>': placeholder <Q> is not declared", "undeclared placeholder");
	rule_set_free(s);

	t_put(dir, "unk.yaml", "model: c\nkeys:\n  - {hf: a, cs: b, acton: copy}\n");
	s = load("unk.yaml", &e);
	T_OK(s == NULL, "unknown key in a rule fails to load");
	T_HAS(e.msg, "unk.yaml:3:20: unknown key 'acton' in a key rule", "unknown key message with position");

	t_put(dir, "inc.yaml", "model: c\nkeys:\n  - include: nothere\n");
	s = load("inc.yaml", &e);
	T_HAS(e.msg, "inc.yaml:3:14: included rule set 'nothere' not found", "missing include named");

	t_put(dir, "cyc.yaml", "model: c\nkeys:\n  - include: cyc\n");
	s = load("cyc.yaml", &e);
	T_HAS(e.msg, "cyc.yaml:3:14: include cycle: cyc.yaml -> cyc.yaml", "include cycle is caught, with its chain");

	system("rm -rf /tmp/ckconv-match.*");
	return t_done();
}
