/* io.c - see io.h. */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include "io.h"

#define IO_CHUNK ((size_t)1 << 30) /* Linux moves at most ~2 GiB per call anyway */

int io_read_at(int fd, void *buf, size_t n, uint64_t off)
{
	char *p = buf;
	while (n) {
		ssize_t r = pread(fd, p, n > IO_CHUNK ? IO_CHUNK : n, (off_t)off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return errno;
		if (r == 0)
			return -1;
		p += r;
		off += (uint64_t)r;
		n -= (size_t)r;
	}
	return 0;
}

int io_write_at(int fd, const void *buf, size_t n, uint64_t off)
{
	const char *p = buf;
	while (n) {
		ssize_t r = pwrite(fd, p, n > IO_CHUNK ? IO_CHUNK : n, (off_t)off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return errno;
		if (r == 0)
			return EIO;
		p += r;
		off += (uint64_t)r;
		n -= (size_t)r;
	}
	return 0;
}

void io_start_writeback(int fd, uint64_t off, uint64_t n)
{
	(void)sync_file_range(fd, (off_t)off, (off_t)n, SYNC_FILE_RANGE_WRITE);
}
