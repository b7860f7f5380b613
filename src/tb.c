/* tb.c - PyTorch zip checkpoints as a tensor source; see tb.h. minizip reads the zip
 * directory and local headers; tensor bytes are then read with pread at their offsets. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <unzip.h>
#include "bounds.h"
#include "io.h"
#include "path.h"
#include "pickle.h"
#include "shard.h"
#include "strmap.h"
#include "tb.h"

typedef unsigned long long ull;

/* One zip entry as the central directory describes it. */
typedef struct tb_member {
	char *name;
	unz64_file_pos pos;
	uint64_t size, csize;
	unsigned long method, flag;
} tb_member;

typedef struct tb_zip {
	const char *path;
	unzFile z;
	uint64_t fsize;
	size_t n;
	tb_member *m;
	strmap by_name;
} tb_zip;

typedef struct tb_src {
	ck_tsrc base;
	int fd;
	pickle_dict d;     /* the views, same order as base.t */
	uint64_t *off; /* per tensor: file offset of its storage's first byte */
} tb_src;

/* ---- the zip ---- */

static void zip_close(tb_zip *zp)
{
	for (size_t i = 0; i < zp->n; i++)
		free(zp->m[i].name);
	free(zp->m);
	strmap_dispose(&zp->by_name);
	if (zp->z)
		unzClose(zp->z);
}

static int zip_entry(tb_zip *zp, ck_err *e)
{
	unz_file_info64 fi;
	char name[TB_MAX_NAME + 1];
	tb_member *m = &zp->m[zp->n];
	if (unzGetCurrentFileInfo64(zp->z, &fi, name, sizeof name, NULL, 0, NULL, 0) != UNZ_OK ||
	    unzGetFilePos64(zp->z, &m->pos) != UNZ_OK)
		return ck_errf(e, CK_EINVALID, "%s: zip directory entry %zu is unreadable", zp->path, zp->n);
	if (fi.size_filename > TB_MAX_NAME)
		return ck_errf(e, CK_ELIMIT, "%s: zip entry %zu has a name of %lu bytes; limit is %d", zp->path,
			       zp->n, (unsigned long)fi.size_filename, TB_MAX_NAME);
	if (strlen(name) != fi.size_filename)
		return ck_errf(e, CK_EINVALID, "%s: zip entry %zu has a NUL byte in its name", zp->path, zp->n);
	if (!(m->name = ck_strdup(e, name)))
		return CK_ENOMEM;
	m->size = fi.uncompressed_size;
	m->csize = fi.compressed_size;
	m->method = fi.compression_method;
	m->flag = fi.flag;
	zp->n++;
	if (strmap_get(&zp->by_name, name, &(size_t){0}))
		return ck_errf(e, CK_EINVALID, "%s: zip entry '%s' appears twice", zp->path, name);
	return strmap_put(&zp->by_name, name, zp->n - 1) ? ck_errf(e, CK_ENOMEM, "out of memory") : 0;
}

static int zip_open(tb_zip *zp, const char *path, uint64_t fsize, ck_err *e)
{
	unz_global_info64 gi;
	int r, rc = 0;
	zp->path = path;
	zp->fsize = fsize;
	strmap_init(&zp->by_name);
	if (!(zp->z = unzOpen64(path)) && tb_is_zip(path))
		return ck_errf(e, CK_EINVALID, "%s: zip archive is truncated or corrupt (its central directory "
			       "cannot be read)", path);
	if (!zp->z)
		return ck_errf(e, CK_EINVALID, "%s: not a zip archive; only the zip format torch.save writes "
			       "since PyTorch 1.6 is read (re-save the file, or convert it to safetensors)", path);
	if (unzGetGlobalInfo64(zp->z, &gi) != UNZ_OK)
		return ck_errf(e, CK_EINVALID, "%s: zip directory is unreadable", path);
	if (gi.number_entry > TB_MAX_MEMBERS)
		return ck_errf(e, CK_ELIMIT, "%s: zip has %llu entries; limit is %d", path,
			       (ull)gi.number_entry, TB_MAX_MEMBERS);
	if (!(zp->m = ck_calloc(e, gi.number_entry ? gi.number_entry : 1, sizeof *zp->m)))
		return CK_ENOMEM;
	for (r = unzGoToFirstFile(zp->z); r == UNZ_OK && !rc; r = unzGoToNextFile(zp->z))
		if (zp->n >= gi.number_entry)
			rc = ck_errf(e, CK_EINVALID, "%s: zip directory holds more entries than the %llu it declares",
				     path, (ull)gi.number_entry);
		else
			rc = zip_entry(zp, e);
	if (!rc && r != UNZ_END_OF_LIST_OF_FILE)
		rc = ck_errf(e, CK_EINVALID, "%s: zip directory is corrupt after entry %zu", path, zp->n);
	return rc;
}

/* File offset of a member's bytes, checked: stored, unencrypted, inside the file. */
static int member_offset(tb_zip *zp, const tb_member *m, uint64_t *off, ck_err *e)
{
	if (m->method != 0)
		return ck_errf(e, CK_EINVALID, "%s: zip entry '%s' is compressed (method %lu); torch.save "
			       "stores entries uncompressed", zp->path, m->name, m->method);
	if (m->flag & 1)
		return ck_errf(e, CK_EINVALID, "%s: zip entry '%s' is encrypted", zp->path, m->name);
	if (m->csize != m->size)
		return ck_errf(e, CK_EINVALID, "%s: zip entry '%s' is stored but its sizes differ (%llu, %llu)",
			       zp->path, m->name, (ull)m->csize, (ull)m->size);
	if (unzGoToFilePos64(zp->z, &m->pos) != UNZ_OK || unzOpenCurrentFile(zp->z) != UNZ_OK)
		return ck_errf(e, CK_EINVALID, "%s: zip entry '%s': local header is unreadable", zp->path, m->name);
	*off = unzGetCurrentFileZStreamPos64(zp->z);
	unzCloseCurrentFile(zp->z);
	if (*off > zp->fsize || m->size > zp->fsize - *off)
		return ck_errf(e, CK_EINVALID, "%s: zip entry '%s' (%llu bytes at %llu) runs past the end of "
			       "the file (%llu bytes)", zp->path, m->name, (ull)m->size, (ull)*off, (ull)zp->fsize);
	return 0;
}

static const tb_member *find(const tb_zip *zp, const char *name)
{
	size_t i;
	return strmap_get(&zp->by_name, name, &i) ? &zp->m[i] : NULL;
}

/* The archive's one top-level `<prefix>/data.pkl`; torch names the prefix after the file. */
static int find_pickle(const tb_zip *zp, const tb_member **pkl, ck_err *e)
{
	*pkl = NULL;
	for (size_t i = 0; i < zp->n; i++) {
		const char *s = zp->m[i].name, *slash = strchr(s, '/');
		if (!slash || slash == s || strcmp(slash, "/data.pkl"))
			continue;
		if (*pkl)
			return ck_errf(e, CK_EINVALID, "%s: zip holds two pickles, '%s' and '%s'", zp->path,
				       (*pkl)->name, s);
		*pkl = &zp->m[i];
	}
	return *pkl ? 0 : ck_errf(e, CK_EINVALID, "%s: zip holds no '<name>/data.pkl'; not a torch.save "
				  "checkpoint", zp->path);
}

/* Reads a small member whole into a fresh NUL-terminated buffer. */
static int read_member(tb_zip *zp, int fd, const tb_member *m, size_t limit, unsigned char **out,
		       ck_err *e)
{
	uint64_t off;
	int rc, r;
	*out = NULL;
	if (m->size > limit)
		return ck_errf(e, CK_ELIMIT, "%s: zip entry '%s' is %llu bytes; limit is %zu", zp->path, m->name,
			       (ull)m->size, limit);
	if ((rc = member_offset(zp, m, &off, e)))
		return rc;
	if (!(*out = ck_malloc(e, (size_t)m->size + 1)))
		return CK_ENOMEM;
	if ((r = io_read_at(fd, *out, (size_t)m->size, off)))
		return ck_errf(e, CK_EIO, "%s: zip entry '%s': %s", zp->path, m->name,
			       r < 0 ? "file ended early" : strerror(r));
	(*out)[m->size] = '\0';
	return 0;
}

static int check_byteorder(tb_zip *zp, int fd, const char *prefix, ck_err *e)
{
	char name[TB_MAX_NAME + 16];
	const tb_member *m;
	unsigned char *b = NULL;
	int rc;
	snprintf(name, sizeof name, "%s/byteorder", prefix);
	if (!(m = find(zp, name)))
		return 0; /* older writers: little-endian implied */
	if (!(rc = read_member(zp, fd, m, 16, &b, e)) && strcmp((char *)b, "little"))
		rc = ck_errf(e, CK_EINVALID, "%s: byte order is '%.16s'; only little-endian checkpoints are read",
			     zp->path, (char *)b);
	free(b);
	return rc;
}

/* ---- the source ---- */

static void src_free(ck_tsrc *base)
{
	tb_src *s = (tb_src *)base;
	if (s->fd >= 0)
		close(s->fd);
	pickle_dict_dispose(&s->d);
	free(s->off);
	ck_tinfo_array_free(s->base.t, s->base.n);
	free(s->base.path);
	free(s);
}

/* Row-major copy of a strided view out of `span` (the storage bytes from its offset on). */
static void gather(const pickle_tensor *t, const unsigned char *span, unsigned char *dst)
{
	size_t es = ck_dtype_size(t->dtype);
	int64_t idx[CK_MAX_RANK] = {0};
	int r = t->shape.rank;
	uint64_t numel = 1;
	for (int i = 0; i < r; i++)
		numel *= (uint64_t)t->shape.dim[i];
	for (uint64_t k = 0; k < numel; k++) {
		uint64_t at = 0;
		for (int i = 0; i < r; i++)
			at += (uint64_t)idx[i] * (uint64_t)t->stride[i];
		memcpy(dst + k * es, span + at * es, es);
		for (int i = r - 1; i >= 0 && ++idx[i] == t->shape.dim[i]; i--)
			idx[i] = 0;
	}
}

/* Bytes from the view's first element to its last, inclusive. */
static uint64_t span_bytes(const pickle_tensor *t)
{
	uint64_t last = 0;
	for (int i = 0; i < t->shape.rank; i++)
		last += (uint64_t)(t->shape.dim[i] - 1) * (uint64_t)t->stride[i];
	return (last + 1) * ck_dtype_size(t->dtype);
}

static int src_read(ck_tsrc *base, size_t i, void *buf, ck_err *e)
{
	tb_src *s = (tb_src *)base;
	const pickle_tensor *t;
	unsigned char *span = NULL;
	uint64_t at, n;
	int r;
	if (i >= s->base.n)
		return ck_errf(e, CK_EINVALID, "%s: tensor index %zu out of range (%zu tensors)", s->base.path,
			       i, s->base.n);
	t = &s->d.t[i];
	if (!s->base.t[i].nbytes)
		return 0;
	at = s->off[i] + t->offset * ck_dtype_size(t->dtype);
	if (pickle_contiguous(t)) {
		n = s->base.t[i].nbytes;
		r = io_read_at(s->fd, buf, (size_t)n, at);
	} else {
		n = span_bytes(t);
		if (!(span = ck_malloc(e, (size_t)n)))
			return CK_ENOMEM;
		if (!(r = io_read_at(s->fd, span, (size_t)n, at)))
			gather(t, span, buf);
		free(span);
	}
	if (r)
		return ck_errf(e, CK_EIO, "%s: tensor '%s': %s", s->base.path, t->name,
			       r < 0 ? "file ended early; it shrank since it was opened" : strerror(r));
	return 0;
}

static const ck_tsrc_ops src_ops = {src_read, src_free, NULL};

typedef struct view_ref {
	const char *storage;
	uint64_t nbytes, have; /* the view's bytes, its storage's */
} view_ref;

static int cmp_storage(const void *a, const void *b)
{
	return strcmp(((const view_ref *)a)->storage, ((const view_ref *)b)->storage);
}

/* The views of each storage together stay within CK_MAX_VIEWS_PER_STORAGE times its bytes
 * (pickle.c already refused views that repeat elements). */
static int bound_views(tb_src *s, ck_err *e)
{
	size_t n = s->d.n;
	view_ref *v = ck_calloc(e, n ? n : 1, sizeof *v);
	int rc = 0;
	if (!v)
		return CK_ENOMEM;
	for (size_t i = 0; i < n; i++)
		v[i] = (view_ref){s->d.t[i].storage, s->base.t[i].nbytes,
			s->d.t[i].storage_numel * ck_dtype_size(s->d.t[i].dtype)};
	qsort(v, n, sizeof *v, cmp_storage);
	for (size_t i = 0, j; i < n && !rc; i = j) {
		uint64_t sum = 0;
		for (j = i; j < n && !strcmp(v[j].storage, v[i].storage); j++)
			sum = sum > UINT64_MAX - v[j].nbytes ? UINT64_MAX : sum + v[j].nbytes;
		if (sum / CK_MAX_VIEWS_PER_STORAGE > v[i].have)
			rc = ck_errf(e, CK_ELIMIT, "%s: storage '%s' (%llu bytes) is viewed by %zu tensors holding %llu bytes, "
				     "more than %d times its size", s->base.path, v[i].storage, (ull)v[i].have, j - i, (ull)sum,
				     CK_MAX_VIEWS_PER_STORAGE);
	}
	free(v);
	return rc;
}

/* Finds each view's storage member and checks that it holds exactly the declared bytes. */
static int locate_storages(tb_src *s, tb_zip *zp, const char *prefix, ck_err *e)
{
	char name[TB_MAX_NAME + 96];
	int rc;
	for (size_t i = 0; i < s->d.n; i++) {
		const pickle_tensor *t = &s->d.t[i];
		const tb_member *m;
		uint64_t want = t->storage_numel * ck_dtype_size(t->dtype); /* pickle.c checked: no overflow */
		ck_tinfo *ti = &s->base.t[i];
		ck_err tmp = {0};
		snprintf(name, sizeof name, "%s/data/%s", prefix, t->storage);
		if (!(m = find(zp, name)))
			return ck_errf(e, CK_EINVALID, "%s: tensor '%s': storage '%s' is missing from the zip",
				       s->base.path, t->name, name);
		if (m->size != want)
			return ck_errf(e, CK_EINVALID, "%s: tensor '%s': storage '%s' holds %llu bytes, the pickle "
				       "declares %llu (%llu x %s)", s->base.path, t->name, name, (ull)m->size,
				       (ull)want, (ull)t->storage_numel, ck_dtype_short_name(t->dtype));
		if ((rc = member_offset(zp, m, &s->off[i], e)))
			return rc;
		ti->dtype = t->dtype;
		ti->shape = t->shape;
		if (ck_tensor_nbytes(t->dtype, &t->shape, &ti->nbytes, &tmp))
			return ck_errf(e, tmp.code, "%s: tensor '%s': %s", s->base.path, t->name, tmp.msg);
		if (!(ti->name = ck_strdup(e, t->name)))
			return CK_ENOMEM;
		s->base.n = i + 1;
	}
	return 0;
}

static int load(tb_src *s, tb_zip *zp, ck_err *e)
{
	const tb_member *pkl;
	unsigned char *b = NULL;
	char prefix[TB_MAX_NAME + 1], where[TB_MAX_NAME + 4096];
	int rc;
	if ((rc = find_pickle(zp, &pkl, e)))
		return rc;
	snprintf(prefix, sizeof prefix, "%.*s", (int)(strchr(pkl->name, '/') - pkl->name), pkl->name);
	if ((rc = check_byteorder(zp, s->fd, prefix, e)) ||
	    (rc = read_member(zp, s->fd, pkl, PICKLE_MAX_BYTES, &b, e)))
		goto done;
	snprintf(where, sizeof where, "%s: %s", s->base.path, pkl->name);
	if ((rc = pickle_parse(where, b, (size_t)pkl->size, &s->d, e)))
		goto done;
	s->off = ck_calloc(e, s->d.n ? s->d.n : 1, sizeof *s->off);
	s->base.t = ck_calloc(e, s->d.n ? s->d.n : 1, sizeof *s->base.t);
	rc = s->off && s->base.t ? locate_storages(s, zp, prefix, e) : CK_ENOMEM;
	if (!rc)
		rc = bound_views(s, e);
done:
	free(b);
	return rc;
}

static int open_file(const char *path, ck_tsrc **out, ck_err *e)
{
	tb_src *s = ck_calloc(e, 1, sizeof *s);
	tb_zip zp = {0};
	struct stat sb;
	int rc;
	*out = NULL;
	if (!s)
		return CK_ENOMEM;
	s->fd = -1;
	s->base.ops = &src_ops;
	if (!(s->base.path = ck_strdup(e, path)))
		rc = CK_ENOMEM;
	else if ((rc = io_open_input(path, &s->fd, &sb, e)))
		;
	else if (!(rc = zip_open(&zp, path, (uint64_t)sb.st_size, e)))
		rc = load(s, &zp, e);
	zip_close(&zp);
	if (rc) {
		src_free(&s->base);
		return rc;
	}
	(void)posix_fadvise(s->fd, 0, 0, POSIX_FADV_SEQUENTIAL); /* a hint; failure is harmless */
	s->base.concurrent = 1; /* minizip is done (zip_close above): a read is pread on its own fd */
	*out = &s->base;
	return 0;
}

int tb_open(const char *path, ck_tsrc **out, ck_err *e)
{
	struct stat sb;
	char *p;
	size_t n;
	int rc;
	*out = NULL;
	if (stat(path, &sb))
		return ck_errf(e, errno == ENOENT ? CK_ENOTFOUND : CK_EIO, "%s: %s", path, strerror(errno));
	if (!S_ISDIR(sb.st_mode))
		return path_ends_with(path, ".json") ? shard_open(path, open_file, out, e) : open_file(path, out, e);
	n = strlen(path) + sizeof TB_INDEX_NAME + 1;
	if (!(p = ck_malloc(e, n)))
		return CK_ENOMEM;
	snprintf(p, n, "%s/%s", path, TB_INDEX_NAME);
	if (access(p, F_OK) == 0) {
		rc = shard_open(p, open_file, out, e);
	} else {
		snprintf(p, n, "%s/%s", path, TB_SINGLE_NAME);
		rc = access(p, F_OK) == 0 ? open_file(p, out, e)
		     : ck_errf(e, CK_ENOTFOUND, "%s: directory holds neither %s nor %s", path, TB_SINGLE_NAME,
			       TB_INDEX_NAME);
	}
	free(p);
	return rc;
}

int tb_is_zip(const char *path)
{
	unsigned char b[4];
	struct stat sb;
	int fd, ok;
	if (io_open_input(path, &fd, &sb, NULL))
		return 0;
	ok = io_read_at(fd, b, 4, 0) == 0 && b[0] == 'P' && b[1] == 'K' && b[2] == 3 && b[3] == 4;
	close(fd);
	return ok;
}
