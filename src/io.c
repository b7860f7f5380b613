/* io.c - see io.h. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "io.h"

#define IO_CHUNK ((size_t)1 << 30) /* Linux moves at most ~2 GiB per call anyway */

static const char *kind_name(mode_t m)
{
	return S_ISDIR(m) ? "a directory" : S_ISFIFO(m) ? "a FIFO" : S_ISCHR(m) ? "a character device" :
		S_ISBLK(m) ? "a block device" : S_ISSOCK(m) ? "a socket" : "not a file";
}

int io_open_input(const char *path, int *fd, struct stat *sb, ck_err *e)
{
	int flags;
	*fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (*fd < 0)
		return ck_errf(e, errno == ENOENT ? CK_ENOTFOUND : CK_EIO, "%s: cannot open: %s", path, strerror(errno));
	if (fstat(*fd, sb))
		ck_errf(e, CK_EIO, "%s: cannot stat: %s", path, strerror(errno));
	else if (!S_ISREG(sb->st_mode))
		ck_errf(e, CK_EINVALID, "%s: not a regular file (%s)", path, kind_name(sb->st_mode));
	else if ((flags = fcntl(*fd, F_GETFL)) < 0 || fcntl(*fd, F_SETFL, flags & ~O_NONBLOCK) < 0)
		ck_errf(e, CK_EIO, "%s: cannot set up for reading: %s", path, strerror(errno));
	else
		return 0;
	close(*fd);
	*fd = -1;
	return e && e->code ? e->code : CK_EINVALID;
}

/* read(2), not pread: small metadata files stay out of the tensor-read path (and its fault shim) */
static int read_all(int fd, char *p, size_t n)
{
	while (n) {
		ssize_t r = read(fd, p, n > IO_CHUNK ? IO_CHUNK : n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return r < 0 ? errno : -1;
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

int io_slurp(const char *path, size_t max, char **out, size_t *len, ck_err *e)
{
	struct stat sb;
	char *buf = NULL;
	int fd, r, rc;
	*out = NULL;
	*len = 0;
	if ((rc = io_open_input(path, &fd, &sb, e)))
		return rc;
	if ((uint64_t)sb.st_size > max)
		rc = ck_errf(e, CK_ELIMIT, "%s: %llu bytes, limit is %zu MiB", path, (unsigned long long)sb.st_size,
			max >> 20);
	else if (!(buf = ck_malloc(e, (size_t)sb.st_size + 1)))
		rc = CK_ENOMEM;
	else if ((r = read_all(fd, buf, (size_t)sb.st_size)))
		rc = ck_errf(e, CK_EIO, "%s: cannot read: %s", path, r < 0 ? "file shrank" : strerror(r));
	close(fd);
	if (rc) {
		free(buf);
		return rc;
	}
	buf[sb.st_size] = '\0';
	*out = buf;
	*len = (size_t)sb.st_size;
	return 0;
}

int io_via_link(const char *path)
{
	struct stat sb;
	char *p = strdup(path);
	int link = 1; /* unknown counts as a link: the caller then quotes less */
	if (!p)
		return 1;
	for (char *s = p + (*p == '/');; s++) {
		char c = *s;
		if (c != '/' && c != '\0')
			continue;
		*s = '\0';
		if (lstat(p, &sb) || S_ISLNK(sb.st_mode))
			goto done;
		if (!(*s = c))
			break;
	}
	link = 0;
done:
	free(p);
	return link;
}

int io_read_at(int fd, void *buf, size_t n, uint64_t off)
{
	char *p = buf;
	while (n) {
		ssize_t r = pread(fd, p, n > IO_CHUNK ? IO_CHUNK : n, (off_t)off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return errno;
		if (r == 0)
			return -1;
		p += r;
		off += (uint64_t)r;
		n -= (size_t)r;
	}
	return 0;
}

int io_write_at(int fd, const void *buf, size_t n, uint64_t off)
{
	const char *p = buf;
	while (n) {
		ssize_t r = pwrite(fd, p, n > IO_CHUNK ? IO_CHUNK : n, (off_t)off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return errno;
		if (r == 0)
			return EIO;
		p += r;
		off += (uint64_t)r;
		n -= (size_t)r;
	}
	return 0;
}

void io_start_writeback(int fd, uint64_t off, uint64_t n)
{
	(void)sync_file_range(fd, (off_t)off, (off_t)n, SYNC_FILE_RANGE_WRITE);
}

struct io_flusher {
	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	const int *fds;
	size_t n;
	int stop;
	int err;   /* written by the thread only; read after the join */
	size_t at; /* which fd err came from */
};

static void *flusher_main(void *p)
{
	io_flusher *f = p;
	pthread_mutex_lock(&f->mu);
	while (!f->stop) {
		pthread_mutex_unlock(&f->mu);
		for (size_t i = 0; i < f->n; i++)
			if (fdatasync(f->fds[i]) && errno != EINTR && errno != EINVAL && !f->err) {
				f->err = errno; /* EINVAL: a file that cannot be synced; the final fsync says so */
				f->at = i;
			}
		pthread_mutex_lock(&f->mu);
		struct timespec t;
		clock_gettime(CLOCK_REALTIME, &t);
		t.tv_nsec += IO_FLUSH_GAP_MS * 1000000L;
		t.tv_sec += t.tv_nsec / 1000000000L;
		t.tv_nsec %= 1000000000L;
		while (!f->stop && pthread_cond_timedwait(&f->cv, &f->mu, &t) != ETIMEDOUT)
			;
	}
	pthread_mutex_unlock(&f->mu);
	return NULL;
}

io_flusher *io_flusher_start(const int *fds, size_t n)
{
	sigset_t all, old;
	io_flusher *f = calloc(1, sizeof *f);
	if (!f)
		return NULL;
	f->fds = fds;
	f->n = n;
	pthread_mutex_init(&f->mu, NULL);
	pthread_cond_init(&f->cv, NULL);
	sigfillset(&all); /* signals stay with the main thread */
	pthread_sigmask(SIG_BLOCK, &all, &old);
	int r = pthread_create(&f->th, NULL, flusher_main, f);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r) {
		pthread_cond_destroy(&f->cv);
		pthread_mutex_destroy(&f->mu);
		free(f);
		return NULL;
	}
	return f;
}

int io_flusher_stop(io_flusher *f, size_t *at)
{
	int err;
	if (!f)
		return 0;
	pthread_mutex_lock(&f->mu);
	f->stop = 1;
	pthread_cond_signal(&f->cv);
	pthread_mutex_unlock(&f->mu);
	pthread_join(f->th, NULL);
	err = f->err;
	if (at)
		*at = f->at;
	pthread_cond_destroy(&f->cv);
	pthread_mutex_destroy(&f->mu);
	free(f);
	return err;
}
