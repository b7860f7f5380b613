/* sandbox.c - a function run in a limited, filtered child process. See sandbox.h. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <seccomp.h>
#include <valgrind/valgrind.h>
#include "sandbox.h"

#define RESULT_FD 3

/* Bytes of address space mapped now (the first field of /proc/self/statm, in pages). */
static uint64_t mapped_now(void)
{
	unsigned long long pages = 0;
	FILE *f = fopen("/proc/self/statm", "r");
	if (f) {
		if (fscanf(f, "%llu", &pages) != 1)
			pages = 0;
		fclose(f);
	}
	return (uint64_t)pages * (uint64_t)sysconf(_SC_PAGESIZE);
}

static int deny(scmp_filter_ctx c, int sys)
{
	return seccomp_rule_add(c, SCMP_ACT_ERRNO(EPERM), sys, 0);
}

/* The filter: everything a parser needs (read, mmap, brk, ...) stays; what an exploit would
 * want fails with EPERM. */
static int filter(void)
{
	static const int none[] = {SCMP_SYS(execve), SCMP_SYS(execveat), SCMP_SYS(fork), SCMP_SYS(vfork),
		SCMP_SYS(clone), SCMP_SYS(clone3), SCMP_SYS(socket), SCMP_SYS(socketpair), SCMP_SYS(connect),
		SCMP_SYS(bind), SCMP_SYS(listen), SCMP_SYS(accept), SCMP_SYS(accept4), SCMP_SYS(sendto),
		SCMP_SYS(sendmsg), SCMP_SYS(ptrace), SCMP_SYS(process_vm_writev), SCMP_SYS(creat),
		SCMP_SYS(unlink), SCMP_SYS(unlinkat), SCMP_SYS(rename), SCMP_SYS(renameat), SCMP_SYS(renameat2),
		SCMP_SYS(link), SCMP_SYS(linkat), SCMP_SYS(symlink), SCMP_SYS(symlinkat), SCMP_SYS(mkdir),
		SCMP_SYS(mkdirat), SCMP_SYS(rmdir), SCMP_SYS(truncate), SCMP_SYS(ftruncate), SCMP_SYS(chmod),
		SCMP_SYS(fchmod), SCMP_SYS(fchmodat), SCMP_SYS(chown), SCMP_SYS(fchown), SCMP_SYS(lchown),
		SCMP_SYS(fchownat), SCMP_SYS(pwrite64), SCMP_SYS(pwritev), SCMP_SYS(pwritev2),
		SCMP_SYS(sendfile), SCMP_SYS(copy_file_range), SCMP_SYS(splice), SCMP_SYS(tee),
		SCMP_SYS(setrlimit), SCMP_SYS(prlimit64)};
	scmp_filter_ctx c = seccomp_init(SCMP_ACT_ALLOW);
	int rc = c ? 0 : -1;
	for (size_t i = 0; !rc && i < sizeof none / sizeof *none; i++)
		rc = deny(c, none[i]);
	const int wr[] = {O_WRONLY, O_RDWR};
	for (int i = 0; !rc && i < 2; i++)
		rc = seccomp_rule_add(c, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(openat), 1, SCMP_A2(SCMP_CMP_MASKED_EQ, O_ACCMODE, wr[i])) ||
		     seccomp_rule_add(c, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(open), 1, SCMP_A1(SCMP_CMP_MASKED_EQ, O_ACCMODE, wr[i]));
	if (!rc)
		rc = seccomp_rule_add(c, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(openat), 1, SCMP_A2(SCMP_CMP_MASKED_EQ, O_CREAT, O_CREAT)) ||
		     seccomp_rule_add(c, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(open), 1, SCMP_A1(SCMP_CMP_MASKED_EQ, O_CREAT, O_CREAT)) ||
		     seccomp_rule_add(c, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(write), 1, SCMP_A0(SCMP_CMP_NE, RESULT_FD)) ||
		     seccomp_rule_add(c, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(writev), 1, SCMP_A0(SCMP_CMP_NE, RESULT_FD)) ||
		     seccomp_rule_add(c, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(mmap), 1, SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, PROT_EXEC)) ||
		     seccomp_rule_add(c, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(mprotect), 1, SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, PROT_EXEC)) ||
		     seccomp_rule_add(c, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(pkey_mprotect), 1, SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, PROT_EXEC));
	if (!rc)
		rc = seccomp_load(c);
	seccomp_release(c);
	return rc ? -1 : 0;
}

/* The child's side: confine, run, report "K" + the result on RESULT_FD, exit without cleanup. */
static void child(int wfd, int (*fn)(void *), void *arg, const sandbox_limits *l, uint64_t mapped)
{
	sigset_t all;
	int nul = open("/dev/null", O_RDWR);
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGHUP, SIG_DFL);
	signal(SIGXCPU, SIG_DFL);
	signal(SIGPIPE, SIG_DFL);
	sigemptyset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	if (nul < 0 || dup2(wfd, RESULT_FD) < 0 || dup2(nul, 0) < 0 || dup2(nul, 1) < 0 || dup2(nul, 2) < 0)
		_exit(126);
	closefrom(RESULT_FD + 1);
	struct rlimit cpu = {l->cpu_s, l->cpu_s + 1}, none = {0, 0}, as = {mapped + l->mem_extra, mapped + l->mem_extra};
	if (setrlimit(RLIMIT_CPU, &cpu) < 0 || setrlimit(RLIMIT_CORE, &none) < 0 || setrlimit(RLIMIT_FSIZE, &none) < 0)
		_exit(126);
	/* valgrind's JIT needs executable memory and room of its own: under it the child keeps the
	 * process, CPU and file limits only (make valgrind checks ckconv's code, not the sandbox) */
	if (!RUNNING_ON_VALGRIND && (setrlimit(RLIMIT_AS, &as) < 0 || filter() < 0))
		_exit(126);
	int rc = fn(arg);
	char msg[1 + sizeof rc] = {'K'};
	memcpy(msg + 1, &rc, sizeof rc);
	_exit(write(RESULT_FD, msg, sizeof msg) == (ssize_t)sizeof msg ? 0 : 125);
}

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

int sandbox_run(int (*fn)(void *), void *arg, const sandbox_limits *l, int *result, char *why, size_t whylen)
{
	int p[2], st = 0;
	char msg[1 + sizeof(int)];
	size_t got = 0;
	uint64_t mapped = mapped_now();
	if (pipe2(p, O_CLOEXEC) < 0) {
		snprintf(why, whylen, "could not start: pipe: %s", strerror(errno));
		return -1;
	}
	fflush(NULL); /* nothing buffered is written twice */
	pid_t pid = fork();
	if (pid < 0) {
		snprintf(why, whylen, "could not start: fork: %s", strerror(errno));
		close(p[0]), close(p[1]);
		return -1;
	}
	if (pid == 0) {
		close(p[0]);
		child(p[1], fn, arg, l, mapped);
	}
	close(p[1]);
	double end = now() + l->wall_s;
	int timed_out = 0;
	while (got < sizeof msg) {
		struct pollfd pf = {p[0], POLLIN, 0};
		double left = end - now();
		if (left <= 0) {
			timed_out = 1;
			break;
		}
		int k = poll(&pf, 1, left > 1000 ? 1000000 : (int)(left * 1000) + 1);
		if (k < 0 && errno != EINTR)
			break;
		if (k <= 0)
			continue;
		ssize_t n = read(p[0], msg + got, sizeof msg - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break; /* the child is gone */
		got += (size_t)n;
	}
	close(p[0]);
	if (timed_out)
		kill(pid, SIGKILL);
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (got == sizeof msg && msg[0] == 'K') {
		memcpy(result, msg + 1, sizeof *result);
		return 0;
	}
	if (timed_out)
		snprintf(why, whylen, "ran longer than %u s", l->wall_s);
	else if (WIFSIGNALED(st) && WTERMSIG(st) == SIGXCPU)
		snprintf(why, whylen, "used more than %u s of CPU", l->cpu_s);
	else if (WIFSIGNALED(st))
		snprintf(why, whylen, "was killed by signal %d (%s)", WTERMSIG(st), strsignal(WTERMSIG(st)));
	else if (WIFEXITED(st) && WEXITSTATUS(st) == 126)
		snprintf(why, whylen, "could not be confined (rlimits or seccomp)");
	else
		snprintf(why, whylen, "exited with status %d before finishing (a crash caught by a sanitizer, or out of memory)",
			WIFEXITED(st) ? WEXITSTATUS(st) : -1);
	return -1;
}
