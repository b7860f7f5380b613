/* buf.c - see buf.h. Each buffer carries its capacity in a 64-byte header before the data. */
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include "buf.h"

#define BUF_HDR 64
#define BUF_HUGE ((size_t)2 << 20) /* a transparent huge page */

static void *cache[BUF_CACHE]; /* header pointers */
static size_t ncache;
static size_t live, cached, limit; /* bytes in use, bytes in the cache, the limit (0: none) */

static size_t cap_of(void *h) { return *(size_t *)h; }

static size_t smallest(void)
{
	size_t small = 0;
	for (size_t i = 1; i < ncache; i++)
		if (cap_of(cache[i]) < cap_of(cache[small]))
			small = i;
	return small;
}

static void drop(size_t i)
{
	cached -= cap_of(cache[i]);
	free(cache[i]);
	cache[i] = cache[--ncache];
}

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
		cached -= cap_of(h);
		live += cap_of(h);
		return (char *)h + BUF_HDR;
	}
	buf_trim(); /* none fits: the cached ones are too small to help, and would only add to the peak */
	if (n > SIZE_MAX - BUF_HUGE || posix_memalign(&h, n >= 2 * BUF_HUGE ? BUF_HUGE : 64, n + BUF_HDR)) {
		ck_errf(e, CK_ENOMEM, "out of memory (a buffer of %zu bytes)", n);
		return NULL;
	}
	/* Large buffers in huge pages where the kernel has them: the first touch of a fresh
	 * 125 MiB buffer costs 32 000 faults in 4 KiB pages, 63 in 2 MiB ones (a hint; the
	 * tail past the last whole huge page stays in small pages). */
	if (n >= 2 * BUF_HUGE)
		(void)madvise(h, (n + BUF_HDR) / BUF_HUGE * BUF_HUGE, MADV_HUGEPAGE);
	*(size_t *)h = n;
	live += n;
	return (char *)h + BUF_HDR;
}

void buf_put(void *p)
{
	void *h;
	if (!p)
		return;
	h = (char *)p - BUF_HDR;
	live -= cap_of(h);
	if (ncache == BUF_CACHE) { /* full: keep the larger ones */
		size_t small = smallest();
		if (cap_of(h) <= cap_of(cache[small])) {
			free(h);
			return;
		}
		drop(small);
	}
	cache[ncache++] = h;
	cached += cap_of(h);
	while (ncache && limit && live + cached > limit)
		drop(smallest());
}

void buf_trim(void)
{
	while (ncache)
		free(cache[--ncache]);
	cached = 0;
}

void buf_limit(size_t bytes)
{
	limit = bytes;
	while (ncache && limit && live + cached > limit)
		drop(smallest());
}

size_t buf_cached(void) { return cached; }
