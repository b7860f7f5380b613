/* Unit tests for h5lz4.c: the HDF5 LZ4 chunk framing round-trips (compressible, incompressible,
 * empty), is byte-compatible with the layout the plugin writes (a raw block after a 12-byte
 * header), and the decoder refuses every lie before writing past the chunk: a header size other
 * than the chunk's, a block past the end, a block stored larger than it decodes, a block that
 * decodes short or long (an LZ4 "bomb"), trailing bytes, a block size over 1 GiB. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <lz4.h>
#include "h5lz4.h"
#include "t.h"

static void be(unsigned char *p, uint64_t v, int n)
{
	for (int i = n - 1; i >= 0; i--, v >>= 8)
		p[i] = (unsigned char)v;
}

/* A frame: header (size, block size) then the given blocks (length-prefixed). */
static size_t frame(unsigned char *o, uint64_t size, uint32_t bs, const unsigned char *b1, size_t n1,
	const unsigned char *b2, size_t n2)
{
	size_t p = H5LZ4_HEADER;
	be(o, size, 8);
	be(o + 8, bs, 4);
	if (b1) {
		be(o + p, n1, 4);
		memcpy(o + p + 4, b1, n1);
		p += 4 + n1;
	}
	if (b2) {
		be(o + p, n2, 4);
		memcpy(o + p + 4, b2, n2);
		p += 4 + n2;
	}
	return p;
}

int main(void)
{
	enum { N = 4096 };
	static unsigned char in[N], enc[5 * N + 64], out[N + 64], zeros[1 << 16], blk[1 << 16];
	const char *why = NULL;
	size_t n;
	for (int i = 0; i < N; i++)
		in[i] = (unsigned char)(i % 7);

	n = h5lz4_encode(in, N, enc);
	T_OK(n > 0 && n < N, "compressible chunk shrinks (%zu of %d bytes)", n, N);
	memset(out, 0xAA, sizeof out);
	T_EQ_INT(h5lz4_decode(enc, n, out, N, &why), 0, "and decodes");
	T_OK(!memcmp(out, in, N) && out[N] == 0xAA, "to the same bytes, nothing past the chunk");

	for (int i = 0; i < N; i++) /* incompressible: stored raw, as the plugin does */
		in[i] = (unsigned char)(rand() >> 7);
	n = h5lz4_encode(in, N, enc);
	T_EQ_INT(n, H5LZ4_HEADER + 4 + N, "incompressible chunk stored raw: 12 + 4 + N bytes");
	T_OK(enc[8] == 0 && enc[9] == 0 && enc[10] == 0x10 && enc[11] == 0, "block size in the header is the chunk size, big-endian");
	T_EQ_INT(h5lz4_decode(enc, n, out, N, &why), 0, "raw block decodes");
	T_OK(!memcmp(out, in, N), "exactly");
	T_EQ_INT(h5lz4_encode(in, 0, enc), H5LZ4_HEADER, "empty chunk: header only");
	T_EQ_INT(h5lz4_decode(enc, H5LZ4_HEADER, out, 0, &why), 0, "and decodes");

	/* the lies */
	n = frame(enc, (uint64_t)1 << 30, 0, in, 32, NULL, 0);
	T_EQ_INT(h5lz4_decode(enc, n, out, 32, &why), -1, "header declaring 1 GiB for a 32-byte chunk: refused");
	T_HAS(why, "declares a decoded size", "  reason names the header");
	T_EQ_INT(h5lz4_decode(enc, 11, out, 32, &why), -1, "shorter than the header: refused");
	n = frame(enc, 32, 0, in, 32, NULL, 0);
	be(enc + H5LZ4_HEADER, 4096, 4);
	T_EQ_INT(h5lz4_decode(enc, n, out, 32, &why), -1, "block length past the end: refused");
	T_HAS(why, "past the end", "  reason");
	n = frame(enc, 32, 0, in, 40, NULL, 0);
	T_EQ_INT(h5lz4_decode(enc, n, out, 32, &why), -1, "block stored larger than its size: refused");
	n = frame(enc, 32, 0, in, 32, NULL, 0);
	T_EQ_INT(h5lz4_decode(enc, n + 1, out, 32, &why), -1, "trailing byte: refused");
	T_HAS(why, "after the last", "  reason");
	n = frame(enc, 64, 32, in, 32, NULL, 0);
	T_EQ_INT(h5lz4_decode(enc, n, out, 64, &why), -1, "second block missing: refused");
	n = frame(enc, 64, 32, in, 32, in + 32, 32);
	T_EQ_INT(h5lz4_decode(enc, n, out, 64, &why), 0, "two raw blocks of 32: decoded");
	T_OK(!memcmp(out, in, 64), "  exactly");

	/* a valid LZ4 block of 64 KiB of zeros placed in a 1000-byte chunk: decoding stops at 1000 */
	int z = LZ4_compress_default((const char *)zeros, (char *)blk, sizeof zeros, sizeof blk);
	T_OK(z > 0 && z < 1000, "a 64 KiB zero block compresses to %d bytes", z);
	n = frame(enc, 1000, 0, blk, (size_t)z, NULL, 0);
	memset(out, 0xAA, sizeof out);
	T_EQ_INT(h5lz4_decode(enc, n, out, 1000, &why), -1, "LZ4 bomb (block decodes past the chunk): refused");
	T_OK(out[1000] == 0xAA, "  nothing written past the chunk");
	T_HAS(why, "does not decode to its declared size", "  reason");
	n = frame(enc, 100, 0, (const unsigned char *)"\xff\xff\xff\xff\xff\xff", 6, NULL, 0);
	T_EQ_INT(h5lz4_decode(enc, n, out, 100, &why), -1, "garbage block: refused");
	T_OK(h5lz4_bound(N) >= H5LZ4_HEADER + 4 + N, "bound covers a raw block");

	/* h5lz4_raw: the bytes in place exactly when decode would accept the chunk and only copy
	 * its one block */
	for (int i = 0; i < N; i++)
		in[i] = (unsigned char)(rand() >> 7);
	n = h5lz4_encode(in, N, enc);
	T_OK(h5lz4_raw(enc, n, N) == enc + H5LZ4_HEADER + 4, "one raw block: its bytes in place");
	n = frame(enc, 32, 32, in, 32, NULL, 0);
	T_OK(h5lz4_raw(enc, n, 32) == enc + H5LZ4_HEADER + 4, "  block size equal to the chunk: the same");
	n = frame(enc, 32, 4096, in, 32, NULL, 0);
	T_OK(h5lz4_raw(enc, n, 32) != NULL, "  block size past the chunk (clamped, as decode does): the same");
	T_OK(h5lz4_raw(enc, n, 31) == NULL, "  a chunk size other than the header's: none");
	T_OK(h5lz4_raw(enc, n - 1, 32) == NULL && h5lz4_raw(enc, n + 1, 32) == NULL, "  a byte short or left over: none");
	T_OK(h5lz4_raw(enc, 3, 32) == NULL, "  shorter than the header: none");
	n = frame(enc, 64, 32, in, 32, in + 32, 32);
	T_OK(h5lz4_raw(enc, n, 64) == NULL, "two raw blocks: none (decode joins them)");
	n = frame(enc, 32, 0, blk, 16, NULL, 0);
	T_OK(h5lz4_raw(enc, n, 32) == NULL, "a block stored shorter than the chunk (LZ4-compressed): none");
	n = h5lz4_encode(in, 0, enc);
	T_OK(h5lz4_raw(enc, n, 0) == NULL && h5lz4_raw(zeros, H5LZ4_HEADER + 4, 0) == NULL, "an empty chunk: none");
	return t_done();
}
