/* remap.h - rebuild a params document in a new layout from a table (the `remap` params op of
 * rules/cscs/: cs-2.2's legacy sections -> cs-2.3's `trainer:`), as ModelZoo's
 * convert_legacy_params_to_trainer_params does:
 *   - the table is the new layout, its leaves dotted paths of the old one ("runconfig.seed");
 *   - a leaf path takes that old leaf; a path ending ".*" takes the whole old subtree under it
 *     (its leaves not taken by another entry; globs with more dots first);
 *   - a mapping entry "*" merges its subtree into the enclosing mapping;
 *   - what nothing took is left out; so are null values and empty mappings and lists
 *     (not those inside a "*" subtree).
 * Old leaves no entry takes are listed in *extra (their dotted paths). */
#ifndef CK_REMAP_H
#define CK_REMAP_H

#include <jansson.h>
#include "err.h"

/* ignore: old dotted paths dropped silently (a list, or NULL). *out, *extra: NEW. */
int remap_run(const json_t *old, const json_t *table, const json_t *ignore, json_t **out, json_t **extra, ck_err *e);

#endif
