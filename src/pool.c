/* pool.c - see pool.h. One loop at a time: a generation number starts it, an atomic counter
 * hands out items, the last thread to finish wakes the caller. */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>
#include "pool.h"

struct pool {
	pthread_t th[POOL_MAX];
	unsigned nth;           /* workers started (the caller is not counted) */
	pthread_mutex_t mu;
	pthread_cond_t go, done;
	unsigned long gen;      /* bumped to start a loop */
	unsigned busy;          /* workers still inside the current loop */
	int quit;
	pool_fn fn;
	void *ctx;
	size_t n;
	atomic_size_t next;
};

unsigned pool_default_size(void)
{
	const char *v = getenv("CKCONV_THREADS");
	char *end;
	long n = v ? strtol(v, &end, 10) : 0;
	if (v && *v && !*end && n >= 1 && n <= POOL_MAX)
		return (unsigned)n;
	long c = sysconf(_SC_NPROCESSORS_ONLN);
	return c < 1 ? 1 : c > 4 ? 4 : (unsigned)c;
}

/* Items until none is left. */
static void drain(pool *p, unsigned worker)
{
	for (size_t i; (i = atomic_fetch_add(&p->next, 1)) < p->n;)
		p->fn(p->ctx, i, worker);
}

typedef struct arg {
	pool *p;
	unsigned worker;
} arg;

static void *worker_main(void *v)
{
	pool *p = ((arg *)v)->p;
	unsigned worker = ((arg *)v)->worker;
	unsigned long seen = 0;
	free(v);
	pthread_mutex_lock(&p->mu);
	for (;;) {
		while (p->gen == seen && !p->quit)
			pthread_cond_wait(&p->go, &p->mu);
		if (p->quit)
			break;
		seen = p->gen;
		pthread_mutex_unlock(&p->mu);
		drain(p, worker);
		pthread_mutex_lock(&p->mu);
		if (--p->busy == 0)
			pthread_cond_signal(&p->done);
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

pool *pool_new(unsigned n)
{
	sigset_t all, old;
	pool *p = calloc(1, sizeof *p);
	if (!p)
		return NULL;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->go, NULL);
	pthread_cond_init(&p->done, NULL);
	atomic_init(&p->next, 0);
	n = n < 1 ? 1 : n > POOL_MAX ? POOL_MAX : n;
	sigfillset(&all); /* inherited by the workers: signals stay with the main thread */
	pthread_sigmask(SIG_BLOCK, &all, &old);
	for (unsigned w = 1; w < n; w++) {
		arg *a = malloc(sizeof *a);
		if (!a)
			break;
		*a = (arg){p, w};
		if (pthread_create(&p->th[p->nth], NULL, worker_main, a)) {
			free(a);
			break;
		}
		p->nth++;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return p;
}

unsigned pool_size(const pool *p)
{
	return p ? p->nth + 1 : 1;
}

void pool_run(pool *p, size_t n, pool_fn fn, void *ctx)
{
	if (!p || !p->nth || n < 2) {
		for (size_t i = 0; i < n; i++)
			fn(ctx, i, 0);
		return;
	}
	pthread_mutex_lock(&p->mu);
	p->fn = fn;
	p->ctx = ctx;
	p->n = n;
	atomic_store(&p->next, 0);
	p->busy = p->nth;
	p->gen++;
	pthread_cond_broadcast(&p->go);
	pthread_mutex_unlock(&p->mu);
	drain(p, 0);
	pthread_mutex_lock(&p->mu);
	while (p->busy)
		pthread_cond_wait(&p->done, &p->mu);
	pthread_mutex_unlock(&p->mu);
}

void pool_free(pool *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->mu);
	p->quit = 1;
	pthread_cond_broadcast(&p->go);
	pthread_mutex_unlock(&p->mu);
	for (unsigned w = 0; w < p->nth; w++)
		pthread_join(p->th[w], NULL);
	pthread_cond_destroy(&p->done);
	pthread_cond_destroy(&p->go);
	pthread_mutex_destroy(&p->mu);
	free(p);
}
