/* Unit tests for vocab.c: the table actions.def expands to is consistent (inverses pair up,
 * parameters are unique, one placeholder parameter at most) and lookups respect roles. */
#include <stdio.h>
#include <string.h>
#include "t.h"
#include "vocab.h"

int main(void)
{
	vocab_kind k;
	char buf[400];
	for (int i = 0; i < VOCAB__COUNT; i++) {
		const vocab_def *d = vocab_get((vocab_kind)i);
		int ph = 0, dup = 0;
		if (d->role != VOCAB_ROLE_GEN)
			T_EQ_INT(vocab_get(d->inverse)->inverse, i, "the inverse of the inverse of an action is itself");
		for (int j = 0; j < VOCAB_MAX_PARAMS && d->p[j].name; j++) {
			ph += d->p[j].type == VOCAB_P_PLACEHOLDER;
			for (int m = 0; m < j; m++)
				dup |= !strcmp(d->p[j].name, d->p[m].name);
		}
		T_OK(ph <= 1 && !dup, "%s: unique parameters, at most one placeholder", d->name);
		T_OK(vocab_lookup(d->name, d->role, &k) == 0 && k == (vocab_kind)i, "%s is found by its name", d->name);
	}
	T_OK(vocab_lookup("fill", VOCAB_ROLES_ACTION, &k) != 0, "a generator is not an action");
	T_OK(vocab_lookup("fill", VOCAB_ROLE_GEN, &k) == 0 && k == VOCAB_FILL, "but a generator");
	T_OK(vocab_lookup("scale", VOCAB_ROLES_ACTION, &k) == 0, "scale is an action too");
	T_EQ_INT(vocab_placeholder_param(VOCAB_STACK), vocab_param_index(VOCAB_STACK, "over"), "stack gathers over `over`");
	T_EQ_INT(vocab_placeholder_param(VOCAB_TRANSPOSE), -1, "transpose has no placeholder parameter");
	vocab_suggest("rope_interlave", VOCAB_ROLES_ACTION, buf, sizeof buf);
	T_EQ_STR(buf, "did you mean 'rope_interleave'?", "a near miss is suggested");
	vocab_suggest("qqqqqqqqqq", VOCAB_ROLE_GEN, buf, sizeof buf);
	T_EQ_STR(buf, "known: fill, tril, arange, uniform, normal, inv_freq, alibi_slopes", "else the known names of the role are listed");
	return t_done();
}
