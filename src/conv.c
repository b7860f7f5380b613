/* conv.c - one conversion run: direction, rules and components, configs first (actions read
 * them), muP detection and folding, the plan from headers, then the tensors streamed into the
 * output transaction (txn.c) or compared with a reference checkpoint. */
#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "carry.h"
#include "cli.h"
#include "config.h"
#include "conv.h"
#include "exec.h"
#include "h5ck.h"
#include "outpath.h"
#include "layers.h"
#include "par.h"
#include "path.h"
#include "shard.h"
#include "model.h"
#include "plan.h"
#include "prog.h"
#include "progress.h"
#include "rule.h"
#include "sha256.h"
#include "share.h"
#include "st.h"
#include "strmap.h"
#include "text.h"
#include "txn.h"
#include "mirror.h"
#include "valio.h"
#include "version.h"

/* One HF checkpoint of the model: the whole model, or one component (LLaVA's image_model). */
typedef struct comp {
	const rule_comp *rc; /* NULL for a single-component model */
	rule_set *rs;        /* its key and config rules (the model's) */
	char *dir;           /* HF directory (HF -> CS input; CS -> HF: the final output directory) */
	json_t *hf, *cs;     /* its configs: HF config.json, CS model section */
	json_t *env_cs;      /* {"model": cs}: what `cs.model.x` reads */
	ck_tsrc *src;        /* HF -> CS: its weights */
	plan p;              /* CS -> HF: its own plan (one output directory each) */
	int have_plan;
	const rule_mup *mup; /* CS -> HF: fold these muP multipliers */
	prog *prog;          /* its rules compiled for the direction and its config */
	prog *mup_prog;      /* ... and mup's scalings, when folded */
	const rule_mup *keep_mup; /* --no-mup-to-sp: carry these muP keys into config.json */
} comp;

/* What differs between the two directions, indexed by the source side and picked once
 * (conv_open); every step below runs through it, so no step asks which way it goes. */
typedef struct way {
	int sink_concurrent;  /* the output format takes tensors from the I/O thread (safetensors) */
	int (*read_config)(conv *j, ck_err *e);
	int (*companions)(const conv *j, char **params, char **files, ck_err *e); /* inputs beside the source */
	int (*configs)(conv *j, ck_err *e);  /* configs converted, muP detected and folded */
	int (*plan)(conv *j, plan_opts *po, ck_err *e);
	int (*check_out)(const conv *j, ck_err *e);
	int (*begin)(const conv *j, txn **tx, ck_err *e);
	int (*write)(conv *j, txn *tx, ck_err *e);
	void (*print_configs)(const conv *j, FILE *f);
	char *(*config_text)(const conv *j, ck_err *e); /* the converted config alone (convert-config) */
	int (*compare)(conv *j, ck_err *e);
} way;

/* Everything one conversion holds; released in one place whatever happens. */
struct conv {
	conv_opts a;
	rule_side from, to;  /* the source side and the target side */
	const way *w;        /* what the direction does at each step (ways[from]) */
	char *rules_dir, *out;
	model *m;            /* the model's rules (model.c) */
	const char *rules_path; /* its file */
	char *out_params;    /* CS target: the params YAML when not OUT.yaml (outpath.h) */
	char *out_mkdir;     /* the output directory to create first, or NULL */
	char *fmt[2];        /* per side: "hf", "cs-X.Y" */
	const char *src_fmt, *tgt_fmt; /* fmt[from], fmt[to] */
	rule_set *rs;        /* the model file (and, single-component, its rules): m->top */
	mirror_map copies;   /* HF -> CS, a wrap with `copy`: the planned tensors and their copies */
	size_t n;
	comp *c;
	json_t *params;      /* CS params: {"model": {...}} and the sections beside it (optimizer, ...) */
	int sideband;        /* params sparsity type sideband: NaN weights are pruned ones, 0 on the way to HF */
	char *cfg_path;      /* the config read: HF config.json or CS params (for messages) */
	json_t *vars;        /* {"out": {dir: path}} for expressions */
	ck_tsrc *mdl;        /* CS -> HF: the packed source */
	plan p;              /* HF -> CS: one plan for the one packed output */
	int have_plan;
	size_t n_plans;
	plan **plans;        /* every plan made: &p (HF -> CS), each component's (CS -> HF) */
	size_t n_src;        /* source tensors planned from */
	text notes;          /* "ckconv: note: ..." lines, shown once the conversion is planned */
	json_t *hf_single;   /* HF -> CS, single component: its config.json */
	const char *against; /* conv_compare: the reference checkpoint */
	FILE *report;        /* conv_compare: where each difference is listed */
};

static void conv_dispose(conv *j)
{
	for (size_t i = 0; i < j->n; i++) {
		comp *c = &j->c[i];
		free(c->dir);
		json_decref(c->hf);
		json_decref(c->cs);
		json_decref(c->env_cs);
		prog_free(c->prog);
		prog_free(c->mup_prog);
		ck_tsrc_free(c->src);
		if (c->have_plan)
			plan_dispose(&c->p);
	}
	free(j->c);
	free(j->rules_dir);
	free(j->fmt[RULE_HF]);
	free(j->fmt[RULE_CS]);
	free(j->plans);
	free(j->out);
	free(j->out_params);
	free(j->out_mkdir);
	free(j->cfg_path);
	model_free(j->m);
	mirror_map_dispose(&j->copies);
	json_decref(j->params);
	json_decref(j->vars);
	ck_tsrc_free(j->mdl);
	if (j->have_plan)
		plan_dispose(&j->p);
	text_dispose(&j->notes);
	json_decref(j->hf_single);
}

static int pick_direction(conv *j, ck_err *e)
{
	const char *sf = j->a.src_fmt, *tf = j->a.tgt_fmt;
	if (sf)
		j->from = strcmp(sf, "hf") ? RULE_CS : RULE_HF;
	else if (tf)
		j->from = strcmp(tf, "hf") ? RULE_HF : RULE_CS;
	else /* a damaged .mdl is still a packed source: its reader says what is wrong with it */
		j->from = !path_is_dir(j->a.src) &&
			(h5ck_is_hdf5(j->a.src) || path_ends_with(j->a.src, ".mdl") || path_ends_with(j->a.src, ".h5")) ? RULE_CS
															 : RULE_HF;
	j->to = !j->from;
	if (sf && strcmp(sf, "hf") && strncmp(sf, "cs-", 3))
		return ck_errf(e, CK_EINVALID, "--src-fmt '%s': expected hf or cs-X.Y", sf);
	if (tf && strcmp(tf, "hf") && strncmp(tf, "cs-", 3))
		return ck_errf(e, CK_EINVALID, "--tgt-fmt '%s': expected hf or cs-X.Y", tf);
	if (sf && tf && (strcmp(sf, "hf") == 0) == (strcmp(tf, "hf") == 0))
		return ck_errf(e, CK_EINVALID, "converting %s to %s: one side must be hf and the other cs-X.Y", sf, tf);
	if (!cli_exists(j->a.src)) /* before anything looks for files next to it */
		return ck_errf(e, CK_ENOTFOUND, "%s: source not found", j->a.src);
	return 0;
}

/* The model: --model, else detected from the config read (HF config.json or CS params), else
 * (an HF directory without config.json) from its component directories. */
static int load_rules(conv *j, ck_err *e)
{
	int rc;
	const char *given[2];
	given[j->from] = j->a.src_fmt;
	given[j->to] = j->a.tgt_fmt;
	j->rules_dir = cli_rules_dir(j->a.rules);
	model_query q = {.rules_dir = j->rules_dir, .name = j->a.model, .hf = j->hf_single, .cs = j->params,
		.where = j->cfg_path, .hf_dir = j->a.src, .cs_fmt = given[RULE_CS]};
	/* a wrapper always gets its config here: the params (CS -> HF), or config.json, without
	 * which HF -> CS stops naming it (configs_to_cs) */
	if ((rc = model_open(&q, &j->m, e)))
		return rc;
	j->rs = j->m->top;
	j->rules_path = j->m->path;
	if (!j->m->cs_fmt)
		return ck_errf(e, CK_EINVALID, "%s: declares no CS formats", j->rules_path);
	if (!(j->fmt[RULE_HF] = strdup("hf")) || !(j->fmt[RULE_CS] = strdup(j->m->cs_fmt)))
		return ck_errf(e, CK_ENOMEM, "out of memory");
	j->src_fmt = j->fmt[j->from];
	j->tgt_fmt = j->fmt[j->to];
	return 0;
}

/* The components to convert: the model's list, or the model itself. */
static int setup_comps(conv *j, ck_err *e)
{
	j->n = j->m->n;
	if (!(j->c = ck_calloc(e, j->n, sizeof *j->c))) {
		j->n = 0;
		return CK_ENOMEM;
	}
	for (size_t i = 0; i < j->n; i++) {
		j->c[i].rc = model_comp(j->m, i);
		j->c[i].rs = j->m->sets[i];
	}
	return 0;
}

static int load_json_cfg(const char *dir, json_t **out, ck_err *e)
{
	char *p = NULL;
	int rc;
	if (asprintf(&p, "%s/config.json", dir) < 0)
		return ck_errf(e, CK_ENOMEM, "out of memory");
	rc = valio_json_load(p, out, e);
	if (!rc && !json_is_object(*out))
		rc = ck_errf(e, CK_EINVALID, "%s: expected a JSON object", p);
	free(p);
	return rc;
}

/* HF -> CS inputs: the config.json next to the weights (or --config) of the single model. */
static int single_hf_config(conv *j, json_t **out, ck_err *e)
{
	char *tmp = NULL;
	int rc;
	*out = NULL;
	/* --config DIR: the reference's form for a multi-component model (the outer directory) */
	const char *dir = j->a.config && path_is_dir(j->a.config) ? j->a.config : j->a.src;
	if (j->a.config && dir != j->a.config) {
		j->cfg_path = strdup(j->a.config);
	} else if (path_is_dir(dir)) {
		if (asprintf(&j->cfg_path, "%s/config.json", dir) < 0)
			j->cfg_path = NULL;
		else if (!cli_exists(j->cfg_path))
			return 0; /* maybe a multi-component directory */
	} else if ((tmp = strdup(j->a.src)) && asprintf(&j->cfg_path, "%s/config.json", dirname(tmp)) < 0) {
		j->cfg_path = NULL;
	}
	free(tmp);
	if (!j->cfg_path)
		return ck_errf(e, CK_ENOMEM, "out of memory");
	rc = valio_json_load(j->cfg_path, out, e);
	return !rc && !json_is_object(*out) ? ck_errf(e, CK_EINVALID, "%s: expected a JSON object", j->cfg_path) : rc;
}

static int load_cs_params(conv *j, ck_err *e)
{
	char *cfg = NULL;
	json_t *raw = NULL;
	int rc;
	if (j->a.config) {
		cfg = strdup(j->a.config);
	} else {
		size_t n = strlen(j->a.src);
		if (path_ends_with(j->a.src, ".mdl"))
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
	if ((rc = valio_yaml_load(cfg, &raw, e)))
		goto done;
	json_t *m = json_object_get(raw, "model"), *tr = json_object_get(raw, "trainer");
	if (!m && tr) { /* trainer-style params: trainer.init.model */
		if (json_is_array(tr)) {
			rc = ck_errf(e, CK_EINVALID, "%s: params with several trainers are not supported", cfg);
			goto done;
		}
		m = config_path_get(tr, "init.model");
	}
	if (m && !json_is_object(m)) {
		static const char *const kind[] = {"a mapping", "a list", "a string", "a number", "a number", "a bool",
			"a bool", "null"};
		rc = ck_errf(e, CK_EINVALID, "%s: 'model' must be a mapping, found %s", cfg, kind[json_typeof(m)]);
		goto done;
	}
	if (!m) {
		rc = ck_errf(e, CK_EINVALID, "%s: no 'model:' mapping (nor trainer.init.model)", cfg);
		goto done;
	}
	/* the document around the model section (trainer-style: trainer.init): rooted config keys read it */
	j->params = json_copy(m == json_object_get(raw, "model") ? raw : json_object_get(tr, "init"));
	if (!j->params || json_object_set(j->params, "model", m)) {
		rc = ck_errf(e, CK_ENOMEM, "out of memory");
		goto done;
	}
	json_t *sp = json_object_get(raw, "sparsity");
	if (!sp && tr && !json_is_array(tr))
		sp = config_path_get(tr, "init.sparsity");
	j->sideband = json_is_object(sp) && json_is_string(json_object_get(sp, "type")) &&
		!strcmp(json_string_value(json_object_get(sp, "type")), "sideband");
done:
	json_decref(raw);
	j->cfg_path = cfg;
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

/* Notes wait until the conversion is planned: a failing run prints its one error line only. */
static void note_unused(conv *j, const char *what, char *warn)
{
	if (warn && *warn)
		text_printf(&j->notes, "ckconv: note: %s config keys with no %s counterpart, not carried over: %s\n", what,
			rule_side_label(j->to), warn);
	free(warn);
}

/* The rules' own notes (`note_hf:` / `note_cs:`), each line already "WHERE: TEXT (rule ...)". */
static void note_rules(conv *j, char *told)
{
	for (char *line = told, *nl; line && *line; line = nl + 1) {
		if (!(nl = strchr(line, '\n')))
			break;
		text_printf(&j->notes, "ckconv: note: %.*s\n", (int)(nl - line), line);
	}
	free(told);
}

static void print_notes(conv *j)
{
	if (j->notes.p && !j->a.quiet)
		fputs(j->notes.p, stderr);
	text_dispose(&j->notes);
}

/* Configs first: the key actions read the converted values (num_heads, rotary_dim, ...). */
static int convert_configs_to_cs(conv *j, json_t *hf_single, ck_err *e)
{
	const rule_file *f = j->rs->files[0];
	json_t *model = NULL, *hf_all = json_object(), *beside = json_object(); /* params sections beside model: */
	char *warn = NULL, *where = NULL, *told = NULL;
	int rc = 0;
	for (size_t i = 0; i < j->n && !rc; i++) {
		comp *c = &j->c[i];
		if (c->rc) {
			if (asprintf(&c->dir, "%s/%s", j->a.src, c->rc->dir) < 0) {
				rc = ck_errf(e, CK_ENOMEM, "out of memory");
				break;
			}
			if (!path_is_dir(c->dir)) {
				rc = ck_errf(e, CK_ENOTFOUND, "%s: component directory '%s' of %s is missing (%s "
					     "expects component %zu of %zu there)", c->dir, c->rc->dir, f->model,
					     f->model, i + 1, j->n);
				break;
			}
			if ((rc = load_json_cfg(c->dir, &c->hf, e)))
				break;
		} else {
			c->dir = strdup(j->a.src);
			c->hf = json_incref(hf_single);
		}
		if (!c->rc && j->cfg_path) /* --config, or the config.json beside a weights file */
			where = strdup(j->cfg_path);
		else if (asprintf(&where, "%s/config.json", c->dir) < 0)
			where = NULL;
		char *nested = NULL;
		if ((rc = config_hf_nested(c->rs, &c->hf, where ? where : c->dir, &nested, e))) {
			free(where);
			break;
		}
		if (nested)
			text_printf(&j->notes, "ckconv: note: %s\n", nested);
		free(nested);
		rc = config_convert_params(c->rs, RULE_HF, c->hf, beside, where ? where : c->dir, NULL, &c->cs, &warn, &told, e);
		note_rules(j, told);
		note_unused(j, c->rc ? c->rc->dir : f->model, warn);
		free(where);
		where = NULL;
		if (!rc && c->rc)
			json_object_set(hf_all, c->rc->dir, c->hf);
		if (!rc)
			c->env_cs = json_pack("{sO}", "model", c->cs);
	}
	if (rc)
		goto done;
	if (!f->n_comp) {
		model = json_incref(j->c[0].cs);
	} else { /* the model's own config rules see hf.<component dir>.<key> */
		if ((rc = config_convert_params(j->rs, RULE_HF, hf_all, beside, j->a.src, NULL, &model, NULL, NULL, e)))
			goto done;
		for (size_t i = 0; i < j->n; i++)
			json_object_set(model, j->c[i].rc->config, j->c[i].cs);
	}
	if ((rc = config_layout(j->rs, RULE_CS, &model, j->vars, j->a.src, e)))
		goto done;
	/* A release's params schema: `name` is in the model section from cs-2.4 on, and older releases
	 * validate strictly (the reference adds it only for targets from cs-2.4; components keep theirs) */
	json_int_t maj = json_integer_value(json_object_get(j->vars, "cs_major"));
	json_int_t min = json_integer_value(json_object_get(j->vars, "cs_minor"));
	if (maj < 2 || (maj == 2 && min < 4))
		json_object_del(model, "name");
	j->params = json_pack("{sO}", "model", model);
	if (!j->params || json_object_update_missing(j->params, beside))
		rc = ck_errf(e, CK_ENOMEM, "out of memory");
done:
	json_decref(model);
	json_decref(hf_all);
	json_decref(beside);
	return rc;
}

/* 1 if the component's CS config is muP by its rules' `mup.detect`, 0 if not, <0 on error. */
static int mup_detected(const conv *j, const comp *c, ck_err *e)
{
	return model_mup(c->rs, c->env_cs, j->vars, j->cfg_path, e);
}

/* muP on the way to HF: fold the multipliers (weights scaled in the plan, config edited here)
 * unless --no-mup-to-sp; a model whose rules cannot fold refuses. */
static int mup_prepare(conv *j, comp *c, ck_err *e)
{
	const rule_mup *m = c->rs->files[0]->mup;
	int rc = mup_detected(j, c, e);
	if (rc <= 0)
		return rc;
	json_t *edited = json_deep_copy(c->cs);
	if (!edited)
		return ck_errf(e, CK_ENOMEM, "out of memory");
	for (size_t i = 0; i < m->n_drop; i++) /* converted here, or carried verbatim below */
		json_object_del(edited, m->drop[i]);
	json_decref(c->cs); /* env_cs keeps the original: the scalings read the multipliers */
	c->cs = edited;
	if (j->a.no_mup) {
		text_puts(&j->notes, "ckconv: note: muP checkpoint converted as is (--no-mup-to-sp)\n");
		c->keep_mup = m;
		return 0;
	}
	if (!m->n_tensors)
		return ck_errf(e, CK_EINVALID, "This model currently does not support muP checkpoint conversion to HF "
			"(%s declares no muP folding; --no-mup-to-sp converts it unchanged)", m->pos.file);
	if (m->set)
		json_object_update(c->cs, m->set);
	c->mup = m;
	text_printf(&j->notes, "ckconv: note: muP checkpoint: multipliers folded into the weights (%s:%d)\n", m->pos.file,
		m->pos.line);
	return 0;
}

static int convert_configs_to_hf(conv *j, ck_err *e)
{
	const rule_file *f = j->rs->files[0];
	json_t *model = json_incref(json_object_get(j->params, "model")), *top = NULL;
	char *warn = NULL, *told = NULL;
	int rc = 0;
	/* the release's layout of the section -> the one the rules read */
	rc = config_layout(j->rs, RULE_HF, &model, j->vars, j->cfg_path, e);
	if (!rc && json_object_set(j->params, "model", model))
		rc = ck_errf(e, CK_ENOMEM, "out of memory");
	json_decref(model);
	if (rc)
		return rc;
	for (size_t i = 0; i < j->n && !rc; i++) {
		comp *c = &j->c[i];
		c->cs = json_incref(c->rc ? json_object_get(model, c->rc->config) : model);
		if (!json_is_object(c->cs))
			return ck_errf(e, CK_EINVALID, "%s: model.%s: expected the %s component's config mapping",
				j->cfg_path, c->rc->config, c->rc->dir);
		if (config_cs_numbers(c->rs, c->cs, j->params, j->cfg_path, &told))
			return ck_errf(e, CK_ENOMEM, "out of memory");
		note_rules(j, told);
		c->env_cs = json_pack("{sO}", "model", c->cs);
		if ((rc = mup_prepare(j, c, e)))
			return rc;
		rc = config_convert_params(c->rs, RULE_CS, c->cs, j->params, j->cfg_path, j->vars, &c->hf, &warn, &told, e);
		note_rules(j, told);
		for (size_t k = 0; !rc && c->keep_mup && k < c->keep_mup->n_drop; k++) {
			json_t *v = config_path_get(c->env_cs, "model"); /* the original, for muP-aware HF code */
			v = json_object_get(v, c->keep_mup->drop[k]);
			if (v)
				json_object_set(c->hf, c->keep_mup->drop[k], v);
		}
		note_unused(j, c->rc ? c->rc->dir : f->model, warn);
	}
	if (rc || !f->n_comp)
		return rc;
	/* model-level rules write hf.<component dir>.<key> */
	if ((rc = config_convert_params(j->rs, RULE_CS, model, j->params, j->cfg_path, j->vars, &top, NULL, NULL, e)))
		return rc;
	for (size_t i = 0; i < j->n; i++) {
		json_t *part = json_object_get(top, j->c[i].rc->dir);
		if (json_is_object(part))
			json_object_update(j->c[i].hf, part);
	}
	json_decref(top);
	return 0;
}

/* rules_sha256: every rule file the model loaded (its own, includes, components' rule sets). */
static int rules_digest(const conv *j, char hex[65])
{
	size_t n = j->rs->n_files, k = 0;
	const char **paths;
	int rc;
	for (size_t i = 0; i < j->n; i++)
		n += j->c[i].rs ? j->c[i].rs->n_files : 0;
	if (!(paths = malloc((n ? n : 1) * sizeof *paths)))
		return -1;
	for (size_t i = 0; i < j->rs->n_files; i++)
		paths[k++] = j->rs->files[i]->path;
	for (size_t i = 0; i < j->n; i++)
		for (size_t f = 0; j->c[i].rs && f < j->c[i].rs->n_files; f++)
			paths[k++] = j->c[i].rs->files[f]->path;
	rc = sha256_files_hex(paths, k, hex);
	free(paths);
	return rc;
}

/* carried: the carried files' checksums (carry.h), recorded when there are any. */
static char *provenance(const conv *j, json_t *carried)
{
	char hex[65] = "";
	json_t *o;
	char *s;
	if (rules_digest(j, hex))
		hex[0] = '\0';
	o = json_pack("{ss ss ss ss ss ss ss}", "tool", "ckconv", "version", CKCONV_VERSION, "rules", j->rules_path,
		"rules_sha256", hex, "source", j->a.src, "source_format", j->src_fmt, "target_format", j->tgt_fmt);
	if (o && json_object_size(carried))
		json_object_set(o, "carried", carried);
	s = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	return s;
}

/* -o, --output-dir or the reference's names and places (outpath.h). */
static int choose_outputs(conv *j, ck_err *e)
{
	outpath op;
	int multi = j->rs->files[0]->n_comp > 0;
	outpath_in in = {.src = j->a.src, .config = j->from == RULE_HF && !multi ? j->cfg_path : NULL, .tgt = j->tgt_fmt,
		.to_hf = j->to == RULE_HF, .multi = j->from == RULE_HF && multi, .out = j->a.out, .out_dir = j->a.out_dir};
	int rc = outpath_choose(&in, &op, e);
	if (rc) { /* outpath_choose may have set some paths before it failed */
		outpath_dispose(&op);
		return rc;
	}
	j->out = op.ckpt;
	j->out_params = op.params;
	j->out_mkdir = op.mkdir;
	return 0;
}

/* OUT.mdl (or .h5), its params OUT.yaml and carried files OUT.hf-files/ (base = OUT minus .mdl). */
static int cs_paths(const char *out, char **mdl, char **yaml, char **files, ck_err *e)
{
	size_t n = strlen(out);
	if (path_ends_with(out, ".mdl") || path_ends_with(out, ".h5"))
		n -= path_ends_with(out, ".mdl") ? 4 : 3;
	*mdl = *yaml = *files = NULL;
	if (asprintf(mdl, "%s%s", out, n == strlen(out) ? ".mdl" : "") < 0 || asprintf(yaml, "%.*s.yaml", (int)n, out) < 0 ||
		!(*files = carry_dir(out))) {
		free(*mdl);
		free(*yaml);
		*mdl = *yaml = *files = NULL;
		return ck_errf(e, CK_ENOMEM, "out of memory");
	}
	return 0;
}

/* The outputs of an HF -> CS run: cs_paths of OUT, the params where outpath put them. */
static int out_cs_paths(const conv *j, char **mdl, char **yaml, char **files, ck_err *e)
{
	int rc = cs_paths(j->out, mdl, yaml, files, e);
	if (!rc && j->out_params) {
		free(*yaml);
		if (!(*yaml = strdup(j->out_params))) {
			free(*mdl);
			free(*files);
			*mdl = *files = NULL;
			return ck_errf(e, CK_ENOMEM, "out of memory");
		}
	}
	return rc;
}

/* 0, or an error when the existing output `out` is an input or a directory holding one. */
static int out_vs_input(const char *out, const char *in, ck_err *e)
{
	char *ro = realpath(out, NULL), *ri = in ? realpath(in, NULL) : NULL;
	size_t n = ro ? strlen(ro) : 0;
	int rc = 0;
	if (ro && ri && !strncmp(ri, ro, n) && (ri[n] == '\0' || ri[n] == '/' || !strcmp(ro, "/")))
		rc = ck_errf(e, CK_EINVALID, "%s: output would replace %s%s; choose another -o (--force does not apply)",
			out, ri[n] ? "the directory holding the input " : "the input ", in);
	free(ro);
	free(ri);
	return rc;
}

/* An HF source is its directory (or file) and --config: nothing beside it is read. */
static int hf_companions(const conv *j, char **params, char **files, ck_err *e)
{
	(void)j, (void)e;
	*params = *files = NULL;
	return 0;
}

/* A packed source is read with its params (SRC.yaml unless --config) and carried files. */
static int cs_companions(const conv *j, char **params, char **files, ck_err *e)
{
	char *mdl = NULL;
	int rc = cs_paths(j->a.src, &mdl, params, files, e);
	free(mdl);
	return rc;
}

/* --force replaces outputs, never the checkpoint or config being read. */
static int check_not_input(const conv *j, const char *out, ck_err *e)
{
	char *params = NULL, *files = NULL;
	int rc;
	if (!cli_exists(out))
		return 0;
	if ((rc = j->w->companions(j, &params, &files, e)))
		return rc;
	rc = out_vs_input(out, j->a.src, e);
	if (!rc)
		rc = out_vs_input(out, j->a.config ? j->a.config : params, e);
	if (!rc) /* a packed source's carried files are an input too */
		rc = out_vs_input(out, files, e);
	free(params);
	free(files);
	return rc;
}

/* Before any work: the outputs are not inputs, and are absent or (--force) replaceable. The
 * transaction checks again when it takes them. An HF output is one directory. */
static int check_out_hf(const conv *j, ck_err *e)
{
	int rc = check_not_input(j, j->out, e);
	return rc ? rc : txn_check(j->out, TXN_MODEL, j->a.force, e);
}

/* A packed output is three: OUT.mdl, OUT.yaml, OUT.hf-files/. */
static int check_out_cs(const conv *j, ck_err *e)
{
	char *mdl, *yaml, *files;
	int rc;
	if ((rc = out_cs_paths(j, &mdl, &yaml, &files, e)))
		return rc;
	if (!(rc = check_not_input(j, mdl, e)) && !(rc = check_not_input(j, yaml, e)) && !(rc = check_not_input(j, files, e)) &&
		!(rc = txn_check(mdl, TXN_FILE, j->a.force, e)) && !(rc = txn_check(yaml, TXN_FILE, j->a.force, e)))
		rc = txn_check(files, TXN_DIR, j->a.force, e);
	free(mdl);
	free(yaml);
	free(files);
	return rc;
}

/* What a model file that lists no `files:` carries: the tokenizer and generation files of an HF
 * model directory, so a round trip gives back a directory transformers loads whole. */
static char *hf_files_default[] = {"tokenizer.json", "tokenizer.model", "tokenizer_config.json",
	"special_tokens_map.json", "added_tokens.json", "generation_config.json", "vocab.json", "vocab.txt", "merges.txt"};

static char **file_patterns(const conv *j, const comp *c, size_t *n)
{
	const rule_file *f = j->rs->files[0];
	if (!c->rc && !f->n_files) {
		*n = sizeof hf_files_default / sizeof *hf_files_default;
		return hf_files_default;
	}
	*n = c->rc ? c->rc->n_files : f->n_files;
	return c->rc ? c->rc->files : f->files;
}

/* Tokenizer and processor files travel next to the packed file: OUT.hf-files/<component>/,
 * their checksums into sums. Symlinks may point anywhere inside the source directory. */
static int carry_to_cs(const conv *j, const char *tmpdir, json_t *sums, ck_err *e)
{
	char *copy = strdup(j->a.src);
	const char *root;
	int rc = 0;
	if (!copy)
		return ck_errf(e, CK_ENOMEM, "out of memory");
	root = path_is_dir(j->a.src) ? j->a.src : dirname(copy);
	for (size_t i = 0; i < j->n && !rc; i++) {
		const comp *c = &j->c[i];
		size_t np;
		char **pat = file_patterns(j, c, &np), *dst = NULL, *rel = NULL, *tmp = NULL;
		if (!np)
			continue;
		if (asprintf(&dst, "%s%s%s", tmpdir, c->rc ? "/" : "", c->rc ? c->rc->dir : "") < 0 ||
			asprintf(&rel, "%s%s", c->rc ? c->rc->dir : "", c->rc ? "/" : "") < 0 || !(tmp = strdup(c->dir))) {
			rc = ck_errf(e, CK_ENOMEM, "out of memory");
		} else { /* a file source (x.safetensors, *.index.json): its directory holds the tokenizer */
			rc = carry_copy(path_is_dir(c->dir) ? c->dir : dirname(tmp), root, pat, np, dst, rel, sums, NULL, e);
		}
		free(dst);
		free(rel);
		free(tmp);
	}
	free(copy);
	return rc;
}

/* For the progress line: the first target of the group run once `done` targets are written. */
static const char *next_target(const void *ctx, size_t done)
{
	const plan *p = ctx;
	size_t k = 0;
	for (size_t i = 0; i < p->n_groups; i++) {
		if (k >= done && p->g[i].n_out)
			return p->out[p->g[i].out[0]].name;
		k += p->g[i].n_out;
	}
	return NULL;
}

/* Execute a plan into a sink with the progress display the options ask for: the whole plan,
 * or this rank's share of it (mine: per target, share.h). */
static int run_plan(const conv *j, const plan *whole, const unsigned char *mine, ck_tsink *sink, const char *label,
	ck_err *e)
{
	progress pg;
	plan view;
	const plan *p = whole;
	uint64_t total = 0;
	size_t n = 0;
	if (mine && share_view(whole, mine, &view, e))
		return CK_ENOMEM;
	if (mine)
		p = &view;
	for (size_t i = 0; i < p->n_out; i++)
		if (!mine || mine[i])
			total += p->out[i].nbytes, n++;
	progress_begin(&pg, label, total, j->a.quiet || j->a.no_progress, next_target, p);
	int rc = exec_run(p, sink, progress_step, &pg, e);
	if (!rc)
		progress_end(&pg, n, total);
	else
		progress_abort(&pg);
	if (mine)
		share_view_dispose(&view);
	return rc;
}

/* The packed file's sink: the plan's tensors, and for a wrap with `copy` each one's copy too
 * (under MPI written by the rank that writes the original: ho->mine extended to the copies). */
static int open_cs_sink(conv *j, const char *path, h5ck_opts *ho, ck_tsink **sink, ck_err *e)
{
	const rule_wrap *w = j->rs->files[0]->wrap;
	const unsigned char *mine = ho->mine;
	unsigned char *all = NULL;
	ck_tsink *real = NULL;
	int rc;
	if (!w || !w->copy)
		return h5ck_sink_open(path, "model", j->p.out, j->p.n_out, ho, sink, e);
	if ((rc = mirror_map_make(j->p.out, j->p.n_out, w->cs_prefix, w->copy, &j->copies, e)))
		return rc;
	if (mine && !(all = ck_malloc(e, j->copies.n_all ? j->copies.n_all : 1)))
		return CK_ENOMEM;
	for (size_t i = 0; mine && i < j->copies.n; i++) {
		all[i] = mine[i];
		if (j->copies.copy[i] != SIZE_MAX)
			all[j->copies.copy[i]] = mine[i];
	}
	ho->mine = all ? all : mine;
	rc = h5ck_sink_open(path, "model", j->copies.t, j->copies.n_all, ho, &real, e);
	ho->mine = mine; /* the sink keeps its own copy */
	free(all);
	if (rc)
		return rc;
	if ((rc = mirror_sink_open(real, &j->copies, sink, e)))
		ck_tsink_abort(real);
	return rc;
}

/* The bytes and tensors of this rank's share, reported by rank 0 (collective: every rank has
 * finished writing once it returns). */
static int report_share(const conv *j, size_t n, plan *const *plans, unsigned char *const *mine, ck_err *e)
{
	uint64_t bytes = 0;
	size_t count = 0;
	for (size_t i = 0; i < n; i++)
		for (size_t t = 0; t < plans[i]->n_out; t++)
			if (mine[i][t])
				bytes += plans[i]->out[t].nbytes, count++;
	return share_report(bytes, count, j->a.quiet ? NULL : stderr, e);
}

/* HF -> CS, the outputs beside the packed file: declared (the packed file last: what names
 * the checkpoint is the last to appear), carried files and params written; *mtmp gets the
 * packed file's temporary, *prov its provenance. */
static int cs_companions_write(conv *j, txn *tx, const char *mdl, const char *yaml, const char *files, char **mtmp,
	char **prov, int *any, ck_err *e)
{
	const char *ftmp, *ytmp, *mt;
	char *text = NULL;
	json_t *sums = json_object();
	int rc;
	/* an OUT.hf-files left empty is no output: the transaction removes an older one (--force) */
	if ((rc = txn_add(tx, files, TXN_DIR, &ftmp, e)) || (rc = txn_add(tx, yaml, TXN_FILE, &ytmp, e)) ||
		(rc = txn_add(tx, mdl, TXN_FILE, &mt, e)))
		goto done;
	if (!sums || !(text = valio_yaml_dumps(j->params)) || !(*mtmp = strdup(mt))) {
		rc = ck_errf(e, CK_ENOMEM, "out of memory");
		goto done;
	}
	if ((rc = carry_to_cs(j, ftmp, sums, e)) || (rc = txn_write_file(ytmp, text, strlen(text), e)))
		goto done;
	*any = json_object_size(sums) > 0;
	if (!(*prov = provenance(j, sums)))
		rc = ck_errf(e, CK_ENOMEM, "out of memory");
done:
	json_decref(sums);
	free(text);
	return rc;
}

/* HF -> CS: carried files, params and the packed file. Under MPI (par.h) rank 0 holds the
 * transaction (tx NULL elsewhere) and every rank writes its share of the one packed file. */
static int write_cs(conv *j, txn *tx, ck_err *e)
{
	char *mdl = NULL, *yaml = NULL, *files = NULL, *prov = NULL, *mtmp = NULL;
	unsigned char *mine = NULL;
	uint64_t bytes = 0;
	ck_tsink *sink = NULL;
	h5ck_opts ho = {0};
	int rc, any = 0;
	if ((rc = out_cs_paths(j, &mdl, &yaml, &files, e)) ||
		(tx && (rc = cs_companions_write(j, tx, mdl, yaml, files, &mtmp, &prov, &any, e))) ||
		(rc = share_bcast_str(&mtmp, e)) || (rc = share_bcast_str(&prov, e)))
		goto done;
	if (par_size() > 1 && (!(mine = ck_malloc(e, j->p.n_out ? j->p.n_out : 1)) ||
		(rc = share_groups(&j->p, mine, &bytes, e)))) {
		rc = rc ? rc : CK_ENOMEM;
		goto done;
	}
	ho.compress_lz4 = j->a.lz4;
	ho.provenance_json = prov;
	ho.in_place = 1;
	ho.mine = mine;
	if ((rc = open_cs_sink(j, mtmp, &ho, &sink, e)))
		goto done;
	if ((rc = run_plan(j, &j->p, mine, sink, "packed", e))) {
		ck_tsink_abort(sink);
		goto done;
	}
	if ((rc = ck_tsink_commit(sink, e)) || (mine && (rc = report_share(j, 1, j->plans, &mine, e))) ||
		(tx && (rc = txn_commit(tx, e))))
		goto done;
	if (!j->a.quiet) /* the reference's lines, on stdout as there */
		printf("Checkpoint saved to %s\nConfig saved to %s\n%s%s%s", mdl, yaml, any ? "Files saved to " : "",
			any ? files : "", any ? "\n" : "");
done:
	free(mine);
	free(mdl);
	free(yaml);
	free(files);
	free(prov);
	free(mtmp);
	return rc;
}

/* A sink that writes nothing: it compares each tensor with the one of the same name in a
 * reference checkpoint (`ckconv verify --against`). */
typedef struct cmp_sink {
	ck_tsink base;
	const ck_tinfo *t;
	ck_tsrc *ref;
	strmap names;
	size_t same, differ;
	const char *label;
	FILE *report;
} cmp_sink;

static int cmp_write(ck_tsink *b, size_t i, const void *buf, ck_err *e)
{
	cmp_sink *k = (cmp_sink *)b;
	const ck_tinfo *t = &k->t[i];
	size_t r;
	char s1[96], s2[96];
	if (!strmap_get(&k->names, t->name, &r)) { /* e.g. a buffer the rules rebuild on the way back */
		fprintf(k->report, "%s%s: created on the way back; %s has no such tensor\n", k->label, t->name, k->ref->path);
		return 0;
	}
	const ck_tinfo *x = &k->ref->t[r];
	if (x->dtype != t->dtype || !ck_shape_eq(&x->shape, &t->shape)) {
		fprintf(k->report, "%s%s: converted back as %s %s, the reference has %s %s\n", k->label, t->name, ck_dtype_short_name(t->dtype),
			ck_shape_str(&t->shape, s1, sizeof s1), ck_dtype_short_name(x->dtype), ck_shape_str(&x->shape, s2, sizeof s2));
		k->differ++;
		return 0;
	}
	void *mine = ck_malloc(e, x->nbytes);
	int rc = mine ? ck_tsrc_read(k->ref, r, mine, e) : CK_ENOMEM;
	if (!rc) {
		int same = !memcmp(mine, buf, x->nbytes);
		k->same += same;
		k->differ += !same;
		if (!same)
			fprintf(k->report, "%s%s: bytes differ from the reference\n", k->label, t->name);
	}
	free(mine);
	return rc;
}

static int cmp_commit(ck_tsink *b, ck_err *e)
{
	(void)b, (void)e;
	return 0;
}

static void cmp_abort(ck_tsink *b)
{
	(void)b;
}

static const ck_tsink_ops cmp_ops = {cmp_write, cmp_commit, cmp_abort, NULL, NULL};

static int compare_hf(conv *j, ck_err *e)
{
	size_t same = 0, differ = 0;
	int rc = 0;
	for (size_t i = 0; i < j->n && !rc; i++) {
		comp *c = &j->c[i];
		cmp_sink k = {{&cmp_ops, 0}, c->p.out, NULL, {0}, 0, 0, "", j->report};
		char *dir = NULL, label[256] = "";
		if (asprintf(&dir, "%s%s%s", j->against, c->rc ? "/" : "", c->rc ? c->rc->dir : "") < 0)
			return ck_errf(e, CK_ENOMEM, "out of memory");
		if (c->rc)
			snprintf(label, sizeof label, "%s: ", c->rc->dir);
		k.label = label;
		strmap_init(&k.names);
		if (!(rc = cli_open_source(dir, &k.ref, e))) {
			for (size_t r = 0; r < k.ref->n; r++)
				strmap_put(&k.names, k.ref->t[r].name, r);
			rc = exec_run(&c->p, &k.base, NULL, NULL, e);
			for (size_t r = 0; !rc && r < k.ref->n; r++) { /* HF-only buffers the CS side does not carry */
				int made = 0;
				for (size_t o = 0; o < c->p.n_out && !made; o++)
					made = !strcmp(c->p.out[o].name, k.ref->t[r].name);
				if (!made)
					fprintf(j->report, "%s%s: only in the reference (not carried by the packed checkpoint)\n", label, k.ref->t[r].name);
			}
		}
		same += k.same;
		differ += k.differ;
		ck_tsrc_free(k.ref);
		strmap_dispose(&k.names);
		free(dir);
	}
	if (rc)
		return rc;
	if (differ || !same)
		return ck_errf(e, CK_ECORRUPT, "%zu of %zu tensors do not convert back to the reference", differ ? differ : same + differ,
			same + differ);
	fprintf(j->report, "lossless: all %zu tensors convert back to %s bit for bit\n", same, j->against);
	return 0;
}

/* One component's directory inside the temporary output: weights, config.json, files. */
/* carried: this component's SRC.hf-files[/component]; root: SRC.hf-files; got gets the
 * checksums of what was copied, for carry_check. Under MPI each rank writes the shards it owns
 * (shard[s], its targets mine[t]; NULL: all) and the lead rank everything else. */
static int write_hf_comp(conv *j, comp *c, const char *dir, const char *carried, const char *root, json_t *got,
	const unsigned char *mine, const unsigned char *shard, int lead, ck_err *e)
{
	ck_tsink *sink = NULL;
	char *cfgp = NULL, *text = NULL;
	int rc;
	if ((rc = st_sink_open_part(dir, c->p.out, c->p.n_out, j->a.shard_size, shard, lead, &sink, e)))
		return rc;
	if ((rc = run_plan(j, &c->p, mine, sink, c->rc ? c->rc->dir : "hf", e))) {
		ck_tsink_abort(sink);
		return rc;
	}
	if ((rc = ck_tsink_commit(sink, e)) || !lead)
		return rc;
	if (!(text = valio_json_dumps(c->hf)) || asprintf(&cfgp, "%s/config.json", dir) < 0) {
		free(text);
		return ck_errf(e, CK_ENOMEM, "out of memory");
	}
	rc = valio_write_file(cfgp, text, e);
	free(text);
	free(cfgp);
	text = NULL;
	if (!rc && path_is_dir(carried)) { /* the originals first: they win over generated files */
		size_t np;
		char **pat = file_patterns(j, c, &np), *rel = NULL;
		json_t *skipped = json_array();
		if (!skipped || asprintf(&rel, "%s%s", c->rc ? c->rc->dir : "", c->rc ? "/" : "") < 0)
			rel = NULL, rc = ck_errf(e, CK_ENOMEM, "out of memory");
		else
			rc = carry_copy(carried, root, pat, np, dir, rel, got, skipped, e);
		for (size_t k = 0; !rc && !j->a.quiet && k < json_array_size(skipped); k++) {
			const char *name = json_string_value(json_array_get(skipped, k));
			struct stat st;
			char *p = NULL;
			if (asprintf(&p, "%s/%s", carried, name) >= 0 && lstat(p, &st) == 0 && !S_ISDIR(st.st_mode))
				fprintf(stderr, "ckconv: note: %s: not carried (no rule lists it)\n", p);
			free(p);
		}
		json_decref(skipped);
		free(rel);
	}
	for (size_t i = 0; !rc && c->rc && i < c->rc->n_make; i++) {
		config_env env = {.hf = c->hf, .cs = c->env_cs, .scope = c->rs->files[0], .vars = j->vars};
		json_t *v = NULL;
		char *p = NULL;
		if ((rc = config_eval(&env, c->rc->make[i], &v, e)))
			break;
		if (v && (text = valio_json_dumps(v)) && asprintf(&p, "%s/%s", dir, c->rc->make_name[i]) >= 0 &&
			!cli_exists(p))
			rc = valio_write_file(p, text, e);
		free(p);
		free(text);
		text = NULL;
		json_decref(v);
	}
	return rc;
}

/* The lead rank's HF output: the temporary directory (*tmp) and its component directories. */
static int hf_dirs(conv *j, txn *tx, char **tmp, ck_err *e)
{
	const char *t;
	int rc = txn_add(tx, j->out, TXN_MODEL, &t, e);
	if (!rc && !(*tmp = strdup(t)))
		rc = ck_errf(e, CK_ENOMEM, "out of memory");
	for (size_t i = 0; i < j->n && !rc; i++) {
		char *d = NULL;
		if (!j->c[i].rc)
			continue;
		if (asprintf(&d, "%s/%s", *tmp, j->c[i].rc->dir) < 0)
			return ck_errf(e, CK_ENOMEM, "out of memory");
		if (mkdir(d, 0777))
			rc = ck_errf(e, CK_EIO, "%s: %s", d, strerror(errno));
		free(d);
	}
	return rc;
}

/* CS -> HF, every component's directory. Under MPI (par.h) rank 0 holds the transaction (tx
 * NULL elsewhere) and the configs and carried files; every rank writes the shards it owns. */
static int write_hf(conv *j, txn *tx, ck_err *e)
{
	char *files = NULL, *mdl = NULL, *yaml = NULL, *tmp = NULL;
	unsigned char **mine = NULL, **shard = NULL;
	json_t *got = json_object(), *want = carry_record(h5ck_provenance(j->mdl));
	int rc;
	if ((tx && (rc = hf_dirs(j, tx, &tmp, e))) || (rc = share_bcast_str(&tmp, e)) ||
		(rc = cs_paths(j->a.src, &mdl, &yaml, &files, e)))
		goto done;
	if (!got || (par_size() > 1 && (!(mine = calloc(j->n, sizeof *mine)) || !(shard = calloc(j->n, sizeof *shard))))) {
		rc = ck_errf(e, CK_ENOMEM, "out of memory");
		goto done;
	}
	if (mine && (rc = share_shards(j->plans, j->n, j->a.shard_size, mine, shard, e)))
		goto done;
	for (size_t i = 0; i < j->n && !rc; i++) {
		comp *c = &j->c[i];
		char *d = NULL, *carried = NULL;
		if (asprintf(&d, "%s%s%s", tmp, c->rc ? "/" : "", c->rc ? c->rc->dir : "") < 0 ||
			asprintf(&carried, "%s%s%s", files, c->rc ? "/" : "", c->rc ? c->rc->dir : "") < 0) {
			free(d);
			rc = ck_errf(e, CK_ENOMEM, "out of memory");
			break;
		}
		rc = write_hf_comp(j, c, d, carried, files, got, mine ? mine[i] : NULL, shard ? shard[i] : NULL, tx != NULL, e);
		free(d);
		free(carried);
	}
	if (!rc && mine)
		rc = report_share(j, j->n, j->plans, mine, e);
	if (!rc && tx && !(rc = carry_check(got, want, files, e)))
		rc = txn_commit(tx, e);
	if (!rc && !j->a.quiet) { /* the reference's lines, on stdout as there */
		printf("Checkpoint saved to %s\n", j->out);
		for (size_t i = 0; i < j->n; i++)
			printf("Config saved to %s/%s%sconfig.json\n", j->out, j->c[i].rc ? j->c[i].rc->dir : "", j->c[i].rc ? "/" : "");
	}
done:
	for (size_t i = 0; mine && i < j->n; i++)
		free(mine[i]);
	for (size_t i = 0; shard && i < j->n; i++)
		free(shard[i]);
	free(mine);
	free(shard);
	json_decref(got);
	json_decref(want);
	free(files);
	free(mdl);
	free(yaml);
	free(tmp);
	return rc;
}

/* HF -> CS: every component into the one plan (one packed file). */
static int plan_to_cs(conv *j, plan_opts *po, ck_err *e)
{
	int rc = plan_init(&j->p, e);
	if (rc)
		return rc;
	j->have_plan = 1;
	if (!(j->plans = ck_calloc(e, 1, sizeof *j->plans)))
		return CK_ENOMEM;
	j->plans[j->n_plans++] = &j->p;
	for (size_t i = 0; i < j->n; i++) {
		comp *c = &j->c[i];
		if ((rc = shard_refuse_member(c->dir, e)) || (rc = cli_open_source(c->dir, &c->src, e)))
			return rc;
		j->n_src += c->src->n;
		rc = plan_add(&j->p, c->prog, c->src, "", "", c->hf, c->env_cs, po, e);
		if (rc && e->code)
			return rc;
		if (!rc && (rc = layers_check(c->prog, c->src, "", c->hf, c->env_cs, c->dir, e)))
			return rc;
	}
	print_problems(&j->p);
	return plan_check(&j->p, e); /* the problems, or the generators' bound */
}

/* CS -> HF: each component takes the keys its rules claim; a key nobody claims is an error. */
/* Sideband sparsity keeps pruned weights as NaN; the HF model is dense: every floating source
 * tensor gets NaN -> 0 before its actions, as the reference's post_model_convert does. */
static void finalize_sparsity(conv *j, plan *p)
{
	size_t n = 0;
	for (size_t g = 0; g < p->n_groups; g++)
		for (size_t i = 0; i < p->g[g].n_in; i++) {
			plan_in *in = &p->g[g].in[i];
			ck_dtype dt = in->src ? in->src->t[in->idx].dtype : CK_DT_U8;
			if (!in->src || !(dt == CK_DT_F32 || dt == CK_DT_F64 || dt == CK_DT_F16 || dt == CK_DT_BF16))
				continue;
			if (in->n_ops < PLAN_MAX_OPS) /* muP folds take at most 3: there is always room */
				in->ops[in->n_ops++] = (plan_op){.nan0 = 1};
			n++;
		}
	text_printf(&j->notes, "ckconv: note: params sparsity type sideband: NaN (pruned) weights are written as 0 in "
		"%zu tensor%s, as the reference does; the HF model is dense\n", n, n == 1 ? "" : "s");
}

static int plan_to_hf(conv *j, plan_opts *po, ck_err *e)
{
	unsigned char *claimed = NULL;
	size_t problems = 0, unclaimed = 0;
	int rc;
	if ((rc = path_ends_with(j->a.src, ".mdl") || path_ends_with(j->a.src, ".h5") ? h5ck_open(j->a.src, &j->mdl, e)
										 : cli_open_source(j->a.src, &j->mdl, e)))
		return rc;
	j->n_src = j->mdl->n;
	if (!(claimed = ck_calloc(e, j->mdl->n, 1)) || !(j->plans = ck_calloc(e, j->n, sizeof *j->plans))) {
		free(claimed);
		return CK_ENOMEM;
	}
	const rule_wrap *w = j->rs->files[0]->wrap;
	int check_claims = j->n > 1 || (w && w->copy);
	po->claimed = check_claims ? claimed : NULL;
	for (size_t k = 0; w && w->copy && k < j->mdl->n; k++) /* the wrap's copy: dropped on the way back */
		claimed[k] = !strncmp(j->mdl->t[k].name, "model.", 6) && !strncmp(j->mdl->t[k].name + 6, w->copy, strlen(w->copy));
	for (size_t i = 0; i < j->n; i++) {
		comp *c = &j->c[i];
		if ((rc = plan_init(&c->p, e)))
			goto done;
		c->have_plan = 1;
		j->plans[j->n_plans++] = &c->p;
		po->mup = c->mup_prog;
		rc = plan_add(&c->p, c->prog, j->mdl, "model.", "", c->hf, c->env_cs, po, e);
		if (rc && e->code)
			goto done;
		if (!rc && (rc = layers_check(c->prog, j->mdl, "model.", c->hf, c->env_cs, j->a.src, e)))
			goto done;
		if (!rc && j->sideband)
			finalize_sparsity(j, &c->p);
		print_problems(&c->p);
		problems += c->p.n_problems;
	}
	for (size_t k = 0; check_claims && k < j->mdl->n; k++) {
		const char *name = j->mdl->t[k].name;
		if (claimed[k] || strncmp(name, "model.", 6))
			continue;
		unclaimed++;
		if (!po->drop_unmatched)
			fprintf(stderr, "ckconv: error: %s: no rule of any component matches this key (--drop-unmatched-keys drops such keys)\n", name);
		else
			fprintf(stderr, "ckconv: warning: %s: no rule matches; dropped (--drop-unmatched-keys)\n", name);
	}
	if (po->drop_unmatched)
		unclaimed = 0;
	rc = 0;
	if (problems + unclaimed == 1 && problems)
		rc = ck_errf(e, CK_EINVALID, "%s; nothing was written", j->c[0].p.n_problems ? j->c[0].p.problems[0] :
			j->c[j->n - 1].p.problems[0]);
	else if (problems + unclaimed)
		rc = ck_errf(e, CK_EINVALID, "%zu problems (listed above); nothing was written", problems + unclaimed);
	for (size_t i = 0; i < j->n && !rc; i++)
		rc = plan_check(&j->c[i].p, e); /* no problems left: the generators' bound */
done:
	free(claimed);
	return rc;
}

/* {"out": {component dir: final output path}} so rules can point one component at another. */
static int set_vars(conv *j, ck_err *e)
{
	json_t *paths = json_object();
	char *abs = NULL;
	if (!paths)
		return ck_errf(e, CK_ENOMEM, "out of memory");
	for (size_t i = 0; i < j->n; i++) {
		const char *d = j->c[i].rc ? j->c[i].rc->dir : "";
		if (asprintf(&abs, "%s%s%s", j->out, *d ? "/" : "", d) >= 0)
			json_object_set_new(paths, *d ? d : "model", json_string(abs));
		free(abs);
		abs = NULL;
	}
	unsigned maj = 0, min = 0;
	sscanf(j->fmt[RULE_CS], "cs-%u.%u", &maj, &min);
	j->vars = json_pack("{so si si}", "out", paths, "cs_major", (int)maj, "cs_minor", (int)min);
	return 0;
}

/* One writer per output base name: an HF output is its directory OUT ... */
static int begin_hf(const conv *j, txn **tx, ck_err *e)
{
	return txn_begin(j->out, j->a.force, j->a.quiet ? NULL : stderr, tx, e);
}

/* ... a packed one OUT less .mdl/.h5 (OUT.mdl, OUT.yaml, OUT.hf-files). */
static int begin_cs(const conv *j, txn **tx, ck_err *e)
{
	char *mdl = NULL, *yaml = NULL, *files = NULL;
	int rc;
	if ((rc = cs_paths(j->out, &mdl, &yaml, &files, e)))
		return rc;
	yaml[strlen(yaml) - 5] = '\0'; /* OUT.yaml -> OUT */
	rc = txn_begin(yaml, j->a.force, j->a.quiet ? NULL : stderr, tx, e);
	free(mdl);
	free(yaml);
	free(files);
	return rc;
}

/* The source's config: an HF model's config.json (none for a multi-component directory) ... */
static int read_hf_config(conv *j, ck_err *e)
{
	return single_hf_config(j, &j->hf_single, e);
}

/* ... a packed checkpoint's params. */
static int read_cs_config(conv *j, ck_err *e)
{
	return load_cs_params(j, e);
}

static int configs_to_cs(conv *j, ck_err *e)
{
	if (!j->hf_single && !j->rs->files[0]->n_comp)
		return ck_errf(e, CK_ENOTFOUND, "%s/config.json: not found (pass --config)", j->a.src);
	return convert_configs_to_cs(j, j->hf_single, e);
}

/* The --dry-run listing's configs: the params to be written ... */
static void print_params(const conv *j, FILE *f)
{
	char *text = valio_yaml_dumps(j->params);
	if (text)
		fprintf(f, "--- params (yaml)\n%s", text);
	free(text);
}

/* ... or each component's config.json. */
static void print_hf_configs(const conv *j, FILE *f)
{
	for (size_t i = 0; i < j->n; i++) {
		char *text = valio_json_dumps(j->c[i].hf);
		fprintf(f, "--- %s%sconfig.json\n%s", j->c[i].rc ? j->c[i].rc->dir : "", j->c[i].rc ? "/" : "", text ? text : "");
		free(text);
	}
}

const char *conv_target_format(const conv *j)
{
	return j->tgt_fmt;
}

char *conv_config_text(const conv *j, ck_err *e)
{
	return j->w->config_text(j, e);
}

static char *dumped(char *text, ck_err *e)
{
	if (!text)
		ck_errf(e, CK_ENOMEM, "out of memory");
	return text;
}

static char *params_text(const conv *j, ck_err *e)
{
	return dumped(valio_yaml_dumps(j->params), e);
}

/* One config.json: a multi-component model has one per component. */
static char *hf_config_text(const conv *j, ck_err *e)
{
	if (j->n > 1) {
		ck_errf(e, CK_EINVALID, "%s: model %s has %zu components, each with its config.json: convert the checkpoint "
			"to get them", j->a.src, j->rs->files[0]->model, j->n);
		return NULL;
	}
	return dumped(valio_json_dumps(j->c[0].hf), e);
}

static int no_compare(conv *j, ck_err *e)
{
	return ck_errf(e, CK_EINVALID, "%s: comparing needs a packed source", j->a.src);
}


static const way ways[2] = {
	[RULE_HF] = {0, read_hf_config, hf_companions, configs_to_cs, plan_to_cs, check_out_cs, begin_cs, write_cs,
		print_params, params_text, no_compare},
	[RULE_CS] = {1, read_cs_config, cs_companions, convert_configs_to_hf, plan_to_hf, check_out_hf, begin_hf,
		write_hf, print_hf_configs, hf_config_text, compare_hf},
};

/* The compile stage: each component's rules for this direction and its converted config (and
 * its muP folding), parameters evaluated once. */
static int compile_comps(conv *j, ck_err *e)
{
	int rc = 0;
	for (size_t i = 0; i < j->n && !rc; i++) {
		comp *c = &j->c[i];
		prog_cfg keys = {c->hf, c->env_cs, NULL}, mup = {c->hf, c->env_cs, j->vars};
		rc = prog_compile(c->rs, j->from, &keys, &c->prog, e);
		if (!rc && c->mup)
			rc = prog_compile_mup(c->mup, &mup, &c->mup_prog, e);
	}
	return rc;
}

int conv_open(const conv_opts *o, conv **out, ck_err *e)
{
	conv *j = ck_calloc(e, 1, sizeof *j);
	int rc;
	if (!(*out = j))
		return CK_ENOMEM;
	j->a = *o;
	j->a.quiet |= par_rank() != 0; /* rank 0 speaks for the run; errors are printed by every rank */
	if ((rc = pick_direction(j, e)))
		return rc;
	j->w = &ways[j->from];
	if (j->a.lz4 && par_size() > 1) /* before any work: h5ck.c refuses it too */
		return ck_errf(e, CK_EINVALID, "--compress lz4 is serial only: parallel HDF5 writes compressed datasets only "
			"collectively; run bin/ckconv, or ckconv-mpi on one rank");
	if ((rc = j->w->read_config(j, e)) || (rc = load_rules(j, e)) || (rc = setup_comps(j, e)))
		return rc;
	if ((rc = choose_outputs(j, e)))
		return rc;
	if (set_vars(j, e))
		return ck_errf(e, CK_ENOMEM, "out of memory");
	if ((rc = j->w->configs(j, e)))
		return rc;
	return compile_comps(j, e);
}

int conv_check_outputs(const conv *c, ck_err *e)
{
	return c->w->check_out(c, e);
}

int conv_plan(conv *j, ck_err *e)
{
	plan_opts po = {0};
	int rc;
	po.drop_unmatched = j->a.drop_unmatched;
	po.debug = j->a.debug ? stdout : NULL;
	po.vars = j->vars;
	if ((rc = j->w->plan(j, &po, e)))
		return rc;
	if (j->a.cast) {
		static const char *const torch[] = {[CK_DT_F16] = "float16", [CK_DT_BF16] = "bfloat16",
			[CK_DT_F32] = "float32", [CK_DT_F64] = "float64"};
		for (size_t i = 0; i < j->n_plans; i++)
			plan_set_dtype(j->plans[i], j->a.dtype);
		/* an HF config written (CS -> HF) records the dtype; one read (HF -> CS) is not written */
		for (size_t i = 0; i < j->n; i++)
			json_object_set_new(j->c[i].hf, "torch_dtype", json_string(torch[j->a.dtype]));
	}
	print_notes(j);
	return 0;
}

void conv_print_plan(const conv *j, FILE *f)
{
	uint64_t peak = 0, one = 0; /* over the components, each converted on its own */
	int overlap = 0, o;
	for (size_t i = 0; i < j->n_plans; i++) {
		const plan *p = j->plans[i];
		uint64_t b = exec_peak_bytes(p, j->w->sink_concurrent, &o), g = plan_peak_bytes(p);
		plan_print(p, f);
		peak = b > peak ? b : peak;
		one = g > one ? g : one;
		overlap |= o;
	}
	fprintf(f, "peak buffer: %.1f MiB of tensor memory (largest group %.1f MiB; %s)\n", (double)peak / (1 << 20),
		(double)one / (1 << 20), !overlap ? "no I/O overlap for these formats"
				       : peak > one ? "two tensors while the I/O thread overlaps"
						    : "the I/O overlap fits within it");
	j->w->print_configs(j, f);
}

void conv_print_summary(const conv *j, FILE *f)
{
	const rule_wrap *w = j->rs->files[0]->wrap;
	size_t nout = 0, copies = 0;
	char extra[200] = "";
	if (par_rank() != 0) /* one line per run, not per rank */
		return;
	for (size_t i = 0; i < j->n_plans; i++)
		nout += j->plans[i]->n_out;
	for (size_t i = 0; w && w->copy && j->to == RULE_CS && i < j->p.n_out; i++)
		copies += !strncmp(j->p.out[i].name, w->cs_prefix, strlen(w->cs_prefix));
	if (copies)
		snprintf(extra, sizeof extra, " + %zu copies as %s*", copies, w->copy);
	fprintf(f, "ckconv: %s %s -> %s: %zu source tensors -> %zu target tensors%s (rules %s)\n",
		j->rs->files[0]->model, j->src_fmt, j->tgt_fmt, j->n_src, nout, extra, j->rules_path);
}

int conv_write(conv *j, ck_err *e)
{
	txn *tx = NULL;
	int rc = 0;
	if (par_rank() == 0) { /* one transaction (lock, temporaries) per run: the other ranks write into its temporaries */
		rc = j->out_mkdir ? outpath_make_dir(j->out_mkdir, e) : 0;
		if (!rc)
			rc = j->w->begin(j, &tx, e);
	}
	if (!rc)
		rc = j->w->write(j, tx, e);
	txn_free(tx);
	return rc;
}

int conv_compare(conv *j, const char *against, FILE *report, ck_err *e)
{
	j->against = against;
	j->report = report;
	return j->w->compare(j, e);
}

const char *conv_model(const conv *j)
{
	return j->rs->files[0]->model;
}

int conv_mup_state(const conv *j)
{
	int state = 0;
	for (size_t i = 0; i < j->n; i++) {
		const rule_mup *m = j->c[i].mup ? j->c[i].mup : j->c[i].keep_mup;
		if (m && (!state || !m->n_tensors))
			state = m->n_tensors ? 1 : 2;
	}
	return state;
}

void conv_free(conv *j)
{
	if (!j)
		return;
	conv_dispose(j);
	free(j);
}
