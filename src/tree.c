/* tree.c - a packed checkpoint's whole state dict as an editable tree (tree.h): read from the
 * root __spec__ and the per-key metadata, written back through an h5ck sink. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "bounds.h"
#include "strmap.h"
#include "text.h"
#include "tree.h"
#include "valio.h"

#define MAX_DEPTH 64

const char *tree_key_str(const json_t *k, char buf[32])
{
	if (json_is_string(k))
		return json_string_value(k);
	if (json_is_integer(k)) {
		snprintf(buf, 32, "%lld", (long long)json_integer_value(k));
		return buf;
	}
	if (json_is_null(k))
		return "None";
	if (json_is_boolean(k))
		return json_is_true(k) ? "True" : "False";
	return NULL;
}

static json_t *node_keys(const json_t *n) { return json_object_get(n, "d"); }
static json_t *node_kids(const json_t *n) { return json_object_get(n, "c"); }

json_t *tree_get(const json_t *node, const char *key)
{
	json_t *ks = node_keys(node);
	char b[32];
	for (size_t i = 0; i < json_array_size(ks); i++) {
		const char *s = tree_key_str(json_array_get(ks, i), b);
		if (s && !strcmp(s, key))
			return json_array_get(node_kids(node), i);
	}
	return NULL;
}

long tree_del(json_t *node, const char *key)
{
	json_t *ks = node_keys(node);
	char b[32];
	for (size_t i = 0; i < json_array_size(ks); i++) {
		const char *s = tree_key_str(json_array_get(ks, i), b);
		if (s && !strcmp(s, key)) {
			json_array_remove(ks, i);
			json_array_remove(node_kids(node), i);
			return (long)i;
		}
	}
	return -1;
}

int tree_set(json_t *node, const char *key, json_t *child, long at)
{
	json_t *ks = node_keys(node), *cs = node_kids(node);
	char b[32];
	if (!child || !ks || !cs) {
		json_decref(child);
		return -1;
	}
	for (size_t i = 0; i < json_array_size(ks); i++) {
		const char *s = tree_key_str(json_array_get(ks, i), b);
		if (s && !strcmp(s, key))
			return json_array_set_new(cs, i, child);
	}
	if (at < 0 || (size_t)at >= json_array_size(ks))
		return json_array_append_new(ks, json_string(key)) || json_array_append_new(cs, child) ? -1 : 0;
	return json_array_insert_new(ks, (size_t)at, json_string(key)) || json_array_insert_new(cs, (size_t)at, child) ? -1 : 0;
}

json_t *tree_at(const json_t *root, const char *path)
{
	json_t *ks = node_keys(root);
	char b[32];
	if (!*path)
		return (json_t *)root;
	if (!ks && node_kids(root)) { /* a sequence: the next part is an index */
		char *end;
		unsigned long i = strtoul(path, &end, 10);
		if (end == path || (*end && *end != '.'))
			return NULL;
		json_t *kid = json_array_get(node_kids(root), i);
		return !kid || !*end ? kid : tree_at(kid, end + 1);
	}
	for (size_t i = 0; i < json_array_size(ks); i++) {
		const char *s = tree_key_str(json_array_get(ks, i), b);
		size_t n = s ? strlen(s) : 0;
		if (!s || strncmp(path, s, n))
			continue;
		if (!path[n])
			return json_array_get(node_kids(root), i);
		if (path[n] == '.') {
			json_t *hit = tree_at(json_array_get(node_kids(root), i), path + n + 1);
			if (hit)
				return hit;
		}
	}
	return NULL;
}

static json_t *mk_dict(void)
{
	return json_pack("{s:[], s:[], s:s}", "d", "c", "ty", "builtins.dict");
}

json_t *tree_from_json(const json_t *v)
{
	json_t *n;
	if (json_is_object(v)) {
		const char *k;
		json_t *x;
		if (!(n = mk_dict()))
			return NULL;
		json_object_foreach((json_t *)v, k, x)
			if (tree_set(n, k, tree_from_json(x), -1))
				return json_decref(n), NULL;
		return n;
	}
	if (json_is_array(v)) {
		json_t *c = json_array();
		for (size_t i = 0; c && i < json_array_size(v); i++)
			if (json_array_append_new(c, tree_from_json(json_array_get(v, i))))
				json_decref(c), c = NULL;
		return c ? json_pack("{s:o, s:s}", "c", c, "ty", "builtins.list") : NULL;
	}
	return json_pack("{s:O}", "value", v);
}

/* ---- plain leaves ---- */

/* The one object of a plain stored leaf: its "<key>.__metadata__" entry, or NULL. */
static json_t *plain_object(const json_t *m, const char *key)
{
	json_t *objs = json_object_get(m, "__objects__");
	const char *o = json_string_value(json_array_get(objs, 0));
	char *name = NULL;
	json_t *om = NULL;
	if (json_array_size(objs) != 1 || !o || strcmp(o, key) || asprintf(&name, "%s.__metadata__", key) < 0)
		return NULL;
	om = json_object_get(m, name);
	free(name);
	return json_is_object(om) ? om : NULL;
}

/* The value of a plain stored leaf (scalar, string, None), a new reference; NULL if it is not
 * one (or holds NaN/Infinity, which Jansson cannot carry). *link: a LinkedObject's target. */
static json_t *raw_value(const char *text, const char *key, const char **link, json_t **keep)
{
	size_t nf;
	json_t *m = text_json_nonfinite(text, &nf) ? NULL : json_loads(text, 0, NULL), *om, *v = NULL;
	const char *ty;
	*link = NULL;
	*keep = m;
	if (!(om = plain_object(m, key)) || !(ty = json_string_value(json_object_get(om, "__TYPE__"))))
		return NULL;
	if (json_is_true(json_object_get(om, "__LINKED__")))
		*link = json_string_value(json_object_get(om, "key"));
	else if (!strcmp(ty, "ScalarSerializer") && (v = json_object_get(om, "scalar_value")) && !json_is_object(v) && !json_is_array(v))
		return json_incref(v);
	else if (!strcmp(ty, "StringSerializer") && json_is_string(v = json_object_get(om, "string_value")))
		return json_incref(v);
	else if (!strcmp(ty, "NoneSerializer"))
		return json_null();
	return NULL;
}

/* ---- reading ---- */

typedef struct rd {
	const ck_tsrc *src;
	strmap tensors;
	strmap leaves;    /* flat key -> index into raw */
	json_t *raw;      /* [leaf node, ...] of stored leaves, for link resolution */
	text path;
	ck_err *e;
} rd;

/* A tensor leaf: {"tensor": NAME}, NAME the tensor whose data it holds: a LinkedObject to a
 * tensor (tied weights) names its target, so that the writer stores the data once again. */
static int read_tensor(rd *r, const char *key, json_t **out)
{
	char *aname = NULL, *text = NULL;
	const char *link = NULL, *name = key;
	json_t *keep = NULL, *v = NULL;
	size_t at;
	int rc = asprintf(&aname, "%s.__metadata__", key) < 0 ? ck_errf(r->e, CK_ENOMEM, "out of memory")
		: h5ck_root_attr(r->src, aname, &text, r->e);
	if (!rc && text && strstr(text, "\"__LINKED__\"")) {
		v = raw_value(text, key, &link, &keep);
		if (link && strmap_get(&r->tensors, link, &at))
			name = link;
	}
	if (!rc && !(*out = json_pack("{s:s}", "tensor", name)))
		rc = ck_errf(r->e, CK_ENOMEM, "out of memory");
	json_decref(v);
	json_decref(keep);
	free(aname);
	free(text);
	return rc;
}

static int read_leaf(rd *r, json_t **out)
{
	const char *key = r->path.p ? r->path.p : "", *f = r->src->path;
	char *aname = NULL, *text = NULL;
	size_t at;
	int rc = 0;
	*out = NULL;
	if (strmap_get(&r->tensors, key, &at))
		return read_tensor(r, key, out);
	if (asprintf(&aname, "%s.__metadata__", key) < 0)
		return ck_errf(r->e, CK_ENOMEM, "out of memory");
	if ((rc = h5ck_root_attr(r->src, aname, &text, r->e)))
		goto done;
	if (!text) {
		rc = ck_errf(r->e, CK_EINVALID, "%s: key '%s': root attribute '%s' missing", f, key, aname);
		goto done;
	}
	if (strstr(text, "\"__BYTES__\"") || strstr(text, "\"__NUMPY__\"")) {
		rc = ck_errf(r->e, CK_EINVALID, "%s: key '%s': a stored object that is neither a tensor nor a plain value "
			"(pickled or deferred) cannot be carried", f, key);
		goto done;
	}
	if (!(*out = json_pack("{s:s, s:s}", "raw", text, "key", key)) || strmap_put(&r->leaves, key, json_array_size(r->raw)) ||
		json_array_append(r->raw, *out))
		rc = ck_errf(r->e, CK_ENOMEM, "out of memory");
done:
	free(aname);
	free(text);
	return rc;
}

static int read_node(rd *r, const json_t *ts, int depth, int ncomp, json_t **out)
{
	const char *f = r->src->path;
	json_t *type = json_object_get(ts, "type"), *ch = json_object_get(ts, "children_spec"), *ctx, *keys = NULL;
	json_t *kids = NULL, *n = NULL;
	int rc = 0;
	*out = NULL;
	if (depth > MAX_DEPTH)
		return ck_errf(r->e, CK_ELIMIT, "%s: __spec__: treespec deeper than %d", f, MAX_DEPTH);
	if (!json_is_object(ts) || !json_is_array(ch) || !(json_is_null(type) || json_is_string(type)))
		return ck_errf(r->e, CK_EINVALID, "%s: __spec__: malformed treespec node", f);
	if (json_is_null(type))
		return read_leaf(r, out);
	const char *ty = json_string_value(type);
	ctx = json_object_get(ts, "context");
	int dict = !strcmp(ty, "builtins.dict") || !strcmp(ty, "collections.OrderedDict");
	if (!dict && strcmp(ty, "builtins.list") && strcmp(ty, "builtins.tuple") && strcmp(ty, "collections.namedtuple"))
		return ck_errf(r->e, CK_EINVALID, "%s: __spec__: a '%s' node cannot be carried", f, ty);
	if (!json_is_string(ctx))
		return ck_errf(r->e, CK_EINVALID, "%s: __spec__: '%s' node context is not a string", f, ty);
	if (dict && (!(keys = json_loads(json_string_value(ctx), 0, NULL)) || !json_is_array(keys) ||
		json_array_size(keys) != json_array_size(ch))) {
		rc = ck_errf(r->e, CK_EINVALID, "%s: __spec__: '%s' node context does not list its %zu keys", f, ty,
			json_array_size(ch));
		goto done;
	}
	if (!(kids = json_array()) || !(n = dict ? json_pack("{s:O, s:O, s:s}", "d", keys, "c", kids, "ty", ty)
		: json_pack("{s:O, s:s, s:O}", "c", kids, "ty", ty, "ctx", ctx))) {
		rc = ck_errf(r->e, CK_ENOMEM, "out of memory");
		goto done;
	}
	for (size_t i = 0; i < json_array_size(ch) && !rc; i++) {
		char num[32];
		const char *ks = keys ? tree_key_str(json_array_get(keys, i), num) : (snprintf(num, sizeof num, "%zu", i), num);
		size_t len = r->path.n;
		json_t *kid = NULL;
		if (!ks) {
			rc = ck_errf(r->e, CK_EINVALID, "%s: __spec__: dict key %zu is not a string, int, bool or None", f, i);
			break;
		}
		if (ncomp)
			text_add(&r->path, ".", 1);
		text_puts(&r->path, ks);
		if (r->path.oom)
			rc = ck_errf(r->e, CK_ENOMEM, "out of memory");
		else if (!(rc = read_node(r, json_array_get(ch, i), depth + 1, ncomp + 1, &kid)) && json_array_append_new(kids, kid))
			rc = ck_errf(r->e, CK_ENOMEM, "out of memory");
		r->path.n = len;
		if (r->path.p)
			r->path.p[len] = '\0';
	}
	if (!rc)
		*out = json_incref(n);
done:
	json_decref(keys);
	json_decref(kids);
	json_decref(n);
	return rc;
}

/* LinkedObjects of plain values become the values (their targets may move or go). */
static int resolve_links(rd *r)
{
	for (size_t i = 0; i < json_array_size(r->raw); i++) {
		json_t *leaf = json_array_get(r->raw, i), *keep = NULL, *keep2 = NULL, *v;
		const char *key = json_string_value(json_object_get(leaf, "key")), *link = NULL, *l2 = NULL;
		size_t at;
		v = raw_value(json_string_value(json_object_get(leaf, "raw")), key, &link, &keep);
		if (link) {
			json_t *tgt = strmap_get(&r->leaves, link, &at) ? json_array_get(r->raw, at) : NULL;
			v = tgt ? raw_value(json_string_value(json_object_get(tgt, "raw")), link, &l2, &keep2) : NULL;
			if (!v) {
				json_decref(keep);
				json_decref(keep2);
				return ck_errf(r->e, CK_EINVALID, "%s: key '%s': LinkedObject to '%s', which is not a plain value",
					r->src->path, key, link);
			}
			json_object_del(leaf, "raw");
			json_object_del(leaf, "key");
			json_object_set_new(leaf, "value", v);
		} else {
			json_decref(v);
		}
		json_decref(keep);
		json_decref(keep2);
	}
	return 0;
}

int tree_read(const ck_tsrc *src, json_t **out, ck_err *e)
{
	rd r = {.src = src, .e = e};
	char *text = NULL;
	json_t *spec = NULL, *ts = NULL;
	int rc = 0;
	*out = NULL;
	strmap_init(&r.tensors);
	strmap_init(&r.leaves);
	if (!(r.raw = json_array()))
		return ck_errf(e, CK_ENOMEM, "out of memory");
	for (size_t i = 0; i < src->n; i++)
		if (strmap_put(&r.tensors, src->t[i].name, i)) {
			rc = ck_errf(e, CK_ENOMEM, "out of memory");
			goto done;
		}
	if ((rc = h5ck_root_attr(src, "__spec__", &text, e)))
		goto done;
	if (!text) {
		rc = ck_errf(e, CK_EINVALID, "%s: a legacy (format < 0.5) checkpoint: its state dict cannot be read", src->path);
		goto done;
	}
	if (!(spec = json_loads(text, 0, NULL)) || !json_is_string(json_array_get(spec, 1)) ||
		!(ts = json_loads(json_string_value(json_array_get(spec, 1)), 0, NULL)) || json_array_size(ts) != 2) {
		rc = ck_errf(e, CK_EINVALID, "%s: __spec__ is not [tree, protocol-1 treespec]", src->path);
		goto done;
	}
	if (!(rc = read_node(&r, json_array_get(ts, 1), 0, 0, out)) && !(rc = resolve_links(&r)) &&
		!json_object_get(*out, "d"))
		rc = ck_errf(e, CK_EINVALID, "%s: the state dict is not a dict", src->path);
	if (rc)
		json_decref(*out), *out = NULL;
done:
	strmap_dispose(&r.tensors);
	strmap_dispose(&r.leaves);
	json_decref(r.raw);
	json_decref(spec);
	json_decref(ts);
	free(r.path.p);
	free(text);
	return rc;
}

/* ---- values ---- */

int tree_to_json(const json_t *root, const json_t *node, json_t **out, ck_err *e)
{
	json_t *v;
	*out = NULL;
	if ((v = json_object_get(node, "value"))) {
		*out = json_incref(v);
		return 0;
	}
	if ((v = json_object_get(node, "raw"))) {
		json_t *keep = NULL;
		const char *link, *key = json_string_value(json_object_get(node, "key"));
		*out = raw_value(json_string_value(v), key, &link, &keep);
		json_decref(keep);
		return *out ? 0 : ck_errf(e, CK_EINVALID, "key '%s': not a plain value", key);
	}
	if (json_object_get(node, "tensor"))
		return ck_errf(e, CK_EINVALID, "key '%s': a tensor, not a value", json_string_value(json_object_get(node, "tensor")));
	json_t *ks = node_keys(node), *cs = node_kids(node), *r = ks ? json_object() : json_array();
	for (size_t i = 0; r && i < json_array_size(cs); i++) {
		json_t *x;
		char b[32];
		int rc = tree_to_json(root, json_array_get(cs, i), &x, e);
		if (rc)
			return json_decref(r), rc;
		if (ks ? json_object_set_new(r, tree_key_str(json_array_get(ks, i), b), x) : json_array_append_new(r, x))
			return json_decref(r), ck_errf(e, CK_ENOMEM, "out of memory");
	}
	*out = r;
	return r ? 0 : ck_errf(e, CK_ENOMEM, "out of memory");
}

/* ---- writing ---- */

typedef struct wr {
	ck_tsrc *src;
	strmap srcidx;
	ck_tinfo *t;      /* tensors to write, names = new flat keys */
	size_t *from;     /* source index per tensor; GENERATED: an arange made here */
	strmap written;   /* source tensor name -> index into t of its first key */
	size_t nt;
	char **lk, **lm;  /* leaf keys and metadata texts */
	size_t nl, cap_t, cap_l;
	text path;
	ck_err *e;
} wr;

static json_t *ts_leaf(void)
{
	return json_pack("{s:n, s:n, s:[]}", "type", "context", "children_spec");
}

/* cstorch's metadata of a leaf at key stored as its object metadata om alone (notes §5.1);
 * takes om. */
static char *leaf_meta(const char *key, json_t *om)
{
	json_t *keys = json_pack("[s]", key), *node = NULL, *doc = NULL, *tsdoc = NULL;
	char *ctx = valio_json_text(keys, -1, 0), *ts = NULL, *name = NULL, *text = NULL;
	if (!om || !ctx || !(node = json_pack("{s:s, s:s, s:[o]}", "type", "builtins.dict", "context", ctx, "children_spec", ts_leaf())) ||
		!(tsdoc = json_pack("[i, O]", 1, node)) || !(ts = valio_json_text(tsdoc, -1, 0)) ||
		asprintf(&name, "%s.__metadata__", key) < 0)
		goto done;
	if ((doc = json_pack("{s:[{s:s}, s], s:O, s:O}", "__spec__", key, "*", ts, "__objects__", keys, name, om)))
		text = valio_json_text(doc, 4, 0);
done:
	json_decref(om);
	json_decref(keys);
	json_decref(node);
	json_decref(tsdoc);
	json_decref(doc);
	free(ctx);
	free(ts);
	free(name);
	return text;
}

/* A plain value (scalar, string, None) at key. */
static char *value_meta(const char *key, const json_t *v)
{
	if (json_is_string(v))
		return leaf_meta(key, json_pack("{s:O, s:s, s:b}", "string_value", v, "__TYPE__", "StringSerializer", "__NONE__", 1));
	if (json_is_null(v))
		return leaf_meta(key, json_pack("{s:s, s:b}", "__TYPE__", "NoneSerializer", "__NONE__", 1));
	return leaf_meta(key, json_pack("{s:O, s:s, s:b}", "scalar_value", v, "__TYPE__", "ScalarSerializer", "__NONE__", 1));
}

static int add_leaf(wr *w, const char *key, char *meta)
{
	if (!meta)
		return ck_errf(w->e, CK_ENOMEM, "out of memory");
	if (w->nl == w->cap_l) {
		size_t c = w->cap_l ? 2 * w->cap_l : 64;
		char **a = realloc(w->lk, c * sizeof *a), **b = a ? realloc(w->lm, c * sizeof *b) : NULL;
		if (a)
			w->lk = a;
		if (b)
			w->lm = b;
		if (!a || !b)
			return free(meta), ck_errf(w->e, CK_ENOMEM, "out of memory");
		w->cap_l = c;
	}
	if (!(w->lk[w->nl] = strdup(key)))
		return free(meta), ck_errf(w->e, CK_ENOMEM, "out of memory");
	w->lm[w->nl++] = meta;
	return 0;
}

/* Room for one more tensor to write. */
static int grow_tensors(wr *w)
{
	if (w->nt == w->cap_t) {
		size_t c = w->cap_t ? 2 * w->cap_t : 64;
		ck_tinfo *a = realloc(w->t, c * sizeof *a);
		size_t *b = a ? realloc(w->from, c * sizeof *b) : NULL;
		if (a)
			w->t = a;
		if (b)
			w->from = b;
		if (!a || !b)
			return ck_errf(w->e, CK_ENOMEM, "out of memory");
		w->cap_t = c;
	}
	return 0;
}

/* A tensor leaf at key with the data of source tensor `from`; a tensor already written (tied
 * weights) becomes a LinkedObject to its first key, as cstorch.save writes an object it has
 * saved before (same id()): stored once, one object again when loaded. */
static int add_tensor(wr *w, const char *key, const char *from)
{
	size_t i, first;
	if (!strmap_get(&w->srcidx, from, &i))
		return ck_errf(w->e, CK_EINVALID, "tensor '%s' is not in %s", from, w->src->path);
	if (strmap_get(&w->written, from, &first))
		return add_leaf(w, key, leaf_meta(key, json_pack("{s:s, s:b, s:s, s:b}", "key", w->t[first].name,
			"__LINKED__", 1, "__TYPE__", "LinkedObject", "__NONE__", 1)));
	if (strmap_put(&w->written, from, w->nt))
		return ck_errf(w->e, CK_ENOMEM, "out of memory");
	if (grow_tensors(w))
		return CK_ENOMEM;
	w->t[w->nt] = w->src->t[i];
	if (!(w->t[w->nt].name = strdup(key)))
		return ck_errf(w->e, CK_ENOMEM, "out of memory");
	w->from[w->nt++] = i;
	return 0;
}

#define GENERATED SIZE_MAX

/* A new int64 tensor at key: 0, 1, ... in the shape the node gives, bounded as the rules'
 * generators are (bounds.h). */
static int add_arange(wr *w, const char *key, const json_t *dims)
{
	ck_tinfo t = {.dtype = CK_DT_I64};
	if (!json_is_array(dims) || json_array_size(dims) > CK_MAX_RANK)
		return ck_errf(w->e, CK_EINVALID, "key '%s': an arange shape is a list of at most %d sizes", key, CK_MAX_RANK);
	t.shape.rank = (int)json_array_size(dims);
	for (int d = 0; d < t.shape.rank; d++) {
		json_t *v = json_array_get(dims, (size_t)d);
		if (!json_is_integer(v) || json_integer_value(v) < 0)
			return ck_errf(w->e, CK_EINVALID, "key '%s': an arange size is a non-negative int", key);
		t.shape.dim[d] = json_integer_value(v);
	}
	int rc = ck_tensor_nbytes(t.dtype, &t.shape, &t.nbytes, w->e);
	if (!rc && t.nbytes > CK_MAX_GENERATED_FLOOR)
		rc = ck_errf(w->e, CK_ELIMIT, "key '%s': a generated tensor of %llu bytes, limit is %llu", key,
			(unsigned long long)t.nbytes, (unsigned long long)CK_MAX_GENERATED_FLOOR);
	if (!rc && !(rc = grow_tensors(w)) && !(t.name = strdup(key)))
		rc = ck_errf(w->e, CK_ENOMEM, "out of memory");
	if (!rc) {
		w->t[w->nt] = t;
		w->from[w->nt++] = GENERATED;
	}
	return rc;
}

/* One node: its treespec (*ts) and "*" tree (*star); leaves collected into w. */
static int write_node(wr *w, const json_t *n, int depth, int ncomp, json_t **ts, json_t **star)
{
	const char *key = w->path.p ? w->path.p : "";
	json_t *v, *ks = node_keys(n), *cs = node_kids(n), *chs = NULL;
	int rc = 0;
	*ts = *star = NULL;
	if (depth > MAX_DEPTH)
		return ck_errf(w->e, CK_ELIMIT, "tree deeper than %d", MAX_DEPTH);
	if (!cs) {
		if ((v = json_object_get(n, "tensor")))
			rc = add_tensor(w, key, json_string_value(v));
		else if ((v = json_object_get(n, "arange")))
			rc = add_arange(w, key, v);
		else if ((v = json_object_get(n, "value")))
			rc = (json_is_real(v) && !isfinite(json_real_value(v))) ? ck_errf(w->e, CK_EINVALID, "key '%s': not finite", key)
				: add_leaf(w, key, value_meta(key, v));
		else if ((v = json_object_get(n, "raw"))) {
			const char *old = json_string_value(json_object_get(n, "key"));
			if (!strcmp(old, key))
				rc = add_leaf(w, key, strdup(json_string_value(v)));
			else {
				json_t *keep = NULL, *x = raw_value(json_string_value(v), old, &old, &keep);
				rc = x ? add_leaf(w, key, value_meta(key, x))
					: ck_errf(w->e, CK_EINVALID, "key '%s': a stored leaf that is not a plain value cannot move to '%s'",
						json_string_value(json_object_get(n, "key")), key);
				json_decref(x);
				json_decref(keep);
			}
		} else
			rc = ck_errf(w->e, CK_EINVALID, "key '%s': malformed tree node", key);
		if (!rc && (!(*ts = ts_leaf()) || !(*star = json_string("*"))))
			rc = ck_errf(w->e, CK_ENOMEM, "out of memory");
		return rc;
	}
	if (!(chs = json_array()) || !(*star = ks ? json_object() : json_array()))
		return json_decref(chs), ck_errf(w->e, CK_ENOMEM, "out of memory");
	for (size_t i = 0; i < json_array_size(cs) && !rc; i++) {
		char num[32];
		const char *k = ks ? tree_key_str(json_array_get(ks, i), num) : (snprintf(num, sizeof num, "%zu", i), num);
		size_t len = w->path.n;
		json_t *cts = NULL, *cst = NULL;
		if (ncomp)
			text_add(&w->path, ".", 1);
		text_puts(&w->path, k);
		if (w->path.oom)
			rc = ck_errf(w->e, CK_ENOMEM, "out of memory");
		else if (!(rc = write_node(w, json_array_get(cs, i), depth + 1, ncomp + 1, &cts, &cst)) &&
			(json_array_append_new(chs, cts) || (ks ? json_object_set_new(*star, k, cst) : json_array_append_new(*star, cst))))
			rc = ck_errf(w->e, CK_ENOMEM, "out of memory");
		else if (rc) {
			json_decref(cts);
			json_decref(cst);
		}
		w->path.n = len;
		if (w->path.p)
			w->path.p[len] = '\0';
	}
	if (!rc) {
		char *ctx = ks ? valio_json_text(ks, -1, 0) : NULL;
		json_t *c = json_object_get(n, "ctx");
		if (!(*ts = json_pack("{s:O, s:s, s:O}", "type", json_object_get(n, "ty"), "context",
			ks ? (ctx ? ctx : "") : json_is_string(c) ? json_string_value(c) : "null", "children_spec", chs)))
			rc = ck_errf(w->e, CK_ENOMEM, "out of memory");
		free(ctx);
	}
	json_decref(chs);
	if (rc) {
		json_decref(*star);
		*star = NULL;
	}
	return rc;
}

static int copy_tensors(wr *w, ck_tsink *k)
{
	void *buf = NULL;
	size_t cap = 0;
	int rc = 0;
	for (size_t i = 0; i < w->nt && !rc; i++) {
		uint64_t nb = w->t[i].nbytes;
		if (nb > cap) {
			void *b = realloc(buf, nb);
			if (!b) {
				rc = ck_errf(w->e, CK_ENOMEM, "out of memory for tensor '%s' (%llu bytes)", w->t[i].name, (unsigned long long)nb);
				break;
			}
			buf = b, cap = nb;
		}
		if (w->from[i] == GENERATED)
			for (uint64_t j = 0; j < nb / 8; j++) { /* int64 little-endian, as the file stores it */
				for (int b = 0; b < 8; b++)
					((unsigned char *)buf)[8 * j + (uint64_t)b] = (unsigned char)(j >> (8 * b));
			}
		else
			rc = ck_tsrc_read(w->src, w->from[i], buf ? buf : (void *)"", w->e);
		if (!rc)
			rc = ck_tsink_write(k, i, buf ? buf : (void *)"", w->e);
	}
	free(buf);
	return rc;
}

int tree_write(const json_t *root, ck_tsrc *src, const char *path, const h5ck_opts *o, ck_err *e)
{
	wr w = {.src = src, .e = e};
	json_t *ts = NULL, *star = NULL, *doc = NULL, *tsdoc = NULL;
	char *tstext = NULL, *spec = NULL;
	ck_tsink *k = NULL;
	h5ck_opts opts = o ? *o : (h5ck_opts){0};
	int rc = 0;
	strmap_init(&w.srcidx);
	strmap_init(&w.written);
	for (size_t i = 0; i < src->n && !rc; i++)
		if (strmap_put(&w.srcidx, src->t[i].name, i))
			rc = ck_errf(e, CK_ENOMEM, "out of memory");
	if (rc || (rc = write_node(&w, root, 0, 0, &ts, &star)))
		goto done;
	if (!(tsdoc = json_pack("[i, O]", 1, ts)) || !(tstext = valio_json_text(tsdoc, -1, 0)) ||
		!(doc = json_pack("[O, s]", star, tstext)) || !(spec = valio_json_text(doc, 4, 0))) {
		rc = ck_errf(e, CK_ENOMEM, "out of memory");
		goto done;
	}
	opts.spec = spec;
	opts.n_leaf = w.nl;
	opts.leaf_key = (const char *const *)w.lk;
	opts.leaf_meta = (const char *const *)w.lm;
	if ((rc = h5ck_sink_open(path, NULL, w.t, w.nt, &opts, &k, e)))
		goto done;
	if ((rc = copy_tensors(&w, k)))
		ck_tsink_abort(k);
	else
		rc = ck_tsink_commit(k, e);
done:
	strmap_dispose(&w.srcidx);
	strmap_dispose(&w.written);
	for (size_t i = 0; i < w.nt; i++)
		free(w.t[i].name);
	free(w.t);
	free(w.from);
	for (size_t i = 0; i < w.nl; i++) {
		free(w.lk[i]);
		free(w.lm[i]);
	}
	free(w.lk);
	free(w.lm);
	free(w.path.p);
	json_decref(ts);
	json_decref(star);
	json_decref(doc);
	json_decref(tsdoc);
	free(tstext);
	free(spec);
	return rc;
}
