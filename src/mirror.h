/* mirror.h - a sink decorator writing each tensor under a second name too: the tensors whose
 * name starts with one prefix get a copy with the prefix replaced (DPO's reference model beside
 * its policy model: one read, one buffer, two datasets). */
#ifndef CK_MIRROR_H
#define CK_MIRROR_H

#include "tensor.h"

typedef struct mirror_map {
	size_t n;       /* the tensors as planned: t[0 .. n) */
	size_t n_all;   /* ... and their copies after them: t[n .. n_all) */
	ck_tinfo *t;    /* owned: every tensor to declare to the real sink */
	size_t *copy;   /* per planned tensor: the index of its copy in t, or SIZE_MAX */
} mirror_map;

/* The planned tensors t[0 .. n) and a copy named copy_prefix + rest for each named prefix + rest. */
int mirror_map_make(const ck_tinfo *t, size_t n, const char *prefix, const char *copy_prefix, mirror_map *m, ck_err *e);
void mirror_map_dispose(mirror_map *m);
/* A sink taking the planned indices, writing into inner (opened with m->t, m->n_all) each
 * tensor and its copy. Committing or aborting it does the same to inner. m must outlive it. */
int mirror_sink_open(ck_tsink *inner, const mirror_map *m, ck_tsink **out, ck_err *e);

#endif
