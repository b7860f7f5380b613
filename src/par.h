/* par.h - the processes of one run. bin/ckconv is one process (par_serial.c); bin/ckconv-mpi
 * (`make mpi`) is every rank of an MPI job (par_mpi.c, MPI_COMM_WORLD). Nothing else in the
 * program knows which it is: conv.c asks for its rank and the job's size, and meets its peers
 * only through these calls. Every call is collective (all ranks call it, in the same order)
 * except par_rank, par_size and par_fail. */
#ifndef CK_PAR_H
#define CK_PAR_H

#include <stddef.h>
#include <stdint.h>
#include "err.h"

/* At the start of main: MPI_Init (the MPI build), nothing (serial). */
void par_begin(int *argc, char ***argv);
/* At a normal end of main, whatever the exit status: MPI_Finalize. Returns status. */
int par_end(int status);
/* After an error was printed: every rank of the job stops with status (MPI_Abort), so no peer
 * waits forever in a collective call. Serial: returns status. */
int par_fail(int status);
/* This process's rank, 0 .. par_size() - 1. */
int par_rank(void);
int par_size(void);
int par_barrier(ck_err *e);
/* Each rank's `bytes` bytes at mine, in rank order, into all (par_size() * bytes). */
int par_allgather(const void *mine, size_t bytes, void *all, ck_err *e);
/* root's `bytes` bytes at buf into every rank's buf. */
int par_bcast(void *buf, size_t bytes, int root, ck_err *e);
/* An HDF5 file access property list (hid_t) opened by every rank as one shared file: the
 * MPI-IO driver. Serial: left as it is. */
int par_h5_fapl(int64_t fapl, ck_err *e);

#endif
