/* layers.c - see layers.h. Keys are grouped by (rule, template slot, the other placeholders'
 * values): each group must see every layer index the config implies. */
#include "layers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "expr.h"
#include "match.h"

#define LAYERS_MAX (1L << 20) /* a count beyond this is a broken config, not a model */

typedef struct group {
	size_t rule, slot;
	char sig[MATCH_MAX_BIND * 100]; /* the other bindings, "E=3;" ... */
	match_bind b;                   /* one key's bindings: the template for a missing key's name */
	unsigned char *seen;
} group;

typedef struct seen_set {
	size_t n, cap;
	group *g;
	unsigned char *all;
} seen_set;

typedef struct resolve_ctx {
	json_t *hf, *cs;
} resolve_ctx;

static json_t *resolve(void *vctx, const char *name)
{
	resolve_ctx *c = vctx;
	json_t *v = !strcmp(name, "hf") ? c->hf : !strcmp(name, "cs") ? c->cs : NULL;
	return v ? v : !strcmp(name, "hf") || !strcmp(name, "cs") ? expr_absent() : NULL;
}

/* The count the config implies: 1 with *n set, 0 when the config does not say, <0 on error. */
static int layer_count(const rule_file *f, json_t *hf, json_t *cs, long *n, ck_err *e)
{
	resolve_ctx c = {hf, cs};
	json_t *v = NULL;
	int rc = expr_eval(f->layers_count, resolve, &c, &v, e);
	if (rc)
		return -1;
	if (!v)
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > LAYERS_MAX) {
		char *s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
		ck_errf(e, CK_EINVALID, "%s:%d:%d: layers count '%s' is %s, not a number of layers", f->layers_pos.file,
			f->layers_pos.line, f->layers_pos.col, expr_src(f->layers_count), s ? s : "?");
		free(s);
		json_decref(v);
		return -1;
	}
	*n = (long)json_integer_value(v);
	json_decref(v);
	return 1;
}

static group *group_of(seen_set *s, const match_hit *h, const char *ph, long n, ck_err *e)
{
	char sig[sizeof s->g->sig] = "";
	for (size_t i = 0; i < h->b.n; i++)
		if (strcmp(h->b.name[i], ph)) {
			size_t l = strlen(sig);
			snprintf(sig + l, sizeof sig - l, "%s=%s;", h->b.name[i], h->b.val[i]);
		}
	for (size_t i = 0; i < s->n; i++)
		if (s->g[i].rule == h->rule && s->g[i].slot == h->slot && !strcmp(s->g[i].sig, sig))
			return &s->g[i];
	if (s->n == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 16;
		group *g = realloc(s->g, cap * sizeof *g);
		if (!g) {
			ck_errf(e, CK_ENOMEM, "out of memory");
			return NULL;
		}
		s->g = g, s->cap = cap;
	}
	group *g = &s->g[s->n];
	memset(g, 0, sizeof *g);
	g->rule = h->rule, g->slot = h->slot, g->b = h->b;
	memcpy(g->sig, sig, sizeof sig);
	if (!(g->seen = ck_calloc(e, (size_t)n ? (size_t)n : 1, 1)))
		return NULL;
	s->n++;
	return g;
}

/* The key group g lacks at layer i, by filling its template with that index. */
static void missing_name(const prog *pg, const group *g, const char *ph, long i, char *out, size_t n)
{
	const prog_rule *r = &pg->r[g->rule];
	const rule_key *k = r->key;
	match_bind b = g->b;
	char *name = NULL;
	ck_err tmp = {0};
	for (size_t j = 0; j < b.n; j++)
		if (!strcmp(b.name[j], ph)) {
			snprintf(b.val[j], sizeof b.val[j], "%ld", i);
			b.num[j] = i;
		}
	if (match_fill(&r->tpl[PROG_SRC][g->slot], &b, &name, &tmp) == 0)
		snprintf(out, n, "%s", name);
	else
		snprintf(out, n, "a key of the rule at %s:%d", k->pos.file, k->pos.line);
	free(name);
}

static int collect(const prog *pg, const ck_tsrc *src, const char *prefix, const char *ph, long n, seen_set *s,
	const char *what, ck_err *e)
{
	size_t pl = prefix ? strlen(prefix) : 0;
	int rc = 0;
	for (size_t t = 0; t < src->n && !rc; t++) {
		const char *name = src->t[t].name;
		match_hit h;
		if (pl && strncmp(name, prefix, pl))
			continue;
		int m = prog_match(pg, name + pl, &h, e);
		if (m < 0) {
			rc = CK_EINVALID;
			break;
		}
		const char *v = m ? match_bind_get(&h.b, ph) : NULL;
		if (!v)
			continue;
		char *end;
		long i = strtol(v, &end, 10);
		if (*end || i < 0 || i >= n) {
			rc = ck_errf(e, CK_EINVALID, "%s: '%s' is layer %s, but the config implies %ld layer%s", what, name, v,
				n, n == 1 ? "" : "s");
			break;
		}
		group *g = group_of(s, &h, ph, n, e);
		if (!g) {
			rc = CK_ENOMEM;
			break;
		}
		g->seen[i] = s->all[i] = 1;
	}
	return rc;
}

int layers_check(const prog *pg, const ck_tsrc *src, const char *src_prefix, json_t *hf, json_t *cs, const char *what,
	ck_err *e)
{
	const rule_file *f = pg->rs->files[0];
	seen_set s = {0};
	long n = 0;
	int rc = 0, have;
	if (!f->layers_ph)
		return 0;
	if ((have = layer_count(f, hf, cs, &n, e)) <= 0)
		return have < 0 ? CK_EINVALID : 0; /* the config does not say: nothing to hold the source to */
	if (!(s.all = ck_calloc(e, (size_t)n ? (size_t)n : 1, 1)))
		return CK_ENOMEM;
	if ((rc = collect(pg, src, src_prefix, f->layers_ph, n, &s, what, e)))
		goto done;
	for (long i = 0; i < n; i++)
		if (!s.all[i]) {
			rc = ck_errf(e, CK_EINVALID, "%s: layer %ld is missing: no tensor of it, but the config implies %ld "
				"layers (%s; a shard of a set, or a truncated checkpoint?)", what, i, n, expr_src(f->layers_count));
			goto done;
		}
	for (size_t j = 0; j < s.n; j++)
		for (long i = 0; i < n; i++)
			if (!s.g[j].seen[i]) {
				char key[512];
				missing_name(pg, &s.g[j], f->layers_ph, i, key, sizeof key);
				rc = ck_errf(e, CK_EINVALID, "%s: '%s' is missing: the other layers have it (%ld layers, %s)", what,
					key, n, expr_src(f->layers_count));
				goto done;
			}
done:
	for (size_t j = 0; j < s.n; j++)
		free(s.g[j].seen);
	free(s.g);
	free(s.all);
	return rc;
}
