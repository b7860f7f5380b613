/* valio.c - JSON/YAML config values <-> json_t, typed and laid out as Python's json and PyYAML. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "bounds.h"
#include "io.h"
#include "valio.h"
#include "text.h"

#define T_STR "tag:yaml.org,2002:str"
#define T_INT "tag:yaml.org,2002:int"
#define T_FLOAT "tag:yaml.org,2002:float"
#define T_BOOL "tag:yaml.org,2002:bool"
#define T_NULL "tag:yaml.org,2002:null"
#define T_SEQ "tag:yaml.org,2002:seq"
#define T_MAP "tag:yaml.org,2002:map"
#define YAML_WIDTH 80 /* PyYAML's best_width */

/* ---- PyYAML (YAML 1.1) implicit resolution of plain scalars ---- */

typedef enum { R_STR, R_NULL, R_BOOL, R_INT, R_FLOAT, R_TIME, R_MERGE, R_VALUE } rtype;

#define DIG "0123456789"
#define DIGU "0123456789_"

/* Length of the run of s[i..n) made of chars in set. */
static size_t run(const char *s, size_t i, size_t n, const char *set)
{
	size_t j = i;
	while (j < n && s[j] && strchr(set, s[j]))
		j++;
	return j - i;
}

static int is_dig(char c)
{
	return c >= '0' && c <= '9';
}

/* (?::[0-5]?[0-9])+ at i: index after the groups, or 0 when no group matches. */
static size_t sexa_end(const char *s, size_t i, size_t n)
{
	size_t start = i;
	while (i < n && s[i] == ':') {
		size_t d = run(s, i + 1, n, DIG);
		if (d != 1 && !(d == 2 && s[i + 1] <= '5'))
			return 0;
		i += 1 + d;
	}
	return i > start ? i : 0;
}

/* (?:[eE][-+][0-9]+)?$ at i. */
static int exp_end(const char *s, size_t i, size_t n)
{
	if (i == n)
		return 1;
	if ((s[i] != 'e' && s[i] != 'E') || i + 2 >= n || (s[i + 1] != '-' && s[i + 1] != '+'))
		return 0;
	return run(s, i + 2, n, DIG) == n - i - 2;
}

static int is_word(const char *s, size_t n, const char *const *w)
{
	for (; *w; w++)
		if (strlen(*w) == n && !memcmp(s, *w, n))
			return 1;
	return 0;
}

static int is_null(const char *s, size_t n)
{
	static const char *const w[] = {"~", "null", "Null", "NULL", NULL};
	return n == 0 || is_word(s, n, w);
}

static int is_bool(const char *s, size_t n)
{
	static const char *const w[] = {"yes", "Yes", "YES", "no", "No", "NO", "true", "True", "TRUE",
		"false", "False", "FALSE", "on", "On", "ON", "off", "Off", "OFF", NULL};
	return is_word(s, n, w);
}

static int is_int(const char *s, size_t n)
{
	size_t i = n && (s[0] == '-' || s[0] == '+'), j;
	if (i >= n)
		return 0;
	if (s[i] == '0') {
		if (i + 1 == n)
			return 1;
		if (s[i + 1] == 'b')
			return n > i + 2 && run(s, i + 2, n, "01_") == n - i - 2;
		if (s[i + 1] == 'x')
			return n > i + 2 && run(s, i + 2, n, DIGU "abcdefABCDEF") == n - i - 2;
		return run(s, i + 1, n, "01234567_") == n - i - 1;
	}
	if (s[i] < '1' || s[i] > '9')
		return 0;
	j = i + 1 + run(s, i + 1, n, DIGU);
	return j == n || sexa_end(s, j, n) == n;
}

static int is_float(const char *s, size_t n)
{
	static const char *const inf[] = {"inf", "Inf", "INF", NULL}, *const nan[] = {"nan", "NaN", "NAN", NULL};
	size_t sign = n && (s[0] == '-' || s[0] == '+'), i = sign, j;
	if (i < n && s[i] == '.') {
		if (is_word(s + i + 1, n - i - 1, inf))
			return 1;
		if (sign)
			return 0;
		if (is_word(s + 1, n - 1, nan))
			return 1;
		if (n < 2 || !is_dig(s[1]))
			return 0;
		return exp_end(s, 2 + run(s, 2, n, DIGU), n);
	}
	if (i >= n || !is_dig(s[i]))
		return 0;
	j = i + 1 + run(s, i + 1, n, DIGU);
	if (j < n && s[j] == '.')
		return exp_end(s, j + 1 + run(s, j + 1, n, DIGU), n);
	if (j < n && s[j] == ':' && (j = sexa_end(s, j, n)) && j < n && s[j] == '.')
		return run(s, j + 1, n, DIGU) == n - j - 1;
	return 0;
}

/* Consumes [0-9]{lo,hi} at *i (the whole digit run must fit). */
static int digits(const char *s, size_t *i, size_t n, size_t lo, size_t hi)
{
	size_t d = run(s, *i, n, DIG);
	if (d < lo || d > hi)
		return 0;
	*i += d;
	return 1;
}

static int is_time(const char *s, size_t n)
{
	size_t i = 0;
	if (!digits(s, &i, n, 4, 4) || i >= n || s[i++] != '-')
		return 0;
	if (n == 10 && run(s, 0, 4, DIG) == 4 && is_dig(s[5]) && is_dig(s[6]) && s[7] == '-' && is_dig(s[8]) &&
		is_dig(s[9]))
		return 1;
	if (!digits(s, &i, n, 1, 2) || i >= n || s[i++] != '-' || !digits(s, &i, n, 1, 2) || i >= n)
		return 0;
	if (s[i] == 'T' || s[i] == 't')
		i++;
	else if (!run(s, i, n, " \t"))
		return 0;
	else
		i += run(s, i, n, " \t");
	if (!digits(s, &i, n, 1, 2) || i >= n || s[i++] != ':' || !digits(s, &i, n, 2, 2) || i >= n ||
		s[i++] != ':' || !digits(s, &i, n, 2, 2))
		return 0;
	if (i < n && s[i] == '.')
		i += 1 + run(s, i + 1, n, DIG);
	if (i == n)
		return 1;
	i += run(s, i, n, " \t");
	if (i < n && s[i] == 'Z')
		return i + 1 == n;
	if (i >= n || (s[i] != '-' && s[i] != '+'))
		return 0;
	i++;
	if (!digits(s, &i, n, 1, 2))
		return 0;
	if (i < n && s[i] == ':') {
		i++;
		if (!digits(s, &i, n, 2, 2))
			return 0;
	}
	return i == n;
}

/* The regexes are mutually exclusive, so PyYAML's first-character dispatch is not needed. */
static rtype resolve(const char *s, size_t n)
{
	if (is_null(s, n))
		return R_NULL;
	if (is_bool(s, n))
		return R_BOOL;
	if (is_int(s, n))
		return R_INT;
	if (is_float(s, n))
		return R_FLOAT;
	if (is_time(s, n))
		return R_TIME;
	if (n == 2 && !memcmp(s, "<<", 2))
		return R_MERGE;
	if (n == 1 && s[0] == '=')
		return R_VALUE;
	return R_STR;
}

/* ---- YAML node -> json_t ---- */

/* Copy of s without '_' (and lowercased when lower), as PyYAML's constructors do. */
static char *clean(const char *s, int lower)
{
	char *c = malloc(strlen(s) + 1), *o = c;
	if (!c)
		return NULL;
	for (; *s; s++)
		if (*s != '_')
			*o++ = lower && *s >= 'A' && *s <= 'Z' ? (char)(*s - 'A' + 'a') : *s;
	*o = '\0';
	return c;
}

/* Digits of s in base into *v; 0 on bad digit, empty string or overflow past lim. */
static int accum(const char *s, int base, uint64_t lim, uint64_t *v)
{
	*v = 0;
	if (!*s)
		return 0;
	for (; *s; s++) {
		int d = is_dig(*s) ? *s - '0' : (*s | 0x20) >= 'a' && (*s | 0x20) <= 'f' ? (*s | 0x20) - 'a' + 10 : 99;
		if (d >= base || __builtin_mul_overflow(*v, (uint64_t)base, v) || __builtin_add_overflow(*v, (uint64_t)d, v) ||
			*v > lim)
			return 0;
	}
	return 1;
}

/* construct_yaml_int on an int-shaped text: 0 ok, -1 malformed, -2 out of int64 range. */
static int to_int(const char *text, json_int_t *out)
{
	char *c = clean(text, 0), *v = c;
	uint64_t u = 0, lim;
	int neg = 0, rc = 0;
	if (!c)
		return -3;
	if (*v == '-' || *v == '+')
		neg = *v++ == '-';
	lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
	if (!*v) {
		rc = -1;
	} else if (!strcmp(v, "0")) {
		u = 0;
	} else if (v[0] == '0' && (v[1] == 'b' || v[1] == 'x')) {
		rc = accum(v + 2, v[1] == 'b' ? 2 : 16, lim, &u) ? 0 : v[2] ? -2 : -1;
	} else if (v[0] == '0') {
		rc = accum(v, 8, lim, &u) ? 0 : -2;
	} else if (strchr(v, ':')) { /* base 60: "1:30" is 90 */
		char *save = NULL;
		for (char *part = strtok_r(v, ":", &save); part && !rc; part = strtok_r(NULL, ":", &save)) {
			uint64_t d;
			if (!accum(part, 10, lim, &d) || __builtin_mul_overflow(u, (uint64_t)60, &u) ||
				__builtin_add_overflow(u, d, &u) || u > lim)
				rc = -2;
		}
	} else {
		rc = accum(v, 10, lim, &u) ? 0 : -2;
	}
	free(c);
	if (!rc)
		*out = neg ? (json_int_t)(0 - u) : (json_int_t)u;
	return rc;
}

/* construct_yaml_float: 0 ok, -1 malformed, -2 not finite. */
static int to_float(const char *text, double *out)
{
	char *c = clean(text, 1), *v = c, *end;
	double sign = 1.0, x = 0.0;
	int rc = 0;
	if (!c)
		return -3;
	if (*v == '-' || *v == '+')
		sign = *v++ == '-' ? -1.0 : 1.0;
	if (!*v || v[strspn(v, "0123456789.e+-:")] || !strcmp(v, "."))
		rc = strcmp(v, ".inf") && strcmp(v, ".nan") ? -1 : -2;
	else if (strchr(v, ':')) {
		/* PyYAML adds the parts from the right, each times 60^k */
		size_t np = 1;
		double base = 1.0;
		for (char *p = v; *p; p++)
			np += *p == ':';
		for (size_t k = 0; k < np && !rc; k++) {
			char *p = strrchr(v, ':'), *part = p ? p + 1 : v;
			double d = strtod(part, &end);
			if (end == part || *end)
				rc = -1;
			x += d * base;
			base *= 60.0;
			if (p)
				*p = '\0';
		}
	} else {
		x = strtod(v, &end);
		if (end == v || *end)
			rc = -1;
	}
	free(c);
	if (!rc && !isfinite(x))
		rc = -2;
	if (!rc)
		*out = sign * x;
	return rc;
}

static int scalar_json(const char *path, const ydoc_node *n, json_t **out, ck_err *e)
{
	const char *t = n->tag, *s = n->value;
	size_t len = strlen(s);
	rtype r;
	json_int_t iv = 0;
	double dv = 0;
	int rc;
	if (t && !strcmp(t, "!")) /* PyYAML resolves "!" like an untagged plain scalar, even quoted */
		r = resolve(s, len);
	else if (t && !strcmp(t, T_STR))
		r = R_STR;
	else if (t && !strcmp(t, T_INT))
		r = R_INT;
	else if (t && !strcmp(t, T_FLOAT))
		r = R_FLOAT;
	else if (t && !strcmp(t, T_NULL))
		r = R_NULL;
	else if (t && !strcmp(t, T_BOOL)) {
		static const char *const w[] = {"yes", "no", "true", "false", "on", "off", NULL};
		char *lc = clean(s, 1);
		int ok = lc && strlen(lc) == len && is_word(lc, len, w);
		free(lc);
		if (!ok)
			return ck_errf(e, CK_EINVALID, "%s:%d:%d: '%.100s' is not a boolean (yes/no/true/false/on/off)",
				path, n->line, n->col, s);
		r = R_BOOL;
	} else if (t)
		return ck_errf(e, CK_EINVALID, "%s:%d:%d: unsupported tag '%.100s'", path, n->line, n->col, t);
	else
		r = n->quoted ? R_STR : resolve(s, len);
	switch (r) {
	case R_MERGE:
	case R_VALUE: /* PyYAML's SafeLoader cannot construct these either */
		return ck_errf(e, CK_EINVALID, "%s:%d:%d: plain '%s' is not a value in YAML 1.1 (quote it)", path,
			n->line, n->col, s);
	case R_NULL:
		*out = json_null();
		return 0;
	case R_BOOL:
		*out = json_boolean(strchr("yYtT", s[0]) || ((s[0] | 0x20) == 'o' && (s[1] | 0x20) == 'n'));
		return 0;
	case R_INT:
		rc = is_int(s, len) ? to_int(s, &iv) : -1;
		if (rc == -1)
			return ck_errf(e, CK_EINVALID, "%s:%d:%d: '%.100s' is not an integer", path, n->line, n->col, s);
		if (rc == -2)
			return ck_errf(e, CK_ELIMIT, "%s:%d:%d: integer %.100s is out of the 64-bit range", path, n->line,
				n->col, s);
		if (rc)
			break;
		*out = json_integer(iv);
		return *out ? 0 : ck_errf(e, CK_ENOMEM, "%s: out of memory", path);
	case R_FLOAT:
		rc = to_float(s, &dv);
		if (rc == -1)
			return ck_errf(e, CK_EINVALID, "%s:%d:%d: '%.100s' is not a float", path, n->line, n->col, s);
		if (rc == -2)
			return ck_errf(e, CK_EINVALID, "%s:%d:%d: %.100s: non-finite floats are not supported", path,
				n->line, n->col, s);
		if (rc)
			break;
		*out = json_real(dv);
		return *out ? 0 : ck_errf(e, CK_ENOMEM, "%s: out of memory", path);
	default:
		if ((*out = json_stringn(s, len)))
			return 0;
		return ck_errf(e, CK_EINVALID, "%s:%d:%d: string is not valid UTF-8 (or out of memory)", path, n->line,
			n->col);
	}
	return ck_errf(e, CK_ENOMEM, "%s: out of memory", path);
}

static int node_json(const char *path, const ydoc_node *n, int depth, json_t **out, ck_err *e)
{
	json_t *c = NULL;
	int rc = 0;
	*out = NULL;
	if (depth > YDOC_MAX_DEPTH + 1)
		return ck_errf(e, CK_ELIMIT, "%s:%d:%d: nested deeper than %d", path, n->line, n->col, YDOC_MAX_DEPTH);
	if (n->kind == YDOC_SCALAR)
		return scalar_json(path, n, out, e);
	if (n->tag && strcmp(n->tag, "!") && strcmp(n->tag, n->kind == YDOC_MAP ? T_MAP : T_SEQ))
		return ck_errf(e, CK_EINVALID, "%s:%d:%d: unsupported tag '%.100s' on a %s", path, n->line, n->col,
			n->tag, ydoc_kind_name(n->kind));
	if (!(c = n->kind == YDOC_MAP ? json_object() : json_array()))
		return ck_errf(e, CK_ENOMEM, "%s: out of memory", path);
	for (size_t i = 0; i < n->n && !rc; i++) {
		const ydoc_node *k = n->kind == YDOC_MAP ? n->items[2 * i] : NULL;
		json_t *v = NULL;
		if (k && k->kind != YDOC_SCALAR) {
			rc = ck_errf(e, CK_EINVALID, "%s:%d:%d: mapping keys must be scalars, found a %s", path, k->line,
				k->col, ydoc_kind_name(k->kind));
			break;
		}
		if ((rc = node_json(path, k ? n->items[2 * i + 1] : n->items[i], depth + 1, &v, e)))
			break;
		if (k ? json_object_set_new(c, k->value, v) : json_array_append_new(c, v))
			rc = ck_errf(e, CK_ENOMEM, "%s:%d:%d: cannot store value (out of memory or key not UTF-8)", path,
				n->line, n->col);
	}
	if (rc) {
		json_decref(c);
		return rc;
	}
	*out = c;
	return 0;
}

int valio_from_yd(const char *path, const ydoc_node *n, json_t **out, ck_err *e)
{
	*out = NULL;
	if (!n) {
		*out = json_null();
		return 0;
	}
	return node_json(path, n, 0, out, e);
}

int valio_yaml_load(const char *path, json_t **out, ck_err *e)
{
	ydoc_doc *d = NULL;
	int rc;
	*out = NULL;
	if ((rc = ydoc_load_file(path, &d, e)))
		return rc;
	rc = valio_from_yd(path, d->root, out, e);
	ydoc_doc_free(d);
	return rc;
}

void valio_json_why(const json_error_t *je, int quote, char out[JSON_ERROR_TEXT_LENGTH])
{
	const char *near = strstr(je->text, " near '");
	size_t keep = near ? (size_t)(near - je->text) : strlen(je->text);
	snprintf(out, JSON_ERROR_TEXT_LENGTH, "%.*s", (int)keep, je->text);
	if (!near || !quote)
		return;
	near += 7; /* the quoted text runs to the last "'" */
	size_t len = strlen(near), q;
	if (len && near[len - 1] == '\'')
		len--;
	if ((q = len) > CK_MAX_NEAR)
		for (q = CK_MAX_NEAR - 3; q && ((unsigned char)near[q] & 0xC0) == 0x80; q--)
			;
	snprintf(out + keep, JSON_ERROR_TEXT_LENGTH - keep, " near '%.*s%s'", (int)q, near, q < len ? "..." : "");
}

int valio_json_load(const char *path, json_t **out, ck_err *e)
{
	json_error_t je;
	char *text, why[JSON_ERROR_TEXT_LENGTH];
	size_t len;
	int rc;
	*out = NULL;
	if ((rc = io_slurp(path, CK_MAX_META_FILE, &text, &len, e)))
		return rc;
	*out = json_loadb(text, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
	free(text);
	if (*out)
		return 0;
	if (json_error_code(&je) == json_error_out_of_memory)
		return ck_errf(e, CK_ENOMEM, "%s: out of memory", path);
	valio_json_why(&je, !io_via_link(path), why);
	return ck_errf(e, CK_EINVALID, "%s:%d:%d: %s", path, je.line, je.column, why);
}

/* ---- Python float repr ---- */

/* |d| as m * 10^scale with m of prec digits; 1 when that reads back as |d|. Also tries the
 * neighbour on the other side of |d| when the nearest fails (possible at binade edges). */
static int try_digits(double a, int prec, uint64_t *m, int *scale)
{
	char t[48], *p = t, *end;
	double g;
	snprintf(t, sizeof t, "%.*e", prec - 1, a);
	*m = 0;
	for (; *p && *p != 'e'; p++)
		if (is_dig(*p))
			*m = *m * 10 + (uint64_t)(*p - '0');
	*scale = (int)strtol(p + 1, &end, 10) - (prec - 1);
	if ((g = strtod(t, NULL)) == a)
		return 1;
	*m = g > a ? *m - 1 : *m + 1;
	snprintf(t, sizeof t, "%" PRIu64 "e%d", *m, *scale);
	return strtod(t, NULL) == a;
}

const char *valio_fmt_double(double d, char buf[40])
{
	char dig[24], *o = buf;
	uint64_t m = 0;
	int prec, scale = 0, exp, nd;
	if (isnan(d))
		return strcpy(buf, "nan");
	if (isinf(d))
		return strcpy(buf, d < 0 ? "-inf" : "inf");
	/* Shortest digit string that reads back to the same double, as repr() does. */
	for (prec = 1; prec <= 17 && !try_digits(fabs(d), prec, &m, &scale); prec++)
		;
	nd = snprintf(dig, sizeof dig, "%" PRIu64, m);
	exp = scale + nd - 1; /* of the leading digit */
	while (nd > 1 && dig[nd - 1] == '0')
		dig[--nd] = '\0';
	if (signbit(d))
		*o++ = '-';
	if (exp < -4 || exp >= 16) {
		*o++ = dig[0];
		if (nd > 1)
			o += sprintf(o, ".%s", dig + 1);
		sprintf(o, "e%c%02d", exp < 0 ? '-' : '+', exp < 0 ? -exp : exp);
	} else if (exp < 0) {
		o += sprintf(o, "0.");
		for (int i = 0; i < -exp - 1; i++)
			*o++ = '0';
		strcpy(o, dig);
	} else {
		for (int i = 0; i <= exp; i++)
			*o++ = i < nd ? dig[i] : '0';
		*o++ = '.';
		strcpy(o, nd > exp + 1 ? dig + exp + 1 : "0");
	}
	return buf;
}

/* Next code point of UTF-8 s[*i..n); invalid bytes come out as U+FFFD. */
static uint32_t utf8_next(const unsigned char *s, size_t n, size_t *i)
{
	uint32_t c;
	size_t k = text_utf8_next(s + *i, n - *i, &c);
	*i += k ? k : 1;
	return k ? c : 0xFFFD;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Keys of an object in code point (= UTF-8 byte) order, as Python's sorted(). NULL when empty/OOM. */
static const char **sorted_keys(const json_t *o, size_t *n)
{
	const char **k, *key;
	json_t *v;
	size_t i = 0;
	*n = json_object_size(o);
	if (!*n || !(k = malloc(*n * sizeof *k)))
		return NULL;
	json_object_foreach((json_t *)o, key, v)
		k[i++] = key;
	qsort(k, *n, sizeof *k, cmp_str);
	return k;
}

/* ---- JSON writer: json.dumps(indent=2, sort_keys=True, ensure_ascii=True) ---- */

/* Python json.dumps layout: indent < 0 is one line with ", " and ": "; otherwise a newline
 * and indent spaces per level, "," at line ends. */
static void js_sep(text *b, int indent, size_t level, int first)
{
	if (indent < 0) {
		if (!first)
			text_puts(b, ", ");
		return;
	}
	text_puts(b, first ? "\n" : ",\n");
	text_spaces(b, (size_t)indent * level);
}

static void js_val(text *b, const json_t *v, size_t level, int indent, int sort)
{
	char num[40];
	size_t n = 0;
	switch (json_typeof(v)) {
	case JSON_OBJECT: {
		const char **k = NULL, *key;
		json_t *x;
		if (!json_object_size(v)) {
			text_puts(b, "{}");
			break;
		}
		if (sort && !(k = sorted_keys(v, &n))) {
			b->oom = 1;
			break;
		}
		text_puts(b, "{");
		if (sort) {
			for (size_t i = 0; i < n; i++) {
				js_sep(b, indent, level + 1, i == 0);
				text_json_str(b, k[i], strlen(k[i]), 1);
				text_puts(b, ": ");
				js_val(b, json_object_get(v, k[i]), level + 1, indent, sort);
			}
		} else {
			json_object_foreach((json_t *)v, key, x) {
				js_sep(b, indent, level + 1, n++ == 0);
				text_json_str(b, key, strlen(key), 1);
				text_puts(b, ": ");
				js_val(b, x, level + 1, indent, sort);
			}
		}
		if (indent >= 0) {
			text_puts(b, "\n");
			text_spaces(b, (size_t)indent * level);
		}
		text_puts(b, "}");
		free(k);
		break;
	}
	case JSON_ARRAY:
		if (!(n = json_array_size(v))) {
			text_puts(b, "[]");
			break;
		}
		text_puts(b, "[");
		for (size_t i = 0; i < n; i++) {
			js_sep(b, indent, level + 1, i == 0);
			js_val(b, json_array_get(v, i), level + 1, indent, sort);
		}
		if (indent >= 0) {
			text_puts(b, "\n");
			text_spaces(b, (size_t)indent * level);
		}
		text_puts(b, "]");
		break;
	case JSON_STRING:
		text_json_str(b, json_string_value(v), json_string_length(v), 1);
		break;
	case JSON_INTEGER:
		snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		text_puts(b, num);
		break;
	case JSON_REAL: {
		double d = json_real_value(v);
		text_puts(b, isnan(d) ? "NaN" : isinf(d) ? (d < 0 ? "-Infinity" : "Infinity") : valio_fmt_double(d, num));
		break;
	}
	case JSON_TRUE:
		text_puts(b, "true");
		break;
	case JSON_FALSE:
		text_puts(b, "false");
		break;
	default:
		text_puts(b, "null");
	}
}

char *valio_json_text(const json_t *v, int indent, int sort_keys)
{
	text b = {0};
	if (!v)
		return NULL;
	js_val(&b, v, 0, indent, sort_keys);
	return text_take(&b);
}

char *valio_json_dumps(const json_t *v)
{
	text b = {0};
	if (!v)
		return NULL;
	js_val(&b, v, 0, 2, 1);
	text_puts(&b, "\n");
	return text_take(&b);
}

/* ---- YAML writer: PyYAML's block emitter (width 80, indent 2, allow_unicode=False) ----
 * Hand-written because libyaml's yaml_emitter_* (tried: the same events PyYAML's serializer
 * sends, width 80, indent 2, unicode off) differs from PyYAML's emitter in three places the
 * byte tests (test_valio dump cases 0-11, 13, 18) pin, and the first two cannot be steered
 * from outside the emitter: (1) which keys become "? key\n: value": PyYAML for an empty key
 * or one of 123+ characters (it counts code points plus the "!!str" tag), libyaml for one over
 * 128 bytes; (2) long double-quoted scalars: PyYAML folds with an escaped line break
 * (a backslash ends the line and the next starts with "\ "), libyaml with a plain break that
 * drops the space; (3) PyYAML ends a document whose root is a plain scalar with "...". */

typedef struct em {
	text b;
	size_t col;     /* in code points, as PyYAML counts */
	long indent;    /* -1: not set yet (PyYAML's None) */
	int ws, ind;    /* last write was whitespace; still at an indentation point */
	int open_ended; /* a plain root scalar: the stream ends with "..." */
} em;

typedef struct scan {
	int empty, multiline, plain, single; /* plain: allowed in block context */
} scan;

static int is_brk(uint32_t c)
{
	return c == '\n' || c == 0x85 || c == 0x2028 || c == 0x2029;
}

static int is_ws0(uint32_t c)
{
	return c == 0 || c == ' ' || c == '\t' || c == '\r' || is_brk(c);
}

static void em_put(em *m, const char *s, size_t n)
{
	text_add(&m->b, s, n);
	m->col += n;
}

static void em_cps(em *m, const uint32_t *t, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint32_t c = t[i];
		char u[4];
		size_t k = c < 0x80 ? 1 : c < 0x800 ? 2 : c < 0x10000 ? 3 : 4;
		if (k == 1)
			u[0] = (char)c;
		else {
			u[0] = (char)(((0xF00u >> k) & 0xFF) | (c >> (6 * (k - 1))));
			for (size_t j = 1; j < k; j++)
				u[j] = (char)(0x80 | ((c >> (6 * (k - 1 - j))) & 0x3F));
		}
		text_add(&m->b, u, k);
	}
	m->col += n;
}

static void em_indicator(em *m, const char *s, int need_ws, int ws, int ind)
{
	if (!m->ws && need_ws)
		em_put(m, " ", 1);
	em_put(m, s, strlen(s));
	m->ws = ws;
	m->ind = m->ind && ind;
	m->open_ended = 0;
}

static void em_break(em *m, uint32_t c)
{
	m->col = 0;
	em_cps(m, &c, 1);
	m->col = 0;
	m->ws = m->ind = 1;
}

static void em_indent(em *m)
{
	size_t ind = m->indent < 0 ? 0 : (size_t)m->indent;
	if (!m->ind || m->col > ind || (m->col == ind && !m->ws))
		em_break(m, '\n');
	if (m->col < ind) {
		m->ws = 1;
		text_spaces(&m->b, ind - m->col);
		m->col = ind;
	}
}

static void em_more(em *m, int flow, int indentless)
{
	if (m->indent < 0)
		m->indent = flow ? 2 : 0;
	else if (!indentless)
		m->indent += 2;
}

/* Which styles PyYAML allows for this text (its analyze_scalar, block context only). */
static scan analyze(const uint32_t *t, size_t n)
{
	scan a = {0, 0, 0, 0};
	int ind = 0, brk = 0, special = 0, edge = 0, br_sp = 0, sp_br = 0, prev_sp = 0, prev_br = 0;
	if (!n) {
		a.empty = a.plain = a.single = 1;
		return a;
	}
	if (n >= 3 && t[0] == t[1] && t[1] == t[2] && (t[0] == '-' || t[0] == '.'))
		ind = 1;
	for (size_t i = 0; i < n; i++) {
		uint32_t c = t[i];
		int followed = i + 1 >= n || is_ws0(t[i + 1]), preceded = i == 0 || is_ws0(t[i - 1]);
		if (i == 0 && c < 0x80 && c && strchr("#,[]{}&*!|>'\"%@`", (int)c))
			ind = 1;
		if (i == 0 && (c == '?' || c == '-') && followed)
			ind = 1;
		if ((c == ':' && followed) || (i > 0 && c == '#' && preceded))
			ind = 1;
		brk |= is_brk(c);
		special |= !(c == '\n' || (c >= 0x20 && c <= 0x7E));
		if (c == ' ' || is_brk(c)) {
			edge |= i == 0 || i == n - 1;
			if (c == ' ')
				br_sp |= prev_br;
			else
				sp_br |= prev_sp;
		}
		prev_sp = c == ' ';
		prev_br = is_brk(c);
	}
	a.multiline = brk;
	a.plain = !(edge || br_sp || sp_br || special || brk || ind);
	a.single = !(br_sp || sp_br || special);
	return a;
}

static void w_plain(em *m, const uint32_t *t, size_t n, int split)
{
	size_t start = 0;
	int spaces = 0;
	if (!n)
		return;
	if (!m->ws)
		em_put(m, " ", 1);
	m->ws = m->ind = 0;
	for (size_t end = 0; end <= n; end++) {
		long ch = end < n ? (long)t[end] : -1;
		if (spaces) {
			if (ch != ' ') {
				if (start + 1 == end && m->col > YAML_WIDTH && split) { /* fold at this space */
					em_indent(m);
					m->ws = m->ind = 0;
				} else {
					em_cps(m, t + start, end - start);
				}
				start = end;
			}
		} else if (ch == -1 || ch == ' ') { /* plain text never holds line breaks */
			em_cps(m, t + start, end - start);
			start = end;
		}
		spaces = ch == ' ';
	}
}

static void w_single(em *m, const uint32_t *t, size_t n, int split)
{
	size_t start = 0;
	int spaces = 0, breaks = 0;
	em_indicator(m, "'", 1, 0, 0);
	for (size_t end = 0; end <= n; end++) {
		long ch = end < n ? (long)t[end] : -1;
		if (spaces) {
			if (ch != ' ') {
				if (start + 1 == end && m->col > YAML_WIDTH && split && start != 0 && end != n)
					em_indent(m);
				else
					em_cps(m, t + start, end - start);
				start = end;
			}
		} else if (breaks) {
			if (ch == -1 || !is_brk((uint32_t)ch)) { /* a break is folded, so n breaks need n+1 */
				if (t[start] == '\n')
					em_break(m, '\n');
				for (size_t j = start; j < end; j++)
					em_break(m, t[j]);
				em_indent(m);
				start = end;
			}
		} else if ((ch == -1 || ch == ' ' || ch == '\'' || is_brk((uint32_t)ch)) && start < end) {
			em_cps(m, t + start, end - start);
			start = end;
		}
		if (ch == '\'') {
			em_put(m, "''", 2);
			start = end + 1;
		}
		if (ch != -1) {
			spaces = ch == ' ';
			breaks = is_brk((uint32_t)ch);
		}
	}
	em_indicator(m, "'", 0, 0, 0);
}

static void yaml_escape(uint32_t c, char out[16])
{
	static const char from[] = {0, 7, 8, 9, 10, 11, 12, 13, 27, '"', '\\'};
	static const char to[] = "0abtnvfre\"\\";
	for (size_t i = 0; i < sizeof from; i++)
		if (c == (uint32_t)from[i]) {
			snprintf(out, 16, "\\%c", to[i]);
			return;
		}
	if (c == 0x85 || c == 0xA0 || c == 0x2028 || c == 0x2029)
		snprintf(out, 16, "\\%c", c == 0x85 ? 'N' : c == 0xA0 ? '_' : c == 0x2028 ? 'L' : 'P');
	else
		snprintf(out, 16, c <= 0xFF ? "\\x%02X" : c <= 0xFFFF ? "\\u%04X" : "\\U%08X", c);
}

static void w_double(em *m, const uint32_t *t, size_t n, int split)
{
	size_t start = 0;
	char esc[16];
	em_indicator(m, "\"", 1, 0, 0);
	for (size_t end = 0; end <= n; end++) {
		long ch = end < n ? (long)t[end] : -1;
		if (ch == -1 || ch == '"' || ch == '\\' || ch == 0xFEFF || ch < 0x20 || ch > 0x7E) {
			if (start < end) {
				em_cps(m, t + start, end - start);
				start = end;
			}
			if (ch != -1) {
				yaml_escape((uint32_t)ch, esc);
				em_put(m, esc, strlen(esc));
				start = end + 1;
			}
		}
		/* fold long lines with an escaped line break, as PyYAML does */
		if (end > 0 && end + 1 < n && (ch == ' ' || start >= end) &&
			(long)m->col + (long)end - (long)start > YAML_WIDTH && split) {
			if (start < end) {
				em_cps(m, t + start, end - start);
				start = end;
			}
			em_put(m, "\\", 1);
			em_indent(m);
			m->ws = m->ind = 0;
			if (t[start] == ' ')
				em_put(m, "\\", 1);
		}
	}
	em_indicator(m, "\"", 0, 0, 0);
}

/* Code points of UTF-8 s; NULL when out of memory. */
static uint32_t *decode(const char *s, size_t len, size_t *n)
{
	uint32_t *t = malloc((len + 1) * sizeof *t);
	*n = 0;
	if (t)
		for (size_t i = 0; i < len;)
			t[(*n)++] = utf8_next((const unsigned char *)s, len, &i);
	return t;
}

static void em_scalar(em *m, const char *s, size_t len, int is_str, int simple_key, int root)
{
	size_t n;
	uint32_t *t = decode(s, len, &n);
	long saved = m->indent;
	if (!t) {
		m->b.oom = 1;
		return;
	}
	scan a = analyze(t, n);
	/* plain only if it reads back as the same type: "yes", "1.0", "~" stay quoted as strings */
	int implicit = !is_str || resolve(s, len) == R_STR;
	em_more(m, 1, 0);
	if (implicit && !(simple_key && (a.empty || a.multiline)) && a.plain) {
		m->open_ended |= root;
		w_plain(m, t, n, !simple_key);
	} else if (a.single && !(simple_key && a.multiline)) {
		w_single(m, t, n, !simple_key);
	} else {
		w_double(m, t, n, !simple_key);
	}
	m->indent = saved;
	free(t);
}

/* PyYAML's SafeRepresenter text for a non-string scalar. */
static const char *scalar_text(const json_t *v, char buf[48])
{
	switch (json_typeof(v)) {
	case JSON_TRUE:
		return "true";
	case JSON_FALSE:
		return "false";
	case JSON_INTEGER:
		snprintf(buf, 48, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		return buf;
	case JSON_REAL: {
		double d = json_real_value(v);
		char *e;
		if (isnan(d) || isinf(d))
			return isnan(d) ? ".nan" : d < 0 ? "-.inf" : ".inf";
		valio_fmt_double(d, buf);
		if (!strchr(buf, '.') && (e = strchr(buf, 'e'))) { /* "1e-05" would read back as a string */
			memmove(e + 2, e, strlen(e) + 1);
			memcpy(e, ".0", 2);
		}
		return buf;
	}
	default:
		return "null";
	}
}

static void em_node(em *m, const json_t *v, int root, int map_ctx, int simple_key);

static void em_seq(em *m, const json_t *v, int map_ctx)
{
	long saved = m->indent;
	size_t n = json_array_size(v);
	if (!n) {
		em_indicator(m, "[", 1, 1, 0);
		em_indicator(m, "]", 0, 0, 0);
		return;
	}
	em_more(m, 0, map_ctx && !m->ind); /* "key:\n- a": not indented under a mapping key */
	for (size_t i = 0; i < n; i++) {
		em_indent(m);
		em_indicator(m, "-", 1, 0, 1);
		em_node(m, json_array_get(v, i), 0, 0, 0);
	}
	m->indent = saved;
}

static int simple_key(const char *k)
{
	size_t n = 0, len = strlen(k);
	for (size_t i = 0; i < len;) {
		if (is_brk(utf8_next((const unsigned char *)k, len, &i)))
			return 0;
		n++;
	}
	return n > 0 && n + 5 < 128; /* PyYAML counts the "!!str" tag it then omits */
}

static void em_map(em *m, const json_t *v)
{
	long saved = m->indent;
	size_t n;
	const char **k = sorted_keys(v, &n);
	if (!k) {
		m->b.oom |= n > 0;
		em_indicator(m, "{", 1, 1, 0);
		em_indicator(m, "}", 0, 0, 0);
		return;
	}
	em_more(m, 0, 0);
	for (size_t i = 0; i < n; i++) {
		em_indent(m);
		if (simple_key(k[i])) {
			em_scalar(m, k[i], strlen(k[i]), 1, 1, 0);
			em_indicator(m, ":", 0, 0, 0);
		} else { /* "? key\n: value" for empty, multi-line or long keys */
			em_indicator(m, "?", 1, 0, 1);
			em_scalar(m, k[i], strlen(k[i]), 1, 0, 0);
			em_indent(m);
			em_indicator(m, ":", 1, 0, 1);
		}
		em_node(m, json_object_get(v, k[i]), 0, 1, 0);
	}
	m->indent = saved;
	free(k);
}

static void em_node(em *m, const json_t *v, int root, int map_ctx, int simple)
{
	char buf[48];
	const char *s;
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		em_map(m, v);
		break;
	case JSON_ARRAY:
		em_seq(m, v, map_ctx);
		break;
	case JSON_STRING:
		em_scalar(m, json_string_value(v), json_string_length(v), 1, simple, root);
		break;
	default:
		s = scalar_text(v, buf);
		em_scalar(m, s, strlen(s), 0, simple, root);
	}
}

char *valio_yaml_dumps(const json_t *v)
{
	em m = {{NULL, 0, 0, 0}, 0, -1, 1, 1, 0};
	if (!v)
		return NULL;
	em_node(&m, v, 1, 0, 0);
	em_indent(&m); /* document end */
	if (m.open_ended) {
		em_indicator(&m, "...", 1, 0, 0);
		em_indent(&m);
	}
	return text_take(&m.b);
}

/* ---- atomic file write ---- */

int valio_write_file(const char *path, const char *text, ck_err *e)
{
	char *tmp = NULL, *dir = NULL, *slash;
	size_t len = strlen(text), off = 0;
	int fd = -1, rc = 0;
	if (asprintf(&tmp, "%s.tmpXXXXXX", path) < 0) {
		tmp = NULL;
		return ck_errf(e, CK_ENOMEM, "%s: out of memory", path);
	}
	if ((fd = mkstemp(tmp)) < 0) {
		rc = ck_errf(e, CK_EIO, "%s: cannot create a temporary file next to it: %s", path, strerror(errno));
		free(tmp);
		return rc;
	}
	if (fchmod(fd, 0644) < 0) {
		rc = ck_errf(e, CK_EIO, "%s: chmod: %s", tmp, strerror(errno));
		goto done;
	}
	while (off < len) {
		ssize_t w = write(fd, text + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			rc = ck_errf(e, CK_EIO, "%s: write failed: %s", tmp, w < 0 ? strerror(errno) : "no progress");
			goto done;
		}
		off += (size_t)w;
	}
	if (fsync(fd) < 0) {
		rc = ck_errf(e, CK_EIO, "%s: fsync failed: %s", tmp, strerror(errno));
		goto done;
	}
	if (close(fd) < 0) {
		fd = -1;
		rc = ck_errf(e, CK_EIO, "%s: close failed: %s", tmp, strerror(errno));
		goto done;
	}
	fd = -1;
	if (rename(tmp, path) < 0) {
		rc = ck_errf(e, CK_EIO, "%s: cannot rename %s into place: %s", path, tmp, strerror(errno));
		goto done;
	}
	/* make the rename itself durable; best effort */
	if ((dir = strdup(path))) {
		int dfd;
		slash = strrchr(dir, '/');
		if (slash)
			slash[slash == dir] = '\0';
		if ((dfd = open(slash ? dir : ".", O_RDONLY | O_DIRECTORY)) >= 0) {
			(void)fsync(dfd);
			close(dfd);
		}
	}
done:
	if (fd >= 0)
		close(fd);
	if (rc)
		unlink(tmp);
	free(tmp);
	free(dir);
	return rc;
}
