/* h5ck.h - the packed Cerebras checkpoint (HDF5, cstorch storage format 0.5): a tensor sink
 * that writes it and a tensor source that reads it (0.5, and legacy <= 0.4 files).
 * Layout: schemas/packed-h5.md; facts behind it: notes/cstorch-h5.md. */
#ifndef CK_H5CK_H
#define CK_H5CK_H

#include <stddef.h>
#include "err.h"
#include "tensor.h"

typedef struct h5ck_opts {
	int compress_lz4;              /* 0: contiguous, uncompressed, early allocation, no fill (default). 1: chunked (<=1 MiB chunks along dim 0), LZ4 filter 32004 OPTIONAL cd_values {0} */
	const char *cstorch_version;   /* "2.10.0" if NULL */
	const char *provenance_json;   /* written as one extra root attribute "__ckconv__" (vlen UTF-8), or NULL */
	int in_place;                  /* path is already a private temporary (txn.h): create it exclusively and write there, no rename of its own */
	/* A whole state dict (training checkpoints, tree.h): spec is the root "__spec__" JSON text
	 * written instead of the one built from top and the tensor names (it must describe every
	 * tensor and leaf), and leaf_key[i] / leaf_meta[i] the "<key>.__metadata__" JSON of each
	 * non-tensor leaf, written as given. NULL / 0: the dict {top: {tensors}} only. */
	const char *spec;
	size_t n_leaf;
	const char *const *leaf_key, *const *leaf_meta;
	/* One file written by every process of a run together (par.h): opened with the MPI-IO
	 * driver, created and closed by all; mine[i] says this process writes tensor i's data
	 * (a write of another's is skipped); the checksums are gathered from their writers at
	 * commit and written there by all. NULL: this process writes everything. No LZ4. */
	const unsigned char *mine;
} h5ck_opts;

/* Open a sink that writes the state dict {top: {t[i].name: tensor_i}} to `path`: it writes to
 * "<path>.<8 hex>.tmp" in the same directory and renames onto `path` at commit (the caller has
 * already decided whether overwriting is allowed; use rename()), or, with o->in_place, to `path`
itself, which must not exist. Dataset for tensor i is named
 * "<top>.<name>" at the root (e.g. "model.transformer_decoder.layers.0.norm1.weight").
 * top NULL or "" writes the flat dict {t[i].name: tensor_i}. o may be NULL (defaults). */
int h5ck_sink_open(const char *path, const char *top, const ck_tinfo *t, size_t n, const h5ck_opts *o, ck_tsink **out, ck_err *e);
/* Open a packed file for reading. tinfo names are the full flattened keys ("model.a.weight").
 * Accepts format 0.5 (requires __SUCCESS__ true) and legacy <= 0.4 (percent-quoted names,
 * __H5_TYPE__, is_bfloat16). Non-tensor leaves (scalars, strings, None) are not listed as tensors. */
int h5ck_open(const char *path, ck_tsrc **out, ck_err *e);
/* h5ck_open first reads the file's HDF5 metadata in a sandboxed child (sandbox.h), so that a
 * crash or hang inside libhdf5 becomes an error (CK_ECORRUPT). Its limits by default: 10 s of
 * CPU + 1 s per 4 MiB of file (or CKCONV_SANDBOX_CPU seconds, 1..3600), 4 x that + 30 s of wall
 * time. Tests and the fuzz harness set smaller ones here (0: the default). */
void h5ck_sandbox_limits(unsigned cpu_s, unsigned wall_s);
/* Every tensor ckconv writes carries this attribute: the xxHash64 (seed 0) of its bytes. Reads
 * check it when present; a mismatch is CK_ECORRUPT. */
#define H5CK_CHECKSUM_ATTR "ckconv_xxh64"
/* How many tensors of an open packed source carry that checksum. */
size_t h5ck_checksummed(const ck_tsrc *s);
/* 1 if the file starts with the HDF5 signature, 0 otherwise (no error for non-HDF5). */
int h5ck_is_hdf5(const char *path);
/* Root attribute `name` (a string, e.g. "__spec__" or "<key>.__metadata__") of an open packed
 * source: *out malloc'd, NULL when absent. Checked like every metadata string the reader takes. */
int h5ck_root_attr(const ck_tsrc *s, const char *name, char **out, ck_err *e);
/* The "__ckconv__" provenance JSON of an open packed source, or NULL. Borrowed. */
const char *h5ck_provenance(const ck_tsrc *s);

#endif
