/* Unit tests for valio.c: PyYAML typing of plain scalars, Python-identical JSON and YAML
 * writers (expected texts below were produced by Python 3 json and PyYAML 6.0), the float
 * repr, golden HF/CS config files byte for byte, and the atomic file writer. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "valio.h"
#include "t.h"

#define GOLDEN "tests/golden/valio/"

/* YAML scalar -> expected json.dumps-style text of the value, or NULL plus error text. */
static const struct { const char *yaml, *json, *err; } type_cases[] = {
	{"1e-05", "\"1e-05\"", NULL},          /* YAML 1.1 needs a dot and a signed exponent */
	{"1.0e-05", "1e-05", NULL},
	{"1.0e5", "\"1.0e5\"", NULL},
	{"1.0e+5", "100000.0", NULL},
	{"1.5E+3", "1500.0", NULL},
	{"1.", "1.0", NULL},
	{".5", "0.5", NULL},
	{"-.5", "\"-.5\"", NULL},              /* the ".5" form takes no sign */
	{"._5", "\"._5\"", NULL},
	{"1_0.2_5", "10.25", NULL},
	{"-0.0", "-0.0", NULL},
	{"0.02", "0.02", NULL},
	{"190:20:30.15", "685230.15", NULL},    /* sexagesimal float */
	{".inf", NULL, "non-finite floats are not supported"},
	{"-.Inf", NULL, "non-finite floats are not supported"},
	{".NaN", NULL, "non-finite floats are not supported"},
	{".nAn", "\".nAn\"", NULL},
	{"0x1F", "31", NULL},
	{"-0x_1f", "-31", NULL},
	{"0b1010", "10", NULL},
	{"0b", "\"0b\"", NULL},
	{"0b_", NULL, "is not an integer"},
	{"010", "8", NULL},                     /* octal */
	{"0_7", "7", NULL},
	{"08", "\"08\"", NULL},
	{"0o17", "\"0o17\"", NULL},
	{"1_000", "1000", NULL},
	{"+12", "12", NULL},
	{"-0", "0", NULL},
	{"1:30", "90", NULL},                   /* sexagesimal int */
	{"-1:0:5", "-3605", NULL},
	{"1:60", "\"1:60\"", NULL},
	{"9223372036854775807", "9223372036854775807", NULL},
	{"-9223372036854775808", "-9223372036854775808", NULL},
	{"9223372036854775808", NULL, "out of the 64-bit range"},
	{"0x8000000000000000", NULL, "out of the 64-bit range"},
	{"yes", "true", NULL},
	{"No", "false", NULL},
	{"ON", "true", NULL},
	{"off", "false", NULL},
	{"True", "true", NULL},
	{"yES", "\"yES\"", NULL},
	{"y", "\"y\"", NULL},
	{"'yes'", "\"yes\"", NULL},
	{"\"1.0\"", "\"1.0\"", NULL},
	{"~", "null", NULL},
	{"null", "null", NULL},
	{"NULL", "null", NULL},
	{"nULL", "\"nULL\"", NULL},
	{"", "null", NULL},
	{"''", "\"\"", NULL},
	{"2001-12-14", "\"2001-12-14\"", NULL}, /* timestamps stay strings */
	{"swiglu", "\"swiglu\"", NULL},
	{"^image_model", "\"^image_model\"", NULL},
	{"a: b", NULL, "mapping values are not allowed"},
	{"=", NULL, "plain '=' is not a value"},
	{"!!str 123", "\"123\"", NULL},
	{"!!int \"0x10\"", "16", NULL},
	{"!!int abc", NULL, "'abc' is not an integer"},
	{"!!float 12", "12.0", NULL},
	{"!!float '1e5'", "100000.0", NULL},
	{"!!float x", NULL, "'x' is not a float"},
	{"!!bool 'On'", "true", NULL},
	{"!!bool 1", NULL, "is not a boolean"},
	{"!!null whatever", "null", NULL},
	{"! 12", "12", NULL},                   /* PyYAML resolves the non-specific tag */
	{"! '12'", "12", NULL},
	{"!!binary AAAA", NULL, "unsupported tag 'tag:yaml.org,2002:binary'"},
	{"[1, 1.5, x, ~]", "[\n  1,\n  1.5,\n  \"x\",\n  null\n]", NULL},
	{"!!set {a}", NULL, "unsupported tag 'tag:yaml.org,2002:set' on a mapping"},
	{"|\n  block\n", "\"block\\n\"", NULL},
	{"\"caf\\xe9 \\U0001F600\"", "\"caf\\u00e9 \\ud83d\\ude00\"", NULL},
};

static const struct { const char *json, *yaml, *pyjson; } dump_cases[] = {
	{"1",
	 "1\n...\n",
	 "1\n"},
	{"-7",
	 "-7\n...\n",
	 "-7\n"},
	{"0.5",
	 "0.5\n...\n",
	 "0.5\n"},
	{"\"abc\"",
	 "abc\n...\n",
	 "\"abc\"\n"},
	{"\"a b'\"",
	 "a b'\n...\n",
	 "\"a b'\"\n"},
	{"null",
	 "null\n...\n",
	 "null\n"},
	{"true",
	 "true\n...\n",
	 "true\n"},
	{"{}",
	 "{}\n",
	 "{}\n"},
	{"[]",
	 "[]\n",
	 "[]\n"},
	{"\"\"",
	 "''\n",
	 "\"\"\n"},
	{"\"yes\"",
	 "'yes'\n",
	 "\"yes\"\n"},
	{"\"it's\"",
	 "it's\n...\n",
	 "\"it's\"\n"},
	{"{\"a\": [[1, 2], [], {}, {\"x\": [1, {\"y\": 2}]}], \"b\": {\"c\": {}}}",
	 "a:\n- - 1\n  - 2\n- []\n- {}\n- x:\n  - 1\n  - y: 2\nb:\n  c: {}\n",
	 "{\n  \"a\": [\n    [\n      1,\n      2\n    ],\n    [],\n    {},\n    {\n      \"x\": [\n        1,\n        {\n          \"y\": 2\n        }\n      ]\n    }\n  ],\n  \"b\": {\n    \"c\": {}\n  }\n}\n"},
	{"{\"\": 1, \"kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk\": [1, 2], \"kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk\": {\"a\": 1}, \"a\\nb\": \"c\"}",
	 "? ''\n: 1\n? 'a\n\n  b'\n: c\nkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk:\n  a: 1\n? kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk\n: - 1\n  - 2\n",
	 "{\n  \"\": 1,\n  \"a\\nb\": \"c\",\n  \"kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk\": {\n    \"a\": 1\n  },\n  \"kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk\": [\n    1,\n    2\n  ]\n}\n"},
	{"{\"quote\": [\"yes\", \"No\", \"1.0\", \"1e5\", \"1e-05\", \"0x1F\", \"010\", \"~\", \"null\", \"2001-12-14\", \"<<\", \"=\", \"-\", \"- a\", \":a\", \"a:b\", \"a: b\", \"a #b\", \"a#b\", \"@x\", \"%\", \"---\", \"?\", \"?a\", \" lead\", \"trail \", \"^image_model\", \"swiglu\", \"a/b.c-d\"]}",
	 "quote:\n- 'yes'\n- 'No'\n- '1.0'\n- 1e5\n- 1e-05\n- '0x1F'\n- '010'\n- '~'\n- 'null'\n- '2001-12-14'\n- '<<'\n- '='\n- '-'\n- '- a'\n- :a\n- a:b\n- 'a: b'\n- 'a #b'\n- a#b\n- '@x'\n- '%'\n- '---'\n- '?'\n- ?a\n- ' lead'\n- 'trail '\n- ^image_model\n- swiglu\n- a/b.c-d\n",
	 "{\n  \"quote\": [\n    \"yes\",\n    \"No\",\n    \"1.0\",\n    \"1e5\",\n    \"1e-05\",\n    \"0x1F\",\n    \"010\",\n    \"~\",\n    \"null\",\n    \"2001-12-14\",\n    \"<<\",\n    \"=\",\n    \"-\",\n    \"- a\",\n    \":a\",\n    \"a:b\",\n    \"a: b\",\n    \"a #b\",\n    \"a#b\",\n    \"@x\",\n    \"%\",\n    \"---\",\n    \"?\",\n    \"?a\",\n    \" lead\",\n    \"trail \",\n    \"^image_model\",\n    \"swiglu\",\n    \"a/b.c-d\"\n  ]\n}\n"},
	{"{\"esc\": [\"line1\\nline2\", \"x\\n\", \"a\\tb\", \"caf\303\251\", \"\344\270\255\", \"\360\237\230\200\", \"nul\\u0001\", \"del\177\", \"nbsp\302\240\", \"bom\357\273\277\", \"sep\342\200\250\", \"back\\\\slash \\\"q\\\"\"]}",
	 "esc:\n- 'line1\n\n  line2'\n- 'x\n\n  '\n- \"a\\tb\"\n- \"caf\\xE9\"\n- \"\\u4E2D\"\n- \"\\U0001F600\"\n- \"nul\\x01\"\n- \"del\\x7F\"\n- \"nbsp\\_\"\n- \"bom\\uFEFF\"\n- \"sep\\L\"\n- back\\slash \"q\"\n",
	 "{\n  \"esc\": [\n    \"line1\\nline2\",\n    \"x\\n\",\n    \"a\\tb\",\n    \"caf\\u00e9\",\n    \"\\u4e2d\",\n    \"\\ud83d\\ude00\",\n    \"nul\\u0001\",\n    \"del\\u007f\",\n    \"nbsp\\u00a0\",\n    \"bom\\ufeff\",\n    \"sep\\u2028\",\n    \"back\\\\slash \\\"q\\\"\"\n  ]\n}\n"},
	{"{\"floats\": [0.0, -0.0, 1e-05, 0.02, 1e+16, 1.5e+16, 1e+22, 100.0, 0.0001, 5e-324, 1.7976931348623157e+308, 10000.0, -2.5e-07]}",
	 "floats:\n- 0.0\n- -0.0\n- 1.0e-05\n- 0.02\n- 1.0e+16\n- 1.5e+16\n- 1.0e+22\n- 100.0\n- 0.0001\n- 5.0e-324\n- 1.7976931348623157e+308\n- 10000.0\n- -2.5e-07\n",
	 "{\n  \"floats\": [\n    0.0,\n    -0.0,\n    1e-05,\n    0.02,\n    1e+16,\n    1.5e+16,\n    1e+22,\n    100.0,\n    0.0001,\n    5e-324,\n    1.7976931348623157e+308,\n    10000.0,\n    -2.5e-07\n  ]\n}\n"},
	{"{\"ints\": [0, -1, 9223372036854775807, -9223372036854775808]}",
	 "ints:\n- 0\n- -1\n- 9223372036854775807\n- -9223372036854775808\n",
	 "{\n  \"ints\": [\n    0,\n    -1,\n    9223372036854775807,\n    -9223372036854775808\n  ]\n}\n"},
	{"{\"long\": \"word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word end\", \"longq\": \"it's it's it's it's it's it's it's it's it's it's it's it's it's it's it's it's it's it's it's it's it's it's it's it's it's it's it's it's it's it's \", \"longd\": \"caf\303\251 caf\303\251 caf\303\251 caf\303\251 caf\303\251 caf\303\251 caf\303\251 caf\303\251 caf\303\251 caf\303\251 caf\303\251 caf\303\251 caf\303\251 caf\303\251 caf\303\251 caf\303\251 caf\303\251 caf\303\251 caf\303\251 caf\303\251 caf\303\251 caf\303\251 caf\303\251 caf\303\251 caf\303\251 caf\303\251 caf\303\251 caf\303\251 caf\303\251 caf\303\251 \", \"long1\": \"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"}",
	 "long: word word word word word word word word word word word word word word word word\n  word word word word word word word word word word word word word word end\nlong1: xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\nlongd: \"caf\\xE9 caf\\xE9 caf\\xE9 caf\\xE9 caf\\xE9 caf\\xE9 caf\\xE9 caf\\xE9 caf\\xE9 caf\\xE9\\\n  \\ caf\\xE9 caf\\xE9 caf\\xE9 caf\\xE9 caf\\xE9 caf\\xE9 caf\\xE9 caf\\xE9 caf\\xE9 caf\\xE9\\\n  \\ caf\\xE9 caf\\xE9 caf\\xE9 caf\\xE9 caf\\xE9 caf\\xE9 caf\\xE9 caf\\xE9 caf\\xE9 caf\\xE9\\\n  \\ \"\nlongq: 'it''s it''s it''s it''s it''s it''s it''s it''s it''s it''s it''s it''s it''s\n  it''s it''s it''s it''s it''s it''s it''s it''s it''s it''s it''s it''s it''s it''s\n  it''s it''s it''s '\n",
	 "{\n  \"long\": \"word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word end\",\n  \"long1\": \"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\",\n  \"longd\": \"caf\\u00e9 caf\\u00e9 caf\\u00e9 caf\\u00e9 caf\\u00e9 caf\\u00e9 caf\\u00e9 caf\\u00e9 caf\\u00e9 caf\\u00e9 caf\\u00e9 caf\\u00e9 caf\\u00e9 caf\\u00e9 caf\\u00e9 caf\\u00e9 caf\\u00e9 caf\\u00e9 caf\\u00e9 caf\\u00e9 caf\\u00e9 caf\\u00e9 caf\\u00e9 caf\\u00e9 caf\\u00e9 caf\\u00e9 caf\\u00e9 caf\\u00e9 caf\\u00e9 caf\\u00e9 \",\n  \"longq\": \"it's it's it's it's it's it's it's it's it's it's it's it's it's it's it's it's it's it's it's it's it's it's it's it's it's it's it's it's it's it's \"\n}\n"},
	{"[[[\"deep\"]], {\"a\": [{\"b\": [[]]}]}]",
	 "- - - deep\n- a:\n  - b:\n    - []\n",
	 "[\n  [\n    [\n      \"deep\"\n    ]\n  ],\n  {\n    \"a\": [\n      {\n        \"b\": [\n          []\n        ]\n      }\n    ]\n  }\n]\n"},
};

/* Loads YAML text through ydoc + valio_from_yd. */
static int from_text(const char *text, json_t **out, ck_err *e)
{
	ydoc_doc *d = NULL;
	int rc;
	*out = NULL;
	ck_err_clear(e);
	if ((rc = ydoc_load_string("v.yaml", text, strlen(text), &d, e)))
		return rc;
	rc = valio_from_yd(d->path, d->root, out, e);
	ydoc_doc_free(d);
	return rc;
}

/* The case text on one line, for the test name. */
static const char *label(const char *s, char buf[128])
{
	size_t o = 0;
	for (; *s && o + 3 < 128; s++) {
		if (*s == '\n')
			buf[o++] = '\\', buf[o++] = 'n';
		else
			buf[o++] = *s;
	}
	buf[o] = '\0';
	return buf;
}

static void test_typing(void)
{
	char doc[256], name[128];
	for (size_t i = 0; i < sizeof type_cases / sizeof *type_cases; i++) {
		ck_err e;
		json_t *v = NULL;
		const char *lab = label(type_cases[i].yaml, name);
		snprintf(doc, sizeof doc, "k: %s\n", type_cases[i].yaml);
		int rc = from_text(doc, &v, &e);
		if (type_cases[i].json) {
			char *got = rc ? NULL : valio_json_dumps(json_object_get(v, "k"));
			char want[256];
			snprintf(want, sizeof want, "%s\n", type_cases[i].json);
			T_EQ_STR(got, want, lab);
			if (rc)
				printf("#   error: %s\n", e.msg);
			free(got);
		} else {
			T_OK(rc != 0, "%s is refused", lab);
			T_HAS(e.msg, type_cases[i].err, lab);
			T_HAS(e.msg, "v.yaml:1:", "error has a position");
		}
		json_decref(v);
	}
}

static void test_from_yd(void)
{
	ck_err e;
	json_t *v = NULL;
	const char *k;
	json_t *x;
	int i = 0, rc = from_text("b: 1\na: 2\nc: {z: 1, y: 2}\n1: int key\ntrue: bool key\n~: null key\n", &v, &e);
	T_EQ_INT(rc, 0, "mapping loads");
	const char *order[] = {"b", "a", "c", "1", "true", "~"};
	json_object_foreach(v, k, x) {
		T_EQ_STR(k, i < 6 ? order[i] : "?", "key order preserved, non-string keys as their text");
		i++;
	}
	T_EQ_INT(i, 6, "6 keys");
	json_decref(v);
	rc = from_text("", &v, &e);
	T_OK(rc == 0 && json_is_null(v), "empty document is null");
	json_decref(v);
	rc = from_text("a: &x {k: [1, 2]}\nb: *x\n", &v, &e);
	T_OK(rc == 0 && json_equal(json_object_get(v, "a"), json_object_get(v, "b")), "aliases are copied");
	T_OK(json_object_get(v, "a") != json_object_get(v, "b"), "as separate values");
	json_decref(v);
	rc = from_text("a:\n  b: [1, .inf]\n", &v, &e);
	T_HAS(e.msg, "v.yaml:2:10: .inf: non-finite floats are not supported", "nested error position");
	json_decref(v);
	rc = valio_from_yd("x", NULL, &v, &e);
	T_OK(rc == 0 && json_is_null(v), "NULL node is null");
	json_decref(v);
}

static void test_fmt_double(void)
{
	static const struct { double d; const char *s; } c[] = {
		{0.0, "0.0"}, {-0.0, "-0.0"}, {1e-05, "1e-05"}, {0.1, "0.1"}, {0.02, "0.02"},
		{1.0 / 3, "0.3333333333333333"}, {2.0 / 3, "0.6666666666666666"}, {1e16, "1e+16"}, {1.5e16, "1.5e+16"},
		{123456789012345678.0, "1.2345678901234568e+17"}, {5e-324, "5e-324"},
		{1.7976931348623157e308, "1.7976931348623157e+308"}, {1e22, "1e+22"}, {1e23, "1e+23"}, {100.0, "100.0"},
		{0.0001, "0.0001"}, {0.00001, "1e-05"}, {10000.0, "10000.0"}, {9999999999999998.0, "9999999999999998.0"},
		{1e15, "1000000000000000.0"}, {-2.5e-07, "-2.5e-07"}, {1.0, "1.0"}, {-1.5, "-1.5"},
		{6.2901843453097005e-235, "6.290184345309701e-235"}, /* nearest 16 digits miss; the other side fits */
		{2.2250738585072014e-308, "2.2250738585072014e-308"}, {0.3, "0.3"}, {0.1 + 0.2, "0.30000000000000004"},
		{INFINITY, "inf"}, {-INFINITY, "-inf"}, {NAN, "nan"},
	};
	for (size_t i = 0; i < sizeof c / sizeof *c; i++) {
		char buf[40];
		T_EQ_STR(valio_fmt_double(c[i].d, buf), c[i].s, c[i].s);
	}
}

static void test_dumps(void)
{
	for (size_t i = 0; i < sizeof dump_cases / sizeof *dump_cases; i++) {
		json_error_t je;
		json_t *v = json_loads(dump_cases[i].json, JSON_DECODE_ANY, &je), *back = NULL;
		char *y = v ? valio_yaml_dumps(v) : NULL, *j = v ? valio_json_dumps(v) : NULL, name[64];
		ck_err e;
		snprintf(name, sizeof name, "yaml dump case %zu", i);
		T_EQ_STR(y, dump_cases[i].yaml, name);
		snprintf(name, sizeof name, "json dump case %zu", i);
		T_EQ_STR(j, dump_cases[i].pyjson, name);
		int rc = y ? from_text(y, &back, &e) : -1;
		T_OK(rc == 0 && json_equal(v, back), "yaml case %zu reads back as the same value%s%s", i, rc ? ": " : "",
			rc ? e.msg : "");
		free(y);
		free(j);
		json_decref(v);
		json_decref(back);
	}
}

static void test_golden(void)
{
	const char *yamls[] = {GOLDEN "llama_params.yaml", GOLDEN "llava_params.yaml"};
	const char *jsons[] = {GOLDEN "llama_config.json", GOLDEN "gpt2_config.json"};
	for (int i = 0; i < 2; i++) {
		ck_err e = {0};
		json_t *v = NULL;
		char *want = t_slurp(yamls[i], NULL), *got;
		T_EQ_INT(valio_yaml_load(yamls[i], &v, &e), 0, yamls[i]);
		got = v ? valio_yaml_dumps(v) : NULL;
		T_EQ_STR(got, want, "params.yaml reproduced byte for byte");
		free(got);
		free(want);
		json_decref(v);
	}
	for (int i = 0; i < 2; i++) {
		ck_err e = {0};
		json_t *v = NULL;
		size_t n = 0;
		char *want = t_slurp(jsons[i], &n), *got;
		T_EQ_INT(valio_json_load(jsons[i], &v, &e), 0, jsons[i]);
		got = v ? valio_json_dumps(v) : NULL;
		/* the reference files lack the final newline that HF's to_json_string adds */
		T_OK(want && n && want[n - 1] == '}', "reference config.json ends without a newline");
		if (got && strlen(got) == n + 1 && got[n] == '\n')
			got[n] = '\0';
		T_EQ_STR(got, want, "config.json reproduced byte for byte (modulo the final newline)");
		free(got);
		free(want);
		json_decref(v);
	}
	ck_err e = {0};
	json_t *v = NULL;
	valio_yaml_load(GOLDEN "llava_params.yaml", &v, &e);
	json_t *fr = json_object_get(json_object_get(v, "model"), "freeze");
	T_EQ_STR(json_string_value(json_array_get(fr, 0)), "^image_model", "llava freeze pattern");
	T_OK(json_is_real(json_object_get(json_object_get(json_object_get(v, "model"), "text_model"), "layer_norm_epsilon")),
		"1.0e-05 is a float");
	json_decref(v);
}

static void put(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	fputs(text, f);
	fclose(f);
}

/* Jansson's "near '...'" quotes the file: a few characters of our own file, none of a file
 * reached through a symlink (it may be anyone's, e.g. a secret). */
static void test_json_quoting(const char *dir)
{
	char p[256], secret[256], q[256];
	ck_err e;
	json_t *v = NULL;
	snprintf(p, sizeof p, "%s/q.json", dir);
	put(p, "{\"a\": trueSECRETSECRETXY}"); /* Jansson quotes up to 20 */
	ck_err_clear(&e);
	T_EQ_INT(valio_json_load(p, &v, &e), CK_EINVALID, "bad token refused");
	T_HAS(e.msg, "q.json:1:", "at its position");
	T_HAS(e.msg, "invalid token near 'trueSECRETSEC...'", "quoting at most 16 characters");
	put(p, "{\"a\": tru}");
	ck_err_clear(&e);
	valio_json_load(p, &v, &e);
	T_HAS(e.msg, "near 'tru'", "a short token is quoted whole");
	snprintf(secret, sizeof secret, "%s/secret", dir);
	snprintf(q, sizeof q, "%s/link.json", dir);
	put(secret, "TOKEN=hunter2\n");
	T_OK(symlink("secret", q) == 0, "symlink made");
	ck_err_clear(&e);
	T_EQ_INT(valio_json_load(q, &v, &e), CK_EINVALID, "a symlink to a non-JSON file refused");
	T_OK(!strstr(e.msg, "TOKEN") && !strstr(e.msg, "near"), "without quoting its bytes: %s", e.msg);
	unlink(q);
	unlink(secret);
	unlink(p);
}

/* A FIFO (or any non-regular file) is refused at once, never read (it would block forever). */
static void test_not_regular(const char *dir)
{
	char p[256];
	ck_err e;
	json_t *v = NULL;
	snprintf(p, sizeof p, "%s/fifo", dir);
	T_OK(mkfifo(p, 0600) == 0, "fifo made");
	ck_err_clear(&e);
	T_EQ_INT(valio_json_load(p, &v, &e), CK_EINVALID, "a FIFO as JSON refused");
	T_HAS(e.msg, "fifo: not a regular file (a FIFO)", "named as a FIFO");
	ck_err_clear(&e);
	T_EQ_INT(valio_yaml_load(p, &v, &e), CK_EINVALID, "a FIFO as YAML refused");
	ck_err_clear(&e);
	T_EQ_INT(valio_json_load(dir, &v, &e), CK_EINVALID, "a directory as JSON refused");
	T_HAS(e.msg, "not a regular file (a directory)", "named as a directory");
	unlink(p);
}

static void test_json_load(char *dir)
{
	char p[256];
	ck_err e;
	json_t *v = NULL;
	snprintf(p, sizeof p, "%s/d.json", dir);
	FILE *f = fopen(p, "w");
	fputs("{\n  \"a\": 1,\n  \"a\": 2\n}\n", f);
	fclose(f);
	ck_err_clear(&e);
	T_EQ_INT(valio_json_load(p, &v, &e), CK_EINVALID, "duplicate JSON key refused");
	T_HAS(e.msg, "d.json:3:", "with file and line");
	T_HAS(e.msg, "duplicate object key", "and the reason");
	f = fopen(p, "w");
	fputs("{\"a\": [1, 2,]}", f);
	fclose(f);
	ck_err_clear(&e);
	T_EQ_INT(valio_json_load(p, &v, &e), CK_EINVALID, "syntax error");
	T_HAS(e.msg, "d.json:1:", "syntax error position");
	unlink(p);
	ck_err_clear(&e);
	T_EQ_INT(valio_json_load(p, &v, &e), CK_ENOTFOUND, "missing JSON file");
	T_HAS(e.msg, "d.json", "missing file named");
	ck_err_clear(&e);
	T_EQ_INT(valio_yaml_load(p, &v, &e), CK_ENOTFOUND, "missing YAML file");
	test_json_quoting(dir);
	test_not_regular(dir);
}

static void test_write_file(char *dir)
{
	char p[256], bad[300];
	ck_err e = {0};
	snprintf(p, sizeof p, "%s/out.yaml", dir);
	T_EQ_INT(valio_write_file(p, "a: 1\n", &e), 0, "write");
	T_EQ_INT(valio_write_file(p, "b: 2\n", &e), 0, "overwrite");
	char *got = t_slurp(p, NULL);
	T_EQ_STR(got, "b: 2\n", "content");
	free(got);
	snprintf(bad, sizeof bad, "%s/nodir/x.yaml", dir);
	T_EQ_INT(valio_write_file(bad, "x", &e), CK_EIO, "missing directory");
	T_HAS(e.msg, "nodir/x.yaml", "names the target");
	unlink(p);
	T_OK(rmdir(dir) == 0, "no temporary files left behind");
}

int main(void)
{
	char dir[] = "/tmp/test_valio.XXXXXX";
	test_typing();
	test_from_yd();
	test_fmt_double();
	test_dumps();
	test_golden();
	if (!mkdtemp(dir)) {
		T_OK(0, "mkdtemp");
		return t_done();
	}
	test_json_load(dir);
	test_write_file(dir);
	return t_done();
}
