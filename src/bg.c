/* bg.c - see bg.h. A mutex, one condition variable each way, one job slot. */
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include "bg.h"

struct bg {
	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t go, done;
	bg_fn fn;
	void *arg;
	int queued, running, busy, quit, rc;
	ck_err err;
};

static void *bg_main(void *p)
{
	bg *b = p;
	pthread_mutex_lock(&b->mu);
	for (;;) {
		while (!b->queued && !b->quit)
			pthread_cond_wait(&b->go, &b->mu);
		if (!b->queued)
			break;
		b->queued = 0;
		b->running = 1;
		pthread_mutex_unlock(&b->mu);
		ck_err e = {0};
		int rc = b->fn(b->arg, &e);
		pthread_mutex_lock(&b->mu);
		b->rc = rc;
		b->err = e;
		b->running = 0;
		pthread_cond_signal(&b->done);
	}
	pthread_mutex_unlock(&b->mu);
	return NULL;
}

int bg_open(bg **out, ck_err *e)
{
	sigset_t all, old;
	bg *b = ck_calloc(e, 1, sizeof *b);
	*out = NULL;
	if (!b)
		return CK_ENOMEM;
	pthread_mutex_init(&b->mu, NULL);
	pthread_cond_init(&b->go, NULL);
	pthread_cond_init(&b->done, NULL);
	sigfillset(&all); /* the thread inherits this mask: signals go to the main thread */
	pthread_sigmask(SIG_BLOCK, &all, &old);
	int r = pthread_create(&b->th, NULL, bg_main, b);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r) {
		pthread_cond_destroy(&b->done);
		pthread_cond_destroy(&b->go);
		pthread_mutex_destroy(&b->mu);
		free(b);
		return ck_errf(e, CK_ELIMIT, "cannot start the I/O thread: %s", strerror(r));
	}
	*out = b;
	return 0;
}

void bg_submit(bg *b, bg_fn fn, void *arg)
{
	pthread_mutex_lock(&b->mu);
	b->fn = fn;
	b->arg = arg;
	b->queued = 1;
	b->busy = 1;
	pthread_cond_signal(&b->go);
	pthread_mutex_unlock(&b->mu);
}

int bg_busy(const bg *b) { return b && b->busy; }

int bg_wait(bg *b, ck_err *e)
{
	int rc;
	if (!b || !b->busy)
		return 0;
	pthread_mutex_lock(&b->mu);
	while (b->queued || b->running)
		pthread_cond_wait(&b->done, &b->mu);
	b->busy = 0;
	rc = b->rc;
	if (rc)
		ck_errf(e, rc, "%s", b->err.msg);
	pthread_mutex_unlock(&b->mu);
	return rc;
}

void bg_close(bg *b)
{
	if (!b)
		return;
	(void)bg_wait(b, NULL);
	pthread_mutex_lock(&b->mu);
	b->quit = 1;
	pthread_cond_signal(&b->go);
	pthread_mutex_unlock(&b->mu);
	pthread_join(b->th, NULL);
	pthread_cond_destroy(&b->done);
	pthread_cond_destroy(&b->go);
	pthread_mutex_destroy(&b->mu);
	free(b);
}
