/* cli_convert.c - `ckconv convert`: the arguments into conv_opts, then the run (conv.c):
 * open, check the outputs, plan, and print the plan (--dry-run) or write. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"
#include "conv.h"

static const char usage[] =
	"usage: ckconv convert SRC [-o OUT] [--model M] [--src-fmt hf|cs-X.Y] [--tgt-fmt hf|cs-X.Y]\n"
	"                      [--config FILE] [--rules DIR] [--dry-run] [--debug] [--force]\n"
	"                      [--drop-unmatched-keys] [--shard-size 5GB] [--compress none|lz4] [--quiet]\n"
	"                      [--no-mup-to-sp] [--no-progress] [--dtype bf16|f16|f32|f64]\n"
	"\n"
	"HF -> CS: SRC is an HF directory (config.json + safetensors or PyTorch .bin), a .safetensors\n"
	"  or .bin file or a *.index.json; writes OUT.mdl (packed HDF5) and OUT.yaml (CS params).\n"
	"CS -> HF: SRC is a packed .mdl; --config names its params YAML (default: SRC with .yaml);\n"
	"  writes the directory OUT with config.json and safetensors (sharded above --shard-size).\n"
	"--model is optional when config.json (architectures/model_type) or the params (model.name)\n"
	"identify the model. Nothing is written when any key fails to plan; --dry-run prints the plan.\n"
	"A muP checkpoint (CS -> HF) has its multipliers folded into the weights as its rules say,\n"
	"so standard HF code computes the same function; --no-mup-to-sp keeps weights and config.\n"
	"--dtype casts every floating tensor while streaming (round to nearest even, as PyTorch);\n"
	"integer and bool tensors are never cast.\n";

static int parse_args(int argc, char **argv, conv_opts *a, ck_err *e)
{
	const char *v;
	memset(a, 0, sizeof *a);
	a->shard_size = 5000000000ULL;
	for (int i = 1; i < argc; i++) {
		int r;
		const char *s = argv[i];
		if (!strcmp(s, "-h") || !strcmp(s, "--help")) {
			fputs(usage, stdout);
			exit(0);
		}
#define OPT(name, field) \
	if ((r = cli_opt(argc, argv, &i, name, &v, e)) < 0) return CK_EINVALID; \
	if (r) { a->field = v; continue; }
		OPT("-o", out) OPT("--output", out) OPT("--model", model) OPT("--src-fmt", src_fmt)
		OPT("--tgt-fmt", tgt_fmt) OPT("--config", config) OPT("--rules", rules)
#undef OPT
		if ((r = cli_opt(argc, argv, &i, "--shard-size", &v, e)) < 0)
			return CK_EINVALID;
		if (r) {
			if (cli_parse_size(v, &a->shard_size, e))
				return CK_EINVALID;
			continue;
		}
		if ((r = cli_opt(argc, argv, &i, "--dtype", &v, e)) < 0)
			return CK_EINVALID;
		if (r) {
			if (ck_dtype_from_short(v, &a->dtype) || !ck_dtype_is_float(a->dtype))
				return ck_errf(e, CK_EINVALID, "--dtype takes bf16, f16, f32 or f64, not '%s'", v);
			a->cast = 1;
			continue;
		}
		if ((r = cli_opt(argc, argv, &i, "--compress", &v, e)) < 0)
			return CK_EINVALID;
		if (r) {
			if (strcmp(v, "lz4") && strcmp(v, "none"))
				return ck_errf(e, CK_EINVALID, "--compress takes 'none' or 'lz4', not '%s'", v);
			a->lz4 = !strcmp(v, "lz4");
			continue;
		}
		if (!strcmp(s, "--dry-run"))
			a->dry_run = 1;
		else if (!strcmp(s, "--debug"))
			a->debug = 1;
		else if (!strcmp(s, "--force"))
			a->force = 1;
		else if (!strcmp(s, "--drop-unmatched-keys"))
			a->drop_unmatched = 1;
		else if (!strcmp(s, "--no-mup-to-sp"))
			a->no_mup = 1;
		else if (!strcmp(s, "--quiet") || !strcmp(s, "-q"))
			a->quiet = 1;
		else if (!strcmp(s, "--no-progress"))
			a->no_progress = 1;
		else if (s[0] == '-')
			return ck_errf(e, CK_EINVALID, "convert: unknown option '%s' (see ckconv convert --help)", s);
		else if (!a->src)
			a->src = s;
		else
			return ck_errf(e, CK_EINVALID, "convert: unexpected argument '%s'", s);
	}
	if (!a->src)
		return ck_errf(e, CK_EINVALID, "convert: no source given (see ckconv convert --help)");
	return 0;
}

int cli_convert(int argc, char **argv, ck_err *e)
{
	conv_opts o;
	conv *c = NULL;
	int rc;
	if ((rc = parse_args(argc, argv, &o, e)) || (rc = conv_open(&o, &c, e)))
		goto done;
	if (!o.dry_run && (rc = conv_check_outputs(c, e)))
		goto done;
	if ((rc = conv_plan(c, e)))
		goto done;
	if (o.dry_run) {
		conv_print_plan(c, stdout);
		goto done;
	}
	if (!o.quiet)
		conv_print_summary(c, stderr);
	rc = conv_write(c, e);
done:
	conv_free(c);
	return rc;
}
