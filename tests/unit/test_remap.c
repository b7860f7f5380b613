/* test_remap.c - a params document rebuilt in a new layout from a table (remap.c), as ModelZoo's
 * convert_legacy_params_to_trainer_params does (trainer/utils.py): leaves, globs, "*" merges, what
 * is left out, the extra keys listed, and the limits. */
#include <stdlib.h>
#include <string.h>
#include "remap.h"
#include "t.h"

static json_t *j(const char *text)
{
	json_error_t je;
	json_t *v = json_loads(text, JSON_DECODE_ANY, &je);
	if (!v)
		printf("# bad test JSON: %s: %s\n", text, je.text);
	return v;
}

/* Compact JSON in document order (order is part of the result: YAML is written from it). */
static char *dump(const json_t *v)
{
	return v ? json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY) : strdup("(null)");
}

/* remap_run(old, table, ignore) gives want (its extra keys: want_extra). */
static void remapped(const char *old, const char *table, const char *ignore, const char *want, const char *want_extra,
	const char *what)
{
	json_t *o = j(old), *t = j(table), *ig = ignore ? j(ignore) : NULL, *out = NULL, *extra = NULL;
	ck_err e = {0};
	int rc = remap_run(o, t, ig, &out, &extra, &e);
	T_OK(rc == 0, "%s%s%s", what, rc ? ": " : "", rc ? e.msg : "");
	char *a = dump(out), *b = dump(extra);
	T_EQ_STR(a, want, "... the new layout");
	T_EQ_STR(b, want_extra, "... the keys nothing took");
	free(a);
	free(b);
	char *before = dump(o), *again = (json_decref(o), o = j(old), dump(o));
	T_EQ_STR(before, again, "... the old document is left as it was");
	free(before);
	free(again);
	json_decref(o);
	json_decref(t);
	json_decref(ig);
	json_decref(out);
	json_decref(extra);
}

static void test_leaves(void)
{
	remapped("{\"runconfig\": {\"seed\": 1, \"model_dir\": \"d\", \"mode\": \"train\", \"stray\": true}}",
		"{\"init\": {\"model_dir\": \"runconfig.model_dir\", \"seed\": \"runconfig.seed\", "
		"\"loop\": {\"num_steps\": \"runconfig.num_steps\"}}}",
		"[\"runconfig.mode\"]",
		"{\"init\":{\"model_dir\":\"d\",\"seed\":1}}", "[\"runconfig.stray\"]",
		"leaves: taken in the table's order; an absent one (and its emptied section) left out; ignored keys silent");
	remapped("{\"runconfig\": {\"seed\": null, \"flag\": false, \"n\": 0, \"s\": \"\", \"l\": [], \"m\": {}}}",
		"{\"a\": \"runconfig.seed\", \"b\": \"runconfig.flag\", \"c\": \"runconfig.n\", \"d\": \"runconfig.s\", "
		"\"e\": \"runconfig.l\", \"f\": \"runconfig.m\"}",
		NULL, "{\"b\":false,\"c\":0,\"d\":\"\"}", "[]",
		"null left out, false / 0 / \"\" kept (Python's is_not_empty); an empty list or mapping has no leaf: "
		"nothing to take, nothing extra");
	remapped("{\"runconfig\": {\"seed\": 1}}", "{\"a\": \"runconfig.seed\", \"b\": \"runconfig.seed\"}", NULL,
		"{\"a\":1,\"b\":1}", "[]", "one old leaf may fill two places");
	remapped("{\"x\": [10, {\"y\": 2}]}", "{\"first\": \"x.0\", \"deep\": \"x.1.y\"}", NULL,
		"{\"first\":10,\"deep\":2}", "[]", "list items are path components (pytree order)");
	remapped("{}", "{\"a\": {\"b\": \"p.q\"}}", NULL, "{}", "[]", "an empty document: an empty layout");
}

static void test_globs(void)
{
	remapped("{\"optimizer\": {\"name\": \"adamw\", \"betas\": [0.5, 0.25], \"learning_rate\": "
		"[{\"scheduler\": \"Linear\", \"total_iters\": 10}, {\"scheduler\": \"Cosine\"}], \"loss_scaling_factor\": \"dynamic\"}}",
		"{\"optimizer\": \"optimizer.*\", \"schedulers\": \"optimizer.learning_rate.*\", "
		"\"precision\": {\"loss_scaling_factor\": \"optimizer.loss_scaling_factor\"}}",
		NULL,
		"{\"optimizer\":{\"name\":\"adamw\",\"betas\":[0.5,0.25],\"loss_scaling_factor\":\"dynamic\"},"
		"\"schedulers\":[{\"scheduler\":\"Linear\",\"total_iters\":10},{\"scheduler\":\"Cosine\"}],"
		"\"precision\":{\"loss_scaling_factor\":\"dynamic\"}}",
		"[]",
		"globs take whole subtrees, the deeper scope first; a leaf a path took is also in the glob's copy");
	remapped("{\"model\": {\"name\": \"gpt2\", \"dropout\": null, \"layers\": [], \"extra\": {}}, \"runconfig\": {\"seed\": 3}}",
		"{\"init\": {\"seed\": \"runconfig.seed\", \"model\": {\"*\": \"model.*\"}}}", NULL,
		"{\"init\":{\"seed\":3,\"model\":{\"name\":\"gpt2\",\"dropout\":null,\"layers\":[],\"extra\":{}}}}", "[]",
		"a \"*\" entry merges its subtree into the mapping as it is (null, empty list and mapping kept)");
	remapped("{\"sparsity\": {\"type\": \"topk\", \"init\": {\"x\": null}}}", "{\"s\": \"sparsity.*\"}", NULL,
		"{\"s\":{\"type\":\"topk\"}}", "[]", "a glob not under \"*\" is cleaned like the rest");
	remapped("{\"runconfig\": {\"mode\": \"train\", \"seed\": 5}}", "{\"r\": {\"*\": \"runconfig.*\"}}",
		"[\"runconfig.mode\"]", "{\"r\":{\"seed\":5}}", "[]", "an ignored key is not in a glob's copy");
	remapped("{\"runconfig\": {\"seed\": 1}}", "{\"m\": \"model.*\", \"s\": \"runconfig.seed.*\"}", NULL, "{}",
		"[\"runconfig.seed\"]", "a glob whose scope is absent or a leaf takes nothing");
	remapped("{\"sparsity\": \"none\"}", "{\"sp\": {\"*\": \"sparsity.*\", \"sparsity\": \"sparsity\"}}", NULL,
		"{\"sp\":{\"sparsity\":\"none\"}}", "[]", "the release table's sparsity entry: a scalar is taken by its path");
}

static void refused(const char *old, const char *table, int code, const char *want, const char *what)
{
	json_t *o = j(old), *t = j(table), *out = (json_t *)1, *extra = (json_t *)1;
	ck_err e = {0};
	T_EQ_INT(remap_run(o, t, NULL, &out, &extra, &e), code, what);
	T_HAS(e.msg, want, "... saying so");
	T_OK(!out && !extra, "... with no result");
	json_decref(o);
	json_decref(t);
}

/* "{\"a\": " n times, then leaf, then n closing braces. */
static char *nested(int n, const char *leaf)
{
	size_t len = (size_t)n * 8 + strlen(leaf) + 1;
	char *s = malloc(len), *p = s;
	for (int i = 0; i < n; i++)
		p += sprintf(p, "{\"a\": ");
	p += sprintf(p, "%s", leaf);
	for (int i = 0; i < n; i++)
		*p++ = '}';
	*p = '\0';
	return s;
}

static void test_limits(void)
{
	char *deep = nested(70, "1"), *deep_table = nested(70, "\"x.y\""), *ok = nested(60, "7");
	refused(deep, "{\"a\": \"a\"}", CK_ELIMIT, "params nested deeper than 64", "an old document nested too deep");
	refused("{\"x\": {\"y\": 1}}", deep_table, CK_EINVALID, "remap: the table is nested too deep",
		"a table nested too deep");
	refused("{\"x\": {\"y\": 1}}", "{\"a\": \"x.y\", \"b\": 3}", CK_EINVALID,
		"remap: the table holds something other than a path (a string)", "a table with a number where a path belongs");
	refused("{\"x\": {\"y\": 1}}", "{\"a\": [\"x.y\", true]}", CK_EINVALID,
		"remap: the table holds something other than a path (a string)", "... or a flag in a list");
	char *path = malloc(60 * 2 + 1), *table = NULL;
	for (int i = 0; i < 60; i++)
		memcpy(path + 2 * i, "a.", 2);
	path[119] = '\0';
	table = malloc(strlen(path) + 16);
	sprintf(table, "{\"a\": \"%s\"}", path);
	remapped(ok, table, NULL, "{\"a\":7}", "[]", "sixty levels are fine");
	free(deep);
	free(deep_table);
	free(ok);
	free(path);
	free(table);
}

int main(void)
{
	test_leaves();
	test_globs();
	test_limits();
	return t_done();
}
