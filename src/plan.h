/* plan.h - from headers to a complete plan: every source key -> rule -> action -> target keys
 * with dtype and shape. Nothing is read or written here; all problems are collected. */
#ifndef CK_PLAN_H
#define CK_PLAN_H

#include <stdio.h>
#include <jansson.h>
#include "act.h"
#include "match.h"
#include "prog.h"
#include "rule.h"
#include "strmap.h"
#include "tensor.h"

#define PLAN_MAX_OPS 4

/* A scalar operation on a source tensor before its actions (muP folding). */
typedef struct plan_op {
	int div;
	double by;
	int nan0;  /* instead: NaN becomes 0 (sideband sparsity's pruned weights, finalized on the way to HF) */
} plan_op;

typedef struct plan_in {
	ck_tsrc *src; /* NULL: optional slot not present */
	size_t idx;
	size_t n_ops;
	plan_op ops[PLAN_MAX_OPS];
} plan_in;

typedef enum { PLAN_MOVE, PLAN_GEN } plan_kind;

typedef struct plan_group {
	plan_kind kind;
	vocab_kind gen;   /* PLAN_GEN: the generator (fill, tril, ...) */
	const rule_key *rule;
	size_t n_in;
	plan_in *in;
	size_t n_out;
	size_t *out;      /* indices into plan.out */
	size_t n_act;
	act_inst *act;
	double fill;      /* fill value; uniform bound */
	unsigned long long seed; /* uniform */
} plan_group;

typedef struct plan_opts {
	int drop_unmatched; /* unmatched source keys are dropped with a warning instead of an error */
	FILE *debug;        /* when set: one line per key "source -> target (rule file:line, action)" */
	unsigned char *claimed; /* when set (one byte per source tensor): matched keys are marked here and
				 * unmatched ones are left to the caller (several components share one source) */
	const prog *mup;        /* when set: scale the source tensors its templates match (prog_compile_mup) */
	json_t *vars;           /* extra names for expressions (cs_major, cs_minor, out) */
} plan_opts;

typedef struct plan {
	size_t n_out, cap_out;
	ck_tinfo *out;
	size_t n_groups, cap_groups;
	plan_group *g;
	size_t n_problems;
	char **problems;    /* every problem found, one line each */
	size_t n_warnings;
	char **warnings;
	size_t n_dropped;   /* source keys consumed by drop rules */
	size_t n_twins;     /* absent source keys read from their tied twins (`tied:`) */
	strmap targets;     /* target name -> index into out */
} plan;

int plan_init(plan *p, ck_err *e);
void plan_dispose(plan *p);
/* Add one component: every tensor of src whose name starts with src_prefix (stripped before
 * matching; others are ignored) is planned with the compiled rules pg (compiled against this
 * config: parameters and `when` decided), writing target names prefixed with dst_prefix. hf/cs
 * are the configs shapes and created keys read (cs = whole params).
 * Problems with keys are collected in p (CK_EINVALID with e left unset: call plan_check);
 * a broken rule set or other hard failure sets e. */
int plan_add(plan *p, const prog *pg, ck_tsrc *src, const char *src_prefix, const char *dst_prefix, json_t *hf,
	json_t *cs, const plan_opts *o, ck_err *e);
/* Sets e from the collected problems ("N problems; nothing was written") and returns
 * CK_EINVALID; CK_ELIMIT when the generators would make more bytes than the plan reads (beyond
 * CK_MAX_GENERATED_FLOOR); 0 when all is well. */
int plan_check(const plan *p, ck_err *e);
/* --dtype: every floating target becomes dt (integer and bool tensors are never cast);
 * execution converts with PyTorch's rounding. Returns how many targets change. */
size_t plan_set_dtype(plan *p, ck_dtype dt);
/* The --dry-run listing. */
void plan_print(const plan *p, FILE *f);
/* Whether the group's chain only passes its source buffers on, unchanged (copy, duplicate,
 * first; no dtype change): its results then need no memory of their own. */
int plan_group_passes(const plan *p, const plan_group *g);
/* Bytes of tensor buffers the group holds at once: its sources, plus its results unless it
 * passes them on (a lone stack streams its sources into slices, one at a time). */
uint64_t plan_group_bytes(const plan *p, const plan_group *g);
/* The largest plan_group_bytes over the plan. */
uint64_t plan_peak_bytes(const plan *p);
/* The largest single tensor read or written. */
uint64_t plan_largest_bytes(const plan *p);

#endif
