/* t.h - a tiny TAP-style harness: each check prints "ok N - name" or "not ok N - name",
 * and t_done() prints "N passed, N failed" and returns the exit status. */
#ifndef CK_T_H
#define CK_T_H
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int t_pass, t_fail;

#define T_OK(cond, ...) do { \
	int t_ok_ = (cond) ? 1 : 0; \
	if (t_ok_) { t_pass++; printf("ok %d - ", t_pass + t_fail); } \
	else { t_fail++; printf("not ok %d - ", t_pass + t_fail); } \
	printf(__VA_ARGS__); printf("\n"); \
	if (!t_ok_) printf("#   failed at %s:%d: %s\n", __FILE__, __LINE__, #cond); \
	fflush(stdout); \
} while (0)

#define T_EQ_INT(a, b, name) do { long long t_a_ = (long long)(a), t_b_ = (long long)(b); \
	T_OK(t_a_ == t_b_, "%s", name); \
	if (t_a_ != t_b_) printf("#   got %lld, want %lld\n", t_a_, t_b_); } while (0)

#define T_EQ_STR(a, b, name) do { const char *t_a_ = (a), *t_b_ = (b); \
	int t_c_ = t_a_ && t_b_ && strcmp(t_a_, t_b_) == 0; \
	T_OK(t_c_, "%s", name); \
	if (!t_c_) printf("#   got  '%s'\n#   want '%s'\n", t_a_ ? t_a_ : "(null)", t_b_ ? t_b_ : "(null)"); } while (0)

/* Substring check, for error messages. */
#define T_HAS(hay, needle, name) do { const char *t_h_ = (hay); \
	int t_c_ = t_h_ && strstr(t_h_, (needle)) != NULL; \
	T_OK(t_c_, "%s", name); \
	if (!t_c_) printf("#   '%s'\n#   does not contain '%s'\n", t_h_ ? t_h_ : "(null)", (needle)); } while (0)

/* A formatted string, for the paths and messages a test expects (sixteen results, of t_fmt and t_at
 * together, stay valid at once). */
static inline char *t_fmt(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline char *t_fmt(const char *fmt, ...)
{
	static char buf[16][1024];
	static int k;
	va_list ap;
	k = (k + 1) % 16;
	va_start(ap, fmt);
	vsnprintf(buf[k], sizeof buf[k], fmt, ap);
	va_end(ap);
	return buf[k];
}

/* Scratch files for tests that load from disk: t_at gives DIR/NAME, t_put writes TEXT there; a
 * file that cannot be written fails the test. */
static inline char *t_at(const char *dir, const char *name)
{
	return t_fmt("%s/%s", dir, name);
}

static inline void t_put(const char *dir, const char *name, const char *text)
{
	FILE *f = fopen(t_at(dir, name), "w");
	T_OK(f && fputs(text, f) >= 0 && fclose(f) == 0, "write %s", name);
}

/* A whole file, NUL-terminated (*len: its size, when len is not NULL); NULL when it cannot be read. */
static inline char *t_slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL, *grown = NULL;
	size_t n = 0, cap = 0, got = 0;
	if (!f)
		return NULL;
	do {
		if (n + 4096 + 1 > cap) {
			if (!(grown = realloc(buf, cap = cap * 2 + 8192)))
				break;
			buf = grown;
		}
		n += got = fread(buf + n, 1, 4096, f);
	} while (got > 0);
	if (ferror(f) || !grown) {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	if (buf)
		buf[n] = '\0';
	if (len)
		*len = buf ? n : 0;
	return buf;
}

/* 1 when both files can be read and hold the same bytes. */
static inline int t_same_file(const char *a, const char *b)
{
	size_t na = 0, nb = 0;
	char *x = t_slurp(a, &na), *y = t_slurp(b, &nb);
	int same = x && y && na == nb && !memcmp(x, y, na);
	free(x);
	free(y);
	return same;
}

static inline int t_done(void)
{
	printf("%d passed, %d failed\n", t_pass, t_fail);
	return t_fail ? 1 : 0;
}
#endif
