/* carry.c - carried files (see carry.h): listed names only, bounded symlinks, checksums. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>
#include "carry.h"
#include "txn.h"

/* p lies strictly inside dir (both canonical). */
static int inside(const char *p, const char *dir)
{
	size_t n = dir ? strlen(dir) : 0;
	return n && !strncmp(p, dir, n) && (p[n] == '/' || !strcmp(dir, "/"));
}

/* The HF cache keeps files in models--X/blobs/HASH and links them from
 * models--X/snapshots/REV/NAME: for a canonical directory below a "snapshots", its blob store. */
static char *blob_store(const char *real_dir)
{
	const char *s = NULL;
	for (const char *p = strstr(real_dir, "/snapshots/"); p; p = strstr(p + 1, "/snapshots/"))
		s = p;
	char *b = NULL;
	struct stat st;
	if (!s || asprintf(&b, "%.*s/blobs", (int)(s - real_dir), real_dir) < 0)
		return NULL;
	if (stat(b, &st) || !S_ISDIR(st.st_mode)) {
		free(b);
		return NULL;
	}
	return b;
}

/* The file to read for entry `from`: itself when regular, its target when a symlink that stays
 * inside root or the blob store and ends at a regular file. 1: not a file (a directory: skip). */
static int resolve(const char *from, const char *root, const char *blobs, char **real, ck_err *e)
{
	struct stat st;
	*real = NULL;
	if (lstat(from, &st))
		return ck_errf(e, CK_EIO, "%s: %s", from, strerror(errno));
	if (S_ISDIR(st.st_mode))
		return 1;
	if (S_ISREG(st.st_mode))
		return (*real = strdup(from)) ? 0 : ck_errf(e, CK_ENOMEM, "out of memory");
	if (!S_ISLNK(st.st_mode))
		return ck_errf(e, CK_EINVALID, "%s: not a regular file; refusing to carry it", from);
	if (!(*real = realpath(from, NULL)))
		return ck_errf(e, CK_EINVALID, "%s: a symbolic link whose target cannot be reached: %s", from, strerror(errno));
	if (!inside(*real, root) && !inside(*real, blobs)) {
		int rc = ck_errf(e, CK_EINVALID, "%s: a symbolic link to %s, outside the source directory%s; refusing to "
			"follow it", from, *real, blobs ? " and the HF cache's blob store" : "");
		free(*real);
		*real = NULL;
		return rc;
	}
	if (stat(*real, &st) || !S_ISREG(st.st_mode)) {
		int rc = ck_errf(e, CK_EINVALID, "%s: a symbolic link to %s, which is not a regular file; refusing to carry it",
			from, *real);
		free(*real);
		*real = NULL;
		return rc;
	}
	return 0;
}

/* Copy src (a resolved regular file) to the new file dst, hashing the bytes on the way. */
static int copy_hashed(const char *src, const char *dst, XXH64_hash_t *h, ck_err *e)
{
	static char buf[1 << 16];
	XXH64_state_t *st = XXH64_createState();
	int in = open(src, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC), out = -1, rc = 0;
	struct stat sb;
	ssize_t n;
	if (!st) {
		rc = ck_errf(e, CK_ENOMEM, "out of memory");
		goto done;
	}
	XXH64_reset(st, 0);
	if (in < 0 || fstat(in, &sb) || !S_ISREG(sb.st_mode)) { /* swapped since resolve: refuse, never block */
		rc = ck_errf(e, CK_EIO, "%s: cannot read it as a regular file: %s", src, in < 0 ? strerror(errno) : "not one");
		goto done;
	}
	if ((out = txn_create_file(dst, e)) < 0) {
		rc = out;
		goto done;
	}
	while ((n = read(in, buf, sizeof buf)) > 0) {
		XXH64_update(st, buf, (size_t)n);
		for (ssize_t off = 0; off < n;) {
			ssize_t w = write(out, buf + off, (size_t)(n - off));
			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0) {
				rc = ck_errf(e, CK_EIO, "%s: write failed: %s", dst, strerror(errno));
				goto done;
			}
			off += w;
		}
	}
	if (n < 0)
		rc = ck_errf(e, CK_EIO, "%s: read failed: %s", src, strerror(errno));
	else if (fsync(out))
		rc = ck_errf(e, CK_EIO, "%s: fsync failed: %s", dst, strerror(errno));
	*h = XXH64_digest(st);
done:
	XXH64_freeState(st);
	if (in >= 0)
		close(in);
	if (out >= 0 && close(out) && !rc)
		rc = ck_errf(e, CK_EIO, "%s: close failed: %s", dst, strerror(errno));
	return rc;
}

static int listed(const char *name, char **pat, size_t n_pat)
{
	for (size_t i = 0; i < n_pat; i++)
		if (fnmatch(pat[i], name, FNM_PERIOD) == 0)
			return 1;
	return 0;
}

static int copy_one(const char *src_dir, const char *name, const char *root, const char *blobs, const char *dst_dir,
	const char *rel, json_t *sums, ck_err *e)
{
	char *from = NULL, *real = NULL, *to = NULL, *key = NULL, hex[17];
	XXH64_hash_t h = 0;
	int rc;
	if (asprintf(&from, "%s/%s", src_dir, name) < 0)
		return ck_errf(e, CK_ENOMEM, "out of memory");
	if ((rc = resolve(from, root, blobs, &real, e)))
		goto done;
	if (mkdir(dst_dir, 0777) && errno != EEXIST) { /* the umask applies, as for mkdir(1) */
		rc = ck_errf(e, CK_EIO, "%s: %s", dst_dir, strerror(errno));
		goto done;
	}
	if (asprintf(&to, "%s/%s", dst_dir, name) < 0 || asprintf(&key, "%s%s", rel, name) < 0) {
		to = key = NULL;
		rc = ck_errf(e, CK_ENOMEM, "out of memory");
		goto done;
	}
	if ((rc = copy_hashed(real, to, &h, e)))
		goto done;
	snprintf(hex, sizeof hex, "%016llx", (unsigned long long)h);
	if (json_object_set_new(sums, key, json_string(hex)))
		rc = ck_errf(e, CK_ENOMEM, "out of memory");
done:
	free(from);
	free(real);
	free(to);
	free(key);
	return rc < 0 ? rc : 0;
}

int carry_copy(const char *src_dir, const char *root, char **pat, size_t n_pat, const char *dst_dir, const char *rel,
	json_t *sums, json_t *skipped, ck_err *e)
{
	struct dirent **list = NULL;
	char *rroot = realpath(root, NULL), *blobs = rroot ? blob_store(rroot) : NULL;
	int n = scandir(src_dir, &list, NULL, alphasort), rc = 0; /* sorted: the record is deterministic */
	for (int i = 0; i < n; i++) {
		const char *name = list[i]->d_name;
		if (!rc && strcmp(name, ".") && strcmp(name, "..")) {
			if (listed(name, pat, n_pat))
				rc = copy_one(src_dir, name, rroot, blobs, dst_dir, rel, sums, e);
			else if (skipped)
				json_array_append_new(skipped, json_string(name));
		}
		free(list[i]);
	}
	free(list);
	free(rroot);
	free(blobs);
	return rc; /* n < 0: no such directory, nothing to carry */
}

int carry_check(const json_t *got, const json_t *want, const char *where, ck_err *e)
{
	const char *k;
	json_t *v;
	if (!want)
		return 0;
	json_object_foreach((json_t *)got, k, v) {
		json_t *w = json_object_get(want, k);
		if (!json_is_string(w))
			return ck_errf(e, CK_ECORRUPT, "%s/%s: not among the carried files recorded when the packed file was "
				"written; refusing it (remove it, or convert again from the HF original)", where, k);
		if (strcmp(json_string_value(w), json_string_value(v)))
			return ck_errf(e, CK_ECORRUPT, "%s/%s: xxHash64 %s, but %s was recorded when the packed file was written "
				"(damaged or replaced)", where, k, json_string_value(v), json_string_value(w));
	}
	json_object_foreach((json_t *)want, k, v)
		if (!json_object_get(got, k))
			return ck_errf(e, CK_ECORRUPT, "%s/%s: recorded when the packed file was written, but missing (or no "
				"longer listed by the rules)", where, k);
	return 0;
}

/* hex: the xxHash64 of the regular file at p, or "" when it cannot be read as one. */
static void hash_file(const char *p, char hex[17])
{
	static char buf[1 << 16];
	int in = open(p, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	XXH64_state_t *st = XXH64_createState();
	struct stat sb;
	ssize_t r = -1;
	hex[0] = '\0';
	if (in >= 0 && st && fstat(in, &sb) == 0 && S_ISREG(sb.st_mode)) {
		XXH64_reset(st, 0);
		while ((r = read(in, buf, sizeof buf)) > 0)
			XXH64_update(st, buf, (size_t)r);
		if (r == 0)
			snprintf(hex, 17, "%016llx", (unsigned long long)XXH64_digest(st));
	}
	XXH64_freeState(st);
	if (in >= 0)
		close(in);
}

int carry_verify(const char *dir, const json_t *want, size_t *n, size_t *bad, ck_err *e)
{
	const char *k;
	json_t *v;
	*n = *bad = 0;
	json_object_foreach((json_t *)want, k, v) {
		char *p = NULL, hex[17];
		if (asprintf(&p, "%s/%s", dir, k) < 0)
			return ck_errf(e, CK_ENOMEM, "out of memory");
		hash_file(p, hex);
		(*n)++;
		if (!hex[0]) {
			printf("%s: carried file missing or unreadable\n", p);
			(*bad)++;
		} else if (!json_is_string(v) || strcmp(hex, json_string_value(v))) {
			printf("%s: carried file damaged (xxHash64 %s, recorded %s)\n", p, hex,
				json_is_string(v) ? json_string_value(v) : "?");
			(*bad)++;
		}
		free(p);
	}
	return 0;
}

json_t *carry_record(const char *provenance_json)
{
	json_t *o = provenance_json ? json_loads(provenance_json, 0, NULL) : NULL;
	json_t *r = json_incref(json_object_get(o, "carried"));
	json_decref(o);
	return json_is_object(r) ? r : (json_decref(r), NULL);
}

char *carry_dir(const char *packed)
{
	size_t n = strlen(packed), m = n;
	if (n > 4 && !strcmp(packed + n - 4, ".mdl"))
		m = n - 4;
	else if (n > 3 && !strcmp(packed + n - 3, ".h5"))
		m = n - 3;
	char *d = NULL;
	return asprintf(&d, "%.*s.hf-files", (int)m, packed) < 0 ? NULL : d;
}
