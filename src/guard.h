/* guard.h - output safety around a conversion: one writer per output (a lock file), stale
 * temporaries of interrupted runs found and removed, SIGINT/SIGTERM turned into a clean stop. */
#ifndef CK_GUARD_H
#define CK_GUARD_H

#include <stdio.h>
#include "err.h"

typedef struct guard guard;

/* Take "<out>.ckconv-lock" (flock, non-blocking). CK_EEXIST when another run holds it. */
int guard_lock(const char *out, guard **g, ck_err *e);
/* Remove the lock file and free. NULL-safe. */
void guard_release(guard *g);
/* Remove temporaries our writers leave next to `target` when killed (x.ckconv-tmp-*,
 * x.ckconv-old-*, x.tmpXXXXXX, x.XXXXXXXX.tmp), saying so on `report`. Call with the lock held. */
void guard_sweep(const char *target, FILE *report);
/* SIGINT/SIGTERM set a flag instead of killing us; the work loop polls it. */
void guard_signals_install(void);
/* The signal that asked us to stop, or 0. */
int guard_stopped(void);

#endif
