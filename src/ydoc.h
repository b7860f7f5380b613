/* ydoc.h - a YAML document (first document only) read with libyaml into a tree of nodes
 * that remember their 1-based source position, for "file:line:col: ..." messages.
 * Aliases share the anchored subtree (read-only DAG); the expanded tree is capped at
 * YD_MAX_NODES nodes, YD_MAX_BYTES scalar bytes and YD_MAX_DEPTH nested collections
 * (CK_ELIMIT; the values are in bounds.h). Mapping keys are always scalars and unique by text;
 * merge keys (<<) are refused. */
#ifndef CK_YDOC_H
#define CK_YDOC_H

#include <stddef.h>
#include "err.h"

#include "bounds.h"

#define YD_MAX_NODES CK_MAX_YAML_NODES
#define YD_MAX_BYTES CK_MAX_YAML_BYTES
#define YD_MAX_DEPTH CK_MAX_YAML_DEPTH

typedef enum { YD_SCALAR, YD_SEQ, YD_MAP } yd_kind;

typedef struct yd_node {
	yd_kind kind;
	int line, col;          /* 1-based, where the node starts */
	char *tag;              /* explicit tag ("tag:yaml.org,2002:str", "!foo") or NULL */
	char *value;            /* YD_SCALAR: text (never contains NUL); NULL otherwise */
	int quoted;             /* YD_SCALAR: 1 unless a plain scalar (quoted, literal, folded) */
	size_t n;               /* YD_SEQ: item count; YD_MAP: pair count */
	struct yd_node **items; /* YD_SEQ: items[i]; YD_MAP: items[2*i] = key, items[2*i+1] = value */
} yd_node;

typedef struct yd_doc {
	char *path;
	yd_node *root; /* NULL for an empty document */
} yd_doc;

int yd_load_file(const char *path, yd_doc **out, ck_err *e);
/* name is used in messages (and kept as d->path); text need not be NUL-terminated. */
int yd_load_string(const char *name, const char *text, size_t len, yd_doc **out, ck_err *e);
void yd_doc_free(yd_doc *d); /* NULL-safe */
/* Value for the scalar key equal to key, or NULL (also when map is NULL or not a mapping). */
const yd_node *yd_map_get(const yd_node *map, const char *key);
const char *yd_kind_name(yd_kind k); /* "scalar", "sequence", "mapping" */

#endif
