/* strmap.c - the one string -> size_t hash table (strmap.h): FNV-1a, open addressing with linear
 * probing, doubled when half full; keys copied. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "strmap.h"

static uint64_t hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL; /* FNV-1a */
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

void strmap_init(strmap *m) { memset(m, 0, sizeof *m); }

void strmap_dispose(strmap *m)
{
	for (size_t i = 0; i < m->cap; i++)
		free(m->key[i]);
	free(m->key);
	free(m->val);
	memset(m, 0, sizeof *m);
}

static size_t slot(const strmap *m, const char *key)
{
	size_t i = (size_t)hash(key) & (m->cap - 1);
	while (m->key[i] && strcmp(m->key[i], key))
		i = (i + 1) & (m->cap - 1);
	return i;
}

int strmap_get(const strmap *m, const char *key, size_t *out)
{
	if (!m->cap)
		return 0;
	size_t i = slot(m, key);
	if (!m->key[i])
		return 0;
	*out = m->val[i];
	return 1;
}

static int grow(strmap *m)
{
	strmap n = {m->cap ? m->cap * 2 : 64, 0, NULL, NULL};
	if (!(n.key = calloc(n.cap, sizeof *n.key)) || !(n.val = calloc(n.cap, sizeof *n.val))) {
		free(n.key);
		return -1;
	}
	for (size_t i = 0; i < m->cap; i++)
		if (m->key[i]) {
			size_t j = slot(&n, m->key[i]);
			n.key[j] = m->key[i];
			n.val[j] = m->val[i];
			n.n++;
		}
	free(m->key);
	free(m->val);
	*m = n;
	return 0;
}

int strmap_put(strmap *m, const char *key, size_t val)
{
	if ((m->n + 1) * 2 > m->cap && grow(m))
		return -1;
	size_t i = slot(m, key);
	if (!m->key[i]) {
		if (!(m->key[i] = strdup(key)))
			return -1;
		m->n++;
	}
	m->val[i] = val;
	return 0;
}
