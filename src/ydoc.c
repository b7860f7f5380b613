/* ydoc.c - libyaml event stream -> ydoc_node tree with positions, aliases shared by refcount. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>
#include "io.h"
#include "strmap.h"
#include "ydoc.h"

#define YD_MAX_FILE CK_MAX_META_FILE
#define TAG_MERGE "tag:yaml.org,2002:merge"

/* Private node: the public part first, so a ydoc_node * from here can be cast back. */
typedef struct ynode {
	ydoc_node n;
	size_t refs;   /* owners: parent slots, the anchor table, the document */
	size_t size;   /* nodes in the expanded subtree */
	size_t bytes;  /* scalar and tag bytes in the expanded subtree */
	int height;    /* nested collections in the subtree (0 for a scalar) */
} ynode;

typedef struct loader {
	yaml_parser_t p;
	const char *path;
	const unsigned char *text;
	size_t len;
	ck_err *e;
	size_t total; /* expanded node count so far */
	size_t bytes; /* expanded scalar and tag bytes so far */
	strmap anchor_at; /* anchor name -> index in anchor[] */
	ynode **anchor;   /* each holds a ref */
	size_t n_anchor, cap_anchor;
} loader;

static void node_unref(ynode *y)
{
	if (!y || --y->refs > 0)
		return;
	size_t m = y->n.kind == YDOC_MAP ? 2 * y->n.n : y->n.n;
	for (size_t i = 0; i < m; i++)
		node_unref((ynode *)y->n.items[i]);
	free(y->n.items);
	free(y->n.tag);
	free(y->n.value);
	free(y);
}

static int lerr(loader *L, int code, yaml_mark_t m, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int lerr(loader *L, int code, yaml_mark_t m, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	return ck_errf(L->e, code, "%s:%zu:%zu: %s", L->path, m.line + 1, m.column + 1, msg);
}

/* Reader errors carry only a byte offset: turn it into a line and column. */
static yaml_mark_t mark_at(const loader *L, size_t off)
{
	yaml_mark_t m = {off, 0, 0};
	for (size_t i = 0; i < off && i < L->len; i++) {
		if (L->text[i] == '\n') {
			m.line++;
			m.column = 0;
		} else if ((L->text[i] & 0xC0) != 0x80) {
			m.column++;
		}
	}
	return m;
}

static int next(loader *L, yaml_event_t *ev)
{
	if (yaml_parser_parse(&L->p, ev))
		return 0;
	memset(ev, 0, sizeof *ev); /* so the caller's yaml_event_delete is harmless */
	const yaml_parser_t *p = &L->p;
	const char *prob = p->problem ? p->problem : "unknown error";
	switch (p->error) {
	case YAML_MEMORY_ERROR:
		return ck_errf(L->e, CK_ENOMEM, "%s: out of memory while parsing YAML", L->path);
	case YAML_READER_ERROR:
		if (p->problem_value != -1)
			return lerr(L, CK_EINVALID, mark_at(L, p->problem_offset), "%s (byte 0x%02X)", prob,
				(unsigned)p->problem_value & 0xFFu);
		return lerr(L, CK_EINVALID, mark_at(L, p->problem_offset), "%s", prob);
	default:
		if (p->context)
			return lerr(L, CK_EINVALID, p->problem_mark, "%s (%s at line %zu)", prob, p->context,
				p->context_mark.line + 1);
		return lerr(L, CK_EINVALID, p->problem_mark, "%s", prob);
	}
}

/* Counts n more expanded bytes: what the document costs once every alias is copied out. */
static int add_bytes(loader *L, yaml_mark_t m, size_t n)
{
	if (n > YDOC_MAX_BYTES - L->bytes)
		return lerr(L, CK_ELIMIT, m, "more than %zu MiB of text (aliases expanded)", YDOC_MAX_BYTES >> 20);
	L->bytes += n;
	return 0;
}

static int new_node(loader *L, const yaml_event_t *ev, ydoc_kind k, const yaml_char_t *tag, ynode **out)
{
	ynode *y;
	int rc;
	if (++L->total > YDOC_MAX_NODES)
		return lerr(L, CK_ELIMIT, ev->start_mark, "more than %d nodes (aliases expanded)", YDOC_MAX_NODES);
	if (!(y = ck_calloc(L->e, 1, sizeof *y)))
		return CK_ENOMEM;
	y->n.kind = k;
	y->n.line = (int)(ev->start_mark.line + 1 > 0x7fffffff ? 0x7fffffff : ev->start_mark.line + 1);
	y->n.col = (int)(ev->start_mark.column + 1 > 0x7fffffff ? 0x7fffffff : ev->start_mark.column + 1);
	y->refs = 1;
	y->size = 1;
	if (tag && !(y->n.tag = ck_strdup(L->e, (const char *)tag))) {
		free(y);
		return CK_ENOMEM;
	}
	if ((rc = add_bytes(L, ev->start_mark, tag ? strlen((const char *)tag) : 0))) {
		node_unref(y);
		return rc;
	}
	y->bytes = tag ? strlen((const char *)tag) : 0;
	*out = y;
	return 0;
}

static int parse_node(loader *L, const yaml_event_t *ev, int depth, ynode **out);

static int parse_scalar(loader *L, const yaml_event_t *ev, ynode **out)
{
	ynode *y;
	int rc;
	if (strlen((const char *)ev->data.scalar.value) != ev->data.scalar.length)
		return lerr(L, CK_EINVALID, ev->start_mark, "scalar contains a NUL character");
	if ((rc = new_node(L, ev, YDOC_SCALAR, ev->data.scalar.tag, &y)))
		return rc;
	y->n.quoted = ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE;
	if ((rc = add_bytes(L, ev->start_mark, ev->data.scalar.length))) {
		node_unref(y);
		return rc;
	}
	y->bytes += ev->data.scalar.length;
	if (!(y->n.value = ck_strdup(L->e, (const char *)ev->data.scalar.value))) {
		node_unref(y);
		return CK_ENOMEM;
	}
	*out = y;
	return 0;
}

static int parse_alias(loader *L, const yaml_event_t *ev, int depth, ynode **out)
{
	const char *name = (const char *)ev->data.alias.anchor;
	size_t at;
	ynode *t = strmap_get(&L->anchor_at, name, &at) ? L->anchor[at] : NULL;
	int rc;
	if (!t)
		return lerr(L, CK_EINVALID, ev->start_mark, "undefined alias '*%.200s'", name);
	if (t->size > YDOC_MAX_NODES - L->total)
		return lerr(L, CK_ELIMIT, ev->start_mark, "more than %d nodes (aliases expanded)", YDOC_MAX_NODES);
	if (depth + t->height > YDOC_MAX_DEPTH)
		return lerr(L, CK_ELIMIT, ev->start_mark, "alias '*%.200s' nests collections deeper than %d",
			name, YDOC_MAX_DEPTH);
	if ((rc = add_bytes(L, ev->start_mark, t->bytes)))
		return rc;
	L->total += t->size;
	t->refs++;
	*out = t;
	return 0;
}

/* Append child to collection c's items (slot index i). */
static int put_item(loader *L, ynode *c, size_t i, size_t *cap, ynode *child)
{
	if (i >= *cap) {
		size_t nc = *cap ? *cap * 2 : 8;
		ydoc_node **it = realloc(c->n.items, nc * sizeof *it);
		if (!it)
			return ck_errf(L->e, CK_ENOMEM, "%s: out of memory", L->path);
		c->n.items = it;
		*cap = nc;
	}
	c->n.items[i] = &child->n;
	c->size += child->size;
	c->bytes += child->bytes;
	if (child->height + 1 > c->height)
		c->height = child->height + 1;
	return 0;
}

/* Checks the key just put in slot `slot` of mapping c: scalar, not a merge key, not a
 * duplicate (seen: key text -> its slot). */
static int check_key(loader *L, const yaml_event_t *kev, const ynode *c, size_t slot, strmap *seen)
{
	const ynode *k = (const ynode *)c->n.items[slot];
	size_t first;
	if (k->n.kind != YDOC_SCALAR)
		return lerr(L, CK_EINVALID, kev->start_mark, "mapping keys must be scalars, found a %s",
			ydoc_kind_name(k->n.kind));
	if ((!k->n.quoted && !k->n.tag && !strcmp(k->n.value, "<<")) || (k->n.tag && !strcmp(k->n.tag, TAG_MERGE)))
		return lerr(L, CK_EINVALID, kev->start_mark, "merge keys are not supported");
	if (strmap_get(seen, k->n.value, &first)) {
		const ydoc_node *o = c->n.items[first];
		return lerr(L, CK_EINVALID, kev->start_mark, "duplicate key '%.200s' (first defined at %d:%d)",
			k->n.value, o->line, o->col);
	}
	if (strmap_put(seen, k->n.value, slot))
		return ck_errf(L->e, CK_ENOMEM, "%s: out of memory", L->path);
	return 0;
}

static int parse_coll(loader *L, const yaml_event_t *ev, int depth, ynode **out)
{
	int is_map = ev->type == YAML_MAPPING_START_EVENT;
	const yaml_char_t *tag = is_map ? ev->data.mapping_start.tag : ev->data.sequence_start.tag;
	strmap seen;
	size_t cap = 0, i = 0;
	ynode *c = NULL;
	int rc;
	if (depth + 1 > YDOC_MAX_DEPTH)
		return lerr(L, CK_ELIMIT, ev->start_mark, "collections nested deeper than %d", YDOC_MAX_DEPTH);
	if ((rc = new_node(L, ev, is_map ? YDOC_MAP : YDOC_SEQ, tag, &c)))
		return rc;
	strmap_init(&seen);
	c->height = 1;
	for (;;) {
		yaml_event_t cev;
		ynode *child = NULL;
		if ((rc = next(L, &cev)))
			goto done;
		if (cev.type == YAML_SEQUENCE_END_EVENT || cev.type == YAML_MAPPING_END_EVENT) {
			yaml_event_delete(&cev);
			break;
		}
		rc = parse_node(L, &cev, depth + 1, &child);
		if (!rc && (rc = put_item(L, c, i, &cap, child)))
			node_unref(child);
		if (!rc && ++i % 2 == 1 && is_map)
			rc = check_key(L, &cev, c, i - 1, &seen);
		yaml_event_delete(&cev);
		if (rc)
			goto done;
		c->n.n = is_map ? i / 2 : i;
	}
	*out = c;
	c = NULL;
done:
	if (c) { /* slots filled beyond the counted pairs (a key without its value) */
		for (size_t j = is_map ? 2 * c->n.n : c->n.n; j < i; j++)
			node_unref((ynode *)c->n.items[j]);
		node_unref(c);
	}
	strmap_dispose(&seen);
	return rc;
}

static int add_anchor(loader *L, const yaml_char_t *anchor, ynode *y)
{
	const char *name = (const char *)anchor;
	size_t at;
	if (strmap_get(&L->anchor_at, name, &at)) { /* a redefined anchor: later aliases see the new node */
		node_unref(L->anchor[at]);
	} else {
		if (L->n_anchor == L->cap_anchor) {
			size_t cap = L->cap_anchor ? 2 * L->cap_anchor : 16;
			ynode **a = realloc(L->anchor, cap * sizeof *a);
			if (!a)
				return ck_errf(L->e, CK_ENOMEM, "%s: out of memory", L->path);
			L->anchor = a;
			L->cap_anchor = cap;
		}
		if (strmap_put(&L->anchor_at, name, at = L->n_anchor))
			return ck_errf(L->e, CK_ENOMEM, "%s: out of memory", L->path);
		L->n_anchor++;
	}
	y->refs++;
	L->anchor[at] = y;
	return 0;
}

static int parse_node(loader *L, const yaml_event_t *ev, int depth, ynode **out)
{
	const yaml_char_t *anchor = NULL;
	ynode *y = NULL;
	int rc;
	switch (ev->type) {
	case YAML_ALIAS_EVENT:
		return parse_alias(L, ev, depth, out);
	case YAML_SCALAR_EVENT:
		anchor = ev->data.scalar.anchor;
		rc = parse_scalar(L, ev, &y);
		break;
	case YAML_SEQUENCE_START_EVENT:
		anchor = ev->data.sequence_start.anchor;
		rc = parse_coll(L, ev, depth, &y);
		break;
	case YAML_MAPPING_START_EVENT:
		anchor = ev->data.mapping_start.anchor;
		rc = parse_coll(L, ev, depth, &y);
		break;
	default:
		return lerr(L, CK_EINVALID, ev->start_mark, "expected a node (libyaml event %d)", (int)ev->type);
	}
	/* Registered only once complete, so an alias inside its own anchor is "undefined". */
	if (!rc && anchor && (rc = add_anchor(L, anchor, y))) {
		node_unref(y);
		return rc;
	}
	if (!rc)
		*out = y;
	return rc;
}

/* Expects one event of type t; anything else is reported as what it is. */
static int expect(loader *L, yaml_event_type_t t, const char *what)
{
	yaml_event_t ev;
	int rc = next(L, &ev);
	if (!rc && ev.type != t)
		rc = lerr(L, CK_EINVALID, ev.start_mark, "%s", what);
	yaml_event_delete(&ev);
	return rc;
}

static int load(loader *L, ydoc_node **root)
{
	yaml_event_t ev;
	ynode *y = NULL;
	int rc;
	*root = NULL;
	if ((rc = expect(L, YAML_STREAM_START_EVENT, "expected the start of a YAML stream")) || (rc = next(L, &ev)))
		return rc;
	if (ev.type == YAML_STREAM_END_EVENT) {
		yaml_event_delete(&ev);
		return 0;
	}
	yaml_event_delete(&ev);
	if ((rc = next(L, &ev)))
		return rc;
	rc = parse_node(L, &ev, 0, &y);
	yaml_event_delete(&ev);
	if (rc)
		return rc;
	if ((rc = expect(L, YAML_DOCUMENT_END_EVENT, "expected the end of the document")) ||
		(rc = expect(L, YAML_STREAM_END_EVENT, "only one YAML document is allowed per file"))) {
		node_unref(y);
		return rc;
	}
	/* "---" alone or an empty plain scalar is an empty document, as PyYAML reads it (None). */
	if (y->n.kind == YDOC_SCALAR && !y->n.quoted && !y->n.tag && !y->n.value[0] && y->refs == 1) {
		node_unref(y);
		return 0;
	}
	*root = &y->n;
	return 0;
}

int ydoc_load_string(const char *name, const char *text, size_t len, ydoc_doc **out, ck_err *e)
{
	loader L;
	ydoc_doc *d = NULL;
	int rc;
	*out = NULL;
	memset(&L, 0, sizeof L);
	L.path = name;
	L.text = (const unsigned char *)text;
	L.len = len;
	L.e = e;
	if (!(d = ck_calloc(e, 1, sizeof *d)) || !(d->path = ck_strdup(e, name))) {
		free(d);
		return CK_ENOMEM;
	}
	if (!yaml_parser_initialize(&L.p)) {
		ydoc_doc_free(d);
		return ck_errf(e, CK_ENOMEM, "%s: out of memory", name);
	}
	yaml_parser_set_input_string(&L.p, L.text, len);
	rc = load(&L, &d->root);
	yaml_parser_delete(&L.p);
	for (size_t i = 0; i < L.n_anchor; i++)
		node_unref(L.anchor[i]);
	free(L.anchor);
	strmap_dispose(&L.anchor_at);
	if (rc) {
		ydoc_doc_free(d);
		return rc;
	}
	*out = d;
	return 0;
}

int ydoc_load_file(const char *path, ydoc_doc **out, ck_err *e)
{
	char *buf;
	size_t len;
	int rc;
	*out = NULL;
	if ((rc = io_slurp(path, YD_MAX_FILE, &buf, &len, e)))
		return rc;
	rc = ydoc_load_string(path, buf, len, out, e);
	free(buf);
	return rc;
}

void ydoc_doc_free(ydoc_doc *d)
{
	if (!d)
		return;
	node_unref((ynode *)d->root);
	free(d->path);
	free(d);
}

const ydoc_node *ydoc_map_get(const ydoc_node *map, const char *key)
{
	if (!map || map->kind != YDOC_MAP || !key)
		return NULL;
	for (size_t i = 0; i < map->n; i++) {
		const ydoc_node *k = map->items[2 * i];
		if (k->kind == YDOC_SCALAR && !strcmp(k->value, key))
			return map->items[2 * i + 1];
	}
	return NULL;
}

const char *ydoc_kind_name(ydoc_kind k)
{
	switch (k) {
	case YDOC_SCALAR: return "scalar";
	case YDOC_SEQ: return "sequence";
	case YDOC_MAP: return "mapping";
	}
	return "node";
}
