/* act.c - action table, chain resolution (with inverses) and the byte kernels. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "act.h"
#include "bounds.h"
#include "buf.h"
#include "cast.h"

/* Where an evaluated integer parameter goes, by its name in the spec. */
static long long *int_field(act_inst *inst, const char *name)
{
	return !strcmp(name, "groups") ? &inst->groups : !strcmp(name, "dim") ? &inst->dim
		: !strcmp(name, "axis") ? &inst->axis : !strcmp(name, "parts") ? &inst->parts
		: !strcmp(name, "shift") ? &inst->shift : !strcmp(name, "count") ? &inst->count : NULL;
}

static int list_err(const act_inst *inst, const rule_param *p, const char *msg, ck_err *e)
{
	return ck_errf(e, CK_EINVALID, "%s:%d:%d: %s: %s %s", p->pos.file, p->pos.line, p->pos.col,
		vocab_name(inst->kind), p->name, msg);
}

/* A LIST value into the step: `only` becomes a bit set, any other list is the step's list. */
static int put_list(act_inst *inst, const rule_param *p, const act_pval *v, ck_err *e)
{
	if (strcmp(p->name, "only")) {
		inst->has_list = 1;
		inst->n_list = v->n;
		memcpy(inst->list, v->list, v->n * sizeof *v->list);
		return 0;
	}
	for (size_t i = 0; i < v->n; i++) {
		if (v->list[i] < 0 || v->list[i] >= 32)
			return list_err(inst, p, "items must be tensor positions 0..31", e);
		inst->only |= 1u << v->list[i];
	}
	return v->n ? 0 : list_err(inst, p, "must name at least one tensor", e);
}

/* Evaluate the written parameters of one action into inst (checked against the spec at load). */
static int resolve_one(const rule_act *a, act_param_fn fn, void *ctx, act_inst *inst, ck_err *e)
{
	const vocab_def *d = vocab_get(a->kind);
	memset(inst, 0, sizeof *inst);
	inst->kind = a->kind;
	inst->pos = a->pos;
	inst->via = a->via;
	inst->parts = -1;
	inst->count = 2;
	/* conditions first: a step that is off evaluates nothing else (its `by` may not be set) */
	for (int pass = 0; pass < 2 && !inst->off; pass++)
		for (size_t i = 0; i < a->n; i++) {
			const rule_param *p = &a->p[i];
			const vocab_param *spec = &d->p[p->slot];
			act_pval v = {0};
			long long *f;
			int rc;
			if ((spec->type == VOCAB_P_COND) != (pass == 0))
				continue;
			if (spec->type == VOCAB_P_PLACEHOLDER) {
				snprintf(inst->over, sizeof inst->over, "%s", p->text);
				continue;
			}
			if ((rc = fn(ctx, p, spec->type, &v, e)))
				return rc;
			if (spec->type == VOCAB_P_LIST) {
				if ((rc = put_list(inst, p, &v, e)))
					return rc;
			} else if (spec->type == VOCAB_P_COND)
				inst->off = v.num == 0;
			else if (spec->type == VOCAB_P_NUM)
				inst->by = v.num;
			else if ((f = int_field(inst, spec->name)))
				*f = (long long)v.num;
		}
	return 0;
}

static int perr(ck_err *e, const act_inst *a, const char *msg);

/* 0 when list[0..n) is a permutation of 0..n-1. */
static int is_perm(const long long *list, size_t n)
{
	unsigned seen = 0;
	for (size_t i = 0; i < n; i++) {
		if (list[i] < 0 || (size_t)list[i] >= n || (seen >> list[i] & 1))
			return -1;
		seen |= 1u << list[i];
	}
	return 0;
}

/* Turn a step into its inverse: the declared inverse kind, with the parameters it needs. */
static int invert(act_inst *a, ck_err *e)
{
	vocab_kind was = a->kind;
	a->kind = vocab_get(was)->inverse;
	switch (was) {
	case VOCAB_ROLL: a->shift = -a->shift; break;
	case VOCAB_UNFLATTEN: a->count = (long long)a->n_list; break;
	case VOCAB_FLATTEN:
		if (!a->has_list || a->n_list != (size_t)a->count)
			return perr(e, a, "the sizes of the merged axes are unknown: the inverse needs `sizes`");
		break;
	case VOCAB_PERMUTE:
	case VOCAB_SELECT: {
		long long inv[ACT_MAX_LIST];
		if (is_perm(a->list, a->n_list))
			return perr(e, a, "the list is not a permutation of 0..n-1");
		for (size_t i = 0; i < a->n_list; i++)
			inv[a->list[i]] = (long long)i;
		memcpy(a->list, inv, a->n_list * sizeof *inv);
		break;
	}
	default: break;
	}
	return 0;
}

int act_chain_steps(const rule_key *k, rule_side from, act_step **out, size_t *out_n, ck_err *e)
{
	static const int reads_cs[2] = {[RULE_HF] = 0, [RULE_CS] = 1};
	int inverse = reads_cs[from];
	act_step *v = NULL;
	*out = NULL;
	*out_n = 0;
	if (k->n_act && !(v = ck_calloc(e, k->n_act, sizeof *v)))
		return CK_ENOMEM;
	for (size_t i = 0; i < k->n_act; i++) {
		const rule_act *a = &k->act[inverse ? k->n_act - 1 - i : i]; /* inverses run last first */
		v[i].as_written = a;
		v[i].inverse = inverse;
		v[i].kind = inverse ? vocab_get(a->kind)->inverse : a->kind;
	}
	*out = v;
	*out_n = k->n_act;
	return 0;
}

int act_chain_resolve(const act_step *s, size_t n, size_t n_targets, act_param_fn fn, void *ctx, act_inst **out,
	ck_err *e)
{
	act_inst *v = ck_calloc(e, n ? n : 1, sizeof *v);
	*out = NULL;
	if (!v)
		return CK_ENOMEM;
	for (size_t i = 0; i < n; i++) {
		int rc = resolve_one(s[i].as_written, fn, ctx, &v[i], e);
		if (!rc && s[i].inverse)
			rc = invert(&v[i], e);
		if (rc) {
			free(v);
			return rc;
		}
		if ((v[i].kind == VOCAB_SPLIT || v[i].kind == VOCAB_DUPLICATE) && v[i].parts < 0 && !v[i].has_list)
			v[i].parts = (long long)n_targets;
	}
	*out = v;
	return 0;
}

/* --- kernels ------------------------------------------------------------------ */

void act_list_dispose(act_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->t[i].owned)
			buf_put(l->t[i].data);
	free(l->t);
	l->t = NULL;
	l->n = 0;
}

static int list_alloc(act_list *l, size_t n, ck_err *e)
{
	l->n = 0;
	if (!(l->t = ck_calloc(e, n ? n : 1, sizeof *l->t)))
		return CK_ENOMEM;
	l->n = n;
	return 0;
}

/* Give t a buffer for its nbytes unless we are only planning. */
static int t_alloc(act_t *t, int planning, ck_err *e)
{
	int rc = ck_tensor_nbytes(t->dtype, &t->shape, &t->nbytes, e);
	if (rc || planning)
		return rc;
	if (!(t->data = buf_get((size_t)t->nbytes, e)))
		return CK_ENOMEM;
	t->owned = 1;
	return 0;
}

static int perr(ck_err *e, const act_inst *a, const char *msg)
{
	return ck_errf(e, CK_EINVALID, "%s:%d:%d: %s%s%s: %s", a->pos.file, a->pos.line, a->pos.col, a->via ? a->via : "",
		a->via ? ": " : "", vocab_name(a->kind), msg);
}

/* outer x axis x inner element view of a shape around axis */
static void split_dims(const ck_shape *s, int axis, uint64_t *outer, uint64_t *inner)
{
	*outer = 1;
	*inner = 1;
	for (int i = 0; i < axis; i++)
		*outer *= (uint64_t)s->dim[i];
	for (int i = axis + 1; i < s->rank; i++)
		*inner *= (uint64_t)s->dim[i];
}

static int k_transpose(const act_inst *a, act_t *in, act_t *out, int planning, ck_err *e)
{
	*out = *in;
	if (in->shape.rank < 2) { /* Conv1D biases and 1-D tensors pass unchanged */
		in->owned = 0;
		return 0;
	}
	if (in->shape.rank != 2)
		return perr(e, a, "needs a 2-D tensor");
	out->shape.dim[0] = in->shape.dim[1];
	out->shape.dim[1] = in->shape.dim[0];
	out->data = NULL;
	out->owned = 0;
	if (t_alloc(out, planning, e) || planning)
		return e && e->code ? e->code : 0;
	size_t es = ck_dtype_size(in->dtype);
	uint64_t r = (uint64_t)in->shape.dim[0], c = (uint64_t)in->shape.dim[1];
	const unsigned char *s = in->data;
	unsigned char *d = out->data;
	/* blocked to stay cache friendly on large matrices */
	for (uint64_t i0 = 0; i0 < r; i0 += 32)
		for (uint64_t j0 = 0; j0 < c; j0 += 32)
			for (uint64_t i = i0; i < r && i < i0 + 32; i++)
				for (uint64_t j = j0; j < c && j < j0 + 32; j++)
					memcpy(d + (j * r + i) * es, s + (i * c + j) * es, es);
	return 0;
}

static int k_rope(const act_inst *a, act_t *in, act_t *out, int planning, ck_err *e)
{
	char msg[200];
	*out = *in;
	out->data = NULL;
	out->owned = 0;
	if (in->shape.rank < 1)
		return perr(e, a, "needs a tensor of rank >= 1");
	long long rows = in->shape.dim[0], g = a->groups, r = a->dim;
	if (g <= 0 || rows % g) {
		snprintf(msg, sizeof msg, "%lld rows do not split into %lld groups", rows, g);
		return perr(e, a, msg);
	}
	long long head = rows / g;
	if (r <= 0 || r % 2 || r > head) {
		snprintf(msg, sizeof msg, "rotary dim %lld must be even and at most the group size %lld", r, head);
		return perr(e, a, msg);
	}
	if (t_alloc(out, planning, e) || planning)
		return e && e->code ? e->code : 0;
	size_t rb = rows ? (size_t)(in->nbytes / (uint64_t)rows) : 0;
	const unsigned char *s = in->data;
	unsigned char *d = out->data;
	int fwd = a->kind == VOCAB_ROPE_INTERLEAVE;
	for (long long gi = 0; gi < g; gi++) {
		size_t base = (size_t)(gi * head);
		for (long long i = 0; i < r / 2; i++) {
			size_t il = base + (size_t)(2 * i), ih = base + (size_t)(i + r / 2), lo = base + (size_t)i;
			/* forward: dst[2i] = src[i], dst[2i+1] = src[i + r/2]; backward swaps the roles */
			memcpy(d + (fwd ? il : lo) * rb, s + (fwd ? lo : il) * rb, rb);
			memcpy(d + (fwd ? il + 1 : ih) * rb, s + (fwd ? ih : il + 1) * rb, rb);
		}
		memcpy(d + (base + (size_t)r) * rb, s + (base + (size_t)r) * rb, (size_t)(head - r) * rb);
	}
	return 0;
}

static int k_roll(const act_inst *a, act_t *in, act_t *out, int planning, ck_err *e)
{
	*out = *in;
	out->data = NULL;
	out->owned = 0;
	if (a->axis < 0 || a->axis >= in->shape.rank)
		return perr(e, a, "axis out of range");
	if (t_alloc(out, planning, e) || planning)
		return e && e->code ? e->code : 0;
	uint64_t outer, inner, n = (uint64_t)in->shape.dim[a->axis];
	split_dims(&in->shape, (int)a->axis, &outer, &inner);
	size_t blk = (size_t)inner * ck_dtype_size(in->dtype);
	for (uint64_t o = 0; o < outer; o++)
		for (uint64_t i = 0; i < n; i++) {
			uint64_t j = (uint64_t)((((long long)i + a->shift) % (long long)n + (long long)n) % (long long)n);
			memcpy((unsigned char *)out->data + (o * n + j) * blk, (unsigned char *)in->data + (o * n + i) * blk, blk);
		}
	return 0;
}

/* The part sizes along an axis of size n: a's `sizes` (summing to n), else `parts` equal parts. */
static int part_sizes(const act_inst *a, long long n, long long *sz, size_t *cnt, ck_err *e)
{
	char msg[200];
	long long sum = 0;
	if (a->has_list) {
		for (size_t j = 0; j < a->n_list; j++) {
			if (a->list[j] < 0)
				return perr(e, a, "sizes must not be negative");
			sz[j] = a->list[j];
			sum += a->list[j];
		}
		*cnt = a->n_list;
		if (sum == n && a->n_list)
			return 0;
		snprintf(msg, sizeof msg, "axis %lld has size %lld, the sizes sum to %lld", a->axis, n, sum);
		return perr(e, a, msg);
	}
	if (a->parts <= 0 || n % a->parts || a->parts > CK_MAX_UNSTACK) {
		snprintf(msg, sizeof msg, "axis %lld of size %lld does not split into %lld equal parts", a->axis, n, a->parts);
		return perr(e, a, msg);
	}
	for (long long j = 0; j < a->parts; j++)
		sz[j] = n / a->parts;
	*cnt = (size_t)a->parts;
	return 0;
}

/* split: one tensor -> parts along axis. concat: the inverse. */
static int k_split(const act_inst *a, act_list *in, act_list *out, int planning, ck_err *e)
{
	long long sz[CK_MAX_UNSTACK > ACT_MAX_LIST ? CK_MAX_UNSTACK : ACT_MAX_LIST];
	size_t p = 0;
	if (in->n != 1)
		return perr(e, a, "takes exactly one tensor");
	act_t *t = &in->t[0];
	if (a->axis < 0 || a->axis >= t->shape.rank)
		return perr(e, a, "axis out of range");
	if (part_sizes(a, t->shape.dim[a->axis], sz, &p, e))
		return CK_EINVALID;
	if (list_alloc(out, p, e))
		return CK_ENOMEM;
	uint64_t outer, inner;
	split_dims(&t->shape, (int)a->axis, &outer, &inner);
	size_t es = ck_dtype_size(t->dtype), whole = (size_t)t->shape.dim[a->axis] * inner * es, at = 0;
	for (size_t j = 0; j < p; at += (size_t)sz[j] * inner * es, j++) {
		act_t *o = &out->t[j];
		size_t part = (size_t)sz[j] * inner * es;
		o->dtype = t->dtype;
		o->shape = t->shape;
		o->shape.dim[a->axis] = sz[j];
		if (t_alloc(o, planning, e))
			return e->code;
		if (planning)
			continue;
		for (uint64_t k = 0; k < outer; k++)
			memcpy((unsigned char *)o->data + k * part, (unsigned char *)t->data + k * whole + at, part);
	}
	return 0;
}

static int k_concat(const act_inst *a, act_list *in, act_list *out, int planning, ck_err *e)
{
	char msg[300], sa[80], sb[80];
	if (in->n < 1)
		return perr(e, a, "needs at least one tensor");
	if (a->has_list && a->n_list != in->n) {
		snprintf(msg, sizeof msg, "%zu sizes for %zu tensors", a->n_list, in->n);
		return perr(e, a, msg);
	}
	act_t *f = &in->t[0];
	if (a->axis < 0 || a->axis >= f->shape.rank)
		return perr(e, a, "axis out of range");
	ck_shape s = f->shape;
	s.dim[a->axis] = 0;
	for (size_t i = 0; i < in->n; i++) {
		ck_shape x = in->t[i].shape;
		long long want = a->has_list ? a->list[i] : f->shape.dim[a->axis];
		x.dim[a->axis] = f->shape.dim[a->axis];
		/* without sizes the parts are equal, so that the inverse (equal parts) gives them back */
		if (in->t[i].dtype != f->dtype || !ck_shape_eq(&x, &f->shape) || in->t[i].shape.dim[a->axis] != want) {
			snprintf(msg, sizeof msg, "parts differ: %s %s vs %s %s%s", ck_dtype_short_name(f->dtype),
				ck_shape_str(&f->shape, sa, sizeof sa), ck_dtype_short_name(in->t[i].dtype),
				ck_shape_str(&in->t[i].shape, sb, sizeof sb), a->has_list ? " (not the sizes given)" : "");
			return perr(e, a, msg);
		}
		s.dim[a->axis] += in->t[i].shape.dim[a->axis];
	}
	if (list_alloc(out, 1, e))
		return CK_ENOMEM;
	act_t *o = &out->t[0];
	o->dtype = f->dtype;
	o->shape = s;
	if (t_alloc(o, planning, e) || planning)
		return e && e->code ? e->code : 0;
	uint64_t outer, inner;
	split_dims(&f->shape, (int)a->axis, &outer, &inner);
	size_t es = ck_dtype_size(f->dtype), whole = (size_t)s.dim[a->axis] * inner * es, at = 0;
	for (size_t j = 0; j < in->n; j++) {
		size_t part = (size_t)in->t[j].shape.dim[a->axis] * inner * es;
		for (uint64_t k = 0; k < outer; k++)
			memcpy((unsigned char *)o->data + k * whole + at, (unsigned char *)in->t[j].data + k * part, part);
		at += part;
	}
	return 0;
}

/* A view with another shape: the bytes (and their ownership) pass unchanged. */
static int view_as(act_t *in, const ck_shape *s, act_t *out)
{
	*out = *in;
	out->shape = *s;
	in->owned = 0;
	return 0;
}

static int k_unflatten(const act_inst *a, act_t *in, act_t *out, int planning, ck_err *e)
{
	char msg[200];
	ck_shape s = {0};
	long long prod = 1;
	(void)planning;
	if (a->axis < 0 || a->axis >= in->shape.rank)
		return perr(e, a, "axis out of range");
	if (!a->n_list || in->shape.rank - 1 + (int)a->n_list > CK_MAX_RANK)
		return perr(e, a, "sizes must give between 1 and the rank limit of axes");
	for (size_t j = 0; j < a->n_list; j++) {
		if (a->list[j] < 0 || (a->list[j] && prod > INT64_MAX / a->list[j]))
			return perr(e, a, "sizes must be non-negative and their product in range");
		prod *= a->list[j];
	}
	if (prod != in->shape.dim[a->axis]) {
		snprintf(msg, sizeof msg, "axis %lld has size %lld, the sizes multiply to %lld", a->axis,
			(long long)in->shape.dim[a->axis], prod);
		return perr(e, a, msg);
	}
	for (int i = 0; i < in->shape.rank; i++)
		if (i == a->axis)
			for (size_t j = 0; j < a->n_list; j++)
				s.dim[s.rank++] = a->list[j];
		else
			s.dim[s.rank++] = in->shape.dim[i];
	return view_as(in, &s, out);
}

static int k_flatten(const act_inst *a, act_t *in, act_t *out, int planning, ck_err *e)
{
	char msg[200];
	ck_shape s = {0};
	long long prod = 1;
	(void)planning;
	if (a->axis < 0 || a->count < 1 || a->axis + a->count > in->shape.rank)
		return perr(e, a, "axis and count out of range");
	for (long long j = 0; j < a->count; j++) {
		long long d = in->shape.dim[a->axis + j];
		if (a->has_list && (a->n_list != (size_t)a->count || a->list[j] != d)) {
			snprintf(msg, sizeof msg, "axis %lld has size %lld, not the size given in sizes", a->axis + j, d);
			return perr(e, a, msg);
		}
		prod *= d; /* within range: the dims come from a valid shape */
	}
	for (int i = 0; i < in->shape.rank; i++)
		if (i < a->axis || i >= a->axis + a->count)
			s.dim[s.rank++] = in->shape.dim[i];
		else if (i == a->axis)
			s.dim[s.rank++] = prod;
	return view_as(in, &s, out);
}

/* permute: the first len(axes) axes reordered (out axis i is in axis axes[i]); the trailing
 * axes stay, so each move is a memcpy of one trailing block. */
static int k_permute(const act_inst *a, act_t *in, act_t *out, int planning, ck_err *e)
{
	int m = (int)a->n_list;
	uint64_t stride[CK_MAX_RANK], idx[CK_MAX_RANK] = {0}, blocks = 1, inner = 1;
	*out = *in;
	out->data = NULL;
	out->owned = 0;
	if (is_perm(a->list, a->n_list) || m > in->shape.rank)
		return perr(e, a, "axes must be a permutation of 0..n-1 with n at most the tensor's rank");
	for (int i = 0; i < m; i++)
		out->shape.dim[i] = in->shape.dim[a->list[i]];
	if (t_alloc(out, planning, e) || planning)
		return e && e->code ? e->code : 0;
	for (int i = m; i < in->shape.rank; i++)
		inner *= (uint64_t)in->shape.dim[i];
	size_t blk = (size_t)inner * ck_dtype_size(in->dtype);
	uint64_t acc = 1;
	for (int i = m - 1; i >= 0; i--) { /* in's block strides (their product is within the valid shape's size) */
		stride[i] = acc;
		acc *= (uint64_t)in->shape.dim[i];
	}
	for (int i = 0; i < m; i++)
		blocks *= (uint64_t)out->shape.dim[i];
	for (uint64_t b = 0; b < blocks; b++) {
		uint64_t src = 0;
		for (int i = 0; i < m; i++)
			src += idx[i] * stride[a->list[i]];
		memcpy((unsigned char *)out->data + b * blk, (unsigned char *)in->data + src * blk, blk);
		for (int i = m - 1; i >= 0 && ++idx[i] == (uint64_t)out->shape.dim[i]; i--)
			idx[i] = 0;
	}
	return 0;
}

/* select: the list reordered, out[i] = in[order[i]]; buffers move, no bytes are copied. */
static int k_select(const act_inst *a, act_list *in, act_list *out, ck_err *e)
{
	char msg[120];
	if (a->n_list != in->n || is_perm(a->list, a->n_list)) {
		snprintf(msg, sizeof msg, "order must be a permutation of the %zu tensors", in->n);
		return perr(e, a, msg);
	}
	if (list_alloc(out, in->n, e))
		return CK_ENOMEM;
	for (size_t i = 0; i < in->n; i++) {
		out->t[i] = in->t[a->list[i]];
		in->t[a->list[i]].owned = 0;
	}
	return 0;
}

/* stack: n equal tensors -> one with a new axis of size n; unstack: the inverse. */
static int k_stack(const act_inst *a, act_list *in, act_list *out, int planning, ck_err *e)
{
	char msg[300], sa[80], sb[80];
	if (in->n < 1)
		return perr(e, a, "needs at least one tensor");
	act_t *f = &in->t[0];
	if (a->axis < 0 || a->axis > f->shape.rank || f->shape.rank >= CK_MAX_RANK)
		return perr(e, a, "axis out of range");
	for (size_t i = 1; i < in->n; i++)
		if (in->t[i].dtype != f->dtype || !ck_shape_eq(&in->t[i].shape, &f->shape)) {
			snprintf(msg, sizeof msg, "tensors differ: %s %s vs %s %s", ck_dtype_short_name(f->dtype),
				ck_shape_str(&f->shape, sa, sizeof sa), ck_dtype_short_name(in->t[i].dtype),
				ck_shape_str(&in->t[i].shape, sb, sizeof sb));
			return perr(e, a, msg);
		}
	if (list_alloc(out, 1, e))
		return CK_ENOMEM;
	act_t *o = &out->t[0];
	o->dtype = f->dtype;
	o->shape.rank = f->shape.rank + 1;
	for (int i = 0, j = 0; i < o->shape.rank; i++)
		o->shape.dim[i] = i == a->axis ? (int64_t)in->n : f->shape.dim[j++];
	if (t_alloc(o, planning, e) || planning)
		return e && e->code ? e->code : 0;
	uint64_t outer = 1, inner = 1;
	for (int i = 0; i < a->axis; i++)
		outer *= (uint64_t)f->shape.dim[i];
	for (int i = (int)a->axis; i < f->shape.rank; i++)
		inner *= (uint64_t)f->shape.dim[i];
	size_t blk = (size_t)inner * ck_dtype_size(f->dtype);
	for (uint64_t k = 0; k < outer; k++)
		for (size_t j = 0; j < in->n; j++)
			memcpy((unsigned char *)o->data + (k * in->n + j) * blk, (unsigned char *)in->t[j].data + k * blk, blk);
	return 0;
}

static int k_unstack(const act_inst *a, act_list *in, act_list *out, int planning, ck_err *e)
{
	if (in->n != 1)
		return perr(e, a, "takes exactly one tensor");
	act_t *t = &in->t[0];
	if (a->axis < 0 || a->axis >= t->shape.rank)
		return perr(e, a, "axis out of range");
	long long n = t->shape.dim[a->axis];
	if (n > CK_MAX_UNSTACK) {
		char msg[96];
		snprintf(msg, sizeof msg, "axis %lld has %lld parts, more than %d", a->axis, n, CK_MAX_UNSTACK);
		return perr(e, a, msg);
	}
	if (n <= 0 || list_alloc(out, (size_t)n, e))
		return n <= 0 ? perr(e, a, "empty axis") : CK_ENOMEM;
	uint64_t outer, inner;
	split_dims(&t->shape, (int)a->axis, &outer, &inner);
	size_t blk = (size_t)inner * ck_dtype_size(t->dtype);
	for (long long j = 0; j < n; j++) {
		act_t *o = &out->t[j];
		o->dtype = t->dtype;
		o->shape.rank = t->shape.rank - 1;
		for (int i = 0, d = 0; i < t->shape.rank; i++)
			if (i != a->axis)
				o->shape.dim[d++] = t->shape.dim[i];
		if (t_alloc(o, planning, e))
			return e->code;
		if (planning)
			continue;
		for (uint64_t k = 0; k < outer; k++)
			memcpy((unsigned char *)o->data + k * blk, (unsigned char *)t->data + (k * (uint64_t)n + (uint64_t)j) * blk, blk);
	}
	return 0;
}

static int k_duplicate(const act_inst *a, act_list *in, act_list *out, ck_err *e)
{
	if (in->n != 1)
		return perr(e, a, "takes exactly one tensor");
	if (a->parts < 1 || list_alloc(out, (size_t)a->parts, e))
		return a->parts < 1 ? perr(e, a, "needs at least one target") : CK_ENOMEM;
	for (size_t j = 0; j < out->n; j++) {
		out->t[j] = in->t[0];
		out->t[j].owned = j == 0 && in->t[0].owned; /* the copies share one buffer */
	}
	in->t[0].owned = 0;
	return 0;
}

static int k_first(const act_inst *a, act_list *in, act_list *out, ck_err *e)
{
	if (in->n < 1 || in->t[0].missing)
		return perr(e, a, "the first source key is missing");
	if (list_alloc(out, 1, e))
		return CK_ENOMEM;
	out->t[0] = in->t[0];
	in->t[0].owned = 0;
	return 0;
}

static int k_copy(const act_inst *a, act_t *in, act_t *out, int planning, ck_err *e)
{
	(void)a, (void)planning, (void)e;
	*out = *in;
	in->owned = 0;
	return 0;
}

/* Apply a one-tensor kernel to every tensor of the list. */
static int each(const act_inst *a, act_list *in, act_list *out, int planning, ck_err *e,
	int (*fn)(const act_inst *, act_t *, act_t *, int, ck_err *))
{
	if (list_alloc(out, in->n, e))
		return CK_ENOMEM;
	for (size_t i = 0; i < in->n; i++) {
		int skip = a->only && !(i < 32 && (a->only >> i & 1)); /* `only`: the others pass */
		int rc = skip ? k_copy(a, &in->t[i], &out->t[i], planning, e) : fn(a, &in->t[i], &out->t[i], planning, e);
		if (rc)
			return rc;
	}
	if (a->only && in->n < 32 && a->only >> in->n)
		return perr(e, a, "only names a tensor the chain does not have here");
	return 0;
}


/* scale / unscale / add / subtract in a chain: the tensor's own buffer when it owns one, else a copy. */
static int k_scale(const act_inst *a, act_t *in, act_t *out, int planning, ck_err *e)
{
	*out = *in;
	in->owned = 0;
	if (planning || a->off)
		return 0;
	if (!out->owned) {
		void *copy = buf_get((size_t)in->nbytes, e);
		if (!copy)
			return CK_ENOMEM;
		memcpy(copy, in->data, (size_t)in->nbytes);
		out->data = copy;
		out->owned = 1;
	}
	if (a->kind == VOCAB_ADD || a->kind == VOCAB_SUBTRACT)
		return act_add(out->dtype, out->data, out->nbytes, a->kind == VOCAB_ADD ? a->by : -a->by, e);
	return act_scale(out->dtype, out->data, out->nbytes, a->kind == VOCAB_UNSCALE, a->by, e);
}

static int run_one(const act_inst *a, act_list *in, act_list *out, int planning, ck_err *e)
{
	for (size_t i = 0; i < in->n; i++)
		if (in->t[i].missing && a->kind != VOCAB_FIRST)
			return perr(e, a, "a source key of this group is missing");
	switch (a->kind) {
	case VOCAB_COPY: return each(a, in, out, planning, e, k_copy);
	case VOCAB_TRANSPOSE: return each(a, in, out, planning, e, k_transpose);
	case VOCAB_ROPE_INTERLEAVE:
	case VOCAB_ROPE_DEINTERLEAVE: return each(a, in, out, planning, e, k_rope);
	case VOCAB_ROLL: return each(a, in, out, planning, e, k_roll);
	case VOCAB_SPLIT: return k_split(a, in, out, planning, e);
	case VOCAB_CONCAT: return k_concat(a, in, out, planning, e);
	case VOCAB_STACK: return k_stack(a, in, out, planning, e);
	case VOCAB_UNSTACK: return k_unstack(a, in, out, planning, e);
	case VOCAB_DUPLICATE: return k_duplicate(a, in, out, e);
	case VOCAB_FIRST: return k_first(a, in, out, e);
	case VOCAB_SCALE:
	case VOCAB_UNSCALE:
	case VOCAB_ADD:
	case VOCAB_SUBTRACT: return each(a, in, out, planning, e, k_scale);
	case VOCAB_UNFLATTEN: return each(a, in, out, planning, e, k_unflatten);
	case VOCAB_FLATTEN: return each(a, in, out, planning, e, k_flatten);
	case VOCAB_PERMUTE: return each(a, in, out, planning, e, k_permute);
	case VOCAB_SELECT: return k_select(a, in, out, e);
	default: return perr(e, a, "not implemented");
	}
}

int act_chain_run(const act_inst *a, size_t n, int planning, act_list *in, act_list *out, ck_err *e)
{
	act_list cur = *in, next = {0};
	*in = (act_list){0};
	for (size_t i = 0; i < n; i++) {
		int rc = run_one(&a[i], &cur, &next, planning, e);
		act_list_dispose(&cur);
		if (rc) {
			act_list_dispose(&next);
			return rc;
		}
		cur = next;
		next = (act_list){0};
	}
	*out = cur;
	return 0;
}

/* --- generators -------------------------------------------------------------- */

static void put_value(ck_dtype dt, void *p, double v)
{
	switch (dt) {
	case CK_DT_F32: { float f = (float)v; memcpy(p, &f, 4); break; }
	case CK_DT_F64: memcpy(p, &v, 8); break;
	case CK_DT_BOOL:
	case CK_DT_U8: *(uint8_t *)p = (uint8_t)v; break;
	case CK_DT_I8: *(int8_t *)p = (int8_t)v; break;
	case CK_DT_I16: { int16_t x = (int16_t)v; memcpy(p, &x, 2); break; }
	case CK_DT_I32: { int32_t x = (int32_t)v; memcpy(p, &x, 4); break; }
	case CK_DT_I64: { int64_t x = (int64_t)v; memcpy(p, &x, 8); break; }
	case CK_DT_BF16: {
		uint16_t h = cast_f32_to_bf16((float)v);
		memcpy(p, &h, 2);
		break;
	}
	case CK_DT_F16: {
		uint16_t h = cast_f32_to_f16((float)v);
		memcpy(p, &h, 2);
		break;
	}
	default: memset(p, 0, ck_dtype_size(dt)); break;
	}
}

int act_gen_fill(ck_dtype dt, const ck_shape *s, double value, void *data, ck_err *e)
{
	uint64_t n;
	int rc = ck_shape_numel(s, &n, e);
	if (rc)
		return rc;
	if (dt == CK_DT_U16 || dt == CK_DT_U32 || dt == CK_DT_U64)
		return ck_errf(e, CK_EINVALID, "fill: dtype %s is not supported", ck_dtype_short_name(dt));
	size_t es = ck_dtype_size(dt);
	for (uint64_t i = 0; i < n; i++)
		put_value(dt, (unsigned char *)data + i * es, value);
	return 0;
}

int act_gen_tril(ck_dtype dt, const ck_shape *s, void *data, ck_err *e)
{
	if (s->rank < 2)
		return ck_errf(e, CK_EINVALID, "tril needs a shape of rank >= 2");
	uint64_t n, r = (uint64_t)s->dim[s->rank - 2], c = (uint64_t)s->dim[s->rank - 1];
	int rc = ck_shape_numel(s, &n, e);
	if (rc)
		return rc;
	size_t es = ck_dtype_size(dt);
	for (uint64_t i = 0; i < n; i++) {
		uint64_t col = i % c, row = (i / c) % r;
		put_value(dt, (unsigned char *)data + i * es, col <= row ? 1.0 : 0.0);
	}
	return 0;
}

int act_gen_arange(ck_dtype dt, const ck_shape *s, void *data, ck_err *e)
{
	uint64_t n;
	int rc = ck_shape_numel(s, &n, e);
	if (rc)
		return rc;
	uint64_t last = s->rank ? (uint64_t)s->dim[s->rank - 1] : 1;
	size_t es = ck_dtype_size(dt);
	for (uint64_t i = 0; i < n; i++)
		put_value(dt, (unsigned char *)data + i * es, (double)(i % (last ? last : 1)));
	return 0;
}

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9E3779B97F4A7C15ULL);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	return z ^ (z >> 31);
}

int act_gen_uniform(ck_dtype dt, const ck_shape *s, double bound, unsigned long long seed, void *data, ck_err *e)
{
	uint64_t n, state = seed;
	int rc = ck_shape_numel(s, &n, e);
	if (rc)
		return rc;
	if (!ck_dtype_is_float(dt))
		return ck_errf(e, CK_EINVALID, "uniform: dtype %s is not supported (use a floating dtype)",
			ck_dtype_short_name(dt));
	size_t es = ck_dtype_size(dt);
	for (uint64_t i = 0; i < n; i++) {
		double u = (double)(splitmix64(&state) >> 11) * (1.0 / 9007199254740992.0); /* [0, 1) */
		put_value(dt, (unsigned char *)data + i * es, (2.0 * u - 1.0) * bound);
	}
	return 0;
}

int act_gen_inv_freq(ck_dtype dt, const ck_shape *s, double base, void *data, ck_err *e)
{
	uint64_t n;
	int rc = ck_shape_numel(s, &n, e);
	if (rc)
		return rc;
	uint64_t last = s->rank ? (uint64_t)s->dim[s->rank - 1] : 1;
	float b = (float)base, d = (float)(2 * last);
	size_t es = ck_dtype_size(dt);
	if (!ck_dtype_is_float(dt))
		return ck_errf(e, CK_EINVALID, "inv_freq: dtype %s is not supported (use a floating dtype)", ck_dtype_short_name(dt));
	/* PyTorch: 1.0 / (base ** (torch.arange(0, d, 2).float() / d)), every step in float32 */
	for (uint64_t i = 0; i < n; i++)
		put_value(dt, (unsigned char *)data + i * es, 1.0f / powf(b, (float)(2 * (i % last)) / d));
	return 0;
}

/* The reference's get_alibi_slopes(n), in double as Python computes it: for a power of two the
 * geometric series from 2^(-8/n); otherwise those of the closest lower power of two, then every
 * other slope of twice that many. slopes must hold n. */
static int alibi_slopes(long long n, double *slopes, ck_err *e)
{
	long long p = 1;
	while (p * 2 <= n)
		p *= 2;
	double start = pow(2.0, -pow(2.0, -(log2((double)p) - 3.0)));
	for (long long i = 0; i < p; i++)
		slopes[i] = start * pow(start, (double)i);
	if (p == n)
		return 0;
	double *twice = malloc((size_t)(2 * p) * sizeof *twice);
	if (!twice)
		return ck_errf(e, CK_ENOMEM, "out of memory");
	int rc = alibi_slopes(2 * p, twice, e);
	for (long long i = 0; !rc && i < n - p; i++)
		slopes[p + i] = twice[2 * i];
	free(twice);
	return rc;
}

int act_gen_alibi_slopes(ck_dtype dt, const ck_shape *s, double heads, void *data, ck_err *e)
{
	uint64_t n;
	int rc = ck_shape_numel(s, &n, e);
	if (rc)
		return rc;
	if (heads != floor(heads) || heads < 1 || (uint64_t)heads != n || n > CK_MAX_UNSTACK)
		return ck_errf(e, CK_EINVALID, "alibi_slopes: %g heads for a shape of %llu elements (at most %d)", heads,
			(unsigned long long)n, CK_MAX_UNSTACK);
	if (!ck_dtype_is_float(dt))
		return ck_errf(e, CK_EINVALID, "alibi_slopes: dtype %s is not supported (use a floating dtype)",
			ck_dtype_short_name(dt));
	double *v = calloc(n, sizeof *v);
	if (!v)
		return ck_errf(e, CK_ENOMEM, "out of memory");
	rc = alibi_slopes((long long)n, v, e);
	for (uint64_t i = 0; !rc && i < n; i++) /* torch.tensor(list of floats): float32, rounded to nearest */
		put_value(dt, (unsigned char *)data + i * ck_dtype_size(dt), (double)(float)v[i]);
	free(v);
	return rc;
}

/* Box-Muller over the splitmix64 stream: each pair of uniforms gives two normals, used in
 * order, so the values depend only on the seed and the element count. */
int act_gen_normal(ck_dtype dt, const ck_shape *s, double std, unsigned long long seed, void *data, ck_err *e)
{
	uint64_t n, state = seed;
	int rc = ck_shape_numel(s, &n, e);
	if (rc)
		return rc;
	if (!ck_dtype_is_float(dt))
		return ck_errf(e, CK_EINVALID, "normal: dtype %s is not supported (use a floating dtype)",
			ck_dtype_short_name(dt));
	size_t es = ck_dtype_size(dt);
	for (uint64_t i = 0; i < n; i += 2) {
		/* u1 in (0, 1]: log(u1) is finite */
		double u1 = (double)((splitmix64(&state) >> 11) + 1) * (1.0 / 9007199254740992.0);
		double u2 = (double)(splitmix64(&state) >> 11) * (1.0 / 9007199254740992.0);
		double r = sqrt(-2.0 * log(u1)) * std, a = 2.0 * M_PI * u2;
		put_value(dt, (unsigned char *)data + i * es, r * cos(a));
		if (i + 1 < n)
			put_value(dt, (unsigned char *)data + (i + 1) * es, r * sin(a));
	}
	return 0;
}

int act_generate(vocab_kind gen, ck_dtype dt, const ck_shape *s, double value, unsigned long long seed, void *data,
	ck_err *e)
{
	switch (gen) {
	case VOCAB_FILL: return act_gen_fill(dt, s, value, data, e);
	case VOCAB_TRIL: return act_gen_tril(dt, s, data, e);
	case VOCAB_ARANGE: return act_gen_arange(dt, s, data, e);
	case VOCAB_UNIFORM: return act_gen_uniform(dt, s, value, seed, data, e);
	case VOCAB_INV_FREQ: return act_gen_inv_freq(dt, s, value, data, e);
	case VOCAB_ALIBI_SLOPES: return act_gen_alibi_slopes(dt, s, value, data, e);
	case VOCAB_NORMAL: return act_gen_normal(dt, s, value, seed, data, e);
	default: return ck_errf(e, CK_EINVALID, "'%s' is not a generator", vocab_name(gen));
	}
}

int act_scale(ck_dtype dt, void *data, uint64_t nbytes, int div, double by, ck_err *e)
{
	uint64_t n = nbytes / ck_dtype_size(dt);
	if (dt == CK_DT_F64) {
		double s = div ? 1.0 / by : by, *x = data;
		for (uint64_t i = 0; i < n; i++)
			x[i] *= s;
		return 0;
	}
	float s = div ? 1.0f / (float)by : (float)by;
	if (dt == CK_DT_F32) {
		float *x = data;
		for (uint64_t i = 0; i < n; i++)
			x[i] *= s;
		return 0;
	}
	if (dt == CK_DT_BF16 || dt == CK_DT_F16) {
		uint16_t *x = data;
		if (dt == CK_DT_BF16)
			for (uint64_t i = 0; i < n; i++)
				x[i] = cast_f32_to_bf16(cast_bf16_to_f32(x[i]) * s);
		else
			for (uint64_t i = 0; i < n; i++)
				x[i] = cast_f32_to_f16(cast_f16_to_f32(x[i]) * s);
		return 0;
	}
	return ck_errf(e, CK_EINVALID, "scaling a %s tensor is not supported", ck_dtype_short_name(dt));
}

int act_add(ck_dtype dt, void *data, uint64_t nbytes, double value, ck_err *e)
{
	uint64_t n = nbytes / ck_dtype_size(dt);
	if (dt == CK_DT_F64) {
		double *x = data;
		for (uint64_t i = 0; i < n; i++)
			x[i] += value;
		return 0;
	}
	float v = (float)value; /* PyTorch's opmath for a scalar operand of a float32/16 tensor */
	if (dt == CK_DT_F32) {
		float *x = data;
		for (uint64_t i = 0; i < n; i++)
			x[i] += v;
		return 0;
	}
	if (dt == CK_DT_BF16 || dt == CK_DT_F16) {
		uint16_t *x = data;
		if (dt == CK_DT_BF16)
			for (uint64_t i = 0; i < n; i++)
				x[i] = cast_f32_to_bf16(cast_bf16_to_f32(x[i]) + v);
		else
			for (uint64_t i = 0; i < n; i++)
				x[i] = cast_f32_to_f16(cast_f16_to_f32(x[i]) + v);
		return 0;
	}
	return ck_errf(e, CK_EINVALID, "adding to a %s tensor is not supported", ck_dtype_short_name(dt));
}

void act_nan_to_zero(ck_dtype dt, void *data, uint64_t nbytes)
{
	uint64_t n = nbytes / ck_dtype_size(dt);
	if (dt == CK_DT_F64) {
		double *x = data;
		for (uint64_t i = 0; i < n; i++)
			if (x[i] != x[i])
				x[i] = 0.0;
	} else if (dt == CK_DT_F32) {
		float *x = data;
		for (uint64_t i = 0; i < n; i++)
			if (x[i] != x[i])
				x[i] = 0.0f;
	} else if (dt == CK_DT_BF16 || dt == CK_DT_F16) { /* NaN: exponent all ones, mantissa not zero */
		uint16_t *x = data, em = dt == CK_DT_BF16 ? 0x7f80 : 0x7c00, mm = dt == CK_DT_BF16 ? 0x007f : 0x03ff;
		for (uint64_t i = 0; i < n; i++)
			if ((x[i] & em) == em && (x[i] & mm))
				x[i] = 0;
	}
}
