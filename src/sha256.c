/* sha256.c - SHA-256 from Nettle (a maintained library) and the manifest digest of a set of
 * files; see sha256.h. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <nettle/sha2.h>
#include "io.h"
#include "path.h"
#include "sha256.h"
#include "text.h"

static void to_hex(const uint8_t d[SHA256_DIGEST_SIZE], char out[65])
{
	static const char hx[] = "0123456789abcdef";
	for (int i = 0; i < SHA256_DIGEST_SIZE; i++) {
		out[2 * i] = hx[d[i] >> 4];
		out[2 * i + 1] = hx[d[i] & 15];
	}
	out[64] = '\0';
}

void sha256_hex(const void *data, size_t n, char out[65])
{
	struct sha256_ctx c;
	uint8_t d[SHA256_DIGEST_SIZE];
	sha256_init(&c);
	sha256_update(&c, n, data);
	sha256_digest(&c, sizeof d, d);
	to_hex(d, out);
}

int sha256_file_hex(const char *path, char out[65])
{
	uint8_t buf[1 << 14];
	struct sha256_ctx c;
	uint8_t d[SHA256_DIGEST_SIZE];
	struct stat sb;
	ssize_t r;
	int fd;
	if (io_open_input(path, &fd, &sb, NULL))
		return -1;
	sha256_init(&c);
	while ((r = read(fd, buf, sizeof buf)) > 0)
		sha256_update(&c, (size_t)r, buf);
	close(fd);
	if (r < 0)
		return -1;
	sha256_digest(&c, sizeof d, d);
	to_hex(d, out);
	return 0;
}

static int by_name(const void *a, const void *b)
{
	const char *x = *(const char *const *)a, *y = *(const char *const *)b;
	int c = strcmp(path_base(x), path_base(y));
	return c ? c : strcmp(x, y);
}

int sha256_files_hex(const char *const *paths, size_t n, char out[65])
{
	const char **p = malloc((n ? n : 1) * sizeof *p);
	text m = {0};
	char hex[65];
	int rc = 0;
	if (!p)
		return -1;
	memcpy(p, paths, n * sizeof *p);
	qsort(p, n, sizeof *p, by_name);
	for (size_t i = 0; i < n && !rc; i++) {
		if (i && !strcmp(p[i], p[i - 1]))
			continue;
		if (!(rc = sha256_file_hex(p[i], hex)))
			text_printf(&m, "%s  %s\n", hex, path_base(p[i]));
	}
	if (!rc && !m.oom)
		sha256_hex(m.p ? m.p : "", m.n, out);
	rc = rc || m.oom ? -1 : 0;
	text_dispose(&m);
	free(p);
	return rc;
}
