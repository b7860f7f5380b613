/* conv.h - one conversion run, HF <-> CS: open (direction, rules and components, configs,
 * muP), plan (every key, from headers only), then write the outputs through one transaction,
 * or compare the result with a reference checkpoint (`verify --against`). The cli_*.c files
 * parse arguments into conv_opts and print; everything else is here. */
#ifndef CK_CONV_H
#define CK_CONV_H

#include <stdint.h>
#include <stdio.h>
#include "err.h"
#include "tensor.h"

typedef struct conv_opts {
	const char *src;              /* checkpoint: HF directory/file, or a packed .mdl */
	const char *out;              /* -o: the output, or a directory to write into (outpath.h) */
	const char *out_dir;          /* --output-dir: the reference's names, in this directory */
	const char *model, *src_fmt, *tgt_fmt, *config, *rules; /* NULL: detected / defaults */
	int dry_run;                  /* plan only: outputs are not checked */
	int debug;                    /* one line per key on stdout while planning */
	int force, drop_unmatched, quiet, lz4, no_mup, no_progress;
	int cast;                     /* every floating tensor becomes dtype */
	ck_dtype dtype;
	uint64_t shard_size;          /* HF output: bytes per safetensors shard */
} conv_opts;

typedef struct conv conv;

/* Pick the direction, load the rules and components, read and convert the configs (muP
 * detected and folded on the way to HF). *out is set even on failure (conv_free it). */
int conv_open(const conv_opts *o, conv **out, ck_err *e);
/* The converted config alone (convert-config): CS params as YAML, or the HF config.json text
 * (one component). malloc'd; NULL with e set. */
char *conv_config_text(const conv *c, ck_err *e);
/* The target format, resolved ("hf", "cs-X.Y"). */
const char *conv_target_format(const conv *c);
/* Outputs may be written: not an input, and absent unless --force. */
int conv_check_outputs(const conv *c, ck_err *e);
/* Plan every key (problems listed on stderr, one error naming their count), apply --dtype,
 * then print the notes gathered so far. */
int conv_plan(conv *c, ck_err *e);
/* The --dry-run listing: the plan(s), peak memory, the configs to be written. */
void conv_print_plan(const conv *c, FILE *f);
/* "ckconv: MODEL FMT -> FMT: N source tensors -> M target tensors (rules PATH)". */
void conv_print_summary(const conv *c, FILE *f);
/* Write the outputs: one transaction (lock, temporaries, commit or nothing). */
int conv_write(conv *c, ck_err *e);
/* CS -> HF only: convert back in memory and compare each tensor with the HF checkpoint at
 * `against` (per component directory), listing every difference (and the final "lossless"
 * line) on report; CK_ECORRUPT if any. */
int conv_compare(conv *c, const char *against, FILE *report, ck_err *e);
/* The model's name (its rule file's `model:`). */
const char *conv_model(const conv *c);
/* CS -> HF: the packed checkpoint's muP state as conv_open decided it (`mup.detect` of each
 * component's rules on its params): 0 not muP, 1 muP and folded (or kept: --no-mup-to-sp),
 * 2 muP kept by --no-mup-to-sp where the rules could not fold it anyway. */
int conv_mup_state(const conv *c);
void conv_free(conv *c); /* NULL-safe */

#endif
