/* bg.h - one helper thread that runs one job at a time beside the main thread: a conversion
 * hands it the safetensors side's I/O (reading the next group's tensors, or writing the last
 * group's) while the main thread does the HDF5 work, which must stay on one thread. */
#ifndef CK_BG_H
#define CK_BG_H

#include "err.h"

typedef struct bg bg;

/* A job: runs on the helper thread; returns 0 or an error code with e set. */
typedef int (*bg_fn)(void *arg, ck_err *e);

/* Starts the thread (it never receives signals: SIGINT/SIGTERM stay with the main thread). */
int bg_open(bg **out, ck_err *e);
/* Hands fn(arg) to the thread. Only when idle: call bg_wait first. */
void bg_submit(bg *b, bg_fn fn, void *arg);
/* Whether a job was submitted and not yet waited for. */
int bg_busy(const bg *b);
/* Waits for the submitted job (0 at once when idle); its error is copied into e. */
int bg_wait(bg *b, ck_err *e);
/* Waits for any job, stops and joins the thread, frees. NULL-safe. */
void bg_close(bg *b);

#endif
