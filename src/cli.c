/* cli.c - helpers shared by the command files. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include "cli.h"
#include "h5ck.h"
#include "rule.h"
#include "path.h"
#include "shard.h"
#include "st.h"
#include "tb.h"
#include "text.h"
#include "valio.h"

static char *exe_dir(void)
{
	char buf[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
	if (n <= 0)
		return NULL;
	buf[n] = '\0';
	char *s = strrchr(buf, '/');
	if (s)
		*s = '\0';
	return strdup(buf);
}

char *cli_rules_dir(const char *opt)
{
	const char *env = getenv("CKCONV_RULES");
	char *dir, *cand = NULL;
	if (opt)
		return strdup(opt);
	if (env && *env)
		return strdup(env);
	if (!(dir = exe_dir()))
		return strdup("rules");
	/* a build tree (bin/ckconv next to rules/) first, then an installed prefix */
	if (asprintf(&cand, "%s/../rules", dir) >= 0 && path_is_dir(cand)) {
		char *real = realpath(cand, NULL);
		free(dir);
		if (real) {
			free(cand);
			return real;
		}
		return cand;
	}
	free(cand);
	cand = NULL;
	if (asprintf(&cand, "%s/../share/ckconv/rules", dir) < 0)
		cand = NULL;
	free(dir);
	return cand ? cand : strdup("rules");
}

static int has_file(const char *dir, const char *name)
{
	char p[4096];
	return (size_t)snprintf(p, sizeof p, "%s/%s", dir, name) < sizeof p && access(p, F_OK) == 0;
}

/* safetensors first: a repository shipping both formats means the same tensors. */
/* A directory holding shards of a set but not the set's index: say so (1, e set), rather than
 * "no weights". */
static int orphan_shards(const char *dir, ck_err *e)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int found = 0;
	if (!d)
		return 0;
	while (!found && (de = readdir(d))) {
		ck_err tmp = {0};
		if (shard_refuse_member(de->d_name, &tmp)) {
			found = 1;
			ck_errf(e, CK_EINVALID, "%s: holds %s, one shard of a set, but not the set's index: give the "
				"directory with all shards and their index", dir, de->d_name);
		}
	}
	closedir(d);
	return found;
}

/* A directory of component directories (what convert writes for a multi-component model):
 * one source whose tensor names are "<component>/<name>". */
typedef struct comp_src {
	ck_tsrc base;
	ck_tsrc **sub;
	char **names; /* the component directories' names */
	size_t n_sub;
	size_t *from, *idx; /* per tensor: its component and its index there */
} comp_src;

static int comp_read(ck_tsrc *b, size_t i, void *buf, ck_err *e)
{
	comp_src *s = (comp_src *)b;
	return ck_tsrc_read(s->sub[s->from[i]], s->idx[i], buf, e);
}

static void comp_free(ck_tsrc *b)
{
	comp_src *s = (comp_src *)b;
	for (size_t i = 0; i < s->n_sub; i++) {
		ck_tsrc_free(s->sub[i]);
		free(s->names[i]);
	}
	free(s->sub);
	free(s->names);
	free(s->from);
	free(s->idx);
	ck_tinfo_array_free(s->base.t, s->base.n);
	free(s->base.path);
	free(s);
}

static const ck_tsrc_ops comp_ops = {comp_read, comp_free, NULL};

static int has_weights(const char *dir)
{
	return has_file(dir, "model.safetensors.index.json") || has_file(dir, "model.safetensors") ||
		has_file(dir, TB_INDEX_NAME) || has_file(dir, TB_SINGLE_NAME);
}

static int skip_hidden(const struct dirent *d)
{
	return d->d_name[0] != '.';
}

/* 1 with *out set (or 0 with e set on a failure) when dir's sub-directories hold weights; -1
 * when none does. */
static int open_components(const char *dir, ck_tsrc **out, ck_err *e)
{
	struct dirent **ents = NULL;
	int n = scandir(dir, &ents, skip_hidden, alphasort), rc = -1;
	comp_src *s = NULL;
	size_t total = 0;
	for (int i = 0; i < n; i++) {
		char *p = path_join(dir, ents[i]->d_name);
		ck_tsrc *sub = NULL;
		if (p && path_is_dir(p) && has_weights(p)) {
			if (!s && !(s = ck_calloc(e, 1, sizeof *s))) {
				rc = 0;
			} else if (cli_open_source(p, &sub, e)) {
				rc = 0;
			} else {
				ck_tsrc **g = realloc(s->sub, (s->n_sub + 1) * sizeof *g);
				char **nm = g ? realloc(s->names, (s->n_sub + 1) * sizeof *nm) : NULL;
				if (g)
					s->sub = g;
				if (nm)
					s->names = nm;
				if (!g || !nm || !(s->names[s->n_sub] = strdup(ents[i]->d_name))) {
					ck_tsrc_free(sub);
					ck_errf(e, CK_ENOMEM, "out of memory");
					rc = 0;
				} else {
					s->sub[s->n_sub++] = sub;
					total += sub->n;
					rc = 1;
				}
			}
		}
		free(p);
		if (!rc)
			break;
	}
	for (int i = 0; i < n; i++)
		free(ents[i]);
	free(ents);
	if (rc == 1) { /* the names, prefixed */
		s->base.ops = &comp_ops;
		if (!(s->base.path = strdup(dir)) || !(s->base.t = ck_calloc(e, total ? total : 1, sizeof *s->base.t)) ||
			!(s->from = ck_calloc(e, total ? total : 1, sizeof *s->from)) ||
			!(s->idx = ck_calloc(e, total ? total : 1, sizeof *s->idx)))
			rc = 0;
		for (size_t k = 0; rc == 1 && k < s->n_sub; k++) {
			const char *cname = s->names[k];
			for (size_t i = 0; rc == 1 && i < s->sub[k]->n; i++) {
				ck_tinfo *t = &s->base.t[s->base.n];
				*t = s->sub[k]->t[i];
				if (asprintf(&t->name, "%s/%s", cname, s->sub[k]->t[i].name) < 0) {
					t->name = NULL;
					rc = 0;
					break;
				}
				s->from[s->base.n] = k;
				s->idx[s->base.n++] = i;
			}
		}
		if (!rc && !e->code)
			ck_errf(e, CK_ENOMEM, "out of memory");
	}
	if (rc == 1)
		*out = &s->base;
	else if (s)
		comp_free(&s->base);
	return rc;
}

int cli_open_source(const char *path, ck_tsrc **out, ck_err *e)
{
	struct stat st;
	if (stat(path, &st) != 0)
		return ck_errf(e, CK_ENOTFOUND, "%s: %s", path, strerror(errno));
	if (S_ISDIR(st.st_mode)) {
		if (has_file(path, "model.safetensors.index.json") || has_file(path, "model.safetensors"))
			return st_open(path, out, e);
		if (has_file(path, TB_INDEX_NAME) || has_file(path, TB_SINGLE_NAME))
			return tb_open(path, out, e);
		return orphan_shards(path, e) ? CK_EINVALID : ck_errf(e, CK_ENOTFOUND, "%s: directory holds no weights "
			"(model.safetensors, model.safetensors.index.json, %s or %s)", path, TB_SINGLE_NAME, TB_INDEX_NAME);
	}
	if (S_ISREG(st.st_mode) && h5ck_is_hdf5(path))
		return h5ck_open(path, out, e);
	if (path_ends_with(path, ".bin") || path_ends_with(path, ".bin.index.json") ||
	    (S_ISREG(st.st_mode) && tb_is_zip(path)))
		return tb_open(path, out, e);
	return st_open(path, out, e);
}

int cli_parse_size(const char *s, uint64_t *out, ck_err *e)
{
	static const struct { const char *suf; uint64_t mul; } units[] = {
		{"KiB", 1ULL << 10}, {"MiB", 1ULL << 20}, {"GiB", 1ULL << 30}, {"TiB", 1ULL << 40},
		{"KB", 1000ULL}, {"MB", 1000000ULL}, {"GB", 1000000000ULL}, {"TB", 1000000000000ULL},
		{"K", 1000ULL}, {"M", 1000000ULL}, {"G", 1000000000ULL}, {"B", 1}, {"", 1}};
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (end == s || errno || v < 0)
		return ck_errf(e, CK_EINVALID, "bad size '%s' (expected e.g. 5GB, 500MiB or 1000000)", s);
	for (size_t i = 0; i < sizeof units / sizeof *units; i++)
		if (!strcmp(end, units[i].suf)) {
			double b = v * (double)units[i].mul;
			if (b > 1.8e19)
				return ck_errf(e, CK_EINVALID, "size '%s' is too large", s);
			*out = (uint64_t)b;
			return 0;
		}
	return ck_errf(e, CK_EINVALID, "bad size unit in '%s' (use B, KB, MB, GB, KiB, MiB, GiB)", s);
}

int cli_exists(const char *path)
{
	struct stat st;
	return lstat(path, &st) == 0;
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(p);
}

void cli_remove_tree(const char *path)
{
	struct stat st;
	if (lstat(path, &st) != 0)
		return;
	if (S_ISDIR(st.st_mode))
		nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	else
		unlink(path);
}

int cli_getopt(int argc, char **argv, const char *cmd, const char *shortopts, const struct option *longopts,
	const char **arg, ck_err *e)
{
	static int rest; /* after "--" every word left is an operand; getopt_long stops there */
	char spec[64];
	int c;
	if (optind == 0)
		rest = 0;
	if (!rest) {
		snprintf(spec, sizeof spec, "-:%s", shortopts);
		opterr = 0; /* getopt_long would print; the messages are ours */
		c = getopt_long(argc, argv, spec, longopts, NULL);
		*arg = optarg;
		if (c != -1 && c != '?' && c != ':')
			return c;
		rest = c == -1;
	}
	if (rest) {
		*arg = optind < argc ? argv[optind++] : NULL;
		return *arg ? 1 : -1;
	}
	/* the offending word: a short option by its letter, a long one as written */
	const char *word = optind > 0 && optind <= argc ? argv[optind - 1] : "?";
	char shortname[3] = {'-', (char)optopt, '\0'};
	if (optopt && !(word[0] == '-' && word[1] == '-'))
		word = shortname;
	if (c == ':')
		ck_errf(e, CK_EUSAGE, "%s: option %s needs a value (see ckconv %s --help)", cmd, word, cmd);
	else
		ck_errf(e, CK_EUSAGE, "%s: unknown option '%s' (see ckconv %s --help)", cmd, word, cmd);
	return CLI_OPT_ERROR;
}

/* Levenshtein distance of a and b, letters compared without case. */
static size_t edit_distance(const char *a, const char *b)
{
	size_t n = strlen(b), row[128], best;
	if (n >= sizeof row / sizeof *row)
		return (size_t)-1;
	for (size_t j = 0; j <= n; j++)
		row[j] = j;
	for (size_t i = 1; a[i - 1]; i++) {
		size_t diag = row[0];
		row[0] = i;
		for (size_t j = 1; j <= n; j++) {
			size_t up = row[j], cost = tolower((unsigned char)a[i - 1]) != tolower((unsigned char)b[j - 1]) ? 1 : 0;
			best = diag + cost;
			if (up + 1 < best)
				best = up + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			diag = up;
		}
	}
	return row[n];
}

static void consider(const char *name, const char *cand, size_t *best, char *buf, size_t n)
{
	size_t d = edit_distance(name, cand), len = strlen(name);
	size_t near = (len < 6 ? 1 : 2) + (strcasecmp(name, cand) == 0 ? 1 : 0);
	if (d <= near && d < *best) {
		*best = d;
		snprintf(buf, n, "%s", cand);
	}
}

int cli_find_model(const char *rules_dir, const char *name, char **path, ck_err *e)
{
	char **v, near[128] = "";
	size_t n, best = (size_t)-1;
	int rc = rule_find_model(rules_dir, name, path, e);
	if (rc != CK_ENOTFOUND || rule_list_models(rules_dir, &v, &n, NULL))
		return rc;
	for (size_t i = 0; i < n; i++) {
		rule_file *f = NULL;
		if (rule_file_load(v[i], &f, NULL) == 0) {
			consider(name, f->model, &best, near, sizeof near);
			for (size_t k = 0; k < f->n_alias; k++)
				consider(name, f->alias[k], &best, near, sizeof near);
		}
		rule_file_free(f);
		free(v[i]);
	}
	free(v);
	if (near[0]) { /* the one line gains the likely intended name */
		char msg[sizeof e->msg];
		snprintf(msg, sizeof msg, "%s", e->msg);
		ck_errf_reset(e, rc, "%.1900s; did you mean '%s'?", msg, near);
	}
	return rc;
}

int cli_need_path(const char *path, ck_err *e)
{
	struct stat st;
	if (lstat(path, &st) && stat(path, &st))
		return ck_errf(e, CK_EUSAGE, "%s: %s", path, strerror(errno));
	return 0;
}

int cli_open_checkpoint(const char *path, ck_tsrc **out, ck_err *e)
{
	if (path_is_dir(path) && !has_weights(path)) {
		int rc = open_components(path, out, e);
		if (rc >= 0)
			return rc ? 0 : e->code ? e->code : CK_EINVALID;
	}
	return cli_open_source(path, out, e);
}

json_t *cli_json_str(const char *s)
{
	text t = {0};
	json_t *v;
	char *lit;
	if (text_utf8_valid(s))
		return json_string(s);
	text_json_str(&t, s, strlen(s), 0); /* a valid JSON literal, U+FFFD for the bad bytes */
	lit = text_take(&t);
	v = lit ? json_loads(lit, JSON_DECODE_ANY, NULL) : NULL;
	free(lit);
	return v;
}

json_t *cli_json_tensor(const ck_tinfo *t)
{
	json_t *shape = json_array();
	for (int d = 0; shape && d < t->shape.rank; d++)
		json_array_append_new(shape, json_integer(t->shape.dim[d]));
	return json_pack("{s:o, s:s, s:o, s:I}", "name", cli_json_str(t->name), "dtype", ck_dtype_short_name(t->dtype),
		"shape", shape, "bytes", (json_int_t)t->nbytes);
}

int cli_json_print(json_t *v, ck_err *e)
{
	char *s = v ? valio_json_text(v, -1, 0) : NULL;
	json_decref(v);
	if (!s)
		return ck_errf(e, CK_ENOMEM, "out of memory");
	puts(s);
	free(s);
	return 0;
}

static int cmp_by_name(const void *a, const void *b, void *ctx)
{
	const ck_tsrc *s = ctx;
	return strverscmp(s->t[*(const size_t *)a].name, s->t[*(const size_t *)b].name);
}

size_t *cli_sorted_tensors(const ck_tsrc *s, ck_err *e)
{
	size_t *ix = ck_calloc(e, s->n ? s->n : 1, sizeof *ix);
	for (size_t i = 0; ix && i < s->n; i++)
		ix[i] = i;
	if (ix)
		qsort_r(ix, s->n, sizeof *ix, cmp_by_name, (void *)s);
	return ix;
}
