/* Unit tests for model.c: a model's rules loaded once (by name or alias, detected from a
 * config, from the component directories of an HF directory), its component sets, and the muP
 * decision convert, inspect and validate share. Uses the repository's rules/ (or
 * $CKCONV_RULES). */
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
	test_mup();
	return t_done();
}
