/* outpath.c - the output paths of `convert` (see outpath.h). */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "outpath.h"
#include "path.h"
#include "tb.h"

char *outpath_generic(const char *name)
{
	size_t n = strlen(name);
	for (;;) { /* drop ".letters" from the end while there is one */
		size_t k = n;
		while (k > 0 && isalpha((unsigned char)name[k - 1]))
			k--;
		if (k == n || k == 0 || name[k - 1] != '.' || k - 1 == 0)
			break;
		n = k - 1;
	}
	return strndup(name, n);
}

void outpath_dispose(outpath *o)
{
	free(o->ckpt);
	free(o->params);
	free(o->mkdir);
	memset(o, 0, sizeof *o);
}

int outpath_make_dir(const char *dir, ck_err *e)
{
	char *p = strdup(dir);
	int rc = 0;
	if (!p)
		return ck_errf(e, CK_ENOMEM, "out of memory");
	for (char *s = p + 1;; s++) { /* each prefix ending at a '/', then the whole */
		int last = *s == '\0';
		if (*s != '/' && !last)
			continue;
		*s = '\0';
		if (mkdir(p, 0777) && errno != EEXIST) /* the umask applies, as for mkdir(1) */
			rc = ck_errf(e, CK_EIO, "%s: cannot create the output directory: %s", p, strerror(errno));
		else if (!path_is_dir(p))
			rc = ck_errf(e, CK_EINVALID, "%s: exists and is not a directory (needed for the output directory %s)", p, dir);
		if (rc || last)
			break;
		*s = '/';
	}
	free(p);
	return rc;
}

/* s without trailing slashes ("/" stays "/"). */
static char *strip_slashes(const char *s)
{
	size_t n = strlen(s);
	while (n > 1 && s[n - 1] == '/')
		n--;
	return strndup(s, n);
}

/* "." or "..", or a name ending in "/", "/." or "/..": a directory whatever exists there. */
static int says_dir(const char *s)
{
	const char *b = path_base(s);
	return !*b || !strcmp(b, ".") || !strcmp(b, "..");
}

static int has(const char *dir, const char *name)
{
	char *p = path_join(dir, name);
	struct stat st;
	int ok = p && stat(p, &st) == 0;
	free(p);
	return ok;
}

/* A directory an HF conversion wrote: config.json in it or in a component directory of it. */
static int model_dir(const char *d)
{
	DIR *dh;
	struct dirent *de;
	int found = has(d, "config.json");
	if (found || !(dh = opendir(d)))
		return found;
	while (!found && (de = readdir(dh))) {
		char *sub = de->d_name[0] == '.' ? NULL : path_join(d, de->d_name);
		found = sub && path_is_dir(sub) && has(sub, "config.json");
		free(sub);
	}
	closedir(dh);
	return found;
}

/* -o OUT names a directory that receives the default names. A packed output: ".", "dir/" or any
 * existing directory. An HF directory: ".", "..", or "dir/" naming an existing directory that
 * holds no HF model (else -o names the HF directory itself, which --force may replace). */
static int packed_into(const char *out, int isdir)
{
	return says_dir(out) || isdir;
}

static int hf_into(const char *out, int isdir)
{
	const char *b = path_base(out);
	return !strcmp(b, ".") || !strcmp(b, "..") || (!*b && isdir && !model_dir(out));
}

/* What differs between the two kinds of output (a packed file, an HF directory), indexed by
 * outpath_in.to_hf. */
static const struct kind {
	const char *ext;    /* the default checkpoint name's extension */
	int params;         /* a params YAML is named beside it (CS target) */
	int inside_src_dir; /* a directory source: the reference writes inside it, next to the weights */
	int (*into)(const char *out, int isdir);
} kinds[2] = {{".mdl", 1, 1, packed_into}, {"", 0, 0, hf_into}};

static const struct kind *kind_of(const outpath_in *in)
{
	return &kinds[in->to_hf != 0];
}

int outpath_parent_exists(const char *path, const char *given, ck_err *e)
{
	char *d = path_dir(path);
	int rc = 0;
	struct stat st;
	if (!d)
		return ck_errf(e, CK_ENOMEM, "out of memory");
	if (stat(d, &st))
		rc = ck_errf(e, CK_EUSAGE, "%s: no such directory (for -o %s); create it first, or pass --output-dir %s, "
			"which is created", d, given, d);
	else if (!S_ISDIR(st.st_mode))
		rc = ck_errf(e, CK_EUSAGE, "%s: not a directory (for -o %s)", d, given);
	free(d);
	return rc;
}

/* The name the reference gives the checkpoint, before "_to_FMT", and the directory it goes to. */
static int default_name(const outpath_in *in, char **gen, char **place)
{
	static const char *const weights[] = {"model.safetensors.index.json", "model.safetensors", TB_INDEX_NAME,
		TB_SINGLE_NAME};
	char *src = strip_slashes(in->src);
	const char *name = NULL;
	*gen = *place = NULL;
	if (!src)
		return -1;
	if (in->multi) {
		name = TB_SINGLE_NAME; /* the reference: pytorch_model_to_FMT.mdl next to the outer directory */
	} else if (kind_of(in)->inside_src_dir && path_is_dir(src)) {
		name = "model";
		for (size_t i = 0; i < sizeof weights / sizeof *weights; i++)
			if (has(src, weights[i])) {
				name = weights[i];
				break;
			}
		*place = strdup(src); /* the reference writes next to the weights file: inside the directory */
	}
	*gen = outpath_generic(name ? name : path_base(src));
	if (!*place)
		*place = path_dir(src);
	free(src);
	return *gen && *place ? 0 : -1;
}

static int choose_default(const outpath_in *in, const char *dir, outpath *o, ck_err *e)
{
	char *gen = NULL, *place = NULL, *cgen = NULL, *cdir = NULL;
	int rc = 0;
	if (default_name(in, &gen, &place)) {
		rc = ck_errf(e, CK_ENOMEM, "out of memory");
		goto done;
	}
	if (!dir && !strcmp(place, ".")) { /* a bare name stays bare, as the reference's os.path.join("", ...) */
		free(place);
		place = strdup("");
	}
	if (!place || asprintf(&o->ckpt, "%s%s%s_to_%s%s", dir ? dir : place, dir || *place ? "/" : "", gen, in->tgt,
		kind_of(in)->ext) < 0) {
		o->ckpt = NULL;
		rc = ck_errf(e, CK_ENOMEM, "out of memory");
		goto done;
	}
	if (!kind_of(in)->params)
		goto done;
	/* the params: next to the config read (the reference's --config), named after it */
	cgen = outpath_generic(in->config ? path_base(in->config) : "config");
	cdir = dir ? strdup(dir) : in->config ? path_dir(in->config) : strdup(place);
	if (cdir && !dir && in->config && !strchr(in->config, '/'))
		cdir[0] = '\0';
	if (!cgen || !cdir || asprintf(&o->params, "%s%s%s_to_%s.yaml", cdir, *cdir ? "/" : "", cgen, in->tgt) < 0) {
		o->params = NULL;
		rc = ck_errf(e, CK_ENOMEM, "out of memory");
	}
done:
	free(gen);
	free(place);
	free(cgen);
	free(cdir);
	return rc;
}

int outpath_choose(const outpath_in *in, outpath *o, ck_err *e)
{
	const char *dir = in->out_dir;
	struct stat st;
	int rc;
	memset(o, 0, sizeof *o);
	if (in->out && !strcmp(in->out, "-"))
		return ck_errf(e, CK_EUSAGE, "-o -: ckconv writes files, not a stream; name a file or a directory");
	if (in->out && !*in->out)
		return ck_errf(e, CK_EUSAGE, "-o: empty path");
	if (in->out && dir)
		return ck_errf(e, CK_EUSAGE, "-o %s and --output-dir %s: give one (-o names the output, --output-dir the "
			"directory that receives the reference's names)", in->out, dir);
	if (in->out) {
		int isdir = stat(in->out, &st) == 0 && S_ISDIR(st.st_mode);
		if (kind_of(in)->into(in->out, isdir))
			dir = in->out;
		if (!dir) { /* the output itself */
			if (!(o->ckpt = strip_slashes(in->out)))
				return ck_errf(e, CK_ENOMEM, "out of memory");
			return outpath_parent_exists(o->ckpt, in->out, e);
		}
	}
	if (dir) {
		if (stat(dir, &st) == 0 && !S_ISDIR(st.st_mode))
			return ck_errf(e, CK_EUSAGE, "%s: exists and is not a directory (the output directory)", dir);
		if (stat(dir, &st) != 0 && !(o->mkdir = strip_slashes(dir)))
			return ck_errf(e, CK_ENOMEM, "out of memory");
	}
	char *d = dir ? strip_slashes(dir) : NULL;
	if (dir && !d)
		return ck_errf(e, CK_ENOMEM, "out of memory");
	rc = choose_default(in, d, o, e);
	free(d);
	return rc;
}
