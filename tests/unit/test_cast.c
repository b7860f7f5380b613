/* Unit tests for cast.c: hand-written cases with their exact bits, every reference vector of
 * tests/golden/cast/ (made by tools/cast_vectors.py from exact rationals), every f16 and
 * bf16 pattern through a round trip, and the error cases. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "cast.h"
#include "t.h"

#define GOLD "tests/golden/cast/"

static uint32_t fbits(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }
static float bitsf(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }
static uint64_t dbits(double d) { uint64_t u; memcpy(&u, &d, 8); return u; }
static double bitsd(uint64_t u) { double d; memcpy(&d, &u, 8); return d; }

/* NaN test and sign bit of a bit pattern of a float dtype. */
static int is_nan(ck_dtype d, uint64_t b)
{
	switch (d) {
	case CK_DT_F16: return (b & 0x7C00) == 0x7C00 && (b & 0x3FF);
	case CK_DT_BF16: return (b & 0x7F80) == 0x7F80 && (b & 0x7F);
	case CK_DT_F32: return (b & 0x7F800000u) == 0x7F800000u && (b & 0x7FFFFFu);
	default: return isnan(bitsd(b));
	}
}

static int sign_of(ck_dtype d, uint64_t b) { return (int)(b >> (8 * ck_dtype_size(d) - 1)) & 1; }

/* Equal bits, or both NaN with the same sign (payloads are not compared). */
static int same(ck_dtype d, uint64_t want, uint64_t got)
{
	if (is_nan(d, want))
		return is_nan(d, got) && sign_of(d, got) == sign_of(d, want);
	return want == got;
}

static uint64_t get(const unsigned char *p, size_t size)
{
	uint64_t v = 0;
	for (size_t i = 0; i < size; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

/* Runs one scalar case through cast_run; returns the output bits. */
static uint64_t run1(ck_dtype from, uint64_t in, ck_dtype to)
{
	unsigned char s[8], d[8] = {0};
	ck_err e = {0};
	for (size_t i = 0; i < 8; i++)
		s[i] = (unsigned char)(in >> (8 * i));
	if (cast_run(from, s, to, d, 1, &e))
		printf("# %s\n", e.msg);
	return get(d, ck_dtype_size(to));
}

#define CASE(from, in, to, want, name) do { uint64_t g_ = run1(from, in, to); \
	T_OK(same(to, (want), g_), "%s", name); \
	if (!same(to, (want), g_)) printf("#   got %#llx, want %#llx\n", (unsigned long long)g_, (unsigned long long)(want)); \
} while (0)

static void test_hand(void)
{
	/* f32 -> bf16 */
	CASE(CK_DT_F32, fbits(1.0f), CK_DT_BF16, 0x3F80, "bf16: 1.0 -> 0x3F80");
	CASE(CK_DT_F32, 0x3F808000, CK_DT_BF16, 0x3F80, "bf16: tie, even below -> 0x3F80");
	CASE(CK_DT_F32, 0x3F818000, CK_DT_BF16, 0x3F82, "bf16: tie, odd below -> 0x3F82");
	CASE(CK_DT_F32, 0x3F808001, CK_DT_BF16, 0x3F81, "bf16: just above a tie rounds up");
	CASE(CK_DT_F32, 0x3F817FFF, CK_DT_BF16, 0x3F81, "bf16: just below a tie rounds down");
	CASE(CK_DT_F32, 0x3FFF8000, CK_DT_BF16, 0x4000, "bf16: tie below 2.0 rounds into the next binade");
	CASE(CK_DT_F32, 0x7F7FFFFF, CK_DT_BF16, 0x7F80, "bf16: FLT_MAX overflows to inf");
	CASE(CK_DT_F32, 0x7F7F7FFF, CK_DT_BF16, 0x7F7F, "bf16: below the overflow threshold stays finite");
	CASE(CK_DT_F32, 0x7F7F8000, CK_DT_BF16, 0x7F80, "bf16: the overflow threshold (a tie) goes to inf");
	CASE(CK_DT_F32, 0xFF7FFFFF, CK_DT_BF16, 0xFF80, "bf16: -FLT_MAX -> -inf");
	CASE(CK_DT_F32, 0x80000000, CK_DT_BF16, 0x8000, "bf16: -0 keeps its sign");
	CASE(CK_DT_F32, 0x00008000, CK_DT_BF16, 0x0000, "bf16: f32 subnormal tie with 0 -> 0");
	CASE(CK_DT_F32, 0x00018000, CK_DT_BF16, 0x0002, "bf16: f32 subnormal tie, odd -> up");
	CASE(CK_DT_F32, 0x007FFFFF, CK_DT_BF16, 0x0080, "bf16: largest f32 subnormal -> smallest normal");
	CASE(CK_DT_F32, 0x7F800001, CK_DT_BF16, 0x7FC0, "bf16: NaN with a low payload stays NaN (not inf)");
	CASE(CK_DT_F32, 0xFFC00000, CK_DT_BF16, 0xFFC0, "bf16: -NaN keeps its sign");
	T_EQ_INT(cast_f32_to_bf16(bitsf(0x7F800001)), 0x7FC0, "bf16 scalar: sNaN -> quiet, sign and top payload kept");
	T_EQ_INT(cast_f32_to_bf16(bitsf(0xFFA00000)), 0xFFE0, "bf16 scalar: -sNaN with payload -> quiet");

	/* f32 -> f16 */
	CASE(CK_DT_F32, fbits(1.0f), CK_DT_F16, 0x3C00, "f16: 1.0 -> 0x3C00");
	CASE(CK_DT_F32, fbits(65520.0f), CK_DT_F16, 0x7C00, "f16: 65520 (overflow threshold) -> inf");
	CASE(CK_DT_F32, 0x477FEFFF, CK_DT_F16, 0x7BFF, "f16: 65519.996 -> 65504");
	CASE(CK_DT_F32, fbits(65519.0f), CK_DT_F16, 0x7BFF, "f16: 65519 -> 0x7BFF");
	CASE(CK_DT_F32, fbits(-65520.0f), CK_DT_F16, 0xFC00, "f16: -65520 -> -inf");
	CASE(CK_DT_F32, fbits(5.9604644775390625e-8f), CK_DT_F16, 0x0001, "f16: 2^-24 -> smallest subnormal 0x0001");
	CASE(CK_DT_F32, fbits(2.98023223876953125e-8f), CK_DT_F16, 0x0000, "f16: 2^-25 (half of it, a tie) -> 0");
	CASE(CK_DT_F32, 0x33000001, CK_DT_F16, 0x0001, "f16: just above 2^-25 -> 0x0001");
	CASE(CK_DT_F32, 0x80000001, CK_DT_F16, 0x8000, "f16: tiny negative -> -0");
	CASE(CK_DT_F32, fbits(3 * 2.98023223876953125e-8f), CK_DT_F16, 0x0002, "f16: subnormal tie, odd -> up (0x0002)");
	CASE(CK_DT_F32, fbits(6.103515625e-5f - 2.98023223876953125e-8f), CK_DT_F16, 0x0400,
		"f16: tie above the largest subnormal -> smallest normal");
	CASE(CK_DT_F32, 0x3F801000, CK_DT_F16, 0x3C00, "f16: tie, even below -> down");
	CASE(CK_DT_F32, 0x3F803000, CK_DT_F16, 0x3C02, "f16: tie, odd below -> up");
	CASE(CK_DT_F32, 0x7F800000, CK_DT_F16, 0x7C00, "f16: inf -> inf");
	CASE(CK_DT_F32, 0x7F800001, CK_DT_F16, 0x7E00, "f16: NaN with a low payload stays NaN");
	CASE(CK_DT_F32, 0xFFC00000, CK_DT_F16, 0xFE00, "f16: -NaN keeps its sign");
	T_EQ_INT(cast_f32_to_f16(bitsf(0x7FA00000)), 0x7F00, "f16 scalar: sNaN -> quiet, top payload kept");

	/* f64 -> f16 / bf16: twice rounded, through f32, as PyTorch (cast.h) */
	CASE(CK_DT_F64, dbits(1.0 + 0x1p-11 + 0x1p-40), CK_DT_F16, 0x3C00,
		"f64->f16: just above a tie rounds through f32 onto the tie, then to even (once would give 0x3C01)");
	CASE(CK_DT_F64, dbits(1.0 + 0x1p-11 + 0x1p-20), CK_DT_F16, 0x3C01, "f64->f16: clearly above a tie rounds up");
	CASE(CK_DT_F64, dbits(65520.0), CK_DT_F16, 0x7C00, "f64->f16: 65520 -> inf");
	CASE(CK_DT_F64, dbits(65519.99), CK_DT_F16, 0x7BFF, "f64->f16: 65519.99 -> 65504");
	CASE(CK_DT_F64, dbits(1e300), CK_DT_F16, 0x7C00, "f64->f16: 1e300 -> inf");
	CASE(CK_DT_F64, dbits(0x1p-25), CK_DT_F16, 0x0000, "f64->f16: 2^-25 -> 0");
	CASE(CK_DT_F64, dbits(1.0 + 0x1p-8 + 0x1p-30), CK_DT_BF16, 0x3F80,
		"f64->bf16: just above a tie rounds through f32 onto the tie (once would give 0x3F81)");
	CASE(CK_DT_F64, dbits(1e300), CK_DT_BF16, 0x7F80, "f64->bf16: 1e300 -> inf");
	CASE(CK_DT_F64, dbits(-NAN), CK_DT_BF16, 0xFFC0, "f64->bf16: -NaN keeps its sign");

	/* f64 -> f32 */
	CASE(CK_DT_F64, dbits(0x1p-150), CK_DT_F32, 0x00000000, "f64->f32: 2^-150 (tie with 0) -> 0");
	CASE(CK_DT_F64, dbits(0x1.8p-149), CK_DT_F32, 0x00000002, "f64->f32: 1.5 * 2^-149 -> 2^-148 (even)");
	CASE(CK_DT_F64, dbits(1e39), CK_DT_F32, 0x7F800000, "f64->f32: 1e39 -> inf");

	/* widening is exact */
	CASE(CK_DT_F16, 0x0001, CK_DT_F32, 0x33800000, "f16->f32: smallest subnormal is 2^-24");
	CASE(CK_DT_F16, 0x03FF, CK_DT_F32, 0x387FC000, "f16->f32: largest subnormal");
	CASE(CK_DT_F16, 0x7BFF, CK_DT_F32, fbits(65504.0f), "f16->f32: 65504");
	CASE(CK_DT_F16, 0xFC00, CK_DT_F32, 0xFF800000, "f16->f32: -inf");
	CASE(CK_DT_F16, 0xFD01, CK_DT_F32, 0xFFC02000, "f16->f32: -sNaN quieted, payload kept");
	CASE(CK_DT_F16, 0x8000, CK_DT_F32, 0x80000000, "f16->f32: -0");
	CASE(CK_DT_BF16, 0x3F80, CK_DT_F32, 0x3F800000, "bf16->f32: 1.0");
	CASE(CK_DT_BF16, 0x0001, CK_DT_F64, dbits(0x1p-133), "bf16->f64: smallest subnormal is 2^-133");
	CASE(CK_DT_F16, 0x0001, CK_DT_F64, dbits(0x1p-24), "f16->f64: smallest subnormal is 2^-24");
	CASE(CK_DT_F32, 0x00000001, CK_DT_F64, dbits(0x1p-149), "f32->f64: smallest subnormal");
	/* between the two 16-bit formats */
	CASE(CK_DT_F16, 0x3C00, CK_DT_BF16, 0x3F80, "f16->bf16: 1.0");
	CASE(CK_DT_F16, 0x3C01, CK_DT_BF16, 0x3F80, "f16->bf16: 1 + 2^-10 rounds to 1.0");
	CASE(CK_DT_BF16, 0x4780, CK_DT_F16, 0x7C00, "bf16->f16: 65536 -> inf");
	CASE(CK_DT_BF16, 0x3380, CK_DT_F16, 0x0001, "bf16->f16: 2^-24 -> 0x0001");
}

/* One golden file: every vector through cast_run (the array loops, aligned and not) and,
 * where there is one, the scalar function. */
static void test_file(const char *name, ck_dtype from, ck_dtype to)
{
	char path[256];
	snprintf(path, sizeof path, GOLD "%s", name);
	FILE *f = fopen(path, "rb");
	T_OK(f != NULL, "%s: opens", path);
	if (!f)
		return;
	unsigned char *buf = NULL;
	size_t cap = 0, len = 0, got;
	do {
		if (len == cap && !(buf = realloc(buf, cap = cap ? 2 * cap : 1 << 16)))
			abort();
		got = fread(buf + len, 1, cap - len, f);
		len += got;
	} while (got);
	fclose(f);
	size_t fs = ck_dtype_size(from), ts = ck_dtype_size(to), rec = fs + ts, n = len / rec;
	T_OK(len % rec == 0 && n >= 10000, "%s: %zu whole records of %zu bytes", name, n, rec);

	/* +1: inputs and outputs at odd addresses, as a tensor inside a mapped file may be */
	unsigned char *in = malloc(n * fs + 1), *out = malloc(n * ts + 1), *out_u = malloc(n * ts + 1);
	if (!in || !out || !out_u)
		abort();
	for (size_t i = 0; i < n; i++)
		memcpy(in + 1 + i * fs, buf + i * rec, fs);
	ck_err e = {0};
	int rc = cast_run(from, in + 1, to, out, n, &e);
	T_EQ_INT(rc, 0, "cast_run over the whole file");
	memmove(in, in + 1, n * fs);
	rc = cast_run(from, in, to, out_u + 1, n, &e);
	T_EQ_INT(rc, 0, "cast_run again, aligned input, odd output");

	size_t bad = 0, bad_u = 0, bad_s = 0;
	for (size_t i = 0; i < n; i++) {
		uint64_t src = get(buf + i * rec, fs), want = get(buf + i * rec + fs, ts);
		uint64_t g = get(out + i * ts, ts), gu = get(out_u + 1 + i * ts, ts), gs = want;
		if (from == CK_DT_F32 && to == CK_DT_BF16)
			gs = cast_f32_to_bf16(bitsf((uint32_t)src));
		else if (from == CK_DT_F32 && to == CK_DT_F16)
			gs = cast_f32_to_f16(bitsf((uint32_t)src));
		else if (from == CK_DT_F16 && to == CK_DT_F32)
			gs = fbits(cast_f16_to_f32((uint16_t)src));
		else if (from == CK_DT_BF16 && to == CK_DT_F32)
			gs = fbits(cast_bf16_to_f32((uint16_t)src));
		if (!same(to, want, g) && bad++ < 5)
			printf("#   %s: input %#llx: got %#llx, want %#llx\n", name, (unsigned long long)src,
				(unsigned long long)g, (unsigned long long)want);
		bad_u += !same(to, want, gu);
		bad_s += !same(to, want, gs);
	}
	T_OK(bad == 0, "%s: all %zu vectors match (%zu differ)", name, n, bad);
	T_OK(bad_u == 0, "%s: the same at odd output addresses (%zu differ)", name, bad_u);
	T_OK(bad_s == 0, "%s: the scalar function agrees (%zu differ)", name, bad_s);
	free(in);
	free(out);
	free(out_u);
	free(buf);
}

/* Every 16-bit pattern: widening then narrowing gives it back (a NaN stays a NaN of the
 * same sign), and f64 agrees with f32. */
static void test_roundtrip16(ck_dtype d)
{
	const char *nm = ck_dtype_short_name(d);
	uint16_t *h = malloc(65536 * 2), *back = malloc(65536 * 2), *back64 = malloc(65536 * 2);
	float *f = malloc(65536 * 4);
	double *x = malloc(65536 * 8);
	if (!h || !back || !back64 || !f || !x)
		abort();
	for (uint32_t i = 0; i < 65536; i++)
		h[i] = (uint16_t)i;
	ck_err e = {0};
	int rc = cast_run(d, h, CK_DT_F32, f, 65536, &e) | cast_run(CK_DT_F32, f, d, back, 65536, &e) |
		cast_run(d, h, CK_DT_F64, x, 65536, &e) | cast_run(CK_DT_F64, x, d, back64, 65536, &e);
	T_EQ_INT(rc, 0, "round trips run");
	size_t bad = 0, bad64 = 0, badv = 0, bads = 0;
	for (uint32_t i = 0; i < 65536; i++) {
		bad += !same(d, i, back[i]);
		bad64 += !same(d, i, back64[i]);
		badv += !(isnan(f[i]) ? isnan(x[i]) : (double)f[i] == x[i] && !signbit(f[i]) == !signbit(x[i]));
		float s = d == CK_DT_F16 ? cast_f16_to_f32((uint16_t)i) : cast_bf16_to_f32((uint16_t)i);
		bads += fbits(s) != fbits(f[i]);
	}
	T_OK(bad == 0, "%s -> f32 -> %s gives back every pattern (%zu differ)", nm, nm, bad);
	T_OK(bad64 == 0, "%s -> f64 -> %s gives back every pattern (%zu differ)", nm, nm, bad64);
	T_OK(badv == 0, "%s -> f64 equals %s -> f32 widened (%zu differ)", nm, nm, badv);
	T_OK(bads == 0, "%s -> f32: array and scalar agree bit for bit (%zu differ)", nm, bads);
	free(h);
	free(back);
	free(back64);
	free(f);
	free(x);
}

/* Lengths around the 32-element blocks of the loops: the tail must match the body. */
static void test_lengths(void)
{
	float src[100];
	uint16_t dst[100];
	size_t bad = 0;
	for (int i = 0; i < 100; i++)
		src[i] = bitsf(0x3F808000u + (uint32_t)i * 0x00010000u); /* ties, alternating parity */
	for (uint64_t n = 0; n <= 100; n++) {
		memset(dst, 0xAB, sizeof dst);
		ck_err e = {0};
		if (cast_run(CK_DT_F32, src, CK_DT_F16, dst, n, &e))
			bad++;
		for (uint64_t i = 0; i < 100; i++)
			bad += i < n ? dst[i] != cast_f32_to_f16(src[i]) : dst[i] != 0xABAB;
	}
	T_OK(bad == 0, "every length 0..100 converts exactly n elements (%zu wrong)", bad);
}

static void test_errors(void)
{
	ck_err e = {0};
	float f[4] = {1, 2, 3, 4};
	int32_t i32[4] = {0};
	T_OK(cast_supported(CK_DT_F32, CK_DT_BF16) && cast_supported(CK_DT_F64, CK_DT_F16) &&
		cast_supported(CK_DT_BF16, CK_DT_BF16), "float pairs are supported");
	T_OK(!cast_supported(CK_DT_F32, CK_DT_I32) && !cast_supported(CK_DT_I8, CK_DT_F32) &&
		!cast_supported(CK_DT_BOOL, CK_DT_BOOL), "integer and bool dtypes are not");
	T_EQ_INT(cast_run(CK_DT_F32, f, CK_DT_I32, i32, 4, &e), CK_EINVALID, "f32 -> i32 is refused");
	T_HAS(e.msg, "cast f32 -> i32: i32 is not a float dtype", "the message names the dtypes");
	ck_err_clear(&e);
	T_EQ_INT(cast_run(CK_DT_F32, f, CK_DT_F16, (char *)f + 2, 2, &e), CK_EINVALID, "overlapping buffers are refused");
	T_HAS(e.msg, "overlap", "the message says overlap");
	ck_err_clear(&e);
	T_EQ_INT(cast_run(CK_DT_F32, f, CK_DT_F32, f + 1, 3, &e), 0, "same dtype: an overlapping copy is fine");
	T_OK(f[1] == 1 && f[2] == 2 && f[3] == 3, "same dtype copies like memmove");
	T_EQ_INT(cast_run(CK_DT_F32, f, CK_DT_F16, NULL, 0, &e), 0, "n = 0 does nothing");
	T_EQ_INT(cast_run(CK_DT_F32, f, CK_DT_F16, i32, UINT64_MAX / 2, &e), CK_ELIMIT, "an impossible count is refused");
}

int main(void)
{
	test_hand();
	test_file("f32_bf16.bin", CK_DT_F32, CK_DT_BF16);
	test_file("f32_f16.bin", CK_DT_F32, CK_DT_F16);
	test_file("f64_f16.bin", CK_DT_F64, CK_DT_F16);
	test_file("f64_bf16.bin", CK_DT_F64, CK_DT_BF16);
	test_file("f64_f32.bin", CK_DT_F64, CK_DT_F32);
	test_file("f16_f32.bin", CK_DT_F16, CK_DT_F32);
	test_file("bf16_f32.bin", CK_DT_BF16, CK_DT_F32);
	test_roundtrip16(CK_DT_F16);
	test_roundtrip16(CK_DT_BF16);
	test_lengths();
	test_errors();
	return t_done();
}
