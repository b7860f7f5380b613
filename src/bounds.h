/* bounds.h - every bound on metadata read from untrusted inputs (config.json, params YAML,
 * shard indexes, safetensors headers, the packed file's __spec__, rule files), in one place so
 * docs/security.md can state them and a reader can see what an input may cost. A limit hit is
 * a one-line CK_ELIMIT error naming the file and the limit, never a crash or a gigabyte. */
#ifndef CK_BOUNDS_H
#define CK_BOUNDS_H

#include <stdint.h>

/* Bytes of one metadata file read whole (config, params, rules, shard index). */
#define CK_MAX_META_FILE ((size_t)64 << 20)
/* YAML (params, rules): scalar bytes (values, keys and tags) with every alias expanded; an
 * alias costs what it stands for, so a 1 MiB string aliased a thousand times is refused before
 * anything copies it. Converting a document to JSON copies at most this many string bytes. */
#define CK_MAX_YAML_BYTES ((size_t)16 << 20)
/* YAML: nodes with every alias expanded, and nested collections. */
#define CK_MAX_YAML_NODES 1000000
#define CK_MAX_YAML_DEPTH 64
/* Tensors named by one checkpoint or shard index. */
#define CK_MAX_TENSORS 1000000
/* Bytes of one tensor key (a dotted path such as model.layers.0.mlp.up_proj.weight). */
#define CK_MAX_KEY_BYTES 4096
/* Bytes of all tensor keys of one checkpoint together (a 1e5-tensor model uses ~10 MB). */
#define CK_MAX_KEYS_TOTAL ((size_t)64 << 20)
/* Characters of input text (a key, a value, a file's bytes) one error line quotes, and the
 * length of an error line at most: a hostile 1 MiB key makes a short message, not a flood. */
#define CK_MAX_QUOTE 200
/* Characters of a file's own text a JSON syntax error quotes ("near '...'"); none when the file
 * is reached through a symbolic link, whose target may be anyone's file (io_via_link). */
#define CK_MAX_NEAR 16
#define CK_MAX_ERROR_LINE 1024

/* Cerebras 1.9's data-loader state files (dlstate.c): bytes of each (one number per line) and
 * worker files at one data step (a cluster has at most a few thousand workers). */
#define CK_MAX_DLSTATE_FILE 4096
#define CK_MAX_DLSTATE_WORKERS 65536

/* Expansion: what a conversion may produce beyond the bytes it reads. Shapes are checked
 * against the config by the rules (`shape:`); these bound what the readers and actions do. */
/* The views of one PyTorch storage together hold at most this many times its bytes (tied
 * weights are views of one storage; T5/BART tie four names to one embedding). A single view
 * may repeat elements (expand(): stride 0) only up to its storage's size. */
#define CK_MAX_VIEWS_PER_STORAGE 4
/* LinkedObject aliases of one tensor in a packed file (each reads the tensor again). */
#define CK_MAX_ALIASES 3
/* Tensors one unstack makes (an axis size read from the input: [0, 2^20, 0] is zero bytes);
 * the largest MoE models have a few hundred experts. */
#define CK_MAX_UNSTACK 65536
/* Bytes the rules' generators (create: fill, tril, arange, uniform) may make, from sizes in the
 * config: at most the bytes read from the source tensors, or this floor for a small model
 * (GPT-2's causal masks: 1 MiB per layer at 1024 positions). */
#define CK_MAX_GENERATED_FLOOR ((uint64_t)64 << 20)

#endif
