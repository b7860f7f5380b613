/* Unit tests for conv.c, the conversion run, through its interface: what conv_open refuses
 * before any work, a run opened and planned from headers (HF -> CS, the golden llama
 * checkpoint), the converted config alone both ways (convert-config), and a wrapping model's
 * model inside (dpo: model.c) as the run sees it. Reads tests/golden and rules/ (run from the
 * repository's root, as tests/run.sh does). Nothing is written. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "conv.h"
#include "t.h"

#define G "tests/golden/"

static conv_opts opts(const char *src)
{
	conv_opts o;
	memset(&o, 0, sizeof o);
	o.src = src;
	o.rules = "rules";
	o.quiet = 1;
	o.no_progress = 1;
	o.dry_run = 1;
	o.shard_size = 10000000000ULL;
	return o;
}

/* Refused by conv_open, one line each, before anything is read or written. */
static void test_refusals(void)
{
	static const struct {
		const char *what, *src, *model, *src_fmt, *tgt_fmt, *want;
		int code;
	} cases[] = {
		{"an unknown --src-fmt", G "llama/hf", NULL, "xx", NULL, "--src-fmt 'xx': expected hf or cs-X.Y", CK_EINVALID},
		{"an unknown --tgt-fmt", G "llama/hf", NULL, NULL, "cs", "--tgt-fmt 'cs': expected hf or cs-X.Y", CK_EINVALID},
		{"both sides HF", G "llama/hf", NULL, "hf", "hf", "converting hf to hf: one side must be hf and the other cs-X.Y",
			CK_EINVALID},
		{"a missing source", G "llama/nothing-here", NULL, NULL, NULL, G "llama/nothing-here: source not found",
			CK_ENOTFOUND},
		{"a release the model lacks", G "llama/hf", "llama", NULL, "cs-9.9",
			"model llama does not support format cs-9.9 (supported: hf, cs-2.1, ", CK_EINVALID},
		{"an unknown model", G "llama/hf", "no-such-model", NULL, NULL, "unknown model 'no-such-model'", CK_ENOTFOUND},
		{"a wrapper around a model it does not list", G "bert/hf", "dpo", NULL, "cs-2.9-dpo", "model dpo wraps no bert",
			CK_EINVALID},
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		conv_opts o = opts(cases[i].src);
		conv *c = NULL;
		ck_err e = {0};
		o.model = cases[i].model;
		o.src_fmt = cases[i].src_fmt;
		o.tgt_fmt = cases[i].tgt_fmt;
		T_EQ_INT(conv_open(&o, &c, &e), cases[i].code, cases[i].what);
		T_HAS(e.msg, cases[i].want, cases[i].what);
		T_OK(!strchr(e.msg, '\n'), "%s: one line", cases[i].what);
		conv_free(c);
	}
}

/* HF -> CS: the model detected from config.json, the newest release, every key planned. */
static void test_plan_to_cs(void)
{
	conv_opts o = opts(G "llama/hf");
	conv *c = NULL;
	ck_err e = {0};
	T_OK(conv_open(&o, &c, &e) == 0, "llama HF -> CS opens: %s", e.msg);
	if (!e.code) {
		T_EQ_STR(conv_model(c), "llama", "the model detected from config.json");
		T_EQ_STR(conv_target_format(c), "cs-2.9", "the newest release when none is asked");
		T_EQ_INT(conv_plan(c, &e), 0, "every key plans");
		char *text = conv_config_text(c, &e);
		T_HAS(text, "  num_heads: 4\n", "the CS params: num_attention_heads -> num_heads");
		T_HAS(text, "  name: llama\n", "... named for the model");
		free(text);
	}
	conv_free(c);
}

/* CS params alone -> config.json (convert-config). */
static void test_config_to_hf(void)
{
	conv_opts o = opts(G "llama/cs/params.yaml");
	conv *c = NULL;
	ck_err e = {0};
	o.config = o.src;
	o.tgt_fmt = "hf";
	T_OK(conv_open(&o, &c, &e) == 0, "CS params -> HF opens: %s", e.msg);
	char *text = c && !e.code ? conv_config_text(c, &e) : NULL;
	T_HAS(text, "\"num_attention_heads\": 4", "config.json: num_heads -> num_attention_heads");
	T_HAS(text, "\"LlamaForCausalLM\"", "... with the model's architecture");
	free(text);
	conv_free(c);

	c = NULL;
	ck_err_clear(&e);
	o = opts(G "llava/cs/params.yaml");
	o.config = o.src;
	o.tgt_fmt = "hf";
	T_OK(conv_open(&o, &c, &e) == 0, "LLaVA params -> HF opens: %s", e.msg);
	text = c && !e.code ? conv_config_text(c, &e) : NULL;
	T_OK(text == NULL, "a multi-component model's config alone is refused");
	T_HAS(e.msg, "components, each with its config.json", "... saying each component has its own");
	free(text);
	conv_free(c);
}

/* A wrapper: the model inside is the one config.json names, its params written around it. */
static void test_wrapped(void)
{
	conv_opts o = opts(G "dpo/hf");
	conv *c = NULL;
	ck_err e = {0};
	o.model = "dpo";
	o.tgt_fmt = "cs-2.9-dpo";
	T_OK(conv_open(&o, &c, &e) == 0, "dpo HF -> CS opens: %s", e.msg);
	char *text = c && !e.code ? conv_config_text(c, &e) : NULL;
	T_HAS(text, "  model_name: llama\n", "the params name the model inside (detected from config.json)");
	T_HAS(text, "  name: dpo\n", "... and the wrapper");
	T_EQ_INT(c && !e.code ? conv_plan(c, &e) : -1, 0, "the wrapped model's keys plan");
	free(text);
	conv_free(c);
}

int main(void)
{
	test_refusals();
	test_plan_to_cs();
	test_config_to_hf();
	test_wrapped();
	return t_done();
}
