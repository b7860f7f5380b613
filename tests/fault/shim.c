/* shim.c - LD_PRELOAD fault injector for the fault tests: the product runs unchanged while
 * libc calls fail or slow down on cue (environment variables below). Test code only. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

/* CKFAULT_WRITE_LIMIT=N   writes fail with ENOSPC once N bytes were written in total
 * CKFAULT_READ_EIO_AFTER=N  the (N+1)th pread fails with EIO
 * CKFAULT_READ_EIO_AT=OFF   every pread whose range holds byte OFF of its file fails with EIO
 * CKFAULT_SLOW_MS=N       every pread/pwrite/write sleeps N ms first (signal and race tests)
 * CKFAULT_RENAME_FAIL=1   rename (and renameat2) fails with EIO
 * CKFAULT_RENAME_FAIL_AT=N  only the Nth rename fails (a commit broken half-way)
 * CKFAULT_HANG_READ_AFTER=N  the (N+1)th pread never returns (a library call stuck for good) */
static long long env(const char *name)
{
	const char *v = getenv(name);
	return v ? atoll(v) : -1;
}

static void slow(void)
{
	long long ms = env("CKFAULT_SLOW_MS");
	if (ms > 0) {
		struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
		nanosleep(&ts, NULL);
	}
}

static long long written;

static int over_limit(size_t n)
{
	long long lim = env("CKFAULT_WRITE_LIMIT");
	if (lim < 0)
		return 0;
	if (written + (long long)n > lim) {
		errno = ENOSPC;
		return 1;
	}
	written += (long long)n;
	return 0;
}

ssize_t write(int fd, const void *buf, size_t n)
{
	static ssize_t (*real)(int, const void *, size_t);
	if (!real)
		real = (ssize_t (*)(int, const void *, size_t))dlsym(RTLD_NEXT, "write");
	if (fd > 2) {
		slow();
		if (over_limit(n))
			return -1;
	}
	return real(fd, buf, n);
}

ssize_t pwrite(int fd, const void *buf, size_t n, off_t off)
{
	static ssize_t (*real)(int, const void *, size_t, off_t);
	if (!real)
		real = (ssize_t (*)(int, const void *, size_t, off_t))dlsym(RTLD_NEXT, "pwrite");
	slow();
	if (over_limit(n))
		return -1;
	return real(fd, buf, n, off);
}

ssize_t pwrite64(int fd, const void *buf, size_t n, off_t off) { return pwrite(fd, buf, n, off); }

ssize_t pread(int fd, void *buf, size_t n, off_t off)
{
	static ssize_t (*real)(int, void *, size_t, off_t);
	static long long calls, reads;
	if (!real)
		real = (ssize_t (*)(int, void *, size_t, off_t))dlsym(RTLD_NEXT, "pread");
	slow();
	long long after = env("CKFAULT_READ_EIO_AFTER"), hang = env("CKFAULT_HANG_READ_AFTER");
	if (hang >= 0 && reads++ >= hang)
		for (;;)
			pause(); /* only a signal handler that exits ends this */
	long long at = env("CKFAULT_READ_EIO_AT");
	if ((after >= 0 && calls++ >= after) || (at >= 0 && off <= at && at - off < (long long)n)) {
		errno = EIO;
		return -1;
	}
	return real(fd, buf, n, off);
}

ssize_t pread64(int fd, void *buf, size_t n, off_t off) { return pread(fd, buf, n, off); }

/* every rename-like call counts; CKFAULT_RENAME_FAIL fails them all, _AT only the Nth */
static int rename_fails(void)
{
	static long long calls;
	calls++;
	if (env("CKFAULT_RENAME_FAIL") == 1 || env("CKFAULT_RENAME_FAIL_AT") == calls) {
		errno = EIO;
		return 1;
	}
	return 0;
}

int rename(const char *a, const char *b)
{
	static int (*real)(const char *, const char *);
	if (!real)
		real = (int (*)(const char *, const char *))dlsym(RTLD_NEXT, "rename");
	return rename_fails() ? -1 : real(a, b);
}

int renameat2(int da, const char *a, int db, const char *b, unsigned flags)
{
	static int (*real)(int, const char *, int, const char *, unsigned);
	if (!real)
		real = (int (*)(int, const char *, int, const char *, unsigned))dlsym(RTLD_NEXT, "renameat2");
	return rename_fails() ? -1 : real(da, a, db, b, flags);
}
