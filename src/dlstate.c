/* dlstate.c - R1.9 data-loader state files as a 2.x `dataloader` entry (dlstate.h). */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "bounds.h"
#include "dlstate.h"
#include "io.h"

#define GLOBAL_FILE "data_iter_checkpoint_state_file_global"

/* The integer on the first line of s, as Python's int(line) reads it (blanks around, a sign),
 * without the digit-group underscores Python also takes; 0 or -1. */
static int first_int(const char *s, long long *v)
{
	const char *end = strchr(s, '\n');
	char *stop;
	size_t n = end ? (size_t)(end - s) : strlen(s);
	char line[64];
	if (n >= sizeof line)
		return -1;
	memcpy(line, s, n);
	line[n] = '\0';
	errno = 0;
	*v = strtoll(line, &stop, 10);
	if (stop == line || errno)
		return -1;
	while (*stop == ' ' || *stop == '\t' || *stop == '\r')
		stop++;
	return *stop ? -1 : 0;
}

static int file_int(const char *dir, const char *name, long long *v, ck_err *e)
{
	char *path = NULL, *text = NULL;
	size_t len;
	int rc;
	if (asprintf(&path, "%s/%s", dir, name) < 0)
		return ck_errf(e, CK_ENOMEM, "out of memory");
	rc = io_slurp(path, CK_MAX_DLSTATE_FILE, &text, &len, e);
	if (!rc && (strlen(text) != len || first_int(text, v)))
		rc = ck_errf(e, CK_EINVALID, "%s: expected an integer on the first line", path);
	free(text);
	free(path);
	return rc;
}

/* A worker file's id and step from its name: the reference splits it at '_' and reads the
 * third part from the end and the last one up to its '.'. 0, or -1 for another name. */
static int worker_name(const char *name, long long *wrk, long long *step)
{
	const char *p[3] = {0};
	int n = 0;
	char *stop;
	for (const char *c = name + strlen(name); c > name && n < 3; c--)
		if (c[-1] == '_')
			p[n++] = c;
	if (n < 3)
		return -1;
	errno = 0;
	*step = strtoll(p[0], &stop, 10);
	if (stop == p[0] || *stop != '.' || errno)
		return -1;
	*wrk = strtoll(p[2], &stop, 10);
	return stop == p[2] || *stop != '_' || errno ? -1 : 0;
}

typedef struct wrk {
	long long id, samples;
	char *name;
} wrk;

static int cmp_wrk(const void *a, const void *b)
{
	const wrk *x = a, *y = b;
	return x->id != y->id ? (x->id < y->id ? -1 : 1) : strcmp(x->name, y->name);
}

/* The workers' files at the data step, unsorted. */
static int read_workers(const char *dir, long long step, wrk **ws, size_t *n, ck_err *e)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	size_t cap = 0;
	int rc = 0;
	if (!d)
		return ck_errf(e, CK_EIO, "%s: cannot list the data-loader state directory: %s", dir, strerror(errno));
	while (!rc && (de = readdir(d))) {
		size_t len = strlen(de->d_name);
		long long id, s;
		if (len < 4 || strcmp(de->d_name + len - 4, ".txt"))
			continue;
		if (worker_name(de->d_name, &id, &s)) {
			rc = ck_errf(e, CK_EINVALID, "%s/%s: expected a worker file named data_iter_state_file_worker_<W>_step_<S>.txt",
				dir, de->d_name);
			break;
		}
		if (s != step)
			continue;
		if (*n == CK_MAX_DLSTATE_WORKERS) {
			rc = ck_errf(e, CK_ELIMIT, "%s: more than %d worker files at data step %lld", dir, CK_MAX_DLSTATE_WORKERS, step);
			break;
		}
		if (*n == cap) {
			wrk *nw = realloc(*ws, (cap = cap ? 2 * cap : 8) * sizeof *nw);
			if (!nw) {
				rc = ck_errf(e, CK_ENOMEM, "out of memory");
				break;
			}
			*ws = nw;
		}
		wrk *w = &(*ws)[*n];
		w->id = id;
		if (!(w->name = strdup(de->d_name)))
			rc = ck_errf(e, CK_ENOMEM, "out of memory");
		else if (++*n, !(rc = file_int(dir, de->d_name, &w->samples, e)) && w->samples < 0)
			rc = ck_errf(e, CK_EINVALID, "%s/%s: expected a count of samples, found %lld", dir, de->d_name, w->samples);
	}
	closedir(d);
	return rc;
}

static json_t *as_json(const wrk *ws, size_t n, int iterable, ck_err *e)
{
	long long total = 0;
	json_t *all = json_array(), *out;
	for (size_t i = 0; all && i < n; i++) {
		if (total > LLONG_MAX - ws[i].samples) {
			json_decref(all);
			ck_errf(e, CK_ELIMIT, "data-loader state: the workers' samples add up past %lld", LLONG_MAX);
			return NULL;
		}
		total += ws[i].samples;
		if (iterable && json_array_append_new(all, json_pack("{s:I, s:I}", "samples_streamed", (json_int_t)ws[i].samples,
			"shard_index", (json_int_t)ws[i].id)))
			json_decref(all), all = NULL;
	}
	out = !all ? NULL : iterable ? json_pack("{s:O}", "all_worker_states", all) :
		json_pack("{s:I, s:i}", "samples_streamed", (json_int_t)total, "seed", 0);
	json_decref(all);
	if (!out)
		ck_errf(e, CK_ENOMEM, "out of memory");
	return out;
}

int dlstate_read(const char *dir, int iterable, json_t **out, ck_err *e)
{
	long long step;
	wrk *ws = NULL;
	size_t n = 0;
	ck_err g = {0};
	int rc = file_int(dir, GLOBAL_FILE, &step, &g);
	*out = NULL;
	if (rc == CK_ENOTFOUND)
		rc = ck_errf(e, CK_EINVALID, "%s: expected the file " GLOBAL_FILE " recording the data step of the R1.9 "
			"data-loader state (cerebras.save_iter_state_path)", dir);
	else if (rc)
		rc = ck_errf(e, rc, "%s", g.msg);
	if (!rc)
		rc = read_workers(dir, step, &ws, &n, e);
	if (!rc) {
		qsort(ws, n, sizeof *ws, cmp_wrk);
		if (!(*out = as_json(ws, n, iterable, e)))
			rc = e->code ? e->code : CK_ENOMEM;
	}
	for (size_t i = 0; i < n; i++)
		free(ws[i].name);
	free(ws);
	return rc;
}
