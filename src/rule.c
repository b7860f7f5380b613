/* rule.c - rule files (YAML) -> rule AST with positions; includes flattened with prefixes. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "fn.h"
#include "path.h"
#include "rule.h"
#include "valio.h"

#define MAX_INCLUDE_DEPTH 16

static const char *const side_names[2] = {[RULE_HF] = "hf", [RULE_CS] = "cs"};
static const char *const side_labels[2] = {[RULE_HF] = "HF", [RULE_CS] = "CS"};

const char *rule_side_name(rule_side s)
{
	return side_names[s];
}

const char *rule_side_label(rule_side s)
{
	return side_labels[s];
}

typedef struct loader {
	rule_set *set;
	ck_err *e;
	const char *chain[MAX_INCLUDE_DEPTH + 2]; /* files being loaded, outermost first: finds cycles */
	int n_chain;
} loader;

/* --- small YAML helpers ------------------------------------------------- */

static int perr(ck_err *e, const rule_file *f, const ydoc_node *n, const char *fmt, const char *a,
	const char *b)
{
	char msg[1200];
	snprintf(msg, sizeof msg, fmt, a ? a : "", b ? b : "");
	return ck_errf(e, CK_EINVALID, "%s:%d:%d: %s", f->path, n ? n->line : 1, n ? n->col : 1, msg);
}

static rule_pos pos_of(const rule_file *f, const ydoc_node *n)
{
	rule_pos p = {f->path, n ? n->line : 1, n ? n->col : 1};
	return p;
}

static int want_kind(ck_err *e, const rule_file *f, const ydoc_node *n, ydoc_kind k, const char *what)
{
	if (n->kind == k)
		return 0;
	char buf[300];
	snprintf(buf, sizeof buf, "%s must be a %s, found a %s", what, ydoc_kind_name(k), ydoc_kind_name(n->kind));
	return perr(e, f, n, "%s%s", buf, "");
}

/* A scalar or a sequence of scalars -> array of strings. A null scalar gives zero items. */
static int str_list(ck_err *e, const rule_file *f, const ydoc_node *n, const char *what, char ***out, size_t *out_n)
{
	size_t cnt = n->kind == YDOC_SEQ ? n->n : 1;
	char **v = NULL;
	*out = NULL;
	*out_n = 0;
	if (n->kind == YDOC_MAP)
		return perr(e, f, n, "%s must be a string or a list of strings, found a mapping", what, NULL);
	if (n->kind == YDOC_SCALAR && !n->quoted && (!strcmp(n->value, "null") || !strcmp(n->value, "~") || !n->value[0]))
		return 0;
	if (!(v = ck_calloc(e, cnt, sizeof *v)))
		return CK_ENOMEM;
	for (size_t i = 0; i < cnt; i++) {
		const ydoc_node *it = n->kind == YDOC_SEQ ? n->items[i] : n;
		if (it->kind != YDOC_SCALAR) {
			for (size_t j = 0; j < i; j++)
				free(v[j]);
			free(v);
			return perr(e, f, it, "%s: list items must be strings, found a %s", what, ydoc_kind_name(it->kind));
		}
		v[i] = ck_strdup(e, it->value);
	}
	*out = v;
	*out_n = cnt;
	return 0;
}

/* An optional string field: *out stays NULL when absent; anything but a scalar is an error. */
static int opt_str(ck_err *e, const rule_file *f, const ydoc_node *map, const char *key, const char *dflt, char **out)
{
	const ydoc_node *v = ydoc_map_get(map, key);
	if (v && v->kind != YDOC_SCALAR)
		return perr(e, f, v, "'%s' must be a string, found a %s", key, ydoc_kind_name(v->kind));
	if (!v && !dflt)
		return 0;
	return (*out = ck_strdup(e, v ? v->value : dflt)) ? 0 : CK_ENOMEM;
}

static void str_list_free(char **v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		free(v[i]);
	free(v);
}

static int check_keys(ck_err *e, const rule_file *f, const ydoc_node *map, const char *what, const char *const *allowed)
{
	for (size_t i = 0; i < map->n; i++) {
		const ydoc_node *k = map->items[2 * i];
		int ok = 0;
		for (const char *const *a = allowed; *a && !ok; a++)
			ok = strcmp(k->value, *a) == 0;
		if (!ok) {
			char list[512] = "";
			for (const char *const *a = allowed; *a; a++)
				snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", a == allowed ? "" : ", ", *a);
			char buf[700];
			snprintf(buf, sizeof buf, "unknown key '%s' in %s (expected one of: %s)", k->value, what, list);
			return perr(e, f, k, "%s%s", buf, "");
		}
	}
	return 0;
}

static int parse_expr(ck_err *e, const rule_file *f, const ydoc_node *n, expr **out)
{
	char where[1100];
	*out = NULL;
	if (n->kind != YDOC_SCALAR)
		return perr(e, f, n, "expected an expression (a scalar), found a %s", ydoc_kind_name(n->kind), NULL);
	snprintf(where, sizeof where, "%s:%d:%d", f->path, n->line, n->col);
	if (n->quoted) {
		/* A quoted YAML scalar is a string literal unless it is clearly an expression;
		 * authors quote expressions that contain YAML indicators (?:, {}), so parse it. */
	}
	return expr_parse(n->value, where, out, e);
}

/* --- actions ---------------------------------------------------------- */

static const rule_param *param_named(const rule_act *a, const char *name)
{
	for (size_t i = 0; i < a->n; i++)
		if (!strcmp(a->p[i].name, name))
			return &a->p[i];
	return NULL;
}

/* The name and the parameters against the vocabulary (actions.def), so that nothing later
 * meets an unknown action: the name is known, each parameter is in its spec, required ones
 * are present. */
static int resolve_act(ck_err *e, rule_act *a, unsigned roles, const char *what)
{
	char hint[400];
	if (vocab_lookup(a->name, roles, &a->kind)) {
		vocab_suggest(a->name, roles, hint, sizeof hint);
		return ck_errf(e, CK_EINVALID, "%s:%d:%d: unknown %s '%s' (%s)", a->pos.file, a->pos.line, a->pos.col, what,
			a->name, hint);
	}
	const vocab_def *d = vocab_get(a->kind);
	for (size_t i = 0; i < a->n; i++)
		if ((a->p[i].slot = vocab_param_index(a->kind, a->p[i].name)) < 0)
			return ck_errf(e, CK_EINVALID, "%s:%d:%d: %s '%s' has no parameter '%s'", a->p[i].pos.file,
				a->p[i].pos.line, a->p[i].pos.col, what, a->name, a->p[i].name);
	for (int j = 0; j < VOCAB_MAX_PARAMS && d->p[j].name; j++)
		if (d->p[j].required && !param_named(a, d->p[j].name))
			return ck_errf(e, CK_EINVALID, "%s:%d:%d: %s '%s' needs parameter '%s'", a->pos.file, a->pos.line,
				a->pos.col, what, a->name, d->p[j].name);
	return 0;
}

/* "[a, b, c]" from a sequence of scalars (each an expression). */
static int list_text(ck_err *e, const rule_file *f, const ydoc_node *n, char **out)
{
	size_t len = 3;
	for (size_t i = 0; i < n->n; i++) {
		if (n->items[i]->kind != YDOC_SCALAR)
			return perr(e, f, n->items[i], "list items must be scalars (expressions)", NULL, NULL);
		len += strlen(n->items[i]->value) + 2;
	}
	if (!(*out = ck_malloc(e, len)))
		return CK_ENOMEM;
	strcpy(*out, "[");
	for (size_t i = 0; i < n->n; i++) {
		if (i)
			strcat(*out, ", ");
		strcat(*out, n->items[i]->value);
	}
	strcat(*out, "]");
	return 0;
}

int rule_act_parse(const rule_file *f, const ydoc_node *n, rule_act *a, ck_err *e)
{
	memset(a, 0, sizeof *a);
	a->pos = pos_of(f, n);
	if (n->kind == YDOC_SCALAR) {
		a->name = ck_strdup(e, n->value);
		return a->name ? resolve_act(e, a, VOCAB_ROLES_ACTION, "action") : CK_ENOMEM;
	}
	if (n->kind != YDOC_MAP || n->n != 1)
		return perr(e, f, n, "an action is a name or a one-entry mapping {name: {param: value}}", NULL, NULL);
	const ydoc_node *k = n->items[0], *v = n->items[1];
	a->name = ck_strdup(e, k->value);
	a->pos = pos_of(f, k);
	if (v->kind == YDOC_SCALAR && !v->quoted && (!strcmp(v->value, "null") || !strcmp(v->value, "~") || !v->value[0]))
		return resolve_act(e, a, VOCAB_ROLES_ACTION, "action");
	if (want_kind(e, f, v, YDOC_MAP, "action parameters"))
		return CK_EINVALID;
	if (!(a->p = ck_calloc(e, v->n, sizeof *a->p)))
		return CK_ENOMEM;
	for (size_t i = 0; i < v->n; i++) {
		const ydoc_node *pk = v->items[2 * i], *pv = v->items[2 * i + 1];
		rule_param *p = &a->p[a->n++];
		p->name = ck_strdup(e, pk->value);
		p->pos = pos_of(f, pv);
		if (pv->kind == YDOC_SEQ) { /* a list parameter: [a, b] is the expression "[a, b]" */
			char where[1100];
			if (list_text(e, f, pv, &p->text))
				return CK_EINVALID;
			snprintf(where, sizeof where, "%s:%d:%d", f->path, pv->line, pv->col);
			if (expr_parse(p->text, where, &p->x, e))
				return CK_EINVALID;
			continue;
		}
		if (pv->kind != YDOC_SCALAR)
			return perr(e, f, pv, "action parameter '%s' must be a scalar or a list", pk->value, NULL);
		p->text = ck_strdup(e, pv->value);
		if (parse_expr(e, f, pv, &p->x))
			return CK_EINVALID;
	}
	return resolve_act(e, a, VOCAB_ROLES_ACTION, "action");
}

void rule_act_dispose(rule_act *a)
{
	free(a->via);
	for (size_t i = 0; i < a->n; i++) {
		free(a->p[i].name);
		free(a->p[i].text);
		expr_free(a->p[i].x);
	}
	free(a->p);
	free(a->name);
}

/* --- key rules -------------------------------------------------------- */

static char *prefixed(ck_err *e, const char *prefix, const char *t)
{
	size_t a = strlen(prefix), b = strlen(t);
	char *s = ck_malloc(e, a + b + 1);
	if (s) {
		memcpy(s, prefix, a);
		memcpy(s + a, t, b + 1);
	}
	return s;
}

static int prefix_all(ck_err *e, char **v, size_t n, const char *prefix)
{
	for (size_t i = 0; i < n; i++) {
		char *s = prefixed(e, prefix, v[i]);
		if (!s)
			return CK_ENOMEM;
		free(v[i]);
		v[i] = s;
	}
	return 0;
}

static int push_key(loader *L, rule_key *k)
{
	rule_set *s = L->set;
	rule_key *nk = realloc(s->keys, (s->n_keys + 1) * sizeof *nk);
	if (!nk)
		return ck_errf(L->e, CK_ENOMEM, "out of memory");
	s->keys = nk;
	s->keys[s->n_keys++] = *k;
	return 0;
}

static void key_dispose(rule_key *k)
{
	for (int s = 0; s < 2; s++)
		str_list_free(k->tpl[s], k->n_tpl[s]);
	for (size_t i = 0; i < k->n_act; i++)
		rule_act_dispose(&k->act[i]);
	free(k->act);
	free(k->for_each);
	free(k->for_name);
	expr_free(k->for_list);
	expr_free(k->gen_value);
	free(k->gen_dtype);
	expr_free(k->gen_shape);
	expr_free(k->shape[0]);
	expr_free(k->shape[1]);
	expr_free(k->when);
	free(k->twin[RULE_HF]);
	free(k->twin[RULE_CS]);
	expr_free(k->twin_when);
}

/* shape: EXPR (both sides) or {hf: EXPR, cs: EXPR} (either may be left out) */
static int parse_shape(ck_err *e, const rule_file *f, const ydoc_node *n, rule_key *k)
{
	static const char *const allowed[] = {"hf", "cs", NULL};
	const ydoc_node *v;
	k->shape_pos = pos_of(f, n);
	if (n->kind == YDOC_SCALAR)
		return parse_expr(e, f, n, &k->shape[0]) || parse_expr(e, f, n, &k->shape[1]) ? CK_EINVALID : 0;
	if (n->kind != YDOC_MAP || check_keys(e, f, n, "shape", allowed))
		return n->kind != YDOC_MAP ? perr(e, f, n, "'shape' must be an expression or {hf: EXPR, cs: EXPR}, found a %s",
						ydoc_kind_name(n->kind), NULL)
					 : CK_EINVALID;
	if ((v = ydoc_map_get(n, "hf")) && parse_expr(e, f, v, &k->shape[0]))
		return CK_EINVALID;
	if ((v = ydoc_map_get(n, "cs")) && parse_expr(e, f, v, &k->shape[1]))
		return CK_EINVALID;
	return 0;
}

static int literal_key(const char *t)
{
	return !strchr(t, '<');
}

/* tied: {hf: KEY, cs: KEY, when: EXPR} (at least one side); the rule's templates on a side with a
 * twin are literal keys, as the twin is: an absent key is named by its template alone. */
static int parse_tied(ck_err *e, const rule_file *f, const ydoc_node *n, rule_key *k)
{
	static const char *const allowed[] = {"hf", "cs", "when", NULL};
	const ydoc_node *v;
	k->twin_pos = pos_of(f, n);
	if (n->kind != YDOC_MAP || check_keys(e, f, n, "tied", allowed))
		return n->kind != YDOC_MAP ? perr(e, f, n, "'tied' must be {hf: KEY, cs: KEY, when: EXPR}, found a %s",
						ydoc_kind_name(n->kind), NULL)
					 : CK_EINVALID;
	for (int s = RULE_HF; s <= RULE_CS; s++) {
		if (!(v = ydoc_map_get(n, rule_side_name((rule_side)s))))
			continue;
		if (v->kind != YDOC_SCALAR || !v->value[0] || !literal_key(v->value))
			return perr(e, f, v, "tied: '%s' must be one key, without placeholders", rule_side_name((rule_side)s), NULL);
		if (!k->n_tpl[s])
			return perr(e, f, v, "tied: the rule has no %s keys to tie", rule_side_name((rule_side)s), NULL);
		for (size_t i = 0; i < k->n_tpl[s]; i++)
			if (!literal_key(k->tpl[s][i]))
				return perr(e, f, v, "tied: the rule's %s keys must be literal (no placeholders) to be read from a twin",
					rule_side_name((rule_side)s), NULL);
		if (!(k->twin[s] = ck_strdup(e, v->value)))
			return CK_ENOMEM;
	}
	if (!k->twin[RULE_HF] && !k->twin[RULE_CS])
		return perr(e, f, n, "tied needs 'hf' and/or 'cs': the twin key on that side", NULL, NULL);
	return (v = ydoc_map_get(n, "when")) ? parse_expr(e, f, v, &k->twin_when) : 0;
}

static const char *const create_keys[] = {"for_each", "for", "seed", "dtype", "shape", NULL};

/* A key of `create:` that is neither one of create_keys nor a generator of actions.def. */
static int create_key_err(ck_err *e, const rule_file *f, const ydoc_node *k)
{
	char gens[300] = "";
	for (int i = 0; i < VOCAB__COUNT; i++)
		if (vocab_get((vocab_kind)i)->role == VOCAB_ROLE_GEN)
			snprintf(gens + strlen(gens), sizeof gens - strlen(gens), "%s%s", gens[0] ? ", " : "",
				vocab_name((vocab_kind)i));
	return ck_errf(e, CK_EINVALID, "%s:%d:%d: unknown generator or key '%s' in create (generators: %s; keys: "
		"for_each, for, seed, dtype, shape)", f->path, k->line, k->col, k->value, gens);
}

/* create: {for_each: T | for: {NAME: EXPR}, <generator>: V, seed: N, dtype: D, shape: EXPR};
 * the generators are the GEN entries of actions.def. */
static int parse_create(loader *L, const rule_file *f, const ydoc_node *n, rule_key *k)
{
	ck_err *e = L->e;
	const ydoc_node *v, *fe, *fo, *kind = NULL;
	if (want_kind(e, f, n, YDOC_MAP, "create"))
		return CK_EINVALID;
	for (size_t i = 0; i < n->n; i++) {
		const ydoc_node *key = n->items[2 * i];
		vocab_kind g;
		int fixed = 0;
		for (const char *const *a = create_keys; *a && !fixed; a++)
			fixed = !strcmp(key->value, *a);
		if (fixed)
			continue;
		if (vocab_lookup(key->value, VOCAB_ROLE_GEN, &g))
			return create_key_err(e, f, key);
		if (kind)
			return perr(e, f, n->items[2 * i + 1], "create takes one generator, found '%s' and '%s'",
				vocab_name(k->gen), key->value);
		kind = n->items[2 * i + 1];
		k->gen = g;
	}
	fe = ydoc_map_get(n, "for_each");
	fo = ydoc_map_get(n, "for");
	if (!!fe == !!fo)
		return perr(e, f, n, "create needs exactly one of 'for_each: <template on the other side>' or 'for: {NAME: <list>}'",
			NULL, NULL);
	if (fe) {
		if (fe->kind != YDOC_SCALAR)
			return perr(e, f, fe, "for_each must be a key template", NULL, NULL);
		k->for_each = ck_strdup(e, fe->value);
	} else {
		if (fo->kind != YDOC_MAP || fo->n != 1)
			return perr(e, f, fo, "for must be a one-entry mapping {NAME: <expression giving a list>}", NULL, NULL);
		k->for_name = ck_strdup(e, fo->items[0]->value);
		if (parse_expr(e, f, fo->items[1], &k->for_list))
			return CK_EINVALID;
	}
	if (!(v = ydoc_map_get(n, "dtype")) || v->kind != YDOC_SCALAR)
		return perr(e, f, n, "create needs 'dtype'", NULL, NULL);
	k->gen_dtype = ck_strdup(e, v->value);
	if (!(v = ydoc_map_get(n, "shape")))
		return perr(e, f, n, "create needs 'shape' (an expression giving a list of ints)", NULL, NULL);
	if (parse_expr(e, f, v, &k->gen_shape))
		return CK_EINVALID;
	if (!kind)
		return perr(e, f, n, "create needs one of 'fill: <value>', 'tril: 1', 'arange: 1', 'uniform: <bound>' or 'normal: <std>'", NULL,
			NULL);
	k->creates = 1;
	if ((v = ydoc_map_get(n, "seed")))
	{
		if (v->kind != YDOC_SCALAR)
			return perr(e, f, v, "'seed' must be an integer, found a %s", ydoc_kind_name(v->kind), NULL);
		k->gen_seed = strtoll(v->value, NULL, 10);
	}
	return parse_expr(e, f, kind, &k->gen_value);
}

static int load_include(loader *L, const rule_file *from, const ydoc_node *n, const char *hf_pre, const char *cs_pre,
	int depth, int want_keys);

static int parse_key(loader *L, const rule_file *f, const ydoc_node *n, const char *hf_pre, const char *cs_pre, int depth)
{
	static const char *const allowed[] = {"hf", "cs", "action", "create", "shape", "when", "tied", NULL};
	ck_err *e = L->e;
	rule_key k;
	int rc;
	const ydoc_node *v;

	if (want_kind(e, f, n, YDOC_MAP, "a key rule"))
		return CK_EINVALID;
	if (ydoc_map_get(n, "include"))
		return load_include(L, f, n, hf_pre, cs_pre, depth, 1);
	if (check_keys(e, f, n, "a key rule", allowed))
		return CK_EINVALID;
	memset(&k, 0, sizeof k);
	k.scope = f;
	k.pos = pos_of(f, n);
	if ((v = ydoc_map_get(n, "hf")) && (rc = str_list(e, f, v, "hf", &k.tpl[RULE_HF], &k.n_tpl[RULE_HF])))
		goto fail;
	if ((v = ydoc_map_get(n, "cs")) && (rc = str_list(e, f, v, "cs", &k.tpl[RULE_CS], &k.n_tpl[RULE_CS])))
		goto fail;
	if (!k.n_tpl[RULE_HF] && !k.n_tpl[RULE_CS]) {
		rc = perr(e, f, n, "a key rule needs 'hf' and/or 'cs' templates", NULL, NULL);
		goto fail;
	}
	if ((v = ydoc_map_get(n, "action")) && (rc = fn_chain_parse(f->fns, f, v, &k.act, &k.n_act, e)))
		goto fail;
	if ((v = ydoc_map_get(n, "create"))) {
		if (k.n_tpl[RULE_HF] && k.n_tpl[RULE_CS]) {
			rc = perr(e, f, v, "'create' is for keys that exist on one side only", NULL, NULL);
			goto fail;
		}
		if ((rc = parse_create(L, f, v, &k)))
			goto fail;
	}
	if ((v = ydoc_map_get(n, "shape")) && (rc = parse_shape(e, f, v, &k)))
		goto fail;
	if ((v = ydoc_map_get(n, "when")) && (rc = parse_expr(e, f, v, &k.when)))
		goto fail;
	if ((v = ydoc_map_get(n, "tied")) && (rc = parse_tied(e, f, v, &k)))
		goto fail;
	if ((rc = prefix_all(e, k.tpl[RULE_HF], k.n_tpl[RULE_HF], hf_pre)) ||
		(rc = prefix_all(e, k.tpl[RULE_CS], k.n_tpl[RULE_CS], cs_pre)) ||
		(rc = prefix_all(e, &k.twin[RULE_HF], k.twin[RULE_HF] ? 1 : 0, hf_pre)) ||
		(rc = prefix_all(e, &k.twin[RULE_CS], k.twin[RULE_CS] ? 1 : 0, cs_pre)))
		goto fail;
	if (k.for_each) {
		char *s = prefixed(e, k.n_tpl[RULE_HF] ? cs_pre : hf_pre, k.for_each); /* the other side's */
		if (!s) {
			rc = CK_ENOMEM;
			goto fail;
		}
		free(k.for_each);
		k.for_each = s;
	}
	if ((rc = push_key(L, &k)))
		goto fail;
	return 0;
fail:
	key_dispose(&k);
	return rc ? rc : CK_EINVALID;
}

/* --- config rules ----------------------------------------------------- */

static int parse_assign(ck_err *e, const rule_file *f, const ydoc_node *n, char ***keys, expr ***xs, size_t *cnt)
{
	if (want_kind(e, f, n, YDOC_MAP, "to_cs/to_hf"))
		return CK_EINVALID;
	if (!(*keys = ck_calloc(e, n->n, sizeof **keys)) || !(*xs = ck_calloc(e, n->n, sizeof **xs)))
		return CK_ENOMEM;
	for (size_t i = 0; i < n->n; i++) {
		(*keys)[i] = ck_strdup(e, n->items[2 * i]->value);
		(*cnt)++;
		if (parse_expr(e, f, n->items[2 * i + 1], &(*xs)[i]))
			return CK_EINVALID;
	}
	return 0;
}

static int yd_to_json(ck_err *e, const rule_file *f, const ydoc_node *n, json_t **out)
{
	return valio_from_yd(f->path, n, out, e);
}

/* `map: {hf value: cs value, ...}` -> [[hf, cs], ...]: either side can then be looked up by index. */
static int map_pairs(ck_err *e, const rule_file *f, const ydoc_node *n, json_t **out)
{
	json_t *obj = NULL, *pairs, *v;
	const char *k;
	if (yd_to_json(e, f, n, &obj))
		return CK_EINVALID;
	if (!(pairs = json_array())) {
		json_decref(obj);
		return ck_errf(e, CK_ENOMEM, "out of memory");
	}
	json_object_foreach(obj, k, v) json_array_append_new(pairs, json_pack("[sO]", k, v));
	json_decref(obj);
	*out = pairs;
	return 0;
}

/* `let: {name: EXPR, ...}` -> *lets (a model file's names, or one config rule's) */
static int parse_lets(ck_err *e, const rule_file *f, const ydoc_node *v, rule_let **lets, size_t *n)
{
	int rc;
	if (want_kind(e, f, v, YDOC_MAP, "let"))
		return CK_EINVALID;
	if (!(*lets = ck_calloc(e, v->n ? v->n : 1, sizeof **lets)))
		return CK_ENOMEM;
	for (size_t i = 0; i < v->n; i++) {
		const ydoc_node *k = v->items[2 * i];
		rule_let *l = &(*lets)[i];
		l->pos = pos_of(f, v->items[2 * i + 1]);
		if (!(l->name = ck_strdup(e, k->value)))
			return CK_ENOMEM;
		(*n)++;
		if ((rc = parse_expr(e, f, v->items[2 * i + 1], &l->x)))
			return rc;
	}
	return 0;
}

static void lets_free(rule_let *lets, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(lets[i].name);
		if (!lets[i].borrowed)
			expr_free(lets[i].x);
	}
	free(lets);
}

static void cfg_dispose(rule_cfg *c)
{
	lets_free(c->let, c->n_let);
	json_decref(c->map);
	json_decref(c->require);
	for (int s = 0; s < 2; s++) {
		str_list_free(c->key[s], c->n_key[s]);
		for (size_t i = 0; i < c->n_set[s]; i++) {
			free(c->set_key[s][i]);
			expr_free(c->set[s][i]);
		}
		free(c->set_key[s]);
		free(c->set[s]);
		expr_free(c->check[s]);
		expr_free(c->note[s]);
	}
}

static int push_cfg(ck_err *e, rule_file *root, rule_cfg *c)
{
	rule_cfg *n = realloc(root->cfg, (root->n_cfg + 1) * sizeof *n);
	if (!n)
		return ck_errf(e, CK_ENOMEM, "out of memory");
	root->cfg = n;
	root->cfg[root->n_cfg++] = *c;
	return 0;
}

static const char *const type_names[] = {"int", "float", "bool", "str", "null", "list", "map", NULL};

const char *rule_types_str(unsigned types, char *buf, size_t n)
{
	size_t len = 0;
	buf[0] = '\0';
	for (size_t k = 0; type_names[k] && len < n; k++)
		if (types & (1u << k))
			len += (size_t)snprintf(buf + len, n - len, "%s%s", len ? " or " : "", type_names[k]);
	return buf;
}

/* `type: int` or `type: [int, null]` -> RULE_T_* bits. */
static int parse_types(ck_err *e, const rule_file *f, const ydoc_node *n, unsigned *out)
{
	char **v = NULL;
	size_t cnt = 0, k;
	int rc = str_list(e, f, n, "type", &v, &cnt);
	*out = 0;
	for (size_t i = 0; !rc && i < cnt; i++) {
		for (k = 0; type_names[k] && strcmp(type_names[k], v[i]); k++)
			;
		if (type_names[k])
			*out |= 1u << k;
		else
			rc = perr(e, f, n, "unknown type '%s' (known: int, float, bool, str, null, list, map)%s", v[i], NULL);
	}
	if (!rc && !*out)
		rc = perr(e, f, n, "'type' names no type (known: int, float, bool, str, null, list, map)%s%s", NULL, NULL);
	for (size_t i = 0; i < cnt; i++)
		free(v[i]);
	free(v);
	return rc;
}

static int parse_cfg_rule(loader *L, rule_file *root, const rule_file *f, const ydoc_node *n, int depth)
{
	static const char *const allowed[] = {"hf", "cs", "map", "require", "to_cs", "to_hf", "check_hf", "check_cs",
		"note_hf", "note_cs", "drop", "type", "let", NULL};
	ck_err *e = L->e;
	rule_cfg c;
	const ydoc_node *v;
	int rc = 0;

	if (want_kind(e, f, n, YDOC_MAP, "a config rule"))
		return CK_EINVALID;
	if (ydoc_map_get(n, "include"))
		return load_include(L, f, n, "", "", depth, 0);
	if (check_keys(e, f, n, "a config rule", allowed))
		return CK_EINVALID;
	memset(&c, 0, sizeof c);
	c.pos = pos_of(f, n);
	for (int s = 0; s < 2; s++) /* `hf:` and `cs:` */
		if ((v = ydoc_map_get(n, side_names[s])) && (rc = str_list(e, f, v, side_names[s], &c.key[s], &c.n_key[s])))
			goto fail;
	if (!c.n_key[RULE_HF] && !c.n_key[RULE_CS]) {
		rc = perr(e, f, n, "a config rule needs 'hf' and/or 'cs' keys", NULL, NULL);
		goto fail;
	}
	if ((v = ydoc_map_get(n, "map"))) {
		if ((rc = want_kind(e, f, v, YDOC_MAP, "map")) || (rc = map_pairs(e, f, v, &c.map)))
			goto fail;
	}
	if ((v = ydoc_map_get(n, "require"))) {
		if (c.n_key[RULE_HF] && c.n_key[RULE_CS]) {
			rc = perr(e, f, v, "'require' is for a key on one side only (the other side has no counterpart)", NULL, NULL);
			goto fail;
		}
		if ((rc = yd_to_json(e, f, v, &c.require)))
			goto fail;
	}
	for (int s = 0; s < 2; s++) { /* `to_hf:`/`to_cs:` compute a side's values, `check_hf:`/`check_cs:` guard reading one */
		static const char *const to[2] = {[RULE_HF] = "to_hf", [RULE_CS] = "to_cs"};
		static const char *const check[2] = {[RULE_HF] = "check_hf", [RULE_CS] = "check_cs"};
		static const char *const note[2] = {[RULE_HF] = "note_hf", [RULE_CS] = "note_cs"};
		if ((v = ydoc_map_get(n, to[s])) && (rc = parse_assign(e, f, v, &c.set_key[s], &c.set[s], &c.n_set[s])))
			goto fail;
		if ((v = ydoc_map_get(n, check[s])) && (rc = parse_expr(e, f, v, &c.check[s])))
			goto fail;
		if ((v = ydoc_map_get(n, note[s])) && (rc = parse_expr(e, f, v, &c.note[s])))
			goto fail;
	}
	if ((v = ydoc_map_get(n, "type")) && (rc = parse_types(e, f, v, &c.types)))
		goto fail;
	if ((v = ydoc_map_get(n, "let")) && (rc = parse_lets(e, f, v, &c.let, &c.n_let)))
		goto fail;
	if ((v = ydoc_map_get(n, "drop"))) { /* YAML 1.1 booleans: true, yes, on ... */
		json_t *b = NULL;
		if ((rc = yd_to_json(e, f, v, &b)))
			goto fail;
		if (!json_is_boolean(b)) {
			json_decref(b);
			rc = perr(e, f, v, "'drop' must be true or false", NULL, NULL);
			goto fail;
		}
		c.drop = json_is_true(b);
		json_decref(b);
	}
	if ((rc = push_cfg(e, root, &c)))
		goto fail;
	return 0;
fail:
	cfg_dispose(&c);
	return rc ? rc : CK_EINVALID;
}

/* Merge src defaults into *dst without overriding keys already there (the includer wins). */
static int merge_defaults(ck_err *e, const rule_file *f, const ydoc_node *n, json_t **dst)
{
	json_t *v = NULL;
	const char *k;
	json_t *x;
	if (want_kind(e, f, n, YDOC_MAP, "defaults") || yd_to_json(e, f, n, &v))
		return CK_EINVALID;
	if (!*dst)
		*dst = json_object();
	json_object_foreach(v, k, x) {
		if (!json_object_get(*dst, k))
			json_object_set(*dst, k, x);
	}
	json_decref(v);
	return 0;
}

static int load_config(loader *L, rule_file *root, const rule_file *f, const ydoc_node *cfg, int depth)
{
	static const char *const allowed[] = {"hf_defaults", "cs_defaults", "hf_out", "cs_out", "rules", "hf_nested",
		"cs_layout", NULL};
	static const char *const nested_keys[] = {"model_type", "take", NULL};
	static const char *const layout_keys[] = {"to_cs", "to_hf", NULL};
	ck_err *e = L->e;
	const ydoc_node *v;
	int rc;
	if (want_kind(e, f, cfg, YDOC_MAP, "config") || check_keys(e, f, cfg, "config", allowed))
		return CK_EINVALID;
	if ((v = ydoc_map_get(cfg, "hf_nested"))) { /* {model_type: clip, take: vision_config} */
		const ydoc_node *mt, *tk;
		if (want_kind(e, f, v, YDOC_MAP, "hf_nested") || check_keys(e, f, v, "hf_nested", nested_keys))
			return CK_EINVALID;
		mt = ydoc_map_get(v, "model_type");
		tk = ydoc_map_get(v, "take");
		if (!mt || !tk || mt->kind != YDOC_SCALAR || tk->kind != YDOC_SCALAR)
			return perr(e, f, v, "hf_nested needs 'model_type' and 'take' (strings)", NULL, NULL);
		free(root->hf_nested_type);
		free(root->hf_nested_take);
		if (!(root->hf_nested_type = ck_strdup(e, mt->value)) || !(root->hf_nested_take = ck_strdup(e, tk->value)))
			return CK_ENOMEM;
	}
	if ((v = ydoc_map_get(cfg, "cs_layout"))) { /* {to_cs: EXPR, to_hf: EXPR}, both or neither */
		const ydoc_node *tc, *th;
		if (want_kind(e, f, v, YDOC_MAP, "cs_layout") || check_keys(e, f, v, "cs_layout", layout_keys))
			return CK_EINVALID;
		if (!(tc = ydoc_map_get(v, "to_cs")) || !(th = ydoc_map_get(v, "to_hf")))
			return perr(e, f, v, "cs_layout needs 'to_cs' and 'to_hf' (one undoes the other)", NULL, NULL);
		if (root->layout[RULE_CS])
			return perr(e, f, v, "a second cs_layout (one per model)", NULL, NULL);
		root->layout_pos = pos_of(f, v);
		if (parse_expr(e, f, tc, &root->layout[RULE_CS]) || parse_expr(e, f, th, &root->layout[RULE_HF]))
			return CK_EINVALID;
	}
	for (int s = 0; s < 2; s++) {
		static const char *const defs[2] = {[RULE_HF] = "hf_defaults", [RULE_CS] = "cs_defaults"};
		static const char *const outs[2] = {[RULE_HF] = "hf_out", [RULE_CS] = "cs_out"};
		if ((v = ydoc_map_get(cfg, defs[s])) && (rc = merge_defaults(e, f, v, &root->defaults[s])))
			return rc;
		if ((v = ydoc_map_get(cfg, outs[s])) && (rc = merge_defaults(e, f, v, &root->out[s])))
			return rc;
	}
	if ((v = ydoc_map_get(cfg, "rules"))) {
		if (want_kind(e, f, v, YDOC_SEQ, "config rules"))
			return CK_EINVALID;
		for (size_t i = 0; i < v->n; i++)
			if ((rc = parse_cfg_rule(L, root, f, v->items[i], depth)))
				return rc;
	}
	return 0;
}

/* --- components ---------------------------------------------------------- */

static int plain_name(const char *s)
{
	return s[0] && !strchr(s, '/') && strcmp(s, ".") && strcmp(s, "..");
}

/* components: [{dir, rules, config, hf_prefix, cs_prefix, files, make_files}] */
static int parse_components(ck_err *e, rule_file *f, const ydoc_node *n)
{
	static const char *const allowed[] = {"dir", "rules", "config", "hf_prefix", "cs_prefix", "files", "make_files",
		NULL};
	if (want_kind(e, f, n, YDOC_SEQ, "components"))
		return CK_EINVALID;
	if (!(f->comp = ck_calloc(e, n->n, sizeof *f->comp)))
		return CK_ENOMEM;
	for (size_t i = 0; i < n->n; i++) {
		const ydoc_node *c = n->items[i], *v;
		rule_comp *rc = &f->comp[f->n_comp++];
		int r;
		rc->pos = pos_of(f, c);
		if (want_kind(e, f, c, YDOC_MAP, "a component") || check_keys(e, f, c, "a component", allowed))
			return CK_EINVALID;
		static const char *const need[] = {"dir", "rules", "config"};
		char **dst[] = {&rc->dir, &rc->rules, &rc->config};
		for (int j = 0; j < 3; j++) {
			if (!(v = ydoc_map_get(c, need[j])) || v->kind != YDOC_SCALAR || !plain_name(v->value))
				return perr(e, f, v ? v : c, "a component needs '%s' (a plain name)", need[j], NULL);
			*dst[j] = ck_strdup(e, v->value);
		}
		rc->section[RULE_HF] = rc->dir;
		rc->section[RULE_CS] = rc->config;
		if ((r = opt_str(e, f, c, "hf_prefix", "", &rc->hf_prefix)) || (r = opt_str(e, f, c, "cs_prefix", "", &rc->cs_prefix)))
			return r;
		if ((v = ydoc_map_get(c, "files")) && (r = str_list(e, f, v, "files", &rc->files, &rc->n_files)))
			return r;
		if ((v = ydoc_map_get(c, "make_files"))) {
			if (want_kind(e, f, v, YDOC_MAP, "make_files"))
				return CK_EINVALID;
			if (!(rc->make_name = ck_calloc(e, v->n, sizeof *rc->make_name)) ||
				!(rc->make = ck_calloc(e, v->n, sizeof *rc->make)))
				return CK_ENOMEM;
			for (size_t j = 0; j < v->n; j++) {
				if (!plain_name(v->items[2 * j]->value))
					return perr(e, f, v->items[2 * j], "make_files: '%s' is not a plain file name",
						v->items[2 * j]->value, NULL);
				rc->make_name[j] = ck_strdup(e, v->items[2 * j]->value);
				rc->n_make++;
				if (parse_expr(e, f, v->items[2 * j + 1], &rc->make[j]))
					return CK_EINVALID;
			}
		}
	}
	return 0;
}

static void comp_dispose(rule_comp *c)
{
	free(c->dir);
	free(c->rules);
	free(c->config);
	free(c->hf_prefix);
	free(c->cs_prefix);
	str_list_free(c->files, c->n_files);
	for (size_t i = 0; i < c->n_make; i++) {
		free(c->make_name[i]);
		expr_free(c->make[i]);
	}
	free(c->make_name);
	free(c->make);
}

/* --- muP ------------------------------------------------------------------- */

/* ops: [{mul|div: EXPR, when: EXPR}]: the scale and unscale actions of actions.def, spelt the
 * way muP folds are written (`mul: x` is {scale: {by: x}}, `div: x` is {unscale: {by: x}}). */
static int parse_ops(ck_err *e, const rule_file *f, const ydoc_node *n, rule_act **out, size_t *cnt)
{
	static const char *const allowed[] = {"mul", "div", "when", NULL};
	if (want_kind(e, f, n, YDOC_SEQ, "ops"))
		return CK_EINVALID;
	if (!(*out = ck_calloc(e, n->n, sizeof **out)))
		return CK_ENOMEM;
	for (size_t i = 0; i < n->n; i++) {
		const ydoc_node *o = n->items[i], *m, *d, *w;
		rule_act *a = &(*out)[(*cnt)++];
		a->pos = pos_of(f, o);
		if (want_kind(e, f, o, YDOC_MAP, "an op") || check_keys(e, f, o, "an op", allowed))
			return CK_EINVALID;
		m = ydoc_map_get(o, "mul");
		d = ydoc_map_get(o, "div");
		if (!!m == !!d)
			return perr(e, f, o, "an op is {mul: <expr>} or {div: <expr>}, optionally with 'when'", NULL, NULL);
		w = ydoc_map_get(o, "when");
		if (!(a->name = ck_strdup(e, m ? "scale" : "unscale")) || !(a->p = ck_calloc(e, 2, sizeof *a->p)))
			return CK_ENOMEM;
		const ydoc_node *pv[2] = {m ? m : d, w};
		const char *pn[2] = {"by", "when"};
		for (int j = 0; j < 2 && pv[j]; j++) {
			rule_param *p = &a->p[a->n++];
			p->pos = pos_of(f, pv[j]);
			if (!(p->name = ck_strdup(e, pn[j])) || !(p->text = ck_strdup(e, pv[j]->value)))
				return CK_ENOMEM;
			if (parse_expr(e, f, pv[j], &p->x))
				return CK_EINVALID;
		}
		if (resolve_act(e, a, VOCAB_ROLE_SCALE, "op"))
			return CK_EINVALID;
	}
	return 0;
}

static int file_load(const char *path, int depth, rule_file **out, ck_err *e);
#define MAX_PIECE_DEPTH 8

/* `include: NAME` inside placeholders / let / mup: load NAME.yaml (same directory) with its own
 * includes, keep it in f->inc, and return it. */
static int include_piece(ck_err *e, rule_file *f, const ydoc_node *inc, int depth, rule_file **out)
{
	char *dir = NULL, *path = NULL;
	rule_file **nv, *g = NULL;
	int rc;
	*out = NULL;
	if (inc->kind != YDOC_SCALAR || strchr(inc->value, '/') || !inc->value[0])
		return perr(e, f, inc, "include names a rule set in the same directory (no '/')", NULL, NULL);
	if (depth >= MAX_PIECE_DEPTH)
		return perr(e, f, inc, "includes nested deeper than %s levels (a cycle?)", "8", NULL);
	if (!(dir = path_dir(f->path)) || asprintf(&path, "%s/%s.yaml", dir, inc->value) < 0) {
		free(dir);
		return ck_errf(e, CK_ENOMEM, "out of memory");
	}
	free(dir);
	if (access(path, R_OK)) {
		rc = perr(e, f, inc, "included rule set '%s' not found (%s)", inc->value, path);
		free(path);
		return rc;
	}
	rc = file_load(path, depth + 1, &g, e);
	free(path);
	if (rc)
		return rc;
	if (!(nv = realloc(f->inc, (f->n_inc + 1) * sizeof *nv))) {
		rule_file_free(g);
		return ck_errf(e, CK_ENOMEM, "out of memory");
	}
	f->inc = nv;
	f->inc[f->n_inc++] = g;
	*out = g;
	return 0;
}

static int parse_tensors(ck_err *e, rule_file *f, const ydoc_node *v, rule_mup *m)
{
	rule_key *nt;
	if (want_kind(e, f, v, YDOC_SEQ, "tensors"))
		return CK_EINVALID;
	if (!(nt = realloc(m->tensors, (m->n_tensors + v->n + 1) * sizeof *nt)))
		return ck_errf(e, CK_ENOMEM, "out of memory");
	m->tensors = nt;
	for (size_t i = 0; i < v->n; i++) {
		static const char *const tallowed[] = {"cs", "ops", NULL};
		const ydoc_node *t = v->items[i], *c, *o;
		rule_key *k = &m->tensors[m->n_tensors++];
		int rc;
		memset(k, 0, sizeof *k);
		if (want_kind(e, f, t, YDOC_MAP, "a muP tensor rule") || check_keys(e, f, t, "a muP tensor rule", tallowed))
			return CK_EINVALID;
		k->scope = f;
		k->pos = pos_of(f, t);
		if (!(c = ydoc_map_get(t, "cs")) || c->kind != YDOC_SCALAR)
			return perr(e, f, t, "a muP tensor rule needs 'cs: <template>'", NULL, NULL);
		if (!(k->tpl[RULE_CS] = ck_calloc(e, 1, sizeof *k->tpl[RULE_CS])) ||
			!(k->tpl[RULE_CS][0] = ck_strdup(e, c->value)))
			return CK_ENOMEM;
		k->n_tpl[RULE_CS] = 1;
		if (!(o = ydoc_map_get(t, "ops")))
			return perr(e, f, t, "a muP tensor rule needs 'ops'", NULL, NULL);
		if ((rc = parse_ops(e, f, o, &k->act, &k->n_act)))
			return rc;
	}
	return 0;
}

/* Start m as a view of the included file's muP section (see rule_mup). */
static int mup_borrow(ck_err *e, rule_mup *m, const rule_mup *b)
{
	m->scope = b->scope;
	m->detect = b->detect;
	m->invalid = b->invalid;
	m->invalid_msg = b->invalid_msg;
	m->n_drop = b->n_drop;
	m->drop = b->drop;
	m->set = json_incref(b->set);
	if (b->n_tensors && !(m->tensors = ck_calloc(e, b->n_tensors, sizeof *m->tensors)))
		return CK_ENOMEM;
	if (b->n_tensors)
		memcpy(m->tensors, b->tensors, b->n_tensors * sizeof *m->tensors);
	m->n_tensors = m->n_borrowed = b->n_tensors;
	return 0;
}

/* mup: {include, detect, invalid: {when, message}, tensors: [{cs, ops}], drop: [...], set: {...}} */
static int parse_mup(ck_err *e, rule_file *f, const ydoc_node *n, int depth)
{
	static const char *const allowed[] = {"include", "detect", "invalid", "tensors", "drop", "set", NULL};
	const ydoc_node *v;
	rule_mup *m;
	int rc;
	if (want_kind(e, f, n, YDOC_MAP, "mup") || check_keys(e, f, n, "mup", allowed))
		return CK_EINVALID;
	if (!(m = f->mup = ck_calloc(e, 1, sizeof *m)))
		return CK_ENOMEM;
	m->pos = pos_of(f, n);
	m->scope = f;
	if ((v = ydoc_map_get(n, "include"))) {
		rule_file *g;
		if ((rc = include_piece(e, f, v, depth, &g)))
			return rc;
		if (!g->mup)
			return perr(e, f, v, "included rule set '%s' has no 'mup' section", v->value, NULL);
		if ((rc = mup_borrow(e, m, g->mup)))
			return rc;
	}
	if ((v = ydoc_map_get(n, "detect"))) {
		if ((rc = parse_expr(e, f, v, &m->detect)))
			return rc;
		m->own |= RULE_MUP_OWN_DETECT;
		m->scope = f;
	}
	if (!m->detect)
		return perr(e, f, n, "mup needs 'detect: <expression true for a muP checkpoint>'", NULL, NULL);
	if ((v = ydoc_map_get(n, "invalid"))) {
		const ydoc_node *w = ydoc_map_get(v, "when"), *msg = ydoc_map_get(v, "message");
		if (v->kind != YDOC_MAP || !w || !msg || msg->kind != YDOC_SCALAR)
			return perr(e, f, v, "invalid is {when: <expression>, message: <text>}", NULL, NULL);
		m->own |= RULE_MUP_OWN_INVALID;
		m->invalid = NULL;
		if (!(m->invalid_msg = ck_strdup(e, msg->value)))
			return CK_ENOMEM;
		if ((rc = parse_expr(e, f, w, &m->invalid)))
			return rc;
	}
	if ((v = ydoc_map_get(n, "drop"))) {
		m->own |= RULE_MUP_OWN_DROP;
		m->drop = NULL;
		m->n_drop = 0;
		if ((rc = str_list(e, f, v, "drop", &m->drop, &m->n_drop)))
			return rc;
	}
	if ((v = ydoc_map_get(n, "set"))) {
		json_decref(m->set);
		m->set = NULL;
		if (want_kind(e, f, v, YDOC_MAP, "set") || yd_to_json(e, f, v, &m->set))
			return CK_EINVALID;
	}
	/* no tensors at all: detection only, the model refuses muP checkpoints */
	return (v = ydoc_map_get(n, "tensors")) ? parse_tensors(e, f, v, m) : 0;
}

static void mup_free(rule_mup *m)
{
	if (!m)
		return;
	if (m->own & RULE_MUP_OWN_DETECT)
		expr_free(m->detect);
	if (m->own & RULE_MUP_OWN_INVALID) {
		expr_free(m->invalid);
		free(m->invalid_msg);
	}
	for (size_t i = m->n_borrowed; i < m->n_tensors; i++)
		key_dispose(&m->tensors[i]);
	free(m->tensors);
	if (m->own & RULE_MUP_OWN_DROP)
		str_list_free(m->drop, m->n_drop);
	json_decref(m->set);
	free(m);
}

/* --- files -------------------------------------------------------------- */

/* layers: {placeholder: L, count: EXPR}: the checkpoint must hold layers 0..count-1, each alike. */
static int parse_layers(ck_err *e, rule_file *f, const ydoc_node *n)
{
	static const char *const allowed[] = {"placeholder", "count", NULL};
	const ydoc_node *ph, *cnt;
	if (want_kind(e, f, n, YDOC_MAP, "layers") || check_keys(e, f, n, "layers", allowed))
		return CK_EINVALID;
	ph = ydoc_map_get(n, "placeholder");
	cnt = ydoc_map_get(n, "count");
	if (!ph || ph->kind != YDOC_SCALAR || !cnt)
		return perr(e, f, n, "layers needs 'placeholder' (a placeholder name) and 'count' (an expression)", NULL, NULL);
	f->layers_pos = pos_of(f, n);
	if (!(f->layers_ph = ck_strdup(e, ph->value)))
		return CK_ENOMEM;
	return parse_expr(e, f, cnt, &f->layers_count);
}

/* placeholders: {NAME: REGEX, ..., include: PIECE}: the file's own, then PIECE's (the file's
 * own win: lookups take the first of a name). */
static int parse_placeholders(ck_err *e, rule_file *f, const ydoc_node *v, int depth)
{
	const ydoc_node *inc;
	rule_file *g = NULL;
	int rc;
	if (want_kind(e, f, v, YDOC_MAP, "placeholders"))
		return CK_EINVALID;
	if ((inc = ydoc_map_get(v, "include")) && (rc = include_piece(e, f, inc, depth, &g)))
		return rc;
	if (!(f->ph = ck_calloc(e, v->n + (g ? g->n_ph : 0) + 1, sizeof *f->ph)))
		return CK_ENOMEM;
	for (size_t i = 0; i < v->n; i++) {
		const ydoc_node *k = v->items[2 * i], *x = v->items[2 * i + 1];
		if (x == inc)
			continue;
		if (x->kind != YDOC_SCALAR)
			return perr(e, f, x, "placeholder '%s' must be a regex string", k->value, NULL);
		rule_ph *p = &f->ph[f->n_ph++];
		p->pos = pos_of(f, x);
		if (!(p->name = ck_strdup(e, k->value)) || !(p->regex = ck_strdup(e, x->value)))
			return CK_ENOMEM;
	}
	for (size_t i = 0; g && i < g->n_ph; i++) {
		rule_ph *p = &f->ph[f->n_ph++];
		*p = g->ph[i]; /* its pos names the piece, which f->inc keeps loaded */
		if (!(p->name = ck_strdup(e, g->ph[i].name)) || !(p->regex = ck_strdup(e, g->ph[i].regex)))
			return CK_ENOMEM;
	}
	return 0;
}

/* let: {NAME: EXPR, ..., include: PIECE}: the file's own names, then PIECE's (borrowed). */
static int parse_file_lets(ck_err *e, rule_file *f, const ydoc_node *v, int depth)
{
	const ydoc_node *inc;
	rule_file *g = NULL;
	rule_let *nl;
	int rc;
	if (want_kind(e, f, v, YDOC_MAP, "let"))
		return CK_EINVALID;
	if (!(inc = ydoc_map_get(v, "include")))
		return parse_lets(e, f, v, &f->let, &f->n_let);
	if ((rc = include_piece(e, f, inc, depth, &g)))
		return rc;
	if (!(f->let = ck_calloc(e, v->n + g->n_let + 1, sizeof *f->let)))
		return CK_ENOMEM;
	for (size_t i = 0; i < v->n; i++) {
		const ydoc_node *k = v->items[2 * i], *x = v->items[2 * i + 1];
		rule_let *l = &f->let[f->n_let];
		if (x == inc)
			continue;
		l->pos = pos_of(f, x);
		if (!(l->name = ck_strdup(e, k->value)))
			return CK_ENOMEM;
		f->n_let++;
		if ((rc = parse_expr(e, f, x, &l->x)))
			return rc;
	}
	nl = f->let + f->n_let;
	for (size_t i = 0; i < g->n_let; i++) {
		*nl = g->let[i];
		nl->borrowed = 1;
		if (!(nl->name = ck_strdup(e, g->let[i].name)))
			return CK_ENOMEM;
		nl++;
		f->n_let++;
	}
	return 0;
}

/* functions: {NAME: {params, steps, doc}, ..., include: PIECE or [PIECE, ...]} (fn.c): the
 * included pieces' functions are visible to this file's, and to its key rules. */
static int parse_functions(ck_err *e, rule_file *f, const ydoc_node *v, int depth)
{
	const ydoc_node *inc;
	const fn_table *vis[MAX_PIECE_DEPTH];
	size_t n_vis = 0;
	int rc;
	if (want_kind(e, f, v, YDOC_MAP, "functions"))
		return CK_EINVALID;
	if ((inc = ydoc_map_get(v, "include"))) {
		size_t n = inc->kind == YDOC_SEQ ? inc->n : 1;
		if (n > MAX_PIECE_DEPTH)
			return perr(e, f, inc, "at most %s function pieces", "8", NULL);
		for (size_t i = 0; i < n; i++) {
			rule_file *g = NULL;
			if ((rc = include_piece(e, f, inc->kind == YDOC_SEQ ? inc->items[i] : inc, depth, &g)))
				return rc;
			vis[n_vis++] = g->fns;
		}
	}
	return fn_table_parse(f, v, vis, n_vis, &f->fns, e);
}

/* "-dpo": a lower-case word after the release */
static int variant_ok(const char *s)
{
	if (*s++ != '-' || !*s)
		return 0;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '-'))
			return 0;
	return 1;
}

static void wrap_free(rule_wrap *w)
{
	if (!w)
		return;
	str_list_free(w->models, w->n_models);
	expr_free(w->cs_model);
	free(w->cs_prefix);
	free(w->copy);
	free(w);
}

static int parse_wrap(ck_err *e, rule_file *f, const ydoc_node *n)
{
	static const char *const allowed[] = {"models", "cs_model", "cs_prefix", "copy", NULL};
	const ydoc_node *m = ydoc_map_get(n, "models"), *x = ydoc_map_get(n, "cs_model");
	rule_wrap *w;
	int rc;
	if (want_kind(e, f, n, YDOC_MAP, "wrap") || check_keys(e, f, n, "wrap", allowed))
		return CK_EINVALID;
	if (!m || !x || !ydoc_map_get(n, "cs_prefix"))
		return perr(e, f, n, "wrap needs models, cs_model and cs_prefix", NULL, NULL);
	if (!(w = f->wrap = ck_calloc(e, 1, sizeof *w)))
		return CK_ENOMEM;
	w->pos = pos_of(f, n);
	if ((rc = str_list(e, f, m, "models", &w->models, &w->n_models)) || (rc = parse_expr(e, f, x, &w->cs_model)) ||
		(rc = opt_str(e, f, n, "cs_prefix", NULL, &w->cs_prefix)) || (rc = opt_str(e, f, n, "copy", NULL, &w->copy)))
		return rc;
	if (!w->cs_prefix[0] || (w->copy && !strcmp(w->copy, w->cs_prefix)))
		return perr(e, f, n, "wrap: cs_prefix must be non-empty and differ from copy", NULL, NULL);
	return 0;
}

static int parse_header(ck_err *e, rule_file *f, int depth)
{
	static const char *const allowed[] = {"model", "aliases", "architectures", "hf_model_type", "cs_name",
		"cs_when", "formats", "note", "placeholders", "let", "keys", "config", "components", "files", "mup", "layers", "functions",
		"wrap", NULL};
	const ydoc_node *r = f->doc->root, *v;
	int rc;
	if (!r)
		return ck_errf(e, CK_EINVALID, "%s:1:1: empty rule file", f->path);
	if (want_kind(e, f, r, YDOC_MAP, "a rule file") || check_keys(e, f, r, "a rule file", allowed))
		return CK_EINVALID;
	if ((rc = opt_str(e, f, r, "model", NULL, &f->model)))
		return rc;
	if ((v = ydoc_map_get(r, "aliases")) && (rc = str_list(e, f, v, "aliases", &f->alias, &f->n_alias)))
		return rc;
	if ((v = ydoc_map_get(r, "architectures")) && (rc = str_list(e, f, v, "architectures", &f->arch, &f->n_arch)))
		return rc;
	if ((v = ydoc_map_get(r, "formats")) && (rc = str_list(e, f, v, "formats", &f->fmt, &f->n_fmt)))
		return rc;
	for (size_t i = 0; i < f->n_fmt; i++) {
		unsigned a, b;
		int n = 0;
		/* a release, or a release's variant (cs-2.9-dpo: the DPO checkpoint layout) */
		if (sscanf(f->fmt[i], "cs-%u.%u%n", &a, &b, &n) != 2 || (f->fmt[i][n] && !variant_ok(f->fmt[i] + n)))
			return perr(e, f, v->kind == YDOC_SEQ ? v->items[i] : v,
				"format '%s' is not of the form cs-MAJOR.MINOR or cs-MAJOR.MINOR-VARIANT", f->fmt[i], NULL);
	}
	if ((rc = opt_str(e, f, r, "hf_model_type", NULL, &f->hf_model_type)) ||
		(rc = opt_str(e, f, r, "note", NULL, &f->note)))
		return rc;
	/* several CS models may convert with one family (Cerebras-GPT's gpt3 with gpt2): a list */
	if ((v = ydoc_map_get(r, "cs_name")) && (rc = str_list(e, f, v, "cs_name", &f->cs_name, &f->n_cs_name)))
		return rc;
	/* ... and one CS name may be several families (RoBERTa's params say `name: bert`) */
	if ((v = ydoc_map_get(r, "cs_when")) && (rc = parse_expr(e, f, v, &f->cs_when)))
		return rc;
	if ((v = ydoc_map_get(r, "placeholders")) && (rc = parse_placeholders(e, f, v, depth)))
		return rc;
	if ((v = ydoc_map_get(r, "files")) && (rc = str_list(e, f, v, "files", &f->files, &f->n_files)))
		return rc;
	if ((v = ydoc_map_get(r, "components")) && (rc = parse_components(e, f, v)))
		return rc;
	if ((v = ydoc_map_get(r, "mup")) && (rc = parse_mup(e, f, v, depth)))
		return rc;
	if ((v = ydoc_map_get(r, "layers")) && (rc = parse_layers(e, f, v)))
		return rc;
	if ((v = ydoc_map_get(r, "let")) && (rc = parse_file_lets(e, f, v, depth)))
		return rc;
	if ((v = ydoc_map_get(r, "functions")) && (rc = parse_functions(e, f, v, depth)))
		return rc;
	if ((v = ydoc_map_get(r, "wrap")) && (rc = parse_wrap(e, f, v)))
		return rc;
	return 0;
}

int rule_file_load(const char *path, rule_file **out, ck_err *e)
{
	return file_load(path, 0, out, e);
}

/* depth: how many `include:` of placeholders / let / mup led here (bounds a cycle). */
static int file_load(const char *path, int depth, rule_file **out, ck_err *e)
{
	rule_file *f = ck_calloc(e, 1, sizeof *f);
	int rc;
	*out = NULL;
	if (!f)
		return CK_ENOMEM;
	if (!(f->path = ck_strdup(e, path))) {
		free(f);
		return CK_ENOMEM;
	}
	if ((rc = ydoc_load_file(path, &f->doc, e)) || (rc = parse_header(e, f, depth))) {
		rule_file_free(f);
		return rc;
	}
	*out = f;
	return 0;
}

void rule_file_free(rule_file *f)
{
	if (!f)
		return;
	str_list_free(f->alias, f->n_alias);
	str_list_free(f->arch, f->n_arch);
	str_list_free(f->fmt, f->n_fmt);
	free(f->model);
	free(f->hf_model_type);
	str_list_free(f->cs_name, f->n_cs_name);
	expr_free(f->cs_when);
	free(f->layers_ph);
	free(f->hf_nested_type);
	free(f->hf_nested_take);
	expr_free(f->layers_count);
	expr_free(f->layout[RULE_HF]);
	expr_free(f->layout[RULE_CS]);
	free(f->note);
	for (size_t i = 0; i < f->n_ph; i++) {
		free(f->ph[i].name);
		free(f->ph[i].regex);
	}
	free(f->ph);
	lets_free(f->let, f->n_let);
	for (int s = 0; s < 2; s++) {
		json_decref(f->defaults[s]);
		json_decref(f->out[s]);
	}
	for (size_t i = 0; i < f->n_cfg; i++)
		cfg_dispose(&f->cfg[i]);
	free(f->cfg);
	str_list_free(f->files, f->n_files);
	for (size_t i = 0; i < f->n_comp; i++)
		comp_dispose(&f->comp[i]);
	free(f->comp);
	mup_free(f->mup);
	wrap_free(f->wrap);
	fn_table_free(f->fns);
	for (size_t i = 0; i < f->n_inc; i++)
		rule_file_free(f->inc[i]);
	free(f->inc);
	ydoc_doc_free(f->doc);
	free(f->path);
	free(f);
}

static int load_file(loader *L, const char *path, const char *hf_pre, const char *cs_pre, int depth, int want_keys,
	const ydoc_node *from_node, const rule_file *from);

/* Load a file into the set (keeping it alive for its positions) and walk its keys/config. */
static int load_into(loader *L, const char *path, const char *hf_pre, const char *cs_pre, int depth, int want_keys,
	const ydoc_node *from_node, const rule_file *from)
{
	int pushed = L->n_chain < MAX_INCLUDE_DEPTH + 2, rc;
	if (pushed)
		L->chain[L->n_chain++] = path;
	rc = load_file(L, path, hf_pre, cs_pre, depth, want_keys, from_node, from);
	if (pushed)
		L->n_chain--;
	return rc;
}

/* An include of a file that is still being loaded: "a.yaml -> b.yaml -> a.yaml" as the message. */
static int include_cycle(loader *L, const rule_file *from, const ydoc_node *inc, const char *path)
{
	char msg[600] = "";
	for (int i = 0; i < L->n_chain; i++) {
		if (strcmp(L->chain[i], path))
			continue;
		for (int k = i; k < L->n_chain; k++) {
			const char *b = strrchr(L->chain[k], '/');
			snprintf(msg + strlen(msg), sizeof msg - strlen(msg), "%s -> ", b ? b + 1 : L->chain[k]);
		}
		const char *b = strrchr(path, '/');
		snprintf(msg + strlen(msg), sizeof msg - strlen(msg), "%s", b ? b + 1 : path);
		return perr(L->e, from, inc, "include cycle: %s", msg, NULL);
	}
	return 0;
}

static int load_file(loader *L, const char *path, const char *hf_pre, const char *cs_pre, int depth, int want_keys,
	const ydoc_node *from_node, const rule_file *from)
{
	ck_err *e = L->e;
	rule_set *s = L->set;
	rule_file *f = NULL, **nf;
	const ydoc_node *v;
	int rc;

	if (depth > MAX_INCLUDE_DEPTH)
		return perr(e, from, from_node, "includes nested deeper than %s levels (a cycle?)", "16", NULL);
	if ((rc = rule_file_load(path, &f, e)))
		return rc;
	if (!(nf = realloc(s->files, (s->n_files + 1) * sizeof *nf))) {
		rule_file_free(f);
		return ck_errf(e, CK_ENOMEM, "out of memory");
	}
	s->files = nf;
	s->files[s->n_files++] = f;
	if (want_keys && (v = ydoc_map_get(f->doc->root, "keys"))) {
		if (want_kind(e, f, v, YDOC_SEQ, "keys"))
			return CK_EINVALID;
		for (size_t i = 0; i < v->n; i++)
			if ((rc = parse_key(L, f, v->items[i], hf_pre, cs_pre, depth)))
				return rc;
	}
	if (!want_keys && (v = ydoc_map_get(f->doc->root, "config")))
		return load_config(L, s->files[0], f, v, depth);
	return 0;
}

static int load_include(loader *L, const rule_file *from, const ydoc_node *n, const char *hf_pre, const char *cs_pre,
	int depth, int want_keys)
{
	static const char *const allowed[] = {"include", "hf_prefix", "cs_prefix", NULL};
	ck_err *e = L->e;
	const ydoc_node *inc = ydoc_map_get(n, "include"), *h = ydoc_map_get(n, "hf_prefix"), *c = ydoc_map_get(n, "cs_prefix");
	char *dir = NULL, *path = NULL, *hp = NULL, *cp = NULL;
	int rc;

	if (check_keys(e, from, n, "an include", allowed))
		return CK_EINVALID;
	if ((h && h->kind != YDOC_SCALAR) || (c && c->kind != YDOC_SCALAR))
		return perr(e, from, h && h->kind != YDOC_SCALAR ? h : c, "include prefixes must be strings", NULL, NULL);
	if (inc->kind != YDOC_SCALAR || strchr(inc->value, '/') || !inc->value[0])
		return perr(e, from, inc, "include names a rule set in the same directory (no '/')", NULL, NULL);
	if (!want_keys && (h || c))
		return perr(e, from, n, "config includes take no prefixes", NULL, NULL);
	dir = path_dir(from->path);
	hp = prefixed(e, hf_pre, h ? h->value : "");
	cp = prefixed(e, cs_pre, c ? c->value : "");
	if (!dir || !hp || !cp || asprintf(&path, "%s/%s.yaml", dir, inc->value) < 0) {
		rc = ck_errf(e, CK_ENOMEM, "out of memory");
		path = NULL;
		goto done;
	}
	if (access(path, F_OK)) { /* opened (regular files only) when loaded */
		rc = perr(e, from, inc, "included rule set '%s' not found (%s)", inc->value, path);
		goto done;
	}
	if (!(rc = include_cycle(L, from, inc, path)))
		rc = load_into(L, path, hp, cp, depth + 1, want_keys, inc, from);
done:
	free(dir);
	free(path);
	free(hp);
	free(cp);
	return rc;
}

int rule_set_load(const char *path, rule_set **out, ck_err *e)
{
	return rule_set_load_prefixed(path, "", "", out, e);
}

int rule_load_component(const rule_set *top, size_t i, rule_set **out, ck_err *e)
{
	const rule_file *f = top->files[0];
	const rule_comp *c = &f->comp[i];
	char *p = rule_sibling(f->path, c->rules);
	int rc;
	*out = NULL;
	if (!p)
		rc = ck_errf(e, CK_ENOMEM, "out of memory");
	else if (access(p, F_OK))
		rc = ck_errf(e, CK_EINVALID, "%s:%d:%d: component rule set '%s' not found (%s)", f->path, c->pos.line,
			c->pos.col, c->rules, p);
	else
		rc = rule_set_load_prefixed(p, c->hf_prefix, c->cs_prefix, out, e);
	free(p);
	return rc;
}

int rule_load_components(const rule_set *top, rule_set ***out, ck_err *e)
{
	const rule_file *f = top->files[0];
	rule_set **v = ck_calloc(e, f->n_comp ? f->n_comp : 1, sizeof *v);
	int rc = v ? 0 : CK_ENOMEM;
	*out = NULL;
	for (size_t i = 0; !rc && i < f->n_comp; i++)
		rc = rule_load_component(top, i, &v[i], e);
	if (rc) {
		rule_components_free(v, f->n_comp);
		return rc;
	}
	*out = v;
	return 0;
}

void rule_components_free(rule_set **v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		rule_set_free(v[i]);
	free(v);
}

char *rule_sibling(const char *from, const char *name)
{
	char *dir = path_dir(from), *p = NULL;
	if (!dir || asprintf(&p, "%s/%s.yaml", dir, name) < 0)
		p = NULL;
	free(dir);
	return p;
}

int rule_set_load_prefixed(const char *path, const char *hf_prefix, const char *cs_prefix, rule_set **out, ck_err *e)
{
	loader L = {0};
	rule_set *s = ck_calloc(e, 1, sizeof *s);
	const ydoc_node *v;
	int rc;
	*out = NULL;
	if (!s)
		return CK_ENOMEM;
	L.set = s;
	L.e = e;
	if ((rc = load_into(&L, path, hf_prefix, cs_prefix, 0, 1, NULL, NULL)))
		goto fail;
	if ((v = ydoc_map_get(s->files[0]->doc->root, "config")) &&
		(rc = load_config(&L, s->files[0], s->files[0], v, 0)))
		goto fail;
	*out = s;
	return 0;
fail:
	rule_set_free(s);
	return rc;
}

void rule_set_free(rule_set *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n_keys; i++)
		key_dispose(&s->keys[i]);
	free(s->keys);
	for (size_t i = 0; i < s->n_files; i++)
		rule_file_free(s->files[i]);
	free(s->files);
	free(s->dir);
	free(s);
}

/* --- lookup --------------------------------------------------------------- */

const char *rule_ph_regex(const rule_file *scope, const char *name)
{
	for (size_t i = 0; i < scope->n_ph; i++)
		if (!strcmp(scope->ph[i].name, name))
			return scope->ph[i].regex;
	return NULL;
}

int rule_has_format(const rule_file *f, const char *fmt)
{
	for (size_t i = 0; i < f->n_fmt; i++)
		if (!strcmp(f->fmt[i], fmt))
			return 1;
	return 0;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

int rule_list_models(const char *dir, char ***out, size_t *out_n, ck_err *e)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char **v = NULL;
	size_t n = 0;
	*out = NULL;
	*out_n = 0;
	if (!d)
		return ck_errf(e, CK_ENOTFOUND, "%s: cannot open rules directory", dir);
	while ((de = readdir(d))) {
		size_t len = strlen(de->d_name);
		char *p = NULL;
		ck_err tmp = {0};
		rule_file *f = NULL;
		if (len < 6 || strcmp(de->d_name + len - 5, ".yaml"))
			continue;
		if (asprintf(&p, "%s/%s", dir, de->d_name) < 0)
			continue;
		/* Shared pieces and broken files are not models; `validate` reports the latter. */
		if (rule_file_load(p, &f, &tmp) == 0 && f->model) {
			char **nv = realloc(v, (n + 1) * sizeof *nv);
			if (nv) {
				v = nv;
				v[n++] = p;
				p = NULL;
			}
		}
		rule_file_free(f);
		free(p);
	}
	closedir(d);
	qsort(v, n, sizeof *v, cmp_str);
	*out = v;
	*out_n = n;
	return 0;
}

int rule_first_model(const char *dir, int (*pred)(const rule_file *, const void *), const void *arg,
	char **out_path, ck_err *e)
{
	char **v;
	size_t n;
	int rc = rule_list_models(dir, &v, &n, e), found = 0;
	if (rc)
		return rc;
	for (size_t i = 0; i < n; i++) {
		rule_file *f = NULL;
		ck_err tmp = {0};
		if (!found && rule_file_load(v[i], &f, &tmp) == 0 && pred(f, arg)) {
			*out_path = v[i];
			v[i] = NULL;
			found = 1;
		}
		rule_file_free(f);
		free(v[i]);
	}
	free(v);
	return found ? 0 : CK_ENOTFOUND;
}

static int name_pred(const rule_file *f, const void *arg)
{
	const char *name = arg;
	if (!strcmp(f->model, name))
		return 1;
	for (size_t i = 0; i < f->n_alias; i++)
		if (!strcmp(f->alias[i], name))
			return 1;
	return 0;
}

int rule_find_model(const char *dir, const char *name, char **out_path, ck_err *e)
{
	char **v;
	size_t n;
	char list[1024] = "";
	int rc = rule_first_model(dir, name_pred, name, out_path, e);
	if (rc != CK_ENOTFOUND)
		return rc;
	if (rule_list_models(dir, &v, &n, e) == 0) {
		for (size_t i = 0; i < n; i++) {
			rule_file *f = NULL;
			ck_err tmp = {0};
			if (rule_file_load(v[i], &f, &tmp) == 0)
				snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? ", " : "", f->model);
			rule_file_free(f);
			free(v[i]);
		}
		free(v);
	}
	return ck_errf(e, CK_ENOTFOUND, "unknown model '%s' (known: %s; see 'ckconv list')", name, list);
}

typedef struct detect_arg {
	const json_t *hf, *cs;
	int by_type; /* HF: 0 matches architectures only, 1 model_type (a class named in
		      * `architectures` beats a model_type that several families share: gpt2, santacoder) */
} detect_arg;

static json_t *when_resolve(void *ctx, const char *name)
{
	return !strcmp(name, "cs") ? ctx : NULL;
}

/* `cs_when` over the params' model section: an error (an unknown name, ...) is "no". */
static int cs_when_holds(const rule_file *f, const json_t *model)
{
	json_t *cs = json_pack("{sO}", "model", (json_t *)model), *v = NULL;
	ck_err tmp = {0};
	int yes = cs && !expr_eval(f->cs_when, when_resolve, cs, &v, &tmp) && expr_truthy(v);
	json_decref(v);
	json_decref(cs);
	return yes;
}

static int detect_pred(const rule_file *f, const void *arg)
{
	const detect_arg *d = arg;
	if (d->hf) {
		json_t *arch = json_object_get(d->hf, "architectures"), *it;
		size_t i;
		if (!d->by_type) {
			json_array_foreach(arch, i, it) {
				for (size_t j = 0; j < f->n_arch; j++)
					if (json_is_string(it) && !strcmp(json_string_value(it), f->arch[j]))
						return 1;
			}
			return 0;
		}
		const char *mt = json_string_value(json_object_get(d->hf, "model_type"));
		return mt && f->hf_model_type && !strcmp(mt, f->hf_model_type);
	}
	if (d->cs) {
		json_t *m = json_object_get(d->cs, "model");
		const char *name = json_string_value(json_object_get(m ? m : d->cs, "name"));
		int hit = 0;
		if (!name)
			return 0;
		for (size_t i = 0; i < f->n_cs_name; i++)
			hit |= !strcmp(name, f->cs_name[i]);
		if (!hit && strcmp(name, f->model))
			return 0;
		return !f->cs_when || cs_when_holds(f, m ? m : d->cs);
	}
	return 0;
}

/* JSON text of v, at most 120 bytes, or "(none)". */
static void dump_short(const json_t *v, char *buf, size_t n)
{
	char *s = v ? json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;
	snprintf(buf, n, "%.120s%s", s ? s : "(none)", s && strlen(s) > 120 ? "..." : "");
	free(s);
}

int rule_detect_model(const char *dir, const json_t *hf_cfg, const json_t *cs_params, const char *where,
	char **out_path, ck_err *e)
{
	detect_arg d = {hf_cfg, cs_params, 0};
	char a[160], b[160];
	int rc = rule_first_model(dir, detect_pred, &d, out_path, e);
	if (rc == CK_ENOTFOUND && hf_cfg) {
		d.by_type = 1;
		rc = rule_first_model(dir, detect_pred, &d, out_path, e);
	}
	if (rc != CK_ENOTFOUND)
		return rc;
	if (!where)
		where = hf_cfg ? "config.json" : "params";
	if (hf_cfg) {
		dump_short(json_object_get(hf_cfg, "architectures"), a, sizeof a);
		dump_short(json_object_get(hf_cfg, "model_type"), b, sizeof b);
		return ck_errf(e, rc, "%s: architectures %s / model_type %s match no model in %s; pass --model (see "
			"'ckconv list')", where, a, b, dir);
	}
	const json_t *m = json_object_get(cs_params, "model");
	dump_short(json_object_get(m ? m : cs_params, "name"), a, sizeof a);
	return ck_errf(e, rc, "%s: model.name %s matches no model in %s; pass --model (see 'ckconv list')", where, a, dir);
}
