/* shard.c - HF shard sets over any single-file source; see shard.h. */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "bounds.h"
#include "io.h"
#include "path.h"
#include "shard.h"
#include "strmap.h"
#include "valio.h"


typedef unsigned long long ull;

typedef struct shard_src {
	ck_tsrc base;
	size_t nf;
	ck_tsrc **f;
	size_t *fi;    /* per tensor: which file */
	size_t *local; /* per tensor: its index in that file */
} shard_src;

static int shard_read(ck_tsrc *base, size_t i, void *buf, ck_err *e)
{
	shard_src *s = (shard_src *)base;
	if (i >= s->base.n)
		return ck_errf(e, CK_EINVALID, "%s: tensor index %zu out of range (%zu tensors)", s->base.path,
			       i, s->base.n);
	return ck_tsrc_read(s->f[s->fi[i]], s->local[i], buf, e);
}

static void shard_free(ck_tsrc *base)
{
	shard_src *s = (shard_src *)base;
	for (size_t i = 0; i < s->nf; i++)
		ck_tsrc_free(s->f[i]);
	free(s->f);
	free(s->fi);
	free(s->local);
	ck_tinfo_array_free(s->base.t, s->base.n);
	free(s->base.path);
	free(s);
}

static const ck_tsrc_ops shard_ops = {shard_read, shard_free, NULL};

/* A key found in a file, for cross-checking the files against weight_map. */
typedef struct skey {
	const char *name;
	size_t file, local;
	int used;
} skey;

static int skey_cmp(const void *a, const void *b)
{
	return strcmp(((const skey *)a)->name, ((const skey *)b)->name);
}

/* Ties broken by file so a key in two files is reported the same way every time. */
static int skey_order(const void *a, const void *b)
{
	const skey *x = a, *y = b;
	int c = strcmp(x->name, y->name);
	return c ? c : x->file < y->file ? -1 : x->file > y->file;
}

static int name_ok(const char *s)
{
	return *s && strcmp(s, ".") && strcmp(s, "..") && !strchr(s, '/') && !strstr(s, "..");
}

/* File names in order of first appearance in weight_map (names point into the JSON), and per
 * weight_map entry the index of its file (a hash lookup: 1e5 shard names stay linear). */
static int index_files(const char *ip, json_t *wm, const char ***out, size_t *nout, size_t *file_of, ck_err *e)
{
	const char **names = NULL, *key;
	size_t n = 0, cap = 0, at = 0;
	strmap seen;
	json_t *v;
	int rc = 0;
	strmap_init(&seen);
	json_object_foreach(wm, key, v) {
		const char *sn = json_string_value(v);
		size_t k;
		if (strlen(key) > CK_MAX_KEY_BYTES)
			rc = ck_errf(e, CK_ELIMIT, "%s: tensor '%.64s...': key is %zu bytes, limit is %d", ip, key,
				     strlen(key), CK_MAX_KEY_BYTES);
		else if (!sn)
			rc = ck_errf(e, CK_EINVALID, "%s: tensor '%.*s': weight_map value is not a string", ip,
				     CK_MAX_QUOTE, key);
		else if (!name_ok(sn))
			rc = ck_errf(e, CK_EINVALID, "%s: tensor '%.*s': shard name '%.*s' must be a plain file name "
				     "(no '/' or '..')", ip, CK_MAX_QUOTE, key, CK_MAX_QUOTE, sn);
		if (rc)
			break;
		if (!strmap_get(&seen, sn, &k)) {
			if (n == cap) {
				const char **p = realloc(names, (cap = cap ? 2 * cap : 16) * sizeof *names);
				if (!p) {
					rc = ck_errf(e, CK_ENOMEM, "out of memory");
					break;
				}
				names = p;
			}
			if (strmap_put(&seen, sn, k = n)) {
				rc = ck_errf(e, CK_ENOMEM, "out of memory");
				break;
			}
			names[n++] = sn;
		}
		file_of[at++] = k;
	}
	strmap_dispose(&seen);
	if (rc) {
		free(names);
		return rc;
	}
	*out = names;
	*nout = n;
	return 0;
}

/* All keys of all files sorted, with a key in two files reported. */
static int all_keys(const char *ip, shard_src *s, skey **out, size_t *nout, ck_err *e)
{
	size_t total = 0, k = 0;
	skey *keys;
	for (size_t i = 0; i < s->nf; i++)
		total += s->f[i]->n;
	if (total > CK_MAX_TENSORS)
		return ck_errf(e, CK_ELIMIT, "%s: shards hold %zu tensors, limit is %d", ip, total,
			       CK_MAX_TENSORS);
	if (!(keys = ck_calloc(e, total ? total : 1, sizeof *keys)))
		return CK_ENOMEM;
	for (size_t i = 0; i < s->nf; i++)
		for (size_t j = 0; j < s->f[i]->n; j++)
			keys[k++] = (skey){s->f[i]->t[j].name, i, j, 0};
	qsort(keys, total, sizeof *keys, skey_order);
	for (k = 1; k < total; k++) {
		if (strcmp(keys[k - 1].name, keys[k].name) == 0) {
			int rc = ck_errf(e, CK_EINVALID, "%s: tensor '%s' appears in two shards: '%s' and '%s'", ip,
					 keys[k].name, path_base(s->f[keys[k - 1].file]->path),
					 path_base(s->f[keys[k].file]->path));
			free(keys);
			return rc;
		}
	}
	*out = keys;
	*nout = total;
	return 0;
}

static int open_files(const char *ip, shard_src *s, const char **names, shard_open_fn fn, ck_err *e)
{
	char *dir = path_dir(ip);
	int rc = 0;
	if (!dir)
		return ck_errf(e, CK_ENOMEM, "out of memory");
	for (size_t i = 0; i < s->nf && !rc; i++) {
		char *p = path_join(dir, names[i]);
		if (!p) {
			rc = ck_errf(e, CK_ENOMEM, "out of memory");
			break;
		}
		if (access(p, F_OK))
			rc = ck_errf(e, CK_ENOTFOUND, "%s: shard '%s' not found (%s: %s)", ip, names[i], p,
				     strerror(errno));
		else
			rc = fn(p, &s->f[i], e);
		free(p);
	}
	free(dir);
	return rc;
}

/* Takes each weight_map entry from the file it names. */
static int join(const char *ip, shard_src *s, json_t *wm, const char **names, const size_t *file_of,
		skey *keys, size_t nk, ck_err *e)
{
	const char *key;
	json_t *v;
	size_t at = 0;
	json_object_foreach(wm, key, v) {
		skey probe = {key, 0, 0, 0}, *hit = bsearch(&probe, keys, nk, sizeof *keys, skey_cmp);
		size_t sh = file_of[at];
		ck_tinfo *t;
		if (!hit || hit->file != sh)
			return ck_errf(e, CK_EINVALID, "%s: tensor '%s': weight_map names shard '%s', which does "
				       "not contain it%s%s%s", ip, key, names[sh], hit ? " (it is in '" : "",
				       hit ? names[hit->file] : "", hit ? "')" : "");
		hit->used = 1;
		t = &s->f[sh]->t[hit->local];
		s->fi[at] = sh;
		s->local[at] = hit->local;
		s->base.t[at] = *t;
		if (!(s->base.t[at].name = ck_strdup(e, t->name)))
			return CK_ENOMEM;
		s->base.n = ++at;
	}
	for (size_t k = 0; k < nk; k++)
		if (!keys[k].used)
			return ck_errf(e, CK_EINVALID, "%s: shard '%s' holds tensor '%s', which weight_map does "
				       "not list", ip, names[keys[k].file], keys[k].name);
	return 0;
}

static json_t *load_index(const char *ip, json_t **wm, ck_err *e)
{
	json_error_t je;
	json_t *root, *m;
	char *text, why[JSON_ERROR_TEXT_LENGTH];
	size_t len;
	if (io_slurp(ip, CK_MAX_META_FILE, &text, &len, e))
		return NULL;
	root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
	free(text);
	if (!root) {
		valio_json_why(&je, !io_via_link(ip), why);
		ck_errf(e, CK_EINVALID, "%s: index is not valid JSON: %s (line %d, column %d)", ip, why, je.line,
			je.column);
		return NULL;
	}
	*wm = json_object_get(root, "weight_map");
	m = json_object_get(root, "metadata");
	if (!json_is_object(root) || !json_is_object(*wm))
		ck_errf(e, CK_EINVALID, "%s: index has no 'weight_map' object", ip);
	else if (m && !json_is_object(m))
		ck_errf(e, CK_EINVALID, "%s: index 'metadata' is not an object", ip);
	else if (json_object_size(*wm) > CK_MAX_TENSORS)
		ck_errf(e, CK_ELIMIT, "%s: weight_map lists %zu tensors, limit is %d", ip,
			json_object_size(*wm), CK_MAX_TENSORS);
	else
		return root;
	json_decref(root);
	return NULL;
}

int shard_open(const char *ip, shard_open_fn open_file, ck_tsrc **out, ck_err *e)
{
	const char **names = NULL;
	json_t *root, *wm = NULL;
	shard_src *s;
	skey *keys = NULL;
	size_t nk = 0, nw;
	int rc = 0;

	*out = NULL;
	if (!(root = load_index(ip, &wm, e)))
		return e && e->code ? e->code : CK_EINVALID;
	nw = json_object_size(wm);
	if (!(s = ck_calloc(e, 1, sizeof *s))) {
		json_decref(root);
		return CK_ENOMEM;
	}
	s->base.ops = &shard_ops;
	s->fi = ck_calloc(e, nw ? nw : 1, sizeof *s->fi);
	if (!(s->base.path = ck_strdup(e, ip)) || !s->fi || (rc = index_files(ip, wm, &names, &s->nf, s->fi, e)))
		goto done;
	s->f = ck_calloc(e, s->nf ? s->nf : 1, sizeof *s->f);
	s->local = ck_calloc(e, nw ? nw : 1, sizeof *s->local);
	s->base.t = ck_calloc(e, nw ? nw : 1, sizeof *s->base.t);
	if (!s->f || !s->fi || !s->local || !s->base.t) {
		rc = CK_ENOMEM;
		goto done;
	}
	if (!(rc = open_files(ip, s, names, open_file, e)) && !(rc = all_keys(ip, s, &keys, &nk, e)))
		rc = join(ip, s, wm, names, s->fi, keys, nk, e);
	s->base.concurrent = !rc;
	for (size_t i = 0; !rc && i < s->nf; i++)
		s->base.concurrent &= s->f[i]->concurrent;
done:
	if (!s->base.path)
		rc = CK_ENOMEM;
	free(keys);
	free(names);
	json_decref(root);
	if (rc) {
		shard_free(&s->base);
		return rc;
	}
	*out = &s->base;
	return 0;
}

int shard_refuse_member(const char *path, ck_err *e)
{
	const char *base = strrchr(path, '/'), *p;
	unsigned long k, n;
	int used = 0;
	base = base ? base + 1 : path;
	/* HF writes "<stem>-%05d-of-%05d.<ext>"; look for the last "-of-" with digits on both sides */
	for (p = base; (p = strstr(p, "-of-")); p++) {
		const char *a = p;
		while (a > base && a[-1] >= '0' && a[-1] <= '9')
			a--;
		if (a == p || a == base || a[-1] != '-' || sscanf(a, "%lu-of-%lu%n", &k, &n, &used) != 2 || a[used] != '.')
			continue;
		if (n <= 1)
			return 0;
		char stem[256];
		snprintf(stem, sizeof stem, "%.*s", (int)(a - 1 - base) < 200 ? (int)(a - 1 - base) : 200, base);
		return ck_errf(e, CK_EINVALID, "%s: shard %lu of %lu of a sharded checkpoint: converting it alone would give "
			"part of a model; give the directory holding all %lu shards or its index (%s%s.index.json)", path, k, n,
			n, stem, strstr(a + used, ".bin") == a + used ? ".bin" : ".safetensors");
	}
	return 0;
}
