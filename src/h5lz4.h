/* h5lz4.h - HDF5 filter 32004 (LZ4), the only filter cstorch writes: its chunk framing encoded
 * and decoded with liblz4, and the filter registered in HDF5 for ckconv's own writes, so no HDF5
 * plugin is ever loaded. Framing (as hdf5plugin and Debian's hdf5-filter-plugin write it, all
 * big-endian): u64 decoded size, u32 block size (0: the whole chunk), then per block a u32 stored
 * length and the LZ4 block, or the raw block when LZ4 did not shrink it (stored length = block
 * length). Facts: notes/cstorch-h5.md section 4.3. */
#ifndef CK_H5LZ4_H
#define CK_H5LZ4_H

#include <stddef.h>

#define H5LZ4_ID 32004
#define H5LZ4_HEADER 12
#define H5LZ4_BLOCK ((size_t)1 << 30) /* the filter's default and largest block */

/* Decode one stored chunk `in` (n bytes) into `out`, which holds exactly `want` bytes (the
 * chunk's size as the dataset declares it). Checks before decoding anything: the header's
 * decoded size equals `want`, every block length stays inside `in`, each block decodes to
 * exactly its size, no byte is left over. 0, or -1 with *why set to a static reason. Never
 * writes past out + want, never allocates, never prints. */
int h5lz4_decode(const void *in, size_t n, void *out, size_t want, const char **why);
/* The chunk's bytes in place when `in` (n bytes) is one block stored raw (LZ4 did not shrink it,
 * as for most blocks of real weights), which h5lz4_decode would only copy: then the caller can
 * move them straight to where they go. NULL for any other form, valid or not (h5lz4_decode
 * then decodes or refuses it). Holds exactly when h5lz4_decode would accept the chunk and copy
 * its one block: n is the header, one length and want bytes, the header declares want and one
 * block, and the length is want (want > 0). */
const void *h5lz4_raw(const void *in, size_t n, size_t want);
/* The largest stored form of a `want`-byte chunk this codec accepts or writes (for buffers). */
size_t h5lz4_bound(size_t want);
/* The most h5lz4_encode writes for n bytes: the header, one block length, the block stored
 * compressed only when that is smaller than n. */
#define H5LZ4_ENCODED_MAX(n) (H5LZ4_HEADER + 4 + (size_t)(n))
/* Encode `n` bytes of `in` into `out` (H5LZ4_ENCODED_MAX(n) bytes) as one block; returns the
 * stored size, 0 when n is over H5LZ4_BLOCK (ckconv writes chunks of at most 1 MiB). */
size_t h5lz4_encode(const void *in, size_t n, void *out);
/* Register filter 32004 with HDF5 (encoder: h5lz4_encode; decoder: h5lz4_decode, bounded by
 * the filter's 2 GiB chunk limit, used only on chunks ckconv itself wrote). Idempotent; 0 or -1. */
int h5lz4_register(void);

#endif
