/* st.c - safetensors reader and writer; see st.h. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "io.h"
#include "path.h"
#include "shard.h"
#include "st.h"
#include "text.h"
#include "valio.h"

#define ST_INDEX_NAME "model.safetensors.index.json"
#define ST_SINGLE_NAME "model.safetensors"

typedef unsigned long long ull;

/* ---- small helpers ---- */

/* path_join, with the out-of-memory error set */
static char *joined(const char *dir, const char *name, ck_err *e)
{
	char *p = path_join(dir, name);
	if (!p)
		ck_errf(e, CK_ENOMEM, "out of memory");
	return p;
}

/* ---- reader ---- */

typedef struct st_file {
	char *path;
	int fd;
	uint64_t base; /* 8 + header length: where data_offsets count from */
} st_file;

/* The tensors of one file as parsed, before they are moved into the source. */
typedef struct st_hdr {
	size_t n;
	ck_tinfo *t;
	uint64_t *begin;
} st_hdr;

typedef struct st_src {
	ck_tsrc base;
	st_file f;     /* f.path is base.path */
	uint64_t *off; /* per tensor: absolute file offset */
} st_src;

static void hdr_dispose(st_hdr *h)
{
	ck_tinfo_array_free(h->t, h->n);
	free(h->begin);
	memset(h, 0, sizeof *h);
}

static int check_metadata(const char *path, json_t *m, ck_err *e)
{
	const char *k;
	json_t *v;
	if (!json_is_object(m))
		return ck_errf(e, CK_EINVALID, "%s: '__metadata__' is not a JSON object", path);
	json_object_foreach(m, k, v) {
		if (!json_is_string(v))
			return ck_errf(e, CK_EINVALID, "%s: '__metadata__' value for '%s' is not a string",
				       path, k);
	}
	return 0;
}

static int get_offset(json_t *a, size_t i, uint64_t *out)
{
	json_t *v = json_array_get(a, i);
	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return -1;
	*out = (uint64_t)json_integer_value(v);
	return 0;
}

/* One header entry: dtype, shape, data_offsets, and its byte count checked against them. */
static int parse_entry(const char *path, const char *key, json_t *v, uint64_t data_size, ck_tinfo *t,
		       uint64_t *begin, ck_err *e)
{
	json_t *jd = json_object_get(v, "dtype"), *js = json_object_get(v, "shape");
	json_t *jo = json_object_get(v, "data_offsets");
	uint64_t b, en, nb;
	char sh[256];
	ck_err tmp = {0};

	if (!json_is_object(v))
		return ck_errf(e, CK_EINVALID, "%s: tensor '%s': entry is not a JSON object", path, key);
	if (!json_is_string(jd))
		return ck_errf(e, CK_EINVALID, "%s: tensor '%s': missing or non-string 'dtype'", path, key);
	if (ck_dtype_from_st(json_string_value(jd), &t->dtype))
		return ck_errf(e, CK_EINVALID, "%s: tensor '%s': unknown dtype '%s'", path, key,
			       json_string_value(jd));
	if (!json_is_array(js))
		return ck_errf(e, CK_EINVALID, "%s: tensor '%s': missing or non-array 'shape'", path, key);
	if (json_array_size(js) > CK_MAX_RANK)
		return ck_errf(e, CK_ELIMIT, "%s: tensor '%s': shape has rank %zu, limit is %d", path, key,
			       json_array_size(js), CK_MAX_RANK);
	t->shape.rank = (int)json_array_size(js);
	for (int i = 0; i < t->shape.rank; i++) {
		json_t *d = json_array_get(js, (size_t)i);
		if (!json_is_integer(d))
			return ck_errf(e, CK_EINVALID, "%s: tensor '%s': shape[%d] is not an integer", path,
				       key, i);
		if (json_integer_value(d) < 0)
			return ck_errf(e, CK_EINVALID, "%s: tensor '%s': shape[%d] is %lld, expected >= 0",
				       path, key, i, (long long)json_integer_value(d));
		t->shape.dim[i] = json_integer_value(d);
	}
	ck_shape_str(&t->shape, sh, sizeof sh);
	if (!json_is_array(jo) || json_array_size(jo) != 2 || get_offset(jo, 0, &b) || get_offset(jo, 1, &en))
		return ck_errf(e, CK_EINVALID,
			       "%s: tensor '%s': 'data_offsets' must be [begin, end] of non-negative integers",
			       path, key);
	if (en < b)
		return ck_errf(e, CK_EINVALID, "%s: tensor '%s': data_offsets [%llu, %llu] end before they begin",
			       path, key, (ull)b, (ull)en);
	if (ck_tensor_nbytes(t->dtype, &t->shape, &nb, &tmp))
		return ck_errf(e, tmp.code, "%s: tensor '%s': %s %s: %s", path, key,
			       ck_dtype_st_name(t->dtype), sh, tmp.msg);
	if (en - b != nb)
		return ck_errf(e, CK_EINVALID,
			       "%s: tensor '%s': data_offsets [%llu, %llu] give %llu bytes, expected %llu for %s %s",
			       path, key, (ull)b, (ull)en, (ull)(en - b), (ull)nb, ck_dtype_st_name(t->dtype), sh);
	if (en > data_size)
		return ck_errf(e, CK_EINVALID,
			       "%s: tensor '%s': data_offsets [%llu, %llu] run past the end of the file "
			       "(%llu data bytes after the header)", path, key, (ull)b, (ull)en, (ull)data_size);
	t->nbytes = nb;
	*begin = b;
	t->name = ck_strdup(e, key);
	return t->name ? 0 : CK_ENOMEM;
}

typedef struct span {
	uint64_t b, e;
	size_t i;
} span;

static int span_cmp(const void *a, const void *b)
{
	const span *x = a, *y = b;
	if (x->b != y->b)
		return x->b < y->b ? -1 : 1;
	if (x->e != y->e)
		return x->e < y->e ? -1 : 1;
	return 0;
}

/* Sorted by begin, the ranges must tile [0, data_size) exactly: no overlap, no hole. */
static int check_layout(const char *path, const st_hdr *h, uint64_t data_size, ck_err *e)
{
	span *s = ck_calloc(e, h->n, sizeof *s);
	uint64_t pos = 0;
	int rc = 0;
	if (!s)
		return CK_ENOMEM;
	for (size_t i = 0; i < h->n; i++)
		s[i] = (span){h->begin[i], h->begin[i] + h->t[i].nbytes, i};
	qsort(s, h->n, sizeof *s, span_cmp);
	for (size_t k = 0; k < h->n && !rc; k++) {
		const char *name = h->t[s[k].i].name;
		if (s[k].b < pos)
			rc = ck_errf(e, CK_EINVALID, "%s: tensor '%s': data_offsets [%llu, %llu] overlap tensor "
				     "'%s' [%llu, %llu]", path, name, (ull)s[k].b, (ull)s[k].e,
				     h->t[s[k - 1].i].name, (ull)s[k - 1].b, (ull)s[k - 1].e);
		else if (s[k].b > pos && k == 0)
			rc = ck_errf(e, CK_EINVALID, "%s: tensor '%s': data starts at %llu, expected 0 "
				     "(hole of %llu bytes)", path, name, (ull)s[k].b, (ull)s[k].b);
		else if (s[k].b > pos)
			rc = ck_errf(e, CK_EINVALID, "%s: tensor '%s': data_offsets [%llu, %llu] leave a hole of "
				     "%llu bytes after tensor '%s' (ends at %llu)", path, name, (ull)s[k].b,
				     (ull)s[k].e, (ull)(s[k].b - pos), h->t[s[k - 1].i].name, (ull)pos);
		pos = s[k].e;
	}
	if (!rc && pos != data_size)
		rc = ck_errf(e, CK_EINVALID, "%s: tensors end at data offset %llu but the file has %llu data "
			     "bytes after the header (%llu trailing bytes)", path, (ull)pos, (ull)data_size,
			     (ull)(data_size - pos));
	free(s);
	return rc;
}

static int parse_entries(const char *path, json_t *root, uint64_t data_size, st_hdr *h, ck_err *e)
{
	size_t cnt = json_object_size(root);
	json_t *meta = json_object_get(root, "__metadata__"), *v;
	const char *key;
	int rc;

	if (meta && (rc = check_metadata(path, meta, e)))
		return rc;
	cnt -= meta ? 1 : 0;
	if (cnt > ST_MAX_TENSORS)
		return ck_errf(e, CK_ELIMIT, "%s: header lists %zu tensors, limit is %d", path, cnt,
			       ST_MAX_TENSORS);
	h->t = ck_calloc(e, cnt, sizeof *h->t);
	h->begin = ck_calloc(e, cnt, sizeof *h->begin);
	if (!h->t || !h->begin)
		return CK_ENOMEM;
	json_object_foreach(root, key, v) {
		if (v == meta)
			continue;
		if (strlen(key) > ST_MAX_KEY)
			return ck_errf(e, CK_ELIMIT, "%s: tensor '%.64s...': key is %zu bytes, limit is %d",
				       path, key, strlen(key), ST_MAX_KEY);
		if (!*key) /* no state dict has one, and no rule or HDF5 dataset name could take it */
			return ck_errf(e, CK_EINVALID, "%s: a tensor has an empty key \"\"", path);
		if ((rc = parse_entry(path, key, v, data_size, &h->t[h->n], &h->begin[h->n], e)))
			return rc;
		h->n++;
	}
	return check_layout(path, h, data_size, e);
}

/* Opens and validates one .safetensors file; on failure f->fd may still need closing. */
static int parse_file(const char *path, st_file *f, st_hdr *h, ck_err *e)
{
	unsigned char lb[8];
	struct stat sb;
	json_error_t je;
	json_t *root = NULL;
	char *buf = NULL;
	uint64_t size, n = 0;
	int rc = 0, r;

	if ((rc = io_open_input(path, &f->fd, &sb, e)))
		return rc;
	size = (uint64_t)sb.st_size;
	if (size < 8)
		return ck_errf(e, CK_EINVALID, "%s: file is %llu bytes, too short for the 8-byte header length",
			       path, (ull)size);
	if ((r = io_read_at(f->fd, lb, 8, 0)))
		return ck_errf(e, CK_EIO, "%s: cannot read header length: %s", path,
			       r < 0 ? "file shrank" : strerror(r));
	for (int i = 7; i >= 0; i--)
		n = (n << 8) | lb[i];
	if (n > ST_MAX_HEADER)
		return ck_errf(e, CK_ELIMIT, "%s: header length %llu exceeds the limit of %u bytes", path,
			       (ull)n, ST_MAX_HEADER);
	if (n > size - 8)
		return ck_errf(e, CK_EINVALID, "%s: header length %llu runs past end of file (file is %llu bytes)",
			       path, (ull)n, (ull)size);
	(void)posix_fadvise(f->fd, 0, 0, POSIX_FADV_SEQUENTIAL); /* a hint; failure is harmless */
	if (!(buf = ck_malloc(e, (size_t)n)))
		return CK_ENOMEM;
	if ((r = io_read_at(f->fd, buf, (size_t)n, 8))) {
		rc = ck_errf(e, CK_EIO, "%s: cannot read header: %s", path, r < 0 ? "file shrank" : strerror(r));
		goto done;
	}
	root = json_loadb(buf, (size_t)n, JSON_REJECT_DUPLICATES, &je);
	if (!root) {
		char why[JSON_ERROR_TEXT_LENGTH];
		valio_json_why(&je, !io_via_link(path), why);
		rc = ck_errf(e, CK_EINVALID, "%s: header is not valid JSON: %s (at byte %d of the header)", path,
			     why, je.position);
		goto done;
	}
	if (!json_is_object(root)) {
		rc = ck_errf(e, CK_EINVALID, "%s: header is not a JSON object", path);
		goto done;
	}
	f->base = 8 + n;
	rc = parse_entries(path, root, size - 8 - n, h, e);
done:
	json_decref(root);
	free(buf);
	return rc;
}

static int src_read(ck_tsrc *base, size_t i, void *buf, ck_err *e)
{
	st_src *s = (st_src *)base;
	int r;
	if (i >= s->base.n)
		return ck_errf(e, CK_EINVALID, "%s: tensor index %zu out of range (%zu tensors)", s->base.path,
			       i, s->base.n);
	r = io_read_at(s->f.fd, buf, (size_t)s->base.t[i].nbytes, s->off[i]);
	if (r < 0)
		return ck_errf(e, CK_EIO, "%s: tensor '%s': file ended before byte %llu; it shrank since it was "
			       "opened", s->base.path, s->base.t[i].name, (ull)(s->off[i] + s->base.t[i].nbytes));
	if (r > 0)
		return ck_errf(e, CK_EIO, "%s: tensor '%s': read failed: %s", s->base.path, s->base.t[i].name,
			       strerror(r));
	return 0;
}

static void src_free(ck_tsrc *base)
{
	st_src *s = (st_src *)base;
	if (s->f.fd >= 0)
		close(s->f.fd);
	free(s->off);
	ck_tinfo_array_free(s->base.t, s->base.n);
	free(s->base.path);
	free(s);
}

static const ck_tsrc_ops src_ops = {src_read, src_free, NULL};

static int open_single(st_src *s, ck_err *e)
{
	st_hdr h = {0};
	int rc;
	s->f.path = s->base.path;
	if ((rc = parse_file(s->f.path, &s->f, &h, e)))
		goto done;
	if (!(s->off = ck_calloc(e, h.n ? h.n : 1, sizeof *s->off))) {
		rc = CK_ENOMEM;
		goto done;
	}
	for (size_t i = 0; i < h.n; i++)
		s->off[i] = s->f.base + h.begin[i];
	s->base.t = h.t;
	s->base.n = h.n;
	h.t = NULL;
	h.n = 0;
done:
	hdr_dispose(&h);
	return rc;
}

/* One .safetensors file as a source; path is copied. */
static int open_file(const char *path, ck_tsrc **out, ck_err *e)
{
	st_src *s = ck_calloc(e, 1, sizeof *s);
	int rc;
	*out = NULL;
	if (!s)
		return CK_ENOMEM;
	s->base.ops = &src_ops;
	s->base.concurrent = 1; /* pread on its own fd */
	s->f.fd = -1;
	if (!(s->base.path = ck_strdup(e, path)))
		rc = CK_ENOMEM;
	else
		rc = open_single(s, e);
	if (rc) {
		src_free(&s->base);
		return rc;
	}
	*out = &s->base;
	return 0;
}

int st_open(const char *path, ck_tsrc **out, ck_err *e)
{
	struct stat sb;
	char *p = NULL;
	int rc, idx = 0;

	*out = NULL;
	if (stat(path, &sb))
		return ck_errf(e, errno == ENOENT ? CK_ENOTFOUND : CK_EIO, "%s: %s", path, strerror(errno));
	if (!S_ISDIR(sb.st_mode))
		return path_ends_with(path, ".json") ? shard_open(path, open_file, out, e) : open_file(path, out, e);
	if (!(p = joined(path, ST_INDEX_NAME, e)))
		return CK_ENOMEM;
	idx = access(p, F_OK) == 0;
	if (!idx) {
		free(p);
		if (!(p = joined(path, ST_SINGLE_NAME, e)))
			return CK_ENOMEM;
		if (access(p, F_OK)) {
			free(p);
			return ck_errf(e, CK_ENOTFOUND, "%s: directory holds neither %s nor %s", path,
				       ST_SINGLE_NAME, ST_INDEX_NAME);
		}
	}
	rc = idx ? shard_open(p, open_file, out, e) : open_file(p, out, e);
	free(p);
	return rc;
}

/* ---- writer ---- */

typedef struct st_shard {
	char *path;
	int fd;
	int made; /* we created the file, so cleanup removes it */
} st_shard;

typedef struct st_sink {
	ck_tsink base;
	char *dir;
	size_t n;
	ck_tinfo *t;
	size_t *sh;     /* per tensor: shard */
	uint64_t *off;  /* per tensor: absolute offset in its shard */
	unsigned char *done;
	size_t nsh;
	st_shard *s;
	char *ipath;
	int imade;
	int *fds;       /* the shards' fds, for the flusher */
	io_flusher *fl;
	unsigned char *mine; /* per shard: written by this process (st_sink_open_part); NULL: all */
	int index;      /* this process writes the index */
} st_sink;

static void sink_free(st_sink *k, int remove_files)
{
	(void)io_flusher_stop(k->fl, NULL); /* before the fds close */
	free(k->fds);
	for (size_t i = 0; k->s && i < k->nsh; i++) {
		if (k->s[i].fd >= 0)
			close(k->s[i].fd);
		if (remove_files && k->s[i].made)
			unlink(k->s[i].path);
		free(k->s[i].path);
	}
	if (remove_files && k->imade)
		unlink(k->ipath);
	free(k->ipath);
	free(k->s);
	free(k->sh);
	free(k->off);
	free(k->done);
	free(k->mine);
	ck_tinfo_array_free(k->t, k->n);
	free(k->dir);
	free(k);
}

static int tinfo_ptr_cmp(const void *a, const void *b)
{
	return strcmp((*(ck_tinfo *const *)a)->name, (*(ck_tinfo *const *)b)->name);
}

/* Declared tensors: sane names (unique, UTF-8, bounded), known dtypes, nbytes matching. */
static int check_decl(const char *dir, const ck_tinfo *t, size_t n, ck_err *e)
{
	const ck_tinfo **p;
	int rc = 0;
	if (n > ST_MAX_TENSORS)
		return ck_errf(e, CK_ELIMIT, "%s: %zu tensors declared, limit is %d", dir, n, ST_MAX_TENSORS);
	for (size_t i = 0; i < n; i++) {
		uint64_t nb;
		ck_err tmp = {0};
		char sh[256];
		if (!t[i].name || strlen(t[i].name) > ST_MAX_KEY || !text_utf8_valid(t[i].name))
			return ck_errf(e, CK_EINVALID, "%s: tensor %zu: name is missing, longer than %d bytes or "
				       "not UTF-8", dir, i, ST_MAX_KEY);
		if ((unsigned)t[i].dtype >= CK_DT__COUNT)
			return ck_errf(e, CK_EINVALID, "%s: tensor '%s': invalid dtype %d", dir, t[i].name,
				       (int)t[i].dtype);
		if (ck_tensor_nbytes(t[i].dtype, &t[i].shape, &nb, &tmp))
			return ck_errf(e, tmp.code, "%s: tensor '%s': %s", dir, t[i].name, tmp.msg);
		if (nb != t[i].nbytes)
			return ck_errf(e, CK_EINVALID, "%s: tensor '%s': declared %llu bytes, but %s %s takes %llu",
				       dir, t[i].name, (ull)t[i].nbytes, ck_dtype_st_name(t[i].dtype),
				       ck_shape_str(&t[i].shape, sh, sizeof sh), (ull)nb);
	}
	if (!(p = ck_calloc(e, n, sizeof *p)))
		return CK_ENOMEM;
	for (size_t i = 0; i < n; i++)
		p[i] = &t[i];
	qsort(p, n, sizeof *p, tinfo_ptr_cmp);
	for (size_t i = 1; i < n && !rc; i++)
		if (strcmp(p[i - 1]->name, p[i]->name) == 0)
			rc = ck_errf(e, CK_EINVALID, "%s: tensor '%s' declared twice", dir, p[i]->name);
	free(p);
	return rc;
}

/* HF split_state_dict_into_shards: walk in order; a tensor above the limit gets its own shard,
 * appended at once (before the shard being filled); otherwise close the current shard when the
 * tensor would push it over. Shards are numbered in the order they are closed. */
static size_t assign_shards(const ck_tinfo *t, size_t n, uint64_t limit, size_t *sh, size_t *rank)
{
	size_t nprov = 0, nsh = 0, cur = SIZE_MAX;
	uint64_t size = 0;
	for (size_t i = 0; i < n; i++) {
		uint64_t nb = t[i].nbytes;
		if (limit && nb > limit) {
			sh[i] = nprov;
			rank[nprov++] = nsh++;
			continue;
		}
		if (cur != SIZE_MAX && limit && size + nb > limit) {
			rank[cur] = nsh++;
			cur = SIZE_MAX;
		}
		if (cur == SIZE_MAX) {
			cur = nprov++;
			size = 0;
		}
		sh[i] = cur;
		size += nb;
	}
	if (cur != SIZE_MAX)
		rank[cur] = nsh++;
	for (size_t i = 0; i < n; i++)
		sh[i] = rank[sh[i]];
	return nsh;
}

/* Header of one shard (members sorted by name, as the files safetensors writes are), padded with
 * spaces to a multiple of 8; sets each member's absolute data offset. */
static int shard_header(st_sink *k, ck_tinfo **m, size_t cnt, text *b, ck_err *e)
{
	uint64_t at = 0;
	qsort(m, cnt, sizeof *m, tinfo_ptr_cmp);
	text_puts(b, "{\"__metadata__\":{\"format\":\"pt\"}");
	for (size_t j = 0; j < cnt; j++) {
		text_add(b, ",", 1);
		text_json_str(b, m[j]->name, strlen(m[j]->name), 0);
		text_printf(b, ":{\"dtype\":\"%s\",\"shape\":[", ck_dtype_st_name(m[j]->dtype));
		for (int d = 0; d < m[j]->shape.rank; d++)
			text_printf(b, "%s%lld", d ? "," : "", (long long)m[j]->shape.dim[d]);
		text_printf(b, "],\"data_offsets\":[%llu,%llu]}", (ull)at, (ull)(at + m[j]->nbytes));
		at += m[j]->nbytes;
	}
	text_add(b, "}", 1);
	while (!b->oom && b->n % 8)
		text_add(b, " ", 1);
	if (b->oom)
		return ck_errf(e, CK_ENOMEM, "%s: out of memory building a header", k->dir);
	at = 8 + b->n;
	for (size_t j = 0; j < cnt; j++) {
		k->off[m[j] - k->t] = at;
		at += m[j]->nbytes;
	}
	return 0;
}

static int create_file(const char *path, int *fd, int *made, ck_err *e)
{
	*fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
	if (*fd < 0)
		return ck_errf(e, errno == EEXIST ? CK_EEXIST : CK_EIO, "%s: cannot create: %s", path,
			       strerror(errno));
	*made = 1;
	return 0;
}

/* Creates every shard file and writes its header. */
static int open_shards(st_sink *k, ck_err *e)
{
	ck_tinfo **m = ck_calloc(e, k->n, sizeof *m);
	size_t *at = ck_calloc(e, k->nsh + 1, sizeof *at);
	text b = {0};
	int rc = 0;
	if (!m || !at) {
		rc = CK_ENOMEM;
		goto done;
	}
	for (size_t i = 0; i < k->n; i++) /* group members by shard, declared order kept */
		at[k->sh[i] + 1]++;
	for (size_t s = 0; s < k->nsh; s++)
		at[s + 1] += at[s];
	for (size_t i = 0; i < k->n; i++)
		m[at[k->sh[i]]++] = &k->t[i];
	for (size_t s = 0, first = 0; s < k->nsh && !rc; first = at[s++]) {
		char name[64];
		unsigned char lb[8];
		int r;
		if (k->nsh == 1)
			snprintf(name, sizeof name, ST_SINGLE_NAME);
		else
			snprintf(name, sizeof name, "model-%05zu-of-%05zu.safetensors", s + 1, k->nsh);
		b.n = 0;
		if (!(k->s[s].path = joined(k->dir, name, e))) {
			rc = CK_ENOMEM;
			break;
		}
		if (k->mine && !k->mine[s]) /* a peer's */
			continue;
		if ((rc = shard_header(k, m + first, at[s] - first, &b, e)) ||
		    (rc = create_file(k->s[s].path, &k->s[s].fd, &k->s[s].made, e)))
			break;
		for (int i = 0; i < 8; i++)
			lb[i] = (unsigned char)((uint64_t)b.n >> (8 * i));
		if ((r = io_write_at(k->s[s].fd, lb, 8, 0)) || (r = io_write_at(k->s[s].fd, b.p, b.n, 8)))
			rc = ck_errf(e, CK_EIO, "%s: cannot write header: %s", k->s[s].path, strerror(r));
	}
done:
	free(b.p);
	free(at);
	free(m);
	return rc;
}

/* Python json.dumps({"metadata": {"total_size": T}, "weight_map": ...}, indent=2, sort_keys=True) + "\n" */
static int write_index(st_sink *k, ck_err *e)
{
	ck_tinfo **p = ck_calloc(e, k->n, sizeof *p);
	uint64_t total = 0;
	text b = {0};
	int rc = 0, r, fd = -1;
	if (!p)
		return CK_ENOMEM;
	for (size_t i = 0; i < k->n; i++) {
		p[i] = &k->t[i];
		total += k->t[i].nbytes;
	}
	qsort(p, k->n, sizeof *p, tinfo_ptr_cmp);
	text_printf(&b, "{\n  \"metadata\": {\n    \"total_size\": %llu\n  },\n  \"weight_map\": {", (ull)total);
	for (size_t i = 0; i < k->n; i++) {
		const char *f = strrchr(k->s[k->sh[p[i] - k->t]].path, '/') + 1;
		text_puts(&b, i ? ",\n    " : "\n    ");
		text_json_str(&b, p[i]->name, strlen(p[i]->name), 1);
		text_puts(&b, ": ");
		text_json_str(&b, f, strlen(f), 1);
	}
	text_puts(&b, k->n ? "\n  }\n}\n" : "}\n}\n");
	if (b.oom)
		rc = ck_errf(e, CK_ENOMEM, "%s: out of memory building the index", k->ipath);
	else if (!(rc = create_file(k->ipath, &fd, &k->imade, e))) {
		r = io_write_at(fd, b.p, b.n, 0);
		if (!r && fsync(fd))
			r = errno;
		if (r)
			rc = ck_errf(e, CK_EIO, "%s: cannot write: %s", k->ipath, strerror(r));
		if (close(fd) && !rc)
			rc = ck_errf(e, CK_EIO, "%s: cannot close: %s", k->ipath, strerror(errno));
	}
	free(b.p);
	free(p);
	return rc;
}

static int sink_write(ck_tsink *base, size_t i, const void *buf, ck_err *e)
{
	st_sink *k = (st_sink *)base;
	int r;
	if (i >= k->n)
		return ck_errf(e, CK_EINVALID, "%s: tensor index %zu out of range (%zu declared)", k->dir, i,
			       k->n);
	if (k->mine && !k->mine[k->sh[i]]) /* a peer's: a group with targets in two ranks' shards runs on both */
		return 0;
	if (k->done[i])
		return ck_errf(e, CK_EINVALID, "%s: tensor '%s' written twice", k->s[k->sh[i]].path,
			       k->t[i].name);
	if ((r = io_write_at(k->s[k->sh[i]].fd, buf, (size_t)k->t[i].nbytes, k->off[i])))
		return ck_errf(e, CK_EIO, "%s: tensor '%s': write failed: %s", k->s[k->sh[i]].path,
			       k->t[i].name, strerror(r));
	io_start_writeback(k->s[k->sh[i]].fd, k->off[i], k->t[i].nbytes);
	k->done[i] = 1;
	return 0;
}

static int sink_commit(ck_tsink *base, ck_err *e)
{
	st_sink *k = (st_sink *)base;
	int rc = 0, dfd;
	size_t at = 0;
	for (size_t i = 0; i < k->n && !rc; i++)
		if (!k->done[i] && (!k->mine || k->mine[k->sh[i]]))
			rc = ck_errf(e, CK_EINVALID, "%s: tensor '%s' was declared but never written",
				     k->s[k->sh[i]].path, k->t[i].name);
	int fe = io_flusher_stop(k->fl, &at);
	k->fl = NULL;
	int bad = fe ? k->fds[at] : -1; /* the flusher knew only the shards this process writes */
	for (size_t s = 0; bad >= 0 && s < k->nsh; s++)
		if (k->s[s].fd == bad)
			at = s;
	if (fe && !rc)
		rc = ck_errf(e, CK_EIO, "%s: fsync failed: %s", k->s[at].path, strerror(fe));
	for (size_t s = 0; s < k->nsh && !rc; s++) {
		if (k->s[s].fd < 0) /* a peer's */
			continue;
		if (fsync(k->s[s].fd))
			rc = ck_errf(e, CK_EIO, "%s: fsync failed: %s", k->s[s].path, strerror(errno));
		int c = close(k->s[s].fd);
		k->s[s].fd = -1;
		if (c && !rc)
			rc = ck_errf(e, CK_EIO, "%s: close failed: %s", k->s[s].path, strerror(errno));
	}
	if (!rc && k->nsh > 1 && k->index)
		rc = write_index(k, e);
	if (!rc && (dfd = open(k->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
		if (fsync(dfd) && errno != EINVAL) /* some filesystems cannot sync directories */
			rc = ck_errf(e, CK_EIO, "%s: fsync failed: %s", k->dir, strerror(errno));
		close(dfd);
	}
	sink_free(k, rc != 0);
	return rc;
}

static void sink_abort(ck_tsink *base) { sink_free((st_sink *)base, 1); }

static const ck_tsink_ops sink_ops = {sink_write, sink_commit, sink_abort, NULL, NULL};

int st_shards(const ck_tinfo *t, size_t n, uint64_t shard_size, size_t *sh, size_t *nsh, ck_err *e)
{
	size_t *rank = ck_calloc(e, n ? n : 1, sizeof *rank);
	if (!rank)
		return CK_ENOMEM;
	*nsh = assign_shards(t, n, shard_size, sh, rank);
	if (*nsh == 0)
		*nsh = 1; /* no tensors: still one (empty) file */
	free(rank);
	return 0;
}

int st_sink_open(const char *dir, const ck_tinfo *t, size_t n, uint64_t shard_size, ck_tsink **out,
		 ck_err *e)
{
	return st_sink_open_part(dir, t, n, shard_size, NULL, 1, out, e);
}

int st_sink_open_part(const char *dir, const ck_tinfo *t, size_t n, uint64_t shard_size, const unsigned char *mine,
	int index, ck_tsink **out, ck_err *e)
{
	st_sink *k = NULL;
	size_t *rank = NULL;
	int rc;

	*out = NULL;
	if ((rc = check_decl(dir, t, n, e)))
		return rc;
	if (!(k = ck_calloc(e, 1, sizeof *k)))
		return CK_ENOMEM;
	k->base.ops = &sink_ops;
	k->base.concurrent = 1; /* pwrite on its own fds */
	k->index = index;
	if (!(k->dir = ck_strdup(e, dir)) || !(k->t = ck_calloc(e, n, sizeof *k->t)) ||
	    !(k->sh = ck_calloc(e, n, sizeof *k->sh)) || !(k->off = ck_calloc(e, n, sizeof *k->off)) ||
	    !(k->done = ck_calloc(e, n, 1)) || !(rank = ck_calloc(e, n, sizeof *rank)) ||
	    !(k->ipath = joined(dir, ST_INDEX_NAME, e))) {
		rc = CK_ENOMEM;
		goto done;
	}
	k->n = n; /* names not yet copied are NULL, which cleanup skips */
	for (size_t i = 0; i < n; i++) {
		k->t[i] = t[i];
		if (!(k->t[i].name = ck_strdup(e, t[i].name))) {
			rc = CK_ENOMEM;
			goto done;
		}
	}
	k->nsh = assign_shards(k->t, n, shard_size, k->sh, rank);
	if (k->nsh == 0)
		k->nsh = 1; /* no tensors: still one (empty) file */
	if (!(k->s = ck_calloc(e, k->nsh, sizeof *k->s))) {
		rc = CK_ENOMEM;
		goto done;
	}
	for (size_t s = 0; s < k->nsh; s++)
		k->s[s].fd = -1;
	if (mine && !(k->mine = ck_malloc(e, k->nsh))) {
		rc = CK_ENOMEM;
		goto done;
	}
	if (mine)
		memcpy(k->mine, mine, k->nsh);
	if (!(rc = open_shards(k, e)) && (k->fds = calloc(k->nsh, sizeof *k->fds))) { /* none: no flusher */
		size_t nfd = 0;
		for (size_t s = 0; s < k->nsh; s++)
			if (k->s[s].fd >= 0)
				k->fds[nfd++] = k->s[s].fd;
		k->fl = nfd ? io_flusher_start(k->fds, nfd) : NULL; /* NULL: the final fsyncs do it all */
	}
done:
	free(rank);
	if (rc)
		sink_free(k, 1);
	else
		*out = &k->base;
	return rc;
}
