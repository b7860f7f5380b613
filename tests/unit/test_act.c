/* Unit tests for act.c: each kernel on small known tensors, and every action's inverse. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "act.h"
#include "buf.h"
#include "t.h"

static act_t mk_f32(int rank, const int64_t *dims, int fill_iota)
{
	act_t t = {0};
	t.dtype = CK_DT_F32;
	t.shape.rank = rank;
	for (int i = 0; i < rank; i++)
		t.shape.dim[i] = dims[i];
	ck_tensor_nbytes(t.dtype, &t.shape, &t.nbytes, NULL);
	t.data = buf_get(t.nbytes ? t.nbytes : 1, NULL);
	t.owned = 1;
	for (uint64_t i = 0; i < t.nbytes / 4; i++)
		((float *)t.data)[i] = fill_iota ? (float)i : 0.0f;
	return t;
}

static act_list one(act_t t)
{
	act_list l = {1, malloc(sizeof(act_t))};
	l.t[0] = t;
	return l;
}

static float at(const act_list *l, size_t t, size_t i) { return ((float *)l->t[t].data)[i]; }

static act_inst inst(vocab_kind k)
{
	act_inst a;
	memset(&a, 0, sizeof a);
	a.kind = k;
	a.pos.file = "test";
	return a;
}

/* run forward then the inverse and check we get the input back */
static int roundtrip(act_inst fwd, act_inst back, act_list in_copy_src)
{
	act_list in = {in_copy_src.n, calloc(in_copy_src.n, sizeof(act_t))}, mid = {0}, out = {0};
	ck_err e = {0};
	for (size_t i = 0; i < in.n; i++) {
		in.t[i] = in_copy_src.t[i];
		in.t[i].data = buf_get(in.t[i].nbytes, NULL);
		memcpy(in.t[i].data, in_copy_src.t[i].data, in.t[i].nbytes);
		in.t[i].owned = 1;
	}
	int ok = act_chain_run(&fwd, 1, 0, &in, &mid, &e) == 0 && act_chain_run(&back, 1, 0, &mid, &out, &e) == 0 &&
		out.n == in_copy_src.n;
	for (size_t i = 0; ok && i < out.n; i++)
		ok = out.t[i].nbytes == in_copy_src.t[i].nbytes && ck_shape_eq(&out.t[i].shape, &in_copy_src.t[i].shape) &&
			!memcmp(out.t[i].data, in_copy_src.t[i].data, out.t[i].nbytes);
	if (e.code)
		printf("# %s\n", e.msg);
	act_list_dispose(&out);
	return ok;
}

/* act_nan_to_zero: sideband sparsity's finalizing, per floating dtype; other values untouched. */
static void test_nan_to_zero(void)
{
	float f[4] = {1.5f, NAN, -NAN, -2.0f};
	act_nan_to_zero(CK_DT_F32, f, sizeof f);
	T_OK(f[0] == 1.5f && f[1] == 0.0f && f[2] == 0.0f && f[3] == -2.0f, "nan->0 f32");
	double d[3] = {NAN, 3.0, INFINITY};
	act_nan_to_zero(CK_DT_F64, d, sizeof d);
	T_OK(d[0] == 0.0 && d[1] == 3.0 && d[2] == INFINITY, "nan->0 f64 (inf kept)");
	uint16_t b[4] = {0x7fc0, 0x7f80, 0x3f80, 0xffc1}; /* bf16: NaN, +inf, 1.0, -NaN */
	act_nan_to_zero(CK_DT_BF16, b, sizeof b);
	T_OK(b[0] == 0 && b[1] == 0x7f80 && b[2] == 0x3f80 && b[3] == 0, "nan->0 bf16 (inf kept)");
	uint16_t h[3] = {0x7e00, 0x7c00, 0x3c00}; /* f16: NaN, +inf, 1.0 */
	act_nan_to_zero(CK_DT_F16, h, sizeof h);
	T_OK(h[0] == 0 && h[1] == 0x7c00 && h[2] == 0x3c00, "nan->0 f16 (inf kept)");
	int32_t i[2] = {-1, 0x7fc00000};
	act_nan_to_zero(CK_DT_I32, i, sizeof i);
	T_OK(i[0] == -1 && i[1] == 0x7fc00000, "nan->0 leaves integer tensors alone");
}

static act_list iota(int rank, const int64_t *dims) { return one(mk_f32(rank, dims, 1)); }

static int values_are(const act_list *l, size_t t, const float *want, size_t n)
{
	int same = l->n > t && l->t[t].nbytes == n * 4;
	for (size_t i = 0; same && i < n; i++)
		same = at(l, t, i) == want[i];
	return same;
}

static act_inst with_list(vocab_kind k, const long long *v, size_t n)
{
	act_inst a = inst(k);
	a.has_list = 1;
	a.n_list = n;
	memcpy(a.list, v, n * sizeof *v);
	a.count = 2;
	return a;
}

/* The generic primitives of rule-file functions: known vectors (numpy's) and their inverses. */
static void test_primitives(void)
{
	ck_err e = {0};
	act_list in, out;
	int64_t d234[] = {2, 3, 4}, d62[] = {6, 2}, d23[] = {2, 3}, d12[] = {12};

	/* permute [1, 0] of a [2, 3, 4]: numpy.transpose(a, (1, 0, 2)) */
	static const float p10[24] = {0, 1, 2, 3, 12, 13, 14, 15, 4, 5, 6, 7, 16, 17, 18, 19, 8, 9, 10, 11, 20, 21, 22, 23};
	act_inst pm = with_list(VOCAB_PERMUTE, (long long[]){1, 0}, 2);
	in = iota(3, d234);
	T_EQ_INT(act_chain_run(&pm, 1, 0, &in, &out, &e), 0, "permute [1, 0] runs");
	T_OK(out.t[0].shape.dim[0] == 3 && out.t[0].shape.dim[1] == 2 && out.t[0].shape.dim[2] == 4, "permute shape [3, 2, 4]");
	T_OK(values_are(&out, 0, p10, 24), "permute [1, 0] = numpy.transpose(a, (1, 0, 2))");
	act_list_dispose(&out);
	/* permute [2, 0, 1]: numpy.transpose(a, (2, 0, 1)); its inverse is [1, 2, 0] */
	static const float p201[24] = {0, 4, 8, 12, 16, 20, 1, 5, 9, 13, 17, 21, 2, 6, 10, 14, 18, 22, 3, 7, 11, 15, 19, 23};
	act_inst p3 = with_list(VOCAB_PERMUTE, (long long[]){2, 0, 1}, 3), p3i = with_list(VOCAB_PERMUTE, (long long[]){1, 2, 0}, 3);
	in = iota(3, d234);
	T_EQ_INT(act_chain_run(&p3, 1, 0, &in, &out, &e), 0, "permute [2, 0, 1] runs");
	T_OK(values_are(&out, 0, p201, 24), "permute [2, 0, 1] = numpy.transpose(a, (2, 0, 1))");
	act_list_dispose(&out);
	act_list r = iota(3, d234);
	T_OK(roundtrip(p3, p3i, r), "permute [1, 2, 0] inverts permute [2, 0, 1]");
	act_list_dispose(&r);
	act_inst bad = with_list(VOCAB_PERMUTE, (long long[]){0, 0}, 2);
	in = iota(3, d234);
	T_OK(act_chain_run(&bad, 1, 0, &in, &out, &e) != 0, "permute refuses [0, 0]");
	T_HAS(e.msg, "test:0:0: permute: axes must be a permutation", "permute message");
	ck_err_clear(&e);

	/* unflatten [6, 2] -> [2, 3, 2], then flatten back: views, the bytes untouched */
	act_inst uf = with_list(VOCAB_UNFLATTEN, (long long[]){2, 3}, 2), fl = with_list(VOCAB_FLATTEN, (long long[]){2, 3}, 2);
	in = iota(2, d62);
	T_EQ_INT(act_chain_run(&uf, 1, 0, &in, &out, &e), 0, "unflatten runs");
	T_OK(out.t[0].shape.rank == 3 && out.t[0].shape.dim[0] == 2 && out.t[0].shape.dim[1] == 3 && out.t[0].shape.dim[2] == 2 &&
			at(&out, 0, 11) == 11, "unflatten [6, 2] -> [2, 3, 2]");
	act_list_dispose(&out);
	r = iota(2, d62);
	T_OK(roundtrip(uf, fl, r), "flatten inverts unflatten");
	act_list_dispose(&r);
	act_inst uf5 = with_list(VOCAB_UNFLATTEN, (long long[]){5, 1}, 2);
	in = iota(2, d62);
	T_OK(act_chain_run(&uf5, 1, 0, &in, &out, &e) != 0, "unflatten refuses sizes that do not multiply to the axis");
	T_HAS(e.msg, "axis 0 has size 6, the sizes multiply to 5", "unflatten message");
	ck_err_clear(&e);
	act_inst fl2 = with_list(VOCAB_FLATTEN, (long long[]){3, 2}, 2);
	in = one(mk_f32(3, (int64_t[]){2, 3, 2}, 1));
	T_OK(act_chain_run(&fl2, 1, 0, &in, &out, &e) != 0, "flatten refuses sizes that are not the axes'");
	ck_err_clear(&e);

	/* GPT-NeoX's rows [heads, (q, k, v), d]: unflatten [2, 3, 1], permute [1, 0], flatten 3:
	 * numpy a.reshape(2, 3, 2).transpose(1, 0, 2).reshape(6, 2) for a [6, 2] with d = 1 row */
	static const float neox[12] = {0, 1, 6, 7, 2, 3, 8, 9, 4, 5, 10, 11};
	act_inst chain[3] = {with_list(VOCAB_UNFLATTEN, (long long[]){2, 3, 1}, 3), pm,
		with_list(VOCAB_FLATTEN, (long long[]){3, 2, 1}, 3)};
	chain[2].count = 3;
	in = iota(2, d62);
	T_EQ_INT(act_chain_run(chain, 3, 0, &in, &out, &e), 0, "unflatten, permute, flatten run");
	T_OK(out.t[0].shape.rank == 2 && out.t[0].shape.dim[0] == 6 && values_are(&out, 0, neox, 12),
		"per-head fused rows regrouped as numpy does");
	act_list_dispose(&out);

	/* split by sizes [1, 2] along axis 1 of a [2, 3]: numpy.split(a, [1], axis=1); concat back */
	act_inst sp = with_list(VOCAB_SPLIT, (long long[]){1, 2}, 2), cc = with_list(VOCAB_CONCAT, (long long[]){1, 2}, 2);
	sp.axis = cc.axis = 1;
	in = iota(2, d23);
	T_EQ_INT(act_chain_run(&sp, 1, 0, &in, &out, &e), 0, "split by sizes runs");
	T_OK(out.n == 2 && values_are(&out, 0, (float[]){0, 3}, 2) && values_are(&out, 1, (float[]){1, 2, 4, 5}, 4),
		"split [1, 2] along axis 1 = numpy.split");
	act_list_dispose(&out);
	r = iota(2, d23);
	T_OK(roundtrip(sp, cc, r), "concat by sizes inverts split by sizes");
	act_list_dispose(&r);
	act_inst sp9 = with_list(VOCAB_SPLIT, (long long[]){1, 1}, 2);
	in = iota(1, d12);
	T_OK(act_chain_run(&sp9, 1, 0, &in, &out, &e) != 0, "split refuses sizes that do not sum to the axis");
	T_HAS(e.msg, "axis 0 has size 12, the sizes sum to 2", "split message");
	ck_err_clear(&e);
	act_inst ceq = inst(VOCAB_CONCAT);
	in = (act_list){2, calloc(2, sizeof(act_t))};
	in.t[0] = mk_f32(1, (int64_t[]){2}, 1);
	in.t[1] = mk_f32(1, (int64_t[]){3}, 1);
	T_OK(act_chain_run(&ceq, 1, 0, &in, &out, &e) != 0, "concat without sizes refuses unequal parts (no equal split would invert it)");
	ck_err_clear(&e);

	/* select [0, 2, 1]: CodeGen's q, v, k -> q, k, v; it is its own inverse here */
	act_inst sel = with_list(VOCAB_SELECT, (long long[]){0, 2, 1}, 3), sp3 = inst(VOCAB_SPLIT);
	sp3.parts = 3;
	in = iota(1, d12);
	act_inst qvk[2] = {sp3, sel};
	T_EQ_INT(act_chain_run(qvk, 2, 0, &in, &out, &e), 0, "split then select runs");
	T_OK(out.n == 3 && at(&out, 0, 0) == 0 && at(&out, 1, 0) == 8 && at(&out, 2, 0) == 4, "select [0, 2, 1] reorders the parts");
	act_list_dispose(&out);
	act_inst sel2 = with_list(VOCAB_SELECT, (long long[]){0, 0, 1}, 3);
	in = (act_list){3, calloc(3, sizeof(act_t))};
	for (int i = 0; i < 3; i++)
		in.t[i] = mk_f32(1, (int64_t[]){1}, 1);
	T_OK(act_chain_run(&sel2, 1, 0, &in, &out, &e) != 0, "select refuses an order that is not a permutation");
	ck_err_clear(&e);

	/* only: a step applied to tensor 1 of 2, the other passes unchanged */
	act_inst sc = inst(VOCAB_SCALE);
	sc.by = 2.0;
	sc.only = 2;
	in = (act_list){2, calloc(2, sizeof(act_t))};
	in.t[0] = mk_f32(1, (int64_t[]){2}, 1);
	in.t[1] = mk_f32(1, (int64_t[]){2}, 1);
	T_EQ_INT(act_chain_run(&sc, 1, 0, &in, &out, &e), 0, "scale only [1] runs");
	T_OK(at(&out, 0, 1) == 1 && at(&out, 1, 1) == 2, "only tensor 1 is scaled");
	act_list_dispose(&out);
	sc.only = 4;
	in = one(mk_f32(1, (int64_t[]){2}, 1));
	T_OK(act_chain_run(&sc, 1, 0, &in, &out, &e) != 0, "only naming a tensor the chain lacks is refused");
	ck_err_clear(&e);

	/* add / subtract: float32 math rounded to bf16 (round-to-nearest-even) as PyTorch; the vector
	 * (numpy, float32 then RNE) shows (w + 1) - 1 is not always w: 0x4049 -> 0x4084 -> 0x4048 */
	static const uint16_t bin[6] = {0x3f80, 0x3b80, 0xbfc0, 0x4049, 0x3a83, 0x4780},
			      plus[6] = {0x4000, 0x3f80, 0xbf00, 0x4084, 0x3f80, 0x4780},
			      back[6] = {0x3f80, 0x0000, 0xbfc0, 0x4048, 0x0000, 0x4780};
	uint16_t b[6];
	memcpy(b, bin, sizeof b);
	T_EQ_INT(act_add(CK_DT_BF16, b, sizeof b, 1.0, &e), 0, "add 1 to bf16 runs");
	T_OK(!memcmp(b, plus, sizeof b), "bf16 + 1 as PyTorch rounds it");
	T_EQ_INT(act_add(CK_DT_BF16, b, sizeof b, -1.0, &e), 0, "subtract 1 from bf16 runs");
	T_OK(!memcmp(b, back, sizeof b), "bf16 (w + 1) - 1 as PyTorch rounds it");
	act_inst ad = inst(VOCAB_ADD), su = inst(VOCAB_SUBTRACT);
	ad.by = su.by = 0.5;
	r = iota(1, d12);
	T_OK(roundtrip(ad, su, r), "subtract inverts add (f32 values exact here)");
	act_list_dispose(&r);
	int32_t ints[2] = {1, 2};
	T_OK(act_add(CK_DT_I32, ints, sizeof ints, 1.0, &e) != 0, "add refuses an integer tensor");
	ck_err_clear(&e);
}

static int bits_are(const float *v, const uint32_t *want, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint32_t b;
		memcpy(&b, &v[i], 4);
		if (b != want[i])
			return 0;
	}
	return 1;
}

/* inv_freq and alibi_slopes: bit patterns made in Python: 1 / base^(2i/d) with each step rounded to
 * float32 (the power correctly rounded: math.pow in double, then to float32), and the reference's
 * get_alibi_slopes rounded to float32. */
static void test_rope_alibi_generators(void)
{
	ck_err e = {0};
	float v[32];
	ck_shape s4 = {1, {4}}, s32 = {1, {32}}, s61 = {2, {6, 1}}, s12 = {2, {12, 1}};
	static const uint32_t inv8[4] = {0x3f800000, 0x3dcccccd, 0x3c23d70a, 0x3a83126f},
			      inv64[8] = {0x3f800000, 0x3f3ff911, 0x3f0ff59a, 0x3ed7e89b, 0x3ea1e89b, 0x3e72d423, 0x3e361887,
				      0x3e088d77},
			      al4[4] = {0x3e800000, 0x3d800000, 0x3c800000, 0x3b800000},
			      al6[6] = {0x3e800000, 0x3d800000, 0x3c800000, 0x3b800000, 0x3f000000, 0x3e000000},
			      al12[12] = {0x3f000000, 0x3e800000, 0x3e000000, 0x3d800000, 0x3d000000, 0x3c800000, 0x3c000000,
				      0x3b800000, 0x3f3504f3, 0x3eb504f3, 0x3e3504f3, 0x3db504f3};
	T_EQ_INT(act_generate(VOCAB_INV_FREQ, CK_DT_F32, &s4, 10000, 0, v, &e), 0, "inv_freq runs");
	T_OK(bits_are(v, inv8, 4), "inv_freq base 10000, rotary dim 8: float32 steps");
	T_EQ_INT(act_generate(VOCAB_INV_FREQ, CK_DT_F32, &s32, 10000, 0, v, &e), 0, "inv_freq of 32 runs");
	T_OK(bits_are(v, inv64, 8), "inv_freq base 10000, rotary dim 64: float32 steps, the power correctly rounded");
	T_EQ_INT(act_generate(VOCAB_ALIBI_SLOPES, CK_DT_F32, &s4, 4, 0, v, &e), 0, "alibi_slopes runs");
	T_OK(bits_are(v, al4, 4), "ALiBi slopes of 4 heads (a power of two)");
	T_EQ_INT(act_generate(VOCAB_ALIBI_SLOPES, CK_DT_F32, &s61, 6, 0, v, &e), 0, "alibi_slopes of 6 heads runs");
	T_OK(bits_are(v, al6, 6), "ALiBi slopes of 6 heads: 4's, then every other of 8's");
	T_EQ_INT(act_generate(VOCAB_ALIBI_SLOPES, CK_DT_F32, &s12, 12, 0, v, &e), 0, "alibi_slopes of 12 heads runs");
	T_OK(bits_are(v, al12, 12), "ALiBi slopes of 12 heads: 8's, then every other of 16's");
	T_OK(act_generate(VOCAB_ALIBI_SLOPES, CK_DT_F32, &s4, 6, 0, v, &e) != 0, "alibi_slopes refuses a shape of other than HEADS elements");
	T_HAS(e.msg, "6 heads for a shape of 4 elements", "alibi_slopes message");
	ck_err_clear(&e);
	uint16_t h[4];
	T_EQ_INT(act_generate(VOCAB_ALIBI_SLOPES, CK_DT_BF16, &s4, 4, 0, h, &e), 0, "alibi_slopes into bf16 runs");
	T_OK(h[0] == 0x3e80 && h[3] == 0x3b80, "bf16 slopes are the float32 ones rounded");
}

int main(void)
{
	ck_err e = {0};
	act_list in, out;
	test_nan_to_zero();
	test_primitives();
	test_rope_alibi_generators();

	/* transpose [2,3] -> [3,2] */
	int64_t d23[] = {2, 3};
	act_inst tr = inst(VOCAB_TRANSPOSE);
	in = one(mk_f32(2, d23, 1));
	T_EQ_INT(act_chain_run(&tr, 1, 0, &in, &out, &e), 0, "transpose runs");
	T_OK(out.t[0].shape.dim[0] == 3 && out.t[0].shape.dim[1] == 2, "transpose shape [3, 2]");
	T_OK(at(&out, 0, 0) == 0 && at(&out, 0, 1) == 3 && at(&out, 0, 2) == 1 && at(&out, 0, 5) == 5, "transpose values");
	act_list_dispose(&out);

	/* transpose leaves 1-D alone (Conv1D bias) */
	int64_t d4[] = {4};
	in = one(mk_f32(1, d4, 1));
	T_EQ_INT(act_chain_run(&tr, 1, 0, &in, &out, &e), 0, "transpose 1-D passes");
	T_OK(out.t[0].shape.rank == 1 && at(&out, 0, 3) == 3, "1-D unchanged");
	act_list_dispose(&out);

	/* rope: one group of 4 rows, rotary dim 4: rows [0,1,2,3] -> [0,2,1,3] */
	int64_t d42[] = {4, 2};
	act_inst rope = inst(VOCAB_ROPE_INTERLEAVE);
	rope.groups = 1;
	rope.dim = 4;
	in = one(mk_f32(2, d42, 1));
	T_EQ_INT(act_chain_run(&rope, 1, 0, &in, &out, &e), 0, "rope_interleave runs");
	T_OK(at(&out, 0, 0) == 0 && at(&out, 0, 2) == 4 && at(&out, 0, 4) == 2 && at(&out, 0, 6) == 6,
		"rope rows 0,2,1,3");
	act_list_dispose(&out);

	/* rope: rows beyond the rotary dim stay in place (partial rotary) */
	int64_t d61[] = {6, 1};
	rope.dim = 4;
	in = one(mk_f32(2, d61, 1));
	T_EQ_INT(act_chain_run(&rope, 1, 0, &in, &out, &e), 0, "partial rotary runs");
	T_OK(at(&out, 0, 1) == 2 && at(&out, 0, 2) == 1 && at(&out, 0, 4) == 4 && at(&out, 0, 5) == 5, "rows >= dim unchanged");
	act_list_dispose(&out);

	/* rope on a 1-D tensor (Qwen2's q/k biases): its elements are the rows. Two groups of 4,
	 * dim 4: [0..7] -> [0,2,1,3, 4,6,5,7]; rope_deinterleave gives the input back */
	int64_t d8[] = {8};
	rope.groups = 2;
	rope.dim = 4;
	in = one(mk_f32(1, d8, 1));
	T_EQ_INT(act_chain_run(&rope, 1, 0, &in, &out, &e), 0, "rope_interleave runs on 1-D");
	{
		static const float want[8] = {0, 2, 1, 3, 4, 6, 5, 7};
		int same = out.t[0].shape.rank == 1 && out.t[0].shape.dim[0] == 8;
		for (int i = 0; same && i < 8; i++)
			same = at(&out, 0, (size_t)i) == want[i];
		T_OK(same, "1-D rope elements 0,2,1,3,4,6,5,7 (shape [8] kept)");
	}
	act_list_dispose(&out);
	{
		act_inst fwd = rope, back = inst(VOCAB_ROPE_DEINTERLEAVE);
		back.groups = 2;
		back.dim = 4;
		act_list src = one(mk_f32(1, d8, 1));
		T_OK(roundtrip(fwd, back, src), "1-D rope_deinterleave inverts rope_interleave");
		act_list_dispose(&src);
	}
	rope.groups = 1;

	/* rope: groups must divide rows */
	rope.groups = 4;
	in = one(mk_f32(2, d61, 1));
	ck_err_clear(&e);
	T_OK(act_chain_run(&rope, 1, 1, &in, &out, &e) != 0, "rope refuses 6 rows in 4 groups");
	T_HAS(e.msg, "6 rows do not split into 4 groups", "rope message");
	ck_err_clear(&e);

	/* split [6,2] in 3 along axis 0; concat back */
	int64_t d62[] = {6, 2};
	act_inst sp = inst(VOCAB_SPLIT), cc = inst(VOCAB_CONCAT);
	sp.parts = 3;
	in = one(mk_f32(2, d62, 1));
	T_EQ_INT(act_chain_run(&sp, 1, 0, &in, &out, &e), 0, "split runs");
	T_OK(out.n == 3 && out.t[1].shape.dim[0] == 2 && at(&out, 1, 0) == 4 && at(&out, 2, 3) == 11, "split parts");
	act_list_dispose(&out);

	/* split along axis 1 */
	sp.axis = 1;
	sp.parts = 2;
	in = one(mk_f32(2, d62, 1));
	T_EQ_INT(act_chain_run(&sp, 1, 0, &in, &out, &e), 0, "split axis 1 runs");
	T_OK(out.n == 2 && out.t[0].shape.dim[1] == 1 && at(&out, 0, 1) == 2 && at(&out, 1, 1) == 3, "split axis 1 values");
	act_list_dispose(&out);

	/* stack 3 x [2,2] along axis 1 -> [2,3,2] (mixtral expert_weights layout) */
	int64_t d22[] = {2, 2};
	act_inst st = inst(VOCAB_STACK), un = inst(VOCAB_UNSTACK);
	st.axis = un.axis = 1;
	in.n = 3;
	in.t = calloc(3, sizeof(act_t));
	for (int i = 0; i < 3; i++) {
		in.t[i] = mk_f32(2, d22, 0);
		for (int j = 0; j < 4; j++)
			((float *)in.t[i].data)[j] = (float)(10 * i + j);
	}
	act_list keep = {3, calloc(3, sizeof(act_t))};
	for (int i = 0; i < 3; i++) {
		keep.t[i] = in.t[i];
		keep.t[i].data = buf_get(16, NULL);
		memcpy(keep.t[i].data, in.t[i].data, 16);
	}
	T_EQ_INT(act_chain_run(&st, 1, 0, &in, &out, &e), 0, "stack runs");
	T_OK(out.t[0].shape.rank == 3 && out.t[0].shape.dim[0] == 2 && out.t[0].shape.dim[1] == 3 && out.t[0].shape.dim[2] == 2,
		"stack shape [2, 3, 2]");
	/* out[r, e, c] = expert e row r col c */
	T_OK(at(&out, 0, 0) == 0 && at(&out, 0, 2) == 10 && at(&out, 0, 4) == 20 && at(&out, 0, 6) == 2, "stack layout");
	act_list_dispose(&out);
	T_OK(roundtrip(st, un, keep), "unstack inverts stack");

	/* inverses on random data */
	int64_t d84[] = {8, 4};
	act_list r = one(mk_f32(2, d84, 1));
	act_inst a = inst(VOCAB_ROPE_INTERLEAVE), b = inst(VOCAB_ROPE_DEINTERLEAVE);
	a.groups = b.groups = 2;
	a.dim = b.dim = 4;
	T_OK(roundtrip(a, b, r), "rope_deinterleave inverts rope_interleave");
	T_OK(roundtrip(tr, tr, r), "transpose is its own inverse");
	act_inst ro = inst(VOCAB_ROLL), rb = inst(VOCAB_ROLL);
	ro.shift = -1;
	rb.shift = 1;
	T_OK(roundtrip(ro, rb, r), "roll back inverts roll");
	act_inst s2 = inst(VOCAB_SPLIT);
	s2.parts = 4;
	T_OK(roundtrip(s2, cc, r), "concat inverts split");
	act_inst du = inst(VOCAB_DUPLICATE), fi = inst(VOCAB_FIRST);
	du.parts = 2;
	T_OK(roundtrip(du, fi, r), "first inverts duplicate");
	act_list_dispose(&r);
	act_list_dispose(&keep);

	/* roll by -1 moves row 0 last (CLIP CLS position) */
	int64_t d31[] = {3, 1};
	in = one(mk_f32(2, d31, 1));
	T_EQ_INT(act_chain_run(&ro, 1, 0, &in, &out, &e), 0, "roll runs");
	T_OK(at(&out, 0, 0) == 1 && at(&out, 0, 2) == 0, "roll -1: first row goes last");
	act_list_dispose(&out);

	/* generators */
	ck_shape s = {4, {1, 1, 3, 3}};
	unsigned char m[9];
	T_EQ_INT(act_gen_tril(CK_DT_U8, &s, m, &e), 0, "tril runs");
	T_OK(m[0] == 1 && m[1] == 0 && m[3] == 1 && m[4] == 1 && m[5] == 0 && m[8] == 1, "tril lower triangle");
	ck_shape sc = {0, {0}};
	float f = 0;
	T_EQ_INT(act_gen_fill(CK_DT_F32, &sc, -10000.0, &f, &e), 0, "fill scalar");
	T_OK(f == -10000.0f, "fill value");
	uint16_t h;
	T_EQ_INT(act_gen_fill(CK_DT_BF16, &sc, 1.0, &h, &e), 0, "fill bf16");
	T_EQ_INT(h, 0x3F80, "bf16 1.0 bits");
	/* normal(0, std): reproducible from its seed, and of that mean and spread */
	static float n1[10000], n2[10000];
	ck_shape sn = {1, {10000}};
	T_EQ_INT(act_gen_normal(CK_DT_F32, &sn, 0.02, 7, n1, &e), 0, "normal runs");
	act_gen_normal(CK_DT_F32, &sn, 0.02, 7, n2, &e);
	T_OK(!memcmp(n1, n2, sizeof n1), "the same seed gives the same values");
	double sum = 0, sq = 0;
	for (int i = 0; i < 10000; i++) {
		sum += n1[i];
		sq += (double)n1[i] * n1[i];
	}
	T_OK(fabs(sum / 10000) < 0.001 && fabs(sqrt(sq / 10000) - 0.02) < 0.001, "mean 0, std 0.02 (%g, %g)", sum / 10000,
		sqrt(sq / 10000));
	act_gen_normal(CK_DT_F32, &sn, 0.02, 8, n2, &e);
	T_OK(memcmp(n1, n2, sizeof n1), "another seed, other values");
	T_EQ_INT(act_gen_normal(CK_DT_I32, &sn, 0.02, 7, n2, &e), CK_EINVALID, "integer dtypes are refused");
	return t_done();
}
