/* txn.c - output transactions: lock, temporaries, sweep, all-or-nothing commit (see txn.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "cli.h"
#include "guard.h"
#include "txn.h"

typedef struct txn_out {
	char *final, *tmp, *old;
	txn_kind kind;
	int drop;   /* no new output: only remove the old one (force) */
	int slot;   /* guard slot of tmp, or -1 */
	int moved;  /* commit: final was moved to old */
	int placed; /* commit: tmp was renamed to final */
} txn_out;

/* What the lock file said when we took it: a run killed (SIGKILL) while holding it left it. */
typedef struct txn_prev {
	long pid;
	char tok[17];
	int placing; /* it died after its commit began renaming new outputs in: finish that */
} txn_prev;

struct txn {
	char *lock_path;
	int lock_fd, lock_slot, force, committed;
	size_t rec_len; /* bytes of our "PID TOKEN\n" record in the lock file */
	txn_prev prev;
	FILE *report;
	txn_out *o;
	size_t n;
};

/* One random token per process: every temporary of this run carries it with the pid, so a
 * name from a dead run with a recycled pid is still told apart from ours. */
static char token[17];

static const char *run_token(void)
{
	if (!token[0]) {
		unsigned char r[8] = {0};
		if (getrandom(r, sizeof r, GRND_NONBLOCK) != (ssize_t)sizeof r) {
			uint64_t x = (uint64_t)getpid() * 0x9e3779b97f4a7c15ULL ^ (uint64_t)time(NULL) ^ (uint64_t)clock();
			memcpy(r, &x, sizeof r);
		}
		for (int i = 0; i < 8; i++)
			snprintf(token + 2 * i, 3, "%02x", r[i]);
	}
	return token;
}

/* final without trailing slashes, split into its directory ("." when none) and its name. */
static int split(const char *final, char **dir, char **name, ck_err *e)
{
	size_t n = strlen(final);
	while (n > 1 && final[n - 1] == '/')
		n--;
	const char *s = memrchr(final, '/', n);
	*dir = s ? strndup(final, s == final ? 1 : (size_t)(s - final)) : strdup(".");
	*name = s ? strndup(s + 1, n - (size_t)(s + 1 - final)) : strndup(final, n);
	if (!*dir || !*name) {
		free(*dir);
		free(*name);
		*dir = *name = NULL;
		return ck_errf(e, CK_ENOMEM, "out of memory");
	}
	return 0;
}

/* DIR/.NAME.ckconv-WHAT.PID.TOKEN: the one temporary naming scheme. */
static char *temp_name(const char *final, const char *what, ck_err *e)
{
	char *dir = NULL, *name = NULL, *p = NULL;
	if (split(final, &dir, &name, e))
		return NULL;
	if (asprintf(&p, "%s/.%s.ckconv-%s.%d.%s", dir, name, what, (int)getpid(), run_token()) < 0) {
		p = NULL;
		ck_errf(e, CK_ENOMEM, "out of memory");
	}
	free(dir);
	free(name);
	return p;
}

/* If entry is ".NAME.ckconv-(tmp|old).PID.TOKEN" exactly: its kind (1 tmp, 2 old), *pid, tok. */
static int parse_temp(const char *entry, const char *name, long *pid, char tok[17])
{
	size_t n = strlen(name);
	if (entry[0] != '.' || strncmp(entry + 1, name, n) || strncmp(entry + 1 + n, ".ckconv-", 8))
		return 0;
	const char *r = entry + 1 + n + 8;
	int kind = !strncmp(r, "tmp.", 4) ? 1 : !strncmp(r, "old.", 4) ? 2 : 0;
	if (!kind)
		return 0;
	r += 4;
	char *end;
	if (*r < '1' || *r > '9')
		return 0;
	*pid = strtol(r, &end, 10);
	if (*end != '.' || strlen(end + 1) != 16 || strspn(end + 1, "0123456789abcdef") != 16)
		return 0;
	memcpy(tok, end + 1, 17);
	return kind;
}

/* Dead: no process has that pid (EPERM means one exists, owned by someone else), or it is our
 * own pid with another token (a dead run whose pid we were given). */
static int owner_dead(long pid, const char *tok)
{
	if (pid == (long)getpid())
		return strcmp(tok, run_token()) != 0;
	return pid > 0 && pid <= INT32_MAX && kill((pid_t)pid, 0) < 0 && errno == ESRCH;
}

/* One leftover of a dead run: roll it forward when that run had begun placing its outputs
 * (its temporaries were all complete then), else back: remove temporaries, put back an old
 * copy whose NAME is missing. */
static void sweep_one(const char *dir, const char *name, const char *entry, int kind, long pid, int forward,
	FILE *report)
{
	char *p = NULL, *f = NULL;
	if (asprintf(&p, "%s/%s", dir, entry) < 0 || asprintf(&f, "%s/%s", dir, name) < 0) {
		free(p);
		return;
	}
	int restore = kind == (forward ? 1 : 2) && !cli_exists(f);
	if (restore && rename(p, f) == 0) {
		if (report)
			fprintf(report, "ckconv: note: %s %s from %s, left by an interrupted run (pid %ld)\n",
				forward ? "completed" : "restored", f, p, pid);
	} else {
		cli_remove_tree(p);
		if (report)
			fprintf(report, "ckconv: note: removed %s, left by an interrupted run (pid %ld)\n", p, pid);
	}
	free(p);
	free(f);
}

static void sweep(const char *final, const txn_prev *prev, FILE *report)
{
	char *dir = NULL, *name = NULL;
	DIR *d = NULL;
	struct dirent *de;
	ck_err e = {0};
	if (split(final, &dir, &name, &e) || !(d = opendir(dir)))
		goto done;
	while ((de = readdir(d))) {
		long pid;
		char tok[17];
		int kind = parse_temp(de->d_name, name, &pid, tok);
		if (!kind || !owner_dead(pid, tok))
			continue;
		int forward = prev && prev->placing && prev->pid == pid && !strcmp(prev->tok, tok);
		sweep_one(dir, name, de->d_name, kind, pid, forward, report);
	}
done:
	if (d)
		closedir(d);
	free(dir);
	free(name);
}

void txn_sweep(const char *final, FILE *report)
{
	sweep(final, NULL, report);
}

static const char *type_name(mode_t m)
{
	return S_ISLNK(m) ? "symbolic link" : S_ISCHR(m) ? "character device" : S_ISBLK(m) ? "block device"
		: S_ISFIFO(m) ? "FIFO" : S_ISSOCK(m) ? "socket" : S_ISDIR(m) ? "directory" : "regular file";
}

/* 0 when dir holds only regular files and (depth permitting) directories of such; *config set
 * when a config.json is among them. Otherwise an error naming the first odd entry. */
static int plain_tree(const char *top, const char *dir, int depth, int *config, ck_err *e)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int rc = 0;
	if (!d)
		return ck_errf(e, CK_EIO, "%s: cannot read: %s", dir, strerror(errno));
	while (!rc && (de = readdir(d))) {
		struct stat st;
		char *p = NULL;
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (asprintf(&p, "%s/%s", dir, de->d_name) < 0) {
			rc = ck_errf(e, CK_ENOMEM, "out of memory");
			break;
		}
		if (lstat(p, &st))
			rc = ck_errf(e, CK_EIO, "%s: %s", p, strerror(errno));
		else if (S_ISREG(st.st_mode))
			*config |= !strcmp(de->d_name, "config.json");
		else if (S_ISDIR(st.st_mode) && depth < 2)
			rc = plain_tree(top, p, depth + 1, config, e);
		else
			rc = ck_errf(e, CK_EINVALID, "%s: exists and holds %s (a %s%s), which ckconv never writes; --force does "
				"not replace it", top, p, type_name(st.st_mode), S_ISDIR(st.st_mode) ? " nested too deep" : "");
		free(p);
	}
	closedir(d);
	return rc;
}

int txn_check(const char *final, txn_kind kind, int force, ck_err *e)
{
	struct stat st;
	int config = 0, rc;
	if (lstat(final, &st)) {
		if (errno == ENOENT)
			return 0;
		return ck_errf(e, CK_EIO, "%s: %s", final, strerror(errno));
	}
	if (!force)
		return ck_errf(e, CK_EEXIST, "%s: output exists; pass --force to replace it", final);
	int want_dir = kind != TXN_FILE;
	if (want_dir ? !S_ISDIR(st.st_mode) : !S_ISREG(st.st_mode))
		return ck_errf(e, CK_EINVALID, "%s: exists and is a %s, not the %s ckconv writes there; --force does not "
			"replace it", final, type_name(st.st_mode), want_dir ? "directory" : "regular file");
	if (!want_dir)
		return 0;
	if ((rc = plain_tree(final, final, 1, &config, e)))
		return rc;
	if (kind == TXN_MODEL && !config)
		return ck_errf(e, CK_EINVALID, "%s: exists but holds no config.json, so it is not a model directory "
			"ckconv wrote; --force does not replace it", final);
	return 0;
}

int txn_create_file(const char *path, ck_err *e)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
	if (fd < 0)
		return ck_errf(e, errno == EEXIST ? CK_EEXIST : CK_EIO, "%s: cannot create: %s%s", path, strerror(errno),
			errno == EEXIST ? " (something was put there; not followed, not replaced)" : "");
	return fd;
}

int txn_write_file(const char *path, const char *text, size_t len, ck_err *e)
{
	size_t off = 0;
	int fd = txn_create_file(path, e), rc = 0;
	if (fd < 0)
		return fd;
	while (off < len) {
		ssize_t w = write(fd, text + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			rc = ck_errf(e, CK_EIO, "%s: write failed: %s", path, w < 0 ? strerror(errno) : "no progress");
			break;
		}
		off += (size_t)w;
	}
	if (!rc && fsync(fd))
		rc = ck_errf(e, CK_EIO, "%s: fsync failed: %s", path, strerror(errno));
	if (close(fd) && !rc)
		rc = ck_errf(e, CK_EIO, "%s: close failed: %s", path, strerror(errno));
	return rc;
}

/* Open and flock the lock file. It is never followed through a symlink, and must be a plain
 * file with one link (a hard link planted there would have us truncate its other name). The
 * previous holder unlinks it on release; if that happened between our open and our flock we
 * hold a lock on a removed file, so compare inodes and retry. */
static int lock_take(txn *t, const char *out, ck_err *e)
{
	for (int attempt = 0; attempt < 8; attempt++) {
		struct stat a, b;
		if (lstat(t->lock_path, &a) == 0 && !S_ISREG(a.st_mode))
			return ck_errf(e, CK_EINVALID, "%s: the lock file is a %s; refusing to follow or open it (remove it if "
				"no ckconv run put it there)", t->lock_path, type_name(a.st_mode));
		int fd = open(t->lock_path, O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0666);
		if (fd < 0)
			return ck_errf(e, errno == ELOOP ? CK_EINVALID : CK_EIO, "%s: %s%s", t->lock_path,
				errno == ELOOP ? "the lock file is a symbolic link; refusing to follow it" : "cannot create the lock file: ",
				errno == ELOOP ? " (remove it if no ckconv run put it there)" : strerror(errno));
		if (fstat(fd, &a) || !S_ISREG(a.st_mode) || a.st_nlink != 1) {
			close(fd);
			return ck_errf(e, CK_EINVALID, "%s: the lock file is not a plain file with one name; refusing to use "
				"it (remove it if no ckconv run put it there)", t->lock_path);
		}
		if (flock(fd, LOCK_EX | LOCK_NB)) {
			int rc = ck_errf(e, CK_EEXIST, "%s: another ckconv is writing this output right now (%s is locked)", out,
				t->lock_path);
			close(fd);
			return rc;
		}
		if (lstat(t->lock_path, &b) == 0 && a.st_ino == b.st_ino && a.st_dev == b.st_dev) {
			t->lock_fd = fd;
			return 0;
		}
		close(fd);
	}
	return ck_errf(e, CK_EEXIST, "%s: the lock file keeps changing under us; another ckconv is busy here", t->lock_path);
}

int txn_begin(const char *base, int force, FILE *report, txn **out, ck_err *e)
{
	txn *t = ck_calloc(e, 1, sizeof *t);
	char *dir = NULL, *name = NULL, line[64];
	int rc;
	*out = NULL;
	if (!t)
		return CK_ENOMEM;
	t->lock_fd = t->lock_slot = -1;
	t->force = force;
	t->report = report;
	if ((rc = split(base, &dir, &name, e)))
		goto fail;
	if (asprintf(&t->lock_path, "%s/%s.ckconv-lock", dir, name) < 0) {
		t->lock_path = NULL;
		rc = ck_errf(e, CK_ENOMEM, "out of memory");
		goto fail;
	}
	if ((rc = lock_take(t, base, e)))
		goto fail;
	t->lock_slot = guard_watch(t->lock_path, 0);
	ssize_t got = pread(t->lock_fd, line, sizeof line - 1, 0);
	line[got > 0 ? got : 0] = '\0';
	if (sscanf(line, "%ld %16[0-9a-f]", &t->prev.pid, t->prev.tok) == 2)
		t->prev.placing = strstr(line, "\nplacing\n") != NULL;
	int n = snprintf(line, sizeof line, "%d %s\n", (int)getpid(), run_token());
	t->rec_len = (size_t)n;
	if (ftruncate(t->lock_fd, 0) || pwrite(t->lock_fd, line, (size_t)n, 0) != n) {
		rc = ck_errf(e, CK_EIO, "%s: cannot write the lock file: %s", t->lock_path, strerror(errno));
		goto fail;
	}
	free(dir);
	free(name);
	*out = t;
	return 0;
fail:
	free(dir);
	free(name);
	txn_free(t);
	return rc;
}

static int declare(txn *t, const char *final, txn_kind kind, int drop, ck_err *e)
{
	txn_out *o, *grown = realloc(t->o, (t->n + 1) * sizeof *t->o);
	char *dir = NULL, *name = NULL;
	if (!grown)
		return ck_errf(e, CK_ENOMEM, "out of memory");
	t->o = grown;
	o = memset(&t->o[t->n], 0, sizeof *o);
	o->kind = kind;
	o->drop = drop;
	o->slot = -1;
	if (split(final, &dir, &name, e))
		return CK_ENOMEM;
	if (asprintf(&o->final, "%s/%s", dir, name) < 0)
		o->final = NULL;
	free(dir);
	free(name);
	if (!o->final || !(o->tmp = temp_name(o->final, "tmp", e)) || !(o->old = temp_name(o->final, "old", e))) {
		free(o->final);
		free(o->tmp);
		return ck_errf(e, CK_ENOMEM, "out of memory");
	}
	t->n++;
	sweep(o->final, &t->prev, t->report);
	return txn_check(o->final, kind, t->force, e);
}

int txn_add(txn *t, const char *final, txn_kind kind, const char **tmp, ck_err *e)
{
	int rc = declare(t, final, kind, 0, e);
	if (rc)
		return rc;
	txn_out *o = &t->o[t->n - 1];
	if ((o->slot = guard_watch(o->tmp, kind != TXN_FILE)) < 0)
		return ck_errf(e, CK_ELIMIT, "%s: too many outputs in one run (%d)", o->final, GUARD_MAX_PATHS);
	if (kind != TXN_FILE && mkdir(o->tmp, 0777)) /* the umask applies, as for mkdir(1) */
		return ck_errf(e, CK_EIO, "%s: cannot create a temporary directory next to it: %s", o->final, strerror(errno));
	*tmp = o->tmp;
	return 0;
}

int txn_drop(txn *t, const char *final, txn_kind kind, ck_err *e)
{
	return declare(t, final, kind, 1, e);
}

static void sync_dir_of(const char *path)
{
	char *dir = NULL, *name = NULL;
	ck_err e = {0};
	if (split(path, &dir, &name, &e))
		return;
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		(void)fsync(fd); /* best effort: some filesystems cannot sync directories */
		close(fd);
	}
	free(dir);
	free(name);
}

/* rename that never replaces: what appears at `to` meanwhile is never clobbered. */
static int rename_new(const char *from, const char *to)
{
	if (renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOSYS)
		return -1;
	if (cli_exists(to)) { /* a filesystem without RENAME_NOREPLACE: check, then rename */
		errno = EEXIST;
		return -1;
	}
	return rename(from, to);
}

/* Undo a partial commit: new outputs removed, old ones put back. */
static void roll_back(txn *t)
{
	for (size_t i = t->n; i-- > 0;) {
		txn_out *o = &t->o[i];
		if (o->placed && rename(o->final, o->tmp))
			cli_remove_tree(o->final);
		o->placed = 0;
		if (o->moved && rename_new(o->old, o->final) == 0)
			o->moved = 0; /* else it stays at its .ckconv-old name, which the next sweep puts back */
	}
}

int txn_commit(txn *t, ck_err *e)
{
	int rc = 0;
	guard_hold();
	for (size_t i = 0; i < t->n; i++) { /* a directory left empty is no output */
		txn_out *o = &t->o[i];
		if (o->kind == TXN_DIR && !o->drop && rmdir(o->tmp) == 0) {
			o->drop = 1;
			guard_unwatch(o->slot);
			o->slot = -1;
		}
	}
	for (size_t i = 0; i < t->n && !rc; i++) { /* the previous outputs aside */
		txn_out *o = &t->o[i];
		if (!cli_exists(o->final))
			continue;
		if ((rc = txn_check(o->final, o->kind, t->force, e)))
			break; /* what is there changed since the run began */
		if (rename_new(o->final, o->old))
			rc = ck_errf(e, CK_EIO, "%s: cannot move the existing output aside: %s", o->final, strerror(errno));
		o->moved = !rc;
	}
	/* from here a run killed outright is finished by the next one's sweep, not undone: every
	 * temporary is complete, and the lock file says so */
	if (!rc && pwrite(t->lock_fd, "placing\n", 8, (off_t)t->rec_len) != 8)
		rc = ck_errf(e, CK_EIO, "%s: cannot write the lock file: %s", t->lock_path, strerror(errno));
	for (size_t i = 0; i < t->n && !rc; i++) { /* the new ones in */
		txn_out *o = &t->o[i];
		if (o->drop)
			continue;
		if (rename_new(o->tmp, o->final))
			rc = ck_errf(e, CK_EIO, "%s: cannot rename the finished output into place: %s", o->final, strerror(errno));
		o->placed = !rc;
	}
	if (rc) {
		roll_back(t);
		if (ftruncate(t->lock_fd, (off_t)t->rec_len))
			(void)0; /* the lock file goes at txn_free anyway */
		txn_abort(t);
	} else {
		for (size_t i = 0; i < t->n; i++) {
			txn_out *o = &t->o[i];
			guard_unwatch(o->slot);
			o->slot = -1;
			if (o->moved)
				cli_remove_tree(o->old);
			sync_dir_of(o->final);
		}
		t->committed = 1;
	}
	guard_resume();
	return rc;
}

void txn_abort(txn *t)
{
	for (size_t i = 0; t && i < t->n; i++) {
		txn_out *o = &t->o[i];
		if (o->placed)
			continue;
		if (o->slot >= 0)
			cli_remove_tree(o->tmp);
		guard_unwatch(o->slot);
		o->slot = -1;
	}
}

void txn_free(txn *t)
{
	if (!t)
		return;
	if (!t->committed)
		txn_abort(t);
	for (size_t i = 0; i < t->n; i++) {
		free(t->o[i].final);
		free(t->o[i].tmp);
		free(t->o[i].old);
	}
	free(t->o);
	if (t->lock_fd >= 0) {
		unlink(t->lock_path); /* while still holding it: see lock_take */
		close(t->lock_fd);
	}
	guard_unwatch(t->lock_slot);
	free(t->lock_path);
	free(t);
}
