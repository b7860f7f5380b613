/* act.h - the action vocabulary. Each action has parameters, a shape rule, an inverse and a
 * byte kernel; rule files name them, and CS -> HF runs a chain's inverses in reverse order.
 * Pure byte moves never look at values, so they are exact for every dtype. */
#ifndef CK_ACT_H
#define CK_ACT_H

#include "err.h"
#include "rule.h"
#include "tensor.h"

typedef enum {
	ACT_COPY, ACT_TRANSPOSE, ACT_ROPE_INTERLEAVE, ACT_ROPE_DEINTERLEAVE, ACT_SPLIT, ACT_CONCAT,
	ACT_STACK, ACT_UNSTACK, ACT_DUPLICATE, ACT_FIRST, ACT_ROLL, ACT__COUNT
} act_kind;

/* An action with its parameters evaluated. */
typedef struct act_inst {
	act_kind kind;
	long long groups, dim, axis, parts, shift;
	char over[32];
	rule_pos pos;
} act_inst;

/* A tensor flowing through a chain. data == NULL while planning (shapes only). */
typedef struct act_t {
	ck_dtype dtype;
	ck_shape shape;
	uint64_t nbytes;
	void *data;
	int owned;   /* data is ours to free */
	int missing; /* an optional source slot that was not present */
} act_t;

typedef struct act_list {
	size_t n;
	act_t *t;
} act_list;

/* Evaluates parameters: returns 0 and *out, CK_ENOTFOUND if the parameter is absent. */
typedef int (*act_param_fn)(void *ctx, const rule_param *p, long long *out, ck_err *e);

/* Resolve a rule's chain for a direction (0 = HF->CS as written, 1 = CS->HF: inverses,
 * reversed). n_targets sizes split/duplicate when not given. *out is malloc'd. */
int act_chain_resolve(const rule_key *k, int dir, size_t n_targets, act_param_fn fn, void *ctx,
	act_inst **out, size_t *out_n, ck_err *e);
/* Look up an action by name (for validation). Returns 0 or CK_ENOTFOUND with a suggestion. */
int act_lookup(const rule_act *a, act_kind *out, ck_err *e);
const char *act_name(act_kind k);
/* Check every action of every key rule: known name, known parameter names, required ones
 * present. Reports the first problem with its position. */
int act_check_rules(const rule_set *s, ck_err *e);

/* Run the chain on in (consumed: owned buffers are freed or moved) producing out.
 * When planning, data stays NULL and only dtypes and shapes are computed. */
int act_chain_run(const act_inst *a, size_t n, int planning, act_list *in, act_list *out, ck_err *e);
void act_list_dispose(act_list *l);

/* Multiply (or divide) every element by a scalar the way PyTorch's `tensor * scalar` does:
 * computed in float32 (float64 for f64 tensors) and rounded to the tensor's dtype
 * (round-to-nearest-even); division multiplies by the reciprocal, as PyTorch's CPU kernel
 * does for a scalar divisor. Floating dtypes only. */
int act_scale(ck_dtype dt, void *data, uint64_t nbytes, int div, double by, ck_err *e);

/* Generators for synthesised tensors. value is the fill value; tril writes lower-triangular
 * ones over the last two dims. data must hold nbytes. */
int act_gen_fill(ck_dtype dt, const ck_shape *s, double value, void *data, ck_err *e);
int act_gen_tril(ck_dtype dt, const ck_shape *s, void *data, ck_err *e);
/* 0, 1, 2, ... along the last dim (BERT position_ids). */
int act_gen_arange(ck_dtype dt, const ck_shape *s, void *data, ck_err *e);
/* Uniform in [-bound, bound) from a fixed-seed generator (splitmix64): reproducible run to run,
 * the same distribution as PyTorch's init but not its exact numbers. */
int act_gen_uniform(ck_dtype dt, const ck_shape *s, double bound, unsigned long long seed, void *data, ck_err *e);

#endif
