/* model.h - a model's rules, loaded once for every command that needs them: the model file
 * (named by --model, detected from a config, or from the component directories an HF
 * directory holds), its includes, and each component's rule set. convert (conv.c, and so
 * inspect and verify --against), explain and validate --config load models here. */
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
	rule_set **sets; /* sets[i]: component i's rules, prefixed; a single-component model: top */
} model;

/* Which model: the first of these given wins. */
typedef struct model_query {
	const char *rules_dir;
	const char *name;       /* a model name or alias (--model) */
	const json_t *hf, *cs;  /* configs to detect it from: HF config.json, CS params {"model": ...} */
	const char *where;      /* the config's path, for messages */
	const char *hf_dir;     /* with neither config: the model whose component directories are all here */
} model_query;

int model_open(const model_query *q, model **out, ck_err *e);
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
