/* cli_validate.c - `ckconv validate`: load every rule file, compile its matchers in both
 * directions and check its actions; findings as "file:line:col: error: message". */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "act.h"
#include "cli.h"
#include "match.h"
#include "rule.h"

/* Prints a finding as "file:line:col: error: message"; messages from the loaders already
 * start with their own location (which may be an included file). */
static void finding(const char *msg, const char *file)
{
	const char *c = strchr(msg, ':');
	int line, col, n = 0;
	if (c && sscanf(c + 1, "%d:%d: %n", &line, &col, &n) == 2 && n > 0) {
		printf("%.*s:%d:%d: error: %s\n", (int)(c - msg), msg, line, col, c + 1 + n);
		return;
	}
	printf("%s:1:1: error: %s\n", file, msg);
}

static int check_file(const char *path)
{
	ck_err e = {0};
	rule_file *f = NULL;
	rule_set *s = NULL;
	int bad = 0;
	if (rule_file_load(path, &f, &e)) {
		finding(e.msg, path);
		return 1;
	}
	/* a model file is checked with everything it includes; a shared piece on its own */
	if (rule_set_load(path, &s, &e)) {
		finding(e.msg, path);
		rule_file_free(f);
		return 1;
	}
	for (int dir = 0; dir < 2 && !bad; dir++) {
		match_prog *m = NULL;
		ck_err me = {0};
		if (match_compile(s, dir, &m, &me)) {
			finding(me.msg, path);
			bad = 1;
		}
		match_free(m);
	}
	ck_err ae = {0};
	if (act_check_rules(s, &ae)) {
		finding(ae.msg, path);
		bad = 1;
	}
	rule_set_free(s);
	rule_file_free(f);
	return bad;
}

static int is_dir(const char *p)
{
	struct stat st;
	return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static int check_dir(const char *dir, size_t *count)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char **v = NULL;
	size_t n = 0;
	int bad = 0;
	if (!d) {
		printf("%s:1:1: error: cannot open directory\n", dir);
		return 1;
	}
	while ((de = readdir(d))) {
		size_t len = strlen(de->d_name);
		char *p = NULL, **nv;
		if (len < 6 || strcmp(de->d_name + len - 5, ".yaml") || asprintf(&p, "%s/%s", dir, de->d_name) < 0)
			continue;
		if (!(nv = realloc(v, (n + 1) * sizeof *nv))) {
			free(p);
			break;
		}
		v = nv;
		v[n++] = p;
	}
	closedir(d);
	qsort(v, n, sizeof *v, cmp_str);
	for (size_t i = 0; i < n; i++) {
		bad |= check_file(v[i]);
		free(v[i]);
	}
	free(v);
	*count += n;
	return bad;
}

int cli_validate(int argc, char **argv, ck_err *e)
{
	const char *rules = NULL;
	size_t count = 0;
	int bad = 0, given = 0;
	for (int i = 1; i < argc; i++) {
		int r = cli_opt(argc, argv, &i, "--rules", &rules, e);
		if (r < 0)
			return CK_EINVALID;
		if (r)
			continue;
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			puts("usage: ckconv validate [FILE|DIR ...]\n\nChecks rule files (default: the installed rules): YAML and "
			     "schema, includes,\nplaceholder regexes, templates in both directions, action names.\n"
			     "Findings print as file:line:col: error: message; exit status 0 only when all is well.");
			return 0;
		}
		given = 1;
		if (is_dir(argv[i])) {
			bad |= check_dir(argv[i], &count);
		} else {
			bad |= check_file(argv[i]);
			count++;
		}
	}
	if (!given) {
		char *dir = cli_rules_dir(rules);
		bad |= check_dir(dir, &count);
		free(dir);
	}
	if (bad)
		return ck_errf(e, CK_EINVALID, "validate: problems found in %zu rule file(s) checked", count);
	printf("%zu rule file(s) OK\n", count);
	return 0;
}
