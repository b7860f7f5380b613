/* rule.h - load rule files (YAML) into a rule set: model metadata, key rules with their
 * templates and action chains, and config rules. Every node keeps file:line:col.
 * Data flow: rule_* (this) -> match_* -> plan_* -> exec_*. */
#ifndef CK_RULE_H
#define CK_RULE_H

#include <jansson.h>
#include "err.h"
#include "expr.h"
#include "vocab.h"
#include "ydoc.h"

/* The two sides of a conversion. A direction is named by its source side: HF -> CS is RULE_HF
 * (the `dir` 0 of match, plan and config), CS -> HF is RULE_CS. */
typedef enum { RULE_HF = 0, RULE_CS = 1 } rule_side;
/* "hf" / "cs" (as rule files spell the sides) and "HF" / "CS" (as messages do). */
const char *rule_side_name(rule_side s);
const char *rule_side_label(rule_side s);

typedef struct rule_pos {
	const char *file; /* borrowed from the owning rule_file */
	int line, col;
} rule_pos;

/* One parameter of an action as written: either an expression or a bare word. */
typedef struct rule_param {
	char *name;
	char *text;  /* the scalar as written */
	expr *x;     /* parsed expression, NULL for non-scalar values */
	int slot;    /* index of this parameter in the action's spec (actions.def) */
	rule_pos pos;
} rule_param;

/* One action of a chain, its name and parameters checked against actions.def at load. */
typedef struct rule_act {
	char *name;
	char *via;         /* "F (FILE:LINE:COL)": the function F whose step (written there) this is, else NULL */
	vocab_kind kind;
	rule_pos pos;
	size_t n;
	rule_param *p;
} rule_act;

struct rule_file;

/* A key rule after includes are flattened: templates already carry the include prefixes. */
typedef struct rule_key {
	const struct rule_file *scope; /* placeholders and `let` values come from here */
	rule_pos pos;
	size_t n_tpl[2];   /* per side (rule_side) */
	char **tpl[2];     /* templates; n_tpl 0 means the key exists on the other side only */
	size_t n_act;
	rule_act *act;     /* chain as written, applied HF -> CS; CS -> HF runs the inverses reversed */
	/* create: synthesise the one-sided key when converting towards its side (unless a rule
	 * already produced it), once per match of for_each (a template on the other side) or once
	 * per value of for_list bound to for_name. */
	char *for_each;
	char *for_name;
	expr *for_list;
	int creates;       /* the rule has a `create:` */
	vocab_kind gen;    /* its generator (a VOCAB_ROLE_GEN entry: fill, tril, ...) */
	expr *gen_value;   /* fill value, uniform bound */
	long long gen_seed;
	char *gen_dtype;
	expr *gen_shape;   /* expression giving a list of ints */
	/* shape: the expected shape of every tensor of the rule on each side ([0] HF, [1] CS), from
	 * the config: an expression giving a list of ints (null items: any size), null for no
	 * check; NULL when the rule states none for that side. */
	expr *shape[2];
	rule_pos shape_pos;
	/* when: the rule exists only where this config expression holds (both directions; a
	 * disabled rule matches nothing, so later rules get its keys); NULL: always. */
	expr *when;
	/* tied: {hf: KEY, cs: KEY, when: EXPR}: the rule's keys on a side are tied duplicates that a
	 * checkpoint may leave out (HF's save_pretrained keeps one name of a tied group): converting
	 * from that side, an absent source key of the rule is read from twin[side] instead, when
	 * twin_when holds (NULL: always). Literal keys only (checked at load); NULL: no twin. */
	char *twin[2];
	expr *twin_when;
	rule_pos twin_pos;
} rule_key;

typedef struct rule_ph {
	char *name;
	char *regex;
	rule_pos pos;
} rule_ph;

typedef struct rule_let {
	char *name;
	expr *x;           /* owned unless borrowed */
	int borrowed;      /* from an included file (`let: {include: NAME}`), which owns x */
	rule_pos pos;
} rule_let;

/* Value types a config rule may demand of the keys it reads (`type:`); int values are floats too. */
enum { RULE_T_INT = 1, RULE_T_FLOAT = 2, RULE_T_BOOL = 4, RULE_T_STR = 8, RULE_T_NULL = 16, RULE_T_LIST = 32,
	RULE_T_MAP = 64 };
/* "int or null" for a set of RULE_T_* bits, into buf (always terminated). */
const char *rule_types_str(unsigned types, char *buf, size_t n);

/* One config rule (see docs/rules.md). Every pair of side-specific fields is indexed by
 * rule_side, so a direction reads [from] and writes [to] with no choosing between fields. */
typedef struct rule_cfg {
	rule_pos pos;
	size_t n_key[2];
	char **key[2];        /* keys (dotted paths allowed) on each side: key[RULE_HF] is `hf:` */
	json_t *map;          /* value map as [[hf value, cs value], ...] (`map:` HF -> CS), or NULL */
	json_t *require;      /* required value or array of allowed values, or NULL */
	size_t n_set[2];
	char **set_key[2];    /* values computed for a side: set[RULE_CS] is `to_cs:` (run on the way to CS) */
	expr **set[2];
	expr *check[2];       /* check[RULE_HF] is `check_hf:`: must be true when converting from that side */
	expr *note[2];        /* note[RULE_HF] is `note_hf:`: a string to tell the user (or null) when converting from that side */
	int drop;             /* key(s) are known and intentionally not carried over */
	unsigned types;       /* RULE_T_* bits every key read on the source side must match; 0: any */
	size_t n_let;
	rule_let *let;        /* names local to this rule's expressions, evaluated when first read */
} rule_cfg;

/* One component of a multi-component model (LLaVA: image_model + text_model). */
typedef struct rule_comp {
	rule_pos pos;
	char *dir;        /* HF sub-directory */
	char *rules;      /* rule set converting it (file name without .yaml) */
	char *config;     /* key under the CS params `model:` holding its config */
	const char *section[2]; /* its key in a model-level config of each side: [RULE_HF] dir, [RULE_CS] config */
	char *hf_prefix, *cs_prefix; /* added to every key template of that rule set */
	size_t n_files;
	char **files;     /* non-tensor files carried along (glob patterns) */
	size_t n_make;
	char **make_name; /* files written on the way to HF, from an expression giving JSON */
	expr **make;
} rule_comp;

/* muP -> standard parametrisation on the way to HF: detection, per-tensor scalings, config edits. */
/* `mup: {include: NAME, ...}` takes NAME's muP section and overrides what the includer writes:
 * its own detect/invalid/drop/set replace NAME's, its tensors are added after NAME's. The
 * included file stays loaded (rule_file.inc) and owns what is borrowed from it. */
typedef struct rule_mup {
	rule_pos pos;
	const struct rule_file *scope; /* the file detect and invalid were written in (their `let`) */
	expr *detect;            /* true for a muP checkpoint (reads cs.model.*, cs_minor) */
	expr *invalid;           /* true for an inconsistent one: an error with invalid_msg */
	char *invalid_msg;
	size_t n_tensors, n_borrowed; /* tensors[0 .. n_borrowed) are the included file's */
	rule_key *tensors;       /* cs templates only (tpl[RULE_CS]); act: scale/unscale steps (`ops:`) */
	size_t n_drop;
	char **drop;             /* CS config keys removed */
	json_t *set;             /* CS config values forced */
	unsigned own;            /* RULE_MUP_OWN_* bits: the fields this file wrote (and frees) */
} rule_mup;
enum { RULE_MUP_OWN_DETECT = 1, RULE_MUP_OWN_INVALID = 2, RULE_MUP_OWN_DROP = 4 };

/* `wrap:` a model that holds another model file's model under a CS prefix (DPO's policy model),
 * picked per conversion: from the HF config as without --model (one of `models`), from the CS
 * params by `cs_model`. Every CS tensor is also written under `copy` (DPO's reference model: one
 * read, two datasets), and keys under `copy` are dropped on the way back. */
typedef struct rule_wrap {
	rule_pos pos;
	size_t n_models;
	char **models;        /* the model names it may wrap */
	expr *cs_model;       /* CS -> HF: the wrapped model's name (over cs.model) */
	char *cs_prefix;      /* added to every CS template of the wrapped model's rules */
	char *copy;           /* the copy's prefix, replacing cs_prefix; NULL: none */
} rule_wrap;

typedef struct rule_file {
	char *path;
	ydoc_doc *doc;
	char *model;          /* NULL for a shared piece */
	size_t n_alias, n_arch, n_fmt, n_cs_name;
	char **alias, **arch, **fmt; /* formats on the CS side, e.g. cs-2.1 .. cs-2.9 */
	char **cs_name;       /* CS params model.name values this family converts (detection) */
	expr *cs_when;        /* ... when this holds over cs.model too (NULL: always) */
	char *hf_model_type, *note;
	size_t n_ph, n_let;
	rule_ph *ph;
	rule_let *let;
	json_t *defaults[2];  /* per side: filled into a config read from it (`hf_defaults`, `cs_defaults`) */
	json_t *out[2];       /* per side: filled into a config written for it (`hf_out`, `cs_out`) */
	size_t n_cfg;
	rule_cfg *cfg;
	size_t n_files;
	char **files;         /* non-tensor files carried along (single-component models) */
	size_t n_comp;
	rule_comp *comp;
	rule_mup *mup;        /* NULL when the file says nothing about muP */
	size_t n_inc;
	struct rule_file **inc; /* shared pieces its placeholders/let/mup include (owned) */
	char *layers_ph;      /* `layers:` the placeholder numbering layers, or NULL */
	expr *layers_count;   /* ... and how many the config implies */
	rule_pos layers_pos;
	/* config.hf_nested: an HF config of this model_type is a composite one (a whole CLIPModel):
	 * its section `take` (vision_config) is the config these rules convert */
	char *hf_nested_type, *hf_nested_take;
	struct fn_table *fns; /* `functions:` (fn.h): its own and its included pieces', or NULL */
	/* config.cs_layout: the CS model section as the release writes it (to_cs, applied last on the
	 * way to CS) and back to the section the rules read (to_hf, applied first); NULL: the same */
	expr *layout[2];      /* by the side it is for: [RULE_CS] is to_cs, [RULE_HF] to_hf */
	rule_pos layout_pos;
	rule_wrap *wrap;      /* `wrap:`, or NULL */
} rule_file;

typedef struct rule_set {
	char *dir;
	size_t n_files;
	rule_file **files;    /* files[0] is the model's own file */
	size_t n_keys;
	rule_key *keys;
} rule_set;

/* Load the model file `path` and everything it includes (looked up in the same directory).
 * Reports the first problem as "file:line:col: message". */
int rule_set_load(const char *path, rule_set **out, ck_err *e);
void rule_set_free(rule_set *s);

/* Like rule_set_load, with prefixes added to every key template (a component's rules). */
int rule_set_load_prefixed(const char *path, const char *hf_prefix, const char *cs_prefix, rule_set **out, ck_err *e);
/* The rule sets of a multi-component model's components, in the order of top's `components:`,
 * each with its prefixes (the one loop convert, explain and validate share). *out has
 * top->files[0]->n_comp sets; a missing file is named at its component. */
int rule_load_components(const rule_set *top, rule_set ***out, ck_err *e);
void rule_components_free(rule_set **v, size_t n); /* NULL-safe */
/* Component i of top alone (validate reports every broken component, not the first). */
int rule_load_component(const rule_set *top, size_t i, rule_set **out, ck_err *e);
/* Path of rule set `name` next to the file `from` (malloc'd). */
char *rule_sibling(const char *from, const char *name);

/* One action as written (a name or {name: {param: value}}; a list value is the expression
 * "[a, b]"), resolved against actions.def: unknown names and parameters are errors. fn.c parses
 * function bodies with it. */
int rule_act_parse(const rule_file *f, const ydoc_node *n, rule_act *a, ck_err *e);
void rule_act_dispose(rule_act *a);

/* Load one file on its own (no include resolution) - used by list and detection. */
int rule_file_load(const char *path, rule_file **out, ck_err *e);
void rule_file_free(rule_file *f);

/* Find the rule file for a model name or alias in dir; CK_ENOTFOUND lists the known models. */
int rule_find_model(const char *dir, const char *name, char **out_path, ck_err *e);
/* Find the model whose architectures / hf_model_type (hf config) or cs_name (CS params) match;
 * `where` names the config file in the CK_ENOTFOUND message (NULL: a generic name). */
int rule_detect_model(const char *dir, const json_t *hf_cfg, const json_t *cs_params, const char *where,
	char **out_path, ck_err *e);
/* The first model file in dir (sorted by model name) that pred accepts; CK_ENOTFOUND, without a
 * message, when none does. */
int rule_first_model(const char *dir, int (*pred)(const rule_file *, const void *), const void *arg,
	char **out_path, ck_err *e);
/* Every model file in dir, sorted by model name (paths malloc'd; free each and the array). */
int rule_list_models(const char *dir, char ***out, size_t *out_n, ck_err *e);

/* Regex text of a placeholder visible from scope, or NULL. */
const char *rule_ph_regex(const rule_file *scope, const char *name);
/* 1 if fmt (e.g. "cs-2.9") is among the file's CS formats. */
int rule_has_format(const rule_file *f, const char *fmt);

#endif
