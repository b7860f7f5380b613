/* replay.c - runs one harness's LLVMFuzzerTestOneInput over files, without libFuzzer:
 *   replay NAME DIR|FILE...
 * Every regular file of each DIR (sorted by name) is read into a buffer of exactly its size and
 * fed to the harness; "ok N - NAME: FILE" is printed after each, and "# NAME: running FILE" on
 * stderr before each. A crash kills the process, which the test runner counts as a failure. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int n_run;

static int run_file(const char *name, const char *path)
{
	FILE *f = fopen(path, "rb");
	struct stat sb;
	uint8_t *buf;
	if (!f || fstat(fileno(f), &sb)) {
		printf("not ok %d - %s: %s: cannot read\n", ++n_run, name, path);
		if (f)
			fclose(f);
		return 1;
	}
	if (!(buf = malloc(sb.st_size ? (size_t)sb.st_size : 1)) ||
	    fread(buf, 1, (size_t)sb.st_size, f) != (size_t)sb.st_size) {
		printf("not ok %d - %s: %s: cannot read\n", ++n_run, name, path);
		fclose(f);
		free(buf);
		return 1;
	}
	fclose(f);
	fprintf(stderr, "# %s: running %s\n", name, path); /* names the input when it crashes */
	LLVMFuzzerTestOneInput(buf, (size_t)sb.st_size);
	free(buf);
	printf("ok %d - %s: %s\n", ++n_run, name, path);
	fflush(stdout);
	return 0;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int run_dir(const char *name, const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char **files = NULL;
	size_t n = 0;
	int bad = 0;
	if (!d)
		return 0; /* a harness without regressions has no directory for them */
	while ((de = readdir(d))) {
		char p[8192];
		struct stat sb;
		snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
		if (de->d_name[0] == '.' || stat(p, &sb) || !S_ISREG(sb.st_mode))
			continue;
		char **nf = realloc(files, (n + 1) * sizeof *nf);
		if (!nf || !(nf[n] = strdup(p)))
			abort();
		files = nf;
		n++;
	}
	closedir(d);
	qsort(files, n, sizeof *files, by_name);
	for (size_t i = 0; i < n; i++) {
		bad |= run_file(name, files[i]);
		free(files[i]);
	}
	free(files);
	return bad;
}

int main(int argc, char **argv)
{
	int bad = 0;
	struct stat sb;
	if (argc < 3) {
		fprintf(stderr, "usage: %s NAME DIR|FILE...\n", argv[0]);
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (int i = 2; i < argc; i++)
		bad |= stat(argv[i], &sb) == 0 && S_ISREG(sb.st_mode) ? run_file(argv[1], argv[i]) : run_dir(argv[1], argv[i]);
	return bad;
}
