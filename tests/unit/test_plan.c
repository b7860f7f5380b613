/* Unit tests for plan.c: matching, grouping (a stack gathers its keys by the placeholder the
 * table marks), dropping, create, problems collected with names; shapes only. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "mem.h"
#include "plan.h"
#include "rule.h"
#include "prog.h"
#include "t.h"
#include "t_rule.h"
#include "t_plan.h"

static const char rules[] =
	"model: t\n"
	"placeholders: {E: '\\d+', L: '\\d+'}\n"
	"keys:\n"
	"  - {hf: 'w.<L>', cs: 'W.<L>', action: transpose}\n"
	"  - {hf: 'e.<L>.<E>', cs: 'S.<L>', action: {stack: {axis: 0, over: E}}}\n"
	"  - {hf: dup, cs: [d1, d2], action: duplicate}\n"
	"  - {hf: gone}\n"
	"  - {cs: 'made.<L>', create: {for_each: 'w.<L>', fill: 1.5, dtype: f32, shape: '[2]'}}\n";

/* A source from (name, rank, dims) rows. */
typedef struct key {
	const char *name;
	int rank;
	int64_t dim[2];
} key;

static mem_src *source(const key *k, size_t n)
{
	mem_src *m = mem_src_new(n);
	for (size_t i = 0; i < n; i++)
		mem_src_f32(m, i, k[i].name, k[i].rank, k[i].dim, (float)(10 * i));
	return m;
}

static const key good[] = {
	{"w.0", 2, {2, 3}}, {"w.1", 2, {2, 3}}, {"e.0.2", 1, {4}}, {"e.0.0", 1, {4}}, {"e.0.1", 1, {4}},
	{"dup", 1, {2}}, {"gone", 1, {1}},
};

/* Target name -> "dtype shape", as the plan names it. */
static const struct want {
	const char *name, *shape;
} want[] = {
	{"W.0", "[3, 2]"}, {"W.1", "[3, 2]"}, {"S.0", "[3, 4]"}, {"d1", "[2]"}, {"d2", "[2]"}, {"made.0", "[2]"}, {"made.1", "[2]"},
};

/* A headless model's head: the embedding when the config ties them (`when`), else created. */
static const char head_rules[] =
	"model: h\n"
	"keys:\n"
	"  - {hf: emb, cs: [E, H], action: duplicate, when: 'hf.tied'}\n"
	"  - {hf: emb, cs: E}\n"
	"  - {cs: H, create: {for_each: emb, normal: 0.02, seed: 3, dtype: f32, shape: '[2]'}}\n";

/* `when`: a rule exists only where its config expression holds; its keys fall through */
static const char when_rules[] =
	"model: t\n"
	"placeholders: {L: '\\d+'}\n"
	"keys:\n"
	"  - {hf: 'a.<L>', cs: 'n.<L>', when: cs.model.two}\n"
	"  - {hf: 'b.<L>', cs: 'n.<L>'}\n"
	"  - {hf: made, create: {for_each: 'n.<L>', fill: 0, dtype: f32, shape: '[1]'}, when: cs.model.two}\n";
static const char when_broken[] =
	"model: t\n"
	"keys:\n"
	"  - {hf: c, cs: m, when: cs.model.nope + 1}\n";

/* `tied`: an absent key of the rule is read from its twin, where the tie's `when` holds; a piece
 * included twice (the same source keys) takes the twin once */
static const char tied_rules[] =
	"model: t\n"
	"keys:\n"
	"  - {hf: [enc, shared], cs: E, action: first, tied: {hf: shared}}\n"
	"  - {hf: dec, cs: D, tied: {hf: shared, cs: E}}\n"
	"  - {hf: head, cs: H, tied: {hf: shared, when: hf.tied}}\n"
	"  - {hf: dec, cs: model.D, tied: {hf: shared}}\n";

static rule_set *load_text(const char *dir, const char *text)
{
	ck_err e = {0};
	rule_set *rs = t_rules(dir, "t.yaml", text, &e);
	unlink(t_at(dir, "t.yaml"));
	return rs;
}

/* text loaded (into dir) and, when it loads, test run on its rules. */
static void with_rules(const char *dir, const char *text, const char *what, void (*test)(const char *, const rule_set *))
{
	rule_set *rs = load_text(dir, text);
	T_OK(rs != NULL, "%s load", what);
	if (rs)
		test(dir, rs);
	rule_set_free(rs);
}

static void test_when(const char *dir, const rule_set *rs)
{
	ck_err e = {0};
	plan p;
	json_t *hf = json_object(), *two = json_pack("{s{sb}}", "model", "two", 1), *one = json_pack("{s{sb}}", "model", "two", 0);
	static const key cs_keys[] = {{"n.0", 1, {2}}, {"n.1", 1, {2}}};
	mem_src *src = source(cs_keys, 2);
	plan_init(&p, &e);
	T_EQ_INT(plan_rules(&p, rs, RULE_CS, &src->base, hf, two, NULL, &e), 0, "when true: CS -> HF plans");
	T_OK(mem_find(p.out, p.n_out, "a.0") >= 0 && mem_find(p.out, p.n_out, "a.1") >= 0, "... the rule in force names the targets");
	T_OK(mem_find(p.out, p.n_out, "made") >= 0, "... and its create runs");
	plan_dispose(&p);
	plan_init(&p, &e);
	T_EQ_INT(plan_rules(&p, rs, RULE_CS, &src->base, hf, one, NULL, &e), 0, "when false: CS -> HF plans");
	T_OK(mem_find(p.out, p.n_out, "b.0") >= 0 && mem_find(p.out, p.n_out, "a.0") < 0, "... the keys fall through to the next rule");
	T_OK(mem_find(p.out, p.n_out, "made") < 0, "... and the create is off too");
	plan_dispose(&p);
	ck_tsrc_free(&src->base);
	static const key hf_keys[] = {{"a.0", 1, {2}}};
	src = source(hf_keys, 1);
	plan_init(&p, &e);
	T_EQ_INT(plan_rules(&p, rs, RULE_HF, &src->base, hf, one, NULL, &e), CK_EINVALID, "when false: HF -> CS of its key");
	T_HAS(p.n_problems > 0 ? p.problems[0] : NULL, "a.0: no rule matches this key", "... matches no rule");
	plan_dispose(&p);
	ck_tsrc_free(&src->base);
	rule_set *bad = load_text(dir, when_broken);
	static const key m_keys[] = {{"m", 1, {2}}};
	src = source(m_keys, 1);
	plan_init(&p, &e);
	T_EQ_INT(bad ? plan_rules(&p, bad, RULE_CS, &src->base, hf, one, NULL, &e) : -1, CK_EINVALID,
		"a `when` that fails to evaluate");
	T_HAS(e.msg, "t.yaml:3:26: in 'cs.model.nope + 1'", "... is an error naming the expression");
	T_HAS(e.msg, "(the `when` of rule ", "... and the rule");
	plan_dispose(&p);
	ck_tsrc_free(&src->base);
	rule_set_free(bad);
	json_decref(hf);
	json_decref(two);
	json_decref(one);
}

static rule_set *load_rules(const char *dir)
{
	return load_text(dir, rules);
}

static void test_tied(const char *dir, const rule_set *rs)
{
	ck_err e = {0};
	plan p;
	(void)dir;
	json_t *tied = json_pack("{sb}", "tied", 1), *untied = json_pack("{sb}", "tied", 0), *cs = json_pack("{s{}}", "model");
	static const key hf_keys[] = {{"shared", 1, {2}}};
	mem_src *src = source(hf_keys, 1);
	plan_init(&p, &e);
	T_EQ_INT(plan_rules(&p, rs, RULE_HF, &src->base, tied, cs, NULL, &e), 0, "only the twin present: HF -> CS plans");
	T_EQ_INT(p.n_twins, 3, "... enc, dec and head read from shared");
	T_OK(mem_find(p.out, p.n_out, "E") >= 0 && mem_find(p.out, p.n_out, "D") >= 0 && mem_find(p.out, p.n_out, "H") >= 0,
		"... E, D and H planned");
	T_OK(mem_find(p.out, p.n_out, "model.D") < 0, "... the shadowed rule with the same source keys takes nothing");
	for (size_t g = 0; g < p.n_groups; g++)
		for (size_t i = 0; i < p.g[g].n_in; i++)
			T_EQ_STR(p.g[g].in[i].src ? src->base.t[p.g[g].in[i].idx].name : "(none)", "shared", "every input is shared");
	plan_dispose(&p);
	plan_init(&p, &e);
	T_EQ_INT(plan_rules(&p, rs, RULE_HF, &src->base, untied, cs, NULL, &e), 0, "the tie's when false: plans");
	T_EQ_INT(p.n_twins, 2, "... head is not read from shared");
	T_OK(mem_find(p.out, p.n_out, "H") < 0, "... so no H");
	plan_dispose(&p);
	ck_tsrc_free(&src->base);
	static const key both[] = {{"shared", 1, {2}}, {"dec", 1, {2}}};
	src = source(both, 2);
	plan_init(&p, &e);
	T_EQ_INT(plan_rules(&p, rs, RULE_HF, &src->base, untied, cs, NULL, &e), 0, "a present key: plans");
	long d = mem_find(p.out, p.n_out, "D");
	for (size_t g = 0; d >= 0 && g < p.n_groups; g++)
		if (p.g[g].out[0] == (size_t)d)
			T_EQ_STR(src->base.t[p.g[g].in[0].idx].name, "dec", "... is read itself, not its twin");
	T_EQ_INT(p.n_twins, 1, "... only enc from its twin");
	plan_dispose(&p);
	ck_tsrc_free(&src->base);
	static const key cs_keys[] = {{"E", 1, {2}}};
	src = source(cs_keys, 1);
	plan_init(&p, &e);
	T_EQ_INT(plan_rules(&p, rs, RULE_CS, &src->base, untied, cs, NULL, &e), 0, "CS -> HF with D absent plans");
	T_OK(mem_find(p.out, p.n_out, "dec") >= 0, "... dec from the CS twin E");
	T_EQ_INT(p.n_twins, 1, "... the one CS twin");
	plan_dispose(&p);
	ck_tsrc_free(&src->base);
	json_decref(tied);
	json_decref(untied);
	json_decref(cs);
}

int main(void)
{
	char dir[64] = "/tmp/ckconv-test-plan-XXXXXX";
	ck_err e = {0};
	plan p;
	if (!mkdtemp(dir))
		return 1;
	rule_set *rs = load_rules(dir), *heads = load_text(dir, head_rules);
	with_rules(dir, when_rules, "rules with `when`", test_when);
	with_rules(dir, tied_rules, "rules with `tied`", test_tied);
	rmdir(dir);
	T_OK(rs != NULL, "the rules load");
	if (!rs)
		return t_done();
	json_t *hf = json_object(), *cs = json_pack("{s{}}", "model");

	mem_src *src = source(good, sizeof good / sizeof *good);
	plan_init(&p, &e);
	T_EQ_INT(plan_rules(&p, rs, RULE_HF, &src->base, hf, cs, NULL, &e), 0, "a checkpoint the rules cover plans");
	T_EQ_INT(p.n_problems, 0, "with no problems");
	T_EQ_INT(p.n_out, sizeof want / sizeof *want, "every target is planned");
	T_EQ_INT(p.n_dropped, 1, "the HF-only key is dropped");
	T_EQ_INT(p.n_groups, 6, "two transposes, one stack of three, one duplicate, two creates");
	for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
		long t = mem_find(p.out, p.n_out, want[i].name);
		char sh[64];
		T_OK(t >= 0, "target %s is planned", want[i].name);
		if (t >= 0)
			T_EQ_STR(ck_shape_str(&p.out[t].shape, sh, sizeof sh), want[i].shape, want[i].name);
	}
	for (size_t g = 0; g < p.n_groups; g++) {
		const plan_group *gr = &p.g[g];
		if (gr->kind == PLAN_MOVE && gr->n_act == 1 && gr->act[0].kind == VOCAB_STACK) {
			T_EQ_INT(gr->n_in, 3, "the stack gathers e.0.0, e.0.1, e.0.2");
			T_EQ_STR(src->base.t[gr->in[0].idx].name, "e.0.0", "ordered by the over placeholder, not key order");
			T_EQ_STR(src->base.t[gr->in[2].idx].name, "e.0.2", "up to the last");
		}
		if (gr->kind == PLAN_GEN) {
			T_EQ_INT(gr->gen, VOCAB_FILL, "a created key runs its generator");
			T_OK(gr->fill == 1.5, "with its value");
		}
	}
	plan_dispose(&p);
	ck_tsrc_free(&src->base);

	/* the way back: the stack's inverse unstacks into one key per index; the created keys drop */
	static const key packed[] = {{"W.0", 2, {3, 2}}, {"S.0", 2, {3, 4}}, {"d1", 1, {2}}, {"d2", 1, {2}}, {"made.0", 1, {2}}};
	src = source(packed, sizeof packed / sizeof *packed);
	plan_init(&p, &e);
	T_EQ_INT(plan_rules(&p, rs, RULE_CS, &src->base, hf, cs, NULL, &e), 0, "CS -> HF plans");
	T_OK(mem_find(p.out, p.n_out, "e.0.1") >= 0, "unstack names each index");
	T_OK(mem_find(p.out, p.n_out, "w.0") >= 0 && mem_find(p.out, p.n_out, "dup") >= 0, "transpose and first run back");
	T_EQ_INT(p.n_out, 5, "w.0, e.0.0..2, dup");
	plan_dispose(&p);
	ck_tsrc_free(&src->base);

	/* problems are collected, each naming the key */
	static const key broken[] = {{"w.0", 2, {2, 3}}, {"zzz", 1, {1}}, {"e.1.0", 1, {4}}, {"e.1.2", 1, {4}}};
	src = source(broken, sizeof broken / sizeof *broken);
	plan_init(&p, &e);
	T_EQ_INT(plan_rules(&p, rs, RULE_HF, &src->base, hf, cs, NULL, &e), CK_EINVALID, "a broken checkpoint does not plan");
	T_EQ_INT(p.n_problems, 2, "two problems");
	T_HAS(p.n_problems > 0 ? p.problems[0] : NULL, "zzz: no rule matches this key", "an unmatched key is named");
	T_HAS(p.n_problems > 1 ? p.problems[1] : NULL, "<E> values must run 0..1 without gaps", "a gap in a stack is named");
	T_EQ_INT(plan_check(&p, &e), CK_EINVALID, "plan_check refuses it");
	T_HAS(e.msg, "2 problems", "and counts them");
	plan_dispose(&p);
	ck_tsrc_free(&src->base);

	/* --drop-unmatched-keys turns the unmatched key into a warning */
	static const key extra[] = {{"w.0", 2, {2, 3}}, {"zzz", 1, {1}}};
	plan_opts o = {.drop_unmatched = 1};
	src = source(extra, 2);
	plan_init(&p, &e);
	T_EQ_INT(plan_rules(&p, rs, RULE_HF, &src->base, hf, cs, &o, &e), 0, "dropping unmatched keys plans");
	T_EQ_INT(p.n_warnings, 1, "with one warning");
	plan_dispose(&p);
	ck_tsrc_free(&src->base);

	/* `when`: a false rule lets the later ones match, and the head is created instead */
	T_OK(heads != NULL, "rules with `when` load");
	static const key emb[] = {{"emb", 1, {2}}};
	for (int tied = 0; heads && tied < 2; tied++) {
		json_t *cfg = json_pack("{sb}", "tied", tied);
		src = source(emb, 1);
		plan_init(&p, &e);
		T_EQ_INT(plan_rules(&p, heads, RULE_HF, &src->base, cfg, cs, NULL, &e), 0, tied ? "tied plans" : "untied plans");
		T_EQ_INT(p.n_out, 2, "E and H");
		T_EQ_INT(p.n_groups, tied ? 1 : 2, tied ? "tied: one duplicate" : "untied: a copy and a created head");
		T_OK(p.n_groups == 2 ? p.g[1].kind == PLAN_GEN && p.g[1].gen == VOCAB_NORMAL && p.g[1].seed == 3 : 1,
			"untied: the head is normal(0, std) from the rule's seed");
		T_OK(p.n_groups == 1 ? p.g[0].n_act == 1 && p.g[0].act[0].kind == VOCAB_DUPLICATE : 1, "tied: the embedding twice");
		plan_dispose(&p);
		ck_tsrc_free(&src->base);
		json_decref(cfg);
	}
	rule_set_free(heads);
	json_decref(hf);
	json_decref(cs);
	rule_set_free(rs);
	return t_done();
}
