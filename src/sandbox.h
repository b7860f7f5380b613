/* sandbox.h - run a function in a forked child that can read and compute but not write, exec,
 * connect or outlive its limits, and learn only how it ended. For library code fed hostile
 * bytes whose own bugs ckconv cannot fix (libhdf5 1.10's object header and heap decoders, see
 * docs/security.md): a crash, a hang or a runaway allocation there becomes one error line.
 *
 * The child: SIGINT/SIGTERM/SIGHUP back to their defaults (the parent's handlers would remove
 * the parent's temporaries), stdin/stdout/stderr on /dev/null and every other descriptor closed
 * but its result pipe, no core dumps, RLIMIT_FSIZE 0, RLIMIT_CPU and RLIMIT_AS as given, and a
 * seccomp filter (libseccomp) refusing with EPERM: exec, new processes, sockets, ptrace, opening
 * a file for writing or creating one, renaming/unlinking/linking, making memory executable, and
 * every write but to the result pipe. It dies with the parent (PR_SET_PDEATHSIG). */
#ifndef CK_SANDBOX_H
#define CK_SANDBOX_H

#include <stddef.h>
#include <stdint.h>

typedef struct sandbox_limits {
	unsigned cpu_s;      /* CPU seconds (RLIMIT_CPU) */
	unsigned wall_s;     /* wall-clock seconds before the parent kills it */
	uint64_t mem_extra;  /* address space beyond what the process has mapped at the fork */
} sandbox_limits;

/* Runs fn(arg) in a sandboxed child. Returns 0 with *result = fn's return value when fn
 * returned; -1 with `why` (e.g. "was killed by signal 11 (Segmentation fault)", "used more than
 * 60 s of CPU", "ran longer than 240 s", "could not start: ...") otherwise. */
int sandbox_run(int (*fn)(void *), void *arg, const sandbox_limits *l, int *result, char *why, size_t whylen);

#endif
