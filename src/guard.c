/* guard.c - lock file, stale temporaries, and signals turned into a polled flag. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>
#include "cli.h"
#include "guard.h"

struct guard {
	int fd;
	char *path;
};

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
	stop_signal = sig;
}

void guard_signals_install(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGXFSZ, SIG_IGN); /* over `ulimit -f`: let write fail with EFBIG and clean up */
}

int guard_stopped(void)
{
	return (int)stop_signal;
}

int guard_lock(const char *out, guard **g, ck_err *e)
{
	guard *x = ck_calloc(e, 1, sizeof *x);
	*g = NULL;
	if (!x)
		return CK_ENOMEM;
	if (asprintf(&x->path, "%s.ckconv-lock", out) < 0) {
		free(x);
		return ck_errf(e, CK_ENOMEM, "out of memory");
	}
	x->fd = open(x->path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (x->fd < 0) {
		int rc = ck_errf(e, CK_EIO, "%s: cannot create the lock file: %s", x->path, strerror(errno));
		free(x->path);
		free(x);
		return rc;
	}
	if (flock(x->fd, LOCK_EX | LOCK_NB)) {
		int rc = ck_errf(e, CK_EEXIST, "%s: another ckconv is writing this output right now (%s is locked)", out,
			x->path);
		close(x->fd);
		free(x->path);
		free(x);
		return rc;
	}
	char pid[32];
	int n = snprintf(pid, sizeof pid, "%d\n", (int)getpid());
	if (ftruncate(x->fd, 0) == 0 && write(x->fd, pid, (size_t)n) != n)
		(void)0; /* the pid is only informative */
	*g = x;
	return 0;
}

void guard_release(guard *g)
{
	if (!g)
		return;
	unlink(g->path); /* while still holding it, so a waiting run never sees a half-removed lock */
	close(g->fd);
	free(g->path);
	free(g);
}

static int all_of(const char *s, size_t n, const char *set)
{
	for (size_t i = 0; i < n; i++)
		if (!s[i] || !strchr(set, s[i]))
			return 0;
	return 1;
}

/* One of our temporary names for base: base.ckconv-tmp-*, base.ckconv-old-*, base.tmpXXXXXX
 * (atomic file writes), base.XXXXXXXX.tmp (the packed writer). */
static int ours(const char *name, const char *base)
{
	size_t b = strlen(base);
	if (strncmp(name, base, b) || name[b] != '.')
		return 0;
	const char *r = name + b + 1;
	static const char alnum[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
	if (!strncmp(r, "ckconv-tmp-", 11) || !strncmp(r, "ckconv-old-", 11))
		return 1;
	if (!strncmp(r, "tmp", 3) && strlen(r) == 9 && all_of(r + 3, 6, alnum))
		return 1;
	return strlen(r) == 12 && all_of(r, 8, "0123456789abcdef") && !strcmp(r + 8, ".tmp");
}

void guard_sweep(const char *target, FILE *report)
{
	char *a = strdup(target), *b = strdup(target);
	DIR *d;
	struct dirent *de;
	if (!a || !b)
		goto done;
	const char *dir = dirname(a), *base = basename(b);
	if (!(d = opendir(dir)))
		goto done;
	while ((de = readdir(d))) {
		char *p = NULL;
		if (!ours(de->d_name, base) || asprintf(&p, "%s/%s", dir, de->d_name) < 0)
			continue;
		cli_remove_tree(p);
		if (report)
			fprintf(report, "ckconv: note: removed %s, left by an interrupted run\n", p);
		free(p);
	}
	closedir(d);
done:
	free(a);
	free(b);
}
