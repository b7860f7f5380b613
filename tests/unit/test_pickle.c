/* Unit tests for pickle.c: the state dicts torch.save writes are read, and every hostile or
 * broken stream is refused with its own message (nothing is ever executed). Streams are built
 * opcode by opcode here, as torch.save emits them. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "pickle.h"
#include "t.h"

typedef struct buf {
	unsigned char b[1 << 16];
	size_t n;
} buf;

static void op(buf *p, int c) { p->b[p->n++] = (unsigned char)c; }

static void str(buf *p, const char *s)
{
	uint32_t n = (uint32_t)strlen(s);
	op(p, 'X');
	for (int i = 0; i < 4; i++)
		op(p, (int)(n >> (8 * i)) & 0xff);
	memcpy(p->b + p->n, s, n);
	p->n += n;
}

static void glob(buf *p, const char *mod, const char *name)
{
	p->n += (size_t)sprintf((char *)p->b + p->n, "c%s\n%s\n", mod, name);
}

static void i1(buf *p, int k) { op(p, 'K'); op(p, k); }

static void ituple(buf *p, const int *v, int n)
{
	op(p, '(');
	for (int i = 0; i < n; i++)
		i1(p, v[i]);
	op(p, 't');
}

/* _rebuild_tensor_v2(('storage', Type, key, 'cpu', numel), offset, size, stride, False, OrderedDict()) */
static void tensor_r(buf *p, const char *type, const char *key, int numel, int off, const int *size,
		     int rank, const int *stride, int srank)
{
	glob(p, "torch._utils", "_rebuild_tensor_v2");
	op(p, '(');
	op(p, '(');
	str(p, "storage");
	glob(p, "torch", type);
	str(p, key);
	str(p, "cpu");
	i1(p, numel);
	op(p, 't');
	op(p, 'Q');
	i1(p, off);
	ituple(p, size, rank);
	ituple(p, stride, srank);
	op(p, 0x89);
	glob(p, "collections", "OrderedDict");
	op(p, ')');
	op(p, 'R');
	op(p, 't');
	op(p, 'R');
}

static void tensor(buf *p, const char *type, const char *key, int numel, int off, const int *size,
		   const int *stride, int rank)
{
	tensor_r(p, type, key, numel, off, size, rank, stride, rank);
}

static const int s23[] = {2, 3}, st31[] = {3, 1}, st12[] = {1, 2};

/* A new stream of protocol v (torch.save writes 2). */
static void begin_v(buf *p, int v)
{
	p->n = 0;
	op(p, 0x80);
	op(p, v);
}

static void begin(buf *p) { begin_v(p, 2); }

/* A new stream holding a dict, and the MARK of its items (end_items closes them: SETITEMS, STOP). */
static void begin_items(buf *p)
{
	begin(p);
	op(p, '}');
	op(p, '(');
}

static void end_items(buf *p)
{
	op(p, 'u');
	op(p, '.');
}

/* {name: tensor} as a plain dict, the way HF's save_pretrained writes it. */
static void dict1(buf *p, const char *name, const char *type, int numel, int off, const int *stride)
{
	begin_items(p);
	str(p, name);
	tensor(p, type, "0", numel, off, s23, stride, 2);
	end_items(p);
}

static int parse(buf *p, pickle_dict *d, ck_err *e)
{
	memset(e, 0, sizeof *e);
	return pickle_parse("t.pkl", p->b, p->n, d, e);
}

static void bad(buf *p, const char *want, const char *name)
{
	pickle_dict d;
	ck_err e;
	int rc = parse(p, &d, &e);
	T_OK(rc < 0 && d.n == 0, "%s: refused", name);
	T_OK(strncmp(e.msg, "t.pkl: ", 7) == 0, "%s: message names the file", name);
	T_HAS(e.msg, want, name);
	pickle_dict_dispose(&d);
}

static void test_good(void)
{
	buf p;
	pickle_dict d;
	ck_err e;
	dict1(&p, "w", "BFloat16Storage", 6, 0, st31);
	T_OK(parse(&p, &d, &e) == 0, "plain dict: parses (%s)", e.msg);
	T_EQ_INT(d.n, 1, "one tensor");
	if (d.n == 1) {
		T_EQ_STR(d.t[0].name, "w", "name");
		T_EQ_STR(d.t[0].storage, "0", "storage key");
		T_EQ_INT(d.t[0].dtype, CK_DT_BF16, "dtype from BFloat16Storage");
		T_EQ_INT(d.t[0].shape.rank, 2, "rank");
		T_EQ_INT(d.t[0].shape.dim[1], 3, "size");
		T_EQ_INT(d.t[0].storage_numel, 6, "storage numel");
		T_OK(pickle_contiguous(&d.t[0]), "row-major strides are contiguous");
	}
	pickle_dict_dispose(&d);

	dict1(&p, "w", "FloatStorage", 6, 0, st12);
	T_OK(parse(&p, &d, &e) == 0 && d.n == 1 && !pickle_contiguous(&d.t[0]), "transposed view: not contiguous");
	pickle_dict_dispose(&d);

	/* OrderedDict() + SETITEMS + BUILD({'_metadata': ...}) as model.state_dict() pickles,
	 * a Parameter, memoised globals, LONG1 and a shared storage. */
	begin(&p);
	glob(&p, "collections", "OrderedDict");
	op(&p, 'q'); op(&p, 0);
	op(&p, ')'); op(&p, 'R');
	op(&p, '(');
	str(&p, "a");
	glob(&p, "torch._utils", "_rebuild_parameter");
	op(&p, '(');
	tensor(&p, "HalfStorage", "7", 6, 0, s23, st31, 2);
	op(&p, 0x88);
	op(&p, 'h'); op(&p, 0); op(&p, ')'); op(&p, 'R');
	op(&p, 't'); op(&p, 'R');
	str(&p, "b");
	tensor(&p, "HalfStorage", "7", 6, 0, (int[]){3}, (int[]){2}, 1);
	op(&p, 'u');
	op(&p, '}');
	str(&p, "_metadata");
	op(&p, 'h'); op(&p, 0); op(&p, ')'); op(&p, 'R');
	op(&p, 's');
	op(&p, 'b');
	op(&p, '.');
	T_OK(parse(&p, &d, &e) == 0, "OrderedDict + Parameter + BUILD: parses (%s)", e.msg);
	T_OK(d.n == 2 && !strcmp(d.t[1].name, "b") && d.t[1].shape.dim[0] == 3 && d.t[1].stride[0] == 2,
	     "two tensors sharing a storage, in order");
	pickle_dict_dispose(&d);
}

static void test_hostile(void)
{
	buf p;
	size_t cut;

	begin(&p);
	glob(&p, "os", "system");
	str(&p, "touch /tmp/ckconv-pwned");
	op(&p, 0x85); op(&p, 'R'); op(&p, '.');
	bad(&p, "refusing global 'os.system'", "os.system");

	begin_v(&p, 4);
	op(&p, 0x8c); op(&p, 8); memcpy(p.b + p.n, "builtins", 8); p.n += 8;
	op(&p, 0x8c); op(&p, 4); memcpy(p.b + p.n, "eval", 4); p.n += 4;
	op(&p, 0x93); op(&p, '.');
	bad(&p, "refusing global 'builtins.eval'", "STACK_GLOBAL builtins.eval");

	begin(&p);
	op(&p, 'i');
	bad(&p, "opcode 0x69 is not one torch.save writes", "INST opcode");
	begin(&p);
	op(&p, ']'); op(&p, ')'); op(&p, 0x81);
	bad(&p, "opcode 0x81", "NEWOBJ opcode");

	dict1(&p, "w", "FloatStorage", 6, 0, st31);
	cut = p.n / 2;
	p.n = cut;
	bad(&p, "truncated", "truncated stream");
	dict1(&p, "w", "FloatStorage", 6, 0, st31);
	p.n--;
	bad(&p, "ends before its STOP", "no STOP");

	dict1(&p, "w", "FloatStorage", 6, 1, st31);
	bad(&p, "tensor view reaches element 6 of storage '0', which has 6", "storage offset past the end");
	dict1(&p, "w", "FloatStorage", 5, 0, st31);
	bad(&p, "reaches element 5", "storage too small for the view");
	dict1(&p, "w", "ComplexFloatStorage", 6, 0, st31);
	bad(&p, "unsupported storage type 'torch.ComplexFloatStorage'", "complex storage");

	begin(&p);
	op(&p, '}');
	op(&p, 'r'); op(&p, 0xff); op(&p, 0xff); op(&p, 0xff); op(&p, 0xff);
	op(&p, '.');
	bad(&p, "memo index 4294967295; limit is", "memo index bomb");

	begin(&p);
	op(&p, 'h'); op(&p, 3); op(&p, '.');
	bad(&p, "memo slot 3 read before it was written", "BINGET of an empty slot");

	begin(&p);
	for (int i = 0; i < PICKLE_MAX_DEPTH + 1; i++)
		op(&p, '(');
	op(&p, '.');
	bad(&p, "MARKs nested deeper than 256", "MARK nesting");

	begin(&p);
	op(&p, '}'); str(&p, "n"); i1(&p, 1); op(&p, 's'); op(&p, '.');
	bad(&p, "'n': expected a tensor, found int", "value is not a tensor");
	begin(&p);
	op(&p, ']'); op(&p, '.');
	bad(&p, "expected a state dict (dict of tensors), found list", "top is a list");

	begin_items(&p);
	str(&p, "w"); tensor(&p, "FloatStorage", "0", 6, 0, s23, st31, 2);
	str(&p, "w"); tensor(&p, "FloatStorage", "0", 6, 0, s23, st31, 2);
	end_items(&p);
	bad(&p, "'w' appears twice", "duplicate key");

	begin_items(&p);
	str(&p, "a"); tensor(&p, "FloatStorage", "0", 6, 0, s23, st31, 2);
	str(&p, "b"); tensor(&p, "HalfStorage", "0", 6, 0, s23, st31, 2);
	end_items(&p);
	bad(&p, "storage '0' is declared as f32[6] and as f16[6]", "one storage, two dtypes");

	begin_items(&p);
	str(&p, "w"); tensor(&p, "FloatStorage", "../../etc/passwd", 6, 0, s23, st31, 2);
	end_items(&p);
	bad(&p, "storage key '../../etc/passwd' is not 1-64 letters", "storage key escaping the archive");

	begin_items(&p);
	str(&p, "w");
	tensor(&p, "FloatStorage", "0", 1, 0, (int[]){1, 1, 1, 1, 1, 1, 1, 1, 1}, (int[]){1, 1, 1, 1, 1, 1, 1, 1, 1}, 9);
	end_items(&p);
	bad(&p, "tensor has rank 9; limit is 8", "rank limit");

	begin_items(&p);
	str(&p, "w"); tensor_r(&p, "FloatStorage", "0", 6, 0, s23, 2, (int[]){1}, 1);
	end_items(&p);
	bad(&p, "tensor has 2 sizes but 1 strides", "stride count");

	/* s23 = [2, 3] from 6 elements: stride (0, 1) repeats 3 of them into 6 (an expand(): fits its
	 * storage, read as numpy would); from 3 elements it would grow the storage, and is refused */
	pickle_dict dd;
	ck_err ee;
	dict1(&p, "w", "FloatStorage", 6, 0, (int[]){0, 1});
	T_OK(parse(&p, &dd, &ee) == 0 && dd.n == 1, "a stride-0 view no larger than its storage is read: %s", ee.msg);
	pickle_dict_dispose(&dd);
	dict1(&p, "w", "FloatStorage", 3, 0, (int[]){0, 1});
	bad(&p, "repeats its elements (a stride 0 or overlapping strides) into 6 elements, more than the 3",
	    "stride-0 view larger than its storage");
	dict1(&p, "w", "FloatStorage", 4, 0, (int[]){1, 1});
	bad(&p, "repeats its elements", "overlapping strides larger than the storage");
	dict1(&p, "w", "FloatStorage", 6, 0, (int[]){1, 2});
	T_OK(parse(&p, &dd, &ee) == 0 && dd.n == 1, "a transposed view (no repeats) is read: %s", ee.msg);
	pickle_dict_dispose(&dd);

	begin(&p);
	op(&p, 's');
	bad(&p, "stack underflow", "SETITEM on an empty stack");
	begin_v(&p, 9);
	bad(&p, "pickle protocol 9", "unknown protocol");
	begin(&p);
	op(&p, 'X'); op(&p, 0xff); op(&p, 0xff); op(&p, 0xff); op(&p, 0x7f);
	bad(&p, "string of 2147483647 bytes; limit is", "huge string length");
	begin(&p);
	op(&p, 0x8a); op(&p, 9);
	bad(&p, "integer of 9 bytes", "LONG1 of 9 bytes");
}

int main(void)
{
	test_good();
	test_hostile();
	return t_done();
}
