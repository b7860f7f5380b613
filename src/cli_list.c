/* cli_list.c - `ckconv list`: every model the rule files define, each opened as convert opens it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"
#include "cscs.h"
#include "model.h"
#include "rule.h"
#include "vocab.h"

/* --actions: the vocabulary as actions.def defines it (the table docs/rules.md describes). */
static void print_actions(void)
{
	static const char *const roles[] = {[VOCAB_ROLE_CHAIN] = "action", [VOCAB_ROLE_GEN] = "generator",
		[VOCAB_ROLE_SCALE] = "scaling"};
	for (int i = 0; i < VOCAB__COUNT; i++) {
		const vocab_def *d = vocab_get((vocab_kind)i);
		char params[160] = "";
		for (int j = 0; j < VOCAB_MAX_PARAMS && d->p[j].name; j++)
			snprintf(params + strlen(params), sizeof params - strlen(params), "%s%s%s", j ? ", " : "", d->p[j].name,
				d->p[j].required ? "" : "?");
		printf("%-18s %-9s inverse %-18s (%s)  %s\n", d->name, roles[d->role],
			d->role == VOCAB_ROLE_GEN ? "-" : vocab_name(d->inverse), params, d->doc);
	}
}

static void join(char *buf, size_t n, char **v, size_t cnt)
{
	buf[0] = '\0';
	for (size_t i = 0; i < cnt; i++)
		snprintf(buf + strlen(buf), n - strlen(buf), "%s%s", i ? ", " : "", v[i]);
}

static json_t *str_array(char **v, size_t n)
{
	json_t *a = json_array();
	for (size_t i = 0; a && i < n; i++)
		json_array_append_new(a, json_string(v[i]));
	return a;
}

/* --json: a wrapping model's `wrap:` (the models it may hold, their CS prefix, the copy's), or null. */
static json_t *wrap_json(const rule_wrap *w)
{
	if (!w)
		return json_null();
	return json_pack("{s:o, s:s, s:o}", "models", str_array(w->models, w->n_models), "cs_prefix", w->cs_prefix, "copy",
		w->copy ? json_string(w->copy) : json_null());
}

/* --json: one model as an object. */
static json_t *model_json(const rule_file *f)
{
	json_t *comps = json_array();
	for (size_t c = 0; comps && c < f->n_comp; c++)
		json_array_append_new(comps, json_pack("{s:s, s:s, s:s}", "dir", f->comp[c].dir, "rules", f->comp[c].rules,
			"config", f->comp[c].config));
	return json_pack("{s:s, s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "model", f->model, "rules", f->path, "aliases",
		str_array(f->alias, f->n_alias), "architectures", str_array(f->arch, f->n_arch), "formats",
		str_array(f->fmt, f->n_fmt), "cs_names", str_array(f->cs_name, f->n_cs_name), "components", comps, "wrap",
		wrap_json(f->wrap), "note", f->note ? json_string(f->note) : json_null());
}

static void print_model(const rule_file *f, int notes)
{
	char al[256], ar[256], fm[512], cn[256];
	join(al, sizeof al, f->alias, f->n_alias);
	join(ar, sizeof ar, f->arch, f->n_arch);
	join(fm, sizeof fm, f->fmt, f->n_fmt);
	join(cn, sizeof cn, f->cs_name, f->n_cs_name);
	printf("\n%s%s%s%s\n", f->model, al[0] ? " (aliases: " : "", al, al[0] ? ")" : "");
	printf("  formats:       hf <-> %s (each usable in both directions)\n", fm);
	if (ar[0])
		printf("  architectures: %s\n", ar);
	if (cn[0])
		printf("  CS names:      %s (params model.name)\n", cn);
	if (f->wrap) {
		join(ar, sizeof ar, f->wrap->models, f->wrap->n_models);
		printf("  wraps:         %s (CS keys under %s%s%s)\n", ar, f->wrap->cs_prefix, f->wrap->copy ? ", copied under " : "",
			f->wrap->copy ? f->wrap->copy : "");
	}
	for (size_t c = 0; c < f->n_comp; c++)
		printf("  component %zu:   DIR/%s/ (config.json + weights) <-> CS keys by rules '%s', config under model.%s\n",
			c + 1, f->comp[c].dir, f->comp[c].rules, f->comp[c].config);
	if (f->n_comp)
		printf("  layout:        convert DIR (holding %s%s) -> one OUT.mdl + OUT.yaml; back: OUT/<component>/\n",
			f->comp[0].dir, f->n_comp > 1 ? "/, ..." : "/");
	if (notes && f->note)
		printf("  note:          %s\n", f->note);
}


const char cli_list_usage[] =
	"usage: ckconv list [MODEL|all] [--json] [--rules DIR] [--hide-notes] [--actions] [--releases]\n\nLists each model (or "
	"MODEL, a name or alias) with its aliases, HF architectures, formats (both\ndirections) and notes; "
	"--actions lists the actions, generators and scalings rule files\nmay name; --releases every CS <-> CS "
	"release pair of each model and its steps (or why it is refused). list-converters is "
	"another name for list.\n--json: one JSON object (rules, models [{model, rules, aliases, architectures, "
	"formats,\ncs_names, components [{dir, rules, config}], wrap {models, cs_prefix, copy} or null, note}]).\n";

const struct option cli_list_opts[] = {{"rules", required_argument, NULL, 'r'}, {"hide-notes", no_argument, NULL, 'n'},
	{"actions", no_argument, NULL, 'a'}, {"releases", no_argument, NULL, 'R'}, {"json", no_argument, NULL, 'j'}, {"help", no_argument, NULL, 'h'},
	{NULL, 0, NULL, 0}};

int cli_list(int argc, char **argv, ck_err *e)
{
	const char *rules = NULL, *only = NULL;
	int notes = 1;
	int releases = 0, json = 0;
	const char *v;
	int c;
	for (optind = 0; (c = cli_getopt(argc, argv, "list", "h", cli_list_opts, &v, e)) != -1;) {
		switch (c) {
		case CLI_OPT_ERROR: return CK_EINVALID;
		case 'r': rules = v; break;
		case 'n': notes = 0; break;
		case 'a': print_actions(); return 0;
		case 'R': releases = 1; break;
		case 'j': json = 1; break;
		case 'h':
			fputs(cli_list_usage, stdout);
			return 0;
		default:
			if (only)
				return ck_errf(e, CK_EINVALID, "list: unexpected argument '%s'", v);
			only = strcmp(v, "all") ? v : NULL;
		}
	}
	if (releases && json)
		return ck_errf(e, CK_EUSAGE, "list: --json lists the models; --releases prints text only");
	if (releases)
		return cscs_list(rules, only, stdout, e);
	char *dir = cli_rules_dir(rules), **paths;
	size_t n;
	int rc = rule_list_models(dir, &paths, &n, e);
	if (rc) {
		free(dir);
		return rc;
	}
	if (only) { /* one model: its file, as convert finds it (a name or an alias, any case) */
		char *path = NULL;
		ck_err tmp = {0};
		int found = cli_find_model(dir, only, &path, &tmp) == 0;
		for (size_t i = 0; i < n; i++)
			if (!found || strcmp(paths[i], path)) {
				free(paths[i]);
				paths[i] = NULL;
			}
		free(path);
		if (!found) {
			for (size_t i = 0; i < n; i++)
				free(paths[i]);
			free(paths);
			free(dir);
			return ck_errf(e, CK_ENOTFOUND, "%s", tmp.msg);
		}
	}
	json_t *models = json ? json_array() : NULL;
	if (!json)
		printf("rules: %s\n", dir);
	for (size_t i = 0; i < n; i++) {
		if (!paths[i])
			continue;
		/* each model as convert opens it (model.c): one whose includes or components do not load
		 * is named on stderr, not listed as if it converted */
		model *m = NULL;
		ck_err tmp = {0};
		model_query q = {.rules_dir = dir, .path = paths[i]};
		if (model_open(&q, &m, &tmp) == 0) {
			if (json)
				json_array_append_new(models, model_json(model_file(m)));
			else
				print_model(model_file(m), notes);
		} else {
			fprintf(stderr, "ckconv: list: not listed: %s (see ckconv validate %s)\n", tmp.msg, paths[i]);
		}
		model_free(m);
		free(paths[i]);
	}
	if (json)
		rc = cli_json_print(json_pack("{s:s, s:o}", "rules", dir, "models", models), e);
	free(paths);
	free(dir);
	return rc;
}
