/* model.c - a model's rules loaded once (model.h). */
#include <stdio.h>
#include <stdlib.h>
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
	if (q->name)
		return rule_find_model(q->rules_dir, q->name, path, e);
	if (!q->hf && !q->cs && q->hf_dir)
		return detect_components(q->rules_dir, q->hf_dir, path, e);
	return rule_detect_model(q->rules_dir, q->hf, q->cs, q->where, path, e);
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
	if (m->top->files[0]->n_comp) {
		if ((rc = rule_load_components(m->top, &m->sets, e)))
			return rc;
		m->n = m->top->files[0]->n_comp;
		return 0;
	}
	if (!(m->sets = ck_calloc(e, 1, sizeof *m->sets)))
		return CK_ENOMEM;
	m->sets[0] = m->top;
	m->n = 1;
	return 0;
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
