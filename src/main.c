/* main.c - ckconv's entry point: dispatch to a command; the one place that prints errors. */
#include <stdio.h>
#include <string.h>
#include "cli.h"
#include "guard.h"
#include "par.h"
#include "version.h"

/* The error line stays one line whatever a file put into a key or value: control characters
 * are printed escaped (\n, \t, \xNN). */
static void print_error(const char *msg)
{
	/* built whole, then written at once: the ranks of an MPI run share one stderr */
	char line[sizeof ((ck_err *)0)->msg * 4 + 32] = "ckconv: error: ";
	size_t n = strlen(line);
	for (const unsigned char *p = (const unsigned char *)msg; *p && n < sizeof line - 8; p++) {
		if (*p == '\n')
			n += (size_t)snprintf(line + n, sizeof line - n, "\\n");
		else if (*p == '\t')
			n += (size_t)snprintf(line + n, sizeof line - n, "\\t");
		else if (*p < 0x20 || *p == 0x7f)
			n += (size_t)snprintf(line + n, sizeof line - n, "\\x%02x", *p);
		else
			line[n++] = (char)*p;
	}
	line[n++] = '\n';
	line[n] = '\0';
	fputs(line, stderr);
}

/* The exit status scripts can tell apart (README "Exit status"): 1 the data is wrong or differs,
 * or the conversion was refused (an unknown model or key, a missing shard: CK_ENOTFOUND too);
 * 2 the command line is wrong (CK_EUSAGE: also a path given on it that does not exist) or a
 * read, write or rename failed (CK_EIO). Signals exit 128 + N (guard.c). */
static int exit_status(int code)
{
	switch (code) {
	case CK_EUSAGE:
	case CK_EIO:
	case CK_ENOMEM:
		return 2;
	default:
		return 1;
	}
}

static int run(int argc, char **argv)
{
	ck_err e = {0};
	if (argc == 3 && !strcmp(argv[1], "help")) { /* help TOPIC: that command's --help */
		static char flag[] = "--help";
		char *args[] = {argv[2], flag, NULL};
		for (size_t i = 0; i < cli_n_cmds; i++)
			if (!strcmp(argv[2], cli_cmds[i].name))
				return cli_cmds[i].fn(2, args, &e) ? exit_status(e.code) : 0;
		fprintf(stderr, "ckconv: error: help: no command '%s'\n", argv[2]);
		cli_print_usage(stderr);
		return 2;
	}
	if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
		cli_print_usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	if (!strcmp(argv[1], "--version")) {
		puts("ckconv " CKCONV_VERSION);
		return 0;
	}
	guard_signals_install();
	for (size_t i = 0; i < cli_n_cmds; i++) {
		if (strcmp(argv[1], cli_cmds[i].name))
			continue;
		int rc = cli_cmds[i].fn(argc - 1, argv + 1, &e);
		if (rc < 0 || e.code) {
			print_error(e.msg[0] ? e.msg : "failed");
			return par_fail(exit_status(e.code)); /* under MPI: every rank stops */
		}
		return rc;
	}
	fprintf(stderr, "ckconv: error: unknown command '%s'\n", argv[1]);
	cli_print_usage(stderr);
	return 2;
}

int main(int argc, char **argv)
{
	par_begin(&argc, &argv);
	return par_end(run(argc, argv));
}
