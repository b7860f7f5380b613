/* Unit tests for model.c: a model's rules loaded once (by name or alias, detected from a
 * config, from the component directories of an HF directory), its component sets, its CS
 * format, a wrapper's model inside, and the muP decision convert, inspect and validate share.
 * Uses the repository's rules/ (or $CKCONV_RULES), and scratch rule files for the wrap's refusals. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "model.h"
#include "t.h"

static const char *rules_dir(void)
{
	const char *env = getenv("CKCONV_RULES");
	return env && *env ? env : "rules";
}

static void test_by_name(void)
{
	model *m = NULL;
	ck_err e = {0};
	model_query q = {.rules_dir = rules_dir(), .name = "code-llama"};
	T_OK(model_open(&q, &m, &e) == 0, "an alias finds its model: %s", e.msg);
	if (!m || !m->top)
		return model_free(m);
	T_EQ_STR(model_file(m)->model, "llama", "the model's name");
	T_EQ_INT(m->n, 1, "one rule set");
	T_OK(m->sets[0] == m->top, "a single-component model's set is the model file's");
	T_OK(model_comp(m, 0) == NULL, "no component entry");
	model_free(m);
}

static void test_components(void)
{
	model *m = NULL;
	ck_err e = {0};
	model_query q = {.rules_dir = rules_dir(), .name = "llava"};
	T_OK(model_open(&q, &m, &e) == 0, "llava loads: %s", e.msg);
	if (!m || !m->sets)
		return model_free(m);
	T_EQ_INT(m->n, 2, "two components");
	for (size_t i = 0; i < m->n; i++) {
		T_OK(m->sets[i] && m->sets[i] != m->top, "component %zu has its own set", i);
		T_OK(model_comp(m, i) && model_comp(m, i)->dir, "component %zu has its entry", i);
	}
	model_free(m);
}

static void test_unknown(void)
{
	model *m = NULL;
	ck_err e = {0};
	model_query q = {.rules_dir = rules_dir(), .name = "no-such-model"};
	T_EQ_INT(model_open(&q, &m, &e), CK_ENOTFOUND, "an unknown name");
	T_HAS(e.msg, "unknown model 'no-such-model'", "the error names it");
	model_free(m);
}

static void test_detect(void)
{
	model *m = NULL;
	ck_err e = {0};
	json_t *hf = json_pack("{s:[s]}", "architectures", "LlamaForCausalLM");
	model_query q = {.rules_dir = rules_dir(), .hf = hf, .where = "config.json"};
	T_OK(model_open(&q, &m, &e) == 0, "detected from config.json's architectures: %s", e.msg);
	T_EQ_STR(m && m->top ? model_file(m)->model : "", "llama", "... llama");
	model_free(m);
	json_decref(hf);

	char dir[] = "/tmp/ckconv-model.XXXXXX";
	m = NULL;
	ck_err_clear(&e);
	T_OK(mkdtemp(dir) != NULL, "scratch directory");
	T_OK(mkdir(t_at(dir, "image_model"), 0755) == 0 && mkdir(t_at(dir, "text_model"), 0755) == 0, "component dirs");
	model_query d = {.rules_dir = rules_dir(), .hf_dir = dir};
	T_OK(model_open(&d, &m, &e) == 0, "detected from the component directories: %s", e.msg);
	T_OK(m && m->top && m->n == 2, "... a two-component model");
	model_free(m);
	rmdir(t_at(dir, "image_model"));
	rmdir(t_at(dir, "text_model"));
	rmdir(dir);
}

/* The CS format: the newest unless asked, and one the model lacks is refused listing them. */
static void test_format(void)
{
	model *m = NULL;
	ck_err e = {0};
	model_query q = {.rules_dir = rules_dir(), .name = "llama"};
	T_OK(model_open(&q, &m, &e) == 0, "llama loads: %s", e.msg);
	T_EQ_STR(m ? m->cs_fmt : NULL, "cs-2.9", "without a format: the newest");
	model_free(m);
	m = NULL;
	q.cs_fmt = "cs-2.2";
	T_OK(model_open(&q, &m, &e) == 0, "a format it has");
	T_EQ_STR(m ? m->cs_fmt : NULL, "cs-2.2", "... is kept");
	model_free(m);
	m = NULL;
	q.cs_fmt = "cs-9.9";
	T_EQ_INT(model_open(&q, &m, &e), CK_EINVALID, "a format it lacks");
	T_HAS(e.msg, "model llama does not support format cs-9.9 (supported: hf, cs-2.1, ", "... names it and the formats");
	model_free(m);
}

/* A wrapper (rules/dpo.yaml): the config names the model inside, loaded under the CS prefix as
 * the model's one rule set; without a config it opens alone and says a config is needed. */
static void test_wrap(void)
{
	model *m = NULL;
	ck_err e = {0};
	json_t *hf = json_pack("{s:[s], s:s}", "architectures", "GPT2LMHeadModel", "model_type", "gpt2");
	json_t *cs = json_pack("{s:{s:s, s:s}}", "model", "name", "dpo", "model_name", "llama");
	model_query q = {.rules_dir = rules_dir(), .name = "dpo", .hf = hf, .where = "config.json"};
	T_OK(model_open(&q, &m, &e) == 0, "dpo with a GPT-2 config.json: %s", e.msg);
	if (m && m->wrapped) {
		const rule_set *w = m->wrapped;
		T_EQ_STR(w->files[0]->model, "gpt2", "the model inside is detected from config.json");
		T_OK(m->n == 1 && m->sets[0] == w && m->top != w, "its rules are the model's rule set");
		T_EQ_STR(m->cs_fmt, "cs-2.9-dpo", "the wrapper's newest format");
		int prefixed = w->n_keys > 0;
		for (size_t k = 0; k < w->n_keys; k++)
			for (size_t t = 0; t < w->keys[k].n_tpl[RULE_CS]; t++)
				prefixed &= !strncmp(w->keys[k].tpl[RULE_CS][t], "policy_model.model.", 19);
		T_OK(prefixed, "every CS template is under the wrap's cs_prefix");
		T_EQ_INT(model_wrapped(m, &e), 0, "model_wrapped: nothing missing");
	} else {
		T_OK(0, "the wrapped model is loaded");
	}
	model_free(m);

	m = NULL;
	model_query c = {.rules_dir = rules_dir(), .cs = cs, .where = "params.yaml"};
	T_OK(model_open(&c, &m, &e) == 0, "params named dpo with model_name llama: %s", e.msg);
	T_EQ_STR(m && m->wrapped ? m->wrapped->files[0]->model : NULL, "llama", "the model inside is model_name's");
	T_EQ_STR(m ? model_file(m)->model : NULL, "dpo", "the model is the wrapper (detected from name)");
	model_free(m);

	/* ModelZoo 2.4+'s layout: the model inside nested in policy_model, named there */
	m = NULL;
	json_t *nested = json_pack("{s:{s:s, s:{s:s}}}", "model", "name", "dpo", "policy_model", "name", "mistral");
	model_query n = {.rules_dir = rules_dir(), .cs = nested, .where = "params.yaml"};
	T_OK(model_open(&n, &m, &e) == 0, "params named dpo with policy_model.name mistral: %s", e.msg);
	T_EQ_STR(m && m->wrapped ? m->wrapped->files[0]->model : NULL, "mistral", "the model inside is policy_model's");
	model_free(m);
	/* a name that is no model name is a CS name, as params are detected (gpt3: gpt2's rules) */
	m = NULL;
	json_object_set_new(json_object_get(json_object_get(nested, "model"), "policy_model"), "name", json_string("gpt3"));
	T_OK(model_open(&n, &m, &e) == 0, "policy_model.name gpt3: %s", e.msg);
	T_EQ_STR(m && m->wrapped ? m->wrapped->files[0]->model : NULL, "gpt2", "... is converted by gpt2's rules");
	model_free(m);
	json_decref(nested);

	m = NULL;
	model_query alone = {.rules_dir = rules_dir(), .name = "dpo"};
	T_OK(model_open(&alone, &m, &e) == 0, "dpo without a config opens (list reads it so)");
	T_OK(m && !m->wrapped && m->sets[0] == m->top, "... alone");
	T_EQ_INT(m ? model_wrapped(m, &e) : 0, CK_EUSAGE, "model_wrapped: a config is needed");
	T_HAS(e.msg, "model dpo wraps another model (", "... naming the wrapper");
	T_HAS(e.msg, "pass --config", "... and what to pass");
	model_free(m);
	json_decref(hf);
	json_decref(cs);
}

/* What a wrapper refuses, with scratch rule files: a model it does not list, a config that names
 * none, a format it lacks, a release the model inside lacks. */
static void test_wrap_refused(void)
{
	static const struct {
		const char *what, *hf, *cs, *fmt, *want;
	} cases[] = {
		{"a model it does not list", "{\"architectures\": [\"OtherLM\"]}", NULL, NULL,
			"config.json: model w wraps no other (it wraps: one of the models listed at "},
		{"params without its name", NULL, "{\"model\": {}}", NULL,
			"config.json: cs.model.model_name must name the model inside, found nothing ("},
		{"params naming a number", NULL, "{\"model\": {\"model_name\": 3}}", NULL, "found a non-string"},
		{"a format the wrapper lacks", "{\"architectures\": [\"InnerLM\"]}", NULL, "cs-2.8",
			"model w does not support format cs-2.8 (supported: hf, cs-2.8-w, cs-2.9-w)"},
		{"a release the model inside lacks", "{\"architectures\": [\"InnerLM\"]}", NULL, NULL,
			"model inner does not support format cs-2.9 (the release of cs-2.9-w)"},
	};
	char dir[] = "/tmp/ckconv-model-wrap.XXXXXX";
	if (!mkdtemp(dir)) {
		T_OK(0, "scratch directory");
		return;
	}
	t_put(dir, "inner.yaml", "model: inner\narchitectures: [InnerLM]\nformats: [cs-2.8]\nkeys:\n  - {hf: a, cs: b}\n");
	t_put(dir, "other.yaml", "model: other\narchitectures: [OtherLM]\nformats: [cs-2.9]\nkeys:\n  - {hf: a, cs: b}\n");
	t_put(dir, "w.yaml", "model: w\nformats: [cs-2.8-w, cs-2.9-w]\nwrap:\n  models: [inner]\n"
		"  cs_model: cs.model.model_name\n  cs_prefix: pol.\n");
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		model *m = NULL;
		ck_err e = {0};
		json_t *hf = cases[i].hf ? json_loads(cases[i].hf, 0, NULL) : NULL;
		json_t *cs = cases[i].cs ? json_loads(cases[i].cs, 0, NULL) : NULL;
		model_query q = {.rules_dir = dir, .name = "w", .hf = hf, .cs = cs, .where = "config.json", .cs_fmt = cases[i].fmt};
		T_EQ_INT(model_open(&q, &m, &e), CK_EINVALID, cases[i].what);
		T_HAS(e.msg, cases[i].want, cases[i].what);
		model_free(m);
		json_decref(hf);
		json_decref(cs);
	}
	/* cs_model may read the wrapper's `let` names (a layout it checks): an error() there is
	 * reported at the params, and a name found through it opens the model inside */
	t_put(dir, "v.yaml", "model: v\nformats: [cs-2.8-v]\nlet:\n  inner: \"cs.model.sub ?? error('model.sub: none')\"\n"
		"wrap:\n  models: [inner]\n  cs_model: inner.name\n  cs_prefix: pol.\n");
	json_t *cs = json_pack("{s:{s:{s:s}}}", "model", "sub", "name", "inner");
	for (int nested = 1; nested >= 0; nested--) {
		model *m = NULL;
		ck_err e = {0};
		if (!nested)
			json_object_del(json_object_get(cs, "model"), "sub");
		model_query q = {.rules_dir = dir, .name = "v", .cs = cs, .where = "params.yaml"};
		int rc = model_open(&q, &m, &e);
		if (nested)
			T_OK(rc == 0 && m->wrapped && !strcmp(m->wrapped->files[0]->model, "inner"), "cs_model through a let: %s", e.msg);
		else
			T_OK(rc == CK_EINVALID && strstr(e.msg, "params.yaml: ") == e.msg && strstr(e.msg, ": model.sub: none"),
				"an error() in the let, at the params: %s", e.msg);
		model_free(m);
	}
	json_decref(cs);
	model *m = NULL;
	ck_err e = {0};
	cs = json_pack("{s:{s:s}}", "model", "model_name", "nosuch");
	model_query nosuch = {.rules_dir = dir, .name = "w", .cs = cs, .where = "params.yaml"};
	T_EQ_INT(model_open(&nosuch, &m, &e), CK_ENOTFOUND, "params naming a model no file has");
	T_HAS(e.msg, "params.yaml: unknown model 'nosuch' (", "... at the params");
	model_free(m);
	json_decref(cs);
	m = NULL;
	ck_err_clear(&e);
	json_t *hf = json_pack("{s:[s]}", "architectures", "InnerLM");
	model_query q = {.rules_dir = dir, .name = "w", .hf = hf, .cs_fmt = "cs-2.8-w"};
	T_OK(model_open(&q, &m, &e) == 0, "the release the model inside has: %s", e.msg);
	T_EQ_STR(m && m->wrapped ? m->sets[0]->keys[0].tpl[RULE_CS][0] : NULL, "pol.b", "its CS key under the prefix");
	T_EQ_STR(m && m->wrapped ? m->sets[0]->keys[0].tpl[RULE_HF][0] : NULL, "a", "its HF key as written");
	model_free(m);
	json_decref(hf);
	const char *names[] = {"inner.yaml", "other.yaml", "w.yaml", "v.yaml"};
	for (size_t i = 0; i < 4; i++)
		unlink(t_at(dir, names[i]));
	rmdir(dir);
}

/* model_mup on llama's rules (mup-decoder.yaml): detect, not-muP, invalid, and expr.c's
 * truthiness (a 0 base size is still "not null", so muP). */
static void test_mup(void)
{
	static const struct { const char *model_json; int want; } cases[] = {
		{"{\"hidden_size\": 64}", 0},
		{"{\"hidden_size\": 64, \"mup_base_hidden_size\": 32}", 1},
		{"{\"hidden_size\": 64, \"mup_base_hidden_size\": 0}", 1},
		{"{\"scale_qk_dot_by_d\": true, \"embeddings_scale\": 2.0, \"output_logits_scale\": 0.5}", 1},
		{"{\"scale_qk_dot_by_d\": true, \"embeddings_scale\": 0.0, \"output_logits_scale\": 0.5}", CK_EINVALID},
	};
	model *m = NULL;
	ck_err e = {0};
	model_query q = {.rules_dir = rules_dir(), .name = "llama"};
	if (model_open(&q, &m, &e)) {
		T_OK(0, "llama loads: %s", e.msg);
		return model_free(m);
	}
	json_t *vars = json_pack("{s{}sisi}", "out", "cs_major", 2, "cs_minor", 9);
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		json_t *sec = json_loads(cases[i].model_json, 0, NULL), *cs = json_pack("{so}", "model", sec);
		ck_err_clear(&e);
		int got = model_mup(m->top, cs, vars, "params.yaml", &e);
		T_EQ_INT(got, cases[i].want, cases[i].model_json);
		if (cases[i].want < 0)
			T_HAS(e.msg, "params.yaml: a muP config without mup_base_* keys", "the invalid message, at the params");
		json_decref(cs);
	}
	json_decref(vars);
	model_free(m);
}

int main(void)
{
	test_by_name();
	test_components();
	test_unknown();
	test_detect();
	test_format();
	test_wrap();
	test_wrap_refused();
	test_mup();
	return t_done();
}
