/* h5ck.c - packed Cerebras checkpoint (HDF5) sink and source. See h5ck.h and schemas/packed-h5.md. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <hdf5.h>
#include <jansson.h>
#include "bounds.h"
#include "cast.h"
#include "buf.h"
#include "h5ck.h"
#include "h5lz4.h"
#include "h5raw.h"
#include "io.h"
#include "par.h"
#include "pool.h"
#include "sandbox.h"
#include "strmap.h"
#include "text.h"
#include "valio.h"
#include <xxhash.h>

#define LZ4_ID H5LZ4_ID
#define MAX_DATASETS 1000000
#define MAX_META ((size_t)16 << 20)   /* one <key>.__metadata__ JSON */
#define MAX_SPEC ((size_t)1 << 30)    /* __spec__ grows with the key count */
#define MAX_DEPTH 64
#define CHUNK_BYTES ((uint64_t)1 << 20)

/* ---- HDF5 plumbing ---- */

/* Library code never prints: silence HDF5's stack dumps and report through ck_err. */
static void h5_quiet(void)
{
	static int once;
	if (!once) {
		/* HDF5 1.10 crashes in its exit handler after a failed H5Fclose (e.g. ENOSPC while
		 * flushing); we close what we open ourselves, so skip its atexit teardown */
		H5dont_atexit();
		/* no HDF5 plugin is ever loaded (a hostile file could name any filter in the plugin
		 * directory); the one filter written, LZ4, is ckconv's own (h5lz4.c) */
		H5PLset_loading_state(0);
		h5lz4_register();
		once = 1;
	}
	H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}

static herr_t why_cb(unsigned n, const H5E_error2_t *d, void *data)
{
	char *buf = data;
	(void)n;
	if (!buf[0] && d->desc && d->desc[0]) {
		/* the sec2 driver's "X failed: time = ..., filename = '...', ..., error message = 'Y', ..."
		 * is too long for one line with a long path in it: keep "X failed: Y" */
		const char *colon = strstr(d->desc, ": time = "), *m = strstr(d->desc, "error message = '");
		const char *end = m ? strchr(m + 17, '\'') : NULL;
		if (colon && end)
			snprintf(buf, 200, "%.*s: %.*s", (int)(colon - d->desc), d->desc, (int)(end - m - 17), m + 17);
		else
			snprintf(buf, 200, "%s", d->desc);
	}
	return 0;
}

/* The innermost message of HDF5's error stack (then cleared), for one-line errors. */
static const char *h5_why(char *buf)
{
	buf[0] = '\0';
	H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, why_cb, buf);
	H5Eclear2(H5E_DEFAULT);
	if (!buf[0])
		snprintf(buf, 200, "unknown HDF5 error");
	for (char *c = buf; *c; c++) /* errors are one line */
		if (*c == '\n' || *c == '\r')
			*c = ' ';
	return buf;
}

/* 1 when filter 32004 can be used for writing: ckconv's own, registered by h5_quiet. */
static int lz4_avail(void)
{
	int ok = H5Zfilter_avail(LZ4_ID) > 0;
	H5Eclear2(H5E_DEFAULT);
	return ok;
}

static void close_id(hid_t *id, herr_t (*fn)(hid_t))
{
	if (*id >= 0)
		fn(*id);
	*id = -1;
}

static int is_ascii(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s >= 0x80)
			return 0;
	return 1;
}


/* JSON text exactly as Python's json.dumps prints it (indent < 0: one line). */
static char *pj_text(const json_t *v, int indent)
{
	return valio_json_text(v, indent, 0);
}

/* ---- treespec protocol 1 (torch.utils._pytree.treespec_dumps) ---- */

static json_t *ts_leaf(void)
{
	return json_pack("{s:n, s:n, s:[]}", "type", "context", "children_spec");
}

/* A dict node over keys whose children are `children` (stolen). */
static json_t *ts_dict(const json_t *keys, json_t *children)
{
	char *ctx = pj_text(keys, -1);
	json_t *node = ctx && children ? json_pack("{s:s, s:s, s:O}", "type", "builtins.dict", "context", ctx,
		"children_spec", children) : NULL;
	free(ctx);
	json_decref(children);
	return node;
}

static json_t *ts_leaves(size_t n)
{
	json_t *ch = json_array();
	for (size_t i = 0; ch && i < n; i++)
		if (json_array_append_new(ch, ts_leaf()))
			json_decref(ch), ch = NULL;
	return ch;
}

/* The treespec string of a node: JSON of [1, node] with json.dumps' default separators. */
static char *ts_text(json_t *node)
{
	json_t *doc = node ? json_pack("[i, o]", 1, node) : NULL;
	char *s = pj_text(doc, -1);
	json_decref(doc);
	return s;
}

/* ---- dtypes ---- */

static int rtfx_code(ck_dtype d)
{
	switch (d) {
	case CK_DT_BOOL: return 1;
	case CK_DT_I16: return 3;
	case CK_DT_I32: return 4;
	case CK_DT_I64: return 5;
	case CK_DT_U8: return 6;
	case CK_DT_U16: return 7;
	case CK_DT_U32: return 8;
	case CK_DT_U64: return 9;
	case CK_DT_F16: return 10;
	case CK_DT_F32: return 11;
	case CK_DT_F64: return 12;
	case CK_DT_BF16: return 15;
	default: return 0; /* int8: RtFx has none (INVALID); load ignores rtfx_dtypes */
	}
}

/* h5py's bool: an enum over int8 with FALSE=0, TRUE=1. */
static hid_t bool_type(void)
{
	signed char f = 0, t = 1;
	hid_t ty = H5Tenum_create(H5T_STD_I8LE);
	if (ty >= 0 && (H5Tenum_insert(ty, "FALSE", &f) < 0 || H5Tenum_insert(ty, "TRUE", &t) < 0))
		close_id(&ty, H5Tclose);
	return ty;
}

/* The file (and memory) type for a dtype; bf16 is raw bits in int16. Caller closes. */
static hid_t dtype_h5(ck_dtype d)
{
	hid_t t;
	switch (d) {
	case CK_DT_BOOL: return bool_type();
	case CK_DT_U8: return H5Tcopy(H5T_STD_U8LE);
	case CK_DT_I8: return H5Tcopy(H5T_STD_I8LE);
	case CK_DT_I16: return H5Tcopy(H5T_STD_I16LE);
	case CK_DT_U16: return H5Tcopy(H5T_STD_U16LE);
	case CK_DT_I32: return H5Tcopy(H5T_STD_I32LE);
	case CK_DT_U32: return H5Tcopy(H5T_STD_U32LE);
	case CK_DT_I64: return H5Tcopy(H5T_STD_I64LE);
	case CK_DT_U64: return H5Tcopy(H5T_STD_U64LE);
	case CK_DT_BF16: return H5Tcopy(H5T_STD_I16LE);
	case CK_DT_F32: return H5Tcopy(H5T_IEEE_F32LE);
	case CK_DT_F64: return H5Tcopy(H5T_IEEE_F64LE);
	case CK_DT_F16: /* IEEE half as h5py builds it: HDF5 1.10 has no predefined one */
		t = H5Tcopy(H5T_IEEE_F32LE);
		if (t >= 0 && (H5Tset_fields(t, 15, 10, 5, 0, 10) < 0 || H5Tset_size(t, 2) < 0 ||
			H5Tset_ebias(t, 15) < 0))
			close_id(&t, H5Tclose);
		return t;
	default: return -1;
	}
}

static hid_t str_type(void)
{
	hid_t t = H5Tcopy(H5T_C_S1);
	if (t >= 0 && (H5Tset_size(t, H5T_VARIABLE) < 0 || H5Tset_cset(t, H5T_CSET_UTF8) < 0 ||
		H5Tset_strpad(t, H5T_STR_NULLTERM) < 0))
		close_id(&t, H5Tclose);
	return t;
}

/* ---- attribute writers (types as h5py makes them from Python values) ---- */

static int attr_put(hid_t loc, const char *name, hid_t type, int rank, const hsize_t *dims, const void *buf)
{
	hid_t sp = rank < 0 ? H5Screate(H5S_SCALAR) : H5Screate_simple(rank, dims, NULL);
	hid_t acpl = H5Pcreate(H5P_ATTRIBUTE_CREATE), a = -1;
	int ok = sp >= 0 && acpl >= 0 && type >= 0;
	if (ok && !is_ascii(name))
		ok = H5Pset_char_encoding(acpl, H5T_CSET_UTF8) >= 0;
	if (ok)
		ok = (a = H5Acreate2(loc, name, type, sp, acpl, H5P_DEFAULT)) >= 0;
	if (ok)
		ok = H5Awrite(a, type, buf) >= 0;
	close_id(&a, H5Aclose);
	close_id(&acpl, H5Pclose);
	close_id(&sp, H5Sclose);
	return ok ? 0 : -1;
}

static int attr_str(hid_t loc, const char *name, const char *s, int as_array)
{
	hsize_t one = 1;
	hid_t t = str_type();
	int rc = attr_put(loc, name, t, as_array ? 1 : -1, &one, &s);
	close_id(&t, H5Tclose);
	return rc;
}

static int attr_bool(hid_t loc, const char *name, int v)
{
	signed char b = v ? 1 : 0;
	hid_t t = bool_type();
	int rc = attr_put(loc, name, t, -1, NULL, &b);
	close_id(&t, H5Tclose);
	return rc;
}

/* The h5py attributes cstorch puts on a tensor dataset (notes §4.4), in its order. */
static int tensor_attrs(hid_t ds, const ck_tinfo *t)
{
	int64_t shp[CK_MAX_RANK], rtfx = rtfx_code(t->dtype);
	double none = 0;
	hsize_t dims[2] = {1, (hsize_t)t->shape.rank}, one = 1;
	const char *dt = ck_dtype_torch_name(t->dtype);
	for (int i = 0; i < t->shape.rank; i++)
		shp[i] = t->shape.dim[i];
	if (attr_bool(ds, "__TORCH__", 1) < 0)
		return -1;
	/* numpy makes [[]] a float64 (1, 0) array */
	if (attr_put(ds, "shapes", t->shape.rank ? H5T_STD_I64LE : H5T_IEEE_F64LE, 2, dims,
		t->shape.rank ? (const void *)shp : (const void *)&none) < 0)
		return -1;
	if (attr_str(ds, "dtypes", dt, 1) < 0 || attr_put(ds, "rtfx_dtypes", H5T_STD_I64LE, 1, &one, &rtfx) < 0 ||
		attr_str(ds, "__TYPE__", "TorchTensorSerializer", 0) < 0 || attr_bool(ds, "__NUMPY__", 1) < 0 ||
		attr_bool(ds, "compressed", 0) < 0)
		return -1;
	return 0;
}

/* ---- the sink ---- */

/* ---- chunks: the geometry both directions share ---- */

/* Room for n bytes in *b: 0, or -1 when out of memory (nothing freed). */
static int grow(unsigned char **b, size_t *cap, size_t n)
{
	if (n <= *cap)
		return 0;
	unsigned char *p = realloc(*b, n ? n : 1);
	if (!p)
		return -1;
	*b = p;
	*cap = n;
	return 0;
}


/* Copy the part of chunk `c` (origin off, dims cdim, C order) inside block [start, start+count)
 * of `blk` (C order, dims count): chunk -> block, or block -> chunk when into_chunk. */
static void chunk_copy(int R, size_t esize, const hsize_t *cdim, unsigned char *c, const hsize_t *off,
	const hsize_t *start, const hsize_t *count, unsigned char *blk, int into_chunk)
{
	hsize_t lo[CK_MAX_RANK], hi[CK_MAX_RANK], i[CK_MAX_RANK];
	for (int d = 0; d < R; d++) {
		lo[d] = off[d] > start[d] ? off[d] : start[d];
		hi[d] = off[d] + cdim[d] < start[d] + count[d] ? off[d] + cdim[d] : start[d] + count[d];
		i[d] = lo[d];
	}
	size_t run = (size_t)(hi[R - 1] - lo[R - 1]) * esize;
	for (;;) {
		uint64_t ci = 0, bi = 0; /* element index in the chunk and in the block */
		for (int d = 0; d < R; d++) {
			ci = ci * cdim[d] + (i[d] - off[d]);
			bi = bi * count[d] + (i[d] - start[d]);
		}
		if (into_chunk)
			memcpy(c + ci * esize, blk + bi * esize, run);
		else
			memcpy(blk + bi * esize, c + ci * esize, run);
		int d = R - 2;
		for (; d >= 0; d--) {
			if (++i[d] < hi[d])
				break;
			i[d] = lo[d];
		}
		if (d < 0)
			return;
	}
}

typedef struct h5sink {
	ck_tsink base;
	char *path, *tmp;
	hid_t fid;
	size_t n;
	ck_tinfo *t;     /* names are the full dataset keys */
	char **names;    /* declared names (children of top) */
	char *top;       /* NULL: flat dict */
	unsigned char *written;
	uint64_t *slices; /* write_slice: slices written so far, per tensor (allocated on first use) */
	char *cstorch_version, *prov;
	char *spec;       /* h5ck_opts.spec, or NULL */
	size_t n_leaf;
	char **leaf_key, **leaf_meta;
	int fd;           /* the sec2 driver's fd, for the flusher */
	io_flusher *fl;
	pool *pool;       /* LZ4 chunk encoding threads (--compress lz4), started at the first chunked write */
	unsigned char *zb, *gb; /* encoded chunks of one batch; per thread, one edge chunk gathered */
	size_t zcap, gcap;
	unsigned char *mine; /* h5ck_opts.mine copied: a file shared by the ranks of a run; NULL: all ours */
	uint64_t *sums;      /* shared: the checksums of our tensors, written by all ranks at commit */
} h5sink;

static void sink_free(h5sink *k)
{
	if (!k)
		return;
	(void)io_flusher_stop(k->fl, NULL); /* before the file closes */
	pool_free(k->pool);
	free(k->zb);
	free(k->gb);
	close_id(&k->fid, H5Fclose);
	if (k->tmp)
		unlink(k->tmp);
	for (size_t i = 0; k->names && i < k->n; i++)
		free(k->names[i]);
	ck_tinfo_array_free(k->t, k->n);
	free(k->names);
	for (size_t i = 0; i < k->n_leaf; i++) {
		free(k->leaf_key[i]);
		free(k->leaf_meta[i]);
	}
	free(k->leaf_key);
	free(k->leaf_meta);
	free(k->spec);
	free(k->written);
	free(k->slices);
	free(k->mine);
	free(k->sums);
	free(k->path);
	free(k->tmp);
	free(k->top);
	free(k->cstorch_version);
	free(k->prov);
	free(k);
}

/* The dataset's bytes on their way to disk while the next tensor is read (sec2 driver: a plain fd). */
static void start_writeback(h5sink *k, hid_t ds)
{
	void *h = NULL;
	haddr_t off = H5Dget_offset(ds);
	if (!k->mine && off != HADDR_UNDEF && H5Fget_vfd_handle(k->fid, H5P_DEFAULT, &h) >= 0 && h)
		io_start_writeback(*(int *)h, (uint64_t)off, (uint64_t)H5Dget_storage_size(ds));
}

/* ---- writing LZ4 chunks (--compress lz4) ----
 * HDF5's filter pipeline would encode one chunk after another on this thread. Instead the
 * chunks of a tensor are encoded a batch at a time on the pool (h5lz4_encode, the framing the
 * reader and h5py's plugin decode) and handed to HDF5 already encoded (H5Dwrite_chunk), so
 * HDF5 calls stay on this thread. */

#define WBATCH 16 /* chunks per batch: at most 16 MiB + 16 x 16 bytes of encoded chunks */

typedef struct wbatch {
	h5sink *k;
	const unsigned char *buf;  /* the tensor, C order */
	int rank;
	size_t esize;
	const hsize_t *dim, *cdim;
	uint64_t cbytes, first;    /* one chunk's bytes; the batch's first chunk (C order of chunks) */
	hsize_t off[WBATCH][CK_MAX_RANK];
	size_t zn[WBATCH];         /* encoded sizes, 0: failed */
} wbatch;

/* Chunk origin `off` of the first chunk of the batch + i, chunks counted in C order. */
static void wchunk_origin(const wbatch *w, uint64_t c, hsize_t *off)
{
	for (int d = w->rank - 1; d >= 0; d--) {
		hsize_t n = (w->dim[d] + w->cdim[d] - 1) / w->cdim[d];
		off[d] = (c % n) * w->cdim[d];
		c /= n;
	}
}

/* The chunk at off as one run of the tensor's bytes, or NULL when it is not one (an edge chunk,
 * or leading chunk dimensions over 1 followed by partial ones): then it is gathered. */
static const unsigned char *wchunk_run(const wbatch *w, const hsize_t *off)
{
	uint64_t at = 0;
	int j = 0;
	while (j < w->rank - 1 && w->cdim[j] == 1)
		j++;
	for (int d = 0; d < w->rank; d++) {
		if (off[d] + w->cdim[d] > w->dim[d] || (d > j && w->cdim[d] != w->dim[d]))
			return NULL;
		at = at * w->dim[d] + off[d];
	}
	return w->buf + at * w->esize;
}

/* pool_fn: chunk i of the batch encoded into its slot of k->zb. */
static void wchunk_encode(void *ctx, size_t i, unsigned worker)
{
	wbatch *w = ctx;
	const unsigned char *src = wchunk_run(w, w->off[i]);
	unsigned char *z = w->k->zb + i * H5LZ4_ENCODED_MAX(w->cbytes);
	if (!src) { /* padded with zeros, as HDF5 pads an edge chunk */
		static const hsize_t zero[CK_MAX_RANK];
		unsigned char *g = w->k->gb + (size_t)worker * w->cbytes;
		memset(g, 0, (size_t)w->cbytes);
		chunk_copy(w->rank, w->esize, w->cdim, g, w->off[i], zero, w->dim, (unsigned char *)w->buf, 1);
		src = g;
	}
	w->zn[i] = h5lz4_encode(src, (size_t)w->cbytes, z);
}

/* A chunked dataset's bytes from buf, chunk by chunk, encoded on the pool. */
static int write_chunks(h5sink *k, size_t i, hid_t ds, const hsize_t *cdim, const void *buf, ck_err *e)
{
	char why[256];
	const ck_tinfo *t = &k->t[i];
	hsize_t dim[CK_MAX_RANK];
	uint64_t nchunks = 1;
	wbatch *w = ck_calloc(e, 1, sizeof *w);
	if (!w)
		return CK_ENOMEM;
	*w = (wbatch){.k = k, .buf = buf, .rank = t->shape.rank, .esize = ck_dtype_size(t->dtype), .dim = dim, .cdim = cdim,
		.cbytes = ck_dtype_size(t->dtype)};
	for (int d = 0; d < w->rank; d++) {
		dim[d] = (hsize_t)t->shape.dim[d];
		w->cbytes *= cdim[d];
		nchunks *= (dim[d] + cdim[d] - 1) / cdim[d];
	}
	if (!k->pool)
		k->pool = pool_new(pool_default_size());
	size_t zslot = H5LZ4_ENCODED_MAX(w->cbytes);
	int rc = 0;
	if (grow(&k->zb, &k->zcap, WBATCH * zslot) < 0 || grow(&k->gb, &k->gcap, pool_size(k->pool) * (size_t)w->cbytes) < 0)
		rc = ck_errf(e, CK_ENOMEM, "%s: dataset '%s': out of memory for its LZ4 chunks", k->path, t->name);
	for (w->first = 0; !rc && w->first < nchunks; w->first += WBATCH) {
		size_t n = nchunks - w->first < WBATCH ? (size_t)(nchunks - w->first) : WBATCH;
		for (size_t c = 0; c < n; c++)
			wchunk_origin(w, w->first + c, w->off[c]);
		pool_run(k->pool, n, wchunk_encode, w);
		for (size_t c = 0; c < n && !rc; c++)
			if (!w->zn[c] || H5Dwrite_chunk(ds, H5P_DEFAULT, 0, w->off[c], w->zn[c], k->zb + c * zslot) < 0)
				rc = ck_errf(e, CK_EIO, "%s: dataset '%s': writing an LZ4 chunk failed: %s", k->path, t->name,
					h5_why(why));
	}
	free(w);
	return rc;
}

/* The dataset's chunk dims into cdim: 1 when chunked, 0 when not, -1 on failure. */
static int ds_chunked(hid_t ds, int rank, hsize_t *cdim)
{
	hid_t p = H5Dget_create_plist(ds);
	int r = p < 0 ? -1 : H5Pget_layout(p) != H5D_CHUNKED ? 0 : H5Pget_chunk(p, rank, cdim) == rank ? 1 : -1;
	close_id(&p, H5Pclose);
	return r;
}

/* Tensor i's checksum: its attribute now, or, in a shared file, at commit (attributes are file
 * metadata, which parallel HDF5 changes only in calls every rank makes together). */
static herr_t put_sum(h5sink *k, hid_t ds, size_t i, unsigned long long h)
{
	if (!k->mine)
		return attr_put(ds, H5CK_CHECKSUM_ATTR, H5T_STD_U64LE, -1, NULL, &h);
	k->sums[i] = h;
	return 0;
}

/* Tensor i's bytes into its dataset, with their checksum: `sum` when have_sum, else computed. */
static int write_tensor(h5sink *k, size_t i, const void *buf, int have_sum, unsigned long long sum, ck_err *e)
{
	char why[256];
	hid_t ds = -1, ty = -1;
	int rc = 0;
	if (i >= k->n)
		return ck_errf(e, CK_EINVALID, "%s: tensor index %zu out of range (%zu tensors)", k->path, i, k->n);
	if (k->mine && !k->mine[i]) /* a peer's: a group with targets of two ranks runs on both */
		return 0;
	if (k->written[i])
		return ck_errf(e, CK_EINVALID, "%s: tensor '%s' written twice", k->path, k->t[i].name);
	if (!buf && k->t[i].nbytes)
		return ck_errf(e, CK_EINVALID, "%s: tensor '%s': no data buffer", k->path, k->t[i].name);
	if (k->t[i].nbytes) {
		/* ckconv's own integrity record: xxHash64 of the tensor's bytes (extra attributes are
		 * ignored by cstorch); `ckconv verify` and every read check it */
		unsigned long long h = have_sum ? sum : XXH64(buf, (size_t)k->t[i].nbytes, 0);
		hsize_t cdim[CK_MAX_RANK];
		int chunked = -1;
		if ((ds = H5Dopen2(k->fid, k->t[i].name, H5P_DEFAULT)) < 0 || (ty = dtype_h5(k->t[i].dtype)) < 0 ||
			(chunked = ds_chunked(ds, k->t[i].shape.rank, cdim)) < 0 ||
			(!chunked && H5Dwrite(ds, ty, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0))
			rc = ck_errf(e, CK_EIO, "%s: dataset '%s': write failed: %s", k->path, k->t[i].name, h5_why(why));
		else if (chunked)
			rc = write_chunks(k, i, ds, cdim, buf, e);
		if (!rc && put_sum(k, ds, i, h) < 0)
			rc = ck_errf(e, CK_EIO, "%s: dataset '%s': write failed: %s", k->path, k->t[i].name, h5_why(why));
		if (!rc)
			start_writeback(k, ds);
	}
	close_id(&ty, H5Tclose);
	close_id(&ds, H5Dclose);
	if (!rc)
		k->written[i] = 1;
	return rc;
}

static int sink_write(ck_tsink *base, size_t i, const void *buf, ck_err *e)
{
	return write_tensor((h5sink *)base, i, buf, 0, 0, e);
}

static int sink_write_hashed(ck_tsink *base, size_t i, const void *buf, uint64_t xxh64, ck_err *e)
{
	return write_tensor((h5sink *)base, i, buf, 1, xxh64, e);
}

/* "<key>.__metadata__" JSON for one tensor (notes §4.5). */
static char *key_metadata(const ck_tinfo *t)
{
	char *ts = NULL, *text = NULL, *mname = NULL;
	json_t *keys = json_pack("[s]", t->name), *shape = json_array(), *doc = NULL;
	size_t mlen = strlen(t->name) + sizeof ".__metadata__";
	for (int i = 0; shape && i < t->shape.rank; i++)
		if (json_array_append_new(shape, json_integer(t->shape.dim[i])))
			json_decref(shape), shape = NULL;
	if (!keys || !shape || !(ts = ts_text(ts_dict(keys, ts_leaves(1)))) || !(mname = malloc(mlen)))
		goto done;
	snprintf(mname, mlen, "%s.__metadata__", t->name);
	doc = json_pack("{s:[{s:s}, s], s:O, s:{s:b, s:[O], s:[s], s:[i], s:s, s:b, s:b}}",
		"__spec__", t->name, "*", ts, "__objects__", keys, mname,
		"__TORCH__", 1, "shapes", shape, "dtypes", ck_dtype_torch_name(t->dtype),
		"rtfx_dtypes", rtfx_code(t->dtype), "__TYPE__", "TorchTensorSerializer",
		"__NUMPY__", 1, "compressed", 0);
	text = pj_text(doc, 4);
done:
	json_decref(doc);
	json_decref(keys);
	json_decref(shape);
	free(ts);
	free(mname);
	return text;
}

/* The root "__spec__": [the state dict with "*" leaves, treespec string] (notes §3.1). */
static char *spec_text(const h5sink *k)
{
	json_t *names = json_array(), *star = json_object(), *tree = NULL, *node = NULL, *tops = NULL, *doc = NULL;
	char *ts = NULL, *text = NULL;
	for (size_t i = 0; names && star && i < k->n; i++)
		if (json_array_append_new(names, json_string(k->names[i])) ||
			json_object_set_new(star, k->names[i], json_string("*")))
			goto done;
	if (!names || !star)
		goto done;
	node = ts_dict(names, ts_leaves(k->n));
	if (k->top) {
		tops = json_pack("[s]", k->top);
		node = node && tops ? ts_dict(tops, json_pack("[o]", node)) : (json_decref(node), NULL);
		tree = json_pack("{s:O}", k->top, star);
	} else {
		tree = json_incref(star);
	}
	ts = ts_text(node);
	if (ts && tree && (doc = json_pack("[O, s]", tree, ts)))
		text = pj_text(doc, 4);
done:
	json_decref(names);
	json_decref(star);
	json_decref(tree);
	json_decref(tops);
	json_decref(doc);
	free(ts);
	return text;
}

static int root_attrs(h5sink *k, ck_err *e)
{
	char why[256], *text = NULL, *aname = NULL;
	double ver = 0.5;
	int rc = 0;
	for (size_t i = 0; i < k->n && !rc; i++) {
		size_t len = strlen(k->t[i].name) + sizeof ".__metadata__";
		if (!(text = key_metadata(&k->t[i])) || !(aname = malloc(len))) {
			rc = ck_errf(e, CK_ENOMEM, "%s: out of memory building metadata for '%s'", k->path, k->t[i].name);
			break;
		}
		snprintf(aname, len, "%s.__metadata__", k->t[i].name);
		if (attr_str(k->fid, aname, text, 0) < 0)
			rc = ck_errf(e, CK_EIO, "%s: root attribute '%s': write failed: %s", k->path, aname, h5_why(why));
		free(text), text = NULL;
		free(aname), aname = NULL;
	}
	for (size_t i = 0; i < k->n_leaf && !rc; i++) {
		size_t len = strlen(k->leaf_key[i]) + sizeof ".__metadata__";
		if (!(aname = malloc(len))) {
			rc = ck_errf(e, CK_ENOMEM, "out of memory");
			break;
		}
		snprintf(aname, len, "%s.__metadata__", k->leaf_key[i]);
		if (attr_str(k->fid, aname, k->leaf_meta[i], 0) < 0)
			rc = ck_errf(e, CK_EIO, "%s: root attribute '%s': write failed: %s", k->path, aname, h5_why(why));
		free(aname), aname = NULL;
	}
	if (rc)
		goto done;
	if (!(text = k->spec ? strdup(k->spec) : spec_text(k))) {
		rc = ck_errf(e, CK_ENOMEM, "%s: out of memory building __spec__", k->path);
		goto done;
	}
	if (attr_str(k->fid, "__spec__", text, 0) < 0 ||
		attr_put(k->fid, "__version__", H5T_IEEE_F64LE, -1, NULL, &ver) < 0 ||
		attr_str(k->fid, "__cstorch_version__", k->cstorch_version, 0) < 0 ||
		(k->prov && attr_str(k->fid, "__ckconv__", k->prov, 0) < 0) ||
		attr_bool(k->fid, "__SUCCESS__", 1) < 0) /* last: marks the file complete */
		rc = ck_errf(e, CK_EIO, "%s: writing root attributes failed: %s", k->path, h5_why(why));
done:
	free(text);
	free(aname);
	return rc;
}

/* Push the temp file's bytes to disk before the rename makes it visible. */
static int sync_file(const char *p)
{
	int fd = open(p, O_RDONLY), rc;
	if (fd < 0)
		return -1;
	rc = fsync(fd);
	close(fd);
	return rc;
}

/* A shared file: every tensor's checksum from the rank that wrote it (0 from the others, so
 * OR-ing them gives it), then the attributes, written by every rank alike. The gather also
 * waits for every rank's data writes, before __SUCCESS__. */
static int shared_sums(h5sink *k, ck_err *e)
{
	char why[256];
	int n = par_size(), rc;
	uint64_t *all = ck_calloc(e, (size_t)n * (k->n ? k->n : 1), sizeof *all);
	if (!all)
		return CK_ENOMEM;
	rc = par_allgather(k->sums, k->n * sizeof *k->sums, all, e);
	for (size_t i = 0; i < k->n && !rc; i++) {
		unsigned long long h = 0;
		hid_t ds = -1;
		for (int r = 0; r < n; r++)
			h |= all[(size_t)r * k->n + i];
		if (k->t[i].nbytes && ((ds = H5Dopen2(k->fid, k->t[i].name, H5P_DEFAULT)) < 0 ||
				       attr_put(ds, H5CK_CHECKSUM_ATTR, H5T_STD_U64LE, -1, NULL, &h) < 0))
			rc = ck_errf(e, CK_EIO, "%s: dataset '%s': checksum attribute: %s", k->path, k->t[i].name, h5_why(why));
		close_id(&ds, H5Dclose);
	}
	free(all);
	return rc;
}

static int sink_commit(ck_tsink *base, ck_err *e)
{
	h5sink *k = (h5sink *)base;
	char why[256];
	int rc = 0;
	for (size_t i = 0; i < k->n; i++)
		if (!k->written[i] && (!k->mine || k->mine[i])) {
			rc = ck_errf(e, CK_EINVALID, "%s: tensor '%s' was never written", k->path, k->t[i].name);
			goto done;
		}
	if ((k->mine && (rc = shared_sums(k, e))) || (rc = root_attrs(k, e)))
		goto done;
	int fe = io_flusher_stop(k->fl, NULL);
	k->fl = NULL;
	if (fe) {
		rc = ck_errf(e, CK_EIO, "%s: fsync of %s failed: %s", k->path, k->tmp, strerror(fe));
		goto done;
	}
	herr_t st = H5Fclose(k->fid);
	k->fid = -1;
	if (st < 0) {
		rc = ck_errf(e, CK_EIO, "%s: closing HDF5 file failed: %s", k->path, h5_why(why));
		goto done;
	}
	if (sync_file(k->tmp) < 0 || (strcmp(k->tmp, k->path) && rename(k->tmp, k->path) < 0)) {
		rc = ck_errf(e, CK_EIO, "%s: cannot publish %s: %s", k->path, k->tmp, strerror(errno));
		goto done;
	}
	free(k->tmp);
	k->tmp = NULL; /* renamed: nothing to unlink */
done:
	sink_free(k);
	return rc;
}

static void sink_abort(ck_tsink *base)
{
	sink_free((h5sink *)base);
}

/* Selects indices [first, first+n) along axis (all of every other axis) in a file space of ds,
 * and makes the matching memory space: the block a slice or a row block reads or writes. */
static int select_block(hid_t ds, const ck_tinfo *t, int axis, uint64_t first, uint64_t n, hid_t *fs, hid_t *ms)
{
	hsize_t start[CK_MAX_RANK] = {0}, count[CK_MAX_RANK];
	for (int d = 0; d < t->shape.rank; d++)
		count[d] = d == axis ? n : (hsize_t)t->shape.dim[d];
	start[axis] = first;
	return (*fs = H5Dget_space(ds)) < 0 || H5Sselect_hyperslab(*fs, H5S_SELECT_SET, start, NULL, count, NULL) < 0 ||
	       (*ms = H5Screate_simple(t->shape.rank, count, NULL)) < 0 ? -1 : 0;
}

/* Reads rows [first, first+n) of a tensor (all of its other axes) into buf. */
typedef int (*rows_fn)(void *ctx, uint64_t first, uint64_t n, void *buf, ck_err *e);

/* xxHash64 of a tensor's bytes, read in row blocks of ~4 MiB, in order: the checksum of a
 * tensor written or read in slices, without holding it whole. */
static int ds_checksum(const ck_tinfo *t, rows_fn rows_of, void *ctx, unsigned long long *out, ck_err *e)
{
	uint64_t row = t->nbytes / (uint64_t)t->shape.dim[0], rows, dim0 = (uint64_t)t->shape.dim[0];
	XXH64_state_t *st = XXH64_createState();
	void *b = NULL;
	int rc = 0;
	rows = row >= ((uint64_t)4 << 20) ? 1 : ((uint64_t)4 << 20) / row; /* ~4 MiB per read */
	if (!st || !(b = buf_get((size_t)(row * (rows < dim0 ? rows : dim0)), e))) {
		rc = CK_ENOMEM;
		goto done;
	}
	XXH64_reset(st, 0);
	for (uint64_t r = 0; r < dim0 && !rc; r += rows) {
		uint64_t n = r + rows <= dim0 ? rows : dim0 - r;
		if (!(rc = rows_of(ctx, r, n, b, e)))
			XXH64_update(st, b, (size_t)(n * row));
	}
	*out = XXH64_digest(st);
done:
	buf_put(b);
	XXH64_freeState(st);
	return rc;
}

/* The sink's rows: its own file, through HDF5 (and so ckconv's LZ4 filter). */
typedef struct sink_rows {
	const char *path;
	hid_t ds, ty;
	const ck_tinfo *t;
} sink_rows;

static int sink_rows_of(void *ctx, uint64_t first, uint64_t n, void *buf, ck_err *e)
{
	sink_rows *c = ctx;
	hid_t fs = -1, ms = -1;
	int rc = 0;
	if (select_block(c->ds, c->t, 0, first, n, &fs, &ms) < 0 || H5Dread(c->ds, c->ty, ms, fs, H5P_DEFAULT, buf) < 0)
		rc = ck_errf(e, CK_EIO, "%s: dataset '%s': reading for its checksum failed", c->path, c->t->name);
	close_id(&ms, H5Sclose);
	close_id(&fs, H5Sclose);
	return rc;
}

static int sink_write_slice(ck_tsink *base, size_t i, int axis, uint64_t index, const void *buf, ck_err *e)
{
	h5sink *k = (h5sink *)base;
	hid_t ds = -1, ty = -1, fs = -1, ms = -1;
	const ck_tinfo *t;
	char why[256];
	unsigned long long h;
	int rc = 0;
	if (i < k->n && k->mine && !k->mine[i])
		return 0;
	if (i >= k->n || k->written[i])
		return ck_errf(e, CK_EINVALID, "%s: tensor %zu: slice out of place", k->path, i);
	t = &k->t[i];
	if (!k->slices && !(k->slices = ck_calloc(e, k->n, sizeof *k->slices)))
		return CK_ENOMEM;
	if (axis < 0 || axis >= t->shape.rank || index != k->slices[i] || index >= (uint64_t)t->shape.dim[axis] ||
	    !t->nbytes)
		return ck_errf(e, CK_EINVALID, "%s: tensor '%s': slice %llu along axis %d out of order", k->path,
			       t->name, (unsigned long long)index, axis);
	if ((ds = H5Dopen2(k->fid, t->name, H5P_DEFAULT)) < 0 || (ty = dtype_h5(t->dtype)) < 0 ||
	    select_block(ds, t, axis, index, 1, &fs, &ms) < 0 || H5Dwrite(ds, ty, ms, fs, H5P_DEFAULT, buf) < 0)
		rc = ck_errf(e, CK_EIO, "%s: dataset '%s': write failed: %s", k->path, t->name, h5_why(why));
	else if (++k->slices[i] == (uint64_t)t->shape.dim[axis]) { /* complete: record its checksum */
		sink_rows c = {k->path, ds, ty, t};
		if (!(rc = ds_checksum(t, sink_rows_of, &c, &h, e))) {
			if (put_sum(k, ds, i, h) < 0)
				rc = ck_errf(e, CK_EIO, "%s: dataset '%s': write failed: %s", k->path, t->name, h5_why(why));
			else {
				k->written[i] = 1;
				start_writeback(k, ds);
			}
		}
	}
	close_id(&ms, H5Sclose);
	close_id(&fs, H5Sclose);
	close_id(&ty, H5Tclose);
	close_id(&ds, H5Dclose);
	return rc;
}

static const ck_tsink_ops sink_ops = {sink_write, sink_commit, sink_abort, sink_write_slice, sink_write_hashed};

static char *temp_name(const char *path, ck_err *e)
{
	unsigned char r[4] = {0};
	size_t len = strlen(path) + 16;
	char *s = ck_malloc(e, len);
	int fd = open("/dev/urandom", O_RDONLY);
	if (fd < 0 || read(fd, r, sizeof r) != (ssize_t)sizeof r) {
		uint32_t x = (uint32_t)getpid() ^ (uint32_t)time(NULL) ^ (uint32_t)clock();
		memcpy(r, &x, sizeof r);
	}
	if (fd >= 0)
		close(fd);
	if (s)
		snprintf(s, len, "%s.%02x%02x%02x%02x.tmp", path, r[0], r[1], r[2], r[3]);
	return s;
}

/* Keys with '/' become groups, as h5py makes them; created here so they carry no timestamps. */
static int make_groups(h5sink *k, const char *key, hid_t gcpl, ck_err *e)
{
	char why[256], *p = ck_strdup(e, key), *s;
	int rc = 0;
	if (!p)
		return CK_ENOMEM;
	for (s = strchr(p, '/'); s && !rc; s = strchr(s + 1, '/')) {
		*s = '\0';
		htri_t ex = H5Lexists(k->fid, p, H5P_DEFAULT);
		if (ex == 0) {
			hid_t g = H5Gcreate2(k->fid, p, H5P_DEFAULT, gcpl, H5P_DEFAULT);
			if (g < 0)
				rc = ck_errf(e, CK_EIO, "%s: key '%s': cannot create group '%s': %s", k->path, key, p, h5_why(why));
			close_id(&g, H5Gclose);
		} else if (ex < 0) {
			rc = ck_errf(e, CK_EINVALID, "%s: key '%s': bad group path '%s': %s", k->path, key, p, h5_why(why));
		}
		*s = '/';
	}
	free(p);
	return rc;
}

/* HDF5 paths cannot hold empty or "." components; cstorch keys with them are not writable. */
static int key_path_ok(const char *key)
{
	const char *c = key;
	if (!strchr(key, '/'))
		return key[0] != '\0' && strcmp(key, ".") != 0;
	for (;;) {
		const char *s = strchr(c, '/');
		size_t n = s ? (size_t)(s - c) : strlen(c);
		if (n == 0 || (n == 1 && c[0] == '.') || (n == 2 && c[0] == '.' && c[1] == '.'))
			return 0;
		if (!s)
			return 1;
		c = s + 1;
	}
}

/* The dataset's creation properties: contiguous + early allocation + no fill, or LZ4 chunks. */
static hid_t make_dcpl(const ck_tinfo *t, int lz4)
{
	hid_t p = H5Pcreate(H5P_DATASET_CREATE);
	hsize_t c[CK_MAX_RANK];
	unsigned cd = 0;
	uint64_t tail = ck_dtype_size(t->dtype);
	int ok = p >= 0 && H5Pset_obj_track_times(p, 0) >= 0;
	if (lz4 && t->shape.rank > 0 && t->nbytes > 0) {
		/* whole trailing dims, as many leading rows as fit in 1 MiB; split further if a row is bigger */
		int r = t->shape.rank, j;
		for (j = 0; j < r; j++)
			c[j] = (hsize_t)t->shape.dim[j];
		for (j = 0; j < r; j++) {
			tail = ck_dtype_size(t->dtype);
			for (int m = j + 1; m < r && tail <= CHUNK_BYTES; m++)
				tail *= (uint64_t)t->shape.dim[m] ? (uint64_t)t->shape.dim[m] : 1;
			if (tail <= CHUNK_BYTES) {
				uint64_t rows = CHUNK_BYTES / tail;
				c[j] = rows < (uint64_t)t->shape.dim[j] ? (hsize_t)rows : (hsize_t)t->shape.dim[j];
				break;
			}
			c[j] = 1;
		}
		ok = ok && H5Pset_chunk(p, r, c) >= 0 && H5Pset_filter(p, LZ4_ID, H5Z_FLAG_OPTIONAL, 1, &cd) >= 0;
	} else {
		ok = ok && H5Pset_layout(p, H5D_CONTIGUOUS) >= 0 && H5Pset_alloc_time(p, H5D_ALLOC_TIME_EARLY) >= 0 &&
			H5Pset_fill_time(p, H5D_FILL_TIME_NEVER) >= 0;
	}
	if (!ok)
		close_id(&p, H5Pclose);
	return p;
}

static int create_dataset(h5sink *k, const ck_tinfo *t, int lz4, hid_t gcpl, ck_err *e)
{
	char why[256];
	hsize_t dims[CK_MAX_RANK];
	hid_t sp = -1, ty = -1, dcpl = -1, lcpl = -1, ds = -1;
	int rc = 0;
	if (!key_path_ok(t->name))
		return ck_errf(e, CK_EINVALID, "%s: key '%s' is not a valid HDF5 path (empty or '.' component)", k->path, t->name);
	if ((rc = make_groups(k, t->name, gcpl, e)))
		return rc;
	if (H5Lexists(k->fid, t->name, H5P_DEFAULT) > 0)
		return ck_errf(e, CK_EINVALID, "%s: duplicate key '%s'", k->path, t->name);
	H5Eclear2(H5E_DEFAULT);
	for (int i = 0; i < t->shape.rank; i++)
		dims[i] = (hsize_t)t->shape.dim[i];
	sp = t->shape.rank ? H5Screate_simple(t->shape.rank, dims, NULL) : H5Screate(H5S_SCALAR);
	ty = dtype_h5(t->dtype);
	dcpl = make_dcpl(t, lz4);
	lcpl = H5Pcreate(H5P_LINK_CREATE);
	if (sp < 0 || ty < 0 || dcpl < 0 || lcpl < 0 ||
		(!is_ascii(t->name) && H5Pset_char_encoding(lcpl, H5T_CSET_UTF8) < 0) ||
		(ds = H5Dcreate2(k->fid, t->name, ty, sp, lcpl, dcpl, H5P_DEFAULT)) < 0) {
		rc = ck_errf(e, CK_EIO, "%s: dataset '%s': cannot create: %s", k->path, t->name, h5_why(why));
		goto done;
	}
	if (tensor_attrs(ds, t) < 0)
		rc = ck_errf(e, CK_EIO, "%s: dataset '%s': cannot write attributes: %s", k->path, t->name, h5_why(why));
done:
	close_id(&ds, H5Dclose);
	close_id(&lcpl, H5Pclose);
	close_id(&dcpl, H5Pclose);
	close_id(&ty, H5Tclose);
	close_id(&sp, H5Sclose);
	return rc;
}

/* Copy and check the declarations; dataset keys become "<top>.<name>". */
static int sink_declare(h5sink *k, const ck_tinfo *t, ck_err *e)
{
	char sh[128];
	for (size_t i = 0; i < k->n; i++) {
		uint64_t nb;
		const char *nm = t[i].name;
		if (!nm || !text_utf8_valid(nm))
			return ck_errf(e, CK_EINVALID, "%s: tensor %zu: name is missing or not UTF-8", k->path, i);
		if ((unsigned)t[i].dtype >= CK_DT__COUNT)
			return ck_errf(e, CK_EINVALID, "%s: tensor '%s': unknown dtype %d", k->path, nm, (int)t[i].dtype);
		if (t[i].shape.rank < 0 || t[i].shape.rank > CK_MAX_RANK)
			return ck_errf(e, CK_EINVALID, "%s: tensor '%s': rank %d outside 0..%d", k->path, nm,
				t[i].shape.rank, CK_MAX_RANK);
		if (ck_tensor_nbytes(t[i].dtype, &t[i].shape, &nb, NULL))
			return ck_errf(e, CK_EINVALID, "%s: tensor '%s': shape %s has a negative dimension or is too large",
				k->path, nm, ck_shape_str(&t[i].shape, sh, sizeof sh));
		if (nb != t[i].nbytes)
			return ck_errf(e, CK_EINVALID, "%s: tensor '%s': nbytes %llu, expected %llu for %s %s", k->path, nm,
				(unsigned long long)t[i].nbytes, (unsigned long long)nb, ck_dtype_st_name(t[i].dtype),
				ck_shape_str(&t[i].shape, sh, sizeof sh));
		size_t len = strlen(nm) + (k->top ? strlen(k->top) + 2 : 1);
		if (!(k->names[i] = ck_strdup(e, nm)) || !(k->t[i].name = ck_malloc(e, len)))
			return CK_ENOMEM;
		snprintf(k->t[i].name, len, "%s%s%s", k->top ? k->top : "", k->top ? "." : "", nm);
		k->t[i].dtype = t[i].dtype;
		k->t[i].shape = t[i].shape;
		k->t[i].nbytes = nb;
	}
	return 0;
}

int h5ck_sink_open(const char *path, const char *top, const ck_tinfo *t, size_t n, const h5ck_opts *o,
	ck_tsink **out, ck_err *e)
{
	static const h5ck_opts defaults = {0};
	char why[256];
	h5sink *k = NULL;
	hid_t fcpl = -1, fapl = -1, gcpl = -1;
	int rc = 0;
	*out = NULL;
	o = o ? o : &defaults;
	h5_quiet();
	if (!path || (n && !t))
		return ck_errf(e, CK_EINVALID, "h5ck_sink_open: missing path or tensor list");
	if (n > MAX_DATASETS)
		return ck_errf(e, CK_ELIMIT, "%s: %zu tensors, limit is %d", path, n, MAX_DATASETS);
	if ((top && !text_utf8_valid(top)) || (o->cstorch_version && !text_utf8_valid(o->cstorch_version)) ||
		(o->provenance_json && !text_utf8_valid(o->provenance_json)))
		return ck_errf(e, CK_EINVALID, "%s: top key, version or provenance is not UTF-8", path);
	if (o->compress_lz4 && o->mine)
		return ck_errf(e, CK_EINVALID, "%s: LZ4 in a file shared by several processes: parallel HDF5 writes "
			"filtered datasets only collectively", path);
	if (o->compress_lz4 && !lz4_avail())
		return ck_errf(e, CK_ENOTFOUND, "%s: LZ4 filter %d could not be registered with HDF5", path, LZ4_ID);
	if (!(k = ck_calloc(e, 1, sizeof *k)))
		return CK_ENOMEM;
	k->base.ops = &sink_ops;
	k->fid = -1;
	k->n = n;
	if (!(k->path = ck_strdup(e, path)) || !(k->t = ck_calloc(e, n, sizeof *k->t)) ||
		!(k->names = ck_calloc(e, n, sizeof *k->names)) || !(k->written = ck_calloc(e, n, 1)) ||
		(top && top[0] && !(k->top = ck_strdup(e, top))) ||
		!(k->cstorch_version = ck_strdup(e, o->cstorch_version ? o->cstorch_version : "2.10.0")) ||
		(o->provenance_json && !(k->prov = ck_strdup(e, o->provenance_json))) ||
		(o->spec && !(k->spec = ck_strdup(e, o->spec))) ||
		(o->mine && (!(k->mine = ck_malloc(e, n ? n : 1)) || !(k->sums = ck_calloc(e, n ? n : 1, sizeof *k->sums))))) {
		rc = CK_ENOMEM;
		goto done;
	}
	if (o->mine && n)
		memcpy(k->mine, o->mine, n);
	if (o->n_leaf && (!(k->leaf_key = ck_calloc(e, o->n_leaf, sizeof *k->leaf_key)) ||
		!(k->leaf_meta = ck_calloc(e, o->n_leaf, sizeof *k->leaf_meta)))) {
		rc = CK_ENOMEM;
		goto done;
	}
	for (size_t i = 0; i < o->n_leaf; i++, k->n_leaf++)
		if (!(k->leaf_key[i] = ck_strdup(e, o->leaf_key[i])) || !(k->leaf_meta[i] = ck_strdup(e, o->leaf_meta[i]))) {
			k->n_leaf++;
			rc = CK_ENOMEM;
			goto done;
		}
	if ((rc = sink_declare(k, t, e)) || !(k->tmp = o->in_place ? ck_strdup(e, path) : temp_name(path, e))) {
		rc = rc ? rc : CK_ENOMEM;
		goto done;
	}
	/* no object timestamps anywhere, so equal inputs give byte-identical files. The root group
	 * holds one "<key>.__metadata__" attribute per tensor: in the default compact storage each
	 * new attribute scans all earlier ones (20k tensors: minutes); dense storage (a name-indexed
	 * B-tree; needs the v2 object header that creation-order tracking gives) keeps it linear */
	if ((fcpl = H5Pcreate(H5P_FILE_CREATE)) < 0 || H5Pset_obj_track_times(fcpl, 0) < 0 ||
		H5Pset_attr_phase_change(fcpl, 0, 0) < 0 || H5Pset_attr_creation_order(fcpl, H5P_CRT_ORDER_TRACKED) < 0 ||
		(gcpl = H5Pcreate(H5P_GROUP_CREATE)) < 0 || H5Pset_obj_track_times(gcpl, 0) < 0 ||
		(fapl = H5Pcreate(H5P_FILE_ACCESS)) < 0 || H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG) < 0 ||
		(k->mine && par_h5_fapl(fapl, NULL)) || (k->fid = H5Fcreate(k->tmp, H5F_ACC_EXCL, fcpl, fapl)) < 0) {
		rc = ck_errf(e, CK_EIO, "%s: cannot create %s: %s", path, k->tmp, h5_why(why));
		free(k->tmp);
		k->tmp = NULL; /* not ours to unlink */
		goto done;
	}
	for (size_t i = 0; i < n && !rc; i++)
		rc = create_dataset(k, &k->t[i], o->compress_lz4, gcpl, e);
	void *h = NULL;
	if (!rc && !k->mine && H5Fget_vfd_handle(k->fid, H5P_DEFAULT, &h) >= 0 && h) {
		k->fd = *(int *)h; /* sec2: a plain fd, open until H5Fclose */
		k->fl = io_flusher_start(&k->fd, 1);
	}
done:
	close_id(&fcpl, H5Pclose);
	close_id(&gcpl, H5Pclose);
	close_id(&fapl, H5Pclose);
	if (rc)
		sink_free(k);
	else
		*out = &k->base;
	return rc;
}

/* ---- reading: attributes ---- */

/* Read a string attribute (vlen or fixed, one element). *out NULL and 0 when absent. */
static int attr_get_str(hid_t loc, const char *name, size_t max, char **out, const char *file, ck_err *e)
{
	char why[256];
	hid_t a = -1, ft = -1, mt = -1, sp = -1;
	char *v = NULL;
	int rc = 0;
	*out = NULL;
	htri_t ex = H5Aexists(loc, name);
	if (ex <= 0) {
		H5Eclear2(H5E_DEFAULT);
		return 0;
	}
	if ((a = H5Aopen(loc, name, H5P_DEFAULT)) < 0 || (ft = H5Aget_type(a)) < 0 || (sp = H5Aget_space(a)) < 0) {
		rc = ck_errf(e, CK_EIO, "%s: attribute '%s': cannot open: %s", file, name, h5_why(why));
		goto done;
	}
	if (H5Tget_class(ft) != H5T_STRING || H5Sget_simple_extent_npoints(sp) != 1) {
		rc = ck_errf(e, CK_EINVALID, "%s: attribute '%s': expected one string", file, name);
		goto done;
	}
	if (H5Tis_variable_str(ft) > 0) {
		if ((mt = H5Tcopy(H5T_C_S1)) < 0 || H5Tset_size(mt, H5T_VARIABLE) < 0 ||
			H5Tset_cset(mt, H5Tget_cset(ft)) < 0 || H5Aread(a, mt, &v) < 0) {
			rc = ck_errf(e, CK_EIO, "%s: attribute '%s': read failed: %s", file, name, h5_why(why));
			goto done;
		}
		size_t len = v ? strnlen(v, max + 1) : 0;
		if (len > max)
			rc = ck_errf(e, CK_ELIMIT, "%s: attribute '%s' longer than %zu bytes", file, name, max);
		else if (!(*out = ck_malloc(e, len + 1)))
			rc = CK_ENOMEM;
		else
			memcpy(*out, v ? v : "", len), (*out)[len] = '\0';
		if (v)
			H5free_memory(v);
	} else {
		size_t len = H5Tget_size(ft);
		if (len > max) {
			rc = ck_errf(e, CK_ELIMIT, "%s: attribute '%s' longer than %zu bytes", file, name, max);
		} else if (!(*out = ck_calloc(e, len + 1, 1))) {
			rc = CK_ENOMEM;
		} else if (H5Aread(a, ft, *out) < 0) {
			rc = ck_errf(e, CK_EIO, "%s: attribute '%s': read failed: %s", file, name, h5_why(why));
		}
	}
done:
	if (rc) {
		free(*out);
		*out = NULL;
	}
	close_id(&mt, H5Tclose);
	close_id(&ft, H5Tclose);
	close_id(&sp, H5Sclose);
	close_id(&a, H5Aclose);
	return rc;
}

/* A one-element numeric, bool or string attribute, as Python's bool() and float() see it.
 * *found is 0 when absent. */
static int attr_get_num(hid_t loc, const char *name, int *found, double *num, int *truthy, const char *file, ck_err *e)
{
	char why[256];
	unsigned char raw[16] = {0};
	hid_t a = -1, ft = -1, sp = -1;
	int rc = 0;
	*found = 0;
	*num = 0;
	*truthy = 0;
	if (H5Aexists(loc, name) <= 0) {
		H5Eclear2(H5E_DEFAULT);
		return 0;
	}
	if ((a = H5Aopen(loc, name, H5P_DEFAULT)) < 0 || (ft = H5Aget_type(a)) < 0 || (sp = H5Aget_space(a)) < 0) {
		rc = ck_errf(e, CK_EIO, "%s: attribute '%s': cannot open: %s", file, name, h5_why(why));
		goto done;
	}
	H5T_class_t c = H5Tget_class(ft);
	size_t sz = H5Tget_size(ft);
	if (H5Sget_simple_extent_npoints(sp) != 1 ||
		!(c == H5T_FLOAT || c == H5T_INTEGER || c == H5T_ENUM || c == H5T_BITFIELD) || sz > 8) {
		rc = ck_errf(e, CK_EINVALID, "%s: attribute '%s': expected one number or bool", file, name);
		goto done;
	}
	*found = 1;
	if (c == H5T_FLOAT || c == H5T_INTEGER) {
		if (H5Aread(a, H5T_NATIVE_DOUBLE, num) < 0)
			rc = ck_errf(e, CK_EIO, "%s: attribute '%s': read failed: %s", file, name, h5_why(why));
		*truthy = *num != 0;
	} else {
		/* enums (h5py bool) do not convert to numbers: read the raw value, any set bit is true */
		if (H5Aread(a, ft, raw) < 0)
			rc = ck_errf(e, CK_EIO, "%s: attribute '%s': read failed: %s", file, name, h5_why(why));
		for (size_t i = 0; i < sz; i++)
			*truthy |= raw[i] != 0;
		*num = *truthy;
	}
done:
	close_id(&ft, H5Tclose);
	close_id(&sp, H5Sclose);
	close_id(&a, H5Aclose);
	return rc;
}

/* Blank out Python's bare NaN/Infinity (same length): only scalar leaves carry them and those
 * are not read here. */
static void json_blank_nonfinite(char *s)
{
	char *p;
	size_t n;
	for (; (p = (char *)text_json_nonfinite(s, &n)); s = p + n) {
		p[0] = '0';
		memset(p + 1, ' ', n - 1);
	}
}

static json_t *parse_json(char *text, const char *file, const char *what, ck_err *e)
{
	json_error_t je;
	json_blank_nonfinite(text);
	json_t *j = json_loads(text, 0, &je);
	if (!j)
		ck_errf(e, CK_EINVALID, "%s: %s: bad JSON at line %d column %d: %s", file, what, je.line, je.column, je.text);
	return j;
}

/* ---- reading: the source ---- */

typedef struct h5src {
	ck_tsrc base;
	hid_t fid;
	hid_t dapl;    /* every dataset open: external links refused (see ds_open) */
	char **ds;     /* dataset path per tensor (aliases point at their target's) */
	unsigned char *deferred; /* per tensor: 1 for a DeferredFullTensor (no dataset: every element fill[i]) */
	double *fill;
	char *prov;
	size_t cap;
	uint64_t fsize;  /* the file's size: no storage may lie past it */
	int fd;          /* the sec2 driver's fd for direct chunk reads (pread), -1: through HDF5 */
	pool *pool;      /* chunk decoding threads, started at the first chunked read */
	struct scratch { unsigned char *z, *c; size_t zcap, ccap; } sc[POOL_MAX]; /* per thread: one
	                 * run of stored chunks, one decoded chunk (reused) */
	struct cjob *job; /* one batch of chunks */
	size_t *run;      /* the batch's runs of chunks read at once: first job of each, then the end */
	h5raw *root;     /* the root group's attributes read in one pass (NULL: HDF5 reads them by name) */
	strmap links;    /* the root group's links by name -> index in link (read in one pass) */
	struct rlink { haddr_t addr; H5L_type_t type; } *link;
	size_t nlink, lcap;
} h5src;

static void src_free(ck_tsrc *base)
{
	h5src *s = (h5src *)base;
	if (!s)
		return;
	close_id(&s->fid, H5Fclose);
	close_id(&s->dapl, H5Pclose);
	for (size_t i = 0; s->ds && i < s->base.n; i++)
		free(s->ds[i]);
	free(s->ds);
	free(s->deferred);
	free(s->fill);
	ck_tinfo_array_free(s->base.t, s->base.n);
	free(s->base.path);
	free(s->prov);
	pool_free(s->pool);
	for (int w = 0; w < POOL_MAX; w++)
		free(s->sc[w].z), free(s->sc[w].c);
	free(s->job);
	free(s->run);
	h5raw_free(s->root);
	strmap_dispose(&s->links);
	free(s->link);
	free(s);
}

/* ---- reading: the root group's attributes ----
 * A cstorch file keeps one attribute per key in the root group; in h5py's compact storage HDF5
 * finds one by name by scanning them all. They are read here once, in one pass over the root
 * object header (h5raw.c), and looked up in a hash map; HDF5 reads them only when h5raw declines
 * (a version-2 header: ckconv's own dense storage, where HDF5's lookup is a B-tree). */

static int root_load(h5src *s, ck_err *e)
{
	char why[256];
	H5O_info_t oi;
	hid_t fcpl = -1;
	hsize_t ub = 0;
	size_t sa = 0, ss = 0;
	void *h = NULL;
	struct stat sb;
	const char *w;
	int rc = 0;
	if (H5Oget_info2(s->fid, &oi, H5O_INFO_BASIC) < 0 || (fcpl = H5Fget_create_plist(s->fid)) < 0 ||
		H5Pget_userblock(fcpl, &ub) < 0 || H5Pget_sizes(fcpl, &sa, &ss) < 0 ||
		H5Fget_vfd_handle(s->fid, H5P_DEFAULT, &h) < 0 || !h || fstat(*(int *)h, &sb) < 0) {
		rc = ck_errf(e, CK_EIO, "%s: cannot locate the root group's attributes: %s", s->base.path, h5_why(why));
		goto done;
	}
	h5raw_loc l = {*(int *)h, ub, oi.addr, (uint64_t)sb.st_size, (int)sa, (int)ss};
	if (h5raw_read(&l, &s->root, &w) < 0)
		rc = ck_errf(e, CK_EINVALID, "%s: the root group's attributes are unreadable: %s", s->base.path, w);
done:
	close_id(&fcpl, H5Pclose);
	H5Eclear2(H5E_DEFAULT);
	return rc;
}

/* Root attribute `name` as a string (attr_get_str's contract). */
static int root_str(h5src *s, const char *name, size_t max, char **out, ck_err *e)
{
	const char *f = s->base.path;
	if (!s->root)
		return attr_get_str(s->fid, name, max, out, f, e);
	const h5raw_attr *a = h5raw_get(s->root, name);
	*out = NULL;
	if (!a)
		return 0;
	if (a->kind != H5RAW_STR)
		return ck_errf(e, CK_EINVALID, "%s: attribute '%s': expected one string", f, name);
	size_t len = strnlen(a->str, a->len); /* as a C string, like HDF5's read */
	if (len > max)
		return ck_errf(e, CK_ELIMIT, "%s: attribute '%s' longer than %zu bytes", f, name, max);
	if (!(*out = ck_malloc(e, len + 1)))
		return CK_ENOMEM;
	memcpy(*out, a->str, len);
	(*out)[len] = '\0';
	return 0;
}

/* Root attribute `name` as a number or bool (attr_get_num's contract). */
static int root_num(h5src *s, const char *name, int *found, double *num, int *truthy, ck_err *e)
{
	if (!s->root)
		return attr_get_num(s->fid, name, found, num, truthy, s->base.path, e);
	const h5raw_attr *a = h5raw_get(s->root, name);
	*found = 0;
	*num = 0;
	*truthy = 0;
	if (!a)
		return 0;
	if (a->kind != H5RAW_NUM)
		return ck_errf(e, CK_EINVALID, "%s: attribute '%s': expected one number or bool", s->base.path, name);
	*found = 1;
	*num = a->num;
	*truthy = a->truthy;
	return 0;
}

static herr_t root_link_cb(hid_t g, const char *name, const H5L_info_t *li, void *data)
{
	h5src *s = data;
	(void)g;
	if (s->nlink == s->lcap) {
		size_t cap = s->lcap ? s->lcap * 2 : 64;
		struct rlink *l = realloc(s->link, cap * sizeof *l);
		if (!l)
			return -1;
		s->link = l;
		s->lcap = cap;
	}
	s->link[s->nlink] = (struct rlink){li->type == H5L_TYPE_HARD ? li->u.address : HADDR_UNDEF, li->type};
	if (strmap_put(&s->links, name, s->nlink) < 0)
		return -1;
	s->nlink++;
	return 0;
}

/* The root group's links, in one pass (H5Literate walks the group's index once). */
static int root_links(h5src *s, ck_err *e)
{
	char why[256];
	H5G_info_t gi;
	if (H5Gget_info(s->fid, &gi) < 0)
		return ck_errf(e, CK_EIO, "%s: cannot list the root group: %s", s->base.path, h5_why(why));
	if (gi.nlinks > MAX_DATASETS)
		return ck_errf(e, CK_ELIMIT, "%s: %llu root links, limit is %d", s->base.path,
			(unsigned long long)gi.nlinks, MAX_DATASETS);
	if (H5Literate(s->fid, H5_INDEX_NAME, H5_ITER_NATIVE, NULL, root_link_cb, s) < 0)
		return ck_errf(e, CK_EIO, "%s: cannot list the root group: %s", s->base.path, h5_why(why));
	return 0;
}

/* Memory type for a read: the file type itself (no value conversion), only made little-endian. */
static hid_t mem_type(hid_t ft)
{
	hid_t mt = H5Tcopy(ft);
	H5T_class_t c = H5Tget_class(ft);
	if (mt >= 0 && (c == H5T_INTEGER || c == H5T_FLOAT) && H5Tget_order(ft) == H5T_ORDER_BE &&
		H5Tset_order(mt, H5T_ORDER_LE) < 0)
		close_id(&mt, H5Tclose);
	return mt;
}

/* ---- reading: what a dataset may be (hostile checkpoints; docs/security.md) ----
 * A tensor's bytes must come from this file: every component of its path is a hard link (a soft
 * link may lead anywhere, an external link opens another file), and its storage is contiguous or
 * chunked with no external files. Virtual datasets (data from other files) and compact ones (not
 * written by cstorch or h5py's defaults; HDF5 1.10's compact read path has had out-of-bounds
 * bugs) are refused. All is checked before the first byte is read. */

/* HDF5 asks before it follows an external link: never (the path checks refuse them first; this
 * is the second line, for any call that would traverse one). */
static herr_t elink_refuse(const char *pfile, const char *pgroup, const char *cfile, const char *cobj,
	unsigned *flags, hid_t fapl, void *data)
{
	(void)pfile, (void)pgroup, (void)cfile, (void)cobj, (void)flags, (void)fapl, (void)data;
	return -1;
}

static hid_t safe_dapl(void)
{
	hid_t p = H5Pcreate(H5P_DATASET_ACCESS);
	if (p >= 0 && H5Pset_elink_cb(p, elink_refuse, NULL) < 0)
		close_id(&p, H5Pclose);
	return p;
}

/* One link of a dataset path, `prefix` (a path whose earlier components are already checked). */
static int link_hard(h5src *s, const char *dsname, const char *prefix, ck_err *e)
{
	const char *f = s->base.path;
	char tgt[256] = "";
	H5L_info_t li;
	if (H5Lget_info(s->fid, prefix, &li, s->dapl) < 0) {
		H5Eclear2(H5E_DEFAULT);
		return ck_errf(e, CK_ENOTFOUND, "%s: dataset '%s' not found", f, dsname);
	}
	if (li.type == H5L_TYPE_HARD)
		return 0;
	if (li.type == H5L_TYPE_SOFT)
		return ck_errf(e, CK_EINVALID, "%s: '%s' is a soft link; only hard links inside the checkpoint are followed",
			f, prefix);
	if (li.type == H5L_TYPE_EXTERNAL) {
		char val[1024];
		const char *file = NULL, *obj = NULL;
		unsigned fl;
		if (li.u.val_size <= sizeof val && H5Lget_val(s->fid, prefix, val, sizeof val, s->dapl) >= 0 &&
			H5Lunpack_elink_val(val, li.u.val_size, &fl, &file, &obj) >= 0 && file)
			snprintf(tgt, sizeof tgt, "%s", file);
		H5Eclear2(H5E_DEFAULT);
		return ck_errf(e, CK_EINVALID, "%s: '%s' is an external link (to '%s'); only hard links inside the checkpoint are followed",
			f, prefix, tgt);
	}
	return ck_errf(e, CK_EINVALID, "%s: '%s' is a user-defined link (type %d); only hard links inside the checkpoint are followed",
		f, prefix, (int)li.type);
}

/* Every component of dsname, in order, is a hard link. */
static int path_hard(h5src *s, const char *dsname, ck_err *e)
{
	char *p = ck_strdup(e, dsname);
	int rc = 0;
	if (!p)
		return CK_ENOMEM;
	for (char *c = p; !rc;) {
		char *sl = strchr(c, '/');
		if (sl)
			*sl = '\0';
		if (*c) /* empty components ("a//b", a leading '/') name no link */
			rc = link_hard(s, dsname, p, e);
		if (!sl)
			break;
		*sl = '/';
		c = sl + 1;
	}
	free(p);
	return rc;
}

/* Filter names for refusals (ids from the HDF Group's registry of filters). */
static const char *filter_name(H5Z_filter_t id)
{
	switch (id) {
	case 1: return "deflate (gzip)";
	case 2: return "shuffle";
	case 3: return "fletcher32";
	case 4: return "szip";
	case 5: return "nbit";
	case 6: return "scaleoffset";
	case 307: return "bzip2";
	case 32000: return "lzf";
	case 32001: return "blosc";
	case 32004: return "lz4";
	case 32008: return "bitshuffle";
	case 32013: return "zfp";
	case 32015: return "zstd";
	case 32017: return "sz";
	case 32026: return "blosc2";
	default: return "an unknown";
	}
}

/* Only what cstorch writes: no filter, or LZ4 alone on a chunked dataset. Any other decoder is
 * attack surface (a bzip2 chunk that never ends, a gzip bomb) for files cstorch never makes. */
static int filters_ok(h5src *s, hid_t dcpl, H5D_layout_t lay, const char *dsname, ck_err *e)
{
	int nf = H5Pget_nfilters(dcpl);
	for (int i = 0; i < nf; i++) {
		unsigned flags, cd[8];
		size_t ncd = 8;
		H5Z_filter_t id = H5Pget_filter2(dcpl, (unsigned)i, &flags, &ncd, cd, 0, NULL, NULL);
		if (id != LZ4_ID)
			return ck_errf(e, CK_EINVALID, "%s: dataset '%s' uses the %s filter (id %d); only LZ4 (32004), the "
				"one cstorch writes, is decoded", s->base.path, dsname, filter_name(id), (int)id);
	}
	if (nf < 0 || nf > 1 || (nf == 1 && lay != H5D_CHUNKED))
		return ck_errf(e, CK_EINVALID, "%s: dataset '%s' has %d filters on %s storage; only one LZ4 filter on "
			"chunked storage is decoded", s->base.path, dsname, nf, lay == H5D_CHUNKED ? "chunked" : "unchunked");
	return 0;
}

/* The dataset's storage: contiguous or chunked, inside this file. */
static int storage_ok(h5src *s, hid_t ds, const char *dsname, ck_err *e)
{
	const char *f = s->base.path;
	char why[256], ext[256] = "";
	hid_t dcpl = H5Dget_create_plist(ds);
	int rc = 0;
	if (dcpl < 0)
		return ck_errf(e, CK_EIO, "%s: dataset '%s': %s", f, dsname, h5_why(why));
	H5D_layout_t lay = H5Pget_layout(dcpl);
	int next = H5Pget_external_count(dcpl);
	if (lay != H5D_CONTIGUOUS && lay != H5D_CHUNKED) {
		rc = ck_errf(e, CK_EINVALID, "%s: dataset '%s' has %s layout; only contiguous or chunked datasets are read", f,
			dsname, lay == H5D_VIRTUAL ? "virtual" : lay == H5D_COMPACT ? "compact" : "an unknown");
	} else if ((rc = filters_ok(s, dcpl, lay, dsname, e))) {
		;
	} else if (next != 0) {
		off_t off;
		hsize_t size;
		if (next < 0 || H5Pget_external(dcpl, 0, sizeof ext, ext, &off, &size) < 0)
			snprintf(ext, sizeof ext, "?");
		ext[sizeof ext - 1] = '\0';
		rc = ck_errf(e, CK_EINVALID, "%s: dataset '%s' has external storage (file '%s'); only data inside the checkpoint is read",
			f, dsname, ext);
	}
	H5Eclear2(H5E_DEFAULT);
	close_id(&dcpl, H5Pclose);
	return rc;
}

/* Open a tensor's dataset into *ds after the path and storage checks (*ds -1 when refused). */
static int ds_open(h5src *s, const char *dsname, hid_t *ds, ck_err *e)
{
	char why[256];
	int rc;
	size_t li;
	*ds = -1;
	if (!strchr(dsname, '/') && strmap_get(&s->links, dsname, &li) && s->link[li].type == H5L_TYPE_HARD) {
		/* a key in the root group: opened at the address its hard link names, found in the map
		 * (HDF5's lookup by name scans the root's object header, all keys' attributes) */
		if ((*ds = H5Oopen_by_addr(s->fid, s->link[li].addr)) < 0)
			return ck_errf(e, CK_EIO, "%s: dataset '%s': cannot open: %s", s->base.path, dsname, h5_why(why));
		if (H5Iget_type(*ds) != H5I_DATASET) {
			close_id(ds, H5Oclose);
			return ck_errf(e, CK_EINVALID, "%s: '%s' is not a dataset", s->base.path, dsname);
		}
	} else if ((rc = path_hard(s, dsname, e))) {
		return rc;
	} else if ((*ds = H5Dopen2(s->fid, dsname, s->dapl)) < 0) {
		return ck_errf(e, CK_EIO, "%s: dataset '%s': cannot open: %s", s->base.path, dsname, h5_why(why));
	}
	if ((rc = storage_ok(s, *ds, dsname, e)))
		close_id(ds, H5Dclose);
	return rc;
}

/* The stored checksum, when there is one, against `got`. */
static int check_sum(h5src *s, hid_t ds, const ck_tinfo *t, unsigned long long got, ck_err *e)
{
	unsigned long long stored = 0;
	int rc = 0;
	if (H5Aexists(ds, H5CK_CHECKSUM_ATTR) <= 0)
		return 0;
	hid_t a = H5Aopen(ds, H5CK_CHECKSUM_ATTR, H5P_DEFAULT);
	if (a < 0 || H5Aread(a, H5T_NATIVE_ULLONG, &stored) < 0)
		rc = ck_errf(e, CK_ECORRUPT, "%s: tensor '%s': its checksum attribute is unreadable", s->base.path, t->name);
	else if (stored != got)
		rc = ck_errf(e, CK_ECORRUPT, "%s: tensor '%s': checksum mismatch (stored xxh64 %016llx, data gives %016llx): "
			"the file is damaged", s->base.path, t->name, stored, got);
	close_id(&a, H5Aclose);
	return rc;
}

/* ---- reading: the bytes ----
 * Contiguous datasets are read by HDF5 (no filter can apply). Chunked ones never go through
 * HDF5's filter pipeline: each chunk is fetched raw (H5Dread_chunk) and decoded here, after
 * its stored size and LZ4 header are checked against the chunk's declared size, so a chunk
 * cannot decode to more than the tensor it belongs to. Storage never written (fill value only)
 * and storage past the end of the file are refused: bytes produced are bounded by bytes read
 * (LZ4's own ratio, at most ~255:1, is the only amplification). */

/* A dataset open for reading, its geometry checked. */
typedef struct dsr {
	hid_t ds, mt;        /* mt: memory type for contiguous reads (little-endian) */
	const char *name;
	int rank, chunked, lz4, swap; /* swap: big-endian elements, swapped after a raw read */
	size_t esize;
	hsize_t dim[CK_MAX_RANK], cdim[CK_MAX_RANK];
	uint64_t cbytes;     /* one chunk's decoded size */
} dsr;

static void coord_str(const hsize_t *c, int rank, char *buf, size_t n)
{
	size_t o = 0;
	buf[0] = '\0';
	for (int d = 0; d < rank && o < n; d++)
		o += (size_t)snprintf(buf + o, n - o, "%s%llu", d ? "," : "", (unsigned long long)c[d]);
}

/* Geometry and allocation of an opened (ds_open) dataset (check_written has counted its chunks at open). */
static int dsr_init(h5src *s, hid_t ds, const char *dsname, dsr *r, ck_err *e)
{
	const char *f = s->base.path;
	char why[256];
	hid_t ft = -1, sp = -1, dcpl = -1;
	uint64_t n = 1;
	int rc = 0;
	memset(r, 0, sizeof *r);
	r->ds = ds;
	r->mt = -1;
	r->name = dsname;
	if ((ft = H5Dget_type(ds)) < 0 || (r->mt = mem_type(ft)) < 0 || (sp = H5Dget_space(ds)) < 0 ||
		(dcpl = H5Dget_create_plist(ds)) < 0) {
		rc = ck_errf(e, CK_EIO, "%s: dataset '%s': %s", f, dsname, h5_why(why));
		goto done;
	}
	r->rank = H5Sget_simple_extent_ndims(sp);
	r->esize = H5Tget_size(ft);
	r->swap = r->esize > 1 && (H5Tget_class(ft) == H5T_INTEGER || H5Tget_class(ft) == H5T_FLOAT) &&
		H5Tget_order(ft) == H5T_ORDER_BE;
	if (r->rank < 0 || r->rank > CK_MAX_RANK || !r->esize || r->esize > 8) {
		rc = ck_errf(e, CK_EINVALID, "%s: dataset '%s': unsupported dataspace or element size", f, dsname);
		goto done;
	}
	H5Sget_simple_extent_dims(sp, r->dim, NULL);
	for (int d = 0; d < r->rank; d++)
		n *= r->dim[d];
	n *= r->esize; /* the caller has checked the shape's byte size does not overflow */
	r->chunked = H5Pget_layout(dcpl) == H5D_CHUNKED;
	r->lz4 = H5Pget_nfilters(dcpl) == 1;
	if (!r->chunked) {
		haddr_t off = H5Dget_offset(ds);
		hsize_t size = H5Dget_storage_size(ds);
		if (n && off == HADDR_UNDEF)
			rc = ck_errf(e, CK_EINVALID, "%s: dataset '%s' was never written (fill value only); cstorch writes every "
				"tensor's bytes", f, dsname);
		else if (n && (size != n || off + size < off || off + size > s->fsize))
			rc = ck_errf(e, CK_EINVALID, "%s: dataset '%s': %llu bytes stored at offset %llu, expected %llu inside "
				"the file's %llu bytes", f, dsname, (unsigned long long)size, (unsigned long long)off,
				(unsigned long long)n, (unsigned long long)s->fsize);
		goto done;
	}
	r->cbytes = r->esize;
	if (H5Pget_chunk(dcpl, r->rank, r->cdim) != r->rank) {
		rc = ck_errf(e, CK_EINVALID, "%s: dataset '%s': chunk rank differs from its rank %d", f, dsname, r->rank);
		goto done;
	}
	for (int d = 0; d < r->rank; d++) {
		if (!r->cdim[d] || r->cdim[d] > (r->dim[d] ? r->dim[d] : 1) || (r->cbytes *= r->cdim[d]) > H5LZ4_BLOCK) {
			rc = ck_errf(e, CK_EINVALID, "%s: dataset '%s': chunk dimension %d is %llu for a dimension of %llu "
				"(chunks hold at most the dataset and 1 GiB)", f, dsname, d, (unsigned long long)r->cdim[d],
				(unsigned long long)r->dim[d]);
			goto done;
		}
	}
done:
	H5Eclear2(H5E_DEFAULT);
	close_id(&dcpl, H5Pclose);
	close_id(&sp, H5Sclose);
	close_id(&ft, H5Tclose);
	if (rc)
		close_id(&r->mt, H5Tclose);
	return rc;
}

static void dsr_done(dsr *r)
{
	close_id(&r->mt, H5Tclose);
}

/* One chunk of a block being read: found and checked by HDF5 on the main thread, then fetched,
 * decoded and put in place on any thread (chunk_run); errors are kept per chunk and reported
 * by the main thread in chunk order. */
typedef struct cjob {
	hsize_t off[CK_MAX_RANK]; /* the chunk's origin in the dataset */
	haddr_t addr;
	hsize_t size;             /* stored bytes */
	int decode, whole;        /* whole: a run of whole rows of the block, decoded in place */
	int err, no;              /* CK_EIO (errno no; -1: the file ended), CK_ECORRUPT (why), CK_ENOMEM */
	const char *why;
} cjob;

#define CJOB_BATCH 1024 /* chunks located before a batch is decoded: bounds the job list */
#define POOL_CHUNK_MAX ((uint64_t)4 << 20) /* larger chunks decode on one thread: scratch per thread */

/* The block being read, shared by the threads decoding its chunks. */
typedef struct cblock {
	h5src *s;
	const dsr *r;
	const hsize_t *start, *count;
	unsigned char *buf;
	uint64_t row;             /* bytes of one row of the block (dimension 0) */
} cblock;

/* Chunk job j's origin and storage, checked: addr, size, whether it needs decoding. */
static int chunk_locate(h5src *s, const dsr *r, cjob *j, ck_err *e)
{
	const char *f = s->base.path;
	char at[128];
	unsigned mask = 0;
	coord_str(j->off, r->rank, at, sizeof at);
	j->addr = HADDR_UNDEF;
	j->size = 0;
	j->err = 0;
	if (H5Dget_chunk_info_by_coord(r->ds, j->off, &mask, &j->addr, &j->size) < 0 || j->addr == HADDR_UNDEF) {
		H5Eclear2(H5E_DEFAULT);
		return ck_errf(e, CK_EINVALID, "%s: dataset '%s': chunk at [%s] was never written (fill value only)", f,
			r->name, at);
	}
	j->decode = r->lz4 && !(mask & 1);
	if (j->addr + j->size < j->addr || j->addr + j->size > s->fsize)
		return ck_errf(e, CK_EINVALID, "%s: dataset '%s': chunk at [%s] lies past the end of the file", f, r->name, at);
	if (j->decode ? j->size > h5lz4_bound(r->cbytes) : j->size != r->cbytes)
		return ck_errf(e, CK_EINVALID, "%s: dataset '%s': chunk at [%s] stores %llu bytes, too many for its "
			"%llu-byte size", f, r->name, at, (unsigned long long)j->size, (unsigned long long)r->cbytes);
	return 0;
}

/* Adjacent stored chunks (h5py writes a dataset's chunks one after another, in chunk order) are
 * fetched by one pread of up to RUN_MAX bytes: ~1,000 reads for a 1 GB cstorch file instead of
 * ~15,000. A chunk larger than that is a run of its own. */
#define RUN_MAX ((uint64_t)1 << 20)

/* Job j can be read straight into its place in the block: whole rows, stored as they are. */
static int chunk_direct(const cblock *b, const cjob *j)
{
	return j->whole && !j->decode && b->s->fd >= 0;
}

/* Where whole job j goes in the block. */
static unsigned char *chunk_dst(const cblock *b, const cjob *j)
{
	return b->buf + (j->off[0] - b->start[0]) * b->row;
}

/* Splits the batch's n jobs into runs (s->run[k] .. s->run[k+1]), each one read: jobs stored
 * back to back in the file, read either all into scratch or (chunk_direct, consecutive in
 * the block too) all straight into the block. Without the file's fd every job is its own run
 * (H5Dread_chunk reads one chunk). Returns the number of runs. */
static size_t chunk_runs(const cblock *b, size_t n)
{
	h5src *s = b->s;
	size_t nrun = 0;
	uint64_t bytes = 0;
	for (size_t i = 0; i < n; i++) {
		const cjob *p = i ? &s->job[i - 1] : NULL, *j = &s->job[i];
		int join = p && s->fd >= 0 && p->addr + p->size == j->addr && bytes + j->size <= RUN_MAX &&
			chunk_direct(b, p) == chunk_direct(b, j) &&
			(!chunk_direct(b, j) || chunk_dst(b, p) + b->r->cbytes == chunk_dst(b, j));
		if (join) {
			bytes += j->size;
			continue;
		}
		s->run[nrun++] = i;
		bytes = j->size;
	}
	s->run[nrun] = n;
	return nrun;
}

/* Job j's stored bytes at p (read into scratch) put in place: a raw LZ4 block or an unfiltered
 * chunk is copied from where it was read, an LZ4-compressed one decoded (straight into the block
 * when the chunk is whole rows of it, else into a scratch chunk first). */
static void chunk_place(const cblock *b, cjob *j, const unsigned char *p, struct scratch *sc)
{
	const dsr *r = b->r;
	const unsigned char *c = p; /* the chunk's bytes as the dataset declares them */
	unsigned char *dst = j->whole ? chunk_dst(b, j) : NULL;
	if (j->decode && !(c = h5lz4_raw(p, (size_t)j->size, (size_t)r->cbytes))) {
		if (!dst && grow(&sc->c, &sc->ccap, (size_t)r->cbytes) < 0) {
			j->err = CK_ENOMEM;
			return;
		}
		if (h5lz4_decode(p, (size_t)j->size, dst ? dst : sc->c, (size_t)r->cbytes, &j->why) < 0) {
			j->err = CK_ECORRUPT;
			return;
		}
		if (dst)
			return;
		c = sc->c;
	}
	if (dst)
		memcpy(dst, c, (size_t)r->cbytes);
	else /* chunk -> block: chunk_copy only reads c */
		chunk_copy(r->rank, r->esize, r->cdim, (unsigned char *)c, j->off, b->start, b->count, b->buf, 0);
}

/* pool_fn: run k of the batch fetched (pread from the file's fd on any thread, else through
 * HDF5: main thread only, the batch then runs on it alone), its chunks decoded and put in place.
 * A failed read fails every chunk of the run; the first is reported. */
static void chunk_run(void *ctx, size_t k, unsigned w)
{
	const cblock *b = ctx;
	h5src *s = b->s;
	struct scratch *sc = &s->sc[w];
	cjob *j0 = &s->job[s->run[k]], *end = &s->job[s->run[k + 1]];
	uint64_t bytes = end[-1].addr + end[-1].size - j0->addr;
	unsigned char *p = chunk_direct(b, j0) ? chunk_dst(b, j0) : NULL;
	int no = 0, err = 0;
	uint32_t filt = 0;
	if (!p && grow(&sc->z, &sc->zcap, (size_t)bytes) < 0)
		err = CK_ENOMEM;
	else if (!p)
		p = sc->z;
	if (!err && s->fd >= 0)
		err = (no = io_read_at(s->fd, p, (size_t)bytes, (uint64_t)j0->addr)) ? CK_EIO : 0;
	else if (!err && H5Dread_chunk(b->r->ds, H5P_DEFAULT, j0->off, &filt, p) < 0)
		err = CK_EIO, no = EIO;
	for (cjob *j = j0; j < end; j++) {
		j->no = no;
		j->err = err;
		if (!err && !chunk_direct(b, j))
			chunk_place(b, j, p + (j->addr - j0->addr), sc);
	}
}

/* Fetch and decode the batch's n located chunks (on the pool when the file's fd is known and
 * chunks are small), then report the first failure in chunk order. */
static int chunk_batch(cblock *b, size_t n, ck_err *e)
{
	h5src *s = b->s;
	char at[128];
	if (!n)
		return 0;
	size_t nrun = chunk_runs(b, n);
	int par = s->fd >= 0 && b->r->cbytes <= POOL_CHUNK_MAX && nrun > 1;
	if (par && !s->pool)
		s->pool = pool_new(pool_default_size());
	pool_run(par ? s->pool : NULL, nrun, chunk_run, b);
	for (size_t i = 0; i < n; i++) {
		cjob *j = &s->job[i];
		if (!j->err)
			continue;
		coord_str(j->off, b->r->rank, at, sizeof at);
		if (j->err == CK_ENOMEM)
			return ck_errf(e, CK_ENOMEM, "out of memory (%llu bytes for chunks of dataset '%s')",
				(unsigned long long)(RUN_MAX > b->r->cbytes ? RUN_MAX : b->r->cbytes), b->r->name);
		if (j->err == CK_ECORRUPT)
			return ck_errf(e, CK_ECORRUPT, "%s: dataset '%s': chunk at [%s]: %s", s->base.path, b->r->name, at, j->why);
		return ck_errf(e, CK_EIO, "%s: dataset '%s': chunk at [%s]: read failed: %s", s->base.path, b->r->name, at,
			j->no < 0 ? "the file ends first" : strerror(j->no));
	}
	return 0;
}

static void swap_elems(unsigned char *b, uint64_t n, size_t esize)
{
	for (uint64_t k = 0; k < n; k++, b += esize)
		for (size_t a = 0, z = esize - 1; a < z; a++, z--) {
			unsigned char x = b[a];
			b[a] = b[z];
			b[z] = x;
		}
}

/* The block [start, start+count) of the dataset into buf (C order). */
static int dsr_read_block(h5src *s, dsr *r, const hsize_t *start, const hsize_t *count, void *buf, ck_err *e)
{
	char w[256];
	hsize_t c0[CK_MAX_RANK], c1[CK_MAX_RANK], ci[CK_MAX_RANK];
	uint64_t n = 1, row = r->esize;
	int rc = 0, R = r->rank;
	for (int d = 0; d < R; d++) {
		n *= count[d];
		if (d)
			row *= count[d];
	}
	if (!n)
		return 0;
	if (!r->chunked) {
		hid_t fs = -1, ms = -1;
		fs = H5Dget_space(r->ds);
		if (fs < 0 || (R && H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL) < 0) ||
			(ms = R ? H5Screate_simple(R, count, NULL) : H5Screate(H5S_SCALAR)) < 0 ||
			H5Dread(r->ds, r->mt, ms, fs, H5P_DEFAULT, buf) < 0)
			rc = ck_errf(e, CK_EIO, "%s: dataset '%s': read failed: %s", s->base.path, r->name, h5_why(w));
		close_id(&ms, H5Sclose);
		close_id(&fs, H5Sclose);
		return rc;
	}
	if ((!s->job && !(s->job = malloc(CJOB_BATCH * sizeof *s->job))) ||
		(!s->run && !(s->run = malloc((CJOB_BATCH + 1) * sizeof *s->run))))
		return ck_errf(e, CK_ENOMEM, "out of memory (chunk list)");
	cblock b = {s, r, start, count, buf, row};
	size_t nj = 0;
	for (int d = 0; d < R; d++) {
		c0[d] = start[d] / r->cdim[d];
		c1[d] = (start[d] + count[d] - 1) / r->cdim[d];
		ci[d] = c0[d];
	}
	while (!rc) {
		cjob *j = &s->job[nj];
		j->whole = 1; /* the chunk is a run of whole rows of the block: decoded in place */
		for (int d = 0; d < R; d++) {
			j->off[d] = ci[d] * r->cdim[d];
			if (d ? j->off[d] != start[d] || r->cdim[d] != count[d]
			      : j->off[d] < start[d] || j->off[d] + r->cdim[d] > start[d] + count[d])
				j->whole = 0;
		}
		ck_err le = {0};
		if ((rc = chunk_locate(s, r, j, &le))) { /* the chunks before it fail first */
			int brc = chunk_batch(&b, nj, e);
			return brc ? brc : ck_errf(e, rc, "%s", le.msg);
		}
		if (++nj == CJOB_BATCH) {
			rc = chunk_batch(&b, nj, e);
			nj = 0;
		}
		int d = R - 1;
		for (; d >= 0; d--) {
			if (++ci[d] <= c1[d])
				break;
			ci[d] = c0[d];
		}
		if (d < 0)
			break;
	}
	if (!rc)
		rc = chunk_batch(&b, nj, e);
	if (!rc && r->swap)
		swap_elems(buf, n, r->esize);
	return rc;
}

/* Open tensor i's dataset for reading: checked path, storage and size. */
static int src_open_ds(h5src *s, size_t i, dsr *r, ck_err *e)
{
	hid_t ds;
	uint64_t n = 1;
	int rc = ds_open(s, s->ds[i], &ds, e);
	if (rc)
		return rc;
	if ((rc = dsr_init(s, ds, s->ds[i], r, e))) {
		H5Dclose(ds);
		return rc;
	}
	for (int d = 0; d < r->rank; d++)
		n *= r->dim[d];
	if (n * r->esize != s->base.t[i].nbytes) {
		rc = ck_errf(e, CK_EINVALID, "%s: dataset '%s': holds %llu elements of %zu bytes, expected %llu bytes",
			s->base.path, s->ds[i], (unsigned long long)n, r->esize, (unsigned long long)s->base.t[i].nbytes);
		dsr_done(r);
		H5Dclose(ds);
	}
	return rc;
}

/* n bytes of dtype dt, every element v (a deferred constant tensor: nothing is stored). */
static void fill_elems(ck_dtype dt, double v, void *buf, uint64_t n)
{
	size_t es = ck_dtype_size(dt);
	unsigned char one[8] = {0};
	switch (dt) {
	case CK_DT_F64: { double x = v; memcpy(one, &x, 8); break; }
	case CK_DT_F32: { float x = (float)v; memcpy(one, &x, 4); break; }
	case CK_DT_F16: { uint16_t x = cast_f32_to_f16((float)v); memcpy(one, &x, 2); break; }
	case CK_DT_BF16: { uint16_t x = cast_f32_to_bf16((float)v); memcpy(one, &x, 2); break; }
	case CK_DT_BOOL: one[0] = v != 0; break;
	case CK_DT_U8: case CK_DT_U16: case CK_DT_U32: case CK_DT_U64: {
		uint64_t x = v > 0 ? (uint64_t)v : 0;
		memcpy(one, &x, es); /* little-endian: the low bytes */
		break;
	}
	default: { int64_t x = (int64_t)v; memcpy(one, &x, es); break; }
	}
	for (uint64_t o = 0; o + es <= n; o += es)
		memcpy((unsigned char *)buf + o, one, es);
}

static int src_read(ck_tsrc *base, size_t i, void *buf, ck_err *e)
{
	h5src *s = (h5src *)base;
	hsize_t start[CK_MAX_RANK] = {0};
	dsr r;
	int rc;
	if (i >= s->base.n)
		return ck_errf(e, CK_EINVALID, "%s: tensor index %zu out of range (%zu tensors)", s->base.path, i, s->base.n);
	if (!s->base.t[i].nbytes)
		return 0;
	if (s->deferred[i]) {
		fill_elems(s->base.t[i].dtype, s->fill[i], buf, s->base.t[i].nbytes);
		return 0;
	}
	if ((rc = src_open_ds(s, i, &r, e)))
		return rc;
	if (!(rc = dsr_read_block(s, &r, start, r.dim, buf, e)) && H5Aexists(r.ds, H5CK_CHECKSUM_ATTR) > 0)
		rc = check_sum(s, r.ds, &s->base.t[i], XXH64(buf, (size_t)s->base.t[i].nbytes, 0), e);
	dsr_done(&r);
	H5Dclose(r.ds);
	return rc;
}

/* The source's rows, for ds_checksum. */
typedef struct src_rows {
	h5src *s;
	dsr *r;
} src_rows;

static int src_rows_of(void *ctx, uint64_t first, uint64_t n, void *buf, ck_err *e)
{
	src_rows *c = ctx;
	hsize_t start[CK_MAX_RANK] = {0}, count[CK_MAX_RANK];
	memcpy(count, c->r->dim, sizeof count);
	start[0] = first;
	count[0] = n;
	return dsr_read_block(c->s, c->r, start, count, buf, e);
}

/* Slice 0 first checks the whole tensor's checksum (read in row blocks), so no slice of a
 * damaged tensor is ever handed on. */
static int src_read_slice(ck_tsrc *base, size_t i, int axis, uint64_t index, void *buf, ck_err *e)
{
	h5src *s = (h5src *)base;
	hsize_t start[CK_MAX_RANK] = {0}, count[CK_MAX_RANK];
	const ck_tinfo *t;
	unsigned long long h;
	dsr r;
	int rc = 0;
	if (i >= s->base.n)
		return ck_errf(e, CK_EINVALID, "%s: tensor index %zu out of range (%zu tensors)", s->base.path, i, s->base.n);
	t = &s->base.t[i];
	if (axis < 0 || axis >= t->shape.rank || index >= (uint64_t)t->shape.dim[axis] || !t->nbytes)
		return ck_errf(e, CK_EINVALID, "%s: tensor '%s': no slice %llu along axis %d", s->base.path, t->name,
			       (unsigned long long)index, axis);
	if (s->deferred[i]) {
		fill_elems(t->dtype, s->fill[i], buf, t->nbytes / (uint64_t)t->shape.dim[axis]);
		return 0;
	}
	if ((rc = src_open_ds(s, i, &r, e)))
		return rc;
	src_rows c = {s, &r};
	if (r.rank != t->shape.rank)
		rc = ck_errf(e, CK_EINVALID, "%s: dataset '%s': rank %d, expected %d", s->base.path, s->ds[i], r.rank,
			t->shape.rank);
	else if (index == 0 && H5Aexists(r.ds, H5CK_CHECKSUM_ATTR) > 0 && !(rc = ds_checksum(t, src_rows_of, &c, &h, e)))
		rc = check_sum(s, r.ds, t, h, e);
	if (!rc) {
		memcpy(count, r.dim, sizeof count);
		start[axis] = index;
		count[axis] = 1;
		rc = dsr_read_block(s, &r, start, count, buf, e);
	}
	dsr_done(&r);
	H5Dclose(r.ds);
	return rc;
}

static const ck_tsrc_ops src_ops = {src_read, src_free, src_read_slice};

/* Append tensor `name` read from dataset `ds`; shape/dtype filled in later. */
static ck_tinfo *src_add(h5src *s, const char *name, const char *ds, ck_err *e)
{
	if (s->base.n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 64;
		ck_tinfo *t = realloc(s->base.t, cap * sizeof *t);
		if (t)
			s->base.t = t;
		char **d = t ? realloc(s->ds, cap * sizeof *d) : NULL;
		if (d)
			s->ds = d;
		unsigned char *df = d ? realloc(s->deferred, cap) : NULL;
		if (df)
			s->deferred = df;
		double *fv = df ? realloc(s->fill, cap * sizeof *fv) : NULL;
		if (fv)
			s->fill = fv;
		if (!t || !d || !df || !fv) {
			ck_errf(e, CK_ENOMEM, "out of memory");
			return NULL;
		}
		s->cap = cap;
	}
	ck_tinfo *t = &s->base.t[s->base.n];
	memset(t, 0, sizeof *t);
	s->ds[s->base.n] = NULL;
	s->deferred[s->base.n] = 0;
	s->fill[s->base.n] = 0;
	s->base.n++;
	if (!(t->name = ck_strdup(e, name)) || !(s->ds[s->base.n - 1] = ck_strdup(e, ds)))
		return NULL;
	return t;
}

static void type_desc(hid_t ft, char *buf, size_t n)
{
	static const char *cls[] = {"integer", "float", "time", "string", "bitfield", "opaque", "compound",
		"reference", "enum", "vlen", "array"};
	H5T_class_t c = H5Tget_class(ft);
	snprintf(buf, n, "%zu-byte %s", H5Tget_size(ft),
		c >= 0 && (size_t)c < sizeof cls / sizeof *cls ? cls[c] : "unknown");
}

/* The dtype of an HDF5 type as h5py maps it (legacy and numpy leaves); -1 if none. */
static int dtype_of_h5(hid_t ft, int bf16)
{
	H5T_class_t c = H5Tget_class(ft);
	size_t sz = H5Tget_size(ft);
	if (bf16)
		return sz == 2 && (c == H5T_INTEGER || c == H5T_FLOAT) ? CK_DT_BF16 : -1;
	if (c == H5T_ENUM)
		return sz == 1 ? CK_DT_BOOL : -1;
	if (c == H5T_FLOAT)
		return sz == 2 ? CK_DT_F16 : sz == 4 ? CK_DT_F32 : sz == 8 ? CK_DT_F64 : -1;
	if (c != H5T_INTEGER)
		return -1;
	int sgn = H5Tget_sign(ft) == H5T_SGN_2;
	switch (sz) {
	case 1: return sgn ? CK_DT_I8 : CK_DT_U8;
	case 2: return sgn ? CK_DT_I16 : CK_DT_U16;
	case 4: return sgn ? CK_DT_I32 : CK_DT_U32;
	case 8: return sgn ? CK_DT_I64 : CK_DT_U64;
	default: return -1;
	}
}

/* Whether a stored type holds dtype d's bits: same element size and a compatible class. */
static int type_fits(hid_t ft, ck_dtype d)
{
	H5T_class_t c = H5Tget_class(ft);
	size_t sz = H5Tget_size(ft);
	size_t spos, epos, esize, mpos, msize;
	if (sz != ck_dtype_size(d))
		return 0;
	switch (d) {
	case CK_DT_BOOL:
		return c == H5T_ENUM || c == H5T_INTEGER || c == H5T_BITFIELD;
	case CK_DT_F32: case CK_DT_F64:
		return c == H5T_FLOAT;
	case CK_DT_F16: case CK_DT_BF16:
		if (c != H5T_FLOAT)
			return d == CK_DT_BF16 && c == H5T_INTEGER; /* cstorch: bf16 bits in int16 */
		if (H5Tget_fields(ft, &spos, &epos, &esize, &mpos, &msize) < 0)
			return 0;
		return d == CK_DT_F16 ? esize == 5 && msize == 10 : esize == 8 && msize == 7;
	default:
		return c == H5T_INTEGER;
	}
}

/* A dataset whose storage was never (or only partly) written reads as its fill value: a few
 * bytes of file would expand to any size. cstorch writes every tensor's data in full (a
 * DeferredFullTensor has no dataset at all), so such a dataset is refused before it is read.
 * Chunks are counted (H5Dget_space_status calls a filtered dataset partly allocated when its
 * compressed chunks are smaller than the data). */
static int check_written(const char *f, hid_t ds, hid_t dcpl, const char *dsname, const ck_tinfo *t, ck_err *e)
{
	H5D_space_status_t st = H5D_SPACE_STATUS_ERROR;
	hsize_t cdims[H5S_MAX_RANK], have = 0, want = 1;
	int part = 0;
	if (!t->nbytes)
		return 0;
	if (H5Pget_layout(dcpl) == H5D_CHUNKED) {
		int r = H5Pget_chunk(dcpl, H5S_MAX_RANK, cdims);
		hid_t sp = H5Dget_space(ds);
		herr_t ok = sp < 0 ? -1 : H5Dget_num_chunks(ds, sp, &have);
		if (sp >= 0)
			H5Sclose(sp);
		if (r != t->shape.rank || ok < 0)
			return ck_errf(e, CK_EINVALID, "%s: dataset '%s': cannot count its chunks", f, dsname);
		for (int i = 0; i < r; i++) /* nbytes > 0: no dimension is 0, chunk dims are >= 1 */
			want *= ((hsize_t)t->shape.dim[i] + cdims[i] - 1) / cdims[i];
		part = have > 0;
		if (have == want)
			return 0;
	} else if (H5Dget_space_status(ds, &st) >= 0 && st == H5D_SPACE_STATUS_ALLOCATED) {
		return 0;
	}
	return ck_errf(e, CK_EINVALID, "%s: dataset '%s': its data was never %swritten (no storage for %s%llu bytes: "
		"every element would be the fill value)", f, dsname, part ? "fully " : "", part ? "part of its " : "",
		(unsigned long long)t->nbytes);
}

/* Open t's dataset and fill or check its dtype and shape against it. have_dtype: from JSON. */
static int check_dataset(h5src *s, ck_tinfo *t, const char *dsname, int have_dtype, int bf16, ck_err *e)
{
	char why[256], a[128], b[128], td[64];
	hsize_t dims[H5S_MAX_RANK];
	hid_t ds = -1, ft = -1, sp = -1, dcpl = -1;
	ck_shape sh = {0};
	int rc = 0;
	const char *f = s->base.path;
	if ((rc = ds_open(s, dsname, &ds, e)))
		return rc;
	if ((ft = H5Dget_type(ds)) < 0 || (sp = H5Dget_space(ds)) < 0 || (dcpl = H5Dget_create_plist(ds)) < 0) {
		rc = ck_errf(e, CK_EIO, "%s: dataset '%s': %s", f, dsname, h5_why(why));
		goto done;
	}
	H5S_class_t sc = H5Sget_simple_extent_type(sp);
	int rank = H5Sget_simple_extent_ndims(sp);
	if (sc == H5S_NULL || rank < 0 || rank > CK_MAX_RANK) {
		rc = ck_errf(e, CK_EINVALID, "%s: dataset '%s': %s dataspace, expected an array of rank <= %d", f, dsname,
			sc == H5S_NULL ? "NULL" : "unsupported", CK_MAX_RANK);
		goto done;
	}
	H5Sget_simple_extent_dims(sp, dims, NULL);
	sh.rank = rank;
	for (int i = 0; i < rank; i++)
		sh.dim[i] = (int64_t)dims[i];
	if (!have_dtype) {
		int d = dtype_of_h5(ft, bf16);
		if (d < 0) {
			type_desc(ft, td, sizeof td);
			rc = ck_errf(e, CK_EINVALID, "%s: dataset '%s': unsupported HDF5 type (%s)", f, dsname, td);
			goto done;
		}
		t->dtype = (ck_dtype)d;
		t->shape = sh;
	} else if (!ck_shape_eq(&sh, &t->shape)) {
		rc = ck_errf(e, CK_EINVALID, "%s: tensor '%s': dataset shape %s, metadata says %s", f, t->name,
			ck_shape_str(&sh, a, sizeof a), ck_shape_str(&t->shape, b, sizeof b));
		goto done;
	}
	if (!type_fits(ft, t->dtype)) {
		type_desc(ft, td, sizeof td);
		rc = ck_errf(e, CK_EINVALID, "%s: tensor '%s': dataset stores %s elements, expected %s", f, t->name, td,
			ck_dtype_torch_name(t->dtype));
		goto done;
	}
	if (ck_tensor_nbytes(t->dtype, &t->shape, &t->nbytes, NULL)) {
		rc = ck_errf(e, CK_ELIMIT, "%s: tensor '%s': shape %s is too large", f, t->name,
			ck_shape_str(&t->shape, a, sizeof a));
		goto done;
	}
	if ((rc = check_written(f, ds, dcpl, dsname, t, e)))
		goto done;
	dsr r;
	if (!(rc = dsr_init(s, ds, dsname, &r, e)))
		dsr_done(&r);
done:
	H5Eclear2(H5E_DEFAULT);
	close_id(&dcpl, H5Pclose);
	close_id(&ft, H5Tclose);
	close_id(&sp, H5Sclose);
	close_id(&ds, H5Dclose);
	return rc;
}

/* ---- format 0.5 ---- */

typedef struct walk {
	h5src *s;
	char **keys;
	size_t n, cap;
	size_t bytes; /* of all keys emitted so far: the walk's memory */
	text path;
	ck_err *e;
} walk;

static int walk_emit(walk *w)
{
	if (w->n == w->cap) {
		size_t cap = w->cap ? w->cap * 2 : 64;
		char **k = realloc(w->keys, cap * sizeof *k);
		if (!k)
			return ck_errf(w->e, CK_ENOMEM, "out of memory");
		w->keys = k;
		w->cap = cap;
	}
	if (w->n >= MAX_DATASETS)
		return ck_errf(w->e, CK_ELIMIT, "%s: more than %d leaves in __spec__", w->s->base.path, MAX_DATASETS);
	if (w->path.n + 1 > CK_MAX_KEYS_TOTAL - w->bytes)
		return ck_errf(w->e, CK_ELIMIT, "%s: __spec__: keys total more than %zu MiB", w->s->base.path,
			CK_MAX_KEYS_TOTAL >> 20);
	w->bytes += w->path.n + 1;
	if (!(w->keys[w->n] = ck_strdup(w->e, w->path.p ? w->path.p : "")))
		return CK_ENOMEM;
	w->n++;
	return 0;
}

/* Dict keys as Python's str() prints them. */
static int key_str(const json_t *k, char *buf, size_t n, const char **out)
{
	if (json_is_string(k))
		*out = json_string_value(k);
	else if (json_is_integer(k))
		snprintf(buf, n, "%lld", (long long)json_integer_value(k)), *out = buf;
	else if (json_is_boolean(k) || json_is_null(k))
		*out = json_is_null(k) ? "None" : json_is_true(k) ? "True" : "False";
	else
		return -1;
	return 0;
}

/* The child keys of a treespec node: a JSON array (dict-like) or NULL (positional). */
static int node_keys(walk *w, const char *type, const json_t *ctx, size_t nch, json_t **out)
{
	const char *f = w->s->base.path;
	json_t *k = NULL;
	*out = NULL;
	if (!strcmp(type, "builtins.list") || !strcmp(type, "builtins.tuple") || !strcmp(type, "collections.namedtuple"))
		return 0;
	if (strcmp(type, "builtins.dict") && strcmp(type, "collections.OrderedDict") &&
		strcmp(type, "collections.defaultdict"))
		return ck_errf(w->e, CK_EINVALID, "%s: __spec__: unsupported treespec node type '%s'", f, type);
	if (!json_is_string(ctx) || !(k = json_loads(json_string_value(ctx), 0, NULL)))
		return ck_errf(w->e, CK_EINVALID, "%s: __spec__: '%s' node context is not a JSON string", f, type);
	if (json_is_object(k)) { /* defaultdict: {"default_factory_...": ..., "dict_context": [keys]} */
		json_t *dc = json_incref(json_object_get(k, "dict_context"));
		json_decref(k);
		k = dc;
	}
	if (!json_is_array(k) || json_array_size(k) != nch) {
		json_decref(k);
		return ck_errf(w->e, CK_EINVALID, "%s: __spec__: '%s' node has %zu children but its context lists a different number of keys",
			f, type, nch);
	}
	*out = k;
	return 0;
}

/* Flatten a treespec node into w->keys: paths joined with '.', as cstorch's recurse_spec does. */
static int walk_node(walk *w, const json_t *node, int depth, int ncomp)
{
	const char *f = w->s->base.path;
	json_t *keys = NULL;
	int rc = 0;
	if (depth > MAX_DEPTH)
		return ck_errf(w->e, CK_ELIMIT, "%s: __spec__: treespec deeper than %d", f, MAX_DEPTH);
	json_t *type = json_object_get(node, "type"), *ch = json_object_get(node, "children_spec");
	if (!json_is_object(node) || !json_is_array(ch) || !(json_is_null(type) || json_is_string(type)))
		return ck_errf(w->e, CK_EINVALID, "%s: __spec__: malformed treespec node", f);
	if (json_is_null(type))
		return walk_emit(w);
	if ((rc = node_keys(w, json_string_value(type), json_object_get(node, "context"), json_array_size(ch), &keys)))
		return rc;
	for (size_t i = 0; i < json_array_size(ch) && !rc; i++) {
		char num[32];
		const char *ks;
		size_t len = w->path.n;
		if (!keys)
			snprintf(num, sizeof num, "%zu", i), ks = num;
		else if (key_str(json_array_get(keys, i), num, sizeof num, &ks) < 0) {
			rc = ck_errf(w->e, CK_EINVALID, "%s: __spec__: dict key %zu is not a string, int, bool or None", f, i);
			break;
		}
		if (ncomp)
			text_add(&w->path, ".", 1);
		text_add(&w->path, ks, strnlen(ks, CK_MAX_KEY_BYTES + 1));
		if (w->path.oom)
			rc = ck_errf(w->e, CK_ENOMEM, "out of memory");
		else if (w->path.n > CK_MAX_KEY_BYTES) /* checked as it grows: deep long keys cost nothing */
			rc = ck_errf(w->e, CK_ELIMIT, "%s: __spec__: key '%.*s...' is longer than %d bytes", f,
				CK_MAX_QUOTE, w->path.p, CK_MAX_KEY_BYTES);
		else
			rc = walk_node(w, json_array_get(ch, i), depth + 1, ncomp + 1);
		w->path.n = len;
		if (w->path.p)
			w->path.p[len] = '\0';
	}
	json_decref(keys);
	return rc;
}

/* Leaf keys of the root __spec__, in pytree order. */
static int spec_keys(h5src *s, walk *w, ck_err *e)
{
	char *text = NULL;
	json_t *spec = NULL, *ts = NULL;
	const char *f = s->base.path;
	int rc = root_str(s, "__spec__", MAX_SPEC, &text, e);
	if (rc)
		return rc;
	if (!text)
		return ck_errf(e, CK_EINVALID, "%s: root attribute __spec__ missing", f);
	if (!(spec = parse_json(text, f, "__spec__", e))) {
		rc = CK_EINVALID;
		goto done;
	}
	json_t *s1 = json_array_get(spec, 1);
	if (!json_is_array(spec) || json_array_size(spec) != 2 || !json_is_string(s1)) {
		rc = ck_errf(e, CK_EINVALID, "%s: __spec__ is not [tree, treespec string]", f);
		goto done;
	}
	if (!(ts = json_loads(json_string_value(s1), 0, NULL)) || !json_is_array(ts) || json_array_size(ts) != 2 ||
		json_integer_value(json_array_get(ts, 0)) != 1 || !json_is_integer(json_array_get(ts, 0))) {
		rc = ck_errf(e, CK_EINVALID, "%s: __spec__[1] is not a protocol-1 treespec [1, node]", f);
		goto done;
	}
	rc = walk_node(w, json_array_get(ts, 1), 0, 0);
done:
	json_decref(ts);
	json_decref(spec);
	free(text);
	return rc;
}


/* A __LINKED__ leaf: a placeholder tensor at `at` until its target is known. */
typedef struct links {
	size_t *at;
	char **target;
	size_t n;
} links;

static int cmp_tinfo(const void *a, const void *b)
{
	return strcmp((*(ck_tinfo *const *)a)->name, (*(ck_tinfo *const *)b)->name);
}

static int add_link(h5src *s, links *l, const char *sub, const char *target, ck_err *e)
{
	size_t *at = realloc(l->at, (l->n + 1) * sizeof *at);
	if (at)
		l->at = at;
	char **tg = at ? realloc(l->target, (l->n + 1) * sizeof *tg) : NULL;
	if (tg)
		l->target = tg;
	if (!at || !tg)
		return ck_errf(e, CK_ENOMEM, "out of memory");
	if (!(l->target[l->n] = ck_strdup(e, target)))
		return CK_ENOMEM;
	l->at[l->n++] = s->base.n;
	return src_add(s, sub, "", e) ? 0 : CK_ENOMEM;
}

static int add_torch(h5src *s, const char *sub, const json_t *om, ck_err *e)
{
	const char *f = s->base.path;
	json_t *shp = json_array_get(json_object_get(om, "shapes"), 0);
	const char *dt = json_string_value(json_array_get(json_object_get(om, "dtypes"), 0));
	ck_dtype d;
	ck_tinfo *t;
	if (!dt || !json_is_array(shp))
		return ck_errf(e, CK_EINVALID, "%s: tensor '%s': metadata lacks dtypes[0] or shapes[0]", f, sub);
	if (ck_dtype_from_torch(dt, &d) < 0)
		return ck_errf(e, CK_EINVALID, "%s: tensor '%s': unsupported dtype '%s'", f, sub, dt);
	if (json_array_size(shp) > CK_MAX_RANK)
		return ck_errf(e, CK_ELIMIT, "%s: tensor '%s': rank %zu, limit is %d", f, sub, json_array_size(shp), CK_MAX_RANK);
	if (!(t = src_add(s, sub, sub, e)))
		return CK_ENOMEM;
	t->dtype = d;
	t->shape.rank = (int)json_array_size(shp);
	for (int i = 0; i < t->shape.rank; i++) {
		json_t *v = json_array_get(shp, (size_t)i);
		if (!json_is_integer(v) || json_integer_value(v) < 0)
			return ck_errf(e, CK_EINVALID, "%s: tensor '%s': shapes[0][%d] is not a size", f, sub, i);
		t->shape.dim[i] = json_integer_value(v);
	}
	return check_dataset(s, t, sub, 1, 0, e);
}

/* A NestedObject's DeferredFullTensor (object "<key>.0"): a constant tensor cstorch did not
 * materialize; its shape, dtype and fill value are in the JSON and no dataset exists. */
static int add_deferred(h5src *s, const char *sub, const json_t *om, ck_err *e)
{
	const char *f = s->base.path, *dt = json_string_value(json_object_get(om, "dtype"));
	json_t *shp = json_object_get(om, "shape"), *fv = json_object_get(om, "fill_value");
	size_t len = strlen(sub);
	ck_dtype d;
	ck_tinfo *t;
	uint64_t n = 1;
	if (len < 3 || strcmp(sub + len - 2, ".0"))
		return ck_errf(e, CK_EINVALID, "%s: '%s': a DeferredFullTensor outside a NestedObject ('<key>.0')", f, sub);
	if (!dt || !json_is_array(shp) || !json_is_number(fv))
		return ck_errf(e, CK_EINVALID, "%s: '%s': DeferredFullTensor lacks shape, dtype or a numeric fill_value", f, sub);
	if (ck_dtype_from_torch(dt, &d) < 0)
		return ck_errf(e, CK_EINVALID, "%s: '%s': unsupported dtype '%s'", f, sub, dt);
	if (json_array_size(shp) > CK_MAX_RANK)
		return ck_errf(e, CK_ELIMIT, "%s: '%s': rank %zu, limit is %d", f, sub, json_array_size(shp), CK_MAX_RANK);
	char *name = ck_strdup(e, sub);
	if (!name)
		return CK_ENOMEM;
	name[len - 2] = '\0';
	t = src_add(s, name, name, e);
	free(name);
	if (!t)
		return CK_ENOMEM;
	s->deferred[s->base.n - 1] = 1;
	s->fill[s->base.n - 1] = json_number_value(fv);
	t->dtype = d;
	t->shape.rank = (int)json_array_size(shp);
	for (int i = 0; i < t->shape.rank; i++) {
		json_t *v = json_array_get(shp, (size_t)i);
		if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > (1LL << 40))
			return ck_errf(e, CK_EINVALID, "%s: '%s': shape[%d] is not a size", f, sub, i);
		t->shape.dim[i] = json_integer_value(v);
		if (n > (UINT64_MAX >> 1) / ((uint64_t)t->shape.dim[i] + 1))
			return ck_errf(e, CK_ELIMIT, "%s: '%s': shape too large", f, sub);
		n *= (uint64_t)t->shape.dim[i];
	}
	t->nbytes = n * ck_dtype_size(d);
	return 0;
}

/* One object of a per-key metadata: a tensor, a numpy array, an alias, or something skipped. */
static int add_object(h5src *s, links *l, const char *sub, const json_t *om, ck_err *e)
{
	const char *f = s->base.path, *type = json_string_value(json_object_get(om, "__TYPE__"));
	ck_tinfo *t;
	if (!type)
		return ck_errf(e, CK_EINVALID, "%s: key '%s': metadata has no __TYPE__", f, sub);
	if (json_is_true(json_object_get(om, "__LINKED__"))) {
		const char *target = json_string_value(json_object_get(om, "key"));
		if (!target)
			return ck_errf(e, CK_EINVALID, "%s: key '%s': LinkedObject without a target 'key'", f, sub);
		return add_link(s, l, sub, target, e);
	}
	if (!strcmp(type, "TorchTensorSerializer"))
		return add_torch(s, sub, om, e);
	if (!strcmp(type, "DeferredFullTensor"))
		return add_deferred(s, sub, om, e);
	if (!strcmp(type, "NumpyArraySerializer")) {
		if (!(t = src_add(s, sub, sub, e)))
			return CK_ENOMEM;
		return check_dataset(s, t, sub, 0, json_is_true(json_object_get(om, "is_bfloat16")), e);
	}
	return 0; /* scalars, strings, None, pickled or deferred objects: not tensors */
}

/* Per-key "<key>.__metadata__": each listed object becomes a tensor, an alias or nothing. */
static int load_key(h5src *s, links *l, const char *key, ck_err *e)
{
	const char *f = s->base.path;
	size_t len = strlen(key) + sizeof ".__metadata__";
	char *aname = ck_malloc(e, len), *text = NULL, *sub = NULL;
	json_t *m = NULL, *objs;
	int rc = 0;
	if (!aname)
		return CK_ENOMEM;
	snprintf(aname, len, "%s.__metadata__", key);
	if ((rc = root_str(s, aname, MAX_META, &text, e)))
		goto done;
	if (!text) {
		rc = ck_errf(e, CK_EINVALID, "%s: key '%s': root attribute '%s' missing", f, key, aname);
		goto done;
	}
	if (!(m = parse_json(text, f, aname, e))) {
		rc = CK_EINVALID;
		goto done;
	}
	if (!json_is_array(objs = json_object_get(m, "__objects__"))) {
		rc = ck_errf(e, CK_EINVALID, "%s: %s: no __objects__ list", f, aname);
		goto done;
	}
	for (size_t i = 0; i < json_array_size(objs) && !rc; i++) {
		const char *o = json_string_value(json_array_get(objs, i));
		if (!o) {
			rc = ck_errf(e, CK_EINVALID, "%s: %s: __objects__[%zu] is not a string", f, aname, i);
			break;
		}
		size_t sl = strlen(o) + sizeof ".__metadata__";
		if (!(sub = ck_malloc(e, sl))) {
			rc = CK_ENOMEM;
			break;
		}
		snprintf(sub, sl, "%s.__metadata__", o);
		json_t *om = json_object_get(m, sub);
		rc = json_is_object(om) ? add_object(s, l, o, om, e)
			: ck_errf(e, CK_EINVALID, "%s: %s: no '%s' object", f, aname, sub);
		free(sub), sub = NULL;
	}
done:
	json_decref(m);
	free(text);
	free(aname);
	return rc;
}

/* Point each alias at its target's dataset; aliases of non-tensors are dropped. Names must be unique. */
static int resolve_links(h5src *s, links *l, ck_err *e)
{
	size_t n = s->base.n, m = 0, k = 0;
	ck_tinfo **idx = NULL;
	unsigned char *drop = NULL, *aliases = NULL;
	int rc = 0;
	if (!(idx = ck_calloc(e, n ? n : 1, sizeof *idx)) || !(drop = ck_calloc(e, n ? n : 1, 1)) ||
	    !(aliases = ck_calloc(e, n ? n : 1, 1))) {
		rc = CK_ENOMEM;
		goto done;
	}
	for (size_t i = 0; i < n; i++)
		idx[i] = &s->base.t[i];
	qsort(idx, n, sizeof *idx, cmp_tinfo);
	for (size_t i = 1; i < n; i++)
		if (!strcmp(idx[i - 1]->name, idx[i]->name)) {
			rc = ck_errf(e, CK_EINVALID, "%s: key '%s' appears twice", s->base.path, idx[i]->name);
			goto done;
		}
	for (size_t j = 0; j < l->n; j++) {
		ck_tinfo key = {.name = l->target[j]}, *kp = &key, **hit;
		size_t at = l->at[j], ti;
		hit = bsearch(&kp, idx, n, sizeof *idx, cmp_tinfo);
		ti = hit ? (size_t)(*hit - s->base.t) : 0;
		if (!hit || !s->ds[ti][0]) { /* target is not a tensor (or itself an alias) */
			drop[at] = 1;
			continue;
		}
		/* each alias reads its target again: tied weights alias a tensor once or twice */
		if (s->base.t[ti].nbytes && ++aliases[ti] > CK_MAX_ALIASES) {
			rc = ck_errf(e, CK_ELIMIT, "%s: tensor '%s' is aliased by more than %d LinkedObjects (each would copy "
				"its %llu bytes again)", s->base.path, s->base.t[ti].name, CK_MAX_ALIASES,
				(unsigned long long)s->base.t[ti].nbytes);
			goto done;
		}
		char *ds = ck_strdup(e, s->ds[ti]);
		if (!ds) {
			rc = CK_ENOMEM;
			goto done;
		}
		free(s->ds[at]);
		s->ds[at] = ds;
		s->deferred[at] = s->deferred[ti];
		s->fill[at] = s->fill[ti];
		s->base.t[at].dtype = s->base.t[ti].dtype;
		s->base.t[at].shape = s->base.t[ti].shape;
		s->base.t[at].nbytes = s->base.t[ti].nbytes;
	}
	for (k = 0; k < n; k++) {
		if (drop[k]) {
			free(s->base.t[k].name);
			free(s->ds[k]);
			continue;
		}
		s->base.t[m] = s->base.t[k];
		s->deferred[m] = s->deferred[k];
		s->fill[m] = s->fill[k];
		s->ds[m++] = s->ds[k];
	}
	s->base.n = m;
done:
	free(idx);
	free(drop);
	free(aliases);
	return rc;
}

static int open_v05(h5src *s, ck_err *e)
{
	walk w = {.s = s, .e = e};
	links l = {0};
	int rc = spec_keys(s, &w, e);
	for (size_t i = 0; i < w.n && !rc; i++)
		rc = load_key(s, &l, w.keys[i], e);
	if (!rc)
		rc = resolve_links(s, &l, e);
	for (size_t i = 0; i < l.n; i++)
		free(l.target[i]);
	free(l.target);
	free(l.at);
	for (size_t i = 0; i < w.n; i++)
		free(w.keys[i]);
	free(w.keys);
	free(w.path.p);
	return rc;
}

/* ---- legacy <= 0.4 ---- */

static int hexval(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* urllib.parse.unquote: %XX to bytes; malformed escapes stay as they are. */
static void unquote(char *s)
{
	char *o = s;
	for (const char *p = s; *p; p++) {
		int hi, lo;
		if (p[0] == '%' && (hi = hexval(p[1])) >= 0 && (lo = hexval(p[2])) >= 0) {
			*o++ = (char)(hi * 16 + lo);
			p += 2;
		} else {
			*o++ = *p;
		}
	}
	*o = '\0';
}

typedef struct names {
	char **v;
	size_t n;
	int oom;
} names;

static herr_t list_cb(hid_t g, const char *name, const H5L_info_t *li, void *data)
{
	names *nl = data;
	H5O_info_t oi;
	if (li->type != H5L_TYPE_HARD || H5Oget_info_by_name2(g, name, &oi, H5O_INFO_BASIC, H5P_DEFAULT) < 0 ||
		oi.type != H5O_TYPE_DATASET) {
		H5Eclear2(H5E_DEFAULT);
		return 0;
	}
	char **v = realloc(nl->v, (nl->n + 1) * sizeof *v);
	if (!v || !(v[nl->n] = strdup(name))) {
		if (v)
			nl->v = v;
		nl->oom = 1;
		return -1;
	}
	nl->v = v;
	nl->n++;
	return 0;
}

/* Legacy datasets carry __H5_TYPE__; only the array kinds are tensors. */
static int open_legacy_one(h5src *s, const char *dsname, ck_err *e)
{
	const char *f = s->base.path;
	char *kind = NULL, *name = NULL;
	double num;
	int found, bf16 = 0, rc;
	hid_t ds;
	if ((rc = ds_open(s, dsname, &ds, e)))
		return rc;
	rc = attr_get_str(ds, "__H5_TYPE__", 256, &kind, f, e);
	if (!rc && kind && (!strcmp(kind, "TorchTensorH5Type") || !strcmp(kind, "NumpyArrayH5Type"))) {
		rc = attr_get_num(ds, "is_bfloat16", &found, &num, &bf16, f, e);
		if (!rc && !(name = ck_strdup(e, dsname)))
			rc = CK_ENOMEM;
		if (!rc) {
			unquote(name);
			ck_tinfo *t = src_add(s, name, dsname, e);
			rc = t ? check_dataset(s, t, dsname, 0, bf16, e) : CK_ENOMEM;
		}
	}
	H5Dclose(ds);
	free(kind);
	free(name);
	return rc;
}

static int open_legacy(h5src *s, ck_err *e)
{
	char why[256];
	H5G_info_t gi;
	names nl = {0};
	int rc = 0;
	if (H5Gget_info(s->fid, &gi) < 0)
		return ck_errf(e, CK_EIO, "%s: cannot list the root group: %s", s->base.path, h5_why(why));
	if (gi.nlinks > MAX_DATASETS)
		return ck_errf(e, CK_ELIMIT, "%s: %llu root links, limit is %d", s->base.path,
			(unsigned long long)gi.nlinks, MAX_DATASETS);
	if (H5Literate(s->fid, H5_INDEX_NAME, H5_ITER_INC, NULL, list_cb, &nl) < 0)
		rc = nl.oom ? ck_errf(e, CK_ENOMEM, "out of memory")
			: ck_errf(e, CK_EIO, "%s: cannot list the root group: %s", s->base.path, h5_why(why));
	for (size_t i = 0; i < nl.n && !rc; i++)
		rc = open_legacy_one(s, nl.v[i], e);
	for (size_t i = 0; i < nl.n; i++)
		free(nl.v[i]);
	free(nl.v);
	H5Eclear2(H5E_DEFAULT);
	return rc;
}

/* ---- open ---- */

int h5ck_is_hdf5(const char *path)
{
	static const unsigned char sig[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};
	unsigned char b[8];
	struct stat sb;
	int fd = -1, ok = 0;
	FILE *fp = path && !io_open_input(path, &fd, &sb, NULL) ? fdopen(fd, "rb") : NULL;
	if (!fp) {
		if (fd >= 0)
			close(fd);
		return 0;
	}
	/* the signature sits at 0, or after a user block of 512, 1024, 2048, ... bytes */
	for (long off = 0; !ok && off >= 0 && off <= (1L << 40); off = off ? off * 2 : 512) {
		if (fseek(fp, off, SEEK_SET) != 0 || fread(b, 1, 8, fp) != 8)
			break;
		ok = !memcmp(b, sig, 8);
	}
	fclose(fp);
	return ok;
}

int h5ck_root_attr(const ck_tsrc *base, const char *name, char **out, ck_err *e)
{
	*out = NULL;
	if (!base || base->ops != &src_ops)
		return ck_errf(e, CK_EINVALID, "h5ck_root_attr: not a packed source");
	const h5src *s = (const h5src *)base;
	int rc = attr_get_str(s->fid, name, strcmp(name, "__spec__") ? MAX_META : MAX_SPEC, out, s->base.path, e);
	H5Eclear2(H5E_DEFAULT);
	return rc;
}

const char *h5ck_provenance(const ck_tsrc *s)
{
	return s && s->ops == &src_ops ? ((const h5src *)s)->prov : NULL;
}

/* The sec2 driver's fd, for reading chunks with pread from any thread, when chunk addresses
 * are file offsets: no user block (HDF5 1.10 reports chunk addresses without it); else -1 and
 * chunks are read through HDF5 on the main thread. */
static int direct_fd(hid_t fid, hid_t fapl)
{
	hsize_t ub = 1;
	void *h = NULL;
	hid_t fcpl = H5Fget_create_plist(fid);
	int ok = fcpl >= 0 && H5Pget_userblock(fcpl, &ub) >= 0 && ub == 0 && H5Pget_driver(fapl) == H5FD_SEC2 &&
		H5Fget_vfd_handle(fid, H5P_DEFAULT, &h) >= 0 && h;
	close_id(&fcpl, H5Pclose);
	H5Eclear2(H5E_DEFAULT);
	return ok ? *(int *)h : -1;
}

/* The whole open, in this process (the sandboxed child runs it first: h5ck_open). */
static int open_here(const char *path, ck_tsrc **out, ck_err *e)
{
	char why[256];
	h5src *s = NULL;
	hid_t fapl = -1;
	double ver;
	int rc = 0, found, ok, fd;
	struct stat sb;
	*out = NULL;
	h5_quiet();
	if (!path)
		return ck_errf(e, CK_EINVALID, "h5ck_open: no path");
	if ((rc = io_open_input(path, &fd, &sb, e))) /* a FIFO would hang HDF5's open */
		return rc;
	close(fd);
	if (!h5ck_is_hdf5(path))
		return ck_errf(e, CK_EINVALID, "%s: not an HDF5 file (no HDF5 signature)", path);
	if (!(s = ck_calloc(e, 1, sizeof *s)))
		return CK_ENOMEM;
	s->base.ops = &src_ops;
	s->fid = -1;
	s->dapl = -1;
	s->fd = -1;
	if (!(s->base.path = ck_strdup(e, path))) {
		rc = CK_ENOMEM;
		goto done;
	}
	if ((s->dapl = safe_dapl()) < 0 || (fapl = H5Pcreate(H5P_FILE_ACCESS)) < 0 ||
		H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG) < 0 ||
		(s->fid = H5Fopen(path, H5F_ACC_RDONLY, fapl)) < 0) {
		rc = ck_errf(e, CK_EIO, "%s: cannot open as HDF5: %s", path, h5_why(why));
		goto done;
	}
	hsize_t fsize = 0;
	if (H5Fget_filesize(s->fid, &fsize) < 0) {
		rc = ck_errf(e, CK_EIO, "%s: cannot get the file size: %s", path, h5_why(why));
		goto done;
	}
	s->fsize = fsize;
	s->fd = direct_fd(s->fid, fapl);
	if ((rc = root_load(s, e)) || (rc = root_links(s, e)) || (rc = root_num(s, "__version__", &found, &ver, &ok, e)))
		goto done;
	if (!found) {
		rc = ck_errf(e, CK_EINVALID, "%s: not a cstorch checkpoint (no __version__ root attribute)", path);
		goto done;
	}
	if ((rc = root_str(s, "__ckconv__", MAX_META, &s->prov, e)))
		goto done;
	if (ver >= 0.5) {
		if ((rc = root_num(s, "__SUCCESS__", &found, &ver, &ok, e)))
			goto done;
		if (!found || !ok) {
			rc = ck_errf(e, CK_EINVALID, "%s: checkpoint is incomplete (__SUCCESS__ missing or false)", path);
			goto done;
		}
		rc = open_v05(s, e);
	} else {
		rc = open_legacy(s, e);
	}
done:
	close_id(&fapl, H5Pclose);
	H5Eclear2(H5E_DEFAULT);
	if (rc)
		src_free(&s->base);
	else
		*out = &s->base;
	return rc;
}

/* ---- the sandbox: libhdf5's own bugs (docs/security.md) ----
 * libhdf5 1.10 decodes object headers, B-trees and heaps of a hostile file with bugs of its own
 * (the fuzz harness found an overflow read and an endless loop), before any check of ours can
 * run. So the metadata is first read in a sandboxed child (sandbox.h): the whole open, then every
 * dataset's header, checksum attribute and chunk index as a read would touch them. A crash,
 * hang or runaway there is one error line; only a file libhdf5 survived is opened here. */

static sandbox_limits box = {0, 0, 0}; /* 0: derived from the file's size (h5ck_sandbox_limits) */

void h5ck_sandbox_limits(unsigned cpu_s, unsigned wall_s)
{
	box.cpu_s = cpu_s;
	box.wall_s = wall_s;
}

/* Every HDF5 structure a read of tensor i parses: its header, checksum, chunk index. The chunk
 * index is walked whole at open (check_written: H5Dget_num_chunks); a read looks each chunk up
 * with H5Dget_chunk_info_by_coord, which in HDF5 1.10 walks the same index from its start until
 * the chunk is found (a prefix of that walk: 85 us for the last of 2,048 chunks), so one lookup
 * here runs the lookup's own code, and looking up every chunk (quadratic in the chunks: half of
 * all lookups of a conversion, ~0.2 s for a 1 GB cstorch file) would parse nothing new. */
static int touch_tensor(h5src *s, size_t i, ck_err *e)
{
	hsize_t off[CK_MAX_RANK] = {0};
	unsigned long long sum;
	dsr r;
	int rc = 0;
	if (s->deferred[i] || !s->base.t[i].nbytes)
		return 0;
	if ((rc = src_open_ds(s, i, &r, e)))
		return rc;
	if (H5Aexists(r.ds, H5CK_CHECKSUM_ATTR) > 0) {
		hid_t a = H5Aopen(r.ds, H5CK_CHECKSUM_ATTR, H5P_DEFAULT);
		if (a >= 0)
			H5Aread(a, H5T_NATIVE_ULLONG, &sum), H5Aclose(a);
	}
	if (r.chunked) {
		unsigned mask;
		haddr_t addr;
		hsize_t size;
		H5Dget_chunk_info_by_coord(r.ds, off, &mask, &addr, &size);
	}
	H5Eclear2(H5E_DEFAULT);
	dsr_done(&r);
	H5Dclose(r.ds);
	return 0;
}

/* The probe's file, and where its error goes: memory shared with the parent, so a file the
 * child refused is reported from the child's words, never parsed by libhdf5 in the parent
 * (the child may have failed only because its address-space limit stopped a lying size that
 * would crash an unlimited process). */
typedef struct probe_io {
	const char *path;
	ck_err *err;
} probe_io;

static int probe(void *arg)
{
	probe_io *io = arg;
	ck_tsrc *src = NULL;
	int rc = open_here(io->path, &src, io->err);
	for (size_t i = 0; !rc && i < src->n; i++)
		rc = touch_tensor((h5src *)src, i, io->err);
	if (src)
		src_free(src);
	return rc;
}

int h5ck_open(const char *path, ck_tsrc **out, ck_err *e)
{
	char why[256];
	struct stat sb;
	int rc, fd, res = 0;
	*out = NULL;
	if (!path)
		return ck_errf(e, CK_EINVALID, "h5ck_open: no path");
	if ((rc = io_open_input(path, &fd, &sb, e)))
		return rc;
	close(fd);
	if (!h5ck_is_hdf5(path))
		return ck_errf(e, CK_EINVALID, "%s: not an HDF5 file (no HDF5 signature)", path);
	/* metadata costs ~0.1-0.2 ms per tensor (~1 KiB of file each): 10 s + 1 s per 4 MiB leaves
	 * room for a million tensors and only stops what no file needs. CKCONV_SANDBOX_CPU
	 * (seconds, 1..3600) replaces it: the tests' hangs end in a second */
	uint64_t mib = (uint64_t)sb.st_size >> 20;
	const char *env = getenv("CKCONV_SANDBOX_CPU");
	long ecpu = env ? strtol(env, NULL, 10) : 0;
	sandbox_limits l = {box.cpu_s ? box.cpu_s : ecpu >= 1 && ecpu <= 3600 ? (unsigned)ecpu :
		(unsigned)(10 + (mib > 4 * 3590 ? 3590 : mib / 4)), box.wall_s, ((uint64_t)2 << 30) + 2 * (uint64_t)sb.st_size};
	if (!l.wall_s)
		l.wall_s = 4 * l.cpu_s + 30; /* a shared machine gives a process a fraction of a core */
	probe_io io = {path, mmap(NULL, sizeof *io.err, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0)};
	if (io.err == MAP_FAILED)
		return ck_errf(e, CK_ENOMEM, "%s: no memory to share with the sandbox: %s", path, strerror(errno));
	memset(io.err, 0, sizeof *io.err);
	if (sandbox_run(probe, &io, &l, &res, why, sizeof why) < 0)
		rc = ck_errf(e, CK_ECORRUPT, "%s: reading its HDF5 metadata in a sandbox, libhdf5 %s; the file is damaged "
			"or hostile (docs/security.md)", path, why);
	else if (res == CK_ENOMEM)
		rc = ck_errf(e, CK_ELIMIT, "%s: its HDF5 metadata needs more than %llu MiB of memory", path,
			(unsigned long long)(l.mem_extra >> 20));
	else if (res)
		rc = ck_errf(e, res, "%s", io.err->msg[0] ? io.err->msg : "the sandboxed open failed without a message");
	munmap(io.err, sizeof *io.err);
	return rc ? rc : open_here(path, out, e);
}

size_t h5ck_checksummed(const ck_tsrc *base)
{
	h5src *s = (h5src *)base;
	size_t n = 0;
	for (size_t i = 0; i < s->base.n; i++) {
		ck_err e = {0};
		hid_t ds;
		if (!ds_open(s, s->ds[i], &ds, &e)) {
			n += H5Aexists(ds, H5CK_CHECKSUM_ATTR) > 0 || s->base.t[i].nbytes == 0;
			H5Dclose(ds);
		}
	}
	return n;
}
