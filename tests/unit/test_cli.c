/* test_cli.c - option parsing shared by the commands (cli_getopt over getopt_long). */
#include <string.h>
#include "cli.h"
#include "t.h"

static const struct option opts[] = {{"model", required_argument, NULL, 'm'}, {"force", no_argument, NULL, 'f'},
	{"quiet", no_argument, NULL, 'q'}, {NULL, 0, NULL, 0}};

/* Parses argv; writes "m=V f q op=V" tokens (or the error) into out. */
static void parse(int argc, char **argv, char *out, size_t n)
{
	const char *v;
	ck_err e = {0};
	int c;
	out[0] = '\0';
	for (optind = 0; (c = cli_getopt(argc, argv, "cmd", "o:q", opts, &v, &e)) != -1;) {
		size_t k = strlen(out);
		if (c == CLI_OPT_ERROR) {
			snprintf(out + k, n - k, "error: %.400s", e.msg);
			return;
		}
		if (c == 1)
			snprintf(out + k, n - k, "op=%s ", v);
		else
			snprintf(out + k, n - k, v ? "%c=%s " : "%c ", c, v);
	}
}


static void check(char **argv, int argc, const char *want, const char *name)
{
	char out[512];
	parse(argc, argv, out, sizeof out);
	T_EQ_STR(out, want, name);
}

int main(void)
{
	char *a1[] = {"cmd", "src", "--model", "gpt2", "-o", "out", "--force", "-q", "two"};
	check(a1, 9, "op=src m=gpt2 o=out f q op=two ", "options and operands in order");
	char *a2[] = {"cmd", "--model=llama", "-oout"};
	check(a2, 3, "m=llama o=out ", "--name=value and -oVALUE");
	char *a3[] = {"cmd", "--forse"};
	check(a3, 2, "error: cmd: unknown option '--forse' (see ckconv cmd --help)", "unknown long option");
	char *a4[] = {"cmd", "-x"};
	check(a4, 2, "error: cmd: unknown option '-x' (see ckconv cmd --help)", "unknown short option");
	char *a5[] = {"cmd", "x", "--model"};
	check(a5, 3, "op=x error: cmd: option --model needs a value (see ckconv cmd --help)", "missing value");
	char *a6[] = {"cmd", "--", "-weird", "--model"};
	check(a6, 4, "op=-weird op=--model ", "after --, every word is an operand");
	char *a7[] = {"cmd", "--mod", "m", "--fo"};
	check(a7, 4, "m=m f ", "unique abbreviations, as getopt_long allows");
	char *a8[] = {"cmd", "--force=yes"};
	check(a8, 2, "error: cmd: unknown option '--force=yes' (see ckconv cmd --help)", "a flag given a value");
	check(a1, 9, "op=src m=gpt2 o=out f q op=two ", "a second parse starts afresh");
	return t_done();
}
