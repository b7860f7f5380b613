/* test_share.c - the split of a run's work between ranks (share.c): largest first to the least
 * loaded rank, deterministic, balanced; the serial runtime (par_serial.c) it runs on here. */
#include <stdlib.h>
#include "par.h"
#include "share.h"
#include "st.h"
#include "t.h"

static uint64_t load_of(const uint64_t *b, const int *owner, size_t n, int r)
{
	uint64_t s = 0;
	for (size_t i = 0; i < n; i++)
		s += owner[i] == r ? b[i] : 0;
	return s;
}

static void test_split(void)
{
	ck_err e = {0};
	uint64_t b[] = {10, 70, 30, 30, 50, 10, 0};
	int o[7], want[] = {1, 0, 2, 2, 1, 1, 2};
	T_EQ_INT(share_split(b, 7, 3, o, &e), 0, "split 7 items over 3 ranks");
	/* 70 -> 0; 50 -> 1; 30 (index 2) -> 2; 30 (index 3) -> 2 (30 < 50); 10 (index 0) -> 1 (50 < 60);
	 * 10 (index 5) -> 1 (60 = 60: the lower rank); 0 -> 2 */
	int same = 1;
	for (int i = 0; i < 7; i++)
		same &= o[i] == want[i];
	T_OK(same, "largest first, to the least loaded rank, ties by rank and index: %d %d %d %d %d %d %d", o[0], o[1],
		o[2], o[3], o[4], o[5], o[6]);
	T_EQ_INT(load_of(b, o, 7, 0), 70, "rank 0 holds the largest alone");
	T_OK(load_of(b, o, 7, 1) <= 70 && load_of(b, o, 7, 2) <= 70, "no rank above the largest item plus the mean");
	T_EQ_INT(share_split(b, 0, 4, o, &e), 0, "nothing to split");
	int one[7];
	T_EQ_INT(share_split(b, 7, 1, one, &e), 0, "one rank");
	int all0 = 1;
	for (int i = 0; i < 7; i++)
		all0 &= one[i] == 0;
	T_OK(all0, "one rank takes everything");
}

static void test_balance(void)
{
	ck_err e = {0};
	enum { N = 1000 };
	uint64_t *b = calloc(N, sizeof *b), max = 0, mean = 0, big = 0;
	int *o = calloc(N, sizeof *o);
	for (size_t i = 0; i < N; i++) /* a model's spread: a few large, many small */
		b[i] = (i % 97 == 0) ? 1u << 20 : 1000 + (i * 7919) % 50000;
	T_EQ_INT(share_split(b, N, 8, o, &e), 0, "split 1000 items over 8 ranks");
	for (size_t i = 0; i < N; i++)
		mean += b[i], big = b[i] > big ? b[i] : big;
	mean /= 8;
	for (int r = 0; r < 8; r++) {
		uint64_t l = load_of(b, o, N, r);
		max = l > max ? l : max;
	}
	T_OK(max <= mean + big, "every rank within the mean plus the largest item (%llu <= %llu + %llu)",
		(unsigned long long)max, (unsigned long long)mean, (unsigned long long)big);
	free(b);
	free(o);
}

static void test_serial_runtime(void)
{
	ck_err e = {0};
	uint64_t mine[2] = {7, 9}, all[2] = {0, 0};
	char *s = strdup("x");
	T_EQ_INT(par_rank(), 0, "serial: rank 0");
	T_EQ_INT(par_size(), 1, "serial: one process");
	T_EQ_INT(par_allgather(mine, sizeof mine, all, &e), 0, "serial all-gather");
	T_OK(all[0] == 7 && all[1] == 9, "the all-gather of one rank is its own bytes");
	T_EQ_INT(share_bcast_str(&s, &e), 0, "serial broadcast of a string");
	T_EQ_STR(s, "x", "left as it is");
	free(s);
}

/* The CS -> HF split: shards of every plan as one list, each target marked with its shard's owner. */
static void test_shards(void)
{
	ck_err e = {0};
	plan p = {0};
	ck_tinfo t[3] = {{"a", CK_DT_F32, {1, {100}}, 400}, {"b", CK_DT_F32, {1, {100}}, 400}, {"c", CK_DT_F32, {1, {10}}, 40}};
	plan *ps[1] = {&p};
	unsigned char *mine[1] = {NULL}, *shard[1] = {NULL};
	size_t sh[3], nsh = 0;
	p.out = t;
	p.n_out = 3;
	T_EQ_INT(st_shards(t, 3, 500, sh, &nsh, &e), 0, "shards of 500 bytes");
	T_EQ_INT(nsh, 2, "two shards");
	T_EQ_INT(share_shards(ps, 1, 500, mine, shard, &e), 0, "split the shards");
	T_OK(mine[0][0] && mine[0][1] && mine[0][2] && shard[0][0] && shard[0][1], "one rank owns every shard and target");
	free(mine[0]);
	free(shard[0]);
}

int main(void)
{
	test_split();
	test_balance();
	test_serial_runtime();
	test_shards();
	return t_done();
}
