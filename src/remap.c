/* remap.c - a params document rebuilt in a new layout from a table (remap.h). */
#include <stdlib.h>
#include <string.h>
#include "remap.h"
#include "strmap.h"
#include "text.h"

#define MAX_DEPTH 64

typedef struct rm {
	char **key;        /* the old document's leaves, dotted paths in document order */
	json_t **val;
	unsigned char *taken;
	size_t n, cap;
	strmap at;         /* key -> index */
	json_t *legacy;    /* table path -> value taken for it */
	json_t *missing;   /* the marker of "nothing took this" (compared by address) */
	ck_err *e;
} rm;

static int add_leaf(rm *r, const char *key, json_t *v)
{
	if (r->n == r->cap) {
		size_t c = r->cap ? 2 * r->cap : 64;
		char **k = realloc(r->key, c * sizeof *k);
		json_t **x = k ? realloc(r->val, c * sizeof *x) : NULL;
		unsigned char *t = x ? realloc(r->taken, c) : NULL;
		if (k)
			r->key = k;
		if (x)
			r->val = x;
		if (t)
			r->taken = t;
		if (!t)
			return ck_errf(r->e, CK_ENOMEM, "out of memory");
		r->cap = c;
	}
	if (!(r->key[r->n] = strdup(key)) || strmap_put(&r->at, key, r->n))
		return free(r->key[r->n]), ck_errf(r->e, CK_ENOMEM, "out of memory");
	r->val[r->n] = v;
	r->taken[r->n++] = 0;
	return 0;
}

/* The leaves of v under path prefix p (pytree order: mappings by key order, lists by index). */
static int flatten(rm *r, json_t *v, text *p, int depth)
{
	const char *k;
	json_t *x;
	size_t len = p->n;
	int rc = 0;
	if (depth > MAX_DEPTH)
		return ck_errf(r->e, CK_ELIMIT, "params nested deeper than %d", MAX_DEPTH);
	if (!json_is_object(v) && !json_is_array(v))
		return add_leaf(r, p->p ? p->p : "", v);
	if (json_is_object(v))
		json_object_foreach(v, k, x) {
			if (len)
				text_add(p, ".", 1);
			text_puts(p, k);
			rc = p->oom ? ck_errf(r->e, CK_ENOMEM, "out of memory") : flatten(r, x, p, depth + 1);
			p->n = len;
			if (p->p)
				p->p[len] = '\0';
			if (rc)
				return rc;
		}
	for (size_t i = 0; json_is_array(v) && i < json_array_size(v); i++) {
		if (len)
			text_add(p, ".", 1);
		text_printf(p, "%zu", i);
		rc = p->oom ? ck_errf(r->e, CK_ENOMEM, "out of memory") : flatten(r, json_array_get(v, i), p, depth + 1);
		p->n = len;
		if (p->p)
			p->p[len] = '\0';
		if (rc)
			return rc;
	}
	return 0;
}

/* Every leaf (a dotted path) of the table, in order. */
static int table_paths(const json_t *t, json_t *out, int depth)
{
	const char *k;
	json_t *x;
	int rc = 0;
	if (depth > MAX_DEPTH)
		return -1;
	if (json_is_string(t))
		return json_array_append(out, (json_t *)t) ? -1 : 0;
	if (!json_is_object(t) && !json_is_array(t))
		return -2; /* a number or a flag where a path belongs: the table is wrong, not empty */
	json_object_foreach((json_t *)t, k, x)
		if ((rc = table_paths(x, out, depth + 1)))
			return rc;
	for (size_t i = 0; json_is_array(t) && i < json_array_size(t); i++)
		if ((rc = table_paths(json_array_get(t, i), out, depth + 1)))
			return rc;
	return 0;
}

static int dots(const char *s)
{
	int n = 0;
	for (; *s; s++)
		n += *s == '.';
	return n;
}

/* The old subtree at a dotted path of mappings, or NULL. */
static json_t *subtree(json_t *v, const char *path)
{
	char *p = strdup(path), *save = NULL;
	for (char *k = p ? strtok_r(p, ".", &save) : NULL; k && v; k = strtok_r(NULL, ".", &save))
		v = json_is_object(v) ? json_object_get(v, k) : NULL;
	free(p);
	return p ? v : NULL;
}

/* A copy of the old subtree with every leaf the one the glob takes (or the marker). */
static json_t *glob_copy(rm *r, json_t *v, text *p, size_t *found, int depth)
{
	const char *k;
	json_t *x, *out;
	size_t len = p->n, i;
	if (depth > MAX_DEPTH)
		return NULL;
	if (!json_is_object(v) && !json_is_array(v)) {
		json_t *lv;
		if (strmap_get(&r->at, p->p ? p->p : "", &i) && !r->taken[i]) {
			r->taken[i] = 1;
			++*found;
			return json_incref(r->val[i]);
		}
		if ((lv = json_object_get(r->legacy, p->p ? p->p : ""))) {
			++*found;
			return json_incref(lv);
		}
		++*found; /* fnmatch lists every old key under the scope, taken or not */
		return json_incref(r->missing);
	}
	out = json_is_object(v) ? json_object() : json_array();
	if (json_is_object(v))
		json_object_foreach(v, k, x) {
			text_add(p, ".", 1);
			text_puts(p, k);
			json_t *c = p->oom ? NULL : glob_copy(r, x, p, found, depth + 1);
			p->n = len;
			p->p[len] = '\0';
			if (!c || json_object_set_new(out, k, c))
				return json_decref(out), NULL;
		}
	for (i = 0; json_is_array(v) && i < json_array_size(v); i++) {
		text_printf(p, ".%zu", i);
		json_t *c = p->oom ? NULL : glob_copy(r, json_array_get(v, i), p, found, depth + 1);
		p->n = len;
		p->p[len] = '\0';
		if (!c || json_array_append_new(out, c))
			return json_decref(out), NULL;
	}
	return out;
}

/* The table with its leaves replaced by what was taken for them. */
static json_t *fill(rm *r, const json_t *t, int depth)
{
	const char *k;
	json_t *x, *out;
	if (depth > MAX_DEPTH)
		return NULL;
	if (json_is_string(t)) {
		json_t *v = json_object_get(r->legacy, json_string_value(t));
		return json_incref(v ? v : r->missing);
	}
	out = json_is_object(t) ? json_object() : json_array();
	json_object_foreach((json_t *)t, k, x) {
		json_t *c = fill(r, x, depth + 1);
		if (!c || json_object_set_new(out, k, c))
			return json_decref(out), NULL;
	}
	for (size_t i = 0; json_is_array(t) && i < json_array_size(t); i++) {
		json_t *c = fill(r, json_array_get(t, i), depth + 1);
		if (!c || json_array_append_new(out, c))
			return json_decref(out), NULL;
	}
	return out;
}

/* Python truthiness, or a scalar: what the layout keeps. */
static int kept(const rm *r, const json_t *v)
{
	if (!v || v == r->missing || json_is_null(v))
		return 0;
	if (json_is_object(v))
		return json_object_size(v) > 0;
	if (json_is_array(v))
		return json_array_size(v) > 0;
	return 1;
}

/* Leave out what nothing took and what is empty; "*" entries merge into their mapping. */
static json_t *cleanup(rm *r, json_t *v)
{
	const char *k;
	json_t *x, *out;
	if (json_is_object(v)) {
		if (!(out = json_object()))
			return NULL;
		json_object_foreach(v, k, x) {
			if (x == r->missing)
				continue;
			if (!strcmp(k, "*")) {
				if (!json_is_object(x)) {
					json_decref(out);
					return cleanup(r, x);
				}
				const char *k2;
				json_t *x2;
				json_object_foreach(x, k2, x2)
					if (x2 != r->missing && json_object_set(out, k2, x2))
						return json_decref(out), NULL;
				continue;
			}
			json_t *c = cleanup(r, x);
			if (!c)
				return json_decref(out), NULL;
			if (kept(r, c) && json_object_set(out, k, c))
				return json_decref(c), json_decref(out), NULL;
			json_decref(c);
		}
		return out;
	}
	if (json_is_array(v)) {
		if (!(out = json_array()))
			return NULL;
		for (size_t i = 0; i < json_array_size(v); i++) {
			json_t *c = cleanup(r, json_array_get(v, i));
			if (!c)
				return json_decref(out), NULL;
			if (kept(r, c) && json_array_append(out, c))
				return json_decref(c), json_decref(out), NULL;
			json_decref(c);
		}
		return out;
	}
	return json_incref(v);
}

int remap_run(const json_t *old, const json_t *table, const json_t *ignore, json_t **out, json_t **extra, ck_err *e)
{
	rm r = {.e = e};
	text p = {0};
	json_t *paths = json_array(), *globs = json_array(), *filled = NULL;
	size_t i;
	int rc = 0;
	*out = *extra = NULL;
	strmap_init(&r.at);
	if (!paths || !globs || !(r.legacy = json_object()) || !(r.missing = json_object()) || !(*extra = json_array())) {
		rc = ck_errf(e, CK_ENOMEM, "out of memory");
		goto done;
	}
	if ((rc = flatten(&r, (json_t *)old, &p, 0)))
		goto done;
	if ((rc = table_paths(table, paths, 0))) {
		rc = ck_errf(e, CK_EINVALID, rc == -2 ? "remap: the table holds something other than a path (a string) or a mapping/list of them"
						      : "remap: the table is nested too deep (more than %d levels)", MAX_DEPTH);
		goto done;
	}
	for (i = 0; i < json_array_size(ignore); i++) {
		size_t at;
		if (json_is_string(json_array_get(ignore, i)) && strmap_get(&r.at, json_string_value(json_array_get(ignore, i)), &at))
			r.taken[at] = 1;
	}
	for (i = 0; i < json_array_size(paths); i++) { /* whole leaves first */
		const char *k = json_string_value(json_array_get(paths, i));
		size_t at;
		if (strmap_get(&r.at, k, &at) && !r.taken[at]) {
			r.taken[at] = 1;
			if (json_object_set(r.legacy, k, r.val[at]))
				rc = ck_errf(e, CK_ENOMEM, "out of memory");
		}
	}
	for (i = 0; i < json_array_size(paths) && !rc; i++) { /* then subtrees, deepest scope first */
		const char *k = json_string_value(json_array_get(paths, i));
		size_t n = strlen(k), j;
		if (n < 2 || strcmp(k + n - 2, ".*") || json_object_get(r.legacy, k))
			continue;
		for (j = 0; j < json_array_size(globs) && strcmp(json_string_value(json_array_get(globs, j)), k); j++)
			;
		if (j == json_array_size(globs) && json_array_append(globs, json_array_get(paths, i)))
			rc = ck_errf(e, CK_ENOMEM, "out of memory");
	}
	/* deepest scope first; a stable insertion sort keeps table order among globs of one depth */
	for (i = 1; i < json_array_size(globs); i++)
		for (size_t j = i; j > 0 && dots(json_string_value(json_array_get(globs, j - 1))) <
			dots(json_string_value(json_array_get(globs, j))); j--) {
			json_t *a = json_incref(json_array_get(globs, j - 1));
			json_array_set(globs, j - 1, json_array_get(globs, j));
			json_array_set_new(globs, j, a);
		}
	for (i = 0; i < json_array_size(globs) && !rc; i++) {
		const char *k = json_string_value(json_array_get(globs, i));
		char *scope = strndup(k, strlen(k) - 2);
		json_t *sub = scope ? subtree((json_t *)old, scope) : NULL, *c;
		size_t found = 0;
		if (!scope)
			rc = ck_errf(e, CK_ENOMEM, "out of memory");
		else if (sub && (json_is_object(sub) || json_is_array(sub))) {
			p.n = 0;
			text_puts(&p, scope);
			if (!(c = glob_copy(&r, sub, &p, &found, 0)))
				rc = ck_errf(e, CK_ENOMEM, "out of memory");
			else if (found && json_object_set(r.legacy, k, c))
				rc = ck_errf(e, CK_ENOMEM, "out of memory");
			json_decref(c);
		}
		free(scope);
	}
	for (i = 0; i < r.n && !rc; i++)
		if (!r.taken[i] && json_array_append_new(*extra, json_string(r.key[i])))
			rc = ck_errf(e, CK_ENOMEM, "out of memory");
	if (!rc && (!(filled = fill(&r, table, 0)) || !(*out = cleanup(&r, filled))))
		rc = ck_errf(e, CK_ENOMEM, "out of memory");
done:
	if (rc) {
		json_decref(*out);
		json_decref(*extra);
		*out = *extra = NULL;
	}
	for (i = 0; i < r.n; i++)
		free(r.key[i]);
	free(r.key);
	free(r.val);
	free(r.taken);
	strmap_dispose(&r.at);
	json_decref(r.legacy);
	json_decref(r.missing);
	json_decref(paths);
	json_decref(globs);
	json_decref(filled);
	free(p.p);
	return rc;
}
