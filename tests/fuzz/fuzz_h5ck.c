/* fuzz_h5ck.c - the JSON metadata of a packed (cstorch 0.5) checkpoint through h5ck_open, then
 * every tensor read. HDF5 itself is not the target: a small valid template is written once with
 * ckconv's own sink, and each input only replaces root string attributes of a copy of it.
 * Input: NUL-separated segments. Segment 0 is the new "__spec__" (empty: keep the template's).
 * Each later segment is "<key>\n<json>" and sets "<key>.__metadata__" to <json>. */
#include <hdf5.h>
#include "fuzz.h"
#include "h5ck.h"

static unsigned char *tmpl;
static size_t tmpl_len;

static void make_template(const char *path)
{
	static const ck_tinfo t[] = {
		{"a.weight", CK_DT_F32, {2, {2, 3}}, 24},
		{"b", CK_DT_BF16, {1, {4}}, 8},
		{"c", CK_DT_I64, {0, {0}}, 8},
		{"d", CK_DT_U8, {1, {0}}, 0},
	};
	unsigned char buf[24] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24};
	ck_tsink *k = NULL;
	ck_err e = {0};
	FILE *f;
	int rc = h5ck_sink_open(path, "model", t, 4, NULL, &k, &e);
	for (size_t i = 0; i < 4 && !rc; i++)
		rc = ck_tsink_write(k, i, buf, &e);
	if (rc || ck_tsink_commit(k, &e)) {
		fprintf(stderr, "fuzz_h5ck: cannot write the template: %s\n", e.msg);
		abort();
	}
	if (!(f = fopen(path, "rb")) || fseek(f, 0, SEEK_END) || (tmpl_len = (size_t)ftell(f)) == 0 ||
	    fseek(f, 0, SEEK_SET) || !(tmpl = malloc(tmpl_len)) || fread(tmpl, 1, tmpl_len, f) != tmpl_len)
		abort();
	fclose(f);
}

static void set_str(hid_t fid, const char *name, const char *text)
{
	hid_t t = H5Tcopy(H5T_C_S1), sp = H5Screate(H5S_SCALAR), a = -1;
	if (H5Aexists(fid, name) > 0)
		H5Adelete(fid, name);
	H5Tset_size(t, H5T_VARIABLE);
	H5Tset_cset(t, H5T_CSET_UTF8);
	if ((a = H5Acreate2(fid, name, t, sp, H5P_DEFAULT, H5P_DEFAULT)) >= 0)
		H5Awrite(a, t, &text);
	if (a >= 0)
		H5Aclose(a);
	H5Sclose(sp);
	H5Tclose(t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char path[4096];
	ck_tsrc *s = NULL;
	ck_err e = {0};
	hid_t fid;
	if (size > 60000) /* one root attribute must fit in the object header (64 KiB) */
		return 0;
	if (!path[0]) {
		H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
		make_template(fuzz_path("packed.mdl", path));
	}
	fuzz_write(path, tmpl, tmpl_len);
	char *in = fuzz_cstr(data, size), *end = in + size;
	if ((fid = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT)) < 0)
		abort();
	for (char *seg = in, *next; seg <= end; seg = next + 1) {
		next = seg + strlen(seg); /* segments end at a NUL (the last at the copy's terminator) */
		if (seg == in) {
			if (*seg)
				set_str(fid, "__spec__", seg);
		} else {
			char *nl = strchr(seg, '\n'), name[4096];
			if (!nl || nl == seg || (size_t)(nl - seg) > 1000)
				continue;
			snprintf(name, sizeof name, "%.*s.__metadata__", (int)(nl - seg), seg);
			set_str(fid, name, nl + 1);
		}
	}
	H5Fclose(fid);
	H5Eclear2(H5E_DEFAULT);
	free(in);
	h5ck_sandbox_limits(2, 6); /* well inside libFuzzer's -timeout */
	if (h5ck_open(path, &s, &e) == 0) {
		for (size_t i = 0; i < s->n; i++) {
			uint64_t nb = 0;
			ck_err te = {0};
			if (ck_tensor_nbytes(s->t[i].dtype, &s->t[i].shape, &nb, &te) || nb != s->t[i].nbytes ||
			    nb > 64) {
				fprintf(stderr, "fuzz_h5ck: tensor '%s': nbytes %llu inconsistent with the template\n",
					s->t[i].name, (unsigned long long)s->t[i].nbytes);
				abort();
			}
			void *buf = malloc(nb ? nb : 1);
			if (!buf)
				abort();
			ck_tsrc_read(s, i, buf, &e); /* may fail (a bad checksum); must not crash */
			ck_err_clear(&e);
			free(buf);
		}
		(void)h5ck_checksummed(s);
		ck_tsrc_free(s);
	}
	return 0;
}
