/* valio.h - config values as Jansson json_t trees: read and write HF config.json and CS
 * params.yaml byte for byte as Python does (json.dumps(indent=2, sort_keys=True) and
 * yaml.safe_dump(default_flow_style=False, sort_keys=True)). YAML is typed like PyYAML's
 * SafeLoader (YAML 1.1): plain scalars resolve to null/bool/int/float, else string;
 * timestamps stay strings; non-finite floats and ints outside int64 are refused. */
#ifndef CK_VALIO_H
#define CK_VALIO_H

#include <jansson.h>
#include "err.h"
#include "ydoc.h"

/* Read a JSON file (any top-level value; a regular file of at most CK_MAX_META_FILE bytes).
 * Errors: "path:line:col: message". Rejects duplicate keys. */
int valio_json_load(const char *path, json_t **out, ck_err *e);
/* Jansson's parse error text with what it quotes ("near '...'") cut to CK_MAX_NEAR characters,
 * or left out when quote is 0 (a file reached through a symlink: io_via_link). */
void valio_json_why(const json_error_t *je, int quote, char out[JSON_ERROR_TEXT_LENGTH]);
/* Read a YAML file into json_t with PyYAML SafeLoader typing; mapping key order preserved;
 * an empty document gives json null. */
int valio_yaml_load(const char *path, json_t **out, ck_err *e);
/* Convert an already-loaded node with the same typing (non-string keys become their text).
 * path is used in messages. */
int valio_from_yd(const char *path, const ydoc_node *n, json_t **out, ck_err *e);
/* Python json.dumps(v, indent=2, sort_keys=True) + "\n". malloc'd; NULL when out of memory. */
char *valio_json_dumps(const json_t *v);
/* Python json.dumps(v, indent=indent or None (indent < 0), sort_keys=...), ensure_ascii, no
 * trailing newline. malloc'd; NULL when out of memory. */
char *valio_json_text(const json_t *v, int indent, int sort_keys);
/* PyYAML yaml.safe_dump(v, default_flow_style=False, sort_keys=True). malloc'd; NULL when out of memory. */
char *valio_yaml_dumps(const json_t *v);
/* Python repr(float): "1e-05", "0.02", "10000.0", "1e+16", "-0.0", "inf", "nan". Returns buf. */
const char *valio_fmt_double(double d, char buf[40]);
/* Write text to path atomically (temp file in the same directory, fsync, rename). */
int valio_write_file(const char *path, const char *text, ck_err *e);

#endif
