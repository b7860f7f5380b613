/* cast.c - float dtype conversion, bit for bit as PyTorch's CPU Tensor.to() rounds (cast.h).
 *
 * Narrowing to bf16/f16 is integer arithmetic on the f32 bits: add just under half an ulp of
 * the target plus the bit that becomes its last one, then shift; a carry out of the
 * significand moves into the exponent, which is what rounding up into the next binade (or to
 * inf) needs. NaN is the one case where that arithmetic is wrong (a payload could carry into
 * inf), so it is a select, not a branch. The loops are plain loops over arrays with no
 * branches in them, so the compiler is free to vectorise them. */
#include "cast.h"

#include <stdint.h>
#include <string.h>

static inline uint32_t f32_bits(float f)
{
	uint32_t u;
	memcpy(&u, &f, 4);
	return u;
}

static inline float f32_from(uint32_t u)
{
	float f;
	memcpy(&f, &u, 4);
	return f;
}

/* f32 -> bf16: RNE on the upper 16 bits. Overflow needs nothing special: FLT_MAX rounds up
 * to 0x7F80 (inf) through the carry. NaN: keep sign and the top payload bits, set quiet.
 * (PyTorch itself is not consistent here: the scalar c10 path gives 0x7FC0 and the AVX2
 * path 0xFFFF for every NaN; we keep the sign, as the rest of ckconv does.) */
uint16_t cast_f32_to_bf16(float f)
{
	uint32_t u = f32_bits(f);
	uint32_t r = (u + 0x7FFFu + ((u >> 16) & 1u)) >> 16;
	uint32_t q = (u >> 16) | 0x0040u;
	return (uint16_t)((u & 0x7FFFFFFFu) > 0x7F800000u ? q : r);
}

float cast_bf16_to_f32(uint16_t h)
{
	return f32_from((uint32_t)h << 16); /* exact, payload included */
}

/* f32 -> f16, RNE. Three candidates, one select:
 * - normal result (|f| >= 2^-14): rebias the exponent (127 -> 15) and round away the low 13
 *   bits; anything at or past 65520 carries to 0x7C00 or beyond and is clamped to inf;
 * - subnormal result (|f| < 2^-14): the 24-bit significand shifted right until its unit is
 *   2^-24 (shift 126 - exponent, at least 14), rounded the same way; shifts past 24 give 0,
 *   and 2^-25 exactly (a tie between 0 and the smallest subnormal) goes to 0, the even one;
 * - NaN: quiet, sign and top payload bits kept (what F16C's vcvtps2ph gives). */
uint16_t cast_f32_to_f16(float f)
{
	uint32_t u = f32_bits(f);
	uint32_t a = u & 0x7FFFFFFFu, sign = (u >> 16) & 0x8000u;

	uint32_t n = a - 0x38000000u; /* wraps when a is small; then not selected */
	n = (n + 0x0FFFu + ((n >> 13) & 1u)) >> 13;
	n = n < 0x7C00u ? n : 0x7C00u;

	uint32_t e = a >> 23, m = (a & 0x007FFFFFu) | 0x00800000u;
	uint32_t sh = 126u - e; /* at least 14 where selected; anything else (or past 31) -> 31 */
	sh = sh - 14u <= 17u ? sh : 31u;
	uint32_t s = (m + (1u << (sh - 1)) - 1u + ((m >> sh) & 1u)) >> sh;

	uint32_t q = 0x7E00u | ((a >> 13) & 0x03FFu);
	uint32_t r = a > 0x7F800000u ? q : a >= 0x38800000u ? n : s;
	return (uint16_t)(sign | r);
}

/* f16 -> f32, exact. Subnormals are renormalised: m * 2^-24 with m's top bit at p is
 * 2^(p-24) * 1.xxx, biased exponent p + 103. A NaN keeps sign and payload and is quieted
 * (as vcvtph2ps does). */
float cast_f16_to_f32(uint16_t h)
{
	uint32_t sign = (uint32_t)(h & 0x8000u) << 16, e = (h >> 10) & 0x1Fu, m = h & 0x03FFu;
	uint32_t norm = ((e + 112u) << 23) | (m << 13);
	uint32_t special = 0x7F800000u | (m << 13) | (m ? 0x00400000u : 0u);
	uint32_t p = (m >= 2u) + (m >= 4u) + (m >= 8u) + (m >= 16u) + (m >= 32u) + (m >= 64u) +
		(m >= 128u) + (m >= 256u) + (m >= 512u); /* top bit of m; compares vectorise, clz does not */
	uint32_t sub = m ? ((p + 103u) << 23) | ((m << (23u - p)) & 0x007FFFFFu) : 0u;
	uint32_t r = e == 31u ? special : e ? norm : sub;
	return f32_from(sign | r);
}

/* --- array loops ----------------------------------------------------------------------
 * Elements are loaded and stored with memcpy: buffers need not be aligned for their dtype
 * (a tensor may start at any offset of a mapped file), and memcpy of a scalar compiles to
 * one plain load or store. */

static inline float ld_f32(const void *p, uint64_t i) { float v; memcpy(&v, (const char *)p + i * 4, 4); return v; }
static inline double ld_f64(const void *p, uint64_t i) { double v; memcpy(&v, (const char *)p + i * 8, 8); return v; }
static inline uint16_t ld_u16(const void *p, uint64_t i) { uint16_t v; memcpy(&v, (const char *)p + i * 2, 2); return v; }
static inline void st_u16(void *p, uint64_t i, uint16_t v) { memcpy((char *)p + i * 2, &v, 2); }
static inline void st_u32(void *p, uint64_t i, uint32_t v) { memcpy((char *)p + i * 4, &v, 4); }
static inline void st_f32(void *p, uint64_t i, float v) { memcpy((char *)p + i * 4, &v, 4); }
static inline void st_f64(void *p, uint64_t i, double v) { memcpy((char *)p + i * 8, &v, 8); }

/* One conversion over an array. The fixed-count inner loop is vectorised even at -O2 (GCC's
 * cheap cost model takes no loop with an unknown count); the tail is the same statement. */
#define CAST_LOOP(name, STMT) \
	static void name(const void *restrict s, void *restrict d, uint64_t n) \
	{ \
		uint64_t i = 0; \
		for (; i + 32 <= n; i += 32) \
			for (uint64_t j = i; j < i + 32; j++) \
				STMT; \
		for (uint64_t j = i; j < n; j++) \
			STMT; \
	}

CAST_LOOP(f32_to_bf16, st_u16(d, j, cast_f32_to_bf16(ld_f32(s, j))))
CAST_LOOP(f32_to_f16, st_u16(d, j, cast_f32_to_f16(ld_f32(s, j))))
/* f64 -> bf16/f16 round twice, through f32 (cast.h says why); (float) is the IEEE
 * narrowing, round to nearest even, overflow to inf, the same as static_cast<float>. */
CAST_LOOP(f64_to_bf16, st_u16(d, j, cast_f32_to_bf16((float)ld_f64(s, j))))
CAST_LOOP(f64_to_f16, st_u16(d, j, cast_f32_to_f16((float)ld_f64(s, j))))
CAST_LOOP(f64_to_f32, st_f32(d, j, (float)ld_f64(s, j)))
CAST_LOOP(f32_to_f64, st_f64(d, j, (double)ld_f32(s, j)))
CAST_LOOP(bf16_to_f32, st_u32(d, j, (uint32_t)ld_u16(s, j) << 16))
CAST_LOOP(bf16_to_f64, st_f64(d, j, (double)cast_bf16_to_f32(ld_u16(s, j))))
CAST_LOOP(f16_to_f32, st_f32(d, j, cast_f16_to_f32(ld_u16(s, j))))
CAST_LOOP(f16_to_f64, st_f64(d, j, (double)cast_f16_to_f32(ld_u16(s, j))))
/* f16 <-> bf16: PyTorch goes through float (c10::convert), and so do we: widening is
 * exact, so this rounds once. */
CAST_LOOP(f16_to_bf16, st_u16(d, j, cast_f32_to_bf16(cast_f16_to_f32(ld_u16(s, j)))))
CAST_LOOP(bf16_to_f16, st_u16(d, j, cast_f32_to_f16(cast_bf16_to_f32(ld_u16(s, j)))))

typedef void (*cast_fn)(const void *restrict, void *restrict, uint64_t);

/* Index of a float dtype in the table below, or -1. */
static int slot(ck_dtype d)
{
	switch (d) {
	case CK_DT_F16: return 0;
	case CK_DT_BF16: return 1;
	case CK_DT_F32: return 2;
	case CK_DT_F64: return 3;
	default: return -1;
	}
}

/* [from][to]; the diagonal is a copy, handled by cast_run. */
static const cast_fn table[4][4] = {
	/* f16  */ {NULL, f16_to_bf16, f16_to_f32, f16_to_f64},
	/* bf16 */ {bf16_to_f16, NULL, bf16_to_f32, bf16_to_f64},
	/* f32  */ {f32_to_f16, f32_to_bf16, NULL, f32_to_f64},
	/* f64  */ {f64_to_f16, f64_to_bf16, f64_to_f32, NULL},
};

int cast_supported(ck_dtype from, ck_dtype to)
{
	return slot(from) >= 0 && slot(to) >= 0;
}

int cast_run(ck_dtype from, const void *src, ck_dtype to, void *dst, uint64_t n, ck_err *e)
{
	if (!cast_supported(from, to)) {
		ck_dtype bad = slot(from) < 0 ? from : to;
		return ck_errf(e, CK_EINVALID, "cast %s -> %s: %s is not a float dtype (f16, bf16, f32, f64)",
			ck_dtype_short_name(from), ck_dtype_short_name(to), ck_dtype_short_name(bad));
	}
	size_t fs = ck_dtype_size(from), ts = ck_dtype_size(to);
	if (n > SIZE_MAX / 8)
		return ck_errf(e, CK_ELIMIT, "cast %s -> %s: %llu elements do not fit in memory",
			ck_dtype_short_name(from), ck_dtype_short_name(to), (unsigned long long)n);
	if (n == 0)
		return 0;
	if (from == to) {
		memmove(dst, src, (size_t)n * fs);
		return 0;
	}
	uintptr_t s0 = (uintptr_t)src, s1 = s0 + (size_t)n * fs, d0 = (uintptr_t)dst, d1 = d0 + (size_t)n * ts;
	if (s0 < d1 && d0 < s1)
		return ck_errf(e, CK_EINVALID, "cast %s -> %s: source and destination overlap",
			ck_dtype_short_name(from), ck_dtype_short_name(to));
	table[slot(from)][slot(to)](src, dst, n);
	return 0;
}
