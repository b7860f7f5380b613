/* act.h - the byte kernels of the vocabulary (actions.def, expanded by vocab.h): chain
 * resolution for a direction (CS -> HF runs a chain's inverses in reverse order), the
 * chain runner (shapes only while planning), scaling and the generators.
 * Pure byte moves never look at values, so they are exact for every dtype. */
#ifndef CK_ACT_H
#define CK_ACT_H

#include "err.h"
#include "rule.h"
#include "tensor.h"
#include "vocab.h"

#define ACT_MAX_LIST 8 /* items of a list parameter (sizes, axes, order) */

/* An action with its parameters evaluated. */
typedef struct act_inst {
	vocab_kind kind;
	long long groups, dim, axis, parts, shift, count;
	double by;   /* scale, unscale: the factor; add, subtract: the value */
	int off;     /* scale, unscale, add, subtract: `when` was false, the step passes the tensor on */
	int has_list;
	size_t n_list;
	long long list[ACT_MAX_LIST]; /* the step's list parameter: sizes, axes or order */
	unsigned only; /* `only`: bit i set applies the step to tensor i of the list; 0: to every one */
	char over[32];
	const char *via; /* the rule-file function the step came from, or NULL */
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

/* A parameter's value: num for INT, NUM, COND; n and list for LIST. */
typedef struct act_pval {
	double num;
	size_t n;
	long long list[ACT_MAX_LIST];
} act_pval;

/* Evaluates one parameter of the type its spec declares: INT (an integer, else an error), NUM
 * (a number), COND (1 or 0 by expr_truthy), LIST (at most ACT_MAX_LIST integers). */
typedef int (*act_param_fn)(void *ctx, const rule_param *p, vocab_ptype type, act_pval *out, ck_err *e);

/* One step of a chain as a direction runs it: its kind there (the action as written, or its
 * declared inverse) and the action as written (its parameters). */
typedef struct act_step {
	vocab_kind kind;
	int inverse;                /* the inverse runs: parameters that invert (roll's shift) are negated */
	const rule_act *as_written;
} act_step;

/* The compile step of a chain: k's actions for a direction, in run order: as written when
 * reading HF (RULE_HF: HF -> CS), their inverses in reverse order when reading CS. *out is
 * malloc'd (NULL when the chain is empty). */
int act_chain_steps(const rule_key *k, rule_side from, act_step **out, size_t *out_n, ck_err *e);

/* Evaluate the steps' parameters (fn) into instances, each inverse step with its parameters
 * inverted (permutations inverted, flatten <-> unflatten sizes, roll's shift negated):
 * n_targets sizes split/duplicate when not given. *out is malloc'd (n instances). */
int act_chain_resolve(const act_step *s, size_t n, size_t n_targets, act_param_fn fn, void *ctx, act_inst **out,
	ck_err *e);

/* Run the chain on in (consumed: owned buffers are freed or moved) producing out.
 * When planning, data stays NULL and only dtypes and shapes are computed. */
int act_chain_run(const act_inst *a, size_t n, int planning, act_list *in, act_list *out, ck_err *e);
void act_list_dispose(act_list *l);

/* Multiply (or divide) every element by a scalar the way PyTorch's `tensor * scalar` does:
 * computed in float32 (float64 for f64 tensors) and rounded to the tensor's dtype
 * (round-to-nearest-even); division multiplies by the reciprocal, as PyTorch's CPU kernel
 * does for a scalar divisor. Floating dtypes only. */
int act_scale(ck_dtype dt, void *data, uint64_t nbytes, int div, double by, ck_err *e);
/* Add value to every element as PyTorch's `tensor + scalar`: float32 math (float64 for f64)
 * rounded to the dtype (round-to-nearest-even). Floating dtypes only. */
int act_add(ck_dtype dt, void *data, uint64_t nbytes, double value, ck_err *e);
/* Every NaN of a floating tensor becomes +0 (other values and integer tensors untouched). */
void act_nan_to_zero(ck_dtype dt, void *data, uint64_t nbytes);

/* Run generator gen (a GEN entry of actions.def) into data (nbytes of dt/s): value is the
 * generator's value (fill value, uniform bound), seed the uniform stream's. */
int act_generate(vocab_kind gen, ck_dtype dt, const ck_shape *s, double value, unsigned long long seed, void *data,
	ck_err *e);

/* Generators for synthesised tensors. value is the fill value; tril writes lower-triangular
 * ones over the last two dims. data must hold nbytes. */
int act_gen_fill(ck_dtype dt, const ck_shape *s, double value, void *data, ck_err *e);
int act_gen_tril(ck_dtype dt, const ck_shape *s, void *data, ck_err *e);
/* 0, 1, 2, ... along the last dim (BERT position_ids). */
int act_gen_arange(ck_dtype dt, const ck_shape *s, void *data, ck_err *e);
/* Uniform in [-bound, bound) from a fixed-seed generator (splitmix64): reproducible run to run,
 * the same distribution as PyTorch's init but not its exact numbers. */
int act_gen_uniform(ck_dtype dt, const ck_shape *s, double bound, unsigned long long seed, void *data, ck_err *e);
/* RoPE's inverse frequencies 1 / base^(2i / d) along the last dim (d = twice its size), computed in
 * float32 step by step as PyTorch's `1.0 / (base ** (torch.arange(0, d, 2).float() / d))`, the
 * power correctly rounded (libm's powf; PyTorch's vectorised pow may differ in the last bit of
 * some elements: HF recomputes this buffer when it loads a model). */
int act_gen_inv_freq(ck_dtype dt, const ck_shape *s, double base, void *data, ck_err *e);
/* ALiBi slopes of `heads` heads (the shape holds that many elements), computed in double as the
 * reference's get_alibi_slopes and rounded to float32 as torch.tensor does, whatever dt is. */
int act_gen_alibi_slopes(ck_dtype dt, const ck_shape *s, double heads, void *data, ck_err *e);
/* Normal(0, std) from the same fixed-seed stream (Box-Muller): a headless model's LM head on
 * the way to CS (the reference's normal_(0, 0.02); its values are not reproducible, ours are). */
int act_gen_normal(ck_dtype dt, const ck_shape *s, double std, unsigned long long seed, void *data, ck_err *e);

#endif
