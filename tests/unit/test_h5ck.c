/* Unit tests for h5ck.c: write the golden LLaMA tensors and read them back (plain and LZ4),
 * read the h5py-made fixtures (format 0.5 and legacy 0.4), determinism, every dtype, aliases,
 * refusals (incomplete, not HDF5, shape mismatch), abort/commit cleanup, and an h5py check. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <hdf5.h>
#include <jansson.h>
#include "h5ck.h"
#include "t.h"

#define GOLD "tests/golden/h5ck/"

static char dir[64];

/* ---- a tiny safetensors reader (test code; the st module is separate) ---- */

typedef struct stf {
	unsigned char *blob;
	size_t len, n;
	ck_tinfo *t;
	const unsigned char **data;
} stf;

static void st_free(stf *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->t[i].name);
	free(s->t);
	free(s->data);
	free(s->blob);
	memset(s, 0, sizeof *s);
}

static int st_load(const char *path, stf *s)
{
	uint64_t hl = 0;
	const char *key;
	json_t *h, *v;
	memset(s, 0, sizeof *s);
	if (!(s->blob = (unsigned char *)t_slurp(path, &s->len)) || s->len < 8)
		return -1;
	for (int i = 7; i >= 0; i--)
		hl = hl << 8 | s->blob[i];
	if (hl > s->len - 8 || !(h = json_loadb((const char *)s->blob + 8, hl, 0, NULL)))
		return -1;
	s->t = calloc(json_object_size(h), sizeof *s->t);
	s->data = calloc(json_object_size(h), sizeof *s->data);
	json_object_foreach(h, key, v) {
		ck_tinfo *t = &s->t[s->n];
		json_t *sh = json_object_get(v, "shape"), *off = json_object_get(v, "data_offsets");
		if (!strcmp(key, "__metadata__"))
			continue;
		t->name = strdup(key);
		ck_dtype_from_st(json_string_value(json_object_get(v, "dtype")), &t->dtype);
		t->shape.rank = (int)json_array_size(sh);
		for (int i = 0; i < t->shape.rank; i++)
			t->shape.dim[i] = json_integer_value(json_array_get(sh, (size_t)i));
		ck_tensor_nbytes(t->dtype, &t->shape, &t->nbytes, NULL);
		s->data[s->n++] = s->blob + 8 + hl + json_integer_value(json_array_get(off, 0));
	}
	json_decref(h);
	return 0;
}

/* ---- helpers ---- */

static char *tpath(const char *name)
{
	static char buf[8][256];
	static int k;
	k = (k + 1) % 8;
	snprintf(buf[k], sizeof buf[k], "%s/%s", dir, name);
	return buf[k];
}

static int count_files(void)
{
	int n = 0;
	DIR *d = opendir(dir);
	struct dirent *de;
	while (d && (de = readdir(d)))
		n += de->d_name[0] != '.';
	if (d)
		closedir(d);
	return n;
}

static void clean_dir(void)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	while (d && (de = readdir(d)))
		if (de->d_name[0] != '.')
			unlink(tpath(de->d_name));
	if (d)
		closedir(d);
}

/* Write tensors t[0..n) with data d[i] under top; reverse order to show order does not matter. */
static int write_all(const char *path, const char *top, const ck_tinfo *t, const void *const *d, size_t n,
	const h5ck_opts *o, ck_err *e)
{
	ck_tsink *k = NULL;
	int rc = h5ck_sink_open(path, top, t, n, o, &k, e);
	for (size_t i = n; i-- > 0 && !rc;)
		rc = ck_tsink_write(k, i, d[i], e);
	if (rc) {
		ck_tsink_abort(k);
		return rc;
	}
	return ck_tsink_commit(k, e);
}

/* Every tensor of st (named prefix+name minus strip) is in src with equal dtype, shape, bytes. */
static int same_tensors(ck_tsrc *src, const stf *st, const char *what)
{
	int bad = 0;
	ck_err e = {0};
	if (src->n != st->n) {
		printf("#   %s: %zu tensors, want %zu\n", what, src->n, st->n);
		return 0;
	}
	for (size_t i = 0; i < st->n; i++) {
		long j = ck_tsrc_find(src, st->t[i].name);
		if (j < 0) {
			printf("#   %s: '%s' missing\n", what, st->t[i].name);
			bad++;
			continue;
		}
		const ck_tinfo *t = &src->t[j];
		unsigned char *buf = malloc(t->nbytes ? t->nbytes : 1);
		if (t->dtype != st->t[i].dtype || !ck_shape_eq(&t->shape, &st->t[i].shape) || t->nbytes != st->t[i].nbytes ||
			ck_tsrc_read(src, (size_t)j, buf, &e) || memcmp(buf, st->data[i], t->nbytes)) {
			printf("#   %s: '%s' differs %s\n", what, t->name, e.msg);
			bad++;
		}
		free(buf);
	}
	return bad == 0;
}

static int have_h5py(void)
{
	return system("/usr/bin/python3 -c 'import h5py' >/dev/null 2>&1") == 0;
}

static void h5py_check(const char *path, const char *name)
{
	char cmd[1024];
	if (!have_h5py()) {
		t_pass++;
		printf("ok %d - # SKIP no h5py\n", t_pass + t_fail);
		return;
	}
	snprintf(cmd, sizeof cmd, "/usr/bin/python3 tools/check_cstorch_h5.py '%s'", path);
	T_OK(system(cmd) == 0, "h5py: %s is laid out as cstorch writes it", name);
}

/* Replace (or delete, text NULL) a scalar vlen string root attribute, as a test-side edit. */
static int set_root_str(const char *path, const char *name, const char *text)
{
	hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT), t = -1, sp = -1, a = -1;
	int ok = f >= 0;
	if (ok && H5Aexists(f, name) > 0)
		ok = H5Adelete(f, name) >= 0;
	if (ok && text) {
		t = H5Tcopy(H5T_C_S1);
		H5Tset_size(t, H5T_VARIABLE);
		H5Tset_cset(t, H5T_CSET_UTF8);
		sp = H5Screate(H5S_SCALAR);
		ok = (a = H5Acreate2(f, name, t, sp, H5P_DEFAULT, H5P_DEFAULT)) >= 0 && H5Awrite(a, t, &text) >= 0;
	}
	if (a >= 0)
		H5Aclose(a);
	if (sp >= 0)
		H5Sclose(sp);
	if (t >= 0)
		H5Tclose(t);
	if (f >= 0)
		H5Fclose(f);
	return ok ? 0 : -1;
}

static int set_root_f64(const char *path, const char *name, double v)
{
	hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT), sp = H5Screate(H5S_SCALAR), a = -1;
	int ok = f >= 0 && (H5Aexists(f, name) <= 0 || H5Adelete(f, name) >= 0) &&
		(a = H5Acreate2(f, name, H5T_IEEE_F64LE, sp, H5P_DEFAULT, H5P_DEFAULT)) >= 0 &&
		H5Awrite(a, H5T_NATIVE_DOUBLE, &v) >= 0;
	if (a >= 0)
		H5Aclose(a);
	H5Sclose(sp);
	if (f >= 0)
		H5Fclose(f);
	return ok ? 0 : -1;
}

static ck_tinfo mk(const char *name, ck_dtype d, int rank, int64_t d0, int64_t d1)
{
	ck_tinfo t = {0};
	t.name = (char *)name;
	t.dtype = d;
	t.shape.rank = rank;
	t.shape.dim[0] = d0;
	t.shape.dim[1] = d1;
	ck_tensor_nbytes(d, &t.shape, &t.nbytes, NULL);
	return t;
}

/* ---- tests ---- */

static void test_llama_roundtrip(const stf *st, int lz4)
{
	ck_err e = {0};
	ck_tsrc *src = NULL;
	ck_tinfo *decl = calloc(st->n, sizeof *decl);
	const void **d = calloc(st->n, sizeof *d);
	h5ck_opts o = {.compress_lz4 = lz4};
	const char *out = tpath(lz4 ? "llama_lz4.mdl" : "llama.mdl");
	for (size_t i = 0; i < st->n; i++) {
		decl[i] = st->t[i];
		decl[i].name = st->t[i].name + strlen("model."); /* the sink adds top "model" */
		d[i] = st->data[i];
	}
	T_EQ_INT(write_all(out, "model", decl, d, st->n, &o, &e), 0, lz4 ? "llama: write with LZ4" : "llama: write");
	if (e.code)
		printf("#   %s\n", e.msg);
	T_EQ_INT(count_files(), 1, "llama: no temporary left behind");
	T_EQ_INT(h5ck_open(out, &src, &e), 0, "llama: read back");
	if (src)
		T_OK(same_tensors(src, st, "llama"), "llama%s: same keys (model.*), dtypes, shapes, bytes", lz4 ? " LZ4" : "");
	T_OK(src && h5ck_provenance(src) == NULL, "llama: no provenance when none given");
	ck_tsrc_free(src);
	h5py_check(out, lz4 ? "llama LZ4" : "llama");
	free(decl);
	free(d);
}

static void test_golden(const stf *st)
{
	static const char *files[] = {GOLD "llama_cstorch_lz4.mdl", GOLD "llama_legacy_04.mdl"};
	for (int k = 0; k < 2; k++) {
		ck_err e = {0};
		ck_tsrc *src = NULL;
		int rc = h5ck_open(files[k], &src, &e);
		T_EQ_INT(rc, 0, k ? "golden: open legacy 0.4 fixture" : "golden: open cstorch LZ4 fixture");
		if (rc)
			printf("#   %s\n", e.msg);
		if (src)
			T_OK(same_tensors(src, st, files[k]), "golden: %s matches the safetensors", files[k]);
		ck_tsrc_free(src);
	}
}

static void test_determinism(const stf *st)
{
	ck_err e = {0};
	ck_tinfo *decl = calloc(st->n, sizeof *decl);
	const void **d = calloc(st->n, sizeof *d);
	h5ck_opts plain = {.provenance_json = "{\"tool\": \"ckconv\"}"}, lz = {.compress_lz4 = 1, .cstorch_version = "2.9.0"};
	for (size_t i = 0; i < st->n; i++)
		decl[i] = st->t[i], d[i] = st->data[i];
	int rc = write_all(tpath("a.mdl"), NULL, decl, d, st->n, &plain, &e) ||
		write_all(tpath("b.mdl"), NULL, decl, d, st->n, &plain, &e);
	T_OK(!rc && t_same_file(tpath("a.mdl"), tpath("b.mdl")), "determinism: two writes are byte-identical");
	rc = write_all(tpath("c.mdl"), NULL, decl, d, st->n, &lz, &e) || write_all(tpath("d.mdl"), NULL, decl, d, st->n, &lz, &e);
	T_OK(!rc && t_same_file(tpath("c.mdl"), tpath("d.mdl")), "determinism: two LZ4 writes are byte-identical");
	ck_tsrc *src = NULL;
	T_EQ_INT(h5ck_open(tpath("a.mdl"), &src, &e), 0, "flat dict (no top): read back");
	T_EQ_STR(src ? h5ck_provenance(src) : NULL, "{\"tool\": \"ckconv\"}", "provenance: __ckconv__ read back");
	if (src)
		T_OK(same_tensors(src, st, "flat"), "flat dict: keys are the declared names");
	ck_tsrc_free(src);
	clean_dir();
	free(decl);
	free(d);
}

static void test_dtypes(int lz4)
{
	uint16_t bf[3] = {0x3F80, 0x4000, 0xBF80}, hf[4] = {0x3C00, 0xC000, 0x7C00, 0x0001};
	unsigned char bo[5] = {1, 0, 1, 1, 0}, u8[4] = {0, 1, 200, 255};
	int8_t i8[3] = {-128, 0, 127};
	int64_t i64[6] = {INT64_MIN, -1, 0, 1, INT64_MAX, 42};
	float sc = 3.5f, e0[1] = {0};
	double f64[2] = {1e300, -0.0};
	ck_tinfo t[] = {mk("bf", CK_DT_BF16, 1, 3, 0), mk("hf", CK_DT_F16, 2, 2, 2), mk("flags", CK_DT_BOOL, 1, 5, 0),
		mk("u8", CK_DT_U8, 1, 4, 0), mk("i8", CK_DT_I8, 1, 3, 0), mk("step", CK_DT_I64, 2, 2, 3),
		mk("scalar", CK_DT_F32, 0, 0, 0), mk("empty", CK_DT_F32, 2, 0, 4), mk("f64", CK_DT_F64, 1, 2, 0),
		mk("sub/dir.w", CK_DT_U8, 1, 4, 0), mk("\xc3\xbcnicode\"q", CK_DT_F32, 0, 0, 0)};
	const void *d[] = {bf, hf, bo, u8, i8, i64, &sc, e0, f64, u8, &sc};
	size_t n = sizeof t / sizeof *t;
	ck_err e = {0};
	ck_tsrc *src = NULL;
	h5ck_opts o = {.compress_lz4 = lz4};
	const char *out = tpath("dtypes.mdl");
	int rc = write_all(out, "model", t, d, n, &o, &e);
	T_EQ_INT(rc, 0, lz4 ? "dtypes: write all kinds with LZ4" : "dtypes: write all kinds");
	if (rc)
		printf("#   %s\n", e.msg);
	rc = h5ck_open(out, &src, &e);
	T_EQ_INT(rc, 0, "dtypes: read back");
	if (rc)
		printf("#   %s\n", e.msg);
	T_EQ_INT(src ? src->n : 0, n, "dtypes: every tensor listed");
	for (size_t i = 0; src && i < n; i++) {
		char full[64];
		unsigned char buf[64] = {0};
		snprintf(full, sizeof full, "model.%s", t[i].name);
		long j = ck_tsrc_find(src, full);
		T_OK(j >= 0 && src->t[j].dtype == t[i].dtype && ck_shape_eq(&src->t[j].shape, &t[i].shape) &&
			!ck_tsrc_read(src, (size_t)j, buf, &e) && !memcmp(buf, d[i], t[i].nbytes),
			"dtypes: %s %s round trip", ck_dtype_short_name(t[i].dtype), full);
	}
	ck_tsrc_free(src);
	h5py_check(out, lz4 ? "dtypes LZ4" : "dtypes");
	clean_dir();
}

static void test_refusals(void)
{
	float w[6] = {1, 2, 3, 4, 5, 6};
	ck_tinfo t[] = {mk("a.weight", CK_DT_F32, 2, 2, 3), mk("b", CK_DT_F32, 1, 6, 0)};
	const void *d[] = {w, w};
	ck_err e = {0};
	ck_tsrc *src = NULL;
	ck_tsink *k = NULL;
	const char *p = tpath("x.mdl");

	/* abort and an incomplete commit leave nothing */
	T_EQ_INT(h5ck_sink_open(p, "model", t, 2, NULL, &k, &e), 0, "sink: open");
	T_EQ_INT(ck_tsink_write(k, 0, w, &e), 0, "sink: write one");
	T_OK(ck_tsink_write(k, 0, w, &e) < 0, "sink: writing a tensor twice fails");
	T_HAS(e.msg, "written twice", "sink: ... and says so");
	ck_tsink_abort(k);
	T_EQ_INT(count_files(), 0, "abort leaves no file");
	ck_err_clear(&e);
	T_EQ_INT(h5ck_sink_open(p, "model", t, 2, NULL, &k, &e), 0, "sink: open again");
	ck_tsink_write(k, 1, w, &e);
	T_EQ_INT(ck_tsink_commit(k, &e), CK_EINVALID, "commit with a missing tensor fails");
	T_HAS(e.msg, "tensor 'model.a.weight' was never written", "commit: names the missing tensor");
	T_EQ_INT(count_files(), 0, "failed commit leaves no file");
	ck_err_clear(&e);
	ck_tinfo badn = t[0];
	badn.nbytes = 20;
	T_EQ_INT(h5ck_sink_open(p, "model", &badn, 1, NULL, &k, &e), CK_EINVALID, "sink: nbytes disagreeing with the shape");
	T_HAS(e.msg, "nbytes 20, expected 24 for F32 [2, 3]", "sink: ... message");
	ck_err_clear(&e);
	ck_tinfo dup[] = {t[1], t[1]};
	T_EQ_INT(h5ck_sink_open(p, "model", dup, 2, NULL, &k, &e), CK_EINVALID, "sink: duplicate key refused");
	T_HAS(e.msg, "duplicate key 'model.b'", "sink: ... message");
	T_EQ_INT(count_files(), 0, "refused open leaves no file");
	ck_err_clear(&e);

	/* __SUCCESS__ missing or false */
	T_EQ_INT(write_all(p, "model", t, d, 2, NULL, &e), 0, "write a small file");
	set_root_str(p, "__SUCCESS__", NULL);
	T_EQ_INT(h5ck_open(p, &src, &e), CK_EINVALID, "no __SUCCESS__: refused");
	T_HAS(e.msg, "x.mdl: checkpoint is incomplete (__SUCCESS__ missing or false)", "no __SUCCESS__: message");
	T_OK(!strchr(e.msg, '\n'), "error is one line");
	ck_err_clear(&e);
	set_root_f64(p, "__SUCCESS__", 0.0);
	T_EQ_INT(h5ck_open(p, &src, &e), CK_EINVALID, "__SUCCESS__ false: refused");
	ck_err_clear(&e);
	set_root_str(p, "__SUCCESS__", NULL);
	set_root_str(p, "__version__", NULL);
	T_EQ_INT(h5ck_open(p, &src, &e), CK_EINVALID, "no __version__: refused");
	T_HAS(e.msg, "no __version__", "no __version__: message");
	ck_err_clear(&e);
	unlink(p);

	/* JSON shape disagreeing with the dataset */
	write_all(p, "model", t, d, 2, NULL, &e);
	set_root_str(p, "model.b.__metadata__", "{\"__objects__\": [\"model.b\"], \"model.b.__metadata__\": "
		"{\"__TORCH__\": true, \"shapes\": [[3, 2]], \"dtypes\": [\"torch.float32\"], \"__TYPE__\": \"TorchTensorSerializer\"}}");
	T_EQ_INT(h5ck_open(p, &src, &e), CK_EINVALID, "shape mismatch: refused");
	T_HAS(e.msg, "tensor 'model.b': dataset shape [6], metadata says [3, 2]", "shape mismatch: message");
	ck_err_clear(&e);
	set_root_str(p, "model.b.__metadata__", "{\"__objects__\": [\"model.b\"], \"model.b.__metadata__\": "
		"{\"__TORCH__\": true, \"shapes\": [[6]], \"dtypes\": [\"torch.float16\"], \"__TYPE__\": \"TorchTensorSerializer\"}}");
	T_EQ_INT(h5ck_open(p, &src, &e), CK_EINVALID, "dtype size mismatch: refused");
	T_HAS(e.msg, "dataset stores 4-byte float elements, expected torch.float16", "dtype mismatch: message");
	ck_err_clear(&e);
	set_root_str(p, "model.b.__metadata__", NULL);
	T_EQ_INT(h5ck_open(p, &src, &e), CK_EINVALID, "missing per-key metadata: refused");
	T_HAS(e.msg, "root attribute 'model.b.__metadata__' missing", "missing metadata: message");
	ck_err_clear(&e);
	unlink(p);

	/* not HDF5, missing file */
	FILE *fp = fopen(p, "w");
	fputs("not hdf5 at all", fp);
	fclose(fp);
	T_EQ_INT(h5ck_is_hdf5(p), 0, "is_hdf5: text file is not");
	T_EQ_INT(h5ck_open(p, &src, &e), CK_EINVALID, "not HDF5: refused");
	T_HAS(e.msg, "x.mdl: not an HDF5 file", "not HDF5: clear message");
	ck_err_clear(&e);
	unlink(p);
	T_EQ_INT(h5ck_open(p, &src, &e), CK_ENOTFOUND, "missing file: CK_ENOTFOUND");
	T_EQ_INT(h5ck_is_hdf5(GOLD "llama_cstorch_lz4.mdl"), 1, "is_hdf5: fixture is");
	ck_err_clear(&e);
}

/* An empty state dict {"model": {}} is a valid checkpoint with no tensors. */
static void test_empty(void)
{
	ck_err e = {0};
	ck_tsrc *src = NULL;
	const char *p = tpath("empty.mdl");
	T_EQ_INT(write_all(p, "model", NULL, NULL, 0, NULL, &e), 0, "empty: write no tensors");
	T_EQ_INT(h5ck_open(p, &src, &e), 0, "empty: read back");
	T_EQ_INT(src ? src->n : 99, 0, "empty: no tensors");
	ck_tsrc_free(src);
	h5py_check(p, "empty");
	clean_dir();
}

/* A 0.5 file with an alias (LinkedObject), a scalar (NaN), a string and None leaf, hand-edited. */
static void test_aliases(void)
{
	float w[2] = {7, 8};
	ck_tinfo t[] = {mk("a", CK_DT_F32, 1, 2, 0)};
	const void *d[] = {w};
	ck_err e = {0};
	ck_tsrc *src = NULL;
	const char *p = tpath("alias.mdl");
	const char *leaf = "{\\\"type\\\": null, \\\"context\\\": null, \\\"children_spec\\\": []}";
	char spec[2048];
	snprintf(spec, sizeof spec, "[null, \"[1, {\\\"type\\\": \\\"builtins.dict\\\", \\\"context\\\": "
		"\\\"[\\\\\\\"model\\\\\\\", \\\\\\\"global_step\\\\\\\", \\\\\\\"opt\\\\\\\"]\\\", \\\"children_spec\\\": ["
		"{\\\"type\\\": \\\"collections.OrderedDict\\\", \\\"context\\\": \\\"[\\\\\\\"a\\\\\\\", \\\\\\\"tied\\\\\\\"]\\\", "
		"\\\"children_spec\\\": [%s, %s]}, %s, {\\\"type\\\": \\\"builtins.list\\\", \\\"context\\\": \\\"null\\\", "
		"\\\"children_spec\\\": [%s, %s]}]}]\"]", leaf, leaf, leaf, leaf, leaf);
	write_all(p, "model", t, d, 1, NULL, &e);
	int ok = !set_root_str(p, "__spec__", spec) &&
		!set_root_str(p, "model.tied.__metadata__", "{\"__objects__\": [\"model.tied\"], \"model.tied.__metadata__\": "
			"{\"key\": \"model.a\", \"__LINKED__\": true, \"__TYPE__\": \"LinkedObject\", \"__NONE__\": true}}") &&
		!set_root_str(p, "global_step.__metadata__", "{\"__objects__\": [\"global_step\"], \"global_step.__metadata__\": "
			"{\"scalar_value\": NaN, \"__TYPE__\": \"ScalarSerializer\", \"__NONE__\": true}}") &&
		!set_root_str(p, "opt.0.__metadata__", "{\"__objects__\": [\"opt.0\"], \"opt.0.__metadata__\": "
			"{\"string_value\": \"Infinity NaN\", \"__TYPE__\": \"StringSerializer\", \"__NONE__\": true}}") &&
		!set_root_str(p, "opt.1.__metadata__", "{\"__objects__\": [\"opt.1\"], \"opt.1.__metadata__\": "
			"{\"key\": \"opt.0\", \"__LINKED__\": true, \"__TYPE__\": \"LinkedObject\", \"__NONE__\": true}}");
	T_OK(ok, "aliases: hand-edit the file");
	int rc = h5ck_open(p, &src, &e);
	T_EQ_INT(rc, 0, "aliases: open");
	if (rc)
		printf("#   %s\n", e.msg);
	T_EQ_INT(src ? src->n : 0, 2, "aliases: two tensors (scalar, string, alias of string skipped)");
	if (src && src->n == 2) {
		float b[2] = {0};
		T_EQ_STR(src->t[0].name, "model.a", "aliases: first is model.a");
		T_EQ_STR(src->t[1].name, "model.tied", "aliases: then model.tied in pytree order");
		T_OK(!ck_tsrc_read(src, 1, b, &e) && b[0] == 7 && b[1] == 8, "aliases: model.tied reads model.a's data");
	}
	ck_tsrc_free(src);
	clean_dir();
}

/* Legacy <= 0.4 written with the HDF5 API: quoted names, __H5_TYPE__, is_bfloat16. */
static void test_legacy_quoting(void)
{
	const char *p = tpath("legacy.mdl");
	hid_t f = H5Fcreate(p, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT), sp1 = H5Screate(H5S_SCALAR);
	hid_t st = H5Tcopy(H5T_C_S1), be = H5Tenum_create(H5T_STD_I8LE);
	hsize_t two = 2;
	hid_t sp2 = H5Screate_simple(1, &two, NULL);
	int16_t bits[2] = {0x3F80, (int16_t)0xBF80};
	int32_t i32 = 5;
	signed char tr = 1, fa = 0;
	double ver = 0.4;
	const char *ty = "TorchTensorH5Type", *sty = "ScalarH5Type";
	ck_err e = {0};
	ck_tsrc *src = NULL;
	H5Tset_size(st, H5T_VARIABLE);
	H5Tenum_insert(be, "FALSE", &fa);
	H5Tenum_insert(be, "TRUE", &tr);
	hid_t a = H5Acreate2(f, "__version__", H5T_IEEE_F64LE, sp1, H5P_DEFAULT, H5P_DEFAULT);
	H5Awrite(a, H5T_NATIVE_DOUBLE, &ver);
	H5Aclose(a);
	hid_t ds = H5Dcreate2(f, "model.a%2Fb%zz", H5T_STD_I16LE, sp2, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
	H5Dwrite(ds, H5T_NATIVE_INT16, H5S_ALL, H5S_ALL, H5P_DEFAULT, bits);
	a = H5Acreate2(ds, "__H5_TYPE__", st, sp1, H5P_DEFAULT, H5P_DEFAULT);
	H5Awrite(a, st, &ty);
	H5Aclose(a);
	a = H5Acreate2(ds, "is_bfloat16", be, sp1, H5P_DEFAULT, H5P_DEFAULT);
	H5Awrite(a, be, &tr);
	H5Aclose(a);
	H5Dclose(ds);
	ds = H5Dcreate2(f, "global_step", H5T_STD_I32LE, sp1, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
	H5Dwrite(ds, H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, &i32);
	a = H5Acreate2(ds, "__H5_TYPE__", st, sp1, H5P_DEFAULT, H5P_DEFAULT);
	H5Awrite(a, st, &sty);
	H5Aclose(a);
	H5Dclose(ds);
	H5Tclose(st), H5Tclose(be), H5Sclose(sp1), H5Sclose(sp2), H5Fclose(f);

	int rc = h5ck_open(p, &src, &e);
	T_EQ_INT(rc, 0, "legacy: open");
	if (rc)
		printf("#   %s\n", e.msg);
	T_EQ_INT(src ? src->n : 0, 1, "legacy: one tensor (ScalarH5Type skipped)");
	if (src && src->n == 1) {
		int16_t b[2] = {0};
		T_EQ_STR(src->t[0].name, "model.a/b%zz", "legacy: name percent-unquoted, bad escape kept");
		T_EQ_INT(src->t[0].dtype, CK_DT_BF16, "legacy: is_bfloat16 gives bf16");
		T_OK(!ck_tsrc_read(src, 0, b, &e) && b[0] == 0x3F80 && b[1] == (int16_t)0xBF80, "legacy: bf16 bits read raw");
	}
	ck_tsrc_free(src);
	clean_dir();
}

/* libhdf5 1.10.8's own bugs: one byte of a global heap collection changed in a ckconv-written
 * file (tests/bad/340, 341) makes H5Aread of the root's __spec__ read past its heap (a collection
 * size of 0x01xx: memcpy in H5HG_read, a crash with glibc's malloc; with a sanitizer's or
 * valgrind's allocator the bytes read are garbage instead, refused as bad JSON) or never return
 * (an object size with 0x7f in its high byte). h5ck_open reads the metadata in a sandboxed child
 * first: both are refused with one error naming the file, and this process goes on. */
static void test_libhdf5_bugs(void)
{
	static const struct { const char *file, *name; } c[] = {
		{"tests/bad/340-libhdf5-heap-crash/x.mdl", "libhdf5 crash (H5HG_read past its heap)"},
		{"tests/bad/341-libhdf5-heap-hang/x.mdl", "libhdf5 hang (a heap object size that lies)"}};
	h5ck_sandbox_limits(1, 40);
	for (size_t i = 0; i < sizeof c / sizeof *c; i++) {
		ck_tsrc *s = NULL;
		ck_err e = {0};
		int rc = h5ck_open(c[i].file, &s, &e);
		T_OK(rc == CK_ECORRUPT || (i == 0 && rc == CK_EINVALID), "%s: refused", c[i].name);
		T_HAS(e.msg, c[i].file, "  the error names the file");
		if (rc == CK_ECORRUPT)
			T_HAS(e.msg, "in a sandbox, libhdf5", "  and says libhdf5 failed in the sandbox");
		T_OK(s == NULL, "  no source");
		if (s)
			s->ops->free(s);
	}
	h5ck_sandbox_limits(0, 0);
}


/* --compress lz4 writes each chunk itself (encoded on the thread pool, H5Dwrite_chunk): many
 * chunks, edge chunks padded, rows split when one is over 1 MiB, rank 3; compressible and
 * incompressible bytes. ckconv reads them back, and so does h5py through hdf5plugin's LZ4. */
static void test_lz4_chunks(void)
{
	ck_tinfo t[3] = {mk("rows", CK_DT_F32, 2, 3000, 200), mk("wide", CK_DT_F32, 2, 2, 300000), mk("cube", CK_DT_F32, 2, 3, 5)};
	t[2].shape.rank = 3;
	t[2].shape.dim[2] = 100000;
	ck_tensor_nbytes(t[2].dtype, &t[2].shape, &t[2].nbytes, NULL);
	void *d[3];
	uint64_t x = 88172645463325252ull;
	for (int i = 0; i < 3; i++) {
		uint32_t *p = d[i] = malloc(t[i].nbytes);
		for (uint64_t k = 0; k < t[i].nbytes / 4; k++) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			p[k] = k % 4096 < 2048 ? (uint32_t)(k % 97) : (uint32_t)x; /* runs LZ4 shrinks, runs it stores raw */
		}
	}
	ck_err e = {0};
	ck_tsrc *src = NULL;
	h5ck_opts o = {.compress_lz4 = 1};
	const char *out = tpath("chunks.mdl");
	int rc = write_all(out, "model", t, (const void *const *)d, 3, &o, &e);
	T_EQ_INT(rc, 0, "lz4 chunks: write");
	if (rc)
		printf("#   %s\n", e.msg);
	T_EQ_INT(h5ck_open(out, &src, &e), 0, "lz4 chunks: read back");
	for (int i = 0; src && i < 3; i++) {
		char full[64];
		snprintf(full, sizeof full, "model.%s", t[i].name);
		long j = ck_tsrc_find(src, full);
		unsigned char *buf = malloc(t[i].nbytes);
		T_OK(j >= 0 && !ck_tsrc_read(src, (size_t)j, buf, &e) && !memcmp(buf, d[i], t[i].nbytes),
			"lz4 chunks: %s %s equals what was written (%s)", full, i == 0 ? "[3000, 200]" : i == 1 ? "[2, 300000]" :
			"[3, 5, 100000]", e.msg);
		free(buf);
		FILE *f = fopen(tpath(t[i].name), "wb");
		fwrite(d[i], 1, t[i].nbytes, f);
		fclose(f);
	}
	ck_tsrc_free(src);
	char cmd[2048];
	snprintf(cmd, sizeof cmd, "/usr/bin/python3 -c '\n"
		"import sys, numpy as np, h5py, hdf5plugin\n"
		"f = h5py.File(sys.argv[1], \"r\")\n"
		"for k in (\"rows\", \"wide\", \"cube\"):\n"
		"    ds = f[\"model.\" + k]\n"
		"    assert \"32004\" in ds._filters, (k, ds._filters)\n"
		"    assert ds.chunks and ds.id.get_num_chunks() > 1, (k, ds.chunks)\n"
		"    assert ds[()].tobytes() == open(sys.argv[2] + \"/\" + k, \"rb\").read(), k\n"
		"' '%s' '%s'", out, dir);
	T_OK(system(cmd) == 0, "lz4 chunks: h5py + hdf5plugin read the same bytes, chunked and filtered (32004)");
	for (int i = 0; i < 3; i++)
		free(d[i]);
	clean_dir();
}

int main(void)
{
	stf st;
	snprintf(dir, sizeof dir, "/tmp/t_h5ck.XXXXXX");
	if (!mkdtemp(dir) || st_load(GOLD "llama_cs.safetensors", &st)) {
		printf("not ok 1 - setup (mkdtemp or %s)\n", GOLD "llama_cs.safetensors");
		return 1;
	}
	T_EQ_INT(st.n, 22, "golden safetensors: 22 tensors");
	test_llama_roundtrip(&st, 0);
	clean_dir();
	test_llama_roundtrip(&st, 1);
	clean_dir();
	test_golden(&st);
	test_determinism(&st);
	test_dtypes(0);
	test_dtypes(1);
	test_lz4_chunks();
	test_refusals();
	test_empty();
	test_aliases();
	test_legacy_quoting();
	test_libhdf5_bugs();
	clean_dir();
	rmdir(dir);
	st_free(&st);
	H5close();
	return t_done();
}
