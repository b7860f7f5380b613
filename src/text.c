/* text.c - growable string. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include "text.h"

void text_add(text *b, const char *s, size_t n)
{
	if (b->oom)
		return;
	if (b->n + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		while (cap < b->n + n + 1)
			cap *= 2;
		char *p = realloc(b->p, cap);
		if (!p) {
			b->oom = 1;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->n, s, n);
	b->n += n;
	b->p[b->n] = '\0';
}

void text_puts(text *b, const char *s) { text_add(b, s, strlen(s)); }

void text_printf(text *b, const char *fmt, ...)
{
	char tmp[256];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n < sizeof tmp) {
		text_add(b, tmp, (size_t)n);
		return;
	}
	char *big = malloc((size_t)n + 1);
	if (!big) {
		b->oom = 1;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(big, (size_t)n + 1, fmt, ap);
	va_end(ap);
	text_add(b, big, (size_t)n);
	free(big);
}

void text_spaces(text *b, size_t n)
{
	static const char sp[] = "                                ";
	while (n) {
		size_t k = n < sizeof sp - 1 ? n : sizeof sp - 1;
		text_add(b, sp, k);
		n -= k;
	}
}

char *text_take(text *b)
{
	char *p = b->p;
	if (b->oom) {
		free(p);
		p = NULL;
	}
	b->p = NULL;
	b->n = b->cap = 0;
	b->oom = 0;
	return p;
}

void text_dispose(text *b)
{
	free(b->p);
	b->p = NULL;
	b->n = b->cap = 0;
}

/* Decodes one UTF-8 sequence: its length, or 0 if invalid (overlong, surrogate, > U+10FFFF). */
size_t text_utf8_next(const unsigned char *s, size_t n, uint32_t *cp)
{
	uint32_t c, min;
	size_t len;
	if (!n)
		return 0;
	c = s[0];
	if (c < 0x80) {
		*cp = c;
		return 1;
	} else if ((c & 0xe0) == 0xc0) {
		c &= 0x1f, len = 2, min = 0x80;
	} else if ((c & 0xf0) == 0xe0) {
		c &= 0x0f, len = 3, min = 0x800;
	} else if ((c & 0xf8) == 0xf0) {
		c &= 0x07, len = 4, min = 0x10000;
	} else {
		return 0;
	}
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = (c << 6) | (s[i] & 0x3f);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return len;
}

int text_utf8_valid(const char *s)
{
	uint32_t cp;
	size_t left = strlen(s);
	for (const unsigned char *p = (const unsigned char *)s; left;) {
		size_t n = text_utf8_next(p, left, &cp);
		if (!n)
			return 0;
		p += n;
		left -= n;
	}
	return 1;
}

void text_json_str(text *b, const char *s, size_t n, int ascii)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + n;
	text_add(b, "\"", 1);
	while (p < end) {
		uint32_t c = *p;
		size_t k = 1;
		if (c >= 0x80 && !(k = text_utf8_next(p, (size_t)(end - p), &c)))
			k = 1, c = 0xfffd;
		switch (c) {
		case '"': text_puts(b, "\\\""); break;
		case '\\': text_puts(b, "\\\\"); break;
		case '\b': text_puts(b, "\\b"); break;
		case '\f': text_puts(b, "\\f"); break;
		case '\n': text_puts(b, "\\n"); break;
		case '\r': text_puts(b, "\\r"); break;
		case '\t': text_puts(b, "\\t"); break;
		default:
			if (c < 0x20 || (ascii && c == 0x7f))
				text_printf(b, "\\u%04x", (unsigned)c);
			else if (ascii && c > 0xffff)
				text_printf(b, "\\u%04x\\u%04x", (unsigned)(0xd800 + ((c - 0x10000) >> 10)),
					(unsigned)(0xdc00 + ((c - 0x10000) & 0x3ff)));
			else if (ascii && c >= 0x80)
				text_printf(b, "\\u%04x", (unsigned)c);
			else if (c == 0xfffd && k == 1)
				text_puts(b, "\xef\xbf\xbd"); /* U+FFFD for a byte that is not UTF-8 */
			else
				text_add(b, (const char *)p, k);
		}
		p += k;
	}
	text_add(b, "\"", 1);
}

const char *text_json_nonfinite(const char *s, size_t *n)
{
	int in = 0;
	for (; *s; s++) {
		if (in) {
			if (*s == '\\' && s[1])
				s++;
			else if (*s == '"')
				in = 0;
		} else if (*s == '"') {
			in = 1;
		} else if (!strncmp(s, "NaN", 3) || !strncmp(s, "Infinity", 8) || !strncmp(s, "-Infinity", 9)) {
			*n = *s == 'N' ? 3 : *s == 'I' ? 8 : 9;
			return s;
		}
	}
	return NULL;
}

const char *text_human_bytes(double b, char *buf, size_t n)
{
	static const char *u[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
	int i = 0;
	while (b >= 1024 && i < 5) {
		b /= 1024;
		i++;
	}
	snprintf(buf, n, i ? "%.1f %s" : "%.0f %s", b, u[i]);
	return buf;
}
