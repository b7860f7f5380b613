/* config.h - config conversion by rules: HF config.json <-> the CS params `model:` section,
 * and the evaluation environment (hf, cs, `let` names) shared with action parameters. */
#ifndef CK_CONFIG_H
#define CK_CONFIG_H

#include <jansson.h>
#include "err.h"
#include "expr.h"
#include "rule.h"

/* What expressions see: `hf.<key>` (HF config), `cs.model.<key>` (CS params), and the
 * `let` names of scope. */
typedef struct config_env {
	json_t *hf, *cs;
	const rule_file *scope;
	json_t *vars; /* more names (placeholder bindings, `out`), or NULL */
	const rule_let *rule_let; /* the `let` names of the config rule being applied (n_rule_let) */
	size_t n_rule_let;
	int depth;
} config_env;

/* *out: new reference, or NULL when the value is absent. */
int config_eval(config_env *env, const expr *x, json_t **out, ck_err *e);
/* Evaluate to an integer (floats with no fraction accepted); absent is an error. */
int config_eval_int(config_env *env, const expr *x, long long *out, ck_err *e);

/* Convert a model config read from side `from`: RULE_HF: src = HF config.json object, *out = CS
 * model section; RULE_CS: src = CS model section, *out = HF config. *warn (malloc'd, or NULL) lists source
 * keys no rule consumed. `where` names the source file for messages. */
int config_convert(const rule_set *rs, rule_side from, const json_t *src, const char *where, json_t **out, char **warn,
	ck_err *e);
/* Same, with extra names for expressions (e.g. `out`, the output paths of components). */
int config_convert_vars(const rule_set *rs, rule_side from, const json_t *src, const char *where, json_t *vars, json_t **out,
	char **warn, ck_err *e);

/* Same, within the CS params document: a CS key written `/a.b` in a config rule is rooted at params
 * instead of the model section. from RULE_CS: params is the document read (borrowed; NULL: none),
 * also what `cs.<section>` reads in expressions; from RULE_HF: rooted keys are written into params
 * (an object the caller merges beside `model:`; NULL drops them). */
/* *notes (when notes is not NULL): what the rules' `note_hf:` / `note_cs:` tell the user about this
 * config, one "WHERE: TEXT (rule FILE:LINE:COL)" line each (malloc'd), or NULL. */
int config_convert_params(const rule_set *rs, rule_side from, const json_t *src, json_t *params, const char *where,
	json_t *vars, json_t **out, char **warn, char **notes, ck_err *e);

/* Before anything reads a CS model section: a string in it that spells a number (YAML 1.1 reads
 * "1e-05" as a string; ModelZoo's config classes take it as the number, so the model trained with
 * that) becomes the number, for each CS key a config rule types int/float but not str; params holds
 * the rooted keys (`/a.b`; NULL: none). *notes: one "WHERE: ... (rule ...)" line per value read so
 * (malloc'd), or NULL. 0, or -1 when out of memory. */
int config_cs_numbers(const rule_set *rs, json_t *model, json_t *params, const char *where, char **notes);

/* The top-level keys of cfg (a config of side `side`: an HF config, a CS model section) that no
 * config rule of rs mentions, nor a component section or muP key: comma-separated (malloc'd), or NULL. */
char *config_unaccounted(const rule_set *rs, rule_side side, const json_t *cfg);

/* Dotted-path access into nested objects ("moe.num_experts"). get returns borrowed or NULL. */
json_t *config_path_get(const json_t *obj, const char *path);
/* CS params' model section (borrowed): `model`, else trainer-style `trainer.init.model` (ModelZoo
 * 2.4+); NULL when neither is there. */
json_t *config_params_model(const json_t *params);
/* Sets (new reference taken over: the call steals v). -1 if an intermediate is not an object. */
int config_path_set(json_t *obj, const char *path, json_t *v);
/* A composite HF config the rules name in `config.hf_nested` (model_type clip: a whole CLIPModel
 * config) is replaced in *hf by its nested section (vision_config), as the reference does; *note
 * (malloc'd, or NULL when nothing changed) says what was taken and which other keys are dropped.
 * A composite config without that section is an error naming it. */
int config_hf_nested(const rule_set *rs, json_t **hf, const char *where, char **note, ck_err *e);
/* `config.cs_layout`: *model (a CS model section, replaced) rewritten for side `to`: to_cs (RULE_CS:
 * the section the rules built -> the release's layout) or to_hf (RULE_HF: the params' layout -> the one the rules
 * read); vars as config_convert_vars (cs_major, cs_minor). Without cs_layout *model is left alone. */
int config_layout(const rule_set *rs, rule_side to, json_t **model, json_t *vars, const char *where, ck_err *e);

#endif
