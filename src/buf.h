/* buf.h - tensor-sized buffers, recycled: a freshly mapped buffer page-faults on every 4 KiB
 * it touches, so a conversion reuses the few large buffers it needs instead of returning them
 * to the system between tensors (and large ones ask for huge pages). At most BUF_CACHE buffers wait in the cache, and (with a
 * limit set) never so many bytes that buffers in use plus cached ones pass the limit.
 * Main thread only: the helper thread of bg.h is handed buffers, it never gets or puts them. */
#ifndef CK_BUF_H
#define CK_BUF_H

#include <stddef.h>
#include "err.h"

#define BUF_CACHE 3

/* A buffer of at least n bytes (64-byte aligned): a cached one when one fits, else a new one. */
void *buf_get(size_t n, ck_err *e);
/* Back to the cache (NULL-safe); only for buffers from buf_get. */
void buf_put(void *p);
/* Frees every cached buffer. */
void buf_trim(void);
/* Bytes that buffers in use plus cached ones may reach before cached ones are freed; 0: no
 * limit (the default). Buffers in use are never limited: this bounds only what caching adds. */
void buf_limit(size_t bytes);
/* Bytes waiting in the cache. */
size_t buf_cached(void);

#endif
