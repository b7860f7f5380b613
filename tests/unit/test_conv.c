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

/* The options of a dry run from src (NULL: detected or the default). */
static conv_opts opts(const char *src, const char *model, const char *src_fmt, const char *tgt_fmt)
{
	conv_opts o;
	memset(&o, 0, sizeof o);
	o.src = src;
	o.model = model;
	o.src_fmt = src_fmt;
	o.tgt_fmt = tgt_fmt;
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
		conv_opts o = opts(cases[i].src, cases[i].model, cases[i].src_fmt, cases[i].tgt_fmt);
		conv *c = NULL;
		ck_err e = {0};
		T_EQ_INT(conv_open(&o, &c, &e), cases[i].code, cases[i].what);
		T_HAS(e.msg, cases[i].want, cases[i].what);
		T_OK(!strchr(e.msg, '\n'), "%s: one line", cases[i].what);
		conv_free(c);
	}
}

/* A run opened and planned from headers: the model (detected, or a wrapper's with the model
 * inside from config.json), its format (the newest when none is asked), every key planned. */
static void test_plan(void)
{
	static const struct {
		const char *src, *model, *tgt, *want_model, *want_fmt;
	} cases[] = {
		{G "llama/hf", NULL, NULL, "llama", "cs-2.9"},
		{G "dpo/hf", "dpo", "cs-2.9-dpo", "dpo", "cs-2.9-dpo"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		conv_opts o = opts(cases[i].src, cases[i].model, NULL, cases[i].tgt);
		conv *c = NULL;
		ck_err e = {0};
		T_OK(conv_open(&o, &c, &e) == 0, "%s opens: %s", cases[i].src, e.msg);
		if (!e.code) {
			T_EQ_STR(conv_model(c), cases[i].want_model, "the model");
			T_EQ_STR(conv_target_format(c), cases[i].want_fmt, "the target format");
			T_EQ_INT(conv_plan(c, &e), 0, "every key plans");
		}
		conv_free(c);
	}
}

/* The converted config alone, as convert-config gets it (params: src is also --config). */
static char *config_text(const char *src, const char *model, const char *tgt, int params, ck_err *e)
{
	conv_opts o = opts(src, model, NULL, tgt);
	conv *c = NULL;
	char *text = NULL;
	o.config = params ? src : NULL;
	if (conv_open(&o, &c, e) == 0)
		text = conv_config_text(c, e);
	conv_free(c);
	return text;
}

/* The config alone both ways; want[0] NULL: refused with want[1] in the error. */
static void test_config_text(void)
{
	static const struct {
		const char *what, *src, *model, *tgt;
		int params;
		const char *want[2];
	} cases[] = {
		{"config.json -> CS params", G "llama/hf", NULL, NULL, 0, {"  num_heads: 4\n", "  name: llama\n"}},
		{"CS params -> config.json", G "llama/cs/params.yaml", NULL, "hf", 1,
			{"\"num_attention_heads\": 4", "\"LlamaForCausalLM\""}},
		{"a wrapper's params name the model inside (detected from config.json)", G "dpo/hf", "dpo", "cs-2.9-dpo", 0,
			{"  model_name: llama\n", "  name: dpo\n"}},
		{"a multi-component model's config alone is refused", G "llava/cs/params.yaml", NULL, "hf", 1,
			{NULL, "components, each with its config.json"}},
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		ck_err e = {0};
		char *text = config_text(cases[i].src, cases[i].model, cases[i].tgt, cases[i].params, &e);
		if (cases[i].want[0]) {
			T_HAS(text, cases[i].want[0], cases[i].what);
			T_HAS(text, cases[i].want[1], cases[i].what);
		} else {
			T_OK(text == NULL, "%s", cases[i].what);
			T_HAS(e.msg, cases[i].want[1], cases[i].what);
		}
		free(text);
	}
}

int main(void)
{
	test_refusals();
	test_plan();
	test_config_text();
	return t_done();
}
