/* Unit tests for expr.c: a table of one-line cases (source, hf context, expected JSON result or
 * "!error substring" or "ABSENT"), then references, literals, exact messages and limits. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "expr.h"
#include "t.h"

#define WHERE "rules/llama.yaml:12:5"

static const char *HF = "{\"num_attention_heads\": 32, \"num_key_value_heads\": 8, \"hidden_size\": 4096,"
	" \"rope_scaling\": null, \"rope_theta\": 10000.0, \"name\": \"llama\", \"layers\": [1, 2, 3],"
	" \"sub\": {\"a\": {\"b\": 5}}, \"flag\": true, \"zero\": 0, \"empty\": \"\"}";
static const char *CS = "{\"hidden_size\": 4096, \"num_heads\": 32, \"scale_qk_dot_by_d\": true,"
	" \"attention_logits_alpha\": 2.0, \"pos_scaling_factor\": 4.0, \"pos_scaling_type\": \"linear\"}";

static const struct {
	const char *src, *hf, *want; /* hf NULL: the HF text above */
} cases[] = {
	/* arithmetic, int/float semantics, precedence */
	{"1 + 2", NULL, "3"},
	{"1 + 2 * 3", NULL, "7"},
	{"(1 + 2) * 3", NULL, "9"},
	{"10 - 2 - 3", NULL, "5"},
	{"2 * 3 % 4", NULL, "2"},
	{"7 // 2", NULL, "3"},
	{"-7 // 2", NULL, "-4"},
	{"7 / 2", NULL, "3.5"},
	{"6 / 2", NULL, "3.0"},
	{"-7 % 3", NULL, "2"},
	{"7 % -3", NULL, "-2"},
	{"7.5 // 2", NULL, "3.0"},
	{"-7.5 % 2", NULL, "0.5"},
	{"2 * 3.0", NULL, "6.0"},
	{"0.1 + 0.2", NULL, "0.30000000000000004"},
	{"-2 * -3", NULL, "6"},
	{"+5 - -5", NULL, "10"},
	{"- -hf.zero", NULL, "0"},
	{"-hf.rope_theta", NULL, "-10000.0"},
	{"1e-5", NULL, "1e-05"},
	{"1.0e-05 * 2", NULL, "2e-05"},
	{"cs.hidden_size // cs.num_heads", NULL, "128"},
	{"cs.attention_logits_alpha * (cs.scale_qk_dot_by_d ? 1 / sqrt(cs.hidden_size / cs.num_heads) : 1)",
		NULL, "0.17677669529663687"},
	{"heads * 2", NULL, "64"},
	/* strings and lists */
	{"'ab' + \"cd\"", NULL, "\"abcd\""},
	{"'a\\'b\\n\\t\\\\\\\"'", NULL, "\"a'b\\n\\t\\\\\\\"\""},
	{"[1, 2] + [3]", NULL, "[1, 2, 3]"},
	{"[0] * 3", NULL, "[0, 0, 0]"},
	{"'ab' * 2", NULL, "\"abab\""},
	{"[1, 'a', [true, null], {}]", NULL, "[1, \"a\", [true, null], {}]"},
	{"{type: 'linear', factor: cs.pos_scaling_factor}", NULL, "{\"type\": \"linear\", \"factor\": 4.0}"},
	{"{'a b': 1, c: [],}", NULL, "{\"a b\": 1, \"c\": []}"},
	/* comparisons and membership */
	{"1 == 1.0", NULL, "true"},
	{"1 != 2", NULL, "true"},
	{"2 < 3", NULL, "true"},
	{"2 <= 2", NULL, "true"},
	{"3 > 2.5", NULL, "true"},
	{"2 >= 3", NULL, "false"},
	{"'abc' < 'abd'", NULL, "true"},
	{"[1, 2] == [1, 2.0]", NULL, "true"},
	{"{a: 1} == {'a': 1.0}", NULL, "true"},
	{"{a: 1} == {a: 1, b: 2}", NULL, "false"},
	{"true == 1", NULL, "false"},
	{"2 in hf.layers", NULL, "true"},
	{"'a' in {a: 1}", NULL, "true"},
	{"'lam' in hf.name", NULL, "true"},
	{"4 not in hf.layers", NULL, "true"},
	/* logic and truthiness */
	{"not true", NULL, "false"},
	{"!0", NULL, "true"},
	{"not ''", NULL, "true"},
	{"![] && !{} && !0.0 && !null", NULL, "true"},
	{"1 and 2", NULL, "true"},
	{"0 or ''", NULL, "false"},
	{"0 || 3", NULL, "true"},
	{"false && hf.missing + 1", NULL, "false"},
	{"true || 1 / 0", NULL, "true"},
	{"not 1 == 2", NULL, "true"},
	{"1 + 2 == 3 and 2 > 1", NULL, "true"},
	{"false or true and false", NULL, "false"},
	/* absent, ??, ternary */
	{"hf.num_key_value_heads ?? hf.num_attention_heads", NULL, "8"},
	{"hf.num_key_value_heads ?? hf.num_attention_heads", "{\"num_attention_heads\": 12}", "12"},
	{"null ?? 1", NULL, "null"},
	{"absent ?? 2", NULL, "2"},
	{"hf.missing ?? absent", NULL, "ABSENT"},
	{"hf.missing", NULL, "ABSENT"},
	{"hf.missing.deeper.still", NULL, "ABSENT"},
	{"hf.rope_scaling.factor ?? 1.0", NULL, "1.0"},
	{"hf.missing == null", NULL, "true"},
	{"hf.missing != null", NULL, "false"},
	{"hf.num_key_value_heads == hf.num_attention_heads ? 'aiayn_attention' : 'multiquery_attention'", NULL,
		"\"multiquery_attention\""},
	{"hf.rope_scaling == null ? 1.0 : hf.rope_scaling.factor", NULL, "1.0"},
	{"hf.rope_scaling == null ? 1.0 : hf.rope_scaling.factor", "{}", "1.0"},
	{"hf.rope_scaling == null ? 1.0 : hf.rope_scaling.factor", "{\"rope_scaling\": {\"factor\": 8}}", "8"},
	{"1 ? 2 : 3 ? 4 : 5", NULL, "2"},
	{"0 ? 1 : 0 ? 2 : 3", NULL, "3"},
	{"hf.flag ? hf.missing : 1", NULL, "ABSENT"},
	/* indexing */
	{"hf.sub.a.b", NULL, "5"},
	{"hf.sub['a'].b", NULL, "5"},
	{"hf.sub['zz']", NULL, "ABSENT"},
	{"hf.layers[0] + hf.layers[-1]", NULL, "4"},
	{"hf.layers.2", NULL, "3"},
	{"[1, 2, 3][1]", NULL, "2"},
	{"{k: [5, 6]}.k.1", NULL, "6"},
	/* functions */
	{"sqrt(16)", NULL, "4.0"},
	{"int(3.9) + int(-3.9)", NULL, "0"},
	{"int(true)", NULL, "1"},
	{"int(' 42 ')", NULL, "42"},
	{"float(2)", NULL, "2.0"},
	{"float('1e-5')", NULL, "1e-05"},
	{"[str(1e-5), str(0.1), str(3.0), str(1e16), str(123456789.0), str(0.0001), str(-1.5e-7)]", NULL,
		"[\"1e-05\", \"0.1\", \"3.0\", \"1e+16\", \"123456789.0\", \"0.0001\", \"-1.5e-07\"]"},
	{"str(42) + str(true) + str(null)", NULL, "\"42TrueNone\""},
	{"len('h\xc3\xa9llo') + len(hf.layers) + len({a: 1})", NULL, "9"},
	{"min(3, 1, 2)", NULL, "1"},
	{"max([1, 5.5, 2])", NULL, "5.5"},
	{"max('a', 'b')", NULL, "\"b\""},
	{"abs(-3)", NULL, "3"},
	{"abs(-2.5)", NULL, "2.5"},
	{"pow(2, 10)", NULL, "1024.0"},
	{"[round(2.5), round(3.5), round(-0.5), round(2.6), round(7)]", NULL, "[2, 4, 0, 3, 7]"},
	{"range(3)", NULL, "[0, 1, 2]"},
	{"range(0)", NULL, "[]"},
	{"list(hf.layers)", NULL, "[1, 2, 3]"},
	{"list({a: 1, b: 2})", NULL, "[\"a\", \"b\"]"},
	/* rope_scaling and friends: dict edits, logs, lower case, refusals with a reason */
	{"log(1)", NULL, "0.0"},
	{"0.1 * log(4.0) + 1.0", NULL, "1.1386294361119891"},
	{"log(0)", NULL, "!expected a number > 0 for log(), found int 0"},
	{"lower('YaRN')", NULL, "\"yarn\""},
	{"lower(1)", NULL, "!expected a string for lower(), found int 1"},
	/* CS <-> CS params ops: comprehensions, items/dict, regex -> glob, Python type names */
	{"[x * 2 for x in [1, 2, 3]]", NULL, "[2, 4, 6]"},
	{"[x for x in [1, 2, 3, 4] if x % 2 == 0]", NULL, "[2, 4]"},
	{"[k for k in {a: 1, b: 2}]", NULL, "[\"a\", \"b\"]"},
	{"[[y, x] for x in [1, 2] for_ in [3]]", NULL, "!"},
	{"[[x, y] for x in [1, 2] if [y for y in [x]]]", NULL, "!unknown name 'y'"},
	{"[[x, [x + y for y in [10, 20]]] for x in [1, 2]]", NULL, "[[1, [11, 21]], [2, [12, 22]]]"},
	{"[x for x in 3]", NULL, "!expected a list or dict to iterate, found int 3"},
	{"[(x, 1)]", NULL, "!"},
	{"[x.a for x in [{a: 1}, {b: 2}]]", NULL, "[1]"},
	{"dict([[p[0], p[1] * 10] for p in items({a: 1, b: 2})])", NULL, "{\"a\": 10, \"b\": 20}"},
	{"dict([[1, 2]])", NULL, "!expected [key, value] pairs with string keys for dict(), found list [1,2]"},
	{"[1, [2, 3], 4]", NULL, "[1, [2, 3], 4]"},
	{"replace('(.*proj_q)|(.*fc)', '.*', '*')", NULL, "\"(*proj_q)|(*fc)\""},
	{"replace('aaa', 'a', 'bb')", NULL, "\"bbbbbb\""},
	{"replace('abc', '', 'x')", NULL, "!expected a non-empty string for replace(), found string ''"},
	{"replace(1, 'a', 'b')", NULL, "!expected strings for replace(), found int 1"},
	{"[type(1), type(1.5), type('s'), type(true), type(null), type([1]), type({a: 1})]", NULL,
	 "[\"int\", \"float\", \"str\", \"bool\", \"NoneType\", \"list\", \"dict\"]"},
	{"merge({a: 1, b: 2}, {b: 3, c: 4})", NULL, "{\"a\": 1, \"b\": 3, \"c\": 4}"},
	{"merge({a: 1}, null)", NULL, "{\"a\": 1}"},
	{"merge({a: 1}, 2)", NULL, "!expected dicts (or null) for merge(), found int 2"},
	{"without({a: 1, b: 2, c: 3}, ['a', 'c', 'x'])", NULL, "{\"b\": 2}"},
	{"without({a: 1, b: 2}, 'a')", NULL, "{\"b\": 2}"},
	{"without(null, ['a'])", NULL, "{}"},
	{"len(without({type: 'yarn', factor: 4.0, beta_fast: 8}, ['type', 'factor'])) == 1", NULL, "true"},
	{"without([1], ['a'])", NULL, "!expected a dict (or null) first for without(), found list [1]"},
	{"1 == 1 || error('never')", NULL, "true"},
	{"hf.flag ? error('rope type ' + str(hf.name) + ' has no CS counterpart') : 1", NULL,
		"!rules/llama.yaml:12:5: rope type llama has no CS counterpart"},
	/* evaluation errors */
	{"hf.num_attention_heads / 0", NULL, "!" WHERE ": in 'hf.num_attention_heads / 0': division by zero"},
	{"1 // 0", NULL, "!division by zero"},
	{"1.5 % 0", NULL, "!modulo by zero"},
	{"1 + 2 / 0", NULL, "!in '1 + 2 / 0': '2 / 0': division by zero"},
	{"'a' - 1", NULL, "!unsupported operands for '-': string 'a' and int 1"},
	{"hf.name + 1", NULL, "!'hf.name + 1': unsupported operands for '+': string 'llama' and int 1"},
	{"true + 1", NULL, "!unsupported operands for '+': bool true and int 1"},
	{"1 < 'a'", NULL, "!unsupported operands for '<'"},
	{"3 in 5", NULL, "!expected a list, dict or string after 'in', found int 5"},
	{"-'a'", NULL, "!expected a number after '-', found string 'a'"},
	{"foo + 1", NULL, "!" WHERE ": in 'foo + 1': unknown name 'foo'"},
	{"hf.missing + 1", NULL, "!" WHERE ": in 'hf.missing + 1': 'hf.missing' is not set"},
	{"hf.nope.x * 2", NULL, "!'hf.nope.x' is not set"},
	{"sqrt(hf.missing)", NULL, "!'hf.missing' is not set"},
	{"hf.missing ? 1 : 2", NULL, "!'hf.missing' is not set"},
	{"not hf.missing", NULL, "!'hf.missing' is not set"},
	{"hf.missing < 1", NULL, "!'hf.missing' is not set"},
	{"[hf.missing]", NULL, "!'hf.missing' is not set"},
	{"(hf.missing ?? absent) + 1", NULL, "!'(hf.missing ?? absent)' is not set"},
	{"9223372036854775807 + 1", NULL, "!integer overflow"},
	{"-9223372036854775807 - 2", NULL, "!integer overflow"},
	{"4611686018427387904 * 2", NULL, "!integer overflow"},
	{"1e308 * 10", NULL, "!not a finite number"},
	{"sqrt(-1)", NULL, "!expected a number >= 0 for sqrt(), found int -1"},
	{"int('x')", NULL, "!expected a number, bool or integer string for int(), found string 'x'"},
	{"len(5)", NULL, "!expected a string, list or dict for len()"},
	{"min([])", NULL, "!min() of an empty list"},
	{"range(2000000)", NULL, "!longer than the limit"},
	{"hf.layers[3]", NULL, "!'hf.layers[3]': index 3 is out of range for a list of 3 items"},
	{"hf.layers.5", NULL, "!index 5 is out of range"},
	{"hf.layers['x']", NULL, "!expected an int index, found string 'x'"},
	{"hf.num_attention_heads.x", NULL, "!'hf.num_attention_heads': expected a dict to read 'x' from, found int 32"},
	{"hf.sub[1]", NULL, "!expected a string key, found int 1"},
	/* syntax errors: column, expected, found */
	{"hf.a +", NULL, "!" WHERE ": in 'hf.a +': expected an operand at column 6, found end of expression"},
	{"(1 + 2", NULL, "!expected ')' at column 6, found end of expression"},
	{"1 +* 2", NULL, "!expected an operand at column 4, found '*'"},
	{"1 2", NULL, "!expected an operator or the end of the expression at column 3, found '2'"},
	{"1 @ 2", NULL, "!expected an operator or operand at column 3, found '@'"},
	{"'abc", NULL, "!expected a closing ' for the string at column 1, found end of expression"},
	{"'a\\q'", NULL, "!at column 3, found '\\q'"},
	{"1 < 2 < 3", NULL, "!comparisons do not chain"},
	{"a ? b", NULL, "!expected ':' of the conditional at column 5, found end of expression"},
	{"hf.", NULL, "!expected a field name after '.' at column 3, found end of expression"},
	{"[1, 2", NULL, "!expected ',' or ']'"},
	{"{1: 2}", NULL, "!expected a key (a name or a string) at column 2, found '1'"},
	{"{a: 1, a: 2}", NULL, "!duplicate key 'a' at column 8"},
	{"foo(1)", NULL, "!unknown function 'foo' at column 1 (known: sqrt, int, float, str, len, min, max, abs, pow, round, range, list, log, lower, merge, without, error, replace, type, items, dict)"},
	{"sqrt(1, 2)", NULL, "!expected 1 argument for sqrt() at column 1, found 2"},
	{"max()", NULL, "!expected at least 1 argument for max()"},
	{"x and", NULL, "!expected an operand at column 5, found end of expression"},
	{"99999999999999999999", NULL, "!number at column 1 is out of range"},
	{"", NULL, "!expected an operand at column 1, found end of expression"},
};

typedef struct ctx {
	json_t *hf, *cs, *heads;
} ctx;

static json_t *resolve(void *vc, const char *name)
{
	ctx *c = vc;
	if (!strcmp(name, "hf"))
		return c->hf;
	if (!strcmp(name, "cs"))
		return c->cs;
	if (!strcmp(name, "heads"))
		return c->heads;
	if (!strcmp(name, "gone"))
		return expr_absent();
	return NULL;
}

/* "ok", or the error message, or the dumped result, into buf */
static void run(const char *src, ctx *c, int *ok, json_t **res, char *buf, size_t n)
{
	expr *x = NULL;
	ck_err e = {0};
	*res = NULL;
	*ok = 0;
	if (expr_parse(src, WHERE, &x, &e) || expr_eval(x, resolve, c, res, &e)) {
		snprintf(buf, n, "%s", e.msg);
	} else {
		*ok = 1;
		buf[0] = '\0';
	}
	expr_free(x);
}

static void refs_cb(void *vb, const char *path)
{
	char *b = vb;
	if (*b)
		strcat(b, ",");
	strcat(b, path);
}

static const char *refs_of(const char *src)
{
	static char buf[2048];
	expr *x = NULL;
	ck_err e = {0};
	buf[0] = '\0';
	if (expr_parse(src, WHERE, &x, &e)) {
		snprintf(buf, sizeof buf, "%s", e.msg);
		return buf;
	}
	expr_refs(x, refs_cb, buf);
	expr_free(x);
	return buf;
}

static int literal(const char *src)
{
	expr *x = NULL;
	ck_err e = {0};
	if (expr_parse(src, WHERE, &x, &e))
		return -1;
	int r = expr_is_literal(x);
	expr_free(x);
	return r;
}

int main(void)
{
	ctx c = {json_loads(HF, 0, NULL), json_loads(CS, 0, NULL), json_integer(32)};
	char msg[2048], name[160];
	T_OK(c.hf && c.cs && c.heads, "fixtures parse");

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const char *w = cases[i].want;
		ctx cc = c;
		json_t *res, *hf = cases[i].hf ? json_loads(cases[i].hf, 0, NULL) : NULL;
		int ok;
		if (hf)
			cc.hf = hf;
		snprintf(name, sizeof name, "%s", cases[i].src);
		run(cases[i].src, &cc, &ok, &res, msg, sizeof msg);
		if (w[0] == '!') {
			T_OK(!ok, "error: %s", name);
			if (!ok)
				T_HAS(msg, w + 1, "  message");
			T_OK(!strchr(msg, '\n'), "  one line");
		} else if (!strcmp(w, "ABSENT")) {
			T_OK(ok && !res, "absent: %s", name);
			if (!ok)
				printf("#   %s\n", msg);
		} else {
			json_t *want = json_loads(w, JSON_DECODE_ANY, NULL);
			int eq = ok && res && want && json_equal(res, want);
			T_OK(eq, "%s == %s", name, w);
			if (!eq) {
				char *g = res ? json_dumps(res, JSON_ENCODE_ANY) : NULL;
				printf("#   got %s%s\n", g ? g : "(absent)", ok ? "" : msg);
				free(g);
			}
			json_decref(want);
		}
		json_decref(res);
		json_decref(hf);
	}

	/* a resolver's absent marker reads as absent */
	{
		json_t *res;
		int ok;
		run("gone ?? 7", &c, &ok, &res, msg, sizeof msg);
		T_OK(ok && json_integer_value(res) == 7, "resolver's expr_absent() works with ??");
		json_decref(res);
		run("gone + 1", &c, &ok, &res, msg, sizeof msg);
		T_HAS(msg, "'gone' is not set", "resolver's expr_absent() is not set");
	}

	/* evaluating twice gives fresh, equal values; results may be modified */
	{
		expr *x = NULL;
		ck_err e = {0};
		json_t *a = NULL, *b = NULL;
		T_OK(!expr_parse("'s'", WHERE, &x, &e), "parse a literal");
		T_OK(!expr_eval(x, resolve, &c, &a, &e) && !expr_eval(x, resolve, &c, &b, &e), "eval twice");
		T_OK(a && b && a != b && json_equal(a, b), "two fresh copies");
		T_EQ_STR(expr_src(x), "'s'", "expr_src");
		json_decref(a);
		json_decref(b);
		expr_free(x);
		expr_free(NULL);
	}

	/* references */
	T_EQ_STR(refs_of("hf.a.b + cs.x[hf.i] * heads + hf.a.b + hf.layers.0 + len(hf.sub['k'])"),
		"hf.a.b,cs.x,hf.i,heads,hf.layers,hf.sub.k", "expr_refs: paths, dedup, stop at indices");
	T_EQ_STR(refs_of("hf.num_key_value_heads ?? hf.num_attention_heads"),
		"hf.num_key_value_heads,hf.num_attention_heads", "expr_refs: ??");
	T_EQ_STR(refs_of("{type: 'linear', factor: cs.pos_scaling_factor}"), "cs.pos_scaling_factor",
		"expr_refs: dict values");
	T_EQ_STR(refs_of("1 + sqrt(2) ? true : absent"), "", "expr_refs: none");

	/* literals */
	T_EQ_INT(literal("1"), 1, "literal: 1");
	T_EQ_INT(literal("-1.5"), 1, "literal: -1.5");
	T_EQ_INT(literal("'x'"), 1, "literal: 'x'");
	T_EQ_INT(literal("null"), 1, "literal: null");
	T_EQ_INT(literal("true"), 1, "literal: true");
	T_EQ_INT(literal("hf.a"), 0, "not literal: hf.a");
	T_EQ_INT(literal("1 + 2"), 0, "not literal: 1 + 2");
	T_EQ_INT(literal("[1]"), 0, "not literal: [1]");
	T_EQ_INT(literal("absent"), 0, "not literal: absent");
	T_EQ_INT(literal("-'a'"), 0, "not literal: -'a'");

	/* Python float repr */
	{
		char b[32];
		T_EQ_STR(expr_float_str(1e-5, b, sizeof b), "1e-05", "float_str 1e-05");
		T_EQ_STR(expr_float_str(1.0 / 3, b, sizeof b), "0.3333333333333333", "float_str 1/3");
		T_EQ_STR(expr_float_str(1e22, b, sizeof b), "1e+22", "float_str 1e+22");
		T_EQ_STR(expr_float_str(1234567890123456.0, b, sizeof b), "1234567890123456.0", "float_str 1.2e15");
		T_EQ_STR(expr_float_str(-0.0, b, sizeof b), "-0.0", "float_str -0.0");
		T_EQ_STR(expr_float_str(5e-324, b, sizeof b), "5e-324", "float_str denormal");
		T_EQ_STR(expr_float_str(1.7976931348623157e308, b, sizeof b), "1.7976931348623157e+308", "float_str max");
	}

	/* limits: errors, not crashes */
	{
		size_t n = 200, i;
		char *deep = malloc(2 * n + 2), *big = malloc(70000), *chain = malloc(40002);
		ck_err e = {0};
		expr *x = NULL;
		json_t *res = NULL;
		for (i = 0; i < n; i++)
			deep[i] = '(', deep[n + 1 + i] = ')';
		deep[n] = '1';
		deep[2 * n + 1] = '\0';
		T_OK(expr_parse(deep, WHERE, &x, &e) == CK_ELIMIT, "200 parentheses: limit");
		T_HAS(e.msg, "nested deeper than 64", "  message");
		ck_err_clear(&e);
		memset(deep, '-', 2 * n);
		deep[2 * n] = '1';
		deep[2 * n + 1] = '\0';
		T_OK(expr_parse(deep, WHERE, &x, &e) == CK_ELIMIT, "400 unary minus: limit");
		ck_err_clear(&e);
		memset(big, ' ', 69999);
		big[0] = '1';
		big[69999] = '\0';
		T_OK(expr_parse(big, WHERE, &x, &e) == CK_ELIMIT, "70000-byte source: limit");
		T_HAS(e.msg, "longer than the limit of 65536", "  message");
		ck_err_clear(&e);
		/* a long flat chain is not nesting: it parses and evaluates without deep recursion */
		for (i = 0; i < 20000; i++)
			chain[2 * i] = '1', chain[2 * i + 1] = '+';
		chain[39999] = '\0';
		T_OK(!expr_parse(chain, WHERE, &x, &e) && !expr_eval(x, resolve, &c, &res, &e) &&
			json_integer_value(res) == 20000, "20000-term sum");
		json_decref(res);
		expr_free(x);
		free(deep);
		free(big);
		free(chain);
	}

	json_decref(c.hf);
	json_decref(c.cs);
	json_decref(c.heads);
	return t_done();
}
