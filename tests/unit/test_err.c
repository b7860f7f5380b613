/* test_err.c - error values: the first message wins, and a message stays one bounded line. */
#include <stdlib.h>
#include <string.h>
#include "bounds.h"
#include "err.h"
#include "t.h"

int main(void)
{
	ck_err e = {0};
	char big[5000];
	memset(big, 'y', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	T_EQ_INT(ck_errf(&e, CK_EINVALID, "f: key '%s'", big), CK_EINVALID, "returns the code");
	T_EQ_INT(strlen(e.msg), CK_MAX_ERROR_LINE, "a 5000-byte message is cut to CK_MAX_ERROR_LINE");
	T_OK(!strcmp(e.msg + CK_MAX_ERROR_LINE - 3, "..."), "and says so");
	ck_errf(&e, CK_EIO, "second");
	T_EQ_INT(e.code, CK_EINVALID, "the first message is kept");
	ck_errf_reset(&e, CK_EIO, "x: \xc3\xa9%s", big); /* cut inside no character */
	T_OK(strlen(e.msg) <= CK_MAX_ERROR_LINE && !strcmp(e.msg + strlen(e.msg) - 3, "..."), "reset also bounds");
	memset(big, 0, sizeof big);
	for (size_t i = 0; i + 2 < sizeof big; i += 2)
		memcpy(big + i, "\xc3\xa9", 2);
	ck_errf_reset(&e, CK_EIO, "%s", big);
	size_t n = strlen(e.msg) - 3;
	T_OK(((unsigned char)e.msg[n - 1] == 0xa9), "a two-byte character is not split");
	ck_err_clear(&e);
	T_EQ_INT(e.code, 0, "clear");
	return t_done();
}
