/* pickle.c - restricted state-dict unpickler; see pickle.h.
 * A tiny stack machine over values that are pure data. The only "calls" are the four
 * known constructors, evaluated here by hand; any other global stops the read. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "pickle.h"
#include "strmap.h"
#include "text.h"

#define PICKLE_MAX_VALUES ((size_t)1 << 22) /* values one pickle may create */
#define PICKLE_MAX_KEY 4096
#define PK_CHUNK 4096                   /* values per arena chunk */

typedef enum {
	V_NONE, V_BOOL, V_INT, V_FLOAT, V_STR, V_TUPLE, V_LIST, V_DICT, V_GLOBAL, V_STORAGE, V_TENSOR
} vkind;

static const char *const kind_name[] = {"None", "bool", "int", "float", "str", "tuple", "list",
					"dict", "global", "storage", "tensor"};

/* The globals a state dict needs; anything else is refused where it is named. */
typedef enum { G_ODICT, G_REBUILD_V2, G_REBUILD_PARAM, G_STORAGE } gkind;

typedef struct val val;
struct val {
	unsigned char k;  /* vkind */
	unsigned char g;  /* V_GLOBAL: gkind */
	unsigned char dt; /* G_STORAGE global and V_STORAGE: element type */
	uint32_t n, cap;  /* items in it[]; a dict stores key, value pairs */
	union {
		int64_t i;
		double f;
		struct { char *s; size_t len; } str;
		val **it;
		struct { char *key; uint64_t numel; } st;
		pickle_tensor *t;
	} u;
};

typedef struct pk {
	const char *where;
	const unsigned char *b;
	size_t n, pos, op; /* op: offset of the opcode being run, for messages */
	ck_err *e;
	val **chunk; /* arena: every value lives here until the end */
	size_t nchunk, nval, nitem;
	val **stk;
	size_t sp, scap;
	size_t mark[PICKLE_MAX_DEPTH];
	int nm;
	val **memo;
	uint32_t mcap, mlen;
} pk;

__attribute__((format(printf, 3, 4)))
static int fail(pk *p, int code, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	return ck_errf(p->e, code, "%s: %s (pickle byte %zu)", p->where, msg, p->op);
}

/* ---- values ---- */

static val *new_val(pk *p, vkind k)
{
	val *v;
	if (p->nval >= PICKLE_MAX_VALUES) {
		fail(p, CK_ELIMIT, "more than %zu values; limit reached", PICKLE_MAX_VALUES);
		return NULL;
	}
	if (p->nval % PK_CHUNK == 0) {
		val **c = realloc(p->chunk, (p->nchunk + 1) * sizeof *c);
		if (!c || !(c[p->nchunk] = calloc(PK_CHUNK, sizeof **c))) {
			if (c)
				p->chunk = c;
			fail(p, CK_ENOMEM, "out of memory");
			return NULL;
		}
		p->chunk = c;
		p->nchunk++;
	}
	v = &p->chunk[p->nval / PK_CHUNK][p->nval % PK_CHUNK];
	p->nval++;
	v->k = (unsigned char)k;
	return v;
}

static void free_val(val *v)
{
	switch (v->k) {
	case V_STR: free(v->u.str.s); break;
	case V_TUPLE: case V_LIST: case V_DICT: free(v->u.it); break;
	case V_STORAGE: free(v->u.st.key); break;
	case V_TENSOR: free(v->u.t->storage); free(v->u.t); break;
	default: break;
	}
}

static void arena_free(pk *p)
{
	for (size_t i = 0; i < p->nval; i++)
		free_val(&p->chunk[i / PK_CHUNK][i % PK_CHUNK]);
	for (size_t c = 0; c < p->nchunk; c++)
		free(p->chunk[c]);
	free(p->chunk);
	free(p->stk);
	free(p->memo);
}

static int add_item(pk *p, val *c, val *x)
{
	if (++p->nitem > 2 * PICKLE_MAX_VALUES) /* DUP + APPEND adds items without new values */
		return fail(p, CK_ELIMIT, "more than %zu container items; limit reached", 2 * PICKLE_MAX_VALUES);
	if (c->n == c->cap) {
		uint32_t cap = c->cap ? c->cap * 2 : 4;
		val **it = cap > c->cap ? realloc(c->u.it, cap * sizeof *it) : NULL;
		if (!it)
			return fail(p, CK_ENOMEM, "out of memory");
		c->u.it = it;
		c->cap = cap;
	}
	c->u.it[c->n++] = x;
	return 0;
}

/* ---- the stack ---- */

static int push(pk *p, val *v)
{
	if (!v)
		return p->e->code ? p->e->code : CK_ENOMEM;
	if (p->sp >= PICKLE_MAX_VALUES)
		return fail(p, CK_ELIMIT, "stack deeper than %zu values", PICKLE_MAX_VALUES);
	if (p->sp == p->scap) {
		size_t cap = p->scap ? p->scap * 2 : 64;
		val **s = realloc(p->stk, cap * sizeof *s);
		if (!s)
			return fail(p, CK_ENOMEM, "out of memory");
		p->stk = s;
		p->scap = cap;
	}
	p->stk[p->sp++] = v;
	return 0;
}

/* Bottom of the values above the innermost MARK. */
static size_t floor_sp(const pk *p)
{
	return p->nm ? p->mark[p->nm - 1] : 0;
}

static val *pop(pk *p)
{
	if (p->sp <= floor_sp(p)) {
		fail(p, CK_EINVALID, "stack underflow");
		return NULL;
	}
	return p->stk[--p->sp];
}

static val *top(pk *p)
{
	if (p->sp <= floor_sp(p)) {
		fail(p, CK_EINVALID, "stack underflow");
		return NULL;
	}
	return p->stk[p->sp - 1];
}

static int pop_mark(pk *p, size_t *from)
{
	if (!p->nm)
		return fail(p, CK_EINVALID, "no MARK to pop to");
	*from = p->mark[--p->nm];
	return 0;
}

/* ---- reading bytes ---- */

static int need(pk *p, size_t k)
{
	if (p->n - p->pos < k)
		return fail(p, CK_EINVALID, "truncated: %zu more bytes expected, %zu left", k, p->n - p->pos);
	return 0;
}

static uint64_t le(const unsigned char *b, int k)
{
	uint64_t x = 0;
	for (int i = k - 1; i >= 0; i--)
		x = (x << 8) | b[i];
	return x;
}

static int arg_uint(pk *p, int k, uint64_t *x)
{
	int rc = need(p, (size_t)k);
	if (!rc) {
		*x = le(p->b + p->pos, k);
		p->pos += (size_t)k;
	}
	return rc;
}

/* ---- opcodes ---- */

static int op_int(pk *p, int64_t x)
{
	val *v = new_val(p, V_INT);
	if (v)
		v->u.i = x;
	return push(p, v);
}

static int op_long(pk *p, int lenbytes)
{
	uint64_t k, x;
	int rc = arg_uint(p, lenbytes, &k);
	if (rc)
		return rc;
	if (k > 8)
		return fail(p, CK_ELIMIT, "integer of %llu bytes; at most 8 are supported", (unsigned long long)k);
	if ((rc = need(p, (size_t)k)))
		return rc;
	x = le(p->b + p->pos, (int)k);
	if (k && k < 8 && (p->b[p->pos + k - 1] & 0x80))
		x |= ~(uint64_t)0 << (8 * k); /* sign-extend */
	p->pos += (size_t)k;
	return op_int(p, (int64_t)x);
}

static int op_str(pk *p, int lenbytes)
{
	uint64_t k;
	val *v;
	int rc = arg_uint(p, lenbytes, &k);
	if (rc)
		return rc;
	if (k > PICKLE_MAX_STR)
		return fail(p, CK_ELIMIT, "string of %llu bytes; limit is %d", (unsigned long long)k, PICKLE_MAX_STR);
	if ((rc = need(p, (size_t)k)) || !(v = new_val(p, V_STR)))
		return rc ? rc : p->e->code;
	if (!(v->u.str.s = malloc((size_t)k + 1)))
		return fail(p, CK_ENOMEM, "out of memory");
	memcpy(v->u.str.s, p->b + p->pos, (size_t)k);
	v->u.str.s[k] = '\0';
	v->u.str.len = (size_t)k;
	p->pos += (size_t)k;
	return push(p, v);
}

static int op_float(pk *p)
{
	uint64_t bits = 0;
	double d;
	val *v;
	int rc = need(p, 8);
	if (rc)
		return rc;
	for (int i = 0; i < 8; i++) /* big-endian on the wire */
		bits = (bits << 8) | p->b[p->pos + (size_t)i];
	p->pos += 8;
	memcpy(&d, &bits, sizeof d);
	if ((v = new_val(p, V_FLOAT)))
		v->u.f = d;
	return push(p, v);
}

/* A container of the values from `from` to the top of the stack. */
static int collect(pk *p, vkind k, size_t from)
{
	val *v = new_val(p, k);
	int rc;
	if (!v)
		return p->e->code;
	for (size_t i = from; i < p->sp; i++)
		if ((rc = add_item(p, v, p->stk[i])))
			return rc;
	p->sp = from;
	return push(p, v);
}

static int op_tuple_n(pk *p, size_t k)
{
	if (p->sp - floor_sp(p) < k)
		return fail(p, CK_EINVALID, "stack underflow");
	return collect(p, V_TUPLE, p->sp - k);
}

static int op_to_mark(pk *p, vkind k)
{
	size_t from = 0;
	int rc = pop_mark(p, &from);
	if (!rc && k == V_DICT && (p->sp - from) % 2)
		return fail(p, CK_EINVALID, "DICT with an odd number of items");
	return rc ? rc : collect(p, k, from);
}

/* APPEND(S) / SETITEM(S): items from `from` go into the container just below them. */
static int op_fill(pk *p, vkind want, size_t from)
{
	val *c;
	int rc;
	if (from == 0 || from <= floor_sp(p) || from > p->sp)
		return fail(p, CK_EINVALID, "stack underflow");
	c = p->stk[from - 1];
	if (c->k != want)
		return fail(p, CK_EINVALID, "%s on a %s", want == V_LIST ? "APPEND" : "SETITEM",
			    kind_name[c->k]);
	if (want == V_DICT && (p->sp - from) % 2)
		return fail(p, CK_EINVALID, "SETITEMS with an odd number of items");
	for (size_t i = from; i < p->sp; i++)
		if ((rc = add_item(p, c, p->stk[i])))
			return rc;
	p->sp = from;
	return 0;
}

static int op_fill_mark(pk *p, vkind want)
{
	size_t from = 0;
	int rc = pop_mark(p, &from);
	if (rc)
		return rc;
	if (from <= floor_sp(p) || from == 0)
		return fail(p, CK_EINVALID, "%s with nothing to fill", want == V_LIST ? "APPENDS" : "SETITEMS");
	return op_fill(p, want, from);
}

static int memo_put(pk *p, uint64_t idx)
{
	val *v = top(p);
	if (!v)
		return p->e->code;
	if (idx >= PICKLE_MAX_MEMO)
		return fail(p, CK_ELIMIT, "memo index %llu; limit is %u", (unsigned long long)idx, PICKLE_MAX_MEMO);
	if (idx >= p->mcap) {
		uint32_t cap = p->mcap ? p->mcap : 64;
		while (cap <= idx)
			cap *= 2;
		val **m = realloc(p->memo, cap * sizeof *m);
		if (!m)
			return fail(p, CK_ENOMEM, "out of memory");
		memset(m + p->mcap, 0, (cap - p->mcap) * sizeof *m);
		p->memo = m;
		p->mcap = cap;
	}
	if (!p->memo[idx])
		p->mlen++;
	p->memo[idx] = v;
	return 0;
}

static int memo_get(pk *p, uint64_t idx)
{
	if (idx >= p->mcap || !p->memo[idx])
		return fail(p, CK_EINVALID, "memo slot %llu read before it was written", (unsigned long long)idx);
	return push(p, p->memo[idx]);
}

/* torch.<Type>Storage -> element type. */
static int storage_dtype(const char *name, ck_dtype *dt)
{
	static const struct { const char *name; ck_dtype dt; } map[] = {
		{"FloatStorage", CK_DT_F32}, {"DoubleStorage", CK_DT_F64}, {"HalfStorage", CK_DT_F16},
		{"BFloat16Storage", CK_DT_BF16}, {"LongStorage", CK_DT_I64}, {"IntStorage", CK_DT_I32},
		{"ShortStorage", CK_DT_I16}, {"CharStorage", CK_DT_I8}, {"ByteStorage", CK_DT_U8},
		{"BoolStorage", CK_DT_BOOL}};
	for (size_t i = 0; i < sizeof map / sizeof *map; i++)
		if (!strcmp(name, map[i].name)) {
			*dt = map[i].dt;
			return 0;
		}
	return -1;
}

static int op_global_named(pk *p, const char *mod, const char *name)
{
	val *v;
	gkind g;
	ck_dtype dt = CK_DT_U8;
	if (!strcmp(mod, "collections") && !strcmp(name, "OrderedDict"))
		g = G_ODICT;
	else if (!strcmp(mod, "torch._utils") && !strcmp(name, "_rebuild_tensor_v2"))
		g = G_REBUILD_V2;
	else if (!strcmp(mod, "torch._utils") && !strcmp(name, "_rebuild_parameter"))
		g = G_REBUILD_PARAM;
	else if (!strcmp(mod, "torch") && storage_dtype(name, &dt) == 0)
		g = G_STORAGE;
	else if (!strcmp(mod, "torch") && strstr(name, "Storage"))
		return fail(p, CK_EINVALID, "unsupported storage type 'torch.%.64s'", name);
	else
		return fail(p, CK_EINVALID, "refusing global '%.64s.%.64s': a state dict needs only "
			    "collections.OrderedDict, torch._utils._rebuild_tensor_v2, "
			    "torch._utils._rebuild_parameter and torch storage types", mod, name);
	if (!(v = new_val(p, V_GLOBAL)))
		return p->e->code;
	v->g = (unsigned char)g;
	v->dt = (unsigned char)dt;
	return push(p, v);
}

/* GLOBAL: "module\nname\n" as text on the wire. */
static int op_global(pk *p)
{
	char part[2][257];
	for (int k = 0; k < 2; k++) {
		const unsigned char *nl = memchr(p->b + p->pos, '\n', p->n - p->pos);
		size_t len;
		if (!nl)
			return fail(p, CK_EINVALID, "truncated: GLOBAL without a newline");
		len = (size_t)(nl - (p->b + p->pos));
		if (len >= sizeof part[k])
			return fail(p, CK_ELIMIT, "GLOBAL name of %zu bytes; limit is %zu", len, sizeof part[k] - 1);
		memcpy(part[k], p->b + p->pos, len);
		part[k][len] = '\0';
		p->pos += len + 1;
	}
	return op_global_named(p, part[0], part[1]);
}

static int op_stack_global(pk *p)
{
	val *name = pop(p), *mod = name ? pop(p) : NULL;
	if (!mod)
		return p->e->code;
	if (mod->k != V_STR || name->k != V_STR || strlen(mod->u.str.s) != mod->u.str.len ||
	    strlen(name->u.str.s) != name->u.str.len)
		return fail(p, CK_EINVALID, "STACK_GLOBAL needs two strings");
	return op_global_named(p, mod->u.str.s, name->u.str.s);
}

static int key_ok(const char *s, size_t len)
{
	if (!len || len > 64)
		return 0;
	for (size_t i = 0; i < len; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'z') ||
		      (s[i] >= 'A' && s[i] <= 'Z') || s[i] == '_'))
			return 0;
	return 1;
}

/* BINPERSID: ('storage', torch.<Type>Storage, key, location, numel) names a zip member. */
static int op_persid(pk *p)
{
	val *pid = pop(p), *v, **it;
	uint64_t nb;
	if (!pid)
		return p->e->code;
	it = pid->u.it;
	if (pid->k != V_TUPLE || pid->n != 5 || it[0]->k != V_STR || strcmp(it[0]->u.str.s, "storage") ||
	    it[1]->k != V_GLOBAL || it[1]->g != G_STORAGE || it[2]->k != V_STR || it[3]->k != V_STR ||
	    it[4]->k != V_INT)
		return fail(p, CK_EINVALID, "persistent id is not ('storage', torch.<Type>Storage, key, "
			    "location, numel)");
	if (!key_ok(it[2]->u.str.s, it[2]->u.str.len))
		return fail(p, CK_EINVALID, "storage key '%.64s' is not 1-64 letters, digits or '_'",
			    it[2]->u.str.s);
	if (it[4]->u.i < 0 ||
	    __builtin_mul_overflow((uint64_t)it[4]->u.i, ck_dtype_size((ck_dtype)it[1]->dt), &nb))
		return fail(p, CK_EINVALID, "storage '%s' has %lld elements", it[2]->u.str.s,
			    (long long)it[4]->u.i);
	if (!(v = new_val(p, V_STORAGE)))
		return p->e->code;
	if (!(v->u.st.key = strdup(it[2]->u.str.s)))
		return fail(p, CK_ENOMEM, "out of memory");
	v->u.st.numel = (uint64_t)it[4]->u.i;
	v->dt = it[1]->dt;
	return push(p, v);
}

static int int_tuple(pk *p, val *t, const char *what, int64_t *out, int *rank)
{
	if (t->k != V_TUPLE)
		return fail(p, CK_EINVALID, "tensor %s is a %s, expected a tuple", what, kind_name[t->k]);
	if (t->n > CK_MAX_RANK)
		return fail(p, CK_ELIMIT, "tensor has rank %u; limit is %d", t->n, CK_MAX_RANK);
	for (uint32_t i = 0; i < t->n; i++) {
		if (t->u.it[i]->k != V_INT || t->u.it[i]->u.i < 0)
			return fail(p, CK_EINVALID, "tensor %s[%u] is not an integer >= 0", what, i);
		out[i] = t->u.it[i]->u.i;
	}
	*rank = (int)t->n;
	return 0;
}

/* Whether two indices of a view reach the same element (a stride-0 view expands a small storage
 * to any size). Axes by increasing stride: each stride must pass the farthest element the
 * smaller ones reach. Axes of size 1 do not move. */
static int view_overlaps(const pickle_tensor *t)
{
	int ax[CK_MAX_RANK], n = 0;
	uint64_t reach = 0;
	for (int i = 0; i < t->shape.rank; i++)
		if (t->shape.dim[i] > 1) {
			int j = n++;
			for (; j > 0 && t->stride[ax[j - 1]] > t->stride[i]; j--)
				ax[j] = ax[j - 1];
			ax[j] = i;
		}
	for (int k = 0; k < n; k++) { /* view_ok checked (size-1)*stride sums fit in 64 bits */
		uint64_t st = (uint64_t)t->stride[ax[k]];
		if (st <= reach)
			return 1;
		reach += (uint64_t)(t->shape.dim[ax[k]] - 1) * st;
	}
	return 0;
}

/* The view must stay inside its storage: offset + sum((size-1)*stride) < numel. */
static int view_ok(pk *p, const pickle_tensor *t)
{
	uint64_t numel, last = t->offset, step;
	ck_err tmp = {0};
	if (ck_shape_numel(&t->shape, &numel, &tmp))
		return fail(p, tmp.code, "tensor: %s", tmp.msg);
	if (!numel)
		return t->offset <= t->storage_numel ? 0
		       : fail(p, CK_EINVALID, "tensor offset %llu is past the end of storage '%s' (%llu "
			      "elements)", (unsigned long long)t->offset, t->storage,
			      (unsigned long long)t->storage_numel);
	for (int i = 0; i < t->shape.rank; i++)
		if (__builtin_mul_overflow((uint64_t)(t->shape.dim[i] - 1), (uint64_t)t->stride[i], &step) ||
		    __builtin_add_overflow(last, step, &last))
			return fail(p, CK_EINVALID, "tensor view overflows 64 bits");
	if (last >= t->storage_numel)
		return fail(p, CK_EINVALID, "tensor view reaches element %llu of storage '%s', which has %llu",
			    (unsigned long long)last, t->storage, (unsigned long long)t->storage_numel);
	/* a view that repeats elements (expand(): stride 0) may not hold more than its storage */
	if (numel > t->storage_numel && view_overlaps(t))
		return fail(p, CK_ELIMIT, "tensor view of storage '%s' repeats its elements (a stride 0 or overlapping "
			    "strides) into %llu elements, more than the %llu the storage holds", t->storage,
			    (unsigned long long)numel, (unsigned long long)t->storage_numel);
	return 0;
}

/* _rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks[, metadata]) */
static int rebuild_tensor(pk *p, val *args)
{
	val **a = args->u.it, *v;
	pickle_tensor *t;
	int rs = 0, rc;
	if (args->n != 6 && args->n != 7)
		return fail(p, CK_EINVALID, "_rebuild_tensor_v2 takes 6 or 7 arguments, got %u", args->n);
	if (a[0]->k != V_STORAGE || a[1]->k != V_INT || a[1]->u.i < 0 || a[4]->k != V_BOOL ||
	    a[5]->k != V_DICT)
		return fail(p, CK_EINVALID, "_rebuild_tensor_v2 arguments are not (storage, offset >= 0, size, "
			    "stride, bool, dict)");
	if (!(v = new_val(p, V_TENSOR)) || !(v->u.t = t = calloc(1, sizeof *t))) {
		if (v)
			v->k = V_NONE;
		return p->e->code ? p->e->code : fail(p, CK_ENOMEM, "out of memory");
	}
	if (!(t->storage = strdup(a[0]->u.st.key)))
		return fail(p, CK_ENOMEM, "out of memory");
	t->dtype = (ck_dtype)a[0]->dt;
	t->storage_numel = a[0]->u.st.numel;
	t->offset = (uint64_t)a[1]->u.i;
	if ((rc = int_tuple(p, a[2], "size", t->shape.dim, &t->shape.rank)) ||
	    (rc = int_tuple(p, a[3], "stride", t->stride, &rs)))
		return rc;
	if (rs != t->shape.rank)
		return fail(p, CK_EINVALID, "tensor has %d sizes but %d strides", t->shape.rank, rs);
	return (rc = view_ok(p, t)) ? rc : push(p, v);
}

static int op_reduce(pk *p)
{
	val *args = pop(p), *f = args ? pop(p) : NULL;
	if (!f)
		return p->e->code;
	if (f->k != V_GLOBAL)
		return fail(p, CK_EINVALID, "REDUCE on a %s, expected an allowed global", kind_name[f->k]);
	if (args->k != V_TUPLE)
		return fail(p, CK_EINVALID, "REDUCE arguments are a %s, expected a tuple", kind_name[args->k]);
	switch ((gkind)f->g) {
	case G_ODICT:
		if (args->n)
			return fail(p, CK_EINVALID, "OrderedDict called with %u arguments, expected none", args->n);
		return push(p, new_val(p, V_DICT));
	case G_REBUILD_V2:
		return rebuild_tensor(p, args);
	case G_REBUILD_PARAM:
		if (args->n != 3 || args->u.it[0]->k != V_TENSOR)
			return fail(p, CK_EINVALID, "_rebuild_parameter arguments are not (tensor, bool, dict)");
		return push(p, args->u.it[0]);
	default:
		return fail(p, CK_EINVALID, "a storage type cannot be called");
	}
}

/* BUILD sets instance state; only an OrderedDict's (`_metadata`) occurs, and it is not needed. */
static int op_build(pk *p)
{
	val *state = pop(p), *obj = state ? top(p) : NULL;
	if (!obj)
		return p->e->code;
	if (obj->k != V_DICT)
		return fail(p, CK_EINVALID, "BUILD on a %s", kind_name[obj->k]);
	return 0;
}

static int op_simple(pk *p, vkind k, int64_t x)
{
	val *v = new_val(p, k);
	if (v)
		v->u.i = x;
	return push(p, v);
}

static int op_mark(pk *p)
{
	if (p->nm >= PICKLE_MAX_DEPTH)
		return fail(p, CK_ELIMIT, "MARKs nested deeper than %d", PICKLE_MAX_DEPTH);
	p->mark[p->nm++] = p->sp;
	return 0;
}

static int step(pk *p, int c)
{
	uint64_t x;
	size_t from = 0;
	int rc;
	switch (c) {
	case 0x80: /* PROTO */
		if ((rc = arg_uint(p, 1, &x)))
			return rc;
		return x >= 2 && x <= 5 ? 0 : fail(p, CK_EINVALID, "pickle protocol %llu; 2 to 5 are read",
						   (unsigned long long)x);
	case 0x95: /* FRAME: a length hint only */
		return arg_uint(p, 8, &x);
	case '(': return op_mark(p);
	case '0': return pop(p) ? 0 : p->e->code;
	case '1': return (rc = pop_mark(p, &from)) ? rc : (p->sp = from, 0);
	case '2': { val *v = top(p); return v ? push(p, v) : p->e->code; }
	case 'N': return op_simple(p, V_NONE, 0);
	case 0x88: return op_simple(p, V_BOOL, 1);
	case 0x89: return op_simple(p, V_BOOL, 0);
	case 'J': return (rc = arg_uint(p, 4, &x)) ? rc : op_int(p, (int32_t)(uint32_t)x);
	case 'K': return (rc = arg_uint(p, 1, &x)) ? rc : op_int(p, (int64_t)x);
	case 'M': return (rc = arg_uint(p, 2, &x)) ? rc : op_int(p, (int64_t)x);
	case 0x8a: return op_long(p, 1);
	case 0x8b: return op_long(p, 4);
	case 'G': return op_float(p);
	case 'X': case 'T': case 'B': return op_str(p, 4);
	case 0x8c: case 'U': case 'C': return op_str(p, 1);
	case 0x8d: case 0x8e: return op_str(p, 8);
	case ')': return push(p, new_val(p, V_TUPLE));
	case 0x85: return op_tuple_n(p, 1);
	case 0x86: return op_tuple_n(p, 2);
	case 0x87: return op_tuple_n(p, 3);
	case 't': return op_to_mark(p, V_TUPLE);
	case ']': return push(p, new_val(p, V_LIST));
	case 'l': return op_to_mark(p, V_LIST);
	case '}': return push(p, new_val(p, V_DICT));
	case 'd': return op_to_mark(p, V_DICT);
	case 'a': return op_fill(p, V_LIST, p->sp - 1);
	case 'e': return op_fill_mark(p, V_LIST);
	case 's': return p->sp < 2 ? fail(p, CK_EINVALID, "stack underflow") : op_fill(p, V_DICT, p->sp - 2);
	case 'u': return op_fill_mark(p, V_DICT);
	case 'q': return (rc = arg_uint(p, 1, &x)) ? rc : memo_put(p, x);
	case 'r': return (rc = arg_uint(p, 4, &x)) ? rc : memo_put(p, x);
	case 0x94: return memo_put(p, p->mlen);
	case 'h': return (rc = arg_uint(p, 1, &x)) ? rc : memo_get(p, x);
	case 'j': return (rc = arg_uint(p, 4, &x)) ? rc : memo_get(p, x);
	case 'c': return op_global(p);
	case 0x93: return op_stack_global(p);
	case 'Q': return op_persid(p);
	case 'R': return op_reduce(p);
	case 'b': return op_build(p);
	default:
		return fail(p, CK_EINVALID, "opcode 0x%02x is not one torch.save writes for a state dict", c);
	}
}

/* ---- the state dict ---- */

static int take_tensors(pk *p, val *d, pickle_dict *out)
{
	strmap seen, storages;
	size_t k, nt = d->n / 2;
	int rc = 0;
	if (!(out->t = calloc(nt ? nt : 1, sizeof *out->t)))
		return fail(p, CK_ENOMEM, "out of memory");
	strmap_init(&seen);
	strmap_init(&storages);
	for (size_t i = 0; i < nt && !rc; i++) {
		val *key = d->u.it[2 * i], *v = d->u.it[2 * i + 1];
		pickle_tensor *t = &out->t[out->n];
		if (key->k != V_STR)
			rc = fail(p, CK_EINVALID, "state dict key #%zu: expected a string, found %s", i,
				  kind_name[key->k]);
		else if (!key->u.str.len || key->u.str.len > PICKLE_MAX_KEY || strlen(key->u.str.s) != key->u.str.len ||
			 !text_utf8_valid(key->u.str.s))
			rc = fail(p, CK_EINVALID, "state dict key #%zu is not 1-%d bytes of UTF-8 without NUL", i,
				  PICKLE_MAX_KEY);
		else if (v->k != V_TENSOR)
			rc = fail(p, CK_EINVALID, "'%.200s': expected a tensor, found %s", key->u.str.s,
				  kind_name[v->k]);
		else if (strmap_get(&seen, key->u.str.s, &k))
			rc = fail(p, CK_EINVALID, "'%.200s' appears twice in the state dict", key->u.str.s);
		if (rc)
			break;
		*t = *v->u.t;
		t->name = strdup(key->u.str.s);
		t->storage = strdup(v->u.t->storage);
		out->n++;
		if (!t->name || !t->storage || strmap_put(&seen, t->name, i))
			rc = fail(p, CK_ENOMEM, "out of memory");
		else if (strmap_get(&storages, t->storage, &k) &&
			 (out->t[k].dtype != t->dtype || out->t[k].storage_numel != t->storage_numel))
			rc = fail(p, CK_EINVALID, "storage '%s' is declared as %s[%llu] and as %s[%llu]", t->storage,
				  ck_dtype_short_name(out->t[k].dtype), (unsigned long long)out->t[k].storage_numel,
				  ck_dtype_short_name(t->dtype), (unsigned long long)t->storage_numel);
		else if (strmap_put(&storages, t->storage, out->n - 1))
			rc = fail(p, CK_ENOMEM, "out of memory");
	}
	strmap_dispose(&seen);
	strmap_dispose(&storages);
	return rc;
}

static int run(pk *p, val **result)
{
	int rc;
	while (p->pos < p->n) {
		p->op = p->pos;
		int c = p->b[p->pos++];
		if (c == '.') {
			if (p->nm || p->sp != 1)
				return fail(p, CK_EINVALID, "STOP with %zu values and %d MARKs on the stack", p->sp, p->nm);
			*result = p->stk[0];
			return 0;
		}
		if ((rc = step(p, c)))
			return rc;
	}
	p->op = p->pos;
	return fail(p, CK_EINVALID, "truncated: the pickle ends before its STOP opcode");
}

int pickle_parse(const char *where, const unsigned char *buf, size_t n, pickle_dict *out, ck_err *e)
{
	ck_err local = {0};
	pk p = {.where = where, .b = buf, .n = n, .e = e ? e : &local};
	val *root = NULL;
	int rc;
	memset(out, 0, sizeof *out);
	if (n > PICKLE_MAX_BYTES)
		return ck_errf(e, CK_ELIMIT, "%s: pickle is %zu bytes; limit is %zu", where, n, PICKLE_MAX_BYTES);
	rc = run(&p, &root);
	if (!rc && root->k != V_DICT)
		rc = fail(&p, CK_EINVALID, "expected a state dict (dict of tensors), found %s", kind_name[root->k]);
	if (!rc)
		rc = take_tensors(&p, root, out);
	arena_free(&p);
	if (rc)
		pickle_dict_dispose(out);
	return rc;
}

void pickle_dict_dispose(pickle_dict *d)
{
	for (size_t i = 0; i < d->n; i++) {
		free(d->t[i].name);
		free(d->t[i].storage);
	}
	free(d->t);
	memset(d, 0, sizeof *d);
}

int pickle_contiguous(const pickle_tensor *t)
{
	int64_t want = 1;
	for (int i = 0; i < t->shape.rank; i++)
		if (t->shape.dim[i] == 0)
			return 1; /* no elements: any strides will do */
	for (int i = t->shape.rank - 1; i >= 0; i--) {
		if (t->shape.dim[i] != 1 && t->stride[i] != want)
			return 0;
		want *= t->shape.dim[i];
	}
	return 1;
}
