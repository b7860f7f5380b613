/* cli_convert.c - `ckconv convert`: configs first (actions read them), then plan from headers,
 * then stream tensors into a temporary output that is renamed only when complete. */
#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "cli.h"
#include "config.h"
#include "exec.h"
#include "h5ck.h"
#include "plan.h"
#include "rule.h"
#include "sha256.h"
#include "st.h"
#include "valio.h"
#include "version.h"

static const char usage[] =
	"usage: ckconv convert SRC [-o OUT] [--model M] [--src-fmt hf|cs-X.Y] [--tgt-fmt hf|cs-X.Y]\n"
	"                      [--config FILE] [--rules DIR] [--dry-run] [--debug] [--force]\n"
	"                      [--drop-unmatched-keys] [--shard-size 5GB] [--compress none|lz4] [--quiet]\n"
	"\n"
	"HF -> CS: SRC is an HF directory (config.json + safetensors), a .safetensors file or a\n"
	"  *.index.json; writes OUT.mdl (packed HDF5) and OUT.yaml (CS params).\n"
	"CS -> HF: SRC is a packed .mdl; --config names its params YAML (default: SRC with .yaml);\n"
	"  writes the directory OUT with config.json and safetensors (sharded above --shard-size).\n"
	"--model is optional when config.json (architectures/model_type) or the params (model.name)\n"
	"identify the model. Nothing is written when any key fails to plan; --dry-run prints the plan.\n";

typedef struct conv_args {
	const char *src, *out, *model, *src_fmt, *tgt_fmt, *config, *rules;
	int dry_run, debug, force, drop_unmatched, quiet, lz4;
	uint64_t shard_size;
} conv_args;

static int parse_args(int argc, char **argv, conv_args *a, ck_err *e)
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
		else if (!strcmp(s, "--quiet") || !strcmp(s, "-q") || !strcmp(s, "--no-progress"))
			a->quiet = 1;
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

static int is_dir(const char *p)
{
	struct stat st;
	return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static int ends_with(const char *s, const char *suf)
{
	size_t a = strlen(s), b = strlen(suf);
	return a >= b && !strcmp(s + a - b, suf);
}

/* Everything one conversion holds; released in one place whatever happens. */
typedef struct job {
	conv_args a;
	int dir; /* 0: HF -> CS, 1: CS -> HF */
	char *rules_dir, *rules_path, *tgt_fmt, *src_fmt;
	rule_set *rs;
	json_t *hf, *cs_model, *params, *env_cs, *out_cfg;
	ck_tsrc *src;
	plan p;
	int have_plan;
} job;

static void job_dispose(job *j)
{
	free(j->rules_dir);
	free(j->rules_path);
	free(j->tgt_fmt);
	free(j->src_fmt);
	rule_set_free(j->rs);
	json_decref(j->hf);
	json_decref(j->cs_model);
	json_decref(j->params);
	json_decref(j->env_cs);
	json_decref(j->out_cfg);
	ck_tsrc_free(j->src);
	if (j->have_plan)
		plan_dispose(&j->p);
}

static int pick_direction(job *j, ck_err *e)
{
	const char *sf = j->a.src_fmt, *tf = j->a.tgt_fmt;
	if (sf)
		j->dir = strcmp(sf, "hf") != 0;
	else if (tf)
		j->dir = strcmp(tf, "hf") == 0;
	else
		j->dir = !is_dir(j->a.src) && h5ck_is_hdf5(j->a.src);
	if (sf && strcmp(sf, "hf") && strncmp(sf, "cs-", 3))
		return ck_errf(e, CK_EINVALID, "--src-fmt '%s': expected hf or cs-X.Y", sf);
	if (tf && strcmp(tf, "hf") && strncmp(tf, "cs-", 3))
		return ck_errf(e, CK_EINVALID, "--tgt-fmt '%s': expected hf or cs-X.Y", tf);
	if (sf && tf && (strcmp(sf, "hf") == 0) == (strcmp(tf, "hf") == 0))
		return ck_errf(e, CK_EINVALID, "converting %s to %s: one side must be hf and the other cs-X.Y", sf, tf);
	return 0;
}

static int load_rules(job *j, ck_err *e)
{
	int rc;
	const rule_file *f;
	j->rules_dir = cli_rules_dir(j->a.rules);
	if (j->a.model)
		rc = rule_find_model(j->rules_dir, j->a.model, &j->rules_path, e);
	else
		rc = rule_detect_model(j->rules_dir, j->dir == 0 ? j->hf : NULL, j->dir == 1 ? j->params : NULL,
			&j->rules_path, e);
	if (rc || (rc = rule_set_load(j->rules_path, &j->rs, e)))
		return rc;
	f = j->rs->files[0];
	const char *cs = j->dir == 0 ? j->a.tgt_fmt : j->a.src_fmt;
	if (!cs) {
		if (!f->n_fmt)
			return ck_errf(e, CK_EINVALID, "%s: declares no CS formats", f->path);
		cs = f->fmt[f->n_fmt - 1];
	}
	if (!rule_has_format(f, cs)) {
		char list[512] = "";
		for (size_t i = 0; i < f->n_fmt; i++)
			snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? ", " : "", f->fmt[i]);
		return ck_errf(e, CK_EINVALID, "model %s does not support format %s (supported: hf, %s)", f->model, cs, list);
	}
	j->tgt_fmt = strdup(j->dir == 0 ? cs : "hf");
	j->src_fmt = strdup(j->dir == 0 ? "hf" : cs);
	return 0;
}

/* HF side: config.json next to the weights unless --config says otherwise. */
static int load_hf_side(job *j, ck_err *e)
{
	char *cfg = NULL, *tmp = NULL;
	int rc;
	if (j->a.config)
		cfg = strdup(j->a.config);
	else if (is_dir(j->a.src))
		rc = asprintf(&cfg, "%s/config.json", j->a.src) < 0 ? -1 : 0;
	else if ((tmp = strdup(j->a.src)))
		rc = asprintf(&cfg, "%s/config.json", dirname(tmp)) < 0 ? -1 : 0;
	(void)rc;
	free(tmp);
	if (!cfg)
		return ck_errf(e, CK_ENOMEM, "out of memory");
	rc = valio_json_load(cfg, &j->hf, e);
	if (!rc && !json_is_object(j->hf))
		rc = ck_errf(e, CK_EINVALID, "%s: expected a JSON object", cfg);
	free(cfg);
	return rc;
}

static int load_cs_side(job *j, ck_err *e)
{
	char *cfg = NULL;
	int rc;
	if (j->a.config) {
		cfg = strdup(j->a.config);
	} else {
		size_t n = strlen(j->a.src);
		if (ends_with(j->a.src, ".mdl"))
			n -= 4;
		if (asprintf(&cfg, "%.*s.yaml", (int)n, j->a.src) < 0)
			cfg = NULL;
		if (cfg && !cli_exists(cfg)) {
			rc = ck_errf(e, CK_ENOTFOUND, "%s: CS params not found; pass --config PARAMS.yaml", cfg);
			free(cfg);
			return rc;
		}
	}
	if (!cfg)
		return ck_errf(e, CK_ENOMEM, "out of memory");
	if ((rc = valio_yaml_load(cfg, &j->params, e)))
		goto done;
	json_t *m = json_object_get(j->params, "model");
	json_t *tr = json_object_get(j->params, "trainer");
	if (!m && tr) { /* trainer-style params: trainer.init.model */
		if (json_is_array(tr)) {
			rc = ck_errf(e, CK_EINVALID, "%s: params with several trainers are not supported", cfg);
			goto done;
		}
		m = cfg_path_get(tr, "init.model");
	}
	if (!json_is_object(m)) {
		rc = ck_errf(e, CK_EINVALID, "%s: no 'model:' mapping (nor trainer.init.model)", cfg);
		goto done;
	}
	j->cs_model = json_incref(m);
	j->env_cs = json_pack("{sO}", "model", m);
	/* detection reads params.model.name */
	json_decref(j->params);
	j->params = json_incref(j->env_cs);
done:
	free(cfg);
	return rc;
}

static void print_problems(const plan *p)
{
	for (size_t i = 0; i < p->n_warnings; i++)
		fprintf(stderr, "ckconv: warning: %s\n", p->warnings[i]);
	/* a single problem is the final error line itself; several are listed, then counted */
	for (size_t i = 0; p->n_problems > 1 && i < p->n_problems; i++)
		fprintf(stderr, "ckconv: error: %s\n", p->problems[i]);
}

static char *provenance(const job *j)
{
	char hex[65] = "";
	json_t *o;
	char *s;
	if (sha256_file_hex(j->rules_path, hex))
		hex[0] = '\0';
	o = json_pack("{ss ss ss ss ss ss ss}", "tool", "ckconv", "version", CKCONV_VERSION, "rules", j->rules_path,
		"rules_sha256", hex, "source", j->a.src, "source_format", j->src_fmt, "target_format", j->tgt_fmt);
	s = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	return s;
}

static char *default_out(const job *j)
{
	char *copy = strdup(j->a.src), *base, *out = NULL;
	if (!copy)
		return NULL;
	size_t n = strlen(copy);
	while (n > 1 && copy[n - 1] == '/')
		copy[--n] = '\0';
	base = basename(copy);
	n = strlen(base);
	if (ends_with(base, ".mdl"))
		n -= 4;
	if (asprintf(&out, "%.*s_to_%s%s", (int)n, base, j->tgt_fmt, j->dir == 0 ? ".mdl" : "") < 0)
		out = NULL;
	free(copy);
	return out;
}

/* OUT.mdl (or .h5) and its params OUT.yaml; refused early when they exist. */
static int cs_paths(const job *j, const char *out, char **mdl, char **yaml, ck_err *e)
{
	size_t n = strlen(out);
	if (ends_with(out, ".mdl") || ends_with(out, ".h5"))
		n -= ends_with(out, ".mdl") ? 4 : 3;
	if (asprintf(mdl, "%s%s", out, n == strlen(out) ? ".mdl" : "") < 0)
		return ck_errf(e, CK_ENOMEM, "out of memory");
	if (asprintf(yaml, "%.*s.yaml", (int)n, out) < 0) {
		free(*mdl);
		*mdl = NULL;
		return ck_errf(e, CK_ENOMEM, "out of memory");
	}
	if (!j->a.force && (cli_exists(*mdl) || cli_exists(*yaml)))
		return ck_errf(e, CK_EEXIST, "%s: output exists; pass --force to replace it",
			cli_exists(*mdl) ? *mdl : *yaml);
	return 0;
}

static int check_out(const job *j, const char *out, ck_err *e)
{
	char *mdl = NULL, *yaml = NULL;
	int rc;
	if (j->dir == 1)
		return !j->a.force && cli_exists(out)
			? ck_errf(e, CK_EEXIST, "%s: output exists; pass --force to replace it", out) : 0;
	rc = cs_paths(j, out, &mdl, &yaml, e);
	free(mdl);
	free(yaml);
	return rc;
}

static int write_cs(job *j, const char *out, ck_err *e)
{
	char *mdl = NULL, *yaml = NULL, *prov = NULL, *text = NULL;
	ck_tsink *sink = NULL;
	h5ck_opts ho = {0};
	int rc, committed = 0;
	if ((rc = cs_paths(j, out, &mdl, &yaml, e)))
		goto done;
	if (!(text = valio_yaml_dumps(j->params)) || !(prov = provenance(j))) {
		rc = ck_errf(e, CK_ENOMEM, "out of memory");
		goto done;
	}
	ho.compress_lz4 = j->a.lz4;
	ho.provenance_json = prov;
	if ((rc = h5ck_sink_open(mdl, "model", j->p.out, j->p.n_out, &ho, &sink, e)))
		goto done;
	if ((rc = exec_run(&j->p, sink, NULL, NULL, e))) {
		ck_tsink_abort(sink);
		goto done;
	}
	if ((rc = ck_tsink_commit(sink, e)))
		goto done;
	committed = 1;
	if ((rc = valio_write_file(yaml, text, e)))
		unlink(mdl); /* a packed file without its params is not a complete output */
	else if (!j->a.quiet)
		fprintf(stderr, "ckconv: wrote %s (%zu tensors) and %s\n", mdl, j->p.n_out, yaml);
done:
	(void)committed;
	free(mdl);
	free(yaml);
	free(prov);
	free(text);
	return rc;
}

static int write_hf(job *j, const char *out, ck_err *e)
{
	char *tmp = NULL, *cfgp = NULL, *text = NULL, *old = NULL;
	ck_tsink *sink = NULL;
	int rc = 0, exists = cli_exists(out);
	if (exists && !j->a.force)
		return ck_errf(e, CK_EEXIST, "%s: output exists; pass --force to replace it", out);
	if (asprintf(&tmp, "%s.ckconv-tmp-XXXXXX", out) < 0 || !mkdtemp(tmp)) {
		rc = ck_errf(e, CK_EIO, "%s: cannot create a temporary directory next to it: %s", out, strerror(errno));
		free(tmp);
		return rc;
	}
	if ((rc = st_sink_open(tmp, j->p.out, j->p.n_out, j->a.shard_size, &sink, e)))
		goto fail;
	if ((rc = exec_run(&j->p, sink, NULL, NULL, e))) {
		ck_tsink_abort(sink);
		goto fail;
	}
	if ((rc = ck_tsink_commit(sink, e)))
		goto fail;
	if (!(text = valio_json_dumps(j->out_cfg)) || asprintf(&cfgp, "%s/config.json", tmp) < 0) {
		rc = ck_errf(e, CK_ENOMEM, "out of memory");
		goto fail;
	}
	if ((rc = valio_write_file(cfgp, text, e)))
		goto fail;
	if (exists) { /* --force: move the old output aside, put the new one in place, then delete */
		if (asprintf(&old, "%s.ckconv-old-%d", out, (int)getpid()) < 0 || rename(out, old)) {
			rc = ck_errf(e, CK_EIO, "%s: cannot move the existing output aside: %s", out, strerror(errno));
			goto fail;
		}
	}
	if (rename(tmp, out)) {
		rc = ck_errf(e, CK_EIO, "%s: cannot rename the finished output into place: %s", out, strerror(errno));
		if (old)
			rename(old, out);
		goto fail;
	}
	if (old)
		cli_remove_tree(old);
	if (!j->a.quiet)
		fprintf(stderr, "ckconv: wrote %s (%zu tensors, config.json)\n", out, j->p.n_out);
	goto done;
fail:
	cli_remove_tree(tmp);
done:
	free(tmp);
	free(cfgp);
	free(text);
	free(old);
	return rc;
}

int cli_convert(int argc, char **argv, ck_err *e)
{
	job j;
	char *warn = NULL, *out = NULL;
	plan_opts po = {0};
	int rc;
	memset(&j, 0, sizeof j);
	if ((rc = parse_args(argc, argv, &j.a, e)) || (rc = pick_direction(&j, e)))
		goto done;
	if ((rc = j.dir == 0 ? load_hf_side(&j, e) : load_cs_side(&j, e)) || (rc = load_rules(&j, e)))
		goto done;
	/* configs first: the key actions read the converted config (e.g. num_heads) */
	if ((rc = cfg_convert(j.rs, j.dir, j.dir == 0 ? j.hf : j.cs_model, j.a.config ? j.a.config : j.a.src,
		     &j.out_cfg, &warn, e)))
		goto done;
	if (warn && !j.a.quiet)
		fprintf(stderr, "ckconv: note: config keys with no %s counterpart, not carried over: %s\n",
			j.dir == 0 ? "CS" : "HF", warn);
	if (j.dir == 0) {
		j.params = json_pack("{sO}", "model", j.out_cfg);
		j.env_cs = json_incref(j.params);
	} else {
		j.hf = json_incref(j.out_cfg);
	}
	if (!(out = j.a.out ? strdup(j.a.out) : default_out(&j))) {
		rc = ck_errf(e, CK_ENOMEM, "out of memory");
		goto done;
	}
	if ((!j.a.dry_run && (rc = check_out(&j, out, e))) || (rc = cli_open_source(j.a.src, &j.src, e)) ||
		(rc = plan_init(&j.p, e)))
		goto done;
	j.have_plan = 1;
	po.drop_unmatched = j.a.drop_unmatched;
	po.debug = j.a.debug ? stdout : NULL;
	rc = plan_add(&j.p, j.rs, j.dir, j.src, j.dir == 0 ? "" : "model.", "", j.hf, j.env_cs, &po, e);
	print_problems(&j.p);
	if (rc)
		goto done;
	if (j.a.dry_run) {
		char *text = j.dir == 0 ? valio_yaml_dumps(j.params) : valio_json_dumps(j.out_cfg);
		plan_print(&j.p, stdout);
		printf("--- %s\n%s", j.dir == 0 ? "params (yaml)" : "config.json", text ? text : "");
		free(text);
		goto done;
	}
	if (!j.a.quiet)
		fprintf(stderr, "ckconv: %s %s -> %s: %zu source tensors -> %zu target tensors (rules %s)\n",
			j.rs->files[0]->model, j.src_fmt, j.tgt_fmt, j.src->n, j.p.n_out, j.rules_path);
	rc = j.dir == 0 ? write_cs(&j, out, e) : write_hf(&j, out, e);
done:
	free(warn);
	free(out);
	job_dispose(&j);
	return rc;
}
