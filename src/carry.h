/* carry.h - carried files: the tokenizer and processor files that travel with a packed
 * checkpoint in OUT.hf-files/[component/] and back into the HF directory.
 *
 * Only names the rules list travel (glob patterns), in both directions: a planted
 * modeling_evil.py stays behind. A symlink among them (the HF cache's snapshots/REV/x ->
 * ../../blobs/HASH) is followed only when its target lies inside the source tree or the HF
 * cache's blob store, else refused. Each file's xxHash64 is recorded under its relative path
 * ("text_model/tokenizer.json") in the packed file's provenance, checked on the way back and by
 * `ckconv verify`. */
#ifndef CK_CARRY_H
#define CK_CARRY_H

#include <jansson.h>
#include <stddef.h>
#include "err.h"

/* Copy the regular files of src_dir whose names match a pattern into dst_dir (created with the
 * umask when the first file comes). root: the tree symlinks may point into. sums: an object
 * that gets "<rel><name>": "<16 hex xxh64>" per file copied (rel is "" or "component/").
 * skipped: when non-NULL, a JSON array that gets the names present but matching no pattern. */
int carry_copy(const char *src_dir, const char *root, char **pat, size_t n_pat, const char *dst_dir, const char *rel,
	json_t *sums, json_t *skipped, ck_err *e);
/* Check the files copied back (got, from carry_copy) against the record in the packed file
 * (want, its provenance's "carried"; NULL: the file carries no record, nothing to check).
 * where names the carried directory in messages. */
int carry_check(const json_t *got, const json_t *want, const char *where, ck_err *e);
/* verify: hash every file the record lists under dir. 0 when all match; *bad counts those that
 * do not (each printed on stdout), *n those checked. */
int carry_verify(const char *dir, const json_t *want, size_t *n, size_t *bad, ck_err *e);
/* Where the carried files of a packed file live: x.mdl, x.h5 or x -> x.hf-files (malloc'd). */
char *carry_dir(const char *packed);
/* The "carried" record of a provenance JSON string (new reference), or NULL. */
json_t *carry_record(const char *provenance_json);

#endif
