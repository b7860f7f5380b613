/* guard.h - signals: SIGINT, SIGTERM and SIGHUP stop a run at once, even one stuck inside a
 * library call (an HDF5 filter spinning, a read that never returns). The handler removes the
 * paths registered here (the output transaction's temporaries and its lock file) with
 * async-signal-safe calls only, says so on stderr and _exits with 128 + the signal number. */
#ifndef CK_GUARD_H
#define CK_GUARD_H

/* Install the handlers (and ignore SIGXFSZ, so a write over `ulimit -f` fails with EFBIG). */
void guard_signals_install(void);
/* Register a path the handler removes (a whole tree when is_dir). Returns a slot id >= 0, or
 * -1 when the table (GUARD_MAX_PATHS) is full or the path is too long. On a signal the
 * paths go in reverse registration order, so the lock file, registered first, goes last. */
#define GUARD_MAX_PATHS 32
int guard_watch(const char *path, int is_dir);
/* Forget a slot (its path was renamed into place or removed). id < 0 is ignored. */
void guard_unwatch(int id);
/* Hold signals while a sequence of renames runs (a commit): a signal arriving in between is
 * remembered, and guard_resume() acts on it after the sequence (removing what is still
 * registered and exiting). Not nested. */
void guard_hold(void);
void guard_resume(void);

#endif
