/* fn.h - rule-file functions: a named action defined in a `functions:` section as a chain of
 * primitives (actions.def) whose parameters are bound at the call site, and the derivation of
 * every chain's inverse. A call expands, when the rule file loads, into the function's steps
 * with each parameter replaced by the call's expression, so nothing after the loader knows
 * functions exist. The inverse is derived, never written: each primitive's inverse is computable
 * from its own parameters, and fn_derive completes those that need the forward chain's shapes
 * (flatten's `sizes`, from the sizes an earlier unflatten gave the merged axes) or refuses the
 * chain with the step's file:line:col. Knows YAML nodes and rule_act; nothing of tensors. */
#ifndef CK_FN_H
#define CK_FN_H

#include "rule.h"

typedef struct fn_def {
	char *name;
	char *doc;       /* the definition's `doc:`, or NULL */
	rule_pos pos;
	size_t n_params;
	char **params;
	size_t n_steps;
	rule_act *steps; /* primitives only (calls inside expanded), completed by fn_derive */
} fn_def;

typedef struct fn_table fn_table;

/* Parse the definitions of a `functions:` mapping (NAME: {params: [...], steps: [...], doc: TEXT};
 * an `include` entry is skipped: the caller loads those pieces and passes their tables in inc,
 * which must outlive *out). A definition sees the included functions and those defined before it.
 * Every error names its file:line:col. */
int fn_table_parse(const rule_file *f, const ydoc_node *sec, const fn_table *const *inc, size_t n_inc, fn_table **out,
	ck_err *e);
void fn_table_free(fn_table *t); /* NULL-safe */

/* The function name visible from t (its own first, then its includes'), or NULL. t may be NULL. */
const fn_def *fn_lookup(const fn_table *t, const char *name);
/* t's own definitions, in file order. */
size_t fn_table_count(const fn_table *t);
const fn_def *fn_table_at(const fn_table *t, size_t i);

/* The name a chain step (a scalar or a one-entry mapping) calls, or NULL. */
const char *fn_step_name(const ydoc_node *step);
/* Expand a call of d written at node call (in file f): appends d's steps, their parameters bound
 * to the call's expressions, to *acts (realloc'd; *n counts). */
int fn_expand(const fn_def *d, const rule_file *f, const ydoc_node *call, rule_act **acts, size_t *n, ck_err *e);
/* Parse a chain written at n in file f (a step or a list of steps; vis: the functions visible
 * there): calls expanded, primitives resolved against actions.def, the inverse derived.
 * *acts is malloc'd (also on error: *cnt counts what to dispose). */
int fn_chain_parse(const fn_table *vis, const rule_file *f, const ydoc_node *n, rule_act **acts, size_t *cnt, ck_err *e);
/* Check that the chain acts[0..n) can be inverted and complete what the inverses need from the
 * forward shapes; a chain that cannot be inverted is an error at the offending step. */
int fn_derive(rule_act *acts, size_t n, ck_err *e);

#endif
