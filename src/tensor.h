/* tensor.h - dtypes, shapes, tensor descriptions, and the two stream interfaces
 * every format implements: a source (read a tensor's bytes) and a sink (write them). */
#ifndef CK_TENSOR_H
#define CK_TENSOR_H

#include <stddef.h>
#include <stdint.h>
#include "err.h"

typedef enum {
	CK_DT_BOOL, CK_DT_U8, CK_DT_I8, CK_DT_I16, CK_DT_U16, CK_DT_I32, CK_DT_U32,
	CK_DT_I64, CK_DT_U64, CK_DT_F16, CK_DT_BF16, CK_DT_F32, CK_DT_F64,
	CK_DT__COUNT
} ck_dtype;

size_t ck_dtype_size(ck_dtype d);
int ck_dtype_is_float(ck_dtype d);
const char *ck_dtype_st_name(ck_dtype d);    /* safetensors: "F32", "BF16", "BOOL" */
const char *ck_dtype_torch_name(ck_dtype d); /* "torch.float32", "torch.bfloat16" */
const char *ck_dtype_short_name(ck_dtype d); /* "f32", "bf16", "u8": CLI and rules */
/* Return 0 and set *out, or -1 when the name is unknown. */
int ck_dtype_from_st(const char *name, ck_dtype *out);
int ck_dtype_from_torch(const char *name, ck_dtype *out);
int ck_dtype_from_short(const char *name, ck_dtype *out);

#define CK_MAX_RANK 8

typedef struct ck_shape {
	int rank;
	int64_t dim[CK_MAX_RANK];
} ck_shape;

/* Element count; CK_ELIMIT on negative dims or 64-bit overflow. */
int ck_shape_numel(const ck_shape *s, uint64_t *out, ck_err *e);
/* numel * dtype size, overflow-checked. */
int ck_tensor_nbytes(ck_dtype d, const ck_shape *s, uint64_t *out, ck_err *e);
int ck_shape_eq(const ck_shape *a, const ck_shape *b);
/* "[2, 3]" into buf (always terminated). */
const char *ck_shape_str(const ck_shape *s, char *buf, size_t n);

/* One tensor as a header describes it. */
typedef struct ck_tinfo {
	char *name;
	ck_dtype dtype;
	ck_shape shape;
	uint64_t nbytes;
} ck_tinfo;

/* A source of tensors: safetensors file or shard set, packed HDF5, torch .bin. */
typedef struct ck_tsrc ck_tsrc;
typedef struct ck_tsrc_ops {
	/* Read all nbytes of tensor i (row-major, little-endian) into buf. */
	int (*read)(ck_tsrc *s, size_t i, void *buf, ck_err *e);
	void (*free)(ck_tsrc *s);
	/* Optional (NULL: not supported): the slice at index along axis of tensor i, row-major,
	 * into buf; slices may be read in any order. Lets a stacked tensor be taken apart one
	 * part at a time instead of read whole. */
	int (*read_slice)(ck_tsrc *s, size_t i, int axis, uint64_t index, void *buf, ck_err *e);
} ck_tsrc_ops;

struct ck_tsrc {
	const ck_tsrc_ops *ops;
	char *path; /* for messages */
	size_t n;
	ck_tinfo *t;
	/* read may run on a helper thread while the main thread works on other sources and
	 * sinks: it touches nothing but its own file descriptors (no HDF5, no buf.h) */
	int concurrent;
};

static inline int ck_tsrc_read(ck_tsrc *s, size_t i, void *buf, ck_err *e)
{
	return s->ops->read(s, i, buf, e);
}
/* NULL-safe. */
void ck_tsrc_free(ck_tsrc *s);
/* Index of the tensor called name, or -1. Linear; callers needing speed build a map. */
long ck_tsrc_find(const ck_tsrc *s, const char *name);

/* A sink: opened with every tensor declared up front (name, dtype, shape), written in
 * any order, then committed (atomic publish) or aborted (nothing left behind). */
typedef struct ck_tsink ck_tsink;
typedef struct ck_tsink_ops {
	int (*write)(ck_tsink *k, size_t i, const void *buf, ck_err *e);
	int (*commit)(ck_tsink *k, ck_err *e);
	/* Removes temporaries and frees; also what free does after a failed commit. */
	void (*abort)(ck_tsink *k);
	/* Optional (NULL: not supported): tensor i's slices at index 0, 1, ... along axis, in that
	 * order, each buf holding one slice row-major; the last one completes the tensor. Lets a
	 * stacked tensor be written one part at a time instead of assembled in memory. */
	int (*write_slice)(ck_tsink *k, size_t i, int axis, uint64_t index, const void *buf, ck_err *e);
	/* Optional (NULL: not supported): write, for a sink that hashes what it stores, given
	 * the XXH64 (seed 0) of tensor i's bytes at buf, computed elsewhere (on the helper thread
	 * that read them), so they are not hashed a second time here. */
	int (*write_hashed)(ck_tsink *k, size_t i, const void *buf, uint64_t xxh64, ck_err *e);
} ck_tsink_ops;

struct ck_tsink {
	const ck_tsink_ops *ops;
	/* write may run on a helper thread while the main thread reads other sources: the same
	 * promise as ck_tsrc.concurrent. Writes still come one at a time. */
	int concurrent;
};

static inline int ck_tsink_write(ck_tsink *k, size_t i, const void *buf, ck_err *e)
{
	return k->ops->write(k, i, buf, e);
}
/* Commit then free. On failure the sink has already cleaned up. */
int ck_tsink_commit(ck_tsink *k, ck_err *e);
/* NULL-safe. */
void ck_tsink_abort(ck_tsink *k);

void ck_tinfo_dispose(ck_tinfo *t);
void ck_tinfo_array_free(ck_tinfo *t, size_t n);

#endif
