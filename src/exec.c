/* exec.c - stream tensors group by group through their action chains into a sink.
 *
 * With a helper thread (bg.h) the safetensors side's I/O overlaps the main thread's work. Into
 * a safetensors sink, one group's results are written while the next group is read and
 * transformed (write-behind); from safetensors sources, the next group's tensors are read while
 * this group's are transformed and written (read-ahead), and hashed there too when they pass
 * unchanged into a sink that stores checksums. HDF5 and buf.h stay on the main thread. One
 * job at a time, started only while the tensor bytes held stay within the budget (twice the
 * largest tensor): memory held is the larger of one group's and that budget
 * (exec_peak_bytes). */
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>
#include "bg.h"
#include "buf.h"
#include "cast.h"
#include "exec.h"

enum { X_SYNC, X_WRITE_BEHIND, X_READ_AHEAD };

typedef struct pre { /* a source read ahead */
	void *buf;
	uint64_t sum; /* XXH64 of its bytes, when asked for */
} pre;

typedef struct xrun {
	const plan *p;
	ck_tsink *sink;
	bg *bg;          /* the helper thread; NULL when everything runs here */
	int mode;
	uint64_t budget; /* tensor bytes that may be held while a job is in flight */
	/* write-behind: one group's results on their way out, and the bytes they hold */
	const plan_group *wg;
	act_list wout;
	uint64_t wheld;
	/* read-ahead: group rgi's sources being read into r (one per input; NULL buf: absent),
	 * hashed when rsum; then cur/cursum while that group is worked on */
	size_t rgi;
	pre *r, *cur;
	int rbusy, rsum, cursum;
} xrun;

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

static int apply_op(const plan_op *op, ck_dtype dt, void *buf, uint64_t nbytes, ck_err *e)
{
	if (!op->nan0)
		return act_scale(dt, buf, nbytes, op->div, op->by, e);
	act_nan_to_zero(dt, buf, nbytes);
	return 0;
}

/* One source tensor into buf, with its muP scaling applied. Safe on the helper thread when
 * the source is concurrent. */
static int fill_in(const plan_in *in, void *buf, ck_err *e)
{
	const ck_tinfo *ti = &in->src->t[in->idx];
	int rc = ck_tsrc_read(in->src, in->idx, buf, e);
	for (size_t k = 0; !rc && k < in->n_ops; k++) /* muP folding, sparsity finalizing: before the actions */
		rc = apply_op(&in->ops[k], ti->dtype, buf, ti->nbytes, e);
	return rc;
}

/* One source tensor into a recycled buffer. */
static int read_in(const plan_in *in, void **buf, ck_err *e)
{
	if (!(*buf = buf_get((size_t)in->src->t[in->idx].nbytes, e)))
		return CK_ENOMEM;
	return fill_in(in, *buf, e);
}

/* A lone stack (MoE experts) into a sink that takes slices, with no cast: every source goes
 * straight into its slice, so the stacked tensor is never assembled in memory. */
static int stack_streams(const plan *p, const plan_group *g, const ck_tsink *sink)
{
	const ck_tinfo *to = &p->out[g->out[0]];
	if (!sink->ops->write_slice || g->n_act != 1 || g->act[0].kind != VOCAB_STACK || g->n_out != 1 ||
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
	    g->act[0].kind != VOCAB_UNSTACK || !in->src->t[in->idx].nbytes)
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
			rc = apply_op(&in->ops[k], to->dtype, buf, to->nbytes, e);
		if (!rc)
			rc = ck_tsink_write(sink, g->out[j], buf, e);
		buf_put(buf);
	}
	return rc;
}

/* Bytes of the group's sources. */
static uint64_t in_bytes(const plan_group *g)
{
	uint64_t s = 0;
	for (size_t i = 0; i < g->n_in; i++)
		if (g->in[i].src)
			s += g->in[i].src->t[g->in[i].idx].nbytes;
	return s;
}

/* --- write-behind ------------------------------------------------------------------------ */

static int wb_job(void *arg, ck_err *e)
{
	xrun *x = arg;
	int rc = 0;
	for (size_t j = 0; j < x->wout.n && !rc; j++)
		rc = ck_tsink_write(x->sink, x->wg->out[j], x->wout.t[j].data, e);
	return rc;
}

/* Waits for the results in flight and takes their buffers back. */
static int wb_finish(xrun *x, ck_err *e)
{
	int rc = bg_wait(x->bg, e);
	act_list_dispose(&x->wout);
	x->wheld = 0;
	return rc;
}

/* A group's results to the sink: handed to the helper (taking out's buffers) or written here. */
static int emit(xrun *x, const plan_group *g, act_list *out, ck_err *e)
{
	int rc = 0;
	if (x->mode != X_WRITE_BEHIND) {
		for (size_t j = 0; j < out->n && !rc; j++) {
			size_t k = 0;
			while (x->cursum && k < g->n_in && x->cur[k].buf != out->t[j].data)
				k++;
			rc = x->cursum && k < g->n_in
				     ? x->sink->ops->write_hashed(x->sink, g->out[j], out->t[j].data, x->cur[k].sum, e)
				     : ck_tsink_write(x->sink, g->out[j], out->t[j].data, e);
		}
		return rc;
	}
	if ((rc = wb_finish(x, e))) /* one job at a time */
		return rc;
	x->wg = g;
	x->wout = *out;
	*out = (act_list){0};
	for (size_t j = 0; j < x->wout.n; j++)
		if (x->wout.t[j].owned)
			x->wheld += x->wout.t[j].nbytes;
	bg_submit(x->bg, wb_job, x);
	return 0;
}

/* --- read-ahead -------------------------------------------------------------------------- */

static int ra_job(void *arg, ck_err *e)
{
	xrun *x = arg;
	const plan_group *g = &x->p->g[x->rgi];
	int rc = 0;
	for (size_t i = 0; i < g->n_in && !rc; i++)
		if (g->in[i].src && !(rc = fill_in(&g->in[i], x->r[i].buf, e)) && x->rsum)
			x->r[i].sum = XXH64(x->r[i].buf, (size_t)g->in[i].src->t[g->in[i].idx].nbytes, 0);
	return rc;
}

/* Waits for the read-ahead and returns its sources (NULL when none is in flight); the caller
 * owns their buffers and the array. */
static pre *ra_take(xrun *x, int *rc, ck_err *e)
{
	pre *r = x->r;
	if (!x->rbusy)
		return NULL;
	*rc = bg_wait(x->bg, e);
	x->r = NULL;
	x->rbusy = 0;
	return r;
}

static void ra_release(pre *r, size_t n)
{
	for (size_t i = 0; r && i < n; i++)
		buf_put(r[i].buf);
	free(r);
}

/* Starts reading group gi's sources on the helper when they are all concurrent and `held`
 * (what the group being worked on holds) leaves room for them. */
static void ra_start(xrun *x, size_t gi, uint64_t held)
{
	const plan_group *g = gi < x->p->n_groups ? &x->p->g[gi] : NULL;
	if (x->mode != X_READ_AHEAD || !g || g->kind != PLAN_MOVE || stack_streams(x->p, g, x->sink) ||
	    unstack_streams(x->p, g) || held + in_bytes(g) > x->budget)
		return;
	for (size_t i = 0; i < g->n_in; i++)
		if (g->in[i].src && !g->in[i].src->concurrent)
			return;
	if (!(x->r = calloc(g->n_in ? g->n_in : 1, sizeof *x->r)))
		return; /* no read-ahead; the group is read when its turn comes */
	for (size_t i = 0; i < g->n_in; i++)
		if (g->in[i].src && !(x->r[i].buf = buf_get((size_t)g->in[i].src->t[g->in[i].idx].nbytes, NULL))) {
			ra_release(x->r, g->n_in);
			x->r = NULL;
			return;
		}
	x->rgi = gi;
	x->rbusy = 1;
	x->rsum = x->sink->ops->write_hashed && plan_group_passes(x->p, g);
	bg_submit(x->bg, ra_job, x);
}

/* --- one group --------------------------------------------------------------------------- */

/* The group's sources as an action list: from the read-ahead when it has them (kept in cur
 * for their sums), else read here. */
static int take_inputs(xrun *x, const plan_group *g, act_list *in, ck_err *e)
{
	int rc = 0;
	pre *r = ra_take(x, &rc, e);
	if (!(in->t = ck_calloc(e, g->n_in ? g->n_in : 1, sizeof *in->t))) {
		ra_release(r, g->n_in);
		return CK_ENOMEM;
	}
	in->n = g->n_in;
	for (size_t i = 0; i < g->n_in; i++) {
		act_t *t = &in->t[i];
		if (!g->in[i].src) {
			t->missing = 1;
			continue;
		}
		const ck_tinfo *ti = &g->in[i].src->t[g->in[i].idx];
		t->dtype = ti->dtype;
		t->shape = ti->shape;
		t->nbytes = ti->nbytes;
		if (r)
			t->data = r[i].buf;
		else if (!rc)
			rc = read_in(&g->in[i], &t->data, e);
		t->owned = t->data != NULL;
	}
	x->cur = r; /* the buffers now belong to in; only their addresses and sums are kept */
	x->cursum = r && x->rsum;
	return rc;
}

/* The chain, casts and checks on the group's sources, then the results to the sink. */
static int run_chain(xrun *x, const plan_group *g, act_list *in, ck_err *e)
{
	const plan *p = x->p;
	act_list out = {0};
	int rc;
	if ((rc = act_chain_run(g->act, g->n_act, 0, in, &out, e)))
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
	}
	if (!rc)
		rc = emit(x, g, &out, e);
done:
	act_list_dispose(&out);
	return rc;
}

static int run_move(xrun *x, size_t gi, ck_err *e)
{
	const plan_group *g = &x->p->g[gi];
	act_list in = {0};
	int rc = 0;
	if (x->mode == X_WRITE_BEHIND && x->wheld + plan_group_bytes(x->p, g) > x->budget)
		rc = wb_finish(x, e); /* no room for this group beside the results in flight */
	if (!rc)
		rc = take_inputs(x, g, &in, e);
	if (!rc) {
		ra_start(x, gi + 1, plan_group_bytes(x->p, g));
		rc = run_chain(x, g, &in, e);
	}
	act_list_dispose(&in);
	free(x->cur);
	x->cur = NULL;
	x->cursum = 0;
	return rc;
}

static int run_gen(const plan *p, const plan_group *g, ck_tsink *sink, ck_err *e)
{
	const ck_tinfo *ti = &p->out[g->out[0]];
	void *buf = buf_get((size_t)ti->nbytes, e);
	int rc;
	if (!buf)
		return CK_ENOMEM;
	/* each tensor its own random stream: the seed mixed with its index in the plan */
	rc = act_generate(g->gen, ti->dtype, &ti->shape, g->fill, g->seed * 1000003ULL + g->out[0], buf, e);
	if (!rc)
		rc = ck_tsink_write(sink, g->out[0], buf, e);
	buf_put(buf);
	return rc;
}

static int run_group(xrun *x, size_t gi, ck_err *e)
{
	const plan *p = x->p;
	const plan_group *g = &p->g[gi];
	int rc;
	if (g->kind == PLAN_MOVE && !stack_streams(p, g, x->sink) && !unstack_streams(p, g))
		return run_move(x, gi, e);
	if ((rc = wb_finish(x, e))) /* these write on this thread, after whatever is in flight */
		return rc;
	return g->kind != PLAN_MOVE ? run_gen(p, g, x->sink, e)
	       : stack_streams(p, g, x->sink) ? run_stack(g, x->sink, e) : run_unstack(p, g, x->sink, e);
}

static int run_groups(xrun *x, exec_progress_fn fn, void *ctx, ck_err *e)
{
	const plan *p = x->p;
	uint64_t bytes = 0;
	size_t done = 0;
	for (size_t i = 0; i < p->n_groups; i++) {
		const plan_group *g = &p->g[i];
		int rc = run_group(x, i, e);
		if (rc)
			return rc;
		for (size_t j = 0; j < g->n_out; j++)
			bytes += p->out[g->out[j]].nbytes;
		done += g->n_out;
		if (fn)
			fn(ctx, done, p->n_out, bytes);
	}
	return wb_finish(x, e);
}

/* Which overlap the sink and sources allow: write-behind into a concurrent sink, else
 * read-ahead when some group's sources are all concurrent. */
static int mode_of(const plan *p, int sink_concurrent)
{
	if (sink_concurrent)
		return X_WRITE_BEHIND;
	for (size_t i = 0; i < p->n_groups; i++) {
		int all = p->g[i].kind == PLAN_MOVE && p->g[i].n_in > 0;
		for (size_t j = 0; all && j < p->g[i].n_in; j++)
			all = !p->g[i].in[j].src || p->g[i].in[j].src->concurrent;
		if (all)
			return X_READ_AHEAD;
	}
	return X_SYNC;
}

int exec_run(const plan *p, ck_tsink *sink, exec_progress_fn fn, void *ctx, ck_err *e)
{
	xrun x = {.p = p, .sink = sink, .mode = mode_of(p, sink->concurrent), .budget = 2 * plan_largest_bytes(p)};
	int rc;
	if (x.mode != X_SYNC && (x.budget < 2 || bg_open(&x.bg, NULL)))
		x.mode = X_SYNC; /* no helper thread: everything on this one */
	if (x.bg) {
		uint64_t peak = plan_peak_bytes(p), lim = peak > x.budget ? peak : x.budget;
		buf_limit(lim < SIZE_MAX ? (size_t)lim : 0);
	}
	rc = run_groups(&x, fn, ctx, e);
	(void)wb_finish(&x, e); /* after an error: whatever is in flight, then its buffers */
	if (x.rbusy) {
		size_t n = p->g[x.rgi].n_in;
		int r2 = 0;
		ra_release(ra_take(&x, &r2, e), n);
	}
	free(x.cur);
	bg_close(x.bg);
	buf_limit(0);
	buf_trim();
	return rc;
}

uint64_t exec_peak_bytes(const plan *p, int sink_concurrent, int *overlap)
{
	uint64_t peak = plan_peak_bytes(p), two = 2 * plan_largest_bytes(p);
	*overlap = mode_of(p, sink_concurrent) != X_SYNC;
	return *overlap && two > peak ? two : peak;
}
