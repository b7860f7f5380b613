/* Unit tests for bg.c (the helper thread), buf.c's limit and io.c's flusher: the pieces the
 * conversion's I/O overlap is built from. */
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "bg.h"
#include "buf.h"
#include "io.h"
#include "t.h"

typedef struct job {
	pthread_t who;
	int value, fail;
} job;

static int run(void *arg, ck_err *e)
{
	job *j = arg;
	j->who = pthread_self();
	j->value *= 2;
	return j->fail ? ck_errf(e, CK_EIO, "job %d failed", j->value) : 0;
}

static void test_bg(void)
{
	ck_err e = {0};
	bg *b = NULL;
	job j = {0, 21, 0};
	T_EQ_INT(bg_open(&b, &e), 0, "bg_open starts the thread");
	T_EQ_INT(bg_wait(b, &e), 0, "waiting while idle returns at once");
	T_OK(!bg_busy(b), "idle before the first job");
	bg_submit(b, run, &j);
	T_OK(bg_busy(b), "busy once a job is submitted");
	T_EQ_INT(bg_wait(b, &e), 0, "the job succeeds");
	T_EQ_INT(j.value, 42, "the job ran");
	T_OK(!pthread_equal(j.who, pthread_self()), "on the helper thread, not this one");
	T_OK(!bg_busy(b), "idle after the wait");
	for (int i = 0; i < 100; i++) { /* many hand-overs, each waited for */
		j.value = i;
		bg_submit(b, run, &j);
		if (bg_wait(b, &e) || j.value != 2 * i)
			break;
	}
	T_EQ_INT(j.value, 198, "a hundred jobs in a row");
	j = (job){0, 5, 1};
	bg_submit(b, run, &j);
	T_EQ_INT(bg_wait(b, &e), CK_EIO, "a failing job's code reaches the waiter");
	T_HAS(e.msg, "job 10 failed", "... with its message");
	ck_err_clear(&e);
	j = (job){0, 1, 0};
	bg_submit(b, run, &j);
	bg_close(b); /* waits for the job in flight */
	T_EQ_INT(j.value, 2, "bg_close lets the job in flight finish");
	bg_close(NULL);
}

static void test_buf_limit(void)
{
	const size_t M = 1 << 20;
	buf_trim();
	void *a = buf_get(M, NULL), *b = buf_get(M, NULL), *c = buf_get(M, NULL);
	T_OK(a && b && c, "three 1 MiB buffers");
	buf_limit(5 * M / 2); /* three in use already pass it */
	buf_put(a);
	T_EQ_INT(buf_cached(), 0, "2 MiB in use + 1 cached would pass 2.5 MiB: freed, not cached");
	buf_put(b);
	T_EQ_INT(buf_cached(), M, "1 MiB in use + 1 cached fits: cached");
	buf_put(c);
	T_EQ_INT(buf_cached(), 2 * M, "nothing in use + 2 cached fits: both cached");
	buf_limit(3 * M / 2);
	T_EQ_INT(buf_cached(), M, "a lower limit frees cached buffers down to it");
	void *x = buf_get(M, NULL);
	T_OK(x == b || x == c, "the cached one is reused");
	T_EQ_INT(buf_cached(), 0, "... and leaves the cache");
	buf_put(x);
	buf_limit(0);
	buf_trim();
	void *y = buf_get(M / 2, NULL), *z = buf_get(M / 2, NULL);
	buf_put(y);
	buf_put(z);
	T_EQ_INT(buf_cached(), M, "without a limit every put is cached (up to BUF_CACHE)");
	buf_trim();
	T_EQ_INT(buf_cached(), 0, "buf_trim empties the cache");
}

static void test_flusher(void)
{
	char path[] = "/tmp/ckconv-test-bg.XXXXXX";
	int fd = mkstemp(path), bad = -1;
	size_t at = 99;
	T_OK(fd >= 0, "a scratch file");
	io_flusher *f = io_flusher_start(&fd, 1);
	T_OK(f != NULL, "the flusher starts");
	T_EQ_INT(io_write_at(fd, "hello", 5, 0), 0, "writing while it flushes");
	usleep(120 * 1000); /* a round or two */
	T_EQ_INT(io_flusher_stop(f, &at), 0, "a good file flushes without error");
	f = io_flusher_start(&bad, 1);
	usleep(20 * 1000);
	int err = io_flusher_stop(f, &at);
	T_OK(err != 0 && at == 0, "a failing fdatasync is reported by stop, with its fd's index");
	T_EQ_INT(io_flusher_stop(NULL, NULL), 0, "stop is NULL-safe");
	close(fd);
	unlink(path);
}

int main(void)
{
	test_bg();
	test_buf_limit();
	test_flusher();
	return t_done();
}
