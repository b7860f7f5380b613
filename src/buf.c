/* buf.c - see buf.h. Each buffer carries its capacity in a 64-byte header before the data. */
#include <stdint.h>
#include <stdlib.h>
#include "buf.h"

#define BUF_HDR 64

static void *cache[BUF_CACHE]; /* header pointers */
static size_t ncache;

static size_t cap_of(void *h) { return *(size_t *)h; }

void *buf_get(size_t n, ck_err *e)
{
	size_t best = ncache;
	void *h;
	for (size_t i = 0; i < ncache; i++)
		if (cap_of(cache[i]) >= n && (best == ncache || cap_of(cache[i]) < cap_of(cache[best])))
			best = i;
	if (best < ncache) {
		h = cache[best];
		cache[best] = cache[--ncache];
		return (char *)h + BUF_HDR;
	}
	buf_trim(); /* none fits: the cached ones are too small to help, and would only add to the peak */
	if (n > SIZE_MAX - BUF_HDR || posix_memalign(&h, 64, n + BUF_HDR)) {
		ck_errf(e, CK_ENOMEM, "out of memory (a buffer of %zu bytes)", n);
		return NULL;
	}
	*(size_t *)h = n;
	return (char *)h + BUF_HDR;
}

void buf_put(void *p)
{
	void *h;
	size_t small = 0;
	if (!p)
		return;
	h = (char *)p - BUF_HDR;
	if (ncache < BUF_CACHE) {
		cache[ncache++] = h;
		return;
	}
	for (size_t i = 1; i < ncache; i++) /* full: keep the larger ones */
		if (cap_of(cache[i]) < cap_of(cache[small]))
			small = i;
	if (cap_of(cache[small]) < cap_of(h)) {
		free(cache[small]);
		cache[small] = h;
	} else {
		free(h);
	}
}

void buf_trim(void)
{
	while (ncache)
		free(cache[--ncache]);
}
