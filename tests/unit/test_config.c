/* Unit tests for config.c: config rules (rename, map, require, type, to_cs/to_hf, defaults,
 * drop) converting an HF config.json to the CS model section and back, table-driven. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "config.h"
#include "rule.h"
#include "t.h"

static const char rules[] =
	"model: t\n"
	"keys:\n  - {hf: a, cs: b}\n"
	"config:\n"
	"  hf_defaults: {rope_theta: 10000.0}\n"
	"  rules:\n"
	"    - {hf: model_type, require: llama}\n"
	"    - {cs: norm_type, require: [rmsnorm, layernorm]}\n"
	"    - {hf: hidden_size, cs: hidden_size, type: int}\n"
	"    - {hf: hidden_act, cs: nonlinearity, map: {silu: swiglu}}\n"
	"    - {hf: rope_theta, cs: rope_theta}\n"
	"    - hf: num_attention_heads\n"
	"      cs: [num_heads, head_size]\n"
	"      to_cs: {num_heads: hf.num_attention_heads, head_size: 'hf.hidden_size // hf.num_attention_heads'}\n"
	"      to_hf: {num_attention_heads: cs.model.num_heads}\n"
	"    - {hf: [torch_dtype], drop: true}\n";

/* HF config -> CS model section: the JSON the rules give, or the error text. */
static const struct to_cs {
	const char *what, *hf, *want; /* want: compact JSON, or "!" + part of the error */
} to_cs[] = {
	{"rename, map, require written, computed keys, defaults",
		"{\"model_type\": \"llama\", \"hidden_size\": 64, \"hidden_act\": \"silu\", \"num_attention_heads\": 4}",
		"{\"norm_type\": \"rmsnorm\", \"hidden_size\": 64, \"nonlinearity\": \"swiglu\", \"rope_theta\": 10000.0, "
		"\"num_heads\": 4, \"head_size\": 16}"},
	{"a value the map does not know",
		"{\"model_type\": \"llama\", \"hidden_size\": 64, \"hidden_act\": \"tanh\", \"num_attention_heads\": 4}",
		"!hidden_act = \"tanh\" has no CS counterpart"},
	{"require violated", "{\"model_type\": \"gpt2\", \"hidden_size\": 64, \"hidden_act\": \"silu\", \"num_attention_heads\": 4}",
		"!model_type must be \"llama\", found \"gpt2\""},
	{"type: int refuses a string",
		"{\"model_type\": \"llama\", \"hidden_size\": \"64\", \"hidden_act\": \"silu\", \"num_attention_heads\": 4}",
		"!hidden_size"},
};

/* The rule set of text, written over path (in dir) after freeing old; NULL when it fails to load. */
static rule_set *reload(rule_set *old, const char *dir, const char *path, const char *text, const char *what, ck_err *e)
{
	rule_set *rs = NULL;
	rule_set_free(old);
	t_put(dir, "t.yaml", text);
	ck_err_clear(e);
	T_EQ_INT(rule_set_load(path, &rs, e), 0, what);
	return rs;
}

int main(void)
{
	char dir[64] = "/tmp/ckconv-test-config-XXXXXX", path[128];
	ck_err e = {0};
	rule_set *rs = NULL;
	if (!mkdtemp(dir))
		return 1;
	t_put(dir, "t.yaml", rules);
	snprintf(path, sizeof path, "%s/t.yaml", dir);
	T_EQ_INT(rule_set_load(path, &rs, &e), 0, "the config rules load");
	if (!rs)
		return t_done();

	for (size_t i = 0; i < sizeof to_cs / sizeof *to_cs; i++) {
		json_t *hf = json_loads(to_cs[i].hf, 0, NULL), *out = NULL;
		char *warn = NULL, *got;
		ck_err_clear(&e);
		int rc = config_convert(rs, RULE_HF, hf, "config.json", &out, &warn, &e);
		if (to_cs[i].want[0] == '!') {
			T_OK(rc != 0, "%s: refused", to_cs[i].what);
			T_HAS(e.msg, to_cs[i].want + 1, to_cs[i].what);
		} else {
			got = rc ? NULL : json_dumps(out, JSON_COMPACT | JSON_PRESERVE_ORDER);
			json_t *want = json_loads(to_cs[i].want, 0, NULL);
			T_OK(got && json_equal(out, want), "%s", to_cs[i].what);
			if (!(got && json_equal(out, want)))
				printf("#   got %s (%s)\n", got ? got : "?", e.msg);
			json_decref(want);
			free(got);
		}
		free(warn);
		json_decref(hf);
		json_decref(out);
	}

	/* an HF key no rule mentions is reported, not carried */
	json_t *hf = json_loads("{\"model_type\": \"llama\", \"hidden_size\": 8, \"hidden_act\": \"silu\", "
		"\"num_attention_heads\": 2, \"mystery\": 1, \"torch_dtype\": \"bf16\"}", 0, NULL), *cs = NULL, *back = NULL;
	char *warn = NULL;
	T_EQ_INT(config_convert(rs, RULE_HF, hf, "config.json", &cs, &warn, &e), 0, "a config with an unknown key converts");
	T_HAS(warn, "mystery", "the unknown key is named in the note");
	T_OK(warn && !strstr(warn, "torch_dtype"), "a dropped key is not");
	T_OK(cs && !json_object_get(cs, "mystery"), "and it is not carried");
	free(warn);
	warn = NULL;

	/* and back: map reversed, require written, to_hf computed */
	T_EQ_INT(config_convert(rs, RULE_CS, cs, "params.yaml", &back, &warn, &e), 0, "the CS section converts back");
	T_EQ_STR(json_string_value(json_object_get(back, "model_type")), "llama", "require is written on the way to HF");
	T_EQ_STR(json_string_value(json_object_get(back, "hidden_act")), "silu", "the map runs backwards");
	T_EQ_INT(json_integer_value(json_object_get(back, "num_attention_heads")), 2, "to_hf computes its key");
	free(warn);
	json_decref(hf);
	json_decref(cs);
	json_decref(back);

	/* expression evaluation sees hf, cs.model and let names */
	rs = reload(rs, dir, path,
		"model: t\nlet: {twice: 'cs.model.n * 2'}\nkeys:\n  - {hf: a, cs: b}\n",
		"a file with a let loads", &e);
	if (rs) {
		expr *x = NULL;
		long long v = 0;
		json_t *params = json_loads("{\"model\": {\"n\": 21}}", 0, NULL);
		config_env env = {.cs = params, .scope = rs->files[0]};
		expr_parse("twice + 0", "test", &x, &e);
		T_EQ_INT(config_eval_int(&env, x, &v, &e), 0, "an expression over a let evaluates");
		T_EQ_INT(v, 42, "to the let's value");
		expr_free(x);
		json_decref(params);
	}

	/* a CS key written `/a.b` is rooted at the params document, beside the model section */
	rs = reload(rs, dir, path,
		"model: t\nkeys:\n  - {hf: a, cs: b}\nconfig:\n  rules:\n"
		"    - {hf: width, cs: /optimizer.adjust.kernel, type: float}\n"
		"    - {hf: alpha, cs: scale, to_cs: {scale: 'hf.alpha * hf.width'},"
		" to_hf: {alpha: 'cs.model.scale / (cs.optimizer.adjust.kernel ?? 1.0)'}}\n",
		"rooted CS keys load", &e);
	if (rs) {
		json_t *in = json_loads("{\"width\": 0.5, \"alpha\": 3.0}", 0, NULL), *beside = json_object(), *model = NULL;
		json_t *doc = NULL, *h = NULL;
		T_EQ_INT(config_convert_params(rs, RULE_HF, in, beside, "config.json", NULL, &model, NULL, NULL, &e), 0,
			"HF -> CS with a rooted key converts");
		T_OK(json_real_value(config_path_get(beside, "optimizer.adjust.kernel")) == 0.5,
			"the rooted key is written beside the model section");
		T_OK(model && !json_object_get(model, "optimizer") && json_real_value(json_object_get(model, "scale")) == 1.5,
			"not into it; the model key is computed");
		doc = json_pack("{sOsO}", "model", model, "optimizer", json_object_get(beside, "optimizer"));
		T_EQ_INT(config_convert_params(rs, RULE_CS, model, doc, "params.yaml", NULL, &h, NULL, NULL, &e), 0,
			"CS -> HF reads the rooted key from the params");
		T_OK(h && json_real_value(json_object_get(h, "width")) == 0.5 && json_real_value(json_object_get(h, "alpha")) == 3.0,
			"rooted keys and cs.optimizer in expressions read the document");
		json_decref(h);
		h = NULL;
		json_object_set_new(json_object_get(json_object_get(doc, "optimizer"), "adjust"), "kernel", json_string("x"));
		T_OK(config_convert_params(rs, RULE_CS, model, doc, "params.yaml", NULL, &h, NULL, NULL, &e) != 0, "a rooted key's type is checked");
		T_HAS(e.msg, "optimizer.adjust.kernel must be float", "naming the key");
		json_decref(h);
		json_decref(doc);
		json_decref(model);
		json_decref(beside);
		json_decref(in);
	}

	/* note_hf / note_cs: a string is one line for the user naming the rule, null says nothing,
	 * anything else is an error in the rule file */
	rs = reload(rs, dir, path,
		"model: t\nkeys:\n  - {hf: a, cs: b}\nconfig:\n  rules:\n"
		"    - {hf: act, cs: act, note_hf: \"hf.act == 'approx' ? 'act approx becomes exact' : null\","
		" note_cs: \"cs.model.act == 'bad' ? 3 : false\"}\n",
		"note_hf / note_cs load", &e);
	if (rs) {
		json_t *in = json_pack("{ss}", "act", "approx"), *out = NULL;
		char *notes = NULL;
		T_EQ_INT(config_convert_params(rs, RULE_HF, in, NULL, "config.json", NULL, &out, NULL, &notes, &e), 0,
			"a config with a note converts");
		T_OK(notes && strstr(notes, "config.json: act approx becomes exact (rule ") && strstr(notes, "t.yaml:6:7)\n"),
			"the note names the config and the rule, one line");
		free(notes), notes = NULL;
		json_decref(out), out = NULL;
		json_object_set_new(in, "act", json_string("exact"));
		T_EQ_INT(config_convert_params(rs, RULE_HF, in, NULL, "config.json", NULL, &out, NULL, &notes, &e), 0,
			"... and without one");
		T_OK(!notes, "null says nothing");
		json_decref(out), out = NULL;
		json_object_set_new(in, "act", json_string("bad"));
		T_OK(config_convert_params(rs, RULE_CS, in, NULL, "params.yaml", NULL, &out, NULL, &notes, &e) != 0 && !out && !notes,
			"a note that is not a string, null or false is an error");
		T_HAS(e.msg, "a note must be a string, null or false (rule ", "... saying so");
		json_decref(in);
	}

	/* config_cs_numbers: a string spelling a number, for a key typed int/float (not str), becomes it */
	rs = reload(rs, dir, path,
		"model: t\nkeys:\n  - {hf: a, cs: b}\nconfig:\n  rules:\n"
		"    - {hf: eps, cs: eps, type: float}\n    - {hf: n, cs: n, type: int}\n"
		"    - {hf: s, cs: s, type: [int, str]}\n    - {hf: w, cs: /opt.w, type: float}\n",
		"typed keys load", &e);
	if (rs) {
		static const struct {
			const char *in, *want; /* the model section before and after */
		} nums[] = {
			{"{\"eps\": \"1e-05\", \"n\": \"12\", \"s\": \"7\"}", "{\"eps\": 1e-05, \"n\": 12, \"s\": \"7\"}"},
			{"{\"eps\": \"-.5E+2\", \"n\": \"+3\"}", "{\"eps\": -50.0, \"n\": 3}"},
			{"{\"eps\": \"12\", \"n\": \"1.5\"}", "{\"eps\": 12.0, \"n\": \"1.5\"}"},
			{"{\"eps\": \"inf\", \"n\": \" 3\"}", "{\"eps\": \"inf\", \"n\": \" 3\"}"},
			{"{\"eps\": \"1e\", \"n\": \"3x\"}", "{\"eps\": \"1e\", \"n\": \"3x\"}"},
			{"{\"eps\": \".\", \"n\": \"99999999999999999999\"}", "{\"eps\": \".\", \"n\": \"99999999999999999999\"}"},
		};
		for (size_t i = 0; i < sizeof nums / sizeof *nums; i++) {
			json_t *m = json_loads(nums[i].in, 0, NULL), *want = json_loads(nums[i].want, 0, NULL);
			char *notes = NULL, *got = NULL;
			T_OK(config_cs_numbers(rs, m, NULL, "p.yaml", &notes) == 0, "%s: read", nums[i].in);
			T_OK(json_equal(m, want), "%s -> %s", nums[i].in, nums[i].want);
			if (!json_equal(m, want))
				printf("#   got %s\n", (got = json_dumps(m, JSON_COMPACT)) ? got : "?");
			T_OK((notes != NULL) == !!strcmp(nums[i].in, nums[i].want), "... with a note exactly when something was read so");
			free(got);
			free(notes);
			json_decref(m);
			json_decref(want);
		}
		json_t *m = json_pack("{ss}", "eps", "1e-05"), *params = json_pack("{s{ss}}", "opt", "w", "2.5e-1");
		char *notes = NULL;
		T_EQ_INT(config_cs_numbers(rs, m, params, "p.yaml", &notes), 0, "a rooted key too");
		T_OK(json_real_value(config_path_get(params, "opt.w")) == 0.25, "... read in the params document");
		T_OK(notes && strstr(notes, "p.yaml: eps \"1e-05\" (a string to YAML 1.1) read as the number it spells") &&
			strstr(notes, "p.yaml: /opt.w \"2.5e-1\"") && strstr(notes, "t.yaml:6:7)\n"),
			"one note line per value, naming the key and its rule");
		free(notes);
		json_decref(m);
		json_decref(params);
	}
	rule_set_free(rs);
	unlink(path);
	rmdir(dir);
	return t_done();
}
