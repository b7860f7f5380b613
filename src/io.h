/* io.h - whole-buffer positional reads and writes that retry short transfers and EINTR. */
#ifndef CK_IO_H
#define CK_IO_H

#include <stddef.h>
#include <stdint.h>

/* Reads n bytes at off: 0, an errno value, or -1 when the file ends first. */
int io_read_at(int fd, void *buf, size_t n, uint64_t off);
/* Writes n bytes at off: 0 or an errno value. */
int io_write_at(int fd, const void *buf, size_t n, uint64_t off);

/* Starts writing [off, off+n) of fd to disk without waiting (n = 0: to the end), so the disk
 * works while the next tensor is prepared and the final fsync has little left to do. A hint:
 * failure is harmless and ignored. */
void io_start_writeback(int fd, uint64_t off, uint64_t n);

#endif
