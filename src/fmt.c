/* fmt.c - cs-auto and cs-current (see fmt.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "fmt.h"
#include "h5ck.h"
#include "path.h"
#include "tree.h"
#include "valio.h"

int fmt_saved_release(const ck_tsrc *src, const json_t *tree, char **out, ck_err *e)
{
	json_t *md = tree_get(tree, "__metadata__"), *cs = json_object_get(md, "c"), *v = NULL;
	size_t n = json_array_size(cs);
	json_t *last = n ? json_array_get(cs, n - 1) : NULL;
	const char *ver = NULL;
	int a, b, rc = 0;
	*out = NULL;
	if (last && !tree_to_json(tree, tree_get(last, "version") ? tree_get(last, "version") : last, &v, e))
		ver = json_string_value(v);
	else
		ck_err_clear(e);
	if (ver && sscanf(ver, "%d.%d", &a, &b) == 2) {
		if (asprintf(out, "cs-%d.%d", a, b) < 0)
			*out = NULL, rc = ck_errf(e, CK_ENOMEM, "out of memory");
		json_decref(v);
		return rc;
	}
	json_decref(v);
	/* ckconv's own HF -> CS output: the format it was converted to */
	const char *prov = h5ck_provenance(src);
	json_t *p = prov ? json_loads(prov, 0, NULL) : NULL;
	const char *tf = json_string_value(json_object_get(p, "target_format"));
	if (tf && !strncmp(tf, "cs-", 3) && !(*out = strdup(tf)))
		rc = ck_errf(e, CK_ENOMEM, "out of memory");
	json_decref(p);
	if (!rc && !*out)
		rc = ck_errf(e, CK_EINVALID, "%s: --src-fmt cs-auto: the checkpoint has no __metadata__ record with a version "
			"(checkpoints before release 2.1, or not saved by ModelZoo, have none); pass --src-fmt cs-X.Y", src->path);
	return rc;
}

int fmt_auto(const char *path, char **out, ck_err *e)
{
	ck_tsrc *src = NULL;
	json_t *tree = NULL;
	int rc = h5ck_open(path, &src, e);
	*out = NULL;
	if (!rc && !(rc = tree_read(src, &tree, e)))
		rc = fmt_saved_release(src, tree, out, e);
	json_decref(tree);
	ck_tsrc_free(src);
	return rc;
}

int fmt_current(const char *rules_dir, char **out, ck_err *e)
{
	char *p = NULL;
	json_t *rel = NULL;
	int rc;
	*out = NULL;
	if (asprintf(&p, "%s/cscs/releases.yaml", rules_dir) < 0)
		return ck_errf(e, CK_ENOMEM, "out of memory");
	if (!(rc = valio_yaml_load(p, &rel, e))) {
		const char *c = json_string_value(json_object_get(rel, "current"));
		if (!c || strncmp(c, "cs-", 3))
			rc = ck_errf(e, CK_EINVALID, "%s: expected 'current: cs-X.Y' (what --tgt-fmt cs-current means)", p);
		else if (!(*out = strdup(c)))
			rc = ck_errf(e, CK_ENOMEM, "out of memory");
	}
	json_decref(rel);
	free(p);
	return rc;
}

int fmt_resolve(const char *src, const char *rules_dir, const char **src_fmt, const char **tgt_fmt, char **sf,
	char **tf, ck_err *e)
{
	int rc;
	if (*src_fmt && !strcmp(*src_fmt, "cs-auto")) {
		if (path_is_dir(src))
			return ck_errf(e, CK_EUSAGE, "%s: --src-fmt cs-auto reads the release from a packed checkpoint (.mdl), but "
				"this is a directory (an HF checkpoint? then --src-fmt hf)", src);
		if ((rc = fmt_auto(src, sf, e)))
			return rc;
		*src_fmt = *sf;
	}
	if (*tgt_fmt && !strcmp(*tgt_fmt, "cs-current")) {
		if ((rc = fmt_current(rules_dir, tf, e)))
			return rc;
		*tgt_fmt = *tf;
	}
	return 0;
}
