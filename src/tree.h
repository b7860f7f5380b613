/* tree.h - a packed checkpoint's whole state dict (model, optimizer keyed by int, schedulers,
 * global_step, __metadata__, ...) as an editable tree, read from and written to cstorch's
 * format 0.5 (notes/cstorch-h5.md). Tensors stay in the source file and are copied at write;
 * other leaves keep their stored metadata text byte for byte while their key is unchanged.
 *
 * The tree is Jansson values, one object per node:
 *   {"d": [key, ...], "c": [child, ...], "ty": "builtins.dict"}   dict (keys: strings or ints)
 *   {"c": [child, ...], "ty": "builtins.list" | "builtins.tuple"}  sequence
 *   {"tensor": "<source key>"}                                     tensor of the source
 *   {"raw": "<metadata JSON>", "key": "<source key>"}              stored leaf, as read
 *   {"value": V}                                                   int, float, string, bool or None
 *   {"arange": [D0, D1, ...]}                                      new int64 tensor of that shape holding
 *                                                                  0, 1, ... (a buffer a layout needs) */
#ifndef CK_TREE_H
#define CK_TREE_H

#include <jansson.h>
#include "err.h"
#include "h5ck.h"
#include "tensor.h"

/* The state dict of an open packed source (format 0.5). */
int tree_read(const ck_tsrc *src, json_t **out, ck_err *e);
/* Write the tree to path through an h5ck sink (o: compression, version; its tree fields are
 * set here): tensors read from src one at a time, leaves and __spec__ as the tree says. */
int tree_write(const json_t *root, ck_tsrc *src, const char *path, const h5ck_opts *o, ck_err *e);

/* Child `key` of a dict node (keys compared as Python's str() prints them), or NULL. */
json_t *tree_get(const json_t *node, const char *key);
/* Insert or replace child `key` (string key) of a dict node; at index `at` when new (-1: end).
 * Steals child. */
int tree_set(json_t *node, const char *key, json_t *child, long at);
/* Remove child `key` of a dict node; its index, or -1 when absent. */
long tree_del(json_t *node, const char *key);
/* The node at a dotted path from root ("optimizer.sparsity.state", "optimizer.param_groups.0"), or NULL. */
json_t *tree_at(const json_t *root, const char *path);
/* A plain value as a tree: objects become dicts, arrays lists, the rest value leaves. NEW. */
json_t *tree_from_json(const json_t *v);
/* The Python value of a subtree: dicts (int keys as their text), lists, tuples (as lists),
 * stored or new plain leaves; tensors and unreadable leaves give *out NULL and CK_EINVALID. */
int tree_to_json(const json_t *root, const json_t *node, json_t **out, ck_err *e);
/* Python str() of a dict key. */
const char *tree_key_str(const json_t *k, char buf[32]);

#endif
