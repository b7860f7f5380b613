/* cscs.c - CS <-> CS across Cerebras releases (cscs.h). The rule files say what changes at
 * each release step; this file only walks the steps: key renames and tied-weight repairs of
 * `model`, the params rewrites (ops evaluated with expr.c), the trainer state carried, the
 * metadata record appended. It holds no model name and no release-specific key. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"
#include "cscs.h"
#include "dlstate.h"
#include "expr.h"
#include "fmt.h"
#include "h5ck.h"
#include "path.h"
#include "remap.h"
#include "text.h"
#include "tree.h"
#include "txn.h"
#include "valio.h"

#define MAX_OPS_DEPTH 8

typedef struct hop {
	const char *from, *to;   /* release names, borrowed from the rules */
	const json_t *step;      /* the family's step covering it, or NULL (generic step) */
	int up;                  /* 1: the step's left -> right */
} hop;

typedef struct run {
	const conv_opts *o;
	char *rel_path, *fam_path;
	json_t *rel, *fam;       /* rules/cscs/releases.yaml, rules/cscs/<family>.yaml (or NULL) */
	const char *model;       /* canonical model name */
	const json_t *releases;  /* ["cs-1.6", ...] */
	char *src_fmt, *tgt_fmt;
	hop *hops;
	size_t n_hops;
	ck_tsrc *src;
	json_t *tree, *params;
	text log;                /* --dry-run: what each step changes */
} run;

/* ---- releases ---- */

static long rel_index(const run *r, const char *name)
{
	for (size_t i = 0; i < json_array_size(r->releases); i++)
		if (!strcmp(json_string_value(json_array_get(r->releases, i)), name))
			return (long)i;
	return -1;
}

/* A format's release: itself, or for a release's variant (cs-2.1-dpo, cs-2.1-no-dpo: a layout of
 * that release, converted by a family step that names it) the release before the first '-' after
 * "cs-". */
static long rel_of(const run *r, const char *name)
{
	const char *dash = strchr(name + (strncmp(name, "cs-", 3) ? 0 : 3), '-');
	char rel[64];
	if (!dash || (size_t)(dash - name) >= sizeof rel)
		return rel_index(r, name);
	snprintf(rel, sizeof rel, "%.*s", (int)(dash - name), name);
	return rel_index(r, rel);
}

static int is_cs(const char *f)
{
	return f && !strncmp(f, "cs-", 3) && strcmp(f, "cs-") != 0;
}

int cscs_wanted(const conv_opts *o)
{
	return is_cs(o->src_fmt) && is_cs(o->tgt_fmt);
}

static int in_list(const json_t *l, const char *s)
{
	for (size_t i = 0; i < json_array_size(l); i++)
		if (json_is_string(json_array_get(l, i)) && !strcmp(json_string_value(json_array_get(l, i)), s))
			return 1;
	return 0;
}

/* rules/cscs/releases.yaml: the releases and the models (no model picked yet). */
static int load_releases(run *r, const char *dir, ck_err *e)
{
	int rc;
	if (asprintf(&r->rel_path, "%s/cscs/releases.yaml", dir) < 0) {
		r->rel_path = NULL;
		return ck_errf(e, CK_ENOMEM, "out of memory");
	}
	if ((rc = valio_yaml_load(r->rel_path, &r->rel, e)))
		return rc;
	if (!json_is_array(r->releases = json_object_get(r->rel, "releases")) || !json_is_object(json_object_get(r->rel, "models")))
		return ck_errf(e, CK_EINVALID, "%s: expected 'releases' (a list) and 'models' (a mapping)", r->rel_path);
	return 0;
}

static int load_rules(run *r, const char *rules, const char *model, ck_err *e)
{
	char *dir = cli_rules_dir(rules);
	const char *k;
	json_t *m, *models;
	int rc = 0;
	if (!dir)
		return ck_errf(e, CK_ENOMEM, "out of memory");
	if ((rc = load_releases(r, dir, e)))
		goto done;
	models = json_object_get(r->rel, "models");
	if (!model) {
		rc = ck_errf(e, CK_EINVALID, "CS -> CS needs --model (one of the models in %s)", r->rel_path);
		goto done;
	}
	json_object_foreach(models, k, m)
		if (!strcmp(k, model) || in_list(json_object_get(m, "aliases"), model))
			break;
	if (!k) {
		rc = ck_errf(e, CK_ENOTFOUND, "model '%s' has no CS -> CS rules (%s lists the models)", model, r->rel_path);
		goto done;
	}
	r->model = k;
	const char *fam = json_string_value(json_object_get(m, "rules"));
	if (fam) {
		if (asprintf(&r->fam_path, "%s/cscs/%s.yaml", dir, fam) < 0) {
			r->fam_path = NULL;
			rc = ck_errf(e, CK_ENOMEM, "out of memory");
			goto done;
		}
		if (!(rc = valio_yaml_load(r->fam_path, &r->fam, e)) && !json_is_array(json_object_get(r->fam, "steps")))
			rc = ck_errf(e, CK_EINVALID, "%s: expected 'steps' (a list)", r->fam_path);
	}
done:
	free(dir);
	return rc;
}

/* The source release: given, or (cs-auto) the last __metadata__ record's version. */
static int pick_formats(run *r, ck_err *e)
{
	const char *s = r->o->src_fmt, *t = r->o->tgt_fmt;
	if (!strcmp(s, "cs-auto")) {
		int rc = fmt_saved_release(r->src, r->tree, &r->src_fmt, e); /* the one cs-auto (fmt.h) */
		if (rc)
			return rc;
	} else {
		r->src_fmt = strdup(s);
	}
	if (!strcmp(t, "cs-current"))
		t = json_string_value(json_object_get(r->rel, "current"));
	r->tgt_fmt = t ? strdup(t) : NULL;
	if (!r->src_fmt || !r->tgt_fmt)
		return ck_errf(e, CK_ENOMEM, "out of memory");
	if (rel_of(r, r->src_fmt) < 0 || rel_of(r, r->tgt_fmt) < 0)
		return ck_errf(e, CK_EINVALID, "CS -> CS between %s and %s: the releases are %s ... %s (%s)", r->src_fmt, r->tgt_fmt,
			json_string_value(json_array_get(r->releases, 0)),
			json_string_value(json_array_get(r->releases, json_array_size(r->releases) - 1)), r->rel_path);
	if (!strcmp(r->src_fmt, r->tgt_fmt))
		return ck_errf(e, CK_EINVALID, "CS -> CS: source and target are both %s", r->src_fmt);
	return 0;
}

/* The family's step converting a -> b (either way), or NULL. */
static const json_t *fam_step(const run *r, const char *a, const char *b, int *up)
{
	json_t *steps = json_object_get(r->fam, "steps");
	for (size_t i = 0; i < json_array_size(steps); i++) {
		json_t *s = json_array_get(steps, i), *L = json_object_get(s, "left"), *R = json_object_get(s, "right");
		if ((*up = in_list(L, a) && in_list(R, b)) || (in_list(R, a) && in_list(L, b)))
			return s;
	}
	return NULL;
}

/* The step's own string naming format f (hops borrow their names from the rules). */
static const char *fam_name(const json_t *step, const char *f)
{
	for (const char *side = "left"; side; side = strcmp(side, "left") ? NULL : "right") {
		const json_t *l = json_object_get(step, side);
		for (size_t i = 0; i < json_array_size(l); i++)
			if (!strcmp(json_string_value(json_array_get(l, i)) ? json_string_value(json_array_get(l, i)) : "", f))
				return json_string_value(json_array_get(l, i));
	}
	return f;
}

static void free_rules(run *r)
{
	free(r->rel_path);
	free(r->fam_path);
	json_decref(r->rel);
	json_decref(r->fam);
	free(r->hops);
	r->rel_path = r->fam_path = NULL;
	r->rel = r->fam = NULL;
	r->hops = NULL;
	r->n_hops = 0;
}

/* One step when the family has one covering both releases (as the reference's multi-release
 * converters do); otherwise release by release. */
static int plan_hops(run *r, ck_err *e)
{
	const json_t *models = json_object_get(r->rel, "models");
	const char *since = json_string_value(json_object_get(json_object_get(models, r->model), "since"));
	long a = rel_index(r, r->src_fmt), b = rel_index(r, r->tgt_fmt), lo = since ? rel_index(r, since) : 0;
	int up;
	const json_t *s = fam_step(r, r->src_fmt, r->tgt_fmt, &up);
	if (rel_of(r, r->src_fmt) < lo || rel_of(r, r->tgt_fmt) < lo)
		return ck_errf(e, CK_EINVALID, "model %s has no checkpoints before %s (%s)", r->model, since, r->rel_path);
	if ((a < 0 || b < 0) && !s) /* a release's variant: only the family step that names it */
		return ck_errf(e, CK_EINVALID, "model %s: no step converts %s <-> %s (%s: a release's variant converts only "
			"to or from what its step names)", r->model, r->src_fmt, r->tgt_fmt, r->fam_path ? r->fam_path : r->rel_path);
	if (!(r->hops = calloc(s ? 1 : (size_t)labs(b - a), sizeof *r->hops)))
		return ck_errf(e, CK_ENOMEM, "out of memory");
	if (s) {
		r->hops[r->n_hops++] = (hop){fam_name(s, r->src_fmt), fam_name(s, r->tgt_fmt), s, up};
		return 0;
	}
	for (long i = a; i != b; i += b > a ? 1 : -1) {
		hop *h = &r->hops[r->n_hops++];
		h->from = json_string_value(json_array_get(r->releases, (size_t)i));
		h->to = json_string_value(json_array_get(r->releases, (size_t)(i + (b > a ? 1 : -1))));
		h->step = fam_step(r, h->from, h->to, &h->up);
	}
	return 0;
}

static int note(run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int note(run *r, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	text_puts(&r->log, buf);
	return 0;
}

/* ---- params: paths and ops ---- */

static json_t *path_get(json_t *v, const char *path)
{
	char *p = strdup(path), *save = NULL;
	for (char *k = p ? strtok_r(p, ".", &save) : NULL; k && v; k = strtok_r(NULL, ".", &save))
		v = json_object_get(v, k);
	free(p);
	return p ? v : NULL;
}

/* Set (v non-NULL, stolen) or delete (v NULL) the value at path, creating mappings on the way. */
static int path_put(json_t *root, const char *path, json_t *v)
{
	char *p = strdup(path), *dot;
	json_t *cur = root;
	int rc = 0;
	if (!p)
		return json_decref(v), -1;
	char *k = p;
	while ((dot = strchr(k, '.')) && cur) {
		*dot = '\0';
		json_t *nx = json_object_get(cur, k);
		if (!json_is_object(nx)) {
			if (!v)
				cur = NULL;
			else if (json_object_set_new(cur, k, nx = json_object()))
				rc = -1;
		}
		cur = cur ? nx : NULL;
		k = dot + 1;
	}
	if (!rc && json_is_object(cur))
		rc = v ? json_object_set_new(cur, k, v) : (json_object_del(cur, k), 0);
	else
		json_decref(v);
	free(p);
	return rc;
}

typedef struct env {
	run *r;
	const hop *h;
	json_t *p, *x, *lets;
	const json_t *let_src;  /* the op's `let`: evaluated when first read */
	json_t *busy;           /* the lets being evaluated (a let may not read itself) */
	const char *where;
	ck_err *e;
} env;

static int eval(struct env *v, const char *where, const json_t *src, json_t **out, ck_err *e);

static json_t *resolve(void *ctx, const char *name)
{
	env *v = ctx;
	json_t *t;
	if (!strcmp(name, "p"))
		return v->p;
	if (!strcmp(name, "x"))
		return v->x ? v->x : expr_absent();
	if ((t = json_object_get(v->lets, name)))
		return t;
	if ((t = json_object_get(v->let_src, name)) && v->e) {
		json_t *res = NULL;
		if (json_object_get(v->busy, name)) {
			ck_errf(v->e, CK_EINVALID, "%s: let '%s' refers to itself", v->where, name);
			return NULL;
		}
		json_object_set_new(v->busy, name, json_true());
		int rc = eval(v, v->where, t, &res, v->e);
		json_object_del(v->busy, name);
		if (rc)
			return NULL;
		json_object_set_new(v->lets, name, res ? res : json_null());
		return json_object_get(v->lets, name);
	}
	if ((t = json_object_get(json_object_get(v->r->rel, "let"), name)))
		return t;
	return NULL;
}

static int eval(env *v, const char *where, const json_t *src, json_t **out, ck_err *e)
{
	expr *x = NULL;
	char *s = json_is_string(src) ? NULL : valio_json_text(src, -1, 0);
	int rc = expr_parse(s ? s : json_string_value(src), where, &x, e);
	free(s);
	if (!rc)
		rc = expr_eval(x, resolve, v, out, e);
	expr_free(x);
	return rc;
}

static int run_ops(env *v, const json_t *ops, const char *where, int depth, ck_err *e);

/* The base an op works on: `at: model` is the model section of either params layout. */
static json_t *op_base(env *v, const json_t *op)
{
	const char *at = json_string_value(json_object_get(op, "at"));
	if (!at)
		return v->x ? v->x : v->p;
	if (!strcmp(at, "model"))
		return json_object_get(v->p, "trainer") ? path_get(v->p, "trainer.init.model") : json_object_get(v->p, "model");
	return path_get(v->x ? v->x : v->p, at);
}

/* remap: {table: T, ignore: [PATH], into: KEY}: the section becomes {KEY: <remapped>} (remap.h). */
static int run_remap(env *v, json_t *base, const json_t *spec, const char *where, ck_err *e)
{
	const char *into = json_string_value(json_object_get(spec, "into"));
	json_t *out = NULL, *extra = NULL;
	int rc;
	if (!into || !json_is_object(json_object_get(spec, "table")))
		return ck_errf(e, CK_EINVALID, "%s: remap: expected {table: MAPPING, into: KEY}", where);
	if ((rc = remap_run(base, json_object_get(spec, "table"), json_object_get(spec, "ignore"), &out, &extra, e)))
		return rc;
	if (json_array_size(extra)) {
		char *list = valio_json_text(extra, -1, 0);
		note(v->r, "  params: the %s layout has no place for %s: left out\n", v->h->to, list ? list : "?");
		if (!v->r->o->quiet && !v->r->o->dry_run)
			fprintf(stderr, "ckconv: note: %s -> %s: the params keys %s have no place in the new layout and are left out "
				"(as the reference does)\n", v->h->from, v->h->to, list ? list : "?");
		free(list);
	}
	json_object_clear(base);
	rc = json_object_set_new(base, into, out) ? ck_errf(e, CK_ENOMEM, "out of memory") : 0;
	json_decref(extra);
	return rc;
}

static int run_op(env *v, const json_t *op, const char *where, int depth, ck_err *e)
{
	json_t *base = op_base(v, op), *old_x = v->x, *old_lets = v->lets, *t, *res = NULL;
	const json_t *old_src = v->let_src;
	const char *old_where = v->where;
	ck_err *old_e = v->e;
	const char *k;
	json_t *val;
	int rc = 0;
	if (!json_is_object(op))
		return ck_errf(e, CK_EINVALID, "%s: an op is a mapping", where);
	if (!json_is_object(base))
		return 0; /* the section it edits is not there */
	v->x = base;
	v->lets = json_object();
	json_object_update(v->lets, old_lets ? old_lets : NULL);
	v->let_src = json_object_get(op, "let");
	v->where = where;
	v->e = e;
	if ((t = json_object_get(op, "when"))) {
		if ((rc = eval(v, where, t, &res, e)))
			goto done;
		int go = expr_truthy(res);
		json_decref(res), res = NULL;
		if (!go)
			goto done;
	}
	if ((t = json_object_get(op, "set")))
		json_object_foreach(t, k, val) {
			if ((rc = eval(v, where, val, &res, e)))
				goto done;
			if (path_put(base, k, res)) {
				rc = ck_errf(e, CK_ENOMEM, "out of memory");
				goto done;
			}
			res = NULL;
		}
	if ((t = json_object_get(op, "rename")))
		json_object_foreach(t, k, val) {
			json_t *x = path_get(base, k);
			if (x && json_is_string(val)) {
				json_incref(x);
				path_put(base, k, NULL);
				if (path_put(base, json_string_value(val), x)) {
					rc = ck_errf(e, CK_ENOMEM, "out of memory");
					goto done;
				}
			}
		}
	if ((t = json_object_get(op, "drop")))
		for (size_t i = 0; i < json_array_size(t); i++)
			if (json_is_string(json_array_get(t, i)))
				path_put(base, json_string_value(json_array_get(t, i)), NULL);
	if ((t = json_object_get(op, "replace"))) {
		if ((rc = eval(v, where, t, &res, e)))
			goto done;
		if (!json_is_object(res)) {
			rc = ck_errf(e, CK_EINVALID, "%s: replace: expected a mapping", where);
			goto done;
		}
		json_object_clear(base);
		json_object_update(base, res);
		json_decref(res), res = NULL;
	}
	if ((t = json_object_get(op, "remap")) && (rc = run_remap(v, base, t, where, e)))
		goto done;
	if ((t = json_object_get(op, "each"))) {
		json_t *l = path_get(base, json_string_value(t)), *dos = json_object_get(op, "do");
		for (size_t i = 0; json_is_array(l) && i < json_array_size(l) && !rc; i++) {
			v->x = json_array_get(l, i);
			if (json_is_object(v->x))
				rc = run_ops(v, dos, where, depth + 1, e);
		}
		if (json_is_object(l)) {
			v->x = l;
			rc = run_ops(v, dos, where, depth + 1, e);
		}
	}
done:
	json_decref(v->lets);
	v->lets = old_lets;
	v->x = old_x;
	v->let_src = old_src;
	v->where = old_where;
	v->e = old_e;
	return rc;
}

static int run_ops(env *v, const json_t *ops, const char *where, int depth, ck_err *e)
{
	if (depth > MAX_OPS_DEPTH)
		return ck_errf(e, CK_ELIMIT, "%s: ops nested deeper than %d", where, MAX_OPS_DEPTH);
	for (size_t i = 0; i < json_array_size(ops); i++) {
		char at[512];
		snprintf(at, sizeof at, "%s[%zu]", where, i);
		int rc = run_op(v, json_array_get(ops, i), at, depth, e);
		if (rc)
			return rc;
	}
	return 0;
}

/* The params of one step: the family's own changes (its direction), then every release's. */
static int step_params(run *r, const hop *h, json_t *p, ck_err *e)
{
	json_t *lets = json_pack("{s:s, s:s, s:s, s:b}", "src", h->from, "tgt", h->to, "model", r->model, "up", h->up);
	env v = {.r = r, .h = h, .p = p, .lets = lets, .busy = json_object()};
	char where[600];
	int rc = 0;
	if (!lets)
		return ck_errf(e, CK_ENOMEM, "out of memory");
	if (h->step) {
		snprintf(where, sizeof where, "%s: step %s %s", r->fam_path, h->from, h->to);
		rc = run_ops(&v, json_object_get(h->step, h->up ? "up" : "down"), where, 0, e);
	}
	if (!rc) {
		snprintf(where, sizeof where, "%s: params", r->rel_path);
		rc = run_ops(&v, json_object_get(r->rel, "params"), where, 0, e);
	}
	json_decref(lets);
	json_decref(v.busy);
	return rc;
}

/* ---- model keys: templates with <NAME> placeholders (one dot-free run of characters each) or
 * <NAME...> (any non-empty run, dots included: a whole key under a prefix) ---- */

typedef struct binds {
	size_t n;
	char name[8][32];
	const char *val[8];  /* into the matched key, which outlives the binding */
	size_t len[8];
} binds;

static int tpl_match(const char *t, const char *k, binds *b)
{
	if (!*t)
		return !*k;
	if (*t != '<')
		return *t == *k && tpl_match(t + 1, k + 1, b);
	const char *close = strchr(t, '>');
	size_t nl = close ? (size_t)(close - t - 1) : 0;
	int rest = nl > 3 && !strncmp(close - 3, "...", 3);
	if (rest)
		nl -= 3;
	if (!close || b->n >= 8 || nl >= sizeof b->name[0])
		return 0;
	size_t n = b->n++;
	snprintf(b->name[n], sizeof b->name[n], "%.*s", (int)nl, t + 1);
	b->val[n] = k;
	for (size_t len = 1; k[len - 1] && (rest || k[len - 1] != '.'); len++) {
		b->len[n] = len;
		if (tpl_match(close + 1, k + len, b))
			return 1;
	}
	b->n = n;
	return 0;
}

static char *tpl_fill(const char *t, const binds *b)
{
	text o = {0};
	while (*t) {
		const char *open = strchr(t, '<'), *close = open ? strchr(open, '>') : NULL;
		if (!close) {
			text_puts(&o, t);
			break;
		}
		size_t nl = (size_t)(close - open - 1);
		if (nl > 3 && !strncmp(close - 3, "...", 3))
			nl -= 3;
		text_add(&o, t, (size_t)(open - t));
		for (size_t i = 0; i < b->n; i++)
			if (strlen(b->name[i]) == nl && !strncmp(b->name[i], open + 1, nl)) {
				text_add(&o, b->val[i], b->len[i]);
				break;
			}
		t = close + 1;
	}
	if (!o.p)
		text_puts(&o, "");
	return text_take(&o);
}

/* The first key rule of the step that the key (without its optional prefix) meets, and the key
 * it becomes or its tied partner (*to). With one_sided, a rule naming only the from side matches
 * too, with *to NULL: the key exists on that side only and is dropped (the reference's
 * `exists=` rules without an action). */
static const json_t *key_rule(const json_t *rules, const char *from_side, const char *to_side, const char *rest,
	int one_sided, char **to, binds *bo)
{
	for (size_t i = 0; i < json_array_size(rules); i++) {
		const json_t *k = json_array_get(rules, i);
		const char *ft = json_string_value(json_object_get(k, from_side)), *tt = json_string_value(json_object_get(k, to_side));
		binds b = {0};
		if (ft && (tt || (one_sided && !json_object_get(k, to_side))) && tpl_match(ft, rest, &b)) {
			*to = tt ? tpl_fill(tt, &b) : NULL;
			if (bo)
				*bo = b;
			return k;
		}
	}
	return NULL;
}

/* A rename rule's `add_left` / `add_right`: keys the layout of that side also has, written right
 * after the renamed one: {key: TEMPLATE, same: true} the same value again (the reference's
 * second copy, a LinkedObject once written); {key: TEMPLATE, arange: SHAPE_EXPR} a new int64
 * tensor 0, 1, ... of that shape (a buffer such as HF's position_ids). */
static int add_extras(run *r, const hop *h, const json_t *params, const json_t *rule, const char *to_side,
	const binds *b, const char *pre, json_t *val, json_t *nm, ck_err *e)
{
	char side[16];
	snprintf(side, sizeof side, "add_%s", to_side);
	const json_t *adds = json_object_get(rule, side);
	int rc = 0;
	for (size_t i = 0; i < json_array_size(adds) && !rc; i++) {
		const json_t *a = json_array_get(adds, i), *ar = json_object_get(a, "arange");
		const char *t = json_string_value(json_object_get(a, "key"));
		char *k = t ? tpl_fill(t, b) : NULL, *full = NULL;
		json_t *node = NULL, *shape = NULL;
		env v = {.r = r, .h = h, .p = (json_t *)params};
		if (!t || (!ar && !json_is_true(json_object_get(a, "same"))))
			rc = ck_errf(e, CK_EINVALID, "%s: %s: expected {key: TEMPLATE, same: true} or {key: TEMPLATE, arange: SHAPE}", r->fam_path, side);
		else if (!k || asprintf(&full, "%s%s", pre, k) < 0)
			rc = ck_errf(e, CK_ENOMEM, "out of memory");
		else if (ar && !(rc = eval(&v, r->fam_path, ar, &shape, e)))
			node = json_pack("{s:O}", "arange", shape);
		else if (!ar)
			node = json_incref(val);
		if (!rc) {
			note(r, "  %s added (%s)\n", full, ar ? "arange" : "a copy");
			if (tree_set(nm, full, node, -1))
				rc = ck_errf(e, CK_ENOMEM, "out of memory");
		}
		json_decref(shape);
		free(k);
		free(full);
	}
	return rc;
}

static int is_none(const json_t *leaf)
{
	json_t *v = NULL;
	ck_err e = {0};
	int none = !json_object_get(leaf, "c") && !json_object_get(leaf, "tensor") && !tree_to_json(NULL, leaf, &v, &e) && json_is_null(v);
	json_decref(v);
	return none;
}

static const char *prefix_of(const run *r, const char *key)
{
	json_t *ps = json_object_get(r->rel, "model_prefixes");
	for (size_t i = 0; i < json_array_size(ps); i++) {
		const char *p = json_string_value(json_array_get(ps, i));
		if (p && !strncmp(key, p, strlen(p)))
			return p;
	}
	return "";
}

static int when_holds(run *r, const hop *h, const json_t *params, const json_t *rule, int *go, ck_err *e)
{
	json_t *cond = json_object_get(rule, "when"), *res = NULL;
	env v = {.r = r, .h = h, .p = (json_t *)params};
	int rc = 0;
	*go = 1;
	if (cond && !(rc = eval(&v, r->fam_path, cond, &res, e)))
		*go = expr_truthy(res);
	json_decref(res);
	return rc;
}

/* The step's `regroup`: keys tied as a group (an encoder-decoder's embeddings and head) come
 * after every other key, in the listed order, each None filled as `fill` says: in order, each
 * entry (when its `when` holds) gives `key` the first of `from` that is not None. */
static int regroup(run *r, const hop *h, const json_t *params, json_t *old, json_t *nm, ck_err *e)
{
	const json_t *g = json_object_get(h->step, "regroup"), *keys = json_object_get(g, "keys"), *fill = json_object_get(g, "fill");
	const char *anchor = json_string_value(json_object_get(g, "prefix_from")), *pre = NULL;
	json_t *vals, *ps = json_object_get(r->rel, "model_prefixes");
	char *full = NULL;
	int rc = 0;
	if (!g)
		return 0;
	for (long i = -1; !pre && anchor && i < (long)json_array_size(ps); i++) {
		const char *p = i < 0 ? "" : json_string_value(json_array_get(ps, (size_t)i));
		if (asprintf(&full, "%s%s", p ? p : "", anchor) < 0)
			return ck_errf(e, CK_ENOMEM, "out of memory");
		if (p && tree_get(old, full))
			pre = p;
		free(full);
	}
	if (!pre)
		return ck_errf(e, CK_EINVALID, "%s: %s -> %s: the model has no %s (%s)", r->o->src, h->from, h->to,
			anchor ? anchor : "regroup prefix_from key", r->fam_path);
	if (!(vals = json_object()))
		return ck_errf(e, CK_ENOMEM, "out of memory");
	for (size_t i = 0; i < json_array_size(keys) && !rc; i++) {
		const char *k = json_string_value(json_array_get(keys, i));
		json_t *v = NULL;
		if (!k || asprintf(&full, "%s%s", pre, k) < 0)
			rc = ck_errf(e, CK_EINVALID, "%s: regroup keys must be strings", r->fam_path);
		else if (!(v = tree_get(old, full)))
			rc = ck_errf(e, CK_EINVALID, "%s: %s -> %s: the model has no %s", r->o->src, h->from, h->to, full);
		else if (json_object_set(vals, k, v))
			rc = ck_errf(e, CK_ENOMEM, "out of memory");
		free(full);
	}
	for (size_t i = 0; i < json_array_size(fill) && !rc; i++) {
		const json_t *f = json_array_get(fill, i), *from = json_object_get(f, "from");
		const char *k = json_string_value(json_object_get(f, "key"));
		int go;
		if ((rc = when_holds(r, h, params, f, &go, e)) || !go)
			continue;
		for (size_t j = 0; k && j < json_array_size(from); j++) {
			json_t *v = json_object_get(vals, json_string_value(json_array_get(from, j)) ? json_string_value(json_array_get(from, j)) : "");
			if (v && !is_none(v)) {
				if (v != json_object_get(vals, k))
					note(r, "  %s: %s%s filled from %s%s\n", h->to, pre, k, pre, json_string_value(json_array_get(from, j)));
				json_object_set(vals, k, v);
				break;
			}
		}
	}
	for (size_t i = 0; i < json_array_size(keys) && !rc; i++) {
		const char *k = json_string_value(json_array_get(keys, i));
		if (asprintf(&full, "%s%s", pre, k) < 0 || tree_set(nm, full, json_incref(json_object_get(vals, k)), -1))
			rc = ck_errf(e, CK_ENOMEM, "out of memory");
		free(full);
	}
	json_decref(vals);
	return rc;
}

/* The step's copy_left / copy_right {from: PREFIX, to: PREFIX}: that side's layout also holds every
 * key under `from` again under `to` (DPO's reference model, a copy of the policy model). Going to
 * that side, after every other key, each key under `from` is written again under `to` (the same
 * value: a LinkedObject once written, as the reference stores one tensor twice). */
static int add_copies(run *r, const json_t *cp, json_t *nm, ck_err *e)
{
	const char *from = json_string_value(json_object_get(cp, "from")), *to = json_string_value(json_object_get(cp, "to"));
	size_t n = json_array_size(json_object_get(nm, "d"));
	if (!cp)
		return 0;
	if (!from || !to || !*from || !*to || !strcmp(from, to))
		return ck_errf(e, CK_EINVALID, "%s: copy_left/copy_right: expected {from: PREFIX, to: PREFIX}, two different prefixes",
			r->fam_path);
	for (size_t i = 0; i < n; i++) {
		char b[32], *full = NULL;
		const char *key = tree_key_str(json_array_get(json_object_get(nm, "d"), i), b), *pre = prefix_of(r, key);
		if (strncmp(key + strlen(pre), from, strlen(from)))
			continue;
		if (asprintf(&full, "%s%s%s", pre, to, key + strlen(pre) + strlen(from)) < 0)
			return ck_errf(e, CK_ENOMEM, "out of memory");
		note(r, "  %s added (a copy of %s)\n", full, key);
		int rc = tree_set(nm, full, json_incref(json_array_get(json_object_get(nm, "c"), i)), -1);
		free(full);
		if (rc)
			return ck_errf(e, CK_ENOMEM, "out of memory");
	}
	return 0;
}

/* `model` converted by the step's key renames and tied-weight repairs, keys in source order. */
static int step_model(run *r, const hop *h, const json_t *params, json_t *old, json_t **out, ck_err *e)
{
	const char *fs = h->up ? "left" : "right", *ts = h->up ? "right" : "left";
	json_t *renames = json_object_get(h->step, "keys"), *ties = json_object_get(h->step, "tie");
	/* the copies the source side holds (dropped) and the ones the target side needs (added) */
	const char *dropped = json_string_value(json_object_get(json_object_get(h->step, h->up ? "copy_left" : "copy_right"), "to"));
	const json_t *copies = json_object_get(h->step, h->up ? "copy_right" : "copy_left");
	/* `unmatched: refuse`: the rules list every key (the reference refuses a key no rule matches) */
	int strict = json_is_string(json_object_get(h->step, "unmatched")) &&
		!strcmp(json_string_value(json_object_get(h->step, "unmatched")), "refuse");
	json_t *ks = json_object_get(old, "d"), *cs = json_object_get(old, "c"), *nm = json_pack("{s:[], s:[], s:O}", "d", "c", "ty",
		json_object_get(old, "ty"));
	int rc = 0;
	if (!nm)
		return ck_errf(e, CK_ENOMEM, "out of memory");
	for (size_t i = 0; i < json_array_size(ks) && !rc; i++) {
		char b[32], *to = NULL, *full = NULL;
		const char *key = tree_key_str(json_array_get(ks, i), b), *pre = prefix_of(r, key);
		json_t *val = json_array_get(cs, i);
		const json_t *k;
		binds kb = {0};
		long at = -1;
		if (in_list(json_object_get(json_object_get(h->step, "regroup"), "keys"), key + strlen(pre)))
			continue; /* re-added after every other key */
		if (dropped && *dropped && !strncmp(key + strlen(pre), dropped, strlen(dropped))) {
			note(r, "  %s dropped (a copy %s does not hold)\n", key, h->to);
			continue;
		}
		if ((k = key_rule(ties, fs, ts, key + strlen(pre), 0, &to, NULL)) || (k = key_rule(ties, ts, fs, key + strlen(pre), 0, &to, NULL))) {
			json_t *cond = json_object_get(k, "when"), *res = NULL;
			env v = {.r = r, .h = h, .p = (json_t *)params};
			int go = 1;
			if (cond) {
				if ((rc = eval(&v, r->fam_path, cond, &res, e)))
					break;
				go = expr_truthy(res);
				json_decref(res);
			}
			if (asprintf(&full, "%s%s", pre, to) < 0) {
				rc = ck_errf(e, CK_ENOMEM, "out of memory");
				free(to);
				break;
			}
			json_t *partner = tree_get(old, full), *pick = val;
			int both = 0;
			if (go && (!partner || (!is_none(val) && is_none(partner))))
				both = 1;
			else if (go && is_none(val) && partner && !is_none(partner))
				both = 1, pick = partner;
			rc = tree_set(nm, key, json_incref(pick), -1);
			if (!rc && both) {
				for (size_t j = 0; j < json_array_size(json_object_get(nm, "d")); j++)
					if (!strcmp(tree_key_str(json_array_get(json_object_get(nm, "d"), j), b), key))
						at = (long)j + 1;
				if (!tree_get(nm, full) && (pick != val || !partner || is_none(partner)))
					note(r, "  %s: %s filled from %s\n", h->to, pick == val ? full : key, pick == val ? key : full);
				rc = tree_set(nm, full, json_incref(pick), at);
			}
		} else if ((k = key_rule(renames, fs, ts, key + strlen(pre), 1, &to, &kb)) && !to) {
			note(r, "  %s dropped (no %s counterpart)\n", key, h->to);
		} else if (k) {
			/* `unprefixed: SIDE`: that side's layout predates the trainer's model prefix */
			const char *wpre = json_is_string(json_object_get(h->step, "unprefixed")) &&
				!strcmp(json_string_value(json_object_get(h->step, "unprefixed")), ts) ? "" : pre;
			if (asprintf(&full, "%s%s", wpre, to) < 0)
				rc = ck_errf(e, CK_ENOMEM, "out of memory");
			else {
				note(r, "  %s -> %s\n", key, full);
				if (!(rc = tree_set(nm, full, json_incref(val), -1)))
					rc = add_extras(r, h, params, k, ts, &kb, wpre, val, nm, e);
			}
		} else if (strict) {
			rc = ck_errf(e, CK_EINVALID, "%s: %s -> %s: model key '%s' matches no key rule of the step (%s), "
				"which knows every key of the layout: not a %s %s checkpoint?", r->o->src, h->from, h->to, key,
				r->fam_path, r->model, h->from);
		} else {
			rc = tree_set(nm, key, json_incref(val), -1);
		}
		if (rc == -1) /* tree_set */
			rc = ck_errf(e, CK_ENOMEM, "out of memory");
		free(to);
		free(full);
	}
	if (!rc)
		rc = regroup(r, h, params, old, nm, e);
	if (!rc)
		rc = add_copies(r, copies, nm, e);
	if (rc)
		json_decref(nm), nm = NULL;
	*out = nm;
	return rc;
}

/* ---- the trainer state ---- */

static int get_int(run *r, const json_t *node, const char *what, long long *out, ck_err *e)
{
	json_t *v = NULL;
	int rc = tree_to_json(r->tree, node, &v, e);
	if (!rc && !json_is_integer(v))
		rc = ck_errf(e, CK_EINVALID, "%s: %s is not an int", r->o->src, what);
	if (!rc)
		*out = json_integer_value(v);
	json_decref(v);
	return rc;
}

/* Before 2.0 a scheduler's last_epoch did not follow global_step: it becomes global_step, and a
 * SequentialLR's sub-schedulers (max(global_step - milestone, 0),) (the reference's rule). */
static int reset_scheduler(run *r, json_t *root, ck_err *e)
{
	json_t *ls = tree_get(root, "lr_scheduler"), *gs = tree_get(root, "global_step"), *le, *subs, *ms;
	long long step, last;
	int rc;
	if (!ls || !gs || !(le = tree_get(ls, "last_epoch")))
		return 0;
	if ((rc = get_int(r, gs, "global_step", &step, e)) || (rc = get_int(r, le, "lr_scheduler.last_epoch", &last, e)))
		return rc;
	if (last == step)
		return 0;
	note(r, "  lr_scheduler.last_epoch %lld -> global_step %lld\n", last, step);
	if (tree_set(ls, "last_epoch", json_pack("{s:I}", "value", (json_int_t)step), -1))
		return ck_errf(e, CK_ENOMEM, "out of memory");
	if (!(subs = tree_get(ls, "_schedulers")) || !(ms = tree_get(ls, "_milestones")))
		return 0;
	for (size_t i = 0; i < json_array_size(json_object_get(subs, "c")); i++) {
		long long m = 0;
		json_t *s = json_array_get(json_object_get(subs, "c"), i);
		if (i && (rc = get_int(r, json_array_get(json_object_get(ms, "c"), i - 1), "lr_scheduler._milestones", &m, e)))
			return rc;
		if (i && i - 1 >= json_array_size(json_object_get(ms, "c")))
			break;
		if (json_object_get(s, "d") && tree_set(s, "last_epoch", json_pack("{s:[{s:I}], s:s, s:s}", "c", "value",
			(json_int_t)(step - m > 0 ? step - m : 0), "ty", "builtins.tuple", "ctx", "null"), -1))
			return ck_errf(e, CK_ENOMEM, "out of memory");
	}
	return 0;
}

/* optimizer.sparsity's masks move into model["<name>_mask"]; its step and per-parameter
 * schedule index into a top-level `sparsity`. */
static int move_sparsity(run *r, json_t *root, ck_err *e)
{
	json_t *opt = tree_get(root, "optimizer"), *model = tree_get(root, "model"), *sp = opt ? tree_get(opt, "sparsity") : NULL;
	json_t *st = sp ? tree_get(sp, "state") : NULL, *out, *sched, *groups;
	int rc = 0;
	if (!model || !st || !json_object_get(st, "d"))
		return 0;
	json_incref(sp);
	for (size_t i = 0; i < json_array_size(json_object_get(st, "d")); i++) {
		char b[32], *name = NULL;
		const char *w = tree_key_str(json_array_get(json_object_get(st, "d"), i), b);
		json_t *mask = tree_get(json_array_get(json_object_get(st, "c"), i), "mask");
		if (!mask || !tree_get(model, w))
			continue;
		if (asprintf(&name, "%s_mask", w) < 0 || tree_set(model, name, json_incref(mask), -1))
			rc = ck_errf(e, CK_ENOMEM, "out of memory");
		note(r, "  optimizer.sparsity.state.%s.mask -> model.%s\n", w, name);
		free(name);
	}
	tree_del(opt, "sparsity");
	tree_del(root, "sparsity");
	if (!(out = json_pack("{s:[], s:[], s:s}", "d", "c", "ty", "builtins.dict")) || !(sched = json_pack("{s:[], s:[], s:s}", "d", "c", "ty", "builtins.dict"))) {
		json_decref(out);
		json_decref(sp);
		return ck_errf(e, CK_ENOMEM, "out of memory");
	}
	if (tree_get(sp, "step"))
		tree_set(out, "step", json_incref(tree_get(sp, "step")), -1);
	groups = tree_get(sp, "param_groups");
	for (size_t g = 0; g < json_array_size(json_object_get(groups, "c")); g++) {
		json_t *grp = json_array_get(json_object_get(groups, "c"), g), *gs = tree_get(grp, "sparsity");
		json_t *names = tree_get(grp, "param_names"), *step = gs ? tree_get(gs, "step") : NULL;
		if (!step)
			continue;
		for (size_t i = 0; i < json_array_size(json_object_get(names, "c")); i++) {
			json_t *nv = NULL;
			if ((rc = tree_to_json(r->tree, json_array_get(json_object_get(names, "c"), i), &nv, e)) || !json_is_string(nv)) {
				json_decref(nv);
				rc = rc ? rc : ck_errf(e, CK_EINVALID, "%s: optimizer.sparsity param_names holds a non-string", r->o->src);
				break;
			}
			json_t *idx = json_pack("{s:[s], s:[O], s:s}", "d", "index", "c", step, "ty", "builtins.dict");
			tree_set(sched, json_string_value(nv), idx, -1);
			json_decref(nv);
		}
	}
	if (json_array_size(json_object_get(sched, "d")))
		tree_set(out, "sparsity", json_incref(sched), -1);
	json_decref(sched);
	json_decref(sp);
	tree_set(root, "sparsity", out, -1);
	return rc;
}

/* ---- one step ---- */

/* Why the step refuses to convert in its direction (`refuse`, or `refuse_up` / `refuse_down`),
 * or NULL. */
static const char *step_refusal(const hop *h)
{
	const char *why = json_string_value(json_object_get(h->step, "refuse"));
	return why ? why : json_string_value(json_object_get(h->step, h->up ? "refuse_up" : "refuse_down"));
}

/* 0 when the step says `carry: model`: the output is the model alone, no trainer state and no
 * __metadata__ (the reference's cs-1.6 steps: the model changed too much for the rest to apply). */
static int carries_all(const hop *h)
{
	const json_t *carry = json_object_get(h->step, "carry");
	return !json_is_string(carry) || strcmp(json_string_value(carry), "model");
}

/* The new root: every top-level entry of old but `model` and `__metadata__`, in order. */
static int carry_others(const hop *h, const json_t *old, json_t **root, ck_err *e)
{
	int all = carries_all(h);
	json_t *d = json_object_get(old, "d"), *c = json_object_get(old, "c");
	if (!(*root = json_pack("{s:[], s:[], s:O}", "d", "c", "ty", json_object_get(old, "ty"))))
		return ck_errf(e, CK_ENOMEM, "out of memory");
	for (size_t i = 0; all && i < json_array_size(d); i++) {
		char b[32];
		const char *k = tree_key_str(json_array_get(d, i), b);
		if (strcmp(k, "model") && strcmp(k, "__metadata__") &&
			(json_array_append(json_object_get(*root, "d"), json_array_get(d, i)) ||
			json_array_append(json_object_get(*root, "c"), json_array_get(c, i))))
			return ck_errf(e, CK_ENOMEM, "out of memory");
	}
	return 0;
}

/* old's __metadata__ (or a new list) with the step's record appended: {version: "X.Y.0",
 * model_name: "", params: np}, as the reference's update_ckpt_metadata. A new reference. */
static json_t *metadata_after(const hop *h, const json_t *old, const json_t *np)
{
	char ver[64];
	json_t *md = tree_get(old, "__metadata__"), *plain, *rec;
	snprintf(ver, sizeof ver, "%.*s.0", (int)strcspn(h->to + 3, "-"), h->to + 3); /* cs-2.1-dpo: "2.1.0" */
	md = md ? json_deep_copy(md) : json_pack("{s:[], s:s, s:s}", "c", "ty", "builtins.list", "ctx", "null");
	plain = json_pack("{s:s, s:s, s:O}", "version", ver, "model_name", "", "params", np);
	rec = plain ? tree_from_json(plain) : NULL; /* tree_from_json borrows: the plain record is released */
	json_decref(plain);
	if (!md || !rec || json_array_append_new(json_object_get(md, "c"), rec)) {
		json_decref(md);
		return NULL;
	}
	return md;
}

/* R1.9 data-loader state files, named by the source params, as the `dataloader` entry (after
 * `model`, as the reference adds it) unless the checkpoint has one: releases.yaml's
 * checkpoint.iter_state says where (`dir`) and which loader (`loader`: map or iterable). */
static int iter_state(run *r, const hop *h, json_t *root, ck_err *e)
{
	const json_t *spec = json_object_get(json_object_get(r->rel, "checkpoint"), "iter_state");
	env v = {.r = r, .h = h, .p = r->params};
	json_t *dir = NULL, *kind = NULL, *plain = NULL;
	const char *d;
	int rc;
	if (!spec || (rc = eval(&v, r->rel_path, json_object_get(spec, "dir"), &dir, e)))
		return spec ? rc : 0;
	if (!(d = json_string_value(dir)) || !*d)
		rc = 0;
	else if (tree_get(root, "dataloader"))
		note(r, "  dataloader: the checkpoint has one; %s is not read\n", d);
	else if (!(rc = eval(&v, r->rel_path, json_object_get(spec, "loader"), &kind, e))) {
		const char *k = json_string_value(kind);
		if (!k || (strcmp(k, "map") && strcmp(k, "iterable")))
			rc = ck_errf(e, CK_EINVALID, "%s: checkpoint.iter_state.loader: expected 'map' or 'iterable'", r->rel_path);
		else if (!(rc = dlstate_read(d, !strcmp(k, "iterable"), &plain, e))) {
			note(r, "  dataloader (%s) from %s\n", k, d);
			if (tree_set(root, "dataloader", tree_from_json(plain), -1))
				rc = ck_errf(e, CK_ENOMEM, "out of memory");
		}
	}
	json_decref(plain);
	json_decref(kind);
	json_decref(dir);
	return rc;
}

/* The trainer state after the step: schedulers reset for old sources, sparsity masks moved. */
static int step_state(run *r, const hop *h, json_t *root, ck_err *e)
{
	const json_t *reset = json_object_get(json_object_get(r->rel, "checkpoint"), "reset_scheduler_before");
	int rc = 0;
	if (json_is_string(reset) && rel_of(r, h->from) < rel_index(r, json_string_value(reset)))
		rc = reset_scheduler(r, root, e);
	return rc ? rc : move_sparsity(r, root, e);
}

static int run_hop(run *r, const hop *h, ck_err *e)
{
	json_t *old = r->tree, *model = tree_get(old, "model"), *nm = NULL, *np = NULL, *root = NULL;
	int rc;
	note(r, "step %s -> %s (%s)\n", h->from, h->to, h->step ? r->fam_path : "generic");
	if (step_refusal(h))
		return ck_errf(e, CK_EINVALID, "%s %s -> %s: %s (%s)", r->model, h->from, h->to, step_refusal(h), r->fam_path);
	if (!model || !json_object_get(model, "d"))
		return ck_errf(e, CK_EINVALID, "%s: the checkpoint has no 'model' dict", r->o->src);
	if (!(np = json_deep_copy(r->params)))
		return ck_errf(e, CK_ENOMEM, "out of memory");
	if ((rc = step_params(r, h, np, e)) || (rc = step_model(r, h, np, model, &nm, e)) ||
		(rc = carry_others(h, old, &root, e)))
		goto done;
	rc = tree_set(root, "model", nm, -1); /* steals its child, even when failing */
	nm = NULL;
	if (rc || (carries_all(h) && ((rc = iter_state(r, h, root, e)) ||
		(rc = tree_set(root, "__metadata__", metadata_after(h, old, np), -1)))))
		rc = rc == -1 ? ck_errf(e, CK_ENOMEM, "out of memory") : rc;
	else if (!(rc = step_state(r, h, root, e))) {
		json_decref(r->tree);
		r->tree = root, root = NULL;
		json_decref(r->params);
		r->params = np, np = NULL;
	}
done:
	json_decref(nm);
	json_decref(np);
	json_decref(root);
	return rc;
}

/* ---- the run ---- */

static int load_params(run *r, ck_err *e)
{
	char *cfg = NULL;
	int rc;
	if (r->o->config)
		cfg = strdup(r->o->config);
	else if (asprintf(&cfg, "%.*s.yaml", (int)(strlen(r->o->src) - (path_ends_with(r->o->src, ".mdl") ? 4 : 0)), r->o->src) < 0)
		cfg = NULL;
	if (!cfg)
		return ck_errf(e, CK_ENOMEM, "out of memory");
	rc = valio_yaml_load(cfg, &r->params, e);
	if (!rc && !json_is_object(r->params))
		rc = ck_errf(e, CK_EINVALID, "%s: the params are not a mapping", cfg);
	free(cfg);
	return rc;
}

static int write_out(run *r, ck_err *e)
{
	char *mdl = NULL, *yaml = NULL, *base = NULL, *text = NULL;
	const char *ytmp, *mtmp;
	txn *tx = NULL;
	h5ck_opts ho = {0};
	int rc;
	size_t n = strlen(r->o->out);
	if (path_ends_with(r->o->out, ".mdl"))
		n -= 4;
	if (asprintf(&base, "%.*s", (int)n, r->o->out) < 0 || asprintf(&mdl, "%s.mdl", base) < 0 ||
		asprintf(&yaml, "%s.yaml", base) < 0 || !(text = valio_yaml_dumps(r->params))) {
		rc = ck_errf(e, CK_ENOMEM, "out of memory");
		goto done;
	}
	if (!strcmp(mdl, r->o->src) || (r->o->config && !strcmp(yaml, r->o->config))) {
		rc = ck_errf(e, CK_EINVALID, "%s: the output would overwrite an input", mdl);
		goto done;
	}
	if ((rc = txn_begin(base, r->o->force, r->o->quiet ? NULL : stderr, &tx, e)) ||
		(rc = txn_add(tx, yaml, TXN_FILE, &ytmp, e)) || (rc = txn_add(tx, mdl, TXN_FILE, &mtmp, e)) ||
		(rc = txn_write_file(ytmp, text, strlen(text), e)))
		goto done;
	ho.compress_lz4 = r->o->lz4;
	ho.in_place = 1;
	if ((rc = tree_write(r->tree, r->src, mtmp, &ho, e)) || (rc = txn_commit(tx, e)))
		goto done;
	if (!r->o->quiet)
		fprintf(stderr, "ckconv: %s %s -> %s in %zu step%s: wrote %s and %s\n", r->model, r->src_fmt, r->tgt_fmt,
			r->n_hops, r->n_hops == 1 ? "" : "s", mdl, yaml);
done:
	txn_free(tx);
	free(base);
	free(mdl);
	free(yaml);
	free(text);
	return rc;
}

/* --dry-run: every params key that changes, as dotted paths. */
static void diff_params(text *t, const json_t *a, const json_t *b, const char *path)
{
	const char *k;
	json_t *v;
	char *sub = NULL;
	if (json_is_object(a) && json_is_object(b)) {
		json_object_foreach((json_t *)a, k, v) {
			if (asprintf(&sub, "%s%s%s", path, *path ? "." : "", k) < 0)
				return;
			diff_params(t, v, json_object_get(b, k), sub);
			free(sub);
		}
		json_object_foreach((json_t *)b, k, v)
			if (!json_object_get(a, k)) {
				char *s = valio_json_text(v, -1, 1);
				text_printf(t, "  params + %s%s%s: %s\n", path, *path ? "." : "", k, s ? s : "?");
				free(s);
			}
		return;
	}
	if (json_equal(a, b))
		return;
	char *sa = valio_json_text(a, -1, 1), *sb = b ? valio_json_text(b, -1, 1) : NULL;
	if (b)
		text_printf(t, "  params ~ %s: %s -> %s\n", path, sa ? sa : "?", sb ? sb : "?");
	else
		text_printf(t, "  params - %s\n", path);
	free(sa);
	free(sb);
}

/* list --releases: the pairs a family step converts that are not two releases (a release's variant,
 * as DPO's cs-2.1-no-dpo <-> cs-2.1-dpo), both ways. */
static void list_variants(const run *r, const char *model, FILE *f)
{
	const json_t *steps = json_object_get(r->fam, "steps");
	for (size_t i = 0; i < json_array_size(steps); i++) {
		const json_t *s = json_array_get(steps, i);
		for (int up = 1; up >= 0; up--) {
			const json_t *A = json_object_get(s, up ? "left" : "right"), *B = json_object_get(s, up ? "right" : "left");
			for (size_t a = 0; a < json_array_size(A); a++)
				for (size_t b = 0; b < json_array_size(B); b++) {
					const char *x = json_string_value(json_array_get(A, a)), *y = json_string_value(json_array_get(B, b));
					if (x && y && (rel_index(r, x) < 0 || rel_index(r, y) < 0))
						fprintf(f, "%s %s -> %s: %s -> %s (%s)\n", model, x, y, x, y, strrchr(r->fam_path, '/') + 1);
				}
		}
	}
}

int cscs_list(const char *rules, const char *model, FILE *f, ck_err *e)
{
	run r = {0};
	conv_opts o = {.rules = rules};
	json_t *models;
	const char *k;
	json_t *m;
	int rc = 0;
	char *dir = cli_rules_dir(rules);
	r.o = &o;
	rc = dir ? load_releases(&r, dir, e) : ck_errf(e, CK_ENOMEM, "out of memory");
	free(dir);
	if (!rc && model) { /* the model asked for must be one releases.yaml lists (load_rules says so) */
		free_rules(&r);
		rc = load_rules(&r, rules, model, e);
	}
	if (rc)
		goto done;
	models = json_incref(json_object_get(r.rel, "models"));
	free_rules(&r);
	json_object_foreach(models, k, m) {
		if (model && strcmp(k, model) && !in_list(json_object_get(m, "aliases"), model))
			continue;
		if ((rc = load_rules(&r, rules, k, e)))
			break;
		long lo = rel_index(&r, json_string_value(json_object_get(m, "since")) ? json_string_value(json_object_get(m, "since")) : "");
		for (size_t a = lo < 0 ? 0 : (size_t)lo; a < json_array_size(r.releases); a++)
			for (size_t b = lo < 0 ? 0 : (size_t)lo; b < json_array_size(r.releases); b++) {
				if (a == b)
					continue;
				ck_err tmp = {0};
				r.src_fmt = (char *)json_string_value(json_array_get(r.releases, a));
				r.tgt_fmt = (char *)json_string_value(json_array_get(r.releases, b));
				fprintf(f, "%s %s -> %s:", k, r.src_fmt, r.tgt_fmt);
				if (plan_hops(&r, &tmp))
					fprintf(f, " refused: %s", tmp.msg);
				for (size_t i = 0; i < r.n_hops; i++) {
					const char *why = step_refusal(&r.hops[i]);
					if (why) {
						fprintf(f, " refused: %s -> %s: %s", r.hops[i].from, r.hops[i].to, why);
						break;
					}
					fprintf(f, "%s %s -> %s%s%s%s", i ? "," : "", r.hops[i].from, r.hops[i].to, r.hops[i].step ? " (" : "",
						r.hops[i].step ? strrchr(r.fam_path, '/') + 1 : "", r.hops[i].step ? ")" : "");
				}
				fputc('\n', f);
				free(r.hops);
				r.hops = NULL;
				r.n_hops = 0;
			}
		list_variants(&r, k, f);
		r.src_fmt = r.tgt_fmt = NULL;
		free_rules(&r);
	}
	json_decref(models);
done:
	r.src_fmt = r.tgt_fmt = NULL;
	free_rules(&r);
	return rc;
}

static void run_dispose(run *r)
{
	free_rules(r);
	free(r->src_fmt);
	free(r->tgt_fmt);
	json_decref(r->tree);
	json_decref(r->params);
	ck_tsrc_free(r->src);
	text_dispose(&r->log);
}

int cscs_run(const conv_opts *o, ck_err *e)
{
	run r = {.o = o};
	int rc;
	if (!o->dry_run && !o->out) {
		rc = ck_errf(e, CK_EINVALID, "CS -> CS: give the output with -o OUT.mdl");
		goto done;
	}
	if ((rc = load_rules(&r, o->rules, o->model, e)) || (rc = h5ck_open(o->src, &r.src, e)) || (rc = tree_read(r.src, &r.tree, e)) ||
		(rc = load_params(&r, e)) || (rc = pick_formats(&r, e)) || (rc = plan_hops(&r, e)))
		goto done;
	for (size_t i = 0; i < r.n_hops && !rc; i++) {
		json_t *before = json_incref(r.params);
		rc = run_hop(&r, &r.hops[i], e);
		if (!rc)
			diff_params(&r.log, before, r.params, "");
		json_decref(before);
	}
	if (rc)
		goto done;
	if (o->dry_run) {
		printf("%s %s -> %s (%s)\n%s", r.model, r.src_fmt, r.tgt_fmt, r.rel_path, r.log.p ? r.log.p : "");
		goto done;
	}
	rc = write_out(&r, e);
done:
	run_dispose(&r);
	return rc;
}

int cscs_config(const conv_opts *o, char **yaml, char **tgt_fmt, ck_err *e)
{
	run r = {.o = o};
	int rc;
	*yaml = *tgt_fmt = NULL;
	if ((rc = load_rules(&r, o->rules, o->model, e)) || (rc = load_params(&r, e)) || (rc = pick_formats(&r, e)) ||
		(rc = plan_hops(&r, e)))
		goto done;
	for (size_t i = 0; i < r.n_hops && !rc; i++) { /* the params side of run_hop */
		const hop *h = &r.hops[i];
		/* refused as convert refuses it, one way included: params for a checkpoint that cannot
		 * be written would describe a file no command makes */
		const char *why = step_refusal(h);
		rc = why ? ck_errf(e, CK_EINVALID, "%s %s -> %s: %s (%s)", r.model, h->from, h->to, why, r.fam_path)
			 : step_params(&r, h, r.params, e);
	}
	if (!rc && (!(*yaml = valio_yaml_dumps(r.params)) || !(*tgt_fmt = strdup(r.tgt_fmt))))
		rc = ck_errf(e, CK_ENOMEM, "out of memory");
done:
	run_dispose(&r);
	return rc;
}
