/* progress.h - conversion progress on stderr. On a terminal: one line redrawn in place (at most
 * ten times a second, and at once after the window is resized: SIGWINCH), never wider than the
 * terminal (TIOCGWINSZ), so it never wraps or scrolls: label, percentage, a bar when there is
 * room, tensors, the tensor being written (shortened in the middle), rate and an h:mm:ss ETA.
 * Otherwise (a log, CI): a plain line every PROGRESS_LOG_SECONDS (or $CKCONV_PROGRESS_SECONDS),
 * so a long run shows life.
 * Both end with one summary line. */
#ifndef CK_PROGRESS_H
#define CK_PROGRESS_H

#include <stddef.h>
#include <stdint.h>

#define PROGRESS_LOG_SECONDS 10.0

/* The tensor being worked on once `done` tensors are written (for the display), or NULL. */
typedef const char *(*progress_name_fn)(const void *ctx, size_t done);

typedef struct progress {
	int tty, off, resized_seen;
	const char *label;
	uint64_t total_bytes;
	double start, last, every; /* every: seconds between plain lines */
	progress_name_fn name;
	const void *name_ctx;
} progress;

/* off: print nothing (--quiet / --no-progress-bar). name may be NULL. */
void progress_begin(progress *p, const char *label, uint64_t total_bytes, int off, progress_name_fn name,
	const void *name_ctx);
/* An exec_progress_fn: ctx is the progress. */
void progress_step(void *ctx, size_t done, size_t total, uint64_t bytes);
/* The summary line ("ckconv: LABEL: N tensors, SIZE in T"), replacing the live line. */
void progress_end(progress *p, size_t tensors, uint64_t bytes);
/* After a failure: leave the terminal's line clean for the error that follows. */
void progress_abort(progress *p);
/* The line progress_step draws for a terminal `cols` wide (at most cols - 1 characters), into
 * buf; exposed for the unit test. el: seconds so far. */
void progress_format(char *buf, size_t n, int cols, const char *label, const char *name, size_t done, size_t total,
	uint64_t bytes, uint64_t total_bytes, double el);

#endif
