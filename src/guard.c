/* guard.c - signal handlers that stop a run at once and remove what it registered.
 *
 * Why not a flag polled by the work loop: a run can be stuck inside a library call that never
 * returns (a filter plugin spinning on a truncated chunk), where no loop polls anything. So the
 * handler itself removes the registered paths and _exits. Everything it touches is prepared
 * beforehand in static storage; it calls only unlink/unlinkat/openat/getdents64/close/write/_exit. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "guard.h"

static char paths[GUARD_MAX_PATHS][PATH_MAX];
static volatile sig_atomic_t used[GUARD_MAX_PATHS], is_tree[GUARD_MAX_PATHS];
static volatile sig_atomic_t holding, pending;

/* Remove name (relative to dfd) and, when it is a directory, what it holds, depth-first.
 * Removing entries while reading a directory may skip some, so it is re-read until a pass
 * finds nothing (a few passes at most: what cannot be removed stays). Ours are at most three
 * levels deep, so depth is bounded. */
static void remove_at(int dfd, const char *name, int depth)
{
	if (unlinkat(dfd, name, 0) == 0 || (errno != EISDIR && errno != EPERM) || depth > 6)
		goto rmdir;
	int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		goto rmdir;
	for (int pass = 0, found = 1; found && pass < 4; pass++) {
		char buf[4096];
		long n;
		found = 0;
		lseek(fd, 0, SEEK_SET);
		while ((n = syscall(SYS_getdents64, fd, buf, sizeof buf)) > 0)
			for (long off = 0; off < n;) {
				/* struct linux_dirent64: u64 ino, s64 off, u16 reclen, u8 type, name */
				unsigned short reclen;
				memcpy(&reclen, buf + off + 16, sizeof reclen);
				const char *nm = buf + off + 19;
				off += reclen;
				if (!strcmp(nm, ".") || !strcmp(nm, ".."))
					continue;
				remove_at(fd, nm, depth + 1);
				found = 1;
			}
	}
	close(fd);
rmdir:
	unlinkat(dfd, name, AT_REMOVEDIR);
}

/* "ckconv: error: interrupted by signal 15 (SIGTERM); ..." without stdio. */
static void say(int sig)
{
	char msg[160] = "ckconv: error: interrupted by signal ";
	size_t n = strlen(msg);
	char d[8];
	int k = 0;
	for (int v = sig; k == 0 || v; v /= 10)
		d[k++] = (char)('0' + v % 10);
	while (k)
		msg[n++] = d[--k];
	const char *name = sig == SIGINT ? " (SIGINT)" : sig == SIGTERM ? " (SIGTERM)" : sig == SIGHUP ? " (SIGHUP)" : "";
	const char *tail = "; this run's temporaries were removed\n";
	memcpy(msg + n, name, strlen(name));
	n += strlen(name);
	memcpy(msg + n, tail, strlen(tail));
	n += strlen(tail);
	ssize_t w = write(2, msg, n);
	(void)w;
}

static void stop_now(int sig)
{
	for (int i = GUARD_MAX_PATHS - 1; i >= 0; i--) {
		if (!used[i])
			continue;
		if (is_tree[i])
			remove_at(AT_FDCWD, paths[i], 0);
		else
			unlink(paths[i]);
	}
	say(sig);
	_exit(128 + sig);
}

static void on_signal(int sig)
{
	if (holding) {
		pending = sig;
		return;
	}
	stop_now(sig);
}

void guard_signals_install(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigfillset(&sa.sa_mask); /* one handler at a time */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGXFSZ, SIG_IGN); /* over `ulimit -f`: let write fail with EFBIG and clean up */
}

int guard_watch(const char *path, int is_dir)
{
	size_t n = strlen(path);
	if (n >= PATH_MAX)
		return -1;
	/* the lowest free slot: the lock file, registered first and kept to the end, stays in
	 * slot 0, which the handler's reverse walk reaches last */
	for (int i = 0; i < GUARD_MAX_PATHS; i++) {
		if (used[i])
			continue;
		memcpy(paths[i], path, n + 1);
		is_tree[i] = is_dir;
		atomic_signal_fence(memory_order_seq_cst); /* the path is complete before the handler sees the slot */
		used[i] = 1;
		return i;
	}
	return -1;
}

void guard_unwatch(int id)
{
	if (id >= 0 && id < GUARD_MAX_PATHS)
		used[id] = 0;
}

void guard_hold(void)
{
	pending = 0;
	holding = 1;
}

void guard_resume(void)
{
	holding = 0;
	atomic_signal_fence(memory_order_seq_cst);
	if (pending)
		stop_now(pending);
}
