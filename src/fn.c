/* fn.c - rule-file functions (definitions, call expansion) and the derivation of chain inverses. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "fn.h"
#include "tensor.h"

#define FN_MAX_TENSORS 16 /* tensors of a chain whose shapes the derivation follows */
#define FN_MAX_TEXT 4096  /* an expression after substitution */

struct fn_table {
	size_t n;
	fn_def *d;
	size_t n_inc;
	const fn_table **inc;
};

static int perr(ck_err *e, rule_pos p, const char *fmt, const char *a, const char *b)
{
	char msg[1200];
	snprintf(msg, sizeof msg, fmt, a ? a : "", b ? b : "");
	return ck_errf(e, CK_EINVALID, "%s:%d:%d: %s", p.file, p.line, p.col, msg);
}

static rule_pos pos_at(const rule_file *f, const ydoc_node *n)
{
	rule_pos p = {f->path, n->line, n->col};
	return p;
}

/* --- the table ------------------------------------------------------------------------- */

static void def_dispose(fn_def *d)
{
	free(d->name);
	free(d->doc);
	for (size_t i = 0; i < d->n_params; i++)
		free(d->params[i]);
	free(d->params);
	for (size_t i = 0; i < d->n_steps; i++)
		rule_act_dispose(&d->steps[i]);
	free(d->steps);
}

void fn_table_free(fn_table *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->n; i++)
		def_dispose(&t->d[i]);
	free(t->d);
	free(t->inc);
	free(t);
}

const fn_def *fn_lookup(const fn_table *t, const char *name)
{
	for (size_t i = 0; t && i < t->n; i++)
		if (!strcmp(t->d[i].name, name))
			return &t->d[i];
	for (size_t i = 0; t && i < t->n_inc; i++) {
		const fn_def *d = fn_lookup(t->inc[i], name);
		if (d)
			return d;
	}
	return NULL;
}

size_t fn_table_count(const fn_table *t) { return t ? t->n : 0; }

const fn_def *fn_table_at(const fn_table *t, size_t i) { return t && i < t->n ? &t->d[i] : NULL; }

const char *fn_step_name(const ydoc_node *step)
{
	if (step->kind == YDOC_SCALAR)
		return step->value;
	return step->kind == YDOC_MAP && step->n == 1 ? step->items[0]->value : NULL;
}

/* --- expressions as text ------------------------------------------------------------------ */

static int ident_start(int c) { return isalpha(c) || c == '_'; }
static int ident_char(int c) { return isalnum(c) || c == '_'; }

static int is_keyword(const char *s, size_t n)
{
	static const char *const kw[] = {"true", "false", "null", "and", "or", "not", "in", NULL};
	for (const char *const *k = kw; *k; k++)
		if (strlen(*k) == n && !strncmp(*k, s, n))
			return 1;
	return 0;
}

/* Index of the identifier s[0..n) among names, or -1. */
static int name_index(char *const *names, size_t cnt, const char *s, size_t n)
{
	for (size_t i = 0; i < cnt; i++)
		if (strlen(names[i]) == n && !strncmp(names[i], s, n))
			return (int)i;
	return -1;
}

typedef struct subst {
	char *const *names; /* the function's parameters */
	size_t n;
	char *const *with;  /* the call's expression text for each, or NULL: only report */
	const char *bad;    /* the first free name that is not a parameter (when with is NULL) */
	size_t bad_n;
} subst;

/* Copy src into out replacing each free identifier that names a parameter by "(its text)". A
 * free identifier is one that is not a field (after '.'), a function (before '('), a mapping
 * key ({k: ...}), a keyword, or inside a string. Returns -1 when out is too small. */
static int substitute(const char *src, subst *s, char *out, size_t cap)
{
	size_t o = 0;
	char prev = 0, open[64];
	int depth = 0;
	for (const char *p = src; *p;) {
		const char *start = p;
		if (*p == '\'' || *p == '"') { /* a string literal, escapes included */
			char q = *p++;
			while (*p && *p != q)
				p += p[0] == '\\' && p[1] ? 2 : 1;
			p += *p ? 1 : 0;
		} else if (ident_start((unsigned char)*p) && !(prev == '.' || isdigit((unsigned char)prev))) {
			while (ident_char((unsigned char)*p))
				p++;
			const char *q = p;
			while (*q == ' ')
				q++;
			size_t n = (size_t)(p - start);
			int key = depth && open[depth - 1] == '{' && *q == ':' && (prev == '{' || prev == ',');
			int k = *q == '(' || key || is_keyword(start, n) ? -1 : name_index(s->names, s->n, start, n);
			if (k < 0 && !(*q == '(' || key || is_keyword(start, n)) && !s->bad) {
				s->bad = start;
				s->bad_n = n;
			}
			if (k >= 0 && s->with) {
				const char *w0 = s->with[k], *fmt = "%s";
				for (const char *c = w0; *c && fmt[0] == '%'; c++) /* a name or number stays bare */
					if (!ident_char((unsigned char)*c) && *c != '.')
						fmt = "(%s)";
				int w = snprintf(out + o, o < cap ? cap - o : 0, fmt, w0);
				if (w < 0 || (o += (size_t)w) >= cap)
					return -1;
				prev = ')';
				continue;
			}
		} else {
			if ((*p == '(' || *p == '[' || *p == '{') && depth < 64)
				open[depth++] = *p;
			else if ((*p == ')' || *p == ']' || *p == '}') && depth)
				depth--;
			p++;
		}
		if (o + (size_t)(p - start) >= cap)
			return -1;
		memcpy(out + o, start, (size_t)(p - start));
		o += (size_t)(p - start);
		for (const char *c = p; c > start; c--)
			if (c[-1] != ' ') {
				prev = c[-1];
				break;
			}
	}
	out[o] = '\0';
	return 0;
}

/* The text without surrounding blanks and balanced outer parentheses, into buf. */
static const char *trim(const char *t, char *buf, size_t cap)
{
	size_t n = strlen(t);
	while (n && isspace((unsigned char)*t))
		t++, n--;
	while (n && isspace((unsigned char)t[n - 1]))
		n--;
	while (n >= 2 && t[0] == '(' && t[n - 1] == ')') {
		int d = 0, whole = 1;
		for (size_t i = 0; i < n - 1 && whole; i++)
			whole = (d += t[i] == '(' ? 1 : t[i] == ')' ? -1 : 0) > 0;
		if (!whole)
			break;
		t++, n -= 2;
	}
	if (n >= cap)
		n = cap - 1;
	memcpy(buf, t, n);
	buf[n] = '\0';
	return buf;
}

/* 1 and *v when the text is an integer literal ("3", "(-1)"). */
static int lit_int(const char *t, long long *v)
{
	char buf[64], *end;
	if (!t || strlen(t) >= sizeof buf)
		return 0;
	trim(t, buf, sizeof buf);
	if (!buf[0])
		return 0;
	*v = strtoll(buf, &end, 10);
	return *end == '\0';
}

/* The items of a list written "[a, b, c]" (texts, malloc'd); -1 when t is not written as a list
 * or has more than max items. */
static int list_items(const char *t, char **items, int max)
{
	char buf[FN_MAX_TEXT];
	int n = 0, d = 0;
	trim(t, buf, sizeof buf);
	size_t len = strlen(buf);
	if (len < 2 || buf[0] != '[' || buf[len - 1] != ']')
		return -1;
	buf[len - 1] = '\0';
	char *s = buf + 1, *from = s;
	if (!*trim(s, (char[8]){0}, 8))
		return 0;
	for (char *p = s;; p++) {
		if (*p == '\'' || *p == '"') {
			char q = *p++;
			while (*p && *p != q)
				p += p[0] == '\\' && p[1] ? 2 : 1;
			if (!*p)
				break;
			continue;
		}
		d += (*p == '(' || *p == '[' || *p == '{') - (*p == ')' || *p == ']' || *p == '}');
		if ((*p == ',' && !d) || !*p) {
			char c = *p, one[FN_MAX_TEXT];
			*p = '\0';
			if (n == max)
				goto fail;
			items[n++] = strdup(trim(from, one, sizeof one));
			if (!items[n - 1])
				goto fail;
			if (!c)
				return n;
			from = p + 1;
		}
	}
fail:
	while (n)
		free(items[--n]);
	return -1;
}

/* --- derivation -------------------------------------------------------------------------- */

/* What the derivation knows of one tensor: the sizes of its leading axes as expression text
 * (NULL: not known), n of them; nothing of the axes after. */
typedef struct sym {
	int n;
	char *d[CK_MAX_RANK];
} sym;

/* The chain's tensors: count of them (-1: not known, then t[0] stands for every one alike). */
typedef struct state {
	int count;
	sym t[FN_MAX_TENSORS];
} state;

static void sym_clear(sym *s)
{
	for (int i = 0; i < s->n; i++)
		free(s->d[i]);
	s->n = 0;
}

static int sym_copy(sym *dst, const sym *src)
{
	sym_clear(dst);
	for (int i = 0; i < src->n; i++)
		if (src->d[i] && !(dst->d[i] = strdup(src->d[i])))
			return -1;
		else if (!src->d[i])
			dst->d[i] = NULL;
	dst->n = src->n;
	return 0;
}

static void state_clear(state *s)
{
	for (int i = 0; i < FN_MAX_TENSORS; i++)
		sym_clear(&s->t[i]);
}

/* Forget everything: the count and every shape. */
static void state_unknown(state *s)
{
	state_clear(s);
	s->count = -1;
}

static const rule_param *param(const rule_act *a, const char *name)
{
	for (size_t i = 0; i < a->n; i++)
		if (!strcmp(a->p[i].name, name))
			return &a->p[i];
	return NULL;
}

/* An integer parameter written as a literal (or its default when absent); 0 when not literal. */
static int int_param(const rule_act *a, const char *name, long long dflt, long long *v)
{
	const rule_param *p = param(a, name);
	*v = dflt;
	return !p || lit_int(p->text, v);
}

/* Add a parameter the derivation computed (text) to a, as if written at the step. */
static int add_param(rule_act *a, const char *name, const char *text, ck_err *e)
{
	char where[600];
	rule_param *np = realloc(a->p, (a->n + 1) * sizeof *np), *p;
	if (!np)
		return ck_errf(e, CK_ENOMEM, "out of memory");
	a->p = np;
	p = &a->p[a->n];
	memset(p, 0, sizeof *p);
	p->pos = a->pos;
	p->slot = vocab_param_index(a->kind, name);
	snprintf(where, sizeof where, "%s:%d:%d", a->pos.file, a->pos.line, a->pos.col);
	if (!(p->name = strdup(name)) || !(p->text = strdup(text))) {
		free(p->name);
		return ck_errf(e, CK_ENOMEM, "out of memory");
	}
	a->n++;
	return expr_parse(text, where, &p->x, e);
}

/* Is tensor i one the step applies to (its `only`, when written as a literal list)? -1: not known. */
static int applies(const rule_act *a, int i)
{
	const rule_param *p = param(a, "only");
	char *it[FN_MAX_TENSORS];
	int n, hit = 0;
	if (!p)
		return 1;
	if ((n = list_items(p->text, it, FN_MAX_TENSORS)) < 0)
		return -1;
	for (int j = 0; j < n; j++) {
		long long v;
		if (!lit_int(it[j], &v))
			hit = -1;
		else if (v == i && hit >= 0)
			hit = 1;
		free(it[j]);
	}
	return hit;
}

/* Run one per-tensor step over the state: fn updates each tensor it applies to. */
static int each_sym(state *s, const rule_act *a, int (*fn)(const rule_act *, sym *, ck_err *), ck_err *e)
{
	if (s->count < 0) {
		if (param(a, "only")) { /* some tensors change, which is not known: they are no longer alike */
			state_unknown(s);
			return 0;
		}
		return fn(a, &s->t[0], e);
	}
	for (int i = 0; i < s->count; i++) {
		int ap = applies(a, i), rc;
		if (ap < 0)
			sym_clear(&s->t[i]);
		else if (ap && (rc = fn(a, &s->t[i], e)))
			return rc;
	}
	return 0;
}

static int sym_forget(const rule_act *a, sym *t, ck_err *e)
{
	(void)a, (void)e;
	sym_clear(t);
	return 0;
}

/* Make axes 0..n-1 exist in t (unknown sizes). */
static void sym_reach(sym *t, int n)
{
	while (t->n < n && t->n < CK_MAX_RANK)
		t->d[t->n++] = NULL;
}

static int sym_unflatten(const rule_act *a, sym *t, ck_err *e)
{
	char *it[CK_MAX_RANK];
	long long ax;
	int k;
	const rule_param *sz = param(a, "sizes");
	if (!int_param(a, "axis", 0, &ax) || ax < 0 || ax >= CK_MAX_RANK ||
		(k = list_items(sz->text, it, CK_MAX_RANK)) < 1) {
		sym_clear(t);
		return 0;
	}
	sym_reach(t, (int)ax + 1);
	if (t->n - 1 + k > CK_MAX_RANK) {
		while (k)
			free(it[--k]);
		return perr(e, a->pos, "unflatten: more axes than the rank limit", NULL, NULL);
	}
	free(t->d[ax]);
	memmove(&t->d[ax + k], &t->d[ax + 1], (size_t)(t->n - ax - 1) * sizeof *t->d);
	memcpy(&t->d[ax], it, (size_t)k * sizeof *it);
	t->n += k - 1;
	return 0;
}

/* The sizes flatten merges, as "[a, b, ...]" into buf; 0 when every one is known. */
static int merged_sizes(const sym *t, long long ax, long long cnt, char *buf, size_t cap)
{
	size_t o = 0;
	if (ax + cnt > t->n)
		return -1;
	for (long long i = 0; i < cnt; i++) {
		if (!t->d[ax + i])
			return -1;
		int w = snprintf(buf + o, cap - o, "%s%s", i ? ", " : "[", t->d[ax + i]);
		if (w < 0 || (o += (size_t)w) + 2 >= cap)
			return -1;
	}
	buf[o++] = ']';
	buf[o] = '\0';
	return 0;
}

static int sym_flatten(const rule_act *a, sym *t, ck_err *e)
{
	long long ax, cnt;
	char prod[FN_MAX_TEXT] = "";
	int known = 1;
	(void)e;
	if (!int_param(a, "axis", 0, &ax) || !int_param(a, "count", 2, &cnt) || ax < 0 || cnt < 1 || ax + cnt > t->n) {
		sym_clear(t);
		return 0;
	}
	for (long long i = 0; i < cnt; i++) {
		known = known && t->d[ax + i];
		if (known)
			snprintf(prod + strlen(prod), sizeof prod - strlen(prod), "%s(%s)", i ? "*" : "", t->d[ax + i]);
		free(t->d[ax + i]);
	}
	t->d[ax] = known ? strdup(prod) : NULL;
	memmove(&t->d[ax + 1], &t->d[ax + cnt], (size_t)(t->n - ax - cnt) * sizeof *t->d);
	t->n -= (int)cnt - 1;
	return 0;
}

static int sym_permute(const rule_act *a, sym *t, ck_err *e)
{
	char *it[CK_MAX_RANK], *nd[CK_MAX_RANK];
	long long v[CK_MAX_RANK];
	int k = list_items(param(a, "axes")->text, it, CK_MAX_RANK), ok = k > 0;
	(void)e;
	for (int i = 0; i < k; i++) {
		ok = ok && lit_int(it[i], &v[i]) && v[i] >= 0 && v[i] < k;
		free(it[i]);
	}
	if (!ok) {
		sym_clear(t);
		return 0;
	}
	sym_reach(t, k);
	for (int i = 0; i < k; i++)
		nd[i] = t->d[v[i]];
	memcpy(t->d, nd, (size_t)k * sizeof *nd); /* a repeated axis is refused when it runs */
	for (int i = 0; i < k; i++)
		for (int j = i + 1; j < k; j++)
			if (t->d[i] == t->d[j] && t->d[i]) {
				sym_clear(t);
				return 0;
			}
	return 0;
}

static int flatten_step(rule_act *a, state *s, ck_err *e)
{
	long long ax, cnt;
	char sizes[FN_MAX_TEXT], other[FN_MAX_TEXT];
	int known = int_param(a, "axis", 0, &ax) && int_param(a, "count", 2, &cnt) && ax >= 0 && cnt >= 1;
	if (!param(a, "sizes")) {
		/* the inverse unflattens: it needs the merged axes' sizes, the same for every tensor */
		int n = s->count < 0 ? 1 : s->count, got = 0;
		for (int i = 0; known && i < n && got >= 0; i++) {
			int ap = s->count < 0 ? !param(a, "only") : applies(a, i);
			if (ap < 0 || (ap && merged_sizes(&s->t[i], ax, cnt, got ? other : sizes, sizeof sizes)))
				got = -1;
			else if (ap && got && strcmp(sizes, other))
				got = -1;
			else if (ap)
				got = 1;
		}
		if (!known || got <= 0)
			return perr(e, a->pos,
				"flatten cannot be inverted: the sizes of the axes it merges are not known here (write them: "
				"sizes: [...], or unflatten them earlier in the chain)", NULL, NULL);
		if (add_param(a, "sizes", sizes, e))
			return CK_EINVALID;
	}
	return each_sym(s, a, sym_flatten, e);
}

/* split: one tensor becomes `sizes` parts (their sizes known) or `parts` equal ones. */
static int split_step(const rule_act *a, state *s, ck_err *e)
{
	const rule_param *sz = param(a, "sizes");
	char *it[FN_MAX_TENSORS] = {0};
	long long ax, parts;
	int k = sz ? list_items(sz->text, it, FN_MAX_TENSORS) : -1, rc = 0;
	int have_ax = int_param(a, "axis", 0, &ax) && ax >= 0 && ax < CK_MAX_RANK;
	sym one = {0};
	if (s->count > 1)
		return perr(e, a->pos, "split takes one tensor, the chain has several here", NULL, NULL);
	if (!sz && param(a, "parts") && int_param(a, "parts", 0, &parts) && parts > 0 && parts <= FN_MAX_TENSORS)
		k = (int)parts;
	one = s->t[0];
	s->t[0] = (sym){0};
	state_clear(s);
	s->count = k; /* -1: as many as the rule has targets, alike */
	for (int i = 0; i < (k < 0 ? 1 : k) && !rc; i++) {
		sym *t = &s->t[i];
		if (sym_copy(t, &one)) {
			rc = ck_errf(e, CK_ENOMEM, "out of memory");
			break;
		}
		if (!have_ax) {
			sym_clear(t);
			continue;
		}
		sym_reach(t, (int)ax + 1);
		free(t->d[ax]);
		t->d[ax] = NULL;
		if (sz && k > 0) {
			t->d[ax] = it[i];
			it[i] = NULL;
		} else if (k > 0 && one.n > ax && one.d[ax] && asprintf(&t->d[ax], "(%s)//%d", one.d[ax], k) < 0)
			t->d[ax] = NULL;
	}
	for (int i = 0; i < k && sz; i++)
		free(it[i]);
	sym_clear(&one);
	return rc;
}

/* concat: without sizes the parts must be equal (checked when it runs) and the inverse splits
 * equally; parts known to differ get their sizes written, so that the inverse splits them back. */
static int concat_step(rule_act *a, state *s, ck_err *e)
{
	long long ax;
	char sizes[FN_MAX_TEXT];
	int known = int_param(a, "axis", 0, &ax) && ax >= 0 && ax < CK_MAX_RANK && s->count > 1, differ = 0;
	size_t o = 0;
	for (int i = 0; known && i < s->count; i++) {
		const char *d = ax < s->t[i].n ? s->t[i].d[ax] : NULL;
		int w = d ? snprintf(sizes + o, sizeof sizes - o, "%s%s", i ? ", " : "[", d) : -1;
		if (w < 0 || (o += (size_t)w) + 2 >= sizeof sizes)
			known = 0;
		else
			differ |= i && strcmp(d, s->t[0].d[ax]);
	}
	if (known && differ && !param(a, "sizes")) {
		snprintf(sizes + o, sizeof sizes - o, "]");
		if (add_param(a, "sizes", sizes, e))
			return CK_EINVALID;
	}
	if (s->count > 0) {
		sym first = s->t[0];
		s->t[0] = (sym){0};
		state_clear(s);
		if (ax >= 0 && ax < first.n) {
			free(first.d[ax]);
			first.d[ax] = NULL;
		}
		s->t[0] = first;
	} else
		state_unknown(s);
	s->count = 1;
	return 0;
}

static int select_step(const rule_act *a, state *s, ck_err *e)
{
	char *it[FN_MAX_TENSORS];
	long long v[FN_MAX_TENSORS];
	unsigned seen = 0;
	int k = list_items(param(a, "order")->text, it, FN_MAX_TENSORS), lit = k > 0;
	for (int i = 0; i < k; i++) {
		lit = lit && lit_int(it[i], &v[i]);
		free(it[i]);
	}
	if (!lit) {
		state_unknown(s);
		return 0;
	}
	for (int i = 0; i < k; i++) {
		if (v[i] < 0 || v[i] >= k || (seen >> v[i] & 1) || (s->count >= 0 && k != s->count))
			return perr(e, a->pos,
				"select cannot be inverted: order must be a permutation of the chain's tensors (each once)", NULL, NULL);
		seen |= 1u << v[i];
	}
	if (s->count < 0) { /* alike: reordering changes nothing known */
		sym one = s->t[0];
		s->t[0] = (sym){0};
		for (int i = 0; i < k; i++)
			if (sym_copy(&s->t[i], &one))
				return ck_errf(e, CK_ENOMEM, "out of memory");
		sym_clear(&one);
	} else {
		sym old[FN_MAX_TENSORS];
		memcpy(old, s->t, sizeof old);
		for (int i = 0; i < k; i++)
			s->t[i] = old[v[i]];
	}
	s->count = k;
	return 0;
}

/* One step of the chain over the state: what the inverse needs added, or an error. */
static int derive_step(rule_act *a, state *s, ck_err *e)
{
	switch (a->kind) {
	case VOCAB_UNFLATTEN: return each_sym(s, a, sym_unflatten, e);
	case VOCAB_FLATTEN: return flatten_step(a, s, e);
	case VOCAB_PERMUTE: return each_sym(s, a, sym_permute, e);
	case VOCAB_TRANSPOSE: return each_sym(s, a, sym_forget, e);
	case VOCAB_SPLIT: return split_step(a, s, e);
	case VOCAB_CONCAT: return concat_step(a, s, e);
	case VOCAB_SELECT: return select_step(a, s, e);
	case VOCAB_STACK:
	case VOCAB_FIRST:
		state_unknown(s);
		s->count = 1;
		return 0;
	case VOCAB_UNSTACK:
	case VOCAB_DUPLICATE: state_unknown(s); return 0;
	default: return 0; /* values change, shapes stay */
	}
}

int fn_derive(rule_act *acts, size_t n, ck_err *e)
{
	state s;
	int rc = 0;
	memset(&s, 0, sizeof s);
	s.count = -1;
	for (size_t i = 0; i < n && !rc; i++)
		rc = derive_step(&acts[i], &s, e);
	state_clear(&s);
	return rc;
}

/* --- definitions and calls ------------------------------------------------------------------- */

static int append_acts(rule_act **acts, size_t *n, size_t more, ck_err *e)
{
	rule_act *v = realloc(*acts, (*n + more) * sizeof *v);
	if (!v)
		return ck_errf(e, CK_ENOMEM, "out of memory");
	memset(v + *n, 0, more * sizeof *v);
	*acts = v;
	return 0;
}

static int ident_ok(const char *s)
{
	if (!ident_start((unsigned char)*s) || is_keyword(s, strlen(s)))
		return 0;
	while (*++s)
		if (!ident_char((unsigned char)*s))
			return 0;
	return 1;
}

/* A body step's expressions read only the function's parameters. */
static int check_free_names(const fn_def *d, const rule_act *a, ck_err *e)
{
	char out[FN_MAX_TEXT];
	for (size_t i = 0; i < a->n; i++) {
		subst s = {d->params, d->n_params, NULL, NULL, 0};
		if (vocab_get(a->kind)->p[a->p[i].slot].type == VOCAB_P_PLACEHOLDER)
			continue;
		if (substitute(a->p[i].text, &s, out, sizeof out))
			return perr(e, a->p[i].pos, "expression too long", NULL, NULL);
		if (s.bad) {
			char name[128];
			snprintf(name, sizeof name, "%.*s", (int)(s.bad_n < 100 ? s.bad_n : 100), s.bad);
			return perr(e, a->p[i].pos,
				"function '%s' reads '%s', which is not one of its params (pass config values at the call)",
				d->name, name);
		}
	}
	return 0;
}

/* The text of an argument or parameter value: a scalar as written, a sequence as "[a, b]". */
static int node_text(const rule_file *f, const ydoc_node *v, char *buf, size_t cap, ck_err *e)
{
	size_t o = 0;
	if (v->kind == YDOC_SCALAR)
		return snprintf(buf, cap, "%s", v->value) < (int)cap ? 0 : perr(e, pos_at(f, v), "value too long", NULL, NULL);
	if (v->kind != YDOC_SEQ)
		return perr(e, pos_at(f, v), "a value must be a scalar or a list, found a %s", ydoc_kind_name(v->kind), NULL);
	for (size_t i = 0; i < v->n; i++) {
		if (v->items[i]->kind != YDOC_SCALAR)
			return perr(e, pos_at(f, v->items[i]), "list items must be scalars", NULL, NULL);
		int w = snprintf(buf + o, cap - o, "%s%s", i ? ", " : "[", v->items[i]->value);
		if (w < 0 || (o += (size_t)w) + 2 >= cap)
			return perr(e, pos_at(f, v), "value too long", NULL, NULL);
	}
	snprintf(buf + o, cap - o, "%s]", v->n ? "" : "[");
	return 0;
}

/* One step of a body or a chain: a call (expanded) or a primitive. vis: the functions visible. */
static int parse_step(const fn_table *vis, const rule_file *f, const ydoc_node *n, rule_act **acts, size_t *cnt,
	ck_err *e)
{
	const char *name = fn_step_name(n);
	const fn_def *d = name ? fn_lookup(vis, name) : NULL;
	if (d)
		return fn_expand(d, f, n, acts, cnt, e);
	if (append_acts(acts, cnt, 1, e))
		return CK_ENOMEM;
	(*cnt)++;
	return rule_act_parse(f, n, &(*acts)[*cnt - 1], e);
}

static int parse_def(fn_table *t, const rule_file *f, const ydoc_node *k, const ydoc_node *v, ck_err *e)
{
	static const char *const allowed[] = {"params", "steps", "doc", NULL};
	const ydoc_node *ps = ydoc_map_get(v, "params"), *st = ydoc_map_get(v, "steps"), *doc = ydoc_map_get(v, "doc");
	vocab_kind kind;
	fn_def *d = &t->d[t->n];
	memset(d, 0, sizeof *d);
	if (!ident_ok(k->value))
		return perr(e, pos_at(f, k), "function name '%s' is not an identifier", k->value, NULL);
	if (vocab_lookup(k->value, ~0u, &kind) == 0 || fn_lookup(t, k->value))
		return perr(e, pos_at(f, k), "function '%s' is already defined (%s)", k->value,
			fn_lookup(t, k->value) ? "a function" : "a primitive of actions.def");
	if (v->kind != YDOC_MAP)
		return perr(e, pos_at(f, v), "function '%s' must be a mapping {params: [...], steps: [...], doc: TEXT}",
			k->value, NULL);
	for (size_t i = 0; i < v->n; i++) {
		const char *key = v->items[2 * i]->value;
		int ok = 0;
		for (const char *const *a = allowed; *a && !ok; a++)
			ok = !strcmp(*a, key);
		if (!ok)
			return perr(e, pos_at(f, v->items[2 * i]), "unknown key '%s' in function (expected one of: params, steps, doc)",
				key, NULL);
	}
	if (!st || st->kind != YDOC_SEQ || !st->n)
		return perr(e, pos_at(f, st ? st : v), "function '%s' needs steps: a non-empty list of actions", k->value, NULL);
	if ((ps && ps->kind != YDOC_SEQ) || (doc && doc->kind != YDOC_SCALAR))
		return perr(e, pos_at(f, ps && ps->kind != YDOC_SEQ ? ps : doc), "function '%s': params is a list of names, doc a text",
			k->value, NULL);
	d->pos = pos_at(f, k);
	t->n++; /* owned from here: freed with the table on any error */
	if (!(d->name = strdup(k->value)) || (doc && !(d->doc = strdup(doc->value))) ||
		(ps && ps->n && !(d->params = calloc(ps->n, sizeof *d->params))))
		return ck_errf(e, CK_ENOMEM, "out of memory");
	for (size_t i = 0; ps && i < ps->n; i++) {
		const ydoc_node *p = ps->items[i];
		if (p->kind != YDOC_SCALAR || !ident_ok(p->value) ||
			name_index(d->params, d->n_params, p->value, strlen(p->value)) >= 0)
			return perr(e, pos_at(f, p), "function '%s': parameters are distinct identifiers", k->value, NULL);
		if (!(d->params[d->n_params++] = strdup(p->value)))
			return ck_errf(e, CK_ENOMEM, "out of memory");
	}
	t->n--; /* a body sees the functions before it, not itself */
	for (size_t i = 0; i < st->n; i++) {
		int rc = parse_step(t, f, st->items[i], &d->steps, &d->n_steps, e);
		if (rc) {
			t->n++;
			return rc;
		}
	}
	t->n++;
	for (size_t i = 0; i < d->n_steps; i++)
		if (check_free_names(d, &d->steps[i], e))
			return CK_EINVALID;
	return fn_derive(d->steps, d->n_steps, e);
}

int fn_table_parse(const rule_file *f, const ydoc_node *sec, const fn_table *const *inc, size_t n_inc, fn_table **out,
	ck_err *e)
{
	fn_table *t = calloc(1, sizeof *t);
	int rc = 0;
	*out = NULL;
	if (!t || !(t->d = calloc(sec->n ? sec->n : 1, sizeof *t->d)) ||
		(n_inc && !(t->inc = calloc(n_inc, sizeof *t->inc)))) {
		fn_table_free(t);
		return ck_errf(e, CK_ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < n_inc; i++)
		t->inc[t->n_inc++] = inc[i];
	for (size_t i = 0; i < sec->n && !rc; i++)
		if (strcmp(sec->items[2 * i]->value, "include"))
			rc = parse_def(t, f, sec->items[2 * i], sec->items[2 * i + 1], e);
	if (rc) {
		fn_table_free(t);
		return rc;
	}
	*out = t;
	return 0;
}

/* One body step bound to the call: its parameters' texts with the call's expressions in. */
static int bind_step(const fn_def *d, char *const *with, const rule_act *b, rule_pos at, rule_act *a, ck_err *e)
{
	char where[700], text[FN_MAX_TEXT];
	a->kind = b->kind;
	a->pos = at;
	snprintf(where, sizeof where, "%s:%d:%d", at.file, at.line, at.col);
	if (!(a->name = strdup(b->name)) ||
		asprintf(&a->via, "%s (%s:%d:%d)", d->name, b->pos.file, b->pos.line, b->pos.col) < 0 ||
		(b->n && !(a->p = calloc(b->n, sizeof *a->p)))) {
		a->via = NULL;
		return ck_errf(e, CK_ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < b->n; i++) {
		rule_param *p = &a->p[a->n++];
		subst s = {d->params, d->n_params, with, NULL, 0};
		p->slot = b->p[i].slot;
		p->pos = at;
		if (!(p->name = strdup(b->p[i].name)))
			return ck_errf(e, CK_ENOMEM, "out of memory");
		if (vocab_get(b->kind)->p[p->slot].type == VOCAB_P_PLACEHOLDER) {
			if (!(p->text = strdup(b->p[i].text)))
				return ck_errf(e, CK_ENOMEM, "out of memory");
			continue;
		}
		if (substitute(b->p[i].text, &s, text, sizeof text))
			return perr(e, at, "%s: expression too long after binding the call's parameters", d->name, NULL);
		if (!(p->text = strdup(text)))
			return ck_errf(e, CK_ENOMEM, "out of memory");
		if (expr_parse(text, where, &p->x, e))
			return CK_EINVALID;
	}
	return 0;
}

int fn_expand(const fn_def *d, const rule_file *f, const ydoc_node *call, rule_act **acts, size_t *n, ck_err *e)
{
	const ydoc_node *args = call->kind == YDOC_MAP ? call->items[1] : NULL;
	rule_pos at = pos_at(f, call->kind == YDOC_MAP ? call->items[0] : call);
	char **with = calloc(d->n_params ? d->n_params : 1, sizeof *with), buf[FN_MAX_TEXT];
	int rc = 0;
	if (!with)
		return ck_errf(e, CK_ENOMEM, "out of memory");
	if (args && args->kind == YDOC_SCALAR && !args->quoted && (!strcmp(args->value, "null") || !args->value[0]))
		args = NULL;
	if (args && args->kind != YDOC_MAP) {
		rc = perr(e, pos_at(f, args), "a call of '%s' takes a mapping of its params", d->name, NULL);
		goto done;
	}
	for (size_t i = 0; args && i < args->n && !rc; i++) {
		const ydoc_node *k = args->items[2 * i];
		int j = name_index(d->params, d->n_params, k->value, strlen(k->value));
		if (j < 0)
			rc = perr(e, pos_at(f, k), "function '%s' has no parameter '%s'", d->name, k->value);
		else if (!(rc = node_text(f, args->items[2 * i + 1], buf, sizeof buf, e)) && !(with[j] = strdup(buf)))
			rc = ck_errf(e, CK_ENOMEM, "out of memory");
	}
	for (size_t j = 0; j < d->n_params && !rc; j++)
		if (!with[j])
			rc = perr(e, at, "function '%s' needs parameter '%s'", d->name, d->params[j]);
	if (!rc && !(rc = append_acts(acts, n, d->n_steps, e)))
		for (size_t k = 0; k < d->n_steps && !rc; k++) {
			rc = bind_step(d, with, &d->steps[k], at, &(*acts)[*n], e);
			(*n)++;
		}
done:
	for (size_t j = 0; j < d->n_params; j++)
		free(with[j]);
	free(with);
	return rc;
}

/* A chain written in a key rule: calls expanded, primitives parsed, the inverse derived. */
int fn_chain_parse(const fn_table *vis, const rule_file *f, const ydoc_node *n, rule_act **acts, size_t *cnt, ck_err *e)
{
	size_t items = n->kind == YDOC_SEQ ? n->n : 1;
	int rc = 0;
	*acts = NULL;
	*cnt = 0;
	for (size_t i = 0; i < items && !rc; i++)
		rc = parse_step(vis, f, n->kind == YDOC_SEQ ? n->items[i] : n, acts, cnt, e);
	return rc ? rc : fn_derive(*acts, *cnt, e);
}
