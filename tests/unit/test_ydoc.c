/* Unit tests for ydoc.c: node positions, kinds and flags, aliases, the errors a rule author
 * sees (file:line:col), and the depth / node-count limits (billion laughs). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "ydoc.h"
#include "t.h"

static ydoc_doc *load(const char *text, ck_err *e, int *rc)
{
	ydoc_doc *d = NULL;
	ck_err_clear(e);
	*rc = ydoc_load_string("t.yaml", text, strlen(text), &d, e);
	return d;
}

/* Loads text expecting failure with code; returns the message for T_HAS. */
static const char *fails(const char *text, int code, ck_err *e)
{
	int rc;
	ydoc_doc *d = load(text, e, &rc);
	T_EQ_INT(rc, code, "error code");
	T_OK(d == NULL, "no document on error");
	ydoc_doc_free(d);
	return e->msg;
}

static void test_positions(void)
{
	ck_err e;
	int rc;
	const char *text =
		"# comment\n"
		"model: llama\n"
		"list:\n"
		"  - a\n"
		"  - 'b'\n"
		"nested:\n"
		"    k: !!str 12\n"
		"    flow: {x: [1, 2], \"y\": z}\n"
		"    lit: |\n"
		"      text\n";
	ydoc_doc *d = load(text, &e, &rc);
	T_EQ_INT(rc, 0, "load ok");
	if (!d)
		return;
	const ydoc_node *r = d->root, *v;
	T_EQ_STR(d->path, "t.yaml", "doc path");
	T_EQ_INT(r->kind, YDOC_MAP, "root is a mapping");
	T_EQ_INT(r->n, 3, "3 pairs");
	T_EQ_INT(r->line, 2, "root line");
	T_EQ_INT(r->col, 1, "root col");
	T_EQ_STR(r->items[0]->value, "model", "first key");
	T_EQ_INT(r->items[0]->line, 2, "key line");
	T_EQ_INT(r->items[0]->col, 1, "key col");
	v = ydoc_map_get(r, "model");
	T_EQ_STR(v ? v->value : NULL, "llama", "map_get model");
	T_EQ_INT(v->line, 2, "value line");
	T_EQ_INT(v->col, 8, "value col");
	T_EQ_INT(v->quoted, 0, "plain is not quoted");
	T_OK(v->tag == NULL, "no tag");
	v = ydoc_map_get(r, "list");
	T_EQ_INT(v->kind, YDOC_SEQ, "list is a sequence");
	T_EQ_INT(v->n, 2, "2 items");
	T_EQ_INT(v->line, 4, "seq line");
	T_EQ_INT(v->col, 3, "seq col");
	T_EQ_INT(v->items[1]->line, 5, "item line");
	T_EQ_INT(v->items[1]->col, 5, "item col");
	T_EQ_INT(v->items[1]->quoted, 1, "single-quoted");
	T_EQ_STR(v->items[1]->value, "b", "quoted value");
	v = ydoc_map_get(ydoc_map_get(r, "nested"), "k");
	T_EQ_STR(v->tag, "tag:yaml.org,2002:str", "explicit tag resolved");
	T_EQ_STR(v->value, "12", "tagged value");
	T_EQ_INT(v->col, 8, "tagged node starts at the tag");
	v = ydoc_map_get(ydoc_map_get(r, "nested"), "flow");
	T_EQ_INT(v->kind, YDOC_MAP, "flow mapping");
	T_EQ_INT(v->line, 8, "flow line");
	T_EQ_INT(v->col, 11, "flow col");
	T_EQ_INT(ydoc_map_get(v, "x")->items[1]->col, 19, "flow item col");
	T_EQ_INT(ydoc_map_get(v, "y")->quoted, 0, "flow plain scalar");
	v = ydoc_map_get(ydoc_map_get(r, "nested"), "lit");
	T_EQ_STR(v->value, "text\n", "literal block");
	T_EQ_INT(v->quoted, 1, "literal counts as quoted");
	T_EQ_INT(v->line, 9, "literal line");
	T_OK(ydoc_map_get(r, "missing") == NULL, "map_get missing");
	T_OK(ydoc_map_get(NULL, "x") == NULL, "map_get NULL map");
	T_OK(ydoc_map_get(ydoc_map_get(r, "list"), "a") == NULL, "map_get on a sequence");
	T_EQ_STR(ydoc_kind_name(YDOC_SCALAR), "scalar", "kind name scalar");
	T_EQ_STR(ydoc_kind_name(YDOC_SEQ), "sequence", "kind name seq");
	T_EQ_STR(ydoc_kind_name(YDOC_MAP), "mapping", "kind name map");
	ydoc_doc_free(d);
	ydoc_doc_free(NULL);
}

static void test_empty(void)
{
	ck_err e;
	int rc;
	const char *empties[] = {"", "# only a comment\n", "---\n", "--- \n...\n"};
	for (size_t i = 0; i < sizeof empties / sizeof *empties; i++) {
		ydoc_doc *d = load(empties[i], &e, &rc);
		T_OK(rc == 0 && d && d->root == NULL, "empty document %zu has no root", i);
		ydoc_doc_free(d);
	}
	ydoc_doc *d = load("''", &e, &rc);
	T_OK(rc == 0 && d->root && d->root->kind == YDOC_SCALAR && d->root->quoted, "'' is a quoted empty scalar");
	ydoc_doc_free(d);
	d = load("--- 5\n...\n", &e, &rc);
	T_OK(rc == 0 && d->root && !strcmp(d->root->value, "5"), "explicit document markers");
	ydoc_doc_free(d);
}

static void test_errors(void)
{
	ck_err e;
	T_HAS(fails("a: 1\nb: 2\na: 3\n", CK_EINVALID, &e), "t.yaml:3:1: duplicate key 'a' (first defined at 1:1)",
		"duplicate key names both positions");
	T_HAS(fails("m:\n  \"k\": 1\n  k: 2\n", CK_EINVALID, &e), "t.yaml:3:3: duplicate key 'k' (first defined at 2:3)",
		"quoted and plain keys with the same text are duplicates");
	T_HAS(fails("{a: 1, a: 2}", CK_EINVALID, &e), "t.yaml:1:8: duplicate key 'a'", "duplicate in a flow mapping");
	T_HAS(fails("a: 1\n---\nb: 2\n", CK_EINVALID, &e), "t.yaml:2:1: only one YAML document", "second document");
	T_HAS(fails("a: [1, 2\nb: 3\n", CK_EINVALID, &e), "t.yaml:", "syntax error has a location");
	T_HAS(e.msg, "did not find expected ',' or ']'", "libyaml problem text");
	T_HAS(fails("a: b\n c: d\n", CK_EINVALID, &e), "t.yaml:2:3: mapping values are not allowed", "bad indentation");
	T_HAS(fails("a: b\nc: \xff\n", CK_EINVALID, &e), "t.yaml:2:4: invalid leading UTF-8 octet", "bad UTF-8 position");
	T_HAS(fails("a: \"x\\0y\"\n", CK_EINVALID, &e), "t.yaml:1:4: scalar contains a NUL", "NUL refused");
	T_HAS(fails("a: &x {b: 1}\nc:\n  <<: *x\n", CK_EINVALID, &e), "t.yaml:3:3: merge keys are not supported",
		"merge key refused");
	T_HAS(fails("a: *nope\n", CK_EINVALID, &e), "t.yaml:1:4: undefined alias '*nope'", "undefined alias");
	T_HAS(fails("a: &x [1, *x]\n", CK_EINVALID, &e), "undefined alias '*x'", "recursive alias refused");
	T_HAS(fails("? [1]\n: 2\n", CK_EINVALID, &e), "t.yaml:1:3: mapping keys must be scalars, found a sequence",
		"complex key refused");

	int rc;
	ydoc_doc *d = load("\"<<\": 1\n", &e, &rc);
	T_OK(rc == 0 && d && d->root->items[0]->quoted, "quoted << is an ordinary key");
	ydoc_doc_free(d);
}

static void test_aliases(void)
{
	ck_err e;
	int rc;
	ydoc_doc *d = load("a: &x [1, {k: v}]\nb: *x\nc: &s one\nd: &s two\ne: *s\nf: *x\n", &e, &rc);
	T_EQ_INT(rc, 0, "aliases load");
	if (!d)
		return;
	const ydoc_node *a = ydoc_map_get(d->root, "a"), *b = ydoc_map_get(d->root, "b");
	T_OK(a == b && a == ydoc_map_get(d->root, "f"), "alias shares the anchored node");
	T_EQ_INT(b->line, 1, "shared node keeps the anchor's position");
	T_EQ_STR(ydoc_map_get(b->items[1], "k")->value, "v", "alias content");
	T_EQ_STR(ydoc_map_get(d->root, "e")->value, "two", "a redefined anchor wins for later aliases");
	ydoc_doc_free(d);
	/* an anchored key used again as a key elsewhere */
	d = load("- &k key: 1\n- *k : 2\n", &e, &rc);
	T_OK(rc == 0 && d && d->root->items[1]->items[0] == d->root->items[0]->items[0], "alias as a key");
	ydoc_doc_free(d);
}

/* depth nested flow sequences around a scalar */
static char *nest(int depth)
{
	char *s = malloc((size_t)depth * 2 + 2), *p = s;
	for (int i = 0; i < depth; i++)
		*p++ = '[';
	*p++ = '1';
	for (int i = 0; i < depth; i++)
		*p++ = ']';
	*p = '\0';
	return s;
}

/* A long string aliased many times: few nodes, but gigabytes once copied out. */
static char *aliased(size_t len, size_t times)
{
	char *s = malloc(len + times * 6 + 64), *p = s;
	p += sprintf(p, "a: &a ");
	memset(p, 'x', len);
	p += len;
	p += sprintf(p, "\nb:\n");
	for (size_t i = 0; i < times; i++)
		p += sprintf(p, "- *a\n");
	*p = '\0';
	return s;
}

static void test_text_bound(void)
{
	ck_err e;
	int rc;
	/* the anchor and 14 aliases of 1 MiB, and two keys: just under 16 MiB */
	char *s = aliased((size_t)1 << 20, YDOC_MAX_BYTES / ((size_t)1 << 20) - 2);
	ydoc_doc *d = load(s, &e, &rc);
	T_EQ_INT(rc, 0, "aliased text up to YDOC_MAX_BYTES loads");
	ydoc_doc_free(d);
	free(s);
	s = aliased((size_t)1 << 20, 1000);
	T_HAS(fails(s, CK_ELIMIT, &e), "t.yaml:17:3: more than 16 MiB of text (aliases expanded)",
		"the alias that passes 16 MiB of text is named");
	free(s);
	/* keys and tags count too */
	s = malloc(YDOC_MAX_BYTES + 64);
	memset(s, 'k', YDOC_MAX_BYTES + 1);
	strcpy(s + YDOC_MAX_BYTES + 1, ": v\n");
	T_HAS(fails(s, CK_ELIMIT, &e), "more than 16 MiB of text", "a key longer than the bound");
	free(s);
}

static void test_limits(void)
{
	ck_err e;
	int rc;
	char *s = nest(YDOC_MAX_DEPTH);
	ydoc_doc *d = load(s, &e, &rc);
	T_EQ_INT(rc, 0, "64 nested collections are fine");
	ydoc_doc_free(d);
	free(s);
	s = nest(YDOC_MAX_DEPTH + 1);
	T_HAS(fails(s, CK_ELIMIT, &e), "t.yaml:1:65: collections nested deeper than 64", "65 levels refused");
	free(s);
	s = nest(100000);
	T_HAS(fails(s, CK_ELIMIT, &e), "nested deeper", "100000 levels refused");
	free(s);

	/* an alias that is itself 40 deep, used 30 levels down */
	char buf[4096], *a = nest(40), *p = buf;
	p += sprintf(p, "a: &deep %s\nb: ", a);
	for (int i = 0; i < 30; i++)
		*p++ = '[';
	p += sprintf(p, "*deep");
	for (int i = 0; i < 30; i++)
		*p++ = ']';
	strcpy(p, "\n");
	T_HAS(fails(buf, CK_ELIMIT, &e), "t.yaml:2:34: alias '*deep' nests collections deeper than 64", "deep alias");
	free(a);

	/* billion laughs: 10^9 nodes once expanded */
	const char *lol =
		"a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
		"b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
		"c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
		"d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
		"e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n"
		"f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n"
		"g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f, *f]\n"
		"h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g, *g]\n"
		"i: &i [*h, *h, *h, *h, *h, *h, *h, *h, *h, *h]\n";
	clock_t t0 = clock();
	T_HAS(fails(lol, CK_ELIMIT, &e), "more than 1000000 nodes", "billion laughs refused");
	T_HAS(e.msg, "t.yaml:6:", "at the alias that crosses the limit");
	T_OK((double)(clock() - t0) / CLOCKS_PER_SEC < 1.0, "and quickly");

	/* 100000 expanded nodes are fine */
	d = load("a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
		"c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
		"e: [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n", &e, &rc);
	T_EQ_INT(rc, 0, "100k expanded nodes load");
	ydoc_doc_free(d);
	test_text_bound();
}

static void test_file(void)
{
	char dir[] = "/tmp/test_ydoc.XXXXXX", path[256];
	ck_err e;
	ydoc_doc *d = NULL;
	int rc;
	if (!mkdtemp(dir)) {
		T_OK(0, "mkdtemp");
		return;
	}
	snprintf(path, sizeof path, "%s/r.yaml", dir);
	FILE *f = fopen(path, "w");
	fputs("x:\n  - 1\n  - oops: [\n", f);
	fclose(f);
	ck_err_clear(&e);
	rc = ydoc_load_file(path, &d, &e);
	T_EQ_INT(rc, CK_EINVALID, "file with a syntax error");
	T_HAS(e.msg, path, "message names the file");
	f = fopen(path, "w");
	fputs("x:\n  - 1\n", f);
	fclose(f);
	ck_err_clear(&e);
	rc = ydoc_load_file(path, &d, &e);
	T_OK(rc == 0 && d && ydoc_map_get(d->root, "x")->n == 1, "file loads");
	T_EQ_STR(d ? d->path : NULL, path, "doc path is the file path");
	ydoc_doc_free(d);
	unlink(path);
	ck_err_clear(&e);
	rc = ydoc_load_file(path, &d, &e);
	T_EQ_INT(rc, CK_ENOTFOUND, "missing file");
	T_HAS(e.msg, "r.yaml: cannot open", "missing file message");
	rmdir(dir);
}

int main(void)
{
	test_positions();
	test_empty();
	test_errors();
	test_aliases();
	test_limits();
	test_file();
	return t_done();
}
