/* mirror.c - each tensor written twice through one sink, under its name and its copy's. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "mirror.h"

int mirror_map_make(const ck_tinfo *t, size_t n, const char *prefix, const char *copy_prefix, mirror_map *m, ck_err *e)
{
	size_t lp = strlen(prefix), k = n;
	memset(m, 0, sizeof *m);
	if (!(m->t = ck_calloc(e, 2 * n + 1, sizeof *m->t)) || !(m->copy = ck_calloc(e, n + 1, sizeof *m->copy))) {
		free(m->t);
		m->t = NULL;
		return CK_ENOMEM;
	}
	m->n = m->n_all = n;
	for (size_t i = 0; i < n; i++) {
		m->t[i] = t[i];
		m->t[i].name = NULL;
		m->copy[i] = SIZE_MAX;
	}
	for (size_t i = 0; i < n; i++) {
		if (!(m->t[i].name = strdup(t[i].name)))
			goto oom;
		if (strncmp(t[i].name, prefix, lp))
			continue;
		m->t[k] = t[i];
		if (asprintf(&m->t[k].name, "%s%s", copy_prefix, t[i].name + lp) < 0) {
			m->t[k].name = NULL;
			goto oom;
		}
		m->copy[i] = k;
		m->n_all = ++k;
	}
	return 0;
oom:
	mirror_map_dispose(m);
	return ck_errf(e, CK_ENOMEM, "out of memory");
}

void mirror_map_dispose(mirror_map *m)
{
	if (m->t) /* unused slots have no name */
		ck_tinfo_array_free(m->t, 2 * m->n + 1);
	free(m->copy);
	memset(m, 0, sizeof *m);
}

typedef struct mirror_sink {
	ck_tsink base;
	ck_tsink_ops ops;
	ck_tsink *inner;
	const mirror_map *m;
} mirror_sink;

static int m_write(ck_tsink *b, size_t i, const void *buf, ck_err *e)
{
	mirror_sink *s = (mirror_sink *)b;
	int rc = ck_tsink_write(s->inner, i, buf, e);
	return rc || s->m->copy[i] == SIZE_MAX ? rc : ck_tsink_write(s->inner, s->m->copy[i], buf, e);
}

static int m_write_slice(ck_tsink *b, size_t i, int axis, uint64_t index, const void *buf, ck_err *e)
{
	mirror_sink *s = (mirror_sink *)b;
	int rc = s->inner->ops->write_slice(s->inner, i, axis, index, buf, e);
	return rc || s->m->copy[i] == SIZE_MAX ? rc : s->inner->ops->write_slice(s->inner, s->m->copy[i], axis, index, buf, e);
}

static int m_write_hashed(ck_tsink *b, size_t i, const void *buf, uint64_t xxh64, ck_err *e)
{
	mirror_sink *s = (mirror_sink *)b;
	int rc = s->inner->ops->write_hashed(s->inner, i, buf, xxh64, e);
	return rc || s->m->copy[i] == SIZE_MAX ? rc : s->inner->ops->write_hashed(s->inner, s->m->copy[i], buf, xxh64, e);
}

static int m_commit(ck_tsink *b, ck_err *e)
{
	mirror_sink *s = (mirror_sink *)b;
	int rc = ck_tsink_commit(s->inner, e);
	free(s);
	return rc;
}

static void m_abort(ck_tsink *b)
{
	mirror_sink *s = (mirror_sink *)b;
	ck_tsink_abort(s->inner);
	free(s);
}

int mirror_sink_open(ck_tsink *inner, const mirror_map *m, ck_tsink **out, ck_err *e)
{
	mirror_sink *s = ck_calloc(e, 1, sizeof *s);
	*out = NULL;
	if (!s)
		return CK_ENOMEM;
	s->inner = inner;
	s->m = m;
	/* the optional writes only where the real sink has them: exec asks the ops */
	s->ops = (ck_tsink_ops){m_write, m_commit, m_abort, inner->ops->write_slice ? m_write_slice : NULL,
		inner->ops->write_hashed ? m_write_hashed : NULL};
	s->base.ops = &s->ops;
	s->base.concurrent = inner->concurrent;
	*out = &s->base;
	return 0;
}
