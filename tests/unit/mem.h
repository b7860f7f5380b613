/* mem.h - an in-memory tensor source and sink for the plan and exec unit tests. */
#ifndef CK_TEST_MEM_H
#define CK_TEST_MEM_H
#include <stdlib.h>
#include <string.h>
#include "tensor.h"

typedef struct mem_src {
	ck_tsrc base;
	void **data;
} mem_src;

static inline int mem_read(ck_tsrc *s, size_t i, void *buf, ck_err *e)
{
	(void)e;
	memcpy(buf, ((mem_src *)s)->data[i], s->t[i].nbytes);
	return 0;
}

static inline void mem_src_free(ck_tsrc *s)
{
	mem_src *m = (mem_src *)s;
	for (size_t i = 0; i < s->n; i++)
		free(m->data[i]);
	free(m->data);
	ck_tinfo_array_free(s->t, s->n);
	free(s->path);
	free(m);
}

static const ck_tsrc_ops mem_src_ops = {mem_read, mem_src_free, NULL};

static inline mem_src *mem_src_new(size_t n)
{
	mem_src *m = calloc(1, sizeof *m);
	m->base.ops = &mem_src_ops;
	m->base.path = strdup("mem");
	m->base.t = calloc(n, sizeof *m->base.t);
	m->data = calloc(n, sizeof *m->data);
	return m;
}

/* Tensor i: name, f32 of shape dims (rank r), values 0, 1, 2, ... plus base. */
static inline void mem_src_f32(mem_src *m, size_t i, const char *name, int r, const int64_t *dims, float base)
{
	ck_tinfo *t = &m->base.t[i];
	uint64_t n = 1;
	t->name = strdup(name);
	t->dtype = CK_DT_F32;
	t->shape.rank = r;
	for (int d = 0; d < r; d++)
		n *= (uint64_t)(t->shape.dim[d] = dims[d]);
	t->nbytes = n * 4;
	float *v = malloc(t->nbytes ? t->nbytes : 1);
	for (uint64_t k = 0; k < n; k++)
		v[k] = base + (float)k;
	m->data[i] = v;
	if (m->base.n < i + 1)
		m->base.n = i + 1;
}

typedef struct mem_sink {
	ck_tsink base;
	const ck_tinfo *t;
	size_t n;
	void **data;
	int committed;
} mem_sink;

static inline int mem_write(ck_tsink *k, size_t i, const void *buf, ck_err *e)
{
	mem_sink *m = (mem_sink *)k;
	(void)e;
	free(m->data[i]);
	m->data[i] = malloc(m->t[i].nbytes ? m->t[i].nbytes : 1);
	memcpy(m->data[i], buf, m->t[i].nbytes);
	return 0;
}

static inline int mem_commit(ck_tsink *k, ck_err *e)
{
	(void)e;
	((mem_sink *)k)->committed = 1;
	return 0;
}

static inline void mem_abort(ck_tsink *k) { (void)k; }

static const ck_tsink_ops mem_sink_ops = {mem_write, mem_commit, mem_abort, NULL, NULL};

static inline void mem_sink_init(mem_sink *m, const ck_tinfo *t, size_t n)
{
	memset(m, 0, sizeof *m);
	m->base.ops = &mem_sink_ops;
	m->t = t;
	m->n = n;
	m->data = calloc(n ? n : 1, sizeof *m->data);
}

static inline void mem_sink_dispose(mem_sink *m)
{
	for (size_t i = 0; i < m->n; i++)
		free(m->data[i]);
	free(m->data);
}

/* Index of the target called name in t[0..n), or -1. */
static inline long mem_find(const ck_tinfo *t, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(t[i].name, name))
			return (long)i;
	return -1;
}
#endif
