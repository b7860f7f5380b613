/* cli.h - what the command files share: option parsing help, rules directory, opening any
 * checkpoint as a tensor source, output-path safety. Commands live in cli_<name>.c. */
#ifndef CK_CLI_H
#define CK_CLI_H

#include <getopt.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include "err.h"
#include "tensor.h"

typedef struct cli_common {
	const char *rules_dir; /* --rules, else $CKCONV_RULES, else next to the binary */
	int quiet;
} cli_common;

/* Each command: its function, its option table (what getopt parses, what completion and the
 * man page list) and its --help text, defined in its cli_<name>.c. */
#define CLI_COMMAND(name) \
	int cli_##name(int argc, char **argv, ck_err *e); \
	extern const struct option cli_##name##_opts[]; \
	extern const char cli_##name##_usage[];
CLI_COMMAND(convert)
CLI_COMMAND(convert_config)
CLI_COMMAND(list)
CLI_COMMAND(inspect)
CLI_COMMAND(diff)
CLI_COMMAND(validate)
CLI_COMMAND(explain)
CLI_COMMAND(verify)
CLI_COMMAND(completion)
CLI_COMMAND(man)
#undef CLI_COMMAND

/* The command table (cli_doc.c): main.c dispatches through it, and the top-level usage,
 * `ckconv completion bash|zsh` and `ckconv man` are generated from it. */
typedef struct cli_cmd {
	const char *name;
	int (*fn)(int argc, char **argv, ck_err *e);
	const struct option *opts;
	const char *usage;
	const char *summary; /* NULL: another name of the command before it (not listed) */
} cli_cmd;
extern const cli_cmd cli_cmds[];
extern const size_t cli_n_cmds;
/* The top-level usage: every command's summary, then the exit statuses. */
void cli_print_usage(FILE *f);

/* The rules directory to use (malloc'd). */
char *cli_rules_dir(const char *opt);
/* rule_find_model, and when the name is unknown, its error line ends with the nearest model
 * name or alias ("did you mean 'llama'?": case or one or two letters off). */
int cli_find_model(const char *rules_dir, const char *name, char **path, ck_err *e);
/* Open a safetensors file, shard index, HF directory, or packed HDF5 file. */
int cli_open_source(const char *path, ck_tsrc **out, ck_err *e);
/* cli_open_source, and also a directory of component directories (what convert writes for a
 * multi-component model): tensors named "<component>/<name>". For inspect and diff. */
int cli_open_checkpoint(const char *path, ck_tsrc **out, ck_err *e);
/* "5GB", "500MB", "10GiB", "1000" -> bytes. */
int cli_parse_size(const char *s, uint64_t *out, ck_err *e);
/* A path given on the command line exists, or CK_EUSAGE "PATH: No such file or directory"
 * (exit status 2, as for any wrong command line). */
int cli_need_path(const char *path, ck_err *e);
/* 1 if path exists (any type). */
int cli_exists(const char *path);
/* Remove a file or a directory tree (best effort; used for --force and cleanup). */
void cli_remove_tree(const char *path);
/* Option parsing for every command: getopt_long over argv[1..] (start each parse with
 * optind = 0) with ckconv's messages. shortopts/longopts as for getopt_long ("-:" is prepended
 * to shortopts, so operands come back in command-line order). Returns the option's value, 1
 * for an operand, both with its text in *arg (NULL for an option without a value); -1 at the
 * end; or CLI_OPT_ERROR with e set: "CMD: unknown option '--x' (see ckconv CMD --help)" or
 * "CMD: option --x needs a value". Long options may be abbreviated (getopt_long's rule). */
#define CLI_OPT_ERROR (-2)
int cli_getopt(int argc, char **argv, const char *cmd, const char *shortopts, const struct option *longopts,
	const char **arg, ck_err *e);

/* Machine-readable output (--json, --format json): text a file supplied (tensor names, keys)
 * as a JSON string, invalid UTF-8 as U+FFFD (text.h's escaper); NULL when out of memory. */
json_t *cli_json_str(const char *s);
/* {"name", "dtype", "shape": [...], "bytes"} */
json_t *cli_json_tensor(const ck_tinfo *t);
/* Print v on stdout as one line of JSON and release it (NULL: out of memory, e set). */
int cli_json_print(json_t *v, ck_err *e);
/* The source's tensor indices in name order, digit runs compared as numbers (layers.2 before
 * layers.10); malloc'd, NULL with e set. */
size_t *cli_sorted_tensors(const ck_tsrc *s, ck_err *e);

#endif
