/* cast.h - floating-point dtype conversion with PyTorch's rounding (CPU Tensor.to()):
 * round to nearest, ties to even; overflow -> +-inf; f16/bf16 subnormal results rounded
 * exactly, never flushed; a NaN stays a quiet NaN with its sign (payload truncated).
 * Widening (f16/bf16 -> f32/f64, f32 -> f64) is exact.
 *
 * f64 -> f16 and f64 -> bf16 round TWICE, through f32, as PyTorch does on x86: c10::Half and
 * c10::BFloat16 have only a float constructor, and ATen's vectorised copy narrows
 * double -> float (_mm256_cvtpd_ps) before float -> half/bfloat16. numpy's
 * float64 -> float16 rounds once; the two differ only for doubles within an f32 ulp of an
 * f16 tie (tools/cast_vectors.py counts and tests those).
 *
 * All of it is our own bit-level code: no _Float16, no HDF5 converters. */
#ifndef CK_CAST_H
#define CK_CAST_H

#include <stddef.h>
#include <stdint.h>
#include "err.h"
#include "tensor.h"

/* Convert n elements from src (dtype from) to dst (dtype to). Only floating dtypes (f16,
 * bf16, f32, f64); from == to copies (memmove). src and dst may not overlap unless
 * from == to: CK_EINVALID. CK_EINVALID also for a non-float dtype, CK_ELIMIT when n bytes
 * do not fit in memory. */
int cast_run(ck_dtype from, const void *src, ck_dtype to, void *dst, uint64_t n, ck_err *e);
/* 1 if from -> to is a supported float cast (from == to included). */
int cast_supported(ck_dtype from, ck_dtype to);

/* Scalars, for other modules (e.g. scaling actions). */
uint16_t cast_f32_to_bf16(float f);
float cast_bf16_to_f32(uint16_t h);
uint16_t cast_f32_to_f16(float f);
float cast_f16_to_f32(uint16_t h);

#endif
