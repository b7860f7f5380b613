/* pool.h - a few worker threads for data-parallel loops whose items are independent and touch
 * no library state: decoding and encoding the LZ4 chunks of one tensor (h5ck.c). HDF5 is not
 * thread-safe, so the caller gathers every chunk's address with HDF5 first and the items only
 * read, decode, encode and copy bytes. The calling thread works on the items too. */
#ifndef CK_POOL_H
#define CK_POOL_H

#include <stddef.h>

#define POOL_MAX 8 /* threads, the caller's included */

typedef struct pool pool;

/* Runs on any of the pool's threads: item `item` of the loop; `worker` (0..pool_size-1) names
 * the thread, so each may keep its own scratch buffers. Must not fail in a way the caller
 * cannot see: record errors in ctx, per item. */
typedef void (*pool_fn)(void *ctx, size_t item, unsigned worker);

/* The number of threads to use: CKCONV_THREADS when it is 1..POOL_MAX, else the CPUs online,
 * at most 4 (chunk decoding stops scaling before the disk does). */
unsigned pool_default_size(void);
/* A pool of n threads in all (the caller and n-1 workers; n is clamped to 1..POOL_MAX). NULL
 * when out of memory; fewer workers when a thread cannot be started (pool_size says how many).
 * Workers never receive signals. */
pool *pool_new(unsigned n);
/* Threads working on a loop: 1 for NULL. */
unsigned pool_size(const pool *p);
/* fn(ctx, i, worker) for every i in [0, n), spread over the threads; returns when all are done.
 * NULL p: all on the caller, in order. Not reentrant: one loop at a time per pool. */
void pool_run(pool *p, size_t n, pool_fn fn, void *ctx);
/* Stops and joins the workers, frees. NULL-safe. */
void pool_free(pool *p);

#endif
