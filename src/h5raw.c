/* h5raw.c - the compact attributes of an HDF5 version-1 object header, read from the file in one
 * pass (see h5raw.h). Every offset and size read from the file is checked against the buffer or
 * the file before use; anything this reader does not handle (version-2 headers, shared or dense
 * attributes) is declined, never guessed. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "h5raw.h"
#include "strmap.h"

#define MAX_CHUNKS 100000 /* object header continuation blocks */
#define MSG_CONT 0x10
#define MSG_ATTR 0x0C
#define MSG_AINFO 0x15

typedef struct gobj {
	uint32_t idx;
	uint64_t off, size;
} gobj;

typedef struct gcol { /* one global heap collection, loaded once */
	unsigned char *b;
	uint64_t size;
	gobj *o;
	size_t no;
} gcol;

struct h5raw {
	h5raw_attr *a;
	size_t n, cap;
	strmap idx;             /* name -> index in a */
	unsigned char **bufs;   /* header blocks: names and fixed strings point into them */
	size_t nbufs;
	gcol *col;
	size_t ncol;
	strmap cidx;            /* collection address (hex) -> index in col */
	uint64_t held;          /* bytes of header blocks and collections: at most the file's size */
};

typedef struct ctx {
	const h5raw_loc *loc;
	h5raw *r;
	const char *why;
	int decline;
	uint64_t pend[2 * 64]; /* continuation blocks still to read (address, length), a small stack */
	size_t npend;
	size_t chunks;
} ctx;

static uint64_t uint_le(const unsigned char *p, int n)
{
	uint64_t v = 0;
	for (int i = n - 1; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static uint64_t uint_be(const unsigned char *p, int n)
{
	uint64_t v = 0;
	for (int i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

static int fail(ctx *c, const char *why)
{
	if (!c->why)
		c->why = why;
	return -1;
}

/* n bytes at file address addr (relative to the base) into b. */
static int read_at(ctx *c, uint64_t addr, uint64_t n, unsigned char *b)
{
	const h5raw_loc *l = c->loc;
	uint64_t at = l->base + addr;
	if (at < addr || at > l->fsize || n > l->fsize - at)
		return fail(c, "an object header or heap lies past the end of the file");
	for (uint64_t got = 0; got < n;) {
		ssize_t k = pread(l->fd, b + got, (size_t)(n - got), (off_t)(at + got));
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return fail(c, k < 0 ? "read error" : "the file ended early");
		got += (uint64_t)k;
	}
	return 0;
}

/* n bytes at addr into a new buffer kept by r; all of them together at most the file's size
 * (header blocks and heap collections do not overlap in a well-formed file). */
static unsigned char *load(ctx *c, uint64_t addr, uint64_t n)
{
	unsigned char *b, **nb;
	if (n > c->loc->fsize - c->r->held)
		return fail(c, "object header blocks and heaps add up to more than the file"), NULL;
	if (!(nb = realloc(c->r->bufs, (c->r->nbufs + 1) * sizeof *nb)))
		return fail(c, "out of memory"), NULL;
	c->r->bufs = nb;
	if (!(b = malloc(n ? n : 1)))
		return fail(c, "out of memory"), NULL;
	if (read_at(c, addr, n, b) < 0) {
		free(b);
		return NULL;
	}
	c->r->bufs[c->r->nbufs++] = b;
	c->r->held += n;
	return b;
}

static int cmp_gobj(const void *a, const void *b)
{
	uint32_t x = ((const gobj *)a)->idx, y = ((const gobj *)b)->idx;
	return x < y ? -1 : x > y;
}

/* The global heap collection at addr, loaded and indexed on first use. */
static gcol *collection(ctx *c, uint64_t addr)
{
	h5raw *r = c->r;
	int ss = c->loc->sizeof_size;
	char key[32];
	size_t i;
	snprintf(key, sizeof key, "%llx", (unsigned long long)addr);
	if (strmap_get(&r->cidx, key, &i))
		return &r->col[i];
	unsigned char h[16];
	if (read_at(c, addr, 8 + (uint64_t)ss, h) < 0)
		return NULL;
	uint64_t size = uint_le(h + 8, ss), hdr = 8 + (uint64_t)ss;
	if (memcmp(h, "GCOL", 4) || h[4] != 1)
		return fail(c, "a global heap collection without its GCOL signature"), NULL;
	if (size < hdr)
		return fail(c, "a global heap collection smaller than its header"), NULL;
	gcol *nc = realloc(r->col, (r->ncol + 1) * sizeof *nc);
	if (!nc)
		return fail(c, "out of memory"), NULL;
	r->col = nc;
	gcol *g = &r->col[r->ncol];
	memset(g, 0, sizeof *g);
	if (!(g->b = load(c, addr, size)))
		return NULL;
	g->size = size;
	if (strmap_put(&r->cidx, key, r->ncol) < 0)
		return fail(c, "out of memory"), NULL;
	r->ncol++;
	/* objects: index (2), reference count (2), reserved (4), size, data padded to 8; index 0 is
	 * the free space and ends the list */
	for (uint64_t p = hdr; size - p >= 8 + (uint64_t)ss;) {
		uint32_t idx = (uint32_t)uint_le(g->b + p, 2);
		uint64_t osz = uint_le(g->b + p + 8, ss), d = p + 8 + (uint64_t)ss;
		if (!idx)
			break;
		if (osz > size - d)
			return fail(c, "a global heap object runs past its collection"), NULL;
		gobj *no = realloc(g->o, (g->no + 1) * sizeof *no);
		if (!no)
			return fail(c, "out of memory"), NULL;
		g->o = no;
		g->o[g->no++] = (gobj){idx, d, osz};
		uint64_t step = (osz + 7) & ~(uint64_t)7;
		if (step < osz || step > size - d)
			break; /* the last object's padding may be cut by the collection's end */
		p = d + step;
	}
	qsort(g->o, g->no, sizeof *g->o, cmp_gobj);
	for (size_t k = 1; k < g->no; k++)
		if (g->o[k].idx == g->o[k - 1].idx)
			return fail(c, "a global heap collection holds one object index twice"), NULL;
	return g;
}

/* A variable-length string's bytes: len bytes of heap object idx in the collection at addr. */
static int heap_str(ctx *c, uint64_t addr, uint32_t idx, uint64_t len, h5raw_attr *a)
{
	gcol *g = collection(c, addr);
	if (!g)
		return -1;
	gobj key = {idx, 0, 0}, *o = bsearch(&key, g->o, g->no, sizeof *g->o, cmp_gobj);
	if (!o)
		return fail(c, "a string's global heap object does not exist");
	if (len > o->size)
		return fail(c, "a string longer than its global heap object");
	a->str = (const char *)g->b + o->off;
	a->len = (size_t)len;
	return 0;
}

/* The value of an attribute whose type is dt (tsz bytes), one element of data (dlen bytes). */
static int value(ctx *c, const unsigned char *dt, uint64_t tsz, uint64_t npoints, const unsigned char *data,
	uint64_t dlen, h5raw_attr *a)
{
	int sa = c->loc->sizeof_addr, cls = dt[0] & 0x0f;
	uint32_t bits = (uint32_t)uint_le(dt + 1, 3);
	uint64_t size = uint_le(dt + 4, 4);
	a->kind = H5RAW_OTHER;
	if (npoints != 1)
		return 0;
	if (cls == 9 && (bits & 0x0f) == 1) { /* variable-length string: length, heap address, index */
		uint64_t el = 4 + (uint64_t)sa + 4;
		if (dlen < el)
			return fail(c, "an attribute's data is shorter than one string");
		uint64_t len = uint_le(data, 4), addr = uint_le(data + 4, sa);
		a->kind = H5RAW_STR;
		a->str = "";
		a->len = 0;
		return len ? heap_str(c, addr, (uint32_t)uint_le(data + 4 + sa, 4), len, a) : 0;
	}
	if (size > dlen)
		return fail(c, "an attribute's data is shorter than its type");
	if (cls == 3) { /* fixed-length string: up to its first NUL, as a C string */
		a->kind = H5RAW_STR;
		a->str = (const char *)data;
		a->len = strnlen((const char *)data, (size_t)size);
		return 0;
	}
	if (!size || size > 8)
		return 0;
	if (cls == 0) { /* integer */
		uint64_t v = bits & 1 ? uint_be(data, (int)size) : uint_le(data, (int)size);
		if ((bits & 8) && size < 8 && (v >> (size * 8 - 1)) & 1)
			v |= ~(uint64_t)0 << (size * 8); /* sign-extend */
		a->num = bits & 8 ? (double)(int64_t)v : (double)v;
		a->truthy = v != 0;
		a->kind = H5RAW_NUM;
	} else if (cls == 1) { /* IEEE binary32 / binary64 only, either byte order */
		static const unsigned char f4[] = {23, 8, 0, 23}, f8[] = {52, 11, 0, 52};
		if (tsz < 8 + 12 || (bits & 0x40) || (size != 4 && size != 8) ||
			memcmp(dt + 8 + 4, size == 4 ? f4 : f8, 4) || uint_le(dt + 8 + 8, 4) != (size == 4 ? 127u : 1023u))
			return 0;
		uint64_t v = bits & 1 ? uint_be(data, (int)size) : uint_le(data, (int)size);
		if (size == 4) {
			uint32_t w = (uint32_t)v;
			float f;
			memcpy(&f, &w, 4);
			a->num = f;
		} else {
			memcpy(&a->num, &v, 8);
		}
		a->truthy = a->num != 0;
		a->kind = H5RAW_NUM;
	} else if (cls == 8 || cls == 4) { /* enum (h5py's bool) or bitfield: any set bit is true */
		for (uint64_t i = 0; i < size; i++)
			a->truthy |= data[i] != 0;
		a->num = a->truthy;
		a->kind = H5RAW_NUM;
	}
	return 0;
}

/* Number of elements of a dataspace message (versions 1 and 2). */
static int npoints_of(ctx *c, const unsigned char *sp, uint64_t ssz, uint64_t *np)
{
	int ss = c->loc->sizeof_size;
	if (ssz < 4 || (sp[0] != 1 && sp[0] != 2))
		return fail(c, "an attribute's dataspace message is malformed");
	unsigned rank = sp[1];
	uint64_t at = sp[0] == 1 ? 8 : 4, n = 1;
	if (rank > 32 || ssz < at || (ssz - at) / (uint64_t)ss < rank)
		return fail(c, "an attribute's dataspace message is malformed");
	if (sp[0] == 2 && sp[3] == 2) { /* null dataspace */
		*np = 0;
		return 0;
	}
	for (unsigned d = 0; d < rank; d++) {
		uint64_t v = uint_le(sp + at + (uint64_t)d * ss, ss);
		n = v && n > UINT64_MAX / v ? UINT64_MAX : n * v;
	}
	*np = n;
	return 0;
}

static uint64_t pad(uint64_t n, uint64_t to)
{
	return (n + to - 1) / to * to;
}

/* One attribute message. */
static int attr_msg(ctx *c, const unsigned char *d, uint64_t n)
{
	h5raw *r = c->r;
	if (n < 8)
		return fail(c, "an attribute message is truncated");
	int ver = d[0], flags = ver == 1 ? 0 : d[1];
	uint64_t nsz = uint_le(d + 2, 2), tsz = uint_le(d + 4, 2), ssz = uint_le(d + 6, 2), at = 8, al = 1;
	if (ver < 1 || ver > 3)
		return fail(c, "an attribute message of an unknown version");
	if (flags & 3) { /* shared datatype or dataspace: not read here */
		c->decline = 1;
		return 0;
	}
	if (ver == 1)
		al = 8;
	if (ver == 3)
		at = 9;
	if (nsz < 1 || tsz < 8 || at > n || pad(nsz, al) > n - at)
		return fail(c, "an attribute message's sizes do not fit in it");
	const unsigned char *name = d + at;
	at += pad(nsz, al);
	if (name[nsz - 1] || memchr(name, 0, (size_t)nsz - 1))
		return fail(c, "an attribute name is not one NUL-terminated string");
	if (pad(tsz, al) > n - at)
		return fail(c, "an attribute message's sizes do not fit in it");
	const unsigned char *dt = d + at;
	at += pad(tsz, al);
	if (pad(ssz, al) > n - at)
		return fail(c, "an attribute message's sizes do not fit in it");
	const unsigned char *sp = d + at;
	at += pad(ssz, al);
	uint64_t np;
	if (npoints_of(c, sp, ssz, &np) < 0)
		return -1;
	size_t i;
	if (strmap_get(&r->idx, (const char *)name, &i))
		return fail(c, "two attributes have the same name");
	if (r->n == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 64;
		h5raw_attr *na = realloc(r->a, cap * sizeof *na);
		if (!na)
			return fail(c, "out of memory");
		r->a = na;
		r->cap = cap;
	}
	h5raw_attr *a = &r->a[r->n];
	memset(a, 0, sizeof *a);
	a->name = (const char *)name;
	if (value(c, dt, tsz, np, d + at, n - at, a) < 0)
		return -1;
	if (strmap_put(&r->idx, a->name, r->n) < 0)
		return fail(c, "out of memory");
	r->n++;
	return 0;
}

/* The messages of one header block (version 1: type 2, size 2, flags 1, reserved 3, data). */
static int block(ctx *c, const unsigned char *b, uint64_t len)
{
	int sa = c->loc->sizeof_addr, ss = c->loc->sizeof_size;
	for (uint64_t p = 0; len - p >= 8 && !c->decline;) {
		unsigned type = (unsigned)uint_le(b + p, 2), fl = b[p + 4];
		uint64_t size = uint_le(b + p + 2, 2);
		p += 8;
		if (size > len - p)
			return fail(c, "an object header message runs past its block");
		if (type == MSG_AINFO || (type == MSG_ATTR && (fl & 2))) {
			c->decline = 1; /* dense or shared attributes: HDF5 reads those */
		} else if (type == MSG_ATTR) {
			if (attr_msg(c, b + p, size) < 0)
				return -1;
		} else if (type == MSG_CONT) {
			if (size < (uint64_t)sa + (uint64_t)ss)
				return fail(c, "a continuation message is truncated");
			if (++c->chunks > MAX_CHUNKS)
				return fail(c, "too many object header continuation blocks");
			if (c->npend + 2 > sizeof c->pend / sizeof *c->pend)
				return fail(c, "too many continuation messages in one block");
			c->pend[c->npend++] = uint_le(b + p, sa);
			c->pend[c->npend++] = uint_le(b + p + sa, ss);
		}
		p += size;
	}
	return 0;
}

int h5raw_read(const h5raw_loc *loc, h5raw **out, const char **why)
{
	ctx c = {.loc = loc};
	h5raw *r;
	int rc = -1;
	*out = NULL;
	*why = NULL;
	if ((loc->sizeof_addr != 2 && loc->sizeof_addr != 4 && loc->sizeof_addr != 8) ||
		(loc->sizeof_size != 2 && loc->sizeof_size != 4 && loc->sizeof_size != 8))
		return 0; /* unusual superblock: HDF5 reads it */
	if (!(r = calloc(1, sizeof *r)))
		return *why = "out of memory", -1;
	strmap_init(&r->idx);
	strmap_init(&r->cidx);
	c.r = r;
	unsigned char h[16];
	if (read_at(&c, loc->addr, 16, h) < 0)
		goto done;
	if (!memcmp(h, "OHDR", 4)) { /* version 2: creation order, dense storage: HDF5 reads it */
		c.decline = 1;
		rc = 0;
		goto done;
	}
	if (h[0] != 1) {
		fail(&c, "the object header is of an unknown version");
		goto done;
	}
	/* version 1: version, reserved, message count (2), reference count (4), size (4), 4 bytes
	 * of padding, then the first block */
	c.pend[c.npend++] = loc->addr + 16;
	c.pend[c.npend++] = uint_le(h + 8, 4);
	while (c.npend && !c.decline) {
		uint64_t len = c.pend[--c.npend], addr = c.pend[--c.npend];
		unsigned char *b = load(&c, addr, len);
		if (!b || block(&c, b, len) < 0)
			goto done;
	}
	rc = 0;
done:
	if (rc < 0 || c.decline) {
		h5raw_free(r);
		r = NULL;
	}
	*out = r;
	if (rc < 0)
		*why = c.why ? c.why : "unreadable object header";
	return rc;
}

const h5raw_attr *h5raw_get(const h5raw *r, const char *name)
{
	size_t i;
	return r && strmap_get(&r->idx, name, &i) ? &r->a[i] : NULL;
}

size_t h5raw_count(const h5raw *r)
{
	return r ? r->n : 0;
}

void h5raw_free(h5raw *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->nbufs; i++)
		free(r->bufs[i]);
	for (size_t i = 0; i < r->ncol; i++)
		free(r->col[i].o);
	free(r->bufs);
	free(r->col);
	free(r->a);
	strmap_dispose(&r->idx);
	strmap_dispose(&r->cidx);
	free(r);
}
