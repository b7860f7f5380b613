/* h5lz4.c - HDF5 filter 32004 (LZ4) chunks, encoded and decoded with liblz4. See h5lz4.h. */
#include <stdint.h>
#include <string.h>
#include <hdf5.h>
#include <lz4.h>
#include "h5lz4.h"

/* The filter's limit on one chunk (it stores sizes as int for liblz4). */
#define MAX_CHUNK ((size_t)LZ4_MAX_INPUT_SIZE)

static uint64_t be64(const unsigned char *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

static uint32_t be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put_be(unsigned char *p, uint64_t v, int n)
{
	for (int i = n - 1; i >= 0; i--, v >>= 8)
		p[i] = (unsigned char)v;
}

size_t h5lz4_bound(size_t want)
{
	/* each block: a 4-byte length and at most its decoded size (a block that did not shrink is
	 * stored raw); blocks hold at least one byte */
	return H5LZ4_HEADER + want + 4 * want;
}

int h5lz4_decode(const void *in, size_t n, void *out, size_t want, const char **why)
{
	const unsigned char *p = in;
	size_t pos = H5LZ4_HEADER, done = 0, bs;
	if (n < H5LZ4_HEADER)
		return *why = "shorter than the 12-byte LZ4 chunk header", -1;
	if (be64(p) != (uint64_t)want)
		return *why = "its LZ4 header declares a decoded size other than the chunk's", -1;
	bs = be32(p + 8);
	if (bs == 0 || bs > want) /* 0: one block; the filter clamps the block size to the chunk */
		bs = want;
	if (bs > H5LZ4_BLOCK)
		return *why = "LZ4 block size over 1 GiB", -1;
	while (done < want) {
		size_t blk = want - done < bs ? want - done : bs, clen;
		if (n - pos < 4)
			return *why = "LZ4 block length past the end of the chunk", -1;
		clen = be32(p + pos);
		pos += 4;
		if (clen > n - pos)
			return *why = "LZ4 block runs past the end of the chunk", -1;
		if (clen > blk)
			return *why = "LZ4 block stored larger than its decoded size", -1;
		if (clen == blk)
			memcpy((unsigned char *)out + done, p + pos, blk); /* stored raw */
		else if (LZ4_decompress_safe((const char *)p + pos, (char *)out + done, (int)clen, (int)blk) != (int)blk)
			return *why = "LZ4 block does not decode to its declared size", -1;
		pos += clen;
		done += blk;
	}
	if (pos != n)
		return *why = "bytes after the last LZ4 block", -1;
	return 0;
}

const void *h5lz4_raw(const void *in, size_t n, size_t want)
{
	const unsigned char *p = in;
	uint32_t bs;
	if (!want || want > H5LZ4_BLOCK || n != H5LZ4_HEADER + 4 + want || be64(p) != (uint64_t)want)
		return NULL;
	bs = be32(p + 8);
	if (bs && bs < want) /* several blocks */
		return NULL;
	return be32(p + H5LZ4_HEADER) == want ? p + H5LZ4_HEADER + 4 : NULL;
}

size_t h5lz4_encode(const void *in, size_t n, void *out)
{
	unsigned char *o = out;
	int c = 0;
	if (n > H5LZ4_BLOCK)
		return 0;
	put_be(o, n, 8);
	put_be(o + 8, n, 4); /* one block: the filter's 1 GiB default, clamped to the chunk */
	if (!n)
		return H5LZ4_HEADER;
	/* room for less than n bytes: LZ4 gives up (0) when the block does not shrink */
	if (n > 1)
		c = LZ4_compress_default(in, (char *)o + H5LZ4_HEADER + 4, (int)n, (int)n - 1);
	if (c <= 0) {
		memcpy(o + H5LZ4_HEADER + 4, in, n);
		c = (int)n;
	}
	put_be(o + H5LZ4_HEADER, (uint64_t)c, 4);
	return H5LZ4_HEADER + 4 + (size_t)c;
}

/* HDF5's filter callback: replaces *buf by the other form, returns its size, 0 on failure. */
static size_t filter(unsigned flags, size_t ncd, const unsigned cd[], size_t nbytes, size_t *buf_size, void **buf)
{
	const char *why;
	void *out;
	size_t n;
	(void)ncd, (void)cd;
	if (flags & H5Z_FLAG_REVERSE) {
		if (nbytes < H5LZ4_HEADER || be64(*buf) >= MAX_CHUNK)
			return 0;
		n = (size_t)be64(*buf);
		if (!(out = H5allocate_memory(n ? n : 1, 0)))
			return 0;
		if (h5lz4_decode(*buf, nbytes, out, n, &why) < 0) {
			H5free_memory(out);
			return 0;
		}
	} else {
		if (nbytes > H5LZ4_BLOCK || !(out = H5allocate_memory(H5LZ4_ENCODED_MAX(nbytes), 0)))
			return 0;
		if (!(n = h5lz4_encode(*buf, nbytes, out))) {
			H5free_memory(out);
			return 0;
		}
	}
	H5free_memory(*buf);
	*buf = out;
	*buf_size = n ? n : 1;
	return n;
}

int h5lz4_register(void)
{
	/* the plugin's name, so files look the same to h5dump and h5py as before */
	static const H5Z_class2_t cls = {H5Z_CLASS_T_VERS, (H5Z_filter_t)H5LZ4_ID, 1, 1,
		"HDF5 lz4 filter; see http://www.hdfgroup.org/services/contributions.html", NULL, NULL, filter};
	if (H5Zfilter_avail(H5LZ4_ID) > 0)
		return 0;
	H5Eclear2(H5E_DEFAULT);
	return H5Zregister(&cls) < 0 ? -1 : 0;
}
