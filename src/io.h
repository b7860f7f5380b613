/* io.h - opening input files safely, whole-buffer positional reads and writes that retry short
 * transfers and EINTR, and the two ways a writer gets its bytes to disk while it is still
 * writing. */
#ifndef CK_IO_H
#define CK_IO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include "err.h"

/* Opens an input file for reading: non-blocking, so a FIFO or a device cannot hang the open,
 * and only a regular file is accepted ("PATH: not a regular file (a FIFO)"). *sb is its
 * fstat. The fd is then an ordinary blocking one; the caller closes it. */
int io_open_input(const char *path, int *fd, struct stat *sb, ck_err *e);
/* A whole input file of at most max bytes, opened as above, NUL-terminated (malloc'd; *len
 * without the NUL). Errors name path: not found, not a regular file, over the limit. */
int io_slurp(const char *path, size_t max, char **out, size_t *len, ck_err *e);
/* 1 if path, or a directory on the way to it, is a symbolic link: the file may then be
 * anyone's, and messages should not quote its bytes. */
int io_via_link(const char *path);

/* Reads n bytes at off: 0, an errno value, or -1 when the file ends first. */
int io_read_at(int fd, void *buf, size_t n, uint64_t off);
/* Writes n bytes at off: 0 or an errno value. */
int io_write_at(int fd, const void *buf, size_t n, uint64_t off);

/* Starts writing [off, off+n) of fd to disk without waiting (n = 0: to the end), so the disk
 * works while the next tensor is prepared and the final fsync has little left to do. A hint:
 * failure is harmless and ignored. */
void io_start_writeback(int fd, uint64_t off, uint64_t n);

/* A thread that calls fdatasync on each of fds[0..n) in turn, over and over, pausing
 * IO_FLUSH_GAP_MS between rounds, until stopped. Writeback alone hands the bytes to the disk;
 * a virtual disk may still hold them in the host's cache until a flush, and one flush of a
 * whole gigabyte at the end took over a second on the machine this was measured on. Flushing
 * as the file grows spreads that cost over the run. fds must stay open and unchanged until
 * io_flusher_stop. */
#define IO_FLUSH_GAP_MS 50
typedef struct io_flusher io_flusher;
/* NULL when no thread could be started: everything is then left to the final fsync. */
io_flusher *io_flusher_start(const int *fds, size_t n);
/* Stops and joins the thread; returns 0, or the first errno an fdatasync reported (its fd's
 * index in *at), which the caller must treat as its own fsync failing: the kernel reports a
 * write error only once per open file. NULL-safe. */
int io_flusher_stop(io_flusher *f, size_t *at);

#endif
