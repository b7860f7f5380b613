/* match.c - templates like "layers.<L>.mlp.<P>" -> PCRE2 with named groups; one combined
 * alternation per direction with (*MARK) naming the rule, so first match wins in one pass. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "match.h"
#include "text.h"

/* One placeholder occurrence in a template: <NAME>, <A*NAME>, <NAME+B>, <A*NAME+B>. */
typedef struct tpl_ph {
	char name[32];
	long long a, b;
} tpl_ph;

typedef struct slot_re {
	size_t rule, slot;
	pcre2_code *re;
	size_t n_ph;
	tpl_ph ph[MATCH_MAX_BIND];
} slot_re;

struct match_prog {
	size_t n_keys;
	int dir;
	pcre2_code *all;
	pcre2_match_data *md;
	size_t n;
	slot_re *slots;
	slot_re *for_each; /* per rule: compiled for_each template or re == NULL */
};

/* text appends that report running out of memory, for chains of `||` */
static int sb_add(text *b, const char *s, size_t n)
{
	text_add(b, s, n);
	return b->oom ? -1 : 0;
}

static int sb_str(text *b, const char *s) { return sb_add(b, s, strlen(s)); }

static int sb_lit(text *b, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (strchr("\\^$.|?*+()[]{}", s[i]) && sb_add(b, "\\", 1))
			return -1;
		if (sb_add(b, s + i, 1))
			return -1;
	}
	return 0;
}

/* Parse "{...}" content: [A*]NAME[+B]. Returns 0 or -1 on syntax error. */
static int parse_ph(const char *s, size_t n, tpl_ph *out)
{
	char buf[96];
	char *p, *star, *plus;
	if (n == 0 || n >= sizeof buf)
		return -1;
	memcpy(buf, s, n);
	buf[n] = '\0';
	out->a = 1;
	out->b = 0;
	p = buf;
	if ((star = strchr(p, '*'))) {
		*star = '\0';
		char *end;
		out->a = strtoll(p, &end, 10);
		if (*end || out->a <= 0)
			return -1;
		p = star + 1;
	}
	if ((plus = strchr(p, '+'))) {
		*plus = '\0';
		char *end;
		out->b = strtoll(plus + 1, &end, 10);
		if (*end || out->b < 0)
			return -1;
	}
	if (!*p || strlen(p) >= sizeof out->name)
		return -1;
	for (char *c = p; *c; c++)
		if (!(*c == '_' || (*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') || (c > p && *c >= '0' && *c <= '9')))
			return -1;
	memcpy(out->name, p, strlen(p) + 1); /* length checked above */
	return 0;
}

static int tpl_err(ck_err *e, const rule_key *k, const char *tpl, const char *what)
{
	return ck_errf(e, CK_EINVALID, "%s:%d:%d: template '%s': %s", k->pos.file, k->pos.line, k->pos.col, tpl, what);
}

/* Template -> regex source (no anchors) with named groups; fills ph[]. */
static int tpl_regex(const rule_key *k, const char *tpl, text *re, slot_re *sr, ck_err *e)
{
	const char *p = tpl;
	sr->n_ph = 0;
	while (*p) {
		const char *open = strchr(p, '<');
		if (!open) {
			if (sb_lit(re, p, strlen(p)))
				return ck_errf(e, CK_ENOMEM, "out of memory");
			break;
		}
		const char *close = strchr(open, '>');
		tpl_ph ph;
		if (!close || parse_ph(open + 1, (size_t)(close - open - 1), &ph))
			return tpl_err(e, k, tpl, "bad placeholder: write <NAME>, <2*NAME> or <2*NAME+1>");
		if (sb_lit(re, p, (size_t)(open - p)))
			return ck_errf(e, CK_ENOMEM, "out of memory");
		int seen = 0;
		for (size_t i = 0; i < sr->n_ph; i++)
			seen |= !strcmp(sr->ph[i].name, ph.name);
		const char *rx = rule_ph_regex(k->scope, ph.name);
		if (!rx) {
			char msg[200];
			snprintf(msg, sizeof msg, "placeholder <%s> is not declared under 'placeholders' in %s", ph.name,
				k->scope->path);
			return tpl_err(e, k, tpl, msg);
		}
		if (ph.a != 1 || ph.b != 0)
			rx = "\\d+"; /* index arithmetic works on decimal numbers */
		if (seen) {
			if (sb_str(re, "\\k<") || sb_str(re, ph.name) || sb_str(re, ">"))
				return ck_errf(e, CK_ENOMEM, "out of memory");
		} else {
			if (sr->n_ph == MATCH_MAX_BIND)
				return tpl_err(e, k, tpl, "too many placeholders (at most 8)");
			sr->ph[sr->n_ph++] = ph;
			if (sb_str(re, "(?<") || sb_str(re, ph.name) || sb_str(re, ">(?:") || sb_str(re, rx) || sb_str(re, "))"))
				return ck_errf(e, CK_ENOMEM, "out of memory");
		}
		p = close + 1;
	}
	return 0;
}

static int compile(const char *src, uint32_t opts, pcre2_code **out, const rule_key *k, const char *tpl, ck_err *e)
{
	int ec;
	PCRE2_SIZE off;
	*out = pcre2_compile((PCRE2_SPTR)src, PCRE2_ZERO_TERMINATED, opts | PCRE2_DUPNAMES, &ec, &off, NULL);
	if (!*out) {
		PCRE2_UCHAR msg[256];
		pcre2_get_error_message(ec, msg, sizeof msg);
		char buf[400];
		snprintf(buf, sizeof buf, "regex does not compile: %s (at offset %zu of %s)", msg, (size_t)off, src);
		return k ? tpl_err(e, k, tpl, buf) : ck_errf(e, CK_EINVALID, "%s", buf);
	}
	pcre2_jit_compile(*out, PCRE2_JIT_COMPLETE); /* falls back to the interpreter if JIT is unavailable */
	return 0;
}

/* Placeholders' own regexes may not capture: bindings are our named groups only. */
static int check_ph(const rule_file *f, ck_err *e)
{
	for (size_t i = 0; i < f->n_ph; i++) {
		pcre2_code *re = NULL;
		uint32_t caps = 0;
		int ec;
		PCRE2_SIZE off;
		re = pcre2_compile((PCRE2_SPTR)f->ph[i].regex, PCRE2_ZERO_TERMINATED, 0, &ec, &off, NULL);
		if (!re) {
			PCRE2_UCHAR msg[256];
			pcre2_get_error_message(ec, msg, sizeof msg);
			return ck_errf(e, CK_EINVALID, "%s:%d:%d: placeholder '%s': bad regex '%s': %s at offset %zu",
				f->path, f->ph[i].pos.line, f->ph[i].pos.col, f->ph[i].name, f->ph[i].regex, msg, (size_t)off);
		}
		pcre2_pattern_info(re, PCRE2_INFO_CAPTURECOUNT, &caps);
		pcre2_code_free(re);
		if (caps)
			return ck_errf(e, CK_EINVALID,
				"%s:%d:%d: placeholder '%s': regex '%s' has a capturing group; use (?:...) instead",
				f->path, f->ph[i].pos.line, f->ph[i].pos.col, f->ph[i].name, f->ph[i].regex);
	}
	return 0;
}

static int slot_compile(const rule_key *k, const char *tpl, slot_re *sr, text *all, size_t mark, ck_err *e)
{
	text re = {0};
	int rc = tpl_regex(k, tpl, &re, sr, e);
	char *anch = NULL;
	if (!rc && asprintf(&anch, "%s\\z", re.p ? re.p : "") < 0)
		rc = ck_errf(e, CK_ENOMEM, "out of memory");
	if (!rc)
		rc = compile(anch, PCRE2_ANCHORED, &sr->re, k, tpl, e);
	if (!rc && all) {
		char m[48];
		snprintf(m, sizeof m, "(*MARK:%zu)", mark);
		if ((all->n && sb_str(all, "|")) || sb_str(all, "(?:") || sb_str(all, re.p ? re.p : "") ||
			sb_str(all, ")") || sb_str(all, m))
			rc = ck_errf(e, CK_ENOMEM, "out of memory");
	}
	free(anch);
	free(re.p);
	return rc;
}

int match_compile(const rule_set *s, int dir, match_prog **out, ck_err *e)
{
	int rc = 0;
	*out = NULL;
	for (size_t i = 0; i < s->n_files && !rc; i++)
		rc = check_ph(s->files[i], e);
	return rc ? rc : match_compile_keys(s->keys, s->n_keys, dir, out, e);
}

int match_compile_keys(const rule_key *keys, size_t n_keys, int dir, match_prog **out, ck_err *e)
{
	match_prog *p = ck_calloc(e, 1, sizeof *p);
	text all = {0};
	char *src = NULL;
	size_t total = 0;
	int rc = 0;
	*out = NULL;
	if (!p)
		return CK_ENOMEM;
	p->n_keys = n_keys;
	p->dir = dir;
	for (size_t r = 0; r < n_keys; r++)
		total += keys[r].n_tpl[dir];
	if (!(p->slots = ck_calloc(e, total, sizeof *p->slots)) ||
		!(p->for_each = ck_calloc(e, n_keys, sizeof *p->for_each))) {
		rc = CK_ENOMEM;
		goto fail;
	}
	for (size_t r = 0; r < n_keys; r++) {
		const rule_key *k = &keys[r];
		size_t n = k->n_tpl[dir];
		char **t = k->tpl[dir];
		for (size_t j = 0; j < n; j++) {
			slot_re *sr = &p->slots[p->n];
			sr->rule = r;
			sr->slot = j;
			if ((rc = slot_compile(k, t[j], sr, &all, p->n, e)))
				goto fail;
			p->n++;
		}
		/* for_each lives on the source side of the direction that creates the key */
		int creates_here = k->for_each && k->n_tpl[!dir];
		if (creates_here && (rc = slot_compile(k, k->for_each, &p->for_each[r], NULL, 0, e)))
			goto fail;
	}
	if (asprintf(&src, "(?:%s)\\z", all.p ? all.p : "(*FAIL)") < 0) {
		rc = ck_errf(e, CK_ENOMEM, "out of memory");
		src = NULL;
		goto fail;
	}
	if ((rc = compile(src, PCRE2_ANCHORED, &p->all, NULL, NULL, e)))
		goto fail;
	if (!(p->md = pcre2_match_data_create(64, NULL))) {
		rc = ck_errf(e, CK_ENOMEM, "out of memory");
		goto fail;
	}
	free(src);
	free(all.p);
	*out = p;
	return 0;
fail:
	free(src);
	free(all.p);
	match_free(p);
	return rc;
}

void match_free(match_prog *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->n; i++)
		pcre2_code_free(p->slots[i].re);
	for (size_t i = 0; p->for_each && i < p->n_keys; i++)
		pcre2_code_free(p->for_each[i].re);
	free(p->slots);
	free(p->for_each);
	pcre2_code_free(p->all);
	pcre2_match_data_free(p->md);
	free(p);
}

/* Read the named groups of a successful match into bindings, applying index formulas. */
static int bind(const slot_re *sr, const char *key, pcre2_match_data *md, match_bind *b, ck_err *e)
{
	memset(b, 0, sizeof *b);
	for (size_t i = 0; i < sr->n_ph; i++) {
		PCRE2_SIZE len = sizeof b->val[0];
		const tpl_ph *ph = &sr->ph[i];
		if (pcre2_substring_copy_byname(md, (PCRE2_SPTR)ph->name, (PCRE2_UCHAR *)b->val[i], &len) < 0)
			return ck_errf(e, CK_ELIMIT, "key '%s': placeholder <%s> matched more than %zu characters", key,
				ph->name, sizeof b->val[0] - 1);
		snprintf(b->name[i], sizeof b->name[i], "%s", ph->name);
		char *end;
		long long v = strtoll(b->val[i], &end, 10);
		b->num[i] = (*end || !b->val[i][0]) ? -1 : v;
		if (ph->a != 1 || ph->b != 0) {
			if (b->num[i] < ph->b || (b->num[i] - ph->b) % ph->a)
				return 0; /* e.g. an odd index against {2*J}: not this rule */
			b->num[i] = (b->num[i] - ph->b) / ph->a;
			snprintf(b->val[i], sizeof b->val[i], "%lld", b->num[i]);
		}
		b->n++;
	}
	return 1;
}

static int run(const pcre2_code *re, const char *key, pcre2_match_data *md)
{
	return pcre2_match(re, (PCRE2_SPTR)key, strlen(key), 0, PCRE2_ANCHORED, md, NULL);
}

int match_key(const match_prog *p, const char *key, match_hit *out, ck_err *e)
{
	int rc = run(p->all, key, p->md);
	if (rc == PCRE2_ERROR_NOMATCH)
		return 0;
	if (rc < 0)
		return ck_errf(e, CK_ERROR, "key '%s': regex matching failed (%d)", key, rc);
	size_t idx = (size_t)strtoul((const char *)pcre2_get_mark(p->md), NULL, 10);
	/* one match: the combined program's groups are the picked alternative's (PCRE2_DUPNAMES:
	 * by name, the group that is set), so its bindings are read from this very match */
	if (idx < p->n) {
		int ok = bind(&p->slots[idx], key, p->md, &out->b, e);
		if (ok < 0)
			return ok;
		if (ok) {
			out->rule = p->slots[idx].rule;
			out->slot = p->slots[idx].slot;
			return 1;
		}
		idx++; /* an index formula did not invert (an odd index against <2*J>): the next rules, alone */
	}
	for (; idx < p->n; idx++) {
		const slot_re *sr = &p->slots[idx];
		if (run(sr->re, key, p->md) < 0)
			continue;
		int ok = bind(sr, key, p->md, &out->b, e);
		if (ok < 0)
			return ok;
		if (ok) {
			out->rule = sr->rule;
			out->slot = sr->slot;
			return 1;
		}
	}
	return 0;
}

int match_for_each(const match_prog *p, size_t r, const char *key, match_bind *out, ck_err *e)
{
	const slot_re *sr = &p->for_each[r];
	if (!sr->re || run(sr->re, key, p->md) < 0)
		return 0;
	return bind(sr, key, p->md, out, e);
}

int match_regex_accepts(const char *regex, const char *text)
{
	char *src = NULL;
	pcre2_code *re;
	pcre2_match_data *md;
	int ec, rc;
	PCRE2_SIZE off;
	if (asprintf(&src, "(?:%s)\\z", regex) < 0)
		return -1;
	re = pcre2_compile((PCRE2_SPTR)src, PCRE2_ZERO_TERMINATED, PCRE2_ANCHORED, &ec, &off, NULL);
	free(src);
	if (!re)
		return -1;
	if (!(md = pcre2_match_data_create_from_pattern(re, NULL))) {
		pcre2_code_free(re);
		return -1;
	}
	rc = pcre2_match(re, (PCRE2_SPTR)text, strlen(text), 0, 0, md, NULL) >= 0;
	pcre2_match_data_free(md);
	pcre2_code_free(re);
	return rc;
}

const char *match_bind_get(const match_bind *b, const char *name)
{
	for (size_t i = 0; i < b->n; i++)
		if (!strcmp(b->name[i], name))
			return b->val[i];
	return NULL;
}

int match_tpl_parse(const char *text, rule_pos pos, match_tpl *out, ck_err *e)
{
	size_t cap = 1;
	memset(out, 0, sizeof *out);
	out->text = text;
	out->pos = pos;
	for (const char *c = text; *c; c++)
		cap += *c == '<';
	if (!(out->seg = ck_calloc(e, cap, sizeof *out->seg)))
		return CK_ENOMEM;
	for (const char *p = text;;) {
		const char *open = strchr(p, '<'), *close = open ? strchr(open, '>') : NULL;
		match_seg *sg = &out->seg[out->n++];
		sg->at = (size_t)(p - text);
		sg->len = open ? (size_t)(open - p) : strlen(p);
		if (!open)
			return 0;
		tpl_ph ph;
		if (!close || parse_ph(open + 1, (size_t)(close - open - 1), &ph)) {
			match_tpl_dispose(out);
			return ck_errf(e, CK_EINVALID, "%s:%d:%d: template '%s': bad placeholder: write <NAME>, <2*NAME> or "
				"<2*NAME+1>", pos.file, pos.line, pos.col, text);
		}
		sg->ph = 1;
		memcpy(sg->name, ph.name, sizeof sg->name);
		sg->a = ph.a;
		sg->b = ph.b;
		p = close + 1;
	}
}

void match_tpl_dispose(match_tpl *t)
{
	free(t->seg);
	t->seg = NULL;
	t->n = 0;
}

int match_fill(const match_tpl *t, const match_bind *b, char **out, ck_err *e)
{
	text s = {0};
	*out = NULL;
	for (size_t i = 0; i < t->n; i++) {
		const match_seg *sg = &t->seg[i];
		if (sb_add(&s, t->text + sg->at, sg->len))
			goto oom;
		if (!sg->ph)
			continue;
		const char *v = match_bind_get(b, sg->name);
		if (!v) {
			free(s.p);
			return ck_errf(e, CK_EINVALID, "%s:%d:%d: template '%s': placeholder <%s> is not bound by the source "
				"template", t->pos.file, t->pos.line, t->pos.col, t->text, sg->name);
		}
		if (sg->a != 1 || sg->b != 0) {
			char num[40], *end;
			long long x = strtoll(v, &end, 10);
			if (*end) {
				free(s.p);
				return ck_errf(e, CK_EINVALID, "%s:%d:%d: template '%s': index arithmetic needs a decimal number",
					t->pos.file, t->pos.line, t->pos.col, t->text);
			}
			snprintf(num, sizeof num, "%lld", x * sg->a + sg->b);
			if (sb_str(&s, num))
				goto oom;
		} else if (sb_str(&s, v)) {
			goto oom;
		}
	}
	if (!s.p && !(s.p = strdup("")))
		goto oom;
	*out = s.p;
	return 0;
oom:
	free(s.p);
	return ck_errf(e, CK_ENOMEM, "out of memory");
}

/* Longest prefix of key that the slot's regex can still extend to a match (partial matching). */
static size_t prefix_len(const slot_re *sr, const char *key, pcre2_match_data *md)
{
	size_t len = strlen(key);
	for (size_t k = len + 1; k-- > 0;) {
		int rc = pcre2_match(sr->re, (PCRE2_SPTR)key, k, 0, PCRE2_ANCHORED | PCRE2_PARTIAL_HARD | PCRE2_NO_JIT, md, NULL);
		if (rc >= 0 || rc == PCRE2_ERROR_PARTIAL)
			return k;
	}
	return 0;
}

int match_closest(const match_prog *p, const char *key, match_near *out, size_t n, size_t *used)
{
	*used = 0;
	for (size_t i = 0; i < p->n; i++) {
		match_near m = {p->slots[i].rule, p->slots[i].slot, prefix_len(&p->slots[i], key, p->md)};
		size_t at = *used;
		while (at > 0 && out[at - 1].matched < m.matched)
			at--;
		if (at >= n)
			continue;
		size_t last = *used < n ? *used : n - 1;
		memmove(out + at + 1, out + at, (last - at) * sizeof *out);
		out[at] = m;
		if (*used < n)
			(*used)++;
	}
	return 0;
}
