/* config.c - config rules: defaults, renames with value maps, requirements, computed values. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "config.h"
#include "text.h"
#include "valio.h"

#define MAX_LET_DEPTH 16

/* --- evaluation environment ----------------------------------------------- */

typedef struct env_ctx {
	config_env *env;
	ck_err *e;
	int failed;
	json_t *tmp; /* keeps let values alive while the caller borrows them */
} env_ctx;

/* A `let` name's value, evaluated now (lets may use each other, not themselves). */
static json_t *let_value(env_ctx *c, const rule_let *l)
{
	config_env *env = c->env;
	json_t *v = NULL;
	if (env->depth >= MAX_LET_DEPTH) {
		ck_errf(c->e, CK_EINVALID, "%s:%d:%d: let '%s' refers to itself", l->pos.file, l->pos.line, l->pos.col,
			l->name);
		c->failed = 1;
		return NULL;
	}
	env->depth++;
	int rc = config_eval(env, l->x, &v, c->e);
	env->depth--;
	if (rc) {
		c->failed = 1;
		return NULL;
	}
	if (!v)
		return expr_absent();
	json_array_append_new(c->tmp, v);
	return v;
}

static json_t *resolve(void *vctx, const char *name)
{
	env_ctx *c = vctx;
	config_env *env = c->env;
	/* hf/cs are known names even while one side is still being built */
	if (!strcmp(name, "hf"))
		return env->hf ? env->hf : expr_absent();
	if (!strcmp(name, "cs"))
		return env->cs ? env->cs : expr_absent();
	if (env->vars && json_object_get(env->vars, name))
		return json_object_get(env->vars, name);
	for (size_t i = 0; i < env->n_rule_let; i++) /* the rule's own names shadow the file's */
		if (!strcmp(env->rule_let[i].name, name))
			return let_value(c, &env->rule_let[i]);
	for (size_t i = 0; env->scope && i < env->scope->n_let; i++)
		if (!strcmp(env->scope->let[i].name, name))
			return let_value(c, &env->scope->let[i]);
	return NULL;
}

int config_eval(config_env *env, const expr *x, json_t **out, ck_err *e)
{
	env_ctx c = {env, e, 0, json_array()};
	int rc;
	*out = NULL;
	if (!c.tmp)
		return ck_errf(e, CK_ENOMEM, "out of memory");
	rc = expr_eval(x, resolve, &c, out, e);
	if (c.failed && !rc)
		rc = e->code ? e->code : CK_EINVALID;
	json_decref(c.tmp);
	return rc;
}

int config_eval_int(config_env *env, const expr *x, long long *out, ck_err *e)
{
	json_t *v = NULL;
	int rc = config_eval(env, x, &v, e);
	if (rc)
		return rc;
	if (json_is_integer(v)) {
		*out = json_integer_value(v);
	} else if (json_is_real(v) && json_real_value(v) == floor(json_real_value(v)) && fabs(json_real_value(v)) < 9e15) {
		*out = (long long)json_real_value(v);
	} else {
		char *s = v ? json_dumps(v, JSON_ENCODE_ANY) : NULL;
		rc = ck_errf(e, CK_EINVALID, "'%s' must be an integer, found %s", expr_src(x), s ? s : "nothing (not set)");
		free(s);
	}
	json_decref(v);
	return rc;
}

/* --- dotted paths --------------------------------------------------------- */

json_t *config_path_get(const json_t *obj, const char *path)
{
	char buf[256];
	const char *p = path;
	json_t *cur = (json_t *)obj;
	while (cur && json_is_object(cur)) {
		size_t n = strcspn(p, ".");
		if (n >= sizeof buf)
			return NULL;
		memcpy(buf, p, n);
		buf[n] = '\0';
		cur = json_object_get(cur, buf);
		if (!p[n])
			return cur;
		p += n + 1;
	}
	return NULL;
}

json_t *config_params_model(const json_t *params)
{
	json_t *m = json_object_get(params, "model"), *tr = json_object_get(params, "trainer");
	return m || !json_is_object(tr) ? m : config_path_get(tr, "init.model");
}

int config_path_set(json_t *obj, const char *path, json_t *v)
{
	char buf[256];
	const char *p = path;
	json_t *cur = obj;
	for (;;) {
		size_t n = strcspn(p, ".");
		if (n >= sizeof buf || !json_is_object(cur)) {
			json_decref(v);
			return -1;
		}
		memcpy(buf, p, n);
		buf[n] = '\0';
		if (!p[n])
			return json_object_set_new(cur, buf, v);
		json_t *next = json_object_get(cur, buf);
		if (!next) {
			next = json_object();
			json_object_set_new(cur, buf, next);
		}
		cur = next;
		p += n + 1;
	}
}

/* --- conversion ------------------------------------------------------------ */

/* One conversion: read the source side `from`, write the other side `to`. */
typedef struct conv {
	const rule_set *rs;
	rule_side from, to;
	const char *where;
	json_t *doc[2];  /* per side: doc[from] the config read (a copy), doc[to] the one written */
	json_t *params; /* the CS params document: rooted keys (`/optimizer.x`) are read from it when the
	                   source is CS and written into it when the target is CS */
	json_t *used; /* object: source keys some rule consumed */
	text *notes;  /* `note_hf:` / `note_cs:` lines for the user, or NULL: not wanted */
	config_env env;
	ck_err *e;
} conv;

static int at(conv *c, const rule_cfg *r, const char *msg)
{
	return ck_errf(c->e, CK_EINVALID, "%s: %s (rule %s:%d:%d)", c->where, msg, r->pos.file, r->pos.line, r->pos.col);
}

/* A CS key written `/a.b` is rooted at the params document, any other at the model section
 * (muP's optimizer.adjust_learning_rate lives beside `model:`). */
static json_t *side_doc(conv *c, rule_side side, const char **key)
{
	if (side != RULE_CS || (*key)[0] != '/')
		return c->doc[side];
	(*key)++;
	return c->params;
}

static json_t *key_get(conv *c, rule_side side, const char *key)
{
	json_t *doc = side_doc(c, side, &key);
	return doc ? config_path_get(doc, key) : NULL;
}

static int key_set(conv *c, const rule_cfg *r, const char *key, json_t *v)
{
	json_t *doc = side_doc(c, c->to, &key);
	if (!doc) {
		json_decref(v);
		return 0;
	}
	return config_path_set(doc, key, v) ? at(c, r, "cannot set a nested key under a non-object") : 0;
}

static char *dump(const json_t *v)
{
	return v ? json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT) : strdup("nothing");
}

/* Numbers compare by value (0 == 0.0), everything else structurally. */
static int same(const json_t *a, const json_t *b)
{
	if (json_is_number(a) && json_is_number(b))
		return json_number_value(a) == json_number_value(b);
	return json_equal((json_t *)a, (json_t *)b);
}

static int allowed(const json_t *req, const json_t *v)
{
	size_t i;
	json_t *it;
	if (!json_is_array(req))
		return same(req, v);
	json_array_foreach(req, i, it) if (same(it, v)) return 1;
	return 0;
}

static int do_require(conv *c, const rule_cfg *r, int src_side)
{
	rule_side side = src_side ? c->from : c->to;
	char **keys = r->key[side];
	size_t n = r->n_key[side];
	for (size_t i = 0; i < n; i++) {
		if (src_side) {
			json_t *v = key_get(c, side, keys[i]);
			if (v && !allowed(r->require, v) && json_is_null(json_array_get(r->require, 0))) {
				/* [null, default...]: a key with no counterpart, convertible only at its default */
				char *got = dump(v), msg[600], acc[300] = "absent";
				size_t n = json_array_size(r->require);
				for (size_t k = 0; k < n; k++) {
					char *a = dump(json_array_get(r->require, k));
					snprintf(acc + strlen(acc), sizeof acc - strlen(acc), "%s%s", k + 1 == n ? " or " : ", ",
						a ? a : "?");
					free(a);
				}
				snprintf(msg, sizeof msg, "%s = %s has no %s counterpart (accepted: %s)", keys[i], got,
					rule_side_label(c->to), acc);
				free(got);
				return at(c, r, msg);
			}
			if (v && !allowed(r->require, v)) {
				char *want = dump(r->require), *got = dump(v), msg[600];
				snprintf(msg, sizeof msg, "%s must be %s%s, found %s", keys[i], json_is_array(r->require) ? "one of " : "",
					want, got);
				free(want);
				free(got);
				return at(c, r, msg);
			}
		} else if (!key_get(c, side, keys[i])) {
			json_t *v = json_is_array(r->require) ? json_array_get(r->require, 0) : r->require;
			int rc;
			if (json_is_null(v)) /* "absent or null": the key is left out */
				continue;
			if ((rc = key_set(c, r, keys[i], json_deep_copy(v))))
				return rc;
		}
	}
	return 0;
}

static unsigned type_of(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_INTEGER: return RULE_T_INT | RULE_T_FLOAT;
	case JSON_REAL: return RULE_T_FLOAT;
	case JSON_TRUE:
	case JSON_FALSE: return RULE_T_BOOL;
	case JSON_STRING: return RULE_T_STR;
	case JSON_NULL: return RULE_T_NULL;
	case JSON_ARRAY: return RULE_T_LIST;
	default: return RULE_T_MAP;
	}
}

/* One line for the user about a config value: "WHERE: TEXT (rule FILE:LINE:COL)". */
static void note_at(text *t, const char *where, const rule_cfg *r, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void note_at(text *t, const char *where, const rule_cfg *r, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	text_printf(t, "%s: %s (rule %s:%d:%d)\n", where, msg, r->pos.file, r->pos.line, r->pos.col);
}

/* A CS params string that YAML 1.2 would have read as a number: "1e-05" (YAML 1.1, which
 * ModelZoo's yaml.safe_load follows, wants a dot in a float), or any digits quoted. ModelZoo's
 * config classes (pydantic) take such a string for a number field as that number, so the model
 * trained with it: the number, or NULL when s is not one (no inf/nan, no spaces, nothing after). */
static json_t *cs_number(const char *s, unsigned types)
{
	const char *p = s + (*s == '-' || *s == '+');
	size_t digits = strspn(p, "0123456789"), frac = 0, exp = 0;
	const char *q = p + digits;
	if (*q == '.')
		frac = 1 + strspn(q + 1, "0123456789"), q += frac;
	if (!digits && frac < 2)
		return NULL;
	if (*q == 'e' || *q == 'E') {
		const char *d = q + 1 + (q[1] == '-' || q[1] == '+');
		if (!(exp = strspn(d, "0123456789")))
			return NULL;
		q = d + exp;
	}
	if (*q)
		return NULL;
	if (!frac && !exp && (types & RULE_T_INT)) {
		errno = 0;
		long long v = strtoll(s, NULL, 10);
		return errno ? NULL : json_integer(v);
	}
	double d = strtod(s, NULL);
	return (types & RULE_T_FLOAT) && isfinite(d) ? json_real(d) : NULL;
}

/* `type:` - a value of the wrong type would otherwise flow on (4 * "8" is "8888" in expressions) */
static int do_types(conv *c, const rule_cfg *r)
{
	char **keys = r->key[c->from];
	size_t n = r->n_key[c->from];
	for (size_t i = 0; r->types && i < n; i++) {
		json_t *v = key_get(c, c->from, keys[i]);
		if (!v || (type_of(v) & r->types))
			continue;
		char want[80], *got = dump(v), msg[600];
		snprintf(msg, sizeof msg, "%s must be %s, found %.200s", keys[i], rule_types_str(r->types, want, sizeof want),
			got ? got : "?");
		free(got);
		return at(c, r, msg);
	}
	return 0;
}

int config_cs_numbers(const rule_set *rs, json_t *model, json_t *params, const char *where, char **notes)
{
	const rule_file *f = rs->files[0];
	text told = {0};
	int rc = 0;
	*notes = NULL;
	for (size_t i = 0; i < f->n_cfg && !rc; i++) {
		const rule_cfg *r = &f->cfg[i];
		for (size_t k = 0; (r->types & (RULE_T_INT | RULE_T_FLOAT)) && !(r->types & RULE_T_STR) && k < r->n_key[RULE_CS]; k++) {
			const char *key = r->key[RULE_CS][k];
			json_t *doc = key[0] == '/' ? params : model, *v, *num;
			if (key[0] == '/')
				key++;
			if (!(v = doc ? config_path_get(doc, key) : NULL) || !json_is_string(v) || !(num = cs_number(json_string_value(v), r->types)))
				continue;
			note_at(&told, where, r, "%s \"%s\" (a string to YAML 1.1) read as the number it spells, as ModelZoo's config "
				"classes read it", r->key[RULE_CS][k], json_string_value(v));
			rc = config_path_set(doc, key, num);
		}
	}
	if (rc)
		rc = -1;
	else if (told.p && !(*notes = text_take(&told)))
		rc = -1;
	text_dispose(&told);
	return rc;
}

static int do_check(conv *c, const rule_cfg *r)
{
	const expr *x = r->check[c->from];
	json_t *v = NULL;
	int rc;
	if (!x)
		return 0;
	if ((rc = config_eval(&c->env, x, &v, c->e)))
		return rc;
	int ok = v && !json_is_false(v) && !json_is_null(v) && !(json_is_integer(v) && !json_integer_value(v));
	json_decref(v);
	if (!ok) {
		char msg[600];
		snprintf(msg, sizeof msg, "config check failed: %s", expr_src(x));
		return at(c, r, msg);
	}
	return 0;
}

/* `note_hf:` / `note_cs:` - what converts but not quite as it was (an approximation the other side
 * has no exact form for): a string is told to the user, null or false says nothing. */
static int do_note(conv *c, const rule_cfg *r)
{
	const expr *x = r->note[c->from];
	json_t *v = NULL;
	int rc;
	if (!x || !c->notes)
		return 0;
	if ((rc = config_eval(&c->env, x, &v, c->e)))
		return rc;
	if (json_is_string(v))
		note_at(c->notes, c->where, r, "%s", json_string_value(v));
	else if (v && !json_is_null(v) && !json_is_false(v))
		rc = at(c, r, "a note must be a string, null or false");
	json_decref(v);
	return rc;
}

static int do_assign(conv *c, const rule_cfg *r)
{
	size_t n = r->n_set[c->to];
	char **keys = r->set_key[c->to];
	expr **xs = r->set[c->to];
	for (size_t i = 0; i < n; i++) {
		json_t *v = NULL;
		int rc = config_eval(&c->env, xs[i], &v, c->e);
		if (rc)
			return rc;
		if (v && (rc = key_set(c, r, keys[i], v)))
			return rc;
	}
	return 0;
}

/* Value map: the pair whose `from` value is v gives its `to` value (numbers by value). */
static int map_value(conv *c, const rule_cfg *r, const char *key, json_t *v, json_t **out)
{
	size_t i;
	json_t *pair;
	char list[400] = "", msg[700];
	if (!r->map) {
		*out = json_incref(v);
		return 0;
	}
	json_array_foreach(r->map, i, pair) {
		if (same(json_array_get(pair, c->from), v)) {
			*out = json_incref(json_array_get(pair, c->to));
			return 0;
		}
		char *s = dump(json_array_get(pair, c->from));
		snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", list[0] ? ", " : "", s ? s : "?");
		free(s);
	}
	char *got = dump(v);
	snprintf(msg, sizeof msg, "%s = %s has no %s counterpart (supported: %s)", key, got, rule_side_label(c->to), list);
	free(got);
	return at(c, r, msg);
}

static int do_rename(conv *c, const rule_cfg *r)
{
	char **src = r->key[c->from], **dst = r->key[c->to];
	size_t ns = r->n_key[c->from], nd = r->n_key[c->to];
	if (ns != nd)
		return at(c, r, "a rename pairs one key with one key; use to_cs/to_hf for anything else");
	for (size_t i = 0; i < ns; i++) {
		json_t *v = key_get(c, c->from, src[i]), *m = NULL;
		if (!v)
			continue;
		int rc = map_value(c, r, src[i], v, &m);
		if (rc)
			return rc;
		if ((rc = key_set(c, r, dst[i], m)))
			return rc;
	}
	return 0;
}

static void mark_used(conv *c, const rule_cfg *r)
{
	char **src = r->key[c->from];
	size_t n = r->n_key[c->from];
	for (size_t i = 0; i < n; i++) {
		char top[256];
		snprintf(top, sizeof top, "%.*s", (int)strcspn(src[i], "."), src[i]);
		json_object_set_new(c->used, top, json_true());
	}
}

static int apply(conv *c, const rule_cfg *r)
{
	int has_src = r->n_key[c->from] > 0, has_dst = r->n_key[c->to] > 0, has_assign = r->n_set[c->to] > 0;
	int rc;
	mark_used(c, r);
	if (r->drop)
		return 0;
	c->env.rule_let = r->let;
	c->env.n_rule_let = r->n_let;
	if ((rc = do_types(c, r)) || (rc = do_check(c, r)) || (rc = do_note(c, r)))
		;
	else if (r->require)
		rc = do_require(c, r, has_src);
	else if (has_assign)
		rc = do_assign(c, r);
	else if (has_src && has_dst)
		rc = do_rename(c, r);
	c->env.rule_let = NULL;
	c->env.n_rule_let = 0;
	/* expression errors (error() refusals included) name the config file too */
	if (rc && rc != CK_ENOMEM && strncmp(c->e->msg, c->where, strlen(c->where))) {
		char msg[sizeof c->e->msg];
		snprintf(msg, sizeof msg, "%s", c->e->msg);
		ck_errf_reset(c->e, rc, "%s: %s", c->where, msg);
	}
	return rc;
}

static void fill_defaults(json_t *obj, const json_t *defs)
{
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)defs, k, v) {
		json_t *cur = json_object_get(obj, k);
		if (!cur) {
			json_object_set_new(obj, k, json_deep_copy(v));
		} else if (json_is_object(cur) && json_is_object(v)) { /* one level of merging, like the reference */
			const char *k2;
			json_t *v2;
			json_object_foreach(v, k2, v2) if (!json_object_get(cur, k2)) json_object_set_new(cur, k2, json_deep_copy(v2));
		}
	}
}

/* The keys of src (the config as given, before defaults) that no rule consumed, comma-separated. */
static char *unused_keys(conv *c, const json_t *src)
{
	const char *k;
	json_t *v;
	size_t len = 0;
	char *s = NULL;
	json_object_foreach((json_t *)src, k, v) {
		if (json_object_get(c->used, k))
			continue;
		size_t add = strlen(k) + 2;
		char *n = realloc(s, len + add + 1);
		if (!n)
			break;
		s = n;
		len += (size_t)sprintf(s + len, "%s%s", len ? ", " : "", k);
	}
	return s;
}

int config_convert(const rule_set *rs, rule_side from, const json_t *src, const char *where, json_t **out, char **warn,
	ck_err *e)
{
	return config_convert_vars(rs, from, src, where, NULL, out, warn, e);
}

/* Expressions always see hf.<key> and cs.model.<key>: the source config is bound as its side
 * (a CS source within its params document: cs.optimizer.<key> reads beside the model section). */
static json_t *bind_source(conv *c)
{
	if (c->from == RULE_HF)
		return c->env.hf = json_incref(c->doc[c->from]);
	c->env.cs = c->params ? json_copy(c->params) : json_object();
	if (c->env.cs && json_object_set(c->env.cs, "model", c->doc[c->from])) {
		json_decref(c->env.cs);
		c->env.cs = NULL;
	}
	return c->env.cs;
}

int config_convert_vars(const rule_set *rs, rule_side from, const json_t *src, const char *where, json_t *vars,
	json_t **out, char **warn, ck_err *e)
{
	return config_convert_params(rs, from, src, NULL, where, vars, out, warn, NULL, e);
}

int config_convert_params(const rule_set *rs, rule_side from, const json_t *src, json_t *params, const char *where,
	json_t *vars, json_t **out, char **warn, char **notes, ck_err *e)
{
	const rule_file *f = rs->files[0];
	text told = {0};
	conv c = {rs, from, !from, where, {NULL, NULL}, params, json_object(), notes ? &told : NULL, {0}, e};
	json_t *bound = NULL, *given = c.doc[from] = json_deep_copy(src), *made = c.doc[!from] = json_object();
	int rc = 0;
	*out = NULL;
	if (warn)
		*warn = NULL;
	if (notes)
		*notes = NULL;
	if (!given || !made || !c.used) {
		rc = ck_errf(e, CK_ENOMEM, "out of memory");
		goto done;
	}
	if (!json_is_object(given)) {
		rc = ck_errf(e, CK_EINVALID, "%s: the model config must be a mapping", where);
		goto done;
	}
	fill_defaults(given, f->defaults[from]);
	if (!(bound = bind_source(&c))) {
		rc = ck_errf(e, CK_ENOMEM, "out of memory");
		goto done;
	}
	c.env.scope = f;
	c.env.vars = vars;
	for (size_t i = 0; i < f->n_cfg && !rc; i++)
		rc = apply(&c, &f->cfg[i]);
	if (rc)
		goto done;
	fill_defaults(made, f->out[c.to]);
	if (c.to == RULE_HF && f->n_arch && !json_object_get(made, "architectures"))
		json_object_set_new(made, "architectures", json_pack("[s]", f->arch[0]));
	for (size_t i = 0; i < f->n_comp; i++) /* a component's section is its own rules' business */
		json_object_set_new(c.used, f->comp[i].section[from], json_true());
	if (from == RULE_CS) {
		/* CS params are a closed schema: a key no rule accounts for may change what the model
		 * computes, so it stops the conversion (HF configs carry tooling noise: a note there) */
		char *u = unused_keys(&c, src);
		if (u) {
			rc = ck_errf(e, CK_EINVALID, "%s: model key%s not accounted for by %s: %s (no rule converts, refuses or "
				"drops %s as inert, which could change what the model computes)", where, strchr(u, ',') ? "s" : "",
				f->path, u, strchr(u, ',') ? "them" : "it");
			free(u);
			goto done;
		}
	} else if (warn) {
		*warn = unused_keys(&c, src);
	}
	*out = made;
	made = NULL;
done:
	if (!rc && notes && told.p && !(*notes = text_take(&told)))
		rc = ck_errf(e, CK_ENOMEM, "out of memory");
	text_dispose(&told);
	json_decref(bound);
	json_decref(given);
	json_decref(made);
	json_decref(c.used);
	return rc;
}

int config_hf_nested(const rule_set *rs, json_t **hf, const char *where, char **note, ck_err *e)
{
	const rule_file *f = rs->files[0];
	const char *mt = json_string_value(json_object_get(*hf, "model_type"));
	json_t *sub;
	const char *k;
	json_t *v;
	char rest[512] = "";
	*note = NULL;
	if (!f->hf_nested_type || !mt || strcmp(mt, f->hf_nested_type))
		return 0;
	if (!json_is_object(sub = json_object_get(*hf, f->hf_nested_take)))
		return ck_errf(e, CK_EINVALID, "%s: model_type '%s' is a composite config, but it has no '%s' section to "
			"convert", where, mt, f->hf_nested_take);
	json_object_foreach(*hf, k, v) {
		size_t l = strlen(rest);
		if (strcmp(k, f->hf_nested_take) && l + strlen(k) + 3 < sizeof rest)
			snprintf(rest + l, sizeof rest - l, "%s%s", l ? ", " : "", k);
	}
	if (asprintf(note, "%s: model_type '%s' is a composite config: its '%s' is converted, the rest is dropped "
		     "as the reference does (%s)", where, mt, f->hf_nested_take, rest) < 0)
		*note = NULL;
	json_incref(sub);
	json_decref(*hf);
	*hf = sub;
	return 0;
}

int config_layout(const rule_set *rs, rule_side to, json_t **model, json_t *vars, const char *where, ck_err *e)
{
	const rule_file *f = rs->files[0];
	const expr *x = f->layout[to];
	config_env env = {.scope = f, .vars = vars};
	json_t *v = NULL;
	int rc;
	if (!x)
		return 0;
	if (!(env.cs = json_pack("{sO}", "model", *model)))
		return ck_errf(e, CK_ENOMEM, "out of memory");
	rc = config_eval(&env, x, &v, e);
	json_decref(env.cs);
	if (rc)
		return ck_err_prefix(e, rc, where);
	if (!json_is_object(v)) {
		json_decref(v);
		return ck_errf(e, CK_EINVALID, "%s: cs_layout.to_%s must give the model mapping (rule %s:%d:%d)", where,
			rule_side_name(to), f->layout_pos.file, f->layout_pos.line, f->layout_pos.col);
	}
	json_decref(*model);
	*model = v;
	return 0;
}

char *config_unaccounted(const rule_set *rs, rule_side side, const json_t *cfg)
{
	const rule_file *f = rs->files[0];
	conv c = {rs, side, !side, "", {NULL, NULL}, NULL, json_object(), NULL, {0}, NULL};
	char *u;
	if (!c.used)
		return NULL;
	for (size_t i = 0; i < f->n_cfg; i++)
		mark_used(&c, &f->cfg[i]);
	for (size_t i = 0; i < f->n_comp; i++)
		json_object_set_new(c.used, f->comp[i].section[side], json_true());
	for (size_t i = 0; side == RULE_CS && f->mup && i < f->mup->n_drop; i++) /* muP keys are CS params */
		json_object_set_new(c.used, f->mup->drop[i], json_true());
	u = json_is_object(cfg) ? unused_keys(&c, cfg) : NULL;
	json_decref(c.used);
	return u;
}
