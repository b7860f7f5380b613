/* Unit tests for pool.c: every item runs exactly once, on the pool's threads, loop after loop;
 * a pool of one, a NULL pool and CKCONV_THREADS. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include "pool.h"
#include "t.h"

#define N 10000

typedef struct loop {
	atomic_int hits[N];
	atomic_int bad_worker;
	unsigned size;
	pthread_t caller;
	atomic_int on_caller, off_caller;
} loop;

static void item(void *ctx, size_t i, unsigned w)
{
	loop *l = ctx;
	atomic_fetch_add(&l->hits[i], 1);
	if (w >= l->size)
		atomic_store(&l->bad_worker, 1);
	if (pthread_equal(pthread_self(), l->caller))
		atomic_fetch_add(&l->on_caller, 1);
	else
		atomic_fetch_add(&l->off_caller, 1);
}

/* Runs n items on p; 1 when each ran exactly once with a worker index in range. */
static int run_once(pool *p, loop *l, size_t n)
{
	for (size_t i = 0; i < N; i++)
		atomic_store(&l->hits[i], 0);
	atomic_store(&l->bad_worker, 0);
	atomic_store(&l->on_caller, 0);
	atomic_store(&l->off_caller, 0);
	l->size = pool_size(p);
	l->caller = pthread_self();
	pool_run(p, n, item, l);
	for (size_t i = 0; i < N; i++)
		if (atomic_load(&l->hits[i]) != (i < n))
			return 0;
	return !atomic_load(&l->bad_worker);
}

int main(void)
{
	static loop l;
	pool *p = pool_new(3);
	T_OK(p != NULL, "pool_new(3)");
	T_EQ_INT(pool_size(p), 3, "three threads: the caller and two workers");
	T_OK(run_once(p, &l, N), "10,000 items, each once");
	int all = 1;
	for (int k = 0; k < 200 && all; k++)
		all = run_once(p, &l, (size_t)(k * 37) % N);
	T_OK(all, "200 loops in a row, of 0..9999 items, each item once");
	T_OK(run_once(p, &l, 0) && run_once(p, &l, 1), "empty and one-item loops");
	pool_free(p);

	p = pool_new(1);
	T_EQ_INT(pool_size(p), 1, "pool_new(1): no worker threads");
	T_OK(run_once(p, &l, 500) && atomic_load(&l.off_caller) == 0, "... everything on the caller");
	pool_free(p);
	T_OK(run_once(NULL, &l, 500) && atomic_load(&l.off_caller) == 0, "a NULL pool runs on the caller");
	T_EQ_INT(pool_size(NULL), 1, "pool_size(NULL) is 1");
	p = pool_new(1000);
	T_EQ_INT(pool_size(p), POOL_MAX, "sizes are clamped to POOL_MAX");
	pool_free(p);
	pool_free(NULL);

	setenv("CKCONV_THREADS", "3", 1);
	T_EQ_INT(pool_default_size(), 3, "CKCONV_THREADS=3");
	setenv("CKCONV_THREADS", "0", 1);
	unsigned d = pool_default_size();
	T_OK(d >= 1 && d <= 4, "CKCONV_THREADS=0 is ignored: the CPUs online, 1..4");
	setenv("CKCONV_THREADS", "2x", 1);
	T_EQ_INT(pool_default_size(), d, "CKCONV_THREADS=2x is ignored");
	unsetenv("CKCONV_THREADS");
	T_EQ_INT(pool_default_size(), d, "unset: the CPUs online, at most 4");
	printf("%d passed, %d failed\n", t_pass, t_fail);
	return t_fail != 0;
}
