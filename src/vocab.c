/* vocab.c - the table expanded from actions.def, and lookups over it. */
#include <stdio.h>
#include <string.h>
#include "vocab.h"

#define REQ(n, t) {#n, VOCAB_P_##t, 1}
#define OPT(n, t) {#n, VOCAB_P_##t, 0}
static const vocab_def defs[VOCAB__COUNT] = {
#define X(id, name, inv, role, doc, ...) [VOCAB_##id] = {#name, VOCAB_##inv, VOCAB_ROLE_##role, doc, {__VA_ARGS__}},
#include "actions.def"
#undef X
};
#undef REQ
#undef OPT

const vocab_def *vocab_get(vocab_kind k) { return (unsigned)k < VOCAB__COUNT ? &defs[k] : NULL; }

const char *vocab_name(vocab_kind k) { return (unsigned)k < VOCAB__COUNT ? defs[k].name : "?"; }

int vocab_lookup(const char *name, unsigned roles, vocab_kind *out)
{
	for (int i = 0; i < VOCAB__COUNT; i++)
		if ((defs[i].role & roles) && !strcmp(defs[i].name, name)) {
			*out = (vocab_kind)i;
			return 0;
		}
	return -1;
}

static size_t edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), prev[64], cur[64];
	if (la >= 63 || lb >= 63)
		return 99;
	for (size_t j = 0; j <= lb; j++)
		prev[j] = j;
	for (size_t i = 1; i <= la; i++) {
		cur[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t c = prev[j - 1] + (a[i - 1] != b[j - 1]);
			if (prev[j] + 1 < c)
				c = prev[j] + 1;
			if (cur[j - 1] + 1 < c)
				c = cur[j - 1] + 1;
			cur[j] = c;
		}
		memcpy(prev, cur, sizeof cur);
	}
	return prev[lb];
}

void vocab_suggest(const char *name, unsigned roles, char *buf, size_t n)
{
	size_t best = 99, at = 0;
	const char *near = NULL;
	for (int i = 0; i < VOCAB__COUNT; i++) {
		size_t d = (defs[i].role & roles) ? edit_distance(name, defs[i].name) : 99;
		if (d < best) {
			best = d;
			near = defs[i].name;
		}
	}
	if (best <= 3) {
		snprintf(buf, n, "did you mean '%s'?", near);
		return;
	}
	at = (size_t)snprintf(buf, n, "known: ");
	for (int i = 0, first = 1; i < VOCAB__COUNT && at < n; i++)
		if (defs[i].role & roles) {
			at += (size_t)snprintf(buf + at, n - at, "%s%s", first ? "" : ", ", defs[i].name);
			first = 0;
		}
}

int vocab_param_index(vocab_kind k, const char *name)
{
	for (int j = 0; (unsigned)k < VOCAB__COUNT && j < VOCAB_MAX_PARAMS && defs[k].p[j].name; j++)
		if (!strcmp(defs[k].p[j].name, name))
			return j;
	return -1;
}

int vocab_placeholder_param(vocab_kind k)
{
	for (int j = 0; (unsigned)k < VOCAB__COUNT && j < VOCAB_MAX_PARAMS && defs[k].p[j].name; j++)
		if (defs[k].p[j].type == VOCAB_P_PLACEHOLDER)
			return j;
	return -1;
}
