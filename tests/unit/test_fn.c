/* Unit tests for fn.c: rule-file functions loaded from strings (definitions, includes, calls
 * bound to the call's expressions), the derivation of inverses (what it completes, what it
 * refuses with file:line:col), and the expanded chain run both ways on known data. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "act.h"
#include "buf.h"
#include "fn.h"
#include "t.h"
#include "t_rule.h"

static char dir[64];

static rule_set *load(const char *name, const char *text, ck_err *e)
{
	return t_rules(dir, name, text, e);
}

/* The per-head fused layout (GPT-NeoX, BLOOM) and one on top of it, in a piece. */
static const char *const piece =
	"functions:\n"
	"  qkv_per_head:\n"
	"    doc: rows [heads, (q, k, v), head_dim] -> q, k, v\n"
	"    params: [heads, head_dim]\n"
	"    steps:\n"
	"      - unflatten: {sizes: [heads, 3, head_dim]}\n"
	"      - permute: {axes: [1, 0, 2]}\n"
	"      - flatten: {count: 3}\n"
	"      - split: {parts: 3}\n"
	"  qkv_rope:\n"
	"    params: [heads, head_dim, rot]\n"
	"    steps:\n"
	"      - qkv_per_head: {heads: heads, head_dim: head_dim}\n"
	"      - rope_interleave: {groups: heads, dim: rot, only: [0, 1]}\n";

static const char *const user =
	"model: t\n"
	"functions: {include: qkv}\n"
	"placeholders: {P: 'weight|bias'}\n"
	"keys:\n"
	"  - hf: qkv.<P>\n"
	"    cs: [q.<P>, k.<P>, v.<P>]\n"
	"    action: {qkv_rope: {heads: 2, head_dim: 4, rot: 2 * 1}}\n";

/* Literal parameters only: the tests' calls bind numbers. */
static json_t *no_names(void *ctx, const char *name)
{
	(void)ctx, (void)name;
	return NULL;
}

static int eval(void *ctx, const rule_param *p, vocab_ptype type, act_pval *out, ck_err *e)
{
	json_t *v = NULL;
	int rc = expr_eval(p->x, no_names, ctx, &v, e);
	if (rc)
		return rc;
	if (type == VOCAB_P_LIST) {
		size_t i;
		json_t *it;
		json_array_foreach(v, i, it) out->list[i] = json_integer_value(it);
		out->n = json_array_size(v);
	} else
		out->num = type == VOCAB_P_COND ? expr_truthy(v) : json_number_value(v);
	json_decref(v);
	return 0;
}

/* k's chain for the direction reading side `from`, parameters evaluated: the compile stage's
 * two steps (act_chain_steps, act_chain_resolve). */
static int resolve(const rule_key *k, rule_side from, size_t n_targets, act_inst **out, size_t *n, ck_err *e)
{
	act_step *st = NULL;
	int rc = act_chain_steps(k, from, &st, n, e);
	if (!rc)
		rc = act_chain_resolve(st, *n, n_targets, eval, NULL, out, e);
	free(st);
	return rc;
}

static void test_expansion(void)
{
	ck_err e = {0};
	t_put(dir, "qkv.yaml", piece);
	rule_set *s = load("t.yaml", user, &e);
	T_OK(s != NULL, "a file calling an included function loads");
	if (!s) {
		printf("# %s\n", e.msg);
		return;
	}
	const rule_key *k = &s->keys[0];
	T_EQ_INT(k->n_act, 5, "the call expands into the five primitives of both functions");
	T_EQ_STR(k->act[0].name, "unflatten", "step 1 unflatten");
	T_EQ_STR(k->act[0].p[0].text, "[2, 3, 4]", "heads and head_dim bound to the call's expressions");
	T_EQ_STR(k->act[2].name, "flatten", "step 3 flatten");
	T_EQ_STR(k->act[2].p[1].name, "sizes", "flatten's sizes derived for the inverse");
	T_EQ_STR(k->act[2].p[1].text, "[3, 2, 4]", "... from the unflattened sizes, permuted");
	T_EQ_STR(k->act[4].p[1].text, "(2 * 1)", "an expression argument is bound in parentheses");
	T_HAS(k->act[4].via, "qkv_rope (", "a step names its function");
	T_HAS(k->act[4].via, "qkv.yaml:14:9)", "... and where its step is written");
	T_HAS(k->act[0].via, "qkv.yaml:13:9)", "... a call's steps, where the call is");
	T_OK(k->act[0].pos.line == 7 && k->act[0].pos.col == 14, "errors while running point at the call site");

	/* run it: HF [24, 1] rows -> q, k, v; back gives the input */
	int64_t n = 24;
	act_inst *fw = NULL, *bw = NULL;
	size_t nf = 0, nb = 0;
	T_EQ_INT(resolve(k, RULE_HF, 3, &fw, &nf, &e), 0, "resolve HF -> CS");
	T_EQ_INT(resolve(k, RULE_CS, 1, &bw, &nb, &e), 0, "resolve CS -> HF (the derived inverse)");
	T_OK(nb == 5 && bw[0].kind == VOCAB_ROPE_DEINTERLEAVE && bw[1].kind == VOCAB_CONCAT && bw[2].kind == VOCAB_UNFLATTEN &&
			bw[3].kind == VOCAB_PERMUTE && bw[4].kind == VOCAB_FLATTEN && bw[4].count == 3,
		"the inverse: rope_deinterleave, concat, unflatten, permute, flatten 3");
	act_list in = {1, calloc(1, sizeof(act_t))}, mid = {0}, out = {0};
	in.t[0] = (act_t){.dtype = CK_DT_F32, .shape = {2, {n, 1}}, .nbytes = 96, .data = buf_get(96, NULL), .owned = 1};
	for (int i = 0; i < 24; i++)
		((float *)in.t[0].data)[i] = (float)i;
	T_EQ_INT(act_chain_run(fw, nf, 0, &in, &mid, &e), 0, "forward runs");
	/* heads 2, head_dim 4: head h rows [12h .. 12h+12) = q(4) k(4) v(4); q = rows 0-3, 12-15,
	 * each head's first two rows interleaved (rot 2: rows [0, 1] -> [0, 1]) */
	static const float q[8] = {0, 1, 2, 3, 12, 13, 14, 15}, v[8] = {8, 9, 10, 11, 20, 21, 22, 23};
	int ok = mid.n == 3;
	for (int i = 0; ok && i < 8; i++)
		ok = ((float *)mid.t[0].data)[i] == q[i] && ((float *)mid.t[2].data)[i] == v[i];
	T_OK(ok, "q and v are the heads' q and v rows");
	T_EQ_INT(act_chain_run(bw, nb, 0, &mid, &out, &e), 0, "inverse runs");
	ok = out.n == 1 && out.t[0].shape.rank == 2 && out.t[0].shape.dim[0] == 24;
	for (int i = 0; ok && i < 24; i++)
		ok = ((float *)out.t[0].data)[i] == (float)i;
	T_OK(ok, "the derived inverse gives the input back");
	act_list_dispose(&out);
	free(fw);
	free(bw);
	rule_set_free(s);
}

/* Chains and functions the loader refuses, each with where and why. */
static const struct bad {
	const char *what, *text, *want;
} bad[] = {
	{"flatten of axes of unknown sizes", "model: t\nkeys:\n  - {hf: a, cs: b, action: {flatten: {count: 2}}}\n",
		"b.yaml:3:29: flatten cannot be inverted: the sizes of the axes it merges are not known here"},
	{"a select that drops a tensor",
		"model: t\nkeys:\n  - {hf: a, cs: [b, c], action: [{split: {parts: 3}}, {select: {order: [0, 2]}}]}\n",
		"b.yaml:3:56: select cannot be inverted: order must be a permutation"},
	{"a select that repeats a tensor", "model: t\nkeys:\n  - {hf: a, cs: [b, c], action: [split, {select: {order: [1, 1]}}]}\n",
		"select cannot be inverted"},
	{"a body reading a name that is not a parameter",
		"model: t\nfunctions:\n  f:\n    params: [n]\n    steps: [{unflatten: {sizes: [n, hf.x]}}]\n",
		"b.yaml:5:33: function 'f' reads 'hf', which is not one of its params"},
	{"a body step that cannot be inverted",
		"model: t\nfunctions:\n  f:\n    params: [n]\n    steps: [{flatten: {axis: n}}]\n",
		"b.yaml:5:14: flatten cannot be inverted"},
	{"an unknown primitive in a body", "model: t\nfunctions:\n  f:\n    steps: [permut]\n",
		"b.yaml:4:13: unknown action 'permut' (did you mean 'permute'?)"},
	{"a function named like a primitive", "model: t\nfunctions:\n  split:\n    steps: [copy]\n",
		"b.yaml:3:3: function 'split' is already defined (a primitive of actions.def)"},
	{"a call with an unknown parameter",
		"model: t\nfunctions:\n  f:\n    params: [n]\n    steps: [{roll: {shift: n}}]\nkeys:\n  - {hf: a, cs: b, action: {f: {n: 1, m: 2}}}\n",
		"b.yaml:7:39: function 'f' has no parameter 'm'"},
	{"a call missing a parameter",
		"model: t\nfunctions:\n  f:\n    params: [n]\n    steps: [{roll: {shift: n}}]\nkeys:\n  - {hf: a, cs: b, action: {f: {}}}\n",
		"b.yaml:7:29: function 'f' needs parameter 'n'"},
	{"a function calling itself", "model: t\nfunctions:\n  f:\n    steps: [f]\n", "b.yaml:4:13: unknown action 'f'"},
	{"steps missing", "model: t\nfunctions:\n  f: {params: [n]}\n", "function 'f' needs steps"},
	{"parameters that repeat", "model: t\nfunctions:\n  f: {params: [n, n], steps: [copy]}\n",
		"b.yaml:3:19: function 'f': parameters are distinct identifiers"},
};

static void test_refusals(void)
{
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
		t_rules_refused(dir, "b.yaml", bad[i].text, bad[i].want, bad[i].what);
}

/* What the derivation completes in plain key-rule chains too. */
static void test_derivation(void)
{
	ck_err e = {0};
	rule_set *s = load("d.yaml",
		"model: t\nkeys:\n"
		"  - {hf: a, cs: [b, c], action: [{unflatten: {sizes: [2, 3]}}, {flatten: {}}, {split: {sizes: [2, 4]}}]}\n"
		"  - {hf: [p, q], cs: r, action: [{split: {sizes: [1, 2]}}, {concat: {}}]}\n",
		&e);
	T_OK(s != NULL, "chains with derivable inverses load");
	if (!s) {
		printf("# %s\n", e.msg);
		return;
	}
	T_EQ_STR(s->keys[0].act[1].p[0].text, "[2, 3]", "flatten's sizes from the unflatten before it");
	T_EQ_STR(s->keys[1].act[1].p[0].text, "[1, 2]", "concat of parts known to differ records their sizes");
	rule_set_free(s);
	s = load("d2.yaml",
		"model: t\nkeys:\n  - {hf: [x, y], cs: z, action: [{unflatten: {sizes: [1, 2], only: [0]}},"
		" {unflatten: {sizes: [2, 2], only: [1]}}, {flatten: {only: [0, 1]}}]}\n",
		&e);
	T_OK(s == NULL, "flatten over tensors of unknown count whose sizes differ is refused");
	T_HAS(e.msg, "flatten cannot be inverted", "... as not invertible");
	rule_set_free(s);
	/* the functions of a file are listed for explain and validate */
	t_put(dir, "qkv.yaml", piece);
	rule_file *f = NULL;
	T_EQ_INT(rule_file_load(t_at(dir, "qkv.yaml"), &f, &e), 0, "a piece of functions loads on its own");
	T_EQ_INT(fn_table_count(f ? f->fns : NULL), 2, "two functions");
	const fn_def *d = fn_table_at(f ? f->fns : NULL, 0);
	T_OK(d && !strcmp(d->name, "qkv_per_head") && d->n_params == 2 && d->n_steps == 4 && d->doc, "the first, with its doc");
	T_OK(fn_lookup(f ? f->fns : NULL, "qkv_rope") != NULL && fn_lookup(f ? f->fns : NULL, "nope") == NULL, "lookup by name");
	rule_file_free(f);
}

int main(void)
{
	snprintf(dir, sizeof dir, "/tmp/ck_test_fn_%d", (int)getpid());
	mkdir(dir, 0700);
	test_expansion();
	test_refusals();
	test_derivation();
	const char *names[] = {"qkv.yaml", "t.yaml", "b.yaml", "d.yaml", "d2.yaml"};
	for (size_t i = 0; i < sizeof names / sizeof *names; i++)
		unlink(t_at(dir, names[i]));
	rmdir(dir);
	return t_done();
}
