/* cli.h - what the command files share: option parsing help, rules directory, opening any
 * checkpoint as a tensor source, output-path safety. Commands live in cli_<name>.c. */
#ifndef CK_CLI_H
#define CK_CLI_H

#include <stdint.h>
#include "err.h"
#include "tensor.h"

typedef struct cli_common {
	const char *rules_dir; /* --rules, else $CKCONV_RULES, else next to the binary */
	int quiet;
} cli_common;

int cli_convert(int argc, char **argv, ck_err *e);
int cli_list(int argc, char **argv, ck_err *e);
int cli_inspect(int argc, char **argv, ck_err *e);
int cli_diff(int argc, char **argv, ck_err *e);
int cli_validate(int argc, char **argv, ck_err *e);
int cli_explain(int argc, char **argv, ck_err *e);
int cli_verify(int argc, char **argv, ck_err *e);

/* The rules directory to use (malloc'd). */
char *cli_rules_dir(const char *opt);
/* Open a safetensors file, shard index, HF directory, or packed HDF5 file. */
int cli_open_source(const char *path, ck_tsrc **out, ck_err *e);
/* "5GB", "500MB", "10GiB", "1000" -> bytes. */
int cli_parse_size(const char *s, uint64_t *out, ck_err *e);
/* 1 if path exists (any type). */
int cli_exists(const char *path);
/* Remove a file or a directory tree (best effort; used for --force and cleanup). */
void cli_remove_tree(const char *path);
/* If s is "--name=value" or "--name value", set *val and advance *i. */
int cli_opt(int argc, char **argv, int *i, const char *name, const char **val, ck_err *e);

#endif
