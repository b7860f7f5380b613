/* fmt.h - the reference converter's pseudo formats, resolved in one place for every kind of
 * conversion: --src-fmt cs-auto (the release that saved a packed checkpoint) and --tgt-fmt
 * cs-current (the newest release ckconv converts to: rules/cscs/releases.yaml `current`). */
#ifndef CK_FMT_H
#define CK_FMT_H

#include <jansson.h>
#include "err.h"
#include "tensor.h"

/* cs-auto for an open packed source whose state dict is `tree` (tree.h): "cs-X.Y" from the last
 * __metadata__ record's version ("2.4.0" -> cs-2.4), as the reference reads it; a checkpoint
 * ckconv converted from HF (no __metadata__, as the reference's) by the target format its
 * provenance records. Otherwise one error naming the file. *out malloc'd. */
int fmt_saved_release(const ck_tsrc *src, const json_t *tree, char **out, ck_err *e);
/* The same for a packed file by path. */
int fmt_auto(const char *path, char **out, ck_err *e);
/* cs-current: rules_dir/cscs/releases.yaml's `current`. *out malloc'd. */
int fmt_current(const char *rules_dir, char **out, ck_err *e);
/* HF <-> CS: a --src-fmt cs-auto (of the packed source src; a directory is refused) and a
 * --tgt-fmt cs-current in *src_fmt / *tgt_fmt replaced by the release each names, held in
 * *sf / *tf (malloc'd, the caller frees; NULL when nothing was resolved). */
int fmt_resolve(const char *src, const char *rules_dir, const char **src_fmt, const char **tgt_fmt, char **sf,
	char **tf, ck_err *e);

#endif
