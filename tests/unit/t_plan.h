/* t_plan.h - for unit tests that plan: the compile stage then the plan, as conv.c runs them. */
#ifndef T_PLAN_H
#define T_PLAN_H
#include "plan.h"
#include "prog.h"

/* rs compiled for reading side `from` against hf/cs (parameters evaluated once), then src planned
 * with it. */
static inline int plan_rules(plan *p, const rule_set *rs, rule_side from, ck_tsrc *src, json_t *hf, json_t *cs,
	const plan_opts *o, ck_err *e)
{
	prog_cfg cfg = {hf, cs, NULL};
	prog *pg = NULL;
	int rc = prog_compile(rs, from, &cfg, &pg, e);
	if (!rc)
		rc = plan_add(p, pg, src, "", "", hf, cs, o, e);
	prog_free(pg);
	return rc;
}
#endif
