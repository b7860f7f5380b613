/* test_txn.c - output transactions (txn.c) and the signal guard (guard.c), on a scratch directory. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "cli.h"
#include "guard.h"
#include "t.h"
#include "txn.h"

static char dir[64];

static char *get(const char *name)
{
	static char buf[256];
	FILE *f = fopen(t_at(dir, name), "r");
	size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
	if (f)
		fclose(f);
	buf[n] = '\0';
	return f ? buf : NULL;
}

static int count_entries(void)
{
	int n = 0;
	DIR *d = opendir(dir);
	struct dirent *de;
	while ((de = readdir(d)))
		n += strcmp(de->d_name, ".") && strcmp(de->d_name, "..");
	closedir(d);
	return n;
}

/* A pid no process has: a child that has been reaped. */
static long dead_pid(void)
{
	pid_t p = fork();
	if (p == 0)
		_exit(0);
	waitpid(p, NULL, 0);
	return (long)p;
}

static void test_lock(void)
{
	ck_err e = {0};
	txn *a = NULL, *b = NULL;
	T_EQ_INT(txn_begin(t_at(dir, "out"), 0, NULL, &a, &e), 0, "begin takes the lock");
	T_OK(access(t_at(dir, "out.ckconv-lock"), F_OK) == 0, "the lock file is OUT.ckconv-lock");
	char want[64];
	snprintf(want, sizeof want, "%d ", (int)getpid());
	T_OK(get("out.ckconv-lock") && !strncmp(get("out.ckconv-lock"), want, strlen(want)), "it records our pid and token");
	T_EQ_INT(txn_begin(t_at(dir, "out"), 0, NULL, &b, &e), CK_EEXIST, "a second writer of the same base is refused");
	T_HAS(e.msg, "another ckconv is writing this output", "... saying so");
	txn_free(a);
	T_OK(access(t_at(dir, "out.ckconv-lock"), F_OK) != 0, "free removes the lock file");

	/* a planted symlink at the lock path is never followed */
	t_put(dir, "victim", "precious");
	symlink(t_at(dir, "victim"), t_at(dir, "out.ckconv-lock"));
	ck_err_clear(&e);
	T_EQ_INT(txn_begin(t_at(dir, "out"), 0, NULL, &a, &e), CK_EINVALID, "a symlink at the lock path is refused");
	T_HAS(e.msg, "is a symbolic link; refusing to follow", "... with one line saying why");
	T_EQ_STR(get("victim"), "precious", "... and its target is untouched");
	unlink(t_at(dir, "out.ckconv-lock"));
	/* nor a hard link, whose other name we would truncate */
	link(t_at(dir, "victim"), t_at(dir, "out.ckconv-lock"));
	ck_err_clear(&e);
	T_EQ_INT(txn_begin(t_at(dir, "out"), 0, NULL, &a, &e), CK_EINVALID, "a hard-linked lock file is refused");
	T_EQ_STR(get("victim"), "precious", "... and the other name is untouched");
	unlink(t_at(dir, "out.ckconv-lock"));
	unlink(t_at(dir, "victim"));
}

static void test_commit(void)
{
	ck_err e = {0};
	txn *t = NULL;
	const char *y, *d;
	char tmpl[600];
	T_EQ_INT(txn_begin(t_at(dir, "m"), 0, NULL, &t, &e), 0, "begin");
	T_EQ_INT(txn_add(t, t_at(dir, "m.yaml"), TXN_FILE, &y, &e), 0, "add a file");
	snprintf(tmpl, sizeof tmpl, "%s/.m.yaml.ckconv-tmp.%d.", dir, (int)getpid());
	T_OK(!strncmp(y, tmpl, strlen(tmpl)) && strlen(y) == strlen(tmpl) + 16, "its temporary is .NAME.ckconv-tmp.PID.TOKEN");
	T_EQ_INT(txn_write_file(y, "a: 1\n", 5, &e), 0, "write it");
	mode_t old = umask(022);
	T_EQ_INT(txn_add(t, t_at(dir, "m.d"), TXN_DIR, &d, &e), 0, "add a directory");
	struct stat st;
	T_OK(stat(d, &st) == 0 && (st.st_mode & 0777) == 0755, "its temporary is created honouring the umask (0755)");
	umask(old);
	T_OK(access(t_at(dir, "m.yaml"), F_OK) != 0, "nothing is at the final path before commit");
	T_EQ_INT(txn_commit(t, &e), 0, "commit");
	T_EQ_STR(get("m.yaml"), "a: 1\n", "the file is in place");
	T_OK(access(t_at(dir, "m.d"), F_OK) != 0, "an empty directory output is not created");
	txn_free(t);
	T_EQ_INT(count_entries(), 1, "nothing else is left (no temporary, no lock)");

	/* without force an existing output is refused; with force it is replaced */
	ck_err_clear(&e);
	T_EQ_INT(txn_begin(t_at(dir, "m"), 0, NULL, &t, &e), 0, "begin again");
	T_EQ_INT(txn_add(t, t_at(dir, "m.yaml"), TXN_FILE, &y, &e), CK_EEXIST, "an existing output needs --force");
	T_HAS(e.msg, "output exists; pass --force to replace it", "... saying so");
	txn_free(t);
	ck_err_clear(&e);
	T_EQ_INT(txn_begin(t_at(dir, "m"), 1, NULL, &t, &e), 0, "begin with force");
	T_EQ_INT(txn_add(t, t_at(dir, "m.yaml"), TXN_FILE, &y, &e), 0, "add the file again");
	T_EQ_INT(txn_write_file(y, "a: 2\n", 5, &e), 0, "write the new one");
	T_EQ_STR(get("m.yaml"), "a: 1\n", "the old one stays until commit");
	T_EQ_INT(txn_commit(t, &e), 0, "commit");
	T_EQ_STR(get("m.yaml"), "a: 2\n", "the new one replaced it");
	txn_free(t);
	T_EQ_INT(count_entries(), 1, "no old copy is left");

	/* a commit failing half-way leaves exactly what was there */
	t_put(dir, "m.mdl", "old packed");
	ck_err_clear(&e);
	const char *p;
	T_EQ_INT(txn_begin(t_at(dir, "m"), 1, NULL, &t, &e), 0, "begin with force");
	T_EQ_INT(txn_add(t, t_at(dir, "m.yaml"), TXN_FILE, &y, &e), 0, "add the params");
	T_EQ_INT(txn_add(t, t_at(dir, "m.mdl"), TXN_FILE, &p, &e), 0, "add the packed file");
	T_EQ_INT(txn_write_file(y, "a: 3\n", 5, &e), 0, "write the params");
	/* the packed file's temporary is never written: its rename fails after the params' */
	T_OK(txn_commit(t, &e) != 0, "a commit whose second rename fails fails");
	T_HAS(e.msg, "m.mdl: cannot rename the finished output into place", "... naming the output");
	T_EQ_STR(get("m.yaml"), "a: 2\n", "the params are the old ones again");
	T_EQ_STR(get("m.mdl"), "old packed", "the packed file is the old one");
	txn_free(t);
	T_EQ_INT(count_entries(), 2, "and nothing else is there");

	/* drop: with force an output the run does not produce is removed */
	mkdir(t_at(dir, "m.hf-files"), 0777);
	t_put(dir, "m.hf-files/tokenizer.json", "{}");
	ck_err_clear(&e);
	T_EQ_INT(txn_begin(t_at(dir, "m"), 1, NULL, &t, &e), 0, "begin with force");
	T_EQ_INT(txn_drop(t, t_at(dir, "m.hf-files"), TXN_DIR, &e), 0, "drop the carried files");
	T_EQ_INT(txn_commit(t, &e), 0, "commit");
	T_OK(access(t_at(dir, "m.hf-files"), F_OK) != 0, "the old carried files are gone");
	txn_free(t);
	unlink(t_at(dir, "m.yaml"));
	unlink(t_at(dir, "m.mdl"));
}

static void test_check(void)
{
	ck_err e = {0};
	T_EQ_INT(txn_check("/dev/null", TXN_FILE, 1, &e), CK_EINVALID, "--force never replaces a character device");
	T_HAS(e.msg, "/dev/null: exists and is a character device", "... saying what it is");
	ck_err_clear(&e);
	T_EQ_INT(txn_check("/dev/null", TXN_MODEL, 1, &e), CK_EINVALID, "... nor with a directory");
	mkdir(t_at(dir, "hf"), 0777);
	t_put(dir, "hf/tokenizer.json", "{}");
	ck_err_clear(&e);
	T_EQ_INT(txn_check(t_at(dir, "hf"), TXN_MODEL, 1, &e), CK_EINVALID, "a directory without config.json is no model output");
	T_HAS(e.msg, "holds no config.json", "... saying so");
	t_put(dir, "hf/config.json", "{}");
	ck_err_clear(&e);
	T_EQ_INT(txn_check(t_at(dir, "hf"), TXN_MODEL, 1, &e), 0, "with config.json it may be replaced");
	symlink("/etc/passwd", t_at(dir, "hf/evil"));
	ck_err_clear(&e);
	T_EQ_INT(txn_check(t_at(dir, "hf"), TXN_MODEL, 1, &e), CK_EINVALID, "one holding a symlink is not ours");
	T_HAS(e.msg, "(a symbolic link), which ckconv never writes", "... naming it");
	symlink(t_at(dir, "hf"), t_at(dir, "hflink"));
	ck_err_clear(&e);
	T_EQ_INT(txn_check(t_at(dir, "hflink"), TXN_MODEL, 1, &e), CK_EINVALID, "a symlink to a directory is not replaced");
	cli_remove_tree(t_at(dir, "hf"));
	unlink(t_at(dir, "hflink"));

	/* a symlink planted at a temporary path is refused, never followed */
	t_put(dir, "victim", "precious");
	symlink(t_at(dir, "victim"), t_at(dir, "planted"));
	ck_err_clear(&e);
	T_OK(txn_create_file(t_at(dir, "planted"), &e) < 0, "creating a file over a planted symlink is refused");
	T_HAS(e.msg, "not followed", "... with one line");
	T_EQ_STR(get("victim"), "precious", "... and the target is untouched");
	unlink(t_at(dir, "planted"));
	unlink(t_at(dir, "victim"));
}

static void test_sweep(void)
{
	char name[128];
	long dead = dead_pid();
	snprintf(name, sizeof name, ".s.mdl.ckconv-tmp.%ld.0123456789abcdef", dead);
	t_put(dir, name, "dead run's temporary");
	char alive[128];
	snprintf(alive, sizeof alive, ".s.mdl.ckconv-tmp.%d.0123456789abcdef", (int)getppid());
	t_put(dir, alive, "a live run's temporary");
	char old[128];
	snprintf(old, sizeof old, ".s.yaml.ckconv-old.%ld.0123456789abcdef", dead);
	t_put(dir, old, "old params");
	t_put(dir, "s.yaml.tmpBackup", "user file");
	t_put(dir, ".s.mdl.ckconv-tmp.1.short", "user file");
	mkdir(t_at(dir, "s.hf-files.ckconv-old-notes"), 0777);
	txn_sweep(t_at(dir, "s.mdl"), NULL);
	txn_sweep(t_at(dir, "s.yaml"), NULL);
	txn_sweep(t_at(dir, "s.hf-files"), NULL);
	T_OK(access(t_at(dir, name), F_OK) != 0, "a dead run's temporary is removed");
	T_OK(access(t_at(dir, alive), F_OK) == 0, "a live run's temporary is kept");
	T_EQ_STR(get("s.yaml"), "old params", "a dead run's old copy whose output is missing is put back");
	T_OK(access(t_at(dir, "s.yaml.tmpBackup"), F_OK) == 0, "a user file that looks like a temporary is kept");
	T_OK(access(t_at(dir, ".s.mdl.ckconv-tmp.1.short"), F_OK) == 0, "a name without the full token is kept");
	T_OK(access(t_at(dir, "s.hf-files.ckconv-old-notes"), F_OK) == 0, "a user directory that looks old is kept");
	cli_remove_tree(t_at(dir, "s.hf-files.ckconv-old-notes"));
	unlink(t_at(dir, alive));
	unlink(t_at(dir, "s.yaml"));
	unlink(t_at(dir, "s.yaml.tmpBackup"));
	unlink(t_at(dir, ".s.mdl.ckconv-tmp.1.short"));
	T_EQ_INT(count_entries(), 0, "sweep test leaves nothing");
}

/* A run killed outright mid-commit: the next run finishes it when the lock file says the
 * renames had begun, and undoes it otherwise. */
static void test_journal(void)
{
	ck_err e = {0};
	txn *t = NULL;
	const char *tmp;
	char rec[96], a[96], b[96], c[96], d[96];
	long dead = dead_pid();
	const char *tok = "00112233aabbccdd";
	snprintf(a, sizeof a, ".j.yaml.ckconv-tmp.%ld.%s", dead, tok);
	snprintf(b, sizeof b, ".j.yaml.ckconv-old.%ld.%s", dead, tok);
	snprintf(c, sizeof c, ".j.mdl.ckconv-old.%ld.%s", dead, tok);
	snprintf(d, sizeof d, ".j.mdl.ckconv-tmp.%ld.%s", dead, tok);
	/* killed after placing j.mdl, before j.yaml: forward */
	snprintf(rec, sizeof rec, "%ld %s\nplacing\n", dead, tok);
	t_put(dir, "j.ckconv-lock", rec);
	t_put(dir, a, "new params");
	t_put(dir, b, "old params");
	t_put(dir, c, "old packed");
	t_put(dir, "j.mdl", "new packed");
	T_EQ_INT(txn_begin(t_at(dir, "j"), 1, NULL, &t, &e), 0, "begin over a dead run's lock");
	T_EQ_INT(txn_add(t, t_at(dir, "j.yaml"), TXN_FILE, &tmp, &e), 0, "add");
	T_EQ_INT(txn_add(t, t_at(dir, "j.mdl"), TXN_FILE, &tmp, &e), 0, "add");
	T_EQ_STR(get("j.yaml"), "new params", "its commit had begun placing: the rest is placed");
	T_OK(access(t_at(dir, b), F_OK) != 0 && access(t_at(dir, c), F_OK) != 0, "... and its old copies removed");
	T_EQ_STR(get("j.mdl"), "new packed", "... what it had placed stays");
	txn_free(t);
	T_EQ_INT(count_entries(), 2, "nothing else is left");
	/* killed while moving the old ones aside (j.yaml moved, j.mdl not yet): back */
	unlink(t_at(dir, "j.yaml"));
	t_put(dir, "j.mdl", "old packed");
	t_put(dir, b, "old params");
	t_put(dir, a, "new params");
	t_put(dir, d, "new packed");
	snprintf(rec, sizeof rec, "%ld %s\n", dead, tok);
	t_put(dir, "j.ckconv-lock", rec);
	ck_err_clear(&e);
	T_EQ_INT(txn_begin(t_at(dir, "j"), 1, NULL, &t, &e), 0, "begin over a dead run's lock");
	T_EQ_INT(txn_add(t, t_at(dir, "j.yaml"), TXN_FILE, &tmp, &e), 0, "add");
	T_EQ_INT(txn_add(t, t_at(dir, "j.mdl"), TXN_FILE, &tmp, &e), 0, "add");
	T_EQ_STR(get("j.yaml"), "old params", "its commit had not begun placing: the old output is put back");
	T_EQ_STR(get("j.mdl"), "old packed", "... the one not yet moved is untouched");
	T_OK(access(t_at(dir, a), F_OK) != 0 && access(t_at(dir, d), F_OK) != 0, "... and its temporaries removed");
	txn_free(t);
	unlink(t_at(dir, "j.yaml"));
	unlink(t_at(dir, "j.mdl"));
	T_EQ_INT(count_entries(), 0, "nothing else is left");
}

/* In a child: register a file and a tree, raise the signal; the handler removes both and exits
 * with 128 + signal. */
static void test_signal(int sig)
{
	mkdir(t_at(dir, "tree"), 0777);
	mkdir(t_at(dir, "tree/comp"), 0777);
	t_put(dir, "tree/comp/shard", "x");
	t_put(dir, "tree/config.json", "{}");
	t_put(dir, "file", "x");
	pid_t p = fork();
	if (p == 0) {
		guard_signals_install();
		guard_watch(t_at(dir, "file"), 0);
		guard_watch(t_at(dir, "tree"), 1);
		raise(sig);
		_exit(0);
	}
	int st = 0;
	waitpid(p, &st, 0);
	T_OK(WIFEXITED(st) && WEXITSTATUS(st) == 128 + sig, "signal %d: exit status %d", sig, 128 + sig);
	T_EQ_INT(count_entries(), 0, "... and the registered paths are removed");
}

/* Held during a commit: the signal acts only at resume. */
static void test_hold(void)
{
	t_put(dir, "file", "x");
	pid_t p = fork();
	if (p == 0) {
		guard_signals_install();
		guard_watch(t_at(dir, "file"), 0);
		guard_hold();
		raise(SIGTERM);
		if (access(t_at(dir, "file"), F_OK) != 0)
			_exit(3); /* acted too early */
		guard_resume();
		_exit(0);
	}
	int st = 0;
	waitpid(p, &st, 0);
	T_OK(WIFEXITED(st) && WEXITSTATUS(st) == 143, "a held signal acts at resume (exit 143)");
	T_EQ_INT(count_entries(), 0, "... removing what is registered");
}

int main(void)
{
	snprintf(dir, sizeof dir, "/tmp/test_txn.XXXXXX");
	if (!mkdtemp(dir))
		return 1;
	test_lock();
	test_commit();
	test_check();
	test_sweep();
	test_journal();
	test_signal(SIGTERM);
	test_signal(SIGINT);
	test_signal(SIGHUP);
	test_hold();
	cli_remove_tree(dir);
	return t_done();
}
