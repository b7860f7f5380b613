/* cli_explain.c - `ckconv explain`: which rule a key meets, what it binds, where it goes,
 * with which action, and where the target maps back to; or, with no match, the nearest rules. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "act.h"
#include "cli.h"
#include "config.h"
#include "match.h"
#include "rule.h"
#include "valio.h"

static const char usage[] =
	"usage: ckconv explain --model M [--from hf|cs] [--config FILE] [--rules DIR] KEY...\n"
	"\n"
	"For each KEY (spelled as in the --from checkpoint, default hf; CS keys without the packed\n"
	"file's leading 'model.'): the rule that matches (file:line:col), its template and bindings,\n"
	"the target key(s), the action with its parameters (resolved when --config gives the HF\n"
	"config.json or CS params), and the key each target maps back to. With no match: the rules\n"
	"that came closest and where each stopped matching. Exit status 1 if any key has no rule.\n";

static const char *const side_name[2] = {[RULE_HF] = "hf", [RULE_CS] = "cs"};

typedef struct ex {
	const rule_set *rs;
	const char *comp; /* component dir, or NULL */
	match_prog *fwd, *back;
	config_env env;      /* hf/cs from --config, for parameters */
	int dir;
} ex;

static void print_params(const ex *x, const rule_key *k)
{
	for (size_t i = 0; i < k->n_act; i++) {
		const rule_act *a = &k->act[i], *prev = i ? &k->act[i - 1] : NULL;
		size_t fl = a->via ? strcspn(a->via, " ") : 0;
		printf("%s", i ? ", then " : "");
		if (a->via && (!prev || !prev->via || strncmp(prev->via, a->via, fl + 1))) /* a call's first step */
			printf("[%.*s] ", (int)fl, a->via);
		printf("%s", a->name);
		if (a->n)
			printf("(");
		for (size_t j = 0; j < a->n; j++) {
			config_env env = x->env;
			json_t *v = NULL;
			ck_err e = {0};
			env.scope = k->scope;
			printf("%s%s: %s", j ? ", " : "", a->p[j].name, a->p[j].text);
			if (vocab_get(a->kind)->p[a->p[j].slot].type != VOCAB_P_PLACEHOLDER && !expr_is_literal(a->p[j].x)) {
				if ((x->env.hf || x->env.cs) && config_eval(&env, a->p[j].x, &v, &e) == 0 && v) {
					char *s = json_dumps(v, JSON_ENCODE_ANY);
					printf(" = %s", s ? s : "?");
					free(s);
				} else {
					printf(" = ? (%s)", e.code ? e.msg : "pass --config to resolve");
				}
			}
			json_decref(v);
		}
		if (a->n)
			printf(")");
	}
	if (!k->n_act)
		printf("copy");
	if (x->dir == 1 && k->n_act)
		printf("  [CS -> HF runs the inverses, last first]");
	printf("\n");
}

static void print_back(const ex *x, const char *target, const char *orig)
{
	match_hit h;
	ck_err e = {0};
	char *name = NULL;
	if (match_key(x->back, target, &h, &e) <= 0) {
		printf("  back     %s -> no rule matches it in the other direction!\n", target);
		return;
	}
	const rule_key *k = &x->rs->keys[h.rule];
	char **tpl = k->tpl[x->dir];
	size_t n = k->n_tpl[x->dir];
	if (!n) {
		printf("  back     %s -> dropped (%s:%d:%d)\n", target, k->pos.file, k->pos.line, k->pos.col);
		return;
	}
	const char *t = tpl[n == 1 ? 0 : (h.slot < n ? h.slot : 0)];
	if (match_fill(k, t, &h.b, &name, &e)) {
		printf("  back     %s -> %s (%s:%d:%d; one of several keys stacked along an axis)\n", target, t, k->pos.file,
			k->pos.line, k->pos.col);
		return;
	}
	printf("  back     %s -> %s (%s:%d:%d)%s\n", target, name, k->pos.file, k->pos.line, k->pos.col,
		strcmp(name, orig) ? "" : "  round trip ok");
	free(name);
}

static void print_near(const ex *x, const char *key)
{
	match_near near[3];
	size_t n;
	match_closest(x->fwd, key, near, 3, &n);
	printf("%s: no rule matches this %s key%s%s%s. Closest rules:\n", key, x->dir == RULE_HF ? "HF" : "CS",
		x->comp ? " (component " : "", x->comp ? x->comp : "", x->comp ? ")" : "");
	for (size_t i = 0; i < n; i++) {
		const rule_key *k = &x->rs->keys[near[i].rule];
		char **tpl = k->tpl[x->dir];
		printf("  %s:%d:%d  %s\n      matches '%.*s' then stops at column %zu ('%s')\n", k->pos.file, k->pos.line,
			k->pos.col, tpl[near[i].slot], (int)near[i].matched, key, near[i].matched + 1, key + near[i].matched);
	}
}

/* The rule's shape: per side, evaluated with the key's bindings when a config is given. */
static void print_shapes(const ex *x, const rule_key *k, const match_bind *b)
{
	static const char *const side[] = {"hf", "cs", "hf, cs"};
	int same = k->shape[0] && k->shape[1] && !strcmp(expr_src(k->shape[0]), expr_src(k->shape[1]));
	json_t *vars = json_object();
	for (size_t i = 0; vars && i < b->n; i++)
		json_object_set_new(vars, b->name[i], b->num[i] >= 0 ? json_integer(b->num[i]) : json_string(b->val[i]));
	for (int s = 0; s < 2; s++) {
		config_env env = x->env;
		json_t *v = NULL;
		ck_err e = {0};
		if (!k->shape[s] || (same && s == 1))
			continue; /* one expression for both sides: shown once */
		env.scope = k->scope;
		env.vars = vars;
		printf("  shape    %s: %s", side[same ? 2 : s], expr_src(k->shape[s]));
		if ((x->env.hf || x->env.cs) && config_eval(&env, k->shape[s], &v, &e) == 0) {
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

/* 1 if explained, 0 if no rule matched. */
static int explain_key(const ex *x, const char *key)
{
	match_hit h;
	ck_err e = {0};
	int r = match_key(x->fwd, key, &h, &e);
	if (r <= 0)
		return 0;
	const rule_key *k = &x->rs->keys[h.rule];
	char **src = k->tpl[x->dir], **dst = k->tpl[!x->dir];
	size_t nd = k->n_tpl[!x->dir];
	printf("%s (%s -> %s%s%s)\n", key, side_name[x->dir], side_name[!x->dir], x->comp ? ", component " : "",
		x->comp ? x->comp : "");
	printf("  rule     %s:%d:%d\n  template %s\n", k->pos.file, k->pos.line, k->pos.col, src[h.slot]);
	if (k->when)
		printf("  when     %s (while false, the later rules apply)\n", expr_src(k->when));
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
		if (match_fill(k, dst[i], &h.b, &t, &e)) {
			printf("  target   %s (one per value of the stacked placeholder)\n", dst[i]);
			continue;
		}
		printf("  target   %s\n", t);
		free(t);
	}
	printf("  action   ");
	print_params(x, k);
	print_shapes(x, k, &h.b);
	for (size_t i = 0; i < nd; i++) {
		char *t = NULL;
		if (!match_fill(k, dst[i], &h.b, &t, &e))
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
	json_t *p = NULL;
	int rc = valio_yaml_load(path, &p, e);
	if (!rc)
		*cs = p;
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

int cli_explain(int argc, char **argv, ck_err *e)
{
	const char *model = NULL, *from = "hf", *config = NULL, *rules = NULL, *v;
	char *dir = NULL, *path = NULL;
	rule_set *top = NULL, **comps = NULL;
	json_t *hf = NULL, *cs = NULL;
	int rc = 0, missing = 0, nkeys = 0, c;
	static const struct option opts[] = {{"model", required_argument, NULL, 'm'}, {"from", required_argument, NULL, 'f'},
		{"config", required_argument, NULL, 'c'}, {"rules", required_argument, NULL, 'r'},
		{"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
	const char **keys = calloc((size_t)argc + 1, sizeof *keys);
	if (!keys)
		return ck_errf(e, CK_ENOMEM, "out of memory");
	for (optind = 0; (c = cli_getopt(argc, argv, "explain", "h", opts, &v, e)) != -1;) {
		switch (c) {
		case CLI_OPT_ERROR: rc = CK_EINVALID; goto done;
		case 'h': fputs(usage, stdout); goto done;
		case 'm': model = v; break;
		case 'f': from = v; break;
		case 'c': config = v; break;
		case 'r': rules = v; break;
		default: keys[nkeys++] = v; /* an operand: a key */
		}
	}
	if (!model || !nkeys) {
		rc = ck_errf(e, CK_EINVALID, "explain needs --model M and at least one KEY (see ckconv explain --help)");
		goto done;
	}
	if (strcmp(from, "hf") && strcmp(from, "cs")) {
		rc = ck_errf(e, CK_EINVALID, "--from takes hf or cs, not '%s'", from);
		goto done;
	}
	dir = cli_rules_dir(rules);
	if ((rc = rule_find_model(dir, model, &path, e)) || (rc = rule_set_load(path, &top, e)))
		goto done;
	if (config && (rc = load_config(config, &hf, &cs, e)))
		goto done;
	const rule_file *f = top->files[0];
	/* parameters read cs.model.*: derive the CS params from a config.json, as convert does */
	if (hf && !f->n_comp && (rc = hf_to_cs(top, hf, config, &cs, e)))
		goto done;
	size_t ncomp = f->n_comp ? f->n_comp : 1;
	ex *xs = calloc(ncomp, sizeof *xs);
	if (!xs) {
		rc = ck_errf(e, CK_ENOMEM, "out of memory");
		goto done;
	}
	if (f->n_comp && (rc = rule_load_components(top, &comps, e))) {
		free(xs);
		goto done;
	}
	for (size_t c = 0; c < ncomp && !rc; c++) {
		rule_set *rs = f->n_comp ? comps[c] : top;
		xs[c].comp = f->n_comp ? f->comp[c].dir : NULL;
		xs[c].rs = rs;
		xs[c].dir = !strcmp(from, "cs");
		xs[c].env.hf = f->n_comp && hf ? json_object_get(hf, f->comp[c].dir) : hf;
		xs[c].env.cs = cs;
		if ((rc = match_compile(rs, xs[c].dir, &xs[c].fwd, e)) ||
			(rc = match_compile(rs, !xs[c].dir, &xs[c].back, e)))
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
		match_free(xs[c].fwd);
		match_free(xs[c].back);
	}
	free(xs);
	rule_components_free(comps, f->n_comp);
	if (!rc && missing)
		rc = ck_errf(e, CK_ENOTFOUND, "%d key(s) matched no rule", missing);
done:
	json_decref(hf);
	json_decref(cs);
	rule_set_free(top);
	free(dir);
	free(path);
	free(keys);
	return rc;
}
