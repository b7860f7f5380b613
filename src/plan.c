/* plan.c - match every source key, group keys of one rule application, run the action
 * chains on shapes only, and name the targets. */
#include <stdarg.h>
#include <stdio.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "bounds.h"
#include "config.h"
#include "plan.h"
#include "strmap.h"

#define MAX_PROBLEMS 10000

static int note(char ***list, size_t *n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int note(char ***list, size_t *n, const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;
	if (*n >= MAX_PROBLEMS)
		return 0;
	va_start(ap, fmt);
	int rc = vasprintf(&s, fmt, ap);
	va_end(ap);
	char **l = rc < 0 ? NULL : realloc(*list, (*n + 1) * sizeof *l);
	if (!l) {
		free(rc < 0 ? NULL : s);
		return -1;
	}
	*list = l;
	l[(*n)++] = s;
	return 0;
}

#define PROBLEM(p, ...) note(&(p)->problems, &(p)->n_problems, __VA_ARGS__)
#define WARN(p, ...) note(&(p)->warnings, &(p)->n_warnings, __VA_ARGS__)

int plan_init(plan *p, ck_err *e)
{
	memset(p, 0, sizeof *p);
	(void)e;
	strmap_init(&p->targets);
	return 0;
}

void plan_dispose(plan *p)
{
	ck_tinfo_array_free(p->out, p->n_out);
	for (size_t i = 0; i < p->n_groups; i++) {
		free(p->g[i].in);
		free(p->g[i].out);
		free(p->g[i].act);
	}
	free(p->g);
	for (size_t i = 0; i < p->n_problems; i++)
		free(p->problems[i]);
	free(p->problems);
	for (size_t i = 0; i < p->n_warnings; i++)
		free(p->warnings[i]);
	free(p->warnings);
	strmap_dispose(&p->targets);
	memset(p, 0, sizeof *p);
}

/* --- one component ------------------------------------------------------------ */

/* Source keys that matched one rule with the same bindings (except the stacked one). */
typedef struct pending {
	size_t rule;
	match_bind b;  /* bindings without the `over` placeholder */
	size_t n;      /* members */
	size_t *key;   /* source tensor index */
	size_t *slot;
	long long *over;
} pending;

typedef struct builder {
	plan *p;
	const prog *pg;
	ck_tsrc *src;
	const char *src_prefix, *dst_prefix;
	json_t *hf, *cs;
	const plan_opts *o;
	ck_err *e;
	strmap groups;
	size_t n_pend;
	pending *pend;
	size_t *n_ops;   /* per source tensor: scalings to apply first (muP) */
	plan_op (*ops)[PLAN_MAX_OPS];
	unsigned char *rule_said; /* per key rule: its shapes already reported as disagreeing */
} builder;

static int add_member(builder *B, const match_hit *h, size_t key)
{
	const char *over = B->pg->r[h->rule].over;
	match_bind b = {0};
	long long ov = -1;
	char gk[1024];
	size_t at = (size_t)snprintf(gk, sizeof gk, "%zu", h->rule);
	for (size_t i = 0; i < h->b.n; i++) {
		if (over && !strcmp(h->b.name[i], over)) {
			ov = h->b.num[i];
			continue;
		}
		b.num[b.n] = h->b.num[i];
		memcpy(b.name[b.n], h->b.name[i], sizeof b.name[0]);
		memcpy(b.val[b.n++], h->b.val[i], sizeof b.val[0]);
		if (at < sizeof gk)
			at += (size_t)snprintf(gk + at, sizeof gk - at, "|%s=%s", h->b.name[i], h->b.val[i]);
	}
	size_t gi;
	if (!strmap_get(&B->groups, gk, &gi)) {
		pending *np = realloc(B->pend, (B->n_pend + 1) * sizeof *np);
		if (!np || strmap_put(&B->groups, gk, B->n_pend))
			return ck_errf(B->e, CK_ENOMEM, "out of memory");
		B->pend = np;
		gi = B->n_pend++;
		memset(&B->pend[gi], 0, sizeof B->pend[gi]);
		B->pend[gi].rule = h->rule;
		B->pend[gi].b = b;
	}
	pending *g = &B->pend[gi];
	size_t *nk = realloc(g->key, (g->n + 1) * sizeof *nk), *ns = nk ? realloc(g->slot, (g->n + 1) * sizeof *ns) : NULL;
	long long *no = ns ? realloc(g->over, (g->n + 1) * sizeof *no) : NULL;
	if (nk)
		g->key = nk;
	if (ns)
		g->slot = ns;
	if (!no)
		return ck_errf(B->e, CK_ENOMEM, "out of memory");
	g->over = no;
	g->key[g->n] = key;
	g->slot[g->n] = h->slot;
	g->over[g->n++] = ov;
	return 0;
}

static int add_target(builder *B, const char *name, const act_t *t, size_t *out_idx)
{
	plan *p = B->p;
	size_t prev;
	char *full = NULL;
	if (asprintf(&full, "%s%s", B->dst_prefix, name) < 0)
		return ck_errf(B->e, CK_ENOMEM, "out of memory");
	if (strmap_get(&p->targets, full, &prev)) {
		PROBLEM(p, "target key '%s' is produced twice", full);
		free(full);
		*out_idx = prev;
		return 0;
	}
	if (p->n_out == p->cap_out) {
		size_t cap = p->cap_out ? p->cap_out * 2 : 64;
		ck_tinfo *n = realloc(p->out, cap * sizeof *n);
		if (!n) {
			free(full);
			return ck_errf(B->e, CK_ENOMEM, "out of memory");
		}
		p->out = n;
		p->cap_out = cap;
	}
	ck_tinfo *ti = &p->out[p->n_out];
	ti->name = full;
	ti->dtype = t->dtype;
	ti->shape = t->shape;
	ti->nbytes = t->nbytes;
	if (strmap_put(&p->targets, full, p->n_out))
		return ck_errf(B->e, CK_ENOMEM, "out of memory");
	*out_idx = p->n_out++;
	return 0;
}

static plan_group *new_group(builder *B)
{
	plan *p = B->p;
	if (p->n_groups == p->cap_groups) {
		size_t cap = p->cap_groups ? p->cap_groups * 2 : 64;
		plan_group *n = realloc(p->g, cap * sizeof *n);
		if (!n)
			return NULL;
		p->g = n;
		p->cap_groups = cap;
	}
	plan_group *g = &p->g[p->n_groups++];
	memset(g, 0, sizeof *g);
	return g;
}

static const char *src_name(const builder *B, size_t i)
{
	return B->src->t[i].name + strlen(B->src_prefix);
}

static void chain_label(const plan_group *g, char *buf, size_t n)
{
	size_t at = 0;
	buf[0] = '\0';
	for (size_t i = 0; i < g->n_act && at < n; i++)
		at += (size_t)snprintf(buf + at, n - at, "%s%s", i ? "+" : "", vocab_name(g->act[i].kind));
	if (!g->n_act)
		snprintf(buf, n, "copy");
}

static int cmp_ll(const void *a, const void *b)
{
	long long x = ((const long long *)a)[0], y = ((const long long *)b)[0];
	return (x > y) - (x < y);
}

static void copy_ops(const builder *B, plan_in *in)
{
	if (!B->n_ops)
		return;
	in->n_ops = B->n_ops[in->idx];
	memcpy(in->ops, B->ops[in->idx], sizeof in->ops);
}

/* The muP scalings (scale / unscale steps, `ops:`) of every source key its templates match,
 * their parameters evaluated once (the muP program). */
static int mup_ops(builder *B, const prog *mp)
{
	int rc = 0;
	if (!(B->n_ops = ck_calloc(B->e, B->src->n, sizeof *B->n_ops)) ||
		!(B->ops = ck_calloc(B->e, B->src->n, sizeof *B->ops)))
		return CK_ENOMEM;
	for (size_t i = 0; i < B->src->n && !rc; i++) {
		match_hit h;
		const char *name = B->src->t[i].name;
		if (strncmp(name, B->src_prefix, strlen(B->src_prefix)) ||
			prog_match(mp, name + strlen(B->src_prefix), &h, B->e) <= 0)
			continue;
		const prog_rule *r = &mp->r[h.rule];
		if (r->err) {
			PROBLEM(B->p, "%s: muP scale: %s", name, r->err);
			continue;
		}
		for (size_t j = 0; j < r->n_step; j++) {
			if (r->inst[j].off)
				continue;
			if (B->n_ops[i] == PLAN_MAX_OPS) {
				PROBLEM(B->p, "%s: more than %d muP operations", name, PLAN_MAX_OPS);
				break;
			}
			B->ops[i][B->n_ops[i]].div = r->inst[j].kind == VOCAB_UNSCALE;
			B->ops[i][B->n_ops[i]++].by = r->inst[j].by;
		}
	}
	return rc;
}

/* Order members: by over value for stacks (must be 0..n-1), else by slot (gaps become missing). */
static int order_inputs(builder *B, const pending *pg, const prog_rule *r, plan_group *g)
{
	const rule_key *k = r->key;
	const char *over = r->over;
	size_t n_src = r->n_tpl[PROG_SRC];
	int stacked = over && pg->n && pg->over[0] >= 0;
	if (stacked) {
		long long (*pairs)[2] = calloc(pg->n, sizeof *pairs);
		if (!pairs || !(g->in = calloc(pg->n, sizeof *g->in))) {
			free(pairs);
			return ck_errf(B->e, CK_ENOMEM, "out of memory");
		}
		for (size_t i = 0; i < pg->n; i++) {
			pairs[i][0] = pg->over[i];
			pairs[i][1] = (long long)pg->key[i];
		}
		qsort(pairs, pg->n, sizeof *pairs, cmp_ll);
		for (size_t i = 0; i < pg->n; i++) {
			if (pairs[i][0] != (long long)i) {
				PROBLEM(B->p, "%s: <%s> values must run 0..%zu without gaps or repeats; found %lld at position %zu (rule %s:%d:%d)",
					src_name(B, pg->key[0]), over, pg->n - 1, pairs[i][0], i, k->pos.file, k->pos.line, k->pos.col);
				free(pairs);
				return 1;
			}
			g->in[i].src = B->src;
			g->in[i].idx = (size_t)pairs[i][1];
			copy_ops(B, &g->in[i]);
		}
		g->n_in = pg->n;
		free(pairs);
		return 0;
	}
	if (!(g->in = calloc(n_src ? n_src : 1, sizeof *g->in)))
		return ck_errf(B->e, CK_ENOMEM, "out of memory");
	g->n_in = n_src;
	for (size_t i = 0; i < pg->n; i++) {
		if (g->in[pg->slot[i]].src) {
			PROBLEM(B->p, "keys '%s' and '%s' both fill the same slot of rule %s:%d:%d",
				src_name(B, g->in[pg->slot[i]].idx), src_name(B, pg->key[i]), k->pos.file, k->pos.line, k->pos.col);
			return 1;
		}
		g->in[pg->slot[i]].src = B->src;
		g->in[pg->slot[i]].idx = pg->key[i];
		copy_ops(B, &g->in[pg->slot[i]]);
	}
	return 0;
}

static void report_missing(builder *B, const pending *pg, const prog_rule *r, const plan_group *g)
{
	const rule_key *k = r->key;
	for (size_t s = 0; s < g->n_in; s++) {
		char *name = NULL;
		if (g->in[s].src || match_fill(&r->tpl[PROG_SRC][s], &pg->b, &name, B->e))
			continue;
		PROBLEM(B->p, "'%s%s' is missing: rule %s:%d:%d needs it together with '%s'", B->src_prefix, name, k->pos.file,
			k->pos.line, k->pos.col, B->src->t[pg->key[0]].name);
		free(name);
	}
}

/* Bindings as expression names: numbers as integers, other text as strings. */
static json_t *bind_vars(const match_bind *b)
{
	json_t *o = json_object();
	for (size_t i = 0; o && i < b->n; i++)
		json_object_set_new(o, b->name[i], b->num[i] >= 0 ? json_integer(b->num[i]) : json_string(b->val[i]));
	return o;
}

/* The rule's expected shape at one end for the group's bindings, into want;
 * any[i] marks an axis of any size. Returns 1 when there is a shape to compare, 0 when the rule
 * states none, -1 after noting a problem. */
static int expected_shape(builder *B, const prog_rule *r, prog_end end, const match_bind *b, ck_shape *want, int *any)
{
	const rule_key *k = r->key;
	const expr *x = r->shape[end];
	json_t *vars, *v = NULL, *it;
	ck_err pe = {0};
	size_t i;
	int rc;
	if (!x)
		return 0;
	if (!(vars = bind_vars(b)))
		return ck_errf(B->e, CK_ENOMEM, "out of memory"), -1;
	config_env env = {.hf = B->hf, .cs = B->cs, .scope = k->scope, .vars = vars};
	rc = config_eval(&env, x, &v, &pe);
	json_decref(vars);
	if (rc) {
		PROBLEM(B->p, "rule %s:%d:%d: shape: %s", k->shape_pos.file, k->shape_pos.line, k->shape_pos.col, pe.msg);
		return -1;
	}
	if (!v || json_is_null(v))
		return json_decref(v), 0;
	rc = json_is_array(v) && json_array_size(v) <= CK_MAX_RANK ? 1 : -1;
	if (rc > 0) {
		want->rank = (int)json_array_size(v);
		json_array_foreach(v, i, it) {
			any[i] = json_is_null(it);
			want->dim[i] = json_is_integer(it) ? json_integer_value(it) : 0;
			if (!any[i] && (!json_is_integer(it) || json_integer_value(it) < 0))
				rc = -1;
		}
	}
	if (rc < 0)
		PROBLEM(B->p, "rule %s:%d:%d: shape '%s' must give a list of at most %d sizes (integers >= 0 or null)",
			k->shape_pos.file, k->shape_pos.line, k->shape_pos.col, expr_src(x), CK_MAX_RANK);
	json_decref(v);
	return rc;
}

static int shape_fits(const ck_shape *s, const ck_shape *want, const int *any)
{
	if (s->rank != want->rank)
		return 0;
	for (int i = 0; i < s->rank; i++)
		if (!any[i] && s->dim[i] != want->dim[i])
			return 0;
	return 1;
}

static const char *want_str(const ck_shape *want, const int *any, char *buf, size_t n)
{
	size_t at = (size_t)snprintf(buf, n, "[");
	for (int i = 0; i < want->rank && at < n; i++)
		at += any[i] ? (size_t)snprintf(buf + at, n - at, "%s*", i ? ", " : "")
			     : (size_t)snprintf(buf + at, n - at, "%s%lld", i ? ", " : "", (long long)want->dim[i]);
	if (at < n)
		snprintf(buf + at, n - at, "]");
	return buf;
}

/* A rule's own inconsistency is reported once, not once per layer. */
static int said_before(builder *B, const prog_rule *pr)
{
	size_t r = (size_t)(pr - B->pg->r);
	if (!B->rule_said && !(B->rule_said = calloc(B->pg->n ? B->pg->n : 1, 1)))
		return 0;
	if (B->rule_said[r])
		return 1;
	B->rule_said[r] = 1;
	return 0;
}

/* Shapes the config implies, checked on the sources before anything is read (a mismatch is
 * the input's fault) and on the targets the chain makes (a mismatch is the rules' fault).
 * Returns 1 after noting a problem. */
static int check_shapes(builder *B, const pending *pg, const prog_rule *pr, const plan_group *g, const act_list *out)
{
	const rule_key *k = pr->key;
	prog_end end = out ? PROG_DST : PROG_SRC;
	ck_shape want = {0};
	int any[CK_MAX_RANK] = {0}, r, bad = 0;
	char a[160], b[160];
	if ((r = expected_shape(B, pr, end, &pg->b, &want, any)) <= 0)
		return r < 0;
	if (!out) {
		for (size_t i = 0; i < g->n_in && !bad; i++) {
			const ck_tinfo *t = g->in[i].src ? &B->src->t[g->in[i].idx] : NULL;
			if (t && (bad = !shape_fits(&t->shape, &want, any)))
				PROBLEM(B->p, "%s: shape %s, expected %s from the config (rule %s:%d:%d, shape: %s)", t->name,
					ck_shape_str(&t->shape, a, sizeof a), want_str(&want, any, b, sizeof b), k->pos.file,
					k->pos.line, k->pos.col, expr_src(pr->shape[end]));
		}
		return bad;
	}
	for (size_t j = 0; j < out->n && !bad; j++)
		if ((bad = !shape_fits(&out->t[j].shape, &want, any)) && !said_before(B, pr))
			PROBLEM(B->p, "%s: the rule makes a target of shape %s, its %s shape says %s (rule %s:%d:%d, shape: %s)",
				B->src->t[pg->key[0]].name, ck_shape_str(&out->t[j].shape, a, sizeof a), rule_side_name(B->pg->to),
				want_str(&want, any, b, sizeof b), k->pos.file, k->pos.line, k->pos.col, expr_src(pr->shape[end]));
	return bad;
}

static int finish_group(builder *B, const pending *pg)
{
	const prog_rule *r = &B->pg->r[pg->rule];
	const rule_key *k = r->key;
	const match_tpl *tpl = r->tpl[PROG_DST];
	size_t n_tgt = r->n_tpl[PROG_DST];
	const char *over = r->over;
	plan_group *g = new_group(B);
	act_list in = {0}, out = {0};
	int rc;

	if (!g)
		return ck_errf(B->e, CK_ENOMEM, "out of memory");
	g->rule = k;
	if ((rc = order_inputs(B, pg, r, g)))
		return rc < 0 ? rc : 0;
	if (check_shapes(B, pg, r, g, NULL))
		return B->e->code ? B->e->code : 0;
	ck_err pe = {0};
	if (r->err || (r->n_step && !r->inst)) { /* evaluated once for the program: reported where needed */
		PROBLEM(B->p, "%s: %s", B->src->t[pg->key[0]].name, r->err ? r->err : "parameters not evaluated (no config)");
		return 0;
	}
	if (r->n_step && !(g->act = ck_malloc(B->e, r->n_step * sizeof *g->act)))
		return CK_ENOMEM;
	if (r->n_step)
		memcpy(g->act, r->inst, r->n_step * sizeof *g->act);
	g->n_act = r->n_step;
	if (!(in.t = calloc(g->n_in ? g->n_in : 1, sizeof *in.t)))
		return ck_errf(B->e, CK_ENOMEM, "out of memory");
	in.n = g->n_in;
	int missing = 0;
	for (size_t i = 0; i < g->n_in; i++) {
		if (!g->in[i].src) {
			in.t[i].missing = 1;
			missing = 1;
			continue;
		}
		const ck_tinfo *ti = &B->src->t[g->in[i].idx];
		in.t[i].dtype = ti->dtype;
		in.t[i].shape = ti->shape;
		in.t[i].nbytes = ti->nbytes;
	}
	/* only `first` tolerates absent copies (CS ln_f may be missing); report the rest by name */
	if (missing && !(g->n_act && g->act[0].kind == VOCAB_FIRST && !in.t[0].missing)) {
		report_missing(B, pg, r, g);
		act_list_dispose(&in);
		return 0;
	}
	if ((rc = act_chain_run(g->act, g->n_act, 1, &in, &out, &pe))) {
		PROBLEM(B->p, "%s: %s", B->src->t[pg->key[0]].name, pe.msg);
		act_list_dispose(&out);
		return rc == CK_ENOMEM ? rc : 0;
	}
	if (check_shapes(B, pg, r, g, &out)) {
		act_list_dispose(&out);
		return B->e->code ? B->e->code : 0;
	}
	int unstacked = over && g->n_act && g->act[g->n_act - 1].kind == VOCAB_UNSTACK;
	if (!unstacked && out.n != n_tgt) {
		PROBLEM(B->p, "%s: rule %s:%d:%d turns %zu key(s) into %zu tensor(s) but names %zu target(s); add an action (split, duplicate, ...)",
			B->src->t[pg->key[0]].name, k->pos.file, k->pos.line, k->pos.col, g->n_in, out.n, n_tgt);
		act_list_dispose(&out);
		return 0;
	}
	if (!(g->out = calloc(out.n ? out.n : 1, sizeof *g->out))) {
		act_list_dispose(&out);
		return ck_errf(B->e, CK_ENOMEM, "out of memory");
	}
	g->n_out = out.n;
	for (size_t j = 0; j < out.n; j++) {
		match_bind b = pg->b;
		char *name = NULL;
		if (unstacked && b.n < MATCH_MAX_BIND) {
			snprintf(b.name[b.n], sizeof b.name[0], "%s", over);
			snprintf(b.val[b.n], sizeof b.val[0], "%zu", j);
			b.num[b.n++] = (long long)j;
		}
		if ((rc = match_fill(&tpl[unstacked ? 0 : j], &b, &name, &pe))) {
			PROBLEM(B->p, "%s", pe.msg);
			break;
		}
		rc = add_target(B, name, &out.t[j], &g->out[j]);
		if (!rc && B->o && B->o->debug) {
			char lab[128];
			chain_label(g, lab, sizeof lab);
			for (size_t i = 0; i < g->n_in; i++)
				if (g->in[i].src)
					fprintf(B->o->debug, "%s -> %s%s (rule %s:%d, %s)\n", B->src->t[g->in[i].idx].name, B->dst_prefix,
						name, k->pos.file, k->pos.line, lab);
		}
		free(name);
		if (rc)
			break;
	}
	act_list_dispose(&out);
	return rc;
}

static int eval_shape(builder *B, const rule_key *k, json_t *vars, ck_shape *out)
{
	config_env env = {.hf = B->hf, .cs = B->cs, .scope = k->scope, .vars = vars};
	json_t *v = NULL, *it;
	ck_err pe = {0};
	size_t i;
	if (config_eval(&env, k->gen_shape, &v, &pe)) {
		PROBLEM(B->p, "%s", pe.msg);
		return 1;
	}
	if (!json_is_array(v) || json_array_size(v) > CK_MAX_RANK) {
		PROBLEM(B->p, "%s:%d:%d: create shape '%s' must give a list of at most %d integers", k->pos.file, k->pos.line,
			k->pos.col, expr_src(k->gen_shape), CK_MAX_RANK);
		json_decref(v);
		return 1;
	}
	out->rank = (int)json_array_size(v);
	json_array_foreach(v, i, it) {
		if (!json_is_integer(it) || json_integer_value(it) < 0) {
			PROBLEM(B->p, "%s:%d:%d: create shape '%s': item %zu is not a non-negative integer", k->pos.file,
				k->pos.line, k->pos.col, expr_src(k->gen_shape), i);
			json_decref(v);
			return 1;
		}
		out->dim[i] = json_integer_value(it);
	}
	json_decref(v);
	return 0;
}

static int add_generated(builder *B, const rule_key *k, const char *tname, json_t *vars)
{
	config_env env = {.hf = B->hf, .cs = B->cs, .scope = k->scope, .vars = vars};
	act_t t = {0};
	plan_group *g;
	ck_err pe = {0};
	json_t *v = NULL;
	if (ck_dtype_from_short(k->gen_dtype, &t.dtype)) {
		PROBLEM(B->p, "%s:%d:%d: create: unknown dtype '%s'", k->pos.file, k->pos.line, k->pos.col, k->gen_dtype);
		return 0;
	}
	if (eval_shape(B, k, vars, &t.shape))
		return 0;
	if (ck_tensor_nbytes(t.dtype, &t.shape, &t.nbytes, &pe)) {
		PROBLEM(B->p, "%s: %s", tname, pe.msg);
		return 0;
	}
	if (config_eval(&env, k->gen_value, &v, &pe) || !json_is_number(v)) {
		PROBLEM(B->p, "%s", pe.code ? pe.msg : "create: the generator's value must be a number");
		json_decref(v);
		return 0;
	}
	if (!(g = new_group(B)) || !(g->out = calloc(1, sizeof *g->out))) {
		json_decref(v);
		return ck_errf(B->e, CK_ENOMEM, "out of memory");
	}
	g->rule = k;
	g->kind = PLAN_GEN;
	g->gen = k->gen;
	g->n_out = 1;
	g->fill = json_number_value(v);
	g->seed = (unsigned long long)k->gen_seed;
	json_decref(v);
	if (B->o && B->o->debug)
		fprintf(B->o->debug, "(created) -> %s%s (rule %s:%d, %s)\n", B->dst_prefix, tname, k->pos.file, k->pos.line,
			vocab_name(k->gen));
	return add_target(B, tname, &t, &g->out[0]);
}

/* Create tname unless some rule already produced it (or it was created before). */
static int create_one(builder *B, const rule_key *k, const match_tpl *tpl, const match_bind *b)
{
	char *tname = NULL, *full = NULL;
	size_t dummy;
	int rc = match_fill(tpl, b, &tname, B->e);
	if (rc)
		return rc;
	if (asprintf(&full, "%s%s", B->dst_prefix, tname) < 0) {
		free(tname);
		return ck_errf(B->e, CK_ENOMEM, "out of memory");
	}
	if (!strmap_get(&B->p->targets, full, &dummy)) {
		json_t *vars = bind_vars(b);
		rc = add_generated(B, k, tname, vars);
		json_decref(vars);
	}
	free(full);
	free(tname);
	return rc;
}

/* for: {NAME: <list>} binds NAME to each value of the list. */
static int create_for_list(builder *B, const rule_key *k, const match_tpl *tpl)
{
	config_env env = {.hf = B->hf, .cs = B->cs, .scope = k->scope};
	json_t *list = NULL, *it;
	ck_err pe = {0};
	size_t i;
	int rc = 0;
	if (config_eval(&env, k->for_list, &list, &pe) || !json_is_array(list)) {
		PROBLEM(B->p, "%s", pe.code ? pe.msg : "create: 'for' must give a list");
		json_decref(list);
		return 0;
	}
	json_array_foreach(list, i, it) {
		match_bind b = {0};
		b.n = 1;
		snprintf(b.name[0], sizeof b.name[0], "%s", k->for_name);
		b.num[0] = json_is_integer(it) ? json_integer_value(it) : -1;
		if (json_is_integer(it))
			snprintf(b.val[0], sizeof b.val[0], "%lld", (long long)json_integer_value(it));
		else
			snprintf(b.val[0], sizeof b.val[0], "%s", json_is_string(it) ? json_string_value(it) : "?");
		if ((rc = create_one(B, k, tpl, &b)))
			break;
	}
	json_decref(list);
	return rc;
}

/* 1 when an earlier key rule is the same `create` met through another include and found its
 * for_each (made[]: matches per rule): the optional CS `model.` prefix includes a piece twice,
 * and only the first include that finds its for_each makes the keys (or leaves them to the rule
 * that produced them); the second would make them again under `model.`. */
static int created_before(const prog *pg, const size_t *made, size_t r)
{
	const rule_key *k = pg->r[r].key;
	for (size_t i = 0; i < r; i++) {
		const rule_key *a = pg->r[i].key;
		if (made[i] && a->pos.line == k->pos.line && a->pos.col == k->pos.col && !strcmp(a->pos.file, k->pos.file))
			return 1;
	}
	return 0;
}

/* Keys that exist on the target side only: made once per match of the rule's for_each (or per
 * value of its `for` list), when no rule produced them from the source. */
static int add_created(builder *B)
{
	int rc = 0;
	size_t *made = ck_calloc(B->e, B->pg->n ? B->pg->n : 1, sizeof *made);
	if (!made)
		return CK_ENOMEM;
	for (size_t r = 0; r < B->pg->n && !rc; r++) {
		const prog_rule *pr = &B->pg->r[r];
		const rule_key *k = pr->key;
		if (!pr->creates || pr->off || created_before(B->pg, made, r))
			continue;
		if (k->for_list) {
			rc = create_for_list(B, k, &pr->tpl[PROG_DST][0]);
			made[r] = 1;
			continue;
		}
		for (size_t i = 0; i < B->src->n && !rc; i++) {
			match_bind b;
			const char *name = B->src->t[i].name;
			ck_err pe = {0};
			if (strncmp(name, B->src_prefix, strlen(B->src_prefix)))
				continue;
			if (match_for_each(B->pg->m, r, name + strlen(B->src_prefix), &b, &pe) > 0) {
				made[r]++;
				rc = create_one(B, k, &pr->tpl[PROG_DST][0], &b);
			}
		}
	}
	free(made);
	return rc;
}

/* The source index of key (the source prefix added), or -1. */
static long find_src(const builder *B, const char *key)
{
	char *full = NULL;
	long i = -1;
	if (asprintf(&full, "%s%s", B->src_prefix, key) >= 0)
		i = ck_tsrc_find(B->src, full);
	free(full);
	return i;
}

/* 1 when an earlier rule in force reads the same source keys: first match wins, so rule r never
 * meets them (a piece included twice for the optional CS `model.` prefix: HF -> CS reads it once). */
static int shadowed(const prog *pg, size_t r)
{
	const prog_rule *b = &pg->r[r];
	for (size_t i = 0; i < r; i++) {
		const prog_rule *a = &pg->r[i];
		size_t j = 0;
		if (a->off || a->n_tpl[PROG_SRC] != b->n_tpl[PROG_SRC])
			continue;
		while (j < b->n_tpl[PROG_SRC] && !strcmp(a->tpl[PROG_SRC][j].text, b->tpl[PROG_SRC][j].text))
			j++;
		if (j == b->n_tpl[PROG_SRC])
			return 1;
	}
	return 0;
}

/* Tied duplicates a checkpoint left out (`tied:`): each absent source key of a rule with a twin
 * in force joins the rule's group as the twin's tensor, read in its place. The rule's keys are
 * literal (rule.c), so the absent ones are named by their templates. */
static int add_twins(builder *B)
{
	int rc = 0;
	for (size_t r = 0; r < B->pg->n && !rc; r++) {
		const prog_rule *pr = &B->pg->r[r];
		long tw;
		if (!pr->twin || pr->off || !pr->n_tpl[PROG_DST] || (tw = find_src(B, pr->twin)) < 0 || shadowed(B->pg, r))
			continue;
		for (size_t s = 0; s < pr->n_tpl[PROG_SRC] && !rc; s++) {
			match_hit h = {.rule = r, .slot = s};
			if (find_src(B, pr->tpl[PROG_SRC][s].text) >= 0)
				continue;
			if (B->o && B->o->debug)
				fprintf(B->o->debug, "%s%s (absent) <- %s (tied twin, rule %s:%d)\n", B->src_prefix,
					pr->tpl[PROG_SRC][s].text, B->src->t[tw].name, pr->key->pos.file, pr->key->pos.line);
			B->p->n_twins++;
			rc = add_member(B, &h, (size_t)tw);
		}
	}
	return rc;
}

int plan_add(plan *p, const prog *pg, ck_tsrc *src, const char *src_prefix, const char *dst_prefix, json_t *hf,
	json_t *cs, const plan_opts *o, ck_err *e)
{
	builder B = {p, pg, src, src_prefix, dst_prefix, hf, cs, o, e, {0}, 0, NULL, NULL, NULL, NULL};
	size_t before = p->n_problems;
	int rc;
	strmap_init(&B.groups);
	if (o && o->mup && (rc = mup_ops(&B, o->mup)))
		goto done;
	for (size_t i = 0; i < src->n; i++) {
		match_hit h;
		const char *name = src->t[i].name;
		if (strncmp(name, src_prefix, strlen(src_prefix)))
			continue; /* not part of this model (e.g. optimizer state in a CS checkpoint) */
		rc = prog_match(pg, name + strlen(src_prefix), &h, e);
		if (rc < 0)
			goto done;
		if (rc == 0 && o && o->claimed)
			continue;
		if (o && o->claimed)
			o->claimed[i] = 1;
		if (rc == 0) {
			if (o && o->drop_unmatched)
				WARN(p, "%s: no rule matches; dropped (--drop-unmatched-keys)", name);
			else
				PROBLEM(p, "%s: no rule matches this key (--drop-unmatched-keys drops such keys)", name);
			continue;
		}
		const rule_key *k = pg->r[h.rule].key;
		if (!pg->r[h.rule].n_tpl[PROG_DST]) {
			p->n_dropped++;
			if (o && o->debug)
				fprintf(o->debug, "%s -> (dropped) (rule %s:%d)\n", name, k->pos.file, k->pos.line);
			continue;
		}
		if ((rc = add_member(&B, &h, i)))
			goto done;
	}
	rc = add_twins(&B);
	for (size_t gi = 0; gi < B.n_pend && !rc; gi++)
		rc = finish_group(&B, &B.pend[gi]);
	if (!rc)
		rc = add_created(&B);
	if (!rc && p->n_problems > before)
		rc = CK_EINVALID;
done:
	for (size_t i = 0; i < B.n_pend; i++) {
		free(B.pend[i].key);
		free(B.pend[i].slot);
		free(B.pend[i].over);
	}
	free(B.pend);
	free(B.n_ops);
	free(B.ops);
	free(B.rule_said);
	strmap_dispose(&B.groups);
	return rc;
}

/* Generators make bytes from config sizes alone: bound them by the bytes the plan reads (the
 * source tensors it moves), so a small checkpoint with a large size in its config cannot ask
 * for gigabytes. Every other action makes at most what it reads, times its named targets. */
static int check_generated(const plan *p, ck_err *e)
{
	uint64_t read = 0, made = 0, big = 0;
	const plan_group *worst = NULL;
	for (size_t i = 0; i < p->n_groups; i++) {
		const plan_group *g = &p->g[i];
		for (size_t j = 0; g->kind == PLAN_MOVE && j < g->n_in; j++)
			if (g->in[j].src)
				read += g->in[j].src->t[g->in[j].idx].nbytes;
		for (size_t j = 0; g->kind != PLAN_MOVE && j < g->n_out; j++) {
			uint64_t nb = p->out[g->out[j]].nbytes;
			made = made > UINT64_MAX - nb ? UINT64_MAX : made + nb;
			if (nb >= big)
				big = nb, worst = g;
		}
	}
	if (made <= read || made <= CK_MAX_GENERATED_FLOOR)
		return 0;
	return ck_errf(e, CK_ELIMIT, "the rules' generators would make %llu bytes from sizes in the config, more than "
		"the %llu bytes read and the %llu-byte floor (largest: rule %s:%d, shape %s); nothing was written",
		(unsigned long long)made, (unsigned long long)read, (unsigned long long)CK_MAX_GENERATED_FLOOR,
		worst->rule->pos.file, worst->rule->pos.line, expr_src(worst->rule->gen_shape));
}

int plan_check(const plan *p, ck_err *e)
{
	if (!p->n_problems)
		return check_generated(p, e);
	if (p->n_problems == 1)
		return ck_errf(e, CK_EINVALID, "%s; nothing was written", p->problems[0]);
	return ck_errf(e, CK_EINVALID, "%zu problems (listed above); nothing was written", p->n_problems);
}

void plan_print(const plan *p, FILE *f)
{
	char sh[96], lab[128];
	for (size_t i = 0; i < p->n_groups; i++) {
		const plan_group *g = &p->g[i];
		if (g->kind == PLAN_MOVE)
			chain_label(g, lab, sizeof lab);
		else
			snprintf(lab, sizeof lab, "create %s", vocab_name(g->gen));
		fprintf(f, "%s:%d  %s\n", g->rule->pos.file, g->rule->pos.line, lab);
		for (size_t j = 0; j < g->n_in; j++)
			if (g->in[j].src) {
				const ck_tinfo *t = &g->in[j].src->t[g->in[j].idx];
				fprintf(f, "  < %s %s %s", t->name, ck_dtype_short_name(t->dtype), ck_shape_str(&t->shape, sh, sizeof sh));
				for (size_t o = 0; o < g->in[j].n_ops; o++)
					if (g->in[j].ops[o].nan0)
						fprintf(f, " nan->0");
					else
						fprintf(f, " %s %.17g", g->in[j].ops[o].div ? "/" : "*", g->in[j].ops[o].by);
				fprintf(f, "\n");
			}
		for (size_t j = 0; j < g->n_out; j++) {
			const ck_tinfo *t = &p->out[g->out[j]];
			fprintf(f, "  > %s %s %s\n", t->name, ck_dtype_short_name(t->dtype), ck_shape_str(&t->shape, sh, sizeof sh));
		}
	}
	uint64_t total = 0;
	for (size_t i = 0; i < p->n_out; i++)
		total += p->out[i].nbytes;
	fprintf(f, "%zu target tensors, %llu bytes; %zu source keys dropped by rule\n", p->n_out,
		(unsigned long long)total, p->n_dropped);
}

int plan_group_passes(const plan *p, const plan_group *g)
{
	const ck_tinfo *first = NULL;
	int yes = g->kind == PLAN_MOVE;
	for (size_t i = 0; i < g->n_in && !first; i++)
		if (g->in[i].src)
			first = &g->in[i].src->t[g->in[i].idx];
	for (size_t k = 0; k < g->n_act; k++)
		yes &= g->act[k].kind == VOCAB_COPY || g->act[k].kind == VOCAB_DUPLICATE || g->act[k].kind == VOCAB_FIRST;
	for (size_t j = 0; j < g->n_out; j++)
		yes &= first && p->out[g->out[j]].dtype == first->dtype;
	return yes;
}

uint64_t plan_group_bytes(const plan *p, const plan_group *g)
{
	int slices = g->n_act == 1 && g->act[0].kind == VOCAB_STACK; /* streamed one source at a time */
	uint64_t s = 0, nb;
	for (size_t j = 0; j < g->n_in; j++)
		if (g->in[j].src) {
			nb = g->in[j].src->t[g->in[j].idx].nbytes;
			s = slices ? (nb > s ? nb : s) : s + nb;
		}
	for (size_t j = 0; !slices && !plan_group_passes(p, g) && j < g->n_out; j++)
		s += p->out[g->out[j]].nbytes;
	return s;
}

uint64_t plan_peak_bytes(const plan *p)
{
	uint64_t peak = 0;
	for (size_t i = 0; i < p->n_groups; i++) {
		uint64_t s = plan_group_bytes(p, &p->g[i]);
		peak = s > peak ? s : peak;
	}
	return peak;
}

uint64_t plan_largest_bytes(const plan *p)
{
	uint64_t m = 0;
	for (size_t i = 0; i < p->n_out; i++)
		m = p->out[i].nbytes > m ? p->out[i].nbytes : m;
	for (size_t i = 0; i < p->n_groups; i++)
		for (size_t j = 0; j < p->g[i].n_in; j++)
			if (p->g[i].in[j].src && p->g[i].in[j].src->t[p->g[i].in[j].idx].nbytes > m)
				m = p->g[i].in[j].src->t[p->g[i].in[j].idx].nbytes;
	return m;
}

size_t plan_set_dtype(plan *p, ck_dtype dt)
{
	size_t n = 0;
	for (size_t i = 0; i < p->n_out; i++) {
		ck_tinfo *t = &p->out[i];
		if (!ck_dtype_is_float(t->dtype) || t->dtype == dt)
			continue;
		t->nbytes = t->nbytes / ck_dtype_size(t->dtype) * ck_dtype_size(dt);
		t->dtype = dt;
		n++;
	}
	return n;
}
