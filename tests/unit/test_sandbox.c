/* Unit tests for sandbox.c: a function's result comes back; a crash, an endless loop, a sleep
 * past the wall limit and a runaway allocation each become one reason; inside, opening a file
 * for writing, creating one, exec, fork and sockets fail with EPERM and nothing is created; the
 * parent's signal handlers do not run in the child. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include "sandbox.h"
#include "t.h"

static char dir[] = "/tmp/ck_sandbox_XXXXXX";
static char victim[600];

static int ret7(void *a) { (void)a; return 7; }
static int segv(void *a) { (void)a; raise(SIGSEGV); return 0; }
static int spin(void *a) { volatile unsigned long x = 0; (void)a; for (;;) x++; return 0; }
static int nap(void *a) { (void)a; sleep(30); return 0; }

static int hog(void *a)
{
	(void)a;
	size_t n = (size_t)3 << 30; /* more than the 1 GiB allowed */
	char *p = malloc(n);
	if (!p)
		return ENOMEM;
	memset(p, 1, n);
	return 0;
}

static int write_file(void *a)
{
	(void)a;
	int fd = open(victim, O_WRONLY | O_CREAT, 0600);
	return fd < 0 ? errno : 0;
}

static int append_existing(void *a)
{
	(void)a;
	int fd = open((const char *)a, O_RDWR);
	return fd < 0 ? errno : 0;
}

static int run_sh(void *a)
{
	(void)a;
	char *argv[] = {"/bin/sh", "-c", "true", NULL};
	execv("/bin/sh", argv);
	return errno;
}

static int do_fork(void *a)
{
	(void)a;
	pid_t p = fork();
	if (p == 0)
		_exit(0);
	return p < 0 ? errno : 0;
}

static int do_socket(void *a)
{
	(void)a;
	int s = socket(AF_INET, SOCK_STREAM, 0);
	return s < 0 ? errno : 0;
}

static int read_file(void *a)
{
	char b[4];
	int fd = open((const char *)a, O_RDONLY);
	return fd >= 0 && read(fd, b, 4) == 4 && !memcmp(b, "data", 4) ? 42 : -1;
}

static int term_self(void *a) { (void)a; raise(SIGTERM); return 0; }

static void on_term(int sig)
{
	(void)sig;
	int fd = open(victim, O_WRONLY | O_CREAT, 0600); /* what a cleanup handler might do */
	if (fd >= 0)
		close(fd);
	_exit(1);
}

int main(void)
{
	char why[256], data[600];
	int res = -99;
	sandbox_limits l = {2, 10, (uint64_t)1 << 30}, quick = {1, 30, (uint64_t)1 << 30};
	struct stat sb;
	T_OK(mkdtemp(dir) != NULL, "scratch dir");
	snprintf(victim, sizeof victim, "%s/created", dir);
	snprintf(data, sizeof data, "%s/data", dir);
	t_put(dir, "data", "data");

	T_EQ_INT(sandbox_run(ret7, NULL, &l, &res, why, sizeof why), 0, "a function that returns: 0");
	T_EQ_INT(res, 7, "  its result comes back");
	T_EQ_INT(sandbox_run(read_file, data, &l, &res, why, sizeof why), 0, "reading a file is allowed");
	T_EQ_INT(res, 42, "  and reads its bytes");
	T_EQ_INT(sandbox_run(segv, NULL, &l, &res, why, sizeof why), -1, "a crash is reported");
	T_HAS(why, "signal 11", "  as its signal");
	T_EQ_INT(sandbox_run(spin, NULL, &quick, &res, why, sizeof why), -1, "an endless loop is stopped");
	T_HAS(why, "of CPU", "  by the CPU limit");
	sandbox_limits nap_l = {5, 1, (uint64_t)1 << 30};
	T_EQ_INT(sandbox_run(nap, NULL, &nap_l, &res, why, sizeof why), -1, "a sleep past the wall limit is stopped");
	T_HAS(why, "longer than 1 s", "  by the wall limit");
	res = -99;
	int hr = sandbox_run(hog, NULL, &l, &res, why, sizeof why);
	T_OK((hr == 0 && res == ENOMEM) || hr == -1, "3 GiB with 1 GiB allowed: refused (status %d, result %d)", hr, res);

	T_EQ_INT(sandbox_run(write_file, NULL, &l, &res, why, sizeof why), 0, "opening for writing: returns");
	T_EQ_INT(res, EPERM, "  with EPERM");
	T_OK(stat(victim, &sb) < 0, "  and nothing is created");
	T_EQ_INT(sandbox_run(append_existing, data, &l, &res, why, sizeof why), 0, "opening an existing file read-write");
	T_EQ_INT(res, EPERM, "  fails with EPERM");
	T_EQ_INT(sandbox_run(run_sh, NULL, &l, &res, why, sizeof why), 0, "exec: returns");
	T_EQ_INT(res, EPERM, "  with EPERM");
	T_EQ_INT(sandbox_run(do_fork, NULL, &l, &res, why, sizeof why), 0, "fork: returns");
	T_EQ_INT(res, EPERM, "  with EPERM");
	T_EQ_INT(sandbox_run(do_socket, NULL, &l, &res, why, sizeof why), 0, "socket: returns");
	T_EQ_INT(res, EPERM, "  with EPERM");

	signal(SIGTERM, on_term);
	T_EQ_INT(sandbox_run(term_self, NULL, &l, &res, why, sizeof why), -1, "SIGTERM in the child ends it");
	T_HAS(why, "signal 15", "  by its default action");
	T_OK(stat(victim, &sb) < 0, "  the parent's handler did not run there");
	signal(SIGTERM, SIG_DFL);

	unlink(data);
	unlink(victim);
	rmdir(dir);
	return t_done();
}
