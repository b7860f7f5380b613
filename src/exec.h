/* exec.h - run a plan: read each group's sources, apply its action chain, hand the
 * results to the sink. Memory held at once: one group's tensors, or two tensors' worth while
 * a helper thread reads ahead or writes behind (see exec.c). */
#ifndef CK_EXEC_H
#define CK_EXEC_H

#include "plan.h"

/* Called after each group: target tensors written so far, of total, and their bytes. */
typedef void (*exec_progress_fn)(void *ctx, size_t done, size_t total, uint64_t bytes);

/* Writes every planned target into sink (which stays open: the caller commits or aborts). */
int exec_run(const plan *p, ck_tsink *sink, exec_progress_fn fn, void *ctx, ck_err *e);
/* The most tensor memory exec_run holds at once for p: the largest group's, or twice the
 * largest tensor when the I/O thread overlaps (*overlap set: into a concurrent sink, or from
 * concurrent sources), whichever is more. */
uint64_t exec_peak_bytes(const plan *p, int sink_concurrent, int *overlap);

#endif
