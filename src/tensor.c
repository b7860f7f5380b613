#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "tensor.h"

static const struct {
	const char *st, *torch, *shrt;
	size_t size;
	int is_float;
} dt[CK_DT__COUNT] = {
	[CK_DT_BOOL] = {"BOOL", "torch.bool", "bool", 1, 0},
	[CK_DT_U8] = {"U8", "torch.uint8", "u8", 1, 0},
	[CK_DT_I8] = {"I8", "torch.int8", "i8", 1, 0},
	[CK_DT_I16] = {"I16", "torch.int16", "i16", 2, 0},
	[CK_DT_U16] = {"U16", "torch.uint16", "u16", 2, 0},
	[CK_DT_I32] = {"I32", "torch.int32", "i32", 4, 0},
	[CK_DT_U32] = {"U32", "torch.uint32", "u32", 4, 0},
	[CK_DT_I64] = {"I64", "torch.int64", "i64", 8, 0},
	[CK_DT_U64] = {"U64", "torch.uint64", "u64", 8, 0},
	[CK_DT_F16] = {"F16", "torch.float16", "f16", 2, 1},
	[CK_DT_BF16] = {"BF16", "torch.bfloat16", "bf16", 2, 1},
	[CK_DT_F32] = {"F32", "torch.float32", "f32", 4, 1},
	[CK_DT_F64] = {"F64", "torch.float64", "f64", 8, 1},
};

size_t ck_dtype_size(ck_dtype d) { return (unsigned)d < CK_DT__COUNT ? dt[d].size : 0; }
int ck_dtype_is_float(ck_dtype d) { return (unsigned)d < CK_DT__COUNT && dt[d].is_float; }
const char *ck_dtype_st_name(ck_dtype d) { return (unsigned)d < CK_DT__COUNT ? dt[d].st : "?"; }
const char *ck_dtype_torch_name(ck_dtype d) { return (unsigned)d < CK_DT__COUNT ? dt[d].torch : "?"; }
const char *ck_dtype_short_name(ck_dtype d) { return (unsigned)d < CK_DT__COUNT ? dt[d].shrt : "?"; }

static int lookup(const char *name, size_t field, ck_dtype *out)
{
	for (int i = 0; i < CK_DT__COUNT; i++) {
		const char *n = field == 0 ? dt[i].st : field == 1 ? dt[i].torch : dt[i].shrt;
		if (strcmp(n, name) == 0) {
			*out = (ck_dtype)i;
			return 0;
		}
	}
	return -1;
}

int ck_dtype_from_st(const char *name, ck_dtype *out) { return lookup(name, 0, out); }
int ck_dtype_from_torch(const char *name, ck_dtype *out) { return lookup(name, 1, out); }
int ck_dtype_from_short(const char *name, ck_dtype *out) { return lookup(name, 2, out); }

int ck_shape_numel(const ck_shape *s, uint64_t *out, ck_err *e)
{
	uint64_t n = 1;
	if (s->rank < 0 || s->rank > CK_MAX_RANK)
		return ck_errf(e, CK_ELIMIT, "rank %d outside 0..%d", s->rank, CK_MAX_RANK);
	for (int i = 0; i < s->rank; i++) {
		if (s->dim[i] < 0)
			return ck_errf(e, CK_EINVALID, "negative dimension %lld", (long long)s->dim[i]);
		if (__builtin_mul_overflow(n, (uint64_t)s->dim[i], &n))
			return ck_errf(e, CK_ELIMIT, "shape element count overflows 64 bits");
	}
	*out = n;
	return 0;
}

int ck_tensor_nbytes(ck_dtype d, const ck_shape *s, uint64_t *out, ck_err *e)
{
	uint64_t n;
	int rc = ck_shape_numel(s, &n, e);
	if (rc)
		return rc;
	if (__builtin_mul_overflow(n, (uint64_t)ck_dtype_size(d), out))
		return ck_errf(e, CK_ELIMIT, "tensor byte size overflows 64 bits");
	return 0;
}

int ck_shape_eq(const ck_shape *a, const ck_shape *b)
{
	if (a->rank != b->rank)
		return 0;
	for (int i = 0; i < a->rank; i++)
		if (a->dim[i] != b->dim[i])
			return 0;
	return 1;
}

const char *ck_shape_str(const ck_shape *s, char *buf, size_t n)
{
	size_t at = 0;
	if (!n)
		return buf;
	buf[0] = '\0';
	at += (size_t)snprintf(buf, n, "[");
	for (int i = 0; i < s->rank && at < n; i++)
		at += (size_t)snprintf(buf + at, n - at, "%s%lld", i ? ", " : "", (long long)s->dim[i]);
	if (at < n)
		snprintf(buf + at, n - at, "]");
	return buf;
}

void ck_tsrc_free(ck_tsrc *s)
{
	if (s)
		s->ops->free(s);
}

long ck_tsrc_find(const ck_tsrc *s, const char *name)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->t[i].name, name) == 0)
			return (long)i;
	return -1;
}

int ck_tsink_commit(ck_tsink *k, ck_err *e) { return k->ops->commit(k, e); }

void ck_tsink_abort(ck_tsink *k)
{
	if (k)
		k->ops->abort(k);
}

void ck_tinfo_dispose(ck_tinfo *t)
{
	if (t) {
		free(t->name);
		t->name = NULL;
	}
}

void ck_tinfo_array_free(ck_tinfo *t, size_t n)
{
	if (!t)
		return;
	for (size_t i = 0; i < n; i++)
		ck_tinfo_dispose(&t[i]);
	free(t);
}
