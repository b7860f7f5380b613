/* model.h - a model's rules, loaded once for every command that needs them: the model file
 * (named by --model, detected from a config, or from the component directories an HF
 * directory holds), its includes, each component's rule set, its CS format, and for a wrapping
 * model (`wrap:`, DPO) the model inside as the config names it. convert (conv.c, and so inspect
 * and verify --against), explain, validate --config and list load models here. */
#ifndef CK_MODEL_H
#define CK_MODEL_H

#include <jansson.h>
#include <stddef.h>
#include "err.h"
#include "rule.h"

typedef struct model {
	char *path;      /* the model's rule file */
	rule_set *top;   /* the model file with its includes (a single-component model: its rules) */
	size_t n;        /* rule sets: 1 for a single-component model, else one per component */
	rule_set **sets; /* sets[i]: component i's rules, prefixed; a single-component model: top, or
	                  * the wrapped model's rules when a wrapper was opened with a config */
	rule_set *wrapped; /* a wrapper opened with a config: the model inside, its CS keys under the
	                    * wrapper's cs_prefix (sets[0]); NULL otherwise */
	const char *cs_fmt; /* the CS format: the query's (checked), else the model's newest; NULL if none */
} model;

/* Which model: the first of these given wins. */
typedef struct model_query {
	const char *rules_dir;
	const char *path;       /* the model file itself (list: each file of the rules directory) */
	const char *name;       /* a model name or alias (--model) */
	const json_t *hf, *cs;  /* configs to detect it from: HF config.json, CS params {"model": ...} */
	const char *where;      /* the config's path, for messages */
	const char *hf_dir;     /* with neither config: the model whose component directories are all here */
	const char *cs_fmt;     /* the CS format converted to or from; NULL: the model's newest */
} model_query;

/* Open the model q names. A wrapper (`wrap:`) given a config also gets the model inside: HF
 * config.json -> detected as without --model; CS params -> named by the wrap's cs_model. It must
 * be one the wrapper lists, single-component, and support the release of the CS format
 * (cs-2.9-dpo: cs-2.9). Without a config a wrapper opens alone (model_wrapped says so). *out is
 * set even on failure (model_free it). */
int model_open(const model_query *q, model **out, ck_err *e);
/* 0 unless m wraps a model it was opened without a config for: then the one-line error saying
 * a config names it (for whatever needs the wrapped model's key rules). */
int model_wrapped(const model *m, ck_err *e);
/* The model file itself (model name, components, muP, formats). */
const rule_file *model_file(const model *m);
/* Component i's entry of the model file, or NULL for a single-component model. */
const rule_comp *model_comp(const model *m, size_t i);
void model_free(model *m); /* NULL-safe */
/* Whether the CS config cs ({"model": section}) is muP by rs's `mup:` (its `invalid` first: a
 * config it names is an error, reported at where): 1 yes, 0 no (or no `mup:`), <0 error. The
 * one decision convert, inspect and validate share (expr.c's truthiness). vars: the
 * expression variables (out, cs_major, cs_minor). */
int model_mup(const rule_set *rs, json_t *cs, json_t *vars, const char *where, ck_err *e);

#endif
