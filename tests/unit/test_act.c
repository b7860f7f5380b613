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

int main(void)
{
	ck_err e = {0};
	act_list in, out;
	test_nan_to_zero();

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
