/* shard.h - a checkpoint split into files joined by an HF index (`*.index.json` whose
 * `weight_map` maps each key to a file name next to the index), for any single-file format. */
#ifndef CK_SHARD_H
#define CK_SHARD_H

#include "err.h"
#include "tensor.h"

/* Opens one file of the set as a source. */
typedef int (*shard_open_fn)(const char *path, ck_tsrc **out, ck_err *e);

/* Opens every file the index names with open_file and checks that the files and weight_map
 * agree exactly (each key in the shard it is listed in, no key unlisted or in two shards).
 * Tensors come in weight_map order. */
int shard_open(const char *index_path, shard_open_fn open_file, ck_tsrc **out, ck_err *e);

/* A conversion source that is one member of an HF shard set (`model-00001-of-00002.safetensors`,
 * `pytorch_model-00001-of-00003.bin`: N > 1) is refused with a line naming the set and what to give
 * instead (the directory or its index): one shard alone is part of a model. 0 for anything else. */
int shard_refuse_member(const char *path, ck_err *e);

#endif
