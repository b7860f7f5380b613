/* ydoc.h - a YAML document (first document only) read with libyaml into a tree of nodes
 * that remember their 1-based source position, for "file:line:col: ..." messages.
 * Aliases share the anchored subtree (read-only DAG); the expanded tree is capped at
 * YDOC_MAX_NODES nodes, YDOC_MAX_BYTES scalar bytes and YDOC_MAX_DEPTH nested collections
 * (CK_ELIMIT; the values are in bounds.h). Mapping keys are always scalars and unique by text;
 * merge keys (<<) are refused. */
#ifndef CK_YDOC_H
#define CK_YDOC_H

#include <stddef.h>
#include "err.h"

#include "bounds.h"

#define YDOC_MAX_NODES CK_MAX_YAML_NODES
#define YDOC_MAX_BYTES CK_MAX_YAML_BYTES
#define YDOC_MAX_DEPTH CK_MAX_YAML_DEPTH

typedef enum { YDOC_SCALAR, YDOC_SEQ, YDOC_MAP } ydoc_kind;

typedef struct ydoc_node {
	ydoc_kind kind;
	int line, col;          /* 1-based, where the node starts */
	char *tag;              /* explicit tag ("tag:yaml.org,2002:str", "!foo") or NULL */
	char *value;            /* YDOC_SCALAR: text (never contains NUL); NULL otherwise */
	int quoted;             /* YDOC_SCALAR: 1 unless a plain scalar (quoted, literal, folded) */
	size_t n;               /* YDOC_SEQ: item count; YDOC_MAP: pair count */
	struct ydoc_node **items; /* YDOC_SEQ: items[i]; YDOC_MAP: items[2*i] = key, items[2*i+1] = value */
} ydoc_node;

typedef struct ydoc_doc {
	char *path;
	ydoc_node *root; /* NULL for an empty document */
} ydoc_doc;

int ydoc_load_file(const char *path, ydoc_doc **out, ck_err *e);
/* name is used in messages (and kept as d->path); text need not be NUL-terminated. */
int ydoc_load_string(const char *name, const char *text, size_t len, ydoc_doc **out, ck_err *e);
void ydoc_doc_free(ydoc_doc *d); /* NULL-safe */
/* Value for the scalar key equal to key, or NULL (also when map is NULL or not a mapping). */
const ydoc_node *ydoc_map_get(const ydoc_node *map, const char *key);
const char *ydoc_kind_name(ydoc_kind k); /* "scalar", "sequence", "mapping" */

#endif
