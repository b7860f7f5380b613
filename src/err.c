#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "bounds.h"
#include "err.h"

_Static_assert(CK_MAX_ERROR_LINE < sizeof ((ck_err *)0)->msg, "the cap must fit the buffer");

static int vset(ck_err *e, int code, const char *fmt, va_list ap)
{
	if (e) {
		e->code = code;
		vsnprintf(e->msg, sizeof e->msg, fmt, ap);
		/* a message quoting hostile text stays one readable line; cut on a character boundary */
		if (strlen(e->msg) > CK_MAX_ERROR_LINE) {
			size_t n = CK_MAX_ERROR_LINE - 3;
			while (n && ((unsigned char)e->msg[n] & 0xC0) == 0x80)
				n--;
			memcpy(e->msg + n, "...", 4);
		}
	}
	return code;
}

int ck_errf(ck_err *e, int code, const char *fmt, ...)
{
	va_list ap;
	if (e && e->code != 0)
		return code; /* keep the first, most specific message */
	va_start(ap, fmt);
	vset(e, code, fmt, ap);
	va_end(ap);
	return code;
}

int ck_errf_reset(ck_err *e, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vset(e, code, fmt, ap);
	va_end(ap);
	return code;
}

int ck_err_prefix(ck_err *e, int code, const char *where)
{
	char msg[sizeof e->msg];
	if (!e)
		return code;
	snprintf(msg, sizeof msg, "%s", e->msg);
	return ck_errf_reset(e, code, "%s: %s", where, msg);
}

void ck_err_clear(ck_err *e)
{
	if (e) {
		e->code = 0;
		e->msg[0] = '\0';
	}
}

void *ck_malloc(ck_err *e, size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		ck_errf(e, CK_ENOMEM, "out of memory (%zu bytes)", n);
	return p;
}

void *ck_calloc(ck_err *e, size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);
	if (!p)
		ck_errf(e, CK_ENOMEM, "out of memory (%zu x %zu bytes)", n, size);
	return p;
}

char *ck_strdup(ck_err *e, const char *s)
{
	char *p = strdup(s);
	if (!p)
		ck_errf(e, CK_ENOMEM, "out of memory");
	return p;
}
