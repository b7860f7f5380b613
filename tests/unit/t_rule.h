/* t_rule.h - for unit tests that load rule files: text written to a scratch directory and
 * loaded with its includes, as rule.c loads a model file. */
#ifndef T_RULE_H
#define T_RULE_H
#include "rule.h"
#include "t.h"

/* DIR/NAME (first written with text, unless NULL) loaded as a rule set; NULL with e set when the
 * loader refuses it. */
static inline rule_set *t_rules(const char *dir, const char *name, const char *text, ck_err *e)
{
	rule_set *s = NULL;
	if (text)
		t_put(dir, name, text);
	ck_err_clear(e);
	rule_set_load(t_at(dir, name), &s, e);
	return s;
}

/* A rule file the loader must refuse (CK_EINVALID), its error naming want (position, message). */
static inline void t_rules_refused(const char *dir, const char *name, const char *text, const char *want,
	const char *what)
{
	ck_err e = {0};
	rule_set *s = t_rules(dir, name, text, &e);
	T_OK(!s && e.code == CK_EINVALID, "refused: %s", what);
	T_HAS(e.msg, want, what);
	rule_set_free(s);
}
#endif
