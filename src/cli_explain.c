/* cli_explain.c - `ckconv explain`: which rule a key meets, what it binds, where it goes,
 * with which action, and where the target maps back to; or, with no match, the nearest rules. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "act.h"
#include "cli.h"
#include "config.h"
#include "match.h"
#include "model.h"
#include "prog.h"
#include "rule.h"
#include "valio.h"

const char cli_explain_usage[] =
	"usage: ckconv explain --model M [--from hf|cs] [--config FILE] [--rules DIR] KEY...\n"
	"\n"
	"For each KEY (spelled as in the --from checkpoint, default hf; CS keys without the packed\n"
	"file's leading 'model.'): the rule that matches (file:line:col), its template and bindings,\n"
	"the target key(s), the action with its parameters (resolved when --config gives the HF\n"
	"config.json or CS params), the key each target maps back to, and for tied duplicates\n"
	"(`tied:`) the twin an absent key is read from or the keys a twin stands in for. With no\n"
	"match: the rules that came closest and where each stopped matching. A model wrapping\n"
	"another (`wrap:`) needs --config: it names the model inside. Exit status 1 if any key has\n"
	"no rule.\n";

typedef struct ex {
	const char *comp; /* component dir, or NULL */
	prog *fwd, *back; /* the rules compiled for --from and for the way back */
	config_env env;   /* hf/cs from --config, for parameters */
} ex;

/* A parameter as written, and its value when --config gives one. */
static void print_param(const ex *x, const prog_rule *r, const rule_param *p, int placeholder)
{
	config_env env = x->env;
	json_t *v = NULL;
	ck_err e = {0};
	env.scope = r->key->scope;
	printf("%s: %s", p->name, p->text);
	if (!placeholder && !expr_is_literal(p->x)) {
		if ((x->env.hf || x->env.cs) && config_eval(&env, p->x, &v, &e) == 0 && v) {
			char *s = json_dumps(v, JSON_ENCODE_ANY);
			printf(" = %s", s ? s : "?");
			free(s);
		} else {
			printf(" = ? (%s)", e.code ? e.msg : "pass --config to resolve");
		}
	}
	json_decref(v);
}

/* The chain as this direction runs it (the program's steps). */
static void print_steps(const ex *x, const prog_rule *r)
{
	for (size_t i = 0; i < r->n_step; i++) {
		const act_step *st = &r->step[i];
		const rule_act *a = st->as_written, *prev = i ? r->step[i - 1].as_written : NULL;
		size_t fl = a->via ? strcspn(a->via, " ") : 0;
		printf("%s", i ? ", then " : "");
		if (a->via && (!prev || !prev->via || strncmp(prev->via, a->via, fl + 1))) /* a call's first step */
			printf("[%.*s] ", (int)fl, a->via);
		printf("%s", vocab_name(st->kind));
		if (a->n)
			printf("(");
		for (size_t j = 0; j < a->n; j++) {
			printf("%s", j ? ", " : "");
			print_param(x, r, &a->p[j], vocab_get(a->kind)->p[a->p[j].slot].type == VOCAB_P_PLACEHOLDER);
		}
		if (a->n)
			printf(")");
	}
	if (!r->n_step)
		printf("copy");
	if (r->n_step && r->step[0].inverse)
		printf("  [the rule's chain inverted: each action's inverse, last first]");
	printf("\n");
}

static void print_back(const ex *x, const char *target, const char *orig)
{
	match_hit h;
	ck_err e = {0};
	char *name = NULL;
	if (prog_match(x->back, target, &h, &e) <= 0) {
		printf("  back     %s -> no rule matches it in the other direction!\n", target);
		return;
	}
	const prog_rule *r = &x->back->r[h.rule];
	const rule_key *k = r->key;
	size_t n = r->n_tpl[PROG_DST];
	if (!n) {
		printf("  back     %s -> dropped (%s:%d:%d)\n", target, k->pos.file, k->pos.line, k->pos.col);
		return;
	}
	const match_tpl *t = &r->tpl[PROG_DST][n == 1 ? 0 : (h.slot < n ? h.slot : 0)];
	if (match_fill(t, &h.b, &name, &e)) {
		printf("  back     %s -> %s (%s:%d:%d; one of several keys stacked along an axis)\n", target, t->text,
			k->pos.file, k->pos.line, k->pos.col);
		return;
	}
	printf("  back     %s -> %s (%s:%d:%d)%s\n", target, name, k->pos.file, k->pos.line, k->pos.col,
		strcmp(name, orig) ? "" : "  round trip ok");
	free(name);
}

/* The same rule met through two includes (with and without a prefix) is one rule to the
 * reader: listed once. */
static int same_place(const prog *p, const match_near *a, const match_near *b)
{
	const prog_rule *x = &p->r[a->rule], *y = &p->r[b->rule];
	const rule_pos *pa = &x->key->pos, *pb = &y->key->pos;
	return pa->line == pb->line && pa->col == pb->col && !strcmp(pa->file, pb->file) &&
		!strcmp(x->tpl[PROG_SRC][a->slot].text, y->tpl[PROG_SRC][b->slot].text);
}

static void print_near(const ex *x, const char *key)
{
	match_near near[12];
	size_t n, shown = 0;
	match_closest(x->fwd->m, key, near, sizeof near / sizeof *near, &n);
	printf("%s: no rule matches this %s key%s%s%s. Closest rules:\n", key, rule_side_label(x->fwd->from),
		x->comp ? " (component " : "", x->comp ? x->comp : "", x->comp ? ")" : "");
	for (size_t i = 0; i < n && shown < 3; i++) {
		int dup = 0;
		for (size_t j = 0; j < i && !dup; j++)
			dup = same_place(x->fwd, &near[i], &near[j]);
		if (dup)
			continue;
		const prog_rule *r = &x->fwd->r[near[i].rule];
		const rule_key *k = r->key;
		printf("  %s:%d:%d  %s\n      matches '%.*s' then stops at column %zu ('%s')\n", k->pos.file, k->pos.line,
			k->pos.col, r->tpl[PROG_SRC][near[i].slot].text, (int)near[i].matched, key, near[i].matched + 1,
			key + near[i].matched);
		shown++;
	}
}

/* The rule's shape: per end, evaluated with the key's bindings when a config is given. */
static void print_shapes(const ex *x, const prog_rule *r, const match_bind *b)
{
	const expr *const *sh = r->shape;
	int same = sh[PROG_SRC] && sh[PROG_DST] && !strcmp(expr_src(sh[PROG_SRC]), expr_src(sh[PROG_DST]));
	json_t *vars = json_object();
	for (size_t i = 0; vars && i < b->n; i++)
		json_object_set_new(vars, b->name[i], b->num[i] >= 0 ? json_integer(b->num[i]) : json_string(b->val[i]));
	for (int end = 0; end < 2; end++) {
		config_env env = x->env;
		json_t *v = NULL;
		ck_err e = {0};
		rule_side side = end == PROG_SRC ? x->fwd->from : x->fwd->to;
		if (!sh[end] || (same && end == PROG_DST))
			continue; /* one expression for both sides: shown once */
		env.scope = r->key->scope;
		env.vars = vars;
		printf("  shape    %s: %s", same ? "hf, cs" : rule_side_name(side), expr_src(sh[end]));
		if ((x->env.hf || x->env.cs) && config_eval(&env, sh[end], &v, &e) == 0) {
			char *t = v ? json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;
			printf(" = %s\n", t ? t : "null (no check)");
			free(t);
		} else {
			printf(" = ? (%s)\n", e.code ? e.msg : "pass --config to resolve");
		}
		json_decref(v);
	}
	json_decref(vars);
}

/* A tie's `when`, and its value when --config gives one. */
static void print_tie_when(const ex *x, const rule_key *k)
{
	config_env env = x->env;
	json_t *v = NULL;
	ck_err e = {0};
	if (!k->twin_when)
		return;
	env.scope = k->scope;
	printf(" (while %s", expr_src(k->twin_when));
	if ((x->env.hf || x->env.cs) && config_eval(&env, k->twin_when, &v, &e) == 0)
		printf(" = %s", expr_truthy(v) ? "true" : "false: no tie, the key must be in the checkpoint");
	printf(")");
	json_decref(v);
}

/* Rule i ties to key as an earlier rule of the same place does (one rule met through two
 * includes, with and without a prefix on the other side): shown once. */
static int met_before(const prog *p, size_t i, const char *key)
{
	const rule_pos *a = &p->r[i].key->pos;
	for (size_t j = 0; j < i; j++) {
		const rule_pos *b = &p->r[j].key->pos;
		if (p->r[j].twin && !strcmp(p->r[j].twin, key) && a->line == b->line && a->col == b->col &&
			!strcmp(a->file, b->file))
			return 1;
	}
	return 0;
}

/* `tied:` as it concerns key: where the key is read from when a checkpoint leaves it out (its
 * rule's twin), and which absent keys of other rules are read from it. */
static void print_tied(const ex *x, const prog_rule *r, const char *key)
{
	if (r->twin && strcmp(r->twin, key)) {
		printf("  tied     absent from the checkpoint, it is read from its twin %s", r->twin);
		print_tie_when(x, r->key);
		printf("\n");
	}
	for (size_t i = 0; i < x->fwd->n; i++) { /* its own rule's other keys too, when it is their twin */
		const prog_rule *o = &x->fwd->r[i];
		if (!o->twin || strcmp(o->twin, key) || met_before(x->fwd, i, key))
			continue;
		for (size_t j = 0; j < o->n_tpl[PROG_SRC]; j++) /* tied rules' keys are literal */
			if (strcmp(o->tpl[PROG_SRC][j].text, key)) {
				printf("  tied     stands in for %s (%s:%d:%d) when a checkpoint leaves that out", o->tpl[PROG_SRC][j].text,
					o->key->pos.file, o->key->pos.line, o->key->pos.col);
				print_tie_when(x, o->key);
				printf("\n");
			}
	}
}

/* 1 if explained, 0 if no rule matched. */
static int explain_key(const ex *x, const char *key)
{
	match_hit h;
	ck_err e = {0};
	int found = prog_match(x->fwd, key, &h, &e);
	if (found <= 0)
		return 0;
	const prog_rule *r = &x->fwd->r[h.rule];
	const rule_key *k = r->key;
	const match_tpl *dst = r->tpl[PROG_DST];
	size_t nd = r->n_tpl[PROG_DST];
	printf("%s (%s -> %s%s%s)\n", key, rule_side_name(x->fwd->from), rule_side_name(x->fwd->to),
		x->comp ? ", component " : "", x->comp ? x->comp : "");
	printf("  rule     %s:%d:%d\n  template %s\n", k->pos.file, k->pos.line, k->pos.col, r->tpl[PROG_SRC][h.slot].text);
	if (k->when)
		printf("  when     %s (while false, the later rules apply)\n", expr_src(k->when));
	print_tied(x, r, key);
	if (h.b.n) {
		printf("  binds   ");
		for (size_t i = 0; i < h.b.n; i++)
			printf(" <%s> = %s", h.b.name[i], h.b.val[i]);
		printf("\n");
	}
	if (!nd) {
		printf("  target   none: the key exists on this side only and is dropped%s\n",
			k->creates ? " (the way back rebuilds it)" : "");
		return 1;
	}
	for (size_t i = 0; i < nd; i++) {
		char *t = NULL;
		if (match_fill(&dst[i], &h.b, &t, &e)) {
			printf("  target   %s (one per value of the stacked placeholder)\n", dst[i].text);
			continue;
		}
		printf("  target   %s\n", t);
		free(t);
	}
	printf("  action   ");
	print_steps(x, r);
	print_shapes(x, r, &h.b);
	for (size_t i = 0; i < nd; i++) {
		char *t = NULL;
		if (!match_fill(&dst[i], &h.b, &t, &e))
			print_back(x, t, key);
		free(t);
	}
	return 1;
}

static int load_config(const char *path, json_t **hf, json_t **cs, ck_err *e)
{
	size_t n = strlen(path);
	if (n > 5 && !strcmp(path + n - 5, ".json"))
		return valio_json_load(path, hf, e);
	json_t *p = NULL, *m;
	int rc = valio_yaml_load(path, &p, e);
	if (rc)
		return rc;
	/* the model section, flat or trainer-style, as convert reads it */
	if (!json_is_object(m = config_params_model(p)))
		rc = ck_errf(e, CK_EINVALID, "%s: no 'model:' mapping (nor trainer.init.model)", path);
	else if (!(*cs = json_pack("{sO}", "model", m)))
		rc = ck_errf(e, CK_ENOMEM, "out of memory");
	json_decref(p);
	return rc;
}

/* *cs = {model: <HF config converted by the model's config rules>}. */
static int hf_to_cs(const rule_set *rs, const json_t *hf, const char *where, json_t **cs, ck_err *e)
{
	json_t *model = NULL;
	int rc = config_convert(rs, 0, hf, where, &model, NULL, e);
	if (!rc && !(*cs = json_pack("{so}", "model", model)))
		rc = ck_errf(e, CK_ENOMEM, "out of memory");
	return rc;
}

/* cs's model section in the layout the rules read (config.cs_layout.to_hf). */
static int cs_layout(const rule_set *rs, json_t *cs, const char *where, ck_err *e)
{
	json_t *model = json_incref(json_object_get(cs, "model"));
	int rc = json_is_object(model) ? config_layout(rs, RULE_HF, &model, NULL, where, e) : 0;
	if (!rc && model && json_object_set(cs, "model", model))
		rc = ck_errf(e, CK_ENOMEM, "out of memory");
	json_decref(model);
	return rc;
}

const struct option cli_explain_opts[] = {{"model", required_argument, NULL, 'm'}, {"from", required_argument, NULL, 'f'},
	{"config", required_argument, NULL, 'c'}, {"rules", required_argument, NULL, 'r'},
	{"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};

int cli_explain(int argc, char **argv, ck_err *e)
{
	const char *name = NULL, *from = "hf", *config = NULL, *rules = NULL, *v;
	char *dir = NULL;
	model *m = NULL;
	json_t *hf = NULL, *cs = NULL;
	int rc = 0, missing = 0, nkeys = 0, c;
	const char **keys = calloc((size_t)argc + 1, sizeof *keys);
	if (!keys)
		return ck_errf(e, CK_ENOMEM, "out of memory");
	for (optind = 0; (c = cli_getopt(argc, argv, "explain", "h", cli_explain_opts, &v, e)) != -1;) {
		switch (c) {
		case CLI_OPT_ERROR: rc = CK_EUSAGE; goto done;
		case 'h': fputs(cli_explain_usage, stdout); goto done;
		case 'm': name = v; break;
		case 'f': from = v; break;
		case 'c': config = v; break;
		case 'r': rules = v; break;
		default: keys[nkeys++] = v; /* an operand: a key */
		}
	}
	if (!name || !nkeys) {
		rc = ck_errf(e, CK_EUSAGE, "explain needs --model M and at least one KEY (see ckconv explain --help)");
		goto done;
	}
	if (strcmp(from, "hf") && strcmp(from, "cs")) {
		rc = ck_errf(e, CK_EUSAGE, "--from takes hf or cs, not '%s'", from);
		goto done;
	}
	dir = cli_rules_dir(rules);
	if (config && (rc = load_config(config, &hf, &cs, e)))
		goto done;
	/* the config names a wrapper's model inside (model.c), as for convert */
	model_query q = {.rules_dir = dir, .name = name, .hf = hf, .cs = cs, .where = config};
	if ((rc = model_open(&q, &m, e)) || (rc = model_wrapped(m, e)))
		goto done;
	const rule_file *f = model_file(m);
	/* parameters read cs.model.*: derive the CS params from a config.json, or lay the params out
	 * as the rules read them, as convert does */
	if (hf && !f->n_comp && (rc = hf_to_cs(m->sets[0], hf, config, &cs, e)))
		goto done;
	if (!hf && cs && (rc = cs_layout(m->top, cs, config, e)))
		goto done;
	size_t ncomp = m->n;
	ex *xs = calloc(ncomp, sizeof *xs);
	if (!xs) {
		rc = ck_errf(e, CK_ENOMEM, "out of memory");
		goto done;
	}
	rule_side side = strcmp(from, "cs") ? RULE_HF : RULE_CS;
	for (size_t c = 0; c < ncomp && !rc; c++) {
		rule_set *rs = m->sets[c];
		xs[c].comp = model_comp(m, c) ? model_comp(m, c)->dir : NULL;
		xs[c].env.hf = xs[c].comp && hf ? json_object_get(hf, xs[c].comp) : hf;
		xs[c].env.cs = cs;
		/* every rule, whatever its `when`: explain shows what the rules say */
		if ((rc = prog_compile(rs, side, NULL, &xs[c].fwd, e)) || (rc = prog_compile(rs, !side, NULL, &xs[c].back, e)))
			break;
	}
	for (int i = 0; i < nkeys && !rc; i++) {
		int found = 0;
		for (size_t c = 0; c < ncomp && !found; c++)
			found = explain_key(&xs[c], keys[i]);
		if (!found) {
			for (size_t c = 0; c < ncomp; c++)
				print_near(&xs[c], keys[i]);
			missing++;
		}
	}
	for (size_t c = 0; c < ncomp; c++) {
		prog_free(xs[c].fwd);
		prog_free(xs[c].back);
	}
	free(xs);
	if (!rc && missing)
		rc = ck_errf(e, CK_ENOTFOUND, "%d key(s) matched no rule", missing);
done:
	json_decref(hf);
	json_decref(cs);
	model_free(m);
	free(dir);
	free(keys);
	return rc;
}
