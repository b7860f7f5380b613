/* share.c - the split of one plan between the ranks of a run (share.h). Largest first to the
 * least loaded rank keeps every rank within the largest item of the mean, and needs nothing
 * but the sizes every rank already has: no messages to agree on it. */
#include <stdlib.h>
#include <string.h>
#include "par.h"
#include "share.h"
#include "st.h"

typedef struct item {
	uint64_t bytes;
	size_t i;
} item;

static int item_cmp(const void *a, const void *b)
{
	const item *x = a, *y = b;
	if (x->bytes != y->bytes)
		return x->bytes < y->bytes ? 1 : -1;
	return x->i < y->i ? -1 : x->i > y->i;
}

int share_split(const uint64_t *bytes, size_t n, int ranks, int *owner, ck_err *e)
{
	item *v = ck_calloc(e, n ? n : 1, sizeof *v);
	uint64_t *load = ck_calloc(e, ranks > 0 ? (size_t)ranks : 1, sizeof *load);
	if (!v || !load) {
		free(v);
		free(load);
		return CK_ENOMEM;
	}
	for (size_t i = 0; i < n; i++)
		v[i] = (item){bytes[i], i};
	qsort(v, n, sizeof *v, item_cmp);
	for (size_t k = 0; k < n; k++) {
		int best = 0;
		for (int r = 1; r < ranks; r++)
			if (load[r] < load[best])
				best = r;
		owner[v[k].i] = best;
		load[best] += v[k].bytes;
	}
	free(v);
	free(load);
	return 0;
}

int share_groups(const plan *p, unsigned char *mine, uint64_t *bytes, ck_err *e)
{
	uint64_t *gb = ck_calloc(e, p->n_groups ? p->n_groups : 1, sizeof *gb);
	int *owner = ck_calloc(e, p->n_groups ? p->n_groups : 1, sizeof *owner), rc;
	if (!gb || !owner) {
		free(gb);
		free(owner);
		return CK_ENOMEM;
	}
	for (size_t g = 0; g < p->n_groups; g++)
		for (size_t j = 0; j < p->g[g].n_out; j++)
			gb[g] += p->out[p->g[g].out[j]].nbytes;
	rc = share_split(gb, p->n_groups, par_size(), owner, e);
	memset(mine, 0, p->n_out);
	*bytes = 0;
	for (size_t g = 0; !rc && g < p->n_groups; g++)
		if (owner[g] == par_rank()) {
			for (size_t j = 0; j < p->g[g].n_out; j++)
				mine[p->g[g].out[j]] = 1;
			*bytes += gb[g];
		}
	free(gb);
	free(owner);
	return rc;
}

int share_shards(plan *const *plans, size_t n, uint64_t shard_size, unsigned char **mine, unsigned char **shard,
	ck_err *e)
{
	size_t **sh = ck_calloc(e, n ? n : 1, sizeof *sh), *nsh = ck_calloc(e, n ? n : 1, sizeof *nsh), items = 0;
	uint64_t *bytes = NULL;
	int *owner = NULL, rc = sh && nsh ? 0 : CK_ENOMEM;
	for (size_t i = 0; i < n && !rc; i++) {
		const plan *p = plans[i];
		if (!(sh[i] = ck_calloc(e, p->n_out ? p->n_out : 1, sizeof **sh)))
			rc = CK_ENOMEM;
		else
			rc = st_shards(p->out, p->n_out, shard_size, sh[i], &nsh[i], e);
		items += rc ? 0 : nsh[i];
	}
	if (!rc && (!(bytes = ck_calloc(e, items ? items : 1, sizeof *bytes)) ||
		!(owner = ck_calloc(e, items ? items : 1, sizeof *owner))))
		rc = CK_ENOMEM;
	for (size_t i = 0, base = 0; i < n && !rc; base += nsh[i++])
		for (size_t t = 0; t < plans[i]->n_out; t++)
			bytes[base + sh[i][t]] += plans[i]->out[t].nbytes;
	if (!rc)
		rc = share_split(bytes, items, par_size(), owner, e);
	for (size_t i = 0, base = 0; i < n && !rc; base += nsh[i++]) {
		if (!(mine[i] = ck_malloc(e, plans[i]->n_out ? plans[i]->n_out : 1)) || !(shard[i] = ck_malloc(e, nsh[i]))) {
			rc = CK_ENOMEM;
			break;
		}
		for (size_t s = 0; s < nsh[i]; s++)
			shard[i][s] = owner[base + s] == par_rank();
		for (size_t t = 0; t < plans[i]->n_out; t++)
			mine[i][t] = shard[i][sh[i][t]];
	}
	for (size_t i = 0; sh && i < n; i++)
		free(sh[i]);
	free(sh);
	free(nsh);
	free(bytes);
	free(owner);
	return rc;
}

int share_bcast_str(char **s, ck_err *e)
{
	uint64_t len = *s ? strlen(*s) + 1 : 0;
	int rc;
	if (par_size() == 1)
		return 0;
	if ((rc = par_bcast(&len, sizeof len, 0, e)))
		return rc;
	if (par_rank() != 0) {
		free(*s);
		*s = NULL;
		if (len && !(*s = ck_malloc(e, (size_t)len)))
			return CK_ENOMEM;
	}
	return len ? par_bcast(*s, (size_t)len, 0, e) : 0;
}

int share_view(const plan *p, const unsigned char *mine, plan *view, ck_err *e)
{
	*view = *p;
	view->n_groups = view->cap_groups = 0;
	if (!(view->g = ck_calloc(e, p->n_groups ? p->n_groups : 1, sizeof *view->g)))
		return CK_ENOMEM;
	for (size_t g = 0; g < p->n_groups; g++) {
		int any = 0;
		for (size_t j = 0; j < p->g[g].n_out && !any; j++)
			any = mine[p->g[g].out[j]];
		if (any)
			view->g[view->n_groups++] = p->g[g];
	}
	return 0;
}

void share_view_dispose(plan *view)
{
	free(view->g);
	view->g = NULL;
}

int share_report(uint64_t mine, size_t tensors, FILE *f, ck_err *e)
{
	int n = par_size(), rc;
	uint64_t me[2] = {mine, tensors}, *all = ck_calloc(e, (size_t)n, sizeof me);
	double mean = 0;
	if (!all)
		return CK_ENOMEM;
	if (!(rc = par_allgather(me, sizeof me, all, e)) && f && par_rank() == 0) {
		for (int r = 0; r < n; r++)
			mean += (double)all[2 * r] / n;
		for (int r = 0; r < n; r++)
			fprintf(f, "ckconv: rank %d of %d wrote %llu bytes in %llu tensors (%.2fx the mean)\n", r, n,
				(unsigned long long)all[2 * r], (unsigned long long)all[2 * r + 1],
				mean > 0 ? (double)all[2 * r] / mean : 1.0);
	}
	free(all);
	return rc;
}
