/* exec.c - stream tensors group by group through their action chains into a sink. */
#include <stdlib.h>
#include <string.h>
#include "buf.h"
#include "cast.h"
#include "exec.h"
#include "guard.h"

/* --dtype: convert one result in a buffer of its own (the old one may be shared by copies). */
static int cast_to(act_t *t, ck_dtype to, ck_err *e)
{
	uint64_t n = t->nbytes / ck_dtype_size(t->dtype), nb;
	if (__builtin_mul_overflow(n, (uint64_t)ck_dtype_size(to), &nb))
		return ck_errf(e, CK_ELIMIT, "tensor too large to cast");
	void *buf = buf_get((size_t)nb, e);
	if (!buf)
		return CK_ENOMEM;
	int rc = cast_run(t->dtype, t->data, to, buf, n, e);
	if (rc) {
		buf_put(buf);
		return rc;
	}
	if (t->owned)
		buf_put(t->data);
	t->data = buf;
	t->owned = 1;
	t->dtype = to;
	t->nbytes = nb;
	return 0;
}

/* One source tensor into a recycled buffer, with its muP scaling applied. */
static int read_in(const plan_in *in, void **buf, ck_err *e)
{
	const ck_tinfo *ti = &in->src->t[in->idx];
	int rc = 0;
	if (!(*buf = buf_get((size_t)ti->nbytes, e)))
		return CK_ENOMEM;
	rc = ck_tsrc_read(in->src, in->idx, *buf, e);
	for (size_t k = 0; !rc && k < in->n_ops; k++) /* muP folding, before the actions */
		rc = act_scale(ti->dtype, *buf, ti->nbytes, in->ops[k].div, in->ops[k].by, e);
	return rc;
}

/* A lone stack (MoE experts) into a sink that takes slices, with no cast: every source goes
 * straight into its slice, so the stacked tensor is never assembled in memory. */
static int stack_streams(const plan *p, const plan_group *g, const ck_tsink *sink)
{
	const ck_tinfo *to = &p->out[g->out[0]];
	if (!sink->ops->write_slice || g->n_act != 1 || g->act[0].kind != ACT_STACK || g->n_out != 1 ||
	    !to->nbytes)
		return 0;
	for (size_t i = 0; i < g->n_in; i++)
		if (!g->in[i].src || g->in[i].src->t[g->in[i].idx].dtype != to->dtype)
			return 0;
	return 1;
}

static int run_stack(const plan_group *g, ck_tsink *sink, ck_err *e)
{
	int rc = 0;
	for (size_t i = 0; i < g->n_in && !rc; i++) {
		void *buf = NULL;
		if (!(rc = read_in(&g->in[i], &buf, e)))
			rc = sink->ops->write_slice(sink, g->out[0], (int)g->act[0].axis, i, buf, e);
		buf_put(buf);
	}
	return rc;
}

/* A lone unstack from a source that reads slices, with no cast: each part is read on its own,
 * so the stacked tensor is never held whole. */
static int unstack_streams(const plan *p, const plan_group *g)
{
	const plan_in *in = &g->in[0];
	if (g->n_in != 1 || !in->src || !in->src->ops->read_slice || g->n_act != 1 ||
	    g->act[0].kind != ACT_UNSTACK || !in->src->t[in->idx].nbytes)
		return 0;
	for (size_t j = 0; j < g->n_out; j++)
		if (p->out[g->out[j]].dtype != in->src->t[in->idx].dtype)
			return 0;
	return 1;
}

static int run_unstack(const plan *p, const plan_group *g, ck_tsink *sink, ck_err *e)
{
	const plan_in *in = &g->in[0];
	int rc = 0;
	for (size_t j = 0; j < g->n_out && !rc; j++) {
		const ck_tinfo *to = &p->out[g->out[j]];
		void *buf = buf_get((size_t)to->nbytes, e);
		if (!buf)
			return CK_ENOMEM;
		rc = in->src->ops->read_slice(in->src, in->idx, (int)g->act[0].axis, j, buf, e);
		for (size_t k = 0; !rc && k < in->n_ops; k++)
			rc = act_scale(to->dtype, buf, to->nbytes, in->ops[k].div, in->ops[k].by, e);
		if (!rc)
			rc = ck_tsink_write(sink, g->out[j], buf, e);
		buf_put(buf);
	}
	return rc;
}

static int run_move(const plan *p, const plan_group *g, ck_tsink *sink, ck_err *e)
{
	act_list in = {0}, out = {0};
	int rc = 0;
	if (!(in.t = ck_calloc(e, g->n_in ? g->n_in : 1, sizeof *in.t)))
		return CK_ENOMEM;
	in.n = g->n_in;
	for (size_t i = 0; i < g->n_in && !rc; i++) {
		act_t *t = &in.t[i];
		if (!g->in[i].src) {
			t->missing = 1;
			continue;
		}
		const ck_tinfo *ti = &g->in[i].src->t[g->in[i].idx];
		t->dtype = ti->dtype;
		t->shape = ti->shape;
		t->nbytes = ti->nbytes;
		rc = read_in(&g->in[i], &t->data, e);
		t->owned = t->data != NULL;
	}
	if (rc) {
		act_list_dispose(&in);
		return rc;
	}
	if ((rc = act_chain_run(g->act, g->n_act, 0, &in, &out, e)))
		goto done;
	if (out.n != g->n_out) {
		rc = ck_errf(e, CK_ERROR, "%s: action chain produced %zu tensors, planned %zu", p->out[g->out[0]].name, out.n,
			g->n_out);
		goto done;
	}
	for (size_t j = 0; j < out.n && !rc; j++) {
		const ck_tinfo *ti = &p->out[g->out[j]];
		if (out.t[j].dtype != ti->dtype && ck_dtype_is_float(out.t[j].dtype) && ck_dtype_is_float(ti->dtype)) {
			for (size_t k = j + 1; out.t[j].owned && k < out.n; k++)
				if (out.t[k].data == out.t[j].data) { /* a duplicate still needs the buffer */
					out.t[k].owned = 1;
					out.t[j].owned = 0;
				}
			if ((rc = cast_to(&out.t[j], ti->dtype, e)))
				break;
		}
		if (out.t[j].nbytes != ti->nbytes || out.t[j].dtype != ti->dtype)
			rc = ck_errf(e, CK_ERROR, "%s: produced %llu bytes, planned %llu", ti->name,
				(unsigned long long)out.t[j].nbytes, (unsigned long long)ti->nbytes);
		else
			rc = ck_tsink_write(sink, g->out[j], out.t[j].data, e);
	}
done:
	act_list_dispose(&out);
	return rc;
}

static int run_gen(const plan *p, const plan_group *g, ck_tsink *sink, ck_err *e)
{
	const ck_tinfo *ti = &p->out[g->out[0]];
	void *buf = buf_get((size_t)ti->nbytes, e);
	int rc;
	if (!buf)
		return CK_ENOMEM;
	switch (g->kind) {
	case PLAN_GEN_FILL: rc = act_gen_fill(ti->dtype, &ti->shape, g->fill, buf, e); break;
	case PLAN_GEN_TRIL: rc = act_gen_tril(ti->dtype, &ti->shape, buf, e); break;
	case PLAN_GEN_ARANGE: rc = act_gen_arange(ti->dtype, &ti->shape, buf, e); break;
	default: /* each tensor its own stream: the seed mixed with its index in the plan */
		rc = act_gen_uniform(ti->dtype, &ti->shape, g->fill, g->seed * 1000003ULL + g->out[0], buf, e);
		break;
	}
	if (!rc)
		rc = ck_tsink_write(sink, g->out[0], buf, e);
	buf_put(buf);
	return rc;
}

static int run_groups(const plan *p, ck_tsink *sink, exec_progress_fn fn, void *ctx, ck_err *e)
{
	uint64_t bytes = 0;
	size_t done = 0;
	for (size_t i = 0; i < p->n_groups; i++) {
		const plan_group *g = &p->g[i];
		if (guard_stopped()) /* SIGINT/SIGTERM: stop between tensors; the caller cleans up */
			return ck_errf(e, CK_EINTR, "interrupted by signal %d; nothing was written", guard_stopped());
		int rc = g->kind != PLAN_MOVE ? run_gen(p, g, sink, e)
			 : stack_streams(p, g, sink) ? run_stack(g, sink, e)
			 : unstack_streams(p, g) ? run_unstack(p, g, sink, e) : run_move(p, g, sink, e);
		if (rc)
			return rc;
		for (size_t j = 0; j < g->n_out; j++)
			bytes += p->out[g->out[j]].nbytes;
		done += g->n_out;
		if (fn)
			fn(ctx, done, p->n_out, bytes);
	}
	return 0;
}

int exec_run(const plan *p, ck_tsink *sink, exec_progress_fn fn, void *ctx, ck_err *e)
{
	int rc = run_groups(p, sink, fn, ctx, e);
	buf_trim();
	return rc;
}
