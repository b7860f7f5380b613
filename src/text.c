/* text.c - growable string. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
