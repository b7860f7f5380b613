/* prog.h - the compile stage: a rule set compiled for one direction (and, when given, one
 * config) into the program plan, explain, validate and layers read instead of the rule AST.
 * Each rule's templates are parsed once and indexed by the program's ends (PROG_SRC: where
 * keys are read, PROG_DST: what they become), its chain is the direction's steps (inverses,
 * reversed, for CS -> HF), and with a config its `when` is decided and its parameters are
 * evaluated once. The direction is looked at here and nowhere after.
 * Data flow: rule_* -> prog_* (this; match_* inside) -> plan_* -> exec_*. */
#ifndef CK_PROG_H
#define CK_PROG_H

#include <jansson.h>
#include "act.h"
#include "err.h"
#include "match.h"
#include "rule.h"

/* The two ends of a compiled rule: where its keys are read and what they become. */
typedef enum { PROG_SRC = 0, PROG_DST = 1 } prog_end;

typedef struct prog_rule {
	const rule_key *key;   /* as written: position, scope, create */
	size_t n_tpl[2];
	match_tpl *tpl[2];     /* per end; n_tpl[PROG_DST] 0: the source keys are dropped */
	size_t n_step;
	act_step *step;        /* the chain in run order, kinds resolved for the direction */
	const char *over;      /* the placeholder a stack/unstack gathers over, or NULL */
	const expr *shape[2];  /* the expected shape at each end, or NULL */
	int creates;           /* makes its target keys (a one-sided `create` towards the target side;
			        * its for_each template is matched by match_for_each on the program's m) */
	int off;               /* the config makes its `when` false: the rule is not in force */
	const char *twin;      /* an absent source key of the rule is read from this key (its `tied:` at
			        * the source end, when the tie's `when` holds), or NULL */
	/* with a config: the parameters, evaluated once (inst), or why they do not evaluate (err,
	 * reported by whoever needs them: a rule no key meets may well not evaluate) */
	act_inst *inst;
	char *err;
} prog_rule;

/* The config a program is compiled against: what expressions read (config.h's config_env). */
typedef struct prog_cfg {
	json_t *hf, *cs;       /* HF config, CS params ({"model": ...}) */
	json_t *vars;          /* more names for the parameters (muP: cs_major, ...), or NULL */
} prog_cfg;

typedef struct prog {
	rule_side from, to;    /* the source side and the target side */
	const rule_set *rs;    /* the rules compiled (NULL for the muP program) */
	size_t n;
	prog_rule *r;          /* one per key rule, in rule order (match hits index it) */
	match_prog *m;         /* the source templates of the rules in force, one PCRE2 program */
} prog;

/* Compile rs for the direction reading side `from`. cfg NULL: every rule in force, parameters
 * not evaluated (validate, explain without --config). Errors: a malformed template or
 * placeholder regex (file:line:col), a `when` that does not evaluate. */
int prog_compile(const rule_set *rs, rule_side from, const prog_cfg *cfg, prog **out, ck_err *e);
/* The muP scalings of m (its tensors' CS templates, their `ops` as written: scale, unscale)
 * for the way to HF, parameters evaluated against cfg. */
int prog_compile_mup(const rule_mup *m, const prog_cfg *cfg, prog **out, ck_err *e);
void prog_free(prog *p); /* NULL-safe */

/* 1 and *out when key (source side) meets a rule in force, 0 when none, <0 on error. */
int prog_match(const prog *p, const char *key, match_hit *out, ck_err *e);

#endif
