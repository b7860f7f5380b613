/* par_serial.c - par.h for bin/ckconv: one process, rank 0 of 1; every collective call is
 * immediate (an all-gather copies, a broadcast has nobody to send to). */
#include <string.h>
#include "par.h"

void par_begin(int *argc, char ***argv)
{
	(void)argc, (void)argv;
}

int par_end(int status)
{
	return status;
}

int par_fail(int status)
{
	return status;
}

int par_rank(void)
{
	return 0;
}

int par_size(void)
{
	return 1;
}

int par_barrier(ck_err *e)
{
	(void)e;
	return 0;
}

int par_allgather(const void *mine, size_t bytes, void *all, ck_err *e)
{
	(void)e;
	if (bytes)
		memmove(all, mine, bytes);
	return 0;
}

int par_bcast(void *buf, size_t bytes, int root, ck_err *e)
{
	(void)buf, (void)bytes, (void)root, (void)e;
	return 0;
}

int par_h5_fapl(int64_t fapl, ck_err *e)
{
	(void)fapl, (void)e;
	return 0;
}
