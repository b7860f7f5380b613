/* fuzz.h - shared by the libFuzzer harnesses in tests/fuzz/: one private scratch directory per
 * process (made on first use, emptied and removed at exit), a helper writing the input to a file
 * in it, and a size cap. Harnesses are plain C; tools/fuzz.sh links them with libFuzzer and
 * tests/fuzz/replay.c with a plain driver. */
#ifndef CK_FUZZ_H
#define CK_FUZZ_H

#include <dirent.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Inputs above this many bytes are ignored (keeps every run fast; the parsers' own limits
 * are far larger and tested by the unit tests). */
#define FUZZ_MAX_INPUT ((size_t)1 << 20)

static char fuzz_dir_path[4096];

static inline void fuzz_dir_remove(void)
{
	DIR *d;
	struct dirent *de;
	if (!fuzz_dir_path[0] || !(d = opendir(fuzz_dir_path)))
		return;
	while ((de = readdir(d))) {
		char p[8192];
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (snprintf(p, sizeof p, "%s/%s", fuzz_dir_path, de->d_name) < (int)sizeof p)
			unlink(p);
	}
	closedir(d);
	rmdir(fuzz_dir_path);
	fuzz_dir_path[0] = '\0';
}

/* The per-process scratch directory (aborts if it cannot be made: nothing could be tested). */
static inline const char *fuzz_dir(void)
{
	if (!fuzz_dir_path[0]) {
		const char *t = getenv("TMPDIR");
		snprintf(fuzz_dir_path, sizeof fuzz_dir_path, "%s/ckfuzz.XXXXXX", t && *t ? t : "/tmp");
		if (!mkdtemp(fuzz_dir_path)) {
			perror("fuzz: mkdtemp");
			abort();
		}
		atexit(fuzz_dir_remove);
	}
	return fuzz_dir_path;
}

/* "<scratch dir>/name" written into buf. */
static inline const char *fuzz_path(const char *name, char buf[4096])
{
	if (snprintf(buf, 4096, "%s/%s", fuzz_dir(), name) >= 4096)
		abort();
	return buf;
}

/* Replace the file's contents with data (the file is reused from one input to the next). */
static inline void fuzz_write(const char *path, const void *data, size_t size)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	const char *p = data;
	if (fd < 0) {
		perror(path);
		abort();
	}
	while (size) {
		ssize_t r = write(fd, p, size);
		if (r <= 0) {
			perror(path);
			abort();
		}
		p += r;
		size -= (size_t)r;
	}
	close(fd);
}

/* The input as the file `name` of the scratch directory (path: the caller's static buffer, set
 * once), or NULL when it is larger than FUZZ_MAX_INPUT and is not tried. */
static inline const char *fuzz_input(const char *name, char path[4096], const uint8_t *data, size_t size)
{
	if (size > FUZZ_MAX_INPUT)
		return NULL;
	if (!path[0])
		fuzz_path(name, path);
	fuzz_write(path, data, size);
	return path;
}

#ifdef CK_TENSOR_H
/* Every tensor of a source that opened must read (abort otherwise); tensors above max bytes are
 * skipped (a stride-0 .bin view may be large without a large input). */
static inline void fuzz_read_all(const char *who, ck_tsrc *s, uint64_t max)
{
	ck_err e = {0};
	for (size_t i = 0; i < s->n; i++) {
		void *buf;
		if (s->t[i].nbytes > max)
			continue;
		if (!(buf = malloc(s->t[i].nbytes ? s->t[i].nbytes : 1)))
			abort();
		if (ck_tsrc_read(s, i, buf, &e)) {
			fprintf(stderr, "%s: opened but tensor %zu does not read: %s\n", who, i, e.msg);
			abort();
		}
		free(buf);
	}
}
#endif

/* A NUL-terminated malloc'd copy of the input (abort on out of memory). */
static inline char *fuzz_cstr(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	if (!s)
		abort();
	memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

#endif
