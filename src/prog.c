/* prog.c - the compile stage: rule AST + direction (+ config) -> the program every later stage
 * reads. The only place that turns a direction into "which side is the source". */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "config.h"
#include "prog.h"

/* The placeholder a stacking action gathers over (its PLACEHOLDER parameter), or NULL. */
static const char *over_of(const rule_key *k)
{
	for (size_t i = 0; i < k->n_act; i++) {
		int slot = vocab_placeholder_param(k->act[i].kind);
		for (size_t j = 0; slot >= 0 && j < k->act[i].n; j++)
			if (k->act[i].p[j].slot == slot)
				return k->act[i].p[j].text;
	}
	return NULL;
}

static int parse_tpls(const rule_key *k, rule_side side, prog_rule *r, prog_end end, ck_err *e)
{
	size_t n = k->n_tpl[side];
	if (n && !(r->tpl[end] = ck_calloc(e, n, sizeof *r->tpl[end])))
		return CK_ENOMEM;
	for (size_t i = 0; i < n; i++) {
		int rc = match_tpl_parse(k->tpl[side][i], k->pos, &r->tpl[end][i], e);
		if (rc)
			return rc;
		r->n_tpl[end]++;
	}
	return 0;
}

/* The direction-independent part of the rule becomes the direction's: ends, chain, shapes. */
static int compile_rule(const rule_key *k, rule_side from, rule_side chain_from, prog_rule *r, ck_err *e)
{
	rule_side to = !from;
	int rc;
	r->key = k;
	if ((rc = parse_tpls(k, from, r, PROG_SRC, e)) || (rc = parse_tpls(k, to, r, PROG_DST, e)))
		return rc;
	if ((rc = act_chain_steps(k, chain_from, &r->step, &r->n_step, e)))
		return rc;
	r->over = over_of(k);
	r->shape[PROG_SRC] = k->shape[from];
	r->shape[PROG_DST] = k->shape[to];
	r->creates = k->creates && k->n_tpl[to] && !k->n_tpl[from];
	r->twin = k->twin[from];
	return 0;
}

/* A `when` of rule k on the config into *holds; what names the `when` in an error. */
static int decide(const rule_key *k, const expr *when, const char *what, const prog_cfg *cfg, int *holds, ck_err *e)
{
	json_t *vars = json_object(), *v = NULL;
	ck_err pe = {0};
	int rc = 0;
	if (!vars)
		return ck_errf(e, CK_ENOMEM, "out of memory");
	config_env env = {.hf = cfg->hf, .cs = cfg->cs, .scope = k->scope, .vars = vars};
	if (config_eval(&env, when, &v, &pe))
		rc = ck_errf(e, CK_EINVALID, "%s (the `when` of %s %s:%d:%d)", pe.msg, what, k->pos.file, k->pos.line,
			k->pos.col);
	else
		*holds = expr_truthy(v);
	json_decref(v);
	json_decref(vars);
	return rc;
}

/* A rule's `when` on the config: r->off when false (the rule is then not in force); its tie's
 * `when`: no twin when false. */
static int decide_when(prog_rule *r, const prog_cfg *cfg, ck_err *e)
{
	const rule_key *k = r->key;
	int holds = 1, rc = 0;
	if (k->when && !(rc = decide(k, k->when, "rule", cfg, &holds, e)))
		r->off = !holds;
	if (!rc && r->twin && k->twin_when && !(rc = decide(k, k->twin_when, "the tie of rule", cfg, &holds, e)) && !holds)
		r->twin = NULL;
	return rc;
}

/* A LIST parameter: a list of at most ACT_MAX_LIST integers. */
static int eval_list(const rule_param *p, const json_t *v, act_pval *out, ck_err *e)
{
	size_t i;
	json_t *it;
	if (!json_is_array(v) || json_array_size(v) > ACT_MAX_LIST)
		return ck_errf(e, CK_EINVALID, "%s:%d:%d: %s: expected a list of at most %d integers", p->pos.file,
			p->pos.line, p->pos.col, expr_src(p->x), ACT_MAX_LIST);
	json_array_foreach(v, i, it) {
		double d = json_is_real(it) ? json_real_value(it) : 0.5; /* integral reals pass, as config_eval_int */
		if (!json_is_integer(it) && (d != floor(d) || fabs(d) >= 9e15))
			return ck_errf(e, CK_EINVALID, "%s:%d:%d: %s: item %zu is not an integer", p->pos.file, p->pos.line,
				p->pos.col, expr_src(p->x), i);
		out->list[i] = json_is_integer(it) ? (long long)json_integer_value(it) : (long long)d;
	}
	out->n = json_array_size(v);
	return 0;
}

/* Parameters are read with the config's names and the rule's `let`s. */
static int eval_param(void *vctx, const rule_param *p, vocab_ptype type, act_pval *out, ck_err *e)
{
	config_env *env = vctx;
	json_t *v = NULL;
	long long i;
	int rc;
	if (type == VOCAB_P_INT) {
		rc = config_eval_int(env, p->x, &i, e);
		out->num = (double)i;
		return rc;
	}
	if ((rc = config_eval(env, p->x, &v, e)))
		return rc;
	if (type == VOCAB_P_COND)
		out->num = expr_truthy(v);
	else if (type == VOCAB_P_LIST)
		rc = eval_list(p, v, out, e);
	else if (json_is_number(v))
		out->num = json_number_value(v);
	else
		rc = ck_errf(e, CK_EINVALID, "%s: not a number", expr_src(p->x));
	json_decref(v);
	return rc;
}

/* The rule's parameters, once for the program: r->inst, or r->err when they do not evaluate. */
static int bind_params(prog_rule *r, const prog_cfg *cfg, size_t n_targets, ck_err *e)
{
	config_env env = {.hf = cfg->hf, .cs = cfg->cs, .scope = r->key->scope, .vars = cfg->vars};
	ck_err pe = {0};
	int rc = act_chain_resolve(r->step, r->n_step, n_targets, eval_param, &env, &r->inst, &pe);
	if (rc == CK_ENOMEM)
		return ck_errf(e, CK_ENOMEM, "out of memory");
	if (rc && !(r->err = strdup(pe.msg)))
		return ck_errf(e, CK_ENOMEM, "out of memory");
	return 0;
}

/* The source templates of the rules in force, as one match program: a rule that is off keeps
 * its place (hits index p->r) but has no source template, so its keys fall through. */
static int compile_match(prog *p, const rule_key *keys, const rule_set *rs, rule_side match_side, ck_err *e)
{
	rule_key *view = ck_calloc(e, p->n ? p->n : 1, sizeof *view);
	int rc;
	if (!view)
		return CK_ENOMEM;
	for (size_t i = 0; i < p->n; i++) {
		view[i] = keys[i];
		if (p->r[i].off)
			view[i].n_tpl[match_side] = 0;
	}
	if (rs) {
		rule_set v = *rs;
		v.keys = view;
		rc = match_compile(&v, match_side, &p->m, e);
	} else {
		rc = match_compile_keys(view, p->n, match_side, &p->m, e);
	}
	free(view);
	return rc;
}

/* keys read from side `from`; their chains run as read from chain_from (muP ops run as
 * written); split/duplicate default to n_targets parts (0: the rule's target count). */
static int compile(const rule_set *rs, const rule_key *keys, size_t n, rule_side from, rule_side chain_from,
	size_t n_targets, const prog_cfg *cfg, prog **out, ck_err *e)
{
	prog *p = ck_calloc(e, 1, sizeof *p);
	int rc = 0;
	*out = NULL;
	if (!p)
		return CK_ENOMEM;
	p->from = from;
	p->to = !from;
	p->rs = rs;
	if (n && !(p->r = ck_calloc(e, n, sizeof *p->r))) {
		rc = CK_ENOMEM;
		goto fail;
	}
	for (size_t i = 0; i < n && !rc; i++, p->n++)
		rc = compile_rule(&keys[i], from, chain_from, &p->r[i], e);
	for (size_t i = 0; cfg && i < n && !rc; i++)
		rc = decide_when(&p->r[i], cfg, e);
	if (rc || (rc = compile_match(p, keys, rs, from, e)))
		goto fail;
	for (size_t i = 0; cfg && i < n && !rc; i++)
		if (p->r[i].n_step && !p->r[i].off)
			rc = bind_params(&p->r[i], cfg, n_targets ? n_targets : p->r[i].n_tpl[PROG_DST], e);
	if (rc)
		goto fail;
	*out = p;
	return 0;
fail:
	prog_free(p);
	return rc;
}

int prog_compile(const rule_set *rs, rule_side from, const prog_cfg *cfg, prog **out, ck_err *e)
{
	return compile(rs, rs->keys, rs->n_keys, from, from, 0, cfg, out, e);
}

int prog_compile_mup(const rule_mup *m, const prog_cfg *cfg, prog **out, ck_err *e)
{
	return compile(NULL, m->tensors, m->n_tensors, RULE_CS, RULE_HF, 1, cfg, out, e);
}

void prog_free(prog *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->n; i++) {
		prog_rule *r = &p->r[i];
		for (int end = 0; end < 2; end++) {
			for (size_t j = 0; j < r->n_tpl[end]; j++)
				match_tpl_dispose(&r->tpl[end][j]);
			free(r->tpl[end]);
		}
		free(r->step);
		free(r->inst);
		free(r->err);
	}
	free(p->r);
	match_free(p->m);
	free(p);
}

int prog_match(const prog *p, const char *key, match_hit *out, ck_err *e)
{
	return match_key(p->m, key, out, e);
}
