/* par_mpi.c - par.h for bin/ckconv-mpi (`make mpi`): the ranks of MPI_COMM_WORLD. Built only
 * with mpicc against parallel HDF5 (pkg-config hdf5-openmpi); bin/ckconv links par_serial.c. */
#include <hdf5.h>
#include <limits.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include "par.h"

static int started, rank, size = 1;

/* MPI's own errors come back as codes (not its default abort), so they become ckconv errors
 * that name the call; the caller's error path then stops every rank through par_fail. */
static int mpi_err(int r, const char *what, ck_err *e)
{
	char msg[MPI_MAX_ERROR_STRING];
	int len = 0;
	if (r == MPI_SUCCESS)
		return 0;
	if (MPI_Error_string(r, msg, &len) != MPI_SUCCESS)
		len = 0;
	msg[len] = '\0';
	return ck_errf(e, CK_EIO, "MPI %s failed on rank %d of %d: %s", what, rank, size, len ? msg : "unknown error");
}

void par_begin(int *argc, char ***argv)
{
	if (MPI_Init(argc, argv) != MPI_SUCCESS) {
		fputs("ckconv: error: MPI_Init failed\n", stderr);
		exit(2);
	}
	started = 1;
	MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
	MPI_Comm_rank(MPI_COMM_WORLD, &rank);
	MPI_Comm_size(MPI_COMM_WORLD, &size);
}

int par_end(int status)
{
	if (started)
		MPI_Finalize();
	started = 0;
	return status;
}

int par_fail(int status)
{
	if (started && size > 1) {
		fflush(stdout);
		fflush(stderr);
		MPI_Abort(MPI_COMM_WORLD, status);
	}
	return par_end(status);
}

int par_rank(void)
{
	return rank;
}

int par_size(void)
{
	return size;
}

int par_barrier(ck_err *e)
{
	return mpi_err(MPI_Barrier(MPI_COMM_WORLD), "barrier", e);
}

int par_allgather(const void *mine, size_t bytes, void *all, ck_err *e)
{
	if (bytes > INT_MAX)
		return ck_errf(e, CK_ELIMIT, "MPI all-gather of %zu bytes per rank: limit is %d", bytes, INT_MAX);
	return mpi_err(MPI_Allgather(mine, (int)bytes, MPI_BYTE, all, (int)bytes, MPI_BYTE, MPI_COMM_WORLD), "all-gather",
		e);
}

int par_bcast(void *buf, size_t bytes, int root, ck_err *e)
{
	if (bytes > INT_MAX)
		return ck_errf(e, CK_ELIMIT, "MPI broadcast of %zu bytes: limit is %d", bytes, INT_MAX);
	return mpi_err(MPI_Bcast(buf, (int)bytes, MPI_BYTE, root, MPI_COMM_WORLD), "broadcast", e);
}

int par_h5_fapl(int64_t fapl, ck_err *e)
{
	if (H5Pset_fapl_mpio((hid_t)fapl, MPI_COMM_WORLD, MPI_INFO_NULL) < 0)
		return ck_errf(e, CK_EIO, "parallel HDF5: cannot set the MPI-IO driver (H5Pset_fapl_mpio)");
	return 0;
}
