/* st.h - safetensors: a strict reader (single file or HF shard index) and a writer that
 * reproduces safetensors.torch.save_file(t, metadata={"format": "pt"}) byte for byte
 * (entries and data sorted by name), sharded like HF split_torch_state_dict_into_shards. */
#ifndef CK_ST_H
#define CK_ST_H

#include <stddef.h>
#include <stdint.h>
#include "bounds.h"
#include "err.h"
#include "tensor.h"

#define ST_MAX_HEADER (100u << 20) /* header JSON bytes */
#define ST_MAX_TENSORS 1000000
#define ST_MAX_KEY CK_MAX_KEY_BYTES

/* Open a safetensors source: `path` is a .safetensors file, a *.safetensors.index.json shard index,
 * or a directory holding model.safetensors or model.safetensors.index.json (index preferred if both).
 * Returns a ck_tsrc (see tensor.h) whose tinfo names are the tensor keys, in header order
 * (for an index: weight_map order). */
int st_open(const char *path, ck_tsrc **out, ck_err *e);

/* Open a sink writing into existing directory `dir` (caller creates it and renames it later).
 * All tensors are declared up front. One file `model.safetensors` if the total fits in shard_size
 * (0 = no limit), else shards `model-0000k-of-0000N.safetensors` + `model.safetensors.index.json`. */
int st_sink_open(const char *dir, const ck_tinfo *t, size_t n, uint64_t shard_size, ck_tsink **out,
		 ck_err *e);
/* The shard st_sink_open puts each of the n tensors in (sh[i]) and how many there are (*nsh). */
int st_shards(const ck_tinfo *t, size_t n, uint64_t shard_size, size_t *sh, size_t *nsh, ck_err *e);
/* st_sink_open for one of the processes writing dir together (par.h): only the shards s with
 * mine[s] are created and written here (a write of another's tensor is skipped), and the
 * index only when `index` is set. Every process declares the same tensors. */
int st_sink_open_part(const char *dir, const ck_tinfo *t, size_t n, uint64_t shard_size, const unsigned char *mine,
	int index, ck_tsink **out, ck_err *e);

#endif
