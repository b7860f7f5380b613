/* io.h - whole-buffer positional reads and writes that retry short transfers and EINTR. */
#ifndef CK_IO_H
#define CK_IO_H

#include <stddef.h>
#include <stdint.h>

/* Reads n bytes at off: 0, an errno value, or -1 when the file ends first. */
int io_read_at(int fd, void *buf, size_t n, uint64_t off);
/* Writes n bytes at off: 0 or an errno value. */
int io_write_at(int fd, const void *buf, size_t n, uint64_t off);

#endif
