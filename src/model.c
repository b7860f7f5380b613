/* model.c - a model's rules loaded once (model.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "config.h"
#include "expr.h"
#include "model.h"
#include "path.h"

/* A directory without config.json may hold a multi-component model: the first model whose
 * component directories all exist there. */
static int comps_pred(const rule_file *f, const void *arg)
{
	int all = f->n_comp > 0;
	for (size_t k = 0; k < f->n_comp && all; k++) {
		char *p = path_join(arg, f->comp[k].dir);
		all = p && path_is_dir(p);
		free(p);
	}
	return all;
}

static int detect_components(const char *rules_dir, const char *src, char **out_path, ck_err *e)
{
	int rc = rule_first_model(rules_dir, comps_pred, src, out_path, e);
	if (rc != CK_ENOTFOUND)
		return rc;
	return ck_errf(e, CK_ENOTFOUND, "%s: no config.json, and no model's component directories are all "
				   "there; pass --model (see 'ckconv list')", src);
}

static int find_path(const model_query *q, char **path, ck_err *e)
{
	if (q->path)
		return (*path = strdup(q->path)) ? 0 : ck_errf(e, CK_ENOMEM, "out of memory");
	if (q->name)
		return rule_find_model(q->rules_dir, q->name, path, e);
	if (!q->hf && !q->cs && q->hf_dir)
		return detect_components(q->rules_dir, q->hf_dir, path, e);
	return rule_detect_model(q->rules_dir, q->hf, q->cs, q->where, path, e);
}

/* The CS format: the one asked for if the model has it, else its newest. */
static int pick_format(model *m, const char *want, ck_err *e)
{
	const rule_file *f = model_file(m);
	if (!want) {
		m->cs_fmt = f->n_fmt ? f->fmt[f->n_fmt - 1] : NULL;
		return 0;
	}
	if (!rule_has_format(f, want)) {
		char list[512] = "";
		for (size_t i = 0; i < f->n_fmt; i++)
			snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? ", " : "", f->fmt[i]);
		return ck_errf(e, CK_EINVALID, "model %s does not support format %s (supported: hf, %s)", f->model, want, list);
	}
	m->cs_fmt = want;
	return 0;
}

/* The model a params file names: a model name or alias (--model's), else a CS name, as params
 * saying `name: NAME` are detected (ModelZoo's names: DPO's policy_model may say gpt3, which gpt2's
 * rules convert). Not found: the model-name error, which lists the known models. */
static int find_by_either(const model_query *q, const char *name, char **path, ck_err *e)
{
	int rc = rule_find_model(q->rules_dir, name, path, e);
	if (rc != CK_ENOTFOUND)
		return rc;
	json_t *cs = json_pack("{s{ss}}", "model", "name", name);
	ck_err quiet = {0};
	if (!cs)
		return ck_errf_reset(e, CK_ENOMEM, "out of memory");
	if (!rule_detect_model(q->rules_dir, NULL, cs, q->where, path, &quiet)) {
		ck_err_clear(e);
		rc = 0;
	}
	json_decref(cs);
	return rc;
}

/* The wrapped model's rule file: HF config.json -> detected as without --model; CS params ->
 * named by wrap.cs_model, which may read the wrapper's `let` names (how its params lay out the
 * model inside). */
static int wrapped_path(const model_query *q, const rule_file *f, char **path, ck_err *e)
{
	const rule_wrap *w = f->wrap;
	const char *where = q->where ? q->where : "params";
	config_env env = {.cs = (json_t *)q->cs, .scope = f};
	json_t *v = NULL;
	int rc;
	if (q->hf)
		return rule_detect_model(q->rules_dir, q->hf, NULL, q->where, path, e);
	if ((rc = config_eval(&env, w->cs_model, &v, e)))
		return ck_err_prefix(e, rc, where);
	if (json_is_string(v) && (rc = find_by_either(q, json_string_value(v), path, e)))
		rc = ck_err_prefix(e, rc, where);
	else if (!json_is_string(v))
		rc = ck_errf(e, CK_EINVALID, "%s: %s must name the model inside, found %s (%s:%d:%d)", where,
			expr_src(w->cs_model), v ? "a non-string" : "nothing", w->pos.file, w->pos.line, w->pos.col);
	json_decref(v);
	return rc;
}

/* A wrapper's model inside: one of its list, single-component, supporting the wrapper's
 * release; loaded under the wrapper's CS prefix. */
static int open_wrapped(model *m, const model_query *q, ck_err *e)
{
	const rule_file *f = model_file(m), *in;
	const rule_wrap *w = f->wrap;
	char *path = NULL, rel[32];
	size_t i;
	int rc = wrapped_path(q, f, &path, e);
	if (!rc)
		rc = rule_set_load_prefixed(path, "", w->cs_prefix, &m->wrapped, e);
	free(path);
	if (rc)
		return rc;
	in = m->wrapped->files[0];
	for (i = 0; i < w->n_models && strcmp(w->models[i], in->model); i++)
		;
	if (i == w->n_models || in->n_comp)
		return ck_errf(e, CK_EINVALID, "%s: model %s wraps no %s (it wraps: one of the models listed at %s:%d:%d)",
			q->where ? q->where : q->hf_dir ? q->hf_dir : "config", f->model, in->model, w->pos.file, w->pos.line,
			w->pos.col);
	unsigned maj, min;
	int n = 0;
	sscanf(m->cs_fmt, "cs-%u.%u%n", &maj, &min, &n); /* cs-2.9-dpo: release cs-2.9 */
	snprintf(rel, sizeof rel, "%.*s", n, m->cs_fmt);
	if (!rule_has_format(in, rel))
		return ck_errf(e, CK_EINVALID, "model %s does not support format %s (the release of %s)", in->model, rel,
			m->cs_fmt);
	m->sets[0] = m->wrapped;
	return 0;
}

int model_open(const model_query *q, model **out, ck_err *e)
{
	model *m = ck_calloc(e, 1, sizeof *m);
	int rc;
	*out = m;
	if (!m)
		return CK_ENOMEM;
	if ((rc = find_path(q, &m->path, e)) || (rc = rule_set_load(m->path, &m->top, e)))
		return rc;
	if (model_file(m)->n_comp) {
		if ((rc = rule_load_components(m->top, &m->sets, e)))
			return rc;
		m->n = model_file(m)->n_comp;
		return pick_format(m, q->cs_fmt, e);
	}
	if (!(m->sets = ck_calloc(e, 1, sizeof *m->sets)))
		return CK_ENOMEM;
	m->sets[0] = m->top;
	m->n = 1;
	if ((rc = pick_format(m, q->cs_fmt, e)))
		return rc;
	if (!model_file(m)->wrap || (!q->hf && !q->cs))
		return 0;
	if (!m->cs_fmt)
		return ck_errf(e, CK_EINVALID, "%s: declares no CS formats", m->path);
	return open_wrapped(m, q, e);
}

int model_wrapped(const model *m, ck_err *e)
{
	const rule_wrap *w = model_file(m)->wrap;
	if (!w || m->wrapped)
		return 0;
	return ck_errf(e, CK_EUSAGE, "model %s wraps another model (%s:%d:%d): which one is read from a config; pass "
		"--config (its HF config.json, or CS params naming it in %s)", model_file(m)->model, w->pos.file, w->pos.line,
		w->pos.col, expr_src(w->cs_model));
}

const rule_file *model_file(const model *m)
{
	return m->top->files[0];
}

const rule_comp *model_comp(const model *m, size_t i)
{
	return model_file(m)->n_comp ? &model_file(m)->comp[i] : NULL;
}

void model_free(model *m)
{
	if (!m)
		return;
	if (m->top && m->top->files[0]->n_comp)
		rule_components_free(m->sets, m->n);
	else
		free(m->sets);
	rule_set_free(m->wrapped);
	rule_set_free(m->top);
	free(m->path);
	free(m);
}

int model_mup(const rule_set *rs, json_t *cs, json_t *vars, const char *where, ck_err *e)
{
	const rule_mup *m = rs->files[0]->mup;
	config_env env = {.cs = cs, .scope = m ? m->scope : NULL, .vars = vars};
	json_t *v = NULL;
	int rc;
	if (!m)
		return 0;
	if (m->invalid) {
		if ((rc = config_eval(&env, m->invalid, &v, e)))
			return rc;
		int bad = expr_truthy(v);
		json_decref(v);
		v = NULL;
		if (bad)
			return ck_errf(e, CK_EINVALID, "%s: %s (%s:%d:%d)", where, m->invalid_msg, m->pos.file, m->pos.line,
				m->pos.col);
	}
	if ((rc = config_eval(&env, m->detect, &v, e)))
		return rc;
	rc = expr_truthy(v);
	json_decref(v);
	return rc;
}
