/* vocab.h - the transform vocabulary (actions, generators, scalings) expanded from
 * actions.def: names, declared inverses, parameter specs, lookup with a suggestion.
 * Knows nothing of rule files or tensors; rule.c resolves names through it at load. */
#ifndef CK_VOCAB_H
#define CK_VOCAB_H

#include <stddef.h>

typedef enum {
#define X(id, ...) VOCAB_##id,
#include "actions.def"
#undef X
	VOCAB__COUNT
} vocab_kind;

/* What an entry is for; a bit set of these selects entries in vocab_lookup. */
typedef enum { VOCAB_ROLE_CHAIN = 1, VOCAB_ROLE_GEN = 2, VOCAB_ROLE_SCALE = 4 } vocab_role;
#define VOCAB_ROLES_ACTION (VOCAB_ROLE_CHAIN | VOCAB_ROLE_SCALE) /* what `action:` may name */

typedef enum { VOCAB_P_INT, VOCAB_P_NUM, VOCAB_P_COND, VOCAB_P_PLACEHOLDER, VOCAB_P_VALUE, VOCAB_P_LIST } vocab_ptype;

#define VOCAB_MAX_PARAMS 4

typedef struct vocab_param {
	const char *name; /* NULL ends the list */
	vocab_ptype type;
	int required;
} vocab_param;

typedef struct vocab_def {
	const char *name;
	vocab_kind inverse;
	vocab_role role;
	const char *doc;
	vocab_param p[VOCAB_MAX_PARAMS];
} vocab_def;

const vocab_def *vocab_get(vocab_kind k);
const char *vocab_name(vocab_kind k);
/* 0 and *out when name is an entry with one of the roles; -1 when not. */
int vocab_lookup(const char *name, unsigned roles, vocab_kind *out);
/* For an unknown name: "did you mean 'x'?" when one is close, else "known: a, b, ...". */
void vocab_suggest(const char *name, unsigned roles, char *buf, size_t n);
/* Index of parameter name in k's spec, or -1. */
int vocab_param_index(vocab_kind k, const char *name);
/* Index of k's placeholder parameter (stack's `over`), or -1. */
int vocab_placeholder_param(vocab_kind k);

#endif
