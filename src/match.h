/* match.h - compile the key rules of one direction into one PCRE2 (JIT) program;
 * map a source key to its rule, template slot and placeholder bindings; fill target templates. */
#ifndef CK_MATCH_H
#define CK_MATCH_H

#include "err.h"
#include "rule.h"

enum { MATCH_HF_TO_CS = 0, MATCH_CS_TO_HF = 1 };
#define MATCH_MAX_BIND 8

typedef struct match_bind {
	size_t n;
	char name[MATCH_MAX_BIND][32];
	char val[MATCH_MAX_BIND][64];
	long long num[MATCH_MAX_BIND]; /* value as an integer, or -1 when not a number */
} match_bind;

typedef struct match_hit {
	size_t rule;  /* index into rule_set.keys */
	size_t slot;  /* which source template of the rule */
	match_bind b;
} match_hit;

typedef struct match_prog match_prog;

/* Compile all rules of a direction. Reports the first bad template or regex with its position. */
int match_compile(const rule_set *s, int dir, match_prog **out, ck_err *e);
/* The same over a list of key rules (muP tensor rules, a probe), each placeholder looked up
 * in its rule's scope; hits name indices into keys. */
int match_compile_keys(const rule_key *keys, size_t n_keys, int dir, match_prog **out, ck_err *e);
void match_free(match_prog *p);
/* 1 and *out filled when a rule matches (first match wins), 0 when none, <0 on error. */
int match_key(const match_prog *p, const char *key, match_hit *out, ck_err *e);
/* 1 when key matches rule r's for_each template (bindings in *out), 0 when not. */
int match_for_each(const match_prog *p, size_t r, const char *key, match_bind *out, ck_err *e);
/* A template parsed once: literal text and placeholders (<NAME>, <A*NAME+B>) in order. */
typedef struct match_seg {
	size_t at, len;    /* the literal before the placeholder: text[at .. at+len) */
	int ph;            /* a placeholder follows (the last segment may have none) */
	char name[32];
	long long a, b;    /* <A*NAME+B>: a = 1, b = 0 for <NAME> */
} match_seg;

typedef struct match_tpl {
	const char *text;  /* as written (borrowed from the rule) */
	rule_pos pos;      /* the rule's, for messages */
	size_t n;
	match_seg *seg;
} match_tpl;

/* Parse text (a template of the rule at pos); a malformed placeholder is an error naming it. */
int match_tpl_parse(const char *text, rule_pos pos, match_tpl *out, ck_err *e);
void match_tpl_dispose(match_tpl *t);
/* Fill a parsed template with bindings. CK_EINVALID when a placeholder is unbound. */
int match_fill(const match_tpl *t, const match_bind *b, char **out, ck_err *e);
/* For a key no rule matches: the n rules (index, slot) whose source templates match the longest
 * prefix of key, longest first; *used is how many were found. */
typedef struct match_near {
	size_t rule, slot;
	size_t matched; /* bytes of key a template could still match */
} match_near;
int match_closest(const match_prog *p, const char *key, match_near *out, size_t n, size_t *used);

/* 1 when regex (a placeholder's) accepts the whole of text, 0 when not, <0 when it does not compile. */
int match_regex_accepts(const char *regex, const char *text);

/* Value bound to name, or NULL. */
const char *match_bind_get(const match_bind *b, const char *name);

#endif
