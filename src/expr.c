/* expr.c - rule-file expressions: a tokenizer, a recursive-descent parser into a small tree, and
 * an evaluator over json_t values. Binary chains and postfix chains are stored flat (one node
 * with n operands) so that evaluation depth follows nesting, which the parser bounds. */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "expr.h"
#include "valio.h"

#define MAX_SRC (64 * 1024)
#define MAX_DEPTH 64
#define MAX_ITEMS 1000000         /* range(), list concatenation and repetition */
#define MAX_STR (16 * 1024 * 1024) /* string concatenation and repetition */
#define SHOW_MAX 240              /* source shown in messages */

/* --- tokens ------------------------------------------------------------------------------ */

enum { T_END, T_NUM, T_STR, T_IDENT, T_IDX, T_OP };

enum {
	O_NONE, O_COAL, O_OR, O_AND, O_EQ, O_NE, O_LE, O_GE, O_FDIV, /* two-character ones first */
	O_QUEST, O_COLON, O_NOT, O_LT, O_GT, O_ADD, O_SUB, O_MUL, O_DIV, O_MOD, O_DOT,
	O_LBRK, O_RBRK, O_LPAR, O_RPAR, O_LBRC, O_RBRC, O_COMMA,
	O_NTOK, O_IN = O_NTOK, O_NOTIN
};

static const char *const op_text[] = {
	[O_NONE] = "", [O_COAL] = "??", [O_OR] = "||", [O_AND] = "&&", [O_EQ] = "==", [O_NE] = "!=",
	[O_LE] = "<=", [O_GE] = ">=", [O_FDIV] = "//", [O_QUEST] = "?", [O_COLON] = ":", [O_NOT] = "!",
	[O_LT] = "<", [O_GT] = ">", [O_ADD] = "+", [O_SUB] = "-", [O_MUL] = "*", [O_DIV] = "/",
	[O_MOD] = "%", [O_DOT] = ".", [O_LBRK] = "[", [O_RBRK] = "]", [O_LPAR] = "(", [O_RPAR] = ")",
	[O_LBRC] = "{", [O_RBRC] = "}", [O_COMMA] = ",", [O_IN] = "in", [O_NOTIN] = "not in",
};

typedef struct tok {
	int type, op;
	size_t start, end;
	json_t *lit; /* T_NUM, T_STR: owned here until moved into the tree */
} tok;

/* --- tree -------------------------------------------------------------------------------- */

enum {
	N_LIT, N_ABSENT, N_NAME, N_CHAIN, N_CALL, N_LIST, N_DICT, N_NEG, N_POS, N_NOT,
	N_ARITH, N_AND, N_OR, N_COAL, N_CMP, N_COND, N_COMP
};

typedef struct node {
	int kind, fn;
	size_t start, end; /* span in the source, for messages */
	json_t *lit;       /* N_LIT */
	char *name;        /* N_NAME, N_CALL; N_COMP: the bound name (kid[0] item, kid[1] iterable, kid[2] condition) */
	size_t n, cap;
	struct node **kid; /* operands; N_CHAIN: kid[0] the base, kid[i] an index or NULL for .field */
	char **key;        /* N_DICT keys, N_CHAIN field names */
	int *op;           /* N_ARITH, N_CMP: op[i] joins the result so far with kid[i] */
	size_t *kend;      /* end of item i in the source: partial results span start..kend[i] */
} node;

struct expr {
	char *src, *where;
	size_t len;
	node *root;
	char **refs;
	size_t nrefs;
};

enum { F_SQRT, F_INT, F_FLOAT, F_STR, F_LEN, F_MIN, F_MAX, F_ABS, F_POW, F_ROUND, F_RANGE, F_LIST, F_LOG, F_LOWER,
	F_MERGE, F_WITHOUT, F_ERROR, F_REPLACE, F_TYPE, F_ITEMS, F_DICT, F_COUNT };

static const struct {
	const char *name;
	int min, max; /* max -1: any */
} fns[F_COUNT] = {
	[F_SQRT] = {"sqrt", 1, 1}, [F_INT] = {"int", 1, 1}, [F_FLOAT] = {"float", 1, 1},
	[F_STR] = {"str", 1, 1}, [F_LEN] = {"len", 1, 1}, [F_MIN] = {"min", 1, -1},
	[F_MAX] = {"max", 1, -1}, [F_ABS] = {"abs", 1, 1}, [F_POW] = {"pow", 2, 2},
	[F_ROUND] = {"round", 1, 1}, [F_RANGE] = {"range", 1, 1}, [F_LIST] = {"list", 1, 1},
	[F_LOG] = {"log", 1, 1}, [F_LOWER] = {"lower", 1, 1}, [F_MERGE] = {"merge", 1, -1},
	[F_WITHOUT] = {"without", 2, 2}, [F_ERROR] = {"error", 1, 1},
	[F_REPLACE] = {"replace", 3, 3}, [F_TYPE] = {"type", 1, 1},
	[F_ITEMS] = {"items", 1, 1}, [F_DICT] = {"dict", 1, 1},
};

static char absent_tag;

json_t *expr_absent(void)
{
	return (json_t *)(void *)&absent_tag;
}

static void node_free(node *n)
{
	if (!n)
		return;
	for (size_t i = 0; i < n->n; i++) {
		node_free(n->kid[i]);
		free(n->key[i]);
	}
	json_decref(n->lit);
	free(n->name);
	free(n->kid);
	free(n->key);
	free(n->op);
	free(n->kend);
	free(n);
}

/* --- messages ---------------------------------------------------------------------------- */

/* One-line copy of s[0..len) for a message, cut with "..." to fit n (>= 4) bytes. */
static const char *show(const char *s, size_t len, char *buf, size_t n)
{
	size_t cut = len > n - 1, take = cut ? n - 4 : len, i;
	for (i = 0; i < take; i++)
		buf[i] = (s[i] == '\n' || s[i] == '\r' || s[i] == '\t') ? ' ' : s[i];
	if (cut)
		memcpy(buf + i, "...", 3), i += 3;
	buf[i] = '\0';
	return buf;
}

/* "<where>: in '<src>': [' <sub>': ]<problem>"; sub shown only when it is not the whole expression. */
static int verr(const expr *x, ck_err *e, int code, size_t s, size_t end, const char *fmt, va_list ap)
{
	char src[SHOW_MAX + 4], part[SHOW_MAX + 4], msg[1024];
	const char *w = x->where ? x->where : "";
	vsnprintf(msg, sizeof msg, fmt, ap);
	show(x->src, x->len, src, sizeof src);
	if (end > s && x->root && !(s == x->root->start && end == x->root->end))
		return ck_errf(e, code, "%s%sin '%s': '%s': %s", w, *w ? ": " : "", src,
			show(x->src + s, end - s, part, sizeof part), msg);
	return ck_errf(e, code, "%s%sin '%s': %s", w, *w ? ": " : "", src, msg);
}

static int xerr(const expr *x, ck_err *e, int code, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int xerr(const expr *x, ck_err *e, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	verr(x, e, code, 0, 0, fmt, ap);
	va_end(ap);
	return code;
}

/* "int 4", "string 'a'", "list [1, 2]": a value named for a message */
static const char *describe(const json_t *v, char *buf, size_t n)
{
	char num[40], *d = NULL;
	const char *t;
	switch (json_typeof(v)) {
	case JSON_INTEGER:
		snprintf(buf, n, "int %" JSON_INTEGER_FORMAT, json_integer_value(v));
		return buf;
	case JSON_REAL:
		snprintf(buf, n, "float %s", expr_float_str(json_real_value(v), num, sizeof num));
		return buf;
	case JSON_TRUE:
		return "bool true";
	case JSON_FALSE:
		return "bool false";
	case JSON_NULL:
		return "null";
	case JSON_STRING:
		t = "string";
		break;
	case JSON_ARRAY:
		t = "list";
		break;
	default:
		t = "dict";
		break;
	}
	char shown[64];
	if (json_is_string(v)) {
		show(json_string_value(v), json_string_length(v), shown, 44);
		snprintf(buf, n, "string '%s'", shown);
		return buf;
	}
	d = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
	snprintf(buf, n, "%s %s", t, d ? show(d, strlen(d), shown, 44) : "");
	free(d);
	return buf;
}

/* --- tokenizer --------------------------------------------------------------------------- */

typedef struct ps {
	expr *x;
	ck_err *e;
	tok *t;
	size_t nt, cap, i;
	int depth;
} ps;

static size_t col_of(const ps *p, const tok *t)
{
	if (t->type != T_END)
		return t->start + 1;
	size_t n = p->x->len; /* the end is reported at the last character, where the missing part goes */
	while (n > 0 && isspace((unsigned char)p->x->src[n - 1]))
		n--;
	return n ? n : 1;
}

static const char *tok_desc(const ps *p, const tok *t, char *buf, size_t n)
{
	char s[48];
	if (t->type == T_END)
		return "end of expression";
	snprintf(buf, n, "'%s'", show(p->x->src + t->start, t->end - t->start, s, sizeof s));
	return buf;
}

static int lex_err(ps *p, size_t at, const char *expected, const char *found)
{
	return xerr(p->x, p->e, CK_EINVALID, "expected %s at column %zu, found %s", expected, at + 1, found);
}

static int lex_string(ps *p, size_t *pos, json_t **out)
{
	const char *s = p->x->src;
	size_t i = *pos + 1, o = 0;
	char q = s[*pos], *buf = malloc(p->x->len + 1), found[8];
	if (!buf)
		return ck_errf(p->e, CK_ENOMEM, "out of memory");
	for (;; i++) {
		if (!s[i]) {
			free(buf);
			snprintf(found, sizeof found, "%c", q);
			return xerr(p->x, p->e, CK_EINVALID, "expected a closing %s for the string at column %zu, "
				"found end of expression", found, *pos + 1);
		}
		if (s[i] == q)
			break;
		if (s[i] != '\\') {
			buf[o++] = s[i];
			continue;
		}
		i++;
		switch (s[i]) {
		case '\\': case '\'': case '"': buf[o++] = s[i]; break;
		case 'n': buf[o++] = '\n'; break;
		case 't': buf[o++] = '\t'; break;
		default:
			free(buf);
			snprintf(found, sizeof found, s[i] ? "'\\%c'" : "'\\'", s[i]);
			return lex_err(p, i - 1, "one of \\\\ \\' \\\" \\n \\t", found);
		}
	}
	*out = json_stringn(buf, o);
	free(buf);
	*pos = i + 1;
	if (!*out)
		return xerr(p->x, p->e, CK_EINVALID, "string at column %zu is not valid UTF-8", *pos);
	return 0;
}

static int lex_number(ps *p, size_t *pos, json_t **out)
{
	const char *s = p->x->src;
	size_t i = *pos, st = *pos;
	int real = 0;
	char *end;
	while (isdigit((unsigned char)s[i]))
		i++;
	if (s[i] == '.' && isdigit((unsigned char)s[i + 1])) {
		real = 1;
		for (i++; isdigit((unsigned char)s[i]); i++)
			;
	}
	if ((s[i] == 'e' || s[i] == 'E') && (isdigit((unsigned char)s[i + 1]) ||
		((s[i + 1] == '+' || s[i + 1] == '-') && isdigit((unsigned char)s[i + 2])))) {
		real = 1;
		for (i += 2; isdigit((unsigned char)s[i]); i++)
			;
	}
	char *txt = strndup(s + st, i - st);
	if (!txt)
		return ck_errf(p->e, CK_ENOMEM, "out of memory");
	errno = 0;
	if (real) {
		double d = strtod(txt, &end);
		*out = isfinite(d) ? json_real(d) : NULL;
	} else {
		long long v = strtoll(txt, &end, 10);
		*out = errno ? NULL : json_integer(v);
	}
	free(txt);
	*pos = i;
	if (!*out)
		return xerr(p->x, p->e, CK_EINVALID, "number at column %zu is out of range", st + 1);
	return 0;
}

static int tokenize(ps *p)
{
	const char *s = p->x->src;
	size_t i = 0;
	for (;;) {
		tok t = {T_END, O_NONE, 0, 0, NULL};
		int rc = 0;
		while (isspace((unsigned char)s[i]))
			i++;
		t.start = i;
		if (p->nt == p->cap) {
			size_t c = p->cap ? p->cap * 2 : 16;
			tok *nt = realloc(p->t, c * sizeof *nt);
			if (!nt)
				return ck_errf(p->e, CK_ENOMEM, "out of memory");
			p->t = nt;
			p->cap = c;
		}
		int after_dot = p->nt && p->t[p->nt - 1].type == T_OP && p->t[p->nt - 1].op == O_DOT;
		if (!s[i]) {
			t.type = T_END;
		} else if (after_dot && isdigit((unsigned char)s[i])) {
			t.type = T_IDX; /* x.0: a list index, not the number 0.something */
			while (isdigit((unsigned char)s[i]))
				i++;
		} else if (isdigit((unsigned char)s[i])) {
			t.type = T_NUM;
			rc = lex_number(p, &i, &t.lit);
		} else if (s[i] == '\'' || s[i] == '"') {
			t.type = T_STR;
			rc = lex_string(p, &i, &t.lit);
		} else if (isalpha((unsigned char)s[i]) || s[i] == '_') {
			t.type = T_IDENT;
			while (isalnum((unsigned char)s[i]) || s[i] == '_')
				i++;
		} else {
			size_t best = 0;
			for (int o = O_COAL; o < O_NTOK; o++) {
				size_t l = strlen(op_text[o]);
				if (l > best && !strncmp(s + i, op_text[o], l)) {
					best = l;
					t.op = o;
				}
			}
			if (!best) {
				char found[16];
				snprintf(found, sizeof found, isprint((unsigned char)s[i]) ? "'%c'" : "byte 0x%02x",
					(unsigned char)s[i]);
				return lex_err(p, i, "an operator or operand", s[i] == '=' ? "'=' (use '==' to compare)" : found);
			}
			t.type = T_OP;
			i += best;
		}
		if (rc)
			return rc;
		t.end = i;
		p->t[p->nt++] = t;
		if (t.type == T_END)
			return 0;
	}
}

/* --- parser ------------------------------------------------------------------------------ */

static tok *cur(ps *p)
{
	return &p->t[p->i];
}

static int is_op(ps *p, int op)
{
	return cur(p)->type == T_OP && cur(p)->op == op;
}

static int is_kw_at(ps *p, size_t i, const char *kw)
{
	const tok *t = &p->t[i];
	size_t l = strlen(kw);
	return t->type == T_IDENT && t->end - t->start == l && !strncmp(p->x->src + t->start, kw, l);
}

static int is_kw(ps *p, const char *kw)
{
	return is_kw_at(p, p->i, kw);
}

static void adv(ps *p)
{
	if (cur(p)->type != T_END)
		p->i++;
}

static node *perr(ps *p, const char *expected)
{
	char f[64];
	xerr(p->x, p->e, CK_EINVALID, "expected %s at column %zu, found %s", expected, col_of(p, cur(p)),
		tok_desc(p, cur(p), f, sizeof f));
	return NULL;
}

static node *mk(ps *p, int kind, size_t start, size_t end)
{
	node *n = calloc(1, sizeof *n);
	if (!n) {
		ck_errf(p->e, CK_ENOMEM, "out of memory");
		return NULL;
	}
	n->kind = kind;
	n->start = start;
	n->end = end;
	return n;
}

/* Appends an operand; takes kid and key over even when it fails. */
static int push(ps *p, node *n, node *kid, char *key, int op, size_t end)
{
	if (n->n == n->cap) {
		size_t c = n->cap ? n->cap * 2 : 4;
		node **k = realloc(n->kid, c * sizeof *k);
		if (k)
			n->kid = k;
		char **ks = k ? realloc(n->key, c * sizeof *ks) : NULL;
		if (ks)
			n->key = ks;
		int *o = ks ? realloc(n->op, c * sizeof *o) : NULL;
		if (o)
			n->op = o;
		size_t *ke = o ? realloc(n->kend, c * sizeof *ke) : NULL;
		if (!ke) {
			node_free(kid);
			free(key);
			return ck_errf(p->e, CK_ENOMEM, "out of memory");
		}
		n->kend = ke;
		n->cap = c;
	}
	n->kid[n->n] = kid;
	n->key[n->n] = key;
	n->op[n->n] = op;
	n->kend[n->n] = end;
	n->n++;
	return 0;
}

static int enter(ps *p)
{
	if (++p->depth <= MAX_DEPTH)
		return 0;
	xerr(p->x, p->e, CK_ELIMIT, "expression nested deeper than %d levels at column %zu", MAX_DEPTH,
		col_of(p, cur(p)));
	return -1;
}

static node *p_expr(ps *p);

typedef node *(*sub_fn)(ps *p);

/* left-associative chain `sub (op sub)*` as one node; opat returns the operator here or 0 */
static node *p_chain(ps *p, int kind, sub_fn sub, int (*opat)(ps *p))
{
	node *l = sub(p), *n = NULL, *r;
	int op;
	if (!l)
		return NULL;
	while ((op = opat(p))) {
		if (!n && (!(n = mk(p, kind, l->start, l->end)) || push(p, n, l, NULL, 0, l->end))) {
			if (!n)
				node_free(l);
			goto fail;
		}
		adv(p);
		if (!(r = sub(p)) || push(p, n, r, NULL, op, r->end))
			goto fail;
		n->end = r->end;
	}
	return n ? n : l;
fail:
	node_free(n);
	return NULL;
}

static node *p_primary(ps *p);

static int op_dot_or_index(ps *p)
{
	return is_op(p, O_DOT) || is_op(p, O_LBRK);
}

static node *p_postfix(ps *p)
{
	node *b = p_primary(p), *n;
	if (!b || !op_dot_or_index(p))
		return b;
	if (!(n = mk(p, N_CHAIN, b->start, b->end)) || push(p, n, b, NULL, 0, b->end)) {
		if (!n)
			node_free(b);
		goto fail;
	}
	while (op_dot_or_index(p)) {
		if (is_op(p, O_DOT)) {
			adv(p);
			tok *t = cur(p);
			if (t->type != T_IDENT && t->type != T_IDX) {
				perr(p, "a field name after '.'");
				goto fail;
			}
			char *k = strndup(p->x->src + t->start, t->end - t->start);
			if (!k) {
				ck_errf(p->e, CK_ENOMEM, "out of memory");
				goto fail;
			}
			if (push(p, n, NULL, k, 0, t->end))
				goto fail;
			n->end = t->end;
			adv(p);
		} else {
			adv(p);
			node *ix = p_expr(p);
			if (!ix || push(p, n, ix, NULL, 0, ix->end))
				goto fail;
			if (!is_op(p, O_RBRK)) {
				perr(p, "']'");
				goto fail;
			}
			n->end = n->kend[n->n - 1] = cur(p)->end;
			adv(p);
		}
	}
	return n;
fail:
	node_free(n);
	return NULL;
}

static node *p_unary(ps *p)
{
	node *k;
	if (!is_op(p, O_SUB) && !is_op(p, O_ADD))
		return p_postfix(p);
	int neg = is_op(p, O_SUB);
	size_t st = cur(p)->start;
	if (enter(p))
		return NULL;
	adv(p);
	k = p_unary(p);
	p->depth--;
	if (!k)
		return NULL;
	if (k->kind == N_LIT && json_is_number(k->lit)) {
		/* fold -1 into a literal so that expr_is_literal holds for negative numbers */
		json_t *v = k->lit;
		if (neg && json_is_integer(v) && json_integer_value(v) != LLONG_MIN)
			json_integer_set(v, -json_integer_value(v));
		else if (neg && json_is_real(v))
			json_real_set(v, -json_real_value(v));
		else if (neg)
			goto wrap;
		k->start = st;
		return k;
	}
wrap:;
	node *n = mk(p, neg ? N_NEG : N_POS, st, k->end);
	if (!n || push(p, n, k, NULL, 0, k->end)) {
		if (!n)
			node_free(k);
		node_free(n);
		return NULL;
	}
	return n;
}

static int op_mul(ps *p)
{
	if (cur(p)->type != T_OP)
		return 0;
	int o = cur(p)->op;
	return o == O_MUL || o == O_DIV || o == O_FDIV || o == O_MOD ? o : 0;
}

static node *p_mul(ps *p)
{
	return p_chain(p, N_ARITH, p_unary, op_mul);
}

static int op_add(ps *p)
{
	return is_op(p, O_ADD) ? O_ADD : is_op(p, O_SUB) ? O_SUB : 0;
}

static node *p_add(ps *p)
{
	return p_chain(p, N_ARITH, p_mul, op_add);
}

/* the comparison operator here and how many tokens it takes, or 0 */
static int op_cmp(ps *p, int *ntok)
{
	*ntok = 1;
	if (cur(p)->type == T_OP && cur(p)->op >= O_EQ && cur(p)->op <= O_GE)
		return cur(p)->op;
	if (is_op(p, O_LT) || is_op(p, O_GT))
		return cur(p)->op;
	if (is_kw(p, "in"))
		return O_IN;
	if (is_kw(p, "not") && is_kw_at(p, p->i + 1, "in")) {
		*ntok = 2;
		return O_NOTIN;
	}
	return 0;
}

static node *p_cmp(ps *p)
{
	node *l = p_add(p), *n = NULL, *r;
	int op, nt;
	if (!l || !(op = op_cmp(p, &nt)))
		return l;
	if (!(n = mk(p, N_CMP, l->start, l->end)) || push(p, n, l, NULL, 0, l->end)) {
		if (!n)
			node_free(l);
		goto fail;
	}
	while (nt--)
		adv(p);
	if (!(r = p_add(p)) || push(p, n, r, NULL, op, r->end))
		goto fail;
	n->end = r->end;
	if (op_cmp(p, &nt)) {
		perr(p, "the end of the comparison (comparisons do not chain; use 'and')");
		goto fail;
	}
	return n;
fail:
	node_free(n);
	return NULL;
}

static node *p_not(ps *p)
{
	if (!is_op(p, O_NOT) && !(is_kw(p, "not")))
		return p_cmp(p);
	size_t st = cur(p)->start;
	if (enter(p))
		return NULL;
	adv(p);
	node *k = p_not(p), *n;
	p->depth--;
	if (!k)
		return NULL;
	if (!(n = mk(p, N_NOT, st, k->end)) || push(p, n, k, NULL, 0, k->end)) {
		if (!n)
			node_free(k);
		node_free(n);
		return NULL;
	}
	return n;
}

static int op_and(ps *p)
{
	return is_op(p, O_AND) || is_kw(p, "and") ? O_AND : 0;
}

static node *p_and(ps *p)
{
	return p_chain(p, N_AND, p_not, op_and);
}

static int op_or(ps *p)
{
	return is_op(p, O_OR) || is_kw(p, "or") ? O_OR : 0;
}

static node *p_or(ps *p)
{
	return p_chain(p, N_OR, p_and, op_or);
}

static int op_coal(ps *p)
{
	return is_op(p, O_COAL) ? O_COAL : 0;
}

static node *p_coal(ps *p)
{
	return p_chain(p, N_COAL, p_or, op_coal);
}

static node *p_expr(ps *p)
{
	node *c = NULL, *n = NULL, *k;
	if (enter(p))
		return NULL;
	if (!(c = p_coal(p)) || !is_op(p, O_QUEST))
		goto done;
	if (!(n = mk(p, N_COND, c->start, c->end)) || push(p, n, c, NULL, 0, c->end)) {
		if (!n)
			node_free(c);
		goto fail;
	}
	adv(p);
	if (!(k = p_expr(p)) || push(p, n, k, NULL, 0, k->end))
		goto fail;
	if (!is_op(p, O_COLON)) {
		perr(p, "':' of the conditional");
		goto fail;
	}
	adv(p);
	if (!(k = p_expr(p)) || push(p, n, k, NULL, 0, k->end))
		goto fail;
	n->end = k->end;
	c = n;
	goto done;
fail:
	node_free(n);
	c = NULL;
done:
	p->depth--;
	return c;
}

/* items of a [...], {...} or call up to the closing op; dict: keys too */
static node *p_items(ps *p, node *n, int close, int dict)
{
	char what[32];
	snprintf(what, sizeof what, "',' or '%s'", op_text[close]);
	adv(p);
	while (!is_op(p, close)) {
		char *key = NULL;
		if (dict) {
			tok *t = cur(p);
			if (t->type == T_IDENT)
				key = strndup(p->x->src + t->start, t->end - t->start);
			else if (t->type == T_STR)
				key = strdup(json_string_value(t->lit));
			else
				return perr(p, "a key (a name or a string)"), node_free(n), NULL;
			if (!key)
				return ck_errf(p->e, CK_ENOMEM, "out of memory"), node_free(n), NULL;
			for (size_t i = 0; i < n->n; i++)
				if (!strcmp(n->key[i], key)) {
					xerr(p->x, p->e, CK_EINVALID, "duplicate key '%s' at column %zu", key, t->start + 1);
					free(key);
					node_free(n);
					return NULL;
				}
			adv(p);
			if (!is_op(p, O_COLON)) {
				free(key);
				perr(p, "':' after the key");
				node_free(n);
				return NULL;
			}
			adv(p);
		}
		node *v = p_expr(p);
		if (!v) {
			free(key);
			node_free(n);
			return NULL;
		}
		if (push(p, n, v, key, 0, v->end)) {
			node_free(n);
			return NULL;
		}
		if (is_op(p, O_COMMA))
			adv(p);
		else if (!is_op(p, close))
			return perr(p, what), node_free(n), NULL;
	}
	n->end = cur(p)->end;
	adv(p);
	return n;
}

static node *p_call(ps *p)
{
	tok *t = cur(p);
	size_t l = t->end - t->start;
	int f;
	char known[256] = "", name[64];
	for (f = 0; f < F_COUNT; f++)
		if (strlen(fns[f].name) == l && !strncmp(p->x->src + t->start, fns[f].name, l))
			break;
	if (f == F_COUNT) {
		for (int i = 0; i < F_COUNT; i++)
			snprintf(known + strlen(known), sizeof known - strlen(known), "%s%s", i ? ", " : "", fns[i].name);
		show(p->x->src + t->start, l, name, sizeof name);
		xerr(p->x, p->e, CK_EINVALID, "unknown function '%s' at column %zu (known: %s)", name, t->start + 1,
			known);
		return NULL;
	}
	node *n = mk(p, N_CALL, t->start, t->end);
	if (!n)
		return NULL;
	n->fn = f;
	adv(p); /* the name; p_items skips the '(' */
	if (!(n = p_items(p, n, O_RPAR, 0)))
		return NULL;
	if ((int)n->n < fns[f].min || (fns[f].max >= 0 && (int)n->n > fns[f].max)) {
		char want[32];
		if (fns[f].max < 0)
			snprintf(want, sizeof want, "at least %d argument%s", fns[f].min, fns[f].min == 1 ? "" : "s");
		else
			snprintf(want, sizeof want, "%d argument%s", fns[f].min, fns[f].min == 1 ? "" : "s");
		xerr(p->x, p->e, CK_EINVALID, "expected %s for %s() at column %zu, found %zu", want, fns[f].name,
			n->start + 1, n->n);
		node_free(n);
		return NULL;
	}
	return n;
}

static node not_comp; /* p_comp: "this [ is a plain list" */

/* 1 when the [ at the current token opens a comprehension: 'for' at its own nesting level. */
static int is_comp(ps *p)
{
	int depth = 0;
	for (size_t i = p->i; i < p->nt && p->t[i].type != T_END; i++) {
		tok *t = &p->t[i];
		if (t->type == T_OP && (t->op == O_LBRK || t->op == O_LPAR || t->op == O_LBRC))
			depth++;
		else if (t->type == T_OP && (t->op == O_RBRK || t->op == O_RPAR || t->op == O_RBRC)) {
			if (--depth == 0)
				return 0;
		} else if (depth == 1 && t->type == T_IDENT && t->end - t->start == 3 && !strncmp(p->x->src + t->start, "for", 3))
			return 1;
	}
	return 0;
}

/* [ITEM for NAME in ITERABLE] or [ITEM for NAME in ITERABLE if COND]; &not_comp (nothing
 * consumed) for a plain list. */
static node *p_comp(ps *p)
{
	size_t st = cur(p)->start;
	node *item, *n, *k;
	if (!is_comp(p))
		return &not_comp;
	adv(p);
	if (!(item = p_expr(p)))
		return NULL;
	if (!is_kw(p, "for")) {
		node_free(item);
		return perr(p, "'for'");
	}
	adv(p);
	tok *t = cur(p);
	if (t->type != T_IDENT) {
		node_free(item);
		return perr(p, "a name after 'for'");
	}
	if (!(n = mk(p, N_COMP, st, t->end)) || !(n->name = strndup(p->x->src + t->start, t->end - t->start)) ||
		push(p, n, item, NULL, 0, item->end)) {
		if (n && !n->n)
			node_free(item);
		node_free(n);
		return ck_errf(p->e, CK_ENOMEM, "out of memory"), NULL;
	}
	adv(p);
	if (!is_kw(p, "in"))
		return node_free(n), perr(p, "'in'");
	adv(p);
	if (!(k = p_or(p)) || push(p, n, k, NULL, 0, k->end))
		return node_free(n), NULL;
	if (is_kw(p, "if")) {
		adv(p);
		if (!(k = p_expr(p)) || push(p, n, k, NULL, 0, k->end))
			return node_free(n), NULL;
	}
	if (!is_op(p, O_RBRK))
		return node_free(n), perr(p, "']'");
	n->end = cur(p)->end;
	adv(p);
	return n;
}

static node *p_primary(ps *p)
{
	tok *t = cur(p);
	node *n;
	if (t->type == T_NUM || t->type == T_STR) {
		if (!(n = mk(p, N_LIT, t->start, t->end)))
			return NULL;
		n->lit = t->lit;
		t->lit = NULL;
		adv(p);
		return n;
	}
	if (t->type == T_IDENT) {
		json_t *lit = is_kw(p, "true") ? json_true() : is_kw(p, "false") ? json_false()
			: is_kw(p, "null") ? json_null() : NULL;
		if (is_kw(p, "and") || is_kw(p, "or") || is_kw(p, "not") || is_kw(p, "in"))
			return perr(p, "an operand");
		if (p->t[p->i + 1].type == T_OP && p->t[p->i + 1].op == O_LPAR && !lit && !is_kw(p, "absent"))
			return p_call(p);
		if (!(n = mk(p, lit ? N_LIT : is_kw(p, "absent") ? N_ABSENT : N_NAME, t->start, t->end)))
			return NULL;
		n->lit = lit;
		if (n->kind == N_NAME && !(n->name = strndup(p->x->src + t->start, t->end - t->start))) {
			node_free(n);
			ck_errf(p->e, CK_ENOMEM, "out of memory");
			return NULL;
		}
		adv(p);
		return n;
	}
	if (is_op(p, O_LPAR)) {
		size_t st = t->start;
		adv(p);
		if (!(n = p_expr(p)))
			return NULL;
		if (!is_op(p, O_RPAR)) {
			node_free(n);
			return perr(p, "')'");
		}
		n->start = st; /* the parentheses belong to the operand in messages */
		n->end = cur(p)->end;
		adv(p);
		return n;
	}
	if (is_op(p, O_LBRK) && p->t[p->i + 1].type != T_END && !(p->t[p->i + 1].type == T_OP && p->t[p->i + 1].op == O_RBRK)) {
		node *c = p_comp(p);
		if (c != &not_comp)
			return c;
	}
	if (is_op(p, O_LBRK) || is_op(p, O_LBRC)) {
		int dict = is_op(p, O_LBRC);
		if (!(n = mk(p, dict ? N_DICT : N_LIST, t->start, t->end)))
			return NULL;
		return p_items(p, n, dict ? O_RBRC : O_RBRK, dict);
	}
	return perr(p, "an operand");
}

/* --- references (collected once, at parse time) ------------------------------------------- */

static int add_ref(expr *x, char *path, ck_err *e)
{
	for (size_t i = 0; i < x->nrefs; i++)
		if (!strcmp(x->refs[i], path)) {
			free(path);
			return 0;
		}
	char **r = realloc(x->refs, (x->nrefs + 1) * sizeof *r);
	if (!r) {
		free(path);
		return ck_errf(e, CK_ENOMEM, "out of memory");
	}
	x->refs = r;
	x->refs[x->nrefs++] = path;
	return 0;
}

static int all_digits(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if (!isdigit((unsigned char)*s))
			return 0;
	return 1;
}

/* the field name of chain step i, or NULL when it is an index (x.0, x[i]) */
static const char *step_field(const node *n, size_t i)
{
	if (n->key[i])
		return all_digits(n->key[i]) ? NULL : n->key[i];
	const node *k = n->kid[i];
	if (k->kind == N_LIT && json_is_string(k->lit) && !strchr(json_string_value(k->lit), '.'))
		return json_string_value(k->lit);
	return NULL;
}

static int collect_refs(expr *x, const node *n, ck_err *e)
{
	size_t i = 0;
	if (n->kind == N_COMP) {
		size_t from = x->nrefs, len = strlen(n->name), m;
		for (i = 0; i < n->n; i++)
			if (collect_refs(x, n->kid[i], e))
				return CK_ENOMEM;
		for (i = m = from; i < x->nrefs; i++)
			if (!strncmp(x->refs[i], n->name, len) && (!x->refs[i][len] || x->refs[i][len] == '.'))
				free(x->refs[i]);
			else
				x->refs[m++] = x->refs[i];
		x->nrefs = m;
		return 0;
	}
	if (n->kind == N_NAME)
		return add_ref(x, strdup(n->name), e);
	if (n->kind == N_CHAIN && n->kid[0]->kind == N_NAME) {
		size_t len = strlen(n->kid[0]->name), j;
		for (j = 1; j < n->n && step_field(n, j); j++)
			len += 1 + strlen(step_field(n, j));
		char *path = malloc(len + 1);
		if (!path)
			return ck_errf(e, CK_ENOMEM, "out of memory");
		strcpy(path, n->kid[0]->name);
		for (i = 1; i < j; i++) {
			strcat(path, ".");
			strcat(path, step_field(n, i));
		}
		if (add_ref(x, path, e))
			return CK_ENOMEM;
		i = 1; /* the base is done; index expressions still read names */
	}
	for (; i < n->n; i++)
		if (n->kid[i] && collect_refs(x, n->kid[i], e))
			return CK_ENOMEM;
	return 0;
}

/* --- public: parse ----------------------------------------------------------------------- */

int expr_parse(const char *src, const char *where, expr **out, ck_err *e)
{
	ps p = {0};
	expr *x = NULL;
	int rc = 0;
	*out = NULL;
	if (!src)
		return ck_errf(e, CK_EINVALID, "%s%sexpected an expression, found nothing", where ? where : "",
			where && *where ? ": " : "");
	if (!(x = calloc(1, sizeof *x)) || !(x->src = strdup(src)) || !(x->where = strdup(where ? where : ""))) {
		rc = ck_errf(e, CK_ENOMEM, "out of memory");
		goto done;
	}
	x->len = strlen(src);
	p.x = x;
	p.e = e;
	if (x->len > MAX_SRC) {
		rc = xerr(x, e, CK_ELIMIT, "expression is %zu bytes, longer than the limit of %d", x->len, MAX_SRC);
		goto done;
	}
	if ((rc = tokenize(&p)))
		goto done;
	if (!(x->root = p_expr(&p))) {
		rc = e && e->code ? e->code : CK_EINVALID;
		goto done;
	}
	if (cur(&p)->type != T_END) {
		perr(&p, "an operator or the end of the expression");
		rc = CK_EINVALID;
		goto done;
	}
	if ((rc = collect_refs(x, x->root, e)))
		goto done;
done:
	for (size_t i = 0; i < p.nt; i++)
		json_decref(p.t[i].lit);
	free(p.t);
	if (rc) {
		expr_free(x);
		return rc;
	}
	*out = x;
	return 0;
}

void expr_free(expr *x)
{
	if (!x)
		return;
	node_free(x->root);
	for (size_t i = 0; i < x->nrefs; i++)
		free(x->refs[i]);
	free(x->refs);
	free(x->src);
	free(x->where);
	free(x);
}

const char *expr_src(const expr *x)
{
	return x ? x->src : "";
}

void expr_refs(const expr *x, void (*fn)(void *ctx, const char *path), void *ctx)
{
	for (size_t i = 0; x && i < x->nrefs; i++)
		fn(ctx, x->refs[i]);
}

int expr_is_literal(const expr *x)
{
	return x && x->root && x->root->kind == N_LIT;
}

/* --- float formatting -------------------------------------------------------------------- */

const char *expr_float_str(double d, char *buf, size_t n)
{
	char tmp[40];
	if (n)
		snprintf(buf, n, "%s", valio_fmt_double(d, tmp)); /* Python's repr(float), one implementation */
	return buf;
}

/* --- evaluation -------------------------------------------------------------------------- */

#define MAX_BOUND 8 /* comprehensions nested */

typedef struct ev {
	const expr *x;
	expr_resolve_fn resolve;
	void *ctx;
	ck_err *e;
	const char *bound[MAX_BOUND]; /* names bound by the comprehensions being evaluated */
	json_t *val[MAX_BOUND];
	size_t nb;
} ev;

static int eval(ev *c, const node *n, json_t **out);

/* an error about the part of the source from s to end */
static int rerr(ev *c, int code, size_t s, size_t end, const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static int rerr(ev *c, int code, size_t s, size_t end, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	verr(c->x, c->e, code, s, end, fmt, ap);
	va_end(ap);
	return code;
}

static int not_set(ev *c, size_t s, size_t end)
{
	char part[SHOW_MAX + 4];
	return xerr(c->x, c->e, CK_EINVALID, "'%s' is not set", show(c->x->src + s, end - s, part, sizeof part));
}

static int nomem(ev *c)
{
	return ck_errf(c->e, CK_ENOMEM, "out of memory");
}

static int eval_set(ev *c, const node *n, json_t **out)
{
	int rc = eval(c, n, out);
	if (!rc && !*out)
		return not_set(c, n->start, n->end);
	return rc;
}

static int truthy(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT: return json_object_size(v) != 0;
	case JSON_ARRAY: return json_array_size(v) != 0;
	case JSON_STRING: return json_string_length(v) != 0;
	case JSON_INTEGER: return json_integer_value(v) != 0;
	case JSON_REAL: return json_real_value(v) != 0.0;
	case JSON_TRUE: return 1;
	default: return 0;
	}
}

int expr_truthy(const json_t *v) { return v && truthy(v); }

/* -1, 0, 1 for two numbers, exact across int and float */
static int num_cmp(const json_t *a, const json_t *b)
{
	if (json_is_integer(a) && json_is_integer(b)) {
		json_int_t x = json_integer_value(a), y = json_integer_value(b);
		return x < y ? -1 : x > y;
	}
	if (json_is_real(a) && json_is_real(b)) {
		double x = json_real_value(a), y = json_real_value(b);
		return x < y ? -1 : x > y;
	}
	if (json_is_real(a))
		return -num_cmp(b, a);
	json_int_t i = json_integer_value(a);
	double d = json_real_value(b), f;
	if (d >= 9223372036854775808.0)
		return -1;
	if (d < -9223372036854775808.0)
		return 1;
	f = floor(d);
	if (i != (json_int_t)f)
		return i < (json_int_t)f ? -1 : 1;
	return d > f ? -1 : 0;
}

static int str_cmp(const json_t *a, const json_t *b)
{
	size_t la = json_string_length(a), lb = json_string_length(b);
	int r = memcmp(json_string_value(a), json_string_value(b), la < lb ? la : lb);
	return r ? (r < 0 ? -1 : 1) : la < lb ? -1 : la > lb;
}

/* deep equality where 1 == 1.0 */
static int val_eq(const json_t *a, const json_t *b)
{
	if (json_is_number(a) && json_is_number(b))
		return num_cmp(a, b) == 0;
	if (json_typeof(a) != json_typeof(b))
		return 0;
	if (json_is_string(a))
		return str_cmp(a, b) == 0;
	if (json_is_array(a)) {
		if (json_array_size(a) != json_array_size(b))
			return 0;
		for (size_t i = 0; i < json_array_size(a); i++)
			if (!val_eq(json_array_get(a, i), json_array_get(b, i)))
				return 0;
		return 1;
	}
	if (json_is_object(a)) {
		const char *k;
		json_t *v;
		if (json_object_size(a) != json_object_size(b))
			return 0;
		json_object_foreach((json_t *)a, k, v) {
			json_t *w = json_object_get(b, k);
			if (!w || !val_eq(v, w))
				return 0;
		}
		return 1;
	}
	return 1;
}

static int mk_real(ev *c, double d, size_t s, size_t end, json_t **out)
{
	if (!isfinite(d))
		return rerr(c, CK_EINVALID, s, end, "the result is not a finite number");
	if (!(*out = json_real(d)))
		return nomem(c);
	return 0;
}

static int mk_int(ev *c, json_int_t v, json_t **out)
{
	return (*out = json_integer(v)) ? 0 : nomem(c);
}

static int bad_operands(ev *c, int op, size_t s, size_t end, const json_t *a, const json_t *b)
{
	char da[96], db[96];
	return rerr(c, CK_EINVALID, s, end, "unsupported operands for '%s': %s and %s", op_text[op],
		describe(a, da, sizeof da), describe(b, db, sizeof db));
}

/* s * count or l * count (Python repetition) */
static int repeat(ev *c, const json_t *v, json_int_t count, size_t s, size_t end, json_t **out)
{
	size_t unit = json_is_string(v) ? json_string_length(v) : json_array_size(v);
	size_t limit = json_is_string(v) ? MAX_STR : MAX_ITEMS;
	if (count < 0 || !unit)
		count = 0;
	if (unit && (size_t)count > limit / unit)
		return rerr(c, CK_ELIMIT, s, end, "the result would have more than %zu %s", limit,
			json_is_string(v) ? "bytes" : "items");
	if (json_is_array(v)) {
		if (!(*out = json_array()))
			return nomem(c);
		for (json_int_t i = 0; i < count; i++)
			if (json_array_extend(*out, (json_t *)v))
				return nomem(c);
		return 0;
	}
	char *buf = malloc(unit * count + 1);
	if (!buf)
		return nomem(c);
	for (json_int_t i = 0; i < count; i++)
		memcpy(buf + unit * i, json_string_value(v), unit);
	*out = json_stringn_nocheck(buf, unit * count);
	free(buf);
	return *out ? 0 : nomem(c);
}

static int concat(ev *c, const json_t *a, const json_t *b, size_t s, size_t end, json_t **out)
{
	if (json_is_array(a)) {
		if (json_array_size(a) + json_array_size(b) > MAX_ITEMS)
			return rerr(c, CK_ELIMIT, s, end, "the result would have more than %d items", MAX_ITEMS);
		if (!(*out = json_array()) || json_array_extend(*out, (json_t *)a) || json_array_extend(*out, (json_t *)b))
			return nomem(c);
		return 0;
	}
	size_t la = json_string_length(a), lb = json_string_length(b);
	if (la + lb > MAX_STR)
		return rerr(c, CK_ELIMIT, s, end, "the result would have more than %d bytes", MAX_STR);
	char *buf = malloc(la + lb + 1);
	if (!buf)
		return nomem(c);
	memcpy(buf, json_string_value(a), la);
	memcpy(buf + la, json_string_value(b), lb);
	*out = json_stringn_nocheck(buf, la + lb);
	free(buf);
	return *out ? 0 : nomem(c);
}

/* Python's float floor division and modulo */
static void float_divmod(double x, double y, double *div, double *mod)
{
	double m = fmod(x, y), q = (x - m) / y, f;
	if (m) {
		if ((y < 0) != (m < 0)) {
			m += y;
			q -= 1.0;
		}
	} else {
		m = copysign(0.0, y);
	}
	if (q) {
		f = floor(q);
		if (q - f > 0.5)
			f += 1.0;
	} else {
		f = copysign(0.0, x / y);
	}
	*div = f;
	*mod = m;
}

static int arith(ev *c, int op, const json_t *a, const json_t *b, size_t s, size_t end, json_t **out)
{
	if (op == O_ADD && ((json_is_string(a) && json_is_string(b)) || (json_is_array(a) && json_is_array(b))))
		return concat(c, a, b, s, end, out);
	if (op == O_MUL && json_is_integer(b) && (json_is_string(a) || json_is_array(a)))
		return repeat(c, a, json_integer_value(b), s, end, out);
	if (op == O_MUL && json_is_integer(a) && (json_is_string(b) || json_is_array(b)))
		return repeat(c, b, json_integer_value(a), s, end, out);
	if (!json_is_number(a) || !json_is_number(b))
		return bad_operands(c, op, s, end, a, b);
	if (json_is_integer(a) && json_is_integer(b) && op != O_DIV) {
		long long x = json_integer_value(a), y = json_integer_value(b), r = 0, q;
		int ovf = 0;
		switch (op) {
		case O_ADD: ovf = __builtin_add_overflow(x, y, &r); break;
		case O_SUB: ovf = __builtin_sub_overflow(x, y, &r); break;
		case O_MUL: ovf = __builtin_mul_overflow(x, y, &r); break;
		default:
			if (y == 0)
				return rerr(c, CK_EINVALID, s, end, op == O_MOD ? "modulo by zero" : "division by zero");
			if (y == -1) { /* LLONG_MIN / -1 traps in C */
				if (op == O_FDIV && x == LLONG_MIN)
					ovf = 1;
				else
					r = op == O_FDIV ? -x : 0;
				break;
			}
			q = x / y;
			r = x % y;
			if (r && ((r < 0) != (y < 0))) {
				q--;
				r += y;
			}
			if (op == O_FDIV)
				r = q;
		}
		if (ovf)
			return rerr(c, CK_EINVALID, s, end, "integer overflow (the result does not fit in 64 bits)");
		return mk_int(c, r, out);
	}
	double x = json_number_value(a), y = json_number_value(b), q, m;
	switch (op) {
	case O_ADD: return mk_real(c, x + y, s, end, out);
	case O_SUB: return mk_real(c, x - y, s, end, out);
	case O_MUL: return mk_real(c, x * y, s, end, out);
	default:
		if (y == 0)
			return rerr(c, CK_EINVALID, s, end, op == O_MOD ? "modulo by zero" : "division by zero");
		if (op == O_DIV)
			return mk_real(c, x / y, s, end, out);
		float_divmod(x, y, &q, &m);
		return mk_real(c, op == O_FDIV ? q : m, s, end, out);
	}
}

static int compare(ev *c, int op, const json_t *a, const json_t *b, size_t s, size_t end, json_t **out)
{
	int r;
	if (op == O_EQ || op == O_NE) {
		r = val_eq(a, b);
		*out = json_boolean(op == O_EQ ? r : !r);
		return 0;
	}
	if (op == O_IN || op == O_NOTIN) {
		char db[96];
		if (json_is_array(b)) {
			r = 0;
			for (size_t i = 0; i < json_array_size(b) && !r; i++)
				r = val_eq(a, json_array_get(b, i));
		} else if (json_is_object(b) && json_is_string(a)) {
			r = json_object_get(b, json_string_value(a)) != NULL;
		} else if (json_is_string(b) && json_is_string(a)) {
			r = memmem(json_string_value(b), json_string_length(b), json_string_value(a),
				json_string_length(a)) != NULL;
		} else if (json_is_object(b) || json_is_string(b)) {
			return bad_operands(c, op, s, end, a, b);
		} else {
			return rerr(c, CK_EINVALID, s, end, "expected a list, dict or string after '%s', found %s",
				op_text[op], describe(b, db, sizeof db));
		}
		*out = json_boolean(op == O_IN ? r : !r);
		return 0;
	}
	if (json_is_number(a) && json_is_number(b))
		r = num_cmp(a, b);
	else if (json_is_string(a) && json_is_string(b))
		r = str_cmp(a, b);
	else
		return bad_operands(c, op, s, end, a, b);
	*out = json_boolean(op == O_LT ? r < 0 : op == O_LE ? r <= 0 : op == O_GT ? r > 0 : r >= 0);
	return 0;
}

/* .field on v (borrowed); absent stays absent, null.field is absent too */
static int get_field(ev *c, const node *n, size_t i, const json_t *v, json_t **out)
{
	const char *k = n->key[i];
	char dv[96];
	*out = NULL;
	if (json_is_object(v)) {
		*out = json_incref(json_object_get(v, k));
		return 0;
	}
	if (json_is_null(v))
		return 0;
	if (json_is_array(v) && all_digits(k)) {
		size_t len = json_array_size(v);
		if (strlen(k) > 18 || strtoull(k, NULL, 10) >= len)
			return rerr(c, CK_EINVALID, n->start, n->kend[i], "index %s is out of range for a list of %zu items",
				k, len);
		*out = json_incref(json_array_get(v, strtoull(k, NULL, 10)));
		return 0;
	}
	return rerr(c, CK_EINVALID, n->start, n->kend[i - 1], "expected a dict to read '%s' from, found %s", k,
		describe(v, dv, sizeof dv));
}

static int get_index(ev *c, const node *n, size_t i, const json_t *v, const json_t *ix, json_t **out)
{
	char dv[96], di[96];
	*out = NULL;
	if (json_is_null(v))
		return 0;
	if (json_is_object(v)) {
		if (!json_is_string(ix))
			return rerr(c, CK_EINVALID, n->kid[i]->start, n->kid[i]->end, "expected a string key, found %s",
				describe(ix, di, sizeof di));
		*out = json_incref(json_object_get(v, json_string_value(ix)));
		return 0;
	}
	if (!json_is_array(v))
		return rerr(c, CK_EINVALID, n->start, n->kend[i - 1], "expected a list or dict to index, found %s",
			describe(v, dv, sizeof dv));
	if (!json_is_integer(ix))
		return rerr(c, CK_EINVALID, n->kid[i]->start, n->kid[i]->end, "expected an int index, found %s",
			describe(ix, di, sizeof di));
	json_int_t k = json_integer_value(ix), len = (json_int_t)json_array_size(v);
	if (k < -len || k >= len)
		return rerr(c, CK_EINVALID, n->start, n->kend[i], "index %" JSON_INTEGER_FORMAT
			" is out of range for a list of %" JSON_INTEGER_FORMAT " items", k, len);
	*out = json_incref(json_array_get(v, (size_t)(k < 0 ? k + len : k)));
	return 0;
}

static int eval_chain(ev *c, const node *n, json_t **out)
{
	json_t *v = NULL, *ix, *nx;
	int rc = eval(c, n->kid[0], &v);
	for (size_t i = 1; !rc && v && i < n->n; i++) {
		if (!n->kid[i]) {
			rc = get_field(c, n, i, v, &nx);
		} else if (!(rc = eval_set(c, n->kid[i], &ix))) {
			rc = get_index(c, n, i, v, ix, &nx);
			json_decref(ix);
		}
		json_decref(v);
		v = rc ? NULL : nx;
	}
	*out = v;
	return rc;
}

/* numeric argument check for the functions */
static int want(ev *c, const node *n, const json_t *v, int ok, const char *what)
{
	char dv[96];
	if (ok)
		return 0;
	return rerr(c, CK_EINVALID, n->start, n->end, "expected %s for %s(), found %s", what, fns[n->fn].name,
		describe(v, dv, sizeof dv));
}

static int fn_int(ev *c, const node *n, const json_t *a, json_t **out)
{
	if (json_is_integer(a))
		return mk_int(c, json_integer_value(a), out);
	if (json_is_boolean(a))
		return mk_int(c, json_is_true(a), out);
	if (json_is_real(a)) {
		double d = trunc(json_real_value(a));
		if (d < -9223372036854775808.0 || d >= 9223372036854775808.0)
			return rerr(c, CK_EINVALID, n->start, n->end, "int(): %g does not fit in 64 bits", d);
		return mk_int(c, (json_int_t)d, out);
	}
	if (json_is_string(a)) {
		const char *s = json_string_value(a);
		char *end;
		errno = 0;
		long long v = strtoll(s, &end, 10);
		while (isspace((unsigned char)*end))
			end++;
		if (!errno && end != s && !*end && (size_t)(end - s) == json_string_length(a))
			return mk_int(c, v, out);
	}
	return want(c, n, a, 0, "a number, bool or integer string");
}

static int fn_float(ev *c, const node *n, const json_t *a, json_t **out)
{
	if (json_is_number(a))
		return mk_real(c, json_number_value(a), n->start, n->end, out);
	if (json_is_boolean(a))
		return mk_real(c, json_is_true(a), n->start, n->end, out);
	if (json_is_string(a)) {
		const char *s = json_string_value(a);
		char *end;
		double d = strtod(s, &end);
		while (isspace((unsigned char)*end))
			end++;
		if (end != s && !*end && isfinite(d) && (size_t)(end - s) == json_string_length(a))
			return mk_real(c, d, n->start, n->end, out);
	}
	return want(c, n, a, 0, "a number, bool or numeric string");
}

static int fn_str(ev *c, const json_t *a, json_t **out)
{
	char buf[40];
	char *d = NULL;
	switch (json_typeof(a)) {
	case JSON_STRING:
		*out = json_incref((json_t *)a);
		return 0;
	case JSON_INTEGER:
		snprintf(buf, sizeof buf, "%" JSON_INTEGER_FORMAT, json_integer_value(a));
		break;
	case JSON_REAL:
		expr_float_str(json_real_value(a), buf, sizeof buf);
		break;
	case JSON_TRUE: strcpy(buf, "True"); break;
	case JSON_FALSE: strcpy(buf, "False"); break;
	case JSON_NULL: strcpy(buf, "None"); break;
	default:
		if (!(d = json_dumps(a, JSON_ENCODE_ANY)))
			return nomem(c);
		*out = json_string(d);
		free(d);
		return *out ? 0 : nomem(c);
	}
	return (*out = json_string(buf)) ? 0 : nomem(c);
}

static int fn_len(ev *c, const node *n, const json_t *a, json_t **out)
{
	size_t len = 0;
	if (json_is_string(a)) {
		const char *s = json_string_value(a);
		for (size_t i = 0; i < json_string_length(a); i++)
			len += ((unsigned char)s[i] & 0xc0) != 0x80; /* code points, like Python */
	} else if (json_is_array(a)) {
		len = json_array_size(a);
	} else if (json_is_object(a)) {
		len = json_object_size(a);
	} else {
		return want(c, n, a, 0, "a string, list or dict");
	}
	return mk_int(c, (json_int_t)len, out);
}

static int fn_minmax(ev *c, const node *n, json_t **args, size_t na, json_t **out)
{
	json_t *const *v = args;
	json_t *best;
	size_t cnt = na;
	char d1[96], d2[96];
	if (na == 1 && json_is_array(args[0])) {
		cnt = json_array_size(args[0]);
		if (!cnt)
			return rerr(c, CK_EINVALID, n->start, n->end, "%s() of an empty list", fns[n->fn].name);
	} else if (na == 1) {
		return want(c, n, args[0], 0, "a list or several values");
	}
	best = na == 1 ? json_array_get(args[0], 0) : v[0];
	for (size_t i = 1; i < cnt; i++) {
		json_t *x = na == 1 ? json_array_get(args[0], i) : v[i];
		int r;
		if (json_is_number(x) && json_is_number(best))
			r = num_cmp(x, best);
		else if (json_is_string(x) && json_is_string(best))
			r = str_cmp(x, best);
		else
			return rerr(c, CK_EINVALID, n->start, n->end, "%s() cannot compare %s and %s", fns[n->fn].name,
				describe(best, d1, sizeof d1), describe(x, d2, sizeof d2));
		if (n->fn == F_MIN ? r < 0 : r > 0)
			best = x;
	}
	if (!json_is_number(best) && !json_is_string(best))
		return want(c, n, best, 0, "numbers or strings");
	*out = json_incref(best);
	return 0;
}

static int fn_lower(ev *c, const node *n, const json_t *a, json_t **out)
{
	if (want(c, n, a, json_is_string(a), "a string"))
		return CK_EINVALID;
	char *s = strdup(json_string_value(a));
	if (!s)
		return nomem(c);
	for (char *p = s; *p; p++)
		*p = (char)tolower((unsigned char)*p); /* ASCII only: keys and type names */
	*out = json_stringn(s, json_string_length(a));
	free(s);
	return *out ? 0 : nomem(c);
}

/* merge(a, b, ...): a dict with the keys of all, later arguments winning; null counts as {} */
static int fn_merge(ev *c, const node *n, json_t **args, size_t na, json_t **out)
{
	if (!(*out = json_object()))
		return nomem(c);
	for (size_t i = 0; i < na; i++) {
		if (json_is_null(args[i]))
			continue;
		if (want(c, n, args[i], json_is_object(args[i]), "dicts (or null)"))
			return CK_EINVALID;
		if (json_object_update(*out, args[i]))
			return nomem(c);
	}
	return 0;
}

/* without(d, keys): d minus the keys named (a list of strings, or one string); null counts as {} */
static int fn_without(ev *c, const node *n, json_t **args, json_t **out)
{
	json_t *d = args[0], *keys = args[1], *k;
	size_t i;
	if (want(c, n, d, json_is_object(d) || json_is_null(d), "a dict (or null) first") ||
		want(c, n, keys, json_is_array(keys) || json_is_string(keys), "a list of keys second"))
		return CK_EINVALID;
	if (!(*out = json_is_null(d) ? json_object() : json_copy(d)))
		return nomem(c);
	if (json_is_string(keys))
		return json_object_del(*out, json_string_value(keys)), 0;
	json_array_foreach(keys, i, k) {
		if (want(c, n, k, json_is_string(k), "a list of keys second"))
			return CK_EINVALID;
		json_object_del(*out, json_string_value(k));
	}
	return 0;
}

/* error(message): stops the evaluation with the message alone (rules explain a refusal this way) */
static int fn_error(ev *c, const json_t *a)
{
	json_t *m = NULL;
	int rc = fn_str(c, a, &m);
	if (!rc) {
		const char *w = c->x->where ? c->x->where : "";
		rc = ck_errf(c->e, CK_EINVALID, "%s%s%s", w, *w ? ": " : "", json_string_value(m));
	}
	json_decref(m);
	return rc;
}

/* replace(s, old, new): Python's str.replace (every occurrence, left to right). */
static int fn_replace(ev *c, const node *n, json_t **args, json_t **out)
{
	for (int i = 0; i < 3; i++)
		if (want(c, n, args[i], json_is_string(args[i]), "strings"))
			return CK_EINVALID;
	const char *s = json_string_value(args[0]), *o = json_string_value(args[1]), *r = json_string_value(args[2]);
	size_t ol = strlen(o), rl = strlen(r), cnt = 0;
	if (!ol)
		return want(c, n, args[1], 0, "a non-empty string");
	for (const char *p = strstr(s, o); p; p = strstr(p + ol, o))
		cnt++;
	char *buf = malloc(strlen(s) + cnt * rl + 1), *w = buf;
	if (!buf)
		return nomem(c);
	for (const char *p = s, *q; ; p = q + ol) {
		if (!(q = strstr(p, o))) {
			strcpy(w, p);
			break;
		}
		memcpy(w, p, (size_t)(q - p));
		w += q - p;
		memcpy(w, r, rl);
		w += rl;
	}
	*out = json_string(buf);
	free(buf);
	return *out ? 0 : nomem(c);
}

static int call(ev *c, const node *n, json_t **args, size_t na, json_t **out)
{
	json_t *a = args[0];
	size_t s = n->start, end = n->end;
	double d;
	switch (n->fn) {
	case F_SQRT:
		if (want(c, n, a, json_is_number(a), "a number"))
			return CK_EINVALID;
		if ((d = json_number_value(a)) < 0)
			return want(c, n, a, 0, "a number >= 0");
		return mk_real(c, sqrt(d), s, end, out);
	case F_INT: return fn_int(c, n, a, out);
	case F_FLOAT: return fn_float(c, n, a, out);
	case F_STR: return fn_str(c, a, out);
	case F_LEN: return fn_len(c, n, a, out);
	case F_LOWER: return fn_lower(c, n, a, out);
	case F_MERGE: return fn_merge(c, n, args, na, out);
	case F_WITHOUT: return fn_without(c, n, args, out);
	case F_ERROR: return fn_error(c, a);
	case F_REPLACE: return fn_replace(c, n, args, out);
	case F_ITEMS: /* [[key, value], ...] of a dict */
		if (want(c, n, a, json_is_object(a), "a dict"))
			return CK_EINVALID;
		else {
			const char *k;
			json_t *v;
			if (!(*out = json_array()))
				return nomem(c);
			json_object_foreach(a, k, v)
				if (json_array_append_new(*out, json_pack("[s, O]", k, v)))
					return nomem(c);
			return 0;
		}
	case F_DICT: /* dict([[key, value], ...]): later pairs win */
		if (want(c, n, a, json_is_array(a), "a list of [key, value] pairs"))
			return CK_EINVALID;
		if (!(*out = json_object()))
			return nomem(c);
		for (size_t i = 0; i < json_array_size(a); i++) {
			json_t *pr = json_array_get(a, i);
			if (!json_is_array(pr) || json_array_size(pr) != 2 || !json_is_string(json_array_get(pr, 0)))
				return want(c, n, pr, 0, "[key, value] pairs with string keys");
			if (json_object_set(*out, json_string_value(json_array_get(pr, 0)), json_array_get(pr, 1)))
				return nomem(c);
		}
		return 0;
	case F_TYPE: /* Python's type(v).__name__ for config values */
		*out = json_string(json_is_null(a) ? "NoneType" : json_is_boolean(a) ? "bool" : json_is_integer(a) ? "int"
			: json_is_real(a) ? "float" : json_is_string(a) ? "str" : json_is_array(a) ? "list" : "dict");
		return *out ? 0 : nomem(c);
	case F_LOG:
		if (want(c, n, a, json_is_number(a), "a number"))
			return CK_EINVALID;
		if ((d = json_number_value(a)) <= 0)
			return want(c, n, a, 0, "a number > 0");
		return mk_real(c, log(d), s, end, out);
	case F_MIN:
	case F_MAX: return fn_minmax(c, n, args, na, out);
	case F_ABS:
		if (want(c, n, a, json_is_number(a), "a number"))
			return CK_EINVALID;
		if (json_is_real(a))
			return mk_real(c, fabs(json_real_value(a)), s, end, out);
		if (json_integer_value(a) == LLONG_MIN)
			return rerr(c, CK_EINVALID, s, end, "integer overflow (the result does not fit in 64 bits)");
		return mk_int(c, llabs(json_integer_value(a)), out);
	case F_POW:
		if (want(c, n, a, json_is_number(a), "numbers") || want(c, n, args[1], json_is_number(args[1]), "numbers"))
			return CK_EINVALID;
		return mk_real(c, pow(json_number_value(a), json_number_value(args[1])), s, end, out);
	case F_ROUND:
		if (want(c, n, a, json_is_number(a), "a number"))
			return CK_EINVALID;
		if (json_is_integer(a))
			return mk_int(c, json_integer_value(a), out);
		d = nearbyint(json_real_value(a)); /* the default rounding mode: half to even, like Python */
		if (d < -9223372036854775808.0 || d >= 9223372036854775808.0)
			return rerr(c, CK_EINVALID, s, end, "round(): %g does not fit in 64 bits", d);
		return mk_int(c, (json_int_t)d, out);
	case F_RANGE:
		if (want(c, n, a, json_is_integer(a), "an int"))
			return CK_EINVALID;
		if (json_integer_value(a) > MAX_ITEMS)
			return rerr(c, CK_ELIMIT, s, end, "range(%" JSON_INTEGER_FORMAT ") is longer than the limit of %d",
				json_integer_value(a), MAX_ITEMS);
		if (!(*out = json_array()))
			return nomem(c);
		for (json_int_t i = 0; i < json_integer_value(a); i++)
			if (json_array_append_new(*out, json_integer(i)))
				return nomem(c);
		return 0;
	default: /* F_LIST */
		if (json_is_array(a)) {
			*out = json_incref(a);
			return 0;
		}
		if (want(c, n, a, json_is_object(a), "a list or dict"))
			return CK_EINVALID;
		const char *k;
		json_t *v;
		if (!(*out = json_array()))
			return nomem(c);
		json_object_foreach(a, k, v)
			if (json_array_append_new(*out, json_string(k)))
				return nomem(c);
		return 0;
	}
}

/* [ITEM for NAME in ITERABLE if COND]: a list (dicts iterate over their keys, as in Python); an
 * absent item is left out. */
static int eval_comp(ev *c, const node *n, json_t **out)
{
	json_t *it = NULL, *keys = NULL, *res = json_array();
	int rc = eval_set(c, n->kid[1], &it);
	if (!res)
		rc = rc ? rc : nomem(c);
	else if (!rc && json_is_object(it)) {
		const char *k;
		json_t *v;
		if (!(keys = json_array()))
			rc = nomem(c);
		json_object_foreach(it, k, v)
			if (!rc && json_array_append_new(keys, json_string(k)))
				rc = nomem(c);
	} else if (!rc && !json_is_array(it)) {
		char d[96];
		rc = rerr(c, CK_EINVALID, n->kid[1]->start, n->kid[1]->end, "expected a list or dict to iterate, found %s",
			describe(it, d, sizeof d));
	}
	if (!rc && c->nb >= MAX_BOUND)
		rc = rerr(c, CK_ELIMIT, n->start, n->end, "comprehensions nested deeper than %d", MAX_BOUND);
	json_t *seq = keys ? keys : it;
	for (size_t i = 0; !rc && i < json_array_size(seq); i++) {
		json_t *cond = NULL, *item = NULL;
		c->bound[c->nb] = n->name;
		c->val[c->nb++] = json_array_get(seq, i);
		if (n->n > 2)
			rc = eval(c, n->kid[2], &cond);
		if (!rc && (n->n < 3 || expr_truthy(cond)) && !(rc = eval(c, n->kid[0], &item)) && item &&
			json_array_append_new(res, item))
			rc = nomem(c);
		c->nb--;
		json_decref(cond);
	}
	json_decref(it);
	json_decref(keys);
	if (rc)
		json_decref(res), res = NULL;
	*out = res;
	return rc;
}

static int eval_call(ev *c, const node *n, json_t **out)
{
	json_t **args = calloc(n->n, sizeof *args);
	int rc = 0;
	if (!args)
		return nomem(c);
	for (size_t i = 0; !rc && i < n->n; i++)
		rc = eval_set(c, n->kid[i], &args[i]);
	if (!rc)
		rc = call(c, n, args, n->n, out);
	if (rc) {
		json_decref(*out);
		*out = NULL;
	}
	for (size_t i = 0; i < n->n; i++)
		json_decref(args[i]);
	free(args);
	return rc;
}

static int eval_items(ev *c, const node *n, json_t **out)
{
	json_t *v;
	int rc = 0;
	if (!(*out = n->kind == N_DICT ? json_object() : json_array()))
		return nomem(c);
	for (size_t i = 0; !rc && i < n->n; i++) {
		if ((rc = eval_set(c, n->kid[i], &v)))
			break;
		if (n->kind == N_DICT ? json_object_set_new(*out, n->key[i], v) : json_array_append_new(*out, v))
			rc = nomem(c);
	}
	return rc;
}

static int eval_unary(ev *c, const node *n, json_t **out)
{
	json_t *v;
	char dv[96];
	int rc = eval_set(c, n->kid[0], &v);
	if (rc)
		return rc;
	if (n->kind == N_NOT) {
		*out = json_boolean(!truthy(v));
	} else if (!json_is_number(v)) {
		rc = rerr(c, CK_EINVALID, n->start, n->end, "expected a number after '%s', found %s",
			n->kind == N_NEG ? "-" : "+", describe(v, dv, sizeof dv));
	} else if (n->kind == N_POS) {
		*out = json_incref(v);
	} else if (json_is_real(v)) {
		rc = mk_real(c, -json_real_value(v), n->start, n->end, out);
	} else if (json_integer_value(v) == LLONG_MIN) {
		rc = rerr(c, CK_EINVALID, n->start, n->end, "integer overflow (the result does not fit in 64 bits)");
	} else {
		rc = mk_int(c, -json_integer_value(v), out);
	}
	json_decref(v);
	return rc;
}

static int eval_arith(ev *c, const node *n, json_t **out)
{
	json_t *acc = NULL, *r, *nx = NULL;
	int rc = eval_set(c, n->kid[0], &acc);
	for (size_t i = 1; !rc && i < n->n; i++) {
		if ((rc = eval_set(c, n->kid[i], &r)))
			break;
		nx = NULL;
		rc = arith(c, n->op[i], acc, r, n->start, n->kend[i], &nx);
		json_decref(r);
		json_decref(acc);
		acc = nx;
	}
	if (rc) {
		json_decref(acc);
		acc = NULL;
	}
	*out = acc;
	return rc;
}

static int eval_cmp(ev *c, const node *n, json_t **out)
{
	json_t *a = NULL, *b = NULL;
	int op = n->op[1], eq = op == O_EQ || op == O_NE, rc;
	/* == and != read an absent value as null */
	rc = eq ? eval(c, n->kid[0], &a) : eval_set(c, n->kid[0], &a);
	if (!rc)
		rc = eq ? eval(c, n->kid[1], &b) : eval_set(c, n->kid[1], &b);
	if (!rc)
		rc = compare(c, op, a ? a : json_null(), b ? b : json_null(), n->start, n->end, out);
	json_decref(a);
	json_decref(b);
	return rc;
}

static int eval(ev *c, const node *n, json_t **out)
{
	json_t *v;
	int rc;
	*out = NULL;
	switch (n->kind) {
	case N_LIT:
		return (*out = json_copy(n->lit)) ? 0 : nomem(c); /* a copy: callers may modify results */
	case N_ABSENT:
		return 0;
	case N_NAME:
		for (size_t i = c->nb; i-- > 0;)
			if (!strcmp(c->bound[i], n->name)) {
				*out = json_incref(c->val[i]);
				return 0;
			}
		v = c->resolve ? c->resolve(c->ctx, n->name) : NULL;
		if (v == expr_absent())
			return 0;
		if (!v) {
			rc = xerr(c->x, c->e, CK_EINVALID, "unknown name '%s'", n->name);
			return c->e && c->e->code ? c->e->code : rc; /* the resolver's own error wins */
		}
		*out = json_incref(v);
		return 0;
	case N_CHAIN:
		return eval_chain(c, n, out);
	case N_COMP:
		return eval_comp(c, n, out);
	case N_CALL:
		return eval_call(c, n, out);
	case N_LIST:
	case N_DICT:
		if ((rc = eval_items(c, n, out))) {
			json_decref(*out);
			*out = NULL;
		}
		return rc;
	case N_NEG:
	case N_POS:
	case N_NOT:
		return eval_unary(c, n, out);
	case N_ARITH:
		return eval_arith(c, n, out);
	case N_AND:
	case N_OR:
		for (size_t i = 0; i < n->n; i++) {
			if ((rc = eval_set(c, n->kid[i], &v)))
				return rc;
			int t = truthy(v);
			json_decref(v);
			if (t == (n->kind == N_OR)) /* short circuit */
				return (*out = json_boolean(t)), 0;
		}
		*out = json_boolean(n->kind == N_AND);
		return 0;
	case N_COAL:
		for (size_t i = 0; i + 1 < n->n; i++) {
			if ((rc = eval(c, n->kid[i], out)) || *out)
				return rc;
		}
		return eval(c, n->kid[n->n - 1], out);
	case N_CMP:
		return eval_cmp(c, n, out);
	default: /* N_COND */
		if ((rc = eval_set(c, n->kid[0], &v)))
			return rc;
		rc = truthy(v);
		json_decref(v);
		return eval(c, n->kid[rc ? 1 : 2], out);
	}
}

int expr_eval(const expr *x, expr_resolve_fn resolve, void *ctx, json_t **out, ck_err *e)
{
	ev c = {.x = x, .resolve = resolve, .ctx = ctx, .e = e};
	*out = NULL;
	if (!x || !x->root)
		return ck_errf(e, CK_EINVALID, "no expression to evaluate");
	return eval(&c, x->root, out);
}
