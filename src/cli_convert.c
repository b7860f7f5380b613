/* cli_convert.c - `ckconv convert`: the arguments into conv_opts, then the run (conv.c):
 * open, check the outputs, plan, and print the plan (--dry-run) or write. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"
#include "conv.h"
#include "cscs.h"

static const char usage[] =
	"usage: ckconv convert SRC [-o OUT | --output-dir DIR] [--model M] [--src-fmt hf|cs-X.Y|cs-auto]\n"
	"                      [--tgt-fmt hf|cs-X.Y|cs-current] [--config FILE] [--rules DIR] [--dry-run]\n"
	"                      [--debug] [--force] [--drop-unmatched-keys] [--hf-shard-size 10GB]\n"
	"                      [--compress none|lz4] [--dtype bf16|f16|f32|f64] [--no-mup-to-sp]\n"
	"                      [--export-safetensors] [--no-progress-bar] [--quiet]\n"
	"\n"
	"HF -> CS: SRC is an HF directory (config.json + safetensors or PyTorch .bin), a .safetensors\n"
	"  or .bin file or a *.index.json; writes a packed .mdl (HDF5) and its CS params .yaml.\n"
	"CS -> HF: SRC is a packed .mdl; --config names its params YAML (default: SRC with .yaml);\n"
	"  writes an HF directory with config.json and safetensors (sharded above --hf-shard-size).\n"
	"Where: -o OUT writes OUT.mdl + OUT.yaml (HF: the directory OUT). -o DIR/ (or an existing\n"
	"directory, or .) and --output-dir DIR (created if missing) use the reference converter's names\n"
	"there; without either they go where the reference puts them: HF -> CS\n"
	"<ckpt dir>/<name>_to_cs-X.Y.mdl and <config dir>/<config name>_to_cs-X.Y.yaml, CS -> HF\n"
	"<ckpt dir>/<name>_to_hf/ (<name>: the file name less its alphabetic extensions).\n"
	"--model is optional when config.json (architectures/model_type) or the params (model.name)\n"
	"identify the model. Nothing is written when any key fails to plan; --dry-run prints the plan.\n"
	"--src-fmt cs-auto reads the release from the packed file; --tgt-fmt cs-current is the newest\n"
	"release the model's rules know. HF weights are always written as safetensors\n"
	"(--export-safetensors is accepted; ckconv does not write pytorch_model*.bin).\n"
	"A muP checkpoint (CS -> HF) has its multipliers folded into the weights as its rules say,\n"
	"so standard HF code computes the same function; --no-mup-to-sp keeps weights and config.\n"
	"--dtype casts every floating tensor while streaming (round to nearest even, as PyTorch);\n"
	"integer and bool tensors are never cast. --shard-size and --no-progress are other spellings\n"
	"of --hf-shard-size and --no-progress-bar.\n";

enum { O_MODEL = 256, O_SRC_FMT, O_TGT_FMT, O_CONFIG, O_RULES, O_SHARD_SIZE, O_DTYPE, O_COMPRESS,
	O_DRY_RUN, O_DEBUG, O_FORCE, O_DROP, O_NO_MUP, O_NO_PROGRESS, O_OUT_DIR, O_SAFETENSORS };

static const struct option long_opts[] = {
	{"output", required_argument, NULL, 'o'}, {"model", required_argument, NULL, O_MODEL},
	{"src-fmt", required_argument, NULL, O_SRC_FMT}, {"tgt-fmt", required_argument, NULL, O_TGT_FMT},
	{"config", required_argument, NULL, O_CONFIG}, {"rules", required_argument, NULL, O_RULES},
	{"shard-size", required_argument, NULL, O_SHARD_SIZE}, {"hf-shard-size", required_argument, NULL, O_SHARD_SIZE},
	{"output-dir", required_argument, NULL, O_OUT_DIR}, {"export-safetensors", no_argument, NULL, O_SAFETENSORS},
	{"no-progress-bar", no_argument, NULL, O_NO_PROGRESS},
	{"dtype", required_argument, NULL, O_DTYPE}, {"compress", required_argument, NULL, O_COMPRESS},
	{"dry-run", no_argument, NULL, O_DRY_RUN}, {"debug", no_argument, NULL, O_DEBUG},
	{"force", no_argument, NULL, O_FORCE}, {"drop-unmatched-keys", no_argument, NULL, O_DROP},
	{"no-mup-to-sp", no_argument, NULL, O_NO_MUP}, {"quiet", no_argument, NULL, 'q'},
	{"no-progress", no_argument, NULL, O_NO_PROGRESS}, {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};

static int parse_args(int argc, char **argv, conv_opts *a, ck_err *e)
{
	const char *v;
	int c;
	memset(a, 0, sizeof *a);
	a->shard_size = 10000000000ULL; /* the reference's --hf-shard-size default, 10GB */
	for (optind = 0; (c = cli_getopt(argc, argv, "convert", "o:qh", long_opts, &v, e)) != -1;) {
		switch (c) {
		case CLI_OPT_ERROR: return CK_EINVALID;
		case 'h': fputs(usage, stdout); exit(0);
		case 'o': a->out = v; break;
		case O_OUT_DIR: a->out_dir = v; break;
		case O_SAFETENSORS: break; /* what ckconv always writes */
		case O_MODEL: a->model = v; break;
		case O_SRC_FMT: a->src_fmt = v; break;
		case O_TGT_FMT: a->tgt_fmt = v; break;
		case O_CONFIG: a->config = v; break;
		case O_RULES: a->rules = v; break;
		case O_SHARD_SIZE:
			if (cli_parse_size(v, &a->shard_size, e))
				return CK_EINVALID;
			break;
		case O_DTYPE:
			if (ck_dtype_from_short(v, &a->dtype) || !ck_dtype_is_float(a->dtype))
				return ck_errf(e, CK_EINVALID, "--dtype takes bf16, f16, f32 or f64, not '%s'", v);
			a->cast = 1;
			break;
		case O_COMPRESS:
			if (strcmp(v, "lz4") && strcmp(v, "none"))
				return ck_errf(e, CK_EINVALID, "--compress takes 'none' or 'lz4', not '%s'", v);
			a->lz4 = !strcmp(v, "lz4");
			break;
		case O_DRY_RUN: a->dry_run = 1; break;
		case O_DEBUG: a->debug = 1; break;
		case O_FORCE: a->force = 1; break;
		case O_DROP: a->drop_unmatched = 1; break;
		case O_NO_MUP: a->no_mup = 1; break;
		case 'q': a->quiet = 1; break;
		case O_NO_PROGRESS: a->no_progress = 1; break;
		default: /* 1: an operand */
			if (a->src)
				return ck_errf(e, CK_EINVALID, "convert: unexpected argument '%s'", v);
			a->src = v;
		}
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
	if ((rc = parse_args(argc, argv, &o, e)))
		goto done;
	if (cscs_wanted(&o)) { /* CS -> CS across releases: its own walk (cscs.c) */
		rc = cscs_run(&o, e);
		goto done;
	}
	if ((rc = conv_open(&o, &c, e)))
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
