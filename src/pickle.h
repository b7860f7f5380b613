/* pickle.h - a restricted reader for the one pickle torch.save writes for a state dict
 * (`data.pkl` inside a PyTorch zip checkpoint). It interprets the opcodes of protocols 2-5 as
 * data, knows exactly the globals a state dict needs (collections.OrderedDict,
 * torch._utils._rebuild_tensor_v2, torch._utils._rebuild_parameter, torch.<Type>Storage)
 * and refuses every other one: nothing is imported, called or executed. */
#ifndef CK_PICKLE_H
#define CK_PICKLE_H

#include <stddef.h>
#include <stdint.h>
#include "err.h"
#include "tensor.h"

#define PICKLE_MAX_BYTES ((size_t)256 << 20) /* data.pkl size */
#define PICKLE_MAX_DEPTH 256                 /* nested MARKs */
#define PICKLE_MAX_MEMO ((uint32_t)1 << 22)   /* memo slots */
#define PICKLE_MAX_STR 65536                 /* one string */

/* One tensor of the state dict: a strided view of a storage (zip member data/<storage>). */
typedef struct pickle_tensor {
	char *name;
	char *storage;          /* the storage's key */
	ck_dtype dtype;         /* the storage's element type */
	uint64_t storage_numel; /* elements the storage holds, as the pickle declares */
	uint64_t offset;        /* first element of the view */
	ck_shape shape;
	int64_t stride[CK_MAX_RANK]; /* in elements */
} pickle_tensor;

typedef struct pickle_dict {
	size_t n;
	pickle_tensor *t; /* in pickle order */
} pickle_dict;

/* Parses buf (where = the name used in messages). The top object must be a dict or
 * OrderedDict of string -> tensor; every view must lie inside its declared storage. */
int pickle_parse(const char *where, const unsigned char *buf, size_t n, pickle_dict *out, ck_err *e);
void pickle_dict_dispose(pickle_dict *d);

/* 1 when the view is row-major contiguous (strides of size-1 dims do not matter). */
int pickle_contiguous(const pickle_tensor *t);

#endif
