/* cli_convert.c - `ckconv convert`: the arguments into conv_opts, then the run (conv.c):
 * open, check the outputs, plan, and print the plan (--dry-run) or write. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"
#include "conv.h"
#include "cscs.h"
#include "fmt.h"
#include "h5ck.h"
#include "outpath.h"
#include "path.h"
#include "txn.h"

const char cli_convert_usage[] =
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

const struct option cli_convert_opts[] = {
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
	for (optind = 0; (c = cli_getopt(argc, argv, "convert", "o:qh", cli_convert_opts, &v, e)) != -1;) {
		switch (c) {
		case CLI_OPT_ERROR: return CK_EINVALID;
		case 'h': fputs(cli_convert_usage, stdout); exit(0);
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
				return ck_errf(e, CK_EUSAGE, "convert: unexpected argument '%s'", v);
			a->src = v;
		}
	}
	if (!a->src)
		return ck_errf(e, CK_EUSAGE, "convert: no source given (see ckconv convert --help)");
	return 0;
}

/* What SRC is, from what is there (not from the flags). */
typedef enum { SRC_UNKNOWN, SRC_HF, SRC_PACKED, SRC_CONFIG } src_kind;

static src_kind source_kind(const char *src)
{
	if (path_is_dir(src))
		return SRC_HF;
	if (h5ck_is_hdf5(src))
		return SRC_PACKED;
	if (path_ends_with(src, ".yaml") || path_ends_with(src, ".yml") ||
		(path_ends_with(src, ".json") && !path_ends_with(src, ".index.json")))
		return SRC_CONFIG;
	if (path_ends_with(src, ".safetensors") || path_ends_with(src, ".bin") || path_ends_with(src, ".index.json"))
		return SRC_HF;
	return SRC_UNKNOWN;
}

static int is_cs_fmt(const char *f)
{
	return f && !strncmp(f, "cs-", 3);
}

/* Flags that contradict the source: say what the source is and what was probably meant, before
 * anything looks for files that would only exist for the other kind. */
static int check_source(const conv_opts *o, ck_err *e)
{
	const char *sf = o->src_fmt, *tf = o->tgt_fmt;
	switch (source_kind(o->src)) {
	case SRC_CONFIG:
		return ck_errf(e, CK_EUSAGE, "%s: a config file, not a checkpoint: convert the checkpoint (its directory or "
			"weights file), or use 'ckconv convert-config %s' to convert the config alone", o->src, o->src);
	case SRC_PACKED:
		if (sf && !strcmp(sf, "hf"))
			return ck_errf(e, CK_EUSAGE, "%s: a packed CS checkpoint, not HF: --src-fmt hf does not fit (leave it out, or "
				"--src-fmt cs-X.Y / cs-auto)", o->src);
		if (!sf && is_cs_fmt(tf))
			return ck_errf(e, CK_EUSAGE, "%s: a packed CS checkpoint: to HF it is --tgt-fmt hf; from one CS release to "
				"another give --src-fmt too (cs-X.Y or cs-auto) with --tgt-fmt %s", o->src, tf);
		return 0;
	case SRC_HF:
		if (is_cs_fmt(sf) || (sf && !strcmp(sf, "cs-auto")))
			return ck_errf(e, CK_EUSAGE, "%s: an HF checkpoint, not a packed CS one: --src-fmt %s does not fit (leave it "
				"out, or --src-fmt hf)", o->src, sf);
		if (tf && !strcmp(tf, "hf"))
			return ck_errf(e, CK_EUSAGE, "%s: an HF checkpoint already: --tgt-fmt hf converts a packed CS checkpoint "
				"(.mdl) to HF; to convert this one to CS, --tgt-fmt cs-X.Y (or leave it out)", o->src);
		return 0;
	default:
		return 0;
	}
}

/* --model names a model the rules know (or the error says which one was probably meant). */
static int check_model(const conv_opts *o, ck_err *e)
{
	char *dir, *path = NULL;
	int rc;
	if (!o->model)
		return 0;
	if (!(dir = cli_rules_dir(o->rules)))
		return ck_errf(e, CK_ENOMEM, "out of memory");
	rc = cli_find_model(dir, o->model, &path, e);
	free(dir);
	free(path);
	return rc;
}

/* The reference's pseudo formats, for HF <-> CS: cs-auto, cs-current (fmt.h). */
static int resolve_formats(conv_opts *o, char **sf, char **tf, ck_err *e)
{
	char *dir = cli_rules_dir(o->rules);
	int rc = dir ? fmt_resolve(o->src, dir, &o->src_fmt, &o->tgt_fmt, sf, tf, e) : ck_errf(e, CK_ENOMEM, "out of memory");
	free(dir);
	return rc;
}

int cli_convert(int argc, char **argv, ck_err *e)
{
	conv_opts o;
	conv *c = NULL;
	char *sf = NULL, *tf = NULL;
	int rc;
	if ((rc = parse_args(argc, argv, &o, e)))
		goto done;
	if ((rc = cli_need_path(o.src, e)) || (rc = check_source(&o, e)))
		goto done;
	if (cscs_wanted(&o)) { /* CS -> CS across releases: its own walk (cscs.c) */
		rc = cscs_run(&o, e);
		goto done;
	}
	if ((rc = check_model(&o, e)) || (rc = resolve_formats(&o, &sf, &tf, e)))
		goto done;
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
	free(sf);
	free(tf);
	conv_free(c);
	return rc;
}

const char cli_convert_config_usage[] =
	"usage: ckconv convert-config CONFIG [--model M] [--src-fmt hf|cs-X.Y] [--tgt-fmt hf|cs-X.Y|cs-current]\n"
	"                             [-o FILE | --output-dir DIR] [--rules DIR] [--force] [--dry-run] [--quiet]\n"
	"\n"
	"Convert a config alone, no weights (the reference's convert-config): an HF config.json to CS\n"
	"params, CS params (.yaml) to an HF config.json (single-component models), or CS params from\n"
	"one release to another (--src-fmt cs-X.Y --tgt-fmt cs-Y.Z|cs-current --model M: the params\n"
	"steps of 'convert' CS -> CS, rules/cscs/). Without -o it is\n"
	"written as <dir>/<name>_to_<fmt>.yaml (or .json), <dir> the config's directory or --output-dir\n"
	"(created if missing), <name> its file name less the last extension. --dry-run prints it.\n";

/* <dir>/<name less its last extension>_to_<fmt>.<yaml|json>, as the reference names it. */
static char *config_out_name(const char *cfg, const char *dir, const char *fmt)
{
	const char *b = path_base(cfg), *dot = strrchr(b, '.');
	char *d = dir ? strdup(dir) : path_dir(cfg), *p = NULL;
	int bare = !dir && !strchr(cfg, '/');
	if (d && asprintf(&p, "%s%s%.*s_to_%s.%s", bare ? "" : d, bare ? "" : "/", dot && dot != b ? (int)(dot - b) : (int)strlen(b),
		b, fmt, strcmp(fmt, "hf") ? "yaml" : "json") < 0)
		p = NULL;
	free(d);
	return p;
}

static int write_config(const char *path, const char *text, int force, ck_err *e)
{
	txn *t = NULL;
	const char *tmp;
	int rc = txn_begin(path, force, NULL, &t, e);
	if (!rc && !(rc = txn_add(t, path, TXN_FILE, &tmp, e)) && !(rc = txn_write_file(tmp, text, strlen(text), e)))
		rc = txn_commit(t, e);
	txn_free(t);
	return rc;
}

const struct option cli_convert_config_opts[] = {{"output", required_argument, NULL, 'o'},
	{"model", required_argument, NULL, O_MODEL}, {"src-fmt", required_argument, NULL, O_SRC_FMT},
	{"tgt-fmt", required_argument, NULL, O_TGT_FMT}, {"rules", required_argument, NULL, O_RULES},
	{"output-dir", required_argument, NULL, O_OUT_DIR}, {"debug", no_argument, NULL, O_DEBUG},
	{"force", no_argument, NULL, O_FORCE}, {"dry-run", no_argument, NULL, O_DRY_RUN},
	{"drop-unmatched-keys", no_argument, NULL, O_DROP}, {"quiet", no_argument, NULL, 'q'},
	{"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};

int cli_convert_config(int argc, char **argv, ck_err *e)
{
	conv_opts o;
	conv *c = NULL;
	const char *v, *out = NULL, *dir = NULL;
	char *sf = NULL, *tf = NULL, *text = NULL, *path = NULL, *fmt = NULL;
	int rc = 0, ch;
	memset(&o, 0, sizeof o);
	for (optind = 0; (ch = cli_getopt(argc, argv, "convert-config", "o:qh", cli_convert_config_opts, &v, e)) != -1;) {
		switch (ch) {
		case CLI_OPT_ERROR: return CK_EINVALID;
		case 'h': fputs(cli_convert_config_usage, stdout); exit(0);
		case 'o': out = v; break;
		case O_OUT_DIR: dir = v; break;
		case O_MODEL: o.model = v; break;
		case O_SRC_FMT: o.src_fmt = v; break;
		case O_TGT_FMT: o.tgt_fmt = v; break;
		case O_RULES: o.rules = v; break;
		case O_FORCE: o.force = 1; break;
		case O_DRY_RUN: o.dry_run = 1; break;
		case 'q': o.quiet = 1; break;
		case O_DEBUG: case O_DROP: break; /* the reference always drops what has no counterpart */
		default:
			if (o.src)
				return ck_errf(e, CK_EUSAGE, "convert-config: unexpected argument '%s'", v);
			o.src = o.config = v;
		}
	}
	if (!o.src)
		return ck_errf(e, CK_EUSAGE, "convert-config: no config given (see ckconv convert-config --help)");
	if (out && dir)
		return ck_errf(e, CK_EUSAGE, "-o %s and --output-dir %s: give one", out, dir);
	if (out && !strcmp(out, "-"))
		return ck_errf(e, CK_EUSAGE, "-o -: ckconv writes files, not a stream; --dry-run prints the config");
	if (o.src_fmt && !strcmp(o.src_fmt, "cs-auto"))
		return ck_errf(e, CK_EUSAGE, "convert-config: --src-fmt cs-auto reads a packed checkpoint; a config alone "
			"does not say its release (pass --src-fmt cs-X.Y)");
	if (path_is_dir(o.src))
		return ck_errf(e, CK_EUSAGE, "%s: a directory; convert-config takes a config file (config.json or params "
			".yaml)", o.src);
	int params = path_ends_with(o.src, ".yaml") || path_ends_with(o.src, ".yml");
	if (!o.src_fmt && !o.tgt_fmt && params)
		o.tgt_fmt = "hf"; /* CS params: to HF */
	if (params && !o.src_fmt && is_cs_fmt(o.tgt_fmt))
		return ck_errf(e, CK_EUSAGE, "%s: CS params; to carry them to %s give the release they were written for, "
			"--src-fmt cs-X.Y (or --tgt-fmt hf for an HF config.json)", o.src, o.tgt_fmt);
	if (cscs_wanted(&o)) { /* CS -> CS across releases: the params side of cscs.c's release steps */
		if ((rc = cscs_config(&o, &text, &fmt, e)))
			goto done;
	} else if ((rc = check_model(&o, e)) || (rc = resolve_formats(&o, &sf, &tf, e)) || (rc = conv_open(&o, &c, e))) {
		goto done;
	} else if (!(text = conv_config_text(c, e)) || !(fmt = strdup(conv_target_format(c)))) {
		rc = e->code ? e->code : ck_errf(e, CK_ENOMEM, "out of memory");
		goto done;
	}
	if (o.dry_run) {
		fputs(text, stdout);
		goto done;
	}
	if (!(path = out ? strdup(out) : config_out_name(o.src, dir, fmt))) {
		rc = ck_errf(e, CK_ENOMEM, "out of memory");
		goto done;
	}
	if ((out && (rc = outpath_parent_exists(path, out, e))) || (dir && (rc = outpath_make_dir(dir, e))) ||
		(rc = txn_check(path, TXN_FILE, o.force, e)) || (rc = write_config(path, text, o.force, e)))
		goto done;
	if (!o.quiet)
		printf("Config saved to %s\n", path);
done:
	free(sf);
	free(tf);
	free(fmt);
	free(text);
	free(path);
	conv_free(c);
	return rc;
}
