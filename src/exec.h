/* exec.h - run a plan: read each group's sources, apply its action chain, hand the
 * results to the sink. Memory held at once: one group's tensors. */
#ifndef CK_EXEC_H
#define CK_EXEC_H

#include "plan.h"

/* Called after each group: target tensors written so far, of total, and their bytes. */
typedef void (*exec_progress_fn)(void *ctx, size_t done, size_t total, uint64_t bytes);

/* Writes every planned target into sink (which stays open: the caller commits or aborts). */
int exec_run(const plan *p, ck_tsink *sink, exec_progress_fn fn, void *ctx, ck_err *e);

#endif
