/* progress.h - conversion progress on stderr: a bar redrawn in place on a terminal (tensors,
 * bytes, rate, ETA; at most ten redraws a second), one plain line per part otherwise. */
#ifndef CK_PROGRESS_H
#define CK_PROGRESS_H

#include <stddef.h>
#include <stdint.h>

typedef struct progress {
	int tty, off;
	const char *label;
	uint64_t total_bytes;
	double start, last;
} progress;

/* off: print nothing (--quiet / --no-progress). */
void progress_begin(progress *p, const char *label, uint64_t total_bytes, int off);
/* An exec_progress_fn: ctx is the progress. */
void progress_step(void *ctx, size_t done, size_t total, uint64_t bytes);
void progress_end(progress *p, size_t tensors, uint64_t bytes);

#endif
