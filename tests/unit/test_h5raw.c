/* Unit tests for h5raw.c: the root group's compact attributes read from the file agree with
 * libhdf5's own reads for every kind cstorch and h5py write (variable-length UTF-8 strings, empty
 * ones, fixed strings, float64/float32, integers, h5py's bool enum, a UTF-8 name, enough of them
 * to need continuation blocks and several global heap collections); a version-2 header (creation
 * order tracked) is declined; lies in the header or heap are refused with a reason, and random
 * corruption of the header and heap never reads outside its buffers (ASan under make check). */
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <hdf5.h>
#include "h5raw.h"
#include "t.h"

#define NSTR 3000

static char dir[] = "/tmp/ck_h5raw_XXXXXX";

static void put_vstr(hid_t loc, const char *name, const char *v)
{
	hid_t t = H5Tcopy(H5T_C_S1), sp = H5Screate(H5S_SCALAR), acpl = H5Pcreate(H5P_ATTRIBUTE_CREATE);
	H5Tset_size(t, H5T_VARIABLE);
	H5Tset_cset(t, H5T_CSET_UTF8);
	H5Pset_char_encoding(acpl, H5T_CSET_UTF8);
	hid_t a = H5Acreate2(loc, name, t, sp, acpl, H5P_DEFAULT);
	H5Awrite(a, t, &v);
	H5Aclose(a), H5Pclose(acpl), H5Sclose(sp), H5Tclose(t);
}

static void put(hid_t loc, const char *name, hid_t t, int n, const void *v)
{
	hsize_t d = (hsize_t)n;
	hid_t sp = n ? H5Screate_simple(1, &d, NULL) : H5Screate(H5S_SCALAR);
	hid_t a = H5Acreate2(loc, name, t, sp, H5P_DEFAULT, H5P_DEFAULT);
	H5Awrite(a, t, v);
	H5Aclose(a), H5Sclose(sp);
}

/* A file whose root group holds every kind of attribute; track: creation order (v2 header). */
static void make(const char *path, int track)
{
	hid_t fcpl = H5Pcreate(H5P_FILE_CREATE);
	if (track)
		H5Pset_attr_creation_order(fcpl, H5P_CRT_ORDER_TRACKED);
	hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, fcpl, H5P_DEFAULT), fs = H5Tcopy(H5T_C_S1), en = H5Tenum_create(H5T_STD_I8LE);
	double d = 0.5;
	float fl = -2.25f;
	long long ll = -7;
	int arr[2] = {1, 2};
	signed char no = 0, yes = 1;
	char name[64], val[128];
	H5Tenum_insert(en, "FALSE", &no);
	H5Tenum_insert(en, "TRUE", &yes);
	H5Tset_size(fs, 6);
	put(f, "__version__", H5T_IEEE_F64LE, 0, &d);
	put(f, "f32be", H5T_IEEE_F32BE, 0, &fl);
	put(f, "neg", H5T_STD_I64LE, 0, &ll);
	put(f, "__SUCCESS__", en, 0, &yes);
	put(f, "false", en, 0, &no);
	put(f, "pair", H5T_NATIVE_INT, 2, arr);
	put(f, "fixed", fs, 0, "abc\0\0\0");
	put_vstr(f, "empty", "");
	put_vstr(f, "gr\xc3\xbc\xc3\x9f", "{\"\xc3\xbc\": 1}");
	for (int i = 0; i < NSTR; i++) {
		snprintf(name, sizeof name, "model.h.%d.w.__metadata__", i);
		snprintf(val, sizeof val, "{\"key\": %d, \"pad\": \"%0*d\"}", i, 10 + i % 50, i);
		put_vstr(f, name, val);
	}
	H5Tclose(en), H5Tclose(fs), H5Fclose(f), H5Pclose(fcpl);
}

/* Where h5raw must look in path (asked of HDF5 on the intact file). */
static h5raw_loc locate(const char *path, int fd)
{
	hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT), fcpl = H5Fget_create_plist(f);
	H5O_info_t oi;
	hsize_t ub = 0;
	size_t sa = 0, ss = 0;
	struct stat sb;
	H5Oget_info2(f, &oi, H5O_INFO_BASIC);
	H5Pget_userblock(fcpl, &ub);
	H5Pget_sizes(fcpl, &sa, &ss);
	fstat(fd, &sb);
	H5Pclose(fcpl), H5Fclose(f);
	return (h5raw_loc){fd, ub, oi.addr, (uint64_t)sb.st_size, (int)sa, (int)ss};
}

/* Every attribute h5raw read equals HDF5's read of it. */
static int agree(const char *path, const h5raw *r)
{
	hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
	H5O_info_t oi;
	int bad = 0;
	H5Oget_info2(f, &oi, H5O_INFO_NUM_ATTRS);
	if ((size_t)oi.num_attrs != h5raw_count(r))
		bad++;
	for (hsize_t i = 0; i < oi.num_attrs; i++) {
		hid_t a = H5Aopen_by_idx(f, ".", H5_INDEX_NAME, H5_ITER_INC, i, H5P_DEFAULT, H5P_DEFAULT);
		hid_t t = H5Aget_type(a);
		char name[256];
		H5Aget_name(a, sizeof name, name);
		const h5raw_attr *x = h5raw_get(r, name);
		if (!x) {
			bad++;
		} else if (H5Tget_class(t) == H5T_STRING && H5Tis_variable_str(t) > 0) {
			char *v = NULL;
			hid_t mt = H5Tcopy(t);
			H5Aread(a, mt, &v);
			bad += x->kind != H5RAW_STR || x->len != strlen(v) || memcmp(x->str, v, x->len);
			H5free_memory(v);
			H5Tclose(mt);
		} else if (H5Tget_class(t) == H5T_STRING) {
			char v[64] = {0};
			H5Aread(a, t, v);
			bad += x->kind != H5RAW_STR || x->len != strlen(v) || memcmp(x->str, v, x->len);
		} else if (!strcmp(name, "pair")) {
			bad += x->kind != H5RAW_OTHER;
		} else if (H5Tget_class(t) == H5T_ENUM) {
			signed char v = 0;
			H5Aread(a, t, &v);
			bad += x->kind != H5RAW_NUM || x->truthy != (v != 0);
		} else {
			double v = 0;
			H5Aread(a, H5T_NATIVE_DOUBLE, &v);
			bad += x->kind != H5RAW_NUM || x->num != v;
		}
		H5Tclose(t), H5Aclose(a);
	}
	H5Fclose(f);
	return bad;
}

static uint64_t le(const unsigned char *p, int n)
{
	uint64_t v = 0;
	while (n--)
		v = v << 8 | p[n];
	return v;
}

/* h5raw on a copy of `orig` (n bytes) changed by `poke`; returns its status, *why its reason. */
static int try_bytes(const unsigned char *b, size_t n, h5raw_loc l, const char **why)
{
	char p[600];
	h5raw *r = NULL;
	snprintf(p, sizeof p, "%s/mut.h5", dir);
	int fd = open(p, O_RDWR | O_CREAT | O_TRUNC, 0600);
	int ok = fd >= 0 && write(fd, b, n) == (ssize_t)n;
	l.fd = fd;
	l.fsize = n;
	int rc = ok ? h5raw_read(&l, &r, why) : -2;
	h5raw_free(r);
	close(fd);
	return rc;
}

int main(void)
{
	char p1[600], p2[600];
	const char *why;
	h5raw *r = NULL;
	H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
	T_OK(mkdtemp(dir) != NULL, "scratch dir");
	snprintf(p1, sizeof p1, "%s/v1.h5", dir);
	snprintf(p2, sizeof p2, "%s/v2.h5", dir);
	make(p1, 0);
	make(p2, 1);

	int fd = open(p1, O_RDONLY);
	h5raw_loc l = locate(p1, fd);
	T_EQ_INT(h5raw_read(&l, &r, &why), 0, "version-1 root header: read");
	if (!r)
		printf("#   why: %s\n", why ? why : "(declined)");
	T_OK(r != NULL, "version-1 root header: not declined");
	T_EQ_INT(h5raw_count(r), NSTR + 9, "every attribute found");
	T_EQ_INT(agree(p1, r), 0, "every attribute equals HDF5's read of it");
	const h5raw_attr *a = h5raw_get(r, "__version__");
	T_OK(a && a->kind == H5RAW_NUM && a->num == 0.5, "__version__ is 0.5");
	a = h5raw_get(r, "__SUCCESS__");
	T_OK(a && a->kind == H5RAW_NUM && a->truthy, "__SUCCESS__ (h5py bool) is true");
	a = h5raw_get(r, "false");
	T_OK(a && a->kind == H5RAW_NUM && !a->truthy, "a false bool is false");
	a = h5raw_get(r, "empty");
	T_OK(a && a->kind == H5RAW_STR && a->len == 0, "an empty string is empty");
	T_OK(h5raw_get(r, "absent") == NULL, "an absent name is absent");
	h5raw_free(r), r = NULL;

	struct stat sb;
	fstat(fd, &sb);
	size_t n = (size_t)sb.st_size;
	unsigned char *orig = malloc(n), *b = malloc(n);
	T_OK(orig && b && pread(fd, orig, n, 0) == (ssize_t)n, "read the file");
	close(fd);

	/* lies, each refused with a reason */
	uint64_t h = l.base + l.addr;
	memcpy(b, orig, n);
	b[h + 8] = 0xff, b[h + 9] = 0xff, b[h + 10] = 0xff, b[h + 11] = 0x7f; /* first block: 2 GiB */
	T_EQ_INT(try_bytes(b, n, l, &why), -1, "a header block past the end of the file is refused");
	T_HAS(why, "the file", "  with a reason");
	memcpy(b, orig, n);
	b[h] = 7;
	T_EQ_INT(try_bytes(b, n, l, &why), -1, "an unknown header version is refused");
	/* the first message of the first block is the continuation (h5py puts it there): point it
	 * outside the file */
	memcpy(b, orig, n);
	T_EQ_INT(le(b + h + 16, 2), 0x10, "the first message is a continuation");
	memset(b + h + 24, 0xee, 8);
	T_EQ_INT(try_bytes(b, n, l, &why), -1, "a continuation outside the file is refused");
	/* every global heap collection's size claims the whole file */
	memcpy(b, orig, n);
	int cols = 0;
	for (size_t i = 0; i + 16 <= n; i++)
		if (!memcmp(b + i, "GCOL", 4)) {
			memset(b + i + 8, 0x7f, 8);
			cols++;
		}
	T_OK(cols > 1, "the strings sit in %d global heap collections", cols);
	T_EQ_INT(try_bytes(b, n, l, &why), -1, "a heap collection larger than the file is refused");
	/* a heap object claiming more bytes than its collection holds */
	memcpy(b, orig, n);
	for (size_t i = 0; i + 16 <= n; i++)
		if (!memcmp(b + i, "GCOL", 4)) {
			memset(b + i + 16 + 8, 0x7f, 8);
			break;
		}
	T_EQ_INT(try_bytes(b, n, l, &why), -1, "a heap object past its collection is refused");
	T_HAS(why, "heap object", "  with a reason");

	/* random corruption of the root header and the first collections: never crashes (ASan) */
	srand(12);
	int refused = 0, runs = 500;
	for (int k = 0; k < runs; k++) {
		memcpy(b, orig, n);
		for (int j = 0; j < 4; j++) {
			size_t at = (size_t)rand() % (n < 65536 ? n : 65536);
			b[at] = (unsigned char)rand();
		}
		refused += try_bytes(b, n, l, &why) == -1;
	}
	T_OK(refused < runs, "random corruption: %d of %d refused, none crashed", refused, runs);
	free(orig);
	free(b);

	fd = open(p2, O_RDONLY);
	l = locate(p2, fd);
	T_EQ_INT(h5raw_read(&l, &r, &why), 0, "version-2 root header (creation order tracked): no error");
	T_OK(r == NULL, "version-2 root header: declined (HDF5 reads it)");
	close(fd);
	unlink(p1), unlink(p2);
	snprintf(p1, sizeof p1, "%s/mut.h5", dir);
	unlink(p1);
	rmdir(dir);
	return t_done();
}
