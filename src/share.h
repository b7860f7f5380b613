/* share.h - one conversion shared by the processes of a run (par.h): the work split by bytes,
 * the same way on every rank (each builds the same plan from the headers), each rank's part of
 * a plan, and the bytes each wrote. With one process the whole plan is its share. */
#ifndef CK_SHARE_H
#define CK_SHARE_H

#include <stdint.h>
#include <stdio.h>
#include "plan.h"

/* owner[i] for n items of bytes[i]: largest first, each to the least loaded of `ranks` ranks
 * (lowest rank on a tie; equal sizes in index order), so every rank computes the same split. */
int share_split(const uint64_t *bytes, size_t n, int ranks, int *owner, ck_err *e);
/* This rank's targets of p (mine[i] per p->out[i]): its groups, split by the bytes they write.
 * *bytes gets what they hold. */
int share_groups(const plan *p, unsigned char *mine, uint64_t *bytes, ck_err *e);
/* CS -> HF: n plans, each written as safetensors shards of shard_size (st.h), their shards
 * split by bytes over all n at once (ranks share within and across components). For plans[i]:
 * mine[i] per target, shard[i] per shard, both malloc'd (free each). */
int share_shards(plan *const *plans, size_t n, uint64_t shard_size, unsigned char **mine, unsigned char **shard,
	ck_err *e);
/* Rank 0's string (NULL too) in *s on every rank; others' old *s freed. Collective. */
int share_bcast_str(char **s, ck_err *e);
/* view = p with only the groups that write a target marked in mine (p borrowed: dispose view
 * with share_view_dispose, never plan_dispose). */
int share_view(const plan *p, const unsigned char *mine, plan *view, ck_err *e);
void share_view_dispose(plan *view);
/* Every rank's bytes written, printed by rank 0 to f (NULL: not printed) with their ratio to
 * the mean. Collective. */
int share_report(uint64_t mine, size_t tensors, FILE *f, ck_err *e);

#endif
